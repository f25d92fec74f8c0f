/**
 * Docker's multiplexed stream (stdcopy): what attach, exec and logs send when
 * there is no terminal. Each frame is an 8-byte header — the stream (0 stdin,
 * 1 stdout, 2 stderr, 3 an error from the daemon), three zero bytes, the
 * payload length as a big-endian uint32 — followed by the payload.
 */

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEMERR = 3;

export type StreamId = typeof STDIN | typeof STDOUT | typeof STDERR | typeof SYSTEMERR;

export const HEADER_LEN = 8;
/** payloads are cut at this size (dockerd's writer buffers 32 KiB too) */
export const MAX_FRAME = 32 * 1024;

/** One or more frames carrying `data` (none for empty data: an empty frame means nothing). */
export function encodeFrames(stream: StreamId, data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const frames = Math.ceil(data.length / MAX_FRAME);
  const out = new Uint8Array(data.length + frames * HEADER_LEN);
  const view = new DataView(out.buffer);
  let o = 0;
  for (let off = 0; off < data.length; off += MAX_FRAME) {
    const part = data.subarray(off, off + MAX_FRAME);
    out[o] = stream;
    view.setUint32(o + 4, part.length, false);
    out.set(part, o + HEADER_LEN);
    o += HEADER_LEN + part.length;
  }
  return out;
}

export interface Frame {
  stream: StreamId;
  data: Uint8Array;
}

/** Incremental decoder: push bytes as they arrive, get whole frames back. */
export class StdcopyDecoder {
  private buf = new Uint8Array(0);

  push(chunk: Uint8Array): Frame[] {
    if (chunk.length) {
      const nb = new Uint8Array(this.buf.length + chunk.length);
      nb.set(this.buf);
      nb.set(chunk, this.buf.length);
      this.buf = nb;
    }
    const out: Frame[] = [];
    while (this.buf.length >= HEADER_LEN) {
      const stream = this.buf[0]!;
      if (stream > SYSTEMERR || this.buf[1] || this.buf[2] || this.buf[3]) throw new Error(`stdcopy: bad frame header (stream byte ${stream})`);
      const len = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength).getUint32(4, false);
      if (this.buf.length < HEADER_LEN + len) break;
      out.push({ stream: stream as StreamId, data: this.buf.slice(HEADER_LEN, HEADER_LEN + len) });
      this.buf = this.buf.subarray(HEADER_LEN + len);
    }
    return out;
  }

  /** bytes of an incomplete frame still held */
  get pending(): number {
    return this.buf.length;
  }
}

/** Split a whole multiplexed body into the bytes of each stream. */
export function demux(bytes: Uint8Array): { stdout: Uint8Array; stderr: Uint8Array; systemerr: Uint8Array } {
  const d = new StdcopyDecoder();
  const frames = d.push(bytes);
  if (d.pending) throw new Error(`stdcopy: ${d.pending} bytes of a truncated frame at the end`);
  const join = (s: number) => Buffer.concat(frames.filter((f) => f.stream === s).map((f) => f.data));
  return { stdout: join(STDOUT), stderr: join(STDERR), systemerr: join(SYSTEMERR) };
}
