#!/bin/bash
# What a run writes into the database. A new database has pages of
# STORE_PAGE_SIZE (2 KB); one made with 4 KB pages, as every database
# before it was, keeps them and gives the same directory, items and
# changes. A day's transaction writes the pages of what changed: read
# from its WAL frames (rostersync killed right after the commit, before
# any checkpoint: tests/walpages.py), updates that keep every email
# write no page of the email indexes and at most two pages of users per
# changed user, and a re-run of the same rows writes no page of the
# users, items or changes; -v says how many pages it wrote. The diff
# reads the stored rows of 600 changed users in one read transaction:
# fewer fcntl(2) calls in the whole run (strace) than rows it read.
. "$(dirname "$0")/lib.sh"

$GEN --rows 3000 --seed 81 -o "$TMP/d1.csv"
# 30 users whose title, department or location change; no email does
$GEN --mutate "$TMP/d1.csv" --seed 82 --update-rate 0.01 --delete-rate 0 \
    --hire-rate 0 --manager-rate 0 --truth "$TMP/u2.json" -o "$TMP/u2.csv"
# and a next day of every kind of change
$GEN --mutate "$TMP/d1.csv" --seed 83 --truth "$TMP/d2.json" -o "$TMP/d2.csv"
# and one where a fifth of the users change (600 stored rows read)
$GEN --mutate "$TMP/d1.csv" --seed 84 --update-rate 0.2 --delete-rate 0 \
    --hire-rate 0 --manager-rate 0 --truth "$TMP/u3.json" -o "$TMP/u3.csv"
changed=$($PYTHON -c 'import json,sys; print(json.load(open(sys.argv[1]))["changed_rows"])' \
    "$TMP/u2.json")

# day1 NAME [PAGE]: a sandbox with day 1 applied, into a database made
# first with PAGE-byte pages by the sqlite3 shell when PAGE is given.
day1() {
	sandbox "$1"
	[ -n "${2:-}" ] && q "PRAGMA page_size = $2; PRAGMA journal_mode = WAL" \
	    >/dev/null
	drop "$TMP/d1.csv" day1.csv
	rs -q run
}

# 1. The page size of a new database, and of one made before.
day1 new
eq "day 1 applied to a new database" "$?" 0
eq "a new database has 2048-byte pages" "$(q "PRAGMA page_size")" 2048
cp -a "$SB" "$TMP/new-day1"
drop "$TMP/d2.csv" day2.csv
rs -q run
eq "day 2 applied to the new database" "$?" 0
new_dir=$(dump)
new_run=$(run_dump 2)

day1 old 4096
eq "day 1 applied to a database made with 4096-byte pages" "$?" 0
drop "$TMP/d2.csv" day2.csv
rs -q run
eq "day 2 applied to it" "$?" 0
eq "it keeps its 4096-byte pages" "$(q "PRAGMA page_size")" 4096
eq "it is sound" "$(q "PRAGMA integrity_check")" ok
eq "its directory is the new database's" "$(dump)" "$new_dir"
eq "day 2's items, changes and outcome are the new database's" \
    "$(run_dump 2)" "$new_run"
eq "its counts equal a recount" "$(counts_off)" 0

# killed FILE: FILE run from the day-1 state, killed right after its
# transaction's commit; the pages that transaction wrote, by B-tree
# ("NAME (KIND) COUNT"), in $TMP/pages, and -v's output in $TMP/log.
killed() {
	SB=$TMP/killed CONF=$TMP/killed/rostersync.conf
	DB=$SB/spool/rostersync.db DROP=$SB/drop SPOOL=$SB/spool
	rm -rf "$SB"
	cp -a "$TMP/new-day1" "$SB"
	drop "$1" next.csv
	ROSTERSYNC_FAULT=run.committed rs -v run >"$TMP/log" 2>&1
	cp "$DB-wal" "$TMP/wal"
	$PYTHON "$TOP/tests/walpages.py" "$DB" "$TMP/wal" >"$TMP/pages"
}
# pages PATTERN: how many pages of the B-trees whose line matches it
pages() { awk -v p="$1" '$0 ~ p { n += $NF } END { print n + 0 }' "$TMP/pages"; }

# 2. Updates that keep every email.
killed "$TMP/u2.csv"
eq "the updates: the transaction's frames are in the WAL" "$?" 0
eq "the updates: the run committed them all" \
    "$(q "SELECT status, n_update FROM runs WHERE id = 2")" "success|$changed"
eq "the updates write no page of users_email, users_domain or users_inactive" \
    "$(pages '^users_')" 0
n=$(pages '^users ')
check "the updates write $n pages of users: at least 1, at most 2 per changed user ($changed)" \
    test "$n" -ge 1 -a "$n" -le $((2 * changed))
check "the updates write items and changes" \
    test "$(pages '^items ')" -ge 1 -a "$(pages '^changes ')" -ge 1
size=$(q "PRAGMA page_size")
said=$(sed -n "s/.*the transaction wrote \([0-9]*\) pages of $size bytes.*/\1/p" \
    "$TMP/log")
all=$(pages .)
check "-v: the transaction wrote ${said:-no} pages of $size bytes: each of the WAL's $all once, or again" \
    test "${said:-0}" -ge "$all" -a "${said:-0}" -le $((all + 10))

# 3. The same rows again (one more newline: not a duplicate).
cp "$TMP/d1.csv" "$TMP/d1-again.csv"
echo >>"$TMP/d1-again.csv"
killed "$TMP/d1-again.csv"
eq "the same rows again: the run committed, no items" \
    "$(q "SELECT status, (SELECT count(*) FROM items WHERE run_id = 2) FROM runs WHERE id = 2")" \
    "success|0"
eq "the same rows again write no page of users, items or changes" \
    "$(pages '^(users|items|changes)')" 0

# 4. The diff reads the stored rows of the users who changed or left in
# one read transaction: the locks SQLite takes with fcntl(2) (in
# autocommit, two or more a read) do not grow with how many it reads.
SB=$TMP/locks CONF=$TMP/locks/rostersync.conf
DB=$SB/spool/rostersync.db DROP=$SB/drop SPOOL=$SB/spool
cp -a "$TMP/new-day1" "$SB"
drop "$TMP/u3.csv" day2.csv
# (LeakSanitizer cannot work under ptrace: off for this one run)
ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 \
    strace -f -c -e trace=fcntl -o "$TMP/fcntl" "$ROSTERSYNC" -c "$CONF" -q run
eq "a fifth of the users changed, under strace: applied" "$?" 0
calls=$(awk '$NF == "fcntl" { print $4 }' "$TMP/fcntl")
read=$($PYTHON -c 'import json,sys; t = json.load(open(sys.argv[1]));
print(t["updates"] + t["manager_changes"] + t["deletes"])' "$TMP/u3.json")
check "that run makes ${calls:-no} fcntl calls, fewer than the $read stored rows its diff reads" \
    test "${calls:-0}" -gt 0 -a "${calls:-0}" -lt "$read"
finish
