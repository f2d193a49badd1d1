/*
 * The store's queries for the views (views.c) and the history and show
 * commands (cli.c): the facts of the per-user views, the directory
 * walked by email or domain, a user's items and issues, the runs of the
 * history.
 * Invariants: these only read; each answers through an index
 * (t_plans.sh checks the plans); a view that reads with several of them
 * holds one snapshot (store_read_begin()).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "rostersync.h"
#include "store_int.h"

/* ------------------------------------------------------------ history */

/* Unset bounds are the extremes: every query has a range on started. */
static void
filter_bind(sqlite3_stmt *s, const struct runfilter *f)
{
	bind_text(s, 1, f->sync);
	sqlite3_bind_int64(s, 2, f->since != (time_t)-1 ? f->since :
	    INT64_MIN);
	sqlite3_bind_int64(s, 3, f->until != (time_t)-1 ? f->until :
	    INT64_MAX);
	if (f->statuses[0] != '\0')
		bind_text(s, 4, f->statuses);
	bind_text(s, 7, f->source);
}

long long
store_run_count(struct store *st, const struct runfilter *f)
{
	sqlite3_stmt	*s = store_stmt(st, f->sync ? ST_RUN_COUNT_SYNC :
			    ST_RUN_COUNT);
	long long	 n = 0;

	filter_bind(s, f);
	(void)store_each(st, s, each_int64, &n);
	return n;
}

struct runcb {
	int	(*fn)(void *, const struct run *);
	void	*arg;
};

static int
on_run(void *arg, sqlite3_stmt *s)
{
	struct runcb	*cb = arg;
	struct run	 r;
	int		 rc;

	run_read(s, &r);
	rc = cb->fn(cb->arg, &r);
	run_free(&r);
	return rc != 0;
}

int
store_run_list(struct store *st, const struct runfilter *f,
    int (*fn)(void *, const struct run *), void *arg)
{
	sqlite3_stmt	*s;
	struct runcb	 cb = { fn, arg };

	if (f->oldest)
		s = store_stmt(st, f->sync ? ST_RUN_LIST_OLD_SYNC :
		    ST_RUN_LIST_OLD);
	else
		s = store_stmt(st, f->sync ? ST_RUN_LIST_NEW_SYNC :
		    ST_RUN_LIST_NEW);
	filter_bind(s, f);
	sqlite3_bind_int64(s, 5, f->limit);
	sqlite3_bind_int64(s, 6, f->offset);
	return store_each(st, s, on_run, &cb) == 0 ? 0 : -1;
}


/* ------------------------------------------------ the per-user views */

struct synccb {
	int	(*fn)(void *, const struct syncrow *);
	void	*arg;
};

static int
on_sync(void *arg, sqlite3_stmt *s)
{
	struct synccb	*cb = arg;
	struct syncrow	 r;

	r.sync = col_text(s, 0);
	r.in_progress = sqlite3_column_int64(s, 1);
	r.applied = sqlite3_column_int64(s, 2);
	r.last = sqlite3_column_int64(s, 3);
	r.active = sqlite3_column_int64(s, 4);
	r.latest = sqlite3_column_int64(s, 5);
	r.users = sqlite3_column_int64(s, 6);
	return cb->fn(cb->arg, &r) != 0;
}

/* Every sync the runs table knows, by name. */
int
store_view_syncs(struct store *st,
    int (*fn)(void *, const struct syncrow *), void *arg)
{
	struct synccb	 cb = { fn, arg };

	return store_each(st, store_stmt(st, ST_VIEW_SYNCS), on_sync,
	    &cb) == -1 ? -1 : 0;
}

struct keycb {
	int	(*fn)(void *, const struct keyrow *);
	void	*arg;
	int	 kind;
};

static int
on_key(void *arg, sqlite3_stmt *s)
{
	struct keycb	*cb = arg;
	struct keyrow	 r;

	memset(&r, 0, sizeof(r));
	r.sync = col_text(s, 0);
	r.key = col_text(s, 1);
	r.type = -1;
	switch (cb->kind) {
	case 'i':	/* sync, key, type, run */
		r.type = itemtype_parse(col_text(s, 2));
		r.run = sqlite3_column_int64(s, 3);
		break;
	case 'r':	/* sync, key, run */
		r.run = sqlite3_column_int64(s, 2);
		break;
	case 'x':	/* sync, key, email, name, run, when, gone */
		r.email = col_text(s, 2);
		r.name = col_text(s, 3);
		r.run = sqlite3_column_int64(s, 4);
		r.when = (time_t)sqlite3_column_int64(s, 5);
		r.gone = sqlite3_column_int(s, 6);
		break;
	}
	return cb->fn(cb->arg, &r) != 0;
}

/*
 * Step a query of keys. kind: 'i' (sync, key, type, run), 'r' (sync,
 * key, run) or 'x' (sync, key, email, name, run, when, gone).
 */
