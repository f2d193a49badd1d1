/*
 * rostersync [-c FILE] [-v | -q] COMMAND [ARGS]: the command table, the
 * configuration, and the options of run and fetch.
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rostersync.h"

static int	cmd_run(struct config *, int, char **);
static int	cmd_fetch(struct config *, int, char **);
static int	cmd_check(struct config *, int, char **);

static const struct command {
	const char	*name;
	int		 (*fn)(struct config *, int, char **);
	const char	*usage;
} commands[] = {
	{ "run", cmd_run, "run [--sync S] [--file PATH] [--dry-run] "
	    "[--allow-deletes N] [--allow-updates N] [--allow-id-changes N] "
	    "[--reason TEXT]" },
	{ "fetch", cmd_fetch, "fetch [--sync S]" },
	{ "history", cmd_history, "history [--sync S] [--source TEXT] "
	    "[--status ST]... "
	    "[--since DATE] [--until DATE] [--last Nd] [--oldest] [--page N] "
	    "[--per-page N] [--json]" },
	{ "show", cmd_show, "show RUN [--json]" },
	{ "items", cmd_items, "items RUN [--type T|users|teams] [--status ST] "
	    "[--issue T] [--user TEXT] [--item N] [--json]" },
	{ "report", cmd_report, "report RUN [--format csv|xlsx|log] "
	    "[-o PATH]" },
	{ "users", cmd_users, "users [--email TEXT] [--status ST] [--sync S] "
	    "[--since DATE] [--until DATE] [--page N] [--per-page N] [--json]" },
	{ "user", cmd_user, "user EMAIL|ID [--sync S] [--json]" },
	{ "status", cmd_status, "status [--json]" },
	{ "approve", cmd_approve, "approve RUN [--reason TEXT]" },
	{ "reject", cmd_reject, "reject RUN [--reason TEXT]" },
	{ "cancel", cmd_cancel, "cancel RUN [--reason TEXT]" },
	{ "retry", cmd_retry, "retry RUN [ITEM]" },
	{ "confirm", cmd_confirm, "confirm RUN:ITEM [--reason TEXT]" },
	{ "check-config", cmd_check, "check-config" },
	{ "cache", cmd_cache, "cache drop [--sync S]" },
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *fp)
{
	size_t	 i;

	fprintf(fp, "usage: rostersync [-c FILE] [-v | -q] COMMAND [ARGS]\n"
	    "\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %s\n", commands[i].usage);
	fprintf(fp, "  version\n  help\n\nThe configuration is FILE, else "
	    "$ROSTERSYNC_CONFIG, else %s.\nExit status: 0 ok, 1 failure, "
	    "2 usage, 3 configuration, 4 data load failed,\n5 held "
	    "(threshold or approval), 6 needs attention, 7 another run "
	    "holds the lock.\nSee rostersync(8).\n", RS_DEFAULT_CONFIG);
}

#define OPT_OVERRIDE	256	/* getopt's value of overrides[k]: + k */

/* The overrides given go with --file and a --reason that says why. */
static int
override_check(const struct runopts *o, const char *given)
{
	const char	*r = o->reason;

	if (given == NULL) {
		if (r == NULL)
			return 0;
		log_warnx("--reason goes with a one-time override such as "
		    "--%s", overrides[0].flag);
		return -1;
	}
	if (o->file == NULL) {
		log_warnx("--%s goes with --file: it lets one named file "
		    "through", given);
		return -1;
	}
	while (r != NULL && (*r == ' ' || *r == '\t'))
		r++;
	if (r == NULL || *r == '\0') {
		log_warnx("--%s needs --reason TEXT: the run records who let "
		    "the file through, when, and why", given);
		return -1;
	}
	return 0;
}

