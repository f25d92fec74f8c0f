/*
 * OCI hooks that run inside the container (createContainer, startContainer):
 * fork, exec the hook with the container state on stdin and its output
 * captured, wait at most the hook's timeout, SIGKILL it after that.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "berth.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* How much of the hook's output (the end of it) an error message quotes. */
#define OUT_KEEP 400

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last OUT_KEEP bytes written to it. */
struct tail {
	char buf[OUT_KEEP];
	size_t len;
};

static void tail_add(struct tail *t, const char *p, size_t n)
{
	if (n >= OUT_KEEP) {
		memcpy(t->buf, p + n - OUT_KEEP, OUT_KEEP);
		t->len = OUT_KEEP;
		return;
	}
	if (t->len + n > OUT_KEEP) {
		size_t drop = t->len + n - OUT_KEEP;
		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

/* Read what is there now; -1 at EOF or on error, 0 otherwise. */
static int drain(int fd, struct tail *t)
{
	char buf[4096];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r > 0) {
			tail_add(t, buf, r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 && errno == EAGAIN ? 0 : -1;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the forked child: stdin from in, stdout and stderr to out, then exec. Never returns. */
static void exec_hook(const struct hook *h, int in, int out, const sigset_t *mask)
{
	char *def_argv[] = { (char *)h->path, NULL };
	char *const *argv = h->argv && h->argv[0] ? h->argv : def_argv;
	/* move both above stdio first, so the dup2s below cannot clobber each other */
	int i = fcntl(in, F_DUPFD_CLOEXEC, 3), o = fcntl(out, F_DUPFD_CLOEXEC, 3);
	if (i < 0 || o < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0)
		_exit(126);
	/* preserved fds are not close-on-exec yet: the hook gets none of them */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	sigprocmask(SIG_SETMASK, mask, NULL);
	execve(h->path, argv, h->env);
	dprintf(2, "exec %s: %s", h->path, strerror(errno));
	_exit(127);
}

int run_hook(const struct hook *h, struct err *e)
{
	int in[2], out[2], pidfd = -1, status = 0, timed_out = 0, wait_errno = 0;
	size_t sent = 0;
	struct tail t = { .len = 0 };
	sigset_t pipe_set, old;

	if (pipe2(in, O_CLOEXEC) < 0)
		return fail(e, errno, "hook %s \"%s\": pipe", h->name, h->path);
	if (pipe2(out, O_CLOEXEC) < 0) {
		int err = errno;
		close(in[0]);
		close(in[1]);
		return fail(e, err, "hook %s \"%s\": pipe", h->name, h->path);
	}
	/* a hook that exits without reading its stdin must not kill us with SIGPIPE */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);

	pid_t pid = fork();
	if (pid == 0)
		exec_hook(h, in[0], out[1], &old);
	int fork_errno = errno;
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return fail(e, fork_errno, "hook %s \"%s\": fork", h->name, h->path);
	}
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (h->state_len == 0)
		close_fd(&in[1]);

	int64_t deadline = h->timeout ? now_ms() + (int64_t)h->timeout * 1000 : -1;
	for (;;) {
		/* exited? (without a pidfd, look every 10 ms) */
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			wait_errno = errno;
			break;
		}
		int wait_ms = pidfd >= 0 ? -1 : 10;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				kill(pid, SIGKILL);
				while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
					;
				timed_out = 1;
				break;
			}
			if (wait_ms < 0 || left < wait_ms)
				wait_ms = left > 0x7fffffff ? 0x7fffffff : (int)left;
		}
		struct pollfd p[3] = { { pidfd, POLLIN, 0 }, { out[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };
		if (poll(p, 3, wait_ms) < 0 && errno != EINTR)
			break;
		if (out[0] >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && drain(out[0], &t) < 0)
			close_fd(&out[0]);
		if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t r = write(in[1], h->state + sent, h->state_len - sent);
			if (r > 0)
				sent += r;
			if ((r < 0 && errno != EAGAIN && errno != EINTR) || sent == h->state_len)
				close_fd(&in[1]);
		}
	}
	/* the output written before it exited (not what a child it left behind writes later) */
	if (out[0] >= 0)
		drain(out[0], &t);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&pidfd);
	/* discard a SIGPIPE from writing to a hook that had exited, then unblock */
	struct timespec zero = { 0, 0 };
	sigset_t pending;
	sigpending(&pending);
	if (sigismember(&pending, SIGPIPE))
		sigtimedwait(&pipe_set, NULL, &zero);
	sigprocmask(SIG_SETMASK, &old, NULL);

	while (t.len > 0 && (t.buf[t.len - 1] == '\n' || t.buf[t.len - 1] == ' '))
		t.len--;
	const char *sep = t.len ? ": " : "";
	int n = (int)t.len;
	if (wait_errno)
		return fail(e, wait_errno, "hook %s \"%s\": wait", h->name, h->path);
	if (timed_out)
		return fail_msg(e, ETIMEDOUT, "hook %s \"%s\": timed out after %u s (killed)%s%.*s", h->name, h->path,
				h->timeout, sep, n, t.buf);
	if (WIFSIGNALED(status))
		return fail_msg(e, 0, "hook %s \"%s\": killed by signal %d%s%.*s", h->name, h->path, WTERMSIG(status),
				sep, n, t.buf);
	if (WEXITSTATUS(status) != 0)
		return fail_msg(e, 0, "hook %s \"%s\": exited with status %d%s%.*s", h->name, h->path,
				WEXITSTATUS(status), sep, n, t.buf);
	return 0;
}
