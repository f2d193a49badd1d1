/*
 * The store's records of runs: the runs themselves, the file ledger,
 * their items and issues, the decisions on them and the apply hook's
 * attempts, the run log, the files seen and refused at a source, and
 * the report uploads.
 * Invariants: a run's row, its items and its issues are written in the
 * caller's transaction (apply.c's one transaction), never on their own;
 * what a function returns that the caller frees says so above it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "rostersync.h"
#include "store_int.h"

/* --------------------------------------------------------------- runs */

static void
run_bind(sqlite3_stmt *s, const struct run *r)
{
	int	 i, c = 14;

	if (r->id > 0)
		sqlite3_bind_int64(s, 1, r->id);
	bind_text(s, 2, r->sync);
	bind_text(s, 3, r->trigger);
	bind_text(s, 4, runstatus_slug(r->status));
	bind_text(s, 5, r->source);
	bind_text(s, 6, r->file_name);
	bind_text(s, 7, r->sha256[0] ? r->sha256 : NULL);
	sqlite3_bind_int64(s, 8, r->size);
	sqlite3_bind_int64(s, 9, r->rows);
	if (r->file_id > 0)
		sqlite3_bind_int64(s, 10, r->file_id);
	sqlite3_bind_int64(s, 11, r->started);
	if (r->finished)
		sqlite3_bind_int64(s, 12, r->finished);
	sqlite3_bind_int64(s, 13, r->duration_ms);
	for (i = 0; i < IT__COUNT; i++)
		sqlite3_bind_int64(s, c++, r->count[i]);
	for (i = 0; i <= ISS_SEAT_LIMIT; i++)	/* the first four */
		sqlite3_bind_int64(s, c++, r->issues[i]);
	sqlite3_bind_int64(s, 25, r->skipped);
	sqlite3_bind_int64(s, 26, r->impacted);
	sqlite3_bind_int64(s, 27, r->active_before);
	sqlite3_bind_int(s, 28, r->tripped);
	sqlite3_bind_int64(s, 29, r->max_deletes);
	sqlite3_bind_double(s, 30, r->max_delete_percent);
	sqlite3_bind_int64(s, 31, r->allow_deletes);
	sqlite3_bind_int(s, 32, r->dry_run);
	sqlite3_bind_int64(s, 33, r->base_version);
	bind_text(s, 34, r->error);
	bind_text(s, 35, r->report_base);
	bind_text(s, 36, r->approver);
	bind_text(s, 37, r->reason);
	if (r->parent_run > 0)
		sqlite3_bind_int64(s, 38, r->parent_run);
	if (r->decided_at > 0)
		sqlite3_bind_int64(s, 39, r->decided_at);
	bind_text(s, 40, r->encoding);
	bind_text(s, 41, r->encoding_note);
	sqlite3_bind_int64(s, 42, r->issues[ISS_ID_CHANGED]);
	sqlite3_bind_double(s, 43, r->max_update_percent);
	sqlite3_bind_int64(s, 44, r->allow_updates);
	sqlite3_bind_int64(s, 45, r->allow_id_changes);
	bind_text(s, 46, r->decision != DEC_NONE ? decision_slug(r->decision) :
	    NULL);
	bind_text(s, 47, r->hint);
	if (r->failures > 0)
		sqlite3_bind_int64(s, 48, r->failures);
	bind_text(s, 49, r->preview_base);
	if (r->recovered_at > 0)
		sqlite3_bind_int64(s, 50, r->recovered_at);
}

