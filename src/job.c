/*
 * The work of one run that every stage after the load shares: the key
 * table (every key of the directory and of the export, an entry each),
 * the teams, and how a user's row reads (its display name, its fields as
 * the users table keeps them). diff.c fills it; validation, the key
 * snapshot and apply read and mark it. Below all of them: it calls none.
 *
 * An entry is an index into one array per field (struct job: flags, row,
 * manager, kept record, team, email hash, fingerprint), its key a piece of
 * one heap of keys at a 32-bit offset, and the table from key to entry 4
 * bytes a slot: about 45 bytes an entry where a struct with pointers and
 * a map of them took 90, and the fields the transaction does not need
 * are let go before it (job_trim()). The kept rows' values are in a
 * file of the spool, read through a mapping (struct keptfile).
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "known.h"

#define KT_FILL_NUM	5	/* the key table at most 5/8 full */
#define KT_FILL_DEN	8
#define KT_AHEAD	16	/* keys hashed ahead while filling it */

/* ------------------------------------------------------------ entries */

/* Every per-entry array, and its element size. */
#define ENT_ARRAYS(j)	{ (void **)&(j)->e, (void **)&(j)->erec, \
	(void **)&(j)->dhash }
static const size_t ent_size[] = { sizeof(struct ent), 4, 8 };
#define NARRAYS		(sizeof(ent_size) / sizeof(ent_size[0]))

/* Room for need entries. Arrays job_trim() let go stay gone. */
static void
ent_grow(struct job *j, size_t need)
{
	void	**a[] = ENT_ARRAYS(j);
	size_t	 cap = j->ecap ? j->ecap : 4096, i;

	if (need <= j->ecap)
		return;
	while (cap < need)
		cap *= 2;
	if (cap >= UINT32_MAX - 2)
		fatalx("more than %u keys in one run", UINT32_MAX - 2);
	for (i = 0; i < NARRAYS; i++)
		if (*a[i] != NULL || j->ecap == 0)
			*a[i] = big_realloc(*a[i], 0, cap * ent_size[i]);
	j->koff = big_realloc(j->koff, 0, (cap + 1) * sizeof(*j->koff));
	j->ecap = cap;
}

/* Room for n more bytes of keys. */
static void
heap_grow(struct job *j, size_t n)
{
	size_t	 used = j->koff != NULL ? j->koff[j->ne] : 0, cap;

	if (used + n <= j->kheapcap)
		return;
	cap = j->kheapcap ? j->kheapcap : 65536;
	while (cap < used + n)
		cap *= 2;
	j->kheap = big_realloc(j->kheap, used, cap);
	j->kheapcap = cap;
}

/* Entry i, nowhere yet. Its fingerprint is written only if it is not
 * zero already: a new entry's page of j->dhash is then never touched, and
 * a first load (its entries all new) does not hold 8 bytes a row of it. */
static void
ent_clear(struct job *j, uint32_t i)
{
	j->e[i].flags = 0;
	j->e[i].row = 0;
	j->e[i].mgr = j->e[i].team = j->erec[i] = ENT_NONE;
	if (j->dhash[i] != 0)
		j->dhash[i] = 0;
}

/* ---------------------------------------------------------- key table */

static inline size_t
kt_pos(const struct keytab *t, uint64_t h)
{
	return (size_t)(((h & 0xffffffffu) * (uint64_t)t->cap) >> 32);
}

static inline uint32_t
kt_tag(const struct keytab *t, uint64_t h)
{
	return t->idbits >= 32 ? 0 : (uint32_t)(h >> 32) >> t->idbits <<
	    t->idbits;
}

static inline uint32_t
kt_id(const struct keytab *t, uint32_t s)
{
	return t->idbits >= 32 ? s : s & ((1U << t->idbits) - 1);
}

/* Does slot s carry the tag? (Its key may still be another.) */
static inline int
kt_match(const struct keytab *t, uint32_t s, uint32_t tag)
{
	return t->idbits >= 32 || (s ^ tag) >> t->idbits == 0;
}

/* The slot of the entry of key k (hash h), or of the empty one that ends
 * its run of slots. */
static size_t
kt_find(const struct job *j, const char *k, size_t n, uint64_t h)
{
	const struct keytab	*t = &j->kt;
	uint32_t		 tag = kt_tag(t, h), s, id;
	size_t			 i = kt_pos(t, h);

	for (;; i = i + 1 == t->cap ? 0 : i + 1) {
		if ((s = t->slot[i]) == 0)
			return i;
		if (!kt_match(t, s, tag))
			continue;
		id = kt_id(t, s) - 1;
		if (ent_keylen(j, id) == n && memcmp(ent_key(j, id), k, n) == 0)
			return i;
	}
}

