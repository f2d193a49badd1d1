#!/bin/bash
# The command line a sysadmin uses: check-config, history (paging, filters),
# show (summary and hints), items (filters), report, run --dry-run, --json
# of the views against their text, and the exit statuses of run.
. "$(dirname "$0")/lib.sh"

# out CMD...: run rostersync, stdout and stderr together in $OUT, status $RC.
out() { OUT=$(rs "$@" 2>&1); RC=$?; }
# The run ids a history page shows, space-separated, in order.
ids() { printf '%s\n' "$1" | awk '/^ *[0-9]+  /{print $1}' | xargs; }
# json EXPR: evaluate EXPR on the JSON document d read from stdin.
json() {
	$PYTHON -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
valid_json() { printf '%s' "$1" | $PYTHON -m json.tool >/dev/null 2>&1; }
# A sandbox with two syncs: hr (drop-zone drop/) and ctr (drop2/).
two_syncs() {
	sandbox "$1"
	mkdir -p "$SB/drop2"
	DROP2=$SB/drop2
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
	},
	{
		name = "ctr";
		enabled = false;
		source = "dir:drop2";
		settle_seconds = 0;
		key = "employee_id";
		required = [ "employee_id", "email", "last_name" ];
	}
);
CONF
}

# ====================================================== check-config & co
two_syncs conf
out check-config
eq "check-config: a good config exits 0" "$RC" 0
contains "check-config: says ok" "$OUT" "ok, 2 syncs"
contains "check-config: lists hr" "$OUT" "hr "
contains "check-config: lists ctr, inactive" "$OUT" "inactive"
cat >"$SB/bad.conf" <<'CONF'
database = "spool/rostersync.db";
spool = "spool";
timezone = "UTC";
lock_wait = 5;
syncs = ( {
	name = "hr";
	source = "dir:drop";
	settle_seconds = -5;
	format = "pdf";
	key = "employee_id";
	max_delete_percent = 250;
} );
CONF
chmod 0640 "$SB/bad.conf"
OUT=$("$ROSTERSYNC" -c "$SB/bad.conf" check-config 2>&1); RC=$?
eq "check-config: 3 mistakes exit 3" "$RC" 3
eq "check-config: 3 messages with FILE:LINE:" \
    "$(printf '%s\n' "$OUT" | grep -c "^$SB/bad.conf:[0-9]*: ")" 3
contains "check-config: line 8 (settle_seconds)" "$OUT" "$SB/bad.conf:8: "
contains "check-config: line 9 (format)" "$OUT" "$SB/bad.conf:9: "
contains "check-config: line 11 (max_delete_percent)" "$OUT" \
    "$SB/bad.conf:11: "
contains "check-config: the count" "$OUT" "3 errors"
OUT=$("$ROSTERSYNC" -c "$SB/missing.conf" check-config 2>&1); RC=$?
eq "check-config: a missing file exits 3" "$RC" 3
contains "check-config: a missing file is named" "$OUT" "$SB/missing.conf"
out check-config extra
eq "check-config: an extra argument exits 2" "$RC" 2
out frobnicate
eq "unknown command: exit 2" "$RC" 2
contains "unknown command: says so" "$OUT" "unknown command 'frobnicate'"
out version
eq "version: exit 0" "$RC" 0
contains "version: prints it" "$OUT" "rostersync 0."
out help
eq "help: exit 0" "$RC" 0
contains "help: lists history" "$OUT" "history [--sync S]"
contains "help: documents the exit statuses" "$OUT" "4 data load failed"
OUT=$("$ROSTERSYNC" 2>&1); RC=$?
eq "no command: exit 2" "$RC" 2

