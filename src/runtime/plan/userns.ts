/**
 * User namespace policy: which ids the mappings cover, what the container init
 * does right after the runtime wrote its maps, and what an unprivileged runtime
 * may write. Pure; the writing itself is runtime/idmaps.ts.
 */
import type { LinuxIDMapping, Spec } from "../../oci/runtime-spec.ts";
import { invalidArgument } from "../../errors.ts";
import { instr, type Instruction } from "./record.ts";

/** The text of a uid_map/gid_map file: one "containerID hostID size" line per range. */
export function idMapText(maps: readonly LinuxIDMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
}

/** Whether id (a container id) falls in one of the ranges. */
export function isMapped(maps: readonly LinuxIDMapping[] | undefined, id: number): boolean {
  return (maps ?? []).some((m) => id >= m.containerID && id < m.containerID + m.size);
}

/** The host id a container id maps to, or undefined. */
export function hostIdOf(maps: readonly LinuxIDMapping[] | undefined, id: number): number | undefined {
  const m = (maps ?? []).find((r) => id >= r.containerID && id < r.containerID + r.size);
  return m ? m.hostID + (id - m.containerID) : undefined;
}

export function newUserNamespace(spec: Spec): boolean {
  return (spec.linux?.namespaces ?? []).some((n) => n.type === "user" && !n.path);
}

/** A new or a joined user namespace. */
export function inUserNamespace(spec: Spec): boolean {
  return (spec.linux?.namespaces ?? []).some((n) => n.type === "user");
}

/**
 * The process's identity must exist in a new user namespace: setresuid to an
 * unmapped id fails (EINVAL) late, after the mounts; this says which field.
 * (Overlapping ranges are rejected by the config validator.)
 */
export function checkUserNamespace(spec: Spec): void {
  if (!inUserNamespace(spec)) return;
  const user = spec.process?.user;
  const uids = spec.linux?.uidMappings;
  const gids = spec.linux?.gidMappings;
  if (newUserNamespace(spec)) {
    if (!uids?.length) throw invalidArgument("linux.uidMappings: required with a new user namespace");
    if (!gids?.length) throw invalidArgument("linux.gidMappings: required with a new user namespace");
  } else if (!uids?.length || !gids?.length) return; // a joined namespace: its maps are not known here
  if (!user) return;
  if (!isMapped(uids, user.uid)) throw invalidArgument(`process.user.uid: ${user.uid} is not mapped by linux.uidMappings`);
  if (!isMapped(gids, user.gid)) throw invalidArgument(`process.user.gid: ${user.gid} is not mapped by linux.gidMappings`);
  (user.additionalGids ?? []).forEach((g, i) => {
    if (!isMapped(gids, g)) throw invalidArgument(`process.user.additionalGids[${i}]: ${g} is not mapped by linux.gidMappings`);
  });
}

/**
 * How the runtime may write the maps. Root (CAP_SETUID/CAP_SETGID over the
 * parent namespace) writes any ranges. An unprivileged runtime may map only its
 * own euid and egid, one id each, and must deny setgroups(2) in the namespace
 * before it may write gid_map (user_namespaces(7)); the container then cannot
 * call setgroups at all.
 */
export interface MapWriter {
  privileged: boolean;
  euid: number;
  egid: number;
}

export function checkMapWriter(spec: Spec, w: MapWriter): void {
  if (!newUserNamespace(spec) || w.privileged) return;
  const single = (maps: LinuxIDMapping[] | undefined, own: number) =>
    maps?.length === 1 && maps[0]!.size === 1 && maps[0]!.hostID === own;
  const hint = "an unprivileged runtime can map only its own id (one entry of size 1)";
  if (!single(spec.linux?.uidMappings, w.euid)) throw invalidArgument(`linux.uidMappings: ${hint}, host uid ${w.euid}`);
  if (!single(spec.linux?.gidMappings, w.egid)) throw invalidArgument(`linux.gidMappings: ${hint}, host gid ${w.egid}`);
  if (spec.process?.user.additionalGids?.length)
    throw invalidArgument("process.user.additionalGids: setgroups is denied in the user namespace of an unprivileged runtime");
}

/** Whether the runtime writes "deny" to /proc/<pid>/setgroups before gid_map. */
export function denySetgroups(spec: Spec, w: MapWriter): boolean {
  return newUserNamespace(spec) && !w.privileged;
}

/**
 * Right after the maps are written (SYNC SETUP): become the namespace's root
 * (or, if 0 is not mapped, the process's own ids), so that mounts and files are
 * made as a mapped id, and drop the supplementary groups inherited from the
 * runtime (they are host groups that still grant access on host files). The
 * same in a joined user namespace, whose maps berth does not know unless the
 * config repeats them: there 0 is taken to be mapped, as runc does.
 */
export function enterUserNamespace(spec: Spec, w: MapWriter): Instruction[] {
  if (!inUserNamespace(spec)) return [];
  const user = spec.process!.user;
  const known = (maps: LinuxIDMapping[] | undefined) => !maps?.length || isMapped(maps, 0);
  const rootMapped = known(spec.linux?.uidMappings) && known(spec.linux?.gidMappings);
  const plan: Instruction[] = [];
  if (!denySetgroups(spec, w)) plan.push(instr("SETGROUPS", new Uint8Array(0)));
  plan.push(instr("SETGID", rootMapped ? 0 : user.gid));
  plan.push(instr("SETUID", rootMapped ? 0 : user.uid));
  return plan;
}
