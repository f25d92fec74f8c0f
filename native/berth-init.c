/*
 * berth-init: executes an InitPlan (see src/runtime/plan/opcodes.ts, which also
 * draws the sync protocol). Usage: berth-init <syncfd>.
 *
 * The runtime sends the plan as one MSG_PLAN frame on syncfd. berth-init parses
 * and validates all of it, then runs the instructions in order. It decides
 * nothing: every path, flag and number comes from the plan. A failing step
 * sends MSG_ERROR (index, opcode, errno, message) and exits 1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "berth.h"
#include "opcodes.h"

#define PLAN_MAX (16u << 20)
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static int syncfd = -1;
static int rootfd = -1;            /* where ROOT_* paths resolve; -1 means "/" (opened on use) */
static int fifofd = -1;            /* exec fifo, from FIFO_OPEN */
static int statusfd = -1;          /* start-status fifo, from START_STATUS */
static uint8_t *hook_state;        /* container state for HOOK, from the last ACK with a payload */
static uint32_t hook_state_len;
static int consfd = -1;            /* console socket, from CONSOLE; closed by PTY */
static char exec_path[PATH_MAX];   /* from EXEC_PREPARE; "" means argv[0] */

/* ---- errors ---- */

static int vfail(struct err *e, int errnum, int with_strerror, const char *fmt, va_list ap)
{
	int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	if (n < 0)
		n = 0;
	if (with_strerror && (size_t)n < sizeof e->msg)
		snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(errnum));
	e->errnum = errnum;
	return -1;
}

int fail(struct err *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(e, errnum, 1, fmt, ap);
	va_end(ap);
	return -1;
}

