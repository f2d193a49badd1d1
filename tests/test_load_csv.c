/*
 * Tests for load_csv.c and sha256.c: write small fixtures into a mkdtemp
 * directory, load them and compare the rows seen with the rows expected.
 * Output is TAP; the exit status is 1 when any test failed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "known.h"	/* load_csv_prep(), its known lines */

#define TEST_DUMP_MAX	256	/* longer values are dumped as their length */
#define TEST_CHUNK	(256 * 1024)	/* load_csv.c's read size */
#define TEST_BIG_ROWS	30000	/* rows of the streaming test */

/* What a load handed to the callback. */
struct got {
	struct buf	 dump;		/* "ROW:[v][v]...\n" per row */
	struct buf	 flags;		/* per row: each FF_*, wide, noeol */
	size_t		 rows;
	size_t		 maxnf;
	size_t		 maxlen;	/* the longest value */
	int		 trunc;		/* some value had FF_TRUNC */
	int		 wide;		/* some row had wide set */
	int		 badnul;	/* a value's NUL was not at len */
	int		 badutf8;	/* a value was not UTF-8 */
	size_t		 stop_after;	/* return 1 after so many rows */
	int		 knowing;	/* lines: 1 hashed, 2 some known */
	size_t		 known;		/* rows that came as known lines */
	size_t		*at;		/* where each row's dump starts */
	size_t		 nat, atcap;
};

/* One way of writing the table. */
struct dialect {
	char		 delim;
	const char	*eol;
	int		 enc;		/* ENC_* */
	int		 quoteall;	/* quote every field */
	const char	*pre;		/* before the header */
	int		 blankmid;	/* a blank line after the header */
	const char	*post;		/* after the last row */
};
enum { ENC_PLAIN, ENC_BOM8, ENC_UTF16LE, ENC_UTF16BE };

static const char *const table[4][4] = {
	{ "employee_id", "name", "title", "note" },
	{ "1", "Zo\xc3\xab M\xc3\xbcller", "Engineer, Senior",
	    "likes \"quotes\"" },
	{ "2", "J\xc3\xbcrgen Gro\xc3\x9f \xf0\x9f\x9a\x80",
	    "line one\nline two", "" },
	{ "3", "Ana", "Boss", "a,b;c\td|e" },
};

static char	 tmpdir[] = "/tmp/test_load_csv.XXXXXX";
static char	 fixture[PATH_MAX];
static int	 ntest, nfail;

/* ------------------------------------------------------------- TAP */

static int __attribute__((format(printf, 2, 3)))
tap(int cond, const char *fmt, ...)
{
	va_list	 ap;

	printf("%sok %d - ", cond ? "" : "not ", ++ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		nfail++;
	return cond;
}

static void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
	va_list	 ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* ------------------------------------------------------ collecting */

static void
dump_field(struct buf *b, const char *v, size_t len)
{
	if (len > TEST_DUMP_MAX)
		buf_printf(b, "[#%zu]", len);
	else {
		buf_addc(b, '[');
		buf_add(b, v, len);
		buf_addc(b, ']');
	}
}

static void
got_value(struct got *g, const struct rawrow *rr, size_t i)
{
	dump_field(&g->dump, rr->f[i], rr->len[i]);
	if (rr->ff[i] & FF_TRUNC)
		g->trunc = 1;
	if (rr->len[i] > g->maxlen)
		g->maxlen = rr->len[i];
	if (strlen(rr->f[i]) != rr->len[i])
		g->badnul = 1;
	if (!utf8_valid(rr->f[i], rr->len[i]))
		g->badutf8 = 1;
}

static int
got_row(void *arg, const struct rawrow *rr)
{
	struct got	*g = arg;
	size_t		 i;

	if (g->nat == g->atcap) {
		g->atcap = g->atcap ? 2 * g->atcap : 64;
		g->at = xrealloc(g->at, (g->atcap + 1) * sizeof(*g->at));
	}
	g->at[g->nat++] = g->dump.len;
	g->rows++;
	g->known += rr->hint != NULL && rr->hint->prep.known != 0; /* RS_SELFCHECK */
	buf_printf(&g->dump, "%zu:", rr->row);
	for (i = 0; i < rr->nf; i++)
		got_value(g, rr, i);
	buf_addc(&g->dump, '\n');
	for (i = 0; i < rr->nf; i++)
		buf_addc(&g->flags, 'A' + rr->ff[i]);
	buf_printf(&g->flags, "%d%d\n", rr->wide, rr->noeol);
	if (rr->nf > g->maxnf)
		g->maxnf = rr->nf;
	if (rr->wide)
		g->wide = 1;
	return g->stop_after > 0 && g->rows >= g->stop_after;
}

static void
got_free(struct got *g)
{
	buf_free(&g->dump);
	buf_free(&g->flags);
	free(g->at);
	memset(g, 0, sizeof(*g));
}

/* Could a caller know this line: one row on its own (no quote, no CR
 * but a last one, something besides spaces)? */
static int
one_row(const char *p, size_t n)
{
	size_t	 i;
	int	 any = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '"' || (p[i] == '\r' && i + 1 < n))
			return 0;
		any |= p[i] != ' ' && p[i] != '\t' && p[i] != '\r';
	}
	return any;
}

/* Known lines as the loader's caller gives them (load.c): each line
 * hashed; with knowing 2, a row line of an odd hash is "known". */
static int
got_known(void *arg, size_t n, const char *const *line, const size_t *len,
    struct rowprep *out)
{
	struct got	*g = arg;
	size_t		 i;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].lh_ok = 1;
		out[i].lh[0] = hash64(line[i], len[i], 7);
		if (g->knowing == 2 && (out[i].lh[0] & 1) &&
		    one_row(line[i], len[i]))
			out[i].known = 1;
	}
	return 1;
}

