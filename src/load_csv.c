/*
 * The CSV format: stream a delimited text file through libcsv and hand
 * each record to the loader as a struct rawrow, the header first.
 *
 * Bytes go through three stages, one read(2) chunk at a time:
 *
 *   raw      a byte-order mark picks the encoding: UTF-8 (mark skipped),
 *            or UTF-16 LE/BE, converted to UTF-8 with iconv(3). Without a
 *            UTF-16 mark, a NUL byte fails the file. The Windows-1252
 *            fallback of "auto" also reads the bytes as UTF-8: whole
 *            characters beyond ASCII and bytes that are not UTF-8 in one
 *            file fail it, naming a row of each.
 *   head     text is held until the first line ends outside quotes so
 *            the delimiter can be chosen: Excel's "sep=X" line (skipped),
 *            else the most frequent of , ; TAB | outside quotes in the
 *            header line, ties going to the first in that order.
 *   parse    a plain line (below) is split here; anything else goes
 *            through libcsv. The fields of many records are collected in
 *            a batch (one byte buffer and offsets, reused), so there is
 *            no allocation per field.
 *
 * Most lines of an export are plain: no quote inside a field (a field
 * quoted whole is fine), no CR but the one before the LF, shorter than
 * MAX_FIELD_LEN, and met while libcsv is between rows. For those, libcsv's
 * rules are short: a field at each delimiter, spaces and tabs (unless the
 * delimiter) dropped around it, a line of nothing else skipped.
 * fast_line() applies them to the usual line (no "" inside quotes, at
 * most MAX_COLUMNS fields) from the positions of its special bytes, and
 * plain_line() to the other plain ones, at several times libcsv's speed;
 * any other line, and a line's end when a chunk cut it, goes to libcsv,
 * which then holds the rest of that row. The rows are the same
 * either way: test_load_csv and the CSV fuzzer compare the two.
 *
 * The rows go to fn, in file order, a batch at a time as each fills, so
 * that every row comes with hints of the rows after it (their keys, which
 * the diff fetches ahead of); only the header goes alone and at once when
 * known lines are looked for, since their hashes need its columns. The
 * outcome is rows up to the first error, or up to the row where fn
 * stopped.
 *
 * Memory stays bounded whatever the input: one chunk, the head, libcsv's
 * field buffer (capped just above MAX_FIELD_HARD) and one batch of about
 * CSV_BATCH_BYTES, growing to one record of at most MAX_COLUMNS fields of
 * MAX_FIELD_LEN bytes if it must. UTF-8 is checked as each record is
 * read, and flagged per field for the loader.
 *
 * libcsv drops spaces and tabs around unquoted fields and between a closing
 * quote and the delimiter, and skips lines that are blank or only white
 * space; nothing else is trimmed. Row numbers count records: the header
 * is row 1, and a quoted field spanning lines is still one row.
 */
#include <sys/stat.h>

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "known.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define CSV_CHUNK	(256 * 1024)	/* bytes per read(2) */
#define CSV_UTF8_CHUNK	(64 * 1024)	/* iconv output per call */
#define CSV_HEAD_MAX	(256 * 1024)	/* text searched for the header's end */
#define CSV_BLK_SIZE	(64 * 1024)	/* libcsv field buffer growth step */
/* libcsv's field buffer: MAX_FIELD_HARD bytes, a closing quote, the NUL. */
#define CSV_FIELD_CAP	((size_t)MAX_FIELD_HARD + 3)
#define CSV_OPTS	CSV_APPEND_NULL
#define CSV_BATCH_BYTES	(256 * 1024)	/* field bytes that fill a batch */
#define CSV_BATCH_ROWS	4096		/* ... or rows */

int	 load_csv_plain_lines = 1;

/* One record in a batch. */
struct brow {
	size_t			 row;		/* record number: header is 1 */
	size_t			 f0;		/* its first field in the batch */
	size_t			 nf;
	int			 wide;		/* dropped a non-empty field */
	int			 noeol;		/* the file ended in it */
	int			 prepped;	/* by the prep, with prep */
	struct rowprep		 prep;
	size_t			 koff, klen;	/* its key, if prep.kh_ok */
};

/* Records parsed and not yet given to fn. */
struct batch {
	struct buf		 data;		/* fields, each NUL-terminated */
	size_t			*foff;		/* per field: offset in data */
	size_t			*flen;
	unsigned char		*ff;		/* FF_* */
	size_t			 nf, fcap;
	struct brow		*row;
	size_t			 nrow, rowcap;
};

struct csvr {
	struct csv_parser	 cp;
	rawrow_fn		 fn;
	rowprep_fn		 prep;		/* as each record is read */
	rowknown_fn		 known;		/* and this, for whole lines */
	const struct rowprep	*line;		/* the record's line, hashed */
	void			*arg;
	char			 err[MAX_ERRMSG]; /* the reader's error */
	int			 status;	/* 0, 1 stopped, -1 error */
	int			 bomdone;	/* encoding decided */
	int			 mark8;		/* fallback: a UTF-8 mark */
	int			 eof;		/* the last bytes: none held */
	iconv_t			 cd;		/* converted in, or (iconv_t)-1 */
	struct textenc		*enc;		/* the setting and the decision */
	struct textenc		 encauto;	/* enc when the caller gave none */
	unsigned long long	 off;		/* file offset of rbuf[0] */

	int			 started;	/* the delimiter is chosen */
	unsigned char		 cls[256];	/* C_* of each byte */
	unsigned char		 delim;
	struct buf		 unq;		/* a field with "" undone */
	struct buf		 head;		/* text until then */
	size_t			 hscan;		/* head bytes searched */
	int			 hquote;	/* inside quotes at hscan */

	size_t			 nrec;		/* records parsed */
	size_t			 nf;		/* fields in this record */
	int			 wide;		/* dropped a non-empty field */
	int			 ascii;		/* the record has no byte >= 0x80 */
	struct batch		 b;		/* records not yet given to fn */
	const char		*f[MAX_COLUMNS]; /* fn's view of a record */
	char			*pf[MAX_COLUMNS]; /* the prep's */

	char			 rbuf[CSV_CHUNK];
	char			 ubuf[CSV_UTF8_CHUNK];
};

