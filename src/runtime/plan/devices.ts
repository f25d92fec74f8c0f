/** Device nodes every container gets (runtime-spec "Default Devices") plus linux.devices. */
import type { Spec, LinuxDeviceCgroup } from "../../oci/runtime-spec.ts";
import { invalidArgument } from "../../errors.ts";
import { makedev, S_IFBLK, S_IFCHR, S_IFIFO } from "./linux.ts";
import { DEFAULT_ALLOWED_DEVICES } from "../cgroups/devices.ts";

export interface DeviceNode {
  path: string;
  mode: number;
  dev: bigint;
  uid: number;
  gid: number;
  type: "c" | "b" | "p";
  major: number;
  minor: number;
}

const DEFAULTS: Array<[path: string, major: number, minor: number]> = [
  ["/dev/null", 1, 3],
  ["/dev/zero", 1, 5],
  ["/dev/full", 1, 7],
  ["/dev/random", 1, 8],
  ["/dev/urandom", 1, 9],
  ["/dev/tty", 5, 0],
];

export const DEV_SYMLINKS: Array<[target: string, link: string]> = [
  ["/proc/self/fd", "/dev/fd"],
  ["/proc/self/fd/0", "/dev/stdin"],
  ["/proc/self/fd/1", "/dev/stdout"],
  ["/proc/self/fd/2", "/dev/stderr"],
];

const TYPE_BITS = { c: S_IFCHR, u: S_IFCHR, b: S_IFBLK, p: S_IFIFO } as const;

export function deviceNodes(spec: Spec): DeviceNode[] {
  const out = new Map<string, DeviceNode>();
  for (const [path, major, minor] of DEFAULTS)
    out.set(path, { path, mode: S_IFCHR | 0o666, dev: makedev(major, minor), uid: 0, gid: 0, type: "c", major, minor });
  for (const [i, d] of (spec.linux?.devices ?? []).entries()) {
    const bits = TYPE_BITS[d.type as keyof typeof TYPE_BITS];
    if (bits === undefined) throw invalidArgument(`linux.devices[${i}].type: unknown device type "${d.type}"`);
    if (!d.path.startsWith("/dev/")) throw invalidArgument(`linux.devices[${i}].path: must be under /dev`);
    const major = d.major ?? 0;
    const minor = d.minor ?? 0;
    out.set(d.path, {
      path: d.path,
      mode: bits | ((d.fileMode ?? 0o666) & 0o7777),
      dev: d.type === "p" ? 0n : makedev(major, minor),
      uid: d.uid ?? 0,
      gid: d.gid ?? 0,
      type: d.type === "u" ? "c" : (d.type as "c" | "b" | "p"),
      major,
      minor,
    });
  }
  return [...out.values()];
}

/**
 * Device cgroup rules: deny all, the spec's rules in order, then runc's default
 * allow list (the default nodes, ptys, mknod of anything) and the nodes in
 * linux.devices.
 */
export function deviceCgroupRules(spec: Spec): LinuxDeviceCgroup[] {
  const rules: LinuxDeviceCgroup[] = [{ allow: false, access: "rwm" }];
  rules.push(...(spec.linux?.resources?.devices ?? []));
  rules.push(...DEFAULT_ALLOWED_DEVICES);
  rules.push({ allow: true, type: "c", major: 5, minor: 1, access: "rwm" }); // /dev/console
  for (const d of spec.linux?.devices ?? [])
    if (d.type !== "p") rules.push({ allow: true, type: d.type === "b" ? "b" : "c", major: d.major, minor: d.minor, access: "rwm" });
  return rules;
}
