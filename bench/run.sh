#!/bin/bash
# make bench: wall time and peak memory of rostersync on a million-row HR
# export, against the peers in ../shared/bench/ and SQLite's own floor,
# with the generator's truth checked after every run. Not part of
# `make check`.
#
#   initial load       1M creates into an empty directory, reports included
#   sqlite floor       SQLite's part of that alone (bench/sqlite_floor.c:
#                      store.c's schema, pragmas and statements, one
#                      transaction of the users and their items)
#   daily run          the next day: 5,000 creates and deletes, 10,000
#                      updates, 5,000 manager changes; counts == truth
#   daily run (cold)   the same with the state's pages (the database, its
#                      WAL, the spool's cache files) out of the page cache,
#                      as on the next morning
#   daily run (xlsx)   the same from the next day's XLSX twin (made by
#                      bench/csv2xlsx.c with libxlsxwriter; at most
#                      1,048,575 rows, a sheet's limit)
#   unchanged re-run   the same rows again (one more newline): no items
#   ..., serial        the initial load with its reports, and the XLSX
#                      daily run with its sheet, on the calling thread
#                      (ROSTERSYNC_SERIAL): the two helper threads kept
#                      must each gain 10%
#   bytes written      the daily run once more under strace: its write
#                      calls by file kind (bench/writes.sh), target at
#                      most 250 MB
#   peers              peer_python_diff.py and peer_sqlite_diff.sh on the
#                      pair of the daily run, their counts checked too
#   changes-200k       a next day with ~200,000 changed fields, then
#                      `rostersync report RUN` alone in XLSX and CSV, and
#                      in XLSX with the rows written by libxlsxwriter
#                      (ROSTERSYNC_XLSX_ROWS=library): rostersync's own
#                      must gain 10%
#   XLSX read          100,000 rows x 12 columns saved by LibreOffice:
#                      bench/rsbench (load_xlsx() alone; and with the sheet
#                      through expat alone) vs openpyxl vs `unzip -p` of
#                      the sheet (the inflate time)
#   sftp fetch         the day-2 export over SFTP from a real sshd on
#                      127.0.0.1 (tests/sshd.sh)
#   SFTP at WAN        the day-2 export down and a first load's reports
#                      up through a latency proxy (bench/latproxy.c) at
#                      RTT 0, 20, 50 ms, against OpenSSH's sftp; and a
#                      small daily run over the proxy (fetch, move to
#                      processed/, reports up) with one connection for
#                      the run against one per use; its own table
#                      (BENCH_WAN_RTTS, BENCH_WAN_REPEAT)
#   apply hook         a trivial Python hook (bench/hook_trivial.py) in
#                      exec mode (the first BENCH_EXEC_ROWS rows, 1,000)
#                      and stream mode (BENCH_HOOK_ROWS, 25,000): time
#                      per item, stream at least 50 times faster
#   LDAP               the daily run's items through rostersync-ldap
#                      (window 64, then 1) into a slapd holding day 1,
#                      against ldapmodify -f of the same changes as LDIF
#                      (bench/ldap_ldif.py); each tree compared with the
#                      directory (tests/ldap_tree.py)
#   views              bench/views.sh: user, users --email, users --page
#                      40000, items --user and status on the daily run's
#                      directory, and users, user and status on 1,000
#                      syncs of 1,000 users; the median of 5 against the
#                      targets
#
# The machine is shared, so cases are compared only within a run, and
# run in rounds: every case of a group once (rostersync, the python peer,
# the sqlite3 peer, rostersync again ...), then every case again, so that
# a busy minute falls on all of them. Each case reports the median of its
# rounds and their spread (min-max); the ratios are of medians. The load
# average is printed at the start and at the end.
#
# A case is one call: bench_case NAME PREP CHECK CMD... registers it for
# the next bench_rounds N (PREP runs before each timed run, CHECK after
# it, neither timed; "-" for none). A command that prints a line
# "bench_wall=SECONDS" is timed by that (sqlite_floor times its own part).
#
# Inputs are generated once and kept in bench/cache/ (git-ignored); the
# runs happen in bench/cache/work/, remade each time. Without
# ../shared/bench the exports come from tests/genexport.py and the peers
# are skipped. Exit status: 0, or 1 when a count is wrong or a step fails
# (missed performance targets are printed, not fatal).
#
# Environment: BUILD (build/release), BENCH_ROWS (1000000; 3000000 is the
# large case, minutes), BENCH_REPEAT (rounds, 3), BENCH_COLD (fadvise, or
# drop: /proc/sys/vm/drop_caches as root, the whole machine's cache),
# PYTHON (/usr/bin/python3), SHARED (../shared/bench), BENCH_SKIP_PEERS=1,
# BENCH_HOOK_ROWS (25000), BENCH_EXEC_ROWS (1000), BENCH_SLAPD_NOSYNC=1,
# BENCH_SKIP_LDAP=1 (the LDAP case takes about an hour at 1M rows),
# BENCH_LDAP_ROUNDS (1: rounds of window 1 and the peer in turn),
# BENCH_WAN_RTTS ("0 20 50"), BENCH_WAN_REPEAT (3), BENCH_ONLY=ldap (the
# LDAP case alone, after one round of the first load that makes its day 1:
# with BENCH_ROWS=200000 a few minutes).
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${BUILD:-build/release}
RS=$TOP/$BUILD/rostersync
RSB=$TOP/$BUILD/rsbench
FLOOR=$TOP/$BUILD/sqlite_floor
C2X=$TOP/$BUILD/csv2xlsx
ROWS=${BENCH_ROWS:-1000000}
N=${BENCH_REPEAT:-3}
XROWS=100000
XLSX_MAX=1048575	# data rows a sheet holds below its header
PYTHON=${PYTHON:-/usr/bin/python3}
SHARED=${SHARED:-$TOP/../shared/bench}
CACHE=$TOP/bench/cache
WORK=$CACHE/work
TIME=/usr/bin/time
failed=0

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }
bad() { say "FAIL: $*"; failed=1; }

[ -x "$TIME" ] || die "$TIME is missing (Debian package 'time'; make deps-test)"
for p in "$RS" "$RSB" "$FLOOR" "$C2X"; do
	[ -x "$p" ] || die "$p is missing (make BUILD=$BUILD bench builds it)"
done
command -v sqlite3 >/dev/null || die "the sqlite3 shell is missing (make deps-test)"
mkdir -p "$CACHE"

# ------------------------------------------------------------ the inputs

if [ -f "$SHARED/gen_hr.py" ]; then
	GEN="$PYTHON $SHARED/gen_hr.py" gname=gen_hr
	peers=1
else
	say "bench: $SHARED is absent: exports from tests/genexport.py," \
	    "no peers, no openpyxl"
	GEN="$PYTHON $TOP/tests/genexport.py" gname=genexport
	peers=0
fi
[ "${BENCH_SKIP_PEERS:-0}" = 1 ] && peers=0
in=$CACHE/$gname-$ROWS
xin=$CACHE/$gname-x$XROWS
only=${BENCH_ONLY:-}
[ -z "$only" ] || [ "$only" = ldap ] ||
    die "BENCH_ONLY=$only: only ldap is known"