/* Record the first error; everything after it is ignored. */
static void __attribute__((format(printf, 2, 3)))
csvr_err(struct csvr *r, const char *fmt, ...)
{
	va_list	 ap;

	if (r->status != 0)
		return;
	r->status = -1;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

/* libcsv's realloc: refusing to grow past the cap ends the parse. */
static void *
csvr_realloc(void *p, size_t n)
{
	if (n > CSV_FIELD_CAP)
		return NULL;
	return realloc(p, n);
}

/* The longest prefix of s no longer than max that ends between characters. */
static size_t
field_cut(const unsigned char *s, size_t max)
{
	size_t	 n = max;

	while (n > 0 && max - n < 3 && (s[n] & 0xc0) == 0x80)
		n--;
	if ((s[n] & 0xc0) == 0x80)
		return max;	/* not UTF-8 anyway */
	return n;
}

/* ---------------------------------------------------------- batches */

static void
batch_free(struct batch *b)
{
	buf_free(&b->data);
	free(b->foff);
	free(b->flen);
	free(b->ff);
	free(b->row);
	memset(b, 0, sizeof(*b));
}

static void
batch_reset(struct batch *b)
{
	b->data.len = 0;
	b->nf = b->nrow = 0;
}

/* Room for n more bytes of fields. */
static void
batch_room(struct batch *b, size_t n)
{
	size_t	 cap = b->data.cap ? b->data.cap : CSV_BATCH_BYTES;

	if (b->data.cap - b->data.len >= n)
		return;
	while (cap - b->data.len < n)
		cap *= 2;
	b->data.p = xrealloc(b->data.p, cap);
	b->data.cap = cap;
}

/* Room for n more fields. */
static void
batch_fields(struct batch *b, size_t n)
{
	if (b->fcap - b->nf >= n)
		return;
	while (b->fcap - b->nf < n)
		b->fcap = b->fcap ? b->fcap * 2 : 1024;
	b->foff = xrealloc(b->foff, b->fcap * sizeof(*b->foff));
	b->flen = xrealloc(b->flen, b->fcap * sizeof(*b->flen));
	b->ff = xrealloc(b->ff, b->fcap * sizeof(*b->ff));
}

/* Give fn the records of b in order: 1 if it stopped, else 0. */
/* Rows ahead that the caller may prefetch for (see struct rawrow). */
#define PEEK_FAR	16
#define PEEK_NEAR	8

static void
peek(const struct batch *b, size_t i, struct rowpeek *p)
{
	const struct brow	*w;

	if (i >= b->nrow)
		return;
	w = &b->row[i];
	if (w->prepped && w->prep.known) {
		p->known = w->prep.known;
		return;
	}
	if (w->prepped && w->prep.kh_ok) {
		/* From the row alone: its fields' offsets are further away
		 * in memory, and not in cache yet. */
		p->key = b->data.p + w->koff;
		p->keylen = w->klen;
		p->kh = w->prep.kh;
		return;
	}
	p->base = b->data.p;
	p->off = b->foff + w->f0;
	p->len = b->flen + w->f0;
	p->nf = w->nf;
}

static int
batch_deliver(struct csvr *r, const struct batch *b)
{
	struct rawrow	 rr;
	struct rawhint	 h;
	size_t		 i, k;

	for (i = 0; i < b->nrow; i++) {
		const struct brow *w = &b->row[i];

		for (k = 0; k < w->nf; k++)
			r->f[k] = b->data.p + b->foff[w->f0 + k];
		memset(&rr, 0, sizeof(rr));
		memset(&h, 0, sizeof(h));
		rr.row = w->row;
		rr.nf = w->nf;
		rr.f = r->f;
		rr.len = b->flen + w->f0;
		rr.ff = b->ff + w->f0;
		rr.wide = w->wide;
		rr.noeol = w->noeol;
		rr.utf8_checked = 1;
		h.prepped = w->prepped;
		h.prep = w->prep;
		rr.hint = &h;
		rr.delim = r->delim;
		peek(b, i + PEEK_FAR, &h.peek[0]);
		peek(b, i + PEEK_NEAR, &h.peek[1]);
		if (r->fn(r->arg, &rr) != 0)
			return 1;
	}
	return 0;
}

/*
 * The batch is full, or the last: its rows to fn, and it is empty again.
 * A stop in rows before an error wins, as fn saw them first.
 */
static void
batch_ready(struct csvr *r)
{
	if (batch_deliver(r, &r->b))
		r->status = 1;
	batch_reset(&r->b);
}

/* ---------------------------------------------------------- records */

/*
 * Line breaks inside a quoted field become LF (CR LF and a lone CR), so
 * the same text saved on another system is the same value. In place;
 * the new length.
 */
static size_t
field_lf(char *s, size_t len)
{
	size_t	 i, o;

	if (memchr(s, '\r', len) == NULL)
		return len;
	for (i = o = 0; i < len; i++) {
		if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
			continue;
		s[o++] = s[i] == '\r' ? '\n' : s[i];
	}
	return o;
}

/* libcsv's field callback: append one field to the record. */
static void
csvr_field(void *s, size_t len, void *arg)
{
	struct csvr	*r = arg;
	struct batch	*b = &r->b;
	unsigned char	 ff = 0;

	if (r->status != 0)
		return;
	len = field_lf(s, len);
	if (len > MAX_FIELD_HARD) {
		csvr_err(r, "a field longer than %d bytes at row %zu",
		    MAX_FIELD_HARD, r->nrec + 1);
		return;
	}
	if (r->nf == MAX_COLUMNS) {
		if (r->nrec == 0)
			csvr_err(r, "the header has more than %d columns",
			    MAX_COLUMNS);
		else if (len > 0)
			r->wide = 1;
		return;
	}
	if (len > MAX_FIELD_LEN) {
		len = field_cut(s, MAX_FIELD_LEN);
		ff = FF_TRUNC;
	}
	batch_fields(b, 1);
	b->foff[b->nf] = b->data.len;
	b->flen[b->nf] = len;
	b->ff[b->nf++] = ff;
	r->nf++;
	batch_room(b, len + 1);
	memcpy(b->data.p + b->data.len, s, len);
	b->data.len += len;
	b->data.p[b->data.len++] = '\0';
}

/*
 * UTF-8, checked as the row is read, while the bytes are hot: the row's
 * fields lie one after the other, each ended by a NUL, which no sequence
 * can span, so one check of the whole row answers for every field unless
 * it fails; then each field is checked.
 */
static void
mark_utf8(struct batch *b, const struct brow *w)
{
	size_t	 k, at;

	if (w->nf == 0)
		return;
	at = b->foff[w->f0];
	if (utf8_valid(b->data.p + at, b->data.len - at))
		return;
	for (k = w->f0; k < w->f0 + w->nf; k++)
		if (!utf8_valid(b->data.p + b->foff[k], b->flen[k]))
			b->ff[k] |= FF_BADUTF8;
}

/* The prep of the record w, as it is read; fields it trimmed start
 * further on. */
static void
prep_record(struct csvr *r, struct batch *b, struct brow *w)
{
	size_t	 k;

	w->prepped = 0;
	w->prep.lh_ok = 0;
	w->prep.known = 0;
	if (r->line != NULL && r->line->known && w->nf == 0) {
		w->prepped = 1;		/* nothing to parse: a known line */
		w->prep = *r->line;
		return;
	}
	if (r->line != NULL) {
		w->prep.lh_ok = 1;
		w->prep.lh[0] = r->line->lh[0];
		w->prep.lh[1] = r->line->lh[1];
	}
	if (r->prep != NULL) {
		for (k = 0; k < w->nf; k++)
			r->pf[k] = b->data.p + b->foff[w->f0 + k];
		w->prepped = r->prep(r->arg, w->nf, r->pf, b->flen + w->f0,
		    &w->prep);
	}
	if (r->line != NULL && r->line->known) {	/* RS_SELFCHECK */
		w->prep.known = r->line->known;
		w->prep.eh = r->line->eh;
		w->prep.kteam = r->line->kteam;
		w->prep.kflags = r->line->kflags;
	}
	if (!w->prepped)
		return;
	for (k = 0; k < w->nf; k++)
		b->foff[w->f0 + k] = (size_t)(r->pf[k] - b->data.p);
	if (w->prep.kh_ok && w->prep.kcol < w->nf) {
		w->koff = b->foff[w->f0 + w->prep.kcol];
		w->klen = b->flen[w->f0 + w->prep.kcol];
	} else
		w->prep.kh_ok = 0;
}

/*
 * libcsv's record callback: close the record; a full batch to fn, and the
 * header at once when known lines are looked for (their hashes need it).
 */
static void
csvr_record(int c, void *arg)
{
	struct csvr	*r = arg;
	struct batch	*b = &r->b;
	struct brow	*w;

	if (r->status != 0)
		return;
	if (r->nrec > MAX_ROWS) {
		csvr_err(r, "more than %d data rows", MAX_ROWS);
		return;
	}
	if (b->nrow == b->rowcap) {
		b->rowcap = b->rowcap ? b->rowcap * 2 : 256;
		b->row = xrealloc(b->row, b->rowcap * sizeof(*b->row));
	}
	w = &b->row[b->nrow++];
	w->row = ++r->nrec;
	w->f0 = b->nf - r->nf;
	w->nf = r->nf;
	w->wide = r->wide;
	w->noeol = c == -1;
	if (!r->ascii)
		mark_utf8(b, w);
	prep_record(r, b, w);
	r->nf = 0;
	r->wide = 0;
	r->ascii = 0;
	if ((w->row == 1 && r->known != NULL) ||
	    b->data.len >= CSV_BATCH_BYTES || b->nrow >= CSV_BATCH_ROWS)
		batch_ready(r);
}

/* Feed text to libcsv and turn a refusal into a message. */
static void
csvr_parse(struct csvr *r, const char *p, size_t n)
{
	int	 e;

	if (csv_parse(&r->cp, p, n, csvr_field, csvr_record, r) == n)
		return;
	e = csv_error(&r->cp);
	if (e == CSV_ENOMEM && csv_get_buffer_size(&r->cp) >= CSV_FIELD_CAP)
		csvr_err(r, "a field longer than %d bytes at row %zu%s",
		    MAX_FIELD_HARD, r->nrec + 1, r->cp.quoted ?
		    " (inside quotes: is one never closed?)" : "");
	else
		csvr_err(r, "CSV parser: %s", csv_strerror(e));
}

/* ------------------------------------------------------- plain lines */

#define C_DELIM		1
#define C_SPACE		2	/* space or tab, not the delimiter */
#define C_NL		3
#define C_QUOTE		4
#define C_CR		5

/* A field of a plain line: its bytes, and whether "" stands for ". */
struct span {
	const unsigned char	*s;
	size_t			 n;
	int			 quoted;
	int			 esc;
};

static void
plain_classes(struct csvr *r, unsigned char delim)
{
	memset(r->cls, 0, sizeof(r->cls));
	r->cls[' '] = r->cls['\t'] = C_SPACE;
	r->cls['"'] = C_QUOTE;
	r->cls['\r'] = C_CR;
	r->cls['\n'] = C_NL;
	r->cls[delim] = C_DELIM;
	r->delim = delim;
}

/*
 * The first of the bytes a, b, c, d in [p, end), or end: 16 bytes at a
 * time where SSE2 is (every x86-64), never reading past end.
 */
static const unsigned char *
find4(const unsigned char *p, const unsigned char *end, unsigned char a,
    unsigned char b, unsigned char c, unsigned char d)
{
#ifdef __SSE2__
	const __m128i	 va = _mm_set1_epi8((char)a), vb = _mm_set1_epi8((char)b),
			 vc = _mm_set1_epi8((char)c), vd = _mm_set1_epi8((char)d);
	__m128i		 v;
	unsigned	 m;

	for (; end - p >= 16; p += 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)p);
		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
		    _mm_or_si128(_mm_cmpeq_epi8(v, vc), _mm_cmpeq_epi8(v, vd))));
		if (m != 0)
			return p + __builtin_ctz(m);
	}
