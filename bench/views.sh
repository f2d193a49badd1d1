#!/bin/bash
# The interactive views on a million users: make bench's "views" section
# (bench/run.sh sources this file and calls views_bench on its directory),
# or alone: `bash bench/views.sh` (BENCH_ROWS, default 1000000).
#
# Each command is timed 5 times, warm, and the median counts:
#   on the directory the bench's daily run leaves (1M users, two runs):
#     user EMAIL, users --email EMAIL, users --page ROWS/25 (40000),
#     items RUN --user EMAIL (RUN the daily run), status;
#   on 1,000 syncs of ROWS/1,000 users each (a provider's many small
#   tenants: the day-1 export cut in 1,000, each run by its own sync):
#     users, users --page ROWS/25, user EMAIL, status.
# Targets: 0.15 s each, status 0.3 s.
#
# Alone, it makes what it needs in bench/cache/views/ (removed after
# unless BENCH_KEEP=1) from the exports bench/run.sh cached
# (bench/cache/gen_hr-ROWS-day{1,2}.csv, or genexport-*; CACHE=DIR looks
# elsewhere). RS is the program timed (default build/release/rostersync):
# an older build gives the numbers before.

# views_times CMD...: 5 wall times of CMD in seconds, after a warm run.
views_times() {
	local i t0

	"$@" >/dev/null 2>&1	# warm: the pages it reads in the cache
	for i in 1 2 3 4 5; do
		t0=$EPOCHREALTIME
		"$@" >/dev/null 2>&1
		awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }'
	done
}
# views_time CMD...: their median.
views_time() { views_times "$@" | sort -n | sed -n 3p; }

VIEWS_OUT=()
# views_case NAME TARGET CMD...: timed, printed, kept for the table.
views_case() {
	local name=$1 target=$2 ts w v
	shift 2
	ts=$(views_times "$@" | tr '\n' ' ')
	w=$(printf '%s\n' $ts | sort -n | sed -n 3p)
	v=$(awk -v w="$w" -v t="$target" 'BEGIN { print (w <= t ? "ok" : "MISSED") }')
	VIEWS_OUT+=("$(printf '  %-44s %7s s  (target <= %s)  %s' "$name" "$w" \
	    "$target" "$v")")
	printf 'bench: views: %s: %s s (median of 5: %s)\n' "$name" "$w" \
	    "$ts" >&2
	# in bench/run.sh: a row of its table too (the 5 times as rounds)
	if declare -p WALLS >/dev/null 2>&1; then
		names+=("$name")
		WALLS[$name]=$ts RSS[$name]=-
	fi
}

# views_bench RS CONF DB ROWS: the five commands on a 1M directory.
views_bench() {
	local rs=$1 conf=$2 db=$3 rows=$4 email run page
	email=$(sqlite3 "$db" "SELECT email FROM users WHERE key = \
'$(printf 'E%07d' $((rows / 2)))'")
	run=$(sqlite3 "$db" "SELECT max(run_id) FROM items")
	page=$((rows / 25))
	views_case "user EMAIL" 0.15 "$rs" -c "$conf" user "$email"
	views_case "users --email EMAIL" 0.15 "$rs" -c "$conf" users \
	    --email "$email"
	views_case "users --page $page" 0.15 "$rs" -c "$conf" users \
	    --page "$page"
	views_case "items $run --user EMAIL" 0.15 "$rs" -c "$conf" items \
	    "$run" --user "$email"
	views_case "status" 0.3 "$rs" -c "$conf" status
}

