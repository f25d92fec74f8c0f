/**
 * Reading files of a container's rootfs from the host without leaving it:
 * openat2(2) with RESOLVE_IN_ROOT makes the kernel treat the rootfs as "/" for
 * absolute symlinks and clamp ".." there, as berth-init's native/resolve.c does
 * inside the container. Used for the image's /etc/passwd and /etc/group, which
 * the image controls (a symlink to the host's /etc/passwd must read the
 * rootfs's own file, or nothing).
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { BerthError, invalidArgument } from "../../errors.ts";
import { errnoName } from "./libc.ts";

let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen("libc.so.6", {
    syscall: { args: [FFIType.i64, FFIType.i32, FFIType.cstring, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}
const libc = () => (lib ??= open()).symbols;

/** openat2 has the same number on every architecture (it came after the unified table). */
const SYS_OPENAT2 = 437;
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_IN_ROOT = 0x10;
const EAGAIN = 11;
const ENOENT = 2;
const ENOTDIR = 20;
const ELOOP = 40;

/** O_PATH fd of path resolved inside rootfd; -errno on failure. */
function openat2InRoot(rootfd: number, path: string): number {
  // struct open_how { u64 flags; u64 mode; u64 resolve; }
  const how = new BigUint64Array([BigInt(O_PATH | O_CLOEXEC), 0n, BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)]);
  const cpath = Buffer.from(path + "\0");
  for (let tries = 0; ; tries++) {
    const fd = Number(libc().syscall(SYS_OPENAT2, rootfd, cpath as never, ptr(how), 24));
    if (fd >= 0) return fd;
    const e = read.i32(libc().__errno_location()!, 0);
    if (e !== EAGAIN || tries === 32) return -e;
  }
}

/**
 * The content of a regular file at path inside root, resolved with root as "/"
 * (symlinks, absolute or with "..", cannot leave it; no magic links).
 * Returns undefined when the file (or a directory on the way) does not exist.
 * Anything but a regular file, or a file over maxBytes, is an error.
 */
export function readFileInRoot(root: string, path: string, maxBytes = 4 << 20): Buffer | undefined {
  const rootfd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC);
  let fd = -1;
  try {
    fd = openat2InRoot(rootfd, path);
    if (fd === -ENOENT || fd === -ENOTDIR) return undefined;
    if (fd < 0) {
      const e = -fd;
      if (e === ELOOP) throw invalidArgument(`${path} in the container's rootfs: too many levels of symbolic links`);
      throw new BerthError(e === 1 || e === 13 ? "PermissionDenied" : "Internal", `open ${path} in ${root}: ${errnoName(e)}`, {
        syscall: { op: "openat2", path, errno: e },
      });
    }
    const st = fstatSync(fd);
    if (!st.isFile()) throw invalidArgument(`${path} in the container's rootfs is not a regular file`);
    if (st.size > maxBytes) throw invalidArgument(`${path} in the container's rootfs is larger than ${maxBytes} bytes`);
    // Reopen the inode the O_PATH fd names (never a path lookup again) for reading.
    const rfd = openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | O_CLOEXEC | constants.O_NOCTTY);
    try {
      const buf = Buffer.alloc(maxBytes + 1);
      let n = 0;
      for (;;) {
        const got = readSync(rfd, buf, n, buf.length - n, null);
        if (got === 0) break;
        n += got;
        if (n > maxBytes) throw invalidArgument(`${path} in the container's rootfs is larger than ${maxBytes} bytes`);
      }
      return buf.subarray(0, n);
    } finally {
      closeSync(rfd);
    }
  } finally {
    if (fd >= 0) closeSync(fd);
    closeSync(rootfd);
  }
}
