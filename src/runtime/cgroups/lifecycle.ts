/** Creating and removing a container's cgroup directories in one hierarchy. */
import { rmdirSync } from "node:fs";
import { BerthError } from "../../errors.ts";
import { errnoCode, mkdirChain, readRaw, removeCreatedTree, sysError } from "./fsio.ts";
import { dirChain } from "./path.ts";

/**
 * mkdir the container's cgroup `dir` under `mountpoint`, recording what was
 * created in `created`. A leaf that already exists is used only if it has no
 * processes (it is then never removed by destroy).
 * @returns the directories created by this call, parents first
 */
export function createCgroupDir(mountpoint: string, dir: string, created: string[], context: string): string[] {
  const chain = dirChain(mountpoint, dir);
  if (chain.length === 0) throw new BerthError("InvalidArgument", `${context}: ${dir} is not below ${mountpoint}`);
  const before = created.length;
  try {
    const leafCreated = mkdirChain(chain, created, context);
    if (!leafCreated) {
      let procs = "";
      try {
        procs = readRaw(dir, "cgroup.procs").trim();
      } catch (e) {
        if (errnoCode(e) !== "ENOENT") throw sysError(context, "read", dir, `${dir}/cgroup.procs`, e);
      }
      if (procs) {
        throw new BerthError("FailedPrecondition", `${context}: cgroup ${dir} already exists and has processes; it belongs to someone else`);
      }
    }
  } catch (e) {
    // leave nothing behind from this call
    for (const d of created.splice(before).reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* best effort */
      }
    }
    throw e;
  }
  return created.slice(before);
}

/**
 * Remove what berth created, deepest first. The container's own leaf goes with
 * any sub-cgroups the container made inside it; a created parent is removed
 * only while it is unused (another container may have put its cgroup there
 * since). Successfully removed entries leave `created`, so destroy is idempotent.
 */
export function destroyCreated(created: string[], leaves: Set<string>, mountpoints: string[], context: string): void {
  let first: unknown;
  for (const dir of [...created].reverse()) {
    if (!mountpoints.some((m) => dir.startsWith(m + "/"))) {
      first ??= new BerthError("Internal", `${context}: refusing to remove ${dir}: not inside a cgroup hierarchy`);
      continue;
    }
    try {
      if (leaves.has(dir)) removeCreatedTree(dir, context);
      else {
        try {
          rmdirSync(dir);
        } catch (e) {
          const c = errnoCode(e);
          if (c !== "ENOENT" && c !== "EBUSY" && c !== "ENOTEMPTY") throw sysError(context, "rmdir", dir, dir, e);
        }
      }
      created.splice(created.lastIndexOf(dir), 1);
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}
