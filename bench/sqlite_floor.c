/*
 * sqlite_floor: SQLite's part of a first load and nothing else, for
 * `make bench`, whose initial-load target is a multiple of it. One
 * transaction of the export's N users in key order and N create items,
 * through store.c itself, as a first load of rostersync does it: the
 * same schema and pragmas, the same prepared statements, the rollback
 * journal of a first load, the email and item indexes built after the
 * rows. A user's row holds what rostersync keeps: the key, the email in
 * lower case, the display name, the manager, the team, a fingerprint and
 * every field as a JSON object; an item its key, email, name and team.
 *
 * The export is read and the rows made first, not timed: the time of
 * the database's part (opening it to closing it) is printed as
 * "bench_wall=SECONDS" (bench/run.sh takes it as the case's time), with
 * "users=N items=N".
 *
 * usage: sqlite_floor DB EXPORT.csv	(DB must not exist)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rostersync.h"

#define FLOOR_RUN	1	/* the run the rows belong to */

/* The export's columns rostersync reads for a user, by header name. */
enum fcol { FC_KEY, FC_EMAIL, FC_NAME, FC_MANAGER, FC_TEAM, FC__COUNT };
static const char *const fcol_name[FC__COUNT] = {
	"employee_id", "email", "display_name", "manager_id", "department",
};

/* The users, in one arena: per user its values, NUL-terminated. */
struct floor {
	char		**head;		/* the header's names */
	size_t		  nhead;
	int		  col[FC__COUNT];
	struct buf	  arena;
	size_t		 *at;		/* per user: FC__COUNT offsets, then
					 * the JSON's */
	size_t		  n, cap;
	struct buf	  json;
};

static int
floor_header(struct floor *fl, const struct rawrow *r)
{
	size_t	 i, k;

	fl->head = xcalloc(r->nf, sizeof(*fl->head));
	fl->nhead = r->nf;
	for (k = 0; k < FC__COUNT; k++)
		fl->col[k] = -1;
	for (i = 0; i < r->nf; i++) {
		fl->head[i] = xstrndup(r->f[i], r->len[i]);
		for (k = 0; k < FC__COUNT; k++)
			if (strcmp(fl->head[i], fcol_name[k]) == 0)
				fl->col[k] = (int)i;
	}
	if (fl->col[FC_KEY] == -1) {
		fprintf(stderr, "sqlite_floor: no employee_id column\n");
		return 1;
	}
	return 0;
}

/* Put s (n bytes) and a NUL in the arena; its offset. */
static size_t
arena_put(struct floor *fl, const char *s, size_t n)
{
	size_t	 at = fl->arena.len;

	buf_add(&fl->arena, s, n);
	buf_addc(&fl->arena, '\0');
	return at;
}

static int
floor_row(void *arg, const struct rawrow *r)
{
	struct floor	*fl = arg;
	size_t		 i, k, *at;

	if (fl->head == NULL)
		return floor_header(fl, r);
	if (fl->n == fl->cap) {
		fl->cap = fl->cap ? 2 * fl->cap : 65536;
		fl->at = xrealloc(fl->at, fl->cap * (FC__COUNT + 1) *
		    sizeof(*fl->at));
	}
	at = fl->at + fl->n++ * (FC__COUNT + 1);
	for (k = 0; k < FC__COUNT; k++) {
		i = (size_t)fl->col[k];
		at[k] = fl->col[k] >= 0 && i < r->nf ?
		    arena_put(fl, r->f[i], r->len[i]) : arena_put(fl, "", 0);
		if (k == FC_EMAIL)
			for (i = at[k]; fl->arena.p[i] != '\0'; i++)
				if (fl->arena.p[i] >= 'A' &&
				    fl->arena.p[i] <= 'Z')
					fl->arena.p[i] += 'a' - 'A';
	}
	buf_reset(&fl->json);
	buf_addc(&fl->json, '{');
	for (i = 0; i < fl->nhead; i++) {
		buf_adds(&fl->json, i ? ",\"" : "\"");
		buf_adds(&fl->json, fl->head[i]);
		buf_adds(&fl->json, "\":");
		json_str(&fl->json, i < r->nf ? r->f[i] : "",
		    i < r->nf ? r->len[i] : 0);
	}
	buf_addc(&fl->json, '}');
	at[FC__COUNT] = arena_put(fl, fl->json.p, fl->json.len);
	return 0;
}

