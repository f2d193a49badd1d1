/*
 * Fetch: find a sync's complete files at its source and copy each durably
 * into spool/incoming/SYNC/ (a hidden .part file, fsync, rename), hashing
 * it on the way. The ledger records every file; content a sync has
 * already seen is a duplicate and is not processed again. The source file
 * is moved, deleted or left only once its run is recorded (fetch_after).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

static const struct srcops *const backends[] = {
	&srcops_dir,
	&srcops_sftp,
};

/*
 * A remote file still settling is looked at again within the same run
 * (after settle_seconds) when settle_seconds is at most this; longer
 * settle times are observed across runs.
 */
#define SETTLE_RECHECK_MAX	10

static const struct srcops *
ops_for(const struct sync *sy)
{
	size_t	 i;

	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strncmp(sy->source, backends[i]->prefix,
		    strlen(backends[i]->prefix)) == 0)
			return backends[i];
	log_warnx("source %s: this kind of source is not supported by "
	    "this build", sy->source);
	return NULL;
}

const struct srcops *
fetch_ops(const struct sync *sy)
{
	return ops_for(sy);
}

/* ------------------------------------------------- a run's connections */

/*
 * `rostersync run` opens a sync's source once and uses it for the fetch,
 * the move of the file to processed/ and the upload of the reports: an
 * SFTP login is about ten round trips, half a second at 50 ms. A kept
 * connection is checked before it is used again (alive(): one round
 * trip); one idle for more than SOURCE_IDLE_MAX seconds is closed and
 * opened afresh, as a server or a firewall may have dropped it. Outside
 * source_keep_begin() and source_keep_end(), or with
 * ROSTERSYNC_SOURCE_KEEP=0 (the bench's "before"), each use opens and
 * closes its own.
 */
struct keptsrc {
	const struct srcops	*ops;
	char			*sync;		/* the sync's name and source */
	char			*url;
	struct source		*src;
	time_t			 since;		/* last given back */
};

static struct keptsrc	*kept;
static size_t		 nkept;
static int		 keeping;

void
source_keep_begin(void)
{
	const char	*e = getenv("ROSTERSYNC_SOURCE_KEEP");

	keeping = e == NULL || strcmp(e, "0") != 0;
}

/* Every connection kept is closed, the newest first. */
void
source_keep_end(void)
{
	while (nkept > 0) {
		struct keptsrc *k = &kept[--nkept];

		k->ops->close(k->src);
		free(k->sync);
		free(k->url);
	}
	free(kept);
	kept = NULL;
	keeping = 0;
}

static struct keptsrc *
kept_find(const struct sync *sy, const struct srcops *ops)
{
	size_t	 i;

	for (i = 0; i < nkept; i++)
		if (kept[i].ops == ops && strcmp(kept[i].sync, sy->name) == 0 &&
		    strcmp(kept[i].url, sy->source) == 0)
			return &kept[i];
	return NULL;
}

/* The kept connection of the sync, taken out of the list, if it may still
 * be used; NULL otherwise (a stale one is closed). */
static struct source *
kept_take(const struct sync *sy, const struct srcops *ops)
{
	struct keptsrc	*k = kept_find(sy, ops);
	struct source	*src;
	int		 fresh;

	if (k == NULL)
		return NULL;
	src = k->src;
	fresh = time(NULL) - k->since <= SOURCE_IDLE_MAX;
	free(k->sync);
	free(k->url);
	*k = kept[--nkept];
	if (fresh && (ops->alive == NULL || ops->alive(src)))
		return src;
	log_debug("%s: the connection kept since earlier in the run is "
	    "%s; connecting again", sy->source, fresh ? "gone" : "too old");
	ops->close(src);
	return NULL;
}

/* The sync's source: the run's connection if one is kept, else a new one.
 * NULL with err. Give it back with source_close(). */
struct source *
source_open(const struct sync *sy, const struct srcops *ops, char *err,
    size_t errlen)
{
	struct source	*src;

	if (keeping && (src = kept_take(sy, ops)) != NULL)
		return src;
	return ops->open(sy, err, errlen);
}

/* Done with src for now: kept for the run's next use, or closed. */
void
source_close(const struct sync *sy, const struct srcops *ops,
    struct source *src)
{
	struct keptsrc	*k;