#endif
	for (; p < end; p++)
		if (*p == a || *p == b || *p == c || *p == d)
			return p;
	return end;
}

/* A quoted field from its opening quote at *pp to end: its span, or -1. */
static int
plain_quoted(const unsigned char **pp, const unsigned char *end,
    struct span *f)
{
	const unsigned char	*e = *pp + 1;

	f->s = e;
	f->quoted = 1;
	f->esc = 0;
	for (;; e += 2) {
		e = find4(e, end, '"', '\n', '\r', '"');
		if (e == end || *e != '"')
			return -1;	/* no end, or a line break inside */
		if (e + 1 == end || e[1] != '"')
			break;
		f->esc = 1;	/* "" */
	}
	f->n = (size_t)(e - f->s);
	*pp = e + 1;
	return 0;
}

/* An unquoted field at *pp: its span without the spaces after, or -1. */
static int
plain_bare(const struct csvr *r, const unsigned char **pp,
    const unsigned char *end, struct span *f)
{
	const unsigned char	*e;

	e = find4(*pp, end, r->delim, '"', '\r', '\n');
	if (e < end && (r->cls[*e] == C_QUOTE || (*e == '\r' &&
	    (e + 1 == end || e[1] != '\n'))))
		return -1;	/* a quote inside, or a CR of its own */
	f->s = *pp;
	f->quoted = f->esc = 0;
	*pp = e;
	while (e > f->s && r->cls[e[-1]] == C_SPACE)
		e--;
	f->n = (size_t)(e - f->s);
	return 0;
}

