/*
 * test_load_xlsx: load_xlsx() over the fixtures in fixtures/xlsx/ and over
 * hostile files made at run time by tests/xlsx_helper.py; TAP-style output
 * ("ok N - what", "not ok N - what" and a "# detail" line), exit 1 if any
 * test failed.
 *
 * usage: test_load_xlsx [TOPDIR]		run the tests; TOPDIR holds
 *					fixtures/ and tests/ (default ".")
 *	  test_load_xlsx --dump FILE [SHEET]	print the rows of FILE in the
 *					canonical form of xlsx_helper.py
 *
 * The LibreOffice round trip needs soffice and GEN_HR (default
 * /work/shared/bench/gen_hr.py); without them it is skipped.
 */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

#define HOSTILE_MS	5000	/* a hostile file fails within this */

/* A row as the callback saw it, copied. */
struct trow {
	size_t		 row;
	size_t		 nf;
	char		**f;
	size_t		*len;
	unsigned char	*ff;
	int		 wide;
};

/* One load: its result and rows. */
struct tload {
	int		 rc;
	char		 err[MAX_ERRMSG];
	struct trow	*rows;
	size_t		 nrows;
	size_t		 stop;		/* stop after this many rows, or 0 */
	int64_t		 ms;
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static int		 ntest, nfail;
static const char	*top = ".";
static char		*tmp;		/* mkdtemp, under $TMP or /tmp */
static struct tload	 cur;

/* ---------------------------------------------------------- reporting */

static void __attribute__((format(printf, 3, 4)))
ok(int cond, const char *desc, const char *fmt, ...)
{
	va_list	 ap;

	ntest++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntest, desc);
	if (cond)
		return;
	nfail++;
	if (fmt == NULL)
		return;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void
skip(const char *desc, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++ntest, desc, why);
}

/* ------------------------------------------------------------ loading */

static void
tload_free(struct tload *t)
{
	size_t	 i, j;

	for (i = 0; i < t->nrows; i++) {
		for (j = 0; j < t->rows[i].nf; j++)
			free(t->rows[i].f[j]);
		free(t->rows[i].f);
		free(t->rows[i].len);
		free(t->rows[i].ff);
	}
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

static int
collect(void *arg, const struct rawrow *r)
{
	struct tload	*t = arg;
	struct trow	*c;
	size_t		 j;

	t->rows = xrealloc(t->rows, (t->nrows + 1) * sizeof(*t->rows));
	c = &t->rows[t->nrows++];
	c->row = r->row;
	c->nf = r->nf;
	c->wide = r->wide;
	c->f = xcalloc(r->nf, sizeof(*c->f));
	c->len = xcalloc(r->nf, sizeof(*c->len));
	c->ff = xcalloc(r->nf, 1);
	for (j = 0; j < r->nf; j++) {
		c->f[j] = xstrndup(r->f[j], r->len[j]);
		c->len[j] = r->len[j];
		c->ff[j] = r->ff[j];
		if (strlen(r->f[j]) != r->len[j])
			c->ff[j] |= 0x80;	/* NUL or length mismatch */
	}
	return t->stop != 0 && t->nrows >= t->stop;
}

/* Load a file (relative to top, or absolute) into cur. */
static struct tload *
rows_until(const char *file, const char *sheet, size_t stop)
{
	char	 path[PATH_MAX];
	int64_t	 t0;

	tload_free(&cur);
	if (file[0] == '/')
		snprintf(path, sizeof(path), "%s", file);
	else
		snprintf(path, sizeof(path), "%s/%s", top, file);
	cur.stop = stop;
	t0 = now_ms();
	cur.rc = load_xlsx(path, sheet, collect, &cur, cur.err,
	    sizeof(cur.err));
	cur.ms = now_ms() - t0;
	return &cur;
}

static struct tload *
rows_of(const char *file, const char *sheet)
{
	return rows_until(file, sheet, 0);
}

static const char *
hostile(const char *name)
{
	static char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	return path;
}

/* ----------------------------------------------------------- checking */

/* Is row i of t exactly rownum with the fields given (NULL-terminated)? */
static void
expect_row(const char *desc, const struct tload *t, size_t i, size_t rownum,
    ...)
{
	va_list		 ap;
	const char	*want;
	size_t		 n = 0;
	char		 why[512] = "";
	const struct trow *r;

	if (t->rc == -1 || i >= t->nrows) {
		ok(0, desc, "rc %d, %zu rows, err '%s'", t->rc, t->nrows,
		    t->err);
		return;
	}
	r = &t->rows[i];
	va_start(ap, rownum);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (why[0] == '\0' && (n >= r->nf || strcmp(r->f[n], want)))
			snprintf(why, sizeof(why), "field %zu is '%.200s', "
			    "want '%s'", n + 1, n < r->nf ? r->f[n] : "(none)",
			    want);
		if (why[0] == '\0' && (r->ff[n] & 0x80))
			snprintf(why, sizeof(why), "field %zu: len mismatch",
			    n + 1);
		n++;
	}
	va_end(ap);
	if (why[0] == '\0' && r->nf != n)
		snprintf(why, sizeof(why), "nf %zu, want %zu", r->nf, n);
	if (why[0] == '\0' && r->row != rownum)
		snprintf(why, sizeof(why), "row %zu, want %zu", r->row, rownum);
	ok(why[0] == '\0', desc, "%s", why);
}

static void
expect_rows(const char *desc, const struct tload *t, int rc, size_t n)
{
	ok(t->rc == rc && t->nrows == n, desc, "rc %d, %zu rows, want rc %d, "
	    "%zu rows; err '%s'", t->rc, t->nrows, rc, n, t->err);
}

/* A load that fails, quickly, with words in the message. */
static void
expect_fail(const char *desc, const struct tload *t, const char *words)
{
	ok(t->rc == -1 && strstr(t->err, words) != NULL &&
	    t->ms < HOSTILE_MS, desc, "rc %d after %lld ms, err '%s', want "
	    "'%s'", t->rc, (long long)t->ms, t->err, words);
}

static unsigned
flag(const struct tload *t, size_t i, size_t col)
{
	if (i >= t->nrows || col >= t->rows[i].nf)
		return 0x100;
	return t->rows[i].ff[col];
}

/* ------------------------------------------------------------ fixtures */

