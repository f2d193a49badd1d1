#!/bin/bash
# rostersync-ldap against a real slapd (tests/slapd.sh): a 2,000-user first
# day and its next day, after each the LDAP tree equal to the directory
# (tests/ldap_tree.py: the same people active, the same attributes,
# managers as DNs, teams as groups with their members); a connector killed
# mid-run, then `rostersync retry`, converges to the same tree; a wrong
# password, or a password file others may read, fails every item with the
# reason; DNs and filters escaped; an entry that exists is updated; a
# deactivated person moves to the disabled base and back; the member
# changes of a group go together in few modifies (slapd's log of its
# operations), a group gone or emptied on the way included, and a member
# the server refuses fails its own item only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/slapd.sh"

LDAPC=${LDAPC:-$(dirname "$ROSTERSYNC")/rostersync-ldap}
if ! slapd_usable || [ ! -x "$LDAPC" ]; then
	skip "rostersync-ldap against slapd: needs slapd, ldap-utils and $LDAPC"
	finish
fi
slapd_setup "$TMP/slapd"
# The server's own rule, for the refused member below (slapo-constraint):
# no member whose DN starts with uid=REFUSED.
sed -i '/^moduleload back_mdb/a moduleload constraint' "$SLAPD_DIR/slapd.conf"
printf '%s\n' 'overlay constraint' \
    'constraint_attribute member negregex "^uid=REFUSED"' \
    >>"$SLAPD_DIR/slapd.conf"
if ! slapd_start || ! slapd_base; then
	not_ok "slapd starts and takes the base entries"
	finish
fi
ok "slapd runs on $SLAPD_URI"
cp "$SLAPD_PWFILE" "$TMP/pw"
chmod 0600 "$TMP/pw"

failed_items() { q "SELECT count(*) FROM items WHERE run_id = $1 AND status = 'failed'"; }

# --- a 2,000-user first day and its next day
ldap_sandbox big "\"--disabled-base\", \"$SLAPD_DISABLED\", \"--map\", \"cost_center=employeeNumber\""
$GEN --rows 2000 --seed 11 -o "$TMP/day1.csv"
drop "$TMP/day1.csv"
rs run >"$TMP/big1.out" 2>&1
eq "day 1 through rostersync-ldap: exit 0" "$?" 0
eq "day 1: every item applied" "$(q "SELECT group_concat(DISTINCT status) FROM items WHERE run_id = 1")" applied
eq "day 1: 2,000 people in the tree" "$(lsearch -s one -b "$SLAPD_PEOPLE" 1.1 | grep -c '^dn: ')" 2000
tree_check "day 1: the LDAP tree equals the directory" cost_center=employeeNumber
contains "day 1: one connector for the run" "$(grep -c 'started in stream mode' "$TMP/big1.out")" 1
$GEN --mutate "$TMP/day1.csv" --seed 12 --update-rate 0.05 --hire-rate 0.01 \
    --delete-rate 0.01 --manager-rate 0.02 --terminate-rate 0.005 \
    -o "$TMP/day2.csv"
drop "$TMP/day2.csv"
rs run >"$TMP/big2.out" 2>&1
eq "day 2: exit 0" "$?" 0
r=$(last_run)
eq "day 2: every item applied" "$(q "SELECT group_concat(DISTINCT status) FROM items WHERE run_id = $r")" applied
check "day 2: it had every kind of item" test "$(q "SELECT count(DISTINCT type) FROM items WHERE run_id = $r")" -ge 5
tree_check "day 2: the LDAP tree equals the directory" cost_center=employeeNumber
check "day 2: the deactivated are in the disabled base" test "$(lsearch -s one -b "$SLAPD_DISABLED" 1.1 | grep -c '^dn: ')" -gt 0