/*
 * Split the line at p into f (at most MAX_COLUMNS + 1 fields): its
 * length with the LF, or 0 when it is not plain or has no LF in n.
 */
static size_t
plain_split(const struct csvr *r, const unsigned char *p, size_t n,
    struct span *f, size_t *nf)
{
	const unsigned char	*e = p, *end = p + (n < MAX_FIELD_LEN ? n :
				    MAX_FIELD_LEN);

	for (*nf = 0;; (*nf)++) {
		while (e < end && r->cls[*e] == C_SPACE)
			e++;
		if (*nf > MAX_COLUMNS || (e < end && *e == '"' ?
		    plain_quoted(&e, end, &f[*nf]) : plain_bare(r, &e, end,
		    &f[*nf])) == -1)
			return 0;
		while (e < end && r->cls[*e] == C_SPACE)
			e++;
		if (e == end)
			return 0;
		if (r->cls[*e] == C_DELIM) {
			e++;
			continue;
		}
		if (*e == '\r' && e + 1 < end)
			e++;
		if (*e != '\n')
			return 0;	/* a stray byte after a closing quote */
		(*nf)++;
		return (size_t)(e - p) + 1;
	}
}

/* Hand a split line to the batch as libcsv would. */
static void
plain_emit(struct csvr *r, const struct span *f, size_t nf)
{
	size_t	 i, k;

	for (i = 0; i < nf; i++) {
		if (!f[i].esc) {
			csvr_field((void *)f[i].s, f[i].n, r);
			continue;
		}
		buf_reset(&r->unq);
		for (k = 0; k < f[i].n; k++) {
			buf_addc(&r->unq, (char)f[i].s[k]);
			k += f[i].s[k] == '"';	/* the second of "" */
		}
		csvr_field(r->unq.p, r->unq.len, r);
	}
	csvr_record('\n', r);
}

/*
 * The plain line at p: handed over as libcsv would, and its length; or 0
 * when it is not plain (libcsv's then).
 */
static size_t
plain_line(struct csvr *r, const unsigned char *p, size_t n)
{
	struct span	 f[MAX_COLUMNS + 1];
	size_t		 nf, len;

	if ((len = plain_split(r, p, n, f, &nf)) == 0)
		return 0;
	if (nf == 1 && f[0].n == 0 && !f[0].quoted)
		return len;	/* spaces at most: libcsv skips the line */
	plain_emit(r, f, nf);
	return len;
}

/*
 * The common plain line, whole: at most MAX_COLUMNS fields, each bare or
 * quoted without "" inside, and no CR but one before the LF. Its special
 * bytes are found 16 at a time into lists of positions, the line is
 * copied into the batch once and its fields are ended in place, where a
 * delimiter, a closing quote or a trimmed space was. Its length with the
 * LF, or 0: then plain_line() decides.
 */
#define FAST_MARKS	(2 * MAX_COLUMNS)

struct marks {
	uint32_t	 d[FAST_MARKS], q[FAST_MARKS];	/* delimiters, quotes */
	size_t		 nd, nq, ncr;
	uint32_t	 cr;		/* the last CR */
	unsigned	 hi;		/* a byte >= 0x80 was seen */
};

/* Note the bits of m (positions off + bit) in list l: 0, or -1 if full. */
static int
marks_add(uint32_t *l, size_t *n, unsigned m, size_t off)
{
	for (; m != 0; m &= m - 1) {
		if (*n == FAST_MARKS)
			return -1;
		l[(*n)++] = (uint32_t)(off + (size_t)__builtin_ctz(m));
	}
	return 0;
}

/* One byte at off: 1 if it is the LF, -1 if a list is full, else 0. */
static int
marks_byte(const struct csvr *r, struct marks *k, unsigned char c,
    size_t off)
{
	k->hi |= c & 0x80;
	if (c == '\n')
		return 1;
	if (c == '\r') {
		k->ncr++;
		k->cr = (uint32_t)off;
	}
	if (c == r->delim)
		return marks_add(k->d, &k->nd, 1, off);
	if (c == '"')
		return marks_add(k->q, &k->nq, 1, off);
	return 0;
}

/* The LF of the line at p within lim bytes, its marks before it; or -1. */
static long
fast_scan(const struct csvr *r, const unsigned char *p, size_t lim,
    struct marks *k)
{
	size_t	 off = 0;
	int	 rc;

	k->nd = k->nq = k->ncr = 0;
	k->hi = 0;
#ifdef __SSE2__
	{
		const __m128i vd = _mm_set1_epi8((char)r->delim),
		    vq = _mm_set1_epi8('"'), vl = _mm_set1_epi8('\n'),
		    vr = _mm_set1_epi8('\r');

		for (; lim - off >= 16; off += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)
			    (const void *)(p + off));
			unsigned ml = (unsigned)_mm_movemask_epi8(
			    _mm_cmpeq_epi8(v, vl));
			unsigned keep = ml ? (1u << __builtin_ctz(ml)) - 1 :
			    0xffffu;
			unsigned mc = (unsigned)_mm_movemask_epi8(
			    _mm_cmpeq_epi8(v, vr)) & keep;

			k->hi |= (unsigned)_mm_movemask_epi8(v) & keep;
			if (mc != 0) {
				k->ncr += (size_t)__builtin_popcount(mc);
				k->cr = (uint32_t)(off + 31 -
				    (size_t)__builtin_clz(mc));
			}
			if (marks_add(k->d, &k->nd, (unsigned)_mm_movemask_epi8(
			    _mm_cmpeq_epi8(v, vd)) & keep, off) == -1 ||
			    marks_add(k->q, &k->nq, (unsigned)_mm_movemask_epi8(
			    _mm_cmpeq_epi8(v, vq)) & keep, off) == -1)
				return -1;
			if (ml != 0)
				return (long)(off + (size_t)__builtin_ctz(ml));
		}
	}
#endif
	for (; off < lim; off++)
		if ((rc = marks_byte(r, k, p[off], off)) != 0)
			return rc == 1 ? (long)off : -1;
	return -1;
}

/* The fields of a scanned line ending at ce into fs/fe: their count,
 * *quoted if the first was quoted; or 0. */
