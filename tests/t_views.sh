#!/bin/bash
# The per-user views and the metrics: users (every
# status for the right users, filters, paging at the edges), user (source
# and directory identity, failure alert, last activity, the full history),
# status (users with an active sync, changes in 24 h, in progress, failed),
# and --json of each against its text. Failures the apply hook would make
# are simulated in SQL (items set to failed).
. "$(dirname "$0")/lib.sh"

H=employee_id,email,first_name,last_name,department,title,manager_id,employment_status
# csv NAME ROW...: an export dropped in the drop-zone.
csv() { local n=$1; shift; printf '%s\n' "$H" "$@" >"$TMP/$n.csv"; drop "$TMP/$n.csv"; }
# out CMD...: run rostersync, stdout and stderr together in $OUT, status $RC.
out() { OUT=$(rs "$@" 2>&1); RC=$?; }
# json EXPR: evaluate EXPR on the JSON document d read from stdin.
json() {
	$PYTHON -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
valid_json() { printf '%s' "$1" | $PYTHON -m json.tool >/dev/null 2>&1; }
# The rows of a users page: "KEY STATUS" per line, in order.
rows() { printf '%s\n' "$1" | awk 'NR > 1 && / [A-Z][0-9]+ /{
	for (i = 1; i <= NF; i++) if ($i ~ /^[A-Z][0-9]+$/) k = $i
	s = $0; sub(/.*(UTC|-) +[a-z]+ +/, "", s); print k, s }'; }
# status KEY: the status the users list shows for one key.
status_of_user() { rows "$(rs users --per-page 1000 2>/dev/null)" | awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }
# The paging line.
paging() { printf '%s\n' "$1" | tail -1; }
# value LABEL: the value after a label of the status text.
metric() { printf '%s\n' "$OUT" | awk -v l="$1" 'index($0, l) == 1 { print $NF }'; }

# ================================================= before anything ran
sandbox empty
out users
eq "no database: users exits 0" "$RC" 0
contains "no database: users says 0 results" "$OUT" "0 results"
js=$(rs users --json 2>/dev/null)
check "no database: users --json parses" valid_json "$js"
eq "no database: users --json is empty" \
    "$(printf '%s' "$js" | json "d['users'], d['total'], d['first'], d['last'], d['page'], d['per_page']")" \
    "([], 0, 0, 0, 1, 10)"
out status
eq "no database: status exits 0" "$RC" 0
eq "no database: no users" "$(metric 'Users with an active sync')" 0
contains "no database: the sync is listed" "$OUT" "hr "
js=$(rs status --json 2>/dev/null)
check "no database: status --json parses" valid_json "$js"
eq "no database: status --json" \
    "$(printf '%s' "$js" | json "d['users_active'], d['changes_24h'], d['in_progress'], d['failed'], [s['name'] for s in d['syncs']], d['syncs'][0]['last_run']")" \
    "(0, 0, 0, 0, ['hr'], None)"
out user ann@x.org
eq "no database: user exits 1" "$RC" 1
contains "no database: user says so" "$OUT" "no user"

# ============================================= every status, two syncs
sandbox st
mkdir -p "$SB/drop2"
cat >"$CONF" <<'CONF'
database = "spool/rostersync.db";
spool = "spool";
timezone = "UTC";
lock_wait = 5;
syncs = (
	{
		name = "hr";
		source = "dir:drop";
		settle_seconds = 0;
		key = "employee_id";
		required = [ "employee_id", "email", "last_name" ];
		max_update_percent = 100;
	},
	{
		name = "ctr";
		source = "dir:drop2";
		settle_seconds = 0;
		key = "employee_id";
		required = [ "employee_id", "email", "last_name" ];
		max_update_percent = 100;
	}
);
CONF
# Run 1 (hr): E3's manager is unknown (a warning), E5's email is invalid
# (skipped, never in the directory).
csv h1 "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Dev,E1,Active" \
    "E3,cat@x.org,Cat,Orr,Eng,Dev,E9,Active" \
    "E4,dan@x.org,Dan,Poe,Eng,Dev,E1,Active" \
    "E5,not-an-email,Eve,Moe,Eng,Dev,E1,Active" \
    "E6,fay@x.org,Fay,Ito,Eng,Dev,E1,Active"
rs run --sync hr >/dev/null 2>&1
eq "run 1: Needs Attention" "$(status_of 1)" needs_attention
# Run 2 (ctr): ann@x.org is in both syncs.
printf '%s\n' "$H" "C1,ann@x.org,Ann,Lee,Ctr,Dev,,Active" \
    "C2,gus@x.org,Gus,Ng,Ctr,Dev,C1,Active" >"$SB/drop2/c1.csv"
touch -d '-1 hour' "$SB/drop2/c1.csv"
rs run --sync ctr >/dev/null 2>&1
eq "run 2 (ctr): Success" "$(status_of 2)" success
# Run 3 (hr): E2 and E4 change (E4 moves: update + team_member), E5 still
# invalid, E6 now invalid (skipped: the directory keeps the old row), E7
# is hired.
csv h2 "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Lead,E1,Active" \
    "E3,cat@x.org,Cat,Orr,Eng,Dev,E9,Active" \
    "E4,dan@x.org,Dan,Poe,Ops,Dev,E1,Active" \
    "E5,not-an-email,Eve,Moe,Eng,Dev,E1,Active" \
    "E6,fay@@x.org,Fay,Ito,Eng,Dev,E1,Active" \
    "E7,gil@x.org,Gil,Fox,Eng,Dev,E1,Active"
rs run --sync hr >/dev/null 2>&1
eq "run 3: E4 has two items (update, team_member)" \
    "$(q "SELECT group_concat(type) FROM (SELECT type FROM items WHERE run_id = 3 AND key = 'E4' ORDER BY seq)")" \
    "update,team_member"
# The hook failed E2's update and both of E4's items.
q "UPDATE items SET status = 'failed', error = 'boom' WHERE run_id = 3 AND key IN ('E2', 'E4')"
# Run 4 (hr): E2 changes again (an applied update resolves the failure),
# E3 gets a known manager (the warning clears), E5 leaves the export, E6
# stays invalid, E8 is hired with an unknown manager (a warning), E10 is
# hired and its create fails (the directory does not have them).
csv h3 "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Boss,E1,Active" \
    "E3,cat@x.org,Cat,Orr,Eng,Dev,E1,Active" \
    "E4,dan@x.org,Dan,Poe,Ops,Dev,E1,Active" \
    "E6,fay@@x.org,Fay,Ito,Eng,Dev,E1,Active" \
    "E7,gil@x.org,Gil,Fox,Eng,Dev,E1,Active" \
    "E8,hal@x.org,Hal,Kay,Eng,Dev,E99,Active" \
    "E10,ida@x.org,Ida,Sun,Eng,Dev,E1,Active"
rs run --sync hr >/dev/null 2>&1
# (A hand edit of users must change the sync's version and nonce, as
# rostersync's own writers do, or the key snapshot would still hold E10.)
q "UPDATE items SET status = 'failed', error = 'no seat' WHERE run_id = 4 AND key = 'E10';
   DELETE FROM users WHERE key = 'E10';
   UPDATE syncs SET version = version + 1, nonce = random() WHERE name = 'hr'"
# Run 5: a dry run that would hire E9 (never applied).
printf '%s\n' "$H" "E9,jo@x.org,Jo,Park,Eng,Dev,E1,Active" >"$TMP/dry.csv"
tail -n +2 "$TMP/h3.csv" >>"$TMP/dry.csv"
rs run --sync hr --dry-run --file "$TMP/dry.csv" >/dev/null 2>&1
eq "run 5 is a dry run" "$(count_of 5 dry_run)" 1

# what each key's status must be
for want in "E1 Synced" "E2 Synced" "E3 Synced" "E4 Failed" \
    "E5 Never Synced" "E6 Failed" "E7 Synced" \
    "E8 Completed with Warning" "E9 Never Synced" "E10 Failed" \
    "C1 Synced" "C2 Synced"; do
	k=${want%% *}
	eq "status of $k: ${want#* }" "$(status_of_user "$k")" "${want#* }"
done
out users
eq "users: exit 0" "$RC" 0
eq "users: 12 users" "$(paging "$OUT")" "1-10 of 12 results"
eq "users: email order (the directory's)" \
    "$(printf '%s\n' "$OUT" | awk 'NR > 1 && NF > 3 { print $1 }' | head -4 | xargs)" \
    "- ann@x.org ann@x.org bob@x.org"
latest3=$(q "SELECT strftime('%Y-%m-%d %H:%M:%S UTC', finished, 'unixepoch') FROM runs WHERE id = 4")
contains "users: latest sync of a directory user is the latest applied run" \
    "$(printf '%s\n' "$OUT" | grep ' E7 ')" "$latest3"
out users --status failed
# In email order: dan@ (E4), fay@ (E6 keeps its old email), ida@ (E10).
eq "users --status failed" "$(rows "$OUT" | awk '{print $1}' | xargs)" "E4 E6 E10"
eq "users --status failed: paging" "$(paging "$OUT")" "1-3 of 3 results"
out users --status "Never Synced"
eq "users --status label" "$(rows "$OUT" | awk '{print $1}' | sort | xargs)" "E5 E9"
out users --status completed_with_warning
eq "users --status completed_with_warning" "$(rows "$OUT" | awk '{print $1}' | xargs)" "E8"
out users --status synced --per-page 100
eq "users --status synced" "$(rows "$OUT" | awk '{print $1}' | sort | xargs)" "C1 C2 E1 E2 E3 E7"
out users --status bogus
eq "users --status bogus: exit 2" "$RC" 2
contains "users --status bogus: says so" "$OUT" "unknown user status 'bogus'"
out users --email ANN@
eq "users --email: any case, both syncs" "$(rows "$OUT" | awk '{print $1}' | xargs)" "C1 E1"
out users --email x.org --sync ctr
eq "users --sync ctr" "$(rows "$OUT" | awk '{print $1}' | xargs)" "C1 C2"
out users --email nobody
contains "users --email: no match" "$OUT" "0 results"

# user: detail of E4 (two unresolved failures)
out user E4
eq "user E4: exit 0" "$RC" 0
contains "user: the failure alert" "$OUT" "2 sync failures detected"
eq "user: each failed item listed with its error" \
    "$(printf '%s\n' "$OUT" | grep -c '^  run 3 item [0-9]*: .* failed: boom')" 2
contains "user: how to retry" "$OUT" "rostersync retry 3 "
contains "user: source identity (the export's fields)" "$OUT" "department               Ops"
contains "user: source has the export's email" "$(printf '%s\n' "$OUT" | sed -n '/^Source/,/^Directory/p')" "dan@x.org"
contains "user: directory identity" "$OUT" "Manager                  E1"
contains "user: directory team" "$OUT" "Team                     Ops"
contains "user: directory state" "$OUT" "State                    active"
contains "user: status" "$OUT" "Sync status              Failed"
contains "user: sync and Active" "$OUT" "hr (Active)"
contains "user: next scheduled sync" "$OUT" "Next scheduled sync"
runs_e4=$(q "SELECT count(DISTINCT run_id) FROM (SELECT run_id FROM items WHERE key = 'E4' UNION ALL SELECT run_id FROM issues WHERE key = 'E4') JOIN runs r ON r.id = run_id AND r.sync = 'hr'")
hist=$(printf '%s\n' "$OUT" | sed -n '/^History/,$p')
eq "user: history has every run that touched the user" \
    "$(printf '%s\n' "$hist" | grep -c '^  Run ')" "$runs_e4"
contains "user: history heading" "$OUT" "History ($runs_e4 runs)"
eq "user: history lists every item" \
    "$(printf '%s\n' "$OUT" | sed -n '/^History/,$p' | grep -cE '^    (User|Team|Direct)')" \
    "$(q "SELECT count(*) FROM items i JOIN runs r ON r.id = i.run_id WHERE i.key = 'E4' AND r.sync = 'hr'")"
contains "user: history shows field changes" "$OUT" "department             Eng -> Ops"
eq "user: history newest first" \
    "$(printf '%s\n' "$hist" | awk '/^  Run /{print $2}' | xargs)" \
    "$(q "SELECT group_concat(id, ' ') FROM (SELECT DISTINCT r.id FROM items i JOIN runs r ON r.id = i.run_id WHERE i.key = 'E4' AND r.sync = 'hr' ORDER BY r.started DESC, r.id DESC)")"

# Schema v2 -> v5: a database of an older rostersync, with its index on
# items(key) and without v4's columns and v5's counts and indexes: the
# views refuse it until a run migrates it; then the history reads the
# same.
hist_v3=$hist
q "DROP TRIGGER users_uncounted; DROP TRIGGER items_done;
    DROP TRIGGER items_undone; DROP TABLE dircount; DROP TABLE dirpages;
    DROP INDEX users_domain; DROP INDEX runs_sync_id; DROP INDEX runs_running;
    DROP INDEX items_open; DROP INDEX issues_key; DROP INDEX issues_type;
    ALTER TABLE runs DROP COLUMN n_done;
    DROP INDEX items_run_key; CREATE INDEX items_key ON items(key);
    ALTER TABLE runs DROP COLUMN encoding;
    ALTER TABLE runs DROP COLUMN encoding_note;
    ALTER TABLE runs DROP COLUMN i_id_changed;
    ALTER TABLE runs DROP COLUMN max_update_percent;
    ALTER TABLE runs DROP COLUMN allow_updates;
    ALTER TABLE runs DROP COLUMN allow_id_changes;
    ALTER TABLE runs DROP COLUMN decision; ALTER TABLE runs DROP COLUMN hint;
    ALTER TABLE runs DROP COLUMN failures;
    ALTER TABLE runs DROP COLUMN preview_base;
    ALTER TABLE runs DROP COLUMN recovered_at;
    ALTER TABLE issues DROP COLUMN email; ALTER TABLE issues DROP COLUMN name;
    DROP TABLE refused; PRAGMA user_version = 2"
out user E4
eq "migration v2 -> v3: the views refuse the old schema (exit 1)" "$RC" 1
contains "migration v2 -> v3: and say how to migrate" "$OUT" \
    "schema version 2, expected 5 (run rostersync once to migrate it)"
rs run >"$SB/migrate.out" 2>&1
eq "migration v2 -> v3: a run exits 0" "$?" 0
out user E4
eq "migration v2 -> v3: user E4 exits 0" "$RC" 0
eq "migration v2 -> v3: the history reads the same" \
    "$(printf '%s\n' "$OUT" | sed -n '/^History/,$p')" "$hist_v3"
eq "migration v2 -> v5: schema version 5" "$(q "PRAGMA user_version")" 5
eq "migration v2 -> v3: items are indexed by run and key" \
    "$(q "SELECT group_concat(name) FROM sqlite_master WHERE type = 'index'
    AND tbl_name = 'items' AND name LIKE 'items_%key' ORDER BY name")" \
    items_run_key
eq "migration v2 -> v3: the database is sound" \
    "$(q "PRAGMA integrity_check")" ok
last=$(printf '%s\n' "$OUT" | sed -n '/^Last sync activity/,/^$/p')
contains "user: last activity is run 3 (runs 4 and 5 did not touch E4)" \
    "$last" "Run                      3"
contains "user: last activity counts E4's changes" "$last" "Changes processed        2"
js=$(rs user E4 --json 2>/dev/null)
check "user --json parses" valid_json "$js"
eq "user --json: the same numbers as the text" \
    "$(printf '%s' "$js" | json "d['status_label'], d['failures'], len(d['failed_items']), len(d['history']), d['directory']['team'], d['source']['department'], d['sync_active']")" \
    "('Failed', 2, 2, $runs_e4, 'Ops', 'Ops', True)"
eq "user --json: items per run as the database has them" \
    "$(printf '%s' "$js" | json "[(h['run'], len(h['items'])) for h in d['history']]")" \
    "$(q "SELECT '[' || group_concat('(' || run_id || ', ' || n || ')', ', ') || ']' FROM (SELECT i.run_id, count(*) n FROM items i JOIN runs r ON r.id = i.run_id WHERE i.key = 'E4' AND r.sync = 'hr' GROUP BY i.run_id ORDER BY r.started DESC, r.id DESC)")"
eq "user --json: the failed items" \
    "$(printf '%s' "$js" | json "sorted((f['run'], f['type'], f['error']) for f in d['failed_items'])")" \
    "[(3, 'team_member', 'boom'), (3, 'update', 'boom')]"

out user E6
contains "user E6: the skipped row is a failure" "$OUT" "1 sync failure detected"
contains "user E6: why" "$OUT" "skipped the row"
contains "user E6: still in the directory with its old email" "$OUT" "Email                    fay@x.org"
out user E2
contains "user E2: a resolved failure is not an alert" "$OUT" "Sync status              Synced"
check "user E2: no alert" test "$(printf '%s\n' "$OUT" | grep -c 'failures\? detected')" -eq 0
out user E5
contains "user E5: Never Synced" "$OUT" "Sync status              Never Synced"
contains "user E5: not in the directory" "$OUT" "not in the directory"
contains "user E5: the skip is in its history" "$OUT" "User skipped"
out user E10
contains "user E10: a failed create" "$OUT" "1 sync failure detected"
contains "user E10: not in the directory" "$OUT" "not in the directory"
out user hal@x.org
contains "user by email: E8" "$OUT" "User E8 (sync hr)"
contains "user E8: warning" "$OUT" "Completed with Warning"
contains "user E8: the warning issue in its history" "$OUT" "No profile for Direct Manager"
out user ann@x.org
eq "user: an email in two syncs exits 2" "$RC" 2
contains "user: ambiguous lists the syncs" "$OUT" "--sync ctr"
contains "user: ambiguous lists hr too" "$OUT" "--sync hr"
out user ann@x.org --sync ctr
eq "user --sync: exit 0" "$RC" 0
contains "user --sync ctr: C1" "$OUT" "User C1 (sync ctr)"
out user ANN@X.ORG --sync hr
contains "user: email in any case" "$OUT" "User E1 (sync hr)"
out user nobody@x.org
eq "user: not found exits 1" "$RC" 1
contains "user: not found says so" "$OUT" "no user with the email or employee id 'nobody@x.org'"
out user
eq "user: no argument exits 2" "$RC" 2

# status metrics
out status
eq "status: exit 0" "$RC" 0
eq "status: users with an active sync" "$(metric 'Users with an active sync')" \
    "$(q "SELECT count(*) FROM users WHERE active = 1")"
eq "status: changes in the last 24 h (applied items)" "$(metric 'Changes (last 24 h)')" \
    "$(q "SELECT count(*) FROM items i JOIN runs r ON r.id = i.run_id WHERE r.dry_run = 0 AND i.status = 'applied'")"
eq "status: syncs in progress" "$(metric 'Syncs in progress')" 0
eq "status: failed syncs = users Failed" "$(metric 'Failed syncs')" 3
js=$(rs status --json 2>/dev/null)
check "status --json parses" valid_json "$js"
eq "status --json: the same numbers as the text" \
    "$(printf '%s' "$js" | json "d['users_active'], d['changes_24h'], d['in_progress'], d['failed']")" \
    "($(metric 'Users with an active sync'), $(metric 'Changes (last 24 h)'), 0, 3)"
eq "status --json: per sync" \
    "$(printf '%s' "$js" | json "[(s['name'], s['active'], s['last_run'], s['last_status'], s['failed']) for s in d['syncs']]")" \
    "[('hr', True, 5, 'needs_attention', 3), ('ctr', True, 2, 'success', 0)]"
# An inactive sync's users do not count; a run 2 days old is not a change
# of the last 24 h.
sed -i '0,/name = "ctr";/s//name = "ctr"; enabled = false;/' "$CONF"
q "UPDATE runs SET started = started - 2 * 86400, finished = finished - 2 * 86400 WHERE id = 1"
out status
eq "status: an inactive sync's users are not counted" "$(metric 'Users with an active sync')" \
    "$(q "SELECT count(*) FROM users WHERE active = 1 AND sync = 'hr'")"
eq "status: runs older than 24 h are not counted" "$(metric 'Changes (last 24 h)')" \
    "$(q "SELECT count(*) FROM items i JOIN runs r ON r.id = i.run_id WHERE r.dry_run = 0 AND i.status = 'applied' AND r.id > 1")"
contains "status: the inactive sync" "$OUT" "Inactive"
out user C1
contains "user: Inactive sync" "$OUT" "ctr (Inactive)"
contains "user: an inactive sync has no next sync" "$OUT" "none: the sync is inactive"

# In Progress: a run of hr running now
q "INSERT INTO runs(sync, trigger, status, started) VALUES ('hr', 'manual', 'in_progress', strftime('%s', 'now'))"
out users --status in_progress --per-page 100
eq "users: everyone of a running sync is In Progress" \
    "$(rows "$OUT" | awk '{print $1}' | sort | xargs)" "E1 E10 E2 E3 E4 E5 E6 E7 E8 E9"
out status
eq "status: a sync in progress" "$(metric 'Syncs in progress')" 1
eq "status: In Progress users are not Failed" "$(metric 'Failed syncs')" 0
js=$(rs user E4 --json 2>/dev/null)
eq "user --json: In Progress, failures still counted" \
    "$(printf '%s' "$js" | json "d['status'], d['failures']")" "('in_progress', 2)"
q "DELETE FROM runs WHERE status = 'in_progress'"

# --since/--until on the latest sync: hr's applied runs in March, ctr's
# in January; E5's latest mention is run 3 (March), E9's and E10's (not
# in the directory) the dry run, now.
q "UPDATE runs SET started = strftime('%s', '2024-03-15 10:00:00') + id, finished = strftime('%s', '2024-03-15 10:00:00') + id + 1 WHERE id IN (1, 3, 4);
   UPDATE runs SET started = strftime('%s', '2024-01-10 10:00:00'), finished = strftime('%s', '2024-01-10 10:00:01') WHERE id = 2"
out users --since 2024-01-01 --until 2024-01-31
eq "users --since/--until January: ctr" "$(rows "$OUT" | awk '{print $1}' | xargs)" "C1 C2"
out users --since 2024-03-15 --until 2024-03-15 --per-page 100
eq "users --since D --until D is that day" "$(rows "$OUT" | awk '{print $1}' | sort | xargs)" "E1 E2 E3 E4 E5 E6 E7 E8"
out users --since 2024-04-01
eq "users --since: the keys the dry run named" "$(rows "$OUT" | awk '{print $1}' | sort | xargs)" "E10 E9"
out users --since 01/02/2024
eq "users: a bad date exits 2" "$RC" 2
js=$(rs users --json --since 2024-01-01 --until 2024-01-31 2>/dev/null)
eq "users --json: latest_sync in UTC" \
    "$(printf '%s' "$js" | json "[(u['employee_id'], u['latest_sync'], u['status']) for u in d['users']]")" \
    "[('C1', '2024-01-10T10:00:01Z', 'synced'), ('C2', '2024-01-10T10:00:01Z', 'synced')]"
js=$(rs users --json --per-page 100 2>/dev/null)
check "users --json parses" valid_json "$js"
eq "users --json: the same statuses as the text" \
    "$(printf '%s' "$js" | json "' '.join(u['employee_id'] + '=' + u['status_label'].replace(' ', '_') for u in d['users'])")" \
    "$(rows "$(rs users --per-page 100 2>/dev/null)" | awk '{k = $1; $1 = ""; sub(/^ /, ""); gsub(/ /, "_"); printf "%s%s=%s", n++ ? " " : "", k, $0}')"
eq "users --json: names from the directory" \
    "$(printf '%s' "$js" | json "[u['name'] for u in d['users'] if u['employee_id'] == 'E4']")" "['Dan Poe']"

# Per-service detail: under each run, the changes the
# directory took and, with an apply hook, what the hook applied, failed
# or has pending, named by the hook's name setting (by default the
# program's file name). The hook here is only configured: the statuses
# are runs 3 (where it "failed" E2's update) and 4 (where one applied).
out user E2
svc=$(printf '%s\n' "$OUT" | sed -n '/^  Run 3 /,/^  Run /p')
contains "user: a run's changes the directory took" "$svc" \
    "In the directory         0 of 1 change applied"
check "user: no hook line while the sync has no hook" \
    test "$(printf '%s' "$svc" | grep -c 'apply hook')" -eq 0
sed -i '0,/key = "employee_id";/s//key = "employee_id";\n\t\thook = { path = "\/bin\/true"; name = "Workspace"; };/' "$CONF"
out user E2
svc=$(printf '%s\n' "$OUT" | sed -n '/^  Run 3 /,/^  Run /p')
contains "user: the hook's line, by its name" "$svc" \
    "Workspace (apply hook)   0 applied, 1 failed, 0 pending"
svc=$(printf '%s\n' "$OUT" | sed -n '/^  Run 4 /,/^  Run /p')
contains "user: another run the hook applied" "$svc" \
    "Workspace (apply hook)   1 applied, 0 failed, 0 pending"
contains "user: and the directory took it" "$svc" \
    "In the directory         1 of 1 change applied"
eq "user --json: services per run" \
    "$(rs user E2 --json | json "[(h['run'], [(x['name'], x['hook'], x['changes'], x['applied'], x.get('failed')) for x in h['services']]) for h in d['history'] if h['run'] in (3, 4)]")" \
    "[(4, [('directory', False, 1, 1, None), ('Workspace', True, 1, 1, 0)]), (3, [('directory', False, 1, 0, None), ('Workspace', True, 1, 0, 1)])]"
sed -i 's|path = "/bin/true"; name = "Workspace";|path = "/bin/true";|' "$CONF"
contains "user: without a name, the hook is the program's file name" \
    "$(rs user E2 2>&1)" "true (apply hook)"
sed -i '/hook = { path = "\/bin\/true"; };/d' "$CONF"

# ================================= control characters from the export
# ESC sequences, BEL and a C1 control (U+009B, CSI) in an export's values,
# written by python3's csv module: the user view shows each as U+FFFD, as
# the tables do, and never passes one to the terminal; --json keeps the
# exact values.
sandbox esc 'max_update_percent = 100;'
$PYTHON - "$TMP/esc1.csv" "$TMP/esc2.csv" <<'PY'
import csv, sys
H = "employee_id,email,first_name,last_name,department,title,manager_id,employment_status"
for path, title in ((sys.argv[1], "Title\x1b[2J\x1b[H"), (sys.argv[2], "Lead\x9b2J")):
    w = csv.writer(open(path, "w", encoding="utf-8", newline=""))
    w.writerow(H.split(","))
    w.writerow(["E1", "ann@x.org", "Ann", "Lee", "Eng", "Dev", "", "Active"])
    w.writerow(["E2", "bob@x.org", "Evil \x1b[31mRED\x1b[0m",
                "\x1b]0;owned\x07Ray", "Eng", title, "E1", "Active"])
PY
drop "$TMP/esc1.csv"
rs run >/dev/null 2>&1
drop "$TMP/esc2.csv"
rs run >/dev/null 2>&1
out user E2
R=$'\xef\xbf\xbd'
check "user: no ESC, BEL or C1 control reaches the terminal" \
    bash -c '! printf "%s" "$1" | LC_ALL=C grep -q $'"'"'[\x1b\x07]\|\xc2[\x80-\x9f]'"'"'' _ "$OUT"
contains "user: the source's values with U+FFFD for each control" "$OUT" \
    "first_name               Evil ${R}[31mRED${R}[0m"
contains "user: the directory's name too" "$OUT" \
    "Name                     Evil ${R}[31mRED${R}[0m ${R}]0;owned${R}Ray"
contains "user: a change's old and new values too" "$OUT" \
    "title                  Title${R}[2J${R}[H -> Lead${R}2J"
eq "user --json: the exact values" \
    "$(rs user E2 --json | json "[d['name'], d['source']['title']] == ['Evil \x1b[31mRED\x1b[0m \x1b]0;owned\x07Ray', 'Lead\x9b2J']")" \
    True

# ================================================ a user who left
sandbox gone 'delete_mode = "delete"; max_delete_percent = 100;'
csv g1 "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" "E2,bob@x.org,Bob,Ray,Eng,Dev,E9,Active"
rs run >/dev/null 2>&1
csv g2 "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active"
rs run >/dev/null 2>&1
eq "gone: E2 deleted from the directory" "$(q "SELECT count(*) FROM users WHERE key = 'E2'")" 0
out users
eq "gone: a deleted user is not listed" "$(rows "$OUT" | awk '{print $1}' | xargs)" "E1"
out user E2
eq "gone: user E2 is not found" "$RC" 1

# ================================== the counts kept with the directory
# Users and active users per sync and per email page (dircount,
# dirpages) and the items each run applied (runs.n_done): the store
# counts what it writes in the same transaction (a trigger counts
# deletions); a run that finds the directory edited by hand counts it
# again.
sandbox counts 'max_delete_percent = 100; max_update_percent = 100;'
dc() { q "SELECT users || '/' || active FROM dircount WHERE sync = 'hr'"; }
csv k1 "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" "E2,bob@x.org,Bob,Ray,Eng,Dev,E1,Active" \
    "E3,cat@y.org,Cat,Orr,Eng,Dev,E1,Active" "E4,dan@x.org,Dan,Poe,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
eq "counts: a first run" "$(dc):$(counts_off)" "4/4:0"
# E1's email on another page, E3 deactivated, E5 hired
csv k2 "E1,zed@x.org,Ann,Lee,Eng,Dev,,Active" "E2,bob@x.org,Bob,Ray,Eng,Dev,E1,Active" \
    "E4,dan@x.org,Dan,Poe,Eng,Dev,E1,Active" "E5,eve@x.org,Eve,Moe,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
eq "counts: an email to another page, a deactivation, a hire" "$(dc):$(counts_off)" "5/4:0"
eq "counts: the pages" "$(q "SELECT group_concat(prefix || '=' || n, ' ') FROM (SELECT * FROM dirpages WHERE n > 0 ORDER BY prefix)")" \
    "bo=1 ca=1 da=1 ev=1 ze=1"
csv k3 "E1,zed@x.org,Ann,Lee,Eng,Dev,,Active" "E2,bob@x.org,Bob,Ray,Eng,Dev,E1,Active" \
    "E3,cat@y.org,Cat,Orr,Eng,Dev,E1,Active" "E4,dan@x.org,Dan,Poe,Eng,Dev,E1,Active" \
    "E5,eve@x.org,Eve,Moe,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
eq "counts: a return" "$(dc):$(counts_off)" "5/5:0"
q "DELETE FROM users WHERE key = 'E5';
   UPDATE syncs SET version = version + 1, nonce = random() WHERE name = 'hr'"
eq "counts: a user deleted by hand is counted at once" "$(dc):$(counts_off)" "4/4:0"
q "UPDATE users SET active = 0 WHERE key = 'E4';
   UPDATE syncs SET version = version + 1, nonce = random() WHERE name = 'hr'"
eq "counts: one deactivated by hand is not (yet)" "$(dc)" "4/4"
csv k4 "E1,zed@x.org,Ann,Lee,Eng,Dev,,Active" "E2,bob@x.org,Bob,Ray,Eng,Lead,E1,Active" \
    "E3,cat@y.org,Cat,Orr,Eng,Dev,E1,Active" "E4,dan@x.org,Dan,Poe,Eng,Dev,E1,Active" \
    "E5,eve@x.org,Eve,Moe,Eng,Dev,E1,Active"
rs -v run >"$SB/k4.out" 2>&1
contains "counts: the next run counts again" "$(cat "$SB/k4.out")" "counted again"
eq "counts: and they are right" "$(dc):$(counts_off)" "5/5:0"
eq "counts: items done per run" "$(q "SELECT group_concat(n_done, ' ') FROM runs ORDER BY id")" \
    "$(q "SELECT group_concat((SELECT count(*) FROM items WHERE run_id = runs.id AND status IN ('applied', 'confirmed')), ' ') FROM runs ORDER BY id")"

# ============================================================ paging
sandbox paging
$GEN --rows 25 --seed 3 -o "$TMP/p.csv"
drop "$TMP/p.csv"
rs run >/dev/null 2>&1
emails=$(q "SELECT email FROM users ORDER BY email")
page_emails() { printf '%s\n' "$1" | awk '$1 ~ /@/ { print $1 }'; }
out users
eq "paging: default 10 a page" "$(paging "$OUT")" "1-10 of 25 results"
eq "paging: page 1 is the first 10 emails" "$(page_emails "$OUT")" "$(printf '%s\n' "$emails" | head -10)"
out users --page 3
eq "paging: the last partial page" "$(paging "$OUT")" "21-25 of 25 results"
eq "paging: the last page's rows" "$(page_emails "$OUT")" "$(printf '%s\n' "$emails" | tail -5)"
out users --page 4
eq "paging: a page past the end exits 0" "$RC" 0
eq "paging: a page past the end" "$(paging "$OUT")" "page 4 is past the end: 25 results"
eq "paging: a page past the end has no rows" "$(page_emails "$OUT")" ""
out users --per-page 25
eq "paging: exactly one page" "$(paging "$OUT")" "1-25 of 25 results"
out users --per-page 25 --page 2
eq "paging: after exactly one page" "$(paging "$OUT")" "page 2 is past the end: 25 results"
out users --per-page 1 --page 25
eq "paging: --per-page 1, the last" "$(paging "$OUT")" "25-25 of 25 results"
eq "paging: --per-page 1, one row" "$(page_emails "$OUT")" "$(printf '%s\n' "$emails" | tail -1)"
out users --per-page 7 --page 2
eq "paging: page 2 of 7" "$(paging "$OUT")" "8-14 of 25 results"
eq "paging: page 2 of 7 rows" "$(page_emails "$OUT")" "$(printf '%s\n' "$emails" | sed -n 8,14p)"
out users --status failed
eq "paging: 0 results" "$(paging "$OUT")" "0 results"
out users --per-page 0
eq "paging: --per-page 0 exits 2" "$RC" 2
out users --per-page 1001
eq "paging: --per-page 1001 exits 2" "$RC" 2
out users --page 0
eq "paging: --page 0 exits 2" "$RC" 2
js=$(rs users --json --per-page 7 --page 4 2>/dev/null)
check "paging --json parses" valid_json "$js"
eq "paging --json: the last partial page" \
    "$(printf '%s' "$js" | json "len(d['users']), d['first'], d['last'], d['total'], d['page'], d['per_page']")" \
    "(4, 22, 25, 25, 4, 7)"
js=$(rs users --json --page 9 2>/dev/null)
eq "paging --json: past the end" \
    "$(printf '%s' "$js" | json "len(d['users']), d['first'], d['last'], d['total']")" "(0, 0, 0, 25)"

# ============================================ paging by email pages
# A directory big enough for a first load in bulk (which adds its own
# counts) and for many email pages, with users of every status: every
# page of every list is the slice of the whole list it should be; the
# whole list is the directory and the keys outside it in email order
# (from SQL); --email takes the addresses, or the domains, that begin
# with the text, in any case. The work of a page, a search, a user and
# the metrics does not grow with the directory: SQLite's virtual machine
# steps (ROSTERSYNC_PLANS), a count the same on any machine, stay under
# the directory's size.
sandbox big
mkdir -p "$SB/drop2"
cat >"$CONF" <<'CONF'
database = "spool/rostersync.db";
spool = "spool";
timezone = "UTC";
syncs = (
	{ name = "hr"; source = "dir:drop"; settle_seconds = 0;
	  key = "employee_id"; required = [ "employee_id", "email", "last_name" ];
	  max_update_percent = 100; },
	{ name = "ctr"; source = "dir:drop2"; settle_seconds = 0;
	  key = "employee_id"; }
);
CONF
$GEN --rows 12000 --seed 41 -o "$TMP/b1.csv"
drop "$TMP/b1.csv"
rs -v run --sync hr >"$SB/b1.out" 2>&1
# A second sync of 600 users: the same ids, emails among hr's.
$GEN --rows 600 --seed 43 -o "$SB/drop2/c1.csv"
touch -d '-1 hour' "$SB/drop2/c1.csv"
rs run --sync ctr >"$SB/c1.out" 2>&1
contains "big: a first load in bulk" "$(cat "$SB/b1.out")" \
    "indexes are built after the rows"
eq "big: the counts a bulk load adds are right" "$(counts_off)" 0
steps() {	# steps ARGS...: the steps of SQLite's machine `rs ARGS` ran
	rm -f "$TMP/steps"
	ROSTERSYNC_PLANS=$TMP/steps rs "$@" >/dev/null 2>&1
	awk '$1 == "STEPS" { n += $2 } END { print n + 0 }' "$TMP/steps"
}
nusers=$(q "SELECT count(*) FROM users")
mid=$(q "SELECT email FROM users ORDER BY email LIMIT 1 OFFSET 6000")
for c in "users --page 1000" "users --page 1150 --status synced" \
    "users --email $mid" "user $mid" "status"; do
	# shellcheck disable=SC2086
	n=$(steps $c)
	check "big: $c: $n steps, under a quarter of the $nusers users" \
	    test "$n" -gt 0 -a "$n" -lt "$((nusers / 4))"
done
# Day 2: rows with an invalid email (skipped: Failed), with an unknown
# manager (Completed with Warning), new rows with an invalid email
# (outside the directory), the rest the generator's next day; then items
# failed by hand.
$GEN --mutate "$TMP/b1.csv" --seed 42 -o "$TMP/b2.csv"
$PYTHON - "$TMP/b2.csv" <<'EOF'
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f))
h, body = rows[0], rows[1:]
e, m, k = h.index("email"), h.index("manager_id"), h.index("employee_id")
for i, r in enumerate(body):
    if i % 300 == 7:
        r[e] = r[e].replace("@", "@@")
    elif i % 300 == 11:
        r[m] = "X%d" % i