# views_tenants RS DIR DAY1 ROWS: 1,000 syncs of ROWS/1,000 users in DIR
# (the day-1 export cut in 1,000, managers kept inside each), then the
# commands on them.
views_tenants() {
	local rs=$1 dir=$2 day1=$3 rows=$4 n=1000 email page
	rm -rf "$dir"
	mkdir -p "$dir/spool"
	python3 - "$day1" "$dir" "$n" <<'EOF' || return 1
import csv, os, sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f))
h, body = rows[0], rows[1:]
k, m = h.index("employee_id"), h.index("manager_id")
per = max(1, len(body) // n)
conf = ['database = "spool/rostersync.db";', 'spool = "spool";',
        'timezone = "UTC";', "syncs = ("]
for t in range(n):
    part = body[t * per:(t + 1) * per]
    ids = {r[k] for r in part}
    for r in part:
        if r[m] not in ids:
            r[m] = ""
    d = os.path.join(out, "drop", "t%04d" % t)
    os.makedirs(d)
    with open(os.path.join(d, "export.csv"), "w", newline="",
              encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([h] + part)
    conf.append('\t{ name = "t%04d"; source = "dir:drop/t%04d"; '
                'settle_seconds = 0; key = "employee_id"; }%s'
                % (t, t, "," if t < n - 1 else ""))
conf.append(");")
with open(os.path.join(out, "tenants.conf"), "w") as f:
    f.write("\n".join(conf) + "\n")
EOF
	chmod 0600 "$dir/tenants.conf"
	find "$dir/drop" -name export.csv -exec touch -d '-1 hour' {} +
	say_views "loading $n syncs of $((rows / n)) users"
	(cd "$dir" && "$rs" -c tenants.conf run >run.out 2>&1)
	say_views "$(sqlite3 "$dir/spool/rostersync.db" "SELECT count(*) || \
' users in ' || count(DISTINCT sync) || ' syncs' FROM users")"
	email=$(sqlite3 "$dir/spool/rostersync.db" "SELECT email FROM users \
WHERE sync = 't0500' LIMIT 1")
	page=$((rows / 25))
	views_case "1,000 syncs: users" 0.15 "$rs" -c "$dir/tenants.conf" users
	views_case "1,000 syncs: users --page $page" 0.15 "$rs" \
	    -c "$dir/tenants.conf" users --page "$page"
	views_case "1,000 syncs: user EMAIL" 0.15 "$rs" \
	    -c "$dir/tenants.conf" user "$email"
	views_case "1,000 syncs: status" 0.3 "$rs" -c "$dir/tenants.conf" status
}

say_views() { printf 'bench: views: %s\n' "$*" >&2; }

# The table of the section, beside the targets.
views_table() {
	echo "views (median of 5, warm):"
	printf '%s\n' "${VIEWS_OUT[@]}"
}

# --------------------------------------------------------- alone
if [ "${BASH_SOURCE[0]}" == "$0" ]; then
	set -u
	cd "$(dirname "$0")/.." || exit 1
	ROWS=${BENCH_ROWS:-1000000}
	RS=${RS:-$PWD/build/release/rostersync}
	CACHE=${CACHE:-$PWD/bench/cache}
	W=$PWD/bench/cache/views
	day1= day2=
	for g in gen_hr genexport; do
		if [ -s "$CACHE/$g-$ROWS-day1.csv" ]; then
			day1=$CACHE/$g-$ROWS-day1.csv
			day2=$CACHE/$g-$ROWS-day2.csv
			break
		fi
	done
	[ -n "$day1" ] || { say_views "no $CACHE/*-$ROWS-day1.csv:" \
	    "run make bench (BENCH_ROWS=$ROWS) once"; exit 1; }
	[ -x "$RS" ] || { say_views "$RS is missing"; exit 1; }
	rm -rf "$W"
	mkdir -p "$W/drop" "$W/spool"
	install -m 0600 bench/bench.conf "$W/bench.conf"
	say_views "$ROWS users: day 1 and day 2 ($("$RS" version | head -1))"
	for d in "$day1" "$day2"; do
		cp "$d" "$W/drop/"
		touch -d '-1 hour' "$W/drop/$(basename "$d")"
		(cd "$W" && "$RS" -c bench.conf run >>run.out 2>&1) ||
		    { say_views "a run failed: $W/run.out"; exit 1; }
	done
	views_bench "$RS" "$W/bench.conf" "$W/spool/rostersync.db" "$ROWS"
	rm -rf "$W/spool" "$W/drop"
	views_tenants "$RS" "$W/tenants" "$day1" "$ROWS"
	echo
	views_table
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"
fi
