#!/bin/bash
# What each helper thread gains: the bench's daily run (and, with
# THREADS_INITIAL=1, its first load) timed with every thread, and with
# each one in turn run on the calling thread instead (ROSTERSYNC_SERIAL,
# src/util.c thread_start()), in interleaved rounds, medians printed with
# the gain each thread brings. A thread that does not gain 10% of the
# run's time is a candidate for removal (README, "Performance").
#
# Needs the bench's inputs (make bench once). Environment: BUILD
# (build/release), ROUNDS (5), THREADS_INITIAL (0).
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
RS=$TOP/${BUILD:-build/release}/rostersync
ROUNDS=${ROUNDS:-5}
CACHE=$TOP/bench/cache
IN=$(ls "$CACHE"/*-1000000-day1.csv 2>/dev/null | head -1)
[ -n "$IN" ] || { echo "threads: run make bench first (no 1M input)" >&2; exit 1; }
DAY2=${IN%-day1.csv}-day2.csv
W=$CACHE/threads
NAMES="sha256 csv-reader snapshot-keys snapshot-lines snapshot-lines-body
    diff-read-ahead snapshot-save reports-early wal-writeback checkpoint"

conf() {	# a sandbox: thresholds that let the bench's days through
	rm -rf "$W/run"
	mkdir -p "$W/run/drop" "$W/run/spool"
	cat >"$W/run/rs.conf" <<EOF
database = "spool/rostersync.db";
spool = "spool";
timezone = "UTC";
syncs = ( { name = "hr"; source = "dir:drop"; settle_seconds = 0;
	max_deletes = 100000; max_delete_percent = 100;
	max_update_percent = 100; } );
EOF
}
# timed SERIAL FILE STATE: one run of FILE from STATE; its wall time.
timed() {
	rm -rf "$W/run/spool" "$W/run/drop"
	mkdir -p "$W/run/drop" "$W/run/spool"
	[ -n "$3" ] && { rmdir "$W/run/spool"; cp -a "$3" "$W/run/spool"; }
	cp "$2" "$W/run/drop/day.csv"
	touch -d '-1 hour' "$W/run/drop/day.csv"
	sync
	/usr/bin/time -f %e -o "$W/t" env ROSTERSYNC_SERIAL="$1" "$RS" \
	    -c "$W/run/rs.conf" -q run >/dev/null 2>&1
	cat "$W/t"
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

mkdir -p "$W"
conf
echo "threads: the first load, to start from (once)" >&2
mkdir -p "$W/run/drop"
cp "$IN" "$W/run/drop/day1.csv"; touch -d '-1 hour' "$W/run/drop/day1.csv"
"$RS" -c "$W/run/rs.conf" -q run >/dev/null 2>&1
rm -rf "$W/state"; cp -a "$W/run/spool" "$W/state"

case_of() {	# the file each case times
	if [ "$1" = initial ]; then echo empty; else echo "$DAY2"; fi
}
declare -A T
for r in $(seq 1 "$ROUNDS"); do
	for n in none $NAMES; do
		s=$n; [ "$n" = none ] && s=
		T[$n]="${T[$n]:-} $(timed "$s" "$DAY2")"
	done
	echo "threads: round $r of $ROUNDS" >&2
done
base=$(printf '%s\n' ${T[none]} | median)
printf '%-22s %8s %8s  %s\n' "daily run, 1M rows" "median" "gain" "each run"
printf '%-22s %8s %8s  %s\n' "every thread" "$base" "" "${T[none]}"
for n in $NAMES; do
	m=$(printf '%s\n' ${T[$n]} | median)
	printf '%-22s %8s %7s%%  %s\n' "without $n" "$m" \
	    "$(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.1f", 100 * (a - b) / a}')" \
	    "${T[$n]}"
done