for i in range(25):
    r = list(body[i])
    r[k], r[e] = "N%05d" % i, "new%d.example.com" % i
    body.append(r)
with open(sys.argv[1], "w", newline="", encoding="utf-8") as f:
    csv.writer(f, lineterminator="\n").writerows([h] + body)
EOF
drop "$TMP/b2.csv"
rs run --sync hr >"$SB/b2.out" 2>&1
q "UPDATE items SET status = 'failed', error = 'boom' WHERE run_id = 3 AND seq % 97 = 0 AND type = 'update'"
# A dry run that would hire three people: Never Synced, their emails
# among everyone's.
head -1 "$TMP/b2.csv" >"$TMP/dry.csv"
tail -n +2 "$TMP/b2.csv" | sed -n '1,3s/^E\([0-9]*\),\([^@]*\)@/D\1,\2x@/p' >>"$TMP/dry.csv"
tail -n +2 "$TMP/b2.csv" >>"$TMP/dry.csv"
rs run --sync hr --dry-run --file "$TMP/dry.csv" >"$SB/dry.out" 2>&1
eq "big: the counts are right after a daily run and items failed by hand" \
    "$(counts_off)" 0
q "SELECT email, sync, key FROM users" >"$TMP/dir.txt"
q "SELECT DISTINCT '', s.key, r.sync FROM issues s JOIN runs r ON r.id = s.run_id
   WHERE s.key > '' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.sync = r.sync AND u.key = s.key)
   UNION SELECT email, key, 'hr' FROM items WHERE status = 'preview' AND type = 'create'" >"$TMP/outside.txt"
