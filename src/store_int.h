/*
 * The store's private interface: what store.c, store_io.c, store_dir.c,
 * store_run.c and store_query.c share and nothing else includes. The
 * statements' names (their SQL is store.c's one table), the connection
 * and what one transaction carries, and the helpers the files bind and
 * read with.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <sqlite3.h>

enum stmt {
	ST_SYNC_VERSION, ST_SYNC_BUMP,
	ST_RUN_INSERT, ST_RUN_UPDATE, ST_RUN_GET, ST_RUN_INTERRUPTED,
	ST_RUN_REPORTS_PENDING, ST_RUN_REPORTS_DONE, ST_RUN_COUNT,
	ST_RUN_LIST_NEW, ST_RUN_LIST_OLD, ST_RUN_APPLIED_SHA,
	ST_FILE_BY_SHA, ST_FILE_BY_STAT, ST_FILE_INSERT, ST_FILE_SET,
	ST_FILE_SOURCE_DONE, ST_FILE_GET, ST_FILE_LIST_STATE, ST_FILE_LOCAL,
	ST_DIR_SCAN, ST_DIR_FIELDS, ST_DIR_EMAIL, ST_DIR_ACTIVE, ST_DIR_PUT, ST_DIR_PUT_KEEPMAIL,
	ST_DIR_INSERT, ST_DIR_PUT_KEEPBOTH, ST_DIR_OLD, ST_DIR_DEACTIVATE_ANY,
	ST_DIR_DEACTIVATE, ST_DIR_DELETE, ST_DIR_PURGE, ST_DIR_DUMP,
	ST_TEAM_SCAN, ST_TEAM_CLEAR, ST_TEAM_PUT,
	ST_ITEM_INSERT, ST_CHANGE_INSERT, ST_ISSUE_INSERT, ST_ITEM_LIST,
	ST_ISSUE_LIST, ST_ITEM_STATUS_ALL, ST_LOG_PUT, ST_LOG_GET,
	ST_REPORT_BASE_USED,
	ST_RUN_SUPERSEDE, ST_RUN_DELETE_ITEMS, ST_RUN_DELETE_CHANGES,
	ST_RUN_DELETE_ISSUES, ST_ITEM_GET, ST_ITEM_FIELDS, ST_ITEM_FINISH,
	ST_ITEM_RESOLVE, ST_ITEM_TO_APPLY, ST_ITEM_CHANGES, ST_ATTEMPT_BEGIN,
	ST_ATTEMPT_END, ST_ATTEMPT_LIST, ST_ATTEMPT_OPEN, ST_TEAM_RECOUNT,
	ST_RUN_PENDING_ITEMS, ST_ITEM_LATER_DONE, ST_ITEM_COPY,
	ST_CHANGES_COPY, ST_RUN_FOR_FILE,
	ST_OBS_GET, ST_OBS_PUT, ST_OBS_FORGET, ST_OBS_NAMES,
	ST_PUB_ADD, ST_PUB_PENDING, ST_PUB_GET, ST_PUB_SET, ST_PUB_REQUEUE,
	ST_RUN_OUTCOME, ST_RUN_LATEST, ST_RUN_TAKE_FILE, ST_RUN_RECOVERED,
	ST_REFUSED_GET, ST_REFUSED_PUT, ST_REFUSED_LIST, ST_REFUSED_FORGET,
	ST_VIEW_SYNCS, ST_VIEW_FAILED, ST_VIEW_WARNINGS, ST_VIEW_EXTRAS,
	ST_VIEW_PAGES, ST_VIEW_WALK, ST_VIEW_WALK_NULL, ST_VIEW_DOMAIN,
	ST_VIEW_FIND, ST_VIEW_EXPORTED,
	ST_VIEW_USER_ITEMS, ST_VIEW_USER_ISSUES, ST_VIEW_CHANGES_SINCE,
	ST_VIEW_NAME, ST_RUN_CHANGED_FIELDS,
	ST_RUN_DONE_ADD, ST_DIRCOUNT_ADD, ST_DIRPAGES_ADD, ST_DIRCOUNT_ACTIVE,
	ST_DIRCOUNT_CLEAR, ST_DIRPAGES_CLEAR, ST_DIRCOUNT_RECOUNT,
	ST_DIRPAGES_RECOUNT,
	ST_RUN_COUNT_SYNC, ST_RUN_LIST_NEW_SYNC, ST_RUN_LIST_OLD_SYNC,
	ST__COUNT
};

/*
 * What this transaction changes in the directory's counts (dircount,
 * dirpages) and the runs' (n_done), added at its commit: "\001sync" ->
 * users and active users of a sync, "\002sync\0prefix" -> users of an
 * email page, "\003run" -> items done.
 */
