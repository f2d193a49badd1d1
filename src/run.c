/*
 * One run end to end, and the recovery that makes the next run correct
 * whatever happened to the last one. A run is recorded In Progress before
 * anything else; its outcome, its items, the directory and the ledger are
 * written in one transaction; the input then moves to archive/ (or
 * failed/), the reports are written, and the run is marked reported. A
 * crash between any two of these steps is finished by recover().
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

/* How bad an exit status is, to report the worst of several runs. */
static int
severity(int code)
{
	switch (code) {
	case EXIT_OK:
		return 0;
	case EXIT_ATTENTION:
		return 1;
	case EXIT_HELD:
		return 2;
	case EXIT_DATA:
		return 3;
	default:
		return 4;
	}
}

static int
worse(int a, int b)
{
	return severity(b) > severity(a) ? b : a;
}

static int
sha256_file(const char *path, char hex[65], long long *size)
{
	struct sha256	 h;
	unsigned char	 buf[65536], dig[32];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	sha256_init(&h);
	*size = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		sha256_update(&h, buf, (size_t)n);
		*size += n;
	}
	close(fd);
	if (n == -1) {
		sha256_free(&h);
		return -1;
	}
	sha256_final(&h, dig);
	sha256_hex(dig, hex);
	return 0;
}

/* An override given to this run: the decision, who, when and why. */
static void
run_override(struct run *r, const struct runopts *o)
{
	const struct override	*ov;
	struct buf		 b = { 0 };

	for (ov = overrides; ov->flag != NULL; ov++)
		*(long long *)(void *)((char *)r + ov->run) =
		    *(const long long *)(const void *)((const char *)o +
		    ov->opt);
	if (override_describe(r, &b) == 0)
		return;
	r->decision = DEC_OVERRIDE;
	r->approver = xstrdup(whoami());
	r->reason = xstrdup(o->reason ? o->reason : "");
	r->decided_at = time(NULL);
	buf_free(&b);
}

static void
run_start(struct run *r, struct config *cfg, struct store *st,
    const struct sync *sy, const struct ledger *l, const struct runopts *o)
{
	memset(r, 0, sizeof(*r));
	r->sync = xstrdup(sy->name);
	r->trigger = xstrdup(o->trigger);
	r->status = RS_IN_PROGRESS;
	r->source = xstrdup(sy->source);
	r->file_name = xstrdup(l->name);
	snprintf(r->sha256, sizeof(r->sha256), "%s", l->sha256);
	r->size = l->size;
	r->file_id = l->id;
	r->started = time(NULL);
	r->max_deletes = sy->max_deletes;
	r->max_delete_percent = sy->max_delete_percent;
	r->max_update_percent = sy->max_update_percent;
	run_override(r, o);
	r->dry_run = o->dry_run;
	r->base_version = store_sync_version(st, sy->name);
	r->report_base = report_base_new(cfg, st, sy->name, r->started);
}

/* -v: where the time and the memory of a run go. */
static void
phase(const char *what, int64_t t0)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	log_debug("%s done at %lld ms, peak RSS %ld MB", what,
	    (long long)(now_ms() - t0), ru.ru_maxrss / 1024);
}

/* Each record of the load, counted for its progress, then diffed. */
static long long	 loaded;

static int
load_record(void *job, const struct record *r)
{
	if (++loaded % PROGRESS_BATCH == 0)
		progress_add(PROGRESS_BATCH);
	return diff_on_record(job, r);
}

/* The job as it was before its load: what the run gave it, no more. */
static void
job_restart(struct job *j)
{
	struct job	 keep = *j;

	job_free(j);
	j->cfg = keep.cfg;
	j->sy = keep.sy;
	j->st = keep.st;
	j->run = keep.run;
	j->allow_deletes = keep.allow_deletes;
	j->allow_updates = keep.allow_updates;
	j->allow_id_changes = keep.allow_id_changes;
}

/* One load of the export into the job, its rows counted for progress. */
static int
run_load_as(struct job *j, const struct ledger *l, struct textenc *enc,
    char *err, size_t errlen)
{
	int	 rc;

	loaded = 0;
	progress_begin("loading the export (rows read)", -1);
	rc = load_file(l->local, l->name, j->sy, enc, &j->sc, &j->ls, &j->kn,
	    load_record, j, err, errlen);
	progress_end();
	return rc;
}

/*
 * The directory and the export into the job. A CSV export that is not
 * UTF-8 (encoding "auto") is read again, whole, as Windows-1252, and the
 * run says so; unless it holds UTF-8 text too: then it fails, mixed.
 * 0, -1 (a load error in err), or -2 (the directory).
 */
