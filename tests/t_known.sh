#!/bin/bash
# Known lines (src/snapshot.c, load_csv.c, diff.c): a CSV line equal to
# the one a stored user was written from is that user, unchanged, and is
# neither parsed nor checked again. Whatever the next export does, a run
# with the lines file must equal the same run without it: the same items,
# changes, issues and directory. Lines count only under the header, the
# mapping and the rules they were read with.
. "$(dirname "$0")/lib.sh"

LINES=spool/cache/hr/directory.lines
known_of() {	# the known lines a run's output reports
	sed -n 's/.*as CSV (\([0-9]*\) known lines).*/\1/p' "$1" | head -1
}

$GEN --rows 3000 --seed 71 -o "$TMP/d1.csv"
$GEN --mutate "$TMP/d1.csv" --seed 72 -o "$TMP/d2.csv"
SETTINGS='keep_if_empty = [ "location" ]; max_deletes = 100;'
sandbox known "$SETTINGS"
drop "$TMP/d1.csv" day1.csv
rs run >"$SB/r1.out" 2>&1
eq "day 1 exits 0" "$?" 0
eq "day 1 knew no lines" "$(known_of "$SB/r1.out")" 0
check "day 1 left the lines file" test -s "$SB/$LINES"
cp -a "$SB" "$TMP/base"

# with LABEL FILE: a run from $base (default $TMP/base), with and without
# the lines file;
# leaves the known count in $known and the run's output in $SB/with.out.
with() {
	local l=$1 f=$2 p=${prep:-:}
	rerun "${base:-$TMP/base}" "$f" "$TMP/with.out"
	known=$(known_of "$TMP/with.out")
	run_dump "$(last_run)" >"$TMP/with.run"
	dump >"$TMP/with.dir"
	prep="$p; rm -f \"\$SB/\$LINES\"" rerun "${base:-$TMP/base}" "$f" \
	    "$TMP/without.out"
	eq "$l: without the lines file none is known" \
	    "$(known_of "$TMP/without.out")" 0
	run_dump "$(last_run)" >"$SB/without.run"
	dump >"$SB/without.dir"
	check "$l: the same items, changes and issues" \
	    cmp -s "$TMP/with.run" "$SB/without.run"
	cmp -s "$TMP/with.run" "$SB/without.run" ||
	    diff "$SB/without.run" "$TMP/with.run" | head -5 | sed 's/^/# /'
	check "$l: the same directory" cmp -s "$TMP/with.dir" "$SB/without.dir"
	cp "$TMP/with.out" "$SB/with.out"
}

# The generator's next day: most lines known, and the run is the same.
with "next day" "$TMP/d2.csv"
check "next day: most lines known ($known of 3000)" test "$known" -ge 2800
check "next day: and not the changed ones" test "$known" -lt 2990

# Trouble among unchanged rows: a known line twice (a duplicate id), a
# new row taking an unchanged person's email, the manager of unchanged
# people gone, an empty keep_if_empty field, a terminated person.
$PYTHON - "$TMP/d1.csv" >"$TMP/d2t.csv" <<'PY'
import collections, csv, io, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
f = list(csv.reader(lines))
assert len(f) == len(lines)             # one line per row
cols = f[0]
E, M, L, S = (cols.index(c) for c in
              ("email", "manager_id", "location", "employment_status"))
def line(r):
    b = io.StringIO()
    csv.writer(b, lineterminator="").writerow(r)
    return b.getvalue()
boss = collections.Counter(r[M] for r in f[1:] if r[M]).most_common(1)[0][0]
out = [lines[0]]
for i in range(1, len(f)):
    r = f[i]
    if r[0] == boss:
        continue                        # their reports' lines stay known
    if i == 10:
        r[L] = ""                       # keep_if_empty: the stored one stays
    if i == 11:
        r[S] = "Terminated"
    out.append(line(r) if i in (10, 11) else lines[i])
out.append(lines[20])                   # a known line again
new = f[30][:]
new[0] = "N1"; new[M] = ""              # a new person, someone's email
out.append(line(new))
print("\n".join(out))
PY
with "trouble" "$TMP/d2t.csv"
check "trouble: the other lines known ($known)" test "$known" -ge 2900
r=$(q "SELECT count(*) FROM issues WHERE run_id = 2 AND type = 'manager_not_found'")
check "trouble: reports of the gone manager flagged ($r)" test "$r" -ge 1
contains "trouble: the known line twice is a duplicate id" \
    "$(q "SELECT message FROM issues WHERE run_id = 2")" "is on several rows"
contains "trouble: the new row's email is someone's" \
    "$(q "SELECT message FROM issues WHERE run_id = 2")" "is also used by"
cp -a "$SB" "$TMP/trouble"