static int
keyrows(struct store *st, sqlite3_stmt *s, int kind,
    int (*fn)(void *, const struct keyrow *), void *arg)
{
	struct keycb	 cb = { fn, arg, kind };

	return store_each(st, s, on_key, &cb) == -1 ? -1 : 0;
}

/* Failed items of real runs that no later real run applied (the same
 * key and type): sync, key, type, run. */
int
store_view_failed(struct store *st, int (*fn)(void *, const struct keyrow *),
    void *arg)
{
	return keyrows(st, store_stmt(st, ST_VIEW_FAILED), 'i', fn, arg);
}

/* Warnings still standing: no later applied export run named the key
 * (sync, key, run). */
int
store_view_warnings(struct store *st,
    int (*fn)(void *, const struct keyrow *), void *arg)
{
	return keyrows(st, store_stmt(st, ST_VIEW_WARNINGS), 'r', fn, arg);
}

/*
 * Keys not in the directory that an unapplied item or an issue names:
 * the latest run that did, its email and name, and whether the key was
 * in the directory once (an applied create).
 */
int
store_view_extras(struct store *st, int (*fn)(void *, const struct keyrow *),
    void *arg)
{
	return keyrows(st, store_stmt(st, ST_VIEW_EXTRAS), 'x', fn, arg);
}

/* A caller's function of users; rows of a walk first skip rows. */
struct usercb {
	int		(*fn)(void *, const struct userrow *);
	void		*arg;
	long long	 skip;
	struct userrow	 u;
};

static int
on_user(void *arg, sqlite3_stmt *s)
{
	struct usercb	*cb = arg;
	struct userrow	*u = &cb->u;

	u->sync = col_text(s, 0);
	u->key = col_text(s, 1);
	u->email = col_text(s, 2);
	u->name = col_text(s, 3);
	u->manager = col_text(s, 4);
	u->team = col_text(s, 5);
	u->active = sqlite3_column_int(s, 6);
	u->fields = sqlite3_column_type(s, 7) == SQLITE_NULL ? NULL :
	    col_text(s, 7);
	return cb->fn(cb->arg, u) != 0;
}

static int
userrows(struct store *st, sqlite3_stmt *s,
    int (*fn)(void *, const struct userrow *), void *arg)
{
	struct usercb	 cb;

	memset(&cb, 0, sizeof(cb));
	cb.fn = fn;
	cb.arg = arg;
	return store_each(st, s, on_user, &cb) == -1 ? -1 : 0;
}

/* A row of (sync, key, email), once skip rows are passed over. */
static int
on_walk(void *arg, sqlite3_stmt *s)
{
	struct usercb	*cb = arg;

	if (cb->skip > 0) {
		cb->skip--;
		return 0;
	}
	cb->u.sync = col_text(s, 0);
	cb->u.key = col_text(s, 1);
	cb->u.email = col_text(s, 2);
	return cb->fn(cb->arg, &cb->u) != 0;
}

/* Step rows of (sync, key, email): 1 when fn stopped, 0 at the end. */
static int
walkrows(struct store *st, sqlite3_stmt *s, struct usercb *cb)
{
	return store_each(st, s, on_walk, cb);
}

/*
 * The directory in (email, sync, key) order from the first email at or
 * after from (NULL: from the start, users without an email first), the
 * first skip rows passed over; only sync, key and email are read (the
 * index has them): name, manager and team are "", fields NULL. Stops
 * when fn returns non-0: then 1, at the end 0, -1 on error.
 */
int
store_view_walk(struct store *st, const char *from, size_t fromlen,
    long long skip, int (*fn)(void *, const struct userrow *), void *arg)
{
	sqlite3_stmt	*s;
	struct usercb	 cb;
	int		 rc;

	memset(&cb, 0, sizeof(cb));
	cb.fn = fn;
	cb.arg = arg;
	cb.u.name = cb.u.manager = cb.u.team = "";
	if (from == NULL) {
		cb.skip = skip;
		if ((rc = walkrows(st, store_stmt(st, ST_VIEW_WALK_NULL),
		    &cb)) != 0)
			return rc;
		skip = cb.skip;
		cb.skip = 0;
		from = "";
		fromlen = 0;
	}
	s = store_stmt(st, ST_VIEW_WALK);
	bind_textn(s, 1, from, fromlen);
	sqlite3_bind_int64(s, 2, skip);
	return walkrows(st, s, &cb);
}

/* Users whose email's domain (after its @) is in [lo, hi), in no order. */
int
store_view_domain(struct store *st, const char *lo, size_t lolen,
    const char *hi, size_t hilen, int (*fn)(void *, const struct userrow *),
    void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_DOMAIN);
	struct usercb	 cb;

	memset(&cb, 0, sizeof(cb));
	cb.fn = fn;
	cb.arg = arg;
	cb.u.name = cb.u.manager = cb.u.team = "";
	bind_textn(s, 1, lo, lolen);
	bind_textn(s, 2, hi, hilen);
	return walkrows(st, s, &cb) < 0 ? -1 : 0;
}