int fail_msg(struct err *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(e, errnum, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int wrap(struct err *e, const char *fmt, ...)
{
	char old[sizeof e->msg];
	memcpy(old, e->msg, sizeof old);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	/* append ": old", truncated to fit (by hand: snprintf here trips -Wformat-truncation) */
	size_t used = strlen(e->msg);
	if (used + 3 <= sizeof e->msg) {
		memcpy(e->msg + used, ": ", 2);
		used += 2;
		size_t k = strnlen(old, sizeof e->msg - used - 1);
		memcpy(e->msg + used, old, k);
		e->msg[used + k] = '\0';
	}
	return -1;
}

/* ---- frames on the sync socket: u32 type, u32 length, payload (little endian) ---- */

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* Read exactly n bytes; -1 on error or EOF (errno EPIPE). */
static int read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			return -1;
		}
		p += r;
		n -= r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n > 0) {
		/* MSG_NOSIGNAL: a runtime that went away must not kill us with SIGPIPE. */
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
		if (r < 0 && errno == ENOTSOCK)
			r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

/* One write per frame, so frames from the two processes after CLONE never interleave. */
static int send_msg(uint32_t type, const void *payload, uint32_t len)
{
	uint8_t buf[8 + 2048];
	if (len > sizeof buf - 8) {
		errno = EMSGSIZE;
		return -1;
	}
	put32(buf, type);
	put32(buf + 4, len);
	if (len)
		memcpy(buf + 8, payload, len);
	return write_full(syncfd, buf, 8 + len);
}

static void send_u32(uint32_t type, uint32_t v)
{
	uint8_t p[4];
	put32(p, v);
	send_msg(type, p, 4);
}

/*
 * MSG_ERROR: u32 index, u32 opcode, i32 errno, str message. Best effort. The
 * same frame goes to the start-status fifo, where `start` reads it once the
 * sync socket is gone.
 */
static void send_error(uint32_t index, uint32_t op, const struct err *e)
{
	uint8_t p[8 + 16 + sizeof e->msg];
	uint32_t n = strlen(e->msg);
	put32(p, MSG_ERROR);
	put32(p + 4, 16 + n + 1);
	put32(p + 8, index);
	put32(p + 12, op);
	put32(p + 16, (uint32_t)e->errnum);
	put32(p + 20, n + 1);
	memcpy(p + 24, e->msg, n + 1);
	send_msg(MSG_ERROR, p + 8, 16 + n + 1);
	if (statusfd >= 0) /* one write: a frame under PIPE_BUF arrives whole */
		while (write(statusfd, p, 8 + 16 + n + 1) < 0 && errno == EINTR)
			;
}

/* ---- plan parsing ---- */

/* Field kinds per opcode, generated from OPS in opcodes.ts; NULL = unknown opcode. */
static const char *const op_fields[] = OP_FIELDS;
#define NOPS (sizeof op_fields / sizeof op_fields[0])

struct cursor {
	uint8_t *p, *end;
};

static uint8_t *take(struct cursor *c, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return NULL;
	uint8_t *p = c->p;
	c->p += n;
	return p;
}

/* A str field: u32 length (counting the NUL), bytes, NUL; no NUL inside. */
static char *take_str(struct cursor *c)
{
	uint8_t *l = take(c, 4), *p;
	if (!l || get32(l) == 0 || !(p = take(c, get32(l))))
		return NULL;
	uint32_t n = get32(l);
	if (p[n - 1] != '\0' || memchr(p, '\0', n - 1))
		return NULL;
	return (char *)p;
}

static int parse_record(struct cursor *c, struct ins *in)
{
	const char *kinds = op_fields[in->op];
	int ni = 0, si = 0, vi = 0;
	for (; *kinds; kinds++) {
		uint8_t *p;
		switch (*kinds) {
		case 'u':
			if (!(p = take(c, 4)))
				return -1;
			in->n[ni++] = get32(p);
			break;
		case 'U':
			if (!(p = take(c, 8)))
				return -1;
			in->n[ni++] = get64(p);
			break;
		case 's':
			if (!(in->s[si++] = take_str(c)))
				return -1;
			break;
		case 'b':
			if (!(p = take(c, 4)))
				return -1;
			in->blen = get32(p);
			if (!(in->b = take(c, in->blen)))
				return -1;
			break;
		case 'v': {
			if (!(p = take(c, 4)))
				return -1;
			uint32_t count = get32(p);
			/* each str takes at least 5 bytes: bound the allocation by the input */
			if (count > (size_t)(c->end - c->p) / 5)
				return -1;
			char **v = calloc(count + 1, sizeof *v);
			if (!v)
				return -1;
			for (uint32_t i = 0; i < count; i++)
				if (!(v[i] = take_str(c)))
					return -1;
			in->v[vi++] = v;
			break;
		}
		}
	}
	return c->p == c->end ? 0 : -1;
}

static int valid_where(uint64_t w)
{
	return w <= WHERE_ROOT;
}

/* Parse the whole record stream; on failure bad[] is the index and opcode of the bad record. */
static int parse_plan(uint8_t *buf, size_t len, struct ins **out, uint32_t *count, uint32_t bad[2], struct err *e)
{
	size_t cap = len / 8 + 1;
	struct ins *ins = calloc(cap, sizeof *ins);
	struct cursor all = { buf, buf + len };
	uint32_t n = 0;
	if (!ins)
		return fail(e, ENOMEM, "read plan");
	while (all.p < all.end) {
		bad[0] = n;
		uint8_t *h = take(&all, 8);
		if (!h)
			return fail_msg(e, EINVAL, "plan record %u: truncated header", n);
		uint32_t op = get32(h), rlen = get32(h + 4);
		bad[1] = op;
		struct cursor c = { all.p, NULL };
		if (!take(&all, rlen))
			return fail_msg(e, EINVAL, "plan record %u (op %u): length %u past the end", n, op, rlen);
		c.end = all.p;
		if (op >= NOPS || !op_fields[op])
			return fail_msg(e, EINVAL, "plan record %u: unknown opcode %u", n, op);
		ins[n].op = op;
		if (parse_record(&c, &ins[n]) < 0)
			return fail_msg(e, EINVAL, "plan record %u (op %u): malformed fields", n, op);
		if ((op == OP_MOUNT || op == OP_REMOUNT || op == OP_MKDIR) && !valid_where(ins[n].n[0]))
			return fail_msg(e, EINVAL, "plan record %u (op %u): bad where %llu", n, op,
					(unsigned long long)ins[n].n[0]);
		n++;
	}
	*out = ins;
	*count = n;
	return 0;
}

static int read_plan(uint8_t **buf, uint32_t *len, struct err *e)
{
	uint8_t h[8];
	if (read_full(syncfd, h, 8) < 0)
		return fail(e, errno, "read plan");
	if (get32(h) != MSG_PLAN)
		return fail_msg(e, EINVAL, "read plan: expected MSG_PLAN, got message type %u", get32(h));
	*len = get32(h + 4);
	if (*len > PLAN_MAX)
		return fail_msg(e, EFBIG, "read plan: %u bytes is over the limit of %u", *len, PLAN_MAX);
	if (!(*buf = malloc(*len + 1)))
		return fail(e, ENOMEM, "read plan");
	if (read_full(syncfd, *buf, *len) < 0)
		return fail(e, errno, "read plan");
	return 0;
}

/* ---- helpers for the steps ---- */

static const char *opt(const char *s)
{
	return *s ? s : NULL;
}

static int root(struct err *e)
{
	if (rootfd < 0 && (rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return fail(e, errno, "open /");
	return rootfd;
}

int plan_root(struct err *e)
{
	return root(e);
}

static void reset_root(void)
{
	if (rootfd >= 0)
		close(rootfd);
	rootfd = -1;
}

/*
 * A path to hand to path-taking syscalls (mount, statvfs). HOST paths are used
 * as is; ROOT_* paths are resolved inside the root to an O_PATH fd, and the
 * syscall gets "/proc/self/fd/N", which reaches exactly that object.
 */
struct target {
	int fd;
	const char *path;
	char buf[32];
};

static int target_open(struct target *t, const char *path, uint64_t where, mode_t mode, struct err *e)
{
	t->fd = -1;
	t->path = path;
	if (where == WHERE_HOST)
		return 0;
	if (root(e) < 0)
		return -1;
	if (where == WHERE_ROOT)
		t->fd = in_root_open(rootfd, path, e);
	else
		t->fd = in_root_create(rootfd, path, where == WHERE_ROOT_FILE, mode, e);
	if (t->fd < 0)
		return -1;
	snprintf(t->buf, sizeof t->buf, "/proc/self/fd/%d", t->fd);
	t->path = t->buf;
	return 0;
}

static void target_close(struct target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

int write_file(const char *path, const char *data, struct err *e)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(e, errno, "write \"%s\": open", path);
	/* one write() when possible: /proc files such as uid_map insist on it */
	if (write_full(fd, data, strlen(data)) < 0) {
		int err = errno;
		close(fd);
		return fail(e, err, "write \"%s\"", path);
	}
	close(fd);
	return 0;
}

/* ---- CLONE ---- */

/*
 * Signals a terminal or a supervisor sends to the whole foreground group. The
 * waiting parent ignores them: the runtime forwards each one to the container
 * exactly once (forwarding here too would deliver a Ctrl-C twice).
 */
static const int fwd_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

/* Returns 0 in the child; the parent never returns (exits 0 or with the child's status). */
static int do_clone(uint64_t flags, uint32_t stay, struct err *e)
{
	sigset_t fwd, old;
	int gate[2];
	/*
	 * The runtime needs MSG_PID before any message from the child (it writes the
	 * id maps of that pid when the child SYNCs), so the child waits until the
	 * parent has sent it: it reads gate[0] until the parent closes gate[1].
	 */
	const uint64_t ns_flags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
				  CLONE_NEWPID | CLONE_NEWNET;
	/* anything else (CLONE_VM with no stack of its own...) would break fork semantics */
	if (flags & ~ns_flags)
		return fail(e, EINVAL, "clone 0x%llx: not only namespace flags", (unsigned long long)flags);
	if (pipe2(gate, O_CLOEXEC) < 0)
		return fail(e, errno, "clone: pipe");
	/* an inherited SIG_IGN would make the kernel reap the child before our waitpid */
	if (stay)
		signal(SIGCHLD, SIG_DFL);
	/* Blocked across the fork so the child starts with the caller's mask and dispositions. */
	sigemptyset(&fwd);
	for (size_t i = 0; i < sizeof fwd_signals / sizeof fwd_signals[0]; i++)
		sigaddset(&fwd, fwd_signals[i]);
	sigprocmask(SIG_BLOCK, &fwd, &old);

	/* raw clone with no new stack = fork() into new namespaces */
	pid_t pid = syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), 0, 0, 0, 0);
	if (pid < 0) {
		int err = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(gate[0]);
		close(gate[1]);
		return fail(e, err, "clone 0x%llx", (unsigned long long)flags);
	}
	if (pid == 0) {
		char c;
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(gate[1]);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		close(gate[0]);
		return 0;
	}

	send_u32(MSG_PID, (uint32_t)pid);
	close(gate[0]);
	close(gate[1]);
	if (!stay) {
		monitor_cloned(pid); /* under a monitor: it becomes the container's parent */
		_exit(0);
	}

	/* The waiting parent says nothing more; the runtime's EOF comes from the child. */
	close(syncfd);
	for (size_t i = 0; i < sizeof fwd_signals / sizeof fwd_signals[0]; i++)
		signal(fwd_signals[i], SIG_IGN);
	sigprocmask(SIG_SETMASK, &old, NULL);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/*
 * SYNC: any answer other than MSG_ACK(tag) -- MSG_ABORT, EOF, garbage -- exits
 * 1 silently. Bytes after the tag are the container state for HOOK.
 */
static void do_sync(uint32_t tag)
{
	uint8_t h[8], *p;
	send_u32(MSG_SYNC, tag);
	if (read_full(syncfd, h, 8) < 0 || get32(h) != MSG_ACK)
		_exit(1);
	uint32_t len = get32(h + 4);
	if (len < 4 || len > PLAN_MAX || !(p = malloc(len)) || read_full(syncfd, p, len) < 0 || get32(p) != tag)
		_exit(1);
	if (len > 4) {
		free(hook_state);
		hook_state = p;
		hook_state_len = len;
	} else
		free(p);
}

/* ---- mounts ---- */

#define ATIME_FLAGS (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)

/*
 * Remount path with flags. In a user namespace the kernel refuses (EPERM) to
 * clear nosuid/nodev/noexec/atime flags that were locked on the mount, so the
 * ones the mount has are OR'd in first (atime flags only when the plan names no
 * atime flag itself). If that still fails with EPERM, retry once with every flag
 * the mount has, including rdonly (a locked read-only mount). -1 with errno.
 */
static int remount(const char *path, unsigned long flags, const char *data)
{
	struct statvfs sv;
	if (statvfs(path, &sv) < 0)
		return -1;
	unsigned long have = 0;
	if (sv.f_flag & ST_NOSUID)
		have |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		have |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		have |= MS_NOEXEC;
	if (!(flags & ATIME_FLAGS)) {
		if (sv.f_flag & ST_NOATIME)
			have |= MS_NOATIME;
		if (sv.f_flag & ST_NODIRATIME)
			have |= MS_NODIRATIME;
		if (sv.f_flag & ST_RELATIME)
			have |= MS_RELATIME;
	}
	if (mount(NULL, path, NULL, MS_REMOUNT | flags | have, opt(data)) == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	if (sv.f_flag & ST_RDONLY)
		have |= MS_RDONLY;
	return mount(NULL, path, NULL, MS_REMOUNT | flags | have, opt(data));
}

static int do_mount(const struct ins *in, struct err *e)
{
	const char *src = in->s[0], *dst = in->s[1], *fstype = in->s[2], *data = in->s[3];
	char what[PATH_MAX + 64];
	struct target t;
	if (*fstype && strcmp(fstype, src) != 0)
		snprintf(what, sizeof what, "mount \"%s\" (%s) on \"%s\"", src, fstype, dst);
	else
		snprintf(what, sizeof what, "mount \"%s\" on \"%s\"", src, dst);
	if (target_open(&t, dst, in->n[0], 0755, e) < 0)
		return wrap(e, "%s", what);
	int r = mount(opt(src), t.path, opt(fstype), in->n[1], opt(data));
	int err = errno;
	target_close(&t);
	return r < 0 ? fail(e, err, "%s", what) : 0;
}

static int do_remount(const struct ins *in, struct err *e)
{
	struct target t;
	if (target_open(&t, in->s[0], in->n[0], 0755, e) < 0)
		return wrap(e, "remount \"%s\"", in->s[0]);
	int r = remount(t.path, in->n[1], in->s[1]);
	int err = errno;
	target_close(&t);
	return r < 0 ? fail(e, err, "remount \"%s\"", in->s[0]) : 0;
}

/* Open path of the current root for MASK/READONLY_PATH; 0 with *fd = -1 if missing. */
static int open_existing(const char *path, int *fd, struct err *e)
{
	*fd = -1;
	if (root(e) < 0)
		return -1;
	*fd = in_root_open(rootfd, path, e);
	if (*fd < 0 && e->errnum == ENOENT)
		return 0;
	return *fd < 0 ? -1 : 0;
}

static int do_mask(const char *path, struct err *e)
{
	struct stat st;
	char p[32];
	int fd, r;
	if (open_existing(path, &fd, e) < 0)
		return wrap(e, "mask \"%s\"", path);
	if (fd < 0)
		return 0;
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	if ((r = fstat(fd, &st)) == 0) {
		if (S_ISDIR(st.st_mode))
			r = mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL);
		else
			r = mount("/dev/null", p, NULL, MS_BIND, NULL);
	}
	int err = errno;
	close(fd);
	return r < 0 ? fail(e, err, "mask \"%s\"", path) : 0;
}

static int do_readonly(const char *path, struct err *e)
{
	char p[32];
	int fd, r;
	if (open_existing(path, &fd, e) < 0)
		return wrap(e, "make \"%s\" read-only", path);
	if (fd < 0)
		return 0;
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	r = mount(p, p, NULL, MS_BIND | MS_REC, NULL);
	close(fd);
	if (r < 0)
		return fail(e, errno, "make \"%s\" read-only: bind", path);
	/* fd still names the object under the new mount: look the path up again */
	if ((fd = in_root_open(rootfd, path, e)) < 0)
		return wrap(e, "make \"%s\" read-only", path);
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	r = remount(p, MS_BIND | MS_RDONLY, "");
	int err = errno;
	close(fd);
	return r < 0 ? fail(e, err, "make \"%s\" read-only: remount", path) : 0;
}

/* runc's trick: pivot_root(".", ".") stacks the old root on top of the new one, then detach it. */
static int do_pivot(const char *rootfs, struct err *e)
{
	int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (old < 0)
		return fail(e, errno, "pivot_root \"%s\": open /", rootfs);
	const char *step = "chdir";
	if (chdir(rootfs) < 0)
		goto out;
	step = "pivot_root";
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		goto out;
	step = "fchdir";
	if (fchdir(old) < 0)
		goto out;
	/* keep the unmount of the old root from propagating to the host */
	step = "make old root slave";
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		goto out;
	step = "detach old root";
	if (umount2(".", MNT_DETACH) < 0)
		goto out;
	step = "chdir /";
	if (chdir("/") < 0)
		goto out;
	close(old);
	reset_root();
	return 0;
out:
	fail(e, errno, "pivot_root \"%s\": %s", rootfs, step);
	close(old);
	return -1;
}

static int do_move_root(const char *rootfs, struct err *e)
{
	if (chdir(rootfs) < 0)
		return fail(e, errno, "move root \"%s\": chdir", rootfs);
	if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
		return fail(e, errno, "move root \"%s\": mount", rootfs);
	if (chroot(".") < 0 || chdir("/") < 0)
		return fail(e, errno, "move root \"%s\": chroot", rootfs);
	reset_root();
	return 0;
}

/* ---- files in the root ---- */

static int do_mkdir(const char *path, uint64_t where, mode_t mode, struct err *e)
{
	int fd, base = where == WHERE_HOST ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC) : root(e);
	if (base < 0)
		return fail(e, errno, "mkdir \"%s\": open root", path);
	fd = in_root_create(base, path, 0, mode, e);
	if (where == WHERE_HOST)
		close(base);
	if (fd < 0)
		return wrap(e, "mkdir \"%s\"", path);
	close(fd);
	return 0;
}

static int do_mknod(const struct ins *in, struct err *e)
{
	const char *path = in->s[0], *leaf;
	mode_t mode = in->n[0];
	char buf[PATH_MAX];
	int dfd;
	if (root(e) < 0 || (dfd = in_root_parent(rootfd, path, buf, sizeof buf, &leaf, e)) < 0)
		return wrap(e, "mknod \"%s\"", path);
	/* replace a file that is there (a directory stays, and mknod reports EEXIST) */
	if (unlinkat(dfd, leaf, 0) < 0 && errno != ENOENT && errno != EISDIR)
		goto out;
	if (mknodat(dfd, leaf, mode, in->n[1]) < 0 ||
	    fchownat(dfd, leaf, in->n[2], in->n[3], AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dfd, leaf, mode & 07777, 0) < 0) /* exact mode, whatever the umask */
		goto out;
	close(dfd);
	return 0;
out:
	fail(e, errno, "mknod \"%s\"", path);
	close(dfd);
	return -1;
}

static int do_symlink(const char *target, const char *path, struct err *e)
{
	const char *leaf;
	char buf[PATH_MAX];
	int dfd;
	if (root(e) < 0 || (dfd = in_root_parent(rootfd, path, buf, sizeof buf, &leaf, e)) < 0)
		return wrap(e, "symlink \"%s\" -> \"%s\"", path, target);
	int r = symlinkat(target, dfd, leaf);
	int err = errno;
	close(dfd);
	if (r < 0 && err != EEXIST)
		return fail(e, err, "symlink \"%s\" -> \"%s\"", path, target);
	return 0;
}

/* ---- process attributes ---- */

static int do_setgroups(const uint8_t *b, uint32_t len, struct err *e)
{
	if (len % 4)
		return fail(e, EINVAL, "setgroups: %u bytes is not a list of u32", len);
	size_t n = len / 4;
	gid_t *g = malloc((n ? n : 1) * sizeof *g);
	if (!g)
		return fail(e, ENOMEM, "setgroups");
	for (size_t i = 0; i < n; i++)
		g[i] = get32(b + 4 * i);
	int r = setgroups(n, g);
	int err = errno;
	free(g);
	return r < 0 ? fail(e, err, "setgroups (%zu groups)", n) : 0;
}

static int do_capset(uint64_t eff, uint64_t perm, uint64_t inh, struct err *e)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ eff >> 32, perm >> 32, inh >> 32 },
	};
	if (syscall(SYS_capset, &h, d) < 0)
		return fail(e, errno, "capset effective 0x%llx permitted 0x%llx inheritable 0x%llx",
			    (unsigned long long)eff, (unsigned long long)perm, (unsigned long long)inh);
	return 0;
}

