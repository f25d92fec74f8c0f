/**
 * DNS messages (RFC 1035 section 4) encoded and decoded: header, questions and
 * resource records, with name compression when encoding and bounded pointer
 * following when decoding. Written here rather than taken from npm: the server
 * needs a dozen record fields, and the packages that do this either pull in a
 * resolver stack or are unmaintained; the format is small and fixed.
 */

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const OPCODE_QUERY = 0;

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** raw rdata; for A, PTR and CNAME also decoded into `value` */
  data: Uint8Array;
  value?: string;
}

export interface Flags {
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
}

export interface Message {
  id: number;
  flags: Flags;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

export class DnsFormatError extends Error {}

export function encodeFlags(f: Flags): number {
  return (f.qr ? 0x8000 : 0) | ((f.opcode & 15) << 11) | (f.aa ? 0x400 : 0) | (f.tc ? 0x200 : 0) | (f.rd ? 0x100 : 0) | (f.ra ? 0x80 : 0) | (f.rcode & 15);
}

export function decodeFlags(v: number): Flags {
  return { qr: !!(v & 0x8000), opcode: (v >> 11) & 15, aa: !!(v & 0x400), tc: !!(v & 0x200), rd: !!(v & 0x100), ra: !!(v & 0x80), rcode: v & 15 };
}

/** Lower-case, no trailing dot: the key names are compared by. */
export function canonicalName(name: string): string {
  return name.replace(/\.$/, "").toLowerCase();
}

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  need(n: number) {
    if (this.pos + n > this.b.length) throw new DnsFormatError("truncated message");
  }
  u8() {
    this.need(1);
    return this.b[this.pos++]!;
  }
  u16() {
    this.need(2);
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u32() {
    return this.u16() * 65536 + this.u16();
  }
  bytes(n: number) {
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** a (possibly compressed) name starting at this.pos */
  name(): string {
    const labels: string[] = [];
    let pos = this.pos;
    let jumped = false;
    let hops = 0;
    let total = 0;
    for (;;) {
      if (pos >= this.b.length) throw new DnsFormatError("truncated name");
      const len = this.b[pos]!;
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.b.length) throw new DnsFormatError("truncated pointer");
        const target = ((len & 0x3f) << 8) | this.b[pos + 1]!;
        if (!jumped) this.pos = pos + 2;
        jumped = true;
        if (++hops > 32 || target >= pos) throw new DnsFormatError("bad compression pointer");
        pos = target;
        continue;
      }
      if (len & 0xc0) throw new DnsFormatError("bad label type");
      if (len === 0) {
        if (!jumped) this.pos = pos + 1;
        break;
      }
      if (pos + 1 + len > this.b.length) throw new DnsFormatError("truncated label");
      total += len + 1;
      if (total > 255) throw new DnsFormatError("name too long");
      labels.push(new TextDecoder().decode(this.b.subarray(pos + 1, pos + 1 + len)));
      pos += 1 + len;
    }
    return labels.join(".");
  }
}

function ipv4(data: Uint8Array): string {
  return Array.from(data).join(".");
}

export function decode(buf: Uint8Array): Message {
  const r = new Reader(buf);
  const id = r.u16();
  const flags = decodeFlags(r.u16());
  const qd = r.u16();
  const an = r.u16();
  const ns = r.u16();
  const ar = r.u16();
  const questions: Question[] = [];
  for (let i = 0; i < qd; i++) questions.push({ name: r.name(), type: r.u16(), class: r.u16() });
  const rr = (n: number) => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < n; i++) {
      const name = r.name();
      const type = r.u16();
      const cls = r.u16();
      const ttl = r.u32();
      const len = r.u16();
      const start = r.pos;
      const data = r.bytes(len);
      const rec: ResourceRecord = { name, type, class: cls, ttl, data };
      if (type === TYPE.A && len === 4) rec.value = ipv4(data);
      if (type === TYPE.PTR || type === TYPE.CNAME || type === TYPE.NS) {
        const sub = new Reader(buf);
        sub.pos = start;
        rec.value = sub.name();
      }
      out.push(rec);
    }
    return out;
  };
  const answers = rr(an);
  const authorities = rr(ns);
  const additionals = rr(ar);
  return { id, flags, questions, answers, authorities, additionals };
}

class Writer {
  private buf = new Uint8Array(512);
  len = 0;
  private names = new Map<string, number>();
  grow(n: number) {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(v: number) {
    this.grow(1);
    this.buf[this.len++] = v;
  }
  u16(v: number) {
    this.u8((v >> 8) & 255);
    this.u8(v & 255);
  }
  u32(v: number) {
    this.u16(Math.floor(v / 65536) & 0xffff);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array) {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  setU16(at: number, v: number) {
    this.buf[at] = (v >> 8) & 255;
    this.buf[at + 1] = v & 255;
  }
  name(name: string) {
    const labels = name.replace(/\.$/, "").split(".").filter((l) => l.length);
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join(".").toLowerCase();
      const at = this.names.get(suffix);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.len < 0x3fff) this.names.set(suffix, this.len);
      const bytes = new TextEncoder().encode(labels[i]);
      if (bytes.length > 63) throw new DnsFormatError(`label too long in ${name}`);
      this.u8(bytes.length);
      this.bytes(bytes);
    }
    this.u8(0);
  }
  done() {
    return this.buf.slice(0, this.len);
  }
}

export function encodeIPv4(ip: string): Uint8Array {
  return new Uint8Array(ip.split(".").map(Number));
}

export function encode(m: Message): Uint8Array {
  const w = new Writer();
  w.u16(m.id);
  w.u16(encodeFlags(m.flags));
  w.u16(m.questions.length);
  w.u16(m.answers.length);
  w.u16(m.authorities.length);
  w.u16(m.additionals.length);
  for (const q of m.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of [...m.answers, ...m.authorities, ...m.additionals]) {
    w.name(rr.name);
    w.u16(rr.type);
    w.u16(rr.class);
    w.u32(rr.ttl);
    if (rr.type === TYPE.PTR || rr.type === TYPE.CNAME || rr.type === TYPE.NS) {
      const lenAt = w.len;
      w.u16(0);
      const start = w.len;
      w.name(rr.value ?? "");
      w.setU16(lenAt, w.len - start);
    } else {
      w.u16(rr.data.length);
      w.bytes(rr.data);
    }
  }
  return w.done();
}

/** An A record. */
export function aRecord(name: string, ip: string, ttl: number): ResourceRecord {
  return { name, type: TYPE.A, class: CLASS_IN, ttl, data: encodeIPv4(ip), value: ip };
}

/** A PTR record. */
export function ptrRecord(name: string, target: string, ttl: number): ResourceRecord {
  return { name, type: TYPE.PTR, class: CLASS_IN, ttl, data: new Uint8Array(), value: target };
}

/** The reply skeleton to a query: same id, opcode, RD and question; QR set. */
export function replyTo(q: Message, rcode: number, answers: ResourceRecord[] = [], aa = true): Message {
  return {
    id: q.id,
    flags: { qr: true, opcode: q.flags.opcode, aa, tc: false, rd: q.flags.rd, ra: true, rcode },
    questions: q.questions,
    answers,
    authorities: [],
    additionals: [],
  };
}

/** "4.3.2.1.in-addr.arpa" -> "1.2.3.4", or undefined */
export function reverseIPv4(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(canonicalName(name));
  return m ? `${m[4]}.${m[3]}.${m[2]}.${m[1]}` : undefined;
}
