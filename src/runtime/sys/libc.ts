/** The few libc calls Bun does not offer. bun:ffi lives only under src/runtime/sys/. */
import { dlopen, FFIType, read } from "bun:ffi";
import { BerthError } from "../../errors.ts";
import { constants as osConstants } from "node:os";

let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen("libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}
function libc() {
  return (lib ??= open()).symbols;
}

function errno(): number {
  return read.i32(libc().__errno_location()!, 0);
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));
export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? `errno ${n}`;
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2); throws BerthError with the errno. Returns false for EWOULDBLOCK with LOCK_NB. */
export function flock(fd: number, op: number, path = ""): boolean {
  for (;;) {
    if (libc().flock(fd, op) === 0) return true;
    const e = errno();
    if (e === 4) continue; // EINTR
    if (e === 11 && op & LOCK_NB) return false;
    throw new BerthError("Internal", `flock ${path}: ${errnoName(e)}`, { syscall: { op: "flock", path, errno: e } });
  }
}

let fifoLib: ReturnType<typeof openFifo> | undefined;
function openFifo() {
  return dlopen("libc.so.6", { mkfifo: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.i32 } });
}

/** mkfifo(3). */
export function mkfifo(path: string, mode: number) {
  fifoLib ??= openFifo();
  if (fifoLib.symbols.mkfifo(Buffer.from(path + "\0") as never, mode) !== 0) {
    const e = errno();
    throw new BerthError(e === 17 ? "AlreadyExists" : "Internal", `mkfifo ${path}: ${errnoName(e)}`, {
      syscall: { op: "mkfifo", path, errno: e },
    });
  }
}

let efdLib: ReturnType<typeof openEventfd> | undefined;
function openEventfd() {
  return dlopen("libc.so.6", { eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 } });
}

export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;

/** eventfd(2): a counter fd, read with node:fs (8 bytes, host order). */
export function eventfd(initval: number, flags: number): number {
  efdLib ??= openEventfd();
  const fd = efdLib.symbols.eventfd(initval, flags);
  if (fd < 0) {
    const e = errno();
    throw new BerthError("Internal", `eventfd: ${errnoName(e)}`, { syscall: { op: "eventfd", errno: e } });
  }
  return fd;
}

let umountLib: ReturnType<typeof openUmount> | undefined;
function openUmount() {
  return dlopen("libc.so.6", { umount2: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 } });
}

export const MNT_DETACH = 2;

/** umount2(2); returns the errno (0 on success) instead of throwing: callers clean up best effort. */
export function umount2(path: string, flags: number): number {
  umountLib ??= openUmount();
  return umountLib.symbols.umount2(Buffer.from(path + "\0") as never, flags) === 0 ? 0 : errno();
}
