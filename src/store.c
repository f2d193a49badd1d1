/*
 * The store: one SQLite file in WAL mode holding the runs, their items and
 * issues, the directory (users and teams per sync) and the file ledger.
 * Every SQL statement of rostersync is in the table below, prepared once
 * and used with bound parameters only. The schema version lives in
 * PRAGMA user_version; migrations only go forward.
 *
 * This file: the connection, transactions, the migrations and the one
 * statement table, and the helpers every store file binds and reads
 * with. The rest of the store (store_int.h, its private interface):
 * store_io.c the I/O tuning, store_dir.c the directory and its counts,
 * store_run.c the records of runs, store_query.c what the views read.
 * Invariants: nothing outside these files speaks SQL; a statement is
 * prepared once per connection and handed out reset and unbound
 * (store_stmt()); a connection is used by one thread at a time.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "rostersync.h"
#include "store_int.h"

#define SCHEMA_VERSION	5
#define BUSY_TIMEOUT_MS	10000

static void	 plan_steps(struct store *);

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
	    "WHERE status = 'in_progress' RETURNING id",
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

	/* Content whose run could not load it or failed was not taken. */
	[ST_FILE_BY_SHA] = "SELECT id, state, run_id FROM files f "
	    "WHERE sync = ?1 AND sha256 = ?2 AND state != 'duplicate' "
	    "AND NOT (state = 'processed' AND EXISTS (SELECT 1 FROM runs "
	    "WHERE id = f.run_id AND status IN ('data_load_failed', "
	    "'failed'))) ORDER BY id LIMIT 1",
	[ST_FILE_BY_STAT] = "SELECT id FROM files WHERE sync = ?1 AND "
	    "name = ?2 AND size = ?3 AND mtime = ?4 ORDER BY id DESC LIMIT 1",
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

/*
 * The indexes a bulk load (store_bulk_begin(), store_bulk_end()) drops
 * and builds again after the rows, as the schema above defines them. One
 * helper thread sorts beside the caller's (a quarter faster on a million
 * rows).
 */
const char sql_bulk_drop[] =
    "DROP INDEX users_email; DROP INDEX items_run_key; "
    "DROP INDEX users_domain";
const char sql_bulk_build[] =
    "PRAGMA threads = 1; "
    "CREATE INDEX users_email ON users(email); "
    "CREATE INDEX items_run_key ON items(run_id, key); "
    "CREATE INDEX users_domain ON users(" EMAIL_DOMAIN "); "
    "PRAGMA threads = 0";
/* The index builds' sorts spill to temporary files as the cache fills
 * (in memory a sort holds its whole index: 76 MB of a million users). */
const char sql_sort_on_disk[] = "PRAGMA temp_store = FILE";
const char sql_sort_in_memory[] = "PRAGMA temp_store = MEMORY";
const char sql_journal_mode[] = "PRAGMA journal_mode = ";

/* Forward migrations: migrations[v] brings version v to v + 1. */
static const char *const migrations[SCHEMA_VERSION] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
	schema_v5,
};


int
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
int
cache_size(struct store *st, int kb)
{
	char	 q[64], err[MAX_ERRMSG];

	snprintf(q, sizeof(q), "PRAGMA cache_size = -%d", kb);
	return exec_sql(st->db, q, err, sizeof(err));
}

/* A new database's page size, set before its first table is (one that
 * has tables keeps its own: the statement then does nothing). */
static int
page_size(struct store *st, char *err, size_t errlen)
{
	char	 q[64];

	snprintf(q, sizeof(q), "PRAGMA page_size = %d", STORE_PAGE_SIZE);
	return exec_sql(st->db, q, err, errlen);
}

