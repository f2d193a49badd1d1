/*
 * test_report_xlsx: report_xlsx() over a small run full of hostile values
 * and over a run of 200,000 changes. Each file is read back with a real
 * reader (openpyxl, through tests/xlsx_dump.py) and compared cell by cell
 * with what the database holds.
 *
 * Each run's report is also written with its rows by libxlsxwriter
 * (ROSTERSYNC_XLSX_ROWS=library): the sheets' parts must be the same bytes,
 * for those runs, for one of texts at the XML's edges and for one of 600
 * rows of random texts.
 *
 * Usage: test_report_xlsx [REPO]	(REPO defaults to ".")
 * The environment: PYTHON (default /usr/bin/python3, which must have
 * openpyxl), TMP or TMPDIR (default /tmp) for the scratch directory.
 * Prints TAP ("ok N - ...", "not ok N - ...") and exits 1 on any failure.
 * Built with -DXLSX_ROW_LIMIT=N (for this file and src/report_xlsx.c
 * alike, N > 50), it checks that the big sheet is cut at N rows instead.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zip.h>

#include "rostersync.h"

#define CELL_MAX	32767
#define BIG_ROWS	200000
#define MAX_RECS	4096	/* lines of one small dump */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN	1
#else
#define UNDER_ASAN	0
#endif

static int	 ntest, nfail;
static char	 tmpdir[PATH_MAX];
static char	 script[PATH_MAX];
static char	*python = "/usr/bin/python3";	/* $PYTHON overrides */

