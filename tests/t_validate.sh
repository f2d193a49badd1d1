#!/bin/bash
# Validation issues and diff semantics on small hand-made exports: every
# issue type with its row, id, field, message and fix; managers, loops and
# the seat limit; terminations, reactivation, keep_if_empty, teams, and
# that row order does not matter.
. "$(dirname "$0")/lib.sh"

H=employee_id,email,first_name,last_name,department,title,manager_id,employment_status
csv() { printf '%s\n' "$H" "$@" >"$TMP/$NAME.csv"; drop "$TMP/$NAME.csv"; NAME=$NAME.x; }
issue() {	# issue RUN TYPE ID -> "row|field|message|fix"
	q "SELECT row||'|'||ifnull(field,'')||'|'||message||'|'||fix FROM issues \
WHERE run_id = $1 AND type = '$2' AND ifnull(key,'') = '$3' LIMIT 1"
}
user() { q "SELECT $2 FROM users WHERE key = '$1'"; }

# --- row checks
sandbox rows
NAME=rows csv \
    "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    ",nokey@x.org,No,Key,Eng,Dev,E1,Active" \
    "E3,cat@x.org,Cat,,Eng,Dev,E1,Active" \
    "E4,not-an-email,Dan,Ray,Eng,Dev,E1,Active" \
    "E5,eve@x.org,Eve,Moe,Eng,Dev,E1,Active,surplus" \
    "E6,fay@x.org,Fay,Poe,Eng,Dev,E1,Active"
rs run >"$TMP/rows.out" 2>&1
eq "row issues: exit status 6 (needs attention)" "$?" 6
eq "row issues: Needs Attention" "$(status_of 1)" needs_attention
contains "missing key: row 3, the key field" "$(issue 1 user_skipped '')" "3|employee_id|the row has no employee_id"
contains "missing required field: row 4" "$(issue 1 user_skipped E3)" "4|last_name|the required field last_name is empty|"
contains "invalid email: row 5" "$(issue 1 user_skipped E4)" "5|email|'not-an-email' is not a valid email address|correct the address"
contains "extra values: row 6" "$(issue 1 user_skipped E5)" "6||the row has more values than the header"
eq "skipped rows are not applied" "$(q "SELECT group_concat(key) FROM users")" "E1,E6"
eq "skipped count" "$(count_of 1 skipped)" 4
eq "every issue has a message and a fix" \
    "$(q "SELECT count(*) FROM issues WHERE message = '' OR fix = ''")" 0

# --- rows with fewer values than the header: skipped, the person kept
# as the directory has them (an unquoted line break splits E2's title;
# E3's row lost its last values); blank lines and rows of empty values
# stay what they were, and a full row that ends in empty values is read.
sandbox short
NAME=s1 csv "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Exec Assistant,E1,Active" \
    "E3,cat@x.org,Cat,Orr,Eng,Dev,E1,Active" \
    "E4,dan@x.org,Dan,Poe,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
before=$(q "SELECT key, manager, json_extract(fields, '$.title'), json_extract(fields, '$.employment_status') FROM users WHERE key IN ('E2','E3') ORDER BY key")
NAME=s2 csv "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Exec" "Assistant,E1,Active" \
    "E3,cat@x.org,Cat,Orr,Eng" "" ",,,," \
    "E4,dan@x.org,Dan,Poe,Eng,Lead,E1,"
rs run >"$TMP/short.out" 2>&1
eq "short rows: exit 6 (needs attention)" "$?" 6
eq "a split row: its first part, row 3" "$(issue 2 user_skipped E2)" \
    "3||the row has 6 values, the header has 8 columns|quote values that contain a line break or the delimiter, and give every row a value (or an empty one) for each column"
contains "a split row: its second part, row 4" "$(issue 2 user_skipped Assistant)" \
    "4||the row has 3 values, the header has 8 columns|"
contains "a row that lost its last values: row 5" "$(issue 2 user_skipped E3)" \
    "5||the row has 5 values, the header has 8 columns|"
eq "short rows: three issues, none for the blank lines" \
    "$(q "SELECT count(*) FROM issues WHERE run_id = 2")" 3
eq "short rows: the people keep their manager, title and status" \
    "$(q "SELECT key, manager, json_extract(fields, '$.title'), json_extract(fields, '$.employment_status') FROM users WHERE key IN ('E2','E3') ORDER BY key")" "$before"