static void
test_ids_dates(void)
{
	struct tload	*t = rows_of("fixtures/xlsx/ids_dates.xlsx", NULL);

	expect_rows("ids_dates: 4 rows", t, 0, 4);
	expect_row("ids_dates: header", t, 0, 1, "employee_id", "badge",
	    "start_date", "start_dmy", "last_login", "shift_start", "amount",
	    "ratio", "big_id", "quoted_d", "red_date", NULL);
	expect_row("ids_dates: ids as numbers, dates by style", t, 1, 2,
	    "1001", "20000001", "2003-05-01", "2020-12-31",
	    "2021-03-04T05:06:07", "18:00:00", "52000.5", "0.1",
	    "123456789012345", "7", "2023-03-15", NULL);
	expect_row("ids_dates: 1900 system and Lotus 1900-02-29", t, 2, 3,
	    "1002", "20000002", "1900-01-01", "1900-02-28", "1900-02-29",
	    "1900-03-01", "100000000000000000000", "0.3", "999999999999999",
	    "12.5", "-0.5", NULL);
	expect_row("ids_dates: far dates, midnight, small and large", t, 3, 4,
	    "1003", "20000003", "9999-12-31", "1904-02-29", "2024-02-29", "",
	    "1e-10", "1234567.891", "1000000000000000", "-42", "3.14159",
	    NULL);
}

static void
test_sheets(void)
{
	struct tload	*t;

	t = rows_of("fixtures/xlsx/sheets.xlsx", NULL);
	expect_rows("sheets: default reads 2 rows", t, 0, 2);
	expect_row("sheets: default skips the hidden first sheet", t, 1, 2,
	    "2001", "Ann", NULL);
	t = rows_of("fixtures/xlsx/sheets.xlsx", "Contractors");
	expect_row("sheets: second sheet by name", t, 1, 2, "3001", "Bob",
	    NULL);
	t = rows_of("fixtures/xlsx/sheets.xlsx", "contractors");
	expect_row("sheets: name matched without case", t, 0, 1,
	    "contractor_id", "name", NULL);
	t = rows_of("fixtures/xlsx/sheets.xlsx", "Secret");
	expect_row("sheets: a hidden sheet by name", t, 1, 2, "hidden row",
	    NULL);
	t = rows_of("fixtures/xlsx/sheets.xlsx", "Nope");
	expect_fail("sheets: unknown name lists the sheets", t,
	    "no sheet named 'Nope' (sheets: Secret, Staff, Contractors)");
}

static void
test_rich_unicode(void)
{
	struct tload	*t = rows_of("fixtures/xlsx/rich_unicode.xlsx", NULL);

	expect_rows("rich_unicode: 4 rows", t, 0, 4);
	expect_row("rich_unicode: rich runs, emoji, TRUE, cached formulas", t,
	    1, 2, "Jos\xc3\xa9 M\xc3\xbcller", "Z\xc3\xbcrich",
	    "\xf0\x9f\x98\x80 emoji", "TRUE", "Jos\xc3\xa9 M\xc3\xbcller!", "3",
	    NULL);
	expect_row("rich_unicode: CJK, RTL, FALSE, empty formula string", t,
	    2, 3, "\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e",
	    "\xe6\x9d\xb1\xe4\xba\xac", "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8"
	    "\xd8\xa7", "FALSE", "", "2.5", NULL);
	expect_row("rich_unicode: three runs, spaces kept", t, 3, 4, " abc ",
	    NULL);
}

static void
test_sparse(void)
{
	struct tload	*t = rows_of("fixtures/xlsx/sparse.xlsx", NULL);

	expect_rows("sparse: blank rows skipped", t, 0, 5);
	expect_row("sparse: header on row 2 with a gap", t, 0, 2, "id",
	    "name", "", "email", NULL);
	expect_row("sparse: cells placed by reference", t, 1, 3, "1", "", "",
	    "a@example.com", NULL);
	expect_row("sparse: row after a gap", t, 2, 5, "", "Only name", NULL);
	expect_row("sparse: past the header's width", t, 3, 7, "3", "", "",
	    "", "extra", NULL);
	expect_row("sparse: row 1000", t, 4, 1000, "4", "", "c", NULL);
}

static void
test_inline(void)
{
	struct tload	*t = rows_of("fixtures/xlsx/inline.xlsx", NULL);

	expect_rows("inline: 6 rows", t, 0, 6);
	expect_row("inline: header without r attributes", t, 0, 1, "id",
	    "name", "when", "elapsed", "flag", "err", "calc", "amount",
	    "mmss", NULL);
	expect_row("inline: rich inline, phonetic dropped, errors, formats", t,
	    1, 2, "1001", "Zo\xc3\xab \xc3\x98" "deg\xc3\xa5" "rd",
	    "2003-05-01",
	    "12:00:00", "TRUE", "#N/A", "2002", "1234.5", "01:30:00", NULL);
	ok(flag(t, 1, 5) == FF_ERROR && flag(t, 1, 0) == 0,
	    "inline: #N/A flagged FF_ERROR, others not", "flags %#x %#x",
	    flag(t, 1, 5), flag(t, 1, 0));
	expect_row("inline: spaces kept, cell after C4 is D4", t, 2, 4,
	    "  spaced  ", "", "2.5", "after C4", NULL);
	expect_row("inline: #DIV/0!, FALSE, 1.5E3", t, 3, 5, "", "#DIV/0!",
	    "", "", "FALSE", "", "", "1500", NULL);
	ok(flag(t, 3, 1) == FF_ERROR, "inline: #DIV/0! flagged FF_ERROR",
	    "flag %#x", flag(t, 3, 1));
	expect_row("inline: shortest numbers, non-numbers as written", t, 4,
	    6, "0.30000000000000004", "1", "0", "0.001", "123456789012345680",
	    "1.2345678901234568e+22", "abc", "0x1A", " 5", NULL);
	expect_row("inline: _xHHHH_ escapes decoded, CR LF as LF, NUL and "
	    "lone surrogate kept", t, 5, 7, "line1\nline2", "a_x0041_b",
	    "\xf0\x9f\x98\x80", "_x0000_", "_xd800_x\xc3\xa9", NULL);
}

static void
test_1904(void)
{
	struct tload	*t = rows_of("fixtures/xlsx/date1904.xlsx", NULL);

	expect_row("date1904: shared strings header", t, 0, 1, "id", "start",
	    "stamp", "note", NULL);
	expect_row("date1904: dates, date-times, escaped shared string", t, 1,
	    2, "1", "2003-05-01", "2003-05-01T12:00:00", "tab\there", NULL);
	expect_row("date1904: serial 0 is 1904-01-01", t, 2, 3, "2",
	    "1904-01-01", "1904-01-01T06:00:00", NULL);
}

