/**
 * The conflist directory (<data-root>/cni/net.d): berth writes one conflist per
 * network it manages (berth-<id>.conflist); an administrator may drop other
 * .conflist/.conf/.json files there (macvlan, ipvlan, third-party plugins),
 * which become networks too. Files are read in name order; a name seen twice
 * keeps its first file (as libcni), a broken file is reported and skipped.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfList, type NetConfList } from "./types.ts";

export interface LoadedConfList {
  list: NetConfList;
  file: string;
}

export interface ConfDirScan {
  lists: Map<string, LoadedConfList>;
  /** files that could not be used, with why */
  problems: { file: string; error: string }[];
}

const EXTS = [".conflist", ".conf", ".json"];

export class ConfDir {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  }

  scan(): ConfDirScan {
    const lists = new Map<string, LoadedConfList>();
    const problems: ConfDirScan["problems"] = [];
    for (const n of readdirSync(this.dir).sort()) {
      if (!EXTS.some((e) => n.endsWith(e))) continue;
      const file = join(this.dir, n);
      try {
        const list = parseConfList(readFileSync(file, "utf8"), file);
        if (lists.has(list.name)) problems.push({ file, error: `network name "${list.name}" already defined by ${lists.get(list.name)!.file}` });
        else lists.set(list.name, { list, file });
      } catch (e) {
        problems.push({ file, error: (e as Error).message });
      }
    }
    return { lists, problems };
  }

  fileFor(name: string): string {
    return join(this.dir, `${name}.conflist`);
  }

  /** Write berth's conflist for a network (temp file + rename). */
  write(list: NetConfList): string {
    const p = this.fileFor(list.name);
    const tmp = `${p}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(list, null, 2) + "\n", { mode: 0o644 });
    renameSync(tmp, p);
    return p;
  }

  remove(name: string) {
    rmSync(this.fileFor(name), { force: true });
  }
}
