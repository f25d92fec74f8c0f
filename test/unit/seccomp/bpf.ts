/**
 * A small classic-BPF interpreter over struct seccomp_data, to check compiled
 * filters without loading them. It implements the whole classic instruction set a
 * seccomp filter may use (the kernel's seccomp checker allows the same) and throws
 * on anything else, on out-of-range loads and jumps, and on falling off the end.
 */

export interface SeccompData {
  nr: number;
  arch: number;
  ip?: bigint;
  args?: readonly (number | bigint)[];
}

const SECCOMP_DATA_SIZE = 64;
/** Filters and seccomp_data are in host byte order. */
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function encode(d: SeccompData): DataView {
  const v = new DataView(new ArrayBuffer(SECCOMP_DATA_SIZE));
  v.setInt32(0, d.nr, LE);
  v.setUint32(4, d.arch >>> 0, LE);
  v.setBigUint64(8, d.ip ?? 0n, LE);
  for (let i = 0; i < 6; i++) v.setBigUint64(16 + 8 * i, BigInt.asUintN(64, BigInt(d.args?.[i] ?? 0)), LE);
  return v;
}

/** Run the filter; returns the 32-bit SECCOMP_RET_* value. */
export function runFilter(filter: Uint8Array, data: SeccompData): number {
  if (filter.length % 8 !== 0) throw new Error(`filter length ${filter.length} is not a multiple of 8`);
  const prog = new DataView(filter.buffer, filter.byteOffset, filter.byteLength);
  const n = filter.length / 8;
  const pkt = encode(data);
  const mem = new Uint32Array(16);
  let A = 0;
  let X = 0;
  let pc = 0;
  for (let steps = 0; steps <= n; steps++) {
    if (pc >= n) throw new Error(`fell off the end of the program at ${pc}`);
    const code = prog.getUint16(pc * 8, LE);
    const jt = prog.getUint8(pc * 8 + 2);
    const jf = prog.getUint8(pc * 8 + 3);
    const k = prog.getUint32(pc * 8 + 4, LE);
    pc++;
    const cls = code & 0x07;
    const src = code & 0x08 ? X : k; // BPF_X : BPF_K
    switch (cls) {
      case 0x00: // BPF_LD
      case 0x01: {
        // BPF_LDX
        const mode = code & 0xe0;
        let val: number;
        if (mode === 0x00) val = k; // BPF_IMM
        else if (mode === 0x60) val = mem[k & 15]!; // BPF_MEM
        else if (mode === 0x80) val = SECCOMP_DATA_SIZE; // BPF_LEN
        else if (mode === 0x20 && (code & 0x18) === 0x00) {
          // BPF_ABS | BPF_W: the only load form seccomp allows
          if (k % 4 !== 0 || k + 4 > SECCOMP_DATA_SIZE) throw new Error(`bad load offset ${k} at ${pc - 1}`);
          val = pkt.getUint32(k, LE);
        } else throw new Error(`unsupported load 0x${code.toString(16)} at ${pc - 1}`);
        if (cls === 0x00) A = val >>> 0;
        else X = val >>> 0;
        break;
      }
      case 0x02: // BPF_ST
        mem[k & 15] = A;
        break;
      case 0x03: // BPF_STX
        mem[k & 15] = X;
        break;
      case 0x04: {
        // BPF_ALU
        const op = code & 0xf0;
        const s = src >>> 0;
        if (op === 0x00) A = (A + s) >>> 0;
        else if (op === 0x10) A = (A - s) >>> 0;
        else if (op === 0x20) A = Math.imul(A, s) >>> 0;
        else if (op === 0x30) {
          if (s === 0) return 0; // division by zero aborts with 0 (kill)
          A = Math.floor(A / s) >>> 0;
        } else if (op === 0x40) A = (A | s) >>> 0;
        else if (op === 0x50) A = (A & s) >>> 0;
        else if (op === 0x60) A = s >= 32 ? 0 : (A << s) >>> 0;
        else if (op === 0x70) A = s >= 32 ? 0 : A >>> s;
        else if (op === 0x80) A = -A >>> 0;
        else if (op === 0x90) {
          if (s === 0) return 0;
          A = A % s >>> 0;
        } else if (op === 0xa0) A = (A ^ s) >>> 0;
        else throw new Error(`unsupported alu 0x${code.toString(16)}`);
        break;
      }
      case 0x05: {
        // BPF_JMP
        const op = code & 0xf0;
        const s = src >>> 0;
        let cond: boolean;
        if (op === 0x00) {
          pc += k; // BPF_JA
          break;
        } else if (op === 0x10) cond = A === s;
        else if (op === 0x20) cond = A > s;
        else if (op === 0x30) cond = A >= s;
        else if (op === 0x40) cond = (A & s) !== 0;
        else throw new Error(`unsupported jump 0x${code.toString(16)}`);
        pc += cond ? jt : jf;
        break;
      }
      case 0x06: // BPF_RET
        return ((code & 0x18) === 0x10 ? A : k) >>> 0; // BPF_A : BPF_K
      case 0x07: // BPF_MISC
        if ((code & 0xf8) === 0x00) X = A; // TAX
        else if ((code & 0xf8) === 0x80) A = X; // TXA
        else throw new Error(`unsupported misc 0x${code.toString(16)}`);
        break;
    }
  }
  throw new Error("program did not terminate");
}

/** Decode a SECCOMP_RET_* value into libseccomp terms. */
export function describe(ret: number): string {
  const action = (ret & 0xffff0000) >>> 0;
  const data = ret & 0xffff;
  switch (action) {
    case 0x80000000:
      return "KILL_PROCESS";
    case 0x00000000:
      return "KILL_THREAD";
    case 0x00030000:
      return "TRAP";
    case 0x00050000:
      return `ERRNO(${data})`;
    case 0x7fc00000:
      return "NOTIFY";
    case 0x7ff00000:
      return `TRACE(${data})`;
    case 0x7ffc0000:
      return "LOG";
    case 0x7fff0000:
      return "ALLOW";
    default:
      return `UNKNOWN(0x${ret.toString(16)})`;
  }
}