void
run_read(sqlite3_stmt *s, struct run *r)
{
	const unsigned char	*sha;
	int			 i, c = 13;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	r->sync = col_strdup(s, 1);
	r->trigger = col_strdup(s, 2);
	r->status = runstatus_parse(col_text(s, 3));
	if ((int)r->status < 0)
		r->status = RS_FAILED;
	r->source = col_strdup(s, 4);
	r->file_name = col_strdup(s, 5);
	if ((sha = sqlite3_column_text(s, 6)) != NULL)
		snprintf(r->sha256, sizeof(r->sha256), "%s", sha);
	r->size = sqlite3_column_int64(s, 7);
	r->rows = sqlite3_column_int64(s, 8);
	r->file_id = sqlite3_column_int64(s, 9);
	r->started = (time_t)sqlite3_column_int64(s, 10);
	r->finished = (time_t)sqlite3_column_int64(s, 11);
	r->duration_ms = sqlite3_column_int64(s, 12);
	for (i = 0; i < IT__COUNT; i++)
		r->count[i] = sqlite3_column_int64(s, c++);
	for (i = 0; i <= ISS_SEAT_LIMIT; i++)
		r->issues[i] = sqlite3_column_int64(s, c++);
	r->skipped = sqlite3_column_int64(s, 24);
	r->impacted = sqlite3_column_int64(s, 25);
	r->active_before = sqlite3_column_int64(s, 26);
	r->tripped = sqlite3_column_int(s, 27);
	r->max_deletes = sqlite3_column_int64(s, 28);
	r->max_delete_percent = sqlite3_column_double(s, 29);
	r->allow_deletes = sqlite3_column_int64(s, 30);
	r->dry_run = sqlite3_column_int(s, 31);
	r->base_version = sqlite3_column_int64(s, 32);
	r->error = col_strdup(s, 33);
	r->report_base = col_strdup(s, 34);
	r->approver = col_strdup(s, 35);
	r->reason = col_strdup(s, 36);
	r->parent_run = sqlite3_column_int64(s, 37);
	r->decided_at = (time_t)sqlite3_column_int64(s, 38);
	r->encoding = col_strdup(s, 39);
	r->encoding_note = col_strdup(s, 40);
	r->issues[ISS_ID_CHANGED] = sqlite3_column_int64(s, 41);
	r->max_update_percent = sqlite3_column_double(s, 42);
	r->allow_updates = sqlite3_column_int64(s, 43);
	r->allow_id_changes = sqlite3_column_int64(s, 44);
	r->decision = decision_parse(col_text(s, 45));
	r->hint = col_strdup(s, 46);
	r->failures = sqlite3_column_int64(s, 47);
	r->preview_base = col_strdup(s, 48);
	r->recovered_at = (time_t)sqlite3_column_int64(s, 49);
}

int
store_run_insert(struct store *st, struct run *r)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_INSERT);

	r->id = 0;
	run_bind(s, r);
	if (store_exec(st, s) == -1)
		return -1;
	r->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int
store_run_update(struct store *st, const struct run *r)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_UPDATE);

	run_bind(s, r);
	return store_exec(st, s);
}

static int
on_run(void *arg, sqlite3_stmt *s)
{
	run_read(s, arg);
	return 1;
}

/* 0 found, 1 no such run, -1 error. Free with run_free(). */
int
store_run_get(struct store *st, long long id, struct run *r)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_GET);
	int		 rc;

	sqlite3_bind_int64(s, 1, id);
	if ((rc = store_each(st, s, on_run, r)) == -1)
		return -1;
	return rc == 1 ? 0 : 1;
}

int
store_run_reports_done(struct store *st, long long id)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_REPORTS_DONE);

	sqlite3_bind_int64(s, 1, id);
	return store_exec(st, s);
}

/* A run's id, after those before it ("1, 4"), into the buf at arg. */
static int
each_id_listed(void *arg, sqlite3_stmt *s)
{
	struct buf	*b = arg;

	buf_printf(b, "%s%lld", b->len > 0 ? ", " : "",
	    (long long)sqlite3_column_int64(s, 0));
	return 0;
}

/* Runs left In Progress or Queued by a process that died: Failed. */
int
store_runs_interrupted(struct store *st, struct buf *ids)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_INTERRUPTED);

	sqlite3_bind_int64(s, 1, time(NULL));
	if (store_each(st, s, each_id_listed, ids) == -1)
		return -1;
	return sqlite3_changes(st->db);
}

/* Ids of finished runs whose report files were not all written. */
size_t
store_runs_reports_pending(struct store *st, long long **ids)
{
	return store_ids(st, store_stmt(st, ST_RUN_REPORTS_PENDING), ids);
}

/* The earliest run that applied this content for the sync, or 0. */
long long
store_run_applied_sha(struct store *st, const char *sync, const char *sha)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_APPLIED_SHA);
	long long	 id = 0;

	bind_text(s, 1, sync);
	bind_text(s, 2, sha);
	(void)store_each(st, s, each_int64, &id);
	return id;
}

/* A row of (type, status, n) added to the run's outcome. */
static int
on_outcome(void *arg, sqlite3_stmt *s)
{
	struct run	*r = arg;
	int		 t, k;

	t = itemtype_parse(col_text(s, 0));
	k = itemstatus_parse(col_text(s, 1));
	if (t < 0 || k < 0)
		return 0;
	if (k == IST_FAILED)
		r->failed[t] += sqlite3_column_int64(s, 2);
	else
		r->applied[t] += sqlite3_column_int64(s, 2);
	if (k == IST_CONFIRMED)
		r->confirmed += sqlite3_column_int64(s, 2);
	return 0;
}

/* 0, or -1; r->have_outcome says it is filled. */
int
store_run_outcome(struct store *st, struct run *r)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_OUTCOME);

	memset(r->applied, 0, sizeof(r->applied));
	memset(r->failed, 0, sizeof(r->failed));
	r->confirmed = 0;
	sqlite3_bind_int64(s, 1, r->id);
	r->have_outcome = store_each(st, s, on_outcome, r) == 0;
	return r->have_outcome ? 0 : -1;
}

