#!/usr/bin/env bash
# t_genexport.sh - tests for tests/genexport.py and tests/difftruth.py.
# Run from anywhere (normally the repo root); uses $TMP as scratch space
# (a fresh mktemp -d if unset).  Prints TAP lines, exits 1 on any failure.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
GEN="$ROOT/tests/genexport.py"
DIFF="$ROOT/tests/difftruth.py"
GEN_HR="$ROOT/../shared/bench/gen_hr.py"
if [ -z "${TMP:-}" ]; then
    TMP=$(mktemp -d) || exit 1
    trap 'rm -rf "$TMP"' EXIT      # only the directory made here
fi
W="$TMP/t_genexport"
rm -rf "$W" && mkdir -p "$W" || { echo "not ok 1 - scratch dir $W"; exit 1; }

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() {  # check DESC CMD...: ok when CMD succeeds; its output on failure
    local desc=$1; shift
    if "$@" >"$W/last.out" 2>&1; then ok "$desc"; else
        not_ok "$desc"; sed 's/^/#   /' "$W/last.out" | head -20; fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

gen() { "$PY" "$GEN" "$@"; }

# ---------------------------------------------------------------- helpers
# Structural checks on an export (the plain dialect).
cat >"$W/shape.py" <<'EOF'
import csv, re, sys, collections
path, mode = sys.argv[1], sys.argv[2]      # mode: base ROWS | next
HEADER = ("employee_id,email,first_name,last_name,display_name,department,"
          "title,manager_id,location,employment_status,start_date,"
          "cost_center").split(",")
with open(path, newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f))
errs = []
def bad(msg):
    errs.append(msg)
if rows[0] != HEADER:
    bad("header %r" % rows[0])
rows = rows[1:]
ids = [r[0] for r in rows]
idset = set(ids)
if len(idset) != len(ids):
    bad("duplicate employee_id")
emails = [r[1] for r in rows]
if len(set(emails)) != len(emails):
    bad("duplicate email")
reports = collections.Counter()
roots = 0
for r in rows:
    if len(r) != 12:
        bad("row %r has %d fields" % (r[0], len(r))); continue
    eid, email, first, last = r[0], r[1], r[2], r[3]
    if not re.fullmatch(r"E\d{7}", eid):
        bad("id %r" % eid)
    if not re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+\.%d@example\.com"
                        % int(eid[1:]), email):
        bad("email %r for %s" % (email, eid))
    if r[7] == "":
        roots += 1
    else:
        if r[7] not in idset:
            bad("%s: manager %s missing" % (eid, r[7]))
        if int(r[7][1:]) >= int(eid[1:]):
            bad("%s: manager %s not smaller" % (eid, r[7]))
        reports[r[7]] += 1
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", r[10]):
        bad("start_date %r" % r[10])
    if not re.fullmatch(r"CC-\d{4}", r[11]):
        bad("cost_center %r" % r[11])
if roots != 1:
    bad("%d roots" % roots)
status = collections.Counter(r[9] for r in rows)
if mode == "base":
    want = int(sys.argv[3])
    if len(rows) != want:
        bad("%d rows, want %d" % (len(rows), want))
    if ids != ["E%07d" % i for i in range(1, want + 1)]:
        bad("ids not E0000001.. in order")
    if set(status) - {"Active", "On Leave", "Part-Time", "Contractor"}:
        bad("statuses %r" % status)
    if status["Active"] < 0.75 * len(rows):
        bad("too few Active: %r" % status)
    counts = sorted(reports.values())
    # every manager 5-10 reports, except possibly the last one filled
    if counts and (counts[1:] and counts[1] < 5 or counts[-1] > 10):
        bad("reports per manager %d..%d" % (counts[0], counts[-1]))
    mgr_share = len(reports) / len(rows)
    if not 0.08 <= mgr_share <= 0.2:
        bad("managers are %.3f of rows" % mgr_share)
    intl = sum(1 for r in rows if not (r[2] + r[3]).isascii())
    if not 0.07 <= intl / len(rows) <= 0.13:
        bad("non-ASCII names %.3f" % (intl / len(rows)))
    for script, lo, hi in (("Cyrillic", "\u0400", "\u04ff"),
                           ("Greek", "\u0370", "\u03ff"),
                           ("CJK", "\u4e00", "\u9fff")):
        if not any(lo <= ch <= hi for r in rows for ch in r[3]):
            bad("no %s names" % script)
    for col in (4, 5, 6, 8):
        vals = [r[col] for r in rows]
        if not any("," in v for v in vals) or not any('"' in v for v in vals):
            bad("column %s lacks commas or quotes" % HEADER[col])