eq "short rows: nothing of theirs applied, no one deleted" \
    "$(q "SELECT count(*) FROM items WHERE run_id = 2 AND key <> 'E4'")" 0
eq "a full row ending in an empty value is applied" \
    "$(user E4 "json_extract(fields, '$.title') || '|' || json_extract(fields, '$.employment_status')")" "Lead|"
# The same lines again (a new file: one more blank line): a short line is
# never a known line, the same issues.
{ cat "$SPOOL/archive/hr/2-s2.csv"; echo; } >"$TMP/s3.csv"
drop "$TMP/s3.csv"
rs run >"$TMP/short3.out" 2>&1
contains "short rows again: the full rows are known lines" \
    "$(cat "$TMP/short3.out")" "as CSV (2 known lines)"
eq "short rows again: the same three issues" \
    "$(q "SELECT group_concat(row || ':' || key) FROM (SELECT row, key FROM issues WHERE run_id = 3 ORDER BY seq)")" \
    "3:E2,4:Assistant,5:E3"
# A header that ends in a delimiter (an empty column name) under rows
# that do not: every row is read.
printf '%s\n' "$H," "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Exec Assistant,E1,Active" \
    "E3,cat@x.org,Cat,Orr,Eng,Dev,E1,Active" \
    "E4,dan@x.org,Dan,Poe,Eng,Lead,E1,Active" >"$TMP/s4.csv"
drop "$TMP/s4.csv"
rs run >/dev/null 2>&1
eq "a header with an unnamed last column: no issue" \
    "$(status_of 4):$(q "SELECT count(*) FROM issues WHERE run_id = 4")" success:0
# The key column last: a row that ends before it is no one's, and its
# person would look deleted: the file fails whole.
sandbox shortkey
printf '%s\n' "email,first_name,last_name,employee_id" "ann@x.org,Ann,Lee,E1" \
    "bob@x.org,Bob,Ray,E2" >"$TMP/k1.csv"
drop "$TMP/k1.csv"
rs run >/dev/null 2>&1
before=$(dump)
printf '%s\n' "email,first_name,last_name,employee_id" "ann@x.org,Ann,Lee,E1" \
    "bob@x.org,Bob,Ray" >"$TMP/k2.csv"
drop "$TMP/k2.csv"
rs run >/dev/null 2>&1
eq "a short row without its key: exit 4, the file fails" "$?:$(status_of 2)" 4:data_load_failed
contains "the message names the row, the counts and the key column" \
    "$(q "SELECT error FROM runs WHERE id = 2")" \
    "k2.csv: row 3 has 3 of the header's 4 values and ends before the key column 'employee_id'"
eq "a short row without its key: nothing applied" "$(dump)" "$before"

# --- duplicates: ids and emails (all rows involved are skipped)
sandbox dups
NAME=d1 csv "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
NAME=d2 csv "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Lead,E1,Active" \
    "E2,bob2@x.org,Bob,Ray,Eng,Dev,E1,Active" \
    "E3,same@x.org,Cy,Orr,Eng,Dev,E1,Active" \
    "E4,same@x.org,Di,Orr,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
eq "duplicate id: both rows flagged" "$(q "SELECT count(*) FROM issues WHERE run_id = 2 AND key = 'E2'")" 2
contains "duplicate id: names the other row" "$(issue 2 user_skipped E2)" "the id E2 is"
eq "duplicate id: the directory keeps the user, unchanged" "$(user E2 "active||json_extract(fields,'\$.title')")" 1Dev
eq "duplicate id: no delete" "$(q "SELECT count(*) FROM items WHERE run_id = 2 AND type = 'delete'")" 0
contains "shared email: flagged" "$(issue 2 user_skipped E4)" "the email same@x.org is also used by E3"
eq "shared email: neither created" "$(q "SELECT count(*) FROM users WHERE key IN ('E3','E4')")" 0

# A duplicate id's issues say whose rows they are, whatever the first row
# was: unchanged (a known line), changed, new or skipped for a bad email;
# the second row a known line too (E3, as yesterday).
sandbox dupwho
NAME=w1 csv "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Dev,E1,Active" \
    "E3,cat@x.org,Cat,Orr,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