# The run after trouble: rows that were not stored as their lines say
# (skipped, terminated, kept empty, manager not found) are not known.
{ cat "$TMP/d2t.csv"; echo; } >"$TMP/d3t.csv"
base=$TMP/trouble
with "after trouble" "$TMP/d3t.csv"
base=
r=$(q "SELECT count(*) FROM issues WHERE run_id = 2 AND type = 'manager_not_found'")
check "after trouble: the $r flagged rows and 4 more are parsed again ($known)" \
    test "$known" -le $((3000 - r - 4))
check "after trouble: the rest is known" test "$known" -ge 2800

# Lines count only under the context they were read with.
with "CRLF line ends" "$(sed 's/$/\r/' "$TMP/d1.csv" >"$TMP/crlf.csv"; echo "$TMP/crlf.csv")"
eq "CRLF line ends: no line is known" "$known" 0
$PYTHON - "$TMP/d1.csv" >"$TMP/swap.csv" <<'PY'
import csv, sys
w = csv.writer(sys.stdout, lineterminator="\n")
for f in csv.reader(open(sys.argv[1], encoding="utf-8", newline="")):
    f[2], f[3] = f[3], f[2]
    w.writerow(f)
PY
with "two columns swapped" "$TMP/swap.csv"
eq "two columns swapped: no line is known" "$known" 0
$PYTHON - "$TMP/d1.csv" >"$TMP/semi.csv" <<'PY'
import csv, sys
w = csv.writer(sys.stdout, delimiter=";", lineterminator="\n")
for f in csv.reader(open(sys.argv[1], encoding="utf-8", newline="")):
    w.writerow(f)
PY
with "another delimiter" "$TMP/semi.csv"
eq "another delimiter: no line is known" "$known" 0

# A new rule: the same lines, now some of them wrong. No line is known,
# and the rule is applied to every row.
$PYTHON - "$TMP/d1.csv" >"$TMP/notitle.csv" <<'PY'
import csv, sys
w = csv.writer(sys.stdout, lineterminator="\n")
for i, f in enumerate(csv.reader(open(sys.argv[1], encoding="utf-8",
                                      newline=""))):
    if i == 0:
        t = f.index("title")
    elif i <= 5:
        f[t] = ""
    w.writerow(f)
PY
rm -rf "$SB"
cp -a "$TMP/base" "$SB"
drop "$TMP/notitle.csv" day1b.csv
rs run >/dev/null 2>&1
rm -rf "$TMP/base"
cp -a "$SB" "$TMP/base"		# five titles emptied, stored
{ cat "$TMP/notitle.csv"; echo; } >"$TMP/notitle2.csv"
prep='sed -i "s/required = \[ \"employee_id\", \"email\", \"last_name\" \]/required = [ \"employee_id\", \"email\", \"last_name\", \"title\" ]/" "$CONF"'
with "title now required" "$TMP/notitle2.csv"
prep=
eq "title now required: no line is known" "$known" 0
eq "title now required: the five rows without one are skipped" \
    "$(q "SELECT count(*) FROM issues WHERE run_id = $(last_run) AND
    field = 'title' AND type = 'user_skipped'")" 5

# A torn, corrupt or foreign lines file is not believed.
prep='truncate -s -50 "$SB/$LINES"'
with "a torn lines file" "$TMP/d2.csv"
eq "a torn lines file: no line is known" "$known" 0
prep='printf "Z" | dd of="$SB/$LINES" bs=1 seek=200 conv=notrunc 2>/dev/null'
with "a corrupt lines file" "$TMP/d2.csv"
eq "a corrupt lines file: no line is known" "$known" 0
prep=
# The key snapshot written again by a scan of the same version, in key
# order, where the run before had put a new person sorting first last:
# the lines file is the other snapshot's.
$PYTHON - "$TMP/notitle.csv" >"$TMP/first.csv" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
f = lines[1].split(",", 2)
print("\n".join(lines + ["A0000001,a.first@example.com," + f[2]]))
PY
rm -rf "$SB"
cp -a "$TMP/base" "$SB"
drop "$TMP/first.csv" first.csv
rs run >/dev/null 2>&1
eq "A0000001 created" "$(count_of "$(last_run)" n_create)" 1
rm -rf "$TMP/base2"
cp -a "$SB" "$TMP/base2"
base=$TMP/base2
{ cat "$TMP/first.csv"; echo; } >"$TMP/first2.csv"
{ cat "$TMP/first.csv"; echo; echo; } >"$TMP/first3.csv"
with "the lines of the snapshot before" "$TMP/first3.csv"
check "the lines of the snapshot before: known as they are" \
    test "$known" -ge 2990
