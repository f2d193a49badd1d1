/*
 * The per-user views and the metrics: users (one row
 * per user: email, latest sync, sync and status; filters and paging),
 * user (one user's source and directory identity, overview, failure
 * alert, last sync activity and full history) and status (the metric
 * cards and each sync's last run). Read-only; --json with stable shapes
 * (README.md).
 *
 * A user is a key of a sync. Their status is the first of these that
 * holds:
 *
 *   In Progress	a run of their sync is in progress now.
 *   Failed		their sync's latest run (not a dry run) Failed, such as
 *			a source that could not be read: their most recent
 *			sync failed; or an unresolved failure: an item for the
 *			key with status
 *			failed (not in a dry run) that no later item of the same
 *			sync, key and type reached applied or confirmed; or the
 *			sync's latest applied export run skipped their row (a
 *			user_skipped issue for the key).
 *   Completed with Warning
 *			the latest applied export run with an item or an issue
 *			for the key has a warning issue for it
 *			(manager_not_found, manager_cycle, seat_limit_reached).
 *   Synced		in the directory (active or deactivated).
 *   Never Synced	not in the directory and never applied: the key is
 *			only in issues, or in items that were not applied (dry
 *			runs, held, rejected or cancelled runs).
 *
 * An applied export run applied a whole export: not a dry run nor a
 * retry, with status success, needs_attention or approved, or
 * above_threshold with items applied (on_threshold = "hold_deletes"); the
 * SQL is VIEW_EXPORT_RUNS in store.c. A user's latest sync is the finish
 * of their sync's latest applied export run (when everyone in the
 * directory was last brought in step); for a key not in the directory,
 * of the latest run that named it. The alert's failure count is the
 * unresolved failed items, plus one when the latest applied export run
 * skipped the row.
 *
 * Listed: everyone in the directory, and every key outside it that an
 * issue or an unapplied item names, except a key that was in the
 * directory once and left it (deleted, purged) with nothing failed or
 * warned since.
 *
 * Scale: what makes a status other than Synced is rare (failed items, the
 * warnings of applied runs, keys outside the directory). Those facts are
 * read once per command into a hash map, each through an index (store.c);
 * a sync in progress or failing gives all its users one status. So the
 * list is a block (the directory users of the syncs whose users are
 * listed as they come, in email order) with a few rows taken out (users
 * of the block whose status the filter refuses) and a few put in (the
 * others: keys outside the directory, users of the other syncs whose
 * facts the filter takes, users found by their domain). The block's size
 * and where a page starts in it come from the counts the store keeps
 * (users per sync and per email page): a page reads at most one email
 * page of the directory before its rows; a query runs per user the
 * facts tell of (their email), none per other user. `user` reads only
 * its user's history.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rostersync.h"

#define CHANGES_WINDOW	86400	/* "changes in the last 24 h" */
#define RANGE_WALK_MAX	2048	/* --email: rows counted one by one, at most */

enum ustatus {
	US_IN_PROGRESS, US_FAILED, US_WARNING, US_SYNCED, US_NEVER, US__COUNT
};

static const struct {
	const char	*slug;
	const char	*label;
} ustatus_names[US__COUNT] = {
	[US_IN_PROGRESS] = { "in_progress", "In Progress" },
	[US_FAILED] = { "failed", "Failed" },
	[US_WARNING] = { "completed_with_warning", "Completed with Warning" },
	[US_SYNCED] = { "synced", "Synced" },
	[US_NEVER] = { "never_synced", "Never Synced" },
};

/* A sync: what its runs say, and its configuration. */
struct vsync {
	const char	*name;		/* arena */
	struct sync	*cf;		/* NULL: not in the configuration */
	long long	 in_progress;	/* runs in progress now */
	long long	 applied;	/* latest applied export run, or 0 */
	time_t		 applied_at;	/* its finish: the users' latest sync */
	long long	 last;		/* latest run of any kind, or 0 */
	long long	 active;	/* active users in the directory */
	long long	 users;		/* users in the directory, any state */
	long long	 failing;	/* its latest run, when Failed, or 0 */
	const char	*fail_error;	/* that run's (arena) */
	const char	*fail_hint;
	long long	 fail_count;	/* a source failure: times in a row */
	time_t		 fail_since, fail_last;
	int		 block;		/* users: its users are in the block */
};

/* A key the facts say something about; most users have none. */
struct vuser {
	const char	*sync, *key;	/* arena */
	const char	*email, *name;	/* outside the directory: latest item */
	long long	 failures;	/* unresolved failed items */
	long long	 warn_run;	/* latest applied export run warning it */
	long long	 touch_run;	/* latest applied export run naming it */
	time_t		 seen_at;	/* outside: the latest run naming it */
	unsigned	 flags;
};
#define VU_SKIPPED	0x01	/* the latest applied export run skipped it */
#define VU_EXTRA	0x02	/* not in the directory */
#define VU_GONE		0x04	/* not in the directory, but it was once */

struct facts {
	struct arena	 a;
	struct vsync	*sy;
	size_t		 nsy;
	struct strmap	 symap;		/* name -> index in sy */
	struct vuser	*u;
	size_t		 nu, ucap;
	struct strmap	 map;		/* "sync\0key" -> index in u */
	struct buf	 kb;		/* scratch for lookups */
	int		 next_done;	/* the next sync is computed */
	int		 next_rc;
	time_t		 next_at;
	const char	*next_how;
};

/* ------------------------------------------------------------ helpers */

static int
ustatus_parse(const char *s)
{
	char	 norm[64];
	size_t	 i;
	int	 k;

	for (i = 0; s[i] != '\0' && i < sizeof(norm) - 1; i++)
		norm[i] = s[i] == '-' || s[i] == ' ' ? '_' : s[i];
	norm[i] = '\0';
	for (k = 0; k < US__COUNT; k++)
		if (strcasecmp(s, ustatus_names[k].label) == 0 ||
		    strcasecmp(norm, ustatus_names[k].slug) == 0)
			return k;
	if (strcasecmp(norm, "warning") == 0)
		return US_WARNING;
	return -1;
}

static void
jnum(struct buf *b, const char *k, long long n)
{
	json_kv(b, k, "");
	b->len -= 2;
	buf_printf(b, "%lld", n);
}

static void
jbool(struct buf *b, const char *k, int v)
{
	json_kv(b, k, "");
	b->len -= 2;
	buf_adds(b, v ? "true" : "false");
}

/* A run id, null for 0. */
static void
jrun(struct buf *b, const char *k, long long id)
{
	if (id > 0)
		jnum(b, k, id);
	else
		json_kv(b, k, NULL);
}

/* -------------------------------------------------------------- facts */

/* "sync\0key" in f->kb. */
static void
fkey(struct facts *f, const char *sync, const char *key)
{
	buf_reset(&f->kb);
	buf_add(&f->kb, sync, strlen(sync) + 1);
	buf_adds(&f->kb, key);
}

static struct vuser *
vuser_find(struct facts *f, const char *sync, const char *key)
{
	uint32_t	 i;

	fkey(f, sync, key);
	i = strmap_get(&f->map, f->kb.p, f->kb.len);
	return i == STRMAP_NONE ? NULL : &f->u[i];
}

static uint32_t
vuser_get(struct facts *f, const char *sync, const char *key)
{
	struct vuser	*u;
	char		*k;
	uint32_t	 i;

	fkey(f, sync, key);
	if ((i = strmap_get(&f->map, f->kb.p, f->kb.len)) != STRMAP_NONE)
		return i;
	if (f->nu == f->ucap) {
		f->ucap = f->ucap ? f->ucap * 2 : 256;
		f->u = xrealloc(f->u, f->ucap * sizeof(*f->u));
	}
	k = arena_alloc(&f->a, f->kb.len + 1);
	memcpy(k, f->kb.p, f->kb.len + 1);
	i = (uint32_t)f->nu++;
	u = &f->u[i];
	memset(u, 0, sizeof(*u));
	u->sync = k;
	u->key = k + strlen(sync) + 1;
	strmap_put(&f->map, k, f->kb.len, i);
	return i;
}

static struct vsync *
vsync_find(struct facts *f, const char *name)
{
	uint32_t	 i = strmap_get(&f->symap, name, strlen(name));

	return i == STRMAP_NONE ? NULL : &f->sy[i];
}

static struct vsync *
vsync_add(struct facts *f, const char *name)
{
	struct vsync	*s;

	f->sy = xrealloc(f->sy, (f->nsy + 1) * sizeof(*f->sy));
	s = &f->sy[f->nsy++];
	memset(s, 0, sizeof(*s));
	s->name = arena_strndup(&f->a, name, strlen(name));
	strmap_put(&f->symap, s->name, strlen(s->name), (uint32_t)(f->nsy - 1));
	return s;
}

static int
on_sync(void *arg, const struct syncrow *r)
{
	struct facts	*f = arg;
	struct vsync	*s = vsync_find(f, r->sync);

	if (s == NULL)
		s = vsync_add(f, r->sync);

	s->in_progress = r->in_progress;
	s->applied = r->applied;
	s->last = r->last;
	s->active = r->active;
	s->users = r->users;
	s->failing = r->latest;	/* kept by load_syncs() if it Failed */
	return 0;
}

