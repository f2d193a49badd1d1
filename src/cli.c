/*
 * The read-only views: history (the sync history, with filters and
 * paging), show (one run's summary with troubleshooting hints), items (a
 * run's changes and issues, filtered), report (a report file regenerated
 * from the database). Each has --json with a stable shape (README.md).
 * They open the database read-only.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rostersync.h"

struct store *
view_open(struct config *cfg)
{
	char		 err[MAX_ERRMSG];
	struct store	*st;

	if ((st = store_open(cfg->database, 1, err, sizeof(err))) == NULL)
		log_msg(LOG_ERR, "%s", err);
	return st;
}

int
no_database(const struct config *cfg)
{
	return access(cfg->database, F_OK) == -1 && errno == ENOENT;
}

/* --page N (c 'p') or --per-page N (c 'n'): 0, or -1 logged. */
int
page_option(int c, const char *arg, long long *page, long long *limit)
{
	if (c == 'p' && parse_ll(arg, 1, INT32_MAX, page) == -1) {
		log_warnx("--page takes a number from 1");
		return -1;
	}
	if (c == 'n' && parse_ll(arg, 1, PAGE_MAX, limit) == -1) {
		log_warnx("--per-page takes 1 to %d", PAGE_MAX);
		return -1;
	}
	return 0;
}

/* Which results of total the page shows, as members ending the JSON in
 * out (printed then) or as a line of text. */
void
page_footer(int json, struct buf *out, long long total, long long offset,
    long long limit, long long page)
{
	long long	 first, last;

	first = offset < total ? offset + 1 : 0;
	last = first == 0 ? 0 : offset + limit < total ? offset + limit :
	    total;
	if (json) {
		buf_printf(out, "],\"total\":%lld,\"first\":%lld,"
		    "\"last\":%lld,\"page\":%lld,\"per_page\":%lld}\n", total,
		    first, last, page, limit);
		fputs(out->p, stdout);
	} else if (total == 0)
		printf("0 results\n");
	else if (first == 0)
		printf("page %lld is past the end: %lld results\n", page,
		    total);
	else
		printf("%lld-%lld of %lld results\n", first, last, total);
}

static int
parse_run_id(const char *s, long long *id)
{
	if (s == NULL || parse_ll(s, 1, INT64_MAX, id) == -1) {
		log_warnx("expected a run number, not '%s'", s ? s : "");
		return -1;
	}
	return 0;
}

/* 0 ok, else the exit status to return. */
static int
load_run(struct store *st, const char *arg, struct run *r)
{
	long long	 id;
	int		 rc;

	if (parse_run_id(arg, &id) == -1)
		return EXIT_USAGE;
	if ((rc = store_run_get(st, id, r)) == 1) {
		log_warnx("there is no run %lld (see rostersync history)", id);
		return EXIT_FAIL;
	}
	return rc == 0 ? 0 : EXIT_FAIL;
}

/* decision, decided_by (approver: its old name), decided_at, reason, and
 * the overrides given ({"allow-deletes":12}). */
static void
run_json_decision(struct buf *b, const struct run *r)
{
	const struct override	*ov;
	const char		*by = r->approver;
	int			 n = 0;

	if (by == NULL && r->decision == DEC_SUPERSEDE)
		by = "rostersync";
	json_kv(b, "decision", r->decision != DEC_NONE ?
	    decision_slug(r->decision) : NULL);
	json_kv(b, "decided_by", by);
	json_time(b, "decided_at", r->decided_at);
	json_kv(b, "reason", r->reason);
	json_kv(b, "approver", by);
	buf_adds(b, ",\"overrides\":{");
	for (ov = overrides; ov->flag != NULL; ov++)
		if (override_run(ov, r) >= 0)
			buf_printf(b, "%s\"%s\":%lld", n++ ? "," : "", ov->flag,
			    override_run(ov, r));
	buf_addc(b, '}');
}

/* Per type, the items applied and failed (show --json). */
static void
run_json_outcome(struct buf *b, const struct run *r)
{
	int	 i, k;

	for (k = 0; k < 2; k++) {
		buf_printf(b, ",\"%s\":{", k ? "failed" : "applied");
		for (i = 0; i < IT__COUNT; i++)
			buf_printf(b, "%s\"%s\":%lld", i ? "," : "",
			    itemtype_slug(i), k ? r->failed[i] : r->applied[i]);
		buf_addc(b, '}');
	}
	buf_printf(b, ",\"confirmed\":%lld", r->confirmed);
}

