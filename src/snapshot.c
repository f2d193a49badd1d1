/*
 * The key snapshot: what a run needs of the directory before it reads an
 * export (each user's key, fingerprint and active flag) in one file, so a
 * daily run on a million users reads 25 MB instead of scanning the users
 * table. It is a cache and never the truth: the file carries the
 * directory version and the random nonce of that version (store.c bumps
 * both in every transaction that writes users), and a body checksum. Any
 * mismatch, a short file or a bad checksum, and the run scans the table
 * as before and writes the file again.
 *
 * The file is written before the run's transaction commits, under the
 * version that commit will make; if the commit fails, no directory ever
 * has that nonce. It is not fsync'd: after a power cut it may be stale or
 * torn, which the version, nonce and checksum catch.
 *
 * Layout (host byte order: the file never leaves the machine):
 *   header   magic, version, nonce, n, key bytes, checksum of the body
 *   body     uint64 hash[n], uint32 mgr[n], uint32 keyoff[n + 1],
 *            uint8 active[n], keys (each NUL-terminated; key i at
 *            keyoff[i])
 * mgr[i] is the entry whose key is user i's stored manager, DIRMGR_NONE
 * when that is empty, DIRMGR_UNKNOWN when no user has that key or this
 * run did not know it: an unchanged row then needs no manager lookup.
 *
 * Beside it, directory.lines holds the known lines (struct known) of the
 * same version and nonce, for the same n users:
 *   header   magic, version, nonce, n, lseed, eseed, ctx, teams, team
 *            bytes, the key snapshot's checksum (entry i there is entry
 *            i here), checksum of the body
 *   body     struct lineinfo li[n], uint32 teamoff[teams + 1], team
 *            names (each NUL-terminated)
 * A user has a line when the run that wrote the file read its row from
 * one whole CSV line, found nothing wrong with it, and stores exactly
 * what it says: active, every field as given, its manager known.
 *
 * Each file is written in one pass over the users, its sections side by
 * side through small buffers (no second copy of a million users in
 * memory), so the checksum is per section (body_sum()).
 */
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "known.h"

#define SNAP_MAGIC	"RSKEYS3\n"
#define SNAP_NAME	"directory.keys"
#define LINES_MAGIC	"RSLINES1"
#define LINES_NAME	"directory.lines"
#define CHUNK		(256 * 1024)	/* checksum block and write buffer */
#define LINE_AHEAD	16		/* entries fetched ahead in a loop */

struct snaphdr {
	char		 magic[8];
	uint64_t	 version;
	uint64_t	 nonce;
	uint64_t	 n;
	uint64_t	 keybytes;
	uint64_t	 sum;
};

struct linehdr {
	char		 magic[8];
	uint64_t	 version;
	uint64_t	 nonce;
	uint64_t	 n;
	uint64_t	 lseed;
	uint64_t	 eseed;
	uint64_t	 ctx;
	uint64_t	 nteam;
	uint64_t	 teambytes;
	uint64_t	 keysum;	/* the key snapshot's sum: its users */
	uint64_t	 sum;
};

static char *
snap_path(const struct job *j, const char *name)
{
	return spool_path(j->cfg, "cache", j->sy->name, name);
}

/*
 * A body is written in sections, side by side (one pass over the users),
 * so its checksum is per section: hash64() chained over the section's
 * CHUNK-byte blocks, then the sections' sums hashed together.
 */
#define MAXSECT		5

static uint64_t
body_sum(const char *p, const size_t *size, size_t nsect, uint64_t seed)
{
	uint64_t	 sum[MAXSECT];
	size_t		 i, k, len;

	for (i = 0; i < nsect; i++) {
		sum[i] = seed + i;
		for (len = size[i]; len > 0; p += k, len -= k) {
			k = len < CHUNK ? len : CHUNK;
			sum[i] = hash64(p, k, sum[i]);
		}
	}
	return hash64(sum, nsect * sizeof(sum[0]), seed);
}

/* The key snapshot's sections, their sizes: 5 of them. */
static void
keys_sections(uint64_t n, uint64_t keybytes, size_t *size)
{
	size[0] = (size_t)n * 8;		/* hash */
	size[1] = (size_t)n * 4;		/* mgr */
	size[2] = ((size_t)n + 1) * 4;		/* keyoff */
	size[3] = (size_t)n;			/* active */
	size[4] = (size_t)keybytes;		/* keys */
}

