/*
 * Validation: row checks while the export loads (missing key or required
 * field, bad email, unreadable values) and cross-row checks once it is
 * loaded (duplicate ids, one email on two ids, managers that do not exist
 * or form a loop, the seat limit). Each problem is an issue naming the
 * row, the employee id, the field, what is wrong and how to fix it.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "known.h"

void
issue_add(struct job *j, enum issuetype type, long long row, const char *key,
    const char *field, const char *fix, const char *fmt, ...)
{
	struct issuerow	*is;
	va_list		 ap;
	char		*msg;
	uint32_t	 e;

	if (j->niss == j->isscap) {
		j->isscap = j->isscap ? j->isscap * 2 : 256;
		j->iss = xrealloc(j->iss, j->isscap * sizeof(*j->iss));
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("out of memory formatting an issue");
	va_end(ap);
	is = &j->iss[j->niss++];
	memset(is, 0, sizeof(*is));
	is->type = type;
	is->row = row;
	is->key = key ? arena_strndup(&j->a, key, strlen(key)) : NULL;
	is->field = field;
	is->fix = fix;
	is->message = arena_strndup(&j->a, msg, strlen(msg));
	free(msg);
	j->run->issues[type]++;
	if (key != NULL && (e = ent_get(j, key, strlen(key))) != ENT_NONE)
		j->e[e].flags |= E_IMPACT;
}

/* A value of a row for a report: a copy, or NULL (empty, not UTF-8). */
static const char *
who_value(struct job *j, const char *v, size_t n)
{
	if (n == 0 || !utf8_valid(v, n))
		return NULL;
	return arena_strndup(&j->a, v, n);
}

/* Issues n.. (to the last) are about a row with these values (each
 * NUL-terminated): its email and name, where they are not set. */
void
issues_who(struct job *j, size_t n, size_t last, const char *const *v)
{
	int		 em = j->sc.canon[F_EMAIL];
	const char	*name = display_name(j, v), *mail;

	mail = em >= 0 ? who_value(j, v[em], strlen(v[em])) : NULL;
	name = who_value(j, name, strlen(name));
	for (; n < last; n++) {
		if (j->iss[n].email == NULL)
			j->iss[n].email = mail;
		if (j->iss[n].name == NULL)
			j->iss[n].name = name;
	}
}

/* An issue with its email or name, by row. */
struct rowwho {
	long long	 row;
	size_t		 i;
};

static int
rowwho_cmp(const void *a, const void *b)
{
	const struct rowwho	*x = a, *y = b;

	return x->row < y->row ? -1 : x->row > y->row;
}

/*
 * Issues still without email and name take them from another issue of
 * the same row: a duplicate id's first row that a row check skipped (its
 * values were not kept, its own issue has them).
 */
static void
who_by_row(struct job *j)
{
	struct rowwho	*w, key, *hit;
	size_t		 i, n = 0, want = 0;

	for (i = 0; i < j->niss; i++)
		want += j->iss[i].email == NULL && j->iss[i].name == NULL &&
		    j->iss[i].row > 0;
	if (want == 0)
		return;
	w = xcalloc(j->niss, sizeof(*w));
	for (i = 0; i < j->niss; i++)
		if (j->iss[i].email != NULL || j->iss[i].name != NULL) {
			w[n].row = j->iss[i].row;
			w[n++].i = i;
		}
	qsort(w, n, sizeof(*w), rowwho_cmp);
	for (i = 0; i < j->niss && n > 0; i++) {
		if (j->iss[i].email != NULL || j->iss[i].name != NULL ||
		    j->iss[i].row <= 0)
			continue;
		key.row = j->iss[i].row;
		if ((hit = bsearch(&key, w, n, sizeof(*w), rowwho_cmp)) ==
		    NULL)
			continue;
		j->iss[i].email = j->iss[hit->i].email;
		j->iss[i].name = j->iss[hit->i].name;
	}
	free(w);
}

