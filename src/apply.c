/*
 * Apply: store the run's items and issues and, when the guard allows it,
 * write the directory: creates and updates, deletions (deactivated, or
 * removed with delete_mode = "delete"), the purge of users deactivated
 * longer than grace_days, and the teams. The caller wraps it in one
 * transaction with the run's status and the ledger, so a crash leaves
 * either all of it or none.
 */
#include <stdlib.h>
#include <string.h>

#include "rostersync.h"

static void
kv(struct buf *b, const char *k, const char *v)
{
	if (b->p[b->len - 1] != '{')
		buf_addc(b, ',');
	json_str(b, k, strlen(k));
	buf_addc(b, ':');
	json_str(b, v ? v : "", v ? strlen(v) : 0);
}

/*
 * What the apply hook gets on its standard input for one item: the item,
 * its field changes, and for users the whole new record ("fields").
 */
static const char *
payload(struct job *j, const struct item *it, long long seq, struct buf *b,
    struct buf *fields)
{
	uint32_t		 e = it->ent;
	size_t			 i;

	buf_reset(b);
	buf_printf(b, "{\"run\":%lld,\"item\":%lld", j->run->id, seq);
	kv(b, "sync", j->sy->name);
	kv(b, "type", itemtype_slug(it->type));
	kv(b, "employee_id", e != ENT_NONE ? ent_key(j, e) : NULL);
	kv(b, "email", it->email);
	kv(b, "name", it->name);
	kv(b, "team", it->team);
	buf_adds(b, ",\"changes\":[");
	for (i = 0; i < it->nchg; i++) {
		const struct change *c = &j->chg[it->chg + i];

		buf_adds(b, i ? ",{" : "{");
		kv(b, "field", c->field);
		kv(b, "old", c->old);
		kv(b, "new", c->new);
		buf_addc(b, '}');
	}
	buf_addc(b, ']');
	if (e != ENT_NONE && j->erec[e] != ENT_NONE && it->type != IT_DELETE) {
		fields_json(j, &j->kept[j->erec[e]], fields);
		buf_adds(b, ",\"fields\":");
		buf_add(b, fields->p, fields->len);
	}
	buf_addc(b, '}');
	return b->p;
}

/* Item i as it is stored: numbered from 1, with its user's key. */
static void
item_row(const struct job *j, size_t i, struct itemrow *r)
{
	const struct item	*it = &j->it[i];

	memset(r, 0, sizeof(*r));
	r->seq = (long long)i + 1;
	r->type = it->type;
	r->status = it->status;
	r->key = it->ent != ENT_NONE ? ent_key(j, it->ent) : NULL;
	r->email = it->email;
	r->name = it->name;
	r->team = it->team;
	r->error = it->error;
	r->chg = j->chg + it->chg;
	r->nchg = it->nchg;
}

/* The run's items, and how many of them are done (runs.n_done). */
static int
store_items(struct job *j)
{
	struct keptpass	 pass = { 0 };
	struct itemrow	 r;
	struct buf	 pb = { 0 }, fb = { 0 };
	size_t		 i;
	long long	 done = 0;
	int		 rc = 0;

	for (i = 0; rc == 0 && i < j->nit; i++) {
		kept_release(j, &pass, j->it[i].email);
		item_row(j, i, &r);
		if (j->sy->hook.argv != NULL)
			r.payload = payload(j, &j->it[i], r.seq, &pb, &fb);
		rc = store_item_add(j->st, j->run->id, &r);
		done += r.status == IST_APPLIED || r.status == IST_CONFIRMED;
	}
	buf_free(&pb);
	buf_free(&fb);
	if (rc == 0 && done > 0)
		rc = store_run_done_add(j->st, j->run->id, done);
	return rc;
}

/* The run's items and issues from memory, as the store gives them back
 * (store_item_each(), store_issue_each()): report.c's source before the
 * run is stored. */
static int
job_items(void *arg, int (*fn)(void *, const struct itemview *), void *a)
{
	const struct job	*j = arg;
	struct keptpass		 pass = { 0 };
	struct itemrow		 r;
	struct itemview		 v;
	size_t			 i, k;

	memset(&v, 0, sizeof(v));
	for (i = 0; i < j->nit; i++) {
		kept_release(j, &pass, j->it[i].email);
		item_row(j, i, &r);
		v.seq = r.seq;
		v.type = (int)r.type;
		v.status = (int)r.status;
		v.key = r.key;
		v.email = r.email;
		v.name = r.name;
		v.team = r.team;
		v.error = r.error;
		if (r.nchg == 0 && fn(a, &v) != 0)
			return 0;
		for (k = 0; k < r.nchg; k++) {
			v.field = r.chg[k].field;
			v.old = r.chg[k].old;
			v.new = r.chg[k].new;
			if (fn(a, &v) != 0)
				return 0;
		}
		v.field = v.old = v.new = NULL;
	}
	return 0;
}

