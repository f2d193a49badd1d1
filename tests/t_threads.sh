#!/bin/bash
# Every helper thread is a speed-up with a fallback on the calling
# thread (thread_start(), ROSTERSYNC_SERIAL): a first load and its next
# day big enough for every thread of a daily run give the same runs, the
# same directory and the same reports both ways, and the threaded runs
# did start their threads (-v says which).
. "$(dirname "$0")/lib.sh"

$GEN --rows 40000 --seed 61 -o "$TMP/d1.csv"
$GEN --mutate "$TMP/d1.csv" --seed 62 -o "$TMP/d2.csv"

# both MODE: day 1 and day 2 in a sandbox of their own; -v in MODE.log.
both() {
	sandbox "$1"
	drop "$TMP/d1.csv" day1.csv
	ROSTERSYNC_SERIAL=$2 rs -v run >"$TMP/$1-1.log" 2>&1
	drop "$TMP/d2.csv" day2.csv
	ROSTERSYNC_SERIAL=$2 rs -v run >"$TMP/$1-2.log" 2>&1
	echo $? >"$TMP/$1.rc"
}
both threads ""
both serial all
eq "threads and serial: both days applied" "$(cat "$TMP/threads.rc") $(cat "$TMP/serial.rc")" "0 0"
# report ROOT: the day-2 CSV report's changes and issues (not its summary,
# which has times).
report() {
	grep -hv '^"\?Summary' "$(ls -t "$1"/spool/reports/hr/*.csv | head -1)" |
	    sort
}
SB=$TMP/threads DB=$TMP/threads/spool/rostersync.db
t_dump=$(dump) t_run=$(run_dump 2) t_report=$(report "$SB")
SB=$TMP/serial DB=$TMP/serial/spool/rostersync.db
eq "the same directory both ways" "$(dump)" "$t_dump"
eq "the same items, changes and issues both ways" "$(run_dump 2)" "$t_run"
eq "the same report rows both ways" "$(report "$SB")" "$t_report"
check "the day-2 report has rows" test "$(printf '%s\n' "$t_report" | wc -l)" -gt 100
for name in reports-early; do
	contains "threaded: $name ran beside the run" \
	    "$(cat "$TMP/threads-1.log" "$TMP/threads-2.log")" \
	    "$name: a thread of its own"
	contains "serial: $name ran on the calling thread" \
	    "$(cat "$TMP/serial-1.log" "$TMP/serial-2.log")" \
	    "$name: on the calling thread"
done
eq "threaded: no helper thread but reports-early and progress" \
    "$(grep -h 'a thread of its own' "$TMP/threads-1.log" "$TMP/threads-2.log" | grep -v 'progress\|reports-early' | sort -u)" ""
eq "serial: no helper thread but progress" \
    "$(grep -h 'a thread of its own' "$TMP/serial-1.log" "$TMP/serial-2.log" | grep -vc progress)" 0

finish
