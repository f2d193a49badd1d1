/*
 * The front of every load: choose the format by content, read the header,
 * map it to the sync's slots, and turn each raw row of the format into a
 * struct record (trimmed values, lower-cased email, the joined key, and
 * the problems seen). Whole-file problems end the load here, so an empty
 * or mangled export never reaches the diff.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "known.h"

struct mapper {
	const struct sync	*sy;
	struct schema		*sc;
	struct loadstat		*ls;
	record_fn		 fn;
	void			*arg;
	char			*err;
	size_t			 errlen;
	int			 have_header;
	int			 csv;		/* the format is CSV */
	size_t			 ncols;		/* header columns */
	size_t			 named;		/* up to the last with a name */
	size_t			 keyed;		/* data rows with a usable key */
	int			 nohead;	/* no header, or one without the
						 * sync's columns (sheet_hint()) */
	int			 req[MAX_SLOTS]; /* required slots, not the key, */
	size_t			 nreq;		/* that no row has filled yet */
	size_t			 nocalc[MAX_SLOTS]; /* rows where a formula
						 * never calculated left it empty */
	const char		**v;		/* per slot, this row */
	size_t			*len;
	struct buf		 email;		/* lower-cased email */
	struct buf		 key;		/* joined key */

	/* For the prep (prep_row) and the known lines: */
	int			 mapped;	/* the header is mapped */
	int			 prep_ok;	/* no column in two slots */
	uint64_t		 seed[MAX_SLOTS]; /* slot_seeds() */
	struct known		*kn;		/* known lines, or NULL */
	uint64_t		 lseed;		/* their hashes' seed */
	int			 kn_on;		/* kn's lines are of this load */
};

static void
failf(struct mapper *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
failf(struct mapper *m, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(m->err, m->errlen, fmt, ap);
	va_end(ap);
}

/* Trim ASCII white space; returns the start, sets *n. */
static const char *
trim(const char *s, size_t *n)
{
	size_t	 len = *n;

	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' ||
	    *s == '\n')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	*n = len;
	return s;
}

/* "Work Email" -> "work_email": the slot name of an unmapped column. */
static char *
normalize_name(const char *s, size_t n)
{
	char	*out = xmalloc(n + 1);
	size_t	 i, o = 0;
	int	 sep = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c >= 0x80) {
			if (sep && o > 0)
				out[o++] = '_';
			out[o++] = (char)(c < 0x80 ? tolower(c) : c);
			sep = 0;
		} else
			sep = 1;
	}
	out[o] = '\0';
	return out;
}

static int
in_list(char **list, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcasecmp(list[i], s) == 0)
			return 1;
	return 0;
}