static int
run_load(struct job *j, const struct ledger *l, int64_t t0, char *err,
    size_t errlen)
{
	struct textenc		 enc = { .want = j->sy->encoding };
	unsigned long long	 off;
	size_t			 row;
	int			 rc;

	if (diff_load_dir(j) == -1)
		return -2;
	log_info("directory: %lld active users, %zu known (%s) in %lld ms",
	    j->active_before, j->ne, j->scanned ? "users table" : "key snapshot",
	    (long long)(now_ms() - t0));
	rc = run_load_as(j, l, &enc, err, errlen);
	if (rc == LOAD_NOT_UTF8) {
		row = enc.bad_row;
		off = enc.bad_off;
		job_restart(j);
		if (diff_load_dir(j) == -1)
			return -2;
		memset(&enc, 0, sizeof(enc));
		enc.want = ENC_FALLBACK;
		enc.fallback = 1;
		rc = run_load_as(j, l, &enc, err, errlen);
		if (!enc.mixed) {
			free(j->run->encoding_note);
			xasprintf(&j->run->encoding_note, "read as "
			    "Windows-1252: the file is not valid UTF-8 (row "
			    "%zu, byte offset %llu)", row, off);
			log_msg(LOG_NOTICE, "%s", j->run->encoding_note);
		}
	}
	free(j->run->encoding);
	j->run->encoding = j->ls.format != FMT_XLSX && enc.used[0] != '\0' &&
	    !enc.mixed ? xstrdup(enc.used) : NULL;
	return rc == 0 ? 0 : -1;
}

/* Load, validate, diff and guard; the outcome the run should record. */
static enum runstatus
run_pipeline(struct job *j, const struct ledger *l, int dry_run)
{
	char		 err[MAX_ERRMSG];
	int64_t		 t0 = now_ms();
	enum runstatus	 status;
	int		 rc;

	if ((rc = run_load(j, l, t0, err, sizeof(err))) == -2) {
		j->run->error = xstrdup("cannot read the directory");
		return RS_FAILED;
	}
	known_free(&j->kn);
	j->run->rows = (long long)j->ls.rows;
	if (rc == 0)
		diff_loaded(j);
	if (j->kf.err != NULL) {	/* not the export's fault: the disk's */
		kept_unmap(&j->kf);	/* its room back, for the outcome */
		j->nit = j->niss = 0;
		memset(j->run->issues, 0, sizeof(j->run->issues));
		return RS_FAILED;	/* process_file() records it */
	}
	if (rc == -1) {
		log_msg(LOG_ERR, "data load failed: %s", err);
		j->run->error = xstrdup(err);
		j->nit = 0;
		return RS_LOADFAIL;
	}
	log_info("loaded %zu rows of %zu columns as %s (%zu known lines) in "
	    "%lld ms", j->ls.rows, j->ls.columns, j->ls.format == FMT_XLSX ?
	    "XLSX" : "CSV", j->ls.known, (long long)(now_ms() - t0));
	fault("run.loaded");
	progress_begin("checking the rows and comparing them with the "
	    "directory", -1);
	validate_cross(j);
	validate_seats(j);
	validate_identify(j);
	phase("cross-row checks", t0);
	if (diff_ids_retyped(j, err, sizeof(err)) == -1) {
		progress_end();
		log_msg(LOG_ERR, "data load failed: %s: %s", l->name, err);
		xasprintf(&j->run->error, "%s: %s", l->name, err);
		j->nit = j->niss = 0;	/* the one message says it all */
		memset(j->run->issues, 0, sizeof(j->run->issues));
		return RS_LOADFAIL;
	}
	diff_items(j);
	progress_end();
	status = guard_check(j, dry_run);
	fault("run.diffed");
	log_info("diff: %zu items, %zu issues in %lld ms", j->nit, j->niss,
	    (long long)(now_ms() - t0));
	return status;
}

/* The outcome, the directory and the ledger in one transaction. */
static int
run_commit(struct job *j, enum runstatus status, const struct ledger *l)
{
	struct run	*r = j->run;
	int		 rc;

	if (apply_bulk(j))
		store_journal_rollback(j->st);
	if (store_begin_big(j->st) == -1) {
		store_journal_wal(j->st);
		return -1;
	}
	if (apply_run(j, status) == -1)
		goto fail;
	r->finished = time(NULL);
	r->duration_ms = (long long)(now_ms() - (int64_t)r->started * 1000);
	if (store_run_update(j->st, r) == -1)
		goto fail;
	fault("run.before_commit");
	if (!r->dry_run && l->id > 0 &&
	    store_file_set(j->st, l->id, "processed", l->local, r->id) == -1)
		goto fail;
	rc = store_commit(j->st);
	store_journal_wal(j->st);
	return rc;
fail:
	store_rollback(j->st);
	store_journal_wal(j->st);
	return -1;
}

static void
log_summary(const struct run *r)
{
	log_msg(r->status == RS_SUCCESS ? LOG_INFO : LOG_NOTICE,
	    "%s%s: %lld rows; %lld created, %lld updated, %lld manager "
	    "changes, %lld deleted, %lld team changes; %lld issues "
	    "(%lld skipped)", runstatus_label(r->status),
	    r->dry_run ? " (dry run, nothing applied)" : "", r->rows,
	    r->count[IT_CREATE], r->count[IT_UPDATE], r->count[IT_MANAGER],
	    r->count[IT_DELETE], r->count[IT_TEAM_CREATE] +
	    r->count[IT_TEAM_DELETE] + r->count[IT_TEAM_MEMBER],
	    r->issues[ISS_USER_SKIPPED] + r->issues[ISS_MANAGER_NOT_FOUND] +
	    r->issues[ISS_MANAGER_CYCLE] + r->issues[ISS_SEAT_LIMIT],
	    r->skipped);
}

