/**
 * The InitPlan instruction set: the single source of truth shared by the plan
 * compiler (TypeScript) and berth-init (C). `bun scripts/gen-native-header.ts`
 * writes native/opcodes.h from this file; a unit test checks it is up to date.
 *
 * A plan is a list of instructions that berth-init executes in order, deciding
 * nothing: every path, flag and number is precomputed here. Field kinds:
 *   u32, u64  little-endian integers
 *   str       u32 length, bytes, NUL (length counts the NUL)
 *   bytes     u32 length, raw bytes
 *   strv      u32 count, then count x str
 * Record on the wire: u32 opcode, u32 payload length, payload.
 *
 * Path kinds (field `where` of path-taking ops):
 *   0 HOST      absolute path in the caller's mount namespace, used as is
 *   1 ROOT_DIR  path inside the rootfs; resolved without leaving it, missing
 *               components created as directories (the leaf too)
 *   2 ROOT_FILE as ROOT_DIR but the leaf is created as an empty file
 *   3 ROOT      path inside the rootfs; must exist
 */
export type FieldKind = "u32" | "u64" | "str" | "bytes" | "strv";
export interface OpDef {
  code: number;
  fields: ReadonlyArray<readonly [name: string, kind: FieldKind]>;
  doc: string;
  /** the config.json field an op applies; a failing step's error names it */
  specField?: string;
}

