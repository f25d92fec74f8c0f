/**
 * Reaping processes that are not Bun's: prctl(PR_SET_CHILD_SUBREAPER) makes
 * orphans below us (the engine's monitors) our children, and waitpid on one
 * pid collects it. Bun waits only for the pids it spawned, so neither
 * interferes with its own children.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { BerthError } from "../../errors.ts";
import { errnoName } from "./libc.ts";

let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen("libc.so.6", {
    prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
    waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}
const libc = () => (lib ??= open()).symbols;
const errno = () => read.i32(libc().__errno_location()!, 0);

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
const ECHILD = 10;
const EINTR = 4;

/** Make this process the reaper of orphans below it (or stop being it). */
export function setChildSubreaper(on: boolean): void {
  if (libc().prctl(PR_SET_CHILD_SUBREAPER, on ? 1n : 0n, 0n, 0n, 0n) !== 0) {
    const e = errno();
    throw new BerthError("Internal", `set child subreaper: ${errnoName(e)}`, { syscall: { op: "prctl", errno: e } });
  }
}

/**
 * Collect pid if it is our child and has exited: "reaped" (with its raw wait
 * status), "running", or "not-child" (someone else's, or already collected).
 */
export function reapChild(pid: number): { state: "reaped"; status: number } | { state: "running" | "not-child" } {
  const status = new Int32Array(1);
  for (;;) {
    const r = libc().waitpid(pid, ptr(status), WNOHANG);
    if (r === pid) return { state: "reaped", status: status[0]! };
    if (r === 0) return { state: "running" };
    const e = errno();
    if (e === EINTR) continue;
    if (e === ECHILD) return { state: "not-child" };
    throw new BerthError("Internal", `waitpid ${pid}: ${errnoName(e)}`, { syscall: { op: "waitpid", errno: e } });
  }
}
