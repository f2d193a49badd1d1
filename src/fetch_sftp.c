/*
 * The SFTP source ("sftp://user@host:port/path", libssh): HR's drop-zone
 * on an SFTP server. The path is absolute on the server ("/~/path" is
 * relative to the login directory).
 *
 * The server's host key must be in the sync's known_hosts file; an unknown
 * key is accepted (and written there) only with accept_new_host_key, a
 * changed key never. Login is with a private key (its passphrase from a
 * file) or a password read from a file; a secret file that group or
 * others may read is refused. Failures to reach the server are retried
 * with backoff, host key and authentication failures are not.
 *
 * Every step is bounded by sftp.timeout: libssh bounds connecting, but
 * waits for ever on a server that stops answering in mid-transfer, so a
 * watchdog (an interval timer) shuts the socket down when a step takes
 * longer, which makes the pending libssh call fail at once.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "rostersync.h"

#define SFTP_MAX_ENTRIES	100000	/* files in one listed folder */
#define SFTP_BACKOFF_MAX	8	/* seconds between two attempts, at most */
#define SECRET_MAX		1024	/* bytes in a password or passphrase */

struct source {
	ssh_session	 ssh;
	sftp_session	 sftp;
	const struct sftpopt *opt;
	char		*url;		/* the source as configured */
	char		*user;
	char		*host;		/* an IPv6 address without brackets */
	int		 port;
	char		*dir;		/* absolute, or relative to home ("") */
	int		 timed_out;	/* the watchdog cut the connection */
	struct xfer	*xf;		/* its transfer streams, or NULL */
};

/* What connect_once() says about a failure. */
enum { CONN_OK = 0, CONN_FATAL = -1, CONN_AGAIN = 1 };

/* ------------------------------------------------------------ watchdog */

static volatile sig_atomic_t	 wd_fd = -1;	/* the socket to cut */
static volatile sig_atomic_t	 wd_fired;

static void
wd_handler(int sig)
{
	(void)sig;
	wd_fired = 1;
	if (wd_fd != -1)
		shutdown(wd_fd, SHUT_RDWR);	/* async-signal-safe */
}

/*
 * SIGALRM's handler, set once for the process: a run keeps the
 * connections of several syncs open at once (fetch.c), and one closing
 * must not take the handler from the others' watchdog.
 */
static void
wd_install(void)
{
	static int		 done;
	struct sigaction	 sa;

	if (done)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wd_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	done = 1;
}

/* The next step must be done within the timeout, or the socket is cut. */
static void
wd_arm(struct source *s)
{
	struct itimerval	 it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = s->opt->timeout;
	if (wd_fired)
		s->timed_out = 1;
	wd_fired = 0;
	wd_fd = s->ssh != NULL ? ssh_get_fd(s->ssh) : -1;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* The step is over; 1 if the watchdog fired during it. */
static int
wd_disarm(struct source *s)
{
	struct itimerval	 it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	wd_fd = -1;
	if (wd_fired)
		s->timed_out = 1;
	wd_fired = 0;
	return s->timed_out;
}

/* --------------------------------------------------------------- paths */

/* sftp://user@host:port/path, as config.c writes it. */
static int
parse_url(struct source *s, const char *url, char *err, size_t errlen)
{
	const char	*rest = url + strlen("sftp://"), *path, *at, *h, *c;
	char		*port;
	size_t		 hlen;
	long long	 pn = -1;

	path = rest + strcspn(rest, "/");
	at = memrchr(rest, '@', (size_t)(path - rest));
	h = at != NULL ? at + 1 : NULL;
	c = h != NULL ? memrchr(h, ':', (size_t)(path - h)) : NULL;
	if (c != NULL) {
		port = xstrndup(c + 1, (size_t)(path - c - 1));
		if (parse_ll(port, 1, 65535, &pn) == -1)
			pn = -1;
		free(port);
	}
	if (at == NULL || c == NULL || pn == -1 || *path != '/' ||
	    (h[0] == '[' && c[-1] != ']')) {
		snprintf(err, errlen, "%s: not a source of the form "
		    "sftp://USER@HOST:PORT/PATH", url);
		return -1;
	}
	s->user = xstrndup(rest, (size_t)(at - rest));
	hlen = (size_t)(c - h);
	if (h[0] == '[')
		s->host = xstrndup(h + 1, hlen - 2);
	else
		s->host = xstrndup(h, hlen);
	s->port = (int)pn;
	if (strncmp(path, "/~/", 3) == 0 || strcmp(path, "/~") == 0)
		s->dir = xstrdup(path[2] == '\0' ? "" : path + 3);
	else
		s->dir = xstrdup(path);
	/* No trailing slash, except for "/" itself. */
	while (strlen(s->dir) > 1 && s->dir[strlen(s->dir) - 1] == '/')
		s->dir[strlen(s->dir) - 1] = '\0';
	return 0;
}

/* dir/name; relative to the login folder when dir is "". Caller frees. */
static char *
rpath(const char *dir, const char *name)
{
	char	*p;

	if (*dir == '\0')
		return xstrdup(name);
	xasprintf(&p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
	    name);
	return p;
}

/* A folder named in the config: absolute, or inside the source folder. */
static char *
subdir(const struct source *s, const char *sub)
{
	return *sub == '/' ? xstrdup(sub) : rpath(s->dir, sub);
}

/* ------------------------------------------------------------ messages */

/* Why an SFTP request failed with code and the message said (NULL: the
 * session's last), as "doing what path: why". */
static void
why_code(struct source *s, int code, const char *said, char *err,
    size_t errlen, const char *doing, const char *path)
{
	if (said == NULL)
		said = ssh_get_error(s->ssh);
	if (wd_disarm(s)) {
		snprintf(err, errlen, "%s: timeout: the server did not answer "
		    "within %d s while %s %s; the connection was closed "
		    "(sftp.timeout is %d)", s->url, s->opt->timeout, doing,
		    path, s->opt->timeout);
		return;
	}
	if (!ssh_is_connected(s->ssh) || code == SSH_FX_CONNECTION_LOST ||
	    code == SSH_FX_NO_CONNECTION || code == SSH_FX_EOF) {
		snprintf(err, errlen, "%s: the connection to the server was "
		    "lost while %s %s (%s)", s->url, doing, path,
		    ssh_get_error(s->ssh));
		return;
	}
	switch (code) {
	case SSH_FX_NO_SUCH_FILE:
	case SSH_FX_NO_SUCH_PATH:
		snprintf(err, errlen, "%s: %s %s: no such file or folder on "
		    "the server", s->url, doing, path);
		break;
	case SSH_FX_PERMISSION_DENIED:
	case SSH_FX_WRITE_PROTECT:
		snprintf(err, errlen, "%s: permission denied %s %s (check "
		    "owners and modes on the server: rostersync logs in as "
		    "%s)", s->url, doing, path, s->user);
		break;
	case SSH_FX_FILE_ALREADY_EXISTS:
		snprintf(err, errlen, "%s: %s %s: it already exists",
		    s->url, doing, path);
		break;
	default:
		snprintf(err, errlen, "%s: %s %s failed (SFTP status %d: %s)",
		    s->url, doing, path, code, said);
	}
}

/* Why the last SFTP request failed. */
static void
why(struct source *s, char *err, size_t errlen, const char *doing,
    const char *path)
{
	why_code(s, s->sftp != NULL ? sftp_get_error(s->sftp) : -1, NULL, err,
	    errlen, doing, path);
}

/* The folder of "user@host" as ssh and known_hosts write it. */
static void
host_spec(const struct source *s, char *out, size_t outlen)
{
	if (s->port == 22)
		snprintf(out, outlen, "%s", s->host);
	else
		snprintf(out, outlen, "[%s]:%d", s->host, s->port);
}

/* ----------------------------------------------------------- secrets */

/*
 * A file holding a secret must be a regular file that group and others
 * cannot read (as ssh insists for private keys). 0, or -1 with err.
 */
static int
secret_mode_ok(const char *url, const char *what, const char *path,
    const struct stat *sb, char *err, size_t errlen)
{
	if (!S_ISREG(sb->st_mode)) {
		snprintf(err, errlen, "%s: the %s %s is not a regular file",
		    url, what, path);
		return -1;
	}
	if ((sb->st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: refusing the %s %s: it is "
		    "readable by group or others (mode %04o); run chmod 600 "
		    "%s", url, what, path, (unsigned)(sb->st_mode & 07777),
		    path);
		log_hint("chmod 600 %s, owned by the user rostersync runs "
		    "as (a secret others may read may have been copied: "
		    "consider replacing it)", path);
		return -1;
	}
	return 0;
}

/* The first line of a secret file; freed with secret_free(). */
static char *
secret_read(const char *url, const char *what, const char *path, char *err,
    size_t errlen)
{
	struct stat	 sb;
	char		 buf[SECRET_MAX + 1], *p = NULL;
	ssize_t		 n = 0;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "%s: cannot read the %s %s: %s", url,
		    what, path, strerror(errno));
		log_hint("put the %s at %s, mode 0600, owned by the user "
		    "rostersync runs as, or correct its path in the sync's "
		    "sftp settings", what, path);
		goto out;
	}
	if (secret_mode_ok(url, what, path, &sb, err, errlen) == -1)
		goto out;
	while (len < sizeof(buf) && (n = read(fd, buf + len,
	    sizeof(buf) - len)) > 0)
		len += (size_t)n;
	if (n == -1)
		snprintf(err, errlen, "%s: cannot read the %s %s: %s", url,
		    what, path, strerror(errno));
	else if (len > SECRET_MAX)
		snprintf(err, errlen, "%s: the %s %s is longer than %d bytes",
		    url, what, path, SECRET_MAX);
	else {
		buf[len] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0] == '\0')
			snprintf(err, errlen, "%s: the %s %s is empty", url,
			    what, path);
		else
			p = xstrdup(buf);
	}
