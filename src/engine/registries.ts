/**
 * The daemon's registry settings, as dockerd has them: `--insecure-registry`
 * (host[:port] or a CIDR of IP addresses) allows plain http and unverified
 * TLS for those registries, and `<certs dir>/<host[:port]>/*.crt` (docker's
 * /etc/docker/certs.d convention) adds CA certificates for one registry.
 *
 * Unlike dockerd, loopback registries are not insecure unless listed: a TLS
 * registry on 127.0.0.1 is verified like any other.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { invalidArgument } from "../errors.ts";
import type { Credentials, RegistryOptions } from "./registry/index.ts";
import { hostname } from "./registry/reference.ts";
import { VERSION } from "../version.ts";

export interface RegistryHostsOptions {
  /** host[:port] names and CIDRs (IPv4 or IPv6) */
  insecure?: string[];
  /** where <host[:port]>/*.crt CA files are looked up; undefined: none */
  certsDir?: string;
}

interface Cidr {
  text: string;
  family: 4 | 6;
  bits: bigint;
  prefix: number;
}

function ipBits(ip: string): { family: 4 | 6; bits: bigint } | undefined {
  const v = isIP(ip);
  if (v === 4) return { family: 4, bits: ip.split(".").reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n) };
  if (v === 6) {
    let s = ip;
    const tail4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    if (tail4) {
      const b = ipBits(tail4[1]!)!.bits;
      s = s.slice(0, -tail4[1]!.length) + `${(b >> 16n).toString(16)}:${(b & 0xffffn).toString(16)}`;
    }
    const [head, tail] = s.split("::") as [string, string | undefined];
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    return { family: 6, bits: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || "0", 16)), 0n) };
  }
  return undefined;
}

function parseCidr(s: string): Cidr | undefined {
  const m = /^(.+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const ip = ipBits(m[1]!);
  const prefix = Number(m[2]);
  if (!ip || prefix > (ip.family === 4 ? 32 : 128)) return undefined;
  return { text: s, family: ip.family, bits: ip.bits, prefix };
}

function inCidr(c: Cidr, ip: { family: 4 | 6; bits: bigint }): boolean {
  if (c.family !== ip.family) return false;
  const width = BigInt(c.family === 4 ? 32 : 128);
  const shift = width - BigInt(c.prefix);
  return c.bits >> shift === ip.bits >> shift;
}

export class RegistryHosts {
  private readonly names = new Set<string>();
  private readonly cidrs: Cidr[] = [];
  readonly certsDir?: string;

  constructor(opts: RegistryHostsOptions = {}) {
    for (const raw of opts.insecure ?? []) {
      const s = raw.trim();
      if (s === "") throw invalidArgument("--insecure-registry: empty value");
      if (s.includes("://")) throw invalidArgument(`--insecure-registry: "${s}" should not contain "://" (give host[:port] or a CIDR)`);
      const cidr = s.includes("/") ? parseCidr(s) : undefined;
      if (s.includes("/") && !cidr) throw invalidArgument(`--insecure-registry: "${s}" is not a CIDR`);
      if (cidr) this.cidrs.push(cidr);
      else this.names.add(s.toLowerCase());
    }
    this.certsDir = opts.certsDir;
  }

  /** The insecure list as docker info shows it (InsecureRegistryCIDRs / IndexConfigs). */
  get insecureNames(): string[] {
    return [...this.names];
  }
  get insecureCidrs(): string[] {
    return this.cidrs.map((c) => c.text);
  }

  /** Whether plain http and unverified TLS are allowed for a registry domain (host[:port]). */
  isInsecure(domain: string): boolean {
    const d = domain.toLowerCase();
    const host = hostname(d);
    if (this.names.has(d) || this.names.has(host)) return true;
    const ip = ipBits(host);
    return !!ip && this.cidrs.some((c) => inCidr(c, ip));
  }

  /** The CA certificates (PEM, concatenated) configured for a domain, if any. */
  caPem(domain: string): string | undefined {
    if (!this.certsDir) return undefined;
    const dir = join(this.certsDir, domain);
    if (!existsSync(dir)) return undefined;
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith(".crt")).sort();
    } catch {
      return undefined;
    }
    const pems = names.map((n) => readFileSync(join(dir, n), "utf8")).filter((p) => p.includes("-----BEGIN CERTIFICATE-----"));
    return pems.length ? pems.join("\n") : undefined;
  }

  /** Options for the registry client talking to `domain`. */
  options(domain: string, credentials?: Credentials): RegistryOptions {
    return { insecure: this.isInsecure(domain), caPem: this.caPem(domain), credentials, userAgent: `berthd/${VERSION}` };
  }
}
