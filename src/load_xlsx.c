/*
 * XLSX input: one worksheet of an Office Open XML workbook, read as a
 * stream of raw rows (the header first), like load_csv.c.
 *
 * The archive is opened with libzip and every part is inflated in chunks
 * straight into expat, which runs as an explicit state machine: a grammar
 * table per part says which element may appear in which state, and any
 * other element is skipped with everything inside it. What is kept:
 * the workbook's sheet list and relationships, what each cell style's
 * number format shows (a date, a time, or zeros padding a number), and
 * the shared strings. The worksheet itself is never held; only the cells
 * of the current row are.
 *
 * A big worksheet is parsed on a thread of its own, and its rows are
 * given to the callback on the caller's thread in batches (pipe_run()).
 *
 * The worksheet, most of the bytes, goes through a tokenizer of its own
 * first (xmltok.c: the plain shapes of rows, cells and their text, in a
 * quarter of expat's time), which gives the same events to the same
 * grammar. Where it meets anything else (a comment, CDATA, another
 * encoding, an element of the grammar under a prefix, XML that is not
 * well-formed) it stops, and expat reads the part again from its start,
 * skipping the events given already: the rows and the errors are expat's
 * in every case (test_load_xlsx and the fuzzer read every input both
 * ways; xlsx_fast_sheet = 0 reads the sheet with expat alone).
 *
 * The sheet is found the way the format says: the package relationships
 * name the workbook, the workbook lists its sheets, and the workbook's
 * relationships give each sheet's part. By default the first visible
 * worksheet is read.
 *
 * Hostile input is bounded: any DOCTYPE fails the file; inflated bytes are
 * limited in total, per part and against the compressed size, as declared
 * and as actually inflated; collected text is capped; one XML token (a tag,
 * comment or processing instruction) may not grow past XLSX_MAX_TOKEN.
 *
 * Numbers are formatted without exponent or trailing ".0", dates (by cell
 * style) as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, and numbers whose format
 * only pads with zeros ("0000000", "000.00") as Excel shows them. Date
 * cells written as ISO 8601 text (t="d") read as a numeric date cell of
 * the same style would; one that is not a date is flagged FF_BADDATE, never
 * taken as text. Strings lose their "_xHHHH_" escapes and their CR LF
 * (and lone CR) become LF. A formula without a calculated value is an
 * empty cell flagged FF_NOCALC. strtod() and snprintf() are used in the
 * C locale, which the daemon never changes.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>
#include <zip.h>

#include "known.h"	/* the rows' peeks */

#define XLSX_CHUNK		(128 * 1024)	/* bytes inflated per read */
#define XLSX_THREAD_MIN		(4 * 1024 * 1024) /* smaller sheets: one thread */
#define XLSX_MAX_TOTAL		(1024LL * 1024 * 1024) /* inflated, all parts */
#define XLSX_MAX_META		(16LL * 1024 * 1024) /* workbook, rels, styles*/
#define XLSX_MAX_RATIO		200	/* inflated : compressed, at most... */
#define XLSX_RATIO_FLOOR	(1024 * 1024)	/* ...once past this size */
#define XLSX_MAX_TOKEN		(1024 * 1024)	/* one tag, comment or PI */
#define XLSX_MAX_DEPTH		8	/* deepest state of any grammar */
#define XLSX_MAX_SHEETS		4096	/* sheets in a workbook */
#define XLSX_MAX_RELS		(2 * XLSX_MAX_SHEETS) /* relationships */
#define XLSX_MAX_XF		65536	/* cell styles (Excel: 64000) */
#define XLSX_MAX_NUMFMT		4096	/* custom number formats */
#define XLSX_MAX_SST		(16 * 1024 * 1024) /* shared strings */
#define XLSX_MAX_SST_BYTES	(256 * 1024 * 1024) /* their text */
#define XLSX_MAX_COL		16384	/* column XFD */
#define XLSX_MAX_ROWNUM		1048576	/* rows in a sheet */
#define XLSX_TEXT_CAP		(MAX_FIELD_LEN + 4) /* kept of one text */
#define XLSX_NUMLEN		64	/* a formatted number or date */
#define XLSX_MAX_SERIAL		2958466	/* 10000-01-01 in the 1900 system */
#define XLSX_1904_OFFSET	1462	/* 1904-01-01 in the 1900 system */
#define XLSX_EPOCH_UNIX		25569	/* 1970-01-01 in the 1900 system */
#define XLSX_MAX_PAD		30	/* zeros before the point of a padding
					 * format ("0000000"); more: as today */
#define XLSX_MAX_DEC		30	/* zeros after it (Excel's limit) */
#define XLSX_SIGDIG		15	/* significant digits Excel shows */
#define XLSX_ISO_LEN		40	/* an ISO 8601 date cell's text */
#define XLSX_HANDOFF		2	/* sheet_fast(): the rest is expat's */
#define XLSX_BATCH_ROWS		4096	/* rows a batch hands over, ... */
#define XLSX_BATCH_BYTES	(256 * 1024) /* ... or bytes of their fields */
#define XLSX_NBATCH		3	/* one filling, one in fn, one queued */

#define XF_DATE		0x01	/* a number format with day, month or year */
#define XF_TIME		0x02	/* ... with hours, minutes or seconds */
#define XF_PAD		0x04	/* only zeros: "0000000", "000.00" */

/* Every state of every grammar; X_NONE is outside the root element. */
enum xstate {
	X_NONE,
	R_RELS, R_REL,					/* *.rels */
	W_BOOK, W_PR, W_SHEETS, W_SHEET,		/* workbook */
	T_STYLES, T_FMTS, T_FMT, T_XFS, T_XF,		/* styles */
	K_SST, K_SI, K_T, K_R, K_RT,			/* shared strings */
	H_SHEET, H_DATA, H_ROW, H_C, H_V, H_IS, H_T, H_R, H_RT, /* sheet */
	H_F
};

/* In state parent, element name enters state; text: collect its text. */
struct xgram {
	enum xstate	 parent;
	const char	*name;
	enum xstate	 state;
	int		 text;
};

struct xlsx;

/* One kind of part: its grammar and what happens on entering, leaving. */
struct xdoc {
	const struct xgram	*gram;
	size_t			 ngram;
	void			(*start)(struct xlsx *, enum xstate,
				    const XML_Char **);
	void			(*end)(struct xlsx *, enum xstate);
};

/* The part being parsed. */
struct xparse {
	XML_Parser		 p;
	const char		*part;
	const struct xdoc	*doc;
	enum xstate		 stack[XLSX_MAX_DEPTH];
	size_t			 depth;
	size_t			 skip;		/* depth in unknown elements */
	int			 collect;	/* the state collects text */
	long long		 fed;		/* bytes given to expat */
	unsigned long long	 replay;	/* events before this byte were
						 * the tokenizer's: skipped */
	unsigned long long	 counted;	/* bytes it counted already */
};

struct rel {
	char	*id;
	char	*type;		/* relationship type URI */
	char	*target;	/* as written, relative to the source part */
};

struct sheet {
	char	*name;
	char	*rid;		/* relationship id in the workbook */
	int	 hidden;
};

/* What a number format shows: its XF_* and, for XF_PAD, the widths. */
struct xfmt {
	unsigned char	 flags;	/* XF_* */
	unsigned char	 pad;	/* digits before the point, at least */
	unsigned char	 dec;	/* digits after it, exactly */
};

struct numfmt {
	long		 id;
	struct xfmt	 f;
};

enum ctype { C_NUM, C_SST, C_STR, C_BOOL, C_ERR, C_DATE };

/* The shared strings: their text one after the other, each ended by a
 * NUL, and where each string is in it. */
struct sstr {
	uint32_t	 at;	/* offset in the text */
	uint32_t	 len;
};
_Static_assert(XLSX_MAX_SST_BYTES <= UINT32_MAX,
    "a string's place fits in 32 bits");

struct sstore {
	struct buf	 text;	/* the strings, each ended by a NUL */
	struct sstr	*s;	/* string i */
	size_t		 n, cap;
};

/* A non-empty cell of the current row. */
struct cellv {
	size_t		 col;	/* 1-based */
	const char	*p;	/* a shared string, or NULL: ... */
	size_t		 off;	/* ... where it is in rowtext */
	size_t		 len;
	unsigned char	 ff;
};

struct xpipe;

struct xlsx {
	zip_t		*za;
	char		*err;
	size_t		 errlen;
	int		 failed;	/* err is set; stop everything */
	int		 fnstop;	/* the row callback asked to stop */
	long long	 total;		/* bytes inflated, all parts so far */
	struct xparse	 xp;
	struct buf	 text;		/* text kept, up to XLSX_TEXT_CAP */
	size_t		 textlen;	/* ... and how long it really was */

	struct rel	*rels;
	size_t		 nrels;
	struct sheet	*sheets;
	size_t		 nsheets;
	char		*book;		/* the workbook part */
	int		 date1904;

	struct numfmt	*fmts;
	size_t		 nfmts;
	long		*xfid;		/* number format of each cell style */
	struct xfmt	*xf;		/* what each cell style shows */
	size_t		 nxf;

	struct sstore	 sst;		/* the shared strings */

	rawrow_fn	 fn;
	void		*arg;
	int		 sawsheet;	/* the root element was a worksheet */
	size_t		 rownum;	/* current row, 1-based */
	size_t		 col;		/* current cell's column, 1-based */
	enum ctype	 ctype;
	unsigned	 cfmt;		/* XF_* of the current cell */
	struct xfmt	 cxf;		/* its style's format, when XF_PAD */
	int		 cformula;	/* it has a formula (<f>) */
	int		 cvalue;	/* it has a <v> */
	struct buf	 rowtext;
	struct cellv	*cells;		/* MAX_COLUMNS */
	size_t		 ncells;
	int		 wide;
	size_t		 emitted;	/* rows given to fn, the header too */
	const char	**fv;		/* MAX_COLUMNS each */
	size_t		*lenv;
	unsigned char	*ffv;
	struct xpipe	*pipe;		/* rows to fn's thread, or NULL */
};

static void	 rels_start(struct xlsx *, enum xstate, const XML_Char **);
static void	 book_start(struct xlsx *, enum xstate, const XML_Char **);
static void	 styles_start(struct xlsx *, enum xstate, const XML_Char **);
static void	 sst_start(struct xlsx *, enum xstate, const XML_Char **);
static void	 sst_end(struct xlsx *, enum xstate);
static void	 sheet_start(struct xlsx *, enum xstate, const XML_Char **);
static void	 pipe_row(struct xlsx *, const struct rawrow *);
static void	 sheet_end(struct xlsx *, enum xstate);