# ============================================================= history
# 25 runs: 20 of hr (2 Data Load Failed, 1 Needs Attention) and 5 of ctr.
two_syncs hist
sed -i 's/enabled = false;/enabled = true;/' "$CONF"
$GEN --rows 20 --seed 5 -o "$TMP/base.csv"
# variant N: the base export with row 3's first name changed (new content).
variant() {
	sed "3s/^\([^,]*\),\([^,]*\),[^,]*,/\1,\2,Name$1,/" "$TMP/base.csv"
}
for i in $(seq 1 25); do
	case $i in
	3|8|15|20|25)	# ctr
		variant "$i" >"$TMP/c$i.csv"
		cp "$TMP/c$i.csv" "$DROP2/c$i.csv"
		touch -d '-1 hour' "$DROP2/c$i.csv";;
	5|12)		# hr, a header and no rows: Data Load Failed
		printf 'employee_id,email,last_name,x%d\n' "$i" >"$TMP/h$i.csv"
		drop "$TMP/h$i.csv";;
	18)		# hr, one invalid email: Needs Attention
		variant "$i" | sed '4s/@example\.com/@@/' >"$TMP/h$i.csv"
		drop "$TMP/h$i.csv";;
	*)
		variant "$i" >"$TMP/h$i.csv"
		drop "$TMP/h$i.csv";;
	esac
	rs run >"$TMP/hist-$i.out" 2>&1
done
eq "history: 25 runs recorded" "$(q "SELECT count(*) FROM runs")" 25
eq "history: run 5 Data Load Failed" "$(status_of 5)" data_load_failed
eq "history: run 18 Needs Attention" "$(status_of 18)" needs_attention
eq "history: run 20 is ctr" "$(q "SELECT sync FROM runs WHERE id = 20")" ctr
# Dates for the date filters: runs 1-10 on 10 Jan 2024, 11-15 on 15 Feb
# 2024, 16-25 now (the runs table is the only place that says when).
q "UPDATE runs SET started = strftime('%s', '2024-01-10 09:00:00') + id * 60,
    finished = strftime('%s', '2024-01-10 09:00:00') + id * 60 + 1
    WHERE id <= 10;
   UPDATE runs SET started = strftime('%s', '2024-02-15 09:00:00') + id * 60,
    finished = strftime('%s', '2024-02-15 09:00:00') + id * 60 + 1
    WHERE id BETWEEN 11 AND 15;"

out history
eq "history: exit 0" "$RC" 0
eq "history: the default page has 10 rows, newest first" "$(ids "$OUT")" \
    "25 24 23 22 21 20 19 18 17 16"
contains "history: paging line" "$OUT" "1-10 of 25 results"
contains "history: shows the status label" "$OUT" "Needs Attention"
out history --page 3 --per-page 10
eq "history: page 3 has the 5 oldest" "$(ids "$OUT")" "5 4 3 2 1"
contains "history: page 3 paging line" "$OUT" "21-25 of 25 results"
out history --page 2 --per-page 7
eq "history: page 2 of 7" "$(ids "$OUT")" "18 17 16 15 14 13 12"
contains "history: page 2 of 7 paging line" "$OUT" "8-14 of 25 results"
out history --page 4
eq "history: a page past the end exits 0" "$RC" 0
eq "history: a page past the end has no rows" "$(ids "$OUT")" ""
contains "history: a page past the end says so" "$OUT" "past the end"
out history --per-page 0
eq "history: --per-page 0 is a usage error" "$RC" 2
contains "history: --per-page 0 says why" "$OUT" "--per-page"
out history --page 0
eq "history: --page 0 is a usage error" "$RC" 2
out history --page x
eq "history: --page x is a usage error" "$RC" 2
out history --oldest
eq "history: --oldest reverses the order" "$(ids "$OUT")" \
    "1 2 3 4 5 6 7 8 9 10"
out history --oldest --page 3
eq "history: --oldest, page 3" "$(ids "$OUT")" "21 22 23 24 25"
out history --status data_load_failed
eq "history: --status slug" "$(ids "$OUT")" "12 5"
contains "history: --status paging line" "$OUT" "1-2 of 2 results"
out history --status "Data Load Failed"
eq "history: --status label" "$(ids "$OUT")" "12 5"
out history --status "needs attention" --status data_load_failed
eq "history: --status repeated" "$(ids "$OUT")" "18 12 5"
out history --status bogus
eq "history: unknown status exits 2" "$RC" 2
contains "history: unknown status says so" "$OUT" "unknown status 'bogus'"
out history --sync ctr
eq "history: --sync ctr" "$(ids "$OUT")" "25 20 15 8 3"
out history --sync hr --per-page 100
eq "history: --sync hr counts 20" "$(ids "$OUT" | wc -w)" 20
contains "history: --sync hr total" "$OUT" "1-20 of 20 results"
out history --sync hr --status success --per-page 100
eq "history: --sync and --status together" "$(ids "$OUT" | wc -w)" 17
out history --since 2024-02-01 --until 2024-02-28
eq "history: --since/--until a month" "$(ids "$OUT")" "15 14 13 12 11"
out history --since 2024-01-10 --until 2024-01-10
eq "history: --since D --until D is that day" "$(ids "$OUT")" \
    "10 9 8 7 6 5 4 3 2 1"
