/**
 * Unix sockets with fd passing (SCM_RIGHTS), which Bun does not offer: the
 * runtime receives a pty master from berth-init, and a console-socket server
 * (tests, or a caller of `create --console-socket`) accepts connections and
 * receives the master the same way. All fds are close-on-exec and non-blocking.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { closeSync } from "node:fs";
import { BerthError } from "../../errors.ts";
import { errnoName } from "./libc.ts";

let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    accept4: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    recvmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}
const libc = () => (lib ??= open()).symbols;
const errno = () => read.i32(libc().__errno_location()!, 0);

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const MSG_CTRUNC = 0x8;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const EAGAIN = 11;
const EINTR = 4;

function sysError(op: string, path: string, e: number): BerthError {
  return new BerthError(e === 13 || e === 1 ? "PermissionDenied" : "Internal", `${op}${path ? " " + path : ""}: ${errnoName(e)}`, {
    syscall: { op, path: path || undefined, errno: e },
  });
}

/** A listening AF_UNIX stream socket bound at path. */
export function listenUnix(path: string): number {
  const addr = new Uint8Array(110);
  const bytes = Buffer.from(path);
  if (bytes.length > 107) throw new BerthError("InvalidArgument", `listen ${path}: path longer than 107 bytes`);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(bytes, 2);
  const fd = libc().socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError("socket", path, errno());
  if (libc().bind(fd, ptr(addr), 2 + bytes.length + 1) < 0 || libc().listen(fd, 8) < 0) {
    const e = errno();
    closeSync(fd);
    throw sysError("listen", path, e);
  }
  return fd;
}

/** Accept one connection; null when none is pending. */
export function acceptUnix(fd: number): number | null {
  for (;;) {
    const c = libc().accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) return c;
    const e = errno();
    if (e === EINTR) continue;
    if (e === EAGAIN) return null;
    throw sysError("accept", "", e);
  }
}

export interface ReceivedFd {
  fd: number;
  /** the data of the message (runc's console protocol: "/dev/ptmx") */
  name: string;
}

/**
 * Receive one message carrying exactly one fd. Returns null when nothing is
 * pending; throws if the peer closed the socket or sent no fd (any extra fds
 * are closed).
 */
export function recvFd(sock: number): ReceivedFd | null {
  const data = new Uint8Array(4096);
  const control = new Uint8Array(64); // room for a few fds, so extras can be closed
  const iov = new BigUint64Array([BigInt(ptr(data)), BigInt(data.length)]);
  const msg = new Uint8Array(56); // struct msghdr on LP64
  const mv = new DataView(msg.buffer);
  mv.setBigUint64(16, BigInt(ptr(iov)), true);
  mv.setBigUint64(24, 1n, true);
  mv.setBigUint64(32, BigInt(ptr(control)), true);
  mv.setBigUint64(40, BigInt(control.length), true);
  let n: number;
  for (;;) {
    n = Number(libc().recvmsg(sock, ptr(msg), MSG_CMSG_CLOEXEC));
    if (n >= 0) break;
    const e = errno();
    if (e === EINTR) continue;
    if (e === EAGAIN) return null;
    throw sysError("recvmsg", "", e);
  }
  const fds: number[] = [];
  const cv = new DataView(control.buffer);
  const controlLen = Number(mv.getBigUint64(40, true));
  for (let off = 0; off + 16 <= controlLen; ) {
    const len = Number(cv.getBigUint64(off, true));
    if (len < 16) break;
    if (cv.getInt32(off + 8, true) === SOL_SOCKET && cv.getInt32(off + 12, true) === SCM_RIGHTS)
      for (let p = off + 16; p + 4 <= off + len; p += 4) fds.push(cv.getInt32(p, true));
    off += (len + 7) & ~7;
  }
  const truncated = (mv.getInt32(48, true) & MSG_CTRUNC) !== 0;
  if (fds.length !== 1 || truncated) {
    for (const fd of fds) closeSync(fd);
    if (n === 0 && fds.length === 0) throw new BerthError("Unavailable", "receive fd: the peer closed the socket without sending one");
    throw new BerthError("Internal", `receive fd: expected one fd, got ${fds.length}${truncated ? " (truncated)" : ""}`);
  }
  return { fd: fds[0]!, name: new TextDecoder().decode(data.subarray(0, n)) };
}
