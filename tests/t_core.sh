#!/bin/bash
# The core pipeline on a local drop-zone: a 10,000-row export and its next
# day give exactly the generator's truth counts; an unchanged export gives
# nothing; bad files fail to load and leave the directory untouched; a
# mass deletion trips the threshold; the same content is processed once.
. "$(dirname "$0")/lib.sh"

truth() { $PYTHON -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
changed_fields() {
	q "SELECT count(*) FROM changes c JOIN items i ON i.run_id = c.run_id \
AND i.seq = c.seq WHERE c.run_id = $1 AND i.type IN ('update','manager')"
}

# run_outcome NAME: a run; its exit, items and issues (without row numbers)
# in $TMP/NAME.items, the directory in $TMP/NAME.dump, to compare.
run_outcome() {
	rs run >"$TMP/$1.out" 2>&1
	echo "exit $?" >"$TMP/$1.items"
	dump >"$TMP/$1.dump"
	q "SELECT type, status, key, email, name, team FROM items ORDER BY key,
	    type, name; SELECT type, key, field FROM issues ORDER BY key, type,
	    field" >>"$TMP/$1.items"
}

# check_truth RUN TRUTH.json LABEL
check_truth() {
	local r=$1 t=$2 l=$3
	eq "$l: creates" "$(count_of $r n_create)" "$(truth $t creates)"
	eq "$l: deletes" "$(count_of $r n_delete)" "$(truth $t deletes)"
	eq "$l: updates" "$(count_of $r n_update)" "$(truth $t updates)"
	eq "$l: manager changes" "$(count_of $r n_manager)" \
	    "$(truth $t manager_changes)"
	eq "$l: changed fields" "$(changed_fields $r)" \
	    "$(truth $t field_changes)"
}

# --- two days of a 10,000-row export, then an unchanged one
sandbox day
$GEN --rows 10000 --seed 11 -o "$TMP/d1.csv"
$GEN --mutate "$TMP/d1.csv" --seed 12 --truth "$TMP/t2.json" -o "$TMP/d2.csv"
drop "$TMP/d1.csv" day1.csv
rs run >"$TMP/out1" 2>&1
eq "day 1 exits 0" "$?" 0
eq "day 1 is Success" "$(status_of 1)" success
eq "day 1 creates everyone" "$(count_of 1 n_create)" 10000
eq "directory holds 10,000 active users" \
    "$(q "SELECT count(*) FROM users WHERE active = 1")" 10000
drop "$TMP/d2.csv" day2.csv
rs run >"$TMP/out2" 2>&1
eq "day 2 is Success" "$(status_of 2)" success
check_truth 2 "$TMP/t2.json" "day 2 vs truth"
eq "directory follows the export" \
    "$(q "SELECT count(*) FROM users WHERE active = 1")" \
    "$(truth "$TMP/t2.json" next_rows)"
cp "$TMP/d2.csv" "$TMP/d3.csv"
printf '\n' >>"$TMP/d3.csv"	# same rows, new content: not a duplicate
drop "$TMP/d3.csv" day3.csv
rs run >"$TMP/out3" 2>&1
eq "unchanged export: a run" "$(last_run)" 3
eq "unchanged export: no items" "$(q "SELECT count(*) FROM items WHERE run_id = 3")" 0
eq "unchanged export: Success" "$(status_of 3)" success
check "inputs kept in archive/" test -f "$SPOOL/archive/hr/2-day2.csv"
eq "source files moved to processed/" "$(ls "$DROP/processed" | wc -l)" 3

# --- cross-check with the bench generator when it is there
if [ -f "$SHARED_GEN" ]; then
	sandbox shared
	$PYTHON "$SHARED_GEN" --rows 10000 --seed 21 -o "$TMP/s1.csv"
	$PYTHON "$SHARED_GEN" --mutate "$TMP/s1.csv" --seed 22 \
	    --truth "$TMP/st.json" -o "$TMP/s2.csv"
	drop "$TMP/s1.csv"; rs run >/dev/null 2>&1
	drop "$TMP/s2.csv"; rs run >/dev/null 2>&1
	check_truth 2 "$TMP/st.json" "gen_hr.py pair vs its truth"
else
	skip "../shared/bench/gen_hr.py absent: no cross-check with it"
fi

# --- whole-file failures: Data Load Failed, directory byte-for-byte the same
sandbox bad
$GEN --rows 300 --seed 31 -o "$TMP/good.csv"
drop "$TMP/good.csv"; rs run >/dev/null 2>&1
before=$(dump)
: >"$TMP/empty.csv"
head -1 "$TMP/good.csv" >"$TMP/header-only.csv"
cut -d, -f2- "$TMP/good.csv" >"$TMP/no-key.csv"
$GEN --rows 300 --seed 32 --truncate-bytes 20000 -o "$TMP/truncated.csv"
printf 'employee_id,email,email,last_name\nE1,a@x.org,b@x.org,A\n' \
    >"$TMP/dup-header.csv"
for f in empty header-only no-key truncated dup-header; do
	drop "$TMP/$f.csv"
	rs run >"$TMP/$f.out" 2>&1
	rc=$?
	r=$(last_run)
	eq "$f: Data Load Failed" "$(status_of $r)" data_load_failed
	eq "$f: exit status 4" "$rc" 4
	contains "$f: the message names the file" \
	    "$(q "SELECT error FROM runs WHERE id = $r")" "$f.csv:"
	eq "$f: directory unchanged" "$(dump)" "$before"
	check "$f: input kept in failed/" test -f "$SPOOL/failed/hr/$r-$f.csv"
	check "$f: error log written" test -f \
	    "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=$r").csv"