out history --until 2024-01-09
eq "history: --until before every run" "$(ids "$OUT")" ""
contains "history: no run: 0 results" "$OUT" "0 results"
out history --since 2024-01-11 --per-page 100
eq "history: --since" "$(ids "$OUT" | wc -w)" 15
out history --last 7d
eq "history: --last 7d" "$(ids "$OUT")" "25 24 23 22 21 20 19 18 17 16"
out history --last 30d --sync ctr
eq "history: --last 30d with --sync" "$(ids "$OUT")" "25 20"
out history --since 10/01/2024
eq "history: a bad date exits 2" "$RC" 2
contains "history: a bad date says the format" "$OUT" "YYYY-MM-DD"
out history --last week
eq "history: --last week exits 2" "$RC" 2

# the source connector: a column, and a filter (its kind or a part)
out history
contains "history: a SOURCE column" "$OUT" "SOURCE"
contains "history: the source's kind and where, cut to its width" "$OUT" \
    "dir $(printf '%s' "$DROP2" | cut -c1-17)…"
out history --source drop2
eq "history --source PART: the runs of that source" "$(ids "$OUT")" "25 20 15 8 3"
out history --source dir --per-page 100
eq "history --source KIND: every drop-zone run" "$(ids "$OUT" | wc -w)" 25
out history --source sftp
contains "history --source sftp: none here" "$OUT" "0 results"
out history --source DROP2 --status success --last 30d
eq "history --source with other filters, any case" "$(ids "$OUT")" "25 20"
eq "history --source --json: the same runs" \
    "$(rs history --source drop2 --json | json "[r['id'] for r in d['runs']], d['total'], {r['source'] for r in d['runs']}")" \
    "([25, 20, 15, 8, 3], 5, {'dir:$DROP2'})"

# --json carries the same numbers as the text
text=$(rs history 2>/dev/null)
js=$(rs history --json 2>/dev/null)
check "history --json parses" valid_json "$js"
eq "history --json: the same run ids" \
    "$(printf '%s' "$js" | json "' '.join(str(r['id']) for r in d['runs'])")" \
    "$(ids "$text")"
eq "history --json: total, first, last" \
    "$(printf '%s' "$js" | json "'%d-%d of %d results' % (d['first'], d['last'], d['total'])")" \
    "1-10 of 25 results"
js=$(rs history --json --status data_load_failed --status needs_attention 2>/dev/null)
eq "history --json: filtered total" "$(printf '%s' "$js" | json "d['total']")" 3
eq "history --json: filtered statuses" \
    "$(printf '%s' "$js" | json "' '.join(r['status'] for r in d['runs'])")" \
    "needs_attention data_load_failed data_load_failed"
js=$(rs history --json --page 3 2>/dev/null)
eq "history --json: page 3" \
    "$(printf '%s' "$js" | json "[r['id'] for r in d['runs']], d['first'], d['last']")" \
    "([5, 4, 3, 2, 1], 21, 25)"
eq "history --json: counts of run 1" \
    "$(printf '%s' "$js" | json "d['runs'][-1]['counts']['create']")" \
    "$(count_of 1 n_create)"

# ================================================ show, items, report
sandbox show
$GEN --rows 40 --seed 7 -o "$TMP/s1.csv"
# Run 1: two rows skipped (a bad email, no id), the rest created.
sed '5s/@example\.com/@@example.com/; 7s/^E[0-9]*,/,/' "$TMP/s1.csv" \
    >"$TMP/s1bad.csv"
