#!/bin/bash
# The SFTP drop-zone (source = "sftp://...") against a real OpenSSH sshd on
# 127.0.0.1 (tests/sshd.sh): fetch, processing, the remote processed/
# folder and the reports published back; settling observed across polls
# and marker files; host keys (unknown, changed, accepted once); keys,
# passphrases and password files; the server stopped, frozen or killed in
# the middle of a download, or one stream's channel closed; a file changed
# on the server while it is downloaded (not taken); downloads and uploads
# over several streams byte for byte, an upload cut, servers allowing
# fewer sessions per connection, the settings checked; hostile names;
# duplicates; publish failures retried by the next run; publishing to a
# local drop-zone too; one login for a run, and a new one when the run's
# connection is lost.
. "$(dirname "$0")/lib.sh"
# The second exports here replace most values of the first on purpose:
# not what the update threshold (t_integrity) is about.
SANDBOX_SETTINGS='max_update_percent = 100;'
. "$(dirname "$0")/sshd.sh"

if ! sshd_usable; then
	skip "sftp: needs root, $SSHD (openssh-server) and ssh-keygen"
	finish
fi
sshd_setup "$TMP/sshd"
if ! sshd_start; then
	not_ok "sshd starts on 127.0.0.1" "$(tail -5 "$SSHD_DIR/sshd.log")"
	finish
fi

# The sqlite3 shell waits for a writer instead of failing at once.
qq() { sqlite3 -bail -cmd '.timeout 5000' "$DB" "$1"; }
set_conf() { sed -i "s/^\(\s*\)$1 = [^;]*;/\1$1 = $2;/" "$CONF"; }
# set_sftp KEY VALUE: a setting of the sandbox's sftp group (one line).
set_sftp() {
	sed -i "/sftp = {/{s| $1 = [^;]*;||; s|sftp = {|sftp = { $1 = $2;|}" \
	    "$CONF"
}
# sftp_sandbox NAME [SETTINGS]: sandbox() reading INBOX on the sshd.
sftp_sandbox() {
	sandbox "$1" "${2:-}"
	INBOX=$SB/remote/inbox KH=$SB/known_hosts
	mkdir -p "$INBOX"
	echo "$KNOWN_LINE" >"$KH"
	sed -i "s|^\tsource = \"dir:drop\";|\tsource = \"sftp://root@127.0.0.1:\
$SSHD_PORT$INBOX\";\n\tsftp = { known_hosts = \"$KH\"; identity = \
\"$CLIENT_KEY\"; timeout = 5; retries = 0; };|" "$CONF"
}
# rdrop FILE NAME: an export dropped on the server, settled (an hour old).
rdrop() {
	cp "$1" "$INBOX/$2"
	touch -d '-1 hour' "$INBOX/$2"
}
nruns() { qq "SELECT count(*) FROM runs"; }
# The runs of files (a source failure is a run without a file).
fileruns() { qq "SELECT $1 FROM runs WHERE file_name IS NOT NULL ORDER BY id"; }
# failed_run FIELD: a field of the latest run, a Failed one of the source.
failed_run() { qq "SELECT $1 FROM runs WHERE status = 'failed' AND file_name IS NULL ORDER BY id DESC LIMIT 1"; }
FP=$(ssh-keygen -lf "$HOST_KEY.pub" | awk '{print $2}')

$GEN --rows 50 --seed 1 -o "$TMP/small.csv"
$GEN --rows 50 --seed 2 -o "$TMP/other.csv"
$GEN --rows 50 --seed 3 -o "$TMP/third.csv"

# --- happy path: fetched, processed, archived remotely, reports published
sftp_sandbox happy
rdrop "$TMP/small.csv" day1.csv
log_from=$(($(wc -l <"$SSHD_DIR/sshd.log") + 1))
rs run >"$TMP/happy.out" 2>&1
eq "happy: exit 0" "$?" 0
eq "happy: one successful run of day1.csv" \
    "$(qq "SELECT file_name, status FROM runs")" "day1.csv|success"
eq "happy: the run names the sftp source" "$(qq "SELECT source FROM runs")" \
    "sftp://root@127.0.0.1:$SSHD_PORT$INBOX"
eq "happy: 50 users created" "$(count_of 1 n_create)" 50
check "happy: the export moved to processed/ on the server" \
    test -f "$INBOX/processed/day1.csv"
check "happy: and left the inbox" test ! -e "$INBOX/day1.csv"
cmp -s "$TMP/small.csv" "$SPOOL/archive/hr/1-day1.csv"
eq "happy: the archived copy is byte-identical" "$?" 0
base=$(qq "SELECT report_base FROM runs WHERE id = 1")
for ext in csv xlsx log; do
	cmp -s "$SPOOL/reports/hr/$base.$ext" "$INBOX/reports/$base.$ext"
	eq "happy: the $ext report is on the server, identical" "$?" 0
done
eq "happy: no .part file left in the remote reports folder" \
    "$(ls -A "$INBOX/reports" | grep -c '\.part$')" 0
eq "happy: the uploads are recorded as done" \
    "$(qq "SELECT group_concat(state) FROM publish")" "done,done,done"
contains "happy: the log says where the reports went" \
    "$(cat "$TMP/happy.out")" "published 3 report files to reports/"
sleep 0.5	# the server's log of the last session
sessions=$(tail -n +"$log_from" "$SSHD_DIR/sshd.log")
eq "happy: one SSH login for the run (fetch, move to processed/, reports)" \
    "$(printf '%s\n' "$sessions" | grep -c 'Accepted publickey')" 1
eq "happy: every session ends with an SSH disconnect, not a dropped socket" \
    "$(printf '%s\n' "$sessions" | grep -c 'Received disconnect from 127.0.0.1 port [0-9]*:11: Bye Bye')" \
    "$(printf '%s\n' "$sessions" | grep -c 'Accepted publickey')"
eq "happy: no connection closed without a disconnect" \
    "$(printf '%s\n' "$sessions" | grep -c 'Connection closed by')" 0
rdrop "$TMP/other.csv" day2.csv
rs run >"$TMP/happy2.out" 2>&1
eq "happy: the next day's export runs too" \
    "$(qq "SELECT status FROM runs WHERE file_name = 'day2.csv'")" success
eq "happy: six report files on the server" \
    "$(ls "$INBOX/reports" | wc -l)" 6
rs run >"$TMP/happy3.out" 2>&1
eq "happy: a run with nothing new exits 0" "$?" 0
eq "happy: and does nothing twice" "$(nruns)" 2
rdrop "$TMP/third.csv" day1.csv	# the same name again, new content
rs run >"$TMP/happy4.out" 2>&1
eq "happy: an export under a name used before runs" \
    "$?,$(qq "SELECT count(*) FROM runs WHERE file_name = 'day1.csv'")" "0,2"
cmp -s "$TMP/third.csv" "$INBOX/processed/day1.csv"
eq "happy: and replaces the older one in processed/" "$?" 0

# --- the run's connection lost while the run works (every session of the
# server killed at run.started, between the fetch and the move): the move
# and the reports go over a new one, and nothing is lost or done twice
drop_sessions() {
	local p
	for p in $(sshd_sessions); do
		kill -9 "$p" 2>/dev/null
	done
}
sftp_sandbox lost
rdrop "$TMP/small.csv" day1.csv
log_from=$(($(wc -l <"$SSHD_DIR/sshd.log") + 1))
rs_opts=-v paused run.started "$TMP/lost.out" drop_sessions
eq "lost mid-run: paused there" "$pause_seen" yes
eq "lost mid-run: the run succeeds" \
    "$prc,$(qq "SELECT file_name, status FROM runs")" "0,day1.csv|success"
