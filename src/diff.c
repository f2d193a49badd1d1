/*
 * The diff: every key of the directory and of the export in one table, a
 * 64-bit fingerprint of each row, and the items that turn the directory
 * into the export. Only rows that are new or whose fingerprint differs are
 * kept whole and compared field by field against the stored row, so an
 * unchanged million-row export costs a hash lookup per row.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "known.h"


uint64_t
rec_hash(const struct job *j, const char *const *v, const size_t *len)
{
	return fingerprint(j->slot_seed, j->sc.nslots, v, len);
}

static uint64_t
kept_hash(const struct job *j, const struct kept *k)
{
	const char	*v[MAX_SLOTS];
	size_t		 len[MAX_SLOTS];

	kept_values(j, k, v, len);
	return rec_hash(j, v, len);
}

static void
on_dir_user(void *arg, const char *key, size_t n, uint64_t hash, int active)
{
	struct job	*j = arg;
	uint32_t	 e = ent_add(j, key, n);

	j->e[e].flags = E_DIR | (active ? E_ACTIVE : 0);
	j->dhash[e] = hash;
	j->active_before += active != 0;
}

static void
on_dir_team(void *arg, const char *name, long long members)
{
	struct job	*j = arg;
	uint32_t	 t = team_intern(j, name, strlen(name));

	j->team_old[t] = members;
}

/*
 * Every user and team the directory holds for the sync. The active users
 * are counted on the way (what store_dir_active() would count, without a
 * second pass over a million rows).
 */
int
diff_load_dir(struct job *j)
{
	const char	*sync = j->sy->name;
	int		 rc;

	j->active_before = 0;
	if (store_read_begin(j->st) == -1)
		return -1;
	if (snap_load(j) == -1) {
		log_debug("no key snapshot of this directory version: "
		    "reading the users table");
		j->scanned = 1;
		j->active_before = 0;
		rc = store_dir_scan(j->st, sync, on_dir_user, j);
		if (rc == 0)	/* in the same read transaction: consistent */
			snap_save(j, 0);
	} else
		rc = 0;
	if (rc == 0)
		known_load(j);
	if (rc == 0)
		rc = store_team_scan(j->st, sync, on_dir_team, j);
	store_read_end(j->st);
	if (rc == -1) {
		log_warnx("cannot read the directory: %s",
		    store_errmsg(j->st));
		return -1;
	}
	return 0;
}

/* 0, or -1: the kept rows' file failed (j->kf.err). */
static int
keep_record(struct job *j, uint32_t ent, const struct record *r, uint64_t fp)
{
	struct kept	*k;

	if (j->nkept == j->keptcap) {
		j->keptcap = j->keptcap ? j->keptcap * 2 : 1024;
		j->kept = xrealloc(j->kept, j->keptcap * sizeof(*j->kept));
	}
	k = &j->kept[j->nkept];
	k->ent = ent;
	k->hash = fp;
	if (kept_set(j, k, r->v, r->len) == -1)
		return -1;
	j->erec[ent] = (uint32_t)j->nkept++;
	return 0;
}

/* A row's email hash, kept until diff_loaded() makes j->eeh. */
static void
hash_add(struct job *j, uint32_t id, uint32_t eh)
{
	if (j->nrh == j->rhcap) {
		j->rhcap = j->rhcap ? j->rhcap * 2 : 4096;
		j->rh = big_realloc(j->rh, j->nrh * sizeof(*j->rh),
		    j->rhcap * sizeof(*j->rh));
	}
	j->rh[j->nrh].ent = id;
	j->rh[j->nrh++].eh = eh;
}

/* A row hashed and not known: its line for the next lines file. */
static void
line_add(struct job *j, uint32_t id, const struct record *r, uint32_t eh,
    int mail)
{
	struct lineout	*o;

	if (j->nlines == j->linecap) {
		j->linecap = j->linecap ? j->linecap * 2 : 4096;
		j->lines = big_realloc(j->lines, j->nlines * sizeof(*j->lines),
		    j->linecap * sizeof(*j->lines));
	}
	o = &j->lines[j->nlines++];
	o->lh[0] = r->hint->prep.lh[0];
	o->lh[1] = r->hint->prep.lh[1];
	o->eh = eh;
	o->ent = id | (mail ? LINE_MAIL : 0);
}

/* The entry of a manager_id: a key's, or a new entry of that key (which
 * its own row may fill later; if none does, the manager is not found). */
static uint32_t
mgr_entry(struct job *j, const char *k, size_t n)
{
	uint32_t	 m = ent_get(j, k, n);

	return m != ENT_NONE ? m : ent_add(j, k, n);
}

/*
 * What the cross-row checks need of the row, by its entry: its place in
 * row order, its email's hash (the email itself is the kept record's,
 * a terminated row's copy, or, unchanged, the directory's), its manager's
 * entry; and its line, for the next lines file.
 */
static void
keep_row(struct job *j, uint32_t id, const struct record *r, int unchanged)
{
	struct rowmail	*t;
	uint32_t	 eh = 0;
	int		 s, mail = 0;

	j->e[id].flags |= E_ORDER;
	if ((s = j->sc.canon[F_EMAIL]) >= 0 && r->len[s] > 0) {
		eh = r->hint->prepped ? (uint32_t)r->hint->prep.eh :
		    (uint32_t)email_hash(r->v[s], r->len[s]);
#ifdef RS_SELFCHECK
		if (eh != (uint32_t)email_hash(r->v[s], r->len[s]))
			fatalx("row %zu: the loader's email hash "
			    "differs", r->row);
#endif
		hash_add(j, id, eh);
		j->e[id].flags |= E_MAIL;
		mail = 1;
		if (j->e[id].flags & E_TERM) {
			if (j->ntmail == j->tmailcap) {
				j->tmailcap = j->tmailcap ? j->tmailcap * 2 :
				    64;
				j->tmail = xrealloc(j->tmail, j->tmailcap *
				    sizeof(*j->tmail));
			}
			t = &j->tmail[j->ntmail++];
			t->ent = id;
			t->email = arena_strndup(&j->a, r->v[s], r->len[s]);
		}
	}
	if ((j->e[id].flags & E_LINE) && j->kn.now != 0)
		line_add(j, id, r, eh, mail);
	if ((j->e[id].flags & E_TERM) || (s = j->sc.canon[F_MANAGER_ID]) < 0 ||
	    r->len[s] == 0)
		return;
	/* A row equal to the stored one names the stored manager, whose
	 * entry the key snapshot gives: no lookup. */
	if (unchanged && id < j->ndirmgr && j->dirmgr[id] < DIRMGR_UNKNOWN)
		j->e[id].mgr = j->dirmgr[id];
	else
		j->e[id].mgr = mgr_entry(j, r->v[s], r->len[s]);
}

