/*
 * The store's directory: the users and teams of each sync as the run
 * reads and writes them, its version and nonce, and the counts kept for
 * the views (users and active users per sync, users per email page,
 * items done per run).
 * Invariants: every write of the users table moves the sync's version
 * once per transaction (store_sync_bump()), so no key snapshot of the
 * old state passes for the new one; the counts change in the transaction
 * that changes the users (added at its commit, store_commit(); a
 * deletion counted by a trigger), so a crash leaves them with the rows.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "rostersync.h"
#include "store_int.h"

/*
 * The length of an email's page in dirpages: its first DIRPAGE_CHARS
 * characters as SQLite's substr() counts them (a byte from 0xc0 up and
 * the 0x80-0xbf bytes after it are one character), up to a NUL.
 */
size_t
dirpage_len(const char *email)
{
	const unsigned char	*z = (const unsigned char *)email, *e = z;
	int			 k;

	if (z == NULL)
		return 0;
	for (k = 0; k < DIRPAGE_CHARS && *e != '\0'; k++)
		if (*e++ >= 0xc0)
			while ((*e & 0xc0) == 0x80)
				e++;
	return (size_t)(e - z);
}


/* Safe to call with NULL. */
void
counts_free(struct counts *c)
{
	if (c == NULL)
		return;
	arena_free(&c->a);
	strmap_free(&c->map);
	free(c->key);
	free(c->keylen);
	free(c->n);
	free(c);
}

/* ------------------------------------------------------------- counts */

/* The two counts under key kind (1: a sync's users and active users, 2:
 * users of sync under email's page, 3: items done of the run numbered
 * sync, and that number), made 0 the first time. */
long long *
counts_slot(struct store *st, int kind, const char *sync, const char *email)
{
	struct counts	*c = st->counts;
	char		 k[MAX_EMAIL_LEN + 512], *key;
	size_t		 n = 0, len = strlen(sync), plen;
	uint32_t	 i;

	if (c == NULL)
		c = st->counts = xcalloc(1, sizeof(*c));
	if (len > sizeof(k) - MAX_EMAIL_LEN - 8)
		len = sizeof(k) - MAX_EMAIL_LEN - 8;	/* names are short */
	k[n++] = (char)kind;
	memcpy(k + n, sync, len);
	n += len;
	if (kind == 2) {
		plen = dirpage_len(email);
		k[n++] = '\0';
		memcpy(k + n, email, plen);
		n += plen;
	}
	if ((i = strmap_get(&c->map, k, n)) == STRMAP_NONE) {
		key = arena_alloc(&c->a, n);
		memcpy(key, k, n);
		c->key = xrealloc(c->key, (c->nkeys + 1) * sizeof(*c->key));
		c->keylen = xrealloc(c->keylen, (c->nkeys + 1) *
		    sizeof(*c->keylen));
		c->n = xrealloc(c->n, (c->nkeys + 1) * sizeof(*c->n));
		c->key[c->nkeys] = key;
		c->keylen[c->nkeys] = n;
		c->n[c->nkeys][0] = c->n[c->nkeys][1] = 0;
		i = (uint32_t)c->nkeys++;
		strmap_put(&c->map, key, n, i);
	}
	return c->n[i];
}

/* n users come (1) or go (-1) with their email, active of them active. */
static void
count_users(struct store *st, const char *sync, const char *email, int n,
    int active)
{
	long long	*v = counts_slot(st, 1, sync, NULL);

	v[0] += n;
	v[1] += active;
	counts_slot(st, 2, sync, email ? email : "")[0] += n;
}

/* A user's email changed: from one page to another, maybe. */
static void
count_email(struct store *st, const char *sync, const char *old,
    const char *new)
{
	size_t	 a = dirpage_len(old), b = dirpage_len(new);

	if (a == b && (a == 0 || memcmp(old, new, a) == 0))
		return;
	counts_slot(st, 2, sync, old ? old : "")[0]--;
	counts_slot(st, 2, sync, new ? new : "")[0]++;
}

/*
 * The run found active users active in the sync's directory: when the
 * counts say otherwise (the users table was edited by hand), they are
 * made again from the users (a read of them all), in the caller's
 * transaction. 1 made again, 0 right, -1 error.
 */
