#!/bin/bash
# Disk, file-system and security faults: a stale lock never blocks; out of
# space (a file-size limit, small tmpfs file systems under the spool and
# the database); a read-only spool; spool entries replaced by symbolic
# links; configuration and secret file modes; the mode of every file
# rostersync creates; no secret in any log, report or database; SQL
# metacharacters in the data. Each fault must give a clear error, lose
# nothing, and leave the next run fine.
#
# Mounts (tmpfs, read-only binds) and chattr +i need root; without them a
# case falls back (chmod) or is skipped saying why. Whatever was mounted
# or made immutable is undone at exit.
. "$(dirname "$0")/lib.sh"
# The second exports here replace most values of the first on purpose:
# not what the update threshold (t_integrity) is about.
SANDBOX_SETTINGS='max_update_percent = 100;'

qq() { sqlite3 -bail -cmd '.timeout 5000' "$DB" "$1"; }
set_conf() { sed -i "s/^\(\s*\)$1 = [^;]*;/\1$1 = $2;/" "$CONF"; }
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1

MOUNTS="" IMMUTABLE=""
undo_all() {
	local m
	for m in $MOUNTS; do umount -l "$m" 2>/dev/null; done
	for m in $IMMUTABLE; do chattr -i "$m" 2>/dev/null; done
	MOUNTS="" IMMUTABLE=""
}
trap undo_all EXIT

# tmpfs DIR SIZE: a small file system at DIR (root only); 1 if impossible.
tmpfs() {
	[ "$ROOT" = 1 ] || return 1
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0750" tmpfs "$1" 2>/dev/null || return 1
	MOUNTS="$1 $MOUNTS"
}
grow() { mount -o "remount,size=$2" "$1"; }

# ro DIR: make DIR read-only for rostersync; RO_HOW says how. Root is not
# stopped by modes: a read-only bind mount, else chattr +i.
ro() {
	RO_HOW=
	if [ "$ROOT" = 0 ]; then
		chmod 0555 "$1" && RO_HOW=chmod
	elif mount --bind "$1" "$1" 2>/dev/null; then
		if mount -o remount,bind,ro "$1" 2>/dev/null; then
			MOUNTS="$1 $MOUNTS" RO_HOW="read-only bind mount"
		else
			umount "$1"
		fi
	fi
	if [ -z "$RO_HOW" ] && [ "$ROOT" = 1 ] && chattr +i "$1" 2>/dev/null
	then
		IMMUTABLE="$1 $IMMUTABLE" RO_HOW="chattr +i"
	fi
	[ -n "$RO_HOW" ]
}
rw() {
	case $RO_HOW in
	chmod) chmod 0750 "$1";;
	"chattr +i") chattr -i "$1";;
	*) umount "$1";;
	esac
}

# db_outside: the sandbox's database in $SB/db, not under the spool.
db_outside() {
	mkdir -p "$SB/db"
	sed -i 's|^database = .*|database = "db/rostersync.db";|' "$CONF"
	DB=$SB/db/rostersync.db
}
# no_temp: no .part or .tmp left anywhere in the spool.
no_temp() {
	eq "$1: no .part or .tmp left in the spool" \
	    "$(find "$SPOOL" \( -name '*.part' -o -name '*.tmp' \) -print 2>/dev/null)" ""
}

$GEN --rows 50 --seed 1 -o "$TMP/small.csv"
$GEN --mutate "$TMP/small.csv" --seed 2 --update-rate 0.1 -o "$TMP/small2.csv"
$GEN --rows 10000 --seed 3 -o "$TMP/big.csv"

# ------------------------------------------------------------ the lock

# A run killed while it holds the lock (SIGKILL at run.loaded): flock(2)
# dies with the process; the next run, with lock_wait 0, is not blocked.
sandbox stale
set_conf lock_wait 0
drop "$TMP/small.csv" s.csv
{ ROSTERSYNC_FAULT=run.loaded "$ROSTERSYNC" -c "$CONF" run \
    >"$SB/killed.out" 2>&1; } 2>/dev/null
