/**
 * Reading a monitor's log: every generation, oldest first (<path>.<maxFiles-1>
 * ... <path>.1, <path>), with tail/since/until, and following it across
 * rotations until the monitor is done.
 *
 * Following keeps the file it reads open. The monitor only ever writes to
 * <path>, and renames it only after its last write, so once <path> names
 * another file, what is left of ours is read, then the generation that came
 * after it (found by inode: several rotations may have happened meanwhile).
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { invalidArgument } from "../../errors.ts";
import type { LogConfig } from "./layout.ts";
import { logTime, parseEntry, type LogEntry } from "./log-format.ts";
import { DirChanges } from "./exit.ts";

export interface LogQuery {
  /** only the last n entries (of those since/until select) */
  tail?: number;
  since?: Date | number | string;
  until?: Date | number | string;
  /** keep reading what the monitor writes until it is done */
  follow?: boolean;
  signal?: AbortSignal;
}

const CHUNK = 64 * 1024;

/** The generations of a log, oldest first. */
export function logFiles(log: LogConfig): string[] {
  const out: string[] = [];
  for (let i = log.maxFiles - 1; i >= 1; i--) out.push(`${log.path}.${i}`);
  out.push(log.path);
  return out;
}

/** An open generation, read line by line from where we left it. */
class LogFile {
  private rest = new Uint8Array(0);
  pos = 0;
  constructor(
    readonly fd: number,
    readonly ino: number,
  ) {}
  static open(path: string, expectIno?: number): LogFile | null {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      return null;
    }
    const ino = fstatSync(fd).ino;
    if (expectIno !== undefined && ino !== expectIno) {
      closeSync(fd);
      return null;
    }
    return new LogFile(fd, ino);
  }
  /** Complete lines from pos to the end of the file; an unfinished last line waits. */
  lines(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (fstatSync(this.fd).size < this.pos) {
      // truncated in place (maxFiles 1): start over
      this.pos = 0;
      this.rest = new Uint8Array(0);
    }
    const buf = new Uint8Array(CHUNK);
    for (;;) {
      const n = readSync(this.fd, buf, 0, CHUNK, this.pos);
      if (n <= 0) break;
      this.pos += n;
      let data = buf.subarray(0, n);
      if (this.rest.length) {
        const joined = new Uint8Array(this.rest.length + n);
        joined.set(this.rest);
        joined.set(data, this.rest.length);
        data = joined;
      }
      let start = 0;
      for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, start)) {
        out.push(data.slice(start, nl));
        start = nl + 1;
      }
      this.rest = data.slice(start);
    }
    return out;
  }
  close() {
    closeSync(this.fd);
  }
}

function inode(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

/**
 * The generation written after cur, once <path> is another file; null while
 * cur is the current one (or no file is there yet).
 */
function successor(log: LogConfig, cur: LogFile): LogFile | null {
  for (let attempt = 0; attempt < 10; attempt++) {
    const head = inode(log.path);
    if (head === null || head === cur.ino) return null;
    const names = logFiles(log).reverse(); // newest first
    const inos = names.map(inode);
    const k = inos.indexOf(cur.ino);
    // ours was rotated out of existence: the oldest one left is next
    const at = k > 0 ? k - 1 : k < 0 ? inos.findLastIndex((i) => i !== null) : -1;
    if (at < 0) return null;
    const next = LogFile.open(names[at]!, inos[at]!);
    if (next) return next;
    // renamed again between stat and open: look again
  }
  return null;
}

/**
 * Every generation there is now, oldest first, all opened before any is read.
 * Newest first: a rotation meanwhile makes us open a file twice (dropped by
 * inode) rather than skip one.
 */
function openAll(log: LogConfig): LogFile[] {
  const out: LogFile[] = [];
  for (const p of logFiles(log).reverse()) {
    const f = LogFile.open(p);
    if (!f) continue;
    if (out.some((o) => o.ino === f.ino)) f.close();
    else out.push(f);
  }
  return out.reverse();
}

export interface LogSource {
  log: LogConfig;
  /** true once the monitor will write no more (checked before the last read) */
  finished: () => boolean;
}

/**
 * The log's entries as the query selects them; with follow, until the monitor
 * is done. A bad query throws here, before anything is read.
 */
export function readLog(src: LogSource, q: LogQuery = {}): AsyncGenerator<LogEntry> {
  const since = q.since === undefined ? undefined : logTime(q.since, "since");
  const until = q.until === undefined ? undefined : logTime(q.until, "until");
  if (q.tail !== undefined && (!Number.isInteger(q.tail) || q.tail < 0)) throw invalidArgument(`tail: ${q.tail} is not a count`);
  return entries(src, q, since, until);
}

async function* entries(src: LogSource, q: LogQuery, since: string | undefined, until: string | undefined): AsyncGenerator<LogEntry> {
  const wanted = (e: LogEntry) => (since === undefined || e.time >= since) && (until === undefined || e.time <= until);
  const past = (e: LogEntry) => until !== undefined && e.time > until;

  const files = openAll(src.log);
  let cur: LogFile | null = null;
  try {
    let backlog: LogEntry[] = [];
    for (const f of files) {
      for (const line of f.lines()) {
        const e = parseEntry(line);
        if (!e || !wanted(e)) continue;
        backlog.push(e);
        if (q.tail !== undefined && backlog.length > 2 * q.tail + 1024) backlog = backlog.slice(-q.tail);
      }
      if (f !== files[files.length - 1]) f.close();
    }
    cur = files.length ? files[files.length - 1]! : null;
    if (q.tail !== undefined) backlog = q.tail === 0 ? [] : backlog.slice(-q.tail);
    for (const e of backlog) yield e;
    if (!q.follow) return;

    const changes = new DirChanges(dirname(src.log.path));
    try {
      for (;;) {
        const done = src.finished();
        let progressed = false;
        cur ??= LogFile.open(src.log.path);
        while (cur) {
          for (const line of cur.lines()) {
            const e = parseEntry(line);
            if (!e) continue;
            if (past(e)) return;
            if (wanted(e)) yield e;
            progressed = true;
          }
          const next = successor(src.log, cur);
          if (!next) break;
          // renamed after its last write: what is left of it comes first
          for (const line of cur.lines()) {
            const e = parseEntry(line);
            if (e && past(e)) return;
            if (e && wanted(e)) yield e;
          }
          cur.close();
          cur = next;
        }
        if (done || q.signal?.aborted) return;
        if (!progressed) await changes.next(200, q.signal);
      }
    } finally {
      changes.close();
    }
  } finally {
    cur?.close();
  }
}
