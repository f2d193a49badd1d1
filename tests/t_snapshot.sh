#!/bin/bash
# The key snapshot (src/snapshot.c): a run reads the directory's keys from
# spool/cache/hr/directory.keys when it carries the directory's version and
# nonce, else from the users table, and both give the same run. A torn,
# corrupt, stale or foreign file is never believed; a run that dies before
# its commit leaves a file the next run refuses.
. "$(dirname "$0")/lib.sh"

SNAP=spool/cache/hr/directory.keys
source_of() {	# where run N found the directory, from its log
	grep -o "known ([a-z ]*)" "$1" | head -1
}

# Day 1, then a day 2 with trouble in it: a duplicate email, a missing
# manager, a loop of two, a duplicate id, a terminated person.
$GEN --rows 3000 --seed 31 -o "$TMP/d1.csv"
$GEN --mutate "$TMP/d1.csv" --seed 32 --terminate-rate 0.01 -o "$TMP/d2.csv"
H=$(head -1 "$TMP/d2.csv")
{
	cat "$TMP/d2.csv"
	awk -F, 'NR == 2 { $1 = "X1"; print }' OFS=, "$TMP/d2.csv"
	printf '%s\n' "X2,x2@example.com,Xa,Two,Xa Two,Eng,Dev,X404,Berlin,Active,2024-01-01,CC-1" \
	    "X3,x3@example.com,Xb,Three,Xb Three,Eng,Dev,X4,Berlin,Active,2024-01-01,CC-1" \
	    "X4,x4@example.com,Xc,Four,Xc Four,Eng,Dev,X3,Berlin,Active,2024-01-01,CC-1"
	awk -F, 'NR == 3' "$TMP/d2.csv"
} >"$TMP/d2x.csv"
eq "day 2 has the generator's header" "$(head -1 "$TMP/d2x.csv")" "$H"
# Two more, through rows that stay the same: the manager of several
# unchanged people leaves (their manager is not found), and a manager
# starts to report to one of their unchanged reports (a loop through an
# unchanged row: the snapshot resolves that row's manager).
$PYTHON - "$TMP/d1.csv" "$TMP/d2x.csv" >"$TMP/d2y.csv" <<'PY'
import collections, csv, sys
old = {r["employee_id"]: r for r in csv.DictReader(open(sys.argv[1]))}
rows = list(csv.DictReader(open(sys.argv[2])))
same = [r for r in rows if old.get(r["employee_id"]) == r]
count = collections.Counter(r["manager_id"] for r in same if r["manager_id"])
bymgr = collections.defaultdict(list)
for r in same:
    bymgr[r["manager_id"]].append(r["employee_id"])
(gone, _), (boss, _) = count.most_common(2)
rows = [r for r in rows if r["employee_id"] != gone]
for r in rows:
    if r["employee_id"] == boss:
        r["manager_id"] = bymgr[boss][0]
w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0].keys()), lineterminator="\n")
w.writeheader()
w.writerows(rows)
print("gone=%s boss=%s report=%s" % (gone, boss, bymgr[boss][0]), file=sys.stderr)
PY
mv "$TMP/d2y.csv" "$TMP/d2x.csv"

sandbox snap
drop "$TMP/d1.csv" day1.csv
rs run >"$SB/r1.out" 2>&1
eq "day 1 exits 0" "$?" 0
eq "day 1 read the users table (no snapshot yet)" \
    "$(source_of "$SB/r1.out")" "known (users table)"
check "day 1 left a key snapshot" test -s "$SB/$SNAP"
cp -a "$SB" "$TMP/base"

drop "$TMP/d2x.csv" day2.csv
rs run >"$SB/r2.out" 2>&1
rc=$?
check "day 2 ends Success or Needs Attention (exit $rc)" \
    test "$rc" -eq 0 -o "$rc" -eq 6
eq "day 2 read the snapshot" "$(source_of "$SB/r2.out")" "known (key snapshot)"
check "day 2 has issues to compare (dup id, email, manager, loop)" \
    test "$(q "SELECT count(DISTINCT type) FROM issues WHERE run_id = 2")" -ge 3