# --- the connector killed mid-run; rostersync retry converges
day2=$SB
# (40% of the people updated on purpose: not the update threshold's case)
SANDBOX_SETTINGS='max_update_percent = 100;' \
    ldap_sandbox kill "\"--disabled-base\", \"$SLAPD_DISABLED\", \"--map\", \"cost_center=employeeNumber\"" "\"150\", \"$TMP/killed\""
rm -rf "$SPOOL"
cp -a "$day2/spool" "$SPOOL"	# the directory as day 2 left it, as the tree
$GEN --mutate "$TMP/day2.csv" --seed 13 --update-rate 0.4 --hire-rate 0.02 \
    --delete-rate 0.01 --manager-rate 0.05 -o "$TMP/day3.csv"
drop "$TMP/day3.csv"
rs run >"$TMP/kill.out" 2>&1
eq "killed mid-run: Needs Attention" "$?" 6
r=$(last_run)
nf=$(failed_items "$r")
check "killed mid-run: the items in flight failed (1 to 32)" test "$nf" -ge 1 -a "$nf" -le 32
contains "killed mid-run: check, then confirm or retry" "$(q "SELECT error FROM items WHERE run_id = $r AND status = 'failed' LIMIT 1")" "check, then confirm or retry"
eq "killed mid-run: the connector started again for the rest" "$(grep -c 'started in stream mode' "$TMP/kill.out")" 2
eq "killed mid-run: nothing else failed or waits" "$(q "SELECT count(*) FROM items WHERE run_id = $r AND status NOT IN ('applied', 'failed')")" 0
rs retry "$r" >"$TMP/retry.out" 2>&1
eq "retry after the kill: exit 0" "$?" 0
tree_check "after the kill and the retry: the LDAP tree equals the directory" cost_center=employeeNumber
eq "after the retry: nothing failed is left" "$(q "SELECT count(*) FROM items WHERE status = 'failed' AND resolved_by IS NULL")" 0

# --- a wrong password: every item fails with the server's message
wipe_tree
echo "not-the-password" >"$TMP/wrong.pw"
chmod 0600 "$TMP/wrong.pw"
PW=$TMP/wrong.pw ldap_sandbox wrong
$GEN --rows 40 --seed 21 -o "$TMP/small.csv"
drop "$TMP/small.csv"
rs run >"$TMP/wrong.out" 2>&1
eq "a wrong password: Needs Attention" "$?" 6
eq "a wrong password: every item failed" "$(failed_items 1)" "$(q "SELECT count(*) FROM items WHERE run_id = 1")"
contains "a wrong password: the server's message" "$(q "SELECT error FROM items WHERE run_id = 1 LIMIT 1")" "Invalid credentials (49)"
eq "a wrong password: the tree is untouched" "$(lsearch -s one -b "$SLAPD_PEOPLE" 1.1 | grep -c '^dn: ')" 0

# --- a password file others may read is refused
chmod 0644 "$TMP/pw"
ldap_sandbox readable
drop "$TMP/small.csv"
rs run >/dev/null 2>&1
eq "a readable password file: every item failed" "$(failed_items 1)" "$(q "SELECT count(*) FROM items WHERE run_id = 1")"
contains "a readable password file: why" "$(q "SELECT error FROM items WHERE run_id = 1 LIMIT 1")" "readable by group or others (mode 0644)"
chmod 0600 "$TMP/pw"
eq "a readable password file: nothing in the tree" "$(lsearch -s one -b "$SLAPD_PEOPLE" 1.1 | grep -c '^dn: ')" 0

