#!/bin/bash
# The query plans of the interactive views: every statement that user,
# users (each filter, paging), items, history, show and status run finds
# its rows through an index. With ROSTERSYNC_PLANS=FILE the store writes
# each statement it prepares and its EXPLAIN QUERY PLAN (store.c);
# tests/plans.py refuses a SCAN of any table but the counts tables (one
# row per sync, or per sync and email page), a CTE already read through
# indexes, or a constant row. The directory has what makes every path
# run: two syncs, a failing one, failed items, warnings, skipped rows,
# keys outside the directory, a dry run and a run in progress.
. "$(dirname "$0")/lib.sh"

H=employee_id,email,first_name,last_name,department,title,manager_id,employment_status
sandbox plans
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
	},
	{
		name = "ext";
		source = "dir:nowhere";
		settle_seconds = 0;
		key = "employee_id";
	}
);
CONF
csv() { local n=$1; shift; printf '%s\n' "$H" "$@" >"$TMP/$n.csv"; drop "$TMP/$n.csv"; }
csv h1 "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Dev,E1,Active" \
    "E3,cat@x.org,Cat,Orr,Eng,Dev,E9,Active" \
    "E4,dan@y.org,Dan,Poe,Eng,Dev,E1,Active" \
    "E5,not-an-email,Eve,Moe,Eng,Dev,E1,Active"
rs run --sync hr >/dev/null 2>&1
printf '%s\n' "$H" "C1,ann@x.org,Ann,Lee,Ctr,Dev,,Active" \
    "C2,gus@x.org,Gus,Ng,Ctr,Dev,C1,Active" >"$SB/drop2/c1.csv"
touch -d '-1 hour' "$SB/drop2/c1.csv"
rs run --sync ctr >/dev/null 2>&1
rs run --sync ext >/dev/null 2>&1
csv h2 "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Lead,E1,Active" \
    "E3,cat@x.org,Cat,Orr,Eng,Dev,E9,Active" \
    "E4,dan@y.org,Dan,Poe,Ops,Dev,E1,Active" \
    "E6,fay@@x.org,Fay,Ito,Eng,Dev,E1,Active"
rs run --sync hr >/dev/null 2>&1
q "UPDATE items SET status = 'failed', error = 'boom' WHERE key = 'E4' AND run_id = (SELECT max(id) FROM runs WHERE sync = 'hr')"
printf '%s\n' "$H" "E7,jo@x.org,Jo,Park,Eng,Dev,E1,Active" >"$TMP/dry.csv"
rs run --sync hr --dry-run --file "$TMP/dry.csv" >/dev/null 2>&1
eq "the directory: 6 users in two syncs" "$(q "SELECT count(*) FROM users")" 6
eq "run 3 (ext) Failed" "$(status_of 3)" failed
eq "E4's two items failed" "$(q "SELECT count(*) FROM items WHERE status = 'failed'")" 2
eq "warnings (E3 twice, the dry run's E7) and skipped rows (E5, E6)" \
    "$(q "SELECT count(*) FROM issues WHERE type IN ('manager_not_found', 'user_skipped')")" 5

P=$TMP/plans
mkdir -p "$P"
n=0
# file NAME: where the plans of the command NAME go.
file() { printf '%s/%s' "$P" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9' _)"; }
# plans NAME ARGS...: run rostersync ARGS with its plans in $(file NAME).
plans() {
	local f
	f=$(file "$1")
	shift
	rm -f "$f"
	ROSTERSYNC_PLANS=$f "$ROSTERSYNC" -c "$CONF" "$@" >"$f.out" 2>&1
}
# verdict NAME: the plans of a command: no full scan, and some statements.
verdict() {
	local out f
	f=$(file "$1")
	out=$($PYTHON "$TOP/tests/plans.py" "$f" 2>&1)
	if [ $? = 0 ] && [ -s "$f" ]; then
		ok "$1: $(grep -c '^ok' <<<"$out") statements, each through an index"
	else
		not_ok "$1: a full scan" "$(grep -v '^ok' <<<"$out")"
	fi
	cat "$f" >>"$P/all" 2>/dev/null
}
run_and_check() { plans "$@"; verdict "$1"; }

run_and_check "user E4" user E4
run_and_check "user by email" user bob@x.org
run_and_check "user in two syncs" user ann@x.org
run_and_check "user --sync" user ann@x.org --sync ctr
run_and_check "user outside the directory" user E5
run_and_check "user --json" user E7 --json
run_and_check "user nobody" user nobody@x.org
run_and_check "users" users
run_and_check "users --json" users --json --per-page 3 --page 2
run_and_check "users --email" users --email ANN@
run_and_check "users --email domain" users --email x.org --page 2 --per-page 2
run_and_check "users --sync" users --sync ctr --page 2 --per-page 1
run_and_check "users --status failed" users --status failed
run_and_check "users --status synced" users --status synced --page 2 --per-page 2
run_and_check "users --status never" users --status never_synced
run_and_check "users --status warning" users --status completed_with_warning
run_and_check "users --since/--until" users --since 2000-01-01 --until 2100-01-01
run_and_check "users deep page" users --page 3 --per-page 2
run_and_check "items" items 4
run_and_check "items --user" items 4 --user dan
run_and_check "items --type --json" items 4 --type update --json
run_and_check "items --issue" items 1 --issue user_skipped
run_and_check "items --item" items 4 --item 1
run_and_check "history" history
run_and_check "history --sync" history --sync hr --page 2 --per-page 1
run_and_check "history --status" history --status success --status failed
run_and_check "history --since/--until --oldest" history --since 2000-01-01 \
    --until 2100-01-01 --oldest
run_and_check "history --last --source" history --last 7d --source dir
run_and_check "history --json" history --json
run_and_check "show" show 4
run_and_check "status" status
run_and_check "status --json" status --json

# A run in progress (its sync's users are In Progress) and the same again.
q "INSERT INTO runs(sync, trigger, status, started) VALUES ('hr', 'manual', 'in_progress', strftime('%s', 'now'))"
run_and_check "users --status in_progress" users --status in_progress
run_and_check "status, a run in progress" status

# The statements the views rely on were all seen, with the index each
# one is for.
for want in "users_email (email>?)" "users_domain" "dirpages" \
    "items_open (status=?)" "items_run_key (run_id=? AND key=?)" \
    "runs_sync_id (sync=? AND rowid>?)" "issues_key (key=?)" \
    "issues_type (type=?)" "runs_running (sync=?)" \
    "runs_started (started>? AND started<?)" \
    "runs_sync (sync=? AND started>? AND started<?)"; do
	contains "a plan uses $want" "$(cat "$P/all")" "$want"
done

# The checker itself: the plan of a statement of an older rostersync
# (failed items read from every item) is refused.
cat >"$P/old" <<'EOF'
SQL SELECT r.sync, i.key, i.type, i.run_id FROM items i JOIN runs r ON r.id = i.run_id WHERE i.status = 'failed'
PLAN SCAN i
PLAN SEARCH r USING INTEGER PRIMARY KEY (rowid=?)
SQL SELECT sync, key, email FROM users WHERE instr(lower(email), lower(?2)) > 0 ORDER BY email
PLAN SCAN users USING COVERING INDEX users_email
EOF
out=$($PYTHON "$TOP/tests/plans.py" "$P/old")
eq "plans.py refuses a scan of items (by its alias) and of users" \
    "$?:$(grep -c '^SCAN' <<<"$out")" "1:2"

finish
