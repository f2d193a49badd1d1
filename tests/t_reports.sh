#!/bin/bash
# Report files as auditors get them: names from the start time in the
# configured time zone with " (2)" on a collision, mode 0640, which files
# each outcome gets, the XLSX read back by openpyxl equal to the database,
# formulas neutralised in both formats, the report command, journald
# priority prefixes, and retention.
. "$(dirname "$0")/lib.sh"

H=employee_id,email,first_name,last_name,department,title,manager_id,employment_status
mk() { printf '%s\n' "$H" "${@:2}" >"$TMP/$1"; drop "$TMP/$1"; }
files_of() {	# the report files of a run, as extensions
	local base; base=$(q "SELECT report_base FROM runs WHERE id = $1")
	for e in csv xlsx log; do
		[ -f "$SPOOL/reports/hr/$base.$e" ] && printf '%s ' "$e"
	done
}
expected_base() {	# what the name must be, from the run's start time
	TZ=$2 $PYTHON -c 'import sys, time
t = time.localtime(int(sys.argv[1]))
h = t.tm_hour % 12 or 12
print("Sync Logs - %d %s %d %d.%02d%s" % (t.tm_mday, time.strftime("%b", t),
      t.tm_year, h, t.tm_min, "am" if t.tm_hour < 12 else "pm"))' \
	    "$(q "SELECT started FROM runs WHERE id = $1")"
}

# --- names, time zone, collision, mode
sandbox names 'max_delete_percent = 100;'
sed -i 's|timezone = "UTC";|timezone = "America/New_York";|' "$CONF"
mk a.csv "E1,a@x.org,A,A,Eng,Dev,,Active" "E2,b@x.org,B,B,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
mk b.csv "E1,a@x.org,A,A,Eng,Lead,,Active" "E2,b@x.org,B,B,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
b1=$(q "SELECT report_base FROM runs WHERE id = 1")
b2=$(q "SELECT report_base FROM runs WHERE id = 2")
eq "the name is the start time in the configured time zone" "$b1" \
    "$(expected_base 1 America/New_York)"
if [ "$(expected_base 1 America/New_York)" == "$(expected_base 2 America/New_York)" ]; then
	eq "a same-minute collision gets \" (2)\"" "$b2" "$b1 (2)"
else
	eq "the next minute gets its own name" "$b2" "$(expected_base 2 America/New_York)"
fi
for e in csv xlsx log; do
	f=$SPOOL/reports/hr/$b1.$e
	check "$e: named like 'Sync Logs - 15 Jan 2024 10.30pm.$e'" \
	    bash -c "[[ '$(basename "$f")' =~ ^Sync\ Logs\ -\ [0-9]{1,2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9]{1,2}\.[0-9]{2}(am|pm)\.$e\$ ]]"
	eq "$e: mode 0640" "$(stat -c %a "$f" 2>&1)" 640
done
eq "no temporary file is left" "$(ls -A "$SPOOL/reports/hr" | grep -c '^\.')" 0
# libxlsxwriter writes the ZIP as it likes: every part deflated.
eq "xlsx: every part deflated" "$($PYTHON -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print(sorted({i.compress_type for i in z.infolist()}))' \
    "$SPOOL/reports/hr/$b1.xlsx")" "[8]"

# --- which runs get which files
sandbox outcomes 'max_deletes = 1; max_delete_percent = 40;'
rows=(); for i in 1 2 3 4 5 6; do rows+=("E$i,u$i@x.org,U,L$i,Eng,Dev,,Active"); done
mk ok.csv "${rows[@]}"
rs run >/dev/null 2>&1
eq "Success: result report, XLSX and log" "$(files_of 1)" "csv xlsx log "
mk attention.csv "${rows[@]}" "E7,bad,U,L7,Eng,Dev,,Active"
rs run >/dev/null 2>&1
eq "Needs Attention: result report, XLSX and log" "$(status_of 2):$(files_of 2)" "needs_attention:csv xlsx log "
mk fail.csv
rs run >/dev/null 2>&1
eq "Data Load Failed: error log (CSV, XLSX) and log" "$(status_of 3):$(files_of 3)" "data_load_failed:csv xlsx log "
contains "the error log gives the cause" "$(cat "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=3").csv")" "Error log"
mk held.csv "${rows[@]:0:3}"
rs run >/dev/null 2>&1
eq "Above Deactivation Threshold: preview report and log" "$(status_of 4):$(files_of 4)" "above_threshold:csv xlsx log "
eq "the preview lists every would-be deletion" \
    "$(grep -o 'User deleted,E[456],' "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=4").csv" | sort -u | wc -l)" 3
