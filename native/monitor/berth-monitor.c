/*
 * berth-monitor: the engine's per-container monitor, exec'd by berth-init's
 * MONITOR step (native/monitor.c has the processes and the files; fds.h the
 * hand-over). It outlives the engine: it holds the container's stdio, writes
 * its log and, once the container has exited, its exit status, then exits.
 * No libc (nolibc.h): this process exists once per container.
 *
 * The log: one entry per line, in the CRI log format (conmon's, the kubelet's)
 *   <RFC 3339 UTC time, ns> <stdout|stderr> <F|P> <bytes>\n
 * F ends a line (its newline is not stored), P is a part of one: lines are
 * split at 16 KiB (as docker) and a last line without newline is P. Times
 * never go backwards. Rotation as docker's json-file: past max size bytes,
 * log -> log.1 -> ... -> log.<max files - 1> (the oldest dropped); 1 file
 * truncates in place.
 *
 * Attach protocol, both ways: frames of an 8-byte header [type, 0, 0, 0,
 * u32 big-endian length] and the payload (docker's stdcopy header).
 *   client -> monitor: 0 STDIN bytes (length 0: close the container's stdin),
 *                      4 RESIZE (u16 rows, u16 cols, big-endian; ignored
 *                      without a terminal)
 *                      a half-close (shutdown write): this client's input has
 *                      ended; with StdinOnce and no terminal, the container's
 *                      stdin is closed (as it is when a client that wrote to
 *                      it disconnects). The client still gets its output.
 *   monitor -> client: 1 STDOUT, 2 STDERR (live output from connect time on),
 *                      3 EXIT (exit.json's text, last, then the connection closes)
 * As with docker attach, an attached stream loses nothing: while a client has
 * not taken its frame, no more output is read, so a slow reader slows the
 * container down (a client that stops reading holds it until it disconnects);
 * the log waits with it. After the container's exit, clients get 2 seconds to
 * take the rest. Anything else from a client (an unknown type, a RESIZE not 4
 * bytes long) disconnects it. Up to 64 clients.
 *
 * With a terminal (berth-init passes the console socket, MFD_CONSOLE), the
 * container's PTY step sends the pty master there: its output is stream 1
 * (stdout), clients' stdin goes to it (OpenStdin), RESIZE sets its size. A
 * terminal's stdin is never closed for a client's end (docker: StdinOnce does
 * not apply to a tty), so a later client can type again.
 */
#include "nolibc.h"
#include "fds.h"

#define LINE_MAX_BYTES (16 * 1024)
#define MAX_CLIENTS 64
#define IOBUF 8192
#define SIGCHLD 17
#define WNOHANG 1
#define SOCK_NONBLOCK O_NONBLOCK
#define SOCK_CLOEXEC O_CLOEXEC
#define MSG_DONTWAIT 0x40
#define MSG_CMSG_CLOEXEC 0x40000000
#define TIOCSWINSZ 0x5414
#define POLLHUP_ERR (POLLHUP | POLLERR)

/* MONITOR's flags (native/monitor.c) */
#define MON_OPEN_STDIN 1
#define MON_TERMINAL 2
#define MON_STDIN_ONCE 4

enum { F_STDIN = 0, F_STDOUT = 1, F_STDERR = 2, F_EXIT = 3, F_RESIZE = 4 };

struct client {
	int fd;
	unsigned char hdr[8];
	unsigned hlen;       /* header bytes read */
	unsigned left;       /* payload bytes still to come */
	unsigned char small[4];
	int slot;            /* its buffer in m.obuf */
	unsigned olen, ooff; /* output it has not taken yet */
	unsigned char eof;   /* it has half-closed: no more input, output still goes to it */
	unsigned char wrote; /* it sent stdin bytes */
};

static struct {
	int out, err, in, log; /* -1 when closed */
	int cons, tty;         /* the console socket until the master came; the pty master */
	unsigned flags;        /* MON_* */
	int in_closing;        /* close stdin once the pending bytes are written */
	const char *logname;
	unsigned long long max_size, size;
	unsigned max_files;
	struct timespec64 last;
	char line[2][LINE_MAX_BYTES];
	size_t llen[2];
	struct client cl[MAX_CLIENTS];
	int ncl;
	unsigned long long slots; /* m.obuf in use */
	/* a frame a client could not take at once; resident only once used */
	unsigned char obuf[MAX_CLIENTS][8 + IOBUF];
	unsigned char pend[IOBUF]; /* stdin bytes the pipe did not take yet */
	size_t plen, poff;
	char buf[IOBUF];
} m;