struct counts {
	struct arena	 a;
	struct strmap	 map;
	const char	**key;		/* arena */
	size_t		*keylen;
	long long	(*n)[2];
	size_t		 nkeys;
};

struct store {
	sqlite3		*db;
	int		 readonly;
	sqlite3_stmt	*st[ST__COUNT];
	char		*bumped;	/* sync versioned in this transaction */
	int		 rollback;	/* store_journal_rollback() */
	struct counts	*counts;	/* this transaction's, or NULL */
	int		 big;		/* in store_begin_big()'s transaction */
	char		 err[MAX_ERRMSG]; /* the last error (store_failed()) */
};

/* SQL beside the statement table (store.c): the bulk load's indexes
 * dropped and built again, a journal mode set (the mode after it). */
extern const char sql_bulk_drop[], sql_bulk_build[], sql_sort_on_disk[],
    sql_sort_in_memory[], sql_journal_mode[];

/* store.c: the connection, statements, binding and reading. */
int		 exec_sql(sqlite3 *, const char *, char *err, size_t errlen);
/* The error SQLite just gave (msg, or its own), kept for store_errmsg()
 * and returned: a lock held past the busy timeout said as such. */
const char	*store_failed(struct store *, const char *msg);
int		 cache_size(struct store *, int kb);
sqlite3_stmt	*store_stmt(struct store *, enum stmt);
int		 store_exec(struct store *, sqlite3_stmt *);	/* 0 or -1 */
/* Step s's rows into fn until it says stop: its value, 0, or -1. */
int		 store_each(struct store *, sqlite3_stmt *,
		    int (*fn)(void *, sqlite3_stmt *), void *);
/* Readers of the first row for store_each() (store.c says into what). */
int		 each_int64(void *, sqlite3_stmt *);
int		 each_strdup(void *, sqlite3_stmt *);
int		 each_found(void *, sqlite3_stmt *);
/* The first column of every row, in *ids (the caller frees); how many. */
size_t		 store_ids(struct store *, sqlite3_stmt *, long long **);
size_t		 store_idcols(struct store *, sqlite3_stmt *, int, long long **);
void		 bind_text(sqlite3_stmt *, int, const char *);
void		 bind_textn(sqlite3_stmt *, int, const char *, size_t);
/* A column's text, "" for NULL (SQLite's memory, until the next step). */
const char	*col_text(sqlite3_stmt *, int);
/* A column's text, or NULL: the caller frees. */
char		*col_strdup(sqlite3_stmt *, int);

/* store_io.c: the I/O tuning's part in a transaction's end. */
void		 big_end(struct store *);

/* store_dir.c: this transaction's counts (struct counts). */
long long	*counts_slot(struct store *, int kind, const char *sync,
		    const char *email);
int		 counts_write(struct store *);
void		 counts_free(struct counts *);	/* NULL is fine */

/* store_run.c: rows read into a run, an item view, an issue view. */
void		 run_read(sqlite3_stmt *, struct run *);
void		 itemview_read(sqlite3_stmt *, int, struct itemview *);
void		 issueview_read(sqlite3_stmt *, int, struct issueview *);

#endif /* STORE_INT_H */