static size_t
total(const size_t *size, size_t nsect)
{
	size_t	 i, t = 0;

	for (i = 0; i < nsect; i++)
		t += size[i];
	return t;
}

/* A cache file open for reading, its size in *len: a regular file of
 * at least min bytes (a header) and at most 16 GB; or -1. */
static int
cache_open(const char *path, size_t min, size_t *len)
{
	struct stat	 sb;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (size_t)sb.st_size < min || sb.st_size > (off_t)1 << 34) {
		close(fd);
		return -1;
	}
	*len = (size_t)sb.st_size;
	return fd;
}

/* The whole file, or NULL (absent, unreadable, or of a wrong size). */
static char *
read_all(const char *path, size_t *len)
{
	char		*p;
	size_t		 got = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = cache_open(path, sizeof(struct snaphdr), len)) == -1)
		return NULL;
	p = xmalloc(*len);
	while (got < *len && ((r = read(fd, p + got, *len - got)) > 0 ||
	    (r == -1 && errno == EINTR)))
		got += r > 0 ? (size_t)r : 0;
	close(fd);
	if (got != *len) {
		free(p);
		return NULL;
	}
	return p;
}

/* Does the body hold together: offsets rising, each key ended by NUL? */
static int
body_ok(const struct snaphdr *h, const char *body)
{
	const uint32_t	*mgr = (const uint32_t *)(body + h->n * 8);
	const uint32_t	*off = mgr + h->n;
	const char	*keys = (const char *)(off + h->n + 1) + h->n;
	uint64_t	 i;

	if (off[0] != 0 || off[h->n] != h->keybytes)
		return 0;
	for (i = 0; i < h->n; i++)
		if (off[i + 1] <= off[i] || keys[off[i + 1] - 1] != '\0' ||
		    (mgr[i] >= h->n && mgr[i] < DIRMGR_UNKNOWN))
			return 0;
	return 1;
}

/* The key table of a snapshot, filled on a second thread (snap_load). */
struct keyfill {
	struct strmap	*map;
	const uint32_t	*off;
	const char	*keys;
	uint64_t	 n;
};

static void *
keyfill_main(void *arg)
{
	struct keyfill	*kf = arg;
	const uint32_t	*off = kf->off;
	uint64_t	 i;

	for (i = 0; i < kf->n; i++) {
		if (i + 16 < kf->n)	/* the slot of a key further on */
			strmap_prefetch(kf->map, kf->keys + off[i + 16],
			    off[i + 17] - off[i + 16] - 1);
		strmap_put(kf->map, kf->keys + off[i], off[i + 1] - off[i] - 1,
		    (uint32_t)i);
	}
	return NULL;
}

/*
 * Snapshot user i as entry i. A second thread fills the key table
 * meanwhile (the reserve made room, so the map does not grow), and this
 * one checks the sum too: a torn file undoes both.
 */
static int
snap_fill(struct job *j, const struct snaphdr *h, const char *body,
    const size_t *size)
{
	const uint64_t	*hash = (const uint64_t *)body;
	const uint32_t	*mgr = (const uint32_t *)(hash + h->n);
	const uint32_t	*off = mgr + h->n;
	const uint8_t	*act = (const uint8_t *)(off + h->n + 1);
	struct keyfill	 kf = { &j->keys, off, (const char *)(act + h->n),
			    h->n };
	pthread_t	 th;
	uint64_t	 i;
	int		 threaded, ok;

	ent_reserve(j, (size_t)h->n);
	threaded = thread_start("snapshot-keys", &th, keyfill_main, &kf) == 0;
	ok = body_sum(body, size, 5, h->version ^ h->nonce) == h->sum;
	for (i = 0; ok && i < h->n; i++) {
		struct ent *e = &j->e[i];

		ent_init(e, kf.keys + off[i], off[i + 1] - off[i] - 1);
		e->flags = E_DIR | (act[i] ? E_ACTIVE : 0);
		e->dir_hash = hash[i];
		j->active_before += act[i] != 0;
	}
	if (threaded)
		pthread_join(th, NULL);
	else if (ok)
		keyfill_main(&kf);
	if (!ok) {
		strmap_free(&j->keys);
		j->active_before = 0;
		return -1;
	}
	j->ne = (size_t)h->n;
	return 0;
}

/* ------------------------------------------------ known lines, read */

static uint64_t
random64(void)
{
	uint64_t	 v = 0;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = hash_seed() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)now_ms();
	return v | 1;
}