static void closefd(int *fd)
{
	if (*fd >= 0)
		sys_close(*fd);
	*fd = -1;
}

static void now(struct timespec64 *ts)
{
	sys_clock_realtime(ts);
	if (ts->tv_sec < m.last.tv_sec || (ts->tv_sec == m.last.tv_sec && ts->tv_nsec < m.last.tv_nsec))
		*ts = m.last;
	m.last = *ts;
}

/* ---- the log ---- */

/* name, or name.i, into buf */
static const char *generation(char *buf, unsigned i)
{
	size_t n = strlen(m.logname);
	memcpy(buf, m.logname, n);
	if (i) {
		buf[n++] = '.';
		n += fmt_uint(buf + n, i);
	}
	buf[n] = '\0';
	return buf;
}

static void rotate(void)
{
	char from[300], to[300];
	if (m.max_files <= 1) {
		if (sys_ftruncate(m.log, 0) == 0)
			m.size = 0;
		return;
	}
	for (unsigned i = m.max_files - 1; i >= 1; i--)
		sys_renameat(MFD_LOGDIR, generation(from, i - 1), MFD_LOGDIR, generation(to, i)); /* ENOENT: not that many yet */
	closefd(&m.log);
	m.log = sys_openat(MFD_LOGDIR, m.logname, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	m.size = 0;
}

/* One entry: the buffered start of the line, then n more bytes of it. */
static void log_entry(int s, const struct timespec64 *ts, int full, const char *p, size_t n)
{
	char head[TIME_LEN + 10];
	fmt_time(head, ts);
	memcpy(head + TIME_LEN, s == 1 ? " stdout " : " stderr ", 8);
	head[TIME_LEN + 8] = full ? 'F' : 'P';
	head[TIME_LEN + 9] = ' ';
	struct iovec iov[4] = {
		{ head, sizeof head }, { m.line[s - 1], m.llen[s - 1] }, { (void *)p, n }, { "\n", 1 },
	};
	unsigned long long len = sizeof head + m.llen[s - 1] + n + 1;
	m.llen[s - 1] = 0;
	if (m.log < 0)
		return;
	if (m.max_size && m.size > 0 && m.size + len > m.max_size) {
		rotate();
		if (m.log < 0)
			return;
	}
	ssize_t w = sys_writev(m.log, iov, 4); /* O_APPEND; a failed write (ENOSPC) loses the entry */
	if (w > 0)
		m.size += w;
}

/* Split output of stream s (1, 2) into entries; an unfinished line waits in m.line. */
static void log_data(int s, const char *p, size_t n, const struct timespec64 *ts)
{
	size_t *len = &m.llen[s - 1];
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n, room = LINE_MAX_BYTES - *len;
		if (seg > room || (seg == room && !nl)) { /* 16K without a newline: a part */
			log_entry(s, ts, 0, p, room);
			p += room;
			n -= room;
		} else if (nl) {
			log_entry(s, ts, 1, p, seg);
			p += seg + 1;
			n -= seg + 1;
		} else {
			memcpy(m.line[s - 1] + *len, p, seg);
			*len += seg;
			n = 0;
		}
	}
}

static void log_flush(int s, const struct timespec64 *ts)
{
	if (m.llen[s - 1])
		log_entry(s, ts, 0, "", 0);
}

/* ---- attach clients ---- */

static int again(ssize_t r)
{
	return r == -EAGAIN || r == -EINTR;
}

static void stdin_end(void);

static void drop(int i)
{
	if (m.cl[i].wrote && !m.cl[i].eof)
		stdin_end(); /* a client that wrote to stdin is gone: its input has ended */
	sys_close(m.cl[i].fd);
	m.slots &= ~(1ULL << m.cl[i].slot);
	m.cl[i] = m.cl[--m.ncl];
}