out:
	explicit_bzero(buf, sizeof(buf));
	if (fd != -1)
		close(fd);
	return p;
}

static void
secret_free(char *p)
{
	if (p != NULL) {
		explicit_bzero(p, strlen(p));
		free(p);
	}
}

/* The private key, unlocked with the passphrase file if there is one. */
static ssh_key
load_key(const struct source *s, char *err, size_t errlen)
{
	const struct sftpopt	*o = s->opt;
	struct stat		 sb;
	ssh_key			 key = NULL;
	char			*pass = NULL;
	int			 rc;

	if (stat(o->identity, &sb) == -1) {
		snprintf(err, errlen, "%s: cannot read the private key %s: %s",
		    s->url, o->identity, strerror(errno));
		log_hint("put the private key at %s, mode 0600, owned by the "
		    "user rostersync runs as, or correct sftp.identity",
		    o->identity);
		return NULL;
	}
	if (secret_mode_ok(s->url, "private key", o->identity, &sb, err,
	    errlen) == -1)
		return NULL;
	if (o->passphrase_file != NULL && (pass = secret_read(s->url,
	    "passphrase file", o->passphrase_file, err, errlen)) == NULL)
		return NULL;
	rc = ssh_pki_import_privkey_file(o->identity, pass, NULL, NULL, &key);
	secret_free(pass);
	if (rc != SSH_OK) {
		snprintf(err, errlen, "%s: cannot load the private key %s: "
		    "not an OpenSSH private key, or %s", s->url, o->identity,
		    o->passphrase_file != NULL ? "the passphrase in "
		    "sftp.passphrase_file does not unlock it" : "it is "
		    "encrypted and sftp.passphrase_file is not set");
		log_hint("check the key with ssh-keygen -y -f %s (it asks "
		    "for the passphrase), then write that passphrase in %s",
		    o->identity, o->passphrase_file ? o->passphrase_file :
		    "the file sftp.passphrase_file names");
		return NULL;
	}
	return key;
}

/* ----------------------------------------------------------- connecting */

/*
 * How to learn the fingerprint the server should have, whatever the
 * server is (OpenSSH, ProFTPD, a managed service): from its
 * administrator. Static storage.
 */
static const char *
ask_fingerprint(const struct source *s, const char *fp, const char *spec)
{
	static char	 text[768];

	(void)spec;
	snprintf(text, sizeof(text), "Ask the server's administrator for "
	    "the SHA256 fingerprint of its host key and compare it with %s "
	    "(they read it with ssh-keygen -lf on the server's public host "
	    "key file: /etc/ssh/ssh_host_ed25519_key.pub for OpenSSH, the "
	    "SFTPHostKey file for ProFTPD; a managed service shows it in its "
	    "console; from a network you trust, ssh-keyscan -p %d %s | "
	    "ssh-keygen -lf - shows what this server presents).", fp, s->port,
	    s->host);
	return text;
}

/*
 * Is the server's host key the one known_hosts holds? An unknown key is
 * written there when the sync allows it. 0, or -1 with err (and the
 * details a sysadmin needs logged: fingerprint and the line to add).
 */
