/** Sealed memfd copies of a file (bun:ffi): the binary that enters containers (see native/seal.c). */
import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, readFileSync, writeSync } from "node:fs";
import { BerthError } from "../../errors.ts";
import { errnoName } from "./libc.ts";

let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen("libc.so.6", {
    memfd_create: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.i32 },
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}
const libc = () => (lib ??= open()).symbols;
const errno = () => read.i32(libc().__errno_location()!, 0);

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const MFD_EXEC = 0x10; // Linux 6.3
const F_ADD_SEALS = 1033;
/** F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE: the set berth-init checks for */
const SEALS = 1 | 2 | 4 | 8;
const EINVAL = 22;

/** A close-on-exec memfd holding a copy of path, sealed against any change. */
export function sealedCopy(path: string, name: string): number {
  const data = readFileSync(path);
  const cname = Buffer.from(name + "\0");
  let fd = libc().memfd_create(cname as never, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno() === EINVAL) fd = libc().memfd_create(cname as never, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    const e = errno();
    throw new BerthError("Internal", `seal ${path}: memfd_create: ${errnoName(e)}`, { syscall: { op: "memfd_create", path, errno: e } });
  }
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
    if (libc().fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
      const e = errno();
      throw new BerthError("Internal", `seal ${path}: add seals: ${errnoName(e)}`, { syscall: { op: "fcntl", path, errno: e } });
    }
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}