/* Entry id of key hash h into its slot (a key there already: replaced,
 * as a later user of one key in a snapshot would be). */
static void
kt_put(struct job *j, uint32_t id, uint64_t h)
{
	struct keytab	*t = &j->kt;
	size_t		 i = kt_find(j, ent_key(j, id), ent_keylen(j, id), h);

	if (t->slot[i] == 0)
		t->n++;
	t->slot[i] = kt_tag(t, h) | (id + 1);
}

/* Every entry's key into the table (empty, with room for them). */
static void
kt_insert_all(struct job *j)
{
	struct keytab	*t = &j->kt;
	uint64_t	 h[KT_AHEAD];
	uint32_t	 i;

	/* Hashed a few keys ahead, their slots fetched meanwhile. */
	for (i = 0; i < j->ne + KT_AHEAD; i++) {
		if (i >= KT_AHEAD)
			kt_put(j, i - KT_AHEAD, h[i % KT_AHEAD]);
		if (i < j->ne) {
			h[i % KT_AHEAD] = strmap_keyhash(ent_key(j, i),
			    ent_keylen(j, i));
			__builtin_prefetch(&t->slot[kt_pos(t,
			    h[i % KT_AHEAD])]);
		}
	}
}

/* A table of cap slots for every entry there is. */
static void
kt_build(struct job *j, size_t cap)
{
	struct keytab	*t = &j->kt;

	if (cap > UINT32_MAX)
		fatalx("more than %u keys in one run", UINT32_MAX);
	big_free(t->slot);
	t->slot = big_calloc(cap, sizeof(*t->slot));
	t->cap = cap;
	t->n = 0;
	for (t->idbits = 1; t->idbits < 32 && (1ULL << t->idbits) <= cap;
	    t->idbits++)
		;
	kt_insert_all(j);
}

/* Slots for n keys, at most KT_FILL_NUM/KT_FILL_DEN full. */
static size_t
kt_slots(size_t n)
{
	return n / KT_FILL_NUM * KT_FILL_DEN + 1024;
}

uint32_t
ent_get_h(const struct job *j, const char *k, size_t n, uint64_t h)
{
	const struct keytab	*t = &j->kt;
	uint32_t		 s;

	if (t->cap == 0)
		return ENT_NONE;
	s = t->slot[kt_find(j, k, n, h)];
	return s == 0 ? ENT_NONE : kt_id(t, s) - 1;
}

uint32_t
ent_get(const struct job *j, const char *k, size_t n)
{
	return ent_get_h(j, k, n, strmap_keyhash(k, n));
}

void
ent_prefetch_h(const struct job *j, uint64_t h)
{
	if (j->kt.cap > 0)
		__builtin_prefetch(&j->kt.slot[kt_pos(&j->kt, h)]);
}

/* The first entry whose tag matches (a guess: its key is not read). */
uint32_t
ent_peek_h(const struct job *j, uint64_t h)
{
	const struct keytab	*t = &j->kt;
	uint32_t		 tag, s;
	size_t			 i;

	if (t->cap == 0)
		return ENT_NONE;
	tag = kt_tag(t, h);
	for (i = kt_pos(t, h);; i = i + 1 == t->cap ? 0 : i + 1) {
		if ((s = t->slot[i]) == 0)
			return ENT_NONE;
		if (kt_match(t, s, tag))
			return kt_id(t, s) - 1;
	}
}

/* Room for n more entries and keybytes more bytes of keys, and a little
 * for the export's new ones: the table then need not grow while a
 * snapshot fills it. */
void
ent_reserve(struct job *j, size_t n, size_t keybytes)
{
	(void)hash_seed();	/* set before keytab_fill() hashes keys */
	n += n / 16 + 1024;
	ent_grow(j, j->ne + n);
	heap_grow(j, keybytes + keybytes / 16 + 65536);
	if (kt_slots(j->ne + n) > j->kt.cap)
		kt_build(j, kt_slots(j->ne + n));
}

void
ent_take(struct job *j, size_t n)
{
	size_t	 i;

	for (i = j->ne; i < n; i++) {
		j->e[i].row = 0;
		j->e[i].mgr = j->erec[i] = j->e[i].team = ENT_NONE;
	}
	j->ne = n;
}

