/**
 * Docker's default seccomp profile (moby/profiles seccomp/default.json, Apache-2.0),
 * restated as data for berth: default ERRNO(EPERM), an allow list, argument-
 * conditioned rules, and rules that Docker includes or excludes by the container's
 * capabilities (bounding set) and the host architecture. dockerDefaultSeccomp()
 * resolves those conditions the way Docker's engine does and returns a plain OCI
 * `linux.seccomp` object; with no options it is resolved for Docker's default
 * capability set on the host's architecture.
 *
 * Docker's one kernel-version condition (ptrace & process_vm_* allowed without
 * CAP_SYS_PTRACE on kernels >= 4.8) is taken as met: berth needs a newer kernel
 * anyway (openat2, Linux 5.6).
 */
import type { LinuxSeccomp, LinuxSyscall } from "./types.ts";

/** Docker's default capabilities (moby oci/caps defaults). */
export const DOCKER_DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
];

/**
 * Architecture names as Docker's profile uses them in includes/excludes
 * (amd64, x86, x32, arm, arm64, ppc64le, s390, s390x, riscv64, ...).
 */
export type DockerArch = string;

/** Native arch -> the architectures the filter accepts (Docker's archMap). */
const ARCH_MAP: Record<DockerArch, string[]> = {
  amd64: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  arm64: ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
  mips64: ["SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"],
  mips64n32: ["SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"],
  mipsel64: ["SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"],
  mipsel64n32: ["SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"],
  s390x: ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"],
  riscv64: ["SCMP_ARCH_RISCV64"],
  loong64: ["SCMP_ARCH_LOONGARCH64"],
};

/** Node's process.arch -> Docker's arch name. */
const FROM_NODE_ARCH: Record<string, DockerArch> = {
  x64: "amd64",
  ia32: "x86",
  arm: "arm",
  arm64: "arm64",
  ppc64: "ppc64le", // Linux/ppc64 under Node is little-endian
  s390: "s390",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
  mips: "mips",
  mipsel: "mipsel",
};

interface Condition {
  caps?: string[];
  arches?: DockerArch[];
}
interface ProfileRule extends LinuxSyscall {
  /** Kept only if the container has ALL these caps and the arch is one of these. */
  includes?: Condition;
  /** Dropped if the container has ANY of these caps or the arch is one of these. */
  excludes?: Condition;
}

// clone(2) flags that create namespaces; clone without CAP_SYS_ADMIN must not set any.
const CLONE_NEWNS = 0x00020000;
const CLONE_NEWCGROUP = 0x02000000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
const CLONE_NS_FLAGS = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

// socket(2) families refused: AF_ALG (kernel crypto API) and AF_VSOCK (host/VM sockets).
const AF_ALG = 38;
const AF_VSOCK = 40;

// personality(2) personas allowed: PER_LINUX, PER_LINUX32, UNAME26, both, and the query value.
const PER_LINUX = 0x0000;
const PER_LINUX32 = 0x0008;
const UNAME26 = 0x0020000;
const PER_QUERY = 0xffffffff;

const ENOSYS = 38;

const allow = (names: string[], extra: Partial<ProfileRule> = {}): ProfileRule => ({ names, action: "SCMP_ACT_ALLOW", ...extra });
const withCap = (cap: string, names: string[]): ProfileRule => allow(names, { includes: { caps: [cap] } });

/** Allowed for every container. */
const ALWAYS_ALLOWED = [
  "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset",
  "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
  "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
  "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
  "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
  "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
  "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
  "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
  "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
  "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
  "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid",
  "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
  "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
  "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
  "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "getxattrat",
  "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl",
  "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
  "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
  "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listmount",
  "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat",
  "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
  "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
  "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
  "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall",
  "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
  "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect",
  "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
  "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
  "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
  "removexattr", "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "riscv_hwprobe",
  "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
  "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity",
  "sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
  "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
  "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
  "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
  "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
  "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
  "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
  "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "setxattrat",
  "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
  "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statmount",
  "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
  "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
  "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
  "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink",
  "unlinkat", "uretprobe", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
  "waitid", "waitpid", "write", "writev",
];

