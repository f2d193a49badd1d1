#!/bin/sh
# Regenerate the producer fixtures in fixtures/xlsx/: an export pair
# (producers_day1.csv, producers_day2.csv) and its XLSX twins saved by
# other people's writers, plus a few workbooks for one case each:
#
#   make.py      python3-openpyxl: openpyxl_*.xlsx (normal and write-only
#                mode), and the CSV pair
#   make.js      node: exceljs_*.xlsx and sheetjs_*.xlsx (npm exceljs and
#                xlsx, installed into a scratch directory, never the tree)
#   make_lxw.c   libxlsxwriter: lxw_*.xlsx (constant-memory mode)
#
# Needs python3-openpyxl, node and npm (network, once), cc and
# libxlsxwriter-dev. `make check` needs none of them: the fixtures are
# committed. Run from the top of the tree: sh tests/producers/make.sh
set -eu

out=fixtures/xlsx
here=tests/producers
EXCELJS=${EXCELJS:-exceljs@4.4.0}
SHEETJS=${SHEETJS:-xlsx@0.18.5}
tmp=$(mktemp -d /tmp/producers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$out"

/usr/bin/python3 "$here/make.py" "$out" "$tmp"

${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -o "$tmp/make_lxw" \
    "$here/make_lxw.c" -lxlsxwriter
"$tmp/make_lxw" "$tmp" "$out"

(cd "$tmp" && npm init -y >/dev/null &&
    npm install --no-audit --no-fund --silent "$EXCELJS" "$SHEETJS")
NODE_PATH="$tmp/node_modules" TZ=UTC node "$here/make.js" "$out" "$tmp"

ls -l "$out"/producers_* "$out"/openpyxl_* "$out"/exceljs_* \
    "$out"/sheetjs_* "$out"/lxw_*