/* After ent_reserve() made the room (the table is empty): no growing. */
void
keytab_fill(struct job *j)
{
	if (j->kt.n == 0 && kt_slots(j->ne) <= j->kt.cap)
		kt_insert_all(j);
	else
		kt_build(j, kt_slots(j->ne));
}

uint32_t
ent_add(struct job *j, const char *k, size_t n)
{
	uint32_t	 id = (uint32_t)j->ne;
	size_t		 end;

	if (j->koff == NULL) {
		(void)hash_seed();
		ent_grow(j, 1);
	}
	end = j->koff[j->ne];
	if (n >= MAX_KEY_BYTES - end)
		fatalx("the keys of the export and the directory take more "
		    "than %zu bytes", MAX_KEY_BYTES);
	ent_grow(j, j->ne + 1);
	heap_grow(j, n + 1);
	if ((j->kt.n + 1) * KT_FILL_DEN > j->kt.cap * KT_FILL_NUM)
		kt_build(j, kt_slots(2 * (j->ne + 1)));
	memcpy(j->kheap + end, k, n);
	j->kheap[end + n] = '\0';
	j->koff[id + 1] = (uint32_t)(end + n + 1);
	j->ne++;
	ent_clear(j, id);
	kt_put(j, id, strmap_keyhash(k, n));
	return id;
}

static int
cmp_ent_key(const void *a, const void *b, void *arg)
{
	const struct job	*j = arg;

	return strcmp(ent_key(j, *(const uint32_t *)a),
	    ent_key(j, *(const uint32_t *)b));
}

/*
 * Entry ids put in the order of their keys. Exports usually come in key
 * order already (a first load's million creates did): one pass finds
 * that, and the sort is left out.
 */
void
ids_by_key(const struct job *j, uint32_t *ids, size_t n)
{
	size_t	 i;

	for (i = 1; i < n; i++)
		if (strcmp(ent_key(j, ids[i - 1]), ent_key(j, ids[i])) > 0)
			break;
	if (i < n)
		qsort_r(ids, n, sizeof(*ids), cmp_ent_key, (void *)j);
}

struct kept *
ent_kept(const struct job *j, uint32_t i)
{
	return j->erec[i] == ENT_NONE ? NULL : &j->kept[j->erec[i]];
}

void
kept_values(const struct job *j, const struct kept *k, const char **v,
    size_t *len)
{
	size_t	 i;

	for (i = 0; i < j->sc.nslots; i++) {
		v[i] = kept_v(j, k, i);
		if (len != NULL)
			len[i] = kept_len(k, i);
	}
}

/* ---------------------------------------------------- the kept rows */

/* A file with no name in dir (nothing is left of it if the run dies),
 * or -1. */
static int
kept_create(const char *dir)
{
	char	*p;
	int	 fd;

	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1)
		return fd;
	xasprintf(&p, "%s/.kept.XXXXXX", dir);
	if ((fd = mkostemp(p, O_CLOEXEC)) != -1)
		unlink(p);
	free(p);
	return fd;
}

/* The file failed (a full disk): it is not used again; why, for the run
 * (errno the cause). -1. */
static int
kept_fail(struct keptfile *f, const char *what)
{
	if (f->err == NULL)
		xasprintf(&f->err, "cannot %s the kept rows' file (the export's "
		    "rows, kept while the run lasts) in %s: %s", what, f->dir,
		    strerror(errno));
	return -1;
}

/* The file of the kept rows, in the sync's cache folder (or, that one
 * refused, the spool's), and its mapping; 0, or -1 (f->err). */
static int
kept_open(struct job *j)
{
	struct keptfile	*f = &j->kf;
	int		 fd = -1;

	if ((f->dir = spool_path(j->cfg, "cache", j->sy->name, NULL)) != NULL)
		fd = kept_create(f->dir);
	if (fd == -1) {
		free(f->dir);
		f->dir = xstrdup(j->cfg->spool);
		if ((fd = kept_create(f->dir)) == -1)
			return kept_fail(f, "create");
	}
	/* The address space reserved: as much as there is, up to the most. */
	for (f->cap = KEPT_MAP_MAX;; f->cap /= 2) {
		f->map = mmap(NULL, f->cap, PROT_READ, MAP_SHARED |
		    MAP_NORESERVE, fd, 0);
		if (f->map != MAP_FAILED)
			break;
		if (f->cap / 2 < KEPT_MAP_MIN) {
			f->map = NULL;
			kept_fail(f, "map");
			close(fd);
			return -1;
		}
	}
	f->fd = fd;
	f->len = f->written = 0;
	return 0;
}

