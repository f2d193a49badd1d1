#!/bin/bash
# Crash safety at every named fault point (src/util.c, fault()): a sandbox
# has day 1 applied and day 2 dropped; `run` with ROSTERSYNC_FAULT=POINT
# dies by SIGKILL at that point; the next run (no fault) must finish and
# leave exactly what one clean run of the same two days leaves: the same
# directory, every input archived and the ledger saying so, no run left
# In Progress (an interrupted one is Failed "interrupted"), no .part/.tmp
# in the spool, a sound database. With the apply hook, the hook's own log
# proves that no item is applied twice; an item the crash cut inside the
# hook is Failed for a person to check, and retry or confirm completes it.
. "$(dirname "$0")/lib.sh"
# The second exports here replace most values of the first on purpose:
# not what the update threshold (t_integrity) is about.
SANDBOX_SETTINGS='max_update_percent = 100;'

qq() { sqlite3 -bail -cmd '.timeout 5000' "$DB" "$1"; }

# big: 20,000 rows, so that load.row5000 and apply.half are reached.
$GEN --rows 20000 --seed 81 -o "$TMP/big1.csv"
$GEN --mutate "$TMP/big1.csv" --seed 82 -o "$TMP/big2.csv"
# hook: a few people, every item through tests/hook.py.
$GEN --rows 20 --seed 83 -o "$TMP/small1.csv"
$GEN --mutate "$TMP/small1.csv" --seed 84 --update-rate 0.2 \
    --hire-rate 0.1 --delete-rate 0.1 --manager-rate 0.1 -o "$TMP/small2.csv"
mkdir -p "$TMP/ctl"

# setup KIND NAME: a sandbox with day 1 applied and day 2 in the drop-zone.
# KIND big: no hook; KIND hook: tests/hook.py logging to $SB/hook.log.
setup() {
	local kind=$1 name=$2 d1 d2 extra=
	if [ "$kind" == hook ]; then
		d1=$TMP/small1.csv d2=$TMP/small2.csv
		extra="hook = { path = \"$TOP/tests/hook.py\"; args = [ \"$TMP/$name/hook.log\", \"$TMP/ctl\" ]; timeout = 30; };"
	else
		d1=$TMP/big1.csv d2=$TMP/big2.csv
	fi
	sandbox "$name" "$extra"
	drop "$d1" day1.csv
	rs run >"$SB/day1.out" 2>&1 || echo "# day 1 of $name exited $?"
	drop "$d2" day2.csv
	D1=$d1 D2=$d2
}

# The state of a sandbox that must not depend on crashes.
runs_kept() {	# runs other than the interrupted ones, in order
	qq "SELECT group_concat(file_name || ':' || trigger || ':' || status, ' ')
	    FROM (SELECT * FROM runs WHERE status != 'failed' ORDER BY id)"
}
applied_log() {	# what the hook applied, as a sorted multiset
	cut -d' ' -f1,2 "$SB/hook.log" 2>/dev/null | sort
}

# --- the clean references: the same two days, no fault
setup big clean
rs run >"$SB/day2.out" 2>&1
eq "clean big run: day 2 exits 0" "$?" 0
dump >"$TMP/clean-big.dump"
CLEAN_BIG_RUNS=$(runs_kept)
check "clean big run: the directory has 20,000 people" \
    test "$(qq "SELECT count(*) FROM users")" -ge 20000
setup hook cleanhook
rs run >"$SB/day2.out" 2>&1
eq "clean hook run: day 2 exits 0" "$?" 0
dump >"$TMP/clean-hook.dump"
applied_log >"$TMP/clean-hook.applied"
CLEAN_HOOK_RUNS=$(runs_kept)
check "clean hook run: the hook applied items" \
    test "$(wc -l <"$TMP/clean-hook.applied")" -gt 20

