/** cgroup v2 statistics -> CgroupStats (see backend.ts for the shape). */
import type { CgroupStats, Owns } from "../backend.ts";
import { fileExists, parseLimit, readKeyValues, readRaw, readValueOr } from "../fsio.ts";

const num = (dir: string, file: string) => Number(readValueOr(dir, file, "0")) || 0;

export function v2Stats(into: CgroupStats, owns: Owns, dir: string, pageSizes: string[]): void {
  if (owns("memory") && fileExists(dir, "memory.current")) {
    const events = readKeyValues(dir, "memory.events");
    into.memory = {
      usage: num(dir, "memory.current"),
      maxUsage: fileExists(dir, "memory.peak") ? num(dir, "memory.peak") : undefined,
      limit: parseLimit(readValueOr(dir, "memory.max", "max")),
      failcnt: events.get("max") ?? 0,
      oomKills: events.get("oom_kill") ?? 0,
      swapUsage: fileExists(dir, "memory.swap.current") ? num(dir, "memory.swap.current") : undefined,
      stat: Object.fromEntries(readKeyValues(dir, "memory.stat")),
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
  if (owns("pids") && fileExists(dir, "pids.current")) {
    into.pids = { current: num(dir, "pids.current"), limit: parseLimit(readValueOr(dir, "pids.max", "max")) };
  }
  if (owns("blkio") && fileExists(dir, "io.stat")) {
    const devices: { major: number; minor: number; readBytes: number; writeBytes: number }[] = [];
    for (const line of readRaw(dir, "io.stat").split("\n")) {
      const m = /^(\d+):(\d+)\s+(.*)$/.exec(line.trim());
      if (!m) continue;
      const kv = Object.fromEntries(m[3]!.split(/\s+/).map((p) => p.split("=") as [string, string]));
      devices.push({ major: Number(m[1]), minor: Number(m[2]), readBytes: Number(kv.rbytes ?? 0), writeBytes: Number(kv.wbytes ?? 0) });
    }
    into.blkio = {
      readBytes: devices.reduce((a, d) => a + d.readBytes, 0),
      writeBytes: devices.reduce((a, d) => a + d.writeBytes, 0),
      devices,
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
