#!/bin/bash
# Logging under systemd: when standard error is the journal (the stream
# JOURNAL_STREAM names), every line goes through the journal's native
# protocol with the fields RUN=, SYNC= and STATUS= (journalctl -u
# rostersync RUN=42 finds a run's lines) and its priority (journalctl -p
# err shows every failure, once). PID 1 here is not systemd: each case
# runs in a private mount namespace whose /run/systemd/journal/socket is
# a datagram socket this test binds itself (tests/journal.py), and reads
# back. Without that socket the lines go to the stream with "<N>"
# prefixes; with a JOURNAL_STREAM that names another stream, plain.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	skip "journal: needs root and unshare(1) for a private mount namespace"
	finish
fi

# journal NAME [--no-socket] ARGS...: rostersync ARGS with its journal
# entries in $TMP/NAME.jsonl (and its standard error in .stderr).
journal() {
	local name=$1 bind=1
	shift
	[ "$1" = --no-socket ] && { bind=0; shift; }
	unshare -m sh -c '
	    bind=$1 py=$2 helper=$3 out=$4
	    shift 4
	    mount -t tmpfs -o mode=0755 tmpfs /run &&
		mkdir -p /run/systemd/journal || exit 99
	    if [ "$bind" = 1 ]; then
		exec "$py" "$helper" /run/systemd/journal/socket "$out" -- "$@"
	    fi
	    : >"$out"
	    : >"$out.stderr"
	    exec 2>>"$out.stderr"
	    JOURNAL_STREAM=$(stat -c %d:%i "$out.stderr") exec "$@"' \
	    sh "$bind" "$PYTHON" "$TOP/tests/journal.py" "$TMP/$name.jsonl" \
	    "$ROSTERSYNC" -c "$CONF" "$@"
}
# field NAME EXPR: evaluate EXPR over the entries e (a list of dicts).
field() {
	$PYTHON -c 'import json, sys
e = [json.loads(l) for l in open(sys.argv[1])]
print(eval(sys.argv[2]))' "$TMP/$1.jsonl" "$2"
}

$GEN --rows 20 --seed 1 -o "$TMP/a.csv"

# --- a run: its lines with RUN=, SYNC=, STATUS= and their priorities
# (day 3 is another generator's export: every value changes, on purpose)
sandbox j 'max_update_percent = 100;'
drop "$TMP/a.csv" day1.csv
journal run1 run
eq "journal: the run exits 0" "$?" 0
check "journal: entries arrived on the socket" \
    test "$(field run1 'len(e)')" -gt 3
eq "journal: nothing on the stream (no line twice)" \
    "$(wc -c <"$TMP/run1.jsonl.stderr")" 0
eq "journal: every entry has MESSAGE, PRIORITY and SYSLOG_IDENTIFIER" \
    "$(field run1 'all("MESSAGE" in x and x.get("PRIORITY") in "34567" and x.get("SYSLOG_IDENTIFIER") == "rostersync" for x in e)')" True
eq "journal: the run's lines carry RUN=1 and SYNC=hr (journalctl RUN=1)" \
    "$(field run1 'sum(1 for x in e if x.get("RUN") == "1" and x.get("SYNC") == "hr") == sum(1 for x in e if x["MESSAGE"].startswith("run 1 sync hr: ")) > 3')" True
eq "journal: the fetch's lines carry SYNC= only" \
    "$(field run1 '[x.get("RUN") for x in e if "new file" in x["MESSAGE"]]')" "[None]"
eq "journal: while it runs, STATUS=in_progress" \
    "$(field run1 '{x.get("STATUS") for x in e if "loaded" in x["MESSAGE"]}')" "{'in_progress'}"
eq "journal: the outcome carries STATUS=success" \
    "$(field run1 '[x.get("STATUS") for x in e if x["MESSAGE"].startswith("run 1 sync hr: Success:")]')" "['success']"
eq "journal: info lines are priority 6" \
    "$(field run1 '{x["PRIORITY"] for x in e if "loaded" in x["MESSAGE"]}')" "{'6'}"

# --- failures are priority 3 (journalctl -p err), once each
printf 'employee_id,email,last_name\n' >"$TMP/empty.csv"
drop "$TMP/empty.csv" day2.csv
journal run2 run
eq "journal: a data load failure exits 4" "$?" 4
eq "journal: the failure is one err entry of run 2" \
    "$(field run2 '[(x["PRIORITY"], x.get("RUN")) for x in e if "data load failed" in x["MESSAGE"]]')" \
    "[('3', '2')]"
eq "journal: its outcome carries STATUS=data_load_failed" \
    "$(field run2 '{x.get("STATUS") for x in e if "Data Load Failed:" in x["MESSAGE"]}')" \
    "{'data_load_failed'}"
mv "$DROP" "$DROP.away"
journal run3 run
eq "journal: a missing drop-zone exits 1" "$?" 1
eq "journal: one err entry, the error" \
    "$(field run3 '[x["MESSAGE"] for x in e if x["PRIORITY"] == "3"]')" \
    "['sync hr: drop-zone $DROP: No such file or directory']"
eq "journal: the Failed run it makes: RUN=3, STATUS=failed" \
    "$(field run3 '[(x.get("RUN"), x.get("STATUS")) for x in e if "recorded as run" in x["MESSAGE"]]')" \
    "[('3', 'failed')]"
mv "$DROP.away" "$DROP"

# --- no journal socket: the stream, with priority prefixes
$GEN --rows 20 --seed 2 -o "$TMP/b.csv"
drop "$TMP/b.csv" day3.csv
journal nosock --no-socket run
eq "no socket: the run still exits 0" "$?" 0
check "no socket: info lines carry <6> on the stream" \
    grep -q '^<6>run 4 sync hr: ' "$TMP/nosock.jsonl.stderr"
eq "no socket: every line has a priority prefix" \
    "$(grep -vc '^<[0-7]>' "$TMP/nosock.jsonl.stderr")" 0

finish
