/**
 * Signal names and numbers as `runc kill` accepts them: a decimal number, or a
 * name with or without the SIG prefix, in any case ("KILL", "sigterm"), plus
 * the real-time forms RTMIN, RTMIN+n, RTMAX, RTMAX-n (glibc's SIGRTMIN is 34:
 * the kernel's 32 and 33 are reserved by the C library and reachable by
 * number only). Numbers are those of x86/arm and the other generic Linux ABIs.
 */
import { invalidArgument } from "../errors.ts";

export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

/** Canonical names (without "SIG") by number, 1..31. */
const NAMES: readonly (string | undefined)[] = [
  undefined,
  "HUP",
  "INT",
  "QUIT",
  "ILL",
  "TRAP",
  "ABRT",
  "BUS",
  "FPE",
  "KILL",
  "USR1",
  "SEGV",
  "USR2",
  "PIPE",
  "ALRM",
  "TERM",
  "STKFLT",
  "CHLD",
  "CONT",
  "STOP",
  "TSTP",
  "TTIN",
  "TTOU",
  "URG",
  "XCPU",
  "XFSZ",
  "VTALRM",
  "PROF",
  "WINCH",
  "IO",
  "PWR",
  "SYS",
];

const BY_NAME: ReadonlyMap<string, number> = new Map<string, number>([
  ...NAMES.flatMap((n, i) => (n === undefined ? [] : [[n, i] as [string, number]])),
  ["IOT", 6],
  ["CLD", 17],
  ["POLL", 29],
  ["UNUSED", 31],
]);

/**
 * Parse a signal given by name or number. Returns 1..64.
 * Throws InvalidArgument naming the input, e.g. `unknown signal "FOO"`.
 */
export function parseSignal(input: string | number): number {
  if (typeof input === "number") {
    if (Number.isInteger(input) && input >= 1 && input <= SIGRTMAX) return input;
    throw invalidArgument(`invalid signal ${input}: must be 1..${SIGRTMAX}`);
  }
  const raw = input.trim();
  if (/^[0-9]+$/.test(raw)) {
    const n = Number.parseInt(raw, 10);
    if (n >= 1 && n <= SIGRTMAX) return n;
    throw invalidArgument(`invalid signal ${JSON.stringify(input)}: must be 1..${SIGRTMAX}`);
  }
  let name = raw.toUpperCase();
  if (name.startsWith("SIG")) name = name.slice(3);
  const fixed = BY_NAME.get(name);
  if (fixed !== undefined) return fixed;
  const rt = /^RT(MIN|MAX)(?:([+-])([0-9]{1,2}))?$/.exec(name);
  if (rt) {
    const base = rt[1] === "MIN" ? SIGRTMIN : SIGRTMAX;
    const off = rt[3] === undefined ? 0 : Number.parseInt(rt[3], 10);
    // Like kill(1): RTMIN counts up, RTMAX counts down.
    const ok = rt[2] === undefined || (rt[1] === "MIN" ? rt[2] === "+" : rt[2] === "-");
    const n = rt[1] === "MIN" ? base + off : base - off;
    if (ok && n >= SIGRTMIN && n <= SIGRTMAX) return n;
  }
  throw invalidArgument(`unknown signal ${JSON.stringify(input)}`);
}

/** Name of a signal number with the SIG prefix: 9 -> "SIGKILL", 36 -> "SIGRTMIN+2", 33 -> "SIG33". */
export function signalName(n: number): string {
  const fixed = NAMES[n];
  if (fixed !== undefined) return `SIG${fixed}`;
  if (n === SIGRTMIN) return "SIGRTMIN";
  if (n === SIGRTMAX) return "SIGRTMAX";
  if (n > SIGRTMIN && n < SIGRTMAX) return n - SIGRTMIN <= SIGRTMAX - n ? `SIGRTMIN+${n - SIGRTMIN}` : `SIGRTMAX-${SIGRTMAX - n}`;
  return `SIG${n}`;
}
