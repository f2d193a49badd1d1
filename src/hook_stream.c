/*
 * The apply hook in stream mode: one program per run, started as the exec
 * mode starts it (execve, a clean environment, its own process group),
 * fed one item per line on its standard input (the payload the exec mode
 * gives, which names the item by "run" and "item") and answering one
 * line per item on its standard output:
 *
 *   {"run": R, "item": S, "ok": true, "response": {...}}
 *   {"run": R, "item": S, "ok": false, "error": "..."}
 *
 * in any order, with at most `window` items in flight. The promise is
 * the exec mode's: each item's attempt is recorded (one transaction per
 * batch of lines) before its line is written, and when the program exits,
 * hangs past `timeout` without an answer, or writes a line that is not an
 * answer (bad JSON, too long, or naming an item that is not in flight),
 * it is killed and the items in flight are failed ("check, then confirm
 * or retry"): nothing is sent twice behind anyone's back. The program is
 * then started again for the rest, HOOK_STARTS times per run at most;
 * what is left then stays pending for the next run.
 *
 * Items keep their order where it matters: an item waits while one it
 * depends on is in flight or waiting before it (its own user's, the
 * manager it names, the team it joins), deletions wait for everything
 * before them, and team deletions for the deletions. Items that need
 * nothing of a waiting one pass it: a team join waiting for its user's
 * update does not hold back the next user's items.
 *
 * hook_apply_run() is here too: a run's items to the hook in either mode
 * (exec mode's item by item is hook.c's hook_apply_item()).
 */
#include <sys/pidfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rostersync.h"

#define STREAM_ERR_MAX	(64 * 1024)	/* stderr kept per program */
#define STREAM_GATHER_MS 2		/* answers gathered before a commit */

/* One item on its way: what it owns and needs, and the item itself. */
struct sitem {
	struct itemfull	 it;
	size_t		 idx;		/* in seqs */
	uint64_t	 h[3];		/* named(): h[0] the user or team it
					 * owns, h[1] and h[2] those it names;
					 * 0: none (equal hashes: it waits) */
	struct buf	 line;		/* the payload naming this run's item */
};

struct stream {
	struct store	*st;
	const struct sync *sy;
	long long	 run;
	const long long	*seqs;
	size_t		 n, next;	/* the next item to send */
	int		*done;
	struct sitem	*fl;		/* in flight: window slots */
	size_t		 nfl;
	struct sitem	*wait;		/* loaded, not sent, in their order:
					 * HOOK_LOOKAHEAD slots */
	size_t		 nwait;
	pid_t		 pid;		/* the program, or 0 */
	int		 pidfd;		/* readable once it exits, or -1 */
	int		 fd[3];		/* its stdin, stdout, stderr */
	struct buf	 wb;		/* lines not yet written */
	size_t		 woff;
	struct buf	 rb;		/* bytes of a line not yet whole */
	struct buf	 eb;		/* its stderr, bounded */
	int64_t		 last;		/* its last progress (ms) */
	int		 starts, failed, dberr;
	char		 e_run[48], e_sync[96], e_win[48];
};

static void
sitem_free(struct sitem *si)
{
	itemfull_free(&si->it);
	buf_free(&si->line);
	memset(si, 0, sizeof(*si));
}

/* A user ('u') or team ('t') by name, as must_follow() compares them:
 * a hash, never 0; 0 for no name. */
static uint64_t
named(char kind, const char *name)
{
	if (name == NULL || name[0] == '\0')
		return 0;
	return hash64(name, strlen(name), (uint64_t)kind) | 1;
}

/* The payload as the line that names the item as this run's (a retry's
 * items carry the payload of the run they retry). */
static void
sitem_line(struct stream *s, struct sitem *si, const struct jval *v)
{
	const struct jval	*e;

	buf_printf(&si->line, "{\"run\":%lld,\"item\":%lld", s->run,
	    si->it.seq);
	for (e = v != NULL && v->type == J_OBJ ? v->child : NULL; e != NULL;
	    e = e->next) {
		if (strcmp(e->key, "run") == 0 || strcmp(e->key, "item") == 0)
			continue;
		buf_addc(&si->line, ',');
		json_str(&si->line, e->key, strlen(e->key));
		buf_addc(&si->line, ':');
		buf_add(&si->line, e->raw, e->rawlen);
	}
	buf_addc(&si->line, '}');
}

