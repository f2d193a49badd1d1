/*
 * The store: one SQLite file in WAL mode holding the runs, their items and
 * issues, the directory (users and teams per sync) and the file ledger.
 * Every SQL statement of rostersync is in the table below, prepared once
 * and used with bound parameters only. The schema version lives in
 * PRAGMA user_version; migrations only go forward.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rostersync.h"

#define SCHEMA_VERSION	5
#define BUSY_TIMEOUT_MS	10000

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

struct nudge;
static void	 nudge_stop(struct nudge *);
static void	 bind_text(sqlite3_stmt *, int, const char *);
static void	 bind_textn(sqlite3_stmt *, int, const char *, size_t);
static const char *col_text(sqlite3_stmt *, int);
static void	 plan_steps(struct store *);
static int	 counts_write(struct store *);
static char	*col_strdup(sqlite3_stmt *, int);

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
	struct nudge	*wal;		/* store_begin_big() .. commit */
	int		 rollback;	/* store_journal_rollback() */
	struct counts	*counts;	/* this transaction's, or NULL */
	int		 big;		/* in store_begin_big()'s transaction */
};

/* Columns of runs in the order run_bind() and run_read() use. */
#define RUN_COLS "id, sync, trigger, status, source, file_name, sha256, " \
	"size, rows, file_id, started, finished, duration_ms, " \
	"n_create, n_update, n_manager, n_delete, n_team_create, " \
	"n_team_delete, n_team_member, i_user_skipped, " \
	"i_manager_not_found, i_manager_cycle, i_seat_limit, skipped, " \
	"impacted, active_before, tripped, max_deletes, " \
	"max_delete_percent, allow_deletes, dry_run, base_version, error, " \
	"report_base, approver, reason, parent_run, decided_at, encoding, " \
	"encoding_note, i_id_changed, max_update_percent, allow_updates, " \
	"allow_id_changes, decision, hint, failures, preview_base, " \
	"recovered_at"
#define RUN_NCOLS 50
/* history --source: the kind of source (sftp, dir), or any part of it. */
#define RUN_SOURCE "(?7 IS NULL OR CASE WHEN lower(?7) IN ('sftp', 'dir') " \
	"THEN source LIKE lower(?7) || ':%' ELSE instr(lower(source), " \
	"lower(?7)) > 0 END)"
/* The history's filters but the sync: started in [?2, ?3), statuses ?4. */
#define RUN_FILTER "started >= ?2 AND started < ?3 AND (?4 IS NULL OR " \
	"instr(?4, ',' || status || ',') > 0) AND " RUN_SOURCE
/* The items items_open holds (the words of its WHERE: a query names
 * them to use it), and their statuses. */
#define ITEM_OPEN(i)	i ".status NOT IN ('applied', 'confirmed')"
#define ITEM_OPEN_LIST	"('held', 'preview', 'pending', 'failed')"
/* An email's domain (all of it without an @), as users_domain has it. */
#define EMAIL_DOMAIN	"substr(email, instr(email, '@') + 1)"
/* An email's page in dirpages: its first DIRPAGE_CHARS characters. */
#define STR_(x)		#x
#define STR(x)		STR_(x)
#define DIRPAGE(e)	"substr(ifnull(" e ", ''), 1, " STR(DIRPAGE_CHARS) ")"

