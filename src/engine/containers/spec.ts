/**
 * A container record -> the OCI runtime spec docker + runc would run it with:
 * the process (command, env, user from the image's passwd, capabilities,
 * rlimits, seccomp), the mounts (docker's defaults, the resolved volumes and
 * binds, the generated /etc files, docker-init), the namespaces, masked paths,
 * cgroup resources and devices. Pure apart from reading the rootfs's
 * /etc/passwd and /etc/group (inside the rootfs) and the host facts below.
 */
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { failedPrecondition, invalidArgument } from "../../errors.ts";
import {
  OCI_VERSION,
  type LinuxDevice,
  type LinuxNamespace,
  type LinuxResources,
  type Mount,
  type POSIXRlimit,
  type Process,
  type Spec,
} from "../../oci/runtime-spec.ts";
import {
  DEFAULT_PATH_ENV,
  DEFAULT_SHM_SIZE,
  INIT_DESTINATION,
  MASKED_PATHS,
  NANO_CPU_PERIOD,
  READONLY_PATHS,
  ULIMIT_NAMES,
  defaultDeviceRules,
  defaultMounts,
} from "./docker-defaults.ts";
import type { ContainerRecord, HostConfig, ResolvedMount, SpecInput } from "./model.ts";
import { allCapabilities, containerCapabilities } from "./spec-capabilities.ts";
import { hostDevices, mappedDevices, parseDeviceCgroupRule } from "./spec-devices.ts";
import { containerSeccomp } from "./spec-seccomp.ts";
import { parseSecurityOpts } from "./spec-security-opt.ts";
import { resolveUser, rootfsUserFiles, type UserFiles } from "./spec-user.ts";

export { DEFAULT_INIT_PATH, INIT_DESTINATION } from "./docker-defaults.ts";

/** What buildSpec reads from the host (detectSpecHost); tests pass their own. */
export interface SpecHost {
  /** process.arch */
  arch: string;
  /** "major.minor" of the running kernel */
  kernel: string;
  /** give containers a private cgroup namespace by default (cgroup v2 or hybrid host) */
  cgroupNamespace: boolean;
  /** swap limits work (v1 memory.memsw.*, v2) */
  swapLimit: boolean;
  /** blkio/io weights work */
  blkioWeight: boolean;
  /** memory.swappiness exists (cgroup v1; docker ignores it on v2) */
  swappiness: boolean;
  allCapabilities(): readonly string[];
  hostDevices(): LinuxDevice[];
  userFiles(rootfs: string): UserFiles;
}

export function detectSpecHost(): SpecHost {
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
  const v2Controllers = v2 ? readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").split(/\s+/) : [];
  const [major = "0", minor = "0"] = release().split(".");
  return {
    arch: process.arch,
    kernel: `${major}.${Number.parseInt(minor, 10) || 0}`,
    cgroupNamespace: v2 || existsSync("/sys/fs/cgroup/unified"),
    swapLimit: v2 ? v2Controllers.includes("memory") : existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
    blkioWeight: v2 ? v2Controllers.includes("io") : existsSync("/sys/fs/cgroup/blkio/blkio.weight") || existsSync("/sys/fs/cgroup/blkio/blkio.bfq.weight"),
    swappiness: !v2,
    allCapabilities,
    hostDevices,
    userFiles: rootfsUserFiles,
  };
}

let cachedHost: SpecHost | undefined;

const envKey = (e: string) => (e.includes("=") ? e.slice(0, e.indexOf("=")) : e);

/** docker's daemon environment (PATH, HOSTNAME, TERM), overridden by the container's Env by name. */
function containerEnv(record: ContainerRecord, hostname: string, home: string | undefined): string[] {
  const user = record.Config.Env ?? [];
  const keys = new Set(user.map(envKey));
  const base: string[] = [];
  if (!keys.has("PATH")) base.push(DEFAULT_PATH_ENV);
  if (hostname && !keys.has("HOSTNAME")) base.push(`HOSTNAME=${hostname}`);
  if (record.Config.Tty && !keys.has("TERM")) base.push("TERM=xterm");
  // runc sets HOME from the passwd entry when the environment has none.
  const withHome = keys.has("HOME") ? [] : [`HOME=${home || "/"}`];
  return [...base, ...user, ...withHome];
}