/* Move a processed input out of incoming/. */
static int
archive_input(struct config *cfg, struct store *st, const struct ledger *l,
    const struct run *r)
{
	char	*name, *dest;
	int	 rc = -1;

	xasprintf(&name, "%lld-%s", r->id, l->name);
	dest = spool_path(cfg, r->status == RS_LOADFAIL ? "failed" :
	    "archive", l->sync, name);
	free(name);
	if (dest != NULL && spool_move(l->local, dest) == 0) {
		fault("run.archived");
		store_file_set(st, l->id, "processed", dest, r->id);
		log_info("input kept as %s", dest);
		rc = 0;
	} else
		log_warnx("the input stays in incoming/ and is archived by the "
		    "next run");
	free(dest);
	return rc;
}

/* The move to archive/ happened, the ledger did not hear of it: a crash. */
static void
archived_already(struct config *cfg, struct store *st, const struct ledger *l,
    const struct run *r)
{
	static const char *const kinds[] = { "archive", "failed" };
	char		*p;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		xasprintf(&p, "%s/%s/%s/%lld-%s", cfg->spool, kinds[i], l->sync,
		    r->id, l->name);
		if (access(p, F_OK) == 0) {
			store_file_set(st, l->id, "processed", p, r->id);
			free(p);
			return;
		}
		free(p);
	}
	log_warnx("the input of run %lld (%s) is neither in incoming/ nor in "
	    "archive/: it was removed by hand", r->id, l->name);
}

/* The run log, the reports and their upload; -1 if a file failed. */
static int
run_finish(struct config *cfg, struct store *st, struct run *r,
    FILE *logf, char **logtext, struct early *early)
{
	int	 rc = 0;

	char	 dir[1024];

	log_status(r->status);
	log_summary(r);
	snprintf(dir, sizeof(dir), "%s/reports/%s", cfg->spool, r->sync);
	log_info("reports: %s/%s.*", dir, r->report_base);
	log_tee(NULL);
	fclose(logf);
	store_runlog_put(st, r->id, *logtext);
	fault("run.logged");
	free(*logtext);
	*logtext = NULL;
	fault("run.reported");
	if (report_write_all(cfg, st, r->id, early) == 0)
		store_run_reports_done(st, r->id);
	else {
		log_warnx("the reports of run %lld could not all be written; "
		    "the next run writes them", r->id);
		rc = -1;
	}
	if (!r->dry_run)
		publish_run(cfg, st, config_sync(cfg, r->sync), r->id);
	fault("run.published");
	return rc;
}

/* With an apply hook, the directory is written item by item after the
 * commit; until then the items wait as pending. */
static int
hold_for_hook(struct job *j)
{
	size_t	 i;

	if (j->sy->hook.argv == NULL || !j->apply)
		return 0;
	for (i = 0; i < j->nit; i++)
		if (j->it[i].status == IST_APPLIED)
			j->it[i].status = IST_PENDING;
	j->apply = 0;
	return 1;
}

/* Phase two with a hook: each pending item, then the run's outcome. */
static void
run_hook_phase(struct store *st, const struct sync *sy, struct run *r,
    enum runstatus want)
{
	int	 failed = hook_apply_run(st, sy, r->id);
	long long *left = NULL;
	size_t	 nleft = failed < 0 ? 0 : store_items_to_apply(st, r->id, 0,
		    0, &left);

	free(left);
	if (failed == 0) {	/* and those an earlier pass failed */
		failed = (int)(store_items_to_apply(st, r->id, 0, 1, &left) -
		    nleft);
		free(left);
	}
	if (nleft > 0) {
		free(r->error);
		xasprintf(&r->error, "the hook stopped %d times: %zu items "
		    "wait for the next run", HOOK_STARTS, nleft);
	}
	if (failed < 0) {
		r->status = RS_FAILED;
		free(r->error);
		r->error = xstrdup("database error while applying items");
	} else if ((failed > 0 || nleft > 0) && (want == RS_SUCCESS ||
	    want == RS_APPROVED))
		r->status = RS_ATTENTION;	/* approved, yet not all done */
	else
		r->status = want;
	if (failed > 0)
		log_msg(LOG_WARNING, "%d item%s failed in the hook: rostersync "
		    "items %lld --status failed shows them; rostersync retry "
		    "%lld runs them again, rostersync confirm %lld:ITEM marks "
		    "one done by hand", failed, failed == 1 ? "" : "s", r->id,
		    r->id, r->id);
	r->finished = time(NULL);
	r->duration_ms = (long long)(now_ms() - (int64_t)r->started * 1000);
	store_run_update(st, r);
}

/*
 * A newer file for the sync: its held runs would apply stale data. And
 * a Queued run of this very file (fetched, then run by another route)
 * would wait for ever: it ends, saying which run took its file. Returns
 * how many runs ended (their reports are written again).
 */
static int
supersede(struct store *st, const struct sync *sy, const struct run *r)
{
	char	*why;
	int	 n, k = 0;

	xasprintf(&why, "superseded by run %lld: a newer file (%s) arrived",
	    r->id, r->file_name);
	if ((n = store_runs_supersede(st, sy->name, r->id, why)) > 0)
		log_msg(LOG_NOTICE, "%d held run%s of this sync cancelled: %s",
		    n, n > 1 ? "s" : "", why);
	free(why);
	xasprintf(&why, "taken by run %lld", r->id);
	if (r->file_id > 0 && (k = store_runs_take_file(st, r->file_id, r->id,
	    why)) > 0)
		log_msg(LOG_NOTICE, "%d queued run%s of %s cancelled: %s", k,
		    k > 1 ? "s" : "", r->file_name, why);
	free(why);
	return (n > 0 ? n : 0) + (k > 0 ? k : 0);
}