contains "the preview says nothing was applied" "$(cat "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=4").csv")" "Preview report (nothing applied)"
eq "a deletion carries the person's last values, each old -> empty" \
    "$(grep '^Change,User deleted,E4,' "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=4").csv" | cut -d, -f4-8)" \
    "u4@x.org,U L4,email,u4@x.org,
u4@x.org,U L4,first_name,U,
u4@x.org,U L4,last_name,L4,
u4@x.org,U L4,department,Eng,
u4@x.org,U L4,title,Dev,
u4@x.org,U L4,employment_status,Active,"
eq "items --json: the deletion's changes, and its team" \
    "$(rs items 4 --type delete --user E4 --json | $PYTHON -c 'import json,sys; i=json.load(sys.stdin)["items"][0]; print(i["team"], [(c["field"], c["old"], c["new"]) for c in i["changes"]][:2])')" \
    "Eng [('email', 'u4@x.org', ''), ('first_name', 'U', '')]"
q "UPDATE runs SET status = 'failed', error = 'interrupted' WHERE id = 4"
rm -f "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=4")".*
q "UPDATE runs SET reports_done = 0 WHERE id = 4"
rs run >/dev/null 2>&1
eq "Failed: the run log only (rewritten by recovery)" "$(files_of 4)" "log "
rs report 4 >"$TMP/none.out" 2>&1
eq "report of a run that has none: exit 1" "$?" 1
contains "report of a run that has none: says why" "$(cat "$TMP/none.out")" "it has no CSV report"

# --- formulas in HR data are neutralised; the XLSX equals the database
sandbox formula
mk f1.csv "E1,a@x.org,A,A,Eng,Dev,,Active" "E2,b@x.org,B,B,Eng,Dev,E1,Active" \
    "E3,c@x.org,Zoë,Müller,Eng,Dev,E1,Active" "E4,d@x.org,D,D,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
mk f.csv "E1,a@x.org,A,A,Eng,\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",,Active" \
    "E2,b@x.org,B,B,Eng,\"+SUM(1,2)\",E1,Active" \
    "E3,c@x.org,Zoë,Müller,Eng,\"@cmd, \"\"Ops\"\"\",E1,Active" \
    "E4,d@x.org,D,D,Eng,-2,E1,Active" "E5,bad@,E,E,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
base=$(q "SELECT report_base FROM runs WHERE id = 2")
contains "CSV: =HYPERLINK is prefixed with a quote" "$(cat "$SPOOL/reports/hr/$base.csv")" "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
$PYTHON "$TOP/tests/xlsx_dump.py" "$SPOOL/reports/hr/$base.xlsx" >"$TMP/x.dump"
eq "XLSX: no formula cells at all" "$(grep -c $'^CELL\t[^\t]*\t[0-9]*\t[0-9]*\tf\t' "$TMP/x.dump")" 0
eq "XLSX: summary, changes and issues sheets" "$(grep '^SHEET' "$TMP/x.dump" | cut -f2 | tr '\n' ' ')" "Summary Changes Issues "
$PYTHON - "$TMP/x.dump" "$DB" >"$TMP/cmp.out" 2>&1 <<'PY'
import sqlite3, sys
cells = {}
for line in open(sys.argv[1], encoding="utf-8"):
    f = line.rstrip("\n").split("\t")
    if f[0] == "CELL":
        v = f[5].replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
        cells.setdefault(f[1], {}).setdefault(int(f[2]), {})[int(f[3])] = v if f[4] != "-" else ""
db = sqlite3.connect(sys.argv[2])
rows = db.execute("""SELECT i.seq, ifnull(i.key,''), i.email, i.name,
  ifnull(c.field,''), ifnull(c.old,''), ifnull(c.new,'') FROM items i
  LEFT JOIN changes c USING (run_id, seq) WHERE i.run_id = 2
  ORDER BY i.seq, c.n""").fetchall()
sheet = cells["Changes"]
got = [(int(float(sheet[r].get(1, "0"))), sheet[r].get(3, ""), sheet[r].get(4, ""),
        sheet[r].get(5, ""), sheet[r].get(6, ""), sheet[r].get(7, ""),
        sheet[r].get(8, "")) for r in sorted(sheet) if r > 1]