done
contains "empty: says why" "$(q "SELECT error FROM runs WHERE file_name='empty.csv'")" "empty"
contains "header-only: says why" "$(q "SELECT error FROM runs WHERE file_name='header-only.csv'")" "no data rows"
contains "no key: says why" "$(q "SELECT error FROM runs WHERE file_name='no-key.csv'")" "employee_id"
contains "truncated: says why" "$(q "SELECT error FROM runs WHERE file_name='truncated.csv'")" "truncated"
contains "duplicate header: says why" "$(q "SELECT error FROM runs WHERE file_name='dup-header.csv'")" "duplicate column name 'email'"

# --- an export missing half the employees trips the threshold
sandbox half
$GEN --rows 2000 --seed 41 -o "$TMP/h1.csv"
$GEN --mutate "$TMP/h1.csv" --seed 42 --drop-fraction 0.5 -o "$TMP/h2.csv"
drop "$TMP/h1.csv"; rs run >/dev/null 2>&1
before=$(dump)
drop "$TMP/h2.csv"
rs run >"$TMP/half.out" 2>&1
eq "half missing: exit status 5 (held)" "$?" 5
eq "half missing: Above Deactivation Threshold" "$(status_of 2)" above_threshold
eq "half missing: directory unchanged" "$(dump)" "$before"
check "half missing: every would-be deletion recorded" test \
    "$(q "SELECT count(*) FROM items WHERE run_id = 2 AND type = 'delete' AND status = 'held'")" -ge 1000
contains "half missing: the log says how to push it through" \
    "$(cat "$TMP/half.out")" "--allow-deletes"
rs run --sync hr --file "$SPOOL/archive/hr/2-h2.csv" --allow-deletes 5000 \
    --reason "half the company was sold" >"$TMP/allow.out" 2>&1
contains "--allow-deletes: the file goes through once" \
    "success needs_attention" "$(status_of 3)"
eq "--allow-deletes: deletions applied" \
    "$(q "SELECT count(*) FROM users WHERE active = 1")" \
    "$(($(wc -l <"$TMP/h2.csv") - 1))"
eq "--allow-deletes does not change the threshold" \
    "$(count_of 3 max_deletes)" 500

