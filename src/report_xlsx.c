/*
 * The XLSX report: sheets Summary, Changes and Issues, made with
 * libxlsxwriter in constant-memory mode, so rows go out in order and a
 * run of any size is written with flat memory.
 *
 * The data rows of Changes and Issues are written here, not by the
 * library: its constant-memory mode writes a sheet's XML to a temporary
 * file as the rows come and again into a second when the workbook is
 * closed, then deflates it at zlib's default level (82,000 rows of a
 * daily run: 81 MB written to throw away, 0.4 s of deflate). Here each
 * row becomes the XML the library would write for it, deflated at once
 * (level 1) into a file with no name; when the library has closed the
 * workbook (the sheets' headers, columns, panes, print setup and
 * autofilters are its own), the sheet's part is that XML between the
 * library's own beginning and end, copied into the archive still
 * compressed (libzip). ROSTERSYNC_XLSX_ROWS=library writes them with the
 * library instead; test_report_xlsx checks both give the same parts.
 *
 * Every data string is written as a string cell, never as a formula, so
 * "=HYPERLINK(...)", "+1", "-2" or "@x" stay text. Empty values get no
 * cell at all.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xlsxwriter.h>
#include <zip.h>
#include <zlib.h>

#include "rostersync.h"

#define XLSX_CELL_MAX	32767	/* characters Excel holds in one cell */
#ifndef XLSX_ROW_LIMIT
#define XLSX_ROW_LIMIT	LXW_ROW_MAX /* rows in a sheet; tests lower it */
#endif

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define ZROWS_CHUNK	(64 * 1024)	/* XML deflated at a time */
#define ZROWS_LEVEL	1		/* zlib's fastest */

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

/* A data sheet's rows as XML, deflated as they come (raw deflate, no
 * header) into a file with no name; ended by a sync flush, so the
 * library's beginning and end of the sheet, deflated apart, go around
 * them. */
struct zrows {
	z_stream	 z;
	int		 fd;
	int		 zok;		/* z is initialised */
	uint64_t	 ulen;		/* bytes of XML */
	uint64_t	 clen;		/* bytes deflated into fd */
	uLong		 crc;		/* of the XML */
	lxw_row_t	 open;		/* the row whose <row> is open, or 0 */
	struct buf	 xml;		/* XML not yet deflated */
	unsigned char	 out[ZROWS_CHUNK];
};