static int
run_options(int argc, char **argv, struct runopts *o, int fetch)
{
	static const struct option base[] = {
		{ "sync", required_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "reason", required_argument, NULL, 'r' },
	};
	struct option	 lo[sizeof(base) / sizeof(base[0]) + MAX_OVERRIDES + 1];
	const char	*given = NULL;
	size_t		 n = sizeof(base) / sizeof(base[0]), k;
	int		 c;

	memset(o, 0, sizeof(*o));
	memset(lo, 0, sizeof(lo));
	memcpy(lo, base, sizeof(base));
	for (k = 0; overrides[k].flag != NULL && k < MAX_OVERRIDES; k++) {
		*override_opt(&overrides[k], o) = -1;
		lo[n].name = overrides[k].flag;
		lo[n].has_arg = required_argument;
		lo[n++].val = OPT_OVERRIDE + (int)k;
	}
	o->trigger = getenv("INVOCATION_ID") ? "timer" : "manual";
	o->fetch_only = fetch;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 's')
			o->sync = optarg;
		else if (c == 'f' && !fetch)
			o->file = optarg;
		else if (c == 'n' && !fetch)
			o->dry_run = 1;
		else if (c == 'r' && !fetch)
			o->reason = optarg;
		else if (c >= OPT_OVERRIDE && !fetch && parse_ll(optarg, 0,
		    INT32_MAX, override_opt(&overrides[c - OPT_OVERRIDE],
		    o)) == 0)
			given = overrides[c - OPT_OVERRIDE].flag;
		else
			return -1;
	}
	if (override_check(o, given) == -1)
		return -1;
	return optind == argc ? 0 : -1;
}

static int
cmd_run(struct config *cfg, int argc, char **argv)
{
	struct runopts	 o;

	if (run_options(argc, argv, &o, 0) == -1) {
		log_warnx("usage: rostersync %s", commands[0].usage);
		return EXIT_USAGE;
	}
	return run_main(cfg, &o);
}

static int
cmd_fetch(struct config *cfg, int argc, char **argv)
{
	struct runopts	 o;

	if (run_options(argc, argv, &o, 1) == -1) {
		log_warnx("usage: rostersync %s", commands[1].usage);
		return EXIT_USAGE;
	}
	return run_main(cfg, &o);
}

static int
cmd_check(struct config *cfg, int argc, char **argv)
{
	size_t	 i;

	(void)argv;
	if (argc != 1) {
		log_warnx("usage: rostersync check-config (the file is -c FILE)");
		return EXIT_USAGE;
	}
	printf("%s: ok, %zu sync%s\n", cfg->path, cfg->nsyncs,
	    cfg->nsyncs == 1 ? "" : "s");
	for (i = 0; i < cfg->nsyncs; i++)
		printf("  %-16s %-8s %s\n", cfg->syncs[i].name,
		    cfg->syncs[i].enabled ? "active" : "inactive",
		    cfg->syncs[i].source);
	return EXIT_OK;
}

static const struct command *
find_command(const char *name)
{
	size_t	 i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int
load_config(const char *path, struct config *cfg)
{
	struct errlist	 errs = { 0 };
	size_t		 i;
	int		 rc;

	rc = config_load(path, cfg, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msg[i]);
	if (rc == -1)
		fprintf(stderr, "rostersync: %zu error%s in the configuration; "
		    "nothing was done\n", errs.n, errs.n == 1 ? "" : "s");
	errlist_free(&errs);
	if (rc == 0) {
		setenv("TZ", cfg->timezone, 1);
		tzset();
	}
	return rc;
}

int
main(int argc, char **argv)
{
	const struct command	*cmd;
	struct config		 cfg;
	const char		*path = getenv("ROSTERSYNC_CONFIG");
	char			 why[MAX_ERRMSG];
	int			 c, verbosity = 0, rc;

	umask(027);
	/* A file-size limit or a closed pipe is an error to report, not a
	 * reason to die half-way: writes then fail with EFBIG or EPIPE. */
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	log_init(0);
	while ((c = getopt(argc, argv, "+c:vqh")) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'v': verbosity = 1; break;
		case 'q': verbosity = -1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	log_init(verbosity);
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[0], "version") == 0) {
		printf("rostersync %s\n", RS_VERSION);
		return EXIT_OK;
	}
	if (strcmp(argv[0], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	/* Roles (roles.c) before the configuration: no role, nothing read. */
	if (role_check(argv[0], NULL, why, sizeof(why)) == -1) {
		log_warnx("%s", why);
		return EXIT_FAIL;
	}
	if ((cmd = find_command(argv[0])) == NULL) {
		log_warnx("unknown command '%s'", argv[0]);
		usage(stderr);
		return EXIT_USAGE;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (load_config(path ? path : RS_DEFAULT_CONFIG, &cfg) == -1) {
		config_free(&cfg);
		return EXIT_CONFIG;
	}
	optind = 0;	/* glibc: reinitialise, so options may follow operands */
	rc = cmd->fn(&cfg, argc, argv);
	config_free(&cfg);
	return rc;
}
