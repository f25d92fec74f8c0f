/** Terminal ioctls on a pty master (bun:ffi; generic Linux ioctl numbers, x86_64 and arm64). */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { BerthError } from "../../errors.ts";
import { errnoName } from "./libc.ts";

let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen("libc.so.6", {
    ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}
const libc = () => (lib ??= open()).symbols;

const TCGETS = 0x5401;
const TCSETS = 0x5402;
const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;
const ONLCR = 0o4;

function ioctl(fd: number, req: number, buf: Uint8Array, what: string) {
  if (libc().ioctl(fd, req, ptr(buf)) < 0) {
    const e = read.i32(libc().__errno_location()!, 0);
    throw new BerthError("Internal", `${what}: ${errnoName(e)}`, { syscall: { op: "ioctl", errno: e } });
  }
}

export interface WinSize {
  rows: number;
  cols: number;
}

export function getWinSize(fd: number): WinSize {
  const ws = new Uint8Array(8);
  ioctl(fd, TIOCGWINSZ, ws, "get terminal size");
  const v = new DataView(ws.buffer);
  return { rows: v.getUint16(0, true), cols: v.getUint16(2, true) };
}

export function setWinSize(fd: number, size: WinSize) {
  const ws = new Uint8Array(8);
  const v = new DataView(ws.buffer);
  v.setUint16(0, size.rows, true);
  v.setUint16(2, size.cols, true);
  ioctl(fd, TIOCSWINSZ, ws, "set terminal size");
}

/** Stop the pty turning "\n" into "\r\n" (runc's console.ClearONLCR, for output read by a program). */
export function clearOnlcr(fd: number) {
  const t = new Uint8Array(64); // struct termios of the kernel (36 bytes), with room
  ioctl(fd, TCGETS, t, "get terminal attributes");
  const v = new DataView(t.buffer);
  v.setUint32(4, v.getUint32(4, true) & ~ONLCR, true);
  ioctl(fd, TCSETS, t, "set terminal attributes");
}

const OPOST = 0o1;

/**
 * Turn a terminal's output processing (OPOST) on or off; returns whether it
 * was on. A client in raw mode turns it off as moby/term's MakeRaw does, so
 * the container's own "\r\n" is not made "\r\r\n" (libuv's raw mode keeps it).
 */
export function setOutputProcessing(fd: number, on: boolean): boolean {
  const t = new Uint8Array(64);
  ioctl(fd, TCGETS, t, "get terminal attributes");
  const v = new DataView(t.buffer);
  const oflag = v.getUint32(4, true);
  v.setUint32(4, on ? oflag | OPOST : oflag & ~OPOST, true);
  ioctl(fd, TCSETS, t, "set terminal attributes");
  return (oflag & OPOST) !== 0;
}
