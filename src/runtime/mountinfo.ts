/** Reading /proc/self/mountinfo. */
import { readFileSync } from "node:fs";

export interface MountEntry {
  /** unique while mounted (field 1) */
  id: number;
  mountPoint: string;
  root: string;
  fstype: string;
  source: string;
  options: string;
  superOptions: string;
  optionalFields: string[];
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const f = line.split(" ");
    const sep = f.indexOf("-");
    if (sep < 6) continue;
    out.push({
      id: Number(f[0]),
      root: unescape(f[3]!),
      mountPoint: unescape(f[4]!),
      options: f[5]!,
      optionalFields: f.slice(6, sep),
      fstype: f[sep + 1]!,
      source: unescape(f[sep + 2] ?? ""),
      superOptions: f[sep + 3] ?? "",
    });
  }
  return out;
}

export function readMountinfo(pid: number | "self" = "self"): MountEntry[] {
  return parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, "utf8"));
}

/** The mount point of the mount that contains path (path must be absolute and symlink-free). */
export function mountPointOf(path: string, entries: MountEntry[] = readMountinfo()): string {
  let best = "/";
  for (const e of entries) {
    const mp = e.mountPoint;
    if ((path === mp || path.startsWith(mp.endsWith("/") ? mp : mp + "/")) && mp.length > best.length) best = mp;
  }
  return best;
}

/** Mounts strictly below dir (not dir itself), in mount order. */
export function mountsBelow(dir: string, entries: MountEntry[] = readMountinfo()): MountEntry[] {
  const prefix = dir.endsWith("/") ? dir : dir + "/";
  return entries.filter((e) => e.mountPoint.startsWith(prefix));
}
