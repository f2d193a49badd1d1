/*
 * The names of run statuses, item types, item statuses and issue types:
 * the slug stored in the database and typed on the command line, and the
 * label people read (the wording sync products use).
 */
#include <string.h>
#include <strings.h>

#include "rostersync.h"

struct name {
	const char	*slug;
	const char	*label;
};

static const struct name runstatus[RS__COUNT] = {
	[RS_QUEUED] = { "queued", "Queued" },
	[RS_IN_PROGRESS] = { "in_progress", "In Progress" },
	[RS_PENDING] = { "pending_approval", "Pending approval" },
	[RS_SUCCESS] = { "success", "Success" },
	[RS_ATTENTION] = { "needs_attention", "Needs Attention" },
	[RS_LOADFAIL] = { "data_load_failed", "Data Load Failed" },
	[RS_THRESHOLD] = { "above_threshold",
	    "Above Deactivation Threshold" },
	[RS_UPD_THRESHOLD] = { "above_update_threshold",
	    "Above Update Threshold" },
	[RS_APPROVED] = { "approved", "Approved" },
	[RS_REJECTED] = { "rejected", "Rejected" },
	[RS_CANCELLED] = { "cancelled", "Cancelled" },
	[RS_FAILED] = { "failed", "Failed" },
};

static const struct name itemtype[IT__COUNT] = {
	[IT_CREATE] = { "create", "User created" },
	[IT_UPDATE] = { "update", "User updated" },
	[IT_MANAGER] = { "manager", "Direct Manager assigned" },
	[IT_DELETE] = { "delete", "User deleted" },
	[IT_TEAM_CREATE] = { "team_create", "Team created" },
	[IT_TEAM_DELETE] = { "team_delete", "Team deleted" },
	[IT_TEAM_MEMBER] = { "team_member", "Team membership changed" },
};

static const struct name itemstatus[IST__COUNT] = {
	[IST_APPLIED] = { "applied", "Applied" },
	[IST_HELD] = { "held", "Held" },
	[IST_PREVIEW] = { "preview", "Preview" },
	[IST_PENDING] = { "pending", "Pending" },
	[IST_FAILED] = { "failed", "Failed" },
	[IST_CONFIRMED] = { "confirmed", "Confirmed" },
};

static const struct name issuetype[ISS__COUNT] = {
	[ISS_USER_SKIPPED] = { "user_skipped", "User skipped" },
	[ISS_MANAGER_NOT_FOUND] = { "manager_not_found",
	    "No profile for Direct Manager" },
	[ISS_MANAGER_CYCLE] = { "manager_cycle", "Management loop" },
	[ISS_SEAT_LIMIT] = { "seat_limit_reached", "Workspace limit reached" },
	[ISS_ID_CHANGED] = { "id_changed", "Employee id changed" },
};

/* What someone decided about a run; the label reads "Approved by ...". */
static const struct name decision[DEC__COUNT] = {
	[DEC_NONE] = { "", "" },
	[DEC_APPROVE] = { "approve", "Approved" },
	[DEC_REJECT] = { "reject", "Rejected" },
	[DEC_CANCEL] = { "cancel", "Cancelled" },
	[DEC_OVERRIDE] = { "override", "Overridden" },
	[DEC_SUPERSEDE] = { "supersede", "Superseded" },
};

/* A slug or a label, in any case; "-" and " " stand for "_". */
static int
lookup(const struct name *t, int n, const char *s)
{
	char	 norm[64];
	size_t	 i;
	int	 k;

	if (s == NULL)
		return -1;
	for (k = 0; k < n; k++)
		if (strcasecmp(s, t[k].slug) == 0 ||
		    strcasecmp(s, t[k].label) == 0)
			return k;
	for (i = 0; s[i] != '\0' && i < sizeof(norm) - 1; i++)
		norm[i] = s[i] == '-' || s[i] == ' ' ? '_' : s[i];
	norm[i] = '\0';
	for (k = 0; k < n; k++)
		if (strcasecmp(norm, t[k].slug) == 0)
			return k;
	return -1;
}

const char *
runstatus_slug(enum runstatus s)
{
	return (unsigned)s < RS__COUNT ? runstatus[s].slug : "unknown";
}

const char *
runstatus_label(enum runstatus s)
{
	return (unsigned)s < RS__COUNT ? runstatus[s].label : "Unknown";
}

int
runstatus_parse(const char *s)
{
	return lookup(runstatus, RS__COUNT, s);
}

const char *
itemtype_slug(enum itemtype t)
{
	return (unsigned)t < IT__COUNT ? itemtype[t].slug : "unknown";
}

const char *
itemtype_label(enum itemtype t)
{
	return (unsigned)t < IT__COUNT ? itemtype[t].label : "Unknown";
}

int
itemtype_parse(const char *s)
{
	return lookup(itemtype, IT__COUNT, s);
}

const char *
itemstatus_slug(enum itemstatus s)
{
	return (unsigned)s < IST__COUNT ? itemstatus[s].slug : "unknown";
}

int
itemstatus_parse(const char *s)
{
	return lookup(itemstatus, IST__COUNT, s);
}

const char *
issuetype_slug(enum issuetype t)
{
	return (unsigned)t < ISS__COUNT ? issuetype[t].slug : "unknown";
}

const char *
issuetype_label(enum issuetype t)
{
	return (unsigned)t < ISS__COUNT ? issuetype[t].label : "Unknown";
}

int
issuetype_parse(const char *s)
{
	return lookup(issuetype, ISS__COUNT, s);
}

const char *
decision_slug(enum decision d)
{
	return (unsigned)d < DEC__COUNT ? decision[d].slug : "";
}

const char *
decision_label(enum decision d)
{
	return (unsigned)d < DEC__COUNT ? decision[d].label : "";
}

int
decision_parse(const char *s)
{
	int	 k;

	for (k = 1; k < DEC__COUNT; k++)
		if (strcmp(s, decision[k].slug) == 0)
			return k;
	return DEC_NONE;
}

/* The exit status a run's outcome gives `rostersync run`. */
int
runstatus_exit(enum runstatus s)
{
	switch (s) {
	case RS_SUCCESS:
	case RS_APPROVED:
	case RS_REJECTED:
	case RS_CANCELLED:
		return EXIT_OK;
	case RS_ATTENTION:
		return EXIT_ATTENTION;
	case RS_LOADFAIL:
		return EXIT_DATA;
	case RS_THRESHOLD:
	case RS_UPD_THRESHOLD:
	case RS_PENDING:
		return EXIT_HELD;
	default:
		return EXIT_FAIL;
	}
}

/* Held by a threshold, with approval "never": the run that stopped. */
int
runstatus_above(enum runstatus s)
{
	return s == RS_THRESHOLD || s == RS_UPD_THRESHOLD;
}
