/**
 * File I/O on cgroup filesystems.
 *
 * Writes open the file O_WRONLY|O_APPEND without O_CREAT (an interface file the
 * kernel does not provide is an error, never a new file) and send one write of
 * value + "\n" — what `echo value >> file` does. Reads of single-value files take
 * the last non-empty line, so a test directory whose files log successive writes
 * behaves like the kernel's single-line files.
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeSync } from "node:fs";
import { BerthError, type ErrorCode } from "../../errors.ts";

export function errnoCode(e: unknown): string | undefined {
  const c = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof c === "string" ? c : undefined;
}

function errnoNumber(e: unknown): number {
  const n = (e as NodeJS.ErrnoException | undefined)?.errno;
  return typeof n === "number" ? Math.abs(n) : 0;
}

export function codeForErrno(errno: string | undefined): ErrorCode {
  switch (errno) {
    case "EINVAL":
    case "ERANGE":
    case "EOVERFLOW":
      return "InvalidArgument";
    case "ENOENT":
    case "ENODEV":
    case "ESRCH":
      return "NotFound";
    case "EEXIST":
      return "AlreadyExists";
    case "EPERM":
    case "EACCES":
      return "PermissionDenied";
    case "EBUSY":
    case "ENOSPC":
    case "EOPNOTSUPP":
    case "ENOTSUP":
      return "FailedPrecondition";
    default:
      return "Internal";
  }
}

/** A BerthError for a failed syscall: `<context>: <op> <file>: <ERRNO>`. */
export function sysError(context: string, op: string, path: string, file: string, e: unknown): BerthError {
  const code = errnoCode(e);
  return new BerthError(codeForErrno(code), `${context}: ${op} ${file}: ${code ?? String(e)}`, {
    cause: e,
    syscall: { op, path, errno: errnoNumber(e) },
  });
}

/** Raw write; throws the Node errno error (callers add context). */
export function writeRaw(dir: string, file: string, value: string): void {
  const fd = openSync(`${dir}/${file}`, constants.O_WRONLY | constants.O_APPEND);
  try {
    writeSync(fd, value + "\n");
  } finally {
    closeSync(fd);
  }
}

export function readRaw(dir: string, file: string): string {
  return readFileSync(`${dir}/${file}`, "utf8");
}

/** Last non-empty line, trimmed. */
export function readValue(dir: string, file: string): string {
  const lines = readRaw(dir, file).split("\n").map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? "";
}

export function readValueOr(dir: string, file: string, fallback: string): string {
  try {
    return readValue(dir, file);
  } catch {
    return fallback;
  }
}

export function fileExists(dir: string, file: string): boolean {
  return existsSync(`${dir}/${file}`);
}

/** "key value" lines -> map (memory.stat, cpu.stat, cgroup.events, ...) */
export function readKeyValues(dir: string, file: string): Map<string, number> {
  const out = new Map<string, number>();
  let text: string;
  try {
    text = readRaw(dir, file);
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/**
 * A cgroup value as uint64, exact (runc's GetCgroupParamUint): "max" is
 * 2^64-1, a negative number 0; undefined when the file is missing or not a number.
 */
export function readUint64(dir: string, file: string): bigint | undefined {
  let v: string;
  try {
    v = readValue(dir, file);
  } catch {
    return undefined;
  }
  if (v === "max") return (1n << 64n) - 1n;
  if (!/^-?\d+$/.test(v)) return undefined;
  const n = BigInt(v);
  return n < 0n ? 0n : n;
}

/** Parse a numeric cgroup value; "max" and the v1 "unlimited" value give null. */
export function parseLimit(v: string): number | null {
  if (v === "max" || v === "") return null;
  const n = Number(v);
  if (!Number.isFinite(n)) return null;
  return n >= 2 ** 62 ? null : n;
}

/**
 * mkdir every component of `chain` (parents first). Directories that did not
 * exist are appended to `created`; directories that existed are not.
 * @returns whether the last one (the leaf) was created by this call
 */
export function mkdirChain(chain: string[], created: string[], context: string): boolean {
  let leafCreated = false;
  for (const dir of chain) {
    try {
      mkdirSync(dir, 0o755);
      created.push(dir);
      leafCreated = true;
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw sysError(context, "mkdir", dir, dir, e);
      leafCreated = false;
    }
  }
  return leafCreated;
}

/** Pids listed in cgroup.procs of dir and (recursively) every sub-cgroup. */
export function readProcsRecursive(dir: string): number[] {
  const out = new Set<number>();
  const walk = (d: string) => {
    let text = "";
    try {
      text = readRaw(d, "cgroup.procs");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return;
      throw sysError("list processes", "read", d, `${d}/cgroup.procs`, e);
    }
    for (const l of text.split("\n")) {
      const n = Number(l.trim());
      if (l.trim() && Number.isInteger(n) && n > 0) out.add(n);
    }
    for (const sub of subdirs(d)) walk(`${d}/${sub}`);
  };
  walk(dir);
  return [...out];
}

export function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

function sleepMs(ms: number): void {
  Bun.sleepSync(ms);
}

/**
 * rmdir a cgroup directory, retrying briefly while the kernel still reports it
 * busy (exiting processes not yet reaped). ENOENT counts as removed.
 */
export function rmdirRetry(dir: string, context: string): void {
  let delay = 5;
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = errnoCode(e);
      if (code === "ENOENT") return;
      if ((code === "EBUSY" || code === "EAGAIN") && attempt < 8) {
        sleepMs(delay);
        delay = Math.min(delay * 2, 200);
        continue;
      }
      throw sysError(context, "rmdir", dir, dir, e);
    }
  }
}

/**
 * Remove a cgroup directory that berth created, together with any sub-cgroups
 * the container made inside it (they exist only because berth's directory does).
 */
export function removeCreatedTree(dir: string, context: string): void {
  for (const sub of subdirs(dir)) removeCreatedTree(`${dir}/${sub}`, context);
  rmdirRetry(dir, context);
}
