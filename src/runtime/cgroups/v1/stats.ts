/** cgroup v1 statistics -> CgroupStats (see backend.ts for the shape). */
import type { BlkioEntry, BlkioTable, CgroupStats, CpusetStats, MemoryCounter, Owns } from "../backend.ts";
import { fileExists, parseLimit, readKeyValues, readRaw, readUint64, readValueOr } from "../fsio.ts";
import { parseIdList } from "../host.ts";

const num = (dir: string, file: string) => Number(readValueOr(dir, file, "0")) || 0;
const USER_HZ = 100;

/** memory[.name].{usage_in_bytes,max_usage_in_bytes,failcnt,limit_in_bytes}; undefined if the group is absent */
function memoryCounter(dir: string, name: string): MemoryCounter | undefined {
  const p = name ? `memory.${name}` : "memory";
  const usage = readUint64(dir, `${p}.usage_in_bytes`);
  if (usage === undefined) return undefined;
  return {
    usage: Number(usage),
    maxUsage: Number(readUint64(dir, `${p}.max_usage_in_bytes`) ?? 0n),
    failcnt: Number(readUint64(dir, `${p}.failcnt`) ?? 0n),
    limit: readUint64(dir, `${p}.limit_in_bytes`) ?? 0n,
  };
}

/** "user system" columns of cpuacct.usage_all, per cpu */
function percpuModes(dir: string): { user: number[]; kernel: number[] } | undefined {
  let text: string;
  try {
    text = readRaw(dir, "cpuacct.usage_all");
  } catch {
    return undefined;
  }
  const user: number[] = [];
  const kernel: number[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || !f.every((x) => /^\d+$/.test(x))) continue;
    user.push(Number(f[1]));
    kernel.push(Number(f[2]));
  }
  return { user, kernel };
}

const idList = (dir: string, file: string): number[] => [...(parseIdList(readValueOr(dir, file, "")) ?? [])].sort((a, b) => a - b);

function cpusetStats(dir: string): CpusetStats {
  const flag = (f: string) => (fileExists(dir, f) ? num(dir, f) : undefined);
  const out: CpusetStats = { cpus: idList(dir, "cpuset.cpus"), mems: idList(dir, "cpuset.mems") };
  const flags: [keyof CpusetStats, string][] = [
    ["cpuExclusive", "cpuset.cpu_exclusive"], ["memHardwall", "cpuset.mem_hardwall"], ["memExclusive", "cpuset.mem_exclusive"],
    ["memoryMigrate", "cpuset.memory_migrate"], ["memorySpreadPage", "cpuset.memory_spread_page"],
    ["memorySpreadSlab", "cpuset.memory_spread_slab"], ["memoryPressure", "cpuset.memory_pressure"],
    ["schedLoadBalance", "cpuset.sched_load_balance"], ["schedRelaxDomainLevel", "cpuset.sched_relax_domain_level"],
  ];
  for (const [k, f] of flags) {
    const v = flag(f);
    if (v !== undefined) (out as unknown as Record<string, number>)[k] = v;
  }
  return out;
}

/** "8:0 Read 4096" lines ("Total N" skipped); undefined when the file is missing */
export function readBlkioTable(dir: string, file: string): BlkioEntry[] | undefined {
  let text: string;
  try {
    text = readRaw(dir, file);
  } catch {
    return undefined;
  }
  const out: BlkioEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/[\s:]+/).filter(Boolean);
    if (f.length < 3) continue; // "Total 301", blank
    const [major, minor] = [Number(f[0]), Number(f[1])];
    const op = f.length === 4 ? f[2]! : "";
    const value = Number(f[f.length - 1]);
    if (![major, minor, value].every(Number.isInteger)) continue;
    out.push({ major, minor, op, value });
  }
  return out;
}

/**
 * runc's order of blkio sources: BFQ debug files, BFQ, CFQ, throttle
 * (recursive), throttle. The first group whose first file exists and has
 * entries is used.
 */
const BLKIO_GROUPS: [string, BlkioTable][][] = [
  [
    ["blkio.bfq.sectors_recursive", "sectorsRecursive"], ["blkio.bfq.io_service_time_recursive", "ioServiceTimeRecursive"],
    ["blkio.bfq.io_wait_time_recursive", "ioWaitTimeRecursive"], ["blkio.bfq.io_merged_recursive", "ioMergedRecursive"],
    ["blkio.bfq.io_queued_recursive", "ioQueuedRecursive"], ["blkio.bfq.time_recursive", "ioTimeRecursive"],
    ["blkio.bfq.io_serviced_recursive", "ioServicedRecursive"], ["blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive"],
  ],
  [["blkio.bfq.io_serviced_recursive", "ioServicedRecursive"], ["blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive"]],
  [
    ["blkio.sectors_recursive", "sectorsRecursive"], ["blkio.io_service_time_recursive", "ioServiceTimeRecursive"],
    ["blkio.io_wait_time_recursive", "ioWaitTimeRecursive"], ["blkio.io_merged_recursive", "ioMergedRecursive"],
    ["blkio.io_queued_recursive", "ioQueuedRecursive"], ["blkio.time_recursive", "ioTimeRecursive"],
    ["blkio.io_serviced_recursive", "ioServicedRecursive"], ["blkio.io_service_bytes_recursive", "ioServiceBytesRecursive"],
  ],
  [["blkio.throttle.io_serviced_recursive", "ioServicedRecursive"], ["blkio.throttle.io_service_bytes_recursive", "ioServiceBytesRecursive"]],
  [["blkio.throttle.io_serviced", "ioServicedRecursive"], ["blkio.throttle.io_service_bytes", "ioServiceBytesRecursive"]],
];