/* The item seqs[idx], and what it owns and depends on; -1 if not found. */
static int
sitem_load(struct stream *s, size_t idx, struct sitem *si)
{
	struct arena		 a = { 0 };
	const struct jval	*v, *f, *c;
	char			 err[128];

	memset(si, 0, sizeof(*si));
	si->idx = idx;
	if (store_item_get(s->st, s->run, s->seqs[idx], &si->it) != 0)
		return -1;
	v = json_parse(si->it.payload, strlen(si->it.payload), &a, err,
	    sizeof(err));
	sitem_line(s, si, v);
	switch (si->it.type) {
	case IT_TEAM_CREATE:
	case IT_TEAM_DELETE:
		si->h[0] = named('t', si->it.team);
		break;
	case IT_CREATE:
		f = json_get(v, "fields");
		si->h[1] = named('u', json_get_str(f, "manager_id"));
		if (s->sy->team_field != NULL)
			si->h[2] = named('t', json_get_str(f,
			    s->sy->team_field));
		si->h[0] = named('u', si->it.key);
		break;
	case IT_MANAGER:
		c = json_get(v, "changes");
		for (c = c ? c->child : NULL; c != NULL; c = c->next)
			if (json_get_str(c, "field") != NULL && strcmp(
			    json_get_str(c, "field"), "manager_id") == 0)
				si->h[1] = named('u', json_get_str(c, "new"));
		si->h[0] = named('u', si->it.key);
		break;
	case IT_TEAM_MEMBER:
		si->h[1] = named('t', si->it.team);
		/* FALLTHROUGH */
	default:
		si->h[0] = named('u', si->it.key);
		break;
	}
	arena_free(&a);
	return 0;
}

/*
 * Must the later item l wait for the earlier item e (in flight, or not
 * sent yet)? When a deletion comes after anything but a deletion, a team
 * deletion after anything but a team deletion, or the two share a name:
 * the user or team one owns and the other owns or names.
 */
static int
must_follow(const struct sitem *l, const struct sitem *e)
{
	size_t	 k;

	if (l->it.type == IT_DELETE && e->it.type != IT_DELETE)
		return 1;
	if (l->it.type == IT_TEAM_DELETE && e->it.type != IT_TEAM_DELETE)
		return 1;
	for (k = 0; k < 3; k++)
		if ((e->h[0] != 0 && l->h[k] == e->h[0]) ||
		    (l->h[0] != 0 && e->h[k] == l->h[0]))
			return 1;
	return 0;
}

/* May si go now: after nothing in flight, nor in the first nw items
 * that wait (those before it). */
static int
may_go(const struct stream *s, const struct sitem *si, size_t nw)
{
	size_t	 k;

	for (k = 0; k < s->nfl; k++)
		if (must_follow(si, &s->fl[k]))
			return 0;
	for (k = 0; k < nw; k++)
		if (must_follow(si, &s->wait[k]))
			return 0;
	return 1;
}

/* ------------------------------------------------------- the program */

static void
stream_start(struct stream *s)
{
	char	*env[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
	    "LANG=C.UTF-8", s->e_run, s->e_sync, "ROSTERSYNC_HOOK_MODE=stream",
	    s->e_win, NULL };

	snprintf(s->e_run, sizeof(s->e_run), "ROSTERSYNC_RUN=%lld", s->run);
	snprintf(s->e_sync, sizeof(s->e_sync), "ROSTERSYNC_SYNC=%s",
	    s->sy->name);
	snprintf(s->e_win, sizeof(s->e_win), "ROSTERSYNC_WINDOW=%d",
	    s->sy->hook.window);
	buf_reset(&s->wb);
	buf_reset(&s->rb);
	buf_reset(&s->eb);
	buf_add(&s->eb, "", 0);
	buf_add(&s->rb, "", 0);		/* never a NULL buffer */
	s->woff = 0;
	s->pid = hook_spawn(&s->sy->hook, env, s->fd);
	s->pidfd = pidfd_open(s->pid, 0);
	s->starts++;
	s->last = now_ms();
	log_info("the hook %s started in stream mode (start %d of %d)",
	    s->sy->hook.name, s->starts, HOOK_STARTS);
}

