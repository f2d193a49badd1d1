#!/bin/bash
# The local drop-zone (source = "dir:...") and the spool: which files are
# taken and when (settle time, a future mtime, marker files, ignored names,
# the pattern, symbolic links), where a taken file goes (incoming/, archive/, failed/)
# and what becomes of the source (move, leave, delete), duplicates, a
# source changed while it is copied (the copy is not taken), two runs at
# once, and recovery after a run is killed at random moments.
. "$(dirname "$0")/lib.sh"

# The sqlite3 shell waits for a writer instead of failing at once.
qq() { sqlite3 -bail -cmd '.timeout 5000' "$DB" "$1"; }
# set_conf KEY VALUE: change a setting the sandbox wrote.
set_conf() { sed -i "s/^\(\s*\)$1 = [^;]*;/\1$1 = $2;/" "$CONF"; }
nfiles() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

$GEN --rows 50 --seed 1 -o "$TMP/small.csv"
$GEN --rows 50 --seed 2 -o "$TMP/other.csv"

# --- an empty drop-zone: nothing to do
sandbox empty
rs run >"$TMP/empty.out" 2>&1
eq "empty drop-zone: exit 0" "$?" 0
contains "empty drop-zone: 0 new files" "$(cat "$TMP/empty.out")" "0 new files"

# --- a missing drop-zone folder: a Failed run of the sync, without a
# file, that every view shows; the same failure again counts in that run
sandbox missing
drop "$TMP/small.csv" day1.csv
rs run >/dev/null 2>&1
mv "$DROP" "$DROP.away"
rs run >"$TMP/missing1.out" 2>&1
eq "missing folder: exit 1" "$?" 1
eq "missing folder: a Failed run, without a file" \
    "$(qq "SELECT id, status, file_name IS NULL, failures, trigger FROM runs WHERE id = 2")" \
    "2|failed|1|1|manual"
contains "missing folder: the run has the error" \
    "$(qq "SELECT error FROM runs WHERE id = 2")" "drop-zone $DROP: No such file or directory"
contains "missing folder: and what to do" \
    "$(qq "SELECT hint FROM runs WHERE id = 2")" "create the folder (mkdir -p $DROP)"
eq "missing folder: the error is logged once" \
    "$(grep -c "error: drop-zone $DROP: No such file" "$TMP/missing1.out")" 1
rs run >"$TMP/missing2.out" 2>&1
rs run >"$TMP/missing3.out" 2>&1
eq "missing folder, three times: one run counts them" \
    "$(qq "SELECT count(*), max(failures) FROM runs WHERE status = 'failed'")" "1|3"
out=$(rs history 2>&1)
eq "history: the failed run is listed" "$?" 0
contains "history: its status says how often" "$out" "Failed (3 times)"
contains "history: 2 results" "$out" "1-2 of 2 results"
check "history: no unreadable bytes" \
    "$PYTHON" -c 'import sys; sys.stdin.buffer.read().decode("utf-8")' <<<"$out"
eq "history --json: no file, the failures and the source" \
    "$(rs history --json | $PYTHON -c 'import json,sys; r=json.load(sys.stdin)["runs"][0]; print(r["id"], r["file_name"], r["sha256"], r["failures"], r["source"] == "dir:" + sys.argv[1])' "$DROP")" \
    "2 None None 3 True"
out=$(rs show 2 2>&1)
contains "show: the run" "$out" "Run 2: Failed"
contains "show: no file" "$out" "none: the source could not be read"
contains "show: how often, since when" "$out" "3 times in a row, since"
contains "show: what to do" "$out" "create the folder (mkdir -p $DROP)"
eq "show --json: the error and the hint" \
    "$(rs show 2 --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); print(d["error"] is not None, d["hint"] is not None, d["failures"], len(d["hints"]) > 0)')" \
    "True True 3 True"
out=$(rs status 2>&1)
contains "status: the sync is failing" "$out" "Syncs failing now            1"
contains "status: every user's latest sync failed" "$out" "Failed syncs                 50"
contains "status: the sync's last run" "$out" "Failed (3 times)"
contains "status: the error and what to do" "$out" "failing: drop-zone $DROP: No such file or directory; what to do: create the folder"
eq "status --json" "$(rs status --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); s=d["syncs"][0]; print(d["failed"], d["failing_syncs"], s["last_run"], s["last_status"], s["failures"], s["failing"])')" \
    "50 1 2 failed 3 True"
eq "users: everyone Failed" "$(rs users --status failed --json | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)["total"])')" 50
key=$(qq "SELECT key FROM users ORDER BY key LIMIT 1")
out=$(rs user "$key" 2>&1)
contains "user: the failure alert" "$out" "1 sync failure detected"
contains "user: what failed" "$out" "run 2: the sync failed: drop-zone $DROP: No such file or directory"
eq "user --json: the sync failure" "$(rs user "$key" --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); f=d["sync_failure"]; print(d["status"], d["failures"], f["run"], f["failures"])')" \
    "failed 1 2 3"
base=$(qq "SELECT report_base FROM runs WHERE id = 2")
check "reports: the failed run has its run log" test -f "$SPOOL/reports/hr/$base.log"
contains "run log: the error" "$(cat "$SPOOL/reports/hr/$base.log")" "error: drop-zone $DROP"
contains "run log: what to do" "$(cat "$SPOOL/reports/hr/$base.log")" "what to do: create the folder"
contains "run log: how often" "$(cat "$SPOOL/reports/hr/$base.log")" "3 times in a row"
rs report 2 --format log >"$TMP/missing.log" 2>&1
eq "report --format log of the failed run: exit 0" "$?" 0
rs report 2 --format csv >/dev/null 2>&1
eq "report --format csv of the failed run: none (exit 1)" "$?" 1
mv "$DROP.away" "$DROP"
rs run >"$TMP/missing4.out" 2>&1
eq "folder back: exit 0, no new run" "$?:$(qq "SELECT count(*) FROM runs")" "0:2"
contains "folder back: the log says so" "$(cat "$TMP/missing4.out")" "the source answers again (run 2: it failed 3 times in a row)"
eq "folder back: nobody Failed, no sync failing" \
    "$(rs status --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); print(d["failed"], d["failing_syncs"])')" "0 0"