check "day 2: unchanged people whose manager left (5 or more)" \
    test "$(q "SELECT count(*) FROM issues WHERE run_id = 2 AND type = 'manager_not_found'")" -ge 6
check "day 2: a loop through an unchanged row" \
    test "$(q "SELECT count(*) FROM issues WHERE run_id = 2 AND type = 'manager_cycle' AND message LIKE '%loop of 2%' AND key NOT LIKE 'X%'")" -ge 2
run_dump 2 >"$TMP/with.dump"
dump >"$TMP/with.dir"

# The same day 2 from the users table: the same run, the same directory.
same_as_snapshot() {	# LABEL: day 2 again from $TMP/base, after $prep
	local l=$1 want=$2
	rerun "$TMP/base" "$TMP/d2x.csv" "$SB/r2.out"
	eq "$l: read from the $want" "$(source_of "$SB/r2.out")" "known ($want)"
	run_dump 2 >"$SB/run.dump"
	dump >"$SB/dir.dump"
	check "$l: the same items, changes and issues" \
	    cmp -s "$SB/run.dump" "$TMP/with.dump"
	cmp -s "$SB/run.dump" "$TMP/with.dump" ||
	    diff "$TMP/with.dump" "$SB/run.dump" | head -5 | sed 's/^/# /'
	check "$l: the same directory" cmp -s "$SB/dir.dump" "$TMP/with.dir"
	check "$l: a fresh snapshot is left" test -s "$SB/$SNAP"
}
prep='rm -f "$SB/$SNAP"'
same_as_snapshot "no snapshot" "users table"
# One byte of a key changed: the checksum catches it.
prep='printf "Z" | dd of="$SB/$SNAP" bs=1 seek=$(( $(stat -c %s "$SB/$SNAP") - 3 )) conv=notrunc 2>/dev/null'
same_as_snapshot "a corrupt snapshot" "users table"
prep='truncate -s -100 "$SB/$SNAP"'
same_as_snapshot "a torn snapshot" "users table"
prep=': >"$SB/$SNAP"'
same_as_snapshot "an empty snapshot" "users table"
# Someone else's version: a writer that changed the directory since.
prep='sqlite3 "$DB" "UPDATE syncs SET version = version + 1, nonce = random()"'
same_as_snapshot "a newer directory version" "users table"
# The same version number with another nonce: a database put back from a
# backup, or a commit that never happened.
prep='sqlite3 "$DB" "UPDATE syncs SET nonce = nonce + 1"'
same_as_snapshot "another nonce" "users table"
prep=':'
same_as_snapshot "an intact snapshot" "key snapshot"

# A run that wrote its snapshot and died before the commit: the file
# carries a nonce no directory has; the next run reads the table.
rm -rf "$SB"
cp -a "$TMP/base" "$SB"
drop "$TMP/d2x.csv" day2.csv
{ ROSTERSYNC_FAULT=snapshot.written "$ROSTERSYNC" -c "$CONF" run \
    >"$SB/crash.out" 2>&1; } 2>/dev/null
eq "killed after writing the snapshot (status 137)" "$?" 137
rs run >"$SB/after.out" 2>&1
eq "the next run reads the users table" "$(source_of "$SB/after.out")" \
    "known (users table)"
r=$(last_run)
run_dump "$r" | sed '$d' >"$SB/run.dump"
sed '$d' "$TMP/with.dump" >"$SB/want.dump"
check "after the crash: the same items, changes and issues" \
    cmp -s "$SB/run.dump" "$SB/want.dump"
dump >"$SB/dir.dump"
check "after the crash: the same directory" cmp -s "$SB/dir.dump" "$TMP/with.dir"

# A run with nothing to apply leaves the version, and so the snapshot.
v1=$(q "SELECT version || ':' || nonce FROM syncs")
rs run >/dev/null 2>&1
eq "a run with nothing to do leaves the version" \
    "$(q "SELECT version || ':' || nonce FROM syncs")" "$v1"

