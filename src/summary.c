/*
 * What every report says of a run, in every format (report_csv.c,
 * report_xlsx.c, runlog.c) and in `show`: the summary's label and value
 * pairs, which cells a spreadsheet would take for formulas, and where a
 * report's items and issues come from when the run is stored. report.c
 * (the table of formats, the files) and the writers call it; it calls
 * neither.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rostersync.h"

const char *
report_kind(enum runstatus s)
{
	switch (s) {
	case RS_LOADFAIL:
		return "Error log";
	case RS_FAILED:
		return "Run log (the run failed; nothing applied)";
	case RS_THRESHOLD:
	case RS_UPD_THRESHOLD:
	case RS_PENDING:
	case RS_REJECTED:
	case RS_CANCELLED:
		return "Preview report (nothing applied)";
	default:
		return "Result report";
	}
}

void
time_local(time_t t, char *out, size_t outlen)
{
	struct tm	 tm;

	if (t == 0) {
		snprintf(out, outlen, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

int
cell_is_formula(const char *s)
{
	return s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
	    s[0] == '\t' || s[0] == '\r';
}

static void
pair(void (*fn)(void *, const char *, const char *), void *arg,
    const char *label, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
pair(void (*fn)(void *, const char *, const char *), void *arg,
    const char *label, const char *fmt, ...)
{
	va_list	 ap;
	char	 v[1024];

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	fn(arg, label, v);
}

/* Per type, the items applied and failed; "" for a type with none. */
static void
summary_outcome(const struct run *r,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	char	 label[64];
	int	 i, k;

	for (i = 0; i < IT__COUNT; i++)
		for (k = 0; k < 2; k++) {
			snprintf(label, sizeof(label), "%s: %s",
			    itemtype_label(i), k ? "failed" : "applied");
			if (!r->have_outcome || r->count[i] == 0)
				fn(arg, label, "");
			else
				pair(fn, arg, label, "%lld", k ? r->failed[i] :
				    r->applied[i]);
		}
}

/* Who decided what about the run, when and why. */
static void
summary_decision(const struct run *r,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	struct buf	 b = { 0 };
	char		 t[64];

	if (r->decision != DEC_NONE) {
		buf_adds(&b, decision_label(r->decision));
		if (r->decision == DEC_OVERRIDE) {
			buf_adds(&b, " (");
			override_describe(r, &b);
			buf_adds(&b, ")");
		}
	}
	pair(fn, arg, "Decision", "%s", b.p ? b.p : "");
	pair(fn, arg, "Decided by", "%s", r->approver ? r->approver :
	    r->decision == DEC_SUPERSEDE ? "rostersync" : "");
	time_local(r->decided_at, t, sizeof(t));
	pair(fn, arg, "Decided at", "%s", r->decided_at ? t : "");
	pair(fn, arg, "Reason", "%s", r->reason ? r->reason : "");
	buf_free(&b);
}

/* A failure: how often in a row, and what to do. */
static void
summary_failure(const struct run *r,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	char	 a[64], b[64], c[64];

	time_local(r->started, a, sizeof(a));
	time_local(r->finished, b, sizeof(b));
	time_local(r->recovered_at, c, sizeof(c));
	if (r->failures > 1)
		pair(fn, arg, "Failed", "%lld times in a row, since %s, last "
		    "at %s%s%s", r->failures, a, b, r->recovered_at ? "; the "
		    "source answered again at " : "", r->recovered_at ? c : "");
	else if (r->failures > 0 && r->recovered_at)
		pair(fn, arg, "Failed", "once; the source answered again at %s",
		    c);
	else
		fn(arg, "Failed", "");
	pair(fn, arg, "What to do", "%s", r->hint ? r->hint : "");
}