/* Write data to the fixture file and load it into g. */
static int
load_bytes(const void *data, size_t len, struct got *g, char *err,
    size_t errlen)
{
	FILE	*fp;
	int	 rc;

	if ((fp = fopen(fixture, "w")) == NULL ||
	    fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
		fatal("%s", fixture);
	rc = g->knowing ? load_csv_prep(fixture, got_row, NULL, got_known, g,
	    NULL, err, errlen) : load_csv(fixture, got_row, g, err, errlen);
	unlink(fixture);
	return rc;
}

/* ---------------------------------------------------------- writing */

static void
put_field(struct buf *b, const char *v, const struct dialect *d)
{
	const char	*s;

	if (!d->quoteall && strchr(v, d->delim) == NULL &&
	    strpbrk(v, "\"\r\n") == NULL) {
		buf_adds(b, v);
		return;
	}
	buf_addc(b, '"');
	for (s = v; *s != '\0'; s++) {
		if (*s == '"')
			buf_addc(b, '"');
		buf_addc(b, *s);
	}
	buf_addc(b, '"');
}

/* Append one UTF-16 code unit. */
static void
put_unit(struct buf *b, unsigned u, int be)
{
	buf_addc(b, be ? (int)(u >> 8) : (int)(u & 0xff));
	buf_addc(b, be ? (int)(u & 0xff) : (int)(u >> 8));
}

/* UTF-8 text (valid, as the fixtures are) to UTF-16 with a BOM. */
static void
to_utf16(struct buf *out, const char *p, size_t n, int be)
{
	const unsigned char	*s = (const unsigned char *)p, *e = s + n;
	unsigned		 c, k;

	put_unit(out, 0xfeff, be);
	while (s < e) {
		k = *s < 0x80 ? 0 : *s < 0xe0 ? 1 : *s < 0xf0 ? 2 : 3;
		c = k == 0 ? *s : *s & (0x3f >> k);
		for (s++; k > 0; k--, s++)
			c = c << 6 | (*s & 0x3f);
		if (c >= 0x10000) {
			put_unit(out, 0xd800 | (c - 0x10000) >> 10, be);
			c = 0xdc00 | (c & 0x3ff);
		}
		put_unit(out, c, be);
	}
}

static void
encode(struct buf *out, const struct buf *text, int enc)
{
	if (enc == ENC_UTF16LE || enc == ENC_UTF16BE) {
		to_utf16(out, text->p, text->len, enc == ENC_UTF16BE);
		return;
	}
	if (enc == ENC_BOM8)
		buf_adds(out, "\xef\xbb\xbf");
	buf_add(out, text->p, text->len);
}

/* The table written in dialect d, encoded, in out. */
static void
table_write(struct buf *out, const struct dialect *d)
{
	struct buf	 t = { 0 };
	size_t		 r, c;

	buf_adds(&t, d->pre ? d->pre : "");
	for (r = 0; r < 4; r++) {
		for (c = 0; c < 4; c++) {
			if (c > 0)
				buf_addc(&t, d->delim);
			put_field(&t, table[r][c], d);
		}
		buf_adds(&t, d->eol);
		if (r == 0 && d->blankmid)
			buf_adds(&t, d->eol);
	}
	buf_adds(&t, d->post ? d->post : "");
	encode(out, &t, d->enc);
	buf_free(&t);
}

/* The dump the table must give. */
static void
table_dump(struct buf *b)
{
	size_t	 r, c;

	for (r = 0; r < 4; r++) {
		buf_printf(b, "%zu:", r + 1);
		for (c = 0; c < 4; c++)
			dump_field(b, table[r][c], strlen(table[r][c]));
		buf_addc(b, '\n');
	}
}

/* ------------------------------------------------------------ tests */

static const char *
delim_name(char d)
{
	return d == ',' ? "comma" : d == ';' ? "semicolon" :
	    d == '\t' ? "tab" : "pipe";
}

static const char *
eol_name(const char *eol)
{
	return strcmp(eol, "\n") == 0 ? "LF" :
	    strcmp(eol, "\r\n") == 0 ? "CRLF" : "CR";
}

static void
test_dialect(const struct dialect *d, const char *what)
{
	struct buf	 data = { 0 }, want = { 0 };
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG];
	int		 rc;

	table_write(&data, d);
	table_dump(&want);
	rc = load_bytes(data.p, data.len, &g, err, sizeof(err));
	if (!tap(rc == 0 && g.dump.len == want.len &&
	    memcmp(g.dump.p, want.p, want.len) == 0 && !g.badnul,
	    "table, %s, %s: %s", delim_name(d->delim), eol_name(d->eol),
	    what))
		diag("rc %d err \"%s\" got:\n%s", rc, rc ? err : "",
		    g.dump.p ? g.dump.p : "");
	got_free(&g);
	buf_free(&data);
	buf_free(&want);
}

static void
test_dialects(void)
{
	static const char	*eols[] = { "\n", "\r\n", "\r" };
	static const char	*encs[] = { "plain", "UTF-8 BOM",
				    "UTF-16LE BOM", "UTF-16BE BOM" };
	static const char	 delims[] = ",;\t|";
	struct dialect		 d;
	int			 i, e, enc;

	for (i = 0; i < 4; i++) {
		for (e = 0; e < 3; e++) {
			for (enc = 0; enc < 4; enc++) {
				memset(&d, 0, sizeof(d));
				d.delim = delims[i];
				d.eol = eols[e];
				d.enc = enc;
				test_dialect(&d, encs[enc]);
			}
		}
		memset(&d, 0, sizeof(d));
		d.delim = delims[i];
		d.eol = "\r\n";
		d.quoteall = 1;
		test_dialect(&d, "quote-all");
		d.enc = ENC_UTF16LE;
		test_dialect(&d, "quote-all UTF-16LE");
	}
}

static void
test_dialect_extras(void)
{
	struct dialect	 d;

	memset(&d, 0, sizeof(d));
	d.delim = ';';
	d.eol = "\n";
	d.pre = "sep=;\n";
	test_dialect(&d, "sep=; line");
	d.eol = "\r\n";
	d.pre = "sep=;\r\n";
	d.enc = ENC_BOM8;
	test_dialect(&d, "UTF-8 BOM and sep=; line");
	d.enc = ENC_UTF16BE;
	test_dialect(&d, "UTF-16BE and sep=; line");
	d.enc = ENC_PLAIN;
	d.post = "\r\n";
	test_dialect(&d, "sep=; and a trailing blank line");
	d.pre = NULL;
	d.delim = ',';
	d.eol = "\n";
	d.post = "\n";
	test_dialect(&d, "trailing blank line");
	d.post = "\n  \n\n";
	test_dialect(&d, "trailing blank and white-space lines");
	d.post = NULL;
	d.blankmid = 1;
	test_dialect(&d, "blank line after the header");
	d.eol = "\r\n";
	d.delim = '\t';
	d.post = "\r\n";
	test_dialect(&d, "blank lines inside and after");
}