# --- the same content dropped twice (even under two names): processed once
sandbox twice
$GEN --rows 100 --seed 51 -o "$TMP/t.csv"
drop "$TMP/t.csv" a.csv
rs run >/dev/null 2>&1
drop "$TMP/t.csv" a.csv
drop "$TMP/t.csv" b.csv
rs run >"$TMP/twice.out" 2>&1
eq "same content: one run" "$(q "SELECT count(*) FROM runs")" 1
contains "same content: logged as a duplicate" "$(cat "$TMP/twice.out")" duplicate
eq "duplicates leave the drop-zone" "$(ls "$DROP" | grep -c csv)" 0

# --- rows after the first batch are trimmed, lower-cased and fingerprinted
# by the CSV reader's prep (load.c, prep_row): the same 1,000 messy rows
# (spaces inside quotes, upper-case emails, " Terminated " statuses, CRLF)
# first, where the mapping (on_data()) does that work, or last, where the
# prep does, give the same directory and the same items.
$GEN --rows 4000 --seed 61 -o "$TMP/m.csv"
$PYTHON - "$TMP/m.csv" "$TMP/messy-first.csv" "$TMP/messy-last.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
head, body = rows[0], rows[1:]
def messy(r):
    r = ["  %s  " % v if i % 2 else v for i, v in enumerate(r)]
    r[1] = r[1].upper()
    r[9] = " Terminated " if int(r[0][1:]) % 5 == 0 else r[9]
    return r
dirty = [messy(r) for r in body[:1000]]
def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(head)
        for r in rows:
            w.writerow(r)
write(sys.argv[2], dirty + body[1000:])
write(sys.argv[3], body[1000:] + dirty)
PY
TERM_CONF='terminated_field = "employment_status";
	terminated_values = [ "Terminated" ]; team_field = "department";'
for order in first last; do
	sandbox "messy-$order" "$TERM_CONF"
	drop "$TMP/messy-$order.csv" day1.csv
	run_outcome "messy-$order"
done
eq "messy rows: Needs Attention (managers who left)" "$(status_of 1)" \
    needs_attention
check "messy rows first or last: the same directory" \
    cmp -s "$TMP/messy-first.dump" "$TMP/messy-last.dump"
check "messy rows first or last: the same exit, items and issues" \
    cmp -s "$TMP/messy-first.items" "$TMP/messy-last.items"
eq "messy rows: emails stored in lower case" \
    "$(q "SELECT count(*) FROM users WHERE email != lower(email)")" 0
eq "messy rows: values stored trimmed" \
    "$(q "SELECT count(*) FROM users WHERE name != trim(name) OR team != trim(team)")" 0
eq "messy rows: ' Terminated ' (quoted, spaced) is terminated" \
    "$(q "SELECT count(*) FROM users WHERE CAST(substr(key, 2) AS INTEGER) % 5 = 0 AND key <= 'E0001000'")" 0
eq "messy rows: nobody else is left out" \
    "$(q "SELECT count(*) FROM users")" 3800

# --- the order of the rows does not matter. An export in the order of the
# one before (the key table's order) is looked up without hashing
# (diff.c, find_key); a shuffled one through the key table. Both, with a
# duplicated id and the day's new people, give the same directory, items
# and issues.
$PYTHON - "$TMP/d2.csv" "$TMP/o-shuffled.csv" "$TMP/o-sorted.csv" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines(True)
head, body = lines[0], lines[1:]
body.append(body[100])			# one id on two rows
open(sys.argv[2], "w", encoding="utf-8").write(head + "".join(body))
body.sort(key=lambda l: l.split(",", 1)[0])
open(sys.argv[3], "w", encoding="utf-8").write(head + "".join(body))
PY
for o in shuffled sorted; do
	sandbox "order-$o"
	drop "$TMP/d1.csv" day1.csv
	rs run >/dev/null 2>&1
	drop "$TMP/o-$o.csv" day2.csv
	run_outcome "o-$o"