static int
check_host_key(struct source *s, char *err, size_t errlen)
{
	const char		*kh = s->opt->known_hosts, *type;
	ssh_key			 key = NULL;
	unsigned char		*hash = NULL;
	size_t			 hlen = 0;
	char			*fp = NULL, *entry = NULL, spec[300];
	enum ssh_known_hosts_e	 state;
	int			 rc = -1;

	host_spec(s, spec, sizeof(spec));
	if (ssh_get_server_publickey(s->ssh, &key) != SSH_OK ||
	    ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) != 0 || (fp = ssh_get_fingerprint_hash(
	    SSH_PUBLICKEY_HASH_SHA256, hash, hlen)) == NULL) {
		snprintf(err, errlen, "%s: cannot read the server's host key: "
		    "%s", s->url, ssh_get_error(s->ssh));
		goto out;
	}
	type = ssh_key_type_to_char(ssh_key_type(key));
	if (ssh_session_export_known_hosts_entry(s->ssh, &entry) == SSH_OK)
		entry[strcspn(entry, "\r\n")] = '\0';
	state = ssh_session_is_known_server(s->ssh);
	switch (state) {
	case SSH_KNOWN_HOSTS_OK:
		rc = 0;
		break;
	case SSH_KNOWN_HOSTS_CHANGED:
	case SSH_KNOWN_HOSTS_OTHER:
		log_hint("HOST KEY CHANGED: the server presented the %s key "
		    "%s, which is not the key %s holds for %s. Someone may be "
		    "intercepting the connection, or the server's keys were "
		    "replaced. %s If it is the one they give, remove the old "
		    "key (ssh-keygen -R '%s' -f %s) and add this line to %s: %s",
		    type, fp, kh, spec, ask_fingerprint(s, fp, spec), spec, kh,
		    kh, entry ? entry : "?");
		snprintf(err, errlen, "%s: the server's host key changed (%s "
		    "%s); refusing to connect (a changed key is never "
		    "accepted automatically)", s->url, type, fp);
		break;
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		if (s->opt->accept_new_host_key) {
			if (ssh_session_update_known_hosts(s->ssh) != SSH_OK) {
				snprintf(err, errlen, "%s: cannot add the "
				    "server's host key to %s: %s", s->url, kh,
				    ssh_get_error(s->ssh));
				break;
			}
			log_msg(LOG_NOTICE, "%s: the server's %s host key %s "
			    "was unknown; accepted once (accept_new_host_key "
			    "= true) and added to %s; from now on only this "
			    "key is accepted", s->url, type, fp, kh);
			rc = 0;
			break;
		}
		log_hint("the server presented the %s key %s, which is not "
		    "in %s%s. %s If it is the one they give, add this line to "
		    "%s: %s (or set sftp.accept_new_host_key = true to accept "
		    "it once)", type, fp, kh, state ==
		    SSH_KNOWN_HOSTS_NOT_FOUND ? " (the file does not exist)" :
		    "", ask_fingerprint(s, fp, spec), kh, entry ? entry : "?");
		snprintf(err, errlen, "%s: the server's host key is unknown "
		    "(%s %s); refusing to connect", s->url, type, fp);
		break;
	default:
		snprintf(err, errlen, "%s: cannot check the host key against "
		    "%s: %s", s->url, kh, ssh_get_error(s->ssh));
	}
out:
	ssh_string_free_char(fp);
	ssh_string_free_char(entry);
	if (hash != NULL)
		ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	return rc;
}

/* What the server accepts, for an authentication error: "publickey, ..." */
static void
auth_methods(struct source *s, char *out, size_t outlen)
{
	static const struct {
		int		 bit;
		const char	*name;
	} am[] = {
		{ SSH_AUTH_METHOD_PUBLICKEY, "publickey" },
		{ SSH_AUTH_METHOD_PASSWORD, "password" },
		{ SSH_AUTH_METHOD_INTERACTIVE, "keyboard-interactive" },
		{ SSH_AUTH_METHOD_GSSAPI_MIC, "gssapi-with-mic" },
	};
	int	 m = ssh_userauth_list(s->ssh, NULL);
	size_t	 i, n;

	snprintf(out, outlen, "nothing rostersync can use");
	for (n = 0, i = 0; i < sizeof(am) / sizeof(am[0]); i++)
		if (m & am[i].bit)
			n += (size_t)snprintf(out + n, outlen - n, "%s%s",
			    n ? ", " : "", am[i].name);
}

static int
authenticate(struct source *s, ssh_key key, const char *password, char *err,
    size_t errlen)
{
	char	 methods[80];
	int	 rc;

	if ((rc = ssh_userauth_none(s->ssh, NULL)) == SSH_AUTH_SUCCESS)
		return CONN_OK;
	if (rc == SSH_AUTH_ERROR)
		goto lost;
	if (key != NULL) {
		rc = ssh_userauth_publickey(s->ssh, NULL, key);
		if (rc == SSH_AUTH_SUCCESS)
			return CONN_OK;
		if (rc == SSH_AUTH_ERROR)
			goto lost;
		auth_methods(s, methods, sizeof(methods));
		snprintf(err, errlen, "%s: authentication failed for user %s "
		    "with key %s (is its public key authorized for that user "
		    "on the server? the server accepts: %s)", s->url, s->user,
		    s->opt->identity, methods);
		log_hint("ask the server's administrator to authorize the "
		    "public key %s.pub for user %s (OpenSSH: a line of that "
		    "user's ~/.ssh/authorized_keys; ProFTPD: the file "
		    "SFTPAuthorizedUserKeys names), or set sftp.identity to "
		    "the key they authorized", s->opt->identity, s->user);
	}
	if (password != NULL) {
		rc = ssh_userauth_password(s->ssh, NULL, password);
		if (rc == SSH_AUTH_SUCCESS)
			return CONN_OK;
		if (rc == SSH_AUTH_ERROR)
			goto lost;
		auth_methods(s, methods, sizeof(methods));
		snprintf(err, errlen, "%s: authentication failed for user %s "
		    "with the password in %s (the server accepts: %s)", s->url,
		    s->user, s->opt->password_file, methods);
		log_hint("check the password of user %s with the server's "
		    "administrator and write it in %s (mode 0600), or log in "
		    "with a key (sftp.identity) if the server accepts only "
		    "those", s->user, s->opt->password_file);
	}
	if (rc == SSH_AUTH_PARTIAL)
		snprintf(err, errlen, "%s: the server wants a second "
		    "authentication method for user %s; rostersync logs in "
		    "with one (a key or a password)", s->url, s->user);
	return CONN_FATAL;
lost:
	snprintf(err, errlen, "%s: the connection was lost while logging in: "
	    "%s", s->url, ssh_get_error(s->ssh));
	return CONN_AGAIN;
}

