/**
 * docker cp and docker export on a container's filesystem: stat a path, tar a
 * path out, extract a tar in, and tar the whole rootfs.
 *
 * Everything goes through the in-container walk (inroot.ts): paths are the
 * container's (symlinks followed as the container sees them, mounts mapped to
 * their sources), and every file is created or opened by one name inside a
 * directory fd already resolved, without following a link at that name. So
 * an archive cannot write outside the container with "../" or absolute
 * names, with a symlink entry followed by entries through it (they land where
 * the link points inside the container), or with a symlink the container swaps
 * in while the copy runs (CVE-2018-15664, CVE-2019-14271).
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  chmodSync,
  chownSync,
  utimesSync,
  type Stats,
} from "node:fs";
import { posix } from "node:path";
import { BerthError, failedPrecondition, invalidArgument, notFound } from "../../errors.ts";
import { mkfifo } from "../../runtime/sys/libc.ts";
import { createTar } from "../storage/gnutar.ts";
import { END_OF_ARCHIVE, TarReader, encodeHeader, padding, type TarHeader, type WriteHeader } from "../storage/tar.ts";
import {
  O_CLOEXEC,
  O_NOFOLLOW,
  O_PATH,
  childMount,
  closeQuietly,
  fdPath,
  fdPathForChild,
  openChild,
  resolveInContainer,
  resolveParent,
  type FsView,
  type Resolved,
} from "./inroot.ts";
import type { ContainerRecord } from "./model.ts";

const O_WRONLY = 1;
const O_RDONLY = 0;
const O_CREAT = 0o100;
const O_EXCL = 0o200;

/** docker's X-Docker-Container-Path-Stat payload (mode is Go's os.FileMode). */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** The container's filesystem view from its record (tmpfs mounts live only in the container: not reachable). */
export function viewOf(record: Pick<ContainerRecord, "rootfs" | "Mounts" | "HostConfig">): FsView {
  return {
    rootfs: record.rootfs,
    mounts: record.Mounts.filter((m) => m.Type !== "tmpfs" && m.Source !== "").map((m) => ({ Destination: m.Destination, Source: m.Source, RW: m.RW })),
    readonlyRootfs: !!record.HostConfig.ReadonlyRootfs,
  };
}

/** Go's os.FileMode bits for a stat mode. */
export function goFileMode(mode: number): number {
  let m = mode & 0o777;
  const t = mode & 0o170000;
  if (t === 0o040000) m += 2 ** 31;
  else if (t === 0o120000) m += 2 ** 27;
  else if (t === 0o010000) m += 2 ** 25;
  else if (t === 0o140000) m += 2 ** 24;
  else if (t === 0o060000) m += 2 ** 26;
  else if (t === 0o020000) m += 2 ** 26 + 2 ** 21;
  if (mode & 0o4000) m += 2 ** 23;
  if (mode & 0o2000) m += 2 ** 22;
  if (mode & 0o1000) m += 2 ** 20;
  return m;
}

/** docker follows a final symlink only when the path ends in "/" or "/.". */
function followsFinal(path: string): boolean {
  return path.endsWith("/") || path.endsWith("/.");
}

function baseName(path: string): string {
  if (path.endsWith("/.")) return ".";
  const b = posix.basename(posix.normalize(path));
  return b === "" || b === "/" ? "." : b;
}

function checkPath(path: string): string {
  if (typeof path !== "string" || path === "") throw invalidArgument("path: must not be empty");
  if (path.includes("\0")) throw invalidArgument("path: contains a NUL byte");
  return path.startsWith("/") ? path : `/${path}`;
}

function linkTargetOf(view: FsView, linkPath: string, linkText: string): string {
  try {
    const r = resolveInContainer(view, linkPath);
    closeQuietly(r.fd);
    return r.path;
  } catch {
    // dangling: where it would point, lexically, inside the container
    return posix.normalize(linkText.startsWith("/") ? linkText : posix.join(posix.dirname(linkPath), linkText));
  }
}

function statOf(view: FsView, path: string, st: Stats, canonical: string, linkText: string | undefined): PathStat {
  let linkTarget = "";
  if (st.isSymbolicLink()) linkTarget = linkTargetOf(view, canonical, linkText ?? "");
  return { name: baseName(path), size: st.size, mode: goFileMode(st.mode), mtime: st.mtime.toISOString(), linkTarget };
}

function readlinkFd(parentFd: number, name: string): string {
  return readlinkSync(`${fdPath(parentFd)}/${name}`);
}