eq "big: hr's second run and ctr's first, two syncs" \
    "$(q "SELECT group_concat(sync || ':' || status, ' ') FROM runs WHERE dry_run = 0")" \
    "hr:success ctr:success hr:needs_attention"
# pages.py: the whole list (--per-page 1000, every page) against SQL, then
# pages of 7 of each list against the slices of the whole one.
cat >"$TMP/pages.py" <<'EOF'
import json, random, subprocess, sys
rs, conf, dirf, outf = sys.argv[1:5]
def users(*args):
    out = subprocess.run([rs, "-c", conf, "users", "--json"] + list(args),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)
def whole(*args):
    rows, page = [], 1
    while True:
        d = users("--per-page", "1000", "--page", str(page), *args)
        rows += d["users"]
        if d["last"] >= d["total"]:
            return rows, d["total"]
        page += 1
def key(u):
    return (u["email"] or "", u["sync"], u["employee_id"])
allrows, total = whole()
want = []
for line in open(dirf, encoding="utf-8"):
    email, sync, k = line.rstrip("\n").split("|")
    want.append((email, sync, k))
for line in open(outf, encoding="utf-8"):
    email, k, sync = line.rstrip("\n").split("|")
    want.append((email, sync, k))
want.sort()
print("whole", total == len(want) and [key(u) for u in allrows] == want,
      len(want))