# verify LABEL KIND INTERRUPTED: the sandbox after the run that followed
# the crash; INTERRUPTED is how many runs must be Failed (interrupted).
verify() {
	local l=$1 kind=$2 want_int=$3 f name local_ sha base bad
	eq "$l: no run left In Progress or Queued" \
	    "$(qq "SELECT count(*) FROM runs WHERE status IN ('in_progress', 'queued')")" 0
	eq "$l: interrupted runs are Failed with the reason 'interrupted'" \
	    "$(qq "SELECT count(*) FROM runs WHERE status = 'failed' AND error = 'interrupted'"):$(qq "SELECT count(*) FROM runs WHERE status = 'failed' AND error IS NOT 'interrupted'")" \
	    "$want_int:0"
	eq "$l: PRAGMA integrity_check" "$(qq "PRAGMA integrity_check")" ok
	eq "$l: the counts kept with the directory and the runs are right" \
	    "$(counts_off)" 0
	if [ "$kind" == big ]; then
		eq "$l: the runs that count are a clean run's" "$(runs_kept)" \
		    "$CLEAN_BIG_RUNS"
		dump >"$SB/after.dump"
		check "$l: the directory equals one clean run's" \
		    cmp -s "$SB/after.dump" "$TMP/clean-big.dump"
	fi
	# No input lost: each is archived once, byte for byte, and the
	# ledger says where; its source went to processed/.
	bad=
	for f in day1 day2; do
		[ $f == day1 ] && src=$D1 || src=$D2
		name=$f.csv
		local_=$(qq "SELECT local FROM files WHERE name = '$name' AND state = 'processed'")
		sha=$(qq "SELECT sha256 FROM files WHERE name = '$name' AND state = 'processed'")
		case $local_ in
		"$SPOOL"/archive/hr/*) ;;
		*) bad="$bad $name: ledger local '$local_';";;
		esac
		cmp -s "$src" "$local_" || bad="$bad $name: archived copy differs;"
		[ "$sha" == "$(sha256sum <"$src" | cut -d' ' -f1)" ] ||
		    bad="$bad $name: ledger sha256 $sha;"
		cmp -s "$src" "$DROP/processed/$name" ||
		    bad="$bad $name: not in processed/;"
		[ -e "$DROP/$name" ] && bad="$bad $name: still in the drop-zone;"
	done
	eq "$l: every input archived, intact, in the ledger" "${bad:-none}" none
	bad=
	for f in "$SPOOL"/archive/hr/* "$SPOOL"/failed/hr/*; do
		[ -e "$f" ] || continue
		[ "$(qq "SELECT count(*) FROM files WHERE local = '$f'")" == 1 ] ||
		    bad="$bad $f"
	done
	eq "$l: every archived file is in the ledger once" "${bad:-none}" none
	eq "$l: the ledger names no missing file" \
	    "$(qq "SELECT local FROM files WHERE local IS NOT NULL" |
	    while read -r f; do [ -e "$f" ] || echo "$f"; done)" ""
	eq "$l: nothing left in incoming/, no .part or .tmp in the spool" \
	    "$(ls -A "$SPOOL/incoming/hr" 2>/dev/null; find "$SPOOL" \
	    \( -name '*.part' -o -name '*.tmp' -o -name '*.tmp.*' \) -print)" ""
	eq "$l: every run has its reports" \
	    "$(qq "SELECT count(*) FROM runs WHERE reports_done = 0")" 0
	bad=
	for base in $(qq "SELECT replace(report_base, ' ', '|') FROM runs"); do
		base=${base//|/ }
		[ -s "$SPOOL/reports/hr/$base.log" ] || bad="$bad [$base.log]"
	done
	eq "$l: every run's log is in reports/" "${bad:-none}" none
}

# crash KIND POINT INTERRUPTED [FAULT]: run day 2 with ROSTERSYNC_FAULT=
# FAULT (default POINT), then again without; check the result.
crash() {
	local kind=$1 p=$2 want_int=$3 fault=${4:-$2} rc
	setup "$kind" "$kind-${p//[:.]/_}"
	# (braces: the shell's own "Killed" line goes nowhere)
	{ ROSTERSYNC_FAULT=$fault "$ROSTERSYNC" -c "$CONF" run \
	    >"$SB/crash.out" 2>&1; } 2>/dev/null
	rc=$?
	eq "$kind $p: the run is killed there (status 137)" "$rc" 137
	if [ "$p" == recover.archived ]; then
		# A crash inside the recovery of an earlier crash.
		{ ROSTERSYNC_FAULT=recover.archived "$ROSTERSYNC" -c \
		    "$CONF" run >"$SB/crash2.out" 2>&1; } 2>/dev/null
		eq "$kind $p: the recovery is killed too (status 137)" "$?" 137
	fi
	timeout 300 "$ROSTERSYNC" -c "$CONF" run >"$SB/after.out" 2>&1
	rc=$?
	case $kind:$p in
	hook:hook.*) check "$kind $p: the next run finishes (exit $rc)" \
	    test "$rc" -eq 0 -o "$rc" -eq 6;;
	*) eq "$kind $p: the next run finishes, exit 0" "$rc" 0;;
	esac
	[ "$rc" -ne 0 ] && [ "$rc" -ne 6 ] && tail -5 "$SB/after.out" |
	    sed 's/^/# /'
	verify "$kind $p" "$kind" "$want_int"
	[ "$kind" == hook ] && verify_hook "$p"
}

# With the hook: a cut item is Failed for a person; retry or confirm it,
# and then the directory and what the hook applied equal a clean run's.
verify_hook() {
	local p=$1 failed nfail
	failed=$(qq "SELECT run_id || ':' || seq FROM items
	    WHERE status = 'failed' AND resolved_by IS NULL")
	nfail=$(printf '%s' "$failed" | grep -c .)
	case $p in
	hook.before|hook.after)
		eq "hook $p: the item cut in the hook is Failed" "$nfail" 1
		contains "hook $p: its error says to check it" \
		    "$(qq "SELECT error FROM items WHERE status = 'failed'")" \
		    "interrupted while the hook ran"
		contains "hook $p: the log names the item to check" \
		    "$(cat "$SB/after.out")" "rostersync confirm $failed"
		if [ "$p" == hook.before ]; then
			# The hook never ran for it: retry is right.
			rs retry "${failed%%:*}" "${failed#*:}" \
			    >"$SB/retry.out" 2>&1
			eq "hook $p: retry of the cut item exits 0" "$?" 0
		else
			# The hook applied it: confirm, do not run it again.
			rs confirm "$failed" --reason "checked" \
			    >"$SB/confirm.out" 2>&1
			eq "hook $p: confirm of the cut item exits 0" "$?" 0
		fi;;
	*)	eq "hook $p: no item failed" "$nfail" 0
		eq "hook $p: the runs that count are a clean run's" \
		    "$(runs_kept)" "$CLEAN_HOOK_RUNS";;
	esac
	dump >"$SB/after.dump"
	check "hook $p: the directory equals one clean run's" \
	    cmp -s "$SB/after.dump" "$TMP/clean-hook.dump"
	applied_log >"$SB/applied"
	check "hook $p: the hook applied every item exactly once" \
	    cmp -s "$SB/applied" "$TMP/clean-hook.applied"
	cmp -s "$SB/applied" "$TMP/clean-hook.applied" ||
	    diff "$TMP/clean-hook.applied" "$SB/applied" | head -5 |
	    sed 's/^/# /'
	eq "hook $p: no item left pending or failed" \
	    "$(qq "SELECT count(*) FROM items WHERE status IN ('pending', 'failed') AND resolved_by IS NULL")" 0
}

# Every point, in the order a run passes them; 1: the point lies inside
# a run that had not committed, which must end Failed (interrupted).
points="
fetch.start 0
fetch.block 0
fetch.copied 0
fetch.renamed 0
fetch.recorded 0
run.started 1
run.source_done 1
load.row5000 1
run.loaded 1
run.diffed 1
apply.half 1
snapshot.written 1
run.before_commit 1
run.committed 0
run.archived 0
run.logged 0
report.csv 0
report.xlsx 0
report.summary 0
report.log 0
run.reported 0
run.published 0
recover.archived 0
"
npoints=0
while read -r p n; do
	[ -n "$p" ] || continue
	if [ "$p" == recover.archived ]; then
		# First die after the commit, then inside the recovery.
		crash big "$p" "$n" run.committed
	else
		crash big "$p" "$n"
	fi
	npoints=$((npoints + 1))
done <<<"$points"

# The apply hook: inside it (before and after the program ran for the
# third item of day 2), and between the commit and the hook phase.
crash hook hook.before 0 hook.before:3
crash hook hook.after 0 hook.after:3
crash hook run.committed 0
crash hook run.before_commit 1
# Inside libzip's zip_close() of the spreadsheet written from the database
# (with a hook, no report is begun beside the transaction): its temporary
# file is left, and the recovery removes it.
crash hook report.splice 0
npoints=$((npoints + 3))
# A first run into an empty directory drops two indexes and builds them
# after its rows (apply.c, bulk): killed in the middle, it leaves them as
# they were, and the next run equals a clean first run.
sandbox bulkclean
drop "$TMP/big1.csv" day1.csv
rs -v run >"$SB/clean.out" 2>&1
dump >"$TMP/clean-day1.dump"
check "bulk first run: -v gives the transaction's three phases" \
    grep -Eq "users written in [0-9]+ ms, items and issues in [0-9]+ ms, the indexes built in [0-9]+ ms$" "$SB/clean.out"
sandbox bulk
drop "$TMP/big1.csv" day1.csv
{ ROSTERSYNC_FAULT=apply.half "$ROSTERSYNC" -c "$CONF" run \
    >"$SB/crash.out" 2>&1; } 2>/dev/null
eq "bulk first run: killed in the middle (status 137)" "$?" 137
indexes() { qq "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master
    WHERE type = 'index' AND name IN ('users_email', 'items_run_key') ORDER BY name)"; }
eq "bulk first run: both indexes are still there" "$(indexes)" \
    "items_run_key,users_email"
eq "bulk first run: the directory is still empty" \
    "$(qq "SELECT count(*) FROM users")" 0
rs run >"$SB/after.out" 2>&1
eq "bulk first run: the next run exits 0" "$?" 0
contains "bulk first run: it builds the indexes after the rows" \
    "$(cat "$SB/after.out")" "indexes are built after the rows"
dump >"$SB/after.dump"
check "bulk first run: the directory equals a clean first run's" \
    cmp -s "$SB/after.dump" "$TMP/clean-day1.dump"
eq "bulk first run: the indexes are there after it" "$(indexes)" \
    "items_run_key,users_email"
eq "bulk first run: the domain index too" \
    "$(qq "SELECT count(*) FROM sqlite_master WHERE name = 'users_domain'")" 1
eq "bulk first run: the counts it added are right" "$(counts_off)" 0
eq "bulk first run: the database is sound" \
    "$(qq "PRAGMA integrity_check")" ok
eq "bulk first run: the email index finds a user" \
    "$(qq "EXPLAIN QUERY PLAN SELECT key FROM users WHERE email = 'x'" | grep -c users_email)" 1

check "at least 20 different fault points were crashed ($npoints)" \
    test "$npoints" -ge 20
eq "every fault point in the source is covered" \
    "$(grep -ho 'fault("[a-z0-9_.]*")' "$TOP"/src/*.c | sort -u |
    sed 's/fault("\(.*\)")/\1/' | while read -r p; do
	grep -q "^$p " <<<"$points
hook.before 0
hook.after 0
report.splice 0
stream.recorded 0
stream.answered 0" || echo "$p"; done)" ""	# stream.*: t_stream.sh

finish