static const char *const sql[ST__COUNT] = {
	/*
	 * The per-user views (views.c) and the history (cli.c). Every one
	 * finds what it reads through an index (t_plans.sh checks each
	 * plan): the directory by email (users_email) or domain
	 * (users_domain), a run's items by key (items_run_key), the items
	 * not done (items_open), issues by key and type; counts come from
	 * dircount, dirpages and runs.n_done, which the schema's triggers
	 * and apply keep in the writer's transaction.
	 *
	 * An applied export run applied a whole export: not a dry run nor a
	 * retry; success, needs_attention or approved, or above_threshold
	 * with items applied (hold_deletes): done (its n_done) or failed.
	 * VIEW_EXPORT(r) says it of the run r without reading its items.
	 */
#define VIEW_EXPORT(r) "(" r ".dry_run = 0 AND " r ".trigger != 'retry' " \
	"AND (" r ".status IN ('success', 'needs_attention', 'approved') OR (" \
	r ".status = 'above_threshold' AND (" r ".n_done > 0 OR EXISTS " \
	"(SELECT 1 FROM items x INDEXED BY items_open WHERE x.status = " \
	"'failed' AND " ITEM_OPEN("x") " AND x.run_id = " r ".id)))))"
	/* Every sync of the runs, one seek of runs_sync_id each (a loose
	 * index scan), and any other with users, with what its runs say and
	 * its directory's counts. */
	[ST_VIEW_SYNCS] = "WITH RECURSIVE k(sync) AS (SELECT (SELECT "
	    "min(sync) FROM runs) UNION ALL SELECT (SELECT min(sync) FROM "
	    "runs WHERE sync > k.sync) FROM k WHERE k.sync IS NOT NULL), "
	    "s(sync) AS (SELECT sync FROM k WHERE sync IS NOT NULL UNION "
	    "SELECT sync FROM dircount WHERE users > 0) "
	    "SELECT s.sync, (SELECT count(*) FROM runs INDEXED BY "
	    "runs_running WHERE sync = s.sync AND status = 'in_progress'), "
	    "ifnull((SELECT r.id FROM runs r WHERE r.sync = s.sync AND "
	    VIEW_EXPORT("r") " ORDER BY r.started DESC, r.id DESC LIMIT 1), "
	    "0), ifnull((SELECT r.id FROM runs r WHERE r.sync = s.sync ORDER "
	    "BY r.started DESC, r.id DESC LIMIT 1), 0), ifnull(d.active, 0), "
	    "ifnull((SELECT r.id FROM runs r WHERE r.sync = s.sync AND "
	    "r.dry_run = 0 ORDER BY r.id DESC LIMIT 1), 0), "
	    "ifnull(d.users, 0) FROM s LEFT JOIN dircount d ON d.sync = "
	    "s.sync ORDER BY s.sync",
	/* Failed items of real runs that no later real run of the sync
	 * applied (the same key and type, applied or confirmed). */
	[ST_VIEW_FAILED] = "SELECT r.sync, i.key, i.type, i.run_id FROM "
	    "items i INDEXED BY items_open JOIN runs r ON r.id = i.run_id "
	    "WHERE i.status = 'failed' AND " ITEM_OPEN("i") " AND i.key IS "
	    "NOT NULL AND r.dry_run = 0 AND NOT EXISTS (SELECT 1 FROM runs l "
	    "JOIN items d INDEXED BY items_run_key ON d.run_id = l.id AND "
	    "d.key = i.key WHERE l.sync = r.sync AND l.id > i.run_id AND "
	    "l.dry_run = 0 AND d.type = i.type AND d.status IN ('applied', "
	    "'confirmed'))",
	/* Warning issues of applied export runs that no later applied
	 * export run of the sync names the key in (an item or an issue). */
	[ST_VIEW_WARNINGS] = "SELECT r.sync, s.key, s.run_id FROM issues s "
	    "INDEXED BY issues_type JOIN runs r ON r.id = s.run_id WHERE "
	    "s.type IN ('manager_not_found', 'manager_cycle', "
	    "'seat_limit_reached') AND s.key > '' AND " VIEW_EXPORT("r")
	    " AND NOT EXISTS (SELECT 1 FROM runs l WHERE l.sync = r.sync AND "
	    "l.id > s.run_id AND " VIEW_EXPORT("l") " AND (EXISTS (SELECT 1 "
	    "FROM items d INDEXED BY items_run_key WHERE d.run_id = l.id AND "
	    "d.key = s.key) OR EXISTS (SELECT 1 FROM issues e INDEXED BY "
	    "issues_key WHERE e.key = s.key AND e.run_id = l.id)))",
	/* Keys outside the directory named by an item not done or by an
	 * issue; gone: created once (an applied create of a real run). */
	[ST_VIEW_EXTRAS] = "WITH c(sync, key, email, name, run) AS (SELECT "
	    "r.sync, i.key, i.email, i.name, i.run_id FROM items i INDEXED BY "
	    "items_open JOIN runs r ON r.id = i.run_id WHERE i.status IN "
	    ITEM_OPEN_LIST " AND " ITEM_OPEN("i") " AND i.key IS NOT NULL "
	    "UNION ALL SELECT r.sync, s.key, NULL, NULL, s.run_id FROM issues "
	    "s INDEXED BY issues_key JOIN runs r ON r.id = s.run_id WHERE "
	    "s.key > ''), "
	    "x(sync, key, email, name, run) AS MATERIALIZED (SELECT sync, key, "
	    "max(email), max(name), max(run) FROM c WHERE NOT EXISTS (SELECT 1 "
	    "FROM users u WHERE u.sync = c.sync AND u.key = c.key) "
	    "GROUP BY sync, key) "
	    "SELECT x.sync, x.key, x.email, x.name, x.run, "
	    "ifnull(r.finished, r.started), EXISTS (SELECT 1 FROM runs l JOIN "
	    "items d INDEXED BY items_run_key ON d.run_id = l.id AND d.key = "
	    "x.key WHERE l.sync = x.sync AND l.dry_run = 0 AND l.n_create > 0 "
	    "AND d.type = 'create' AND d.status IN ('applied', 'confirmed')) "
	    "FROM x JOIN runs r ON r.id = x.run",
	/* How many users each sync has under each email prefix: where a
	 * page starts, without reading the rows before it. */
	[ST_VIEW_PAGES] = "SELECT prefix, sync, n FROM dirpages WHERE n > 0 "
	    "ORDER BY prefix, sync",
	/* The directory in (email, sync, key) order from an email on,
	 * offset rows skipped; users_email covers it. */
	[ST_VIEW_WALK] = "SELECT sync, key, email FROM users INDEXED BY "
	    "users_email WHERE email >= ?1 ORDER BY email, sync, key "
	    "LIMIT -1 OFFSET ?2",
	[ST_VIEW_WALK_NULL] = "SELECT sync, key, email FROM users INDEXED BY "
	    "users_email WHERE email IS NULL ORDER BY sync, key",
	/* Users whose email's domain is in [?1, ?2). */
	[ST_VIEW_DOMAIN] = "SELECT sync, key, email FROM users INDEXED BY "
	    "users_domain WHERE " EMAIL_DOMAIN " >= ?1 AND " EMAIL_DOMAIN
	    " < ?2",
	[ST_VIEW_NAME] = "SELECT name FROM users WHERE sync = ?1 AND key = ?2",
	/* Existing values a run changes: the update threshold's fields. */
	[ST_RUN_CHANGED_FIELDS] = "WITH ch(key, field) AS (SELECT i.key, "
	    "c.field FROM changes c JOIN items i ON i.run_id = c.run_id AND "
	    "i.seq = c.seq WHERE c.run_id = ?1 AND i.type IN ('update', "
	    "'manager') AND c.old != '' AND c.old IS NOT c.new) SELECT field, "
	    "count(DISTINCT key), (SELECT count(DISTINCT key) FROM ch) FROM ch "
	    "GROUP BY field ORDER BY 2 DESC, 1 LIMIT 3",
	[ST_VIEW_FIND] = "SELECT sync, key, email, name, manager, team, "
	    "active, fields FROM users WHERE email = ?3 AND "
	    "(?2 IS NULL OR sync = ?2) UNION SELECT sync, key, email, name, "
	    "manager, team, active, fields FROM users WHERE sync IN (SELECT "
	    "sync FROM dircount) AND key = ?1 AND (?2 IS NULL OR "
	    "sync = ?2) ORDER BY 1, 2",
	[ST_VIEW_EXPORTED] = "SELECT 1 FROM runs r WHERE r.id = ?1 AND "
	    VIEW_EXPORT("r"),
	[ST_VIEW_USER_ITEMS] = "SELECT i.run_id, i.seq, i.type, i.status, "
	    "i.key, i.email, i.name, i.team, i.error, c.field, c.old, c.new "
	    "FROM items i INDEXED BY items_run_key LEFT JOIN changes c ON "
	    "c.run_id = i.run_id AND c.seq = i.seq WHERE i.run_id IN (SELECT "
	    "id FROM runs WHERE sync = ?1) AND i.key = ?2 "
	    "ORDER BY i.run_id DESC, i.seq, c.n",
	[ST_VIEW_USER_ISSUES] = "SELECT s.run_id, s.seq, s.type, s.row, s.key, "
	    "s.field, s.message, s.fix, s.email, s.name FROM issues s INDEXED "
	    "BY issues_key JOIN runs r ON r.id = s.run_id WHERE r.sync = ?1 "
	    "AND s.key = ?2 ORDER BY s.run_id DESC, s.seq",
	/* Items applied or confirmed: counted with each run (n_done). */
	[ST_VIEW_CHANGES_SINCE] = "SELECT ifnull(sum(n_done), 0) FROM runs "
	    "WHERE started >= ?1 AND dry_run = 0",
	[ST_RUN_DONE_ADD] = "UPDATE runs SET n_done = n_done + ?2 "
	    "WHERE id = ?1",
	[ST_DIRCOUNT_ADD] = "INSERT INTO dircount(sync, users, active) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT(sync) DO UPDATE SET users = "
	    "users + excluded.users, active = active + excluded.active",
	[ST_DIRCOUNT_ACTIVE] = "SELECT ifnull((SELECT active FROM dircount "
	    "WHERE sync = ?1), 0)",
	/* A sync's counts made again from its users (after edits by hand). */
	[ST_DIRCOUNT_CLEAR] = "DELETE FROM dircount WHERE sync = ?1",
	[ST_DIRPAGES_CLEAR] = "DELETE FROM dirpages WHERE sync = ?1",
	[ST_DIRCOUNT_RECOUNT] = "INSERT INTO dircount SELECT ?1, count(*), "
	    "ifnull(sum(active), 0) FROM users WHERE sync = ?1",
	[ST_DIRPAGES_RECOUNT] = "INSERT INTO dirpages SELECT " DIRPAGE("email")
	    ", ?1, count(*) FROM users WHERE sync = ?1 GROUP BY 1",
	[ST_DIRPAGES_ADD] = "INSERT INTO dirpages(prefix, sync, n) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT(prefix, sync) DO UPDATE SET "
	    "n = n + excluded.n",

	[ST_SYNC_VERSION] = "SELECT version, nonce FROM syncs WHERE name = ?1",
	[ST_SYNC_BUMP] = "INSERT INTO syncs(name, version, nonce) "
	    "VALUES (?1, 1, random()) ON CONFLICT(name) DO UPDATE SET "
	    "version = version + 1, nonce = random()",

	[ST_RUN_INSERT] = "INSERT INTO runs(" RUN_COLS ") VALUES (NULL, ?2, "
	    "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
	    "?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, "
	    "?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42, "
	    "?43, ?44, ?45, ?46, ?47, ?48, ?49, ?50)",
	[ST_RUN_UPDATE] = "UPDATE runs SET sync = ?2, trigger = ?3, "
	    "status = ?4, source = ?5, file_name = ?6, sha256 = ?7, "
	    "size = ?8, rows = ?9, file_id = ?10, started = ?11, "
	    "finished = ?12, duration_ms = ?13, n_create = ?14, "
	    "n_update = ?15, n_manager = ?16, n_delete = ?17, "
	    "n_team_create = ?18, n_team_delete = ?19, n_team_member = ?20, "
	    "i_user_skipped = ?21, i_manager_not_found = ?22, "
	    "i_manager_cycle = ?23, i_seat_limit = ?24, skipped = ?25, "
	    "impacted = ?26, active_before = ?27, tripped = ?28, "
	    "max_deletes = ?29, max_delete_percent = ?30, "
	    "allow_deletes = ?31, dry_run = ?32, base_version = ?33, "
	    "error = ?34, report_base = ?35, approver = ?36, reason = ?37, "
	    "parent_run = ?38, decided_at = ?39, encoding = ?40, "
	    "encoding_note = ?41, i_id_changed = ?42, "
	    "max_update_percent = ?43, allow_updates = ?44, "
	    "allow_id_changes = ?45, decision = ?46, hint = ?47, "
	    "failures = ?48, preview_base = ?49, recovered_at = ?50 "
	    "WHERE id = ?1",
	[ST_RUN_GET] = "SELECT " RUN_COLS " FROM runs WHERE id = ?1",
	[ST_RUN_INTERRUPTED] = "UPDATE runs SET status = 'failed', "
	    "error = 'interrupted', finished = ?1 "
	    "WHERE status = 'in_progress'",
	[ST_RUN_REPORTS_PENDING] = "SELECT id FROM runs WHERE reports_done = 0"
	    " AND status NOT IN ('in_progress', 'queued') ORDER BY id",
	[ST_RUN_REPORTS_DONE] = "UPDATE runs SET reports_done = 1 "
	    "WHERE id = ?1",
	/* The history, with and without a sync: either way through an
	 * index on the start time (unset bounds are the extremes). */
	[ST_RUN_COUNT] = "SELECT count(*) FROM runs WHERE " RUN_FILTER,
	[ST_RUN_COUNT_SYNC] = "SELECT count(*) FROM runs WHERE sync = ?1 AND "
	    RUN_FILTER,
	[ST_RUN_LIST_NEW] = "SELECT " RUN_COLS " FROM runs WHERE " RUN_FILTER
	    " ORDER BY started DESC, id DESC LIMIT ?5 OFFSET ?6",
	[ST_RUN_LIST_NEW_SYNC] = "SELECT " RUN_COLS " FROM runs WHERE sync = "
	    "?1 AND " RUN_FILTER " ORDER BY started DESC, id DESC "
	    "LIMIT ?5 OFFSET ?6",
	[ST_RUN_LIST_OLD] = "SELECT " RUN_COLS " FROM runs WHERE " RUN_FILTER
	    " ORDER BY started ASC, id ASC LIMIT ?5 OFFSET ?6",
	[ST_RUN_LIST_OLD_SYNC] = "SELECT " RUN_COLS " FROM runs WHERE sync = "
	    "?1 AND " RUN_FILTER " ORDER BY started ASC, id ASC "
	    "LIMIT ?5 OFFSET ?6",
	/* Applied counts confirmed too: done, by the hook or by hand. */
	[ST_RUN_OUTCOME] = "SELECT type, status, count(*) FROM items WHERE "
	    "run_id = ?1 AND status IN ('applied', 'confirmed', 'failed') "
	    "GROUP BY type, status",
	[ST_RUN_LATEST] = "SELECT max(id) FROM runs WHERE sync = ?1",
	[ST_RUN_RECOVERED] = "UPDATE runs SET recovered_at = ?2 WHERE id = "
	    "(SELECT max(id) FROM runs WHERE sync = ?1) AND failures > 0 AND "
	    "recovered_at IS NULL RETURNING id, failures",
	[ST_RUN_TAKE_FILE] = "UPDATE runs SET status = 'cancelled', "
	    "reason = ?3, decision = 'supersede', decided_at = ?4, "
	    "finished = ?4, reports_done = 0 WHERE file_id = ?1 AND "
	    "id != ?2 AND "
	    "status = 'queued'",
	[ST_RUN_APPLIED_SHA] = "SELECT id FROM runs WHERE sync = ?1 AND "
	    "sha256 = ?2 AND dry_run = 0 AND status IN ('success', "
	    "'needs_attention', 'approved') ORDER BY id LIMIT 1",

	[ST_FILE_BY_SHA] = "SELECT id, state, run_id FROM files "
	    "WHERE sync = ?1 AND sha256 = ?2 AND state != 'duplicate' "
	    "ORDER BY id LIMIT 1",
	[ST_FILE_BY_STAT] = "SELECT id FROM files WHERE sync = ?1 AND "
	    "name = ?2 AND size = ?3 AND mtime = ?4 LIMIT 1",
	[ST_FILE_INSERT] = "INSERT INTO files(sync, name, size, mtime, "
	    "sha256, state, local, fetched_at, source_done) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
	[ST_FILE_SET] = "UPDATE files SET state = ?2, local = ?3, "
	    "run_id = coalesce(?4, run_id) WHERE id = ?1",
	[ST_FILE_SOURCE_DONE] = "UPDATE files SET source_done = 1 "
	    "WHERE id = ?1",
	[ST_FILE_GET] = "SELECT id, sync, name, size, mtime, sha256, state, "
	    "local, run_id, source_done FROM files WHERE id = ?1",
	[ST_FILE_LIST_STATE] = "SELECT id FROM files WHERE state = ?1 "
	    "ORDER BY mtime, id",
	[ST_FILE_LOCAL] = "SELECT id FROM files WHERE local = ?1",

	[ST_DIR_SCAN] = "SELECT key, hash, active FROM users WHERE sync = ?1",
	[ST_DIR_EMAIL] = "SELECT email FROM users WHERE sync = ?1 AND "
	    "key = ?2",
	[ST_DIR_FIELDS] = "SELECT fields FROM users WHERE sync = ?1 AND "
	    "key = ?2",
	[ST_DIR_ACTIVE] = "SELECT count(*) FROM users WHERE sync = ?1 AND "
	    "active = 1",
	/*
	 * A user written: inserted (a key there already is ignored), else
	 * updated in place; store_dir_put() counts either (struct counts).
	 */
	[ST_DIR_INSERT] = "INSERT OR IGNORE INTO users(sync, key, email, name, "
	    "manager, team, active, hash, fields, created_run, updated_run, "
	    "deactivated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9, "
	    "?9, NULL)",
	[ST_DIR_PUT] = "UPDATE users SET email = ?3, name = ?4, manager = ?5, "
	    "team = ?6, active = 1, hash = ?7, fields = ?8, updated_run = ?9, "
	    "deactivated_at = NULL WHERE sync = ?1 AND key = ?2",
	/* The same for a user whose email stays: not naming the column
	 * spares a page of the users_email index per update. */
	[ST_DIR_PUT_KEEPMAIL] = "UPDATE users SET name = ?4, manager = ?5, "
	    "team = ?6, active = 1, hash = ?7, fields = ?8, updated_run = ?9, "
	    "deactivated_at = NULL WHERE sync = ?1 AND key = ?2",
	/* And for an active user whose email stays: nothing to count. */
	[ST_DIR_PUT_KEEPBOTH] = "UPDATE users SET name = ?4, manager = ?5, "
	    "team = ?6, hash = ?7, fields = ?8, updated_run = ?9 "
	    "WHERE sync = ?1 AND key = ?2",
	[ST_DIR_OLD] = "SELECT email, active FROM users WHERE sync = ?1 AND "
	    "key = ?2",
	/* An active user deactivated (a change counted), else any. */
	[ST_DIR_DEACTIVATE] = "UPDATE users SET active = 0, "
	    "deactivated_at = ?3, updated_run = ?4 WHERE sync = ?1 AND "
	    "key = ?2 AND active = 1",
	[ST_DIR_DEACTIVATE_ANY] = "UPDATE users SET active = 0, "
	    "deactivated_at = ?3, updated_run = ?4 WHERE sync = ?1 AND "
	    "key = ?2",
	[ST_DIR_DELETE] = "DELETE FROM users WHERE sync = ?1 AND key = ?2",
	[ST_DIR_PURGE] = "DELETE FROM users WHERE sync = ?1 AND active = 0 "
	    "AND deactivated_at < ?2 RETURNING key",
	[ST_DIR_DUMP] = "SELECT key, email, name, manager, team, active, "
	    "fields FROM users WHERE sync = ?1 ORDER BY key",

	[ST_TEAM_SCAN] = "SELECT name, members FROM teams WHERE sync = ?1",
	[ST_TEAM_CLEAR] = "DELETE FROM teams WHERE sync = ?1",
	[ST_TEAM_PUT] = "INSERT INTO teams(sync, name, members) "
	    "VALUES (?1, ?2, ?3)",

	[ST_ITEM_INSERT] = "INSERT INTO items(run_id, seq, type, status, key, "
	    "email, name, team, error, payload) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8, ?9, ?10)",
	[ST_CHANGE_INSERT] = "INSERT INTO changes(run_id, seq, n, field, old, "
	    "new) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_ISSUE_INSERT] = "INSERT INTO issues(run_id, seq, type, row, key, "
	    "field, message, fix, email, name) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8, ?9, ?10)",
	[ST_ITEM_LIST] = "SELECT i.seq, i.type, i.status, i.key, i.email, "
	    "i.name, i.team, i.error, c.field, c.old, c.new FROM items i "
	    "LEFT JOIN changes c ON c.run_id = i.run_id AND c.seq = i.seq "
	    "WHERE i.run_id = ?1 ORDER BY i.seq, c.n",
	[ST_ISSUE_LIST] = "SELECT seq, type, row, key, field, message, fix, "
	    "email, name FROM issues WHERE run_id = ?1 ORDER BY seq",
	[ST_LOG_PUT] = "INSERT OR REPLACE INTO runlogs(run_id, text) "
	    "VALUES (?1, ?2)",
	[ST_LOG_GET] = "SELECT text FROM runlogs WHERE run_id = ?1",
	[ST_REPORT_BASE_USED] = "SELECT 1 FROM runs WHERE sync = ?1 AND "
	    "report_base = ?2 LIMIT 1",
	[ST_RUN_SUPERSEDE] = "UPDATE runs SET status = 'cancelled', "
	    "reason = ?3, decided_at = ?4, decision = 'supersede', "
	    "reports_done = 0 WHERE sync = ?1 AND id < ?2 AND "
	    "status IN ('pending_approval', 'above_threshold', "
	    "'above_update_threshold')",
	[ST_RUN_DELETE_ITEMS] = "DELETE FROM items WHERE run_id = ?1",
	[ST_RUN_DELETE_CHANGES] = "DELETE FROM changes WHERE run_id = ?1",
	[ST_RUN_DELETE_ISSUES] = "DELETE FROM issues WHERE run_id = ?1",
	[ST_ITEM_GET] = "SELECT type, status, ifnull(key, ''), ifnull(team, ''),"
	    " ifnull(payload, ''), ifnull(resolved_by, 0), ifnull(error, ''), "
	    "ifnull(email, ''), ifnull(name, '') FROM items "
	    "WHERE run_id = ?1 AND seq = ?2",
	[ST_ITEM_FIELDS] = "SELECT json_extract(payload, '$.fields') FROM "
	    "items WHERE run_id = ?1 AND seq = ?2",
	[ST_ITEM_FINISH] = "UPDATE OR FAIL items SET status = ?3, error = ?4, "
	    "applied_at = ?5 WHERE run_id = ?1 AND seq = ?2",
	[ST_ITEM_RESOLVE] = "UPDATE items SET resolved_by = ?3 "
	    "WHERE run_id = ?1 AND seq = ?2",
	[ST_ITEM_TO_APPLY] = "SELECT seq FROM items WHERE run_id = ?1 AND "
	    "(?2 = 0 OR seq = ?2) AND (status = 'pending' OR "
	    "(?3 AND status = 'failed')) AND resolved_by IS NULL ORDER BY seq",
	[ST_ITEM_CHANGES] = "SELECT field, ifnull(new, '') FROM changes "
	    "WHERE run_id = ?1 AND seq = ?2 ORDER BY n",
	[ST_ATTEMPT_BEGIN] = "INSERT INTO attempts(run_id, seq, n, started, "
	    "payload) VALUES (?1, ?2, (SELECT ifnull(max(n), 0) + 1 FROM "
	    "attempts WHERE run_id = ?1 AND seq = ?2), ?3, ?4)",
	[ST_ATTEMPT_END] = "UPDATE attempts SET exit_status = ?3, "
	    "response = ?4, error = ?5 WHERE run_id = ?1 AND seq = ?2 AND "
	    "n = (SELECT max(n) FROM attempts WHERE run_id = ?1 AND seq = ?2)",
	[ST_ATTEMPT_LIST] = "SELECT n, started, exit_status, "
	    "ifnull(response, ''), ifnull(error, '') FROM attempts "
	    "WHERE run_id = ?1 AND seq = ?2 ORDER BY n",
	[ST_ATTEMPT_OPEN] = "SELECT a.run_id, a.seq FROM attempts a JOIN items "
	    "i USING (run_id, seq) WHERE a.exit_status IS NULL AND "
	    "i.status = 'pending'",
	[ST_TEAM_RECOUNT] = "INSERT INTO teams(sync, name, members) SELECT "
	    "sync, team, count(*) FROM users WHERE sync = ?1 AND active = 1 "
	    "AND team != '' GROUP BY team",
	[ST_RUN_FOR_FILE] = "SELECT id, status FROM runs WHERE file_id = ?1 "
	    "ORDER BY id DESC LIMIT 1",
	[ST_ITEM_COPY] = "INSERT INTO items(run_id, seq, type, status, key, "
	    "email, name, team, payload) SELECT ?3, ?4, type, 'pending', key, "
	    "email, name, team, payload FROM items WHERE run_id = ?1 AND "
	    "seq = ?2",
	[ST_CHANGES_COPY] = "INSERT INTO changes(run_id, seq, n, field, old, "
	    "new) SELECT ?3, ?4, n, field, old, new FROM changes WHERE "
	    "run_id = ?1 AND seq = ?2",
	[ST_RUN_PENDING_ITEMS] = "SELECT DISTINCT i.run_id FROM items i JOIN "
	    "runs r ON r.id = i.run_id WHERE i.status = 'pending' AND "
	    "i.resolved_by IS NULL AND "
	    "r.status IN ('in_progress', 'needs_attention') ORDER BY i.run_id",
	[ST_ITEM_LATER_DONE] = "SELECT l.run_id FROM items o JOIN items l "
	    "INDEXED BY items_run_key ON l.key = o.key AND l.type = o.type "
	    "WHERE o.run_id = ?1 AND o.seq = ?2 AND l.run_id IN (SELECT id FROM runs WHERE id > ?1 "
	    "AND sync = (SELECT sync FROM runs WHERE id = ?1)) AND "
	    "l.status IN ('applied', 'confirmed') LIMIT 1",
	[ST_ITEM_STATUS_ALL] = "UPDATE OR FAIL items SET status = ?2 WHERE "
	    "run_id = ?1",

	[ST_OBS_GET] = "SELECT size, mtime, first_seen FROM observed "
	    "WHERE sync = ?1 AND name = ?2",
	[ST_OBS_PUT] = "INSERT OR REPLACE INTO observed(sync, name, size, "
	    "mtime, first_seen) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_OBS_FORGET] = "DELETE FROM observed WHERE sync = ?1 AND "
	    "name = ?2",
	[ST_OBS_NAMES] = "SELECT name FROM observed WHERE sync = ?1",

	[ST_REFUSED_GET] = "SELECT reason FROM refused WHERE sync = ?1 AND "
	    "name = ?2",
	[ST_REFUSED_PUT] = "INSERT INTO refused(sync, name, reason, "
	    "first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4) ON "
	    "CONFLICT(sync, name) DO UPDATE SET reason = ?3, last_seen = ?4",
	[ST_REFUSED_LIST] = "SELECT name, reason, first_seen FROM refused "
	    "WHERE sync = ?1 ORDER BY name",
	[ST_REFUSED_FORGET] = "DELETE FROM refused WHERE sync = ?1 AND "
	    "name = ?2",

	[ST_PUB_ADD] = "INSERT INTO publish(run_id, sync, path, state, "
	    "attempts, updated) SELECT ?1, ?2, ?3, 'pending', 0, ?4 "
	    "WHERE NOT EXISTS (SELECT 1 FROM publish WHERE run_id = ?1 AND "
	    "path = ?3)",
	[ST_PUB_PENDING] = "SELECT id FROM publish WHERE state = 'pending' "
	    "AND (?1 = 0 OR run_id = ?1) ORDER BY id",
	[ST_PUB_GET] = "SELECT run_id, sync, path, attempts FROM publish "
	    "WHERE id = ?1",
	[ST_PUB_SET] = "UPDATE publish SET state = ?2, attempts = attempts + "
	    "?3, last_error = ?4, updated = ?5 WHERE id = ?1",
	[ST_PUB_REQUEUE] = "UPDATE publish SET state = 'pending', "
	    "attempts = 0, last_error = NULL, updated = ?3 "
	    "WHERE run_id = ?1 AND path = ?2",
};

static const char schema_v1[] =
    "CREATE TABLE syncs(name TEXT PRIMARY KEY, version INTEGER NOT NULL);"
    "CREATE TABLE files(id INTEGER PRIMARY KEY, sync TEXT NOT NULL, "
    "  name TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, "
    "  sha256 TEXT NOT NULL, state TEXT NOT NULL, local TEXT, "
    "  fetched_at INTEGER NOT NULL, run_id INTEGER, "
    "  source_done INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX files_sha ON files(sync, sha256);"
    "CREATE INDEX files_stat ON files(sync, name, size, mtime);"
    "CREATE INDEX files_state ON files(state);"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, sync TEXT NOT NULL, "
    "  trigger TEXT NOT NULL, status TEXT NOT NULL, source TEXT, "
    "  file_name TEXT, sha256 TEXT, size INTEGER, rows INTEGER, "
    "  file_id INTEGER, started INTEGER NOT NULL, finished INTEGER, "
    "  duration_ms INTEGER, n_create INTEGER, n_update INTEGER, "
    "  n_manager INTEGER, n_delete INTEGER, n_team_create INTEGER, "
    "  n_team_delete INTEGER, n_team_member INTEGER, "
    "  i_user_skipped INTEGER, i_manager_not_found INTEGER, "
    "  i_manager_cycle INTEGER, i_seat_limit INTEGER, skipped INTEGER, "
    "  impacted INTEGER, active_before INTEGER, tripped INTEGER, "
    "  max_deletes INTEGER, max_delete_percent REAL, "
    "  allow_deletes INTEGER, dry_run INTEGER, base_version INTEGER, "
    "  error TEXT, report_base TEXT, approver TEXT, reason TEXT, "
    "  reports_done INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX runs_sync ON runs(sync, started);"
    "CREATE INDEX runs_started ON runs(started);"
    "CREATE TABLE items(run_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "  type TEXT NOT NULL, status TEXT NOT NULL, key TEXT, email TEXT, "
    "  name TEXT, team TEXT, error TEXT, PRIMARY KEY(run_id, seq)) "
    "  WITHOUT ROWID;"
    "CREATE TABLE changes(run_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "  n INTEGER NOT NULL, field TEXT NOT NULL, old TEXT, new TEXT, "
    "  PRIMARY KEY(run_id, seq, n)) WITHOUT ROWID;"
    "CREATE TABLE issues(run_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "  type TEXT NOT NULL, row INTEGER, key TEXT, field TEXT, "
    "  message TEXT, fix TEXT, PRIMARY KEY(run_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE users(sync TEXT NOT NULL, key TEXT NOT NULL, email TEXT,"
    "  name TEXT, manager TEXT, team TEXT, active INTEGER NOT NULL, "
    "  hash INTEGER NOT NULL, fields TEXT NOT NULL, created_run INTEGER, "
    "  updated_run INTEGER, deactivated_at INTEGER, "
    "  PRIMARY KEY(sync, key)) WITHOUT ROWID;"
    "CREATE INDEX users_email ON users(email);"
    "CREATE TABLE teams(sync TEXT NOT NULL, name TEXT NOT NULL, "
    "  members INTEGER NOT NULL, PRIMARY KEY(sync, name)) WITHOUT ROWID;"
    "CREATE TABLE runlogs(run_id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
    /* A file seen at a source: when its size and mtime were first seen. */
    "CREATE TABLE observed(sync TEXT NOT NULL, name TEXT NOT NULL, "
    "  size INTEGER NOT NULL, mtime INTEGER NOT NULL, "
    "  first_seen INTEGER NOT NULL, PRIMARY KEY(sync, name)) WITHOUT ROWID;"
    /* Report files to upload to a source; retried until done. */
    "CREATE TABLE publish(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL,"
    "  sync TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL, "
    "  attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, "
    "  updated INTEGER);"
    "CREATE INDEX publish_state ON publish(state);"
    /* The apply hook's exchange per item, and decisions on runs. */
    "CREATE TABLE attempts(run_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "  n INTEGER NOT NULL, started INTEGER NOT NULL, exit_status INTEGER, "
    "  payload TEXT, response TEXT, error TEXT, "
    "  PRIMARY KEY(run_id, seq, n)) WITHOUT ROWID;"
    "ALTER TABLE runs ADD COLUMN parent_run INTEGER;"
    "ALTER TABLE runs ADD COLUMN decided_at INTEGER;"
    "ALTER TABLE items ADD COLUMN applied_at INTEGER;"
    "ALTER TABLE items ADD COLUMN payload TEXT;"
    "ALTER TABLE items ADD COLUMN resolved_by INTEGER;"
    "CREATE INDEX items_key ON items(key);"
    "CREATE INDEX users_inactive ON users(sync, deactivated_at) "
    "  WHERE active = 0;"
    "CREATE INDEX items_pending ON items(run_id, seq) "
    "  WHERE status = 'pending';";

/* v2: a random nonce changed with every version (the key snapshot's
 * check, snapshot.c). */
static const char schema_v2[] =
    "ALTER TABLE syncs ADD COLUMN nonce INTEGER NOT NULL DEFAULT 0;";

/*
 * v3: items found by key within a run. An index on the key alone took a
 * run's items at random places among every item ever stored (a daily run
 * rewrote all its pages, more each year); under the run id they land
 * together. A user's history seeks once per run of the sync.
 */
static const char schema_v3[] =
    "DROP INDEX items_key;"
    "CREATE INDEX items_run_key ON items(run_id, key);";

/*
 * v4: how the input's bytes were read (a CSV that is not UTF-8 is read
 * as Windows-1252, and the run says so), the id_changed issues, the
 * update threshold, and the one-time overrides of both; every decision
 * with what it was (approve, reject, cancel, override, supersede); a
 * failed run's hint and, for a source that stays down, how many times in
 * a row it failed and when it answered again; an approved run's preview
 * report; the email and name of the row an issue is about; files a
 * source holds that are refused (a bad name, a link, a FIFO).
 */
static const char schema_v4[] =
    "ALTER TABLE runs ADD COLUMN encoding TEXT;"
    "ALTER TABLE runs ADD COLUMN encoding_note TEXT;"
    "ALTER TABLE runs ADD COLUMN i_id_changed INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN max_update_percent REAL NOT NULL "
    "DEFAULT 25;"
    "ALTER TABLE runs ADD COLUMN allow_updates INTEGER NOT NULL "
    "DEFAULT -1;"
    "ALTER TABLE runs ADD COLUMN allow_id_changes INTEGER NOT NULL "
    "DEFAULT -1;"
    "ALTER TABLE runs ADD COLUMN decision TEXT;"
    "ALTER TABLE runs ADD COLUMN hint TEXT;"
    "ALTER TABLE runs ADD COLUMN failures INTEGER;"
    "ALTER TABLE runs ADD COLUMN preview_base TEXT;"
    "ALTER TABLE runs ADD COLUMN recovered_at INTEGER;"
    "UPDATE runs SET decision = CASE status WHEN 'approved' THEN 'approve' "
    "  WHEN 'rejected' THEN 'reject' WHEN 'cancelled' THEN CASE WHEN "
    "  approver IS NULL THEN 'supersede' ELSE 'cancel' END "
    /* approved, then its hook's items cut short by a crash */
    "  WHEN 'in_progress' THEN 'approve' WHEN 'needs_attention' THEN "
    "  'approve' END WHERE decided_at IS NOT NULL;"
    "ALTER TABLE issues ADD COLUMN email TEXT;"
    "ALTER TABLE issues ADD COLUMN name TEXT;"
    "CREATE TABLE refused(sync TEXT NOT NULL, name TEXT NOT NULL, "
    "  reason TEXT NOT NULL, first_seen INTEGER NOT NULL, "
    "  last_seen INTEGER NOT NULL, PRIMARY KEY(sync, name)) WITHOUT ROWID;";

/*
 * The directory's counts, kept in the transaction that writes users (a
 * crash leaves them with the rows): users and active users per sync, and
 * users per sync and email page (the first DIRPAGE_CHARS characters),
 * which say where a page of the users view starts without reading the
 * rows before it. store.c counts what it inserts and changes and adds
 * that at the commit (struct counts); a deletion is counted by a trigger,
 * so that a row deleted by hand is too. A trigger on insertions and
 * updates cost the daily run's writes a quarter more work: SQLite gives
 * a statement with a trigger its own journal (a copy of each page it
 * touches) when the statement might fail halfway, and computing an email
 * page (substr(), a function) might.
 */
#define USERS_UNCOUNTED_TRIGGER \
    "CREATE TRIGGER users_uncounted AFTER DELETE ON users BEGIN " \
    "  UPDATE OR IGNORE dircount SET users = users - 1, active = active - " \
    "  old.active WHERE sync = old.sync; " \
    "  UPDATE OR IGNORE dirpages SET n = n - 1 WHERE prefix = " \
    DIRPAGE("old.email") " AND sync = old.sync; " \
    "END;"
/*
 * v5: the views answer through indexes (views.c, store.c's view
 * statements): the directory's counts (above), the domain of emails,
 * the runs of a sync by id and those in progress, the items not done
 * (failed, held, previewed, pending), issues by key and by type, and per
 * run the items done (applied or confirmed), counted where the items are
 * written and kept by triggers when their status changes.
 */
static const char schema_v5[] =
    "CREATE TABLE dircount(sync TEXT NOT NULL PRIMARY KEY, "
    "  users INTEGER NOT NULL, active INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE dirpages(prefix TEXT NOT NULL, sync TEXT NOT NULL, "
    "  n INTEGER NOT NULL, PRIMARY KEY(prefix, sync)) WITHOUT ROWID;"
    "INSERT INTO dircount SELECT sync, count(*), sum(active) FROM users "
    "  GROUP BY sync;"
    "INSERT INTO dirpages SELECT " DIRPAGE("email") ", sync, count(*) "
    "  FROM users GROUP BY 1, 2;"
    USERS_UNCOUNTED_TRIGGER
    "CREATE INDEX users_domain ON users(" EMAIL_DOMAIN ");"
    "CREATE INDEX runs_sync_id ON runs(sync);"
    "CREATE INDEX runs_running ON runs(sync) WHERE status = 'in_progress';"
    "CREATE INDEX items_open ON items(status, run_id, key) WHERE "
    "status NOT IN ('applied', 'confirmed');"
    "CREATE INDEX issues_key ON issues(key, run_id);"
    "CREATE INDEX issues_type ON issues(type, run_id);"
    "ALTER TABLE runs ADD COLUMN n_done INTEGER NOT NULL DEFAULT 0;"
    "UPDATE runs SET n_done = (SELECT count(*) FROM items WHERE run_id = "
    "  runs.id AND status IN ('applied', 'confirmed'));"
    /* (iif() is an expression, not a function: see above) */
    "CREATE TRIGGER items_done AFTER UPDATE OF status ON items "
    "WHEN (old.status IN ('applied', 'confirmed')) IS NOT "
    "(new.status IN ('applied', 'confirmed')) BEGIN "
    "  UPDATE OR IGNORE runs SET n_done = n_done + iif(new.status IN "
    "  ('applied', 'confirmed'), 1, -1) WHERE id = new.run_id; "
    "END;"
    "CREATE TRIGGER items_undone AFTER DELETE ON items "
    "WHEN old.status IN ('applied', 'confirmed') BEGIN "
    "  UPDATE OR IGNORE runs SET n_done = n_done - 1 WHERE id = old.run_id; "
    "END;";

/* Forward migrations: migrations[v] brings version v to v + 1. */
static const char *const migrations[SCHEMA_VERSION] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
	schema_v5,
};

