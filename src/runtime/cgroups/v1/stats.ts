/** cgroup v1 statistics -> CgroupStats (see backend.ts for the shape). */
import type { CgroupStats, Owns } from "../backend.ts";
import { fileExists, parseLimit, readKeyValues, readRaw, readValueOr } from "../fsio.ts";

const num = (dir: string, file: string) => Number(readValueOr(dir, file, "0")) || 0;
const USER_HZ = 100;

export function v1Stats(into: CgroupStats, owns: Owns, dir: (c: string) => string | undefined, pageSizes: string[]): void {
  const mem = dir("memory");
  if (owns("memory") && mem && fileExists(mem, "memory.usage_in_bytes")) {
    const oom = readKeyValues(mem, "memory.oom_control");
    into.memory = {
      usage: num(mem, "memory.usage_in_bytes"),
      maxUsage: num(mem, "memory.max_usage_in_bytes"),
      limit: parseLimit(readValueOr(mem, "memory.limit_in_bytes", "max")),
      failcnt: num(mem, "memory.failcnt"),
      oomKills: oom.get("oom_kill") ?? 0,
      swapUsage: fileExists(mem, "memory.memsw.usage_in_bytes") ? num(mem, "memory.memsw.usage_in_bytes") : undefined,
      stat: Object.fromEntries(readKeyValues(mem, "memory.stat")),
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
  }
  const pids = dir("pids");
  if (owns("pids") && pids) {
    into.pids = { current: num(pids, "pids.current"), limit: parseLimit(readValueOr(pids, "pids.max", "max")) };
  }
  const blkio = dir("blkio");
  if (owns("blkio") && blkio) {
    let text = "";
    for (const f of ["blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"]) {
      try {
        text = readRaw(blkio, f);
        break;
      } catch {
        /* try the next */
      }
    }
    const devs = new Map<string, { major: number; minor: number; readBytes: number; writeBytes: number }>();
    for (const line of text.split("\n")) {
      const m = /^(\d+):(\d+)\s+(Read|Write)\s+(\d+)$/.exec(line.trim());
      if (!m) continue;
      const key = `${m[1]}:${m[2]}`;
      const d = devs.get(key) ?? { major: Number(m[1]), minor: Number(m[2]), readBytes: 0, writeBytes: 0 };
      if (m[3] === "Read") d.readBytes += Number(m[4]);
      else d.writeBytes += Number(m[4]);
      devs.set(key, d);
    }
    const devices = [...devs.values()];
    into.blkio = {
      readBytes: devices.reduce((a, d) => a + d.readBytes, 0),
      writeBytes: devices.reduce((a, d) => a + d.writeBytes, 0),
      devices,
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
