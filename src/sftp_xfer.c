/*
 * SFTP file data at the speed of the link, for fetch_sftp.c's downloads
 * and uploads.
 *
 * libssh 0.10 (Debian 12) waits a round trip for every SFTP write and
 * keeps an SFTP channel's window at about 1.28 MB: at 50 ms a download
 * moved about half a megabyte per round trip, an upload one write. This
 * module speaks SFTP version 3 (draft-ietf-secsh-filexfer-02) for the
 * file data itself, over channels of the connection fetch_sftp.c opened,
 * with libssh's public channel API only (ssh_channel_open_session,
 * ssh_channel_request_subsystem, ssh_channel_write, ssh_channel_read):
 *
 *   - a transfer runs over up to sftp.streams SFTP channels ("streams"),
 *     each an sftp-server of its own on the server with its own handle
 *     on the file and its own flow-control window;
 *   - each stream keeps read_requests reads (or write_requests writes)
 *     in flight, each for its own range of the file; ranges are dealt
 *     out in file order, one stream after the other;
 *   - a stream's window is kept as large as what it has in flight (a
 *     channel read asking for that much grows it), so the server never
 *     waits for one;
 *   - replies are put back in file order: a download hands its caller
 *     the bytes in order (hashed and written as they come), holding
 *     back only what arrives ahead of a missing range.
 *
 * Everything the server sends is untrusted: a packet's length is
 * bounded, a reply must answer a request in flight on its own channel,
 * a read reply carries at most what was asked for.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "rostersync.h"

/* The SFTP version 3 packets, flags and codes used here. */
enum {
	FXP_INIT = 1, FXP_VERSION = 2, FXP_OPEN = 3, FXP_CLOSE = 4,
	FXP_READ = 5, FXP_WRITE = 6, FXP_LSTAT = 7, FXP_FSTAT = 8,
	FXP_STATUS = 101, FXP_HANDLE = 102, FXP_DATA = 103, FXP_ATTRS = 105
};
#define FXF_READ		0x01
#define FXF_WRITE		0x02
#define FXF_CREAT		0x08
#define FXF_TRUNC		0x10
#define ATTR_SIZE		0x01
#define ATTR_UIDGID		0x02
#define ATTR_PERM		0x04
#define ATTR_ACMODTIME		0x08
#define ATTR_EXTENDED		0x80000000U
#define FX_OK			0
#define FX_EOF			1
#define FX_NO_SUCH_FILE		2
#define FX_PERMISSION_DENIED	3

#define DATA_HEAD	13	/* length, type, id, data length */
#define CTL_MAX		4	/* requests other than data in flight */
#define RX_SLACK	(64 * 1024) /* a stream's buffer beyond its data */
#define OPEN_POLL_MS	100	/* a look at the socket while opening */

/* A request other than data (open, fstat, lstat, close) and its reply. */
struct ctl {
	uint32_t	 id;
	int		 type;		/* what was asked */
	int		 done;
	uint32_t	 code;		/* STATUS, or FX_OK */
	char		 msg[128];	/* the server's words, for errors */
	struct xattr	 a;		/* ATTRS */
	unsigned char	 h[SFTP_HANDLE_MAX]; /* HANDLE */
	uint32_t	 hlen;
};

/* How far a stream's opening went. */
enum { ST_NEW, ST_OPEN, ST_SFTP, ST_REFUSED };

/* One SFTP channel. */
struct stream {
	ssh_channel	 ch;
	int		 state;		/* ST_* */
	unsigned char	*rx;		/* received, not yet taken */
	size_t		 rxoff, rxlen, rxcap;
	unsigned char	 h[SFTP_HANDLE_MAX]; /* the open file */
	uint32_t	 hlen;		/* 0: none */
	int		 inflight;	/* data requests */
	struct ctl	 ctl[CTL_MAX];
	int		 nctl;
};

/* A range of the file, asked for as one request (or more: a read reply
 * shorter than asked is followed by a request for the rest). */
struct range {
	uint64_t	 off, end;	/* the range */
	uint64_t	 have;		/* received up to */
	uint64_t	 dlv;		/* handed over up to */
	unsigned char	*stash;		/* [dlv, have) held back */
	uint32_t	 id;		/* the request in flight */
	int		 st;		/* on this stream */
	int		 busy;		/* a request is in flight */
};

struct xfer {
	ssh_session	 ssh;
	const struct sftpopt *opt;
	void		(*step)(void *);
	void		*arg;
	struct stream	 s[SFTP_STREAMS_MAX];
	int		 ns;		/* streams open */
	int		 limit;		/* the most the server opens */
	uint32_t	 id;		/* the last request id */
	struct range	*rng;		/* ring of the ranges under way */
	size_t		 cap, head, cnt;
	int		 rr;		/* the stream to deal to next */
	int		 per;		/* requests in flight per stream */
	uint32_t	 bs;		/* bytes per request */
	uint64_t	 eof;		/* where the file ends, as far as known */
	uint64_t	 pos;		/* handed over (downloads) up to */
	int		 shorts;	/* short replies seen (logged once) */
	struct buf	 pk;		/* a packet being made */
	const char	*doing, *path;	/* for messages */
	char		*err;
	size_t		 errlen;
};

