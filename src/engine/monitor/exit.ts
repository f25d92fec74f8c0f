/**
 * The monitor's liveness and the container's exit status, read without being
 * anyone's parent: the monitor holds an flock on monitor.pid for as long as it
 * runs, and writes exit.json (atomically) once the container has exited.
 */
import { closeSync, openSync, readFileSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { BerthError, wrapError } from "../../errors.ts";
import { flock, LOCK_NB, LOCK_SH } from "../../runtime/sys/libc.ts";
import { FILES } from "./layout.ts";

export interface ExitStatus {
  /** the container init's pid */
  pid: number;
  /** the exit code, or 128 + signal (as a shell reports it) */
  exitCode: number;
  /** the signal that killed it, 0 if it exited */
  signal: number;
  /** RFC 3339, UTC, nanoseconds */
  exitedAt: string;
}

export function readExitStatus(dir: string): ExitStatus | null {
  const file = join(dir, FILES.exit);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw wrapError(`read ${file}`, e);
  }
  const st = JSON.parse(text) as ExitStatus;
  if (![st.pid, st.exitCode, st.signal].every(Number.isInteger) || typeof st.exitedAt !== "string")
    throw new BerthError("Internal", `exit status is corrupt: ${file}`);
  return st;
}

/** The monitor's pid as it wrote it (it may have exited since). */
export function readMonitorPid(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, FILES.pid), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Whether a monitor runs for dir: it holds the lock on monitor.pid until it exits. */
export function monitorAlive(dir: string): boolean {
  let fd: number;
  try {
    fd = openSync(join(dir, FILES.pid), "r");
  } catch {
    return false;
  }
  try {
    return !flock(fd, LOCK_SH | LOCK_NB, join(dir, FILES.pid));
  } finally {
    closeSync(fd); // drops our lock if we got it
  }
}

/**
 * Wakes its waiter when something changes in a directory (inotify through
 * fs.watch), or after a while in any case: a poll is the fallback, so a missed
 * event only costs latency.
 */
export class DirChanges {
  private watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;
  constructor(dir: string) {
    try {
      this.watcher = watch(dir, () => this.wake?.());
      this.watcher.on("error", () => this.close());
    } catch {
      // no inotify: polling only
    }
  }
  next(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        this.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      signal?.addEventListener("abort", done);
      this.wake = done;
    });
  }
  close() {
    this.watcher?.close();
    this.watcher = undefined;
  }
}

/**
 * The exit status, once there is one. A monitor that is gone without writing
 * it (killed) leaves the status unknown: Unavailable.
 */
export async function waitExitStatus(dir: string, signal?: AbortSignal): Promise<ExitStatus> {
  const changes = new DirChanges(dir);
  try {
    for (;;) {
      const st = readExitStatus(dir);
      if (st) return st;
      if (!monitorAlive(dir)) {
        const again = readExitStatus(dir); // written just before it exited
        if (again) return again;
        throw new BerthError("Unavailable", `monitor in ${dir} is gone without an exit status`);
      }
      if (signal?.aborted) throw new BerthError("Unavailable", "wait: aborted");
      await changes.next(250, signal);
    }
  } finally {
    changes.close();
  }
}
