/*
 * The apply hook: a program run with execve (never a shell) once per item,
 * with the item as JSON on its standard input, a clean minimal environment
 * and a timeout after which its process group is killed. Exit 0 means
 * applied, and the directory follows that one item; anything else means
 * failed, with the exit status and the (bounded) output kept. Every
 * attempt is recorded before the program starts, so an item whose hook was
 * cut short by a crash is marked failed ("check, then confirm or retry")
 * and is never run twice behind anyone's back.
 */
#include <sys/pidfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "known.h"

#define HOOK_OUT_MAX	(64 * 1024)	/* stdout or stderr kept per call */

struct hookio {
	int		 fd[3];		/* child's stdin, stdout, stderr */
	const char	*in;
	size_t		 inlen, inoff;
	struct buf	 out, err;
};

static void
keep(struct buf *b, const char *p, size_t n)
{
	if (b->len < HOOK_OUT_MAX)
		buf_add(b, p, n < HOOK_OUT_MAX - b->len ? n :
		    HOOK_OUT_MAX - b->len);
	else if (b->len == HOOK_OUT_MAX)
		buf_adds(b, "\n[output cut]");
}

/* One round of poll: feed stdin, drain stdout and stderr; it ends too
 * when pidfd (or -1) says the hook exited. */
static void
pump(struct hookio *io, int pidfd, int timeout_ms)
{
	struct pollfd	 pf[4];
	char		 chunk[8192];
	ssize_t		 n;
	int		 i;

	for (i = 0; i < 4; i++) {
		pf[i].fd = i < 3 ? io->fd[i] : pidfd;
		pf[i].events = i == 0 ? POLLOUT : POLLIN;
		pf[i].revents = 0;
	}
	if (poll(pf, 4, timeout_ms) <= 0)
		return;
	if (pf[0].revents & (POLLOUT | POLLERR | POLLHUP)) {
		n = write(io->fd[0], io->in + io->inoff, io->inlen - io->inoff);
		if (n > 0)
			io->inoff += (size_t)n;
		if (n < 0 || io->inoff == io->inlen) {
			close(io->fd[0]);
			io->fd[0] = -1;
		}
	}
	for (i = 1; i < 3; i++) {
		if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(io->fd[i], chunk, sizeof(chunk));
		if (n > 0)
			keep(i == 1 ? &io->out : &io->err, chunk, (size_t)n);
		else {
			close(io->fd[i]);
			io->fd[i] = -1;
		}
	}
}

static void
child(const struct hook *h, int p[3][2], char *const env[])
{
	setpgid(0, 0);
	dup2(p[0][0], 0);
	dup2(p[1][1], 1);
	dup2(p[2][1], 2);
	/* Nothing the caller left open reaches the hook: not the pipes'
	 * other ends, not the database, not a descriptor inherited from
	 * whoever started rostersync (O_CLOEXEC covers only our own). */
	closefrom(3);
	execve(h->argv[0], h->argv, env);
	dprintf(2, "cannot run %s: %s\n", h->argv[0], strerror(errno));
	_exit(127);
}

pid_t
hook_spawn(const struct hook *h, char *const env[], int fd[3])
{
	int		 p[3][2], i;
	pid_t		 pid;

	for (i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) == -1)
			fatal("pipe2");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0)
		child(h, p, env);
	setpgid(pid, pid);	/* before any kill(-pid), whoever runs first */
	fd[0] = p[0][1];
	fd[1] = p[1][0];
	fd[2] = p[2][0];
	close(p[0][0]);
	close(p[1][1]);
	close(p[2][1]);
	fcntl(fd[0], F_SETFL, O_NONBLOCK);
	return pid;
}

/* Has the hook's process exited? Not reaped: waitpid() still tells. */
int
hook_exited(pid_t pid)
{
	siginfo_t	 si;

	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
	    0 && si.si_pid == pid;
}

int
hook_drain(int *fd, struct buf *got)
{
	char	 chunk[8192];
	ssize_t	 n = 0;
	size_t	 total = 0;

	if (*fd == -1)
		return 0;
	fcntl(*fd, F_SETFL, O_NONBLOCK);
	while (total < HOOK_DRAIN_MAX &&
	    (n = read(*fd, chunk, sizeof(chunk))) > 0) {
		buf_add(got, chunk, (size_t)n);
		total += (size_t)n;
	}
	close(*fd);
	*fd = -1;
	return n > 0 || (n == -1 && errno == EAGAIN);
}

void
hook_left_behind(const struct hook *h, long long run)
{
	static long long	 said;	/* the run it was said in */

	if (said == run)
		return;
	said = run;
	log_warnx("the hook %s exited but left a process holding its output "
	    "open (a background job it started?); its exit status was taken "
	    "without waiting for that process. Redirect that process's output "
	    "in the hook (>/dev/null 2>&1); said once a run", h->name);
}

/* The hook exited: what its pipes hold, and whether it left a process
 * holding them (1). */
