/**
 * `pause` / `resume`: freeze and thaw the container's cgroup (v1 freezer or
 * cgroup.freeze on cgroup v2, whichever the manager owns). As runc, a created
 * or running container can be paused, and only a paused one resumed; the
 * status "paused" is read back from the freezer, never stored.
 */
import { failedPrecondition } from "../../errors.ts";
import type { Runtime } from "../container.ts";
import { loadCgroupManager } from "../cgroups/manager.ts";
import type { ContainerRecord } from "../state.ts";

function freezer(rec: ContainerRecord, op: string) {
  if (!rec.cgroup) throw failedPrecondition(`${op} ${rec.id}: the container has no cgroup`);
  return loadCgroupManager(rec.cgroup);
}

export function pause(rt: Runtime, id: string): void {
  rt.store.withLock(id, () => {
    const rec = rt.store.load(id);
    const status = rt.status(rec);
    if (status !== "running" && status !== "created") throw failedPrecondition(`pause ${id}: container is not running (state ${status})`);
    freezer(rec, "pause").freeze();
  });
}

export function resume(rt: Runtime, id: string): void {
  rt.store.withLock(id, () => {
    const rec = rt.store.load(id);
    const status = rt.status(rec);
    if (status !== "paused") throw failedPrecondition(`resume ${id}: container is not paused (state ${status})`);
    freezer(rec, "resume").thaw();
  });
}
