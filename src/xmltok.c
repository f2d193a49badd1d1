/*
 * A small XML tokenizer for the shapes a worksheet is written in, beside
 * expat (load_xlsx.c reads the sheet with it): an optional XML
 * declaration (version 1.0, UTF-8), start, end and empty tags with
 * attributes, and text with the five predefined entities and character
 * references, in UTF-8, names in ASCII. It gives the caller the events
 * expat would give (start with NUL-terminated names and values, end,
 * text decoded and with its line ends as LF) and stops, before the first
 * byte of anything else: a comment, CDATA, a processing instruction, a
 * DOCTYPE, a name beyond ASCII, an entity it does not know, a byte that
 * is not well-formed, an end tag that does not match, nesting past
 * XT_MAXDEPTH, a token still open past the caller's limit. It then says
 * where it stopped (xtok_handoff()), and the caller gives the document to
 * expat, which skips what was given already and decides the rest. The
 * tokenizer only takes what it is sure of; for any input the events and
 * the outcome are expat's.
 *
 * It never reports an error itself: everything that is not well-formed
 * is handed to expat. A token (a tag, or a text run up to the next tag)
 * is handed to the callbacks only whole, so the bytes held between calls
 * are at least those expat would hold.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rostersync.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* After the bytes: a NUL that ends every scan, and room to read a
 * vector from it (zeroed: nothing undefined is looked at). */
#define XT_PAD	16

enum xphase { XP_START, XP_PROLOG, XP_ROOT, XP_AFTER };

struct xtok {
	const struct xtok_cb	*cb;
	void			*arg;
	size_t			 maxtok;	/* held past this: hand off */
	char			*buf;		/* bytes not yet taken, ... */
	size_t			 len;		/* ... and a NUL after them */
	size_t			 cap;
	unsigned long long	 base;		/* offset of buf[0] */
	unsigned long long	 hand;		/* where expat takes over */
	enum xphase		 phase;
	size_t			 depth;		/* open elements */
	unsigned char		 nlen[XT_MAXDEPTH];
	char			 name[XT_MAXDEPTH][XT_MAXNAME];
	const char		*attr[2 * XT_MAXATTR + 1];
};

/* Byte classes of text and attribute values; K_PLAIN is taken as is. */
enum { K_PLAIN, K_LT, K_AMP, K_RSQB, K_QUOT, K_APOS, K_WS, K_CR, K_HIGH,
    K_BAD };
static unsigned char	 kind[256];
/* Name bytes: N_START may begin a name, N_CHAR continue it. */
#define N_START	0x01
#define N_CHAR	0x02
static unsigned char	 namec[256];

static pthread_once_t	 tables_once = PTHREAD_ONCE_INIT;