static int
is_terminated(const struct job *j, const struct record *r)
{
	const struct sync	*sy = j->sy;
	int			 s = j->sc.term_slot;
	size_t			 i;

	if (s < 0 || r->len[s] == 0)
		return 0;
	/* The value is its length: a trimmed one may go on unterminated. */
	for (i = 0; i < sy->nterminated_values; i++)
		if (strlen(sy->terminated_values[i]) == r->len[s] &&
		    strncasecmp(r->v[s], sy->terminated_values[i],
		    r->len[s]) == 0)
			return 1;
	return 0;
}

static int
needs_compare(const struct job *j, uint32_t id, uint64_t fp,
    const struct record *r)
{
	size_t	 i;

	if ((j->e[id].flags & E_ACTIVE) == 0 || fp != j->dhash[id])
		return 1;
	for (i = 0; i < j->sc.nslots; i++)
		if (j->sc.slots[i].keep_empty && r->len[i] == 0)
			return 1;
	return 0;
}

/* What a row of entry id touches, into cache. */
static void
prefetch_ent(const struct job *j, uint32_t id)
{
	__builtin_prefetch(&j->e[id].flags, 1);
	__builtin_prefetch(&j->e[id].row, 1);
	__builtin_prefetch(&j->e[id].mgr, 1);
	__builtin_prefetch(&j->e[id].team, 1);
	if (id < j->ndirmgr)
		__builtin_prefetch(&j->dirmgr[id]);
}

/* The key table's slots of rows further on into cache (load.c's peeks). */
static void
prefetch_ahead(struct job *j, const struct record *r)
{
	uint32_t	 id;

	if (r->hint->peek_known[1] != 0) {
		prefetch_ent(j, r->hint->peek_known[1] - 1);
		return;
	}
	if (r->hint->peek_hashed[0])
		ent_prefetch_h(j, r->hint->peek_kh[0]);
	else if (r->hint->peek_key[0] != NULL)
		ent_prefetch_h(j, strmap_keyhash(r->hint->peek_key[0],
		    r->hint->peek_len[0]));
	id = r->hint->peek_hashed[1] ? ent_peek_h(j, r->hint->peek_kh[1]) :
	    r->hint->peek_key[1] != NULL ? ent_peek_h(j,
	    strmap_keyhash(r->hint->peek_key[1], r->hint->peek_len[1])) :
	    ENT_NONE;
	if (id != ENT_NONE && id < j->ne) {
		prefetch_ent(j, id);
		__builtin_prefetch(&j->dhash[id]);
	}
}

/*
 * The entry of the row's key, or ENT_NONE. An export usually lists people
 * in the order of the one before, which is the key table's: the entry
 * after the last row's is tried first, and while that keeps being right
 * (in_order) nothing is hashed or prefetched. Out of order, it is tried
 * again every GUESS_EVERY rows.
 */
#define GUESS_EVERY	16

static uint32_t
find_key(struct job *j, const struct record *r)
{
	if ((j->in_order || r->row % GUESS_EVERY == 0) && j->next < j->ne) {
		if (ent_keylen(j, j->next) == r->keylen &&
		    memcmp(ent_key(j, j->next), r->key, r->keylen) == 0) {
			j->in_order = 1;
			return j->next;
		}
	}
	j->in_order = 0;
#ifdef RS_SELFCHECK
	if (r->hint->prepped && r->hint->prep.kh_ok &&
	    r->hint->prep.kh != strmap_keyhash(r->key, r->keylen))
		fatalx("row %zu: the loader's key hash differs", r->row);
#endif
	return r->hint->prepped && r->hint->prep.kh_ok ? ent_get_h(j, r->key,
	    r->keylen, r->hint->prep.kh) : ent_get(j, r->key, r->keylen);
}

static void	 dup_who(struct job *, uint32_t, size_t,
		    const struct record *);

/* A second row r of entry id's key: neither is applied. Each issue says
 * whose row it is (dup_who()). */
static void
dup_row(struct job *j, uint32_t id, const struct record *r)
{
	size_t	 n = j->niss;

	if ((j->e[id].flags & E_DUP) == 0) {
		issue_add(j, ISS_USER_SKIPPED, j->e[id].row, ent_key(j, id),
		    canon_names[F_EMPLOYEE_ID], "give each person "
		    "one row and a unique id in the HR system",
		    "the id %s is on several rows", ent_key(j, id));
		dup_who(j, id, n, NULL);
	}
	j->e[id].flags |= E_DUP | E_SKIP;
	j->erec[id] = ENT_NONE;
	n = j->niss;
	issue_add(j, ISS_USER_SKIPPED, (long long)r->row, ent_key(j, id),
	    canon_names[F_EMPLOYEE_ID], "give each person one row "
	    "and a unique id in the HR system",
	    "the id %s is also on row %u", ent_key(j, id), j->e[id].row);
	dup_who(j, id, n, r);
}

static int	 line_clean(const struct job *, const struct record *);

#ifdef RS_SELFCHECK
/* A known line, parsed all the same (load_csv.c): is it what on_known()
 * took it for, a clean row of that stored user, equal to it? */