static const struct xgram gram_rels[] = {
	{ X_NONE,	"Relationships",	R_RELS,		0 },
	{ R_RELS,	"Relationship",		R_REL,		0 },
};
static const struct xgram gram_book[] = {
	{ X_NONE,	"workbook",		W_BOOK,		0 },
	{ W_BOOK,	"workbookPr",		W_PR,		0 },
	{ W_BOOK,	"sheets",		W_SHEETS,	0 },
	{ W_SHEETS,	"sheet",		W_SHEET,	0 },
};
static const struct xgram gram_styles[] = {
	{ X_NONE,	"styleSheet",		T_STYLES,	0 },
	{ T_STYLES,	"numFmts",		T_FMTS,		0 },
	{ T_FMTS,	"numFmt",		T_FMT,		0 },
	{ T_STYLES,	"cellXfs",		T_XFS,		0 },
	{ T_XFS,	"xf",			T_XF,		0 },
};
static const struct xgram gram_sst[] = {
	{ X_NONE,	"sst",			K_SST,		0 },
	{ K_SST,	"si",			K_SI,		0 },
	{ K_SI,		"t",			K_T,		1 },
	{ K_SI,		"r",			K_R,		0 },
	{ K_R,		"t",			K_RT,		1 },
};
static const struct xgram gram_sheet[] = {
	{ X_NONE,	"worksheet",		H_SHEET,	0 },
	{ H_SHEET,	"sheetData",		H_DATA,		0 },
	{ H_DATA,	"row",			H_ROW,		0 },
	{ H_ROW,	"c",			H_C,		0 },
	{ H_C,		"v",			H_V,		1 },
	{ H_C,		"is",			H_IS,		0 },
	{ H_IS,		"t",			H_T,		1 },
	{ H_IS,		"r",			H_R,		0 },
	{ H_R,		"t",			H_RT,		1 },
	{ H_C,		"f",			H_F,		0 },	/* last: <v> first */
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct xdoc doc_rels = {
	gram_rels, NELEM(gram_rels), rels_start, NULL
};
static const struct xdoc doc_book = {
	gram_book, NELEM(gram_book), book_start, NULL
};
static const struct xdoc doc_styles = {
	gram_styles, NELEM(gram_styles), styles_start, NULL
};
static const struct xdoc doc_sst = {
	gram_sst, NELEM(gram_sst), sst_start, sst_end
};
static const struct xdoc doc_sheet = {
	gram_sheet, NELEM(gram_sheet), sheet_start, sheet_end
};

size_t	 xlsx_thread_min = XLSX_THREAD_MIN;
int	 xlsx_fast_sheet = 1;
unsigned long long xlsx_fast_rows;
unsigned long long xlsx_piped_rows;

/* ------------------------------------------------------------ helpers */

/*
 * Record the first error and stop the parser, if one runs. Always -1.
 */
static int __attribute__((format(printf, 2, 3)))
xlsx_fail(struct xlsx *x, const char *fmt, ...)
{
	va_list	 ap;

	if (!x->failed && x->err != NULL && x->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(x->err, x->errlen, fmt, ap);
		va_end(ap);
	}
	if (!x->failed && x->xp.p != NULL)
		XML_StopParser(x->xp.p, XML_FALSE);
	x->failed = 1;
	return -1;
}

/* A decimal number of at most 9 digits in [0, max]; -1 if s is not one. */
static long
dec_parse(const char *s, long max)
{
	long	 v = 0;
	int	 n = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (++n > 9)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (n == 0 || *s != '\0' || v > max)
		return -1;
	return v;
}

/* The name without its namespace prefix. */
static inline const char *
xml_local(const char *name)
{
	const char	*s, *local = name;

	for (s = name; *s != '\0'; s++)
		if (*s == ':')
			local = s + 1;
	return local;
}

/* Are a and b the same string? (strcmp() == 0 without a call.) */
static inline int
str_eq(const char *a, const char *b)
{
	for (; *a == *b; a++, b++)
		if (*a == '\0')
			return 1;
	return 0;
}

/* The value of the attribute with local name, or NULL. */
static const char *
xml_attr(const XML_Char **attr, const char *name)
{
	for (; attr[0] != NULL; attr += 2) {
		if (strncmp(attr[0], "xmlns", 5) == 0)
			continue;
		if (strcmp(xml_local(attr[0]), name) == 0)
			return attr[1];
	}
	return NULL;
}

static int
xml_bool(const char *s)
{
	return s != NULL && (strcmp(s, "1") == 0 || strcmp(s, "true") == 0);
}

/* Does the relationship type URI end in "/word"? */
static int
rel_is(const struct rel *r, const char *word)
{
	size_t	 n = strlen(r->type), w = strlen(word);

	return n > w && r->type[n - w - 1] == '/' &&
	    strcmp(r->type + n - w, word) == 0;
}

/* Cut s to at most max bytes without splitting a UTF-8 sequence. */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* The value of the 4 hex digits at s, or -1. */
static long
hex4(const char *s)
{
	long	 v = 0;
	int	 i, c;

	for (i = 0; i < 4; i++) {
		c = s[i];
		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v = v * 16 + ((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return v;
}

/* The UTF-8 of code point u (not a surrogate) at w; returns the end. */
static char *
utf8_put(char *w, long u)
{
	if (u < 0x80)
		*w++ = (char)u;
	else if (u < 0x800) {
		*w++ = (char)(0xc0 | u >> 6);
		*w++ = (char)(0x80 | (u & 0x3f));
	} else if (u < 0x10000) {
		*w++ = (char)(0xe0 | u >> 12);
		*w++ = (char)(0x80 | (u >> 6 & 0x3f));
		*w++ = (char)(0x80 | (u & 0x3f));
	} else {
		*w++ = (char)(0xf0 | u >> 18);
		*w++ = (char)(0x80 | (u >> 12 & 0x3f));
		*w++ = (char)(0x80 | (u >> 6 & 0x3f));
		*w++ = (char)(0x80 | (u & 0x3f));
	}
	return w;
}

/* The code point of an "_xHHHH_" escape at r (before e), or -1. */
static long
xstr_esc(const char *r, const char *e)
{
	if (e - r < 7 || r[0] != '_' || r[1] != 'x' || r[6] != '_')
		return -1;
	return hex4(r + 2);
}

/*
 * Decode in place the "_xHHHH_" escapes of a string (ECMA-376 ST_Xstring:
 * UTF-16 code units, so surrogate pairs are joined). U+0000 and lone
 * surrogates stay as written. Returns the new length.
 */
static size_t
xstr_decode(char *s, size_t n)
{
	char	*r, *w, *e = s + n;
	long	 u, lo;

	if ((r = memchr(s, '_', n)) == NULL)
		return n;
	for (w = r; r < e; ) {
		u = xstr_esc(r, e);
		if (u >= 0xd800 && u <= 0xdbff &&
		    (lo = xstr_esc(r + 7, e)) >= 0xdc00 && lo <= 0xdfff) {
			w = utf8_put(w, 0x10000 + ((u - 0xd800) << 10) +
			    (lo - 0xdc00));
			r += 14;
		} else if (u > 0 && (u < 0xd800 || u > 0xdfff)) {
			w = utf8_put(w, u);
			r += 7;
		} else
			*w++ = *r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

/*
 * CR LF and a lone CR as LF, in place (the text saved on another system
 * is the same text). XML turns the line ends it holds into LF itself; a
 * CR comes from "_x000D_" or "&#13;". Returns the new length.
 */
static size_t
text_lf(char *s, size_t n)
{
	char	*r, *w, *e = s + n;

	if ((r = memchr(s, '\r', n)) == NULL)
		return n;
	for (w = r; r < e; r++) {
		if (*r != '\r')
			*w++ = *r;
		else if (r + 1 == e || r[1] != '\n')
			*w++ = '\n';
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* A string's text as the cell shows it: escapes decoded, LF line ends. */
static size_t
xstr_text(char *s, size_t n)
{
	return text_lf(s, xstr_decode(s, n));
}

/* "A" for 1, "XFD" for 16384; out holds 4 bytes. */
static void
col_name(size_t col, char out[4])
{
	char	 tmp[4];
	size_t	 n = 0, i;

	while (col > 0 && n < 3) {
		tmp[n++] = (char)('A' + (col - 1) % 26);
		col = (col - 1) / 26;
	}
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

/*
 * The column of a cell reference such as "C7"; 0 when it is not one,
 * XLSX_MAX_COL + 1 when it lies beyond column XFD.
 */
static size_t
col_parse(const char *s)
{
	size_t	 col = 0;
	int	 n = 0;

	for (; (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'); s++)
		if (++n <= 4)
			col = col * 26 + (size_t)((*s | 0x20) - 'a' + 1);
	if (n == 0 || *s < '1' || *s > '9')
		return 0;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s != '\0')
		return 0;
	return col > XLSX_MAX_COL ? XLSX_MAX_COL + 1 : col;
}

/*
 * The part a relationship target names, relative to the part from (or
 * absolute with a leading "/"), with "." and ".." resolved. NULL if it
 * climbs out of the package. Must be freed.
 */
static char *
part_resolve(const char *from, const char *target)
{
	struct buf	 in = { 0 }, out = { 0 };
	const char	*sl;
	char		*seg, *next, *res = NULL;

	buf_add(&in, "", 0);
	buf_add(&out, "", 0);
	if (*target != '/' && (sl = strrchr(from, '/')) != NULL)
		buf_add(&in, from, (size_t)(sl - from) + 1);
	buf_adds(&in, target);
	for (seg = in.p; seg != NULL; seg = next) {
		if ((next = strchr(seg, '/')) != NULL)
			*next++ = '\0';
		if (*seg == '\0' || strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			if (out.len == 0)
				goto out;
			sl = memrchr(out.p, '/', out.len);
			out.len = sl != NULL ? (size_t)(sl - out.p) : 0;
			out.p[out.len] = '\0';
			continue;
		}
		if (out.len > 0)
			buf_addc(&out, '/');
		buf_adds(&out, seg);
	}
	if (out.len > 0)
		res = xstrdup(out.p);
out:
	buf_free(&in);
	buf_free(&out);
	return res;
}

/* ---------------------------------------------------- number formats */

/* What the built-in number format id shows (ECMA-376 18.8.30). */
static unsigned
numfmt_builtin(long id)
{
	if (id >= 14 && id <= 17)
		return XF_DATE;
	if (id >= 18 && id <= 21)
		return XF_TIME;
	if (id == 22)
		return XF_DATE | XF_TIME;
	if (id >= 45 && id <= 47)
		return XF_TIME;
	return 0;
}

/*
 * Skip a "[...]" part of a format code at s. Elapsed time ([h], [mm],
 * [ss]) counts as time; colours, locales and conditions count as nothing.
 * Returns the letter of an elapsed-time token, or 0.
 */
static int
numfmt_bracket(const char **sp)
{
	const char	*s = *sp + 1, *e = strchr(s, ']');
	int		 c = *s | 0x20;
	const char	*q;

	if (e == NULL) {
		*sp += strlen(*sp) - 1;
		return 0;
	}
	*sp = e;
	if (c != 'h' && c != 'm' && c != 's')
		return 0;
	for (q = s; q < e; q++)
		if ((*q | 0x20) != c)
			return 0;
	return c;
}

/*
 * Classify a custom format code: XF_DATE if it shows a day, month or
 * year, XF_TIME if hours, minutes or seconds. Only the first section
 * counts; quoted text, escaped characters, colours and AM/PM do not.
 * "m" is minutes after an hour or before a second, else the month.
 */
static unsigned
numfmt_class(const char *s)
{
	unsigned	 fl = 0;
	int		 prev = 0, pendm = 0, c;

	for (; *s != '\0' && *s != ';'; s++) {
		c = *s | 0x20;
		if (*s == '"') {
			if ((s = strchr(s + 1, '"')) == NULL)
				break;
			continue;
		}
		if (*s == '\\' || *s == '_' || *s == '*') {
			if (s[1] == '\0')
				break;
			s++;
			continue;
		}
		if (*s == '[') {
			if ((c = numfmt_bracket(&s)) == 0)
				continue;
			fl |= XF_TIME;
		} else if (c == 'a' && (strncasecmp(s, "am/pm", 5) == 0 ||
		    strncasecmp(s, "a/p", 3) == 0)) {
			s += s[1] == '/' ? 2 : 4;
			continue;
		} else if (c == 'y' || c == 'd')
			fl |= XF_DATE;
		else if (c == 'h' || c == 's')
			fl |= XF_TIME;
		else if (c == 'm') {
			while ((s[1] | 0x20) == 'm')
				s++;
			if (prev == 'h')
				fl |= XF_TIME;
			else
				pendm = 1;
			prev = 'm';
			continue;
		} else
			continue;
		if (pendm && c != 's')
			fl |= XF_DATE;
		pendm = 0;
		prev = c;
	}
	if (pendm)
		fl |= XF_DATE;
	return fl;
}

static int
numfmt_cmp(const void *a, const void *b)
{
	const struct numfmt	*x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/*
 * A format code that pads with zeros: "0000000", "00000", "000.00" (one
 * section, nothing else in it, at least two zeros before the point). 1
 * with the digits before the point and after it in f, else 0: such a
 * format is read as Excel shows it (num_pad()); any other stays as
 * today. "0" and "0.00" pad nothing: a value under them (an amount, a
 * rate) keeps every digit it has, as before.
 */
static int
numfmt_pad(const char *s, struct xfmt *f)
{
	size_t	 pad, dec = 0;

	pad = strspn(s, "0");
	if (s[pad] == '.') {
		dec = strspn(s + pad + 1, "0");
		if (dec == 0)
			return 0;
		s++;
	}
	if (pad < 2 || s[pad + dec] != '\0' || pad > XLSX_MAX_PAD ||
	    dec > XLSX_MAX_DEC)
		return 0;
	f->flags = XF_PAD;
	f->pad = (unsigned char)pad;
	f->dec = (unsigned char)dec;
	return 1;
}

/* What a custom format code shows. */
static struct xfmt
numfmt_code(const char *code)
{
	struct xfmt	 f = { 0, 0, 0 };

	if (!numfmt_pad(code, &f))
		f.flags = (unsigned char)numfmt_class(code);
	return f;
}

/*
 * What every cell style shows, from its number format: a table made
 * once, so that a cell costs one look-up (cell_begin()).
 */
static void
styles_resolve(struct xlsx *x)
{
	struct numfmt	 key, *f;
	size_t		 i;

	if (x->nfmts > 0)
		qsort(x->fmts, x->nfmts, sizeof(*x->fmts), numfmt_cmp);
	x->xf = xcalloc(x->nxf, sizeof(*x->xf));
	for (i = 0; i < x->nxf; i++) {
		key.id = x->xfid[i];
		f = x->nfmts == 0 ? NULL : bsearch(&key, x->fmts, x->nfmts,
		    sizeof(*x->fmts), numfmt_cmp);
		if (f != NULL)
			x->xf[i] = f->f;
		else
			x->xf[i].flags = (unsigned char)numfmt_builtin(key.id);
	}
}

/* ---------------------------------------------------- numbers, dates */

/* Is s a plain decimal number, as a spreadsheet writes one? */
static int
num_valid(const char *s)
{
	int	 digits = 0;

	if (*s == '-')
		s++;
	for (; *s >= '0' && *s <= '9'; s++)
		digits++;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			digits++;
	if (digits == 0)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* Is s already an integer as we print one: "0" or -?[1-9][0-9]{0,14}? */
static int
num_canonical(const char *s, size_t n)
{
	size_t	 i = 0;

	if (n == 1 && s[0] == '0')
		return 1;
	if (n > 0 && s[0] == '-')
		i++;
	if (i >= n || s[i] < '1' || s[i] > '9' || n - i > 15)
		return 0;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/*
 * Rewrite "-d.ddde+XX" (from %e) as a plain decimal when the exponent is
 * in [-7, 21), else as "d.ddde+XX" without trailing zeros.
 */
static void
num_plain(const char *e, char *out, size_t outlen)
{
	char		 dig[32], *o = out;
	size_t		 nd = 0, i;
	int		 exp, point;

	if (*e == '-')
		*o++ = *e++;
	for (; *e != 'e' && nd < sizeof(dig) - 1; e++)
		if (*e != '.')
			dig[nd++] = *e;
	exp = atoi(e + 1);
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	dig[nd] = '\0';
	if (exp < -7 || exp >= 21) {
		snprintf(o, outlen - (size_t)(o - out), "%c%s%se%+d", dig[0],
		    nd > 1 ? "." : "", dig + 1, exp);
		return;
	}
	point = exp + 1;
	if (point <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (i = 0; i < (size_t)-point; i++)
			*o++ = '0';
	}
	for (i = 0; i < nd || (int)i < point; i++) {
		if ((int)i == point && point > 0)
			*o++ = '.';
		*o++ = i < nd ? dig[i] : '0';
	}
	*o = '\0';
}

/*
 * The shortest text that reads back as v: integers without decimals or
 * exponent, others with 15, 16 or 17 significant digits.
 */
static void
num_shortest(double v, char *out, size_t outlen)
{
	char	 e[40];
	int	 prec;

	if (v == 0) {
		snprintf(out, outlen, "0");
		return;
	}
	if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
		snprintf(out, outlen, "%lld", (long long)v);
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	num_plain(e, out, outlen);
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
static void
civil(long long z, int *y, int *m, int *d)
{
	long long	 era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* v as exactly w digits at o (v < 10^w); returns the end. */
static char *
put_digits(char *o, long long v, int w)
{
	int	 i;

	for (i = w - 1; i >= 0; i--, v /= 10)
		o[i] = (char)('0' + v % 10);
	return o + w;
}

/* "HH:MM:SS" at o for secs < 86400; returns the end. */
static char *
put_time(char *o, long long secs)
{
	o = put_digits(o, secs / 3600, 2);
	*o++ = ':';
	o = put_digits(o, secs / 60 % 60, 2);
	*o++ = ':';
	return put_digits(o, secs % 60, 2);
}

/*
 * A date serial as "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS" (a time format
 * with a time of day) or "HH:MM:SS" (a time-only format under a day).
 * The 1900 system keeps Lotus' 1900-02-29 (serial 60). -1 if v is not
 * a date Excel can show. out holds XLSX_NUMLEN bytes.
 */
static int
num_date(double v, int date1904, unsigned fmt, char *out)
{
	long long	 t, days, secs = 0;
	int		 y, m, d;
	char		*o = out;

	if (!(v >= 0 && v + (date1904 ? XLSX_1904_OFFSET : 0) <
	    XLSX_MAX_SERIAL))
		return -1;
	t = (long long)(v * 86400 + 0.5);	/* to the nearest second */
	if (fmt & XF_TIME) {
		days = t / 86400;
		secs = t % 86400;
	} else
		days = (long long)v;
	if (!(fmt & XF_DATE) && days == 0) {
		*put_time(o, secs) = '\0';
		return 0;
	}
	if (date1904)
		days += XLSX_1904_OFFSET;
	if (days == 60) {
		y = 1900;
		m = 2;
		d = 29;
	} else
		civil((days < 60 ? days + 1 : days) - XLSX_EPOCH_UNIX, &y, &m,
		    &d);
	o = put_digits(o, y, 4);
	*o++ = '-';
	o = put_digits(o, m, 2);
	*o++ = '-';
	o = put_digits(o, d, 2);
	if (secs != 0) {
		*o++ = 'T';
		o = put_time(o, secs);
	}
	*o = '\0';
	return 0;
}

/*
 * The digits of |v| rounded half away from zero to dec decimals, as an
 * integer (the point dec digits from its end) into r: more than dec
 * digits, the first a zero unless a carry made it 1. Returns their
 * number, or 0 if they do not fit in rlen bytes. The rounding is done
 * on the XLSX_SIGDIG significant digits Excel keeps ("%.14e"), so 2.675
 * is 2.68, as Excel and LibreOffice show it; past them the digits are
 * zeros, as Excel shows 12345678901234567890 (12345678901234600000).
 */
static size_t
num_round(double v, int dec, char *r, size_t rlen)
{
	char	 e[40];
	char	 dig[XLSX_SIGDIG];
	int	 point, keep, lead, i, n = 0;

	snprintf(e, sizeof(e), "%.*e", XLSX_SIGDIG - 1, v < 0 ? -v : v);
	dig[0] = e[0];
	memcpy(dig + 1, e + 2, XLSX_SIGDIG - 1);
	point = atoi(strchr(e, 'e') + 1) + 1;	/* digits before the point */
	keep = point + dec;	/* digits of dig kept; dig[keep] rounds */
	lead = dec + 1 - (keep > 0 ? keep : 0);	/* zeros: more than dec */
	if (lead < 1)
		lead = 1;			/* a place for a carry */
	if ((size_t)lead + (keep > 0 ? (size_t)keep : 0) + 1 > rlen)
		return 0;
	for (i = 0; i < lead; i++)
		r[n++] = '0';
	for (i = 0; i < keep; i++)
		r[n++] = i < XLSX_SIGDIG ? dig[i] : '0';
	if (keep >= 0 && keep < XLSX_SIGDIG && dig[keep] >= '5')
		for (i = n - 1; (r[i] = (char)(r[i] == '9' ? '0' :
		    r[i] + 1)) == '0'; i--)
			;
	r[n] = '\0';
	return (size_t)n;
}

/*
 * A number under a format that only pads with zeros, as Excel shows it:
 * "0000000" makes 3311 "0003311" and -3311 "-0003311" (the sign before
 * the zeros), leaves 123456789 whole, and rounds 2.5 to "0000003";
 * "000.00" makes 3.14159 "003.14". A negative number that rounds to zero
 * keeps its sign ("-0000000"), as Excel shows it. -1 if it does not fit
 * in out (XLSX_NUMLEN bytes: numbers past about 1e40): then as today.
 */
static int
num_pad(double v, const struct xfmt *f, char *out)
{
	char	 r[XLSX_NUMLEN + 2], *o = out;
	size_t	 n, skip, intlen, i;

	if (!(v > -1e308 && v < 1e308) ||
	    (n = num_round(v, f->dec, r, sizeof(r))) == 0)
		return -1;
	for (skip = 0; skip + 1 < n - f->dec && r[skip] == '0'; skip++)
		;			/* leading zeros, the point's left kept */
	intlen = n - f->dec - skip;
	if (1 + (intlen > f->pad ? intlen : f->pad) + 1 + f->dec >=
	    XLSX_NUMLEN)
		return -1;
	if (v < 0)
		*o++ = '-';
	for (i = intlen; i < f->pad; i++)
		*o++ = '0';
	memcpy(o, r + skip, intlen);
	o += intlen;
	if (f->dec > 0) {
		*o++ = '.';
		memcpy(o, r + n - f->dec, f->dec);
		o += f->dec;
	}
	*o = '\0';
	return 0;
}

/* The days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static long long
days_civil(long long y, int m, int d)
{
	long long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n digits at *sp as a number in [min, max], moving *sp on; else -1. */
static int
iso_num(const char **sp, int n, int min, int max)
{
	int	 v = 0, i;

	for (i = 0; i < n; i++) {
		if ((*sp)[i] < '0' || (*sp)[i] > '9')
			return -1;
		v = v * 10 + ((*sp)[i] - '0');
	}
	*sp += n;
	return v >= min && v <= max ? v : -1;
}

/*
 * ISO 8601 as date cells hold it (t="d"; SheetJS, openpyxl):
 * "YYYY-MM-DD", optionally "THH:MM", ":SS", ".fff" and "Z" or an offset
 * "+HH:MM" ("+HHMM", "+HH"). The seconds since 1970-01-01 into *t (an
 * offset taken off, as LibreOffice reads it; "Z" as it is, which is how
 * SheetJS writes local time) and whether the fraction was half a second
 * or more into *half. 0, or -1 if s is not such a date.
 */
static int
iso_parse(const char *s, long long *t, int *half)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	 y, m, d, hh = 0, mm = 0, ss = 0, sign, oh, om = 0;

	*half = 0;
	if ((y = iso_num(&s, 4, 1, 9999)) == -1 || *s++ != '-' ||
	    (m = iso_num(&s, 2, 1, 12)) == -1 || *s++ != '-' ||
	    (d = iso_num(&s, 2, 1, mdays[m - 1])) == -1)
		return -1;
	if (m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400)))
		return -1;
	if (*s == 'T') {
		s++;
		if ((hh = iso_num(&s, 2, 0, 23)) == -1 || *s++ != ':' ||
		    (mm = iso_num(&s, 2, 0, 59)) == -1)
			return -1;
		if (*s == ':' && (s++, ss = iso_num(&s, 2, 0, 59)) == -1)
			return -1;
		if ((*s == '.' || *s == ',') && s[1] >= '0' && s[1] <= '9') {
			*half = s[1] >= '5';
			for (s++; *s >= '0' && *s <= '9'; s++)
				;
		}
	}
	*t = days_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
	if (*s == 'Z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if ((oh = iso_num(&s, 2, 0, 23)) == -1 || (*s == ':' && *++s ==
		    '\0') || (*s != '\0' && (om = iso_num(&s, 2, 0, 59)) == -1))
			return -1;
		*t -= sign * (oh * 3600 + om * 60);
	}
	return *s == '\0' ? 0 : -1;
}

/*
 * A date cell written as ISO 8601 text (t="d") as the numeric date cell
 * of its style shows it (num_date()): a date style gives "YYYY-MM-DD", a
 * time style with a time of day "YYYY-MM-DDTHH:MM:SS" (to the nearest
 * second), a time-only style on the system's day 0 "HH:MM:SS"; without
 * a date or time style, a date with its time if it has one. -1 if s is
 * not a date of years 1 to 9999. out holds XLSX_NUMLEN bytes.
 */
static int
num_iso(const char *s, size_t n, unsigned fmt, int date1904, char *out)
{
	long long	 t, days, secs;
	int		 half, y, m, d;
	char		*o = out;

	if (n > XLSX_ISO_LEN || iso_parse(s, &t, &half) == -1)
		return -1;
	if (!(fmt & (XF_DATE | XF_TIME)))
		fmt = XF_DATE | XF_TIME;
	if (fmt & XF_TIME)
		t += half;
	days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	secs = (fmt & XF_TIME) ? t - days * 86400 : 0;
	civil(days, &y, &m, &d);
	if (y < 1 || y > 9999)
		return -1;
	if (!(fmt & XF_DATE) && (days == days_civil(1899, 12, 30) ||
	    days == days_civil(1899, 12, 31) || (date1904 &&
	    days == days_civil(1904, 1, 1)))) {
		*put_time(o, secs) = '\0';
		return 0;
	}
	o = put_digits(o, y, 4);
	*o++ = '-';
	o = put_digits(o, m, 2);
	*o++ = '-';
	o = put_digits(o, d, 2);
	if (secs != 0) {
		*o++ = 'T';
		o = put_time(o, secs);
	}
	*o = '\0';
	return 0;
}

/*
 * The text of a number cell: a date by its style, a number padded with
 * zeros by its style, else the number reformatted, else (not a number
 * at all) as written.
 */
static const char *
num_format(struct xlsx *x, const char *s, size_t n, char *out, size_t outlen)
{
	double	 v;

	if (!num_valid(s))
		return s;
	v = strtod(s, NULL);
	if ((x->cfmt & XF_PAD) && num_pad(v, &x->cxf, out) == 0)
		return out;
	if ((x->cfmt & (XF_DATE | XF_TIME)) &&
	    num_date(v, x->date1904, x->cfmt, out) == 0)
		return out;
	if (num_canonical(s, n))
		return s;
	if (!(v > -1e308 && v < 1e308))
		return s;
	num_shortest(v, out, outlen);
	return out;
}

/* ------------------------------------------------------- expat engine */

static void
text_reset(struct xlsx *x)
{
	buf_reset(&x->text);
	x->textlen = 0;
}

/*
 * The grammar's handling of an element (local name, without its prefix),
 * its end, and text: the same whether the events come from expat or from
 * the tokenizer (xmltok.c).
 */
static void
el_start(struct xlsx *x, const char *local, const XML_Char **attr)
{
	struct xparse		*xp = &x->xp;
	const struct xgram	*g;
	enum xstate		 cur;
	size_t			 i;

	if (x->failed || x->fnstop)
		return;
	if (xp->skip > 0) {
		xp->skip++;
		return;
	}
	cur = xp->depth > 0 ? xp->stack[xp->depth - 1] : X_NONE;
	for (i = 0, g = xp->doc->gram; i < xp->doc->ngram; i++, g++)
		if (g->parent == cur && str_eq(g->name, local))
			break;
	if (i == xp->doc->ngram || xp->depth == XLSX_MAX_DEPTH) {
		xp->skip = 1;
		return;
	}
	xp->stack[xp->depth++] = g->state;
	xp->collect = g->text;
	if (xp->doc->start != NULL)
		xp->doc->start(x, g->state, attr);
}

static void
el_end(struct xlsx *x)
{
	struct xparse	*xp = &x->xp;
	enum xstate	 st;

	if (x->failed || x->fnstop)
		return;
	if (xp->skip > 0) {
		xp->skip--;
		return;
	}
	st = xp->stack[--xp->depth];
	xp->collect = 0;
	if (xp->doc->end != NULL)
		xp->doc->end(x, st);
}

/* Does text go into x->text now? */
static inline int
el_collects(const struct xlsx *x)
{
	return !x->failed && !x->fnstop && x->xp.collect && x->xp.skip == 0;
}

static void
el_text(struct xlsx *x, const char *s, size_t n)
{
	size_t	 room;

	if (!el_collects(x))
		return;
	x->textlen += n;
	if (x->textlen > MAX_FIELD_HARD) {
		xlsx_fail(x, "%s: text longer than %d bytes at line %lu",
		    x->xp.part, MAX_FIELD_HARD,
		    (unsigned long)XML_GetCurrentLineNumber(x->xp.p));
		return;
	}
	room = XLSX_TEXT_CAP - x->text.len;
	buf_add(&x->text, s, n < room ? n : room);
}

/*
 * Was this event given by the tokenizer already? After a hand-off expat
 * reads the part again from its start (part_parse()), and the events
 * before where the tokenizer stopped are skipped. Expat puts the end of
 * an empty element ("<c/>") where its tag ends, with no bytes of its own.
 */
static inline int
xml_replayed(struct xparse *xp, int end)
{
	unsigned long long	 at;

	if (xp->replay == 0)
		return 0;
	at = (unsigned long long)XML_GetCurrentByteIndex(xp->p);
	if (at < xp->replay || (end && at == xp->replay &&
	    XML_GetCurrentByteCount(xp->p) == 0))
		return 1;
	xp->replay = 0;
	return 0;
}

static void XMLCALL
xml_start(void *ud, const XML_Char *name, const XML_Char **attr)
{
	struct xlsx	*x = ud;

	if (!xml_replayed(&x->xp, 0))
		el_start(x, xml_local(name), attr);
}

static void XMLCALL
xml_end(void *ud, const XML_Char *name)
{
	struct xlsx	*x = ud;

	(void)name;
	if (!xml_replayed(&x->xp, 1))
		el_end(x);
}

static void XMLCALL
xml_text(void *ud, const XML_Char *s, int len)
{
	struct xlsx	*x = ud;

	if (!xml_replayed(&x->xp, 0))
		el_text(x, s, (size_t)len);
}

static void XMLCALL
xml_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int internal)
{
	struct xlsx	*x = ud;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)internal;
	xlsx_fail(x, "%s: DOCTYPE not allowed", x->xp.part);
}

static void XMLCALL
xml_entity(void *ud, const XML_Char *name, int param, const XML_Char *value,
    int vlen, const XML_Char *base, const XML_Char *sysid,
    const XML_Char *pubid, const XML_Char *notation)
{
	struct xlsx	*x = ud;

	(void)name, (void)param, (void)value, (void)vlen, (void)base;
	(void)sysid, (void)pubid, (void)notation;
	xlsx_fail(x, "%s: entity declarations not allowed", x->xp.part);
}

/* A parser for the part being read, whose state x->xp keeps. */
static void
xml_parser(struct xlsx *x)
{
	XML_Parser	 p;

	if ((p = XML_ParserCreate(NULL)) == NULL)
		fatalx("out of memory creating an XML parser");
	x->xp.p = p;
	x->xp.fed = 0;
	XML_SetUserData(p, x);
	XML_SetElementHandler(p, xml_start, xml_end);
	XML_SetCharacterDataHandler(p, xml_text);
	XML_SetStartDoctypeDeclHandler(p, xml_doctype);
	XML_SetEntityDeclHandler(p, xml_entity);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
}

/* A part begins: no element open, no text. */
static void
xml_begin(struct xlsx *x, const char *part, const struct xdoc *doc)
{
	memset(&x->xp, 0, sizeof(x->xp));
	x->xp.part = part;
	x->xp.doc = doc;
	text_reset(x);
}

/* ------------------------------------------------------------ parts */

static zip_int64_t
part_locate(struct xlsx *x, const char *part)
{
	zip_int64_t	 i;

	if ((i = zip_name_locate(x->za, part, 0)) < 0)
		i = zip_name_locate(x->za, part, ZIP_FL_NOCASE);
	return i;
}

/*
 * Refuse n inflated bytes of part (comp bytes compressed), all bytes of
 * the file with them: too many for the part or for the file, or too many
 * for the compressed size.
 */
static int
part_bomb(struct xlsx *x, const char *part, unsigned long long n,
    long long all, unsigned long long comp, long long limit)
{
	if (n > (unsigned long long)limit)
		return xlsx_fail(x, "%s: decompressed size exceeds %lld bytes "
		    "(zip bomb?)", part, limit);
	if (all > XLSX_MAX_TOTAL)
		return xlsx_fail(x, "%s: decompressed size exceeds %lld bytes "
		    "in all (zip bomb?)", part, XLSX_MAX_TOTAL);
	if (n > XLSX_RATIO_FLOOR && n / XLSX_MAX_RATIO > comp)
		return xlsx_fail(x, "%s: decompressed size exceeds %d times "
		    "the compressed size (zip bomb?)", part, XLSX_MAX_RATIO);
	return 0;
}

/*
 * Has expat held one token for too long? Between calls it holds what
 * follows its last event, which is where it reports being.
 */
static int
part_token(struct xlsx *x)
{
	if (x->xp.fed - (long long)XML_GetCurrentByteIndex(x->xp.p) <=
	    XLSX_MAX_TOKEN)
		return 0;
	return xlsx_fail(x, "%s: XML token longer than %d bytes at line %lu",
	    x->xp.part, XLSX_MAX_TOKEN,
	    (unsigned long)XML_GetCurrentLineNumber(x->xp.p));
}

/* Why expat stopped: ours, the row callback's, or malformed XML. */
static int
part_xmlerr(struct xlsx *x)
{
	if (x->failed)
		return -1;
	if (x->fnstop)
		return 1;
	return xlsx_fail(x, "%s: malformed XML at line %lu: %s", x->xp.part,
	    (unsigned long)XML_GetCurrentLineNumber(x->xp.p),
	    XML_ErrorString(XML_GetErrorCode(x->xp.p)));
}

/*
 * Parse n inflated bytes already in expat's buffer; got counts them, and
 * so does the file's total.
 */
static int
part_parse_some(struct xlsx *x, zip_int64_t n, const zip_stat_t *st,
    long long limit, unsigned long long *got)
{
	unsigned long long	 before = *got;
	long long		 all, add;

	*got += (unsigned long long)n;
	if (n == 0 || *got > x->xp.counted) {	/* not counted before */
		add = before >= x->xp.counted ? n :
		    (long long)(*got - x->xp.counted);
		all = x->total += add;
		if (part_bomb(x, x->xp.part, *got, all, st->comp_size,
		    limit) == -1)
			return -1;
	}
	x->xp.fed += n;
	if (XML_ParseBuffer(x->xp.p, (int)n, n == 0) != XML_STATUS_OK)
		return part_xmlerr(x);
	return part_token(x);
}

/* Inflate the open part zf into the parser in chunks. */
static int
part_feed(struct xlsx *x, zip_file_t *zf, const zip_stat_t *st,
    long long limit)
{
	unsigned long long	 got = 0;
	zip_int64_t		 n;
	void			*b;
	int			 rc;

	do {
		if ((b = XML_GetBuffer(x->xp.p, XLSX_CHUNK)) == NULL)
			fatalx("out of memory in the XML parser");
		if ((n = zip_fread(zf, b, XLSX_CHUNK)) < 0)
			return xlsx_fail(x, "%s: %s", x->xp.part,
			    zip_file_strerror(zf));
		if ((rc = part_parse_some(x, n, st, limit, &got)) != 0)
			return rc;
	} while (n > 0);
	return 0;
}

/* ------------------------------------------------- the sheet, fast */

/*
 * The tokenizer's events (xmltok.c) for the grammar. An element of the
 * grammar's names under a prefix is left to expat, as anything the
 * tokenizer does not take; so is text that would fail the file (expat
 * names its line).
 */
static int
doc_knows(const struct xdoc *doc, const char *local)
{
	size_t	 i;

	for (i = 0; i < doc->ngram; i++)
		if (str_eq(doc->gram[i].name, local))
			return 1;
	return 0;
}

static int
fast_start(void *arg, const char *name, const char **attr)
{
	struct xlsx	*x = arg;
	const char	*local = xml_local(name);

	if (local != name && doc_knows(x->xp.doc, local))
		return XT_HAND;
	el_start(x, local, attr);
	return x->failed || x->fnstop ? XT_STOP : 0;
}

static int
fast_end(void *arg)
{
	struct xlsx	*x = arg;

	el_end(x);
	return x->failed || x->fnstop ? XT_STOP : 0;
}

static int
fast_text(void *arg, const char *s, size_t n)
{
	struct xlsx	*x = arg;

	if (el_collects(x) && x->textlen + n > MAX_FIELD_HARD)
		return XT_HAND;
	el_text(x, s, n);
	return x->failed || x->fnstop ? XT_STOP : 0;
}

/* The next chunk of zf into t: its length, or -1 with the error set. */
static zip_int64_t
fast_chunk(struct xlsx *x, struct xtok *t, zip_file_t *zf)
{
	zip_int64_t	 n;

	if ((n = zip_fread(zf, xtok_buffer(t, XLSX_CHUNK), XLSX_CHUNK)) < 0)
		xlsx_fail(x, "%s: %s", x->xp.part, zip_file_strerror(zf));
	return n;
}

/*
 * The worksheet through the tokenizer, inflated as for expat, its bytes
 * counted alike. 0, 1 or -1 as part_parse(), or XLSX_HANDOFF: expat must
 * read the part from its start, skipping the events before x->xp.replay
 * and not counting the x->xp.counted bytes again.
 */
static int
sheet_fast(struct xlsx *x, zip_file_t *zf, const zip_stat_t *st,
    long long limit)
{
	static const struct xtok_cb cb = { fast_start, fast_end, fast_text };
	struct xtok		*t = xtok_new(&cb, x, XLSX_MAX_TOKEN);
	unsigned long long	 got = 0;
	long long		 all;
	zip_int64_t		 n;
	int			 rc = 0;

	do {
		if ((n = fast_chunk(x, t, zf)) < 0)
			break;
		got += (unsigned long long)n;
		all = x->total += n;
		if (part_bomb(x, x->xp.part, got, all, st->comp_size,
		    limit) == -1)
			break;
		rc = xtok_parse(t, (size_t)n, n == 0);
	} while (rc == 0 && n > 0);
	if (x->failed)
		rc = -1;
	else if (rc == XT_STOP)
		rc = 1;
	else if (rc == XT_HAND) {
		x->xp.replay = xtok_handoff(t);
		x->xp.counted = got;
		rc = XLSX_HANDOFF;
	}
	xtok_free(t);
	return rc;
}

/*
 * Stream one part of the archive through expat with grammar doc, at most
 * limit bytes; the worksheet through the tokenizer first, unless
 * xlsx_fast_sheet is 0. Returns 0, 1 when the row callback stopped it,
 * or -1 with the error set.
 */
static int
part_parse(struct xlsx *x, const char *part, const struct xdoc *doc,
    long long limit)
{
	zip_int64_t	 idx;
	zip_stat_t	 st;
	zip_file_t	*zf = NULL;
	int		 rc = 0;

	if ((idx = part_locate(x, part)) < 0)
		return xlsx_fail(x, "missing part %s", part);
	if (zip_stat_index(x->za, (zip_uint64_t)idx, 0, &st) == -1 ||
	    (st.valid & (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE)) !=
	    (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE))
		return xlsx_fail(x, "%s: %s", part, zip_strerror(x->za));
	if (part_bomb(x, part, st.size, x->total +
	    (long long)(st.size < XLSX_MAX_TOTAL ? st.size : XLSX_MAX_TOTAL),
	    st.comp_size, limit) == -1)
		return -1;
	if ((zf = zip_fopen_index(x->za, (zip_uint64_t)idx, 0)) == NULL)
		return xlsx_fail(x, "%s: %s", part, zip_strerror(x->za));
	xml_begin(x, part, doc);
	if (doc == &doc_sheet && xlsx_fast_sheet &&
	    (rc = sheet_fast(x, zf, &st, limit)) != XLSX_HANDOFF) {
		zip_fclose(zf);
		return rc;
	}
	if (rc == XLSX_HANDOFF) {	/* expat's, from the start again */
		zip_fclose(zf);
		if ((zf = zip_fopen_index(x->za, (zip_uint64_t)idx, 0)) ==
		    NULL)
			return xlsx_fail(x, "%s: %s", part,
			    zip_strerror(x->za));
	}
	xml_parser(x);
	rc = part_feed(x, zf, &st, limit);
	XML_ParserFree(x->xp.p);
	x->xp.p = NULL;
	zip_fclose(zf);
	return rc;
}

/* ---------------------------------------------------- relationships */

static void
rels_free(struct xlsx *x)
{
	size_t	 i;

	for (i = 0; i < x->nrels; i++) {
		free(x->rels[i].id);
		free(x->rels[i].type);
		free(x->rels[i].target);
	}
	free(x->rels);
	x->rels = NULL;
	x->nrels = 0;
}

static void
rels_start(struct xlsx *x, enum xstate st, const XML_Char **attr)
{
	const char	*id, *type, *target, *mode;
	struct rel	*r;

	if (st != R_REL)
		return;
	id = xml_attr(attr, "Id");
	type = xml_attr(attr, "Type");
	target = xml_attr(attr, "Target");
	mode = xml_attr(attr, "TargetMode");
	if (id == NULL || type == NULL || target == NULL ||
	    (mode != NULL && strcmp(mode, "Internal") != 0))
		return;
	if (x->nrels == XLSX_MAX_RELS) {
		xlsx_fail(x, "%s: more than %d relationships", x->xp.part,
		    XLSX_MAX_RELS);
		return;
	}
	x->rels = xrealloc(x->rels, (x->nrels + 1) * sizeof(*x->rels));
	r = &x->rels[x->nrels++];
	r->id = xstrdup(id);
	r->type = xstrdup(type);
	r->target = xstrdup(target);
}

static const struct rel *
rels_byid(struct xlsx *x, const char *id)
{
	size_t	 i;

	for (i = 0; i < x->nrels; i++)
		if (strcmp(x->rels[i].id, id) == 0)
			return &x->rels[i];
	return NULL;
}

/* The part of the first relationship of a type, from part; or NULL. */
static char *
rels_part(struct xlsx *x, const char *from, const char *type)
{
	size_t	 i;

	for (i = 0; i < x->nrels; i++)
		if (rel_is(&x->rels[i], type))
			return part_resolve(from, x->rels[i].target);
	return NULL;
}

/* "dir/_rels/name.rels" for "dir/name". Must be freed. */
static char *
rels_name(const char *part)
{
	const char	*sl = strrchr(part, '/');
	char		*s;
	int		 dir = sl != NULL ? (int)(sl - part + 1) : 0;

	xasprintf(&s, "%.*s_rels/%s.rels", dir, part, part + dir);
	return s;
}

/* ----------------------------------------------------------- workbook */

static void
book_start(struct xlsx *x, enum xstate st, const XML_Char **attr)
{
	const char	*name, *rid, *state;
	struct sheet	*s;

	if (st == W_PR) {
		x->date1904 = xml_bool(xml_attr(attr, "date1904"));
		return;
	}
	if (st != W_SHEET)
		return;
	name = xml_attr(attr, "name");
	rid = xml_attr(attr, "id");
	state = xml_attr(attr, "state");
	if (name == NULL || rid == NULL)
		return;
	if (x->nsheets == XLSX_MAX_SHEETS) {
		xlsx_fail(x, "%s: more than %d sheets", x->xp.part,
		    XLSX_MAX_SHEETS);
		return;
	}
	x->sheets = xrealloc(x->sheets, (x->nsheets + 1) * sizeof(*x->sheets));
	s = &x->sheets[x->nsheets++];
	s->name = xstrdup(name);
	s->rid = xstrdup(rid);
	s->hidden = state != NULL && strcmp(state, "visible") != 0;
}

/*
 * The workbook part, named by the package relationships (xl/workbook.xml
 * if they are missing), its sheets, then its own relationships.
 */
static int
book_read(struct xlsx *x)
{
	char	*rels = NULL;
	int	 rc = -1;

	if (part_locate(x, "_rels/.rels") >= 0) {
		if (part_parse(x, "_rels/.rels", &doc_rels, XLSX_MAX_META) != 0)
			goto out;
		x->book = rels_part(x, "", "officeDocument");
		rels_free(x);
	}
	if (x->book == NULL)
		x->book = xstrdup("xl/workbook.xml");
	if (part_parse(x, x->book, &doc_book, XLSX_MAX_META) != 0)
		goto out;
	if (x->nsheets == 0) {
		xlsx_fail(x, "%s: no sheets", x->book);
		goto out;
	}
	rels = rels_name(x->book);
	if (part_parse(x, rels, &doc_rels, XLSX_MAX_META) != 0)
		goto out;
	rc = 0;
out:
	free(rels);
	return rc;
}

/* The relationship of sheet s if it is a worksheet, else NULL. */
static const struct rel *
book_worksheet(struct xlsx *x, const struct sheet *s)
{
	const struct rel	*r = rels_byid(x, s->rid);

	return r != NULL && rel_is(r, "worksheet") ? r : NULL;
}

static const struct sheet *
book_byname(struct xlsx *x, const char *name)
{
	size_t	 i;

	for (i = 0; i < x->nsheets; i++)
		if (strcmp(x->sheets[i].name, name) == 0)
			return &x->sheets[i];
	for (i = 0; i < x->nsheets; i++)
		if (strcasecmp(x->sheets[i].name, name) == 0)
			return &x->sheets[i];
	return NULL;
}

static int
book_nosuch(struct xlsx *x, const char *name)
{
	struct buf	 b = { 0 };
	size_t		 i;

	buf_add(&b, "", 0);
	for (i = 0; i < x->nsheets; i++)
		buf_printf(&b, "%s%s", i > 0 ? ", " : "", x->sheets[i].name);
	xlsx_fail(x, "no sheet named '%s' (sheets: %s)", name, b.p);
	buf_free(&b);
	return -1;
}

/*
 * The part of the worksheet to read: the one named want, or the first
 * visible worksheet. Must be freed.
 */
static char *
book_pick(struct xlsx *x, const char *want)
{
	const struct sheet	*s = NULL;
	const struct rel	*r = NULL;
	size_t			 i;
	char			*part;

	if (want != NULL) {
		if ((s = book_byname(x, want)) == NULL) {
			book_nosuch(x, want);
			return NULL;
		}
		if ((r = book_worksheet(x, s)) == NULL) {
			xlsx_fail(x, "sheet '%s' is not a worksheet", s->name);
			return NULL;
		}
	}
	for (i = 0; r == NULL && i < x->nsheets; i++) {
		s = &x->sheets[i];
		if (!s->hidden)
			r = book_worksheet(x, s);
	}
	if (r == NULL) {
		xlsx_fail(x, "%s: no visible worksheet", x->book);
		return NULL;
	}
	if ((part = part_resolve(x->book, r->target)) == NULL)
		xlsx_fail(x, "sheet '%s': bad part name %s", s->name,
		    r->target);
	return part;
}

/* ------------------------------------------------------------- styles */

static void
styles_start(struct xlsx *x, enum xstate st, const XML_Char **attr)
{
	const char	*a, *code;
	long		 id;

	if ((a = xml_attr(attr, "numFmtId")) == NULL)
		a = st == T_XF ? "0" : "";
	id = dec_parse(a, 999999999);
	if (st == T_FMT && x->nfmts < XLSX_MAX_NUMFMT) {
		code = xml_attr(attr, "formatCode");
		if (id < 0 || code == NULL)
			return;
		x->fmts = xrealloc(x->fmts, (x->nfmts + 1) * sizeof(*x->fmts));
		x->fmts[x->nfmts].id = id;
		x->fmts[x->nfmts++].f = numfmt_code(code);
	} else if (st == T_XF && x->nxf < XLSX_MAX_XF) {
		x->xfid = xrealloc(x->xfid, (x->nxf + 1) * sizeof(*x->xfid));
		x->xfid[x->nxf++] = id < 0 ? 0 : id;
	}
}

/* ----------------------------------------------------- shared strings */

static void
sst_start(struct xlsx *x, enum xstate st, const XML_Char **attr)
{
	(void)attr;
	if (st == K_SI)
		text_reset(x);
}

/* Append a string. */
static void
sst_put(struct sstore *s, const char *t, size_t len)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->s = xrealloc(s->s, s->cap * sizeof(*s->s));
	}
	s->s[s->n].at = (uint32_t)s->text.len;
	s->s[s->n++].len = (uint32_t)len;
	buf_add(&s->text, t, len);
	s->text.len++;			/* its NUL */
}

static void
sst_end(struct xlsx *x, enum xstate st)
{
	struct sstore	*s = &x->sst;

	if (st != K_SI)
		return;
	if (s->n == XLSX_MAX_SST || s->text.len + x->text.len + 1 >
	    XLSX_MAX_SST_BYTES) {
		xlsx_fail(x, "%s: more than %d shared strings or %d bytes",
		    x->xp.part, XLSX_MAX_SST, XLSX_MAX_SST_BYTES);
		return;
	}
	x->text.len = xstr_text(x->text.p, x->text.len);
	sst_put(s, x->text.p, x->text.len);
}

static void
sst_free(struct sstore *s)
{
	buf_free(&s->text);
	free(s->s);
}

/* -------------------------------------------------------------- sheet */

static void
row_begin(struct xlsx *x, const XML_Char **attr)
{
	const char	*r = xml_attr(attr, "r");
	long		 n;

	n = r != NULL ? dec_parse(r, XLSX_MAX_ROWNUM) : (long)x->rownum + 1;
	if (n <= 0 || n > XLSX_MAX_ROWNUM) {
		xlsx_fail(x, "%s: row number '%s' after row %zu is not in "
		    "1..%d", x->xp.part, r != NULL ? r : "(next)", x->rownum,
		    XLSX_MAX_ROWNUM);
		return;
	}
	if ((size_t)n <= x->rownum) {
		xlsx_fail(x, "%s: row %ld out of order after row %zu",
		    x->xp.part, n, x->rownum);
		return;
	}
	x->rownum = (size_t)n;
	x->col = 0;
	x->ncells = 0;
	x->wide = 0;
	buf_reset(&x->rowtext);
}

static enum ctype
cell_type(const char *t)
{
	if (t == NULL || (t[0] == 'n' && t[1] == '\0'))
		return C_NUM;
	if (t[0] != '\0' && t[1] == '\0') {
		if (t[0] == 's')
			return C_SST;
		if (t[0] == 'b')
			return C_BOOL;
		if (t[0] == 'e')
			return C_ERR;
		if (t[0] == 'd')
			return C_DATE;
	}
	return C_STR;		/* str, inlineStr */
}

static void
cell_begin(struct xlsx *x, const XML_Char **attr)
{
	const char	*r = NULL, *t = NULL, *s = NULL, *a;
	char		 prev[4];
	size_t		 col;
	long		 xf;

	for (; attr[0] != NULL; attr += 2) {
		a = xml_local(attr[0]);
		if (a[0] != '\0' && a[1] == '\0') {
			if (a[0] == 'r')
				r = attr[1];
			else if (a[0] == 't')
				t = attr[1];
			else if (a[0] == 's')
				s = attr[1];
		}
	}
	col = r != NULL ? col_parse(r) : x->col + 1;
	if (col == 0 || col > XLSX_MAX_COL) {
		xlsx_fail(x, "%s: row %zu: cell reference '%s' %s", x->xp.part,
		    x->rownum, r != NULL ? r : "", col == 0 ? "is not valid" :
		    "is beyond column XFD");
		return;
	}
	if (col <= x->col) {
		col_name(x->col, prev);
		xlsx_fail(x, "%s: row %zu: cell %s out of order after column "
		    "%s", x->xp.part, x->rownum, r, prev);
		return;
	}
	x->col = col;
	x->ctype = cell_type(t);
	xf = s != NULL ? dec_parse(s, XLSX_MAX_XF) : 0;
	x->cfmt = 0;
	if (xf >= 0 && (size_t)xf < x->nxf && (x->cfmt = x->xf[xf].flags) &
	    XF_PAD)
		x->cxf = x->xf[xf];
	x->cformula = x->cvalue = 0;
	text_reset(x);
}

/* The shared string a cell's text indexes, or -1 with the error set. */
static int
cell_sst(struct xlsx *x, const char **v, size_t *n)
{
	const struct sstore	*s = &x->sst;
	long			 i;
	char			 c[4];

	i = dec_parse(x->text.len ? x->text.p : "", XLSX_MAX_SST);
	if (i < 0 || (size_t)i >= s->n) {
		col_name(x->col, c);
		return xlsx_fail(x, "%s: cell %s%zu: shared string '%.20s' "
		    "out of range (%zu strings)", x->xp.part, c, x->rownum,
		    x->text.len ? x->text.p : "", s->n);
	}
	*v = s->text.p + s->s[i].at;
	*n = s->s[i].len;
	return 0;
}

/* A cell's value as text, by its type; -1 with the error set. */
static int
cell_value(struct xlsx *x, const char **v, size_t *n, unsigned char *ff,
    char *num)
{
	*v = x->text.len ? x->text.p : "";
	*n = x->text.len;
	switch (x->ctype) {
	case C_SST:
		return cell_sst(x, v, n);
	case C_BOOL:
		if (strcmp(*v, "1") == 0 || strcmp(*v, "true") == 0)
			*v = "TRUE";
		else if (strcmp(*v, "0") == 0 || strcmp(*v, "false") == 0)
			*v = "FALSE";
		*n = strlen(*v);
		break;
	case C_ERR:
		*ff |= FF_ERROR;
		break;
	case C_NUM:
		if (*n > 0 && *n < XLSX_NUMLEN) {
			*v = num_format(x, *v, *n, num, XLSX_NUMLEN);
			*n = strlen(*v);
		}
		break;
	case C_STR:
		x->text.len = xstr_text(x->text.p, x->text.len);
		*n = x->text.len;
		break;
	case C_DATE:
		if (*n == 0)
			break;
		if (num_iso(*v, *n, x->cfmt, x->date1904, num) == 0) {
			*v = num;
			*n = strlen(num);
		} else
			*ff |= FF_BADDATE;	/* never taken as text */
		break;
	}
	return 0;
}

/*
 * A cell's value joins the row. An empty one is left out, unless it is
 * a formula never calculated (no <v>, or an empty one that is not a
 * string): that one is kept, empty, as FF_NOCALC.
 */
static void
cell_end(struct xlsx *x)
{
	char		 num[XLSX_NUMLEN];
	const char	*v;
	size_t		 n;
	unsigned char	 ff = 0;
	struct cellv	*c;

	if (cell_value(x, &v, &n, &ff, num) == -1)
		return;
	if (n == 0) {
		if (!x->cformula || (x->cvalue && x->ctype == C_STR))
			return;
		ff |= FF_NOCALC;
	}
	if (x->col > MAX_COLUMNS) {
		x->wide |= n > 0;
		return;
	}
	if (n > MAX_FIELD_LEN) {
		n = utf8_cut(v, n, MAX_FIELD_LEN);
		ff |= FF_TRUNC;
	}
	c = &x->cells[x->ncells++];
	c->col = x->col;
	c->len = n;
	c->ff = ff;
	c->p = NULL;
	if (x->ctype == C_SST && !(ff & FF_TRUNC)) {
		c->p = v;
		return;
	}
	c->off = x->rowtext.len;
	buf_add(&x->rowtext, v, n);
	buf_addc(&x->rowtext, '\0');
}

/* Hand a row with anything in it to the callback. */
static void
row_end(struct xlsx *x)
{
	struct rawrow	 rr;
	size_t		 i, j = 0;

	if (x->ncells == 0 && !x->wide)
		return;
	if (x->emitted == 0 && x->wide) {
		xlsx_fail(x, "%s: header row %zu has more than %d columns",
		    x->xp.part, x->rownum, MAX_COLUMNS);
		return;
	}
	if (x->emitted > MAX_ROWS) {
		xlsx_fail(x, "%s: more than %d data rows", x->xp.part,
		    MAX_ROWS);
		return;
	}
	memset(&rr, 0, sizeof(rr));
	rr.row = x->rownum;
	rr.nf = x->ncells > 0 ? x->cells[x->ncells - 1].col : 0;
	for (i = 0; i < rr.nf; i++) {
		if (x->cells[j].col == i + 1) {
			x->fv[i] = x->cells[j].p != NULL ? x->cells[j].p :
			    x->rowtext.p + x->cells[j].off;
			x->lenv[i] = x->cells[j].len;
			x->ffv[i] = x->cells[j++].ff;
		} else {
			x->fv[i] = "";
			x->lenv[i] = 0;
			x->ffv[i] = 0;
		}
	}
	rr.f = x->fv;
	rr.len = x->lenv;
	rr.ff = x->ffv;
	rr.wide = x->wide;
	x->emitted++;
	if (x->xp.p == NULL)		/* the tokenizer's */
		xlsx_fast_rows++;
	if (x->pipe != NULL)
		pipe_row(x, &rr);
	else if (x->fn(x->arg, &rr) != 0) {
		x->fnstop = 1;
		if (x->xp.p != NULL)
			XML_StopParser(x->xp.p, XML_FALSE);
	}
}

static void
sheet_start(struct xlsx *x, enum xstate st, const XML_Char **attr)
{
	if (st == H_SHEET)
		x->sawsheet = 1;
	else if (st == H_ROW)
		row_begin(x, attr);
	else if (st == H_C)
		cell_begin(x, attr);
	else if (st == H_V)
		x->cvalue = 1;
	else if (st == H_F)
		x->cformula = 1;
}

static void
sheet_end(struct xlsx *x, enum xstate st)
{
	if (st == H_C)
		cell_end(x);
	else if (st == H_ROW)
		row_end(x);
}

/* Parse the worksheet part, its rows to row_end(): 0, 1 or -1. */
static int
sheet_parse(struct xlsx *x, const char *part)
{
	int	 rc;

	rc = part_parse(x, part, &doc_sheet, XLSX_MAX_TOTAL);
	if (rc == 0 && !x->sawsheet)
		rc = xlsx_fail(x, "%s: not a worksheet", part);
	return rc;
}

/* ------------------------------------------------ rows to fn's thread */

/*
 * A big worksheet is inflated and parsed on a thread of its own, and its
 * rows are given to fn on the caller's thread, in batches of copies,
 * while the next are parsed: the rows' own work (the mapping, the
 * checks, the diff) runs beside the parse. The outcome is the one of a
 * parse on the caller's thread: the same rows in the same order, then
 * the parse's result; fn stopping the load stops the parse at its next
 * row, and what the parse met after that row is never told.
 */
struct xbrow {
	size_t		 row;
	size_t		 f0;		/* its first field in the batch */
	size_t		 nf;
	int		 wide;
};

struct xbatch {
	struct buf	 data;		/* the fields, each NUL-terminated */
	size_t		*off;		/* per field: where in data */
	size_t		*len;
	unsigned char	*ff;
	size_t		 nf, fcap;
	struct xbrow	*rows;
	size_t		 nrows;
};

struct xpipe {
	pthread_t	 tid;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct xbatch	 b[XLSX_NBATCH];
	size_t		 tail;		/* the parse fills b[tail] */
	size_t		 head;		/* fn reads b[head] */
	size_t		 nready;	/* handed over, not yet given back */
	int		 done;		/* the parse ended, with rc */
	int		 rc;
	atomic_int	 stop;		/* fn stopped the load */
	const char	**fv;		/* fn's row, MAX_COLUMNS */
	const char	*part;
	char		 err[MAX_ERRMSG]; /* the parse's error */
};

/* Hand over b[tail] (on the parse's thread) and wait for a free one. */
static void
pipe_hand(struct xpipe *pp)
{
	pthread_mutex_lock(&pp->mu);
	pp->nready++;
	pthread_cond_broadcast(&pp->cv);
	while (pp->nready == XLSX_NBATCH)
		pthread_cond_wait(&pp->cv, &pp->mu);
	pp->tail = (pp->tail + 1) % XLSX_NBATCH;
	pthread_mutex_unlock(&pp->mu);
}

/* A row of the parse into the batch it fills (row_end()). */
static void
pipe_row(struct xlsx *x, const struct rawrow *rr)
{
	struct xpipe	*pp = x->pipe;
	struct xbatch	*b = &pp->b[pp->tail];
	size_t		 i, n;

	if (atomic_load_explicit(&pp->stop, memory_order_relaxed)) {
		x->fnstop = 1;
		if (x->xp.p != NULL)
			XML_StopParser(x->xp.p, XML_FALSE);
		return;
	}
	if (b->nf + rr->nf > b->fcap) {
		b->fcap = b->nf + rr->nf + 4 * MAX_COLUMNS;
		b->off = xrealloc(b->off, b->fcap * sizeof(*b->off));
		b->len = xrealloc(b->len, b->fcap * sizeof(*b->len));
		b->ff = xrealloc(b->ff, b->fcap);
	}
	if (b->rows == NULL)
		b->rows = xcalloc(XLSX_BATCH_ROWS, sizeof(*b->rows));
	b->rows[b->nrows].row = rr->row;
	b->rows[b->nrows].f0 = b->nf;
	b->rows[b->nrows].nf = rr->nf;
	b->rows[b->nrows++].wide = rr->wide;
	for (i = n = 0; i < rr->nf; i++)
		n += rr->len[i] + 1;
	buf_grow(&b->data, n);
	for (i = 0; i < rr->nf; i++, b->nf++) {
		b->off[b->nf] = b->data.len;
		b->len[b->nf] = rr->len[i];
		b->ff[b->nf] = rr->ff[i];
		memcpy(b->data.p + b->data.len, rr->f[i], rr->len[i] + 1);
		b->data.len += rr->len[i] + 1;
	}
	if (b->nrows == XLSX_BATCH_ROWS || b->data.len >= XLSX_BATCH_BYTES)
		pipe_hand(pp);
}

static void *
pipe_main(void *arg)
{
	struct xlsx	*x = arg;
	struct xpipe	*pp = x->pipe;
	int		 rc;

	rc = sheet_parse(x, pp->part);
	if (pp->b[pp->tail].nrows > 0)
		pipe_hand(pp);
	pthread_mutex_lock(&pp->mu);
	pp->rc = rc;
	pp->done = 1;
	pthread_cond_broadcast(&pp->cv);
	pthread_mutex_unlock(&pp->mu);
	return NULL;
}

/* Row i of b to fn, with the next two as its peeks; fn's result. */
static int
pipe_give(struct xlsx *x, const struct xbatch *b, size_t i)
{
	const struct xbrow	*r = &b->rows[i];
	struct rawrow		 rr;
	struct rawhint		 h;	/* the peeks only: no prep */
	size_t			 k;

	memset(&rr, 0, sizeof(rr));
	memset(&h, 0, sizeof(h));
	for (k = 0; k < r->nf; k++)
		x->pipe->fv[k] = b->data.p + b->off[r->f0 + k];
	rr.row = r->row;
	rr.nf = r->nf;
	rr.f = x->pipe->fv;
	rr.len = b->len + r->f0;
	rr.ff = b->ff + r->f0;
	rr.wide = r->wide;
	xlsx_piped_rows++;
	for (k = 0; k < 2 && i + 1 + k < b->nrows; k++) {
		h.peek[k].base = b->data.p;
		h.peek[k].off = b->off + b->rows[i + 1 + k].f0;
		h.peek[k].len = b->len + b->rows[i + 1 + k].f0;
		h.peek[k].nf = b->rows[i + 1 + k].nf;
	}
	rr.hint = &h;
	return x->fn(x->arg, &rr);
}

/* fn's side: every batch, as it comes, until the parse ended. */
static int
pipe_drain(struct xlsx *x)
{
	struct xpipe	*pp = x->pipe;
	struct xbatch	*b;
	size_t		 i;
	int		 stop = 0;

	for (;;) {
		pthread_mutex_lock(&pp->mu);
		while (pp->nready == 0 && !pp->done)
			pthread_cond_wait(&pp->cv, &pp->mu);
		if (pp->nready == 0) {
			pthread_mutex_unlock(&pp->mu);
			return stop;
		}
		b = &pp->b[pp->head];
		pthread_mutex_unlock(&pp->mu);
		for (i = 0; !stop && i < b->nrows; i++)
			if (pipe_give(x, b, i) != 0) {
				stop = 1;
				atomic_store(&pp->stop, 1);
			}
		b->nrows = b->nf = 0;
		buf_reset(&b->data);
		pthread_mutex_lock(&pp->mu);
		pp->head = (pp->head + 1) % XLSX_NBATCH;
		pp->nready--;
		pthread_cond_broadcast(&pp->cv);
		pthread_mutex_unlock(&pp->mu);
	}
}

static void
pipe_free(struct xpipe *pp)
{
	size_t	 i;

	for (i = 0; i < XLSX_NBATCH; i++) {
		buf_free(&pp->b[i].data);
		free(pp->b[i].off);
		free(pp->b[i].len);
		free(pp->b[i].ff);
		free(pp->b[i].rows);
	}
	pthread_cond_destroy(&pp->cv);
	pthread_mutex_destroy(&pp->mu);
	free(pp->fv);
	free(pp);
}

/*
 * The worksheet on a thread of its own, its rows to fn here: 0, 1 or -1
 * as sheet_parse() on this thread, or -2 if the thread did not start.
 */
static int
pipe_run(struct xlsx *x, const char *part)
{
	struct xpipe	*pp = xcalloc(1, sizeof(*pp));
	char		*err = x->err;
	int		 rc;

	pp->part = part;
	pp->fv = xcalloc(MAX_COLUMNS, sizeof(*pp->fv));
	pthread_mutex_init(&pp->mu, NULL);
	pthread_cond_init(&pp->cv, NULL);
	x->pipe = pp;
	x->err = pp->err;		/* fn may write to err meanwhile */
	if (thread_start("xlsx-sheet", &pp->tid, pipe_main, x) != 0) {
		x->pipe = NULL;
		x->err = err;
		pipe_free(pp);
		return -2;
	}
	rc = pipe_drain(x);
	pthread_join(pp->tid, NULL);
	x->err = err;
	x->pipe = NULL;
	if (rc == 0 && (rc = pp->rc) == -1 && err != NULL && x->errlen > 0)
		snprintf(err, x->errlen, "%s", pp->err);
	pipe_free(pp);
	return rc;
}

/* The size of a part as the archive says, or 0. */
static unsigned long long
part_size(struct xlsx *x, const char *part)
{
	zip_int64_t	 idx;
	zip_stat_t	 st;

	if ((idx = part_locate(x, part)) < 0 ||
	    zip_stat_index(x->za, (zip_uint64_t)idx, 0, &st) == -1 ||
	    !(st.valid & ZIP_STAT_SIZE))
		return 0;
	return st.size;
}

/* Read the worksheet part, calling fn per row: 0, 1 or -1. */
static int
sheet_read(struct xlsx *x, const char *part)
{
	int	 rc;

	x->cells = xcalloc(MAX_COLUMNS, sizeof(*x->cells));
	x->fv = xcalloc(MAX_COLUMNS, sizeof(*x->fv));
	x->lenv = xcalloc(MAX_COLUMNS, sizeof(*x->lenv));
	x->ffv = xcalloc(MAX_COLUMNS, sizeof(*x->ffv));
	buf_add(&x->rowtext, "", 0);
	if (part_size(x, part) >= xlsx_thread_min &&
	    (rc = pipe_run(x, part)) != -2)
		return rc;
	return sheet_parse(x, part);
}

/* ------------------------------------------------------------ the load */

static int
xlsx_open(struct xlsx *x, const char *path)
{
	zip_error_t	 ze;
	zip_source_t	*src;

	zip_error_init(&ze);
	if ((src = zip_source_file_create(path, 0, -1, &ze)) != NULL) {
		x->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS,
		    &ze);
		if (x->za == NULL)
			zip_source_free(src);
	}
	if (x->za == NULL) {
		switch (zip_error_code_zip(&ze)) {
		case ZIP_ER_NOENT:
		case ZIP_ER_OPEN:
		case ZIP_ER_READ:
		case ZIP_ER_SEEK:
		case ZIP_ER_MEMORY:
			xlsx_fail(x, "cannot read: %s",
			    zip_error_strerror(&ze));
			break;
		default:
			xlsx_fail(x, "not a valid XLSX file: %s",
			    zip_error_strerror(&ze));
		}
	}
	zip_error_fini(&ze);
	return x->za != NULL ? 0 : -1;
}

/* The styles and shared strings the workbook's relationships name. */
static int
xlsx_tables(struct xlsx *x)
{
	char	*styles, *sst;
	int	 rc = -1;

	styles = rels_part(x, x->book, "styles");
	sst = rels_part(x, x->book, "sharedStrings");
	if (styles != NULL && part_parse(x, styles, &doc_styles,
	    XLSX_MAX_META) != 0)
		goto out;
	styles_resolve(x);
	buf_add(&x->text, "", 0);
	if (sst != NULL && part_parse(x, sst, &doc_sst, XLSX_MAX_TOTAL) != 0)
		goto out;
	rc = 0;
out:
	free(styles);
	free(sst);
	return rc;
}

static void
xlsx_free(struct xlsx *x)
{
	size_t	 i;

	if (x->za != NULL)
		zip_discard(x->za);
	rels_free(x);
	for (i = 0; i < x->nsheets; i++) {
		free(x->sheets[i].name);
		free(x->sheets[i].rid);
	}
	free(x->sheets);
	free(x->book);
	free(x->fmts);
	free(x->xfid);
	free(x->xf);
	buf_free(&x->text);
	sst_free(&x->sst);
	buf_free(&x->rowtext);
	free(x->cells);
	free(x->fv);
	free(x->lenv);
	free(x->ffv);
}

/*
 * Read the worksheet named sheet (NULL: the first visible one) of the
 * XLSX file at path and call fn for every row with a non-empty cell, the
 * header first. Returns 0 at the end, 1 when fn stopped it, or -1 with
 * the cause in err (without the file name).
 */
int
load_xlsx(const char *path, const char *sheet, rawrow_fn fn, void *arg,
    char *err, size_t errlen)
{
	struct xlsx	 x;
	char		*part = NULL;
	int		 rc = -1;

	memset(&x, 0, sizeof(x));
	x.err = err;
	x.errlen = errlen;
	x.fn = fn;
	x.arg = arg;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (xlsx_open(&x, path) == -1 || book_read(&x) == -1)
		goto out;
	if ((part = book_pick(&x, sheet)) == NULL)
		goto out;
	if (xlsx_tables(&x) == -1)
		goto out;
	rc = sheet_read(&x, part);
out:
	free(part);
	xlsx_free(&x);
	return rc;
}

/*
 * The worksheets of the workbook at path, and which one load_xlsx()
 * reads for sheet: what a load that found no usable header tells the
 * user (load.c). The book must be freed with xlsx_book_free().
 */
int
xlsx_book_sheets(const char *path, const char *sheet, struct xlsx_book *b,
    char *err, size_t errlen)
{
	struct xlsx		 x;
	const struct sheet	*want = NULL, *s;
	size_t			 i;
	int			 rc = -1;

	memset(b, 0, sizeof(*b));
	memset(&x, 0, sizeof(x));
	x.err = err;
	x.errlen = errlen;
	if (xlsx_open(&x, path) == -1 || book_read(&x) == -1)
		goto out;
	if (sheet != NULL)
		want = book_byname(&x, sheet);	/* NULL: read will be n */
	b->name = xcalloc(x.nsheets, sizeof(*b->name));
	b->hidden = xcalloc(x.nsheets, sizeof(*b->hidden));
	b->read = SIZE_MAX;
	for (i = 0; i < x.nsheets; i++) {
		s = &x.sheets[i];
		if (book_worksheet(&x, s) == NULL)
			continue;
		if (b->read == SIZE_MAX && (sheet != NULL ? s == want :
		    !s->hidden))
			b->read = b->n;
		b->hidden[b->n] = s->hidden;
		b->name[b->n++] = xstrdup(s->name);
	}
	if (b->read == SIZE_MAX)
		b->read = b->n;
	rc = 0;
out:
	xlsx_free(&x);
	return rc;
}

void
xlsx_book_free(struct xlsx_book *b)
{
	size_t	 i;

	for (i = 0; i < b->n; i++)
		free(b->name[i]);
	free(b->name);
	free(b->hidden);
	memset(b, 0, sizeof(*b));
}
