/*
 * test_config: config_load() over the shipped configs and over small files
 * written to a temporary directory, each with known mistakes.
 *
 * Usage: test_config [REPO]	(REPO defaults to ".")
 * Prints TAP ("ok N - ...", "not ok N - ...") and exits 1 on any failure.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

static int	 ntest, nfail;
static char	 tmpdir[PATH_MAX];
static char	 repo[PATH_MAX];

static int
ok(int cond, const char *fmt, ...)
{
	va_list	 ap;

	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - ", cond ? "" : "not ", ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return cond;
}

static void
show_errs(const struct errlist *e)
{
	size_t	 i;

	for (i = 0; i < e->n; i++)
		printf("# %s\n", e->msg[i]);
}

static int
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Write text to tmpdir/name with mode; returns a static path. */
static const char *
put(const char *name, mode_t mode, const char *text)
{
	static char	 path[PATH_MAX + 64];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
	return path;
}

/* Is there a message at line (0: any) that holds every part given? */
static int
has(const struct errlist *e, int line, const char *part, const char *part2)
{
	char	 at[32];
	size_t	 i;

	snprintf(at, sizeof(at), ":%d: ", line);
	for (i = 0; i < e->n; i++) {
		if (line > 0 && strstr(e->msg[i], at) == NULL)
			continue;
		if (strstr(e->msg[i], part) == NULL)
			continue;
		if (part2 != NULL && strstr(e->msg[i], part2) == NULL)
			continue;
		return 1;
	}
	return 0;
}

/*
 * Load text as a config and check that it fails with exactly nerr messages
 * (-1: any number), one of them at line holding part and part2.
 */
static void
bad(const char *desc, const char *text, int nerr, int line, const char *part,
    const char *part2)
{
	struct config	 cfg;
	struct errlist	 errs = { 0 };
	const char	*path = put("bad.conf", 0600, text);
	int		 r;

	r = config_load(path, &cfg, &errs);
	if (!ok(r == -1 && (nerr < 0 || errs.n == (size_t)nerr) &&
	    has(&errs, line, part, part2), "%s", desc)) {
		printf("# want %d message(s), one at line %d with \"%s\"\n",
		    nerr, line, part);
		show_errs(&errs);
	}
	config_free(&cfg);
	errlist_free(&errs);
}

/* Load text, which must be valid; the caller frees cfg. */
static int
good(const char *desc, const char *name, const char *text,
    struct config *cfg)
{
	struct errlist	 errs = { 0 };
	int		 r;

	r = config_load(put(name, 0600, text), cfg, &errs);
	if (!ok(r == 0 && errs.n == 0, "%s", desc))
		show_errs(&errs);
	errlist_free(&errs);
	return r;
}

#define MINI \
	"syncs = ( { name = \"hr\"; source = \"dir:/srv/hr\"; } );\n"

static void
test_shipped(void)
{
	struct config	 cfg;
	struct errlist	 errs = { 0 };
	struct sync	*s;
	char		 path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/etc/rostersync.conf", repo);
	if (!ok(config_load(path, &cfg, &errs) == 0 && errs.n == 0,
	    "etc/rostersync.conf loads"))
		show_errs(&errs);
	s = config_sync(&cfg, "workday");
	ok(cfg.nsyncs == 2 && s != NULL && config_sync(&cfg, "contractors") &&
	    !config_sync(&cfg, "nope"), "rostersync.conf: two syncs found by "
	    "name");
	ok(s != NULL && streq(s->source, "sftp://hr-export@sftp.example.com:"
	    "22/outbound") && streq(s->sftp.known_hosts,
	    "/etc/rostersync/known_hosts") && s->nslots == 12 &&
	    streq(s->slots[11].name, "cost_center") && s->slots[11].canon == -1
	    && s->slots[0].canon == F_EMPLOYEE_ID && s->slots[0].key == 1 &&
	    streq(s->reports_remote, "reports"), "rostersync.conf: workday "
	    "source, sftp and mapping");
	s = config_sync(&cfg, "contractors");
	ok(s != NULL && !s->enabled && s->format == FMT_XLSX &&
	    s->approval == APPROVE_ABOVE && s->reports_remote == NULL,
	    "rostersync.conf: contractors disabled, xlsx");
	config_free(&cfg);
	errlist_free(&errs);
}