/* The lines file's sections, their sizes: 3 of them. */
static void
lines_sections(const struct linehdr *h, size_t *size)
{
	size[0] = (size_t)h->n * sizeof(struct lineinfo);
	size[1] = ((size_t)h->nteam + 1) * 4;	/* teamoff */
	size[2] = (size_t)h->teambytes;		/* names */
}

/* Does the file's body hold together? */
static int
lines_ok(const struct linehdr *h, const char *body, size_t len)
{
	const struct lineinfo	*li = (const struct lineinfo *)body;
	const uint32_t		*toff = (const uint32_t *)(li + h->n);
	const char		*names = (const char *)(toff + h->nteam + 1);
	size_t			 size[3];
	uint64_t		 i;

	lines_sections(h, size);
	if (len != total(size, 3) || body_sum(body, size, 3, h->version ^
	    h->nonce) != h->sum || toff[0] != 0 ||
	    toff[h->nteam] != h->teambytes)
		return 0;
	for (i = 0; i < h->nteam; i++)
		if (toff[i + 1] <= toff[i] || names[toff[i + 1] - 1] != '\0')
			return 0;
	for (i = 0; i < h->n; i++)
		if (li[i].team != UINT32_MAX && li[i].team >= h->nteam)
			return 0;
	return 1;
}

/* The table from a line's first hash to its entry (struct known). */
static void
known_table(struct known *kn)
{
	size_t	 i, s, lines = 0, cap = 1024;

	for (i = 0; i < kn->n; i++)
		lines += (kn->li[i].flags & LI_LINE) != 0;
	while (cap * 5 < lines * 8)
		cap *= 2;
	kn->slot = big_calloc(cap, sizeof(*kn->slot));
	kn->mask = cap - 1;
	for (i = 0; i < kn->n; i++) {
		if (i + 8 < kn->n)
			__builtin_prefetch(&kn->slot[kn->li[i + 8].h1 &
			    kn->mask], 1);
		if (!(kn->li[i].flags & LI_LINE))
			continue;
		for (s = kn->li[i].h1 & kn->mask; kn->slot[s] != 0;
		    s = (s + 1) & kn->mask)
			;
		kn->slot[s] = (kn->li[i].h1 & ~KN_ID) | (i + 1);
	}
}

/*
 * The file mapped (read only, and only during the load: the page cache's
 * pages, no copy) and checked against the key snapshot's header; 0, or
 * -1 when it is absent or not this snapshot's.
 */
