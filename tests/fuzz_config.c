/*
 * libFuzzer target: the configuration loader, config_load() on a
 * temporary file (mode 0600) holding the input. Inputs with @include are
 * skipped: it reads any file named, which is the administrator's right,
 * and would let the fuzzer read /dev/zero.
 */
#include "fuzz.h"

static int
fuzz_config_one(const uint8_t *data, size_t size)
{
	static struct fuzzfile	 f;
	struct config		 cfg;
	struct errlist		 errs = { 0 };
	const char		*path;
	size_t			 i;

	if (memmem(data, size, "@include", 8) != NULL)
		return 0;
	path = fuzz_write(&f, ".conf", data, size);
	if (config_load(path, &cfg, &errs) == 0) {
		for (i = 0; i < cfg.nsyncs; i++)
			if (config_sync(&cfg, cfg.syncs[i].name) == NULL)
				abort();
	} else if (errs.n == 0)
		abort();	/* a failure always says why */
	for (i = 0; i < errs.n; i++)
		fuzz_touch(errs.msg[i], strlen(errs.msg[i]));
	config_free(&cfg);
	errlist_free(&errs);
	return 0;
}

#ifndef FUZZ_REPLAY
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_config_one(data, size);
}
#endif