/* Is the sync's latest run Failed? Then everyone's latest sync failed. */
static void
load_failing(struct facts *f, struct store *st, struct vsync *s)
{
	struct run	 r;

	if (s->failing <= 0 || store_run_get(st, s->failing, &r) != 0) {
		s->failing = 0;
		return;
	}
	if (r.status != RS_FAILED || r.recovered_at > 0)
		s->failing = 0;
	else {
		s->fail_error = r.error ? arena_strndup(&f->a, r.error,
		    strlen(r.error)) : "unknown";
		s->fail_hint = r.hint ? arena_strndup(&f->a, r.hint,
		    strlen(r.hint)) : NULL;
		s->fail_count = r.failures;
		s->fail_since = r.started;
		s->fail_last = r.finished ? r.finished : r.started;
	}
	run_free(&r);
}

/* The configured syncs in their order, then others the runs know. */
static int
load_syncs(struct facts *f, struct config *cfg, struct store *st)
{
	struct run	 r;
	size_t		 i;

	for (i = 0; i < cfg->nsyncs; i++)
		if (vsync_find(f, cfg->syncs[i].name) == NULL)
			vsync_add(f, cfg->syncs[i].name);
	if (store_view_syncs(st, on_sync, f) == -1)
		return -1;
	for (i = 0; i < f->nsy; i++) {
		f->sy[i].cf = config_sync(cfg, f->sy[i].name);
		load_failing(f, st, &f->sy[i]);
		if (f->sy[i].applied > 0 &&
		    store_run_get(st, f->sy[i].applied, &r) == 0) {
			f->sy[i].applied_at = r.finished ? r.finished :
			    r.started;
			run_free(&r);
		}
	}
	return 0;
}

/* A failed item nothing later applied (the store says which). */
static int
on_failed(void *arg, const struct keyrow *r)
{
	struct facts	*f = arg;
	uint32_t	 i = vuser_get(f, r->sync, r->key);

	f->u[i].failures++;
	return 0;
}

struct skipctx {
	struct facts		*f;
	const struct vsync	*s;
};

static int
on_skip(void *arg, const struct issueview *v)
{
	struct skipctx	*c = arg;
	uint32_t	 i;

	if (v->type == ISS_USER_SKIPPED && v->key[0] != '\0') {
		i = vuser_get(c->f, c->s->name, v->key);
		c->f->u[i].flags |= VU_SKIPPED;
	}
	return 0;
}

/* A warning no later applied export run named the key in: it stands. */
static int
on_warning(void *arg, const struct keyrow *r)
{
	struct facts	*f = arg;
	uint32_t	 i = vuser_get(f, r->sync, r->key);
	struct vuser	*u = &f->u[i];	/* after vuser_get: it may move u */

	if (r->run > u->warn_run)
		u->warn_run = u->touch_run = r->run;
	return 0;
}

static int
on_extra(void *arg, const struct keyrow *r)
{
	struct facts	*f = arg;
	uint32_t	 i = vuser_get(f, r->sync, r->key);
	struct vuser	*u = &f->u[i];	/* after vuser_get: it may move u */

	u->flags |= VU_EXTRA | (r->gone ? VU_GONE : 0);
	u->email = arena_strndup(&f->a, r->email, strlen(r->email));
	u->name = arena_strndup(&f->a, r->name, strlen(r->name));
	u->seen_at = r->when;
	return 0;
}

/*
 * Read the syncs and the keys outside the directory and, with all, every
 * fact a status needs, from one snapshot. The caller holds the read
 * transaction; free with facts_free() either way.
 */
static int
facts_load(struct facts *f, struct config *cfg, struct store *st, int all)
{
	struct skipctx	 c;
	size_t		 i;

	memset(f, 0, sizeof(*f));
	if (load_syncs(f, cfg, st) == -1)
		return -1;
	if (all) {
		if (store_view_failed(st, on_failed, f) == -1)
			return -1;
		c.f = f;
		for (i = 0; i < f->nsy; i++) {
			c.s = &f->sy[i];
			if (f->sy[i].applied > 0 && store_issue_each(st,
			    f->sy[i].applied, on_skip, &c) == -1)
				return -1;
		}
		if (store_view_warnings(st, on_warning, f) == -1)
			return -1;
	}
	return store_view_extras(st, on_extra, f);
}

static void
facts_free(struct facts *f)
{
	arena_free(&f->a);
	free(f->sy);
	strmap_free(&f->symap);
	free(f->u);
	strmap_free(&f->map);
	buf_free(&f->kb);
	memset(f, 0, sizeof(*f));
}

/* ------------------------------------------------------------- status */

/* The status but In Progress, which depends on the sync only. */
static enum ustatus
base_status(const struct vuser *u, int in_dir)
{
	if (u != NULL && (u->failures > 0 || (u->flags & VU_SKIPPED)))
		return US_FAILED;
	if (u != NULL && u->warn_run > 0 && u->touch_run <= u->warn_run)
		return US_WARNING;
	return in_dir ? US_SYNCED : US_NEVER;
}

static enum ustatus
user_status(const struct vsync *s, const struct vuser *u, int in_dir)
{
	if (s != NULL && s->in_progress > 0)
		return US_IN_PROGRESS;
	if (s != NULL && s->failing > 0)
		return US_FAILED;
	return base_status(u, in_dir);
}

/* A key outside the directory is listed unless it just left it. */
static int
extra_listed(const struct vuser *u)
{
	return (u->flags & VU_EXTRA) && (!(u->flags & VU_GONE) ||
	    base_status(u, 0) != US_NEVER);
}

static time_t
latest_sync(const struct vsync *s, const struct vuser *u, int in_dir)
{
	if (!in_dir)
		return u != NULL ? u->seen_at : 0;
	return s != NULL ? s->applied_at : 0;
}

static long long
failure_count(const struct vsync *s, const struct vuser *u)
{
	long long	 n = s != NULL && s->failing > 0;

	if (u == NULL)
		return n;
	return n + u->failures + ((u->flags & VU_SKIPPED) ? 1 : 0);
}

/*
 * The next scheduled sync of s: its time, or 0 with *how saying why
 * there is none. The timer is global: asked once per command.
 */
static time_t
next_scheduled(struct facts *f, const struct config *cfg,
    const struct vsync *s, const char **how)
{
	if (s == NULL || s->cf == NULL) {
		*how = "not in the configuration";
		return 0;
	}
	if (!s->cf->enabled) {
		*how = "the sync is inactive";
		return 0;
	}
	if (!f->next_done) {
		f->next_rc = next_sync_time(cfg, &f->next_at, &f->next_how);
		f->next_done = 1;
	}
	*how = f->next_how;
	return f->next_rc == 0 ? f->next_at : 0;
}

static const char *
sync_state(const struct vsync *s)
{
	if (s == NULL || s->cf == NULL)
		return "Inactive (not configured)";
	return s->cf->enabled ? "Active" : "Inactive";
}

/* -------------------------------------------------------------- users */

/* A row listed apart from the block, or taken out of it. */
struct lrow {
	const char		*email, *sync, *key;	/* email "" when none */
	const char		*name;		/* outside the directory */
	const struct vuser	*u;		/* its facts, or NULL */
	int			 in_dir;
};

struct lrows {
	struct lrow	*r;
	size_t		 n, cap;
};

/* Users of the block under one email page (of every sync in it). */
struct page {
	const char	*prefix;	/* arena */
	size_t		 len;
	long long	 n;
};

struct ulist {
	struct facts	*f;
	struct store	*st;
	const char	*email;		/* filters: --email as given */
	const char	*lo;		/* its lower case (a prefix), or NULL */
	size_t		 lolen;
	struct buf	 lob, hib;	/* lo, and lo with a 0xff byte after */
	const char	*sync;
	int		 status;	/* -1: all */
	time_t		 since, until;	/* (time_t)-1: unset */
	long long	 page, limit, offset;
	long long	 total;		/* rows that pass the filters */
	int		 json;
	struct buf	 out;
	int		 all;		/* every sync with users is in the block */
	int		 any;		/* some sync is */
	long long	 nblock;	/* block users in lo's range */
	long long	 lorank;	/* block users below lo, or -1 */
	int		 paged;		/* pg is read */
	struct lrows	 extra;		/* listed apart, in list order */
	struct lrows	 gone;		/* block users not listed, in order */
	struct page	*pg;		/* block users per email page */
	size_t		 npg;
	struct buf	 scratch;
};

static int
row_cmp(const char *e1, const char *s1, const char *k1, const char *e2,
    const char *s2, const char *k2)
{
	int	 c;

	if ((c = strcmp(e1 ? e1 : "", e2 ? e2 : "")) != 0)
		return c;
	if ((c = strcmp(s1, s2)) != 0)
		return c;
	return strcmp(k1, k2);
}

static int
lrow_cmp(const void *a, const void *b)
{
	const struct lrow *x = a, *y = b;

	return row_cmp(x->email, x->sync, x->key, y->email, y->sync, y->key);
}