static void
test_libreoffice(void)
{
	struct tload	*t;

	t = rows_of("fixtures/xlsx/lo_ids_dates.xlsx", NULL);
	expect_rows("lo_ids_dates: 4 rows", t, 0, 4);
	expect_row("lo_ids_dates: id and date", t, 1, 2, "1001", "Ann Lee",
	    "2003-05-01", "52000.5", NULL);
	expect_row("lo_ids_dates: id, accents", t, 2, 3, "20000001",
	    "Jos\xc3\xa9 M\xc3\xbcller", "2020-12-31", "61000", "1001", NULL);
	expect_row("lo_ids_dates: 15-digit id, CJK", t, 3, 4,
	    "123456789012345", "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83"
	    "\x8e", "1999-02-28", "70000.25", "20000001", NULL);
	t = rows_of("fixtures/xlsx/lo_text.xlsx", NULL);
	expect_row("lo_text: text ids, quotes, commas, emoji", t, 1, 2,
	    "E0000001", "Lee, Ann", "\"Acting\" Lead", "Z\xc3\xbcrich",
	    "\xf0\x9f\x98\x80 ok", NULL);
	expect_row("lo_text: newline inside a cell", t, 2, 3, "E0000002",
	    "Zo\xc3\xab \xc3\x98" "deg\xc3\xa5" "rd", "Engineer II",
	    "\xe6\x9d\xb1\xe4\xba\xac", "two\nlines", NULL);
}

static void
test_api(void)
{
	struct tload	*t;
	char		 small[8];

	t = rows_until("fixtures/xlsx/ids_dates.xlsx", NULL, 2);
	expect_rows("api: callback stop returns 1", t, 1, 2);
	t = rows_of("fixtures/xlsx/no-such-file.xlsx", NULL);
	expect_fail("api: missing file", t, "cannot read");
	memset(small, 'x', sizeof(small));
	ok(load_xlsx(hostile("notzip.xlsx"), NULL, collect, &cur, small,
	    sizeof(small)) == -1 && small[sizeof(small) - 1] == '\0',
	    "api: a short err buffer is cut and terminated", NULL);
	tload_free(&cur);
}

/* ------------------------------------------------------------- hostile */

static int
make_hostile(void)
{
	char	*cmd;
	int	 rc;

	xasprintf(&cmd, "python3 '%s/tests/xlsx_helper.py' hostile "
	    "'%s' '%s/fixtures/xlsx/ids_dates.xlsx'", top, tmp, top);
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static void
test_hostile_zip(void)
{
	expect_fail("hostile: not a ZIP", rows_of(hostile("notzip.xlsx"), NULL),
	    "not a valid XLSX file: ");
	expect_fail("hostile: truncated XLSX",
	    rows_of(hostile("truncated.xlsx"), NULL),
	    "not a valid XLSX file: ");
	expect_fail("hostile: corrupt central directory",
	    rows_of(hostile("corrupt_cd.xlsx"), NULL),
	    "not a valid XLSX file: ");
	expect_fail("hostile: corrupt deflate data",
	    rows_of(hostile("corrupt_data.xlsx"), NULL),
	    "xl/worksheets/sheet1.xml: ");
	expect_fail("hostile: 300 MB zip bomb",
	    rows_of(hostile("bomb.xlsx"), NULL),
	    "xl/worksheets/sheet1.xml: decompressed size exceeds");
	ok(strstr(cur.err, "(zip bomb?)") != NULL,
	    "hostile: zip bomb named as such", "err '%s'", cur.err);
	expect_fail("hostile: zip bomb declaring a small size",
	    rows_of(hostile("bomb_lie.xlsx"), NULL), "(zip bomb?)");
	expect_fail("hostile: missing sheet part",
	    rows_of(hostile("missing_sheet.xlsx"), NULL),
	    "missing part xl/worksheets/sheet1.xml");
	expect_fail("hostile: missing workbook part",
	    rows_of(hostile("missing_book.xlsx"), NULL),
	    "missing part xl/workbook.xml");
	expect_fail("hostile: target outside the package",
	    rows_of(hostile("escape.xlsx"), NULL), "bad part name");
	expect_fail("hostile: no visible worksheet",
	    rows_of(hostile("all_hidden.xlsx"), NULL), "no visible worksheet");
}

static void
test_hostile_xml(void)
{
	struct tload	*t;

	expect_fail("hostile: malformed sheet XML",
	    rows_of(hostile("malformed.xlsx"), NULL),
	    "xl/worksheets/sheet1.xml: malformed XML at line 4: mismatched "
	    "tag");
	expect_fail("hostile: billion laughs DOCTYPE",
	    rows_of(hostile("doctype.xlsx"), NULL),
	    "xl/worksheets/sheet1.xml: DOCTYPE not allowed");
	expect_fail("hostile: external entity DOCTYPE in shared strings",
	    rows_of(hostile("doctype_sst.xlsx"), NULL),
	    "xl/sharedStrings.xml: DOCTYPE not allowed");
	expect_fail("hostile: 2 MB attribute",
	    rows_of(hostile("long_token.xlsx"), NULL), "XML token longer than");
	expect_fail("hostile: 17 MB cell",
	    rows_of(hostile("huge_cell.xlsx"), NULL), "text longer than");
	expect_fail("hostile: shared string index out of range",
	    rows_of(hostile("bad_sst.xlsx"), NULL), "out of range");
	expect_fail("hostile: rows out of order",
	    rows_of(hostile("row_order.xlsx"), NULL), "out of order");
	expect_fail("hostile: cells out of order",
	    rows_of(hostile("cell_order.xlsx"), NULL), "out of order");
	expect_fail("hostile: row past 1048576",
	    rows_of(hostile("row_beyond.xlsx"), NULL), "not in 1..1048576");
	expect_fail("hostile: column beyond XFD",
	    rows_of(hostile("beyond_xfd.xlsx"), NULL), "beyond column XFD");
	expect_fail("hostile: header wider than MAX_COLUMNS",
	    rows_of(hostile("wide_header.xlsx"), NULL),
	    "more than 1024 columns");
	t = rows_of(hostile("empty_rows.xlsx"), NULL);
	ok(t->rc == 0 && t->nrows == 0 && t->ms < HOSTILE_MS,
	    "hostile: 1048576 empty rows give no rows, quickly",
	    "rc %d, %zu rows, %lld ms", t->rc, t->nrows, (long long)t->ms);
}

/*
 * A big table of shared strings (5.6 MB): the header uses its last
 * string, and the table's errors fail the file, first, even past what
 * the sheet needs.
 */
static void
test_big_sst(void)
{
	struct tload	*t;

	t = rows_of(hostile("big_sst.xlsx"), NULL);
	expect_rows("big table: every row", t, 0, 50001);
	expect_row("big table: the header has the last string", t, 0,
	    1, "v159999-9999999999", "second", NULL);
	expect_row("big table: the first data row", t, 1, 2,
	    "v000000-0000000000", "v080000-0000000000", NULL);
	expect_row("big table: the last data row", t, 50000, 50001,
	    "v049999-9999999999", "v129999-9999999999", NULL);
	t = rows_until(hostile("big_sst.xlsx"), NULL, 3);
	expect_rows("big table: the row callback stops it", t, 1, 3);
	expect_fail("big table: broken past what the sheet needs",
	    rows_of(hostile("big_sst_late.xlsx"), NULL),
	    "xl/sharedStrings.xml: malformed XML at line 160000");
	t = rows_of(hostile("big_sst_early.xlsx"), NULL);
	expect_fail("big table: broken before a string the sheet needs", t,
	    "xl/sharedStrings.xml: malformed XML at line 7: ");
	ok(t->nrows == 0, "big table: broken: no row given",
	    "%zu rows", t->nrows);
	expect_fail("big table: index past its end",
	    rows_of(hostile("big_sst_range.xlsx"), NULL), "cell A60000: "
	    "shared string '160000' out of range (160000 strings)");
	expect_fail("big table: the sheet's own error",
	    rows_of(hostile("big_sst_sheet_bad.xlsx"), NULL),
	    "row 3 out of order after row 9");
}

/* Every row's number, fields and flags, folded (FNV-1a). */
static uint64_t
tload_digest(const struct tload *t)
{
	uint64_t	 h = 1469598103934665603ULL;
	size_t		 i, j, k;

	for (i = 0; i < t->nrows; i++) {
		h = (h ^ t->rows[i].row) * 1099511628211ULL;
		for (j = 0; j < t->rows[i].nf; j++) {
			for (k = 0; k < t->rows[i].len[j]; k++)
				h = (h ^ (unsigned char)t->rows[i].f[j][k]) *
				    1099511628211ULL;
			h = (h ^ (0x100U | t->rows[i].ff[j])) *
			    1099511628211ULL;
		}
	}
	return h;
}

/*
 * The other ways a file is read: the sheet through expat alone (not the
 * tokenizer first), and on a thread of its own whatever its size. Each
 * must give the same outcome: the same rows, or the same error.
 */
static const struct way {
	const char	*name;
	int		 fast;		/* xlsx_fast_sheet */
	size_t		 thread_min;	/* xlsx_thread_min, or 0: as it is */
} ways[] = {
	{ "the sheet through expat alone", 0, 0 },
	{ "the sheet on a thread of its own", 1, 1 },
	{ "expat alone on a thread of its own", 0, 1 },
};

/* Read each .xlsx of dir every way: the same outcome as the first. */
static void
ways_same(const char *dir, int *n, int *bad)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	char		 path[PATH_MAX], err[MAX_ERRMSG];
	uint64_t	 h;
	size_t		 rows, k, min = xlsx_thread_min;
	int		 rc;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".xlsx") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		rows_of(path, NULL);
		rc = cur.rc, rows = cur.nrows, h = tload_digest(&cur);
		snprintf(err, sizeof(err), "%s", cur.err);
		(*n)++;
		for (k = 0; k < NELEM(ways); k++) {
			xlsx_fast_sheet = ways[k].fast;
			if (ways[k].thread_min > 0)
				xlsx_thread_min = ways[k].thread_min;
			rows_of(path, NULL);
			xlsx_fast_sheet = 1;
			xlsx_thread_min = min;
			if (cur.rc == rc && (rc == -1 ? strcmp(cur.err, err) ==
			    0 : cur.nrows == rows && tload_digest(&cur) == h))
				continue;
			if ((*bad)++ == 0)
				printf("# %s: rc %d, %zu rows, err '%s'; with "
				    "%s: rc %d, %zu rows, err '%s'\n",
				    de->d_name, rc, rows, err, ways[k].name,
				    cur.rc, cur.nrows, cur.err);
		}
	}
	if (d != NULL)
		closedir(d);
}