/* Load text (a C string) and compare the dump with want. */
static void
expect_rows(const char *desc, const char *text, const char *want)
{
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG];
	int		 rc;

	rc = load_bytes(text, strlen(text), &g, err, sizeof(err));
	if (!tap(rc == 0 && g.dump.p != NULL && strcmp(g.dump.p, want) == 0,
	    "%s", desc))
		diag("rc %d err \"%s\" got:\n%s", rc, rc ? err : "",
		    g.dump.p ? g.dump.p : "");
	got_free(&g);
}

static void
test_detection(void)
{
	expect_rows("delimiter tie , ; goes to comma", "a;b,c\n1;2,3\n",
	    "1:[a;b][c]\n2:[1;2][3]\n");
	expect_rows("quoted delimiters do not count",
	    "\"a,b,c\";d\n\"1,2\";3\n", "1:[a,b,c][d]\n2:[1,2][3]\n");
	expect_rows("tab beats comma", "a\tb\tc,d\n1\t2\t3,4\n",
	    "1:[a][b][c,d]\n2:[1][2][3,4]\n");
	expect_rows("no delimiter: one column", "name\nAna\n",
	    "1:[name]\n2:[Ana]\n");
	expect_rows("sep=| beats detection", "sep=|\nid;x|name\n1;2|3\n",
	    "1:[id;x][name]\n2:[1;2][3]\n");
	expect_rows("blank lines before the header",
	    "\n\r\n  \n\t\na;b\n1;2\n", "1:[a][b]\n2:[1][2]\n");
	expect_rows("blank lines before a sep= line", "\r\n\r\nsep=|\r\n"
	    "a;b|c\r\n1;2|3\r\n", "1:[a;b][c]\n2:[1;2][3]\n");
	expect_rows("no newline at the end", "a,b\n1,2",
	    "1:[a][b]\n2:[1][2]\n");
	expect_rows("quoted spaces are kept", "a,b\n\"  x  \",y\n",
	    "1:[a][b]\n2:[  x  ][y]\n");
	expect_rows("a quoted newline does not count as a row",
	    "a,b\n\"x\ny\nz\",1\nlast,2\n",
	    "1:[a][b]\n2:[x\ny\nz][1]\n3:[last][2]\n");
	expect_rows("a short row stays short", "a,b,c\n1\n",
	    "1:[a][b][c]\n2:[1]\n");
}

/* Load data; the load must fail with needle in the message. */
static void
expect_fail(const char *desc, const void *data, size_t len,
    const char *needle)
{
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG] = "";
	int		 rc;

	rc = load_bytes(data, len, &g, err, sizeof(err));
	if (!tap(rc == -1 && strstr(err, needle) != NULL &&
	    strstr(err, tmpdir) == NULL, "%s", desc))
		diag("rc %d err \"%s\", want \"%s\"", rc, err, needle);
	got_free(&g);
}

#define FAIL_STR(desc, s, needle) expect_fail(desc, s, sizeof(s) - 1, needle)

static void
test_bad_files(void)
{
	FAIL_STR("empty file", "", "empty");
	FAIL_STR("UTF-8 BOM only", "\xef\xbb\xbf", "empty");
	FAIL_STR("UTF-16LE BOM only", "\xff\xfe", "empty");
	FAIL_STR("only blank and white-space lines", "\n\r\n  \n\t\n",
	    "empty");
	FAIL_STR("only a sep= line", "sep=;\n", "empty");
	FAIL_STR("unterminated quote at the end", "a,b\n1,2\n3,\"oops\n4,5\n",
	    "unterminated quoted field starting at row 3");
	FAIL_STR("unterminated quote in the header", "a,\"b\n",
	    "unterminated");
	FAIL_STR("NUL byte", "a,b\n1,\0002\n", "NUL byte at offset 6");
	FAIL_STR("UTF-16LE without a BOM", "a\0,\0b\0\n\0",
	    "NUL byte at offset 1");
	FAIL_STR("lone surrogate in UTF-16LE",
	    "\xff\xfe" "a\0\n\0\x00\xdc\n\0", "invalid UTF-16LE at offset 6");
	FAIL_STR("UTF-16BE cut inside a character", "\xfe\xff\0a\0\n\0",
	    "invalid UTF-16");
	FAIL_STR("U+0000 in UTF-16", "\xff\xfe" "a\0\n\0\0\0\n\0", "NUL");
}

/* ------------------------------------------------------- encodings */

/* Load s as encoding want: the rc, the rows in g, the message in err. */
static int
load_enc(const char *s, size_t n, const char *want, struct textenc *enc,
    struct got *g, char *err, size_t errlen)
{
	FILE	*fp;
	int	 rc;

	if ((fp = fopen(fixture, "w")) == NULL ||
	    fwrite(s, 1, n, fp) != n || fclose(fp) != 0)
		fatal("%s", fixture);
	memset(enc, 0, sizeof(*enc));
	enc->want = want;
	enc->fallback = want != NULL && strcmp(want, ENC_FALLBACK) == 0;
	rc = load_csv_prep(fixture, got_row, NULL, NULL, g, enc, err, errlen);
	unlink(fixture);
	return rc;
}

