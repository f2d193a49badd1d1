#!/bin/bash
# The operator workflow: approvals (approve, reject, a newer file cancels a
# held run, a stale base is refused), cancel, and the apply hook with its
# failures, retry and confirm, timeouts and floods of output. No item is
# ever applied twice: the hook's own log proves it.
. "$(dirname "$0")/lib.sh"

H=employee_id,email,first_name,last_name,department,title,manager_id,employment_status
mk() { printf '%s\n' "$H" "${@:2}" >"$TMP/$1"; drop "$TMP/$1"; }
people() {	# people N [TITLE-FOR-ID:TITLE ...]: N rows, E1 the manager
	local n=$1 i t; shift
	for i in $(seq 1 "$n"); do
		t=Dev
		for o in "$@"; do [ "${o%%:*}" == "E$i" ] && t=${o#*:}; done
		echo "E$i,u$i@x.org,U$i,L$i,Eng,$t,$([ "$i" -gt 1 ] && echo E1),Active"
	done
}
active() { q "SELECT count(*) FROM users WHERE active = 1"; }

# --- approve: a tripped threshold waits, then is applied exactly once
sandbox appr 'approval = "above_threshold";'
mk d1.csv $(people 20)
rs run >/dev/null 2>&1
before=$(dump)
mk d2.csv $(people 10)
rs run >"$TMP/held.out" 2>&1
eq "tripped, approval above_threshold: exit 5" "$?" 5
eq "tripped: Pending approval" "$(status_of 2)" pending_approval
eq "pending: nothing applied" "$(dump)" "$before"
contains "pending: the log says how to approve" "$(cat "$TMP/held.out")" "rostersync approve 2"
check "pending: a preview report" test -f "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=2").csv"
rs approve 2 --reason "reorganisation" >"$TMP/approve.out" 2>&1
eq "approve: exit 0" "$?" 0
eq "approve: status Approved" "$(status_of 2)" approved
eq "approve: who and why recorded" "$(q "SELECT approver||'|'||reason||'|'||(decided_at>0) FROM runs WHERE id=2")" "$(id -un)|reorganisation|1"
eq "approve: the deletions are applied" "$(active)" 10
eq "approve: every item applied" "$(q "SELECT group_concat(DISTINCT status) FROM items WHERE run_id=2")" applied
contains "approve: the report is now a result report" "$(cat "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=2").csv")" "Result report"
contains "approve: the run log says who approved" "$(cat "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=2").log")" "approved by $(id -un): reorganisation"
rs approve 2 >"$TMP/again.out" 2>&1
eq "approving twice is refused" "$?" 1
contains "approving twice says why" "$(cat "$TMP/again.out")" "is Approved, not Pending approval"
eq "applied exactly once: 10 deactivations" "$(q "SELECT count(*) FROM users WHERE active = 0")" 10

# --- reject: closed, nothing applied
sandbox rej 'approval = "above_threshold";'
mk d1.csv $(people 20); rs run >/dev/null 2>&1
before=$(dump)
mk d2.csv $(people 10); rs run >/dev/null 2>&1
rs reject 2 --reason "looks truncated" >/dev/null 2>&1
eq "reject: exit 0 and Rejected" "$?:$(status_of 2)" "0:rejected"
eq "reject: nothing applied" "$(dump)" "$before"
eq "reject: who and why" "$(q "SELECT approver||'|'||reason FROM runs WHERE id=2")" "$(id -un)|looks truncated"
rs approve 2 >/dev/null 2>&1
eq "a rejected run cannot be approved" "$?" 1

