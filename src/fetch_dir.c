/*
 * The local drop-zone source ("dir:/path"): the same semantics as SFTP
 * without a network. Symbolic links and anything but regular files are
 * never taken.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

#define COPY_BLOCK	(256 * 1024)
#define KCOPY_BLOCK	(8 * 1024 * 1024) /* per copy_file_range(2) */
#define WRITEBACK_EVERY	(16 * 1024 * 1024)
#define TEST_BLOCK_MIN	4096	/* ROSTERSYNC_COPY_BLOCK, at least */

struct source {
	char	*dir;
};

static struct source *
dir_open(const struct sync *sy, char *err, size_t errlen)
{
	struct source	*s;
	struct stat	 st;
	const char	*dir = sy->source + strlen("dir:");

	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "drop-zone %s: %s", dir,
		    strerror(errno));
		if (errno == ENOENT)
			log_hint("create the folder (mkdir -p %s) where HR "
			    "drops the exports, or correct the sync's source "
			    "in the configuration", dir);
		else
			log_hint("let the user rostersync runs as read and "
			    "write %s and the folders above it", dir);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "drop-zone %s: not a directory", dir);
		log_hint("the sync's source must name a folder: correct it "
		    "in the configuration");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	return s;
}

/* What a folder entry is when it is not a regular file, or NULL. */
static const char *
special(mode_t m)
{
	if (S_ISREG(m))
		return NULL;
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO (named pipe)";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

static int
dir_list(struct source *s, struct srcfile **out, size_t *n, char *err,
    size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	struct srcfile	*f = NULL;
	size_t		 cnt = 0;

	if ((d = opendir(s->dir)) == NULL) {
		snprintf(err, errlen, "cannot list %s: %s", s->dir,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || S_ISDIR(st.st_mode))
			continue;
		f = xrealloc(f, (cnt + 1) * sizeof(*f));
		f[cnt].name = xstrdup(de->d_name);
		f[cnt].size = (long long)st.st_size;
		f[cnt].mtime = (long long)st.st_mtime;
		f[cnt].special = special(st.st_mode);	/* listed, refused */
		cnt++;
	}
	closedir(d);
	*out = f;
	*n = cnt;
	return 0;
}

static int
dir_exists(struct source *s, const char *name)
{
	struct stat	 st;
	char		*p;
	int		 rc;

	xasprintf(&p, "%s/%s", s->dir, name);
	rc = lstat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	return rc;
}

/*
 * n more bytes are in the copy: start writing back what is copied, so
 * that the fsync after the copy has little left to wait for, and count
 * them; -1 (err) past MAX_INPUT_SIZE.
 */
static int
copied(int out, long long *size, long long n, const char *name, char *err,
    size_t errlen)
{
	*size += n;
	if (*size % WRITEBACK_EVERY < n)
		sync_file_range(out, 0, 0, SYNC_FILE_RANGE_WRITE);
	if (*size <= MAX_INPUT_SIZE)
		return 0;
	snprintf(err, errlen, "%s is larger than %lld bytes", name,
	    (long long)MAX_INPUT_SIZE);
	return -1;
}

/*
 * The n bytes of the source just copied, at offset at, leave the page
 * cache: the copy reads the file once, and the spool copy then reuses
 * those pages instead of taking as many new ones. (A new page-cache page
 * can cost a virtual machine a fault in its host: a 148 MB copy took
 * 0.12 s this way, 0.15-0.41 s without.) A hint: dirty pages stay.
 */
static void
source_done(int fd, long long at, long long n)
{
	(void)posix_fadvise(fd, (off_t)at, (off_t)n, POSIX_FADV_DONTNEED);
}

/*
 * The block size of a copy: normal, or for tests only the one
 * ROSTERSYNC_COPY_BLOCK gives (TEST_BLOCK_MIN to KCOPY_BLOCK bytes, both
 * kinds of copy), so that a file of a few hundred KB takes several blocks
 * and a test can pause between two (fault point fetch.block). Read once.
 */
static size_t
block_size(size_t normal)
{
	static long long	 forced = -1;

	if (forced == -1 && parse_ll(getenv("ROSTERSYNC_COPY_BLOCK"),
	    TEST_BLOCK_MIN, KCOPY_BLOCK, &forced) == -1)
		forced = 0;
	return forced > 0 ? (size_t)forced : normal;
}

/* n bytes of out at offset at into p: 0, or -1. */
static int
read_copy(int out, char *p, size_t n, long long at)
{
	ssize_t	 r;

	while (n > 0) {
		if ((r = pread(out, p, n, (off_t)at)) == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
		at += r;
	}
	return 0;
}

/*
 * The copy made by the kernel (copy_file_range(2): no trip through this
 * process), in KCOPY_BLOCK steps, each read back from the copy and
 * hashed. Returns 0, or -1 with err, or 1 when the kernel cannot copy
 * between these two files, before any byte is copied: the caller copies
 * by hand.
 */
static int
kernel_copy(int fd, int out, struct sha256 *h, long long *size,
    const char *name, const char *path, char *err, size_t errlen)
{
	size_t		 bs = block_size(KCOPY_BLOCK);
	char		*buf = xmalloc(bs);
	ssize_t		 n;
	int		 rc = -1;

	for (;;) {
		n = copy_file_range(fd, NULL, out, NULL, bs, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && *size == 0 && (errno == EXDEV ||
		    errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
			rc = 1;
			break;
		}
		if (n <= 0) {
			if (n == 0)
				rc = 0;
			else if (errno == EFBIG || errno == ENOSPC ||
			    errno == EDQUOT)	/* the writing side */
				snprintf(err, errlen, "cannot write the spool "
				    "copy: %s", strerror(errno));
			else
				snprintf(err, errlen, "cannot read %s: %s", path,
				    strerror(errno));
			break;
		}
		if (read_copy(out, buf, (size_t)n, *size) == -1) {
			snprintf(err, errlen, "cannot read the spool copy "
			    "back: %s", strerror(errno));
			break;
		}
		sha256_update(h, buf, (size_t)n);
		source_done(fd, *size, n);
		if (copied(out, size, n, name, err, errlen) == -1)
			break;
		fault("fetch.block");
	}
	free(buf);
	return rc;
}

/* The copy by hand, a block at a time read, hashed and written out. 0,
 * or -1 with err. */
static int
hand_copy(int fd, int out, struct sha256 *h, long long *size,
    const char *name, const char *path, char *err, size_t errlen)
{
	size_t		 bs = block_size(COPY_BLOCK);
	char		*buf = xmalloc(bs);
	ssize_t		 n;
	int		 rc = -1;

	while ((n = read(fd, buf, bs)) > 0) {
		sha256_update(h, buf, (size_t)n);
		if (write_full(out, buf, (size_t)n) == -1) {
			snprintf(err, errlen, "cannot write the spool copy: %s",
			    strerror(errno));
			goto out;
		}
		source_done(fd, *size, n);
		if (copied(out, size, n, name, err, errlen) == -1)
			goto out;
		fault("fetch.block");
	}
	if (n == -1)
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
	else
		rc = 0;
out:
	free(buf);
	return rc;
}

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * Is the file opened (st) the one the listing saw and judged settled (f;
 * size -1: not listed)? 0, or SRC_CHANGED with err.
 */
static int
dir_listed(const struct stat *st, const struct srcfile *f, char *err,
    size_t errlen)
{
	char	 then[21], now[21];

	if (f->size < 0 || (st->st_size == f->size &&
	    (long long)st->st_mtime == f->mtime))
		return 0;
	time_iso((time_t)f->mtime, then);
	time_iso(st->st_mtime, now);
	snprintf(err, errlen, "it changed after it was listed: %lld bytes, "
	    "mtime %s then; %lld bytes, mtime %s when opened", f->size, then,
	    (long long)st->st_size, now);
	return SRC_CHANGED;
}

/*
 * After the copy: is the file at path still the one opened (at: fstat
 * then), the same device, inode, size, mtime and ctime by its descriptor
 * and by its path, and were all its bytes copied? 0; SRC_CHANGED with
 * err saying how, and f set to what path holds now; -1 with err.
 */
static int
dir_unchanged(int fd, const char *path, const struct stat *at,
    long long copied, struct srcfile *f, char *err, size_t errlen)
{
	struct stat	 now, p;
	int		 gone;

	if (fstat(fd, &now) == -1) {
		snprintf(err, errlen, "cannot look at %s after the copy: %s",
		    path, strerror(errno));
		return -1;
	}
	gone = lstat(path, &p) == -1;
	f->size = gone ? -1 : (long long)p.st_size;
	f->mtime = gone ? -1 : (long long)p.st_mtime;
	if (gone)
		snprintf(err, errlen, "it was deleted or renamed while it was "
		    "read");
	else if (p.st_dev != at->st_dev || p.st_ino != at->st_ino)
		snprintf(err, errlen, "another file took its name while it "
		    "was read");
	else if (now.st_size != at->st_size || p.st_size != at->st_size)
		snprintf(err, errlen, "its size went from %lld to %lld bytes "
		    "while it was read", (long long)at->st_size,
		    (long long)now.st_size);
	else if (copied != at->st_size)
		snprintf(err, errlen, "%lld of its %lld bytes were read",
		    copied, (long long)at->st_size);
	else if (!same_time(&now.st_mtim, &at->st_mtim) ||
	    !same_time(&now.st_ctim, &at->st_ctim) ||
	    !same_time(&p.st_mtim, &at->st_mtim) ||
	    !same_time(&p.st_ctim, &at->st_ctim))
		snprintf(err, errlen, "it was written to while it was read: "
		    "its mtime or ctime changed");
	else
		return 0;
	return SRC_CHANGED;
}

/*
 * Copy the file by the kernel from 4 blocks on, by hand below that or
 * where the kernel cannot copy between the two files. fetch.block is a
 * fault point right after open, after each block and after the last.
 */
static int
dir_get(struct source *s, struct srcfile *f, int out, struct sha256 *h,
    long long *size, char *err, size_t errlen)
{
	struct stat	 st;
	char		*p;
	int		 fd, rc = -1, kernel = 0;

	xasprintf(&p, "%s/%s", s->dir, f->name);
	*size = 0;
	/* Not blocking on a FIFO put in the file's place since the listing. */
	if ((fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) ==
	    -1) {
		snprintf(err, errlen, "cannot open %s: %s", p,
		    strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is no longer a regular file", p);
		goto out;
	}
	if ((rc = dir_listed(&st, f, err, errlen)) != 0)
		goto out;
	fault("fetch.block");
	rc = 1;
	if (st.st_size >= 4 * (long long)block_size(COPY_BLOCK))
		kernel = (rc = kernel_copy(fd, out, h, size, f->name, p, err,
		    errlen)) != 1;
	if (rc == 1)
		rc = hand_copy(fd, out, h, size, f->name, p, err, errlen);
	if (rc == 0) {
		log_debug("%s: %lld bytes copied %s", f->name, *size,
		    kernel ? "by the kernel" : "by hand");
		fault("fetch.block");
		rc = dir_unchanged(fd, p, &st, *size, f, err, errlen);
	}
out:
	if (fd != -1)
		close(fd);
	free(p);
	return rc;
}

static int
dir_after(struct source *s, const char *name, enum after how,
    const char *sub, char *err, size_t errlen)
{
	char	*from, *dir = NULL, *to = NULL;
	int	 rc = -1;

	xasprintf(&from, "%s/%s", s->dir, name);
	if (how == AFTER_LEAVE)
		rc = 0;
	else if (how == AFTER_DELETE) {
		if ((rc = unlink(from)) == -1)
			snprintf(err, errlen, "cannot delete %s: %s", from,
			    strerror(errno));
	} else {
		xasprintf(&dir, "%s/%s", s->dir, sub);
		xasprintf(&to, "%s/%s", dir, name);
		if (mkdir(dir, 0750) == -1 && errno != EEXIST)
			snprintf(err, errlen, "cannot create %s: %s", dir,
			    strerror(errno));
		else if ((rc = rename(from, to)) == -1)
			snprintf(err, errlen, "cannot move %s to %s: %s",
			    from, dir, strerror(errno));
	}
	free(from);
	free(dir);
	free(to);
	return rc;
}

/* Make a folder and its parents (mode 0750). 0, or -1 with err. */
static int
dir_mkdir_p(const char *dir, char *err, size_t errlen)
{
	char	*p = xstrdup(dir), *c = p + 1;
	int	 rc = 0;

	for (;; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		{
			char save = *c;

			*c = '\0';
			if (mkdir(p, 0750) == -1 && errno != EEXIST) {
				snprintf(err, errlen, "cannot create %s: %s", p,
				    strerror(errno));
				rc = -1;
			}
			*c = save;
		}
		if (rc == -1 || *c == '\0')
			break;
	}
	free(p);
	return rc;
}

/* Copy local to sub/name in the drop-zone: sub/name.part, fsync, rename. */
static int
dir_put(struct source *s, const char *local, const char *sub,
    const char *name, char *err, size_t errlen)
{
	char		*dir, *part, *final, *blk = xmalloc(COPY_BLOCK);
	ssize_t		 n;
	int		 in = -1, out = -1, rc = -1;

	if (*sub == '/')
		dir = xstrdup(sub);
	else
		xasprintf(&dir, "%s/%s", s->dir, sub);
	xasprintf(&final, "%s/%s", dir, name);
	xasprintf(&part, "%s.part", final);
	if ((in = open(local, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot read %s: %s", local,
		    strerror(errno));
		goto out;
	}
	if (dir_mkdir_p(dir, err, errlen) == -1)
		goto out;
	unlink(part);
	if ((out = open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0640)) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", part,
		    strerror(errno));
		goto out;
	}
	while ((n = read(in, blk, COPY_BLOCK)) > 0)
		if (write_full(out, blk, (size_t)n) == -1) {
			snprintf(err, errlen, "cannot write %s: %s", part,
			    strerror(errno));
			goto out;
		}
	if (n == -1 || fsync(out) == -1) {
		snprintf(err, errlen, "cannot copy %s to %s: %s", local, part,
		    strerror(errno));
		goto out;
	}
	n = close(out);
	out = -1;
	if (n == -1) {
		snprintf(err, errlen, "cannot write %s: %s", part,
		    strerror(errno));
		goto out;
	}
	if (rename(part, final) == -1) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", part,
		    final, strerror(errno));
		goto out;
	}
	fsync_dir_of(final);
	rc = 0;
out:
	if (out != -1)
		close(out);
	if (in != -1)
		close(in);
	if (rc == -1)
		unlink(part);
	free(blk);
	free(part);
	free(final);
	free(dir);
	return rc;
}

static void
dir_close(struct source *s)
{
	if (s == NULL)
		return;
	free(s->dir);
	free(s);
}

const struct srcops srcops_dir = {
	.prefix = "dir:",
	.open = dir_open,
	.list = dir_list,
	.exists = dir_exists,
	.get = dir_get,
	.after = dir_after,
	.put = dir_put,
	.close = dir_close,
};