static void
test_ways_same(void)
{
	char	 fixtures[PATH_MAX];
	int	 n = 0, bad = 0;

	snprintf(fixtures, sizeof(fixtures), "%s/fixtures/xlsx", top);
	ways_same(fixtures, &n, &bad);
	ways_same(tmp, &n, &bad);
	ok(n >= 50 && bad == 0, "every fixture and hostile file reads the "
	    "same with the sheet through expat alone and on a thread of its "
	    "own", "%d files, %d ways differ", n, bad);
}

/* Load file as rows_of() does; the rows the tokenizer gave. */
static unsigned long long
fast_rows(const char *file)
{
	xlsx_fast_rows = 0;
	rows_of(file, NULL);
	return xlsx_fast_rows;
}

/* Every fixture but the hand-made one of prefixed names, the tokenizer's. */
static void
fast_fixtures(void)
{
	char		 dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
	DIR		*d;
	struct dirent	*de;
	unsigned long long fast;
	int		 n = 0, bad = 0;

	snprintf(dir, sizeof(dir), "%s/fixtures/xlsx", top);
	if ((d = opendir(dir)) == NULL) {
		ok(0, "fast: fixtures", "%s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".xlsx") == NULL ||
		    strcmp(de->d_name, "inline.xlsx") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fast = fast_rows(path);
		n++;
		if (cur.rc == 0 && cur.nrows > 0 && fast == cur.nrows)
			continue;
		if (bad++ == 0)
			printf("# %s: rc %d, %zu rows, %llu by the tokenizer\n",
			    de->d_name, cur.rc, cur.nrows, fast);
	}
	closedir(d);
	ok(n >= 25 && bad == 0, "fast: every row of every producer's fixture "
	    "is the tokenizer's", "%d files, %d not", n, bad);
	fast = fast_rows("fixtures/xlsx/inline.xlsx");
	ok(cur.rc == 0 && cur.nrows == 6 && fast == 0,
	    "fast: prefixed names (x:worksheet) are expat's", "rc %d, %zu rows,"
	    " %llu by the tokenizer", cur.rc, cur.nrows, fast);
}

/*
 * The tokenizer (xmltok.c) takes the sheet's plain shapes and leaves the
 * rest to expat, which goes on from there: the rows are the same either
 * way (test_ways_same), and the counter says who gave them.
 */
static void
test_fast(void)
{
	static const struct { const char *file; size_t rows, fast; } hand[] = {
		{ "tok_comment.xlsx", 5, 3 }, { "tok_pi.xlsx", 5, 3 },
		{ "tok_cdata.xlsx", 6, 3 }, { "tok_prefix.xlsx", 6, 3 },
		{ "tok_deep.xlsx", 5, 3 }, { "tok_long_name.xlsx", 5, 3 },
		{ "tok_name_utf8.xlsx", 5, 3 }, { "tok_many_attrs.xlsx", 6, 3 },
		{ "tok_bom.xlsx", 5, 0 }, { "tok_latin1.xlsx", 6, 0 },
		{ "tok_utf16.xlsx", 5, 0 }, { "tok_ws_tail.xlsx", 5, 5 },
		{ "tok_refs.xlsx", 6, 6 }, { "tok_crlf.xlsx", 6, 6 },
		{ "tok_attr_ws.xlsx", 6, 6 }, { "tok_empty_before.xlsx", 6, 3 },
	};
	unsigned long long	 fast;
	struct tload		*t;
	size_t			 i, min;
	char			 desc[128];

	fast_fixtures();
	for (i = 0; i < NELEM(hand); i++) {
		fast = fast_rows(hostile(hand[i].file));
		snprintf(desc, sizeof(desc), "fast: %s: %zu rows, %zu of them "
		    "the tokenizer's", hand[i].file, hand[i].rows,
		    hand[i].fast);
		ok(cur.rc == 0 && cur.nrows == hand[i].rows &&
		    fast == hand[i].fast, desc, "rc %d, %zu rows, %llu by the "
		    "tokenizer, err '%s'", cur.rc, cur.nrows, fast, cur.err);
	}
	rows_of(hostile("tok_refs.xlsx"), NULL);
	expect_row("fast: references, a CR LF by reference, UTF-8", &cur, 3,
	    4, "<>&\"'AB\xf0\x9f\x98\x80\nx", "caf\xc3\xa9 \xe6\x9d\xb1"
	    "\xe4\xba\xac", NULL);
	rows_of(hostile("tok_crlf.xlsx"), NULL);
	expect_row("fast: CR LF and a lone CR as LF", &cur, 3, 4,
	    "a\nb\nc\nd", NULL);
	rows_of(hostile("tok_empty_before.xlsx"), NULL);
	expect_row("fast: an empty cell, then expat's from a comment on", &cur,
	    3, 4, "1", "", "3", NULL);
	expect_fail("fast: junk after an empty root",
	    rows_of(hostile("tok_empty_root.xlsx"), NULL),
	    "junk after document element");
	rows_of(hostile("tok_cdata.xlsx"), NULL);
	expect_row("fast: CDATA, expat's", &cur, 3, 4, "a<b & c", NULL);
	rows_of(hostile("tok_latin1.xlsx"), NULL);
	expect_row("fast: another encoding, expat's", &cur, 3, 4,
	    "caf\xc3\xa9", NULL);
	expect_fail("fast: a mismatched tag after the tokenizer's rows",
	    rows_of(hostile("tok_mismatch.xlsx"), NULL),
	    "xl/worksheets/sheet1.xml: malformed XML at line 7: mismatched "
	    "tag");
	expect_fail("fast: an unknown entity",
	    rows_of(hostile("tok_entity.xlsx"), NULL),
	    "malformed XML at line 7: undefined entity");
	min = xlsx_thread_min;
	xlsx_thread_min = 1;
	t = rows_until(hostile("tok_late_token.xlsx"), NULL, 100);
	xlsx_thread_min = min;
	ok(t->rc == 1 && t->nrows == 100 && t->err[0] == '\0',
	    "piped: the callback stops the load: its rows, not the parse's "
	    "error further on", "rc %d, %zu rows, err '%s'", t->rc, t->nrows,
	    t->err);
	xlsx_piped_rows = 0;
	t = rows_of(hostile("big_sst.xlsx"), NULL);
	ok(t->rc == 0 && t->nrows == 50001 && xlsx_piped_rows == 50001,
	    "piped: a sheet past 4 MB is parsed on a thread of its own, its "
	    "rows given here", "rc %d, %zu rows, %llu piped", t->rc, t->nrows,
	    xlsx_piped_rows);
	fast = fast_rows(hostile("tok_late_token.xlsx"));
	ok(cur.rc == -1 && strstr(cur.err, "XML token longer than") != NULL &&
	    cur.nrows == 3000 && fast == 3000,
	    "fast: a token too long after 3000 rows: those rows, then "
	    "expat's error", "rc %d, %zu rows, %llu by the tokenizer, err '%s'",
	    cur.rc, cur.nrows, fast, cur.err);
}

static void
test_limits(void)
{
	struct tload	*t;
	const struct trow *r;

	t = rows_of(hostile("wide_data.xlsx"), NULL);
	r = t->nrows == 2 ? &t->rows[1] : NULL;
	ok(r != NULL && r->wide && r->nf == MAX_COLUMNS &&
	    strcmp(r->f[MAX_COLUMNS - 1], "1024") == 0,
	    "limits: data past MAX_COLUMNS dropped, wide set",
	    "rc %d, %zu rows, nf %zu wide %d", t->rc, t->nrows,
	    r ? r->nf : 0, r ? r->wide : 0);
	t = rows_of(hostile("long_cell.xlsx"), NULL);
	r = t->nrows == 2 ? &t->rows[1] : NULL;
	ok(r != NULL && r->nf == 2 && r->len[0] == 65535 &&
	    r->ff[0] == FF_TRUNC && utf8_valid(r->f[0], r->len[0]),
	    "limits: long inline cell cut at a UTF-8 boundary, FF_TRUNC",
	    "rc %d err '%s' len %zu ff %#x", t->rc, t->err, r ? r->len[0] : 0,
	    r ? r->ff[0] : 0);
	ok(r != NULL && r->nf == 2 && r->len[1] == MAX_FIELD_LEN &&
	    r->ff[1] == FF_TRUNC,
	    "limits: long shared string cut at MAX_FIELD_LEN, FF_TRUNC",
	    "len %zu ff %#x", r && r->nf == 2 ? r->len[1] : 0,
	    r && r->nf == 2 ? r->ff[1] : 0);
}

/* ------------------------------------------------- LibreOffice round trip */

static void
dump_field(FILE *fp, const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\\\", fp);
		else if (s[i] == '\t')
			fputs("\\t", fp);
		else if (s[i] == '\n')
			fputs("\\n", fp);
		else if (s[i] == '\r')
			fputs("\\r", fp);
		else
			fputc(s[i], fp);
	}
}

