/*
 * rostersync-ldap: an apply hook in stream mode (hook.c, hook_stream.c)
 * that provisions an LDAP directory with the OpenLDAP client library.
 * It reads one item per line on standard input and answers one line per
 * item on standard output when its LDAP operations complete, with up to
 * `window` items at work at once: every operation is asynchronous
 * (ldap_*_ext with message ids), so the server works on a window of them
 * while the connector reads and answers. The member changes the items ask
 * of a group go together in few modifies ("groups" below).
 *
 * People are inetOrgPerson entries uid=EMPLOYEE_ID,BASE (the mapping of
 * fields to attributes is a table that --map changes); teams are
 * groupOfNames entries cn=TEAM,GROUPS-BASE whose member values are the
 * people's DNs (a group without members holds the empty DN, since the
 * schema wants one). DNs are made with ldap_rdn2str(), filters escaped
 * with ldap_bv2escaped_filter_value(). Each item converges: a create of an
 * entry that exists updates it (or brings it back from --disabled-base), a
 * member added twice or removed when absent is no error (the permissive
 * modify control), a delete of what is gone succeeds, so a run cut short
 * and retried ends with the same tree.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ldap.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rostersync.h"

/* ------------------------------------------------------------ options */

struct fmap {
	const char	*field;
	const char	*attr[LDAPC_MAP_ATTRS]; /* NULL-terminated */
	int		 given;		/* --map replaced the default */
};

static struct fmap	 maps[LDAPC_MAPS] = {
	{ "employee_id", { "uid" }, 0 },
	{ "email", { "mail" }, 0 },
	{ "first_name", { "givenName" }, 0 },
	{ "last_name", { "sn" }, 0 },
	{ "display_name", { "displayName", "cn" }, 0 },
	{ "title", { "title" }, 0 },
	{ "department", { "departmentNumber" }, 0 },
	{ "location", { "l" }, 0 },
	{ "employment_status", { "employeeType" }, 0 },
	{ "manager_id", { "manager" }, 0 },
};
static size_t		 nmaps = 10;

struct opts {
	const char	*uri, *binddn, *pwfile, *base, *gbase, *dbase, *cafile;
	const char	*team_field;
	int		 starttls, window, timeout;
	int		 tls;		/* ldaps:// or --starttls */
	char		*host;		/* --uri's host, for the certificate */
};
static struct opts	 o;

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fputs("rostersync-ldap: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void __attribute__((noreturn))
usage(const char *why)
{
	if (why != NULL)
		say("%s", why);
	fprintf(stderr, "usage: rostersync-ldap --uri URI --base DN "
	    "[--bind-dn DN --password-file FILE]\n"
	    "\t[--starttls] [--ca-file FILE] [--groups-base DN] "
	    "[--disabled-base DN]\n"
	    "\t[--team-field FIELD] [--map FIELD=ATTRIBUTE]... "
	    "[--window N] [--timeout S]\n");
	exit(2);
}

static int
attr_ok(const char *a)
{
	size_t	 i;

	for (i = 0; a[i] != '\0'; i++)
		if (!((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= 'A' &&
		    a[i] <= 'Z') || (i > 0 && ((a[i] >= '0' && a[i] <= '9') ||
		    a[i] == '-'))))
			return 0;
	return i > 0 && i < 64;
}

/* --map FIELD=ATTRIBUTE: the first replaces FIELD's default attributes,
 * the next add to them; FIELD= maps it to nothing. */
static void
map_option(char *arg)
{
	char		*eq = strchr(arg, '=');
	struct fmap	*m = NULL;
	size_t		 i, k;

	if (eq == NULL || eq == arg)
		usage("--map wants FIELD=ATTRIBUTE");
	*eq++ = '\0';
	if (*eq != '\0' && !attr_ok(eq))
		usage("--map: not an attribute name");
	for (i = 0; i < nmaps; i++)
		if (strcmp(maps[i].field, arg) == 0)
			m = &maps[i];
	if (m == NULL) {
		if (nmaps == LDAPC_MAPS)
			usage("--map: too many fields");
		m = &maps[nmaps++];
		m->field = arg;
	}
	if (!m->given)
		memset(m->attr, 0, sizeof(m->attr));
	m->given = 1;
	for (k = 0; k < LDAPC_MAP_ATTRS - 1 && m->attr[k] != NULL; k++)
		;
	if (*eq != '\0' && k == LDAPC_MAP_ATTRS - 1)
		usage("--map: too many attributes for one field");
	if (*eq != '\0')
		m->attr[k] = eq;
}

static const struct fmap *
map_of(const char *field)
{
	size_t	 i;

	for (i = 0; i < nmaps; i++)
		if (strcmp(maps[i].field, field) == 0)
			return &maps[i];
	return NULL;
}

static int
num_option(const char *arg, int min, int max, const char *what)
{
	long long	 v;

	if (parse_ll(arg, min, max, &v) == -1) {
		say("%s must be a whole number from %d to %d, not %s", what,
		    min, max, arg);
		usage(NULL);
	}
	return (int)v;
}

/* --uri: one LDAP URL, with TLS options that fit it (the password never
 * goes in clear by mistake). */
static void
uri_option(void)
{
	LDAPURLDesc	*lud = NULL;
	int		 ldaps;

	if (ldap_url_parse(o.uri, &lud) != LDAP_URL_SUCCESS)
		usage("--uri: not an LDAP URL (ldap://HOST:PORT or "
		    "ldaps://HOST:PORT)");
	ldaps = strcasecmp(lud->lud_scheme, "ldaps") == 0;
	o.host = xstrdup(lud->lud_host ? lud->lud_host : "");
	ldap_free_urldesc(lud);
	if (o.starttls && ldaps)
		usage("--starttls is for an ldap:// URI: ldaps:// is TLS from "
		    "the start");
	o.tls = ldaps || o.starttls;
	if (o.cafile != NULL && !o.tls)
		usage("--ca-file wants TLS: an ldaps:// URI or --starttls");
}

static void
parse_options(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "uri", required_argument, NULL, 'H' },
		{ "bind-dn", required_argument, NULL, 'D' },
		{ "password-file", required_argument, NULL, 'y' },
		{ "base", required_argument, NULL, 'b' },
		{ "groups-base", required_argument, NULL, 'g' },
		{ "disabled-base", required_argument, NULL, 'd' },
		{ "starttls", no_argument, NULL, 'Z' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ "map", required_argument, NULL, 'm' },
		{ "team-field", required_argument, NULL, 't' },
		{ "window", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*w = getenv("ROSTERSYNC_WINDOW");
	int		 c;

	o.window = w != NULL ? num_option(w, 1, HOOK_WINDOW_MAX,
	    "ROSTERSYNC_WINDOW") : 64;
	o.timeout = 30;
	o.team_field = "department";
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'H': o.uri = optarg; break;
		case 'D': o.binddn = optarg; break;
		case 'y': o.pwfile = optarg; break;
		case 'b': o.base = optarg; break;
		case 'g': o.gbase = optarg; break;
		case 'd': o.dbase = optarg; break;
		case 'Z': o.starttls = 1; break;
		case 'C': o.cafile = optarg; break;
		case 'm': map_option(optarg); break;
		case 't': o.team_field = optarg; break;
		case 'w': o.window = num_option(optarg, 1, HOOK_WINDOW_MAX,
		    "--window"); break;
		case 'T': o.timeout = num_option(optarg, 1, 3600,
		    "--timeout"); break;
		default: usage(NULL);
		}
	}
	if (optind != argc)
		usage("unexpected arguments");
	if (o.uri == NULL || o.base == NULL)
		usage("--uri and --base are required");
	if ((o.binddn == NULL) != (o.pwfile == NULL))
		usage("--bind-dn and --password-file go together");
	if (map_of("employee_id") == NULL ||
	    map_of("employee_id")->attr[0] == NULL)
		usage("employee_id must map to the attribute of the RDN");
	uri_option();
}

