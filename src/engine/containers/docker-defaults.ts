/**
 * What docker puts in every container's OCI spec before the container's own
 * settings (moby's oci.DefaultLinuxSpec and the daemon's spec options): the
 * default mounts, masked and read-only /proc and /sys paths, the device cgroup
 * allow list, the default PATH. Data only; spec.ts assembles them.
 */
import type { LinuxDeviceCgroup, Mount } from "../../oci/runtime-spec.ts";

/** The PATH docker gives a container whose config has none. */
export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** docker-init: tini-static from Debian's `tini` package (statically linked, so it runs in any rootfs). */
export const DEFAULT_INIT_PATH = "/usr/bin/tini-static";
/** Where docker binds its init inside the container. */
export const INIT_DESTINATION = "/sbin/docker-init";

/** --shm-size default: 64 MiB. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** The least memory limit docker accepts (linuxMinMemory). */
export const MIN_MEMORY = 6 * 1024 * 1024;

/** CFS period docker uses to express NanoCpus. */
export const NANO_CPU_PERIOD = 100_000;

/** Paths masked (bind of /dev/null or an empty ro tmpfs) in a non-privileged container. */
export const MASKED_PATHS: readonly string[] = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

/** Paths remounted read-only in a non-privileged container. */
export const READONLY_PATHS: readonly string[] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/**
 * The default mounts. /sys and /sys/fs/cgroup are read-only unless privileged;
 * /dev/shm is left out when shmSize is undefined (IpcMode none or host).
 */
export function defaultMounts(opts: { privileged: boolean; shmSize?: number }): Mount[] {
  const ro = opts.privileged ? [] : ["ro"];
  const mounts: Mount[] = [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", ...ro] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", ...ro] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
  ];
  if (opts.shmSize !== undefined) {
    mounts.push({
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${opts.shmSize}`],
    });
  }
  return mounts;
}

const c = (major: number | undefined, minor: number | undefined, access = "rwm"): LinuxDeviceCgroup => ({
  allow: true,
  type: "c",
  ...(major === undefined ? {} : { major }),
  ...(minor === undefined ? {} : { minor }),
  access,
});

/**
 * The device cgroup rules of a non-privileged container: deny everything, then
 * mknod of any node, and use of null, zero, full, random, urandom, tty,
 * console, ptmx, the pty slaves and tun.
 */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  return [
    { allow: false, access: "rwm" },
    c(undefined, undefined, "m"),
    { allow: true, type: "b", access: "m" },
    c(1, 3),
    c(1, 5),
    c(1, 7),
    c(1, 8),
    c(1, 9),
    c(5, 0),
    c(5, 1),
    c(5, 2),
    c(136, undefined),
    c(10, 200),
  ];
}

/** Sysctls that live in the IPC namespace (besides the fs.mqueue.* prefix). */
export const IPC_SYSCTLS: ReadonlySet<string> = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

/** docker's --ulimit names (go-units) -> RLIMIT_* */
export const ULIMIT_NAMES: Readonly<Record<string, string>> = {
  as: "RLIMIT_AS",
  core: "RLIMIT_CORE",
  cpu: "RLIMIT_CPU",
  data: "RLIMIT_DATA",
  fsize: "RLIMIT_FSIZE",
  locks: "RLIMIT_LOCKS",
  memlock: "RLIMIT_MEMLOCK",
  msgqueue: "RLIMIT_MSGQUEUE",
  nice: "RLIMIT_NICE",
  nofile: "RLIMIT_NOFILE",
  nproc: "RLIMIT_NPROC",
  rss: "RLIMIT_RSS",
  rtprio: "RLIMIT_RTPRIO",
  rttime: "RLIMIT_RTTIME",
  sigpending: "RLIMIT_SIGPENDING",
  stack: "RLIMIT_STACK",
};