prep='cp "$SB/$LINES" "$TMP/lines.keep"; rm -f "$SB/spool/cache/hr/directory.keys"; drop "$TMP/first2.csv" first2.csv; rs run >"$SB/scan.out" 2>&1; cp "$TMP/lines.keep" "$SB/$LINES"'
with "another key snapshot" "$TMP/first3.csv"
eq "another key snapshot: no line is known" "$known" 0
contains "another key snapshot: the run before scanned" \
    "$(cat "$SB/scan.out")" "known (users table)"
# A corrupt key snapshot (read again from the users table, in another
# order): its lines are not used either.
prep='printf "Z" | dd of="$SB/spool/cache/hr/directory.keys" bs=1 seek=$(( $(stat -c %s "$SB/spool/cache/hr/directory.keys") - 3 )) conv=notrunc 2>/dev/null'
with "a corrupt key snapshot" "$TMP/first3.csv"
eq "a corrupt key snapshot: no line is known" "$known" 0
contains "a corrupt key snapshot: the users table is read" \
    "$(cat "$SB/with.out")" "known (users table)"
prep=
base=

# An unchanged re-run knows every line (but those a read chunk cut).
rm -rf "$SB"
cp -a "$TMP/base" "$SB"
{ cat "$TMP/notitle.csv"; echo; echo; } >"$TMP/again.csv"
drop "$TMP/again.csv" again.csv
rs run >"$SB/again.out" 2>&1
k=$(known_of "$SB/again.out")
check "an unchanged re-run knows all but a few lines ($k of 3000)" \
    test "$k" -ge 2995
eq "an unchanged re-run has no items" "$(count_of "$(last_run)" \
    "n_create + n_update + n_manager + n_delete")" 0

# --- the rules a known line stands for: what a corpus of rows turns into
# (trimming, case, quoting, checks, the diff's items) is pinned by a digest
# beside KNOWN_RULES_REV (src/load.c). Records that change while the
# revision does not would let an upgraded binary trust lines stored by the
# old rules: that fails here.
sandbox rules 'keep_if_empty = [ "title" ]; max_update_percent = 100;
    max_delete_percent = 100;'
drop "$TOP/fixtures/known/day1.csv" day1.csv
rs run >/dev/null 2>&1
drop "$TOP/fixtures/known/day2.csv" day2.csv
rs run >/dev/null 2>&1
digest=$(q "SELECT key, email, name, manager, team, active, hash, fields
    FROM users ORDER BY key;
    SELECT run_id, type, row, ifnull(key, ''), ifnull(field, '') FROM issues
    ORDER BY run_id, seq;
    SELECT run_id, seq, type, status, ifnull(key, '') FROM items
    ORDER BY run_id, seq" |
    sha256sum | cut -c1-64)
rev=$(sed -n 's/^#define KNOWN_RULES_REV[[:space:]]*\([0-9]*\).*/\1/p' "$TOP/src/load.c")
read -r grev gdigest <"$TOP/tests/known_rules.golden"
if [ "$rev" != "$grev" ]; then
	not_ok "known lines' rules: KNOWN_RULES_REV is $rev, the golden's $grev" \
	    "write \"$rev $digest\" into tests/known_rules.golden"
elif [ "$digest" != "$gdigest" ]; then
	not_ok "known lines' rules: the records changed, KNOWN_RULES_REV did not" \
	    "what rows turn into changed: move KNOWN_RULES_REV on in src/load.c, then write \"REV $digest\" into tests/known_rules.golden"
else
	ok "known lines' rules: the corpus's records are the pinned ones (rules $rev)"
fi
check "the corpus gives issues and items (not a trivial digest)" \
    test "$(q "SELECT (SELECT count(*) FROM issues) > 5 AND (SELECT count(*) FROM items WHERE run_id = 2) > 5")" = 1
# cache drop: the caches go, the next run reads the users table.
check "cache drop: a key snapshot to drop" test -f "$SPOOL/cache/hr/directory.keys"
out=$(rs cache drop --sync hr 2>&1)
eq "cache drop: exit 0" "$?" 0
contains "cache drop: says what it did" "$out" "sync hr: the key snapshot and the known lines dropped"
check "cache drop: the files are gone" test ! -e "$SPOOL/cache/hr/directory.keys" -a ! -e "$SPOOL/cache/hr/directory.lines"
drop "$TOP/fixtures/known/day2.csv" day3.csv
printf '\n' >>"$DROP/day3.csv"
rs -v run >"$SB/after-drop.out" 2>&1
contains "cache drop: the next run reads the users table" "$(cat "$SB/after-drop.out")" "(users table)"
eq "cache drop: and finds nothing to do" "$(q "SELECT count(*) FROM items WHERE run_id = 3")" 0
rs cache drop --sync nosuch >/dev/null 2>&1
eq "cache drop --sync of no sync: exit 2" "$?" 2

finish