static int
find_slot(const struct schema *sc, const char *name)
{
	size_t	 i;

	if (name == NULL)
		return -1;
	for (i = 0; i < sc->nslots; i++)
		if (strcmp(sc->slots[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Slots from the header itself, for a sync without a mapping. */
static int
slots_from_header(struct mapper *m, const struct rawrow *h)
{
	const struct sync	*sy = m->sy;
	struct schema		*sc = m->sc;
	size_t			 i, n;
	const char		*s;

	sc->slots = xcalloc(h->nf, sizeof(*sc->slots));
	sc->owned = 1;
	for (i = 0; i < h->nf; i++) {
		struct slot *sl;

		n = h->len[i];
		s = trim(h->f[i], &n);
		if (n == 0 || in_list(sy->ignore, sy->nignore, h->f[i]))
			continue;
		if (sc->nslots == MAX_SLOTS) {
			failf(m, "the header has more than %d columns to "
			    "store; list the others in ignore_columns",
			    MAX_SLOTS);
			return -1;
		}
		sl = &sc->slots[sc->nslots];
		sl->name = normalize_name(s, n);
		sl->column = xstrndup(s, n);
		sl->canon = canon_lookup(sl->name);
		if (find_slot(sc, sl->name) != -1) {
			failf(m, "columns '%s' and another both map to "
			    "field '%s'", sl->column, sl->name);
			free(sl->name);
			free(sl->column);
			return -1;
		}
		sc->col[sc->nslots++] = (int)i;
	}
	return 0;
}

/* The header's columns, quoted, for a message: HEADER_SHOWN_MAX bytes at
 * most, then how many more (the views and log lines show their control
 * characters as every message's). */
static void
header_names(const struct rawrow *h, struct buf *b)
{
	size_t		 i, n;
	const char	*s;

	for (i = 0; i < h->nf; i++) {
		n = h->len[i];
		s = trim(h->f[i], &n);
		if (b->len + n + 4 > HEADER_SHOWN_MAX) {
			buf_printf(b, "%s... and %zu more", i ? ", " : "",
			    h->nf - i);
			return;
		}
		buf_adds(b, i ? ", '" : "'");
		buf_add(b, s, n);
		buf_addc(b, '\'');
	}
}

/* Column of each configured slot; every mapped column must be there. */
static int
slots_from_mapping(struct mapper *m, const struct rawrow *h)
{
	struct schema	*sc = m->sc;
	struct buf	 missing = { 0 }, have = { 0 };
	size_t		 i, j, n;
	const char	*s;

	sc->slots = m->sy->slots;
	sc->nslots = m->sy->nslots;
	for (i = 0; i < sc->nslots; i++) {
		sc->col[i] = -1;
		for (j = 0; j < h->nf; j++) {
			n = h->len[j];
			s = trim(h->f[j], &n);
			if (n == strlen(sc->slots[i].column) &&
			    strncasecmp(s, sc->slots[i].column, n) == 0) {
				sc->col[i] = (int)j;
				break;
			}
		}
		if (sc->col[i] == -1)
			buf_printf(&missing, "%s'%s' (mapped to %s)",
			    missing.len ? ", " : "", sc->slots[i].column,
			    sc->slots[i].name);
	}
	if (missing.len) {
		header_names(h, &have);
		failf(m, "the header lacks the mapped column%s %s; its "
		    "columns are %s: correct the sync's mapping, or ask HR "
		    "for the column",
		    strchr(missing.p, ',') ? "s" : "", missing.p,
		    have.len ? have.p : "none");
		buf_free(&missing);
		buf_free(&have);
		m->nohead = 1;
		return -1;
	}
	return 0;
}

static int
header_duplicates(struct mapper *m, const struct rawrow *h)
{
	size_t		 i, j, ni, nj;
	const char	*a, *b;

	for (i = 0; i < h->nf; i++) {
		ni = h->len[i];
		a = trim(h->f[i], &ni);
		if (!utf8_valid(a, ni)) {
			failf(m, "the header's column %zu is not valid UTF-8 "
			    "(save the export as UTF-8)", i + 1);
			return -1;
		}
		for (j = i + 1; ni > 0 && j < h->nf; j++) {
			nj = h->len[j];
			b = trim(h->f[j], &nj);
			if (ni == nj && strncasecmp(a, b, ni) == 0) {
				failf(m, "duplicate column name '%.*s' in "
				    "columns %zu and %zu", (int)ni, a, i + 1,
				    j + 1);
				return -1;
			}
		}
	}
	return 0;
}

/* Keys, required fields and flags, once the slots are known. */
static int
schema_finish(struct mapper *m)
{
	const struct sync	*sy = m->sy;
	struct schema		*sc = m->sc;
	size_t			 i;
	int			 k;

	for (i = 0; i < F__COUNT; i++)
		sc->canon[i] = -1;
	for (i = 0; i < sc->nslots; i++)
		if (sc->slots[i].canon >= 0)
			sc->canon[sc->slots[i].canon] = (int)i;
	for (i = 0; i < sy->nkeys && i < MAX_KEY_FIELDS; i++) {
		if ((k = find_slot(sc, sy->keys[i])) == -1) {
			failf(m, "the key column '%s' is missing from the "
			    "header", sy->keys[i]);
			m->nohead = 1;
			return -1;
		}
		sc->keyslot[sc->nkey++] = k;
		if (sc->owned)
			sc->slots[k].key = (int)i + 1;
	}
	for (i = 0; i < sy->nrequired; i++) {
		if ((k = find_slot(sc, sy->required[i])) == -1) {
			failf(m, "the required column '%s' is missing from "
			    "the header", sy->required[i]);
			m->nohead = 1;
			return -1;
		}
		if (sc->owned)
			sc->slots[k].required = 1;
	}
	for (i = 0; sc->owned && i < sc->nslots; i++)
		sc->slots[i].keep_empty = in_list(sy->keep_empty,
		    sy->nkeep_empty, sc->slots[i].name);
	sc->term_slot = find_slot(sc, sy->terminated_field);
	sc->team_slot = find_slot(sc, sy->team_field);
	return 0;
}

/*
 * What a known line stands for besides its bytes: the delimiter, the
 * header's width and mapping, the sync's rules for a row, and the rules
 * of the program: KNOWN_RULES_REV moves on whenever what a row turns into
 * (trimming, checks, the diff's reading of it) changes, so that no line
 * stored by other rules is trusted. t_known.sh keeps a digest of what a
 * corpus of rows turns into (tests/known_rules.golden) and fails when it
 * changes and KNOWN_RULES_REV did not.
 */
#define KNOWN_RULES_REV	3
#define STR(x)		#x
#define XSTR(x)		STR(x)
#define KNOWN_RULES	"rostersync known lines " XSTR(KNOWN_RULES_REV) " " \
	RS_VERSION

static void
ctx_add(uint64_t *h, const void *p, size_t n)
{
	*h = hash64(p, n, *h ^ n);
}

static void
ctx_int(uint64_t *h, long long v)
{
	ctx_add(h, &v, sizeof(v));
}

static uint64_t
load_context(const struct mapper *m, const struct rawrow *hdr)
{
	const struct schema	*sc = m->sc;
	const struct sync	*sy = m->sy;
	uint64_t		 h = 0;
	size_t			 i;

	ctx_add(&h, KNOWN_RULES, sizeof(KNOWN_RULES));
	ctx_int(&h, hdr->delim);
	ctx_int(&h, (long long)m->ncols);
	for (i = 0; i < sc->nslots; i++) {
		ctx_add(&h, sc->slots[i].name, strlen(sc->slots[i].name) + 1);
		ctx_int(&h, sc->col[i]);
		ctx_int(&h, sc->slots[i].canon);
		ctx_int(&h, sc->slots[i].key);
		ctx_int(&h, sc->slots[i].required);
		ctx_int(&h, sc->slots[i].keep_empty);
	}
	for (i = 0; i < sc->nkey; i++)
		ctx_int(&h, sc->keyslot[i]);
	for (i = 0; i < F__COUNT; i++)
		ctx_int(&h, sc->canon[i]);
	ctx_int(&h, sc->term_slot);
	ctx_int(&h, sc->team_slot);
	for (i = 0; i < sy->nterminated_values; i++)
		ctx_add(&h, sy->terminated_values[i],
		    strlen(sy->terminated_values[i]) + 1);
	return h | 1;	/* 0 is "no load" */
}

/* The header's columns as the sync's slots, key and required fields. */
static int
header_map(struct mapper *m, const struct rawrow *h)
{
	if (m->sy->slots != NULL) {
		if (slots_from_mapping(m, h) == -1)
			return -1;
	} else if (slots_from_header(m, h) == -1)
		return -1;
	return schema_finish(m);
}

/* The required slots that are not part of the key, for req_see(). */
static void
req_init(struct mapper *m)
{
	const struct schema	*sc = m->sc;
	size_t			 i, k;

	for (i = 0; i < sc->nslots; i++) {
		if (!sc->slots[i].required)
			continue;
		for (k = 0; k < sc->nkey && sc->keyslot[k] != (int)i; k++)
			;
		if (k == sc->nkey)
			m->req[m->nreq++] = (int)i;
	}
}

static int
on_header(struct mapper *m, const struct rawrow *h)
{
	size_t	 i, k;

	m->have_header = 1;
	m->ncols = h->nf;
	m->ls->columns = h->nf;
	if (h->nf == 0 || (h->nf == 1 && h->len[0] == 0)) {
		failf(m, "the first row is empty: no header row");
		m->nohead = 1;
		return -1;
	}
	for (i = 0; i < h->nf; i++) {
		k = h->len[i];
		trim(h->f[i], &k);
		if (k > 0)
			m->named = i + 1;
	}
	if (header_duplicates(m, h) == -1 || header_map(m, h) == -1)
		return -1;
	req_init(m);
	m->v = xcalloc(m->sc->nslots, sizeof(*m->v));
	m->len = xcalloc(m->sc->nslots, sizeof(*m->len));
	slot_seeds(m->sc, m->seed);
	(void)hash_seed();	/* set here, read there (the prep's hashes) */
	if (m->kn != NULL && m->csv) {
		m->kn->now = load_context(m, h);
		m->lseed = m->kn->lseed ^ m->kn->now;
		m->kn_on = m->kn->n > 0 && m->kn->ctx == m->kn->now;
	}
	m->prep_ok = 1;
	for (i = 0; i < m->sc->nslots; i++)
		for (k = i + 1; k < m->sc->nslots; k++)
			if (m->sc->col[i] >= 0 && m->sc->col[i] == m->sc->col[k])
				m->prep_ok = 0;
	m->mapped = 1;
	return 0;
}

/* ASCII lower case, in place. */
static void
lower_ascii(char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
}

static int
ascii_text(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/*
 * The CSV reader's prep, as it reads a row (load_csv_prep()): what
 * on_data() would do to the fields of the slots, done there and in place
 * (trimmed, the email lower-cased), with the fingerprint of the values
 * and the hash of the key, which the rows before it carry as hints for
 * the diff to fetch ahead. Not for rows read before the header is
 * mapped, nor when a column feeds two slots.
 */
static int
prep_row(void *arg, size_t nf, char **f, size_t *len, struct rowprep *out)
{
	struct mapper	*m = arg;
	const struct schema *sc = m->sc;
	const char	*v[MAX_SLOTS];
	size_t		 vlen[MAX_SLOTS], i;
	int		 c;

	if (!m->mapped || !m->prep_ok)
		return 0;
	/* An email beyond ASCII changes length in lower case: on_data(). */
	if ((c = sc->canon[F_EMAIL]) >= 0 && (c = sc->col[c]) >= 0 &&
	    (size_t)c < nf && !ascii_text(f[c], len[c]))
		return 0;
	for (i = 0; i < sc->nslots; i++) {
		c = sc->col[i];
		if (c < 0 || (size_t)c >= nf) {
			v[i] = "";
			vlen[i] = 0;
			continue;
		}
		f[c] = (char *)trim(f[c], &len[c]);
		f[c][len[c]] = '\0';
		if (i == (size_t)sc->canon[F_EMAIL])
			lower_ascii(f[c], len[c]);
		v[i] = f[c];
		vlen[i] = len[c];
	}
	out->fp = fingerprint(m->seed, sc->nslots, v, vlen);
	out->eh = (c = sc->canon[F_EMAIL]) >= 0 ? email_hash(v[c], vlen[c]) : 0;
	/* The key table's hash of the key, for three looks on fn's side. */
	if ((out->kh_ok = sc->nkey == 1 && sc->col[sc->keyslot[0]] >= 0)) {
		c = sc->keyslot[0];
		out->kh = strmap_keyhash(v[c], vlen[c]);
		out->kcol = (unsigned)sc->col[c];
	}
	return 1;
}

/*
 * The CSV reader's known lines (load_csv.c): each line's two hashes,
 * and, where this load's lines are the snapshot's, its entry. Three
 * passes over the group: hash and fetch the table's slot, look it up and
 * fetch the entry's second hash and info, compare (a tag that matched
 * another line's goes on probing).
 */
static int
known_lines(void *arg, size_t n, const char *const *line, const size_t *len,
    struct rowprep *out)
{
	struct mapper		*m = arg;
	const struct known	*kn = m->kn;
	uint32_t		 cand[KNOWN_GROUP], info;
	size_t			 i, s[KNOWN_GROUP];

	if (!m->mapped)
		return 0;
	for (i = 0; i < n; i++) {
		hash128(line[i], len[i], m->lseed, out[i].lh);
		out[i].lh_ok = 1;
		out[i].known = 0;
		if (m->kn_on)
			__builtin_prefetch(&kn->slot[known_pos(kn,
			    out[i].lh[0])]);
	}
	if (!m->kn_on)
		return 1;
	for (i = 0; i < n; i++) {
		s[i] = known_pos(kn, out[i].lh[0]);
		cand[i] = known_probe(kn, out[i].lh[0], &s[i]);
		if (cand[i] != ENT_NONE) {
			__builtin_prefetch(&kn->h2[cand[i]]);
			__builtin_prefetch(&kn->info[cand[i]]);
		}
	}
	for (i = 0; i < n; i++) {
		if (cand[i] == ENT_NONE)
			continue;
		if (kn->h2[cand[i]] != out[i].lh[1] &&
		    (cand[i] = known_find(kn, out[i].lh)) == ENT_NONE)
			continue;
		info = kn->info[cand[i]];
		out[i].known = cand[i] + 1;
		out[i].eh = 0;		/* the entry's, in the job (j->eeh) */
		out[i].kteam = (info & KI_TEAM) == KI_TEAM ? UINT32_MAX :
		    info & KI_TEAM;
		out[i].kflags = info >> KI_SHIFT;
	}
	return 1;
}

static int
row_blank(const struct rawrow *r)
{
	size_t	 i, n;

	for (i = 0; i < r->nf; i++) {
		n = r->len[i];
		trim(r->f[i], &n);
		if (n > 0)
			return 0;
	}
	return 1;
}

static void
mark(struct record *rec, unsigned what, int slot)
{
	if (rec->bad == 0)
		rec->bad_slot = slot;
	rec->bad |= what;
}

/*
 * The required columns no row has filled yet: this row's value fills
 * one, or was a formula never calculated (FF_NOCALC). A column filled
 * leaves the list, so the rows after cost nothing.
 */
static void
req_see(struct mapper *m, const struct rawrow *r)
{
	size_t	 k;
	int	 i, c;

	for (k = 0; k < m->nreq; ) {
		i = m->req[k];
		c = m->sc->col[i];
		if (m->len[i] > 0) {
			m->req[k] = m->req[--m->nreq];
			m->nocalc[i] = 0;
			continue;
		}
		if (c >= 0 && (size_t)c < r->nf && r->ff != NULL &&
		    (r->ff[c] & FF_NOCALC))
			m->nocalc[i]++;
		k++;
	}
}

static void	 rec_peeks(const struct mapper *, const struct rawhint *,
		    struct rowhint *);

/* The hint of a row that has none (an XLSX row, or no prep). */
static const struct rawhint	 nohint;

static const struct rawhint *
hint_of(const struct rawrow *r)
{
	return r->hint != NULL ? r->hint : &nohint;
}
static int	 rec_give(struct mapper *, const struct record *);

/*
 * A number as a spreadsheet shows one too long for its General format:
 * one digit, a decimal point or comma and more digits, then E+ and the
 * exponent ("1.23457E+15", "1,23457e+15", "1E+15").
 */
static int
sci_number(const char *s, size_t n)
{
	size_t	 i = 1, d;

	if (n < 4 || s[0] < '1' || s[0] > '9')
		return 0;
	if (s[i] == '.' || s[i] == ',') {
		for (d = ++i; i < n && isdigit((unsigned char)s[i]); i++)
			;
		if (i == d || i - d >= SCI_DIGITS)
			return 0;
	}
	if (i + 2 >= n || (s[i] != 'E' && s[i] != 'e') || s[i + 1] != '+')
		return 0;
	for (d = i += 2; i < n && isdigit((unsigned char)s[i]); i++)
		;
	return i == n && i - d <= SCI_EXP_DIGITS;
}

/*
 * The key or manager id of this row in scientific notation: a
 * spreadsheet saved the column as numbers and kept the first digits of
 * each id, so many people now share one. The file fails, before their rows
 * look like duplicates and everyone like a deletion.
 */
static int
ids_retyped(struct mapper *m, size_t row)
{
	const struct schema	*sc = m->sc;
	int			 slot[MAX_KEY_FIELDS + 1];
	size_t			 i, n = 0;

	for (i = 0; i < sc->nkey; i++)
		slot[n++] = sc->keyslot[i];
	if (sc->canon[F_MANAGER_ID] >= 0)
		slot[n++] = sc->canon[F_MANAGER_ID];
	for (i = 0; i < n; i++)
		if (sci_number(m->v[slot[i]], m->len[slot[i]])) {
			failf(m, "row %zu: %s is %.*s, a number in a "
			    "spreadsheet's scientific notation (column '%s'): "
			    "the spreadsheet saved the ids as numbers and kept "
			    "only their first digits. Format the column as text "
			    "before saving the file (or export it again from "
			    "the HR system) and drop it again", row,
			    sc->slots[slot[i]].name, (int)m->len[slot[i]],
			    m->v[slot[i]], sc->slots[slot[i]].column);
			return 1;
		}
	return 0;
}

/* Map one data row to the schema and hand it on. */
static int
on_data(struct mapper *m, const struct rawrow *r)
{
	struct schema	*sc = m->sc;
	const struct rawhint *rh = hint_of(r);
	struct record	 rec;
	struct rowhint	 h;
	size_t		 i, n;

	memset(&rec, 0, sizeof(rec));
	memset(&h, 0, sizeof(h));
	rec.row = r->row;
	rec.bad_slot = -1;
	for (i = 0; i < sc->nslots; i++) {
		int c = sc->col[i];

		if (c < 0 || (size_t)c >= r->nf) {
			m->v[i] = "";
			m->len[i] = 0;
			continue;
		}
		n = r->len[c];
		m->v[i] = rh->prepped ? r->f[c] : trim(r->f[c], &n);
		m->len[i] = n;
		if (r->ff != NULL && (r->ff[c] & FF_TRUNC))
			mark(&rec, REC_TOOLONG, (int)i);
		if (r->ff != NULL && (r->ff[c] & FF_ERROR))
			mark(&rec, REC_CELLERR, (int)i);
		if (r->ff != NULL && (r->ff[c] & FF_BADDATE))
			mark(&rec, REC_BADDATE, (int)i);
		if (r->ff != NULL && (r->ff[c] & FF_NOCALC))
			mark(&rec, REC_NOCALC, (int)i);
		/* Trimming takes ASCII off the ends: it cannot make
		 * a field valid UTF-8, nor a valid one invalid. */
		if (r->utf8_checked ? (r->ff[c] & FF_BADUTF8) != 0 :
		    !utf8_valid(m->v[i], n))
			mark(&rec, REC_UTF8, (int)i);
	}
#ifdef RS_SELFCHECK
	for (i = 0; rh->prepped && i < sc->nslots; i++) {
		n = m->len[i];
		if (trim(m->v[i], &n) != m->v[i] || n != m->len[i] ||
		    m->v[i][n] != '\0' || ((int)i == sc->canon[F_EMAIL] &&
		    strcspn(m->v[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") < n))
			fatalx("row %zu: the prep's slot %zu is not as "
			    "on_data() makes it", r->row, i);
	}
#endif
	if (m->nreq > 0)
		req_see(m, r);
	for (i = m->ncols; i < r->nf; i++)
		if (r->len[i] > 0)
			mark(&rec, REC_WIDE, -1);
	if (r->wide)
		mark(&rec, REC_WIDE, -1);
	if (m->csv && r->nf < m->named) {
		mark(&rec, REC_SHORT, -1);
		rec.nvals = r->nf;
		rec.ncols = m->named;
	}
	if (ids_retyped(m, r->row))
		return -1;
	if (sc->canon[F_EMAIL] >= 0 && !rh->prepped) {
		int e = sc->canon[F_EMAIL];

		m->v[e] = email_lower(&m->email, m->v[e], m->len[e],
		    &m->len[e]);
	}
	if (sc->nkey == 1 && rh->prepped) {
		/* The field itself, trimmed and ended in place (prep_row). */
		rec.key = m->v[sc->keyslot[0]];
		rec.keylen = m->len[sc->keyslot[0]];
	} else {
		buf_reset(&m->key);
		buf_addc(&m->key, 0);
		buf_reset(&m->key);
		for (i = 0; i < sc->nkey; i++) {
			int k = sc->keyslot[i];

			if (i > 0)
				buf_addc(&m->key, '/');
			buf_add(&m->key, m->v[k], m->len[k]);
		}
		rec.key = m->key.p;
		rec.keylen = m->key.len;
	}
	rec_peeks(m, rh, &h);
	if (rec.keylen > 0 && rec.key[0] != '=')
		m->keyed++;
	m->ls->known += rh->prep.known != 0;	/* parsed: RS_SELFCHECK */
	rec.v = m->v;
	rec.len = m->len;
	h.prepped = rh->prepped;
	h.prep = rh->prep;
	rec.hint = &h;
	return rec_give(m, &rec);
}

/* The keys of rows further on, for the diff to prefetch. */
static void
rec_peeks(const struct mapper *m, const struct rawhint *rh,
    struct rowhint *h)
{
	const struct schema	*sc = m->sc;
	size_t			 i, n;

	if (sc->nkey == 1) {
		int c = sc->col[sc->keyslot[0]];

		for (i = 0; i < 2; i++) {
			const struct rowpeek *pk = &rh->peek[i];

			if (pk->known != 0) {
				h->peek_known[i] = pk->known;
				continue;
			}
			if (pk->key != NULL) {	/* trimmed and hashed */
				h->peek_key[i] = pk->key;
				h->peek_len[i] = pk->keylen;
				h->peek_kh[i] = pk->kh;
				h->peek_hashed[i] = 1;
				continue;
			}
			if (c < 0 || (size_t)c >= pk->nf)
				continue;
			n = pk->len[c];
			h->peek_key[i] = trim(pk->base + pk->off[c], &n);
			h->peek_len[i] = n;
		}
	}
}

/* Count the row and hand it on. */
static int
rec_give(struct mapper *m, const struct record *rec)
{
	m->ls->rows++;
	if (m->ls->rows > MAX_ROWS) {
		failf(m, "more than %d data rows", MAX_ROWS);
		return -1;
	}
	return m->fn(m->arg, rec) != 0 ? -1 : 0;
}

/* A known line: the row of a stored user as it was (struct known). */
static int
on_known(struct mapper *m, const struct rawrow *r)
{
	const struct rawhint *rh = hint_of(r);
	struct record	 rec;
	struct rowhint	 h;

	memset(&rec, 0, sizeof(rec));
	memset(&h, 0, sizeof(h));
	rec.row = r->row;
	rec.bad_slot = -1;
	h.prepped = 1;
	h.prep = rh->prep;
	rec_peeks(m, rh, &h);
	rec.hint = &h;
	if (rh->prep.kflags & LI_KEYED)
		m->keyed++;
	m->nreq = 0;	/* stored without an issue: every required field */
	m->ls->known++;
	return rec_give(m, &rec);
}

/*
 * A CSV row read as one value although the header has several columns,
 * with another delimiter all through it ("E5;a@b.org;Ann;..." under a
 * comma header): the export mixes delimiters. Its key cannot be known,
 * so the person would look deleted; the file fails instead.
 */
static int
row_mixed(struct mapper *m, const struct rawrow *r)
{
	static const char	 cand[] = ",;\t|";
	static const char *const name[] = { "commas", "semicolons", "tabs",
	    "'|' characters" };
	size_t			 i, k, count;

	if (!m->csv || r->nf != 1 || m->ncols < 2)
		return 0;
	for (k = 0; k < 4; k++) {
		for (i = count = 0; i < r->len[0]; i++)
			count += r->f[0][i] == cand[k];
		if (count > 0 && count >= (m->ncols - 1) / 2) {
			failf(m, "row %zu is one value with %zu %s in it "
			    "although the header has %zu columns: the file mixes "
			    "delimiters; export it again with one delimiter",
			    r->row, count, name[k], m->ncols);
			return 1;
		}
	}
	return 0;
}

/*
 * A CSV row with fewer values than the header is skipped (REC_SHORT),
 * which keeps the person as the directory has them; but one that ends
 * before its key tells no one's, and the person would look deleted:
 * the file fails instead.
 */
static int
row_keyless(struct mapper *m, const struct rawrow *r)
{
	const struct schema	*sc = m->sc;
	size_t			 i;
	int			 c;

	if (!m->csv || r->nf >= m->named)
		return 0;
	for (i = 0; i < sc->nkey; i++)
		if ((c = sc->col[sc->keyslot[i]]) >= 0 && (size_t)c >= r->nf) {
			failf(m, "row %zu has %zu of the header's %zu values and "
			    "ends before the key column '%s': a line break in a "
			    "value that is not quoted split a row, or the row "
			    "lost its last values. Export the file again with "
			    "such values quoted and drop it again", r->row,
			    r->nf, m->named, sc->slots[sc->keyslot[i]].column);
			return 1;
		}
	return 0;
}

static int
on_raw(void *arg, const struct rawrow *r)
{
	struct mapper	*m = arg;

	if (!m->have_header)
		return on_header(m, r) == -1 ? 1 : 0;
	if (hint_of(r)->prepped && hint_of(r)->prep.known && r->nf == 0)
		return on_known(m, r) == -1 ? 1 : 0;
	if (row_blank(r))
		return 0;
	if (row_mixed(m, r))
		return 1;
	if (r->noeol && r->nf < m->ncols) {
		failf(m, "the file ends inside row %zu (%zu of %zu columns, no "
		    "line break): the export looks truncated", r->row, r->nf,
		    m->ncols);
		return 1;
	}
	if (row_keyless(m, r))
		return 1;
	return on_data(m, r) == -1 ? 1 : 0;
}

/*
 * Every data row left a required column empty: the file fails, naming
 * the columns, and when the cells were formulas never calculated, why.
 */
static void
req_fail(struct mapper *m, char *cause, size_t len)
{
	const struct schema	*sc = m->sc;
	struct buf		 cols = { 0 };
	size_t			 i, k, nocalc = 0;

	for (i = 0; i < sc->nslots; i++)
		for (k = 0; k < m->nreq; k++)
			if (m->req[k] == (int)i) {
				buf_printf(&cols, "%s%s", cols.len ? ", " : "",
				    sc->slots[i].column);
				nocalc += m->nocalc[i];
			}
	snprintf(cause, len, "none of the %zu data rows has a value in the "
	    "required column%s %s%s", m->ls->rows, m->nreq > 1 ? "s" : "",
	    cols.p, nocalc > 0 ? " (formulas never calculated? open and "
	    "save the file in the spreadsheet, or export values)" :
	    " (check the export and the sync's mapping)");
	buf_free(&cols);
}

/* A sheet's header, read by sheet_fits(). */
struct probe {
	const struct mapper	*m;
	int			 fits;
};

static int
probe_header(void *arg, const struct rawrow *h)
{
	struct probe	*p = arg;
	struct mapper	 pm;
	struct schema	 sc;
	char		 err[MAX_ERRMSG];

	memset(&pm, 0, sizeof(pm));
	memset(&sc, 0, sizeof(sc));
	pm.sy = p->m->sy;
	pm.sc = &sc;
	pm.err = err;
	pm.errlen = sizeof(err);
	p->fits = header_map(&pm, h) == 0;
	schema_free(&sc);
	return 1;
}

/* Would the sync's columns be found on that sheet of the workbook? */
static int
sheet_fits(const struct mapper *m, const char *path, const char *sheet)
{
	struct probe	 p = { m, 0 };
	char		 err[MAX_ERRMSG];

	return load_xlsx(path, sheet, probe_header, &p, err,
	    sizeof(err)) != -1 && p.fits;
}

/*
 * The sheet read has no header, or not the sync's columns, and the
 * workbook has other sheets: say which was read, list the others, and
 * suggest the sheet setting, naming a sheet whose header has the
 * columns when one has (of the first MAX_SHEET_PROBES).
 */
static void
sheet_hint(const struct mapper *m, const char *path, char *cause,
    size_t len)
{
	struct xlsx_book b;
	struct buf	 others = { 0 };
	const char	*fit = NULL;
	size_t		 i, probed = 0, n = strlen(cause);
	char		 err[MAX_ERRMSG];

	if (xlsx_book_sheets(path, m->sy->sheet, &b, err, sizeof(err)) == -1 ||
	    b.read == b.n || b.n < 2)
		goto out;
	for (i = 0; i < b.n; i++) {
		if (i == b.read)
			continue;
		buf_printf(&others, "%s'%s'%s", others.len ? ", " : "",
		    b.name[i], b.hidden[i] ? " (hidden)" : "");
		if (fit == NULL && probed++ < MAX_SHEET_PROBES &&
		    sheet_fits(m, path, b.name[i]))
			fit = b.name[i];
	}
	if (fit != NULL)
		snprintf(cause + n, len - n, "; the sheet read was '%s': "
		    "sheet '%s' has the columns, set sheet = \"%s\" in the "
		    "sync (the workbook's other sheets: %s)", b.name[b.read],
		    fit, fit, others.p);
	else
		snprintf(cause + n, len - n, "; the sheet read was '%s' (the "
		    "workbook's other sheets: %s): if the data is on another "
		    "sheet, name it with sheet = \"...\" in the sync",
		    b.name[b.read], others.p);
out:
	buf_free(&others);
	xlsx_book_free(&b);
}

enum fmt
load_sniff(const char *path)
{
	unsigned char	 sig[4];
	int		 fd;
	ssize_t		 n;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return FMT_CSV;
	n = read(fd, sig, sizeof(sig));
	close(fd);
	if (n == 4 && memcmp(sig, "PK\003\004", 4) == 0)
		return FMT_XLSX;
	return FMT_CSV;
}

int
load_file(const char *path, const char *name, const struct sync *sy,
    struct textenc *enc, struct schema *sc, struct loadstat *ls,
    struct known *kn, record_fn fn, void *arg, char *err, size_t errlen)
{
	struct mapper	 m;
	char		 cause[MAX_ERRMSG] = "";
	enum fmt	 got;
	int		 rc;

	memset(sc, 0, sizeof(*sc));
	memset(ls, 0, sizeof(*ls));
	memset(&m, 0, sizeof(m));
	m.sy = sy;
	m.sc = sc;
	m.ls = ls;
	m.fn = fn;
	m.arg = arg;
	m.kn = kn;
	m.err = cause;
	m.errlen = sizeof(cause);
	got = load_sniff(path);
	ls->format = got;
	m.csv = got != FMT_XLSX;
	if (sy->format == FMT_CSV && got == FMT_XLSX)
		snprintf(cause, sizeof(cause), "the file is a ZIP/XLSX "
		    "workbook but the sync's format is csv");
	else if (sy->format == FMT_XLSX && got != FMT_XLSX)
		snprintf(cause, sizeof(cause), "the file is not an XLSX "
		    "workbook (no ZIP signature) but the sync's format is "
		    "xlsx");
	if (cause[0] != '\0') {
		rc = -1;
		goto out;
	}
	if (got == FMT_XLSX)
		rc = load_xlsx(path, sy->sheet, on_raw, &m, cause,
		    sizeof(cause));
	else
		rc = load_csv_prep(path, on_raw, prep_row,
		    kn != NULL ? known_lines : NULL, &m, enc, cause,
		    sizeof(cause));
	if (rc == LOAD_NOT_UTF8)
		goto out;
	if (rc == 1 && cause[0] == '\0')
		snprintf(cause, sizeof(cause), "loading stopped");
	if (rc == 0 && !m.have_header) {
		snprintf(cause, sizeof(cause), "the file is empty: no "
		    "header row");
		m.nohead = 1;
		rc = -1;
	} else if (rc == 0 && ls->rows == 0) {
		snprintf(cause, sizeof(cause), "the file has a header but "
		    "no data rows");
		rc = -1;
	} else if (rc == 0 && m.keyed == 0 && sc->nkey > 0) {
		/* Not one person can be matched: never "everyone left". */
		snprintf(cause, sizeof(cause), "none of the %zu data rows has "
		    "a value in the key column %s (formulas never calculated? "
		    "open and save the file in the spreadsheet, or export "
		    "values)", ls->rows, sc->slots[sc->keyslot[0]].column);
		rc = -1;
	} else if (rc == 0 && m.nreq > 0) {
		req_fail(&m, cause, sizeof(cause));
		rc = -1;
	}
	if (rc != 0 && m.nohead && got == FMT_XLSX)
		sheet_hint(&m, path, cause, sizeof(cause));
out:
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", name, cause);
		rc = rc == LOAD_NOT_UTF8 ? rc : -1;
	}
	free(m.v);
	free(m.len);
	buf_free(&m.email);
	buf_free(&m.key);
	return rc;
}

void
schema_free(struct schema *sc)
{
	size_t	 i;

	if (sc->owned) {
		for (i = 0; i < sc->nslots; i++) {
			free(sc->slots[i].name);
			free(sc->slots[i].column);
		}
		free(sc->slots);
	}
	memset(sc, 0, sizeof(*sc));
}