int
store_counts_check(struct store *st, const char *sync, long long active)
{
	static const enum stmt redo[] = { ST_DIRCOUNT_CLEAR,
	    ST_DIRPAGES_CLEAR, ST_DIRCOUNT_RECOUNT, ST_DIRPAGES_RECOUNT };
	sqlite3_stmt	*s = store_stmt(st, ST_DIRCOUNT_ACTIVE);
	long long	 n = -1;
	size_t		 i;

	bind_text(s, 1, sync);
	(void)store_each(st, s, each_int64, &n);
	if (n == active)
		return 0;
	log_info("the directory's counts of sync %s say %lld active users, "
	    "its users %lld (edited by hand?): counted again", sync, n,
	    active);
	for (i = 0; i < sizeof(redo) / sizeof(redo[0]); i++) {
		s = store_stmt(st, redo[i]);
		bind_text(s, 1, sync);
		if (store_exec(st, s) == -1)
			return -1;
	}
	return 1;
}

/* The counts this transaction changed, added (store_commit()). */
int
counts_write(struct store *st)
{
	struct counts	*c = st->counts;
	sqlite3_stmt	*s;
	const char	*sync;
	size_t		 i, slen;
	int		 rc = 0;

	for (i = 0; c != NULL && rc == 0 && i < c->nkeys; i++) {
		if (c->n[i][0] == 0 && c->n[i][1] == 0)
			continue;
		sync = c->key[i] + 1;
		slen = strnlen(sync, c->keylen[i] - 1);
		if (c->key[i][0] == 3) {	/* n: items done, the run */
			s = store_stmt(st, ST_RUN_DONE_ADD);
			sqlite3_bind_int64(s, 1, c->n[i][1]);
			sqlite3_bind_int64(s, 2, c->n[i][0]);
		} else if (c->key[i][0] == 1) {
			s = store_stmt(st, ST_DIRCOUNT_ADD);
			bind_textn(s, 1, sync, slen);
			sqlite3_bind_int64(s, 2, c->n[i][0]);
			sqlite3_bind_int64(s, 3, c->n[i][1]);
		} else {
			s = store_stmt(st, ST_DIRPAGES_ADD);
			bind_textn(s, 1, sync + slen + 1, c->keylen[i] - 2 -
			    slen);
			bind_textn(s, 2, sync, slen);
			sqlite3_bind_int64(s, 3, c->n[i][0]);
		}
		rc = store_exec(st, s);
	}
	counts_free(c);
	st->counts = NULL;
	return rc;
}

/* ---------------------------------------------------------- directory */

long long
store_sync_version(struct store *st, const char *sync)
{
	uint64_t	 nonce;

	return store_sync_state(st, sync, &nonce);
}

/* A row of (version, nonce). */
static int
on_version(void *arg, sqlite3_stmt *s)
{
	long long	*v = arg;

	v[0] = sqlite3_column_int64(s, 0);
	v[1] = sqlite3_column_int64(s, 1);
	return 1;
}

/* The directory's version and the random nonce that came with it. */
long long
store_sync_state(struct store *st, const char *sync, uint64_t *nonce)
{
	sqlite3_stmt	*s = store_stmt(st, ST_SYNC_VERSION);
	long long	 v[2] = { 0, 0 };

	bind_text(s, 1, sync);
	(void)store_each(st, s, on_version, v);
	*nonce = (uint64_t)v[1];
	return v[0];
}

/* Has this transaction moved a directory's version? */
int
store_bumped(struct store *st)
{
	return st->bumped != NULL;
}

/*
 * A new directory version (and nonce): once per transaction, so every
 * writer of the users table below can call it and a transaction that
 * changes the directory always leaves a version no snapshot carries.
 */
int
store_sync_bump(struct store *st, const char *sync)
{
	sqlite3_stmt	*s;
	int		 intx = !sqlite3_get_autocommit(st->db);

	if (intx && st->bumped != NULL && strcmp(st->bumped, sync) == 0)
		return 0;
	s = store_stmt(st, ST_SYNC_BUMP);
	bind_text(s, 1, sync);
	if (store_exec(st, s) == -1)
		return -1;
	if (intx && st->bumped == NULL)
		st->bumped = xstrdup(sync);
	return 0;
}

long long
store_dir_active(struct store *st, const char *sync)
{
	sqlite3_stmt	*s = store_stmt(st, ST_DIR_ACTIVE);
	long long	 n = 0;

	bind_text(s, 1, sync);
	(void)store_each(st, s, each_int64, &n);
	return n;
}

struct scancb {
	void	(*fn)(void *, const char *, size_t, uint64_t, int);
	void	*arg;
};

static int
on_scan(void *arg, sqlite3_stmt *s)
{
	struct scancb	*cb = arg;

	cb->fn(cb->arg, (const char *)sqlite3_column_text(s, 0),
	    (size_t)sqlite3_column_bytes(s, 0),
	    (uint64_t)sqlite3_column_int64(s, 1), sqlite3_column_int(s, 2));
	return 0;
}