check "lost mid-run: the export moved to processed/ all the same" \
    test -f "$INBOX/processed/day1.csv" -a ! -e "$INBOX/day1.csv"
eq "lost mid-run: the reports published all the same" \
    "$(qq "SELECT group_concat(state) FROM publish")" "done,done,done"
contains "lost mid-run: the log says it connected again" \
    "$(cat "$TMP/lost.out")" "is gone; connecting again"
sleep 0.5	# the server's log of the last session
eq "lost mid-run: two SSH logins, the second after the first was lost" \
    "$(tail -n +"$log_from" "$SSHD_DIR/sshd.log" | grep -c 'Accepted publickey')" 2

# --- fetch only fetches; the source file stays until its run is recorded
sftp_sandbox fetchonly
rdrop "$TMP/small.csv" f.csv
rs fetch >"$TMP/fetch.out" 2>&1
eq "fetch: exit 0" "$?" 0
eq "fetch: queued, not processed" "$(qq "SELECT state FROM files"),$(qq \
    "SELECT count(*) FROM runs WHERE status NOT IN ('queued')")" "fetched,0"
check "fetch: the export stays on the server" test -f "$INBOX/f.csv"
rs run >"$TMP/fetch2.out" 2>&1
eq "fetch: the next run processes it" "$(qq "SELECT status FROM runs")" \
    success
check "fetch: then it moves to processed/" test -f "$INBOX/processed/f.csv"

# --- after = "delete" and "leave"
sftp_sandbox delete 'after = "delete";'
rdrop "$TMP/small.csv" d.csv
rs run >/dev/null 2>&1
check "after delete: the export is deleted on the server" \
    test ! -e "$INBOX/d.csv"
check "after delete: no processed/ folder" test ! -e "$INBOX/processed"
sftp_sandbox leave 'after = "leave";'
rdrop "$TMP/small.csv" l.csv
rs run >/dev/null 2>&1
rs run >/dev/null 2>&1
check "after leave: the export stays" test -f "$INBOX/l.csv"
eq "after leave: processed once" "$(nruns)" 1

# --- the move to processed/ fails: retried next run, nothing run twice
sftp_sandbox movefail 'pattern = "*.csv";'
rdrop "$TMP/small.csv" mv.csv
echo "in the way" >"$INBOX/processed"
rs run >"$TMP/movefail1.out" 2>&1
eq "move fails: the run itself succeeds" \
    "$?,$(qq "SELECT status FROM runs")" "0,success"
contains "move fails: logged, with the cause and what happens next" \
    "$(cat "$TMP/movefail1.out")" \
    "$INBOX/processed is in the way: it is not a folder; will try again next run"
check "move fails: the export stays on the server" test -f "$INBOX/mv.csv"
check "move fails: the local copy is archived" \
    test -f "$SPOOL/archive/hr/1-mv.csv"
rm "$INBOX/processed"
rs run >"$TMP/movefail2.out" 2>&1
eq "move retried: no second run" "$?,$(nruns)" "0,1"
check "move retried: the export is in processed/" \
    test -f "$INBOX/processed/mv.csv" -a ! -e "$INBOX/mv.csv"

# --- settling: a file still being written is not taken
sftp_sandbox settle
set_conf settle_seconds 2
head -1 "$TMP/small.csv" >"$INBOX/growing.csv"
(for line in $(seq 2 30); do
	sed -n "${line}p" "$TMP/small.csv" >>"$INBOX/growing.csv"
	sleep 0.25
done; tail -n +31 "$TMP/small.csv" >>"$INBOX/growing.csv") &
writer=$!
rs run >"$TMP/settle1.out" 2>&1
eq "settle: exit 0 while the file is written" "$?" 0
eq "settle: it is not taken" "$(qq "SELECT count(*) FROM files")" 0
contains "settle: the log says it looked again" "$(cat "$TMP/settle1.out")" \
    "looking again in 2 s at 1 file still settling"
contains "settle: the log says it is still being written" \
    "$(cat "$TMP/settle1.out")" "growing.csv is still being written"
wait_for "$writer" 20
cmp -s "$TMP/small.csv" "$INBOX/growing.csv"
eq "settle: the writer finished" "$?" 0
rs run >"$TMP/settle2.out" 2>&1
eq "settle: once complete, it is taken (looked at twice, 2 s apart)" \
    "$(qq "SELECT file_name, status FROM runs")" "growing.csv|success"
eq "settle: the observation is forgotten once taken" \
    "$(qq "SELECT count(*) FROM observed")" 0

# Longer settle times are observed across runs, by our clock: an old
# mtime alone does not make a file complete.
sftp_sandbox settle_long
set_conf settle_seconds 600
rdrop "$TMP/small.csv" slow.csv
rs run >"$TMP/slow1.out" 2>&1
eq "settle 600: first seen, not taken" "$(qq "SELECT count(*) FROM files")" 0
contains "settle 600: the log says why" "$(cat "$TMP/slow1.out")" \
    "it is taken once its size and mtime stay the same for 600 s"
contains "settle 600: an hour-old file is not called new" "$(cat "$TMP/slow1.out")" \
    "slow.csv: seen for the first time (modified 60 min ago, by the server's clock)"
eq "settle 600: the observation is in the store" \
    "$(qq "SELECT name, size FROM observed")" "slow.csv|$(stat -c %s "$TMP/small.csv")"
qq "UPDATE observed SET first_seen = first_seen - 601"
rs run >"$TMP/slow2.out" 2>&1
eq "settle 600: unchanged 601 s later, it is taken" \
    "$(qq "SELECT status FROM runs")" success
rdrop "$TMP/other.csv" slow2.csv
rs run >/dev/null 2>&1
qq "UPDATE observed SET first_seen = first_seen - 601"
cat "$TMP/third.csv" >"$INBOX/slow2.csv"	# replaced before it settled
rs run >"$TMP/slow3.out" 2>&1
eq "settle 600: a file that changed starts over" "$(nruns)" 1
contains "settle 600: the log says it changed" "$(cat "$TMP/slow3.out")" \
    "slow2.csv is still being written"
rm -f "$INBOX/slow2.csv"
rs run >/dev/null 2>&1
eq "settle 600: a file gone from the server is forgotten" \
    "$(qq "SELECT count(*) FROM observed")" 0

# --- marker mode: NAME.done says the upload is complete
sftp_sandbox marker 'marker = true;'
set_conf settle_seconds 600
rdrop "$TMP/small.csv" m.csv
rs run >"$TMP/marker1.out" 2>&1
eq "marker: without m.csv.done nothing is taken" \
    "$(qq "SELECT count(*) FROM files")" 0
contains "marker: the log says it waits for the marker" \
    "$(cat "$TMP/marker1.out")" "waiting for its marker m.csv.done"
touch "$INBOX/m.csv.done"
rs run >"$TMP/marker2.out" 2>&1
eq "marker: with m.csv.done it is taken (settle_seconds does not apply)" \
    "$(qq "SELECT file_name, status FROM runs")" "m.csv|success"
check "marker: the marker goes with its file" test ! -e "$INBOX/m.csv.done"
check "marker: the file is in processed/" test -f "$INBOX/processed/m.csv"

