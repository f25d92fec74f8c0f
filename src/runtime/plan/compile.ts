/**
 * spec -> InitPlan. Pure: everything it needs from the host arrives in the
 * context, so it is unit-tested without root. The order of instructions is the
 * order berth-init executes them (see opcodes.ts for the protocol).
 */
import type { Spec, Mount, LinuxNamespace } from "../../oci/runtime-spec.ts";
import { BerthError, invalidArgument } from "../../errors.ts";
import { instr, type Instruction } from "./record.ts";
import { Where, SYNC_TAG } from "./opcodes.ts";
import { CLONE, MS } from "./linux.ts";
import { compileProcess } from "./process.ts";
import { consoleInstr, ptyInstr, type ConsoleSocket } from "./terminal.ts";
import { parseMountOptions, rootPropagationFlags } from "./mount-options.ts";
import { deviceNodes, DEV_SYMLINKS } from "./devices.ts";
import { checkMapWriter, checkUserNamespace, denySetgroups, enterUserNamespace, inUserNamespace, type MapWriter } from "./userns.ts";
import { hostTrees, prepareHostTrees, type HostTree } from "./host-trees.ts";
import { processFeatures, resetAffinity } from "./process-features.ts";
import { monitorInstr, type MonitorPlan } from "./monitor.ts";
import { isAbsolute, join, resolve } from "node:path";
import { hasHooks, hookInstructions } from "../hooks.ts";
import type { HostLsm } from "../lsm.ts";
import { statSync } from "node:fs";

/** A cgroup hierarchy as a `cgroup` mount inside the container shows it. */
export interface CgroupMountSource {
  /** directory name under the mount point ("cpu,cpuacct", "memory", "unified"); "" for a pure v2 host */
  name: string;
  fstype: "cgroup" | "cgroup2";
  /** mount data for a fresh mount in a new cgroup namespace ("cpu,cpuacct", "name=systemd", "") */
  options: string;
  /** host path of the container's own cgroup in this hierarchy (bind source without a cgroup ns) */
  hostPath: string;
  /** other names that should be symlinks to `name` (cpu -> cpu,cpuacct) */
  aliases: string[];
}

export interface PlanContext {
  spec: Spec;
  /** absolute bundle directory (relative bind sources resolve against it) */
  bundle: string;
  /** absolute, symlink-free rootfs path */
  rootfs: string;
  /** host path of the exec fifo that `start` writes to */
  execFifo: string;
  /** host path of the fifo `start` reads the outcome from (errors after the start, EOF at exec) */
  startStatus?: string;
  /** environment for hooks that have no `env` of their own (default: ours) */
  runtimeEnv?: Record<string, string | undefined>;
  noPivot?: boolean;
  /** berth-init's parent waits for the container and exits with its status (foreground run) */
  stay?: boolean;
  /** the engine's monitor becomes the container's parent (plan/monitor.ts); excludes stay */
  monitor?: MonitorPlan;
  /** number of caller fds (from 3) passed through to the container */
  preserveFds?: number;
  /** hierarchies to show at a `cgroup` mount */
  cgroupMounts?: CgroupMountSource[];
  /** mount point that contains the rootfs (made private so pivot_root works) */
  rootfsParentMount?: string;
  /** the capability bounding set of the host; requesting anything outside it is an error */
  hostCapBounding?: bigint;
  /** whether /proc/kcore exists on the host (for the /dev/core symlink) */
  hostHasKcore?: boolean;
  /** security modules enabled on the host; labels need theirs (default: none) */
  lsm?: HostLsm;
  /** compiled seccomp filter (see runtime/seccomp) */
  seccompFilter?: { flags: number; filter: Uint8Array };
  /** whether a host path is a directory (bind mount targets are created to match); default: stat */
  isDir?: (hostPath: string) => boolean;
  /** who writes the id maps of a new user namespace; default: a privileged runtime */
  mapWriter?: MapWriter;
  /** where the pty master goes when process.terminal is true */
  console?: ConsoleSocket;
}