/*
 * The issues of the cross-row checks: the email and name their row had,
 * where the job kept the row (a new or changed one), or another issue of
 * the row has them.
 */
void
validate_identify(struct job *j)
{
	struct keptpass	 kp = { 0 };
	const char	*v[MAX_SLOTS];
	size_t		 i;
	uint32_t	 e;

	for (i = 0; i < j->niss; i++)
		if (j->iss[i].email == NULL && j->iss[i].key != NULL &&
		    (e = ent_get(j, j->iss[i].key, strlen(j->iss[i].key))) !=
		    ENT_NONE && j->erec[e] != ENT_NONE) {
			kept_release(j, &kp, j->kept[j->erec[e]].end);
			kept_values(j, &j->kept[j->erec[e]], v, NULL);
			issues_who(j, i, i + 1, v);
		}
	who_by_row(j);
}

/* A plain check: one @, a dotted domain, no spaces or controls. */
static int
email_ok(const char *s, size_t n)
{
	const char	*at = memchr(s, '@', n), *dom;
	size_t		 i, nd;

	if (at == NULL || at == s || n > MAX_EMAIL_LEN)
		return 0;
	if (memchr(at + 1, '@', n - (size_t)(at - s) - 1) != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == ',' || s[i] == ';' ||
		    s[i] == '<' || s[i] == '>' || s[i] == '"')
			return 0;
	dom = at + 1;
	nd = n - (size_t)(dom - s);
	if (nd < 3 || dom[0] == '.' || dom[nd - 1] == '.' ||
	    memchr(dom, '.', nd) == NULL)
		return 0;
	for (i = 0; i + 1 < nd; i++)
		if (dom[i] == '.' && dom[i + 1] == '.')
			return 0;
	return 1;
}

static const char *
slot_name(const struct job *j, int slot)
{
	return slot >= 0 ? j->sc.slots[slot].name : NULL;
}

static const char *
keyname(const struct job *j)
{
	return j->sc.nkey ? j->sc.slots[j->sc.keyslot[0]].name : "key";
}

/* Problems the loader flagged on this row. */
static int
row_flags(struct job *j, const struct record *r, const char *key)
{
	const char	*f = slot_name(j, r->bad_slot);

	if (r->bad & REC_UTF8)
		issue_add(j, ISS_USER_SKIPPED, (long long)r->row, key, f,
		    "save the export as UTF-8", "%s is not valid UTF-8",
		    f ? f : "a value");
	else if (r->bad & REC_TOOLONG)
		issue_add(j, ISS_USER_SKIPPED, (long long)r->row, key, f,
		    "shorten the value in the HR system",
		    "%s is longer than %d bytes", f ? f : "a value",
		    MAX_FIELD_LEN);
	else if (r->bad & REC_NOCALC)
		issue_add(j, ISS_USER_SKIPPED, (long long)r->row, key, f,
		    "open the file in a spreadsheet program and save it, so "
		    "that it calculates", "%s (column '%s') is a formula with "
		    "no saved value", f ? f : "a value", r->bad_slot >= 0 ?
		    j->sc.slots[r->bad_slot].column : "");
	else if (r->bad & REC_CELLERR)
		issue_add(j, ISS_USER_SKIPPED, (long long)r->row, key, f,
		    "fix the formula in the spreadsheet",
		    "%s holds a spreadsheet error, not a value",
		    f ? f : "a value");
	else if (r->bad & REC_BADDATE)
		issue_add(j, ISS_USER_SKIPPED, (long long)r->row, key, f,
		    "correct the date in the HR system (YYYY-MM-DD)",
		    "%s is a date cell whose text '%s' is not a date",
		    f ? f : "a value", r->bad_slot >= 0 ? r->v[r->bad_slot] :
		    "");
	else if (r->bad & REC_WIDE)
		issue_add(j, ISS_USER_SKIPPED, (long long)r->row, key, NULL,
		    "quote values that contain the delimiter",
		    "the row has more values than the header has columns");
	else if (r->bad & REC_SHORT)
		issue_add(j, ISS_USER_SKIPPED, (long long)r->row, key, NULL,
		    "quote values that contain a line break or the delimiter, "
		    "and give every row a value (or an empty one) for each "
		    "column", "the row has %zu values, the header has %zu "
		    "columns", r->nvals, r->ncols);
	else
		return 0;
	return 1;
}

