/*
 * The hashes the known-lines fast path (known.h) shares between the
 * loader, the diff, validation and the key snapshot: the fingerprint of
 * a row's values, and the hash that groups equal emails. They are below
 * every stage that uses them, so the stages call down, never across.
 */
#include <stdlib.h>
#include <string.h>

#include "known.h"

#define FP_SEED		0x72737973796e6331ULL	/* "rssync1" */

void
slot_seeds(const struct schema *sc, uint64_t *seed)
{
	size_t	 i;

	for (i = 0; i < sc->nslots; i++)
		seed[i] = hash64(sc->slots[i].name, strlen(sc->slots[i].name),
		    0);
}

/* The fingerprint of a row: every slot's name and value. */
uint64_t
fingerprint(const uint64_t *seed, size_t n, const char *const *v,
    const size_t *len)
{
	uint64_t	 h = FP_SEED;
	size_t		 i;

	for (i = 0; i < n; i++)
		h = hash64(v[i], len[i], h ^ seed[i]);
	return h;
}

struct fphash {
	uint64_t	 h;
};

static void
on_fp_field(void *arg, const char *k, const char *v, size_t n)
{
	struct fphash	*f = arg;

	f->h = hash64(v, n, f->h ^ hash64(k, strlen(k), 0));
}

uint64_t
fields_hash(const char *json)
{
	struct fphash	 f = { FP_SEED };

	json_flat_each(json, on_fp_field, &f);
	return f.h;
}

/*
 * Seeded per process, or per directory where known lines keep hashes
 * from one run to the next (email_hash_seed(), from a random seed kept
 * in the spool): an export cannot aim many emails at one hash.
 */
static uint64_t	 email_seed;

void
email_hash_seed(uint64_t seed)
{
	email_seed = seed;
}

/*
 * The hash of an address's case folding: addresses that differ only in
 * case ("Ü1@EXAMPLE.COM", "ü1@example.com") group together. The loader
 * has lowered ASCII already, whose folding that is.
 */
uint64_t
email_hash(const char *s, size_t n)
{
	uint64_t	 seed = email_seed ? email_seed : hash_seed(), h;
	struct buf	 b = { 0 };
	const char	*f;
	size_t		 i, fn;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			break;
	if (i == n)
		return hash64(s, n, seed);
	f = email_fold(&b, s, n, &fn);
	h = hash64(f, fn, seed);
	buf_free(&b);
	return h;
}
