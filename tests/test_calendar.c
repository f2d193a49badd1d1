/*
 * calendar.c: the next elapse of OnCalendar= expressions.
 *
 *	test_calendar [DIR]			known answers, as TAP
 *	test_calendar --next EXPR AFTER N	N elapses after AFTER (epoch
 *						seconds), one a line, for
 *						t_systemd.sh to compare with
 *						systemd-analyze calendar
 *	test_calendar --next-sync CONFIG	the next scheduled sync, as
 *						status shows it
 */
#include <stdlib.h>
#include <string.h>

#include "rostersync.h"

#define BASE	1767226020	/* Thu 2026-01-01 00:07:00 UTC */

static int	 n, failed;

static void
expect(const char *tz, const char *expr, time_t after, time_t want)
{
	time_t	 got = 0;
	char	 err[MAX_ERRMSG] = "";
	int	 rc;

	setenv("TZ", tz, 1);
	tzset();
	rc = calendar_next_err(expr, after, &got, err, sizeof(err));
	n++;
	if (rc == 0 && got == want) {
		printf("ok %d - %s: \"%s\" after %lld is %lld\n", n, tz, expr,
		    (long long)after, (long long)want);
		return;
	}
	failed = 1;
	printf("not ok %d - %s: \"%s\" after %lld is %lld\n# got %lld %s\n",
	    n, tz, expr, (long long)after, (long long)want, (long long)got,
	    err);
}

/* expr is refused, and the message holds part. */
static void
refused(const char *expr, const char *part)
{
	time_t	 got = 0;
	char	 err[MAX_ERRMSG] = "";
	int	 rc;

	rc = calendar_next_err(expr, BASE, &got, err, sizeof(err));
	n++;
	if (rc == -1 && strstr(err, part) != NULL &&
	    strstr(err, "schedule") != NULL) {
		printf("ok %d - \"%s\" refused: %s\n", n, expr, err);
		return;
	}
	failed = 1;
	printf("not ok %d - \"%s\" refused with \"%s\"\n# rc %d, got %lld, "
	    "message: %s\n", n, expr, part, rc, (long long)got, err);
}

static int
next_mode(const char *expr, const char *after, const char *count)
{
	long long	 a, k, i;
	time_t		 t;
	char		 err[MAX_ERRMSG];

	if (parse_ll(after, 0, INT64_MAX, &a) == -1 ||
	    parse_ll(count, 1, 1000, &k) == -1) {
		fprintf(stderr, "usage: test_calendar --next EXPR AFTER N\n");
		return 2;
	}
	t = (time_t)a;
	for (i = 0; i < k; i++) {
		if (calendar_next_err(expr, t, &t, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		printf("%lld\n", (long long)t);
	}
	return 0;
}

/* What `status` shows: "TIME (HOW)" for a configuration. */
static int
next_sync_mode(const char *path)
{
	struct config	 cfg;
	struct errlist	 errs = { 0 };
	const char	*how;
	char		 out[64];
	int		 rc;

	if (config_load(path, &cfg, &errs) == -1) {
		fprintf(stderr, "%s: %zu errors\n", path, errs.n);
		rc = 3;
	} else {
		rc = next_sync(&cfg, out, sizeof(out), &how) == 0 ? 0 : 1;
		printf("%s (%s)\n", out, how);
	}
	errlist_free(&errs);
	config_free(&cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--next") == 0)
		return next_mode(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "--next-sync") == 0)
		return next_sync_mode(argv[2]);

	expect("UTC", "*:0/15", BASE, 1767226500);
	expect("UTC", "*:00/10", BASE, 1767226200);
	expect("UTC", "minutely", BASE, 1767226080);
	expect("UTC", "hourly", BASE, 1767229200);
	expect("UTC", "daily", BASE, 1767312000);
	expect("UTC", "weekly", BASE, 1767571200);
	expect("UTC", "*-*-* 06:00:00", BASE, 1767247200);
	expect("UTC", "8,12,16:00", BASE, 1767254400);
	expect("UTC", "Mon..Fri *-*-* 09:00", BASE, 1767258000);
	expect("UTC", "Mon..Fri *-*-* 09:00", 1767258000, 1767344400);
	expect("UTC", "Mon-Fri 09:00", 1767344400, 1767603600);
	expect("UTC", "*-02-29 12:00", BASE, 1835438400);
	/* Strictly after: an elapse at `after` itself is not the next. */
	expect("UTC", "*:0/15", 1767226500, 1767227400);
	/* UTC at the end wins over TZ. */
	expect("America/New_York", "daily UTC", BASE, 1767312000);
	/* Local time across the spring change: midnight CET, then CEST. */
	expect("Europe/Berlin", "daily", 1774699200, 1774738800);
	expect("Europe/Berlin", "daily", 1774738800, 1774821600);

	setenv("TZ", "UTC", 1);
	tzset();
	refused("*:*/5", "minute");
	refused("bogus", "weekday");
	refused("*-*~01", "\"~\"");
	refused("12:00 Europe/Paris", "time zones");
	refused("25:00", "hour");
	refused("*:61", "minute");
	refused("", "empty");
	refused("Mon..Fry 09:00", "weekday");
	refused("2020-01-01", "never elapses");
	refused("*-02-30", "never elapses");

	printf("1..%d\n", n);
	return failed;
}
