/**
 * Config.User and HostConfig.GroupAdd -> the process's uid, gid and
 * supplementary groups, looked up in the container's own /etc/passwd and
 * /etc/group as docker does ("uid", "uid:gid", "name", "name:group"; a
 * numeric id needs no entry, a name does). The files are read with
 * openat2(RESOLVE_IN_ROOT): a symlink in the image cannot point the lookup at
 * the host's files.
 */
import { invalidArgument } from "../../errors.ts";
import type { User } from "../../oci/runtime-spec.ts";
import { readFileInRoot } from "../../runtime/sys/openat2.ts";

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 31 - 1;
const isNumeric = (s: string) => /^[0-9]+$/.test(s);

function id(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n > MAX_ID) throw invalidArgument(`${what} ${s}: uids and gids must be in range 0-${MAX_ID}`);
  return n;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(":");
    if (f.length < 4 || !f[0] || !isNumeric(f[2]!) || !isNumeric(f[3]!)) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? "" });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(":");
    if (f.length < 3 || !f[0] || !isNumeric(f[2]!)) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: (f[3] ?? "").split(",").filter(Boolean) });
  }
  return out;
}

/** What the lookup reads; readFile returns undefined for a missing file. */
export interface UserFiles {
  passwd(): string | undefined;
  group(): string | undefined;
}

/** The rootfs's /etc/passwd and /etc/group, read inside it. */
export function rootfsUserFiles(rootfs: string): UserFiles {
  return {
    passwd: () => readFileInRoot(rootfs, "/etc/passwd")?.toString("utf8"),
    group: () => readFileInRoot(rootfs, "/etc/group")?.toString("utf8"),
  };
}

export interface ResolvedUser extends User {
  /** the passwd entry's home, when there is one */
  home?: string;
}

/**
 * Resolve "user[:group]" and the extra groups. Errors use docker's wording:
 * "unable to find user X: no matching entries in passwd file".
 */
export function resolveUser(spec: string | undefined, groupAdd: readonly string[] | null | undefined, files: UserFiles): ResolvedUser {
  const [userPart = "", groupPart] = (spec ?? "").split(/:(.*)/s, 2);
  const needsPasswd = userPart !== "" && !isNumeric(userPart);
  let passwdCache: PasswdEntry[] | undefined;
  let groupCache: GroupEntry[] | undefined;
  const passwd = () => (passwdCache ??= parsePasswd(files.passwd() ?? ""));
  const groups = () => (groupCache ??= parseGroup(files.group() ?? ""));

  let uid = 0;
  let gid = 0;
  let name: string | undefined;
  let home: string | undefined;
  if (userPart === "") {
    const root = passwd().find((p) => p.uid === 0);
    name = root?.name;
    home = root?.home;
  } else if (needsPasswd) {
    const e = passwd().find((p) => p.name === userPart);
    if (!e) throw invalidArgument(`unable to find user ${userPart}: no matching entries in passwd file`);
    ({ uid, gid, name, home } = e);
  } else {
    uid = id(userPart, "user");
    const e = passwd().find((p) => p.uid === uid);
    if (e) ({ gid, name, home } = e);
  }

  if (groupPart !== undefined && groupPart !== "") {
    if (isNumeric(groupPart)) gid = id(groupPart, "group");
    else {
      const g = groups().find((e) => e.name === groupPart);
      if (!g) throw invalidArgument(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = g.gid;
    }
  }

  const extra: number[] = [];
  // Supplementary groups from /etc/group, only when the group was not given explicitly (as docker).
  if (name !== undefined && (groupPart === undefined || groupPart === "")) {
    for (const g of groups()) if (g.members.includes(name) && g.gid !== gid) extra.push(g.gid);
  }
  for (const g of groupAdd ?? []) {
    if (isNumeric(g)) extra.push(id(g, "group"));
    else {
      const e = groups().find((x) => x.name === g);
      if (!e) throw invalidArgument(`unable to find group ${g}: no matching entries in group file`);
      extra.push(e.gid);
    }
  }
  const additionalGids = [...new Set(extra)];
  const out: ResolvedUser = { uid, gid };
  if (additionalGids.length) out.additionalGids = additionalGids;
  if (home) out.home = home;
  return out;
}
