/*
 * The MONITOR step (see opcodes.ts): starts the engine's per-container monitor.
 * berthd may be killed and restarted while containers keep running; the
 * monitor holds what must outlive it: the container's stdio, its log, its exit
 * status. Processes, from the runtime's spawn of berth-init:
 *
 *   berth-init (top) ─fork─► monitor M ───────fork──────► worker W ──CLONE──► container init C
 *   exits 0 at once          new session, subreaper,      runs the rest of     (reparented to M
 *                            writes monitor.pid,          the plan, hands      when W exits)
 *                            execs berth-monitor          C's pid to M, exits
 *
 * M is never the runtime's child (nothing ties it to berthd), stays in the
 * host's namespaces (W does the SETNS/UNSHARE steps) and reaps C and any
 * orphan below it itself (PR_SET_CHILD_SUBREAPER; pid 1 may not reap). It
 * runs native/monitor/berth-monitor, a small program without libc (the loop,
 * the log format and the attach protocol are described there).
 *
 * Everything that can fail is done here, before the fork, so its error
 * reaches the runtime as MSG_ERROR. Files in the monitor directory:
 *   monitor.pid   M's pid; M holds an flock on it while it runs (alive = locked)
 *   attach.sock   the attach socket, mode 0600
 *   exit.json     written atomically once C has exited: {"pid","exitCode","signal","exitedAt"}
 * and the log at its own path (rotated next to it).
 *
 * Terminals (MON_TERMINAL): no stdio pipes; a socketpair instead, one end for
 * M, the other W's console socket (as CONSOLE would set it). The container's
 * PTY step, inside its own devpts, sends the pty master there; berth-monitor
 * receives it and reads and writes the master in place of the pipes, and
 * applies RESIZE with TIOCSWINSZ. Until the PTY step, the container's stdio is
 * /dev/null.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "berth.h"
#include "monitor/fds.h"

#define MON_OPEN_STDIN 1u
#define MON_TERMINAL 2u
#define MON_STDIN_ONCE 4u

static int worker_pipe = -1; /* in W: C's pid goes there */

/* CLONE's parent in W: hand C's pid to the monitor. */
void monitor_cloned(pid_t pid)
{
	if (worker_pipe >= 0 && write(worker_pipe, &pid, sizeof pid) != sizeof pid)
		_exit(1);
}

static int open_log(const char *path, int *dirfd, int *fd, const char **name, struct err *e)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash || !slash[1] || strlen(slash + 1) > NAME_MAX || (size_t)(slash - path) >= sizeof dir)
		return fail_msg(e, EINVAL, "monitor log \"%s\": not an absolute file path", path);
	memcpy(dir, path, slash - path);
	dir[slash == path ? 1 : slash - path] = '\0';
	*name = slash + 1;
	if ((*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return fail(e, errno, "monitor log directory \"%s\"", dir);
	if ((*fd = openat(*dirfd, *name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640)) < 0)
		return fail(e, errno, "monitor log \"%s\"", path);
	return 0;
}

static int listen_attach(int dirfd, const char *dir, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* through the directory fd, so a long dir still fits in sun_path */
	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/attach.sock", dirfd);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(e, errno, "monitor socket");
	mode_t old = umask(0177); /* 0600: connecting needs write permission */
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || listen(fd, 16) < 0) {
		fail(e, errno, "monitor socket \"%s/attach.sock\"", dir);
		close(fd);
		return -1;
	}
	return fd;
}