const PRIVILEGED_WRITER: MapWriter = { privileged: true, euid: 0, egid: 0 };

const NS_FLAG: Record<string, number> = {
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** The namespace types a plan can create or join (what `features` reports). */
export function knownNamespaces(): string[] {
  return Object.keys(NS_FLAG).sort();
}

export function namespaceFlag(type: string): number {
  const f = NS_FLAG[type];
  if (f === undefined) throw invalidArgument(`linux.namespaces: unknown namespace "${type}"`);
  return f;
}

export function hasNewNamespace(spec: Spec, type: string): boolean {
  return (spec.linux?.namespaces ?? []).some((n) => n.type === type && !n.path);
}

export function compilePlan(ctx: PlanContext): Instruction[] {
  const { spec } = ctx;
  const proc = spec.process;
  // `process` is optional until `start` (runtime.md): without one the container
  // is created, and `start` fails (FAIL below).
  if (proc && !proc.args?.length) throw invalidArgument("process.args: required to create a container");
  mountLabel(ctx); // refused up front when the host has no SELinux, whatever the mounts
  const plan: Instruction[] = [];
  const namespaces: LinuxNamespace[] = spec.linux?.namespaces ?? [];
  const newNs = (t: string) => namespaces.some((n) => n.type === t && !n.path);
  const anyNs = (t: string) => namespaces.some((n) => n.type === t);
  // new or joined: mknod is not allowed there, device nodes are bound from the host
  const userns = anyNs("user");
  const writer = ctx.mapWriter ?? PRIVILEGED_WRITER;
  checkUserNamespace(spec);
  checkMapWriter(spec, writer);
  const mounts = (spec.mounts ?? []).map((m) => sysfsInUserNamespace(spec, m));
  // In a user namespace the init may not reach a bind source: the runtime's side opens them.
  const trees = hostTrees(spec, mounts, ctx.bundle, anyNs("user") && newNs("mount") && writer.privileged);

  if (ctx.monitor) {
    if (ctx.stay) throw invalidArgument("monitor: a monitored container has no waiting parent (stay)");
    plan.push(monitorInstr(ctx.monitor, spec));
  }
  // ---- berth-init, before the fork: the console socket (a host path), mount trees
  // prepared with the runtime's privileges, join namespaces (user first), time ns offsets.
  // (under a monitor, MONITOR gives the worker its console socket: the monitor's)
  if (proc?.terminal && !ctx.monitor) plan.push(consoleInstr(ctx.console));
  plan.push(...prepareHostTrees(trees));
  const joins = namespaces.filter((n) => n.path).sort((a, b) => Number(b.type === "user") - Number(a.type === "user"));
  for (const ns of joins) plan.push(instr("SETNS", namespaceFlag(ns.type), ns.path!));
  if (newNs("time")) {
    plan.push(instr("UNSHARE", CLONE.NEWTIME));
    const offsets = Object.entries(spec.linux?.timeOffsets ?? {})
      .map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}`)
      .join("\n");
    if (offsets) plan.push(instr("WRITE_FILE", "/proc/self/timens_offsets", offsets));
  }
  let cloneFlags = 0;
  for (const ns of namespaces) if (!ns.path && ns.type !== "time" && ns.type !== "cgroup") cloneFlags |= namespaceFlag(ns.type);
  plan.push(instr("CLONE", cloneFlags, ctx.stay ? 1 : 0));

  // ---- container init: wait for id maps and the cgroup, then enter a cgroup ns rooted there.
  // An unprivileged runtime writes the id maps as the init's own user, which a
  // non-dumpable init's /proc files refuse: dumpable for just that (as runc).
  const unprivilegedMaps = newNs("user") && !writer.privileged;
  if (unprivilegedMaps) plan.push(instr("DUMPABLE", 1));
  plan.push(instr("SYNC", SYNC_TAG.SETUP));
  if (unprivilegedMaps) plan.push(instr("DUMPABLE", 0));
  if (newNs("cgroup")) plan.push(instr("UNSHARE", CLONE.NEWCGROUP));
  // A new network namespace has only a loopback, and it starts down (runc brings it up too).
  if (newNs("network")) plan.push(instr("LINK_UP", "lo"));
  plan.push(instr("SETSID"));
  // Still the runtime's own (host) uid: it owns the fifo, whatever the id maps say.
  plan.push(instr("FIFO_OPEN", ctx.execFifo));
  if (ctx.startStatus) plan.push(instr("START_STATUS", ctx.startStatus));
  // In a new user namespace: become the namespace's root now that the maps are written (plan/userns.ts).
  plan.push(...afterSetup(ctx, writer));

  plan.push(...compileRootfs(ctx, userns, anyNs("mount"), mounts, trees));

  // ---- identity of the host, kernel parameters, paths
  if (spec.hostname !== undefined && spec.hostname !== "") plan.push(instr("SETHOSTNAME", spec.hostname));
  if (spec.domainname !== undefined && spec.domainname !== "") plan.push(instr("SETDOMAINNAME", spec.domainname));
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    plan.push(instr("WRITE_FILE", "/proc/sys/" + key.replaceAll(".", "/"), value));
  }
  for (const p of spec.linux?.readonlyPaths ?? []) plan.push(instr("READONLY_PATH", p));
  for (const p of spec.linux?.maskedPaths ?? []) plan.push(instr("MASK", p));

  if (!proc) {
    plan.push(instr("READY"), instr("FIFO_WAIT"), instr("FAIL", "process: not set in config.json: the container has nothing to run"));
    return plan;
  }
  // ---- the process: attributes, credentials, cwd; READY; wait for `start`
  // (and its startContainer hooks); LSM labels; exec
  plan.push(
    ...compileProcess({
      process: proc,
      features: processFeatures(spec),
      setgroups: !denySetgroups(spec, writer),
      hostCapBounding: ctx.hostCapBounding,
      seccompFilter: ctx.seccompFilter,
      preserveFds: ctx.preserveFds,
      lsm: ctx.lsm,
      gate: [instr("FIFO_WAIT"), ...hookInstructions(spec, "startContainer", ctx.runtimeEnv)],
    }),
  );
  return plan;
}

/**
 * The container init, once the runtime has written its id maps and put it in
 * its cgroup: take a mapped identity in a new user namespace; drop the CPU
 * affinity inherited from the runtime (runc does too).
 */
function afterSetup(ctx: PlanContext, writer: MapWriter): Instruction[] {
  return [...enterUserNamespace(ctx.spec, writer), resetAffinity()];
}

/**
 * Mount namespace setup up to and including the switch to the new root.
 * Without a mount namespace of its own (ownNs false) the container shares the
 * runtime's: its mounts are made under the rootfs in that namespace (delete
 * removes them), nothing else there is touched, and the root is a chroot.
 */
function compileRootfs(ctx: PlanContext, userns: boolean, ownNs: boolean, mounts: readonly Mount[], trees: Map<number, HostTree>): Instruction[] {
  const { spec, rootfs } = ctx;
  const plan: Instruction[] = [];
  const linux = spec.linux ?? {};
  let rootProp: number | undefined;
  if (linux.rootfsPropagation) {
    rootProp = rootPropagationFlags(linux.rootfsPropagation);
    if (rootProp === undefined) throw invalidArgument(`linux.rootfsPropagation: unknown value "${linux.rootfsPropagation}"`);
  }
  if (!ownNs) {
    const host: Array<[string, unknown]> = [
      ["root.readonly", spec.root?.readonly],
      ["linux.rootfsPropagation", linux.rootfsPropagation],
      ["linux.maskedPaths", linux.maskedPaths?.length],
      ["linux.readonlyPaths", linux.readonlyPaths?.length],
    ];
    for (const [field, set] of host)
      if (set) throw invalidArgument(`${field}: needs a mount namespace (linux.namespaces), else it would change the host's mounts`);
  } else {
    // Stop our mounts from reaching the host: slave by default. A shared root
    // propagation still starts as a slave copy, the requested mode is applied to
    // the new root after the switch.
    const initial = rootProp !== undefined && (rootProp & MS.PRIVATE) !== 0 ? MS.PRIVATE | MS.REC : MS.SLAVE | MS.REC;
    plan.push(instr("MOUNT", "", "/", Where.HOST, "", initial, ""));
    if (ctx.rootfsParentMount) plan.push(instr("MOUNT", "", ctx.rootfsParentMount, Where.HOST, "", MS.PRIVATE, ""));
    plan.push(instr("MOUNT", rootfs, rootfs, Where.HOST, "", MS.BIND | MS.REC, ""));
  }
  plan.push(instr("ROOTFS", rootfs));

  let devBound = false;
  let hasPts = false;
  for (const [i, m] of mounts.entries()) {
    const dest = m.destination.startsWith("/") ? m.destination : "/" + m.destination;
    if (dest === "/dev" && isBind(m)) devBound = true;
    if (dest === "/dev/pts") hasPts = true;
    plan.push(...compileMount(ctx, m, dest, i, trees.get(i)));
  }

  if (!devBound) {
    for (const d of deviceNodes(spec)) {
      if (userns) {
        // mknod is not allowed in a user namespace: bind the host's node instead.
        plan.push(instr("MOUNT", d.path, d.path, Where.ROOT_FILE, "", MS.BIND, ""));
      } else {
        plan.push(instr("MKNOD", d.path, d.mode, d.dev, d.uid, d.gid));
      }
    }
    for (const [target, link] of DEV_SYMLINKS) plan.push(instr("SYMLINK", target, link));
    if (ctx.hostHasKcore) plan.push(instr("SYMLINK", "/proc/kcore", "/dev/core"));
    if (hasPts) plan.push(instr("SYMLINK", "pts/ptmx", "/dev/ptmx"));
  }

  // Hooks: the runtime runs prestart and createRuntime at this SYNC and answers
  // with the state the HOOK instructions (createContainer here, startContainer
  // after `start`) pass on.
  if (hasHooks(spec, "prestart", "createRuntime", "createContainer", "startContainer")) {
    plan.push(instr("SYNC", SYNC_TAG.CREATE_CONTAINER));
    plan.push(...hookInstructions(spec, "createContainer", ctx.runtimeEnv));
  }
  // The pty comes from the container's own devpts, once in its root; /dev/console
  // is bound before the root turns read-only.
  const pty = spec.process?.terminal ? [ptyInstr(spec.process, "/dev/console")] : [];
  if (!ownNs) {
    plan.push(instr("CHROOT", rootfs), ...pty);
    return plan;
  }
  plan.push(instr(ctx.noPivot ? "MOVE_ROOT" : "PIVOT_ROOT", rootfs));
  if (rootProp !== undefined) plan.push(instr("MOUNT", "", "/", Where.HOST, "", rootProp, ""));
  plan.push(...pty);
  if (spec.root?.readonly) plan.push(instr("REMOUNT", "/", Where.HOST, MS.BIND | MS.RDONLY, ""));
  return plan;
}