static int
job_issues(void *arg, int (*fn)(void *, const struct issueview *), void *a)
{
	const struct job	*j = arg;
	struct issueview	 v;
	size_t			 i;

	for (i = 0; i < j->niss; i++) {
		const struct issuerow *is = &j->iss[i];

		v.seq = (long long)i + 1;	/* as store_issues() numbers */
		v.type = is->type;
		v.row = is->row;
		v.key = is->key;
		v.field = is->field;
		v.message = is->message;
		v.fix = is->fix;
		v.email = is->email ? is->email : "";
		v.name = is->name ? is->name : "";
		if (fn(a, &v) != 0)
			break;
	}
	return 0;
}

static const char *
job_why(void *arg)
{
	(void)arg;
	return "";	/* memory does not fail */
}

void
job_report_src(struct job *j, struct reportsrc *src)
{
	src->items = job_items;
	src->issues = job_issues;
	src->why = job_why;
	src->arg = j;
}

static int
store_issues(struct job *j)
{
	size_t	 i;

	for (i = 0; i < j->niss; i++) {
		j->iss[i].seq = (long long)i + 1;
		if (store_issue_add(j->st, j->run->id, &j->iss[i]) == -1)
			return -1;
	}
	return 0;
}

static const char *
slot_or_empty(const struct job *j, const struct kept *k, int slot)
{
	return slot >= 0 ? kept_v(j, k, (size_t)slot) : "";
}

static int
write_user(struct job *j, uint32_t id, struct buf *b)
{
	const struct kept	*k = &j->kept[j->erec[id]];
	const char		*v[MAX_SLOTS];
	struct dirrow		 d;

	fields_json(j, k, b);
	memset(&d, 0, sizeof(d));
	d.sync = j->sy->name;
	d.key = ent_key(j, id);
	d.email = slot_or_empty(j, k, j->sc.canon[F_EMAIL]);
	kept_values(j, k, v, NULL);
	d.name = display_name(j, v);
	d.manager = slot_or_empty(j, k, j->sc.canon[F_MANAGER_ID]);
	d.team = slot_or_empty(j, k, j->sc.team_slot);
	d.hash = k->hash;
	d.fields = b->p;
	d.fieldslen = b->len;
	d.run = j->run->id;
	d.email_same = (j->e[id].flags & E_SAMEMAIL) != 0;
	d.stored = (j->e[id].flags & E_DIR) != 0;
	d.active_same = (j->e[id].flags & (E_DIR | E_ACTIVE)) == (E_DIR | E_ACTIVE);
	return store_dir_put(j->st, &d);
}

static int
write_teams(struct job *j)
{
	size_t	 t;

	if (store_team_clear(j->st, j->sy->name) == -1)
		return -1;
	for (t = 0; t < j->nteam; t++) {
		/* Users whose deletion is held are members still. */
		long long n = j->team_new[t] + (j->hold_deletes ?
		    j->team_held[t] : 0);

		if (n > 0 && store_team_put(j->st, j->sy->name, j->team[t],
		    n) == -1)
			return -1;
	}
	return 0;
}

static void
on_purged(void *arg, const char *key, size_t n)
{
	struct job	*j = arg;
	uint32_t	 e = ent_get(j, key, n);

	if (e != ENT_NONE)
		j->e[e].flags |= E_GONE;
}

static int
written_one(const struct job *j, size_t i)
{
	return (j->e[i].flags & E_WRITE) || ((j->e[i].flags & E_DELETE) &&
	    !j->hold_deletes);
}

/*
 * The users this run writes or removes, in the order of their keys: the
 * users table's order. An export in no order (a shuffled first load
 * took three times as long) then walks the table once, each page
 * of it read and written while it is in SQLite's cache.
 */
static uint32_t *
written(struct job *j, size_t *n)
{
	uint32_t	*w;
	size_t		 i, k = 0;

	for (i = 0; i < j->ne; i++)
		k += written_one(j, i);
	w = xmalloc((k + 1) * sizeof(*w));
	*n = 0;
	for (i = 0; i < j->ne; i++)
		if (written_one(j, i))
			w[(*n)++] = (uint32_t)i;
	ids_by_key(j, w, *n);
	return w;
}

