#!/bin/bash
# XLSX inputs end to end: an export and its XLSX twins (converted by
# LibreOffice, saved by openpyxl, exceljs, SheetJS and libxlsxwriter) give
# identical runs and directories; dates as ISO text and ids under a
# zero-padding format change nothing; data on another sheet and required
# columns of formulas never calculated fail with a message that says what
# to do; hostile workbooks end as Data Load Failed with the part and the
# cause named, nothing applied.
. "$(dirname "$0")/lib.sh"

to_xlsx() {	# to_xlsx CSV DIR: LibreOffice's conversion, dates detected
	soffice -env:UserInstallation="file://$TMP/lo-profile" --headless \
	    --infilter="CSV:44,34,76,1,,1033,false,true" --convert-to xlsx \
	    --outdir "$2" "$1" >/dev/null 2>&1
}
items() {	# the items of a run, without the columns that name the file
	q "SELECT i.type, i.status, i.key, i.email, i.name, ifnull(c.field,''), \
ifnull(c.old,''), ifnull(c.new,'') FROM items i LEFT JOIN changes c \
USING (run_id, seq) WHERE i.run_id = $1 ORDER BY i.seq, c.n"
}

if command -v soffice >/dev/null 2>&1; then
	$GEN --rows 3000 --seed 71 -o "$TMP/x1.csv"
	$GEN --mutate "$TMP/x1.csv" --seed 72 --terminate-rate 0.002 \
	    --truth "$TMP/xt.json" -o "$TMP/x2.csv"
	mkdir -p "$TMP/xl"
	to_xlsx "$TMP/x1.csv" "$TMP/xl" && to_xlsx "$TMP/x2.csv" "$TMP/xl"
	check "LibreOffice converted both days" test -s "$TMP/xl/x2.xlsx"
	sandbox csv
	drop "$TMP/x1.csv"; rs run >/dev/null 2>&1
	drop "$TMP/x2.csv"; rs run >/dev/null 2>&1
	csv_items=$(items 2) csv_dir=$(dump)
	sandbox xlsx
	drop "$TMP/xl/x1.xlsx"; rs run >/dev/null 2>&1
	drop "$TMP/xl/x2.xlsx"; rs run >"$TMP/x.out" 2>&1
	contains "the XLSX twin loads as XLSX" "$(cat "$TMP/x.out")" "as XLSX"
	eq "XLSX twin: Success as the CSV" "$(status_of 2)" success
	check "XLSX twin: the run has items" test "$(q "SELECT count(*) FROM items WHERE run_id = 2")" -gt 50
	eq "XLSX twin: the same items, field by field" "$(items 2)" "$csv_items"
	eq "XLSX twin: the same directory" "$(dump)" "$csv_dir"
	eq "dates read as YYYY-MM-DD" "$(q "SELECT json_extract(fields,'\$.start_date') GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]' FROM users LIMIT 1")" 1
else
	skip "soffice (libreoffice-calc-nogui) not installed: no XLSX twin run"
fi

# --- the same export saved by other writers (tests/producers/make.sh):
# ids typed as numbers under the format 0000000, dates as numbers or as
# ISO text (t="d"), notes with CR LF as "_x000D_", "&#13;" or bytes
P=$TOP/fixtures/xlsx
sandbox pcsv
drop "$P/producers_day1.csv"; rs run >/dev/null 2>&1
drop "$P/producers_day2.csv"; rs run >/dev/null 2>&1
eq "the CSV pair: both days Success" "$(status_of 1) $(status_of 2)" \
    "success success"
p_items=$(items 2) p_dir=$(dump)
check "the CSV pair: day 2 creates, updates, moves and deletes" test \
    "$(q "SELECT count(DISTINCT type) FROM items WHERE run_id = 2")" -ge 4
contains "the CSV pair: a two-line note is one field" "$p_dir" \
    '"note":"first line\nsecond line 0"'