static int	 row_checks(struct job *, const struct record *);

/* Row checks; 1 when the row must not be applied. Its issues say whose
 * row it is (email, name) when the row has them. */
int
validate_row(struct job *j, const struct record *r)
{
	size_t	 n = j->niss;
	int	 skip = row_checks(j, r);

	if (j->niss > n)
		issues_who(j, n, j->niss, r->v);
	return skip;
}

static int
row_checks(struct job *j, const struct record *r)
{
	const char	*key = r->keylen ? r->key : NULL;
	size_t		 i;
	int		 em = j->sc.canon[F_EMAIL];

	/* A row short of values or with a formula never calculated: that,
	 * before its key is empty. */
	if (r->keylen == 0 && !(r->bad & (REC_SHORT | REC_NOCALC))) {
		issue_add(j, ISS_USER_SKIPPED, (long long)r->row, NULL,
		    keyname(j), "fill in the id in the HR system",
		    "the row has no %s", keyname(j));
		return 1;
	}
	if (r->keylen > MAX_NAME_LEN) {
		issue_add(j, ISS_USER_SKIPPED, (long long)r->row, NULL,
		    keyname(j), "check the id column of the export",
		    "the %s is longer than %d bytes", keyname(j),
		    MAX_NAME_LEN);
		return 1;
	}
	if (row_flags(j, r, key))
		return 1;
	for (i = 0; i < j->sc.nslots; i++)
		if (j->sc.slots[i].required && r->len[i] == 0) {
			issue_add(j, ISS_USER_SKIPPED, (long long)r->row, key,
			    j->sc.slots[i].name,
			    "fill in the field in the HR system",
			    "the required field %s is empty",
			    j->sc.slots[i].name);
			return 1;
		}
	if (em >= 0 && r->len[em] > 0 && !email_ok(r->v[em], r->len[em])) {
		issue_add(j, ISS_USER_SKIPPED, (long long)r->row, key,
		    j->sc.slots[em].name, "correct the address in the HR "
		    "system", "'%s' is not a valid email address", r->v[em]);
		return 1;
	}
	return 0;
}

