/*
 * The configuration file, read with libconfig and checked as a whole.
 *
 * Every problem is collected as "FILE:LINE: message", so that one
 * check-config shows all of them at once; a config with any problem is not
 * used at all. Messages say what to write instead. Defaults are filled in
 * first, so a setting that is absent or wrong leaves its default behind and
 * the rest of the checks still see a complete sync.
 *
 * Note: libconfig 1.5 keeps a whole number without the L suffix in an int,
 * so 4294967296 reads as 0; nothing here can see that.
 */
#include <sys/stat.h>

#include <errno.h>
#include <iconv.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rostersync.h"

#define ZONEINFO_DIR	"/usr/share/zoneinfo"
#define MAX_SYNC_NAME	63	/* [a-z0-9][a-z0-9_-]{0,62} */
#define MAX_RETENTION	36500	/* days: a hundred years */

/* get_str() */
#define STR_EMPTY	0x01	/* "" is a valid value */

/* get_list() */
#define LIST_STRING	0x01	/* a single string is a list of one */
#define LIST_EMPTY	0x02	/* "" is a valid element */
#define LIST_DUPS	0x04	/* an element may appear twice */

const char *const canon_names[F__COUNT] = {
	"employee_id", "email", "first_name", "last_name", "display_name",
	"manager_id", "department", "title", "location", "employment_status",
	"start_date", "end_date"
};

/* The settings each group knows; anything else is a mistake. */
static const char *const top_names[] = {
	"database", "spool", "timezone", "schedule", "lock_wait", "syncs", NULL
};
static const char *const sync_names[] = {
	"name", "enabled", "source", "pattern", "format", "sheet",
	"encoding", "settle_seconds", "marker", "after", "processed_dir", "reports_remote",
	"mapping", "key", "required", "keep_if_empty", "ignore_columns",
	"terminated_field", "terminated_values", "team_field", "max_deletes",
	"max_delete_percent", "max_update_percent", "on_threshold", "approval", "seat_limit",
	"delete_mode", "grace_days", "keep_reports_days", "keep_inputs_days",
	"hook", "sftp", NULL
};
static const char *const hook_names[] = {
	"path", "args", "timeout", "mode", "window", "name", NULL
};
static const char *const sftp_names[] = {
	"known_hosts", "identity", "passphrase_file", "password_file",
	"accept_new_host_key", "timeout", "retries", "read_size",
	"read_requests", "write_size", "write_requests", "streams", NULL
};

/* Enumerations, in the order of their enum. */
static const char *const fmt_words[] = { "auto", "csv", "xlsx", NULL };
static const char *const after_words[] = { "move", "delete", "leave", NULL };
static const char *const delmode_words[] = { "deactivate", "delete", NULL };
static const char *const onthr_words[] = { "hold_all", "hold_deletes", NULL };
static const char *const hookmode_words[] = { "exec", "stream", NULL };
static const char *const approval_words[] = {
	"never", "above_threshold", "always", NULL
};

/* A problem found, kept until all are found to sort them by line. */
struct cmsg {
	const char	*file;		/* owned by libconfig */
	unsigned	 line;		/* 0: the file as a whole */
	size_t		 seq;		/* order found, for a stable sort */
	char		*text;		/* the whole message */
};

/* What config_load() is working on, for messages. */
struct ctx {
	const char	*path;		/* the config file, as given */
	char		*dir;		/* its directory, absolute */
	size_t		 syncno;	/* the sync being read (1-based), or 0 */
	const char	*sync;		/* its name once known */
	const char	*gpfx;		/* "hook.", "sftp." or "" */
	struct errlist	*errs;		/* problems not about a setting */
	struct cmsg	*msgs;		/* problems with settings, see cerr() */
	size_t		 nmsgs;
};

int
canon_lookup(const char *name)
{
	int	 i;

	for (i = 0; i < F__COUNT; i++)
		if (strcmp(name, canon_names[i]) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------ errlist */

void
errlist_add(struct errlist *e, const char *fmt, ...)
{
	va_list	 ap;
	char	*m;
	size_t	 k;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (r == -1)
		fatalx("out of memory formatting a message");
	if ((k = strlen(m)) >= MAX_ERRMSG) {
		k = MAX_ERRMSG - 1;
		while (k > 0 && ((unsigned char)m[k] & 0xc0) == 0x80)
			k--;	/* do not cut a UTF-8 sequence */
		m[k] = '\0';
	}
	e->msg = xrealloc(e->msg, (e->n + 1) * sizeof(*e->msg));
	e->msg[e->n++] = m;
}

/* Safe on a zeroed errlist; leaves it empty and reusable. */
void
errlist_free(struct errlist *e)
{
	size_t	 i;

	for (i = 0; i < e->n; i++)
		free(e->msg[i]);
	free(e->msg);
	e->msg = NULL;
	e->n = 0;
}

/*
 * One problem at setting s (NULL: the file as a whole), prefixed with the
 * file, the line and the sync it is in. Kept in c until cerr_flush().
 */
static void
cerr(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	va_list		 ap;
	char		 msg[MAX_ERRMSG], pfx[96] = "", *text;
	const char	*file = c->path;
	unsigned	 line = 0;
	struct cmsg	*m;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->sync != NULL)
		snprintf(pfx, sizeof(pfx), "sync \"%s\": ", c->sync);
	else if (c->syncno > 0)
		snprintf(pfx, sizeof(pfx), "sync #%zu: ", c->syncno);
	if (s != NULL) {
		if (config_setting_source_file(s) != NULL)
			file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	if (line > 0)
		xasprintf(&text, "%s:%u: %s%s", file, line, pfx, msg);
	else
		xasprintf(&text, "%s: %s%s", file, pfx, msg);
	c->msgs = xrealloc(c->msgs, (c->nmsgs + 1) * sizeof(*c->msgs));
	m = &c->msgs[c->nmsgs];
	m->file = file;
	m->line = line;
	m->seq = c->nmsgs++;
	m->text = text;
}

static const char *sort_main;	/* the main file, for cmsg_cmp() */

/* The main file first, then by file, line and the order found. */
static int
cmsg_cmp(const void *pa, const void *pb)
{
	const struct cmsg	*a = pa, *b = pb;
	int			 r;

	if ((r = strcmp(a->file, b->file)) != 0) {
		if (strcmp(a->file, sort_main) == 0)
			return -1;
		if (strcmp(b->file, sort_main) == 0)
			return 1;
		return r;
	}
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Move the messages cerr() kept, sorted, to the caller's errlist. */
static void
cerr_flush(struct ctx *c)
{
	size_t	 i;

	if (c->nmsgs == 0)
		return;
	sort_main = c->path;
	qsort(c->msgs, c->nmsgs, sizeof(*c->msgs), cmsg_cmp);
	for (i = 0; i < c->nmsgs; i++) {
		errlist_add(c->errs, "%s", c->msgs[i].text);
		free(c->msgs[i].text);
	}
	free(c->msgs);
	c->msgs = NULL;
	c->nmsgs = 0;
}

/* A short, printable rendering of a value for messages: 250, "csv". */
static const char *
show(const config_setting_t *s, char *b, size_t len)
{
	const char	*v;
	size_t		 i, k = 0;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(b, len, "%lld", config_setting_get_int64(s));
		return b;
	case CONFIG_TYPE_FLOAT:
		snprintf(b, len, "%g", config_setting_get_float(s));
		return b;
	case CONFIG_TYPE_BOOL:
		return config_setting_get_bool(s) ? "true" : "false";
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		return "a list";
	case CONFIG_TYPE_STRING:
		break;
	default:
		return "nothing";
	}
	v = config_setting_get_string(s);
	b[k++] = '"';
	for (i = 0; v[i] != '\0' && k + 5 < len; i++)
		b[k++] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
	if (v[i] != '\0')
		k += (size_t)snprintf(b + k, len - k, "...");
	snprintf(b + k, len - k, "\"");
	return b;
}

/* Levenshtein distance of two setting names, SIZE_MAX when too long. */
static size_t
distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), d[65], i, j, prev, t, v;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			t = d[j];
			v = prev + (a[i - 1] != b[j - 1]);
			if (d[j] + 1 < v)
				v = d[j] + 1;
			if (d[j - 1] + 1 < v)
				v = d[j - 1] + 1;
			d[j] = v;
			prev = t;
		}
	}
	return d[lb];
}