# --- host keys
sftp_sandbox hostkey
rdrop "$TMP/small.csv" h.csv
: >"$KH"
rs run >"$TMP/unknown.out" 2>&1
eq "unknown host key: exit 1" "$?" 1
contains "unknown host key: refused" "$(cat "$TMP/unknown.out")" \
    "the server's host key is unknown (ssh-ed25519 $FP); refusing to connect"
contains "unknown host key: the message shows the SHA256 fingerprint" \
    "$(cat "$TMP/unknown.out")" "presented the ssh-ed25519 key $FP"
contains "unknown host key: and the exact known_hosts line to add" \
    "$(cat "$TMP/unknown.out")" "add this line to $KH: $KNOWN_LINE"
eq "unknown host key: nothing fetched" "$(qq "SELECT count(*) FROM files")" 0
eq "unknown host key: one error line (journal priority err), no warning" \
    "$(grep -c 'error: .*host key is unknown' "$TMP/unknown.out"),$(grep -c 'warning:' "$TMP/unknown.out")" "1,0"
eq "unknown host key: known_hosts left alone" "$(wc -c <"$KH")" 0
eq "unknown host key: a Failed run of the sync, without a file" \
    "$(qq "SELECT status, file_name IS NULL, failures FROM runs")" "failed|1|1"
contains "unknown host key: the run has the error" "$(failed_run error)" \
    "the server's host key is unknown (ssh-ed25519 $FP); refusing to connect"
contains "unknown host key: and what to do, whatever the server is" \
    "$(failed_run hint)" "Ask the server's administrator for the SHA256 fingerprint of its host key"
contains "unknown host key: the hint names ProFTPD too" "$(failed_run hint)" \
    "the SFTPHostKey file for ProFTPD"
contains "unknown host key: the hint has the line to add" "$(failed_run hint)" \
    "add this line to $KH: $KNOWN_LINE"
contains "unknown host key: show gives the error and the hint" \
    "$(rs show "$(failed_run id)" 2>&1)" "The source could not be read"
ssh-keygen -q -t ed25519 -N '' -f "$SB/other_host"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SB/other_host.pub")" >"$KH"
cp "$KH" "$SB/kh.before"
rs run >"$TMP/changed.out" 2>&1
eq "changed host key: exit 1" "$?" 1
contains "changed host key: refused" "$(cat "$TMP/changed.out")" \
    "the server's host key changed (ssh-ed25519 $FP); refusing to connect"
contains "changed host key: the message says what to check and do" \
    "$(cat "$TMP/changed.out")" \
    "HOST KEY CHANGED: the server presented the ssh-ed25519 key $FP"
contains "changed host key: with the line to add" \
    "$(cat "$TMP/changed.out")" "$KNOWN_LINE"
set_sftp accept_new_host_key true
rs run >"$TMP/changed2.out" 2>&1
eq "changed host key: refused even with accept_new_host_key" "$?" 1
cmp -s "$KH" "$SB/kh.before"
eq "changed host key: known_hosts left alone" "$?" 0
eq "changed host key: nothing fetched" "$(qq "SELECT count(*) FROM files")" 0
eq "changed host key, twice: one Failed run counts both" \
    "$(failed_run failures),$(qq "SELECT count(*) FROM runs WHERE status = 'failed'")" "2,2"
rm -f "$KH"
rs run >"$TMP/accept.out" 2>&1
eq "accept_new_host_key: an unknown key is accepted, the run succeeds" \
    "$?,$(fileruns status)" "0,success"
check "accept_new_host_key: the failure is over (the source answers)" \
    test "$(failed_run recovered_at)" -gt 0
contains "accept_new_host_key: the log says so, with the fingerprint" \
    "$(cat "$TMP/accept.out")" \
    "the server's ssh-ed25519 host key $FP was unknown; accepted once"
check "accept_new_host_key: the key was written to known_hosts" \
    grep -qF "$(cut -d' ' -f2 "$HOST_KEY.pub")" "$KH"
set_sftp accept_new_host_key false
rdrop "$TMP/other.csv" h2.csv
rs run >"$TMP/accept2.out" 2>&1
eq "accept_new_host_key: from then on the key is known" \
    "$?,$(qq "SELECT count(*) FROM runs WHERE status = 'success'")" "0,2"

# --- client keys, passphrases and password files
sftp_sandbox auth
set_sftp retries 2
rdrop "$TMP/small.csv" a.csv
ssh-keygen -q -t ed25519 -N '' -f "$SB/wrong_key"
set_sftp identity "\"$SB/wrong_key\""
rs run >"$TMP/wrongkey.out" 2>&1
eq "wrong client key: exit 1" "$?" 1
contains "wrong client key: refused, saying with which key" \
    "$(cat "$TMP/wrongkey.out")" \
    "authentication failed for user root with key $SB/wrong_key"
check "wrong client key: not retried" \
    test "$(grep -c 'trying again' "$TMP/wrongkey.out")" -eq 0
eq "wrong client key: nothing fetched" "$(qq "SELECT count(*) FROM files")" 0
eq "wrong client key: one error line (journal priority err), no warning" \
    "$(grep -c 'error: .*authentication failed' "$TMP/wrongkey.out"),$(grep -c 'warning:' "$TMP/wrongkey.out")" "1,0"
check "wrong client key: the export stays on the server" test -f "$INBOX/a.csv"
eq "wrong client key: a Failed run" "$(nruns),$(failed_run failures)" "1,1"
contains "wrong client key: the run has the error" "$(failed_run error)" \
    "authentication failed for user root with key $SB/wrong_key"
contains "wrong client key: and what to do" "$(failed_run hint)" \
    "ask the server's administrator to authorize the public key $SB/wrong_key.pub for user root"
check "wrong client key: the message does not assume OpenSSH's authorized_keys alone" \
    test "$(grep -c "in that user's authorized_keys" "$TMP/wrongkey.out")" -eq 0
chmod 0644 "$SB/wrong_key"
rs run >"$TMP/keymode.out" 2>&1
eq "key readable by others: exit 1" "$?" 1
contains "key readable by others: refused, saying how to fix it" \
    "$(cat "$TMP/keymode.out")" "run chmod 600 $SB/wrong_key"
echo 'not-the-password' >"$SB/password"
chmod 0644 "$SB/password"
sed -i "s|identity = \"[^\"]*\";|password_file = \"$SB/password\";|" "$CONF"
rs run >"$TMP/pwmode.out" 2>&1
eq "password file readable by others: exit 1" "$?" 1
contains "password file readable by others: refused, naming the file" \
    "$(cat "$TMP/pwmode.out")" \
    "refusing the password file $SB/password: it is readable by group or others (mode 0644); run chmod 600 $SB/password"
eq "password file readable by others: one error line" \
    "$(grep -c 'error: .*refusing the password file' "$TMP/pwmode.out")" 1
chmod 0600 "$SB/password"
rs run >"$TMP/pw.out" 2>&1
eq "wrong password: exit 1" "$?" 1
contains "wrong password: refused, saying what the server accepts" \
    "$(cat "$TMP/pw.out")" "authentication failed for user root with the password in $SB/password (the server accepts: publickey)"