static int do_cap_bounding(uint64_t keep, struct err *e)
{
	/*
	 * Instead of reading /proc/sys/kernel/cap_last_cap (which needs /proc in the
	 * new root), probe: PR_CAPBSET_READ fails with EINVAL past the last cap.
	 */
	for (int c = 0; c < 64; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0)
			break;
		if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return fail(e, errno, "drop capability %d from the bounding set", c);
	}
	return 0;
}

static int do_ambient(uint64_t mask, struct err *e)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return fail(e, errno, "clear ambient capabilities");
	for (int c = 0; c < 64; c++)
		if ((mask & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return fail(e, errno, "raise ambient capability %d", c);
	return 0;
}

static int do_seccomp(uint32_t flags, const uint8_t *b, uint32_t len, struct err *e)
{
	if (len == 0 || len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > USHRT_MAX)
		return fail(e, EINVAL, "seccomp: %u bytes is not a BPF program", len);
	/* copy: the plan buffer gives no alignment guarantee */
	struct sock_fprog prog = { .len = len / sizeof(struct sock_filter), .filter = malloc(len) };
	if (!prog.filter)
		return fail(e, ENOMEM, "seccomp");
	memcpy(prog.filter, b, len);
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	int err = errno;
	free(prog.filter);
	return r < 0 ? fail(e, err, "seccomp (%u instructions, flags 0x%x)", prog.len, flags) : 0;
}

static int do_fifo_wait(struct err *e)
{
	struct pollfd p = { .fd = fifofd, .events = POLLIN };
	char c;
	if (fifofd < 0)
		return fail(e, EBADF, "wait on exec fifo: not open");
	for (;;) {
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail(e, errno, "wait on exec fifo");
		}
		ssize_t r = read(fifofd, &c, 1);
		if (r == 1)
			break;
		/* spurious wakeup, or POLLHUP from a writer that left without writing */
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return fail(e, errno, "read exec fifo");
		if (r == 0)
			return fail(e, EPIPE, "read exec fifo: closed without a start byte");
	}
	close(fifofd);
	fifofd = -1;
	return 0;
}