static void
known_check(struct job *j, uint32_t id, const struct record *r)
{
	size_t			 n = j->niss;
	uint32_t		 d = j->dirmgr[id], t = ENT_NONE;
	int			 s, mail;

	if (r->v == NULL || r->keylen != ent_keylen(j, id) ||
	    memcmp(r->key, ent_key(j, id), r->keylen) != 0)
		fatalx("row %zu: a known line is not %s's", r->row,
		    ent_key(j, id));
	if (!(j->e[id].flags & E_ACTIVE) || rec_hash(j, r->v, r->len) !=
	    j->dhash[id] || is_terminated(j, r) || !line_clean(j, r) ||
	    validate_row(j, r) != 0 || j->niss != n)
		fatalx("row %zu: a known line is not %s unchanged", r->row,
		    ent_key(j, id));
	s = j->sc.canon[F_EMAIL];
	mail = s >= 0 && r->len[s] > 0;
	if (mail != ((r->hint->prep.kflags & LI_EMAIL) != 0))
		fatalx("row %zu: a known line's email differs", r->row);
	if (mail)	/* known_mail() reads it from the file: compared there */
		hash_add(j, id, (uint32_t)email_hash(r->v[s], r->len[s]));
	if ((s = j->sc.team_slot) >= 0 && r->len[s] > 0)
		t = team_intern(j, r->v[s], r->len[s]);
	if (t != j->e[id].team)
		fatalx("row %zu: a known line's team differs", r->row);
	s = j->sc.canon[F_MANAGER_ID];
	if (s < 0 || r->len[s] == 0 ? d != DIRMGR_NONE : d >= j->ne ||
	    ent_keylen(j, d) != r->len[s] ||
	    memcmp(ent_key(j, d), r->v[s], r->len[s]) != 0)
		fatalx("row %zu: a known line's manager differs", r->row);
}
#endif

/*
 * A known line (struct known): the row of the stored user it was last
 * time, unchanged. What diff_on_record() makes of such a row, from what
 * the snapshot keeps: its email's hash and team, its stored manager.
 */
static int
on_known(struct job *j, const struct record *r)
{
	uint32_t	 id = r->hint->prep.known - 1, t = r->hint->prep.kteam;

	prefetch_ahead(j, r);
	j->next = id + 1;
	if (j->e[id].flags & E_NEW) {
		dup_row(j, id, r);
		return 0;
	}
	j->e[id].flags |= E_NEW | E_LINE | E_KNOWN |
	    (r->hint->prep.kflags & LI_EMAIL ? E_MAIL : 0);
	j->e[id].row = (uint32_t)r->row;
	if (t < j->kn.nteam) {
		if (j->kn.tmap[t] == ENT_NONE)
			j->kn.tmap[t] = team_intern(j, j->kn.tname[t],
			    j->kn.tlen[t]);
		j->e[id].team = j->kn.tmap[t];
	}
	j->e[id].flags |= E_ORDER;
	j->e[id].mgr = j->dirmgr[id];	/* known: not DIRMGR_UNKNOWN */
#ifdef RS_SELFCHECK
	known_check(j, id, r);
#endif
	if (r->row == 5000)
		fault("load.row5000");
	return 0;
}

/* Can the row be a known line next time, if it is stored as it is? */
static int
line_clean(const struct job *j, const struct record *r)
{
	size_t	 i;

	if (!r->hint->prep.lh_ok)
		return 0;
	for (i = 0; i < j->sc.nslots; i++)
		if (j->sc.slots[i].keep_empty && r->len[i] == 0)
			return 0;
	return 1;
}

/* The loader's callback: one export row into the key table. */
int
diff_on_record(void *arg, const struct record *r)
{
	struct job	*j = arg;
	uint32_t	 id;
	uint64_t	 fp;
	int		 skip, s, changed;

	if (!j->seeded)
		slot_seeds(&j->sc, j->slot_seed);
	j->seeded = 1;
	if (r->hint->prep.known)
		return on_known(j, r);
	if (!j->in_order)
		prefetch_ahead(j, r);
	skip = validate_row(j, r);
	if (r->keylen == 0)
		return 0;
	if ((id = find_key(j, r)) == ENT_NONE)
		id = ent_add(j, r->key, r->keylen);
	j->next = id + 1;
	if (j->e[id].flags & E_NEW) {
		dup_row(j, id, r);
		return 0;
	}
	j->e[id].flags |= E_NEW;
	j->e[id].row = (uint32_t)r->row;
	if (skip) {
		j->e[id].flags |= E_SKIP;
		return 0;
	}
	if ((s = j->sc.team_slot) >= 0 && r->len[s] > 0)
		j->e[id].team = team_intern(j, r->v[s], r->len[s]);
	if (is_terminated(j, r)) {
		j->e[id].flags |= E_TERM;
		keep_row(j, id, r, 0);
		return 0;
	}
	if (line_clean(j, r))
		j->e[id].flags |= E_LINE;
	/* Made by the loader as it read the row, usually (load.c). */
	fp = r->hint->prepped ? r->hint->prep.fp : rec_hash(j, r->v, r->len);
#ifdef RS_SELFCHECK
	if (r->hint->prepped && r->hint->prep.fp != rec_hash(j, r->v, r->len))
		fatalx("row %zu: the loader's fingerprint differs",
		    r->row);
#endif
	changed = needs_compare(j, id, fp, r);
	if (changed && keep_record(j, id, r, fp) == -1)
		return -1;	/* the load stops; the run says why */
	keep_row(j, id, r, !changed);	/* may add an entry: ids stay */
	if (r->row == 5000)
		fault("load.row5000");
	return 0;
}

/* ------------------------------------------------------- the rows */

/* A row's number and entry, for sorting the rows back into their order. */
struct rowent {
	uint32_t	 row;
	uint32_t	 ent;
};

#define RADIX_BITS	16

/* a sorted on row (LSD radix, two passes through b); both n long. */
static void
rows_sort(struct rowent *a, struct rowent *b, size_t n)
{
	size_t		*at = xmalloc(((1 << RADIX_BITS) + 1) * sizeof(*at));
	size_t		 i, d;
	unsigned	 shift;

	for (shift = 0; shift < 32; shift += RADIX_BITS) {
		memset(at, 0, ((1 << RADIX_BITS) + 1) * sizeof(*at));
		for (i = 0; i < n; i++)
			at[((a[i].row >> shift) & ((1 << RADIX_BITS) - 1)) +
			    1]++;
		for (d = 0; d < (1 << RADIX_BITS); d++)
			at[d + 1] += at[d];
		for (i = 0; i < n; i++)
			b[at[(a[i].row >> shift) & ((1 << RADIX_BITS) - 1)]++] =
			    a[i];
		memcpy(a, b, n * sizeof(*a));
	}
	free(at);
}