NAME=w2 csv "E1,ann@x.org,Ann,Lee,Eng,Dev,,Active" \
    "E1,ann2@x.org,Ann,Two,Eng,Dev,,Active" \
    "E2,bob@x.org,Bob,Ray,Eng,Lead,E1,Active" \
    "E2,bob2@x.org,Bo,Ray,Eng,Dev,E1,Active" \
    "E5,new@x.org,New,One,Eng,Dev,E1,Active" \
    "E5,new2@x.org,New,Two,Eng,Dev,E1,Active" \
    "E6,bad-email,Bad,Row,Eng,Dev,E1,Active" \
    "E6,ok@x.org,Ok,Row,Eng,Dev,E1,Active" \
    "E3,cat2@x.org,Cat,Two,Eng,Dev,E1,Active" \
    "E3,cat@x.org,Cat,Orr,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
eq "duplicate id: each issue has its row's email and name" \
    "$(q "SELECT group_concat(row || ' ' || key || ' ' || ifnull(email, '-') || ' ' || ifnull(name, '-'), '; ') FROM (SELECT * FROM issues WHERE run_id = 2 AND field = 'employee_id' ORDER BY row)")" \
    "2 E1 ann@x.org Ann Lee; 3 E1 ann2@x.org Ann Two; 4 E2 bob@x.org Bob Ray; 5 E2 bob2@x.org Bo Ray; 6 E5 new@x.org New One; 7 E5 new2@x.org New Two; 8 E6 bad-email Bad Row; 9 E6 ok@x.org Ok Row; 10 E3 cat2@x.org Cat Two; 11 E3 cat@x.org Cat Orr"
eq "duplicate id: items --json gives them" \
    "$(rs items 2 --issue user_skipped --user E2 --json | $PYTHON -c 'import json,sys; print([(i["row"], i["email"], i["name"]) for i in json.load(sys.stdin)["issues"]])')" \
    "[(4, 'bob@x.org', 'Bob Ray'), (5, 'bob2@x.org', 'Bo Ray')]"
check "duplicate id: the CSV report's issue rows have them" grep -q \
    '^Issue,User skipped,E2,bob2@x.org,Bo Ray,employee_id,' \
    "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id = 2").csv"

# Three rows on one address (in two spellings), between others: each later
# row names the first, in row order; the first names the second.
sandbox mail3
NAME=m3 csv "E9,dup@x.org,A,A,Eng,Dev,,Active" \
    "E1,one@x.org,B,B,Eng,Dev,,Active" \
    "E5,DUP@x.org,C,C,Eng,Dev,,Active" \
    "E2,two@x.org,D,D,Eng,Dev,,Active" \
    "E7,dup@x.org,E,E,Eng,Dev,,Active"
rs run >/dev/null 2>&1
mails=$(q "SELECT row || ' ' || key || ': ' || message FROM issues WHERE run_id = 1 ORDER BY row, seq")
eq "three on one email: three issues, each row once" "$(printf '%s\n' "$mails" | wc -l)" 3
contains "three on one email: the first names the second" "$mails" "2 E9: the email dup@x.org is also used by E5 on row 4"
contains "three on one email: the second names the first" "$mails" "4 E5: the email dup@x.org is also used by E9 on row 2"
contains "three on one email: the third names the first" "$mails" "6 E7: the email dup@x.org is also used by E9 on row 2"
eq "three on one email: only the others are created" "$(q "SELECT group_concat(key) FROM (SELECT key FROM users ORDER BY key)")" "E1,E2"

# An address taken by a user whose row is the same as yesterday: that row's
# email is not kept in memory (diff.c, email_stored) but read back from the
# directory to be compared, and the messages name it.
sandbox mailold
NAME=o1 csv "E1,old@x.org,A,A,Eng,Dev,,Active" \
    "E2,two@x.org,B,B,Eng,Dev,,Active"
rs run >/dev/null 2>&1
NAME=o2 csv "E1,old@x.org,A,A,Eng,Dev,,Active" \
    "E2,OLD@x.org,B,B,Eng,Dev,,Active" \
    "E3,three@x.org,C,C,Eng,Dev,,Active"
rs run >/dev/null 2>&1
mails=$(q "SELECT row || ' ' || key || ': ' || message FROM issues WHERE run_id = 2 ORDER BY row, seq")
eq "email of an unchanged row: two issues" "$(printf '%s\n' "$mails" | wc -l)" 2
contains "email of an unchanged row: named from the directory" "$mails" \
    "2 E1: the email old@x.org is also used by E2 on row 3"
contains "email of an unchanged row: the changed row names it" "$mails" \
    "3 E2: the email old@x.org is also used by E1 on row 2"