static size_t
fast_fields(const struct csvr *r, const unsigned char *p, size_t ce,
    const struct marks *k, uint32_t *fs, uint32_t *fe, int *quoted)
{
	size_t	 s = 0, e, di = 0, qi = 0, nf;

	for (nf = 0; nf < MAX_COLUMNS; nf++) {
		while (s < ce && r->cls[p[s]] == C_SPACE)
			s++;
		if (s < ce && p[s] == '"') {
			if (qi + 1 >= k->nq || k->q[qi] != s)
				return 0;
			e = k->q[qi + 1];	/* "" inside fails below */
			qi += 2;
			fs[nf] = (uint32_t)s + 1;
			fe[nf] = (uint32_t)e;
			for (e++; e < ce && r->cls[p[e]] == C_SPACE; e++)
				;
			while (di < k->nd && k->d[di] < e)
				di++;	/* delimiters inside the quotes */
			if (e < ce && (di == k->nd || k->d[di] != e))
				return 0;	/* a stray byte after the quote */
			if (nf == 0)
				*quoted = 1;
		} else {
			e = di < k->nd ? k->d[di] : ce;
			if (qi < k->nq && k->q[qi] < e)
				return 0;	/* a quote inside */
			fs[nf] = (uint32_t)s;
			fe[nf] = (uint32_t)e;
			while (fe[nf] > s && r->cls[p[fe[nf] - 1]] == C_SPACE)
				fe[nf]--;
		}
		if (e == ce)
			return nf + 1;
		s = e + 1;
		di++;
	}
	return 0;
}

static size_t
fast_line(struct csvr *r, const unsigned char *p, size_t n)
{
	struct marks	 k;
	uint32_t	 fs[MAX_COLUMNS], fe[MAX_COLUMNS];
	struct batch	*b = &r->b;
	size_t		 ce, nf, i, base;
	long		 lf;
	int		 quoted = 0;
	char		*d;

	lf = fast_scan(r, p, n < MAX_FIELD_LEN ? n : MAX_FIELD_LEN, &k);
	if (lf < 0 || k.ncr > 1 || (k.ncr == 1 && k.cr + 1 != (size_t)lf))
		return 0;
	ce = (size_t)lf - k.ncr;
	if ((nf = fast_fields(r, p, ce, &k, fs, fe, &quoted)) == 0)
		return 0;
	if (nf == 1 && fs[0] == fe[0] && !quoted)
		return (size_t)lf + 1;	/* spaces at most: libcsv skips it */
	batch_room(b, ce + 1);
	batch_fields(b, nf);
	base = b->data.len;
	d = b->data.p + base;
	memcpy(d, p, ce);
	d[ce] = '\0';
	b->data.len += ce + 1;
	for (i = 0; i < nf; i++) {
		d[fe[i]] = '\0';
		b->foff[b->nf] = base + fs[i];
		b->flen[b->nf] = fe[i] - fs[i];
		b->ff[b->nf++] = 0;
	}
	r->nf = nf;
	r->ascii = k.hi == 0;
	csvr_record('\n', r);
	return (size_t)lf + 1;
}

/*
 * Known lines: the whole lines at p (at most KNOWN_GROUP, each ending in
 * an LF within MAX_FIELD_LEN bytes), hashed and looked up together so
 * that their memory is fetched side by side. A known one is a row of no
 * fields; the others are parsed here, with their hashes, while they are
 * plain; the first that is not, and what follows it, is left to the
 * caller. Returns the bytes taken.
 */
static size_t
known_group(struct csvr *r, const char *p, size_t n)
{
	const char	*line[KNOWN_GROUP], *nl;
	size_t		 len[KNOWN_GROUP], k, i, at = 0, got;
	struct rowprep	 pr[KNOWN_GROUP];

	for (k = 0; k < KNOWN_GROUP && at < n; k++) {
		nl = memchr(p + at, '\n', n - at < MAX_FIELD_LEN ? n - at :
		    MAX_FIELD_LEN);
		if (nl == NULL)
			break;
		line[k] = p + at;
		len[k] = (size_t)(nl - line[k]);
		at += len[k] + 1;
	}
	if (k == 0 || !r->known(r->arg, k, line, len, pr))
		return 0;
	for (i = 0, at = 0; i < k && r->status == 0; i++, at += got) {
		r->line = &pr[i];
#ifdef RS_SELFCHECK
		/* Parsed all the same, for the diff to check (diff.c). */
		if (0) {
#else
		if (pr[i].known) {
#endif
			r->nf = 0;
			r->ascii = 1;
			csvr_record('\n', r);
			got = len[i] + 1;
		} else if ((got = fast_line(r, (const unsigned char *)line[i],
		    len[i] + 1)) == 0)
			got = plain_line(r, (const unsigned char *)line[i],
			    len[i] + 1);
		r->line = NULL;
		if (got != len[i] + 1)
			break;	/* libcsv's, from this line on */
	}
	return at;
}

/*
 * Text after the header's delimiter is known: plain lines here, the rest
 * through libcsv, one line at a time while it is inside a row.
 */
static void
csvr_feed(struct csvr *r, const char *p, size_t n)
{
	const char	*nl;
	size_t		 len;

	while (n > 0 && r->status == 0) {
		if (!load_csv_plain_lines) {
			csvr_parse(r, p, n);
			return;
		}
		if (r->cp.pstate == 0 && r->known != NULL && r->nrec > 0 &&
		    (len = known_group(r, p, n)) > 0) {
			p += len;
			n -= len;
			continue;
		}
		if (r->cp.pstate == 0 &&
		    ((len = fast_line(r, (const unsigned char *)p, n)) > 0 ||
		    (len = plain_line(r, (const unsigned char *)p, n)) > 0)) {
			p += len;
			n -= len;
			continue;
		}
		nl = memchr(p, '\n', n);
		len = nl != NULL ? (size_t)(nl - p) + 1 : n;
		csvr_parse(r, p, len);
		p += len;
		n -= len;
	}
}

/* ------------------------------------------------------------- head */

/*
 * The length of the first line of p[0..n) with its newline, or 0 when it
 * has none; *q is the quote state, kept across calls.
 */
static size_t
line_len(const char *p, size_t n, int *q)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (p[i] == '"')
			*q = !*q;
		else if (!*q && (p[i] == '\n' || p[i] == '\r'))
			return i + 1;
	}
	return 0;
}

/* Excel's "sep=X" first line: its length, with X in *delim, or 0. */
static size_t
sep_line(const char *p, size_t n, int *delim)
{
	size_t	 len = 5;

	if (n < 5 || strncasecmp(p, "sep=", 4) != 0)
		return 0;
	if ((p[4] < 0x20 && p[4] != '\t') || p[4] >= 0x7f || p[4] == '"')
		return 0;
	if (n > len && p[len] == '\r')
		len++;
	if (n > len && p[len] == '\n')
		len++;
	if (len == 5 && n > 5)
		return 0;
	*delim = (unsigned char)p[4];
	return len;
}