/* What buf holds, into the file; 0, or -1 (f->err). */
static int
kept_write(struct keptfile *f)
{
	size_t	 n = f->len - f->written, off = 0;
	ssize_t	 w;

	while (off < n) {
		if ((w = write(f->fd, f->buf + off, n - off)) == -1) {
			if (errno == EINTR)
				continue;
			return kept_fail(f, "write");
		}
		off += (size_t)w;
	}
	f->written = f->len;
	return 0;
}

/* Does the row of entry id go to the arena? Once more than
 * KEPT_DISORDER_MAX rows came before one of a lower key, the rest do. */
static int
kept_inmem(struct job *j, uint32_t id)
{
	struct keptfile	*f = &j->kf;

	if (f->inmem || f->loaded)
		return f->inmem;
	if (f->map != NULL && strcmp(ent_key(j, f->last), ent_key(j, id)) > 0 &&
	    ++f->disorder > KEPT_DISORDER_MAX) {
		log_debug("the export is not in key order: its rows from "
		    "entry %u on are kept in memory", id);
		f->inmem = 1;
	}
	f->last = id;
	return f->inmem;
}

/* A record of size bytes at to: the slots' end offsets, the values. */
static void
kept_fill(char *to, size_t size, size_t n, const char *const *v,
    const size_t *len)
{
	uint32_t	*end = (uint32_t *)(void *)to;
	char		*o = (char *)(end + n);
	size_t		 i, text = 0;

	for (i = 0; i < n; i++) {
		memcpy(o + text, v[i], len[i]);
		o[text + len[i]] = '\0';
		text += len[i] + 1;
		end[i] = (uint32_t)text;
	}
	memset(o + text, 0, size - n * sizeof(*end) - text);
}

/* A record of size bytes into the file (into buf, or, after the load,
 * written at once); 0, or -1 (f->err) with k->end not set. */
static int
kept_file(struct job *j, struct kept *k, size_t size, const char *const *v,
    const size_t *len)
{
	struct keptfile	*f = &j->kf;
	size_t		 at;

	if (f->map == NULL && kept_open(j) == -1)
		return -1;
	if (size > f->cap - f->len)
		fatalx("the kept rows take more than %zu bytes", f->cap);
	at = f->len - f->written;
	if (at + size > f->bufcap) {
		if (kept_write(f) == -1)
			return -1;
		at = 0;
		if (size > f->bufcap) {
			f->bufcap = size > KEPT_BUF_BYTES ? size :
			    KEPT_BUF_BYTES;
			f->buf = xrealloc(f->buf, f->bufcap);
		}
	}
	kept_fill(f->buf + at, size, j->sc.nslots, v, len);
	f->len += size;
	if (f->loaded && kept_write(f) == -1)
		return -1;
	k->end = (uint32_t *)(void *)(f->map + f->len - size);
	return 0;
}

/*
 * A row's values as one record of the kept rows' file: the slots' end
 * offsets, then the values, each NUL-terminated, rounded up to 4 bytes
 * (where a pointer and a length a slot in the arena took 12 bytes more).
 * k->end points at it in the mapping, readable once written (or, the
 * export out of key order, in the arena). The file failing, the load
 * stops (-1, j->kf.err says why); after the load the rest of the
 * records go to the arena.
 */
int
kept_set(struct job *j, struct kept *k, const char *const *v,
    const size_t *len)
{
	struct keptfile	*f = &j->kf;
	size_t		 i, n = j->sc.nslots, text = 0, size;

	for (i = 0; i < n; i++)
		text += len[i] + 1;	/* at most MAX_SLOTS * MAX_FIELD_HARD */
	size = (n * sizeof(*k->end) + text + 3) & ~(size_t)3;
	if (f->err != NULL && !f->loaded)
		return -1;
	if (f->err == NULL && !kept_inmem(j, k->ent)) {
		if (kept_file(j, k, size, v, len) == 0)
			return 0;
		if (!f->loaded)
			return -1;
		log_warnx("%s: the rest of the run's rows are kept in memory",
		    f->err);
	}
	k->end = arena_alloc(&j->a, size);
	kept_fill((char *)k->end, size, n, v, len);
	return 0;
}

int
kept_flush(struct job *j)
{
	if (j->kf.map == NULL)
		return 0;
	return j->kf.err != NULL ? -1 : kept_write(&j->kf);
}

void
kept_loaded(struct job *j)
{
	if (j->kf.map != NULL)
		(void)kept_write(&j->kf);	/* j->kf.err says if not */
	j->kf.loaded = 1;
}