# --- a newer file cancels the held run; a stale base is refused
sandbox sup 'approval = "always";'
mk d1.csv $(people 5); rs run >/dev/null 2>&1
eq "approval always: even the first run waits" "$(status_of 1)" pending_approval
rs approve 1 >/dev/null 2>&1
eq "approval always: approved" "$(status_of 1):$(active)" "approved:5"
mk d2.csv $(people 6); rs run >/dev/null 2>&1
mk d3.csv $(people 7); rs run >/dev/null 2>&1
eq "a newer file cancels the held run" "$(status_of 2)" cancelled
contains "the cancellation says why" "$(q "SELECT reason FROM runs WHERE id=2")" "superseded by run 3"
rs approve 2 >/dev/null 2>&1
eq "a cancelled run cannot be approved" "$?:$(active)" "1:5"
q "UPDATE syncs SET version = version + 1 WHERE name = 'hr'"
rs approve 3 >"$TMP/stale.out" 2>&1
eq "a changed base is refused" "$?:$(status_of 3):$(active)" "1:pending_approval:5"
contains "the refusal says why" "$(cat "$TMP/stale.out")" "changed since run 3 was computed"
rs cancel 3 --reason "stale" >/dev/null 2>&1
eq "cancel a held run" "$?:$(status_of 3)" "0:cancelled"
rs cancel 1 >"$TMP/cancel.out" 2>&1
eq "an applied run cannot be cancelled" "$?" 1

# --- fetch queues: a Queued run can be cancelled before it runs
sandbox queue
mk q1.csv $(people 5)
rs fetch >/dev/null 2>&1
eq "fetch: the file waits as a Queued run" "$(status_of 1)" queued
contains "history shows it Queued" "$(rs history 2>/dev/null)" "Queued"
rs cancel 1 --reason "wrong file" >/dev/null 2>&1
eq "cancel a Queued run" "$?:$(status_of 1)" "0:cancelled"
rs run >"$TMP/q.out" 2>&1
eq "a cancelled queued file is not processed" "$(q "SELECT count(*) FROM users"):$(q "SELECT count(*) FROM runs")" "0:1"
contains "the log says it was set aside" "$(cat "$TMP/q.out")" "cancelled while queued"
check "the cancelled input is kept in archive/" test -f "$SPOOL/archive/hr/1-q1.csv"
mk q2.csv $(people 6)
rs fetch >/dev/null 2>&1
rs run >/dev/null 2>&1
eq "a queued run keeps its number when it runs" "$(status_of 2):$(q "SELECT count(*) FROM runs")" "success:2"
# fetch, a dry run, then the run: the Queued run of that file ends
mk q3.csv $(people 7)
rs fetch >/dev/null 2>&1
queued=$(last_run)
eq "fetch again: Queued" "$(status_of "$queued")" queued
rs run --dry-run >/dev/null 2>&1
eq "a dry run of the queued file leaves it Queued" "$(status_of "$queued"):$(count_of "$(last_run)" dry_run)" "queued:1"
rs run >"$TMP/taken.out" 2>&1
taker=$(last_run)
eq "the run that takes the file applies it" "$(status_of "$taker"):$(active)" "success:7"
eq "the Queued run of the same file ends: Cancelled, taken by that run" \
    "$(q "SELECT status||'|'||reason FROM runs WHERE id=$queued")" "cancelled|taken by run $taker"
eq "nothing stays Queued" "$(q "SELECT count(*) FROM runs WHERE status='queued'")" 0
check "the cancelled run gets its run log" test -f "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=$queued").log"

