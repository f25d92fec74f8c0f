/**
 * What berth adds to a CRIU image directory:
 *   descriptors.json        runc's format: what fds 0-2 of the init were (links)
 *   berth-checkpoint.json   the external fds with their CRIU ids, the old pid,
 *                           the container it came from
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BerthError, notFound } from "../../errors.ts";
import type { ExternalFd } from "./descriptors.ts";

export interface CheckpointMeta {
  version: 1;
  /** container id at checkpoint */
  id: string;
  /** host pid of the init at checkpoint (restore waits until it is gone) */
  pid: number;
  /** whether the init had its own pid namespace */
  newPidNs: boolean;
  stdio: ExternalFd[];
  criuVersion: string;
  created: string;
}

const META = "berth-checkpoint.json";
const DESCRIPTORS = "descriptors.json";

export function writeMeta(dir: string, m: CheckpointMeta) {
  writeFileSync(join(dir, META), JSON.stringify(m, null, 2) + "\n", { mode: 0o600 });
  writeFileSync(join(dir, DESCRIPTORS), JSON.stringify(m.stdio.map((f) => f.link)), { mode: 0o600 });
}

/** An image directory must hold a CRIU dump (inventory.img). */
export function requireImage(flag: string, dir: string) {
  if (!existsSync(join(dir, "inventory.img"))) throw notFound(`${flag}: --image-path ${dir}: no checkpoint there (inventory.img missing)`);
}

/**
 * berth's metadata; for a checkpoint made by runc only descriptors.json exists:
 * its pipes are inherited as runc does.
 */
export function readMeta(dir: string): CheckpointMeta | undefined {
  const file = join(dir, META);
  if (existsSync(file)) {
    try {
      return JSON.parse(readFileSync(file, "utf8")) as CheckpointMeta;
    } catch (e) {
      throw new BerthError("InvalidArgument", `--image-path: ${file} is corrupt`, { cause: e });
    }
  }
  const desc = join(dir, DESCRIPTORS);
  if (!existsSync(desc)) return undefined;
  let links: unknown;
  try {
    links = JSON.parse(readFileSync(desc, "utf8"));
  } catch (e) {
    throw new BerthError("InvalidArgument", `--image-path: ${desc} is corrupt`, { cause: e });
  }
  if (!Array.isArray(links)) return undefined;
  const stdio: ExternalFd[] = links.map((l, fd) => ({ fd, link: String(l), ...(String(l).startsWith("pipe:") ? { inherit: String(l) } : {}) }));
  return { version: 1, id: "", pid: 0, newPidNs: true, stdio, criuVersion: "", created: "" };
}