# the LDAP case alone: one round of the first load that makes its day 1
[ "$only" = ldap ] && N=1

# cached FILE CMD...: unless FILE exists, run CMD with FILE.part as its
# last argument, then rename it: an interrupted run leaves no half file.
cached() {
	local f=$1
	shift
	[ -s "$f" ] && return 0
	say "bench: generating $(basename "$f")"
	"$@" "$f.part" && mv "$f.part" "$f" ||
	    { rm -f "$f.part"; die "cannot generate $f"; }
}
# to_xlsx CSV OUT: LibreOffice as HR's spreadsheet (UTF-8 in, dates found).
to_xlsx() {
	local tmp=$CACHE/lo-out
	rm -rf "$tmp"
	soffice -env:UserInstallation="file://$CACHE/lo-profile" --headless \
	    --infilter="CSV:44,34,76,1,,1033,false,true" --convert-to xlsx \
	    --outdir "$tmp" "$1" >/dev/null 2>&1 &&
	    mv "$tmp/$(basename "$1" .csv).xlsx" "$2"
	local rc=$?
	rm -rf "$tmp"
	return $rc
}
cached "$in-day1.csv" $GEN --rows "$ROWS" --seed 1 -o
cached "$in-day2.csv" $GEN --mutate "$in-day1.csv" --seed 2 \
    --truth "$in-day2.json" -o
if [ "$only" != ldap ]; then
	# ~200,000 changed fields: 16% of the rows get 1 or 2 new values.
	cached "$in-upd.csv" $GEN --mutate "$in-day1.csv" --seed 3 \
	    --update-rate 0.16 --delete-rate 0 --hire-rate 0 --manager-rate 0 \
	    --truth "$in-upd.json" -o
	if [ "$ROWS" -le "$XLSX_MAX" ]; then
		cached "$in-day2.xlsx" "$C2X" "$in-day2.csv"
	else
		say "bench: $ROWS rows do not fit a sheet: no daily run" \
		    "from XLSX"
	fi
	cached "$xin.csv" $GEN --rows "$XROWS" --seed 5 -o
	if command -v soffice >/dev/null; then
		cached "$xin.xlsx" to_xlsx "$xin.csv"
	else
		say "bench: soffice is missing: no XLSX read case" \
		    "(make deps-test)"
	fi
fi

# ------------------------------------------------------------ measuring

# Every case registered, in order, and for the next bench_rounds.
names=()
declare -A WALLS RSS CMDS PREPS CHECKS
pending=()

# bench_case NAME PREP CHECK CMD...: a case for the next bench_rounds.
bench_case() {
	local name=$1
	[ "$only" = ldap ] && [ "$name" != "initial load" ] &&
	    [ "${name#*ldap}" = "$name" ] && return 0
	PREPS[$name]=$2 CHECKS[$name]=$3
	shift 3
	CMDS[$name]=$(printf '%q ' "$@")
	pending+=("$name")
}

# time_one NAME ROUND: PREP, sync, CMD under /usr/bin/time -v (its stdout
# and stderr in $WORK/NAME.out and .err), CHECK; the wall time and peak
# RSS join the case's. Every timed command starts after a sync(1): a
# gigabyte of copies still being written back would slow the fsyncs of
# whichever command came next.
time_one() {
	local name=$1 k=$2 tf=$WORK/$1.time rc wall rss own
	[ "${PREPS[$name]}" != - ] && "${PREPS[$name]}" "$k"
	sync
	eval "$TIME -v -o \"\$tf\" ${CMDS[$name]}" >"$WORK/$name.out" \
	    2>"$WORK/$name.err"
	rc=$?
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
	    n = split($2, t, ":"); s = 0
	    for (i = 1; i <= n; i++) s = s * 60 + t[i]
	    printf "%.2f", s }' "$tf")
	rss=$(awk -F': ' '/Maximum resident set size/ {
	    printf "%.0f", $2 / 1024 }' "$tf")
	own=$(sed -n 's/^bench_wall=//p' "$WORK/$name.out")
	[ -n "$own" ] && wall=$own
	if [ "$rc" != 0 ]; then
		bad "$name: exit status $rc (see $WORK/$name.err)"
		return
	fi
	WALLS[$name]="${WALLS[$name]:-} $wall"
	[ "${RSS[$name]:-0}" -ge "$rss" ] || RSS[$name]=$rss
	say "bench: $name, round $((k + 1)): $wall s, $rss MB"
	[ "${CHECKS[$name]}" != - ] && "${CHECKS[$name]}" "$k"
}

# bench_rounds N: the cases registered since the last call, N rounds of
# each in turn.
bench_rounds() {
	local k name n=$1
	for ((k = 0; k < n; k++)); do
		for name in "${pending[@]}"; do
			time_one "$name" "$k"
		done
	done
	names+=("${pending[@]}")
	pending=()
}

# median, min and max of the numbers given
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) exit
	m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "%.2f %.2f %.2f %d\n", m, v[1], v[NR], NR }'; }
median() { local s; s=$(stats $1); echo "${s%% *}"; }

# ------------------------------------------------------------ the checks

truth() {
	$PYTHON -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
	    "$1" "$2"
}
q() { sqlite3 -bail "$WORK/spool/rostersync.db" "$1"; }
last_run() { q "SELECT max(id) FROM runs"; }
# Changed fields of a run's update and manager items.
changed_fields() {
	q "SELECT count(*) FROM changes c JOIN items i ON i.run_id = c.run_id \
AND i.seq = c.seq WHERE c.run_id = $1 AND i.type IN ('update','manager')"
}
expect() {	# expect WHAT GOT WANT
	if [ "$2" == "$3" ]; then say "  ok  $1 = $2"; else
		bad "$1: got '$2', want '$3'"; fi
}
# check_truth RUN TRUTH.json: the run's counts against the generator's.
check_truth() {
	expect "run $1 status" "$(q "SELECT status FROM runs WHERE id = $1")" \
	    success
	expect "creates" "$(q "SELECT n_create FROM runs WHERE id = $1")" \
	    "$(truth "$2" creates)"
	expect "deletes" "$(q "SELECT n_delete FROM runs WHERE id = $1")" \
	    "$(truth "$2" deletes)"
	expect "updates" "$(q "SELECT n_update FROM runs WHERE id = $1")" \
	    "$(truth "$2" updates)"
	expect "manager changes" \
	    "$(q "SELECT n_manager FROM runs WHERE id = $1")" \
	    "$(truth "$2" manager_changes)"
	expect "changed fields" "$(changed_fields "$1")" \
	    "$(truth "$2" field_changes)"
}
counts_py() {	# the counts of gen_hr's truth, as "k=v ..."
	$PYTHON -c 'import json,sys
d = json.loads(sys.argv[1])
print(" ".join("%s=%s" % (k, d[k]) for k in ("creates", "deletes",
    "updates", "manager_changes", "changed_rows", "field_changes")))' "$1"
}
# drop FILE NAME: an export into the drop-zone, settled.
drop() {
	cp "$1" "$WORK/drop/$2"
	touch -d '-1 hour' "$WORK/drop/$2"
}
# fresh SNAP: the spool as SNAP left it (a copy), an empty drop-zone
fresh() {
	rm -rf "$WORK/spool" "$WORK/drop"
	mkdir -p "$WORK/drop"
	if [ -n "$1" ]; then cp -a "$1" "$WORK/spool"; else
		mkdir -p "$WORK/spool"; fi
}
# The phase times of a run from its log lines (loaded, diff, applied).
phases() {
	sed -n 's/.*known (\(.*\)) in \([0-9]*\) ms/directory from the \1 \2 ms, /p;
	    s/.*loaded .* in \([0-9]*\) ms/loaded at \1 ms/p;
	    s/.*diff: .* in \([0-9]*\) ms/, to diff \1 ms/p;
	    s/.*transaction in \([0-9]*\) ms/, apply \1 ms/p' "$1" | tr -d '\n'
}
RSC=("$RS" -c "$WORK/bench.conf")

