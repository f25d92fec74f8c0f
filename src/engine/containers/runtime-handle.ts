/**
 * From an engine container record to what the runtime library keeps about it:
 * the runtime's state (record.runtimeRoot, keyed by record.Id), whether it
 * runs, its init's pid and its cgroup manager. stats, top, OOM watching and
 * healthchecks all start here.
 */
import { failedPrecondition } from "../../errors.ts";
import { Runtime } from "../../runtime/container.ts";
import { type CgroupManager, loadCgroupManager } from "../../runtime/cgroups/manager.ts";
import type { ContainerRecord } from "./model.ts";

export interface RuntimeHandle {
  rt: Runtime;
  id: string;
  /** the container init's host pid (0 when not known) */
  pid: number;
  cgroup: CgroupManager;
  /** does the runtime see it running (running or paused) now? */
  alive(): boolean;
}

/** The runtime's view of a container; FailedPrecondition when it has no runtime state or no cgroup. */
export function runtimeHandle(record: Pick<ContainerRecord, "Id" | "Name" | "runtimeRoot">): RuntimeHandle {
  const rt = new Runtime(record.runtimeRoot, { warn: () => {} });
  let st;
  try {
    st = rt.store.load(record.Id);
  } catch (e) {
    throw failedPrecondition(`Container ${record.Id} is not running`);
  }
  if (!st.cgroup) throw failedPrecondition(`container ${record.Name}: the runtime keeps no cgroup for it`);
  const cgroup = loadCgroupManager(st.cgroup);
  return {
    rt,
    id: record.Id,
    pid: st.pid ?? 0,
    cgroup,
    alive() {
      try {
        const s = rt.status(rt.store.load(record.Id));
        return s === "running" || s === "paused";
      } catch {
        return false;
      }
    },
  };
}