/*
 * The entries of the export in row order: by their rows, in an array of
 * the rows (n is about the last row: a scatter and a compaction), or, in
 * a file whose rows are sparse (blank lines), sorted.
 */
static void
rows_in_order(struct job *j)
{
	struct rowent	*a, *b;
	uint32_t	*at, top = 0;
	size_t		 i, n = 0, k;

	for (i = 0; i < j->ne; i++)
		if (j->e[i].flags & E_ORDER) {
			n++;
			if (j->e[i].row > top)
				top = j->e[i].row;
		}
	if ((size_t)top <= 2 * n + 1024) {
		at = big_alloc(((size_t)top + 1) * sizeof(*at));
		memset(at, 0xff, ((size_t)top + 1) * sizeof(*at));
		for (i = 0; i < j->ne; i++)
			if (j->e[i].flags & E_ORDER)
				at[j->e[i].row] = (uint32_t)i;
		for (i = k = 0; i <= top; i++)
			if (at[i] != ENT_NONE)
				at[k++] = at[i];
		j->order = big_realloc(at, 0, (n + 1) * sizeof(*at));
		j->norder = n;
		return;
	}
	a = big_alloc((n + 1) * sizeof(*a));
	b = big_alloc((n + 1) * sizeof(*b));
	for (i = k = 0; i < j->ne; i++)
		if (j->e[i].flags & E_ORDER) {
			a[k].row = j->e[i].row;
			a[k++].ent = (uint32_t)i;
		}
	rows_sort(a, b, n);
	big_free(b);
	j->order = big_alloc((n + 1) * sizeof(*j->order));
	for (i = 0; i < n; i++)
		j->order[i] = a[i].ent;
	j->norder = n;
	big_free(a);
}

/*
 * The load is over and the known lines' table gone: what the cross-row
 * checks need of the rows, made now rather than kept while loading (a
 * million rows, 8 MB): the entries of the export in row order (each
 * entry knows its row), and each row's email hash (a known line's from
 * the lines file, another's as the load made it).
 */
void
diff_loaded(struct job *j)
{
	size_t	 i;

	kept_loaded(j);
	rows_in_order(j);
	j->eeh = big_calloc(j->ne + 1, sizeof(*j->eeh));
	known_mail(j);
	for (i = 0; i < j->nrh; i++) {
#ifdef RS_SELFCHECK
		if ((j->e[j->rh[i].ent].flags & E_KNOWN) &&
		    j->eeh[j->rh[i].ent] != j->rh[i].eh)
			fatalx("entry %u: a known line's email hash differs",
			    j->rh[i].ent);
#endif
		j->eeh[j->rh[i].ent] = j->rh[i].eh;
	}
	big_free(j->rh);
	j->rh = NULL;
	j->nrh = j->rhcap = 0;
}

/* ------------------------------------------------------------- items */

/* The stored fields of one user, per slot of this load: in o->b, each
 * NUL-terminated, until oldrow_free(); old_keep() copies one that an
 * item keeps into the job's arena. */
struct oldrow {
	struct job	*j;
	const char	*v[MAX_SLOTS];
	uint32_t	 len[MAX_SLOTS];
	size_t		 off[MAX_SLOTS];
	struct buf	 b;
};

static void
on_old_field(void *arg, const char *k, const char *v, size_t n)
{
	struct oldrow	*o = arg;
	size_t		 i;

	for (i = 0; i < o->j->sc.nslots; i++)
		if (strcmp(o->j->sc.slots[i].name, k) == 0) {
			o->off[i] = o->b.len;
			buf_add(&o->b, v, n);
			buf_addc(&o->b, '\0');
			o->len[i] = (uint32_t)n;
			return;
		}
}

static const char *
old_keep(struct job *j, const struct oldrow *o, size_t i)
{
	return o->len[i] == 0 ? "" : arena_strndup(&j->a, o->v[i], o->len[i]);
}

static void
oldrow_free(struct oldrow *o)
{
	buf_free(&o->b);
}

/* User e's stored fields, read now (diff_items() takes the users in key
 * order: neighbours share the B-tree's pages). */
static void
old_fields(struct job *j, uint32_t e, struct oldrow *o)
{
	char	*json;
	size_t	 i;

	memset(o, 0, sizeof(*o));
	o->j = j;
	json = store_dir_fields(j->st, j->sy->name, ent_key(j, e));
	if (json != NULL && json_flat_each(json, on_old_field, o) == -1)
		log_warnx("user %s: the stored fields are not valid JSON",
		    ent_key(j, e));
	free(json);
	for (i = 0; i < j->sc.nslots; i++)
		o->v[i] = o->len[i] > 0 ? o->b.p + o->off[i] : "";
}

_Static_assert((unsigned long long)MAX_ROWS * (MAX_SLOTS + 1) <= UINT32_MAX,
    "an item's first change is 32 bits");

static struct item *
item_new(struct job *j, enum itemtype type, uint32_t ent)
{
	struct item	*it;

	if (j->nit == j->itcap) {
		j->itcap = j->itcap ? j->itcap * 2 : 1024;
		j->it = xrealloc(j->it, j->itcap * sizeof(*j->it));
	}
	it = &j->it[j->nit++];
	memset(it, 0, sizeof(*it));
	it->type = type;
	it->status = IST_PENDING;
	it->ent = ent;
	it->chg = j->nchg;
	it->email = it->name = "";
	if (ent != ENT_NONE)
		j->e[ent].flags |= E_IMPACT;
	return it;
}

static void
change_add(struct job *j, struct item *it, const char *field,
    const char *old, const char *new)
{
	if (j->nchg == j->chgcap) {
		j->chgcap = j->chgcap ? j->chgcap * 2 : 1024;
		j->chg = xrealloc(j->chg, j->chgcap * sizeof(*j->chg));
	}
	j->chg[j->nchg].field = field;
	j->chg[j->nchg].old = old;
	j->chg[j->nchg].new = new;
	j->nchg++;
	it->nchg++;
}