eq "email of an unchanged row: E2 keeps its old address" "$(user E2 email)" two@x.org

# --- emails fold case beyond ASCII (full Unicode case folding)
sandbox mailuni
NAME=u1 csv "E1,ü1@example.com,A,A,Eng,Dev,,Active" \
    "E2,straße@example.com,B,B,Eng,Dev,,Active" \
    "E3,ana@example.com,C,C,Eng,Dev,,Active"
rs run >/dev/null 2>&1
NAME=u2 csv "E1,Ü1@EXAMPLE.COM,A,A,Eng,Dev,,Active" \
    "E2,STRASSE@EXAMPLE.COM,B,B,Eng,Dev,,Active" \
    "E3,ana@example.com,C,C,Eng,Dev,,Active"
rs run >/dev/null 2>&1
eq "an address in another case (Ü/ü, SS/ß) is no update" "$(status_of 2):$(q "SELECT count(*) FROM items WHERE run_id = 2")" success:0
eq "the stored address stays as it was" "$(user E1 email) $(user E2 email)" "ü1@example.com straße@example.com"
NAME=u3 csv "E1,ü1@example.com,A,A,Eng,Dev,,Active" \
    "E2,straße@example.com,B,B,Eng,Dev,,Active" \
    "E3,ana@example.com,C,C,Eng,Dev,,Active" \
    "E4,Ü1@Example.com,D,D,Eng,Dev,,Active" \
    "E5,Ü9@EXAMPLE.COM,E,E,Eng,Dev,,Active"
rs run >/dev/null 2>&1
contains "one address on two ids differing only in ü/Ü: flagged" "$(issue 3 user_skipped E4)" "is also used by E1"
eq "a new address beyond ASCII is kept in lower case" "$(user E5 email)" "ü9@example.com"
eq "the new id on a taken address is not created" "$(q "SELECT count(*) FROM users WHERE key = 'E4'")" 0
contains "user finds an address typed in another case (Ü9@EXAMPLE.COM)" "$(rs user Ü9@EXAMPLE.COM 2>&1)" "E5"

# --- managers: not found, self, loops
sandbox mgr
NAME=m1 csv "E1,a@x.org,A,A,Eng,Dev,,Active" \
    "E2,b@x.org,B,B,Eng,Dev,E9,Active" \
    "E3,c@x.org,C,C,Eng,Dev,E3,Active" \
    "E4,d@x.org,D,D,Eng,Dev,E5,Active" \
    "E5,e@x.org,E,E,Eng,Dev,E6,Active" \
    "E6,f@x.org,F,F,Eng,Dev,E4,Active" \
    "E7,g@x.org,G,G,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
contains "manager not found: issue" "$(issue 1 manager_not_found E2)" "manager E9 is neither in the export nor in the directory"
eq "manager not found: user created without a manager" "$(user E2 active)|$(user E2 manager)" "1|"
contains "own manager: a loop issue" "$(issue 1 manager_cycle E3)" "E3 is given as their own manager"
eq "loop of three: three issues" "$(q "SELECT count(*) FROM issues WHERE type = 'manager_cycle' AND key IN ('E4','E5','E6')")" 3
eq "loop: managers not assigned" "$(user E4 manager)$(user E5 manager)$(user E6 manager)" ""
eq "a good manager is assigned" "$(user E7 manager)" E1
eq "creates come managers first" "$(q "SELECT group_concat(key) FROM (SELECT key FROM items WHERE run_id = 1 AND type = 'create' AND key IN ('E1','E7') ORDER BY seq)")" "E1,E7"
# Managers whose ids sort after their reports': by depth, then by key.
sandbox depth
NAME=d1 csv "A1,a@x.org,A,A,Eng,Dev,B2,Active" \
    "B2,b@x.org,B,B,Eng,Dev,C3,Active" \
    "C3,c@x.org,C,C,Eng,Dev,,Active" \
    "D4,d@x.org,D,D,Eng,Dev,,Active" \
    "A0,z@x.org,Z,Z,Eng,Dev,C3,Active"
rs run >/dev/null 2>&1
eq "creates: each manager before their reports, each level in key order" \
    "$(q "SELECT group_concat(key) FROM (SELECT key FROM items WHERE run_id = 1 AND type = 'create' ORDER BY seq)")" "C3,D4,A0,B2,A1"