# --- hostile values: DNs and filters escaped; an existing entry updated;
# without --disabled-base a deletion deletes
ldap_sandbox odd
H=employee_id,email,first_name,last_name,display_name,department,title,manager_id,employment_status
{
	echo "$H"
	echo 'B1,b1@x.org,Ann,Boss,"Boss, Ann",R&D,Chief,,Active'
	echo '"A,B+C",abc@x.org,Al,"Smith, Jr",,"=Sales, #1",Dev,B1,Active'
	echo '"E(1)*\x",e1@x.org,Eve,Star,Eve Star,R&D,Dev,"A,B+C",Active'
	echo ' #lead ,lead@x.org,Lea,Dee,Lea Dee,"=Sales, #1",Dev,B1,Active'
	echo 'X1,x1@x.org,Xa,Vier,Xa Vier,R&D,Dev,B1,Active'
} >"$TMP/odd1.csv"
# X1 exists already, with other values: the create updates it
ldapadd -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN" -y "$SLAPD_PWFILE" >/dev/null <<EOF
dn: uid=X1,$SLAPD_PEOPLE
objectClass: inetOrgPerson
uid: X1
cn: Old Name
sn: Old
title: Intern
EOF
drop "$TMP/odd1.csv"
rs run >"$TMP/odd1.out" 2>&1
eq "odd values: exit 0" "$?" 0
tree_check "odd values: the tree equals the directory"
check "a comma and a plus in a uid are escaped in the DN" \
    test -n "$(lsearch -s one -b "$SLAPD_PEOPLE" '(uid=A,B+C)' 1.1 | grep -F 'dn: uid=A\2CB\2BC,' )"
eq "the manager of an escaped DN is that DN" "$(lsearch -s one -b "$SLAPD_PEOPLE" '(uid=E\28\31\29\2a\5cx)' manager | sed -n 's/^manager: //p')" "uid=A\\2CB\\2BC,$SLAPD_PEOPLE"
contains "the existing entry was updated, not refused" "$(rs items 1 --item "$(q "SELECT seq FROM items WHERE run_id = 1 AND key = 'X1'")" 2>&1)" "updated (it existed)"
eq "a team named with = , # is a group" "$(lsearch -s one -b "$SLAPD_GROUPS" '(cn==Sales, #1)' member | grep -c '^member: ')" 2
{
	echo "$H"
	echo 'B1,b1@x.org,Ann,Boss,"Boss, Ann",R&D,Chief,,Active'
	echo '"A,B+C",abc@x.org,Al,"Smith, Jr",,R&D,Dev,B1,Active'
	echo ' #lead ,lead@x.org,Lea,Dee,Lea Dee,"=Sales, #1",Dev,B1,Active'
	echo 'X1,x1@x.org,Xa,Vier,Xa Vier,R&D,Dev,B1,Active'
} >"$TMP/odd2.csv"
drop "$TMP/odd2.csv"
rs run >"$TMP/odd2.out" 2>&1
eq "odd values, day 2: exit 0" "$?" 0
tree_check "odd values, day 2: the tree equals the directory"
eq "without --disabled-base a deletion deletes the entry" "$(lsearch -b "$SLAPD_SUFFIX" '(uid=E\28\31\29\2a\5cx)' 1.1 | grep -c '^dn: ')" 0
eq "and its group no longer names it (the filter was escaped)" "$(lsearch -s one -b "$SLAPD_GROUPS" '(cn=R&D)' member | grep -c 'uid=E')" 0

# --- deactivated to the disabled base, and back
wipe_tree
ldap_sandbox back "\"--disabled-base\", \"$SLAPD_DISABLED\""
{ echo "$H"; for i in 1 2 3 4 5 6 7 8 9 10; do echo "P$i,p$i@x.org,F$i,L$i,F$i L$i,T$((i % 2)),Dev,,Active"; done; } >"$TMP/b1.csv"
drop "$TMP/b1.csv"
rs run >/dev/null 2>&1
grep -v '^P3,' "$TMP/b1.csv" >"$TMP/b2.csv"
drop "$TMP/b2.csv"
rs run >/dev/null 2>&1
eq "deactivated: P3 is in the disabled base" "$(lsearch -s one -b "$SLAPD_DISABLED" '(uid=P3)' 1.1 | grep -c '^dn: ')" 1
tree_check "deactivated: the tree equals the directory"
sed 's/^P3,p3@x.org,F3/P3,p3@x.org,Phil/' "$TMP/b1.csv" >"$TMP/b3.csv"
drop "$TMP/b3.csv"
rs run >/dev/null 2>&1
eq "back: the same entry moved back from the disabled base" "$(lsearch -s one -b "$SLAPD_DISABLED" '(uid=P3)' 1.1 | grep -c '^dn: '):$(lsearch -s one -b "$SLAPD_PEOPLE" '(uid=P3)' givenName | sed -n 's/^givenName: //p')" "0:Phil"
tree_check "back: the tree equals the directory"