# --- the apply hook: failures, retry, confirm
sandbox hook "hook = { path = \"$TOP/tests/hook.py\"; args = [ \"$TMP/hook.log\", \"$TMP/ctl\" ]; timeout = 3; };"
mkdir -p "$TMP/ctl"; : >"$TMP/hook.log"
echo "E5 E7" >"$TMP/ctl/fail"
mk h1.csv $(people 12)
# A descriptor left open by whoever starts rostersync (here fd 7 on a
# secret) must not reach the hook.
(exec 7<"$CONF"; rs run >/dev/null 2>&1)
eq "failed items: exit 6 (needs attention)" "$?" 6
eq "failed items: Needs Attention" "$(status_of 1)" needs_attention
eq "two items failed" "$(q "SELECT group_concat(key) FROM (SELECT key FROM items WHERE run_id=1 AND status='failed' ORDER BY key)")" "E5,E7"
contains "the error keeps the exit status and stderr" "$(q "SELECT error FROM items WHERE run_id=1 AND key='E5'")" "status 3: the directory refused E5"
eq "the directory holds only what was applied" "$(q "SELECT count(*) FROM users WHERE key IN ('E5','E7')"):$(active)" "0:10"
eq "the hook ran once per applied item" "$(grep -c '^create ' "$TMP/hook.log")" 10
eq "the hook inherits no descriptor above 2" "$(cat "$TMP/ctl/fds")" ""
eq "the hook's environment is clean" "$(cat "$TMP/ctl/env")" "LANG PATH ROSTERSYNC_ITEM ROSTERSYNC_RUN ROSTERSYNC_SYNC"
eq "users whose items failed show as Failed" \
    "$(rs users --status failed --json | $PYTHON -c 'import json,sys; print(" ".join(sorted(u["employee_id"] for u in json.load(sys.stdin)["users"])))')" "E5 E7"
contains "user E5: the failure alert" "$(rs user E5 2>&1)" "1 sync failure detected"
seq5=$(q "SELECT seq FROM items WHERE run_id=1 AND key='E5'")
rs items 1 --item "$seq5" >"$TMP/item.out" 2>&1
contains "items --item shows the payload" "$(cat "$TMP/item.out")" '"employee_id":"E5"'
contains "items --item shows the attempt" "$(cat "$TMP/item.out")" "exit status 3"
rs items 1 --item "$seq5" --json | $PYTHON -m json.tool >/dev/null 2>&1
eq "items --item --json parses" "$?" 0
: >"$TMP/ctl/fail"
rs retry 1 >"$TMP/retry.out" 2>&1
eq "retry after the hook is fixed: exit 0" "$?" 0
eq "retry is a new run linked to the first" "$(q "SELECT trigger||'|'||parent_run||'|'||status FROM runs WHERE id=2")" "retry|1|success"
eq "retry applied them" "$(active)" 12
eq "after the retry nobody is Failed" "$(rs users --status failed --json | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)["total"])')" 0
eq "E5 is Synced" "$(rs users --email u5@ --json | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)["users"][0]["status"])')" synced
eq "the originals are resolved by the retry" "$(q "SELECT group_concat(DISTINCT resolved_by) FROM items WHERE run_id=1 AND key IN ('E5','E7')")" 2
rs retry 1 >"$TMP/retry2.out" 2>&1
contains "a second retry has nothing to do" "$(cat "$TMP/retry2.out")" "no failed items"
eq "no user was created twice by the hook" "$(cut -d' ' -f1,2 "$TMP/hook.log" | sort | uniq -d | wc -l)" 0

echo "E3" >"$TMP/ctl/fail"
mk h2.csv $(people 12 E3:Lead E4:Lead)
rs run >/dev/null 2>&1
r=$(last_run)
eq "an update fails for E3" "$(q "SELECT status FROM items WHERE run_id=$r AND key='E3' AND type='update'")" failed
s3=$(q "SELECT seq FROM items WHERE run_id=$r AND key='E3' AND type='update'")
rs confirm "$r:$s3" --reason "done by hand" >/dev/null 2>&1
eq "confirm: exit 0, item confirmed" "$?:$(q "SELECT status FROM items WHERE run_id=$r AND seq=$s3")" "0:confirmed"
eq "confirm: the directory follows" "$(q "SELECT json_extract(fields,'\$.title') FROM users WHERE key='E3'")" Lead
eq "confirm: the hook was not run for it" "$(grep -c '^update E3 ' "$TMP/hook.log")" 0
rs confirm "$r:$s3" >/dev/null 2>&1
eq "confirming twice is refused" "$?" 1
rs retry "$r" >"$TMP/retry3.out" 2>&1
contains "a confirmed item is not retried" "$(cat "$TMP/retry3.out")" "no failed items"
eq "the counts kept with the directory and the runs are right after the hook, a retry and a confirm" \
    "$(counts_off)" 0