/* Rows of v before the user (email, sync, key): a binary search. */
static size_t
lrows_below(const struct lrows *v, const struct userrow *r)
{
	size_t	 lo = 0, hi = v->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (row_cmp(v->r[mid].email, v->r[mid].sync, v->r[mid].key,
		    r->email, r->sync, r->key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
lrows_add(struct ulist *l, struct lrows *v, const char *email,
    const char *sync, const char *key, const char *name,
    const struct vuser *u, int in_dir)
{
	struct arena	*a = &l->f->a;
	struct lrow	*r;

	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->r = xrealloc(v->r, v->cap * sizeof(*v->r));
	}
	r = &v->r[v->n++];
	r->email = arena_strndup(a, email ? email : "", email ? strlen(email) :
	    0);
	r->sync = arena_strndup(a, sync, strlen(sync));
	r->key = arena_strndup(a, key, strlen(key));
	r->name = name ? arena_strndup(a, name, strlen(name)) : "";
	r->u = u;
	r->in_dir = in_dir;
}

/* The email and the id in full: they identify the user. */
static const struct tcol user_cols[] = {
	{ "EMAIL", 32, TC_FULL }, { "EMPLOYEE ID", 12, TC_FULL },
	{ "LATEST SYNC", 23, 0 }, { "SYNC", 12, 0 }, { "STATUS", 0, TC_FULL },
};
#define NUSER_COLS	(sizeof(user_cols) / sizeof(user_cols[0]))

/* One row of the page, printed; n is its place in the list. */
static void
print_user(struct ulist *l, long long n, const char *sync, const char *key,
    const char *email, const char *name, const struct vuser *u, int in_dir)
{
	struct vsync	*s = vsync_find(l->f, sync);
	enum ustatus	 us = user_status(s, u, in_dir);
	time_t		 t = latest_sync(s, u, in_dir);
	char		 lt[64];

	if (l->json) {
		char *dn = in_dir ? store_view_name(l->st, sync, key) : NULL;

		if (dn != NULL)
			name = dn;
		buf_adds(&l->out, n > l->offset ? ",{" : "{");
		json_kv(&l->out, "sync", sync);
		json_kv(&l->out, "employee_id", key);
		json_kv(&l->out, "email", email[0] ? email : NULL);
		json_kv(&l->out, "name", name[0] ? name : NULL);
		free(dn);
		json_kv(&l->out, "status", ustatus_names[us].slug);
		json_kv(&l->out, "status_label", ustatus_names[us].label);
		json_time(&l->out, "latest_sync", t);
		buf_addc(&l->out, '}');
		return;
	}
	time_local(t, lt, sizeof(lt));
	{
		const char *cell[] = { email[0] ? email : "-", key, lt, sync,
		    ustatus_names[us].label };

		table_row(user_cols, NUSER_COLS, cell);
	}
}

static int
time_ok(const struct ulist *l, time_t t)
{
	return !((l->since != (time_t)-1 && (t == 0 || t < l->since)) ||
	    (l->until != (time_t)-1 && (t == 0 || t >= l->until)));
}

static int
sync_ok(const struct ulist *l, const char *sync)
{
	return l->sync == NULL || strcmp(l->sync, sync) == 0;
}

/* Does email (in lower case) begin with --email's text? */
static int
email_prefix(const struct ulist *l, const char *email)
{
	return l->lo == NULL || strncmp(email, l->lo, l->lolen) == 0;
}

/* --email: the address begins with the text, or its domain does. */
static int
email_ok(struct ulist *l, const char *email)
{
	const char	*low, *at;
	size_t		 n;

	if (l->lo == NULL)
		return 1;
	low = email_lower(&l->scratch, email, strlen(email), &n);
	if (email_prefix(l, low))
		return 1;
	at = strchr(low, '@');
	return strncmp(at ? at + 1 : low, l->lo, l->lolen) == 0;
}

/* Is the sync's every user in the block? Its users are listed as they
 * come when one status is theirs (in progress, failing) or most have it
 * (Synced: the facts say who not). */
static void
block_syncs(struct ulist *l)
{
	struct vsync	*s;
	size_t		 i;

	l->all = 1;
	for (i = 0; i < l->f->nsy; i++) {
		s = &l->f->sy[i];
		s->block = s->users > 0 && sync_ok(l, s->name) &&
		    time_ok(l, s->applied_at) && (l->status < 0 ||
		    (int)user_status(s, NULL, 1) == l->status);
		if (s->users > 0 && !s->block)
			l->all = 0;
		l->any |= s->block;
		if (s->block)
			l->nblock += s->users;
	}
	if (!l->any)
		l->all = 0;
}

static int
in_block(struct ulist *l, const char *sync)
{
	struct vsync	*s;

	if (l->all)
		return 1;
	return (s = vsync_find(l->f, sync)) != NULL && s->block;
}

/*
 * The users the facts tell of: a key outside the directory is listed
 * apart; so is a user of another sync whose facts the status filter
 * takes; a user of the block whose status the filter refuses is taken
 * out. Users found by their domain only are the domain's (on_domain).
 */
static void
list_facts(struct ulist *l)
{
	struct vuser	*u;
	struct vsync	*s;
	enum ustatus	 us;
	char		*email;
	size_t		 i;

	for (i = 0; i < l->f->nu; i++) {
		u = &l->f->u[i];
		s = vsync_find(l->f, u->sync);
		if (u->flags & VU_EXTRA) {
			if (extra_listed(u) && sync_ok(l, u->sync) &&
			    email_ok(l, u->email) && time_ok(l, u->seen_at) &&
			    (l->status < 0 ||
			    (int)user_status(s, u, 0) == l->status))
				lrows_add(l, &l->extra, u->email, u->sync,
				    u->key, u->name, u, 0);
			continue;
		}
		if (s == NULL || s->in_progress > 0 || s->failing > 0 ||
		    (us = base_status(u, 1)) == US_SYNCED)
			continue;	/* as every user of the sync */
		if ((email = store_dir_email(l->st, u->sync, u->key)) == NULL)
			continue;	/* not in the directory */
		if (email_prefix(l, email)) {
			if (s->block && l->status >= 0 && (int)us != l->status)
				lrows_add(l, &l->gone, email, u->sync, u->key,
				    NULL, u, 1);
			else if (!s->block && sync_ok(l, u->sync) &&
			    time_ok(l, s->applied_at) && (int)us == l->status)
				lrows_add(l, &l->extra, email, u->sync,
				    u->key, NULL, u, 1);
		}
		free(email);
	}
}

/* A user whose domain begins with the text (and not the address). */
static int
on_domain(void *arg, const struct userrow *r)
{
	struct ulist	*l = arg;
	struct vsync	*s;
	struct vuser	*u;

	if (email_prefix(l, r->email) || !sync_ok(l, r->sync))
		return 0;
	s = vsync_find(l->f, r->sync);
	u = vuser_find(l->f, r->sync, r->key);
	if (time_ok(l, latest_sync(s, u, 1)) && (l->status < 0 ||
	    (int)user_status(s, u, 1) == l->status))
		lrows_add(l, &l->extra, r->email, r->sync, r->key, NULL, u, 1);
	return 0;
}

static int
on_page(void *arg, const char *prefix, size_t len, const char *sync,
    long long n)
{
	struct ulist	*l = arg;
	struct page	*p = l->npg ? &l->pg[l->npg - 1] : NULL;

	if (!in_block(l, sync))
		return 0;
	if (p == NULL || p->len != len || memcmp(p->prefix, prefix, len)) {
		l->pg = xrealloc(l->pg, (l->npg + 1) * sizeof(*l->pg));
		p = &l->pg[l->npg++];
		p->prefix = arena_strndup(&l->f->a, prefix, len);
		p->len = len;
		p->n = 0;
	}
	p->n += n;
	return 0;
}

static int
bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	 c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

/* The block users per email page, read once. */
static int
users_pages(struct ulist *l)
{
	if (l->paged)
		return 0;
	l->paged = 1;
	return store_view_pages(l->st, on_page, l);
}

struct counter {
	struct ulist	*l;
	const char	*e;		/* up to this email */
	size_t		 elen;
	long long	 n;
	long long	 max;		/* rows read at most, or 0 */
	int		 capped;	/* max rows read before e */
};

static int
on_count(void *arg, const struct userrow *r)
{
	struct counter	*c = arg;

	if (bytes_cmp(r->email, strlen(r->email), c->e, c->elen) >= 0)
		return 1;
	c->n += in_block(c->l, r->sync);
	if (c->max > 0 && --c->max == 0)
		return c->capped = 1;
	return 0;
}

/* Block users whose email is below e: the pages before e's, then a
 * walk of e's page; -1 on error. */
static long long
block_rank(struct ulist *l, const char *e, size_t elen)
{
	struct counter	 c = { l, e, elen, 0, 0, 0 };
	size_t		 plen = dirpage_len(e), i;

	if (users_pages(l) == -1)
		return -1;
	for (i = 0; i < l->npg; i++)
		if (bytes_cmp(l->pg[i].prefix, l->pg[i].len, e, plen) < 0)
			c.n += l->pg[i].n;
	if (store_view_walk(l->st, e, plen, 0, on_count, &c) == -1)
		return -1;
	return c.n;
}

/* The block users in lo's range: counted one by one when they are few,
 * else from the pages (a walk of at most two pages). */
static int
range_count(struct ulist *l)
{
	struct counter	 c = { l, l->hib.p, l->hib.len, 0, RANGE_WALK_MAX, 0 };
	long long	 b;

	if (store_view_walk(l->st, l->lo, l->lolen, 0, on_count, &c) == -1)
		return -1;
	if (!c.capped) {
		l->nblock = c.n;
		return 0;
	}
	if ((l->lorank = block_rank(l, l->lo, l->lolen)) < 0 ||
	    (b = block_rank(l, l->hib.p, l->hib.len)) < 0)
		return -1;
	l->nblock = b - l->lorank;
	return 0;
}

/* How many the list has: the block (in lo's range), less the rows taken
 * out, with the rows listed apart. */
static int
users_count(struct ulist *l)
{
	if (l->any && l->lo != NULL && range_count(l) == -1)
		return -1;
	l->total = l->nblock - (long long)l->gone.n + (long long)l->extra.n;
	return 0;
}

/* The list from a place in the block, merged with the rows apart. */
struct merge {
	struct ulist	*l;
	long long	 skip;		/* block users to pass first */
	long long	 t;		/* the block index of the first one read */
	long long	 left;		/* block users from there on */
	long long	 pos;		/* the list index of the next row */
	size_t		 ei, gi;	/* next row apart, next taken out */
	int		 started;
	int		 full;		/* the page is */
};

/* Row n of the list: printed when on the page; 1 once the page is full. */
static int
emit(struct merge *m, const struct lrow *r)
{
	struct ulist	*l = m->l;
	long long	 n = m->pos++;

	if (n >= l->offset && n < l->offset + l->limit)
		print_user(l, n, r->sync, r->key, r->email, r->name, r->u,
		    r->in_dir);
	return m->full = m->pos >= l->offset + l->limit;
}

static int
lrow_cmp_row(const struct lrow *x, const struct userrow *r)
{
	return row_cmp(x->email, x->sync, x->key, r->email, r->sync, r->key);
}

static int
lrow_before(const struct lrow *x, const struct userrow *r)
{
	return lrow_cmp_row(x, r) < 0;
}

static int
on_merge(void *arg, const struct userrow *r)
{
	struct merge	*m = arg;
	struct ulist	*l = m->l;
	struct lrow	 b;

	if (!in_block(l, r->sync))
		return 0;
	if (m->skip > 0) {
		m->skip--;
		return 0;
	}
	if (!email_prefix(l, r->email))
		return 1;	/* past lo's range */
	if (!m->started) {
		/* Rows apart before the start are before the page: t is at
		 * least the page's start less every row apart. */
		m->started = 1;
		if (m->t > 0) {
			m->gi = lrows_below(&l->gone, r);
			m->ei = lrows_below(&l->extra, r);
			m->pos = m->t - (long long)m->gi + (long long)m->ei;
		}
	}
	m->left--;
	while (m->gi < l->gone.n && lrow_before(&l->gone.r[m->gi], r))
		m->gi++;
	if (m->gi < l->gone.n && !lrow_cmp_row(&l->gone.r[m->gi], r)) {
		m->gi++;
		return m->left <= 0;
	}
	while (m->ei < l->extra.n && lrow_before(&l->extra.r[m->ei], r))
		if (emit(m, &l->extra.r[m->ei++]))
			return 1;
	b.email = r->email;
	b.sync = r->sync;
	b.key = r->key;
	b.name = "";
	b.u = vuser_find(l->f, r->sync, r->key);
	b.in_dir = 1;
	return emit(m, &b) || m->left <= 0;
}

/*
 * The page: the block from t, its place less the rows apart (none of
 * them can be after the page's start), found by the email pages; a walk
 * reads at most one page of the directory before its first row.
 */
static int
users_page(struct ulist *l)
{
	struct merge	 m;
	long long	 t, g, cum = 0, k = 0;
	const char	*from = l->lo;
	size_t		 fromlen = l->lolen, i;
	int		 rc;

	memset(&m, 0, sizeof(m));
	m.l = l;
	if (l->offset >= l->total)
		return 0;
	t = l->offset - (long long)l->extra.n;
	m.t = t = t > 0 ? t : 0;
	m.left = l->nblock - t;
	if (l->nblock > 0 && t > 0) {
		if (users_pages(l) == -1 || (l->lo != NULL && l->lorank < 0 &&
		    (l->lorank = block_rank(l, l->lo, l->lolen)) < 0))
			return -1;
		g = (l->lo != NULL ? l->lorank : 0) + t;
		for (i = 0; i < l->npg && cum + l->pg[i].n <= g; i++)
			cum += l->pg[i].n;
		if (i < l->npg) {	/* else the counts are off: from lo */
			from = l->pg[i].len ? l->pg[i].prefix : NULL;
			fromlen = l->pg[i].len;
			k = g - cum;
		} else
			k = t;
	}
	if (m.left > 0) {
		if (!l->all) {
			m.skip = k;
			k = 0;
		}
		rc = store_view_walk(l->st, from, fromlen, k, on_merge, &m);
		if (rc == -1)
			return -1;
	}
	/* The block is done: what is apart after it. */
	while (!m.full && m.ei < l->extra.n)
		emit(&m, &l->extra.r[m.ei++]);
	return 0;
}

static int
users_options(int argc, char **argv, struct ulist *l)
{
	static const struct option lo[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "status", required_argument, NULL, 'S' },
		{ "sync", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'a' },
		{ "until", required_argument, NULL, 'b' },
		{ "page", required_argument, NULL, 'p' },
		{ "per-page", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int	 c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'e': l->email = optarg; break;
		case 's': l->sync = optarg; break;
		case 'a': if (parse_when(optarg, &l->since, 0)) return -1; break;
		case 'b': if (parse_when(optarg, &l->until, 1)) return -1; break;
		case 'j': l->json = 1; break;
		case 'S':
			if ((l->status = ustatus_parse(optarg)) < 0) {
				log_warnx("unknown user status '%s' (never_synced"
				    ", synced, in_progress, "
				    "completed_with_warning, failed)", optarg);
				return -1;
			}
			break;
		case 'p':
		case 'n':
			if (page_option(c, optarg, &l->page, &l->limit) == -1)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static void
users_footer(struct ulist *l)
{
	page_footer(l->json, &l->out, l->total, l->offset, l->limit, l->page);
}

/* --email's text in lower case (as the loader keeps emails) and the end
 * of its range: the text and a 0xff byte, above any text it begins. */
static void
email_range(struct ulist *l)
{
	size_t	 n;

	if (l->email == NULL || l->email[0] == '\0')
		return;
	l->lo = email_lower(&l->lob, l->email, strlen(l->email), &n);
	l->lolen = n;
	buf_add(&l->hib, l->lo, n);
	buf_addc(&l->hib, 0xff);
}

/* The rows apart and taken out, in list order; -1 on a database error. */
static int
users_apart(struct ulist *l)
{
	list_facts(l);
	if (l->lo != NULL && store_view_domain(l->st, l->lo, l->lolen,
	    l->hib.p, l->hib.len, on_domain, l) == -1)
		return -1;
	if (l->extra.n > 1)
		qsort(l->extra.r, l->extra.n, sizeof(*l->extra.r), lrow_cmp);
	if (l->gone.n > 1)
		qsort(l->gone.r, l->gone.n, sizeof(*l->gone.r), lrow_cmp);
	return 0;
}

static void
ulist_free(struct ulist *l)
{
	buf_free(&l->out);
	buf_free(&l->lob);
	buf_free(&l->hib);
	buf_free(&l->scratch);
	free(l->extra.r);
	free(l->gone.r);
	free(l->pg);
}

int
cmd_users(struct config *cfg, int argc, char **argv)
{
	struct ulist	 l;
	struct facts	 f;
	struct store	*st = NULL;
	int		 rc = EXIT_FAIL;

	memset(&l, 0, sizeof(l));
	memset(&f, 0, sizeof(f));
	l.lorank = -1;
	l.status = -1;
	l.since = l.until = (time_t)-1;
	l.page = 1;
	l.limit = PAGE_DEFAULT;
	if (users_options(argc, argv, &l) == -1) {
		log_warnx("usage: rostersync users [--email TEXT] [--status ST]"
		    " [--sync S] [--since DATE] [--until DATE] [--page N] "
		    "[--per-page N] [--json]");
		return EXIT_USAGE;
	}
	l.offset = (l.page - 1) * l.limit;
	l.f = &f;
	email_range(&l);
	if (l.json)
		buf_adds(&l.out, "{\"users\":[");
	else
		table_head(user_cols, NUSER_COLS);
	if (no_database(cfg)) {
		users_footer(&l);
		ulist_free(&l);
		return EXIT_OK;
	}
	if ((st = view_open(cfg)) == NULL)
		goto out;
	l.st = st;
	if (store_read_begin(st) == -1 || facts_load(&f, cfg, st, 1) == -1)
		goto dberr;
	block_syncs(&l);
	if (users_apart(&l) == -1 || users_count(&l) == -1 ||
	    users_page(&l) == -1)
		goto dberr;
	users_footer(&l);
	rc = EXIT_OK;
	goto out;
dberr:
	log_warnx("cannot read the users: %s", store_errmsg(st));
out:
	if (st != NULL) {
		store_read_end(st);
		store_close(st);
	}
	facts_free(&f);
	ulist_free(&l);
	return rc;
}

/* --------------------------------------------------------------- user */

struct hchg {
	const char	*field, *old, *new;
	struct hchg	*next;
};

struct hitem {
	long long	 seq;
	int		 type, status;	/* enum itemtype, enum itemstatus */
	const char	*error;
	struct hchg	*chg, **chgtail;
	struct hitem	*next;
};

struct hissue {
	long long	 seq;
	int		 type;		/* enum issuetype */
	long long	 row;
	const char	*field, *message, *fix;
	struct hissue	*next;
};

/* One run that touched the user (moved by realloc: no inner pointers). */
struct hrun {
	struct run	 r;
	struct hitem	*items, *lastitem;
	size_t		 nitems;
	struct hissue	*issues, *lastissue;
};

/* The user the command is about, and what happened to them. */
struct uview {
	struct facts	*f;
	struct arena	*a;
	const char	*sync, *key, *email, *name;
	const char	*manager, *team, *fields;
	int		 active;
	int		 in_dir;
	struct vuser	*u;		/* &own */
	struct vuser	 own;		/* the user's facts, from the history */
	struct vsync	*s;
	struct hrun	*runs;		/* newest first once sorted */
	size_t		 nruns;
};

/* Several users may match: collected here. */
struct matches {
	struct arena	*a;
	struct userrow	*m;
	size_t		 n;
};

static const char *
adup(struct arena *a, const char *s)
{
	return s == NULL ? NULL : arena_strndup(a, s, strlen(s));
}

static int
on_match(void *arg, const struct userrow *r)
{
	struct matches	*m = arg;
	struct userrow	*d;

	m->m = xrealloc(m->m, (m->n + 1) * sizeof(*m->m));
	d = &m->m[m->n++];
	d->sync = adup(m->a, r->sync);
	d->key = adup(m->a, r->key);
	d->email = adup(m->a, r->email);
	d->name = adup(m->a, r->name);
	d->manager = adup(m->a, r->manager);
	d->team = adup(m->a, r->team);
	d->fields = adup(m->a, r->fields);
	d->active = r->active;
	return 0;
}

/* Keys outside the directory that match too (active = -1 marks them);
 * whether they are listed is for their history to say. */
static void
match_extras(struct facts *f, struct matches *m, const char *text,
    const char *sync)
{
	struct userrow	 r;
	size_t		 i;

	for (i = 0; i < f->nu; i++) {
		const struct vuser *u = &f->u[i];

		if (!(u->flags & VU_EXTRA) ||
		    (sync && strcmp(sync, u->sync) != 0) ||
		    (strcmp(u->key, text) != 0 &&
		    (u->email[0] == '\0' || strcasecmp(u->email, text) != 0)))
			continue;
		memset(&r, 0, sizeof(r));
		r.sync = u->sync;
		r.key = u->key;
		r.email = u->email;
		r.name = u->name;
		r.active = -1;
		on_match(m, &r);
	}
}

static struct hrun *
hrun_get(struct uview *v, long long run)
{
	struct hrun	*h;
	size_t		 i;

	for (i = v->nruns; i > 0; i--)
		if (v->runs[i - 1].r.id == run)
			return &v->runs[i - 1];
	v->runs = xrealloc(v->runs, (v->nruns + 1) * sizeof(*v->runs));
	h = &v->runs[v->nruns++];
	memset(h, 0, sizeof(*h));
	h->r.id = run;
	return h;
}

static int
on_hist_item(void *arg, long long run, const struct itemview *iv)
{
	struct uview	*v = arg;
	struct hrun	*h = hrun_get(v, run);
	struct hitem	*it;
	struct hchg	*c;

	if ((it = h->lastitem) == NULL || it->seq != iv->seq) {
		it = arena_alloc(v->a, sizeof(*it));
		memset(it, 0, sizeof(*it));
		it->seq = iv->seq;
		it->type = iv->type;
		it->status = iv->status;
		it->error = iv->error[0] ? adup(v->a, iv->error) : NULL;
		it->chgtail = &it->chg;
		if (h->lastitem != NULL)
			h->lastitem->next = it;
		else
			h->items = it;
		h->lastitem = it;
		h->nitems++;
	}
	if (iv->field != NULL) {
		c = arena_alloc(v->a, sizeof(*c));
		c->field = adup(v->a, iv->field);
		c->old = adup(v->a, iv->old);
		c->new = adup(v->a, iv->new);
		c->next = NULL;
		*it->chgtail = c;
		it->chgtail = &c->next;
	}
	return 0;
}

static int
on_hist_issue(void *arg, long long run, const struct issueview *iv)
{
	struct uview	*v = arg;
	struct hrun	*h = hrun_get(v, run);
	struct hissue	*is;

	is = arena_alloc(v->a, sizeof(*is));
	memset(is, 0, sizeof(*is));
	is->seq = iv->seq;
	is->type = iv->type;
	is->row = iv->row;
	is->field = adup(v->a, iv->field);
	is->message = adup(v->a, iv->message);
	is->fix = adup(v->a, iv->fix);
	if (h->lastissue != NULL)
		h->lastissue->next = is;
	else
		h->issues = is;
	h->lastissue = is;
	return 0;
}

static int
hrun_cmp(const void *a, const void *b)
{
	const struct hrun *x = a, *y = b;

	if (x->r.started != y->r.started)
		return x->r.started > y->r.started ? -1 : 1;
	return x->r.id > y->r.id ? -1 : x->r.id < y->r.id;
}

/* Every run that touched the user, newest first, with its items. */
static int
load_history(struct uview *v, struct store *st)
{
	size_t	 i;
	long long id;

	if (store_view_user_items(st, v->sync, v->key, on_hist_item, v) == -1 ||
	    store_view_user_issues(st, v->sync, v->key, on_hist_issue, v) == -1)
		return -1;
	for (i = 0; i < v->nruns; i++) {
		id = v->runs[i].r.id;
		if (store_run_get(st, id, &v->runs[i].r) != 0) {
			memset(&v->runs[i].r, 0, sizeof(v->runs[i].r));
			v->runs[i].r.id = id;
			v->runs[i].r.status = RS_FAILED;
		}
	}
	if (v->nruns > 1)
		qsort(v->runs, v->nruns, sizeof(*v->runs), hrun_cmp);
	return 0;
}

/* Is this failed item still unresolved (nothing later applied it)? */
static int
unresolved(const struct uview *v, const struct hrun *h,
    const struct hitem *it)
{
	const struct hitem	*o;
	size_t			 i;

	if (it->status != IST_FAILED || h->r.dry_run)
		return 0;
	for (i = 0; i < v->nruns; i++) {
		if (v->runs[i].r.id <= h->r.id || v->runs[i].r.dry_run)
			continue;
		for (o = v->runs[i].items; o != NULL; o = o->next)
			if (o->type == it->type && (o->status == IST_APPLIED ||
			    o->status == IST_CONFIRMED))
				return 0;
	}
	return 1;
}

/* The user_skipped issue of the latest applied export run, or NULL. */
static const struct hissue *
skipped_issue(const struct uview *v, long long *run)
{
	const struct hissue	*is;
	size_t			 i;

	if (v->s == NULL || v->s->applied == 0)
		return NULL;
	for (i = 0; i < v->nruns; i++) {
		if (v->runs[i].r.id != v->s->applied)
			continue;
		for (is = v->runs[i].issues; is != NULL; is = is->next)
			if (is->type == ISS_USER_SKIPPED) {
				*run = v->runs[i].r.id;
				return is;
			}
	}
	return NULL;
}

/* The latest run that touched the user, preferring real runs to dry ones. */
static const struct hrun *
last_activity(const struct uview *v)
{
	size_t	 i;

	for (i = 0; i < v->nruns; i++)
		if (!v->runs[i].r.dry_run)
			return &v->runs[i];
	return v->nruns > 0 ? &v->runs[0] : NULL;
}

static void
print_field(void *arg, const char *k, const char *val, size_t len)
{
	(void)arg;
	text_printf("  %-24s %.*s\n", k, (int)len, val);
}

static void
json_field(void *arg, const char *k, const char *val, size_t len)
{
	struct buf	*b = arg;

	if (b->p[b->len - 1] != '{')
		buf_addc(b, ',');
	json_str(b, k, strlen(k));
	buf_addc(b, ':');
	json_str(b, val, len);
}

static void
text_identity(const struct uview *v)
{
	text_printf("User %s (sync %s)\n\nSource (as the export had it)\n",
	    v->key, v->sync);
	if (v->fields == NULL || json_flat_each(v->fields, print_field,
	    NULL) == -1)
		text_printf("  not applied: nothing from the export is "
		    "stored\n");
	text_printf("\nDirectory\n");
	if (!v->in_dir) {
		text_printf("  not in the directory\n");
		return;
	}
	text_printf("  %-24s %s\n  %-24s %s\n  %-24s %s\n  %-24s %s\n"
	    "  %-24s %s\n  %-24s %s\n", "Employee id", v->key, "Email",
	    v->email, "Name", v->name, "Manager",
	    v->manager[0] ? v->manager : "-", "Team",
	    v->team[0] ? v->team : "-", "State",
	    v->active ? "active" : "inactive (deactivated)");
}

static void
text_overview(struct uview *v, const struct config *cfg)
{
	enum ustatus	 us = user_status(v->s, v->u, v->in_dir);
	const char	*how;
	time_t		 next;
	char		 t[64];

	text_printf("\nOverview\n  %-24s %s\n  %-24s %s (%s)\n", "Sync status",
	    ustatus_names[us].label, "Sync", v->sync, sync_state(v->s));
	time_local(latest_sync(v->s, v->u, v->in_dir), t, sizeof(t));
	text_printf("  %-24s %s\n", "Latest sync", t);
	next = next_scheduled(v->f, cfg, v->s, &how);
	if (next != 0) {
		time_local(next, t, sizeof(t));
		text_printf("  %-24s %s (%s)\n", "Next scheduled sync", t, how);
	} else
		text_printf("  %-24s none: %s\n", "Next scheduled sync", how);
}

/* The sync's latest run Failed: the user's latest sync did too. */
static void
text_sync_failure(const struct vsync *s)
{
	char	 a[64], b[64];

	if (s == NULL || s->failing == 0)
		return;
	time_local(s->fail_since, a, sizeof(a));
	time_local(s->fail_last, b, sizeof(b));
	text_printf("  run %lld: the sync failed: %s\n", s->failing,
	    s->fail_error);
	if (s->fail_count > 1)
		text_printf("    failed %lld times in a row since %s, last at "
		    "%s\n", s->fail_count, a, b);
	if (s->fail_hint != NULL)
		text_printf("    what to do: %s\n", s->fail_hint);
}

/* The alert while failures are unresolved, and what failed (View errors). */
static void
text_failures(const struct uview *v)
{
	const struct hissue	*skip;
	const struct hitem	*it;
	long long		 nfail = failure_count(v->s, v->u), skiprun = 0;
	size_t			 i;

	if (nfail == 0)
		return;
	text_printf("\n%lld sync failure%s detected\n", nfail, nfail == 1 ? "" :
	    "s");
	text_sync_failure(v->s);
	for (i = 0; i < v->nruns; i++)
		for (it = v->runs[i].items; it != NULL; it = it->next)
			if (unresolved(v, &v->runs[i], it))
				text_printf("  run %lld item %lld: %s failed: "
				    "%s (rostersync retry %lld %lld)\n",
				    v->runs[i].r.id, it->seq,
				    itemtype_label(it->type), it->error ?
				    it->error : "no error recorded",
				    v->runs[i].r.id, it->seq);
	if ((skip = skipped_issue(v, &skiprun)) != NULL)
		text_printf("  run %lld skipped the row: %s (fix: %s)\n",
		    skiprun, skip->message, skip->fix);
}

static void
text_activity(const struct uview *v)
{
	const struct hrun	*last = last_activity(v);
	char			 t[64];

	text_printf("\nLast sync activity\n");
	if (last == NULL) {
		text_printf("  none\n");
		return;
	}
	time_local(last->r.started, t, sizeof(t));
	text_printf("  %-24s %lld%s\n  %-24s %s\n  %-24s %zu\n  %-24s %s\n",
	    "Run", last->r.id, last->r.dry_run ? " (dry run)" : "", "Time", t,
	    "Changes processed", last->nitems, "Status",
	    runstatus_label(last->r.status));
}

/* A run's changes for the user, per service (the per-service
 * detail): those the directory took, and what the apply hook did. */
struct services {
	long long	 changes;	/* the user's items in the run */
	long long	 dir;		/* applied to the directory */
	long long	 hook[3];	/* applied, failed, pending by the hook */
	const char	*hook_name;	/* NULL: the sync has no hook */
};

static void
services(const struct uview *v, const struct hrun *h, struct services *sv)
{
	const struct hitem	*it;

	memset(sv, 0, sizeof(*sv));
	if (v->s != NULL && v->s->cf != NULL && v->s->cf->hook.argv != NULL)
		sv->hook_name = v->s->cf->hook.name;
	for (it = h->items; it != NULL; it = it->next) {
		sv->changes++;
		if (it->status == IST_APPLIED || it->status == IST_CONFIRMED)
			sv->dir++;
		if (it->status == IST_APPLIED)
			sv->hook[0]++;
		else if (it->status == IST_FAILED)
			sv->hook[1]++;
		else if (it->status == IST_PENDING)
			sv->hook[2]++;
	}
}

static void
text_services(const struct uview *v, const struct hrun *h)
{
	struct services	 sv;
	char		 label[96];

	services(v, h, &sv);
	if (sv.changes == 0)
		return;
	text_printf("    %-24s %lld of %lld change%s applied\n",
	    "In the directory", sv.dir, sv.changes, sv.changes == 1 ? "" :
	    "s");
	if (sv.hook_name == NULL)
		return;
	snprintf(label, sizeof(label), "%s (apply hook)", sv.hook_name);
	text_printf("    %-24s %lld applied, %lld failed, %lld pending\n", label,
	    sv.hook[0], sv.hook[1], sv.hook[2]);
}

static void
text_history(const struct uview *v)
{
	const struct hrun	*h;
	const struct hitem	*it;
	const struct hissue	*is;
	const struct hchg	*c;
	char			 t[64];
	size_t			 i;

	text_printf("\nHistory (%zu run%s)\n", v->nruns, v->nruns == 1 ? "" :
	    "s");
	for (i = 0; i < v->nruns; i++) {
		h = &v->runs[i];
		time_local(h->r.started, t, sizeof(t));
		text_printf("  Run %lld  %s  %s%s (%s)\n", h->r.id, t,
		    runstatus_label(h->r.status), h->r.dry_run ? " (dry run)" :
		    "", h->r.trigger ? h->r.trigger : "");
		text_services(v, h);
		for (it = h->items; it != NULL; it = it->next) {
			text_printf("    %-24s %s%s%s\n",
			    itemtype_label(it->type),
			    itemstatus_slug(it->status), it->error ? ": " : "",
			    it->error ? it->error : "");
			for (c = it->chg; c != NULL; c = c->next)
				text_printf("      %-22s %s -> %s\n", c->field,
				    c->old[0] ? c->old : "\"\"",
				    c->new[0] ? c->new : "\"\"");
		}
		for (is = h->issues; is != NULL; is = is->next)
			text_printf("    %-24s row %lld%s%s: %s (fix: %s)\n",
			    issuetype_label(is->type), is->row,
			    is->field[0] ? ", " : "", is->field, is->message,
			    is->fix);
	}
}

/* The detail panel of one user, as text. */
static void
user_text(struct uview *v, const struct config *cfg)
{
	text_identity(v);
	text_overview(v, cfg);
	text_failures(v);
	text_activity(v);
	text_history(v);
}

/* "services":[{"name":"directory",...},{"name":HOOK,"hook":true,...}] */
static void
json_services(struct buf *b, const struct uview *v, const struct hrun *h)
{
	struct services	 sv;

	services(v, h, &sv);
	buf_adds(b, ",\"services\":[{");
	json_kv(b, "name", "directory");
	jbool(b, "hook", 0);
	jnum(b, "changes", sv.changes);
	jnum(b, "applied", sv.dir);
	buf_addc(b, '}');
	if (sv.hook_name != NULL) {
		buf_adds(b, ",{");
		json_kv(b, "name", sv.hook_name);
		jbool(b, "hook", 1);
		jnum(b, "changes", sv.changes);
		jnum(b, "applied", sv.hook[0]);
		jnum(b, "failed", sv.hook[1]);
		jnum(b, "pending", sv.hook[2]);
		buf_addc(b, '}');
	}
	buf_addc(b, ']');
}

static void
json_history(struct buf *b, const struct uview *v)
{
	const struct hrun	*h;
	const struct hitem	*it;
	const struct hissue	*is;
	const struct hchg	*c;
	size_t			 i;

	buf_adds(b, ",\"history\":[");
	for (i = 0; i < v->nruns; i++) {
		h = &v->runs[i];
		buf_adds(b, i ? ",{" : "{");
		jnum(b, "run", h->r.id);
		json_time(b, "started", h->r.started);
		json_time(b, "finished", h->r.finished);
		json_kv(b, "status", runstatus_slug(h->r.status));
		json_kv(b, "status_label", runstatus_label(h->r.status));
		json_kv(b, "trigger", h->r.trigger);
		jbool(b, "dry_run", h->r.dry_run);
		json_services(b, v, h);
		buf_adds(b, ",\"items\":[");
		for (it = h->items; it != NULL; it = it->next) {
			buf_addc(b, '{');
			jnum(b, "seq", it->seq);
			json_kv(b, "type", itemtype_slug(it->type));
			json_kv(b, "status", itemstatus_slug(it->status));
			json_kv(b, "error", it->error);
			buf_adds(b, ",\"changes\":[");
			for (c = it->chg; c != NULL; c = c->next) {
				buf_addc(b, '{');
				json_kv(b, "field", c->field);
				json_kv(b, "old", c->old);
				json_kv(b, "new", c->new);
				buf_adds(b, c->next ? "}," : "}");
			}
			buf_adds(b, it->next ? "]}," : "]}");
		}
		buf_adds(b, "],\"issues\":[");
		for (is = h->issues; is != NULL; is = is->next) {
			buf_addc(b, '{');
			jnum(b, "seq", is->seq);
			json_kv(b, "type", issuetype_slug(is->type));
			jnum(b, "row", is->row);
			json_kv(b, "field", is->field[0] ? is->field : NULL);
			json_kv(b, "message", is->message);
			json_kv(b, "fix", is->fix);
			buf_adds(b, is->next ? "}," : "}");
		}
		buf_adds(b, "]}");
	}
	buf_addc(b, ']');
}

/* "source" (the export's fields) and "directory", or null. */
static void
json_identity(struct buf *b, const struct uview *v)
{
	size_t	 mark;

	json_kv(b, "sync", v->sync);
	json_kv(b, "employee_id", v->key);
	json_kv(b, "email", v->email && v->email[0] ? v->email : NULL);
	json_kv(b, "name", v->name && v->name[0] ? v->name : NULL);
	buf_adds(b, ",\"source\":");
	mark = b->len;
	buf_addc(b, '{');
	if (v->fields == NULL || json_flat_each(v->fields, json_field,
	    b) == -1) {
		b->len = mark;
		buf_adds(b, "null");
	} else
		buf_addc(b, '}');
	buf_adds(b, ",\"directory\":");
	if (!v->in_dir) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '{');
	json_kv(b, "employee_id", v->key);
	json_kv(b, "email", v->email);
	json_kv(b, "name", v->name);
	json_kv(b, "manager", v->manager[0] ? v->manager : NULL);
	json_kv(b, "team", v->team[0] ? v->team : NULL);
	jbool(b, "active", v->active);
	buf_addc(b, '}');
}

static void
json_overview(struct buf *b, struct uview *v, const struct config *cfg)
{
	enum ustatus	 us = user_status(v->s, v->u, v->in_dir);
	const char	*how;
	time_t		 next = next_scheduled(v->f, cfg, v->s, &how);

	json_kv(b, "status", ustatus_names[us].slug);
	json_kv(b, "status_label", ustatus_names[us].label);
	jbool(b, "sync_active", v->s && v->s->cf && v->s->cf->enabled);
	json_time(b, "latest_sync", latest_sync(v->s, v->u, v->in_dir));
	json_time(b, "next_sync", next);
	json_kv(b, "next_sync_how", how);
}

/* "sync_failure": the sync's latest run when it Failed, or null. */
static void
json_sync_failure(struct buf *b, const struct vsync *s)
{
	buf_adds(b, ",\"sync_failure\":");
	if (s == NULL || s->failing == 0) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '{');
	jnum(b, "run", s->failing);
	json_kv(b, "error", s->fail_error);
	json_kv(b, "hint", s->fail_hint);
	jnum(b, "failures", s->fail_count);
	json_time(b, "since", s->fail_since);
	json_time(b, "last", s->fail_last);
	buf_addc(b, '}');
}

static void
json_failures(struct buf *b, const struct uview *v)
{
	const struct hissue	*skip;
	const struct hitem	*it;
	long long		 skiprun = 0;
	size_t			 i;
	int			 n = 0;

	jnum(b, "failures", failure_count(v->s, v->u));
	json_sync_failure(b, v->s);
	buf_adds(b, ",\"failed_items\":[");
	for (i = 0; i < v->nruns; i++)
		for (it = v->runs[i].items; it != NULL; it = it->next) {
			if (!unresolved(v, &v->runs[i], it))
				continue;
			buf_adds(b, n++ ? ",{" : "{");
			jnum(b, "run", v->runs[i].r.id);
			jnum(b, "seq", it->seq);
			json_kv(b, "type", itemtype_slug(it->type));
			json_kv(b, "error", it->error);
			buf_addc(b, '}');
		}
	buf_adds(b, "],\"skipped\":");
	if ((skip = skipped_issue(v, &skiprun)) == NULL) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '{');
	jnum(b, "run", skiprun);
	jnum(b, "row", skip->row);
	json_kv(b, "field", skip->field[0] ? skip->field : NULL);
	json_kv(b, "message", skip->message);
	json_kv(b, "fix", skip->fix);
	buf_addc(b, '}');
}

static void
json_activity(struct buf *b, const struct uview *v)
{
	const struct hrun	*last = last_activity(v);

	buf_adds(b, ",\"last_activity\":");
	if (last == NULL) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '{');
	jnum(b, "run", last->r.id);
	json_time(b, "started", last->r.started);
	json_time(b, "finished", last->r.finished);
	jnum(b, "changes", (long long)last->nitems);
	json_kv(b, "status", runstatus_slug(last->r.status));
	json_kv(b, "status_label", runstatus_label(last->r.status));
	jbool(b, "dry_run", last->r.dry_run);
	buf_addc(b, '}');
}