ssh-keygen -q -t ed25519 -N 'open sesame' -f "$SB/locked_key"
cat "$SB/locked_key.pub" >>"$SSHD_DIR/authorized_keys"
printf 'wrong\n' >"$SB/passphrase"
chmod 0600 "$SB/passphrase"
sed -i "s|password_file = \"[^\"]*\";|identity = \"$SB/locked_key\"; passphrase_file = \"$SB/passphrase\";|" "$CONF"
rs run >"$TMP/pass1.out" 2>&1
eq "wrong passphrase: exit 1" "$?" 1
contains "wrong passphrase: the key cannot be loaded" \
    "$(cat "$TMP/pass1.out")" "cannot load the private key $SB/locked_key"
printf 'open sesame\n' >"$SB/passphrase"
rs run >"$TMP/pass2.out" 2>&1
eq "key with a passphrase file: the run succeeds" \
    "$?,$(fileruns status)" "0,success"
cp "$CLIENT_KEY.pub" "$SSHD_DIR/authorized_keys"

# --- the server stopped: the run fails cleanly; nothing lost or done twice
sftp_sandbox down
set_sftp retries 2
rdrop "$TMP/small.csv" down.csv
sshd_stop
t0=$(date +%s)
rs run >"$TMP/down1.out" 2>&1
rc=$?
t1=$(date +%s)
eq "server stopped: exit 1" "$rc" 1
contains "server stopped: a message a sysadmin can act on" \
    "$(cat "$TMP/down1.out")" \
    "connection refused (is the SFTP server running on 127.0.0.1 port $SSHD_PORT?)"
contains "server stopped: retried with backoff (1 s, then 2 s)" \
    "$(cat "$TMP/down1.out")" "trying again in 2 s (attempt 3 of 3)"
contains "server stopped: then gave up" "$(cat "$TMP/down1.out")" \
    "gave up after 3 attempts"
eq "server stopped: giving up is one error line" \
    "$(grep -c 'error: .*gave up after 3 attempts' "$TMP/down1.out")" 1
check "server stopped: the backoff took 3 s, not more than 10" \
    test $((t1 - t0)) -ge 3 -a $((t1 - t0)) -le 10
eq "server stopped: a Failed run, nothing in the ledger" \
    "$(nruns),$(failed_run status),$(qq "SELECT count(*) FROM files")" \
    "1,failed,0"
contains "server stopped: the run has the error" "$(failed_run error)" \
    "connection refused (is the SFTP server running on 127.0.0.1 port $SSHD_PORT?); gave up after 3 attempts"
contains "server stopped: and what to do" "$(failed_run hint)" \
    "runs and listens on 127.0.0.1 port $SSHD_PORT"
check "server stopped: the export is still on the server" \
    test -f "$INBOX/down.csv"
rs run >"$TMP/down1b.out" 2>&1
eq "server still stopped: the same Failed run counts it, no new run" \
    "$?,$(nruns),$(failed_run failures)" "1,1,2"
contains "server still stopped: the log says how often" \
    "$(cat "$TMP/down1b.out")" "the source failed again: 2 times in a row since"
contains "server still stopped: show says it too" "$(rs show 1 2>&1)" \
    "2 times in a row, since"
eq "server still stopped: history shows it" \
    "$(rs history --json | $PYTHON -c 'import json,sys; r=json.load(sys.stdin)["runs"][0]; print(r["status"], r["file_name"], r["failures"])')" \
    "failed None 2"
eq "server still stopped: status counts the sync as failing" \
    "$(rs status --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); print(d["failing_syncs"], d["syncs"][0]["failing"], d["syncs"][0]["failures"])')" \
    "1 True 2"
sshd_start
rs run >"$TMP/down2.out" 2>&1
eq "server back: the next run succeeds" \
    "$?,$(fileruns "file_name, status")" "0,down.csv|success"
contains "server back: the log says the source answers again" \
    "$(cat "$TMP/down2.out")" "the source answers again (run 1: it failed 2 times in a row)"
eq "server back: the sync is no longer failing" \
    "$(rs status --json | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)["failing_syncs"])')" 0
rs run >/dev/null 2>&1
eq "server back: nothing done twice" "$(nruns)" 2
check "server back: the export is in processed/" \
    test -f "$INBOX/processed/down.csv"
# A server that comes back while the run waits to retry.
rdrop "$TMP/other.csv" back.csv
set_sftp retries 3
sshd_stop
rs run >"$TMP/down3.out" 2>&1 &
bg=$!
sleep 1.5
sshd_start
wait_for "$bg" 30
eq "server back during the backoff: the run succeeds" \
    "$?,$(qq "SELECT status FROM runs WHERE file_name = 'back.csv'")" \
    "0,success"
eq "server back during the backoff: no Failed run" \
    "$(qq "SELECT count(*) FROM runs WHERE status = 'failed'")" 1
contains "server back during the backoff: it was retried" \
    "$(cat "$TMP/down3.out")" "trying again in"
# A server that accepts connections but does not answer: a timeout.
set_sftp timeout 2
set_sftp retries 0
sshd_pause
t0=$(date +%s)
rs fetch >"$TMP/frozen.out" 2>&1
rc=$?
t1=$(date +%s)
sshd_resume
eq "frozen server: exit 1" "$rc" 1
contains "frozen server: a timeout, said so" "$(cat "$TMP/frozen.out")" \
    "timeout: no SSH answer from 127.0.0.1 port $SSHD_PORT within 2 s"
check "frozen server: it gave up within 10 s" test $((t1 - t0)) -le 10
contains "frozen server: fetch records a Failed run too" "$(failed_run error)" \
    "timeout: no SSH answer from 127.0.0.1 port $SSHD_PORT within 2 s"
rs run >/dev/null 2>&1
eq "frozen server: once thawed all is well" "$?" 0

# --- the server killed, or frozen, in the middle of a multi-megabyte download
sftp_sandbox midway
# A valid export padded to 48 MB with blank lines (which loaders skip).
"$PYTHON" -c 'import sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(d + b"\n" * (48 << 20))' \
    "$TMP/small.csv" "$TMP/big.csv"
rdrop "$TMP/big.csv" big.csv
# part_started: the download has begun (its .part file has data).
part_started() {
	local n p
	for n in $(seq 1 200); do	# 10 s at most
		for p in "$SPOOL"/incoming/hr/.big.csv.part; do
			[ -s "$p" ] && return 0
		done
		sleep 0.05
	done
	return 1
}
mid_case() {	# mid_case WHAT ACTION: a download cut by ACTION
	local what=$1 action=$2 rc
	rs run >"$TMP/mid-$what.out" 2>&1 &
	bg=$!
	if ! part_started; then
		wait_for "$bg" 60
		skip "$what mid-download: the download was not caught in time"
		return 1
	fi
	$action
	wait_for "$bg" 60
	rc=$?
	if grep -q "fetched big.csv" "$TMP/mid-$what.out"; then
		skip "$what mid-download: the download ended before the cut"
		return 1
	fi
	eq "$what mid-download: the run exits 1" "$rc" 1
	contains "$what mid-download: the log says what happened" \
	    "$(cat "$TMP/mid-$what.out")" "the partial copy was thrown away"
	eq "$what mid-download: a Failed run, no run of a file, nothing in the ledger" \
	    "$(failed_run status),$(fileruns "count(*)"),$(qq "SELECT count(*) FROM files")" "failed,0,0"
	contains "$what mid-download: the Failed run says what happened" \
	    "$(failed_run error)" "the partial copy was thrown away"
	eq "$what mid-download: no partial file left in the spool" \
	    "$(find "$SPOOL/incoming" "$SPOOL/archive" -type f 2>/dev/null | wc -l)" 0
	check "$what mid-download: the export is still on the server" \
	    cmp -s "$TMP/big.csv" "$INBOX/big.csv"
	return 0
}
set_sftp timeout 2
# Small requests, two in flight: the 48 MB take long enough to be cut,
# and requests are still outstanding when they are.
set_sftp read_size 8192
set_sftp read_requests 2
if mid_case frozen sshd_pause; then
	contains "frozen mid-download: the watchdog timed it out" \
	    "$(cat "$TMP/mid-frozen.out")" \
	    "timeout: the server did not answer within 2 s while reading"
