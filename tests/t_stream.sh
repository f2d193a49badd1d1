#!/bin/bash
# The apply hook in stream mode (mode = "stream"): one program per run,
# items as JSON lines in, answers as JSON lines out in any order, a window
# of items in flight, the order that matters kept; and the exec mode's
# promise when the program fails: it exits, hangs or answers garbage, the
# items in flight are failed ("check, then confirm or retry"), it is
# started again for the rest (3 starts a run), and nothing is ever sent
# twice behind anyone's back (the hook's own log proves it).
. "$(dirname "$0")/lib.sh"

H=employee_id,email,first_name,last_name,department,title,manager_id,employment_status
# people N [FIRST]: rows E1..EN (from FIRST, default 1); E1 leads, each
# Ek (k > 1) reports to E((k-1)/3+1), so managers are three deep; teams
# D0..D2 by k mod 3.
people() {
	local i m
	for i in $(seq "${2:-1}" "$1"); do
		m=
		[ "$i" -gt 1 ] && m=E$(((i - 1) / 3 + 1))
		echo "E$i,u$i@x.org,U$i,L$i,D$((i % 3)),Dev,$m,Active"
	done
}
mk() { printf '%s\n' "$H" "${@:2}" >"$TMP/$1"; drop "$TMP/$1"; }
stream_sandbox() {	# stream_sandbox NAME [WINDOW [TIMEOUT]]
	sandbox "$1" "hook = { path = \"$TOP/tests/stream_hook.py\"; args = [ \"$TMP/$1.log\", \"$TMP/$1.ctl\" ]; mode = \"stream\"; window = ${2:-8}; timeout = ${3:-5}; name = \"test-connector\"; };"
	LOG=$TMP/$1.log CTL=$TMP/$1.ctl
	rm -rf "$CTL"; mkdir -p "$CTL"; : >"$LOG"
}
starts() { grep -c '^start ' "$LOG"; }
# No item was read twice by the program.
sent_once() { [ "$(grep '^recv ' "$LOG" | cut -d' ' -f2 | sort | uniq -d | wc -l)" = 0 ]; }
active() { q "SELECT count(*) FROM users WHERE active = 1"; }
st_of() { q "SELECT status FROM items WHERE run_id = $1 AND key = '$2' AND type = '${3:-create}'"; }
err_of() { q "SELECT error FROM items WHERE run_id = $1 AND key = '$2' AND type = '${3:-create}'"; }

# Every dependency kept, from the program's log: a create or manager change
# read only after the manager it names was answered, a member after its
# team, a deletion after every other item, a team deletion after those.
order_ok() {
	"$PYTHON" - "$DB" "$LOG" "$1" <<'EOF'
import json, sqlite3, sys
db, log, run = sys.argv[1], sys.argv[2], int(sys.argv[3])
pos, recv, ans = 0, {}, {}
for line in open(log):
    w = line.split()
    if w[0] in ("recv", "ans") and int(w[1].split(":")[0]) == run:
        seq = int(w[1].split(":")[1])
        (recv if w[0] == "recv" else ans).setdefault(seq, pos)
    pos += 1
items = sqlite3.connect(db).execute(
    "SELECT seq, type, ifnull(key,''), ifnull(team,''), payload FROM items "
    "WHERE run_id = ?", (run,)).fetchall()
own = {}
for seq, t, key, team, p in items:
    own[("t:" + team) if t.startswith("team_") and t != "team_member"
        else "u:" + key] = seq
bad = []
for seq, t, key, team, p in items:
    p = json.loads(p)
    needs = []
    if t == "create":
        needs += ["u:" + p["fields"].get("manager_id", ""),
                  "t:" + p["fields"].get("department", "")]
    if t == "manager":
        needs += ["u:" + c["new"] for c in p["changes"]]
    if t == "team_member":
        needs.append("t:" + team)
    for n in needs:
        d = own.get(n)
        if d is not None and d != seq and d in ans and seq in recv and \
                ans[d] > recv[seq]:
            bad.append("%d (%s %s) read before %d was answered" % (seq, t, key, d))
    if t in ("delete", "team_delete"):
        for s2, t2, *_ in items:
            if (t2 != t and (t == "team_delete" or t2 != "team_delete")
                    and s2 in ans and seq in recv and ans[s2] > recv[seq]):
                bad.append("%s %d read before %s %d was answered" % (t, seq, t2, s2))
if bad:
    print("\n".join(bad[:10]))
    sys.exit(1)
EOF
}