/* A failure of ssh_connect() in words a sysadmin can act on. */
static void
connect_error(struct source *s, char *err, size_t errlen)
{
	const char	*e = ssh_get_error(s->ssh);

	if (strcasestr(e, "refused") != NULL)
		snprintf(err, errlen, "%s: connection refused (is the SFTP "
		    "server running on %s port %d?)", s->url, s->host, s->port);
	else if (strcasestr(e, "timeout") != NULL ||
	    strcasestr(e, "timed out") != NULL)
		snprintf(err, errlen, "%s: timeout: no SSH answer from %s "
		    "port %d within %d s (is the host up, the port open and "
		    "the SFTP server responsive? sftp.timeout is %d)", s->url,
		    s->host, s->port, s->opt->timeout, s->opt->timeout);
	else if (strcasestr(e, "resolve") != NULL)
		snprintf(err, errlen, "%s: cannot resolve the host name %s: %s",
		    s->url, s->host, e);
	else
		snprintf(err, errlen, "%s: cannot connect to %s port %d: %s",
		    s->url, s->host, s->port, e);
	log_hint("check with the server's administrator that the SFTP "
	    "server runs and listens on %s port %d, and that no firewall "
	    "between the two hosts blocks it; every run tries again", s->host,
	    s->port);
}

/*
 * Sessions end with an SSH disconnect, not a dropped socket (servers log
 * that as an error, ProFTPD as "Broken pipe"). libssh 0.10's
 * ssh_disconnect() writes its message only if a poll saw the socket
 * writable since the last write, else queues it, then closes the socket:
 * one poll of the session first (it returns at once: the socket is
 * writable) lets the message go out.
 */
static void
writable(struct source *s)
{
	ssh_event	 ev;

	if ((ev = ssh_event_new()) == NULL)
		return;
	if (ssh_event_add_session(ev, s->ssh) == SSH_OK) {
		ssh_event_dopoll(ev, s->opt->timeout * 1000);
		ssh_event_remove_session(ev, s->ssh);
	}
	ssh_event_free(ev);
}

static void
disconnect(struct source *s)
{
	if (s->ssh != NULL)
		wd_arm(s);
	if (s->sftp != NULL)
		sftp_free(s->sftp);
	s->sftp = NULL;
	if (s->ssh != NULL) {
		if (ssh_is_connected(s->ssh)) {
			writable(s);
			ssh_disconnect(s->ssh);
		}
		ssh_free(s->ssh);
	}
	wd_disarm(s);
	s->ssh = NULL;
}

static int	 login(struct source *, ssh_key, const char *, char *, size_t);

