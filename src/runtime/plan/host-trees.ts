/**
 * Bind mounts whose tree berth-init prepares in the runtime's own namespaces,
 * before CLONE (OPEN_TREE), and the container init attaches in mount order
 * (MOVE_MOUNT). See native/idmap.c.
 *
 * - Idmapped mounts (runtime-spec: mounts[].uidMappings/gidMappings and the
 *   "idmap"/"ridmap" options): setting MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN
 *   over the source filesystem, which only the runtime's side holds. The
 *   mappings have the user namespace format: a file owned by containerID on
 *   disk shows as hostID through the mount, and a file created through it by
 *   hostID is stored as containerID. Without mappings on the mount, the
 *   container's own are used (this needs a new user namespace).
 * - Every other bind mount of a container with a user namespace (as runc 1.2):
 *   the source is opened by the runtime, so a source the container's root
 *   cannot reach (a 0700 bundle directory) can still be mounted.
 *
 * Each tree is made a slave of its source before it is attached, as a bind
 * mount made with mount(2) in the container's (slave) mount namespace would
 * be: host mounts still propagate in, the container's never propagate out.
 */
import type { LinuxIDMapping, Mount, Spec } from "../../oci/runtime-spec.ts";
import { invalidArgument } from "../../errors.ts";
import { instr, type Instruction } from "./record.ts";
import { parseMountOptions } from "./mount-options.ts";
import { idMapText, newUserNamespace } from "./userns.ts";
import { isAbsolute, resolve } from "node:path";

/** OPEN_TREE flags (native/idmap.c). */
export const TREE_RECURSIVE = 1;
export const IDMAP_RECURSIVE = 2;

export interface HostTree {
  /** index in spec.mounts */
  index: number;
  /** slot the detached tree waits in between OPEN_TREE and MOVE_MOUNT */
  slot: number;
  source: string;
  flags: number;
  /** an idmapped mount's mappings; absent for a plain bind */
  idmap?: { uidMappings: LinuxIDMapping[]; gidMappings: LinuxIDMapping[] };
}

function isBindMount(m: Mount, bind: boolean): boolean {
  return m.type === "bind" || bind;
}

/**
 * The mounts (spec.mounts after rewrites, same indexes) whose trees the
 * runtime's side prepares; plainBinds: also every other bind mount.
 */
export function hostTrees(spec: Spec, mounts: readonly Mount[], bundle: string, plainBinds: boolean): Map<number, HostTree> {
  const out = new Map<number, HostTree>();
  for (const [index, m] of mounts.entries()) {
    const field = `mounts[${index}]`;
    const o = parseMountOptions(m.options ?? []);
    const idmapped = m.uidMappings !== undefined || m.gidMappings !== undefined || o.idmap !== undefined;
    const bind = isBindMount(m, o.bind);
    if (!idmapped && !(plainBinds && bind)) continue;
    if (!bind) throw invalidArgument(`${field}: idmapped mounts must be bind mounts (type "bind" or option "bind"/"rbind")`);
    if (!m.source) throw invalidArgument(`${field}.source: required for a bind mount`);
    const tree: HostTree = {
      index,
      slot: out.size,
      source: isAbsolute(m.source) ? m.source : resolve(bundle, m.source),
      flags: (o.recursive ? TREE_RECURSIVE : 0) | (o.idmap === "ridmap" ? IDMAP_RECURSIVE : 0),
    };
    if (idmapped) tree.idmap = idmapOf(spec, m, field, o.idmap ?? "idmap");
    out.set(index, tree);
  }
  return out;
}

function idmapOf(spec: Spec, m: Mount, field: string, option: string): NonNullable<HostTree["idmap"]> {
  const u = m.uidMappings ?? [];
  const g = m.gidMappings ?? [];
  if (u.length && g.length) return { uidMappings: u, gidMappings: g };
  if (u.length !== g.length) throw invalidArgument(`${field}: uidMappings and gidMappings must be given together`);
  // runtime-spec: without mappings, the container's user namespace mappings (if any).
  if (!newUserNamespace(spec) || !spec.linux?.uidMappings?.length || !spec.linux?.gidMappings?.length)
    throw invalidArgument(`${field}: an "${option}" mount without uidMappings/gidMappings needs a new user namespace to take the mappings from`);
  return { uidMappings: spec.linux.uidMappings, gidMappings: spec.linux.gidMappings };
}

/** The instructions that prepare the detached trees, run by berth-init before anything else. */
export function prepareHostTrees(trees: Map<number, HostTree>): Instruction[] {
  return [...trees.values()].map((t) =>
    instr("OPEN_TREE", t.slot, t.source, t.flags, idMapText(t.idmap?.uidMappings ?? []), idMapText(t.idmap?.gidMappings ?? [])),
  );
}
