/*
 * Report files: which runs get which files, their names, and the writing
 * itself. The formats are a table; each writer only formats, and this
 * file owns the files: a hidden temporary name, mode 0640, fsync, rename.
 * A run without a hook writes its reports' rows from memory beside its
 * transaction (report_early(), a thread: a first load's million rows
 * cost the second CPU seconds, not the run); every other report is made
 * from the database by the same writers, one file after the other, and
 * `rostersync report` gives the same content as the run wrote
 * (t_reports compares them).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

static const struct format {
	enum rfmt	 fmt;
	const char	*ext;
	int		 (*to_file)(struct store *, const struct run *, FILE *);
	int		 (*to_path)(struct store *, const struct run *,
			    const char *);
} formats[RF__COUNT] = {
	{ RF_CSV, ".csv", report_csv, NULL },
	{ RF_XLSX, ".xlsx", NULL, report_xlsx },
	{ RF_LOG, ".log", report_log, NULL },
};

/* The run log is for every run; reports for runs that reached a result. */
int
report_due(enum runstatus s, enum rfmt f)
{
	if (f == RF_LOG)
		return 1;
	switch (s) {
	case RS_SUCCESS:
	case RS_ATTENTION:
	case RS_APPROVED:
	case RS_LOADFAIL:
	case RS_THRESHOLD:
	case RS_UPD_THRESHOLD:
	case RS_PENDING:
		return 1;
	default:
		return 0;
	}
}

/* What report_due() gives, and the preview of a held run closed since
 * (rejected, cancelled): written again with the decision. */
int
report_available(const struct run *r, enum rfmt f)
{
	if (report_due(r->status, f))
		return 1;
	return (r->status == RS_REJECTED || r->status == RS_CANCELLED) &&
	    r->rows > 0;
}

void
report_basename(time_t t, char *out, size_t outlen)
{
	struct tm	 tm;
	char		 mon[8];
	int		 h;

	localtime_r(&t, &tm);
	strftime(mon, sizeof(mon), "%b", &tm);
	h = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
	snprintf(out, outlen, "Sync Logs - %d %s %d %d.%02d%s", tm.tm_mday,
	    mon, tm.tm_year + 1900, h, tm.tm_min, tm.tm_hour < 12 ? "am" :
	    "pm");
}

static int
report_exists(const struct config *cfg, const char *sync, const char *base)
{
	static const char *const ext[] = { ".log", ".csv", ".xlsx" };
	struct stat	 sb;
	char		*p;
	size_t		 i;
	int		 found = 0;

	for (i = 0; i < 3 && !found; i++) {
		xasprintf(&p, "%s/reports/%s/%s%s", cfg->spool, sync, base,
		    ext[i]);
		found = stat(p, &sb) == 0;
		free(p);
	}
	return found;
}

/* "Sync Logs - 15 Jan 2024 10.30pm", with " (2)" on a collision with
 * a run's or a file's. Caller frees. */
char *
report_base_new(const struct config *cfg, struct store *st,
    const char *sync, time_t t)
{
	char	 base[128], *cand;
	int	 k;

	report_basename(t, base, sizeof(base));
	for (k = 1; ; k++) {
		if (k == 1)
			cand = xstrdup(base);
		else
			xasprintf(&cand, "%s (%d)", base, k);
		if (!store_report_base_used(st, sync, cand) &&
		    !report_exists(cfg, sync, cand))
			return cand;
		free(cand);
	}
}

/* A new file for a report: mode 0640, never through a link. */
static FILE *
create_file(const char *path)
{
	int	 fd;
	FILE	*fp;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	if (fd == -1)
		return NULL;
	fchmod(fd, 0640);
	if ((fp = fdopen(fd, "w")) == NULL)
		close(fd);
	return fp;
}

static int
close_file(FILE *fp)
{
	int	 rc = 0;

	if (fflush(fp) == EOF || ferror(fp) || fsync(fileno(fp)) == -1)
		rc = -1;
	if (fclose(fp) == EOF)
		rc = -1;
	return rc;
}