/* One attempt: CONN_OK, CONN_AGAIN (worth retrying) or CONN_FATAL. */
static int
connect_once(struct source *s, ssh_key key, const char *password, char *err,
    size_t errlen)
{
	long	 timeout = s->opt->timeout;
	int	 port = s->port, rc, nodelay = 1;
	bool	 no = false;

	s->timed_out = 0;
	if ((s->ssh = ssh_new()) == NULL)
		fatalx("out of memory");
	if (ssh_options_set(s->ssh, SSH_OPTIONS_HOST, s->host) < 0 ||
	    ssh_options_set(s->ssh, SSH_OPTIONS_PORT, &port) < 0 ||
	    ssh_options_set(s->ssh, SSH_OPTIONS_USER, s->user) < 0 ||
	    ssh_options_set(s->ssh, SSH_OPTIONS_TIMEOUT, &timeout) < 0 ||
	    ssh_options_set(s->ssh, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_options_set(s->ssh, SSH_OPTIONS_NODELAY, &nodelay) < 0 ||
	    ssh_options_set(s->ssh, SSH_OPTIONS_KNOWNHOSTS,
	    s->opt->known_hosts) < 0 ||
	    ssh_options_set(s->ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
	    "/dev/null") < 0) {
		snprintf(err, errlen, "%s: %s", s->url, ssh_get_error(s->ssh));
		return CONN_FATAL;
	}
	if (ssh_connect(s->ssh) != SSH_OK) {
		connect_error(s, err, errlen);
		return CONN_AGAIN;
	}
	if (check_host_key(s, err, errlen) == -1)
		return CONN_FATAL;
	wd_arm(s);
	rc = login(s, key, password, err, errlen);
	if (wd_disarm(s)) {
		snprintf(err, errlen, "%s: timeout: the server stopped answering "
		    "while logging in (sftp.timeout is %d s)", s->url,
		    s->opt->timeout);
		return CONN_AGAIN;
	}
	return rc;
}

/* Log in and start SFTP: CONN_OK, CONN_AGAIN or CONN_FATAL. */
static int
login(struct source *s, ssh_key key, const char *password, char *err,
    size_t errlen)
{
	int	 rc;

	if ((rc = authenticate(s, key, password, err, errlen)) != CONN_OK)
		return rc;
	if ((s->sftp = sftp_new(s->ssh)) == NULL) {
		snprintf(err, errlen, "%s: cannot open an SFTP channel: %s",
		    s->url, ssh_get_error(s->ssh));
		return ssh_is_connected(s->ssh) ? CONN_FATAL : CONN_AGAIN;
	}
	if (sftp_init(s->sftp) != SSH_OK) {
		snprintf(err, errlen, "%s: the server does not start SFTP for "
		    "user %s (does it offer the SFTP subsystem to that user?): "
		    "%s", s->url, s->user, ssh_get_error(s->ssh));
		return ssh_is_connected(s->ssh) ? CONN_FATAL : CONN_AGAIN;
	}
	return CONN_OK;
}

static void	 sftp_src_close(struct source *);

static struct source *
sftp_src_open(const struct sync *sy, char *err, size_t errlen)
{
	struct source	*s;
	ssh_key		 key = NULL;
	char		*password = NULL;
	int		 attempt, rc = CONN_FATAL;
	unsigned	 delay;

	/* A server that goes away mid-transfer is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	s = xcalloc(1, sizeof(*s));
	wd_install();
	s->opt = &sy->sftp;
	s->url = xstrdup(sy->source);
	if (parse_url(s, sy->source, err, errlen) == -1)
		goto fail;
	if (s->opt->known_hosts == NULL) {
		snprintf(err, errlen, "%s: sftp.known_hosts is not set",
		    s->url);
		goto fail;
	}
	if (s->opt->identity != NULL && (key = load_key(s, err,
	    errlen)) == NULL)
		goto fail;
	if (s->opt->password_file != NULL && (password = secret_read(s->url,
	    "password file", s->opt->password_file, err, errlen)) == NULL)
		goto fail;
	for (attempt = 0; ; attempt++) {
		if ((rc = connect_once(s, key, password, err, errlen)) ==
		    CONN_OK)
			break;
		disconnect(s);
		if (rc == CONN_FATAL || attempt >= s->opt->retries)
			break;
		delay = attempt < 4 ? 1U << attempt : SFTP_BACKOFF_MAX;
		if (delay > SFTP_BACKOFF_MAX)
			delay = SFTP_BACKOFF_MAX;
		log_info("%s; trying again in %u s (attempt %d of %d)", err,
		    delay, attempt + 2, s->opt->retries + 1);
		sleep(delay);
	}
	if (rc == CONN_AGAIN && s->opt->retries > 0) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, "; gave up after %d attempts",
		    s->opt->retries + 1);
	}
fail:
	secret_free(password);
	ssh_key_free(key);
	if (rc == CONN_OK)
		return s;
	sftp_src_close(s);
	return NULL;
}

static void
sftp_src_close(struct source *s)
{
	if (s == NULL)
		return;
	xfer_free(s->xf);	/* its channels, before the session */
	disconnect(s);
	free(s->url);
	free(s->user);
	free(s->host);
	free(s->dir);
	free(s);
}

/*
 * A connection opened earlier in the run, asked one cheap question: does
 * it still answer? A folder that is gone is no dead connection (the next
 * step says what is wrong).
 */
static int
sftp_src_alive(struct source *s)
{
	sftp_attributes	 a;
	int		 code = SSH_FX_OK;

	if (s->timed_out || s->sftp == NULL || !ssh_is_connected(s->ssh))
		return 0;
	wd_arm(s);
	if ((a = sftp_stat(s->sftp, *s->dir != '\0' ? s->dir : ".")) == NULL)
		code = sftp_get_error(s->sftp);
	else
		sftp_attributes_free(a);
	if (wd_disarm(s))
		return 0;
	return ssh_is_connected(s->ssh) && code != SSH_FX_NO_CONNECTION &&
	    code != SSH_FX_CONNECTION_LOST;
}

/* --------------------------------------------------------- operations */

static int
sftp_src_list(struct source *s, struct srcfile **out, size_t *n, char *err,
    size_t errlen)
{
	const char	*dir = *s->dir != '\0' ? s->dir : ".";
	sftp_dir	 d;
	sftp_attributes	 a;
	struct srcfile	*f = NULL;
	size_t		 cnt = 0, cap = 0, i;
	int		 rc = -1;

	wd_arm(s);
	if ((d = sftp_opendir(s->sftp, dir)) == NULL) {
		why(s, err, errlen, "listing", dir);
		return -1;
	}
	for (;;) {
		wd_arm(s);
		if ((a = sftp_readdir(s->sftp, d)) == NULL)
			break;
		/* Regular files are taken; links, FIFOs and the like are
		 * listed to be refused; folders are not files at all. */
		if (a->name != NULL && a->type != SSH_FILEXFER_TYPE_DIRECTORY &&
		    (a->type != SSH_FILEXFER_TYPE_REGULAR ||
		    ((a->flags & SSH_FILEXFER_ATTR_SIZE) &&
		    (a->flags & SSH_FILEXFER_ATTR_ACMODTIME)))) {
			if (cnt == SFTP_MAX_ENTRIES) {
				snprintf(err, errlen, "%s: more than %d files "
				    "in %s; move some away", s->url,
				    SFTP_MAX_ENTRIES, dir);
				sftp_attributes_free(a);
				goto out;
			}
			if (cnt == cap) {
				cap = cap ? cap * 2 : 16;
				f = xrealloc(f, cap * sizeof(*f));
			}
			f[cnt].name = xstrdup(a->name);
			f[cnt].size = a->size > (uint64_t)LLONG_MAX ?
			    LLONG_MAX : (long long)a->size;
			f[cnt].mtime = (long long)a->mtime;
			f[cnt].special = a->type == SSH_FILEXFER_TYPE_REGULAR ?
			    NULL : a->type == SSH_FILEXFER_TYPE_SYMLINK ?
			    "a symbolic link" : a->type ==
			    SSH_FILEXFER_TYPE_SPECIAL ? "a special file (a "
			    "FIFO, socket or device)" : "not a regular file";
			cnt++;
		}
		sftp_attributes_free(a);
	}
	if (!sftp_dir_eof(d)) {
		why(s, err, errlen, "listing", dir);
		goto out;
	}
	rc = 0;
out:
	wd_arm(s);
	sftp_closedir(d);
	wd_disarm(s);
	if (rc == -1) {
		for (i = 0; i < cnt; i++)
			free(f[i].name);
		free(f);
		f = NULL;
		cnt = 0;
	}
	*out = f;
	*n = cnt;
	return rc;
}

static int
sftp_src_exists(struct source *s, const char *name)
{
	sftp_attributes	 a;
	char		*p = rpath(s->dir, name);
	int		 rc;

	wd_arm(s);
	a = sftp_lstat(s->sftp, p);
	wd_disarm(s);
	rc = a != NULL && a->type == SSH_FILEXFER_TYPE_REGULAR;
	sftp_attributes_free(a);
	free(p);
	return rc;
}

/*
 * The size and mtime of a regular file from a (freed here): 0; -1 when
 * a is NULL, not a regular file, or lacks them.
 */
static int
attr_take(sftp_attributes a, long long *size, long long *mtime)
{
	int	 ok;

	ok = a != NULL && a->type == SSH_FILEXFER_TYPE_REGULAR &&
	    (a->flags & SSH_FILEXFER_ATTR_SIZE) &&
	    (a->flags & SSH_FILEXFER_ATTR_ACMODTIME);
	if (ok) {
		*size = a->size > (uint64_t)LLONG_MAX ? LLONG_MAX :
		    (long long)a->size;
		*mtime = (long long)a->mtime;
	}
	sftp_attributes_free(a);
	return ok ? 0 : -1;
}

/*
 * Downloads and uploads move their data over several SFTP channels of
 * the connection (sftp_xfer.c: sftp.streams, each with read_requests
 * reads or write_requests writes in flight), as fast as the link goes.
 * A server that opens no channel besides this SFTP session (MaxSessions
 * 1) gets the transfer over the session itself: reads pipelined the same
 * way on one channel, writes one at a time.
 */

/* The watchdog, before each wait of a transfer. */
static void
xf_step(void *arg)
{
	wd_arm(arg);
}

static struct xfer *
xf(struct source *s)
{
	if (s->xf == NULL)
		s->xf = xfer_new(s->ssh, s->opt, xf_step, s);
	return s->xf;
}

/* A failed transfer (its words in err) as "URL: ...", or the timeout. */
static void
xf_why(struct source *s, char *err, size_t errlen, const char *doing,
    const char *path)
{
	char	 m[MAX_ERRMSG];

	if (wd_disarm(s)) {
		why(s, err, errlen, doing, path);
		return;
	}
	snprintf(m, sizeof(m), "%s", err);
	snprintf(err, errlen, "%s: %s", s->url, m);
}

/* -v: how a transfer went (streams 0: over the SFTP session alone). */
static void
xf_done(const char *name, long long size, int64_t t0, int streams)
{
	long long	 ms = (long long)(now_ms() - t0);

	if (streams > 0)
		log_debug("%s: %lld bytes in %lld ms over %d SFTP stream%s",
		    name, size, ms, streams, streams == 1 ? "" : "s");
	else
		log_debug("%s: %lld bytes in %lld ms over the SFTP session "
		    "alone (the server opens no second channel)", name, size,
		    ms);
}

/* A download under way: what the transfer's callbacks need. */
struct dl {
	struct source		*s;
	const char		*path;
	const struct srcfile	*listed;	/* size -1: not listed */
	struct srcfile		 at;		/* the file as opened */
	int			 fd;		/* the spool copy */
	struct sha256		*h;
	long long		*size;		/* bytes copied */
	int			 rc;		/* why a callback stopped it */
	int			 said;		/* err is the whole message */
	char			*err;
	size_t			 errlen;
};

/*
 * The file just opened (a: its size and mtime). Is it the one the listing
 * saw and judged settled? 0, or 1 with d->rc SRC_CHANGED or -1, and err.
 */
static int
dl_opened(void *arg, const struct xattr *a)
{
	struct dl	*d = arg;
	const struct srcfile *f = d->listed;
	char		 then[21], now[21];

	d->at.size = a->size;
	d->at.mtime = a->mtime;
	d->rc = -1;
	if (a->size < 0) {
		snprintf(d->err, d->errlen, "%s: %s is no longer a regular "
		    "file, or the server does not give its size and mtime",
		    d->s->url, d->path);
		return 1;
	}
	if (a->size > MAX_INPUT_SIZE) {
		snprintf(d->err, d->errlen, "%s: %s is larger than %lld bytes",
		    d->s->url, d->path, (long long)MAX_INPUT_SIZE);
		return 1;
	}
	if (f->size >= 0 && (a->size != f->size || a->mtime != f->mtime)) {
		time_iso((time_t)f->mtime, then);
		time_iso((time_t)a->mtime, now);
		snprintf(d->err, d->errlen, "it changed after it was listed: "
		    "%lld bytes, mtime %s then; %lld bytes, mtime %s when "
		    "opened", f->size, then, a->size, now);
		d->rc = SRC_CHANGED;
		return 1;
	}
	fault("fetch.block");
	return 0;
}

/* Bytes in file order: hashed and written to the spool copy. */
static int
dl_data(void *arg, const void *p, size_t n)
{
	struct dl	*d = arg;

	sha256_update(d->h, p, n);
	if (write_full(d->fd, p, n) == -1) {
		snprintf(d->err, d->errlen, "cannot write the spool copy of "
		    "%s: %s", d->path, strerror(errno));
		d->rc = -1;
		return 1;
	}
	*d->size += (long long)n;
	fault("fetch.block");
	return 0;
}

static int
dl_last(void *arg)
{
	(void)arg;
	fault("fetch.block");
	return 0;
}

/*
 * After the download: are the open file (h) and the path (p) still the
 * size and mtime the file had when opened (at), and did every byte
 * arrive? 0; SRC_CHANGED with err saying how, and f set to what the
 * path holds now.
 */
static int
dl_unchanged(const struct srcfile *at, const struct xattr *h,
    const struct xattr *p, long long copied, struct srcfile *f, char *err,
    size_t errlen)
{
	f->size = p->size;
	f->mtime = p->mtime;
	if (p->size < 0) {
		f->mtime = -1;
		snprintf(err, errlen, "it was deleted, renamed or replaced "
		    "while it was read");
	} else if (h->size != at->size || p->size != at->size)
		snprintf(err, errlen, "its size went from %lld to %lld bytes "
		    "while it was read", at->size,
		    h->size != at->size ? h->size : p->size);
	else if (copied != at->size)
		snprintf(err, errlen, "%lld of its %lld bytes arrived", copied,
		    at->size);
	else if (h->mtime != at->mtime || p->mtime != at->mtime)
		snprintf(err, errlen, "it was written to while it was read: "
		    "its mtime changed");
	else
		return 0;
	return SRC_CHANGED;
}

/* libssh's attributes of a regular file as an xattr (freed here). */
static struct xattr
xattr_of(sftp_attributes a)
{
	struct xattr	 x = { -1, -1 };

	(void)attr_take(a, &x.size, &x.mtime);
	return x;
}

/*
 * One channel: libssh's SFTP session, read_requests reads of read_size
 * in flight, up to the size the file had when opened. A reply shorter
 * than asked is the server's limit: the rest of that read is asked for
 * at once.
 */
struct pipe {
	struct source	*s;
	sftp_file	 f;
	int		 id[MAX_SFTP_REQUESTS];
	uint64_t	 off[MAX_SFTP_REQUESTS];	/* in order */
	uint32_t	 len[MAX_SFTP_REQUESTS];
	int		 head, n;	/* the ring of them */
	uint64_t	 next;		/* the offset to ask for next */
	uint64_t	 size;		/* where the file ends */
	int		 shorts;	/* short replies (logged once) */
};

static int
pipe_fill(struct pipe *pp)
{
	const struct sftpopt *o = pp->s->opt;
	uint32_t	 len;
	int		 k, id;

	while (pp->n < o->read_requests && pp->next < pp->size) {
		len = pp->size - pp->next < (uint64_t)o->read_size ?
		    (uint32_t)(pp->size - pp->next) : (uint32_t)o->read_size;
		if (sftp_seek64(pp->f, pp->next) < 0 ||
		    (id = sftp_async_read_begin(pp->f, len)) < 0)
			return -1;
		k = (pp->head + pp->n++) % MAX_SFTP_REQUESTS;
		pp->id[k] = id;
		pp->off[k] = pp->next;
		pp->len[k] = len;
		pp->next += len;
	}
	return 0;
}

/* The next read in order into blk: its length, 0 at the end, -1. */
static ssize_t
pipe_next(struct pipe *pp, char *blk)
{
	uint32_t	 len;
	int		 k, n, m;

	if (pipe_fill(pp) == -1)
		return -1;
	if (pp->n == 0)
		return 0;
	k = pp->head;
	pp->head = (pp->head + 1) % MAX_SFTP_REQUESTS;
	pp->n--;
	len = pp->len[k];
	wd_arm(pp->s);
	if ((n = sftp_async_read(pp->f, blk, len, (uint32_t)pp->id[k])) <= 0)
		return n;
	if ((uint32_t)n < len && pp->shorts++ == 0)
		log_debug("%s: the server sends at most %d bytes a read "
		    "(read_size is %d); the rest of each read is asked for "
		    "again", pp->s->url, n, pp->s->opt->read_size);
	while ((uint32_t)n < len) {
		wd_arm(pp->s);
		if (sftp_seek64(pp->f, pp->off[k] + (uint64_t)n) < 0 ||
		    (m = (int)sftp_read(pp->f, blk + n, len - (size_t)n)) < 0)
			return -1;
		if (m == 0)
			break;	/* the file is shorter now */
		n += m;
	}
	return n;
}

/* Take the replies still due (libssh keeps each until it is). */
static void
pipe_drain(struct pipe *pp, char *blk)
{
	while (pp->n > 0) {
		wd_arm(pp->s);
		if (sftp_async_read(pp->f, blk, pp->len[pp->head],
		    (uint32_t)pp->id[pp->head]) < 0)
			break;
		pp->head = (pp->head + 1) % MAX_SFTP_REQUESTS;
		pp->n--;
	}
}

/*
 * The file's bytes over the SFTP session into d, as xfer_get() does
 * (0, XFER_STOP or -1 with err) for a server that opens no second
 * channel.
 */
static int
dl_one_channel(struct source *s, struct dl *d, struct xget *g)
{
	char		*blk = xmalloc((size_t)s->opt->read_size);
	struct pipe	 pp = { .s = s };
	sftp_attributes	 a;
	struct xattr	 at;
	ssize_t		 n;
	int		 rc = XFER_STOP, code;

	wd_arm(s);
	if ((pp.f = sftp_open(s->sftp, d->path, O_RDONLY, 0)) == NULL ||
	    (a = sftp_fstat(pp.f)) == NULL)
		goto fail;
	at = xattr_of(a);
	if (dl_opened(d, &at) != 0)
		goto out;
	pp.size = (uint64_t)at.size;
	while ((n = pipe_next(&pp, blk)) > 0)
		if (dl_data(d, blk, (size_t)n) != 0)
			goto out;
	if (n < 0)
		goto fail;
	pipe_drain(&pp, blk);
	dl_last(d);
	wd_arm(s);
	if ((a = sftp_fstat(pp.f)) == NULL)
		goto fail;
	g->at_end = xattr_of(a);
	wd_arm(s);
	if ((a = sftp_lstat(s->sftp, d->path)) == NULL &&
	    (code = sftp_get_error(s->sftp)) != SSH_FX_NO_SUCH_FILE &&
	    code != SSH_FX_NO_SUCH_PATH)
		goto fail;
	g->path_end = xattr_of(a);
	rc = 0;
	goto out;
fail:
	why(s, d->err, d->errlen, "reading", d->path);
	d->said = 1;
	rc = -1;
out:
	if (pp.f != NULL) {
		pipe_drain(&pp, blk);
		wd_arm(s);
		sftp_close(pp.f);
	}
	free(blk);
	return rc;
}

/*
 * Download f->name into fd, hashing it. Anything short of the whole file
 * (a connection or a stream lost, a timeout) is an error, and a file not
 * the one listed or changed while it was read is SRC_CHANGED: the caller
 * then throws the partial copy away. fetch.block is a fault point right
 * after open, after each block and after the last.
 */
static int
sftp_src_get(struct source *s, struct srcfile *f, int fd, struct sha256 *h,
    long long *size, char *err, size_t errlen)
{
	char		*p = rpath(s->dir, f->name);
	struct dl	 d = { .s = s, .path = p, .listed = f, .fd = fd, .h = h,
			    .size = size, .err = err, .errlen = errlen };
	struct xget	 g = { .opened = dl_opened, .data = dl_data,
			    .last = dl_last, .arg = &d, .size_hint = f->size };
	int64_t		 t0 = now_ms();
	int		 rc;

	*size = 0;
	if ((rc = xfer_get(xf(s), p, &g, err, errlen)) == XFER_NONE)
		rc = dl_one_channel(s, &d, &g);
	wd_disarm(s);
	switch (rc) {
	case 0:
		if ((rc = dl_unchanged(&d.at, &g.at_end, &g.path_end, *size,
		    f, err, errlen)) == 0)
			xf_done(f->name, *size, t0, g.streams);
		break;
	case XFER_STOP:
		rc = d.rc;
		break;
	case XFER_CHANGED:
		f->size = g.path_end.size;
		f->mtime = g.path_end.mtime;
		rc = SRC_CHANGED;
		break;
	default:
		if (!d.said)
			xf_why(s, err, errlen, "reading", p);
		snprintf(err + strlen(err), errlen - strlen(err), "; %lld "
		    "bytes had arrived: the partial copy was thrown away, the "
		    "file is downloaded again next run", *size);
		rc = -1;
	}
	free(p);
	return rc;
}

/* Make a folder and its parents on the server. 0, or -1 with err. The
 * folder is usually there: asked first, in one round trip, before its
 * parents are walked one round trip each. */
static int
mkdir_p(struct source *s, const char *dir, char *err, size_t errlen)
{
	sftp_attributes	 a;
	char		*p, *c, said[256];
	int		 rc = -1, last, code;

	if ((a = sftp_stat(s->sftp, dir)) != NULL) {
		code = a->type == SSH_FILEXFER_TYPE_DIRECTORY;
		sftp_attributes_free(a);
		if (code)
			return 0;
	}
	p = xstrdup(dir);
	c = p + (*p == '/');
	for (;;) {
		c += strcspn(c, "/");
		last = *c == '\0';
		*c = '\0';
		if ((a = sftp_stat(s->sftp, p)) == NULL &&
		    sftp_mkdir(s->sftp, p, 0750) != 0) {
			/* The mkdir's error, not the stat's after it (made
			 * meanwhile by another client, it is no error). */
			code = sftp_get_error(s->sftp);
			snprintf(said, sizeof(said), "%s",
			    ssh_get_error(s->ssh));
			if ((a = sftp_stat(s->sftp, p)) == NULL) {
				why_code(s, code, said, err, errlen,
				    "creating the folder", p);
				goto out;
			}
		}
		if (a != NULL && a->type != SSH_FILEXFER_TYPE_DIRECTORY) {
			snprintf(err, errlen, "%s: %s is in the way: it is not "
			    "a folder", s->url, p);
			sftp_attributes_free(a);
			goto out;
		}
		sftp_attributes_free(a);
		if (last)
			break;
		*c++ = '/';
	}
	rc = 0;
out:
	free(p);
	return rc;
}

/* rename(2) semantics: an existing target is replaced. */
static int
rename_over(struct source *s, const char *from, const char *to)
{
	sftp_attributes	 a;
	int		 code;

	if (sftp_rename(s->sftp, from, to) == 0)
		return 0;
	code = sftp_get_error(s->sftp);
	if (code != SSH_FX_FAILURE && code != SSH_FX_FILE_ALREADY_EXISTS)
		return -1;
	/* SFTP v3 servers without posix-rename keep an existing target. */
	if ((a = sftp_lstat(s->sftp, to)) == NULL)
		return -1;
	code = a->type == SSH_FILEXFER_TYPE_REGULAR;
	sftp_attributes_free(a);
	if (!code || sftp_unlink(s->sftp, to) != 0)
		return -1;
	return sftp_rename(s->sftp, from, to);
}

static int
sftp_src_after(struct source *s, const char *name, enum after how,
    const char *sub, char *err, size_t errlen)
{
	char	*from = rpath(s->dir, name), *dir = NULL, *to = NULL;
	char	*doing = NULL;
	int	 rc = -1;

	wd_arm(s);
	switch (how) {
	case AFTER_LEAVE:
		rc = 0;
		break;
	case AFTER_DELETE:
		if ((rc = sftp_unlink(s->sftp, from)) != 0)
			why(s, err, errlen, "deleting", from);
		break;
	case AFTER_MOVE:
		dir = subdir(s, sub);
		to = rpath(dir, name);
		xasprintf(&doing, "moving %s to", from);
		if (mkdir_p(s, dir, err, errlen) == 0 &&
		    (rc = rename_over(s, from, to)) != 0)
			why(s, err, errlen, doing, to);
		break;
	}
	wd_disarm(s);
	free(doing);
	free(from);
	free(dir);
	free(to);
	return rc == 0 ? 0 : -1;
}

/* fd (size bytes) to part over the SFTP session, one write at a time. */
static int
put_one_channel(struct source *s, int fd, long long size, const char *part,
    char *err, size_t errlen)
{
	char		*blk = xmalloc((size_t)s->opt->write_size);
	sftp_attributes	 a;
	sftp_file	 f;
	ssize_t		 n;
	int		 rc = -1;

	wd_arm(s);
	if ((f = sftp_open(s->sftp, part, O_WRONLY | O_CREAT | O_TRUNC,
	    0640)) == NULL)
		goto fail;
	while ((n = read(fd, blk, (size_t)s->opt->write_size)) > 0) {
		wd_arm(s);
		if (sftp_write(f, blk, (size_t)n) != n)
			goto fail;
	}
	if (n == -1) {
		snprintf(err, errlen, "cannot read the local file: %s",
		    strerror(errno));
		goto out;
	}
	wd_arm(s);
	n = sftp_close(f);
	f = NULL;
	if (n != SSH_NO_ERROR || (a = sftp_stat(s->sftp, part)) == NULL)
		goto fail;
	if ((long long)a->size == size)
		rc = 0;
	else
		snprintf(err, errlen, "%s: %s holds %llu bytes on the server "
		    "after the upload, not %lld", s->url, part,
		    (unsigned long long)a->size, size);
	sftp_attributes_free(a);
	goto out;
fail:
	why(s, err, errlen, "writing", part);
out:
	if (f != NULL) {
		wd_arm(s);
		sftp_close(f);
	}
	free(blk);
	return rc;
}

/*
 * Upload local as sub/name: written to sub/name.part, its size checked,
 * then renamed.
 */
static int
sftp_src_put(struct source *s, const char *local, const char *sub,
    const char *name, char *err, size_t errlen)
{
	char		*dir = subdir(s, sub), *final = rpath(dir, name), *part;
	struct stat	 sb;
	int64_t		 t0 = now_ms();
	int		 fd = -1, rc = -1, streams = 0;

	xasprintf(&part, "%s.part", final);
	if ((fd = open(local, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "cannot read %s: %s", local,
		    strerror(errno));
		goto out;
	}
	wd_arm(s);
	if (mkdir_p(s, dir, err, errlen) == -1)
		goto out;
	rc = xfer_put(xf(s), fd, (long long)sb.st_size, part, &streams, err,
	    errlen);
	if (rc == XFER_NONE)
		rc = put_one_channel(s, fd, (long long)sb.st_size, part, err,
		    errlen);
	else if (rc != 0)
		xf_why(s, err, errlen, "writing", part);
	if (rc != 0) {
		rc = -1;
		goto out;
	}
	wd_arm(s);
	if (rename_over(s, part, final) != 0) {
		why(s, err, errlen, "renaming", part);
		rc = -1;
		goto out;
	}
	xf_done(name, (long long)sb.st_size, t0, streams);
	rc = 0;
out:
	wd_arm(s);
	if (rc == -1 && !s->timed_out && ssh_is_connected(s->ssh))
		sftp_unlink(s->sftp, part);
	wd_disarm(s);
	if (fd != -1)
		close(fd);
	free(part);
	free(final);
	free(dir);
	return rc;
}

const struct srcops srcops_sftp = {
	.prefix = "sftp://",
	.open = sftp_src_open,
	.list = sftp_src_list,
	.exists = sftp_src_exists,
	.get = sftp_src_get,
	.after = sftp_src_after,
	.put = sftp_src_put,
	.alive = sftp_src_alive,
	.close = sftp_src_close,
};
