/*
 * Small helpers every stage uses: buffers, an arena, checked allocation,
 * a fast non-cryptographic hash, UTF-8 checking, time and number parsing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "rostersync.h"

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void	*p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		fatalx("out of memory (%zu x %zu bytes)", n, sz);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void	*q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
xasprintf(char **out, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(out, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory formatting a string");
	return n;
}

/* ---------------------------------------------------------------- buf */

static void
buf_grow(struct buf *b, size_t more)
{
	size_t	 need = b->len + more + 1;

	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 64;
	while (b->cap < need)
		b->cap *= 2;
	b->p = xrealloc(b->p, b->cap);
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addc(struct buf *b, int c)
{
	buf_grow(b, 1);
	b->p[b->len++] = (char)c;
	b->p[b->len] = '\0';
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("bad format string");
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* -------------------------------------------------------------- arena */

#define ARENA_BLOCK	(1024 * 1024)

struct arena_blk {
	struct arena_blk *next;
	size_t		  used;
	size_t		  cap;
	max_align_t	  data[];
};

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_blk *b = a->blk;
	size_t		  al = (n + 15) & ~(size_t)15;
	void		 *p;

	if (b == NULL || b->cap - b->used < al) {
		size_t cap = al > ARENA_BLOCK ? al : ARENA_BLOCK;

		b = xmalloc(sizeof(*b) + cap);
		b->used = 0;
		b->cap = cap;
		b->next = a->blk;
		a->blk = b;
	}
	p = (char *)b->data + b->used;
	b->used += al;
	a->used += n;
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char	*p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
arena_free(struct arena *a)
{
	struct arena_blk *b, *next;

	for (b = a->blk; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->blk = NULL;
	a->used = 0;
}

/* --------------------------------------------------------------- hash */

static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * A fast 64-bit hash for hash tables and row fingerprints: 8 bytes at a
 * time, each word mixed in with a multiply-rotate, finished by splitmix64.
 */
uint64_t
hash64(const void *p, size_t n, uint64_t seed)
{
	const unsigned char	*s = p;
	uint64_t		 h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
	uint64_t		 w;

	while (n >= 8) {
		memcpy(&w, s, 8);
		h ^= mix64(w + 0x9e3779b97f4a7c15ULL);
		h = (h << 27 | h >> 37) * 0xff51afd7ed558ccdULL;
		s += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, s, n);
	h ^= mix64(w ^ ((uint64_t)n << 56));
	return mix64(h);
}

/* ---------------------------------------------------------------- text */

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
int
utf8_valid(const char *p, size_t n)
{
	const unsigned char	*s = (const unsigned char *)p, *e = s + n;

	while (s < e) {
		unsigned c = *s;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (e - s < 2 || (s[1] & 0xc0) != 0x80)
				return 0;
			s += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (e - s < 3 || (s[1] & 0xc0) != 0x80 ||
			    (s[2] & 0xc0) != 0x80)
				return 0;
			if (c == 0xe0 && s[1] < 0xa0)
				return 0;
			if (c == 0xed && s[1] > 0x9f)
				return 0;
			s += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (e - s < 4 || (s[1] & 0xc0) != 0x80 ||
			    (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
				return 0;
			if (c == 0xf0 && s[1] < 0x90)
				return 0;
			if (c == 0xf4 && s[1] > 0x8f)
				return 0;
			s += 4;
		} else
			return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- time */

void
time_iso(time_t t, char out[21])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Accepts "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS][Z]" (UTC). */
time_t
time_parse_iso(const char *s)
{
	struct tm	 tm;
	const char	*e;

	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%Y-%m-%d", &tm);
	if (e == NULL)
		return (time_t)-1;
	if (*e == 'T' || *e == ' ') {
		const char *f = strptime(e + 1, "%H:%M:%S", &tm);

		if (f == NULL)
			f = strptime(e + 1, "%H:%M", &tm);
		if (f == NULL)
			return (time_t)-1;
		e = f;
	}
	if (*e == 'Z')
		e++;
	if (*e != '\0')
		return (time_t)-1;
	return timegm(&tm);
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
parse_ll(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* ------------------------------------------------------------- strmap */

struct strmap_ent {
	const char	*k;		/* NULL: empty */
	uint32_t	 len;
	uint32_t	 val;
};

static size_t
strmap_find(const struct strmap *m, const char *k, size_t len)
{
	size_t	 i = (size_t)hash64(k, len, 0) & (m->cap - 1);

	while (m->e[i].k != NULL && (m->e[i].len != len ||
	    memcmp(m->e[i].k, k, len) != 0))
		i = (i + 1) & (m->cap - 1);
	return i;
}

uint32_t
strmap_get(const struct strmap *m, const char *k, size_t len)
{
	size_t	 i;

	if (m->cap == 0)
		return STRMAP_NONE;
	i = strmap_find(m, k, len);
	return m->e[i].k ? m->e[i].val : STRMAP_NONE;
}

static void
strmap_grow(struct strmap *m)
{
	struct strmap	 old = *m;
	size_t		 i, j;

	m->cap = old.cap ? old.cap * 2 : 1024;
	m->e = xcalloc(m->cap, sizeof(*m->e));
	for (i = 0; i < old.cap; i++) {
		if (old.e[i].k == NULL)
			continue;
		j = strmap_find(m, old.e[i].k, old.e[i].len);
		m->e[j] = old.e[i];
	}
	free(old.e);
}

void
strmap_put(struct strmap *m, const char *k, size_t len, uint32_t val)
{
	size_t	 i;

	if ((m->n + 1) * 2 > m->cap)
		strmap_grow(m);
	i = strmap_find(m, k, len);
	if (m->e[i].k == NULL)
		m->n++;
	m->e[i].k = k;
	m->e[i].len = (uint32_t)len;
	m->e[i].val = val;
}

void
strmap_free(struct strmap *m)
{
	free(m->e);
	memset(m, 0, sizeof(*m));
}

/* --------------------------------------------------------------- json */

void
json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 i, start = 0;

	buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_add(b, s + start, i - start);
		start = i + 1;
		switch (c) {
		case '"':
			buf_adds(b, "\\\"");
			break;
		case '\\':
			buf_adds(b, "\\\\");
			break;
		case '\n':
			buf_adds(b, "\\n");
			break;
		case '\r':
			buf_adds(b, "\\r");
			break;
		case '\t':
			buf_adds(b, "\\t");
			break;
		default:
			buf_adds(b, "\\u00");
			buf_addc(b, hex[c >> 4]);
			buf_addc(b, hex[c & 15]);
		}
	}
	buf_add(b, s + start, n - start);
	buf_addc(b, '"');
}

static void
utf8_put(struct buf *b, unsigned cp)
{
	if (cp < 0x80)
		buf_addc(b, (int)cp);
	else if (cp < 0x800) {
		buf_addc(b, 0xc0 | (cp >> 6));
		buf_addc(b, 0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		buf_addc(b, 0xe0 | (cp >> 12));
		buf_addc(b, 0x80 | ((cp >> 6) & 0x3f));
		buf_addc(b, 0x80 | (cp & 0x3f));
	} else {
		buf_addc(b, 0xf0 | (cp >> 18));
		buf_addc(b, 0x80 | ((cp >> 12) & 0x3f));
		buf_addc(b, 0x80 | ((cp >> 6) & 0x3f));
		buf_addc(b, 0x80 | (cp & 0x3f));
	}
}

/* Read one JSON string at *pp (after the quote) into b. */
static int
json_read_str(const char **pp, struct buf *b)
{
	const char	*p = *pp;
	unsigned	 cp;

	buf_reset(b);
	buf_add(b, "", 0);
	while (*p != '"') {
		if (*p == '\0')
			return -1;
		if (*p != '\\') {
			buf_addc(b, *p++);
			continue;
		}
		p++;
		switch (*p) {
		case 'n': buf_addc(b, '\n'); break;
		case 'r': buf_addc(b, '\r'); break;
		case 't': buf_addc(b, '\t'); break;
		case 'b': buf_addc(b, '\b'); break;
		case 'f': buf_addc(b, '\f'); break;
		case 'u':
			if (sscanf(p + 1, "%4x", &cp) != 1)
				return -1;
			utf8_put(b, cp);
			p += 4;
			break;
		case '\0':
			return -1;
		default:
			buf_addc(b, *p);
		}
		p++;
	}
	*pp = p + 1;
	return 0;
}

/* Calls fn for every "key":"value" of a flat object of strings. */
int
json_flat_each(const char *s,
    void (*fn)(void *, const char *, const char *, size_t), void *arg)
{
	struct buf	 k = { 0 }, v = { 0 };
	const char	*p = s;
	int		 rc = -1;

	while (*p == ' ')
		p++;
	if (*p++ != '{')
		goto out;
	for (;;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '}') {
			rc = 0;
			break;
		}
		if (*p++ != '"' || json_read_str(&p, &k) == -1)
			break;
		while (*p == ' ' || *p == ':')
			p++;
		if (*p++ != '"' || json_read_str(&p, &v) == -1)
			break;
		fn(arg, k.p, v.p, v.len);
	}
out:
	buf_free(&k);
	buf_free(&v);
	return rc;
}