want = [tuple(str(x) if i else x for i, x in enumerate(r)) for r in rows]
print("changes", "same" if got == want else "differ", len(got), len(want))
iss = db.execute("SELECT seq, row, key, email, name, field, message FROM issues WHERE run_id = 2 ORDER BY seq").fetchall()
sheet = cells["Issues"]
got = [(int(float(sheet[r][1])), int(float(sheet[r][3])), sheet[r].get(4, ""),
        sheet[r].get(5, ""), sheet[r].get(6, ""), sheet[r].get(7, ""),
        sheet[r].get(8, "")) for r in sorted(sheet) if r > 1]
print("issues", "same" if got == [tuple(x or "" for x in r) for r in iss] else "differ", len(got))
PY
contains "XLSX Changes read by openpyxl equal the database" "$(cat "$TMP/cmp.out")" "changes same"
contains "XLSX Issues read by openpyxl equal the database" "$(cat "$TMP/cmp.out")" "issues same 1"
eq "an issue carries the email and name its row had" \
    "$(q "SELECT email || '|' || name FROM issues WHERE run_id = 2")" "bad@|E E"
check "the CSV's issue row has them" grep -q '^Issue,User skipped,E5,bad@,E E,email,' \
    "$SPOOL/reports/hr/$base.csv"
eq "items --json: the issue's email and name" \
    "$(rs items 2 --issue user_skipped --json | $PYTHON -c 'import json,sys; i=json.load(sys.stdin)["issues"][0]; print(i["email"], i["name"])')" \
    "bad@ E E"
eq "XLSX: the formula text is a plain string" \
    "$(grep -c $'\ts\t=HYPERLINK("http://x","y")$' "$TMP/x.dump")" 1
rs report 2 --format xlsx -o "$TMP/again.xlsx" >/dev/null 2>&1
$PYTHON "$TOP/tests/xlsx_dump.py" "$TMP/again.xlsx" >"$TMP/again.dump"
eq "report --format xlsx regenerates the same content" \
    "$(grep -v 'Duration\|^META' "$TMP/again.dump" | md5sum)" "$(grep -v 'Duration\|^META' "$TMP/x.dump" | md5sum)"
# The run zipped its XLSX during the transaction and put the summary in
# after: every part is the one libxlsxwriter makes from the database.
eq "report --format xlsx: the same parts, byte for byte" "$($PYTHON -c 'import sys, zipfile
a, b = (zipfile.ZipFile(p) for p in sys.argv[1:3])
names = [i.filename for i in b.infolist()]
print("order" if [i.filename for i in a.infolist()] != names else
      " ".join(n for n in names if n != "docProps/core.xml" and a.read(n) != b.read(n)) or "same")' \
    "$SPOOL/reports/hr/$base.xlsx" "$TMP/again.xlsx")" same
# The run wrote its CSV rows from memory during the transaction; the
# report command reads them from the database.
rs report 2 --format csv >"$TMP/again.csv" 2>/dev/null
eq "report --format csv regenerates the same rows" \
    "$(grep -v '^Summary,,,,,Duration' "$TMP/again.csv" | md5sum)" \
    "$(grep -v '^Summary,,,,,Duration' "$SPOOL/reports/hr/$base.csv" | md5sum)"
check "the CSV has change and issue rows" bash -c \
    "grep -q '^Change,User updated,E1,' '$TMP/again.csv' && grep -q '^Issue,' '$TMP/again.csv'"

# --- the spreadsheet zipped beside the transaction: the files beside its
# temporary one are its thread's while the run writes the others. The
# thread paused in libzip's zip_close() (its temporary file made), the
# run paused before its reports; the run let go first, then the thread
# once the run's CSV is written (after the cleanup of what a dead run
# left).
sandbox race 'max_update_percent = 100;'
mk r1.csv "E1,a@x.org,A,A,Eng,Dev,,Active" "E2,b@x.org,B,B,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
mk r2.csv "E1,a@x.org,A,A,Eng,Lead,,Active" "E2,b@x.org,B,B,Ops,Dev,E1,Active" \
    "E3,bad,C,C,Eng,Dev,E1,Active"