/* The detail panel as one JSON object (README.md). */
static void
user_json(struct uview *v, const struct config *cfg)
{
	struct buf	 b = { 0 };

	buf_addc(&b, '{');
	json_identity(&b, v);
	json_overview(&b, v, cfg);
	json_failures(&b, v);
	json_activity(&b, v);
	json_history(&b, v);
	buf_adds(&b, "}\n");
	fputs(b.p, stdout);
	buf_free(&b);
}

/*
 * The user's facts from their history (every run that named them): the
 * failed items nothing later applied, the row the sync's latest applied
 * export run skipped, and a warning of an applied export run no later
 * one named them in. For a key outside the directory, what the extras
 * query said too (its email, name, when it was seen, gone). -1 on error.
 */
static int
user_facts(struct uview *v, struct store *st)
{
	const struct vuser	*x = vuser_find(v->f, v->sync, v->key);
	struct vuser		*u = &v->own;
	const struct hitem	*it;
	const struct hissue	*is;
	long long		 skiprun;
	size_t			 i;
	int			 ex;

	if (x != NULL && (x->flags & VU_EXTRA))
		*u = *x;
	u->failures = u->warn_run = u->touch_run = 0;
	u->flags &= ~(unsigned)VU_SKIPPED;
	v->u = u;
	for (i = 0; i < v->nruns; i++) {
		for (it = v->runs[i].items; it != NULL; it = it->next)
			u->failures += unresolved(v, &v->runs[i], it);
		if ((ex = store_view_exported(st, v->runs[i].r.id)) == -1)
			return -1;
		if (!ex)
			continue;
		if (v->runs[i].r.id > u->touch_run)
			u->touch_run = v->runs[i].r.id;
		for (is = v->runs[i].issues; is != NULL; is = is->next)
			if ((is->type == ISS_MANAGER_NOT_FOUND ||
			    is->type == ISS_MANAGER_CYCLE ||
			    is->type == ISS_SEAT_LIMIT) &&
			    v->runs[i].r.id > u->warn_run)
				u->warn_run = v->runs[i].r.id;
	}
	if (skipped_issue(v, &skiprun) != NULL)
		u->flags |= VU_SKIPPED;
	return 0;
}

