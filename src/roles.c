/*
 * Who may run which command. The roles (admin, auditor) map to Unix groups:
 *
 *	root, the rostersync user	every command
 *	rostersync-admins		every command
 *	rostersync-auditors		the read-only commands (they open
 *					the database read-only)
 *	anyone else			version and help
 *
 * The groups are created by sysusers.d (systemd/rostersync.sysusers); while
 * neither exists (a build tree, a machine without the package) roles are not
 * enforced and file permissions alone decide. File permissions are the
 * enforcement in any case (see rostersync(8), ROLES); this check makes the
 * answer clear, and comes before the configuration is read, so someone
 * without a role learns nothing from it.
 */
#include <sys/types.h>

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

#define MAX_GROUPS	65536	/* supplementary groups considered */

enum role { ROLE_ANYONE, ROLE_READ, ROLE_CHANGE };

/* Every command, and what it needs. */
static const struct {
	const char	*name;
	enum role	 need;
} command_roles[] = {
	{ "version", ROLE_ANYONE },
	{ "help", ROLE_ANYONE },
	{ "history", ROLE_READ },
	{ "show", ROLE_READ },
	{ "items", ROLE_READ },
	{ "report", ROLE_READ },
	{ "status", ROLE_READ },
	{ "users", ROLE_READ },
	{ "user", ROLE_READ },
	{ "check-config", ROLE_READ },
	{ "run", ROLE_CHANGE },
	{ "fetch", ROLE_CHANGE },
	{ "approve", ROLE_CHANGE },
	{ "reject", ROLE_CHANGE },
	{ "cancel", ROLE_CHANGE },
	{ "retry", ROLE_CHANGE },
	{ "confirm", ROLE_CHANGE },
	{ "cache", ROLE_CHANGE },
};
#define NCOMMAND_ROLES	(sizeof(command_roles) / sizeof(command_roles[0]))

/* Whether the calling process is in group gid (primary or supplementary). */
static int
in_group(gid_t gid)
{
	gid_t	*list;
	int	 n, i, found = 0;

	if (getgid() == gid || getegid() == gid)
		return 1;
	if ((n = getgroups(0, NULL)) <= 0 || n > MAX_GROUPS)
		return 0;
	list = xcalloc((size_t)n, sizeof(*list));
	if ((n = getgroups(n, list)) > 0)
		for (i = 0; i < n && !found; i++)
			found = list[i] == gid;
	free(list);
	return found;
}

/* The group's id, or -1 when it does not exist. */
static int
group_id(const char *name, gid_t *gid)
{
	struct group	*gr;

	if ((gr = getgrnam(name)) == NULL)
		return -1;
	*gid = gr->gr_gid;
	return 0;
}

/* The caller's login name for messages. */
static void
who_am_i(char *out, size_t outlen)
{
	struct passwd	*pw;

	if ((pw = getpwuid(getuid())) != NULL)
		snprintf(out, outlen, "%s", pw->pw_name);
	else
		snprintf(out, outlen, "uid %u", (unsigned)getuid());
}

/*
 * Whether the caller may run command: 0, or -1 with the reason, naming the
 * groups, in why. Commands not in the table are left to the dispatcher.
 * cfg is not used yet (the group names are fixed) and may be NULL.
 */
int
role_check(const char *command, const struct config *cfg, char *why,
    size_t whylen)
{
	struct passwd	*pw;
	gid_t		 adm, aud;
	char		 me[64];
	size_t		 i;
	int		 has_adm, has_aud;

	(void)cfg;
	for (i = 0; i < NCOMMAND_ROLES; i++)
		if (strcmp(command_roles[i].name, command) == 0)
			break;
	if (i == NCOMMAND_ROLES || command_roles[i].need == ROLE_ANYONE)
		return 0;
	if (getuid() == 0)
		return 0;
	if ((pw = getpwnam(RS_USER)) != NULL && pw->pw_uid == getuid())
		return 0;
	has_adm = group_id(RS_GROUP_ADMINS, &adm) == 0;
	has_aud = group_id(RS_GROUP_AUDITORS, &aud) == 0;
	if (!has_adm && !has_aud)
		return 0;	/* roles are not installed */
	if (has_adm && in_group(adm))
		return 0;
	who_am_i(me, sizeof(me));
	if (has_aud && in_group(aud)) {
		if (command_roles[i].need == ROLE_READ)
			return 0;
		snprintf(why, whylen, "permission denied: \"%s\" changes "
		    "things, and %s is in " RS_GROUP_AUDITORS ", which may "
		    "only run the read-only commands (history, show, items, "
		    "report, status, users, user, check-config); ask a member "
		    "of " RS_GROUP_ADMINS, command, me);
		return -1;
	}
	snprintf(why, whylen, "permission denied: %s is in neither "
	    RS_GROUP_ADMINS " nor " RS_GROUP_AUDITORS "; an administrator "
	    "can add you to one of them (adduser %s " RS_GROUP_AUDITORS ")",
	    me, me);
	return -1;
}

/* Who decides: the user behind sudo, else the calling user. */
const char *
whoami(void)
{
	static char	 name[64];
	struct passwd	*pw;
	const char	*sudo = getenv("SUDO_USER");

	pw = getpwuid(getuid());
	/* root, or the service user reached with sudo -u rostersync */
	if ((getuid() == 0 || (pw != NULL && strcmp(pw->pw_name,
	    RS_USER) == 0)) && sudo != NULL && *sudo != '\0')
		snprintf(name, sizeof(name), "%s", sudo);
	else if (pw != NULL)
		snprintf(name, sizeof(name), "%s", pw->pw_name);
	else
		snprintf(name, sizeof(name), "uid %u", (unsigned)getuid());
	return name;
}
