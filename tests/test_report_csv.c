/*
 * The CSV report read back by libcsv (through load_csv) holds exactly what
 * the database holds: the summary, every change, every issue, with commas,
 * quotes, newlines and accents intact and formula-looking values
 * neutralised by a leading quote. It starts with a UTF-8 byte-order mark
 * and ends its lines with CRLF (RFC 4180).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

#define NCOLS	12

static int	 ntest, nfail;

static void
ok(int cond, const char *fmt, ...)
{
	va_list	 ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	nfail += !cond;
}

/* Rows as text: fields joined by US (0x1f), rows by RS (0x1e). */
struct rows {
	struct buf	 b;
	size_t		 n;
};

static void
row_add(struct rows *rs, const char *const *v, size_t nf)
{
	size_t	 i;

	for (i = 0; i < NCOLS; i++) {
		const char *s = i < nf && v[i] ? v[i] : "";

		if (i > 0)
			buf_addc(&rs->b, 0x1f);
		if (cell_is_formula(s))
			buf_addc(&rs->b, '\'');
		buf_adds(&rs->b, s);
	}
	buf_addc(&rs->b, 0x1e);
	rs->n++;
}

static int
on_read(void *arg, const struct rawrow *r)
{
	row_add(arg, r->f, r->nf);
	return 0;
}

static void
want_pair(void *arg, const char *label, const char *value)
{
	const char *v[NCOLS] = { "Summary", "", "", "", "", label, "",
	    value };

	row_add(arg, v, NCOLS);
}

static int
want_item(void *arg, const struct itemview *it)
{
	const char *v[NCOLS] = { "Change", itemtype_label(it->type), it->key,
	    it->email, it->name, it->field, it->field ? it->old : "",
	    it->field ? it->new : "", itemstatus_slug(it->status), "",
	    it->error };

	row_add(arg, v, NCOLS);
	return 0;
}

static int
want_issue(void *arg, const struct issueview *is)
{
	char		 row[24];
	const char	*v[NCOLS] = { "Issue", issuetype_label(is->type),
	    is->key, "", "", is->field, "", "", "", row, is->message,
	    is->fix };

	snprintf(row, sizeof(row), "%lld", is->row);
	row_add(arg, v, NCOLS);
	return 0;
}

/* CR LF and a lone CR as LF, as load_csv() gives a quoted cell's text. */
static void
lf_only(struct buf *b)
{
	size_t	 i, o;

	for (i = o = 0; i < b->len; i++) {
		if (b->p[i] == '\r' && i + 1 < b->len && b->p[i + 1] == '\n')
			continue;
		b->p[o++] = b->p[i] == '\r' ? '\n' : b->p[i];
	}
	b->len = o;
}

static const char *const hostile[] = {
	"Lee, Ann", "\"Acting\" Lead", "two\nlines", "Zoë Müller-Ødegård",
	"=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@SUM(A1)", "\tx",
	"\rx", "東京, 日本", "trailing space ",
};

static void
fill(struct store *st, struct run *r)
{
	struct change	 chg[2];
	struct itemrow	 it;
	struct issuerow	 is;
	size_t		 i, n = sizeof(hostile) / sizeof(hostile[0]);

	for (i = 0; i < n; i++) {
		memset(&it, 0, sizeof(it));
		it.seq = (long long)i + 1;
		it.type = i % 3 == 0 ? IT_CREATE : IT_UPDATE;
		it.status = IST_APPLIED;
		it.key = hostile[(i + 1) % n];
		it.email = "a.b@example.com";
		it.name = hostile[i];
		chg[0].field = "title";
		chg[0].old = hostile[(i + 2) % n];
		chg[0].new = hostile[(i + 3) % n];
		chg[1].field = "location";
		chg[1].old = "";
		chg[1].new = hostile[(i + 4) % n];
		it.chg = chg;
		it.nchg = it.type == IT_UPDATE ? 2 : 0;
		store_item_add(st, r->id, &it);
		memset(&is, 0, sizeof(is));
		is.seq = (long long)i + 1;
		is.type = ISS_USER_SKIPPED;
		is.row = (long long)i + 2;
		is.key = hostile[i];
		is.field = "email";
		is.message = hostile[(i + 5) % n];
		is.fix = "fix it, \"now\"";
		store_issue_add(st, r->id, &is);
	}
}

int
main(void)
{
	char		 dir[] = "/tmp/test_report_csv.XXXXXX", path[PATH_MAX];
	char		 err[MAX_ERRMSG], head[4] = "";
	struct rows	 want = { 0 }, got = { 0 };
	struct store	*st;
	struct run	 r;
	FILE		*fp;
	int		 rc;

	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	snprintf(path, sizeof(path), "%s/db", dir);
	if ((st = store_open(path, 0, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	memset(&r, 0, sizeof(r));
	r.sync = "hr, \"main\"";
	r.trigger = "manual";
	r.status = RS_ATTENTION;
	r.file_name = "=cmd|' /C calc'!A0.csv";
	r.started = r.finished = time(NULL);
	r.allow_deletes = r.allow_updates = r.allow_id_changes = -1;
	store_run_insert(st, &r);
	fill(st, &r);

	snprintf(path, sizeof(path), "%s/report.csv", dir);
	fp = fopen(path, "w");
	rc = report_csv(st, &r, fp);
	fclose(fp);
	ok(rc == 0, "report_csv writes the report");
	fp = fopen(path, "r");
	ok(fp && fread(head, 1, 3, fp) == 3 && memcmp(head, "\xef\xbb\xbf", 3)
	    == 0, "it starts with a UTF-8 byte-order mark");
	if (fp)
		fclose(fp);

	rc = load_csv(path, on_read, &got, err, sizeof(err));
	ok(rc == 0, "libcsv reads it back (%s)", rc ? err : "ok");
	{
		const char *hdr[NCOLS] = { "Section", "Type", "Employee ID",
		    "Email", "Name", "Field", "Old value", "New value",
		    "Status", "Row", "Message", "Suggested fix" };
		row_add(&want, hdr, NCOLS);
	}
	report_summary(&r, want_pair, &want);
	store_item_each(st, r.id, want_item, &want);
	store_issue_each(st, r.id, want_issue, &want);
	lf_only(&want.b);	/* the loader reads a cell's CR as LF */
	ok(got.n == want.n, "%zu rows read back, %zu expected", got.n, want.n);
	ok(got.b.len == want.b.len && memcmp(got.b.p, want.b.p, got.b.len) == 0,
	    "every cell equals the database's value (formulas neutralised)");
	ok(strstr(got.b.p, "'=HYPERLINK(\"http://x\",\"y\")") != NULL,
	    "=HYPERLINK(...) is written as '=HYPERLINK(...)");
	ok(strstr(got.b.p, "two\nlines") != NULL && strstr(got.b.p,
	    "Zoë Müller-Ødegård") != NULL && strstr(got.b.p, "Lee, Ann"),
	    "newlines, accents and commas survive");

	store_close(st);
	buf_free(&want.b);
	buf_free(&got.b);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		ok(0, "cleanup");
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