static int
hook_gone(struct hookio *io)
{
	struct buf	 got = { 0 };
	int		 held, i;

	if (io->fd[0] != -1)
		close(io->fd[0]);
	io->fd[0] = -1;
	for (i = 1, held = 0; i < 3; i++) {
		held |= hook_drain(&io->fd[i], &got);
		if (got.len > 0)
			keep(i == 1 ? &io->out : &io->err, got.p, got.len);
		buf_reset(&got);
	}
	buf_free(&got);
	return held;
}

/*
 * Run the hook once. Returns its exit status (128 + signal when killed),
 * or -1 when it could not be started; *timed_out tells a timeout. Once it
 * has exited nothing waits for a process it left holding its pipes.
 */
static int
hook_exec(const struct hook *h, long long run, const char *payload,
    char *const env[], struct hookio *io, int *timed_out)
{
	int		 i, status = 0, pidfd, wait_ms;
	pid_t		 pid;
	int64_t		 deadline = now_ms() + (int64_t)h->timeout * 1000;

	*timed_out = 0;
	pid = hook_spawn(h, env, io->fd);
	pidfd = pidfd_open(pid, 0);	/* readable once it exits */
	io->in = payload;
	io->inlen = strlen(payload);
	while (!hook_exited(pid) && (wait_ms = (int)(deadline - now_ms())) > 0)
		pump(io, pidfd, pidfd == -1 && wait_ms > HOOK_REAP_MS ?
		    HOOK_REAP_MS : wait_ms);
	if (hook_exited(pid)) {
		if (hook_gone(io))
			hook_left_behind(h, run);
		waitpid(pid, &status, 0);
	} else {
		*timed_out = 1;
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (pidfd != -1)
		close(pidfd);
	for (i = 0; i < 3; i++)
		if (io->fd[i] != -1)
			close(io->fd[i]);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

/* --------------------------------------- the directory, item by item */

struct patch {
	struct buf	 json;
	const char	*field[MAX_SLOTS];
	const char	*val[MAX_SLOTS];
	size_t		 n;
	int		 used[MAX_SLOTS];
	const char	*email, *first, *last, *display, *manager, *team;
	const char	*team_field;
	struct arena	 a;
};

static void
patch_val(struct patch *p, const char *k, const char *v)
{
	char	*copy = arena_strndup(&p->a, v, strlen(v));

	if (strcmp(k, "email") == 0)
		p->email = copy;
	else if (strcmp(k, "first_name") == 0)
		p->first = copy;
	else if (strcmp(k, "last_name") == 0)
		p->last = copy;
	else if (strcmp(k, "display_name") == 0)
		p->display = copy;
	else if (strcmp(k, "manager_id") == 0)
		p->manager = copy;
	if (p->team_field != NULL && strcmp(k, p->team_field) == 0)
		p->team = copy;
}

/* One stored field, replaced by the item's new value when it has one. */
static void
on_stored(void *arg, const char *k, const char *v, size_t n)
{
	struct patch	*p = arg;
	size_t		 i;

	(void)n;
	for (i = 0; i < p->n; i++)
		if (strcmp(p->field[i], k) == 0) {
			v = p->val[i];
			p->used[i] = 1;
		}
	if (p->json.len > 1)
		buf_addc(&p->json, ',');
	json_str(&p->json, k, strlen(k));
	buf_addc(&p->json, ':');
	json_str(&p->json, v, strlen(v));
	patch_val(p, k, v);
}

static void
on_change(void *arg, const char *field, const char *new)
{
	struct patch	*p = arg;

	if (p->n < MAX_SLOTS) {
		p->field[p->n] = arena_strndup(&p->a, field, strlen(field));
		p->val[p->n++] = arena_strndup(&p->a, new, strlen(new));
	}
}

static int
put_user(struct store *st, const struct sync *sy, const char *key,
    struct patch *p, long long run)
{
	struct dirrow	 d;
	struct buf	 name = { 0 };
	int		 rc;

	if (p->display && p->display[0])
		buf_adds(&name, p->display);
	else
		buf_printf(&name, "%s%s%s", p->first ? p->first : "",
		    p->first && p->last && p->first[0] && p->last[0] ? " " : "",
		    p->last ? p->last : "");
	memset(&d, 0, sizeof(d));
	d.sync = sy->name;
	d.key = key;
	d.email = p->email ? p->email : "";
	d.name = name.p ? name.p : "";
	d.manager = p->manager ? p->manager : "";
	d.team = p->team ? p->team : "";
	d.hash = fields_hash(p->json.p);
	d.fields = p->json.p;
	d.fieldslen = p->json.len;
	d.run = run;
	rc = store_dir_put(st, &d);
	buf_free(&name);
	return rc;
}

/*
 * Make the directory follow one applied item: a create writes the record
 * the item carries; an update or manager change patches the stored record
 * with the item's changes; a delete deactivates or removes.
 */
int
hook_dir_apply(struct store *st, const struct sync *sy,
    const struct itemfull *it, long long run)
{
	struct patch	 p;
	char		*base = NULL;
	int		 rc = 0;
	size_t		 i;

	if (it->type == IT_DELETE)
		return store_dir_remove(st, sy->name, it->key,
		    sy->delete_mode == DEL_DEACTIVATE, run);
	if (it->type != IT_CREATE && it->type != IT_UPDATE &&
	    it->type != IT_MANAGER)
		return 0;
	memset(&p, 0, sizeof(p));
	p.team_field = sy->team_field;
	if (it->type == IT_CREATE)
		base = store_item_fields(st, it->run, it->seq);
	else {
		base = store_dir_fields(st, sy->name, it->key);
		store_item_changes(st, it->run, it->seq, on_change, &p);
	}
	buf_addc(&p.json, '{');
	if (base == NULL || json_flat_each(base, on_stored, &p) == -1) {
		log_warnx("item %lld:%lld: no record to apply", it->run, it->seq);
		rc = -1;
	}
	for (i = 0; rc == 0 && i < p.n; i++)
		if (!p.used[i])		/* a field the stored record lacks */
			on_stored(&p, p.field[i], p.val[i], 0);
	buf_addc(&p.json, '}');
	if (rc == 0)
		rc = put_user(st, sy, it->key, &p, run);
	free(base);
	buf_free(&p.json);
	arena_free(&p.a);
	return rc;
}

/* ------------------------------------------------------------ applying */

static void
first_line(const char *s, char *out, size_t outlen)
{
	size_t	 n = strcspn(s, "\n");

	snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), s);
}