done
eq "rows in order: the duplicated id is two issues" \
    "$(q "SELECT count(*) FROM issues WHERE run_id = 2 AND message LIKE '%on%row%'")" 2
check "rows in order or shuffled: the same directory" \
    cmp -s "$TMP/o-shuffled.dump" "$TMP/o-sorted.dump"
check "rows in order or shuffled: the same exit, items and issues" \
    cmp -s "$TMP/o-shuffled.items" "$TMP/o-sorted.items"

# --- a first load in no key order. Its first rows' values go to the
# kept rows' file, the rest (once more than 1,024 rows came before a
# lower key) to memory: the same directory, user items in the same order
# and the same report rows as the sorted export's.
$PYTHON - "$TMP/d1.csv" "$TMP/f-shuffled.csv" "$TMP/f-sorted.csv" <<'PY'
import random, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines(True)
head, body = lines[0], lines[1:]
random.Random(13).shuffle(body)
open(sys.argv[2], "w", encoding="utf-8").write(head + "".join(body))
body.sort(key=lambda l: l.split(",", 1)[0])
open(sys.argv[3], "w", encoding="utf-8").write(head + "".join(body))
PY
for o in shuffled sorted; do
	sandbox "first-$o"
	drop "$TMP/f-$o.csv" day1.csv
	rs -v run >"$TMP/f-$o.out" 2>&1
	echo "exit $?" >"$TMP/f-$o.items"
	dump >"$TMP/f-$o.dump"
	# The teams come first, in the order the rows named them.
	q "SELECT seq, type, status, key, email, name, team FROM items
	    WHERE type NOT LIKE 'team%' ORDER BY seq;
	    SELECT team FROM items WHERE type LIKE 'team%' ORDER BY team" \
	    >>"$TMP/f-$o.items"
	grep -v "^Summary,\|^Change,Team created," "$SPOOL"/reports/hr/*.csv \
	    >"$TMP/f-$o.report"
done
contains "a first load in no key order: its later rows kept in memory" \
    "$(cat "$TMP/f-shuffled.out")" "the export is not in key order"
check "a first load shuffled or sorted: the same directory" \
    cmp -s "$TMP/f-shuffled.dump" "$TMP/f-sorted.dump"
check "a first load shuffled or sorted: the same exit and items, in order" \
    cmp -s "$TMP/f-shuffled.items" "$TMP/f-sorted.items"
check "a first load shuffled or sorted: the same report rows" \
    cmp -s "$TMP/f-shuffled.report" "$TMP/f-sorted.report"
eq "a first load: every row created" "$(q "SELECT count(*) FROM users")" \
    "$(( $(wc -l <"$TMP/f-sorted.csv") - 1 ))"

# --- a value JSON must escape keeps every character in the users table's
# fields document (fields_json(): quotes, backslashes, a tab, a control
# character, non-ASCII)
$GEN --rows 3 --seed 13 -o "$TMP/esc.csv"
$PYTHON - "$TMP/esc.csv" "$TMP/esc-title.txt" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8")))
t = rows[0].index("title")
rows[2][t] = 'Lead "Ops" \\ C:\\x\tcol\x01 caf\u00e9'
csv.writer(open(sys.argv[1], "w", encoding="utf-8", newline=""),
    lineterminator="\n").writerows(rows)
open(sys.argv[2], "w", encoding="utf-8").write(rows[2][t])
PY
sandbox escapes
drop "$TMP/esc.csv" day1.csv
rs run >"$TMP/esc.out" 2>&1
eq "escapes: every fields document is valid JSON" \
    "$(q "SELECT count(*) FROM users WHERE json_valid(fields)")" 3
eq "escapes: the title comes back as it was given" \
    "$(q "SELECT json_extract(fields, '\$.title') FROM users WHERE key = 'E0000002'")" \
    "$(cat "$TMP/esc-title.txt")"

finish