/*
 * Output goes to every client as it is read. A client that cannot take a
 * whole frame keeps the rest in its buffer, and no more output is read until
 * every client has taken its frame: as with docker attach, a slow reader slows
 * the container down and an attached stream loses nothing. (Once the container
 * has exited, a client gets a deadline; see finish.)
 */
static void broadcast(int type, const void *p, size_t n)
{
	unsigned char h[8] = { type, 0, 0, 0, n >> 24, n >> 16, n >> 8, n };
	struct iovec iov[2] = { { h, 8 }, { (void *)p, n } };
	for (int i = m.ncl - 1; i >= 0; i--) {
		struct client *c = &m.cl[i];
		/* SIGPIPE is ignored (berth-init set it so before exec): a gone client is EPIPE */
		ssize_t w = sys_writev(c->fd, iov, 2);
		if (again(w))
			w = 0;
		if (w < 0) {
			drop(i);
			continue;
		}
		if ((size_t)w == 8 + n)
			continue;
		unsigned char *b = m.obuf[c->slot];
		size_t k = 0;
		for (size_t j = w; j < 8; j++)
			b[k++] = h[j];
		memcpy(b + k, (const char *)p + (w > 8 ? w - 8 : 0), n - (w > 8 ? w - 8 : 0));
		c->olen = 8 + n - w;
		c->ooff = 0;
	}
}

/* Send client i what it has not taken; -1 if it must be dropped. */
static int client_flush(int i)
{
	struct client *c = &m.cl[i];
	while (c->ooff < c->olen) {
		ssize_t w = sys_write(c->fd, m.obuf[c->slot] + c->ooff, c->olen - c->ooff);
		if (again(w))
			return 0;
		if (w < 0)
			return -1;
		c->ooff += w;
	}
	c->olen = c->ooff = 0;
	return 0;
}

static int held(void)
{
	for (int i = 0; i < m.ncl; i++)
		if (m.cl[i].olen)
			return 1;
	return 0;
}

