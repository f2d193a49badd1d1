/*
 * The guard: stop before a mass deactivation. The threshold is on even when
 * the configuration says nothing (500 deletions or 20% of the active
 * users); a sync's first run, into an empty directory, never trips it. A
 * trip holds the whole run, or only its deletions with on_threshold =
 * "hold_deletes". What happens next is the sync's approval mode. An
 * --allow-deletes N override is for this run only.
 *
 * The update threshold is on by default too: more than
 * max_update_percent (25) of the active users with an existing value
 * changed (a file read in another encoding, a shifted column) holds the
 * whole run the same way; --allow-updates N lets one file through.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "rostersync.h"

static long long
count_type(const struct job *j, enum itemtype t)
{
	long long	 n = 0;
	size_t		 i;

	for (i = 0; i < j->nit; i++)
		n += j->it[i].type == t;
	return n;
}

static int
tripped(struct job *j, long long deletes)
{
	const struct sync	*sy = j->sy;
	long long		 active = j->active_before;
	double			 pct;

	if (active == 0 || deletes == 0)
		return 0;
	pct = 100.0 * (double)deletes / (double)active;
	if (deletes <= sy->max_deletes && pct <= sy->max_delete_percent)
		return 0;
	log_msg(LOG_WARNING, "deactivation threshold: %lld of %lld active "
	    "users would be deleted (%.1f%%); the limits are %lld users and "
	    "%.1f%%", deletes, active, pct, sy->max_deletes,
	    sy->max_delete_percent);
	if (j->allow_deletes >= 0 && deletes <= j->allow_deletes) {
		log_msg(LOG_NOTICE, "--allow-deletes %lld lets these %lld "
		    "deletions through for this run only; the configured "
		    "threshold is unchanged", j->allow_deletes, deletes);
		return 0;
	}
	if (j->allow_deletes >= 0)
		log_warnx("--allow-deletes %lld is less than the %lld "
		    "deletions: the threshold stands", j->allow_deletes,
		    deletes);
	return 1;
}

/* A field and how many users have an existing value of it changed. */
struct fieldcount {
	const char	*field;
	long long	 users;
};

static int
cmp_fieldcount(const void *a, const void *b)
{
	const struct fieldcount *x = a, *y = b;

	if (x->users != y->users)
		return x->users > y->users ? -1 : 1;
	return strcmp(x->field, y->field);
}

/*
 * Users whose existing non-empty value of a field changes (a field
 * filled for the first time does not count); the fields most changed,
 * with their users, in hint.
 */
static long long
changed_users(const struct job *j, struct buf *hint)
{
	struct fieldcount f[MAX_SLOTS + 1];
	size_t		 nf = 0, i, k, c;
	uint32_t	 last = ENT_NONE;
	long long	 users = 0;

	for (i = 0; i < j->nit; i++) {
		const struct item *it = &j->it[i];

		if (it->type != IT_UPDATE && it->type != IT_MANAGER)
			continue;
		for (c = it->chg; c < it->chg + it->nchg; c++) {
			const struct change *ch = &j->chg[c];

			if (ch->old[0] == '\0' || strcmp(ch->old, ch->new) == 0)
				continue;
			if (it->ent != last)
				users++;
			last = it->ent;
			for (k = 0; k < nf && strcmp(f[k].field, ch->field); k++)
				;
			if (k == nf && nf < MAX_SLOTS)
				f[nf++] = (struct fieldcount){ ch->field, 0 };
			if (k < nf)
				f[k].users++;
		}
	}
	qsort(f, nf, sizeof(*f), cmp_fieldcount);
	for (k = 0; k < nf && k < 3; k++)
		buf_printf(hint, "%s%s (%lld user%s)", k ? ", " : "",
		    f[k].field, f[k].users, f[k].users == 1 ? "" : "s");
	return users;
}

/* The update threshold: too many existing values changed at once (a
 * file read in the wrong encoding, a shifted column). */
static int
tripped_updates(struct job *j, long long *changed)
{
	long long	 active = j->active_before, users = 0;
	struct buf	 most = { 0 };
	double		 pct;
	int		 trip = 0;

	if (active == 0 || (users = changed_users(j, &most)) == 0)
		goto out;
	pct = 100.0 * (double)users / (double)active;
	if (pct <= j->sy->max_update_percent)
		goto out;
	log_msg(LOG_WARNING, "update threshold: %lld of %lld active users "
	    "would have existing values changed (%.1f%%; the limit is "
	    "%g%%); most changed: %s", users, active, pct,
	    j->sy->max_update_percent, most.p);
	if (j->allow_updates >= 0 && users <= j->allow_updates)
		log_msg(LOG_NOTICE, "--allow-updates %lld lets these %lld "
		    "users' changes through for this run only; the configured "
		    "threshold is unchanged", j->allow_updates, users);
	else {
		if (j->allow_updates >= 0)
			log_warnx("--allow-updates %lld is less than the %lld "
			    "users changed: the threshold stands",
			    j->allow_updates, users);
		trip = 1;
	}
out:
	*changed = users;
	buf_free(&most);
	return trip;
}