void
kept_release(const struct job *j, struct keptpass *p, const void *at)
{
	const struct keptfile	*f = &j->kf;
	const char		*c = at;

	if (f->map == NULL || c < f->map || c >= f->map + f->written)
		return;
	if (p->lo == NULL || c < p->lo)
		p->lo = c;
	if (p->hi == NULL || c > p->hi)
		p->hi = c;
	if ((size_t)(p->hi - p->lo) < KEPT_WINDOW)
		return;
	madvise(f->map, f->written, MADV_DONTNEED);
	p->lo = p->hi = c;
}

/* Safe with a file never opened. */
void
kept_unmap(struct keptfile *f)
{
	if (f->map != NULL) {
		munmap(f->map, f->cap);
		close(f->fd);
	}
	f->map = NULL;
}

void
kept_close(struct keptfile *f)
{
	kept_unmap(f);
	free(f->buf);
	free(f->dir);
	free(f->err);
	memset(f, 0, sizeof(*f));
}

/* -------------------------------------------------------------- teams */

uint32_t
team_intern(struct job *j, const char *name, size_t n)
{
	uint32_t	 t = strmap_get(&j->teams, name, n);

	if (t != STRMAP_NONE)
		return t;
	if (j->nteam == j->teamcap) {
		j->teamcap = j->teamcap ? j->teamcap * 2 : 64;
		j->team = xrealloc(j->team, j->teamcap * sizeof(*j->team));
		j->team_new = xrealloc(j->team_new,
		    j->teamcap * sizeof(*j->team_new));
		j->team_old = xrealloc(j->team_old,
		    j->teamcap * sizeof(*j->team_old));
		j->team_held = xrealloc(j->team_held,
		    j->teamcap * sizeof(*j->team_held));
	}
	t = (uint32_t)j->nteam++;
	j->team[t] = arena_strndup(&j->a, name, n);
	j->team_new[t] = j->team_old[t] = j->team_held[t] = 0;
	strmap_put(&j->teams, j->team[t], n, t);
	return t;
}

/* ---------------------------------------------------------- user rows */

/* Each slot's name as a JSON key, with the comma before it: once a job. */
static void
fields_keys(struct job *j)
{
	size_t	 i;

	for (i = 0; i < j->sc.nslots; i++) {
		j->fkoff[i] = (uint32_t)j->fkeys.len;
		if (i > 0)
			buf_addc(&j->fkeys, ',');
		json_str(&j->fkeys, j->sc.slots[i].name,
		    strlen(j->sc.slots[i].name));
		buf_addc(&j->fkeys, ':');
	}
	j->fkoff[i] = (uint32_t)j->fkeys.len;
}

/* A user's fields as the users table keeps them: {"name":"value",...}. */
void
fields_json(struct job *j, const struct kept *k, struct buf *b)
{
	size_t	 i, need = 2;
	char	*o;

	if (j->fkeys.len == 0)
		fields_keys(j);
	need += j->fkeys.len;
	for (i = 0; i < j->sc.nslots; i++)
		need += 6 * (size_t)kept_len(k, i) + 2;
	buf_reset(b);
	buf_grow(b, need);
	o = b->p;
	*o++ = '{';
	for (i = 0; i < j->sc.nslots; i++) {
		memcpy(o, j->fkeys.p + j->fkoff[i], j->fkoff[i + 1] -
		    j->fkoff[i]);
		o += j->fkoff[i + 1] - j->fkoff[i];
		o = json_put(o, kept_v(j, k, i), kept_len(k, i));
	}
	*o++ = '}';
	*o = '\0';
	b->len = (size_t)(o - b->p);
}

const char	 email_stored[] = "(the stored email)";


const char *
display_name(struct job *j, const char *const *v)
{
	int		 d = j->sc.canon[F_DISPLAY_NAME];
	int		 f = j->sc.canon[F_FIRST_NAME];
	int		 l = j->sc.canon[F_LAST_NAME];
	const char	*first = f >= 0 ? v[f] : "", *last = l >= 0 ? v[l] : "";
	char		*s;
	size_t		 nf = strlen(first), nl = strlen(last);

	if (d >= 0 && v[d][0] != '\0')
		return v[d];
	s = arena_alloc(&j->a, nf + nl + 2);
	memcpy(s, first, nf);
	s[nf] = nf && nl ? ' ' : '\0';
	memcpy(s + nf + (nf && nl), last, nl);
	s[nf + (nf && nl) + nl] = '\0';
	return s;
}