static void
tables(void)
{
	int	 c;

	for (c = 0; c < 256; c++)
		kind[c] = c >= 0x80 ? K_HIGH : c < 0x20 || c == 0x7f ? K_BAD :
		    K_PLAIN;
	kind['<'] = K_LT;
	kind['&'] = K_AMP;
	kind[']'] = K_RSQB;
	kind['"'] = K_QUOT;
	kind['\''] = K_APOS;
	kind['\t'] = kind['\n'] = K_WS;
	kind['\r'] = K_CR;
	for (c = 0; c < 256; c++) {
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_')
			namec[c] = N_START | N_CHAR;
		else if ((c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == ':')
			namec[c] = N_CHAR;
	}
}

/*
 * A tokenizer calling cb with arg; a token held longer than maxtok bytes
 * is handed off. Must be freed with xtok_free().
 */
struct xtok *
xtok_new(const struct xtok_cb *cb, void *arg, size_t maxtok)
{
	struct xtok	*t = xcalloc(1, sizeof(*t));

	pthread_once(&tables_once, tables);
	t->cb = cb;
	t->arg = arg;
	t->maxtok = maxtok;
	return t;
}

void
xtok_free(struct xtok *t)
{
	if (t == NULL)
		return;
	free(t->buf);
	free(t);
}

/* Room for n more bytes, to be filled and given to xtok_parse(). */
void *
xtok_buffer(struct xtok *t, size_t n)
{
	if (t->len + n + 1 + XT_PAD > t->cap) {
		t->cap = t->len + n + 1 + XT_PAD > 2 * t->cap ?
		    t->len + n + 1 + XT_PAD : 2 * t->cap;
		t->buf = xrealloc(t->buf, t->cap);
	}
	return t->buf + t->len;
}

/* Where the tokenizer stopped: the offset expat takes over from. */
unsigned long long
xtok_handoff(const struct xtok *t)
{
	return t->hand;
}

/* ---------------------------------------------------------- scanning */

static inline const char *
skip_s(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

/*
 * The first byte at p that is not K_PLAIN; 16 at a time where SSE2 is
 * (every x86-64), reading at most the XT_PAD bytes past the NUL.
 */
static inline const char *
skip_plain(const char *p)
{
#ifdef __SSE2__
	const __m128i	 sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f),
			 lt = _mm_set1_epi8('<'), amp = _mm_set1_epi8('&'),
			 sq = _mm_set1_epi8(']'), qu = _mm_set1_epi8('"'),
			 ap = _mm_set1_epi8('\'');
	__m128i		 v, m;
	unsigned	 bits;

	for (;; p += 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)p);
		/* signed: below the space, or 0x80 and up */
		m = _mm_or_si128(_mm_cmplt_epi8(v, sp), _mm_cmpeq_epi8(v, del));
		m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, lt),
		    _mm_cmpeq_epi8(v, amp)));
		m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, sq),
		    _mm_or_si128(_mm_cmpeq_epi8(v, qu), _mm_cmpeq_epi8(v, ap))));
		if ((bits = (unsigned)_mm_movemask_epi8(m)) != 0)
			return p + __builtin_ctz(bits);
	}
#else
	while (kind[(unsigned char)*p] == K_PLAIN)
		p++;
	return p;
#endif
}

static inline const char *
skip_name(const char *p)
{
	while (namec[(unsigned char)*p] & N_CHAR)
		p++;
	return p;
}

/*
 * The length of the UTF-8 sequence at p if expat takes it as a character
 * (no surrogates, no U+FFFE or U+FFFF), 0 if it is not one, -1 if it may
 * be one but end comes first.
 */
static int
utf8_char(const unsigned char *p, const unsigned char *end)
{
	int	 n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if (p + i >= end)
			return -1;
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xef && p[1] == 0xbf && p[2] > 0xbd) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/* The UTF-8 of code point u at w; returns the end. */
static char *
put_utf8(char *w, unsigned long u)
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

/* Is u a character XML allows (XML 1.0, production Char)? */
static int
xml_char(unsigned long u)
{
	return u == 0x9 || u == 0xa || u == 0xd || (u >= 0x20 && u <= 0xd7ff) ||
	    (u >= 0xe000 && u <= 0xfffd) || (u >= 0x10000 && u <= 0x10ffff);
}

/*
 * The reference at p ("&..."): its length, with the character it stands
 * for in *u; 0 if it is not one this tokenizer takes, -1 if end comes
 * first.
 */
static int
ref_scan(const char *p, const char *end, unsigned long *u)
{
	static const struct { const char *s; int n; char c; } named[] = {
		{ "lt;", 3, '<' }, { "gt;", 3, '>' }, { "amp;", 4, '&' },
		{ "quot;", 5, '"' }, { "apos;", 5, '\'' },
	};
	const char	*q = p + 1;
	int		 base = 10, nd = 0, d;
	size_t		 i;

	if (q >= end)
		return -1;
	if (*q != '#') {
		for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
			if ((size_t)(end - q) < (size_t)named[i].n &&
			    strncmp(q, named[i].s, (size_t)(end - q)) == 0)
				return -1;
			if (strncmp(q, named[i].s, (size_t)named[i].n) == 0) {
				*u = (unsigned char)named[i].c;
				return named[i].n + 1;
			}
		}
		return 0;
	}
	if (++q < end && *q == 'x') {
		base = 16;
		q++;
	}
	for (*u = 0; q < end; q++, nd++) {
		if (*q >= '0' && *q <= '9')
			d = *q - '0';
		else if (base == 16 && (*q | 0x20) >= 'a' && (*q | 0x20) <= 'f')
			d = (*q | 0x20) - 'a' + 10;
		else
			break;
		if (nd == XT_MAXREF)
			return 0;
		*u = *u * (unsigned long)base + (unsigned long)d;
	}
	if (q >= end)
		return -1;
	if (*q != ';' || nd == 0 || !xml_char(*u))
		return 0;
	return (int)(q + 1 - p);
}

