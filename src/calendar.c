/*
 * When the next sync is due: systemd's answer for rostersync.timer when it
 * gives one, else the next elapse of the configured OnCalendar= expression
 * (the `schedule` setting), computed here.
 *
 * The expressions understood are the subset a timer realistically uses:
 *
 *	[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [UTC]
 *	minutely hourly daily weekly monthly quarterly semiannually yearly
 *	annually
 *
 * A date or time component is "*", or a comma-separated list of values,
 * ranges A..B and repetitions A/STEP or A..B/STEP; weekdays are names (Mon
 * or Monday, any case), lists and ranges (Mon..Fri, Mon-Fri). A missing
 * date is *-*-*, a missing time 00:00:00, missing seconds :00. Times are
 * local unless the expression ends in UTC; as with systemd, a wall time
 * the clocks skip never elapses and one they repeat elapses once, unless it
 * is first reached in its second occurrence. Refused with a message: "~"
 * (days from the end of the month), fractional seconds, "*" with a
 * repetition, other time zones, and anything else systemd-analyze(1) would
 * accept that is not above.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rostersync.h"

#define CAL_YEAR_MIN	1970
#define CAL_YEAR_MAX	2199	/* as systemd */
#define CAL_NYEARS	(CAL_YEAR_MAX - CAL_YEAR_MIN + 1)
#define CAL_MAX_EXPR	256	/* bytes in one expression */
#define CAL_MAX_TOKENS	4	/* weekdays, date, time, UTC */

#define SYSTEMD_TIMER	"rostersync.timer"
#define SYSTEMD_TIMEOUT_MS 2000	/* systemctl gets this long to answer */
#define SYSTEMD_MAX_OUT	256	/* bytes of its answer read */
#define NEXT_MAX_AHEAD	(400LL * 86400) /* a sane next elapse is sooner */

/* The values each component may take: v[i] is 1 when i matches. */
struct calspec {
	unsigned char	 wday[7];	/* 0 = Sunday, as tm_wday */
	unsigned char	 year[CAL_NYEARS]; /* index: year - CAL_YEAR_MIN */
	unsigned char	 mon[13];	/* 1..12 */
	unsigned char	 mday[32];	/* 1..31 */
	unsigned char	 hour[24];
	unsigned char	 min[60];
	unsigned char	 sec[60];
	int		 utc;		/* the expression ends in UTC */
};

static const struct {
	const char	*name;
	const char	*expr;
} shorthands[] = {
	{ "minutely", "*-*-* *:*:00" },
	{ "hourly", "*-*-* *:00:00" },
	{ "daily", "*-*-* 00:00:00" },
	{ "weekly", "Mon *-*-* 00:00:00" },
	{ "monthly", "*-*-01 00:00:00" },
	{ "quarterly", "*-01,04,07,10-01 00:00:00" },
	{ "semiannually", "*-01,07-01 00:00:00" },
	{ "yearly", "*-01-01 00:00:00" },
	{ "annually", "*-01-01 00:00:00" },
};

static const char *const wday_names[7] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
	"saturday"
};