static int
exec_sql(sqlite3 *db, const char *q, char *err, size_t errlen)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
user_version(sqlite3 *db)
{
	sqlite3_stmt	*s;
	int		 v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int
migrate(sqlite3 *db, char *err, size_t errlen)
{
	char	 q[64];
	int	 v;

	if ((v = user_version(db)) < 0) {
		snprintf(err, errlen, "cannot read the schema version: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	if (v > SCHEMA_VERSION) {
		snprintf(err, errlen, "the database has schema version %d, "
		    "newer than this rostersync (%d): upgrade rostersync", v,
		    SCHEMA_VERSION);
		return -1;
	}
	for (; v < SCHEMA_VERSION; v++) {
		if (exec_sql(db, "BEGIN IMMEDIATE", err, errlen) == -1)
			return -1;
		snprintf(q, sizeof(q), "PRAGMA user_version = %d", v + 1);
		if (exec_sql(db, migrations[v], err, errlen) == -1 ||
		    exec_sql(db, q, err, errlen) == -1) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		if (exec_sql(db, "COMMIT", err, errlen) == -1)
			return -1;
	}
	return 0;
}

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
static void
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

/*
 * Before SQLite's first use: each connection is used by one thread at a
 * time, so it needs no lock of its own (multi-thread mode), and nothing
 * reads SQLite's memory statistics, which take a global lock per
 * allocation.  Once SQLite is initialised these calls do nothing.
 */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void
sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* SQLite's page cache of st, kb kilobytes at most. */
static int
cache_size(struct store *st, int kb)
{
	char	 q[64], err[MAX_ERRMSG];

	snprintf(q, sizeof(q), "PRAGMA cache_size = -%d", kb);
	return exec_sql(st->db, q, err, sizeof(err));
}

struct store *
store_open(const char *path, int readonly, char *err, size_t errlen)
{
	struct store	*st;
	int		 flags;

	pthread_once(&sqlite_once, sqlite_setup);
	st = xcalloc(1, sizeof(*st));
	st->readonly = readonly;
	flags = readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	flags |= SQLITE_OPEN_NOFOLLOW;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(st->db, 1);
	if (!readonly) {
		/* Keep the -wal and -shm files when this connection closes, so
		 * auditors (read-only, no write access to the directory) can
		 * still open the database. */
		int persist = 1;

		sqlite3_file_control(st->db, "main", SQLITE_FCNTL_PERSIST_WAL,
		    &persist);
		if (exec_sql(st->db, "PRAGMA journal_mode = WAL; "
		    "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
		    "PRAGMA temp_store = MEMORY", err, errlen) == -1 ||
		    cache_size(st, STORE_CACHE_KB) == -1 ||
		    migrate(st->db, err, errlen) == -1)
			goto fail;
	} else if (user_version(st->db) != SCHEMA_VERSION) {
		snprintf(err, errlen, "database %s has schema version %d, "
		    "expected %d (run rostersync once to migrate it)", path,
		    user_version(st->db), SCHEMA_VERSION);
		goto fail;
	}
	return st;
fail:
	store_close(st);
	return NULL;
}

void
store_close(struct store *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	nudge_stop(st->wal);
	counts_free(st->counts);
	plan_steps(st);
	for (i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(st->st[i]);
	sqlite3_close(st->db);
	free(st->bumped);
	free(st);
}

const char *
store_errmsg(struct store *st)
{
	return sqlite3_errmsg(st->db);
}

/*
 * For the tests of query plans (t_plans.sh): with ROSTERSYNC_PLANS naming
 * a file, each statement prepared is appended to it ("SQL text"), then
 * its EXPLAIN QUERY PLAN, one "PLAN detail" a line; when the store
 * closes, how many steps of SQLite's virtual machine each ran ("STEPS n
 * text"): a count of the work done, the same on any machine.
 */
static void
plan_note(struct store *st, const char *q)
{
	const char	*path = getenv("ROSTERSYNC_PLANS");
	sqlite3_stmt	*s;
	char		*eq;
	FILE		*fp;

	if (path == NULL || (fp = fopen(path, "ae")) == NULL)
		return;
	fprintf(fp, "SQL %s\n", q);
	xasprintf(&eq, "EXPLAIN QUERY PLAN %s", q);
	if (sqlite3_prepare_v2(st->db, eq, -1, &s, NULL) == SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW)
			fprintf(fp, "PLAN %s\n", col_text(s, 3));
		sqlite3_finalize(s);
	}
	free(eq);
	fclose(fp);
}

static void
plan_steps(struct store *st)
{
	const char	*path = getenv("ROSTERSYNC_PLANS");
	FILE		*fp;
	size_t		 i;

	if (path == NULL || (fp = fopen(path, "ae")) == NULL)
		return;
	for (i = 0; i < ST__COUNT; i++)
		if (st->st[i] != NULL)
			fprintf(fp, "STEPS %d %s\n", sqlite3_stmt_status(st->st[i],
			    SQLITE_STMTSTATUS_VM_STEP, 0), sql[i]);
	fclose(fp);
}

/* The prepared statement for id, reset and with its bindings cleared. */
static sqlite3_stmt *
store_stmt(struct store *st, enum stmt id)
{
	sqlite3_stmt	*s = st->st[id];

	if (s == NULL) {
		if (sqlite3_prepare_v3(st->db, sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
			fatalx("store: cannot prepare statement %d: %s",
			    (int)id, sqlite3_errmsg(st->db));
		st->st[id] = s;
		plan_note(st, sql[id]);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int
store_exec(struct store *st, sqlite3_stmt *s)
{
	int	 rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("database: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

int
store_begin(struct store *st)
{
	char	 err[MAX_ERRMSG];

	free(st->bumped);
	st->bumped = NULL;
	if (exec_sql(st->db, "BEGIN IMMEDIATE", err, sizeof(err)) == -1) {
		log_warnx("database: cannot begin a transaction: %s", err);
		return -1;
	}
	return 0;
}

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

static void
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

	snprintf(q, sizeof(q), "PRAGMA journal_mode = %s", mode);
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
static void
big_end(struct store *st)
{
	if (st->big)
		(void)cache_size(st, STORE_CACHE_KB);
	st->big = 0;
}

int
store_commit(struct store *st)
{
	char	 err[MAX_ERRMSG];
	int	 rc;

	if (counts_write(st) == -1) {
		store_rollback(st);
		return -1;
	}
	rc = exec_sql(st->db, "COMMIT", err, sizeof(err));

	nudge_stop(st->wal);
	st->wal = NULL;
	big_end(st);
	if (rc == -1) {
		log_warnx("database: cannot commit: %s", err);
		store_rollback(st);
		return -1;
	}
	free(st->bumped);
	st->bumped = NULL;
	return 0;
}

void
store_rollback(struct store *st)
{
	nudge_stop(st->wal);
	st->wal = NULL;
	counts_free(st->counts);
	st->counts = NULL;
	big_end(st);
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	free(st->bumped);
	st->bumped = NULL;
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
	if (exec_sql(st->db, "DROP INDEX users_email; DROP INDEX items_run_key; "
	    "DROP INDEX users_domain", err, sizeof(err)) == -1) {
		log_warnx("database: %s", err);
		return -1;
	}
	return 0;
}

int
store_bulk_end(struct store *st)
{
	char	 err[MAX_ERRMSG];
	int	 rc;

	/* The sorts spill to temporary files as SQLite's cache fills
	 * (in memory, a sort holds the whole index: 76 MB of a million
	 * users); if the setting cannot change, they stay in memory. */
	(void)exec_sql(st->db, "PRAGMA temp_store = FILE", err, sizeof(err));
	/* One helper thread sorts beside this one (a quarter faster on
	 * a million rows). */
	rc = exec_sql(st->db, "PRAGMA threads = 1; "
	    "CREATE INDEX users_email ON users(email); "
	    "CREATE INDEX items_run_key ON items(run_id, key); "
	    "CREATE INDEX users_domain ON users(" EMAIL_DOMAIN "); "
	    "PRAGMA threads = 0", err, sizeof(err));
	if (rc == -1)
		log_warnx("database: %s", err);
	(void)exec_sql(st->db, "PRAGMA temp_store = MEMORY", err, sizeof(err));
	return rc;
}

/* ------------------------------------------------------------- counts */

/* The two counts under key kind (1: a sync's users and active users, 2:
 * users of sync under email's page, 3: items done of the run numbered
 * sync, and that number), made 0 the first time. */
static long long *
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
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
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
static int
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
	    exec_sql(c->db, "PRAGMA synchronous = FULL", err,
	    sizeof(err)) == -1 || thread_start("checkpoint", &c->th, ckpt_main, c) != 0) {
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

int
store_integrity(struct store *st, char *out, size_t outlen)
{
	sqlite3_stmt	*s;
	int		 ok = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(s, 0);

		snprintf(out, outlen, "%s", r ? r : "");
		ok = r && strcmp(r, "ok") == 0 ? 0 : -1;
	}
	sqlite3_finalize(s);
	return ok;
}

/* --------------------------------------------------------------- bind */

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static void
bind_textn(sqlite3_stmt *s, int i, const char *v, size_t n)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, (int)n, SQLITE_STATIC);
}

static char *
col_strdup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? xstrdup((const char *)t) : NULL;
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? (const char *)t : "";
}

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

static void
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

/* 0 found, 1 no such run, -1 error. Free with run_free(). */
int
store_run_get(struct store *st, long long id, struct run *r)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_GET);
	int		 rc;

	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		run_read(s, r);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? 1 : -1;
}

int
store_run_reports_done(struct store *st, long long id)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_REPORTS_DONE);

	sqlite3_bind_int64(s, 1, id);
	return store_exec(st, s);
}

