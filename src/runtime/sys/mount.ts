/** mount(2) and umount2(2) in the caller's mount namespace (bun:ffi lives only under src/runtime/sys/). */
import { dlopen, FFIType, read } from "bun:ffi";
import { BerthError } from "../../errors.ts";
import { errnoName } from "./libc.ts";

let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen("libc.so.6", {
    mount: { args: [FFIType.cstring, FFIType.cstring, FFIType.cstring, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    umount2: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}
function libc() {
  return (lib ??= open()).symbols;
}
function lastErrno(): number {
  return read.i32(libc().__errno_location()!, 0);
}
const cstr = (s: string) => Buffer.from(s + "\0") as never;

export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 1 << 18;
export const MNT_DETACH = 2;

/** mount(2), with `data` (the fs's option string) when given; throws BerthError naming the target. */
export function mount(source: string, target: string, fstype: string, flags: number, data?: string) {
  if (libc().mount(cstr(source), cstr(target), cstr(fstype), BigInt(flags) as never, data === undefined ? null : cstr(data)) !== 0) {
    const e = lastErrno();
    throw new BerthError(e === 1 ? "PermissionDenied" : "Internal", `mount ${source} on ${target}: ${errnoName(e)}`, {
      syscall: { op: "mount", path: target, errno: e },
    });
  }
}

/** umount2(2); a target that is not mounted (EINVAL) or gone (ENOENT) is not an error. */
export function umount(target: string, flags = MNT_DETACH) {
  if (libc().umount2(cstr(target), flags) !== 0) {
    const e = lastErrno();
    if (e === 22 || e === 2) return;
    throw new BerthError("Internal", `umount ${target}: ${errnoName(e)}`, { syscall: { op: "umount2", path: target, errno: e } });
  }
}