/*
 * Scan text (attr: an attribute value ending at quote) from *pp: at the
 * end of a text run (the '<' after it) or at the value's quote, *pp is
 * there and 0 is returned, with *fix set when the text has references or
 * line ends to rewrite. XT_MORE when end comes first, XT_HAND at
 * anything not well-formed or not taken here.
 */
static int
text_scan(const char **pp, const char *end, int attr, char quote, int *fix)
{
	const char	*p = *pp;
	unsigned long	 u;
	int		 n;

	for (;;) {
		p = skip_plain(p);
		if (*p == (attr ? quote : '<') && p < end) {
			*pp = p;	/* the usual end */
			return 0;
		}
		if (p >= end)
			return XT_MORE;
		switch (kind[(unsigned char)*p]) {
		case K_LT:
			*pp = p;
			return attr ? XT_HAND : 0;
		case K_QUOT:
		case K_APOS:
			if (attr && *p == quote) {
				*pp = p;
				return 0;
			}
			p++;
			break;
		case K_RSQB:
			if (!attr && p[1] == ']' && p[2] == '>')
				return XT_HAND;
			p++;
			break;
		case K_AMP:
			if ((n = ref_scan(p, end, &u)) <= 0)
				return n == 0 ? XT_HAND : XT_MORE;
			*fix = 1;
			p += n;
			break;
		case K_WS:
			*fix |= attr;
			p++;
			break;
		case K_CR:
			*fix = 1;
			p++;
			break;
		case K_HIGH:
			if ((n = utf8_char((const unsigned char *)p,
			    (const unsigned char *)end)) <= 0)
				return n == 0 ? XT_HAND : XT_MORE;
			p += n;
			break;
		default:
			return XT_HAND;
		}
	}
}

/*
 * Rewrite scanned text in place as expat gives it: references decoded,
 * CR LF and a lone CR as LF (in an attribute value, white space as a
 * space; a character reference stays as it is). Returns the new length.
 */
static size_t
text_fix(char *s, size_t n, int attr)
{
	const char	*r = s, *e = s + n;
	char		*w = s;
	unsigned long	 u;
	int		 k;

	while (r < e) {
		if (*r == '&') {
			k = ref_scan(r, e, &u);
			r += k;
			w = put_utf8(w, u);
		} else if (*r == '\r') {
			r += r + 1 < e && r[1] == '\n' ? 2 : 1;
			*w++ = attr ? ' ' : '\n';
		} else if (attr && (*r == '\n' || *r == '\t')) {
			r++;
			*w++ = ' ';
		} else
			*w++ = *r++;
	}
	return (size_t)(w - s);
}

/* ------------------------------------------------------------- tokens */

/* "S? = S?" and a quote from p (after a name) on; *pp at the quote. */
static int
eq_scan(const char **pp, const char *end, const char *p)
{
	p = skip_s(p);
	if (p >= end)
		return XT_MORE;
	if (*p != '=')
		return XT_HAND;
	p = skip_s(p + 1);
	if (p >= end)
		return XT_MORE;
	if (*p != '"' && *p != '\'')
		return XT_HAND;
	*pp = p;
	return 0;
}

/* An XML declaration's pseudo-attribute "name S? = S? 'value'" at *pp. */
static int
decl_attr(const char **pp, const char *end, const char *name,
    const char **v, size_t *vlen)
{
	const char	*p = *pp, *q;
	size_t		 n = strlen(name);
	int		 rc;

	if ((size_t)(end - p) < n)
		return XT_MORE;
	if (strncmp(p, name, n) != 0)
		return XT_HAND;
	if ((rc = eq_scan(&p, end, p + n)) != 0)
		return rc;
	if ((q = memchr(p + 1, *p, (size_t)(end - p - 1))) == NULL)
		return XT_MORE;
	*v = p + 1;
	*vlen = (size_t)(q - p - 1);
	*pp = q + 1;
	return 0;
}

/*
 * The XML declaration at the start of the document, if it is one of
 * version 1.0 in UTF-8, standalone or not; any other is expat's.
 */
