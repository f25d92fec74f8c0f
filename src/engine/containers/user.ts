/**
 * docker's `--user` (name|uid[:group|gid]) resolved against the container's
 * own /etc/passwd and /etc/group, read from its rootfs without letting the
 * container point the daemon at host files: every path component is resolved
 * by hand inside the rootfs (symlinks, absolute or relative, stay under it;
 * ".." stops at its top), the file is opened with O_NOFOLLOW, and the opened
 * file's real path must still be under the rootfs (a swap between the walk
 * and the open is caught). Only regular files, at most 4 MiB, are read.
 */
import { closeSync, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, realpathSync, constants as fsc } from "node:fs";
import { invalidArgument, notFound } from "../../errors.ts";

const MAX_FILE = 4 << 20;
const MAX_LINKS = 40;

/** `path` (absolute, in the container) as a host path under `root`, symlinks resolved inside root. */
export function resolveInRoot(root: string, path: string): string {
  const top = root.replace(/\/+$/, "");
  let pending = path.split("/").filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const c = pending.shift()!;
    if (c === ".") continue;
    if (c === "..") {
      done.pop();
      continue;
    }
    const host = `${top}/${[...done, c].join("/")}`;
    let st;
    try {
      st = lstatSync(host);
    } catch {
      // missing: the rest cannot be symlinks; the open fails later
      done.push(c, ...pending.filter((p) => p !== "." && p !== ".."));
      break;
    }
    if (!st.isSymbolicLink()) {
      done.push(c);
      continue;
    }
    if (++links > MAX_LINKS) throw invalidArgument(`${path}: too many levels of symbolic links`);
    const target = readlinkSync(host);
    if (target.startsWith("/")) done.length = 0;
    pending = [...target.split("/").filter(Boolean), ...pending];
  }
  return `${top}/${done.join("/")}`;
}

/** A file of the container's, or undefined when it does not exist there. */
export function readFileInRoot(root: string, path: string): string | undefined {
  // the root itself may be reached through a symlink (the daemon's own, not the container's)
  const top = realpathSync(root);
  const host = resolveInRoot(top, path);
  let fd: number;
  try {
    fd = openSync(host, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const real = readlinkSync(`/proc/self/fd/${fd}`);
    if (!real.startsWith(top + "/")) throw invalidArgument(`${path}: resolves outside the container's root`);
    const st = fstatSync(fd);
    if (!st.isFile()) throw invalidArgument(`${path}: not a regular file`);
    if (st.size > MAX_FILE) throw invalidArgument(`${path}: larger than ${MAX_FILE} bytes`);
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

const U32 = 0xffffffff;
const isId = (s: string) => /^\d+$/.test(s) && Number(s) <= U32;

function entries(text: string | undefined): string[][] {
  return (text ?? "")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

/** docker's user string against the container's files (moby's user.GetExecUser rules). */
export function resolveUser(rootfs: string, user: string): ResolvedUser {
  const [u = "", g, extra] = user.split(":");
  if (extra !== undefined || u === "") throw invalidArgument(`user: "${user}" is not user[:group]`);
  const passwd = entries(readFileInRoot(rootfs, "/etc/passwd"));
  const groups = entries(readFileInRoot(rootfs, "/etc/group"));
  const pw = passwd.find((e) => e[0] === u) ?? (isId(u) ? passwd.find((e) => e[2] === u) : undefined);
  let uid: number;
  let gid = 0;
  let name: string | undefined;
  if (pw && pw[2] !== undefined && isId(pw[2])) {
    uid = Number(pw[2]);
    if (pw[3] !== undefined && isId(pw[3])) gid = Number(pw[3]);
    name = pw[0];
  } else if (isId(u)) uid = Number(u);
  else throw notFound(`unable to find user ${u}: no matching entries in passwd file`);
  if (g !== undefined && g !== "") {
    const gr = groups.find((e) => e[0] === g) ?? (isId(g) ? groups.find((e) => e[2] === g) : undefined);
    if (gr && gr[2] !== undefined && isId(gr[2])) gid = Number(gr[2]);
    else if (isId(g)) gid = Number(g);
    else throw notFound(`unable to find group ${g}: no matching entries in group file`);
  }
  // supplementary groups: those listing the user by name (not when a group was given, as docker)
  const additionalGids =
    name === undefined || (g !== undefined && g !== "")
      ? []
      : groups.filter((e) => e[2] !== undefined && isId(e[2]) && (e[3] ?? "").split(",").includes(name!)).map((e) => Number(e[2])).filter((x) => x !== gid);
  return { uid, gid, additionalGids: [...new Set(additionalGids)] };
}
