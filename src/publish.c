/*
 * Publish: upload a run's report files (CSV, XLSX, run log) to the folder
 * of the sync's source named by reports_remote, so HR finds them where
 * they dropped the export. An upload goes to NAME.part and is renamed. A
 * failed upload is kept in the store and tried again by the next run, up
 * to PUBLISH_MAX_ATTEMPTS times; it never changes the run's outcome.
 */
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>

#include "rostersync.h"

#define PUBLISH_MAX_ATTEMPTS	20	/* failed uploads before giving up */

static const char *const report_ext[] = { ".csv", ".xlsx", ".log" };

/* One upload waiting in the store. */
struct upload {
	long long	 id;
	long long	 run;
	char		*path;		/* the local report file */
};

static const char *
base_name(const char *path)
{
	const char	*s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

/* Upload u[n], all of sync sy, over one connection. */
static void
upload_all(const struct sync *sy, struct store *st, struct upload *u,
    size_t n)
{
	const struct srcops	*ops;
	struct source		*src;
	char			 err[MAX_ERRMSG];
	size_t			 i, done = 0;

	if ((ops = fetch_ops(sy)) == NULL || ops->put == NULL)
		return;
	if ((src = source_open(sy, ops, err, sizeof(err))) == NULL) {
		for (i = 0; i < n; i++)
			store_publish_set(st, u[i].id, "pending", 1, err);
		log_warnx("%s; %zu report file%s not published to %s/, will "
		    "try again next run", err, n, n == 1 ? "" : "s",
		    sy->reports_remote);
		return;
	}
	for (i = 0; i < n; i++) {
		if (ops->put(src, u[i].path, sy->reports_remote,
		    base_name(u[i].path), err, sizeof(err)) == 0) {
			store_publish_set(st, u[i].id, "done", 0, NULL);
			done++;
		} else {
			store_publish_set(st, u[i].id, "pending", 1, err);
			log_warnx("cannot publish \"%s\" (run %lld): %s; will "
			    "try again next run", base_name(u[i].path),
			    u[i].run, err);
		}
	}
	source_close(sy, ops, src);
	if (done > 0)
		log_info("published %zu report file%s to %s/", done,
		    done == 1 ? "" : "s", sy->reports_remote);
}

/*
 * Upload the report files the run has now. Call it whenever they were
 * (re)written: files uploaded before are uploaded again.
 */
void
publish_run(struct config *cfg, struct store *st, const struct sync *sy,
    long long run)
{
	struct run	 r;
	struct upload	*u = NULL;
	struct stat	 sb;
	long long	*ids;
	size_t		 n, nu, i;
	char		*p;

	if (sy == NULL || sy->reports_remote == NULL ||
	    store_run_get(st, run, &r) != 0)
		return;
	for (i = 0; r.report_base != NULL && i < sizeof(report_ext) /
	    sizeof(report_ext[0]); i++) {
		xasprintf(&p, "%s/reports/%s/%s%s", cfg->spool, sy->name,
		    r.report_base, report_ext[i]);
		if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
			store_publish_add(st, run, sy->name, p);
		free(p);
	}
	run_free(&r);
	n = store_publish_pending(st, run, &ids);
	u = xcalloc(n + 1, sizeof(*u));
	for (nu = 0, i = 0; i < n; i++) {
		char		*sync = NULL;
		long long	 attempts;

		u[nu].id = ids[i];
		if (store_publish_get(st, ids[i], &u[nu].run, &sync,
		    &u[nu].path, &attempts) == 0)
			nu++;
		else {
			free(u[nu].path);
			u[nu].path = NULL;
		}
		free(sync);
	}
	if (nu > 0)
		upload_all(sy, st, u, nu);
	for (i = 0; i < nu; i++)
		free(u[i].path);
	free(u);
	free(ids);
}

/*
 * An upload that cannot be done any more is closed with a reason: the
 * sync is gone or no longer publishes, the local file is gone, or it
 * failed too often. Returns whether it was closed.
 */
static int
closed(struct store *st, long long id, long long run, const char *path,
    const struct sync *sy, const char *sync, long long attempts)
{
	struct stat	 sb;

	if (sy == NULL || sy->reports_remote == NULL) {
		log_warnx("\"%s\" of run %lld is no longer published: %s",
		    base_name(path), run, sy == NULL ? "its sync is not in "
		    "the configuration any more" : "reports_remote is not "
		    "set for it any more");
		store_publish_set(st, id, "cancelled", 0, NULL);
		return 1;
	}
	if (stat(path, &sb) == -1) {
		log_warnx("\"%s\" of run %lld of sync %s was never published "
		    "and is gone from the spool", base_name(path), run, sync);
		store_publish_set(st, id, "failed", 0, "the local file is "
		    "gone");
		return 1;
	}
	if (attempts >= PUBLISH_MAX_ATTEMPTS) {
		log_msg(LOG_ERR, "giving up publishing \"%s\" of run %lld "
		    "after %lld failed attempts; it stays in %s: copy it to "
		    "%s/ on the server by hand", base_name(path), run,
		    attempts, path, sy->reports_remote);
		store_publish_set(st, id, "failed", 0, NULL);
		return 1;
	}
	return 0;
}

void
publish_pending(struct config *cfg, struct store *st)
{
	struct upload	*u;
	long long	*ids, attempts;
	size_t		 n, i, k, nu;
	char		*sync, **syncof;
	struct sync	*sy;

	if ((n = store_publish_pending(st, 0, &ids)) == 0) {
		free(ids);
		return;
	}
	u = xcalloc(n, sizeof(*u));
	syncof = xcalloc(n, sizeof(*syncof));
	for (i = 0; i < n; i++) {
		u[i].id = ids[i];
		sync = NULL;
		if (store_publish_get(st, ids[i], &u[i].run, &sync, &u[i].path,
		    &attempts) == 0) {
			sy = config_sync(cfg, sync);
			log_context(0, sync);
			if (!closed(st, ids[i], u[i].run, u[i].path, sy, sync,
			    attempts))
				syncof[i] = xstrdup(sync);
			log_context(0, NULL);
		}
		free(sync);
	}
	/* One connection per sync, for all of its uploads. */
	for (k = 0; k < cfg->nsyncs; k++) {
		struct upload	*mine = xcalloc(n, sizeof(*mine));

		sy = &cfg->syncs[k];
		for (nu = 0, i = 0; i < n; i++)
			if (syncof[i] != NULL && strcmp(syncof[i], sy->name) ==
			    0)
				mine[nu++] = u[i];
		if (nu > 0 && sy->enabled) {
			log_context(0, sy->name);
			log_info("publishing %zu report file%s left from "
			    "earlier runs", nu, nu == 1 ? "" : "s");
			upload_all(sy, st, mine, nu);
			log_context(0, NULL);
		}
		free(mine);
	}
	for (i = 0; i < n; i++) {
		free(u[i].path);
		free(syncof[i]);
	}
	free(syncof);
	free(u);
	free(ids);
}