/* One decision per file, never row by row. */
static void
test_encodings(void)
{
	/* What Excel's plain CSV save writes on Western Windows. */
	static const char cp[] = "id,name\n1,Ann\n2,Jos\xe9\n3,\x80uro\n";
	static const char u8[] = "id,name\n1,Ann\n2,Jos\xc3\xa9\n";
	static const char bom[] = "\xef\xbb\xbfid,name\n1,Jos\xc3\xa9\n";
	static const char bom1252[] =
	    "\xef\xbb\xbfid,name\n1,Ann\n2,Jos\xe9\n";
	static const char mixed[] = "id,name\n1,Do\xeb\x8f\x84\n2,Jos\xe9\n";
	static const char u16[] = "\xff\xfei\0d\0\n\0";
	static const char latin9[] = "id,name\n1,\xa4\n";
	static const char undef[] = "id,name\n1,\x81x\n";
	static const char crlf[] = "id,note\r\n1,\"one\r\ntwo\rthree\"\r\n";
	struct textenc	 e;
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG];
	int		 rc;

	rc = load_enc(cp, sizeof(cp) - 1, NULL, &e, &g, err, sizeof(err));
	if (!tap(rc == LOAD_NOT_UTF8 && e.bad_row == 3 && e.bad_off == 19,
	    "auto: not UTF-8 stops the load (row 3, offset 19)"))
		diag("rc %d row %zu off %llu err %s", rc, e.bad_row,
		    e.bad_off, err);
	got_free(&g);
	rc = load_enc(cp, sizeof(cp) - 1, ENC_FALLBACK, &e, &g, err,
	    sizeof(err));
	if (!tap(rc == 0 && strstr(g.dump.p, "[Jos\xc3\xa9]") &&
	    strstr(g.dump.p, "[\xe2\x82\xacuro]") &&
	    strcmp(e.used, "windows-1252") == 0, "Windows-1252: every row "
	    "converted (\xc3\xa9, \xe2\x82\xac)"))
		diag("rc %d used %s err %s dump %s", rc, e.used, err, g.dump.p);
	got_free(&g);
	rc = load_enc(cp, sizeof(cp) - 1, "utf-8", &e, &g, err, sizeof(err));
	if (!tap(rc == -1 && strstr(err, "row 3: the byte at offset 19 is "
	    "not UTF-8"), "explicit utf-8: the file fails, naming the row "
	    "and the byte offset"))
		diag("rc %d err %s", rc, err);
	got_free(&g);
	rc = load_enc(u8, sizeof(u8) - 1, NULL, &e, &g, err, sizeof(err));
	tap(rc == 0 && strcmp(e.used, "UTF-8") == 0 && g.rows == 3,
	    "auto: valid UTF-8 is UTF-8");
	got_free(&g);
	rc = load_enc(bom, sizeof(bom) - 1, "cp1252", &e, &g, err,
	    sizeof(err));
	if (!tap(rc == -1 && strstr(err, "UTF-8 byte-order mark but the "
	    "sync's encoding is \"cp1252\""), "a byte-order mark that "
	    "contradicts the encoding fails the file"))
		diag("rc %d err %s", rc, err);
	got_free(&g);
	rc = load_enc(bom1252, sizeof(bom1252) - 1, ENC_FALLBACK, &e, &g,
	    err, sizeof(err));
	if (!tap(rc == -1 && e.mixed && strstr(err, "row 3: the byte at "
	    "offset 22 is not UTF-8, but the file starts with a UTF-8 "
	    "byte-order mark"), "fallback: a UTF-8 mark and a byte that is "
	    "not UTF-8: mixed"))
		diag("rc %d err %s", rc, err);
	got_free(&g);
	rc = load_enc(mixed, sizeof(mixed) - 1, ENC_FALLBACK, &e, &g, err,
	    sizeof(err));
	if (!tap(rc == -1 && e.mixed && e.bad_row == 3 && e.utf8_row == 2 &&
	    strstr(err, "row 3: the byte at offset 21 is not UTF-8, but row "
	    "2 is UTF-8 text (offset 12)"), "fallback: UTF-8 (0x8f, which "
	    "Windows-1252 lacks) and then a byte that is not: mixed, the "
	    "rows named"))
		diag("rc %d err %s", rc, err);
	got_free(&g);
	rc = load_enc(u16, sizeof(u16) - 1, "utf-8", &e, &g, err, sizeof(err));
	tap(rc == -1 && strstr(err, "UTF-16LE byte-order mark") != NULL,
	    "a UTF-16 mark under encoding utf-8 fails the file");
	got_free(&g);
	rc = load_enc(latin9, sizeof(latin9) - 1, "iso-8859-15", &e, &g, err,
	    sizeof(err));
	if (!tap(rc == 0 && strstr(g.dump.p, "[\xe2\x82\xac]"),
	    "a named encoding (ISO-8859-15: 0xa4 is the euro sign)"))
		diag("rc %d err %s dump %s", rc, err, g.dump.p);
	got_free(&g);
	rc = load_enc(undef, sizeof(undef) - 1, ENC_FALLBACK, &e, &g, err,
	    sizeof(err));
	if (!tap(rc == -1 && strstr(err, "row 2: the byte 0x81 at offset 10 "
	    "is neither UTF-8 nor Windows-1252"), "a byte Windows-1252 does "
	    "not have fails the fallback, naming it"))
		diag("rc %d err %s", rc, err);
	got_free(&g);
	rc = load_enc(crlf, sizeof(crlf) - 1, NULL, &e, &g, err, sizeof(err));
	if (!tap(rc == 0 && strstr(g.dump.p, "[one\ntwo\nthree]"),
	    "CR LF and a lone CR inside a quoted field are LF"))
		diag("rc %d err %s dump %s", rc, err, g.dump.p);
	got_free(&g);
}

/* A character cut by the read between two chunks is still UTF-8. */
static void
test_utf8_split(void)
{
	struct buf	 t = { 0 };
	struct textenc	 e;
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG];
	int		 rc;

	buf_adds(&t, "id,name\n");
	while (t.len < TEST_CHUNK - 1)
		buf_adds(&t, "1,a\n");
	t.len = TEST_CHUNK - 1;	/* the euro sign's first byte ends it */
	buf_adds(&t, "\xe2\x82\xac\n");
	rc = load_enc(t.p, t.len, "utf-8", &e, &g, err, sizeof(err));
	if (!tap(rc == 0, "UTF-8 split across two reads is read whole"))
		diag("rc %d err %s", rc, err);
	got_free(&g);
	buf_free(&t);
}

/*
 * The Windows-1252 fallback reads the bytes as UTF-8 too: a UTF-8
 * character cut by the read, after a byte that is not UTF-8, still makes
 * the file mixed; a Windows-1252 byte that only looks like the start of
 * one, there or at the end of the file, is read as Windows-1252.
 */