/* A whole decimal number of s[0..n) in [lo, hi]; -1 if it is not one. */
static int
cal_number(const char *s, size_t n, int lo, int hi, int *out)
{
	int	 v = 0;
	size_t	 i;

	if (n == 0 || n > 4)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/*
 * One element of a list: "*", A, A..B, A/STEP or A..B/STEP, marked in
 * v[value - lo] for values in [lo, hi].
 */
static int
cal_elem(const char *s, size_t n, int lo, int hi, unsigned char *v,
    const char *what, char *err, size_t errlen)
{
	const char	*slash, *dots;
	int		 a, b, step = 1, i;
	size_t		 an, whole = n;

	if (n == 1 && s[0] == '*') {
		memset(v, 1, (size_t)(hi - lo + 1));
		return 0;
	}
	slash = memchr(s, '/', n);
	if (slash != NULL) {
		if (cal_number(slash + 1, (size_t)(s + n - slash - 1), 1,
		    hi - lo + 1, &step) == -1 || (slash == s + 1 && *s == '*'))
			goto bad;
		n = (size_t)(slash - s);
	}
	dots = NULL;
	for (i = 0; (size_t)i + 1 < n; i++)
		if (s[i] == '.' && s[i + 1] == '.') {
			dots = s + i;
			break;
		}
	an = dots != NULL ? (size_t)(dots - s) : n;
	if (cal_number(s, an, lo, hi, &a) == -1)
		goto bad;
	b = slash != NULL ? hi : a;
	if (dots != NULL && cal_number(dots + 2, (size_t)(s + n - dots - 2),
	    lo, hi, &b) == -1)
		goto bad;
	if (b < a)
		goto bad;
	for (i = a; i <= b; i += step)
		v[i - lo] = 1;
	return 0;
 bad:
	snprintf(err, errlen, "\"%.*s\" is not a valid %s: write a number "
	    "from %d to %d, \"*\", a range A..B or a repetition A/STEP",
	    (int)whole, s, what, lo, hi);
	return -1;
}

/* A comma-separated list of elements. */
static int
cal_list(const char *s, size_t n, int lo, int hi, unsigned char *v,
    const char *what, char *err, size_t errlen)
{
	size_t	 k;

	if (n == 0) {
		snprintf(err, errlen, "the %s is missing", what);
		return -1;
	}
	for (;;) {
		k = 0;
		while (k < n && s[k] != ',')
			k++;
		if (cal_elem(s, k, lo, hi, v, what, err, errlen) == -1)
			return -1;
		if (k == n)
			return 0;
		s += k + 1;
		n -= k + 1;
	}
}

/* A weekday name, abbreviated to three letters or whole; -1 if not one. */
static int
cal_wday(const char *s, size_t n)
{
	int	 i;

	for (i = 0; i < 7; i++)
		if ((n == 3 || n == strlen(wday_names[i])) &&
		    strncasecmp(s, wday_names[i], n) == 0)
			return i;
	return -1;
}

/* Mon, Mon..Fri, Mon-Fri, lists of those. */
static int
cal_weekdays(const char *s, size_t n, struct calspec *c, char *err,
    size_t errlen)
{
	size_t	 k, an;
	int	 a, b, i;

	for (;;) {
		k = 0;
		while (k < n && s[k] != ',')
			k++;
		an = 0;
		while (an < k && isalpha((unsigned char)s[an]))
			an++;
		a = cal_wday(s, an);
		b = a;
		if (an < k) {
			i = an + 1 < k && s[an] == '.' && s[an + 1] == '.' ? 2 :
			    s[an] == '-' ? 1 : 0;
			b = i == 0 ? -1 : cal_wday(s + an + i, k - an - i);
		}
		if (a == -1 || b == -1) {
			snprintf(err, errlen, "\"%.*s\" is not a weekday such "
			    "as Mon, Mon..Fri or Sat,Sun", (int)k, s);
			return -1;
		}
		for (i = a;; i = (i + 1) % 7) {	/* Fri..Mon wraps */
			c->wday[i] = 1;
			if (i == b)
				break;
		}
		if (k == n)
			return 0;
		s += k + 1;
		n -= k + 1;
	}
}

/* Split s[0..n) at sep into at most max parts; the count, or -1. */
static int
cal_split(const char *s, size_t n, int sep, const char **part, size_t *len,
    int max)
{
	int	 np = 0;
	size_t	 k;

	for (;;) {
		if (np == max)
			return -1;
		k = 0;
		while (k < n && s[k] != sep)
			k++;
		part[np] = s;
		len[np++] = k;
		if (k == n)
			return np;
		s += k + 1;
		n -= k + 1;
	}
}

/* [YEAR-]MONTH-DAY */
static int
cal_date(const char *s, size_t n, struct calspec *c, char *err,
    size_t errlen)
{
	const char	*p[3];
	size_t		 l[3];
	int		 np;

	memset(c->year, 0, sizeof(c->year));
	memset(c->mon, 0, sizeof(c->mon));
	memset(c->mday, 0, sizeof(c->mday));
	if (memchr(s, '~', n) != NULL) {
		snprintf(err, errlen, "\"~\" (days from the end of the month) "
		    "is not supported");
		return -1;
	}
	np = cal_split(s, n, '-', p, l, 3);
	if (np < 2) {
		snprintf(err, errlen, "\"%.*s\" is not a date such as *-*-* or "
		    "2024-01-15", (int)n, s);
		return -1;
	}
	if (np == 3 && cal_list(p[0], l[0], CAL_YEAR_MIN, CAL_YEAR_MAX,
	    c->year, "year", err, errlen) == -1)
		return -1;
	if (np == 2)
		memset(c->year, 1, sizeof(c->year));
	return cal_list(p[np - 2], l[np - 2], 1, 12, c->mon + 1, "month", err,
	    errlen) == -1 || cal_list(p[np - 1], l[np - 1], 1, 31, c->mday + 1,
	    "day of the month", err, errlen) == -1 ? -1 : 0;
}

/* HOUR:MINUTE[:SECOND] */
static int
cal_time(const char *s, size_t n, struct calspec *c, char *err,
    size_t errlen)
{
	const char	*p[3];
	size_t		 l[3];
	int		 np;

	memset(c->hour, 0, sizeof(c->hour));
	memset(c->min, 0, sizeof(c->min));
	memset(c->sec, 0, sizeof(c->sec));
	np = cal_split(s, n, ':', p, l, 3);
	if (np < 2) {
		snprintf(err, errlen, "\"%.*s\" is not a time such as 06:00, "
		    "*:0/15 or 8,12,16:00", (int)n, s);
		return -1;
	}
	if (cal_list(p[0], l[0], 0, 23, c->hour, "hour", err, errlen) == -1 ||
	    cal_list(p[1], l[1], 0, 59, c->min, "minute", err, errlen) == -1)
		return -1;
	if (np == 2) {
		c->sec[0] = 1;
		return 0;
	}
	return cal_list(p[2], l[2], 0, 59, c->sec, "second", err, errlen);
}

/* expr into c: every component starts as "*", the time as 00:00:00. */
static int
cal_parse(const char *expr, struct calspec *c, char *err, size_t errlen)
{
	const char	*tok[CAL_MAX_TOKENS + 1], *s;
	char		 buf[64];
	size_t		 len[CAL_MAX_TOKENS + 1], i, w;
	int		 nt = 0, k = 0;

	w = strcspn(expr, " \t");
	for (i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++) {
		if (w != strlen(shorthands[i].name) ||
		    strncasecmp(expr, shorthands[i].name, w) != 0)
			continue;
		s = expr + w + strspn(expr + w, " \t");
		if (*s == '\0' || strcasecmp(s, "UTC") == 0) {
			snprintf(buf, sizeof(buf), "%s%s", shorthands[i].expr,
			    *s == '\0' ? "" : " UTC");
			expr = buf;
		}
		break;
	}
	if (strlen(expr) > CAL_MAX_EXPR) {
		snprintf(err, errlen, "the expression is longer than %d bytes",
		    CAL_MAX_EXPR);
		return -1;
	}
	for (s = expr; *s != '\0';) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		if (nt == CAL_MAX_TOKENS) {
			snprintf(err, errlen, "too many parts; write [WEEKDAYS]"
			    " [DATE] [TIME] [UTC]");
			return -1;
		}
		tok[nt] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		len[nt] = (size_t)(s - tok[nt]);
		nt++;
	}
	if (nt == 0) {
		snprintf(err, errlen, "the expression is empty");
		return -1;
	}
	memset(c, 1, sizeof(*c));
	memset(c->hour, 0, sizeof(c->hour));
	memset(c->min, 0, sizeof(c->min));
	memset(c->sec, 0, sizeof(c->sec));
	c->hour[0] = c->min[0] = c->sec[0] = 1;
	c->utc = 0;
	if (nt > 1 && len[nt - 1] == 3 && strncasecmp(tok[nt - 1], "UTC",
	    3) == 0) {
		c->utc = 1;
		nt--;
	}
	if (isalpha((unsigned char)tok[k][0])) {
		memset(c->wday, 0, sizeof(c->wday));
		if (cal_weekdays(tok[k], len[k], c, err, errlen) == -1)
			return -1;
		k++;
	}
	if (k < nt && memchr(tok[k], ':', len[k]) == NULL) {
		if (cal_date(tok[k], len[k], c, err, errlen) == -1)
			return -1;
		k++;
	}
	if (k < nt) {
		if (memchr(tok[k], ':', len[k]) == NULL) {
			snprintf(err, errlen, "\"%.*s\" is not a time such as "
			    "06:00", (int)len[k], tok[k]);
			return -1;
		}
		if (cal_time(tok[k], len[k], c, err, errlen) == -1)
			return -1;
		k++;
	}
	if (k < nt) {
		snprintf(err, errlen, "\"%.*s\" is not understood (only UTC "
		    "may follow the time; other time zones are not supported)",
		    (int)len[k], tok[k]);
		return -1;
	}
	return 0;
}

