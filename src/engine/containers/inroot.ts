/**
 * Path resolution inside a container's filesystem as the container sees it:
 * its rootfs (a host directory) with its bind/volume mounts over it. Every
 * symlink is followed the way the kernel would inside the container (absolute
 * targets restart at the container's "/", ".." stops at "/"), and a path under
 * a mount's Destination continues in the mount's Source.
 *
 * The walk goes one component at a time through O_PATH fds: each step opens
 * `/proc/self/fd/<dir fd>/<name>` with O_NOFOLLOW, so the kernel looks up only
 * that one name in the directory already held (no ancestor is looked up
 * again), and a symlink is read and resolved by us, never by the kernel. A
 * container that swaps a directory for a symlink between two steps gets its
 * symlink resolved inside its root like any other. openat2(RESOLVE_IN_ROOT)
 * would not do here: the mounts are not visible in the host's view of the
 * rootfs, so the walk has to switch to their sources itself.
 *
 * Callers use the fds through `fdPath(fd)` (+ "/" + one name) and create the
 * final component with O_EXCL/O_NOFOLLOW semantics, so nothing they do follows
 * a link out of the container.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readlinkSync, type Stats } from "node:fs";
import { posix } from "node:path";
import { BerthError, invalidArgument, notFound } from "../../errors.ts";

export const O_PATH = 0o10000000;
export const O_NOFOLLOW = 0o400000;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;

const MAX_LINKS = 40;

/** One mount of the container, host side (from ResolvedMount). */
export interface ViewMount {
  Destination: string;
  /** host path; "" (tmpfs) means not reachable from the host */
  Source: string;
  RW: boolean;
}

/** The container's filesystem as seen from the host. */
export interface FsView {
  rootfs: string;
  mounts: ViewMount[];
  /** the rootfs is read-only (HostConfig.ReadonlyRootfs) */
  readonlyRootfs?: boolean;
}

/** A resolved path: an O_PATH fd, its canonical container path, and the filesystem it is on. */
export interface Resolved {
  fd: number;
  path: string;
  /** the mount it is under (undefined: the rootfs) */
  mount?: ViewMount;
  writable: boolean;
  stat: Stats;
}

/** The path through which a held fd is used (this process's /proc). */
export const fdPath = (fd: number) => `/proc/self/fd/${fd}`;

/** The same for a child process we spawn (it has its own /proc/self). */
export const fdPathForChild = (fd: number) => `/proc/${process.pid}/fd/${fd}`;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

function split(p: string): string[] {
  return p.split("/").filter((c) => c !== "" && c !== ".");
}

export function closeQuietly(fd: number | undefined) {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {}
}

interface Frame {
  fd: number;
  path: string;
  mount?: ViewMount;
}

/** The mount whose Destination is exactly `path` (the last one wins, as the last mounted would). */
function mountAt(view: FsView, path: string): ViewMount | undefined {
  let found: ViewMount | undefined;
  for (const m of view.mounts) if (m.Source !== "" && posix.normalize(m.Destination).replace(/\/$/, "") === path) found = m;
  return found;
}

export interface ResolveOptions {
  /** follow a symlink in the last component (default true) */
  followFinal?: boolean;
  /** create missing directories (mode 0755, owned by the caller) on the way */
  mkdirs?: boolean;
  /** resolve a relative `path` from this held directory (not looked up again by name); ".." above it continues from its canonical parent */
  base?: { fd: number; path: string; mount?: ViewMount };
}

