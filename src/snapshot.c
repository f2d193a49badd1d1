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
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rostersync.h"

#define SNAP_MAGIC	"RSKEYS2\n"
#define SNAP_NAME	"directory.keys"

struct snaphdr {
	char		 magic[8];
	uint64_t	 version;
	uint64_t	 nonce;
	uint64_t	 n;
	uint64_t	 keybytes;
	uint64_t	 sum;
};

static char *
snap_path(const struct job *j)
{
	return spool_path(j->cfg, "cache", j->sy->name, SNAP_NAME);
}

static size_t
body_size(uint64_t n, uint64_t keybytes)
{
	return (size_t)(n * 8 + n * 4 + (n + 1) * 4 + n + keybytes);
}

/* The whole file, or NULL (absent, unreadable, or of a wrong size). */
static char *
read_all(const char *path, size_t *len)
{
	struct stat	 sb;
	char		*p;
	size_t		 got = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (size_t)sb.st_size < sizeof(struct snaphdr) ||
	    sb.st_size > (off_t)1 << 34) {
		close(fd);
		return NULL;
	}
	p = xmalloc((size_t)sb.st_size);
	while (got < (size_t)sb.st_size &&
	    ((r = read(fd, p + got, (size_t)sb.st_size - got)) > 0 ||
	    (r == -1 && errno == EINTR)))
		got += r > 0 ? (size_t)r : 0;
	close(fd);
	if (got != (size_t)sb.st_size) {
		free(p);
		return NULL;
	}
	*len = got;
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
    size_t len)
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
	threaded = thread_start(&th, keyfill_main, &kf) == 0;
	ok = hash64(body, len, h->version ^ h->nonce) == h->sum;
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

int
snap_load(struct job *j)
{
	struct snaphdr	 h;
	char		*path, *p;
	uint64_t	 nonce;
	long long	 version;
	size_t		 len;

	if (j->ne != 0)		/* entry i must be snapshot user i */
		return -1;
	version = store_sync_state(j->st, j->sy->name, &nonce);
	if ((path = snap_path(j)) == NULL)
		return -1;
	p = read_all(path, &len);
	free(path);
	if (p == NULL)
		return -1;
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, SNAP_MAGIC, 8) != 0 ||
	    h.version != (uint64_t)version || h.nonce != nonce ||
	    h.n > MAX_ROWS || h.keybytes > len ||
	    len != sizeof(h) + body_size(h.n, h.keybytes) ||
	    !body_ok(&h, p + sizeof(h)) ||
	    snap_fill(j, &h, p + sizeof(h), len - sizeof(h)) == -1) {
		free(p);
		return -1;
	}
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

static char *
snap_build(struct job *j, int after, struct snaphdr *h, size_t *len)
{
	uint64_t	*hash;
	uint32_t	*off, *mgr, *pos, t;
	uint8_t		*act;
	char		*body, *keys;
	size_t		 i, n = 0, kb = 0, k;
	uint64_t	 hv;
	int		 a;

	pos = xmalloc((j->ne + 1) * sizeof(*pos));
	for (i = 0; i < j->ne; i++) {
		pos[i] = DIRMGR_NONE;
		if (stored(&j->e[i], after, &hv, &a)) {
			pos[i] = (uint32_t)n++;
			kb += j->e[i].keylen + 1;
		}
	}
	if (kb > UINT32_MAX) {
		free(pos);
		return NULL;
	}
	*len = body_size(n, kb);
	body = xmalloc(*len);
	hash = (uint64_t *)body;
	mgr = (uint32_t *)(hash + n);
	off = mgr + n;
	act = (uint8_t *)(off + n + 1);
	keys = (char *)(act + n);
	for (i = 0, k = 0, off[0] = 0; i < j->ne; i++) {
		const struct ent *e = &j->e[i];

		if (!stored(e, after, &hv, &a))
			continue;
		hash[k] = hv;
		act[k] = (uint8_t)a;
		t = stored_mgr(j, e, after);
		/* A manager no longer stored: only a lookup can tell. */
		mgr[k] = t < DIRMGR_UNKNOWN ? (pos[t] != DIRMGR_NONE ? pos[t] :
		    DIRMGR_UNKNOWN) : t;
		memcpy(keys + off[k], e->key, e->keylen + 1);
		off[k + 1] = off[k] + e->keylen + 1;
		k++;
	}
	free(pos);
	memcpy(h->magic, SNAP_MAGIC, 8);
	h->n = n;
	h->keybytes = kb;
	return body;
}

