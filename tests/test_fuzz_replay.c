/*
 * The fuzzers' regression corpora, replayed in `make check`: every file of
 * fixtures/fuzz/csv, fixtures/fuzz/xlsx and fixtures/fuzz/config goes
 * through the same entry point as its libFuzzer target (tests/fuzz_*.c,
 * included here), built like the other tests (and with the sanitizers in
 * make check-asan). A file that crashes, trips a sanitizer or takes more
 * than FUZZ_REPLAY_SECONDS fails the test. Output is TAP.
 *
 * usage: test_fuzz_replay [TOP] [FILE...]
 */
#define FUZZ_REPLAY
#include "fuzz_csv.c"
#include "fuzz_xlsx.c"
#include "fuzz_config.c"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>

#define FUZZ_REPLAY_SECONDS	60	/* one input, at most */
#define FUZZ_REPLAY_MAX		(64 * 1024 * 1024) /* bytes in one input */

struct target {
	const char	*name;
	int		(*one)(const uint8_t *, size_t);
};

static const struct target targets[] = {
	{ "csv", fuzz_csv_one },
	{ "xlsx", fuzz_xlsx_one },
	{ "config", fuzz_config_one },
};

static int	 ntest;

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole file, or NULL; *size set. Must be freed. */
static uint8_t *
slurp(const char *path, size_t *size)
{
	struct stat	 sb;
	uint8_t		*p;
	FILE		*fp;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fstat(fileno(fp), &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > FUZZ_REPLAY_MAX) {
		fclose(fp);
		return NULL;
	}
	p = xmalloc((size_t)sb.st_size + 1);
	*size = fread(p, 1, (size_t)sb.st_size, fp);
	fclose(fp);
	return p;
}

static void
replay(const struct target *t, const char *path, const char *label)
{
	uint8_t	*data;
	size_t	 size = 0;

	fflush(stdout);
	if ((data = slurp(path, &size)) == NULL) {
		printf("not ok %d - %s: cannot read %s\n", ++ntest, label, path);
		return;
	}
	alarm(FUZZ_REPLAY_SECONDS);	/* SIGALRM ends us: a failure */
	t->one(data, size);
	alarm(0);
	free(data);
	printf("ok %d - %s/%s (%zu bytes)\n", ++ntest, t->name, label, size);
}

/* Every file of TOP/fixtures/fuzz/NAME, in name order. */
static size_t
replay_dir(const char *top, const struct target *t)
{
	char		 dir[PATH_MAX], path[PATH_MAX];
	char		**names = NULL;
	size_t		 n = 0, i;
	DIR		*d;
	struct dirent	*de;

	snprintf(dir, sizeof(dir), "%s/fixtures/fuzz/%s", top, t->name);
	if ((d = opendir(dir)) == NULL) {
		printf("not ok %d - %s: %s\n", ++ntest, dir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) <
		    (int)sizeof(path))
			replay(t, path, names[i]);
		free(names[i]);
	}
	free(names);
	return n;
}

int
main(int argc, char *argv[])
{
	const char	*top = argc > 1 ? argv[1] : ".";
	size_t		 i, n;
	int		 k;

	/* Given files: TARGET:FILE, replayed one by one (for debugging). */
	for (k = 2; k < argc; k++)
		for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
			if (strncmp(argv[k], targets[i].name,
			    strlen(targets[i].name)) == 0 &&
			    argv[k][strlen(targets[i].name)] == ':')
				replay(&targets[i], argv[k] +
				    strlen(targets[i].name) + 1, argv[k]);
	if (argc > 2)
		return 0;
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		n = replay_dir(top, &targets[i]);
		printf("%sok %d - %zu %s inputs replayed\n", n > 0 ? "" : "not ",
		    ++ntest, n, targets[i].name);
	}
	printf("1..%d\n", ntest);
	return 0;
}