fi
sshd_resume
if mid_case killed sshd_stop; then
	contains "killed mid-download: the connection was lost, said so" \
	    "$(cat "$TMP/mid-killed.out")" \
	    "the connection to the server was lost while reading"
fi
[ -z "$SSHD_PID" ] && sshd_start
# One stream's channel closed by the server (its sftp-server killed)
# while the connection stays.
if mid_case channel sshd_kill_channel; then
	contains "channel lost mid-download: said so, naming the stream" \
	    "$(cat "$TMP/mid-channel.out")" "the server ended SFTP stream"
fi
set_sftp timeout 30
set_sftp read_size 65536
set_sftp read_requests 16
rs run >"$TMP/mid-after.out" 2>&1
eq "after the cut: the next run downloads it whole and succeeds" \
    "$?,$(fileruns "file_name, status, size")" \
    "0,big.csv|success|$(stat -c %s "$TMP/big.csv")"
cmp -s "$TMP/big.csv" "$SPOOL/archive/hr/$(fileruns id)-big.csv"
eq "after the cut: the archived copy is byte-identical" "$?" 0

# --- a file that changes while it is downloaded is not taken: the copy is
# thrown away, nothing is run from it, its settling starts over, and the
# finished file is taken once it is stable. The download pauses at the
# fault point fetch.block (right after open, after each block, after the
# last) while the test rewrites, truncates, appends to or deletes the file
# on the server; blocks of 16 KB (read_size), two in flight.
$GEN --rows 2000 --seed 81 -o "$TMP/sc1.csv"
$GEN --seed 82 --mutate "$TMP/sc1.csv" -o "$TMP/sc2.csv"
# Day 2 corrected in place: the same size, 40 cost centres changed.
sed '2,41s/,CC-\([0-9]*\)$/,CX-\1/' "$TMP/sc2.csv" >"$TMP/sc2b.csv"
head -n 1001 "$TMP/sc2.csv" >"$TMP/sc2half.csv"	# cut at a row boundary
sc2size=$(stat -c %s "$TMP/sc2.csv")
# reference NAME FILE...: the directory a clean local sandbox holds once
# FILEs ran in order.
reference() {
	local name=$1 i=1 f
	shift
	sandbox "ref-$name"
	for f; do
		cp "$f" "$DROP/day$i.csv"
		touch -d '-1 hour' "$DROP/day$i.csv"
		rs run >/dev/null 2>&1
		i=$((i + 1))
	done
	dump >"$TMP/ref-$name.dump"
}
reference sc2 "$TMP/sc1.csv" "$TMP/sc2.csv"
reference sc2b "$TMP/sc1.csv" "$TMP/sc2b.csv"
# Day 1 applied over SFTP: the start of every case.
sftp_sandbox stable
set_sftp read_size 16384
set_sftp read_requests 2
rdrop "$TMP/sc1.csv" day1.csv
rs run >/dev/null 2>&1
check "stable copy: day 1 is applied" test "$(qq "SELECT status FROM runs")" = success
rm -rf "$TMP/stable.saved"
cp -a "$SB" "$TMP/stable.saved"
stable_case() {	# stable_case NAME: the sandbox back to day 1 applied
	SB=$TMP/$1 CONF=$TMP/$1/rostersync.conf DB=$TMP/$1/spool/rostersync.db
	SPOOL=$SB/spool INBOX=$SB/remote/inbox
	rm -rf "$SB"
	cp -a "$TMP/stable.saved" "$SB"
	sed -i "s|$TMP/stable/|$SB/|g" "$CONF"
}
# not_taken WHAT OUT [GONE]: nothing came of the changed copy.
not_taken() {
	eq "$1: the download paused while the file changed" "$pause_seen" yes
	eq "$1: the run exits 0 (a file not yet complete is normal)" "$prc" 0
	contains "$1: the log says so" "$(cat "$2")" \
	    "day2.csv changed while being read; taken when it is stable"
	eq "$1: no run from it, no ledger entry" \
	    "$(nruns),$(qq "SELECT count(*) FROM files")" "1,1"
	eq "$1: nothing left in spool/incoming/hr/" \
	    "$(find "$SPOOL/incoming/hr" -type f | wc -l)" 0
	if [ -z "${3:-}" ]; then
		check "$1: the file is still on the server" test -f "$INBOX/day2.csv"
	else
		check "$1: the file is gone (deleted)" test ! -e "$INBOX/day2.csv"
	fi
}
# taken_later WHAT FINISHED REF: the finished file is taken by the next run
# and the directory holds what it says.
taken_later() {
	cmp -s "$2" "$INBOX/day2.csv" || cp "$2" "$INBOX/day2.csv"
	rs run >"$TMP/$1-later.out" 2>&1
	eq "$1: the finished file is then taken and applied" \
	    "$?,$(qq "SELECT group_concat(status) FROM runs WHERE file_name = 'day2.csv'")" \
	    "0,success"
	eq "$1: the copy is the finished file" \
	    "$(qq "SELECT sha256 FROM files WHERE name = 'day2.csv'")" \
	    "$(sha256sum <"$2" | cut -d' ' -f1)"
	dump >"$TMP/$1.dump"
	check "$1: the directory holds what the finished file says" \
	    cmp -s "$TMP/$1.dump" "$TMP/ref-$3.dump"
}

# Rewritten in place, the same size (dd conv=notrunc), with settle_seconds
# 600: the file must settle anew from what the server holds after.
stable_case sc-rewrite
set_conf settle_seconds 600
rdrop "$TMP/sc2.csv" day2.csv
rs run >/dev/null 2>&1
qq "UPDATE observed SET first_seen = first_seen - 601"
t0=$(date +%s)
paused fetch.block:2 "$TMP/sc-rewrite.out" \
    dd if="$TMP/sc2b.csv" of="$INBOX/day2.csv" conv=notrunc status=none
not_taken "SFTP rewritten" "$TMP/sc-rewrite.out"
contains "SFTP rewritten: the log says how" "$(cat "$TMP/sc-rewrite.out")" \
    "it was written to while it was read: its mtime changed"
eq "SFTP rewritten: settling starts over from what the server holds" \
    "$(qq "SELECT size, mtime, first_seen >= $t0 FROM observed WHERE name = 'day2.csv'")" \
    "$sc2size|$(stat -c %Y "$INBOX/day2.csv")|1"
rs run >"$TMP/sc-rewrite2.out" 2>&1
eq "SFTP rewritten: the next run waits for it to settle" "$?,$(nruns)" "0,1"
contains "SFTP rewritten: saying so" "$(cat "$TMP/sc-rewrite2.out")" \
    "day2.csv: size and mtime unchanged for"