static int	 ok(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int
ok(int cond, const char *fmt, ...)
{
	va_list	 ap;

	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - ", cond ? "" : "not ", ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return cond;
}

static int
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static const char *
tmp(const char *name)
{
	static char	 path[4][PATH_MAX + 64];
	static int	 i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", tmpdir, name);
	return path[i];
}

/* ------------------------------------------------------- the test data */

static char	*long_ascii, *long_acute, *long_emoji;	/* stored */
static char	*cut_ascii, *cut_acute, *cut_emoji;	/* as shown */

static char *
repeat(const char *unit, size_t n)
{
	size_t	 len = strlen(unit), i;
	char	*s = xmalloc(len * n + 1);

	for (i = 0; i < n; i++)
		memcpy(s + i * len, unit, len);
	s[len * n] = '\0';
	return s;
}

static void
make_long(void)
{
	long_ascii = repeat("a", 40000);
	cut_ascii = repeat("a", CELL_MAX);
	long_acute = repeat("\xc3\xa9", 40000);		/* é */
	cut_acute = repeat("\xc3\xa9", CELL_MAX);
	long_emoji = repeat("\xf0\x9f\x98\x80", 20000);	/* U+1F600 */
	cut_emoji = repeat("\xf0\x9f\x98\x80", CELL_MAX / 2);
}

/* A stored value as a spreadsheet should show it. */
static const char *
shown(const char *s)
{
	if (strcmp(s, long_ascii) == 0)
		return cut_ascii;
	if (strcmp(s, long_acute) == 0)
		return cut_acute;
	if (strcmp(s, long_emoji) == 0)
		return cut_emoji;
	if (strcmp(s, "bad\xff byte") == 0)
		return "bad\xef\xbf\xbd byte";
	return s;
}

static const char *const injections[] = {
	"=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@x",
};

static const struct change chg_create1[] = {
	{ "email", "", "zoe.muller@example.com" },
	{ "department", "", "R&D, \"Labs\"" },
};
static const struct change chg_create2[] = {
	{ "title", "", "\xe3\x82\xa8\xe3\x83\xb3\xe3\x82\xb8\xe3\x83\x8b\xe3"
	    "\x82\xa2, \xe4\xb8\xbb\xe4\xbb\xbb" },
};
static const struct change chg_update[] = {
	{ "title", "=HYPERLINK(\"http://x\",\"y\")",
	    "Line 1\nLine 2, \"quoted\"" },
	{ "department", "Sales", "Ventes & Marketing <EU>" },
};
static const struct change chg_manager[] = {
	{ "manager_id", "E001", "E002" },
};
static struct change chg_hostile[] = {
	{ "notes", NULL, NULL },	/* long values, set in add_items() */
	{ "emoji", "", NULL },
	{ "control", "tab\there\x01" "bell\x07 cr\r\nlf", "_x0041_ and _x005F_" },
	{ "bad", "bad\xff byte", "  padded  " },
};

static int
add_items(struct store *st, long long run)
{
	struct itemrow	 it[] = {
		{ 1, IT_CREATE, IST_APPLIED, "E001", "zoe.muller@example.com",
		    "Zo\xc3\xab M\xc3\xbcller", "R&D", NULL, chg_create1, 2, NULL },
		{ 2, IT_CREATE, IST_APPLIED, "E002", "yamada@example.jp",
		    "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e", NULL,
		    NULL, chg_create2, 1, NULL },
		{ 3, IT_UPDATE, IST_APPLIED, "+1", "@x", "-2", NULL, NULL,
		    chg_update, 2, NULL },
		{ 4, IT_MANAGER, IST_APPLIED, "E004", "a,b@example.com",
		    "O'Brien, \"Pat\"", NULL, NULL, chg_manager, 1, NULL },
		{ 5, IT_DELETE, IST_FAILED, "E005", "gone@example.com",
		    "Ada Lovelace", NULL,
		    "hook exited 3: \"permission denied\"\r\nsee the log",
		    NULL, 0, NULL },
		{ 6, IT_UPDATE, IST_PREVIEW, "E006", "h@example.com", "Hostile",
		    NULL, "=1+1", chg_hostile, 4, NULL },
		{ 7, IT_TEAM_CREATE, IST_APPLIED, NULL, NULL, NULL,
		    "Engineering", NULL, NULL, 0, NULL },
	};
	size_t		 i;

	chg_hostile[0].old = long_ascii;
	chg_hostile[0].new = long_acute;
	chg_hostile[1].new = long_emoji;
	for (i = 0; i < sizeof(it) / sizeof(it[0]); i++)
		if (store_item_add(st, run, &it[i]) == -1)
			return -1;
	return 0;
}

static int
add_issues(struct store *st, long long run)
{
	const struct issuerow is[] = {
		{ 1, ISS_USER_SKIPPED, 7, "E007", "email",
		    "invalid email \"not-an-email\"", "=fix the address",
		    "not-an-email", "Ann Lee" },
		{ 2, ISS_MANAGER_NOT_FOUND, 12, "E004", "manager_id",
		    "manager E999 not found", "@x add E999 first",
		    "=cmd@x.org", "+Bob" },
		{ 3, ISS_SEAT_LIMIT, 0, "E010", NULL,
		    "seat limit 100 reached", "-2 raise seat_limit", NULL,
		    NULL },
		{ 4, ISS_MANAGER_CYCLE, 3, "Zo\xc3\xab", "manager_id",
		    "loop: E1 -> E2 -> E1", "+1", "zoe@x.org",
		    "Zo\xc3\xab M\xc3\xbcller" },
	};
	size_t		 i;

	for (i = 0; i < sizeof(is) / sizeof(is[0]); i++)
		if (store_issue_add(st, run, &is[i]) == -1)
			return -1;
	return 0;
}

static void
fill_run(struct run *r, const char *file)
{
	int	 i;

	memset(r, 0, sizeof(*r));
	r->sync = "hr-main";
	r->trigger = "manual";
	r->status = RS_SUCCESS;
	r->source = "dir:/srv/drop/=SUM(1)";
	r->file_name = (char *)file;
	snprintf(r->sha256, sizeof(r->sha256), "%s", "e3b0c44298fc1c149afbf4c8"
	    "996fb92427ae41e4649b934ca495991b7852b855");
	r->size = 12345;
	r->rows = 6;
	r->started = 1705357805;	/* 2024-01-15 22:30:05 UTC */
	r->finished = r->started + 7;
	r->duration_ms = 7250;
	for (i = 0; i < IT__COUNT; i++)
		r->count[i] = i < 4 ? 2 - i / 2 : 0;
	for (i = 0; i < ISS__COUNT; i++)
		r->issues[i] = 1;
	r->skipped = 1;
	r->impacted = 6;
	r->active_before = 1000;
	r->max_deletes = 500;
	r->max_delete_percent = 20;
	r->allow_deletes = -1;
	r->approver = "=HYPERLINK(\"http://x\",\"y\")";
	r->reason = "+1 approved";
}

/* --------------------------------------------------- reading the dumps */

/* One line of a dump, split at TABs and unescaped. */
struct rec {
	char	*f[8];
	int	 nf;
};

struct dump {
	struct buf	 text;
	struct rec	*r;
	size_t		 n;
};

static void
unescape(char *s)
{
	char		*o = s;
	unsigned	 c;

	for (; *s != '\0'; s++) {
		if (*s != '\\' || s[1] == '\0') {
			*o++ = *s;
			continue;
		}
		switch (*++s) {
		case 't':
			*o++ = '\t';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 'x':
			if (sscanf(s + 1, "%2x", &c) == 1) {
				*o++ = (char)c;
				s += 2;
			}
			break;
		default:
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Run the helper with up to three arguments; its exit status or -1. */
static int
run_helper(struct buf *out, const char *a1, const char *a2, const char *a3)
{
	char	*argv[] = { python, script, (char *)a1, (char *)a2, (char *)a3,
		    NULL };
	char	 rd[65536];
	ssize_t	 n;
	pid_t	 pid;
	int	 p[2], status;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execv(python, argv);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], rd, sizeof(rd))) > 0)
		buf_add(out, rd, (size_t)n);
	close(p[0]);
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
dump_load(struct dump *d, const char *path)
{
	char	*line, *next, *f;
	int	 rc;

	memset(d, 0, sizeof(*d));
	rc = run_helper(&d->text, path, NULL, NULL);
	if (rc != 0 || d->text.p == NULL)
		return -1;
	d->r = xcalloc(MAX_RECS, sizeof(*d->r));
	for (line = d->text.p; *line != '\0' && d->n < MAX_RECS; line = next) {
		struct rec *r = &d->r[d->n++];

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		while ((f = strsep(&line, "\t")) != NULL && r->nf < 8) {
			unescape(f);
			r->f[r->nf++] = f;
		}
	}
	return 0;
}

static void
dump_free(struct dump *d)
{
	buf_free(&d->text);
	free(d->r);
}

static const char *
meta(const struct dump *d, const char *sheet, const char *key)
{
	size_t	 i;

	for (i = 0; i < d->n; i++)
		if (d->r[i].nf == 4 && streq(d->r[i].f[0], "META") &&
		    streq(d->r[i].f[1], sheet) && streq(d->r[i].f[2], key))
			return d->r[i].f[3];
	return NULL;
}

static const struct rec *
cell_at(const struct dump *d, const char *sheet, size_t row, size_t col)
{
	size_t	 i;

	for (i = 0; i < d->n; i++)
		if (d->r[i].nf == 6 && streq(d->r[i].f[0], "CELL") &&
		    streq(d->r[i].f[1], sheet) &&
		    strtoul(d->r[i].f[2], NULL, 10) == row &&
		    strtoul(d->r[i].f[3], NULL, 10) == col)
			return &d->r[i];
	return NULL;
}

/* ------------------------------------------- what the database expects */

struct cell {
	char	 type;		/* s n d, '-' empty */
	char	*v;
};

struct want {
	size_t		 ncol;
	struct cell	*c;		/* row-major, from row 1 */
	size_t		 n, cap;
};

static void
want_add(struct want *w, char type, const char *v)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->c = xrealloc(w->c, w->cap * sizeof(*w->c));
	}
	w->c[w->n].type = type;
	w->c[w->n++].v = xstrdup(v);
}