function rlimits(hc: HostConfig): POSIXRlimit[] | undefined {
  if (!hc.Ulimits?.length) return undefined;
  return hc.Ulimits.map((u) => {
    const type = ULIMIT_NAMES[u.Name];
    if (!type) throw invalidArgument(`invalid ulimit type: ${u.Name}`);
    const v = (n: number) => (n < 0 ? 0xffff_ffff_ffff_ffffn : n);
    return { type, soft: v(u.Soft), hard: v(u.Hard) };
  });
}

/** HostConfig's resource fields as OCI linux.resources (also what docker update applies live). */
export function specResources(hc: HostConfig, host: SpecHost): LinuxResources {
  const r: LinuxResources = {};
  const mem: NonNullable<LinuxResources["memory"]> = {};
  if ((hc.Memory ?? 0) > 0) mem.limit = hc.Memory!;
  if ((hc.MemoryReservation ?? 0) > 0) mem.reservation = hc.MemoryReservation!;
  if (host.swapLimit) {
    const swap = hc.MemorySwap ?? 0;
    if (swap === -1) mem.swap = -1;
    else if (swap > 0) mem.swap = swap;
    // docker: a memory limit without a swap limit allows as much swap again
    else if ((hc.Memory ?? 0) > 0) mem.swap = hc.Memory! * 2;
  }
  const sw = hc.MemorySwappiness;
  if (host.swappiness && sw !== undefined && sw !== null && sw >= 0) mem.swappiness = sw;
  if (hc.OomKillDisable) mem.disableOOMKiller = true;
  if (Object.keys(mem).length) r.memory = mem;

  const cpu: NonNullable<LinuxResources["cpu"]> = {};
  if ((hc.CpuShares ?? 0) > 0) cpu.shares = hc.CpuShares!;
  if ((hc.NanoCpus ?? 0) > 0) {
    cpu.period = NANO_CPU_PERIOD;
    cpu.quota = Math.floor((hc.NanoCpus! * NANO_CPU_PERIOD) / 1e9);
  } else {
    if ((hc.CpuPeriod ?? 0) > 0) cpu.period = hc.CpuPeriod!;
    if ((hc.CpuQuota ?? 0) !== 0) cpu.quota = hc.CpuQuota!;
  }
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;

  if ((hc.PidsLimit ?? 0) > 0) r.pids = { limit: hc.PidsLimit! };
  if ((hc.BlkioWeight ?? 0) > 0 && host.blkioWeight) r.blockIO = { weight: hc.BlkioWeight! };
  return r;
}

const depth = (p: string) => p.split("/").filter(Boolean).length;

function userMount(m: ResolvedMount): Mount {
  if (m.Type === "tmpfs") {
    return { destination: m.Destination, type: "tmpfs", source: "tmpfs", options: m.Options?.length ? [...m.Options] : ["nosuid", "nodev", "noexec"] };
  }
  const options = ["rbind", m.RW ? "rw" : "ro", m.Propagation || "rprivate", ...(m.Options ?? [])];
  return { destination: m.Destination, type: "bind", source: m.Source, options: [...new Set(options)] };
}

function mounts(input: SpecInput, shmSize: number | undefined, privileged: boolean): Mount[] {
  const { record } = input;
  const user = [...record.Mounts].sort((a, b) => depth(a.Destination) - depth(b.Destination)).map(userMount);
  const taken = new Set(user.map((m) => m.destination));
  const out = defaultMounts({ privileged, shmSize }).filter((m) => !taken.has(m.destination));
  out.push(...user);
  const ro = record.HostConfig.ReadonlyRootfs ? ["ro"] : ["rw"];
  for (const [dst, src] of [
    ["/etc/resolv.conf", record.ResolvConfPath],
    ["/etc/hostname", record.HostnamePath],
    ["/etc/hosts", record.HostsPath],
  ] as const) {
    if (src && !taken.has(dst)) out.push({ destination: dst, type: "bind", source: src, options: ["rbind", "rprivate", ...ro] });
  }
  if (record.HostConfig.Init) {
    if (!input.initPath) throw failedPrecondition("HostConfig.Init is set but no docker-init binary is configured");
    out.push({ destination: INIT_DESTINATION, type: "bind", source: input.initPath, options: ["bind", "ro", "nosuid", "nodev"] });
  }
  return out;
}