long long
store_run_latest(struct store *st, const char *sync)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_LATEST);
	long long	 id = 0;

	bind_text(s, 1, sync);
	(void)store_each(st, s, each_int64, &id);
	return id;
}

/* The first row's (id, failures); the rest stepped (an UPDATE). */
static int
on_recovered(void *arg, sqlite3_stmt *s)
{
	long long	*v = arg;

	if (v[0] == 0) {
		v[0] = sqlite3_column_int64(s, 0);
		v[1] = sqlite3_column_int64(s, 1);
	}
	return 0;
}

/*
 * The sync's source answered: its latest run, if a source failure, is
 * over. The run's id (and *failures) when there was one, else 0.
 */
long long
store_run_recovered(struct store *st, const char *sync, time_t now,
    long long *failures)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_RECOVERED);
	long long	 v[2] = { 0, 0 };

	bind_text(s, 1, sync);
	sqlite3_bind_int64(s, 2, now);
	(void)store_each(st, s, on_recovered, v);
	if (v[0] != 0)
		*failures = v[1];
	return v[0];
}

/* How many Queued runs of the ledger entry file were cancelled, or -1. */
int
store_runs_take_file(struct store *st, long long file, long long by,
    const char *reason)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_TAKE_FILE);

	sqlite3_bind_int64(s, 1, file);
	sqlite3_bind_int64(s, 2, by);
	bind_text(s, 3, reason);
	sqlite3_bind_int64(s, 4, time(NULL));
	if (store_exec(st, s) == -1)
		return -1;
	return sqlite3_changes(st->db);
}


/* ------------------------------------------------------------- ledger */

static int
on_file_sha(void *arg, sqlite3_stmt *s)
{
	struct ledger	*l = arg;

	l->id = sqlite3_column_int64(s, 0);
	snprintf(l->state, sizeof(l->state), "%s", col_text(s, 1));
	l->run_id = sqlite3_column_int64(s, 2);
	return 1;
}

/* The first ledger entry that took this content for the sync (not one
 * whose run could not load it or failed): 0 none, 1 found. */
int
store_file_by_sha(struct store *st, const char *sync, const char *sha,
    long long *id, char *state, size_t statelen, long long *run)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_BY_SHA);
	struct ledger	 l;

	memset(&l, 0, sizeof(l));
	bind_text(s, 1, sync);
	bind_text(s, 2, sha);
	if (store_each(st, s, on_file_sha, &l) != 1)
		return 0;
	*id = l.id;
	snprintf(state, statelen, "%s", l.state);
	*run = l.run_id;
	return 1;
}

/* The latest ledger entry of a file with this name, size and mtime, or 0. */
long long
store_file_seen(struct store *st, const char *sync, const char *name,
    long long size, long long mtime)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_BY_STAT);
	long long	 id = 0;

	bind_text(s, 1, sync);
	bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, size);
	sqlite3_bind_int64(s, 4, mtime);
	(void)store_each(st, s, each_int64, &id);
	return id;
}

long long
store_file_insert(struct store *st, const struct ledger *l)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_INSERT);

	bind_text(s, 1, l->sync);
	bind_text(s, 2, l->name);
	sqlite3_bind_int64(s, 3, l->size);
	sqlite3_bind_int64(s, 4, l->mtime);
	bind_text(s, 5, l->sha256);
	bind_text(s, 6, l->state);
	bind_text(s, 7, l->local);
	sqlite3_bind_int64(s, 8, time(NULL));
	if (store_exec(st, s) == -1)
		return -1;
	return sqlite3_last_insert_rowid(st->db);
}

int
store_file_set(struct store *st, long long id, const char *state,
    const char *local, long long run)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_SET);

	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, state);
	bind_text(s, 3, local);
	if (run > 0)
		sqlite3_bind_int64(s, 4, run);
	return store_exec(st, s);
}

int
store_file_source_done(struct store *st, long long id)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_SOURCE_DONE);

	sqlite3_bind_int64(s, 1, id);
	return store_exec(st, s);
}

static int
on_file(void *arg, sqlite3_stmt *s)
{
	struct ledger	*l = arg;

	l->id = sqlite3_column_int64(s, 0);
	l->sync = col_strdup(s, 1);
	l->name = col_strdup(s, 2);
	l->size = sqlite3_column_int64(s, 3);
	l->mtime = sqlite3_column_int64(s, 4);
	snprintf(l->sha256, sizeof(l->sha256), "%s", col_text(s, 5));
	snprintf(l->state, sizeof(l->state), "%s", col_text(s, 6));
	l->local = col_strdup(s, 7);
	l->run_id = sqlite3_column_int64(s, 8);
	l->source_done = sqlite3_column_int(s, 9);
	return 1;
}