static int executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* As execvp would search, but now and inside the current root. */
static int do_exec_prepare(const char *file, const char *path, struct err *e)
{
	if (strchr(file, '/')) {
		struct stat st;
		if (stat(file, &st) < 0)
			return fail(e, errno, "exec \"%s\"", file);
		if (!S_ISREG(st.st_mode))
			return fail(e, EACCES, "exec \"%s\": not a regular file", file);
		if (access(file, X_OK) < 0)
			return fail(e, errno, "exec \"%s\"", file);
		if (strlen(file) >= sizeof exec_path)
			return fail(e, ENAMETOOLONG, "exec \"%s\"", file);
		strcpy(exec_path, file);
		return 0;
	}
	for (const char *p = path; *file;) {
		const char *end = strchrnul(p, ':');
		int dlen = end - p;
		/* an empty PATH entry means the current directory */
		int n = dlen ? snprintf(exec_path, sizeof exec_path, "%.*s/%s", dlen, p, file)
			     : snprintf(exec_path, sizeof exec_path, "%s", file);
		if (n > 0 && (size_t)n < sizeof exec_path && executable(exec_path))
			return 0;
		if (!*end)
			break;
		p = end + 1;
	}
	exec_path[0] = '\0';
	return fail_msg(e, ENOENT, "executable file not found in $PATH: %s", file);
}

