/**
 * The config.json `berth-runtime spec` writes: the same content as `runc spec`
 * (runc 1.1) and `runc spec --rootless`, with ociVersion 1.2.0 and hostname
 * "berth". Keys are in runc's order, so stringifyJson(defaultSpec()) matches
 * runc's file line for line apart from those two values.
 */
import { existsSync } from "node:fs";
import { OCI_VERSION, type LinuxNamespace, type Mount, type Spec } from "./runtime-spec.ts";

export interface DefaultSpecOptions {
  /** As `runc spec --rootless`: user namespace mapping the caller, no network namespace, no cgroup settings. */
  rootless?: boolean;
  /** Replaces ["sh"]. */
  args?: string[];
  /**
   * Add a cgroup namespace, as runc does on a cgroup v2 (unified) host.
   * Default: detected from /sys/fs/cgroup/cgroup.controllers.
   */
  cgroupNamespace?: boolean;
  /** Host ids mapped to root with rootless; default the effective uid/gid of this process. */
  hostUid?: number;
  hostGid?: number;
}

const DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/** True on a cgroup v2 unified host (runc: cgroups.IsCgroup2UnifiedMode). */
export function isCgroup2Unified(): boolean {
  return existsSync("/sys/fs/cgroup/cgroup.controllers");
}

export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const mounts: Mount[] = [
    { destination: "/proc", type: "proc", source: "proc" },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] },
  ];
  let namespaces: LinuxNamespace[] = [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }];
  if (opts.cgroupNamespace ?? isCgroup2Unified()) namespaces.push({ type: "cgroup" });

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: opts.args ? [...opts.args] : ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
        ambient: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "berth",
    mounts,
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces,
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };

  if (opts.rootless) {
    // runc's specconv.ToRootless.
    namespaces = namespaces.filter((n) => n.type !== "network" && n.type !== "user");
    namespaces.push({ type: "user" });
    const uid = opts.hostUid ?? process.geteuid?.() ?? 0;
    const gid = opts.hostGid ?? process.getegid?.() ?? 0;
    spec.mounts = mounts.map((m) =>
      m.destination === "/sys"
        ? { destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"] }
        : m.options
          ? { ...m, options: m.options.filter((o) => !o.startsWith("uid=") && !o.startsWith("gid=")) }
          : m,
    );
    // Rebuilt so the keys keep runc's order (uidMappings, gidMappings, namespaces, ...), without resources.
    const l = spec.linux!;
    spec.linux = {
      uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
      namespaces,
      maskedPaths: l.maskedPaths,
      readonlyPaths: l.readonlyPaths,
    };
  }
  return spec;
}