mv "$DROP" "$DROP.away"
rs run >/dev/null 2>&1
eq "failing again after that: a new Failed run" \
    "$(qq "SELECT count(*) FROM runs WHERE status = 'failed'"):$(qq "SELECT failures FROM runs WHERE id = 3")" "2:1"
mv "$DROP.away" "$DROP"

# --- files refused at the source (a bad name, a link, a FIFO): in status
# with the reason, warned about once, forgotten when they are gone
sandbox refused 'pattern = "*.csv";'
drop "$TMP/small.csv" good.csv
ln -s "$TMP/small.csv" "$DROP/link.csv"
mkfifo "$DROP/pipe.csv"
drop "$TMP/other.csv" "$(printf 'bad\tname.csv')"
mkfifo "$DROP/notes.fifo"	# does not match the pattern: not a concern
rs run >"$TMP/refused1.out" 2>&1
eq "refused: the run takes good.csv only" "$?:$(qq "SELECT group_concat(file_name) FROM runs")" "0:good.csv"
contains "refused: the link is refused, saying why" "$(cat "$TMP/refused1.out")" \
    'refusing the file "link.csv": it is a symbolic link; only regular files are taken'
contains "refused: the FIFO is refused, saying why" "$(cat "$TMP/refused1.out")" \
    'refusing the file "pipe.csv": it is a FIFO (named pipe)'
out=$(rs status 2>&1)
contains "status: lists the link" "$out" 'refused: "link.csv": it is a symbolic link'
contains "status: lists the FIFO" "$out" 'refused: "pipe.csv": it is a FIFO (named pipe)'
contains "status: lists the bad name, escaped" "$out" 'refused: "bad\x09name.csv": it contains'
check "status: not what the pattern does not match" test "$(printf '%s' "$out" | grep -c notes.fifo)" -eq 0
eq "status --json: the refused files with their reasons" \
    "$(rs status --json | $PYTHON -c 'import json,sys; print(" ".join(r["name"] for r in json.load(sys.stdin)["syncs"][0]["refused"]))')" \
    'bad\x09name.csv link.csv pipe.csv'
rs run >"$TMP/refused2.out" 2>&1
eq "refused: not a warning every run" "$(grep -c 'warning: refusing' "$TMP/refused2.out")" 0
rm -f "$DROP/link.csv" "$DROP/pipe.csv"
rs run >/dev/null 2>&1
eq "refused: files gone from the source leave status" \
    "$(rs status --json | $PYTHON -c 'import json,sys; print(" ".join(r["name"] for r in json.load(sys.stdin)["syncs"][0]["refused"]))')" \
    'bad\x09name.csv'

# --- settle rule: a file changed less than settle_seconds ago waits
sandbox settle
set_conf settle_seconds 30
cp "$TMP/small.csv" "$DROP/now.csv"	# mtime: now
rs run >"$TMP/settle1.out" 2>&1
eq "settle: a fresh file exits 0 (nothing to do)" "$?" 0
eq "settle: a fresh file is not taken" "$(qq "SELECT count(*) FROM files")" 0
contains "settle: the log says it waits" "$(cat "$TMP/settle1.out")" \
    "now.csv is still being written"
check "settle: the fresh file stays in the drop-zone" test -f "$DROP/now.csv"
touch -d '-1 minute' "$DROP/now.csv"
rs run >"$TMP/settle2.out" 2>&1
eq "settle: the same file a minute old is taken" \
    "$(qq "SELECT count(*) FROM runs WHERE file_name = 'now.csv' AND status = 'success'")" 1

# --- a file whose mtime is in the future (zipped in Tokyo, unzipped in
# UTC: ZIP keeps local times) settles as on SFTP: its size and mtime the
# same for settle_seconds from when rostersync first saw it, not once the
# clock passes its mtime; a notice says so once (-q shows notices)
(cd "$TMP" && cp small.csv tokyo.csv && TZ=Asia/Tokyo zip -q -X tokyo.zip \
    tokyo.csv && rm tokyo.csv)
future_drop() { (cd "$DROP" && TZ=UTC unzip -q -o "$TMP/tokyo.zip"); }
sandbox future
future_drop
check "future: the unzipped file's mtime is hours ahead" \
    test "$(stat -c %Y "$DROP/tokyo.csv")" -gt "$(( $(date +%s) + 3600 ))"
rs -q run >"$TMP/future1.out" 2>&1
eq "future, settle_seconds 0: taken at once and applied" \
    "$?:$(qq "SELECT status FROM runs WHERE file_name = 'tokyo.csv'")" 0:success
eq "future: a notice says once that its mtime is in the future" \
    "$(grep -c 'tokyo.csv: its mtime .* in the future by this machine.s clock' "$TMP/future1.out")" 1
sandbox future2
set_conf settle_seconds 2
future_drop
rs -q run >"$TMP/future2.out" 2>&1
eq "future, settle_seconds 2: taken in the run, once unchanged for 2 s" \
    "$?:$(qq "SELECT status FROM runs WHERE file_name = 'tokyo.csv'")" 0:success
eq "future: said once for two looks" "$(grep -c 'in the future' "$TMP/future2.out")" 1
sandbox future3
set_conf settle_seconds 30
future_drop
rs -q run >"$TMP/future3a.out" 2>&1
rs -q run >"$TMP/future3b.out" 2>&1
eq "future, settle_seconds 30: not taken before it has settled" \
    "$(qq "SELECT count(*) FROM files")" 0
