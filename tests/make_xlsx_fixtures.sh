#!/bin/sh
# Regenerate the XLSX fixtures of test_load_xlsx in fixtures/xlsx/.
#
#   tests/mkxlsx.c (libxlsxwriter)  ids_dates, sheets, rich_unicode, sparse
#   tests/xlsx_helper.py handmade   inline (inline strings, prefixed
#                                   namespaces, errors), date1904,
#                                   dates_text (t="d"), lines (line ends,
#                                   formulas without values)
#   tests/producers/make.sh         openpyxl_*, exceljs_*, sheetjs_*, lxw_*
#                                   and the CSV pair they are twins of
#   LibreOffice from CSV            lo_ids_dates, lo_text
#
# Needs: cc, libxlsxwriter-dev, python3, soffice (libreoffice-calc-nogui).
# Run from the top of the tree: sh tests/make_xlsx_fixtures.sh
set -eu

out=fixtures/xlsx
tmp=$(mktemp -d /tmp/mkxlsx.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$out"

${CC:-cc} -std=c11 -Wall -Wextra -o "$tmp/mkxlsx" tests/mkxlsx.c -lxlsxwriter
"$tmp/mkxlsx" "$out"

python3 tests/xlsx_helper.py handmade "$out"

cat > "$tmp/lo_ids_dates.csv" <<'EOF'
employee_id,name,start_date,salary,manager_id
1001,Ann Lee,2003-05-01,52000.5,
20000001,José Müller,2020-12-31,61000,1001
123456789012345,山田 太郎,1999-02-28,70000.25,20000001
EOF
cat > "$tmp/lo_text.csv" <<'EOF'
employee_id,display_name,title,location,note
E0000001,"Lee, Ann","""Acting"" Lead",Zürich,😀 ok
E0000002,Zoë Ødegård,Engineer II,東京,"two
lines"
EOF

# Comma, double quote, UTF-8 (76), from line 1, en-US, detect dates.
for f in lo_ids_dates lo_text; do
	soffice -env:UserInstallation="file://$tmp/profile" --headless \
	    --infilter="CSV:44,34,76,1,,1033,false,true" \
	    --convert-to xlsx --outdir "$out" "$tmp/$f.csv" >/dev/null
done
ls -l "$out"