# ------------------------------------------------------------ the cases

# The first load; its first round's directory is day 1 for the others.
initial_prep() { fresh ""; drop "$in-day1.csv" day1.csv; }
initial_check() {
	say "  $(phases "$WORK/initial load.err")"
	expect "initial creates" \
	    "$(q "SELECT n_create FROM runs WHERE id = 1")" "$ROWS"
	[ -d "$WORK/snap1" ] || cp -a "$WORK/spool" "$WORK/snap1"
}
floor_prep() { rm -f "$WORK/floor.db" "$WORK/floor.db-wal" \
    "$WORK/floor.db-shm" "$WORK/floor.db-journal"; }
floor_check() {
	expect "sqlite floor rows" "$(tail -1 "$WORK/sqlite floor.out")" \
	    "users=$ROWS items=$ROWS"
	floor_prep
}
# Day 2 on the directory day 1 left; the first round's result is what
# the unchanged re-run starts from.
daily_prep() { fresh "$WORK/snap1"; drop "$in-day2.csv" day2.csv; }
daily_check() {
	say "  $(phases "$WORK/daily run.err")"
	check_truth "$(last_run)" "$in-day2.json"
	[ -d "$WORK/snap2" ] || cp -a "$WORK/spool" "$WORK/snap2"
}
# The state a next morning finds: not in the page cache.
evict_state() {
	local f files=()
	for f in "$WORK"/spool/rostersync.db* $(find "$WORK/spool/cache" \
	    -type f); do files+=("$f"); done
	sync
	if [ "${BENCH_COLD:-fadvise}" = drop ] && [ "$(id -u)" = 0 ]; then
		echo 1 >/proc/sys/vm/drop_caches
		coldhow="echo 1 > /proc/sys/vm/drop_caches (the whole cache)"
	else
		"$RSB" evict "${files[@]}" || bad "rsbench evict failed"
		coldhow="posix_fadvise(DONTNEED) on the ${#files[@]} state files"
	fi
	command -v fincore >/dev/null &&
	    coldleft=$(fincore -b -n -o RES "${files[@]}" |
	    awk '{ s += $1 } END { printf "%d", s / 1024 }')
}
cold_prep() { daily_prep; evict_state; }
cold_check() {
	say "  cold by $coldhow; ${coldleft:-?} KB of them left in the cache"
	say "  $(phases "$WORK/daily run (cold).err")"
	check_truth "$(last_run)" "$in-day2.json"
}
xlsx_prep() { fresh "$WORK/snap1"; drop "$in-day2.xlsx" day2.xlsx; }
xlsx_check() {
	say "  $(phases "$WORK/daily run (xlsx).err")"
	check_truth "$(last_run)" "$in-day2.json"
}
serial_initial_check() {
	expect "initial creates, reports on the calling thread" \
	    "$(q "SELECT n_create FROM runs WHERE id = 1")" "$ROWS"
}
serial_xlsx_check() { check_truth "$(last_run)" "$in-day2.json"; }
# The same rows, other bytes (not a duplicate): K+1 newlines more.
unchanged_prep() {
	fresh "$WORK/snap2"
	cp "$in-day2.csv" "$WORK/day3.csv"
	printf '%*s' "$(($1 + 1))" '' | tr ' ' '\n' >>"$WORK/day3.csv"
	drop "$WORK/day3.csv" "day3-$1.csv"
	rm -f "$WORK/day3.csv"
}
unchanged_check() {
	local r
	say "  $(phases "$WORK/unchanged re-run.err")"
	r=$(last_run)
	expect "unchanged: run $r status" \
	    "$(q "SELECT status FROM runs WHERE id = $r")" success
	expect "unchanged: items" \
	    "$(q "SELECT count(*) FROM items WHERE run_id = $r")" 0
}
py_check() {
	expect "python peer counts" \
	    "$(counts_py "$(tail -1 "$WORK/peer python diff.err")")" \
	    "$(counts_py "$(cat "$in-day2.json")")"
	rm -f "$WORK/peer-items.csv"
}
sq_prep() { rm -rf "$WORK/peer-sqlite"; }
sq_check() {
	expect "sqlite3 peer counts" \
	    "$(tail -1 "$WORK/peer sqlite3 diff.out")" \
	    "$(counts_py "$(cat "$in-day2.json")")"
	rm -rf "$WORK/peer-sqlite"
}
upd_prep() { fresh "$WORK/snap1"; drop "$in-upd.csv" upd.csv; }
upd_check() {
	say "  $(phases "$WORK/changes-200k run.err")"
	last_run >"$WORK/updrun"
	check_truth "$(cat "$WORK/updrun")" "$in-upd.json"
}
# The reports of the changes-200k run (its id in $WORK/updrun), alone.
REPORT=(sh -c 'exec "$0" -c "$1" report "$(cat "$2")" --format "$3" -o "$4"'
    "$RS" "$WORK/bench.conf" "$WORK/updrun")
report_check() {
	say "  the report holds $(q "SELECT count(*) FROM changes WHERE \
run_id = $(cat "$WORK/updrun")") changes"
}
# The same cells as the CSV LibreOffice read (rows, bytes, digest).
xread_check() {
	expect "xlsx rows, bytes and digest = the CSV's" \
	    "$(cat "$WORK/$1.out" 2>/dev/null)" "$(cat "$WORK/csv-digest")"
}
xread_fast_check() { xread_check "xlsx read (rsbench)"; }
xread_expat_check() { xread_check "xlsx read (expat alone)"; }
openpyxl_check() {
	expect "openpyxl rows" "$(cat "$WORK/xlsx read (openpyxl).err")" \
	    "rows=$((XROWS + 1))"
}

rm -rf "$WORK"
mkdir -p "$WORK/drop" "$WORK/spool"
install -m 0600 bench/bench.conf "$WORK/bench.conf"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
say "bench: $ROWS rows, $("$RS" version 2>/dev/null | head -1), $(nproc)" \
    "CPUs, $N rounds, load average $load_start"