/* The view of match r: its history read and its facts made. */
static int
uview_load(struct uview *v, struct facts *f, struct arena *a,
    const struct userrow *r, struct store *st)
{
	memset(v, 0, sizeof(*v));
	v->f = f;
	v->a = a;
	v->sync = r->sync;
	v->key = r->key;
	v->email = r->email;
	v->name = r->name;
	v->manager = r->manager;
	v->team = r->team;
	v->fields = r->fields;
	v->active = r->active;
	v->in_dir = r->active >= 0;
	v->s = vsync_find(f, v->sync);
	if (load_history(v, st) == -1 || user_facts(v, st) == -1)
		return -1;
	return 0;
}

/* Exactly one user matches, or say why not: 0, else the exit status. */
static int
pick_user(const struct uview *v, size_t n, const char *text,
    const char *sync)
{
	size_t	 i;

	if (n == 1)
		return 0;
	if (n == 0) {
		log_warnx("no user with the email or employee id '%s'%s%s "
		    "(rostersync users --email TEXT searches)", text,
		    sync ? " in sync " : "", sync ? sync : "");
		return EXIT_FAIL;
	}
	log_warnx("%zu users match '%s'; name the sync with --sync:", n,
	    text);
	for (i = 0; i < n; i++)
		fprintf(stderr, "  --sync %-12s %-12s %-32s %s\n",
		    v[i].sync, v[i].key, v[i].email,
		    ustatus_names[user_status(v[i].s, v[i].u, v[i].in_dir)]
		    .label);
	return EXIT_USAGE;
}