static int
dump_row(void *arg, const struct rawrow *r)
{
	FILE	*fp = arg;
	size_t	 i;

	fprintf(fp, "%zu", r->row);
	for (i = 0; i < r->nf; i++) {
		fputc('\t', fp);
		dump_field(fp, r->f[i], r->len[i]);
	}
	fputc('\n', fp);
	return 0;
}

/* The first line where files a and b differ, or 0. */
static size_t
first_diff(const char *a, const char *b, char *why, size_t whylen)
{
	FILE	*fa = fopen(a, "r"), *fb = fopen(b, "r");
	char	 la[4096], lb[4096];
	size_t	 line = 0, diff = 0;
	int	 ea, eb;

	if (fa == NULL || fb == NULL) {
		snprintf(why, whylen, "cannot open the dumps in %s", tmp);
		diff = (size_t)-1;
		goto out;
	}
	for (;;) {
		line++;
		ea = fgets(la, sizeof(la), fa) == NULL;
		eb = fgets(lb, sizeof(lb), fb) == NULL;
		if (ea && eb)
			break;
		if (ea || eb || strcmp(la, lb) != 0) {
			snprintf(why, whylen, "line %zu: xlsx '%.200s' csv "
			    "'%.200s'", line, ea ? "(end)" : la,
			    eb ? "(end)" : lb);
			diff = line;
			break;
		}
	}
out:
	if (fa != NULL)
		fclose(fa);
	if (fb != NULL)
		fclose(fb);
	return diff;
}

