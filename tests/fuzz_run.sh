#!/bin/bash
# make fuzz: run each libFuzzer target (tests/fuzz_*.c, built in FUZZ_DIR)
# for FUZZ_SECONDS on its corpus (FUZZ_DIR/corpus/TARGET, kept between
# runs), seeded from the fixtures and the regression corpus
# fixtures/fuzz/TARGET/. Crash inputs land in FUZZ_DIR/crashes/; put each
# one in fixtures/fuzz/TARGET/ once fixed: make check replays them.
# FUZZ_TARGETS picks targets (default: csv xlsx config).
set -u
cd "$(dirname "$0")/.."
D=${FUZZ_DIR:-build/fuzz}
S=${FUZZ_SECONDS:-600}
PY=${PYTHON:-/usr/bin/python3}
mkdir -p "$D/crashes"

seed() {	# seed TARGET: FUZZ_DIR/seed/TARGET from the fixtures
	local t=$1 s=$D/seed/$1
	rm -rf "$s"
	mkdir -p "$s" "$D/corpus/$t"
	case $t in
	csv)	cp fixtures/bad/*.csv "$s/"
		# every dialect the loader knows, small
		for d in "" "--bom --crlf" "--utf16 le" "--utf16 be" \
		    "--delimiter ; --sep-line" "--delimiter tab --quote-all" \
		    "--delimiter | --trailing-blank"; do
			"$PY" tests/genexport.py --rows 12 --seed 5 $d \
			    -o "$s/gen$(echo "$d" | tr -dc 'a-z0-9').csv"
		done
		# past the limits: 1030 columns in the header, in a row; a
		# field of 66,000 bytes
		"$PY" -c 'print(",".join("c%d" % i for i in range(1030)))
print(",".join(str(i) for i in range(1030)))' >"$s/wide-header.csv"
		"$PY" -c 'print("employee_id,email,title")
print(",".join(str(i) for i in range(1030)))' >"$s/wide-row.csv"
		"$PY" -c 'print("employee_id,email,title")
print("1,\"" + "x" * 66000 + "\",3")' >"$s/long-field.csv";;
	config)	cp etc/*.conf "$s/";;
	xlsx)	cp fixtures/xlsx/*.xlsx fixtures/bad/*.xlsx "$s/"
		# the same workbooks in the target's structured form: the
		# XML of six parts, NUL-separated (see tests/fuzz_xlsx.c)
		"$PY" - "$s" <<'PY'
import glob, os, sys, zipfile
# the worksheet, shared strings and styles; the package parts are left
# empty, so the target's defaults (which name these three) are used
want = [lambda n: n.startswith("xl/worksheets/") and n.endswith(".xml"),
        lambda n: n.endswith("sharedStrings.xml"),
        lambda n: n.endswith("styles.xml")]
for f in glob.glob(os.path.join(sys.argv[1], "*.xlsx")):
    try:
        z = zipfile.ZipFile(f)
    except zipfile.BadZipFile:
        continue
    names = sorted(z.namelist())
    data = b"\0".join(next((z.read(n) for n in names if w(n)), b"")
                      for w in want)
    if 0 < len(data) < 65536 and b"\0" not in data.replace(b"\0", b"", 2):
        open(f[:-5] + ".parts", "wb").write(data)
PY
		;;
	esac
	cp fixtures/fuzz/"$t"/* "$s/" 2>/dev/null
	rm -f "$s/README"
}

rc=0
for t in ${FUZZ_TARGETS:-csv xlsx config}; do
	seed "$t"
	dict=
	[ -f "tests/fuzz_$t.dict" ] && dict=-dict=tests/fuzz_$t.dict
	maxlen=65536
	[ "$t" == csv ] && maxlen=140000	# room for long-field.csv
	echo "=== fuzz_$t for $S s (log: $D/$t.log)"
	LSAN_OPTIONS=suppressions=$PWD/tests/fuzz_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS} \
	    nice "$D/fuzz_$t" -max_total_time="$S" -max_len=$maxlen -timeout=30 \
	    -rss_limit_mb=2048 -print_final_stats=1 $dict \
	    -artifact_prefix="$D/crashes/$t-" "$D/corpus/$t" "$D/seed/$t" \
	    >"$D/$t.log" 2>&1 || rc=1
	grep -E '^#[0-9]+ *DONE|^Done|^stat::(number_of_executed_units|peak_rss)|ERROR|SUMMARY' \
	    "$D/$t.log" | tail -6
done
if ls "$D/crashes/"* >/dev/null 2>&1; then
	echo "crash inputs (fix, then copy each to fixtures/fuzz/TARGET/):"
	ls -l "$D/crashes/"
fi
exit $rc