/* Runs left In Progress or Queued by a process that died: Failed. */
int
store_runs_interrupted(struct store *st)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_INTERRUPTED);

	sqlite3_bind_int64(s, 1, time(NULL));
	if (store_exec(st, s) == -1)
		return -1;
	return sqlite3_changes(st->db);
}

/* Ids of finished runs whose report files were not all written. */
size_t
store_runs_reports_pending(struct store *st, long long **ids)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_REPORTS_PENDING);
	size_t		 n = 0;

	*ids = NULL;
	while (sqlite3_step(s) == SQLITE_ROW) {
		*ids = xrealloc(*ids, (n + 1) * sizeof(**ids));
		(*ids)[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	return n;
}

/* The earliest run that applied this content for the sync, or 0. */
long long
store_run_applied_sha(struct store *st, const char *sync, const char *sha)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_APPLIED_SHA);
	long long	 id = 0;

	bind_text(s, 1, sync);
	bind_text(s, 2, sha);
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return id;
}

/* 0, or -1; r->have_outcome says it is filled. */
int
store_run_outcome(struct store *st, struct run *r)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_OUTCOME);
	int		 rc, t, k;

	memset(r->applied, 0, sizeof(r->applied));
	memset(r->failed, 0, sizeof(r->failed));
	r->confirmed = 0;
	sqlite3_bind_int64(s, 1, r->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		t = itemtype_parse(col_text(s, 0));
		k = itemstatus_parse(col_text(s, 1));
		if (t < 0 || k < 0)
			continue;
		if (k == IST_FAILED)
			r->failed[t] += sqlite3_column_int64(s, 2);
		else
			r->applied[t] += sqlite3_column_int64(s, 2);
		if (k == IST_CONFIRMED)
			r->confirmed += sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	r->have_outcome = rc == SQLITE_DONE;
	return r->have_outcome ? 0 : -1;
}

