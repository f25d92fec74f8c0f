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

/** CRIU ids that may stand for a container's stdio at restore. */
const INHERIT_ID = /^(pipe:\[\d+\]|socket:\[\d+\]|ile\[[0-9a-f]+:[0-9a-f]+\]|tty\[[0-9a-f]+:[0-9a-f]+\])$/;

/**
 * The image directory is input: its stdio records say which of the caller's
 * fds criu hands to the restored container. Only 0-2 may be named, or a
 * crafted record would pass any fd the runtime holds into the container.
 */
function checkStdio(file: string, stdio: unknown) {
  if (!Array.isArray(stdio)) throw new BerthError("InvalidArgument", `--image-path: ${file}: stdio: not a list`);
  for (const [i, f] of stdio.entries()) {
    const e = f as ExternalFd;
    if (![0, 1, 2].includes(e?.fd)) throw new BerthError("InvalidArgument", `--image-path: ${file}: stdio[${i}].fd: must be 0, 1 or 2`);
    if (e.inherit !== undefined && !INHERIT_ID.test(String(e.inherit)))
      throw new BerthError("InvalidArgument", `--image-path: ${file}: stdio[${i}].inherit: not a criu stdio id: ${JSON.stringify(e.inherit)}`);
  }
}

/**
 * berth's metadata; for a checkpoint made by runc only descriptors.json exists:
 * its pipes are inherited as runc does.
 */
export function readMeta(dir: string): CheckpointMeta | undefined {
  const file = join(dir, META);
  if (existsSync(file)) {
    let m: CheckpointMeta;
    try {
      m = JSON.parse(readFileSync(file, "utf8")) as CheckpointMeta;
    } catch (e) {
      throw new BerthError("InvalidArgument", `--image-path: ${file} is corrupt`, { cause: e });
    }
    checkStdio(file, m.stdio);
    return m;
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
  const stdio: ExternalFd[] = links
    .slice(0, 3)
    .map((l, fd) => ({ fd, link: String(l), ...(/^pipe:\[\d+\]$/.test(String(l)) ? { inherit: String(l) } : {}) }));
  return { version: 1, id: "", pid: 0, newPidNs: true, stdio, criuVersion: "", created: "" };
}