static int
write_directory(struct job *j)
{
	const struct sync	*sy = j->sy;
	struct keptpass		 pass = { 0 };
	struct buf		 b = { 0 };
	uint32_t		*w;
	size_t			 i, n;
	int			 rc = -1, purged;

	/* The counts the store keeps with the directory say what the run
	 * found, or are made again (after an edit by hand). */
	if (store_counts_check(j->st, sy->name, j->active_before) == -1)
		return -1;
	w = written(j, &n);
	for (i = 0; i < n; i++) {
		if (i == n / 2)
			fault("apply.half");
		if (j->e[w[i]].flags & E_WRITE) {
			kept_release(j, &pass, ent_kept(j, w[i])->end);
			if (write_user(j, w[i], &b) == -1)
				goto out;
			continue;
		}
		if (store_dir_remove(j->st, sy->name, ent_key(j, w[i]),
		    sy->delete_mode == DEL_DEACTIVATE, j->run->id) == -1)
			goto out;
		j->e[w[i]].flags |= sy->delete_mode == DEL_DEACTIVATE ? E_DEACT :
		    E_GONE;
	}
	/* Counted from the run's start, so that whom this run deactivates
	 * stays until a later run, however long this one takes. */
	if (sy->delete_mode == DEL_DEACTIVATE) {
		purged = store_dir_purge(j->st, sy->name, j->run->started -
		    (time_t)sy->grace_days * 86400, on_purged, j);
		if (purged < 0)
			goto out;
		if (purged > 0)
			log_info("removed %d users deactivated more than %d "
			    "days ago", purged, sy->grace_days);
	}
	if (j->sc.team_slot >= 0 && write_teams(j) == -1)
		goto out;
	/* The writes above moved the directory's version (store.c); a run
	 * that changed nothing keeps it, and its key snapshot stays good. */
	if (store_bumped(j->st))
		snap_save(j, 1);
	rc = 0;
out:
	free(w);
	buf_free(&b);
	return rc;
}

static void
count(struct job *j)
{
	struct run	*r = j->run;
	size_t		 i;

	memset(r->count, 0, sizeof(r->count));
	for (i = 0; i < j->nit; i++)
		r->count[j->it[i].type]++;
	r->impacted = 0;
	for (i = 0; i < j->ne; i++)
		r->impacted += (j->e[i].flags & E_IMPACT) != 0;
	for (i = 0; i < j->niss; i++)
		r->impacted += j->iss[i].key == NULL;
	r->skipped = r->issues[ISS_USER_SKIPPED] + r->issues[ISS_SEAT_LIMIT];
	r->active_before = j->active_before;
}

#define BULK_ITEMS	10000	/* items that make a load a bulk one */

static int
any_stored(const struct job *j)
{
	size_t	 i;

	for (i = 0; i < j->ne; i++)
		if (j->e[i].flags & E_DIR)
			return 1;
	return 0;
}

/* Into an empty directory, many rows: a first load (store.c's bulk). */
int
apply_bulk(const struct job *j)
{
	return j->apply && j->ne > 0 && j->nit >= BULK_ITEMS &&
	    j->active_before == 0 && !any_stored(j);
}

/* Store the outcome; the caller holds the transaction. */
int
apply_run(struct job *j, enum runstatus status)
{
	int64_t	 t0 = now_ms(), t1, t2;
	char	 idx[64] = "";
	int	 rc, bulk;

	count(j);
	/* Indexes after the rows, by sorting. */
	if ((bulk = apply_bulk(j))) {
		log_info("a first load of %zu items: the email and item "
		    "indexes are built after the rows", j->nit);
		if (store_bulk_begin(j->st) == -1)
			return -1;
	}
	rc = j->apply && write_directory(j) == -1 ? -1 : 0;
	t1 = now_ms();
	if (rc == 0 && (store_items(j) == -1 || store_issues(j) == -1))
		rc = -1;
	t2 = now_ms();
	if (rc == 0 && bulk && store_bulk_end(j->st) == -1)
		rc = -1;
	if (bulk)
		snprintf(idx, sizeof(idx), ", the indexes built in %lld ms",
		    (long long)(now_ms() - t2));
	if (rc == 0)
		log_debug("users written in %lld ms, items and issues in %lld "
		    "ms%s", (long long)(t1 - t0), (long long)(t2 - t1), idx);
	if (rc == 0)
		j->run->status = status;
	return rc;
}
