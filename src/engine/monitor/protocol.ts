/**
 * Frames on a monitor's attach socket (native/monitor.c has the protocol):
 * an 8-byte header [type, 0, 0, 0, u32 big-endian length] and the payload,
 * the header of docker's multiplexed streams, so STDOUT/STDERR frames can be
 * passed on to a docker client as they are.
 */
import { invalidArgument } from "../../errors.ts";

export const FRAME = {
  /** client -> monitor: bytes for the container's stdin; empty: close it */
  STDIN: 0,
  STDOUT: 1,
  STDERR: 2,
  /** monitor -> client, last: the exit status (exit.json's text) */
  EXIT: 3,
  /** client -> monitor: u16 rows, u16 cols (big-endian) */
  RESIZE: 4,
} as const;

export function encodeFrame(type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const f = new Uint8Array(8 + payload.length);
  f[0] = type;
  new DataView(f.buffer).setUint32(4, payload.length);
  f.set(payload, 8);
  return f;
}

export function resizePayload(rows: number, cols: number): Uint8Array {
  for (const [name, v] of [["rows", rows], ["cols", cols]] as const)
    if (!Number.isInteger(v) || v < 1 || v > 0xffff) throw invalidArgument(`resize: ${name} ${v} is not between 1 and 65535`);
  const p = new Uint8Array(4);
  const v = new DataView(p.buffer);
  v.setUint16(0, rows);
  v.setUint16(2, cols);
  return p;
}

/** Splits a byte stream into frames. */
export class FrameDecoder {
  private buf = new Uint8Array(0);
  push(data: Uint8Array): Array<{ type: number; payload: Uint8Array }> {
    const all = new Uint8Array(this.buf.length + data.length);
    all.set(this.buf);
    all.set(data, this.buf.length);
    const out = [];
    let off = 0;
    while (all.length - off >= 8) {
      const len = new DataView(all.buffer, all.byteOffset + off + 4, 4).getUint32(0);
      if (all.length - off < 8 + len) break;
      out.push({ type: all[off]!, payload: all.slice(off + 8, off + 8 + len) });
      off += 8 + len;
    }
    this.buf = all.slice(off);
    return out;
  }
}
