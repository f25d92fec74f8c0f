/**
 * The cgroup hierarchies as a container should see them, for the plan
 * compiler's `cgroup` mount inside the container (/sys/fs/cgroup): one entry
 * per hierarchy with where it goes, how to mount it, and the container's own
 * cgroup in it (the directory to bind, or the cgroupns root).
 */
import { posix } from "node:path";
import type { CgroupState } from "./manager.ts";

export interface CgroupMountView {
  /** absolute path inside the container, e.g. /sys/fs/cgroup/memory, or /sys/fs/cgroup on pure v2 */
  mountpoint: string;
  fstype: "cgroup" | "cgroup2";
  /** mount data: the v1 controllers ("cpu", "cpuacct", "name=systemd"); empty for cgroup2 */
  options: string[];
  /** controllers this hierarchy carries (for v2 the cgroup2 mount's cgroup.controllers) */
  controllers: string[];
  /** the container's cgroup directory on the host */
  hostDir: string;
  /** the container's cgroup path within that hierarchy */
  cgroupPath: string;
  /** extra names under /sys/fs/cgroup linking to this mount (e.g. "cpu" -> "cpu,cpuacct") */
  symlinks: string[];
}

const ROOT = "/sys/fs/cgroup";

export function containerCgroupMounts(state: CgroupState): CgroupMountView[] {
  const h = state.hierarchy;
  const out: CgroupMountView[] = [];
  if (state.v1) {
    for (const m of h.v1) {
      const first = m.controllers[0]!;
      const name = posix.basename(m.mountpoint);
      const hostDir = state.v1.dirs[first];
      if (!hostDir) continue;
      out.push({
        mountpoint: posix.join(ROOT, name),
        fstype: "cgroup",
        options: [...m.controllers],
        controllers: [...m.controllers],
        hostDir,
        cgroupPath: state.v1.paths[first]!,
        symlinks: m.controllers.filter((c) => c !== name && !c.startsWith("name=")),
      });
    }
  }
  if (state.v2 && h.v2) {
    out.push({
      mountpoint: h.mode === "v2" ? ROOT : posix.join(ROOT, "unified"),
      fstype: "cgroup2",
      options: [],
      controllers: [...h.v2.controllers],
      hostDir: state.v2.dir,
      cgroupPath: state.v2.path,
      symlinks: [],
    });
  }
  return out;
}