const RULES: ProfileRule[] = [
  allow(ALWAYS_ALLOWED),
  // Docker gates these on kernel >= 4.8 (before it, ptrace could bypass seccomp).
  allow(["process_vm_readv", "process_vm_writev", "ptrace"]),
  allow(["socket"], { args: [{ index: 0, value: AF_ALG, op: "SCMP_CMP_LT" }] }),
  allow(["socket"], { args: [{ index: 0, value: AF_ALG + 1, op: "SCMP_CMP_EQ" }] }),
  allow(["socket"], { args: [{ index: 0, value: AF_VSOCK, op: "SCMP_CMP_GT" }] }),
  ...[PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32 | UNAME26, PER_QUERY].map((p) =>
    allow(["personality"], { args: [{ index: 0, value: p, op: "SCMP_CMP_EQ" }] }),
  ),
  // architecture-specific syscalls
  allow(["sync_file_range2", "swapcontext"], { includes: { arches: ["ppc64le"] } }),
  allow(["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"], {
    includes: { arches: ["arm", "arm64"] },
  }),
  allow(["arch_prctl"], { includes: { arches: ["amd64", "x32"] } }),
  allow(["modify_ldt"], { includes: { arches: ["amd64", "x32", "x86"] } }),
  allow(["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"], { includes: { arches: ["s390", "s390x"] } }),
  allow(["riscv_flush_icache"], { includes: { arches: ["riscv64"] } }),
  // capability-gated syscalls
  withCap("CAP_DAC_READ_SEARCH", ["open_by_handle_at"]),
  withCap("CAP_SYS_ADMIN", [
    "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
    "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount", "mount_setattr", "move_mount", "open_tree",
    "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
    "umount2", "unshare",
  ]),
  // Without CAP_SYS_ADMIN: clone only without namespace flags (flags are argument 1 on s390).
  allow(["clone"], {
    args: [{ index: 0, value: CLONE_NS_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    excludes: { caps: ["CAP_SYS_ADMIN"], arches: ["s390", "s390x"] },
  }),
  allow(["clone"], {
    args: [{ index: 1, value: CLONE_NS_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    includes: { arches: ["s390", "s390x"] },
    excludes: { caps: ["CAP_SYS_ADMIN"] },
  }),
  // clone3 passes its flags in a struct seccomp cannot read: make libc fall back to clone.
  { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS, excludes: { caps: ["CAP_SYS_ADMIN"] } },
  withCap("CAP_SYS_BOOT", ["reboot"]),
  withCap("CAP_SYS_CHROOT", ["chroot"]),
  withCap("CAP_SYS_MODULE", ["delete_module", "init_module", "finit_module"]),
  withCap("CAP_SYS_PACCT", ["acct"]),
  withCap("CAP_SYS_PTRACE", ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"]),
  withCap("CAP_SYS_RAWIO", ["iopl", "ioperm"]),
  withCap("CAP_SYS_TIME", ["settimeofday", "stime", "clock_settime", "clock_settime64"]),
  withCap("CAP_SYS_TTY_CONFIG", ["vhangup"]),
  withCap("CAP_SYS_NICE", ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
  withCap("CAP_SYSLOG", ["syslog"]),
  withCap("CAP_BPF", ["bpf"]),
  withCap("CAP_PERFMON", ["perf_event_open"]),
];

export interface DockerDefaultOptions {
  /** Docker arch name of the host (default: from process.arch, e.g. "amd64"). */
  arch?: DockerArch;
  /** The container's bounding capabilities, "CAP_*" (default: DOCKER_DEFAULT_CAPABILITIES). */
  capabilities?: readonly string[];
}

/** Docker's default profile resolved for one architecture and capability set. */
export function dockerDefaultSeccomp(opts: DockerDefaultOptions = {}): LinuxSeccomp {
  const arch = opts.arch ?? FROM_NODE_ARCH[process.arch] ?? process.arch;
  const caps = new Set(opts.capabilities ?? DOCKER_DEFAULT_CAPABILITIES);
  const syscalls: LinuxSyscall[] = [];
  for (const { includes, excludes, ...rule } of RULES) {
    if (excludes?.arches?.includes(arch)) continue;
    if (excludes?.caps?.some((c) => caps.has(c))) continue;
    if (includes?.arches && !includes.arches.includes(arch)) continue;
    if (includes?.caps && !includes.caps.every((c) => caps.has(c))) continue;
    syscalls.push({
      ...rule,
      names: [...rule.names],
      ...(rule.args ? { args: rule.args.map((a) => ({ ...a })) } : {}),
    });
  }
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1, // EPERM
    ...(ARCH_MAP[arch] ? { architectures: [...ARCH_MAP[arch]!] } : {}),
    syscalls,
  };
}