function blkioTables(dir: string): Partial<Record<BlkioTable, BlkioEntry[]>> {
  for (const group of BLKIO_GROUPS) {
    const first = readBlkioTable(dir, group[0]![0]);
    if (!first?.length) continue;
    const out: Partial<Record<BlkioTable, BlkioEntry[]>> = {};
    for (const [file, table] of group) out[table] = readBlkioTable(dir, file) ?? [];
    return out;
  }
  return {};
}

export function v1Stats(into: CgroupStats, owns: Owns, dir: (c: string) => string | undefined, pageSizes: string[]): void {
  const mem = dir("memory");
  if (owns("memory") && mem && fileExists(mem, "memory.usage_in_bytes")) {
    const oom = readKeyValues(mem, "memory.oom_control");
    const stat = Object.fromEntries(readKeyValues(mem, "memory.stat"));
    const counters: NonNullable<CgroupStats["memory"]>["counters"] = { memory: memoryCounter(mem, "")! };
    for (const [k, name] of [["swap", "memsw"], ["kernel", "kmem"], ["kernelTCP", "kmem.tcp"]] as const) {
      const c = memoryCounter(mem, name);
      if (c) counters[k] = c;
    }
    into.memory = {
      usage: num(mem, "memory.usage_in_bytes"),
      maxUsage: num(mem, "memory.max_usage_in_bytes"),
      limit: parseLimit(readValueOr(mem, "memory.limit_in_bytes", "max")),
      failcnt: num(mem, "memory.failcnt"),
      oomKills: oom.get("oom_kill") ?? 0,
      swapUsage: fileExists(mem, "memory.memsw.usage_in_bytes") ? num(mem, "memory.memsw.usage_in_bytes") : undefined,
      stat,
      cache: stat["cache"] ?? 0,
      counters,
    };
  }
  const cpuacct = dir("cpuacct");
  const cpu = dir("cpu");
  if (owns("cpu") && (cpuacct || cpu)) {
    const acct = cpuacct ? readKeyValues(cpuacct, "cpuacct.stat") : new Map<string, number>();
    const st = cpu ? readKeyValues(cpu, "cpu.stat") : new Map<string, number>();
    into.cpu = {
      usageNs: cpuacct ? num(cpuacct, "cpuacct.usage") : 0,
      userNs: ((acct.get("user") ?? 0) * 1e9) / USER_HZ,
      systemNs: ((acct.get("system") ?? 0) * 1e9) / USER_HZ,
      periods: st.get("nr_periods") ?? 0,
      throttledPeriods: st.get("nr_throttled") ?? 0,
      throttledNs: st.get("throttled_time") ?? 0,
    };
    if (cpuacct && fileExists(cpuacct, "cpuacct.usage_percpu")) {
      into.cpu.percpu = readValueOr(cpuacct, "cpuacct.usage_percpu", "").split(/\s+/).filter(Boolean).map(Number);
      const modes = percpuModes(cpuacct);
      if (modes) [into.cpu.percpuUser, into.cpu.percpuKernel] = [modes.user, modes.kernel];
    }
  }
  const cpuset = dir("cpuset");
  if (owns("cpuset") && cpuset && fileExists(cpuset, "cpuset.cpus")) into.cpuset = cpusetStats(cpuset);
  const pids = dir("pids");
  if (owns("pids") && pids) {
    into.pids = { current: num(pids, "pids.current"), limit: parseLimit(readValueOr(pids, "pids.max", "max")) };
  }
  const blkio = dir("blkio");
  if (owns("blkio") && blkio) {
    let entries: BlkioEntry[] = [];
    for (const f of ["blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"]) {
      const t = readBlkioTable(blkio, f);
      if (t) {
        entries = t;
        break;
      }
    }
    const devs = new Map<string, { major: number; minor: number; readBytes: number; writeBytes: number }>();
    for (const e of entries) {
      if (e.op !== "Read" && e.op !== "Write") continue;
      const key = `${e.major}:${e.minor}`;
      const d = devs.get(key) ?? { major: e.major, minor: e.minor, readBytes: 0, writeBytes: 0 };
      if (e.op === "Read") d.readBytes += e.value;
      else d.writeBytes += e.value;
      devs.set(key, d);
    }
    const devices = [...devs.values()];
    into.blkio = {
      readBytes: devices.reduce((a, d) => a + d.readBytes, 0),
      writeBytes: devices.reduce((a, d) => a + d.writeBytes, 0),
      devices,
      tables: blkioTables(blkio),
    };
  }
  const huge = dir("hugetlb");
  if (owns("hugetlb") && huge) {
    into.hugetlb = {};
    for (const size of pageSizes) {
      const p = `hugetlb.${size}`;
      if (!fileExists(huge, `${p}.usage_in_bytes`)) continue;
      into.hugetlb[size] = {
        usage: num(huge, `${p}.usage_in_bytes`),
        maxUsage: num(huge, `${p}.max_usage_in_bytes`),
        limit: parseLimit(readValueOr(huge, `${p}.limit_in_bytes`, "max")),
        failcnt: num(huge, `${p}.failcnt`),
      };
    }
  }
}