print("\n".join(errs[:20]))
sys.exit(1 if errs else 0)
EOF

# Parse FILE, written with the genexport dialect OPTIONS, using the csv
# module with explicitly given settings; compare with PLAIN's records and
# check that the bytes really are in that dialect.
cat >"$W/dialect.py" <<'EOF'
import argparse, csv, io, sys
plain, path = sys.argv[1], sys.argv[2]
ap = argparse.ArgumentParser()
ap.add_argument("--delimiter", default=",")
for flag in ("--bom", "--crlf", "--quote-all", "--sep-line",
             "--trailing-blank"):
    ap.add_argument(flag, action="store_true")
ap.add_argument("--utf16")
o = ap.parse_args(sys.argv[3:])
delim = "\t" if o.delimiter == "tab" else o.delimiter
eol = "\r\n" if o.crlf else "\n"
data = open(path, "rb").read()
errs = []
if o.utf16:
    bom = b"\xff\xfe" if o.utf16 == "le" else b"\xfe\xff"
    if not data.startswith(bom):
        errs.append("no UTF-16 BOM")
    text = data[2:].decode("utf-16-" + o.utf16)
elif o.bom:
    if not data.startswith(b"\xef\xbb\xbf"):
        errs.append("no UTF-8 BOM")
    text = data[3:].decode("utf-8")
else:
    if data.startswith(b"\xef\xbb\xbf"):
        errs.append("unexpected BOM")
    text = data.decode("utf-8")
if o.crlf and text.count("\r\n") != text.count("\n"):
    errs.append("bare LF in a CRLF file")
if not o.crlf and "\r" in text:
    errs.append("CR in an LF file")
if o.sep_line:
    first, _, text = text.partition(eol)
    if first != "sep=" + delim:
        errs.append("first line %r" % first)
elif text.startswith("sep="):
    errs.append("unexpected sep= line")
if o.trailing_blank != text.endswith(eol + eol):
    errs.append("trailing blank line")
head = text.split(eol, 1)[0]
if o.quote_all != head.startswith('"employee_id"'):
    errs.append("quoting of the header %r" % head[:40])
if head.replace('"', "").count(delim) != 11:
    errs.append("delimiter %r in header %r" % (delim, head[:60]))
got = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim)
       if r]
with open(plain, newline="", encoding="utf-8") as f:
    want = [r for r in csv.reader(f) if r]
if got != want:
    errs.append("records differ (%d vs %d rows)" % (len(got), len(want)))
print("\n".join(errs))
sys.exit(1 if errs else 0)
EOF

# Compare two JSON files on the given keys (all count keys by default).
cat >"$W/same_counts.py" <<'EOF'
import json, sys
a, b = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
keys = sys.argv[3:] or ["prev_rows", "next_rows", "creates", "deletes",
                        "updates", "manager_changes", "changed_rows",
                        "field_changes", "field_changes_by_column",
                        "terminations"]
bad = [k for k in keys if a.get(k) != b.get(k)]
for k in bad:
    print("%s: %r vs %r" % (k, a.get(k), b.get(k)))
sys.exit(1 if bad else 0)
EOF

# Assertions on one truth file: python expression over `t` must be true.
truth_is() {
    "$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); ok=eval(sys.argv[2]); print(json.dumps(t)) if not ok else None; sys.exit(0 if ok else 1)' "$1" "$2"
}

# ---------------------------------------------------------------- base
gen --rows 10000 --seed 1 -o "$W/base.csv"
gen --rows 10000 --seed 1 -o "$W/base2.csv"
gen --rows 10000 --seed 2 -o "$W/base_s2.csv"
check "same seed gives a byte-identical base export" cmp "$W/base.csv" "$W/base2.csv"
check "different seed gives a different base export" \
    bash -c '! cmp -s "$1" "$2"' _ "$W/base.csv" "$W/base_s2.csv"
gen --rows 10000 --seed 1 >"$W/base_stdout.csv"
check "stdout output equals -o output" cmp "$W/base.csv" "$W/base_stdout.csv"
check "base export shape (header, ids, tree of 5-10 reports, emails, names, quoting, statuses)" \
    "$PY" "$W/shape.py" "$W/base.csv" base 10000
check "base export needs RFC 4180 quoting" grep -q '""' "$W/base.csv"

# ---------------------------------------------------------------- mutate
gen --mutate "$W/base.csv" --seed 5 --truth "$W/next.json" -o "$W/next.csv"
gen --mutate "$W/base.csv" --seed 5 --truth "$W/next2.json" -o "$W/next2.csv"
check "same seed gives a byte-identical next-day export" cmp "$W/next.csv" "$W/next2.csv"
check "same seed gives an identical truth file" cmp "$W/next.json" "$W/next2.json"
check "next-day export is still a tree with unique ids and emails" \
    "$PY" "$W/shape.py" "$W/next.csv" next
