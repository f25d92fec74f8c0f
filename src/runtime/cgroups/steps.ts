/**
 * A set() is compiled into steps first, all steps are checked (every target
 * file exists), and only then is anything written — so a request the host
 * cannot honour fails before it changes anything.
 */
import { BerthError } from "../../errors.ts";
import { errnoCode, fileExists, readValueOr, sysError, writeRaw } from "./fsio.ts";

export interface WriteStep {
  /** OCI field the value came from, e.g. "linux.resources.memory.limit" */
  field: string;
  dir: string;
  file: string;
  value: string;
  /** a file the kernel does not provide is skipped instead of rejected */
  optional?: boolean;
  /** on EINVAL, retry once after all other steps (runc's period-before-quota dance) */
  retryOnEinval?: boolean;
  /**
   * Called with the file's value before and after the write; false means the
   * kernel accepted the write but ignored it (e.g. kmem limits on kernels >= 5.16).
   */
  verify?: (before: string, after: string) => boolean;
}

export interface RunStep {
  field: string;
  run: () => void;
}

export type Step = WriteStep | RunStep;

const isWrite = (s: Step): s is WriteStep => "file" in s;

/** Reject steps whose interface file is missing (before any write). */
export function checkSteps(steps: Step[], hint: string): Step[] {
  const out: Step[] = [];
  for (const s of steps) {
    if (isWrite(s) && !fileExists(s.dir, s.file)) {
      if (s.optional) continue;
      throw new BerthError("FailedPrecondition", `${s.field}: not supported here: ${s.dir}/${s.file} does not exist (${hint})`);
    }
    out.push(s);
  }
  return out;
}

function write(s: WriteStep): void {
  const before = s.verify ? readValueOr(s.dir, s.file, "") : "";
  writeRaw(s.dir, s.file, s.value);
  if (s.verify && !s.verify(before, readValueOr(s.dir, s.file, ""))) {
    throw new BerthError(
      "FailedPrecondition",
      `${s.field}: not supported by this kernel: it accepted ${JSON.stringify(s.value)} for ${s.file} but ignored it`,
    );
  }
}

/**
 * Run the steps in order. With `rollback`, every file written is first read,
 * and if a later step fails the written files get their old values back (last
 * first, best effort) before the error is thrown: a live update either
 * happens or changes nothing.
 */
export function runSteps(steps: Step[], opts: { rollback?: boolean } = {}): void {
  const journal: { dir: string; file: string; before: string }[] = [];
  const doWrite = (s: WriteStep) => {
    const before = opts.rollback ? readValueOr(s.dir, s.file, "") : "";
    write(s);
    if (opts.rollback) journal.push({ dir: s.dir, file: s.file, before });
  };
  try {
    const retry: WriteStep[] = [];
    for (const s of steps) {
      if (!isWrite(s)) {
        try {
          s.run();
        } catch (e) {
          throw e instanceof BerthError ? e.wrap(s.field) : new BerthError("Internal", `${s.field}: ${String(e)}`, { cause: e });
        }
        continue;
      }
      try {
        doWrite(s);
      } catch (e) {
        if (e instanceof BerthError) throw e;
        if (s.retryOnEinval && errnoCode(e) === "EINVAL") {
          retry.push(s);
          continue;
        }
        throw sysError(s.field, "write", `${s.dir}/${s.file}`, s.file, e);
      }
    }
    for (const s of retry) {
      try {
        doWrite(s);
      } catch (e) {
        if (e instanceof BerthError) throw e;
        throw sysError(s.field, "write", `${s.dir}/${s.file}`, s.file, e);
      }
    }
  } catch (e) {
    for (const j of journal.reverse()) {
      if (j.before === "") continue;
      try {
        writeRaw(j.dir, j.file, j.before);
      } catch {
        /* best effort: the original error is the one to report */
      }
    }
    throw e;
  }
}

/** Format an integer for a cgroup file without exponent notation. */
export function int(n: number): string {
  if (n >= 2 ** 63) return "9223372036854775807";
  return BigInt(Math.trunc(n)).toString();
}
