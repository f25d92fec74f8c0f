/**
 * cgroupsPath semantics (OCI runtime-spec, as runc's cgroupfs driver):
 * - absolute ("/a/b"): relative to the root of each hierarchy;
 * - relative ("a/b"), or empty -> the container id: relative to the runtime
 *   process's own cgroup in that hierarchy (/proc/self/cgroup);
 * - ".." never climbs out: the path is cleaned as if rooted at "/";
 * - the systemd form "slice:prefix:name" is rejected (no systemd driver).
 */
import { posix } from "node:path";
import { BerthError } from "../../errors.ts";

export interface ParsedCgroupsPath {
  absolute: boolean;
  /** cleaned path without leading "/" (never contains "..") */
  path: string;
}

export function parseCgroupsPath(cgroupsPath: string | undefined, id: string): ParsedCgroupsPath {
  let p = cgroupsPath ?? "";
  if (p === "") {
    if (!id || id.includes("/") || id === "." || id === "..") {
      throw new BerthError("InvalidArgument", `linux.cgroupsPath: empty and the container id ${JSON.stringify(id)} cannot name a cgroup`);
    }
    p = id;
  }
  if (!p.startsWith("/") && p.split(":").length === 3) {
    throw new BerthError(
      "InvalidArgument",
      `linux.cgroupsPath: ${JSON.stringify(p)} is a systemd slice:prefix:name path, which needs the systemd cgroup driver; berth only has the cgroupfs driver: give a filesystem path`,
    );
  }
  if (p.includes("\0")) throw new BerthError("InvalidArgument", "linux.cgroupsPath: contains a NUL byte");
  const absolute = p.startsWith("/");
  const cleaned = posix.normalize("/" + p).replace(/\/+$/, "").replace(/^\/+/, "");
  if (cleaned === "" ) {
    throw new BerthError("InvalidArgument", `linux.cgroupsPath: ${JSON.stringify(p)} names the root cgroup; a container needs a cgroup of its own`);
  }
  return { absolute, path: cleaned };
}

/**
 * Directory of the container's cgroup in one hierarchy.
 * @param mountpoint where the hierarchy is mounted on the host
 * @param mountRoot  the hierarchy path mounted there (mountinfo root), normally "/"
 * @param own        the runtime's own cgroup in this hierarchy (from /proc/self/cgroup)
 * @returns `dir` (host path) and `cgroupPath` (path within the hierarchy)
 */
export function resolveCgroupDir(
  parsed: ParsedCgroupsPath,
  mountpoint: string,
  mountRoot: string,
  own: string | undefined,
): { dir: string; cgroupPath: string } {
  let underMount: string; // path below the mountpoint
  if (parsed.absolute) {
    underMount = parsed.path;
  } else {
    let base = own ?? "/";
    // own is relative to the hierarchy root; the mount shows mountRoot at mountpoint
    if (mountRoot !== "/" && (base === mountRoot || base.startsWith(mountRoot + "/"))) base = base.slice(mountRoot.length) || "/";
    underMount = posix.join(base, parsed.path).replace(/^\/+/, "");
  }
  const dir = posix.join(mountpoint, underMount);
  const cgroupPath = posix.join(mountRoot, underMount);
  return { dir, cgroupPath };
}

/** Every directory from just below `mountpoint` down to `dir`, parents first. */
export function dirChain(mountpoint: string, dir: string): string[] {
  const rel = posix.relative(mountpoint, dir);
  if (rel === "" || rel.startsWith("..")) return [];
  const parts = rel.split("/");
  const out: string[] = [];
  let cur = mountpoint;
  for (const p of parts) {
    cur = posix.join(cur, p);
    out.push(cur);
  }
  return out;
}
