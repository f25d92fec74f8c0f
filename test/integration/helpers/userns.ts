/** Spec edits the user-namespace tests share. */
import type { Spec } from "../../../src/oci/runtime-spec.ts";

export const BASE = 100000;
/** container 0-65535 = host 100000-165535 */
export const MAP = [{ containerID: 0, hostID: BASE, size: 65536 }];

/** A new user namespace with MAP for uids and gids. */
export function mapped(s: Spec) {
  s.linux!.namespaces!.push({ type: "user" });
  s.linux!.uidMappings = MAP;
  s.linux!.gidMappings = MAP;
}

/** Add capabilities to the bounding, effective and permitted sets. */
export function grant(s: Spec, ...caps: string[]) {
  const c = s.process!.capabilities!;
  for (const set of ["bounding", "effective", "permitted"] as const) c[set] = [...(c[set] ?? []), ...caps];
}