eq "stale lock: the holder was killed (137)" "$?" 137
check "stale lock: the lock file is still there" test -e "$SPOOL/rostersync.lock"
t0=$(date +%s)
rs run >"$SB/after.out" 2>&1
rc=$? took=$(($(date +%s) - t0))
eq "stale lock: the next run is not blocked (exit 0, not 7)" "$rc" 0
check "stale lock: it did not wait (${took}s)" test "$took" -lt 5
eq "stale lock: the file is applied once" \
    "$(qq "SELECT group_concat(status) FROM runs")" "failed,success"
contains "stale lock: the next run names the interrupted run and its log" \
    "$(cat "$SB/after.out")" "(run 1): marked Failed (interrupted); their files run again; why it stopped is in that process's log (under systemd: journalctl -u rostersync RUN=1)"
if command -v flock >/dev/null; then
	# -o: only flock(1) holds the lock, not the sleep it runs
	flock -o "$SPOOL/rostersync.lock" sleep 60 &
	holder=$!
	n=50
	while [ $n -gt 0 ] && flock -n "$SPOOL/rostersync.lock" true; do
		sleep 0.1; n=$((n - 1))
	done
	rs run >"$SB/held.out" 2>&1
	eq "stale lock: while flock(1) holds it, exit 7" "$?" 7
	sleeper=$(pgrep -P $holder)
	kill -9 $holder; wait $holder 2>/dev/null
	[ -n "$sleeper" ] && kill $sleeper 2>/dev/null
	rs run >"$SB/freed.out" 2>&1
	eq "stale lock: once the holder is killed -9, exit 0" "$?" 0
else
	skip "flock(1) is not installed"
fi

# The database held by another connection (an auditor's sqlite3 with
# BEGIN EXCLUSIVE, a backup) past SQLite's busy timeout: the run says so
# once, naming the step and what it skipped, and does nothing; the next
# run, the lock gone, is correct.
sandbox dblocked
drop "$TMP/small.csv" day1.csv
rs run >/dev/null 2>&1
drop "$TMP/small2.csv" day2.csv
before=$(dump)
$PYTHON -c 'import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(120)' "$DB" >"$SB/holder.out" 2>&1 &
holder=$!
n=100
while [ $n -gt 0 ] && ! grep -q held "$SB/holder.out"; do
	sleep 0.1; n=$((n - 1))
done
rs run >"$SB/locked.out" 2>&1
rc=$?
kill $holder; wait $holder 2>/dev/null
eq "database locked: the run fails, exit 1" "$rc" 1
contains "database locked: the step, the cause and what was skipped" \
    "$(cat "$SB/locked.out")" "error: cannot start the run: the database is locked by another process (a backup? sqlite3?) for more than 10 s; nothing was done (no recovery of interrupted runs, no fetch, no run): the next run tries again"
eq "database locked: said once, in one line" \
    "$(grep -c . "$SB/locked.out")" 1
eq "database locked: nothing fetched, the directory unchanged" \
    "$(qq "SELECT count(*) FROM runs"):$(dump | cmp -s - <(echo "$before") && echo same)" \
    "1:same"
check "database locked: the export stays in the drop-zone" test -f "$DROP/day2.csv"
rs run >"$SB/after.out" 2>&1
eq "database free again: the next run succeeds" \
    "$?:$(status_of "$(last_run)"):$(qq "SELECT count(*) FROM runs")" "0:success:2"

# ------------------------------------------------------- out of space

# A file-size limit (ulimit -f) that the spool copy exceeds. With SIGXFSZ
# ignored, write(2) fails with EFBIG: a clear error, nothing half-written.
sandbox efbig
drop "$TMP/small.csv" day1.csv
rs run >/dev/null 2>&1
drop "$TMP/big.csv" day2.csv
before=$(dump)
( trap '' XFSZ; ulimit -f 1024; exec "$ROSTERSYNC" -c "$CONF" run ) \
    >"$SB/efbig.out" 2>&1
eq "file-size limit: the run fails, exit 1" "$?" 1
contains "file-size limit: the error says what and why" \
    "$(cat "$SB/efbig.out")" "day2.csv: cannot write the spool copy: File too large"
no_temp "file-size limit"
eq "file-size limit: nothing queued, the directory unchanged" \
    "$(qq "SELECT count(*) FROM files WHERE name = 'day2.csv'"):$(dump | cmp -s - <(echo "$before") && echo same)" \
    "0:same"