static void
test_roundtrip(void)
{
	const char	*desc = "libreoffice: 2000-row CSV -> XLSX reads back "
			    "exactly";
	const char	*gen = getenv("GEN_HR");
	char		 a[PATH_MAX], b[PATH_MAX], x[PATH_MAX], why[600];
	char		 err[MAX_ERRMSG], *cmd;
	FILE		*fp;
	int		 rc;

	char		 own[PATH_MAX];

	if (gen == NULL) {
		snprintf(own, sizeof(own), "%s/tests/genexport.py", top);
		gen = own;
	}
	if (system("command -v soffice >/dev/null 2>&1") != 0) {
		skip(desc, "soffice not installed");
		return;
	}
	if (access(gen, R_OK) == -1) {
		skip(desc, "no gen_hr.py (set GEN_HR)");
		return;
	}
	xasprintf(&cmd, "python3 '%s' --rows 2000 --seed 3 -o "
	    "'%s/hr.csv' && soffice -env:UserInstallation=file://%s/lo "
	    "--headless --infilter=CSV:44,34,76,1,,1033,false,true "
	    "--convert-to xlsx --outdir '%s' '%s/hr.csv' >/dev/null 2>&1 && "
	    "python3 '%s/tests/xlsx_helper.py' csvdump '%s/hr.csv' "
	    "'%s/csv.txt'", gen, tmp, tmp, tmp, tmp, top, tmp, tmp);
	rc = system(cmd);
	if (rc != 0) {
		ok(0, desc, "failed: %s", cmd);
		free(cmd);
		return;
	}
	free(cmd);
	snprintf(a, sizeof(a), "%s/xlsx.txt", tmp);
	snprintf(b, sizeof(b), "%s/csv.txt", tmp);
	snprintf(x, sizeof(x), "%s/hr.xlsx", tmp);
	if ((fp = fopen(a, "w")) == NULL) {
		ok(0, desc, "cannot write %s", a);
		return;
	}
	rc = load_xlsx(x, NULL, dump_row, fp, err, sizeof(err));
	fclose(fp);
	if (rc != 0) {
		ok(0, desc, "load_xlsx: %d %s", rc, err);
		return;
	}
	ok(first_diff(a, b, why, sizeof(why)) == 0, desc, "%s", why);
}

/* ----------------------------------------- values spreadsheets change */

/*
 * Numbers under padding formats (openpyxl_pad.xlsx, made by openpyxl):
 * one column per format, "0000000", "00000", "000.00", then three that
 * pad nothing and stay as today: the built-in "0", "#,##0" and a format
 * of two sections.
 */
static void
test_pad(void)
{
	struct tload	*t = rows_of("fixtures/xlsx/openpyxl_pad.xlsx", NULL);

	expect_rows("pad: 16 rows", t, 0, 16);
	expect_row("pad: 3311 padded to each width", t, 1, 2, "0003311",
	    "03311", "3311.00", "3311", "3311", "3311", NULL);
	expect_row("pad: the sign before the zeros", t, 2, 3, "-0003311",
	    "-03311", "-3311.00", "-3311", "-3311", "-3311", NULL);
	expect_row("pad: more digits than the width: all of them", t, 3, 4,
	    "123456789", "123456789", "123456789.00", "123456789",
	    "123456789", "123456789", NULL);
	expect_row("pad: 0.4 rounds to zero", t, 4, 5, "0000000", "00000",
	    "000.40", "0.4", "0.4", "0.4", NULL);
	expect_row("pad: -0.4 rounds to zero and keeps its sign, as Excel "
	    "shows it", t, 5, 6, "-0000000", "-00000", "-000.40", "-0.4",
	    "-0.4", "-0.4", NULL);
	expect_row("pad: halves round away from zero", t, 6, 7, "0000003",
	    "00003", "002.50", "2.5", "2.5", "2.5", NULL);
	expect_row("pad: negative halves too", t, 7, 8, "-0000003", "-00003",
	    "-002.50", "-2.5", "-2.5", "-2.5", NULL);
	expect_row("pad: decimals fixed by the format", t, 8, 9, "0000003",
	    "00003", "003.14", "3.14159", "3.14159", "3.14159", NULL);
	expect_row("pad: 2.675 is 2.68 (15 digits, then rounded)", t, 9, 10,
	    "0000003", "00003", "002.68", "2.675", "2.675", "2.675", NULL);
	expect_row("pad: a carry adds a digit", t, 10, 11, "10000000",
	    "10000000", "9999999.50", "9999999.5", "9999999.5", "9999999.5",
	    NULL);
	expect_row("pad: 20 digits shown with Excel's 15", t, 11, 12,
	    "12345678901234600000", "12345678901234600000",
	    "12345678901234600000.00", "12345678901234570000",
	    "12345678901234570000", "12345678901234570000", NULL);
	expect_row("pad: 16 digits shown with Excel's 15", t, 12, 13,
	    "1234567890123460", "1234567890123460", "1234567890123460.00",
	    "1234567890123456", "1234567890123456", "1234567890123456", NULL);
	expect_row("pad: 1e21 written out", t, 13, 14,
	    "1000000000000000000000", "1000000000000000000000",
	    "1000000000000000000000.00", "1e+21", "1e+21",
	    "1e+21", NULL);
	expect_row("pad: too long to write out: as today", t, 14, 15, "1e+100",
	    "1e+100", "1e+100", "1e+100", "1e+100", "1e+100", NULL);
	expect_row("pad: zero", t, 15, 16, "0000000", "00000", "000.00", "0",
	    "0", "0", NULL);
}