static void	 reports_catch_up(struct config *, struct store *);

/* The run log and the journal say who let the file through, and why. */
static void
log_override(const struct run *r)
{
	struct buf	 b = { 0 };

	override_describe(r, &b);
	log_msg(LOG_NOTICE, "one-time override %s, given by %s: %s (the "
	    "configured threshold does not change)", b.p, r->approver,
	    r->reason);
	buf_free(&b);
}

/*
 * Nothing of the run was applied: the kept rows' file failed (why is
 * kept_why), or the transaction did (the store's error). The run records
 * Failed with the cause and no counts (none of its items was stored);
 * its file stays queued for the next run.
 */
static void
run_unapplied(struct store *st, struct run *r, const char *kept_why)
{
	free(r->error);
	if (kept_why != NULL)
		r->error = xstrdup(kept_why);
	else
		xasprintf(&r->error, "cannot record the outcome in the "
		    "database: %s", store_errmsg(st));
	log_msg(LOG_ERR, "%s; nothing was applied, the file stays queued",
	    r->error);
	r->status = RS_FAILED;
	memset(r->count, 0, sizeof(r->count));
	memset(r->issues, 0, sizeof(r->issues));
	r->impacted = r->skipped = 0;
	r->finished = time(NULL);
	r->duration_ms = (long long)(now_ms() - (int64_t)r->started * 1000);
	if (store_run_update(st, r) == -1)
		log_msg(LOG_ERR, "cannot record run %lld as Failed either: %s; "
		    "the next run marks it Failed (interrupted), the cause "
		    "only in this log", r->id, store_errmsg(st));
}

/* One input file through the pipeline; returns the run's exit status. */
static int
process_file(struct config *cfg, struct store *st, const struct sync *sy,
    struct ledger *l, const struct runopts *o)
{
	struct run	 r;
	struct job	 j;
	struct reportsrc src;
	struct early	*early = NULL;
	FILE		*logf;
	char		*logtext = NULL;
	size_t		 loglen = 0;
	enum runstatus	 status;
	int64_t		 t0;
	int		 code, hook, qstatus, spool_failed = 0, closed = 0, rc;

	run_start(&r, cfg, st, sy, l, o);
	if ((logf = open_memstream(&logtext, &loglen)) == NULL)
		fatal("open_memstream");
	log_tee(logf);
	if (l->id > 0 && !o->dry_run &&
	    store_run_for_file(st, l->id, &qstatus) > 0 && qstatus == RS_QUEUED)
		r.id = store_run_for_file(st, l->id, &qstatus);
	if (r.id > 0 ? store_run_update(st, &r) == -1 :
	    store_run_insert(st, &r) == -1) {
		log_tee(NULL);
		fclose(logf);
		free(logtext);
		run_free(&r);
		return EXIT_FAIL;
	}
	log_context(r.id, sy->name);
	log_status(RS_IN_PROGRESS);
	log_info("started: %s (%lld bytes, sha256 %s), trigger %s", l->name,
	    l->size, l->sha256, r.trigger);
	if (r.decision == DEC_OVERRIDE)
		log_override(&r);
	fault("run.started");
	if (!o->dry_run && l->id > 0) {
		store_file_set(st, l->id, "fetched", l->local, r.id);
		fetch_after(cfg, st, sy, l->id);
	}
	if (!o->dry_run)
		closed = supersede(st, sy, &r);
	fault("run.source_done");
	memset(&j, 0, sizeof(j));
	j.cfg = cfg;
	j.sy = sy;
	j.st = st;
	j.run = &r;
	j.allow_deletes = o->allow_deletes;
	j.allow_updates = o->allow_updates;
	j.allow_id_changes = o->allow_id_changes;
	status = run_pipeline(&j, l, o->dry_run);
	hook = hold_for_hook(&j);
	/* The reports' rows beside the transaction, from memory (with a
	 * hook, the items change after it). */
	job_report_src(&j, &src);
	if (!hook)
		early = report_early(cfg, &r, status, &src);
	t0 = now_ms();
	progress_begin("writing the directory, items and issues in one "
	    "transaction", -1);
	rc = j.kf.err != NULL ? -1 : run_commit(&j, hook ? RS_IN_PROGRESS :
	    status, l);
	progress_end();
	if (rc == -1) {
		report_early_drop(early);	/* its rows were not stored */
		early = NULL;
		run_unapplied(st, &r, j.kf.err);
	} else {
		fault("run.committed");
		log_info("%s in one transaction in %lld ms", j.apply ?
		    "applied to the directory" : "recorded, directory "
		    "unchanged,", (long long)(now_ms() - t0));
		phase("the transaction", t0);
		if (!o->dry_run && l->id > 0 &&
		    archive_input(cfg, st, l, &r) == -1)
			spool_failed = 1;
		if (hook)
			run_hook_phase(st, sy, &r, status);
	}
	if (early != NULL)
		report_early_rows(early);	/* done with the job */
	job_free(&j);
	if (run_finish(cfg, st, &r, logf, &logtext, early) == -1)
		spool_failed = 1;
	if (closed > 0)
		reports_catch_up(cfg, st);	/* their decision in them */
	phase("archive and reports", t0);
	code = runstatus_exit(r.status);
	if (spool_failed && code != EXIT_FAIL)
		code = EXIT_FAIL;	/* the outcome is recorded; files lag */
	log_context(0, NULL);
	run_free(&r);
	return code;
}

