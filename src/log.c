/*
 * Logging. Under systemd, when standard error is the journal (its device
 * and inode are the ones JOURNAL_STREAM names, as systemd documents),
 * every line goes through the journal's native protocol with the fields
 * RUN=, SYNC= and STATUS= of the run it is about, so that `journalctl -u
 * rostersync RUN=42` finds a run's lines; without the journal's socket,
 * or should it refuse them, they go to standard error with an sd-daemon
 * priority prefix such as "<3>" instead. Anywhere else lines are plain,
 * on standard error. Each line names the run and sync it is about, and may
 * be copied to the run log (log_tee).
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

#include <systemd/sd-journal.h>	/* after: its syslog.h names LOG_ERR too */

#define JOURNAL_SOCKET	"/run/systemd/journal/socket"	/* journald's */
#define LOG_MSG_MAX	2048	/* bytes of a message as formatted, at most */
#define LOG_CLEAN_MAX	(3 * LOG_MSG_MAX) /* cleaned: U+FFFD for a byte */
#define LOG_LINE_MAX	(LOG_CLEAN_MAX + 256) /* with the run's context */

enum sink { SINK_PLAIN, SINK_PREFIX, SINK_NATIVE };

static int		 verbosity;	/* -1 quiet, 0 normal, 1 verbose */
static enum sink	 sink;
static long long	 ctx_run;
static char		 ctx_sync[64];
static const char	*ctx_status;	/* a runstatus slug, or NULL */
static FILE		*tee;

/* Is standard error the stream JOURNAL_STREAM names ("DEV:INODE")? */
static int
stderr_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	struct stat		 sb;
	unsigned long long	 dev, ino;
	char			 end;

	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &sb) == -1)
		return 0;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

/*
 * Where lines go. sd_journal_sendv() drops a line without a word when
 * the journal's socket is missing: then the stream, with prefixes.
 */
void
log_init(int v)
{
	struct stat	 sb;

	verbosity = v;
	if (!stderr_is_journal())
		sink = SINK_PLAIN;
	else if (stat(JOURNAL_SOCKET, &sb) == 0 && S_ISSOCK(sb.st_mode))
		sink = SINK_NATIVE;
	else
		sink = SINK_PREFIX;
}

void
log_context(long long run, const char *sync)
{
	ctx_run = run;
	snprintf(ctx_sync, sizeof(ctx_sync), "%s", sync ? sync : "");
	ctx_status = NULL;
}

