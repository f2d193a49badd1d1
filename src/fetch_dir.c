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
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "drop-zone %s: not a directory", dir);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	return s;
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
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			continue;
		f = xrealloc(f, (cnt + 1) * sizeof(*f));
		f[cnt].name = xstrdup(de->d_name);
		f[cnt].size = (long long)st.st_size;
		f[cnt].mtime = (long long)st.st_mtime;
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

static int
dir_get(struct source *s, const char *name, int out, struct sha256 *h,
    long long *size, char *err, size_t errlen)
{
	char		*p, *blk = xmalloc(COPY_BLOCK);
	struct stat	 st;
	ssize_t		 n, w;
	int		 fd, rc = -1;

	xasprintf(&p, "%s/%s", s->dir, name);
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
	while ((n = read(fd, blk, COPY_BLOCK)) > 0) {
		sha256_update(h, blk, (size_t)n);
		for (w = 0; w < n; ) {
			ssize_t k = write(out, blk + w, (size_t)(n - w));

			if (k == -1) {
				snprintf(err, errlen, "cannot write the spool "
				    "copy: %s", strerror(errno));
				goto out;
			}
			w += k;
		}
		*size += n;
		if (*size > MAX_INPUT_SIZE) {
			snprintf(err, errlen, "%s is larger than %lld bytes",
			    name, (long long)MAX_INPUT_SIZE);
			goto out;
		}
	}
	if (n == -1)
		snprintf(err, errlen, "cannot read %s: %s", p,
		    strerror(errno));
	else
		rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(blk);
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
	.close = dir_close,
};
