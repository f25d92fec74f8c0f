/*
 * Mount trees prepared in the runtime's namespaces and attached by the
 * container init (src/runtime/plan/host-trees.ts says which and why).
 *
 * OPEN_TREE runs before CLONE: it clones the source tree (open_tree
 * OPEN_TREE_CLONE, a detached mount, resolved with the runtime's privileges),
 * makes it a slave of its source (so the container's mounts under it never
 * propagate back to a shared host mount), and, for an idmapped mount, sets
 * MOUNT_ATTR_IDMAP -- which needs CAP_SYS_ADMIN over the filesystem's user
 * namespace, the host's, that the container init no longer has. The idmap's
 * user namespace comes from a helper process: forked into CLONE_NEWUSER, it
 * blocks on a pipe while we (root in the parent namespace) write its
 * uid_map/gid_map and open /proc/<pid>/ns/user; then the pipe is closed, it
 * exits and is reaped. The mount keeps its own reference to the namespace.
 *
 * The detached tree's fd waits in a slot; the container init inherits it across
 * CLONE, and MOVE_MOUNT attaches it at its place in the mount order, resolved
 * inside the rootfs like every other target, then closes the slot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth.h"
#include "opcodes.h"

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#define BERTH_MOUNT_ATTR_IDMAP 0x00100000
#ifndef MS_SLAVE
#define MS_SLAVE (1 << 19)
#endif

/* struct mount_attr (linux/mount.h), spelled out: older libc headers lack it. */
struct berth_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

#define TREE_RECURSIVE 1u /* clone the submounts too (rbind) */
#define IDMAP_RECURSIVE 2u /* idmap the submounts too (ridmap) */
#define MAX_SLOTS 1024u

static int *trees;
static uint32_t ntrees;

static int slot_put(uint32_t slot, int fd, struct err *e)
{
	if (slot >= MAX_SLOTS)
		return fail_msg(e, EINVAL, "mount tree slot %u: over the limit of %u", slot, MAX_SLOTS);
	if (slot >= ntrees) {
		int *t = realloc(trees, (slot + 1) * sizeof *t);
		if (!t)
			return fail(e, ENOMEM, "mount tree slot %u", slot);
		for (uint32_t i = ntrees; i <= slot; i++)
			t[i] = -1;
		trees = t;
		ntrees = slot + 1;
	}
	if (trees[slot] >= 0)
		return fail_msg(e, EINVAL, "mount tree slot %u: already in use", slot);
	trees[slot] = fd;
	return 0;
}

/* Take the fd out of a slot; -1 if empty. */
static int slot_take(uint32_t slot)
{
	if (slot >= ntrees || trees[slot] < 0)
		return -1;
	int fd = trees[slot];
	trees[slot] = -1;
	return fd;
}

/* A user namespace fd whose uid_map/gid_map are the given texts. */
static int userns_with_maps(const char *uidmap, const char *gidmap, struct err *e)
{
	int gate[2], nsfd = -1, status;
	char path[64];
	if (pipe2(gate, O_CLOEXEC) < 0)
		return fail(e, errno, "idmap user namespace: pipe");
	pid_t pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0, 0, 0, 0);
	if (pid < 0) {
		int err = errno;
		close(gate[0]);
		close(gate[1]);
		return fail(e, err, "idmap user namespace: clone");
	}
	if (pid == 0) {
		/* the helper: wait for EOF (the parent closed the gate, or died), then go */
		char c;
		close(gate[1]);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(gate[0]);
	snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
	if (write_file(path, uidmap, e) < 0) {
		wrap(e, "idmap user namespace: uid map");
		goto out;
	}
	snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
	if (write_file(path, gidmap, e) < 0) {
		wrap(e, "idmap user namespace: gid map");
		goto out;
	}
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	if ((nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		fail(e, errno, "idmap user namespace: open %s", path);
out:
	close(gate[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return nsfd;
}

static int set_attr(int tree, int recursive, const struct berth_mount_attr *attr)
{
	return syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), attr, sizeof *attr);
}

static int open_tree_slot(const struct ins *in, struct err *e)
{
	uint32_t slot = in->n[0], flags = in->n[1];
	const char *src = in->s[0], *uidmap = in->s[1], *gidmap = in->s[2];
	int tree = syscall(SYS_open_tree, AT_FDCWD, src,
			   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (flags & TREE_RECURSIVE ? AT_RECURSIVE : 0));
	if (tree < 0)
		return fail(e, errno, "bind \"%s\": open_tree", src);
	/* the whole tree: a bind made in a slave mount namespace is a slave too */
	struct berth_mount_attr slave = { .propagation = MS_SLAVE };
	if (set_attr(tree, 1, &slave) < 0) {
		fail(e, errno, "bind \"%s\": make the tree a slave", src);
		goto out;
	}
	if (*uidmap || *gidmap) {
		int nsfd = userns_with_maps(uidmap, gidmap, e);
		if (nsfd < 0) {
			wrap(e, "idmapped mount of \"%s\"", src);
			goto out;
		}
		struct berth_mount_attr idmap = { .attr_set = BERTH_MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)nsfd };
		int r = set_attr(tree, flags & IDMAP_RECURSIVE, &idmap), err = errno;
		close(nsfd);
		if (r < 0) {
			if (err == EINVAL)
				fail_msg(e, err,
					 "idmapped mount of \"%s\": mount_setattr: %s (the filesystem may not support idmapped mounts)",
					 src, strerror(err));
			else
				fail(e, err, "idmapped mount of \"%s\": mount_setattr", src);
			goto out;
		}
	}
	if (slot_put(slot, tree, e) == 0)
		return 0;
out:
	close(tree);
	return -1;
}

static int move_mount_slot(const struct ins *in, struct err *e)
{
	uint32_t slot = in->n[0];
	uint64_t where = in->n[1];
	const char *dst = in->s[0];
	int tree = slot_take(slot), tfd, base, r, err;
	if (tree < 0)
		return fail_msg(e, EBADF, "attach mount tree on \"%s\": slot %u is empty", dst, slot);
	if (where > WHERE_ROOT) {
		close(tree);
		return fail_msg(e, EINVAL, "attach mount tree on \"%s\": bad where %llu", dst, (unsigned long long)where);
	}
	if (where == WHERE_HOST)
		tfd = open(dst, O_PATH | O_CLOEXEC);
	else if ((base = plan_root(e)) < 0)
		tfd = -1;
	else if (where == WHERE_ROOT)
		tfd = in_root_open(base, dst, e);
	else
		tfd = in_root_create(base, dst, where == WHERE_ROOT_FILE, 0755, e);
	if (tfd < 0) {
		close(tree);
		if (where == WHERE_HOST)
			return fail(e, errno, "attach mount tree on \"%s\"", dst);
		return wrap(e, "attach mount tree on \"%s\"", dst);
	}
	r = syscall(SYS_move_mount, tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	err = errno;
	close(tfd);
	close(tree);
	return r < 0 ? fail(e, err, "attach mount tree on \"%s\": move_mount", dst) : 0;
}

int idmap_step(const struct ins *in, struct err *e)
{
	switch (in->op) {
	case OP_OPEN_TREE:
		return open_tree_slot(in, e);
	case OP_MOVE_MOUNT:
		return move_mount_slot(in, e);
	}
	return fail_msg(e, EINVAL, "mount trees: unexpected opcode %u", in->op);
}