function namespaces(input: SpecInput, host: SpecHost): LinuxNamespace[] {
  const hc = input.record.HostConfig;
  const ns: LinuxNamespace[] = [{ type: "mount" }];
  if (hc.PidMode !== "host") ns.push({ type: "pid" });
  if (hc.IpcMode !== "host") ns.push({ type: "ipc" });
  if (hc.UTSMode !== "host") ns.push({ type: "uts" });
  if (input.netnsPath) ns.push({ type: "network", path: input.netnsPath });
  else if (hc.NetworkMode !== "host") ns.push({ type: "network" });
  const cgroupns = hc.CgroupnsMode === "private" || (hc.CgroupnsMode !== "host" && host.cgroupNamespace);
  if (cgroupns) ns.push({ type: "cgroup" });
  return ns;
}

/** The OCI runtime spec for a container record (see SpecInput). Throws BerthError on a config that cannot run. */
export function buildSpec(input: SpecInput, host: SpecHost = (cachedHost ??= detectSpecHost())): Spec {
  const { record } = input;
  const hc = record.HostConfig;
  const cfg = record.Config;
  const privileged = hc.Privileged === true;
  const sec = parseSecurityOpts(hc.SecurityOpt);
  const caps = containerCapabilities(hc.CapAdd, hc.CapDrop, privileged, () => host.allCapabilities());
  const user = resolveUser(cfg.User, hc.GroupAdd, host.userFiles(input.rootfs));
  const utsHost = hc.UTSMode === "host";
  const hostname = utsHost ? "" : cfg.Hostname || record.Id.slice(0, 12);

  const args = [record.Path, ...record.Args];
  const process: Process = {
    terminal: cfg.Tty === true,
    user: { uid: user.uid, gid: user.gid, ...(user.additionalGids ? { additionalGids: user.additionalGids } : {}) },
    args: hc.Init ? [INIT_DESTINATION, "--", ...args] : args,
    env: containerEnv(record, hostname, user.home),
    cwd: cfg.WorkingDir || "/",
    capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
    noNewPrivileges: sec.noNewPrivileges,
    oomScoreAdj: hc.OomScoreAdj ?? 0,
  };
  const [h, w] = hc.ConsoleSize ?? [0, 0];
  if (process.terminal && h && w) process.consoleSize = { height: h, width: w };
  const rl = rlimits(hc);
  if (rl) process.rlimits = rl;

  const ipcNone = hc.IpcMode === "none" || hc.IpcMode === "host";
  const shmSize = ipcNone ? undefined : hc.ShmSize || DEFAULT_SHM_SIZE;
  const allMounts = mounts(input, shmSize, privileged);
  if (sec.writableCgroups) {
    for (const m of allMounts) if (m.type === "cgroup") m.options = m.options?.filter((o) => o !== "ro");
  }

  const res = specResources(hc, host);
  const mapped = mappedDevices(hc.Devices);
  const devices: LinuxDevice[] = privileged ? host.hostDevices() : mapped.devices;
  if (privileged) {
    const seen = new Set(devices.map((d) => d.path));
    for (const d of mapped.devices) if (!seen.has(d.path)) devices.push(d);
  }
  res.devices = privileged
    ? [{ allow: true, access: "rwm" }]
    : [...defaultDeviceRules(), ...mapped.rules, ...(hc.DeviceCgroupRules ?? []).map(parseDeviceCgroupRule)];

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process,
    root: { path: input.rootfs, readonly: hc.ReadonlyRootfs === true },
    ...(hostname ? { hostname } : {}),
    ...(cfg.Domainname && !utsHost ? { domainname: cfg.Domainname } : {}),
    mounts: allMounts,
    linux: {
      ...(hc.Sysctls && Object.keys(hc.Sysctls).length ? { sysctl: { ...hc.Sysctls } } : {}),
      resources: res,
      cgroupsPath: input.cgroupsPath,
      namespaces: namespaces(input, host),
      ...(devices.length ? { devices } : {}),
      ...(privileged ? {} : { maskedPaths: [...MASKED_PATHS], readonlyPaths: [...READONLY_PATHS] }),
    },
  };
  const seccomp = containerSeccomp(sec.seccomp, privileged, caps, host);
  if (seccomp) spec.linux!.seccomp = seccomp;
  return spec;
}
