# Helpers for the shell tests: TAP output, a sandbox per test (config,
# spool, drop-zone, database), and shortcuts to run rostersync and query
# its database. Sourced by tests/t_*.sh; TMP is the test's scratch dir.
set -u
# Run alone (not by run.sh, which gives TMP and removes it), a test
# makes its own scratch dir and removes it when every check passed.
if [ -z "${TMP:-}" ]; then
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/rostersync-test.XXXXXX")
	TMP_MADE=1
fi
mkdir -p "$TMP"
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
ROSTERSYNC=${ROSTERSYNC:-$TOP/build/release/rostersync}
PYTHON=${PYTHON:-/usr/bin/python3}
GEN="$PYTHON $TOP/tests/genexport.py"
SHARED_GEN=$TOP/../shared/bench/gen_hr.py
tap_n=0 tap_failed=0

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
not_ok() {
	tap_n=$((tap_n + 1)); tap_failed=1
	echo "not ok $tap_n - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | head -20 | sed 's/^/# /'
	return 0
}
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else
		not_ok "$1" "got:  $2
want: $3"; fi
}
contains() {
	if printf '%s' "$2" | grep -qF -- "$3"; then ok "$1"; else
		not_ok "$1" "'$3' not in: $2"; fi
}
finish() {
	if [ -n "${TMP_MADE:-}" ] && [ "$tap_failed" = 0 ]; then
		rm -rf "$TMP"
	elif [ -n "${TMP_MADE:-}" ]; then
		echo "# scratch kept: $TMP"
	fi
	exit $tap_failed
}

# sandbox NAME [SETTINGS]: a config with one sync "hr" reading a drop-zone;
# SETTINGS are extra lines inside the sync, after SANDBOX_SETTINGS (which
# a script sets for all its sandboxes). Sets SB, CONF, DB, DROP, SPOOL.
sandbox() {
	SB=$TMP/$1
	rm -rf "$SB"
	mkdir -p "$SB/drop" "$SB/spool"
	CONF=$SB/rostersync.conf DB=$SB/spool/rostersync.db
	DROP=$SB/drop SPOOL=$SB/spool
	cat >"$CONF" <<CONF
database = "spool/rostersync.db";
spool = "spool";
timezone = "UTC";
lock_wait = 5;
syncs = ( {
	name = "hr";
	source = "dir:drop";
	settle_seconds = 0;
	key = "employee_id";
	required = [ "employee_id", "email", "last_name" ];
	${SANDBOX_SETTINGS:-}
	${2:-}
} );
CONF
	chmod 0640 "$CONF"
}

rs() { "$ROSTERSYNC" -c "$CONF" "$@"; }
q() { sqlite3 -bail "$DB" "$1"; }
# The directory, every column that matters, in key order.
dump() {
	sqlite3 "$DB" "SELECT sync,key,email,name,manager,team,active,hash,\
fields FROM users ORDER BY sync,key" 2>/dev/null
}
# drop FILE [NAME]: put an export in the drop-zone, settled (an hour old).
drop() {
	local dest=$DROP/${2:-$(basename "$1")}
	cp "$1" "$dest"
	touch -d '-1 hour' "$dest"
}
last_run() { q "SELECT max(id) FROM runs"; }
# rerun BASE FILE OUT: the sandbox put back to the copy BASE, the shell
# code in $prep run in it, FILE dropped as day2.csv and run (output in OUT).
rerun() {
	rm -rf "$SB"
	cp -a "$1" "$SB"
	eval "${prep:-:}"
	drop "$2" day2.csv
	rs run >"$3" 2>&1
}
# The items, changes and issues of run $1 and its outcome, to compare.
run_dump() {
	q "SELECT seq, type, status, key, email, name, team FROM items
	    WHERE run_id = $1 ORDER BY seq;
	   SELECT seq, n, field, old, new FROM changes WHERE run_id = $1
	    ORDER BY seq, n;
	   SELECT seq, type, row, key, field, message FROM issues
	    WHERE run_id = $1 ORDER BY seq;
	   SELECT status, rows, n_create, n_update, n_manager, n_delete,
	    skipped, active_before FROM runs WHERE id = $1"
}
status_of() { q "SELECT status FROM runs WHERE id = $1"; }
count_of() { q "SELECT $2 FROM runs WHERE id = $1"; }
# The counts the store keeps (users per sync and per email page, items
# done per run) that differ from a recount: 0 when they are right.
counts_off() {
	sqlite3 -bail -cmd '.timeout 5000' "$DB" "
	WITH d(sync, users, active) AS (SELECT sync, count(*), sum(active)
	    FROM users GROUP BY sync),
	p(prefix, sync, n) AS (SELECT substr(ifnull(email, ''), 1, 2), sync,
	    count(*) FROM users GROUP BY 1, 2)
	SELECT (SELECT count(*) FROM (SELECT * FROM dircount WHERE users > 0
	    EXCEPT SELECT * FROM d)) + (SELECT count(*) FROM (SELECT * FROM d
	    EXCEPT SELECT * FROM dircount)) + (SELECT count(*) FROM (SELECT *
	    FROM dirpages WHERE n > 0 EXCEPT SELECT * FROM p)) + (SELECT
	    count(*) FROM (SELECT * FROM p EXCEPT SELECT * FROM dirpages)) +
	    (SELECT count(*) FROM runs WHERE n_done != (SELECT count(*) FROM
	    items WHERE run_id = runs.id AND status IN ('applied',
	    'confirmed')))"
}

# wait_for PID SECONDS: PID's exit status, or 124 after SECONDS (it is
# killed then).
wait_for() {
	local pid=$1 n=$(($2 * 10))
	while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}

# paused POINT[:N] OUT ACTION...: a run (rostersync $rs_opts -c $CONF
# $args, default run) paused at POINT the Nth time while ACTION runs, then
# let go. Its output in OUT, its exit status in prc; pause_seen says
# whether it did pause. Variables set for the call reach the run.
paused() {
	local point=$1 out=$2 marker=$SB/paused pid n
	shift 2
	rm -f "$marker"
	ROSTERSYNC_PAUSE=$point ROSTERSYNC_PAUSE_FILE=$marker \
	    "$ROSTERSYNC" ${rs_opts:-} -c "$CONF" ${args:-run} >"$out" 2>&1 &
	pid=$!
	for n in $(seq 1 300); do	# 30 s at most
		[ -e "$marker" ] || ! kill -0 $pid 2>/dev/null && break
		sleep 0.1
	done
	pause_seen=no
	if [ -e "$marker" ]; then
		pause_seen=yes
		"$@"
	fi
	rm -f "$marker"
	wait_for $pid 60
	prc=$?
}