/* The most frequent of , ; TAB | outside quotes in the first line. */
static int
detect_delim(const char *p, size_t n)
{
	static const char	 cand[] = ",;\t|";
	size_t			 count[4] = { 0 }, i;
	int			 q = 0, k, best = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '"')
			q = !q;
		if (q)
			continue;
		if (p[i] == '\n' || p[i] == '\r')
			break;
		for (k = 0; k < 4; k++)
			if (p[i] == cand[k])
				count[k]++;
	}
	for (k = 1; k < 4; k++)
		if (count[k] > count[best])
			best = k;
	return count[best] > 0 ? cand[best] : ',';
}

/* Choose the delimiter from the head, then parse the head. */
static void
csvr_start(struct csvr *r)
{
	const char	*p = r->head.p ? r->head.p : "";
	size_t		 n = r->head.len, skip;
	int		 delim;

	r->started = 1;
	if ((skip = sep_line(p, n, &delim)) == 0)
		delim = detect_delim(p, n);
	csv_set_delim(&r->cp, (unsigned char)delim);
	plain_classes(r, (unsigned char)delim);
	csvr_feed(r, p + skip, n - skip);
	buf_free(&r->head);
}

/*
 * Decoded UTF-8 text: hold it until the header line is complete. Blank
 * lines and spaces before it are dropped (libcsv would skip them too) so
 * that they do not hide the header from detect_delim().
 */
static void
csvr_text(struct csvr *r, const char *p, size_t n)
{
	size_t	 len;

	if (r->started) {
		csvr_feed(r, p, n);
		return;
	}
	while (r->head.len == 0 && n > 0 && (*p == ' ' || *p == '\t' ||
	    *p == '\r' || *p == '\n'))
		p++, n--;
	if (n == 0)
		return;
	buf_add(&r->head, p, n);
	len = line_len(r->head.p + r->hscan, r->head.len - r->hscan,
	    &r->hquote);
	r->hscan = r->head.len;
	if (len > 0 || r->head.len >= CSV_HEAD_MAX)
		csvr_start(r);
}

/* ---------------------------------------------------------- encoding */

int
enc_is_auto(const char *want)
{
	return want == NULL || strcasecmp(want, "auto") == 0;
}

int
enc_is_utf8(const char *want)
{
	return want != NULL && (strcasecmp(want, "utf-8") == 0 ||
	    strcasecmp(want, "utf8") == 0);
}

/* The row the next byte of text is in (the header is row 1). */
static size_t
csvr_row_here(const struct csvr *r)
{
	return r->started ? r->nrec + 1 : 1;
}

/* Convert from `from` with iconv from now on; 0, or -1 (err). */
static int
csvr_iconv_open(struct csvr *r, const char *from)
{
	snprintf(r->enc->used, sizeof(r->enc->used), "%s", from);
	if ((r->cd = iconv_open("UTF-8", from)) != (iconv_t)-1)
		return 0;
	csvr_err(r, "cannot convert from %s: %s", from, strerror(errno));
	return -1;
}

/*
 * The file's first bytes: a byte-order mark, and the encoding setting,
 * decide how the rest is read. Returns the mark's length (skipped).
 */
static size_t
csvr_bom(struct csvr *r, const unsigned char *p, size_t n)
{
	const char	*want = r->enc->want, *bom = NULL;
	size_t		 len = 0;

	r->bomdone = 1;
	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		bom = "UTF-8", len = 3;
	else if (n >= 2 && p[0] == 0xff && p[1] == 0xfe)
		bom = "UTF-16LE", len = 2;
	else if (n >= 2 && p[0] == 0xfe && p[1] == 0xff)
		bom = "UTF-16BE", len = 2;
	if (len == 3 && r->enc->fallback) {
		/* auto's second load: the mark is UTF-8 text. */
		r->mark8 = 1;
		r->enc->utf8_row = 1;
		(void)csvr_iconv_open(r, want);
		return len;
	}
	if (!enc_is_auto(want) && !enc_is_utf8(want)) {
		/* An explicit encoding: a mark must agree with it. */
		if (bom != NULL && (len == 3 ||
		    strncasecmp(want, "utf-16", 6) != 0)) {
			csvr_err(r, "the file starts with a %s byte-order mark "
			    "but the sync's encoding is \"%s\"", bom, want);
			return 0;
		}
		(void)csvr_iconv_open(r, bom != NULL ? bom : want);
		return len;
	}
	if (bom != NULL && len == 2 && enc_is_utf8(want)) {
		csvr_err(r, "the file starts with a %s byte-order mark but the "
		    "sync's encoding is \"%s\"", bom, want);
		return 0;
	}
	if (len == 2)
		(void)csvr_iconv_open(r, bom);
	else
		snprintf(r->enc->used, sizeof(r->enc->used), "UTF-8");
	return len;
}

/*
 * The first byte at p that is not UTF-8, or p + n; *cut is set when it
 * only starts a character the next chunk may finish. One pass: a chunk
 * cut inside a character is not checked again from each character on.
 */
static size_t
utf8_prefix(const char *p, size_t n, int *cut)
{
	const unsigned char	*s = (const unsigned char *)p;
	size_t			 i = utf8_span(p, n), k, need;

	*cut = 0;
	if (i == n || s[i] < 0xc2 || s[i] > 0xf4)
		return i;
	need = s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : 2;
	if (i + need > n) {
		for (k = i + 1; k < n && (s[k] & 0xc0) == 0x80; k++)
			;
		*cut = k == n;
	}
	return i;
}

/* Text that must be UTF-8 (and has no NUL): pass it on. */
static int
csvr_text_checked(struct csvr *r, const char *p, size_t n)
{
	const char	*z;

	if ((z = memchr(p, '\0', n)) != NULL) {
		csvr_err(r, "NUL byte at offset %llu: this is not a text file "
		    "(UTF-16 without a byte-order mark?)",
		    r->off + (unsigned long long)(z - r->rbuf));
		return -1;
	}
	csvr_text(r, p, n);
	return 0;
}