qq "UPDATE observed SET first_seen = first_seen - 601"
taken_later "SFTP rewritten" "$TMP/sc2b.csv" sc2b

# Cut short at a row boundary after the first block.
stable_case sc-truncate
rdrop "$TMP/sc2.csv" day2.csv
paused fetch.block:2 "$TMP/sc-truncate.out" \
    truncate -s "$(stat -c %s "$TMP/sc2half.csv")" "$INBOX/day2.csv"
not_taken "SFTP truncated" "$TMP/sc-truncate.out"
contains "SFTP truncated: the log says how" "$(cat "$TMP/sc-truncate.out")" \
    "its size went from $sc2size to $(stat -c %s "$TMP/sc2half.csv") bytes"
taken_later "SFTP truncated" "$TMP/sc2.csv" sc2

# A stalled upload resumes after the last block was downloaded.
stable_case sc-append
rdrop "$TMP/sc2half.csv" day2.csv
nblk=$(( ($(stat -c %s "$TMP/sc2half.csv") + 16383) / 16384 ))
paused "fetch.block:$((nblk + 2))" "$TMP/sc-append.out" \
    sh -c 'tail -n +1002 "$1" >>"$2"' sh "$TMP/sc2.csv" "$INBOX/day2.csv"
not_taken "SFTP appended after the last of $nblk blocks" "$TMP/sc-append.out"
taken_later "SFTP appended" "$TMP/sc2.csv" sc2

# Deleted during the download; uploaded again later.
stable_case sc-delete
rdrop "$TMP/sc2.csv" day2.csv
paused fetch.block:3 "$TMP/sc-delete.out" rm "$INBOX/day2.csv"
not_taken "SFTP deleted" "$TMP/sc-delete.out" gone
taken_later "SFTP deleted" "$TMP/sc2.csv" sc2

# Replaced between the listing and the open: not the file judged settled.
stable_case sc-listed
rdrop "$TMP/sc2.csv" day2.csv
paused fetch.start "$TMP/sc-listed.out" cp "$TMP/sc2b.csv" "$INBOX/day2.csv"
not_taken "SFTP replaced after the listing" "$TMP/sc-listed.out"
contains "SFTP replaced after the listing: the log says how" \
    "$(cat "$TMP/sc-listed.out")" "it changed after it was listed"
taken_later "SFTP replaced after the listing" "$TMP/sc2b.csv" sc2b

# --- requests larger than the server answers (OpenSSH's sftp-server sends
# at most about 255 KB a read): each short reply's rest is asked for again
# and the copy is whole; and one request at a time works too.
while read -r name size inflight f; do
	sftp_sandbox "reads-$name"
	set_sftp read_size "$size"
	set_sftp read_requests "$inflight"
	rdrop "$TMP/$f.csv" "$f.csv"
	rs -v run >"$TMP/reads-$name.out" 2>&1
	eq "$name reads: the run succeeds" "$?" 0
	cmp -s "$TMP/$f.csv" "$SPOOL/archive/hr/1-$f.csv"
	eq "$name reads: the archived copy is byte-identical" "$?" 0
	eq "$name reads: the ledger has its sha256" \
	    "$(qq "SELECT sha256 FROM files")" \
	    "$(sha256sum "$TMP/$f.csv" | cut -d' ' -f1)"
done <<'EOF'
short 300000 4 big
single 1024 1 small
EOF
contains "short reads: the log says the server sends less" \
    "$(cat "$TMP/reads-short.out")" "the server sends at most"

# --- downloads and uploads over several SFTP streams (channels of the
# connection, each with requests for its own ranges of the file in flight)
# arrive byte for byte: empty, smaller than one request, not a multiple of
# the request, exactly so many requests, and large enough for every
# stream. Requests of 16 KB, two in flight per stream: a file gets a
# stream per 32 KB, up to 4.
# streams_used NAME OUT: the streams -v says NAME went over.
streams_used() {
	sed -n "s/.* $1: [0-9]* bytes in [0-9]* ms over \([0-9]*\) SFTP stream.*/\1/p" "$2"
}
sizes="0 1000 49153 131072 5243003"
for n in $sizes; do
	head -c "$n" /dev/urandom >"$TMP/rnd-$n.bin"
done
sftp_sandbox streams
for k in read write; do
	set_sftp ${k}_size 16384
	set_sftp ${k}_requests 2
done
for n in $sizes; do
	cp "$TMP/rnd-$n.bin" "$INBOX/"