# --- a hook that hangs is killed at its timeout; one that floods stderr
echo "E8" >"$TMP/ctl/hang"; echo "E9" >"$TMP/ctl/spew"; : >"$TMP/ctl/fail"
mk h3.csv $(people 12 E3:Lead E4:Lead E8:Boss E9:Boss)
start=$(date +%s)
/usr/bin/time -f %M -o "$TMP/rss" "$ROSTERSYNC" -c "$CONF" run >/dev/null 2>&1
took=$(( $(date +%s) - start ))
r=$(last_run)
contains "a hanging hook is killed at its timeout" "$(q "SELECT error FROM items WHERE run_id=$r AND key='E8'")" "timed out after 3 s"
check "the run went on after the timeout (< 60 s)" test "$took" -lt 60
eq "no hook process is left behind" "$(pgrep -fc "tests/hook.py $TMP/hook.log")" 0
eq "a flood on stderr: the item failed" "$(q "SELECT status FROM items WHERE run_id=$r AND key='E9'")" failed
check "a flood on stderr: what is kept is bounded (< 70 KB)" test "$(q "SELECT max(length(error)) FROM attempts WHERE run_id=$r")" -lt 70000
check "a flood on stderr: memory stays small (< 100 MB)" test "$(tail -1 "$TMP/rss")" -lt 100000

# --- a hook that exits but leaves a process holding its stdout and
# stderr (a background job it started): its exit status is taken at once,
# what it wrote is kept, the process is not waited for, and the run log
# says so once
sandbox leave "hook = { path = \"$TOP/tests/hook.py\"; args = [ \"$TMP/hookl.log\", \"$TMP/ctll\" ]; timeout = 30; };"
mkdir -p "$TMP/ctll"; : >"$TMP/hookl.log"
echo "E1 E2 E3" >"$TMP/ctll/leave"
mk l1.csv $(people 3)
start=$(date +%s)
rs run >"$TMP/leave.out" 2>&1
eq "a process left holding the hook's output: exit 0, Success" "$?:$(status_of 1)" 0:success
took=$(( $(date +%s) - start ))
check "the processes it left still run when the run ends" kill -0 $(cat "$TMP/ctll/left")
touch "$TMP/ctll/release"
check "no item waited out the 30 s timeout (the run took ${took} s)" test "$took" -lt 30
eq "every item applied with the hook's exit status" "$(q "SELECT group_concat(DISTINCT status) FROM items WHERE run_id=1"):$(q "SELECT group_concat(DISTINCT exit_status) FROM attempts WHERE run_id=1")" applied:0
contains "what the hook wrote before it exited is kept" "$(rs items 1 --item "$(q "SELECT seq FROM items WHERE run_id=1 AND key='E1'")" 2>&1)" '"id": "E1"'
eq "the run log says once that the hook left a process holding its output" \
    "$(grep -c 'the hook hook.py exited but left a process holding its output' "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=1").log")" 1

# --- a long apply shows its progress (done of total, rate, time left)
# every few seconds; a short one shows none. (The interval is 1 s here
# instead of 5: ROSTERSYNC_PROGRESS_SECONDS.)
sandbox progress "hook = { path = \"$TOP/tests/hook.py\"; args = [ \"$TMP/hookp.log\", \"$TMP/ctlp\" ]; timeout = 10; };"
mkdir -p "$TMP/ctlp"; : >"$TMP/hookp.log"
mk p1.csv $(people 3)
rs run >"$TMP/short.out" 2>&1
eq "a short run: no progress lines" "$(grep -c 'with the hook:' "$TMP/short.out")" 0
echo 0.4 >"$TMP/ctlp/sleep"
mk p2.csv $(people 11)
ROSTERSYNC_PROGRESS_SECONDS=1 rs run >"$TMP/long.out" 2>&1
eq "a long apply: it succeeds" "$?" 0
check "a long apply: progress lines while the hook runs" \
    grep -q 'applying items with the hook: [0-9]* of 8 ([0-9]*%), [0-9.]* a second, about [0-9]* s left' "$TMP/long.out"