/* One value of a kept record replaced (rare: the record is copied). */
static void
set_value(struct job *j, struct kept *k, int slot, const char *v, uint32_t n)
{
	const char	*nv[MAX_SLOTS];
	size_t		 len[MAX_SLOTS];

	kept_values(j, k, nv, len);
	nv[slot] = v;
	len[slot] = n;
	(void)kept_set(j, k, nv, len);	/* after the load: it keeps it */
}

/* Apply keep_if_empty and the manager decisions of validation. */
static void
finalize(struct job *j, uint32_t id, struct kept *k, const struct oldrow *o)
{
	int	 m = j->sc.canon[F_MANAGER_ID];
	size_t	 i;

	for (i = 0; o != NULL && i < j->sc.nslots; i++)
		if (j->sc.slots[i].keep_empty && kept_len(k, i) == 0)
			set_value(j, k, (int)i, old_keep(j, o, i), o->len[i]);
	if (m < 0)
		return;
	if (j->e[id].flags & E_MGR_CLEAR)
		set_value(j, k, m, "", 0);
	else if (j->e[id].flags & E_MGR_KEEP)
		set_value(j, k, m, o ? old_keep(j, o, (size_t)m) : "",
		    o ? o->len[m] : 0);
}

static struct item *
user_item(struct job *j, enum itemtype type, uint32_t ent, struct kept *k)
{
	struct item	*it = item_new(j, type, ent);
	const char	*v[MAX_SLOTS];
	int		 em = j->sc.canon[F_EMAIL];

	kept_values(j, k, v, NULL);
	it->email = em >= 0 ? v[em] : "";
	it->name = display_name(j, v);
	return it;
}

static int
same(const struct job *j, const struct kept *k, const struct oldrow *o,
    size_t i)
{
	return kept_len(k, i) == o->len[i] &&
	    memcmp(kept_v(j, k, i), o->v[i], o->len[i]) == 0;
}

/* A user in both: update, manager and team_member items as needed. */
static void
compare_user(struct job *j, uint32_t id)
{
	struct kept	*k = &j->kept[j->erec[id]];
	struct item	*up = NULL, *it;
	struct oldrow	 o;
	int		 m = j->sc.canon[F_MANAGER_ID], t = j->sc.team_slot, em;
	size_t		 i;

	old_fields(j, id, &o);
	finalize(j, id, k, &o);
	/* The same address in another case is no change: the stored one
	 * stays (and so does the fingerprint). */
	if ((em = j->sc.canon[F_EMAIL]) >= 0 && !same(j, k, &o, (size_t)em) &&
	    o.len[em] > 0 && email_same(kept_v(j, k, (size_t)em),
	    kept_len(k, (size_t)em), o.v[em], o.len[em])) {
		set_value(j, k, em, old_keep(j, &o, (size_t)em), o.len[em]);
		j->e[id].flags &= ~E_LINE;	/* stored unlike the line */
	}
	for (i = 0; i < j->sc.nslots; i++) {
		if (j->sc.slots[i].key || (int)i == m || same(j, k, &o, i))
			continue;
		if (up == NULL)
			up = user_item(j, IT_UPDATE, id, k);
		change_add(j, up, j->sc.slots[i].name, old_keep(j, &o, i),
		    kept_v(j, k, i));
	}
	if (m >= 0 && !same(j, k, &o, (size_t)m)) {
		it = user_item(j, IT_MANAGER, id, k);
		change_add(j, it, j->sc.slots[m].name,
		    old_keep(j, &o, (size_t)m), kept_v(j, k, (size_t)m));
	}
	if (t >= 0 && !same(j, k, &o, (size_t)t)) {
		it = user_item(j, IT_TEAM_MEMBER, id, k);
		it->team = kept_v(j, k, (size_t)t);
		change_add(j, it, j->sc.slots[t].name,
		    old_keep(j, &o, (size_t)t), it->team);
	}
	k->hash = kept_hash(j, k);
	if (up != NULL || k->hash != j->dhash[id])
		j->e[id].flags |= E_WRITE;
	if ((j->e[id].flags & E_ACTIVE) && (em = j->sc.canon[F_EMAIL]) >= 0 &&
	    same(j, k, &o, (size_t)em))
		j->e[id].flags |= E_SAMEMAIL;
	if (m >= 0 && !same(j, k, &o, (size_t)m))
		j->e[id].flags |= E_WRITE;
	oldrow_free(&o);
}

/*
 * The email and name of issue n's row, a row of entry id's key: r's
 * values; with r NULL, the first row's, kept (new or changed) or the
 * directory's it equals (a known line or an unchanged row; so is a known
 * line r). A first row skipped or terminated kept nothing: a skipped
 * one's own issue names it (validate_identify()).
 */
static void
dup_who(struct job *j, uint32_t id, size_t n, const struct record *r)
{
	const char	*v[MAX_SLOTS];
	struct oldrow	 o;
	uint32_t	 f = j->e[id].flags;

	if (r != NULL && r->v != NULL) {
		issues_who(j, n, n + 1, r->v);
		return;
	}
	if (r == NULL && j->erec[id] != ENT_NONE) {
		if (kept_flush(j) == 0) {
			kept_values(j, &j->kept[j->erec[id]], v, NULL);
			issues_who(j, n, n + 1, v);
		}
		return;
	}
	if (!(f & E_DIR) || (r == NULL && (f & (E_SKIP | E_TERM))))
		return;
	old_fields(j, id, &o);
	issues_who(j, n, n + 1, o.v);
	oldrow_free(&o);
}

static void
create_user(struct job *j, uint32_t id)
{
	struct kept	*k = &j->kept[j->erec[id]];

	finalize(j, id, k, NULL);
	k->hash = kept_hash(j, k);
	j->e[id].flags |= E_CREATE | E_WRITE;
	user_item(j, IT_CREATE, id, k);
}

/* A delete carries the person's last values, each field old -> empty:
 * what was removed is answered from the report alone. */