int
store_dir_scan(struct store *st, const char *sync,
    void (*fn)(void *, const char *, size_t, uint64_t, int), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_DIR_SCAN);
	struct scancb	 cb = { fn, arg };
	int		 rc;

	bind_text(s, 1, sync);
	rc = store_each(st, s, on_scan, &cb);
	/* The scan filled the page cache with a million rows it will not
	 * read again: give that memory back before the export loads. */
	sqlite3_db_release_memory(st->db);
	return rc == 0 ? 0 : -1;
}

/* The stored fields of one user as JSON, or NULL. Caller frees. */
/* The one column statement q reads of a stored user, or NULL. */
static char *
dir_column(struct store *st, int q, const char *sync, const char *key)
{
	sqlite3_stmt	*s = store_stmt(st, q);
	char		*v = NULL;

	bind_text(s, 1, sync);
	bind_text(s, 2, key);
	(void)store_each(st, s, each_strdup, &v);
	return v;
}

char *
store_dir_fields(struct store *st, const char *sync, const char *key)
{
	return dir_column(st, ST_DIR_FIELDS, sync, key);
}

char *
store_dir_email(struct store *st, const char *sync, const char *key)
{
	return dir_column(st, ST_DIR_EMAIL, sync, key);
}


/* d's values bound to a statement of users (ST_DIR_INSERT, ST_DIR_PUT*). */
static void
dir_bind(sqlite3_stmt *s, const struct dirrow *d)
{
	bind_text(s, 1, d->sync);
	bind_text(s, 2, d->key);
	bind_text(s, 3, d->email);
	bind_text(s, 4, d->name);
	bind_text(s, 5, d->manager);
	bind_text(s, 6, d->team);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)d->hash);
	bind_textn(s, 8, d->fields, d->fieldslen);
	sqlite3_bind_int64(s, 9, d->run);
}

/* One write of d by statement id: 1 a row changed, 0 none, -1 error. */
static int
dir_write(struct store *st, enum stmt id, const struct dirrow *d)
{
	sqlite3_stmt	*s = store_stmt(st, id);

	dir_bind(s, d);
	if (store_exec(st, s) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0;
}

/* A stored user's email (the caller frees) and activity. */
struct old {
	char	*email;
	int	 active;
};

static int
on_old(void *arg, sqlite3_stmt *s)
{
	struct old	*o = arg;

	o->email = col_strdup(s, 0);
	o->active = sqlite3_column_int(s, 1);
	return 1;
}

/* What a stored user has: their email (caller frees) and activity; 0
 * found, 1 not, -1 error. */
static int
dir_old(struct store *st, const char *sync, const char *key, char **email,
    int *active)
{
	sqlite3_stmt	*s = store_stmt(st, ST_DIR_OLD);
	struct old	 o = { NULL, 0 };
	int		 rc;

	bind_text(s, 1, sync);
	bind_text(s, 2, key);
	rc = store_each(st, s, on_old, &o);
	*email = o.email;
	*active = o.active;
	return rc == 1 ? 0 : rc == 0 ? 1 : -1;
}

/* A stored user updated, counted: nothing, when d says an active user
 * keeps their email; else what the row had says. 1 updated, 0 not there,
 * -1 error. */
static int
dir_update(struct store *st, const struct dirrow *d)
{
	char	*email;
	int	 active, rc;

	if (d->email_same && d->active_same)
		return dir_write(st, ST_DIR_PUT_KEEPBOTH, d);
	if ((rc = dir_old(st, d->sync, d->key, &email, &active)) != 0)
		return rc < 0 ? -1 : 0;
	if ((rc = dir_write(st, d->email_same ? ST_DIR_PUT_KEEPMAIL :
	    ST_DIR_PUT, d)) > 0) {
		counts_slot(st, 1, d->sync, NULL)[1] += 1 - active;
		if (!d->email_same)
			count_email(st, d->sync, email, d->email);
	}
	free(email);
	return rc;
}

/*
 * A user inserted, or updated in place (d->stored says which to try
 * first), and the directory's counts changed with it.
 */
int
store_dir_put(struct store *st, const struct dirrow *d)
{
	int	 rc;

	if (store_sync_bump(st, d->sync) == -1)
		return -1;
	if (d->stored && (rc = dir_update(st, d)) != 0)
		return rc < 0 ? -1 : 0;
	if ((rc = dir_write(st, ST_DIR_INSERT, d)) > 0) {
		count_users(st, d->sync, d->email, 1, 1);
		return 0;
	}
	if (rc == 0 && !d->stored)	/* there after all */
		rc = dir_update(st, d);
	if (rc == 0)
		log_warnx("database: user %s of sync %s neither inserted nor "
		    "updated", d->key, d->sync);
	return rc > 0 ? 0 : -1;
}

int
store_dir_remove(struct store *st, const char *sync, const char *key,
    int deactivate, long long run)
{
	sqlite3_stmt	*s;
	int		 rc, i;

	if (store_sync_bump(st, sync) == -1)
		return -1;
	if (!deactivate) {	/* counted by the trigger users_uncounted */
		s = store_stmt(st, ST_DIR_DELETE);
		bind_text(s, 1, sync);
		bind_text(s, 2, key);
		return store_exec(st, s);
	}
	for (i = 0; i < 2; i++) {
		s = store_stmt(st, i ? ST_DIR_DEACTIVATE_ANY :
		    ST_DIR_DEACTIVATE);
		bind_text(s, 1, sync);
		bind_text(s, 2, key);
		sqlite3_bind_int64(s, 3, time(NULL));
		sqlite3_bind_int64(s, 4, run);
		if ((rc = store_exec(st, s)) == -1)
			return -1;
		if (sqlite3_changes(st->db) > 0) {
			if (i == 0)
				counts_slot(st, 1, sync, NULL)[1]--;
			break;
		}
	}
	return 0;
}

struct purgecb {
	void	(*fn)(void *, const char *, size_t);
	void	*arg;
	int	 n;
};

static int
on_purged(void *arg, sqlite3_stmt *s)
{
	struct purgecb	*cb = arg;

	if (cb->fn != NULL)
		cb->fn(cb->arg, (const char *)sqlite3_column_text(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0));
	cb->n++;
	return 0;
}

/*
 * Deactivated users past their grace period leave the directory; fn (if
 * not NULL) hears each key. Returns how many, or -1.
 */
int
store_dir_purge(struct store *st, const char *sync, time_t before,
    void (*fn)(void *, const char *, size_t), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_DIR_PURGE);
	struct purgecb	 cb = { fn, arg, 0 };

	bind_text(s, 1, sync);
	sqlite3_bind_int64(s, 2, before);
	if (store_each(st, s, on_purged, &cb) == -1)
		return -1;
	if (cb.n > 0 && store_sync_bump(st, sync) == -1)
		return -1;
	return cb.n;
}

