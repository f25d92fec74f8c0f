/**
 * checkValidity: everything about a resources object that can be judged from
 * the values and the host's hierarchy alone, before any cgroup is touched —
 * malformed values, and resources this host cannot honour (controller not
 * mounted, v1-only knob on cgroup v2, unknown hugepage size or block device,
 * cpus outside the online set...). Errors name the OCI field.
 */
import { BerthError } from "../../errors.ts";
import { normalizeDeviceRules } from "./devices.ts";
import { fileExists } from "./fsio.ts";
import { type CgroupHierarchy, v1MountFor } from "./hierarchy.ts";
import { blockDeviceExists, hugePageSizes, onlineCpus, onlineMems, parseIdList } from "./host.ts";
import { type LinuxResources, type NumericResources, toNumeric } from "./resources.ts";

export type ResourceKind =
  | "memory" | "cpu" | "cpuset" | "pids" | "blkio" | "hugetlb" | "devices" | "freezer"
  | "net_cls" | "net_prio" | "rdma" | "unified";
export type BackendKind = "v1" | "v2";

const V2_NAME: Partial<Record<ResourceKind, string>> = {
  memory: "memory", cpu: "cpu", cpuset: "cpuset", pids: "pids", blkio: "io", hugetlb: "hugetlb", rdma: "rdma",
};

/** Which backend handles a kind of resource on this host (undefined: nobody can). */
export function ownerOf(h: CgroupHierarchy, kind: ResourceKind): BackendKind | undefined {
  if (kind !== "unified" && h.mode !== "v2" && v1MountFor(h, kind)) return "v1";
  if (!h.v2 || h.mode === "v1") return undefined;
  if (kind === "devices" || kind === "freezer" || kind === "unified") return "v2"; // BPF, cgroup.freeze: core v2
  const name = V2_NAME[kind];
  return name && h.v2.controllers.includes(name) ? "v2" : undefined;
}

const set = (v: number | undefined): v is number => v !== undefined && v !== 0;

/** Kinds of resource a resources object asks for (0 means unset, as in runc). */
export function requestedKinds(r: NumericResources): ResourceKind[] {
  const out: ResourceKind[] = [];
  const m = r.memory;
  if (m && (set(m.limit) || set(m.reservation) || set(m.swap) || set(m.kernel) || set(m.kernelTCP) ||
      (m.swappiness !== undefined && m.swappiness !== -1) || m.disableOOMKiller === true || m.useHierarchy !== undefined)) out.push("memory");
  const c = r.cpu;
  if (c && (set(c.shares) || set(c.quota) || set(c.period) || c.burst !== undefined || set(c.realtimeRuntime) ||
      set(c.realtimePeriod) || c.idle !== undefined)) out.push("cpu");
  if (c && (c.cpus || c.mems)) out.push("cpuset");
  if (r.pids && set(r.pids.limit)) out.push("pids");
  const b = r.blockIO;
  if (b && (set(b.weight) || set(b.leafWeight) || b.weightDevice?.length || b.throttleReadBpsDevice?.length ||
      b.throttleWriteBpsDevice?.length || b.throttleReadIOPSDevice?.length || b.throttleWriteIOPSDevice?.length)) out.push("blkio");
  if (r.hugepageLimits?.length) out.push("hugetlb");
  if (r.devices !== undefined) out.push("devices");
  if (r.network && set(r.network.classID)) out.push("net_cls");
  if (r.network?.priorities?.length) out.push("net_prio");
  if (r.rdma && Object.keys(r.rdma).length) out.push("rdma");
  if (r.unified && Object.keys(r.unified).length) out.push("unified");
  return out;
}

const FIELD: Record<ResourceKind, string> = {
  memory: "linux.resources.memory", cpu: "linux.resources.cpu", cpuset: "linux.resources.cpu.cpus/mems",
  pids: "linux.resources.pids", blkio: "linux.resources.blockIO", hugetlb: "linux.resources.hugepageLimits",
  devices: "linux.resources.devices", freezer: "freezer", net_cls: "linux.resources.network.classID",
  net_prio: "linux.resources.network.priorities", rdma: "linux.resources.rdma", unified: "linux.resources.unified",
};