static void
uview_free(struct uview *v)
{
	size_t	 i;

	for (i = 0; i < v->nruns; i++)
		run_free(&v->runs[i].r);
	free(v->runs);
	v->runs = NULL;
	v->nruns = 0;
}

/* A view per match; a key outside the directory that left it (nothing
 * failed or warned since) is no match. */
static int
user_matches(struct matches *m, struct facts *f, struct arena *a,
    struct store *st, struct uview **vp, size_t *np)
{
	struct uview	*v = xcalloc(m->n + 1, sizeof(*v));
	size_t		 i, n = 0;

	*vp = v;
	for (i = 0; i < m->n; i++) {
		if (uview_load(&v[n], f, a, &m->m[i], st) == -1) {
			uview_free(&v[n]);
			*np = n;
			return -1;
		}
		if (!v[n].in_dir && !extra_listed(v[n].u))
			uview_free(&v[n]);
		else
			n++;
	}
	*np = n;
	return 0;
}

int
cmd_user(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sync", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct facts	 f;
	struct arena	 a = { 0 };
	struct matches	 m = { 0 };
	struct uview	*v = NULL;
	struct store	*st = NULL;
	const char	*sync = NULL, *text;
	size_t		 i, nv = 0;
	int		 c, json = 0, rc = EXIT_FAIL;

	memset(&f, 0, sizeof(f));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 's')
			sync = optarg;
		else if (c == 'j')
			json = 1;
		else
			break;
	}
	if (c != -1 || optind + 1 != argc) {
		log_warnx("usage: rostersync user EMAIL|ID [--sync S] [--json]");
		return EXIT_USAGE;
	}
	text = argv[optind];
	if (no_database(cfg)) {
		log_warnx("no user with the email or employee id '%s': nothing "
		    "has run yet (no database at %s)", text, cfg->database);
		return EXIT_FAIL;
	}
	if ((st = view_open(cfg)) == NULL)
		return EXIT_FAIL;
	m.a = &a;
	if (store_read_begin(st) == -1 || facts_load(&f, cfg, st, 0) == -1 ||
	    store_view_find(st, text, sync, on_match, &m) == -1)
		goto dberr;
	match_extras(&f, &m, text, sync);
	if (user_matches(&m, &f, &a, st, &v, &nv) == -1)
		goto dberr;
	if ((rc = pick_user(v, nv, text, sync)) != 0)
		goto out;
	if (json)
		user_json(&v[0], cfg);
	else
		user_text(&v[0], cfg);
	rc = EXIT_OK;
	goto out;