/* t="d": what the numeric date cell of the same style gives. */
static void
test_dates_text(void)
{
	struct tload	*t = rows_of("fixtures/xlsx/dates_text.xlsx", NULL);
	size_t		 i, c, bad = 0;

	expect_rows("t=d: 25 rows", t, 0, 25);
	expect_row("t=d: SheetJS's midnight", t, 1, 2,
	    "2021-02-03T00:00:00.000Z", "2021-02-03", "2021-02-03",
	    "2021-02-03", "2021-02-03", NULL);
	expect_row("t=d: a bare date", t, 2, 3, "2021-02-03", "2021-02-03",
	    "2021-02-03", "2021-02-03", "2021-02-03", NULL);
	expect_row("t=d: openpyxl's midnight", t, 3, 4, "2021-02-03T00:00:00",
	    "2021-02-03", "2021-02-03", "2021-02-03", "2021-02-03", NULL);
	expect_row("t=d: a time of day: kept by time styles only", t, 4, 5,
	    "2021-02-03T10:30:00.000Z", "2021-02-03T10:30:00", "2021-02-03",
	    "2021-02-03T10:30:00", "2021-02-03T10:30:00", NULL);
	expect_row("t=d: the same as its serial number", t, 24, 25, "serial",
	    "44230.4375", "2021-02-03", "2021-02-03T10:30:00",
	    "2021-02-03T10:30:00", NULL);
	expect_row("t=d: minutes without seconds", t, 5, 6, "2021-02-03T10:30",
	    "2021-02-03T10:30:00", "2021-02-03", "2021-02-03T10:30:00",
	    "2021-02-03T10:30:00", NULL);
	expect_row("t=d: an offset taken off (UTC)", t, 6, 7,
	    "2021-02-03T23:30:00-05:00", "2021-02-04T04:30:00", "2021-02-04",
	    "2021-02-04T04:30:00", "2021-02-04T04:30:00", NULL);
	expect_row("t=d: an offset without a colon", t, 7, 8,
	    "2021-02-03T10:30:00+0130", "2021-02-03T09:00:00", "2021-02-03",
	    "2021-02-03T09:00:00", "2021-02-03T09:00:00", NULL);
	expect_row("t=d: to the nearest second, the day by a date style as "
	    "its serial", t, 8, 9, "2021-02-03T23:59:59.600", "2021-02-04",
	    "2021-02-03", "2021-02-04", "2021-02-04", NULL);
	expect_row("t=d: a time on day 0 under a time style", t, 9, 10,
	    "1899-12-30T10:30:00", "1899-12-30T10:30:00", "1899-12-30",
	    "1899-12-30T10:30:00", "10:30:00", NULL);
	expect_row("t=d: years 1 and 9999", t, 11, 12, "0001-01-01",
	    "0001-01-01", "0001-01-01", "0001-01-01", "0001-01-01", NULL);
	for (i = 1; i < 13 && i < t->nrows; i++)
		for (c = 1; c < 5; c++)
			bad += flag(t, i, c) != 0;
	ok(bad == 0, "t=d: dates are not flagged", "%zu flagged", bad);
	for (i = 13; i < 24 && i < t->nrows; i++)
		for (c = 1; c < 5; c++)
			bad += flag(t, i, c) != FF_BADDATE ||
			    strcmp(t->rows[i].f[c], t->rows[i].f[0]) != 0;
	ok(t->nrows == 25 && bad == 0, "t=d: 11 values that are not dates "
	    "flagged FF_BADDATE in every style (never a date as text)",
	    "%zu wrong", bad);
}

/* Line ends and escapes in strings; formulas with and without values. */
static void
test_lines(void)
{
	struct tload	*t = rows_of("fixtures/xlsx/lines.xlsx", NULL);

	expect_rows("lines: 4 rows", t, 0, 4);
	expect_row("lines: shared strings: _x000D_ and LF, a lone CR, runs, "
	    "an escaped escape, &#13;", t, 1, 2, "a\nb", "a\nb", "run\nnext",
	    "keep_x000D_as text", "two\n\nends\n", NULL);
	expect_row("lines: inline and formula strings", t, 2, 3, "in\nline",
	    "lone\ncr", "f\nstr", NULL);
	expect_row("lines: formulas never calculated are empty", t, 3, 4, "",
	    "", "", "", "3", "", NULL);
	ok(flag(t, 3, 0) == FF_NOCALC && flag(t, 3, 1) == FF_NOCALC &&
	    flag(t, 3, 3) == FF_NOCALC && flag(t, 3, 5) == FF_NOCALC,
	    "lines: <f> without <v>, or with an empty one, is FF_NOCALC",
	    "flags %#x %#x %#x %#x", flag(t, 3, 0), flag(t, 3, 1),
	    flag(t, 3, 3), flag(t, 3, 5));
	ok(flag(t, 3, 2) == 0 && flag(t, 3, 4) == 0,
	    "lines: an empty string result and a value are not",
	    "flags %#x %#x", flag(t, 3, 2), flag(t, 3, 4));
}

/* A producer's twin reads exactly as the CSV it was made from. */
static void
twin_same(const char *xlsx, const char *csv)
{
	char	 a[PATH_MAX], b[PATH_MAX], x[PATH_MAX], why[600];
	char	 desc[256], err[MAX_ERRMSG], *cmd;
	FILE	*fp;
	int	 rc;

	snprintf(desc, sizeof(desc), "producers: %s reads as %s", xlsx, csv);
	snprintf(a, sizeof(a), "%s/twin.txt", tmp);
	snprintf(b, sizeof(b), "%s/twin_csv.txt", tmp);
	snprintf(x, sizeof(x), "%s/fixtures/xlsx/%s", top, xlsx);
	xasprintf(&cmd, "python3 '%s/tests/xlsx_helper.py' csvdump "
	    "'%s/fixtures/xlsx/%s' '%s'", top, top, csv, b);
	rc = system(cmd);
	free(cmd);
	if (rc != 0 || (fp = fopen(a, "w")) == NULL) {
		ok(0, desc, "csvdump or %s failed", a);
		return;
	}
	rc = load_xlsx(x, NULL, dump_row, fp, err, sizeof(err));
	fclose(fp);
	if (rc != 0) {
		ok(0, desc, "load_xlsx: %d %s", rc, err);
		return;
	}
	ok(first_diff(a, b, why, sizeof(why)) == 0, desc, "%s", why);
}