/* ---------------------------------------------------------- messages */

static int
fail(struct xfer *x, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(x->err, x->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Stream k cannot be used any more: the connection or the channel. */
static int
lost(struct xfer *x, int k)
{
	if (!ssh_is_connected(x->ssh))
		return fail(x, "the connection to the server was lost while "
		    "%s %s (%s)", x->doing, x->path, ssh_get_error(x->ssh));
	return fail(x, "the connection to the server was lost while %s %s "
	    "(the server ended SFTP stream %d of %d: %s)", x->doing, x->path,
	    k + 1, x->ns, ssh_channel_is_eof(x->s[k].ch) ||
	    ssh_channel_is_closed(x->s[k].ch) ? "channel closed" :
	    ssh_get_error(x->ssh));
}

/* A request the server refused, in words a sysadmin can act on. */
static int
refused(struct xfer *x, uint32_t code, const char *msg)
{
	if (code == FX_NO_SUCH_FILE)
		return fail(x, "%s %s: no such file or folder on the server",
		    x->doing, x->path);
	if (code == FX_PERMISSION_DENIED)
		return fail(x, "permission denied %s %s (check owners and "
		    "modes on the server)", x->doing, x->path);
	return fail(x, "%s %s failed (SFTP status %u: %s)", x->doing,
	    x->path, (unsigned)code, *msg != '\0' ? msg : "no message");
}

static int
malformed(struct xfer *x, int k, const char *what)
{
	return fail(x, "the server sent a malformed reply on SFTP stream %d "
	    "while %s %s: %s", k + 1, x->doing, x->path, what);
}

/* ------------------------------------------------- packets: writing */

static void
put32(struct buf *b, uint32_t v)
{
	unsigned char	 c[4] = { v >> 24, v >> 16, v >> 8, v };

	buf_add(b, c, 4);
}

static void
put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)(v >> 32));
	put32(b, (uint32_t)v);
}

static void
putstr(struct buf *b, const void *s, size_t n)
{
	put32(b, (uint32_t)n);
	buf_add(b, s, n);
}

/* A new packet in x->pk; its id, or 0 for INIT. */
static uint32_t
pk_begin(struct xfer *x, int type)
{
	buf_reset(&x->pk);
	put32(&x->pk, 0);
	buf_addc(&x->pk, type);
	if (type == FXP_INIT)
		return 0;
	if (++x->id == 0)
		x->id = 1;
	put32(&x->pk, x->id);
	return x->id;
}

/* Send x->pk on stream k: 0, or -1. */
static int
pk_send(struct xfer *x, int k)
{
	uint32_t	 n = (uint32_t)x->pk.len - 4;
	unsigned char	*p = (unsigned char *)x->pk.p;

	p[0] = n >> 24, p[1] = n >> 16, p[2] = n >> 8, p[3] = n;
	x->step(x->arg);
	if (ssh_channel_write(x->s[k].ch, p, (uint32_t)x->pk.len) !=
	    (int)x->pk.len)
		return lost(x, k);
	return 0;
}

/* ------------------------------------------------- packets: reading */

struct rd {
	const unsigned char	*p;
	size_t			 n;
	int			 bad;	/* read past the end */
};

