/*
 * latproxy: a TCP proxy on 127.0.0.1 that holds every byte for a fixed
 * delay in each direction, so that a link of round trip RTT can be
 * measured on loopback (bench/run.sh, the SFTP at WAN latency cases):
 *
 *	latproxy TARGET_PORT DELAY_MS [MAX_SECONDS]
 *
 * It listens on a port the kernel picks, prints that port on a line of
 * its own, and forwards each connection to 127.0.0.1:TARGET_PORT, each
 * direction delayed by DELAY_MS (RTT/2). It reads as fast as the sockets
 * give (up to PROXY_QUEUE_MAX bytes held per direction): the link is
 * long and fat, and only the SSH windows bound what is in flight, as on
 * a WAN whose TCP buffers are large enough. It exits on SIGTERM or
 * SIGINT, or after MAX_SECONDS (default 3600) whatever happens.
 * Loopback only, at most PROXY_CONN_MAX connections at once.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROXY_CONN_MAX		32		/* connections at once */
#define PROXY_QUEUE_MAX		(64 << 20)	/* bytes held per direction */
#define PROXY_READ		(256 << 10)	/* bytes taken by one read */
#define PROXY_DELAY_MAX		10000		/* ms each way, at most */

/* Bytes read at one time, due on the other side at due (ms). */
struct chunk {
	struct chunk	*next;
	int64_t		 due;
	size_t		 len, off;
	int		 eof;		/* the sender shut its side */
	char		 data[];
};

/* One direction of a connection: from one socket to the other. */
struct dir {
	int		 from, to;
	struct chunk	*head, *tail;
	size_t		 held;		/* bytes in the queue */
	int		 eof_read;	/* from said EOF (queued) */
	int		 done;		/* to was shut down for writing */
};

struct conn {
	int		 used;
	struct dir	 d[2];		/* client->server, server->client */
};