static int
days_in(int y, int m)
{
	static const int	 d[13] = { 0, 31, 28, 31, 30, 31, 30, 31, 31,
				    30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m];
}

/* 0 = Sunday (Sakamoto). */
static int
weekday(int y, int m, int d)
{
	static const int	 t[12] = { 0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4 };

	if (m < 3)
		y--;
	return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

/* mktime() of the wall time, or -1 when it normalises to another one. */
static time_t
cal_mktime(int y, int m, int d, int h, int mi, int s, int isdst)
{
	struct tm	 tm;
	time_t		 t;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = isdst;
	if ((t = mktime(&tm)) == (time_t)-1 || tm.tm_hour != h ||
	    tm.tm_min != mi || tm.tm_mday != d)
		return (time_t)-1;
	return t;
}

/*
 * The first time of y-m-d h:mi:s in the spec's zone after `after`; -1 when
 * there is none (a wall time skipped when the clocks go forward, or past).
 * A wall time that happens twice (when they go back) is its first
 * occurrence after `after`, as systemd has it.
 */
static time_t
cal_make(const struct calspec *c, int y, int m, int d, int h, int mi, int s,
    time_t after)
{
	struct tm	 tm;
	time_t		 t, u;

	if (c->utc) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = s;
		t = timegm(&tm);
		return t > after ? t : (time_t)-1;
	}
	t = cal_mktime(y, m, d, h, mi, s, 1);
	u = cal_mktime(y, m, d, h, mi, s, 0);
	if (t <= after || (u > after && u < t))
		t = u;
	return t > after ? t : (time_t)-1;
}

