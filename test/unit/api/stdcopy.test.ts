import { describe, expect, test } from "bun:test";
import { demux, encodeFrames, HEADER_LEN, MAX_FRAME, StdcopyDecoder, STDERR, STDOUT } from "../../../src/api/docker/stdcopy.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("stdcopy framing", () => {
  test("a frame is the stream byte, three zeros, a big-endian length, the payload", () => {
    const f = encodeFrames(STDERR, enc.encode("hi!"));
    expect([...f]).toEqual([2, 0, 0, 0, 0, 0, 0, 3, 104, 105, 33]);
    expect(encodeFrames(STDOUT, new Uint8Array(0)).length).toBe(0);
  });

  test("large payloads are cut into frames of at most 32 KiB; decoding joins them back", () => {
    const big = new Uint8Array(MAX_FRAME * 2 + 5).map((_, i) => i & 0xff);
    const f = encodeFrames(STDOUT, big);
    expect(f.length).toBe(big.length + 3 * HEADER_LEN);
    const frames = new StdcopyDecoder().push(f);
    expect(frames.map((x) => x.data.length)).toEqual([MAX_FRAME, MAX_FRAME, 5]);
    expect(Buffer.concat(frames.map((x) => x.data)).equals(Buffer.from(big))).toBe(true);
  });

  test("the decoder takes bytes in any split, byte by byte included", () => {
    const all = Buffer.concat([encodeFrames(STDOUT, enc.encode("out 1\n")), encodeFrames(STDERR, enc.encode("err\n")), encodeFrames(STDOUT, enc.encode("out 2\n"))]);
    const d = new StdcopyDecoder();
    const got = [];
    for (const b of all) got.push(...d.push(Uint8Array.of(b)));
    expect(got.map((f) => [f.stream, dec.decode(f.data)])).toEqual([
      [1, "out 1\n"],
      [2, "err\n"],
      [1, "out 2\n"],
    ]);
    expect(d.pending).toBe(0);
    const r = demux(all);
    expect(dec.decode(r.stdout)).toBe("out 1\nout 2\n");
    expect(dec.decode(r.stderr)).toBe("err\n");
  });

  test("a bad header or a truncated frame is an error", () => {
    expect(() => new StdcopyDecoder().push(Uint8Array.of(9, 0, 0, 0, 0, 0, 0, 0))).toThrow(/bad frame header/);
    expect(() => new StdcopyDecoder().push(Uint8Array.of(1, 1, 0, 0, 0, 0, 0, 0))).toThrow(/bad frame header/);
    expect(() => demux(encodeFrames(STDOUT, enc.encode("abc")).subarray(0, 10))).toThrow(/truncated/);
  });
});
