/**
 * Mounts CRIU must not dump: they come from the host (bind mounts, the
 * container's cgroup directories bound under /sys/fs/cgroup, device nodes bound
 * in a user namespace). At dump each is named by its destination
 * (`--external mnt[DEST]:DEST`); at restore the name is mapped to the host
 * source to bind again (`--external mnt[DEST]:SOURCE`), which may differ from
 * the original (another container id, another host).
 */
import { isAbsolute, join, posix, resolve } from "node:path";
import type { Spec, Mount } from "../../oci/runtime-spec.ts";
import { deviceNodes } from "../plan/devices.ts";
import { hasNewNamespace } from "../plan/compile.ts";
import type { CgroupMountSource } from "../plan/compile.ts";

export interface ExternalMount {
  /** destination inside the container: the name in the image */
  dest: string;
  /** host path bound there (at restore) */
  source: string;
}

function isBind(m: Mount): boolean {
  return m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}

const normDest = (d: string) => posix.normalize(d.startsWith("/") ? d : "/" + d).replace(/(.)\/$/, "$1");

/**
 * The host-provided mounts of a container created from spec.
 * cgroupSources: the container's cgroup hierarchies as the plan compiler saw them.
 */
export function externalMounts(spec: Spec, bundle: string, cgroupSources: CgroupMountSource[]): ExternalMount[] {
  const out: ExternalMount[] = [];
  let devBound = false;
  const cgroupns = hasNewNamespace(spec, "cgroup");
  for (const m of spec.mounts ?? []) {
    const dest = normDest(m.destination);
    if (isBind(m)) {
      if (dest === "/dev") devBound = true;
      const src = m.source ?? "";
      out.push({ dest, source: isAbsolute(src) ? src : resolve(bundle, src) });
    } else if ((m.type === "cgroup" || m.type === "cgroup2") && !cgroupns) {
      // without a cgroup namespace each hierarchy is the host's cgroup directory bound in
      for (const s of cgroupSources) out.push({ dest: s.name ? join(dest, s.name) : dest, source: s.hostPath });
    }
  }
  // In a user namespace device nodes are bound from the host (mknod is not allowed there).
  if (!devBound && hasNewNamespace(spec, "user")) for (const d of deviceNodes(spec)) out.push({ dest: d.path, source: d.path });
  return out;
}

export function dumpMountArgs(ext: ExternalMount[]): string[] {
  return ext.flatMap((m) => ["--external", `mnt[${m.dest}]:${m.dest}`]);
}

export function restoreMountArgs(ext: ExternalMount[]): string[] {
  return ext.flatMap((m) => ["--external", `mnt[${m.dest}]:${m.source}`]);
}