long long
store_run_latest(struct store *st, const char *sync)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_LATEST);
	long long	 id = 0;

	bind_text(s, 1, sync);
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return id;
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
	long long	 id = 0;

	bind_text(s, 1, sync);
	sqlite3_bind_int64(s, 2, now);
	if (sqlite3_step(s) == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		*failures = sqlite3_column_int64(s, 1);
		while (sqlite3_step(s) == SQLITE_ROW)
			;
	}
	sqlite3_reset(s);
	return id;
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

/* ------------------------------------------------------------- ledger */

/* The first ledger entry of this content for the sync: 0 none, 1 found. */
int
store_file_by_sha(struct store *st, const char *sync, const char *sha,
    long long *id, char *state, size_t statelen, long long *run)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_BY_SHA);
	int		 found = 0;

	bind_text(s, 1, sync);
	bind_text(s, 2, sha);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		snprintf(state, statelen, "%s", col_text(s, 1));
		*run = sqlite3_column_int64(s, 2);
		found = 1;
	}
	sqlite3_reset(s);
	return found;
}

/* The ledger entry of a file with this name, size and mtime, or 0. */
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
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
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

/* 0 found, 1 none. Free with ledger_free(). */
int
store_file_get(struct store *st, long long id, struct ledger *l)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_GET);
	int		 found = 0;

	memset(l, 0, sizeof(*l));
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
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
		found = 1;
	}
	sqlite3_reset(s);
	return found ? 0 : 1;
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
	size_t		 n = 0;

	*ids = NULL;
	bind_text(s, 1, state);
	while (sqlite3_step(s) == SQLITE_ROW) {
		*ids = xrealloc(*ids, (n + 1) * sizeof(**ids));
		(*ids)[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	return n;
}

int
store_file_known_local(struct store *st, const char *local)
{
	sqlite3_stmt	*s = store_stmt(st, ST_FILE_LOCAL);
	int		 found;

	bind_text(s, 1, local);
	found = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	return found;
}

/* ---------------------------------------------------------- directory */

long long
store_sync_version(struct store *st, const char *sync)
{
	uint64_t	 nonce;

	return store_sync_state(st, sync, &nonce);
}

/* The directory's version and the random nonce that came with it. */
long long
store_sync_state(struct store *st, const char *sync, uint64_t *nonce)
{
	sqlite3_stmt	*s = store_stmt(st, ST_SYNC_VERSION);
	long long	 v = 0;

	*nonce = 0;
	bind_text(s, 1, sync);
	if (sqlite3_step(s) == SQLITE_ROW) {
		v = sqlite3_column_int64(s, 0);
		*nonce = (uint64_t)sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return v;
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
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return n;
}

int
store_dir_scan(struct store *st, const char *sync,
    void (*fn)(void *, const char *, size_t, uint64_t, int), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_DIR_SCAN);
	int		 rc;

	bind_text(s, 1, sync);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0),
		    (uint64_t)sqlite3_column_int64(s, 1),
		    sqlite3_column_int(s, 2));
	sqlite3_reset(s);
	/* The scan filled the page cache with a million rows it will not
	 * read again: give that memory back before the export loads. */
	sqlite3_db_release_memory(st->db);
	return rc == SQLITE_DONE ? 0 : -1;
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
	if (sqlite3_step(s) == SQLITE_ROW)
		v = col_strdup(s, 0);
	sqlite3_reset(s);
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
	int		 rc;

	dir_bind(s, d);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_warnx("database: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return sqlite3_changes(st->db) > 0;
}