check "file-size limit: the export stays in the drop-zone" test -f "$DROP/day2.csv"
eq "file-size limit: a Failed run of the sync says why" \
    "$(qq "SELECT status, file_name IS NULL FROM runs WHERE id = 2")" "failed|1"
contains "file-size limit: its error" "$(qq "SELECT error FROM runs WHERE id = 2")" \
    "day2.csv: cannot write the spool copy: File too large"
# SIGXFSZ at its default would kill the process (with a core) in the
# middle of a write: main() ignores it, so the same limit is a clean error.
( ulimit -f 1024; exec "$ROSTERSYNC" -c "$CONF" run ) >"$SB/xfsz.out" 2>&1
eq "file-size limit, SIGXFSZ left at its default by the caller: exit 1, not killed" \
    "$?" 1
contains "file-size limit, SIGXFSZ at its default: the same clear error" \
    "$(cat "$SB/xfsz.out")" "day2.csv: cannot write the spool copy: File too large"
rs run >"$SB/after.out" 2>&1
eq "file-size limit lifted: the next run succeeds" "$?:$(status_of "$(last_run)")" "0:success"
no_temp "file-size limit lifted"
cmp -s "$TMP/big.csv" "$SPOOL/archive/hr/$(last_run)-day2.csv"
eq "file-size limit lifted: the export archived intact" "$?" 0

# A spool on a small file system: the copy does not fit (ENOSPC).
sandbox enospc
db_outside
if tmpfs "$SPOOL" 1m; then
	drop "$TMP/small.csv" day1.csv
	rs run >/dev/null 2>&1
	drop "$TMP/big.csv" day2.csv
	before=$(dump)
	rs run >"$SB/full.out" 2>&1
	eq "spool full: the run fails, exit 1" "$?" 1
	contains "spool full: the error says so" "$(cat "$SB/full.out")" \
	    "day2.csv: cannot write the spool copy: No space left on device"
	no_temp "spool full"
	eq "spool full: nothing queued, directory unchanged" \
	    "$(qq "SELECT count(*) FROM files WHERE name = 'day2.csv'"):$(dump | cmp -s - <(echo "$before") && echo same)" \
	    "0:same"
	check "spool full: the export stays in the drop-zone" test -f "$DROP/day2.csv"
	grow "$SPOOL" 64m
	rs run >"$SB/after.out" 2>&1
	eq "spool grown: the next run succeeds" "$?:$(status_of "$(last_run)")" "0:success"
	no_temp "spool grown"
else
	skip "spool full: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)"
fi

# The spool's cache folder full while the load keeps the export's rows
# in a file there: the run records Failed with the cause (which file, the
# disk full), counts nothing applied, and its file runs again.
sandbox cachefull
drop "$TMP/big.csv" day1.csv
if tmpfs "$SPOOL/cache" 64k; then
	rs run >"$SB/full.out" 2>&1
	eq "cache full: the run fails, exit 1" "$?" 1
	eq "cache full: the run is recorded Failed, not left In Progress" \
	    "$(q "SELECT group_concat(status) FROM runs")" failed
	contains "cache full: the run's error names the file and the cause" \
	    "$(q "SELECT error FROM runs WHERE id = 1")" \
	    "cannot write the kept rows' file (the export's rows, kept while the run lasts) in $SPOOL/cache/hr: No space left on device"
	contains "cache full: the log says so, and that nothing was applied" \
	    "$(cat "$SB/full.out")" "in $SPOOL/cache/hr: No space left on device; nothing was applied, the file stays queued"
	eq "cache full: nothing counted as created or impacted" \
	    "$(count_of 1 "n_create || ':' || impacted")" "0:0"
	rs show 1 >"$SB/show.out" 2>&1
	contains "cache full: show gives the cause" "$(cat "$SB/show.out")" \
	    "System error: cannot write the kept rows' file"
	eq "cache full: no users" "$(q "SELECT count(*) FROM users")" 0
	grow "$SPOOL/cache" 64m
	rs run >"$SB/after.out" 2>&1
	eq "cache room again: the next run applies the file" \
	    "$?:$(status_of 2):$(q "SELECT count(*) FROM users WHERE active = 1")" \
	    "0:success:10000"
	eq "cache room again: no run was left to call interrupted" \
	    "$(grep -c interrupted "$SB/after.out")" 0
