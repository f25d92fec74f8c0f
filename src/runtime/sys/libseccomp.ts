/**
 * Minimal bun:ffi binding to libseccomp 2.5 (Debian `libseccomp2`), used only to
 * compile filters to classic BPF bytes; berth-init loads them. Nothing is opened
 * until the first call, so importing this module costs nothing.
 *
 * libseccomp functions return -errno; every wrapper here turns that into a
 * BerthError (code Internal, `syscall.op` = the libseccomp function) which the
 * caller re-codes and prefixes with the field it was compiling.
 */
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";
import { fstatSync, readSync, closeSync } from "node:fs";
import { BerthError } from "../../errors.ts";

/** SCMP_ACT_* (seccomp.h). ERRNO and TRACE carry 16 bits of data. */
export const SCMP_ACT = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  NOTIFY: 0x7fc00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
  errno: (e: number) => (0x00050000 | (e & 0xffff)) >>> 0,
  trace: (m: number) => (0x7ff00000 | (m & 0xffff)) >>> 0,
} as const;

/** enum scmp_compare. */
export const SCMP_CMP = { NE: 1, LT: 2, LE: 3, EQ: 4, GE: 5, GT: 6, MASKED_EQ: 7 } as const;

/** enum scmp_filter_attr. */
export const SCMP_FLTATR = {
  ACT_DEFAULT: 1,
  ACT_BADARCH: 2,
  CTL_NNP: 3,
  CTL_TSYNC: 4,
  API_TSKIP: 5,
  CTL_LOG: 6,
  CTL_SSB: 7,
  CTL_OPTIMIZE: 8,
  API_SYSRAWRC: 9,
} as const;

/** __NR_SCMP_ERROR: returned by the resolve functions for an unknown name. */
export const NR_SCMP_ERROR = -1;

/** One struct scmp_arg_cmp: `{ unsigned arg; enum op; u64 datum_a; u64 datum_b; }`. */
export interface ArgCmp {
  arg: number;
  op: number;
  datumA: bigint;
  datumB: bigint;
}
const ARG_CMP_SIZE = 24;
/** C structs are in host byte order. */
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const LIBSECCOMP = "libseccomp.so.2";
const LIBC = "libc.so.6";

const seccompSymbols = {
  seccomp_version: { args: [], returns: FFIType.ptr },
  seccomp_api_get: { args: [], returns: FFIType.u32 },
  seccomp_init: { args: [FFIType.u32], returns: FFIType.ptr },
  seccomp_release: { args: [FFIType.ptr], returns: FFIType.void },
  seccomp_arch_native: { args: [], returns: FFIType.u32 },
  seccomp_arch_resolve_name: { args: [FFIType.cstring], returns: FFIType.u32 },
  seccomp_arch_add: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  seccomp_syscall_resolve_name: { args: [FFIType.cstring], returns: FFIType.i32 },
  seccomp_syscall_resolve_name_arch: { args: [FFIType.u32, FFIType.cstring], returns: FFIType.i32 },
  seccomp_rule_add_array: {
    args: [FFIType.ptr, FFIType.u32, FFIType.i32, FFIType.u32, FFIType.ptr],
    returns: FFIType.i32,
  },
  seccomp_attr_set: { args: [FFIType.ptr, FFIType.u32, FFIType.u32], returns: FFIType.i32 },
  seccomp_export_bpf: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
} as const;

const libcSymbols = {
  memfd_create: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
} as const;

type SeccompLib = ReturnType<typeof dlopen<typeof seccompSymbols>>["symbols"];
type LibcLib = ReturnType<typeof dlopen<typeof libcSymbols>>["symbols"];

let seccompLib: SeccompLib | undefined;
let libcLib: LibcLib | undefined;

function lib(): SeccompLib {
  if (!seccompLib) {
    try {
      seccompLib = dlopen(LIBSECCOMP, seccompSymbols).symbols;
    } catch (err) {
      throw new BerthError("Unavailable", `load ${LIBSECCOMP}: ${err instanceof Error ? err.message : String(err)} (install libseccomp2)`, {
        cause: err,
      });
    }
  }
  return seccompLib;
}

function libc(): LibcLib {
  if (!libcLib) libcLib = dlopen(LIBC, libcSymbols).symbols;
  return libcLib;
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 9: "EBADF", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 17: "EEXIST",
  22: "EINVAL", 24: "EMFILE", 38: "ENOSYS", 95: "EOPNOTSUPP", 125: "ECANCELED",
};
export const errnoName = (e: number): string => ERRNO_NAMES[e] ?? `errno ${e}`;

/** Throw for a negative libseccomp return code. */
function check(op: string, rc: number): number {
  if (rc < 0) {
    const errno = -rc;
    throw new BerthError("Internal", `${op}: ${errnoName(errno)}`, { syscall: { op, errno } });
  }
  return rc;
}

