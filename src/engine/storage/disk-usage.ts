/**
 * Bytes used by the files under a directory (docker's SizeRw, a volume's
 * size): regular files counted once per inode, symlinks not followed, other
 * filesystems mounted below not entered.
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

export function diskUsage(dir: string): number {
  let total = 0;
  const seen = new Set<string>();
  let dev: number | undefined;
  try {
    dev = lstatSync(dir).dev;
  } catch {
    return 0;
  }
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.dev !== dev) continue;
      if (st.isDirectory()) walk(p);
      else if (!st.isFile()) continue;
      else if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        total += st.size;
      } else total += st.size;
    }
  };
  walk(dir);
  return total;
}