# 1. the runs the targets compare, in rounds
bench_case "initial load" initial_prep initial_check "${RSC[@]}" run
bench_case "sqlite floor" floor_prep floor_check "$FLOOR" \
    "$WORK/floor.db" "$in-day1.csv"
bench_case "daily run" daily_prep daily_check "${RSC[@]}" run
if [ "$peers" = 1 ]; then
	bench_case "peer python diff" - py_check "$PYTHON" \
	    "$SHARED/peer_python_diff.py" "$in-day1.csv" "$in-day2.csv" \
	    "$WORK/peer-items.csv"
	bench_case "peer sqlite3 diff" sq_prep sq_check sh \
	    "$SHARED/peer_sqlite_diff.sh" "$in-day1.csv" "$in-day2.csv" \
	    "$WORK/peer-sqlite"
fi
bench_case "daily run (cold)" cold_prep cold_check "${RSC[@]}" run
[ -s "$in-day2.xlsx" ] &&
    bench_case "daily run (xlsx)" xlsx_prep xlsx_check "${RSC[@]}" run
bench_case "unchanged re-run" unchanged_prep unchanged_check "${RSC[@]}" run
# The two helper threads kept, each on the calling thread instead: what
# they gain (the rule: at least 10% of a run a user waits for).
bench_case "initial load, serial reports" initial_prep serial_initial_check \
    env ROSTERSYNC_SERIAL=reports-early "${RSC[@]}" run
[ -s "$in-day2.xlsx" ] &&
    bench_case "daily run (xlsx), serial sheet" xlsx_prep \
    serial_xlsx_check env ROSTERSYNC_SERIAL=xlsx-sheet "${RSC[@]}" run
bench_rounds "$N"

# ------------------------------------------------------------ bytes written
# The daily run once more, under strace, from the first round's day 1:
# its write calls by file kind (bench/writes.sh, its table in
# $WORK/writes.out; the "writes:" line in the table below).
if command -v strace >/dev/null; then
	RS="$RS" BENCH_ROWS="$ROWS" WRITES_DIR="$WORK/writes" \
	    WRITES_NEXT="$in-day2.csv" WRITES_TRUTH="$in-day2.json" \
	    bash "$TOP/bench/writes.sh" "$WORK/snap1" >"$WORK/writes.out" 2>&1 ||
	    bad "bytes written: bench/writes.sh failed (see $WORK/writes.out)"
	say "$(cat "$WORK/writes.out")"
else
	say "bench: no bytes-written case (strace is missing: make deps-test)"
fi
# ------------------------------------------------------------ bytes written end

# ------------------------------------------------------------ views
# The interactive views (bench/views.sh) on the directory of the daily
# run (day 1 and day 2), then on 1,000 syncs cut from day 1.
. "$TOP/bench/views.sh"
if [ "$only" != ldap ]; then
	fresh "$WORK/snap2"
	views_bench "$RS" "$WORK/bench.conf" "$WORK/spool/rostersync.db" \
	    "$ROWS"
	views_tenants "$RS" "$WORK/tenants" "$in-day1.csv" "$ROWS" ||
	    bad "views: the 1,000 syncs could not be made"
	rm -rf "$WORK/tenants"
fi
# ------------------------------------------------------------ views end
rm -rf "$WORK/snap2"

# 2. ~200,000 changes on the day-1 directory, and their reports alone
bench_case "changes-200k run" upd_prep upd_check "${RSC[@]}" run
bench_case "report xlsx 200k" - report_check "${REPORT[@]}" xlsx \
    "$WORK/report.xlsx"
bench_case "report csv 200k" - - "${REPORT[@]}" csv "$WORK/report.csv"
# the XLSX rows written by libxlsxwriter instead (the rule: rostersync's
# own rows must gain at least 10% of a report a user waits for)
bench_case "report xlsx 200k, library rows" - report_check \
    env ROSTERSYNC_XLSX_ROWS=library "${REPORT[@]}" xlsx "$WORK/report.xlsx"
bench_rounds 1
# 2b. the apply hook: the same items through a trivial Python hook
# (bench/hook_trivial.py) one process per item (exec) and one per run
# (stream); exec takes the first BENCH_EXEC_ROWS rows of the export only
# (a process start per item: 25,000 would take most of an hour), and the
# time per item is compared.
HROWS=${BENCH_HOOK_ROWS:-25000}
EROWS=${BENCH_EXEC_ROWS:-1000}
cached "$CACHE/$gname-hook$HROWS.csv" $GEN --rows "$HROWS" --seed 7 -o
head -n $((EROWS + 1)) "$CACHE/$gname-hook$HROWS.csv" >"$WORK/hook-exec.csv"
# hook_conf MODE: bench.conf with the hook in MODE, for $WORK/hook/.
hook_conf() {
	sed -e 's|max_delete_percent = 50;|&\n\t\thook = { path = "'"$TOP"'/bench/hook_trivial.py"; mode = "'"$1"'"; };|' \
	    -e 's|"spool|"hook/spool|; s|"dir:drop"|"dir:hook/drop"|' \
	    bench/bench.conf >"$WORK/hook-$1.conf"
	chmod 0600 "$WORK/hook-$1.conf"
}
# hook_prep CSV: a fresh directory and that file.
hook_prep_with() {
	rm -rf "$WORK/hook"
	mkdir -p "$WORK/hook/drop" "$WORK/hook/spool"
	cp "$1" "$WORK/hook/drop/export.csv"
	touch -d '-1 hour' "$WORK/hook/drop/export.csv"
}
hook_exec_prep() { hook_prep_with "$WORK/hook-exec.csv"; }
hook_stream_prep() { hook_prep_with "$CACHE/$gname-hook$HROWS.csv"; }
hq() { sqlite3 "$WORK/hook/spool/rostersync.db" "$1"; }
hook_check() {	# every item applied; their number in $WORK/hook-N-MODE
	local n
	n=$(hq "SELECT count(*) FROM items WHERE status = 'applied'")
	expect "hook $1: every item applied" "$n" \
	    "$(hq "SELECT count(*) FROM items")"
	echo "$n" >"$WORK/hook-n-$1"
}
hook_exec_check() { hook_check exec; }
hook_stream_check() { hook_check stream; }
hook_conf exec
hook_conf stream
bench_case "hook exec ($EROWS rows)" hook_exec_prep hook_exec_check \
    "$RS" -c "$WORK/hook-exec.conf" run
bench_case "hook stream ($HROWS rows)" hook_stream_prep hook_stream_check \
    "$RS" -c "$WORK/hook-stream.conf" run
bench_rounds 1
rm -rf "$WORK/hook" "$WORK/hook-exec.csv"