/* ---------------------------------------------------------- the secret */

/* The first line of the password file, refused when group or others
 * may read it; NULL with a message in err. Free it with free(). */
static char *
read_secret(const char *path, char *err, size_t errlen)
{
	struct stat	 sb;
	char		 buf[LDAPC_SECRET_MAX + 1];
	ssize_t		 n = -1;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "cannot read the password file %s: %s",
		    path, strerror(errno));
	} else if (!S_ISREG(sb.st_mode))
		snprintf(err, errlen, "the password file %s is not a regular "
		    "file", path);
	else if ((sb.st_mode & 077) != 0)
		snprintf(err, errlen, "refusing the password file %s: it is "
		    "readable by group or others (mode %04o); run chmod 600 %s",
		    path, (unsigned)(sb.st_mode & 07777), path);
	else if ((n = read(fd, buf, LDAPC_SECRET_MAX)) < 0)
		snprintf(err, errlen, "cannot read the password file %s: %s",
		    path, strerror(errno));
	if (fd != -1)
		close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return xstrdup(buf);
}

/* ---------------------------------------------------------------- TLS */

/* --ca-file: a regular file we can read, with a certificate in it. 0, or
 * -1 with the reason in err. */
static int
ca_file_check(char *err, size_t errlen)
{
	X509_STORE	*st;
	struct stat	 sb;
	int		 fd, ok;

	if ((fd = open(o.cafile, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "cannot read the CA file %s: %s",
		    o.cafile, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "the CA file %s is not a regular file",
		    o.cafile);
		return -1;
	}
	st = X509_STORE_new();
	ok = st != NULL && X509_STORE_load_locations(st, o.cafile, NULL) == 1;
	X509_STORE_free(st);
	if (!ok)
		snprintf(err, errlen, "the CA file %s holds no certificate "
		    "(PEM: -----BEGIN CERTIFICATE-----)", o.cafile);
	return ok ? 0 : -1;
}

/*
 * The TLS of every connection, set once before the first (libldap's
 * global options, over what ldap.conf(5), ~/.ldaprc and LDAPTLS_* said):
 * the server's certificate is always verified, its name included
 * (TLS_REQCERT demand, whatever they say); --ca-file's certificates are
 * the only CAs trusted, else ldap.conf's TLS_CACERT and TLS_CACERTDIR.
 * A CA file that cannot be used is said here, before any item. 0, or -1
 * with the reason in err.
 */
static int
tls_setup(char *err, size_t errlen)
{
	int	 demand = LDAP_OPT_X_TLS_DEMAND, client = 0;

	if (ldap_set_option(NULL, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) !=
	    LDAP_OPT_SUCCESS) {
		snprintf(err, errlen, "libldap cannot verify certificates");
		return -1;
	}
	if (o.cafile != NULL) {
		if (ca_file_check(err, errlen) == -1)
			return -1;
		ldap_set_option(NULL, LDAP_OPT_X_TLS_CACERTFILE, o.cafile);
		ldap_set_option(NULL, LDAP_OPT_X_TLS_CACERTDIR, NULL);
	}
	if (o.tls && ldap_set_option(NULL, LDAP_OPT_X_TLS_NEWCTX, &client) !=
	    LDAP_OPT_SUCCESS) {
		snprintf(err, errlen, "libldap cannot set up TLS with the CAs "
		    "of %s", o.cafile ? o.cafile : "ldap.conf");
		return -1;
	}
	return 0;
}

/* A certificate's subject or issuer as RFC 2253 text, in buf. */
static void
name_text(const X509_NAME *n, char *buf, size_t len)
{
	BIO	*b = BIO_new(BIO_s_mem());
	int	 k = 0;

	if (b != NULL && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0)
		k = BIO_read(b, buf, (int)len - 1);
	buf[k > 0 ? k : 0] = '\0';
	BIO_free(b);
}

/* The CAs libldap trusts put in st, and named in text: --ca-file's, else
 * ldap.conf's file and directory. */
static void
tls_trusted(X509_STORE *st, char *text, size_t len)
{
	char		*file = NULL, *dir = NULL;
	const char	*f = o.cafile;

	if (f == NULL) {
		ldap_get_option(NULL, LDAP_OPT_X_TLS_CACERTFILE, &file);
		ldap_get_option(NULL, LDAP_OPT_X_TLS_CACERTDIR, &dir);
		f = file;
	}
	if (f != NULL)
		X509_STORE_load_locations(st, f, NULL);
	if (dir != NULL)
		X509_STORE_load_locations(st, NULL, dir);
	snprintf(text, len, "%s%s%s%s", f ? f : "", f && dir ? " and " : "",
	    dir ? dir : "", f || dir ? "" : "none (see --ca-file)");
	ldap_memfree(file);
	ldap_memfree(dir);
}

/* What is wrong with the server's certificate (DER), as OpenSSL sees it
 * against the CAs libldap trusts and the host of --uri. Free with
 * free(). */
static char *
cert_explain(const struct berval *der)
{
	const unsigned char	*p = (const unsigned char *)der->bv_val;
	X509			*x = d2i_X509(NULL, &p, (long)der->bv_len);
	X509_STORE		*st = X509_STORE_new();
	X509_STORE_CTX		*c = X509_STORE_CTX_new();
	X509_VERIFY_PARAM	*vp;
	unsigned char		 ip[16];
	char			 subj[256], iss[256], cas[1024], *s;
	const char		*fault = "libldap's checks fail where OpenSSL's "
				    "pass";

	if (x == NULL || st == NULL || c == NULL) {
		s = xstrdup("the server's TLS certificate is refused");
		goto out;
	}
	tls_trusted(st, cas, sizeof(cas));
	name_text(X509_get_subject_name(x), subj, sizeof(subj));
	name_text(X509_get_issuer_name(x), iss, sizeof(iss));
	if (X509_STORE_CTX_init(c, st, x, NULL) == 1) {
		vp = X509_STORE_CTX_get0_param(c);
		if (inet_pton(AF_INET, o.host, ip) == 1 ||
		    inet_pton(AF_INET6, o.host, ip) == 1)
			X509_VERIFY_PARAM_set1_ip_asc(vp, o.host);
		else if (o.host[0] != '\0')
			X509_VERIFY_PARAM_set1_host(vp, o.host, 0);
		if (X509_verify_cert(c) != 1)
			fault = X509_verify_cert_error_string(
			    X509_STORE_CTX_get_error(c));
		else if (o.host[0] == '\0' ||
		    strcasecmp(o.host, "localhost") == 0)
			fault = "libldap checks it against this machine's "
			    "name, not localhost: name the host in --uri as "
			    "the certificate does";
	}
	xasprintf(&s, "the server's TLS certificate is refused: %s (%s, "
	    "issued by %s; CAs trusted: %s)", fault, subj, iss, cas);
out:
	X509_STORE_CTX_free(c);
	X509_STORE_free(st);
	X509_free(x);
	return s;
}

/* A handle on --uri with the options of every connection (LDAPv3, the
 * network timeout, no referrals); libldap's result code. */
static int
conn_init(LDAP **p)
{
	struct timeval	 tv = { o.timeout, 0 };
	int		 v3 = LDAP_VERSION3, off = 0, rc;

	if ((rc = ldap_initialize(p, o.uri)) != LDAP_SUCCESS)
		return rc;
	ldap_set_option(*p, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(*p, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	ldap_set_option(*p, LDAP_OPT_REFERRALS, &off);
	return LDAP_SUCCESS;
}

/* libldap's words for rc and the server's diagnostic, if any, in buf. */
static const char *
rc_text(char *buf, size_t len, int rc, const char *diag)
{
	snprintf(buf, len, "%s (%d)%s%s", ldap_err2string(rc), rc,
	    diag && *diag ? ": " : "", diag ? diag : "");
	return buf;
}

/*
 * Why the TLS handshake failed, when libldap does not say (GnuTLS's
 * verdict on a certificate comes as "(unknown error code)"): a second
 * connection whose handshake takes any certificate, on which nothing but
 * the handshake (and, for --starttls, its request) is sent, and the
 * certificate it got explained. NULL when that handshake fails too: then
 * it is not the certificate. Free with free().
 */
static char *
tls_explain(void)
{
	LDAP		*p = NULL;
	struct berval	 der = { 0, NULL };
	int		 allow = LDAP_OPT_X_TLS_ALLOW, client = 0, rc;
	char		*why = NULL;

	if (conn_init(&p) != LDAP_SUCCESS)
		return NULL;
	if (ldap_set_option(p, LDAP_OPT_X_TLS_REQUIRE_CERT, &allow) ==
	    LDAP_OPT_SUCCESS && ldap_set_option(p, LDAP_OPT_X_TLS_NEWCTX,
	    &client) == LDAP_OPT_SUCCESS) {
		rc = o.starttls ? ldap_start_tls_s(p, NULL, NULL) :
		    ldap_connect(p);
		if (rc == LDAP_SUCCESS && ldap_get_option(p,
		    LDAP_OPT_X_TLS_PEERCERT, &der) == LDAP_OPT_SUCCESS &&
		    der.bv_len > 0)
			why = cert_explain(&der);
	}
	ber_memfree(der.bv_val);
	ldap_unbind_ext_s(p, NULL, NULL);
	return why;
}

/* -------------------------------------------------------- the connection */

struct ljob;
struct op;
typedef void (*op_done)(struct ljob *, struct op *, int rc, const char *diag);

struct group;

/* One LDAP operation in flight: an item's, or a group's (groups below). */
struct op {
	int		 msgid;		/* 0: a free slot */
	struct ljob	*j;		/* the item's, with done */
	op_done		 done;
	struct group	*g;		/* or the group's (j is NULL) */
	char		*dn;		/* the entry it is about (malloc) */
};

/* One item at work. */
struct ljob {
	int		 used;
	long long	 run, item;
	int		 type;		/* enum itemtype */
	struct arena	 a;
	const struct jval *v;		/* the item (in a) */
	const char	*key;		/* employee id */
	char		*dn;		/* the person's DN, or the group's */
	char		*rdn;		/* its RDN */
	int		 pending;	/* operations in flight */
	char		*err;		/* the first failure (malloc) */
	const char	*did;		/* what was done, for the response */
	struct buf	 found;		/* delete: the groups found, NUL-separated */
	size_t		 nfound;
};

static LDAP		*ld;
static char		*dead;		/* why the server cannot be used */
static char		*base_dn, *gbase_dn, *dbase_dn; /* normalised */
static struct op	*ops;
static size_t		 nops;
static struct ljob	*jobs;
static size_t		 njobs;		/* in use */
static LDAPControl	 permissive = { LDAP_CONTROL_X_PERMISSIVE_MODIFY,
			    { 0, NULL }, 0 };
static LDAPControl	*mod_ctrls[] = { &permissive, NULL };

/* A DN given on the command line, checked and in its LDAPv3 form. */
static char *
dn_option(const char *what, const char *s)
{
	LDAPDN	 dn = NULL;
	char	*out = NULL;

	if (s == NULL)
		return NULL;
	if (ldap_str2dn(s, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
	    dn == NULL || ldap_dn2str(dn, &out, LDAP_DN_FORMAT_LDAPV3) !=
	    LDAP_SUCCESS) {
		say("%s: not a DN: %s", what, s);
		usage(NULL);
	}
	ldap_dnfree(dn);
	return out;
}

/* "ATTR=VALUE" escaped as RFC 4514 says; NULL for an empty value. */
static char *
rdn_make(const char *attr, const char *value)
{
	LDAPAVA		 ava;
	LDAPAVA		*rdn[2] = { &ava, NULL };
	char		*s = NULL, *copy;

	if (value == NULL || value[0] == '\0')
		return NULL;
	memset(&ava, 0, sizeof(ava));
	ava.la_attr.bv_val = (char *)attr;
	ava.la_attr.bv_len = strlen(attr);
	ava.la_value.bv_val = (char *)value;
	ava.la_value.bv_len = strlen(value);
	ava.la_flags = LDAP_AVA_STRING;
	if (ldap_rdn2str(rdn, &s, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return NULL;
	copy = xstrdup(s);
	ldap_memfree(s);
	return copy;
}

/* RDN,PARENT; NULL for an empty value. Free with free(). */
static char *
dn_make(const char *attr, const char *value, const char *parent)
{
	char	*rdn = rdn_make(attr, value), *dn;

	if (rdn == NULL)
		return NULL;
	xasprintf(&dn, "%s,%s", rdn, parent);
	free(rdn);
	return dn;
}

static char *
person_dn(const char *key, const char *parent)
{
	return dn_make(map_of("employee_id")->attr[0], key, parent);
}

static void
kill_connection(const char *why)
{
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	ld = NULL;
	say("%s", why);
}

/* Requests go out as they are made: without TCP_NODELAY a small one
 * behind another waits for the server's delayed ACK (40 ms on Linux). */
static void
nodelay(void)
{
	int	 fd = -1, one = 1;

	if (ldap_get_option(ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS &&
	    fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* The connection, or its StartTLS, failed with rc: why, in dead. */
static void
conn_failed(int rc)
{
	char	*diag = NULL, *why = NULL, said[4096];

	ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	rc_text(said, sizeof(said), rc, diag);
	if (o.tls && (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR))
		why = tls_explain();
	if (why != NULL)
		xasprintf(&dead, "%s: %s: %s", o.uri, o.starttls ? "StartTLS" :
		    "connect", why);
	else if (o.starttls && rc > 0)	/* the server's answer */
		xasprintf(&dead, "%s: the server refused StartTLS, so nothing "
		    "was sent in clear: %s", o.uri, said);
	else
		xasprintf(&dead, "%s: %s: %s", o.uri, o.starttls ?
		    "StartTLS" : "connect", said);
	free(why);
	ldap_memfree(diag);
}

/* Connect (with TLS as asked) and bind; 0, or -1 with the server's reason
 * in dead. The password goes only on a connection that is as secure as
 * asked. */
static int
conn_open(const char *password)
{
	struct berval	 cred;
	int		 rc;
	char		*diag = NULL, said[4096];

	if ((rc = conn_init(&ld)) != LDAP_SUCCESS) {
		xasprintf(&dead, "%s: %s", o.uri, ldap_err2string(rc));
		return -1;
	}
	rc = o.starttls ? ldap_start_tls_s(ld, NULL, NULL) : ldap_connect(ld);
	if (rc != LDAP_SUCCESS) {
		conn_failed(rc);
		goto fail;
	}
	cred.bv_val = (char *)(password ? password : "");
	cred.bv_len = strlen(cred.bv_val);
	if ((rc = ldap_sasl_bind_s(ld, o.binddn, LDAP_SASL_SIMPLE, &cred,
	    NULL, NULL, NULL)) != LDAP_SUCCESS) {
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
		xasprintf(&dead, "%s: bind as %s: %s", o.uri,
		    o.binddn ? o.binddn : "(anonymous)",
		    rc_text(said, sizeof(said), rc, diag));
		goto fail;
	}
	nodelay();	/* connected by now */
	return 0;
fail:
	ldap_memfree(diag);
	ldap_unbind_ext_s(ld, NULL, NULL);
	ld = NULL;
	return -1;
}

/* ------------------------------------------------------------ answers */

static void
answer(struct ljob *j)
{
	struct buf	 b = { 0 };

	buf_printf(&b, "{\"run\":%lld,\"item\":%lld,\"ok\":%s", j->run,
	    j->item, j->err ? "false" : "true");
	if (j->err != NULL) {
		buf_adds(&b, ",\"error\":");
		json_str(&b, j->err, strlen(j->err));
	} else {
		buf_adds(&b, ",\"response\":{\"dn\":");
		json_str(&b, j->dn ? j->dn : "", j->dn ? strlen(j->dn) : 0);
		buf_adds(&b, ",\"did\":");
		json_str(&b, j->did, strlen(j->did));
		buf_addc(&b, '}');
	}
	buf_adds(&b, "}\n");
	fwrite(b.p, 1, b.len, stdout);
	buf_free(&b);
	arena_free(&j->a);
	free(j->dn);
	free(j->rdn);
	free(j->err);
	buf_free(&j->found);
	memset(j, 0, sizeof(*j));
	njobs--;
}

static void
fail(struct ljob *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(struct ljob *j, const char *fmt, ...)
{
	va_list	 ap;

	if (j->err != NULL)
		return;		/* the first failure tells */
	va_start(ap, fmt);
	if (vasprintf(&j->err, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
}

/* An LDAP failure: the server's words and the entry's DN. */
static void
fail_ldap(struct ljob *j, const char *what, const char *dn, int rc,
    const char *diag)
{
	char	 said[4096];

	fail(j, "%s %s: %s", what, dn, rc_text(said, sizeof(said), rc, diag));
}

/* -------------------------------------------------- launching operations */

static void conn_lost(void);

/* A free slot for an operation sent as msgid about dn. */
static struct op *
op_slot(int msgid, const char *dn)
{
	size_t	 i;

	for (i = 0; i < nops && ops[i].msgid != 0; i++)
		;
	if (i == nops) {
		ops = xrealloc(ops, (nops + 16) * sizeof(*ops));
		memset(ops + nops, 0, 16 * sizeof(*ops));
		nops += 16;
	}
	ops[i].msgid = msgid;
	ops[i].dn = xstrdup(dn);
	return &ops[i];
}

/* An operation just sent (rc from its ldap_*_ext call) is the item's. */
static void
op_track(struct ljob *j, int rc, int msgid, op_done done, const char *dn,
    const char *what)
{
	struct op	*op;

	if (rc != LDAP_SUCCESS) {
		fail_ldap(j, what, dn, rc, NULL);
		if (ld != NULL && (rc == LDAP_SERVER_DOWN ||
		    rc == LDAP_CONNECT_ERROR))
			conn_lost();	/* the others in flight with it */
		return;
	}
	op = op_slot(msgid, dn);
	op->j = j;
	op->done = done;
	j->pending++;
}

/* Modifications as LDAPMod, built on the job's arena. */
struct mods {
	LDAPMod		*m[LDAPC_ATTRS + 1];
	size_t		 n;
};

static void
mods_add(struct ljob *j, struct mods *ms, int op, const char *attr,
    const char *val)
{
	LDAPMod	*m;
	size_t	 i, k;

	for (i = 0; i < ms->n; i++)	/* a second value of an attribute */
		if (ms->m[i]->mod_op == op && strcasecmp(ms->m[i]->mod_type,
		    attr) == 0 && val != NULL && ms->m[i]->mod_values != NULL)
			break;
	if (i == ms->n) {
		if (ms->n == LDAPC_ATTRS)
			return;
		m = arena_alloc(&j->a, sizeof(*m));
		memset(m, 0, sizeof(*m));
		m->mod_op = op;
		m->mod_type = (char *)attr;
		if (val != NULL) {
			m->mod_values = arena_alloc(&j->a, (LDAPC_VALUES + 1) *
			    sizeof(char *));
			memset(m->mod_values, 0, (LDAPC_VALUES + 1) *
			    sizeof(char *));
		}
		ms->m[ms->n++] = m;
		ms->m[ms->n] = NULL;
	}
	m = ms->m[i];
	for (k = 0; val != NULL && k < LDAPC_VALUES && m->mod_values[k]; k++)
		if (strcmp(m->mod_values[k], val) == 0)
			return;
	if (val != NULL && k < LDAPC_VALUES)
		m->mod_values[k] = (char *)val;
}

static void
do_add(struct ljob *j, const char *dn, struct mods *ms, op_done done)
{
	int	 id = 0, rc = ld ? ldap_add_ext(ld, dn, ms->m, NULL, NULL, &id) :
		    LDAP_SERVER_DOWN;

	op_track(j, rc, id, done, dn, "add");
}

static void
do_modify(struct ljob *j, const char *dn, struct mods *ms, op_done done)
{
	int	 id = 0, rc = ld ? ldap_modify_ext(ld, dn, ms->m, mod_ctrls,
		    NULL, &id) : LDAP_SERVER_DOWN;

	op_track(j, rc, id, done, dn, "modify");
}

static void
do_delete(struct ljob *j, const char *dn, op_done done)
{
	int	 id = 0, rc = ld ? ldap_delete_ext(ld, dn, NULL, NULL, &id) :
		    LDAP_SERVER_DOWN;

	op_track(j, rc, id, done, dn, "delete");
}

static void
do_rename(struct ljob *j, const char *dn, const char *rdn, const char *to,
    op_done done)
{
	int	 id = 0, rc = ld ? ldap_rename(ld, dn, rdn, to, 1, NULL, NULL,
		    &id) : LDAP_SERVER_DOWN;

	op_track(j, rc, id, done, dn, "move");
}

/* ------------------------------------------------------------- people */

static const char *
field_value(struct ljob *j, const char *field, const char *v)
{
	if (v != NULL && v[0] != '\0' && strcmp(field, "manager_id") == 0) {
		char *dn = person_dn(v, base_dn);
		const char *copy = arena_strndup(&j->a, dn, strlen(dn));

		free(dn);
		return copy;
	}
	return v;
}

/* cn is mandatory: the display name, else the name, else the key. */
static const char *
cn_fallback(const struct ljob *j)
{
	const char	*n = json_get_str(j->v, "name");

	return n != NULL && n[0] != '\0' ? n : j->key;
}

static int
has_values(const struct mods *ms, const char *attr)
{
	size_t	 i;

	for (i = 0; i < ms->n; i++)
		if (strcasecmp(ms->m[i]->mod_type, attr) == 0 &&
		    ms->m[i]->mod_values != NULL)
			return 1;
	return 0;
}

/*
 * The person's attributes from the item's fields: with LDAP_MOD_ADD the
 * values there are; with LDAP_MOD_REPLACE every mapped attribute, an
 * empty field removing it. Fields the item lacks are left alone.
 */
static void
person_attrs(struct ljob *j, struct mods *ms, int op)
{
	const struct jval	*fields = json_get(j->v, "fields");
	const char		*v;
	size_t			 i, k;

	for (i = 0; i < nmaps; i++) {
		if ((v = json_get_str(fields, maps[i].field)) == NULL)
			continue;
		v = field_value(j, maps[i].field, v);
		for (k = 0; maps[i].attr[k] != NULL; k++) {
			if (v[0] != '\0')
				mods_add(j, ms, op, maps[i].attr[k], v);
			else if (op == LDAP_MOD_REPLACE &&
			    strcasecmp(maps[i].attr[k], "cn") != 0)
				mods_add(j, ms, op, maps[i].attr[k], NULL);
		}
	}
	if (!has_values(ms, "cn"))
		mods_add(j, ms, op, "cn", cn_fallback(j));
}

/* ------------------------------------------------------------- groups */

/*
 * Member changes go through one queue per group. The server rewrites a
 * group whole at each modify of it (and syncs it to disk), so changing a
 * group of 50,000 members by one member costs about what changing it by
 * a hundred does. While an operation on a group is in flight, the changes
 * the items in the window ask of it wait, and go together in its next
 * modify (up to LDAPC_BATCH of them): never two operations on one group
 * at once. When a modify of several changes fails, each is sent again
 * alone, so that each item gets its own verdict and the server's
 * diagnostic.
 *
 * A join also takes out the empty DN that stands for "no members" (the
 * schema wants one): the first join of a group in a run adds the empty DN
 * and deletes it again in the same modify, so that the delete finds it
 * whether the group held it or not; after that the group is known clean
 * and its joins only add (a modify that deletes a value costs slapd about
 * twice one that only adds: it indexes the members again). A leave that
 * would empty the group puts the empty DN back.
 */

/* What a change sent alone does (next). */
enum mstep {
	MS_SEND,	/* the change itself, alone or with others */
	MS_CREATE,	/* join: no such group: it is made with the member */
	MS_PLAIN,	/* join: the member alone (the empty DN's add refused:
			 * a server without permissive modify) */
	MS_UNPLACE,	/* join: then the empty DN out, if there */
	MS_LAST		/* leave: the last member: the empty DN in its place */
};

/* One item's change of one group's members. */
struct mchange {
	struct ljob	*j;		/* the item: its DN is the member */
	int		 join;		/* 1 join, 0 leave */
	enum mstep	 step;
	int		 again;		/* MS_CREATE found it made: joined */
	unsigned long	 seq;		/* in the order asked for */
	struct mchange	*next;
};

/* A group with member changes waiting or in flight. */
struct group {
	char		*dn;		/* malloc */
	struct mchange	*wait;		/* asked for, not sent, in order */
	struct mchange	**wtail;
	struct mchange	*sent;		/* in the operation in flight */
	size_t		 nsent;
	size_t		 alone;		/* the next ones go one by one */
	int		 busy;		/* an operation on it in flight */
};

static struct group	**groups;
static size_t		 ngroups, groupcap;
static size_t		 gbusy;		/* groups with an operation in flight */
static unsigned long	 changes;	/* changes asked for so far */
static char		**clean;	/* groups known without the empty DN,
					 * sorted (strcasecmp) */
static size_t		 nclean, cleancap;

/* Where dn is in clean, or would go; *found whether it is there. */
static size_t
clean_find(const char *dn, int *found)
{
	size_t	 lo = 0, hi = nclean, mid;
	int	 c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcasecmp(clean[mid], dn)) == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
clean_is(const char *dn)
{
	int	 found;

	clean_find(dn, &found);
	return found;
}

/* The group dn is known clean of the empty DN (yes), or may hold it. */
static void
clean_set(const char *dn, int yes)
{
	int	 found;
	size_t	 i = clean_find(dn, &found);

	if (found && !yes) {
		free(clean[i]);
		memmove(clean + i, clean + i + 1, (--nclean - i) *
		    sizeof(*clean));
	} else if (!found && yes) {
		if (nclean == cleancap) {
			cleancap = cleancap ? cleancap * 2 : 16;
			clean = xrealloc(clean, cleancap * sizeof(*clean));
		}
		memmove(clean + i + 1, clean + i, (nclean++ - i) *
		    sizeof(*clean));
		clean[i] = xstrdup(dn);
	}
}

static void
group_added(struct ljob *j, struct op *op, int rc, const char *diag)
{
	clean_set(op->dn, 0);	/* it holds the empty DN, or may */
	if (rc != LDAP_SUCCESS && rc != LDAP_ALREADY_EXISTS)
		fail_ldap(j, "add", op->dn, rc, diag);
}

/* team_create: cn=TEAM,GROUPS-BASE with the empty DN as its member. */
static void
group_add(struct ljob *j, const char *team)
{
	struct mods	 ms = { .n = 0 };
	char		*dn = dn_make("cn", team, gbase_dn);

	if (dn == NULL)
		return;
	mods_add(j, &ms, LDAP_MOD_ADD, "objectClass", "groupOfNames");
	mods_add(j, &ms, LDAP_MOD_ADD, "cn", team);
	mods_add(j, &ms, LDAP_MOD_ADD, "member", "");
	do_add(j, dn, &ms, group_added);
	free(dn);
}

/* The group of gdn, made the first time a change asks for it. */
static struct group *
group_get(const char *gdn)
{
	struct group	*g;
	size_t		 i;

	for (i = 0; i < ngroups; i++)
		if (strcasecmp(groups[i]->dn, gdn) == 0)
			return groups[i];
	if (ngroups == groupcap) {
		groupcap = groupcap ? groupcap * 2 : 16;
		groups = xrealloc(groups, groupcap * sizeof(*groups));
	}
	g = xcalloc(1, sizeof(*g));
	g->dn = xstrdup(gdn);
	g->wtail = &g->wait;
	groups[ngroups++] = g;
	return g;
}

/* j asks to join or leave the group gdn; groups_kick() sends it. */
static void
group_change(struct ljob *j, const char *gdn, int join)
{
	struct group	*g = group_get(gdn);
	struct mchange	*c = xcalloc(1, sizeof(*c));

	c->j = j;
	c->join = join;
	c->seq = ++changes;
	*g->wtail = c;
	g->wtail = &c->next;
	j->pending++;
}

/* The change is over, its item's failure noted if it failed. */
static void
change_end(const struct group *g, struct mchange *c, int rc,
    const char *diag)
{
	if (rc == LDAP_SUCCESS && (c->join || c->step == MS_LAST))
		clean_set(g->dn, c->join);
	if (rc != LDAP_SUCCESS)
		fail_ldap(c->j, c->step == MS_CREATE ? "add" : c->join ?
		    "join" : "leave", g->dn, rc, diag);
	c->j->pending--;
	free(c);
}

static LDAPMod *
mod_set(LDAPMod *m, int op, char *attr, char **vals)
{
	memset(m, 0, sizeof(*m));
	m->mod_op = op;
	m->mod_type = attr;
	m->mod_values = vals;
	return m;
}

/* One modify of the changes sent: the members joining (and the empty DN
 * added and deleted again, unless the group is known clean of it), the
 * members leaving. */
static int
group_modify(struct group *g, int *msgid)
{
	struct mchange	*c;
	LDAPMod		 mm[4], *m[5];
	char		**in, **out, *empty[] = { "", NULL };
	size_t		 nin = 0, nout = 0, k = 0;
	int		 rc;

	in = xcalloc(g->nsent + 1, sizeof(*in));
	out = xcalloc(g->nsent + 1, sizeof(*out));
	for (c = g->sent; c != NULL; c = c->next)
		if (c->join)
			in[nin++] = c->j->dn;
		else
			out[nout++] = c->j->dn;
	if (nin > 0)
		m[k] = mod_set(&mm[k], LDAP_MOD_ADD, "member", in), k++;
	if (nin > 0 && !clean_is(g->dn)) {
		m[k] = mod_set(&mm[k], LDAP_MOD_ADD, "member", empty), k++;
		m[k] = mod_set(&mm[k], LDAP_MOD_DELETE, "member", empty), k++;
	}
	if (nout > 0)
		m[k] = mod_set(&mm[k], LDAP_MOD_DELETE, "member", out), k++;
	m[k] = NULL;
	rc = ldap_modify_ext(ld, g->dn, m, mod_ctrls, NULL, msgid);
	free(in);
	free(out);
	return rc;
}

/* The operation of a change sent alone, at its step. */
static int
change_op(struct group *g, struct mchange *c, int *msgid)
{
	LDAPMod		 mm[3], *m[4];
	LDAPDN		 dn = NULL;
	char		*who[] = { c->j->dn, NULL }, *empty[] = { "", NULL };
	char		*oc[] = { "groupOfNames", NULL }, *cn[] = { NULL, NULL };
	int		 rc;

	m[0] = mod_set(&mm[0], LDAP_MOD_ADD, "member", who);
	m[1] = m[2] = m[3] = NULL;
	switch (c->step) {
	case MS_SEND:
		return group_modify(g, msgid);
	case MS_CREATE:
		if (ldap_str2dn(g->dn, &dn, LDAP_DN_FORMAT_LDAPV3) !=
		    LDAP_SUCCESS || dn == NULL || dn[0] == NULL)
			return LDAP_INVALID_DN_SYNTAX;
		cn[0] = xstrndup(dn[0][0]->la_value.bv_val,
		    dn[0][0]->la_value.bv_len);
		ldap_dnfree(dn);
		m[1] = mod_set(&mm[1], LDAP_MOD_ADD, "objectClass", oc);
		m[2] = mod_set(&mm[2], LDAP_MOD_ADD, "cn", cn);
		rc = ldap_add_ext(ld, g->dn, m, NULL, NULL, msgid);
		free(cn[0]);
		return rc;
	case MS_PLAIN:
		break;
	case MS_UNPLACE:
		mod_set(&mm[0], LDAP_MOD_DELETE, "member", empty);
		break;
	case MS_LAST:
		mod_set(&mm[0], LDAP_MOD_ADD, "member", empty);
		m[1] = mod_set(&mm[1], LDAP_MOD_DELETE, "member", who);
		break;
	}
	return ldap_modify_ext(ld, g->dn, m, mod_ctrls, NULL, msgid);
}

/*
 * After the server's rc to a change sent alone: 1 when it goes on to
 * c->step, else 0 with *rc LDAP_SUCCESS if the change is done as asked
 * (a member already gone, a group already gone, the empty DN not there).
 * slapd 2.5 answers noSuchAttribute to a permissive modify whose last
 * value to delete is absent: a batch of leaves with one member gone
 * fails, and its changes sent alone end here.
 */
static int
change_step(const struct group *g, struct mchange *c, int *rc)
{
	int	 r = *rc, s = c->step;

	if (s == MS_SEND && c->join && r == LDAP_NO_SUCH_OBJECT)
		c->step = MS_CREATE;
	else if (s == MS_SEND && c->join && r == LDAP_TYPE_OR_VALUE_EXISTS)
		c->step = MS_PLAIN;
	else if (s == MS_SEND && !c->join && r == LDAP_OBJECT_CLASS_VIOLATION)
		c->step = MS_LAST;
	else if (s == MS_CREATE && r == LDAP_ALREADY_EXISTS && !c->again++)
		c->step = MS_SEND;	/* made meanwhile: joined */
	else if (s == MS_PLAIN && (r == LDAP_SUCCESS ||
	    r == LDAP_TYPE_OR_VALUE_EXISTS) && !clean_is(g->dn))
		c->step = MS_UNPLACE;
	else {
		if ((r == LDAP_NO_SUCH_ATTRIBUTE && (!c->join ||
		    s == MS_UNPLACE)) || (r == LDAP_TYPE_OR_VALUE_EXISTS &&
		    s == MS_PLAIN) || (r == LDAP_NO_SUCH_OBJECT &&
		    !c->join) || (r == LDAP_OBJECT_CLASS_VIOLATION &&
		    s == MS_UNPLACE))
			*rc = LDAP_SUCCESS;
		return 0;
	}
	return 1;
}

static void group_result(struct group *, int, const char *);

/* The operation for what g->sent holds; not sent is its result. */
static void
group_op(struct group *g)
{
	struct op	*op;
	int		 msgid = 0, rc = LDAP_SERVER_DOWN;

	if (ld != NULL)
		rc = g->nsent > 1 ? group_modify(g, &msgid) :
		    change_op(g, g->sent, &msgid);
	if (rc != LDAP_SUCCESS) {
		if (ld != NULL && (rc == LDAP_SERVER_DOWN ||
		    rc == LDAP_CONNECT_ERROR))
			conn_lost();	/* the others in flight with it */
		group_result(g, rc, NULL);
		return;
	}
	op = op_slot(msgid, g->dn);
	op->g = g;
	g->busy = 1;
	gbusy++;
}

/* The server's answer to the operation on g: a batch that failed is sent
 * again change by change; a change alone goes on, or ends. */
static void
group_result(struct group *g, int rc, const char *diag)
{
	struct mchange	*c = g->sent, *next;

	gbusy -= g->busy;	/* not busy: it could not be sent */
	g->busy = 0;
	if (g->nsent > 1 && rc != LDAP_SUCCESS) {
		while (c->next != NULL)
			c = c->next;
		if ((c->next = g->wait) == NULL)
			g->wtail = &c->next;
		g->wait = g->sent;
		g->alone += g->nsent;
	} else if (g->nsent > 1) {
		for (; c != NULL; c = next) {
			next = c->next;
			change_end(g, c, rc, diag);
		}
	} else if (change_step(g, c, &rc)) {
		group_op(g);	/* its next step */
		return;
	} else
		change_end(g, c, rc, diag);
	g->sent = NULL;
	g->nsent = 0;
}

/* An idle group's next changes: one alone after a batch failed, else
 * all that wait, up to LDAPC_BATCH. */
static void
group_send(struct group *g)
{
	struct mchange	*c;
	size_t		 n, max;

	max = g->alone > 0 ? 1 : LDAPC_BATCH;
	g->alone -= g->alone > 0;
	g->sent = c = g->wait;
	for (n = 1; n < max && c->next != NULL; n++)
		c = c->next;
	if ((g->wait = c->next) == NULL)
		g->wtail = &g->wait;
	c->next = NULL;
	g->nsent = n;
	group_op(g);
}

/*
 * The changes that may go now: at most LDAPC_GROUP_OPS groups at work at
 * once (the server writes one entry at a time: the others' changes wait
 * and go in fewer modifies), the group that has waited longest first.
 * Groups done with are forgotten.
 */
static void
groups_kick(void)
{
	struct group	*g;
	size_t		 i;

	while (ld == NULL || gbusy < LDAPC_GROUP_OPS) {
		for (g = NULL, i = 0; i < ngroups; i++)
			if (!groups[i]->busy && groups[i]->wait != NULL &&
			    (g == NULL || groups[i]->wait->seq < g->wait->seq))
				g = groups[i];
		if (g == NULL)
			break;
		group_send(g);
	}
	for (i = ngroups; i-- > 0;)
		if (!groups[i]->busy && groups[i]->wait == NULL) {
			free(groups[i]->dn);
			free(groups[i]);
			groups[i] = groups[--ngroups];
		}
}

static void
group_join(struct ljob *j, const char *team)
{
	char	*gdn = dn_make("cn", team, gbase_dn);

	if (gdn != NULL && gbase_dn != NULL)
		group_change(j, gdn, 1);
	free(gdn);
}

/* The person's team from the item's fields, if teams are provisioned. */
static void
person_join(struct ljob *j)
{
	const char	*team = json_get_str(json_get(j->v, "fields"),
			    o.team_field);

	if (gbase_dn != NULL && team != NULL && team[0] != '\0')
		group_join(j, team);
}

static void
replaced(struct ljob *j, struct op *op, int rc, const char *diag)
{
	if (rc != LDAP_SUCCESS)
		fail_ldap(j, "modify", op->dn, rc, diag);
	else
		person_join(j);
}

static void
create_replace(struct ljob *j)
{
	struct mods	 ms = { .n = 0 };

	person_attrs(j, &ms, LDAP_MOD_REPLACE);
	do_modify(j, j->dn, &ms, replaced);
}

static void
created(struct ljob *j, struct op *op, int rc, const char *diag)
{
	if (rc == LDAP_ALREADY_EXISTS) {
		j->did = "updated (it existed)";
		create_replace(j);
	} else if (rc != LDAP_SUCCESS)
		fail_ldap(j, "add", op->dn, rc, diag);
	else
		person_join(j);
}

static void
create_add(struct ljob *j)
{
	struct mods	 ms = { .n = 0 };
	static const char *const oc[] = { "top", "person",
	    "organizationalPerson", "inetOrgPerson" };
	size_t		 i;

	j->did = "added";
	for (i = 0; i < 4; i++)
		mods_add(j, &ms, LDAP_MOD_ADD, "objectClass", oc[i]);
	person_attrs(j, &ms, LDAP_MOD_ADD);
	do_add(j, j->dn, &ms, created);
}

/* A deactivated person comes back from --disabled-base, or is added. */
static void
moved_back(struct ljob *j, struct op *op, int rc, const char *diag)
{
	if (rc == LDAP_NO_SUCH_OBJECT)
		create_add(j);
	else if (rc != LDAP_SUCCESS)
		fail_ldap(j, "move back", op->dn, rc, diag);
	else {
		j->did = "moved back from the disabled base and updated";
		create_replace(j);
	}
}

static void
item_create(struct ljob *j)
{
	char	*old;

	if (dbase_dn == NULL) {
		create_add(j);
		return;
	}
	old = person_dn(j->key, dbase_dn);
	do_rename(j, old, j->rdn, base_dn, moved_back);
	free(old);
}

static void
modified(struct ljob *j, struct op *op, int rc, const char *diag)
{
	if (rc != LDAP_SUCCESS)
		fail_ldap(j, "modify", op->dn, rc, diag);
}

/* update and manager: the changed attributes only. */
static void
item_modify(struct ljob *j)
{
	const struct jval	*c = json_get(j->v, "changes");
	const struct fmap	*m;
	const char		*f, *v;
	struct mods		 ms = { .n = 0 };
	size_t			 k;

	for (c = c ? c->child : NULL; c != NULL; c = c->next) {
		if ((f = json_get_str(c, "field")) == NULL ||
		    (m = map_of(f)) == NULL || strcmp(f, "employee_id") == 0)
			continue;
		if ((v = json_get_str(c, "new")) == NULL)
			v = "";
		v = field_value(j, f, v);
		for (k = 0; m->attr[k] != NULL; k++)
			if (v[0] == '\0' && strcasecmp(m->attr[k], "cn") == 0)
				mods_add(j, &ms, LDAP_MOD_REPLACE, "cn",
				    cn_fallback(j));
			else
				mods_add(j, &ms, LDAP_MOD_REPLACE, m->attr[k],
				    v[0] ? v : NULL);
	}
	j->did = ms.n ? "modified" : "nothing mapped changed";
	if (ms.n > 0)
		do_modify(j, j->dn, &ms, modified);
}

/* team_member: out of the old team's group, into the new one's. */
static void
item_team_member(struct ljob *j)
{
	const struct jval	*c = json_get(j->v, "changes");
	const char		*old = NULL, *new = json_get_str(j->v, "team");
	char			*gdn;

	j->did = gbase_dn ? "moved between groups" : "no --groups-base";
	for (c = c ? c->child : NULL; c != NULL; c = c->next)
		if (json_get_str(c, "field") != NULL &&
		    strcmp(json_get_str(c, "field"), o.team_field) == 0) {
			old = json_get_str(c, "old");
			new = json_get_str(c, "new");
		}
	if (gbase_dn == NULL)
		return;
	if ((gdn = dn_make("cn", old, gbase_dn)) != NULL)
		group_change(j, gdn, 0);
	free(gdn);
	if (new != NULL && new[0] != '\0')
		group_join(j, new);
}

/* ------------------------------------------------------------ deletes */

static void
gone(struct ljob *j, struct op *op, int rc, const char *diag)
{
	if (rc == LDAP_NO_SUCH_OBJECT)
		j->did = "not there: nothing to do";
	else if (rc != LDAP_SUCCESS)
		fail_ldap(j, "delete", op->dn, rc, diag);
}

static void moved_away(struct ljob *, struct op *, int, const char *);

/* A stale copy in the disabled base is replaced by the entry moved. */
static void
stale_gone(struct ljob *j, struct op *op, int rc, const char *diag)
{
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT)
		fail_ldap(j, "delete", op->dn, rc, diag);
	else
		do_rename(j, j->dn, j->rdn, dbase_dn, moved_away);
}

static void
moved_away(struct ljob *j, struct op *op, int rc, const char *diag)
{
	char	*stale;

	if (rc == LDAP_ALREADY_EXISTS && strcmp(j->did, "moved") == 0) {
		j->did = "moved (over an older copy)";
		stale = person_dn(j->key, dbase_dn);
		do_delete(j, stale, stale_gone);
		free(stale);
	} else if (rc == LDAP_NO_SUCH_OBJECT)
		j->did = "not there: nothing to do";
	else if (rc != LDAP_SUCCESS)
		fail_ldap(j, "move", op->dn, rc, diag);
}

static void
person_remove(struct ljob *j)
{
	if (dbase_dn != NULL) {
		j->did = "moved";
		do_rename(j, j->dn, j->rdn, dbase_dn, moved_away);
	} else {
		j->did = "deleted";
		do_delete(j, j->dn, gone);
	}
}

/* The groups naming the person found: leave each, then go. */
static void
searched(struct ljob *j, struct op *op, int rc, const char *diag)
{
	const char	*g;
	size_t		 i;

	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
		fail_ldap(j, "search", op->dn, rc, diag);
		return;
	}
	for (i = 0, g = j->found.p; i < j->nfound; i++, g += strlen(g) + 1)
		group_change(j, g, 0);
	person_remove(j);
}

static void
item_delete(struct ljob *j)
{
	struct berval	 bv, esc = { 0, NULL };
	char		*filter, *attrs[] = { LDAP_NO_ATTRS, NULL };
	int		 id = 0, rc;

	if (gbase_dn == NULL) {
		person_remove(j);
		return;
	}
	bv.bv_val = j->dn;
	bv.bv_len = strlen(j->dn);
	if (ldap_bv2escaped_filter_value(&bv, &esc) != 0)
		fatalx("out of memory");
	xasprintf(&filter, "(&(objectClass=groupOfNames)(member=%s))",
	    esc.bv_val);
	ber_memfree(esc.bv_val);
	rc = ld ? ldap_search_ext(ld, gbase_dn, LDAP_SCOPE_ONELEVEL, filter,
	    attrs, 0, NULL, NULL, NULL, LDAP_NO_LIMIT, &id) : LDAP_SERVER_DOWN;
	op_track(j, rc, id, searched, gbase_dn, "search");
	free(filter);
}

/* ---------------------------------------------------------- one item */

static void
item_start(struct ljob *j)
{
	const char	*team = json_get_str(j->v, "team");

	switch (j->type) {
	case IT_CREATE:
		item_create(j);
		break;
	case IT_UPDATE:
	case IT_MANAGER:
		item_modify(j);
		break;
	case IT_DELETE:
		item_delete(j);
		break;
	case IT_TEAM_MEMBER:
		item_team_member(j);
		break;
	case IT_TEAM_CREATE:
		j->did = gbase_dn ? "added" : "no --groups-base";
		if (gbase_dn != NULL)
			group_add(j, team);
		break;
	case IT_TEAM_DELETE:
		j->did = gbase_dn ? "deleted" : "no --groups-base";
		if (gbase_dn != NULL)
			do_delete(j, j->dn, gone);
		break;
	}
}

/* The item's DN: the person's, or the group's for team items. */
static int
item_dn(struct ljob *j)
{
	const char	*team = json_get_str(j->v, "team");

	if (j->type == IT_TEAM_CREATE || j->type == IT_TEAM_DELETE) {
		if (gbase_dn == NULL)
			return 0;
		j->dn = dn_make("cn", team, gbase_dn);
		if (j->dn == NULL)
			fail(j, "a team item without a team");
		return j->dn ? 0 : -1;
	}
	j->key = json_get_str(j->v, "employee_id");
	j->rdn = rdn_make(map_of("employee_id")->attr[0], j->key);
	j->dn = person_dn(j->key, base_dn);
	if (j->dn == NULL || j->rdn == NULL)
		fail(j, "an item without an employee_id");
	return j->dn ? 0 : -1;
}

/* A line from rostersync: a job, answered when its operations end. */
static void
take_line(const char *line, size_t n, const char *password)
{
	struct ljob	*j;
	char		 err[256];
	size_t		 i;

	for (i = 0; jobs[i].used; i++)
		;
	j = &jobs[i];
	j->used = 1;
	njobs++;
	if ((j->v = json_parse(line, n, &j->a, err, sizeof(err))) == NULL ||
	    json_int(json_get(j->v, "run"), 1, INT64_MAX, &j->run) == -1 ||
	    json_int(json_get(j->v, "item"), 1, INT64_MAX, &j->item) == -1) {
		say("a line that is not an item (%s): skipped", err[0] ? err :
		    "no run and item");
		arena_free(&j->a);
		memset(j, 0, sizeof(*j));
		njobs--;
		return;
	}
	j->did = "";
	if ((j->type = itemtype_parse(json_get_str(j->v, "type") ?
	    json_get_str(j->v, "type") : "")) < 0)
		fail(j, "an item of an unknown type");
	else if (item_dn(j) == 0) {
		if (ld == NULL && dead == NULL)
			conn_open(password);
		if (dead != NULL)
			fail(j, "%s", dead);
		else
			item_start(j);
	}
	if (j->pending == 0)
		answer(j);
}

/* --------------------------------------------------------- the results */

static struct op *
op_find(int msgid)
{
	size_t	 i;

	for (i = 0; i < nops; i++)
		if (ops[i].msgid == msgid)
			return &ops[i];
	return NULL;
}

/* An operation's result to its item or its group; the items done are
 * answered by answer_ready(). */
static void
op_finish(struct op *op, int rc, const char *diag)
{
	struct op	 done = *op;

	memset(op, 0, sizeof(*op));
	if (done.g != NULL)
		group_result(done.g, rc, diag);
	else {
		done.j->pending--;
		done.done(done.j, &done, rc, diag);
	}
	free(done.dn);
}

/* Every item whose operations are all over is answered. */
static void
answer_ready(void)
{
	size_t	 i;

	for (i = 0; i < (size_t)o.window; i++)
		if (jobs[i].used && jobs[i].pending == 0)
			answer(&jobs[i]);
}

static void
on_result(LDAPMessage *res)
{
	struct op	*op = op_find(ldap_msgid(res));
	char		*dn, *diag = NULL;
	int		 rc, err = LDAP_OTHER;

	if (op == NULL)
		return;
	if (ldap_msgtype(res) == LDAP_RES_SEARCH_ENTRY) {
		if (op->j != NULL && (dn = ldap_get_dn(ld, res)) != NULL) {
			buf_add(&op->j->found, dn, strlen(dn) + 1);
			op->j->nfound++;
			ldap_memfree(dn);
		}
		return;
	}
	if (ldap_msgtype(res) == LDAP_RES_SEARCH_REFERENCE)
		return;
	rc = ldap_parse_result(ld, res, &err, NULL, &diag, NULL, NULL, 0);
	op_finish(op, rc == LDAP_SUCCESS ? err : rc, diag);
	ldap_memfree(diag);
}

/* The connection broke: every operation in flight failed with it. */
static void
conn_lost(void)
{
	size_t	 i;
	int	 rc = LDAP_SERVER_DOWN;

	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc);
	kill_connection("the connection to the server broke");
	for (i = 0; i < nops; i++)
		if (ops[i].msgid != 0)
			op_finish(&ops[i], rc, "the connection broke");
}

/* Every result that has come, without waiting. */
static void
drain(void)
{
	struct timeval	 zero = { 0, 0 };
	LDAPMessage	*res;
	int		 t;

	while (ld != NULL && njobs > 0) {
		res = NULL;
		t = ldap_result(ld, LDAP_RES_ANY, LDAP_MSG_ONE, &zero, &res);
		if (t == 0)
			break;
		if (t < 0) {
			conn_lost();
			break;
		}
		on_result(res);
		ldap_msgfree(res);
	}
}

/* ------------------------------------------------------------ the loop */

static void
loop(const char *password)
{
	struct buf	 in = { 0 };
	struct pollfd	 pf[2];
	char		 chunk[65536], *nl;
	ssize_t		 n;
	size_t		 off;
	int		 eof = 0, fd;

	jobs = xcalloc((size_t)o.window, sizeof(*jobs));
	buf_add(&in, "", 0);
	while (!eof || njobs > 0 || memchr(in.p, '\n', in.len) != NULL) {
		for (off = 0; njobs < (size_t)o.window && (nl = memchr(in.p +
		    off, '\n', in.len - off)) != NULL; off = (size_t)(nl -
		    in.p) + 1)
			if (nl > in.p + off)
				take_line(in.p + off, (size_t)(nl - in.p) - off,
				    password);
		memmove(in.p, in.p + off, in.len - off);
		in.len -= off;
		if (in.len > LDAPC_LINE_MAX)
			fatalx("an input line longer than %d bytes",
			    LDAPC_LINE_MAX);
		groups_kick();
		drain();
		groups_kick();	/* the changes the results asked for */
		answer_ready();
		fflush(stdout);
		if (eof && njobs == 0)
			break;
		if (njobs < (size_t)o.window && memchr(in.p, '\n', in.len))
			continue;	/* lines to take now */
		fd = -1;
		if (ld != NULL && njobs > 0)
			ldap_get_option(ld, LDAP_OPT_DESC, &fd);
		pf[0].fd = !eof && njobs < (size_t)o.window ? 0 : -1;
		pf[1].fd = fd;
		pf[0].events = pf[1].events = POLLIN;
		pf[0].revents = pf[1].revents = 0;
		if (poll(pf, 2, 1000) <= 0 || !(pf[0].revents & (POLLIN |
		    POLLHUP | POLLERR)))
			continue;
		if ((n = read(0, chunk, sizeof(chunk))) > 0)
			buf_add(&in, chunk, (size_t)n);
		else if (n == 0 || errno != EINTR)
			eof = 1;
	}
	buf_free(&in);
	free(jobs);
}

int
main(int argc, char **argv)
{
	char	*password = NULL, err[MAX_ERRMSG];

	parse_options(argc, argv);
	base_dn = dn_option("--base", o.base);
	gbase_dn = dn_option("--groups-base", o.gbase);
	dbase_dn = dn_option("--disabled-base", o.dbase);
	if ((o.pwfile != NULL && (password = read_secret(o.pwfile, err,
	    sizeof(err))) == NULL) || tls_setup(err, sizeof(err)) == -1) {
		say("%s", err);
		xasprintf(&dead, "%s", err);	/* every item says so */
	}
	if (dead == NULL && conn_open(password) == -1)
		say("%s", dead);
	loop(password);
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	if (password != NULL)
		explicit_bzero(password, strlen(password));
	free(password);
	ldap_memfree(base_dn);
	ldap_memfree(gbase_dn);
	ldap_memfree(dbase_dn);
	free(dead);
	free(o.host);
	free(ops);
	free(groups);
	while (nclean > 0)
		free(clean[--nclean]);
	free(clean);
	return 0;
}