/* Write one format to path directly. */
static int
write_format(struct store *st, const struct run *r, const struct format *f,
    const char *path)
{
	FILE	*fp;
	int	 rc;

	if (f->to_path != NULL) {
		if (strcmp(path, "-") == 0) {
			log_warnx("an XLSX report needs a file: use -o PATH");
			return -1;
		}
		unlink(path);
		if ((rc = f->to_path(st, r, path)) == 0)
			chmod(path, 0640);
		return rc;
	}
	if (strcmp(path, "-") == 0) {
		rc = f->to_file(st, r, stdout);
		return fflush(stdout) == EOF ? -1 : rc;
	}
	if ((fp = create_file(path)) == NULL)
		return -1;
	rc = f->to_file(st, r, fp);
	if (close_file(fp) == -1)
		rc = -1;
	return rc;
}

int
report_write_one(struct store *st, const struct run *r, enum rfmt fmt,
    const char *path)
{
	return write_format(st, r, &formats[fmt], path);
}

/* Where a report of r is written (tmp) and then renamed to (final). */
static int
report_paths(struct config *cfg, const struct run *r, const struct format *f,
    char **tmp, char **final)
{
	char	*dir;

	if ((dir = spool_path(cfg, "reports", r->sync, NULL)) == NULL)
		return -1;
	xasprintf(tmp, "%s/.%s%s.tmp", dir, r->report_base, f->ext);
	xasprintf(final, "%s/%s%s", dir, r->report_base, f->ext);
	free(dir);
	return 0;
}

/* A written tmp renamed (written: 0) or removed; 0 or -1. Frees both. */
static int
report_rename(int written, char *tmp, char *final)
{
	int	 rc = -1;

	if (written == -1)
		log_warn("cannot write the report %s", final);
	else if (rename(tmp, final) == -1)
		log_warn("cannot rename %s", tmp);
	else
		rc = fsync_dir_of(final);
	if (rc == -1)
		unlink(tmp);
	free(tmp);
	free(final);
	return rc;
}

/* Temporary name, then rename: a reader never sees half a report. */
static int
write_named(struct config *cfg, struct store *st, const struct run *r,
    const struct format *f)
{
	char	*tmp, *final;

	if (report_paths(cfg, r, f, &tmp, &final) == -1)
		return -1;
	return report_rename(write_format(st, r, f, tmp), tmp, final);
}

/* Files named tmp and more (an XLSX summary made apart, libzip's copy
 * of a workbook being rewritten) left by a run that died; never while a
 * thread of this process writes them (report_write_all()). */
static void
drop_tmp_more(const char *tmp)
{
	const char	*name = strrchr(tmp, '/');
	char		*dir = dir_of(tmp);
	size_t		 n;
	struct dirent	*de;
	DIR		*d;

	name = name != NULL ? name + 1 : tmp;
	n = strlen(name);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, name, n) == 0 &&
			    de->d_name[n] == '.')
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	free(dir);
}

/* A report begun and not finished (its run died, report_early()); with
 * only_more, the files beside its temporary one only. */
static void
drop_tmp(struct config *cfg, const struct run *r, const struct format *f,
    int only_more)
{
	char	*tmp, *final;

	if (report_paths(cfg, r, f, &tmp, &final) == -1)
		return;
	if (!only_more)
		unlink(tmp);
	if (f->fmt == RF_XLSX)
		drop_tmp_more(tmp);
	free(tmp);
	free(final);
}

/* The store's rows of a run as a report's source. */
struct early {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct reportsrc src;
	char		*xlsx_tmp;
	struct xlsx_early *x;
	long long	 summary_rows;
	FILE		*rows;		/* the CSV rows; NULL if they failed */
	int		 rows_done;
	int		 go;		/* 1: finish with r; -1: drop it */
	const struct run *r;
	int		 rc;		/* the spreadsheet's */
	struct run	 outcome;	/* applied, failed: counted from src */
};

struct counting {
	struct run	*r;
	long long	 seq;		/* the item last counted */
};

static int
count_item(void *arg, const struct itemview *v)
{
	struct counting	*c = arg;

	if (v->seq == c->seq)
		return 0;	/* another field of the same item */
	c->seq = v->seq;
	if (v->status == IST_FAILED)
		c->r->failed[v->type]++;
	else if (v->status == IST_APPLIED || v->status == IST_CONFIRMED)
		c->r->applied[v->type]++;
	if (v->status == IST_CONFIRMED)
		c->r->confirmed++;
	return 0;
}

/* The outcome from the items in memory: what store_run_outcome() would
 * read back, without reading a million items again. */