else
	skip "cache full: cannot mount a tmpfs here"
fi

# Reports on a full file system: the run is applied and says the reports
# could not be written; the next run writes them.
sandbox repfull
if tmpfs "$SPOOL/reports" 16k; then
	drop "$TMP/big.csv" day1.csv
	rs run >"$SB/full.out" 2>&1
	rc=$?
	eq "reports full: the export is applied all the same" \
	    "$(status_of 1):$(q "SELECT count(*) FROM users")" "success:10000"
	contains "reports full: the error names the report and the cause" \
	    "$(cat "$SB/full.out")" "No space left on device"
	eq "reports full: the run is known to lack its reports" \
	    "$(count_of 1 reports_done)" 0
	eq "reports full: the run exits 1 (a system error)" "$rc" 1
	no_temp "reports full"
	grow "$SPOOL/reports" 64m
	rs run >"$SB/after.out" 2>&1
	eq "reports room again: the next run exits 0" "$?" 0
	base=$(q "SELECT report_base FROM runs WHERE id = 1")
	for ext in csv xlsx log; do
		check "reports room again: the .$ext report is written" \
		    test -s "$SPOOL/reports/hr/$base.$ext"
	done
	eq "reports room again: the run has its reports" \
	    "$(count_of 1 reports_done)" 1
else
	skip "reports full: cannot mount a tmpfs here"
fi

# The database on a full file system: nothing is applied, the file stays
# queued, and it is applied once there is room.
sandbox dbfull
db_outside
drop "$TMP/small.csv" day1.csv
rs run >/dev/null 2>&1
cp -a "$SB/db" "$SB/db.saved"
if tmpfs "$SB/db" 1m && cp -a "$SB/db.saved/." "$SB/db/"; then
	before=$(dump)
	drop "$TMP/big.csv" day2.csv
	rs run >"$SB/full.out" 2>&1
	rc=$?
	check "database full: the run fails (exit $rc)" test "$rc" -eq 1
	contains "database full: the error says so" "$(cat "$SB/full.out")" \
	    "database or disk is full"
	contains "database full: the log says why the outcome was not recorded" \
	    "$(cat "$SB/full.out")" "cannot record the outcome in the database: database or disk is full; nothing was applied"
	failed=$(qq "SELECT max(id) FROM runs WHERE file_name = 'day2.csv'")
	eq "database full: the Failed run's error is SQLite's" \
	    "$(qq "SELECT status || ': ' || error FROM runs WHERE id = $failed")" \
	    "failed: cannot record the outcome in the database: database or disk is full"
	eq "database full: the Failed run counts nothing created or impacted" \
	    "$(qq "SELECT n_create || ':' || n_update || ':' || impacted FROM runs WHERE id = $failed")" \
	    "0:0:0"
	eq "database full: the directory is unchanged" "$(dump)" "$before"
	check "database full: the export is kept (queued or in the drop-zone)" \
	    test -n "$(ls "$SPOOL/incoming/hr/" "$DROP/day2.csv" 2>/dev/null)"
	grow "$SB/db" 64m
	rs run >"$SB/after.out" 2>&1
	eq "database room again: the next run succeeds" \
	    "$?:$(qq "SELECT status FROM runs WHERE file_name = 'day2.csv' AND status != 'failed'")" \
	    "0:success"
	eq "database room again: PRAGMA integrity_check" \
	    "$(qq "PRAGMA integrity_check")" ok
	eq "database room again: 10,000 people" \
	    "$(qq "SELECT count(*) FROM users WHERE active = 1")" 10000
	no_temp "database room again"
else
	skip "database full: cannot mount a tmpfs here"
fi

# ---------------------------------------------------- read-only spool