check "truth has the default-rate counts" truth_is "$W/next.json" \
    't["prev_rows"]==10000 and t["creates"]==50 and t["deletes"]==50 and t["updates"]==100 and t["manager_changes"]==50 and t["changed_rows"]==150 and t["terminations"]==0 and t["next_rows"]==10000 and t["field_changes"]==sum(t["field_changes_by_column"].values())'
check "next-day rows are shuffled" \
    bash -c '! sed 1d "$1" | cut -d, -f1 | sort -c 2>/dev/null' _ "$W/next.csv"
check "10,000-row base+mutate truth equals difftruth.py exactly" \
    "$PY" "$DIFF" "$W/base.csv" "$W/next.csv" --compare "$W/next.json"
"$PY" "$DIFF" "$W/base.csv" "$W/next.csv" >"$W/next.diff.json" 2>&1
check "difftruth.py JSON has every truth key with the same values" \
    "$PY" "$W/same_counts.py" "$W/next.json" "$W/next.diff.json"

gen --mutate "$W/base.csv" --seed 6 --update-rate 0.08 --delete-rate 0.03 \
    --hire-rate 0.04 --manager-rate 0.05 --terminate-rate 0.02 \
    --truth "$W/busy.json" -o "$W/busy.csv"
check "high-rate mutate (all kinds of change) truth equals difftruth.py" \
    "$PY" "$DIFF" "$W/base.csv" "$W/busy.csv" --compare "$W/busy.json"
check "high-rate next-day export is still a tree" "$PY" "$W/shape.py" "$W/busy.csv" next
gen --mutate "$W/busy.csv" --seed 7 --update-rate 0.05 --terminate-rate 0.02 \
    --truth "$W/busy2.json" -o "$W/busy2.csv"
check "mutating a mutated export (with Terminated rows) still matches difftruth.py" \
    "$PY" "$DIFF" "$W/busy.csv" "$W/busy2.csv" --compare "$W/busy2.json"

# ---------------------------------------------------------------- terminations
gen --mutate "$W/base.csv" --seed 9 --terminate-rate 0.02 \
    --truth "$W/term.json" -o "$W/term.csv"
check "--terminate-rate rows are counted in terminations only" truth_is "$W/term.json" \
    't["terminations"]==200 and t["updates"]==100 and t["changed_rows"]==150 and "employment_status" not in t["field_changes_by_column"]'
check "the output has exactly that many Terminated rows" \
    bash -c '[ "$(grep -c ",Terminated," "$1")" = 200 ]' _ "$W/term.csv"
check "terminations agree with difftruth.py" \
    "$PY" "$DIFF" "$W/base.csv" "$W/term.csv" --compare "$W/term.json"
check "terminated rows are leaves nobody reports to" "$PY" - "$W/term.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
gone = {r["employee_id"] for r in rows if r["employment_status"] == "Terminated"}
sys.exit(1 if any(r["manager_id"] in gone for r in rows) else 0)
EOF

# ---------------------------------------------------------------- dialects
dialects=(
    "--delimiter ;"
    "--delimiter tab"
    "--delimiter |"
    "--bom"
    "--crlf"
    "--quote-all"
    "--utf16 le"
    "--utf16 be"
    "--sep-line"
    "--sep-line --delimiter ;"
    "--trailing-blank"
    "--utf16 le --crlf --sep-line --delimiter tab --quote-all --trailing-blank"
    "--bom --crlf --delimiter | --trailing-blank"
)
i=0
for d in "${dialects[@]}"; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    gen --rows 10000 --seed 1 $d -o "$W/dia$i.csv"
    # shellcheck disable=SC2086
    check "base $d: same records as the plain file" \
        "$PY" "$W/dialect.py" "$W/base.csv" "$W/dia$i.csv" $d
done
for d in "--utf16 be --crlf" "--delimiter ; --sep-line --quote-all --bom"; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    gen --mutate "$W/base.csv" --seed 5 $d --truth "$W/dia$i.json" -o "$W/dia$i.csv"
    # shellcheck disable=SC2086
    check "mutate $d: same records as the plain next-day file" \
        "$PY" "$W/dialect.py" "$W/next.csv" "$W/dia$i.csv" $d
    check "mutate $d: same truth" "$PY" "$W/same_counts.py" "$W/next.json" "$W/dia$i.json"
