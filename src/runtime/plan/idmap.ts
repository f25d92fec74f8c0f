/**
 * Idmapped bind mounts (runtime-spec: mounts[].uidMappings/gidMappings and the
 * "idmap"/"ridmap" options). The mappings have the user namespace format: a
 * file owned by containerID on disk shows as owned by hostID through the mount
 * (and a file created through it as hostID is stored as containerID).
 *
 * berth-init clones and idmaps each source before CLONE (OPEN_TREE_IDMAP, in
 * the runtime's namespaces: only there does it hold CAP_SYS_ADMIN over the
 * source filesystem) and the container init attaches it in mount order
 * (MOVE_MOUNT). See native/idmap.c.
 */
import type { LinuxIDMapping, Mount, Spec } from "../../oci/runtime-spec.ts";
import { invalidArgument } from "../../errors.ts";
import { instr, type Instruction } from "./record.ts";
import { parseMountOptions } from "./mount-options.ts";
import { idMapText, newUserNamespace } from "./userns.ts";
import { isAbsolute, resolve } from "node:path";

/** OPEN_TREE_IDMAP flags (native/idmap.c). */
export const TREE_RECURSIVE = 1;
export const IDMAP_RECURSIVE = 2;

export interface IdmappedMount {
  /** index in spec.mounts */
  index: number;
  /** slot the detached tree waits in between OPEN_TREE_IDMAP and MOVE_MOUNT */
  slot: number;
  source: string;
  flags: number;
  uidMappings: LinuxIDMapping[];
  gidMappings: LinuxIDMapping[];
}

function isBindMount(m: Mount, bind: boolean): boolean {
  return m.type === "bind" || bind;
}

/** The spec's idmapped mounts, checked; keyed by mount index. */
export function idmappedMounts(spec: Spec, bundle: string): Map<number, IdmappedMount> {
  const out = new Map<number, IdmappedMount>();
  for (const [index, m] of (spec.mounts ?? []).entries()) {
    const field = `mounts[${index}]`;
    const o = parseMountOptions(m.options ?? []);
    const hasMaps = m.uidMappings !== undefined || m.gidMappings !== undefined;
    if (!hasMaps && !o.idmap) continue;
    if (!isBindMount(m, o.bind)) throw invalidArgument(`${field}: idmapped mounts must be bind mounts (type "bind" or option "bind"/"rbind")`);
    if (!m.source) throw invalidArgument(`${field}.source: required for a bind mount`);
    let uidMappings = m.uidMappings;
    let gidMappings = m.gidMappings;
    if (!uidMappings?.length || !gidMappings?.length) {
      if ((uidMappings?.length ?? 0) !== (gidMappings?.length ?? 0))
        throw invalidArgument(`${field}: uidMappings and gidMappings must be given together`);
      // runtime-spec: without mappings, the container's user namespace mappings (if any).
      if (!newUserNamespace(spec) || !spec.linux?.uidMappings?.length || !spec.linux?.gidMappings?.length)
        throw invalidArgument(`${field}: an "${o.idmap ?? "idmap"}" mount without uidMappings/gidMappings needs a new user namespace to take the mappings from`);
      uidMappings = spec.linux.uidMappings;
      gidMappings = spec.linux.gidMappings;
    }
    out.set(index, {
      index,
      slot: out.size,
      source: isAbsolute(m.source) ? m.source : resolve(bundle, m.source),
      flags: (o.recursive ? TREE_RECURSIVE : 0) | (o.idmap === "ridmap" ? IDMAP_RECURSIVE : 0),
      uidMappings,
      gidMappings,
    });
  }
  return out;
}

/** The instructions that prepare the detached trees, run by berth-init before anything else. */
export function prepareIdmappedMounts(mounts: Map<number, IdmappedMount>): Instruction[] {
  return [...mounts.values()].map((m) =>
    instr("OPEN_TREE_IDMAP", m.slot, m.source, m.flags, idMapText(m.uidMappings), idMapText(m.gidMappings)),
  );
}