drop "$TMP/s1bad.csv" day1.csv
rs run >"$TMP/show1.out" 2>&1
eq "run: issues make Needs Attention, exit 6" "$?" 6
eq "run 1 is Needs Attention" "$(status_of 1)" needs_attention
printf 'employee_id,email,last_name\n' >"$TMP/empty.csv"
drop "$TMP/empty.csv" day2.csv
rs run >"$TMP/show2.out" 2>&1
eq "run: Data Load Failed, exit 4" "$?" 4
# Half the people gone, under a name a shell would misread.
head -21 "$TMP/s1.csv" >"$TMP/half.csv"
drop "$TMP/half.csv" "day3 o'clock.csv"
rs run >"$TMP/show3.out" 2>&1
eq "run: Above Deactivation Threshold, exit 5" "$?" 5
eq "run 3 is above_threshold" "$(status_of 3)" above_threshold
deletes=$(count_of 3 n_delete)
check "run 3 would delete people" test "$deletes" -gt 0
$GEN --mutate "$TMP/s1.csv" --seed 8 --update-rate 0.2 -o "$TMP/s4.csv"
out run --sync hr --dry-run --file "$TMP/s4.csv"	# a dry run: it cancels no held run
eq "run: Success, exit 0" "$RC" 0
eq "run 4 is success" "$(status_of 4)" success

out show 1
eq "show: exit 0" "$RC" 0
for f in "Run 1: Needs Attention" "Status" "Sync" "Trigger" "Data source" \
    "File name" "SHA-256" "Rows read" "Started" "Finished" "Duration" \
    "User created" "User skipped" "Rows skipped" "Threshold: max deletes"; do
	contains "show: summary has $f" "$OUT" "$f"
done
contains "show: the input's sha256" "$OUT" "$(q "SELECT sha256 FROM runs WHERE id = 1")"
contains "show: issues hint points at items" "$OUT" "rostersync items 1 --issue"
js=$(rs show 1 --json 2>/dev/null)
check "show --json parses" valid_json "$js"
eq "show --json: the same numbers as the text" \
    "$(printf '%s' "$js" | json "d['id'], d['status_label'], d['counts']['create'], d['issues']['user_skipped'], d['skipped']")" \
    "(1, 'Needs Attention', $(printf '%s\n' "$OUT" | awk '/^  User created /{print $3}'), $(printf '%s\n' "$OUT" | awk '/^  User skipped /{print $3}'), $(printf '%s\n' "$OUT" | awk '/^  Rows skipped /{print $3}'))"
eq "show --json: counts equal the runs table" \
    "$(printf '%s' "$js" | json "d['counts']['create'], d['skipped']")" \
    "($(count_of 1 n_create), $(count_of 1 skipped))"
check "show --json: hints" test "$(printf '%s' "$js" | json "len(d['hints'])")" -ge 1

out show 2
contains "show Data Load Failed: the label" "$OUT" "Run 2: Data Load Failed"
contains "show Data Load Failed: the cause" "$OUT" "no data rows"
contains "show Data Load Failed: the failed/ file" "$OUT" \
    "$SPOOL/failed/hr/2-day2.csv"
check "show Data Load Failed: that file exists" test -f "$SPOOL/failed/hr/2-day2.csv"

out show 3
contains "show threshold: the label" "$OUT" "Above Deactivation Threshold"
contains "show threshold: how many deletions" "$OUT" \
    "$deletes deletions of $(count_of 3 active_before) active users"
want="rostersync run --sync hr --file '$SPOOL/archive/hr/3-day3 o'\\''clock.csv' --allow-deletes $deletes"
contains "show threshold: the exact command, quoted" "$OUT" "$want"
cmd=$(printf '%s\n' "$OUT" | sed -n 's/.*through once: rostersync //p')
eval "rs $cmd" >"$TMP/push.out" 2>&1
eq "the command from show: exit 0" "$?" 0
eq "the command from show: run 5 Success" "$(status_of 5)" success
eq "the command from show: deletions applied" "$(count_of 5 n_delete)" "$deletes"
eq "the command from show: the threshold is unchanged" \
    "$(count_of 5 max_deletes)" 500
eq "the command from show: active users" \
    "$(q "SELECT count(*) FROM users WHERE active = 1")" 20

out show 999
eq "show: a missing run exits 1" "$RC" 1
contains "show: a missing run says so" "$OUT" "there is no run 999"
out show abc
eq "show: not a number exits 2" "$RC" 2
out show
eq "show: no run exits 2" "$RC" 2