appears() {	# appears TEST...: wait until it holds, 30 s at most
	local n
	for n in $(seq 1 300); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
csvs() { [ "$(ls "$SPOOL/reports/hr" | grep -c '\.csv$')" -ge 2 ]; }
rm -f "$SB/zip.paused" "$SB/run.paused"
ROSTERSYNC_PAUSE=report.splice ROSTERSYNC_PAUSE_FILE=$SB/zip.paused \
    ROSTERSYNC_PAUSE2=run.reported ROSTERSYNC_PAUSE2_FILE=$SB/run.paused \
    "$ROSTERSYNC" -v -c "$CONF" run >"$TMP/race.out" 2>&1 &
pid=$!
appears test -e "$SB/zip.paused" -a -e "$SB/run.paused"
eq "the thread paused in zip_close(), the run before its reports" \
    "$(ls "$SB" | grep -c '\.paused$')" 2
rm -f "$SB/run.paused"
appears csvs
ls -A "$SPOOL/reports/hr" >"$TMP/race.ls"
rm -f "$SB/zip.paused"
wait_for $pid 60
prc=$?
check "libzip's temporary file was there when the CSV was written" \
    grep -q '^\..*\.xlsx\.tmp\.[A-Za-z0-9]\{6\}$' "$TMP/race.ls"
eq "the run ends Needs Attention (exit 6)" "$prc:$(status_of 2)" "6:needs_attention"
check "the thread's libzip file is not removed under it" \
    bash -c "! grep -q 'putting its rows in' '$TMP/race.out'"
check "the spreadsheet is the one zipped beside the transaction" \
    bash -c "! grep -q 'begun early, not finished' '$TMP/race.out'"
base=$(q "SELECT report_base FROM runs WHERE id = 2")
eq "its XLSX is whole (zipfile's CRCs) and no temporary file is left" \
    "$($PYTHON -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).testzip())' \
    "$SPOOL/reports/hr/$base.xlsx" 2>&1):$(ls -A "$SPOOL/reports/hr" | grep -c '^\.')" "None:0"

# --- logging: run and sync on every line, -q and -v (the journal:
# t_journal.sh)
sandbox logs
mk l.csv "E1,a@x.org,A,A,Eng,Dev,,Active" "E2,bad,B,B,Eng,Dev,E1,Active"
JOURNAL_STREAM=8:1234 rs run 2>"$TMP/journal.err" >/dev/null
check "JOURNAL_STREAM naming another stream: plain lines (stderr is not the journal)" \
    grep -q '^rostersync: run 1 sync hr: ' "$TMP/journal.err"
mk l2.csv
rs run 2>"$TMP/journal2.err" >/dev/null
check "a data load failure is an error (journalctl -p err)" grep -q '^rostersync: run 2 sync hr: error: data load failed' "$TMP/journal2.err"
mk l3.csv "E1,a@x.org,A,A,Eng,Dev,,Active" "E2,b@x.org,B,B,Eng,Dev,E1,Active"
rs -q run 2>"$TMP/quiet.err" >/dev/null
eq "-q: no info lines" "$(grep -c 'loaded' "$TMP/quiet.err")" 0
rs run --dry-run --file "$TMP/l3.csv" 2>"$TMP/plain.err" >/dev/null
check "in a terminal: plain lines naming run and sync" \
    grep -q '^rostersync: run [0-9]* sync hr: loaded' "$TMP/plain.err"

# --- retention: old reports and inputs go, and the removal is logged
sandbox keep 'keep_reports_days = 30; keep_inputs_days = 7;'
mk k.csv "E1,a@x.org,A,A,Eng,Dev,,Active"
rs run >/dev/null 2>&1
base=$(q "SELECT report_base FROM runs WHERE id = 1")
touch -d '-40 days' "$SPOOL/reports/hr/$base.csv"
touch -d '-10 days' "$SPOOL/reports/hr/$base.log" "$SPOOL/archive/hr/1-k.csv"
rs run >"$TMP/keep.out" 2>&1
check "a 40-day-old report is removed (keep_reports_days 30)" test ! -e "$SPOOL/reports/hr/$base.csv"
check "a 10-day-old report stays" test -e "$SPOOL/reports/hr/$base.log"
check "a 10-day-old input is removed (keep_inputs_days 7)" test ! -e "$SPOOL/archive/hr/1-k.csv"
contains "the removal is logged" "$(cat "$TMP/keep.out")" "retention: removed report"

finish