static char *
map_all(const char *path, size_t *len)
{
	void	*p;
	int	 fd;

	if ((fd = cache_open(path, sizeof(struct linehdr), len)) == -1)
		return NULL;
	p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static int
lines_read(struct known *kn, const char *path, const struct snaphdr *sh)
{
	struct linehdr	 h;
	const uint32_t	*toff;
	const char	*names;
	char		*p;
	size_t		 len, i;

	if ((p = map_all(path, &len)) == NULL)
		return -1;
	memcpy(&h, p, sizeof(h) <= len ? sizeof(h) : len);
	if (len < sizeof(h) || memcmp(h.magic, LINES_MAGIC, 8) != 0 ||
	    h.version != sh->version || h.nonce != sh->nonce ||
	    h.n != sh->n || h.keysum != sh->sum || h.nteam > MAX_ROWS ||
	    h.teambytes > len || h.n * sizeof(struct lineinfo) > len ||
	    !lines_ok(&h, p + sizeof(h), len - sizeof(h))) {
		munmap(p, len);
		return -1;
	}
	kn->file = p;
	kn->filelen = len;
	kn->lseed = h.lseed;
	kn->eseed = h.eseed;
	kn->ctx = h.ctx;
	kn->n = (size_t)h.n;
	kn->li = (const struct lineinfo *)(p + sizeof(h));
	toff = (const uint32_t *)(kn->li + h.n);
	names = (const char *)(toff + h.nteam + 1);
	kn->nteam = (size_t)h.nteam;
	kn->tname = xcalloc(kn->nteam + 1, sizeof(*kn->tname));
	kn->tlen = xcalloc(kn->nteam + 1, sizeof(*kn->tlen));
	kn->tmap = xcalloc(kn->nteam + 1, sizeof(*kn->tmap));
	for (i = 0; i < kn->nteam; i++) {
		kn->tname[i] = names + toff[i];
		kn->tlen[i] = toff[i + 1] - toff[i] - 1;
		kn->tmap[i] = ENT_NONE;
	}
	known_table(kn);
	return 0;
}

/* The lines file, read on a thread of its own while the keys are. */
struct linejob {
	struct known	*kn;
	char		*path;
	struct snaphdr	 h;
};

static void *
lines_main(void *arg)
{
	struct linejob	*lj = arg;

	lj->kn->ok = lines_read(lj->kn, lj->path, &lj->h) == 0;
	free(lj->path);
	free(lj);
	return NULL;
}

static void
lines_start(struct job *j, const struct snaphdr *h)
{
	struct linejob	*lj;
	char		*path;

	known_free(&j->kn);
	if ((path = snap_path(j, LINES_NAME)) == NULL)
		return;
	lj = xcalloc(1, sizeof(*lj));
	lj->kn = &j->kn;
	lj->path = path;
	lj->h = *h;
	if (thread_start("snapshot-lines", &j->kn.th, lines_main, lj) == 0)
		j->kn.reading = 1;
	else
		lines_main(lj);
}

/* Wait for it; the lines go with the keys (used: the keys are good). */
static void
lines_end(struct job *j, int used)
{
	if (j->kn.reading)
		pthread_join(j->kn.th, NULL);
	j->kn.reading = 0;
	if (!used || !j->kn.ok)
		known_free(&j->kn);
}

int
snap_load(struct job *j)
{
	struct snaphdr	 h;
	char		*path, *p;
	uint64_t	 nonce;
	long long	 version;
	size_t		 len, size[5];

	if (j->ne != 0)		/* entry i must be snapshot user i */
		return -1;
	version = store_sync_state(j->st, j->sy->name, &nonce);
	if ((path = snap_path(j, SNAP_NAME)) == NULL)
		return -1;
	p = read_all(path, &len);
	free(path);
	if (p == NULL)
		return -1;
	memcpy(&h, p, sizeof(h));
	keys_sections(h.n, h.keybytes, size);
	if (memcmp(h.magic, SNAP_MAGIC, 8) != 0 ||
	    h.version != (uint64_t)version || h.nonce != nonce ||
	    h.n > MAX_ROWS || h.keybytes > len ||
	    len != sizeof(h) + total(size, 5) ||
	    !body_ok(&h, p + sizeof(h))) {
		free(p);
		return -1;
	}
	lines_start(j, &h);	/* beside the keys */
	if (snap_fill(j, &h, p + sizeof(h), size) == -1) {
		lines_end(j, 0);
		free(p);
		return -1;
	}
	lines_end(j, 1);
	j->snap = p;
	j->dirmgr = (const uint32_t *)(p + sizeof(h) + h.n * 8);
					/* entry i is snapshot user i */
	j->ndirmgr = (size_t)h.n;
	return 0;
}


/* After the run: is ent i in the directory, and how? */
static int
stored(const struct ent *e, int after, uint64_t *hash, int *active)
{
	if (after && (e->flags & E_GONE))
		return 0;
	if (after && (e->flags & E_WRITE)) {
		*hash = e->new_hash;
		*active = 1;
		return 1;
	}
	if (!(e->flags & E_DIR))
		return 0;
	*hash = e->dir_hash;
	*active = (e->flags & E_ACTIVE) && !(after && (e->flags & E_DEACT));
	return 1;
}

/* The entry whose key is e's stored manager, or DIRMGR_*. */
static uint32_t
stored_mgr(struct job *j, const struct ent *e, int after)
{
	const struct kept	*k;
	size_t			 i = (size_t)(e - j->e);
	int			 m = j->sc.canon[F_MANAGER_ID];
	uint32_t		 t;

	if (after && (e->flags & E_WRITE)) {
		k = &j->kept[e->rec];
		if (m < 0 || k->len[m] == 0)
			return DIRMGR_NONE;
		t = ent_get(j, k->v[m], k->len[m]);
		return t == ENT_NONE ? DIRMGR_UNKNOWN : t;
	}
	return i < j->ndirmgr ? j->dirmgr[i] : DIRMGR_UNKNOWN;
}

/* ------------------------------------------------- writing, streamed */

/*
 * One cache file being written: over the one there, in place (this run
 * read it, so its pages are in the page cache, and overwriting them
 * costs a tenth of writing new ones: 26 MB, 4 ms against 50 in a run),
 * or, where there is none or it is not a regular file, as a new file
 * renamed in. Its sections are filled side by side, each through a
 * buffer of its own; the header with the checksum goes last.
 */
struct cw {
	int		 fd;
	const char	*path;
	char		*tmp;		/* the new file, or NULL: in place */
	size_t		 hlen;
	off_t		 end;
	int		 ok;
	int		 err;
	uint64_t	 seed;
	size_t		 nsect;
	struct sect {
		char		*buf;
		size_t		 fill;
		off_t		 off;	/* where buf goes */
		uint64_t	 sum;
	}		 s[MAXSECT];
};

/* One snapshot being written, on a thread of its own. */
struct snapjob {
	pthread_t	 th;
	int		 threaded;	/* th is to be joined */
	struct job	*j;
	int		 after;
	uint64_t	 version;
	uint64_t	 nonce;
	uint32_t	*pos;		/* per entry: its place in the file */
	size_t		 n;		/* users in the file */
	size_t		 kb;		/* their key bytes */
	uint64_t	 keysum;	/* the key snapshot's checksum */
	uint32_t	*line;		/* per entry with E_LINE: its j->lines,
					 * | LINE_MAIL */
	char		*lpath;		/* the lines file, being written */
	struct cw	 lw;
	struct linehdr	 lh;
	const char	*failed;	/* the file that could not be written */
	int		 err;		/* and errno */
};

/* Where each entry goes in the file (DIRMGR_NONE: it does not); 0, or
 * -1 when the keys do not fit the offsets. */
static int
snap_positions(struct snapjob *s)
{
	struct job	*j = s->j;
	uint64_t	 hv;
	size_t		 i;
	int		 a;

	s->pos = xmalloc((j->ne + 1) * sizeof(*s->pos));
	for (i = 0; i < j->ne; i++) {
		s->pos[i] = DIRMGR_NONE;
		if (stored(&j->e[i], s->after, &hv, &a)) {
			s->pos[i] = (uint32_t)s->n++;
			s->kb += j->e[i].keylen + 1;
		}
	}
	return s->kb > UINT32_MAX ? -1 : 0;
}

/* e's stored manager as a place in the file, or DIRMGR_*. */
static uint32_t
mgr_pos(struct snapjob *s, const struct ent *e)
{
	uint32_t	 t = stored_mgr(s->j, e, s->after);

	/* A manager no longer stored: only a lookup can tell. */
	if (t < DIRMGR_UNKNOWN)
		return s->pos[t] != DIRMGR_NONE ? s->pos[t] : DIRMGR_UNKNOWN;
	return t;
}

static void
cw_open(struct cw *w, const char *path, size_t hlen, const size_t *size,
    size_t nsect, uint64_t seed)
{
	struct stat	 sb;
	size_t		 i;

	memset(w, 0, sizeof(*w));
	w->path = path;
	w->hlen = hlen;
	w->end = (off_t)hlen;
	w->seed = seed;
	w->nsect = nsect;
	for (i = 0; i < nsect; i++) {
		w->s[i].buf = xmalloc(CHUNK);
		w->s[i].off = w->end;
		w->s[i].sum = seed + i;
		w->end += (off_t)size[i];
	}
	w->fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (w->fd != -1 && (fstat(w->fd, &sb) == -1 || !S_ISREG(sb.st_mode))) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->fd == -1) {
		xasprintf(&w->tmp, "%s.tmp", path);
		w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, 0640);
	}
	w->ok = w->fd != -1;
	w->err = errno;
}