export interface SeccompVersion {
  major: number;
  minor: number;
  micro: number;
}

/** Version of the loaded libseccomp (seccomp_version()). */
export function seccompVersion(): SeccompVersion {
  const p = lib().seccomp_version();
  if (!p) throw new BerthError("Internal", "seccomp_version returned NULL");
  return { major: read.u32(p, 0), minor: read.u32(p, 4), micro: read.u32(p, 8) };
}

/** API level (seccomp_api_get): what libseccomp and the running kernel support. */
export function seccompApiLevel(): number {
  return lib().seccomp_api_get();
}

/** Native architecture token (an AUDIT_ARCH_* value, except x32). */
export function archNative(): number {
  return lib().seccomp_arch_native();
}

/** Architecture token for a libseccomp arch name ("x86_64", "aarch64", ...), or 0 if unknown. */
export function archResolveName(name: string): number {
  return lib().seccomp_arch_resolve_name(name);
}

/**
 * Syscall number for `name` on the native arch, or on `arch` if given.
 * Returns NR_SCMP_ERROR (-1) for a name libseccomp does not know; other negative
 * values are libseccomp pseudo-syscall numbers (valid in rules).
 */
export function syscallResolveName(name: string, arch?: number): number {
  return arch === undefined ? lib().seccomp_syscall_resolve_name(name) : lib().seccomp_syscall_resolve_name_arch(arch, name);
}

/** A libseccomp filter context. Call release() when done (compileSeccomp does, in finally). */
export class SeccompFilter {
  private ctx: Pointer | bigint | null;

  private constructor(ctx: Pointer | bigint) {
    this.ctx = ctx;
  }

  static create(defaultAction: number): SeccompFilter {
    const ctx = lib().seccomp_init(defaultAction >>> 0);
    if (!ctx) throw new BerthError("Internal", `seccomp_init: invalid default action 0x${(defaultAction >>> 0).toString(16)} or out of memory`);
    return new SeccompFilter(ctx);
  }

  private handle(): Pointer | bigint {
    if (!this.ctx) throw new BerthError("Internal", "seccomp filter used after release");
    return this.ctx;
  }

  /** Add an architecture; returns false if it was already present. */
  addArch(token: number): boolean {
    const rc = lib().seccomp_arch_add(this.handle(), token >>> 0);
    if (rc === -17) return false;
    check("seccomp_arch_add", rc);
    return true;
  }

  setAttr(attr: number, value: number): void {
    check("seccomp_attr_set", lib().seccomp_attr_set(this.handle(), attr, value >>> 0));
  }

  /** seccomp_rule_add_array: the conditions are ANDed. */
  addRule(action: number, syscall: number, conds: readonly ArgCmp[]): void {
    let arr: Uint8Array | null = null;
    if (conds.length > 0) {
      arr = new Uint8Array(conds.length * ARG_CMP_SIZE);
      const v = new DataView(arr.buffer);
      conds.forEach((c, i) => {
        const o = i * ARG_CMP_SIZE;
        v.setUint32(o, c.arg, LE);
        v.setUint32(o + 4, c.op, LE);
        v.setBigUint64(o + 8, BigInt.asUintN(64, c.datumA), LE);
        v.setBigUint64(o + 16, BigInt.asUintN(64, c.datumB), LE);
      });
    }
    const rc = lib().seccomp_rule_add_array(this.handle(), action >>> 0, syscall, conds.length, arr);
    check("seccomp_rule_add", rc);
  }

  /** The filter as classic BPF (struct sock_filter[], host byte order). */
  exportBpf(): Uint8Array {
    const fd = libc().memfd_create("berth-seccomp", 1 /* MFD_CLOEXEC */);
    if (fd < 0) {
      const errnoPtr = libc().__errno_location();
      const errno = errnoPtr ? read.i32(errnoPtr, 0) : 0;
      throw new BerthError("Internal", `memfd_create: ${errnoName(errno)}`, { syscall: { op: "memfd_create", errno } });
    }
    try {
      check("seccomp_export_bpf", lib().seccomp_export_bpf(this.handle(), fd));
      const size = fstatSync(fd).size;
      const out = new Uint8Array(size);
      let off = 0;
      while (off < size) {
        const n = readSync(fd, out, off, size - off, off);
        if (n <= 0) break;
        off += n;
      }
      if (off !== size) throw new BerthError("Internal", `seccomp_export_bpf: short read (${off} of ${size} bytes)`);
      return out;
    } finally {
      closeSync(fd);
    }
  }

  release(): void {
    if (this.ctx) {
      lib().seccomp_release(this.ctx);
      this.ctx = null;
    }
  }
}