static void
delete_user(struct job *j, uint32_t id)
{
	struct item	*it = item_new(j, IT_DELETE, id);
	struct oldrow	 o;
	int		 em = j->sc.canon[F_EMAIL], t = j->sc.team_slot;
	size_t		 i;

	old_fields(j, id, &o);
	for (i = 0; i < j->sc.nslots; i++)	/* the item keeps them all */
		o.v[i] = old_keep(j, &o, i);
	it->email = em >= 0 ? o.v[em] : "";
	it->name = display_name(j, o.v);
	if (t >= 0 && o.len[t] > 0)
		it->team = o.v[t];
	for (i = 0; i < j->sc.nslots; i++)
		if (!j->sc.slots[i].key && o.len[i] > 0)
			change_add(j, it, j->sc.slots[i].name, o.v[i], "");
	j->e[id].flags |= E_DELETE;
	/* A member still, should the guard hold this deletion. */
	if ((t = j->sc.team_slot) >= 0 && o.len[t] > 0)
		j->team_held[team_intern(j, o.v[t], o.len[t])]++;
	oldrow_free(&o);
}

/* --------------------------------------------------------- ordering */

/* Ids already in key order, put in order of depth too: a stable
 * counting sort, so each depth keeps its keys' order. */
static void
by_depth(uint32_t *ids, size_t n, const int32_t *depth)
{
	size_t		*at, i, top = 0;
	uint32_t	*out;

	for (i = 0; i < n; i++)
		if ((size_t)depth[ids[i]] > top)
			top = (size_t)depth[ids[i]];
	at = xcalloc(top + 2, sizeof(*at));
	for (i = 0; i < n; i++)
		at[depth[ids[i]] + 1]++;
	for (i = 1; i <= top; i++)
		at[i] += at[i - 1];
	out = xmalloc((n + 1) * sizeof(*out));
	for (i = 0; i < n; i++)
		out[at[depth[ids[i]]]++] = ids[i];
	memcpy(ids, out, n * sizeof(*ids));
	free(out);
	free(at);
}

/* ---------------------------------------------------------- id changes */

/*
 * An id as a spreadsheet that typed it as a number shows it: every part
 * of the key (composite keys join parts with "/") made only of digits
 * loses its leading zeros. Into b; its text.
 */
static const char *
strip_zeros(struct buf *b, const char *k, size_t n)
{
	size_t	 i = 0, end, z;

	buf_reset(b);
	while (i <= n) {
		for (end = i; end < n && k[end] != '/'; end++)
			;
		for (z = i; z < end && k[z] >= '0' && k[z] <= '9'; z++)
			;
		if (z == end)	/* digits only: drop zeros before the last */
			for (z = i; z + 1 < end && k[z] == '0'; z++)
				;
		else
			z = i;
		if (i > 0)
			buf_addc(b, '/');
		buf_add(b, k + z, end - z);
		i = end + 1;
	}
	return b->p ? b->p : "";
}

static int
absent(uint32_t f)		/* in the directory, not the export */
{
	return (f & (E_ACTIVE | E_NEW)) == E_ACTIVE;
}

static int
arriving(uint32_t f)		/* in the export only */
{
	return (f & (E_NEW | E_SKIP | E_TERM | E_ACTIVE)) == E_NEW;
}

int
diff_ids_retyped(struct job *j, char *err, size_t errlen)
{
	struct strmap	 gone = { 0 };
	struct arena	 a = { 0 };
	struct buf	 b = { 0 };
	const char	*s;
	size_t		 i, n = 0, need, rows = j->ls.rows;
	uint32_t	 x, ex = ENT_NONE, eg = ENT_NONE;

	for (i = 0; i < j->ne; i++)
		if (absent(j->e[i].flags)) {
			s = strip_zeros(&b, ent_key(j, (uint32_t)i),
			    ent_keylen(j, (uint32_t)i));
			if (strmap_get(&gone, s, b.len) == STRMAP_NONE)
				strmap_put(&gone, arena_strndup(&a, s, b.len),
				    b.len, (uint32_t)i);
		}
	for (i = 0; gone.n > 0 && i < j->ne; i++) {
		if (!arriving(j->e[i].flags))
			continue;
		s = strip_zeros(&b, ent_key(j, (uint32_t)i),
		    ent_keylen(j, (uint32_t)i));
		if ((x = strmap_get(&gone, s, b.len)) == STRMAP_NONE)
			continue;
		if (n++ == 0)
			ex = (uint32_t)i, eg = x;
	}
	strmap_free(&gone);
	arena_free(&a);
	buf_free(&b);
	/* 10 rows or 1% of them, whichever is fewer (at least one). */
	need = rows / 100 < 10 ? (rows + 99) / 100 : 10;
	if (n == 0 || n < (need ? need : 1) ||
	    (j->allow_id_changes >= 0 && (long long)n <= j->allow_id_changes))
		return 0;
	if (ent_keylen(j, ex) < ent_keylen(j, eg))
		snprintf(err, errlen, "%zu ids of the file match the "
		    "directory's only without their leading zeros (%s in the "
		    "directory is %s on row %u): a spreadsheet typed the id "
		    "column as numbers. Format the id column as text (or "
		    "export the file again from the HR system) and drop it "
		    "again; nothing was applied", n, ent_key(j, eg),
		    ent_key(j, ex), j->e[ex].row);
	else
		snprintf(err, errlen, "%zu ids of the file match the "
		    "directory's only with leading zeros added (%s in the "
		    "directory is %s on row %u): an earlier export had its ids "
		    "typed as numbers. If this file is right, push it through "
		    "once with --allow-id-changes %zu; nothing was applied", n,
		    ent_key(j, eg), ent_key(j, ex), j->e[ex].row, n);
	return -1;
}

/* The email the directory holds for a user, lower-cased; "" if none. */
static const char *
stored_mail(struct job *j, uint32_t e)
{
	struct oldrow	 o;
	const char	*mail;
	int		 em = j->sc.canon[F_EMAIL];

	old_fields(j, e, &o);
	mail = old_keep(j, &o, (size_t)em);
	oldrow_free(&o);
	return mail;
}