/* The byte at p is not UTF-8: the whole file is not. */
static void
csvr_not_utf8(struct csvr *r, const char *p, const char *why)
{
	struct textenc	*e = r->enc;

	e->bad_off = r->off + (unsigned long long)(p - r->rbuf);
	e->bad_row = csvr_row_here(r);
	if (!enc_is_auto(e->want)) {
		csvr_err(r, "row %zu: the byte at offset %llu %s UTF-8, the "
		    "sync's encoding (save the export as UTF-8, or set "
		    "encoding to the one it has)", e->bad_row, e->bad_off, why);
		return;
	}
	if (r->status == 0) {
		r->status = LOAD_NOT_UTF8;
		snprintf(r->err, sizeof(r->err), "not UTF-8 at row %zu, "
		    "offset %llu", e->bad_row, e->bad_off);
	}
}

/*
 * UTF-8 text, checked before it is parsed. Returns how many bytes at the
 * end start a character the next chunk finishes.
 */
static size_t
csvr_utf8(struct csvr *r, const char *p, size_t n)
{
	size_t	 ok;
	int	 cut;

	ok = utf8_prefix(p, n, &cut);
	if (csvr_text_checked(r, p, ok) == -1 || ok == n || r->status != 0)
		return 0;
	if (cut)
		return n - ok;
	csvr_not_utf8(r, p + ok, "is not");
	return 0;
}

/*
 * Convert text with iconv and pass it on. Returns how many bytes at the
 * end are an incomplete character, to be completed by the next chunk.
 */
static size_t
csvr_iconv(struct csvr *r, char *p, size_t n)
{
	char	*out;
	size_t	 outleft, k;
	int	 e;

	while (n > 0 && r->status == 0) {
		out = r->ubuf;
		outleft = sizeof(r->ubuf);
		k = iconv(r->cd, &p, &n, &out, &outleft);
		e = errno;
		if (memchr(r->ubuf, '\0', (size_t)(out - r->ubuf)) != NULL) {
			csvr_err(r, "a NUL character in %s text: this is not "
			    "a text file", r->enc->used);
			break;
		}
		csvr_text(r, r->ubuf, (size_t)(out - r->ubuf));
		if (k != (size_t)-1 || e == E2BIG)
			continue;
		if (e != EINVAL && r->enc->fallback)
			csvr_err(r, "row %zu: the byte 0x%02x at offset %llu is "
			    "neither UTF-8 nor Windows-1252: set encoding to "
			    "the file's encoding", csvr_row_here(r),
			    (unsigned char)*p, r->off +
			    (unsigned long long)(p - r->rbuf));
		else if (e != EINVAL)
			csvr_err(r, "row %zu: invalid %s at offset %llu",
			    csvr_row_here(r), r->enc->used, r->off +
			    (unsigned long long)(p - r->rbuf));
		break;
	}
	return n;
}

/* What a byte beyond ASCII starts, read as UTF-8 (utf8_find()). */
#define U8_CHAR		0x01	/* a whole character */
#define U8_BAD		0x02	/* no character: not UTF-8 */
#define U8_CUT		0x04	/* one the next chunk may finish */

/*
 * The first byte of p beyond ASCII that starts what want asks for
 * (U8_CHAR, U8_BAD or both), or one that starts a character the chunk
 * cuts (U8_CUT; never at the end of the file, eof): its offset, and in
 * *what what it starts. n when there is none.
 */
static size_t
utf8_find(const char *p, size_t n, int want, int eof, int *what)
{
	const unsigned char	*s = (const unsigned char *)p;
	size_t			 i = 0, need, k;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		need = s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : 2;
		if (i + need > n && !eof && s[i] >= 0xc2 && s[i] <= 0xf4) {
			for (k = i + 1; k < n && (s[k] & 0xc0) == 0x80; k++)
				;
			if (k == n) {
				*what = U8_CUT;
				return i;
			}
		}
		*what = i + need <= n && utf8_span(p + i, need) == need ?
		    U8_CHAR : U8_BAD;
		if (*what & want)
			return i;
		i += *what == U8_CHAR ? need : 1;
	}
	*what = 0;
	return n;
}

/*
 * The fallback met at p, the text before it parsed, the first UTF-8
 * character beyond ASCII or the first byte that is not UTF-8 (what).
 * With both, the file mixes two encodings: no one reads it.
 */
static void
csvr_seen(struct csvr *r, const char *p, int what)
{
	struct textenc		*e = r->enc;
	unsigned long long	 off = r->off + (unsigned long long)(p -
				    r->rbuf);

	if (what == U8_CHAR) {
		e->utf8_row = csvr_row_here(r);
		e->utf8_off = off;
	} else {
		e->bad_row = csvr_row_here(r);
		e->bad_off = off;
	}
	if (e->utf8_row == 0 || e->bad_row == 0)
		return;
	e->mixed = 1;
	if (r->mark8)
		csvr_err(r, "row %zu: the byte at offset %llu is not UTF-8, "
		    "but the file starts with a UTF-8 byte-order mark: it "
		    "mixes two encodings, and no one encoding reads it (save "
		    "the export again in one: CSV UTF-8)", e->bad_row,
		    e->bad_off);
	else
		csvr_err(r, "row %zu: the byte at offset %llu is not UTF-8, "
		    "but row %zu is UTF-8 text (offset %llu): the file mixes "
		    "two encodings, and no one encoding reads it (save the "
		    "export again in one: CSV UTF-8)", e->bad_row, e->bad_off,
		    e->utf8_row, e->utf8_off);
}

/*
 * The fallback's text, read as UTF-8 as well, up to its first UTF-8
 * character beyond ASCII and its first byte that is not UTF-8. Until
 * that byte the text is UTF-8 and parsed as it is (the rows are counted
 * right through UTF-8 that Windows-1252 does not have); from there on
 * it is converted (csvr_iconv()). Returns the bytes at the end that the
 * next chunk completes.
 */
static size_t
csvr_fallback(struct csvr *r, char *p, size_t n)
{
	struct textenc	*e = r->enc;
	size_t		 i, left = 0;
	int		 want, what;

	while (r->status == 0) {
		want = (e->utf8_row == 0 ? U8_CHAR : 0) |
		    (e->bad_row == 0 ? U8_BAD : 0);
		i = utf8_find(p, n, want, r->eof, &what);
		if (e->bad_row == 0)
			(void)csvr_text_checked(r, p, i);
		else
			left = csvr_iconv(r, p, i);
		if (left != 0 || i == n)
			return left + (n - i);
		if (what == U8_CUT || r->status != 0)
			return n - i;
		csvr_seen(r, p + i, what);
		p += i;
		n -= i;
	}
	return 0;
}

