/*
 * libFuzzer target: the CSV loader through load_file(), as a run calls
 * it, for two permissive syncs: one taking the header as it is, one with
 * a mapping; as a run does for encoding "auto", a file that is not UTF-8
 * is loaded again as Windows-1252, and once as ISO-8859-15 named; and
 * load_csv() with and without its plain-line path, and with every whole
 * line taken and hashed for known lines (none known), which must agree.
 * The input is the file. `make fuzz` builds and runs it.
 */
#include "fuzz.h"
#include "known.h"	/* the fast path it compares with libcsv alone */

static char *fuzz_csv_keys[] = { "employee_id" };
static char *fuzz_csv_keys2[] = { "company", "employee_id" };
static char *fuzz_csv_ignore[] = { "notes" };
static char *fuzz_csv_keep[] = { "title" };

/* The header as it is: every column a field. */
static struct sync fuzz_csv_plain = {
	.name = "fuzz", .format = FMT_CSV,
	.keys = fuzz_csv_keys, .nkeys = 1,
	.ignore = fuzz_csv_ignore, .nignore = 1,
	.keep_empty = fuzz_csv_keep, .nkeep_empty = 1,
	.terminated_field = "employment_status", .team_field = "department",
};

/* A mapping, a composite key. */
static struct slot fuzz_csv_slots[] = {
	{ "company", "Company", -1, 1, 1, 0 },
	{ "employee_id", "Employee ID", F_EMPLOYEE_ID, 2, 1, 0 },
	{ "email", "E-mail", F_EMAIL, 0, 0, 0 },
	{ "manager_id", "Manager", F_MANAGER_ID, 0, 0, 0 },
	{ "department", "Dept", F_DEPARTMENT, 0, 0, 1 },
};
static struct sync fuzz_csv_mapped = {
	.name = "fuzz2", .format = FMT_AUTO,
	.slots = fuzz_csv_slots, .nslots = 5,
	.keys = fuzz_csv_keys2, .nkeys = 2,
	.team_field = "department",
};

struct fuzz_csv_seen {
	const struct schema	*sc;
	unsigned		 h;
};

static int
fuzz_csv_record(void *arg, const struct record *r)
{
	struct fuzz_csv_seen	*s = arg;
	size_t			 i;

	s->h += fuzz_touch(r->key, r->keylen) + (unsigned)r->row;
	for (i = 0; i < s->sc->nslots; i++)
		s->h += fuzz_touch(r->v[i], r->len[i]);
	return 0;
}

static int
fuzz_csv_load_as(const char *path, const struct sync *sy,
    struct textenc *enc)
{
	struct schema		 sc;
	struct loadstat		 ls;
	struct fuzz_csv_seen	 s = { &sc, 0 };
	char			 err[MAX_ERRMSG];
	int			 rc;

	rc = load_file(path, "fuzz.csv", sy, enc, &sc, &ls, NULL,
	    fuzz_csv_record, &s, err, sizeof(err));
	if (rc != 0 && strlen(err) >= sizeof(err))
		abort();
	schema_free(&sc);
	return rc;
}

static void
fuzz_csv_load(const char *path, const struct sync *sy)
{
	struct textenc	 enc = { .want = "auto" };

	if (fuzz_csv_load_as(path, sy, &enc) != LOAD_NOT_UTF8)
		return;
	memset(&enc, 0, sizeof(enc));
	enc.want = ENC_FALLBACK;
	enc.fallback = 1;
	/* What was not UTF-8 is read whole in the fallback, or fails. */
	if (fuzz_csv_load_as(path, sy, &enc) == LOAD_NOT_UTF8)
		abort();
	memset(&enc, 0, sizeof(enc));
	enc.want = "iso-8859-15";
	(void)fuzz_csv_load_as(path, sy, &enc);
}

/* Every raw row as bytes: number, fields with their flags, wide, noeol. */
static int
fuzz_csv_raw(void *arg, const struct rawrow *r)
{
	struct buf	*b = arg;
	size_t		 i;

	buf_printf(b, "%zu %zu %d %d:", r->row, r->nf, r->wide, r->noeol);
	for (i = 0; i < r->nf; i++) {
		buf_printf(b, "%zu/%u/", r->len[i], r->ff[i]);
		buf_add(b, r->f[i], r->len[i]);
	}
	buf_addc(b, '\n');
	return 0;
}

/* Known lines as load.c asks for them, none of them known. */
static int
fuzz_csv_hashed(void *arg, size_t n, const char *const *line,
    const size_t *len, struct rowprep *out)
{
	size_t	 i;

	(void)arg;
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].lh_ok = 1;
		out[i].lh[0] = hash64(line[i], len[i], 1);
	}
	return 1;
}

static int
fuzz_csv_same(int ra, const struct buf *a, const char *ea, int rb,
    const struct buf *b, const char *eb)
{
	return ra == rb && a->len == b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0) && (ra != -1 ||
	    strcmp(ea, eb) == 0);
}

/* The plain-line path and the known-line one give what libcsv alone
 * gives, or the fuzzer stops on the input. */
static void
fuzz_csv_both_ways(const char *path)
{
	struct buf	 a = { 0 }, b = { 0 }, c = { 0 };
	char		 ea[MAX_ERRMSG], eb[MAX_ERRMSG], ec[MAX_ERRMSG];
	int		 ra, rb, rc;

	ra = load_csv(path, fuzz_csv_raw, &a, ea, sizeof(ea));
	rc = load_csv_prep(path, fuzz_csv_raw, NULL, fuzz_csv_hashed, &c, NULL,
	    ec, sizeof(ec));
	load_csv_plain_lines = 0;
	rb = load_csv(path, fuzz_csv_raw, &b, eb, sizeof(eb));
	load_csv_plain_lines = 1;
	if (!fuzz_csv_same(ra, &a, ea, rb, &b, eb) ||
	    !fuzz_csv_same(ra, &a, ea, rc, &c, ec))
		abort();
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
}

static int
fuzz_csv_one(const uint8_t *data, size_t size)
{
	static struct fuzzfile	 f;
	const char		*path = fuzz_write(&f, ".csv", data, size);

	fuzz_csv_both_ways(path);
	fuzz_csv_load(path, &fuzz_csv_plain);
	fuzz_csv_load(path, &fuzz_csv_mapped);
	return 0;
}

#ifndef FUZZ_REPLAY
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_csv_one(data, size);
}
#endif