# --- the first day: every item through one program, in a window
stream_sandbox first 8
mk d1.csv $(people 40)
rs run >"$TMP/first.out" 2>&1
eq "stream: exit 0" "$?" 0
eq "stream: Success, every item applied" "$(q "SELECT status FROM runs WHERE id=1"):$(q "SELECT group_concat(DISTINCT status) FROM items WHERE run_id=1")" "success:applied"
eq "stream: one program for the run" "$(starts)" 1
eq "stream: each item read once" "$(grep -c '^recv ' "$LOG")" "$(q "SELECT count(*) FROM items WHERE run_id=1")"
eq "stream: the directory holds everyone" "$(active)" 40
check "stream: answers came out of order (the window was used)" \
    test "$(grep '^ans ' "$LOG" | cut -d' ' -f2 | cut -d: -f2 | tr '\n' ' ')" != "$(grep '^ans ' "$LOG" | cut -d' ' -f2 | cut -d: -f2 | sort -n | tr '\n' ' ')"
out=$(order_ok 1)
eq "stream: managers before their reports, teams before members" "$?" 0
[ -n "$out" ] && echo "$out" | sed 's/^/# /'
eq "stream: the environment is clean" "$(cat "$CTL/env")" "LANG PATH ROSTERSYNC_HOOK_MODE ROSTERSYNC_RUN ROSTERSYNC_SYNC ROSTERSYNC_WINDOW"
contains "stream: the response is kept with the attempt" "$(rs items 1 --item 5 2>&1)" '"type": "create"'
contains "the log names the hook by its name" "$(cat "$TMP/first.out")" "the hook test-connector started in stream mode"

# --- the next day: updates, manager changes, team moves, deletions
cp -a "$SB" "$TMP/first.day1"
mk d2.csv $(people 40 | sed -e 's/^E7,\(.*\),D1,Dev,E3,/E7,\1,D2,Lead,E1,/' \
    -e '/^E3[5-9],/d' -e 's/^E2,\(.*\),Dev,E1,/E2,\1,Boss,E3,/')
rs run >/dev/null 2>&1
r=$(last_run)
eq "day 2: Success" "$(q "SELECT status FROM runs WHERE id=$r")" success
eq "day 2: the deletions applied" "$(active)" 35
eq "day 2: E7's team, title and manager follow" "$(q "SELECT team||'|'||manager||'|'||json_extract(fields,'\$.title') FROM users WHERE key='E7'")" "D2|E1|Lead"
out=$(order_ok "$r")
eq "day 2: deletions after every other item" "$?" 0
[ -n "$out" ] && echo "$out" | sed 's/^/# /'
check "day 2: nothing read twice" sent_once

# --- one that waits does not hold back those that need nothing of it:
# a team move is an update and a join of the same person, and the join
# waits for the update; the next person's items go meanwhile
stream_sandbox pass 8
mk d1.csv $(people 40)
rs run >/dev/null 2>&1
mk d2.csv $(people 40 | sed -E 's/^(E(1[0369]|2[258]),[^,]*,[^,]*,[^,]*,)D1,/\1D2,/')
rs run >/dev/null 2>&1
r=$(last_run)
eq "passing: Success, D1 moved to D2" "$(q "SELECT status FROM runs WHERE id=$r"):$(q "SELECT count(*) FROM users WHERE team='D2' AND active=1")" "success:20"
# the items read, in the order the program read them, by sequence
passed=$(grep "^recv $r:" "$LOG" | cut -d' ' -f2 | cut -d: -f2 |
    awk '$1 < max { n++ } $1 > max { max = $1 } END { print n + 0 }')