/*
 * The first time on day y-m-d after `after`. from is `after` broken down
 * when it falls on that day, and only later wall times are taken, as
 * systemd does (it matters when the clocks go back), else NULL.
 */
static int
cal_day(const struct calspec *c, int y, int m, int d, const struct tm *from,
    time_t after, time_t *next)
{
	int	 h, mi, s, now = -1;
	time_t	 t;

	if (from != NULL)
		now = (from->tm_hour * 60 + from->tm_min) * 60 + from->tm_sec;
	for (h = from ? from->tm_hour : 0; h < 24; h++) {
		if (!c->hour[h])
			continue;
		for (mi = from && h == from->tm_hour ? from->tm_min : 0;
		    mi < 60; mi++) {
			if (!c->min[mi])
				continue;
			for (s = 0; s < 60; s++) {
				if (!c->sec[s] || (h * 60 + mi) * 60 + s <= now)
					continue;
				if ((t = cal_make(c, y, m, d, h, mi, s,
				    after)) == (time_t)-1)
					continue;
				*next = t;
				return 0;
			}
		}
	}
	return -1;
}

static int
cal_find(const struct calspec *c, time_t after, time_t *next)
{
	struct tm	 a;
	int		 y, m, d, ay, am, ad;

	if ((c->utc ? gmtime_r(&after, &a) : localtime_r(&after, &a)) == NULL)
		return -1;
	ay = a.tm_year + 1900;
	am = a.tm_mon + 1;
	ad = a.tm_mday;
	for (y = ay < CAL_YEAR_MIN ? CAL_YEAR_MIN : ay; y <= CAL_YEAR_MAX;
	    y++) {
		if (!c->year[y - CAL_YEAR_MIN])
			continue;
		for (m = y == ay ? am : 1; m <= 12; m++) {
			if (!c->mon[m])
				continue;
			for (d = y == ay && m == am ? ad : 1;
			    d <= days_in(y, m); d++) {
				if (!c->mday[d] || !c->wday[weekday(y, m, d)])
					continue;
				if (cal_day(c, y, m, d, y == ay && m == am &&
				    d == ad ? &a : NULL, after, next) == 0)
					return 0;
			}
		}
	}
	return -1;
}

int
calendar_next_err(const char *expr, time_t after, time_t *next, char *err,
    size_t errlen)
{
	struct calspec	 c;
	char		 why[256];

	if (cal_parse(expr, &c, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "schedule \"%.80s\" is not understood: "
		    "%s", expr, why);
		return -1;
	}
	if (cal_find(&c, after, next) == -1) {
		snprintf(err, errlen, "schedule \"%.80s\" never elapses after "
		    "this time", expr);
		return -1;
	}
	return 0;
}