/* ------------------------------------------------------------ approval */

static int
same_counts(const struct run *a, const long long *count)
{
	return memcmp(a->count, count, sizeof(a->count)) == 0;
}

/* Held items become applied (or pending for the hook); all of them. */
static void
approve_items(struct job *j)
{
	size_t	 i;

	for (i = 0; i < j->nit; i++)
		j->it[i].status = IST_APPLIED;
	j->apply = 1;
	j->hold_deletes = 0;
}

/*
 * Apply a run held as Pending approval. Its input is loaded again against
 * the same directory version it was diffed against, so the items are the
 * ones the approver saw; anything else is refused.
 */
static int
approve_apply(struct config *cfg, struct store *st, const struct sync *sy,
    struct run *r, const struct ledger *l)
{
	struct job	 j;
	long long	 before[IT__COUNT];
	int		 hook, rc = EXIT_FAIL;

	memcpy(before, r->count, sizeof(before));
	memset(r->issues, 0, sizeof(r->issues));
	memset(&j, 0, sizeof(j));
	j.cfg = cfg;
	j.sy = sy;
	j.st = st;
	j.run = r;
	j.allow_deletes = j.allow_updates = j.allow_id_changes = -1;
	switch (run_pipeline(&j, l, 0)) {
	case RS_LOADFAIL:
	case RS_FAILED:
		log_warnx("the held input cannot be loaded again%s%s: not "
		    "approved", j.kf.err ? ": " : "", j.kf.err ? j.kf.err : "");
		goto out;
	default:
		break;
	}
	memset(r->count, 0, sizeof(r->count));
	for (size_t i = 0; i < j.nit; i++)
		r->count[j.it[i].type]++;
	if (!same_counts(r, before)) {
		log_warnx("the file no longer gives the changes that were held "
		    "(has the configuration changed?): not approved");
		goto out;
	}
	approve_items(&j);
	hook = hold_for_hook(&j);
	if (store_begin(st) == -1)
		goto out;
	if (store_run_clear_items(st, r->id) == -1 ||
	    apply_run(&j, hook ? RS_IN_PROGRESS : RS_APPROVED) == -1 ||
	    store_run_update(st, r) == -1 || store_commit(st) == -1) {
		store_rollback(st);
		goto out;
	}
	if (hook)
		run_hook_phase(st, sy, r, RS_APPROVED);
	rc = runstatus_exit(r->status);
out:
	job_free(&j);
	return rc;
}

int
run_approve(struct config *cfg, struct store *st, long long id,
    const char *who, const char *reason)
{
	struct run	 r;
	struct ledger	 l;
	struct sync	*sy;
	long long	 now_version;
	int		 rc = EXIT_FAIL;

	if (store_run_get(st, id, &r) != 0) {
		log_warnx("there is no run %lld", id);
		return EXIT_FAIL;
	}
	memset(&l, 0, sizeof(l));
	if (r.status != RS_PENDING) {
		log_warnx("run %lld is %s, not Pending approval: only a held "
		    "run can be approved%s", id, runstatus_label(r.status),
		    runstatus_above(r.status) ? " (this sync's approval is "
		    "\"never\": see rostersync show for the --allow-deletes "
		    "command)" : "");
		goto out;
	}
	if ((sy = config_sync(cfg, r.sync)) == NULL) {
		log_warnx("sync %s is no longer configured", r.sync);
		goto out;
	}
	now_version = store_sync_version(st, r.sync);
	if (now_version != r.base_version) {
		log_warnx("the directory of sync %s changed since run %lld was "
		    "computed (version %lld, now %lld): approving it would "
		    "apply stale changes; run its file again instead", r.sync,
		    id, r.base_version, now_version);
		goto out;
	}
	if (store_file_get(st, r.file_id, &l) != 0 || l.local == NULL ||
	    access(l.local, R_OK) == -1) {
		log_warnx("the input of run %lld is no longer in the spool",
		    id);
		goto out;
	}
	log_context(r.id, r.sync);
	free(r.approver);
	free(r.reason);
	r.approver = xstrdup(who);
	r.reason = reason ? xstrdup(reason) : NULL;
	r.decided_at = time(NULL);
	r.decision = DEC_APPROVE;
	/* The preview the approver saw stays; the result gets its own. */
	free(r.preview_base);
	r.preview_base = r.report_base;
	r.report_base = report_base_new(cfg, st, r.sync, r.decided_at);
	log_msg(LOG_NOTICE, "approved by %s%s%s", who, reason ? ": " : "",
	    reason ? reason : "");
	rc = approve_apply(cfg, st, sy, &r, &l);
	if ((rc == EXIT_OK || rc == EXIT_ATTENTION) &&
	    report_write_all(cfg, st, r.id, NULL) == 0)
		store_run_reports_done(st, r.id);
	log_context(0, NULL);
out:
	ledger_free(&l);
	run_free(&r);
	return rc;
}

/* ------------------------------------------------------------ recovery */