check "passing: items were read ahead of one that waited ($passed)" test "$passed" -gt 0
out=$(order_ok "$r")
eq "passing: still every join after its person's update, each read once" "$?:$(sent_once && echo once)" "0:once"
[ -n "$out" ] && echo "$out" | sed 's/^/# /'

# --- a failure answer: that item failed with the program's message
stream_sandbox fail 4
echo "E5 E6" >"$CTL/fail"
mk d1.csv $(people 12)
rs run >/dev/null 2>&1
eq "a failure answer: exit 6, Needs Attention" "$?:$(q "SELECT status FROM runs WHERE id=1")" "6:needs_attention"
eq "a failure answer: E5 failed" "$(st_of 1 E5)" failed
contains "a failure answer: the error is the program's" "$(err_of 1 E5)" "the hook answered: the directory refused E5"
eq "a failure answer: E5 is not in the directory" "$(q "SELECT count(*) FROM users WHERE key='E5'"):$(active)" "0:10"
: >"$CTL/fail"
rs retry 1 >/dev/null 2>&1
eq "retry in stream mode: exit 0, both applied" "$?:$(active)" "0:12"
eq "retry: one more program start" "$(starts)" 2
eq "retry: the originals are resolved" "$(q "SELECT group_concat(DISTINCT resolved_by) FROM items WHERE run_id=1 AND key IN ('E5','E6')")" 2
check "retry: nothing sent twice" test "$(grep -c '^recv 1:' "$LOG")" = "$(q "SELECT count(*) FROM items WHERE run_id=1")"

# --- the program exits mid-run
stream_sandbox die 4
echo "E9" >"$CTL/die"
mk d1.csv $(people 30)
rs run >"$TMP/die.out" 2>&1
eq "program exits: Needs Attention" "$?:$(q "SELECT status FROM runs WHERE id=1")" "6:needs_attention"
nf=$(q "SELECT count(*) FROM items WHERE run_id=1 AND status='failed'")
check "program exits: the items in flight failed (1 to 4)" test "$nf" -ge 1 -a "$nf" -le 4
contains "program exits: E9's error says check, then confirm or retry" "$(err_of 1 E9)" "exited before it answered every item"
contains "program exits: ... check, then confirm or retry" "$(err_of 1 E9)" "check, then confirm or retry"
eq "program exits: started again for the rest" "$(starts)" 2
eq "program exits: every other item applied" "$(q "SELECT count(*) FROM items WHERE run_id=1 AND status='applied'")" "$(( $(q "SELECT count(*) FROM items WHERE run_id=1") - nf ))"
check "program exits: nothing sent twice" sent_once
eq "program exits: the failed items are not in the directory" "$(q "SELECT count(*) FROM users u JOIN items i ON i.key=u.key WHERE i.run_id=1 AND i.status='failed'")" 0
rs confirm "1:$(q "SELECT seq FROM items WHERE run_id=1 AND key='E9'")" --reason "checked" >/dev/null 2>&1
eq "confirm works on a stream item" "$?:$(q "SELECT count(*) FROM users WHERE key='E9'")" "0:1"
rs retry 1 >/dev/null 2>&1
eq "retry the rest: Success, all 30 there" "$?:$(active)" "0:30"
check "after the retry: nothing sent twice in that run" test "$(grep -c '^recv 2:' "$LOG")" = "$(( nf - 1 ))"

# --- the program leaves a process holding its stdout and stderr (a
# background job it started): its end is seen when it exits, whether
# after its input ended or mid-run, that process is not waited for, and
# the run log says so once
runlog() { cat "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=$1").log"; }
stream_sandbox leave 4 30
touch "$CTL/leave"
mk d1.csv $(people 12)
rs run >"$TMP/leave.out" 2>&1
eq "a process left holding its output: exit 0, Success" "$?:$(q "SELECT status FROM runs WHERE id=1")" 0:success
check "that process still runs when the run ends" kill -0 $(cat "$CTL/left")
check "its exit is taken, not waited out as a program that did not exit" test "$(grep -c 'did not exit' "$TMP/leave.out")" = 0
eq "the run log says once that it left a process holding its output" \
    "$(runlog 1 | grep -c 'the hook test-connector exited but left a process holding its output')" 1