check "the progress lines name the run" \
    grep -q 'run 2 sync hr: applying items with the hook:' "$TMP/long.out"
base=$(q "SELECT report_base FROM runs WHERE id=2")
eq "progress lines stay out of the run log" \
    "$(grep -c 'with the hook:' "$SPOOL/reports/hr/$base.log")" 0
rm -f "$TMP/ctlp/sleep"

# --- the override of approval = "never": --reason is mandatory, and the
# run records who gave it (the user behind sudo, else the login name),
# when and why
# summary FILE LABEL: the value of a summary row of a CSV report.
summary() {
	$PYTHON -c 'import csv, sys
for r in csv.reader(open(sys.argv[1], encoding="utf-8-sig")):
    if r[0] == "Summary" and r[5] == sys.argv[2]:
        print(r[7])' "$1" "$2"
}
# xsummary FILE LABEL: the same read back from the XLSX by openpyxl.
xsummary() {
	$PYTHON "$TOP/tests/xlsx_dump.py" "$1" | awk -F'\t' -v l="$2" '
	    $1 == "CELL" && $2 == "Summary" && $4 == 1 && $6 == l { row = $3 }
	    $1 == "CELL" && $2 == "Summary" && $4 == 2 && $3 == row { print $6 }'
}
report_of() { echo "$SPOOL/reports/hr/$(q "SELECT report_base FROM runs WHERE id=$1").$2"; }
for who in alice ""; do
	sandbox "ovr$who"
	mk d1.csv $(people 20); rs run >/dev/null 2>&1
	mk d2.csv $(people 10); rs run >/dev/null 2>&1
	held=$SPOOL/archive/hr/2-d2.csv
	if [ -n "$who" ]; then
		rs run --sync hr --file "$held" --allow-deletes 10 >"$TMP/ovr.out" 2>&1
		eq "override without --reason: exit 2" "$?" 2
		contains "override without --reason: says why" "$(cat "$TMP/ovr.out")" \
		    "--allow-deletes needs --reason TEXT"
		rs run --sync hr --file "$held" --allow-deletes 10 --reason "  " >/dev/null 2>&1
		eq "override with an empty reason: exit 2" "$?" 2
		rs run --sync hr --file "$held" --reason "why" >/dev/null 2>&1
		eq "--reason without an override: exit 2" "$?" 2
		eq "override refused: no run, nothing deleted" "$(q "SELECT count(*) FROM runs"):$(active)" "2:20"
	fi
	SUDO_USER=$who rs run --sync hr --file "$held" --allow-deletes 10 \
	    --reason "HR confirmed the reorg" >"$TMP/ovr.out" 2>&1
	eq "override${who:+ by $who}: exit 0, Success, deletions applied" "$?:$(status_of 3):$(active)" "0:success:10"
	person=${who:-$(id -un)}
	eq "override${who:+ by $who}: the person, when and why recorded" \
	    "$(q "SELECT decision||'|'||approver||'|'||reason||'|'||(decided_at>0) FROM runs WHERE id=3")" \
	    "override|$person|HR confirmed the reorg|1"