# items
n_create=$(count_of 1 n_create)
out items 1 --type create
eq "items --type create: exit 0" "$RC" 0
eq "items --type create: as many as runs.n_create" \
    "$(printf '%s\n' "$OUT" | grep -c 'User created')" "$n_create"
eq "items --type create: nothing else" \
    "$(printf '%s\n' "$OUT" | grep -c '^ *[0-9]')" "$n_create"
check "items --type create: some" test "$n_create" -gt 30
js=$(rs items 1 --type create --json 2>/dev/null)
check "items --json parses" valid_json "$js"
eq "items --json: the same creates" \
    "$(printf '%s' "$js" | json "len(d['items']), {i['type'] for i in d['items']}, len(d['issues'])")" \
    "($n_create, {'create'}, 0)"
out items 1 --issue user_skipped
eq "items --issue user_skipped: the 2 rows" \
    "$(printf '%s\n' "$OUT" | grep -c 'User skipped')" 2
eq "items --issue user_skipped: no changes listed" \
    "$(printf '%s\n' "$OUT" | grep -c 'User created')" 0
contains "items --issue: the bad email with a fix" "$OUT" "fix:"
js=$(rs items 1 --json 2>/dev/null)
check "items --json (all) parses" valid_json "$js"
eq "items --json (all): items and issues equal the runs table" \
    "$(printf '%s' "$js" | json "sum(i['type'] == 'create' for i in d['items']), sum(i['type'] == 'user_skipped' for i in d['issues'])")" \
    "($n_create, $(count_of 1 i_user_skipped))"
js=$(rs items 4 --json 2>/dev/null)
check "items --json with field changes parses" valid_json "$js"
eq "items --json: updates as in runs.n_update" \
    "$(printf '%s' "$js" | json "sum(i['type'] == 'update' for i in d['items'])")" \
    "$(count_of 4 n_update)"
eq "items --json: field changes as in the changes table" \
    "$(printf '%s' "$js" | json "sum(len(i['changes']) for i in d['items'])")" \
    "$(q "SELECT count(*) FROM changes WHERE run_id = 4")"
# --user: email, name or id, any case
email=$(q "SELECT email FROM items WHERE run_id = 1 AND type = 'create' ORDER BY seq LIMIT 1")
key=$(q "SELECT key FROM items WHERE run_id = 1 AND type = 'create' ORDER BY seq LIMIT 1")
name=$(q "SELECT name FROM items WHERE run_id = 1 AND type = 'create' ORDER BY seq LIMIT 1")
out items 1 --type create --user "$(printf '%s' "$email" | tr a-z A-Z)"
eq "items --user EMAIL (upper case)" "$(printf '%s\n' "$OUT" | grep -c 'User created')" 1
contains "items --user EMAIL: that user, the email in full" "$OUT" "$email"
out items 1 --type create --user "$(printf '%s' "$key" | tr A-Z a-z)"
eq "items --user id (lower case)" "$(printf '%s\n' "$OUT" | grep -c 'User created')" 1
out items 1 --type create --user "$name"
contains "items --user NAME" "$OUT" "$key"
out items 1 --user "nobody-matches-this"
eq "items --user: no match, no rows" "$(printf '%s\n' "$OUT" | grep -c '^ *[0-9]')" 0
out items 1 --type bogus
eq "items: unknown type exits 2" "$RC" 2
# By data type: users (create, update, manager, delete) and
# teams (team_create, team_delete, team_member).
out items 1 --type teams
eq "items --type teams: exit 0" "$RC" 0
n_teams=$(q "SELECT n_team_create + n_team_delete + n_team_member FROM runs WHERE id = 1")
check "items --type teams: the run has team items" test "$n_teams" -gt 0
eq "items --type teams: every team item, nothing else" \
    "$(printf '%s\n' "$OUT" | grep -c '^ *[0-9]')" "$n_teams"
eq "items --type teams: only team types" \
    "$(rs items 1 --type teams --json | json "sorted({i['type'] for i in d['items']}), len(d['issues'])")" \
    "(['team_create'], 0)"
eq "items --type users: every user item" \
    "$(rs items 4 --type users --json | json "sorted({i['type'] for i in d['items']}), len(d['items'])")" \
    "$(rs items 4 --json | json "sorted({i['type'] for i in d['items'] if not i['type'].startswith('team')}), sum(1 for i in d['items'] if not i['type'].startswith('team'))")"