for p in openpyxl openpyxl_wo exceljs sheetjs lxw; do
	sandbox "p_$p"
	drop "$P/${p}_day1.xlsx"; rs run >/dev/null 2>&1
	drop "$P/${p}_day2.xlsx"; rs run >/dev/null 2>&1
	eq "$p twins: both days Success, as the CSV" \
	    "$(status_of 1) $(status_of 2)" "success success"
	eq "$p twins: the same items, field by field" "$(items 2)" "$p_items"
	eq "$p twins: the same directory" "$(dump)" "$p_dir"
done

# dates as ISO text (SheetJS: "2010-12-24T00:00:00.000Z") after the same
# dates as numbers (exceljs): nothing changed
sandbox dates
drop "$P/exceljs_day1.xlsx"; rs run >/dev/null 2>&1
drop "$P/sheetjs_day1.xlsx"; rs run >/dev/null 2>&1
eq "t=\"d\" dates after numeric ones: Success, no items" \
    "$(status_of 2) $(q "SELECT count(*) FROM items WHERE run_id = 2")" \
    "success 0"
eq "dates as ISO text read as YYYY-MM-DD" "$(q "SELECT json_extract(fields, \
'\$.start_date') FROM users WHERE key = '0120000'")" 2010-12-24

# ids typed as numbers under 0000000 keep matching the ids HR sent as text
sandbox ids
drop "$P/producers_day1.csv"; rs run >/dev/null 2>&1
before=$(dump)
for p in exceljs sheetjs lxw; do
	drop "$P/${p}_day1.xlsx"; rs run >/dev/null 2>&1
	r=$(last_run)
	eq "$p: zero-padded ids match the directory: no creates, no deletes" \
	    "$(status_of "$r") $(q "SELECT count(*) FROM items WHERE run_id = $r")" \
	    "success 0"
done
eq "zero-padded ids: the directory unchanged" "$(dump)" "$before"

# --- the data on another sheet: the message says which and what to set
sandbox sheet
drop "$P/openpyxl_second_sheet.xlsx"
rs run >/dev/null 2>&1
eq "data on the second sheet: Data Load Failed" "$(status_of 1)" \
    data_load_failed
msg=$(q "SELECT error FROM runs WHERE id = 1")
contains "second sheet: the sheet read is named" "$msg" \
    "the sheet read was 'Read me'"
contains "second sheet: the sheet with the columns is suggested" "$msg" \
    "sheet 'Staff' has the columns, set sheet = \"Staff\" in the sync"
contains "second sheet: the other sheets are listed" "$msg" \
    "other sheets: 'Staff', 'Old staff')"
eq "second sheet: nothing applied" "$(q "SELECT count(*) FROM users")" 0
sandbox sheet_set 'sheet = "Staff";'
drop "$P/openpyxl_second_sheet.xlsx"
rs run >/dev/null 2>&1
eq "second sheet named in the sync: Success, 40 created" \
    "$(status_of 1) $(count_of 1 n_create)" "success 40"
sandbox sheet_none
drop "$TOP/fixtures/xlsx/sheets.xlsx"
rs run >/dev/null 2>&1
msg=$(q "SELECT error FROM runs WHERE id = 1")
contains "no sheet has the columns: the sheet read and the others named" \
    "$msg" "the sheet read was 'Staff' (the workbook's other sheets: 'Secret' (hidden), 'Contractors')"
contains "no sheet has the columns: how to name one" "$msg" \
    'name it with sheet = "..." in the sync'
sandbox sheet_one
drop "$TOP/fixtures/xlsx/lo_text.xlsx"
rs run >/dev/null 2>&1
msg=$(q "SELECT error FROM runs WHERE id = 1")
case "$msg" in
*"missing from the header"*"sheet"*) not_ok "one sheet: no sheet hint" "$msg" ;;
*"missing from the header"*) ok "one sheet: the message alone, no sheet hint" ;;
*) not_ok "one sheet: the message alone, no sheet hint" "$msg" ;;
esac