# ro_case NAME DIR-UNDER-SPOOL: day 1 applied, DIR made read-only, day 2
# dropped and run; prints the outcome to check; DIR made writable again.
sandbox rospool
db_outside
drop "$TMP/small.csv" day1.csv
rs run >/dev/null 2>&1
drop "$TMP/small2.csv" day2.csv
before=$(dump)
if ro "$SPOOL"; then
	rs run >"$SB/ro.out" 2>&1
	eq "read-only spool ($RO_HOW): exit 1" "$?" 1
	contains "read-only spool: the error names the lock and the cause" \
	    "$(cat "$SB/ro.out")" "cannot open the lock $SPOOL/./rostersync.lock"
	eq "read-only spool: nothing applied" "$(dump)" "$before"
	check "read-only spool: the export stays in the drop-zone" \
	    test -f "$DROP/day2.csv"
	rw "$SPOOL"
	rs run >"$SB/after.out" 2>&1
	eq "spool writable again: the next run succeeds" \
	    "$?:$(status_of "$(last_run)")" "0:success"
else
	skip "read-only spool: no way to make a directory read-only for root here"
fi

sandbox roincoming
drop "$TMP/small.csv" day1.csv
rs run >/dev/null 2>&1
drop "$TMP/small2.csv" day2.csv
if ro "$SPOOL/incoming/hr"; then
	rs run >"$SB/ro.out" 2>&1
	eq "read-only incoming/ ($RO_HOW): exit 1" "$?" 1
	contains "read-only incoming/: the error names the file" \
	    "$(cat "$SB/ro.out")" "cannot create $SPOOL/incoming/hr/.day2.csv.part"
	eq "read-only incoming/: nothing queued" \
	    "$(qq "SELECT count(*) FROM files WHERE name = 'day2.csv'")" 0
	check "read-only incoming/: the export stays in the drop-zone" \
	    test -f "$DROP/day2.csv"
	rw "$SPOOL/incoming/hr"
	rs run >"$SB/after.out" 2>&1
	eq "incoming/ writable again: the next run succeeds" \
	    "$?:$(status_of "$(last_run)")" "0:success"
else
	skip "read-only incoming/: no way to make it read-only here"
fi

sandbox roreports
drop "$TMP/small.csv" day1.csv
rs run >/dev/null 2>&1
drop "$TMP/small2.csv" day2.csv
if ro "$SPOOL/reports/hr"; then
	rs run >"$SB/ro.out" 2>&1
	rc=$?
	eq "read-only reports/: the export is applied" "$(status_of 2)" success
	contains "read-only reports/: the error names the report" \
	    "$(cat "$SB/ro.out")" "cannot write the report $SPOOL/reports/hr/"
	eq "read-only reports/: the run is known to lack its reports" \
	    "$(count_of 2 reports_done)" 0
	eq "read-only reports/: the run exits 1 (a system error)" "$rc" 1
	rw "$SPOOL/reports/hr"
	rs run >"$SB/after.out" 2>&1
	eq "reports/ writable again: the reports are written" \
	    "$?:$(count_of 2 reports_done)" "0:1"
else
	skip "read-only reports/: no way to make it read-only here"
fi

sandbox roarchive
drop "$TMP/small.csv" day1.csv
rs run >/dev/null 2>&1
drop "$TMP/small2.csv" day2.csv
if ro "$SPOOL/archive/hr"; then
	rs run >"$SB/ro.out" 2>&1
	eq "read-only archive/: the export is applied, exit 1" \
	    "$?:$(status_of 2)" "1:success"
	contains "read-only archive/: the error says which move failed" \
	    "$(cat "$SB/ro.out")" "cannot move $SPOOL/incoming/hr/"
	eq "read-only archive/: the input waits in incoming/" \
	    "$(ls "$SPOOL/incoming/hr" | grep -c 'day2\.csv$')" 1
	rw "$SPOOL/archive/hr"
	rs run >"$SB/after.out" 2>&1
	eq "archive/ writable again: the next run archives it" \
	    "$?:$(ls "$SPOOL/archive/hr" | grep -c '2-day2\.csv$')" "0:1"
	eq "archive/ writable again: the ledger says where it is" \
	    "$(qq "SELECT local FROM files WHERE name = 'day2.csv'")" \
	    "$SPOOL/archive/hr/2-day2.csv"
	eq "archive/ writable again: nothing left in incoming/" \
	    "$(ls -A "$SPOOL/incoming/hr" | wc -l)" 0
else
	skip "read-only archive/: no way to make it read-only here"
fi
undo_all

# -------------------------------------------------- symbolic links

echo "do not touch" >"$TMP/victim.txt"
victim_ok() { [ "$(cat "$TMP/victim.txt")" == "do not touch" ]; }