static void
test_fallback_split(void)
{
	static const char cut[] = "\xc3\xa9\n", notcut[] = "\xc3x\n";
	static const char end[] = "id,name\n1,Jos\xe9\n2,\xc3";
	struct buf	 t = { 0 };
	struct textenc	 e;
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG], want[128];
	size_t		 rows = 2;
	int		 rc;

	buf_adds(&t, "id,name\n1,Jos\xe9\n");
	while (t.len < TEST_CHUNK - 1) {
		buf_adds(&t, "1,a\n");
		rows++;
	}
	t.len = TEST_CHUNK - 1;	/* the read ends after the 0xc3 */
	buf_add(&t, cut, sizeof(cut) - 1);
	rc = load_enc(t.p, t.len, ENC_FALLBACK, &e, &g, err, sizeof(err));
	snprintf(want, sizeof(want), "row 2: the byte at offset 13 is not "
	    "UTF-8, but row %zu is UTF-8 text (offset %d)", rows + 1,
	    TEST_CHUNK - 1);
	if (!tap(rc == -1 && e.mixed && strstr(err, want) != NULL,
	    "fallback: a UTF-8 character cut by the read, after a byte "
	    "that is not UTF-8: mixed, both rows named"))
		diag("rc %d err %s", rc, err);
	got_free(&g);
	t.len = TEST_CHUNK - 1;
	buf_add(&t, notcut, sizeof(notcut) - 1);
	rc = load_enc(t.p, t.len, ENC_FALLBACK, &e, &g, err, sizeof(err));
	if (!tap(rc == 0 && !e.mixed && strstr(g.dump.p, "[\xc3\x83x]"),
	    "fallback: 0xc3 at the end of a read, then not a character: "
	    "Windows-1252"))
		diag("rc %d err %s", rc, err);
	got_free(&g);
	rc = load_enc(end, sizeof(end) - 1, ENC_FALLBACK, &e, &g, err,
	    sizeof(err));
	if (!tap(rc == 0 && strstr(g.dump.p, "[\xc3\x83]"),
	    "fallback: 0xc3 at the end of the file: Windows-1252"))
		diag("rc %d err %s", rc, err);
	got_free(&g);
	buf_free(&t);
}

/* utf8_span(): the valid prefix in whole characters, which the reader
 * uses to find where a chunk stops being UTF-8 in one pass. */
static void
test_utf8_span(void)
{
	static const struct {
		const char	*s;
		size_t		 n, want;
	} c[] = {
		{ "plain ascii", 11, 11 },
		{ "Zo\xc3\xab M\xc3\xbcller \xe2\x82\xac", 16, 16 },
		{ "ab\xe2\x82", 4, 2 },		/* cut at the end */
		{ "ab\xc3", 3, 2 },
		{ "ab\xf0\x9f\x98", 5, 2 },
		{ "abc\xc0\xaf" "def", 8, 3 },	/* overlong */
		{ "a\xed\xa0\x80" "b", 5, 1 },	/* a surrogate */
		{ "a\xf4\x90\x80\x80", 5, 1 },	/* above U+10FFFF */
		{ "0123456789abcdef\x80", 17, 16 },	/* a lone continuation */
		{ "\xc3\xa9\xc3\xa9\xff", 5, 4 },
	};
	size_t	 i, got;
	int	 ok = 1;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if ((got = utf8_span(c[i].s, c[i].n)) != c[i].want ||
		    utf8_valid(c[i].s, c[i].n) != (c[i].want == c[i].n)) {
			diag("case %zu: span %zu, want %zu", i, got, c[i].want);
			ok = 0;
		}
	tap(ok, "utf8_span: the valid prefix stops where a bad or cut "
	    "character starts");
}

static void
test_open_errors(void)
{
	char	 err[MAX_ERRMSG], link[PATH_MAX + 8];
	int	 rc;

	rc = load_csv("/nonexistent/x.csv", got_row, NULL, err, sizeof(err));
	if (!tap(rc == -1 && strstr(err, "cannot open") != NULL &&
	    strstr(err, "nonexistent") == NULL, "missing file"))
		diag("rc %d err \"%s\"", rc, err);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	if (symlink("/etc/hostname", link) == -1)
		fatal("symlink");
	rc = load_csv(link, got_row, NULL, err, sizeof(err));
	if (!tap(rc == -1 && strstr(err, "symbolic link") != NULL,
	    "symbolic link refused"))
		diag("rc %d err \"%s\"", rc, err);
	unlink(link);
	rc = load_csv(tmpdir, got_row, NULL, err, sizeof(err));
	if (!tap(rc == -1 && strstr(err, "regular") != NULL,
	    "directory refused"))
		diag("rc %d err \"%s\"", rc, err);
}

/* "h\n" and a row of one field: n copies of the UTF-8 character c. */
static void
long_field(struct buf *b, const char *pre, const char *c, size_t n,
    int quoted)
{
	size_t	 i, clen = strlen(c);

	buf_reset(b);
	buf_adds(b, "h\n");
	buf_adds(b, quoted ? "\"" : "");
	buf_adds(b, pre);
	for (i = 0; i < n; i++)
		buf_add(b, c, clen);
	buf_adds(b, quoted ? "\"\nnext\n" : "\nnext\n");
}

static void
test_trunc(const char *desc, const char *pre, const char *c, size_t n,
    size_t wantlen)
{
	struct buf	 b = { 0 };
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG];
	int		 rc;

	long_field(&b, pre, c, n, 0);
	rc = load_bytes(b.p, b.len, &g, err, sizeof(err));
	if (!tap(rc == 0 && g.rows == 3 && g.trunc && g.maxlen == wantlen &&
	    !g.badutf8 && !g.badnul, "%s", desc))
		diag("rc %d rows %zu trunc %d maxlen %zu utf8bad %d", rc,
		    g.rows, g.trunc, g.maxlen, g.badutf8);
	got_free(&g);
	buf_free(&b);
}

static void
test_hard_limit(const char *desc, size_t n, int quoted, int wantrc)
{
	struct buf	 b = { 0 };
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG] = "";
	int		 rc;

	long_field(&b, "", "x", n, quoted);
	rc = load_bytes(b.p, b.len, &g, err, sizeof(err));
	if (!tap(rc == wantrc && (rc == 0 ? g.rows == 3 && g.trunc :
	    strstr(err, "longer than 16777216 bytes at row 2") != NULL),
	    "%s", desc))
		diag("rc %d rows %zu err \"%s\"", rc, g.rows, err);
	got_free(&g);
	buf_free(&b);
}

