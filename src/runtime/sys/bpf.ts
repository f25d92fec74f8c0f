/**
 * bpf(2) through libc's syscall(3), for cgroup device programs.
 * Only the commands the cgroup layer needs: PROG_LOAD, PROG_ATTACH, PROG_DETACH,
 * PROG_QUERY, PROG_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD. Every call is synchronous
 * and returns an fd/number or throws a BerthError carrying {op, errno}.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { closeSync } from "node:fs";
import { BerthError, type ErrorCode } from "../../errors.ts";

export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 2;
export const BPF_F_REPLACE = 4;

const CMD = {
  PROG_LOAD: 5,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_GET_FD_BY_ID: 13,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
} as const;

const SYS_BPF: Partial<Record<string, number>> = { x64: 321, arm64: 280, riscv64: 280, ppc64: 361, s390x: 351 };

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 7: "E2BIG", 9: "EBADF", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT",
  16: "EBUSY", 22: "EINVAL", 28: "ENOSPC", 38: "ENOSYS", 95: "EOPNOTSUPP", 524: "ENOTSUPP",
};

type Libc = ReturnType<typeof openLibc>;
let libc: Libc | undefined;

function openLibc() {
  return dlopen("libc.so.6", {
    syscall: { args: [FFIType.i64, FFIType.i64, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

export function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

function codeFor(errno: number): ErrorCode {
  if (errno === 1 || errno === 13) return "PermissionDenied";
  if (errno === 2) return "NotFound";
  if (errno === 22 || errno === 7) return "InvalidArgument";
  if (errno === 38 || errno === 95 || errno === 524) return "Unavailable";
  return "Internal";
}

export class BpfError extends BerthError {
  readonly errno: number;
  constructor(op: string, errno: number, detail = "") {
    super(codeFor(errno), `bpf ${op}: ${errnoName(errno)}${detail ? `: ${detail}` : ""}`, { syscall: { op: `bpf(${op})`, errno } });
    this.errno = errno;
  }
}

function bpf(op: keyof typeof CMD, attr: Uint8Array): number {
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) throw new BerthError("Unavailable", `bpf ${op}: unsupported architecture ${process.arch}`);
  libc ??= openLibc();
  const r = Number(libc.symbols.syscall(BigInt(nr), BigInt(CMD[op]), ptr(attr), BigInt(attr.byteLength)));
  if (r < 0) {
    const loc = libc.symbols.__errno_location();
    const errno = loc ? read.i32(loc, 0) : 0;
    throw new BpfError(op.toLowerCase(), errno);
  }
  return r;
}

function attrBuf(size = 128): { buf: Uint8Array; dv: DataView } {
  const buf = new Uint8Array(size);
  return { buf, dv: new DataView(buf.buffer) };
}

function setPtr(dv: DataView, off: number, target: Uint8Array | Uint32Array): void {
  dv.setBigUint64(off, BigInt(ptr(target)), true);
}

/**
 * BPF_PROG_LOAD. On a verifier rejection the load is retried with the verifier
 * log enabled and the log's tail is put in the error.
 * @returns the program fd (close it with closeFd)
 */
export function progLoad(opts: { type: number; insns: Uint8Array; license: string; name: string; expectedAttachType?: number }): number {
  const license = new TextEncoder().encode(opts.license + "\0");
  const load = (log?: Uint8Array) => {
    const { buf, dv } = attrBuf();
    dv.setUint32(0, opts.type, true);
    dv.setUint32(4, opts.insns.byteLength / 8, true);
    setPtr(dv, 8, opts.insns);
    setPtr(dv, 16, license);
    if (log) {
      dv.setUint32(24, 1, true); // log_level
      dv.setUint32(28, log.byteLength, true);
      setPtr(dv, 32, log);
    }
    const name = new TextEncoder().encode(opts.name.slice(0, 15));
    buf.set(name, 48); // prog_name[16]
    dv.setUint32(68, opts.expectedAttachType ?? 0, true);
    return bpf("PROG_LOAD", buf);
  };
  try {
    return load();
  } catch (e) {
    if (!(e instanceof BpfError) || (e.errno !== 22 && e.errno !== 13)) throw e;
    const log = new Uint8Array(64 * 1024);
    try {
      return load(log);
    } catch (e2) {
      if (!(e2 instanceof BpfError)) throw e2;
      const end = log.indexOf(0);
      const text = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end)).trim();
      throw new BpfError("prog_load", e2.errno, text ? `verifier: ${text.split("\n").slice(-4).join(" | ")}` : "");
    }
  }
}

/** BPF_PROG_ATTACH (replaceFd only with BPF_F_REPLACE) */
export function progAttach(targetFd: number, progFd: number, attachType: number, flags: number, replaceFd = 0): void {
  const { buf, dv } = attrBuf();
  dv.setUint32(0, targetFd, true);
  dv.setUint32(4, progFd, true);
  dv.setUint32(8, attachType, true);
  dv.setUint32(12, flags, true);
  dv.setUint32(16, replaceFd, true);
  bpf("PROG_ATTACH", buf);
}

/** BPF_PROG_DETACH of one program from a multi-program attach point */
export function progDetach(targetFd: number, progFd: number, attachType: number): void {
  const { buf, dv } = attrBuf();
  dv.setUint32(0, targetFd, true);
  dv.setUint32(4, progFd, true);
  dv.setUint32(8, attachType, true);
  bpf("PROG_DETACH", buf);
}

/** BPF_PROG_QUERY: ids of the programs attached directly to targetFd */
export function progQuery(targetFd: number, attachType: number): number[] {
  let cap = 64;
  for (let tries = 0; tries < 5; tries++) {
    const ids = new Uint32Array(cap);
    const { buf, dv } = attrBuf();
    dv.setUint32(0, targetFd, true);
    dv.setUint32(4, attachType, true);
    setPtr(dv, 16, ids);
    dv.setUint32(24, cap, true);
    try {
      bpf("PROG_QUERY", buf);
    } catch (e) {
      if (e instanceof BpfError && e.errno === 28) {
        cap = Math.max(cap * 2, dv.getUint32(24, true));
        continue;
      }
      throw e;
    }
    return [...ids.subarray(0, dv.getUint32(24, true))];
  }
  throw new BerthError("Internal", "bpf prog_query: attached program list keeps growing");
}

/** BPF_PROG_GET_FD_BY_ID */
export function progFdById(id: number): number {
  const { buf, dv } = attrBuf();
  dv.setUint32(0, id, true);
  return bpf("PROG_GET_FD_BY_ID", buf);
}

export interface ProgInfo {
  type: number;
  id: number;
  name: string;
}

/** BPF_OBJ_GET_INFO_BY_FD for a program */
export function progInfo(fd: number): ProgInfo {
  const info = new Uint8Array(256);
  const idv = new DataView(info.buffer);
  const { buf, dv } = attrBuf();
  dv.setUint32(0, fd, true);
  dv.setUint32(4, info.byteLength, true);
  setPtr(dv, 8, info);
  bpf("OBJ_GET_INFO_BY_FD", buf);
  const nameBytes = info.subarray(64, 80);
  const end = nameBytes.indexOf(0);
  return {
    type: idv.getUint32(0, true),
    id: idv.getUint32(4, true),
    name: new TextDecoder().decode(nameBytes.subarray(0, end < 0 ? 16 : end)),
  };
}

export function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}