const bad = (field: string, msg: string) => new BerthError("InvalidArgument", `${field}: ${msg}`);
const cannot = (field: string, msg: string) => new BerthError("FailedPrecondition", `${field}: ${msg}`);

function intIn(field: string, v: number | undefined, min: number, max: number, note = ""): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw bad(field, `${v} is out of range (${min}..${max}${note})`);
  }
}

const I64 = 2 ** 63;
const U64 = 2 ** 64;

function checkIdList(field: string, s: string, online: Set<number>, what: string): void {
  const ids = parseIdList(s);
  if (!ids) throw bad(field, `${JSON.stringify(s)} is not a list like "0-3,5"`);
  const off = [...ids].filter((i) => !online.has(i));
  if (off.length) {
    throw bad(field, `${JSON.stringify(s)} names ${what} ${off.slice(0, 4).join(",")}${off.length > 4 ? ",..." : ""} that ${off.length > 1 ? "are" : "is"} not online (online: ${[...online].join(",")})`);
  }
}

/** Pure checks of values (no host knowledge beyond sysfs facts). */
function checkValues(r: NumericResources, h: CgroupHierarchy): void {
  const m = r.memory;
  if (m) {
    const F = "linux.resources.memory";
    intIn(`${F}.limit`, m.limit, -1, I64);
    intIn(`${F}.reservation`, m.reservation, -1, I64);
    intIn(`${F}.swap`, m.swap, -1, I64);
    intIn(`${F}.kernel`, m.kernel, -1, I64);
    intIn(`${F}.kernelTCP`, m.kernelTCP, -1, I64);
    if (m.swappiness !== undefined && m.swappiness !== -1) intIn(`${F}.swappiness`, m.swappiness, 0, 100);
    if (set(m.swap) && m.swap > 0 && set(m.limit) && m.limit > 0 && m.swap < m.limit) {
      throw bad(`${F}.swap`, `${m.swap} is below memory.limit ${m.limit} (swap is the memory+swap total)`);
    }
  }
  const c = r.cpu;
  if (c) {
    const F = "linux.resources.cpu";
    if (set(c.shares)) intIn(`${F}.shares`, c.shares, 2, 262144);
    if (set(c.period)) intIn(`${F}.period`, c.period, 1000, 1000000, " microseconds");
    if (c.quota !== undefined && c.quota > 0) intIn(`${F}.quota`, c.quota, 1000, I64, " microseconds, or -1 for none");
    if (c.quota !== undefined && !Number.isInteger(c.quota)) throw bad(`${F}.quota`, `${c.quota} is not an integer`);
    intIn(`${F}.burst`, c.burst, 0, I64);
    if (c.burst !== undefined && c.burst > 0 && c.quota !== undefined && c.quota > 0 && c.burst > c.quota) {
      throw bad(`${F}.burst`, `${c.burst} exceeds quota ${c.quota}`);
    }
    intIn(`${F}.realtimePeriod`, c.realtimePeriod, 0, U64);
    intIn(`${F}.realtimeRuntime`, c.realtimeRuntime, -1, I64);
    if (set(c.realtimeRuntime) && c.realtimeRuntime > 0 && set(c.realtimePeriod) && c.realtimeRuntime > c.realtimePeriod) {
      throw bad(`${F}.realtimeRuntime`, `${c.realtimeRuntime} exceeds realtimePeriod ${c.realtimePeriod}`);
    }
    intIn(`${F}.idle`, c.idle, 0, 1);
    if (c.cpus) checkIdList(`${F}.cpus`, c.cpus, onlineCpus(h), "cpus");
    if (c.mems) checkIdList(`${F}.mems`, c.mems, onlineMems(h), "memory nodes");
  }
  if (r.pids && r.pids.limit !== undefined) {
    if (typeof r.pids.limit !== "number" || !Number.isInteger(r.pids.limit)) throw bad("linux.resources.pids.limit", `${r.pids.limit} is not an integer`);
  }
  const b = r.blockIO;
  if (b) {
    const F = "linux.resources.blockIO";
    if (set(b.weight)) intIn(`${F}.weight`, b.weight, 10, 1000);
    if (set(b.leafWeight)) intIn(`${F}.leafWeight`, b.leafWeight, 10, 1000);
    const dev = (f: string, d: { major: number; minor: number }) => {
      intIn(`${f}.major`, d.major, 0, 4095);
      intIn(`${f}.minor`, d.minor, 0, 2 ** 20 - 1);
      if (!blockDeviceExists(h, d.major, d.minor)) throw bad(f, `no block device ${d.major}:${d.minor} on this host`);
    };
    (b.weightDevice ?? []).forEach((d, i) => {
      const f = `${F}.weightDevice[${i}]`;
      dev(f, d);
      if (set(d.weight)) intIn(`${f}.weight`, d.weight, 10, 1000);
      if (set(d.leafWeight)) intIn(`${f}.leafWeight`, d.leafWeight, 10, 1000);
    });
    for (const k of ["throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"] as const) {
      (b[k] ?? []).forEach((d, i) => {
        const f = `${F}.${k}[${i}]`;
        dev(f, d);
        intIn(`${f}.rate`, d.rate, 0, U64);
      });
    }
  }
  if (r.hugepageLimits?.length) {
    const sizes = hugePageSizes(h);
    r.hugepageLimits.forEach((l, i) => {
      const f = `linux.resources.hugepageLimits[${i}]`;
      if (typeof l.pageSize !== "string" || !sizes.includes(l.pageSize)) {
        throw cannot(`${f}.pageSize`, `${JSON.stringify(l.pageSize)} is not a huge page size of this host (${sizes.join(", ") || "none"})`);
      }
      intIn(`${f}.limit`, l.limit, 0, U64);
    });
  }
  if (r.devices !== undefined) {
    if (!Array.isArray(r.devices)) throw bad("linux.resources.devices", "must be an array");
    normalizeDeviceRules(r.devices);
  }
  if (r.network) {
    intIn("linux.resources.network.classID", r.network.classID, 0, 2 ** 32 - 1);
    (r.network.priorities ?? []).forEach((p, i) => {
      const f = `linux.resources.network.priorities[${i}]`;
      if (typeof p.name !== "string" || !/^[^\s/]{1,15}$/.test(p.name)) throw bad(`${f}.name`, `${JSON.stringify(p.name)} is not an interface name`);
      intIn(`${f}.priority`, p.priority, 0, 2 ** 32 - 1);
    });
  }
  for (const [dev, v] of Object.entries(r.rdma ?? {})) {
    const f = `linux.resources.rdma[${JSON.stringify(dev)}]`;
    if (!/^[^\s=]+$/.test(dev)) throw bad(f, "is not an rdma device name");
    intIn(`${f}.hcaHandles`, v.hcaHandles, 0, 2 ** 31 - 1);
    intIn(`${f}.hcaObjects`, v.hcaObjects, 0, 2 ** 31 - 1);
  }
  for (const [k, v] of Object.entries(r.unified ?? {})) {
    const f = `linux.resources.unified[${JSON.stringify(k)}]`;
    if (k.includes("/") || k.includes("\0") || k === "." || k === ".." || k.includes("..")) throw bad(f, "a key must be a file name: no \"/\" or \"..\"");
    if (!/^[a-z_]+\.[A-Za-z0-9_.]+$/.test(k)) throw bad(f, "a key must be CONTROLLER.PARAMETER");
    if (k === "cgroup.procs" || k === "cgroup.threads") throw bad(f, "moving processes through unified is not allowed");
    if (typeof v !== "string") throw bad(f, "the value must be a string");
  }
}