/** HEAD /containers/{id}/archive: the path's stat, as the container sees it. */
export function statPath(view: FsView, rawPath: string): PathStat {
  const path = checkPath(rawPath);
  if (!followsFinal(path) && posix.normalize(path) !== "/") {
    const { dir, name } = resolveParent(view, path);
    try {
      const c = openChild(view, dir, name);
      if (!c) throw notFound(`Could not find the file ${rawPath} in container`);
      try {
        const st = fstatSync(c.fd);
        const linkTarget = st.isSymbolicLink() ? linkTargetOf(view, c.path, readlinkFd(dir.fd, name)) : "";
        return { name: baseName(path), size: st.size, mode: goFileMode(st.mode), mtime: st.mtime.toISOString(), linkTarget };
      } finally {
        closeQuietly(c.fd);
      }
    } finally {
      closeQuietly(dir.fd);
    }
  }
  const r = resolveInContainer(view, path);
  try {
    return statOf(view, path, r.stat, r.path, undefined);
  } finally {
    closeQuietly(r.fd);
  }
}

// ---------------------------------------------------------------- tar out

const CHUNK = 64 * 1024;

interface Node {
  fd: number;
  path: string;
  /** a symlink's text, read by name in its parent when it was opened */
  linkText?: string;
}

/** A child of a held dir, with its link text when it is a symlink (an O_PATH fd can't be readlink'd by path). */
function child(view: FsView, dir: { fd: number; path: string }, name: string): Node | undefined {
  const c = openChild(view, dir, name);
  if (!c) return undefined;
  try {
    if (fstatSync(c.fd).isSymbolicLink()) return { ...c, linkText: readlinkFd(dir.fd, name) };
  } catch (e) {
    closeQuietly(c.fd);
    if ((e as NodeJS.ErrnoException).code === "EINVAL" || (e as NodeJS.ErrnoException).code === "ENOENT") return { ...c, linkText: "" };
    throw e;
  }
  return c;
}

/**
 * GET /containers/{id}/archive: the path's stat and a tar of it; entries are
 * named after the path's last component as given (docker's rebase).
 */
export function archivePath(view: FsView, rawPath: string): { stat: PathStat; stream: AsyncGenerator<Uint8Array> } {
  const path = checkPath(rawPath);
  let node: Node;
  if (!followsFinal(path) && posix.normalize(path) !== "/") {
    const { dir, name } = resolveParent(view, path);
    try {
      const c = child(view, dir, name);
      if (!c) throw notFound(`Could not find the file ${rawPath} in container`);
      node = c;
    } finally {
      closeQuietly(dir.fd);
    }
  } else {
    const r = resolveInContainer(view, path);
    node = { fd: r.fd, path: r.path };
  }
  let stat: PathStat;
  try {
    stat = statOf(view, path, fstatSync(node.fd), node.path, node.linkText);
  } catch (e) {
    closeQuietly(node.fd);
    throw e;
  }
  return { stat, stream: tarTree(view, node, baseName(path)) };
}

async function* tarTree(view: FsView, root: Node, rootName: string): AsyncGenerator<Uint8Array> {
  const links = new Map<string, string>();
  const open: number[] = [root.fd];
  try {
    yield* entry(view, root, rootName, links, open);
    yield END_OF_ARCHIVE;
  } finally {
    for (const fd of open) closeQuietly(fd);
  }
}

function header(name: string, st: Stats, extra: Partial<WriteHeader>): WriteHeader {
  return { name, type: "file", mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), ...extra };
}

async function* entry(view: FsView, node: Node, name: string, links: Map<string, string>, open: number[]): AsyncGenerator<Uint8Array> {
  const st = fstatSync(node.fd);
  if (st.isDirectory()) {
    yield encodeHeader(header(name.endsWith("/") ? name : `${name}/`, st, { type: "dir" }));
    let names: string[];
    try {
      names = readdirSync(fdPath(node.fd)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const c = child(view, node, n);
      if (!c) continue; // gone meanwhile
      open.push(c.fd);
      try {
        yield* entry(view, c, `${name === "." ? "." : name.replace(/\/$/, "")}/${n}`, links, open);
      } finally {
        closeQuietly(c.fd);
        open.splice(open.indexOf(c.fd), 1);
      }
    }
    return;
  }
  if (st.isSymbolicLink()) {
    yield encodeHeader(header(name, st, { type: "symlink", linkname: node.linkText ?? "" }));
    return;
  }
  if (st.isSocket()) return; // tar has no sockets
  if (st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first !== undefined) {
      yield encodeHeader(header(name, st, { type: "hardlink", linkname: first }));
      return;
    }
    links.set(key, name);
  }
  if (st.isFIFO()) {
    yield encodeHeader(header(name, st, { type: "fifo" }));
    return;
  }
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    yield encodeHeader(header(name, st, { type: st.isCharacterDevice() ? "char" : "block", devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) }));
    return;
  }
  // a regular file: reopened for reading through the fd we hold (the same inode, whatever the name points at now)
  const size = st.size;
  yield encodeHeader(header(name, st, { type: "file", size }));
  const fd = openSync(fdPath(node.fd), O_RDONLY | O_CLOEXEC);
  open.push(fd);
  try {
    let left = size;
    while (left > 0) {
      const buf = new Uint8Array(Math.min(CHUNK, left));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break; // shrank meanwhile: padded with zeros below
      left -= n;
      yield buf.subarray(0, n);
    }
    if (left > 0) yield new Uint8Array(left);
    const pad = padding(size);
    if (pad) yield new Uint8Array(pad);
  } finally {
    closeSync(fd);
    open.splice(open.indexOf(fd), 1);
  }
}