static long long monotonic_ms(void)
{
	struct timespec64 ts;
	SYS(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, &ts, 0, 0, 0, 0);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until every client has taken its output; past deadline (monotonic ms), drop who has not. */
static void flush_until(long long deadline)
{
	struct pollfd pf[MAX_CLIENTS];
	while (held()) {
		long long left = deadline - monotonic_ms();
		int n = 0;
		for (int i = 0; i < m.ncl; i++)
			pf[n++] = (struct pollfd){ m.cl[i].olen ? m.cl[i].fd : -1, POLLOUT, 0 };
		struct timespec64 t = { left > 0 ? left / 1000 : 0, left > 0 ? left % 1000 * 1000000 : 0 };
		if (left <= 0 || SYS(__NR_ppoll, pf, n, &t, 0, 0, 0) == 0) {
			for (int i = m.ncl - 1; i >= 0; i--)
				if (m.cl[i].olen)
					drop(i);
			return;
		}
		for (int i = n - 1; i >= 0; i--)
			if (pf[i].revents && client_flush(i) < 0)
				drop(i);
	}
}

static void stdin_close(void)
{
	closefd(&m.in);
	m.plen = m.poff = 0;
	m.in_closing = 0;
}

/* A client's input has ended: with StdinOnce (and no terminal), so has the container's, once what is pending is written. */
static void stdin_end(void)
{
	if (!(m.flags & MON_STDIN_ONCE) || (m.flags & MON_TERMINAL))
		return;
	if (m.plen > m.poff)
		m.in_closing = 1;
	else
		stdin_close();
}

/* Write pending stdin bytes; returns 1 while some are left (the pipe is full). */
static int stdin_flush(void)
{
	while (m.poff < m.plen) {
		ssize_t w = sys_write(m.in, m.pend + m.poff, m.plen - m.poff);
		if (w == -EINTR)
			continue;
		if (w == -EAGAIN)
			return 1;
		if (w < 0) { /* EPIPE: the container closed its stdin */
			stdin_close();
			return 0;
		}
		m.poff += w;
	}
	m.plen = m.poff = 0;
	if (m.in_closing)
		stdin_close();
	return 0;
}

static void client_eof(struct client *c)
{
	c->eof = 1;
	c->hlen = 0;
	stdin_end();
}

/*
 * Read what client i sent; returns -1 if it must be dropped. At the end of its
 * input: with hup (POLLHUP: it closed the connection) it is gone; else it
 * half-closed and still takes output.
 */
static int client_read(int i, int hup)
{
	struct client *c = &m.cl[i];
	ssize_t r;
	for (;;) {
		if (c->hlen < 8) {
			r = sys_read(c->fd, c->hdr + c->hlen, 8 - c->hlen);
			if (r <= 0)
				goto out;
			if ((c->hlen += r) < 8)
				continue;
			c->left = (unsigned)c->hdr[4] << 24 | c->hdr[5] << 16 | c->hdr[6] << 8 | c->hdr[7];
			if (c->hdr[0] == F_STDIN && c->left == 0) {
				if (m.plen > m.poff)
					m.in_closing = 1;
				else
					stdin_close();
				c->hlen = 0;
				continue;
			}
			if ((c->hdr[0] != F_STDIN && c->hdr[0] != F_RESIZE) || (c->hdr[0] == F_RESIZE && c->left != 4))
				return -1;
		}
		if (c->hdr[0] == F_RESIZE) {
			r = sys_read(c->fd, c->small + (4 - c->left), c->left);
			if (r <= 0)
				goto out;
			if ((c->left -= r) == 0) {
				c->hlen = 0;
				unsigned short ws[4] = { c->small[0] << 8 | c->small[1], c->small[2] << 8 | c->small[3], 0, 0 };
				if (m.tty >= 0) /* the kernel tells the foreground process group (SIGWINCH) */
					sys_ioctl(m.tty, TIOCSWINSZ, ws);
			}
			continue;
		}
		r = sys_read(c->fd, m.pend, c->left < IOBUF ? c->left : IOBUF);
		if (r <= 0)
			goto out;
		if ((c->left -= r) == 0)
			c->hlen = 0;
		if (m.in >= 0 && !m.in_closing) {
			c->wrote = 1;
			m.plen = r;
			m.poff = 0;
			if (stdin_flush())
				return 0; /* no more from clients until the pipe takes this */
		}
	}
out:
	if (r == 0 && !hup) {
		client_eof(c);
		return 0;
	}
	return again(r) ? 0 : -1;
}

static void accept_clients(void)
{
	int fd;
	while ((fd = sys_accept4(MFD_LISTEN, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (m.ncl == MAX_CLIENTS) {
			sys_close(fd);
			continue;
		}
		int slot = __builtin_ctzll(~m.slots); /* a free one: fewer clients than slots */
		m.slots |= 1ULL << slot;
		m.cl[m.ncl++] = (struct client){ .fd = fd, .slot = slot };
	}
}

/* ---- the terminal ---- */

struct user_msghdr {
	void *name;
	int namelen;
	struct iovec *iov;
	size_t iovlen;
	void *control;
	size_t controllen;
	unsigned flags;
};

/* The pty master from the container's PTY step (or EOF: it failed before). */
static void console_recv(void)
{
	char name[16];
	unsigned long ctl[8]; /* cmsghdr {size_t len; int level, type;} and the fds, long-aligned */
	struct iovec iov = { name, sizeof name };
	struct user_msghdr msg = { 0, 0, &iov, 1, ctl, sizeof ctl, 0 };
	ssize_t r = sys_recvmsg(m.cons, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (again(r))
		return;
	closefd(&m.cons); /* one message only */
	if (r <= 0 || msg.controllen < 16 + sizeof(int))
		return;
	int level, type, fd, n = (int)((((size_t *)ctl)[0] - 16) / sizeof(int));
	memcpy(&level, (char *)ctl + 8, 4);
	memcpy(&type, (char *)ctl + 12, 4);
	for (int i = 0; i < n; i++) { /* SOL_SOCKET, SCM_RIGHTS: the first fd; any other is closed */
		memcpy(&fd, (char *)ctl + 16 + i * sizeof(int), sizeof(int));
		if (i == 0 && level == 1 && type == 1 && m.tty < 0)
			m.tty = fd;
		else
			sys_close(fd);
	}
	if (m.tty < 0)
		return;
	sys_fcntl(m.tty, F_SETFL, sys_fcntl(m.tty, F_GETFL, 0) | O_NONBLOCK);
	m.out = sys_fcntl(m.tty, F_DUPFD_CLOEXEC, 0);
	if (m.flags & MON_OPEN_STDIN)
		m.in = sys_fcntl(m.tty, F_DUPFD_CLOEXEC, 0);
}

/* ---- the container's output ---- */

/* Read one chunk of stream s (1, 2); > 0 bytes, 0 at EOF (closed), -1 for nothing now. */
static ssize_t pump(int s)
{
	int *fd = s == 1 ? &m.out : &m.err;
	struct timespec64 ts;
	ssize_t r = sys_read(*fd, m.buf, sizeof m.buf);
	if (again(r))
		return -1;
	now(&ts);
	if (r <= 0) {
		log_flush(s, &ts);
		closefd(fd);
		return 0;
	}
	broadcast(s, m.buf, r);
	log_data(s, m.buf, r, &ts);
	return r;
}

/* ---- exit ---- */

static void __attribute__((noreturn)) finish(pid_t pid, int status)
{
	char json[160];
	struct timespec64 ts;
	/* In a pid namespace the kernel has killed every writer before the init's
	 * status is ready, so this reads to EOF; without one, a process left behind
	 * may hold the pipes and go on writing: take what is there, up to 8 MiB a stream.
	 * Clients get 2 seconds in all to take what is theirs, then are dropped. */
	long long deadline = monotonic_ms() + 2000; /* for clients, now that the container is gone */
	if (m.cons >= 0)
		console_recv();
	for (int s = 1; s <= 2; s++)
		for (int i = 0; i < 1024 && (s == 1 ? m.out : m.err) >= 0; i++) {
			flush_until(deadline);
			if (pump(s) <= 0)
				break;
		}
	flush_until(deadline);
	now(&ts);
	log_flush(1, &ts);
	log_flush(2, &ts);
	closefd(&m.log);

	int sig = status & 0x7f, code = sig ? 128 + sig : (status >> 8) & 0xff;
	size_t n = 0;
#define PUT(s) (memcpy(json + n, s, sizeof s - 1), n += sizeof s - 1)
	PUT("{\"pid\":");
	n += fmt_uint(json + n, pid);
	PUT(",\"exitCode\":");
	n += fmt_uint(json + n, code);
	PUT(",\"signal\":");
	n += fmt_uint(json + n, sig);
	PUT(",\"exitedAt\":\"");
	sys_clock_realtime(&ts);
	fmt_time(json + n, &ts);
	n += TIME_LEN;
	PUT("\"}\n");
	int fd = sys_openat(MFD_DIR, "exit.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		int ok = sys_write(fd, json, n) == (ssize_t)n && sys_fsync(fd) == 0;
		sys_close(fd);
		if (ok)
			sys_renameat(MFD_DIR, "exit.json.tmp", MFD_DIR, "exit.json");
	}
	broadcast(F_EXIT, json, n);
	flush_until(deadline + 1000);
	while (m.ncl)
		drop(0);
	sys_unlinkat(MFD_DIR, "attach.sock");
	sys_exit(0);
}

/* Reap every child that has exited; returns 1 (with *status) once c is among them. */
static int reap(pid_t c, int *status)
{
	int st, got = 0;
	pid_t p;
	while ((p = sys_wait4(-1, &st, WNOHANG)) > 0)
		if (p == c) {
			*status = st;
			got = 1;
		}
	return got;
}

int monitor_main(int argc, char **argv)
{
	long long worker = argc == 6 ? parse_uint(argv[1]) : -1, max_size = argc == 6 ? parse_uint(argv[2]) : -1,
		  max_files = argc == 6 ? parse_uint(argv[3]) : -1, flags = argc == 6 ? parse_uint(argv[5]) : -1;
	if (worker <= 0 || max_size < 0 || max_files < 1 || flags < 0) {
		static const char usage[] = "usage: berth-monitor <worker pid> <max size> <max files> <log name> <flags> (started by berth-init)\n";
		sys_write(2, usage, sizeof usage - 1);
		return 2;
	}
	/* the name ps shows, whatever the exec's file name was (execveat by fd names it after the fd on older kernels) */
	SYS(__NR_prctl, 15 /* PR_SET_NAME */, "berth-monitor", 0, 0, 0, 0);
	m.max_size = max_size;
	m.max_files = max_files;
	m.logname = argv[4];
	m.flags = flags;
	m.out = MFD_OUT, m.err = MFD_ERR, m.in = MFD_IN, m.log = MFD_LOG, m.cons = MFD_CONSOLE, m.tty = -1;
	long size = sys_lseek_end(m.log);
	if (size < 0)
		m.log = -1; /* no log */
	else
		m.size = size;
	/* closed slots: no stdin; with a terminal, no pipes but the console socket */
	int *slots[] = { &m.in, &m.out, &m.err, &m.cons };
	for (unsigned i = 0; i < sizeof slots / sizeof slots[0]; i++)
		if (sys_fcntl(*slots[i], F_GETFD, 0) < 0)
			*slots[i] = -1;

	/* The container's pid, from the worker; EOF: it failed before CLONE (and told the runtime). */
	unsigned char b[4];
	size_t got = 0;
	while (got < 4) {
		ssize_t r = sys_read(MFD_PID, b + got, 4 - got);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	sys_close(MFD_PID);
	pid_t c = 0;
	if (got == 4)
		memcpy(&c, b, 4);
	/* once the worker is reaped, the container is our child (we are its subreaper) */
	int st, status;
	while (sys_wait4(worker, &st, 0) == -EINTR)
		;
	if (c <= 0) {
		sys_unlinkat(MFD_DIR, "attach.sock");
		return 0;
	}

	/* SIGCHLD is blocked (berth-init blocked it before exec): it arrives here */
	unsigned long chld = 1UL << (SIGCHLD - 1);
	int sfd = sys_signalfd(&chld, O_NONBLOCK | O_CLOEXEC);
	if (sfd < 0) /* no signalfd: wait for the container alone */
		for (;;)
			if (sys_wait4(c, &status, 0) == c)
				finish(c, status);
	if (reap(c, &status))
		finish(c, status);

	struct pollfd pf[6 + MAX_CLIENTS];
	for (;;) {
		/* stdin waiting for the pipe: no more from clients; output waiting for a client: no more output */
		int blocked = m.plen > m.poff, hold = held(), n = 0;
		pf[n++] = (struct pollfd){ sfd, POLLIN, 0 };
		pf[n++] = (struct pollfd){ hold ? -1 : m.out, POLLIN, 0 }; /* a negative fd is skipped */
		pf[n++] = (struct pollfd){ hold ? -1 : m.err, POLLIN, 0 };
		pf[n++] = (struct pollfd){ MFD_LISTEN, POLLIN, 0 };
		pf[n++] = (struct pollfd){ blocked ? m.in : -1, POLLOUT, 0 };
		pf[n++] = (struct pollfd){ m.cons, POLLIN, 0 };
		for (int i = 0; i < m.ncl; i++) {
			/* a half-closed client is polled for its hangup (POLLHUP is always reported) */
			short ev = (blocked || m.cl[i].eof ? 0 : POLLIN) | (m.cl[i].olen ? POLLOUT : 0);
			pf[n++] = (struct pollfd){ ev || m.cl[i].eof ? m.cl[i].fd : -1, ev, 0 };
		}
		if (sys_ppoll(pf, n) < 0)
			continue; /* EINTR */
		if (pf[0].revents) {
			char si[128]; /* struct signalfd_siginfo */
			while (sys_read(sfd, si, sizeof si) > 0)
				;
			if (reap(c, &status))
				finish(c, status);
		}
		/* new clients first: one that connected before the output was read gets it */
		if (pf[3].revents)
			accept_clients();
		if (pf[5].revents)
			console_recv();
		if (pf[1].revents)
			pump(1);
		if (pf[2].revents)
			pump(2);
		if (pf[4].revents)
			stdin_flush();
		/* from the last: a drop moves the last client into the hole */
		for (int i = m.ncl - 1; i >= 0; i--) {
			struct pollfd *p = &pf[6 + i];
			if (6 + i >= n || p->fd != m.cl[i].fd || !p->revents)
				continue;
			if ((m.cl[i].olen && client_flush(i) < 0) || (p->events & POLLIN && client_read(i, p->revents & POLLHUP) < 0) ||
			    (m.cl[i].eof && p->revents & POLLHUP_ERR))
				drop(i);
		}
	}
}