/* A run as JSON: the stable shape documented in README.md. */
static void
run_json(struct buf *b, const struct run *r)
{
	int	 i;

	buf_printf(b, "{\"id\":%lld", r->id);
	json_kv(b, "sync", r->sync);
	json_kv(b, "status", runstatus_slug(r->status));
	json_kv(b, "status_label", runstatus_label(r->status));
	json_kv(b, "trigger", r->trigger);
	json_kv(b, "source", r->source);
	json_kv(b, "file_name", r->file_name);
	json_kv(b, "sha256", r->sha256[0] ? r->sha256 : NULL);
	buf_printf(b, ",\"size\":%lld,\"rows\":%lld", r->size, r->rows);
	json_time(b, "started", r->started);
	json_time(b, "finished", r->finished);
	buf_printf(b, ",\"duration_ms\":%lld,\"counts\":{", r->duration_ms);
	for (i = 0; i < IT__COUNT; i++)
		buf_printf(b, "%s\"%s\":%lld", i ? "," : "", itemtype_slug(i),
		    r->count[i]);
	buf_adds(b, "},\"issues\":{");
	for (i = 0; i < ISS__COUNT; i++)
		buf_printf(b, "%s\"%s\":%lld", i ? "," : "", issuetype_slug(i),
		    r->issues[i]);
	buf_printf(b, "},\"skipped\":%lld,\"impacted\":%lld,"
	    "\"active_before\":%lld,\"threshold\":{\"max_deletes\":%lld,"
	    "\"max_delete_percent\":%g,\"max_update_percent\":%g,"
	    "\"tripped\":%s,\"tripped_by\":[%s%s%s]},\"dry_run\":%s",
	    r->skipped, r->impacted, r->active_before, r->max_deletes,
	    r->max_delete_percent, r->max_update_percent,
	    r->tripped ? "true" : "false",
	    (r->tripped & TRIP_DELETES) ? "\"deletes\"" : "",
	    r->tripped == (TRIP_DELETES | TRIP_UPDATES) ? "," : "",
	    (r->tripped & TRIP_UPDATES) ? "\"updates\"" : "",
	    r->dry_run ? "true" : "false");
	buf_printf(b, ",\"allow_deletes\":%lld,\"allow_updates\":%lld,"
	    "\"allow_id_changes\":%lld", r->allow_deletes, r->allow_updates,
	    r->allow_id_changes);
	json_kv(b, "encoding", r->encoding);
	json_kv(b, "encoding_note", r->encoding_note);
	json_kv(b, "error", r->error);
	json_kv(b, "hint", r->hint);
	buf_printf(b, ",\"failures\":%lld", r->failures);
	json_time(b, "recovered_at", r->recovered_at);
	run_json_decision(b, r);
	json_kv(b, "report_base", r->report_base);
	json_kv(b, "preview_base", r->preview_base);
	if (r->have_outcome)
		run_json_outcome(b, r);
	buf_addc(b, '}');
}

/* ------------------------------------------------------------ history */

struct hist {
	int		 json;
	struct buf	 out;
	long long	 n;
};

static const struct tcol hist_cols[] = {
	{ "RUN", 6, TC_RIGHT }, { "STARTED", 23, 0 }, { "SYNC", 12, 0 },
	{ "SOURCE", 22, 0 }, { "TRIGGER", 8, 0 }, { "STATUS", 28, 0 },
	{ "FILE", 24, 0 },
	{ "CREATED", 7, TC_RIGHT }, { "UPDATED", 7, TC_RIGHT },
	{ "DELETED", 7, TC_RIGHT }, { "MANAGER", 7, TC_RIGHT },
	{ "ISSUES", 6, TC_RIGHT },
};
#define NHIST_COLS	(sizeof(hist_cols) / sizeof(hist_cols[0]))

/*
 * A source as the run list shows it (its "source connector"): its
 * kind and where, "sftp hr@sftp.example.com" or "dir /srv/dropzone".
 */
static void
source_text(const char *src, char *out, size_t outlen)
{
	const char	*rest, *end;

	if (src == NULL)
		snprintf(out, outlen, "-");
	else if (strncmp(src, "sftp://", 7) == 0) {
		rest = src + 7;
		end = rest + strcspn(rest, "/");
		/* user@host, without the port (an IPv6 host keeps its []) */
		if (end > rest && memrchr(rest, ':', (size_t)(end - rest)) !=
		    NULL && (end[-1] != ']'))
			end = memrchr(rest, ':', (size_t)(end - rest));
		snprintf(out, outlen, "sftp %.*s", (int)(end - rest), rest);
	} else if (strncmp(src, "dir:", 4) == 0)
		snprintf(out, outlen, "dir %s", src + 4);
	else
		snprintf(out, outlen, "%s", src);
}

/* A run's status for a table: "Failed (12 times)", "Success (dry run)". */
static void
status_text(const struct run *r, char *out, size_t outlen)
{
	if (r->failures > 1)
		snprintf(out, outlen, "%s (%lld times)",
		    runstatus_label(r->status), r->failures);
	else
		snprintf(out, outlen, "%s%s", runstatus_label(r->status),
		    r->dry_run ? " (dry run)" : "");
}