/** GET /containers/{id}/export: the container's rootfs (without its mounts) as a tar. */
export function exportRootfs(rootfs: string): AsyncGenerator<Uint8Array> {
  // members named as docker names them ("bin/sh", not "./bin/sh")
  return createTar(rootfs, ["."], { stripDotSlash: true });
}

// ---------------------------------------------------------------- tar in

export interface ExtractOptions {
  /** refuse to replace a directory with a non-directory and the reverse */
  noOverwriteDirNonDir?: boolean;
  /** keep the archive's uid/gid (else files belong to the container's root) */
  copyUIDGID?: boolean;
}

/** An archive member name relative to the extraction dir; refuses names that climb out. */
export function memberPath(name: string): string {
  const n = posix.normalize(name.replace(/^\/+/, ""));
  if (n === ".." || n.startsWith("../")) throw invalidArgument(`archive entry "${name}": path escapes the extraction directory`);
  return n === "./" || n === "." ? "." : n.replace(/\/+$/, "");
}

function lstatAt(dirFd: number, name: string): Stats | undefined {
  return lstatSync(`${fdPath(dirFd)}/${name}`, { throwIfNoEntry: false }) ?? undefined;
}

/** Remove `name` in `dirFd` and everything under it, every step by one name in a held dir fd. */
function removeAt(dirFd: number, name: string) {
  const p = `${fdPath(dirFd)}/${name}`;
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isDirectory()) {
    unlinkSync(p);
    return;
  }
  const fd = openSync(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  try {
    if (!fstatSync(fd).isDirectory()) {
      unlinkSync(p);
      return;
    }
    for (const c of readdirSync(fdPath(fd))) removeAt(fd, c);
  } finally {
    closeSync(fd);
  }
  rmdirSync(p);
}

class Extractor {
  private file?: { fd: number; h: TarHeader };

  /** the extraction dir, resolved once and held: entries are resolved from it, never from its name again */
  constructor(
    private readonly view: FsView,
    private readonly base: Resolved,
    private readonly opts: ExtractOptions,
  ) {}

  private owner(h: TarHeader): [number, number] {
    return this.opts.copyUIDGID ? [h.uid, h.gid] : [0, 0];
  }