static void
cw_flush(struct cw *w, struct sect *s)
{
	size_t	 at = 0;
	ssize_t	 k;

	if (s->fill == 0)
		return;
	s->sum = hash64(s->buf, s->fill, s->sum);
	while (w->ok && at < s->fill) {
		k = pwrite(w->fd, s->buf + at, s->fill - at, s->off + (off_t)at);
		if (k > 0)
			at += (size_t)k;
		else if (k == 0 || errno != EINTR) {
			w->ok = 0;
			w->err = k == 0 ? EIO : errno;
		}
	}
	s->off += (off_t)s->fill;
	s->fill = 0;
}

/* n bytes at p onto section i. */
static void
cw_put(struct cw *w, size_t i, const void *p, size_t n)
{
	struct sect	*s = &w->s[i];
	const char	*c = p;
	size_t		 k;

	while (n > 0) {
		k = CHUNK - s->fill < n ? CHUNK - s->fill : n;
		memcpy(s->buf + s->fill, c, k);
		s->fill += k;
		c += k;
		n -= k;
		if (s->fill == CHUNK)
			cw_flush(w, s);
	}
}

/* The rest of the sections; the body's checksum (body_sum()). */
static uint64_t
cw_sum(struct cw *w)
{
	uint64_t	 sum[MAXSECT];
	size_t		 i;

	for (i = 0; i < w->nsect; i++) {
		cw_flush(w, &w->s[i]);
		sum[i] = w->s[i].sum;
		free(w->s[i].buf);
		w->s[i].buf = NULL;
	}
	return hash64(sum, w->nsect * sizeof(sum[0]), w->seed);
}