static void
test_fields(void)
{
	test_trunc("100 KB field: FF_TRUNC at MAX_FIELD_LEN", "", "x",
	    100 * 1024, MAX_FIELD_LEN);
	test_trunc("cut between UTF-8 characters", "a", "\xc3\xa9", 50000,
	    MAX_FIELD_LEN - 1);
	test_trunc("cut before a 4-byte character", "ab",
	    "\xf0\x9f\x9a\x80", 20000, MAX_FIELD_LEN - 2);
	test_hard_limit("a field of exactly MAX_FIELD_HARD bytes loads",
	    MAX_FIELD_HARD, 0, 0);
	test_hard_limit("a quoted field of exactly MAX_FIELD_HARD bytes loads",
	    MAX_FIELD_HARD, 1, 0);
	test_hard_limit("a field past MAX_FIELD_HARD fails",
	    MAX_FIELD_HARD + 1, 0, -1);
	test_hard_limit("a quoted field past MAX_FIELD_HARD fails",
	    MAX_FIELD_HARD + 1, 1, -1);
	test_hard_limit("a much longer field fails",
	    MAX_FIELD_HARD + 5 * 1024 * 1024, 1, -1);
}

/* A header of hcols columns and one row of rcols, extras as given. */
static void
wide_file(struct buf *b, int hcols, int rcols, const char *extra)
{
	int	 i;

	buf_reset(b);
	for (i = 0; i < hcols; i++)
		buf_printf(b, "%sc%d", i ? "," : "", i);
	buf_addc(b, '\n');
	for (i = 0; i < rcols; i++)
		buf_printf(b, "%s%s", i ? "," : "",
		    i < MAX_COLUMNS ? "v" : extra);
	buf_addc(b, '\n');
}

static void
test_wide(void)
{
	struct buf	 b = { 0 };
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG] = "";
	int		 rc;

	wide_file(&b, 2000, 1, "");
	expect_fail("a header of 2000 columns", b.p, b.len,
	    "the header has more than 1024 columns");
	wide_file(&b, MAX_COLUMNS, MAX_COLUMNS + 76, "x");
	rc = load_bytes(b.p, b.len, &g, err, sizeof(err));
	if (!tap(rc == 0 && g.wide && g.maxnf == MAX_COLUMNS,
	    "a row wider than MAX_COLUMNS with values: wide"))
		diag("rc %d err \"%s\" wide %d nf %zu", rc, err, g.wide,
		    g.maxnf);
	got_free(&g);
	wide_file(&b, MAX_COLUMNS, MAX_COLUMNS + 76, "");
	rc = load_bytes(b.p, b.len, &g, err, sizeof(err));
	if (!tap(rc == 0 && !g.wide && g.maxnf == MAX_COLUMNS,
	    "a row wider than MAX_COLUMNS, extras empty: not wide"))
		diag("rc %d err \"%s\" wide %d nf %zu", rc, err, g.wide,
		    g.maxnf);
	got_free(&g);
	buf_free(&b);
}

static void
test_stop(void)
{
	struct got	 g = { 0 };
	const char	 text[] = "a,b\n1,2\n3,4\n5,6\n";
	char		 err[MAX_ERRMSG];
	int		 rc;

	g.stop_after = 2;
	rc = load_bytes(text, sizeof(text) - 1, &g, err, sizeof(err));
	if (!tap(rc == 1 && g.rows == 2, "callback stop: load_csv returns 1"))
		diag("rc %d rows %zu", rc, g.rows);
	got_free(&g);
	g.stop_after = 4;
	rc = load_bytes(text, sizeof(text) - 1, &g, err, sizeof(err));
	if (!tap(rc == 1 && g.rows == 4, "callback stop on the last row"))
		diag("rc %d rows %zu", rc, g.rows);
	got_free(&g);
}

/* Row i of the streaming test, field c (of 4). */
static void
big_value(struct buf *v, size_t i, int c)
{
	static const char	*names[] = { "Zo\xc3\xab", "\xc5\x81ukasz",
				    "Ana", "\xe5\xbc\xa0\xe4\xbc\x9f",
				    "Rocket \xf0\x9f\x9a\x80", "S\xc3\xb8ren" };
	size_t			 k;

	buf_reset(v);
	if (c == 0)
		buf_printf(v, "%zu", i);
	else if (c == 1)
		buf_adds(v, names[i % 6]);
	else if (c == 2 && i % 7 == 0)
		buf_printf(v, "say \"hi\",\nthen; go|%zu", i);
	else if (c == 2)
		buf_printf(v, "note %zu", i);
	else
		for (k = 0; k < i * 37 % 300; k++)
			buf_addc(v, 'a' + (int)(k % 26));
}

/* TEST_BIG_ROWS rows written as d into data; the dump they give in want. */
static void
big_write(struct buf *data, struct buf *want, const struct dialect *d)
{
	struct buf	 t = { 0 }, v = { 0 };
	size_t		 i;
	int		 c;

	buf_adds(&t, "id,name,note,pad");
	buf_adds(&t, d->eol);
	buf_adds(want, "1:[id][name][note][pad]\n");
	for (i = 1; i <= TEST_BIG_ROWS; i++) {
		buf_printf(want, "%zu:", i + 1);
		for (c = 0; c < 4; c++) {
			big_value(&v, i, c);
			if (c > 0)
				buf_addc(&t, d->delim);
			put_field(&t, v.p, d);
			dump_field(want, v.p, v.len);
		}
		buf_adds(&t, d->eol);
		buf_addc(want, '\n');
	}
	encode(data, &t, d->enc);
	buf_free(&t);
	buf_free(&v);
}

static void
test_big(int enc, const char *what)
{
	struct dialect	 d;
	struct buf	 data = { 0 }, want = { 0 };
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG];
	int		 rc;

	memset(&d, 0, sizeof(d));
	d.delim = ',';
	d.eol = "\r\n";
	d.enc = enc;
	big_write(&data, &want, &d);
	rc = load_bytes(data.p, data.len, &g, err, sizeof(err));
	if (!tap(rc == 0 && g.dump.len == want.len &&
	    memcmp(g.dump.p, want.p, want.len) == 0,
	    "streaming %zu rows (%zu KiB) across chunks: %s", (size_t)
	    TEST_BIG_ROWS, data.len / 1024, what))
		diag("rc %d err \"%s\" rows %zu", rc, rc ? err : "", g.rows);
	got_free(&g);
	buf_free(&data);
	buf_free(&want);
}

/*
 * UTF-16LE with a surrogate pair cut by the first read: the pair starts
 * 2 bytes before TEST_CHUNK. 1 + 2 + 1310 * 100 + 68 = 131071 units.
 */