	if (src == NULL)
		return;
	if (!keeping || kept_find(sy, ops) != NULL) {
		ops->close(src);
		return;
	}
	kept = xrealloc(kept, (nkept + 1) * sizeof(*kept));
	k = &kept[nkept++];
	k->ops = ops;
	k->sync = xstrdup(sy->name);
	k->url = xstrdup(sy->source);
	k->src = src;
	k->since = time(NULL);
}

/* A name fit for a log line: control characters shown as \xNN. */
static void
safe_name(const char *in, char *out, size_t outlen)
{
	size_t	 o = 0;

	for (; *in != '\0' && o + 5 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if (c < 0x20 || c == 0x7f || c == '\\')
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

/*
 * The source failed: an error (journal priority err) once, what to do
 * about it, and the first failure of the fetch kept in ff for its run.
 */
static void
fetch_failed(struct fetchfail *ff, const char *err)
{
	char	 hint[MAX_HINT];

	log_hint_take(hint, sizeof(hint));
	log_msg(LOG_ERR, "%s", err);
	if (hint[0] != '\0')
		log_msg(LOG_NOTICE, "what to do: %s", hint);
	if (ff->error[0] == '\0') {
		snprintf(ff->error, sizeof(ff->error), "%s", err);
		snprintf(ff->hint, sizeof(ff->hint), "%s", hint);
	}
}

static int
cmp_file(const void *a, const void *b)
{
	const struct srcfile *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* "42 s", "17 min", "3 h", "2 days"; a clock ahead says "0 s". */
static void
span(long long secs, char *out, size_t outlen)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(out, outlen, "%lld s", secs);
	else if (secs < 120 * 60)
		snprintf(out, outlen, "%lld min", secs / 60);
	else if (secs < 48 * 3600)
		snprintf(out, outlen, "%lld h", secs / 3600);
	else
		snprintf(out, outlen, "%lld days", secs / 86400);
}

/* Is a local file's mtime ahead of our clock by more than MTIME_AHEAD_MAX?
 * (Unzipped from an archive made in another time zone, or copied with its
 * times from a machine whose clock is ahead.) */
static int
ahead(const struct srcops *ops, const struct srcfile *f)
{
	return ops == &srcops_dir &&
	    f->mtime > (long long)time(NULL) + MTIME_AHEAD_MAX;
}

/* Said once for a file whose mtime is in the future, as it is first seen. */
static void
say_ahead(const struct sync *sy, const struct srcfile *f, time_t now)
{
	char	 when[21], by[32], how[128];

	time_iso((time_t)f->mtime, when);
	span(f->mtime - (long long)now, by, sizeof(by));
	if (sy->settle_seconds == 0)
		snprintf(how, sizeof(how), "settle_seconds is 0: it is taken "
		    "now");
	else
		snprintf(how, sizeof(how), "it is taken once its size and mtime"
		    " have stayed the same for %d s (settle_seconds) from now",
		    sy->settle_seconds);
	log_msg(LOG_NOTICE, "%s: its mtime %s is %s in the future by this "
	    "machine's clock (unzipped from an archive made in another time "
	    "zone, or copied from a machine whose clock is ahead?); %s, not "
	    "when the clock passes its mtime", f->name, when, by, how);
}

/*
 * A remote file is complete once its size and mtime have stayed the same
 * for settle_seconds by our clock (the server's may be off, and upload
 * clients may set any mtime): the store remembers since when. A local
 * file whose mtime is in the future (fut) is judged the same way. *again
 * is set when a second look later in this run may take it.
 */
static int
settled_remote(struct store *st, const struct sync *sy,
    const struct srcfile *f, int fut, int *again)
{
	time_t	 now = time(NULL), first;
	char	 age[32];
	int	 r;

	if (sy->settle_seconds == 0) {
		if (fut)
			say_ahead(sy, f, now);
		return 1;
	}
	if ((r = store_observe(st, sy->name, f->name, f->size, f->mtime, now,
	    &first)) == -1)
		return 0;
	if (r == 0 && fut)
		say_ahead(sy, f, now);
	if (now - first >= sy->settle_seconds)
		return 1;
	if (r == 2)
		log_info("%s is still being written (its size or mtime "
		    "changed since the last look); waiting until they stay "
		    "the same for %d s (settle_seconds)", f->name,
		    sy->settle_seconds);
	else if (r == 0 && !fut) {
		span((long long)now - f->mtime, age, sizeof(age));
		log_info("%s: seen for the first time (modified %s ago, by the "
		    "server's clock); it is taken once its size and mtime "
		    "stay the same for %d s (settle_seconds)", f->name, age,
		    sy->settle_seconds);
	}
	else if (r == 1)
		log_info("%s: size and mtime unchanged for %llds; taken once "
		    "they stay the same for %d s (settle_seconds)", f->name,
		    (long long)(now - first), sy->settle_seconds);
	if (sy->settle_seconds <= SETTLE_RECHECK_MAX)
		*again = 1;
	return 0;
}

static int
settled(struct store *st, const struct sync *sy, const struct srcops *ops,
    struct source *src, const struct srcfile *f, int *again)
{
	char	*marker;
	int	 ok;

	if (sy->use_marker) {
		xasprintf(&marker, "%s.done", f->name);
		ok = ops->exists(src, marker);
		free(marker);
		if (!ok)
			log_info("%s: waiting for its marker %s.done", f->name,
			    f->name);
		return ok;
	}
	if (ops != &srcops_dir || ahead(ops, f))
		return settled_remote(st, sy, f, ahead(ops, f), again);
	if (f->mtime <= (long long)time(NULL) - sy->settle_seconds)
		return 1;
	log_info("%s is still being written (changed %llds ago, settle_seconds"
	    " is %d); waiting", f->name, (long long)time(NULL) - f->mtime,
	    sy->settle_seconds);
	return 0;
}

/*
 * Copy one source file (f as listed; f->size -1: not listed) into the
 * spool. Returns the local path (to free) with its sha256 and size, or
 * NULL with nothing left behind and the cause in err; *changed is then
 * set when the file was not the one listed or changed while it was read
 * (err says how, and f what the source holds now).
 */
static char *
download(struct config *cfg, const struct sync *sy, const struct srcops *ops,
    struct source *src, struct srcfile *f, char sha[65], long long *size,
    int *changed, char *err, size_t errlen)
{
	struct sha256	 h;
	unsigned char	 dig[32];
	char		*part = NULL, *final = NULL, *tmpname, why[MAX_ERRMSG];
	struct buf	 b = { 0 };
	int		 fd, r;

	*changed = 0;
	snprintf(err, errlen, "%s: the spool copy could not be made (the "
	    "warning before says why)", f->name);
	xasprintf(&tmpname, ".%s.part", f->name);
	part = spool_path(cfg, "incoming", sy->name, tmpname);
	free(tmpname);
	if (part == NULL)
		return NULL;
	unlink(part);
	/* Read too: a local copy is hashed as read back (fetch_dir.c). */
	fd = open(part, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	if (fd == -1) {
		snprintf(err, errlen, "cannot create %s: %s", part,
		    strerror(errno));
		free(part);
		return NULL;
	}
	sha256_init(&h);
	fault("fetch.start");	/* listed and judged settled, not opened */
	if ((r = ops->get(src, f, fd, &h, size, why, sizeof(why))) != 0) {
		if (r == SRC_CHANGED) {
			*changed = 1;
			snprintf(err, errlen, "%s", why);
		} else {
			buf_printf(&b, "%s: %s", f->name, why); /* both long */
			snprintf(err, errlen, "%s", b.p);
			buf_free(&b);
		}
		goto fail;
	}
	if (fsync(fd) == -1) {
		snprintf(err, errlen, "cannot write %s to disk: %s", part,
		    strerror(errno));
		goto fail;
	}
	fault("fetch.copied");
	close(fd);
	fd = -1;
	sha256_final(&h, dig);
	sha256_hex(dig, sha);
	xasprintf(&tmpname, "%.12s-%s", sha, f->name);
	final = spool_path(cfg, "incoming", sy->name, tmpname);
	free(tmpname);
	if (final == NULL || spool_move(part, final) == -1)
		goto fail;
	fault("fetch.renamed");
	free(part);
	return final;
fail:
	sha256_free(&h);
	if (fd != -1)
		close(fd);
	unlink(part);
	free(part);
	free(final);
	return NULL;
}

/*
 * A file that changed while it was read is taken once it is stable again:
 * by its mtime on a local drop-zone (settled()), and on SFTP or with an
 * mtime in the future by a new observation, from what the source holds
 * now, that must settle anew.
 */
static void
settle_again(struct store *st, const struct sync *sy,
    const struct srcops *ops, const struct srcfile *now)
{
	time_t	 first;

	if ((ops == &srcops_dir && !ahead(ops, now)) || sy->use_marker ||
	    sy->settle_seconds == 0)
		return;
	store_observed_forget(st, sy->name, now->name);
	if (now->size >= 0)
		(void)store_observe(st, sy->name, now->name, now->size,
		    now->mtime, time(NULL), &first);
}

/*
 * What became of the run a duplicate repeats, and what to do: a held run
 * is decided, not dropped again; a rejected or cancelled one may be run
 * anyway, as run --file allows (fetch_local()).
 */
static void
duplicate_of(struct store *st, const struct sync *sy, long long run,
    char *out, size_t outlen)
{
	struct run	 r;

	out[0] = '\0';
	if (run <= 0 || store_run_get(st, run, &r) != 0)
		return;
	if (r.status == RS_PENDING || runstatus_above(r.status))
		snprintf(out, outlen, " (%s: decide it with rostersync approve "
		    "%lld or rostersync reject %lld)", runstatus_label(r.status),
		    run, run);
	else if (r.status == RS_REJECTED || r.status == RS_CANCELLED)
		snprintf(out, outlen, " (%s: rostersync run --sync %s --file "
		    "PATH runs it anyway)", runstatus_label(r.status), sy->name);
	else
		snprintf(out, outlen, " (%s)", runstatus_label(r.status));
	run_free(&r);
}

/* A copy the sync has seen before: logged, recorded, not processed. */
static void
duplicate(struct config *cfg, struct store *st, const struct sync *sy,
    const struct srcfile *f, const char *sha, const char *local)
{
	struct ledger	 l;
	char		 state[16], what[256];
	long long	 id, other, run;

	store_file_by_sha(st, sy->name, sha, &other, state, sizeof(state),
	    &run);
	duplicate_of(st, sy, run, what, sizeof(what));
	log_msg(LOG_NOTICE, "%s has the same content (sha256 %.16s...) as a "
	    "file this sync already took%s%lld%s; skipped as a duplicate",
	    f->name, sha, run ? " in run " : " as ledger entry ",
	    run ? run : other, what);
	unlink(local);
	memset(&l, 0, sizeof(l));
	l.sync = sy->name;
	l.name = f->name;
	l.size = f->size;
	l.mtime = f->mtime;
	snprintf(l.sha256, sizeof(l.sha256), "%s", sha);
	snprintf(l.state, sizeof(l.state), "duplicate");
	if ((id = store_file_insert(st, &l)) > 0)
		fetch_after(cfg, st, sy, id);
}

/*
 * Copy a settled file into the spool and queue it: 1, 0 when it is a
 * duplicate or changed while it was read (not a failure: it is taken
 * once stable), -1 on failure (the cause in err).
 */
static int
take(struct config *cfg, struct store *st, const struct sync *sy,
    const struct srcops *ops, struct source *src, const struct srcfile *f,
    char *err, size_t errlen)
{
	struct ledger	 l;
	struct srcfile	 now = *f;
	char		 sha[65], state[16], *local;
	long long	 size, id, run;
	int		 changed;

	if ((local = download(cfg, sy, ops, src, &now, sha, &size, &changed,
	    err, errlen)) == NULL) {
		if (!changed)
			return -1;
		log_msg(LOG_NOTICE, "%s changed while being read; taken when "
		    "it is stable (%s)", f->name, err);
		settle_again(st, sy, ops, &now);
		return 0;
	}
	store_observed_forget(st, sy->name, f->name);
	if (store_file_by_sha(st, sy->name, sha, &id, state, sizeof(state),
	    &run)) {
		duplicate(cfg, st, sy, f, sha, local);
		free(local);
		return 0;
	}
	memset(&l, 0, sizeof(l));
	l.sync = sy->name;
	l.name = f->name;
	l.size = size;
	l.mtime = f->mtime;
	snprintf(l.sha256, sizeof(l.sha256), "%s", sha);
	snprintf(l.state, sizeof(l.state), "fetched");
	l.local = local;
	if (store_file_insert(st, &l) == -1) {
		snprintf(err, errlen, "%s: cannot record it in the ledger: %s",
		    f->name, store_errmsg(st));
		unlink(local);
		free(local);
		return -1;
	}
	log_info("fetched %s (%lld bytes, sha256 %.16s...)", f->name, size,
	    sha);
	fault("fetch.recorded");
	free(local);
	return 1;
}

/* The names refused in one look at a source (as shown, escaped). */
struct refusals {
	char	**name;
	size_t	 n;
};

/*
 * A file of the source is refused: a warning the first time (and when
 * the reason changes), recorded for status until it is gone.
 */
static void
refuse(struct store *st, const struct sync *sy, const char *name,
    const char *why, struct refusals *r)
{
	char	 shown[4 * MAX_NAME_LEN + 8];
	int	 fresh;

	safe_name(name, shown, sizeof(shown));
	fresh = store_refused_note(st, sy->name, shown, why, time(NULL));
	if (fresh != 0)
		log_warnx("refusing the file \"%s\": %s (rostersync status "
		    "lists it until it is removed)", shown, why);
	else
		log_info("still refusing the file \"%s\": %s", shown, why);
	r->name = xrealloc(r->name, (r->n + 1) * sizeof(*r->name));
	r->name[r->n++] = xstrdup(shown);
}

/*
 * The ledger's entry seen has the name, size and mtime of a file at the
 * source: is this a copy dropped again (moved back from processed/) after
 * its run could not load it or failed? Only where the source file was
 * moved or deleted: a file left (after = "leave") is the same file.
 */
static int
dropped_again(struct store *st, const struct sync *sy, long long seen)
{
	struct ledger	 l;
	struct run	 r;
	int		 again = 0;

	if (sy->after == AFTER_LEAVE || store_file_get(st, seen, &l) != 0)
		return 0;
	if (l.source_done && strcmp(l.state, "processed") == 0 &&
	    l.run_id > 0 && store_run_get(st, l.run_id, &r) == 0) {
		again = r.status == RS_LOADFAIL || r.status == RS_FAILED;
		run_free(&r);
	}
	ledger_free(&l);
	return again;
}

/* Is this file one to take now? *again: look again later in this run. */
static int
wanted(struct config *cfg, struct store *st, const struct sync *sy,
    const struct srcops *ops, struct source *src, const struct srcfile *f,
    int *again, struct refusals *refused)
{
	char		 why[160];
	long long	 seen;

	if (name_ignored(f->name))
		return 0;
	if (!name_ok(f->name, why, sizeof(why))) {
		refuse(st, sy, f->name, why, refused);
		return 0;
	}
	if (fnmatch(sy->pattern, f->name, FNM_PERIOD) != 0)
		return 0;
	if (f->special != NULL) {
		snprintf(why, sizeof(why), "it is %s; only regular files are "
		    "taken", f->special);
		refuse(st, sy, f->name, why, refused);
		return 0;
	}
	if ((seen = store_file_seen(st, sy->name, f->name, f->size,
	    f->mtime)) > 0 && !dropped_again(st, sy, seen)) {
		struct ledger l;

		/* Queued files wait for their run before the source moves. */
		if (store_file_get(st, seen, &l) == 0 &&
		    strcmp(l.state, "fetched") != 0)
			fetch_after(cfg, st, sy, seen);
		ledger_free(&l);
		return 0;
	}
	return settled(st, sy, ops, src, f, again);
}

/*
 * One look at the source: list it and take what is complete. Only the
 * names in *recheck are considered when it is set (a second look); the
 * names worth another look are left there. -1 if it cannot be listed.
 */
static int
fetch_pass(struct config *cfg, struct store *st, const struct sync *sy,
    const struct srcops *ops, struct source *src, char ***recheck,
    size_t *nrecheck, int *queued, struct fetchfail *ff)
{
	struct srcfile	*f = NULL;
	struct refusals	 refused = { NULL, 0 };
	char		**only = *recheck, err[MAX_ERRMSG];
	size_t		 n = 0, i, k, nonly = *nrecheck;
	int		 r, again, found, failed = 0;

	if (ops->list(src, &f, &n, err, sizeof(err)) == -1) {
		fetch_failed(ff, err);
		return -1;
	}
	*recheck = NULL;
	*nrecheck = 0;
	if (n > 1)	/* an empty drop-zone lists f = NULL: not for qsort */
		qsort(f, n, sizeof(*f), cmp_file);
	for (i = 0; i < n; i++) {
		for (found = only == NULL, k = 0; k < nonly && !found; k++)
			found = strcmp(only[k], f[i].name) == 0;
		again = 0;
		if (found && wanted(cfg, st, sy, ops, src, &f[i], &again,
		    &refused)) {
			if ((r = take(cfg, st, sy, ops, src, &f[i], err,
			    sizeof(err))) == -1) {
				fetch_failed(ff, err);
				failed++;
			} else
				*queued += r;
		}
		if (again) {
			*recheck = xrealloc(*recheck, (*nrecheck + 1) *
			    sizeof(**recheck));
			(*recheck)[(*nrecheck)++] = xstrdup(f[i].name);
		}
	}
	store_observed_prune(st, sy->name, f, n);	/* what is gone */
	if (only == NULL)	/* a whole look: what is gone is forgotten */
		store_refused_prune(st, sy->name, refused.name, refused.n);
	for (k = 0; k < refused.n; k++)
		free(refused.name[k]);
	free(refused.name);
	for (k = 0; k < nonly; k++)
		free(only[k]);
	free(only);
	for (i = 0; i < n; i++)
		free(f[i].name);
	free(f);
	return failed ? -1 : 0;
}

int
fetch_sync(struct config *cfg, struct store *st, const struct sync *sy,
    struct fetchfail *ff)
{
	const struct srcops	*ops;
	struct source		*src;
	char			**recheck = NULL, err[MAX_ERRMSG];
	size_t			 nrecheck = 0, k;
	int			 queued = 0, failed = 0;

	memset(ff, 0, sizeof(*ff));
	log_hint_take(NULL, 0);
	if ((ops = ops_for(sy)) == NULL) {
		snprintf(err, sizeof(err), "source %s: this kind of source is "
		    "not supported by this build", sy->source);
		fetch_failed(ff, err);
		return -1;
	}
	if ((src = source_open(sy, ops, err, sizeof(err))) == NULL) {
		fetch_failed(ff, err);
		return -1;
	}
	log_hint_take(NULL, 0);	/* advice on an attempt that was retried */
	if (fetch_pass(cfg, st, sy, ops, src, &recheck, &nrecheck, &queued,
	    ff) == -1)
		failed++;
	else if (nrecheck > 0) {
		log_info("looking again in %d s at %zu file%s still settling",
		    sy->settle_seconds, nrecheck, nrecheck == 1 ? "" : "s");
		sleep((unsigned)sy->settle_seconds);
		if (fetch_pass(cfg, st, sy, ops, src, &recheck, &nrecheck,
		    &queued, ff) == -1)
			failed++;
	}
	for (k = 0; k < nrecheck; k++)
		free(recheck[k]);
	free(recheck);
	source_close(sy, ops, src);
	return failed ? -1 : queued;
}

/*
 * The marker of a file that was moved or deleted goes too: left behind, it
 * would let the next upload under the same name be taken before it is
 * complete.
 */
static void
remove_marker(const struct srcops *ops, struct source *src, const char *name)
{
	char	*marker, err[MAX_ERRMSG];

	xasprintf(&marker, "%s.done", name);
	if (ops->exists(src, marker) && ops->after(src, marker, AFTER_DELETE,
	    NULL, err, sizeof(err)) == -1)
		log_warnx("%s", err);
	free(marker);
}

/*
 * Is the file at the source still the one the ledger recorded: the same
 * name, size and mtime? 1 yes, 0 it is gone or another upload took its
 * name (that one is left for its own run), -1 the source cannot be listed.
 */
static int
source_is(const struct srcops *ops, struct source *src,
    const struct ledger *l)
{
	struct srcfile	*f = NULL;
	size_t		 n = 0, i;
	char		 err[MAX_ERRMSG];
	int		 same = 0, other = 0;

	if (ops->list(src, &f, &n, err, sizeof(err)) == -1) {
		log_warnx("%s; %s stays at the source until the next run",
		    err, l->name);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (f[i].special == NULL && strcmp(f[i].name, l->name) == 0) {
			if (f[i].size == l->size && f[i].mtime == l->mtime)
				same = 1;
			else
				other = 1;
		}
		free(f[i].name);
	}
	free(f);
	/* The copy was of the file as listed, unchanged while read. */
	if (other)
		log_info("%s at the source was written again after it was "
		    "taken (its size or mtime is not the one taken); it is "
		    "left for its own run", l->name);
	return same;
}

void
fetch_after(struct config *cfg, struct store *st, const struct sync *sy,
    long long id)
{
	const struct srcops	*ops;
	struct source		*src = NULL;
	struct ledger		 l;
	char			 err[MAX_ERRMSG];
	int			 same;

	(void)cfg;
	if (store_file_get(st, id, &l) != 0)
		return;
	/*
	 * Done already, unless a copy was dropped again since (source_is()
	 * then finds it with the recorded size and mtime).
	 */
	if ((l.source_done && sy->after == AFTER_LEAVE) ||
	    (ops = ops_for(sy)) == NULL)
		goto out;
	if (sy->after == AFTER_LEAVE) {
		store_file_source_done(st, id);
		goto out;
	}
	if ((src = source_open(sy, ops, err, sizeof(err))) == NULL) {
		log_warnx("%s; %s stays at the source until the next run",
		    err, l.name);
		goto out;
	}
	if ((same = source_is(ops, src, &l)) == -1)
		goto out;
	if (same == 0) {
		store_file_source_done(st, id);
		/* Gone: a marker left by a run that died is stale. */
		if (sy->use_marker && !ops->exists(src, l.name))
			remove_marker(ops, src, l.name);
	} else if (ops->after(src, l.name, sy->after, sy->processed_dir, err,
	    sizeof(err)) == 0) {
		store_file_source_done(st, id);
		if (sy->use_marker)
			remove_marker(ops, src, l.name);
	} else
		log_warnx("%s; will try again next run", err);
out:
	if (src != NULL)
		source_close(sy, ops, src);
	ledger_free(&l);
}

/*
 * run --file: an admin names a local file. Content already applied by an
 * earlier run is refused, unless again (--allow-id-changes: the id
 * changes such a run held); held, rejected or failed content may run
 * again. (Dropped at the source, only content whose runs could not load
 * it or failed runs again: the rest is a duplicate, see duplicate_of().)
 */
long long
fetch_local(struct config *cfg, struct store *st, const struct sync *sy,
    const char *path, int again)
{
	struct sync	 tmp = *sy;
	struct srcfile	 f;
	struct source	*src;
	struct ledger	 l;
	char		*copy = xstrdup(path), *copy2 = xstrdup(path), *local;
	char		 sha[65], err[MAX_ERRMSG];
	long long	 size, id = -1, applied;
	int		 changed;
	struct stat	 sb;

	xasprintf(&tmp.source, "dir:%s", dirname(copy));
	memset(&f, 0, sizeof(f));
	f.name = basename(copy2);
	f.size = -1;	/* not listed: any file the path names */
	if ((src = srcops_dir.open(&tmp, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		goto out;
	}
	local = download(cfg, sy, &srcops_dir, src, &f, sha, &size, &changed,
	    err, sizeof(err));
	srcops_dir.close(src);
	if (local == NULL && changed)
		log_warnx("%s changed while being read; nothing was run from "
		    "it: give it to run --file again once it is complete (%s)",
		    path, err);
	else if (local == NULL)
		log_warnx("%s", err);
	if (local == NULL)
		goto out;
	applied = store_run_applied_sha(st, sy->name, sha);
	if (applied > 0 && again)
		log_info("%s was applied by run %lld; run again for the id "
		    "changes it held", path, applied);
	else if (applied > 0) {
		log_warnx("%s was already applied by run %lld; nothing to do",
		    path, applied);
		unlink(local);
		free(local);
		goto out;
	}
	memset(&l, 0, sizeof(l));
	l.sync = sy->name;
	l.name = f.name;
	l.size = size;
	/* The file's own mtime: fetch_after() leaves any other alone. */
	l.mtime = stat(path, &sb) == 0 ? (long long)sb.st_mtime :
	    (long long)time(NULL);
	snprintf(l.sha256, sizeof(l.sha256), "%s", sha);
	snprintf(l.state, sizeof(l.state), "fetched");
	l.local = local;
	l.source_done = 1;
	if ((id = store_file_insert(st, &l)) > 0)
		store_file_source_done(st, id);
	free(local);
out:
	free(tmp.source);
	free(copy);
	free(copy2);
	return id;
}