static void
want_str(struct want *w, const char *s)
{
	if (s == NULL || *s == '\0')
		want_add(w, '-', "");
	else
		want_add(w, 's', shown(s));
}

static void
want_num(struct want *w, long long n)
{
	char	 v[32];

	snprintf(v, sizeof(v), "%lld", n);
	want_add(w, 'n', v);
}

static void
want_header(struct want *w, const char *const *h, size_t n)
{
	size_t	 i;

	w->ncol = n;
	for (i = 0; i < n; i++)
		want_str(w, h[i]);
}

static void
want_free(struct want *w)
{
	size_t	 i;

	for (i = 0; i < w->n; i++)
		free(w->c[i].v);
	free(w->c);
}

static int
want_item(void *arg, const struct itemview *v)
{
	struct want	*w = arg;
	char		 status[32];

	want_num(w, v->seq);
	want_str(w, itemtype_label(v->type));
	want_str(w, v->key);
	want_str(w, v->email);
	want_str(w, v->type == IT_TEAM_CREATE || v->type == IT_TEAM_DELETE ?
	    v->team : v->name);
	want_str(w, v->field);
	want_str(w, v->field ? v->old : NULL);
	want_str(w, v->field ? v->new : NULL);
	snprintf(status, sizeof(status), "%s", itemstatus_slug(v->status));
	status[0] = (char)(status[0] - 'a' + 'A');
	want_str(w, status);
	want_str(w, v->error);
	return 0;
}

static int
want_issue(void *arg, const struct issueview *v)
{
	struct want	*w = arg;

	want_num(w, v->seq);
	want_str(w, issuetype_label(v->type));
	if (v->row > 0)
		want_num(w, v->row);
	else
		want_str(w, NULL);
	want_str(w, v->key);
	want_str(w, v->email);
	want_str(w, v->name);
	want_str(w, v->field);
	want_str(w, v->message);
	want_str(w, v->fix);
	return 0;
}

struct sumctx {
	struct want		*w;
	const struct run	*r;
};

static int
looks_numeric(const char *s)
{
	return *s != '\0' && strspn(s, "0123456789.-") == strlen(s) &&
	    !(s[0] == '0' && s[1] != '\0' && s[1] != '.');
}

static void
want_pair(void *arg, const char *label, const char *value)
{
	struct sumctx	*sc = arg;
	struct tm	 tm;
	char		 t[32];
	time_t		 when;

	want_str(sc->w, label);
	if (streq(label, "Started") || streq(label, "Finished")) {
		when = streq(label, "Started") ? sc->r->started :
		    sc->r->finished;
		localtime_r(&when, &tm);
		strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm);
		want_add(sc->w, 'd', t);
	} else if (looks_numeric(value))
		want_add(sc->w, 'n', value);
	else
		want_str(sc->w, value);
}

static const char *const summary_hdr[] = { "Field", "Value" };
static const char *const change_hdr[] = {
	"Item", "Type", "Employee ID", "Email", "Name", "Field", "Old value",
	"New value", "Status", "Error",
};
static const char *const issue_hdr[] = {
	"Issue", "Type", "Row", "Employee ID", "Email", "Name", "Field",
	"Message", "Suggested fix",
};

/* ------------------------------------------------------- the comparing */

