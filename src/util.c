/*
 * Small helpers every stage uses: buffers, an arena, checked allocation,
 * a fast non-cryptographic hash, UTF-8 checking, time and number parsing.
 */
#include <sys/resource.h>
#include <sys/mman.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include <unicase.h>

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

/*
 * Arrays of a million entries, read in no order: their own mappings, on
 * huge pages where the kernel grants them on request (transparent_hugepage
 * "madvise", Debian's default). A lookup then misses the TLB far less,
 * and the array takes a few page faults instead of thousands: on a
 * virtual machine both cost the most. A mapping is zero until written and
 * takes memory only where it is; big_free() gives it all back at once
 * (free() would keep it in the heap), and big_realloc() grows it in place
 * or moves its pages (mremap), never holding two copies.
 */
#define BIG_HUGE	(4u << 20)	/* from here on, huge pages asked for */
#define HUGE_PAGE	(2u << 20)
#define BIG_HEAD	4096		/* a page before the array: its size */

static size_t
big_round(size_t n, size_t to)
{
	if (n > SIZE_MAX - to)
		fatalx("out of memory (%zu bytes)", n);
	return (n + to - 1) & ~(to - 1);
}

/* The array at a mapping of len bytes (its head included) from base. */
static void *
big_at(char *base, size_t len, size_t n)
{
	*(size_t *)(void *)base = len;
	/* The whole mapping, head too: one area that mremap() can move. */
	if (n >= BIG_HUGE)
		(void)madvise(base, len, MADV_HUGEPAGE);
	return base + BIG_HEAD;
}