eq "future: the notice is not repeated at the next run" \
    "$(grep -c 'in the future' "$TMP/future3a.out"):$(grep -c 'in the future' "$TMP/future3b.out")" 1:0
rm "$DROP/tokyo.csv"
rs -q run >/dev/null 2>&1
eq "future: a file gone before it settled is forgotten" \
    "$(qq "SELECT count(*) FROM observed")" 0

# --- marker mode: NAME.done says the upload is complete
sandbox marker 'marker = true;'
drop "$TMP/small.csv" m.csv	# settled long ago, but no marker yet
rs run >"$TMP/marker1.out" 2>&1
eq "marker: without m.csv.done nothing is taken" \
    "$(qq "SELECT count(*) FROM files")" 0
contains "marker: the log says it waits for the marker" \
    "$(cat "$TMP/marker1.out")" "waiting for its marker m.csv.done"
touch "$DROP/m.csv.done"
rs run >"$TMP/marker2.out" 2>&1
eq "marker: with m.csv.done it is taken" \
    "$(qq "SELECT count(*) FROM runs WHERE file_name = 'm.csv' AND status = 'success'")" 1
check "marker: the marker is not taken as an export" \
    test "$(qq "SELECT count(*) FROM files WHERE name LIKE '%.done'")" -eq 0
# A marker left behind would let the next upload under the same name be
# taken before it is complete.
check "marker: the marker goes with its file" test ! -e "$DROP/m.csv.done"
cp "$TMP/other.csv" "$DROP/m.csv"	# the next day's upload, same name
touch -d '-1 hour' "$DROP/m.csv"
rs run >"$TMP/marker3.out" 2>&1
eq "marker: the next upload waits for its own marker" \
    "$(qq "SELECT count(*) FROM runs")" 1

# --- names that are never taken; the pattern; symbolic links
sandbox names 'pattern = "*.csv";'
ignored=".hidden.csv up.csv.part up.csv.tmp up.csv.filepart UP.CSV.PART
    Up.csv.Tmp notes.txt"
for n in $ignored; do
	drop "$TMP/small.csv" "$n"
done
$GEN --rows 50 --seed 3 -o "$TMP/target.csv"
ln -s "$TMP/target.csv" "$DROP/link.csv"
rs run >"$TMP/names1.out" 2>&1
eq "ignored names: exit 0" "$?" 0
eq "ignored names: no run" "$(qq "SELECT count(*) FROM runs")" 0
eq "ignored names: nothing in the ledger" "$(qq "SELECT count(*) FROM files")" 0
for n in $ignored; do
	check "ignored names: $n left alone" test -f "$DROP/$n"
done
check "symlink: left in place" test -L "$DROP/link.csv"
check "symlink: its target is untouched" test -f "$TMP/target.csv"
eq "nothing was copied into the spool" "$(nfiles "$SPOOL/incoming/hr")" 0
drop "$TMP/small.csv" good.csv
rs run >"$TMP/names2.out" 2>&1
eq "among them, only good.csv is taken" \
    "$(qq "SELECT group_concat(file_name) FROM runs")" good.csv
check "symlink: still never taken" test -L "$DROP/link.csv"

# --- names that cannot become a spool file name are refused and logged
sandbox badnames
long=$(printf 'x%.0s' $(seq 1 246)).csv	# 250 bytes
drop "$TMP/small.csv" "$long"
drop "$TMP/small.csv" "$(printf 'tab\tname.csv')"
drop "$TMP/other.csv" fine.csv
rs run >"$TMP/badnames.out" 2>&1
eq "bad names: the run exits 0" "$?" 0
eq "bad names: only fine.csv is taken" \
    "$(qq "SELECT group_concat(name) FROM files")" fine.csv
contains "bad names: a 250-byte name is refused" \
    "$(cat "$TMP/badnames.out")" "its length (250 bytes)"
contains "bad names: a control character is refused, shown escaped" \
    "$(cat "$TMP/badnames.out")" 'refusing the file "tab\x09name.csv"'
check "bad names: the refused files stay at the source" \
    test -f "$DROP/$long"
eq "bad names: nothing left in incoming/" "$(ls -A "$SPOOL/incoming/hr" | wc -l)" 0

# --- the spool: incoming/ then archive/ (loaded) or failed/ (not loadable)
sandbox spool
drop "$TMP/small.csv" day1.csv
rs fetch >"$TMP/fetch.out" 2>&1
eq "fetch: exit 0" "$?" 0
eq "fetch: the copy waits in spool/incoming/hr/" \
    "$(ls "$SPOOL/incoming/hr" | grep -c 'day1\.csv$')" 1
eq "fetch: queued in the ledger" \
    "$(qq "SELECT state FROM files WHERE name = 'day1.csv'")" fetched
eq "fetch: the file waits as a Queued run, not processed" "$(qq "SELECT group_concat(status) FROM runs")" queued
check "fetch: the source stays until its run is recorded" \
    test -f "$DROP/day1.csv"
cmp -s "$TMP/small.csv" "$SPOOL/incoming/hr/"*day1.csv
eq "fetch: the copy is byte-identical" "$?" 0
rs run >"$TMP/spool1.out" 2>&1
eq "run: the queued file is processed" "$(status_of 1)" success
check "run: the input ends in archive/hr/" test -f "$SPOOL/archive/hr/1-day1.csv"
eq "run: incoming/hr/ is empty" "$(ls -A "$SPOOL/incoming/hr" | wc -l)" 0
check "run: the source moved to processed/" test -f "$DROP/processed/day1.csv"
check "run: and left the drop-zone" test ! -e "$DROP/day1.csv"
eq "run: the ledger says where the copy is" \
    "$(qq "SELECT state || ' ' || local FROM files WHERE name = 'day1.csv'")" \
    "processed $SPOOL/archive/hr/1-day1.csv"