static const struct floor *sort_fl;

static int
by_key(const void *a, const void *b)
{
	const size_t	*x = a, *y = b;

	return strcmp(sort_fl->arena.p + sort_fl->at[*x * (FC__COUNT + 1)],
	    sort_fl->arena.p + sort_fl->at[*y * (FC__COUNT + 1)]);
}

/* One first load's worth of SQLite, users in the order of order. */
static int
floor_store(const struct floor *fl, const size_t *order, const char *db)
{
	struct store	*st;
	struct dirrow	 d;
	struct itemrow	 it;
	const size_t	*at;
	const char	*a = fl->arena.p;
	char		 err[MAX_ERRMSG];
	size_t		 i;
	int		 rc = -1;

	if ((st = store_open(db, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "sqlite_floor: %s\n", err);
		return -1;
	}
	store_journal_rollback(st);
	if (store_begin_big(st) == -1 || store_bulk_begin(st) == -1)
		goto out;
	memset(&d, 0, sizeof(d));
	d.sync = "hr";
	d.run = FLOOR_RUN;
	for (i = 0; i < fl->n; i++) {
		at = fl->at + order[i] * (FC__COUNT + 1);
		d.key = a + at[FC_KEY];
		d.email = a + at[FC_EMAIL];
		d.name = a + at[FC_NAME];
		d.manager = a + at[FC_MANAGER];
		d.team = a + at[FC_TEAM];
		d.fields = a + at[FC__COUNT];
		d.fieldslen = strlen(d.fields);
		d.hash = hash64(d.fields, d.fieldslen, 0);
		if (store_dir_put(st, &d) == -1)
			goto out;
	}
	memset(&it, 0, sizeof(it));
	it.type = IT_CREATE;
	it.status = IST_APPLIED;
	for (i = 0; i < fl->n; i++) {
		at = fl->at + order[i] * (FC__COUNT + 1);
		it.seq = (long long)i + 1;
		it.key = a + at[FC_KEY];
		it.email = a + at[FC_EMAIL];
		it.name = a + at[FC_NAME];
		it.team = a + at[FC_TEAM];
		if (store_item_add(st, FLOOR_RUN, &it) == -1)
			goto out;
	}
	if (store_bulk_end(st) == -1 || store_commit(st) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		fprintf(stderr, "sqlite_floor: %s\n", store_errmsg(st));
		store_rollback(st);
	}
	store_journal_wal(st);
	store_close(st);
	return rc;
}

int
main(int argc, char **argv)
{
	struct floor	 fl;
	size_t		*order, i;
	char		 err[MAX_ERRMSG];
	int64_t		 t0;

	if (argc != 3) {
		fprintf(stderr, "usage: sqlite_floor DB EXPORT.csv\n");
		return 2;
	}
	log_init(-1);
	if (access(argv[1], F_OK) == 0) {
		fprintf(stderr, "sqlite_floor: %s exists\n", argv[1]);
		return 1;
	}
	memset(&fl, 0, sizeof(fl));
	if (load_csv(argv[2], floor_row, &fl, err, sizeof(err)) != 0) {
		fprintf(stderr, "sqlite_floor: %s: %s\n", argv[2], err);
		return 1;
	}
	order = xcalloc(fl.n + 1, sizeof(*order));
	for (i = 0; i < fl.n; i++)
		order[i] = i;
	sort_fl = &fl;
	qsort(order, fl.n, sizeof(*order), by_key);
	t0 = now_ms();
	if (floor_store(&fl, order, argv[1]) == -1)
		return 1;
	printf("bench_wall=%.2f\nusers=%zu items=%zu\n",
	    (double)(now_ms() - t0) / 1000, fl.n, fl.n);
	return 0;
}