/* Apply one stored item through the hook: 0 applied, 1 failed, -1 error. */
int
hook_apply_item(struct store *st, const struct sync *sy, long long run,
    long long seq)
{
	struct itemfull	 it;
	struct hookio	 io;
	char		 rs[24], is[24], err[MAX_ERRMSG], line[300];
	char		 e_run[64], e_item[96], e_sync[96];
	char		*env[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
	    "LANG=C.UTF-8", e_run, e_item, e_sync, NULL };
	int		 status, timed_out, ok;

	if (store_item_get(st, run, seq, &it) != 0)
		return -1;
	snprintf(rs, sizeof(rs), "%lld", run);
	snprintf(is, sizeof(is), "%lld", seq);
	snprintf(e_run, sizeof(e_run), "ROSTERSYNC_RUN=%s", rs);
	snprintf(e_item, sizeof(e_item), "ROSTERSYNC_ITEM=%s:%s", rs, is);
	snprintf(e_sync, sizeof(e_sync), "ROSTERSYNC_SYNC=%s", sy->name);
	if (store_attempt_begin(st, run, seq, it.payload) == -1) {
		itemfull_free(&it);
		return -1;
	}
	memset(&io, 0, sizeof(io));
	buf_add(&io.out, "", 0);
	buf_add(&io.err, "", 0);
	fault("hook.before");
	status = hook_exec(&sy->hook, run, it.payload, env, &io, &timed_out);
	ok = status == 0 && !timed_out;
	fault("hook.after");
	first_line(io.err.p, line, sizeof(line));
	if (timed_out)
		snprintf(err, sizeof(err), "the hook timed out after %d s and "
		    "was killed", sy->hook.timeout);
	else if (!ok)
		snprintf(err, sizeof(err), "the hook exited with status %d%s%s",
		    status, line[0] ? ": " : "", line);
	if (store_begin(st) == -1)
		goto fail;
	if (store_attempt_end(st, run, seq, status, io.out.p, ok ? NULL :
	    io.err.p) == -1 || (ok && hook_dir_apply(st, sy, &it, run) == -1)
	    || store_item_finish(st, run, seq, ok ? IST_APPLIED : IST_FAILED,
	    ok ? NULL : err) == -1 || store_commit(st) == -1) {
		store_rollback(st);
		goto fail;
	}
	if (!ok)
		log_warnx("item %lld:%lld (%s %s): %s", run, seq,
		    itemtype_slug(it.type), it.key, err);
	itemfull_free(&it);
	buf_free(&io.out);
	buf_free(&io.err);
	return ok ? 0 : 1;
fail:
	itemfull_free(&it);
	buf_free(&io.out);
	buf_free(&io.err);
	return -1;
}


/* Items a crash left inside the hook: failed, for a person to check. */
void
hook_recover(struct store *st)
{
	long long	*p;
	size_t		 n, i;

	n = store_attempts_open(st, &p);
	for (i = 0; i < n; i++) {
		log_warnx("item %lld:%lld: the process died while its hook ran;"
		    " it may or may not be applied: check, then rostersync "
		    "confirm %lld:%lld or rostersync retry %lld:%lld", p[2 * i],
		    p[2 * i + 1], p[2 * i], p[2 * i + 1], p[2 * i],
		    p[2 * i + 1]);
		store_item_finish(st, p[2 * i], p[2 * i + 1], IST_FAILED,
		    "interrupted while the hook ran: check, then confirm or "
		    "retry");
	}
	free(p);
}
