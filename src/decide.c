/*
 * What people decide about runs and items: approve or reject a held run,
 * cancel one, retry the items the hook failed, confirm an item done by
 * hand. Each decision records who, when and why, appends to the run log
 * and rewrites the run's reports.
 */
#include <getopt.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"


/* RUN [--reason TEXT]; 0 or an exit status. */
static int
decision_args(int argc, char **argv, long long *id, const char **reason,
    const char *usage)
{
	static const struct option lo[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	int	 c;

	*reason = NULL;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'r')
			goto bad;
		*reason = optarg;
	}
	if (optind + 1 == argc && parse_ll(argv[optind], 1, INT64_MAX, id) == 0)
		return 0;
bad:
	log_warnx("usage: rostersync %s", usage);
	return EXIT_USAGE;
}

struct decider {
	struct store	*st;
	int		 lock;
};

static int
open_rw(struct config *cfg, struct decider *d)
{
	char	 err[MAX_ERRMSG];

	if ((d->lock = spool_lock(cfg, cfg->lock_wait)) < 0)
		return d->lock == -2 ? EXIT_BUSY : EXIT_FAIL;
	if ((d->st = store_open(cfg->database, 0, err, sizeof(err))) == NULL) {
		log_msg(LOG_ERR, "%s", err);
		close(d->lock);
		return EXIT_FAIL;
	}
	return 0;
}

static void
close_rw(struct decider *d)
{
	store_close(d->st);
	close(d->lock);
}

/* Reports rewritten after a decision go to the drop-zone again. */
static void
publish_rewritten(struct config *cfg, struct store *st, long long run)
{
	struct run	 r;

	if (store_run_get(st, run, &r) != 0)
		return;
	if (!r.dry_run)
		publish_run(cfg, st, config_sync(cfg, r.sync), run);
	run_free(&r);
}