/** Resources the owner cannot express at all. */
function checkSupport(r: NumericResources, h: CgroupHierarchy): void {
  for (const kind of requestedKinds(r)) {
    const owner = ownerOf(h, kind);
    if (!owner) {
      if (kind === "unified") throw cannot(FIELD.unified, "needs cgroup v2; this host has cgroup v1 only");
      const ctl = kind === "blkio" && h.mode === "v2" ? "io" : kind;
      throw cannot(FIELD[kind], `the ${ctl} controller is not ${h.mode === "v2" ? "available in cgroup v2 on this host" : "mounted on this host"}`);
    }
    if (owner === "v2") checkV2Support(kind, r);
    else checkV1RootFiles(kind, r, h);
  }
  if (r.unified && h.v2 && h.mode !== "v1") {
    for (const k of Object.keys(r.unified)) {
      const ctl = k.slice(0, k.indexOf("."));
      if (ctl !== "cgroup" && !h.v2.controllers.includes(ctl)) {
        throw cannot(`linux.resources.unified[${JSON.stringify(k)}]`, `controller ${ctl} is not available in cgroup v2 on this host`);
      }
    }
  }
}

function checkV2Support(kind: ResourceKind, r: NumericResources): void {
  const no = (f: string) => cannot(f, "not supported on cgroup v2");
  if (kind === "memory") {
    const m = r.memory!;
    if (m.swappiness !== undefined && m.swappiness !== -1) throw no("linux.resources.memory.swappiness");
    if (set(m.kernel)) throw no("linux.resources.memory.kernel");
    if (set(m.kernelTCP)) throw no("linux.resources.memory.kernelTCP");
    if (m.disableOOMKiller === true) throw no("linux.resources.memory.disableOOMKiller");
    if (m.useHierarchy === false) throw no("linux.resources.memory.useHierarchy (cgroup v2 is always hierarchical)");
  }
  if (kind === "cpu") {
    const c = r.cpu!;
    if (set(c.realtimePeriod)) throw no("linux.resources.cpu.realtimePeriod");
    if (set(c.realtimeRuntime)) throw no("linux.resources.cpu.realtimeRuntime");
  }
  if (kind === "blkio") {
    const b = r.blockIO!;
    if (set(b.leafWeight)) throw no("linux.resources.blockIO.leafWeight");
    (b.weightDevice ?? []).forEach((d, i) => {
      if (set(d.leafWeight)) throw no(`linux.resources.blockIO.weightDevice[${i}].leafWeight`);
    });
  }
}