/* What a stored user has: their email (caller frees) and activity; 0
 * found, 1 not, -1 error. */
static int
dir_old(struct store *st, const char *sync, const char *key, char **email,
    int *active)
{
	sqlite3_stmt	*s = store_stmt(st, ST_DIR_OLD);
	int		 rc;

	bind_text(s, 1, sync);
	bind_text(s, 2, key);
	*email = NULL;
	*active = 0;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*email = col_strdup(s, 0);
		*active = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_warnx("database: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return rc == SQLITE_ROW ? 0 : 1;
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

/*
 * Deactivated users past their grace period leave the directory; fn (if
 * not NULL) hears each key. Returns how many, or -1.
 */
int
store_dir_purge(struct store *st, const char *sync, time_t before,
    void (*fn)(void *, const char *, size_t), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_DIR_PURGE);
	int		 rc, n = 0;

	bind_text(s, 1, sync);
	sqlite3_bind_int64(s, 2, before);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (fn != NULL)
			fn(arg, (const char *)sqlite3_column_text(s, 0),
			    (size_t)sqlite3_column_bytes(s, 0));
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_warnx("database: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (n > 0 && store_sync_bump(st, sync) == -1)
		return -1;
	return n;
}

/* Every user of a sync in key order, one line each (for tests). */
int
store_dir_dump(struct store *st, const char *sync, FILE *out)
{
	sqlite3_stmt	*s = store_stmt(st, ST_DIR_DUMP);
	int		 rc, i;

	bind_text(s, 1, sync);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (i = 0; i < 7; i++)
			fprintf(out, "%s%s", i ? "\t" : "", col_text(s, i));
		fputc('\n', out);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_team_scan(struct store *st, const char *sync,
    void (*fn)(void *, const char *, long long), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_TEAM_SCAN);
	int		 rc;

	bind_text(s, 1, sync);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(arg, col_text(s, 0), sqlite3_column_int64(s, 1));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
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
static void
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
static void
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

/*
 * Every change of a run, one call per (item, field) pair; an item without
 * field changes is one call with field NULL. Stops when fn returns non-0.
 */
int
store_item_each(struct store *st, long long run,
    int (*fn)(void *, const struct itemview *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_LIST);
	struct itemview	 v;
	int		 rc;

	sqlite3_bind_int64(s, 1, run);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		itemview_read(s, 0, &v);
		if (fn(arg, &v) != 0)
			break;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int
store_issue_each(struct store *st, long long run,
    int (*fn)(void *, const struct issueview *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ISSUE_LIST);
	struct issueview v;
	int		 rc;

	sqlite3_bind_int64(s, 1, run);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		issueview_read(s, 0, &v);
		if (fn(arg, &v) != 0)
			break;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
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

/* 0 found, 1 none; free with itemfull_free(). */
int
store_item_get(struct store *st, long long run, long long seq,
    struct itemfull *it)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_GET);
	int		 found = 0;

	memset(it, 0, sizeof(*it));
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	if (sqlite3_step(s) == SQLITE_ROW) {
		it->run = run;
		it->seq = seq;
		it->type = itemtype_parse(col_text(s, 0));
		it->status = itemstatus_parse(col_text(s, 1));
		it->key = col_strdup(s, 2);
		it->team = col_strdup(s, 3);
		it->payload = col_strdup(s, 4);
		it->resolved_by = sqlite3_column_int64(s, 5);
		it->error = col_strdup(s, 6);
		it->email = col_strdup(s, 7);
		it->name = col_strdup(s, 8);
		found = 1;
	}
	sqlite3_reset(s);
	return found ? 0 : 1;
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
	if (sqlite3_step(s) == SQLITE_ROW)
		v = col_strdup(s, 0);
	sqlite3_reset(s);
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
	size_t		 n = 0;

	*seqs = NULL;
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, only);
	sqlite3_bind_int(s, 3, failed_too);
	while (sqlite3_step(s) == SQLITE_ROW) {
		*seqs = xrealloc(*seqs, (n + 1) * sizeof(**seqs));
		(*seqs)[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	return n;
}

int
store_item_changes(struct store *st, long long run, long long seq,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_CHANGES);
	int		 rc;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(arg, col_text(s, 0), col_text(s, 1));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The run of a later item for the same user and type that was applied. */
long long
store_item_later_done(struct store *st, long long run, long long seq)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ITEM_LATER_DONE);
	long long	 by = 0;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	if (sqlite3_step(s) == SQLITE_ROW)
		by = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
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

int
store_attempt_each(struct store *st, long long run, long long seq,
    void (*fn)(void *, int n, time_t, int exit_status, const char *,
    const char *), void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_ATTEMPT_LIST);
	int		 rc;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, seq);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(arg, sqlite3_column_int(s, 0),
		    (time_t)sqlite3_column_int64(s, 1),
		    sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 :
		    sqlite3_column_int(s, 2), col_text(s, 3), col_text(s, 4));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The latest run of a ledger entry and its status: the id, or 0. */
long long
store_run_for_file(struct store *st, long long file, int *status)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_FOR_FILE);
	long long	 id = 0;

	sqlite3_bind_int64(s, 1, file);
	if (sqlite3_step(s) == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		*status = runstatus_parse(col_text(s, 1));
	}
	sqlite3_reset(s);
	return id;
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
	sqlite3_stmt	*s = store_stmt(st, ST_ATTEMPT_OPEN);
	size_t		 n = 0;

	*pairs = NULL;
	while (sqlite3_step(s) == SQLITE_ROW) {
		*pairs = xrealloc(*pairs, (n + 1) * 2 * sizeof(**pairs));
		(*pairs)[2 * n] = sqlite3_column_int64(s, 0);
		(*pairs)[2 * n + 1] = sqlite3_column_int64(s, 1);
		n++;
	}
	sqlite3_reset(s);
	return n;
}