/*
 * The twins of producers_day{1,2}.csv saved by other writers: ids as
 * numbers under "0000000", dates as numbers or ISO text, notes with
 * CR LF, shared, inline and formula strings.
 */
static void
test_producers(void)
{
	static const char *const prod[] = { "openpyxl", "openpyxl_wo",
	    "exceljs", "sheetjs", "lxw" };
	char		 x[64], c[64];
	struct tload	*t;
	size_t		 i, d;

	for (i = 0; i < NELEM(prod); i++)
		for (d = 1; d <= 2; d++) {
			snprintf(x, sizeof(x), "%s_day%zu.xlsx", prod[i], d);
			snprintf(c, sizeof(c), "producers_day%zu.csv", d);
			twin_same(x, c);
		}
	twin_same("sheetjs_sst_day1.xlsx", "producers_day1.csv");
	t = rows_of("fixtures/xlsx/exceljs_day1.xlsx", NULL);
	expect_row("exceljs: a padded id, a date, a plain number, two lines",
	    t, 1, 2, "0120000", "ann.lee0@example.com", "Ann", "Lee",
	    "Ann Lee", "", "Engineering", "Engineer", "Z\xc3\xbcrich",
	    "2010-12-24", "4700", "first line\nsecond line 0", NULL);
	t = rows_of("fixtures/xlsx/sheetjs_day1.xlsx", NULL);
	expect_row("sheetjs: the same from t=\"d\" and _x000d_", t, 1, 2,
	    "0120000", "ann.lee0@example.com", "Ann", "Lee", "Ann Lee", "",
	    "Engineering", "Engineer", "Z\xc3\xbcrich", "2010-12-24", "4700",
	    "first line\nsecond line 0", NULL);
	t = rows_of("fixtures/xlsx/exceljs_ids_plain.xlsx", NULL);
	ok(t->nrows == 41 && strcmp(t->rows[1].f[0], "120000") == 0 &&
	    strcmp(t->rows[2].f[0], "3307") == 0 &&
	    strcmp(t->rows[2].f[5], "120000") == 0,
	    "exceljs: ids typed as plain numbers read as the numbers",
	    "%zu rows", t->nrows);
	t = rows_of("fixtures/xlsx/openpyxl_formulas.xlsx", NULL);
	ok(t->nrows == 41 && t->rows[1].len[1] == 0 &&
	    flag(t, 1, 1) == FF_NOCALC && flag(t, 40, 1) == FF_NOCALC,
	    "openpyxl: formulas it never calculated are FF_NOCALC",
	    "%zu rows, flags %#x", t->nrows, flag(t, 1, 1));
	t = rows_of("fixtures/xlsx/exceljs_formulas.xlsx", NULL);
	ok(t->nrows == 41 && t->rows[1].len[1] == 0 &&
	    flag(t, 1, 1) == FF_NOCALC && flag(t, 1, 0) == 0,
	    "exceljs: formulas without a result are FF_NOCALC",
	    "%zu rows, flags %#x", t->nrows, flag(t, 1, 1));
}

/* The worksheets a load failure names (xlsx_book_sheets()). */
static void
test_book(void)
{
	struct xlsx_book b;
	char		 path[PATH_MAX], err[MAX_ERRMSG];

	snprintf(path, sizeof(path), "%s/fixtures/xlsx/"
	    "openpyxl_second_sheet.xlsx", top);
	ok(xlsx_book_sheets(path, NULL, &b, err, sizeof(err)) == 0 &&
	    b.n == 3 && b.read == 0 && strcmp(b.name[0], "Read me") == 0 &&
	    strcmp(b.name[1], "Staff") == 0 &&
	    strcmp(b.name[2], "Old staff") == 0,
	    "book: three sheets, the first one read", "n %zu read %zu", b.n,
	    b.read);
	xlsx_book_free(&b);
	ok(xlsx_book_sheets(path, "staff", &b, err, sizeof(err)) == 0 &&
	    b.read == 1, "book: the sheet named, without case", "read %zu",
	    b.read);
	xlsx_book_free(&b);
	ok(xlsx_book_sheets(path, "Nope", &b, err, sizeof(err)) == 0 &&
	    b.read == b.n, "book: no such sheet: none read", "read %zu",
	    b.read);
	xlsx_book_free(&b);
	snprintf(path, sizeof(path), "%s/fixtures/xlsx/sheets.xlsx", top);
	ok(xlsx_book_sheets(path, NULL, &b, err, sizeof(err)) == 0 &&
	    b.n == 3 && b.hidden[0] && !b.hidden[1] && b.read == 1,
	    "book: the first visible sheet is the one read", "n %zu read %zu",
	    b.n, b.read);
	xlsx_book_free(&b);
	ok(xlsx_book_sheets(hostile("notzip.xlsx"), NULL, &b, err,
	    sizeof(err)) == -1 && strstr(err, "not a valid XLSX") != NULL &&
	    b.n == 0, "book: not a workbook", "err '%s'", err);
	xlsx_book_free(&b);
}

/* ---------------------------------------------------------------- main */

static int
dump_file(const char *file, const char *sheet)
{
	char	 err[MAX_ERRMSG];
	int	 rc;

	rc = load_xlsx(file, sheet, dump_row, stdout, err, sizeof(err));
	if (rc == -1)
		fprintf(stderr, "%s: %s\n", file, err);
	return rc == -1;
}

static void
cleanup(void)
{
	char	*cmd;

	xasprintf(&cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
	free(cmd);
	free(tmp);
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--dump") == 0)
		return dump_file(argv[2], argc > 3 ? argv[3] : NULL);
	if (argc > 1)
		top = argv[1];
	xasprintf(&tmp, "%s/test_load_xlsx.XXXXXX", getenv("TMP") != NULL ?
	    getenv("TMP") : "/tmp");
	if (mkdtemp(tmp) == NULL) {
		perror(tmp);
		return 1;
	}
	test_ids_dates();
	test_sheets();
	test_rich_unicode();
	test_sparse();
	test_inline();
	test_1904();
	test_libreoffice();
	test_pad();
	test_dates_text();
	test_lines();
	if (make_hostile() == 0) {
		test_api();
		test_book();
		test_producers();
		test_hostile_zip();
		test_hostile_xml();
		test_big_sst();
		test_ways_same();
		test_fast();
		test_limits();
	} else
		ok(0, "hostile files made by tests/xlsx_helper.py", NULL);
	test_roundtrip();
	tload_free(&cur);
	cleanup();
	printf("1..%d\n", ntest);
	return nfail > 0;
}