/* One snapshot being written, on a thread of its own. */
struct snapjob {
	pthread_t	 th;
	int		 threaded;	/* th is to be joined */
	struct job	*j;
	int		 after;
	struct snaphdr	 h;
	char		*path;
	int		 ok;
	int		 err;		/* errno of a failure */
};

/*
 * Over the snapshot already there, in place: this run read it, so its
 * pages are in the page cache, and overwriting them costs a tenth of
 * writing new ones (26 MB: 4 ms, against 50 in a run). It is a cache: a
 * crash in the middle leaves a torn file, which the checksum refuses.
 * 1 when written; 0 when there is none, or not a regular file, or the
 * write failed (snap_main() then renames a new one in).
 */
static int
snap_overwrite(struct snapjob *s, const char *body, size_t len)
{
	struct stat	 sb;
	int		 fd, ok;

	fd = open(s->path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return 0;
	ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    write_full(fd, &s->h, sizeof(s->h)) == 0 &&
	    write_full(fd, body, len) == 0 &&
	    ftruncate(fd, (off_t)(sizeof(s->h) + len)) == 0;
	return close(fd) == 0 && ok;
}

static void *
snap_main(void *arg)
{
	struct snapjob	*s = arg;
	char		*tmp, *body;
	size_t		 len;
	int		 fd;

	if ((body = snap_build(s->j, s->after, &s->h, &len)) == NULL) {
		s->err = EOVERFLOW;
		return NULL;
	}
	s->h.sum = hash64(body, len, s->h.version ^ s->h.nonce);
	if (snap_overwrite(s, body, len)) {
		s->ok = 1;
		free(body);
		return NULL;
	}
	xasprintf(&tmp, "%s.tmp", s->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	s->ok = fd != -1 && write_full(fd, &s->h, sizeof(s->h)) == 0 &&
	    write_full(fd, body, len) == 0;
	s->err = errno;
	if (fd != -1 && close(fd) == -1 && s->ok) {
		s->ok = 0;
		s->err = errno;
	}
	if (s->ok && rename(tmp, s->path) == -1) {
		s->ok = 0;
		s->err = errno;
	}
	if (!s->ok)
		unlink(tmp);
	free(tmp);
	free(body);
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
	s->h.version = (uint64_t)store_sync_state(j->st, j->sy->name, &nonce);
	s->h.nonce = nonce;
	if ((s->path = snap_path(j)) == NULL) {
		free(s);
		return NULL;
	}
	if (thread_start(&s->th, snap_main, s) == 0)
		s->threaded = 1;
	else
		snap_main(s);
	return s;
}

/*
 * Wait for it. Failures only cost the next run a scan: they are logged,
 * never fatal.
 */
void
snap_save_end(struct snapjob *s)
{
	if (s == NULL)
		return;
	if (s->threaded)
		pthread_join(s->th, NULL);
	if (!s->ok) {
		errno = s->err;
		log_warn("cannot write the key snapshot %s (the next run "
		    "reads the directory instead)", s->path);
	} else if (s->after)
		fault("snapshot.written");	/* before the commit */
	free(s->path);
	free(s);
}

void
snap_save(struct job *j, int after_write)
{
	snap_save_end(snap_save_start(j, after_write));
}