static void
recover_processed(struct config *cfg, struct store *st)
{
	long long	*ids;
	size_t		 n, i;
	char		*inc;
	struct ledger	 l;
	struct run	 r;

	xasprintf(&inc, "%s/incoming/", cfg->spool);
	n = store_files_in_state(st, "processed", &ids);
	for (i = 0; i < n; i++) {
		if (store_file_get(st, ids[i], &l) != 0)
			continue;
		if (l.local != NULL && strncmp(l.local, inc, strlen(inc)) == 0 &&
		    store_run_get(st, l.run_id, &r) == 0) {
			log_info("finishing run %lld: archiving %s", r.id,
			    l.name);
			if (access(l.local, F_OK) == 0)
				archive_input(cfg, st, &l, &r);
			else
				archived_already(cfg, st, &l, &r);
			run_free(&r);
		}
		ledger_free(&l);
	}
	free(ids);
	free(inc);
}

/* Partial downloads and copies the ledger never recorded. */
static void
recover_incoming(struct config *cfg, struct store *st, const char *sync)
{
	DIR		*d;
	struct dirent	*de;
	char		*dir, *p;

	xasprintf(&dir, "%s/incoming/%s", cfg->spool, sync);
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		xasprintf(&p, "%s/%s", dir, de->d_name);
		if (!store_file_known_local(st, p)) {
			log_info("removing %s, left by an interrupted fetch "
			    "(the source still has the file)", p);
			unlink(p);
		}
		free(p);
	}
	closedir(d);
	free(dir);
}

/*
 * Runs that committed their items and died while the hook applied them:
 * the items never started are applied now; the outcome follows.
 */
static void
resume_hook_runs(struct config *cfg, struct store *st)
{
	long long	*ids;
	size_t		 n, i;
	struct run	 r;
	struct sync	*sy;

	n = store_runs_with_pending(st, &ids);
	for (i = 0; i < n; i++) {
		if (store_run_get(st, ids[i], &r) != 0)
			continue;
		if ((sy = config_sync(cfg, r.sync)) != NULL &&
		    sy->hook.argv != NULL) {
			log_context(r.id, r.sync);
			log_warnx("resuming the items of an interrupted run");
			free(r.error);
			r.error = NULL;
			run_hook_phase(st, sy, &r, r.decision == DEC_APPROVE ?
			    RS_APPROVED :
			    r.skipped || r.issues[ISS_MANAGER_NOT_FOUND] ||
			    r.issues[ISS_MANAGER_CYCLE] ||
			    r.issues[ISS_ID_CHANGED] ? RS_ATTENTION :
			    RS_SUCCESS);
			if (report_write_all(cfg, st, r.id, NULL) == 0)
				store_run_reports_done(st, r.id);
			publish_run(cfg, st, sy, r.id);
			log_context(0, NULL);
		}
		run_free(&r);
	}
	free(ids);
}

/* Reports not written yet (a crash, or a run another one closed). */
static void
reports_catch_up(struct config *cfg, struct store *st)
{
	long long	*ids;
	size_t		 n, i;
	struct run	 r;

	n = store_runs_reports_pending(st, &ids);
	for (i = 0; i < n; i++) {
		if (report_write_all(cfg, st, ids[i], NULL) == 0)
			store_run_reports_done(st, ids[i]);
		if (store_run_get(st, ids[i], &r) == 0) {
			if (!r.dry_run)
				publish_run(cfg, st, config_sync(cfg, r.sync),
				    r.id);
			run_free(&r);
		}
	}
	free(ids);
}

static void
recover(struct config *cfg, struct store *st)
{
	struct buf	 ids = { 0 };
	int		 k;

	hook_recover(st);
	resume_hook_runs(cfg, st);
	if ((k = store_runs_interrupted(st, &ids)) > 0)
		log_warnx("%d run%s left In Progress by a process that died "
		    "(run %s): marked Failed (interrupted); their files run "
		    "again; why %s stopped is in that process's log (under "
		    "systemd: journalctl -u rostersync RUN=%s)", k, k > 1 ?
		    "s" : "", ids.p, k > 1 ? "each" : "it", k > 1 ? "N" :
		    ids.p);
	else if (k == -1)
		log_warnx("cannot mark the runs left In Progress Failed "
		    "(interrupted): %s; skipped, the next run does it",
		    store_errmsg(st));
	buf_free(&ids);
	recover_processed(cfg, st);
	fault("recover.archived");
	for (size_t i = 0; i < cfg->nsyncs; i++)
		recover_incoming(cfg, st, cfg->syncs[i].name);
	reports_catch_up(cfg, st);
}

/* ------------------------------------------------------------ the queue */

/* Every waiting file gets its Queued run first: history shows the queue. */
static void
queue_runs(struct config *cfg, struct store *st, const long long *ids,
    size_t n, const struct runopts *o)
{
	struct ledger	 l;
	struct sync	*sy;
	struct run	 r;
	size_t		 i;
	int		 status;

	for (i = 0; i < n && !o->dry_run; i++) {
		if (store_file_get(st, ids[i], &l) != 0)
			continue;
		if ((sy = config_sync(cfg, l.sync)) != NULL &&
		    (o->sync == NULL || strcmp(o->sync, l.sync) == 0) &&
		    store_run_for_file(st, l.id, &status) == 0) {
			run_start(&r, cfg, st, sy, &l, o);
			r.status = RS_QUEUED;
			free(r.report_base);	/* named when it starts */
			r.report_base = NULL;
			store_run_insert(st, &r);
			run_free(&r);
		}
		ledger_free(&l);
	}
}