void
report_summary(const struct run *r,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	char	 t[64];
	int	 i;

	pair(fn, arg, "Report", "%s", report_kind(r->status));
	pair(fn, arg, "Status", "%s", runstatus_label(r->status));
	pair(fn, arg, "Run", "%lld", r->id);
	pair(fn, arg, "Sync", "%s", r->sync);
	pair(fn, arg, "Trigger", "%s", r->trigger);
	pair(fn, arg, "Data source", "%s", r->source ? r->source : "");
	pair(fn, arg, "File name", "%s", r->file_name ? r->file_name :
	    r->failures > 0 ? "none: the source could not be read" : "");
	pair(fn, arg, "SHA-256", "%s", r->sha256);
	pair(fn, arg, "File size (bytes)", "%lld", r->size);
	pair(fn, arg, "Rows read", "%lld", r->rows);
	if (r->encoding != NULL)
		pair(fn, arg, "Encoding", "%s%s%s", r->encoding,
		    r->encoding_note ? ": " : "", r->encoding_note ?
		    r->encoding_note : "");
	time_local(r->started, t, sizeof(t));
	pair(fn, arg, "Started", "%s", t);
	time_local(r->finished, t, sizeof(t));
	pair(fn, arg, "Finished", "%s", t);
	pair(fn, arg, "Time zone", "%s", getenv("TZ") ? getenv("TZ") : "UTC");
	pair(fn, arg, "Duration (s)", "%.3f", (double)r->duration_ms / 1000);
	for (i = 0; i < IT__COUNT; i++)
		pair(fn, arg, itemtype_label(i), "%lld", r->count[i]);
	summary_outcome(r, fn, arg);
	for (i = 0; i < ISS__COUNT; i++)
		pair(fn, arg, issuetype_label(i), "%lld", r->issues[i]);
	pair(fn, arg, "Impacted users", "%lld", r->impacted);
	pair(fn, arg, "Rows skipped", "%lld", r->skipped);
	pair(fn, arg, "Active users before", "%lld", r->active_before);
	pair(fn, arg, "Threshold: max deletes", "%lld", r->max_deletes);
	pair(fn, arg, "Threshold: max delete percent", "%g",
	    r->max_delete_percent);
	pair(fn, arg, "Threshold: max update percent", "%g",
	    r->max_update_percent);
	pair(fn, arg, "Threshold tripped", "%s",
	    r->tripped == (TRIP_DELETES | TRIP_UPDATES) ? "deletions, updates" :
	    r->tripped == TRIP_DELETES ? "deletions" :
	    r->tripped == TRIP_UPDATES ? "updates" : "no");
	if (r->allow_deletes >= 0)
		pair(fn, arg, "One-time --allow-deletes", "%lld",
		    r->allow_deletes);
	if (r->allow_updates >= 0)
		pair(fn, arg, "One-time --allow-updates", "%lld",
		    r->allow_updates);
	if (r->allow_id_changes >= 0)
		pair(fn, arg, "One-time --allow-id-changes", "%lld",
		    r->allow_id_changes);
	pair(fn, arg, "Dry run", "%s", r->dry_run ? "yes" : "no");
	summary_decision(r, fn, arg);
	pair(fn, arg, "Error", "%s", r->error ? r->error : "");
	summary_failure(r, fn, arg);
}

static int
store_items(void *arg, int (*fn)(void *, const struct itemview *), void *a)
{
	struct storesrc	*s = arg;

	return store_item_each(s->st, s->run, fn, a);
}

static int
store_issues(void *arg, int (*fn)(void *, const struct issueview *), void *a)
{
	struct storesrc	*s = arg;

	return store_issue_each(s->st, s->run, fn, a);
}

static const char *
store_why(void *arg)
{
	return store_errmsg(((struct storesrc *)arg)->st);
}

void
report_store_src(struct store *st, long long run, struct storesrc *ss,
    struct reportsrc *src)
{
	ss->st = st;
	ss->run = run;
	src->items = store_items;
	src->issues = store_issues;
	src->why = store_why;
	src->arg = ss;
}

/*
 * Reports begun before their run is stored: on a thread of its own, while
 * the transaction runs, the XLSX rows and the CSV rows (into a file with
 * no name, copied in after the summary) from memory, then the workbook
 * zipped but for its summary. Once the run is stored, report_write_all()
 * gives it the run: the thread puts the summary in the spreadsheet while
 * the CSV file is put together here.
 */
