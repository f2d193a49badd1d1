#!/bin/bash
# The corpus of bad inputs (fixtures/bad/, README there; the big files are
# made at test time by tests/make_bad.py big): each is dropped as day 2 of
# a sync whose day 1 (fixtures/bad/day1.csv) is applied, and must end as
# its table below says, within 120 s and without crashing: Data Load
# Failed with a message naming the file and the cause (the directory
# unchanged), Needs Attention with the issue naming the row and field
# (the directory as after good2.csv, the same day 2 without the damage),
# or Success where the input is valid after all.
. "$(dirname "$0")/lib.sh"

BAD=$TOP/fixtures/bad
BIG=$TMP/big
if ! $PYTHON "$TOP/tests/make_bad.py" big "$BIG" 2>"$TMP/make_bad.err"; then
	not_ok "make_bad.py big makes the big files" "$(cat "$TMP/make_bad.err")"
	finish
fi
ok "make_bad.py big makes the big files ($(du -sh "$BIG" | cut -f1))"

# The committed corpus is what make_bad.py small writes.
$PYTHON "$TOP/tests/make_bad.py" small "$TMP/small"
# (ZIP files by their members: zipfile's bytes vary with Python's version)
eq "fixtures/bad/ is what make_bad.py small makes" "$($PYTHON - "$BAD" \
    "$TMP/small" <<'EOF'
import os, sys, zipfile
a, b = sys.argv[1], sys.argv[2]
names = sorted((set(os.listdir(a)) | set(os.listdir(b))) - {"README"})
for n in names:
    pa, pb = os.path.join(a, n), os.path.join(b, n)
    if not (os.path.exists(pa) and os.path.exists(pb)):
        print("only in one:", n)
    elif n.endswith((".xlsx", ".zip")):
        za, zb = zipfile.ZipFile(pa), zipfile.ZipFile(pb)
        if [(i.filename, za.read(i)) for i in za.infolist()] != \
                [(i.filename, zb.read(i)) for i in zb.infolist()]:
            print("differs:", n)
    elif open(pa, "rb").read() != open(pb, "rb").read():
        print("differs:", n)
EOF
)" ""

# The references: day 1, then day 1 and good2.csv.
sandbox ref
drop "$BAD/day1.csv" day1.csv
rs run >/dev/null 2>&1
eq "day 1 is applied" "$?:$(q "SELECT count(*) FROM users")" "0:10"
dump >"$TMP/day1.dump"
drop "$BAD/good2.csv" good2.csv
rs run >/dev/null 2>&1
eq "good2.csv is applied: one update" "$?:$(count_of 2 n_update)" "0:1"
dump >"$TMP/good2.dump"