/* 0 found, 1 none. Free with ledger_free(). */
int
store_file_get(struct store *st, long long id, struct ledger *l)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_GET);

	memset(l, 0, sizeof(*l));
	sqlite3_bind_int64(s, 1, id);
	return store_each(st, s, on_file, l) == 1 ? 0 : 1;
}

void
ledger_free(struct ledger *l)
{
	free(l->sync);
	free(l->name);
	free(l->local);
	memset(l, 0, sizeof(*l));
}

size_t
store_files_in_state(struct store *st, const char *state, long long **ids)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_LIST_STATE);

	bind_text(s, 1, state);
	return store_ids(st, s, ids);
}

int
store_file_known_local(struct store *st, const char *local)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_LOCAL);

	bind_text(s, 1, local);
	return store_each(st, s, each_found, NULL) == 1;
}


/* ------------------------------------------------------ items, issues */

int
store_item_add(struct store *st, long long run, const struct itemrow *it)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_INSERT);
	size_t		 i;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, it->seq);
	bind_text(s, 3, itemtype_slug(it->type));
	bind_text(s, 4, itemstatus_slug(it->status));
	bind_text(s, 5, it->key);
	bind_text(s, 6, it->email);
	bind_text(s, 7, it->name);
	bind_text(s, 8, it->team);
	bind_text(s, 9, it->error);
	bind_text(s, 10, it->payload);
	if (store_exec(st, s) == -1)
		return -1;
	for (i = 0; i < it->nchg; i++) {
		s = store_stmt(st, ST_CHANGE_INSERT);
		sqlite3_bind_int64(s, 1, run);
		sqlite3_bind_int64(s, 2, it->seq);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)i);
		bind_text(s, 4, it->chg[i].field);
		bind_text(s, 5, it->chg[i].old);
		bind_text(s, 6, it->chg[i].new);
		if (store_exec(st, s) == -1)
			return -1;
	}
	return 0;
}

int
store_issue_add(struct store *st, long long run, const struct issuerow *is)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ISSUE_INSERT);

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, is->seq);
	bind_text(s, 3, issuetype_slug(is->type));
	sqlite3_bind_int64(s, 4, is->row);
	bind_text(s, 5, is->key);
	bind_text(s, 6, is->field);
	bind_text(s, 7, is->message);
	bind_text(s, 8, is->fix);
	bind_text(s, 9, is->email != NULL && *is->email ? is->email : NULL);
	bind_text(s, 10, is->name != NULL && *is->name ? is->name : NULL);
	return store_exec(st, s);
}

int
store_items_set_status(struct store *st, long long run, enum itemstatus is)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_STATUS_ALL);

	sqlite3_bind_int64(s, 1, run);
	bind_text(s, 2, itemstatus_slug(is));
	return store_exec(st, s);
}

/* Columns c.. of a row as an item view (seq, type, status, key, email,
 * name, team, error, field, old, new). */
void
itemview_read(sqlite3_stmt *s, int c, struct itemview *v)
{
	v->seq = sqlite3_column_int64(s, c);
	v->type = itemtype_parse(col_text(s, c + 1));
	v->status = itemstatus_parse(col_text(s, c + 2));
	v->key = col_text(s, c + 3);
	v->email = col_text(s, c + 4);
	v->name = col_text(s, c + 5);
	v->team = col_text(s, c + 6);
	v->error = col_text(s, c + 7);
	v->field = sqlite3_column_type(s, c + 8) == SQLITE_NULL ? NULL :
	    col_text(s, c + 8);
	v->old = col_text(s, c + 9);
	v->new = col_text(s, c + 10);
}

/* Columns c.. of a row as an issue view (seq, type, row, key, field,
 * message, fix, email, name). */
void
issueview_read(sqlite3_stmt *s, int c, struct issueview *v)
{
	v->seq = sqlite3_column_int64(s, c);
	v->type = issuetype_parse(col_text(s, c + 1));
	v->row = sqlite3_column_int64(s, c + 2);
	v->key = col_text(s, c + 3);
	v->field = col_text(s, c + 4);
	v->message = col_text(s, c + 5);
	v->fix = col_text(s, c + 6);
	v->email = col_text(s, c + 7);
	v->name = col_text(s, c + 8);
}

/* A caller's function of item or issue views, and its argument. */
struct viewcb {
	int	(*item)(void *, const struct itemview *);
	int	(*issue)(void *, const struct issueview *);
	void	*arg;
};

static int
on_itemview(void *arg, sqlite3_stmt *s)
{
	struct viewcb	*cb = arg;
	struct itemview	 v;

	itemview_read(s, 0, &v);
	return cb->item(cb->arg, &v) != 0;
}