static int
tok_decl(struct xtok *t, const char **pp, const char *end)
{
	const char	*p = *pp + 5, *v, *s;
	size_t		 n;
	int		 rc;

	if (end - *pp < 6)
		return XT_MORE;
	if (strncmp(*pp, "<?xml", 5) != 0 || (*p != ' ' && *p != '\t' &&
	    *p != '\n' && *p != '\r'))
		return XT_HAND;
	p = skip_s(p);
	if ((rc = decl_attr(&p, end, "version", &v, &n)) != 0)
		return rc;
	if (n != 3 || strncmp(v, "1.0", 3) != 0)
		return XT_HAND;
	s = p;
	p = skip_s(p);
	if (p < end && *p == 'e' && p > s) {
		if ((rc = decl_attr(&p, end, "encoding", &v, &n)) != 0)
			return rc;
		if (n != 5 || strncasecmp(v, "UTF-8", 5) != 0)
			return XT_HAND;
		s = p;
		p = skip_s(p);
	}
	if (p < end && *p == 's' && p > s) {
		if ((rc = decl_attr(&p, end, "standalone", &v, &n)) != 0)
			return rc;
		if (!(n == 3 && strncmp(v, "yes", 3) == 0) &&
		    !(n == 2 && strncmp(v, "no", 2) == 0))
			return XT_HAND;
		p = skip_s(p);
	}
	if (end - p < 2)
		return XT_MORE;
	if (p[0] != '?' || p[1] != '>')
		return XT_HAND;
	*pp = p + 2;
	t->phase = XP_PROLOG;
	return 0;
}

/* One scanned attribute: name [n, ne), value [v, ve). */
struct xtattr {
	char	*n, *ne, *v, *ve;
	int	 fix;
};

/* The attributes and the end of the start tag whose name ends at p. */
static int
attrs_scan(const char **pp, const char *end, struct xtattr *a, size_t *na,
    int *empty)
{
	const char	*p = *pp, *s;
	char		 q;
	int		 rc;

	for (*na = 0;; (*na)++) {
		s = p;
		p = skip_s(p);
		if (p >= end)
			return XT_MORE;
		if (*p == '>' || *p == '/') {
			if (*p == '/' && p + 1 >= end)
				return XT_MORE;
			if (*p == '/' && p[1] != '>')
				return XT_HAND;
			*empty = *p == '/';
			*pp = p + 1 + *empty;
			return 0;
		}
		if (p == s || !(namec[(unsigned char)*p] & N_START) ||
		    *na == XT_MAXATTR)
			return XT_HAND;
		a[*na].n = (char *)p;
		a[*na].ne = (char *)skip_name(p);
		if ((rc = eq_scan(&p, end, a[*na].ne)) != 0)
			return rc;
		q = *p++;
		a[*na].v = (char *)p;
		a[*na].fix = 0;
		if ((rc = text_scan(&p, end, 1, q, &a[*na].fix)) != 0)
			return rc;
		a[*na].ve = (char *)p++;
	}
}

/* Two attributes of one name: expat's error, not ours. */
static int
attrs_dup(const struct xtattr *a, size_t na)
{
	size_t	 i, j, n;

	for (i = 0; i + 1 < na; i++) {
		n = (size_t)(a[i].ne - a[i].n);
		for (j = i + 1; j < na; j++)
			if ((size_t)(a[j].ne - a[j].n) == n &&
			    a[i].n[0] == a[j].n[0] &&
			    memcmp(a[i].n, a[j].n, n) == 0)
				return 1;
	}
	return 0;
}

