#!/bin/bash
# The bytes the bench's daily run writes, by file kind: the run under
# strace -ff -y (every write, pwrite64, writev, pwritev, pwritev2,
# copy_file_range, sendfile and splice, each with the file it went to),
# summed for the database, its WAL, the spool's cache (the key snapshot,
# the known lines, the kept rows), the reports (their temporary files
# too), the input's copy into the spool, and the rest; then which B-trees
# the checkpoint's pages belong to (its pwrite64 offsets, named by the
# final database's dbstat).
#
# /proc/PID/io is not enough: wchar is one number for every file, the
# input's copy_file_range counted in it, and it must be read before the
# process ends.
#
#   bench/writes.sh [DAY1]
#
# DAY1 is a spool holding the first load of the day-1 export (make
# bench passes its own); without it the first load is made here first,
# untraced. The daily run's counts are checked against the generator's
# truth. Prints a table, then one line beginning "writes:" (make bench
# shows it); exits 1 when a run fails or its counts are wrong (a target
# missed is printed, not fatal).
#
# Environment: BUILD (build/release), RS (the binary, $BUILD/rostersync),
# BENCH_ROWS (1000000), WRITES_DIR (bench/cache/writes; removed at the
# end unless WRITES_KEEP=1), WRITES_NEXT and WRITES_TRUTH (another next
# day and its --truth: a later day, from the directory DAY1 holds).
# Needs strace and the sqlite3 shell (make deps-test), and the bench's
# inputs in bench/cache (make bench makes them).
set -u
# paths given are the caller's: made absolute before the cd
abs() { [ -z "$1" ] || realpath -- "$1"; }
DAY1=$(abs "${1:-}")
WRITES_NEXT=$(abs "${WRITES_NEXT:-}")
WRITES_TRUTH=$(abs "${WRITES_TRUTH:-}")
cd "$(dirname "$0")/.."
TOP=$PWD
RS=${RS:-$TOP/${BUILD:-build/release}/rostersync}
ROWS=${BENCH_ROWS:-1000000}
CACHE=$TOP/bench/cache
W=${WRITES_DIR:-$CACHE/writes}
LIMIT_MB=250	# the target: bytes of write calls per daily run

die() { echo "writes: $*" >&2; exit 1; }
command -v strace >/dev/null || die "strace is missing (make deps-test)"
command -v sqlite3 >/dev/null || die "the sqlite3 shell is missing"
[ -x "$RS" ] || die "$RS is missing (make)"
IN=$(ls "$CACHE"/*-"$ROWS"-day1.csv 2>/dev/null | head -1)
DAY2=${WRITES_NEXT:-${IN%-day1.csv}-day2.csv}
TRUTH=${WRITES_TRUTH:-${IN%-day1.csv}-day2.json}
[ -n "$DAY1" ] || [ -n "$IN" ] ||
    die "no $ROWS-row export in $CACHE (make bench once)"
[ -s "$DAY2" ] && [ -s "$TRUTH" ] || die "$DAY2 or its truth is missing"

rm -rf "$W"
mkdir -p "$W/drop" "$W/trace"
install -m 0600 bench/bench.conf "$W/bench.conf"
# settle FILE NAME: an export into the drop-zone, old enough to be taken
settle() {
	cp "$1" "$W/drop/$2"
	touch -d '-1 hour' "$W/drop/$2"
}
truth() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
	    "$TRUTH" "$1"
}

if [ -n "$DAY1" ]; then
	[ -s "$DAY1/rostersync.db" ] || die "$DAY1 holds no database"
	cp -a "$DAY1" "$W/spool"
else
	echo "writes: the first load of $(basename "$IN") (untraced)" >&2
	mkdir -p "$W/spool"
	settle "$IN" day1.csv
	(cd "$W" && "$RS" -c bench.conf -q run) || die "the first load failed"
	rm -rf "$W"/spool/archive/*/* "$W"/drop/*
fi
settle "$DAY2" day2.csv
sync
(cd "$W" && strace -ff -y -s 0 -o "$W/trace/t" -e \
    trace=write,pwrite64,writev,pwritev,pwritev2,copy_file_range,sendfile,splice \
    "$RS" -c bench.conf -q run) || die "the daily run failed"

db=$W/spool/rostersync.db
run=$(sqlite3 "$db" "SELECT max(id) FROM runs")
got=$(sqlite3 "$db" "SELECT status, n_create, n_update, n_manager, n_delete \
FROM runs WHERE id = $run" | tr '|' ' ')
want="success $(truth creates) $(truth updates) $(truth manager_changes) $(truth deletes)"
[ "$got" = "$want" ] || die "run $run: got '$got', want '$want'"
changed=$(($(truth creates) + $(truth deletes) + $(truth changed_rows)))

# Each call's bytes to the kind of file they went to (a copy's: its
# destination), by the file's path in the spool; a temporary file
# (unlinked, or made with O_TMPFILE: "#inode") with its folder's kind,
# and counted apart too. Sums in $W/sums (kind, bytes, calls, of them to
# temporary files); the offsets of pwrite64 into the database (the
# checkpoints) in $W/ckpt.
: >"$W/ckpt"
cat "$W"/trace/t.* | awk -v spool="$W/spool" -v ckpt="$W/ckpt" '
function kind(p) {
	if (p == spool "/rostersync.db") return "database"
	if (p == spool "/rostersync.db-wal") return "WAL"
	if (p == spool "/rostersync.db-journal") return "journal"
	if (index(p, spool "/cache/") == 1) return "snapshot files"
	if (index(p, spool "/reports/") == 1) return "reports"
	if (index(p, spool "/incoming/") == 1) return "input copy"
	return "other"
}
{
	call = $0; sub(/\(.*/, "", call)
	n = $NF
	if (n !~ /^[0-9]+$/) next		# an error, or no result
	# the fds with their paths, in order: fd<path>
	s = $0; k = 0
	while (match(s, /[0-9]+<[^>]*>/)) {
		p[++k] = substr(s, RSTART, RLENGTH)
		s = substr(s, RSTART + RLENGTH)
	}
	if (k == 0) next
	dst = (call == "copy_file_range" || call == "splice") && k >= 2 ? p[2] : p[1]
	sub(/^[0-9]+</, "", dst); sub(/>$/, "", dst)
	tmp = dst ~ /\/#[0-9]+$/ || $0 ~ />\(deleted\)/ || dst ~ /\/tmp\.[^\/]*$/
	kd = kind(dst)
	if (call ~ /^(copy_file_range|sendfile|splice)$/)
		kd = "copied: " kd	# not a write call
	bytes[kd] += n; calls[kd]++
	if (tmp) tbytes[kd] += n
	if (call == "pwrite64" && kd == "database") {
		off = $0; sub(/.*, /, "", off); sub(/\).*/, "", off)
		print off > ckpt
	}
}
END {
	for (k in bytes)
		printf "%s\t%d\t%d\t%d\n", k, bytes[k], calls[k], tbytes[k]
}' >"$W/sums"

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }
val() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c; f = 1 }
    END { if (!f) print 0 }' "$W/sums"; }
