/*
 * Progress of a long phase of a run: the apply hook's items (done of the
 * total, the rate, the time left), the rows of a large load, a long
 * transaction. A thread beside the work prints a line every
 * PROGRESS_EVERY seconds of a phase, the first after that long: a short
 * run prints none. Lines go where the log goes (the journal under
 * systemd, standard error elsewhere), never into the run log.
 *
 * The work only counts (progress_add(), one relaxed atomic add); the
 * thread prints under the mutex, so once progress_end() returns it is
 * not printing (a fork, as report.c's, then finds no lock held).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rostersync.h"

static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cv;
static pthread_t	 th;
static int		 started;	/* the thread exists */
static int		 active;	/* a phase is under way */
static char		 what[128];
static long long	 total;		/* -1: not known */
static atomic_llong	 done;
static struct timespec	 t0, next;	/* the phase's start, next line */
static int		 every = PROGRESS_EVERY;

static double
secs_since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* "3 min 20 s", "45 s", "2 h 5 min". */
static void
duration(double s, char *out, size_t outlen)
{
	long long	 n = (long long)(s + 0.5);

	if (n < 60)
		snprintf(out, outlen, "%lld s", n);
	else if (n < 3600)
		snprintf(out, outlen, "%lld min %lld s", n / 60, n % 60);
	else
		snprintf(out, outlen, "%lld h %lld min", n / 3600,
		    n % 3600 / 60);
}

/* One line about the phase, at now. Called with mu held. */
static void
report(const struct timespec *now)
{
	long long	 n = atomic_load_explicit(&done, memory_order_relaxed);
	double		 el = secs_since(&t0, now), rate = el > 0 ? n / el : 0;
	char		 left[32], so_far[32];

	duration(el, so_far, sizeof(so_far));
	if (total > 0 && n > 0 && rate > 0) {
		duration((double)(total - n) / rate, left, sizeof(left));
		log_progress("%s: %lld of %lld (%lld%%), %.1f a second, about "
		    "%s left", what, n, total, n * 100 / total, rate, left);
	} else if (total > 0)
		log_progress("%s: %lld of %lld after %s", what, n, total,
		    so_far);
	else if (n > 0)
		log_progress("%s: %lld so far in %s, %.0f a second", what, n,
		    so_far, rate);
	else
		log_progress("%s: %s so far", what, so_far);
}

static void *
progress_main(void *arg)
{
	struct timespec	 now;

	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		if (!active) {
			pthread_cond_wait(&cv, &mu);
			continue;
		}
		if (pthread_cond_timedwait(&cv, &mu, &next) == 0 || !active)
			continue;	/* woken: a phase began or ended */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (secs_since(&next, &now) < 0)
			continue;
		report(&now);
		next.tv_sec = now.tv_sec + every;
		next.tv_nsec = now.tv_nsec;
	}
	return NULL;
}

/* The thread, once; 0, or -1 (then no progress is shown). */
static int
progress_start(void)
{
	pthread_condattr_t	 ca;
	const char		*env;
	long long		 v;

	if (started)
		return 0;
	/* Tests shorten the interval; people keep the default. */
	if ((env = getenv("ROSTERSYNC_PROGRESS_SECONDS")) != NULL &&
	    parse_ll(env, 1, 3600, &v) == 0)
		every = (int)v;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	if (thread_start("progress", &th, progress_main, NULL) != 0)
		return -1;
	pthread_detach(th);
	started = 1;
	return 0;
}

void
progress_begin(const char *phase, long long n)
{
	if (progress_start() == -1)
		return;
	pthread_mutex_lock(&mu);
	snprintf(what, sizeof(what), "%s", phase);
	total = n;
	atomic_store_explicit(&done, 0, memory_order_relaxed);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	next = t0;
	next.tv_sec += every;
	active = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

void
progress_add(long long n)
{
	atomic_fetch_add_explicit(&done, n, memory_order_relaxed);
}

void
progress_end(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&mu);
	active = 0;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}