# 2c. the daily run's items through rostersync-ldap into a slapd holding
# day 1 (tests/slapd.sh: mdb, fsync on every write as a production server
# does, unless BENCH_SLAPD_NOSYNC=1), against ldapmodify -f of the same
# changes as LDIF (bench/ldap_ldif.py) into the same state, one operation
# at a time; each from a copy of the day-1 database. Both trees are then
# compared with the directory (tests/ldap_tree.py).
. "$TOP/tests/slapd.sh"
LDAPC=$TOP/$BUILD/rostersync-ldap
ldap_day1() {	# slapd stopped; its database as day 1 left it
	slapd_stop
	rm -rf "$SLAPD_DIR/db"
	cp -a "$WORK/ldap-day1" "$SLAPD_DIR/db"
	slapd_start
}
ldap_tree_ok() {	# ldap_tree_ok DB: the tree equals that directory
	local d=$WORK/ldap-ldif
	mkdir -p "$d"
	lsearch -s one -b "$SLAPD_PEOPLE" >"$d/people" &&
	    lsearch -s one -b "$SLAPD_GROUPS" >"$d/groups" &&
	    lsearch -s one -b "$SLAPD_DISABLED" >"$d/disabled" &&
	    $PYTHON "$TOP/tests/ldap_tree.py" "$1" hr "$d/people" \
	    "$d/groups" "$d/disabled" >"$d/diff" 2>&1 ||
	    { head -5 "$d/diff" >&2; return 1; }
}
ldap_prep() { ldap_day1; fresh "$WORK/snap1"; drop "$in-day2.csv" day2.csv; }
ldap_check() {
	local r
	r=$(last_run)
	echo "$r" >"$WORK/ldap-run"
	say "  items: $(q "SELECT count(*) FROM items WHERE run_id = $r"), $(q "SELECT group_concat(n || ' ' || status, ', ') FROM (SELECT status, count(*) AS n FROM items WHERE run_id = $r GROUP BY status)")"
	ldap_tree_ok "$WORK/spool/rostersync.db" &&
	    say "  ok  the tree equals the directory" ||
	    bad "rostersync-ldap: the tree differs from the directory"
}
ldap_peer_prep() { ldap_day1; }
ldap_peer_check() {
	ldap_tree_ok "$WORK/spool/rostersync.db" &&
	    say "  ok  the peer's tree equals the directory" ||
	    bad "ldapmodify: the tree differs from the directory"
}
if [ "${BENCH_SKIP_LDAP:-0}" = 1 ]; then
	say "bench: no LDAP case (BENCH_SKIP_LDAP=1)"
elif slapd_usable && [ -x "$LDAPC" ]; then
	[ "${BENCH_SLAPD_NOSYNC:-0}" = 1 ] || export SLAPD_SYNC=1
	slapd_setup "$WORK/slapd"
	slapd_start && slapd_base || bad "slapd: cannot start"
	say "bench: slapd holding day 1 (slapadd)"
	slapd_stop
	$PYTHON "$TOP/bench/ldap_ldif.py" tree "$WORK/snap1/rostersync.db" \
	    "$SLAPD_PEOPLE" "$SLAPD_GROUPS" >"$WORK/day1.ldif"
	/usr/sbin/slapadd -q -f "$SLAPD_DIR/slapd.conf" -l "$WORK/day1.ldif" ||
	    bad "slapadd of day 1 failed"
	rm -f "$WORK/day1.ldif"
	cp -a "$SLAPD_DIR/db" "$WORK/ldap-day1"
	slapd_start || bad "slapd: cannot start"
	cp "$SLAPD_PWFILE" "$WORK/ldap.pw"
	sed -e 's|max_delete_percent = 50;|&\n\t\thook = { path = "'"$LDAPC"'"; args = [ "--uri", "'"$SLAPD_URI"'", "--bind-dn", "'"$SLAPD_ADMIN"'", "--password-file", "'"$WORK/ldap.pw"'", "--base", "'"$SLAPD_PEOPLE"'", "--groups-base", "'"$SLAPD_GROUPS"'", "--disabled-base", "'"$SLAPD_DISABLED"'" ]; mode = "stream"; window = WINDOW; timeout = 120; };|' \
	    bench/bench.conf >"$WORK/ldap.conf.in"
	for w in 64 1; do
		sed "s|WINDOW|$w|" "$WORK/ldap.conf.in" >"$WORK/ldap-w$w.conf"
		chmod 0600 "$WORK/ldap-w$w.conf"
	done
	bench_case "daily run, rostersync-ldap w64" ldap_prep ldap_check \
	    "$RS" -c "$WORK/ldap-w64.conf" run
	bench_rounds 1
	$PYTHON "$TOP/bench/ldap_ldif.py" changes "$WORK/spool/rostersync.db" \
	    "$(cat "$WORK/ldap-run")" "$WORK/snap1/rostersync.db" \
	    "$SLAPD_PEOPLE" "$SLAPD_GROUPS" "$SLAPD_DISABLED" \
	    >"$WORK/changes.ldif"
	say "  the peer's LDIF: $(grep -c '^changetype' "$WORK/changes.ldif") operations"
	# window 1 and the peer in turn, BENCH_LDAP_ROUNDS times: the two
	# are close, and slapd's time moves with the machine
	bench_case "daily run, rostersync-ldap w1" ldap_prep ldap_check \
	    "$RS" -c "$WORK/ldap-w1.conf" run
	bench_case "ldapmodify -f (the peer)" ldap_peer_prep ldap_peer_check \
	    ldapmodify -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN" \
	    -y "$SLAPD_PWFILE" -f "$WORK/changes.ldif"
	bench_rounds "${BENCH_LDAP_ROUNDS:-1}"
	slapd_stop
	rm -rf "$WORK/slapd" "$WORK/ldap-day1" "$WORK/changes.ldif"
else
	say "bench: no LDAP case (needs slapd, ldap-utils and $LDAPC)"
fi

# 600 MB per million users, and every input twice (processed/, archive/)
rm -rf "$WORK/spool" "$WORK/drop" "$WORK/snap1" "$WORK/report.xlsx" \
    "$WORK/report.csv"

# 3. XLSX read
if [ -s "$xin.xlsx" ]; then
	"$RSB" csv "$xin.csv" >"$WORK/csv-digest" ||
	    bad "rsbench csv: exit status not 0"
	bench_case "xlsx read (rsbench)" - xread_fast_check "$RSB" xlsx \
	    "$xin.xlsx"
	bench_case "xlsx read (expat alone)" - xread_expat_check "$RSB" \
	    xlsx-expat "$xin.xlsx"
	bench_case "xlsx inflate (unzip -p)" - - sh -c \
	    "unzip -p '$xin.xlsx' xl/worksheets/sheet1.xml >/dev/null"
	bench_rounds 5
	if [ "$peers" = 1 ] && [ -f "$SHARED/xlsx_read_openpyxl.py" ]; then
		bench_case "xlsx read (openpyxl)" - openpyxl_check "$PYTHON" \
		    "$SHARED/xlsx_read_openpyxl.py" "$xin.xlsx"
		bench_rounds 1
	fi
fi

