/**
 * IPv4 addresses and prefixes as numbers: parsing (strict, naming the field),
 * containment and overlap. Networks are IPv4 for now (Docker's default).
 */
import { invalidArgument } from "../../errors.ts";

export interface Cidr {
  /** network address (host bits cleared) */
  base: number;
  prefix: number;
}

export function parseIPv4(s: string, field = "address"): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) throw invalidArgument(`${field}: invalid IPv4 address ${JSON.stringify(s)}`);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i]!.length > 1 && m[i]!.startsWith("0"))) throw invalidArgument(`${field}: invalid IPv4 address ${JSON.stringify(s)}`);
    n = n * 256 + o;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.1.0.0/16"; with strict, host bits must be zero (as docker: "invalid subnet"). */
export function parseCidr(s: string, field = "subnet", strict = true): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m) throw invalidArgument(`${field}: invalid CIDR ${JSON.stringify(s)} (want a.b.c.d/len)`);
  const ip = parseIPv4(m[1]!, field);
  const prefix = Number(m[2]);
  if (prefix > 32) throw invalidArgument(`${field}: invalid prefix length in ${JSON.stringify(s)}`);
  const base = (ip & mask(prefix)) >>> 0;
  if (strict && base !== ip) throw invalidArgument(`${field}: ${s} has host bits set (network address is ${formatIPv4(base)}/${prefix})`);
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function last(c: Cidr): number {
  return c.base + size(c) - 1;
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

/** does a contain all of b? */
export function covers(a: Cidr, b: Cidr): boolean {
  return a.prefix <= b.prefix && contains(a, b.base);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b.base) || contains(b, a.base);
}

/** "10.1.2.3/24" (an interface address) -> ip and prefix */
export function parseIfAddr(s: string, field = "address"): { ip: number; prefix: number } {
  const c = parseCidr(s, field, false);
  const ip = parseIPv4(s.split("/")[0]!, field);
  return { ip, prefix: c.prefix };
}
