/**
 * The monitor's log format, the reader (tail/since/until over generations,
 * following across rotations and truncation) against files written the way
 * berth-monitor writes and rotates them, and the attach framing.
 */
import { test, expect, beforeEach, afterEach } from "bun:test";
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { logTime, parseEntry, type LogEntry } from "../../../src/engine/monitor/log-format.ts";
import { readLog } from "../../../src/engine/monitor/log-reader.ts";
import type { LogConfig } from "../../../src/engine/monitor/layout.ts";
import { FrameDecoder, encodeFrame, FRAME } from "../../../src/engine/monitor/protocol.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
let dir = "";
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "berth-monlog-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const time = (i: number) => `2024-05-01T10:00:${String(Math.floor(i / 1000) % 60).padStart(2, "0")}.${String(i % 1000).padStart(3, "0")}000000Z`;
const entryLine = (i: number, stream = "stdout") => `${time(i)} ${stream} F line ${i}\n`;

/** Writes and rotates as berth-monitor does (log -> log.1 -> ... ; the oldest dropped). */
class Writer {
  constructor(readonly log: LogConfig) {
    writeFileSync(log.path, "");
  }
  write(i: number) {
    appendFileSync(this.log.path, entryLine(i));
  }
  rotate() {
    for (let g = this.log.maxFiles - 1; g >= 1; g--) {
      try {
        renameSync(g === 1 ? this.log.path : `${this.log.path}.${g - 1}`, `${this.log.path}.${g}`);
      } catch {}
    }
    writeFileSync(this.log.path, "");
  }
}

const text = (e: LogEntry) => dec.decode(e.data);

test("entries: stream, full or partial, content kept byte for byte", () => {
  const e = parseEntry(enc.encode("2024-05-01T10:00:00.123456789Z stderr F  two  spaces "))!;
  expect(e).toMatchObject({ time: "2024-05-01T10:00:00.123456789Z", stream: "stderr", partial: false });
  expect(text(e)).toBe(" two  spaces \n");
  const p = parseEntry(enc.encode("2024-05-01T10:00:00.123456789Z stdout P abc"))!;
  expect([p.partial, text(p)]).toEqual([true, "abc"]);
  expect(text(parseEntry(enc.encode("2024-05-01T10:00:00.123456789Z stdout F "))!)).toBe("\n");
  // a line that looks like an entry inside the content stays content
  const forged = parseEntry(enc.encode("2024-05-01T10:00:00.123456789Z stdout F 2020-01-01T00:00:00.000000000Z stderr F x"))!;
  expect([forged.stream, text(forged)]).toEqual(["stdout", "2020-01-01T00:00:00.000000000Z stderr F x\n"]);
  for (const bad of ["", "garbage", "2024-05-01T10:00:00Z stdout F x", "2024-05-01T10:00:00.123456789Z stdin F x", "2024-05-01T10:00:00.123456789Z stdout X x", "2024-05-01T10:00:00.123456789Z stdout F"])
    expect(parseEntry(enc.encode(bad))).toBeNull();
});

test("time bounds in the log's format", () => {
  expect(logTime("2024-05-01T10:00:00Z")).toBe("2024-05-01T10:00:00.000000000Z");
  expect(logTime("2024-05-01T10:00:00.5Z")).toBe("2024-05-01T10:00:00.500000000Z");
  expect(logTime("2024-05-01T12:00:00+02:00")).toBe("2024-05-01T10:00:00.000000000Z");
  expect(logTime(new Date(Date.UTC(2024, 4, 1, 10, 0, 0, 250)))).toBe("2024-05-01T10:00:00.250000000Z");
  expect(logTime(1714557600.25)).toBe("2024-05-01T10:00:00.250000000Z");
  expect(() => logTime("soon", "since")).toThrow(/^since: /);
  expect(() => logTime(Number.NaN, "until")).toThrow(/^until: /);
});

