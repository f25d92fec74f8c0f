/**
 * A streaming tar reader and a header writer (ustar + PAX; reads GNU long
 * names/links, base-256 numbers and old-GNU sparse headers too).
 *
 * GNU tar does the filesystem work (extract/create with xattrs, device nodes,
 * hardlinks, ownership); this module only reads and rewrites the stream between
 * it and the layer blob: whiteout conversion, name checks, archive building. An
 * entry that is not changed is passed through byte for byte (`raw`).
 */

const BLOCK = 512;
const enc = new TextEncoder();
const dec = new TextDecoder();

export type EntryType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo" | "other";

export interface TarHeader {
  /** path as stored (after PAX/GNU long-name resolution) */
  name: string;
  linkname: string;
  type: EntryType;
  /** the raw type flag ('0', '5', 'S', ...) */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** bytes of data that follow the header in the archive */
  size: number;
  mtime: number;
  devmajor: number;
  devminor: number;
  /** extended attributes from SCHILY.xattr.* PAX records (raw bytes of the value) */
  xattrs: Record<string, Uint8Array>;
  /** other PAX records (path/linkpath/size/uid/gid/mtime/xattrs already folded in) */
  pax: Record<string, string>;
}

export type TarEvent =
  | { kind: "entry"; header: TarHeader; raw: Uint8Array }
  | { kind: "data"; data: Uint8Array }
  /** the end of one entry's data (after the last data event) */
  | { kind: "entryEnd" };

function typeOf(flag: string): EntryType {
  switch (flag) {
    case "0":
    case "\0":
    case "7":
    case "S":
      return "file";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "3":
      return "char";
    case "4":
      return "block";
    case "5":
      return "dir";
    case "6":
      return "fifo";
    default:
      return "other";
  }
}

function cstr(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return dec.decode(b.subarray(off, end));
}