dberr:
	log_warnx("cannot read the user: %s", store_errmsg(st));
out:
	for (i = 0; i < nv; i++)
		uview_free(&v[i]);
	free(v);
	store_read_end(st);
	store_close(st);
	facts_free(&f);
	free(m.m);
	arena_free(&a);
	return rc;
}

/* ------------------------------------------------------------- status */

/* Failed users per sync (as `users --status failed` counts them). Of a
 * sync whose latest run Failed, everyone the directory holds. */
static long long
failed_users(const struct facts *f, const struct vsync *only)
{
	const struct vuser	*u;
	const struct vsync	*s;
	long long		 n = 0;
	size_t			 i;

	for (i = 0; i < f->nsy; i++)
		if ((only == NULL || only == &f->sy[i]) &&
		    f->sy[i].in_progress == 0 && f->sy[i].failing > 0)
			n += f->sy[i].users;
	for (i = 0; i < f->nu; i++) {
		u = &f->u[i];
		if ((u->flags & VU_EXTRA) && !extra_listed(u))
			continue;
		if (only != NULL && strcmp(only->name, u->sync) != 0)
			continue;
		s = vsync_find((struct facts *)f, u->sync);
		if (s != NULL && s->failing > 0 && !(u->flags & VU_EXTRA))
			continue;	/* counted with the directory */
		n += user_status(s, u, !(u->flags & VU_EXTRA)) == US_FAILED;
	}
	return n;
}

