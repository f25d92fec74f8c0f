/**
 * `update`: change a live container's cgroup limits. The request is a sparse
 * `linux.resources` (0 and "" mean "leave as is", as in runc); it is merged
 * into the resources kept in the container's state, the merged whole is
 * checked, only what the request names is written (with rollback on a failed
 * write), and the merged resources are saved so later reads and updates see
 * them. Device rules are not updatable (runc ignores them too).
 */
import { failedPrecondition, wrapError } from "../../errors.ts";
import type { LinuxResources } from "../../oci/runtime-spec.ts";
import { parseJson, validateResources } from "../../oci/validate.ts";
import type { Runtime } from "../container.ts";
import { loadCgroupManager } from "../cgroups/manager.ts";
import { parseInt64, parseMemoryFlag, parseUint } from "./units.ts";

/** runc's `update` flags, by name, as given on the command line. */
export type UpdateFlags = Partial<Record<(typeof UPDATE_FLAGS)[number], string>>;

export const UPDATE_FLAGS = [
  "blkio-weight", "cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems",
  "kernel-memory", "kernel-memory-tcp", "memory", "memory-reservation", "memory-swap", "pids-limit",
  "l3-cache-schema", "mem-bw-schema",
] as const;

/** The resources a set of `update` flags asks for (runc's parsing: sizes like "64m", "-1" = unlimited). */
export function resourcesFromFlags(f: UpdateFlags): LinuxResources {
  for (const rdt of ["l3-cache-schema", "mem-bw-schema"] as const) {
    if (f[rdt] !== undefined) throw failedPrecondition(`update: --${rdt}: intel rdt is not supported by berth-runtime`);
  }
  const r: LinuxResources = {};
  const mem = (flag: keyof UpdateFlags, key: "limit" | "reservation" | "swap" | "kernel" | "kernelTCP") => {
    const v = f[flag];
    if (v !== undefined && v !== "") (r.memory ??= {})[key] = parseMemoryFlag(v, `update: --${flag}`);
  };
  mem("memory", "limit");
  mem("memory-reservation", "reservation");
  mem("memory-swap", "swap");
  mem("kernel-memory", "kernel");
  mem("kernel-memory-tcp", "kernelTCP");
  const cpu = (flag: keyof UpdateFlags, key: "shares" | "period" | "realtimePeriod" | "quota" | "realtimeRuntime", signed: boolean) => {
    const v = f[flag];
    if (v !== undefined && v !== "") (r.cpu ??= {})[key] = signed ? parseInt64(v, `update: --${flag}`) : parseUint(v, `update: --${flag}`);
  };
  cpu("cpu-share", "shares", false);
  cpu("cpu-period", "period", false);
  cpu("cpu-rt-period", "realtimePeriod", false);
  cpu("cpu-quota", "quota", true);
  cpu("cpu-rt-runtime", "realtimeRuntime", true);
  if (f["cpuset-cpus"]) (r.cpu ??= {}).cpus = f["cpuset-cpus"];
  if (f["cpuset-mems"]) (r.cpu ??= {}).mems = f["cpuset-mems"];
  if (f["blkio-weight"] !== undefined) r.blockIO = { weight: parseInt64(f["blkio-weight"], "update: --blkio-weight") };
  if (f["pids-limit"] !== undefined) r.pids = { limit: parseInt64(f["pids-limit"], "update: --pids-limit") };
  return r;
}

/** `--resources` content: a JSON linux.resources object, checked field by field. */
export function resourcesFromJson(text: string, source: string): LinuxResources {
  return validateResources(parseJson(text, source), { source });
}

const isSet = (v: unknown) => v !== undefined && v !== 0 && v !== 0n && v !== "";

function mergeFields<T extends object>(base: T | undefined, patch: T | undefined): T | undefined {
  if (!patch) return base;
  const out = { ...(base ?? {}) } as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) if (isSet(v)) out[k] = v;
  return out as T;
}

