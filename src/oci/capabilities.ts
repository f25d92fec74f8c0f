/**
 * Linux capability names <-> numbers (include/uapi/linux/capability.h), up to
 * CAP_CHECKPOINT_RESTORE (40, Linux 5.9), and the host's view of them.
 * Names are as the runtime-spec writes them: upper case with the CAP_ prefix.
 */
import { readFileSync } from "node:fs";
import { internal, invalidArgument, wrapError } from "../errors.ts";

export const CAPABILITIES: readonly string[] = [
  "CAP_CHOWN", // 0
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL", // 5
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE", // 10
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER", // 15
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT", // 20
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME", // 25
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL", // 30
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM", // 35
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE", // 40
];

/** The highest capability number in the table (40). */
export const CAP_LAST_KNOWN = CAPABILITIES.length - 1;

const BY_NAME: ReadonlyMap<string, number> = new Map(CAPABILITIES.map((n, i) => [n, i]));

/** Number of a capability name ("CAP_KILL" -> 5), or undefined if unknown. Exact spelling. */
export function capNumber(name: string): number | undefined {
  return BY_NAME.get(name);
}

/** Name of a capability number (5 -> "CAP_KILL"), or undefined beyond the table. */
export function capName(n: number): string | undefined {
  return CAPABILITIES[n];
}

/** True if name is a capability berth knows. */
export function isCapability(name: string): boolean {
  return BY_NAME.has(name);
}

/** Bit mask of the named capabilities (bit n = capability n). Throws InvalidArgument on an unknown name. */
export function capMask(names: Iterable<string>): bigint {
  let mask = 0n;
  for (const name of names) {
    const n = BY_NAME.get(name);
    if (n === undefined) throw invalidArgument(`unknown capability ${JSON.stringify(name)}`);
    mask |= 1n << BigInt(n);
  }
  return mask;
}

/** Capability names set in a mask, in number order; bits beyond the table are named "CAP_<n>". */
export function capNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let n = 0; mask >> BigInt(n) !== 0n; n++) {
    if ((mask >> BigInt(n)) & 1n) out.push(CAPABILITIES[n] ?? `CAP_${n}`);
  }
  return out;
}

/** Mask with every capability 0..last set. */
export function fullMask(last: number = lastCap()): bigint {
  return (1n << BigInt(last + 1)) - 1n;
}

let cachedLastCap: number | undefined;

/** The running kernel's highest capability (/proc/sys/kernel/cap_last_cap), read once. */
export function lastCap(): number {
  if (cachedLastCap === undefined) {
    let text: string;
    try {
      text = readFileSync("/proc/sys/kernel/cap_last_cap", "utf8");
    } catch (err) {
      throw wrapError("read cap_last_cap", err);
    }
    const n = Number.parseInt(text.trim(), 10);
    if (!Number.isInteger(n) || n < 0 || n > 63) throw internal(`cap_last_cap: bad value ${JSON.stringify(text.trim())}`);
    cachedLastCap = n;
  }
  return cachedLastCap;
}

/** Parse a "CapXxx:\t000001ffffffffff" value (hex) as found in /proc/<pid>/status. */
export function parseCapHex(hex: string): bigint {
  const h = hex.trim();
  if (!/^[0-9a-fA-F]{1,16}$/.test(h)) throw invalidArgument(`bad capability mask ${JSON.stringify(hex)}`);
  return BigInt(`0x${h}`);
}

/** The calling process's bounding set (CapBnd of /proc/self/status). */
export function hostBoundingSet(statusText?: string): bigint {
  let text = statusText;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/status", "utf8");
    } catch (err) {
      throw wrapError("read /proc/self/status", err);
    }
  }
  const m = /^CapBnd:\s*([0-9a-fA-F]+)\s*$/m.exec(text);
  if (!m || m[1] === undefined) throw internal("/proc/self/status: no CapBnd line");
  return parseCapHex(m[1]);
}