/* Runs left In Progress with items the hook has still to apply. */
size_t
store_runs_with_pending(struct store *st, long long **ids)
{
	sqlite3_stmt	*s = store_stmt(st, ST_RUN_PENDING_ITEMS);
	size_t		 n = 0;

	*ids = NULL;
	while (sqlite3_step(s) == SQLITE_ROW) {
		*ids = xrealloc(*ids, (n + 1) * sizeof(**ids));
		(*ids)[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	return n;
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
	if (sqlite3_step(s) == SQLITE_ROW)
		t = col_strdup(s, 0);
	sqlite3_reset(s);
	return t;
}

int
store_report_base_used(struct store *st, const char *sync, const char *base)
{
	sqlite3_stmt	*s = store_stmt(st, ST_REPORT_BASE_USED);
	int		 used;

	bind_text(s, 1, sync);
	bind_text(s, 2, base);
	used = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	return used;
}

/* ------------------------------------------- files seen at a source */

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
	int		 r = 0;

	bind_text(s, 1, sync);
	bind_text(s, 2, name);
	if (sqlite3_step(s) == SQLITE_ROW) {
		if (sqlite3_column_int64(s, 0) == size &&
		    sqlite3_column_int64(s, 1) == mtime) {
			*first = (time_t)sqlite3_column_int64(s, 2);
			sqlite3_reset(s);
			return 1;
		}
		r = 2;
	}
	sqlite3_reset(s);
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

/* Forget the files of a sync that are no longer in its listing f[n]. */
int
store_observed_prune(struct store *st, const char *sync,
    const struct srcfile *f, size_t n)
{
	sqlite3_stmt	*s = store_stmt(st, ST_OBS_NAMES);
	char		**gone = NULL;
	size_t		 ngone = 0, i;
	int		 rc = 0, found;

	bind_text(s, 1, sync);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *name = col_text(s, 0);

		for (found = 0, i = 0; i < n && !found; i++)
			found = strcmp(f[i].name, name) == 0;
		if (!found) {
			gone = xrealloc(gone, (ngone + 1) * sizeof(*gone));
			gone[ngone++] = xstrdup(name);
		}
	}
	sqlite3_reset(s);
	for (i = 0; i < ngone; i++) {
		if (store_observed_forget(st, sync, gone[i]) == -1)
			rc = -1;
		free(gone[i]);
	}
	free(gone);
	return rc;
}

/* ------------------------------------------------------ refused files */

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
	known = sqlite3_step(s) == SQLITE_ROW &&
	    strcmp(col_text(s, 0), reason) == 0;
	sqlite3_reset(s);
	s = store_stmt(st, ST_REFUSED_PUT);
	bind_text(s, 1, sync);
	bind_text(s, 2, name);
	bind_text(s, 3, reason);
	sqlite3_bind_int64(s, 4, now);
	if (store_exec(st, s) == -1)
		return -1;
	return !known;
}