leave_ctl=$CTL
stream_sandbox leavedie 4 30
touch "$CTL/leave"; echo "E9" >"$CTL/die"
mk d1.csv $(people 30)
rs run >/dev/null 2>&1
contains "exiting mid-run with a process left holding its output: seen at once" "$(err_of 1 E9)" "exited before it answered every item"
eq "... started again, the rest applied" "$(starts):$(q "SELECT count(*) FROM items WHERE run_id=1 AND status NOT IN ('applied','failed')")" 2:0
eq "... the run log says it once for two starts" \
    "$(runlog 1 | grep -c 'exited but left a process holding its output')" 1
touch "$leave_ctl/release" "$CTL/release"

# --- the program hangs: killed at the timeout, started again
stream_sandbox hang 4 2
echo "E6" >"$CTL/hang"
mk d1.csv $(people 20)
rs run >"$TMP/hang.out" 2>&1
contains "a hanging program: killed after its timeout" "$(err_of 1 E6)" "gave no answer for 2 s and was killed"
eq "a hanging program: started again" "$(starts)" 2
check "a hanging program: nothing sent twice" sent_once
eq "a hanging program: no process left behind" "$(pgrep -fc "stream_hook.py $LOG")" 0
eq "a hanging program: the rest applied" "$(q "SELECT count(*) FROM items WHERE run_id=1 AND status NOT IN ('applied','failed')")" 0

# --- garbage, and an answer for an item not in flight
for kind in garbage stranger; do
	stream_sandbox "$kind" 4
	echo "E8" >"$CTL/$kind"
	mk d1.csv $(people 20)
	rs run >"$TMP/$kind.out" 2>&1
	eq "$kind: Needs Attention" "$(q "SELECT status FROM runs WHERE id=1")" needs_attention
	contains "$kind: the run log says why" "$(cat "$TMP/$kind.out")" "a line that is not an answer"
	eq "$kind: started again" "$(starts)" 2
	check "$kind: nothing sent twice" sent_once
	nf=$(q "SELECT count(*) FROM items WHERE run_id=1 AND status='failed'")
	check "$kind: only the items in flight failed (1 to 4)" test "$nf" -ge 1 -a "$nf" -le 4
done
contains "an answer for an item not in flight is no answer" "$(q "SELECT error FROM items WHERE run_id=1 AND status='failed' LIMIT 1")" "item 1:999999 is not in flight"

# --- three starts at most; the rest waits for the next run
stream_sandbox dieall 4
touch "$CTL/dieall"
mk d1.csv $(people 10)
rs run >"$TMP/dieall.out" 2>&1
eq "dies on every start: exit 6" "$?" 6
eq "dies on every start: three starts" "$(starts)" 3
contains "dies on every start: the rest waits" "$(q "SELECT error FROM runs WHERE id=1")" "items wait for the next run"
eq "dies on every start: the program read nothing" "$(grep -c '^recv' "$LOG")" 0
nf=$(q "SELECT count(*) FROM items WHERE run_id=1 AND status='failed'")
check "dies on every start: what was sent failed (3 starts, 4 at most each)" test "$nf" -ge 3 -a "$nf" -le 12
contains "dies on every start: why" "$(q "SELECT error FROM items WHERE run_id=1 AND status='failed' LIMIT 1")" "exited before it answered every item"
np=$(q "SELECT count(*) FROM items WHERE run_id=1 AND status='pending'")
eq "dies on every start: the others are still pending" "$((np + nf))" "$(q "SELECT count(*) FROM items WHERE run_id=1")"
rm "$CTL/dieall"
rs run >/dev/null 2>&1
eq "the next run applies what waited, and only that" "$(q "SELECT status FROM runs WHERE id=1"):$(grep -c '^recv' "$LOG")" "needs_attention:$np"
contains "the report is written again" "$(cat "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=1").csv")" "Needs Attention"
rs retry 1 >/dev/null 2>&1
eq "a retry applies the failed ones" "$?:$(active)" "0:10"