# The lock replaced by a link: refused, the target untouched.
sandbox linklock
drop "$TMP/small.csv" day1.csv
ln -s "$TMP/victim.txt" "$SPOOL/rostersync.lock"
rs run >"$SB/link.out" 2>&1
eq "lock is a symlink: exit 1" "$?" 1
contains "lock is a symlink: the error names the lock" "$(cat "$SB/link.out")" \
    "cannot open the lock $SPOOL/./rostersync.lock"
check "lock is a symlink: its target is untouched" victim_ok
check "lock is a symlink: the export stays in the drop-zone" test -f "$DROP/day1.csv"
rm "$SPOOL/rostersync.lock"
rs run >/dev/null 2>&1
eq "lock is a file again: the next run succeeds" "$?:$(status_of 1)" "0:success"

# A queued input replaced by a link to another file: never read through
# the link (O_NOFOLLOW); the run fails to load it, the target stays.
sandbox linkinput
drop "$TMP/small.csv" day1.csv
rs fetch >/dev/null 2>&1
f=$(ls "$SPOOL"/incoming/hr/*day1.csv)
rm "$f"
ln -s "$TMP/victim.txt" "$f"
rs run >"$SB/link.out" 2>&1
eq "queued input is a symlink: Data Load Failed, exit 4" "$?:$(status_of 1)" \
    "4:data_load_failed"
contains "queued input is a symlink: the error says so" \
    "$(q "SELECT error FROM runs WHERE id = 1")" \
    "day1.csv: cannot open: it is a symbolic link"
check "queued input is a symlink: its target is untouched and in place" victim_ok
eq "queued input is a symlink: nothing applied" "$(q "SELECT count(*) FROM users")" 0
drop "$TMP/small2.csv" day2.csv
rs run >/dev/null 2>&1
eq "after the symlink: the next export runs" "$?:$(status_of 2)" "0:success"

# Spool directories replaced by links to a directory elsewhere: nothing
# may be written there (a link is refused), nothing lost, next run fine.
# link_dir NAME KIND: SPOOL/KIND/hr -> $TMP/NAME.elsewhere before day 1.
link_dir() {
	local name=$1 kind=$2
	sandbox "$name"
	mkdir -p "$TMP/$name.elsewhere" "$SPOOL/$kind"
	ln -s "$TMP/$name.elsewhere" "$SPOOL/$kind/hr"
	drop "$TMP/small.csv" day1.csv
	rs run >"$SB/link.out" 2>&1
	RC=$?
	eq "$kind/hr is a symlink: nothing written through it" \
	    "$(ls -A "$TMP/$name.elsewhere")" ""
	contains "$kind/hr is a symlink: the error says so" \
	    "$(cat "$SB/link.out")" "symbolic link"
	rm "$SPOOL/$kind/hr"
	rs run >"$SB/after.out" 2>&1
	eq "$kind/hr a directory again: the export is applied" \
	    "$?:$(q "SELECT count(*) FROM users WHERE active = 1")" "0:50"
}
link_dir linkincoming incoming
check "incoming/hr is a symlink: the run fails (exit $RC)" test "$RC" -ne 0
link_dir linkreports reports
link_dir linkarchive archive

# ---------------------------------------------- configuration modes

sandbox confmode
drop "$TMP/small.csv" day1.csv
chmod 0646 "$CONF"
rs run >"$SB/mode.out" 2>&1
eq "config writable by others: refused, exit 3" "$?" 3
contains "config writable by others: the error says how to fix it" \
    "$(cat "$SB/mode.out")" "$CONF: the file is writable by others; chmod o-w it"
rs check-config >"$SB/check.out" 2>&1
eq "config writable by others: check-config fails too (exit 3)" "$?" 3
eq "config writable by others: nothing done" "$(ls "$SPOOL")" ""
chmod 0640 "$CONF"
printf 'schedule = "*:0/15";\n' >"$SB/extra.conf"
chmod 0666 "$SB/extra.conf"
sed -i '1i @include "extra.conf"' "$CONF"
rs run >"$SB/inc.out" 2>&1
eq "an included file writable by others: refused, exit 3" "$?" 3
contains "an included file writable by others: named" "$(cat "$SB/inc.out")" \
    "$SB/extra.conf: the file is writable by others"
chmod 0640 "$SB/extra.conf"
rs run >/dev/null 2>&1
eq "config modes fixed: the run succeeds" "$?:$(status_of 1)" "0:success"

# ------------------------------------------- files rostersync creates

# Whatever the caller's umask, main() sets 027: files at most 0640,
# directories at most 0750 (the sandbox's own spool/ and drop/ aside).
sandbox modes 'reports_remote = "reports";'
drop "$TMP/small.csv" day1.csv
(umask 000; exec "$ROSTERSYNC" -c "$CONF" run) >/dev/null 2>&1
drop "$TMP/small2.csv" day2.csv
printf 'employee_id,email\n' >"$TMP/bad.csv"
drop "$TMP/bad.csv" day3.csv
(umask 000; exec "$ROSTERSYNC" -c "$CONF" run) >/dev/null 2>&1
eq "modes: three runs (success, success, data load failed)" \
    "$(q "SELECT group_concat(status) FROM runs")" \
    "success,success,data_load_failed"
eq "modes: no file made by rostersync is more open than 0640" \
    "$(find "$SPOOL" "$DROP/reports" -mindepth 1 -type f \
    -perm /0137 -printf '%m %p\n' 2>/dev/null)" ""
eq "modes: no directory made by rostersync is more open than 0750" \
    "$(find "$SPOOL" "$DROP/processed" "$DROP/reports" -mindepth 1 -type d \
    -perm /0027 -printf '%m %p\n' 2>/dev/null)" ""
check "modes: the reports are there to check" \
    test "$(find "$SPOOL/reports" -type f | wc -l)" -ge 7
check "modes: the reports were published to the drop-zone" \
    test "$(find "$DROP/reports" -type f 2>/dev/null | wc -l)" -ge 1

# ---------------------------------------- SQL metacharacters in data

sandbox sqlchars
printf '%s\n' "employee_id,email,first_name,last_name,department" \
    "\"E1'); DROP TABLE users;--\",a@x.org,Robert'); DROP TABLE runs;--,\"O'Brien\",\"R&D' OR '1'='1\"" \
    "E2,b@x.org,\"Semi;colon\",\"Q\"\"uote\",\"%s %n %x\"" >"$TMP/sql.csv"
drop "$TMP/sql.csv" sql.csv
rs run >"$SB/sql.out" 2>&1
eq "SQL metacharacters: applied, exit 0" "$?" 0
eq "SQL metacharacters: the keys are stored as written" \
    "$(q "SELECT key FROM users ORDER BY key")" "E1'); DROP TABLE users;--
E2"
eq "SQL metacharacters: the values too" \
    "$(q "SELECT json_extract(fields, '\$.last_name') || '|' || json_extract(fields, '\$.department') FROM users ORDER BY key")" \
    "O'Brien|R&D' OR '1'='1
Q\"uote|%s %n %x"
eq "SQL metacharacters: every table is still there" \
    "$(q "SELECT count(*) FROM sqlite_master WHERE name IN ('users', 'runs', 'items')")" 3
rs items 1 --user "O'Brien" >"$SB/items.out" 2>&1
eq "SQL metacharacters: a quote in a search is only text" "$?" 0

# ------------------------------------------------------------ secrets

. "$(dirname "$0")/sshd.sh"
if ! sshd_usable; then
	skip "secrets over SFTP: needs root, $SSHD and ssh-keygen"
	finish
fi
sshd_setup "$TMP/sshd"
trap 'undo_all; sshd_stop' EXIT
if ! sshd_start; then
	not_ok "sshd starts on 127.0.0.1" "$(tail -5 "$SSHD_DIR/sshd.log")"
	finish
fi
# sftp_sandbox NAME AUTH: a sync reading INBOX on the test sshd; AUTH is
# what goes in its sftp group beside known_hosts.
sftp_sandbox() {
	sandbox "$1"
	INBOX=$SB/remote/inbox KH=$SB/known_hosts
	mkdir -p "$INBOX"
	echo "$KNOWN_LINE" >"$KH"
	sed -i "s|^\tsource = \"dir:drop\";|\tsource = \"sftp://root@127.0.0.1:\
$SSHD_PORT$INBOX\";\n\tsftp = { known_hosts = \"$KH\"; $2 timeout = 5; \
retries = 0; };|" "$CONF"
	cp "$TMP/small.csv" "$INBOX/day1.csv"
	touch -d '-1 hour' "$INBOX/day1.csv"
}
# leaked SECRET: where the secret appears (spool, database, output).
leaked() {
	grep -rlaF -- "$1" "$SB" "$TMP"/*.out 2>/dev/null |
	    grep -v -e "/secret" -e "/rostersync.conf$" -e "/passphrase$"
}

# Secret files that group or others may read are refused.
cp "$CLIENT_KEY" "$TMP/key"
chmod 0640 "$TMP/key"
sftp_sandbox keymode "identity = \"$TMP/key\";"
rs run >"$SB/out" 2>&1
eq "identity readable by the group: refused, exit 1" "$?" 1
contains "identity readable by the group: the error says how to fix it" \
    "$(cat "$SB/out")" "readable by group or others (mode 0640); run chmod 600 $TMP/key"
eq "identity readable by the group: nothing fetched" \
    "$(q "SELECT count(*) FROM files")" 0
chmod 0600 "$TMP/key"
rs run >/dev/null 2>&1
eq "identity 0600: the run succeeds" "$?:$(status_of "$(last_run)")" "0:success"

SECRET="pw-$RANDOM-$RANDOM-correct-horse"
printf '%s\n' "$SECRET" >"$TMP/secret"
chmod 0604 "$TMP/secret"
sftp_sandbox pwmode "password_file = \"$TMP/secret\";"
rs run >"$SB/out" 2>&1
eq "password file readable by others: refused, exit 1" "$?" 1
contains "password file readable by others: named with its mode" \
    "$(cat "$SB/out")" "refusing the password file $TMP/secret: it is readable by group or others (mode 0604)"
chmod 0600 "$TMP/secret"
rs -v run >"$SB/verbose.out" 2>&1
eq "password file 0600, the server refuses passwords: exit 1" "$?" 1
rs -v history >>"$SB/verbose.out" 2>&1
rs -v show 1 >>"$SB/verbose.out" 2>&1
eq "the password is in no log, report, database or output" \
    "$(leaked "$SECRET")" ""

# A password inline in the source URL is refused, and not repeated.
sandbox inline
sed -i "s|source = \"dir:drop\";|source = \"sftp://root:$SECRET@127.0.0.1:$SSHD_PORT/in\"; sftp = { known_hosts = \"$SB/kh\"; identity = \"$TMP/key\"; };|" "$CONF"
rs check-config >"$SB/out" 2>&1
eq "a password in the source URL: refused, exit 3" "$?" 3
contains "a password in the source URL: the error says where to put it" \
    "$(cat "$SB/out")" "source must not hold a password"
check "a password in the source URL: not repeated in the error" \
    test "$(grep -cF -- "$SECRET" "$SB/out")" -eq 0

# A key with a passphrase in a file: the run succeeds; the passphrase
# appears nowhere.
PASS="pp-$RANDOM-$RANDOM-battery-staple"
ssh-keygen -q -t ed25519 -N "$PASS" -f "$TMP/locked_key"
cat "$TMP/locked_key.pub" >>"$SSHD_DIR/authorized_keys"
printf '%s\n' "$PASS" >"$TMP/passphrase"
chmod 0644 "$TMP/passphrase"
sftp_sandbox pass "identity = \"$TMP/locked_key\"; passphrase_file = \"$TMP/passphrase\";"
rs run >"$SB/out" 2>&1
eq "passphrase file readable by others: refused, exit 1" "$?" 1
contains "passphrase file readable by others: named" "$(cat "$SB/out")" \
    "$TMP/passphrase: it is readable by group or others (mode 0644)"
chmod 0600 "$TMP/passphrase"
rs -v run >"$SB/verbose.out" 2>&1
eq "passphrase file 0600: the run succeeds" "$?:$(status_of "$(last_run)")" "0:success"
rs -v history >>"$SB/verbose.out" 2>&1
rs report 1 --format csv >>"$SB/verbose.out" 2>&1
eq "the passphrase is in no log, report, database or output" \
    "$(leaked "$PASS")" ""

finish