/* The refused files of a sync, by name. */
int
store_refused_each(struct store *st, const char *sync,
    int (*fn)(void *, const char *name, const char *reason, time_t since),
    void *arg)
{
	sqlite3_stmt	*s = store_stmt(st, ST_REFUSED_LIST);
	int		 rc;

	bind_text(s, 1, sync);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(arg, col_text(s, 0), col_text(s, 1),
		    (time_t)sqlite3_column_int64(s, 2)) != 0)
			break;
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
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
	size_t		 n = 0;

	*ids = NULL;
	sqlite3_bind_int64(s, 1, run);
	while (sqlite3_step(s) == SQLITE_ROW) {
		*ids = xrealloc(*ids, (n + 1) * sizeof(**ids));
		(*ids)[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	return n;
}

/* One upload; sync and path are to be freed by the caller. 0 or -1. */
int
store_publish_get(struct store *st, long long id, long long *run,
    char **sync, char **path, long long *attempts)
{
	sqlite3_stmt	*s = store_stmt(st, ST_PUB_GET);
	int		 rc = -1;

	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*run = sqlite3_column_int64(s, 0);
		*sync = col_strdup(s, 1);
		*path = col_strdup(s, 2);
		*attempts = sqlite3_column_int64(s, 3);
		rc = *sync != NULL && *path != NULL ? 0 : -1;
	}
	sqlite3_reset(s);
	return rc;
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

/* ------------------------------------------------ the per-user views */

/*
 * One snapshot for several statements (views.c reads facts with several
 * queries and they must agree). Works on a read-only connection.
 */
int
store_read_begin(struct store *st)
{
	char	 err[MAX_ERRMSG];

	if (exec_sql(st->db, "BEGIN", err, sizeof(err)) == -1) {
		log_warnx("database: %s", err);
		return -1;
	}
	return 0;
}

void
store_read_end(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
}

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

/*
 * Items of the run stored done (applied or confirmed) as they were
 * inserted (the triggers count the changes of status after), added at
 * the commit: the run's row is written then anyway, and a page written
 * out (store_flush()) and changed again makes SQLite check its WAL again
 * from there at the commit.
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