static int
on_issueview(void *arg, sqlite3_stmt *s)
{
	struct viewcb	*cb = arg;
	struct issueview v;

	issueview_read(s, 0, &v);
	return cb->issue(cb->arg, &v) != 0;
}

/*
 * Every change of a run, one call per (item, field) pair; an item without
 * field changes is one call with field NULL. Stops when fn returns non-0.
 */
int
store_item_each(struct store *st, long long run,
    int (*fn)(void *, const struct itemview *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_LIST);
	struct viewcb	 cb = { fn, NULL, arg };

	sqlite3_bind_int64(s, 1, run);
	return store_each(st, s, on_itemview, &cb) == -1 ? -1 : 0;
}

int
store_issue_each(struct store *st, long long run,
    int (*fn)(void *, const struct issueview *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ISSUE_LIST);
	struct viewcb	 cb = { NULL, fn, arg };

	sqlite3_bind_int64(s, 1, run);
	return store_each(st, s, on_issueview, &cb) == -1 ? -1 : 0;
}

/* ------------------------------------------- decisions and the hook */

/* Older held runs of the sync become Cancelled; returns how many. */
int
store_runs_supersede(struct store *st, const char *sync, long long by,
    const char *reason)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_SUPERSEDE);

	bind_text(s, 1, sync);
	sqlite3_bind_int64(s, 2, by);
	bind_text(s, 3, reason);
	sqlite3_bind_int64(s, 4, time(NULL));
	if (store_exec(st, s) == -1)
		return -1;
	return sqlite3_changes(st->db);
}

/* A run's items, changes and issues go (before they are made again). */
int
store_run_clear_items(struct store *st, long long run)
{
	static const enum stmt del[] = { ST_RUN_DELETE_ITEMS,
	    ST_RUN_DELETE_CHANGES, ST_RUN_DELETE_ISSUES };
	size_t	 i;

	for (i = 0; i < 3; i++) {
		sqlite3_stmt *s = store_stmt(st, del[i]);

		sqlite3_bind_int64(s, 1, run);
		if (store_exec(st, s) == -1)
			return -1;
	}
	return 0;
}

static int
on_itemfull(void *arg, sqlite3_stmt *s)
{
	struct itemfull	*it = arg;

	it->type = itemtype_parse(col_text(s, 0));
	it->status = itemstatus_parse(col_text(s, 1));
	it->key = col_strdup(s, 2);
	it->team = col_strdup(s, 3);
	it->payload = col_strdup(s, 4);
	it->resolved_by = sqlite3_column_int64(s, 5);
	it->error = col_strdup(s, 6);
	it->email = col_strdup(s, 7);
	it->name = col_strdup(s, 8);
	return 1;
}

/* 0 found, 1 none; free with itemfull_free(). */
int
store_item_get(struct store *st, long long run, long long seq,
    struct itemfull *it)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_GET);

	memset(it, 0, sizeof(*it));
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	if (store_each(st, s, on_itemfull, it) != 1)
		return 1;
	it->run = run;
	it->seq = seq;
	return 0;
}

void
itemfull_free(struct itemfull *it)
{
	free(it->key);
	free(it->team);
	free(it->payload);
	free(it->error);
	free(it->email);
	free(it->name);
	memset(it, 0, sizeof(*it));
}

/* The full record an item carries (creates), as a JSON object; or NULL. */
char *
store_item_fields(struct store *st, long long run, long long seq)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_FIELDS);
	char		*v = NULL;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	(void)store_each(st, s, each_strdup, &v);
	return v;
}

int
store_item_finish(struct store *st, long long run, long long seq,
    enum itemstatus status, const char *error)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_FINISH);

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	bind_text(s, 3, itemstatus_slug(status));
	bind_text(s, 4, error);
	if (status == IST_APPLIED || status == IST_CONFIRMED)
		sqlite3_bind_int64(s, 5, time(NULL));
	return store_exec(st, s);
}

int
store_item_resolve(struct store *st, long long run, long long seq,
    long long by)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_RESOLVE);

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	sqlite3_bind_int64(s, 3, by);
	return store_exec(st, s);
}

/*
 * Items of a run still to apply (pending, never attempted) and, with
 * failed_too, those to retry. An item a crash cut inside the hook is
 * failed, so only a person's retry or confirm ever runs it again.
 */
size_t
store_items_to_apply(struct store *st, long long run, long long only,
    int failed_too, long long **seqs)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_TO_APPLY);

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, only);
	sqlite3_bind_int(s, 3, failed_too);
	return store_ids(st, s, seqs);
}

struct changecb {
	void	(*fn)(void *, const char *, const char *);
	void	*arg;
};