# 4. the day-2 export fetched over SFTP from a real sshd on 127.0.0.1
# (tests/sshd.sh: needs root and openssh-server), `rostersync fetch` only
. "$TOP/tests/sshd.sh"
sftp_prep() {
	rm -rf "$WORK/sftp-spool"
	mkdir -p "$WORK/sftp-spool" "$WORK/remote"
}
sftp_check() {
	expect "sftp fetch: the copy's sha256" "$(sqlite3 \
	    "$WORK/sftp-spool/rostersync.db" "SELECT sha256 FROM files")" \
	    "$(sha256sum "$in-day2.csv" | cut -d' ' -f1)"
}
if [ "$only" = ldap ]; then
	say "bench: no SFTP case (BENCH_ONLY=ldap)"
elif sshd_usable; then
	sshd_setup "$WORK/sshd" >/dev/null 2>&1
	mkdir -p "$WORK/remote"
	cp "$in-day2.csv" "$WORK/remote/day2.csv"
	touch -d '-1 hour' "$WORK/remote/day2.csv"
	echo "$KNOWN_LINE" >"$WORK/known_hosts"
	install -m 0600 /dev/null "$WORK/sftp.conf"
	cat >"$WORK/sftp.conf" <<EOF
database = "sftp-spool/rostersync.db";
spool = "sftp-spool";
timezone = "UTC";
syncs = ( { name = "hr"; settle_seconds = 0; key = "employee_id";
	source = "sftp://root@127.0.0.1:$SSHD_PORT$WORK/remote";
	sftp = { known_hosts = "$WORK/known_hosts"; identity = "$CLIENT_KEY";
	    retries = 0; }; } );
EOF
	if sshd_start; then
		bench_case "sftp fetch (loopback)" sftp_prep sftp_check "$RS" \
		    -c "$WORK/sftp.conf" fetch
		bench_rounds "$N"
	else
		say "bench: sshd did not start: no SFTP case"
	fi
	sshd_stop
	rm -rf "$WORK/sftp-spool" "$WORK/remote" "$WORK/sshd"
else
	say "bench: no SFTP case (needs root, openssh-server and ssh-keygen)"
fi
# ==================================================== 4b. SFTP at WAN latency
# The day-2 export downloaded (`rostersync fetch`) and a first load's
# reports uploaded (`rsbench put`: publish.c's uploads) through
# bench/latproxy, a TCP proxy on 127.0.0.1 that holds each direction for
# RTT/2, against OpenSSH's sftp in batch mode with the same key, the same
# sshd (tests/sshd.sh) and the same files; each the median of
# BENCH_WAN_REPEAT (3) runs, at each RTT of BENCH_WAN_RTTS (ms, default
# "0 20 50": about a minute and a half; "0 20 50 100" adds another;
# BENCH_WAN_RTTS= skips the section). The ratios are speeds: sftp's time
# / rostersync's. Targets at 50 ms: download >= 0.8, upload >= 0.5 (at 0
# ms: rostersync's times no worse than the last runs', bench/HISTORY.md).
# Every copy is checked: the download's SHA-256, each upload byte for
# byte.
WAN_RTTS=${BENCH_WAN_RTTS-0 20 50}
WAN_N=${BENCH_WAN_REPEAT:-3}
LATPROXY=$TOP/$BUILD/latproxy
W=$WORK/wan
# wan_ratio A B: A / B; wan_target LABEL A B LIMIT: and whether >= LIMIT.
wan_ratio() { awk -v a="$1" -v b="$2" 'BEGIN {
	if (a == "" || b == "" || b + 0 == 0) print "n/a";
	else printf "%.2f", a / b }'; }
wan_target() {
	local r v=MISSED
	r=$(wan_ratio "$2" "$3")
	[ "$r" = n/a ] && v=n/a
	awk -v r="$r" -v l="$4" 'BEGIN { exit !(r != "n/a" && r + 0 >= l + 0) }' &&
	    v=ok
	printf '  %-44s %7s  (target >= %s)  %s\n' "$1" "$r" "$4" "$v"
}
# wan_median V...: the middle value.
wan_median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { print v[int((NR + 1) / 2)] }'; }
# wan_time CMD...: CMD's wall time in seconds (its output in $W/last.out).
wan_time() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >"$W/last.out" 2>&1 || bad "$*: exit status not 0"
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
# wan_proxy DELAY_MS: a latproxy to the sshd; sets WAN_PORT, WAN_PROXY.
wan_proxy() {
	local n
	rm -f "$W/proxy.port"
	"$LATPROXY" "$SSHD_PORT" "$1" 1800 >"$W/proxy.port" 2>&1 &
	WAN_PROXY=$!
	for n in $(seq 1 50); do
		WAN_PORT=$(head -1 "$W/proxy.port" 2>/dev/null)
		[ -n "$WAN_PORT" ] && return 0
		sleep 0.1
	done
	return 1
}
# wan_conf: rostersync's and sftp's settings for the proxy's port.
wan_conf() {
	echo "[127.0.0.1]:$WAN_PORT $(cut -d' ' -f1,2 "$HOST_KEY.pub")" \
	    >"$W/known_hosts"
	install -m 0600 /dev/null "$W/wan.conf"
	cat >"$W/wan.conf" <<EOF
database = "spool/rostersync.db";
spool = "spool";
timezone = "UTC";
syncs = ( { name = "hr"; settle_seconds = 0; key = "employee_id";
	after = "leave";
	source = "sftp://root@127.0.0.1:$WAN_PORT$W/remote";
	sftp = { known_hosts = "$W/known_hosts"; identity = "$CLIENT_KEY";
	    retries = 0; }; } );
EOF
	WAN_SFTP=(sftp -q -b - -i "$CLIENT_KEY" -P "$WAN_PORT"
	    -o BatchMode=yes -o UserKnownHostsFile="$W/known_hosts"
	    -o GlobalKnownHostsFile=/dev/null root@127.0.0.1)
}
wan_sftp_get() { echo "get $W/remote/day2.csv $W/got.csv" | "${WAN_SFTP[@]}"; }
wan_sftp_put() {
	local f
	for f in "${WAN_UP[@]}"; do
		echo "put \"$f\" \"$W/remote/sftp-up/$(basename "$f")\""
	done | "${WAN_SFTP[@]}"
}
wan_rs_get() {
	rm -rf "$W/spool"
	mkdir -p "$W/spool"
	(cd "$W" && "$RS" -c wan.conf fetch)
}
wan_rs_put() { (cd "$W" && "$RSB" put wan.conf hr "$W/remote/reports" \
    "${WAN_UP[@]}"); }