/* The header, then the file in place; 0, or -1 with errno. */
static int
cw_close(struct cw *w, const void *hdr)
{
	if (w->ok && (pwrite(w->fd, hdr, w->hlen, 0) != (ssize_t)w->hlen ||
	    ftruncate(w->fd, w->end) == -1)) {
		w->ok = 0;
		w->err = errno ? errno : EIO;
	}
	if (w->fd != -1 && close(w->fd) == -1 && w->ok) {
		w->ok = 0;
		w->err = errno;
	}
	if (w->ok && w->tmp != NULL && rename(w->tmp, w->path) == -1) {
		w->ok = 0;
		w->err = errno;
	}
	if (!w->ok && w->tmp != NULL)
		unlink(w->tmp);
	free(w->tmp);
	errno = w->err;
	return w->ok ? 0 : -1;
}

/* The key snapshot, in one pass over the entries. */
static int
keys_write(struct snapjob *s, const char *path)
{
	struct job	*j = s->j;
	struct snaphdr	 h;
	struct cw	 w;
	uint64_t	 hv;
	uint32_t	 off = 0, m;
	uint8_t		 act;
	size_t		 i, size[5];
	int		 a;

	keys_sections(s->n, s->kb, size);
	cw_open(&w, path, sizeof(h), size, 5, s->version ^ s->nonce);
	cw_put(&w, 2, &off, sizeof(off));
	for (i = 0; i < j->ne; i++) {
		const struct ent *e = &j->e[i];

		if (s->pos[i] == DIRMGR_NONE)
			continue;
		(void)stored(e, s->after, &hv, &a);
		m = mgr_pos(s, e);
		off += e->keylen + 1;
		act = (uint8_t)a;
		cw_put(&w, 0, &hv, sizeof(hv));
		cw_put(&w, 1, &m, sizeof(m));
		cw_put(&w, 2, &off, sizeof(off));
		cw_put(&w, 3, &act, 1);
		cw_put(&w, 4, e->key, e->keylen + 1);
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, SNAP_MAGIC, 8);
	h.version = s->version;
	h.nonce = s->nonce;
	h.n = s->n;
	h.keybytes = s->kb;
	h.sum = s->keysum = cw_sum(&w);
	return cw_close(&w, &h);
}

/* Entry i's line in the next file: is it stored as its line says? */
static void
line_of(struct snapjob *s, size_t i, struct lineinfo *li)
{
	struct job		*j = s->j;
	const struct ent	*e = &j->e[i];
	const struct lineout	*o;
	uint64_t		 hv;
	int			 a;

	memset(li, 0, sizeof(*li));
	li->team = UINT32_MAX;
	if (s->line == NULL || (e->flags & (E_LINE | E_DUP | E_SKIP |
	    E_TERM | E_SEAT | E_MGR_CLEAR | E_MGR_KEEP)) != E_LINE ||
	    !stored(e, s->after, &hv, &a) || !a || hv != e->new_hash ||
	    mgr_pos(s, e) == DIRMGR_UNKNOWN)
		return;
	o = &j->lines[s->line[i] & ~LINE_MAIL];
	li->h1 = o->lh[0];
	li->h2 = o->lh[1];
	li->flags = LI_LINE;
	if (s->line[i] & LINE_MAIL) {
		li->flags |= LI_EMAIL;
		li->eh = o->eh;
	}
	if (e->keylen > 0 && e->key[0] != '=')
		li->flags |= LI_KEYED;
	li->team = e->team;
}

/*
 * The known lines beside it, for the same users in the same order: the
 * body (on a thread of its own, beside the keys), then the header, which
 * holds the key snapshot's checksum.
 */
