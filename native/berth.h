/* Shared declarations of berth-init: the error struct and in-root path resolution. */
#ifndef BERTH_H
#define BERTH_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Every step that can fail returns -1 and fills one of these. The message names
 * the step and its argument ("mount \"proc\" on \"/proc\": No such device"); it is
 * sent to the runtime in MSG_ERROR together with errnum.
 */
struct err {
	int errnum;
	char msg[1024];
};

/* Set e to "<fmt...>: strerror(errnum)"; returns -1. */
int fail(struct err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Set e to "<fmt...>" exactly (no strerror suffix); returns -1. */
int fail_msg(struct err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepend "<fmt...>: " to the message already in e; returns -1. */
int wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A parsed plan instruction. Fields of each kind are numbered in the order they
 * appear: MOUNT(source, target, where, fstype, flags, data) has s[0]=source,
 * s[1]=target, n[0]=where, s[2]=fstype, n[1]=flags, s[3]=data. Strings point
 * into the plan buffer, which lives until exec. (A unit test checks that no
 * opcode has more fields of a kind than these arrays hold.)
 */
struct ins {
	uint32_t op;
	uint64_t n[8];
	char *s[4];
	const uint8_t *b;
	uint32_t blen;
	char **v[2];
};

/* open(path, O_WRONLY) and write data in one write(2) (berth-init.c). */
int write_file(const char *path, const char *data, struct err *e);
/* The O_PATH fd ROOT_* paths resolve in: the rootfs, or "/" after the switch (berth-init.c). */
int plan_root(struct err *e);

/* Steps in native/idmap.c (OPEN_TREE, MOVE_MOUNT) and native/features.c
 * (PERSONALITY, IOPRIO, SCHED_ATTR, CPU_AFFINITY, MEMPOLICY); -1 with e filled. */
int idmap_step(const struct ins *in, struct err *e);
int feature_step(const struct ins *in, struct err *e);
int link_up(const char *name, struct err *e);

/* Monitor mode (native/monitor.c): MONITOR returns 0 only in the process that
 * runs the rest of the plan; CLONE's parent there reports the container's pid.
 * With a terminal, *consfd becomes the console socket whose other end the
 * monitor holds (the PTY step sends the master there). */
int monitor_step(const struct ins *in, int syncfd, int *consfd, struct err *e);
void monitor_cloned(pid_t pid);

/*
 * Path resolution inside a root directory (resolve.c). rootfd is an O_PATH
 * directory fd; path is taken relative to it whether or not it starts with '/'.
 * Symlinks and ".." are resolved by the kernel as if rootfd were "/"
 * (openat2 RESOLVE_IN_ROOT), so nothing here can reach outside of it.
 * All functions return a new O_PATH|O_CLOEXEC fd, or -1 with e filled.
 */

/* The object at path; it must exist. */
int in_root_open(int rootfd, const char *path, struct err *e);

/*
 * The object at path, creating missing components: directories with mode 0755,
 * the leaf as a directory with leaf_mode, or as an empty file (mode 0644) if
 * leaf_file. An existing leaf of any kind is fine.
 */
int in_root_create(int rootfd, const char *path, int leaf_file, mode_t leaf_mode, struct err *e);

/*
 * The parent directory of path (created as with in_root_create); *leaf is set
 * to point at the last component of path inside buf (a copy of path, size
 * buflen). The leaf must be a plain name (not "", "." or "..").
 */
int in_root_parent(int rootfd, const char *path, char *buf, size_t buflen, const char **leaf, struct err *e);

/*
 * The sealed binary (seal.c). seal_self returns 0 if the process already runs
 * from a sealed memfd; otherwise it re-executes from a sealed copy of itself
 * and returns only on failure (-1, e filled).
 */
int seal_self(char **argv, char **envp, struct err *e);
int is_sealed_fd(int fd);

/*
 * Join the namespaces of a running process (join.c): names are entries of
 * /proc/<pid>/ns, joined in the given order (user first); starttime is field 22
 * of its stat, checked so a reused pid is never joined.
 */
int join_namespaces(uint32_t pid, const char *starttime, char *const *names, struct err *e);

/* Terminals (pty.c). Each returns -1 with e filled on failure. */
/* A connected AF_UNIX stream socket to path (close-on-exec). */
int console_connect(const char *path, struct err *e);
/* Open the multiplexer at ptmx (checked to be char 5:2), unlock it, open its slave. */
int pty_open(const char *ptmx, int *master, int *slave, struct err *e);
/* One message on sock: data name, SCM_RIGHTS fd. */
int send_fd(int sock, const char *name, int fd, struct err *e);
/* An OCI hook run by the container init (hook.c). */
struct hook {
	const char *name;  /* config field, for messages: hooks.createContainer[0] */
	const char *path;  /* absolute, resolved in the current root */
	char **argv;       /* NULL or empty: { path } */
	char **env;
	unsigned timeout;  /* seconds; 0: no limit */
	const uint8_t *state; /* container state JSON, written to the hook's stdin */
	size_t state_len;
};

/*
 * Run a hook to completion: 0 if it exited 0, else -1 with e naming the hook
 * and quoting the end of its output (stdout and stderr together).
 */
int run_hook(const struct hook *h, struct err *e);

#endif