/* One line at the end of the run's log, and the log file rewritten. */
static void
log_note(struct config *cfg, struct store *st, long long run,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
log_note(struct config *cfg, struct store *st, long long run,
    const char *fmt, ...)
{
	struct buf	 b = { 0 };
	char		*old = store_runlog_get(st, run), ts[21], *line;
	va_list		 ap;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	time_iso(time(NULL), ts);
	buf_printf(&b, "%s%s %s\n", old ? old : "", ts, line);
	store_runlog_put(st, run, b.p);
	if (report_write_all(cfg, st, run, NULL) == 0)
		store_run_reports_done(st, run);
	publish_rewritten(cfg, st, run);
	free(old);
	free(line);
	buf_free(&b);
}

int
cmd_approve(struct config *cfg, int argc, char **argv)
{
	struct decider	 d;
	const char	*reason;
	long long	 id;
	int		 rc;

	if ((rc = decision_args(argc, argv, &id, &reason,
	    "approve RUN [--reason TEXT]")) != 0 || (rc = open_rw(cfg, &d)))
		return rc;
	rc = run_approve(cfg, d.st, id, whoami(), reason);
	if (rc == EXIT_OK) {
		log_note(cfg, d.st, id, "approved by %s%s%s and applied",
		    whoami(), reason ? ": " : "", reason ? reason : "");
		printf("run %lld approved and applied\n", id);
	} else if (rc == EXIT_ATTENTION) {
		log_note(cfg, d.st, id, "approved by %s%s%s; items failed in "
		    "the hook: Needs Attention", whoami(), reason ? ": " : "",
		    reason ? reason : "");
		printf("run %lld approved; items failed in the hook, so it "
		    "Needs Attention: rostersync items %lld --status failed\n",
		    id, id);
	}
	close_rw(&d);
	return rc;
}

/* Reject or cancel: a held (or, for cancel, queued) run closes. */
static int
close_run(struct config *cfg, int argc, char **argv, enum runstatus to)
{
	struct decider	 d;
	struct run	 r;
	const char	*reason, *verb = to == RS_REJECTED ? "rejected" :
			    "cancelled";
	long long	 id;
	int		 rc;

	memset(&r, 0, sizeof(r));
	if ((rc = decision_args(argc, argv, &id, &reason, to == RS_REJECTED ?
	    "reject RUN [--reason TEXT]" : "cancel RUN [--reason TEXT]")) ||
	    (rc = open_rw(cfg, &d)))
		return rc;
	rc = EXIT_FAIL;
	if (store_run_get(d.st, id, &r) != 0)
		log_warnx("there is no run %lld", id);
	else if (r.status != RS_PENDING && !runstatus_above(r.status) &&
	    !(to == RS_CANCELLED && r.status == RS_QUEUED))
		log_warnx("run %lld is %s: only a held run (Pending approval, "
		    "Above Deactivation or Update Threshold)%s can be %s", id,
		    runstatus_label(r.status), to == RS_CANCELLED ?
		    " or a Queued one" : "", verb);
	else {
		r.status = to;
		r.decision = to == RS_REJECTED ? DEC_REJECT : DEC_CANCEL;
		free(r.approver);
		free(r.reason);
		r.approver = xstrdup(whoami());
		r.reason = reason ? xstrdup(reason) : NULL;
		r.decided_at = time(NULL);
		if (store_run_update(d.st, &r) == 0 &&
		    store_items_set_status(d.st, id, IST_HELD) == 0) {
			log_note(cfg, d.st, id, "%s by %s%s%s; nothing applied",
			    verb, r.approver, reason ? ": " : "",
			    reason ? reason : "");
			printf("run %lld %s; nothing was applied\n", id, verb);
			rc = EXIT_OK;
		}
	}
	run_free(&r);
	close_rw(&d);
	return rc;
}

int
cmd_reject(struct config *cfg, int argc, char **argv)
{
	return close_run(cfg, argc, argv, RS_REJECTED);
}

int
cmd_cancel(struct config *cfg, int argc, char **argv)
{
	return close_run(cfg, argc, argv, RS_CANCELLED);
}

/* ------------------------------------------------------- retry, confirm */

/*
 * An item named "12:5" or "12 5" (run 12, item 5); with run_alone, "12"
 * alone names the run (item 0).
 */
static int
item_args(int argc, char **argv, long long *run, long long *seq,
    int run_alone)
{
	char	*copy, *colon;
	int	 rc = -1;

	*seq = 0;
	if (argc == 2)
		return parse_ll(argv[0], 1, INT64_MAX, run) == 0 &&
		    parse_ll(argv[1], 1, INT64_MAX, seq) == 0 ? 0 : -1;
	if (argc != 1)
		return -1;
	copy = xstrdup(argv[0]);
	if ((colon = strchr(copy, ':')) != NULL) {
		*colon = '\0';
		if (parse_ll(copy, 1, INT64_MAX, run) == 0 &&
		    parse_ll(colon + 1, 1, INT64_MAX, seq) == 0)
			rc = 0;
	} else if (run_alone && parse_ll(copy, 1, INT64_MAX, run) == 0)
		rc = 0;
	free(copy);
	return rc;
}

static void
retry_start(const struct config *cfg, struct store *st,
    const struct run *orig, struct run *r, long long from)
{
	memset(r, 0, sizeof(*r));
	r->sync = xstrdup(orig->sync);
	r->trigger = xstrdup("retry");
	r->status = RS_IN_PROGRESS;
	r->source = orig->source ? xstrdup(orig->source) : NULL;
	xasprintf(&r->file_name, "retry of run %lld", from);
	snprintf(r->sha256, sizeof(r->sha256), "%s", orig->sha256);
	r->started = time(NULL);
	r->allow_deletes = r->allow_updates = r->allow_id_changes = -1;
	r->parent_run = from;
	r->base_version = store_sync_version(st, orig->sync);
	r->report_base = report_base_new(cfg, st, r->sync, r->started);
}

/* In stream mode: the copies new[0..n-1] of old[] through one program. */
static int
retry_stream(struct store *st, const struct sync *sy, struct run *r,
    long long from, const long long *old, const long long *new, size_t n)
{
	int	*done = xcalloc(n + 1, sizeof(*done));
	int	 failed = hook_stream(st, sy, r->id, new, n, done);
	size_t	 i;

	for (i = 0; failed >= 0 && i < n; i++) {
		if (done[i] == 1)
			store_item_resolve(st, from, old[i], r->id);
		else if (done[i] < 0)
			failed++;	/* not sent: pending in the retry */
	}
	free(done);
	return failed;
}

/* Each failed item once more, as items of the retry run r. */
static int
retry_items(struct store *st, const struct sync *sy, struct run *r,
    long long from, const long long *seqs, size_t n)
{
	struct itemfull	 it;
	size_t		 i, m = 0;
	long long	 by, seq = 0, *old, *new;
	int		 failed = 0, rc = 0;

	old = xcalloc(n + 1, sizeof(*old));
	new = xcalloc(n + 1, sizeof(*new));
	progress_begin("retrying items with the hook", (long long)n);
	for (i = 0; i < n && rc != -1; i++) {
		progress_add(i > 0);
		if ((by = store_item_later_done(st, from, seqs[i])) > 0) {
			store_item_resolve(st, from, seqs[i], by);
			log_info("item %lld:%lld was applied by run %lld since; "
			    "not retried", from, seqs[i], by);
			continue;
		}
		if (store_item_copy(st, from, seqs[i], r->id, ++seq) == -1)
			rc = -1;
		old[m] = seqs[i];
		new[m++] = seq;
		if (rc == 0 && store_item_get(st, r->id, seq, &it) == 0) {
			r->count[it.type]++;
			itemfull_free(&it);
		}
		if (rc == -1 || sy->hook.mode == HOOK_STREAM)
			continue;
		if ((rc = hook_apply_item(st, sy, r->id, seq)) == 0)
			store_item_resolve(st, from, seqs[i], r->id);
		else if (rc == 1)
			failed++;
	}
	if (rc != -1 && sy->hook.mode == HOOK_STREAM)
		rc = failed = retry_stream(st, sy, r, from, old, new, m);
	progress_end();
	free(old);
	free(new);
	if (rc == -1)
		return -1;
	if (store_team_recount(st, sy->name) == -1 ||
	    store_sync_bump(st, sy->name) == -1)
		return -1;
	return failed;
}

int
cmd_retry(struct config *cfg, int argc, char **argv)
{
	struct decider	 d;
	struct run	 orig, r;
	struct sync	*sy;
	long long	 from, only = 0, *seqs = NULL;
	size_t		 n;
	int		 rc, failed;

	if (item_args(argc - 1, argv + 1, &from, &only, 1) == -1) {
		log_warnx("usage: rostersync retry RUN [ITEM] (or RUN:ITEM)");
		return EXIT_USAGE;
	}
	if ((rc = open_rw(cfg, &d)) != 0)
		return rc;
	rc = EXIT_FAIL;
	memset(&orig, 0, sizeof(orig));
	memset(&r, 0, sizeof(r));
	if (store_run_get(d.st, from, &orig) != 0) {
		log_warnx("there is no run %lld", from);
		goto out;
	}
	if ((sy = config_sync(cfg, orig.sync)) == NULL || sy->hook.argv ==
	    NULL) {
		log_warnx("sync %s has no apply hook: nothing to retry",
		    orig.sync);
		goto out;
	}
	if (orig.status == RS_IN_PROGRESS || orig.status == RS_PENDING ||
	    (n = store_items_to_apply(d.st, from, only, 1, &seqs)) == 0) {
		printf("run %lld has no failed item%s to retry\n", from,
		    only ? " with that number" : "s");
		rc = EXIT_OK;
		goto out;
	}
	retry_start(cfg, d.st, &orig, &r, from);
	if (store_run_insert(d.st, &r) == -1)
		goto out;
	log_context(r.id, r.sync);
	log_info("retrying %zu item%s of run %lld", n, n > 1 ? "s" : "", from);
	failed = retry_items(d.st, sy, &r, from, seqs, n);
	r.status = failed < 0 ? RS_FAILED : failed > 0 ? RS_ATTENTION :
	    RS_SUCCESS;
	r.finished = time(NULL);
	r.duration_ms = (long long)(now_ms() - (int64_t)r.started * 1000);
	store_run_update(d.st, &r);
	log_note(cfg, d.st, r.id, "retry of run %lld by %s: %s, %d failed",
	    from, whoami(), runstatus_label(r.status), failed);
	printf("run %lld: %s (retry of run %lld)\n", r.id,
	    runstatus_label(r.status), from);
	rc = runstatus_exit(r.status);
	log_context(0, NULL);
out:
	free(seqs);
	run_free(&orig);
	run_free(&r);
	close_rw(&d);
	return rc;
}


static int
confirm_item(struct config *cfg, struct store *st, struct itemfull *it,
    const char *reason)
{
	struct run	 r;
	struct sync	*sy;
	char		*why, when[64];
	int		 rc = -1;

	if (store_run_get(st, it->run, &r) != 0)
		return -1;
	if ((sy = config_sync(cfg, r.sync)) == NULL) {
		log_warnx("sync %s is no longer configured", r.sync);
		run_free(&r);
		return -1;
	}
	time_local(time(NULL), when, sizeof(when));
	xasprintf(&why, "confirmed by %s at %s%s%s", whoami(), when,
	    reason ? ": " : "", reason ? reason : "");
	if (store_begin(st) == 0) {
		if (hook_dir_apply(st, sy, it, it->run) == 0 &&
		    store_item_finish(st, it->run, it->seq, IST_CONFIRMED,
		    why) == 0 && store_item_resolve(st, it->run, it->seq,
		    it->run) == 0 && store_team_recount(st, sy->name) == 0 &&
		    store_sync_bump(st, sy->name) == 0)
			rc = store_commit(st);
		else
			store_rollback(st);
	}
	if (rc == 0)
		log_note(cfg, st, it->run, "item %lld %s", it->seq, why);
	free(why);
	run_free(&r);
	return rc;
}

int
cmd_confirm(struct config *cfg, int argc, char **argv)
{
	struct decider	 d;
	struct itemfull	 it;
	const char	*reason = NULL;
	long long	 run, seq;
	int		 rc, c;
	static const struct option lo[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (c == 'r')
			reason = optarg;
		else
			return EXIT_USAGE;
	if (item_args(argc - optind, argv + optind, &run, &seq, 0) == -1) {
		log_warnx("usage: rostersync confirm RUN:ITEM [--reason TEXT]");
		return EXIT_USAGE;
	}
	if ((rc = open_rw(cfg, &d)) != 0)
		return rc;
	rc = EXIT_FAIL;
	if (store_item_get(d.st, run, seq, &it) != 0)
		log_warnx("run %lld has no item %lld", run, seq);
	else if ((it.status != IST_FAILED && it.status != IST_PENDING) ||
	    it.resolved_by > 0)
		log_warnx("item %lld:%lld is %s: only a failed item can be "
		    "confirmed", run, seq, it.resolved_by ? "resolved already" :
		    itemstatus_slug(it.status));
	else if (confirm_item(cfg, d.st, &it, reason) == 0) {
		printf("item %lld:%lld confirmed as done by hand; the "
		    "directory follows it\n", run, seq);
		rc = EXIT_OK;
	}
	itemfull_free(&it);
	close_rw(&d);
	return rc;
}