# FILE OUTCOME ROW FIELD TEXT
#   dlf:   exit 4, Data Load Failed, the error is "FILE: ...TEXT..."
#   issue: exit 6, Needs Attention, an issue on ROW, FIELD (- for none)
#          whose message has TEXT; only the good rows applied
#   ok:    exit 0, Success, the same as good2.csv
#   enc:   exit 0, Success, every row read, the whole file in one
#          encoding that the run names (TEXT); ROW is the first not UTF-8
# A file name starting with big/ is made at test time.
cases='
utf8_invalid_row.csv	enc	6	-	read as Windows-1252: the file is not valid UTF-8 (row 6, byte offset
utf8_invalid_header.csv	enc	1	-	read as Windows-1252: the file is not valid UTF-8 (row 1, byte offset
utf16le_nobom.csv	dlf	-	-	NUL byte at offset 1: this is not a text file (UTF-16 without a byte-order mark?)
nul_byte.csv	dlf	-	-	NUL byte at offset 270
big/field_10mb.csv	issue	6	title	title is longer than 65536 bytes
big/field_17mb.csv	dlf	-	-	a field longer than 16777216 bytes at row 6
big/columns_100k.csv	dlf	-	-	the header has more than 1024 columns
big/columns_100k_row.csv	issue	6	-	the row has more values than the header has columns
extra_values.csv	issue	6	-	the row has more values than the header has columns
unterminated_quote.csv	dlf	-	-	unterminated quoted field starting at row 12
mixed_delimiters.csv	dlf	-	-	row 6 is one value with 6 semicolons in it although the header has 7 columns
duplicate_headers.csv	dlf	-	-	duplicate column name '"'"'email'"'"' in columns 2 and 8
header_only.csv	dlf	-	-	the file has a header but no data rows
bom_only.csv	dlf	-	-	the file is empty
empty.csv	dlf	-	-	the file is empty
blank_lines.csv	dlf	-	-	the file is empty
truncated.csv	dlf	-	-	the file ends inside row 11
sep_semicolon.csv	ok	-	-	-
sep_wrong.csv	dlf	-	-	the key column '"'"'employee_id'"'"' is missing from the header
formula_ids.csv	dlf	-	-	none of the 10 data rows has a value in the key column employee_id
not_xlsx.zip	dlf	-	-	missing part xl/workbook.xml
big/zip_bomb.xlsx	dlf	-	-	xl/worksheets/sheet1.xml: decompressed size exceeds 200 times the compressed size (zip bomb?)
big/empty_rows_1m.xlsx	dlf	-	-	the file is empty: no header row
big/people_then_1m_empty_rows.xlsx	ok	-	-	-
formula_ids_nocache.xlsx	dlf	-	-	none of the 10 data rows has a value in the key column employee_id
formula_ids_cached.xlsx	ok	-	-	-
cell_error.xlsx	issue	6	title	title holds a spreadsheet error, not a value
'

# day2 FILE NAME: a sandbox with day 1 applied, FILE dropped as NAME and
# run; sets RC, OUT (the run's output) and RSS (its peak, in KiB).
day2() {
	local file=$1 name=$2
	sandbox "b-${name//[^A-Za-z0-9]/_}"
	drop "$BAD/day1.csv" day1.csv
	rs run >/dev/null 2>&1
	drop "$file" "$name"
	OUT=$SB/run.out
	/usr/bin/time -f %M -o "$SB/rss" timeout 120 "$ROSTERSYNC" -c "$CONF" \
	    run >"$OUT" 2>&1
	RC=$?
	RSS=$(tail -1 "$SB/rss")
}

# Peak memory of one run, KiB (AddressSanitizer's shadow and quarantine
# take their share).
RSS_MAX=100000
[ "${SANITIZE:-}" == 1 ] && RSS_MAX=1000000
n=0
while IFS='	' read -r file outcome row field text; do
	[ -n "$file" ] || continue
	n=$((n + 1))
	name=${file#big/}
	case $file in big/*) path=$BIG/$name;; *) path=$BAD/$file;; esac
	day2 "$path" "$name"
	check "$name: ends by itself, no crash or hang (exit $RC, ${RSS} KiB)" \
	    test "$RC" -lt 124
	eq "$name: no sanitizer or memory error" \
	    "$(grep -cE 'AddressSanitizer|LeakSanitizer|runtime error:' "$OUT")" 0
	check "$name: memory stays bounded (< $((RSS_MAX / 1000)) MB)" \
	    test "${RSS:-0}" -lt "$RSS_MAX"
	case $outcome in
	dlf)
		eq "$name: Data Load Failed, exit 4" "$RC:$(status_of 2)" \
		    "4:data_load_failed"
		contains "$name: the error names the file and the cause" \
		    "$(q "SELECT error FROM runs WHERE id = 2")" "$name: $text"
		contains "$name: the log says so" "$(cat "$OUT")" \
		    "data load failed: $name: $text"
		dump >"$SB/after.dump"
		check "$name: the directory is unchanged" \
		    cmp -s "$SB/after.dump" "$TMP/day1.dump"
		eq "$name: nothing applied" \
		    "$(q "SELECT count(*) FROM items WHERE run_id = 2 AND status = 'applied'")" 0
		check "$name: the input is kept in failed/" \
		    cmp -s "$path" "$SPOOL/failed/hr/2-$name"
		base=$(q "SELECT report_base FROM runs WHERE id = 2")
		contains "$name: the error log says what is wrong" \
		    "$(cat "$SPOOL/reports/hr/$base.log" 2>/dev/null)" "$text";;
	issue)
		eq "$name: Needs Attention, exit 6" "$RC:$(status_of 2)" \
		    "6:needs_attention"
		[ "$field" == - ] && field=
		contains "$name: the issue names the row and the field" \
		    "$(q "SELECT row || '|' || ifnull(field, '') || '|' || message FROM issues WHERE run_id = 2")" \
		    "$row|$field|$text"
		eq "$name: one row skipped" "$(count_of 2 skipped)" 1
		dump >"$SB/after.dump"
		check "$name: only the good rows are applied" \
		    cmp -s "$SB/after.dump" "$TMP/good2.dump"
		check "$name: the input is archived" \
		    cmp -s "$path" "$SPOOL/archive/hr/2-$name";;
	enc)
		eq "$name: Success, exit 0" "$RC:$(status_of 2)" "0:success"
		contains "$name: the run says how it was read" \
		    "$(q "SELECT encoding_note FROM runs WHERE id = 2")" "$text"
		eq "$name: no row skipped" "$(count_of 2 skipped)" 0
		contains "$name: the log says so" "$(cat "$OUT")" "$text";;
	ok)
		eq "$name: Success, exit 0" "$RC:$(status_of 2)" "0:success"
		dump >"$SB/after.dump"
		check "$name: the same directory as good2.csv" \
		    cmp -s "$SB/after.dump" "$TMP/good2.dump";;
	esac
done <<<"$cases"
check "at least 25 bad inputs were tried ($n)" test "$n" -ge 25

# Formulas as text in some ids of a CSV: they are only text to us (two
# new people), and the reports neutralise them for spreadsheets.
day2 "$BAD/formula_ids_some.csv" formula_ids_some.csv
eq "formula_ids_some.csv: applied, exit 0" "$RC:$(count_of 2 n_create)" 0:2
base=$(q "SELECT report_base FROM runs WHERE id = 2")
contains "formula_ids_some.csv: the CSV report neutralises =1+1" \
    "$(cat "$SPOOL/reports/hr/$base.csv")" ",\"'=1+1\","
check "formula_ids_some.csv: no report cell starts with =" \
    test "$(grep -c '[,"]=' "$SPOOL/reports/hr/$base.csv")" -eq 0

# A second run after each failure has nothing left to do.
rs run >"$SB/again.out" 2>&1
eq "after the bad inputs, the next run exits 0" "$?" 0

finish