printf 'employee_id,email,last_name\n' >"$TMP/headeronly.csv"
drop "$TMP/headeronly.csv" day2.csv
rs run >"$TMP/spool2.out" 2>&1
eq "not loadable: exit 4" "$?" 4
check "not loadable: the input ends in failed/hr/" \
    test -f "$SPOOL/failed/hr/2-day2.csv"
check "not loadable: not in archive/" test ! -e "$SPOOL/archive/hr/2-day2.csv"
eq "not loadable: incoming/hr/ is empty" "$(ls -A "$SPOOL/incoming/hr" | wc -l)" 0

# --- after = "leave": the source stays and is not processed twice
sandbox leave 'after = "leave";'
drop "$TMP/small.csv" l.csv
rs run >/dev/null 2>&1
rs run >"$TMP/leave2.out" 2>&1
eq "leave: the second run exits 0" "$?" 0
check "leave: the source stays" test -f "$DROP/l.csv"
check "leave: no processed/ folder" test ! -e "$DROP/processed"
eq "leave: processed once" "$(qq "SELECT count(*) FROM runs")" 1
touch -d '-30 minutes' "$DROP/l.csv"	# touched again, same content
rs run >"$TMP/leave3.out" 2>&1
eq "leave: touched again, still processed once" \
    "$(qq "SELECT count(*) FROM runs")" 1
contains "leave: touched again is logged as a duplicate" \
    "$(cat "$TMP/leave3.out")" duplicate
check "leave: input kept in archive/" test -f "$SPOOL/archive/hr/1-l.csv"

