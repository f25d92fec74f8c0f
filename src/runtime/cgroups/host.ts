/** Facts about the host that decide whether a limit can be honoured, read from sysfs. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { CgroupHierarchy } from "./hierarchy.ts";

/** Parse a kernel cpu/node list ("0-3,5,7-8"); null when malformed. */
export function parseIdList(s: string): Set<number> | null {
  const out = new Set<number>();
  const t = s.trim();
  if (t === "") return out;
  for (const part of t.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 1 << 16) return null;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

function readList(path: string, fallback: string): Set<number> {
  let text = fallback;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    /* not present: e.g. no NUMA node directory */
  }
  return parseIdList(text) ?? new Set();
}

export function onlineCpus(h: CgroupHierarchy): Set<number> {
  return readList(`${h.sysfs}/devices/system/cpu/online`, "0");
}

export function onlineMems(h: CgroupHierarchy): Set<number> {
  return readList(`${h.sysfs}/devices/system/node/online`, "0");
}

/** "2048kB" directory suffix -> "2MB" (the spelling runc and the OCI spec use) */
export function pageSizeName(kb: number): string {
  if (kb % (1024 * 1024) === 0) return `${kb / (1024 * 1024)}GB`;
  if (kb % 1024 === 0) return `${kb / 1024}MB`;
  return `${kb}KB`;
}

export function hugePageSizes(h: CgroupHierarchy): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(`${h.sysfs}/kernel/mm/hugepages`);
  } catch {
    return [];
  }
  const kbs: number[] = [];
  for (const n of names) {
    const m = /^hugepages-(\d+)kB$/.exec(n);
    if (m) kbs.push(Number(m[1]));
  }
  return kbs.sort((a, b) => a - b).map(pageSizeName);
}

export function blockDeviceExists(h: CgroupHierarchy, major: number, minor: number): boolean {
  return existsSync(`${h.sysfs}/dev/block/${major}:${minor}`);
}
