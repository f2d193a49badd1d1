#!/bin/bash
# What each helper thread gains: the bench's daily run (and, with
# THREADS_INITIAL=1, its first load) timed with every thread, and with
# each one in turn run on the calling thread instead (ROSTERSYNC_SERIAL,
# src/util.c thread_start()), in interleaved rounds, medians printed with
# the gain each thread brings. A thread that does not gain 10% of the
# run's time is a candidate for removal (docs/design.md, "Threads").
#
# Three cases, each in its own rounds: the daily run from the CSV, the
# same from its XLSX twin (the sheet's thread), and with
# THREADS_INITIAL=1 the first load. Needs the bench's inputs (make bench
# once). Environment: BUILD (build/release), ROUNDS (5), THREADS_INITIAL.
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
# timed SERIAL FILE [STATE]: one run of FILE from a copy of STATE (or
# from nothing); its wall time, or "fail" when the run did not exit 0.
timed() {
	rm -rf "$W/run/spool" "$W/run/drop"
	mkdir -p "$W/run/drop"
	if [ -n "${3:-}" ]; then cp -a "$3" "$W/run/spool"
	else mkdir -p "$W/run/spool"; fi
	cp "$2" "$W/run/drop/day.${2##*.}"
	touch -d '-1 hour' "$W/run/drop/day.${2##*.}"
	sync
	if /usr/bin/time -f %e -o "$W/t" env ROSTERSYNC_SERIAL="$1" "$RS" \
	    -c "$W/run/rs.conf" -q run >/dev/null 2>&1; then
		cat "$W/t"
	else
		echo fail
	fi
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# measure TITLE FILE STATE NAME...: interleaved rounds of FILE from
# STATE with every thread, then with each NAME on the calling thread.
measure() {
	local title=$1 file=$2 state=$3 n s r m base
	shift 3
	declare -A T
	for r in $(seq 1 "$ROUNDS"); do
		for n in none "$@"; do
			s=$n; [ "$n" = none ] && s=
			T[$n]="${T[$n]:-} $(timed "$s" "$file" "$state")"
		done
		echo "threads: $title: round $r of $ROUNDS" >&2
	done
	case " ${T[*]} " in *" fail "*)
		echo "threads: a run failed: ${T[*]}" >&2; exit 1;; esac
	base=$(printf '%s\n' ${T[none]} | median)
	printf '\n%-34s %8s %8s  %s\n' "$title" "median" "gain" "each run"
	printf '%-34s %8s %8s  %s\n' "every thread" "$base" "" "${T[none]}"
	for n in "$@"; do
		m=$(printf '%s\n' ${T[$n]} | median)
		printf '%-34s %8s %7s%%  %s\n' "without $n" "$m" \
		    "$(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.1f", 100 * (a - b) / a}')" \
		    "${T[$n]}"
	done
}

mkdir -p "$W"
conf
echo "threads: the first load, to start from (once)" >&2
cp "$IN" "$W/run/drop/day1.csv"; touch -d '-1 hour' "$W/run/drop/day1.csv"
"$RS" -c "$W/run/rs.conf" -q run >/dev/null 2>&1 ||
    { echo "threads: the first load failed" >&2; exit 1; }
rm -rf "$W/state"; cp -a "$W/run/spool" "$W/state"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

measure "daily run, 1M rows, CSV" "$DAY2" "$W/state" reports-early
if [ -s "${DAY2%.csv}.xlsx" ]; then
	measure "daily run, 1M rows, XLSX" "${DAY2%.csv}.xlsx" "$W/state" \
	    xlsx-sheet
fi
if [ "${THREADS_INITIAL:-0}" = 1 ]; then
	measure "first load, 1M rows, CSV" "$IN" "" reports-early
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$W"