/* A queued run someone cancelled: its file is set aside, not processed. */
static int
cancelled_in_queue(struct config *cfg, struct store *st,
    const struct sync *sy, struct ledger *l)
{
	struct run	 r;
	int		 status;
	long long	 id = store_run_for_file(st, l->id, &status);

	if (id == 0 || status != RS_CANCELLED || store_run_get(st, id, &r))
		return 0;
	log_context(id, sy->name);
	log_msg(LOG_NOTICE, "%s was cancelled while queued: set aside, not "
	    "processed", l->name);
	fetch_after(cfg, st, sy, l->id);
	store_file_set(st, l->id, "processed", l->local, id);
	archive_input(cfg, st, l, &r);
	log_context(0, NULL);
	run_free(&r);
	return 1;
}

static int
process_queue(struct config *cfg, struct store *st, const struct runopts *o)
{
	long long	*ids;
	size_t		 n, i;
	int		 code = EXIT_OK;
	struct ledger	 l;
	struct sync	*sy;

	n = store_files_in_state(st, "fetched", &ids);
	queue_runs(cfg, st, ids, n, o);
	for (i = 0; i < n && !o->fetch_only; i++) {
		if (store_file_get(st, ids[i], &l) != 0)
			continue;
		sy = config_sync(cfg, l.sync);
		if (sy != NULL && !o->dry_run && cancelled_in_queue(cfg, st, sy,
		    &l))
			;
		else if (sy == NULL)
			log_warnx("%s is queued for sync %s, which the "
			    "configuration no longer has; left in the spool",
			    l.name, l.sync);
		else if (o->sync == NULL || strcmp(o->sync, l.sync) == 0)
			code = worse(code, process_file(cfg, st, sy, &l, o));
		ledger_free(&l);
	}
	free(ids);
	return code;
}

static const struct sync *
pick_sync(struct config *cfg, const char *name)
{
	struct sync	*sy;

	if (name != NULL) {
		if ((sy = config_sync(cfg, name)) == NULL)
			log_warnx("no sync named %s in %s", name, cfg->path);
		return sy;
	}
	if (cfg->nsyncs == 1)
		return &cfg->syncs[0];
	log_warnx("--file needs --sync: the configuration has %zu syncs",
	    cfg->nsyncs);
	return NULL;
}

/* run --file: an admin names a local file for a sync. */
static int
run_file(struct config *cfg, struct store *st, const struct runopts *o)
{
	const struct sync	*sy;
	struct ledger		 l;
	long long		 id;
	char			*copy;
	int			 code;

	if ((sy = pick_sync(cfg, o->sync)) == NULL)
		return EXIT_USAGE;
	if (o->dry_run) {
		memset(&l, 0, sizeof(l));
		if (sha256_file(o->file, l.sha256, &l.size) == -1) {
			log_warn("cannot read %s", o->file);
			return EXIT_FAIL;
		}
		copy = xstrdup(o->file);
		l.name = xstrdup(basename(copy));
		free(copy);
		l.local = xstrdup(o->file);
		l.sync = xstrdup(sy->name);
		code = process_file(cfg, st, sy, &l, o);
		ledger_free(&l);
		return code;
	}
	/* The id changes an applied run held are in its file still. */
	if ((id = fetch_local(cfg, st, sy, o->file,
	    o->allow_id_changes >= 0)) == -1)
		return EXIT_FAIL;
	if (store_file_get(st, id, &l) != 0)
		return EXIT_FAIL;
	code = process_file(cfg, st, sy, &l, o);
	ledger_free(&l);
	return code;
}

/* The run log of a source failure: the error and what to do. (Failing
 * again, the run's summary counts it; the log does not grow.) */
static void
failure_log(struct store *st, const struct run *r)
{
	struct buf	 b = { 0 };
	char		 ts[21];

	time_iso(r->started, ts);
	buf_printf(&b, "%s trigger %s, source %s\n%s error: %s\n", ts,
	    r->trigger, r->source, ts, r->error);
	if (r->hint != NULL)
		buf_printf(&b, "%s what to do: %s\n", ts, r->hint);
	buf_printf(&b, "%s nothing was fetched; the next run tries again\n",
	    ts);
	store_runlog_put(st, r->id, b.p);
	buf_free(&b);
}

/* The sync's latest run, when it is this very failure of its source. */
static int
same_failure(struct store *st, const struct sync *sy, const struct runopts *o,
    const struct fetchfail *ff, struct run *r)
{
	long long	 id = store_run_latest(st, sy->name);

	if (id <= 0 || store_run_get(st, id, r) != 0)
		return 0;
	if (r->status == RS_FAILED && r->failures > 0 &&
	    r->recovered_at == 0 && r->dry_run == o->dry_run &&
	    r->error != NULL &&
	    strcmp(r->error, ff->error) == 0)
		return 1;
	run_free(r);
	return 0;
}

/*
 * The source failed before a file was taken: a Failed run of the sync,
 * with the error and what to do. A source that stays down does not add
 * a run each time: the same failure, again with no other run between,
 * counts in the run it made first ("failed 12 times since 02:00").
 */