/** linux.mountLabel, checked against the host. */
function mountLabel(ctx: PlanContext): string | undefined {
  const label = ctx.spec.linux?.mountLabel;
  if (!label) return undefined;
  if (!ctx.lsm?.selinux) throw new BerthError("FailedPrecondition", "linux.mountLabel: SELinux is not enabled on this host");
  return label;
}

/** Mount data with the SELinux context option for the mount label (as runc's FormatMountLabel). */
function withMountLabel(data: string, label: string | undefined): string {
  if (!label) return data;
  const ctxOpt = `context="${label}"`;
  return data ? `${data},${ctxOpt}` : ctxOpt;
}

function isBind(m: Mount): boolean {
  return m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}

function compileMount(ctx: PlanContext, m: Mount, dest: string, i: number, tree?: HostTree): Instruction[] {
  const field = `mounts[${i}]`;
  const o = parseMountOptions(m.options ?? []);
  const plan: Instruction[] = [];
  if (m.type === "cgroup" || m.type === "cgroup2") return compileCgroupMount(ctx, dest, o.flags, newCgroupNs(ctx.spec));
  if (isBind(m)) {
    if (!m.source) throw invalidArgument(`${field}.source: required for a bind mount`);
    const source = isAbsolute(m.source) ? m.source : resolve(ctx.bundle, m.source);
    const where = (ctx.isDir ?? statIsDir)(source) ? Where.ROOT_DIR : Where.ROOT_FILE;
    plan.push(
      tree
        ? instr("MOVE_MOUNT", tree.slot, dest, where)
        : instr("MOUNT", source, dest, where, "", MS.BIND | (o.recursive ? MS.REC : 0), ""),
    );
    // Flags on a bind mount only take effect on a remount.
    const extra = o.flags & ~MS.REMOUNT;
    if (extra) plan.push(instr("REMOUNT", dest, Where.ROOT, MS.BIND | extra, ""));
  } else {
    if (!m.type) throw invalidArgument(`${field}.type: required unless the mount is a bind mount`);
    plan.push(instr("MOUNT", m.source ?? m.type, dest, Where.ROOT_DIR, m.type, o.flags, withMountLabel(o.data, mountLabel(ctx))));
  }
  for (const p of o.propagation) plan.push(instr("MOUNT", "", dest, Where.ROOT, "", p, ""));
  return plan;
}

