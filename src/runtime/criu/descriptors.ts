/**
 * The container init's stdio comes from outside the container (the caller's
 * /dev/null, a log file, a pipe from a shim, a terminal). CRIU cannot dump a
 * file it cannot resolve in the container's mount namespace, and on restore the
 * other end of a pipe is gone. As runc does, the checkpoint records what fds
 * 0-2 were and declares them external; restore hands CRIU the restoring
 * caller's own fds 0-2 in their place (--inherit-fd).
 *
 * CRIU's resource ids (criu/files-reg.c, pipes.c, sk-unix.c, tty.c):
 *   file[MNTID:INODE] (hex)   --external at dump; at restore its path form
 *                             ile[MNTID:INODE] (see below)
 *   tty[RDEV:DEV]      (hex)  --external at dump, --inherit-fd at restore
 *   unix[INODE]               --external at dump;  socket:[INODE] at restore
 *   pipe:[INODE]              nothing at dump;     --inherit-fd at restore
 *
 * A regular file's inherit id can be `file[...]` or its image path (the name
 * without its first character, as CRIU restores paths: "ile[...]" for an
 * external file). With `file[...]` CRIU reopens the fd and insists that its size
 * and mode are those of the dump, so a log that grew in the meantime (or the
 * next caller's output file) fails the restore. The path form hands over the
 * caller's fd itself, as for pipes: the restored init writes where the
 * restoring caller's output goes, as a fresh `run` would.
 */
import { readFileSync, readlinkSync, statSync } from "node:fs";

export interface ExternalFd {
  /** fd number in the container init */
  fd: number;
  /** what /proc/PID/fd/N pointed to (runc's descriptors.json entry) */
  link: string;
  /** --external value at dump, if one is needed */
  dump?: string;
  /** --inherit-fd resource at restore; absent when the fd is CRIU's to restore (a file inside the container) */
  inherit?: string;
}

const hex = (n: number | bigint) => n.toString(16);

/** Mount ids of a process's mount namespace. */
export function mountIds(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n")) {
    const id = Number(line.split(" ", 1)[0]);
    if (line && Number.isInteger(id)) ids.add(id);
  }
  return ids;
}

function fdinfoMntId(pid: number, fd: number): number | undefined {
  const m = /^mnt_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
  return m ? Number(m[1]) : undefined;
}

/** Classify fds 0-2 of pid; mounts = mount ids visible in the container. Missing fds are skipped. */
export function externalStdio(pid: number, mounts: Set<number>, fds = [0, 1, 2]): ExternalFd[] {
  const out: ExternalFd[] = [];
  for (const fd of fds) {
    const path = `/proc/${pid}/fd/${fd}`;
    let link: string;
    try {
      link = readlinkSync(path);
    } catch {
      continue; // closed
    }
    const special = /^(pipe|socket|anon_inode):\[?(\d*)\]?/.exec(link);
    if (special) {
      const [, kind, ino] = special;
      if (kind === "pipe") out.push({ fd, link, inherit: `pipe:[${ino}]` });
      else if (kind === "socket") out.push({ fd, link, dump: `unix[${ino}]`, inherit: `socket:[${ino}]` });
      else out.push({ fd, link });
      continue;
    }
    const st = statSync(path, { bigint: true });
    if (st.isCharacterDevice() && isTty(st.rdev)) {
      const id = `tty[${hex(st.rdev)}:${hex(st.dev)}]`;
      out.push({ fd, link, dump: id, inherit: id });
      continue;
    }
    const mnt = fdinfoMntId(pid, fd);
    if (mnt !== undefined && mounts.has(mnt)) {
      out.push({ fd, link }); // opened inside the container: CRIU dumps and reopens it
      continue;
    }
    const id = `${hex(mnt ?? 0)}:${hex(st.ino)}]`;
    out.push({ fd, link, dump: `file[${id}`, inherit: `ile[${id}` });
  }
  return out;
}

/**
 * Sockets among fds that the process's network namespace does not know (a
 * socketpair from the caller, e.g. a shim's stdio): CRIU finds sockets through
 * the dumped network namespaces only, so it cannot dump these.
 */
export function foreignSockets(pid: number, fds: ExternalFd[]): ExternalFd[] {
  const socks = fds.filter((f) => f.link.startsWith("socket:"));
  if (!socks.length) return [];
  const known = new Set<string>();
  try {
    // /proc/PID/net/unix: Num RefCount Protocol Flags Type St Inode [Path]
    for (const l of readFileSync(`/proc/${pid}/net/unix`, "utf8").split("\n").slice(1)) {
      const ino = l.trim().split(/\s+/)[6];
      if (ino) known.add(ino);
    }
  } catch {
    return [];
  }
  return socks.filter((f) => !known.has(/\[(\d+)\]/.exec(f.link)?.[1] ?? ""));
}

/** Terminals: the pty slaves (136-143), consoles and vts (4, 5). */
function isTty(rdev: bigint): boolean {
  const major = Number((rdev >> 8n) & 0xfffn);
  return (major >= 136 && major <= 143) || major === 4 || major === 5;
}

/** --external arguments for a dump (deduplicated: stdout and stderr are often one file). */
export function dumpArgs(fds: ExternalFd[]): string[] {
  return [...new Set(fds.flatMap((f) => (f.dump ? [f.dump] : [])))].flatMap((v) => ["--external", v]);
}

/**
 * --inherit-fd arguments for a restore: the caller's fd N stands in for the
 * container's fd N. The caller's fds reach criu as extra fds from firstFd on
 * (not as criu's own 0-2: criu moves inherited fds into its fd store and closes
 * them, and --shell-job needs criu's stdin afterwards). Returns the arguments
 * and, in order, the caller's fds to give criu.
 */
export function restoreArgs(fds: ExternalFd[], firstFd: number): { args: string[]; pass: number[] } {
  const seen = new Set<string>();
  const args: string[] = [];
  const pass: number[] = [];
  for (const f of fds) {
    if (!f.inherit || seen.has(f.inherit)) continue; // one fd per resource: CRIU dups it for the others
    seen.add(f.inherit);
    args.push("--inherit-fd", `fd[${firstFd + pass.length}]:${f.inherit}`);
    pass.push(f.fd);
  }
  return { args, pass };
}