done
out=$(rs show 3)
contains "override: show says what was decided" "$out" "Overridden (--allow-deletes 10)"
contains "override: show says by whom" "$out" "Decided by                       $person"
contains "override: show says when" "$out" "Decided at"
check "override: show has no Approver label" test "$(printf '%s' "$out" | grep -c Approver)" -eq 0
eq "override: show --json" "$(rs show 3 --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); print(d["decision"], d["decided_by"], d["approver"], d["reason"], d["overrides"], d["decided_at"] is not None)')" \
    "override $person $person HR confirmed the reorg {'allow-deletes': 10} True"
eq "override: the CSV report says who" "$(summary "$(report_of 3 csv)" "Decided by")" "$person"
eq "override: the XLSX report says who" "$(xsummary "$(report_of 3 xlsx)" "Decided by")" "$person"
eq "override: the XLSX report says what" "$(xsummary "$(report_of 3 xlsx)" "Decision")" "Overridden (--allow-deletes 10)"
contains "override: the run log says who, and why" "$(cat "$(report_of 3 log)")" \
    "one-time override --allow-deletes 10, given by $person: HR confirmed the reorg"
check "override: the configured threshold is unchanged" grep -q 'key = "employee_id"' "$CONF"

# --- an approved run with an item the hook fails is Needs Attention; the
# counts per type, applied and failed, are where people look
sandbox apfail "approval = \"above_threshold\"; hook = { path = \"$TOP/tests/hook.py\"; args = [ \"$TMP/hook2.log\", \"$TMP/ctl2\" ]; timeout = 3; };"
mkdir -p "$TMP/ctl2"; : >"$TMP/hook2.log"
mk d1.csv $(people 20); rs run >/dev/null 2>&1
mk d2.csv $(people 10); rs run >/dev/null 2>&1
eq "held with a hook: Pending approval" "$(status_of 2)" pending_approval
preview=$(q "SELECT report_base FROM runs WHERE id=2")
echo "E12 E13" >"$TMP/ctl2/fail"
SUDO_USER=alice rs approve 2 --reason "reorg" >"$TMP/apfail.out" 2>&1
eq "approved, two items failed: exit 6" "$?" 6
eq "approved, two items failed: Needs Attention, decision kept" \
    "$(q "SELECT status||'|'||decision||'|'||approver FROM runs WHERE id=2")" "needs_attention|approve|alice"
contains "approve says it needs attention" "$(cat "$TMP/apfail.out")" "Needs Attention"
contains "the log names items --status, retry and confirm" "$(cat "$TMP/apfail.out")" \
    "rostersync items 2 --status failed shows them; rostersync retry 2 runs them again, rostersync confirm 2:ITEM"
out=$(rs show 2)
contains "show: applied per type" "$out" "User deleted: applied            8"
contains "show: failed per type" "$out" "User deleted: failed             2"
contains "show: the hint names retry" "$out" "rostersync retry 2"
contains "show: the hint names confirm" "$out" "rostersync confirm 2:ITEM"
contains "show: who approved" "$out" "Decided by                       alice"
eq "show --json: applied and failed per type, who and when" \
    "$(rs show 2 --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); print(d["applied"]["delete"], d["failed"]["delete"], d["failed"]["create"], d["counts"]["delete"], d["decided_by"], d["decided_at"] is not None)')" \
    "8 2 0 10 alice True"