/* The bytes of the UTF-8 character that starts with c. */
static size_t
u8_charlen(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/*
 * Is n the stored value o with characters turned into "?": as many
 * characters, and each that differs not ASCII in o and "?" in n? What a
 * spreadsheet's save in an encoding that lacks them writes (Excel's plain
 * "CSV": Windows-1252, no Cyrillic, Greek, CJK, "ł" or "ş").
 */
static int
qmarked(const char *o, size_t on, const char *n, size_t nn)
{
	size_t	 i = 0, k = 0, cl;
	int	 lost = 0;

	while (i < on && k < nn) {
		cl = u8_charlen((unsigned char)o[i]);
		if ((unsigned char)o[i] >= 0x80 && n[k] == '?') {
			lost = 1;
			i += cl;
			k++;
			continue;
		}
		if (i + cl > on || k + cl > nn || memcmp(o + i, n + k, cl) != 0)
			return 0;
		i += cl;
		k += cl;
	}
	return lost && i == on && k == nn;
}

int
validate_qmarks(struct job *j, uint32_t id, const char *const *v,
    const size_t *len, const char *const *ov, const uint32_t *olen)
{
	size_t	 i, n = 0, first = 0, at = j->niss;

	for (i = 0; i < j->sc.nslots; i++)
		if (!j->sc.slots[i].key &&
		    qmarked(ov[i], olen[i], v[i], len[i]) && n++ == 0)
			first = i;
	if (n == 0)
		return 0;
	issue_add(j, ISS_USER_SKIPPED, j->e[id].row, ent_key(j, id),
	    j->sc.slots[first].name, "save the export as CSV UTF-8 and drop "
	    "it again (plain CSV writes \"?\" for the characters its "
	    "encoding lacks)", "%s would change from '%s' to '%s'%s: "
	    "characters the file's encoding could not hold became \"?\"; "
	    "the row is not applied", j->sc.slots[first].name, ov[first],
	    v[first], n > 1 ? " (and other fields the same way)" : "");
	issues_who(j, at, j->niss, ov);
	return 1;
}

static int
live(uint32_t f)
{
	return (f & (E_NEW | E_SKIP | E_TERM)) == E_NEW;
}

/* Will this key be an active user after the run? */
static int
stays(uint32_t f)
{
	return (f & E_NEW) && !(f & E_TERM) && (!(f & E_SKIP) ||
	    (f & E_ACTIVE));
}

/* Prefetching over the export's keys in row order, this far ahead: */
#define AHEAD	8

/* Two rows' addresses, the same? (One that could not be read is not.) */
static int
same_email(const char *a, const char *b)
{
	return a != email_stored && b != email_stored &&
	    email_same(a, strlen(a), b, strlen(b));
}

/* A terminated row's email (tmail, sorted by entry), or NULL. */
static const char *
term_email(const struct job *j, uint32_t id)
{
	size_t	 lo = 0, hi = j->ntmail, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (j->tmail[mid].ent < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < j->ntmail && j->tmail[lo].ent == id ? j->tmail[lo].email :
	    NULL;
}

/*
 * The email of entry id's row, read now that it must be compared: its
 * kept record's (a new or changed row), a terminated row's copy, or,
 * for a row equal to its stored user, the directory's (into a).
 */
static const char *
row_email(struct job *j, uint32_t id, struct arena *a)
{
	const char	*t;
	char		*v;

	if (j->e[id].flags & E_TERM)
		return (t = term_email(j, id)) != NULL ? t : email_stored;
	if (j->erec[id] != ENT_NONE)
		return kept_v(j, &j->kept[j->erec[id]],
		    (size_t)j->sc.canon[F_EMAIL]);
	if ((v = store_dir_email(j->st, j->sy->name, ent_key(j, id))) ==
	    NULL) {
		log_warnx("database: the email of %s cannot be read: %s",
		    ent_key(j, id), store_errmsg(j->st));
		return email_stored;	/* compared with nothing */
	}
	t = arena_strndup(a, v, strlen(v));
	free(v);
	return t;
}

static void
email_conflict(struct job *j, uint32_t x, const char *mail, uint32_t o)
{
	const char	*fix = "give each person their own address in the HR "
			    "system";

	if (!(j->e[o].flags & E_SKIP)) {
		j->e[o].flags |= E_SKIP;
		issue_add(j, ISS_USER_SKIPPED, j->e[o].row, ent_key(j, o),
		    canon_names[F_EMAIL], fix, "the email %s is also "
		    "used by %s on row %u", mail, ent_key(j, x), j->e[x].row);
	}
	j->e[x].flags |= E_SKIP;
	issue_add(j, ISS_USER_SKIPPED, j->e[x].row, ent_key(j, x),
	    canon_names[F_EMAIL], fix, "the email %s is also used by %s on "
	    "row %u", mail, ent_key(j, o), j->e[o].row);
}


/* A row whose email's hash another row has too. */
struct mailkey {
	uint32_t	 h;
	uint32_t	 row;
	uint32_t	 ent;
};

#define MK_BITS		16		/* buckets of the first pass */

/* Does the export's row of entry i have an email? */
static int
has_mail(const struct job *j, size_t i)
{
	return (j->e[i].flags & (E_ORDER | E_MAIL)) == (E_ORDER | E_MAIL);
}

/* Insertion sort: the buckets hold a few hashes each. */
static void
hash_isort(uint32_t *a, size_t n)
{
	uint32_t	 t;
	size_t		 i, k;

	for (i = 1; i < n; i++) {
		t = a[i];
		for (k = i; k > 0 && a[k - 1] > t; k--)
			a[k] = a[k - 1];
		a[k] = t;
	}
}

/*
 * The email hashes that more than one row has, sorted (a few among a
 * million): every row's hash sorted, one pass into buckets by the top
 * MK_BITS bits (about sixteen to a bucket), then each bucket in place.
 * Their count in *np; free() it.
 */
static uint32_t *
hashes_shared(const struct job *j, size_t *np)
{
	uint32_t	*a, *dup = NULL;
	size_t		*at = xcalloc((1 << MK_BITS) + 1, sizeof(*at));
	size_t		 i, b, n = 0, nd = 0, cap = 0;

	for (i = 0; i < j->ne; i++)
		if (has_mail(j, i)) {
			at[(j->eeh[i] >> (32 - MK_BITS)) + 1]++;
			n++;
		}
	for (b = 0; b < (1 << MK_BITS); b++)
		at[b + 1] += at[b];
	a = big_alloc((n + 1) * sizeof(*a));
	for (i = 0; i < j->ne; i++)
		if (has_mail(j, i))
			a[at[j->eeh[i] >> (32 - MK_BITS)]++] = j->eeh[i];
	/* at[b] is now where bucket b + 1 starts. */
	for (b = 0, i = 0; b < (1 << MK_BITS); i = at[b++])
		hash_isort(a + i, at[b] - i);
	free(at);
	for (i = 1; i < n; i++)
		if (a[i] == a[i - 1] && (nd == 0 || dup[nd - 1] != a[i])) {
			if (nd == cap) {
				cap = cap ? cap * 2 : 64;
				dup = xrealloc(dup, cap * sizeof(*dup));
			}
			dup[nd++] = a[i];
		}
	big_free(a);
	*np = nd;
	return dup;
}

static int
in_sorted(const uint32_t *a, size_t n, uint32_t v)
{
	size_t	 lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && a[lo] == v;
}

static int
cmp_mailkey(const void *a, const void *b)
{
	const struct mailkey	*x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/*
 * The rows whose email's hash another row has, grouped by the hash and
 * in row order within a group. Their count in *np; free() it.
 */
static struct mailkey *
mail_groups(const struct job *j, size_t *np)
{
	struct mailkey	*k = NULL;
	uint64_t	 top[(1 << MK_BITS) / 64];	/* dup's top bits */
	uint32_t	*dup, t;
	size_t		 nd, i, n = 0, cap = 0;

	dup = hashes_shared(j, &nd);
	memset(top, 0, sizeof(top));
	for (i = 0; i < nd; i++) {
		t = dup[i] >> (32 - MK_BITS);
		top[t / 64] |= 1ULL << (t % 64);
	}
	for (i = 0; nd > 0 && i < j->ne; i++)
		if (has_mail(j, i) && (t = j->eeh[i] >> (32 - MK_BITS),
		    top[t / 64] & 1ULL << (t % 64)) &&
		    in_sorted(dup, nd, j->eeh[i])) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				k = xrealloc(k, cap * sizeof(*k));
			}
			k[n].h = j->eeh[i];
			k[n].row = j->e[i].row;
			k[n++].ent = (uint32_t)i;
		}
	free(dup);
	if (n > 1)
		qsort(k, n, sizeof(*k), cmp_mailkey);
	*np = n;
	return k;
}

/* One group of rows whose emails hash alike: every row that shares an
 * address with an earlier live one is skipped. */
static void
email_group(struct job *j, const struct mailkey *k, size_t n,
    struct arena *a, struct keptpass *kp)
{
	const char	**mail = xcalloc(n, sizeof(*mail));
	uint32_t	*id = xcalloc(n, sizeof(*id));
	size_t		 i, y, end = 0;

	/* The group's live rows, as they were before its conflicts (a
	 * row's email puts it in one group only); each email read. */
	for (i = 0; i < n; i++) {
		uint32_t e = k[i].ent;
		const char *m = row_email(j, e, a);

		kept_release(j, kp, m);
		if (live(j->e[e].flags)) {
			id[end] = e;
			mail[end++] = m;
		}
	}
	for (i = 1; i < end; i++) {
		/* The first earlier row with the same address. */
		for (y = 0; y < i; y++)
			if (same_email(mail[y], mail[i]))
				break;
		if (y < i)
			email_conflict(j, id[i], mail[i], id[y]);
	}
	free(mail);
	free(id);
}

/* The terminated rows' emails, sorted by entry for term_email(). */
static int
cmp_rowmail(const void *a, const void *b)
{
	uint32_t	 x = ((const struct rowmail *)a)->ent;
	uint32_t	 y = ((const struct rowmail *)b)->ent;

	return x < y ? -1 : x > y;
}

/*
 * Each address on one live row only: every row that shares one is
 * skipped, and each message names the first of them in row order. The
 * emails are grouped by sorting their hashes (a million random inserts
 * into a map cost more), then compared as strings within a group.
 */
static void
check_emails(struct job *j)
{
	struct keptpass	 kp = { 0 };
	struct mailkey	*k;
	struct arena	 a = { 0 };
	size_t		 n, b, c;

	if (j->ntmail > 1)
		qsort(j->tmail, j->ntmail, sizeof(*j->tmail), cmp_rowmail);
	k = mail_groups(j, &n);
	for (b = 0; b < n; b = c) {
		for (c = b + 1; c < n && k[c].h == k[b].h; c++)
			;
		email_group(j, k + b, c - b, &a, &kp);
	}
	free(k);
	arena_free(&a);
}

/*
 * Each row's manager, found as it was read (j->emgr: a key's entry, or
 * a new entry of its own for a key no row nor user has): the manager
 * stays only when that is a user after the run.
 */
static void
check_managers(struct job *j)
{
	size_t		 i;
	uint32_t	 id, m, a;

	for (i = 0; i < j->norder; i++) {
		if (i + AHEAD < j->norder &&
		    (a = j->e[j->order[i + AHEAD]].mgr) < j->ne)
			__builtin_prefetch(&j->e[a].flags);
		id = j->order[i];
		m = j->e[id].mgr;
		j->e[id].mgr = ENT_NONE;
		if (!live(j->e[id].flags) || m == ENT_NONE)
			continue;
		if (m == id) {
			j->e[id].flags |= E_MGR_KEEP;
			issue_add(j, ISS_MANAGER_CYCLE, j->e[id].row,
			    ent_key(j, id), canon_names[F_MANAGER_ID],
			    "correct the manager in the HR system", "%s is "
			    "given as their own manager; the manager is not "
			    "assigned", ent_key(j, id));
			continue;
		}
		if (stays(j->e[m].flags)) {
			j->e[id].mgr = m;
			continue;
		}
		j->e[id].flags |= E_MGR_CLEAR;
		issue_add(j, ISS_MANAGER_NOT_FOUND, j->e[id].row, ent_key(j, id),
		    canon_names[F_MANAGER_ID], "add the manager to the export "
		    "or correct the manager id", "manager %s is neither in "
		    "the export nor in the directory; the user is applied "
		    "without a manager", ent_key(j, m));
	}
}

static void
cycle_mark(struct job *j, const uint32_t *path, size_t from, size_t n)
{
	size_t	 i;

	for (i = from; i < n; i++) {
		uint32_t e = path[i];

		j->e[e].flags |= E_MGR_KEEP;
		issue_add(j, ISS_MANAGER_CYCLE, j->e[e].row, ent_key(j, e),
		    canon_names[F_MANAGER_ID], "correct the managers in the "
		    "HR system", "%s is in a management loop of %zu people "
		    "(through %s); the manager is not changed", ent_key(j, e),
		    n - from, ent_key(j, j->e[e].mgr));
	}
	for (i = from; i < n; i++)
		j->e[path[i]].mgr = ENT_NONE;
}

/*
 * Management loops: walk up from every user of the export, in row order,
 * marking the path. (Keys only in the directory have no manager here.)
 */
static void
check_cycles(struct job *j)
{
	uint32_t	*path = big_alloc((j->ne + 1) * sizeof(*path));
	size_t		 i, n, k;
	uint32_t	 x;

	for (i = 0; i < j->norder; i++) {
		/* The row's entry, then its manager's, ahead. */
		if (i + 2 * AHEAD < j->norder)
			__builtin_prefetch(&j->e[j->order[i + 2 * AHEAD]].mgr);
		if (i + AHEAD < j->norder &&
		    (x = j->e[j->order[i + AHEAD]].mgr) != ENT_NONE) {
			__builtin_prefetch(&j->e[x].flags);
			__builtin_prefetch(&j->e[x].mgr);
		}
		n = 0;
		for (x = j->order[i]; x != ENT_NONE && !(j->e[x].flags & E_DONE);
		    x = j->e[x].mgr) {
			if (j->e[x].flags & E_VISIT) {
				for (k = 0; path[k] != x; k++)
					;
				cycle_mark(j, path, k, n);
				break;
			}
			j->e[x].flags |= E_VISIT;
			path[n++] = x;
		}
		for (k = 0; k < n; k++)
			j->e[path[k]].flags = (j->e[path[k]].flags & ~E_VISIT) | E_DONE;
	}
	big_free(path);
}

/* Cross-row checks, once the whole export is loaded. */
void
validate_cross(struct job *j)
{
	check_emails(j);
	big_free(j->eeh);	/* the email hashes: checked */
	j->eeh = NULL;
	check_managers(j);
	check_cycles(j);
	/* The rows' order and terminated emails are not needed after
	 * this. */
	big_free(j->order);
	j->order = NULL;
	j->norder = 0;
	free(j->tmail);
	j->tmail = NULL;
	j->ntmail = j->tmailcap = 0;
}

static int
cmp_desc(const void *a, const void *b, void *arg)
{
	const struct job *j = arg;

	return strcmp(ent_key(j, *(const uint32_t *)b),
	    ent_key(j, *(const uint32_t *)a));
}

/* Creates beyond the seat limit are refused, highest ids first. */
void
validate_seats(struct job *j)
{
	long long	 limit = j->sy->seat_limit, deletes = 0, room;
	uint32_t	*c;
	size_t		 nc = 0, i;

	if (limit <= 0)
		return;
	c = xmalloc((j->ne + 1) * sizeof(*c));
	for (i = 0; i < j->ne; i++) {
		uint32_t f = j->e[i].flags;

		if (live(f) && !(f & E_ACTIVE))
			c[nc++] = (uint32_t)i;
		if ((f & E_ACTIVE) && (!(f & E_NEW) ||
		    ((f & E_TERM) && !(f & E_SKIP))))
			deletes++;
	}
	room = limit - (j->active_before - deletes);
	if ((long long)nc > room) {
		qsort_r(c, nc, sizeof(*c), cmp_desc, j);
		for (i = 0; (long long)i < (long long)nc - (room > 0 ? room :
		    0); i++) {
			j->e[c[i]].flags |= E_SEAT;
			issue_add(j, ISS_SEAT_LIMIT, j->e[c[i]].row,
			    ent_key(j, c[i]), NULL,
			    "raise seat_limit or remove users",
			    "creating %s would exceed the seat limit of %lld",
			    ent_key(j, c[i]), limit);
		}
	}
	free(c);
}
