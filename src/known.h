/*
 * The known-lines fast path, private to the stages that use it: the CSV
 * reader (load_csv.c), the loader (load.c), the diff (diff.c), the key
 * snapshot (snapshot.c) and validation (validate.c), and known.c, which
 * holds the hashes they share.
 *
 * A row of a big daily export is most often a stored user unchanged.
 * Work for such a row is done ahead, as the CSV reader reads it (the
 * "prep": trimming, the fingerprint of the values, the hash of the email
 * and of the key), or skipped altogether when the row's whole line is one
 * the directory's companion file knows (struct known, snapshot.c): the
 * row is handed on with no fields, as "entry N, unchanged". What a stage
 * learns of this rides in one opaque hint of struct rawrow (struct
 * rawhint) and of struct record (struct rowhint); nothing else of the
 * public interface knows of it. Every fast path here has a reference
 * path the tests compare it with (RS_SELFCHECK, the fuzzers).
 */
#ifndef ROSTERSYNC_KNOWN_H
#define ROSTERSYNC_KNOWN_H

#include "rostersync.h"

/* What the CSV reader made of a row ahead of the stage that takes it. */
struct rowprep {
	uint64_t	 fp;	/* fingerprint of the slots' values */
	uint64_t	 eh;	/* email_hash() of the email */
	uint64_t	 kh;	/* strmap_keyhash() of a one-field key */
	int		 kh_ok;	/* kh is made */
	unsigned	 kcol;	/* and that key's column */
	int		 lh_ok;	/* the row is one whole line, hashed: */
	uint64_t	 lh[2];	/* hash128() of it (load.c's seed) */
	uint32_t	 known;	/* a known line: its entry + 1, */
	uint32_t	 kteam;	/* and struct lineinfo's team, flags */
	uint32_t	 kflags;
};

/* A row further on (nf 0: none), for prefetching. */
struct rowpeek {
	const char	*base;	/* field i at base + off[i] */
	const size_t	*off;
	const size_t	*len;
	size_t		 nf;
	const char	*key;	/* or, prepped with kh_ok: the key, */
	size_t		 keylen; /* trimmed, and its hash */
	uint64_t	 kh;
	uint32_t	 known;	/* or a known line's entry + 1 */
};

/* The hint of a raw row (the CSV reader's, with a prep). */
struct rawhint {
	int		 prepped;	/* the prep saw it: prep is its work */
	struct rowprep	 prep;
	struct rowpeek	 peek[2];	/* rows further on */
};

/* The hint of a record (load.c): the prep's work and rows further on. */
struct rowhint {
	int		 prepped;	/* prep holds v's fingerprint and
					 * email hash */
	struct rowprep	 prep;		/* prep.known: a known line */
	const char	*peek_key[2];	/* keys of rows further on, or NULL: */
	size_t		 peek_len[2];	/* hints only (untrimmed, may be wrong) */
	uint64_t	 peek_kh[2];	/* their strmap_keyhash(), if peek_hashed */
	int		 peek_hashed[2];
	uint32_t	 peek_known[2];	/* or known lines' entries + 1 */
};

/* A raw row's prep, if any. */
static inline const struct rowprep *
raw_prep(const struct rawrow *r)
{
	return r->hint != NULL && r->hint->prepped ? &r->hint->prep : NULL;
}

/*
 * As a row is read, work for fn done ahead: the prep may trim fields in
 * place (moving f[i] on, shortening len[i] and writing a NUL at the new
 * end) and change their bytes, and returns 1 having filled *out, or 0
 * having changed nothing. The row's hint tells fn.
 */
typedef int (*rowprep_fn)(void *arg, size_t nf, char **f, size_t *len,
	    struct rowprep *out);
/*
 * Known lines (CSV only), as they are read: at the start of a
 * record, for up to KNOWN_GROUP whole lines (each without its LF), hash
 * each (lh_ok, lh) and look it up; a known line is handed to fn as a row
 * of no fields with its hint's prep.known set, the others are parsed as
 * usual with their hashes. 0 when the caller wants no hashes (yet).
 */
#define KNOWN_GROUP	16
typedef int (*rowknown_fn)(void *arg, size_t n, const char *const *line,
	    const size_t *len, struct rowprep *out);

/* load_csv() with prep called for every record as it is read, and
 * known for whole lines (both may be NULL), and an encoding (NULL:
 * auto). */
int	 load_csv_prep(const char *path, rawrow_fn fn, rowprep_fn prep,
	    rowknown_fn known, void *arg, struct textenc *enc, char *err,
	    size_t errlen);

/*
 * The known lines' table (struct known): a line's first hash picks the
 * slot (its low half) and gives the tag (its high half); the slot holds
 * the tag above the entry + 1, and the entry's second hash (kn->h2) is
 * compared before a line is taken for that entry's.
 */
static inline size_t
known_pos(const struct known *kn, uint64_t h1)
{
	return (size_t)(((h1 & 0xffffffffu) * (uint64_t)kn->cap) >> 32);
}

static inline uint32_t
known_tag(const struct known *kn, uint64_t h1)
{
	return kn->idbits >= 32 ? 0 : (uint32_t)(h1 >> 32) >> kn->idbits <<
	    kn->idbits;
}

/* The entry of the first slot at or after s whose tag is h1's (with s
 * then that slot), or ENT_NONE. */
static inline uint32_t
known_probe(const struct known *kn, uint64_t h1, size_t *s)
{
	uint32_t	 tag = known_tag(kn, h1), v;
	size_t		 i = *s;

	for (;; i = i + 1 == kn->cap ? 0 : i + 1) {
		if ((v = kn->slot[i]) == 0)
			return ENT_NONE;
		if (kn->idbits >= 32 || (v ^ tag) >> kn->idbits == 0) {
			*s = i;
			return (kn->idbits >= 32 ? v : v & ((1U << kn->idbits) -
			    1)) - 1;
		}
	}
}

/* The entry whose line hashes to lh, or ENT_NONE. */
static inline uint32_t
known_find(const struct known *kn, const uint64_t lh[2])
{
	size_t		 s = known_pos(kn, lh[0]);
	uint32_t	 id;

	while ((id = known_probe(kn, lh[0], &s)) != ENT_NONE) {
		if (kn->h2[id] == lh[1])
			return id;
		s = s + 1 == kn->cap ? 0 : s + 1;
	}
	return ENT_NONE;
}

/* ------------------------------------------------------------ known.c */

/* The seeds of a schema's slots (their names), for fingerprint(). */
void	 slot_seeds(const struct schema *, uint64_t *seed);
/* The fingerprint of a row: every slot's seed and value, in slot order. */
uint64_t fingerprint(const uint64_t *seed, size_t n, const char *const *v,
	    const size_t *len);
/* The same fingerprint from a stored fields object (in slot order). */
uint64_t fields_hash(const char *json);
/*
 * The hash that groups equal emails, of the address's case folding:
 * seeded per process, or per directory where known lines keep hashes
 * from one run to the next (email_hash_seed(), before any email_hash()).
 */
uint64_t email_hash(const char *, size_t);
void	 email_hash_seed(uint64_t);

#endif /* ROSTERSYNC_KNOWN_H */