static void
early_outcome(struct early *e)
{
	struct counting	 c = { &e->outcome, 0 };

	if (e->src.items(e->src.arg, count_item, &c) == 0)
		e->outcome.have_outcome = 1;
}

/* The CSV rows into a file with no name (nothing is left if the run
 * dies); NULL when that cannot be (the CSV then comes from the store). */
static FILE *
csv_rows(const char *dir, const struct reportsrc *src)
{
	FILE	*fp;
	int	 fd;

	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) == -1)
		return NULL;
	if ((fp = fdopen(fd, "w+")) == NULL) {
		close(fd);
		return NULL;
	}
	if (report_csv_rows(src, fp) == -1 || fflush(fp) == EOF) {
		fclose(fp);
		return NULL;
	}
	return fp;
}

static void *
early_main(void *arg)
{
	struct early	*e = arg;
	char		*dir = dir_of(e->xlsx_tmp);

	thread_background();
	early_outcome(e);
	e->x = report_xlsx_begin(e->xlsx_tmp, &e->src, e->summary_rows);
	e->rows = csv_rows(dir, &e->src);
	free(dir);
	pthread_mutex_lock(&e->mu);
	e->rows_done = 1;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	report_xlsx_zip(e->x, e->xlsx_tmp);
	pthread_mutex_lock(&e->mu);
	while (e->go == 0)
		pthread_cond_wait(&e->cv, &e->mu);
	pthread_mutex_unlock(&e->mu);
	e->rc = report_xlsx_finish(e->x, e->xlsx_tmp, e->go > 0 ? e->r : NULL);
	return NULL;
}

static void
count_pair(void *arg, const char *label, const char *value)
{
	(void)label;
	(void)value;
	(*(long long *)arg)++;
}

struct early *
report_early(struct config *cfg, const struct run *r, enum runstatus status,
    const struct reportsrc *src)
{
	struct early	*e;
	char		*final;

	if (!report_due(status, RF_XLSX) || !report_due(status, RF_CSV))
		return NULL;
	e = xcalloc(1, sizeof(*e));
	if (report_paths(cfg, r, &formats[RF_XLSX], &e->xlsx_tmp, &final) ==
	    -1) {
		free(e);
		return NULL;
	}
	free(final);
	e->src = *src;
	report_summary(r, count_pair, &e->summary_rows);
	e->rc = -1;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	if (thread_start("reports-early", &e->th, early_main, e) != 0) {
		pthread_mutex_destroy(&e->mu);
		pthread_cond_destroy(&e->cv);
		free(e->xlsx_tmp);
		free(e);
		return NULL;
	}
	return e;
}

void
report_early_rows(struct early *e)
{
	pthread_mutex_lock(&e->mu);
	while (!e->rows_done)
		pthread_cond_wait(&e->cv, &e->mu);
	pthread_mutex_unlock(&e->mu);
}

/* The outcome counted from memory into r (its rows are written: it is
 * counted); 0, or -1 when it could not be (then from the store). */
static int
early_outcome_of(struct early *e, struct run *r)
{
	report_early_rows(e);
	if (!e->outcome.have_outcome)
		return -1;
	memcpy(r->applied, e->outcome.applied, sizeof(r->applied));
	memcpy(r->failed, e->outcome.failed, sizeof(r->failed));
	r->confirmed = e->outcome.confirmed;
	r->have_outcome = 1;
	return 0;
}

/* Let the thread finish (r) or drop (NULL) the spreadsheet. */
static void
early_go(struct early *e, const struct run *r)
{
	pthread_mutex_lock(&e->mu);
	e->r = r;
	e->go = r != NULL ? 1 : -1;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

/* Wait for the thread and free e: the spreadsheet's 0 or -1. */
static int
early_join(struct early *e)
{
	int	 rc;

	pthread_join(e->th, NULL);
	rc = e->go > 0 ? e->rc : -1;
	if (e->rows != NULL)
		fclose(e->rows);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e->xlsx_tmp);
	free(e);
	return rc;
}

void
report_early_drop(struct early *e)
{
	if (e == NULL)
		return;
	early_go(e, NULL);
	early_join(e);
}