static void
test_utf16_split(void)
{
	struct buf	 t = { 0 }, data = { 0 };
	struct got	 g = { 0 };
	char		 err[MAX_ERRMSG], want[128];
	const char	*last;
	int		 i, rc;

	buf_adds(&t, "h\n");
	for (i = 0; i < 1310; i++)
		buf_printf(&t, "%099d\n", i);
	for (i = 0; i < 68; i++)
		buf_addc(&t, 'y');
	buf_adds(&t, "\xf0\x9f\x9a\x80!\n");
	to_utf16(&data, t.p, t.len, 0);
	snprintf(want, sizeof(want), "1312:[%.68s\xf0\x9f\x9a\x80!]\n",
	    t.p + t.len - 74);
	rc = load_bytes(data.p, data.len, &g, err, sizeof(err));
	last = g.dump.p ? strstr(g.dump.p, "1312:") : NULL;
	if (!tap(rc == 0 && g.rows == 1312 && last != NULL &&
	    strcmp(last, want) == 0 && (size_t)TEST_CHUNK - 2 ==
	    2 * (1 + 2 + 1310 * 100 + 68), "UTF-16 surrogate pair across "
	    "a read boundary"))
		diag("rc %d err \"%s\" rows %zu last %s", rc, rc ? err : "",
		    g.rows, last ? last : "(none)");
	got_free(&g);
	buf_free(&t);
	buf_free(&data);
}

/* ------------------------------------------- plain lines against libcsv */

static uint64_t	 rng = 88172645463325252ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static int
buf_same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p,
	    a->len) == 0);
}

/* Row i of g's dump. */
static size_t
row_at(const struct got *g, size_t i, const char **p)
{
	size_t	 end = i + 1 < g->nat ? g->at[i + 1] : g->dump.len;

	*p = g->dump.p + g->at[i];
	return end - g->at[i];
}

/*
 * Known lines (k, some of them known) against the rows of a: the same
 * rows in the same places; a known one has no fields, it stands for the
 * line the reader took whole.
 */
static int
known_same(const struct got *a, const struct got *k)
{
	const char	*p, *q;
	size_t		 i, n, m;

	if (a->nat != k->nat)
		return 0;
	for (i = 0; i < a->nat; i++) {
		n = row_at(a, i, &p);
		m = row_at(k, i, &q);
		if (memcmp(q, p, (size_t)(strchr(p, ':') - p) + 1) != 0)
			return 0;	/* not the same row number */
		if (m != (size_t)(strchr(q, ':') - q) + 2 &&
		    (n != m || memcmp(p, q, n) != 0))
			return 0;	/* neither known nor the same */
	}
	return 1;
}

static size_t	 known_rows;	/* rows both_ways() saw come as known */

/*
 * Load data with the plain-line path, with libcsv alone, and with known
 * lines (all hashed; then some known): 1 when the rows, their flags, the
 * outcome and the message are the same.
 */
static int
both_ways(const char *data, size_t len, size_t stop_after)
{
	struct got	 a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	char		 ea[MAX_ERRMSG], eb[MAX_ERRMSG], ec[MAX_ERRMSG];
	int		 ra, rb, rc, rd, same;

	a.stop_after = b.stop_after = stop_after;
	c.stop_after = d.stop_after = stop_after;
	c.knowing = 1;
	d.knowing = 2;
	ra = load_bytes(data, len, &a, ea, sizeof(ea));
	rc = load_bytes(data, len, &c, ec, sizeof(ec));
	rd = load_bytes(data, len, &d, ec, sizeof(ec));
	known_rows += d.known;
	load_csv_plain_lines = 0;
	rb = load_bytes(data, len, &b, eb, sizeof(eb));
	load_csv_plain_lines = 1;
	same = ra == rb && a.rows == b.rows && buf_same(&a.dump, &b.dump) &&
	    buf_same(&a.flags, &b.flags) && (ra != -1 || strcmp(ea, eb) == 0);
	if (same && (rc != ra || !buf_same(&a.dump, &c.dump) ||
	    !buf_same(&a.flags, &c.flags) || c.known != 0)) {
		diag("hashed lines: rc %d rows %zu\n%s", rc, c.rows,
		    c.dump.p ? c.dump.p : "");
		same = 0;
	} else if (same && (rd != ra || !known_same(&a, &d))) {
		diag("known lines: rc %d rows %zu (%zu known)\n%s", rd,
		    d.rows, d.known, d.dump.p ? d.dump.p : "");
		same = 0;
	}
	if (!same)
		diag("plain: rc %d rows %zu \"%s\"\n%s\nlibcsv: rc %d rows "
		    "%zu \"%s\"\n%s", ra, a.rows, ra == -1 ? ea : "",
		    a.dump.p ? a.dump.p : "", rb, b.rows, rb == -1 ? eb : "",
		    b.dump.p ? b.dump.p : "");
	got_free(&a);
	got_free(&b);
	got_free(&c);
	got_free(&d);
	return same;
}

/* The lines libcsv's rules make interesting, each after a header. */
static void
test_plain_cases(void)
{
	static const char *const cases[] = {
		"a,b\n", "\"x\",\"y\"\n", "\"a\"\"b\",c\n",
		"\"a\"\"\"\"\",c\n", "\"a\" ,b\n", "\"a\"x,b\n",
		" \"a\" , \"b\" \n", "a\"b,c\n", "\"\",\"\"\n", "\"\"\n",
		"  \n", "\t\n", " \t \r\n", "a,\n", ",\n", ",,\n",
		"\"a\nb\",c\n", "\"a\rb\",c\n", "a\rb\n", "a,b\r\n",
		"a,b\r\r\n", "\"a\"\r\n", "\"a\"\r", "\"a\"\rb\n",
		"  a  ,  b  \n", "\" a \",\" b \"\n", "\"a\" \"b\",c\n",
		"\"a\"\"\n\"\",b\n", "x,\"y\nz\"\"\",w\nq,r\n",
		"\"abc", "abc", "a,b", "\"a\",", "a\n\n\nb\n", "\"\"\"\"\n",
		"\"a,b\";c|d\n", "\xc3\xa9,\"\xe2\x82\xac\"\n",
		"\xff,\"\xfe\"\n", "\"a\"  \t,b\n", "a \"q\" b,c\n",
	};
	static const char *const heads[] = { "h1,h2,h3\n", "h1;h2\n",
	    "h1\th2\n", "sep=|\nh1|h2\n", "h\n" };
	struct buf	 t = { 0 };
	size_t		 i, h, bad = 0;

	for (h = 0; h < sizeof(heads) / sizeof(heads[0]); h++)
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			buf_reset(&t);
			buf_adds(&t, heads[h]);
			buf_adds(&t, cases[i]);
			buf_adds(&t, cases[(i * 7 + h) %
			    (sizeof(cases) / sizeof(cases[0]))]);
			bad += !both_ways(t.p, t.len, 0);
		}
	tap(bad == 0, "plain lines: %zu hand-made files read as libcsv reads "
	    "them", h * i);
	buf_free(&t);
}

