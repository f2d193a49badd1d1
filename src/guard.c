/*
 * The guard: stop before a mass deactivation. The threshold is on even when
 * the configuration says nothing (500 deletions or 20% of the active
 * users); a sync's first run, into an empty directory, never trips it. A
 * trip holds the whole run, or only its deletions with on_threshold =
 * "hold_deletes". What happens next is the sync's approval mode. An
 * --allow-deletes N override is for this run only.
 */
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
	long long		 deletes = count_type(j, IT_DELETE);
	size_t			 i;
	enum runstatus		 done;

	r->max_deletes = sy->max_deletes;
	r->max_delete_percent = sy->max_delete_percent;
	r->tripped = tripped(j, deletes);
	done = j->niss > 0 ? RS_ATTENTION : RS_SUCCESS;
	for (i = 0; i < ISS__COUNT; i++)
		if (r->issues[i] > 0)
			done = RS_ATTENTION;
	j->apply = 0;
	if (r->tripped && sy->approval == APPROVE_NEVER) {
		if (sy->on_threshold == ONTHR_HOLD_DELETES) {
			log_msg(LOG_WARNING, "holding the %lld deletions; "
			    "creates and updates are applied", deletes);
			set_status(j, IST_HELD, dry_run ? IST_PREVIEW :
			    IST_APPLIED);
			j->apply = !dry_run;
			j->hold_deletes = 1;
		} else {
			log_msg(LOG_WARNING, "holding the whole run: nothing "
			    "is applied; re-run with --allow-deletes %lld to "
			    "push this file through once", deletes);
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
