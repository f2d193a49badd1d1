/*
 * Logging to stderr. Under journald (JOURNAL_STREAM set) every line starts
 * with an sd-daemon priority prefix such as "<3>", so journalctl -p works;
 * in a terminal lines are plain. Each line names the run and sync it is
 * about, and may be copied to the run log (log_tee).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

static int		 verbosity;	/* -1 quiet, 0 normal, 1 verbose */
static int		 journal;	/* stderr is a journald stream */
static long long	 ctx_run;
static char		 ctx_sync[64];
static FILE		*tee;

void
log_init(int v)
{
	verbosity = v;
	journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_context(long long run, const char *sync)
{
	ctx_run = run;
	snprintf(ctx_sync, sizeof(ctx_sync), "%s", sync ? sync : "");
}

void
log_tee(FILE *fp)
{
	tee = fp;
}

static const char *
level_word(enum loglevel l)
{
	switch (l) {
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	default:
		return "";
	}
}

static void
vlog(enum loglevel l, const char *fmt, va_list ap, const char *suffix)
{
	char	 ctx[128] = "", msg[2048];
	int	 shown;

	if (ctx_run > 0)
		snprintf(ctx, sizeof(ctx), "run %lld sync %s: ", ctx_run,
		    ctx_sync);
	else if (ctx_sync[0] != '\0')
		snprintf(ctx, sizeof(ctx), "sync %s: ", ctx_sync);
	vsnprintf(msg, sizeof(msg), fmt, ap);

	shown = l <= LOG_NOTICE || (l == LOG_INFO && verbosity >= 0) ||
	    (l == LOG_DEBUG && verbosity > 0);
	if (l <= LOG_WARNING)
		shown = 1;
	if (shown) {
		if (journal)
			fprintf(stderr, "<%d>%s%s%s%s\n", (int)l, ctx, msg,
			    suffix ? ": " : "", suffix ? suffix : "");
		else
			fprintf(stderr, "rostersync: %s%s%s%s%s\n", ctx,
			    level_word(l), msg, suffix ? ": " : "",
			    suffix ? suffix : "");
	}
	if (tee != NULL && l != LOG_DEBUG) {
		char	 ts[21];

		time_iso(time(NULL), ts);
		fprintf(tee, "%s %s%s%s%s\n", ts, level_word(l), msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	}
}

void
log_msg(enum loglevel l, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(l, fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, strerror(saved));
	va_end(ap);
	exit(EXIT_FAIL);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, NULL);
	va_end(ap);
	exit(EXIT_FAIL);
}