int
calendar_next(const char *expr, time_t after, time_t *next)
{
	char	 err[MAX_ERRMSG];

	if (calendar_next_err(expr, after, next, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------- asking systemd */

/* "Tue 2026-11-24 23:30:00 UTC" (TZ=UTC) or "@1795562000"; -1 if neither. */
static int
systemd_parse(const char *s, time_t *t)
{
	struct tm	 tm;
	long long	 v;
	char		 day[4], zone[4];
	int		 n = 0;

	if (s[0] == '@')
		return parse_ll(s + 1, 1, INT64_MAX / 1000000, &v) == -1 ? -1 :
		    (*t = (time_t)v, 0);
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%3s %d-%d-%d %d:%d:%d %3s%n", day, &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, zone,
	    &n) != 8 || s[n] != '\0' || strcmp(zone, "UTC") != 0)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = timegm(&tm);
	return *t == (time_t)-1 ? -1 : 0;
}

/* Read what fd gives into out until EOF or the deadline; -1 on timeout. */
static int
read_until(int fd, char *out, size_t outlen, int64_t deadline)
{
	struct pollfd	 p = { .fd = fd, .events = POLLIN };
	size_t		 n = 0;
	ssize_t		 r;
	int64_t		 left;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		r = read(fd, out + n, outlen - 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == outlen - 1)
			break;
	}
	out[n] = '\0';
	return 0;
}

/*
 * The timer's next elapse as systemd reports it: systemctl run without a
 * shell, with a short timeout. -1 when systemd is not running, the timer
 * is not active, or the answer is not a sane time.
 */
static int
systemd_next(time_t now, time_t *next)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C",
	    "TZ=UTC", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", NULL };
	static char *const argv[] = { "systemctl", "show", SYSTEMD_TIMER,
	    "-p", "NextElapseUSecRealtime", "--value", "--timestamp=unix",
	    "--no-pager", NULL };
	const char	*path;
	char		 out[SYSTEMD_MAX_OUT];
	int		 fds[2], devnull, st, rc;
	pid_t		 pid;

	if (access("/run/systemd/system", F_OK) == -1)
		return -1;	/* not booted with systemd (sd_booted) */
	path = access("/usr/bin/systemctl", X_OK) == 0 ? "/usr/bin/systemctl" :
	    access("/bin/systemctl", X_OK) == 0 ? "/bin/systemctl" : NULL;
	if (path == NULL || pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR);
		if (devnull == -1 || dup2(devnull, 0) == -1 ||
		    dup2(fds[1], 1) == -1 || dup2(devnull, 2) == -1)
			_exit(127);
		execve(path, argv, envp);
		_exit(127);
	}
	close(fds[1]);
	rc = read_until(fds[0], out, sizeof(out),
	    now_ms() + SYSTEMD_TIMEOUT_MS);
	close(fds[0]);
	if (rc == -1)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (rc == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	out[strcspn(out, "\n")] = '\0';
	if (systemd_parse(out, next) == -1 || *next < now - 60 ||
	    *next > now + NEXT_MAX_AHEAD)
		return -1;
	return 0;
}

/*
 * As calendar_next_err(), in the system's time zone as systemd uses it
 * (main() sets TZ to the configured one for the reports).
 */
static int
calendar_next_system(const char *expr, time_t after, time_t *next,
    char *err, size_t errlen)
{
	char	*saved = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
	int	 rc;

	unsetenv("TZ");
	tzset();
	rc = calendar_next_err(expr, after, next, err, errlen);
	if (saved != NULL)
		setenv("TZ", saved, 1);
	free(saved);
	tzset();
	return rc;
}

int
next_sync_time(const struct config *cfg, time_t *next, const char **how)
{
	static char	 buf[MAX_ERRMSG];
	time_t		 now = time(NULL);

	if (systemd_next(now, next) == 0) {
		*how = "from systemd";
		return 0;
	}
	if (calendar_next_system(cfg->schedule, now, next, buf,
	    sizeof(buf)) == -1) {
		*how = buf;
		return -1;
	}
	snprintf(buf, sizeof(buf), "computed from schedule %.256s",
	    cfg->schedule);
	*how = buf;
	return 0;
}

int
next_sync(const struct config *cfg, char *out, size_t outlen,
    const char **how)
{
	struct tm	 tm;
	time_t		 t;

	if (next_sync_time(cfg, &t, how) == -1 ||
	    localtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0) {
		snprintf(out, outlen, "unknown");
		return -1;
	}
	return 0;
}