/* The same for a caller: kb from now on (STORE_CACHE_KB when opened). */
void
store_cache_size(struct store *st, int kb)
{
	(void)cache_size(st, kb);
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
		if (page_size(st, err, errlen) == -1 ||
		    exec_sql(st->db, "PRAGMA journal_mode = WAL; "
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
	counts_free(st->counts);
	plan_steps(st);
	for (i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(st->st[i]);
	sqlite3_close(st->db);
	free(st->bumped);
	free(st);
}

const char *
store_failed(struct store *st, const char *msg)
{
	int	 code = sqlite3_extended_errcode(st->db) & 0xff;

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		snprintf(st->err, sizeof(st->err), "the database is locked by "
		    "another process (a backup? sqlite3?) for more than %d s",
		    BUSY_TIMEOUT_MS / 1000);
	else
		snprintf(st->err, sizeof(st->err), "%s", msg != NULL ? msg :
		    sqlite3_errmsg(st->db));
	return st->err;
}

/* The last error the store met (a rollback since does not hide it; a
 * transaction begins with none), else SQLite's. */
const char *
store_errmsg(struct store *st)
{
	return st->err[0] != '\0' ? st->err : sqlite3_errmsg(st->db);
}

/* Can the run write (no other connection holding the database past the
 * busy timeout)? 0, or -1 with store_errmsg() saying why; not logged. */
int
store_can_write(struct store *st)
{
	char	 err[MAX_ERRMSG];

	if (exec_sql(st->db, "BEGIN IMMEDIATE", err, sizeof(err)) == -1 ||
	    exec_sql(st->db, "COMMIT", err, sizeof(err)) == -1) {
		store_failed(st, err);
		store_rollback(st);
		return -1;
	}
	return 0;
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
sqlite3_stmt *
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

int
store_exec(struct store *st, sqlite3_stmt *s)
{
	return store_each(st, s, NULL, NULL) == -1 ? -1 : 0;
}

/*
 * The one loop over a statement's rows: s, bound by the caller, stepped
 * through its rows, fn(arg, s) reading each (fn NULL: none read) until it
 * returns non-0, and reset. Returns what fn stopped with, 0 at the end of
 * the rows, or -1 on a database error, logged here (once).
 */
int
store_each(struct store *st, sqlite3_stmt *s,
    int (*fn)(void *, sqlite3_stmt *), void *arg)
{
	int	 rc, stop = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn != NULL && (stop = fn(arg, s)) != 0)
			break;
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("database: %s", store_failed(st, NULL));
		return -1;
	}
	return stop;
}

/* store_each() readers of the first row: its first column as a number
 * (into a long long), as text (a char * the caller frees), or that
 * there is one. Each returns 1, stopping at that row. */
int
each_int64(void *arg, sqlite3_stmt *s)
{
	*(long long *)arg = sqlite3_column_int64(s, 0);
	return 1;
}

int
each_strdup(void *arg, sqlite3_stmt *s)
{
	*(char **)arg = col_strdup(s, 0);
	return 1;
}

int
each_found(void *arg, sqlite3_stmt *s)
{
	(void)arg;
	(void)s;
	return 1;
}

/* Rows of ncol integers being filled (store_idcols()). */
struct ids {
	long long	*v;
	size_t		 n, cap;
	int		 ncol;
};

static int
each_id(void *arg, sqlite3_stmt *s)
{
	struct ids	*v = arg;
	int		 c;

	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 16;
		v->v = xrealloc(v->v, v->cap * v->ncol * sizeof(*v->v));
	}
	for (c = 0; c < v->ncol; c++)
		v->v[v->n * v->ncol + c] = sqlite3_column_int64(s, c);
	v->n++;
	return 0;
}

/* The first ncol columns of s's rows, row after row, in *ids (the
 * caller frees); how many rows. */
size_t
store_idcols(struct store *st, sqlite3_stmt *s, int ncol, long long **ids)
{
	struct ids	 v = { NULL, 0, 0, ncol };

	(void)store_each(st, s, each_id, &v);
	*ids = v.v;
	return v.n;
}

/* The first column of s's rows, in *ids (the caller frees); how many. */
size_t
store_ids(struct store *st, sqlite3_stmt *s, long long **ids)
{
	return store_idcols(st, s, 1, ids);
}

int
store_begin(struct store *st)
{
	char	 err[MAX_ERRMSG];
	int	 cur, hi;

	free(st->bumped);
	st->bumped = NULL;
	st->err[0] = '\0';
	if (exec_sql(st->db, "BEGIN IMMEDIATE", err, sizeof(err)) == -1) {
		log_warnx("database: cannot begin a transaction: %s",
		    store_failed(st, err));
		return -1;
	}
	/* From 0: the pages this transaction writes (pages_written()). */
	sqlite3_db_status(st->db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 1);
	return 0;
}

/*
 * What a big transaction wrote, as SQLite counts it: the pages it wrote
 * to the WAL (to the database in a rollback journal's mode), a spilled
 * page written again counted again. Said with -v; tests/t_writes.sh
 * reads it.
 */
static void
pages_written(struct store *st)
{
	sqlite3_stmt	*s;
	int		 n = 0, hi, size = 0;

	if (sqlite3_db_status(st->db, SQLITE_DBSTATUS_CACHE_WRITE, &n, &hi,
	    1) != SQLITE_OK)
		return;
	if (sqlite3_prepare_v2(st->db, "PRAGMA page_size", -1, &s, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			size = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	log_debug("database: the transaction wrote %d pages of %d bytes", n,
	    size);
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
	if (rc == 0 && st->big)
		pages_written(st);
	big_end(st);
	if (rc == -1) {
		log_warnx("database: cannot commit: %s", store_failed(st, err));
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
	counts_free(st->counts);
	st->counts = NULL;
	big_end(st);
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	free(st->bumped);
	st->bumped = NULL;
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

void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

void
bind_textn(sqlite3_stmt *s, int i, const char *v, size_t n)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, (int)n, SQLITE_STATIC);
}

char *
col_strdup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? xstrdup((const char *)t) : NULL;
}

const char *
col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? (const char *)t : "";
}


/* -------------------------------------------------- read snapshots */

/*
 * One snapshot for several statements (views.c reads facts with several
 * queries and they must agree). Works on a read-only connection.
 */
int
store_read_begin(struct store *st)
{
	char	 err[MAX_ERRMSG];

	if (exec_sql(st->db, "BEGIN", err, sizeof(err)) == -1) {
		log_warnx("database: %s", store_failed(st, err));
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

