/*
 * Terminals: the console socket (runc's protocol: one message on a connected
 * AF_UNIX stream socket whose data is the name "/dev/ptmx" and whose SCM_RIGHTS
 * carries the pty master) and the pty pair, allocated inside the container's
 * own devpts so the slave belongs to the container.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "berth.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int console_connect(const char *path, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path)
		return fail(e, ENAMETOOLONG, "console socket \"%s\"", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(e, errno, "console socket \"%s\": socket", path);
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (errno == EINTR)
			continue;
		int err = errno;
		close(fd);
		return fail(e, err, "console socket \"%s\": connect", path);
	}
	return fd;
}

int pty_open(const char *ptmx, int *master, int *slave, struct err *e)
{
	struct stat st;
	int unlock = 0;
	*slave = -1;
	if ((*master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return fail(e, errno, "open \"%s\"", ptmx);
	if (fstat(*master, &st) < 0) {
		fail(e, errno, "stat \"%s\"", ptmx);
		goto out;
	}
	/* the container controls its /dev: insist on the multiplexer (char 5:2) */
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2) {
		fail_msg(e, ENOTTY, "\"%s\" is not a pty multiplexer", ptmx);
		goto out;
	}
	if (ioctl(*master, TIOCSPTLCK, &unlock) < 0) {
		fail(e, errno, "unlock pty");
		goto out;
	}
	/* the slave of this very master, without looking up a path the container controls */
	if ((*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		fail(e, errno, "open pty slave");
		goto out;
	}
	return 0;
out:
	close(*master);
	*master = -1;
	return -1;
}

int send_fd(int sock, const char *name, int fd, struct err *e)
{
	char cbuf[CMSG_SPACE(sizeof fd)];
	struct iovec iov = { (void *)name, strlen(name) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	memset(cbuf, 0, sizeof cbuf);
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof fd);
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return fail(e, errno, "send the pty master on the console socket");
	return 0;
}