  entry(h: TarHeader) {
    const rel = memberPath(h.name);
    if (rel === ".") return; // the extraction dir itself: left as it is
    const full = posix.join(this.base.path, rel);
    const { dir, name } = resolveParent(this.view, rel, { mkdirs: true, base: this.base });
    try {
      const m = childMount(this.view, dir, name);
      const writable = m ? m.RW : !this.view.readonlyRootfs;
      if (!writable) throw failedPrecondition(m ? `copy to ${full}: mounted volume is marked read-only` : `copy to ${full}: container rootfs is marked read-only`);
      const isMountPoint = this.view.mounts.some((x) => posix.normalize(x.Destination) === posix.join(dir.path, name));
      const p = `${fdPath(dir.fd)}/${name}`;
      const existing = lstatAt(dir.fd, name);
      const [uid, gid] = this.owner(h);
      if (h.type === "dir") {
        if (existing && !existing.isDirectory()) {
          if (this.opts.noOverwriteDirNonDir) throw invalidArgument(`cannot overwrite non-directory "${full}" with directory "${h.name}"`);
          unlinkSync(p);
        }
        if (!existing || !existing.isDirectory()) mkdirSync(p, { mode: 0o700 });
        if (!isMountPoint) this.meta(dir.fd, name, h, uid, gid, "dir");
        return;
      }
      if (isMountPoint) throw invalidArgument(`archive entry "${h.name}": cannot replace the mount point ${full}`);
      if (existing) {
        if (existing.isDirectory()) {
          if (this.opts.noOverwriteDirNonDir) throw invalidArgument(`cannot overwrite directory "${full}" with non-directory "${h.name}"`);
          removeAt(dir.fd, name);
        } else unlinkSync(p);
      }
      switch (h.type) {
        case "file": {
          const fd = openSync(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600);
          this.file = { fd, h };
          // owner/mode/times go on at the end of the data (entryEnd), through this fd
          return;
        }
        case "symlink":
          symlinkSync(h.linkname, p);
          lchownSync(p, uid, gid);
          lutimesSync(p, h.mtime, h.mtime);
          return;
        case "hardlink": {
          const target = memberPath(h.linkname);
          if (target === ".") throw invalidArgument(`archive entry "${h.name}": invalid hardlink target "${h.linkname}"`);
          const src = resolveParent(this.view, target, { base: this.base });
          try {
            linkSync(`${fdPath(src.dir.fd)}/${src.name}`, p);
          } catch (e) {
            throw invalidArgument(`archive entry "${h.name}": hardlink to "${h.linkname}": ${(e as NodeJS.ErrnoException).code ?? e}`);
          } finally {
            closeQuietly(src.dir.fd);
          }
          return;
        }
        case "fifo":
          mkfifo(p, 0o600);
          this.meta(dir.fd, name, h, uid, gid, "fifo");
          return;
        case "char":
        case "block": {
          const r = Bun.spawnSync(["mknod", "-m", "600", `${fdPathForChild(dir.fd)}/${name}`, h.type === "char" ? "c" : "b", String(h.devmajor), String(h.devminor)], { stderr: "pipe" });
          if (r.exitCode !== 0) throw invalidArgument(`archive entry "${h.name}": mknod: ${r.stderr.toString().trim()}`);
          this.meta(dir.fd, name, h, uid, gid, h.type);
          return;
        }
        default:
          throw invalidArgument(`archive entry "${h.name}": unsupported entry type '${h.typeflag}'`);
      }
    } finally {
      closeQuietly(dir.fd);
    }
  }

  /** Owner, mode and times on what we just created, through an O_PATH fd of it (never a link at that name). */
  private meta(dirFd: number, name: string, h: TarHeader, uid: number, gid: number, want: "dir" | "fifo" | "char" | "block") {
    const fd = openSync(`${fdPath(dirFd)}/${name}`, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    try {
      const st = fstatSync(fd);
      const ok = want === "dir" ? st.isDirectory() : want === "fifo" ? st.isFIFO() : want === "char" ? st.isCharacterDevice() : st.isBlockDevice();
      if (!ok) throw new BerthError("FailedPrecondition", `copy: ${name} changed while it was extracted`);
      chownSync(fdPath(fd), uid, gid);
      chmodSync(fdPath(fd), h.mode & 0o7777);
      utimesSync(fdPath(fd), h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
  }

  data(d: Uint8Array) {
    if (!this.file) return;
    let off = 0;
    while (off < d.length) off += writeSync(this.file.fd, d, off, d.length - off);
  }

  entryEnd() {
    const f = this.file;
    if (!f) return;
    this.file = undefined;
    try {
      const [uid, gid] = this.owner(f.h);
      const p = fdPath(f.fd);
      chownSync(p, uid, gid);
      chmodSync(p, f.h.mode & 0o7777);
      fsyncSync(f.fd);
      utimesSync(p, f.h.mtime, f.h.mtime);
    } finally {
      closeQuietly(f.fd);
    }
  }

  abort() {
    if (this.file) closeQuietly(this.file.fd);
    this.file = undefined;
  }
}

/**
 * PUT /containers/{id}/archive: extract a tar into the directory `path`
 * (which must exist). Entries are applied in order; an error stops there.
 */
export async function extractArchive(view: FsView, rawPath: string, src: AsyncIterable<Uint8Array>, opts: ExtractOptions = {}): Promise<void> {
  const path = checkPath(rawPath);
  const dest = resolveInContainer(view, path);
  if (!dest.stat.isDirectory() || !dest.writable) {
    closeQuietly(dest.fd);
    if (!dest.stat.isDirectory()) throw invalidArgument("extraction point is not a directory");
    throw failedPrecondition(dest.mount ? "mounted volume is marked read-only" : "container rootfs is marked read-only");
  }
  const reader = new TarReader();
  const x = new Extractor(view, dest, opts);
  try {
    for await (const chunk of src) {
      let events;
      try {
        events = reader.push(chunk);
      } catch (e) {
        throw invalidArgument(`archive: ${(e as Error).message}`);
      }
      for (const ev of events) {
        if (ev.kind === "entry") x.entry(ev.header);
        else if (ev.kind === "data") x.data(ev.data);
        else x.entryEnd();
      }
    }
    try {
      reader.end();
    } catch (e) {
      throw invalidArgument(`archive: ${(e as Error).message}`);
    }
  } finally {
    x.abort();
    closeQuietly(dest.fd);
  }
}