static int
same_cell(const struct cell *w, const struct rec *g)
{
	if (g == NULL)
		return 0;
	if (w->type != g->f[4][0])
		return 0;
	if (w->type == 'n')
		return strtod(w->v, NULL) == strtod(g->f[5], NULL);
	return strcmp(w->v, g->f[5]) == 0;
}

static void
show_diff(const char *sheet, size_t row, size_t col, const struct cell *w,
    const struct rec *g)
{
	printf("# %s R%zuC%zu: want %c \"%.60s\" (%zu bytes), got %c "
	    "\"%.60s\" (%zu bytes)\n", sheet, row, col, w->type, w->v,
	    strlen(w->v), g ? g->f[4][0] : '?', g ? g->f[5] : "",
	    g ? strlen(g->f[5]) : 0);
}

/* Every cell of the sheet against the database's; the count of misses. */
static int
compare(const struct dump *d, const char *sheet, const struct want *w)
{
	size_t	 i, row, col, bad = 0;
	const struct rec *g;

	for (i = 0; i < w->n; i++) {
		row = i / w->ncol + 1;
		col = i % w->ncol + 1;
		g = cell_at(d, sheet, row, col);
		if (!same_cell(&w->c[i], g) && bad++ < 10)
			show_diff(sheet, row, col, &w->c[i], g);
	}
	return (int)bad;
}

static void
check_sheet(const struct dump *d, const char *sheet, const struct want *w)
{
	char	 ref[32], key[16];
	size_t	 nrow = w->n / w->ncol, c;
	const char *v;
	int	 widths = 1;

	ok(compare(d, sheet, w) == 0, "%s: %zu rows x %zu columns match the "
	    "database cell by cell", sheet, nrow, w->ncol);
	ok(streq(meta(d, sheet, "max_row"), (snprintf(ref, sizeof(ref), "%zu",
	    nrow), ref)) && strtoul(meta(d, sheet, "max_col"), NULL, 10) ==
	    w->ncol, "%s: no cells past the data (%s rows, %s columns)", sheet,
	    meta(d, sheet, "max_row"), meta(d, sheet, "max_col"));
	ok(streq(meta(d, sheet, "bold"), "1"), "%s: the header row is bold",
	    sheet);
	ok(streq(meta(d, sheet, "freeze"), "A2"), "%s: frozen at A2 (%s)",
	    sheet, meta(d, sheet, "freeze"));
	snprintf(ref, sizeof(ref), "A1:%c%zu", (char)('A' + w->ncol - 1),
	    nrow);
	ok(streq(meta(d, sheet, "autofilter"), ref), "%s: autofilter %s (%s)",
	    sheet, ref, meta(d, sheet, "autofilter"));
	for (c = 0; c < w->ncol; c++) {
		snprintf(key, sizeof(key), "width.%c", (char)('A' + c));
		v = meta(d, sheet, key);
		if (v == NULL || strtod(v, NULL) < 8 || strtod(v, NULL) > 60) {
			printf("# %s %s: %s\n", sheet, key, v ? v : "none");
			widths = 0;
		}
	}
	ok(widths, "%s: every column has a width of 8 to 60", sheet);
	ok(streq(meta(d, sheet, "formulas"), "0"), "%s: no formula cells",
	    sheet);
	ok(streq(meta(d, sheet, "orientation"), "landscape") &&
	    streq(meta(d, sheet, "fit_to_page"), "1") &&
	    streq(meta(d, sheet, "fit_width"), "1") &&
	    streq(meta(d, sheet, "fit_height"), "0"), "%s: prints landscape, "
	    "one page wide (orientation %s, fit %s, %s x %s)", sheet,
	    meta(d, sheet, "orientation"), meta(d, sheet, "fit_to_page"),
	    meta(d, sheet, "fit_width"), meta(d, sheet, "fit_height"));
	ok(streq(meta(d, sheet, "print_title_rows"), "$1:$1"), "%s: the header "
	    "row repeats on every printed page (%s)", sheet,
	    meta(d, sheet, "print_title_rows"));
}

/* Do the texts of column col (a letter) wrap, in rows 2 to last? */
static int
wraps(const struct dump *d, const char *sheet, char col, size_t last)
{
	const struct rec *g;
	char	 key[16];
	size_t	 row, n = 0;

	for (row = 2; row <= last; row++) {
		g = cell_at(d, sheet, row, (size_t)(col - 'A' + 1));
		if (g == NULL || g->f[4][0] != 's')
			continue;
		snprintf(key, sizeof(key), "wrap.%c%zu", col, row);
		if (!streq(meta(d, sheet, key), "1"))
			return 0;
		n++;
	}
	return n > 0;
}

/* Is there a string cell holding exactly s? */
static int
has_string(const struct dump *d, const char *s)
{
	size_t	 i;

	for (i = 0; i < d->n; i++)
		if (d->r[i].nf == 6 && streq(d->r[i].f[0], "CELL") &&
		    streq(d->r[i].f[5], s))
			return d->r[i].f[4][0] == 's';
	return 0;
}

