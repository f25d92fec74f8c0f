/** waitpid(2) for a child Bun did not spawn itself (a task CRIU restored as our child). */
import { dlopen, FFIType, read, ptr } from "bun:ffi";

let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen("libc.so.6", {
    waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

const WNOHANG = 1;

/**
 * Non-blocking wait for pid: its exit status (128+N when killed by signal N)
 * once it has exited, null while it runs. Throws if pid is not our child.
 */
export function reapNoHang(pid: number): number | null {
  const l = (lib ??= open()).symbols;
  const status = new Int32Array(1);
  for (;;) {
    const r = l.waitpid(pid, ptr(status), WNOHANG);
    if (r === 0) return null;
    if (r === pid) {
      const s = status[0]!;
      return (s & 0x7f) === 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f);
    }
    const errno = read.i32(l.__errno_location()!, 0);
    if (errno === 4) continue; // EINTR
    throw new Error(`waitpid ${pid}: errno ${errno}`);
  }
}
