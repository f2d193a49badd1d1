/*
 * Text tables for a terminal (history, items, users, status): a header
 * row, then one row per record, each cell padded to its column's display
 * width, or cut on a character boundary with "…". Widths are what a
 * terminal shows (wcwidth(3) in a UTF-8 locale: a CJK character takes
 * two columns, a combining mark none), not bytes. Values come from HR
 * exports and drop-zones: bytes that are not UTF-8 and control
 * characters are shown as U+FFFD, never passed to the terminal; so are
 * they in every text view and log line (text_safe(), text_printf()).
 */
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "rostersync.h"

#define ELLIPSIS	"\xe2\x80\xa6"	/* "…", one column */
#define REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD, one column */
#define TABLE_GAP	"  "		/* between two columns */

static locale_t		 utf8_loc;
static pthread_once_t	 utf8_once = PTHREAD_ONCE_INIT;

static void
utf8_locale_make(void)
{
	if ((utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0)) ==
	    (locale_t)0)
		utf8_loc = newlocale(LC_CTYPE_MASK, "en_US.UTF-8",
		    (locale_t)0);
}

/* The UTF-8 locale wcwidth() needs, made once (log lines come from any
 * thread); (locale_t)0 if none. */
static locale_t
utf8_locale(void)
{
	pthread_once(&utf8_once, utf8_locale_make);
	return utf8_loc;
}

/* The code point at s (n bytes left) and its length; 0 when not UTF-8. */
static size_t
u8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t	 len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (len > n || !utf8_valid((const char *)s, len))
		return 0;
	*cp = len == 2 ? s[0] & 0x1fU : len == 3 ? s[0] & 0x0fU : s[0] & 0x07U;
	for (i = 1; i < len; i++)
		*cp = *cp << 6 | (s[i] & 0x3fU);
	return len;
}

/* Columns a code point takes; -1 for one not to show (a control). */
static int
cp_width(uint32_t cp)
{
	locale_t	 loc = utf8_locale(), old;
	int		 w;

	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
		return -1;
	if (cp < 0x7f)
		return 1;
	if (loc == (locale_t)0)
		return 1;
	old = uselocale(loc);
	w = wcwidth((wchar_t)cp);
	uselocale(old);
	return w < 0 ? -1 : w;
}

/* One character of s for a terminal: its bytes (*out, *outlen), its
 * width, and how many bytes of s it took. */
static size_t
next_char(const char *s, size_t n, const char **out, size_t *outlen, int *w)
{
	uint32_t	 cp;
	size_t		 len = u8_next((const unsigned char *)s, n, &cp);

	if (len == 0 || (*w = cp_width(cp)) < 0) {
		*out = REPLACEMENT;
		*outlen = strlen(REPLACEMENT);
		*w = 1;
		return len ? len : 1;
	}
	*out = s;
	*outlen = len;
	return len;
}

int
text_width(const char *s)
{
	const char	*c;
	size_t		 n = strlen(s), i = 0, clen;
	int		 w, total = 0;

	while (i < n) {
		i += next_char(s + i, n - i, &c, &clen, &w);
		total += w;
	}
	return total;
}

/*
 * s into b taking exactly width columns: padded with spaces, or cut on
 * a character boundary (a base character keeps its combining marks)
 * and ended with "…". With full, a longer value is kept whole.
 */
void
text_cell(struct buf *b, const char *s, int width, int full, int right)
{
	const char	*c;
	size_t		 n = strlen(s), i = 0, clen;
	int		 w, used = 0, fits = text_width(s) <= width || full;
	int		 room = fits ? width : width - 1;

	right = right && fits;
	if (right)
		for (w = text_width(s); w < width; w++)
			buf_addc(b, ' ');
	while (i < n) {
		size_t step = next_char(s + i, n - i, &c, &clen, &w);

		if (!fits && w > 0 && used + w > room)
			break;
		buf_add(b, c, clen);
		used += w;
		i += step;
	}
	if (!fits) {
		buf_adds(b, ELLIPSIS);
		used++;
	}
	for (; !right && used < width; used++)
		buf_addc(b, ' ');
}

/*
 * s into b as a terminal shows it, whole: each control character and each
 * byte that is not UTF-8 as U+FFFD, as in a table's cells; with lines, a
 * newline stays one. Text from exports passes here before any view or
 * log line prints it.
 */
void
text_safe(struct buf *b, const char *s, int lines)
{
	const char	*c;
	size_t		 n = strlen(s), i = 0, clen;
	int		 w;

	while (i < n) {
		if (lines && s[i] == '\n') {
			buf_addc(b, '\n');
			i++;
			continue;
		}
		i += next_char(s + i, n - i, &c, &clen, &w);
		buf_add(b, c, clen);
	}
}

/* printf(3) for a text view: the text through text_safe(), lines kept. */
void
text_printf(const char *fmt, ...)
{
	struct buf	 b = { 0 };
	va_list		 ap;
	char		*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	text_safe(&b, s, 1);
	if (b.len > 0)
		fwrite(b.p, 1, b.len, stdout);
	buf_free(&b);
	free(s);
}

/* One row of cells (NULL: empty) under the columns; no trailing blanks. */
void
table_row(const struct tcol *col, size_t ncol, const char *const *cell)
{
	struct buf	 b = { 0 };
	size_t		 i;

	for (i = 0; i < ncol; i++) {
		if (i > 0)
			buf_adds(&b, TABLE_GAP);
		text_cell(&b, cell[i] ? cell[i] : "", col[i].width,
		    (col[i].flags & TC_FULL) != 0,
		    (col[i].flags & TC_RIGHT) != 0);
	}
	while (b.len > 0 && b.p[b.len - 1] == ' ')
		b.p[--b.len] = '\0';
	printf("%s\n", b.p ? b.p : "");
	buf_free(&b);
}

/* The header row: each column's title. */
void
table_head(const struct tcol *col, size_t ncol)
{
	const char	*title[MAX_TABLE_COLS];
	size_t		 i;

	for (i = 0; i < ncol && i < MAX_TABLE_COLS; i++)
		title[i] = col[i].title;
	table_row(col, i, title);
}
