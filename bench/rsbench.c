/*
 * rsbench: the readers and the hash of rostersync on their own, for
 * `make bench` (bench/run.sh times it with /usr/bin/time).
 *
 * usage: rsbench xlsx FILE [SHEET]	load_xlsx() over FILE
 *	  rsbench xlsx-expat FILE [SHEET]	the same, the sheet through
 *					expat alone (no tokenizer first)
 *	  rsbench csv FILE		load_csv() over FILE
 *	  rsbench sha256 FILE		sha256 of FILE, read in 256 KB blocks
 *	  rsbench put CONFIG SYNC DIR FILE...
 *					upload each FILE to DIR at SYNC's
 *					source, as reports are published
 *	  rsbench evict FILE...		drop the files' pages from the page
 *					cache (posix_fadvise DONTNEED; dirty
 *					pages stay: sync first)
 *
 * The readers print "rows=N cells=N bytes=N digest=HEX" on standard
 * output: every row's values folded into one 64-bit digest, so that a
 * CSV export and the XLSX made from it can be checked for the same
 * content. Exit 0, or 1 with the reader's error on standard error.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

#define SHA_BLOCK	(256 * 1024)

struct count {
	unsigned long long	 rows;
	unsigned long long	 cells;
	unsigned long long	 bytes;
	uint64_t		 digest;
};

/* Fold one row in: the values without trailing empty cells. */
static int
on_row(void *arg, const struct rawrow *r)
{
	struct count	*c = arg;
	uint64_t	 h = 0x62656e63ULL;
	size_t		 i, nf = r->nf;

	while (nf > 0 && r->len[nf - 1] == 0)
		nf--;
	for (i = 0; i < nf; i++) {
		h = hash64(r->f[i], r->len[i], h + i);
		c->bytes += r->len[i];
	}
	c->rows++;
	c->cells += nf;
	c->digest += h;		/* row order does not matter */
	return 0;
}

static int
read_file(const char *kind, const char *path, const char *sheet)
{
	struct count	 c = { 0 };
	char		 err[MAX_ERRMSG];
	int		 rc;

	xlsx_fast_sheet = strcmp(kind, "xlsx-expat") != 0;
	xlsx_fast_rows = 0;
	if (strncmp(kind, "xlsx", 4) == 0)
		rc = load_xlsx(path, sheet, on_row, &c, err, sizeof(err));
	else
		rc = load_csv(path, on_row, &c, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "rsbench: %s: %s\n", path, err);
		return 1;
	}
	printf("rows=%llu cells=%llu bytes=%llu digest=%016llx\n", c.rows,
	    c.cells, c.bytes, (unsigned long long)c.digest);
	return 0;
}

static int
evict(int n, char **path)
{
	int	 i, fd, e, rc = 0;

	for (i = 0; i < n; i++) {
		if ((fd = open(path[i], O_RDONLY | O_CLOEXEC)) == -1) {
			fprintf(stderr, "rsbench: %s: %s\n", path[i],
			    strerror(errno));
			rc = 1;
			continue;
		}
		if ((e = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)) != 0) {
			fprintf(stderr, "rsbench: %s: %s\n", path[i],
			    strerror(e));
			rc = 1;
		}
		close(fd);
	}
	return rc;
}

static int
hash_file(const char *path)
{
	struct sha256	 h;
	unsigned char	 dig[32];
	char		 hex[65], *blk = xmalloc(SHA_BLOCK);
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "rsbench: %s: %s\n", path, strerror(errno));
		free(blk);
		return 1;
	}
	sha256_init(&h);
	while ((n = read(fd, blk, SHA_BLOCK)) > 0)
		sha256_update(&h, blk, (size_t)n);
	close(fd);
	free(blk);
	if (n == -1) {
		fprintf(stderr, "rsbench: %s: %s\n", path, strerror(errno));
		sha256_free(&h);
		return 1;
	}
	sha256_final(&h, dig);
	sha256_hex(dig, hex);
	printf("%s  %s\n", hex, path);
	return 0;
}

/* The uploads of publish.c: one connection, each file to dir/NAME.part,
 * renamed. Prints "files=N bytes=N". */
static int
put_files(const char *conf, const char *name, const char *dir, int n,
    char **files)
{
	const struct srcops	*ops;
	struct config		 cfg;
	struct errlist		 errs = { 0 };
	struct source		*src;
	struct sync		*sy;
	struct stat		 sb;
	char			 err[MAX_ERRMSG];
	long long		 bytes = 0;
	int			 i, rc = 1;

	if (config_load(conf, &cfg, &errs) == -1) {
		for (i = 0; i < (int)errs.n; i++)
			fprintf(stderr, "rsbench: %s\n", errs.msg[i]);
		goto out;
	}
	if ((sy = config_sync(&cfg, name)) == NULL ||
	    (ops = fetch_ops(sy)) == NULL || ops->put == NULL) {
		fprintf(stderr, "rsbench: %s: no sync %s with uploads\n", conf,
		    name);
		goto out;
	}
	if ((src = ops->open(sy, err, sizeof(err))) == NULL) {
		fprintf(stderr, "rsbench: %s\n", err);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const char *base = strrchr(files[i], '/');

		if (stat(files[i], &sb) == -1 || ops->put(src, files[i], dir,
		    base != NULL ? base + 1 : files[i], err, sizeof(err)) != 0)
			break;
		bytes += (long long)sb.st_size;
	}
	ops->close(src);
	if (i < n)
		fprintf(stderr, "rsbench: %s: %s\n", files[i], err);
	else {
		printf("files=%d bytes=%lld\n", n, bytes);
		rc = 0;
	}
out:
	errlist_free(&errs);
	config_free(&cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "put") == 0) {
		log_init(0);
		return put_files(argv[2], argv[3], argv[4], argc - 5,
		    argv + 5);
	}
	if (argc >= 3 && strcmp(argv[1], "sha256") == 0)
		return hash_file(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "evict") == 0)
		return evict(argc - 2, argv + 2);
	if (argc >= 3 && (strcmp(argv[1], "xlsx") == 0 ||
	    strcmp(argv[1], "xlsx-expat") == 0 || strcmp(argv[1], "csv") == 0))
		return read_file(argv[1], argv[2], argc > 3 ? argv[3] : NULL);
	fprintf(stderr, "usage: rsbench xlsx|xlsx-expat|csv|sha256 FILE "
	    "[SHEET] | evict FILE...\n"
	    "       rsbench put CONFIG SYNC DIR FILE...\n");
	return 2;
}