# --- seat limit
sandbox seats "seat_limit = 5;"
rows=(); for i in 1 2 3 4 5 6 7 8; do rows+=("E$i,u$i@x.org,U,L$i,Eng,Dev,,Active"); done
NAME=s1 csv "${rows[@]}"
rs run >/dev/null 2>&1
eq "seat limit: 5 created" "$(count_of 1 n_create)" 5
eq "seat limit: 3 refused" "$(q "SELECT count(*) FROM issues WHERE type = 'seat_limit_reached'")" 3
eq "seat limit: the highest ids wait" "$(q "SELECT group_concat(key) FROM (SELECT key FROM issues WHERE type='seat_limit_reached' ORDER BY key)")" "E6,E7,E8"

# --- terminations, reactivation, clearing, keep_if_empty, deletion modes
sandbox life 'keep_if_empty = [ "title" ]; max_delete_percent = 100;
    max_update_percent = 100;'
NAME=l1 csv "E1,a@x.org,A,A,Eng,Boss,,Active" \
    "E2,b@x.org,B,B,Eng,Dev,E1,Active" \
    "E3,c@x.org,C,C,Ops,Dev,E1,Active"
rs run >/dev/null 2>&1
NAME=l2 csv "E1,a@x.org,A,A,Eng,Boss,,Active" \
    "E2,b@x.org,B,B,,,E1,Active" \
    "E3,c@x.org,C,C,Ops,Dev,E1,Terminated"
rs run >/dev/null 2>&1
eq "terminated: a delete item" "$(q "SELECT type FROM items WHERE run_id = 2 AND key = 'E3'")" delete
eq "terminated: deactivated, kept" "$(user E3 active)" 0
eq "empty cell clears the field" "$(user E2 "json_extract(fields,'\$.department')")" ""
eq "keep_if_empty keeps the directory's value" "$(user E2 "json_extract(fields,'\$.title')")" Dev
eq "the update lists only the cleared field" "$(q "SELECT group_concat(field) FROM changes c JOIN items i USING (run_id, seq) WHERE i.run_id = 2 AND i.type = 'update'")" department
NAME=l3 csv "E1,a@x.org,A,A,Eng,Boss,,Active" \
    "E2,b@x.org,B,B,,,E1,Active" \
    "E3,c@x.org,C,C,Ops,Dev,E1,Active"
rs run >/dev/null 2>&1
eq "reactivation is a create" "$(q "SELECT type FROM items WHERE run_id = 3 AND key = 'E3'")" create
eq "reactivated" "$(user E3 active)" 1
eq "teams: Ops deleted when it emptied" "$(q "SELECT count(*) FROM items WHERE run_id = 2 AND type = 'team_delete' AND team = 'Ops'")" 1
eq "teams: Ops created again" "$(q "SELECT count(*) FROM items WHERE run_id = 3 AND type = 'team_create' AND team = 'Ops'")" 1

sandbox hard 'delete_mode = "delete"; max_delete_percent = 100;'
NAME=h1 csv "E1,a@x.org,A,A,Eng,Boss,,Active" "E2,b@x.org,B,B,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
NAME=h2 csv "E1,a@x.org,A,A,Eng,Boss,,Active"
rs run >/dev/null 2>&1
eq "delete_mode delete: the row is gone" "$(q "SELECT count(*) FROM users WHERE key = 'E2'")" 0

# --- teams and manager items on a move
sandbox move
NAME=t1 csv "E1,a@x.org,A,A,Eng,Boss,,Active" "E2,b@x.org,B,B,Eng,Dev,E1,Active" \
    "E3,c@x.org,C,C,Ops,Boss,,Active"
rs run >/dev/null 2>&1
eq "teams created on the first run" "$(count_of 1 n_team_create)" 2
NAME=t2 csv "E1,a@x.org,A,A,Eng,Boss,,Active" "E2,b@x.org,B,B,Ops,Lead,E3,Active" \
    "E3,c@x.org,C,C,Ops,Boss,,Active"
rs run >/dev/null 2>&1
eq "a move: update + manager + team_member" "$(q "SELECT group_concat(type) FROM (SELECT type FROM items WHERE run_id = 2 ORDER BY seq)")" "update,manager,team_member"
eq "manager change recorded old -> new" "$(q "SELECT old||'>'||new FROM changes c JOIN items i USING (run_id, seq) WHERE i.run_id = 2 AND i.type = 'manager'")" "E1>E3"