# --- rostersync dies between answers: in flight failed, the rest resumes
stream_sandbox crash 4
mk d1.csv $(people 30)
ROSTERSYNC_FAULT=stream.recorded:3 "$ROSTERSYNC" -c "$CONF" run >/dev/null 2>&1
eq "a crash mid-stream: the run is left In Progress" "$(q "SELECT status FROM runs WHERE id=1")" in_progress
for n in $(seq 1 50); do pgrep -f "stream_hook.py $LOG" >/dev/null || break; sleep 0.1; done
eq "a crash mid-stream: the program ends with its input" "$(pgrep -fc "stream_hook.py $LOG")" 0
rs run >"$TMP/crash2.out" 2>&1
nf=$(q "SELECT count(*) FROM items WHERE run_id=1 AND status='failed'")
check "after the crash: the items in flight failed" test "$nf" -ge 1
contains "after the crash: check, then confirm or retry" "$(q "SELECT error FROM items WHERE run_id=1 AND status='failed' LIMIT 1")" "check, then confirm or retry"
eq "after the crash: the rest applied, nothing pending" "$(q "SELECT count(*) FROM items WHERE run_id=1 AND status='pending'")" 0
check "after the crash: nothing sent twice" sent_once
rs retry 1 >/dev/null 2>&1
eq "after the crash: retry converges" "$?:$(active)" "0:30"

# --- rostersync dies just after it recorded answers: nothing in doubt
# but what was in flight; the rest resumes at the next run
stream_sandbox crash2 4
mk d1.csv $(people 30)
ROSTERSYNC_FAULT=stream.answered:2 "$ROSTERSYNC" -c "$CONF" run >/dev/null 2>&1
eq "a crash after answers: killed there" "$?" 137
for n in $(seq 1 50); do pgrep -f "stream_hook.py $LOG" >/dev/null || break; sleep 0.1; done
applied=$(q "SELECT count(*) FROM items WHERE run_id=1 AND status='applied'")
check "a crash after answers: those answers are kept" test "$applied" -ge 1
rs run >/dev/null 2>&1
check "after it: nothing sent twice" sent_once
eq "after it: nothing pending" "$(q "SELECT count(*) FROM items WHERE run_id=1 AND status='pending'")" 0
eq "after it: every item applied or failed for a person to check" "$(q "SELECT count(*) FROM items WHERE run_id=1 AND (status='applied' OR (status='failed' AND error LIKE '%check, then confirm or retry%'))")" "$(q "SELECT count(*) FROM items WHERE run_id=1")"
rs retry 1 >/dev/null 2>&1
eq "after it: retry converges" "$(active)" 30

# --- the example of rostersync(8), copied as a sysadmin would
sed -n '/^#!\/usr\/bin\/python3$/,/^\.Ed$/p' "$TOP/src/rostersync.8" |
    sed '$d' >"$TMP/example.py"
chmod +x "$TMP/example.py"
sandbox example "hook = { path = \"$TMP/example.py\"; mode = \"stream\"; };"
mk d1.csv $(people 15)
rs run >"$TMP/example.out" 2>&1
eq "the man page's example hook applies every item" "$?:$(active)" "0:15"
contains "its response is kept" "$(rs items 1 --item 4 2>&1)" '"created": "E1"'

# --- the configuration checks the new settings
sandbox badconf 'hook = { path = "/bin/true"; mode = "pipe"; window = 0; };'
rs check-config >"$TMP/badconf.out" 2>&1
eq "check-config refuses a bad mode and window: exit 3" "$?" 3
contains "bad mode named" "$(cat "$TMP/badconf.out")" 'hook.mode must be "exec" or "stream"'
contains "bad window named" "$(cat "$TMP/badconf.out")" "hook.window must be a whole number from 1 to 1024"

finish