/* ------------------------------------- the rows against the library's */

/* The inflated part name of the workbook at path into b; 0 or -1. The
 * compressed size in *csize. */
static int
part_text(const char *path, const char *name, struct buf *b,
    long long *csize)
{
	zip_t		*za;
	zip_file_t	*zf;
	zip_stat_t	 st;
	zip_int64_t	 n = 0;
	int		 err;

	buf_reset(b);
	if ((za = zip_open(path, ZIP_RDONLY, &err)) == NULL)
		return -1;
	if (zip_stat(za, name, 0, &st) == 0 &&
	    (zf = zip_fopen(za, name, 0)) != NULL) {
		*csize = (long long)st.comp_size;
		do {
			buf_grow(b, 1 << 20);
			if ((n = zip_fread(zf, b->p + b->len, 1 << 20)) > 0)
				b->len += (size_t)n;
		} while (n > 0);
		zip_fclose(zf);
	} else
		n = -1;
	zip_discard(za);
	return n == 0 ? 0 : -1;
}

/*
 * Run r's report written twice, its rows by rostersync and by the
 * library (ROSTERSYNC_XLSX_ROWS=library): the Changes and Issues parts
 * must be the same bytes, the workbooks both whole. Returns whether the
 * Changes part was deflated apart from the library's (rostersync's is
 * deflated at level 1).
 */
static int
same_as_library(struct store *st, const struct run *r, const char *what)
{
	static const char *const parts[] = { "xl/worksheets/sheet2.xml",
	    "xl/worksheets/sheet3.xml", "xl/workbook.xml",
	    "[Content_Types].xml" };
	const char	*own = tmp("own.xlsx"), *lib = tmp("lib.xlsx");
	struct buf	 a = { 0 }, b = { 0 };
	long long	 ca = 0, cb = 0, cown = 0, clib = 0;
	size_t		 i;
	int		 rc;

	rc = report_xlsx(st, r, own) == 0;
	setenv("ROSTERSYNC_XLSX_ROWS", "library", 1);
	rc = rc && report_xlsx(st, r, lib) == 0;
	unsetenv("ROSTERSYNC_XLSX_ROWS");
	if (!ok(rc, "%s: written with its rows by rostersync and by the "
	    "library", what))
		return 0;
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		rc = part_text(own, parts[i], &a, &ca) == 0 &&
		    part_text(lib, parts[i], &b, &cb) == 0;
		ok(rc && a.len == b.len && memcmp(a.p, b.p, a.len) == 0,
		    "%s: %s is the same, %zu bytes", what, parts[i], a.len);
		if (i == 0) {
			cown = ca;
			clib = cb;
		}
	}
	buf_free(&a);
	buf_free(&b);
	unlink(own);
	unlink(lib);
	return cown != clib;
}

/* --------------------------------------------------------- the tests */

static void
test_small(struct store *st)
{
	struct run	 r;
	struct dump	 d;
	struct want	 ws = { 0 }, wc = { 0 }, wi = { 0 };
	struct sumctx	 sc = { &ws, &r };
	struct stat	 sb;
	const struct rec *g;
	const char	*path = tmp("small.xlsx");
	size_t		 i, nsheet = 0;
	const char	*sheets[4] = { 0 };

	fill_run(&r, "export, \"Q1\" 2024.csv");
	if (!ok(store_run_insert(st, &r) == 0 && add_items(st, r.id) == 0 &&
	    add_issues(st, r.id) == 0, "a run with 7 items and 4 issues "
	    "stored"))
		return;
	ok(report_xlsx(st, &r, path) == 0, "report_xlsx writes %s", path);
	if (stat(path, &sb) == -1)
		sb.st_mode = 0;
	ok((sb.st_mode & 07777) == 0640, "the file has mode 0640 (%o)",
	    sb.st_mode & 07777);
	if (!ok(dump_load(&d, path) == 0, "openpyxl reads it"))
		return;
	for (i = 0; i < d.n; i++)
		if (streq(d.r[i].f[0], "SHEET") && nsheet < 4)
			sheets[nsheet++] = d.r[i].f[1];
	ok(nsheet == 3 && streq(sheets[0], "Summary") &&
	    streq(sheets[1], "Changes") && streq(sheets[2], "Issues"),
	    "sheets Summary, Changes, Issues in that order");

	want_header(&ws, summary_hdr, 2);
	report_summary(&r, want_pair, &sc);
	check_sheet(&d, "Summary", &ws);
	want_header(&wc, change_hdr, 10);
	store_item_each(st, r.id, want_item, &wc);
	check_sheet(&d, "Changes", &wc);
	want_header(&wi, issue_hdr, 9);
	store_issue_each(st, r.id, want_issue, &wi);
	check_sheet(&d, "Issues", &wi);
	ok(wc.n / wc.ncol == 13 && wi.n / wi.ncol == 5,
	    "the database gave 12 change rows and 4 issue rows");
	ok(wraps(&d, "Changes", 'G', 13) && wraps(&d, "Changes", 'H', 13) &&
	    wraps(&d, "Issues", 'H', 5) && wraps(&d, "Issues", 'I', 5) &&
	    wraps(&d, "Summary", 'B', ws.n / ws.ncol),
	    "long texts wrap: old and new values, messages, fixes, summary "
	    "values");
	ok(!wraps(&d, "Changes", 'C', 13) && !wraps(&d, "Issues", 'D', 5),
	    "ids do not wrap");

	for (i = 0; i < sizeof(injections) / sizeof(injections[0]); i++)
		ok(has_string(&d, injections[i]), "'%s' is a plain string "
		    "cell, exactly", injections[i]);
	g = cell_at(&d, "Summary", 12, 2);
	ok(g != NULL && g->f[4][0] == 'd' &&
	    streq(meta(&d, "Summary", "numfmt.B12"), "yyyy-mm-dd hh:mm:ss"),
	    "Started is a date-time formatted yyyy-mm-dd hh:mm:ss (%s)",
	    g ? g->f[5] : "none");
	g = cell_at(&d, "Summary", 4, 2);
	ok(g != NULL && g->f[4][0] == 'n', "Run is a number");
	g = cell_at(&d, "Summary", 9, 2);
	ok(g != NULL && g->f[4][0] == 's' && strlen(g->f[5]) == 64,
	    "SHA-256 is a string");
	ok(has_string(&d, cut_ascii) && has_string(&d, cut_acute) &&
	    has_string(&d, cut_emoji), "values past 32767 characters are cut "
	    "there (UTF-16 units: emoji count 2)");
	ok(has_string(&d, "tab\there\x01" "bell\x07 cr\r\nlf") &&
	    has_string(&d, "_x0041_ and _x005F_") &&
	    has_string(&d, "  padded  "), "control characters, CR, literal "
	    "_xHHHH_ and outer spaces come back as stored");
	same_as_library(st, &r, "the small run");

	dump_free(&d);
	want_free(&ws);
	want_free(&wc);
	want_free(&wi);
}