static void
source_failed(struct config *cfg, struct store *st, const struct sync *sy,
    const struct runopts *o, const struct fetchfail *ff)
{
	struct run	 r;
	char		 since[64];
	int		 again;

	if ((again = same_failure(st, sy, o, ff, &r))) {
		r.failures++;
		r.finished = time(NULL);
		free(r.hint);
		r.hint = ff->hint[0] ? xstrdup(ff->hint) : NULL;
		if (store_run_update(st, &r) == -1)
			goto out;
	} else {
		memset(&r, 0, sizeof(r));
		r.sync = xstrdup(sy->name);
		r.trigger = xstrdup(o->trigger);
		r.status = RS_FAILED;
		r.source = xstrdup(sy->source);
		r.started = r.finished = time(NULL);
		r.max_deletes = sy->max_deletes;
		r.max_delete_percent = sy->max_delete_percent;
		r.allow_deletes = -1;
		r.dry_run = o->dry_run;
		r.error = xstrdup(ff->error);
		r.hint = ff->hint[0] ? xstrdup(ff->hint) : NULL;
		r.failures = 1;
		r.report_base = report_base_new(cfg, st, sy->name, r.started);
		if (store_run_insert(st, &r) == -1)
			goto out;
	}
	log_context(r.id, sy->name);
	log_status(RS_FAILED);
	time_local(r.started, since, sizeof(since));
	if (again)
		log_msg(LOG_NOTICE, "the source failed again: %lld times in a "
		    "row since %s (recorded in run %lld)", r.failures, since,
		    r.id);
	else {
		log_msg(LOG_NOTICE, "the source failed: recorded as run %lld, "
		    "Failed", r.id);
		failure_log(st, &r);
	}
	if (report_write_all(cfg, st, r.id, NULL) == 0)
		store_run_reports_done(st, r.id);
	log_context(0, sy->name);
out:
	run_free(&r);
}

/* The source was read: a failure the sync's latest run records is over. */
static void
source_answers(struct store *st, const struct sync *sy)
{
	long long	 id, n = 0;

	if ((id = store_run_recovered(st, sy->name, time(NULL), &n)) > 0)
		log_msg(LOG_NOTICE, "the source answers again (run %lld: it "
		    "failed %lld time%s in a row)", id, n, n == 1 ? "" : "s");
}

static int
fetch_all(struct config *cfg, struct store *st, const struct runopts *o)
{
	struct fetchfail ff;
	size_t		 i;
	int		 code = EXIT_OK, n;

	for (i = 0; i < cfg->nsyncs; i++) {
		struct sync *sy = &cfg->syncs[i];

		if (o->sync != NULL && strcmp(o->sync, sy->name) != 0)
			continue;
		/* A disabled sync runs only when named (run --sync S). */
		if (!sy->enabled && o->sync == NULL)
			continue;
		if (!sy->enabled)
			log_info("sync %s is disabled (enabled = false): it "
			    "runs because --sync names it; the timer's runs "
			    "leave it alone", sy->name);
		log_context(0, sy->name);
		if ((n = fetch_sync(cfg, st, sy, &ff)) < 0) {
			source_failed(cfg, st, sy, o, &ff);
			code = EXIT_FAIL;
		} else {
			source_answers(st, sy);
			log_info("%d new file%s", n, n == 1 ? "" : "s");
		}
		log_context(0, NULL);
	}
	return code;
}

static void
expire_all(struct config *cfg, const struct runopts *o)
{
	size_t	 i;

	for (i = 0; i < cfg->nsyncs && !o->dry_run; i++) {
		log_context(0, cfg->syncs[i].name);
		spool_expire(cfg, &cfg->syncs[i]);
	}
	log_context(0, NULL);
}

int
run_main(struct config *cfg, const struct runopts *o)
{
	struct store	*st;
	char		 err[MAX_ERRMSG];
	int		 lock, code;

	if (o->sync != NULL && config_sync(cfg, o->sync) == NULL) {
		log_warnx("no sync named %s in %s", o->sync, cfg->path);
		return EXIT_USAGE;
	}
	if ((lock = spool_lock(cfg, cfg->lock_wait)) < 0)
		return lock == -2 ? EXIT_BUSY : EXIT_FAIL;
	if ((st = store_open(cfg->database, 0, err, sizeof(err))) == NULL) {
		log_msg(LOG_ERR, "%s", err);
		close(lock);
		return EXIT_FAIL;
	}
	/* A lock held by another connection: said once, nothing done. */
	if (store_can_write(st) == -1) {
		log_msg(LOG_ERR, "cannot start the run: %s; nothing was done "
		    "(no recovery of interrupted runs, no fetch, no run): the "
		    "next run tries again", store_errmsg(st));
		store_close(st);
		close(lock);
		return EXIT_FAIL;
	}
	source_keep_begin();	/* one connection per source for the run */
	recover(cfg, st);
	if (!o->fetch_only)
		publish_pending(cfg, st);
	if (o->file != NULL)
		code = run_file(cfg, st, o);
	else {
		code = fetch_all(cfg, st, o);
		code = worse(code, process_queue(cfg, st, o));
	}
	source_keep_end();
	expire_all(cfg, o);
	store_close(st);
	close(lock);
	return code;
}