/* The issue of one person whose id changed, and what it holds back. */
static void
id_changed(struct job *j, uint32_t was, uint32_t now, const char *mail)
{
	struct buf	 a = { 0 }, b = { 0 };
	const char	*ok = ent_key(j, was), *nk = ent_key(j, now);
	int		 retyped;

	retyped = strcmp(strip_zeros(&a, ok, ent_keylen(j, was)),
	    strip_zeros(&b, nk, ent_keylen(j, now))) == 0;
	issue_add(j, ISS_ID_CHANGED, j->e[now].row, ok,
	    canon_names[F_EMPLOYEE_ID], retyped ? "format the id column as "
	    "text and export the file again" : "correct the id in the HR "
	    "system; if it really changed, push the file through once with "
	    "--allow-id-changes", "employee id %s is now %s (row %u), same "
	    "email %s: %s; neither the deletion nor the creation is applied",
	    ok, nk, j->e[now].row, mail, retyped ? "was the id column typed "
	    "as a number?" : "one person with a new id?");
	j->e[now].flags |= E_SKIP | E_IMPACT;	/* not created */
	j->e[was].flags |= E_KEPT | E_IMPACT;	/* not deleted */
	buf_free(&a);
	buf_free(&b);
}

/* Users whose manager is a new id held back keep their stored manager. */
static void
held_managers(struct job *j)
{
	size_t	 i;

	for (i = 0; i < j->ne; i++) {
		uint32_t m = j->e[i].mgr;

		if (m == ENT_NONE || !(j->e[m].flags & E_SKIP) ||
		    (j->e[m].flags & E_ACTIVE))
			continue;
		issue_add(j, ISS_MANAGER_NOT_FOUND, j->e[i].row,
		    ent_key(j, (uint32_t)i), canon_names[F_MANAGER_ID],
		    "see the id_changed issue of the manager", "manager %s is "
		    "a new id whose creation is held (id_changed); the "
		    "manager is not changed", ent_key(j, m));
		j->e[i].flags |= E_MGR_KEEP;
		j->e[i].mgr = ENT_NONE;
	}
}

/*
 * One person, two ids: a delete and a create in one run whose emails are
 * the same address. Neither is applied (each is taken out of c and d),
 * unless --allow-id-changes lets that many through.
 */
static void
id_changes(struct job *j, uint32_t *c, size_t *nc, uint32_t *d, size_t *nd)
{
	struct keptpass	 kp = { 0 };
	struct strmap	 mail = { 0 };
	struct arena	 a = { 0 };
	struct buf	 b = { 0 };
	uint32_t	*pair, x;
	unsigned char	*taken;
	const char	*m, *f;
	size_t		 i, k, n = 0, fl;
	int		 em = j->sc.canon[F_EMAIL];

	if (*nc == 0 || *nd == 0 || em < 0)
		return;
	for (i = 0; i < *nc; i++) {
		kept_release(j, &kp, j->kept[j->erec[c[i]]].end);
		m = kept_v(j, &j->kept[j->erec[c[i]]], (size_t)em);
		f = email_fold(&b, m, strlen(m), &fl);
		if (fl > 0 && strmap_get(&mail, f, fl) == STRMAP_NONE)
			strmap_put(&mail, arena_strndup(&a, f, fl), fl,
			    (uint32_t)i);
	}
	/* pair[i]: the create (its index in c) of delete i, or ENT_NONE. */
	pair = xcalloc(*nd + 1, sizeof(*pair));
	taken = xcalloc(*nc + 1, 1);
	for (i = 0; i < *nd; i++) {
		pair[i] = ENT_NONE;
		m = stored_mail(j, d[i]);
		f = email_fold(&b, m, strlen(m), &fl);
		if (fl > 0 && (x = strmap_get(&mail, f, fl)) != STRMAP_NONE &&
		    !taken[x]) {
			pair[i] = x;
			taken[x] = 1;
			n++;
		}
	}
	if (n > 0 && j->allow_id_changes >= 0 &&
	    (long long)n <= j->allow_id_changes) {
		log_msg(LOG_NOTICE, "--allow-id-changes %lld lets %zu people's "
		    "id changes through (each a deletion and a creation) for "
		    "this run only", j->allow_id_changes, n);
		n = 0;
	}
	for (i = k = 0; n > 0 && i < *nd; i++)
		if (pair[i] != ENT_NONE) {
			id_changed(j, d[i], c[pair[i]],
			    stored_mail(j, d[i]));
			c[pair[i]] = ENT_NONE;
		} else
			d[k++] = d[i];
	if (n > 0) {
		*nd = k;
		for (i = k = 0; i < *nc; i++)
			if (c[i] != ENT_NONE)
				c[k++] = c[i];
		*nc = k;
		held_managers(j);
	}
	free(pair);
	free(taken);
	strmap_free(&mail);
	arena_free(&a);
	buf_free(&b);
}

static int
is_create(const struct job *j, uint32_t id)
{
	return (j->e[id].flags & (E_NEW | E_SKIP | E_TERM | E_ACTIVE |
	    E_SEAT)) == E_NEW;
}

/* Depth of each create below other creates: managers are made first. */
static int32_t *
create_depths(struct job *j, const uint32_t *c, size_t nc)
{
	int32_t		*d = big_alloc(j->ne * sizeof(*d));
	uint32_t	*path = big_alloc((j->ne + 1) * sizeof(*path));
	size_t		 i, n;
	uint32_t	 x;

	for (i = 0; i < j->ne; i++)
		d[i] = -1;
	for (i = 0; i < nc; i++) {
		n = 0;
		for (x = c[i]; d[x] < 0 && n <= j->ne; x = j->e[x].mgr) {
			path[n++] = x;
			if (j->e[x].mgr == ENT_NONE ||
			    !is_create(j, j->e[x].mgr))
				break;
		}
		while (n > 0) {
			uint32_t y = path[--n], up = j->e[y].mgr;

			d[y] = up != ENT_NONE && is_create(j, up) &&
			    d[up] >= 0 ? d[up] + 1 : 0;
		}
	}
	big_free(path);
	return d;
}

/*
 * Changed rows whose values are their stored ones with characters turned
 * into "?" (validate_qmarks()): skipped, and taken out of u, before the
 * teams are counted. Only a row with a "?" has its stored fields read.
 */