/*
 * Item and issue seq of run, each column one of six texts: t[0] the key,
 * t[1] the email, t[2] the name, t[3] the field (and the item's error
 * when it failed), t[4] the old value and the issue's message, t[5] the
 * new value and the issue's fix. 0 or -1.
 */
static int
add_texts(struct store *st, long long run, long long seq, int failed,
    const char *const t[6])
{
	struct change	 c = { t[3], t[4], t[5] };
	struct itemrow	 it;
	struct issuerow	 is;

	memset(&it, 0, sizeof(it));
	it.seq = seq;
	it.type = IT_UPDATE;
	it.status = failed ? IST_FAILED : IST_APPLIED;
	it.key = t[0];
	it.email = t[1];
	it.name = t[2];
	it.error = failed ? t[3] : NULL;
	it.chg = &c;
	it.nchg = 1;
	memset(&is, 0, sizeof(is));
	is.seq = seq;
	is.type = ISS_USER_SKIPPED;
	is.row = seq + 1;
	is.key = t[0];
	is.email = t[1];
	is.name = t[2];
	is.field = t[3];
	is.message = t[4];
	is.fix = t[5];
	return store_item_add(st, run, &it) == 0 &&
	    store_issue_add(st, run, &is) == 0 ? 0 : -1;
}

/* Texts at the edges of the XML a cell's text becomes. */
static const char *const edges[] = {
	"\tlead tab", "trail tab\t", "\nlead newline", "trail newline\n",
	"\rlead cr", "trail cr\r", "\x0bvt lead", "ff trail\x0c", " ", "\t",
	"&amp; <b>x</b> \"q\" 'a'", "]]>", "\x1f", "del\x7f", "_x000D_",
	"\xe2\x82\xac \xc3\xbcn\xc3\xaf", "=1+1 ", " @x",
};

/* A run whose changes and issues hold the edge texts, its report the
 * same bytes as the library's, and read back as stored. */
static void
test_edges(struct store *st)
{
	enum { NE = sizeof(edges) / sizeof(edges[0]) };
	struct run	 r;
	struct dump	 d;
	const char	*path = tmp("edges.xlsx");
	size_t		 i, back = 0;
	int		 rc;

	fill_run(&r, "edges.csv");
	rc = store_run_insert(st, &r) == 0;
	for (i = 0; rc && i < NE; i++) {
		const char *const t[6] = { edges[i], edges[i], edges[i],
		    edges[i], edges[i], edges[(i + 1) % NE] };

		rc = add_texts(st, r.id, (long long)i + 1, 1, t) == 0;
	}
	if (!ok(rc, "a run with %d edge texts stored", (int)NE))
		return;
	same_as_library(st, &r, "the edge texts");
	if (!ok(report_xlsx(st, &r, path) == 0 && dump_load(&d, path) == 0,
	    "openpyxl reads the edge texts' report"))
		return;
	for (i = 0; i < NE; i++)
		back += has_string(&d, edges[i]);
	ok(back == NE, "every edge text comes back as stored (%zu of %d)",
	    back, (int)NE);
	dump_free(&d);
	unlink(path);
}

