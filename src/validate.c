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
static void
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

/*
 * The issues of the cross-row checks: the email and name their row had,
 * where the job kept the row (a new or changed one).
 */
void
validate_identify(struct job *j)
{
	size_t		 i;
	uint32_t	 e;

	for (i = 0; i < j->niss; i++)
		if (j->iss[i].email == NULL && j->iss[i].key != NULL &&
		    (e = ent_get(j, j->iss[i].key, strlen(j->iss[i].key))) !=
		    ENT_NONE && j->e[e].rec != ENT_NONE)
			issues_who(j, i, i + 1, j->kept[j->e[e].rec].v);
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

	if (r->keylen == 0) {
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

static int
live(const struct ent *e)
{
	return (e->flags & (E_NEW | E_SKIP | E_TERM)) == E_NEW;
}

/* Will this key be an active user after the run? */
static int
stays(const struct ent *e)
{
	return (e->flags & E_NEW) && !(e->flags & E_TERM) &&
	    (!(e->flags & E_SKIP) || (e->flags & E_ACTIVE));
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

/* A row's stored email, read now that it must be compared. */
static void
stored_email(struct job *j, struct xrow *x)
{
	char	*v;

	if (x->email != email_stored)
		return;
	if ((v = store_dir_email(j->st, j->sy->name, j->e[x->ent].key)) ==
	    NULL) {
		log_warnx("database: the email of %s cannot be read: %s",
		    j->e[x->ent].key, store_errmsg(j->st));
		return;	/* compared with nothing */
	}
	x->email = arena_strndup(&j->xa, v, strlen(v));
	free(v);
}

static void
email_conflict(struct job *j, const struct xrow *x, const struct xrow *first)
{
	struct ent	*e = &j->e[x->ent], *o = &j->e[first->ent];
	const char	*fix = "give each person their own address in the HR "
			    "system";

	if (!(o->flags & E_SKIP)) {
		o->flags |= E_SKIP;
		issue_add(j, ISS_USER_SKIPPED, o->row, o->key,
		    canon_names[F_EMAIL], fix, "the email %s is also "
		    "used by %s on row %u", x->email, e->key, e->row);
	}
	e->flags |= E_SKIP;
	issue_add(j, ISS_USER_SKIPPED, e->row, e->key, canon_names[F_EMAIL],
	    fix, "the email %s is also used by %s on row %u", x->email,
	    o->key, o->row);
}


/* A live row's email and where it is, sorted by the email's hash. */
struct mailkey {
	uint64_t	 h;
	uint64_t	 i;		/* index in j->order: the row order */
};

#define MK_BITS		16		/* buckets of the first pass */

/* Stable insertion sort on h: the buckets hold a few keys each. */
static void
mailkey_isort(struct mailkey *a, size_t n)
{
	struct mailkey	 t;
	size_t		 i, k;

	for (i = 1; i < n; i++) {
		t = a[i];
		for (k = i; k > 0 && a[k - 1].h > t.h; k--)
			a[k] = a[k - 1];
		a[k] = t;
	}
}

/*
 * The rows' emails sorted on h, stably (rows keep their order within
 * equal hashes): one pass into buckets by the top MK_BITS bits, which
 * leaves the hashes of a million emails about sixteen to a bucket, then
 * each bucket in place. Their count in *np; free() it.
 */
static struct mailkey *
mailkey_sort(const struct job *j, size_t *np)
{
	struct mailkey	*a;
	size_t		*at = xcalloc((1 << MK_BITS) + 1, sizeof(*at));
	size_t		 i, b, n = 0;

	for (i = 0; i < j->norder; i++)
		if (j->order[i].email != NULL) {
			at[(j->order[i].eh >> (64 - MK_BITS)) + 1]++;
			n++;
		}
	for (b = 0; b < (1 << MK_BITS); b++)
		at[b + 1] += at[b];
	a = big_alloc((n + 1) * sizeof(*a));
	for (i = 0; i < j->norder; i++)
		if (j->order[i].email != NULL) {
			b = at[j->order[i].eh >> (64 - MK_BITS)]++;
			a[b].h = j->order[i].eh;  /* made as the row was read */
			a[b].i = i;
		}
	/* at[b] is now where bucket b + 1 starts. */
	for (b = 0, i = 0; b < (1 << MK_BITS); i = at[b++])
		mailkey_isort(a + i, at[b] - i);
	free(at);
	*np = n;
	return a;
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
	struct mailkey	*k;
	size_t		 n, i, a, b, y, end;

	k = mailkey_sort(j, &n);
	for (a = 0; a < n; a = b) {
		for (b = a + 1; b < n && k[b].h == k[a].h; b++)
			;
		if (b - a < 2)
			continue;
		for (i = a; i < b; i++)
			stored_email(j, &j->order[k[i].i]);
		/* The group's live rows, as they were before its conflicts
		 * (a row's email puts it in one group only). */
		for (i = end = a; i < b; i++)
			if (live(&j->e[j->order[k[i].i].ent]))
				k[end++] = k[i];
		for (i = a + 1; i < end; i++) {
			const struct xrow *x = &j->order[k[i].i];

			/* The first earlier row with the same address. */
			for (y = a; y < i; y++)
				if (same_email(j->order[k[y].i].email,
				    x->email))
					break;
			if (y < i)
				email_conflict(j, x, &j->order[k[y].i]);
		}
	}
	free(k);
}

static void
manager_ahead(struct job *j, size_t i)
{
	const struct xrow	*a;
	uint32_t		 m;

	if (i + 2 * AHEAD < j->norder) {
		a = &j->order[i + 2 * AHEAD];
		__builtin_prefetch(&j->e[a->ent]);
		if (a->mgrkey != NULL)
			strmap_prefetch(&j->keys, a->mgrkey,
			    strlen(a->mgrkey));
		else if (a->mgr != ENT_NONE)
			__builtin_prefetch(&j->e[a->mgr]);
	}
	if (i + AHEAD < j->norder &&
	    (a = &j->order[i + AHEAD])->mgrkey != NULL &&
	    (m = strmap_peek(&j->keys, a->mgrkey, strlen(a->mgrkey))) !=
	    STRMAP_NONE)
		__builtin_prefetch(&j->e[m]);
}

static void
check_managers(struct job *j)
{
	const char	*mk;
	size_t		 i;
	uint32_t	 m;

	for (i = 0; i < j->norder; i++) {
		const struct xrow *x = &j->order[i];
		struct ent *e = &j->e[x->ent];

		manager_ahead(j, i);
		if (!live(e) || (x->mgrkey == NULL && x->mgr == ENT_NONE))
			continue;
		/* Resolved from the key snapshot, or looked up by key. */
		m = x->mgrkey == NULL ? x->mgr :
		    ent_get(j, x->mgrkey, strlen(x->mgrkey));
		mk = x->mgrkey != NULL ? x->mgrkey : j->e[m].key;
		if (x->mgrkey == NULL ? m == x->ent :
		    strcmp(x->mgrkey, e->key) == 0) {
			e->flags |= E_MGR_KEEP;
			issue_add(j, ISS_MANAGER_CYCLE, e->row, e->key,
			    canon_names[F_MANAGER_ID], "correct the manager "
			    "in the HR system", "%s is given as their own "
			    "manager; the manager is not assigned", e->key);
			continue;
		}
		if (m != ENT_NONE && stays(&j->e[m])) {
			e->mgr = m;
			continue;
		}
		e->flags |= E_MGR_CLEAR;
		issue_add(j, ISS_MANAGER_NOT_FOUND, e->row, e->key,
		    canon_names[F_MANAGER_ID], "add the manager to the export "
		    "or correct the manager id", "manager %s is neither in "
		    "the export nor in the directory; the user is applied "
		    "without a manager", mk);
	}
}

static void
cycle_mark(struct job *j, const uint32_t *path, size_t from, size_t n)
{
	size_t	 i;

	for (i = from; i < n; i++) {
		struct ent *e = &j->e[path[i]];

		e->flags |= E_MGR_KEEP;
		issue_add(j, ISS_MANAGER_CYCLE, e->row, e->key,
		    canon_names[F_MANAGER_ID], "correct the managers in the "
		    "HR system", "%s is in a management loop of %zu people "
		    "(through %s); the manager is not changed", e->key,
		    n - from, j->e[e->mgr].key);
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
	uint32_t	*path = xmalloc((j->ne + 1) * sizeof(*path));
	size_t		 i, n, k;
	uint32_t	 x;

	for (i = 0; i < j->norder; i++) {
		/* The row's entry, then its manager's, ahead. */
		if (i + 2 * AHEAD < j->norder)
			__builtin_prefetch(&j->e[j->order[i + 2 * AHEAD].ent]);
		if (i + AHEAD < j->norder &&
		    (x = j->e[j->order[i + AHEAD].ent].mgr) != ENT_NONE)
			__builtin_prefetch(&j->e[x]);
		n = 0;
		for (x = j->order[i].ent; x != ENT_NONE &&
		    !(j->e[x].flags & E_DONE); x = j->e[x].mgr) {
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
			j->e[path[k]].flags = (j->e[path[k]].flags &
			    ~E_VISIT) | E_DONE;
	}
	free(path);
}

/* Cross-row checks, once the whole export is loaded. */
void
validate_cross(struct job *j)
{
	check_emails(j);
	check_managers(j);
	check_cycles(j);
	/* The rows' emails and manager ids are not needed after this. */
	known_keep(j);
	free(j->order);
	j->order = NULL;
	j->norder = j->ordercap = 0;
	arena_free(&j->xa);
}

static int
cmp_desc(const void *a, const void *b, void *arg)
{
	const struct job *j = arg;

	return strcmp(j->e[*(const uint32_t *)b].key,
	    j->e[*(const uint32_t *)a].key);
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

		if (live(&j->e[i]) && !(f & E_ACTIVE))
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
			struct ent *e = &j->e[c[i]];

			e->flags |= E_SEAT;
			issue_add(j, ISS_SEAT_LIMIT, e->row, e->key, NULL,
			    "raise seat_limit or remove users",
			    "creating %s would exceed the seat limit of %lld",
			    e->key, limit);
		}
	}
	free(c);
}
