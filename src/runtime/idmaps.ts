/**
 * Writes the uid/gid maps of a container's new user namespace at the SETUP
 * sync point (the policy is plan/userns.ts). Each file takes all its ranges in
 * one write(2), as the kernel requires; an unprivileged runtime first denies
 * setgroups(2), without which the kernel refuses its gid_map.
 */
import { closeSync, openSync, writeSync, constants as fsc } from "node:fs";
import type { Spec } from "../oci/runtime-spec.ts";
import { wrapError } from "../errors.ts";
import { denySetgroups, idMapText, newUserNamespace, type MapWriter } from "./plan/userns.ts";

/** The map writer this process is: root, or an unprivileged user. */
export function currentMapWriter(): MapWriter {
  const euid = process.geteuid?.() ?? 0;
  return { privileged: euid === 0, euid, egid: process.getegid?.() ?? 0 };
}

export function writeIdMaps(spec: Spec, pid: number, writer: MapWriter = currentMapWriter()): void {
  if (!newUserNamespace(spec)) return;
  if (denySetgroups(spec, writer)) writeOnce(`/proc/${pid}/setgroups`, "deny", "linux.gidMappings: deny setgroups");
  writeOnce(`/proc/${pid}/uid_map`, idMapText(spec.linux?.uidMappings ?? []), "linux.uidMappings: write uid_map");
  writeOnce(`/proc/${pid}/gid_map`, idMapText(spec.linux?.gidMappings ?? []), "linux.gidMappings: write gid_map");
}

function writeOnce(path: string, text: string, context: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, fsc.O_WRONLY);
    const buf = Buffer.from(text);
    const n = writeSync(fd, buf, 0, buf.length);
    if (n !== buf.length) throw new Error(`short write (${n} of ${buf.length} bytes)`);
  } catch (e) {
    throw wrapError(context, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