static void
set_status(struct job *j, enum itemstatus deletes, enum itemstatus others)
{
	size_t	 i;

	/* A team's deletion is a deletion: its members may be held. */
	for (i = 0; i < j->nit; i++)
		j->it[i].status = j->it[i].type == IT_DELETE ||
		    j->it[i].type == IT_TEAM_DELETE ? deletes : others;
}

/*
 * Decide the run's outcome and each item's status; sets job->apply when
 * the directory is to be written.
 */
enum runstatus
guard_check(struct job *j, int dry_run)
{
	const struct sync	*sy = j->sy;
	struct run		*r = j->run;
	long long		 deletes = count_type(j, IT_DELETE), changed;
	size_t			 i;
	enum runstatus		 done;

	r->max_deletes = sy->max_deletes;
	r->max_delete_percent = sy->max_delete_percent;
	r->max_update_percent = sy->max_update_percent;
	r->tripped = (tripped(j, deletes) ? TRIP_DELETES : 0) |
	    (tripped_updates(j, &changed) ? TRIP_UPDATES : 0);
	done = j->niss > 0 ? RS_ATTENTION : RS_SUCCESS;
	for (i = 0; i < ISS__COUNT; i++)
		if (r->issues[i] > 0)
			done = RS_ATTENTION;
	j->apply = 0;
	if (r->tripped == TRIP_UPDATES && sy->approval == APPROVE_NEVER) {
		/* on_threshold says what a deletion trip holds; changed
		 * values are held with the whole run. */
		log_msg(LOG_WARNING, "holding the whole run: nothing is "
		    "applied; if the changes are right, re-run the file with "
		    "--allow-updates %lld to push it through once", changed);
		set_status(j, IST_HELD, IST_HELD);
		return RS_UPD_THRESHOLD;
	}
	if (r->tripped && sy->approval == APPROVE_NEVER) {
		if (sy->on_threshold == ONTHR_HOLD_DELETES &&
		    !(r->tripped & TRIP_UPDATES)) {
			log_msg(LOG_WARNING, "holding the %lld deletions; "
			    "creates and updates are applied", deletes);
			set_status(j, IST_HELD, dry_run ? IST_PREVIEW :
			    IST_APPLIED);
			j->apply = !dry_run;
			j->hold_deletes = 1;
		} else {
			char	 upd[64] = "";

			if (r->tripped & TRIP_UPDATES)
				snprintf(upd, sizeof(upd), " --allow-updates "
				    "%lld", changed);
			log_msg(LOG_WARNING, "holding the whole run: nothing "
			    "is applied; re-run with --allow-deletes %lld%s to "
			    "push this file through once", deletes, upd);
			set_status(j, IST_HELD, IST_HELD);
		}
		return RS_THRESHOLD;
	}
	if (r->tripped || sy->approval == APPROVE_ALWAYS) {
		log_msg(LOG_NOTICE, "the run waits for approval "
		    "(rostersync approve %lld)", r->id);
		set_status(j, IST_PENDING, IST_PENDING);
		return RS_PENDING;
	}
	set_status(j, dry_run ? IST_PREVIEW : IST_APPLIED,
	    dry_run ? IST_PREVIEW : IST_APPLIED);
	j->apply = !dry_run;
	return done;
}

/* The one-time overrides of the guard: flag, runopts field, run field. */
const struct override overrides[] = {
	{ "allow-deletes", offsetof(struct runopts, allow_deletes),
	    offsetof(struct run, allow_deletes) },
	{ "allow-updates", offsetof(struct runopts, allow_updates),
	    offsetof(struct run, allow_updates) },
	{ "allow-id-changes", offsetof(struct runopts, allow_id_changes),
	    offsetof(struct run, allow_id_changes) },
	{ NULL, 0, 0 }
};

long long *
override_opt(const struct override *ov, struct runopts *o)
{
	return (long long *)(void *)((char *)o + ov->opt);
}

long long
override_run(const struct override *ov, const struct run *r)
{
	return *(const long long *)(const void *)((const char *)r + ov->run);
}

int
override_describe(const struct run *r, struct buf *b)
{
	const struct override	*ov;
	int			 n = 0;

	for (ov = overrides; ov->flag != NULL; ov++)
		if (override_run(ov, r) >= 0)
			buf_printf(b, "%s--%s %lld", n++ ? " " : "", ov->flag,
			    override_run(ov, r));
	return n;
}