static void
close_fd(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

/*
 * Reap the program: it has grace_ms to exit on its own, then it and its
 * process group are killed. Its exit status, 128 + signal when killed.
 */
static int
stream_reap(struct stream *s, int grace_ms)
{
	siginfo_t	 si;
	int		 status = 0, i, gone = 0;

	if (s->pid == 0)
		return -1;
	for (i = 0; !gone && i <= grace_ms / 10; i++) {
		memset(&si, 0, sizeof(si));
		gone = waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOHANG |
		    WNOWAIT) == 0 && si.si_pid == s->pid;
		if (!gone && grace_ms > 0)
			usleep(10000);
	}
	if (!gone)
		kill(-s->pid, SIGKILL);
	for (i = 0; i < 3; i++)
		close_fd(&s->fd[i]);
	close_fd(&s->pidfd);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

/* The program is gone or killed: the items in flight are failed. */
static void
stream_lost(struct stream *s, int grace_ms, const char *why)
{
	char	 err[MAX_ERRMSG], line[200];
	int	 status = stream_reap(s, grace_ms);
	size_t	 i, nl = strcspn(s->eb.p, "\n");

	snprintf(line, sizeof(line), "%.*s", (int)(nl < 199 ? nl : 199),
	    s->eb.p);
	snprintf(err, sizeof(err), "%s%s%s; %zu item%s in flight: check, "
	    "then confirm or retry", why, line[0] ? ": " : "", line, s->nfl,
	    s->nfl == 1 ? " was" : "s were");
	if (s->nfl == 0) {
		log_warnx("the hook %s: %s%s%s; no item was in flight",
		    s->sy->hook.name, why, line[0] ? ": " : "", line);
		return;
	}
	log_warnx("the hook %s: %s", s->sy->hook.name, err);
	if (store_begin(s->st) == -1) {
		s->dberr = 1;
		return;
	}
	for (i = 0; i < s->nfl; i++) {
		const struct sitem *f = &s->fl[i];

		if (store_attempt_end(s->st, s->run, f->it.seq, status, NULL,
		    s->eb.p) == -1 || store_item_finish(s->st, s->run,
		    f->it.seq, IST_FAILED, err) == -1)
			s->dberr = 1;
		s->done[f->idx] = 0;
	}
	if (s->dberr || store_commit(s->st) == -1) {
		store_rollback(s->st);
		s->dberr = 1;
	}
	s->failed += (int)s->nfl;
	for (i = 0; i < s->nfl; i++)
		sitem_free(&s->fl[i]);
	s->nfl = 0;
}

/* ------------------------------------------------------------- sending */

/*
 * The next items that may go, up to the window, into fl (not recorded):
 * the items are loaded HOOK_LOOKAHEAD ahead, and one that must wait lets
 * those after it that need nothing of it (nor of anything in flight) go
 * first.
 */
static void
stream_pick(struct stream *s)
{
	struct sitem	 si;
	size_t		 i, w;

	while (s->next < s->n && s->nwait < HOOK_LOOKAHEAD) {
		if (sitem_load(s, s->next, &s->wait[s->nwait]) == -1)
			sitem_free(&s->wait[s->nwait]);	/* gone: not sent */
		else
			s->nwait++;
		s->next++;
	}
	for (i = 0, w = 0; i < s->nwait; i++) {
		si = s->wait[i];
		if (s->nfl < (size_t)s->sy->hook.window && may_go(s, &si, w))
			s->fl[s->nfl++] = si;
		else
			s->wait[w++] = si;
	}
	s->nwait = w;
}

/* ----------------------------------------------------------- answers */

static struct sitem *
in_flight(struct stream *s, long long seq)
{
	size_t	 i;

	for (i = 0; i < s->nfl; i++)
		if (s->fl[i].it.seq == seq)
			return &s->fl[i];
	return NULL;
}

/*
 * One line as an answer: 0 recorded (inside the caller's transaction), 1
 * not an answer (why says so), -1 a database error.
 */
static int
stream_answer(struct stream *s, const char *line, size_t len, char *why,
    size_t whylen)
{
	struct arena		 a = { 0 };
	const struct jval	*v, *ok, *resp;
	struct sitem		*f;
	const char		*error;
	char			 err[MAX_ERRMSG], *rtext = NULL;
	long long		 run, seq;
	int			 rc = 1, good;

	if ((v = json_parse(line, len, &a, why, whylen)) == NULL)
		goto out;
	ok = json_get(v, "ok");
	if (json_int(json_get(v, "run"), 1, INT64_MAX, &run) == -1 ||
	    json_int(json_get(v, "item"), 1, INT64_MAX, &seq) == -1 ||
	    ok == NULL || (ok->type != J_TRUE && ok->type != J_FALSE)) {
		snprintf(why, whylen, "\"run\", \"item\" and \"ok\" expected");
		goto out;
	}
	if (run != s->run || (f = in_flight(s, seq)) == NULL) {
		snprintf(why, whylen, "item %lld:%lld is not in flight", run,
		    seq);
		goto out;
	}
	good = ok->type == J_TRUE;
	if ((resp = json_get(v, "response")) != NULL)
		rtext = xstrndup(resp->raw, resp->rawlen);
	if ((error = json_get_str(v, "error")) == NULL)
		error = "(no error given)";
	snprintf(err, sizeof(err), "the hook answered: %s", error);
	rc = -1;
	if (store_attempt_end(s->st, s->run, seq, good ? 0 : 1, rtext,
	    good ? NULL : error) == -1 || (good && hook_dir_apply(s->st,
	    s->sy, &f->it, s->run) == -1) || store_item_finish(s->st, s->run,
	    seq, good ? IST_APPLIED : IST_FAILED, good ? NULL : err) == -1)
		goto out;
	rc = 0;
	s->done[f->idx] = good;
	progress_add(1);
	if (!good) {
		s->failed++;
		log_warnx("item %lld:%lld (%s %s): %s", s->run, seq,
		    itemtype_slug(f->it.type), f->it.key, err);
	}
	sitem_free(f);
	*f = s->fl[--s->nfl];
	memset(&s->fl[s->nfl], 0, sizeof(s->fl[s->nfl]));
out:
	free(rtext);
	arena_free(&a);
	return rc;
}

/* The whole answer lines read so far, inside the caller's transaction;
 * 1 when one is not an answer (why says so), with those before it done. */
static int
stream_answers(struct stream *s, int *answered, char *why, size_t whylen)
{
	size_t	 off = 0, n;
	char	*nl;
	int	 rc = 0;

	while (rc == 0 && (nl = memchr(s->rb.p + off, '\n',
	    s->rb.len - off)) != NULL) {
		n = (size_t)(nl - (s->rb.p + off));
		if (n > 0 && (rc = stream_answer(s, s->rb.p + off, n, why,
		    whylen)) == -1)
			s->dberr = 1;
		*answered += n > 0 && rc == 0;
		off += n + 1;
	}
	memmove(s->rb.p, s->rb.p + off, s->rb.len - off);
	s->rb.len -= off;
	return rc == 1;
}

/*
 * One transaction: the answers read so far, then, with send and once the
 * window is half empty, the attempts of the next items; their lines are
 * queued for the program only after the commit. Few commits, each of
 * many items.
 */
static void
stream_batch(struct stream *s, int send)
{
	char	 why[256], msg[400];
	size_t	 first, i;
	int	 bad, answered = 0;

	if (store_begin(s->st) == -1) {
		s->dberr = 1;
		return;
	}
	bad = stream_answers(s, &answered, why, sizeof(why));
	first = s->nfl;
	if (send && !bad && !s->dberr &&
	    s->nfl <= (size_t)s->sy->hook.window / 2)
		stream_pick(s);
	for (i = first; i < s->nfl && !s->dberr; i++)
		if (store_attempt_begin(s->st, s->run, s->fl[i].it.seq,
		    s->fl[i].line.p) == -1)
			s->dberr = 1;
	if (s->dberr || store_commit(s->st) == -1) {
		store_rollback(s->st);
		s->dberr = 1;
		return;
	}
	if (answered > 0)
		fault("stream.answered");
	if (s->nfl > first)
		fault("stream.recorded");
	if (answered > 0 || first == 0)
		s->last = now_ms();	/* the clock runs from then */
	for (i = first; i < s->nfl; i++) {
		buf_add(&s->wb, s->fl[i].line.p, s->fl[i].line.len);
		buf_addc(&s->wb, '\n');
	}
	if (bad) {
		snprintf(msg, sizeof(msg), "the hook wrote a line that is not "
		    "an answer (%s) and was stopped", why);
		stream_lost(s, 0, msg);
	} else if (s->rb.len > HOOK_LINE_MAX)
		stream_lost(s, 0, "the hook wrote a line longer than "
		    "1 MiB and was stopped");
}

static size_t
lines_in(const struct buf *b)
{
	const char	*p = b->p, *e = b->p + b->len;
	size_t		 n = 0;

	while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* ------------------------------------------------------------ the loop */

static void
keep_err(struct stream *s, const char *p, size_t n)
{
	if (s->eb.len < STREAM_ERR_MAX)
		buf_add(&s->eb, p, n < STREAM_ERR_MAX - s->eb.len ? n :
		    STREAM_ERR_MAX - s->eb.len);
}

/* The program exited: what its pipes hold, read without waiting for a
 * process it left holding them. Whether answer bytes came. */
static int
stream_gone(struct stream *s)
{
	struct buf	 err = { 0 };
	size_t		 had = s->rb.len;
	int		 held;

	held = hook_drain(&s->fd[2], &err);
	if (err.len > 0)
		keep_err(s, err.p, err.len);
	held |= hook_drain(&s->fd[1], &s->rb);
	buf_free(&err);
	if (held)
		hook_left_behind(&s->sy->hook, s->run);
	return s->rb.len > had;
}

/* One round of poll: write lines, read answers and stderr; once the
 * program has exited, what it left. Whether answer bytes came. */
static int
stream_pump(struct stream *s, int timeout_ms)
{
	struct pollfd	 pf[4];
	char		 chunk[65536];
	ssize_t		 n;
	int		 i, got = 0;

	for (i = 0; i < 4; i++) {
		pf[i].fd = i == 3 ? s->pidfd : i == 0 && s->woff == s->wb.len ?
		    -1 : s->fd[i];
		pf[i].events = i == 0 ? POLLOUT : POLLIN;
		pf[i].revents = 0;
	}
	if (s->pidfd == -1 && timeout_ms > HOOK_REAP_MS)
		timeout_ms = HOOK_REAP_MS;
	if (poll(pf, 4, timeout_ms) <= 0)
		return s->fd[1] != -1 && hook_exited(s->pid) && stream_gone(s);
	if (pf[0].revents & (POLLOUT | POLLERR | POLLHUP)) {
		n = write(s->fd[0], s->wb.p + s->woff, s->wb.len - s->woff);
		if (n > 0 && (s->woff += (size_t)n) == s->wb.len) {
			buf_reset(&s->wb);
			s->woff = 0;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR)
			close_fd(&s->fd[0]);	/* it closed its input */
	}
	if (pf[2].revents & (POLLIN | POLLHUP | POLLERR)) {
		if ((n = read(s->fd[2], chunk, sizeof(chunk))) > 0)
			keep_err(s, chunk, (size_t)n);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			close_fd(&s->fd[2]);
	}
	if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
		if ((n = read(s->fd[1], chunk, sizeof(chunk))) > 0) {
			buf_add(&s->rb, chunk, (size_t)n);
			got = 1;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			close_fd(&s->fd[1]);
	}
	if (s->fd[1] != -1 && hook_exited(s->pid))
		got |= stream_gone(s);
	return got;
}

/* Items not sent yet: waiting, or not loaded. */
static size_t
unsent(const struct stream *s)
{
	return s->n - s->next + s->nwait;
}

/* The program closed its output: it is done, or gone too early. */
static void
stream_closed(struct stream *s)
{
	int	 status;

	if (s->nfl > 0 || unsent(s) > 0) {
		stream_lost(s, 500, "the hook exited before it answered "
		    "every item");
		return;
	}
	if ((status = stream_reap(s, 500)) != 0)
		log_warnx("the hook %s exited with status %d", s->sy->hook.name,
		    status);
}

/* Every item sent and answered: close its input, let it exit. */
static void
stream_finish(struct stream *s)
{
	int64_t	 deadline = now_ms() + (int64_t)s->sy->hook.timeout * 1000;
	int	 status = 0;

	close_fd(&s->fd[0]);
	while (s->fd[1] != -1 && now_ms() < deadline)
		stream_pump(s, (int)(deadline - now_ms()));
	if (s->fd[1] != -1) {
		log_warnx("the hook %s did not exit after its input ended; "
		    "killed", s->sy->hook.name);
		stream_reap(s, 0);
	} else if ((status = stream_reap(s, 1000)) != 0)
		log_warnx("the hook %s exited with status %d", s->sy->hook.name,
		    status);
}

static void
stream_loop(struct stream *s)
{
	int64_t	 wait;
	size_t	 nl;
	int	 fresh = 0;
	char	 why[128];

	while (!s->dberr && (unsent(s) > 0 || s->nfl > 0)) {
		if (s->pid == 0) {
			if (s->starts == HOOK_STARTS)
				break;
			stream_start(s);
		}
		/* Answers are taken in batches: half the window's, or what
		 * came before a short quiet moment. */
		nl = lines_in(&s->rb);
		if (s->nfl == 0 || (nl > 0 && (!fresh || nl * 2 >= s->nfl)))
			stream_batch(s, 1);
		if (s->pid == 0 || s->dberr || (unsent(s) == 0 && s->nfl == 0))
			continue;
		wait = s->nfl > 0 ? s->last + (int64_t)s->sy->hook.timeout *
		    1000 - now_ms() : 1000;
		if (wait <= 0) {
			snprintf(why, sizeof(why), "the hook gave no answer for "
			    "%d s and was killed", s->sy->hook.timeout);
			stream_lost(s, 0, why);
			continue;
		}
		if (lines_in(&s->rb) > 0 && wait > STREAM_GATHER_MS)
			wait = STREAM_GATHER_MS;
		fresh = stream_pump(s, wait > 1000 ? 1000 : (int)wait);
		if (s->pid != 0 && s->fd[1] == -1) {
			stream_batch(s, 0);	/* the answers it gave */
			if (s->pid != 0)
				stream_closed(s);
		}
	}
	if (s->pid != 0 && s->dberr)
		stream_reap(s, 0);	/* its open attempts: hook_recover() */
	else if (s->pid != 0)
		stream_finish(s);
}

int
hook_stream(struct store *st, const struct sync *sy, long long run,
    const long long *seqs, size_t n, int *done)
{
	struct stream	 s;
	size_t		 i;

	memset(&s, 0, sizeof(s));
	s.st = st;
	s.sy = sy;
	s.run = run;
	s.seqs = seqs;
	s.n = n;
	s.done = done;
	s.fd[0] = s.fd[1] = s.fd[2] = s.pidfd = -1;
	for (i = 0; i < n; i++)
		done[i] = -1;
	s.fl = xcalloc((size_t)sy->hook.window, sizeof(*s.fl));
	s.wait = xcalloc(HOOK_LOOKAHEAD, sizeof(*s.wait));
	stream_loop(&s);
	if (unsent(&s) > 0 && !s.dberr)
		log_warnx("the hook %s was started %d times in this run; the "
		    "%zu items left wait for the next run", sy->hook.name,
		    HOOK_STARTS, unsent(&s));
	for (i = 0; i < s.nwait; i++)
		sitem_free(&s.wait[i]);
	for (i = 0; i < s.nfl; i++)
		sitem_free(&s.fl[i]);
	free(s.wait);
	free(s.fl);
	buf_free(&s.wb);
	buf_free(&s.rb);
	buf_free(&s.eb);
	return s.dberr ? -1 : s.failed;
}

/*
 * Apply a run's pending items through the hook, in order; then the teams
 * and the directory version follow. Returns the number that failed, or -1.
 */
int
hook_apply_run(struct store *st, const struct sync *sy, long long run)
{
	long long	*seqs;
	size_t		 n, i, sent = 0;
	int		 failed = 0, rc, *done;

	n = store_items_to_apply(st, run, 0, 0, &seqs);
	done = xcalloc(n + 1, sizeof(*done));
	progress_begin("applying items with the hook", (long long)n);
	if (sy->hook.mode == HOOK_STREAM)
		failed = hook_stream(st, sy, run, seqs, n, done);
	for (i = 0; sy->hook.mode == HOOK_EXEC && i < n; i++) {
		if ((rc = hook_apply_item(st, sy, run, seqs[i])) == -1) {
			failed = -1;
			break;
		}
		failed += rc;
		progress_add(1);
	}
	progress_end();
	for (i = 0; i < n; i++)
		sent += sy->hook.mode == HOOK_EXEC || done[i] >= 0;
	free(done);
	free(seqs);
	if (failed < 0)
		return -1;
	n = sent;
	if (store_team_recount(st, sy->name) == -1 ||
	    store_sync_bump(st, sy->name) == -1)
		return -1;
	if (n > 0)
		log_info("the hook applied %zu of %zu items", n - (size_t)failed,
		    n);
	return failed;
}
