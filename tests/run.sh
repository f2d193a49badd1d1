#!/bin/bash
# The test runner of `make check`: every C driver ($BUILD/test_*) and every
# shell script (tests/t_*.sh) prints TAP lines ("ok N - ...", "not ok N -
# ..."); this counts them and ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
export TOP=$PWD
export ROSTERSYNC=${ROSTERSYNC:-$PWD/$BUILD/rostersync}
export PYTHON=${PYTHON:-/usr/bin/python3}
export SANITIZE=${SANITIZE:-}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/rostersync-tests.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
pass=0 fail=0 skip=0 only=${1:-}

run_one() {
	local name=$1 out p f s rc
	shift
	out=$scratch/$name.out
	mkdir -p "$scratch/$name"
	TMP=$scratch/$name "$@" >"$out" 2>&1 </dev/null
	rc=$?
	p=$(grep -c '^ok ' "$out")
	s=$(grep -c '^ok [0-9]* # SKIP' "$out")
	f=$(grep -c '^not ok' "$out")
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$out"
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	if [ "$f" -eq 0 ]; then
		printf 'PASS  %-22s %4d passed %s\n' "$name" "$p" \
		    "$([ "$s" -gt 0 ] && echo "($s skipped)")"
		grep '# SKIP' "$out" | sed 's/^/      /'
	else
		printf 'FAIL  %-22s %4d passed, %d failed\n' "$name" "$p" "$f"
		grep -A8 '^not ok' "$out" | head -60 | sed 's/^/      /'
		echo "      --- last lines:"
		tail -15 "$out" | sed 's/^/      /'
	fi
}

for t in "$BUILD"/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	[ -n "$only" ] && [[ "$n" != *"$only"* ]] && continue
	run_one "$n" "$t" "$TOP"
done
for t in tests/t_*.sh; do
	n=$(basename "$t" .sh)
	[ -n "$only" ] && [[ "$n" != *"$only"* ]] && continue
	run_one "$n" bash "$t"
done
echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
