/*
 * The XLSX report: sheets Summary, Changes and Issues, made with
 * libxlsxwriter in constant-memory mode, so rows go out in order and a
 * run of any size is written with flat memory.
 *
 * Every data string is written as a string cell, never as a formula, so
 * "=HYPERLINK(...)", "+1", "-2" or "@x" stay text. Empty values get no
 * cell at all.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xlsxwriter.h>
#include <zip.h>

#include "rostersync.h"

#define XLSX_CELL_MAX	32767	/* characters Excel holds in one cell */
#ifndef XLSX_ROW_LIMIT
#define XLSX_ROW_LIMIT	LXW_ROW_MAX /* rows in a sheet; tests lower it */
#endif

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* One column of a sheet: its header, its width in characters, and
 * whether its long texts wrap (on screen and on paper). */
struct col {
	const char	*title;
	double		 width;
	int		 wrap;
};

static const struct col summary_cols[] = {
	{ "Field", 32, 0 }, { "Value", 56, 1 },
};

static const struct col change_cols[] = {
	{ "Item", 10, 0 }, { "Type", 24, 0 }, { "Employee ID", 14, 0 },
	{ "Email", 32, 0 }, { "Name", 24, 0 }, { "Field", 18, 0 },
	{ "Old value", 30, 1 }, { "New value", 30, 1 }, { "Status", 12, 0 },
	{ "Error", 40, 1 },
};

static const struct col issue_cols[] = {
	{ "Issue", 10, 0 }, { "Type", 28, 0 }, { "Row", 10, 0 },
	{ "Employee ID", 14, 0 }, { "Email", 32, 0 }, { "Name", 24, 0 },
	{ "Field", 18, 0 }, { "Message", 40, 1 }, { "Suggested fix", 40, 1 },
};

/* The sheet being written. */
struct sheet {
	lxw_worksheet	*ws;
	const char	*name;
	const struct col *cols;
	lxw_col_t	 ncols;
	lxw_row_t	 row;		/* last row written; 0 is the header */
	long long	 over;		/* data rows past the sheet's last row */
};

/* One report being written. */
enum { SH_SUMMARY, SH_CHANGES, SH_ISSUES, SH__COUNT };
struct xlsx {
	const struct run *r;
	lxw_workbook	*wb;
	lxw_format	*bold;		/* header row */
	lxw_format	*date;		/* Started, Finished */
	lxw_format	*wrap;		/* long texts */
	struct sheet	 sheet[SH__COUNT];
	struct sheet	*sh;		/* the one being written */
	char		*dir;		/* for the library's temporary files */
	struct buf	 b;		/* scratch for one cell's text */
	int		 failed;
	char		 why[MAX_ERRMSG]; /* the first failure */
};