static int
on_hist_run(void *arg, const struct run *r)
{
	struct hist	*h = arg;
	char		 t[64], status[64], n[7][24], src[512];
	const char	*cell[NHIST_COLS];
	long long	 v[5];
	int		 i;

	if (h->json) {
		if (h->n++)
			buf_addc(&h->out, ',');
		run_json(&h->out, r);
		return 0;
	}
	time_local(r->started, t, sizeof(t));
	status_text(r, status, sizeof(status));
	v[0] = r->count[IT_CREATE];
	v[1] = r->count[IT_UPDATE];
	v[2] = r->count[IT_DELETE];
	v[3] = r->count[IT_MANAGER];
	v[4] = r->issues[ISS_USER_SKIPPED] + r->issues[ISS_MANAGER_NOT_FOUND] +
	    r->issues[ISS_MANAGER_CYCLE] + r->issues[ISS_SEAT_LIMIT];
	snprintf(n[0], sizeof(n[0]), "%lld", r->id);
	for (i = 0; i < 5; i++)
		snprintf(n[i + 1], sizeof(n[i + 1]), "%lld", v[i]);
	source_text(r->source, src, sizeof(src));
	cell[0] = n[0];
	cell[1] = t;
	cell[2] = r->sync;
	cell[3] = src;
	cell[4] = r->trigger;
	cell[5] = status;
	cell[6] = r->file_name ? r->file_name : "-";
	for (i = 0; i < 5; i++)
		cell[7 + i] = n[i + 1];
	table_row(hist_cols, NHIST_COLS, cell);
	return 0;
}

/*
 * A bound of --since or --until. A bare date given to --until includes
 * that day: "--since 2024-01-10 --until 2024-01-10" is the runs of the
 * 10th.
 */
int
parse_when(const char *s, time_t *out, int until)
{
	if ((*out = time_parse_iso(s)) == (time_t)-1) {
		log_warnx("'%s' is not a date (YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM[:SS], UTC)", s);
		return -1;
	}
	if (until && strchr(s, 'T') == NULL && strchr(s, ' ') == NULL)
		*out += 86400;
	return 0;
}

static int
add_status(struct runfilter *f, const char *s)
{
	int	 k = runstatus_parse(s);
	size_t	 len = strlen(f->statuses);

	if (k < 0) {
		log_warnx("unknown status '%s' (for example: success, "
		    "needs_attention, data_load_failed, above_threshold, "
		    "above_update_threshold, failed)", s);
		return -1;
	}
	snprintf(f->statuses + len, sizeof(f->statuses) - len, "%s%s,",
	    len ? "" : ",", runstatus_slug(k));
	return 0;
}

static int
parse_last(const char *s, time_t *since)
{
	long long	 n;
	char		*num = xstrdup(s);
	size_t		 len = strlen(num);
	int		 rc = -1;

	if (len > 1 && (num[len - 1] == 'd' || num[len - 1] == 'D')) {
		num[len - 1] = '\0';
		if (parse_ll(num, 1, 36500, &n) == 0) {
			*since = time(NULL) - (time_t)n * 86400;
			rc = 0;
		}
	}
	if (rc == -1)
		log_warnx("--last takes a number of days such as 7d or 30d, "
		    "not '%s'", s);
	free(num);
	return rc;
}