/** v1 files that, when the kernel has them at all, exist in the hierarchy's root cgroup. */
function checkV1RootFiles(kind: ResourceKind, r: NumericResources, h: CgroupHierarchy): void {
  const need = (ctl: string, file: string, field: string, why: string) => {
    const mp = v1MountFor(h, ctl)!.mountpoint;
    if (!fileExists(mp, file)) throw cannot(field, `not supported by this kernel: no ${file} (${why})`);
  };
  if (kind === "memory") {
    const m = r.memory!;
    if (set(m.swap)) need("memory", "memory.memsw.limit_in_bytes", "linux.resources.memory.swap", "swap accounting is off");
    if (set(m.kernel)) need("memory", "memory.kmem.limit_in_bytes", "linux.resources.memory.kernel", "kernel memory limits were removed");
    if (set(m.kernelTCP)) need("memory", "memory.kmem.tcp.limit_in_bytes", "linux.resources.memory.kernelTCP", "kernel memory limits were removed");
  }
  if (kind === "cpu") {
    const c = r.cpu!;
    if (c.burst) need("cpu", "cpu.cfs_burst_us", "linux.resources.cpu.burst", "CFS burst needs linux 5.14");
    if (set(c.realtimePeriod)) need("cpu", "cpu.rt_period_us", "linux.resources.cpu.realtimePeriod", "CONFIG_RT_GROUP_SCHED is off");
    if (set(c.realtimeRuntime)) need("cpu", "cpu.rt_runtime_us", "linux.resources.cpu.realtimeRuntime", "CONFIG_RT_GROUP_SCHED is off");
    if (c.idle !== undefined) need("cpu", "cpu.idle", "linux.resources.cpu.idle", "SCHED_IDLE groups need linux 5.15");
  }
}

/**
 * Report, as a BerthError naming the field, anything in `resources` that is
 * malformed or that this host cannot honour. Checks that need the container's
 * own cgroup directory (e.g. blkio weight files, which the root lacks) are
 * repeated by set() before it writes anything.
 */
export function checkValidity(resources: LinuxResources, hierarchy: CgroupHierarchy): void {
  if (resources === null || typeof resources !== "object") throw bad("linux.resources", "must be an object");
  const r = toNumeric(resources);
  checkValues(r, hierarchy);
  checkSupport(r, hierarchy);
}