/* Syncs whose latest run Failed. */
static long long
failing_syncs(const struct facts *f)
{
	long long	 n = 0;
	size_t		 i;

	for (i = 0; i < f->nsy; i++)
		n += f->sy[i].failing > 0;
	return n;
}

struct metrics {
	long long	 users_active;	/* active users of enabled syncs */
	long long	 changes;	/* items applied, runs of the last 24 h */
	long long	 in_progress;	/* runs in progress */
	long long	 failed;	/* users whose status is Failed */
	long long	 failing;	/* syncs whose latest run Failed */
};

struct refusedctx {
	struct buf	*b;		/* JSON, or NULL: text */
	int		 n;
};

static int
on_refused(void *arg, const char *name, const char *reason, time_t since)
{
	struct refusedctx	*c = arg;
	char			 t[64];

	if (c->b == NULL) {
		time_local(since, t, sizeof(t));
		text_printf("      refused: \"%s\": %s (since %s)\n", name,
		    reason, t);
		return 0;
	}
	buf_adds(c->b, c->n++ ? ",{" : "{");
	json_kv(c->b, "name", name);
	json_kv(c->b, "reason", reason);
	json_time(c->b, "since", since);
	buf_addc(c->b, '}');
	return 0;
}

/* The files its source holds that are refused (a bad name, a link...). */
static void
status_refused(struct buf *b, struct store *st, const struct vsync *s)
{
	struct refusedctx	 c = { b, 0 };

	if (b != NULL)
		buf_adds(b, ",\"refused\":[");
	if (st != NULL)
		store_refused_each(st, s->name, on_refused, &c);
	if (b != NULL)
		buf_addc(b, ']');
}

static void
status_sync(struct buf *b, struct facts *f, const struct config *cfg,
    struct store *st, const struct vsync *s, const struct run *r, int json)
{
	const char	*how;
	time_t		 next = next_scheduled(f, cfg, s, &how);
	char		 t[64], nt[64], last[160];

	if (json) {
		buf_adds(b, b->p[b->len - 1] == '[' ? "{" : ",{");
		json_kv(b, "name", s->name);
		jbool(b, "active", s->cf != NULL && s->cf->enabled);
		jbool(b, "configured", s->cf != NULL);
		jnum(b, "users_active", s->active);
		jnum(b, "failed", failed_users(f, s));
		jnum(b, "in_progress", s->in_progress);
		jrun(b, "last_run", r ? r->id : 0);
		json_kv(b, "last_status", r ? runstatus_slug(r->status) : NULL);
		json_kv(b, "last_status_label", r ? runstatus_label(r->status) :
		    NULL);
		json_time(b, "last_started", r ? r->started : 0);
		json_kv(b, "last_error", r && r->status == RS_FAILED ? r->error :
		    NULL);
		jnum(b, "failures", r ? r->failures : 0);
		jbool(b, "failing", s->failing > 0);
		json_time(b, "next_sync", next);
		json_kv(b, "next_sync_how", how);
		status_refused(b, st, s);
		buf_addc(b, '}');
		return;
	}
	time_local(r ? r->started : 0, t, sizeof(t));
	if (r != NULL && r->failures > 1)
		snprintf(last, sizeof(last), "%lld  %s  %s (%lld times)",
		    r->id, t, runstatus_label(r->status), r->failures);
	else if (r != NULL)
		snprintf(last, sizeof(last), "%lld  %s  %s%s", r->id, t,
		    runstatus_label(r->status), r->dry_run ? " (dry run)" : "");
	else
		snprintf(last, sizeof(last), "none");
	if (next != 0)
		time_local(next, nt, sizeof(nt));
	else
		snprintf(nt, sizeof(nt), "none: %s", how);
	text_printf("  %-12s  %-25s  %8lld  %6lld  %-50s  %s\n", s->name,
	    sync_state(s), s->active, failed_users(f, s), last, nt);
	if (s->failing > 0)
		text_printf("      failing: %s%s%s\n", s->fail_error,
		    s->fail_hint ? "; what to do: " : "",
		    s->fail_hint ? s->fail_hint : "");
	status_refused(NULL, st, s);
}

int
cmd_status(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct metrics	 mx = { 0 };
	struct facts	 f;
	struct store	*st = NULL;
	struct buf	 b = { 0 };
	struct run	 r;
	size_t		 i;
	int		 c, json = 0, rc = EXIT_FAIL, have;

	memset(&f, 0, sizeof(f));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (c == 'j')
			json = 1;
		else
			break;
	if (c != -1 || optind != argc) {
		log_warnx("usage: rostersync status [--json]");
		return EXIT_USAGE;
	}
	if (!no_database(cfg)) {
		if ((st = view_open(cfg)) == NULL)
			return EXIT_FAIL;
		if (store_read_begin(st) == -1 ||
		    facts_load(&f, cfg, st, 1) == -1) {
			log_warnx("cannot read the metrics: %s",
			    store_errmsg(st));
			goto out;
		}
		mx.changes = store_view_changes_since(st, time(NULL) -
		    CHANGES_WINDOW);
	} else
		for (i = 0; i < cfg->nsyncs; i++)
			vsync_add(&f, cfg->syncs[i].name)->cf = &cfg->syncs[i];
	for (i = 0; i < f.nsy; i++) {
		if (f.sy[i].cf != NULL && f.sy[i].cf->enabled)
			mx.users_active += f.sy[i].active;
		mx.in_progress += f.sy[i].in_progress;
	}
	mx.failed = failed_users(&f, NULL);
	mx.failing = failing_syncs(&f);
	if (json)
		buf_printf(&b, "{\"users_active\":%lld,\"changes_24h\":%lld,"
		    "\"in_progress\":%lld,\"failed\":%lld,\"failing_syncs\":"
		    "%lld,\"syncs\":[", mx.users_active, mx.changes,
		    mx.in_progress, mx.failed, mx.failing);
	else
		printf("%-28s %lld\n%-28s %lld\n%-28s %lld\n%-28s %lld\n"
		    "%-28s %lld\n\n  %-12s  %-25s  %8s  %6s  %-50s  %s\n",
		    "Users with an active sync", mx.users_active,
		    "Changes (last 24 h)", mx.changes, "Syncs in progress",
		    mx.in_progress, "Failed syncs", mx.failed,
		    "Syncs failing now", mx.failing, "SYNC", "STATE",
		    "USERS", "FAILED", "LAST RUN", "NEXT SCHEDULED SYNC");
	for (i = 0; i < f.nsy; i++) {
		have = st != NULL && f.sy[i].last > 0 &&
		    store_run_get(st, f.sy[i].last, &r) == 0;
		status_sync(&b, &f, cfg, st, &f.sy[i], have ? &r : NULL, json);
		if (have)
			run_free(&r);
	}
	if (json) {
		buf_adds(&b, "]}\n");
		fputs(b.p, stdout);
	}
	rc = EXIT_OK;
out:
	if (st != NULL) {
		store_read_end(st);
		store_close(st);
	}
	facts_free(&f);
	buf_free(&b);
	return rc;
}