# --- a required column of formulas never calculated fails the file
for p in openpyxl exceljs; do
	sandbox "f_$p"
	drop "$P/producers_day1.csv"; rs run >/dev/null 2>&1
	before=$(dump)
	drop "$P/${p}_formulas.xlsx"
	rs run >/dev/null 2>&1
	eq "$p: email column of formulas without values: exit 4, Data Load Failed" \
	    "$? $(status_of 2)" "4 data_load_failed"
	contains "$p: the column and the hint named" \
	    "$(q "SELECT error FROM runs WHERE id = 2")" \
	    "none of the 40 data rows has a value in the required column email (formulas never calculated? open and save the file in the spreadsheet, or export values)"
	eq "$p: the directory unchanged" "$(dump)" "$before"
done
# --- a formula with no saved value in a row (openpyxl writes formulas and
# never calculates them): that row is skipped, its person kept as they
# are, the column named; the other rows are applied
sandbox f_rows
printf '%s\n' "employee_id,email,last_name,title,Manager ID" \
    "E1,e1@x.org,One,Boss," "E2,e2@x.org,Two,Dev,E1" "E3,e3@x.org,Three,Dev,E1" \
    "E4,e4@x.org,Four,Dev,E1" >"$TMP/f1.csv"
drop "$TMP/f1.csv"; rs run >/dev/null 2>&1
$PYTHON - "$TMP/f2.xlsx" <<'PY'
import sys
from openpyxl import Workbook
wb = Workbook()
ws = wb.active
ws.append(["employee_id", "email", "last_name", "title", "Manager ID"])
ws.append(["E1", "e1@x.org", "One", "Boss", None])
ws.append(["E2", "e2@x.org", "Two", "Dev", "=VLOOKUP(A3,Managers!A:B,2,FALSE)"])
ws.append(["E3", "e3@x.org", "Three", "Dev", "=VLOOKUP(A4,Managers!A:B,2,FALSE)"])
ws.append(["E4", "e4@x.org", "Four", "Lead", "E1"])
wb.save(sys.argv[1])
PY
drop "$TMP/f2.xlsx"; rs run >/dev/null 2>&1
eq "formulas with no saved value in two rows: exit 6, Needs Attention" \
    "$? $(status_of 2)" "6 needs_attention"
eq "each such row is skipped, the column named, what to do said" \
    "$(q "SELECT row || '|' || key || '|' || field || '|' || message || '|' || fix FROM issues WHERE run_id = 2 ORDER BY seq")" \
    "3|E2|manager_id|manager_id (column 'Manager ID') is a formula with no saved value|open the file in a spreadsheet program and save it, so that it calculates
4|E3|manager_id|manager_id (column 'Manager ID') is a formula with no saved value|open the file in a spreadsheet program and save it, so that it calculates"
eq "their managers are kept" \
    "$(q "SELECT group_concat(key || ':' || manager) FROM (SELECT key, manager FROM users WHERE key IN ('E2','E3') ORDER BY key)")" "E2:E1,E3:E1"
eq "the other rows are applied" "$(q "SELECT group_concat(type || ' ' || key) FROM items WHERE run_id = 2")" "update E4"
sandbox req_empty
printf 'employee_id,email,last_name\nE1,a@example.com,\nE2,b@example.com,\n' \
    >"$TMP/noname.csv"
drop "$TMP/noname.csv"
rs run >/dev/null 2>&1
contains "a required column empty in every row, no formulas: named, no formula hint" \
    "$(q "SELECT error FROM runs WHERE id = 1")" \
    "none of the 2 data rows has a value in the required column last_name (check the export and the sync's mapping)"

# --- a date cell (t="d") whose text is not a date: that row is skipped,
# with an issue that says so
sandbox baddate
$PYTHON -c '
import sys
sys.path.insert(0, "'"$TOP"'/tests")
import xlsx_helper as x
rows = ["<row r=\"1\">%s</row>" % "".join(x.istr("%s1" % c, h) for c, h in
        zip("ABCD", ("employee_id", "email", "last_name", "start_date")))]
for i, (k, d) in enumerate((("E1", "2021-02-03"), ("E2", "soon")), start=2):
    rows.append("<row r=\"%d\">%s%s%s<c r=\"D%d\" t=\"d\"><v>%s</v></c></row>" % (
        i, x.istr("A%d" % i, k), x.istr("B%d" % i, k.lower() + "@x.org"),
        x.istr("C%d" % i, "L"), i, d))