/* Random bytes of CSV's alphabet, short and long (across read chunks),
 * and a big file of mostly plain rows. */
static void
test_plain_random(void)
{
	static const char *const atoms[] = { "a", "bc", " ", "\t", ",",
	    ";", "\"", "\"\"", "\r", "\n", "\r\n", "\xc3\xa9", "|",
	    "\",\"", "\"\n" };
	struct buf	 t = { 0 };
	size_t		 i, k, n, bad = 0, big = 0;

	for (i = 0; i < 3000; i++) {
		buf_reset(&t);
		buf_adds(&t, rnd(4) ? "id,name,x\n" : "");
		n = rnd(60);
		for (k = 0; k < n; k++)
			buf_adds(&t, atoms[rnd(sizeof(atoms) / sizeof(atoms[0]))]);
		bad += !both_ways(t.p, t.len, rnd(8) == 0 ? 1 + rnd(3) : 0);
	}
	tap(bad == 0, "plain lines: 3000 random short files read as libcsv "
	    "reads them");
	/* Longer lines: the special bytes at every place of a 16-byte
	 * block the line scanner reads at once. */
	for (i = bad = 0; i < 2000; i++) {
		static const char *const words[] = { "abcdefghijklmno",
		    "0123456", "\xc3\xa9t\xc3\xa9", ",", ",", ",", "\"",
		    " ", "\t", "\"x, y\"", "\r\n", "\n", "\r", "\"\"",
		    "\xff", "\xe2\x82" };

		buf_reset(&t);
		buf_adds(&t, "id,name,x\n");
		n = 20 + rnd(200);
		for (k = 0; k < n; k++)
			buf_adds(&t, rnd(3) ? words[rnd(6)] :
			    words[rnd(sizeof(words) / sizeof(words[0]))]);
		bad += !both_ways(t.p, t.len, 0);
	}
	tap(bad == 0, "plain lines: 2000 random files of long lines read as "
	    "libcsv reads them");
	/* Mostly plain rows with some of every kind, 5 MB. */
	buf_reset(&t);
	buf_adds(&t, "id,name,city,note\n");
	for (i = 0; t.len < 5 * 1024 * 1024; i++) {
		buf_printf(&t, "E%zu,%s,%s,%s\n", i, rnd(2) ? "Ann" : " Bo ",
		    rnd(3) == 0 ? "Paris" : rnd(3) ? "\"London, UK\"" :
		    "\"Quote \"\"Q\"\"\"", rnd(50) ? "x" : rnd(2) ?
		    "\"multi\nline\"" : "a\"b");
		if (rnd(200) == 0)
			buf_adds(&t, rnd(2) ? "\r\n" : "  \n");
	}
	known_rows = 0;
	big = both_ways(t.p, t.len, 0);
	tap(big && known_rows > 0, "plain lines: a 5 MB file of %zu rows, "
	    "some quoted across lines, read as libcsv reads it (and with %zu "
	    "of them known lines)", i, known_rows);
	buf_free(&t);
}

/* ----------------------------------------------------------- sha256 */

/* Hash n bytes of c fed in pieces of the sizes in step (0: all at once). */
static void
sha_check(const char *desc, const char *s, size_t n, const size_t *step,
    const char *want)
{
	struct sha256	 h;
	unsigned char	 md[32];
	char		 hex[65];
	size_t		 off = 0, k, i = 0;

	sha256_init(&h);
	while (off < n) {
		k = step == NULL ? n - off : step[i++ % 7];
		if (k > n - off)
			k = n - off;
		sha256_update(&h, s + off, k);
		off += k;
	}
	sha256_final(&h, md);
	sha256_hex(md, hex);
	if (!tap(strcmp(hex, want) == 0, "sha256 %s", desc))
		diag("got %s want %s", hex, want);
}

static void
test_sha256(void)
{
	static const size_t	 odd[] = { 1, 63, 64, 65, 7, 1000, 129 };
	static const size_t	 zero[] = { 0, 0, 0, 0, 0, 0, 1 };
	const char		*m448 = "abcdbcdecdefdefgefghfghighijhijki"
				    "jkljklmklmnlmnomnopnopq";
	char			*a;

	sha_check("empty string", "", 0, NULL, "e3b0c44298fc1c149afbf4c8996fb"
	    "92427ae41e4649b934ca495991b7852b855");
	sha_check("abc", "abc", 3, NULL, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	sha_check("448-bit message", m448, strlen(m448), odd,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	a = xmalloc(1000000);
	memset(a, 'a', 1000000);
	sha_check("1,000,000 x 'a'", a, 1000000, NULL, "cdc76e5c9914fb9281a1c7"
	    "e284d73e67f1809a48a497200e046d39ccc7112cd0");
	sha_check("1,000,000 x 'a' in odd-sized chunks", a, 1000000, odd,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	sha_check("1,000,000 x 'a' with empty updates", a, 1000000, zero,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

int
main(void)
{
	log_init(0);
	if (mkdtemp(tmpdir) == NULL)
		fatal("mkdtemp");
	snprintf(fixture, sizeof(fixture), "%s/fixture.csv", tmpdir);
	test_dialects();
	test_dialect_extras();
	test_detection();
	test_bad_files();
	test_encodings();
	test_utf8_split();
	test_fallback_split();
	test_utf8_span();
	test_open_errors();
	test_fields();
	test_wide();
	test_stop();
	test_big(ENC_PLAIN, "UTF-8");
	test_big(ENC_BOM8, "UTF-8 BOM");
	test_big(ENC_UTF16LE, "UTF-16LE");
	test_big(ENC_UTF16BE, "UTF-16BE");
	test_utf16_split();
	test_plain_cases();
	test_plain_random();
	test_sha256();
	if (rmdir(tmpdir) == -1)
		log_warn("rmdir %s", tmpdir);
	printf("1..%d\n", ntest);
	if (nfail > 0)
		printf("# %d of %d tests failed\n", nfail, ntest);
	return nfail > 0;
}
