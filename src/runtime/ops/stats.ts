/**
 * Container statistics in the shape of runc's `events` (types/events.go):
 * field names, order and Go's omitempty rules, so tools that parse runc's
 * output (containerd's runc shim, scripts) read berth's the same way.
 */
import type { BlkioEntry, BlkioTable, CgroupStats, MemoryCounter } from "../cgroups/manager.ts";

type Obj = Record<string, unknown>;

/** Go's omitempty for the scalar kinds used here. */
const empty = (v: unknown) => v === undefined || v === 0 || v === 0n || v === "" || (Array.isArray(v) && v.length === 0);

/** An object with keys in the given order; `omit` keys are dropped when empty. */
function goStruct(fields: [string, unknown, boolean?][]): Obj {
  const out: Obj = {};
  for (const [k, v, omit] of fields) {
    if (omit && empty(v)) continue;
    out[k] = v ?? 0;
  }
  return out;
}

function memoryEntry(c: MemoryCounter | undefined): Obj {
  return goStruct([
    ["limit", c?.limit ?? 0],
    ["usage", c?.usage, true],
    ["max", c?.maxUsage, true],
    ["failcnt", c?.failcnt ?? 0],
  ]);
}

const BLKIO_KEYS: [BlkioTable, string][] = [
  ["ioServiceBytesRecursive", "ioServiceBytesRecursive"],
  ["ioServicedRecursive", "ioServicedRecursive"],
  ["ioQueuedRecursive", "ioQueueRecursive"], // sic: runc's json name
  ["ioServiceTimeRecursive", "ioServiceTimeRecursive"],
  ["ioWaitTimeRecursive", "ioWaitTimeRecursive"],
  ["ioMergedRecursive", "ioMergedRecursive"],
  ["ioTimeRecursive", "ioTimeRecursive"],
  ["sectorsRecursive", "sectorsRecursive"],
];

const blkioEntry = (e: BlkioEntry) => goStruct([["major", e.major, true], ["minor", e.minor, true], ["op", e.op, true], ["value", e.value, true]]);

/** Go encodes a map with sorted keys. */
const sortedMap = <T>(m: Record<string, T>, f: (v: T) => unknown): Obj =>
  Object.fromEntries(Object.keys(m).sort().map((k) => [k, f(m[k]!)]));

/** CgroupStats -> runc's types.Stats. */
export function runcStats(s: CgroupStats): Obj {
  const cpu = s.cpu;
  const cs = s.cpuset;
  const mem = s.memory;
  return {
    cpu: {
      usage: goStruct([
        ["total", cpu?.usageNs, true],
        ["percpu", cpu?.percpu, true],
        ["percpu_kernel", cpu?.percpuKernel, true],
        ["percpu_user", cpu?.percpuUser, true],
        ["kernel", cpu?.systemNs ?? 0],
        ["user", cpu?.userNs ?? 0],
      ]),
      throttling: goStruct([
        ["periods", cpu?.periods, true],
        ["throttledPeriods", cpu?.throttledPeriods, true],
        ["throttledTime", cpu?.throttledNs, true],
      ]),
    },
    cpuset: goStruct([
      ["cpus", cs?.cpus, true],
      ["cpu_exclusive", cs?.cpuExclusive],
      ["mems", cs?.mems, true],
      ["mem_hardwall", cs?.memHardwall],
      ["mem_exclusive", cs?.memExclusive],
      ["memory_migrate", cs?.memoryMigrate],
      ["memory_spread_page", cs?.memorySpreadPage],
      ["memory_spread_slab", cs?.memorySpreadSlab],
      ["memory_pressure", cs?.memoryPressure],
      ["sched_load_balance", cs?.schedLoadBalance],
      ["sched_relax_domain_level", cs?.schedRelaxDomainLevel],
    ]),
    memory: goStruct([
      ["cache", mem?.cache, true],
      ["usage", memoryEntry(mem?.counters.memory)],
      ["swap", memoryEntry(mem?.counters.swap)],
      ["kernel", memoryEntry(mem?.counters.kernel)],
      ["kernelTCP", memoryEntry(mem?.counters.kernelTCP)],
      ["raw", mem && Object.keys(mem.stat).length ? sortedMap(mem.stat, (v) => v) : undefined, true],
    ]),
    pids: goStruct([
      ["current", s.pids?.current, true],
      ["limit", s.pids?.limit ?? 0, true],
    ]),
    blkio: goStruct(BLKIO_KEYS.map(([t, name]) => [name, s.blkio?.tables[t]?.map(blkioEntry), true] as [string, unknown, boolean])),
    hugetlb: sortedMap(s.hugetlb ?? {}, (h) => goStruct([["usage", h.usage, true], ["max", h.maxUsage, true], ["failcnt", h.failcnt]])),
    intel_rdt: {},
    network_interfaces: null,
  };
}

/**
 * JSON as Go's encoding/json writes it: integers beyond 2^53 exact (bigint or
 * exactly-representable numbers), and <, >, & escaped.
 */
export function goJson(v: unknown): string {
  const raw = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === "bigint") return raw(x.toString());
    if (typeof x === "number" && Number.isInteger(x) && !Number.isSafeInteger(x)) return raw(BigInt(x).toString());
    return x;
  }).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** One line of `events` output: {"type":..., "id":..., "data":...} (data omitted when absent). */
export function eventLine(type: "stats" | "oom", id: string, data?: unknown): string {
  return goJson(data === undefined ? { type, id } : { type, id, data }) + "\n";
}
