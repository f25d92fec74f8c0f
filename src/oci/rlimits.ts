/**
 * RLIMIT_* names -> resource numbers for setrlimit/prlimit, as on x86, arm and
 * the other "generic" Linux ABIs (include/uapi/asm-generic/resource.h).
 * alpha, mips and sparc number a few differently; berth does not run there.
 */
export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

/** RLIM_INFINITY as a 64-bit value. */
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** Resource number of an rlimit type ("RLIMIT_NOFILE" -> 7), or undefined. Exact spelling, as runc. */
export function rlimitNumber(type: string): number | undefined {
  return Object.hasOwn(RLIMITS, type) ? RLIMITS[type] : undefined;
}