x.write_zip(sys.argv[1], x.minimal(x.sheet_xml("".join(rows))))
' "$TMP/baddate.xlsx"
drop "$TMP/baddate.xlsx"
rs run >/dev/null 2>&1
eq "a t=\"d\" cell that is not a date: the row is skipped" "$(status_of 1):$(q "SELECT group_concat(key) FROM users")" needs_attention:E1
eq "a t=\"d\" cell that is not a date: the issue says so" "$(q "SELECT row || '|' || field || '|' || message FROM issues WHERE run_id = 1")" "3|start_date|start_date is a date cell whose text 'soon' is not a date"

# --- hostile workbooks: Data Load Failed, directory unchanged
sandbox hostile
$GEN --rows 50 --seed 73 -o "$TMP/base.csv"
drop "$TMP/base.csv"; rs run >/dev/null 2>&1
before=$(dump)
mkdir -p "$TMP/h"
$PYTHON "$TOP/tests/xlsx_helper.py" hostile "$TMP/h" \
    "$TOP/fixtures/xlsx/lo_ids_dates.xlsx" >/dev/null 2>&1
n=0
# (bomb_lie, row_beyond, huge_cell fail at the mapping first: a header row
# without the HR columns comes before the fault; test_load_xlsx has them.)
for k in bomb corrupt_cd corrupt_data doctype doctype_sst malformed \
    missing_book missing_sheet truncated wide_header bad_sst all_hidden; do
	f=$TMP/h/$k.xlsx
	[ -f "$f" ] || { not_ok "hostile file $k.xlsx was made"; continue; }
	n=$((n + 1))
	name=$(basename "$f")
	drop "$f"
	timeout 60 "$ROSTERSYNC" -c "$CONF" run >"$TMP/$name.out" 2>&1
	rc=$?
	r=$(last_run)
	case "$rc" in
	4) ok "$name: Data Load Failed (exit 4)" ;;
	*) not_ok "$name: exit $rc, status $(status_of $r)" "$(tail -3 "$TMP/$name.out")" ;;
	esac
	msg=$(q "SELECT error FROM runs WHERE id = $r")
	contains "$name: the message names the file" "$msg" "$name:"
	case "$msg" in
	*"missing from the header"*|*"lacks the mapped"*|*"no data rows"*)
		not_ok "$name: the reader itself refused it" "$msg" ;;
	*) ok "$name: the reader itself refused it" ;;
	esac
	eq "$name: directory unchanged" "$(dump)" "$before"
done
check "the hostile corpus is not empty" test "$n" -ge 5
contains "a zip bomb is named as such" \
    "$(q "SELECT group_concat(error, ' | ') FROM runs WHERE status = 'data_load_failed'")" "zip bomb"
contains "malformed XML names the part" \
    "$(q "SELECT group_concat(error, ' | ') FROM runs WHERE status = 'data_load_failed'")" "xl/worksheets/"

# --- the format is chosen by content, never by name
sandbox fmt 'format = "csv";'
cp "$TOP/fixtures/xlsx/lo_ids_dates.xlsx" "$TMP/looks.csv"
drop "$TMP/looks.csv"
rs run >/dev/null 2>&1
contains "an XLSX named .csv for a csv sync: refused" \
    "$(q "SELECT error FROM runs WHERE id = 1")" "sync's format is csv"
sandbox fmtx 'format = "xlsx";'
cp "$TMP/h/notzip.xlsx" "$TMP/notzip.xlsx"
drop "$TMP/notzip.xlsx"
rs run >/dev/null 2>&1
contains "a non-ZIP file for an xlsx sync: refused" \
    "$(q "SELECT error FROM runs WHERE id = 1")" "not an XLSX workbook"
sandbox auto
$GEN --rows 20 --seed 74 -o "$TMP/named.xlsx"
drop "$TMP/named.xlsx"
rs run >/dev/null 2>&1
eq "a CSV named .xlsx loads as CSV (auto)" "$(status_of 1)" success

finish
