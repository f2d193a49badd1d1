#!/bin/bash
# The demo flow under valgrind (--leak-check=full, definite leaks and any
# memory error fail): two days of fixtures/demo through a drop-zone with
# the demo's mapping, the read-only views and the reports regenerated;
# then an XLSX day with a row issue and a file that fails to load. Not
# with the sanitizer build (make check-asan), which valgrind cannot run.
. "$(dirname "$0")/lib.sh"

if [ "${SANITIZE:-}" == 1 ]; then
	skip "valgrind: not with the AddressSanitizer build"
	finish
fi
if ! command -v valgrind >/dev/null; then
	skip "valgrind is not installed (Debian package valgrind)"
	finish
fi

# vg LABEL ARGS...: rostersync ARGS under valgrind; clean means exit
# status not 99 (valgrind's) and no error in its summary.
vg() {
	local label=$1 log
	shift
	log=$SB/vg-$(echo "$label" | tr -c 'A-Za-z0-9\n' _).log
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
	    --show-leak-kinds=definite --error-exitcode=99 \
	    --log-file="$log" "$ROSTERSYNC" -c "$CONF" "$@" \
	    >"$log.out" 2>&1
	VG_RC=$?
	if [ "$VG_RC" -ne 99 ] && ! grep -q '[^ ]' "$log"; then
		ok "valgrind clean: $label (exit $VG_RC)"
	else
		not_ok "valgrind clean: $label (exit $VG_RC)" "$(head -40 "$log")"
	fi
}

mapping='mapping = { employee_id = "employee_id"; email = "email";
	first_name = "first_name"; last_name = "last_name";
	display_name = "display_name"; department = "department";
	title = "title"; manager_id = "manager_id"; location = "location";
	employment_status = "employment_status"; start_date = "start_date";
	cost_center = "cost_center"; };'
sandbox demo "$mapping"
drop "$TOP/fixtures/demo/day1.csv" hr-export-2026-01-14.csv
vg "run, day 1" run
eq "day 1: Success" "$VG_RC:$(status_of 1)" "0:success"
drop "$TOP/fixtures/demo/day2.csv" hr-export-2026-01-15.csv
vg "run, day 2" run
eq "day 2: applied" "$(status_of 2)" success
vg "history" history
vg "show 2" show 2 --json
vg "items 2" items 2
vg "report 2 --format xlsx" report 2 --format xlsx -o "$SB/r.xlsx"
vg "report 2 --format csv" report 2 --format csv -o "$SB/r.csv"
vg "users" users
vg "user E0000002" user E0000002
vg "status" status
vg "check-config" check-config
check "the regenerated reports are there" test -s "$SB/r.xlsx" -a -s "$SB/r.csv"

sandbox xlsx
drop "$TOP/fixtures/bad/day1.csv" day1.csv
vg "run, CSV day 1" run
drop "$TOP/fixtures/bad/cell_error.xlsx" day2.xlsx
vg "run, XLSX with a row issue" run
eq "XLSX day: Needs Attention" "$VG_RC:$(status_of 2)" "6:needs_attention"
drop "$TOP/fixtures/bad/unterminated_quote.csv" day3.csv
vg "run, a file that fails to load" run
eq "bad day: Data Load Failed" "$VG_RC:$(status_of 3)" "4:data_load_failed"
vg "run --dry-run --file" run --dry-run --file "$TOP/fixtures/bad/good2.csv"

finish