static int ours(long fd)
{
	return fd == syncfd || fd == fifofd || fd == statusfd || fd == consfd || fd == rootfd;
}

/* kernels before 5.9 (no close_range): walk /proc/self/fd */
static int close_fds_walk(unsigned first, struct err *e)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	if (!d)
		return fail(e, errno, "close fds from %u: open /proc/self/fd", first);
	while ((de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		if (*end || end == de->d_name || fd < (long)first || fd == dirfd(d) || ours(fd))
			continue;
		close(fd);
	}
	closedir(d);
	return 0;
}

/*
 * Close every fd >= first except berth-init's own (all close-on-exec), so that
 * nothing the caller leaked -- a host directory above all (CVE-2024-21626) --
 * is open while the container's cwd and executable are looked up.
 */
static int do_close_fds(unsigned first, struct err *e)
{
	const int mine[] = { syncfd, fifofd, statusfd, consfd, rootfd };
	for (long lo = first;;) {
		long next = -1; /* the lowest of our fds at or above lo */
		for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
			if (mine[i] >= lo && (next < 0 || mine[i] < next))
				next = mine[i];
		if (next != lo && syscall(SYS_close_range, (unsigned)lo, next < 0 ? ~0U : (unsigned)next - 1, 0) < 0)
			return close_fds_walk(first, e);
		if (next < 0)
			return 0;
		lo = next + 1;
	}
}