out items 1 --type users
eq "items --type users: creates only here" \
    "$(printf '%s\n' "$OUT" | grep -c '^ *[0-9]'):$(printf '%s\n' "$OUT" | grep -c 'Team created')" \
    "$n_create:0"
out items 999
eq "items: a missing run exits 1" "$RC" 1

# report
base=$(q "SELECT report_base FROM runs WHERE id = 1")
out report 1 --format csv -o "$TMP/r1.csv"
eq "report csv: exit 0" "$RC" 0
check "report csv: identical to the one written at run time" \
    cmp "$TMP/r1.csv" "$SPOOL/reports/hr/$base.csv"
# Run 3 was held, then its file was pushed through by run 5: superseded.
base=$(q "SELECT report_base FROM runs WHERE id = 3")
eq "a held run whose file ran again is Cancelled" "$(status_of 3)" cancelled
check "its preview report written at the time stays" \
    test -f "$SPOOL/reports/hr/$base.csv"
contains "its preview now says why it was cancelled" \
    "$(cat "$SPOOL/reports/hr/$base.csv")" "superseded by run 5"
out report 3 --format csv -o "$TMP/r3.csv"
eq "report of a cancelled run: its preview, made again (exit 0)" "$RC" 0
check "report of a cancelled run: the same as the one in the spool" \
    cmp "$TMP/r3.csv" "$SPOOL/reports/hr/$base.csv"
rs report 4 --format csv >"$TMP/r4.csv" 2>/dev/null
base=$(q "SELECT report_base FROM runs WHERE id = 4")
check "report csv to stdout: identical" cmp "$TMP/r4.csv" "$SPOOL/reports/hr/$base.csv"
out report 1 --format pdf
eq "report: unknown format exits 2" "$RC" 2
# A Failed run (the process was killed while it ran) has no report.
$GEN --rows 100000 --seed 9 -o "$TMP/big.csv"
drop "$TMP/big.csv"
"$ROSTERSYNC" -c "$CONF" run >"$TMP/killed.out" 2>&1 &
pid=$!
n=600	# at most 30 s
while [ $n -gt 0 ] && kill -0 $pid 2>/dev/null && [ "$(sqlite3 -cmd \
    '.timeout 2000' "$DB" "SELECT count(*) FROM runs WHERE status = \
'in_progress'" 2>/dev/null)" != 1 ]; do
	sleep 0.05
	n=$((n - 1))
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
rs fetch >/dev/null 2>&1	# recovery marks the killed run Failed
failed=$(q "SELECT id FROM runs WHERE status = 'failed' ORDER BY id LIMIT 1")
if [ -n "$failed" ]; then
	eq "a killed run is Failed (interrupted)" \
	    "$(q "SELECT error FROM runs WHERE id = $failed")" interrupted
	out report "$failed" --format csv -o "$TMP/rf.csv"
	check "report of a Failed run: non-zero exit" test "$RC" -ne 0
	contains "report of a Failed run: says there is none" "$OUT" \
	    "has no CSV report"
	check "report of a Failed run: no file written" test ! -e "$TMP/rf.csv"
	out show "$failed"
	contains "show of a Failed run: the cause" "$OUT" "interrupted"
else
	skip "the run ended before it could be killed: no Failed run to report"
fi

# ============================================================ run --dry-run
sandbox dry
$GEN --rows 200 --seed 21 -o "$TMP/d1.csv"
$GEN --mutate "$TMP/d1.csv" --seed 22 --update-rate 0.05 --delete-rate 0.02 \
    --hire-rate 0.02 -o "$TMP/d2.csv"
drop "$TMP/d1.csv"
rs run >/dev/null 2>&1
drop "$TMP/d2.csv" waiting.csv
dir_before=$(dump)
ledger_before=$(q "SELECT * FROM files ORDER BY id")
drop_before=$(ls -lR --time-style=full-iso "$DROP")
spool_before=$(cd "$SPOOL" && find incoming archive failed -type f 2>/dev/null | sort)
out run --dry-run --file "$TMP/d2.csv"
eq "dry run: exit 0" "$RC" 0
r=$(last_run)
eq "dry run: recorded with dry_run = 1" "$(count_of "$r" dry_run)" 1
check "dry run: it has items" test "$(q "SELECT count(*) FROM items WHERE run_id = $r")" -gt 0
eq "dry run: every item is a preview" \
    "$(q "SELECT group_concat(DISTINCT status) FROM items WHERE run_id = $r")" preview