/* Every member of group g must be one of names. */
static void
check_names(struct ctx *c, const config_setting_t *g,
    const char *const names[])
{
	config_setting_t	*m;
	const char		*name, *best;
	size_t			 i, d, bestd;
	int			 n, k;

	n = config_setting_length(g);
	for (k = 0; k < n; k++) {
		m = config_setting_get_elem(g, (unsigned)k);
		name = config_setting_name(m);
		best = NULL;
		bestd = SIZE_MAX;
		for (i = 0; names[i] != NULL; i++) {
			if (strcmp(name, names[i]) == 0)
				break;
			if ((d = distance(name, names[i])) < bestd) {
				bestd = d;
				best = names[i];
			}
		}
		if (names[i] != NULL)
			continue;
		if (bestd <= 2 && bestd < strlen(name))
			cerr(c, m, "unknown setting \"%s%s\"; did you mean "
			    "\"%s%s\"?", c->gpfx, name, c->gpfx, best);
		else
			cerr(c, m, "unknown setting \"%s%s\"; remove it or "
			    "correct its name", c->gpfx, name);
	}
}

/* ---------------------------------------------------------- getters */

/*
 * The getters read one member of group g. Each returns 0 when it is not
 * set (*out keeps its default), 1 when *out was set, or -1 after reporting
 * a problem (*out keeps its default).
 */

static int
str_check(struct ctx *c, const config_setting_t *m, const char *what,
    const char *v, int flags)
{
	const char	*p;

	if (*v == '\0' && !(flags & STR_EMPTY)) {
		cerr(c, m, "%s must not be empty", what);
		return -1;
	}
	for (p = v; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cerr(c, m, "%s must not contain control characters "
			    "(tabs, new lines)", what);
			return -1;
		}
	}
	return 0;
}

static int
get_str(struct ctx *c, const config_setting_t *g, const char *name,
    int flags, char **out)
{
	config_setting_t	*m;
	char			 what[96], b[80];

	if ((m = config_setting_get_member(g, name)) == NULL)
		return 0;
	snprintf(what, sizeof(what), "%s%s", c->gpfx, name);
	if (config_setting_type(m) != CONFIG_TYPE_STRING) {
		cerr(c, m, "%s must be a string in double quotes, not %s",
		    what, show(m, b, sizeof(b)));
		return -1;
	}
	if (str_check(c, m, what, config_setting_get_string(m), flags) == -1)
		return -1;
	free(*out);
	*out = xstrdup(config_setting_get_string(m));
	return 1;
}

static int
get_ll(struct ctx *c, const config_setting_t *g, const char *name,
    long long min, long long max, long long *out)
{
	config_setting_t	*m;
	long long		 v;
	char			 b[80];
	int			 t;

	if ((m = config_setting_get_member(g, name)) == NULL)
		return 0;
	t = config_setting_type(m);
	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		v = config_setting_get_int64(m);
		if (v >= min && v <= max) {
			*out = v;
			return 1;
		}
	}
	if (max == LLONG_MAX)
		cerr(c, m, "%s%s must be a whole number of %lld or more, "
		    "not %s", c->gpfx, name, min, show(m, b, sizeof(b)));
	else
		cerr(c, m, "%s%s must be a whole number from %lld to %lld, "
		    "not %s", c->gpfx, name, min, max, show(m, b, sizeof(b)));
	return -1;
}

static int
get_int(struct ctx *c, const config_setting_t *g, const char *name,
    int min, int max, int *out)
{
	long long	 v;
	int		 r;

	if ((r = get_ll(c, g, name, min, max, &v)) == 1)
		*out = (int)v;
	return r;
}

/* A percentage: a whole or decimal number from 0 to 100. */
static int
get_pct(struct ctx *c, const config_setting_t *g, const char *name,
    double *out)
{
	config_setting_t	*m;
	double			 v;
	char			 b[80];

	if ((m = config_setting_get_member(g, name)) == NULL)
		return 0;
	if (config_setting_is_number(m)) {
		if (config_setting_type(m) == CONFIG_TYPE_FLOAT)
			v = config_setting_get_float(m);
		else
			v = (double)config_setting_get_int64(m);
		if (v >= 0 && v <= 100) {	/* false for NaN */
			*out = v;
			return 1;
		}
	}
	cerr(c, m, "%s%s must be a number from 0 to 100, not %s", c->gpfx,
	    name, show(m, b, sizeof(b)));
	return -1;
}

static int
get_bool(struct ctx *c, const config_setting_t *g, const char *name,
    int *out)
{
	config_setting_t	*m;
	char			 b[80];

	if ((m = config_setting_get_member(g, name)) == NULL)
		return 0;
	if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
		cerr(c, m, "%s%s must be true or false (without quotes), "
		    "not %s", c->gpfx, name, show(m, b, sizeof(b)));
		return -1;
	}
	*out = config_setting_get_bool(m);
	return 1;
}