test("tail, since and until over every generation, oldest first", async () => {
  const log = { path: join(dir, "c.log"), maxSize: 0, maxFiles: 3 };
  const w = new Writer(log);
  for (let i = 1; i <= 30; i++) {
    w.write(i);
    if (i % 10 === 0 && i < 30) w.rotate();
  }
  const read = async (q: Parameters<typeof readLog>[1]) => {
    const out: string[] = [];
    for await (const e of readLog({ log, finished: () => true }, q)) out.push(text(e).trim());
    return out;
  };
  expect(await read({})).toEqual(Array.from({ length: 30 }, (_, i) => `line ${i + 1}`));
  expect(await read({ tail: 2 })).toEqual(["line 29", "line 30"]);
  expect(await read({ since: time(25) })).toEqual(["line 25", "line 26", "line 27", "line 28", "line 29", "line 30"]);
  expect(await read({ until: time(2) })).toEqual(["line 1", "line 2"]);
  expect(await read({ since: time(9), until: time(11), tail: 2 })).toEqual(["line 10", "line 11"]);
  expect(() => readLog({ log, finished: () => true }, { tail: -1 })).toThrow(/^tail: /);
});

test("follow: every line across rotations, also when several happen between two reads and the file being read is dropped", async () => {
  const log = { path: join(dir, "c.log"), maxSize: 0, maxFiles: 3 };
  const w = new Writer(log);
  let done = false;
  const it = readLog({ log, finished: () => done }, { follow: true });
  const got: string[] = [];
  const pull = async (n: number) => {
    for (let k = 0; k < n; k++) got.push(text((await it.next()).value as LogEntry).trim());
  };
  for (let i = 1; i <= 5; i++) w.write(i);
  await pull(5);
  // three rotations before the reader looks again: the file it holds is gone by then
  w.write(6);
  w.rotate();
  w.write(7);
  w.rotate();
  w.write(8);
  w.rotate();
  w.write(9);
  await pull(4);
  // one more, with lines on both sides
  w.write(10);
  w.rotate();
  w.write(11);
  done = true;
  for await (const e of it) got.push(text(e).trim());
  expect(got).toEqual(Array.from({ length: 11 }, (_, i) => `line ${i + 1}`));
});

test("follow: a log truncated in place (one file) is read again from its start", async () => {
  const log = { path: join(dir, "c.log"), maxSize: 0, maxFiles: 1 };
  const w = new Writer(log);
  let done = false;
  const it = readLog({ log, finished: () => done }, { follow: true });
  for (let i = 1; i <= 3; i++) w.write(i);
  const first = [];
  for (let k = 0; k < 3; k++) first.push(text((await it.next()).value as LogEntry).trim());
  truncateSync(log.path, 0);
  w.write(4);
  done = true;
  const rest = [];
  for await (const e of it) rest.push(text(e).trim());
  expect([...first, ...rest]).toEqual(["line 1", "line 2", "line 3", "line 4"]);
});

test("follow ends once the monitor is done, after what it wrote last", async () => {
  const log = { path: join(dir, "c.log"), maxSize: 0, maxFiles: 1 };
  const w = new Writer(log);
  w.write(1);
  let done = false;
  const it = readLog({ log, finished: () => done }, { follow: true });
  expect(text((await it.next()).value as LogEntry).trim()).toBe("line 1");
  const next = it.next();
  w.write(2);
  done = true;
  expect(text((await next).value as LogEntry).trim()).toBe("line 2");
  expect((await it.next()).done).toBe(true);
});

test("attach frames: split across reads, several in one", () => {
  const d = new FrameDecoder();
  const a = encodeFrame(FRAME.STDOUT, enc.encode("hello"));
  const b = encodeFrame(FRAME.EXIT, enc.encode("{}"));
  expect([...a.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0, 0, 0, 5]);
  expect(d.push(a.subarray(0, 3))).toEqual([]);
  expect(d.push(a.subarray(3, 10))).toEqual([]);
  const both = new Uint8Array([...a.subarray(10), ...b]);
  expect(d.push(both).map((f) => [f.type, dec.decode(f.payload)])).toEqual([
    [FRAME.STDOUT, "hello"],
    [FRAME.EXIT, "{}"],
  ]);
  expect(encodeFrame(FRAME.STDIN).length).toBe(8);
});
