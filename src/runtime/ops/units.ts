/**
 * The value syntaxes of runc's flags: sizes as docker/go-units RAMInBytes
 * ("64m", "1.5g", "512KiB"; binary multiples), Go durations ("5s", "1m30s",
 * "250ms") and Go's strconv integers.
 */
import { invalidArgument } from "../../errors.ts";

const SIZE_RE = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const BINARY: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/**
 * Bytes in a human-readable size, binary multiples, case-insensitive, the "b"
 * optional ("100", "64m", "64MiB", "1.5g"); fractions of a byte are dropped.
 * `what` names the flag in the error.
 */
export function parseRamSize(s: string, what: string): number {
  const m = SIZE_RE.exec(s);
  if (!m || m[1]!.split(".").length > 2) throw invalidArgument(`${what}: invalid size: "${s}" (a number of bytes, or with a unit: 64k, 64m, 1.5g)`);
  const n = Number(m[1]) * (m[2] ? BINARY[m[2].toLowerCase()]! : 1);
  if (!Number.isFinite(n) || n >= 2 ** 63) throw invalidArgument(`${what}: size out of range: "${s}"`);
  return Math.trunc(n);
}

/** A memory flag of `update`: "-1" is unlimited, anything else a size. */
export function parseMemoryFlag(s: string, what: string): number {
  return s === "-1" ? -1 : parseRamSize(s, what);
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("5s", "1m30s", "1.5h", "300ms", "0") in milliseconds; may be negative. */
export function parseDuration(s: string, what: string): number {
  const bad = () => invalidArgument(`${what}: invalid duration "${s}" (e.g. 5s, 500ms, 1m30s)`);
  let rest = s;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest[0] === "-" ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw bad();
  let total = 0;
  while (rest) {
    const m = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    if (!m) throw bad();
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

/** strconv.ParseUint(s, 10, 64) */
export function parseUint(s: string, what: string): number {
  if (!/^\d+$/.test(s)) throw invalidArgument(`${what}: invalid value "${s}": not an unsigned integer`);
  const n = BigInt(s);
  if (n >= 1n << 64n) throw invalidArgument(`${what}: invalid value "${s}": out of range`);
  return Number(n);
}

/** strconv.ParseInt(s, 10, 64) */
export function parseInt64(s: string, what: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw invalidArgument(`${what}: invalid value "${s}": not an integer`);
  const n = BigInt(s);
  if (n >= 1n << 63n || n < -(1n << 63n)) throw invalidArgument(`${what}: invalid value "${s}": out of range`);
  return Number(n);
}