# Deactivated people purged after their grace period (grace_days = 0):
# the snapshot written by the purging run no longer has them, so when one
# comes back the run equals one made from the users table.
sandbox purge "grace_days = 0; max_deletes = 1000; max_delete_percent = 50;"
drop "$TMP/d1.csv" day1.csv
rs run >/dev/null 2>&1
head -2001 "$TMP/d1.csv" >"$TMP/p2.csv"	# 1,000 people leave
drop "$TMP/p2.csv" p2.csv
# Held 2 s halfway through its directory writes (the pause point
# apply.half), a run with grace_days = 0 still keeps all it deactivated:
# the grace is counted to the run's start, not to the purge.
paused apply.half "$SB/p2.out" sleep 2.1
eq "purge: the run paused halfway through its writes" "$pause_seen" yes
eq "purge: that run ended well" "$prc" 0
eq "purge: 1,000 deactivated" "$(q "SELECT count(*) FROM users WHERE active = 0")" 1000
sleep 1.1
{ cat "$TMP/p2.csv"; echo; } >"$TMP/p3.csv"	# the same people again
drop "$TMP/p3.csv" p3.csv
rs run >"$SB/p3.out" 2>&1
contains "purge: the next run removes them" "$(cat "$SB/p3.out")" \
    "removed 1000 users deactivated more than 0 days ago"
cp -a "$SB" "$TMP/pbase"
{ cat "$TMP/p2.csv"; sed -n 2500,2510p "$TMP/d1.csv"; } >"$TMP/p4.csv"
drop "$TMP/p4.csv" p4.csv
rs run >"$SB/p4.out" 2>&1
eq "purge: the comeback run read the snapshot" \
    "$(source_of "$SB/p4.out")" "known (key snapshot)"
eq "purge: 11 people come back as creates" "$(count_of 4 n_create)" 11
run_dump 4 >"$TMP/p4.with"
rm -rf "$SB"
cp -a "$TMP/pbase" "$SB"
rm -f "$SB/$SNAP"
drop "$TMP/p4.csv" p4.csv
rs run >"$SB/p4.out" 2>&1
eq "purge: without the snapshot, the users table" \
    "$(source_of "$SB/p4.out")" "known (users table)"
run_dump 4 >"$SB/p4.without"
check "purge: the same run either way" cmp -s "$SB/p4.without" "$TMP/p4.with"

# A snapshot that is a symlink is not followed.
rm -f "$SB/$SNAP"
ln -s /etc/passwd "$SB/$SNAP"
$GEN --mutate "$TMP/d2.csv" --seed 33 -o "$TMP/d3.csv"
drop "$TMP/d3.csv" day3.csv
rs run >"$SB/r3.out" 2>&1
check "a symlinked snapshot: the run still ends well (exit $?)" \
    test "$(status_of "$(last_run)")" = success -o \
    "$(status_of "$(last_run)")" = attention
eq "a symlinked snapshot is not read" "$(source_of "$SB/r3.out")" \
    "known (users table)"
check "/etc/passwd is untouched" grep -q "^root:" /etc/passwd
check "the link is replaced by a snapshot file of its own" \
    test -f "$SB/$SNAP" -a ! -L "$SB/$SNAP"


# The cache folder a symlink: refused, and a first load, whose rows go to
# a file of the spool beside it, still applies every row.
sandbox cachelink
mkdir -p "$TMP/elsewhere" "$SPOOL/cache"
ln -s "$TMP/elsewhere" "$SPOOL/cache/hr"
drop "$TMP/d1.csv" day1.csv
rs run >"$SB/link.out" 2>&1
eq "a symlinked cache folder: the first load succeeds (exit $?)" \
    "$(status_of "$(last_run)"):$(q "SELECT count(*) FROM users")" \
    "success:$(( $(wc -l <"$TMP/d1.csv") - 1 ))"
contains "a symlinked cache folder: refused, and said so" \
    "$(cat "$SB/link.out")" "is a symbolic link: refused"
eq "a symlinked cache folder: nothing written through it" \
    "$(ls -A "$TMP/elsewhere" | wc -l)" 0

finish