eq "CSV report: applied per type" "$(summary "$(report_of 2 csv)" "User deleted: applied")" 8
eq "CSV report: failed per type" "$(summary "$(report_of 2 csv)" "User deleted: failed")" 2
eq "XLSX report: failed per type" "$(xsummary "$(report_of 2 xlsx)" "User deleted: failed")" 2
eq "XLSX report: applied per type" "$(xsummary "$(report_of 2 xlsx)" "User deleted: applied")" 8
contains "run log: failed per type" "$(cat "$(report_of 2 log)")" "User deleted: failed             2"
eq "items --status failed: the two" "$(rs items 2 --status failed --json | $PYTHON -c 'import json,sys; print(" ".join(i["employee_id"] for i in json.load(sys.stdin)["items"]))')" "E12 E13"
eq "items --status applied: the eight" "$(rs items 2 --status applied --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); print(len(d["items"]), {i["status"] for i in d["items"]}, len(d["issues"]))')" "8 {'applied'} 0"
eq "items --status held: none now" "$(rs items 2 --status held --json | $PYTHON -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" 0
rs items 2 --status bogus >/dev/null 2>&1
eq "items --status bogus: exit 2" "$?" 2
check "the preview the approver saw is kept" test -f "$SPOOL/reports/hr/$preview.csv" -a -f "$SPOOL/reports/hr/$preview.xlsx"
contains "the kept preview is a preview" "$(cat "$SPOOL/reports/hr/$preview.csv")" "Preview report (nothing applied)"
check "the result has files of its own" test "$(q "SELECT report_base FROM runs WHERE id=2")" != "$preview"
contains "the result report is a result" "$(cat "$(report_of 2 csv)")" "Result report"
eq "the run records where the preview is" "$(q "SELECT preview_base FROM runs WHERE id=2")" "$preview"
s12=$(q "SELECT seq FROM items WHERE run_id=2 AND key='E12'")
SUDO_USER=bob rs confirm "2:$s12" --reason "removed by hand" >/dev/null 2>&1
eq "confirm: who, when and why on the item" \
    "$(q "SELECT error LIKE 'confirmed by bob at % UTC: removed by hand' FROM items WHERE run_id=2 AND seq=$s12")" 1
out=$(rs show 2)
contains "show after confirm: one failed left" "$out" "User deleted: failed             1"
contains "show after confirm: the confirmation is listed" "$out" "1 item was confirmed as done by hand"
contains "the CSV result report carries the confirmation" "$(cat "$(report_of 2 csv)")" "confirmed by bob at"

# --- reject, cancel and a newer file: each labelled for what it was
sandbox labels 'approval = "above_threshold";'
mk d1.csv $(people 20); rs run >/dev/null 2>&1
mk d2.csv $(people 10); rs run >/dev/null 2>&1
SUDO_USER=carol rs reject 2 --reason "truncated" >/dev/null 2>&1
out=$(rs show 2)
contains "reject: labelled Rejected" "$out" "Decision                         Rejected"
contains "reject: by whom" "$out" "Decided by                       carol"
check "reject: not labelled Approver" test "$(printf '%s' "$out" | grep -c Approver)" -eq 0
eq "reject: the CSV says Rejected" "$(summary "$(report_of 2 csv)" Decision)" Rejected
mk d3.csv $(people 9); rs run >/dev/null 2>&1
SUDO_USER=dave rs cancel 3 --reason "wrong day" >/dev/null 2>&1
eq "cancel: decision, person, reason" "$(rs show 3 --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); print(d["decision"], d["decided_by"], d["reason"])')" "cancel dave wrong day"
rs report 3 --format csv -o "$TMP/cancelled.csv" >/dev/null 2>&1
eq "the preview of a cancelled run can be made again" "$?" 0
contains "it is a preview" "$(cat "$TMP/cancelled.csv")" "Preview report (nothing applied)"
eq "it lists the would-be deletions" "$(grep '^Change,User deleted,' "$TMP/cancelled.csv" | cut -d, -f3 | sort -u | wc -l)" 11
eq "each with the person's last values, old -> empty" \
    "$(grep -c '^Change,User deleted,E12,u12@x.org,U12 L12,title,Dev,,held,' "$TMP/cancelled.csv")" 1
eq "it says who cancelled" "$(summary "$TMP/cancelled.csv" "Decided by")" dave
mk d4.csv $(people 8); rs run >/dev/null 2>&1
mk d5.csv $(people 7); rs run >/dev/null 2>&1
eq "a newer file: Superseded, decided by rostersync" "$(rs show 4 --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d["decision"], d["decided_by"], d["decided_at"] is not None)')" "cancelled supersede rostersync True"

finish