# --- the copy reads the source once and lets its pages go (fetch_dir.c):
# the spool copy takes their memory instead of as much again. Both ways of
# copying: the kernel's (from 1 MB) and by hand.
res() { fincore --bytes --noheadings --output RES "$1" | tr -d " "; }
if command -v fincore >/dev/null; then
	sandbox cache 'after = "leave";'
	$GEN --rows 20000 --seed 62 -o "$TMP/c.csv"
	drop "$TMP/c.csv" big.csv
	drop "$TMP/small.csv" small.csv
	sync "$DROP/big.csv" "$DROP/small.csv"	# clean pages: they can go
	cat "$DROP/big.csv" "$DROP/small.csv" >/dev/null
	check "cache: the source is cached before the fetch ($(res "$DROP/big.csv") bytes)" \
	    test "$(res "$DROP/big.csv")" -gt 1000000
	rs fetch >"$TMP/cache.out" 2>&1
	eq "cache: the fetch takes both" "$(qq "SELECT count(*) FROM files")" 2
	eq "cache: none of the big source is cached after" "$(res "$DROP/big.csv")" 0
	eq "cache: nor of the small one" "$(res "$DROP/small.csv")" 0
	check "cache: the copy is the source, byte for byte" \
	    cmp -s "$DROP/big.csv" "$SPOOL"/incoming/hr/*-big.csv
	# The load reads the copy once too (load_csv.c).
	sync "$SPOOL"/incoming/hr/*-big.csv
	rs run >"$TMP/cache-run.out" 2>&1
	eq "cache: the copy's run is a Success" \
	    "$(qq "SELECT status FROM runs r JOIN files f ON f.run_id = r.id WHERE f.name = 'big.csv'")" success
	eq "cache: none of the archived copy is cached after its run" \
	    "$(res "$(ls "$SPOOL"/archive/hr/*-big.csv)")" 0
else
	skip "cache: fincore (util-linux) is missing"
fi

# --- after = "delete": the source is removed once its run is recorded
sandbox delete 'after = "delete";'
drop "$TMP/small.csv" d.csv
rs run >/dev/null 2>&1
eq "delete: processed" "$(status_of 1)" success
check "delete: the source is gone" test ! -e "$DROP/d.csv"
check "delete: no processed/ folder" test ! -e "$DROP/processed"
check "delete: the spool keeps the input" test -f "$SPOOL/archive/hr/1-d.csv"

# --- the same content under two names in one pass: one run, a duplicate
sandbox dup
drop "$TMP/small.csv" monday.csv
drop "$TMP/small.csv" monday-copy.csv
rs run >"$TMP/dup.out" 2>&1
eq "same content twice: one run" "$(qq "SELECT count(*) FROM runs")" 1
contains "same content twice: the log says duplicate" "$(cat "$TMP/dup.out")" \
    duplicate
eq "same content twice: the ledger marks one as duplicate" \
    "$(qq "SELECT count(*) FROM files WHERE state = 'duplicate'")" 1
eq "same content twice: one copy in the spool" \
    "$(nfiles "$SPOOL/archive/hr")" 1
eq "same content twice: both leave the drop-zone" \
    "$(ls "$DROP" | grep -c csv)" 0

# --- content whose run could not load it is no duplicate: once the cause
# is fixed, the same file dropped again (under another name, or moved back
# from processed/) runs; content applied stays a duplicate
map_id() { sed -i "s/employee_id = \"[^\"]*\"/employee_id = \"$1\"/" "$CONF"; }
sandbox redrop 'max_update_percent = 100; mapping = { employee_id = "employee_id"; email = "email"; first_name = "first_name"; last_name = "last_name"; };'
sed '1s/^employee_id,/Employee ID,/' "$TMP/small.csv" >"$TMP/renamed.csv"
sed '1s/^employee_id,/Employee ID,/' "$TMP/other.csv" >"$TMP/renamed2.csv"
drop "$TMP/renamed.csv" day1.csv
rs run >/dev/null 2>&1
eq "redrop: a header without the mapped column: Data Load Failed" "$?:$(status_of 1)" 4:data_load_failed
contains "redrop: show says the same file dropped again runs" "$(rs show 1 2>&1)" \
    "drop the file again: the same file dropped again runs"
map_id "Employee ID"
drop "$TMP/renamed.csv" day1-again.csv
rs run >"$TMP/redrop1.out" 2>&1
eq "redrop: dropped again once the mapping is fixed, it runs" "$?:$(status_of 2):$(qq "SELECT count(*) FROM users")" 0:success:50
check "redrop: not called a duplicate" test "$(grep -c duplicate "$TMP/redrop1.out")" = 0
drop "$TMP/renamed.csv" day1-third.csv
rs run >"$TMP/redrop2.out" 2>&1
eq "redrop: applied content dropped again: no run" "$?:$(qq "SELECT count(*) FROM runs")" 0:2
contains "redrop: ... a duplicate of the run that applied it" "$(cat "$TMP/redrop2.out")" \
    "already took in run 2 (Success); skipped as a duplicate"
map_id employee_id
drop "$TMP/renamed2.csv" day2.csv
rs run >/dev/null 2>&1
eq "redrop: the next day fails to load the same way" "$(status_of 3)" data_load_failed
map_id "Employee ID"
mv "$DROP/processed/day2.csv" "$DROP/day2.csv"	# its name, size and mtime
rs run >/dev/null 2>&1
eq "redrop: moved back from processed/ once fixed, it runs" \
    "$(qq "SELECT count(*) FROM runs"):$(status_of 4):$(qq "SELECT file_name FROM runs WHERE id = 4")" 4:success:day2.csv

# --- content held or rejected stays a duplicate, decided with approve or
# reject; a rejected one may be run anyway with run --file, as the notice
# says
sandbox redrop_held 'approval = "always";'
drop "$TMP/small.csv" held.csv
rs run >/dev/null 2>&1
eq "held: Pending approval" "$(status_of 1)" pending_approval
drop "$TMP/small.csv" held-again.csv
rs run >"$TMP/held1.out" 2>&1
eq "held: dropped again, no run" "$(qq "SELECT count(*) FROM runs")" 1
contains "held: the notice says to decide it" "$(cat "$TMP/held1.out")" \
    "already took in run 1 (Pending approval: decide it with rostersync approve 1 or rostersync reject 1); skipped as a duplicate"
rs reject 1 --reason "not today" >/dev/null 2>&1
drop "$TMP/small.csv" held-third.csv
rs run >"$TMP/held2.out" 2>&1
eq "rejected: dropped again, no run" "$(qq "SELECT count(*) FROM runs")" 1
contains "rejected: the notice gives run --file" "$(cat "$TMP/held2.out")" \
    "(Rejected: rostersync run --sync hr --file PATH runs it anyway)"
rs run --file "$DROP/processed/held-third.csv" >/dev/null 2>&1
eq "rejected: run --file runs it (held again: approval always)" \
    "$(qq "SELECT count(*) FROM runs"):$(status_of 2)" 2:pending_approval

# --- run --file with a name an unfinished upload also has: the upload is
# not touched (it is another file, and it is not complete yet)
sandbox collide 'max_update_percent = 100;'	# other.csv is all new values
set_conf settle_seconds 30
mkdir -p "$SB/admin"
cp "$TMP/small.csv" "$SB/admin/day9.csv"
cp "$TMP/other.csv" "$DROP/day9.csv"	# being uploaded right now
rs run --file "$SB/admin/day9.csv" >"$TMP/collide1.out" 2>&1
eq "run --file: exit 0" "$?" 0
check "run --file: the drop-zone's day9.csv is not moved away" \
    test -f "$DROP/day9.csv"
check "run --file: nothing put in processed/" test ! -e "$DROP/processed/day9.csv"
check "run --file: the admin's file is left alone" test -f "$SB/admin/day9.csv"
touch -d '-1 hour' "$DROP/day9.csv"	# the upload is complete
rs run >"$TMP/collide2.out" 2>&1
eq "the upload then gets its own run" \
    "$(qq "SELECT count(*) FROM runs WHERE file_name = 'day9.csv' AND status = 'success'")" 2
check "and then goes to processed/" test -f "$DROP/processed/day9.csv"
cmp -s "$TMP/other.csv" "$DROP/processed/day9.csv"
eq "processed/ holds the upload, byte for byte" "$?" 0

# --- a file that changes while it is copied into the spool is not taken:
# the copy is thrown away, nothing is run from it, and the finished file
# is taken once it is stable. The copy pauses at the fault point
# fetch.block (right after open, after each block, after the last) while
# the test truncates, rewrites, appends to or deletes the source, in
# blocks of ROSTERSYNC_COPY_BLOCK bytes: 16 KB, a kernel copy of a 300 KB
# file in 19 blocks; 128 KB, one by hand in 3 (the kernel copies from 4).
$GEN --rows 2000 --seed 81 -o "$TMP/sc1.csv"
$GEN --seed 82 --mutate "$TMP/sc1.csv" -o "$TMP/sc2.csv"
# Day 2 corrected in place: the same size, 40 cost centres changed.
sed '2,41s/,CC-\([0-9]*\)$/,CX-\1/' "$TMP/sc2.csv" >"$TMP/sc2b.csv"
head -n 1001 "$TMP/sc2.csv" >"$TMP/sc2half.csv"	# cut at a row boundary
sc2size=$(stat -c %s "$TMP/sc2.csv")
# reference NAME FILE...: the directory a clean sandbox holds once FILEs
# ran in order, as day1.csv, day2.csv, ...
reference() {
	local name=$1 i=1 f
	shift
	sandbox "ref-$name"
	for f; do
		drop "$f" "day$i.csv"
		rs run >/dev/null 2>&1
		i=$((i + 1))
	done
	dump >"$TMP/ref-$name.dump"
}
reference sc2 "$TMP/sc1.csv" "$TMP/sc2.csv"
reference sc2b "$TMP/sc1.csv" "$TMP/sc2b.csv"
check "stable copy: day 1 then day 2 is a run each" \
    test "$(qq "SELECT group_concat(status) FROM runs")" = "success,success"
# Day 1 applied, settle_seconds 30: the start of every case.
sandbox stable
set_conf settle_seconds 30
drop "$TMP/sc1.csv" day1.csv
rs run >/dev/null 2>&1
rm -rf "$TMP/stable.saved"
cp -a "$SB" "$TMP/stable.saved"
# stable_case NAME: the sandbox back to day 1 applied.
stable_case() {
	sandbox "$1"
	rm -rf "$SB"
	cp -a "$TMP/stable.saved" "$SB"
}
# paused_copy POINT:N BLOCK OUT ACTION...: paused (lib.sh), with -v
# and the copy in blocks of BLOCK bytes.
paused_copy() {
	local point=$1 block=$2
	shift 2
	ROSTERSYNC_COPY_BLOCK=$block rs_opts=-v paused "$point" "$@"
}
# not_taken WHAT OUT [GONE]: nothing came of the changed copy.
not_taken() {
	eq "$1: the copy paused while the source changed" "$pause_seen" yes
	eq "$1: the run exits 0 (a file not yet complete is normal)" "$prc" 0
	contains "$1: the log says so" "$(cat "$2")" \
	    "day2.csv changed while being read; taken when it is stable"
	eq "$1: no run from it, no ledger entry" \
	    "$(qq "SELECT count(*) FROM runs"),$(qq "SELECT count(*) FROM files")" \
	    "1,1"
	eq "$1: nothing left in spool/incoming/hr/" \
	    "$(find "$SPOOL/incoming/hr" -type f | wc -l)" 0
	if [ -z "${3:-}" ]; then
		check "$1: the source is still there" test -f "$DROP/day2.csv"
	else
		check "$1: the source is gone (deleted)" test ! -e "$DROP/day2.csv"
	fi
}
# taken_later WHAT FINISHED REF: the finished file, once settled, is taken
# by the next run and the directory holds what it says.
taken_later() {
	if [ -e "$DROP/day2.csv" ]; then
		rs run >"$TMP/$1-wait.out" 2>&1
		contains "$1: while it is fresh the next run waits" \
		    "$(cat "$TMP/$1-wait.out")" "day2.csv is still being written"
		eq "$1: and takes nothing" "$(qq "SELECT count(*) FROM runs")" 1
	fi
	cmp -s "$2" "$DROP/day2.csv" || cp "$2" "$DROP/day2.csv"
	touch -d '-1 hour' "$DROP/day2.csv"
	rs run >"$TMP/$1-later.out" 2>&1
	eq "$1: once settled, the finished file is taken and applied" \
	    "$?,$(qq "SELECT group_concat(status) FROM runs WHERE file_name = 'day2.csv'")" \
	    "0,success"
	eq "$1: the copy is the finished file" \
	    "$(qq "SELECT sha256 FROM files WHERE name = 'day2.csv'")" \
	    "$(sha256sum <"$2" | cut -d' ' -f1)"
	dump >"$TMP/$1.dump"
	check "$1: the directory holds what the finished file says" \
	    cmp -s "$TMP/$1.dump" "$TMP/ref-$3.dump"
}

# Cut short at a row boundary after the first block (the kernel's copy).
stable_case sc-truncate
drop "$TMP/sc2.csv" day2.csv
paused_copy fetch.block:2 16384 "$TMP/sc-truncate.out" \
    truncate -s "$(stat -c %s "$TMP/sc2half.csv")" "$DROP/day2.csv"
contains "truncated: copied by the kernel" "$(cat "$TMP/sc-truncate.out")" \
    "day2.csv: $(stat -c %s "$TMP/sc2half.csv") bytes copied by the kernel"
not_taken truncated "$TMP/sc-truncate.out"
taken_later truncated "$TMP/sc2.csv" sc2

# Rewritten in place, the same size (dd conv=notrunc), copied by hand.
stable_case sc-rewrite
drop "$TMP/sc2.csv" day2.csv
paused_copy fetch.block:2 131072 "$TMP/sc-rewrite.out" \
    dd if="$TMP/sc2b.csv" of="$DROP/day2.csv" conv=notrunc status=none
contains "rewritten: copied by hand" "$(cat "$TMP/sc-rewrite.out")" \
    "day2.csv: $sc2size bytes copied by hand"
not_taken rewritten "$TMP/sc-rewrite.out"
eq "rewritten: the source is the new content" \
    "$(sha256sum <"$DROP/day2.csv")" "$(sha256sum <"$TMP/sc2b.csv")"
taken_later rewritten "$TMP/sc2b.csv" sc2b

# A stalled upload (half of day 2, an hour old) resumes after the last
# block was copied: every byte copied matches, only the size after does.
stable_case sc-append
drop "$TMP/sc2half.csv" day2.csv
nblk=$(( ($(stat -c %s "$TMP/sc2half.csv") + 16383) / 16384 ))
paused_copy "fetch.block:$((nblk + 2))" 16384 "$TMP/sc-append.out" \
    sh -c 'tail -n +1002 "$1" >>"$2"' sh "$TMP/sc2.csv" "$DROP/day2.csv"
contains "appended: after the last of $nblk blocks" \
    "$(cat "$TMP/sc-append.out")" \
    "day2.csv: $(stat -c %s "$TMP/sc2half.csv") bytes copied by the kernel"
not_taken appended "$TMP/sc-append.out"
check "appended: the source is the whole day 2" cmp -s "$DROP/day2.csv" "$TMP/sc2.csv"
taken_later appended "$TMP/sc2.csv" sc2

# Deleted right after it was opened (the whole file is still read).
stable_case sc-delete
drop "$TMP/sc2.csv" day2.csv
paused_copy fetch.block:1 131072 "$TMP/sc-delete.out" rm "$DROP/day2.csv"
not_taken deleted "$TMP/sc-delete.out" gone
taken_later deleted "$TMP/sc2.csv" sc2

# Rewritten between the listing and the open: not the file judged settled.
stable_case sc-listed
drop "$TMP/sc2.csv" day2.csv
paused_copy fetch.start 16384 "$TMP/sc-listed.out" cp "$TMP/sc2b.csv" "$DROP/day2.csv"
not_taken "replaced after the listing" "$TMP/sc-listed.out"
contains "replaced after the listing: the log says how" \
    "$(cat "$TMP/sc-listed.out")" "it changed after it was listed"
taken_later "replaced after the listing" "$TMP/sc2b.csv" sc2b

# run --file: the same check; nothing run, exit 1, the file left alone.
stable_case sc-file
mkdir -p "$SB/admin"
cp "$TMP/sc2.csv" "$SB/admin/day2.csv"
args="run --file $SB/admin/day2.csv" paused_copy fetch.block:3 16384 \
    "$TMP/sc-file.out" truncate -s 100000 "$SB/admin/day2.csv"
eq "run --file, truncated: it paused" "$pause_seen" yes
eq "run --file, truncated: exit 1 (the file named was not run)" "$prc" 1
contains "run --file, truncated: the log says so" "$(cat "$TMP/sc-file.out")" \
    "$SB/admin/day2.csv changed while being read; nothing was run from it"
eq "run --file, truncated: no run, no ledger entry" \
    "$(qq "SELECT count(*) FROM runs"),$(qq "SELECT count(*) FROM files")" "1,1"
eq "run --file, truncated: nothing left in spool/incoming/hr/" \
    "$(find "$SPOOL/incoming/hr" -type f | wc -l)" 0
check "run --file, truncated: the file is left alone" \
    test "$(stat -c %s "$SB/admin/day2.csv")" -eq 100000
cp "$TMP/sc2.csv" "$SB/admin/day2.csv"
rs run --file "$SB/admin/day2.csv" >"$TMP/sc-file2.out" 2>&1
eq "run --file, complete: then it runs" \
    "$?,$(qq "SELECT status FROM runs WHERE file_name = 'day2.csv'")" "0,success"
dump >"$TMP/sc-file.dump"
check "run --file, complete: the directory holds what the file says" \
    cmp -s "$TMP/sc-file.dump" "$TMP/ref-sc2.dump"

# Written again after it was taken (the copy queued by fetch): the run
# applies the copy taken, and the new upload gets its own run.
stable_case sc-after
drop "$TMP/sc2.csv" day2.csv
rs fetch >/dev/null 2>&1
cp "$TMP/sc2b.csv" "$DROP/day2.csv"
touch -d '-30 minutes' "$DROP/day2.csv"
rs run >"$TMP/sc-after.out" 2>&1
contains "written after it was taken: the log says so" \
    "$(cat "$TMP/sc-after.out")" \
    "day2.csv at the source was written again after it was taken"
eq "written after it was taken: the copy taken and the new upload, a run each" \
    "$(qq "SELECT group_concat(sha256) FROM (SELECT sha256 FROM runs WHERE file_name = 'day2.csv' ORDER BY id)")" \
    "$(sha256sum <"$TMP/sc2.csv" | cut -d' ' -f1),$(sha256sum <"$TMP/sc2b.csv" | cut -d' ' -f1)"
dump >"$TMP/sc-after.dump"
check "written after it was taken: the directory holds the newer file" \
    cmp -s "$TMP/sc-after.dump" "$TMP/ref-sc2b.dump"

# --- the spool lock held by another process (flock(1)): deterministic
sandbox lock
drop "$TMP/small.csv" l.csv
if command -v flock >/dev/null; then
	lockf=$SPOOL/rostersync.lock
	flock "$lockf" sleep 3 &
	holder=$!
	n=50	# until the holder has the lock, at most 5 s
	while [ $n -gt 0 ] && flock -n "$lockf" true; do
		sleep 0.1
		n=$((n - 1))
	done
	set_conf lock_wait 0
	rs run >"$TMP/lock1.out" 2>&1
	eq "lock held, lock_wait 0: exit 7" "$?" 7
	contains "lock held: the message says another run holds the lock" \
	    "$(cat "$TMP/lock1.out")" "another rostersync run holds"
	check "lock held: nothing was done (no database yet)" test ! -e "$DB"
	check "lock held: the file stays in the drop-zone" test -f "$DROP/l.csv"
	set_conf lock_wait 60
	rs run >"$TMP/lock2.out" 2>&1
	eq "lock held, lock_wait 60: waits, then runs (exit 0)" "$?" 0
	contains "lock held: the log says it is queued" "$(cat "$TMP/lock2.out")" \
	    "queued, waiting"
	eq "lock held: after the wait the file is processed once" \
	    "$(qq "SELECT count(*) FROM runs WHERE status = 'success'")" 1
	wait $holder
else
	skip "flock(1) is not installed: no deterministic lock test"
fi

# --- two runs at once: one applies, the other waits or exits 7
$GEN --rows 20000 --seed 61 -o "$TMP/20k.csv"
sandbox clean20k
drop "$TMP/20k.csv" big.csv
rs run >/dev/null 2>&1
dump >"$TMP/clean20k.dump"
sandbox race
set_conf lock_wait 120
sed 's/^lock_wait = 120;/lock_wait = 0;/' "$CONF" >"$SB/nowait.conf"
chmod 0640 "$SB/nowait.conf"
drop "$TMP/20k.csv" big.csv
"$ROSTERSYNC" -c "$CONF" run >"$TMP/race-a.out" 2>&1 &
pa=$!
"$ROSTERSYNC" -c "$SB/nowait.conf" run >"$TMP/race-b.out" 2>&1 &
pb=$!
wait_for $pa 300; ra=$?
wait_for $pb 300; rb=$?
echo "# two runs at once: exit statuses $ra (lock_wait 120) and $rb (lock_wait 0)"
check "two runs: the waiting one ends 0" test "$ra" -eq 0
check "two runs: the other ends 0 or 7 (busy)" \
    test "$rb" -eq 0 -o "$rb" -eq 7
if [ "$rb" -eq 7 ]; then
	contains "two runs: exit 7 says another run holds the lock" \
	    "$(cat "$TMP/race-b.out")" "another rostersync run holds"
else
	ok "two runs: no exit 7 this time (the lock_wait 0 run came first or after)"
fi
eq "two runs: one run in all" "$(qq "SELECT count(*) FROM runs")" 1
eq "two runs: one Success for that file" \
    "$(qq "SELECT count(*) FROM runs WHERE file_name = 'big.csv' AND status = 'success'")" 1
dump >"$TMP/race.dump"
check "two runs: the directory equals one clean run" \
    cmp -s "$TMP/race.dump" "$TMP/clean20k.dump"

# --- kill -9 at several moments, then run again: as if nothing happened
$GEN --rows 200000 --seed 71 -o "$TMP/200k.csv"
sandbox clean200k
drop "$TMP/200k.csv" big.csv
rs run >/dev/null 2>&1
eq "crash: the clean run succeeds" "$(status_of 1)" success
dump >"$TMP/clean200k.dump"
# 30 MB: copied by the kernel in 8 MB steps, hashed from the copy's pages
check "a 30 MB export: the kept input is the export, byte for byte" \
    cmp -s "$SPOOL/archive/hr/1-big.csv" "$TMP/200k.csv"
eq "a 30 MB export: the ledger's sha256 is the file's" \
    "$(qq "SELECT sha256 FROM files WHERE id = 1")" \
    "$(sha256sum <"$TMP/200k.csv" | cut -d' ' -f1)"
sandbox crash
drop "$TMP/200k.csv" big.csv
# kill_at WHEN: start a run and kill -9 it. WHEN is a delay in seconds;
# "inprogress[+DELAY]": once this process has recorded its run In Progress;
# "committed": once its run has an outcome (while it archives the input
# and writes the reports). Polls are bounded (30 s).
kill_at() {
	local when=$1 pid n=300 before cond
	before=$(qq "SELECT ifnull(max(id), 0) FROM runs" 2>/dev/null)
	before=${before:-0}
	case $when in
	inprogress*) cond="status = 'in_progress'";;
	committed) cond="status NOT IN ('in_progress', 'queued')";;
	esac
	"$ROSTERSYNC" -c "$CONF" run >>"$TMP/crash.out" 2>&1 &
	pid=$!
	case $when in
	inprogress*|committed)
		while [ "$n" -gt 0 ] && kill -0 $pid 2>/dev/null && [ "$(qq \
		    "SELECT count(*) FROM runs WHERE id > $before AND $cond" \
		    2>/dev/null)" != 1 ]; do
			sleep 0.05
			n=$((n - 1))
		done
		case $when in inprogress+*) sleep "${when#inprogress+}";; esac;;
	*)	sleep "$when";;
	esac
	if kill -0 $pid 2>/dev/null; then
		kill -9 $pid
		echo "# killed the run after $when"
	else
		echo "# the run ended before $when"
	fi
	wait $pid 2>/dev/null
}
for when in 0.1 0.3 0.6 inprogress inprogress+0.5 inprogress+1.5 committed; do
	kill_at $when
done
rs run >"$TMP/crash-final.out" 2>&1
eq "crash: the run after the kills exits 0" "$?" 0
echo "# runs: $(qq "SELECT group_concat(id || ':' || status || ':' || ifnull(error, ''), ' ') FROM runs")"
eq "crash: no run stays In Progress" \
    "$(qq "SELECT count(*) FROM runs WHERE status IN ('in_progress', 'queued')")" 0
eq "crash: every Failed run was interrupted" \
    "$(qq "SELECT count(*) FROM runs WHERE status = 'failed' AND error IS NOT 'interrupted'")" 0
check "crash: at least one run was interrupted In Progress" test \
    "$(qq "SELECT count(*) FROM runs WHERE status = 'failed' AND error = 'interrupted'")" -ge 1
eq "crash: the file was applied by exactly one run" \
    "$(qq "SELECT count(*) FROM runs WHERE status = 'success'")" 1
eq "crash: PRAGMA integrity_check" "$(qq "PRAGMA integrity_check")" ok
dump >"$TMP/crash.dump"
check "crash: the directory equals a clean run's" \
    cmp -s "$TMP/crash.dump" "$TMP/clean200k.dump"
eq "crash: the input is in archive/" "$(ls "$SPOOL/archive/hr" | grep -c 'big\.csv$')" 1
cmp -s "$TMP/200k.csv" "$SPOOL/archive/hr/"*big.csv
eq "crash: the archived input is intact" "$?" 0
eq "crash: the ledger has it processed" \
    "$(qq "SELECT count(*) FROM files WHERE state = 'processed' AND local LIKE '%/archive/hr/%big.csv'")" 1
eq "crash: spool/incoming is empty (no .part left)" \
    "$(find "$SPOOL/incoming" -type f | wc -l)" 0
eq "crash: no temporary report left" \
    "$(find "$SPOOL/reports" -name '.*' -type f | wc -l)" 0
check "crash: the source went to processed/" test -f "$DROP/processed/big.csv"
ok_run=$(qq "SELECT id FROM runs WHERE status = 'success'")
base=$(qq "SELECT report_base FROM runs WHERE id = ${ok_run:-0}")
for ext in csv xlsx log; do
	check "crash: the report .$ext of the run exists" \
	    test -s "$SPOOL/reports/hr/$base.$ext"
done
eq "crash: every finished run has its reports" \
    "$(qq "SELECT count(*) FROM runs WHERE reports_done = 0")" 0

finish