/** Resolve `path` (absolute, container side) in the view; NotFound when a component is missing. */
export function resolveInContainer(view: FsView, path: string, opts: ResolveOptions = {}): Resolved {
  if (!path.startsWith("/") && !opts.base) throw invalidArgument(`path must be absolute: ${path}`);
  const followFinal = opts.followFinal ?? true;
  const stack: Frame[] = [];
  const rootMount = mountAt(view, "");
  const openRoot = (): Frame => {
    const m = rootMount;
    return { fd: openSync(m ? m.Source : view.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC), path: "/", mount: m };
  };
  /** back to the container's "/" (an absolute symlink) */
  const reset = () => {
    while (stack.length) closeQuietly(stack.pop()!.fd);
    stack.push(openRoot());
  };
  let todo = split(path);
  if (opts.base && !path.startsWith("/")) stack.push({ fd: openSync(fdPath(opts.base.fd), O_PATH | O_DIRECTORY | O_CLOEXEC), path: opts.base.path, mount: opts.base.mount });
  else stack.push(openRoot());
  let links = 0;
  try {
    while (todo.length) {
      const c = todo.shift()!;
      const top = stack[stack.length - 1]!;
      if (c === "..") {
        if (stack.length > 1) closeQuietly(stack.pop()!.fd);
        else if (top.path !== "/") {
          // above a base: continue from the root with the base's canonical parent
          closeQuietly(stack.pop()!.fd);
          stack.push(openRoot());
          todo = [...split(posix.dirname(top.path)), ...todo];
        }
        continue;
      }
      const next = top.path === "/" ? `/${c}` : `${top.path}/${c}`;
      const m = mountAt(view, next);
      if (m) {
        stack.push({ fd: openSync(m.Source, O_PATH | O_DIRECTORY | O_CLOEXEC), path: next, mount: m });
        continue;
      }
      const name = `${fdPath(top.fd)}/${c}`;
      let fd: number;
      try {
        fd = openSync(name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      } catch (e) {
        if (errno(e) === "ENOENT" && opts.mkdirs) {
          try {
            mkdirSync(name, { mode: 0o755 });
          } catch (e2) {
            if (errno(e2) !== "EEXIST") throw e2;
          }
          todo.unshift(c);
          continue;
        }
        throw e;
      }
      const st = fstatSync(fd);
      if (st.isSymbolicLink() && (todo.length > 0 || followFinal)) {
        closeQuietly(fd);
        if (++links > MAX_LINKS) throw new BerthError("InvalidArgument", `resolve ${path}: too many levels of symbolic links`);
        const target = readlinkSync(name);
        if (target.startsWith("/")) reset();
        todo = [...split(target), ...todo];
        continue;
      }
      if (todo.length > 0 && !st.isDirectory()) {
        closeQuietly(fd);
        throw new BerthError("InvalidArgument", `resolve ${path}: ${next} is not a directory`);
      }
      stack.push({ fd, path: next, mount: top.mount });
    }
    const top = stack.pop()!;
    const writable = top.mount ? top.mount.RW : !view.readonlyRootfs;
    return { fd: top.fd, path: top.path, mount: top.mount, writable, stat: fstatSync(top.fd) };
  } catch (e) {
    if (errno(e) === "ENOENT") throw notFound(`Could not find the file ${path} in container`);
    if (errno(e) === "ENOTDIR") throw new BerthError("InvalidArgument", `resolve ${path}: not a directory`);
    throw e;
  } finally {
    for (const f of stack) closeQuietly(f.fd);
  }
}

/**
 * Resolve the directory that holds `path`'s last component; returns it and the
 * name (never "", "." or ".."). For "/" there is no parent: InvalidArgument.
 */
export function resolveParent(view: FsView, path: string, opts: Pick<ResolveOptions, "mkdirs" | "base"> = {}): { dir: Resolved; name: string } {
  const clean = posix.normalize(path);
  const name = posix.basename(clean);
  if (clean === "/" || name === "" || name === "." || name === "..") throw invalidArgument(`no parent directory for ${path}`);
  const parent = posix.dirname(clean);
  const dir = resolveInContainer(view, parent, { mkdirs: opts.mkdirs, base: opts.base });
  if (!dir.stat.isDirectory()) {
    closeQuietly(dir.fd);
    throw invalidArgument(`${parent} is not a directory`);
  }
  return { dir, name };
}

/** The mount (or the rootfs) a child `name` of resolved dir `dir` is on, given the view. */
export function childMount(view: FsView, dir: Resolved, name: string): ViewMount | undefined {
  return mountAt(view, dir.path === "/" ? `/${name}` : `${dir.path}/${name}`) ?? dir.mount;
}

/** Open a child of a resolved dir without following a link at that name (O_PATH); mounts over it win. */
export function openChild(view: FsView, dir: { fd: number; path: string }, name: string): { fd: number; path: string; mount?: ViewMount } | undefined {
  const path = dir.path === "/" ? `/${name}` : `${dir.path}/${name}`;
  const m = mountAt(view, path);
  try {
    if (m) return { fd: openSync(m.Source, O_PATH | O_DIRECTORY | O_CLOEXEC), path, mount: m };
    return { fd: openSync(`${fdPath(dir.fd)}/${name}`, O_PATH | O_NOFOLLOW | O_CLOEXEC), path };
  } catch (e) {
    if (errno(e) === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * docker's SetupWorkingDirectory: create the container's working directory in
 * its rootfs (0755, owned by the caller: root) when it is missing, resolving
 * symlinks inside the rootfs. A path that cannot be made is left for the
 * runtime's chdir to report.
 */
export function ensureWorkingDir(rootfs: string, workingDir: string | undefined) {
  if (!workingDir || !workingDir.startsWith("/") || posix.normalize(workingDir) === "/") return;
  try {
    closeQuietly(resolveInContainer({ rootfs, mounts: [] }, workingDir, { mkdirs: true }).fd);
  } catch {}
}