/* The sheet being written. */
struct sheet {
	struct zrows	*zr;		/* its rows written here, or NULL */
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
	int		 wrap_xf;	/* its number in styles.xml */
	int		 own_rows;	/* Changes' and Issues' rows written here */
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

/* ------------------------------------------------- rows written here */

/* A raw deflate stream (no header: a piece of a ZIP entry's data) at
 * ZROWS_LEVEL, as every piece of a sheet written here is; 0 or -1. */
static int
raw_deflate_init(z_stream *z)
{
	memset(z, 0, sizeof(*z));
	return deflateInit2(z, ZROWS_LEVEL, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) == Z_OK ? 0 : -1;
}

/* Deflate the XML gathered so far into the sheet's file: flush
 * Z_NO_FLUSH as rows come, Z_SYNC_FLUSH at the sheet's end. 0 or -1. */
static int
zrows_deflate(struct zrows *zr, int flush)
{
	size_t	 have;

	if (zr->xml.len > 0)
		zr->crc = crc32(zr->crc, (const Bytef *)zr->xml.p,
		    (uInt)zr->xml.len);
	zr->ulen += zr->xml.len;
	zr->z.next_in = (Bytef *)zr->xml.p;
	zr->z.avail_in = (uInt)zr->xml.len;
	do {
		zr->z.next_out = zr->out;
		zr->z.avail_out = sizeof(zr->out);
		if (deflate(&zr->z, flush) == Z_STREAM_ERROR)
			return -1;
		have = sizeof(zr->out) - zr->z.avail_out;
		if (write_full(zr->fd, zr->out, have) == -1)
			return -1;
		zr->clen += have;
	} while (zr->z.avail_out == 0);
	buf_reset(&zr->xml);
	return 0;
}

static void
zrows_free(struct zrows *zr)
{
	if (zr == NULL)
		return;
	if (zr->zok)
		deflateEnd(&zr->z);
	if (zr->fd != -1)
		close(zr->fd);
	buf_free(&zr->xml);
	free(zr);
}

/*
 * The current sheet's rows written here from now on, if they are to be
 * (x->own_rows, a data sheet past its header): 1, or 0 when the library
 * writes them (also when no file with no name can be made there).
 */
static int
own_row(struct xlsx *x)
{
	struct zrows	*zr;

	if (x->sh->zr != NULL)
		return 1;
	if (!x->own_rows || x->sh->row == 0 || x->sh == &x->sheet[SH_SUMMARY])
		return 0;
	zr = xcalloc(1, sizeof(*zr));
	zr->crc = crc32(0, Z_NULL, 0);
	if ((zr->fd = open(x->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) ==
	    -1 || raw_deflate_init(&zr->z) == -1) {
		log_debug("XLSX report: sheet %s: rows by the library (%s)",
		    x->sh->name, zr->fd == -1 ? strerror(errno) : "zlib");
		zrows_free(zr);
		x->own_rows = 0;
		return 0;
	}
	zr->zok = 1;
	x->sh->zr = zr;
	return 1;
}

static void
add_uint(struct buf *b, unsigned long long u)
{
	char	 d[24];
	int	 n = 0;

	do
		d[sizeof(d) - ++n] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	buf_add(b, d + sizeof(d) - n, (size_t)n);
}

/* Open the row if it is not, then "<c r=..." of the cell at col. */
static void
zrows_cell(struct xlsx *x, lxw_col_t col)
{
	struct zrows	*zr = x->sh->zr;
	lxw_row_t	 r = x->sh->row + 1;	/* as the sheet numbers it */

	if (zr->open != r) {
		if (zr->open != 0)
			buf_adds(&zr->xml, "</row>");
		buf_adds(&zr->xml, "<row r=\"");
		add_uint(&zr->xml, r);
		buf_adds(&zr->xml, "\">");
		zr->open = r;
	}
	buf_adds(&zr->xml, "<c r=\"");
	buf_addc(&zr->xml, 'A' + col);		/* ten columns at most */
	add_uint(&zr->xml, r);
	buf_addc(&zr->xml, '"');
}

/* Deflate what a few rows gathered; a failure stops the report. */
static void
zrows_cell_end(struct xlsx *x)
{
	if (x->sh->zr->xml.len >= ZROWS_CHUNK &&
	    zrows_deflate(x->sh->zr, Z_NO_FLUSH) == -1)
		fail(x, "sheet %s row %u: cannot write its rows: %s",
		    x->sh->name, x->sh->row + 1, strerror(errno));
}

/* t as the library writes a cell's text: control characters but tab and
 * newline as _xHHHH_, then &, < and > as entities. */
static void
add_text(struct buf *b, const char *t)
{
	const char	*p = t, *q;

	for (;;) {
		for (q = p; (unsigned char)*q >= 0x20 && *q != '&' &&
		    *q != '<' && *q != '>'; q++)
			;
		buf_add(b, p, (size_t)(q - p));
		if (*q == '\0')
			return;
		if (*q == '&')
			buf_adds(b, "&amp;");
		else if (*q == '<')
			buf_adds(b, "&lt;");
		else if (*q == '>')
			buf_adds(b, "&gt;");
		else if (*q == '\t' || *q == '\n')
			buf_addc(b, *q);
		else
			buf_printf(b, "_x%04X_", (unsigned char)*q);
		p = q + 1;
	}
}

/* Does the text, once escaped, begin or end with white space? Of the
 * characters isspace() takes, only space, tab and newline are left as
 * they are by add_text(). */
static int
outer_space(const char *t)
{
	size_t	 n = strlen(t);

	return n > 0 && (strchr(" \t\n", t[0]) != NULL ||
	    strchr(" \t\n", t[n - 1]) != NULL);
}

/* A string cell, its text t already made by cell_text(). */
static void
zrows_str(struct xlsx *x, lxw_col_t col, const char *t, int wrap)
{
	struct zrows	*zr = x->sh->zr;

	zrows_cell(x, col);
	if (wrap) {
		buf_adds(&zr->xml, " s=\"");
		add_uint(&zr->xml, (unsigned)x->wrap_xf);
		buf_addc(&zr->xml, '"');
	}
	/* Outer white space is kept, as the library keeps it. */
	buf_adds(&zr->xml, outer_space(t) ? " t=\"inlineStr\"><is>"
	    "<t xml:space=\"preserve\">" : " t=\"inlineStr\"><is><t>");
	add_text(&zr->xml, t);
	buf_adds(&zr->xml, "</t></is></c>");
	zrows_cell_end(x);
}

static void
zrows_num(struct xlsx *x, lxw_col_t col, double d)
{
	char	 v[40];

	zrows_cell(x, col);
	snprintf(v, sizeof(v), "><v>%.16g</v></c>", d);
	buf_adds(&x->sh->zr->xml, v);
	zrows_cell_end(x);
}

/* The sheet's last row closed and its rows flushed to a byte boundary. */
static void
zrows_end(struct xlsx *x)
{
	struct zrows	*zr = x->sh->zr;

	if (zr == NULL || x->failed)
		return;
	if (zr->open != 0)
		buf_adds(&zr->xml, "</row>");
	zr->open = 0;
	if (zrows_deflate(zr, Z_SYNC_FLUSH) == -1)
		fail(x, "sheet %s: cannot write its rows: %s", x->sh->name,
		    strerror(errno));
}

/* A data string; NULL or "" writes nothing. */
static void
put_str(struct xlsx *x, lxw_col_t col, const char *s)
{
	int	 wrap;

	if (x->failed || s == NULL || *s == '\0')
		return;
	wrap = col < x->sh->ncols && x->sh->cols[col].wrap;
	if (own_row(x))
		zrows_str(x, col, cell_text(x, s), wrap);
	else
		check(x, worksheet_write_string(x->sh->ws, x->sh->row, col,
		    cell_text(x, s), wrap ? x->wrap : NULL));
}

static void
put_num(struct xlsx *x, lxw_col_t col, double d)
{
	if (x->failed)
		return;
	if (own_row(x))
		zrows_num(x, col, d);
	else
		check(x, worksheet_write_number(x->sh->ws, x->sh->row, col, d,
		    NULL));
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
	zrows_end(x);
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
		x->wrap_xf = lxw_format_get_xf_index(x->wrap);
		x->own_rows = getenv("ROSTERSYNC_XLSX_ROWS") == NULL ||
		    strcmp(getenv("ROSTERSYNC_XLSX_ROWS"), "library") != 0;
		sheets_begin(x);
		rc = 0;
	}
	return rc;
}

/*
 * A data sheet's part as libzip takes it, already deflated: the
 * library's beginning of the sheet (up to "</sheetData>", its dimension
 * made to count the rows written here), the rows from their file, the
 * library's end; each of the three a raw deflate stream, the first two
 * ended by a sync flush, so together they are one.
 */
struct zpart {
	const struct zrows *zr;
	struct buf	 pre, post;	/* deflated */
	uint64_t	 size, off;	/* inflated size; where a read is */
	uLong		 crc;
	time_t		 mtime;		/* the library's, kept */
	zip_error_t	 err;
};

/* n bytes of a whole piece of text, deflated into out; 0 or -1. */
static int
deflate_piece(const char *p, size_t n, int flush, struct buf *out)
{
	z_stream	 z;
	int		 rc;

	if (raw_deflate_init(&z) == -1)
		return -1;
	buf_grow(out, deflateBound(&z, n) + 16);
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out->p;
	z.avail_out = (uInt)(out->cap - 1);
	rc = deflate(&z, flush);
	out->len = z.total_out;
	deflateEnd(&z);
	return (flush == Z_FINISH ? rc == Z_STREAM_END : rc == Z_OK) &&
	    z.avail_in == 0 && z.avail_out > 0 ? 0 : -1;
}

static zip_int64_t
zpart_read(struct zpart *zp, char *data, zip_uint64_t len)
{
	uint64_t	 at = zp->off, pre = zp->pre.len, mid = zp->zr->clen;
	size_t		 n;
	ssize_t		 got;

	if (at < pre) {
		n = (size_t)(pre - at < len ? pre - at : len);
		memcpy(data, zp->pre.p + at, n);
	} else if (at < pre + mid) {
		n = (size_t)(pre + mid - at < len ? pre + mid - at : len);
		if ((got = pread(zp->zr->fd, data, n, (off_t)(at - pre))) <= 0) {
			zip_error_set(&zp->err, ZIP_ER_READ, got == 0 ? EIO :
			    errno);
			return -1;
		}
		n = (size_t)got;
	} else {
		at -= pre + mid;
		n = (size_t)(zp->post.len - at < len ? zp->post.len - at : len);
		memcpy(data, zp->post.p + at, n);
	}
	zp->off += n;
	return (zip_int64_t)n;
}

static zip_int64_t
zpart_cb(void *arg, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
	struct zpart	*zp = arg;
	zip_stat_t	*st = data;

	switch (cmd) {
	case ZIP_SOURCE_OPEN:	/* in zip_close(): its temporary file made */
		fault("report.splice");
		zp->off = 0;
		return 0;
	case ZIP_SOURCE_READ:
		return zpart_read(zp, data, len);
	case ZIP_SOURCE_CLOSE:
		return 0;
	case ZIP_SOURCE_STAT:
		zip_stat_init(st);
		st->valid = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE |
		    ZIP_STAT_COMP_METHOD | ZIP_STAT_CRC | ZIP_STAT_MTIME;
		st->size = zp->size;
		st->comp_size = zp->pre.len + zp->zr->clen + zp->post.len;
		st->comp_method = ZIP_CM_DEFLATE;
		st->crc = (zip_uint32_t)zp->crc;
		st->mtime = zp->mtime;
		return sizeof(*st);
	case ZIP_SOURCE_ERROR:
		return zip_error_to_data(&zp->err, data, len);
	case ZIP_SOURCE_FREE:
		buf_free(&zp->pre);
		buf_free(&zp->post);
		zip_error_fini(&zp->err);
		free(zp);
		return 0;
	case ZIP_SOURCE_SUPPORTS:
		return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN,
		    ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
		    ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
	default:
		zip_error_set(&zp->err, ZIP_ER_OPNOTSUPP, 0);
		return -1;
	}
}

/* The text of the library's part idx (a sheet of only its header row:
 * 1 MB at most); 0 or -1. */
static int
read_part(zip_t *za, zip_uint64_t idx, struct buf *b)
{
	zip_file_t	*zf;
	zip_int64_t	 n;

	if ((zf = zip_fopen_index(za, idx, 0)) == NULL)
		return -1;
	do {
		buf_grow(b, 65536);
		n = zip_fread(zf, b->p + b->len, 65536);
		if (n > 0)
			b->len += (size_t)n;
	} while (n > 0 && b->len < 1024 * 1024);
	zip_fclose(zf);
	return n == 0 ? 0 : -1;
}

/* The part of sheet sh: its beginning and end from the library's part
 * idx, the rows between; the source for libzip, or NULL. */
static zip_source_t *
zpart_new(zip_t *za, zip_uint64_t idx, const struct sheet *sh)
{
	static const char dim[] = "<dimension ref=\"A1:";
	struct zpart	*zp = xcalloc(1, sizeof(*zp));
	struct buf	 xml = { 0 }, pre = { 0 };
	zip_stat_t	 st;
	zip_source_t	*zs = NULL;
	char		*end, *d, *q;
	size_t		 nend;

	zip_error_init(&zp->err);
	zp->zr = sh->zr;
	if (zip_stat_index(za, idx, 0, &st) == -1 || read_part(za, idx,
	    &xml) == -1)
		goto out;
	buf_addc(&xml, '\0');
	if ((end = strstr(xml.p, "</sheetData>")) == NULL ||
	    (d = strstr(xml.p, dim)) == NULL || d > end ||
	    (q = strchr(d + sizeof(dim) - 1, '"')) == NULL || q > end)
		goto out;
	/* "A1:J1" (the header) becomes "A1:J" and the last row's number. */
	buf_add(&pre, xml.p, (size_t)(d - xml.p) + sizeof(dim) - 1);
	buf_addc(&pre, 'A' + (sh->ncols - 1));
	add_uint(&pre, (unsigned long long)sh->row + 1);
	buf_add(&pre, q, (size_t)(end - q));
	nend = strlen(end);
	zp->size = pre.len + sh->zr->ulen + nend;
	zp->crc = crc32_combine(crc32_combine(crc32(0L, (const Bytef *)pre.p,
	    (uInt)pre.len), sh->zr->crc, (z_off_t)sh->zr->ulen),
	    crc32(0L, (const Bytef *)end, (uInt)nend), (z_off_t)nend);
	zp->mtime = (st.valid & ZIP_STAT_MTIME) ? st.mtime : time(NULL);
	if (deflate_piece(pre.p, pre.len, Z_SYNC_FLUSH, &zp->pre) == -1 ||
	    deflate_piece(end, nend, Z_FINISH, &zp->post) == -1)
		goto out;
	zs = zip_source_function(za, zpart_cb, zp);
out:
	buf_free(&xml);
	buf_free(&pre);
	if (zs == NULL) {
		buf_free(&zp->pre);
		buf_free(&zp->post);
		zip_error_fini(&zp->err);
		free(zp);
	}
	return zs;
}

/* The rows written here (if any) put into the workbook the library
 * closed at path, which libzip writes anew: mode 0640 again, as
 * create_0640() made it. 0, or -1 with the reason in x. */
static int
zrows_splice(struct xlsx *x, const char *path)
{
	char		 part[40];
	zip_t		*za;
	zip_source_t	*zs;
	zip_int64_t	 idx;
	int		 k, err;

	for (k = 0; k < SH__COUNT && x->sheet[k].zr == NULL; k++)
		;
	if (k == SH__COUNT)
		return 0;
	if ((za = zip_open(path, 0, &err)) == NULL) {
		fail(x, "cannot open it again to put its rows in (libzip "
		    "error %d)", err);
		return -1;
	}
	for (k = 0; k < SH__COUNT; k++) {
		if (x->sheet[k].zr == NULL)
			continue;
		snprintf(part, sizeof(part), "xl/worksheets/sheet%d.xml", k + 1);
		if ((idx = zip_name_locate(za, part, 0)) < 0 ||
		    (zs = zpart_new(za, (zip_uint64_t)idx, &x->sheet[k])) ==
		    NULL) {
			fail(x, "sheet %s: the library's %s is not as expected",
			    x->sheet[k].name, part);
			break;
		}
		if (zip_file_replace(za, (zip_uint64_t)idx, zs, 0) == -1) {
			zip_source_free(zs);
			fail(x, "sheet %s: %s", x->sheet[k].name,
			    zip_strerror(za));
			break;
		}
	}
	if (!x->failed && zip_close(za) == -1)
		fail(x, "putting its rows in: %s", zip_strerror(za));
	else if (!x->failed) {
		if (chmod(path, 0640) == 0)
			return 0;
		fail(x, "%s", strerror(errno));
		return -1;
	}
	zip_discard(za);
	return -1;
}

/* Close the workbook (the library zips it now) and sync the file; 0,
 * or -1 with a warning and path removed. */
static int
xlsx_close(struct xlsx *x, const char *path)
{
	lxw_error	 err;
	int		 rc = -1, k;

	if (x->failed)
		log_warnx("XLSX report: %s: %s", path, x->why);
	else if (x->wb != NULL) {
		err = workbook_close(x->wb);
		x->wb = NULL;
		if (err != LXW_NO_ERROR)
			log_warnx("XLSX report: %s: %s", path,
			    lxw_strerror(err));
		else if (zrows_splice(x, path) == -1)
			log_warnx("XLSX report: %s: %s", path, x->why);
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
	for (k = 0; k < SH__COUNT; k++) {
		zrows_free(x->sheet[k].zr);
		x->sheet[k].zr = NULL;
	}
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
