/**
 * `linux.seccomp` of the OCI runtime-spec 1.2 (config-linux.md, specs-go
 * LinuxSeccomp), field for field. Values are strings as in libseccomp's seccomp.h;
 * they are typed as string (not unions) because config.json is untrusted input and
 * the compiler must reject unknown values with an error naming the field.
 */

/** One of the SCMP_ACT_* names below. */
export type LinuxSeccompAction = string;
export const SECCOMP_ACTIONS = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
] as const;

/** One of the SCMP_CMP_* names below. */
export type LinuxSeccompOperator = string;
export const SECCOMP_OPERATORS = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
] as const;

/** One of the SCMP_ARCH_* names (the spec lists those of libseccomp v2.5.0; specs-go adds a few newer ones). */
export type LinuxSeccompArch = string;

/** One of the SECCOMP_FILTER_FLAG_* names below. */
export type LinuxSeccompFlag = string;
export const SECCOMP_FLAGS = [
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
] as const;

export interface LinuxSeccompArg {
  /** Index of the syscall argument, 0..5. */
  index: number;
  /** uint64. JSON numbers above 2^53 lose precision; a bigint is accepted too. */
  value: number | bigint;
  /** uint64; only used by SCMP_CMP_MASKED_EQ (value is the mask, valueTwo the expected result). */
  valueTwo?: number | bigint;
  op: LinuxSeccompOperator;
}

export interface LinuxSyscall {
  /** At least one name. */
  names: string[];
  action: LinuxSeccompAction;
  /** errno for SCMP_ACT_ERRNO / SCMP_ACT_TRACE; default EPERM. */
  errnoRet?: number;
  /** Conditions, ANDed. */
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: LinuxSeccompAction;
  /** errno for a default action of SCMP_ACT_ERRNO / SCMP_ACT_TRACE; default EPERM. */
  defaultErrnoRet?: number;
  architectures?: LinuxSeccompArch[];
  flags?: LinuxSeccompFlag[];
  /** Unix socket the seccomp notify fd is sent to (only with SCMP_ACT_NOTIFY). */
  listenerPath?: string;
  /** Opaque data sent to the listener; MUST NOT be set without listenerPath. */
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}