static void	 fail(struct xlsx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Remember the first failure; writing stops there. */
static void
fail(struct xlsx *x, const char *fmt, ...)
{
	va_list	 ap;

	if (x->failed)
		return;
	x->failed = 1;
	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
}

static void
check(struct xlsx *x, lxw_error err)
{
	if (err != LXW_NO_ERROR)
		fail(x, "sheet %s row %u: %s", x->sh->name, x->sh->row + 1,
		    lxw_strerror(err));
}

/* Length of the UTF-8 sequence at s with its code point, or 0. */
static size_t
utf8_next(const unsigned char *s, uint32_t *cp)
{
	size_t	 n;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (!utf8_valid((const char *)s, n))
		return 0;
	if (n == 2)
		*cp = (s[0] & 0x1fU) << 6 | (s[1] & 0x3fU);
	else if (n == 3)
		*cp = (s[0] & 0x0fU) << 12 | (s[1] & 0x3fU) << 6 |
		    (s[2] & 0x3fU);
	else
		*cp = (s[0] & 0x07U) << 18 | (s[1] & 0x3fU) << 12 |
		    (s[2] & 0x3fU) << 6 | (s[3] & 0x3fU);
	return n;
}

/* Would Excel read s as an escaped character "_xHHHH_"? */
static int
is_xescape(const char *s)
{
	int	 i;

	if (s[0] != '_' || s[1] != 'x')
		return 0;
	for (i = 2; i < 6; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return s[6] == '_';
}

/*
 * Put s into x->b as a cell's text. Bytes that are not UTF-8 and the
 * non-characters U+FFFE and U+FFFF (not allowed in XML) become U+FFFD;
 * a literal "_xHHHH_" gets its "_" escaped so Excel shows it as it is
 * (the library escapes control characters the same way). The text is cut
 * at XLSX_CELL_MAX characters as Excel counts them (UTF-16 units), and
 * also as the library counts its input (code points, escapes included).
 */
static const char *
cell_text(struct xlsx *x, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n, shown = 0, given = 0, esc;
	uint32_t		 cp;

	buf_reset(&x->b);
	while (*p != '\0') {
		if ((n = utf8_next(p, &cp)) == 0 || cp == 0xfffe ||
		    cp == 0xffff) {
			cp = 0xfffd;
			n = n ? n : 1;
		}
		esc = is_xescape((const char *)p) ? 6 : 0;
		shown += cp >= 0x10000 ? 2 : 1;
		given += 1 + esc;
		if (shown > XLSX_CELL_MAX || given > XLSX_CELL_MAX)
			break;
		if (esc)
			buf_adds(&x->b, "_x005F");
		if (cp == 0xfffd)
			buf_adds(&x->b, "\xef\xbf\xbd");
		else
			buf_add(&x->b, p, n);
		p += n;
	}
	return x->b.len > 0 ? x->b.p : "";
}

/* A data string; NULL or "" writes nothing. */
static void
put_str(struct xlsx *x, lxw_col_t col, const char *s)
{
	if (x->failed || s == NULL || *s == '\0')
		return;
	check(x, worksheet_write_string(x->sh->ws, x->sh->row, col,
	    cell_text(x, s), col < x->sh->ncols && x->sh->cols[col].wrap ?
	    x->wrap : NULL));
}

static void
put_num(struct xlsx *x, lxw_col_t col, double d)
{
	if (x->failed)
		return;
	check(x, worksheet_write_number(x->sh->ws, x->sh->row, col, d, NULL));
}

/* A time as a local date-time cell; 0 (no time) writes text instead. */
static void
put_time(struct xlsx *x, lxw_col_t col, time_t t, const char *text)
{
	struct tm	 tm;
	lxw_datetime	 dt;

	if (t == 0 || localtime_r(&t, &tm) == NULL) {
		put_str(x, col, text);
		return;
	}
	if (x->failed)
		return;
	dt.year = tm.tm_year + 1900;
	dt.month = tm.tm_mon + 1;
	dt.day = tm.tm_mday;
	dt.hour = tm.tm_hour;
	dt.min = tm.tm_min;
	dt.sec = tm.tm_sec;
	check(x, worksheet_write_datetime(x->sh->ws, x->sh->row, col, &dt,
	    x->date));
}

/* A plain decimal such as "42" or "0.250": no exponent, no leading 0. */
static int
is_number(const char *s)
{
	size_t	 digits = 0;

	if (*s == '-')
		s++;
	if (s[0] == '0' && isdigit((unsigned char)s[1]))
		return 0;
	for (; isdigit((unsigned char)*s); s++)
		digits++;
	if (digits == 0)
		return 0;
	if (*s == '.') {
		if (!isdigit((unsigned char)*++s))
			return 0;
		for (; isdigit((unsigned char)*s); s++)
			digits++;
	}
	return *s == '\0' && digits <= 15;	/* exact in a double */
}

/*
 * How a sheet prints: landscape, one page wide (as many long as it
 * takes), the header row on every page. A 30-item report printed as ten
 * pages of one to three columns each before.
 */
static void
sheet_print(struct xlsx *x)
{
	worksheet_set_landscape(x->sh->ws);
	worksheet_fit_to_pages(x->sh->ws, 1, 0);
	check(x, worksheet_repeat_rows(x->sh->ws, 0, 0));
}

/* Start sheet k: widths, the bold header row, frozen below it. */
static void
sheet_begin(struct xlsx *x, int k, const char *name, const struct col *cols,
    size_t ncols)
{
	lxw_col_t	 c;

	x->sh = &x->sheet[k];
	memset(x->sh, 0, sizeof(*x->sh));
	x->sh->name = name;
	x->sh->cols = cols;
	x->sh->ncols = (lxw_col_t)ncols;
	if (x->failed)
		return;
	if ((x->sh->ws = workbook_add_worksheet(x->wb, name)) == NULL) {
		fail(x, "cannot add the sheet %s (no temporary file?)", name);
		return;
	}
	for (c = 0; c < x->sh->ncols; c++) {
		check(x, worksheet_set_column(x->sh->ws, c, c, cols[c].width,
		    cols[c].wrap ? x->wrap : NULL));
		if (!x->failed)
			check(x, worksheet_write_string(x->sh->ws, 0, c,
			    cols[c].title, x->bold));
	}
	worksheet_freeze_panes(x->sh->ws, 1, 0);
	if (!x->failed)
		sheet_print(x);
}

/* Move to the next data row; 0 when the sheet is full (it is counted). */
static int
sheet_next(struct xlsx *x)
{
	if (x->sh->row + 1 >= XLSX_ROW_LIMIT - 1) {
		x->sh->over++;
		return 0;
	}
	x->sh->row++;
	return 1;
}

/* End a sheet: a note in its last row if it was full, the autofilter. */
static void
sheet_end(struct xlsx *x)
{
	char	 note[160];

	if (x->failed)
		return;
	if (x->sh->over > 0) {
		snprintf(note, sizeof(note), "%lld more rows not shown: a "
		    "sheet holds %u rows. The CSV report has every row.",
		    x->sh->over, (unsigned)XLSX_ROW_LIMIT);
		log_warnx("XLSX report: sheet %s: %s", x->sh->name, note);
		x->sh->row++;
		put_str(x, 0, note);
	}
	if (!x->failed)
		check(x, worksheet_autofilter(x->sh->ws, 0, 0, x->sh->row,
		    x->sh->ncols - 1));
}

static void
summary_pair(void *arg, const char *label, const char *value)
{
	struct xlsx	*x = arg;

	if (!sheet_next(x))
		return;
	put_str(x, 0, label);
	if (strcmp(label, "Started") == 0)
		put_time(x, 1, x->r->started, value);
	else if (strcmp(label, "Finished") == 0)
		put_time(x, 1, x->r->finished, value);
	else if (is_number(value))
		put_num(x, 1, strtod(value, NULL));
	else
		put_str(x, 1, value);
}

static int
change_row(void *arg, const struct itemview *v)
{
	struct xlsx	*x = arg;
	char		 status[32];

	if (x->failed)
		return 1;
	if (!sheet_next(x))
		return 0;
	snprintf(status, sizeof(status), "%s", itemstatus_slug(v->status));
	status[0] = (char)toupper((unsigned char)status[0]);
	put_num(x, 0, (double)v->seq);
	put_str(x, 1, itemtype_label(v->type));
	put_str(x, 2, v->key);
	put_str(x, 3, v->email);
	put_str(x, 4, v->type == IT_TEAM_CREATE || v->type == IT_TEAM_DELETE ?
	    v->team : v->name);
	if (v->field != NULL) {
		put_str(x, 5, v->field);
		put_str(x, 6, v->old);
		put_str(x, 7, v->new);
	}
	put_str(x, 8, status);
	put_str(x, 9, v->error);
	return x->failed;
}

static int
issue_row(void *arg, const struct issueview *v)
{
	struct xlsx	*x = arg;

	if (x->failed)
		return 1;
	if (!sheet_next(x))
		return 0;
	put_num(x, 0, (double)v->seq);
	put_str(x, 1, issuetype_label(v->type));
	if (v->row > 0)
		put_num(x, 2, (double)v->row);
	put_str(x, 3, v->key);
	put_str(x, 4, v->email);
	put_str(x, 5, v->name);
	put_str(x, 6, v->field);
	put_str(x, 7, v->message);
	put_str(x, 8, v->fix);
	return x->failed;
}

/* The sheets in their order (the summary first), headers only. */
static void
sheets_begin(struct xlsx *x)
{
	sheet_begin(x, SH_SUMMARY, "Summary", summary_cols,
	    nitems(summary_cols));
	sheet_begin(x, SH_CHANGES, "Changes", change_cols, nitems(change_cols));
	sheet_begin(x, SH_ISSUES, "Issues", issue_cols, nitems(issue_cols));
}

/* The rows of the changes and the issues. */
static void
write_rows(struct xlsx *x, const struct reportsrc *src)
{
	x->sh = &x->sheet[SH_CHANGES];
	if (!x->failed && src->items(src->arg, change_row, x) == -1)
		fail(x, "reading the changes: %s", src->why(src->arg));
	sheet_end(x);
	x->sh = &x->sheet[SH_ISSUES];
	if (!x->failed && src->issues(src->arg, issue_row, x) == -1)
		fail(x, "reading the issues: %s", src->why(src->arg));
	sheet_end(x);
}

static void
write_summary(struct xlsx *x, const struct run *r)
{
	x->r = r;
	x->sh = &x->sheet[SH_SUMMARY];
	if (!x->failed)
		report_summary(r, summary_pair, x);
	sheet_end(x);
}

/* Create path mode 0640 first: the library's fopen() keeps that mode. */
static int
create_0640(const char *path)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	if (fd == -1)
		return -1;
	if (fchmod(fd, 0640) == -1) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* The library does not fsync what it wrote; the rename needs it on disk. */
static int
sync_file(const char *path)
{
	int	 fd, rc;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

/* The workbook at path, its temporary files beside it: 0 or -1. */
static int
xlsx_open(struct xlsx *x, const char *path)
{
	lxw_workbook_options	 opt;
	int			 rc = -1;

	memset(x, 0, sizeof(*x));
	x->dir = dir_of(path);
	memset(&opt, 0, sizeof(opt));
	opt.constant_memory = LXW_TRUE;
	opt.tmpdir = x->dir;
	if (create_0640(path) == -1)
		log_warn("XLSX report: %s", path);
	else if ((x->wb = workbook_new_opt(path, &opt)) == NULL ||
	    (x->bold = workbook_add_format(x->wb)) == NULL ||
	    (x->date = workbook_add_format(x->wb)) == NULL ||
	    (x->wrap = workbook_add_format(x->wb)) == NULL)
		log_warnx("XLSX report: %s: cannot start the workbook", path);
	else {
		format_set_bold(x->bold);
		format_set_num_format(x->date, "yyyy-mm-dd hh:mm:ss");
		format_set_text_wrap(x->wrap);
		format_set_align(x->wrap, LXW_ALIGN_VERTICAL_TOP);
		/* Their numbers in styles.xml now, as first use would give
		 * them: the same in a workbook whose summary is made apart
		 * (report_xlsx_finish()). */
		lxw_format_get_xf_index(x->bold);
		lxw_format_get_xf_index(x->date);
		lxw_format_get_xf_index(x->wrap);
		sheets_begin(x);
		rc = 0;
	}
	return rc;
}

/* Close the workbook (the library zips it now) and sync the file; 0,
 * or -1 with a warning and path removed. */
static int
xlsx_close(struct xlsx *x, const char *path)
{
	lxw_error	 err;
	int		 rc = -1;

	if (x->failed)
		log_warnx("XLSX report: %s: %s", path, x->why);
	else if (x->wb != NULL) {
		err = workbook_close(x->wb);
		x->wb = NULL;
		if (err != LXW_NO_ERROR)
			log_warnx("XLSX report: %s: %s", path,
			    lxw_strerror(err));
		else if (sync_file(path) == -1)
			log_warn("XLSX report: %s", path);
		else
			rc = 0;
	}
	if (x->wb != NULL)
		lxw_workbook_free(x->wb);
	x->wb = NULL;
	if (rc == -1)
		unlink(path);
	buf_free(&x->b);
	free(x->dir);
	return rc;
}

/*
 * Write the XLSX report of run r to path, from the store. Returns 0, or
 * -1 with a warning; path is removed on failure.
 */
int
report_xlsx(struct store *st, const struct run *r, const char *path)
{
	struct xlsx	 x;
	struct storesrc	 ss;
	struct reportsrc src;

	report_store_src(st, r->id, &ss, &src);
	if (xlsx_open(&x, path) == 0) {
		write_rows(&x, &src);
		write_summary(&x, r);
	}
	return xlsx_close(&x, path);
}

/*
 * The same begun before the run's outcome is stored (report.c's early
 * job): the rows from memory, then (report_xlsx_zip()) the workbook
 * zipped with the Summary sheet empty but for the autofilter of its
 * summary_rows rows.
 * report_xlsx_finish() puts the summary in, once the run is stored.
 */
struct xlsx_early {
	struct xlsx	 x;
	long long	 summary_rows;
	int		 rc;		/* of the zipping */
};

struct xlsx_early *
report_xlsx_begin(const char *path, const struct reportsrc *src,
    long long summary_rows)
{
	struct xlsx_early *e = xcalloc(1, sizeof(*e));
	struct xlsx	*x = &e->x;

	e->summary_rows = summary_rows;
	if (xlsx_open(x, path) == 0)
		write_rows(x, src);
	else
		fail(x, "cannot start the workbook");
	return e;
}

/* Zip it (the source is not read any more). */
void
report_xlsx_zip(struct xlsx_early *e, const char *path)
{
	struct xlsx	*x = &e->x;

	x->sh = &x->sheet[SH_SUMMARY];
	x->sh->row = (lxw_row_t)e->summary_rows;
	sheet_end(x);
	e->rc = xlsx_close(x, path);
}

/* The Summary sheet of the workbook at from put in the one at path. */
static int
swap_summary(const char *path, const char *from)
{
	static const char part[] = "xl/worksheets/sheet1.xml";
	zip_t		*za, *zb;
	zip_source_t	*zs;
	zip_int64_t	 ia, ib;
	int		 err, rc = -1;

	if ((za = zip_open(path, 0, &err)) == NULL)
		return -1;
	if ((zb = zip_open(from, ZIP_RDONLY, &err)) == NULL) {
		zip_discard(za);
		return -1;
	}
	if ((ia = zip_name_locate(za, part, 0)) >= 0 &&
	    (ib = zip_name_locate(zb, part, 0)) >= 0 &&
	    (zs = zip_source_zip(za, zb, (zip_uint64_t)ib, 0, 0, -1)) !=
	    NULL) {
		if (zip_file_replace(za, (zip_uint64_t)ia, zs, 0) == -1)
			zip_source_free(zs);
		else
			rc = 0;
	}
	if (rc == 0 && zip_close(za) == -1) {
		log_warnx("XLSX report: %s: %s", path, zip_strerror(za));
		rc = -1;
	}
	if (rc == -1)
		zip_discard(za);
	zip_discard(zb);
	return rc;
}

/*
 * Finish it with the run r as stored: its summary is made as a workbook
 * of its own beside path (path XLSX_SUMMARY_TMP), whose Summary sheet
 * takes the empty one's place; the other parts are copied as they were
 * zipped. With r NULL, drop it. 0 when the file is written, else -1 with path
 * removed (the caller then writes it from the store). Frees e.
 */
int
report_xlsx_finish(struct xlsx_early *e, const char *path,
    const struct run *r)
{
	struct xlsx	 b;
	char		*sum;
	int		 rc = -1;

	xasprintf(&sum, "%s%s", path, XLSX_SUMMARY_TMP);
	if (r != NULL && e->rc == 0) {
		if (xlsx_open(&b, sum) == 0) {
			b.sh = &b.sheet[SH_CHANGES];
			sheet_end(&b);
			b.sh = &b.sheet[SH_ISSUES];
			sheet_end(&b);
			write_summary(&b, r);
			if ((long long)b.sheet[SH_SUMMARY].row !=
			    e->summary_rows)
				fail(&b, "the summary has %lld rows, not %lld",
				    (long long)b.sheet[SH_SUMMARY].row,
				    e->summary_rows);
		}
		if (xlsx_close(&b, sum) == 0) {
			fault("report.summary");
			if (swap_summary(path, sum) == 0 &&
			    chmod(path, 0640) == 0 && sync_file(path) == 0)
				rc = 0;
		}
	}
	unlink(sum);
	free(sum);
	if (rc == -1)
		unlink(path);
	free(e);
	return rc;
}