# wan_check: the last download and uploads are the files, byte for byte.
wan_check() {
	local f
	expect "wan: the download's sha256" "$(sqlite3 "$W/spool/rostersync.db" \
	    "SELECT sha256 FROM files")" "$(sha256sum <"$in-day2.csv" |
	    cut -d' ' -f1)"
	for f in "${WAN_UP[@]}"; do
		cmp -s "$f" "$W/remote/reports/$(basename "$f")" ||
		    bad "wan: $(basename "$f") uploaded is not the file"
	done
}
# The daily run over SFTP: 2,000 people (tests/genexport.py), day 1
# applied once per RTT, then day 2 run from that state WAN_N times with
# the run's one connection (the default) and with one connection per use
# (ROSTERSYNC_SOURCE_KEEP=0: the fetch, the move to processed/ and the
# reports' upload each log in), alternating.
WR=$W/run
wan_run_conf() {
	install -m 0600 /dev/null "$WR/run.conf"
	cat >"$WR/run.conf" <<EOF
database = "spool/rostersync.db";
spool = "spool";
timezone = "UTC";
syncs = ( { name = "hr"; settle_seconds = 0; key = "employee_id";
	after = "move"; processed_dir = "processed";
	reports_remote = "reports"; max_deletes = 1000;
	source = "sftp://root@127.0.0.1:$WAN_PORT$WR/remote";
	sftp = { known_hosts = "$W/known_hosts"; identity = "$CLIENT_KEY";
	    retries = 0; }; } );
EOF
}
# wan_run_drop NAME FILE: an export on the server, settled.
wan_run_drop() {
	cp "$2" "$WR/remote/$1"
	touch -d '-1 hour' "$WR/remote/$1"
}
# wan_run KEEP: day 2 from the day-1 state, KEEP as ROSTERSYNC_SOURCE_KEEP
# (the server's processed/ and reports/ folders there, emptied, as a
# daily run finds them).
wan_run() {
	rm -rf "$WR/spool"
	cp -a "$WR/day1-spool" "$WR/spool"
	rm -f "$WR/remote/processed/"* "$WR/remote/reports/"*
	wan_run_drop day2.csv "$WR/day2.csv"
	(cd "$WR" && ROSTERSYNC_SOURCE_KEEP=$1 "$RS" -c run.conf run)
}
# wan_run_check: the last run applied day 2, moved it, and published.
wan_run_check() {
	expect "wan run: day 2 applied" "$(sqlite3 "$WR/spool/rostersync.db" \
	    "SELECT status FROM runs WHERE file_name = 'day2.csv'")" success
	[ -f "$WR/remote/processed/day2.csv" ] ||
	    bad "wan run: day2.csv is not in processed/"
	expect "wan run: reports published" "$(ls "$WR/remote/reports" |
	    grep -c .)" 3
}
# wan_run_case RTT: day 1 over the proxy, then the rounds; the medians.
wan_run_case() {
	local k kr=() er=()
	rm -rf "$WR/spool" "$WR/remote" "$WR/day1-spool"
	mkdir -p "$WR/spool" "$WR/remote"
	wan_run_conf
	wan_run_drop day1.csv "$WR/day1.csv"
	(cd "$WR" && "$RS" -c run.conf run >/dev/null 2>&1) ||
	    { bad "wan run: day 1 failed at $1 ms"; return; }
	cp -a "$WR/spool" "$WR/day1-spool"
	for ((k = 0; k < WAN_N; k++)); do
		kr+=("$(wan_time wan_run 1)")
		wan_run_check
		er+=("$(wan_time wan_run 0)")
		wan_run_check
		say "bench: wan $1 ms: daily run, one connection ${kr[k]} s," \
		    "one per use ${er[k]} s"
	done
	WAN_RUNS+=("$1 $(wan_median "${kr[@]}") $(wan_median "${er[@]}")")
}
# wan_case RTT: the four transfers WAN_N times, alternating; the medians;
# then the daily run.
wan_case() {
	local k gs=() gr=() ps=() pr=()
	wan_proxy $(($1 / 2)) || { bad "wan: latproxy did not start"; return; }
	wan_conf
	for ((k = 0; k < WAN_N; k++)); do
		rm -f "$W/got.csv" "$W"/remote/sftp-up/* "$W"/remote/reports/*
		gs+=("$(wan_time wan_sftp_get)")
		gr+=("$(wan_time wan_rs_get)")
		ps+=("$(wan_time wan_sftp_put)")
		pr+=("$(wan_time wan_rs_put)")
		say "bench: wan $1 ms: get sftp ${gs[k]} s rostersync ${gr[k]} s," \
		    "put sftp ${ps[k]} s rostersync ${pr[k]} s"
	done
	wan_check
	wan_run_case "$1"
	kill "$WAN_PROXY" 2>/dev/null
	wait "$WAN_PROXY" 2>/dev/null
	WAN_ROWS+=("$1 $(wan_median "${gs[@]}") $(wan_median "${gr[@]}")
	    $(wan_median "${ps[@]}") $(wan_median "${pr[@]}")")
}
# wan_load: a first load of the day-1 export (a local drop-zone), whose
# reports the uploads send.
wan_load() {
	mkdir -p "$W/load/drop" "$W/load/spool"
	sed 's#^\(database\|spool\) = "spool#\1 = "load/spool#;
	    s#"dir:drop"#"dir:load/drop"#' bench/bench.conf >"$W/load.conf"
	chmod 0600 "$W/load.conf"
	cp "$in-day1.csv" "$W/load/drop/day1.csv"
	touch -d '-1 hour' "$W/load/drop/day1.csv"
	(cd "$W" && "$RS" -c load.conf run >/dev/null 2>&1) ||
	    { bad "wan: the first load failed"; return 1; }
	WAN_UP=("$W"/load/spool/reports/hr/*)
	rm -rf "$W/load/drop" "$W/load/spool/archive" "$W/load/spool/"*.db*
}
WAN_ROWS=() WAN_RUNS=()
if [ -z "$WAN_RTTS" ] || [ "$only" = ldap ]; then
	say "bench: no SFTP at WAN latency case (BENCH_WAN_RTTS is empty" \
	    "or BENCH_ONLY=ldap)"
elif ! sshd_usable || ! command -v sftp >/dev/null; then
	say "bench: no SFTP at WAN latency case (needs root, openssh-server" \
	    "and openssh-client)"
elif [ ! -x "$LATPROXY" ]; then
	say "bench: no SFTP at WAN latency case ($LATPROXY is missing:" \
	    "make $BUILD/latproxy)"
else
	rm -rf "$W"
	mkdir -p "$W/remote/reports" "$W/remote/sftp-up" "$WR"
	cp "$in-day2.csv" "$W/remote/day2.csv"
	touch -d '-1 hour' "$W/remote/day2.csv"
	$PYTHON tests/genexport.py --rows 2000 --seed 5 -o "$WR/day1.csv"
	$PYTHON tests/genexport.py --seed 6 --mutate "$WR/day1.csv" \
	    -o "$WR/day2.csv"
	SSHD_STARTED=0	# a port of its own, taken again if someone has it
	sshd_setup "$W/sshd" >/dev/null 2>&1
	if wan_load && sshd_start; then
		say "bench: wan: download $(stat -c %s "$in-day2.csv") bytes," \
		    "upload $(cat "${WAN_UP[@]}" | wc -c) bytes in" \
		    "${#WAN_UP[@]} files"
		for r in $WAN_RTTS; do
			wan_case "$r"
		done
	else
		bad "wan: the first load failed or sshd did not start"
	fi
	sshd_stop
	echo
	echo "SFTP at WAN latency (median of $WAN_N; speed = sftp's time /" \
	    "rostersync's):"
	printf '%6s %25s %25s\n' "RTT ms" "download s: rs / sftp" \
	    "upload s: rs / sftp"
	for row in "${WAN_ROWS[@]}"; do
		set -- $row
		printf '%6s %9s / %-6s %6sx %9s / %-6s %6sx\n' "$1" "$3" \
		    "$2" "$(wan_ratio "$2" "$3")" "$5" "$4" \
		    "$(wan_ratio "$4" "$5")"
	done
	echo
	echo "A daily run of 2,000 people over SFTP (fetch, move to" \
	    "processed/, 3 reports up; median of $WAN_N):"
	printf '%6s %16s %16s %9s\n' "RTT ms" "one connection" "one per use" \
	    "speed-up"
	for row in "${WAN_RUNS[@]}"; do
		set -- $row
		printf '%6s %14s s %14s s %8sx\n' "$1" "$2" "$3" \
		    "$(wan_ratio "$3" "$2")"
	done
	for row in "${WAN_ROWS[@]}"; do
		set -- $row
		if [ "$1" = 50 ]; then
			wan_target "download speed / sftp's at 50 ms" "$2" "$3" 0.8
			wan_target "upload speed / sftp's at 50 ms" "$4" "$5" 0.5
		fi
	done
	# The run's kept connection must pay 10% of the run: 1 / 0.9.
	for row in "${WAN_RUNS[@]}"; do
		set -- $row
		[ "$1" = 50 ] && wan_target \
		    "daily run, one connection per use / per run" "$3" "$2" 1.11
	done
	rm -rf "$W"
fi
# ================================================ end of SFTP at WAN latency

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------ the table

has() { [ -n "${WALLS[$1]:-}" ]; }
med() { median "${WALLS[$1]:-}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {
	if (a == "" || b == "" || b + 0 == 0) print "n/a";
	else printf "%.3f", a / b }'; }
# target LABEL A B OP LIMIT: the ratio of the medians of cases A and B,
# and whether it meets OP LIMIT (OP "-": no target, the ratio only).
target() {
	local r v
	has "$2" && has "$3" || return 0
	r=$(ratio "$(med "$2")" "$(med "$3")")
	if [ "$4" = - ]; then v="(no target)"
	elif [ "$r" = n/a ]; then v="n/a"
	elif awk -v r="$r" -v l="$5" -v op="$4" 'BEGIN {
	    exit !(op == "<=" ? r <= l + 0 : r >= l + 0) }'; then v=ok
	else v=MISSED; fi
	if [ "$4" = - ]; then
		printf '  %-44s %7s  %s\n' "$1" "$r" "$v"
	else
		printf '  %-44s %7s  (target %s %s)  %s\n' "$1" "$r" "$4" \
		    "$5" "$v"
	fi
}
# memory CASE LIMIT-MB: the case's peak RSS against a limit.
memory() {
	has "$1" || return 0
	printf '  %-44s %7s  (target <= %s)  %s\n' "$1" "${RSS[$1]}" "$2" \
	    "$([ "${RSS[$1]}" -le "${2%.*}" ] && echo ok || echo MISSED)"
}
mb() { awk -v b="$1" -v r="$2" -v n="$ROWS" \
    'BEGIN { printf "%.0f", b + r * n / 1048576 }'; }

echo
echo "load average at the start $load_start, at the end $load_end"
printf '%-28s %9s %15s %6s %13s\n' "case ($ROWS rows)" "median s" \
    "min-max s" rounds "peak RSS MB"
for name in "${names[@]}"; do
	has "$name" || continue
	read -r m lo hi cnt <<<"$(stats ${WALLS[$name]})"
	printf '%-28s %9s %15s %6s %13s\n' "$name" "$m" "$lo-$hi" "$cnt" \
	    "${RSS[$name]}"
done
echo
echo "ratios (medians of wall time):"
if [ "$peers" = 1 ]; then
	target "daily run / python peer" "daily run" "peer python diff" \
	    "<=" 0.100
	target "daily run / sqlite3 peer" "daily run" "peer sqlite3 diff" \
	    "<=" 0.143
fi
target "initial load / sqlite floor" "initial load" "sqlite floor" "<=" 1.1
target "daily run (xlsx) / daily run (csv)" "daily run (xlsx)" "daily run" \
    "<=" 2.5
target "daily run (cold) / daily run" "daily run (cold)" "daily run" - -
target "initial load / the same, reports serial" "initial load" \
    "initial load, serial reports" "<=" 0.9
target "daily run (xlsx) / the same, sheet serial" "daily run (xlsx)" \
    "daily run (xlsx), serial sheet" "<=" 0.9
target "unchanged re-run / daily run" "unchanged re-run" "daily run" "<=" 0.5
target "report xlsx 200k / the same, library rows" "report xlsx 200k" \
    "report xlsx 200k, library rows" "<=" 0.9
target "xlsx read / inflate" "xlsx read (rsbench)" \
    "xlsx inflate (unzip -p)" "<=" 3
target "xlsx read, expat alone / xlsx read" "xlsx read (expat alone)" \
    "xlsx read (rsbench)" - -
target "openpyxl / xlsx read" "xlsx read (openpyxl)" "xlsx read (rsbench)" \
    ">=" 6
if has "hook stream ($HROWS rows)" && has "hook exec ($EROWS rows)"; then
	pe=$(awk -v w="$(med "hook exec ($EROWS rows)")" \
	    -v n="$(cat "$WORK/hook-n-exec")" 'BEGIN { printf "%.6f", w / n }')
	ps=$(awk -v w="$(med "hook stream ($HROWS rows)")" \
	    -v n="$(cat "$WORK/hook-n-stream")" 'BEGIN { printf "%.6f", w / n }')
	printf '  %-44s %7s  (target >= 50)  %s\n' \
	    "hook per item, exec / stream ($pe / $ps s)" \
	    "$(ratio "$pe" "$ps")" "$(awk -v a="$pe" -v b="$ps" \
	    'BEGIN { print ((a / b >= 50) ? "ok" : "MISSED") }')"
fi
target "rostersync-ldap w64 / ldapmodify" "daily run, rostersync-ldap w64" \
    "ldapmodify -f (the peer)" "<=" 1
target "rostersync-ldap w1 / ldapmodify" "daily run, rostersync-ldap w1" \
    "ldapmodify -f (the peer)" "<=" 1
target "rostersync-ldap w64 / w1 (the window)" \
    "daily run, rostersync-ldap w64" "daily run, rostersync-ldap w1" "<=" 1
[ "$only" = ldap ] || views_table
echo "memory (peak RSS MB, the highest of the rounds):"
memory "daily run" "$(mb 64 64)"
memory "daily run (xlsx)" "$(mb 64 64)"
memory "initial load" "$(mb 128 128)"
memory "xlsx read (rsbench)" 63
echo
grep -h '^writes:' "$WORK/writes.out" 2>/dev/null && echo
if [ "$failed" != 0 ]; then
	echo "bench: FAILED: a count differs from the truth or a step failed" \
	    "(see above and $WORK)"
	exit 1
fi
echo "bench: every count equals the generator's truth"
