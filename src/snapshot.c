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
 * Both are read section by section straight into the job's arrays; the
 * lines into a table that goes after the load, the file staying open:
 * the next lines file takes each known line's record from it, so no
 * run keeps a million lines' hashes in memory.
 *
 * Each file is written in one pass over the users, its sections side by
 * side through small buffers (no second copy of a million users in
 * memory), so the checksum is per section (sect_sum()). The lines file
 * is written over the one read: entry i's record goes at or before i,
 * after the record there was read.
 */
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "known.h"

#define SNAP_MAGIC	"RSKEYS3\n"
#define SNAP_NAME	"directory.keys"
#define LINES_MAGIC	"RSLINES2"	/* eh: the low 32 bits only */
#define LINES_MAGIC1	"RSLINES1"	/* read too: its eh's low bits */
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
sect_sum(const void *p, size_t len, uint64_t sum)
{
	const char	*c = p;
	size_t		 k;

	for (; len > 0; c += k, len -= k) {
		k = len < CHUNK ? len : CHUNK;
		sum = hash64(c, k, sum);
	}
	return sum;
}

static uint64_t
sums_of(const uint64_t *sum, size_t nsect, uint64_t seed)
{
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

/* n bytes at off into p: 0, or -1 (an error, or the file ends first). */
static int
read_at(int fd, void *p, size_t n, off_t off)
{
	char	*c = p;
	ssize_t	 r;

	while (n > 0) {
		r = pread(fd, c, n < (1U << 30) ? n : (1U << 30), off);
		if (r > 0) {
			c += r;
			n -= (size_t)r;
			off += r;
		} else if (r == 0 || errno != EINTR)
			return -1;
	}
	return 0;
}

/* Does the body hold together: offsets rising, each key ended by NUL? */
static int
body_ok(const struct snaphdr *h, const uint32_t *mgr, const uint32_t *off,
    const char *keys)
{
	uint64_t	 i;

	if (off[0] != 0 || off[h->n] != h->keybytes)
		return 0;
	for (i = 0; i < h->n; i++)
		if (off[i + 1] <= off[i] || keys[off[i + 1] - 1] != '\0' ||
		    (mgr[i] >= h->n && mgr[i] < DIRMGR_UNKNOWN))
			return 0;
	return 1;
}

/*
 * The body's sections straight into the job's arrays (the fingerprints,
 * the key offsets, the keys) and the stored managers into dirmgr; the
 * active flags through a buffer into the entries' flags. The sections'
 * sums into sum[]. 0, or -1.
 */
static int
snap_read(struct job *j, int fd, const struct snaphdr *h, uint32_t *dirmgr,
    uint64_t *sum)
{
	size_t		 size[5], i, k, x, n = (size_t)h->n;
	off_t		 at[5];
	uint64_t	 seed = h->version ^ h->nonce;
	uint8_t		*act;

	keys_sections(h->n, h->keybytes, size);
	at[0] = (off_t)sizeof(*h);
	for (i = 1; i < 5; i++)
		at[i] = at[i - 1] + (off_t)size[i - 1];
	if (read_at(fd, j->dhash, size[0], at[0]) == -1 ||
	    read_at(fd, dirmgr, size[1], at[1]) == -1 ||
	    read_at(fd, j->koff, size[2], at[2]) == -1 ||
	    read_at(fd, j->kheap, size[4], at[4]) == -1 ||
	    !body_ok(h, dirmgr, j->koff, j->kheap))
		return -1;
	sum[0] = sect_sum(j->dhash, size[0], seed);
	sum[1] = sect_sum(dirmgr, size[1], seed + 1);
	sum[2] = sect_sum(j->koff, size[2], seed + 2);
	sum[4] = sect_sum(j->kheap, size[4], seed + 4);
	act = xmalloc(CHUNK);
	sum[3] = seed + 3;
	for (i = 0; i < n; i += k) {
		k = n - i < CHUNK ? n - i : CHUNK;
		if (read_at(fd, act, k, at[3] + (off_t)i) == -1) {
			free(act);
			return -1;
		}
		sum[3] = hash64(act, k, sum[3]);
		for (x = 0; x < k; x++) {
			j->e[i + x].flags = E_DIR | (act[x] ? E_ACTIVE : 0);
			j->active_before += act[x] != 0;
		}
	}
	free(act);
	return 0;
}

/*
 * Snapshot user i as entry i: the sections read, checked and summed, then
 * the key table filled (ent_reserve() made room, so it does not grow). A
 * torn or foreign file undoes it all.
 */
static int
snap_fill(struct job *j, int fd, const struct snaphdr *h)
{
	uint32_t	*dirmgr;
	uint64_t	 sum[5];

	ent_reserve(j, (size_t)h->n, (size_t)h->keybytes);
	dirmgr = big_alloc((size_t)h->n * 4);
	if (snap_read(j, fd, h, dirmgr, sum) == -1 ||
	    sums_of(sum, 5, h->version ^ h->nonce) != h->sum) {
		big_free(dirmgr);
		j->ne = 0;
		j->koff[0] = 0;
		j->active_before = 0;
		return -1;
	}
	ent_take(j, (size_t)h->n);
	keytab_fill(j);
	j->dirmgr = dirmgr;		/* entry i is snapshot user i */
	j->ndirmgr = (size_t)h->n;
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

/* The table from a line's first hash to its entry, for n entries. */
static void
known_alloc(struct known *kn, size_t n)
{
	kn->cap = n / 5 * 8 + 1024;	/* at most 5/8 full */
	for (kn->idbits = 1; kn->idbits < 32 &&
	    (1ULL << kn->idbits) <= kn->cap; kn->idbits++)
		;
	kn->slot = big_calloc(kn->cap, sizeof(*kn->slot));
	kn->h2 = big_alloc(n * sizeof(*kn->h2));
	kn->info = big_alloc(n * sizeof(*kn->info));
}

/* Entry id's line into the table. */
static void
known_put(struct known *kn, uint32_t id, const struct lineinfo *li)
{
	size_t	 s = known_pos(kn, li->h1);

	while (kn->slot[s] != 0)
		s = s + 1 == kn->cap ? 0 : s + 1;
	kn->slot[s] = known_tag(kn, li->h1) | (id + 1);
	kn->h2[id] = li->h2;
	kn->info[id] = (li->flags & (LI_LINE | LI_EMAIL | LI_KEYED)) <<
	    KI_SHIFT | (li->team == UINT32_MAX ? KI_TEAM : li->team);
}

/*
 * The records, CHUNK bytes at a time: summed, checked (a team the file
 * has), and each line into the table, a few slots fetched ahead. 0, or
 * -1 with the section's sum in *sum either way.
 */
static int
lines_records(struct known *kn, int fd, const struct linehdr *h,
    uint64_t *sum)
{
	struct lineinfo	*li = xmalloc(CHUNK);
	size_t		 per = CHUNK / sizeof(*li), i, k, x;
	int		 rc = 0;

	*sum = h->version ^ h->nonce;
	for (i = 0; rc == 0 && i < h->n; i += k) {
		k = h->n - i < per ? h->n - i : per;
		if (read_at(fd, li, k * sizeof(*li), (off_t)(sizeof(*h) +
		    i * sizeof(*li))) == -1) {
			rc = -1;
			break;
		}
		*sum = hash64(li, k * sizeof(*li), *sum);
		for (x = 0; x < k; x++) {
			if (x + 8 < k)
				__builtin_prefetch(&kn->slot[known_pos(kn,
				    li[x + 8].h1)], 1);
			if (li[x].team != UINT32_MAX && li[x].team >= h->nteam)
				rc = -1;
			else if (li[x].flags & LI_LINE)
				known_put(kn, (uint32_t)(i + x), &li[x]);
		}
	}
	free(li);
	return rc;
}

/* The teams' offsets and names, checked, summed, and kept. 0, or -1. */
static int
lines_teams(struct known *kn, int fd, const struct linehdr *h, uint64_t *sum)
{
	size_t		 size[3], i;
	uint32_t	*toff;
	off_t		 at;

	lines_sections(h, size);
	at = (off_t)(sizeof(*h) + size[0]);
	toff = xmalloc(size[1]);
	kn->tnames = xmalloc(size[2] + 1);
	if (read_at(fd, toff, size[1], at) == -1 || read_at(fd, kn->tnames,
	    size[2], at + (off_t)size[1]) == -1 || toff[0] != 0 ||
	    toff[h->nteam] != h->teambytes) {
		free(toff);
		return -1;
	}
	sum[1] = sect_sum(toff, size[1], (h->version ^ h->nonce) + 1);
	sum[2] = sect_sum(kn->tnames, size[2], (h->version ^ h->nonce) + 2);
	for (i = 0; i < h->nteam; i++)
		if (toff[i + 1] <= toff[i] || kn->tnames[toff[i + 1] - 1] !=
		    '\0') {
			free(toff);
			return -1;
		}
	kn->nteam = (size_t)h->nteam;
	kn->tname = xcalloc(kn->nteam + 1, sizeof(*kn->tname));
	kn->tlen = xcalloc(kn->nteam + 1, sizeof(*kn->tlen));
	kn->tmap = xcalloc(kn->nteam + 1, sizeof(*kn->tmap));
	for (i = 0; i < kn->nteam; i++) {
		kn->tname[i] = kn->tnames + toff[i];
		kn->tlen[i] = toff[i + 1] - toff[i] - 1;
		kn->tmap[i] = ENT_NONE;
	}
	free(toff);
	return 0;
}

/*
 * The lines file, checked against the key snapshot's header, into the
 * table: 0 (the file stays open in kn->fd), or -1 when it is absent or
 * not this snapshot's.
 */
static int
lines_read(struct known *kn, const char *path, const struct snaphdr *sh)
{
	struct linehdr	 h;
	size_t		 len, size[3];
	uint64_t	 sum[3];
	int		 fd;

	if ((fd = cache_open(path, sizeof(struct linehdr), &len)) == -1)
		return -1;
	if (read_at(fd, &h, sizeof(h), 0) == -1 ||
	    (memcmp(h.magic, LINES_MAGIC, 8) != 0 &&
	    memcmp(h.magic, LINES_MAGIC1, 8) != 0) ||
	    h.version != sh->version || h.nonce != sh->nonce ||
	    h.n != sh->n || h.keysum != sh->sum || h.nteam > MAX_ROWS ||
	    h.teambytes > len || h.n * sizeof(struct lineinfo) > len)
		goto fail;
	lines_sections(&h, size);
	if (len != sizeof(h) + total(size, 3))
		goto fail;
	kn->n = (size_t)h.n;
	known_alloc(kn, kn->n);
	if (lines_records(kn, fd, &h, &sum[0]) == -1 ||
	    lines_teams(kn, fd, &h, sum) == -1 ||
	    sums_of(sum, 3, h.version ^ h.nonce) != h.sum)
		goto fail;
	kn->lseed = h.lseed;
	kn->eseed = h.eseed;
	kn->ctx = h.ctx;
	kn->fd = fd;
	return 0;
fail:
	close(fd);
	known_free(kn);
	return -1;
}

/* The lines file of the key snapshot just read, into j->kn (kn.ok). */
static void
lines_load(struct job *j, const struct snaphdr *h)
{
	char	*path;

	known_close(&j->kn);
	known_free(&j->kn);
	if ((path = snap_path(j, LINES_NAME)) == NULL)
		return;
	j->kn.ok = lines_read(&j->kn, path, h) == 0;
	free(path);
}

int
snap_load(struct job *j)
{
	struct snaphdr	 h;
	char		*path;
	uint64_t	 nonce;
	long long	 version;
	size_t		 len, size[5];
	int		 fd, rc;

	if (j->ne != 0)		/* entry i must be snapshot user i */
		return -1;
	version = store_sync_state(j->st, j->sy->name, &nonce);
	if ((path = snap_path(j, SNAP_NAME)) == NULL)
		return -1;
	fd = cache_open(path, sizeof(struct snaphdr), &len);
	free(path);
	if (fd == -1)
		return -1;
	if (read_at(fd, &h, sizeof(h), 0) == -1 ||
	    memcmp(h.magic, SNAP_MAGIC, 8) != 0 ||
	    h.version != (uint64_t)version || h.nonce != nonce ||
	    h.n > MAX_ROWS || h.keybytes > len || h.keybytes > MAX_KEY_BYTES) {
		close(fd);
		return -1;
	}
	keys_sections(h.n, h.keybytes, size);
	if (len != sizeof(h) + total(size, 5)) {
		close(fd);
		return -1;
	}
	rc = snap_fill(j, fd, &h);
	close(fd);
	if (rc == 0)
		lines_load(j, &h);
	return rc;
}


/* After the run: is ent i in the directory, and how? */
static int
stored(const struct job *j, uint32_t i, int after, uint64_t *hash,
    int *active)
{
	uint32_t	 f = j->e[i].flags;

	if (after && (f & E_GONE))
		return 0;
	if (after && (f & E_WRITE)) {
		*hash = j->kept[j->erec[i]].hash;
		*active = 1;
		return 1;
	}
	if (!(f & E_DIR))
		return 0;
	*hash = j->dhash[i];
	*active = (f & E_ACTIVE) && !(after && (f & E_DEACT));
	return 1;
}

/* The fingerprint of what entry i's row said (its kept record's, or, a
 * row equal to its stored user's, the directory's). */
static uint64_t
new_hash(const struct job *j, uint32_t i)
{
	return j->erec[i] != ENT_NONE ? j->kept[j->erec[i]].hash :
	    j->dhash[i];
}

/* The entry whose key is entry i's stored manager, or DIRMGR_*. */
static uint32_t
stored_mgr(const struct job *j, uint32_t i, int after)
{
	const struct kept	*k;
	int			 m = j->sc.canon[F_MANAGER_ID];
	uint32_t		 t;

	if (after && (j->e[i].flags & E_WRITE)) {
		k = &j->kept[j->erec[i]];
		if (m < 0 || kept_len(k, (size_t)m) == 0)
			return DIRMGR_NONE;
		t = ent_get(j, kept_v(j, k, (size_t)m), kept_len(k, (size_t)m));
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

/* The known lines' records of the file the load read, in entry order,
 * a CHUNK at a time (the new file is written over it, but never ahead
 * of what was read: entry i goes to a place at or before i). */
struct oldlines {
	int		 fd;
	struct lineinfo	*buf;
	size_t		 first;		/* the entry of buf[0] */
	size_t		 count;
};

/* One snapshot being written. */
struct snapwrite {
	struct job	*j;
	int		 after;
	uint64_t	 version;
	uint64_t	 nonce;
	uint32_t	*gone;		/* the entries not in the file, in order:
					 * entry i's place is i less those
					 * before it (few: no array of places) */
	size_t		 ngone;
	size_t		 n;		/* users in the file */
	size_t		 kb;		/* their key bytes */
	uint64_t	 keysum;	/* the key snapshot's checksum */
	size_t		 cursor;	/* in j->lines, sorted by entry */
	uint64_t	*mgrknown;	/* bit i: entry i's manager has a place
					 * in the key snapshot (keys_write()
					 * found it; line_of() needs it) */
	struct oldlines	 old;
	const char	*failed;	/* the file that could not be written */
	int		 err;		/* and errno */
};

/* Which entries the file leaves out, its users and their key bytes; 0,
 * or -1 when the keys do not fit the offsets. */
static int
snap_positions(struct snapwrite *s)
{
	struct job	*j = s->j;
	uint64_t	 hv;
	size_t		 i, cap = 0;
	int		 a;

	for (i = 0; i < j->ne; i++) {
		if (stored(j, (uint32_t)i, s->after, &hv, &a)) {
			s->n++;
			s->kb += ent_keylen(j, (uint32_t)i) + 1;
			continue;
		}
		if (s->ngone == cap) {
			cap = cap ? cap * 2 : 1024;
			s->gone = big_realloc(s->gone, s->ngone *
			    sizeof(*s->gone), cap * sizeof(*s->gone));
		}
		s->gone[s->ngone++] = (uint32_t)i;
	}
	return s->kb > UINT32_MAX ? -1 : 0;
}

/* Entry i's place in the file, or DIRMGR_NONE when it is not there. */
static uint32_t
place(const struct snapwrite *s, uint32_t i)
{
	size_t	 lo = 0, hi = s->ngone, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->gone[mid] < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->ngone && s->gone[lo] == i)
		return DIRMGR_NONE;
	return i - (uint32_t)lo;
}

/* Entry i's stored manager as a place in the file, or DIRMGR_*; in
 * pass kp over the kept records. */
static uint32_t
mgr_pos(struct snapwrite *s, uint32_t i, struct keptpass *kp)
{
	uint32_t	 t = stored_mgr(s->j, i, s->after), p;

	if (s->after && s->j->erec[i] != ENT_NONE)
		kept_release(s->j, kp, s->j->kept[s->j->erec[i]].end);
	/* A manager no longer stored: only a lookup can tell. */
	if (t < DIRMGR_UNKNOWN)
		return (p = place(s, t)) != DIRMGR_NONE ? p : DIRMGR_UNKNOWN;
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

/* The rest of the sections; the body's checksum (sums_of()). */
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

/* The key snapshot, in one pass over the entries; on the way, whose
 * manager has a place in it (s->mgrknown), for lines_write(). */
static int
keys_write(struct snapwrite *s, const char *path)
{
	struct job	*j = s->j;
	struct keptpass	 kp = { 0 };
	struct snaphdr	 h;
	struct cw	 w;
	uint64_t	 hv;
	uint32_t	 off = 0, m, i;
	uint8_t		 act;
	size_t		 size[5];
	int		 a;

	keys_sections(s->n, s->kb, size);
	s->mgrknown = xcalloc(j->ne / 64 + 1, sizeof(*s->mgrknown));
	cw_open(&w, path, sizeof(h), size, 5, s->version ^ s->nonce);
	cw_put(&w, 2, &off, sizeof(off));
	for (i = 0; i < j->ne; i++) {
		if (!stored(j, i, s->after, &hv, &a))
			continue;
		if ((m = mgr_pos(s, i, &kp)) != DIRMGR_UNKNOWN)
			s->mgrknown[i / 64] |= (uint64_t)1 << (i % 64);
		off += ent_keylen(j, i) + 1;
		act = (uint8_t)a;
		cw_put(&w, 0, &hv, sizeof(hv));
		cw_put(&w, 1, &m, sizeof(m));
		cw_put(&w, 2, &off, sizeof(off));
		cw_put(&w, 3, &act, 1);
		cw_put(&w, 4, ent_key(j, i), ent_keylen(j, i) + 1);
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

/* The old file's record of entry i (its line was known), or NULL. */
static const struct lineinfo *
old_line(struct oldlines *o, size_t i)
{
	size_t	 per = CHUNK / sizeof(*o->buf);

	if (i < o->first || i >= o->first + o->count) {
		if (o->buf == NULL)
			o->buf = xmalloc(CHUNK);
		o->first = i;
		o->count = 0;
		if (read_at(o->fd, o->buf, per * sizeof(*o->buf),
		    (off_t)(sizeof(struct linehdr) + i * sizeof(*o->buf))) == 0)
			o->count = per;
		else	/* the file's last records: one at a time */
			o->count = read_at(o->fd, o->buf, sizeof(*o->buf),
			    (off_t)(sizeof(struct linehdr) + i *
			    sizeof(*o->buf))) == 0;
	}
	return o->count > 0 ? &o->buf[i - o->first] : NULL;
}

/* Entry i's row hashed this load, or NULL (j->lines sorted by entry,
 * visited in that order). */
static const struct lineout *
new_line(struct snapwrite *s, uint32_t i)
{
	const struct job	*j = s->j;

	while (s->cursor < j->nlines &&
	    (j->lines[s->cursor].ent & ~LINE_MAIL) < i)
		s->cursor++;
	if (s->cursor < j->nlines &&
	    (j->lines[s->cursor].ent & ~LINE_MAIL) == i)
		return &j->lines[s->cursor];
	return NULL;
}

/* Entry i's line in the next file: is it stored as its line says, its
 * manager placed (keys_write() looked it up)? A known line's record is
 * the old file's, another the row's hashes. */
static void
line_of(struct snapwrite *s, uint32_t i, struct lineinfo *li)
{
	struct job		*j = s->j;
	const struct lineinfo	*o;
	const struct lineout	*n;
	uint64_t		 hv;
	int			 a;

	memset(li, 0, sizeof(*li));
	li->team = UINT32_MAX;
	if ((j->e[i].flags & (E_LINE | E_DUP | E_SKIP | E_TERM | E_SEAT |
	    E_MGR_CLEAR | E_MGR_KEEP)) != E_LINE ||
	    !stored(j, i, s->after, &hv, &a) || !a || hv != new_hash(j, i) ||
	    s->mgrknown == NULL ||
	    !(s->mgrknown[i / 64] & (uint64_t)1 << (i % 64)))
		return;
	if (j->e[i].flags & E_KNOWN) {
		if (!j->kn.ok || (o = old_line(&s->old, i)) == NULL ||
		    !(o->flags & LI_LINE))
			return;
		li->h1 = o->h1;
		li->h2 = o->h2;
		li->eh = (uint32_t)o->eh;
		li->flags = LI_LINE | (o->flags & LI_EMAIL);
	} else {
		if ((n = new_line(s, i)) == NULL)
			return;
		li->h1 = n->lh[0];
		li->h2 = n->lh[1];
		li->eh = n->eh;
		li->flags = LI_LINE | (n->ent & LINE_MAIL ? LI_EMAIL : 0);
	}
	if (ent_keylen(j, i) > 0 && ent_key(j, i)[0] != '=')
		li->flags |= LI_KEYED;
	li->team = j->e[i].team;
}

static int
cmp_lineout(const void *a, const void *b)
{
	uint32_t	 x = ((const struct lineout *)a)->ent & ~LINE_MAIL;
	uint32_t	 y = ((const struct lineout *)b)->ent & ~LINE_MAIL;

	return x < y ? -1 : x > y;
}

/* The rows' lines in the entries' order (a first load's are already). */
static void
lines_by_entry(struct job *j)
{
	size_t	 k;

	for (k = 1; k < j->nlines; k++)
		if ((j->lines[k - 1].ent & ~LINE_MAIL) >
		    (j->lines[k].ent & ~LINE_MAIL))
			break;
	if (k < j->nlines)
		qsort(j->lines, j->nlines, sizeof(*j->lines), cmp_lineout);
}

/*
 * The known lines, for the same users in the same order as the key
 * snapshot just written: the body, then the header, which holds its
 * checksum (without good keys, a sum no key snapshot has: refused). 0,
 * or -1 with errno.
 */
static int
lines_write(struct snapwrite *s, const char *path)
{
	struct job	*j = s->j;
	struct linehdr	 h;
	struct lineinfo	 li;
	struct cw	 w;
	uint64_t	 hv;
	uint32_t	 u = 0, i;
	size_t		 k, size[3];
	int		 a;

	lines_by_entry(j);
	s->old.fd = j->kn.ok ? j->kn.fd : -1;
	memset(&h, 0, sizeof(h));
	h.n = s->n;
	h.nteam = j->nteam;
	for (k = 0; k < j->nteam; k++)
		h.teambytes += strlen(j->team[k]) + 1;
	lines_sections(&h, size);
	cw_open(&w, path, sizeof(h), size, 3, s->version ^ s->nonce);
	for (i = 0; i < j->ne; i++) {
		if (stored(j, i, s->after, &hv, &a)) {
			line_of(s, i, &li);
			cw_put(&w, 0, &li, sizeof(li));
		}
	}
	for (k = 0; k < j->nteam; k++) {
		cw_put(&w, 1, &u, sizeof(u));
		u += (uint32_t)strlen(j->team[k]) + 1;
		cw_put(&w, 2, j->team[k], strlen(j->team[k]) + 1);
	}
	cw_put(&w, 1, &u, sizeof(u));
	free(s->old.buf);
	s->old.buf = NULL;
	memcpy(h.magic, LINES_MAGIC, 8);
	h.version = s->version;
	h.nonce = s->nonce;
	h.lseed = j->kn.lseed;
	h.eseed = j->kn.eseed;
	h.ctx = j->kn.now;
	h.keysum = s->keysum;
	h.sum = cw_sum(&w);
	return cw_close(&w, &h);
}

/* The key snapshot, then the lines file where this run hashed the lines
 * (a CSV load); what failed in s->failed. */
static void
snap_write(struct snapwrite *s)
{
	char	*path;

	if (snap_positions(s) == -1) {
		s->failed = SNAP_NAME;
		s->err = EOVERFLOW;
		return;
	}
	if ((path = snap_path(s->j, SNAP_NAME)) == NULL ||
	    keys_write(s, path) == -1) {
		s->failed = SNAP_NAME;
		s->err = errno;
	}
	free(path);
	if (s->j->kn.now == 0 ||
	    (path = snap_path(s->j, LINES_NAME)) == NULL)
		return;
	if (lines_write(s, path) == -1 && s->failed == NULL) {
		s->failed = LINES_NAME;
		s->err = errno;
	}
	free(path);
}

/*
 * Write the snapshot of the directory this job leaves (after_write: the
 * run's writes applied, in its transaction, not yet committed) or found.
 * Failures only cost the next run a scan (or its known lines): they are
 * logged, never fatal.
 */
void
snap_save(struct job *j, int after_write)
{
	struct snapwrite	 s;
	uint64_t	 nonce;

	memset(&s, 0, sizeof(s));
	s.j = j;
	s.after = after_write;
	s.version = (uint64_t)store_sync_state(j->st, j->sy->name, &nonce);
	s.nonce = nonce;
	snap_write(&s);
	if (s.failed != NULL) {
		errno = s.err;
		log_warn("cannot write the cache file %s of sync %s (the next "
		    "run does without)", s.failed, j->sy->name);
	} else if (s.after)
		fault("snapshot.written");	/* before the commit */
	big_free(s.gone);
	free(s.mgrknown);
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

	if (!kn->ok) {
		known_free(kn);
		kn->lseed = random64();
		kn->eseed = random64();
		kn->ctx = 0;
	}
	email_hash_seed(kn->eseed);
}

/* What the load needed (the table); the seeds, this load's context and
 * the file (its records for the next one) stay. */
void
known_free(struct known *kn)
{
	big_free(kn->slot);
	big_free(kn->h2);
	big_free(kn->info);
	free(kn->tname);
	free(kn->tlen);
	free(kn->tmap);
	free(kn->tnames);
	kn->slot = NULL;
	kn->h2 = NULL;
	kn->info = NULL;
	kn->tname = NULL;
	kn->tlen = NULL;
	kn->tmap = NULL;
	kn->tnames = NULL;
	kn->n = kn->nteam = kn->cap = 0;
}

/*
 * The known lines' email hashes, which the load did not keep (their
 * table was bigger then): the records again, read in order once the
 * table is gone. A record that cannot be read leaves its hash 0, which
 * only puts that email with others to compare as text.
 */
void
known_mail(struct job *j)
{
	struct oldlines	 o = { j->kn.ok ? j->kn.fd : -1, NULL, 0, 0 };
	const struct lineinfo *li;
	uint32_t	 i;

	for (i = 0; o.fd != -1 && i < j->ne && i < j->ndirmgr; i++)
		if ((j->e[i].flags & (E_KNOWN | E_MAIL)) ==
		    (E_KNOWN | E_MAIL) && (li = old_line(&o, i)) != NULL)
			j->eeh[i] = (uint32_t)li->eh;
	free(o.buf);
}

void
known_close(struct known *kn)
{
	if (kn->ok)
		close(kn->fd);
	kn->ok = 0;
	kn->fd = -1;
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