static int
on_dump(void *arg, sqlite3_stmt *s)
{
	FILE	*out = arg;
	int	 i;

	for (i = 0; i < 7; i++)
		fprintf(out, "%s%s", i ? "\t" : "", col_text(s, i));
	fputc('\n', out);
	return 0;
}

/* Every user of a sync in key order, one line each (for tests). */
int
store_dir_dump(struct store *st, const char *sync, FILE *out)
{
	sqlite3_stmt	*s = store_stmt(st, ST_DIR_DUMP);

	bind_text(s, 1, sync);
	return store_each(st, s, on_dump, out) == 0 ? 0 : -1;
}

struct teamcb {
	void	(*fn)(void *, const char *, long long);
	void	*arg;
};

static int
on_team(void *arg, sqlite3_stmt *s)
{
	struct teamcb	*cb = arg;

	cb->fn(cb->arg, col_text(s, 0), sqlite3_column_int64(s, 1));
	return 0;
}

int
store_team_scan(struct store *st, const char *sync,
    void (*fn)(void *, const char *, long long), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_TEAM_SCAN);
	struct teamcb	 cb = { fn, arg };

	bind_text(s, 1, sync);
	return store_each(st, s, on_team, &cb) == 0 ? 0 : -1;
}

int
store_team_clear(struct store *st, const char *sync)
{
	sqlite3_stmt	*s = store_stmt(st, ST_TEAM_CLEAR);

	bind_text(s, 1, sync);
	return store_exec(st, s);
}

int
store_team_put(struct store *st, const char *sync, const char *name,
    long long members)
{
	sqlite3_stmt	*s = store_stmt(st, ST_TEAM_PUT);

	bind_text(s, 1, sync);
	bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, members);
	return store_exec(st, s);
}


/* The teams table made again from the active users. */
int
store_team_recount(struct store *st, const char *sync)
{
	sqlite3_stmt	*s;

	if (store_team_clear(st, sync) == -1)
		return -1;
	s = store_stmt(st, ST_TEAM_RECOUNT);
	bind_text(s, 1, sync);
	return store_exec(st, s);
}

/*
 * Items of the run stored done (applied or confirmed) as they were
 * inserted (the triggers count the changes of status after), added at
 * the commit: the run's row is written then anyway.
 */
int
store_run_done_add(struct store *st, long long run, long long n)
{
	char		 id[24];
	long long	*v;

	snprintf(id, sizeof(id), "%lld", run);
	v = counts_slot(st, 3, id, NULL);
	v[0] += n;
	v[1] = run;
	return 0;
}