static void
test_demo(void)
{
	struct config	 cfg;
	struct errlist	 errs = { 0 };
	struct sync	*s;
	char		 path[PATH_MAX + 64], root[PATH_MAX], want[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/etc/demo.conf", repo);
	if (!ok(config_load(path, &cfg, &errs) == 0 && errs.n == 0,
	    "etc/demo.conf loads"))
		show_errs(&errs);
	if (realpath(repo, root) == NULL)
		snprintf(root, sizeof(root), "?");
	snprintf(want, sizeof(want), "%s/spool/rostersync.db", root);
	ok(streq(cfg.database, want), "demo.conf: database is %s", want);
	snprintf(want, sizeof(want), "%s/spool", root);
	ok(streq(cfg.spool, want), "demo.conf: spool is %s", want);
	s = config_sync(&cfg, "workday");
	snprintf(want, sizeof(want), "dir:%s/spool/dropzone/workday", root);
	ok(s != NULL && streq(s->source, want) && s->settle_seconds == 0 &&
	    s->nslots == 12 && s->nrequired == 3 && s->slots[0].required &&
	    s->slots[1].required && s->slots[3].required &&
	    !s->slots[2].required, "demo.conf: source %s, 12 slots, 3 "
	    "required", want);
	config_free(&cfg);
	errlist_free(&errs);
}

static void
test_defaults(void)
{
	struct config	 cfg;
	struct sync	*s;

	good("minimal config loads", "mini.conf", MINI, &cfg);
	s = config_sync(&cfg, "hr");
	ok(streq(cfg.database, "/var/lib/rostersync/rostersync.db") &&
	    streq(cfg.spool, "/var/spool/rostersync") &&
	    streq(cfg.timezone, "UTC") && streq(cfg.schedule, "*:0/15") &&
	    cfg.lock_wait == 60, "top-level defaults");
	ok(s != NULL && s->enabled && streq(s->pattern, "*") &&
	    s->format == FMT_AUTO && s->sheet == NULL &&
	    s->settle_seconds == 60 && !s->use_marker &&
	    s->after == AFTER_MOVE && streq(s->processed_dir, "processed") &&
	    s->reports_remote == NULL && s->slots == NULL,
	    "sync defaults: fetch");
	ok(s != NULL && s->nkeys == 1 && streq(s->keys[0], "employee_id") &&
	    s->nrequired == 1 && streq(s->required[0], "employee_id") &&
	    s->nkeep_empty == 0 && s->nignore == 0 &&
	    streq(s->terminated_field, "employment_status") &&
	    s->nterminated_values == 1 &&
	    streq(s->terminated_values[0], "Terminated") &&
	    streq(s->team_field, "department"), "sync defaults: fields");
	ok(s != NULL && s->max_deletes == 500 && s->max_delete_percent == 20 &&
	    s->on_threshold == ONTHR_HOLD_ALL && s->approval == APPROVE_NEVER &&
	    s->seat_limit == 0 && s->delete_mode == DEL_DEACTIVATE &&
	    s->grace_days == 30 && s->keep_reports_days == 365 &&
	    s->keep_inputs_days == 90 && s->hook.argv == NULL &&
	    s->sftp.timeout == 30 && s->sftp.retries == 3 &&
	    s->sftp.read_size == 65536 && s->sftp.read_requests == 16 &&
	    s->sftp.write_size == 32768 && s->sftp.write_requests == 64 &&
	    s->sftp.streams == 4 && !s->sftp.accept_new_host_key && s->line == 1,
	    "sync defaults: guard, retention, hook, sftp");
	config_free(&cfg);
}

static void
test_paths(void)
{
	struct config	 cfg;
	struct sync	*s;
	char		 d[PATH_MAX], parent[PATH_MAX], w[4][PATH_MAX + 64];
	char		*slash;

	good("relative paths load", "rel.conf",
	    "database = \"state/rs.db\";\n"
	    "spool = \"./spool\";\n"
	    "syncs = ( { name = \"a\"; source = \"dir:../drop/a\";\n"
	    "  sftp = { known_hosts = \"kh\"; identity = \"/k/id\"; }; },\n"
	    " { name = \"b\"; source = \"sftp://u@x@h/in\";\n"
	    "  team_field = \"\"; reports_remote = \"\";\n"
	    "  sftp = { known_hosts = \"../kh\"; password_file = \"pw\"; }; }"
	    " );\n", &cfg);
	if (realpath(tmpdir, d) == NULL)
		snprintf(d, sizeof(d), "?");
	snprintf(parent, sizeof(parent), "%s", d);
	if ((slash = strrchr(parent, '/')) != NULL)
		*slash = '\0';
	snprintf(w[0], sizeof(w[0]), "%s/state/rs.db", d);
	snprintf(w[1], sizeof(w[1]), "%s/spool", d);
	snprintf(w[2], sizeof(w[2]), "dir:%s/drop/a", parent);
	snprintf(w[3], sizeof(w[3]), "%s/kh", d);
	ok(streq(cfg.database, w[0]) && streq(cfg.spool, w[1]),
	    "database and spool made absolute against the config's directory");
	s = config_sync(&cfg, "a");
	ok(s != NULL && streq(s->source, w[2]) &&
	    streq(s->sftp.known_hosts, w[3]) &&
	    streq(s->sftp.identity, "/k/id"), "dir: source and key files made "
	    "absolute, \"..\" resolved");
	s = config_sync(&cfg, "b");
	snprintf(w[0], sizeof(w[0]), "%s/kh", parent);
	snprintf(w[1], sizeof(w[1]), "%s/pw", d);
	ok(s != NULL && streq(s->source, "sftp://u@x@h:22/in") &&
	    streq(s->sftp.known_hosts, w[0]) &&
	    streq(s->sftp.password_file, w[1]) && s->team_field == NULL &&
	    s->reports_remote == NULL, "sftp source gets its port; "
	    "team_field and reports_remote \"\" unset them");
	config_free(&cfg);
}

static void
test_three(void)
{
	bad("three mistakes on three lines: all reported",
	    "lock_wait = 99999;\n"
	    "syncs = (\n"
	    "  {\n"
	    "    name = \"hr\";\n"
	    "    source = \"dir:/srv/hr\";\n"
	    "    treshold = 5;\n"
	    "    format = \"pdf\";\n"
	    "  }\n"
	    ");\n", 3, 1, "lock_wait must be a whole number from 0 to 3600, "
	    "not 99999", NULL);
	bad("... the unknown setting at line 6",
	    "lock_wait = 99999;\nsyncs = (\n  {\n    name = \"hr\";\n"
	    "    source = \"dir:/srv/hr\";\n    treshold = 5;\n"
	    "    format = \"pdf\";\n  }\n);\n", 3, 6,
	    "sync \"hr\": unknown setting \"treshold\"", NULL);
	bad("... the bad format at line 7",
	    "lock_wait = 99999;\nsyncs = (\n  {\n    name = \"hr\";\n"
	    "    source = \"dir:/srv/hr\";\n    treshold = 5;\n"
	    "    format = \"pdf\";\n  }\n);\n", 3, 7,
	    "format must be \"auto\", \"csv\" or \"xlsx\", not \"pdf\"", NULL);
}

static void
test_mistakes(void)
{
	bad("syntax error gives its line", "database = \"/x\";\n"
	    "spool = \"/y\";\nlock_wait = ;\n" MINI, 1, 3, "syntax error",
	    NULL);
	bad("duplicate setting is a parse error", "lock_wait = 1;\n"
	    "lock_wait = 2;\n" MINI, 1, 2, "duplicate", NULL);
	bad("unknown top-level setting", "databse = \"/x\";\n" MINI, 1, 1,
	    "unknown setting \"databse\"; did you mean \"database\"?", NULL);
	bad("unknown setting in sftp group", "syncs = ( { name = \"hr\";\n"
	    "source = \"sftp://u@h/in\";\nsftp = { known_hosts = \"/kh\";\n"
	    "identity = \"/id\";\nport = 22; }; } );\n", 1, 5,
	    "unknown setting \"sftp.port\"", NULL);
	bad("bad enum value", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\napproval = \"sometimes\"; } );\n", 1, 3,
	    "sync \"hr\": approval must be \"never\", \"above_threshold\" or "
	    "\"always\", not \"sometimes\"", NULL);
	bad("percent out of range", "syncs = ( { name = \"workday\";\n"
	    "source = \"dir:/x\";\nmax_delete_percent = 250; } );\n", 1, 3,
	    "sync \"workday\": max_delete_percent must be a number from 0 to "
	    "100, not 250", NULL);
	bad("duplicate sync name", "syncs = (\n{ name = \"hr\"; source = "
	    "\"dir:/a\"; },\n{ name = \"hr\"; source = \"dir:/b\"; } );\n",
	    1, 3, "sync name \"hr\" is already used on line 2", NULL);
	bad("sftp source without known_hosts",
	    "syncs = ( { name = \"hr\";\nsource = \"sftp://u@h:2222/in\";\n"
	    "sftp = { identity = \"/id\"; }; } );\n", 1, 3,
	    "needs sftp.known_hosts", NULL);
	bad("key not in the mapping", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nmapping = { employee_id = \"ID\"; };\n"
	    "key = [ \"employee_id\", \"badge\" ]; } );\n", 1, 4,
	    "key names \"badge\", which is not in the mapping", NULL);
	bad("wrong types", "lock_wait = \"60\";\nsyncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nenabled = \"yes\";\nrequired = \"email\";\n"
	    "sheet = 3; } );\n", 4, 1, "lock_wait must be a whole number", NULL);
	bad("... each named", "lock_wait = \"60\";\nsyncs = ( { name = \"hr\";"
	    "\nsource = \"dir:/x\";\nenabled = \"yes\";\nrequired = \"email\";\n"
	    "sheet = 3; } );\n", 4, 5, "required must be a list of strings",
	    NULL);
}

static void
test_sources(void)
{
	bad("source without a scheme", "syncs = ( { name = \"hr\";\n"
	    "source = \"/srv/hr\"; } );\n", 1, 2, "must start with \"dir:\"",
	    NULL);
	bad("sftp source without a user", "syncs = ( { name = \"hr\";\n"
	    "source = \"sftp://host/in\"; sftp = { known_hosts = \"/k\"; "
	    "identity = \"/i\"; }; } );\n", 1, 2, "has no user name", NULL);
	bad("sftp source with a bad port", "syncs = ( { name = \"hr\";\n"
	    "source = \"sftp://u@host:70000/in\"; sftp = { known_hosts = "
	    "\"/k\"; identity = \"/i\"; }; } );\n", 1, 2, "port must be", NULL);
	bad("sftp reads too small", "syncs = ( { name = \"hr\";\n"
	    "source = \"sftp://u@host/in\"; sftp = { known_hosts = \"/k\"; "
	    "identity = \"/i\"; read_size = 100; }; } );\n", 1, 2,
	    "read_size must be a whole number from 1024 to 1048576", NULL);
	bad("sftp reads in flight out of range", "syncs = ( { name = "
	    "\"hr\";\nsource = \"sftp://u@host/in\"; sftp = { known_hosts = "
	    "\"/k\"; identity = \"/i\"; read_requests = 65; }; } );\n", 1, 2,
	    "read_requests must be a whole number from 1 to 64", NULL);
	bad("sftp writes too large", "syncs = ( { name = \"hr\";\n"
	    "source = \"sftp://u@host/in\"; sftp = { known_hosts = \"/k\"; "
	    "identity = \"/i\"; write_size = 300000; }; } );\n", 1, 2,
	    "write_size must be a whole number from 1024 to 261120", NULL);
	bad("sftp writes in flight out of range", "syncs = ( { name = "
	    "\"hr\";\nsource = \"sftp://u@host/in\"; sftp = { known_hosts = "
	    "\"/k\"; identity = \"/i\"; write_requests = 0; }; } );\n", 1, 2,
	    "write_requests must be a whole number from 1 to 64", NULL);
	bad("sftp streams out of range", "syncs = ( { name = \"hr\";\n"
	    "source = \"sftp://u@host/in\"; sftp = { known_hosts = \"/k\"; "
	    "identity = \"/i\"; streams = 9; }; } );\n", 1, 2,
	    "streams must be a whole number from 1 to 8", NULL);
	bad("sftp streams not a number", "syncs = ( { name = \"hr\";\n"
	    "source = \"sftp://u@host/in\"; sftp = { known_hosts = \"/k\"; "
	    "identity = \"/i\"; streams = \"many\"; }; } );\n", 1, 2,
	    "streams must be a whole number from 1 to 8", NULL);
	bad("sftp source without a path", "syncs = ( { name = \"hr\";\n"
	    "source = \"sftp://u@host:22\"; sftp = { known_hosts = \"/k\"; "
	    "identity = \"/i\"; }; } );\n", 1, 2, "has no folder", NULL);
	bad("sftp source with a password", "syncs = ( { name = \"hr\";\n"
	    "source = \"sftp://u:secret@host/in\"; sftp = { known_hosts = "
	    "\"/k\"; identity = \"/i\"; }; } );\n", 1, 2, "password", NULL);
	bad("sftp source without credentials", "syncs = ( { name = \"hr\";\n"
	    "source = \"sftp://u@[::1]:2222/in\";\nsftp = { known_hosts = "
	    "\"/k\"; }; } );\n", 1, 3, "needs sftp.identity", NULL);
	bad("missing source and bad sync name", "syncs = ( {\n"
	    "name = \"Work Day\"; } );\n", 2, 2, "sync #1: sync name \"Work "
	    "Day\" must be", NULL);
	bad("processed_dir with ..", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nprocessed_dir = \"../done\"; } );\n", 1, 3,
	    "processed_dir must be a folder inside the source", NULL);
	bad("unknown time zone", "timezone = \"Europe/Lundon\";\n" MINI, 1, 1,
	    "time zone", NULL);
	bad("time zone with ..", "timezone = \"../../etc/passwd\";\n" MINI,
	    1, 1, "time zone", NULL);
	bad("no syncs", "database = \"/x\";\n", 1, 0, "no syncs", NULL);
}

static void
test_fields(void)
{
	bad("keep_if_empty on the key", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nkeep_if_empty = [ \"title\",\n"
	    "\"employee_id\" ]; } );\n", 1, 4, "cannot hold the key field",
	    NULL);
	bad("default key not mapped", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nmapping = { email = \"Mail\"; }; } );\n", 1,
	    3, "key is employee_id", NULL);
	bad("required and team_field not mapped", "syncs = ( { name = \"hr\";"
	    "\nsource = \"dir:/x\";\nmapping = { employee_id = \"ID\"; };\n"
	    "required = [ \"email\" ];\nteam_field = \"dept\"; } );\n", 2, 5,
	    "team_field names \"dept\"", NULL);
	bad("canonical name in the wrong case", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nmapping = { employee_id = \"ID\";\n"
	    "Email = \"Mail\"; }; } );\n", 1, 4, "lower case", NULL);
	bad("column mapped twice", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nmapping = { employee_id = \"ID\";\n"
	    "badge = \"ID\"; }; } );\n", 1, 4, "mapped twice", NULL);
	bad("too many key fields", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nkey = [\"a\",\"b\",\"c\",\"d\",\"e\"]; } );\n",
	    1, 3, "at most 4", NULL);
	bad("list listing a name twice", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nrequired = [ \"email\",\n\"email\" ]; } );\n",
	    1, 4, "lists \"email\" twice", NULL);
}

static void
test_composite(void)
{
	struct config	 cfg;
	struct sync	*s;

	good("composite key loads", "key.conf",
	    "syncs = ( { name = \"hr\"; source = \"dir:/x\";\n"
	    "mapping = { company = \"Company\"; employee_id = \"ID\";\n"
	    "  email = \"Mail\"; title = \"Title\"; };\n"
	    "key = [ \"company\", \"employee_id\" ];\n"
	    "required = [ \"email\" ]; keep_if_empty = [ \"title\" ]; } );\n",
	    &cfg);
	s = config_sync(&cfg, "hr");
	ok(s != NULL && s->nkeys == 2 && streq(s->keys[0], "company") &&
	    streq(s->keys[1], "employee_id") && s->nslots == 4 &&
	    s->slots[0].key == 1 && s->slots[1].key == 2 &&
	    s->slots[2].key == 0 && s->slots[0].canon == -1 &&
	    s->slots[1].canon == F_EMPLOYEE_ID, "composite key: key positions");
	ok(s != NULL && s->nrequired == 3 && s->slots[0].required &&
	    s->slots[1].required && s->slots[2].required &&
	    !s->slots[3].required && s->slots[3].keep_empty &&
	    !s->slots[2].keep_empty, "composite key: key fields required, "
	    "keep_empty set");
	config_free(&cfg);
}

static void
test_hook(void)
{
	struct config	 cfg;
	struct sync	*s;

	good("hook loads", "hook.conf",
	    "syncs = ( { name = \"hr\"; source = \"dir:/x\";\n"
	    "hook = { path = \"/usr/libexec/rs-hook\";\n"
	    "  args = [ \"--realm\", \"\", \"x\" ]; timeout = 5; }; } );\n",
	    &cfg);
	s = config_sync(&cfg, "hr");
	ok(s != NULL && s->hook.argv != NULL &&
	    streq(s->hook.argv[0], "/usr/libexec/rs-hook") &&
	    streq(s->hook.argv[1], "--realm") && streq(s->hook.argv[2], "") &&
	    streq(s->hook.argv[3], "x") && s->hook.argv[4] == NULL &&
	    s->hook.timeout == 5, "hook argv is path, args..., NULL");
	ok(s != NULL && streq(s->hook.name, "rs-hook"),
	    "hook name: the program's file name by default");
	config_free(&cfg);
	good("hook with a name", "hookname.conf",
	    "syncs = ( { name = \"hr\"; source = \"dir:/x\";\n"
	    "hook = { path = \"/usr/libexec/rs-hook\"; name = \"Google "
	    "Workspace\"; }; } );\n", &cfg);
	s = config_sync(&cfg, "hr");
	ok(s != NULL && streq(s->hook.name, "Google Workspace"),
	    "hook name as configured");
	config_free(&cfg);
	bad("hook with a relative path", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nhook = {\npath = \"rs-hook\"; }; } );\n",
	    1, 4, "hook.path must be an absolute path", NULL);
	bad("hook timeout out of range", "syncs = ( { name = \"hr\";\n"
	    "source = \"dir:/x\";\nhook = { path = \"/h\";\ntimeout = 0; }; }"
	    " );\n", 1, 4, "hook.timeout must be a whole number from 1 to 3600",
	    NULL);
}

static void
test_files(void)
{
	struct config	 cfg;
	struct errlist	 errs = { 0 };
	const char	*path;
	char		 want[PATH_MAX + 64];
	int		 r;

	path = put("gw.conf", 0664, MINI);
	r = config_load(path, &cfg, &errs);
	if (!ok(r == 0 && errs.n == 0, "group-writable config accepted (a "
	    "umask 002 checkout must still work)"))
		show_errs(&errs);
	config_free(&cfg);
	errlist_free(&errs);
	path = put("ow.conf", 0606, MINI);
	r = config_load(path, &cfg, &errs);
	if (!ok(r == -1 && has(&errs, 0, "writable by others; chmod o-w",
	    NULL), "other-writable config refused"))
		show_errs(&errs);
	config_free(&cfg);
	errlist_free(&errs);
	snprintf(want, sizeof(want), "%s/none.conf", tmpdir);
	r = config_load(want, &cfg, &errs);
	if (!ok(r == -1 && errs.n == 1 && has(&errs, 0, "No such file", NULL),
	    "missing config file"))
		show_errs(&errs);
	config_free(&cfg);
	config_free(&cfg);	/* twice, and on a zeroed struct: harmless */
	errlist_free(&errs);
	ok(canon_lookup("manager_id") == F_MANAGER_ID &&
	    canon_lookup("end_date") == F_END_DATE &&
	    canon_lookup("cost_center") == -1, "canon_lookup");
}

static void
cleanup(void)
{
	const char	*names[] = { "bad.conf", "mini.conf", "rel.conf",
	    "key.conf", "hook.conf", "gw.conf", "ow.conf" };
	char		 p[PATH_MAX + 64];
	size_t		 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
		unlink(p);
	}
	rmdir(tmpdir);
}

int
main(int argc, char *argv[])
{
	snprintf(repo, sizeof(repo), "%s", argc > 1 ? argv[1] : ".");
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	log_init(0);
	test_shipped();
	test_demo();
	test_defaults();
	test_paths();
	test_three();
	test_mistakes();
	test_sources();
	test_fields();
	test_composite();
	test_hook();
	test_files();
	cleanup();
	printf("1..%d\n", ntest);
	if (nfail > 0)
		printf("# %d of %d failed\n", nfail, ntest);
	return nfail > 0;
}
