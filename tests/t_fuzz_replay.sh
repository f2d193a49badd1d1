#!/bin/bash
# The fuzzers' regression corpora (fixtures/fuzz/), end to end: the
# parsers on their own are replayed by test_fuzz_replay (the fuzz
# targets' entry points); here every CSV and XLSX input goes through the
# real program (`run --dry-run --file`) and every config through
# `check-config`: each must end with an exit status of its own (no
# signal, no sanitizer report) within 60 s.
. "$(dirname "$0")/lib.sh"

FZ=$TOP/fixtures/fuzz
sandbox replay
n=0
for f in "$FZ"/csv/* "$FZ"/xlsx/*; do
	[ -f "$f" ] || continue
	case $(basename "$f") in README|*.parts) continue;; esac
	n=$((n + 1))
	timeout 60 "$ROSTERSYNC" -c "$CONF" run --dry-run --file "$f" \
	    >"$SB/out" 2>&1
	rc=$?
	if [ "$rc" -lt 124 ] && ! grep -qE \
	    'AddressSanitizer|LeakSanitizer|runtime error:' "$SB/out"; then
		ok "run --file ${f#"$FZ"/}: exit $rc"
	else
		not_ok "run --file ${f#"$FZ"/}: exit $rc" "$(tail -20 "$SB/out")"
	fi
done
for f in "$FZ"/config/*; do
	[ -f "$f" ] || continue
	[ "$(basename "$f")" == README ] && continue
	n=$((n + 1))
	cp "$f" "$SB/fuzz.conf"
	chmod 0600 "$SB/fuzz.conf"
	# (@include would read what it names: the fuzz target skips it too)
	grep -q '@include' "$SB/fuzz.conf" && continue
	timeout 60 "$ROSTERSYNC" -c "$SB/fuzz.conf" check-config >"$SB/out" 2>&1
	rc=$?
	if [ "$rc" -lt 124 ] && ! grep -qE \
	    'AddressSanitizer|LeakSanitizer|runtime error:' "$SB/out"; then
		ok "check-config ${f#"$FZ"/}: exit $rc"
	else
		not_ok "check-config ${f#"$FZ"/}: exit $rc" "$(tail -20 "$SB/out")"
	fi
done
check "the corpora are not empty ($n inputs)" test "$n" -gt 0
eq "PRAGMA integrity_check after them all" \
    "$(q "PRAGMA integrity_check" 2>&1)" ok

finish
