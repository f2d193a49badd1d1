/*
 * The store's I/O tuning: what makes the big writes of a run cheaper
 * without changing what is stored or when it is durable. Early
 * writeback (a thread calling sync_file_range(2) during a big
 * transaction or a checkpoint), checkpoints deferred and run on a
 * connection and thread of their own, the rollback journal for a first
 * load, the page cache of a big transaction, and the bulk load's
 * indexes dropped and built again.
 * Invariants: every switch here falls back to the plain path when it
 * cannot be had (a thread, a file, a journal mode); durability stays
 * SQLite's (synchronous FULL); a crash in the middle leaves the schema
 * as it was (the indexes are dropped inside the caller's transaction).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rostersync.h"
#include "store_int.h"

/*
 * Writeback started early. While a big transaction writes the WAL, or a
 * checkpoint the database, a thread asks the kernel every NUDGE_MS to
 * start writing what is dirty (sync_file_range(2)), so that the fsync
 * that ends it finds little left to wait for. What is durable, and when,
 * stays SQLite's.
 */
#define NUDGE_MS	10

struct nudge {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 fd;
	int		 stop;
};

static void *
nudge_main(void *arg)
{
	struct nudge	*n = arg;
	struct timespec	 ts;

	pthread_mutex_lock(&n->mu);
	while (!n->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += NUDGE_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&n->cv, &n->mu, &ts);
		if (n->stop)
			break;
		pthread_mutex_unlock(&n->mu);
		sync_file_range(n->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		pthread_mutex_lock(&n->mu);
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

/* Nudge the database's file (suffix "") or its WAL ("-wal"); or NULL. */
static struct nudge *
nudge_start(struct store *st, const char *suffix)
{
	struct nudge	*n;
	const char	*db = sqlite3_db_filename(st->db, "main");
	char		*path;

	if (db == NULL || *db == '\0')
		return NULL;
	n = xcalloc(1, sizeof(*n));
	xasprintf(&path, "%s%s", db, suffix);
	n->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (n->fd == -1) {
		free(n);
		return NULL;
	}
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	if (thread_start("wal-writeback", &n->th, nudge_main, n) != 0) {
		pthread_mutex_destroy(&n->mu);
		pthread_cond_destroy(&n->cv);
		close(n->fd);
		free(n);
		return NULL;
	}
	return n;
}

void
nudge_stop(struct nudge *n)
{
	if (n == NULL)
		return;
	pthread_mutex_lock(&n->mu);
	n->stop = 1;
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->th, NULL);
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->cv);
	close(n->fd);
	free(n);
}

/* A transaction that writes much: its writes go to disk as they come. */
int
store_begin_big(struct store *st)
{
	if (store_begin(st) == -1)
		return -1;
	st->wal = nudge_start(st, st->rollback ? "" : "-wal");
	/* Its pages go out as they are written (the key order walks the
	 * users table once): a cache of its own size, not the run's. */
	(void)cache_size(st, STORE_BIG_CACHE_KB);
	st->big = 1;
	return 0;
}

