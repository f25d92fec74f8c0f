/**
 * The contents of a container's /etc/hosts, /etc/hostname and
 * /etc/resolv.conf, with Docker's semantics:
 *
 * - hosts: localhost and the IPv6 names, then ExtraHosts ("name:ip", ip may
 *   be "host-gateway"), legacy links, then the container's own address.
 * - resolv.conf on the default bridge (no embedded DNS): --dns, else the
 *   host's nameservers minus loopback ones (they mean nothing inside the
 *   container), else Google's, as docker; --dns-search ("." = none) and
 *   --dns-option replace the host's.
 * - resolv.conf on a user-defined network: the embedded DNS on the gateway
 *   (it forwards to --dns, else to the host's resolvers) and "ndots:0" unless
 *   options were given.
 */
import { invalidArgument } from "../../errors.ts";
import { parseIPv4 } from "./ipnet.ts";

export const DEFAULT_NAMESERVERS = ["8.8.8.8", "8.8.4.4"];

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const rc: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === "nameserver" && rest[0]) rc.nameservers.push(rest[0]);
    else if (key === "search" || key === "domain") rc.search = rest;
    else if (key === "options") rc.options.push(...rest);
  }
  return rc;
}

function isLoopback(ns: string): boolean {
  return ns.startsWith("127.") || ns === "::1" || ns === "0:0:0:0:0:0:0:1";
}

export interface ResolvInput {
  /** the host's resolv.conf text */
  host: string;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** the embedded DNS address (the network's gateway) on user-defined networks */
  embeddedDns?: string;
}

export function resolvConf(i: ResolvInput): string {
  const host = parseResolvConf(i.host);
  for (const [n, s] of (i.dns ?? []).entries()) parseIPv4(s, `dns[${n}]`);
  let nameservers: string[];
  if (i.embeddedDns) nameservers = [i.embeddedDns];
  else if (i.dns?.length) nameservers = i.dns;
  else {
    nameservers = host.nameservers.filter((n) => !isLoopback(n));
    if (!nameservers.length) nameservers = DEFAULT_NAMESERVERS;
  }
  const search = i.dnsSearch?.length ? (i.dnsSearch.length === 1 && i.dnsSearch[0] === "." ? [] : i.dnsSearch) : host.search;
  let options = i.dnsOptions?.length ? i.dnsOptions : host.options;
  if (i.embeddedDns && !i.dnsOptions?.length && !options.some((o) => o.startsWith("ndots:"))) options = [...options, "ndots:0"];
  const lines: string[] = [];
  if (search.length) lines.push(`search ${search.join(" ")}`);
  for (const n of nameservers) lines.push(`nameserver ${n}`);
  if (options.length) lines.push(`options ${options.join(" ")}`);
  return lines.join("\n") + "\n";
}

/** The servers the embedded DNS forwards a container's questions to. */
export function upstreamServers(hostResolv: string, dns?: string[]): string[] {
  return dns?.length ? dns : parseResolvConf(hostResolv).nameservers.filter((n) => !n.includes(":"));
}

export interface HostsInput {
  hostname: string;
  domainname?: string;
  /** the container's address on its first network, if any */
  ip?: string;
  /** docker's ExtraHosts: "name:ip" */
  extraHosts?: string[];
  /** what "host-gateway" means (the gateway of the container's first network) */
  hostGateway?: string;
  /** legacy --link: the linked container's address under alias and name */
  links?: { ip: string; names: string[] }[];
}

const HOST_RE = /^[a-zA-Z0-9]([a-zA-Z0-9.\-_]*[a-zA-Z0-9])?$/;

/** docker's ExtraHosts ("name:ip", ip may be "host-gateway") as hosts lines. */
export function extraHostLines(extraHosts: string[] | undefined, hostGateway?: string): string[] {
  const lines: string[] = [];
  for (const [n, e] of (extraHosts ?? []).entries()) {
    const at = e.indexOf(":");
    const name = at > 0 ? e.slice(0, at) : "";
    let ip = at > 0 ? e.slice(at + 1) : "";
    if (!name || !HOST_RE.test(name) || !ip) throw invalidArgument(`extraHosts[${n}]: want "name:ip", got ${JSON.stringify(e)}`);
    if (ip === "host-gateway") {
      if (!hostGateway) throw invalidArgument(`extraHosts[${n}]: host-gateway: the container has no network gateway`);
      ip = hostGateway;
    }
    if (!ip.includes(":")) parseIPv4(ip, `extraHosts[${n}]`);
    else if (!/^[0-9a-fA-F:.]+$/.test(ip)) throw invalidArgument(`extraHosts[${n}]: invalid IP address ${JSON.stringify(ip)}`);
    lines.push(`${ip}\t${name}`);
  }
  return lines;
}

export function hostsFile(i: HostsInput): string {
  const lines = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
  ];
  lines.push(...extraHostLines(i.extraHosts, i.hostGateway));
  for (const l of i.links ?? []) lines.push(`${l.ip}\t${l.names.join(" ")}`);
  if (i.ip) {
    const names = i.domainname ? [`${i.hostname}.${i.domainname}`, i.hostname] : [i.hostname];
    lines.push(`${i.ip}\t${names.join(" ")}`);
  }
  return lines.join("\n") + "\n";
}

export function hostnameFile(hostname: string): string {
  if (!hostname || hostname.length > 64 || !HOST_RE.test(hostname)) throw invalidArgument(`hostname: invalid hostname ${JSON.stringify(hostname)}`);
  return `${hostname}\n`;
}