/* One of words, stored as its index. */
static int
get_enum(struct ctx *c, const config_setting_t *g, const char *name,
    const char *const words[], int *out)
{
	config_setting_t	*m;
	const char		*v = NULL;
	struct buf		 w = { 0 };
	char			 b[80];
	int			 i;

	if ((m = config_setting_get_member(g, name)) == NULL)
		return 0;
	if (config_setting_type(m) == CONFIG_TYPE_STRING)
		v = config_setting_get_string(m);
	for (i = 0; v != NULL && words[i] != NULL; i++) {
		if (strcmp(v, words[i]) == 0) {
			*out = i;
			return 1;
		}
	}
	for (i = 0; words[i] != NULL; i++)
		buf_printf(&w, "%s\"%s\"", i == 0 ? "" :
		    words[i + 1] == NULL ? " or " : ", ", words[i]);
	cerr(c, m, "%s%s must be %s, not %s", c->gpfx, name, w.p,
	    show(m, b, sizeof(b)));
	buf_free(&w);
	return -1;
}

static char **
strv_one(const char *s)
{
	char	**v = xcalloc(2, sizeof(*v));

	v[0] = xstrdup(s);
	return v;
}

/* Safe with v NULL. */
static void
strv_free(char **v, size_t n)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
strv_has(char *const *v, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* A list of strings, [ "a", "b" ] or ( "a", "b" ); NULL-terminated. */
static int
get_list(struct ctx *c, const config_setting_t *g, const char *name,
    int flags, char ***out, size_t *nout)
{
	config_setting_t	*m, *e;
	char			 what[96], b[80], **v;
	size_t			 n, i, k = 0;
	int			 single, t, bad = 0;

	if ((m = config_setting_get_member(g, name)) == NULL)
		return 0;
	snprintf(what, sizeof(what), "%s%s", c->gpfx, name);
	t = config_setting_type(m);
	single = t == CONFIG_TYPE_STRING && (flags & LIST_STRING);
	if (!single && t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
		cerr(c, m, "%s must be %sa list of strings such as "
		    "[\"a\", \"b\"], not %s", what, flags & LIST_STRING ?
		    "a string or " : "", show(m, b, sizeof(b)));
		return -1;
	}
	n = single ? 1 : (size_t)config_setting_length(m);
	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		e = single ? m : config_setting_get_elem(m, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cerr(c, e, "%s must hold only strings in double "
			    "quotes, not %s", what, show(e, b, sizeof(b)));
			bad = 1;
		} else if (str_check(c, e, what, config_setting_get_string(e),
		    flags & LIST_EMPTY ? STR_EMPTY : 0) == -1) {
			bad = 1;
		} else if (!(flags & LIST_DUPS) &&
		    strv_has(v, k, config_setting_get_string(e))) {
			cerr(c, e, "%s lists \"%s\" twice; remove one", what,
			    config_setting_get_string(e));
			bad = 1;
		} else
			v[k++] = xstrdup(config_setting_get_string(e));
	}
	if (bad) {
		strv_free(v, k);
		return -1;
	}
	strv_free(*out, *nout);
	*out = v;
	*nout = k;
	return 1;
}

/* ------------------------------------------------------------- paths */

/*
 * p made absolute against dir. dir is absolute and free of symbolic links
 * (realpath), so leading ".." parts of p can be taken off it without
 * changing what the path names. Returns a string to free.
 */
static char *
path_abs(const char *dir, const char *p)
{
	size_t	 dl = strlen(dir);
	char	*r;

	if (p[0] == '/')
		return xstrdup(p);
	for (;;) {
		if (strcmp(p, ".") == 0 || strncmp(p, "./", 2) == 0)
			p += 1;
		else if (strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0) {
			while (dl > 1 && dir[dl - 1] != '/')
				dl--;
			if (dl > 1)
				dl--;
			p += 2;
		} else if (*p == '/')
			p++;
		else
			break;
	}
	if (*p == '\0')
		xasprintf(&r, "%.*s", (int)dl, dir);
	else
		xasprintf(&r, "%.*s/%s", dl == 1 ? 0 : (int)dl, dir, p);
	return r;
}

/* A local path setting: made absolute against the config's directory. */
static int
get_path(struct ctx *c, const config_setting_t *g, const char *name,
    char **out)
{
	char	*v = NULL;
	int	 r;

	if ((r = get_str(c, g, name, 0, &v)) != 1)
		return r;
	if (v[0] == '~') {
		cerr(c, config_setting_get_member(g, name), "%s%s: \"~\" is "
		    "not expanded; write the full path", c->gpfx, name);
		free(v);
		return -1;
	}
	free(*out);
	*out = path_abs(c->dir, v);
	free(v);
	return 1;
}

/* A folder below a source: no leading "/", no "." or ".." parts. */
static int
relpath_valid(const char *p, int abs_ok)
{
	size_t	 n;

	if (*p == '/' && !abs_ok)
		return 0;
	while (*p != '\0') {
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && strncmp(p, "..",
		    2) == 0))
			return 0;
		p += n;
		p += strspn(p, "/");
	}
	return 1;
}

/* --------------------------------------------------------- top level */