done
gen --mutate "$W/dia8.csv" --seed 5 --truth "$W/from16.json" -o "$W/from16.csv"
check "--mutate reads a UTF-16 BE input like the plain one" cmp "$W/next.csv" "$W/from16.csv"
check "difftruth.py reads dialect files (UTF-16 prev, sep=/;/BOM next)" \
    "$PY" "$DIFF" "$W/dia7.csv" "$W/dia$i.csv" --compare "$W/next.json"

# ---------------------------------------------------------------- faults
gen --rows 10000 --seed 1 --drop-fraction 0.5 -o "$W/half.csv"
check "--drop-fraction 0.5 keeps 5,000 of the base rows, unchanged" "$PY" - "$W/base.csv" "$W/half.csv" <<'EOF'
import csv, sys
full, half = ([tuple(r) for r in csv.reader(open(p, newline="", encoding="utf-8"))]
              for p in sys.argv[1:3])
sys.exit(0 if full[0] == half[0] and len(half) == 5001
         and set(half) <= set(full) else 1)
EOF
gen --mutate "$W/base.csv" --seed 5 --drop-fraction 0.5 --truth "$W/halfnext.json" -o "$W/halfnext.csv"
check "mutate --drop-fraction 0.5: dropped rows are deletes, truth equals difftruth.py" \
    "$PY" "$DIFF" "$W/base.csv" "$W/halfnext.csv" --compare "$W/halfnext.json"
check "mutate --drop-fraction 0.5 really misses half the employees" truth_is "$W/halfnext.json" \
    't["deletes"]==5050 and t["next_rows"]==5000'
gen --rows 10000 --seed 1 --truncate-bytes 100000 -o "$W/cut.csv"
check "--truncate-bytes 100000 gives a 100000-byte prefix of the full file" \
    bash -c '[ "$(wc -c <"$1")" = 100000 ] && cmp -s "$1" "$2" -n 100000 && [ -n "$(tail -c 1 "$1")" ]' _ "$W/cut.csv" "$W/base.csv"
"$PY" "$DIFF" "$W/base.csv" "$W/cut.csv" >/dev/null 2>&1
check "difftruth.py rejects a truncated export (exit 2)" test $? = 2

# ---------------------------------------------------------------- difftruth sanity
"$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); t["updates"]+=1; json.dump(t, open(sys.argv[2],"w"))' \
    "$W/next.json" "$W/wrong.json"
"$PY" "$DIFF" "$W/base.csv" "$W/next.csv" --compare "$W/wrong.json" >/dev/null 2>&1
check "difftruth.py --compare fails on a wrong truth (exit 1)" test $? = 1
"$PY" "$DIFF" "$W/base.csv" "$W/base.csv" >"$W/self.json"
check "difftruth.py on identical files counts nothing" truth_is "$W/self.json" \
    't["changed_rows"]==0 and t["creates"]==0 and t["deletes"]==0 and t["terminations"]==0 and t["prev_rows"]==t["next_rows"]==10000'
if [ -f "$ROOT/fixtures/demo/day2.truth.json" ]; then
    check "fixtures/demo day2.truth.json equals difftruth.py" \
        "$PY" "$DIFF" "$ROOT/fixtures/demo/day1.csv" "$ROOT/fixtures/demo/day2.csv" \
        --compare "$ROOT/fixtures/demo/day2.truth.json"
else
    skip "fixtures/demo absent"
fi

# ---------------------------------------------------------------- gen_hr.py
if [ -f "$GEN_HR" ]; then
    "$PY" "$GEN_HR" --rows 5000 --seed 11 -o "$W/hr1.csv" &&
    "$PY" "$GEN_HR" --mutate "$W/hr1.csv" --seed 12 --truth "$W/hr2.json" -o "$W/hr2.csv"
    check "difftruth.py equals ../shared/bench/gen_hr.py --truth on a 5,000-row pair" \
        "$PY" "$DIFF" "$W/hr1.csv" "$W/hr2.csv" --compare "$W/hr2.json"
    "$PY" "$DIFF" "$W/hr1.csv" "$W/hr2.csv" >"$W/hr2.diff.json" 2>/dev/null
    check "gen_hr.py truth keys all present in difftruth.py output" \
        "$PY" "$W/same_counts.py" "$W/hr2.json" "$W/hr2.diff.json" prev_rows next_rows \
        creates deletes updates manager_changes changed_rows field_changes field_changes_by_column
else
    skip "../shared/bench/gen_hr.py absent"
fi

echo "1..$n"
if [ "$failed" -gt 0 ]; then
    echo "# $failed of $n failed"
    exit 1
fi
exit 0