total=0 temps=0
printf '\nbytes written by the daily run (%s rows, %s users changed; %s):\n' \
    "$ROWS" "$changed" "$("$RS" version 2>/dev/null | head -1)"
printf '  %-34s %10s %9s\n' "file kind" "MB" "calls"
line=
for k in database WAL journal "snapshot files" reports "input copy" other; do
	b=$(val "$k" 2)
	[ "$b" = 0 ] && case $k in journal|"input copy") continue;; esac
	total=$((total + b))
	t=$(val "$k" 4)
	temps=$((temps + t))
	note=
	[ "$t" != 0 ] && note=" (temporary files $(mb "$t") MB)"
	printf '  %-34s %10s %9s%s\n' "$k" "$(mb "$b")" "$(val "$k" 3)" "$note"
	line="$line, $k $(mb "$b")"
done
printf '  %-34s %10s\n' "every write call" "$(mb "$total")"
copied=$(val "copied: input copy" 2)
printf '  %-34s %10s %9s\n' "the input's copy (copy_file_range)" \
    "$(mb "$copied")" "$(val "copied: input copy" 3)"

# The pages the checkpoints wrote into the database, by B-tree (a page
# freed since is on the free list).
ps=$(sqlite3 "$db" "PRAGMA page_size")
walb=$(val WAL 2)
printf '  the WAL: about %d frames of %d bytes; the checkpoints: %d pages,' \
    $((walb / (ps + 24))) "$ps" "$(wc -l <"$W/ckpt")"
printf ' %d of them distinct, in %d pages of the page cache (%d bytes:' \
    "$(sort -u "$W/ckpt" | wc -l)" "$(awk -v k="$(getconf PAGESIZE)" \
    '!b[int($1 / k)]++ { n++ } END { print n + 0 }' "$W/ckpt")" \
    "$(getconf PAGESIZE)"
printf ' what the kernel writes back); by B-tree:\n'
sqlite3 -separator ' ' "$db" "SELECT pageno, name, pagetype FROM dbstat" |
    awk -v ps="$ps" -v ckpt="$W/ckpt" 'BEGIN {
	while ((getline off < ckpt) > 0) pg[int(off / ps) + 1] = 1
	for (k in pg) left++ }
	($1 in pg) { n[$2 " (" $3 ")"]++; left-- }
	END { for (k in n) printf "    %8d %s\n", n[k], k
	    if (left) printf "    %8d (free list)\n", left }' |
    sort -rn | head -14

verdict=ok
[ "$total" -le $((LIMIT_MB * 1000000)) ] || verdict=MISSED
echo "writes: $(mb "$total") MB by write calls (target <= $LIMIT_MB) $verdict" \
    "(${line#, }; of them to temporary files $(mb "$temps");" \
    "the input's copy $(mb "$copied") MB by copy_file_range, not counted)"
[ "${WRITES_KEEP:-0}" = 1 ] || rm -rf "$W"
