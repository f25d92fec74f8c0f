/**
 * Rewriting layer tar streams between the image format (AUFS-style whiteout
 * files) and overlayfs's on-disk format:
 *
 *   image layer                     overlay diff dir
 *   dir/.wh.name                <-> dir/name: char device 0:0
 *   dir/.wh..wh..opq            <-> dir: xattr trusted.overlay.opaque=y
 *   dir/.wh..wh.<other> (AUFS)   -> dropped
 *
 * `LayerToOverlay` also checks every entry before GNU tar sees it: names are
 * cleaned ("./a//b" -> "a/b") and may not contain ".."; hardlink targets
 * likewise; no entry may go through a symlink made earlier in the same layer;
 * trusted.overlay.* xattrs in a layer are dropped (they are overlay's own
 * metadata, and a layer must not forge them). A rejected layer is a BerthError.
 */
import { invalidArgument } from "../../errors.ts";
import { concat, encodeHeader, padding, TarReader, type TarEvent, type TarHeader, type WriteHeader } from "./tar.ts";

export const WHITEOUT_PREFIX = ".wh.";
export const WHITEOUT_META_PREFIX = ".wh..wh.";
export const WHITEOUT_OPAQUE = ".wh..wh..opq";
export const OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque";
const OVERLAY_XATTR_PREFIX = "trusted.overlay.";
const Y = new TextEncoder().encode("y");

/** "./a//b/" -> "a/b"; "" for the root; undefined when it climbs out (".."). */
export function cleanName(name: string): string | undefined {
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") return undefined;
    parts.push(p);
  }
  return parts.join("/");
}

function splitPath(p: string): { dir: string; base: string } {
  const i = p.lastIndexOf("/");
  return i < 0 ? { dir: "", base: p } : { dir: p.slice(0, i), base: p.slice(i + 1) };
}

function join(dir: string, base: string): string {
  return dir ? `${dir}/${base}` : base;
}

function toWrite(h: TarHeader, over: Partial<WriteHeader> = {}): WriteHeader {
  return {
    name: h.name,
    type: h.type,
    size: h.size,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    uname: h.uname,
    gname: h.gname,
    mtime: h.mtime,
    linkname: h.linkname,
    devmajor: h.devmajor,
    devminor: h.devminor,
    xattrs: h.xattrs,
    pax: h.pax,
    ...over,
  };
}

function withoutOverlayXattrs(x: Record<string, Uint8Array>): { xattrs: Record<string, Uint8Array>; changed: boolean } {
  const out: Record<string, Uint8Array> = {};
  let changed = false;
  for (const [k, v] of Object.entries(x)) {
    if (k.startsWith(OVERLAY_XATTR_PREFIX)) changed = true;
    else out[k] = v;
  }
  return { xattrs: out, changed };
}

/** Base of the two converters: parse, hand each entry to `entry`, stream data through. */
abstract class Rewriter {
  private reader = new TarReader();
  /** drop the current entry's data */
  private skipping = false;
  private curSize = 0;
  /** sum of the sizes of regular files written */
  unpackedSize = 0;

  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let evs: TarEvent[];
    try {
      evs = this.reader.push(chunk);
    } catch (e) {
      throw invalidArgument(`layer: bad tar stream: ${(e as Error).message}`);
    }
    for (const ev of evs) {
      if (ev.kind === "entry") {
        const r = this.entry(ev.header, ev.raw);
        this.skipping = r.skip;
        this.curSize = ev.header.size;
        if (!r.skip && ev.header.type === "file") this.unpackedSize += ev.header.size;
        out.push(...r.out);
      } else if (ev.kind === "data") {
        if (!this.skipping) out.push(ev.data);
      } else if (ev.kind === "entryEnd") {
        if (!this.skipping) {
          const pad = padding(this.curSize);
          if (pad) out.push(new Uint8Array(pad));
          out.push(...this.after());
        }
        this.skipping = false;
      }
    }
    return out;
  }

  end(): Uint8Array[] {
    try {
      this.reader.end();
    } catch (e) {
      throw invalidArgument(`layer: bad tar stream: ${(e as Error).message}`);
    }
    return [...this.finish(), new Uint8Array(1024)];
  }

  /** Output for one entry's header; `skip` drops its data. */
  protected abstract entry(h: TarHeader, raw: Uint8Array): { out: Uint8Array[]; skip: boolean };
  /** Output after an entry's data (and padding). */
  protected after(): Uint8Array[] {
    return [];
  }
  protected finish(): Uint8Array[] {
    return [];
  }
}

/** Image layer -> overlay format, for GNU tar to extract into a diff dir. */
export class LayerToOverlay extends Rewriter {
  private symlinks = new Set<string>();
  private dirs = new Map<string, TarHeader>();