/* Random texts from pieces that matter to the XML and to the cut: ASCII,
 * controls, white space, entities' characters, "_xHHHH_", UTF-8 of two
 * to four bytes, bytes that are not UTF-8; now and then one past the
 * cell's 32,767 characters. */
static char *
random_text(unsigned *seed)
{
	static const char *const piece[] = { "a", "Z", "0", " ", "\t", "\n",
	    "\r", "\x01", "\x0b", "\x1f", "\x7f", "&", "<", ">", "\"", "'",
	    "_x0041_", "_x00", "_", "\xc3\xa9", "\xe2\x82\xac",
	    "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xef\xbf\xbe", "=", "+",
	    "@", "]]>" };
	struct buf	 b = { 0 };
	size_t		 n, i;

	n = rand_r(seed) % 12 == 0 ? 33000 : (size_t)(rand_r(seed) % 24);
	for (i = 0; i < n; i++)
		buf_adds(&b, piece[rand_r(seed) % (sizeof(piece) /
		    sizeof(piece[0]))]);
	buf_addc(&b, '\0');
	return b.p;
}

/* Many runs' worth of random texts in one run: the same bytes as the
 * library's, whatever the text. */
static void
test_random(struct store *st)
{
	enum { NR = 600 };
	struct run	 r;
	char		*t[6];
	unsigned	 seed = 20261207;
	size_t		 i, k;
	int		 rc;

	fill_run(&r, "random.csv");
	rc = store_run_insert(st, &r) == 0;
	for (i = 0; rc && i < NR; i++) {
		for (k = 0; k < 6; k++)
			t[k] = random_text(&seed);
		rc = add_texts(st, r.id, (long long)i + 1, i % 3 == 0,
		    (const char *const *)t) == 0;
		for (k = 0; k < 6; k++)
			free(t[k]);
	}
	if (ok(rc, "a run with %d items and issues of random texts stored",
	    (int)NR))
		same_as_library(st, &r, "the random texts");
}

static void
test_empty(struct store *st)
{
	struct run	 r;
	struct dump	 d;
	const char	*path = tmp("empty.xlsx");

	fill_run(&r, "empty.csv");
	r.finished = 0;
	if (!ok(store_run_insert(st, &r) == 0, "a run without items stored"))
		return;
	ok(report_xlsx(st, &r, path) == 0, "report_xlsx writes it");
	if (!ok(dump_load(&d, path) == 0, "openpyxl reads it"))
		return;
	ok(streq(meta(&d, "Changes", "autofilter"), "A1:J1") &&
	    streq(meta(&d, "Issues", "autofilter"), "A1:I1") &&
	    streq(meta(&d, "Changes", "max_row"), "1"),
	    "Changes and Issues hold only their headers, with autofilters");
	ok(cell_at(&d, "Summary", 13, 2) != NULL &&
	    streq(cell_at(&d, "Summary", 13, 2)->f[5], "-"),
	    "an unset Finished is the text \"-\"");
	dump_free(&d);
	same_as_library(st, &r, "the empty run");
}

static void
test_failures(struct store *st)
{
	struct run	 r;
	struct stat	 sb;
	const char	*target = tmp("target"), *link = tmp("link.xlsx");
	FILE		*fp;

	fill_run(&r, "x.csv");
	r.id = 1;
	ok(report_xlsx(st, &r, tmp("no/such/dir/r.xlsx")) == -1,
	    "a path in a missing directory fails");
	if ((fp = fopen(target, "w")) != NULL) {
		fputs("keep", fp);
		fclose(fp);
	}
	if (symlink(target, link) == -1)
		perror("symlink");
	ok(report_xlsx(st, &r, link) == -1 && stat(target, &sb) == 0 &&
	    sb.st_size == 4, "a symbolic link is not followed");
	unlink(link);
	unlink(target);
}