struct pagecb {
	int	(*fn)(void *, const char *, size_t, const char *, long long);
	void	*arg;
};

static int
on_page(void *arg, sqlite3_stmt *s)
{
	struct pagecb	*cb = arg;

	return cb->fn(cb->arg, col_text(s, 0),
	    (size_t)sqlite3_column_bytes(s, 0), col_text(s, 1),
	    sqlite3_column_int64(s, 2)) != 0;
}

/* The users of each sync under each email page, in page order. */
int
store_view_pages(struct store *st,
    int (*fn)(void *, const char *, size_t, const char *, long long),
    void *arg)
{
	struct pagecb	 cb = { fn, arg };

	return store_each(st, store_stmt(st, ST_VIEW_PAGES), on_page,
	    &cb) == -1 ? -1 : 0;
}

/* Is the run an applied export run (VIEW_EXPORT)? 1, 0, or -1. */
int
store_view_exported(struct store *st, long long run)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_EXPORTED);

	sqlite3_bind_int64(s, 1, run);
	return store_each(st, s, each_found, NULL);
}

/* Users whose email (any case) or key is text, in one sync or all. */
int
store_view_find(struct store *st, const char *text, const char *sync,
    int (*fn)(void *, const struct userrow *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_FIND);
	struct buf	 b = { 0 };
	size_t		 n;
	int		 rc;

	bind_text(s, 1, text);
	bind_text(s, 2, sync);
	/* As the loader keeps emails: in lower case beyond ASCII too. */
	bind_text(s, 3, email_lower(&b, text, strlen(text), &n));
	rc = userrows(st, s, fn, arg);
	buf_free(&b);
	return rc;
}

/* A caller's function of one user's items or issues (with the run). */
struct runviewcb {
	int	(*item)(void *, long long, const struct itemview *);
	int	(*issue)(void *, long long, const struct issueview *);
	void	*arg;
};

static int
on_user_item(void *arg, sqlite3_stmt *s)
{
	struct runviewcb *cb = arg;
	struct itemview	 v;

	itemview_read(s, 1, &v);
	return cb->item(cb->arg, sqlite3_column_int64(s, 0), &v) != 0;
}

static int
on_user_issue(void *arg, sqlite3_stmt *s)
{
	struct runviewcb *cb = arg;
	struct issueview v;

	issueview_read(s, 1, &v);
	return cb->issue(cb->arg, sqlite3_column_int64(s, 0), &v) != 0;
}

/*
 * One user's items, newest run first: one call per (item, field) pair,
 * field NULL for an item without field changes (as store_item_each).
 */
int
store_view_user_items(struct store *st, const char *sync, const char *key,
    int (*fn)(void *, long long, const struct itemview *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_USER_ITEMS);
	struct runviewcb cb = { fn, NULL, arg };

	bind_text(s, 1, sync);
	bind_text(s, 2, key);
	return store_each(st, s, on_user_item, &cb) == -1 ? -1 : 0;
}

/* One user's issues, newest run first. */
int
store_view_user_issues(struct store *st, const char *sync, const char *key,
    int (*fn)(void *, long long, const struct issueview *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_USER_ISSUES);
	struct runviewcb cb = { NULL, fn, arg };

	bind_text(s, 1, sync);
	bind_text(s, 2, key);
	return store_each(st, s, on_user_issue, &cb) == -1 ? -1 : 0;
}

/* Items applied or confirmed in runs started at or after since (the
 * runs' n_done). */
long long
store_view_changes_since(struct store *st, time_t since)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_CHANGES_SINCE);
	long long	 n = 0;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)since);
	(void)store_each(st, s, each_int64, &n);
	return n;
}

/* A user's display name from the directory, or NULL. Caller frees. */
char *
store_view_name(struct store *st, const char *sync, const char *key)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_NAME);
	char		*v = NULL;

	bind_text(s, 1, sync);
	bind_text(s, 2, key);
	(void)store_each(st, s, each_strdup, &v);
	return v;
}

struct fieldscb {
	struct buf	*most;
	long long	 users;
	int		 k;
};

/* A row of (field, users changed in it, users changed in all). */
static int
on_changed_field(void *arg, sqlite3_stmt *s)
{
	struct fieldscb	*cb = arg;
	long long	 n = sqlite3_column_int64(s, 1);

	cb->users = sqlite3_column_int64(s, 2);
	buf_printf(cb->most, "%s%s (%lld user%s)", cb->k++ ? ", " : "",
	    col_text(s, 0), n, n == 1 ? "" : "s");
	return 0;
}

/*
 * The users whose existing values a run changes, and in most the three
 * fields changed most ("first_name (1939 users), ..."); -1 on error.
 */
long long
store_run_changed_fields(struct store *st, long long run, struct buf *most)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_CHANGED_FIELDS);
	struct fieldscb	 cb = { most, 0, 0 };

	sqlite3_bind_int64(s, 1, run);
	return store_each(st, s, on_changed_field, &cb) == 0 ? cb.users : -1;
}