void *
big_alloc(size_t n)
{
	size_t	 len = BIG_HEAD + big_round(n ? n : 1, BIG_HEAD);
	size_t	 extra = n >= BIG_HUGE ? HUGE_PAGE : 0, lead;
	char	*p;

	if ((p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		fatalx("out of memory (%zu bytes)", n);
	if (extra) {	/* the array on a huge page's boundary */
		lead = (HUGE_PAGE - (((uintptr_t)p + BIG_HEAD) &
		    (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
		if (lead > 0)
			munmap(p, lead);
		if (extra - lead > 0)
			munmap(p + lead + len, extra - lead);
		p += lead;
	}
	return big_at(p, len, n);
}

void *
big_calloc(size_t n, size_t sz)
{
	if (sz != 0 && n > SIZE_MAX / sz)
		fatalx("out of memory (%zu x %zu bytes)", n, sz);
	return big_alloc(n * sz);	/* a new mapping is zero */
}

/* Grow (or shrink) p to n bytes; what it held stays, the rest is zero. */
void *
big_realloc(void *p, size_t used, size_t n)
{
	char	*base, *q;
	size_t	 len, newlen = BIG_HEAD + big_round(n ? n : 1, BIG_HEAD);

	(void)used;
	if (p == NULL)
		return big_alloc(n);
	base = (char *)p - BIG_HEAD;
	len = *(size_t *)(void *)base;
	if ((q = mremap(base, len, newlen, MREMAP_MAYMOVE)) == MAP_FAILED)
		fatalx("out of memory (%zu bytes)", n);
	return big_at(q, newlen, n);
}

/* Safe with NULL. */
void
big_free(void *p)
{
	char	*base;

	if (p == NULL)
		return;
	base = (char *)p - BIG_HEAD;
	munmap(base, *(size_t *)(void *)base);
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

void
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

/*
 * n bytes at the given alignment (a power of two) from the current block,
 * or from a new one. Strings are packed (alignment 1): a million keys
 * and emails take their length, not a multiple of 16.
 */
static void *
arena_take(struct arena *a, size_t n, size_t align)
{
	struct arena_blk *b = a->blk;
	size_t		  off = 0;
	void		 *p;

	if (b != NULL)
		off = (b->used + align - 1) & ~(align - 1);
	if (b == NULL || off > b->cap || b->cap - off < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;

		b = xmalloc(sizeof(*b) + cap);
		b->cap = cap;
		b->next = a->blk;
		a->blk = b;
		off = 0;
	}
	p = (char *)b->data + off;
	b->used = off + n;
	a->used += n;
	return p;
}

/* Aligned for any type. */
void *
arena_alloc(struct arena *a, size_t n)
{
	return arena_take(a, n, sizeof(max_align_t));
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char	*p = arena_take(a, n + 1, 1);

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

static inline uint64_t
rd64(const unsigned char *p)
{
	uint64_t	 v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t
rd32(const unsigned char *p)
{
	uint32_t	 v;

	memcpy(&v, p, 4);
	return v;
}

/*
 * The n < 8 bytes at s as memcpy() into a zeroed word puts them, without
 * calling memcpy() for a few bytes twelve million times a run.
 */
static inline uint64_t
tail_word(const unsigned char *s, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n >= 4)
		return rd32(s) | rd32(s + n - 4) << (8 * (n - 4));
	return (n > 0 ? (uint64_t)s[0] : 0) |
	    (n > 1 ? (uint64_t)s[1] << 8 : 0) |
	    (n > 2 ? (uint64_t)s[2] << 16 : 0);
#else
	uint64_t	 w = 0;

	memcpy(&w, s, n);
	return w;
#endif
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
	w = tail_word(s, n);
	h ^= mix64(w ^ ((uint64_t)n << 56));
	return mix64(h);
}

/*
 * Two hashes of one text for known lines (snapshot.c), where the pair
 * stands for the text: lanes of different multipliers and rotations,
 * each word in both, so that the one loop makes both.
 */
void
hash128(const void *p, size_t n, uint64_t seed, uint64_t out[2])
{
	const unsigned char	*s = p;
	uint64_t		 a = seed ^ (n * 0x9e3779b97f4a7c15ULL);
	uint64_t		 b = ~seed ^ (n * 0xc2b2ae3d27d4eb4fULL);
	uint64_t		 w;

	while (n >= 8) {
		w = rd64(s);
		a ^= mix64(w + 0x9e3779b97f4a7c15ULL);
		a = (a << 27 | a >> 37) * 0xff51afd7ed558ccdULL;
		b ^= (w ^ 0x165667b19e3779f9ULL) * 0x94d049bb133111ebULL;
		b = (b << 31 | b >> 33) * 0xc4ceb9fe1a85ec53ULL;
		s += 8;
		n -= 8;
	}
	w = tail_word(s, n) ^ ((uint64_t)n << 56);
	a ^= mix64(w);
	b ^= (w ^ 0x165667b19e3779f9ULL) * 0x94d049bb133111ebULL;
	out[0] = mix64(a);
	out[1] = mix64(b ^ (b >> 29));
}

/* ---------------------------------------------------------------- text */

/* ------------------------------------------------------------ emails */

static int
ascii_only(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/*
 * Unicode case mapping of n bytes at s into b (libunistring, NFC): fold 1
 * for full case folding (comparisons), 0 for lower case (what is kept).
 * ASCII is done byte by byte; text that is not UTF-8 only in ASCII.
 */
static const char *
email_map(struct buf *b, const char *s, size_t n, int fold, size_t *outn)
{
	uint8_t	*r;
	size_t	 rn = 0, i;

	buf_reset(b);
	if (!ascii_only(s, n)) {
		r = (fold ? u8_casefold : u8_tolower)((const uint8_t *)s, n,
		    NULL, UNINORM_NFC, NULL, &rn);
		if (r != NULL) {
			buf_add(b, r, rn);
			free(r);
			*outn = rn;
			return b->p ? b->p : "";
		}
	}
	buf_add(b, s, n);
	for (i = 0; i < n; i++)
		if (b->p[i] >= 'A' && b->p[i] <= 'Z')
			b->p[i] = (char)(b->p[i] - 'A' + 'a');
	*outn = n;
	return b->p ? b->p : "";
}

const char *
email_lower(struct buf *b, const char *s, size_t n, size_t *outn)
{
	return email_map(b, s, n, 0, outn);
}

const char *
email_fold(struct buf *b, const char *s, size_t n, size_t *outn)
{
	return email_map(b, s, n, 1, outn);
}

int
email_same(const char *a, size_t na, const char *b, size_t nb)
{
	struct buf	 x = { 0 }, y = { 0 };
	const char	*fa, *fb;
	size_t		 la, lb;
	int		 same;

	if (na == nb && memcmp(a, b, na) == 0)
		return 1;
	if (ascii_only(a, na) && ascii_only(b, nb))
		return na == nb && strncasecmp(a, b, na) == 0;
	fa = email_fold(&x, a, na, &la);
	fb = email_fold(&y, b, nb, &lb);
	same = la == lb && memcmp(fa, fb, la) == 0;
	buf_free(&x);
	buf_free(&y);
	return same;
}

/*
 * The bytes at the start of p that are strict UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF), in whole characters: n when all
 * are, else where the first sequence that is not (or is cut off) starts.
 */
size_t
utf8_span(const char *p, size_t n)
{
	const unsigned char	*s = (const unsigned char *)p, *e = s + n;

	while (s < e) {
		unsigned c = *s;

		if (c < 0x80) {
			/* ASCII, the usual case: 8 bytes at a time. */
			for (s++; e - s >= 8 &&
			    (rd64(s) & 0x8080808080808080ULL) == 0; s += 8)
				;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (e - s < 2 || (s[1] & 0xc0) != 0x80)
				break;
			s += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (e - s < 3 || (s[1] & 0xc0) != 0x80 ||
			    (s[2] & 0xc0) != 0x80)
				break;
			if ((c == 0xe0 && s[1] < 0xa0) ||
			    (c == 0xed && s[1] > 0x9f))
				break;
			s += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (e - s < 4 || (s[1] & 0xc0) != 0x80 ||
			    (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
				break;
			if ((c == 0xf0 && s[1] < 0x90) ||
			    (c == 0xf4 && s[1] > 0x8f))
				break;
			s += 4;
		} else
			break;
	}
	return s < e ? (size_t)(s - (const unsigned char *)p) : n;
}

/* Strict UTF-8, every byte of it (utf8_span()). */
int
utf8_valid(const char *p, size_t n)
{
	return utf8_span(p, n) == n;
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

/*
 * Open addressing with linear probing, at most half full, 16 bytes an
 * entry. Beside the length each entry keeps 12 bits of its key's hash:
 * a probe reads the key itself (a cache miss in a map of a million keys)
 * only when those match, so a lookup costs about one miss for the entry
 * and one for the key. The hash is private to the map (fingerprints use
 * hash64()) and seeded per process, so an export cannot aim at one chain.
 */
#define SM_LENBITS	20		/* key lengths below 1 MB */
#define SM_LENMAX	((1U << SM_LENBITS) - 1)
#define SM_TAG(h)	((uint32_t)((h) >> 52) << SM_LENBITS)
#define SM_AHEAD	16		/* entries prefetched ahead in a grow */

struct strmap_ent {
	const char	*k;		/* NULL: empty */
	uint32_t	 tl;		/* SM_TAG of the hash | length */
	uint32_t	 val;
};

static uint64_t	 strmap_seed;

/* 8 bytes at a time; the last word overlaps the one before it. */
static inline uint64_t
strmap_hash(const char *k, size_t n)
{
	const unsigned char	*p = (const unsigned char *)k;
	uint64_t		 h = strmap_seed ^ (n * 0x9e3779b97f4a7c15ULL);
	uint64_t		 w;

	if (n >= 8) {
		for (; n > 8; p += 8, n -= 8) {
			h = (h ^ rd64(p)) * 0xbf58476d1ce4e5b9ULL;
			h ^= h >> 29;
		}
		w = rd64(p + n - 8);
	} else if (n >= 4)
		w = rd32(p) | rd32(p + n - 4) << 32;
	else if (n > 0)
		w = (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 |
		    (uint64_t)p[n - 1] << 16;
	else
		w = 0;
	return mix64(h ^ w);
}

static void
strmap_seed_init(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	strmap_seed = mix64((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^
	    (uint64_t)(uintptr_t)&ts) | 1;
}

/* The slot of key k (hash h), or of the empty entry that ends its run. */
static inline size_t
strmap_find(const struct strmap *m, const char *k, size_t len, uint64_t h)
{
	size_t			 mask = m->cap - 1, i = (size_t)h & mask;
	uint32_t		 tl = SM_TAG(h) | (uint32_t)len;
	const struct strmap_ent	*e;

	for (;; i = (i + 1) & mask) {
		e = &m->e[i];
		if (e->k == NULL || (e->tl == tl &&
		    memcmp(e->k, k, len) == 0))
			return i;
	}
}

/* All of n bytes to fd, through EINTR and short writes; 0 or -1. */
int
write_full(int fd, const void *p, size_t n)
{
	const char	*s = p;
	ssize_t		 w;

	while (n > 0) {
		if ((w = write(fd, s, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A seed for hashes of untrusted text, random per process. */
uint64_t
hash_seed(void)
{
	if (strmap_seed == 0)
		strmap_seed_init();
	return strmap_seed;
}

uint64_t
strmap_keyhash(const char *k, size_t len)
{
	return strmap_hash(k, len);
}

uint32_t
strmap_get_h(const struct strmap *m, const char *k, size_t len, uint64_t h)
{
	size_t	 i;

	if (m->cap == 0 || len > SM_LENMAX)
		return STRMAP_NONE;
	i = strmap_find(m, k, len, h);
	return m->e[i].k ? m->e[i].val : STRMAP_NONE;
}

uint32_t
strmap_get(const struct strmap *m, const char *k, size_t len)
{
	return strmap_get_h(m, k, len, strmap_hash(k, len));
}

/*
 * For loops over many keys: strmap_prefetch() a key some rounds ahead
 * (its slot comes into cache), strmap_peek() it nearer (its key and
 * value: the caller may prefetch what the value indexes), then
 * strmap_get() finds it without waiting for memory.
 */
void
strmap_prefetch_h(const struct strmap *m, size_t len, uint64_t h)
{
	if (m->cap == 0 || len > SM_LENMAX)
		return;
	__builtin_prefetch(&m->e[(size_t)h & (m->cap - 1)]);
}

void
strmap_prefetch(const struct strmap *m, const char *k, size_t len)
{
	strmap_prefetch_h(m, len, strmap_hash(k, len));
}

uint32_t
strmap_peek(const struct strmap *m, const char *k, size_t len)
{
	return strmap_peek_h(m, len, strmap_hash(k, len));
}

uint32_t
strmap_peek_h(const struct strmap *m, size_t len, uint64_t h)
{
	size_t			 mask = m->cap - 1, i;
	uint32_t		 tl;
	const struct strmap_ent	*e;

	if (m->cap == 0 || len > SM_LENMAX)
		return STRMAP_NONE;
	tl = SM_TAG(h) | (uint32_t)len;
	for (i = (size_t)h & mask;; i = (i + 1) & mask) {
		e = &m->e[i];
		if (e->k == NULL)
			return STRMAP_NONE;
		if (e->tl == tl) {
			__builtin_prefetch(e->k);
			return e->val;
		}
	}
}

static void
strmap_resize(struct strmap *m, size_t cap)
{
	struct strmap	 old = *m;
	size_t		 i, j, mask;

	m->cap = cap;
	m->e = big_calloc(m->cap, sizeof(*m->e));
	mask = m->cap - 1;
	for (i = 0; i < old.cap; i++) {
		const struct strmap_ent *e = &old.e[i];

		/* The keys are read in table order: fetch ahead. */
		if (i + SM_AHEAD < old.cap && old.e[i + SM_AHEAD].k != NULL)
			__builtin_prefetch(old.e[i + SM_AHEAD].k);
		if (e->k == NULL)
			continue;
		j = (size_t)strmap_hash(e->k, e->tl & SM_LENMAX) & mask;
		while (m->e[j].k != NULL)
			j = (j + 1) & mask;
		m->e[j] = *e;
	}
	big_free(old.e);
}

/* Keys are at most SM_LENMAX bytes (loaders cut values far below). */
void
strmap_put(struct strmap *m, const char *k, size_t len, uint32_t val)
{
	uint64_t	 h;
	size_t		 i;

	if (len > SM_LENMAX)
		fatalx("strmap: a key of %zu bytes", len);
	if (strmap_seed == 0)
		strmap_seed_init();
	if ((m->n + 1) * 8 > m->cap * 5)	/* at most 5/8 full */
		strmap_resize(m, m->cap ? m->cap * 2 : 1024);
	h = strmap_hash(k, len);
	i = strmap_find(m, k, len, h);
	if (m->e[i].k == NULL)
		m->n++;
	m->e[i].k = k;
	m->e[i].tl = SM_TAG(h) | (uint32_t)len;
	m->e[i].val = val;
}

void
strmap_reserve(struct strmap *m, size_t n)
{
	size_t	 cap = m->cap ? m->cap : 1024;

	while (cap * 5 < n * 8)
		cap *= 2;
	if (cap > m->cap)
		strmap_resize(m, cap);
}

void
strmap_free(struct strmap *m)
{
	big_free(m->e);
	memset(m, 0, sizeof(*m));
}

/* --------------------------------------------------------------- json */

/* s as a JSON string at o, which has room for 6 * n + 2 bytes; the end. */
char *
json_put(char *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 i;

	*o++ = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*o++ = (char)c;
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			memcpy(o, "u00", 3);
			o += 3;
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	return o;
}

void
json_str(struct buf *b, const char *s, size_t n)
{
	buf_grow(b, 6 * n + 2);
	b->len = (size_t)(json_put(b->p + b->len, s, n) - b->p);
	b->p[b->len] = '\0';
}

/* ,"k":"v" (null for NULL): no comma as an object's or array's first. */
void
json_kv(struct buf *b, const char *k, const char *v)
{
	if (b->len > 0 && b->p[b->len - 1] != '{' && b->p[b->len - 1] != '[')
		buf_addc(b, ',');
	json_str(b, k, strlen(k));
	buf_addc(b, ':');
	if (v == NULL)
		buf_adds(b, "null");
	else
		json_str(b, v, strlen(v));
}

/* A time as UTC ISO 8601, null for 0. */
void
json_time(struct buf *b, const char *k, time_t t)
{
	char	 iso[21];

	time_iso(t, iso);
	json_kv(b, k, t ? iso : NULL);
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

/* ------------------------------------------------------------ threads */

/* Is the thread named name one ROSTERSYNC_SERIAL ("all", or names with
 * commas) says to do without? */
static int
thread_serial(const char *name)
{
	static const char	*want;
	static int		 init;
	size_t			 n = strlen(name);
	const char		*p;

	if (!init) {
		init = 1;
		want = getenv("ROSTERSYNC_SERIAL");
	}
	if (want == NULL)
		return 0;
	if (strcmp(want, "all") == 0)
		return strcmp(name, "progress") != 0;	/* not a speed-up */
	for (p = want; (p = strstr(p, name)) != NULL; p += n)
		if ((p == want || p[-1] == ',') && (p[n] == ',' ||
		    p[n] == '\0'))
			return 1;
	return 0;
}

int
thread_start(const char *name, pthread_t *th, void *(*fn)(void *),
    void *arg)
{
	sigset_t	 all, old;
	int		 e;

	if (thread_serial(name)) {
		log_debug("%s: on the calling thread (ROSTERSYNC_SERIAL)",
		    name);
		return EAGAIN;
	}
	log_debug("%s: a thread of its own", name);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}

/*
 * The calling thread gives way to the others: work beside the critical
 * path (the reports' rows) that has time to spare before it is waited
 * for, while the main thread's transaction has none.
 */
void
thread_background(void)
{
	if (gettid() != getpid())	/* not the main thread itself */
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
}

/* ------------------------------------------------------------- faults */

/* A point named by an environment variable as POINT[:N]. */
struct faultpt {
	const char	*var;		/* the variable */
	const char	*want;		/* its value; NULL: unset, or done */
	size_t		 len;		/* of the point's name in it */
	long		 left;		/* passes until it fires */
};

static struct faultpt	 fault_kill = { "ROSTERSYNC_FAULT", NULL, 0, 1 };
/* Two pause points, each with its marker file: one on each of two
 * threads, so a test can order them. */
static struct faultpt	 fault_pause[2] = {
	{ "ROSTERSYNC_PAUSE", NULL, 0, 1 },
	{ "ROSTERSYNC_PAUSE2", NULL, 0, 1 },
};
static const char *const fault_marker[2] = {
	"ROSTERSYNC_PAUSE_FILE", "ROSTERSYNC_PAUSE2_FILE",
};
static pthread_once_t	 fault_once = PTHREAD_ONCE_INIT;

static void
fault_read(struct faultpt *fp)
{
	const char	*colon;

	if ((fp->want = getenv(fp->var)) == NULL)
		return;
	colon = strchr(fp->want, ':');
	fp->len = colon != NULL ? (size_t)(colon - fp->want) :
	    strlen(fp->want);
	if (colon != NULL)
		fp->left = strtol(colon + 1, NULL, 10);
}

static void
fault_init(void)
{
	fault_read(&fault_kill);
	fault_read(&fault_pause[0]);
	fault_read(&fault_pause[1]);
}

/* Is this the pass of point that fp names? Each fires once. */
static int
fault_hit(struct faultpt *fp, const char *point)
{
	if (fp->want == NULL || strlen(point) != fp->len ||
	    strncmp(point, fp->want, fp->len) != 0)
		return 0;
	if (fp->left > 1) {
		fp->left--;
		return 0;
	}
	fp->want = NULL;
	return 1;
}

/*
 * Stop here until the test removes the marker file that the variable var
 * names (made here), PAUSE_MAX_SECONDS at most. The interval timer (the
 * SFTP watchdog) is stopped meanwhile, and started again after.
 */
static void
fault_wait(const char *point, const char *var)
{
	const char		*marker = getenv(var);
	struct itimerval	 off, saved;
	struct timespec		 tick = { 0, 20 * 1000 * 1000 };
	long			 n;
	int			 fd;

	if (marker == NULL || (fd = open(marker, O_WRONLY | O_CREAT |
	    O_TRUNC | O_CLOEXEC, 0600)) == -1) {
		log_warnx("pause point %s: cannot make the marker file named "
		    "by %s; not pausing", point, var);
		return;
	}
	close(fd);
	memset(&off, 0, sizeof(off));
	setitimer(ITIMER_REAL, &off, &saved);
	for (n = PAUSE_MAX_SECONDS * 50L; n > 0 && access(marker, F_OK) == 0;
	    n--)
		nanosleep(&tick, NULL);
	if (n == 0) {
		log_warnx("pause point %s: %s still there after %d s; going "
		    "on", point, marker, PAUSE_MAX_SECONDS);
		unlink(marker);
	}
	setitimer(ITIMER_REAL, &saved, NULL);
}

/*
 * Tests: ROSTERSYNC_FAULT=POINT[:N] kills the process with SIGKILL the Nth
 * time (default the first) it passes the named point; ROSTERSYNC_PAUSE=
 * POINT[:N] makes it wait there that once, until the test has done what
 * it wants (fault_wait); ROSTERSYNC_PAUSE2 the same at a second point,
 * with ROSTERSYNC_PAUSE2_FILE. Unset, this costs three pointer
 * comparisons.
 */
void
fault(const char *point)
{
	size_t	 i;

	pthread_once(&fault_once, fault_init);
	for (i = 0; i < sizeof(fault_pause) / sizeof(fault_pause[0]); i++)
		if (fault_hit(&fault_pause[i], point))
			fault_wait(point, fault_marker[i]);
	if (fault_hit(&fault_kill, point))
		kill(getpid(), SIGKILL);
}