  protected override entry(h: TarHeader, raw: Uint8Array): { out: Uint8Array[]; skip: boolean } {
    if (h.type === "other") {
      throw invalidArgument(`layer: entry "${h.name}": unsupported tar entry type "${h.typeflag}"`);
    }
    const name = cleanName(h.name);
    if (name === undefined) throw invalidArgument(`layer: entry "${h.name}": path climbs out of the layer ("..")`);
    if (name.split("/")[0]!.startsWith(WHITEOUT_META_PREFIX)) return { out: [], skip: true }; // AUFS metadata (.wh..wh.plnk/...)
    this.checkParents(name, h.name);
    const { dir, base } = splitPath(name);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base === WHITEOUT_OPAQUE) {
        const d = this.dirs.get(dir);
        const hdr: WriteHeader = d
          ? toWrite(d, { name: dir ? dir + "/" : "./", xattrs: { ...d.xattrs, [OVERLAY_OPAQUE_XATTR]: Y } })
          : { name: dir ? dir + "/" : "./", type: "dir", mode: 0o755, uid: h.uid, gid: h.gid, mtime: h.mtime, xattrs: { [OVERLAY_OPAQUE_XATTR]: Y } };
        return { out: [encodeHeader(hdr)], skip: true };
      }
      if (base.startsWith(WHITEOUT_META_PREFIX)) return { out: [], skip: true }; // AUFS metadata (.wh..wh.plnk, ...)
      const target = base.slice(WHITEOUT_PREFIX.length);
      if (target === "" || target === "." || target === "..") throw invalidArgument(`layer: entry "${h.name}": bad whiteout`);
      const hdr: WriteHeader = { name: join(dir, target), type: "char", mode: 0, uid: h.uid, gid: h.gid, mtime: h.mtime, devmajor: 0, devminor: 0 };
      this.symlinks.delete(join(dir, target));
      return { out: [encodeHeader(hdr)], skip: true };
    }
    if (h.type === "symlink") this.symlinks.add(name);
    else this.symlinks.delete(name);
    if (h.type === "dir") this.dirs.set(name, h);
    let linkname = h.linkname;
    if (h.type === "hardlink") {
      const l = cleanName(h.linkname);
      if (l === undefined || l === "") throw invalidArgument(`layer: entry "${h.name}": hardlink target "${h.linkname}" is outside the layer`);
      this.checkParents(l, h.linkname);
      if (this.symlinks.has(l)) throw invalidArgument(`layer: entry "${h.name}": hardlink to symlink "${h.linkname}" made in the same layer`);
      linkname = l;
    }
    const { xattrs, changed } = withoutOverlayXattrs(h.xattrs);
    const outName = name === "" ? "./" : h.type === "dir" ? name + "/" : name;
    const sparse = h.typeflag === "S" || Object.keys(h.pax).some((k) => k.startsWith("GNU.sparse."));
    const same =
      !changed &&
      linkname === h.linkname &&
      (h.type === "file" || h.size === 0) &&
      (outName === h.name || (h.type === "dir" && name === h.name) || (name === "" && h.name === "."));
    if (!same && sparse) throw invalidArgument(`layer: entry "${h.name}": sparse file with a name or attributes berth must rewrite`);
    const out = same ? raw : encodeHeader(toWrite(h, { name: outName, linkname, xattrs }));
    // a file's data passes through; other entries carry none (a stray size is dropped with the re-encoded header)
    return { out: [out], skip: h.type !== "file" };
  }

  private checkParents(name: string, orig: string) {
    let i = name.indexOf("/");
    while (i >= 0) {
      const p = name.slice(0, i);
      if (this.symlinks.has(p)) throw invalidArgument(`layer: entry "${orig}": goes through symlink "${p}" made in the same layer`);
      i = name.indexOf("/", i + 1);
    }
  }
}

/**
 * An overlay upper dir's tar (GNU tar -c --xattrs) -> an image layer: whiteout
 * devices become .wh. files, opaque dirs get a .wh..wh..opq entry, overlay's
 * xattrs go, names lose "./", the root entry and atime/ctime are dropped.
 */
export class OverlayToLayer extends Rewriter {
  private afterEntry: Uint8Array[] = [];

  protected override entry(h: TarHeader): { out: Uint8Array[]; skip: boolean } {
    const name = cleanName(h.name);
    if (name === undefined) throw invalidArgument(`diff: entry "${h.name}": bad name`);
    if (name === "") return { out: [], skip: true };
    const pax = { ...h.pax };
    delete pax.atime;
    delete pax.ctime;
    const { dir, base } = splitPath(name);
    if (h.type === "char" && h.devmajor === 0 && h.devminor === 0) {
      const wh: WriteHeader = { name: join(dir, WHITEOUT_PREFIX + base), type: "file", size: 0, mode: 0o600, uid: h.uid, gid: h.gid, uname: h.uname, gname: h.gname, mtime: h.mtime };
      return { out: [encodeHeader(wh)], skip: true };
    }
    const opaque = h.type === "dir" && new TextDecoder().decode(h.xattrs[OVERLAY_OPAQUE_XATTR] ?? new Uint8Array()) === "y";
    const { xattrs } = withoutOverlayXattrs(h.xattrs);
    const hdr = encodeHeader(toWrite(h, { name: h.type === "dir" ? name + "/" : name, linkname: h.type === "hardlink" ? (cleanName(h.linkname) ?? h.linkname) : h.linkname, xattrs, pax }));
    if (opaque) {
      this.afterEntry.push(
        encodeHeader({ name: join(name, WHITEOUT_OPAQUE), type: "file", size: 0, mode: h.mode & 0o777, uid: h.uid, gid: h.gid, uname: h.uname, gname: h.gname, mtime: h.mtime }),
      );
    }
    return { out: [hdr], skip: false };
  }

  protected override after(): Uint8Array[] {
    const out = this.afterEntry;
    this.afterEntry = [];
    return out;
  }
}

/** Run a rewriter over a byte stream. */
export async function* rewrite(src: AsyncIterable<Uint8Array>, rw: Rewriter): AsyncGenerator<Uint8Array> {
  for await (const chunk of src) {
    const out = rw.push(chunk);
    if (out.length) yield out.length === 1 ? out[0]! : concat(out);
  }
  yield concat(rw.end());
}

export type { Rewriter };