static int
on_change(void *arg, sqlite3_stmt *s)
{
	struct changecb	*cb = arg;

	cb->fn(cb->arg, col_text(s, 0), col_text(s, 1));
	return 0;
}

int
store_item_changes(struct store *st, long long run, long long seq,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_CHANGES);
	struct changecb	 cb = { fn, arg };

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	return store_each(st, s, on_change, &cb) == 0 ? 0 : -1;
}

/* The run of a later item for the same user and type that was applied. */
long long
store_item_later_done(struct store *st, long long run, long long seq)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_LATER_DONE);
	long long	 by = 0;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	(void)store_each(st, s, each_int64, &by);
	return by;
}

int
store_attempt_begin(struct store *st, long long run, long long seq,
    const char *payload)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ATTEMPT_BEGIN);

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	sqlite3_bind_int64(s, 3, time(NULL));
	bind_text(s, 4, payload);
	return store_exec(st, s);
}

int
store_attempt_end(struct store *st, long long run, long long seq,
    int exit_status, const char *response, const char *error)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ATTEMPT_END);

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	sqlite3_bind_int(s, 3, exit_status);
	bind_text(s, 4, response);
	bind_text(s, 5, error);
	return store_exec(st, s);
}

struct attemptcb {
	void	(*fn)(void *, int, time_t, int, const char *, const char *);
	void	*arg;
};

static int
on_attempt(void *arg, sqlite3_stmt *s)
{
	struct attemptcb *cb = arg;

	cb->fn(cb->arg, sqlite3_column_int(s, 0),
	    (time_t)sqlite3_column_int64(s, 1),
	    sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(s, 2), col_text(s, 3), col_text(s, 4));
	return 0;
}

int
store_attempt_each(struct store *st, long long run, long long seq,
    void (*fn)(void *, int n, time_t, int exit_status, const char *,
    const char *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ATTEMPT_LIST);
	struct attemptcb cb = { fn, arg };

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	return store_each(st, s, on_attempt, &cb) == 0 ? 0 : -1;
}

/* A row of (id, status): the id and the status parsed. */
static int
on_run_status(void *arg, sqlite3_stmt *s)
{
	long long	*v = arg;

	v[0] = sqlite3_column_int64(s, 0);
	v[1] = runstatus_parse(col_text(s, 1));
	return 1;
}

/* The latest run of a ledger entry and its status: the id, or 0. */
long long
store_run_for_file(struct store *st, long long file, int *status)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_FOR_FILE);
	long long	 v[2] = { 0, 0 };

	sqlite3_bind_int64(s, 1, file);
	if (store_each(st, s, on_run_status, v) == 1)
		*status = (int)v[1];
	return v[0];
}

/* An item of one run made again as an item of another (a retry). */
int
store_item_copy(struct store *st, long long from, long long seq,
    long long to, long long newseq)
{
	static const enum stmt q[] = { ST_ITEM_COPY, ST_CHANGES_COPY };
	size_t	 i;

	for (i = 0; i < 2; i++) {
		sqlite3_stmt *s = store_stmt(st, q[i]);

		sqlite3_bind_int64(s, 1, from);
		sqlite3_bind_int64(s, 2, seq);
		sqlite3_bind_int64(s, 3, to);
		sqlite3_bind_int64(s, 4, newseq);
		if (store_exec(st, s) == -1)
			return -1;
	}
	return 0;
}

/* Items whose hook was started but never finished: a crash. */
size_t
store_attempts_open(struct store *st, long long **pairs)
{
	return store_idcols(st, store_stmt(st, ST_ATTEMPT_OPEN), 2, pairs);
}

/* Runs left In Progress with items the hook has still to apply. */
size_t
store_runs_with_pending(struct store *st, long long **ids)
{
	return store_ids(st, store_stmt(st, ST_RUN_PENDING_ITEMS), ids);
}

/* ------------------------------------------------------------ run log */

int
store_runlog_put(struct store *st, long long run, const char *text)
{
	sqlite3_stmt	*s = store_stmt(st, ST_LOG_PUT);

	sqlite3_bind_int64(s, 1, run);
	bind_text(s, 2, text);
	return store_exec(st, s);
}

/* The run's log text, or NULL. Caller frees. */
char *
store_runlog_get(struct store *st, long long run)
{
	sqlite3_stmt	*s = store_stmt(st, ST_LOG_GET);
	char		*t = NULL;

	sqlite3_bind_int64(s, 1, run);
	(void)store_each(st, s, each_strdup, &t);
	return t;
}

int
store_report_base_used(struct store *st, const char *sync, const char *base)
{
	sqlite3_stmt	*s = store_stmt(st, ST_REPORT_BASE_USED);

	bind_text(s, 1, sync);
	bind_text(s, 2, base);
	return store_each(st, s, each_found, NULL) == 1;
}

