/*
 * rsbench: the readers and the hash of rostersync on their own, for
 * `make bench` (bench/run.sh times it with /usr/bin/time).
 *
 * usage: rsbench xlsx FILE [SHEET]	load_xlsx() over FILE
 *	  rsbench csv FILE		load_csv() over FILE
 *	  rsbench sha256 FILE		sha256 of FILE, read in 256 KB blocks
 *
 * The readers print "rows=N cells=N bytes=N digest=HEX" on standard
 * output: every row's values folded into one 64-bit digest, so that a
 * CSV export and the XLSX made from it can be checked for the same
 * content. Exit 0, or 1 with the reader's error on standard error.
 */
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

	if (strcmp(kind, "xlsx") == 0)
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

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "sha256") == 0)
		return hash_file(argv[2]);
	if (argc >= 3 && (strcmp(argv[1], "xlsx") == 0 ||
	    strcmp(argv[1], "csv") == 0))
		return read_file(argv[1], argv[2], argc > 3 ? argv[3] : NULL);
	fprintf(stderr, "usage: rsbench xlsx|csv|sha256 FILE [SHEET]\n");
	return 2;
}