/* PRAGMA journal_mode = mode; 0 if the mode is now mode. */
static int
journal_mode(struct store *st, const char *mode)
{
	sqlite3_stmt	*s;
	char		 q[64];
	int		 ok = 0;

	snprintf(q, sizeof(q), "%s%s", sql_journal_mode, mode);
	if (sqlite3_prepare_v2(st->db, q, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		ok = sqlite3_column_text(s, 0) != NULL &&
		    strcasecmp((const char *)sqlite3_column_text(s, 0),
		    mode) == 0;
	sqlite3_finalize(s);
	return ok ? 0 : -1;
}

/*
 * A first load writes a database of nothing into one of a million users:
 * in a rollback journal only the few pages that were there are saved
 * first, and the new ones are written once, into the database, where the
 * WAL would take them all twice (into the WAL, then a checkpoint). As
 * crash-safe (synchronous FULL). Only with no other connection open;
 * else the WAL it stays. store_journal_wal() goes back.
 */
static void
persist_wal(struct store *st, int on)
{
	sqlite3_file_control(st->db, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
}

void
store_journal_rollback(struct store *st)
{
	if (st->readonly)
		return;
	persist_wal(st, 0);	/* a WAL file kept would keep the WAL mode */
	if (journal_mode(st, "delete") == -1) {
		persist_wal(st, 1);
		return;
	}
	st->rollback = 1;
}

void
store_journal_wal(struct store *st)
{
	if (!st->rollback)
		return;
	st->rollback = 0;
	if (journal_mode(st, "wal") == -1)
		log_warnx("database: cannot go back to WAL mode: %s",
		    sqlite3_errmsg(st->db));
	persist_wal(st, 1);
}

/* After a big transaction, the run's cache again. */
void
big_end(struct store *st)
{
	if (st->big)
		(void)cache_size(st, STORE_CACHE_KB);
	st->big = 0;
}


/*
 * A bulk load (a first run into an empty directory) inserts a million
 * users and items at random places of three indexes; building them after
 * the rows, by sorting, is cheaper. Inside the caller's transaction, so a
 * crash leaves the indexes as they were. The definitions are the
 * schema's.
 */
int
store_bulk_begin(struct store *st)
{
	char	 err[MAX_ERRMSG];

	/* Rows appended in key order, then sorts: a small cache does. */
	(void)cache_size(st, STORE_BULK_CACHE_KB);
	if (exec_sql(st->db, sql_bulk_drop, err, sizeof(err)) == -1) {
		log_warnx("database: %s", err);
		return -1;
	}
	return 0;
}

int
store_bulk_end(struct store *st)
{
	char	 err[MAX_ERRMSG];
	int	 rc = 0;

	/* If the setting cannot change, the sorts stay in memory. */
	(void)exec_sql(st->db, sql_sort_on_disk, err, sizeof(err));
	if (exec_sql(st->db, sql_bulk_build, err, sizeof(err)) == -1) {
		log_warnx("database: %s", err);
		rc = -1;
	}
	(void)exec_sql(st->db, sql_sort_in_memory, err, sizeof(err));
	return rc;
}


/* The pages the open transaction changed, written out now (into the WAL)
 * rather than at its commit; a failure leaves them to the commit. */
void
store_flush(struct store *st)
{
	if (sqlite3_db_cacheflush(st->db) != SQLITE_OK)
		log_debug("database: flush: %s", sqlite3_errmsg(st->db));
}

/*
 * A big transaction's commit need not copy the WAL into the database
 * itself: after store_defer_checkpoint(), that waits for
 * store_checkpoint(), which the caller runs while other work goes on
 * (report.c), and which turns the automatic checkpoints back on.
 */
void
store_defer_checkpoint(struct store *st)
{
	sqlite3_wal_autocheckpoint(st->db, 0);
}

/* A PASSIVE checkpoint of st's database on db, nudged along. */
static void
checkpoint(struct store *st, sqlite3 *db)
{
	struct nudge	*n = nudge_start(st, "");

	if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL) != SQLITE_OK)
		log_debug("database: checkpoint: %s", sqlite3_errmsg(db));
	nudge_stop(n);
}

void
store_checkpoint(struct store *st)
{
	if (st->readonly)
		return;
	checkpoint(st, st->db);
	sqlite3_wal_autocheckpoint(st->db, 1000);	/* SQLite's default */
}

/*
 * The same on a connection and a thread of their own, while this one
 * goes on (the run's reports read it). Not across a fork(): a child
 * must not inherit SQLite's locks held by the thread.
 */
struct ckpt {
	struct store	*st;
	sqlite3		*db;
	pthread_t	 th;
};

static void *
ckpt_main(void *arg)
{
	struct ckpt	*c = arg;

	checkpoint(c->st, c->db);
	return NULL;
}

struct ckpt *
store_checkpoint_start(struct store *st)
{
	const char	*path = sqlite3_db_filename(st->db, "main");
	struct ckpt	*c;
	char		 err[MAX_ERRMSG];

	if (st->readonly || path == NULL || *path == '\0')
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->st = st;
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK ||
	    exec_sql(c->db, sql_checkpointer, err, sizeof(err)) == -1 ||
	    thread_start("checkpoint", &c->th, ckpt_main, c) != 0) {
		sqlite3_close(c->db);
		free(c);
		return NULL;
	}
	return c;
}

/* Wait for it (with NULL: checkpoint here instead). */
void
store_checkpoint_end(struct store *st, struct ckpt *c)
{
	if (c == NULL) {
		store_checkpoint(st);
		return;
	}
	pthread_join(c->th, NULL);
	sqlite3_close(c->db);
	free(c);
	sqlite3_wal_autocheckpoint(st->db, 1000);
}