/* ------------------------------------------- files seen at a source */

/* A file's row (size, mtime, first seen) against v's size and mtime:
 * 1 the same (v[2] the first seen), 2 changed. */
static int
on_observed(void *arg, sqlite3_stmt *s)
{
	long long	*v = arg;

	if (sqlite3_column_int64(s, 0) != v[0] ||
	    sqlite3_column_int64(s, 1) != v[1])
		return 2;
	v[2] = sqlite3_column_int64(s, 2);
	return 1;
}

/*
 * A file listed at a source with this size and mtime: remembers when this
 * (size, mtime) was first seen, in *first. Returns 0 when the file is new,
 * 1 when it is as it was, 2 when it changed since (first is then now), -1
 * on a database error.
 */
int
store_observe(struct store *st, const char *sync, const char *name,
    long long size, long long mtime, time_t now, time_t *first)
{
	sqlite3_stmt	*s = store_stmt(st, ST_OBS_GET);
	long long	 v[3] = { size, mtime, 0 };
	int		 r;

	bind_text(s, 1, sync);
	bind_text(s, 2, name);
	if ((r = store_each(st, s, on_observed, v)) == 1) {
		*first = (time_t)v[2];
		return 1;
	}
	r = r == 2 ? 2 : 0;
	*first = now;
	s = store_stmt(st, ST_OBS_PUT);
	bind_text(s, 1, sync);
	bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, size);
	sqlite3_bind_int64(s, 4, mtime);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)now);
	return store_exec(st, s) == -1 ? -1 : r;
}

int
store_observed_forget(struct store *st, const char *sync, const char *name)
{
	sqlite3_stmt	*s = store_stmt(st, ST_OBS_FORGET);

	bind_text(s, 1, sync);
	bind_text(s, 2, name);
	return store_exec(st, s);
}

/* A source's listing, and the names remembered that are not in it. */
struct listing {
	const struct srcfile	*f;
	size_t			 n;
	char			**gone;
	size_t			 ngone;
};

static int
on_observed_name(void *arg, sqlite3_stmt *s)
{
	struct listing	*l = arg;
	const char	*name = col_text(s, 0);
	size_t		 i;
	int		 found;

	for (found = 0, i = 0; i < l->n && !found; i++)
		found = strcmp(l->f[i].name, name) == 0;
	if (!found) {
		l->gone = xrealloc(l->gone, (l->ngone + 1) * sizeof(*l->gone));
		l->gone[l->ngone++] = xstrdup(name);
	}
	return 0;
}

/* Forget the files of a sync that are no longer in its listing f[n]. */
int
store_observed_prune(struct store *st, const char *sync,
    const struct srcfile *f, size_t n)
{
	sqlite3_stmt	*s = store_stmt(st, ST_OBS_NAMES);
	struct listing	 l = { f, n, NULL, 0 };
	size_t		 i;
	int		 rc = 0;

	bind_text(s, 1, sync);
	(void)store_each(st, s, on_observed_name, &l);
	for (i = 0; i < l.ngone; i++) {
		if (store_observed_forget(st, sync, l.gone[i]) == -1)
			rc = -1;
		free(l.gone[i]);
	}
	free(l.gone);
	return rc;
}

/* ------------------------------------------------------ refused files */

/* Is the reason stored the one in arg? 1 yes, 2 no. */
static int
on_refused_reason(void *arg, sqlite3_stmt *s)
{
	return strcmp(col_text(s, 0), arg) == 0 ? 1 : 2;
}

/*
 * A file the source holds that is refused (name as shown, escaped):
 * 1 when it is new or refused for another reason now, 0 when known, -1.
 */
int
store_refused_note(struct store *st, const char *sync, const char *name,
    const char *reason, time_t now)
{
	sqlite3_stmt	*s = store_stmt(st, ST_REFUSED_GET);
	int		 known;

	bind_text(s, 1, sync);
	bind_text(s, 2, name);
	known = store_each(st, s, on_refused_reason, (void *)reason) == 1;
	s = store_stmt(st, ST_REFUSED_PUT);
	bind_text(s, 1, sync);
	bind_text(s, 2, name);
	bind_text(s, 3, reason);
	sqlite3_bind_int64(s, 4, now);
	if (store_exec(st, s) == -1)
		return -1;
	return !known;
}

struct refusedcb {
	int	(*fn)(void *, const char *, const char *, time_t);
	void	*arg;
};

static int
on_refused(void *arg, sqlite3_stmt *s)
{
	struct refusedcb *cb = arg;

	return cb->fn(cb->arg, col_text(s, 0), col_text(s, 1),
	    (time_t)sqlite3_column_int64(s, 2)) != 0;
}

