#!/bin/bash
# The bench's daily run timed on several builds side by side: each
# revision is built in a worktree of its own, loads the bench's day 1
# into a directory of its own (its schema, its page size, its snapshot
# files), and then the builds' daily runs of day 2 alternate, ROUNDS
# rounds, each from a fresh copy of its day 1. Prints each build's
# median and spread of wall time. For finding which commit made the
# daily run slower, on a machine whose speed moves from hour to hour.
#
#   bench/builds.sh REV...          e.g. bench/builds.sh 6534a84 HEAD
#
# Environment: ROUNDS (4), BENCH_ROWS (1000000; the inputs are make
# bench's, in bench/cache), BUILDS_DIR (bench/cache/builds; removed at
# the end unless BUILDS_KEEP=1). A run that fails is reported and left
# out of the median.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
ROUNDS=${ROUNDS:-4}
ROWS=${BENCH_ROWS:-1000000}
CACHE=$TOP/bench/cache
W=${BUILDS_DIR:-$CACHE/builds}
IN=$(ls "$CACHE"/*-"$ROWS"-day1.csv 2>/dev/null | head -1)
die() { echo "builds: $*" >&2; exit 1; }
[ $# -gt 0 ] || die "usage: bench/builds.sh REV..."
[ -n "$IN" ] || die "no $ROWS-row export in $CACHE (make bench once)"
DAY2=${IN%-day1.csv}-day2.csv
[ -s "$DAY2" ] || die "$DAY2 is missing"

cleanup() {
	for d in "$W"/src-*; do
		[ -d "$d" ] && git worktree remove --force "$d" 2>/dev/null
	done
	[ "${BUILDS_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W"

# run TAG FILE: FILE through build TAG from its state; its wall time
run() {
	local d=$W/run-$1 t0 t1
	rm -rf "$d/spool" "$d/drop"
	mkdir -p "$d/drop"
	[ -d "$d/day1" ] && cp -a "$d/day1" "$d/spool"
	cp "$2" "$d/drop/"
	touch -d '-1 hour' "$d/drop/$(basename "$2")"
	sync
	t0=$(date +%s.%N)
	(cd "$d" && "$W/bin-$1" -c bench.conf -q run) >/dev/null 2>&1 ||
	    { echo fail; return; }
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

tags=()
for rev in "$@"; do
	sha=$(git rev-parse --short "$rev^{commit}") || die "$rev: no such commit"
	tags+=("$sha")
	[ -x "$W/bin-$sha" ] && continue
	echo "builds: $sha: build and first load" >&2
	git worktree add -q --detach "$W/src-$sha" "$sha" ||
	    die "$sha: no worktree"
	make -s -C "$W/src-$sha" build/release/rostersync >/dev/null ||
	    die "$sha: the build failed"
	cp "$W/src-$sha/build/release/rostersync" "$W/bin-$sha"
	mkdir -p "$W/run-$sha"
	install -m 0600 bench/bench.conf "$W/run-$sha/bench.conf"
	[ "$(run "$sha" "$IN")" != fail ] || die "$sha: the first load failed"
	mv "$W/run-$sha/spool" "$W/run-$sha/day1"
done
: >"$W/times"
for r in $(seq 1 "$ROUNDS"); do
	for t in "${tags[@]}"; do
		echo "$t $(run "$t" "$DAY2")" >>"$W/times"
	done
done
printf '%-12s %8s %16s %6s\n' build median spread runs
for t in "${tags[@]}"; do
	awk -v t="$t" '$1 == t && $2 != "fail" { print $2 }' "$W/times" |
	    sort -n | awk -v t="$t" '{ a[NR] = $1 } END {
		if (NR == 0) { printf "%-12s   every run failed\n", t; exit }
		m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		printf "%-12s %8.3f %7.3f-%-8.3f %6d\n", t, m, a[1], a[NR], NR }'
	f=$(awk -v t="$t" '$1 == t && $2 == "fail"' "$W/times" | wc -l)
	[ "$f" = 0 ] || echo "builds: $t: $f daily runs failed" >&2
done