export const OPS = {
  // ---- executed by berth-init before CLONE (in the caller's namespaces) ----
  SETNS: { code: 1, fields: [["nstype", "u64"], ["path", "str"]], doc: "join the namespace at path (setns)" },
  UNSHARE: { code: 2, fields: [["flags", "u64"]], doc: "unshare(flags); used for CLONE_NEWTIME before CLONE" },
  WRITE_FILE: { code: 3, fields: [["path", "str"], ["data", "str"]], doc: "open(path, O_WRONLY) and write data" },
  CLONE: {
    code: 4,
    fields: [["flags", "u64"], ["stay", "u32"]],
    doc: "fork into new namespaces; the parent sends MSG_PID and, if stay, waits and exits with the child's status, else exits 0",
  },
  // ---- executed by the container's init process ----
  SYNC: { code: 10, fields: [["tag", "u32"]], doc: "send MSG_SYNC(tag) and block until MSG_ACK(tag)" },
  SETSID: { code: 11, fields: [], doc: "setsid()" },
  MOUNT: {
    code: 12,
    fields: [["source", "str"], ["target", "str"], ["where", "u32"], ["fstype", "str"], ["flags", "u64"], ["data", "str"]],
    doc: "mount(source, target, fstype, flags, data); source is a host path or a fs name",
  },
  REMOUNT: {
    code: 13,
    fields: [["target", "str"], ["where", "u32"], ["flags", "u64"], ["data", "str"]],
    doc: "mount(NULL, target, NULL, MS_REMOUNT|flags|locked flags of the mount, data)",
  },
  MKNOD: {
    code: 14,
    fields: [["path", "str"], ["mode", "u32"], ["dev", "u64"], ["uid", "u32"], ["gid", "u32"]],
    doc: "mknod a device inside the rootfs (replacing an existing file), then chown and chmod",
  },
  SYMLINK: { code: 15, fields: [["target", "str"], ["path", "str"]], doc: "symlink(target, path inside rootfs); an existing path is left alone" },
  PIVOT_ROOT: { code: 16, fields: [["rootfs", "str"]], doc: "pivot_root into rootfs, detach the old root" },
  MOVE_ROOT: { code: 17, fields: [["rootfs", "str"]], doc: "no-pivot: MS_MOVE rootfs onto / and chroot" },
  MASK: { code: 18, fields: [["path", "str"]], doc: "mask a path of the new root: /dev/null over files, read-only tmpfs over dirs; missing is ok" },
  READONLY_PATH: { code: 19, fields: [["path", "str"]], doc: "bind a path of the new root on itself read-only; missing is ok" },
  SETHOSTNAME: { code: 20, fields: [["name", "str"]], doc: "sethostname" },
  SETDOMAINNAME: { code: 21, fields: [["name", "str"]], doc: "setdomainname" },
  RLIMIT: { code: 22, fields: [["resource", "u32"], ["soft", "u64"], ["hard", "u64"]], doc: "setrlimit" },
  UMASK: { code: 23, fields: [["mask", "u32"]], doc: "umask" },
  CHDIR: { code: 24, fields: [["path", "str"]], doc: "chdir" },
  KEEPCAPS: { code: 25, fields: [["on", "u32"]], doc: "prctl(PR_SET_KEEPCAPS, on)" },
  CAP_BOUNDING: { code: 26, fields: [["keep", "u64"]], doc: "drop every capability not in keep from the bounding set" },
  SETGROUPS: { code: 27, fields: [["gids", "bytes"]], doc: "setgroups (u32 array)" },
  SETGID: { code: 28, fields: [["gid", "u32"]], doc: "setresgid(gid, gid, gid)" },
  SETUID: { code: 29, fields: [["uid", "u32"]], doc: "setresuid(uid, uid, uid)" },
  CAPSET: { code: 30, fields: [["effective", "u64"], ["permitted", "u64"], ["inheritable", "u64"]], doc: "capset v3" },
  AMBIENT: { code: 31, fields: [["mask", "u64"]], doc: "clear the ambient set, then raise each capability in mask" },
  NO_NEW_PRIVS: { code: 32, fields: [], doc: "prctl(PR_SET_NO_NEW_PRIVS, 1)" },
  SECCOMP: { code: 33, fields: [["flags", "u32"], ["filter", "bytes"]], doc: "load a BPF filter (struct sock_filter array) with seccomp(2)" },
  FIFO_OPEN: { code: 34, fields: [["path", "str"]], doc: "open the exec fifo (host path) for reading, O_NONBLOCK, keep the fd" },
  FIFO_WAIT: { code: 35, fields: [], doc: "poll the exec fifo until `start` writes a byte, read it, close the fd" },
  EXEC_PREPARE: { code: 36, fields: [["file", "str"], ["path", "str"]], doc: "resolve file against the PATH value (if no '/') and check it is executable" },
  CLOSE_FDS: { code: 37, fields: [["first", "u32"]], doc: "mark every fd >= first close-on-exec (except stdio)" },
  READY: { code: 38, fields: [], doc: "send MSG_READY" },
  EXEC: { code: 39, fields: [["argv", "strv"], ["env", "strv"]], doc: "execve the file resolved by EXEC_PREPARE" },
  OOM_SCORE_ADJ: { code: 40, fields: [["value", "str"]], doc: "write /proc/self/oom_score_adj" },
  ROOTFS: { code: 42, fields: [["path", "str"]], doc: "open path (host) as the root that ROOT_* paths resolve in; PIVOT_ROOT/MOVE_ROOT reset it to /" },
  MKDIR: { code: 41, fields: [["path", "str"], ["where", "u32"], ["mode", "u32"]], doc: "create a directory (and parents) inside the rootfs or on the host" },
  // ---- exec and terminals (codes 55-64) ----
  JOIN_NS: {
    code: 55,
    fields: [["pid", "u32"], ["starttime", "str"], ["names", "strv"]],
    doc: "open /proc/<pid> and check its start time (field 22 of stat), open ns/<name> for every name, then setns each in order",
  },
  CONSOLE: {
    code: 56,
    fields: [["path", "str"], ["fd", "u32"]],
    doc: "the console socket: connect to the unix socket at path (host), or when path is empty adopt the inherited fd",
  },
  PTY: {
    code: 57,
    fields: [["ptmx", "str"], ["rows", "u32"], ["cols", "u32"], ["console", "str"], ["uid", "u32"]],
    doc: "open ptmx (must be a pty multiplexer), size it (if rows and cols), bind the slave on console (a path in the root, unless empty), give it to uid, send the master on the console socket, make the slave the controlling terminal and stdio",
  },
  DUMPABLE: {
    code: 58,
    fields: [["on", "u32"]],
    doc: "prctl(PR_SET_DUMPABLE, on): berth-init is non-dumpable from its start; an unprivileged runtime needs it dumpable to write the id maps",
  },
  // ---- 67-74: idmapped mounts and process/kernel features (native/idmap.c, native/features.c) ----
  OPEN_TREE: {
    code: 67,
    fields: [["slot", "u32"], ["source", "str"], ["flags", "u32"], ["uidMap", "str"], ["gidMap", "str"]],
    doc: "before CLONE: clone the tree at source (host path; flags bit 0: with submounts) as a detached slave mount kept in slot; with uid_map/gid_map text, idmap it with a user namespace made for them (flags bit 1: the submounts too)",
  },
  MOVE_MOUNT: {
    code: 68,
    fields: [["slot", "u32"], ["target", "str"], ["where", "u32"]],
    doc: "attach the detached tree in slot at target (move_mount) and close the slot",
  },
  PERSONALITY: { code: 69, fields: [["persona", "u32"]], doc: "personality(persona)", specField: "linux.personality" },
  IOPRIO: {
    code: 70,
    fields: [["which", "u32"], ["who", "u32"], ["ioprio", "u32"]],
    doc: "ioprio_set(which, who, ioprio)",
    specField: "process.ioPriority",
  },
  SCHED_ATTR: {
    code: 71,
    fields: [["policy", "u32"], ["flags", "u64"], ["nice", "u32"], ["priority", "u32"], ["runtime", "u64"], ["deadline", "u64"], ["period", "u64"]],
    doc: "sched_setattr(0, attr, 0); nice is a two's complement i32",
    specField: "process.scheduler",
  },
  CPU_AFFINITY: { code: 72, fields: [["mask", "bytes"]], doc: "sched_setaffinity(0) to the cpu bitmask (little-endian bytes, a multiple of 8)" },
  MEMPOLICY: {
    code: 73,
    fields: [["mode", "u32"], ["nodes", "bytes"]],
    doc: "set_mempolicy(mode|flags, node bitmask (multiple of 8 bytes; empty = NULL))",
    specField: "linux.memoryPolicy",
  },
  LINK_UP: { code: 90, fields: [["name", "str"]], doc: "bring a network interface of the current netns up (lo of a new netns)" },
  // ---- OCI hooks and the start handshake (reserved range 50-54) ----
  HOOK: {
    code: 50,
    fields: [["name", "str"], ["path", "str"], ["args", "strv"], ["env", "strv"], ["timeout", "u32"]],
    doc: "fork+exec an OCI hook (name is its config field, for errors) in the current namespaces and root, the hook state from the last ACK on stdin, output captured; SIGKILL after timeout seconds (0: none); fails unless it exits 0",
  },
  START_STATUS: {
    code: 51,
    fields: [["path", "str"]],
    doc: "open the start-status fifo (host path) read-write, close-on-exec; later failures are also written there as MSG_ERROR frames, and the exec closing it tells `start` the process runs",
  },
  FAIL: { code: 52, fields: [["message", "str"]], doc: "fail with message (EINVAL)" },
  CHROOT: {
    code: 53,
    fields: [["rootfs", "str"]],
    doc: "chroot into rootfs and chdir /: the root switch of a container without its own mount namespace (pivot_root or MS_MOVE would change the host's mounts)",
  },
  // ---- 80-89: monitor mode (native/monitor.c; the engine's per-container monitor) ----
  MONITOR: {
    code: 80,
    fields: [["program", "str"], ["dir", "str"], ["log", "str"], ["maxSize", "u64"], ["maxFiles", "u32"], ["flags", "u32"]],
    doc: "first op of a monitored plan (native/monitor.c): open the log (host path; \"\" = none) and dir (host), listen on dir/attach.sock, make the stdio pipes, then fork the detached monitor (new session, subreaper; writes dir/monitor.pid and holds its flock; execs program, berth-monitor) after forking the worker that runs the rest of the plan with the pipes as stdio; the top exits 0. CLONE's parent in the worker hands the container's pid to the monitor and exits. flags: bit 0 keep stdin open (else /dev/null)",
  },
} as const satisfies Record<string, OpDef>;