/* The refused files of a sync, by name. */
int
store_refused_each(struct store *st, const char *sync,
    int (*fn)(void *, const char *name, const char *reason, time_t since),
    void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_REFUSED_LIST);
	struct refusedcb cb = { fn, arg };

	bind_text(s, 1, sync);
	return store_each(st, s, on_refused, &cb) == -1 ? -1 : 0;
}

static int
on_refused_name(void *arg, const char *name, const char *reason,
    time_t since)
{
	struct buf	*b = arg;

	(void)reason;
	(void)since;
	buf_add(b, name, strlen(name) + 1);
	return 0;
}

/* Refused files no longer at the source (not in names) are forgotten. */
int
store_refused_prune(struct store *st, const char *sync,
    char *const *names, size_t n)
{
	struct buf	 b = { 0 };
	const char	*p;
	size_t		 i;
	int		 rc, found;

	if ((rc = store_refused_each(st, sync, on_refused_name, &b)) == -1)
		return -1;
	for (p = b.p; p != NULL && p < b.p + b.len; p += strlen(p) + 1) {
		for (found = 0, i = 0; i < n && !found; i++)
			found = strcmp(names[i], p) == 0;
		if (!found) {
			sqlite3_stmt *s = store_stmt(st, ST_REFUSED_FORGET);

			bind_text(s, 1, sync);
			bind_text(s, 2, p);
			if (store_exec(st, s) == -1)
				rc = -1;
		}
	}
	buf_free(&b);
	return rc;
}

/* --------------------------------------------------- report uploads */

/*
 * A report file of a run to upload: its id, or 0 when the file was
 * recorded before (it was written again, so it is uploaded again).
 */
long long
store_publish_add(struct store *st, long long run, const char *sync,
    const char *path)
{
	sqlite3_stmt	*s = store_stmt(st, ST_PUB_REQUEUE);

	sqlite3_bind_int64(s, 1, run);
	bind_text(s, 2, path);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
	if (store_exec(st, s) == -1)
		return -1;
	if (sqlite3_changes(st->db) > 0)
		return 0;
	s = store_stmt(st, ST_PUB_ADD);

	sqlite3_bind_int64(s, 1, run);
	bind_text(s, 2, sync);
	bind_text(s, 3, path);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
	if (store_exec(st, s) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0 ?
	    sqlite3_last_insert_rowid(st->db) : 0;
}

/* Uploads still to do, of one run or (run 0) of all; caller frees ids. */
size_t
store_publish_pending(struct store *st, long long run, long long **ids)
{
	sqlite3_stmt	*s = store_stmt(st, ST_PUB_PENDING);

	sqlite3_bind_int64(s, 1, run);
	return store_ids(st, s, ids);
}

/* An upload as its row has it. */
struct upload {
	long long	 run;
	char		*sync;		/* these two: the caller frees */
	char		*path;
	long long	 attempts;
};

static int
on_upload(void *arg, sqlite3_stmt *s)
{
	struct upload	*u = arg;

	u->run = sqlite3_column_int64(s, 0);
	u->sync = col_strdup(s, 1);
	u->path = col_strdup(s, 2);
	u->attempts = sqlite3_column_int64(s, 3);
	return 1;
}

/* One upload; sync and path are to be freed by the caller. 0 or -1. */
int
store_publish_get(struct store *st, long long id, long long *run,
    char **sync, char **path, long long *attempts)
{
	sqlite3_stmt	*s = store_stmt(st, ST_PUB_GET);
	struct upload	 u = { 0, NULL, NULL, 0 };

	sqlite3_bind_int64(s, 1, id);
	if (store_each(st, s, on_upload, &u) != 1)
		return -1;
	*run = u.run;
	*sync = u.sync;
	*path = u.path;
	*attempts = u.attempts;
	return *sync != NULL && *path != NULL ? 0 : -1;
}

/*
 * An upload's new state (pending, done, failed, cancelled); a failed
 * attempt counts one more and keeps its error.
 */
int
store_publish_set(struct store *st, long long id, const char *state,
    int failed_attempt, const char *error)
{
	sqlite3_stmt	*s = store_stmt(st, ST_PUB_SET);

	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, state);
	sqlite3_bind_int(s, 3, failed_attempt ? 1 : 0);
	bind_text(s, 4, error);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)time(NULL));
	return store_exec(st, s);
}


/* What a run read from the store holds; the run may be reused. */
void
run_free(struct run *r)
{
	free(r->sync);
	free(r->trigger);
	free(r->source);
	free(r->file_name);
	free(r->error);
	free(r->report_base);
	free(r->approver);
	free(r->reason);
	free(r->encoding);
	free(r->encoding_note);
	free(r->hint);
	free(r->preview_base);
	memset(r, 0, sizeof(*r));
}