function mergeBy<T>(base: T[] | undefined, patch: T[] | undefined, key: (x: T) => string): T[] | undefined {
  if (!patch?.length) return base;
  const out = [...(base ?? [])];
  for (const p of patch) {
    const i = out.findIndex((b) => key(b) === key(p));
    if (i >= 0) out[i] = p;
    else out.push(p);
  }
  return out;
}

const dev = (d: { major: number; minor: number }) => `${d.major}:${d.minor}`;

/** base with every set value of patch laid over it (lists merged by device / page size / name). */
export function mergeResources(base: LinuxResources | undefined, patch: LinuxResources): LinuxResources {
  const out: LinuxResources = structuredClone(base ?? {});
  if (patch.memory) out.memory = mergeFields(out.memory, patch.memory);
  if (patch.cpu) out.cpu = mergeFields(out.cpu, patch.cpu);
  if (patch.pids && isSet(patch.pids.limit)) out.pids = { ...out.pids, limit: patch.pids.limit };
  const b = patch.blockIO;
  if (b) {
    const o = mergeFields(out.blockIO, { weight: b.weight, leafWeight: b.leafWeight })!;
    for (const k of ["weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"] as const) {
      const m = mergeBy<{ major: number; minor: number }>(o[k], b[k], dev);
      if (m) (o as Record<string, unknown>)[k] = m;
    }
    out.blockIO = o;
  }
  if (patch.hugepageLimits) out.hugepageLimits = mergeBy(out.hugepageLimits, patch.hugepageLimits, (h) => h.pageSize);
  if (patch.network) {
    out.network = mergeFields(out.network, { classID: patch.network.classID });
    const pr = mergeBy(out.network?.priorities, patch.network.priorities, (p) => p.name);
    if (pr) out.network = { ...out.network, priorities: pr };
  }
  if (patch.rdma) out.rdma = { ...out.rdma, ...patch.rdma };
  if (patch.unified) out.unified = { ...out.unified, ...patch.unified };
  return out;
}

/**
 * The resources in force after a request, and what to write for it: the
 * request itself, plus the other half of the memory/memory+swap pair when the
 * request names only one (cgroup v2 derives swap.max from both; a lifted
 * memory limit lifts swap with it).
 */
export function planUpdate(base: LinuxResources | undefined, request: LinuxResources): { merged: LinuxResources; writes: LinuxResources } {
  const { devices: _notUpdatable, ...patch } = request;
  const merged = mergeResources(base, patch);
  const m = patch.memory;
  if (!m || isSet(m.limit) === isSet(m.swap)) return { merged, writes: patch };
  const { limit, swap } = merged.memory!;
  if (isSet(m.swap)) return { merged, writes: isSet(limit) ? { ...patch, memory: { ...m, limit } } : patch };
  if (!isSet(swap) || Number(swap) === -1) return { merged, writes: patch };
  if (Number(m.limit) === -1) {
    merged.memory!.swap = -1;
    return { merged, writes: { ...patch, memory: { ...m, swap: -1 } } };
  }
  return { merged, writes: { ...patch, memory: { ...m, swap } } };
}

/** Apply a request to a live container; returns the resources now in force (as saved). */
export function update(rt: Runtime, id: string, request: LinuxResources): LinuxResources {
  return rt.store.withLock(id, () => {
    const rec = rt.store.load(id);
    const status = rt.status(rec);
    if (status === "stopped") throw failedPrecondition(`update ${id}: container is not running`);
    if (!rec.cgroup) throw failedPrecondition(`update ${id}: the container has no cgroup`);
    const cg = loadCgroupManager(rec.cgroup);
    const { merged, writes } = planUpdate(rec.config.linux?.resources, request);
    try {
      cg.check(merged);
      cg.update(writes);
    } catch (e) {
      throw wrapError(`update ${id}`, e);
    }
    rec.config.linux = { ...rec.config.linux, resources: merged };
    rt.store.save(rec);
    return merged;
  });
}