static struct conn	 conns[PROXY_CONN_MAX];
static int64_t		 delay;
static volatile sig_atomic_t stop;

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
tune(int fd)
{
	int	 one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void
conn_close(struct conn *c)
{
	struct chunk	*k, *n;
	int		 i;

	for (i = 0; i < 2; i++) {
		for (k = c->d[i].head; k != NULL; k = n) {
			n = k->next;
			free(k);
		}
		close(c->d[i].from);
	}
	memset(c, 0, sizeof(*c));
}

/* A new client: connect it to the target. */
static void
accept_one(int lfd, int port)
{
	struct sockaddr_in	 sin;
	struct conn		*c = NULL;
	int			 cfd, sfd, i;

	if ((cfd = accept(lfd, NULL, NULL)) == -1)
		return;
	for (i = 0; i < PROXY_CONN_MAX && c == NULL; i++)
		if (!conns[i].used)
			c = &conns[i];
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (c == NULL || (sfd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		close(cfd);
		return;
	}
	if (connect(sfd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(sfd);
		close(cfd);
		return;
	}
	tune(cfd);
	tune(sfd);
	c->used = 1;
	c->d[0].from = cfd;
	c->d[0].to = sfd;
	c->d[1].from = sfd;
	c->d[1].to = cfd;
}

/* Read what from has now into the queue: -1 on an error. */
static int
dir_read(struct dir *d, int64_t now)
{
	static char	 buf[PROXY_READ];
	struct chunk	*k;
	ssize_t		 n;

	n = read(d->from, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* As many bytes as were read: small reads stay small. */
	if (n == -1 || (k = malloc(sizeof(*k) + (size_t)n)) == NULL)
		return -1;
	memcpy(k->data, buf, (size_t)n);
	k->next = NULL;
	k->due = now + delay;
	k->len = (size_t)n;
	k->off = 0;
	k->eof = n == 0;
	d->eof_read = n == 0;
	d->held += (size_t)n;
	if (d->tail != NULL)
		d->tail->next = k;
	else
		d->head = k;
	d->tail = k;
	return 0;
}

/* Send what is due: -1 on an error. */
static int
dir_write(struct dir *d, int64_t now)
{
	struct chunk	*k;
	ssize_t		 n;

	while ((k = d->head) != NULL && k->due <= now) {
		if (k->eof) {
			shutdown(d->to, SHUT_WR);
			d->done = 1;
		} else {
			n = write(d->to, k->data + k->off, k->len - k->off);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n == -1)
				return -1;
			k->off += (size_t)n;
			d->held -= (size_t)n;
			if (k->off < k->len)
				return 0;
		}
		d->head = k->next;
		if (d->head == NULL)
			d->tail = NULL;
		free(k);
	}
	return 0;
}

/*
 * The poll set: per connection the client's socket, then the server's;
 * each is read while its direction may hold more, and written when the
 * other direction has a chunk due. *wait: ms until the next one is due.
 */
static int
prepare(struct pollfd *pf, int lfd, int64_t now, int *wait)
{
	struct conn	*c;
	int		 n = 0, i, j;
	int64_t		 w = 1000;

	pf[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	for (i = 0; i < PROXY_CONN_MAX; i++) {
		if (!(c = &conns[i])->used)
			continue;
		for (j = 0; j < 2; j++) {
			struct dir *d = &c->d[j], *o = &c->d[1 - j];
			short ev = 0;

			if (!d->eof_read && d->held < PROXY_QUEUE_MAX)
				ev |= POLLIN;
			if (o->head != NULL && o->head->due <= now)
				ev |= POLLOUT;
			else if (o->head != NULL && o->head->due - now < w)
				w = o->head->due - now;
			/* Nothing to wait for: a hung-up socket would wake
			 * poll at once. */
			pf[n++] = (struct pollfd){ .fd = ev ? d->from : -1,
			    .events = ev };
		}
	}
	*wait = (int)w;
	return n;
}

static void
serve(int lfd, int port, int64_t end)
{
	struct pollfd	 pf[1 + 2 * PROXY_CONN_MAX];
	struct conn	*c;
	int64_t		 now;
	int		 n, i, j, k, wait, bad;

	while (!stop && (now = now_ms()) < end) {
		n = prepare(pf, lfd, now, &wait);
		if (poll(pf, (nfds_t)n, wait) == -1 && errno != EINTR)
			return;
		now = now_ms();
		for (k = 1, i = 0; i < PROXY_CONN_MAX; i++) {
			if (!(c = &conns[i])->used)
				continue;
			for (bad = 0, j = 0; j < 2; j++, k++) {
				struct dir *d = &c->d[j];

				if ((pf[k].revents & (POLLIN | POLLHUP |
				    POLLERR)) && !d->eof_read &&
				    dir_read(d, now) == -1)
					bad = 1;
			}
			for (j = 0; j < 2; j++)
				if (dir_write(&c->d[j], now) == -1)
					bad = 1;
			if (bad || (c->d[0].done && c->d[1].done))
				conn_close(c);
		}
		if (pf[0].revents & POLLIN)
			accept_one(lfd, port);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	long			 port, ms, secs = 3600;
	int			 lfd, one = 1;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: latproxy TARGET_PORT DELAY_MS "
		    "[MAX_SECONDS]\n");
		return 2;
	}
	port = strtol(argv[1], NULL, 10);
	ms = strtol(argv[2], NULL, 10);
	if (argc == 4)
		secs = strtol(argv[3], NULL, 10);
	if (port < 1 || port > 65535 || ms < 0 || ms > PROXY_DELAY_MAX ||
	    secs < 1 || secs > 86400) {
		fprintf(stderr, "latproxy: bad port, delay or time limit\n");
		return 2;
	}
	delay = ms;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) == -1) {
		perror("latproxy");
		return 1;
	}
	printf("%d\n", ntohs(sin.sin_port));
	fflush(stdout);
	serve(lfd, (int)port, now_ms() + secs * 1000);
	return 0;
}