eq "dry run: the directory is unchanged" "$(dump)" "$dir_before"
eq "dry run: the ledger is unchanged" "$(q "SELECT * FROM files ORDER BY id")" \
    "$ledger_before"
eq "dry run: the drop-zone is untouched" \
    "$(ls -lR --time-style=full-iso "$DROP")" "$drop_before"
eq "dry run: the spool inputs are untouched" \
    "$(cd "$SPOOL" && find incoming archive failed -type f 2>/dev/null | sort)" "$spool_before"
check "dry run: the source file is still there" cmp "$TMP/d2.csv" "$DROP/waiting.csv"
contains "dry run: the log says nothing was applied" "$OUT" "dry run"
js=$(rs show "$r" --json 2>/dev/null)
eq "dry run: show --json says so" "$(printf '%s' "$js" | json "d['dry_run']")" True
rs run >"$TMP/after-dry.out" 2>&1
eq "after a dry run the real run applies the file" \
    "$(q "SELECT status || ' ' || dry_run FROM runs WHERE id = $((r + 1))")" \
    "success 0"
eq "the real run finds the same changes" \
    "$(q "SELECT n_create || ' ' || n_update || ' ' || n_delete FROM runs WHERE id = $((r + 1))")" \
    "$(q "SELECT n_create || ' ' || n_update || ' ' || n_delete FROM runs WHERE id = $r")"

head -50 "$TMP/d2.csv" >"$TMP/d-half.csv"	# most people gone
out run --dry-run --file "$TMP/d-half.csv"
eq "dry run above the threshold: exit 5" "$RC" 5
r=$(last_run)
out show "$r"
contains "dry run above the threshold: show says it was a dry run" "$OUT" \
    "This was a dry run"
check "dry run above the threshold: no archive/ path (nothing was archived)" \
    test "$(printf '%s\n' "$OUT" | grep -c '/archive/')" -eq 0

# ============================================== run: usage errors
out run --sync nosuch
eq "run --sync unknown: exit 2" "$RC" 2
contains "run --sync unknown: says so" "$OUT" "no sync named nosuch"
out run --allow-deletes 5
eq "run --allow-deletes without --file: exit 2" "$RC" 2
out run --bogus
eq "run --bogus: exit 2" "$RC" 2
out run --file "$TMP/does-not-exist.csv"
eq "run --file missing: exit 1" "$RC" 1

# ================================== tables aligned by display width
# Greek, CJK and a combining mark (decomposed "ë", "ü") in names, and a
# long Greek file name: each cell takes its column's width as a terminal
# shows it, and a cut ends with "…" on a character boundary.
sandbox widths
H=employee_id,email,first_name,last_name,department,title,manager_id,employment_status
printf '%s\n' "$H" \
    "E1,anna@x.org,Αναστασία,Παπαδοπούλου-Κωνσταντινίδου,Eng,Dev,,Active" \
    "E2,taro@x.org,山田太郎山田,太郎山田太郎,Eng,Dev,E1,Active" \
    "E3,zoe@x.org,$(printf 'Zoe\xcc\x88'),$(printf 'Mu\xcc\x88ller'),Eng,Dev,E1,Active" \
    "E4,bob@x.org,Bob,Lee,Eng,Dev,E1,Active" >"$TMP/w.csv"
drop "$TMP/w.csv" "Εξαγωγή_προσωπικού_Ιανουαρίου_2024.csv"
rs run >/dev/null 2>&1
# layout TEXT: for each line holding TEXT, the display column where it
# starts, as a terminal counts (wide 2, combining 0, "…" 1).
layout() {
	$PYTHON -c 'import sys, unicodedata
def w(s):
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
data = sys.stdin.buffer.read().decode("utf-8")   # fails on a bad byte
for line in data.splitlines():
    if sys.argv[1] in line:
        print(w(line[:line.index(sys.argv[1])]))' "$1"
}
out=$(rs items 1 --type create)
check "items: the output is UTF-8 throughout" \
    "$PYTHON" -c 'import sys; sys.stdin.buffer.read().decode("utf-8")' <<<"$out"
