/** Binary encoding of an InitPlan (see opcodes.ts for the format). */
import { OPS, type OpName, type FieldKind } from "./opcodes.ts";

export type FieldValue = number | bigint | string | Uint8Array | readonly string[];
export interface Instruction {
  op: OpName;
  args: readonly FieldValue[];
}
export type InitPlan = Instruction[];

export const instr = (op: OpName, ...args: FieldValue[]): Instruction => ({ op, args });

const enc = new TextEncoder();

class Writer {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  len = 0;
  private grow(n: number) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }
  u32(v: number) {
    this.grow(4);
    this.view.setUint32(this.len, v >>> 0, true);
    this.len += 4;
  }
  u64(v: bigint) {
    this.grow(8);
    this.view.setBigUint64(this.len, BigInt.asUintN(64, v), true);
    this.len += 8;
  }
  raw(b: Uint8Array) {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  str(s: string) {
    if (s.includes("\0")) throw new Error(`string contains NUL: ${JSON.stringify(s)}`);
    const b = enc.encode(s);
    this.u32(b.length + 1);
    this.raw(b);
    this.raw(new Uint8Array(1));
  }
  patchU32(at: number, v: number) {
    this.view.setUint32(at, v, true);
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function putField(w: Writer, kind: FieldKind, v: FieldValue, where: string) {
  switch (kind) {
    case "u32":
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`${where}: not a u32: ${String(v)}`);
      w.u32(v);
      return;
    case "u64":
      if (typeof v === "number") {
        if (!Number.isInteger(v)) throw new Error(`${where}: not an integer: ${v}`);
        w.u64(BigInt(v));
      } else if (typeof v === "bigint") w.u64(v);
      else throw new Error(`${where}: not a u64`);
      return;
    case "str":
      if (typeof v !== "string") throw new Error(`${where}: not a string`);
      w.str(v);
      return;
    case "bytes":
      if (!(v instanceof Uint8Array)) throw new Error(`${where}: not bytes`);
      w.u32(v.length);
      w.raw(v);
      return;
    case "strv":
      if (!Array.isArray(v)) throw new Error(`${where}: not a string list`);
      w.u32(v.length);
      for (const s of v as string[]) w.str(s);
      return;
  }
}

/** Encode a plan as the record stream berth-init reads. */
export function encodePlan(plan: readonly Instruction[]): Uint8Array {
  const w = new Writer();
  plan.forEach((ins, i) => {
    const def = OPS[ins.op];
    if (!def) throw new Error(`plan[${i}]: unknown op ${ins.op}`);
    if (ins.args.length !== def.fields.length)
      throw new Error(`plan[${i}] ${ins.op}: expected ${def.fields.length} fields, got ${ins.args.length}`);
    w.u32(def.code);
    const lenAt = w.len;
    w.u32(0);
    const start = w.len;
    def.fields.forEach(([name, kind], j) => putField(w, kind, ins.args[j]!, `plan[${i}] ${ins.op}.${name}`));
    w.patchU32(lenAt, w.len - start);
  });
  return w.bytes();
}

/** Decode a record stream (used by tests and `--debug` plan dumps). */
export function decodePlan(data: Uint8Array): Instruction[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder();
  const byCode = new Map<number, OpName>(Object.entries(OPS).map(([n, d]) => [d.code, n as OpName]));
  const out: Instruction[] = [];
  let off = 0;
  while (off < data.length) {
    const code = view.getUint32(off, true);
    const len = view.getUint32(off + 4, true);
    off += 8;
    const end = off + len;
    const op = byCode.get(code);
    if (!op) throw new Error(`unknown opcode ${code} at ${off - 8}`);
    const args: FieldValue[] = [];
    const str = () => {
      const n = view.getUint32(off, true);
      const s = dec.decode(data.subarray(off + 4, off + 4 + n - 1));
      off += 4 + n;
      return s;
    };
    for (const [, kind] of OPS[op].fields) {
      if (kind === "u32") (args.push(view.getUint32(off, true)), (off += 4));
      else if (kind === "u64") (args.push(view.getBigUint64(off, true)), (off += 8));
      else if (kind === "str") args.push(str());
      else if (kind === "bytes") {
        const n = view.getUint32(off, true);
        args.push(data.slice(off + 4, off + 4 + n));
        off += 4 + n;
      } else {
        const n = view.getUint32(off, true);
        off += 4;
        const v: string[] = [];
        for (let k = 0; k < n; k++) v.push(str());
        args.push(v);
      }
    }
    if (off !== end) throw new Error(`record ${op} length mismatch`);
    out.push({ op, args });
  }
  return out;
}
