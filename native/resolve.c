/*
 * Path resolution inside the container's root, the security-critical part of
 * berth-init: a container image controls every symlink in its rootfs, and a
 * mount target that escaped it (e.g. /etc -> /host/etc, or ../../../etc) would
 * mount over the host. Every lookup here goes through openat2(RESOLVE_IN_ROOT),
 * which makes the kernel treat the root fd as "/" for absolute symlinks and
 * clamps ".." at it. Missing components are created with *at() calls relative
 * to an fd that was itself resolved that way, then looked up again the same way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#else
#include <linux/types.h>
struct open_how {
	__u64 flags;
	__u64 mode;
	__u64 resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#include "berth.h"

/* O_PATH fd of path resolved with rootfd as "/"; -1 with errno on failure. */
static int open_in_root(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		/* No magic links either: /proc/self/root and friends would leave the root. */
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	if (*path == '\0')
		path = "/";
	/* EAGAIN: a concurrent rename or mount raced the lookup; the kernel asks to retry. */
	for (int tries = 0;; tries++) {
		int fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
		if (fd >= 0 || errno != EAGAIN || tries == 32)
			return fd;
	}
}

int in_root_open(int rootfd, const char *path, struct err *e)
{
	int fd = open_in_root(rootfd, path);
	if (fd < 0)
		return fail(e, errno, "open \"%s\"", path);
	return fd;
}

int in_root_create(int rootfd, const char *path, int leaf_file, mode_t leaf_mode, struct err *e)
{
	char prefix[PATH_MAX], name[NAME_MAX + 1];
	size_t n = 0;
	const char *p = path;
	/* cur: the resolved directory that the next component lives in. */
	int cur = open_in_root(rootfd, "/");
	if (cur < 0)
		return fail(e, errno, "open root");

	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		const char *end = strchrnul(p, '/');
		size_t len = end - p;
		int last = end[strspn(end, "/")] == '\0';
		if (len > NAME_MAX || n + 1 + len + 1 > sizeof prefix) {
			close(cur);
			return fail(e, ENAMETOOLONG, "resolve \"%s\"", path);
		}
		memcpy(name, p, len);
		name[len] = '\0';
		prefix[n++] = '/';
		memcpy(prefix + n, name, len + 1);
		n += len;
		p = end;

		int fd = open_in_root(rootfd, prefix);
		if (fd < 0 && errno == ENOENT) {
			/*
			 * name is a plain component ("." and ".." always exist) and cur
			 * is inside the root, so this creates inside the root. EEXIST is a
			 * race or a dangling symlink: the lookup below sorts it out (the
			 * latter fails with ENOENT, we never create through a symlink).
			 */
			int r;
			if (last && leaf_file) {
				r = openat(cur, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
				if (r >= 0)
					close(r);
			} else {
				r = mkdirat(cur, name, last ? leaf_mode : 0755);
			}
			if (r < 0 && errno != EEXIST) {
				int err = errno;
				close(cur);
				return fail(e, err, "create \"%s\"", prefix);
			}
			fd = open_in_root(rootfd, prefix);
		}
		if (fd < 0) {
			int err = errno;
			close(cur);
			return fail(e, err, "open \"%s\"", prefix);
		}
		close(cur);
		cur = fd;
	}
	return cur;
}

int in_root_parent(int rootfd, const char *path, char *buf, size_t buflen, const char **leaf, struct err *e)
{
	size_t len = strlen(path);
	if (len >= buflen)
		return fail(e, ENAMETOOLONG, "resolve \"%s\"", path);
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	char *slash = strrchr(buf, '/');
	const char *parent = "/";
	if (slash) {
		*slash = '\0';
		*leaf = slash + 1;
		parent = buf;
	} else {
		*leaf = buf;
	}
	if (**leaf == '\0' || strcmp(*leaf, ".") == 0 || strcmp(*leaf, "..") == 0)
		return fail(e, EINVAL, "\"%s\" does not end in a file name", path);
	return in_root_create(rootfd, parent, 0, 0755, e);
}