done
rs -v fetch >"$TMP/streams-get.out" 2>&1
eq "streams: the download exits 0" "$?" 0
for n in $sizes; do
	f=$(ls "$SPOOL"/incoming/hr/*-rnd-$n.bin 2>/dev/null | head -1)
	cmp -s "$TMP/rnd-$n.bin" "${f:-/nonexistent}"
	eq "streams: $n bytes downloaded byte for byte" "$?" 0
	eq "streams: $n bytes: the ledger has their size and sha256" \
	    "$(qq "SELECT size, sha256 FROM files WHERE name = 'rnd-$n.bin'")" \
	    "$n|$(sha256sum <"$TMP/rnd-$n.bin" | cut -d' ' -f1)"
done
eq "streams: one stream for a file of a request or less, two for 48 KB, four for more" \
    "$(for n in $sizes; do streams_used "rnd-$n.bin" "$TMP/streams-get.out"; done | xargs)" \
    "1 1 2 4 4"
check "streams: a last request shorter than the others is not a server's limit (-v)" \
    test "$(grep -c 'sends at most' "$TMP/streams-get.out")" -eq 0
# Uploads: the same files as reports waiting to be published.
sftp_sandbox streams-up
for k in read write; do
	set_sftp ${k}_size 16384
	set_sftp ${k}_requests 2
done
rs fetch >/dev/null 2>&1	# the database
for n in $sizes; do
	qq "INSERT INTO publish(run_id, sync, path, state) VALUES (1, 'hr', '$TMP/rnd-$n.bin', 'pending')"
done
rs -v run >"$TMP/streams-put.out" 2>&1
eq "streams: the run that uploads exits 0" "$?" 0
eq "streams: every upload is done" \
    "$(qq "SELECT group_concat(state) FROM publish")" "done,done,done,done,done"
for n in $sizes; do
	cmp -s "$TMP/rnd-$n.bin" "$INBOX/reports/rnd-$n.bin"
	eq "streams: $n bytes uploaded byte for byte" "$?" 0
done
eq "streams: uploads take streams as downloads do" \
    "$(for n in $sizes; do streams_used "rnd-$n.bin" "$TMP/streams-put.out"; done | xargs)" \
    "1 1 2 4 4"
eq "streams: no .part left on the server" \
    "$(ls -A "$INBOX/reports" | grep -c '\.part$')" 0

# An upload cut when one stream's channel closes: published by the next
# run, nothing under the final name before.
head -c $((24 << 20)) /dev/urandom >"$TMP/big-up.bin"
qq "INSERT INTO publish(run_id, sync, path, state) VALUES (1, 'hr', '$TMP/big-up.bin', 'pending')"
set_sftp write_size 8192
set_sftp timeout 5
rs run >"$TMP/cut-put.out" 2>&1 &
bg=$!
for n in $(seq 1 200); do	# 10 s at most
	[ -s "$INBOX/reports/big-up.bin.part" ] && break
	sleep 0.05
done
sshd_kill_channel
wait_for "$bg" 60
rc=$?
if grep -q 'published 1 report file' "$TMP/cut-put.out"; then
	skip "channel lost mid-upload: the upload ended before the cut"
else
	eq "channel lost mid-upload: the run's outcome is unchanged (exit 0)" "$rc" 0
	contains "channel lost mid-upload: said so, naming the stream" \
	    "$(cat "$TMP/cut-put.out")" "the server ended SFTP stream"
	check "channel lost mid-upload: nothing under the final name" \
	    test ! -e "$INBOX/reports/big-up.bin"
	eq "channel lost mid-upload: the upload waits for the next run" \
	    "$(qq "SELECT state, attempts FROM publish WHERE path LIKE '%big-up.bin'")" \
	    "pending|1"
fi
rs run >"$TMP/cut-put2.out" 2>&1
eq "channel lost mid-upload: the next run uploads it" \
    "$?,$(qq "SELECT state FROM publish WHERE path LIKE '%big-up.bin'")" "0,done"
cmp -s "$TMP/big-up.bin" "$INBOX/reports/big-up.bin"
eq "channel lost mid-upload: then it is on the server, byte for byte" "$?" 0
check "channel lost mid-upload: and its .part is gone" \
    test ! -e "$INBOX/reports/big-up.bin.part"
rm -f "$TMP/big-up.bin"

# A server that allows fewer sessions on a connection (MaxSessions): 3
# leaves two streams beside the SFTP session; 1 leaves none, and the
# transfers go over the session itself.
sshd_with() {	# sshd_with [LINE]: sshd restarted, LINE added to its config
	sshd_stop
	sshd_config
	[ -n "${1:-}" ] && echo "$1" >>"$SSHD_DIR/sshd_config"
	sshd_start
}
for m in 3 1; do
	sshd_with "MaxSessions $m"
	sftp_sandbox "maxsessions$m"
	set_sftp read_size 16384
	set_sftp read_requests 2
	cp "$TMP/rnd-5243003.bin" "$INBOX/"
	rs -v fetch >"$TMP/ms$m-get.out" 2>&1
	f=$(ls "$SPOOL"/incoming/hr/*-rnd-5243003.bin 2>/dev/null | head -1)
	cmp -s "$TMP/rnd-5243003.bin" "${f:-/nonexistent}"
	eq "MaxSessions $m: the download is byte for byte" "$?" 0
	sftp_sandbox "maxsessions$m-up"
	rs fetch >/dev/null 2>&1	# the database
	qq "INSERT INTO publish(run_id, sync, path, state) VALUES (1, 'hr', '$TMP/rnd-5243003.bin', 'pending')"
	rs -v run >"$TMP/ms$m-put.out" 2>&1
	cmp -s "$TMP/rnd-5243003.bin" "$INBOX/reports/rnd-5243003.bin"
	eq "MaxSessions $m: the upload is byte for byte" "$?" 0
done
contains "MaxSessions 3: -v says the server opened two streams" \
    "$(cat "$TMP/ms3-get.out")" "the server opened 2 of the 4 SFTP streams asked for"
eq "MaxSessions 3: the download and the upload went over two" \
    "$(streams_used rnd-5243003.bin "$TMP/ms3-get.out"),$(streams_used rnd-5243003.bin "$TMP/ms3-put.out")" \
    "2,2"
contains "MaxSessions 1: -v says the transfers use the session" \
    "$(cat "$TMP/ms1-get.out")" \
    "the server opens no SFTP channel besides the session"
check "MaxSessions 1: the download and the upload went over the session alone" \
    test "$(cat "$TMP/ms1-get.out" "$TMP/ms1-put.out" | grep -c 'rnd-5243003.bin: 5243003 bytes in [0-9]* ms over the SFTP session alone')" -eq 2
sshd_with

# The settings are checked: check-config names the file, line and range.
sftp_sandbox streams-conf
set_sftp streams 9
rs check-config >"$TMP/streams-conf.out" 2>&1
eq "streams = 9: check-config exits 3" "$?" 3
contains "streams = 9: check-config says the range, at the line" \
    "$(cat "$TMP/streams-conf.out")" \
    "$CONF:8: sync \"hr\": sftp.streams must be a whole number from 1 to 8, not 9"
set_sftp streams 2
set_sftp write_requests 65
rs check-config >"$TMP/streams-conf2.out" 2>&1
contains "write_requests = 65: refused by check-config" \
    "$(cat "$TMP/streams-conf2.out")" \
    "sftp.write_requests must be a whole number from 1 to 64"

# --- uploads in writes of 200,000 bytes (OpenSSH takes up to 261,120):
# reports of several writes each arrive whole
sftp_sandbox bigwrites
set_sftp write_size 200000
$GEN --rows 5000 --seed 7 -o "$TMP/five.csv"
rdrop "$TMP/five.csv" five.csv
rs run >"$TMP/bigwrites.out" 2>&1
eq "big writes: the run succeeds" "$?" 0
base=$(qq "SELECT report_base FROM runs WHERE id = 1")
check "big writes: the CSV report takes several writes" test \
    "$(stat -c %s "$SPOOL/reports/hr/$base.csv")" -gt 400000
for ext in csv xlsx log; do
	cmp -s "$SPOOL/reports/hr/$base.$ext" "$INBOX/reports/$base.$ext"
	eq "big writes: the $ext report is on the server, identical" "$?" 0
done

# --- a folder the login may not create (processed/, reports/): the real
# error, not the "no such file" of the look that came after it. Root may
# create anything, so this logs in as a user of its own.
PERM_U=rst-sftp-$$
if command -v useradd >/dev/null && useradd --system --no-create-home \
    -s /usr/sbin/nologin -p '*' "$PERM_U" 2>/dev/null; then
	PERM_DIR=$(mktemp -d /tmp/rostersync-sftp-perm.XXXXXX)
	trap 'sshd_stop; userdel "$PERM_U" 2>/dev/null; rm -rf "$PERM_DIR"' EXIT
	chmod 0755 "$PERM_DIR"
	# sshd reads authorized_keys as the user: it must reach the file
	# (traverse only, and only for this case).
	opened=""
	d=$SSHD_DIR
	while [ "$d" != / ] && [ "$d" != /tmp ]; do
		if [ "$(stat -c %A "$d" | cut -c10)" != x ]; then
			chmod o+x "$d" && opened="$opened $d"
		fi
		d=$(dirname "$d")
	done
	chmod o+r "$SSHD_DIR/authorized_keys"
	sftp_sandbox perm 'pattern = "*.csv";'
	INBOX=$PERM_DIR/inbox
	mkdir -p "$INBOX"
	chmod 0755 "$INBOX"	# root's: the login reads it, cannot write it
	sed -i "s|sftp://root@127.0.0.1:$SSHD_PORT[^\"]*\"|sftp://$PERM_U@127.0.0.1:$SSHD_PORT$INBOX\"|" "$CONF"
	rdrop "$TMP/small.csv" perm.csv
	chmod 0644 "$INBOX/perm.csv"
	rs run >"$TMP/perm.out" 2>&1
	eq "no write permission: the file itself is taken and runs" \
	    "$(fileruns "file_name, status")" "perm.csv|success"
	contains "no write permission: processed/ cannot be made, said as it is" \
	    "$(cat "$TMP/perm.out")" \
	    "permission denied creating the folder $INBOX/processed (check owners and modes on the server: rostersync logs in as $PERM_U)"
	contains "no write permission: reports/ the same" "$(cat "$TMP/perm.out")" \
	    "permission denied creating the folder $INBOX/reports"
	eq "no write permission: never \"no such file\"" \
	    "$(grep -c 'no such file or folder on the server' "$TMP/perm.out")" 0
	check "no write permission: the export stays on the server" \
	    test -f "$INBOX/perm.csv"
	for d in $opened; do chmod o-x "$d"; done
	chmod o-r "$SSHD_DIR/authorized_keys"
else
	skip "no write permission: needs root and useradd for a login of its own"
fi

# --- hostile remote names are refused and create nothing outside the spool
sftp_sandbox hostile
long=$(printf 'x%.0s' $(seq 1 246)).csv	# 250 bytes
rdrop "$TMP/small.csv" "x..y.csv"
rdrop "$TMP/small.csv" "$(printf 'new\nline.csv')"
rdrop "$TMP/small.csv" "$long"
ln -s /etc/passwd "$INBOX/link.csv"
mkfifo "$INBOX/fifo.csv"
mkdir "$INBOX/folder.csv"
rdrop "$TMP/other.csv" good.csv
touch "$TMP/hostile.stamp"
sleep 1
rs run >"$TMP/hostile.out" 2>&1
eq "hostile names: the run exits 0" "$?" 0
eq "hostile names: only good.csv is taken" \
    "$(qq "SELECT group_concat(name) FROM files")" good.csv
contains "hostile names: a name with .. is refused" \
    "$(cat "$TMP/hostile.out")" 'refusing the file "x..y.csv": it contains ".."'
contains "hostile names: a newline is refused, shown escaped" \
    "$(cat "$TMP/hostile.out")" 'refusing the file "new\x0aline.csv"'
contains "hostile names: a 250-byte name is refused" \
    "$(cat "$TMP/hostile.out")" "its length (250 bytes)"
for n in "x..y.csv" "$(printf 'new\nline.csv')" "$long" link.csv fifo.csv; do
	check "hostile names: $(printf '%q' "$n" | cut -c1-30) stays on the server" \
	    test -e "$INBOX/$n" -o -L "$INBOX/$n"
done
eq "hostile names: nothing new outside the spool and the server folder" \
    "$(find "$TMP" -newer "$TMP/hostile.stamp" ! -type d ! -path "$SPOOL*" \
    ! -path "$INBOX*" ! -path "$TMP/sshd*" ! -name '*.out' | wc -l)" 0
eq "hostile names: in the spool, only good.csv's copy" \
    "$(find "$SPOOL/incoming" "$SPOOL/archive" "$SPOOL/failed" -type f 2>/dev/null | sed 's|.*/||')" \
    "1-good.csv"

# --- the same content under two names is processed once
sftp_sandbox dup
rdrop "$TMP/small.csv" a.csv
rdrop "$TMP/small.csv" b.csv
touch -d '-2 hours' "$INBOX/a.csv"
rs run >"$TMP/dup.out" 2>&1
eq "duplicate: exit 0" "$?" 0
eq "duplicate: one run, of the older name" \
    "$(qq "SELECT group_concat(file_name) FROM runs")" a.csv
contains "duplicate: logged as a duplicate" "$(cat "$TMP/dup.out")" \
    "b.csv has the same content"
eq "duplicate: both are recorded" \
    "$(qq "SELECT group_concat(name || ':' || state) FROM files ORDER BY id")" \
    "a.csv:processed,b.csv:duplicate"
check "duplicate: both leave the inbox for processed/" \
    test -f "$INBOX/processed/a.csv" -a -f "$INBOX/processed/b.csv"

# --- publishing fails: retried by the next run, never changes the outcome
sftp_sandbox pubfail 'pattern = "*.csv";'
rdrop "$TMP/small.csv" p.csv
echo "not a folder" >"$INBOX/reports"
rs run >"$TMP/pub1.out" 2>&1
eq "publish failure: the run still exits 0" "$?" 0
eq "publish failure: and is Success" "$(qq "SELECT status FROM runs")" success
contains "publish failure: logged, with the cause" "$(cat "$TMP/pub1.out")" \
    "reports is in the way: it is not a folder"
contains "publish failure: the log says it will be retried" \
    "$(cat "$TMP/pub1.out")" "will try again next run"
eq "publish failure: the uploads wait, one attempt each" \
    "$(qq "SELECT group_concat(state || attempts) FROM publish")" \
    "pending1,pending1,pending1"
rm "$INBOX/reports"
rs run >"$TMP/pub2.out" 2>&1
eq "publish retry: the next run exits 0" "$?" 0
eq "publish retry: uploads done" \
    "$(qq "SELECT group_concat(state) FROM publish")" "done,done,done"
eq "publish retry: the reports are on the server" \
    "$(ls "$INBOX/reports" | wc -l)" 3
eq "publish retry: the run is unchanged" \
    "$(nruns),$(qq "SELECT status FROM runs")" "1,success"
contains "publish retry: logged" "$(cat "$TMP/pub2.out")" \
    "publishing 3 report files left from earlier runs"
# The server gone between fetch and run: the run still happens, its
# reports follow with the next run.
rdrop "$TMP/other.csv" p2.csv
rs fetch >/dev/null 2>&1
sshd_stop
rs run >"$TMP/pub3.out" 2>&1
rc=$?
eq "server gone after fetch: the queued file still runs" \
    "$(qq "SELECT status FROM runs WHERE file_name = 'p2.csv'")" success
eq "server gone after fetch: exit 1 (the source is unreachable)" "$rc" 1
eq "server gone after fetch: its reports wait" \
    "$(qq "SELECT count(*) FROM publish WHERE state = 'pending'")" 3
sshd_start
rs run >"$TMP/pub4.out" 2>&1
eq "server back: the reports are published, the export moved" \
    "$?,$(qq "SELECT count(*) FROM publish WHERE state = 'done'"),$(ls "$INBOX/processed")" \
    "0,6,p.csv
p2.csv"
# Given up after 20 failed attempts, with an error.
rdrop "$TMP/third.csv" p3.csv
echo "not a folder" >"$INBOX/reports.new"
sed -i 's|^\tsource = |\treports_remote = "reports.new";\n\tsource = |' "$CONF"
rs run >/dev/null 2>&1
qq "UPDATE publish SET attempts = 20 WHERE state = 'pending'"
rs run >"$TMP/pub5.out" 2>&1
eq "publish: given up after 20 attempts, the run still exits 0" "$?" 0
contains "publish: giving up is an error in the log" "$(cat "$TMP/pub5.out")" \
    "giving up publishing"
eq "publish: marked failed" \
    "$(qq "SELECT count(*) FROM publish WHERE state = 'failed'")" 3

# --- publishing to a local drop-zone (dir: source with reports_remote)
sandbox dirpub 'reports_remote = "out/reports";'
drop "$TMP/small.csv" x.csv
rs run >"$TMP/dirpub.out" 2>&1
eq "dir publish: exit 0" "$?" 0
base=$(qq "SELECT report_base FROM runs WHERE id = 1")
for ext in csv xlsx log; do
	cmp -s "$SPOOL/reports/hr/$base.$ext" "$DROP/out/reports/$base.$ext"
	eq "dir publish: the $ext report is in the drop-zone" "$?" 0
done
eq "dir publish: no .part left" \
    "$(ls -A "$DROP/out/reports" | grep -c part)" 0

sshd_stop
finish