static int
tok_start(struct xtok *t, const char **pp, const char *end)
{
	struct xtattr	 a[XT_MAXATTR];
	char		*name = (char *)*pp + 1, *ne;
	const char	*p;
	size_t		 na, i, nlen;
	int		 empty = 0, rc;

	ne = (char *)skip_name(name);
	p = ne;
	if ((rc = attrs_scan(&p, end, a, &na, &empty)) != 0)
		return rc;
	nlen = (size_t)(ne - name);
	if (t->phase == XP_AFTER || nlen >= XT_MAXNAME ||
	    t->depth == XT_MAXDEPTH || attrs_dup(a, na))
		return XT_HAND;
	/* Whole and well-formed: end the strings in place. */
	*ne = '\0';
	for (i = 0; i < na; i++) {
		*a[i].ne = '\0';
		if (a[i].fix)
			a[i].ve = a[i].v + text_fix(a[i].v,
			    (size_t)(a[i].ve - a[i].v), 1);
		*a[i].ve = '\0';
		t->attr[2 * i] = a[i].n;
		t->attr[2 * i + 1] = a[i].v;
	}
	t->attr[2 * na] = NULL;
	if ((rc = t->cb->start(t->arg, name, t->attr)) == XT_HAND)
		return rc;
	for (i = 0; i < nlen; i++)
		t->name[t->depth][i] = name[i];
	t->nlen[t->depth++] = (unsigned char)nlen;
	t->phase = XP_ROOT;
	*pp = p;
	if (rc != 0 || !empty)
		return rc;
	if (--t->depth == 0)
		t->phase = XP_AFTER;
	return t->cb->end(t->arg);
}

static int
tok_end(struct xtok *t, const char **pp, const char *end)
{
	const char	*name = *pp + 2, *p, *open;
	size_t		 nlen, i;

	p = skip_name(name);
	nlen = (size_t)(p - name);
	p = skip_s(p);
	if (p >= end)
		return XT_MORE;
	if (*p != '>' || t->depth == 0 || nlen != t->nlen[t->depth - 1])
		return XT_HAND;
	for (i = 0, open = t->name[t->depth - 1]; i < nlen; i++)
		if (name[i] != open[i])
			return XT_HAND;
	*pp = p + 1;
	if (--t->depth == 0)
		t->phase = XP_AFTER;
	return t->cb->end(t->arg);
}

/* A text run inside the root element, up to the next tag. */
static int
tok_text(struct xtok *t, const char **pp, const char *end)
{
	const char	*p = *pp;
	size_t		 n;
	int		 fix = 0, rc;

	if ((rc = text_scan(&p, end, 0, 0, &fix)) != 0)
		return rc;
	n = (size_t)(p - *pp);
	if (fix)
		n = text_fix((char *)*pp, n, 0);
	if ((rc = t->cb->text(t->arg, *pp, n)) == 0)
		*pp = p;
	return rc;
}

/* The token at *pp; *pp moves past it when it was taken (0). */
static int
tok_one(struct xtok *t, const char **pp, const char *end)
{
	const char	*p = *pp;

	if (*p != '<') {
		if (t->phase == XP_ROOT)
			return tok_text(t, pp, end);
		p = skip_s(p);	/* outside the root: white space only */
		if (p == *pp)
			return p >= end ? XT_MORE : XT_HAND;
		*pp = p;
		if (t->phase == XP_START)
			t->phase = XP_PROLOG;
		return 0;
	}
	if (p + 1 >= end)
		return XT_MORE;
	if (p[1] == '/')
		return tok_end(t, pp, end);
	if (p[1] == '?' && t->phase == XP_START)
		return tok_decl(t, pp, end);
	if (!(namec[(unsigned char)p[1]] & N_START))
		return XT_HAND;
	return tok_start(t, pp, end);
}

/*
 * Parse the n bytes put at xtok_buffer(t, n) (which is called first,
 * also for none; final: the document ends there). 0: go on; XT_STOP: a callback asked to stop; XT_HAND: the rest
 * is expat's, from xtok_handoff() on.
 */
int
xtok_parse(struct xtok *t, size_t n, int final)
{
	const char	*p, *end;
	int		 rc = 0;

	t->len += n;
	memset(t->buf + t->len, 0, 1 + XT_PAD);
	p = t->buf;
	end = t->buf + t->len;
	while (p < end && (rc = tok_one(t, &p, end)) == 0)
		;
	n = (size_t)(p - t->buf);
	t->base += n;
	t->len -= n;
	memmove(t->buf, p, t->len + 1);
	if (rc == XT_MORE)
		rc = 0;
	if (rc == 0 && (final ? t->phase != XP_AFTER || t->len > 0 :
	    t->len > t->maxtok))
		rc = XT_HAND;
	if (rc == XT_HAND)
		t->hand = t->base;
	return rc;
}