static void
qmark_rows(struct job *j, uint32_t *u, size_t *nu)
{
	struct keptpass	 kp = { 0 };
	struct oldrow	 o;
	struct kept	*k;
	const char	*v[MAX_SLOTS];
	size_t		 len[MAX_SLOTS], i, n, s;
	int		 skip;

	for (i = n = 0; i < *nu; i++) {
		k = ent_kept(j, u[i]);
		kept_release(j, &kp, k->end);
		kept_values(j, k, v, len);
		for (s = 0; s < j->sc.nslots; s++)
			if (memchr(v[s], '?', len[s]) != NULL)
				break;
		skip = 0;
		if (s < j->sc.nslots) {
			old_fields(j, u[i], &o);
			skip = validate_qmarks(j, u[i], v, len, o.v, o.len);
			oldrow_free(&o);
		}
		if (skip)
			j->e[u[i]].flags |= E_SKIP;
		else
			u[n++] = u[i];
	}
	*nu = n;
}

/* The team a user has in the directory, or ENT_NONE (also when the
 * export has no team column). */
static uint32_t
stored_team(struct job *j, uint32_t id)
{
	struct oldrow	 o;
	uint32_t	 team;
	int		 t = j->sc.team_slot;

	if (t < 0)
		return ENT_NONE;
	old_fields(j, id, &o);
	team = o.len[t] > 0 ? team_intern(j, o.v[t], o.len[t]) : ENT_NONE;
	oldrow_free(&o);
	return team;
}

/*
 * Members each team will have. A user whose row is skipped stays as the
 * directory has them, in their stored team: no team is deleted while an
 * active user is in it.
 */
static void
team_counts(struct job *j)
{
	size_t		 i;
	uint32_t	 t;

	for (i = 0; i < j->ne; i++) {
		uint32_t f = j->e[i].flags;
		int stays = (f & E_NEW) && !(f & E_TERM) &&
		    (!(f & E_SKIP) || (f & E_ACTIVE)) && !(f & E_SEAT);

		if (f & E_KEPT)
			stays = 1;
		if (!stays)
			continue;
		t = (f & (E_SKIP | E_KEPT)) ? stored_team(j, (uint32_t)i) :
		    j->e[i].team;
		if (t != ENT_NONE)
			j->team_new[t]++;
	}
}

static void
team_items(struct job *j, int creating)
{
	struct item	*it;
	size_t		 t;

	for (t = 0; t < j->nteam; t++) {
		int born = j->team_new[t] > 0 && j->team_old[t] == 0;
		int gone = j->team_new[t] == 0 && j->team_old[t] > 0;

		if ((creating && born) || (!creating && gone)) {
			it = item_new(j, creating ? IT_TEAM_CREATE :
			    IT_TEAM_DELETE, ENT_NONE);
			it->team = j->team[t];
			it->name = j->team[t];
		}
	}
}

/*
 * Build the items: team creations, creates (managers first), updates and
 * manager changes, deletes, team deletions. Needs validate_cross() done.
 */
int
diff_items(struct job *j)
{
	struct keptpass	 pass = { 0 };
	uint32_t	*c, *u, *d, f;
	int32_t		*depth;
	size_t		 nc = 0, nu = 0, nd = 0, i;

	store_cache_size(j->st, STORE_DIFF_CACHE_KB);
	/* The stored rows it reads, in one read transaction: one snapshot,
	 * and the locks taken once, not for each user (in autocommit each
	 * read is a transaction of its own, which is what happens, only
	 * slower, if this one cannot begin). */
	(void)store_read_begin(j->st);
	for (i = 0; i < j->ne; i++)
		nc += (j->e[i].flags & (E_NEW | E_ACTIVE)) != 0;
	c = xmalloc((nc + 1) * sizeof(*c));
	u = xmalloc((nc + 1) * sizeof(*u));
	d = xmalloc((nc + 1) * sizeof(*d));
	nc = 0;
	for (i = 0; i < j->ne; i++) {
		int live;

		f = j->e[i].flags;
		live = (f & E_NEW) && !(f & (E_SKIP | E_TERM));
		if (live && !(f & E_ACTIVE) && !(f & E_SEAT))
			c[nc++] = (uint32_t)i;
		else if (live && (f & E_ACTIVE) && j->erec[i] != ENT_NONE)
			u[nu++] = (uint32_t)i;
		if ((f & E_ACTIVE) && (!(f & E_NEW) ||
		    ((f & E_TERM) && !(f & E_SKIP))))
			d[nd++] = (uint32_t)i;
	}
	id_changes(j, c, &nc, d, &nd);
	if (nc > 0) {
		depth = create_depths(j, c, nc);
		ids_by_key(j, c, nc);
		by_depth(c, nc, depth);
		big_free(depth);
	}
	ids_by_key(j, u, nu);
	ids_by_key(j, d, nd);
	qmark_rows(j, u, &nu);

	team_counts(j);
	team_items(j, 1);
	for (i = 0; i < nc; i++) {
		kept_release(j, &pass, ent_kept(j, c[i])->end);
		create_user(j, c[i]);
	}
	for (i = 0; i < nu; i++) {
		kept_release(j, &pass, ent_kept(j, u[i])->end);
		compare_user(j, u[i]);
	}
	for (i = 0; i < nd; i++)
		delete_user(j, d[i]);
	team_items(j, 0);
	store_read_end(j->st);
	free(c);
	free(u);
	free(d);
	store_cache_size(j->st, STORE_CACHE_KB);
	/* What the load's threads freed stays in their malloc heaps until
	 * given back, before the transaction fills SQLite's cache. */
	malloc_trim(0);
	return 0;
}

void
job_free(struct job *j)
{
	schema_free(&j->sc);
	arena_free(&j->a);
	big_free(j->e);
	big_free(j->erec);
	big_free(j->eeh);
	big_free(j->dhash);
	big_free(j->koff);
	big_free(j->kheap);
	big_free(j->kt.slot);
	big_free((void *)j->dirmgr);
	strmap_free(&j->teams);
	buf_free(&j->fkeys);
	known_free(&j->kn);
	known_close(&j->kn);
	big_free(j->lines);
	big_free(j->order);
	big_free(j->rh);
	free(j->tmail);
	free(j->kept);
	kept_close(&j->kf);
	free(j->iss);
	free(j->it);
	free(j->chg);
	free(j->team);
	free(j->team_new);
	free(j->team_old);
	free(j->team_held);
	memset(j, 0, sizeof(*j));
}
