/*
 * What the fuzz targets (tests/fuzz_*.c) share: the input written to a
 * temporary file, since the parsers read paths. Each target defines
 * fuzz_TARGET_one() and, unless FUZZ_REPLAY is defined (the regression
 * driver tests/test_fuzz_replay.c includes all three), libFuzzer's
 * LLVMFuzzerTestOneInput() calling it.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

#define FUZZ_NAME_MAX	64

/* One temporary file per target, removed at exit. */
struct fuzzfile {
	char	 path[FUZZ_NAME_MAX];
};

static struct fuzzfile	*fuzz_files[4];
static size_t		 fuzz_nfiles;

static void
fuzz_cleanup(void)
{
	size_t	 i;

	for (i = 0; i < fuzz_nfiles; i++)
		unlink(fuzz_files[i]->path);
}

/* The file of f (named on first use, mode 0600) now holding data. */
static const char *
fuzz_write(struct fuzzfile *f, const char *suffix, const uint8_t *data,
    size_t size)
{
	const char	*dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	size_t		 off = 0;
	ssize_t		 k;
	int		 fd;

	if (f->path[0] == '\0') {
		log_init(-1);
		snprintf(f->path, sizeof(f->path), "%s/rsfuzz.XXXXXX%s", dir,
		    suffix);
		if ((fd = mkstemps(f->path, (int)strlen(suffix))) == -1) {
			perror(f->path);
			abort();
		}
		close(fd);
		if (fuzz_nfiles == 0)
			atexit(fuzz_cleanup);
		fuzz_files[fuzz_nfiles++] = f;
	}
	/* A new file each time: libzip replaces it by a rename. */
	unlink(f->path);
	if ((fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1) {
		perror(f->path);
		abort();
	}
	while (off < size) {
		if ((k = write(fd, data + off, size - off)) <= 0)
			abort();
		off += (size_t)k;
	}
	close(fd);
	return f->path;
}

/* Read every byte of a value, so that the sanitizers check its bounds. */
static unsigned
fuzz_touch(const char *p, size_t n)
{
	unsigned	 h = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		h = h * 31 + (unsigned char)p[i];
	return h;
}

#endif /* FUZZ_H */