# --- many members of a few teams change in one window; slapd logs its
# operations. Big: B31-B45 leave the company, B1-B30 move to Small, S1-S25
# and N1-N20 (hired) come: 90 changes of one group. Gone: all its members
# move to Small (the last leave would empty the group) and the team goes.
# Tiny: its group deleted by hand before the run, T1-T6 move to Small,
# M1-M5 (hired) make it again.
wipe_tree
slapd_stop
SLAPD_LOGLEVEL=stats slapd_start || not_ok "slapd starts again, logging"
SANDBOX_SETTINGS='max_update_percent = 100;' \
    ldap_sandbox teams "\"--disabled-base\", \"$SLAPD_DISABLED\""
person() { echo "$1,$(echo "$1" | tr A-Z a-z)@x.org,F$1,L$1,F$1 L$1,$2,Dev,,Active"; }
# people PREFIX FROM TO TEAM: persons PREFIX<FROM> to PREFIX<TO> in TEAM
people() { local i; for i in $(seq "$2" "$3"); do person "$1$i" "$4"; done; }
{
	echo "$H"
	people B 1 80 Big
	people S 1 40 Small
	people G 1 5 Gone
	people T 1 6 Tiny
} >"$TMP/teams1.csv"
{
	echo "$H"
	people B 1 30 Small
	people B 46 80 Big
	people S 1 25 Big
	people S 26 40 Small
	people N 1 20 Big
	people G 1 5 Small
	people T 1 6 Small
	people M 1 5 Tiny
} >"$TMP/teams2.csv"
drop "$TMP/teams1.csv"
rs run >"$TMP/teams1.out" 2>&1
eq "teams, day 1: exit 0" "$?" 0
tree_check "teams, day 1: the tree equals the directory"
ldapdelete -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN" -y "$SLAPD_PWFILE" \
    "cn=Tiny,$SLAPD_GROUPS"
: >"$SLAPD_DIR/slapd.log"
drop "$TMP/teams2.csv"
rs run >"$TMP/teams2.out" 2>&1
eq "teams, day 2: exit 0" "$?" 0
r=$(last_run)
eq "teams, day 2: every item applied, once" "$(q "SELECT group_concat(DISTINCT status) FROM items WHERE run_id = $r"):$(grep -c 'started in stream mode' "$TMP/teams2.out")" applied:1
tree_check "teams, day 2: the tree equals the directory"
eq "teams, day 2: Big's members" "$(lsearch -b "cn=Big,$SLAPD_GROUPS" -s base member | sed -n 's/^member: uid=\([^,]*\),.*/\1/p' | sort | tr '\n' ' ')" "$(q "SELECT key FROM users WHERE team = 'Big' AND active = 1" | sort | tr '\n' ' ')"
eq "teams, day 2: Tiny made again with its new members" "$(lsearch -b "cn=Tiny,$SLAPD_GROUPS" -s base member | grep -c '^member: uid=M')" 5
eq "teams, day 2: Gone is gone" "$(lsearch -s one -b "$SLAPD_GROUPS" '(cn=Gone)' 1.1 | grep -c '^dn: ')" 0
n=$(grep -c "MOD dn=\"cn=Big,$SLAPD_GROUPS\"" "$SLAPD_DIR/slapd.log")
check "teams, day 2: Big's 90 changes in fewer modifies ($n)" test "$n" -ge 1 -a "$n" -lt 90

