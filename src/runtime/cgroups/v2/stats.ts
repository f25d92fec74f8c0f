/** cgroup v2 statistics -> CgroupStats (see backend.ts for the shape). */
import { type BlkioEntry, type BlkioTable, type CgroupStats, MAX_U64, type MemoryCounter, type Owns } from "../backend.ts";
import { fileExists, parseLimit, readKeyValues, readRaw, readUint64, readValueOr } from "../fsio.ts";
import { parseIdList } from "../host.ts";

const num = (dir: string, file: string) => Number(readValueOr(dir, file, "0")) || 0;

/** io.stat keys -> runc's v1-named tables */
const IO_TABLE: Record<string, [BlkioTable, string]> = {
  rbytes: ["ioServiceBytesRecursive", "Read"],
  wbytes: ["ioServiceBytesRecursive", "Write"],
  rios: ["ioServicedRecursive", "Read"],
  wios: ["ioServicedRecursive", "Write"],
};

/**
 * memory.current/max, and memory.swap.* reported as memory+swap (what v1's
 * memsw means, and what runc reports on v2).
 */
function memoryCounters(dir: string, failcnt: number): NonNullable<CgroupStats["memory"]>["counters"] {
  const memory: MemoryCounter = {
    usage: Number(readUint64(dir, "memory.current") ?? 0n),
    maxUsage: fileExists(dir, "memory.peak") ? Number(readUint64(dir, "memory.peak") ?? 0n) : undefined,
    failcnt,
    limit: readUint64(dir, "memory.max") ?? MAX_U64,
  };
  const out: NonNullable<CgroupStats["memory"]>["counters"] = { memory };
  const swapUsage = readUint64(dir, "memory.swap.current");
  if (swapUsage !== undefined) {
    const swapLimit = readUint64(dir, "memory.swap.max") ?? MAX_U64;
    const sum = swapLimit + memory.limit;
    out.swap = {
      usage: Number(swapUsage) + memory.usage,
      failcnt: readKeyValues(dir, "memory.swap.events").get("max") ?? 0,
      limit: swapLimit === MAX_U64 || sum > MAX_U64 ? MAX_U64 : sum,
    };
  }
  return out;
}

export function v2Stats(into: CgroupStats, owns: Owns, dir: string, pageSizes: string[]): void {
  if (owns("memory") && fileExists(dir, "memory.current")) {
    const events = readKeyValues(dir, "memory.events");
    const stat = Object.fromEntries(readKeyValues(dir, "memory.stat"));
    const failcnt = events.get("max") ?? 0;
    into.memory = {
      usage: num(dir, "memory.current"),
      maxUsage: fileExists(dir, "memory.peak") ? num(dir, "memory.peak") : undefined,
      limit: parseLimit(readValueOr(dir, "memory.max", "max")),
      failcnt,
      oomKills: events.get("oom_kill") ?? 0,
      swapUsage: fileExists(dir, "memory.swap.current") ? num(dir, "memory.swap.current") : undefined,
      stat,
      cache: stat["file"] ?? 0,
      counters: memoryCounters(dir, failcnt),
    };
  }
  if (owns("cpu") && fileExists(dir, "cpu.stat")) {
    // cpu.stat's usage lines exist even without the cpu controller
    const st = readKeyValues(dir, "cpu.stat");
    into.cpu = {
      usageNs: (st.get("usage_usec") ?? 0) * 1000,
      userNs: (st.get("user_usec") ?? 0) * 1000,
      systemNs: (st.get("system_usec") ?? 0) * 1000,
      periods: st.get("nr_periods") ?? 0,
      throttledPeriods: st.get("nr_throttled") ?? 0,
      throttledNs: (st.get("throttled_usec") ?? 0) * 1000,
    };
  }
  if (owns("cpuset") && fileExists(dir, "cpuset.cpus.effective")) {
    const ids = (f: string) => [...(parseIdList(readValueOr(dir, f, "")) ?? [])].sort((a, b) => a - b);
    into.cpuset = { cpus: ids("cpuset.cpus.effective"), mems: ids("cpuset.mems.effective") };
  }
  if (owns("pids") && fileExists(dir, "pids.current")) {
    into.pids = { current: num(dir, "pids.current"), limit: parseLimit(readValueOr(dir, "pids.max", "max")) };
  }
  if (owns("blkio") && fileExists(dir, "io.stat")) {
    const devices: { major: number; minor: number; readBytes: number; writeBytes: number }[] = [];
    const tables: Partial<Record<BlkioTable, BlkioEntry[]>> = {};
    for (const line of readRaw(dir, "io.stat").split("\n")) {
      const m = /^(\d+):(\d+)\s+(.*)$/.exec(line.trim());
      if (!m) continue;
      const [major, minor] = [Number(m[1]), Number(m[2])];
      const kv = Object.fromEntries(m[3]!.split(/\s+/).map((p) => p.split("=") as [string, string]));
      devices.push({ major, minor, readBytes: Number(kv.rbytes ?? 0), writeBytes: Number(kv.wbytes ?? 0) });
      for (const [k, v] of Object.entries(kv)) {
        const t = IO_TABLE[k];
        if (t) (tables[t[0]] ??= []).push({ major, minor, op: t[1], value: Number(v) });
      }
    }
    into.blkio = {
      readBytes: devices.reduce((a, d) => a + d.readBytes, 0),
      writeBytes: devices.reduce((a, d) => a + d.writeBytes, 0),
      devices,
      tables,
    };
  }
  if (owns("hugetlb")) {
    const out: NonNullable<CgroupStats["hugetlb"]> = {};
    for (const size of pageSizes) {
      const p = `hugetlb.${size}`;
      if (!fileExists(dir, `${p}.current`)) continue;
      out[size] = {
        usage: num(dir, `${p}.current`),
        limit: parseLimit(readValueOr(dir, `${p}.max`, "max")),
        failcnt: readKeyValues(dir, `${p}.events`).get("max") ?? 0,
      };
    }
    if (Object.keys(out).length) into.hugetlb = out;
  }
}