static void
lines_body(struct snapjob *s)
{
	struct job	*j = s->j;
	struct linehdr	*h = &s->lh;
	struct lineinfo	 li;
	uint32_t	 u = 0;
	size_t		 i, size[3];

	/* Each entry's line (an entry with E_LINE has one row that has),
	 * and LINE_MAIL. */
	if (j->lines != NULL) {
		s->line = xmalloc((j->ne + 1) * sizeof(*s->line));
		for (i = 0; i < j->nlines; i++)
			s->line[j->lineent[i] & ~LINE_MAIL] = (uint32_t)i |
			    (j->lineent[i] & LINE_MAIL);
	}
	memset(h, 0, sizeof(*h));
	h->n = s->n;
	h->nteam = j->nteam;
	for (i = 0; i < j->nteam; i++)
		h->teambytes += strlen(j->team[i]) + 1;
	lines_sections(h, size);
	cw_open(&s->lw, s->lpath, sizeof(*h), size, 3, s->version ^ s->nonce);
	for (i = 0; i < j->ne; i++) {
		/* The lines are in row order, the entries in key order: a
		 * line further on, fetched ahead. */
		if (s->line != NULL && i + LINE_AHEAD < j->ne &&
		    (j->e[i + LINE_AHEAD].flags & E_LINE))
			__builtin_prefetch(&j->lines[s->line[i + LINE_AHEAD] &
			    ~LINE_MAIL]);
		if (s->pos[i] != DIRMGR_NONE) {
			line_of(s, i, &li);
			cw_put(&s->lw, 0, &li, sizeof(li));
		}
	}
	for (i = 0; i < j->nteam; i++) {
		cw_put(&s->lw, 1, &u, sizeof(u));
		u += (uint32_t)strlen(j->team[i]) + 1;
		cw_put(&s->lw, 2, j->team[i], strlen(j->team[i]) + 1);
	}
	cw_put(&s->lw, 1, &u, sizeof(u));
	memcpy(h->magic, LINES_MAGIC, 8);
	h->version = s->version;
	h->nonce = s->nonce;
	h->lseed = j->kn.lseed;
	h->eseed = j->kn.eseed;
	h->ctx = j->kn.now;
	h->sum = cw_sum(&s->lw);
}

static void *
lines_body_main(void *arg)
{
	lines_body(arg);
	return NULL;
}

/* The key snapshot, and beside it the lines where this run hashed them
 * (a CSV load). */
static void *
snap_main(void *arg)
{
	struct snapjob	*s = arg;
	pthread_t	 th;
	char		*path;
	int		 lines, threaded = 0;

	thread_background();
	if (snap_positions(s) == -1) {
		s->failed = SNAP_NAME;
		s->err = EOVERFLOW;
		return NULL;
	}
	lines = s->j->kn.now != 0 &&
	    (s->lpath = snap_path(s->j, LINES_NAME)) != NULL;
	if (lines)
		threaded = thread_start("snapshot-lines-body", &th, lines_body_main, s) == 0;
	if ((path = snap_path(s->j, SNAP_NAME)) == NULL ||
	    keys_write(s, path) == -1) {
		s->failed = SNAP_NAME;
		s->err = errno;
	}
	free(path);
	if (lines && !threaded)
		lines_body(s);
	if (threaded)
		pthread_join(th, NULL);
	/* Without good keys, a sum no key snapshot has: refused. */
	s->lh.keysum = s->keysum;
	if (lines && cw_close(&s->lw, &s->lh) == -1 && s->failed == NULL) {
		s->failed = LINES_NAME;
		s->err = errno;
	}
	free(s->lpath);
	return NULL;
}

/*
 * Start writing the snapshot of the directory this job leaves
 * (after_write: the run's writes applied, in its transaction, which must
 * not commit before snap_save_end()) or found. The job's entries must not
 * change until then. NULL when there is nothing to wait for.
 */
struct snapjob *
snap_save_start(struct job *j, int after_write)
{
	struct snapjob	*s = xcalloc(1, sizeof(*s));
	uint64_t	 nonce;

	s->j = j;
	s->after = after_write;
	s->version = (uint64_t)store_sync_state(j->st, j->sy->name, &nonce);
	s->nonce = nonce;
	if (thread_start("snapshot-save", &s->th, snap_main, s) == 0)
		s->threaded = 1;
	else
		snap_main(s);
	return s;
}

/*
 * Wait for it. Failures only cost the next run a scan (or its known
 * lines): they are logged, never fatal.
 */
void
snap_save_end(struct snapjob *s)
{
	if (s == NULL)
		return;
	if (s->threaded)
		pthread_join(s->th, NULL);
	if (s->failed != NULL) {
		errno = s->err;
		log_warn("cannot write the cache file %s of sync %s (the next "
		    "run does without)", s->failed, s->j->sy->name);
	} else if (s->after)
		fault("snapshot.written");	/* before the commit */
	free(s->pos);
	free(s->line);
	free(s);
}

