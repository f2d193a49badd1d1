/*
 * The spool tree and the operations that keep it consistent: directories
 * made on demand, the lock that allows one run at a time (flock, so a
 * killed process never leaves a stale lock), renames that are fsync'd,
 * and the checks on names that come from a source.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

#define LOCK_POLL_MS	200
/*
 * The spool names its copies with a prefix ("SHA12-NAME" in incoming/,
 * "RUN-NAME" in archive/ and failed/, ".NAME.part" while downloading): a
 * source name must leave room for it within a file name's 255 bytes.
 */
#define SPOOL_PREFIX_MAX	20
#define SPOOL_NAME_MAX		(MAX_NAME_LEN - SPOOL_PREFIX_MAX)

static int
mkdir_p(const char *path)
{
	char	*p = xstrdup(path), *s;
	int	 rc = 0;

	for (s = p + 1; rc == 0 && *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0750) == -1 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && mkdir(p, 0750) == -1 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

/*
 * A directory of the spool must be a directory, not a symbolic link that
 * would send the spool's files (personal data) somewhere else.
 */
static int
not_a_link(const char *path)
{
	struct stat	 st;

	if (lstat(path, &st) == -1 || !S_ISLNK(st.st_mode))
		return 1;
	log_warnx("%s is a symbolic link: refused (the spool's directories "
	    "must be real directories)", path);
	return 0;
}

/* SPOOL/kind/sync[/name]; the directory is created. NULL on failure. */
char *
spool_path(const struct config *cfg, const char *kind, const char *sync,
    const char *name)
{
	char	*top, *dir, *p;
	int	 ok;

	xasprintf(&top, "%s/%s", cfg->spool, kind);
	xasprintf(&dir, "%s%s%s", top, sync ? "/" : "", sync ? sync : "");
	ok = not_a_link(top) && not_a_link(dir);
	free(top);
	if (!ok) {
		free(dir);
		return NULL;
	}
	if (mkdir_p(dir) == -1) {
		log_warn("cannot create %s", dir);
		free(dir);
		return NULL;
	}
	if (name == NULL)
		return dir;
	xasprintf(&p, "%s/%s", dir, name);
	free(dir);
	return p;
}

/* The spool lock; waits up to wait_seconds. Returns the fd or -1. */
int
spool_lock(const struct config *cfg, int wait_seconds)
{
	char		*path;
	int		 fd, waited = 0;
	long long	 ms = 0;

	if ((path = spool_path(cfg, ".", NULL, "rostersync.lock")) == NULL)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("cannot open the lock %s", path);
		free(path);
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK || ms >= wait_seconds * 1000LL) {
			log_warnx("another rostersync run holds %s; giving "
			    "up after %d seconds", path, wait_seconds);
			close(fd);
			free(path);
			return -2;
		}
		if (!waited++)
			log_msg(LOG_NOTICE, "another run is in progress; "
			    "queued, waiting up to %d seconds", wait_seconds);
		usleep(LOCK_POLL_MS * 1000);
		ms += LOCK_POLL_MS;
	}
	free(path);
	return fd;
}

/* The directory of path (".", "/" or a copy of its leading part). */
char *
dir_of(const char *path)
{
	const char	*slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int
fsync_dir_of(const char *path)
{
	char	*copy = xstrdup(path);
	int	 fd, rc;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* rename(2) within the spool, made durable. */
int
spool_move(const char *from, const char *to)
{
	if (rename(from, to) == -1) {
		log_warn("cannot move %s to %s", from, to);
		return -1;
	}
	if (fsync_dir_of(to) == -1 || fsync_dir_of(from) == -1) {
		log_warn("cannot sync the directory of %s", to);
		return -1;
	}
	return 0;
}

/* A name from a source may become a local file name only if this says so. */
int
name_ok(const char *name, char *why, size_t whylen)
{
	size_t	 n = strlen(name), i;

	if (n == 0 || n > SPOOL_NAME_MAX) {
		snprintf(why, whylen, "its length (%zu bytes) is not between "
		    "1 and %d", n, SPOOL_NAME_MAX);
		return 0;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strstr(name, "..") != NULL) {
		snprintf(why, whylen, "it contains \"..\"");
		return 0;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c == '\\') {
			snprintf(why, whylen, "it contains a path separator");
			return 0;
		}
		if (c < 0x20 || c == 0x7f) {
			snprintf(why, whylen, "it contains a control "
			    "character (0x%02x)", c);
			return 0;
		}
	}
	if (!utf8_valid(name, n)) {
		snprintf(why, whylen, "it is not valid UTF-8");
		return 0;
	}
	return 1;
}

/*
 * Files that are never taken: hidden, partial or marker files, whatever
 * the case of the suffix (upload clients on Windows write "X.CSV.PART").
 */
int
name_ignored(const char *name)
{
	static const char *const pats[] = { ".*", "*.part", "*.tmp",
	    "*.filepart", "*.done", "*~" };
	size_t	 i;

	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (fnmatch(pats[i], name, FNM_PERIOD | FNM_CASEFOLD) == 0)
			return 1;
	return 0;
}

/* Remove the regular files of one spool directory older than cutoff. */
static int
expire_dir(const char *dir, time_t cutoff, const char *what)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode) ||
		    st.st_mtime >= cutoff)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1)
			log_warn("retention: cannot remove %s/%s", dir,
			    de->d_name);
		else {
			log_info("retention: removed %s %s/%s", what, dir,
			    de->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}

/*
 * Retention: reports and archived inputs hold personal data, so they are
 * kept keep_reports_days and keep_inputs_days (0: forever).
 */
void
spool_expire(const struct config *cfg, const struct sync *sy)
{
	static const char *const inputs[] = { "archive", "failed" };
	time_t		 now = time(NULL);
	char		*dir;
	size_t		 i;

	if (sy->keep_reports_days > 0) {
		xasprintf(&dir, "%s/reports/%s", cfg->spool, sy->name);
		expire_dir(dir, now - (time_t)sy->keep_reports_days * 86400,
		    "report");
		free(dir);
	}
	for (i = 0; sy->keep_inputs_days > 0 && i < 2; i++) {
		xasprintf(&dir, "%s/%s/%s", cfg->spool, inputs[i], sy->name);
		expire_dir(dir, now - (time_t)sy->keep_inputs_days * 86400,
		    "input");
		free(dir);
	}
}
