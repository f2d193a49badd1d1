#!/bin/bash
# Memory that does not grow with the export: a 600,000-row first load
# and its next day, each under the peak RSS the README promises (the
# daily run 64 MB + 64 bytes a row, the first load 128 MB + 128 bytes a
# row, measured by /usr/bin/time -v), and the daily run's counts equal
# to the generator's truth. 600,000 rows: a first load that held its
# rows in memory (about 250 MB here) is over its 201 MB. Nor does the
# WAL keep a day: the daily run's transaction is checkpointed as it
# commits.
. "$(dirname "$0")/lib.sh"

ROWS=600000
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
	skip "no $TIME (Debian package time)"
	finish
fi
$GEN --rows $ROWS --seed 71 -o "$TMP/d1.csv"
$GEN --mutate "$TMP/d1.csv" --seed 72 --truth "$TMP/d2.json" -o "$TMP/d2.csv"
sandbox mem "max_deletes = 100000; max_delete_percent = 50;"

# peak CMD...: run it, its peak RSS in kB on stdout, its status in $TMP/rc.
peak() {
	"$TIME" -f '%M' -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err"
	echo $? >"$TMP/rc"
	tail -1 "$TMP/time"
}
truth() {
	$PYTHON -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
	    "$TMP/d2.json" "$1"
}

drop "$TMP/d1.csv" day1.csv
first=$(peak "$ROSTERSYNC" -c "$CONF" run)
eq "the first load applied" "$(cat "$TMP/rc")" 0
drop "$TMP/d2.csv" day2.csv
# An auditor's connection open meanwhile (the views'), idle: the run's
# close then cannot checkpoint the WAL; its commit must have.
$PYTHON - "$DB" "$TMP/auditor" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("SELECT count(*) FROM runs").fetchall()
open(sys.argv[2], "w").close()
start = time.time()
while os.path.exists(sys.argv[2]) and time.time() - start < 600:
    time.sleep(0.1)
PY
auditor=$!
for i in $(seq 100); do [ -e "$TMP/auditor" ] && break; sleep 0.1; done
daily=$(peak "$ROSTERSYNC" -c "$CONF" run)
eq "the daily run applied" "$(cat "$TMP/rc")" 0
r=$(q "SELECT max(id) FROM runs")
eq "the daily run's creates, updates, manager changes and deletes" \
    "$(q "SELECT n_create, n_update, n_manager, n_delete FROM runs WHERE id = $r")" \
    "$(truth creates)|$(truth updates)|$(truth manager_changes)|$(truth deletes)"
# The run's writes after its transaction began the WAL again, which SQLite
# does only once every frame is in the database: a few frames are left.
wal=$(q "PRAGMA wal_checkpoint(PASSIVE)")
rm -f "$TMP/auditor"
wait $auditor
check "the daily run's WAL was checkpointed: $wal (busy|frames|copied)" \
    test "$(echo "$wal" | cut -d'|' -f2)" -lt 1000
if [ "${SANITIZE:-}" == 1 ]; then
	skip "peak RSS: not with the AddressSanitizer build (its shadow memory)"
	finish
fi
limit=$(( (64 * 1024 * 1024 + 64 * ROWS) / 1024 ))
flimit=$(( (128 * 1024 * 1024 + 128 * ROWS) / 1024 ))
if [ -n "${SANITIZE:-}" ]; then
	# AddressSanitizer's shadow and quarantine are most of such a peak.
	skip "the daily run's peak RSS: not measured in a sanitizer build"
	skip "the first load's peak RSS: not measured in a sanitizer build"
else
	check "the daily run's peak RSS, $daily kB, is at most 64 MB + 64 B a row ($limit kB)" \
	    test "$daily" -le "$limit"
	check "the first load's peak RSS, $first kB, is at most 128 MB + 128 B a row ($flimit kB)" \
	    test "$first" -le "$flimit"
fi
echo "# first load $first kB, daily run $daily kB, $ROWS rows"
finish