/*
 * chdir resolved inside the root without magic links: a path such as
 * /proc/self/fd/N cannot lead out of the container through an fd that
 * berth-init holds (CVE-2024-21626). The kernel then confirms the new cwd is
 * reachable from the root.
 */
static int do_chdir(const char *path, struct err *e)
{
	char buf[PATH_MAX];
	int fd;
	if (root(e) < 0 || (fd = in_root_open(rootfd, path, e)) < 0)
		return wrap(e, "chdir \"%s\"", path);
	int r = fchdir(fd);
	int err = errno;
	close(fd);
	if (r < 0)
		return fail(e, err, "chdir \"%s\"", path);
	/* the raw syscall: a cwd outside the root reads "(unreachable)..." */
	if (syscall(SYS_getcwd, buf, sizeof buf) < 0 || buf[0] != '/')
		return fail_msg(e, ENOENT, "chdir \"%s\": the directory is outside the container's root", path);
	return 0;
}

/* ---- terminals ---- */

static int do_console(const char *path, uint64_t fd, struct err *e)
{
	if (consfd >= 0)
		close(consfd);
	consfd = -1;
	if (*path) {
		consfd = console_connect(path, e);
		return consfd < 0 ? -1 : 0;
	}
	if (fd > INT_MAX || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return fail(e, EBADF, "console socket fd %llu", (unsigned long long)fd);
	consfd = fd;
	return 0;
}

/* PTY(ptmx, rows, cols, console, uid, gid): see opcodes.ts. */
static int do_pty(const struct ins *in, struct err *e)
{
	const char *ptmx = in->s[0], *console = in->s[1];
	int master, slave, r = -1;
	if (consfd < 0)
		return fail(e, EBADF, "terminal: no console socket");
	if (pty_open(ptmx, &master, &slave, e) < 0)
		return wrap(e, "terminal");
	if (in->n[0] && in->n[1]) {
		struct winsize ws = { .ws_row = in->n[0], .ws_col = in->n[1] };
		if (ioctl(master, TIOCSWINSZ, &ws) < 0) {
			fail(e, errno, "terminal: set size %llux%llu", (unsigned long long)in->n[1], (unsigned long long)in->n[0]);
			goto out;
		}
	}
	if (*console) {
		struct target t;
		char src[32];
		snprintf(src, sizeof src, "/proc/self/fd/%d", slave);
		if (target_open(&t, console, WHERE_ROOT_FILE, 0, e) < 0) {
			wrap(e, "terminal: mount on \"%s\"", console);
			goto out;
		}
		int m = mount(src, t.path, NULL, MS_BIND, NULL);
		int err = errno;
		target_close(&t);
		if (m < 0) {
			fail(e, err, "terminal: mount on \"%s\"", console);
			goto out;
		}
	}
	/* the process's user owns its terminal; the group stays devpts's (runc: fixStdioPermissions) */
	if (fchown(slave, in->n[2], -1) < 0) {
		fail(e, errno, "terminal: give it to uid %llu", (unsigned long long)in->n[2]);
		goto out;
	}
	if (send_fd(consfd, "/dev/ptmx", master, e) < 0)
		goto out;
	if (ioctl(slave, TIOCSCTTY, 0) < 0) {
		fail(e, errno, "terminal: make it the controlling terminal");
		goto out;
	}
	for (int i = 0; i < 3; i++)
		/* dup3 refuses to copy an fd onto itself: then just keep it open across exec */
		if ((slave == i ? fcntl(i, F_SETFD, 0) : dup3(slave, i, 0)) < 0) {
			fail(e, errno, "terminal: make it fd %d", i);
			goto out;
		}
	r = 0;
out:
	close(master);
	if (slave > 2)
		close(slave);
	close(consfd);
	consfd = -1;
	return r;
}

/* ---- the interpreter ---- */

static int run(struct ins *in, struct err *e)
{
	const uint64_t *n = in->n;
	char *const *s = in->s;
	int fd;
	switch (in->op) {
	case OP_SETNS:
		if ((fd = open(s[0], O_RDONLY | O_CLOEXEC)) < 0)
			return fail(e, errno, "setns \"%s\": open", s[0]);
		if (setns(fd, n[0]) < 0) {
			int err = errno;
			close(fd);
			return fail(e, err, "setns \"%s\"", s[0]);
		}
		close(fd);
		return 0;
	case OP_UNSHARE:
		return unshare(n[0]) < 0 ? fail(e, errno, "unshare 0x%llx", (unsigned long long)n[0]) : 0;
	case OP_WRITE_FILE:
		return write_file(s[0], s[1], e);
	case OP_CLONE:
		return do_clone(n[0], n[1], e);
	case OP_SYNC:
		do_sync(n[0]);
		return 0;
	case OP_SETSID:
		return setsid() < 0 ? fail(e, errno, "setsid") : 0;
	case OP_MOUNT:
		return do_mount(in, e);
	case OP_REMOUNT:
		return do_remount(in, e);
	case OP_MKNOD:
		return do_mknod(in, e);
	case OP_SYMLINK:
		return do_symlink(s[0], s[1], e);
	case OP_PIVOT_ROOT:
		return do_pivot(s[0], e);
	case OP_MOVE_ROOT:
		return do_move_root(s[0], e);
	case OP_MASK:
		return do_mask(s[0], e);
	case OP_READONLY_PATH:
		return do_readonly(s[0], e);
	case OP_SETHOSTNAME:
		return sethostname(s[0], strlen(s[0])) < 0 ? fail(e, errno, "sethostname \"%s\"", s[0]) : 0;
	case OP_SETDOMAINNAME:
		return setdomainname(s[0], strlen(s[0])) < 0 ? fail(e, errno, "setdomainname \"%s\"", s[0]) : 0;
	case OP_RLIMIT: {
		struct rlimit64 rl = { n[1], n[2] };
		if (prlimit64(0, n[0], &rl, NULL) < 0)
			return fail(e, errno, "setrlimit %llu soft %llu hard %llu", (unsigned long long)n[0],
				    (unsigned long long)n[1], (unsigned long long)n[2]);
		return 0;
	}
	case OP_UMASK:
		umask(n[0]);
		return 0;
	case OP_CHDIR:
		return do_chdir(s[0], e);
	case OP_KEEPCAPS:
		return prctl(PR_SET_KEEPCAPS, n[0], 0, 0, 0) < 0 ? fail(e, errno, "set keepcaps %llu", (unsigned long long)n[0]) : 0;
	case OP_CAP_BOUNDING:
		return do_cap_bounding(n[0], e);
	case OP_SETGROUPS:
		return do_setgroups(in->b, in->blen, e);
	case OP_SETGID:
		return setresgid(n[0], n[0], n[0]) < 0 ? fail(e, errno, "setgid %llu", (unsigned long long)n[0]) : 0;
	case OP_SETUID:
		return setresuid(n[0], n[0], n[0]) < 0 ? fail(e, errno, "setuid %llu", (unsigned long long)n[0]) : 0;
	case OP_CAPSET:
		return do_capset(n[0], n[1], n[2], e);
	case OP_AMBIENT:
		return do_ambient(n[0], e);
	case OP_NO_NEW_PRIVS:
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? fail(e, errno, "set no_new_privs") : 0;
	case OP_SECCOMP:
		return do_seccomp(n[0], in->b, in->blen, e);
	case OP_FIFO_OPEN:
		if (fifofd >= 0)
			close(fifofd);
		if ((fifofd = open(s[0], O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
			return fail(e, errno, "open exec fifo \"%s\"", s[0]);
		return 0;
	case OP_FIFO_WAIT:
		return do_fifo_wait(e);
	case OP_EXEC_PREPARE:
		return do_exec_prepare(s[0], s[1], e);
	case OP_CLOSE_FDS:
		return do_close_fds(n[0], e);
	case OP_READY:
		return send_msg(MSG_READY, NULL, 0) < 0 ? fail(e, errno, "send ready") : 0;
	case OP_EXEC: {
		char **argv = in->v[0];
		if (!argv[0])
			return fail(e, EINVAL, "exec: empty argv");
		const char *file = exec_path[0] ? exec_path : argv[0];
		execve(file, argv, in->v[1]);
		fail(e, errno, "exec \"%s\"", file);
		return -2; /* caller: exit 127 */
	}
	case OP_OOM_SCORE_ADJ:
		return write_file("/proc/self/oom_score_adj", s[0], e);
	case OP_ROOTFS:
		reset_root();
		if ((rootfd = open(s[0], O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			return fail(e, errno, "open rootfs \"%s\"", s[0]);
		return 0;
	case OP_MKDIR:
		return do_mkdir(s[0], n[0], n[1], e);
	case OP_OPEN_TREE:
	case OP_MOVE_MOUNT:
		return idmap_step(in, e);
	case OP_MONITOR:
		return monitor_step(in, syncfd, &consfd, e);
	case OP_PERSONALITY:
	case OP_IOPRIO:
	case OP_SCHED_ATTR:
	case OP_CPU_AFFINITY:
	case OP_MEMPOLICY:
		return feature_step(in, e);
	case OP_LINK_UP:
		return link_up(s[0], e);
	case OP_HOOK: {
		struct hook h = { .name = s[0], .path = s[1], .argv = in->v[0], .env = in->v[1], .timeout = n[0] };
		if (hook_state) {
			h.state = hook_state + 4;
			h.state_len = hook_state_len - 4;
		}
		return run_hook(&h, e);
	}
	case OP_START_STATUS:
		if (statusfd >= 0)
			close(statusfd);
		/* read-write: opening never blocks, and we never see EOF or EPIPE on it */
		if ((statusfd = open(s[0], O_RDWR | O_CLOEXEC)) < 0)
			return fail(e, errno, "open start-status fifo \"%s\"", s[0]);
		return 0;
	case OP_FAIL:
		return fail_msg(e, EINVAL, "%s", s[0]);
	case OP_CHROOT:
		if (chdir(s[0]) < 0 || chroot(".") < 0 || chdir("/") < 0)
			return fail(e, errno, "chroot \"%s\"", s[0]);
		reset_root();
		return 0;
	case OP_JOIN_NS:
		reset_root(); /* "/" is about to change */
		if (join_namespaces(n[0], s[0], in->v[0], e) < 0)
			return -1;
		reset_root();
		return 0;
	case OP_CONSOLE:
		return do_console(s[0], n[0], e);
	case OP_PTY:
		return do_pty(in, e);
	case OP_DUMPABLE:
		return prctl(PR_SET_DUMPABLE, n[0], 0, 0, 0) < 0 ? fail(e, errno, "set dumpable %llu", (unsigned long long)n[0]) : 0;
	}
	return fail(e, EINVAL, "unknown opcode %u", in->op); /* parse_plan rejects these */
}

int main(int argc, char **argv, char **envp)
{
	struct err e = { 0 };
	char *end;
	long fd = argc == 2 ? strtol(argv[1], &end, 10) : -1;
	if (argc != 2 || *end || end == argv[1] || fd < 0 || fd > INT_MAX) {
		fprintf(stderr, "usage: berth-init <syncfd>\n");
		return 2;
	}
	syncfd = fd;
	/*
	 * Safety first (ARCHITECTURE.md): run from a sealed copy of this binary and
	 * stay non-dumpable until EXEC, so a container can neither overwrite nor
	 * ptrace what enters it (CVE-2019-5736; see seal.c).
	 */
	if (seal_self(argv, envp, &e) < 0 || (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 && fail(&e, errno, "set non-dumpable"))) {
		send_error(0, 0, &e);
		_exit(1);
	}
	prctl(PR_SET_NAME, "berth-init", 0, 0, 0); /* started from /proc/self/fd/N, the name would be "N" */
	int fl = fcntl(syncfd, F_GETFD);
	if (fl < 0 || fcntl(syncfd, F_SETFD, fl | FD_CLOEXEC) < 0) {
		fprintf(stderr, "berth-init: sync fd %d: %s\n", syncfd, strerror(errno));
		return 2;
	}
	/* The runtime may hand us a non-blocking end; our protocol blocks. */
	fl = fcntl(syncfd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(syncfd, F_SETFL, fl & ~O_NONBLOCK);

	uint8_t *plan = NULL;
	uint32_t len = 0, count = 0, bad[2] = { 0, 0 };
	struct ins *ins;
	if (read_plan(&plan, &len, &e) < 0) {
		send_error(0, 0, &e);
		_exit(1);
	}
	if (parse_plan(plan, len, &ins, &count, bad, &e) < 0) {
		send_error(bad[0], bad[1], &e);
		_exit(1);
	}
	for (uint32_t i = 0; i < count; i++) {
		int r = run(&ins[i], &e);
		if (r < 0) {
			send_error(i, ins[i].op, &e);
			_exit(r == -2 ? 127 : 1);
		}
	}
	/* a plan without EXEC (e.g. only host-side steps) ends here */
	_exit(0);
}