static int nonblock(int fd)
{
	return fd < 0 ? 0 : fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/*
 * In M, when the monitor cannot start after all: no container without its
 * monitor. W, and C until its SETSID step, are in M's process group.
 */
static void __attribute__((noreturn)) abandon(void)
{
	kill(0, SIGKILL);
	_exit(127);
}

/*
 * In M: put fds[i] at MFD_DIR + i (open across exec; a -1 leaves the slot
 * closed), close everything else above stderr, exec berth-monitor.
 */
static void __attribute__((noreturn)) exec_monitor(int exe, const int fds[MFD_COUNT], char **argv)
{
	int high[MFD_COUNT];
	for (int i = 0; i < MFD_COUNT; i++) /* first out of the way of the slots */
		if ((high[i] = fds[i] < 0 ? -1 : fcntl(fds[i], F_DUPFD_CLOEXEC, 64)) < 0 && fds[i] >= 0)
			abandon();
	int hexe = fcntl(exe, F_DUPFD_CLOEXEC, 64 + MFD_COUNT);
	if (hexe < 0 || syscall(SYS_close_range, 3, 63, 0) < 0)
		abandon();
	for (int i = 0; i < MFD_COUNT; i++)
		if (high[i] >= 0 && dup2(high[i], MFD_DIR + i) < 0)
			abandon();
	if (syscall(SYS_close_range, MFD_DIR + MFD_COUNT, hexe - 1, 0) < 0 || syscall(SYS_close_range, hexe + 1, ~0U, 0) < 0)
		abandon();
	char *env[] = { NULL };
	syscall(SYS_execveat, hexe, "", argv, env, AT_EMPTY_PATH);
	abandon();
}

/* MONITOR(exe, dir, log, maxSize, maxFiles, flags). Returns 0 in W; M and the top never return. */
int monitor_step(const struct ins *in, int syncfd, int *consfd, struct err *e)
{
	const char *exe_path = in->s[0], *dir = in->s[1], *log = in->s[2], *logname = "";
	uint32_t max_files = in->n[1], flags = in->n[2];
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, inp[2] = { -1, -1 }, cons[2] = { -1, -1 }, pp[2], logdir = -1, logfd = -1;
	int tty = (flags & MON_TERMINAL) != 0;
	(void)syncfd; /* M closes it with everything else: the runtime's EOF comes from C */
	if (flags & ~(MON_OPEN_STDIN | MON_TERMINAL | MON_STDIN_ONCE) || max_files < 1)
		return fail_msg(e, EINVAL, "monitor: bad flags 0x%x or max files %u", flags, max_files);
	/* X_OK also fails on a noexec mount: the exec after the fork must not */
	int exe = access(exe_path, X_OK) < 0 ? -1 : open(exe_path, O_PATH | O_CLOEXEC);
	if (exe < 0)
		return fail(e, errno, "monitor program \"%s\"", exe_path);
	int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return fail(e, errno, "monitor directory \"%s\"", dir);
	int lockfd = openat(dirfd, "monitor.pid", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lockfd < 0)
		return fail(e, errno, "monitor \"%s/monitor.pid\"", dir);
	if (flock(lockfd, LOCK_EX | LOCK_NB) < 0)
		return fail(e, errno == EWOULDBLOCK ? EBUSY : errno, "monitor \"%s\": another monitor holds it", dir);
	unlinkat(dirfd, "exit.json", 0);
	unlinkat(dirfd, "attach.sock", 0);
	if (*log && open_log(log, &logdir, &logfd, &logname, e) < 0)
		return -1;
	int lsock = listen_attach(dirfd, dir, e);
	if (lsock < 0)
		return -1;
	if (pipe2(pp, O_CLOEXEC) < 0 ||
	    (!tty && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || ((flags & MON_OPEN_STDIN) && pipe2(inp, O_CLOEXEC) < 0))))
		return fail(e, errno, "monitor: pipes");
	if (tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cons) < 0)
		return fail(e, errno, "monitor: console socket");
	if (nonblock(out[0]) < 0 || nonblock(err[0]) < 0 || nonblock(inp[1]) < 0)
		return fail(e, errno, "monitor: pipes");

	pid_t mon = fork();
	if (mon < 0)
		return fail(e, errno, "monitor: fork");
	if (mon > 0)
		_exit(0); /* the top: the runtime reaps it; M is reparented at once */

	/* M */
	char pid[16];
	int n = snprintf(pid, sizeof pid, "%d\n", getpid());
	setsid();
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (ftruncate(lockfd, 0) < 0 || pwrite(lockfd, pid, n, 0) != n)
		return fail(e, errno, "monitor \"%s/monitor.pid\"", dir);
	/* blocked from before W exists, so no exit goes unnoticed (berth-monitor reads them from a signalfd) */
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	pid_t w = fork();
	if (w < 0)
		return fail(e, errno, "monitor: fork the worker");
	if (w == 0) {
		/* W: the container's stdio, nothing of M's */
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* with a terminal, /dev/null until the PTY step makes the slave the stdio */
		int null = inp[0] < 0 ? open("/dev/null", (tty ? O_RDWR : O_RDONLY) | O_CLOEXEC) : inp[0];
		if (null < 0 || dup2(null, 0) < 0 || dup2(tty ? null : out[1], 1) < 0 || dup2(tty ? null : err[1], 2) < 0)
			return fail(e, errno, "monitor: container stdio");
		int mine[] = { exe, dirfd, lockfd, logdir, logfd, lsock, out[0], out[1], err[0], err[1], inp[1], pp[0], null, cons[0] };
		for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
			if (mine[i] > 2)
				close(mine[i]);
		worker_pipe = pp[1];
		if (tty) {
			if (*consfd >= 0)
				close(*consfd);
			*consfd = cons[1];
		}
		return 0;
	}
	/* M: no signal from a terminal or a process group; these stay ignored across exec */
	prctl(PR_SET_NAME, "berth-monitor", 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (chdir("/") < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		abandon();
	const int fds[MFD_COUNT] = {
		[MFD_DIR - MFD_DIR] = dirfd, [MFD_LOCK - MFD_DIR] = lockfd, [MFD_LISTEN - MFD_DIR] = lsock,
		[MFD_OUT - MFD_DIR] = out[0], [MFD_ERR - MFD_DIR] = err[0], [MFD_IN - MFD_DIR] = inp[1],
		[MFD_PID - MFD_DIR] = pp[0], [MFD_LOGDIR - MFD_DIR] = logdir, [MFD_LOG - MFD_DIR] = logfd,
		[MFD_CONSOLE - MFD_DIR] = cons[0],
	};
	char wpid[16], max_size[24], files[16], opts[16];
	snprintf(wpid, sizeof wpid, "%d", w);
	snprintf(max_size, sizeof max_size, "%llu", (unsigned long long)in->n[0]);
	snprintf(files, sizeof files, "%u", max_files);
	snprintf(opts, sizeof opts, "%u", flags);
	char *argv[] = { "berth-monitor", wpid, max_size, files, (char *)logname, opts, NULL };
	exec_monitor(exe, fds, argv);
}
