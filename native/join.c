/*
 * Joining a running container's namespaces (exec). Everything is opened
 * through one fd of /proc/<pid>, taken before anything else: once the pid is
 * reused by another process, lookups under that fd fail instead of reaching the
 * newcomer, and the start time read through it proves it is still the
 * container's init. All namespace fds are opened before the first setns, since
 * after joining the mount namespace "/proc" would be the container's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "berth.h"

#define MAX_NS 16

/* Field 22 (starttime) of <dir>/stat into out; -1 with errno on failure. */
static int start_time(int dir, char *out, size_t outlen)
{
	char buf[1024];
	int fd = openat(dir, "stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	int err = errno;
	close(fd);
	if (n < 0) {
		errno = err;
		return -1;
	}
	buf[n] = '\0';
	/* the command name (field 2) may hold spaces and ')': start after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p) {
		errno = EINVAL;
		return -1;
	}
	p++; /* the space before field 3 */
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p) {
		errno = EINVAL;
		return -1;
	}
	p++;
	size_t len = strcspn(p, " \n");
	if (len >= outlen) {
		errno = EINVAL;
		return -1;
	}
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

int join_namespaces(uint32_t pid, const char *starttime, char *const *names, struct err *e)
{
	char path[32], st[32], rel[32];
	int fds[MAX_NS], n = 0, r = -1, dir;
	snprintf(path, sizeof path, "/proc/%u", pid);
	if ((dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return fail(e, errno == ENOENT ? ESRCH : errno, "join container init %u", pid);
	if (start_time(dir, st, sizeof st) < 0) {
		fail(e, errno == ENOENT ? ESRCH : errno, "join container init %u: read start time", pid);
		goto out;
	}
	if (strcmp(st, starttime) != 0) {
		fail_msg(e, ESRCH, "join container init %u: it is gone (pid reused)", pid);
		goto out;
	}
	for (; names[n]; n++) {
		if (n == MAX_NS) {
			fail_msg(e, E2BIG, "join container init %u: more than %d namespaces", pid, MAX_NS);
			goto out;
		}
		snprintf(rel, sizeof rel, "ns/%.20s", names[n]);
		if ((fds[n] = openat(dir, rel, O_RDONLY | O_CLOEXEC)) < 0) {
			fail(e, errno, "join %s namespace of %u: open", names[n], pid);
			goto out;
		}
	}
	for (int i = 0; i < n; i++)
		if (setns(fds[i], 0) < 0) {
			fail(e, errno, "join %s namespace of %u", names[i], pid);
			goto out;
		}
	r = 0;
out:
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(dir);
	return r;
}