def domain(e):
    return e.split("@", 1)[1] if "@" in e else e
lists = {
    "all": ([], allrows),
    "synced": (["--status", "synced"], None),
    "failed": (["--status", "failed"], None),
    "warning": (["--status", "completed_with_warning"], None),
    "never": (["--status", "never_synced"], None),
    "email ma": (["--email", "MA"], None),
    "email domain": (["--email", "example.c"], None),
    "email one": (["--email", allrows[len(allrows) // 2]["email"]], None),
    "email failed": (["--email", "j", "--status", "failed"], None),
    "sync ctr": (["--sync", "ctr"], None),
    "sync hr synced": (["--sync", "hr", "--status", "synced"], None),
    "sync ctr email": (["--sync", "ctr", "--email", "s"], None),
}
rnd = random.Random(7)
for name, (args, rows) in lists.items():
    if rows is None:
        rows = [u for u in allrows if
                ("--sync" not in args or
                 u["sync"] == args[args.index("--sync") + 1]) and
                ("--status" not in args or
                 u["status"] == args[args.index("--status") + 1]) and
                ("--email" not in args or
                 (u["email"] or "").startswith(args[args.index("--email") + 1].lower()) or
                 domain(u["email"] or "").startswith(args[args.index("--email") + 1].lower()))]
    last = (len(rows) + 6) // 7
    pages = sorted({1, 2, last - 1, last, last + 1} |
                   {rnd.randint(1, max(1, last)) for _ in range(12)})
    bad = 0
    for p in [p for p in pages if p >= 1]:
        d = users("--per-page", "7", "--page", str(p), *args)
        exp = rows[(p - 1) * 7:p * 7]
        if ([key(u) for u in d["users"]] != [key(u) for u in exp] or
                d["total"] != len(rows)):
            bad += 1
    print("list", name.replace(" ", "_"), len(rows), bad)
EOF
$PYTHON "$TMP/pages.py" "$ROSTERSYNC" "$CONF" "$TMP/dir.txt" \
    "$TMP/outside.txt" >"$SB/pages.out" 2>&1
eq "big: the whole list is the directory and the keys outside it, in order" \
    "$(awk '$1 == "whole" { print $2 }' "$SB/pages.out")" True
for l in all synced failed warning never email_ma email_domain email_one \
    email_failed sync_ctr sync_hr_synced sync_ctr_email; do
	eq "big: every page of 7 of the list $l is its slice" \
	    "$(awk -v l="$l" '$1 == "list" && $2 == l { print $4 }' "$SB/pages.out")" 0
done
check "big: lists of every status have users" awk '$1 == "list" &&
    $2 ~ /^(failed|warning|never|email_one)$/ && $3 == 0 { exit 1 }' \
    "$SB/pages.out"

finish