export type OpName = keyof typeof OPS;

export const Where = { HOST: 0, ROOT_DIR: 1, ROOT_FILE: 2, ROOT: 3 } as const;

/**
 * Messages on the sync socket (SOCK_STREAM; frames: u32 type, u32 length, payload).
 *
 *   runtime (TypeScript)             berth-init parent            container init
 *   ---------------------------------------------------------------------------
 *   spawn(berth-init, sync fd) ──►
 *   MSG_PLAN(records) ─────────────► read plan
 *                                    (MONITOR, first: fork the monitor,
 *                                     which forks the rest; top exits 0)
 *                                    SETNS / UNSHARE / WRITE_FILE
 *                                    CLONE ─────────────────────► (child)
 *          ◄──────────────────────── MSG_PID(child pid)
 *                                    exit 0, or wait (stay), or
 *                                    hand the pid to the monitor and exit
 *          ◄──────────────────────────────────────────────────── MSG_SYNC(IDMAP)
 *   write uid_map/gid_map, join
 *   cgroup
 *   MSG_ACK(IDMAP) ──────────────────────────────────────────────►
 *                                                                mounts, devices
 *          ◄──────────────────────────────────────────────────── MSG_SYNC(CREATE_CONTAINER)
 *   prestart, createRuntime hooks                                 (only if there are hooks)
 *   MSG_ACK(CREATE_CONTAINER, state) ────────────────────────────►
 *                                                                createContainer HOOKs, pivot,
 *                                                                hostname, rlimits, creds...
 *          ◄──────────────────────────────────────────────────── MSG_READY
 *   state "created"; close socket                                FIFO_WAIT (blocks)
 *   `start`: open start.status, write a byte to exec.fifo ──────► startContainer HOOKs, EXEC
 *   EOF on start.status (exec closed it) ◄─────────────────────── (or MSG_ERROR there)
 *   poststart hooks
 *
 * Any step that fails sends MSG_ERROR (u32 op index, u32 opcode, i32 errno,
 * str message) and exits 1. The runtime answers MSG_SYNC with MSG_ACK (u32 tag,
 * then optionally the hook state JSON to the end of the frame) or MSG_ABORT
 * (the child exits 1).
 */
export const MSG = {
  PLAN: 1,
  PID: 2,
  SYNC: 3,
  ACK: 4,
  READY: 5,
  ERROR: 6,
  ABORT: 7,
} as const;

/** Tags of SYNC points. */
export const SYNC_TAG = {
  /** child is in its new namespaces: write id maps, join cgroup, run createRuntime hooks */
  SETUP: 1,
  /**
   * mounts done, before pivot_root: the runtime runs the prestart and
   * createRuntime hooks, then ACKs with the hook state (JSON) as payload, which
   * the following HOOK (createContainer, later startContainer) get on stdin
   */
  CREATE_CONTAINER: 2,
} as const;

/** The config.json field a failing op applied, if it names one. */
export function opSpecField(code: number): string | undefined {
  for (const def of Object.values(OPS) as OpDef[]) if (def.code === code) return def.specField;
  return undefined;
}

export function opName(code: number): string {
  for (const [name, def] of Object.entries(OPS)) if (def.code === code) return name;
  return `op${code}`;
}