/**
 * sysfs can only be mounted by a user namespace that owns the network
 * namespace: in a user namespace without a new network namespace the kernel
 * says EPERM (a joined one may own a joined network namespace, but berth
 * cannot tell, so it binds there too). There, as runc does, the host's /sys is bound instead
 * (recursively, with the mount's flags; it shows the host's network devices).
 */
function sysfsInUserNamespace(spec: Spec, m: Mount): Mount {
  if (m.type !== "sysfs" || !inUserNamespace(spec) || hasNewNamespace(spec, "network")) return m;
  const keep = (m.options ?? []).filter((o) => o !== "bind" && o !== "rbind");
  return { ...m, type: "bind", source: "/sys", options: ["rbind", ...keep] };
}

function newCgroupNs(spec: Spec): boolean {
  return hasNewNamespace(spec, "cgroup");
}

/**
 * A `cgroup` mount: a tmpfs with one directory per hierarchy (v1/hybrid), or
 * the cgroup2 fs itself (v2). In a new cgroup namespace each hierarchy is
 * mounted afresh (the namespace makes the container's cgroup its root);
 * otherwise the container's own cgroup directory is bound in.
 */
function compileCgroupMount(ctx: PlanContext, dest: string, flags: number, cgroupns: boolean): Instruction[] {
  const plan: Instruction[] = [];
  const sources = ctx.cgroupMounts ?? [];
  const ro = flags & MS.RDONLY;
  const base = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC);
  const pure = sources.length === 1 && sources[0]!.name === "";
  const sub = (s: CgroupMountSource) => (s.name ? join(dest, s.name) : dest);
  if (!pure) plan.push(instr("MOUNT", "tmpfs", dest, Where.ROOT_DIR, "tmpfs", base, "mode=755"));
  for (const s of sources) {
    if (cgroupns) plan.push(instr("MOUNT", s.fstype, sub(s), Where.ROOT_DIR, s.fstype, base | ro, s.options));
    else {
      plan.push(instr("MOUNT", s.hostPath, sub(s), Where.ROOT_DIR, "", MS.BIND | MS.REC, ""));
      plan.push(instr("REMOUNT", sub(s), Where.ROOT, MS.BIND | base | ro, ""));
    }
    for (const alias of s.aliases) plan.push(instr("SYMLINK", s.name, join(dest, alias)));
  }
  if (!pure && ro) plan.push(instr("REMOUNT", dest, Where.ROOT, base | ro, "mode=755"));
  return plan;
}

function statIsDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return true; // missing: mount(2) reports it
  }
}