# A team whose only member's row is skipped (the user is kept) stays.
sandbox teamskip
NAME=s1 csv "E1,a@x.org,A,A,Eng,Boss,,Active" "E2,b@x.org,B,B,Ops,Dev,E1,Active"
rs run >/dev/null 2>&1
NAME=s2 csv "E1,a@x.org,A,A,Eng,Boss,,Active" "E2,not-an-email,B,B,Ops,Dev,E1,Active"
rs run >/dev/null 2>&1
eq "the only member skipped: no team_delete" "$(q "SELECT count(*) FROM items WHERE run_id = 2 AND type = 'team_delete'")" 0
eq "the only member skipped: the team and its member stay" "$(q "SELECT name||':'||members FROM teams WHERE name = 'Ops'"):$(user E2 active)" "Ops:1:1"

# Deletions held (on_threshold = "hold_deletes"): their teams stay too.
sandbox teamhold 'on_threshold = "hold_deletes"; max_deletes = 1;'
NAME=h1 csv "E1,a@x.org,A,A,Eng,Boss,,Active" "E2,b@x.org,B,B,Ops,Dev,E1,Active" \
    "E3,c@x.org,C,C,Ops,Dev,E1,Active" "E4,d@x.org,D,D,Eng,Dev,E1,Active"
rs run >/dev/null 2>&1
NAME=h2 csv "E1,a@x.org,A,A,Eng,Boss,,Active" "E4,d@x.org,D,D,Eng,Lead,E1,Active"
rs run >/dev/null 2>&1
eq "deletions held: the update is applied" "$(status_of 2):$(user E4 "json_extract(fields,'\$.title')")" above_threshold:Lead
eq "deletions held: the team's deletion is held with them" "$(q "SELECT status FROM items WHERE run_id = 2 AND type = 'team_delete'")" held
eq "deletions held: the team keeps its members" "$(q "SELECT members FROM teams WHERE name = 'Ops'")" 2

# --- row order does not matter
sandbox order
$GEN --rows 500 --seed 61 -o "$TMP/o.csv"
drop "$TMP/o.csv"; rs run >/dev/null 2>&1
first=$(dump)
{ head -1 "$TMP/o.csv"; tail -n +2 "$TMP/o.csv" | sort -r; } >"$TMP/o2.csv"
drop "$TMP/o2.csv"; rs run >/dev/null 2>&1
eq "shuffled rows: no items" "$(q "SELECT count(*) FROM items WHERE run_id = 2")" 0
sandbox order2
drop "$TMP/o2.csv"; rs run >/dev/null 2>&1
eq "shuffled rows: the same directory" "$(dump | cut -f2-)" "$(printf '%s\n' "$first" | cut -f2-)"

# --- a header without a mapped column: the error names the columns the
# header has, shortened when there are many
sandbox nomap 'mapping = { employee_id = "employee_id"; email = "email"; last_name = "last_name"; };'
printf '%s\n' "Employee ID,email,last_name" "E1,ann@x.org,Lee" >"$TMP/nomap.csv"
drop "$TMP/nomap.csv"
rs run >"$TMP/nomap.out" 2>&1
eq "missing mapped column: Data Load Failed" "$?:$(status_of 1)" 4:data_load_failed
contains "missing mapped column: the error names the header's columns" \
    "$(q "SELECT error FROM runs WHERE id = 1")" \
    "nomap.csv: the header lacks the mapped column 'employee_id' (mapped to employee_id); its columns are 'Employee ID', 'email', 'last_name': correct the sync's mapping, or ask HR for the column"
sandbox nomap2 'mapping = { employee_id = "employee_id"; email = "email"; last_name = "last_name"; };'
{ printf 'Employee ID,email,last_name'; for i in $(seq 1 60); do printf ',extra column %d' "$i"; done
  printf '\nE1,ann@x.org,Lee\n'; } >"$TMP/nomap2.csv"
drop "$TMP/nomap2.csv"
rs run >/dev/null 2>&1
err=$(q "SELECT error FROM runs WHERE id = 1")
contains "a long header: the first columns named" "$err" "its columns are 'Employee ID', 'email', 'last_name', 'extra column 1',"
check "a long header: shortened, saying how many more" grep -Eq "'extra column [0-9]+', \.\.\. and [0-9]+ more: correct the sync's mapping" <<<"$err"
check "a long header: the error stays short (${#err} bytes)" test "${#err}" -lt 400

finish
