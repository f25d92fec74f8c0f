/**
 * Which cgroup hierarchies this host has, read from /proc/self/mountinfo.
 * The result is plain data: it is persisted in the container's state so a later
 * process (delete, update) sees the same layout the container was created with.
 */
import { readFileSync } from "node:fs";
import { BerthError } from "../../errors.ts";
import { parseMountinfo } from "../mountinfo.ts";

export type CgroupMode = "v1" | "hybrid" | "v2";

/** One mounted cgroup v1 hierarchy. */
export interface V1Mount {
  /** host path, e.g. /sys/fs/cgroup/memory */
  mountpoint: string;
  /** the hierarchy path mounted there (mountinfo field 4), normally "/" */
  root: string;
  /** controllers bound to it, e.g. ["cpu", "cpuacct"] or ["name=systemd"] */
  controllers: string[];
}

/** The cgroup2 mount. */
export interface V2Mount {
  mountpoint: string;
  root: string;
  /** cgroup.controllers of the mount's root */
  controllers: string[];
}

export interface CgroupHierarchy {
  mode: CgroupMode;
  v1: V1Mount[];
  v2?: V2Mount;
  /**
   * The runtime process's own cgroup per hierarchy, as in /proc/self/cgroup:
   * key = v1 controller ("memory", "name=systemd", one key per controller of a
   * combined mount) or "" for cgroup2.
   */
  self: Record<string, string>;
  /** sysfs root used for host facts (online cpus/mems, hugepage sizes, block devices) */
  sysfs: string;
}

/** /proc/self/cgroup -> { controller | "name=x" | "" : path } */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line) continue;
    const a = line.indexOf(":");
    const b = line.indexOf(":", a + 1);
    if (a < 0 || b < 0) continue;
    const ctrls = line.slice(a + 1, b);
    const path = line.slice(b + 1);
    if (ctrls === "") out[""] = path;
    else for (const c of ctrls.split(",")) out[c] = path;
  }
  return out;
}

/** mount options of a v1 cgroup mount that are not controllers */
const V1_NON_CONTROLLER_OPTIONS = new Set([
  "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "all", "none", "favordynmods",
]);

function v1Controllers(superOptions: string[], known: Set<string> | undefined): string[] {
  return superOptions.filter((o) => {
    if (o.startsWith("name=")) return true;
    if (o.includes("=") || V1_NON_CONTROLLER_OPTIONS.has(o)) return false;
    return known ? known.has(o) : true;
  });
}

/** Build a hierarchy description from the texts of mountinfo, /proc/self/cgroup and /proc/cgroups. */
export function hierarchyFromProc(opts: {
  mountinfo: string;
  procSelfCgroup: string;
  procCgroups?: string;
  readV2Controllers: (mountpoint: string) => string[];
  sysfs?: string;
}): CgroupHierarchy {
  let known: Set<string> | undefined;
  if (opts.procCgroups) {
    known = new Set(
      opts.procCgroups.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/\s+/)[0]!),
    );
  }
  const self = parseProcCgroup(opts.procSelfCgroup);
  const v1: V1Mount[] = [];
  const seen = new Set<string>();
  let v2: V2Mount | undefined;
  for (const m of parseMountinfo(opts.mountinfo)) {
    const superOptions = m.superOptions.split(",");
    if (m.fstype === "cgroup") {
      const controllers = v1Controllers(superOptions, known);
      if (controllers.length === 0) continue;
      const key = [...controllers].sort().join(",");
      // The same hierarchy may be bind-mounted more than once; keep the first
      // mount whose root contains our own cgroup (normally the one at "/").
      if (seen.has(key)) continue;
      const own = self[controllers[0]!];
      if (own !== undefined && !isWithin(own, m.root)) continue;
      seen.add(key);
      v1.push({ mountpoint: m.mountPoint, root: m.root, controllers });
    } else if (m.fstype === "cgroup2" && !v2) {
      const own = self[""];
      if (own !== undefined && !isWithin(own, m.root)) continue;
      v2 = { mountpoint: m.mountPoint, root: m.root, controllers: opts.readV2Controllers(m.mountPoint) };
    }
  }
  const realV1 = v1.some((m) => m.controllers.some((c) => !c.startsWith("name=")));
  let mode: CgroupMode;
  if (realV1 && v2) mode = "hybrid";
  else if (realV1) mode = "v1";
  else if (v2) mode = "v2";
  else throw new BerthError("FailedPrecondition", "detect cgroup hierarchy: no cgroup filesystem is mounted");
  // in pure v2 mode a named v1 hierarchy (e.g. name=systemd) is not ours to manage
  return { mode, v1: mode === "v2" ? [] : v1, v2, self, sysfs: opts.sysfs ?? "/sys" };
}

function isWithin(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(root + "/");
}

/** Read the real host's hierarchy from /proc. */
export function detectHierarchy(): CgroupHierarchy {
  const read = (p: string) => {
    try {
      return readFileSync(p, "utf8");
    } catch (e) {
      throw new BerthError("FailedPrecondition", `detect cgroup hierarchy: read ${p}: ${(e as NodeJS.ErrnoException).code ?? e}`, { cause: e });
    }
  };
  let procCgroups: string | undefined;
  try {
    procCgroups = readFileSync("/proc/cgroups", "utf8");
  } catch {
    procCgroups = undefined;
  }
  return hierarchyFromProc({
    mountinfo: read("/proc/self/mountinfo"),
    procSelfCgroup: read("/proc/self/cgroup"),
    procCgroups,
    readV2Controllers: (mp) => {
      try {
        return readFileSync(`${mp}/cgroup.controllers`, "utf8").split(/\s+/).filter(Boolean);
      } catch {
        return [];
      }
    },
  });
}

/** The v1 mount that carries a controller, if any. */
export function v1MountFor(h: CgroupHierarchy, controller: string): V1Mount | undefined {
  return h.v1.find((m) => m.controllers.includes(controller));
}