void
snap_save(struct job *j, int after_write)
{
	snap_save_end(snap_save_start(j, after_write));
}

/* ------------------------------------------------ known lines, kept */

/*
 * This run's seeds: the lines file's, read with the key snapshot, so
 * that its hashes hold; or new random ones.
 */
void
known_load(struct job *j)
{
	struct known	*kn = &j->kn;

	if (kn->file == NULL) {
		known_free(kn);
		kn->lseed = random64();
		kn->eseed = random64();
		kn->ctx = 0;
	}
	email_hash_seed(kn->eseed);
}

/*
 * Before the rows go (validate_cross()): their lines' hashes and email
 * hashes, for the file snap_save() writes, kept in row order in the
 * rows' own array (each record smaller than a row, written at or before
 * it: one pass, no new memory but the entries' ids), which the job takes.
 */
void
known_keep(struct job *j)
{
	struct lineout	*o = (struct lineout *)(void *)j->order, t;
	struct xrow	 x;
	size_t		 i, n = 0;

	if (j->kn.now == 0 || j->order == NULL)
		return;
	j->lineent = xmalloc((j->norder + 1) * sizeof(*j->lineent));
	for (i = 0; i < j->norder; i++) {
		/* Copies: o[0] lies over row 0, read first. */
		memcpy(&x, &j->order[i], sizeof(x));
		if (!(j->e[x.ent].flags & E_LINE))
			continue;
		t.lh[0] = x.lh[0];
		t.lh[1] = x.lh[1];
		t.eh = x.eh;
		memcpy(&o[n], &t, sizeof(t));
		j->lineent[n++] = x.ent | (x.email != NULL ? LINE_MAIL : 0);
	}
	j->lines = xrealloc(o, (n + 1) * sizeof(*o));
	j->nlines = n;
	j->order = NULL;	/* it is j->lines now */
	j->norder = j->ordercap = 0;
}

/* What the load needed; the seeds and this load's context stay. */
void
known_free(struct known *kn)
{
	if (kn->file != NULL)
		munmap(kn->file, kn->filelen);
	free(kn->slot);
	free(kn->tname);
	free(kn->tlen);
	free(kn->tmap);
	kn->file = NULL;
	kn->slot = NULL;
	kn->tname = NULL;
	kn->tlen = NULL;
	kn->tmap = NULL;
	kn->li = NULL;
	kn->n = kn->nteam = 0;
	kn->ok = 0;
}

/* ------------------------------------------------------------ cache drop */

/* Remove one sync's cache files; how many there were. */
static int
cache_drop_sync(const struct config *cfg, const char *sync)
{
	static const char *const names[] = { SNAP_NAME, LINES_NAME };
	char		*p;
	size_t		 i;
	int		 n = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((p = spool_path(cfg, "cache", sync, names[i])) == NULL)
			continue;
		if (unlink(p) == 0)
			n++;
		else if (errno != ENOENT)
			log_warn("cannot remove %s", p);
		free(p);
	}
	return n;
}

/*
 * cache drop [--sync S]: the key snapshots and known lines go (under the
 * spool lock, between runs); the next run reads the users table and
 * writes them again. After an edit of the users table by hand, or to
 * rule the caches out.
 */
int
cmd_cache(struct config *cfg, int argc, char **argv)
{
	const char	*only = NULL;
	size_t		 i;
	int		 lock, n;

	if (argc == 4 && strcmp(argv[2], "--sync") == 0)
		only = argv[3];
	if (argc < 2 || strcmp(argv[1], "drop") != 0 ||
	    (argc != 2 && only == NULL)) {
		log_warnx("usage: rostersync cache drop [--sync S]");
		return EXIT_USAGE;
	}
	if (only != NULL && config_sync(cfg, only) == NULL) {
		log_warnx("no sync named %s in %s", only, cfg->path);
		return EXIT_USAGE;
	}
	if ((lock = spool_lock(cfg, cfg->lock_wait)) < 0)
		return lock == -2 ? EXIT_BUSY : EXIT_FAIL;
	for (i = 0; i < cfg->nsyncs; i++) {
		if (only != NULL && strcmp(only, cfg->syncs[i].name) != 0)
			continue;
		n = cache_drop_sync(cfg, cfg->syncs[i].name);
		log_msg(LOG_NOTICE, "sync %s: %s; its next run reads the users "
		    "table", cfg->syncs[i].name, n ? "the key snapshot and "
		    "the known lines dropped" : "no cache to drop");
	}
	close(lock);
	return EXIT_OK;
}
