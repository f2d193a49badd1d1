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
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return n;
}

int
store_run_list(struct store *st, const struct runfilter *f,
    int (*fn)(void *, const struct run *), void *arg)
{
	sqlite3_stmt	*s;
	struct run	 r;
	int		 rc;

	if (f->oldest)
		s = store_stmt(st, f->sync ? ST_RUN_LIST_OLD_SYNC :
		    ST_RUN_LIST_OLD);
	else
		s = store_stmt(st, f->sync ? ST_RUN_LIST_NEW_SYNC :
		    ST_RUN_LIST_NEW);
	filter_bind(s, f);
	sqlite3_bind_int64(s, 5, f->limit);
	sqlite3_bind_int64(s, 6, f->offset);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		run_read(s, &r);
		rc = fn(arg, &r);
		run_free(&r);
		if (rc != 0)
			break;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == 0 ? 0 : -1;
}


/* ------------------------------------------------ the per-user views */

/* Every sync the runs table knows, by name. */
int
store_view_syncs(struct store *st,
    int (*fn)(void *, const struct syncrow *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_SYNCS);
	struct syncrow	 r;
	int		 rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r.sync = col_text(s, 0);
		r.in_progress = sqlite3_column_int64(s, 1);
		r.applied = sqlite3_column_int64(s, 2);
		r.last = sqlite3_column_int64(s, 3);
		r.active = sqlite3_column_int64(s, 4);
		r.latest = sqlite3_column_int64(s, 5);
		r.users = sqlite3_column_int64(s, 6);
		if (fn(arg, &r) != 0)
			break;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Step a query of keys. kind: 'i' (sync, key, type, run), 'r' (sync,
 * key, run) or 'x' (sync, key, email, name, run, when, gone).
 */
static int
keyrows(struct store *st, sqlite3_stmt *s, int kind,
    int (*fn)(void *, const struct keyrow *), void *arg)
{
	struct keyrow	 r;
	int		 rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.sync = col_text(s, 0);
		r.key = col_text(s, 1);
		r.type = -1;
		switch (kind) {
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
		if (fn(arg, &r) != 0)
			break;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("database: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
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

static int
userrows(struct store *st, sqlite3_stmt *s,
    int (*fn)(void *, const struct userrow *), void *arg)
{
	struct userrow	 u;
	int		 rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		u.sync = col_text(s, 0);
		u.key = col_text(s, 1);
		u.email = col_text(s, 2);
		u.name = col_text(s, 3);
		u.manager = col_text(s, 4);
		u.team = col_text(s, 5);
		u.active = sqlite3_column_int(s, 6);
		u.fields = sqlite3_column_type(s, 7) == SQLITE_NULL ? NULL :
		    col_text(s, 7);
		if (fn(arg, &u) != 0)
			break;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("database: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* Step rows of (sync, key, email): 1 when fn stopped, 0 at the end. */
static int
walkrows(struct store *st, sqlite3_stmt *s,
    int (*fn)(void *, const struct userrow *), void *arg)
{
	struct userrow	 u;
	int		 rc, stop = 0;

	memset(&u, 0, sizeof(u));
	u.name = u.manager = u.team = "";
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		u.sync = col_text(s, 0);
		u.key = col_text(s, 1);
		u.email = col_text(s, 2);
		if ((stop = fn(arg, &u)) != 0)
			break;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("database: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return stop != 0;
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
	int		 rc;

	if (from == NULL) {
		s = store_stmt(st, ST_VIEW_WALK_NULL);
		while (skip > 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
			skip--;
		if (skip == 0 && (rc = walkrows(st, s, fn, arg)) != 0)
			return rc;
		sqlite3_reset(s);
		from = "";
		fromlen = 0;
	}
	s = store_stmt(st, ST_VIEW_WALK);
	bind_textn(s, 1, from, fromlen);
	sqlite3_bind_int64(s, 2, skip);
	return walkrows(st, s, fn, arg);
}

/* Users whose email's domain (after its @) is in [lo, hi), in no order. */
int
store_view_domain(struct store *st, const char *lo, size_t lolen,
    const char *hi, size_t hilen, int (*fn)(void *, const struct userrow *),
    void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_DOMAIN);

	bind_textn(s, 1, lo, lolen);
	bind_textn(s, 2, hi, hilen);
	return walkrows(st, s, fn, arg) < 0 ? -1 : 0;
}

/* The users of each sync under each email page, in page order. */
int
store_view_pages(struct store *st,
    int (*fn)(void *, const char *, size_t, const char *, long long),
    void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_PAGES);
	int		 rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(arg, col_text(s, 0), (size_t)sqlite3_column_bytes(s, 0),
		    col_text(s, 1), sqlite3_column_int64(s, 2)) != 0)
			break;
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("database: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* Is the run an applied export run (VIEW_EXPORT)? 1, 0, or -1. */
int
store_view_exported(struct store *st, long long run)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_EXPORTED);
	int		 rc;

	sqlite3_bind_int64(s, 1, run);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
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

/*
 * One user's items, newest run first: one call per (item, field) pair,
 * field NULL for an item without field changes (as store_item_each).
 */
int
store_view_user_items(struct store *st, const char *sync, const char *key,
    int (*fn)(void *, long long, const struct itemview *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_USER_ITEMS);
	struct itemview	 v;
	long long	 run;
	int		 rc;

	bind_text(s, 1, sync);
	bind_text(s, 2, key);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		run = sqlite3_column_int64(s, 0);
		itemview_read(s, 1, &v);
		if (fn(arg, run, &v) != 0)
			break;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* One user's issues, newest run first. */
int
store_view_user_issues(struct store *st, const char *sync, const char *key,
    int (*fn)(void *, long long, const struct issueview *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_USER_ISSUES);
	struct issueview v;
	long long	 run;
	int		 rc;

	bind_text(s, 1, sync);
	bind_text(s, 2, key);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		run = sqlite3_column_int64(s, 0);
		issueview_read(s, 1, &v);
		if (fn(arg, run, &v) != 0)
			break;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* Items applied or confirmed in runs started at or after since (the
 * runs' n_done). */
long long
store_view_changes_since(struct store *st, time_t since)
{
	sqlite3_stmt	*s = store_stmt(st, ST_VIEW_CHANGES_SINCE);
	long long	 n = 0;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)since);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
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
	if (sqlite3_step(s) == SQLITE_ROW)
		v = col_strdup(s, 0);
	sqlite3_reset(s);
	return v;
}

/*
 * The users whose existing values a run changes, and in most the three
 * fields changed most ("first_name (1939 users), ..."); -1 on error.
 */
long long
store_run_changed_fields(struct store *st, long long run, struct buf *most)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_CHANGED_FIELDS);
	long long	 users = 0, n;
	int		 rc, k = 0;

	sqlite3_bind_int64(s, 1, run);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		n = sqlite3_column_int64(s, 1);
		users = sqlite3_column_int64(s, 2);
		buf_printf(most, "%s%s (%lld user%s)", k++ ? ", " : "",
		    col_text(s, 0), n, n == 1 ? "" : "s");
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? users : -1;
}