contains "items: a header row" "$out" "ITEM  TYPE"
eq "items: the status column starts at one display column on every row" \
    "$(printf '%s\n' "$out" | layout applied | sort -u | wc -l)" 1
eq "items: and the header's STATUS is there too" \
    "$(printf '%s\n' "$out" | layout STATUS)" \
    "$(printf '%s\n' "$out" | layout applied | sort -u)"
contains "items: a long Greek name is cut with … (18 columns)" "$out" "Αναστασία Παπαδοπ…"
contains "items: wide CJK characters count two columns" "$out" "山田太郎山田 太郎…"
contains "items: combining marks stay with their letter" "$out" \
    "$(printf 'Zoe\xcc\x88 Mu\xcc\x88ller')"
check "items: no replacement character (nothing cut mid-character)" \
    test "$(printf '%s' "$out" | grep -c $'\xef\xbf\xbd')" -eq 0
out=$(rs history)
check "history: the output is UTF-8 throughout" \
    "$PYTHON" -c 'import sys; sys.stdin.buffer.read().decode("utf-8")' <<<"$out"
contains "history: a header row" "$out" "RUN  STARTED"
contains "history: the long file name cut with … at 24 columns" "$out" \
    "Εξαγωγή_προσωπικού_Ιανο…"
eq "history: the header and each row end at one display column" \
    "$(printf '%s\n' "$out" | grep -v 'results$' | $PYTHON -c 'import sys, unicodedata
w = lambda s: sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
print(len({w(l) for l in sys.stdin.read().splitlines()}))')" 1
out=$(rs users)
contains "users: a header row" "$out" "EMAIL"
check "users: the output is UTF-8 throughout" \
    "$PYTHON" -c 'import sys; sys.stdin.buffer.read().decode("utf-8")' <<<"$out"

# ========================== control characters in a header, on every line
# A header cell holding an OSC sequence (ESC ] ... BEL), twice: the load
# fails naming it. The run's stderr (the journal's lines), its log file,
# and show print it with U+FFFD for each control; show --json keeps the
# exact text.
sandbox escape
printf 'employee_id,email,last_name,\033]0;x\007dup,\033]0;x\007dup\nE1,a@x.org,A,1,2\n' \
    >"$TMP/esc.csv"
drop "$TMP/esc.csv"
rs run >"$TMP/esc.out" 2>&1
R=$'\xef\xbf\xbd'
eq "header with controls: Data Load Failed" "$(status_of 1)" data_load_failed
contains "the run's error line has U+FFFD for each control" \
    "$(cat "$TMP/esc.out")" "duplicate column name '${R}]0;x${R}dup'"
check "no ESC or BEL on the run's stderr" \
    bash -c "! grep -q $'[\x1b\x07]' '$TMP/esc.out'"
check "nor in the run's log file" bash -c "! grep -q $'[\x1b\x07]' \
    '$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id = 1").log'"
out show 1
contains "show: the error with U+FFFD for each control" "$OUT" \
    "esc.csv: duplicate column name '${R}]0;x${R}dup'"
check "show: no ESC or BEL" bash -c '! printf "%s" "$1" | grep -q $'"'"'[\x1b\x07]'"'"'' _ "$OUT"
eq "show --json: the exact error" \
    "$(rs show 1 --json | json "d['error'] == \"esc.csv: duplicate column name '\x1b]0;x\x07dup' in columns 4 and 5\"")" \
    True

# ============================================ a disabled sync run by name
two_syncs disabled
$GEN --rows 20 --seed 5 -o "$TMP/dis.csv"
cp "$TMP/dis.csv" "$DROP2/c.csv"
touch -d '-1 hour' "$DROP2/c.csv"
out run
eq "disabled sync: the timer's run leaves it alone" \
    "$RC:$(q "SELECT count(*) FROM runs WHERE sync = 'ctr'")" "0:0"
out run --sync ctr
eq "disabled sync: run --sync names it, and it runs" \
    "$RC:$(q "SELECT status FROM runs WHERE sync = 'ctr'")" "0:success"
contains "disabled sync: the log says why it ran" "$OUT" \
    "sync ctr is disabled (enabled = false): it runs because --sync names it"

finish