static uint32_t
get32(struct rd *r)
{
	uint32_t	 v;

	if (r->n < 4) {
		r->bad = 1;
		r->n = 0;
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->n -= 4;
	return v;
}

static uint64_t
get64(struct rd *r)
{
	uint64_t	 hi = get32(r);

	return hi << 32 | get32(r);
}

/* A string: its bytes (not copied) and length; NULL past the end. */
static const unsigned char *
getstr(struct rd *r, uint32_t *len)
{
	const unsigned char	*s;

	*len = get32(r);
	if (r->bad || *len > r->n) {
		r->bad = 1;
		return NULL;
	}
	s = r->p;
	r->p += *len;
	r->n -= *len;
	return s;
}

/* A STATUS's message, cut to fit msg (untrusted: shown in a log). */
static void
get_msg(struct rd *r, char *msg, size_t len)
{
	const unsigned char	*s;
	uint32_t		 n, i;

	*msg = '\0';
	if ((s = getstr(r, &n)) == NULL) {
		r->bad = 0;	/* SFTP version 3 servers may leave it out */
		return;
	}
	for (i = 0; i < n && i + 1 < len; i++)
		msg[i] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
	msg[i] = '\0';
}

/*
 * A file's attributes: size and mtime when it is a regular file and the
 * server gives both, else -1. 0, or -1 if the bytes are not attributes.
 */
static int
get_attrs(struct rd *r, struct xattr *a)
{
	uint32_t	 flags = get32(r), perm = 0, n, len;
	uint64_t	 size = 0, mtime = 0;

	if (flags & ATTR_SIZE)
		size = get64(r);
	if (flags & ATTR_UIDGID)
		(void)get64(r);
	if (flags & ATTR_PERM)
		perm = get32(r);
	if (flags & ATTR_ACMODTIME) {
		(void)get32(r);
		mtime = get32(r);
	}
	if (flags & ATTR_EXTENDED)
		for (n = get32(r); n > 0 && !r->bad; n--) {
			(void)getstr(r, &len);
			(void)getstr(r, &len);
		}
	a->size = a->mtime = -1;
	if ((flags & (ATTR_SIZE | ATTR_PERM | ATTR_ACMODTIME)) ==
	    (ATTR_SIZE | ATTR_PERM | ATTR_ACMODTIME) && S_ISREG(perm)) {
		a->size = size > (uint64_t)LLONG_MAX ? LLONG_MAX :
		    (long long)size;
		a->mtime = (long long)mtime;
	}
	return r->bad ? -1 : 0;
}

/*
 * Take what stream k has received; with wait, wait for a byte at least.
 * Asking for as much as the buffer holds keeps the channel's window that
 * large (libssh grows it to what a read asks for). 0, or -1.
 */
static int
stream_recv(struct xfer *x, int k, int wait)
{
	struct stream	*st = &x->s[k];
	int		 n;

	/* What is left is part of a packet: to the front, so that a read
	 * may ask for the whole window. */
	if (st->rxoff > 0) {
		memmove(st->rx, st->rx + st->rxoff, st->rxlen);
		st->rxoff = 0;
	}
	if (wait)
		x->step(x->arg);
	n = ssh_channel_read_timeout(st->ch, st->rx + st->rxlen,
	    (uint32_t)(st->rxcap - st->rxlen), 0, wait ? -1 : 0);
	if (n < 0 || (n == 0 && (wait || ssh_channel_is_eof(st->ch))))
		return lost(x, k);
	st->rxlen += (size_t)n;
	return 0;
}

/*
 * The next whole packet stream k holds (its type in *type, the rest in
 * r), 0 when more bytes are needed, -1 when its length is impossible.
 * The bytes stay valid until the stream's next stream_recv().
 */
static int
stream_pkt(struct xfer *x, int k, int *type, struct rd *r)
{
	struct stream		*st = &x->s[k];
	const unsigned char	*p = st->rx + st->rxoff;
	uint32_t		 n;

	if (st->rxlen < 4)
		return 0;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	if (n < 5 || n > st->rxcap - 4)
		return malformed(x, k, "a packet of an impossible length");
	if (st->rxlen < 4 + (size_t)n)
		return 0;
	st->rxoff += 4 + (size_t)n;
	st->rxlen -= 4 + (size_t)n;
	*type = p[4];
	r->p = p + 5;
	r->n = n - 1;
	r->bad = 0;
	return 1;
}

/* ---------------------------------------------------------- streams */

static void
stream_close(struct stream *st)
{
	if (st->ch != NULL)
		ssh_channel_free(st->ch);	/* sends the close */
	free(st->rx);
	memset(st, 0, sizeof(*st));
}

/* Every stream closed: after an error, nothing in flight is known. */
static void
streams_reset(struct xfer *x)
{
	int	 k;

	for (k = 0; k < x->ns; k++)
		stream_close(&x->s[k]);
	x->ns = 0;
}

/* Open a channel and start SFTP on it, without waiting (the session is
 * non-blocking): SSH_OK, SSH_AGAIN or SSH_ERROR. */
static int
stream_start(struct stream *st)
{
	int	 rc;

	if (st->state == ST_NEW) {
		if ((rc = ssh_channel_open_session(st->ch)) != SSH_OK)
			return rc;
		st->state = ST_OPEN;
	}
	if (st->state == ST_OPEN) {
		if ((rc = ssh_channel_request_subsystem(st->ch, "sftp")) !=
		    SSH_OK)
			return rc;
		st->state = ST_SFTP;
	}
	return SSH_OK;
}

/*
 * Streams x->ns..want-1 opened side by side (one round trip for all,
 * not one per stream): those the server refuses (its MaxSessions) are
 * dropped. Returns how many are open then.
 */
static int
streams_open(struct xfer *x, int want)
{
	int64_t	 end = now_ms() + (int64_t)x->opt->timeout * 1000;
	int	 k, rc, pending, ok;

	for (k = x->ns; k < want; k++)
		if ((x->s[k].ch = ssh_channel_new(x->ssh)) == NULL)
			fatalx("out of memory");
	ssh_set_blocking(x->ssh, 0);
	x->step(x->arg);
	do {
		for (pending = 0, k = x->ns; k < want; k++) {
			if (x->s[k].state == ST_REFUSED)
				continue;
			if ((rc = stream_start(&x->s[k])) == SSH_AGAIN)
				pending++;
			else if (rc != SSH_OK)
				x->s[k].state = ST_REFUSED;
		}
		if (pending > 0) {
			struct pollfd pf = { .fd = ssh_get_fd(x->ssh),
			    .events = POLLIN };

			(void)poll(&pf, 1, OPEN_POLL_MS);
		}
	} while (pending > 0 && ssh_is_connected(x->ssh) && now_ms() < end);
	ssh_set_blocking(x->ssh, 1);
	for (ok = x->ns, k = x->ns; k < want; k++)
		if (x->s[k].state == ST_SFTP)
			x->s[ok++] = x->s[k];
		else
			stream_close(&x->s[k]);
	for (k = ok; k < want; k++)
		memset(&x->s[k], 0, sizeof(x->s[k]));
	return ok;
}

/* Requests of size bytes a stream keeps in flight: want, or fewer to
 * stay within SFTP_WINDOW_MAX. */
static int
per_stream(int want, int size)
{
	int	 most = SFTP_WINDOW_MAX / size;

	return want < most ? want : most > 1 ? most : 1;
}

/*
 * A stream's buffer, and so its window: twice what its reads have in
 * flight (replies wait there while another stream is read), and room
 * for the packet being taken.
 */
static size_t
rx_size(const struct sftpopt *o)
{
	size_t	 pkt = (size_t)o->read_size + DATA_HEAD + RX_SLACK;

	if (pkt < SFTP_REPLY_MAX + 4)
		pkt = SFTP_REPLY_MAX + 4;
	return 2 * (size_t)per_stream(o->read_requests, o->read_size) *
	    ((size_t)o->read_size + DATA_HEAD) + pkt;
}

/* INIT and VERSION on streams from..n-1: 0, or -1. */
static int
streams_init(struct xfer *x, int from, int n)
{
	struct rd	 r;
	int		 k, type, got;

	for (k = from; k < n; k++) {
		x->s[k].rxcap = rx_size(x->opt);
		x->s[k].rx = xmalloc(x->s[k].rxcap);
		pk_begin(x, FXP_INIT);
		put32(&x->pk, 3);
		if (pk_send(x, k) == -1)
			return -1;
	}
	for (k = from; k < n; k++) {
		while ((got = stream_pkt(x, k, &type, &r)) == 0)
			if (stream_recv(x, k, 1) == -1)
				return -1;
		if (got == -1)
			return -1;
		if (type != FXP_VERSION || get32(&r) != 3)
			return malformed(x, k, "not SFTP version 3");
	}
	return 0;
}

/*
 * want streams, or as many as the server allows (once it refused some,
 * no more are asked for on this connection): how many, 0 when it allows
 * none besides libssh's SFTP session (the caller uses that), or -1.
 */
static int
streams_ensure(struct xfer *x, int want)
{
	int	 had = x->ns, n;

	if (want > x->limit)
		want = x->limit;
	if (want == 0 || x->ns >= want)
		return want;
	n = streams_open(x, want);
	if (!ssh_is_connected(x->ssh))
		return lost(x, 0);
	if (n < want) {
		x->limit = n;
		if (n == 0)
			log_debug("the server opens no SFTP channel besides "
			    "the session (its MaxSessions): transfers use that "
			    "one");
		else
			log_debug("the server opened %d of the %d SFTP "
			    "streams asked for (its MaxSessions)", n, want);
	}
	x->ns = n;
	if (streams_init(x, had, n) == -1) {
		streams_reset(x);
		return -1;
	}
	return n;
}

/* --------------------------------------------- requests other than data */

/* Send x->pk on stream k as a request whose reply ctl_wait() takes. */
static int
ctl_send(struct xfer *x, int k, int type, uint32_t id)
{
	struct ctl	*c;

	if (x->s[k].nctl == CTL_MAX)
		fatalx("sftp_xfer: more than %d requests of a kind", CTL_MAX);
	c = &x->s[k].ctl[x->s[k].nctl++];
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->type = type;
	return pk_send(x, k);
}

/* The reply to a request of ctl_send(): 1, or 0 when it is not one. */
static int
ctl_reply(struct xfer *x, int k, int type, struct rd *r)
{
	struct stream	*st = &x->s[k];
	struct ctl	*c = NULL;
	const unsigned char *s;
	uint32_t	 id = get32(r);
	int		 i;

	for (i = 0; i < st->nctl && c == NULL; i++)
		if (st->ctl[i].id == id && !st->ctl[i].done)
			c = &st->ctl[i];
	if (c == NULL)
		return 0;
	c->done = 1;
	if (type == FXP_STATUS) {
		c->code = get32(r);
		get_msg(r, c->msg, sizeof(c->msg));
	} else if (type == FXP_HANDLE && c->type == FXP_OPEN) {
		if ((s = getstr(r, &c->hlen)) == NULL || c->hlen == 0 ||
		    c->hlen > SFTP_HANDLE_MAX)
			return malformed(x, k, "a bad file handle");
		memcpy(c->h, s, c->hlen);
	} else if (type == FXP_ATTRS && c->type != FXP_OPEN &&
	    c->type != FXP_CLOSE) {
		if (get_attrs(r, &c->a) == -1)
			return malformed(x, k, "bad file attributes");
	} else
		return malformed(x, k, "a reply of the wrong type");
	return r->bad ? malformed(x, k, "a short reply") : 1;
}

/* Wait until every stream's requests of ctl_send() are answered. */
static int
ctl_wait(struct xfer *x, int n)
{
	struct rd	 r;
	int		 k, i, type, got, left;

	for (k = 0; k < n; k++)
		for (;;) {
			for (left = 0, i = 0; i < x->s[k].nctl; i++)
				left += !x->s[k].ctl[i].done;
			if (left == 0)
				break;
			if ((got = stream_pkt(x, k, &type, &r)) == -1)
				return -1;
			if (got == 0 && stream_recv(x, k, 1) == -1)
				return -1;
			if (got == 1 && (got = ctl_reply(x, k, type, &r)) != 1)
				return got == 0 ? malformed(x, k, "a reply to "
				    "no request") : -1;
		}
	return 0;
}

/* Open path on streams 0..n-1 (with flags and, for a new file, mode). */
static int
open_all(struct xfer *x, int n, const char *path, uint32_t flags)
{
	struct ctl	*c;
	uint32_t	 id;
	int		 k;

	for (k = 0; k < n; k++) {
		x->s[k].nctl = 0;
		id = pk_begin(x, FXP_OPEN);
		putstr(&x->pk, path, strlen(path));
		put32(&x->pk, flags);
		put32(&x->pk, (flags & FXF_CREAT) ? ATTR_PERM : 0);
		if (flags & FXF_CREAT)
			put32(&x->pk, 0640);
		if (ctl_send(x, k, FXP_OPEN, id) == -1)
			return -1;
	}
	if (ctl_wait(x, n) == -1)
		return -1;
	for (k = 0; k < n; k++) {
		c = &x->s[k].ctl[0];
		if (c->hlen == 0)
			return refused(x, c->code, c->msg);
		memcpy(x->s[k].h, c->h, c->hlen);
		x->s[k].hlen = c->hlen;
	}
	return 0;
}

/* Send a request naming stream k's handle (FSTAT, CLOSE). */
static int
handle_req(struct xfer *x, int k, int type)
{
	uint32_t	 id = pk_begin(x, type);

	putstr(&x->pk, x->s[k].h, x->s[k].hlen);
	return ctl_send(x, k, type, id);
}

/*
 * The end of a transfer: each stream's handle's attributes (fstat), the
 * path's on stream 0 (lstat; size -1 when it is gone), then the handles
 * closed, all in one round trip. fst[k] per stream. 0, or -1.
 */
static int
finish_all(struct xfer *x, int n, struct xattr *fst, struct xattr *path)
{
	struct stream	*st;
	uint32_t	 id;
	int		 k, i;

	for (k = 0; k < n; k++) {
		x->s[k].nctl = 0;
		if (handle_req(x, k, FXP_FSTAT) == -1)
			return -1;
		if (k == 0 && path != NULL) {
			id = pk_begin(x, FXP_LSTAT);
			putstr(&x->pk, x->path, strlen(x->path));
			if (ctl_send(x, k, FXP_LSTAT, id) == -1)
				return -1;
		}
		if (handle_req(x, k, FXP_CLOSE) == -1)
			return -1;
	}
	if (ctl_wait(x, n) == -1)
		return -1;
	for (k = 0; k < n; k++) {
		st = &x->s[k];
		st->hlen = 0;
		for (i = 0; i < st->nctl; i++) {
			struct ctl *c = &st->ctl[i];

			if (c->type == FXP_LSTAT)
				*path = c->a;
			if (c->type == FXP_LSTAT && c->code == FX_NO_SUCH_FILE) {
				path->size = path->mtime = -1;	/* gone */
				continue;
			}
			if (c->code != FX_OK)
				return refused(x, c->code, c->msg);
			if (c->type == FXP_FSTAT)
				fst[k] = c->a;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ ranges */

static struct range *
rng_at(struct xfer *x, size_t i)
{
	return &x->rng[(x->head + i) % x->cap];
}

/* No range under way any more (what was held back is dropped). */
static void
rngs_clear(struct xfer *x)
{
	size_t	 i;

	for (i = 0; i < x->cnt; i++)
		free(rng_at(x, i)->stash);
	x->head = x->cnt = 0;
}

/* The ring for n streams of per requests each; empty. */
static void
rngs_reset(struct xfer *x, int n, int per)
{
	rngs_clear(x);
	x->per = per;
	x->cap = (size_t)n * (size_t)per;
	x->rng = xrealloc(x->rng, x->cap * sizeof(*x->rng));
	x->head = x->cnt = 0;
	x->rr = 0;
}

/* The stream the next request goes to, or -1 when each has per. */
static int
next_stream(struct xfer *x, int n)
{
	int	 i, k;

	for (i = 0; i < n; i++) {
		k = (x->rr + i) % n;
		if (x->s[k].inflight < x->per) {
			x->rr = (k + 1) % n;
			return k;
		}
	}
	return -1;
}

/* The range in flight on stream k whose request is id, or NULL. */
static struct range *
rng_find(struct xfer *x, int k, uint32_t id)
{
	struct range	*rg;
	size_t		 i;

	for (i = 0; i < x->cnt; i++) {
		rg = rng_at(x, i);
		if (rg->busy && rg->st == k && rg->id == id)
			return rg;
	}
	return NULL;
}

/* Ask for [rg->have, rg->end) on its stream. */
static int
read_req(struct xfer *x, struct range *rg)
{
	struct stream	*st = &x->s[rg->st];

	rg->id = pk_begin(x, FXP_READ);
	putstr(&x->pk, st->h, st->hlen);
	put64(&x->pk, rg->have);
	put32(&x->pk, (uint32_t)(rg->end - rg->have));
	rg->busy = 1;
	return pk_send(x, rg->st);
}

/* Free the ranges at the front that are done with (nothing in flight,
 * everything handed over, or past where the file was found to end). */
static void
rngs_pop(struct xfer *x)
{
	struct range	*rg;

	while (x->cnt > 0 && !(rg = rng_at(x, 0))->busy &&
	    (rg->dlv == rg->end || rg->off >= x->eof || rg->dlv != x->pos)) {
		free(rg->stash);
		x->head = (x->head + 1) % x->cap;
		x->cnt--;
	}
}

/* ---------------------------------------------------------- download */

/* Reads until each stream has its share in flight (up to x->eof). */
static int
get_fill(struct xfer *x, int n, uint64_t *next)
{
	struct range	*rg;
	int		 k;

	while (x->cnt < x->cap && *next < x->eof &&
	    (k = next_stream(x, n)) != -1) {
		rg = rng_at(x, x->cnt++);
		memset(rg, 0, sizeof(*rg));
		rg->off = rg->have = rg->dlv = *next;
		rg->end = x->eof - *next < x->bs ? x->eof : *next + x->bs;
		rg->st = k;
		x->s[k].inflight++;
		*next = rg->end;
		if (read_req(x, rg) == -1)
			return -1;
	}
	return 0;
}

/*
 * A read reply shorter than asked, and not because the file ends there:
 * the server's limit (OpenSSH's sends at most 255 KB). Later reads ask
 * for no more than it sends.
 */
static void
get_short(struct xfer *x, uint32_t got)
{
	if (x->shorts++ == 0)
		log_debug("%s: the server sends at most %u bytes a read "
		    "(read_size is %d): the rest of each read in flight is "
		    "asked for again%s", x->path, (unsigned)got,
		    x->opt->read_size, got >= SFTP_READ_MIN ? ", and later "
		    "reads ask for no more" : "");
	if (got >= SFTP_READ_MIN && got < x->bs)
		x->bs = got;
}

/*
 * Data for rg: handed over at once when it is the next byte in file
 * order, else held back; past where the file was found to end, dropped.
 * 0, or XFER_STOP when the caller's data() stops the download.
 */
static int
get_data(struct xfer *x, struct xget *g, struct range *rg,
    const unsigned char *d, uint32_t len)
{
	if (rg->have + len > x->eof)
		len = rg->have < x->eof ? (uint32_t)(x->eof - rg->have) : 0;
	if (len == 0)
		return 0;
	if (rg->dlv == rg->have && rg->dlv == x->pos) {
		rg->have += len;
		rg->dlv = rg->have;
		x->pos = rg->have;
		return g->data(g->arg, d, len) != 0 ? XFER_STOP : 0;
	}
	if (rg->stash == NULL)
		rg->stash = xmalloc((size_t)(rg->end - rg->off));
	memcpy(rg->stash + (rg->have - rg->off), d, len);
	rg->have += len;
	return 0;
}

/* A reply on stream k to a read: 0, XFER_STOP or -1. */
static int
get_reply(struct xfer *x, struct xget *g, int k, int type, struct rd *r)
{
	struct range		*rg;
	const unsigned char	*d;
	uint32_t		 id = get32(r), len;
	char			 msg[128];
	int			 rc;

	if ((rg = rng_find(x, k, id)) == NULL)
		return malformed(x, k, "a reply to no request");
	if (type == FXP_STATUS) {
		if ((len = get32(r)) != FX_EOF) {
			get_msg(r, msg, sizeof(msg));
			return refused(x, len, msg);
		}
		if (rg->have < x->eof)
			x->eof = rg->have;	/* the file is shorter now */
	} else if (type == FXP_DATA) {
		if ((d = getstr(r, &len)) == NULL || len == 0 ||
		    len > rg->end - rg->have)
			return malformed(x, k, "not the data asked for");
		if (rg->have + len < rg->end && rg->have + len < x->eof)
			get_short(x, len);
		if ((rc = get_data(x, g, rg, d, len)) != 0)
			return rc;
		if (rg->have < rg->end && rg->have < x->eof)
			return read_req(x, rg);		/* the rest */
	} else
		return malformed(x, k, "a reply of the wrong type");
	rg->end = rg->have;
	rg->busy = 0;
	x->s[k].inflight--;
	return 0;
}

/* Hand over what is next in file order; free the ranges done. */
static int
get_deliver(struct xfer *x, struct xget *g)
{
	struct range	*rg;

	rngs_pop(x);
	while (x->cnt > 0 && (rg = rng_at(x, 0))->dlv == x->pos &&
	    rg->dlv < rg->have) {
		if (g->data(g->arg, rg->stash + (rg->dlv - rg->off),
		    (size_t)(rg->have - rg->dlv)) != 0)
			return XFER_STOP;
		x->pos = rg->dlv = rg->have;
		rngs_pop(x);
	}
	return 0;
}

/* Every whole packet stream k holds, taken: 0, XFER_STOP or -1. */
static int
get_take(struct xfer *x, struct xget *g, int k)
{
	struct rd	 r;
	int		 type, got, rc;

	while ((got = stream_pkt(x, k, &type, &r)) == 1)
		if ((rc = get_reply(x, g, k, type, &r)) != 0)
			return rc;
	return got;
}

/*
 * Wait for replies: what every stream has now is taken, and when that
 * leaves the next range in file order waiting, the wait is on its
 * stream. 0, XFER_STOP or -1.
 */
static int
get_wait(struct xfer *x, struct xget *g, int n)
{
	struct range	*rg;
	int		 k, rc;

	for (k = 0; k < n; k++) {
		if (stream_recv(x, k, 0) == -1)
			return -1;
		if ((rc = get_take(x, g, k)) != 0)
			return rc;
	}
	if ((rc = get_deliver(x, g)) != 0 || x->cnt == 0)
		return rc;
	rg = rng_at(x, 0);
	if (!rg->busy)
		return 0;
	if (stream_recv(x, rg->st, 1) == -1)
		return -1;
	return get_take(x, g, rg->st);
}

/* The file's bytes, [0, size) in order, into g: 0, XFER_STOP or -1. */
static int
get_all(struct xfer *x, struct xget *g, int n, uint64_t size)
{
	uint64_t	 next = 0;
	int		 rc;

	x->eof = size;
	x->pos = 0;
	x->bs = (uint32_t)x->opt->read_size;
	rngs_reset(x, n, per_stream(x->opt->read_requests, x->opt->read_size));
	for (;;) {
		if (get_fill(x, n, &next) == -1)
			return -1;
		if ((rc = get_deliver(x, g)) != 0)
			return rc;
		if (x->cnt == 0)
			break;
		if ((rc = get_wait(x, g, n)) != 0)
			return rc;
	}
	g->copied = (long long)x->pos;
	return 0;
}

/* Streams for size bytes: one more each time one would be full. */
static int
streams_for(const struct xfer *x, long long size, long long each)
{
	long long	 n = (size + each - 1) / each;

	if (n < 1)
		n = 1;
	return n < x->opt->streams ? (int)n : x->opt->streams;
}

static void
begin(struct xfer *x, const char *doing, const char *path, char *err,
    size_t errlen)
{
	x->doing = doing;
	x->path = path;
	x->err = err;
	x->errlen = errlen;
	*err = '\0';
}

/*
 * Open on n streams: every handle must show the same size and mtime
 * (*at), else XFER_CHANGED with the other one in g->path_end.
 */
static int
get_open(struct xfer *x, struct xget *g, int n, struct xattr *at)
{
	struct ctl	*c;
	int		 k;

	if (open_all(x, n, x->path, FXF_READ) == -1)
		return -1;
	for (k = 0; k < n; k++) {
		x->s[k].nctl = 0;
		if (handle_req(x, k, FXP_FSTAT) == -1)
			return -1;
	}
	if (ctl_wait(x, n) == -1)
		return -1;
	for (k = 0; k < n; k++) {
		c = &x->s[k].ctl[0];
		if (c->code != FX_OK)
			return refused(x, c->code, c->msg);
		if (k > 0 && (c->a.size != at->size ||
		    c->a.mtime != at->mtime)) {
			g->path_end = c->a;
			fail(x, "it changed while it was opened");
			return XFER_CHANGED;
		}
		*at = c->a;
	}
	return 0;
}

int
xfer_get(struct xfer *x, const char *path, struct xget *g, char *err,
    size_t errlen)
{
	struct xattr	 at, fst[SFTP_STREAMS_MAX];
	int		 n, rc, k;

	begin(x, "reading", path, err, errlen);
	g->copied = 0;
	n = streams_ensure(x, streams_for(x, g->size_hint,
	    (long long)x->opt->read_size * per_stream(x->opt->read_requests,
	    x->opt->read_size)));
	if (n <= 0)
		return n == 0 ? XFER_NONE : -1;
	g->streams = n;
	if ((rc = get_open(x, g, n, &at)) != 0 ||
	    (rc = g->opened(g->arg, &at) != 0 ? XFER_STOP : 0) != 0 ||
	    (rc = at.size < 0 ? fail(x, "%s is not a regular file", path) :
	    0) != 0 ||
	    (rc = get_all(x, g, n, (uint64_t)at.size)) != 0 ||
	    (rc = g->last(g->arg) != 0 ? XFER_STOP : 0) != 0 ||
	    (rc = finish_all(x, n, fst, &g->path_end)) != 0)
		goto out;
	g->at_end = fst[0];
	for (k = 1; k < n; k++)
		if (fst[k].size != fst[0].size || fst[k].mtime != fst[0].mtime)
			g->at_end = fst[k];
out:
	rngs_clear(x);
	if (rc != 0)
		streams_reset(x);	/* replies may still come */
	return rc;
}

/* ------------------------------------------------------------ upload */

/* The next write, of the range at *next, on stream k: 0, or -1. */
static int
put_write(struct xfer *x, int fd, int k, uint64_t *next, uint64_t size)
{
	struct range	*rg = rng_at(x, x->cnt++);
	struct stream	*st = &x->s[k];
	uint32_t	 len;
	ssize_t		 got;

	memset(rg, 0, sizeof(*rg));
	rg->off = *next;
	rg->end = size - *next < x->bs ? size : *next + x->bs;
	rg->dlv = rg->end;	/* nothing to hand over: done once answered */
	rg->st = k;
	rg->busy = 1;
	len = (uint32_t)(rg->end - rg->off);
	rg->id = pk_begin(x, FXP_WRITE);
	putstr(&x->pk, st->h, st->hlen);
	put64(&x->pk, rg->off);
	put32(&x->pk, len);
	buf_grow(&x->pk, len);
	got = pread(fd, x->pk.p + x->pk.len, len, (off_t)rg->off);
	if (got != (ssize_t)len)
		return fail(x, "cannot read the local file at byte %llu: %s",
		    (unsigned long long)rg->off, got == -1 ? strerror(errno) :
		    "it is shorter than when the upload began");
	x->pk.len += len;
	st->inflight++;
	*next = rg->end;
	return pk_send(x, k);
}

/* Every whole packet stream k holds: write replies. 0, or -1. */
static int
put_take(struct xfer *x, int k)
{
	struct range	*rg;
	struct rd	 r;
	uint32_t	 code;
	char		 msg[128];
	int		 type, got;

	while ((got = stream_pkt(x, k, &type, &r)) == 1) {
		if (type != FXP_STATUS ||
		    (rg = rng_find(x, k, get32(&r))) == NULL)
			return malformed(x, k, "a reply to no write");
		if ((code = get32(&r)) != FX_OK) {
			get_msg(&r, msg, sizeof(msg));
			return refused(x, code, msg);
		}
		rg->busy = 0;
		x->s[k].inflight--;
	}
	return got;
}

/* Wait for write replies: what every stream has now, else the oldest's. */
static int
put_wait(struct xfer *x, int n)
{
	int	 k;

	for (k = 0; k < n; k++)
		if (stream_recv(x, k, 0) == -1 || put_take(x, k) == -1)
			return -1;
	rngs_pop(x);
	if (x->cnt == 0 || !rng_at(x, 0)->busy)
		return 0;
	k = rng_at(x, 0)->st;
	if (stream_recv(x, k, 1) == -1)
		return -1;
	return put_take(x, k);
}

/* Write [0, size) of fd, each stream its share in flight: 0, or -1. */
static int
put_all(struct xfer *x, int fd, int n, uint64_t size)
{
	uint64_t	 next = 0;
	int		 k;

	x->bs = (uint32_t)x->opt->write_size;
	x->eof = UINT64_MAX;	/* rngs_pop(): done once answered */
	rngs_reset(x, n, per_stream(x->opt->write_requests,
	    x->opt->write_size));
	for (;;) {
		while (next < size && x->cnt < x->cap &&
		    (k = next_stream(x, n)) != -1)
			if (put_write(x, fd, k, &next, size) == -1)
				return -1;
		if (x->cnt == 0 && next >= size)
			return 0;
		if (put_wait(x, n) == -1)
			return -1;
	}
}

int
xfer_put(struct xfer *x, int fd, long long size, const char *path,
    int *streams, char *err, size_t errlen)
{
	struct xattr	 fst[SFTP_STREAMS_MAX], pa;
	int		 n, rc;

	begin(x, "writing", path, err, errlen);
	n = streams_ensure(x, streams_for(x, size,
	    (long long)x->opt->write_size * per_stream(x->opt->write_requests,
	    x->opt->write_size)));
	if (n <= 0)
		return n == 0 ? XFER_NONE : -1;
	*streams = n;
	if ((rc = open_all(x, n, path, FXF_WRITE | FXF_CREAT | FXF_TRUNC)) ||
	    (rc = put_all(x, fd, n, (uint64_t)size)) ||
	    (rc = finish_all(x, n, fst, &pa)))
		goto out;
	if (pa.size != size)
		rc = fail(x, "%s holds %lld bytes on the server after the "
		    "upload, not %lld", path, pa.size, size);
out:
	rngs_clear(x);
	if (rc != 0)
		streams_reset(x);	/* replies may still come */
	return rc;
}

/* ------------------------------------------------------------- life */

struct xfer *
xfer_new(struct ssh_session_struct *ssh, const struct sftpopt *opt,
    void (*step)(void *), void *arg)
{
	struct xfer	*x = xcalloc(1, sizeof(*x));

	x->ssh = ssh;
	x->opt = opt;
	x->step = step;
	x->arg = arg;
	x->limit = SFTP_STREAMS_MAX;
	return x;
}

void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	streams_reset(x);
	free(x->rng);
	buf_free(&x->pk);
	free(x);
}