function num(b: Uint8Array, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // base-256 (GNU): big-endian two's complement with the top bit as marker
    let v = 0;
    for (let i = off; i < off + len; i++) v = v * 256 + (i === off ? b[i]! & 0x7f : b[i]!);
    return v;
  }
  const s = cstr(b, off, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`bad octal field "${s}"`);
  return parseInt(s, 8);
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function checksumOk(b: Uint8Array): boolean {
  const stored = num(b, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  return sum === stored;
}

function parsePax(data: Uint8Array): { records: Record<string, string>; xattrs: Record<string, Uint8Array> } {
  const records: Record<string, string> = {};
  const xattrs: Record<string, Uint8Array> = {};
  let i = 0;
  while (i < data.length) {
    let sp = i;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = parseInt(dec.decode(data.subarray(i, sp)), 10);
    if (!(len > 0) || i + len > data.length) throw new Error("bad pax record");
    const rec = data.subarray(sp + 1, i + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new Error("bad pax record");
    const key = dec.decode(rec.subarray(0, eq));
    const val = rec.subarray(eq + 1);
    if (key.startsWith("SCHILY.xattr.")) xattrs[key.slice(13)] = val.slice();
    else records[key] = dec.decode(val);
    i += len;
  }
  return { records, xattrs };
}

/** Push-parser: feed chunks, get events. Throws on a malformed archive. */
export class TarReader {
  private buf: Uint8Array[] = [];
  private buffered = 0;
  /** bytes of entry data still to deliver, then padding to skip */
  private dataLeft = 0;
  private padLeft = 0;
  private inData = false;
  private pending: { longName?: string; longLink?: string; pax?: ReturnType<typeof parsePax>; raw: Uint8Array[] } = { raw: [] };
  /** collecting the data of a meta entry (L, K, x) */
  private meta?: { flag: string; size: number; parts: Uint8Array[]; header: Uint8Array };
  private ended = false;
  private zeroBlocks = 0;

  push(chunk: Uint8Array): TarEvent[] {
    const out: TarEvent[] = [];
    if (this.ended) return out; // trailing bytes after the end marker are ignored
    this.buf.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.inData) {
        if (this.dataLeft > 0) {
          if (this.buffered === 0) break;
          const piece = this.take(Math.min(this.dataLeft, this.buffered));
          this.dataLeft -= piece.length;
          if (this.meta) this.meta.parts.push(piece.slice());
          else out.push({ kind: "data", data: piece });
          continue;
        }
        if (this.padLeft > 0) {
          if (this.buffered === 0) break;
          const n = Math.min(this.padLeft, this.buffered);
          this.take(n);
          this.padLeft -= n;
          continue;
        }
        this.inData = false;
        if (this.meta) this.finishMeta();
        else out.push({ kind: "entryEnd" });
        continue;
      }
      if (this.buffered < BLOCK) break;
      const block = this.take(BLOCK).slice();
      if (isZero(block)) {
        if (++this.zeroBlocks === 2) {
          this.ended = true;
          break;
        }
        continue;
      }
      if (this.zeroBlocks) throw new Error("data after a zero block");
      if (!checksumOk(block)) throw new Error("bad header checksum");
      const flag = String.fromCharCode(block[156]!);
      const size = num(block, 124, 12);
      if (flag === "L" || flag === "K" || flag === "x" || flag === "g") {
        // meta entries: collected, then folded into the next entry (a global header 'g' is only passed through)
        this.meta = { flag, size, parts: [], header: block };
        this.startData(size);
        continue;
      }
      const h = this.parseHeader(block, flag);
      // old GNU sparse entries with extension blocks (more than 4 holes): never in image layers (Go's tar writes none)
      if (flag === "S" && block[482] !== 0) throw new Error(`old GNU sparse file "${h.name}" with extension headers is not supported`);
      const raw = block;
      const rawAll = concat([...this.pending.raw, raw]);
      this.pending = { raw: [] };
      out.push({ kind: "entry", header: h, raw: rawAll });
      this.startData(h.size);
      if (h.size === 0) {
        this.inData = false;
        out.push({ kind: "entryEnd" });
      }
    }
    return out;
  }

  /** Call at the end of input: throws if the archive is truncated. */
  end() {
    if (this.inData || this.meta || this.pending.raw.length) throw new Error("truncated archive");
    if (!this.ended && this.buffered) throw new Error("truncated archive");
  }

  private startData(size: number) {
    this.dataLeft = size;
    this.padLeft = (BLOCK - (size % BLOCK)) % BLOCK;
    this.inData = true;
  }

  private finishMeta() {
    const m = this.meta!;
    this.meta = undefined;
    const data = concat(m.parts);
    const padded = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
    padded.set(data);
    const raw = concat([m.header, padded]);
    this.pending.raw.push(raw);
    if (m.flag === "g") return;
    if (m.flag === "L") this.pending.longName = cstr(data, 0, data.length);
    else if (m.flag === "K") this.pending.longLink = cstr(data, 0, data.length);
    else this.pending.pax = parsePax(data);
  }

  private parseHeader(b: Uint8Array, flag: string): TarHeader {
    const magic = cstr(b, 257, 6);
    let name = cstr(b, 0, 100);
    if (magic === "ustar" || magic === "ustar ") {
      const prefix = magic === "ustar" ? cstr(b, 345, 155) : "";
      if (prefix) name = `${prefix}/${name}`;
    }
    const p = this.pending;
    const pax = p.pax?.records ?? {};
    const h: TarHeader = {
      name: pax["GNU.sparse.name"] ?? pax.path ?? p.longName ?? name,
      linkname: pax.linkpath ?? p.longLink ?? cstr(b, 157, 100),
      type: typeOf(flag),
      typeflag: flag,
      mode: num(b, 100, 8),
      uid: pax.uid !== undefined ? Number(pax.uid) : num(b, 108, 8),
      gid: pax.gid !== undefined ? Number(pax.gid) : num(b, 116, 8),
      uname: pax.uname ?? cstr(b, 265, 32),
      gname: pax.gname ?? cstr(b, 297, 32),
      size: pax.size !== undefined ? Number(pax.size) : num(b, 124, 12),
      mtime: pax.mtime !== undefined ? Math.floor(Number(pax.mtime)) : num(b, 136, 12),
      devmajor: num(b, 329, 8),
      devminor: num(b, 337, 8),
      xattrs: p.pax?.xattrs ?? {},
      pax: Object.fromEntries(Object.entries(pax).filter(([k]) => !["path", "linkpath", "size", "uid", "gid", "uname", "gname"].includes(k))),
    };
    // size is the data that follows in the archive (for sparse files: the stored part)
    if (!Number.isSafeInteger(h.size) || h.size < 0) throw new Error(`bad size for ${h.name}`);
    return h;
  }

  private take(n: number): Uint8Array {
    const first = this.buf[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.buf.shift();
      else this.buf[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.buf[0]!;
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) this.buf.shift();
      else this.buf[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const TYPEFLAG: Record<EntryType, string> = { file: "0", hardlink: "1", symlink: "2", char: "3", block: "4", dir: "5", fifo: "6", other: "0" };

export interface WriteHeader {
  name: string;
  type: EntryType;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Uint8Array>;
  /** extra PAX records to keep */
  pax?: Record<string, string>;
}

function octal(b: Uint8Array, off: number, len: number, v: number) {
  const s = v.toString(8).padStart(len - 1, "0");
  b.set(enc.encode(s.slice(-(len - 1))), off);
  b[off + len - 1] = 0;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const body = concat([enc.encode(` ${key}=`), value, enc.encode("\n")]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return concat([enc.encode(String(len)), body]);
}

function ustarBlock(h: WriteHeader, name: string, linkname: string, flag: string, size: number): Uint8Array {
  const b = new Uint8Array(BLOCK);
  b.set(enc.encode(name).subarray(0, 100), 0);
  octal(b, 100, 8, (h.mode ?? (h.type === "dir" ? 0o755 : 0o644)) & 0o7777);
  octal(b, 108, 8, Math.min(h.uid ?? 0, 0o7777777));
  octal(b, 116, 8, Math.min(h.gid ?? 0, 0o7777777));
  octal(b, 124, 12, Math.min(size, 0o77777777777));
  octal(b, 136, 12, Math.max(0, Math.min(Math.floor(h.mtime ?? 0), 0o77777777777)));
  b.fill(0x20, 148, 156);
  b[156] = flag.charCodeAt(0);
  b.set(enc.encode(linkname).subarray(0, 100), 157);
  b.set(enc.encode("ustar\u000000"), 257);
  b.set(enc.encode(h.uname ?? "").subarray(0, 32), 265);
  b.set(enc.encode(h.gname ?? "").subarray(0, 32), 297);
  octal(b, 329, 8, h.devmajor ?? 0);
  octal(b, 337, 8, h.devminor ?? 0);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  octal(b, 148, 7, sum);
  b[155] = 0x20;
  return b;
}

/**
 * Encode one entry's header (ustar, preceded by a PAX header when a name,
 * link, id or size does not fit, or there are xattrs). Data and padding are the
 * caller's (see `padding`).
 */
export function encodeHeader(h: WriteHeader): Uint8Array {
  const size = h.type === "file" ? (h.size ?? 0) : 0;
  const recs: Uint8Array[] = [];
  const nameBytes = enc.encode(h.name);
  const linkBytes = enc.encode(h.linkname ?? "");
  if (nameBytes.length > 100) recs.push(paxRecord("path", nameBytes));
  if (linkBytes.length > 100) recs.push(paxRecord("linkpath", linkBytes));
  if ((h.uid ?? 0) > 0o7777777) recs.push(paxRecord("uid", enc.encode(String(h.uid))));
  if ((h.gid ?? 0) > 0o7777777) recs.push(paxRecord("gid", enc.encode(String(h.gid))));
  if (size > 0o77777777777) recs.push(paxRecord("size", enc.encode(String(size))));
  for (const [k, v] of Object.entries(h.pax ?? {})) recs.push(paxRecord(k, enc.encode(v)));
  for (const [k, v] of Object.entries(h.xattrs ?? {})) recs.push(paxRecord(`SCHILY.xattr.${k}`, v));
  const main = ustarBlock(h, h.name, h.linkname ?? "", TYPEFLAG[h.type], size);
  if (!recs.length) return main;
  const data = concat(recs);
  const paxName = `PaxHeaders/${h.name.replace(/\/$/, "").split("/").pop()!.slice(0, 80)}`;
  const ph = ustarBlock({ name: paxName, type: "file", mode: 0o644 }, paxName, "", "x", data.length);
  return concat([ph, data, new Uint8Array(padding(data.length)), main]);
}

/** Zero bytes needed after `size` bytes of data to reach a block boundary. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The end-of-archive marker (two zero blocks). */
export const END_OF_ARCHIVE = new Uint8Array(BLOCK * 2);

/** One complete entry with in-memory data. */
export function encodeEntry(h: WriteHeader, data?: Uint8Array): Uint8Array {
  const d = data ?? new Uint8Array(0);
  return concat([encodeHeader({ ...h, size: d.length }), d, new Uint8Array(padding(d.length))]);
}
