/*
 * The store's I/O tuning: what makes the big writes of a run cheaper
 * without changing what is stored or when it is durable. The rollback
 * journal for a first load, the page cache of a big transaction, its
 * pages written out before its commit, and the bulk load's indexes
 * dropped and built again. The WAL is checkpointed the plain way, by
 * SQLite on the run's connection: at the commit that leaves it longer
 * than 1,000 pages (wal_autocheckpoint's default), so a run's big
 * transaction is copied into the database as it commits.
 * Invariants: every switch here falls back to the plain path when it
 * cannot be had (a journal mode, a setting); durability stays SQLite's
 * (synchronous FULL); a crash in the middle leaves the schema as it was
 * (the indexes are dropped inside the caller's transaction).
 */
#include <stdio.h>
#include <strings.h>

#include <sqlite3.h>

#include "rostersync.h"
#include "store_int.h"

/* A transaction that writes much, with a page cache of its own size. */
int
store_begin_big(struct store *st)
{
	if (store_begin(st) == -1)
		return -1;
	/* Its pages go out as they are written (the key order walks the
	 * users table once): a cache of its size, not the run's. */
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
		log_warnx("database: %s", store_failed(st, err));
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
		log_warnx("database: %s", store_failed(st, err));
		rc = -1;
	}
	(void)exec_sql(st->db, sql_sort_in_memory, err, sizeof(err));
	return rc;
}