# --- a member the server refuses, among many joining one group: that
# item fails with the server's words, the others succeed
wipe_tree
ldap_sandbox refused
{
	echo "$H"
	people P 1 6 New
	person REFUSED1 New
	people P 7 12 New
} >"$TMP/refused.csv"
drop "$TMP/refused.csv"
rs run >"$TMP/refused.out" 2>&1
eq "refused: Needs Attention" "$?" 6
eq "refused: its item alone failed" "$(q "SELECT type || ' ' || key FROM items WHERE run_id = 1 AND status = 'failed'")" "create REFUSED1"
contains "refused: with the server's reason" "$(q "SELECT error FROM items WHERE run_id = 1 AND status = 'failed'")" "join cn=New,$SLAPD_GROUPS: Constraint violation (19): modify breaks constraint on member"
eq "refused: the others applied" "$(q "SELECT count(*) FROM items WHERE run_id = 1 AND status = 'applied'")" 13
eq "refused: New holds the twelve others" "$(lsearch -b "cn=New,$SLAPD_GROUPS" -s base member | grep -c '^member: uid=P')" 12
# The same to the connector alone, for the modify of several: thirteen
# team_member lines, read at once, join New2 in one modify, which the
# server refuses; each is sent again alone, and each item answered once.
ldapadd -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN" -y "$SLAPD_PWFILE" >/dev/null <<EOF
dn: cn=New2,$SLAPD_GROUPS
objectClass: groupOfNames
cn: New2
member:
EOF
n=0
for who in P1 P2 P3 P4 P5 P6 REFUSED2 P7 P8 P9 P10 P11 P12; do
	n=$((n + 1))
	echo "{\"run\":9,\"item\":$n,\"type\":\"team_member\",\"employee_id\":\"$who\",\"team\":\"New2\",\"changes\":[{\"field\":\"department\",\"old\":\"\",\"new\":\"New2\"}]}"
done >"$TMP/joins.in"
: >"$SLAPD_DIR/slapd.log"
"$LDAPC" --uri "$SLAPD_URI" --bind-dn "$SLAPD_ADMIN" --password-file \
    "$TMP/pw" --base "$SLAPD_PEOPLE" --groups-base "$SLAPD_GROUPS" \
    --window 32 <"$TMP/joins.in" >"$TMP/joins.out" 2>"$TMP/joins.err"
eq "refused, to the connector: exit 0" "$?:$(cat "$TMP/joins.err")" "0:"
eq "refused, to the connector: one answer per item, REFUSED2's failed" \
    "$("$PYTHON" -c 'import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
print(sorted(x["item"] for x in a) == list(range(1, 14)),
      [(x["item"], x.get("error")) for x in a if not x["ok"]])' \
    "$TMP/joins.out")" "True [(7, 'join cn=New2,$SLAPD_GROUPS: Constraint violation (19): modify breaks constraint on member')]"
eq "refused, to the connector: New2 holds the twelve others" "$(lsearch -b "cn=New2,$SLAPD_GROUPS" -s base member | grep -c '^member: uid=P')" 12
# slapd's log: the modify of the thirteen refused, then REFUSED2's alone
eq "refused, to the connector: refused with the others, then alone" "$(awk -v g="cn=New2,$SLAPD_GROUPS" '
    / MOD dn="/ { if (index($0, "dn=\"" g "\"")) mod[$3 " " $4] = 1 }
    / RESULT tag=103 err=19 / { if (mod[$3 " " $4]) n++ }
    END { print n + 0 }' "$SLAPD_DIR/slapd.log")" 2

# --- the connector's own checks
"$LDAPC" --uri "$SLAPD_URI" </dev/null >/dev/null 2>"$TMP/usage.err"
eq "no --base: usage, exit 2" "$?" 2
"$LDAPC" --uri "$SLAPD_URI" --base "not a dn" </dev/null >/dev/null 2>"$TMP/dn.err"
contains "a --base that is not a DN is refused" "$(cat "$TMP/dn.err")" "not a DN"
slapd_stop
finish
