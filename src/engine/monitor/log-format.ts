/**
 * The monitor's log format (written by native/monitor.c), the CRI log format
 * that conmon and the kubelet use: one entry per line,
 *
 *   2024-05-01T10:00:00.123456789Z stdout F the line, without its newline
 *
 * time (RFC 3339, UTC, always 9 fraction digits, so entries compare as
 * strings), stream, F for the end of a line or P for a part of one (lines are
 * split at 16 KiB; a last line without newline is P), then the bytes as the
 * container wrote them. Nothing is escaped: the entry ends at the first newline,
 * which is never part of the content.
 */
import { invalidArgument } from "../../errors.ts";

export type Stream = "stdout" | "stderr";

export interface LogEntry {
  /** RFC 3339 UTC with nanoseconds, as written */
  time: string;
  stream: Stream;
  /** a part of a longer line, or the last bytes without newline */
  partial: boolean;
  /** the bytes as the container wrote them: the content, plus "\n" unless partial */
  data: Uint8Array;
}

const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;
const SP = 0x20;
const dec = new TextDecoder();

/** One line of the log (without its newline), or null if it is not an entry. */
export function parseEntry(line: Uint8Array): LogEntry | null {
  const a = line.indexOf(SP);
  const b = a < 0 ? -1 : line.indexOf(SP, a + 1);
  if (b < 0 || line.length < b + 3 || line[b + 2] !== SP) return null;
  const time = dec.decode(line.subarray(0, a));
  const stream = dec.decode(line.subarray(a + 1, b));
  const tag = line[b + 1];
  if (!TIME_RE.test(time) || (stream !== "stdout" && stream !== "stderr") || (tag !== 0x46 && tag !== 0x50)) return null;
  const partial = tag === 0x50;
  const content = line.subarray(b + 3);
  const data = new Uint8Array(content.length + (partial ? 0 : 1));
  data.set(content);
  if (!partial) data[content.length] = 0x0a;
  return { time, stream, partial, data };
}

/**
 * A time bound in the log's own format: a Date, unix seconds (fractions
 * allowed: docker's since/until), or an RFC 3339 string.
 */
export function logTime(v: Date | number | string, field = "time"): string {
  if (typeof v === "string") {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(v);
    if (m) return `${m[1]}.${(m[2] ?? "").padEnd(9, "0")}Z`;
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) throw invalidArgument(`${field}: "${v}" is not a time`);
    return logTime(new Date(ms), field);
  }
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw invalidArgument(`${field}: ${v} is not a time`);
    const secs = Math.floor(v);
    const ns = Math.round((v - secs) * 1e9);
    return new Date(secs * 1000).toISOString().slice(0, 19) + "." + String(Math.min(ns, 999_999_999)).padStart(9, "0") + "Z";
  }
  if (Number.isNaN(v.getTime())) throw invalidArgument(`${field}: not a time`);
  return v.toISOString().slice(0, 23) + "000000Z";
}