/* The CSV report: its head for r, then the rows written early. */
static int
early_csv(const struct run *r, FILE *rows, FILE *fp)
{
	const size_t	 bufsz = 256 * 1024;
	char		*buf;
	size_t		 n;
	int		 rc = 0;

	report_csv_head(r, fp);
	if (fseek(rows, 0, SEEK_SET) == -1)
		return -1;
	buf = xmalloc(bufsz);
	while (rc == 0 && (n = fread(buf, 1, bufsz, rows)) > 0)
		if (fwrite(buf, 1, n, fp) != n)
			rc = -1;
	free(buf);
	return rc == -1 || ferror(rows) || ferror(fp) ? -1 : 0;
}

/* Write the CSV from the early rows, or (none) from the store. */
static int
early_csv_named(struct config *cfg, struct store *st, const struct run *r,
    struct early *e)
{
	char	*tmp, *final;
	FILE	*fp;
	int	 rc = -1;

	if (e == NULL || e->rows == NULL)
		return write_named(cfg, st, r, &formats[RF_CSV]);
	if (report_paths(cfg, r, &formats[RF_CSV], &tmp, &final) == -1)
		return -1;
	if ((fp = create_file(tmp)) != NULL) {
		rc = early_csv(r, e->rows, fp);
		if (close_file(fp) == -1)
			rc = -1;
	}
	return report_rename(rc, tmp, final);
}

/* Finish the early spreadsheet with the run r as stored, and rename it. */
static int
early_finish(struct config *cfg, struct store *st, const struct run *r,
    struct early *e)
{
	char	*tmp, *final;
	int	 rc = early_join(e);

	if (rc == -1) {		/* written again, from the store */
		log_debug("XLSX report of run %lld: begun early, not finished; "
		    "written from the database", r->id);
		return write_named(cfg, st, r, &formats[RF_XLSX]);
	}
	if (report_paths(cfg, r, &formats[RF_XLSX], &tmp, &final) == -1)
		return -1;
	return report_rename(rc, tmp, final);
}

/*
 * One file of the table: the CSV and the spreadsheet a run began from
 * memory (report_early()) are finished from what was begun, every other
 * file is written from the database.
 */
static int
write_report(struct config *cfg, struct store *st, const struct run *r,
    const struct format *f, struct early *early)
{
	if (early != NULL && f->fmt == RF_CSV)
		return early_csv_named(cfg, st, r, early);
	if (early != NULL && f->fmt == RF_XLSX)
		return early_finish(cfg, st, r, early);
	return write_named(cfg, st, r, f);
}

static const char *const fault_point[RF__COUNT] = {
	[RF_CSV] = "report.csv", [RF_XLSX] = "report.xlsx",
	[RF_LOG] = "report.log",
};

int
report_write_all(struct config *cfg, struct store *st, long long id,
    struct early *early)
{
	struct run	 r;
	size_t		 i;
	int		 rc = 0;

	memset(&r, 0, sizeof(r));
	if (store_run_get(st, id, &r) != 0 || ((early == NULL ||
	    early_outcome_of(early, &r) != 0) &&
	    store_run_outcome(st, &r) != 0)) {
		run_free(&r);
		report_early_drop(early);
		return -1;
	}
	if (r.report_base == NULL) {	/* a run that never started */
		r.report_base = report_base_new(cfg, st, r.sync, r.started);
		store_run_update(st, &r);
	}
	if (early != NULL && !report_available(&r, RF_XLSX)) {
		report_early_drop(early);
		early = NULL;
	}
	/* What a run that died left. With early, the run is this process's
	 * and its name new (report_base_new()): the files beside its
	 * spreadsheet's temporary one are the thread's, libzip's own may be
	 * being written now. */
	for (i = 0; i < RF__COUNT; i++)
		if (early == NULL || formats[i].fmt != RF_XLSX)
			drop_tmp(cfg, &r, &formats[i], report_available(&r,
			    formats[i].fmt));
	if (early != NULL)	/* its spreadsheet zipped while the rest is */
		early_go(early, &r);
	for (i = 0; i < RF__COUNT; i++) {
		if (!report_available(&r, formats[i].fmt))
			continue;
		fault(fault_point[i]);
		if (write_report(cfg, st, &r, &formats[i], early) == -1) {
			log_warnx("the %s report of run %lld was not written",
			    formats[i].ext + 1, id);
			rc = -1;
		}
	}
	run_free(&r);
	return rc;
}