void
log_status(enum runstatus s)
{
	ctx_status = runstatus_slug(s);
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

/* One entry with its fields; 0, or -1 when the journal refused it. */
static int
journal_send(enum loglevel l, const char *line)
{
	char		 msg[LOG_LINE_MAX + 16], pri[16], run[32], sync[80],
			 status[48];
	struct iovec	 iov[6];
	int		 n = 0;

	snprintf(msg, sizeof(msg), "MESSAGE=%s", line);
	snprintf(pri, sizeof(pri), "PRIORITY=%d", (int)l);
	iov[n].iov_base = msg;
	iov[n++].iov_len = strlen(msg);
	iov[n].iov_base = pri;
	iov[n++].iov_len = strlen(pri);
	iov[n].iov_base = (char *)"SYSLOG_IDENTIFIER=rostersync";
	iov[n++].iov_len = strlen("SYSLOG_IDENTIFIER=rostersync");
	if (ctx_run > 0) {
		snprintf(run, sizeof(run), "RUN=%lld", ctx_run);
		iov[n].iov_base = run;
		iov[n++].iov_len = strlen(run);
	}
	if (ctx_sync[0] != '\0') {
		snprintf(sync, sizeof(sync), "SYNC=%s", ctx_sync);
		iov[n].iov_base = sync;
		iov[n++].iov_len = strlen(sync);
	}
	if (ctx_status != NULL) {
		snprintf(status, sizeof(status), "STATUS=%s", ctx_status);
		iov[n].iov_base = status;
		iov[n++].iov_len = strlen(status);
	}
	return sd_journal_sendv(iov, n) < 0 ? -1 : 0;
}

/* The line where it is read: the journal, or standard error. */
static void
emit(enum loglevel l, const char *ctx, const char *msg, const char *suffix)
{
	char	 line[LOG_LINE_MAX];
	int	 saved = errno;

	if (sink == SINK_NATIVE) {
		snprintf(line, sizeof(line), "%s%s%s%s", ctx, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
		if (journal_send(l, line) == 0) {
			errno = saved;
			return;
		}
		sink = SINK_PREFIX;	/* no socket: the stream, prefixed */
	}
	if (sink == SINK_PREFIX)
		fprintf(stderr, "<%d>%s%s%s%s\n", (int)l, ctx, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	else
		fprintf(stderr, "rostersync: %s%s%s%s%s\n", ctx,
		    level_word(l), msg, suffix ? ": " : "", suffix ? suffix : "");
	errno = saved;
}

/* The length of the UTF-8 character at s, or 0 if it is not one (an
 * overlong form, a surrogate, past U+10FFFF, cut short). */
static size_t
utf8_char(const unsigned char *s)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		hi = s[0] == 0xed ? 0x9f : 0xbf;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * msg into out (LOG_CLEAN_MAX bytes: three for each of msg's) with each
 * control character (C0, DEL, C1) and each byte that is not UTF-8 as
 * U+FFFD, as the tables show them (table.c): text from exports (a header
 * cell, a value) never drives a terminal or forges a line of the
 * journal. Here, below every other module, without their helpers.
 */
static void
log_clean(char *out, const char *msg)
{
	const unsigned char	*s = (const unsigned char *)msg;
	size_t			 n;

	while (*s != '\0') {
		n = utf8_char(s);
		if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f)) ||
		    (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)) {
			memcpy(out, "\xef\xbf\xbd", 3);
			out += 3;
			s += n > 0 ? n : 1;
			continue;
		}
		memcpy(out, s, n);
		out += n;
		s += n;
	}
	*out = '\0';
}

static void
vlog(enum loglevel l, const char *fmt, va_list ap, const char *suffix,
    int to_tee)
{
	char		 ctx[128] = "", raw[LOG_MSG_MAX], msg[LOG_CLEAN_MAX];
	int		 shown;

	if (ctx_run > 0)
		snprintf(ctx, sizeof(ctx), "run %lld sync %s: ", ctx_run,
		    ctx_sync);
	else if (ctx_sync[0] != '\0')
		snprintf(ctx, sizeof(ctx), "sync %s: ", ctx_sync);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	log_clean(msg, raw);

	shown = l <= LOG_NOTICE || (l == LOG_INFO && verbosity >= 0) ||
	    (l == LOG_DEBUG && verbosity > 0);
	if (l <= LOG_WARNING)
		shown = 1;
	if (shown)
		emit(l, ctx, msg, suffix);
	if (to_tee && tee != NULL && l != LOG_DEBUG) {
		char		 ts[21];
		time_t		 now = time(NULL);
		struct tm	 tm;

		/* time_iso()'s form; util.c is above this module. */
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(tee, "%s %s%s%s%s\n", ts, level_word(l), msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	}
}

void
log_msg(enum loglevel l, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(l, fmt, ap, NULL, 1);
	va_end(ap);
}

void
log_progress(const char *fmt, ...)
{
	va_list	 ap;

	if (verbosity < 0)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL, 0);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, strerror(saved), 1);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL, 1);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL, 1);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL, 1);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, strerror(saved), 1);
	va_end(ap);
	exit(EXIT_FAIL);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, NULL, 1);
	va_end(ap);
	exit(EXIT_FAIL);
}

static char	 hint_now[MAX_HINT];

void
log_hint(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(hint_now, sizeof(hint_now), fmt, ap);
	va_end(ap);
}

void
log_hint_take(char *out, size_t outlen)
{
	if (out != NULL && outlen > 0)
		snprintf(out, outlen, "%s", hint_now);
	hint_now[0] = '\0';
}