/* One chunk of n bytes in rbuf; returns the bytes left for the next one. */
static size_t
csvr_chunk(struct csvr *r, size_t n)
{
	size_t	 skip = 0;

	if (!r->bomdone)
		skip = csvr_bom(r, (unsigned char *)r->rbuf, n);
	if (r->status != 0)
		return 0;
	if (r->cd != (iconv_t)-1 && r->enc->fallback)
		return csvr_fallback(r, r->rbuf + skip, n - skip);
	if (r->cd != (iconv_t)-1)
		return csvr_iconv(r, r->rbuf + skip, n - skip);
	return csvr_utf8(r, r->rbuf + skip, n - skip);
}

/* ------------------------------------------------------------- file */

/* Read into p until n bytes or the end of the file: the count, or -1. */
static ssize_t
read_full(int fd, char *p, size_t n)
{
	size_t	 got = 0;
	ssize_t	 k;

	while (got < n) {
		k = read(fd, p + got, n - got);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* The end of the file: flush libcsv, insist on a closed quote and a row. */
static void
csvr_finish(struct csvr *r, size_t left)
{
	if (left > 0 && r->cd == (iconv_t)-1) {
		csvr_not_utf8(r, r->rbuf, "starts a character the file cuts, "
		    "not");
		return;
	}
	if (left > 0 && r->enc->fallback) {
		r->eof = 1;
		left = csvr_fallback(r, r->rbuf, left);
		if (r->status != 0)
			return;
	}
	if (left > 0) {
		csvr_err(r, "invalid %s at offset %llu: the file ends inside a "
		    "character", r->enc->used, r->off);
		return;
	}
	if (!r->started)
		csvr_start(r);
	if (r->status != 0)
		return;
	/* libcsv 3.0.3 honours CSV_STRICT_FINI only with CSV_STRICT. */
	csv_set_opts(&r->cp, CSV_OPTS | CSV_STRICT | CSV_STRICT_FINI);
	if (csv_fini(&r->cp, csvr_field, csvr_record, r) != 0)
		csvr_err(r, "unterminated quoted field starting at row %zu",
		    r->nrec + 1);
	else if (r->status == 0 && r->nrec == 0)
		csvr_err(r, "the file is empty (no header row)");
}

/*
 * Read fd chunk by chunk to the end, or to the first error or stop, then
 * give fn the last batch. The file is read once: each chunk read
 * leaves the page cache (as the fetch's source does, fetch_dir.c), and
 * the run's transaction reuses that memory.
 */
static void
csvr_run(struct csvr *r, int fd)
{
	size_t	 keep = 0, n, left;
	ssize_t	 k;
	off_t	 at = 0;

	for (;;) {
		k = read_full(fd, r->rbuf + keep, sizeof(r->rbuf) - keep);
		if (k > 0) {
			(void)posix_fadvise(fd, at, (off_t)k,
			    POSIX_FADV_DONTNEED);
			at += k;
		}
		if (k == -1) {
			csvr_err(r, "read error: %s", strerror(errno));
			break;
		}
		if (k == 0) {
			csvr_finish(r, keep);
			break;
		}
		n = keep + (size_t)k;
		left = csvr_chunk(r, n);
		if (r->status != 0)
			break;
		memmove(r->rbuf, r->rbuf + n - left, left);
		r->off += n - left;
		keep = left;
	}
	batch_ready(r);
}

/* Open path for reading: a regular file, not a link; fd or -1. */
static int
csvr_open(struct csvr *r, const char *path)
{
	struct stat	 st;
	int		 fd;

	/* O_NONBLOCK: a FIFO must not hang us; no effect on files. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		csvr_err(r, "cannot open: %s", errno == ELOOP ?
		    "it is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		csvr_err(r, "cannot stat: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		csvr_err(r, "not a regular file");
	else if (st.st_size > MAX_INPUT_SIZE)
		csvr_err(r, "larger than %lld bytes", MAX_INPUT_SIZE);
	if (r->status != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A reader for one file; free with csvr_free(). */
static struct csvr *
csvr_new(rawrow_fn fn, rowprep_fn prep, rowknown_fn known, void *arg,
    struct textenc *enc)
{
	struct csvr	*r;

	r = xcalloc(1, sizeof(*r));
	r->enc = enc != NULL ? enc : &r->encauto;
	r->enc->used[0] = '\0';
	r->enc->bad_off = 0;
	r->enc->bad_row = 0;
	r->enc->utf8_off = 0;
	r->enc->utf8_row = 0;
	r->enc->mixed = 0;
	r->fn = fn;
	r->prep = prep;
	r->known = known;
	r->arg = arg;
	r->cd = (iconv_t)-1;
	csv_init(&r->cp, CSV_OPTS);
	csv_set_realloc_func(&r->cp, csvr_realloc);
	csv_set_blk_size(&r->cp, CSV_BLK_SIZE);
	return r;
}

/* Safe to call with NULL. */
static void
csvr_free(struct csvr *r)
{
	if (r == NULL)
		return;
	csv_free(&r->cp);
	if (r->cd != (iconv_t)-1)
		iconv_close(r->cd);
	buf_free(&r->head);
	buf_free(&r->unq);
	batch_free(&r->b);
	free(r);
}

/*
 * Read the CSV file at path and call fn for every record, the header
 * first. Returns 0 at the end, 1 when fn asked to stop, or -1 with the
 * cause in err (without the file name). Nothing is left allocated.
 */
int
load_csv(const char *path, rawrow_fn fn, void *arg, char *err, size_t errlen)
{
	return load_csv_prep(path, fn, NULL, NULL, arg, NULL, err, errlen);
}

int
load_csv_enc(const char *path, rawrow_fn fn, void *arg, struct textenc *enc,
    char *err, size_t errlen)
{
	return load_csv_prep(path, fn, NULL, NULL, arg, enc, err, errlen);
}

/* The same, with prep called for every record as it is read, and known
 * for whole lines (both may be NULL), and an encoding (NULL: auto). */
int
load_csv_prep(const char *path, rawrow_fn fn, rowprep_fn prep,
    rowknown_fn known, void *arg, struct textenc *enc, char *err,
    size_t errlen)
{
	struct csvr	*r;
	int		 fd, rc;

	if (errlen > 0)
		err[0] = '\0';
	r = csvr_new(fn, prep, known, arg, enc);
	if ((fd = csvr_open(r, path)) != -1) {
		csvr_run(r, fd);
		close(fd);
	}
	rc = r->status;
	if ((rc == -1 || rc == LOAD_NOT_UTF8) && errlen > 0)
		snprintf(err, errlen, "%s", r->err);
	csvr_free(r);
	return rc;
}