static int
hist_options(int argc, char **argv, struct runfilter *f, long long *page,
    int *json)
{
	static const struct option lo[] = {
		{ "sync", required_argument, NULL, 's' },
		{ "source", required_argument, NULL, 'r' },
		{ "status", required_argument, NULL, 'S' },
		{ "since", required_argument, NULL, 'a' },
		{ "until", required_argument, NULL, 'b' },
		{ "last", required_argument, NULL, 'l' },
		{ "oldest", no_argument, NULL, 'o' },
		{ "page", required_argument, NULL, 'p' },
		{ "per-page", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int	 c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': f->sync = optarg; break;
		case 'r': f->source = optarg; break;
		case 'S': if (add_status(f, optarg) == -1) return -1; break;
		case 'a': if (parse_when(optarg, &f->since, 0)) return -1; break;
		case 'b': if (parse_when(optarg, &f->until, 1)) return -1; break;
		case 'l': if (parse_last(optarg, &f->since)) return -1; break;
		case 'o': f->oldest = 1; break;
		case 'j': *json = 1; break;
		case 'p':
		case 'n':
			if (page_option(c, optarg, page, &f->limit) == -1)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int
cmd_history(struct config *cfg, int argc, char **argv)
{
	struct runfilter f;
	struct hist	 h;
	struct store	*st;
	long long	 page = 1, total;

	memset(&f, 0, sizeof(f));
	memset(&h, 0, sizeof(h));
	f.since = f.until = (time_t)-1;
	f.limit = PAGE_DEFAULT;
	if (hist_options(argc, argv, &f, &page, &h.json) == -1)
		return EXIT_USAGE;
	if (no_database(cfg)) {
		if (h.json)
			printf("{\"runs\":[],\"total\":0,\"first\":0,"
			    "\"last\":0,\"page\":%lld,\"per_page\":%lld}\n",
			    page, f.limit);
		else
			printf("0 results (nothing has run yet: no database at "
			    "%s)\n", cfg->database);
		return EXIT_OK;
	}
	if ((st = view_open(cfg)) == NULL)
		return EXIT_FAIL;
	f.offset = (page - 1) * f.limit;
	total = store_run_count(st, &f);
	if (h.json)
		buf_adds(&h.out, "{\"runs\":[");
	else
		table_head(hist_cols, NHIST_COLS);
	store_run_list(st, &f, on_hist_run, &h);
	page_footer(h.json, &h.out, total, f.offset, f.limit, page);
	buf_free(&h.out);
	store_close(st);
	return EXIT_OK;
}

/* --------------------------------------------------------------- show */

static void
on_show_pair(void *arg, const char *label, const char *value)
{
	(void)arg;
	if (value[0] != '\0')
		text_printf("  %-32s %s\n", label, value);
}

static void
hint(struct buf *h, int json, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
hint(struct buf *h, int json, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	if (json) {
		if (h->len > 1)
			buf_addc(h, ',');
		json_str(h, s, strlen(s));
	} else
		buf_printf(h, "  - %s\n", s);
	free(s);
}

/*
 * s in single quotes for a shell, each ' as '\'': a file name comes from
 * the drop-zone and must not turn a copied command into another one.
 */
static void
shell_quote(struct buf *b, const char *s)
{
	buf_addc(b, '\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addc(b, *s);
	}
	buf_addc(b, '\'');
}

/* Where archive_input() (run.c) keeps a run's input: DIR/SYNC/RUN-NAME. */
static void
input_path(struct buf *b, struct config *cfg, const struct run *r,
    const char *dir)
{
	buf_printf(b, "%s/%s/%s/%lld-%s", cfg->spool, dir, r->sync, r->id,
	    r->file_name ? r->file_name : "");
}

/*
 * The run held by a threshold: why, and the command that lets its file
 * through once (the overrides each threshold that tripped needs).
 */
static void
hints_above(struct config *cfg, struct store *st, const struct run *r,
    struct buf *h, int json)
{
	struct buf	 p = { 0 }, q = { 0 }, most = { 0 }, cmd = { 0 };
	long long	 changed = 0;

	if (r->tripped & TRIP_DELETES) {
		hint(h, json, "%lld deletions of %lld active users exceed the "
		    "threshold (%lld users or %g%%). Nothing was deleted.",
		    r->count[IT_DELETE], r->active_before, r->max_deletes,
		    r->max_delete_percent);
		buf_printf(&cmd, " --allow-deletes %lld", r->count[IT_DELETE]);
	}
	if ((r->tripped & TRIP_UPDATES) &&
	    (changed = store_run_changed_fields(st, r->id, &most)) >= 0) {
		hint(h, json, "%lld of %lld active users would have existing "
		    "values changed, more than the update threshold (%g%%): "
		    "%s. Nothing was changed. A file read in the wrong "
		    "encoding or a shifted column looks like this: check the "
		    "changes (rostersync items %lld --type update).", changed,
		    r->active_before, r->max_update_percent, most.p ?
		    most.p : "", r->id);
		buf_printf(&cmd, " --allow-updates %lld", changed);
	}
	if (r->dry_run) {
		/* A dry run's input stays where it was named. */
		hint(h, json, "This was a dry run. If the changes are right, "
		    "apply the file once: rostersync run --sync %s --file PATH"
		    "%s --reason WHY (PATH: the %s given to --dry-run --file)",
		    r->sync, cmd.p ? cmd.p : "", r->file_name ? r->file_name :
		    "file");
	} else {
		input_path(&p, cfg, r, "archive");
		shell_quote(&q, p.p);
		hint(h, json, "If the changes are right, push this file "
		    "through once: rostersync run --sync %s --file %s%s "
		    "--reason 'WHY (recorded with your name)'", r->sync, q.p,
		    cmd.p ? cmd.p : "");
	}
	buf_free(&p);
	buf_free(&q);
	buf_free(&most);
	buf_free(&cmd);
}

/* Items the hook failed, and items done by hand. */
static void
failed_hints(const struct run *r, struct buf *h, int json)
{
	long long	 failed = 0;
	int		 i;

	for (i = 0; r->have_outcome && i < IT__COUNT; i++)
		failed += r->failed[i];
	if (failed > 0)
		hint(h, json, "%lld item%s failed in the apply hook: rostersync "
		    "items %lld --status failed lists them with the error; once "
		    "the cause is fixed, rostersync retry %lld runs them again, "
		    "or rostersync confirm %lld:ITEM --reason TEXT marks one "
		    "done by hand.", failed, failed == 1 ? "" : "s", r->id,
		    r->id, r->id);
	if (r->confirmed > 0)
		hint(h, json, "%lld item%s confirmed as done by hand: rostersync "
		    "items %lld --status confirmed shows who, when and why.",
		    r->confirmed, r->confirmed == 1 ? " was" : "s were",
		    r->id);
}

/* What a sysadmin should do next, by outcome. */
static void
hints(struct config *cfg, struct store *st, const struct run *r,
    struct buf *h, int json)
{
	long long issues = r->issues[ISS_USER_SKIPPED] +
	    r->issues[ISS_MANAGER_NOT_FOUND] + r->issues[ISS_MANAGER_CYCLE] +
	    r->issues[ISS_SEAT_LIMIT] + r->issues[ISS_ID_CHANGED];
	struct buf	 p = { 0 };

	if (r->encoding_note != NULL)
		hint(h, json, "The file was %s. If names look wrong in the "
		    "report, set the sync's encoding to the one HR's export "
		    "has.", r->encoding_note);
	switch (r->status) {
	case RS_LOADFAIL:
		input_path(&p, cfg, r, "failed");
		hint(h, json, "The file could not be loaded: %s. Nothing was "
		    "applied. Once the cause is fixed (by HR in the export, or "
		    "in the configuration), drop the file again: the same file "
		    "dropped again runs%s%s.",
		    r->error ? r->error : "", r->dry_run ? "" :
		    "; the file is kept as ", r->dry_run ? "" : p.p);
		break;
	case RS_THRESHOLD:
	case RS_UPD_THRESHOLD:
		hints_above(cfg, st, r, h, json);
		break;
	case RS_PENDING:
		hint(h, json, "The run waits for approval: rostersync approve "
		    "%lld, or rostersync reject %lld.", r->id, r->id);
		break;
	case RS_FAILED:
		if (r->failures > 0)
			hint(h, json, "The source could not be read: %s.%s%s "
			    "Nothing was fetched; every run tries again, and "
			    "this run counts the failures until one succeeds.",
			    r->error ? r->error : "unknown", r->hint ? " " : "",
			    r->hint ? r->hint : "");
		else
			hint(h, json, "System error: %s. The input stays queued "
			    "and runs again at the next run.", r->error ?
			    r->error : "unknown");
		break;
	default:
		break;
	}
	failed_hints(r, h, json);
	if (issues > 0)
		hint(h, json, "%lld issues (%lld rows skipped): rostersync "
		    "items %lld --issue TYPE lists them with a suggested fix.",
		    issues, r->skipped, r->id);
	if (r->issues[ISS_ID_CHANGED] > 0) {
		buf_reset(&p);
		input_path(&p, cfg, r, "archive");
		hint(h, json, "%lld people seem to have a new employee id "
		    "(the same email on a deleted id and a new one): neither "
		    "change was applied. If a spreadsheet retyped the id "
		    "column, export it again with the ids as text; if the ids "
		    "really changed, apply them once: rostersync run --sync %s "
		    "--file '%s' --allow-id-changes %lld --reason 'WHY'.",
		    r->issues[ISS_ID_CHANGED], r->sync, p.p,
		    r->issues[ISS_ID_CHANGED]);
	}
	if (report_due(r->status, RF_CSV))
		hint(h, json, "Report: %s/reports/%s/%s.csv (and .xlsx, .log)",
		    cfg->spool, r->sync, r->report_base ? r->report_base : "");
	if (r->preview_base != NULL)
		hint(h, json, "The preview it was approved on: %s/reports/%s/"
		    "%s.csv (and .xlsx, .log)", cfg->spool, r->sync,
		    r->preview_base);
	buf_free(&p);
}

int
cmd_show(struct config *cfg, int argc, char **argv)
{
	struct store	*st;
	struct run	 r;
	struct buf	 b = { 0 }, h = { 0 };
	int		 json = 0, rc, i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
	if (argc < 2 || (argc > 2 && !json) || argc > 3) {
		log_warnx("usage: rostersync show RUN [--json]");
		return EXIT_USAGE;
	}
	if ((st = view_open(cfg)) == NULL)
		return EXIT_FAIL;
	if ((rc = load_run(st, strcmp(argv[1], "--json") ? argv[1] : argv[2],
	    &r)) != 0) {
		store_close(st);
		return rc;
	}
	if (store_run_outcome(st, &r) == -1)
		log_warnx("cannot count the items of run %lld: %s", r.id,
		    store_errmsg(st));
	if (json) {
		buf_addc(&h, '[');
		hints(cfg, st, &r, &h, 1);
		buf_addc(&h, ']');
		run_json(&b, &r);
		b.len--;
		buf_printf(&b, ",\"hints\":%s}\n", h.p);
		fputs(b.p, stdout);
	} else {
		printf("Run %lld: %s\n\n", r.id, runstatus_label(r.status));
		report_summary(&r, on_show_pair, NULL);
		hints(cfg, st, &r, &h, 0);
		if (h.len)
			text_printf("\nWhat to do\n%s", h.p);
	}
	buf_free(&b);
	buf_free(&h);
	run_free(&r);
	store_close(st);
	return EXIT_OK;
}

/* -------------------------------------------------------------- items */

struct itemq {
	unsigned	 types;		/* 1 << enum itemtype; 0 all */
	unsigned	 statuses;	/* 1 << enum itemstatus; 0 all */
	int		 issue;		/* -1 all */
	int		 want_items;
	int		 want_issues;
	const char	*user;
	long long	 item;		/* --item N: one item in full */
	int		 json;
	struct buf	 out;
	long long	 last_seq;
	long long	 n;
};

static int
match_user(const struct itemq *q, const char *a, const char *b,
    const char *c)
{
	if (q->user == NULL)
		return 1;
	return (a && strcasestr(a, q->user)) || (b && strcasestr(b, q->user))
	    || (c && strcasestr(c, q->user));
}

/* The changes, one row per (item, field); the key and email in full:
 * they identify the user. */
static const struct tcol item_cols[] = {
	{ "ITEM", 5, TC_RIGHT }, { "TYPE", 24, 0 },
	{ "EMPLOYEE ID", 11, TC_FULL }, { "EMAIL", 28, TC_FULL },
	{ "NAME", 18, 0 }, { "FIELD", 16, 0 }, { "OLD VALUE", 20, 0 },
	{ "", 2, 0 }, { "NEW VALUE", 20, 0 }, { "STATUS", 9, 0 },
};
#define NITEM_COLS	(sizeof(item_cols) / sizeof(item_cols[0]))

static const struct tcol issue_cols[] = {
	{ "ISSUE", 5, TC_RIGHT }, { "TYPE", 30, 0 }, { "ROW", 7, TC_RIGHT },
	{ "EMPLOYEE ID", 11, TC_FULL }, { "EMAIL", 28, TC_FULL },
	{ "NAME", 18, 0 }, { "FIELD", 14, 0 },
	{ "MESSAGE AND SUGGESTED FIX", 0, TC_FULL },
};
#define NISSUE_COLS	(sizeof(issue_cols) / sizeof(issue_cols[0]))

static void
item_text(const struct itemview *v)
{
	const char	*cell[NITEM_COLS];
	char		 seq[24];

	snprintf(seq, sizeof(seq), "%lld", v->seq);
	cell[0] = seq;
	cell[1] = itemtype_label(v->type);
	cell[2] = v->key;
	cell[3] = v->email;
	cell[4] = v->type == IT_TEAM_CREATE || v->type == IT_TEAM_DELETE ?
	    v->team : v->name;
	cell[5] = v->field ? v->field : "";
	cell[6] = v->field ? v->old : "";
	cell[7] = v->field ? "->" : "";
	cell[8] = v->field ? v->new : "";
	cell[9] = itemstatus_slug(v->status);
	table_row(item_cols, NITEM_COLS, cell);
}

static void
issue_text(const struct issueview *v)
{
	const char	*cell[NISSUE_COLS];
	char		 seq[24], row[24], *msg;

	snprintf(seq, sizeof(seq), "%lld", v->seq);
	snprintf(row, sizeof(row), "%lld", v->row);
	xasprintf(&msg, "%s (fix: %s)", v->message, v->fix);
	cell[0] = seq;
	cell[1] = issuetype_label(v->type);
	cell[2] = row;
	cell[3] = v->key;
	cell[4] = v->email;
	cell[5] = v->name;
	cell[6] = v->field;
	cell[7] = msg;
	table_row(issue_cols, NISSUE_COLS, cell);
	free(msg);
}

static int
on_item_row(void *arg, const struct itemview *v)
{
	struct itemq	*q = arg;

	if ((q->types != 0 && !(q->types & (1U << v->type))) ||
	    (q->statuses != 0 && !(q->statuses & (1U << v->status))) ||
	    !match_user(q, v->key, v->email, v->name))
		return 0;
	if (!q->json) {
		item_text(v);
		return 0;
	}
	if (v->seq != q->last_seq) {
		if (q->n++)
			buf_adds(&q->out, "]},");
		buf_printf(&q->out, "{\"seq\":%lld", v->seq);
		json_kv(&q->out, "type", itemtype_slug(v->type));
		json_kv(&q->out, "status", itemstatus_slug(v->status));
		json_kv(&q->out, "employee_id", v->key);
		json_kv(&q->out, "email", v->email);
		json_kv(&q->out, "name", v->name);
		json_kv(&q->out, "team", v->team);
		json_kv(&q->out, "error", v->error);
		buf_adds(&q->out, ",\"changes\":[");
		q->last_seq = v->seq;
	} else
		buf_addc(&q->out, ',');
	if (v->field != NULL) {
		buf_addc(&q->out, '{');
		json_kv(&q->out, "field", v->field);
		json_kv(&q->out, "old", v->old);
		json_kv(&q->out, "new", v->new);
		buf_addc(&q->out, '}');
	} else if (q->out.p[q->out.len - 1] == ',')
		q->out.p[--q->out.len] = '\0';
	return 0;
}

static int
on_issue_row(void *arg, const struct issueview *v)
{
	struct itemq	*q = arg;

	if ((q->issue >= 0 && v->type != q->issue) ||
	    !match_user(q, v->key, NULL, NULL))
		return 0;
	if (!q->json) {
		issue_text(v);
		return 0;
	}
	if (q->n++)
		buf_addc(&q->out, ',');
	buf_printf(&q->out, "{\"seq\":%lld", v->seq);
	json_kv(&q->out, "type", issuetype_slug(v->type));
	buf_printf(&q->out, ",\"row\":%lld", v->row);
	json_kv(&q->out, "employee_id", v->key[0] ? v->key : NULL);
	json_kv(&q->out, "field", v->field[0] ? v->field : NULL);
	json_kv(&q->out, "message", v->message);
	json_kv(&q->out, "fix", v->fix);
	json_kv(&q->out, "email", v->email[0] ? v->email : NULL);
	json_kv(&q->out, "name", v->name[0] ? v->name : NULL);
	buf_addc(&q->out, '}');
	return 0;
}

/*
 * The item types --type names, as a mask: one type, or a data type of
 * the reports: users (create, update, manager, delete) or teams
 * (team_create, team_delete, team_member). 0 if none.
 */
static int
item_types(const char *s)
{
	int	 t;

	if (strcasecmp(s, "users") == 0)
		return 1 << IT_CREATE | 1 << IT_UPDATE | 1 << IT_MANAGER |
		    1 << IT_DELETE;
	if (strcasecmp(s, "teams") == 0)
		return 1 << IT_TEAM_CREATE | 1 << IT_TEAM_DELETE |
		    1 << IT_TEAM_MEMBER;
	return (t = itemtype_parse(s)) < 0 ? 0 : 1 << t;
}

static int
items_options(int argc, char **argv, struct itemq *q, const char **run)
{
	static const struct option lo[] = {
		{ "type", required_argument, NULL, 't' },
		{ "issue", required_argument, NULL, 'i' },
		{ "user", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "item", required_argument, NULL, 'n' },
		{ "status", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	int	 c, k;

	q->issue = -1;
	q->want_items = q->want_issues = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if ((k = item_types(optarg)) == 0) {
				log_warnx("unknown item type '%s' (users: create, "
				    "update, manager, delete; teams: team_create, "
				    "team_delete, team_member)", optarg);
				return -1;
			}
			q->types |= (unsigned)k;
			q->want_issues = 0;
			break;
		case 'i':
			if ((q->issue = issuetype_parse(optarg)) < 0) {
				log_warnx("unknown issue type '%s' "
				    "(user_skipped, manager_not_found, "
				    "manager_cycle, seat_limit_reached)",
				    optarg);
				return -1;
			}
			q->want_items = 0;
			break;
		case 's':
			if ((k = itemstatus_parse(optarg)) < 0) {
				log_warnx("unknown item status '%s' (applied, "
				    "failed, pending, held, preview, confirmed)",
				    optarg);
				return -1;
			}
			/* Applied means done: by the hook or by hand. */
			q->statuses |= 1U << k | (k == IST_APPLIED ?
			    1U << IST_CONFIRMED : 0);
			q->want_issues = 0;
			break;
		case 'u': q->user = optarg; break;
		case 'j': q->json = 1; break;
		case 'n':
			if (parse_ll(optarg, 1, INT64_MAX, &q->item) == -1)
				return -1;
			break;
		default: return -1;
		}
	}
	if (optind + 1 != argc)
		return -1;
	*run = argv[optind];
	return 0;
}

static void
on_attempt(void *arg, int n, time_t started, int exit_status,
    const char *response, const char *error)
{
	struct itemq	*q = arg;
	char		 t[64];

	if (q->json) {
		if (q->n++)
			buf_addc(&q->out, ',');
		time_iso(started, t);
		buf_printf(&q->out, "{\"attempt\":%d", n);
		json_kv(&q->out, "started", t);
		if (exit_status >= 0)
			buf_printf(&q->out, ",\"exit_status\":%d", exit_status);
		else
			buf_adds(&q->out, ",\"exit_status\":null");
		json_kv(&q->out, "response", response);
		json_kv(&q->out, "stderr", error);
		buf_addc(&q->out, '}');
		return;
	}
	time_local(started, t, sizeof(t));
	text_printf("\nAttempt %d at %s: %s\n", n, t, exit_status < 0 ?
	    "did not finish" : exit_status == 0 ? "exit 0 (applied)" : "failed");
	if (exit_status > 0)
		printf("  exit status %d\n", exit_status);
	if (response[0])
		text_printf("  response: %s\n", response);
	if (error[0])
		text_printf("  stderr: %s\n", error);
}

/* items RUN --item N: the item, the payload the hook got, its answers. */
static int
show_item(struct store *st, const struct run *r, struct itemq *q)
{
	struct itemfull	 it;

	if (store_item_get(st, r->id, q->item, &it) != 0) {
		log_warnx("run %lld has no item %lld", r->id, q->item);
		return EXIT_FAIL;
	}
	if (q->json) {
		buf_printf(&q->out, "{\"run\":%lld,\"seq\":%lld", r->id, it.seq);
		json_kv(&q->out, "type", itemtype_slug(it.type));
		json_kv(&q->out, "status", itemstatus_slug(it.status));
		json_kv(&q->out, "employee_id", it.key);
		json_kv(&q->out, "error", it.error[0] ? it.error : NULL);
		buf_printf(&q->out, ",\"resolved_by\":%lld,\"payload\":%s,"
		    "\"attempts\":[", it.resolved_by, it.payload[0] ?
		    it.payload : "null");
		store_attempt_each(st, r->id, it.seq, on_attempt, q);
		buf_adds(&q->out, "]}\n");
		fputs(q->out.p, stdout);
	} else {
		text_printf("Item %lld:%lld  %s  %s  %s\n", r->id, it.seq,
		    itemtype_label(it.type), it.key, itemstatus_slug(it.status));
		if (it.error[0])
			text_printf("  error: %s\n", it.error);
		if (it.resolved_by > 0)
			printf("  resolved by run %lld\n", it.resolved_by);
		text_printf("\nPayload\n  %s\n", it.payload[0] ? it.payload :
		    "(none: this sync has no apply hook)");
		store_attempt_each(st, r->id, it.seq, on_attempt, q);
	}
	itemfull_free(&it);
	return EXIT_OK;
}

int
cmd_items(struct config *cfg, int argc, char **argv)
{
	struct itemq	 q;
	struct store	*st;
	struct run	 r;
	const char	*arg;
	int		 rc;

	memset(&q, 0, sizeof(q));
	if (items_options(argc, argv, &q, &arg) == -1) {
		log_warnx("usage: rostersync items RUN [--type T|users|teams] "
		    "[--status ST] [--issue T] [--user TEXT] [--item N] "
		    "[--json]");
		return EXIT_USAGE;
	}
	if ((st = view_open(cfg)) == NULL)
		return EXIT_FAIL;
	if ((rc = load_run(st, arg, &r)) != 0) {
		store_close(st);
		return rc;
	}
	if (q.item > 0) {
		rc = show_item(st, &r, &q);
		buf_free(&q.out);
		run_free(&r);
		store_close(st);
		return rc;
	}
	if (q.json)
		buf_printf(&q.out, "{\"run\":%lld,\"items\":[", r.id);
	else if (q.want_items) {
		printf("Changes of run %lld\n", r.id);
		table_head(item_cols, NITEM_COLS);
	}
	if (q.want_items)
		store_item_each(st, r.id, on_item_row, &q);
	if (q.json) {
		buf_adds(&q.out, q.n ? "]}],\"issues\":[" : "],\"issues\":[");
		q.n = 0;
	} else if (q.want_issues) {
		printf("%sIssues of run %lld\n", q.want_items ? "\n" : "",
		    r.id);
		table_head(issue_cols, NISSUE_COLS);
	}
	if (q.want_issues)
		store_issue_each(st, r.id, on_issue_row, &q);
	if (q.json) {
		buf_adds(&q.out, "]}\n");
		fputs(q.out.p, stdout);
	}
	buf_free(&q.out);
	run_free(&r);
	store_close(st);
	return EXIT_OK;
}

/* ------------------------------------------------------------- report */

int
cmd_report(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	struct store	*st;
	struct run	 r;
	enum rfmt	 fmt = RF_CSV;
	const char	*out = NULL;
	char		*def = NULL;
	int		 c, rc;

	memset(&r, 0, sizeof(r));
	while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'f' && strcmp(optarg, "csv") == 0)
			fmt = RF_CSV;
		else if (c == 'f' && strcmp(optarg, "xlsx") == 0)
			fmt = RF_XLSX;
		else if (c == 'f' && strcmp(optarg, "log") == 0)
			fmt = RF_LOG;
		else {
			log_warnx("usage: rostersync report RUN "
			    "[--format csv|xlsx|log] [-o PATH]");
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		log_warnx("usage: rostersync report RUN [--format csv|xlsx|log]"
		    " [-o PATH]");
		return EXIT_USAGE;
	}
	if ((st = view_open(cfg)) == NULL)
		return EXIT_FAIL;
	if ((rc = load_run(st, argv[optind], &r)) != 0)
		goto out;
	rc = EXIT_FAIL;
	if (store_run_outcome(st, &r) == -1) {
		log_warnx("cannot count the items of run %lld: %s", r.id,
		    store_errmsg(st));
		goto out;
	}
	if (!report_available(&r, fmt)) {
		log_warnx("run %lld is %s: it has no %s report (only its run "
		    "log: --format log)", r.id, runstatus_label(r.status),
		    fmt == RF_XLSX ? "XLSX" : "CSV");
		goto out;
	}
	if (out == NULL && fmt == RF_XLSX) {
		xasprintf(&def, "%s.xlsx", r.report_base ? r.report_base :
		    "report");
		out = def;
	} else if (out == NULL)
		out = "-";
	if (report_write_one(st, &r, fmt, out) == -1)
		log_warn("cannot write %s", out);
	else {
		if (strcmp(out, "-") != 0)
			printf("%s\n", out);
		rc = EXIT_OK;
	}
out:
	run_free(&r);
	free(def);
	store_close(st);
	return rc;
}