/* No files other than ours are left in the directory. */
static void
test_no_leftovers(void)
{
	const char *const ours[] = { ".", "..", "t.db", "t.db-wal",
	    "t.db-shm", "small.xlsx", "empty.xlsx", "big.xlsx" };
	struct dirent	*de;
	DIR		*dp;
	size_t		 i;
	int		 stray = 0;

	if ((dp = opendir(tmpdir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
			if (strcmp(de->d_name, ours[i]) == 0)
				break;
		if (i == sizeof(ours) / sizeof(ours[0])) {
			printf("# stray file %s\n", de->d_name);
			stray = 1;
		}
	}
	closedir(dp);
	ok(!stray, "no temporary files are left beside the reports");
}

static int
add_big(struct store *st, long long run)
{
	struct itemrow	 it;
	struct change	 c;
	char		 key[32], email[48], name[32], old[48], new[48];
	long long	 i;

	memset(&it, 0, sizeof(it));
	it.type = IT_UPDATE;
	it.status = IST_APPLIED;
	it.key = key;
	it.email = email;
	it.name = name;
	it.chg = &c;
	it.nchg = 1;
	c.field = "title";
	c.old = old;
	c.new = new;
	if (store_begin(st) == -1)
		return -1;
	for (i = 1; i <= BIG_ROWS; i++) {
		it.seq = i;
		snprintf(key, sizeof(key), "E%06lld", i);
		snprintf(email, sizeof(email), "user%06lld@example.com", i);
		snprintf(name, sizeof(name), "User %lld", i);
		snprintf(old, sizeof(old), "Old title %lld", i);
		snprintf(new, sizeof(new), "New title %lld", i);
		if (store_item_add(st, run, &it) == -1) {
			store_rollback(st);
			return -1;
		}
	}
	return store_commit(st);
}

static long
peak_kb(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void
test_big(struct store *st)
{
	struct run	 r;
	struct buf	 out = { 0 };
	const char	*path = tmp("big.xlsx");
	char		 want[64], last[64];
	long		 before, after;
	int64_t		 t0, ms;
	long long	 rows, shown_rows;
	int		 rc;

	fill_run(&r, "big.csv");
	t0 = now_ms();
	rc = store_run_insert(st, &r) == 0 && add_big(st, r.id) == 0;
	if (!ok(rc, "a run with %d changes stored (%lld ms)", BIG_ROWS,
	    (long long)(now_ms() - t0)))
		return;
	before = peak_kb();
	t0 = now_ms();
	ok(report_xlsx(st, &r, path) == 0, "report_xlsx writes %d changes",
	    BIG_ROWS);
	ms = now_ms() - t0;
	after = peak_kb();
	printf("# note: %d changes written in %lld ms; peak RSS %ld KB "
	    "before, %ld KB after (+%ld KB)%s\n", BIG_ROWS, (long long)ms,
	    before, after, after - before, UNDER_ASAN ? " under ASan" : "");
	if (!UNDER_ASAN)
		ok(after - before < 32 * 1024, "memory stays flat (+%ld KB)",
		    after - before);

	t0 = now_ms();
	rc = run_helper(&out, "--count", path, "Changes") == 0 &&
	    out.p != NULL;
	if (!ok(rc, "openpyxl reads it (%lld ms)", (long long)(now_ms() - t0)))
		return;
#ifdef XLSX_ROW_LIMIT
	rows = XLSX_ROW_LIMIT;
	shown_rows = XLSX_ROW_LIMIT - 2;
	snprintf(last, sizeof(last), "LAST\tChanges\t%lld more rows not shown",
	    (long long)BIG_ROWS - shown_rows);
	ok(strstr(out.p, last) != NULL, "the last row says %lld rows are not "
	    "shown", (long long)BIG_ROWS - shown_rows);
#else
	rows = BIG_ROWS + 1;
	shown_rows = BIG_ROWS;
	snprintf(last, sizeof(last), "LAST\tChanges\t%d\tUser updated\t"
	    "E%06d\t", BIG_ROWS, BIG_ROWS);
	ok(strstr(out.p, last) != NULL, "the last row is item %d", BIG_ROWS);
#endif
	snprintf(want, sizeof(want), "COUNT\tChanges\t%lld\n", rows);
	ok(strstr(out.p, want) != NULL, "Changes has %lld rows: the header "
	    "and %lld changes", rows, shown_rows);
	if (nfail)
		printf("# %s", out.p);
	buf_free(&out);
	ok(same_as_library(st, &r, "the big run"), "the big run: its Changes "
	    "were deflated by rostersync, not by the library");
}

static void
cleanup(void)
{
	const char *const names[] = { "t.db", "t.db-wal", "t.db-shm",
	    "small.xlsx", "empty.xlsx", "big.xlsx" };
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tmp(names[i]));
	if (rmdir(tmpdir) == -1)
		printf("# left %s\n", tmpdir);
}

int
main(int argc, char *argv[])
{
	struct store	*st;
	char		 err[512];
	const char	*t;

	log_init(0);
	/* Central European time: local differs from UTC. */
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	snprintf(script, sizeof(script), "%s/tests/xlsx_dump.py",
	    argc > 1 ? argv[1] : ".");
	if ((t = getenv("PYTHON")) != NULL && *t != '\0')
		python = (char *)t;
	if ((t = getenv("TMP")) == NULL || *t == '\0')
		t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_report_xlsx.XXXXXX",
	    t && *t ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror(tmpdir);
		return 1;
	}
	make_long();
	if ((st = store_open(tmp("t.db"), 0, err, sizeof(err))) == NULL) {
		printf("not ok 1 - store_open\n# %s\n", err);
		return 1;
	}
	test_small(st);
	test_empty(st);
	test_edges(st);
	test_failures(st);
	test_big(st);
	test_random(st);	/* after test_big, which measures its memory */
	test_no_leftovers();
	store_close(st);
	if (nfail == 0)
		cleanup();
	else
		printf("# kept %s\n", tmpdir);
	printf("1..%d\n", ntest);
	free(long_ascii);
	free(long_acute);
	free(long_emoji);
	free(cut_ascii);
	free(cut_acute);
	free(cut_emoji);
	return nfail ? 1 : 0;
}