static int
timezone_valid(const char *tz)
{
	struct stat	 st;
	char		*p;
	int		 ok;

	if (strcmp(tz, "UTC") == 0)
		return 1;
	if (tz[0] == '/' || strstr(tz, "..") != NULL ||
	    tz[strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789/_+-.")] != '\0')
		return 0;
	xasprintf(&p, "%s/%s", ZONEINFO_DIR, tz);
	ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	return ok;
}

static void
parse_top(struct ctx *c, const config_setting_t *root, struct config *cfg)
{
	check_names(c, root, top_names);
	get_path(c, root, "database", &cfg->database);
	get_path(c, root, "spool", &cfg->spool);
	if (get_str(c, root, "timezone", 0, &cfg->timezone) == 1 &&
	    !timezone_valid(cfg->timezone))
		cerr(c, config_setting_get_member(root, "timezone"),
		    "timezone \"%s\" is not a time zone in " ZONEINFO_DIR
		    "; use a name such as \"Europe/London\" or \"UTC\"",
		    cfg->timezone);
	if (get_str(c, root, "schedule", 0, &cfg->schedule) == 1) {
		char	 why[MAX_ERRMSG];
		time_t	 next;

		if (calendar_next_err(cfg->schedule, time(NULL), &next, why,
		    sizeof(why)) == -1)
			cerr(c, config_setting_get_member(root, "schedule"),
			    "schedule \"%s\" is not a calendar expression "
			    "rostersync understands: %s", cfg->schedule, why);
	}
	get_int(c, root, "lock_wait", 0, 3600, &cfg->lock_wait);
}

/* -------------------------------------------------------------- source */

static int
host_valid(const char *h, size_t n)
{
	size_t	 i;

	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		for (i = 1; i < n - 1; i++)
			if (strchr("0123456789abcdefABCDEF:.", h[i]) == NULL)
				return 0;
		return n > 2;
	}
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789.-_", h[i]) == NULL)
			return 0;
	return n > 0;
}

/*
 * "sftp://user@host[:port]/path" (rest is what follows "sftp://"), stored
 * as "sftp://user@host:port/path" with the port always written.
 */
static int
source_sftp(struct ctx *c, const config_setting_t *m, const char *url,
    const char *rest, char **out)
{
	const char	*at, *host, *path, *colon, *end, *rb;
	char		*port = NULL;
	long long	 pn = 22;
	size_t		 ulen, hlen;

	path = rest + strcspn(rest, "/");
	if ((at = memrchr(rest, '@', (size_t)(path - rest))) == NULL ||
	    at == rest) {
		cerr(c, m, "source \"%s\" has no user name; write "
		    "sftp://USER@HOST/PATH", url);
		return -1;
	}
	ulen = (size_t)(at - rest);
	if (memchr(rest, ':', ulen) != NULL) {
		cerr(c, m, "source must not hold a password; put it in "
		    "sftp.password_file, or better use sftp.identity");
		return -1;
	}
	host = at + 1;
	hlen = (size_t)(path - host);
	end = host;
	if (host[0] == '[' && (rb = memchr(host, ']', hlen)) != NULL)
		end = rb;		/* [::1]:2222 */
	colon = memchr(end, ':', (size_t)(path - end));
	if (colon != NULL) {
		port = xstrndup(colon + 1, (size_t)(path - colon - 1));
		hlen = (size_t)(colon - host);
	}
	if (!host_valid(host, hlen)) {
		cerr(c, m, "source \"%s\" has no valid host name; write "
		    "sftp://USER@HOST/PATH", url);
		free(port);
		return -1;
	}
	if (port != NULL && parse_ll(port, 1, 65535, &pn) == -1) {
		cerr(c, m, "source \"%s\": the port must be a number from 1 "
		    "to 65535, or left out for 22", url);
		free(port);
		return -1;
	}
	free(port);
	if (*path == '\0') {
		cerr(c, m, "source \"%s\" has no folder; write "
		    "sftp://USER@HOST/PATH, e.g. sftp://%.*s@%.*s/outbound",
		    url, (int)ulen, rest, (int)hlen, host);
		return -1;
	}
	xasprintf(out, "sftp://%.*s@%.*s:%lld%s", (int)ulen, rest, (int)hlen,
	    host, pn, path);
	return 0;
}

static void
parse_source(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	config_setting_t	*m;
	char			*v = NULL, *p;

	if (get_str(c, g, "source", 0, &v) == 0) {
		cerr(c, g, "source is missing; set source = \"dir:/PATH\" for "
		    "a local drop-zone or \"sftp://USER@HOST/PATH\"");
		return;
	}
	if (v == NULL)
		return;
	m = config_setting_get_member(g, "source");
	if (strncmp(v, "dir:", 4) == 0 && v[4] != '\0' && v[4] != '~') {
		p = path_abs(c->dir, v + 4);
		xasprintf(&s->source, "dir:%s", p);
		free(p);
	} else if (strncmp(v, "dir:", 4) == 0)
		cerr(c, m, "source \"%s\" needs a directory after \"dir:\" "
		    "(the full path, no \"~\")", v);
	else if (strncmp(v, "sftp://", 7) == 0)
		source_sftp(c, m, v, v + 7, &s->source);
	else
		cerr(c, m, "source must start with \"dir:\" (a local "
		    "directory) or \"sftp://\", not \"%s\"", v);
	free(v);
}

/* Whether the sync's source, valid or not, is meant to be SFTP. */
static int
source_is_sftp(const config_setting_t *g)
{
	const char	*v;

	return config_setting_lookup_string(g, "source", &v) == CONFIG_TRUE &&
	    strncmp(v, "sftp://", 7) == 0;
}

/* "auto", "utf-8", or a name iconv knows (checked now, not at 3 am). */
static void
parse_encoding(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	iconv_t	 cd;

	if (get_str(c, g, "encoding", 0, &s->encoding) != 1 ||
	    enc_is_auto(s->encoding) || enc_is_utf8(s->encoding))
		return;
	if ((cd = iconv_open("UTF-8", s->encoding)) == (iconv_t)-1) {
		cerr(c, config_setting_get_member(g, "encoding"), "encoding "
		    "\"%s\" is not one iconv knows (\"auto\", \"utf-8\", "
		    "\"windows-1252\", \"iso-8859-15\", ...; iconv -l lists "
		    "them)", s->encoding);
		return;
	}
	iconv_close(cd);
}

/* pattern, format, sheet, settling and what becomes of taken files. */
static void
parse_fetch(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	int	 e, rr;

	if (get_str(c, g, "pattern", 0, &s->pattern) == 1 &&
	    strchr(s->pattern, '/') != NULL)
		cerr(c, config_setting_get_member(g, "pattern"), "pattern "
		    "\"%s\" is matched against file names, so it cannot "
		    "hold \"/\"; name the folder in source", s->pattern);
	if (get_enum(c, g, "format", fmt_words, &e) == 1)
		s->format = (enum fmt)e;
	get_str(c, g, "sheet", 0, &s->sheet);
	parse_encoding(c, g, s);
	get_int(c, g, "settle_seconds", 0, 86400, &s->settle_seconds);
	get_bool(c, g, "marker", &s->use_marker);
	if (get_enum(c, g, "after", after_words, &e) == 1)
		s->after = (enum after)e;
	if (get_str(c, g, "processed_dir", 0, &s->processed_dir) == 1 &&
	    !relpath_valid(s->processed_dir, 0))
		cerr(c, config_setting_get_member(g, "processed_dir"),
		    "processed_dir must be a folder inside the source such as "
		    "\"processed\" (no leading \"/\", no \".\" or \"..\" "
		    "parts), not \"%s\"", s->processed_dir);
	rr = get_str(c, g, "reports_remote", STR_EMPTY, &s->reports_remote);
	if (rr == 0 && source_is_sftp(g))
		s->reports_remote = xstrdup("reports");
	if (rr == 1 && *s->reports_remote == '\0') {
		free(s->reports_remote);	/* "": do not publish */
		s->reports_remote = NULL;
	} else if (rr == 1 && !relpath_valid(s->reports_remote, 1))
		cerr(c, config_setting_get_member(g, "reports_remote"),
		    "reports_remote must be a folder such as \"reports\" "
		    "(no \".\" or \"..\" parts), not \"%s\"",
		    s->reports_remote);
}

/* ------------------------------------------------------------- fields */

static struct slot *
slot_find(const struct sync *s, const char *name)
{
	size_t	 i;

	for (i = 0; i < s->nslots; i++)
		if (strcmp(s->slots[i].name, name) == 0)
			return &s->slots[i];
	return NULL;
}

static int
column_mapped(const struct sync *s, const char *col)
{
	size_t	 i;

	for (i = 0; i < s->nslots; i++)
		if (strcmp(s->slots[i].column, col) == 0)
			return 1;
	return 0;
}

static int
field_name_valid(const char *n)
{
	size_t	 i;

	if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z')))
		return 0;
	for (i = 1; n[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-", n[i]) == NULL)
			return 0;
	return 1;
}

/* One "field = \"HR column\"" line of a mapping. */
static void
mapping_add(struct ctx *c, const config_setting_t *f, struct sync *s)
{
	const char	*name = config_setting_name(f), *col;
	struct slot	*sl;
	char		 b[80];
	size_t		 i;
	int		 k;

	if (!field_name_valid(name)) {
		cerr(c, f, "mapping: \"%s\" is not a field name; use letters, "
		    "digits, _ and -", name);
		return;
	}
	if (canon_lookup(name) == -1)
		for (k = 0; k < F__COUNT; k++)
			if (strcasecmp(name, canon_names[k]) == 0) {
				cerr(c, f, "mapping: write the field \"%s\" "
				    "in lower case: %s", name, canon_names[k]);
				return;
			}
	if (config_setting_type(f) != CONFIG_TYPE_STRING) {
		cerr(c, f, "mapping: %s must be the HR column's header in "
		    "double quotes, not %s", name, show(f, b, sizeof(b)));
		return;
	}
	col = config_setting_get_string(f);
	if (str_check(c, f, "mapping: a column name", col, 0) == -1)
		return;
	for (i = 0; i < s->nslots; i++)
		if (strcmp(s->slots[i].column, col) == 0) {
			cerr(c, f, "mapping: column \"%s\" is mapped twice "
			    "(to %s and %s); map it once", col,
			    s->slots[i].name, name);
			return;
		}
	sl = &s->slots[s->nslots++];
	sl->name = xstrdup(name);
	sl->column = xstrdup(col);
	sl->canon = canon_lookup(name);
}

static void
parse_mapping(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	config_setting_t	*m;
	char			 b[80];
	int			 i, n;

	if ((m = config_setting_get_member(g, "mapping")) == NULL)
		return;
	if (!config_setting_is_group(m)) {
		cerr(c, m, "mapping must be a group such as { employee_id = "
		    "\"Employee ID\"; email = \"Work Email\"; }, not %s",
		    show(m, b, sizeof(b)));
		return;
	}
	if ((n = config_setting_length(m)) == 0) {
		cerr(c, m, "mapping is empty; map at least the key, or remove "
		    "it to take the header's names as they are");
		return;
	}
	if (n > MAX_SLOTS) {
		cerr(c, m, "mapping has %d fields; at most %d are allowed", n,
		    MAX_SLOTS);
		return;
	}
	s->slots = xcalloc((size_t)n, sizeof(*s->slots));
	for (i = 0; i < n; i++)
		mapping_add(c, config_setting_get_elem(m, (unsigned)i), s);
}

/* The names setting "what" lists (or is) must be mapped fields. */
static void
check_mapped(struct ctx *c, const config_setting_t *g, const char *what,
    const struct sync *s)
{
	config_setting_t	*m, *e;
	const char		*v;
	int			 i, n, single;

	if ((m = config_setting_get_member(g, what)) == NULL)
		return;
	single = config_setting_type(m) == CONFIG_TYPE_STRING;
	if (!single && !config_setting_is_aggregate(m))
		return;
	n = single ? 1 : config_setting_length(m);
	for (i = 0; i < n; i++) {
		e = single ? m : config_setting_get_elem(m, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			continue;
		v = config_setting_get_string(e);
		if (*v != '\0' && slot_find(s, v) == NULL)
			cerr(c, e, "%s names \"%s\", which is not in the "
			    "mapping; add %s = \"HR column\" to mapping, or "
			    "correct the name", what, v, v);
	}
}

/* With a mapping, every field named elsewhere must be in it. */
static void
fields_mapped(struct ctx *c, const config_setting_t *g, const struct sync *s)
{
	config_setting_t	*m;
	size_t			 i;

	if (s->slots == NULL)
		return;
	m = config_setting_get_member(g, "mapping");
	if (config_setting_get_member(g, "key") == NULL &&
	    slot_find(s, "employee_id") == NULL)
		cerr(c, m, "the key is employee_id unless key says otherwise, "
		    "and mapping does not map it; add employee_id = \"HR "
		    "column\" to mapping, or set key");
	check_mapped(c, g, "key", s);
	check_mapped(c, g, "required", s);
	check_mapped(c, g, "keep_if_empty", s);
	check_mapped(c, g, "terminated_field", s);
	check_mapped(c, g, "team_field", s);
	for (i = 0; i < s->nignore; i++)
		if (column_mapped(s, s->ignore[i]))
			cerr(c, config_setting_get_member(g, "ignore_columns"),
			    "column \"%s\" is both mapped and in "
			    "ignore_columns; remove it from one of them",
			    s->ignore[i]);
}

/* required is the key fields, then those listed. */
static void
required_merge(struct sync *s, char **req, size_t nreq)
{
	size_t	 i;

	strv_free(s->required, s->nrequired);
	s->required = xcalloc(s->nkeys + nreq + 1, sizeof(*s->required));
	s->nrequired = 0;
	for (i = 0; i < s->nkeys; i++)
		s->required[s->nrequired++] = xstrdup(s->keys[i]);
	for (i = 0; i < nreq; i++)
		if (!strv_has(s->required, s->nrequired, req[i]))
			s->required[s->nrequired++] = xstrdup(req[i]);
}

/* An empty key or required field skips the row: nothing to keep. */
static void
check_keep(struct ctx *c, const config_setting_t *g, const struct sync *s)
{
	config_setting_t	*m;
	size_t			 i;

	m = config_setting_get_member(g, "keep_if_empty");
	for (i = 0; i < s->nkeep_empty; i++) {
		if (strv_has(s->keys, s->nkeys, s->keep_empty[i]))
			cerr(c, config_setting_get_elem(m, (unsigned)i),
			    "keep_if_empty cannot hold the key field \"%s\": a "
			    "row without its key is skipped", s->keep_empty[i]);
		else if (strv_has(s->required, s->nrequired,
		    s->keep_empty[i]))
			cerr(c, config_setting_get_elem(m, (unsigned)i),
			    "\"%s\" is both required and in keep_if_empty; an "
			    "empty required field skips the row, so remove it "
			    "from one of them", s->keep_empty[i]);
	}
}

static void
parse_key(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	config_setting_t	*m;

	if (get_list(c, g, "key", LIST_STRING, &s->keys, &s->nkeys) != 1)
		return;
	m = config_setting_get_member(g, "key");
	if (s->nkeys == 0)
		cerr(c, m, "key must name at least one field, such as "
		    "key = \"employee_id\";");
	else if (s->nkeys > MAX_KEY_FIELDS)
		cerr(c, m, "key has %zu fields; a composite key may have at "
		    "most %d", s->nkeys, MAX_KEY_FIELDS);
}

/* key, required, keep_if_empty, ignore_columns and the special fields. */
static void
parse_fields(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	char	**req = NULL;
	size_t	 nreq = 0;

	parse_key(c, g, s);
	get_list(c, g, "required", 0, &req, &nreq);
	required_merge(s, req, nreq);
	strv_free(req, nreq);
	get_list(c, g, "keep_if_empty", 0, &s->keep_empty, &s->nkeep_empty);
	check_keep(c, g, s);
	get_list(c, g, "ignore_columns", 0, &s->ignore, &s->nignore);
	get_str(c, g, "terminated_field", 0, &s->terminated_field);
	get_list(c, g, "terminated_values", 0, &s->terminated_values,
	    &s->nterminated_values);
	if (get_str(c, g, "team_field", STR_EMPTY, &s->team_field) == 1 &&
	    *s->team_field == '\0') {
		free(s->team_field);	/* "": no teams */
		s->team_field = NULL;
	}
	fields_mapped(c, g, s);
}

/* The slot flags, once the lists are final. */
static void
slot_flags(struct sync *s)
{
	struct slot	*sl;
	size_t		 i;

	for (i = 0; i < s->nkeys; i++)
		if ((sl = slot_find(s, s->keys[i])) != NULL)
			sl->key = (int)i + 1;
	for (i = 0; i < s->nrequired; i++)
		if ((sl = slot_find(s, s->required[i])) != NULL)
			sl->required = 1;
	for (i = 0; i < s->nkeep_empty; i++)
		if ((sl = slot_find(s, s->keep_empty[i])) != NULL)
			sl->keep_empty = 1;
}

/* ------------------------------------------------ guard and retention */

static void
parse_guard(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	int	 e;

	get_ll(c, g, "max_deletes", 0, LLONG_MAX, &s->max_deletes);
	get_pct(c, g, "max_delete_percent", &s->max_delete_percent);
	get_pct(c, g, "max_update_percent", &s->max_update_percent);
	if (get_enum(c, g, "on_threshold", onthr_words, &e) == 1)
		s->on_threshold = (enum onthr)e;
	if (get_enum(c, g, "approval", approval_words, &e) == 1)
		s->approval = (enum approval)e;
	get_ll(c, g, "seat_limit", 0, LLONG_MAX, &s->seat_limit);
	if (get_enum(c, g, "delete_mode", delmode_words, &e) == 1)
		s->delete_mode = (enum delmode)e;
	get_int(c, g, "grace_days", 0, 3650, &s->grace_days);
	get_int(c, g, "keep_reports_days", 0, MAX_RETENTION,
	    &s->keep_reports_days);
	get_int(c, g, "keep_inputs_days", 0, MAX_RETENTION,
	    &s->keep_inputs_days);
}

/* -------------------------------------------------------- hook, sftp */

static void
hook_argv(struct sync *s, char *path, char **args, size_t nargs)
{
	size_t	 i;

	s->hook.argv = xcalloc(nargs + 2, sizeof(*s->hook.argv));
	s->hook.argv[0] = path;
	for (i = 0; i < nargs; i++)
		s->hook.argv[i + 1] = args[i];
	free(args);
}

static void
parse_hook(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	config_setting_t	*h;
	char			*path = NULL, **args = NULL, b[80];
	size_t			 nargs = 0;
	int			 e;

	if ((h = config_setting_get_member(g, "hook")) == NULL)
		return;
	if (!config_setting_is_group(h)) {
		cerr(c, h, "hook must be a group such as { path = "
		    "\"/usr/local/libexec/rostersync-hook\"; }, not %s",
		    show(h, b, sizeof(b)));
		return;
	}
	c->gpfx = "hook.";
	check_names(c, h, hook_names);
	if (get_str(c, h, "path", 0, &path) == 0)
		cerr(c, h, "hook.path is missing; set it to the absolute "
		    "path of the program to run for each item");
	else if (path != NULL && path[0] != '/') {
		cerr(c, config_setting_get_member(h, "path"), "hook.path must "
		    "be an absolute path (the hook runs without a shell or "
		    "PATH), not \"%s\"", path);
		free(path);
		path = NULL;
	}
	get_list(c, h, "args", LIST_EMPTY | LIST_DUPS, &args, &nargs);
	get_int(c, h, "timeout", 1, 3600, &s->hook.timeout);
	if (get_enum(c, h, "mode", hookmode_words, &e) == 1)
		s->hook.mode = (enum hookmode)e;
	get_int(c, h, "window", 1, HOOK_WINDOW_MAX, &s->hook.window);
	get_str(c, h, "name", 0, &s->hook.name);
	c->gpfx = "";
	if (path != NULL) {
		if (s->hook.name == NULL)
			s->hook.name = xstrdup(strrchr(path, '/') + 1);
		hook_argv(s, path, args, nargs);
	} else
		strv_free(args, nargs);
}

/* Returns whether known_hosts and a credential were given at all. */
static void
sftp_group(struct ctx *c, const config_setting_t *o, struct sftpopt *so,
    int *kh, int *cred)
{
	int	 r;

	c->gpfx = "sftp.";
	check_names(c, o, sftp_names);
	*kh = get_path(c, o, "known_hosts", &so->known_hosts) != 0;
	r = get_path(c, o, "identity", &so->identity);
	r |= get_path(c, o, "password_file", &so->password_file);
	*cred = r != 0;
	get_path(c, o, "passphrase_file", &so->passphrase_file);
	get_bool(c, o, "accept_new_host_key", &so->accept_new_host_key);
	get_int(c, o, "timeout", 1, 600, &so->timeout);
	get_int(c, o, "retries", 0, 10, &so->retries);
	get_int(c, o, "read_size", 1024, 1024 * 1024, &so->read_size);
	get_int(c, o, "read_requests", 1, MAX_SFTP_REQUESTS, &so->read_requests);
	get_int(c, o, "write_size", 1024, 261120, &so->write_size);
	get_int(c, o, "write_requests", 1, MAX_SFTP_REQUESTS,
	    &so->write_requests);
	get_int(c, o, "streams", 1, SFTP_STREAMS_MAX, &so->streams);
	c->gpfx = "";
	if (so->passphrase_file != NULL &&
	    config_setting_get_member(o, "identity") == NULL)
		cerr(c, config_setting_get_member(o, "passphrase_file"),
		    "sftp.passphrase_file is set but sftp.identity is not; "
		    "add the key file it unlocks");
}

static void
parse_sftp(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	config_setting_t	*o, *at;
	char			 b[80];
	int			 kh = 0, cred = 0;

	o = config_setting_get_member(g, "sftp");
	if (o != NULL && !config_setting_is_group(o)) {
		cerr(c, o, "sftp must be a group such as { known_hosts = "
		    "\"/etc/rostersync/known_hosts\"; identity = "
		    "\"/etc/rostersync/id_ed25519\"; }, not %s",
		    show(o, b, sizeof(b)));
		return;
	}
	if (o != NULL)
		sftp_group(c, o, &s->sftp, &kh, &cred);
	if (!source_is_sftp(g))
		return;
	at = o != NULL ? o : config_setting_get_member(g, "source");
	if (!kh)
		cerr(c, at, "an sftp:// source needs sftp.known_hosts, a file "
		    "with the server's host key (ssh-keyscan HOST > FILE, "
		    "then check the key); add sftp = { known_hosts = "
		    "\"/etc/rostersync/known_hosts\"; ... };");
	if (!cred)
		cerr(c, at, "an sftp:// source needs sftp.identity (a private "
		    "key file) or sftp.password_file; set one of them");
}

/* -------------------------------------------------------------- syncs */

static void
sync_defaults(struct sync *s)
{
	memset(s, 0, sizeof(*s));
	s->enabled = 1;
	s->pattern = xstrdup("*");
	s->format = FMT_AUTO;
	s->settle_seconds = 60;
	s->after = AFTER_MOVE;
	s->processed_dir = xstrdup("processed");
	s->keys = strv_one("employee_id");
	s->nkeys = 1;
	s->required = strv_one("employee_id");
	s->nrequired = 1;
	s->terminated_field = xstrdup("employment_status");
	s->terminated_values = strv_one("Terminated");
	s->nterminated_values = 1;
	s->team_field = xstrdup("department");
	s->max_deletes = 500;
	s->max_delete_percent = 20;
	s->max_update_percent = 25;
	s->on_threshold = ONTHR_HOLD_ALL;
	s->approval = APPROVE_NEVER;
	s->delete_mode = DEL_DEACTIVATE;
	s->grace_days = 30;
	s->keep_reports_days = 365;
	s->keep_inputs_days = 90;
	s->hook.timeout = 30;
	s->hook.window = 64;
	s->sftp.timeout = 30;
	s->sftp.retries = 3;
	s->sftp.read_size = 64 * 1024;
	s->sftp.read_requests = 16;
	s->sftp.write_size = 32 * 1024;
	s->sftp.write_requests = 64;
	s->sftp.streams = 4;
}

static int
sync_name_valid(const char *n)
{
	size_t	 len = strlen(n);

	if (len == 0 || len > MAX_SYNC_NAME || n[0] == '_' || n[0] == '-')
		return 0;
	return n[strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_-")] == '\0';
}

static void
parse_name(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	int	 r;

	if ((r = get_str(c, g, "name", 0, &s->name)) == 0)
		cerr(c, g, "the sync has no name; add name = \"NAME\" "
		    "(a-z, 0-9, _ and -)");
	else if (r == 1 && !sync_name_valid(s->name))
		cerr(c, config_setting_get_member(g, "name"), "sync name "
		    "\"%s\" must be 1 to %d characters of a-z, 0-9, _ and -, "
		    "starting with a letter or digit", s->name, MAX_SYNC_NAME);
	else if (r == 1)
		c->sync = s->name;
}

static void
parse_sync(struct ctx *c, const config_setting_t *g, struct sync *s)
{
	s->line = (int)config_setting_source_line(g);
	parse_name(c, g, s);
	check_names(c, g, sync_names);
	get_bool(c, g, "enabled", &s->enabled);
	parse_source(c, g, s);
	parse_fetch(c, g, s);
	parse_mapping(c, g, s);
	parse_fields(c, g, s);
	parse_guard(c, g, s);
	parse_hook(c, g, s);
	parse_sftp(c, g, s);
	slot_flags(s);
}

static void
check_dups(struct ctx *c, const config_setting_t *l, struct config *cfg)
{
	size_t	 i, j;

	for (i = 1; i < cfg->nsyncs; i++) {
		for (j = 0; j < i; j++) {
			if (cfg->syncs[i].name == NULL ||
			    cfg->syncs[j].name == NULL ||
			    strcmp(cfg->syncs[i].name, cfg->syncs[j].name) != 0)
				continue;
			cerr(c, config_setting_get_member(config_setting_get_elem(
			    l, (unsigned)i), "name"), "sync name \"%s\" is "
			    "already used on line %d; give each sync its own "
			    "name", cfg->syncs[i].name, cfg->syncs[j].line);
			break;
		}
	}
}

static void
parse_syncs(struct ctx *c, const config_setting_t *root, struct config *cfg)
{
	config_setting_t	*l, *g;
	char			 b[80];
	size_t			 i, n;

	if ((l = config_setting_get_member(root, "syncs")) == NULL) {
		cerr(c, NULL, "no syncs are configured; add syncs = ( { name = "
		    "\"NAME\"; source = \"dir:/PATH\"; } );");
		return;
	}
	if (!config_setting_is_list(l) && !config_setting_is_array(l)) {
		cerr(c, l, "syncs must be a list of groups such as ( { name = "
		    "\"NAME\"; ... }, { ... } ), not %s", show(l, b, sizeof(b)));
		return;
	}
	if ((n = (size_t)config_setting_length(l)) == 0) {
		cerr(c, l, "syncs is empty; configure at least one sync");
		return;
	}
	cfg->syncs = xcalloc(n, sizeof(*cfg->syncs));
	for (i = 0; i < n; i++) {
		sync_defaults(&cfg->syncs[i]);
		cfg->nsyncs++;
		g = config_setting_get_elem(l, (unsigned)i);
		c->syncno = i + 1;
		c->sync = NULL;
		if (config_setting_is_group(g))
			parse_sync(c, g, &cfg->syncs[i]);
		else
			cerr(c, g, "each sync must be a group { name = "
			    "\"NAME\"; ... }, not %s", show(g, b, sizeof(b)));
	}
	c->syncno = 0;
	c->sync = NULL;
	check_dups(c, l, cfg);
}

/* ------------------------------------------------------------- files */

/* The absolute, symlink-free directory of path, or NULL. */
static char *
config_dir(const char *path)
{
	char	*d, *slash, *r;

	d = xstrdup(path);
	if ((slash = strrchr(d, '/')) == NULL) {
		free(d);
		d = xstrdup(".");
	} else if (slash == d)
		slash[1] = '\0';
	else
		*slash = '\0';
	r = realpath(d, NULL);
	free(d);
	return r;
}

/* A file others can write lets them rewrite the config: refuse it. */
static int
file_check(struct ctx *c, const char *path)
{
	struct stat	 st;

	if (stat(path, &st) == -1) {
		errlist_add(c->errs, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		errlist_add(c->errs, "%s: not a regular file", path);
		return -1;
	}
	if (st.st_mode & S_IWOTH)
		errlist_add(c->errs, "%s: the file is writable by others; "
		    "chmod o-w it", path);
	return 0;
}

/* Files pulled in with @include, which libconfig names as written. */
static void
check_includes(struct ctx *c, const config_t *lc)
{
	unsigned	 i;
	char		*p;

	for (i = 1; i < lc->num_filenames; i++) {
		p = path_abs(c->dir, lc->filenames[i]);
		file_check(c, p);
		free(p);
	}
}

static void
config_syntax(struct ctx *c, const config_t *lc, int err)
{
	const char	*file = config_error_file(lc);
	const char	*text = config_error_text(lc);

	if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
		errlist_add(c->errs, "%s: cannot read it or a file it includes: "
		    "%s", file ? file : c->path, strerror(err));
		return;
	}
	errlist_add(c->errs, "%s:%d: %s%s", file ? file : c->path,
	    config_error_line(lc), text ? text : "syntax error",
	    text && strcmp(text, "syntax error") == 0 ? "; check this line "
	    "and the ones before it for a missing \"=\" or value, or an "
	    "unclosed quote, bracket or brace" : "");
}

static void
config_defaults(struct config *cfg, const char *path)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->path = xstrdup(path);
	cfg->database = xstrdup("/var/lib/rostersync/rostersync.db");
	cfg->spool = xstrdup("/var/spool/rostersync");
	cfg->timezone = xstrdup("UTC");
	cfg->schedule = xstrdup("*:0/15");
	cfg->lock_wait = 60;
}

/*
 * cfg is overwritten, not freed first. Relative paths in the file are taken
 * against its directory; files named in it need not exist yet.
 */
int
config_load(const char *path, struct config *cfg, struct errlist *errs)
{
	config_t	 lc;
	struct ctx	 c;
	size_t		 n0 = errs->n;
	int		 rc = -1;

	memset(&c, 0, sizeof(c));
	c.path = path;
	c.gpfx = "";
	c.errs = errs;
	config_defaults(cfg, path);
	config_init(&lc);
	if (file_check(&c, path) == -1)
		goto out;
	if ((c.dir = config_dir(path)) == NULL) {
		errlist_add(errs, "%s: cannot find its directory: %s", path,
		    strerror(errno));
		goto out;
	}
	config_set_include_dir(&lc, c.dir);
	errno = 0;
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		config_syntax(&c, &lc, errno);
		goto out;
	}
	check_includes(&c, &lc);
	parse_top(&c, config_root_setting(&lc), cfg);
	parse_syncs(&c, config_root_setting(&lc), cfg);
	cerr_flush(&c);
	if (errs->n == n0)
		rc = 0;
 out:
	cerr_flush(&c);
	config_destroy(&lc);
	free(c.dir);
	return rc;
}

static void
sync_free(struct sync *s)
{
	size_t	 i;

	free(s->name);
	free(s->source);
	free(s->pattern);
	free(s->sheet);
	free(s->encoding);
	free(s->processed_dir);
	free(s->reports_remote);
	for (i = 0; i < s->nslots; i++) {
		free(s->slots[i].name);
		free(s->slots[i].column);
	}
	free(s->slots);
	strv_free(s->keys, s->nkeys);
	strv_free(s->required, s->nrequired);
	strv_free(s->keep_empty, s->nkeep_empty);
	strv_free(s->ignore, s->nignore);
	free(s->terminated_field);
	strv_free(s->terminated_values, s->nterminated_values);
	free(s->team_field);
	for (i = 0; s->hook.argv != NULL && s->hook.argv[i] != NULL; i++)
		free(s->hook.argv[i]);
	free(s->hook.argv);
	free(s->hook.name);
	free(s->sftp.known_hosts);
	free(s->sftp.identity);
	free(s->sftp.passphrase_file);
	free(s->sftp.password_file);
}

/* Safe on a zeroed or partly filled config; leaves it zeroed. */
void
config_free(struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->nsyncs; i++)
		sync_free(&cfg->syncs[i]);
	free(cfg->syncs);
	free(cfg->path);
	free(cfg->database);
	free(cfg->spool);
	free(cfg->timezone);
	free(cfg->schedule);
	memset(cfg, 0, sizeof(*cfg));
}

/* The sync named name, or NULL. */
struct sync *
config_sync(struct config *cfg, const char *name)
{
	size_t	 i;

	for (i = 0; i < cfg->nsyncs; i++)
		if (cfg->syncs[i].name != NULL &&
		    strcmp(cfg->syncs[i].name, name) == 0)
			return &cfg->syncs[i];
	return NULL;
}
