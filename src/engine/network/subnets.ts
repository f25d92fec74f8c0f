/**
 * Choosing and checking IPv4 subnets. All networks share the host's routing
 * table, so a subnet must not overlap any other network of any tenant, nor a
 * host route (podman's 10.88/16, the uplink's subnet...). Without a subnet in
 * the request, the first free one of Docker's default pools is taken.
 */
import { BerthError, invalidArgument } from "../../errors.ts";
import { contains, covers, formatCidr, formatIPv4, last, overlaps, parseCidr, parseIPv4, type Cidr } from "./ipnet.ts";

/** Docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s. */
export function defaultPools(): Cidr[] {
  const out: Cidr[] = [];
  for (let b = 17; b <= 31; b++) out.push({ base: parseIPv4(`172.${b}.0.0`), prefix: 16 });
  for (let c = 0; c < 256; c += 16) out.push({ base: parseIPv4(`192.168.${c}.0`), prefix: 20 });
  return out;
}

export interface Taken {
  cidr: Cidr;
  /** what holds it: a network name or a host route */
  what: string;
  /** a berth network (docker's overlap message) rather than a host route */
  network: boolean;
}

export function overlapError(subnet: Cidr, t: Taken): BerthError {
  if (t.network) return new BerthError("FailedPrecondition", "Pool overlaps with other one on this address space");
  return new BerthError("FailedPrecondition", `subnet ${formatCidr(subnet)} overlaps with host route ${t.what}`);
}

export function firstFree(pools: Cidr[], taken: Taken[]): Cidr {
  for (const p of pools) if (!taken.some((t) => overlaps(p, t.cidr))) return p;
  throw new BerthError("Unavailable", "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network");
}

export interface SubnetPlan {
  subnet: string;
  gateway: string;
  ipRange?: string;
  userSubnet: boolean;
}

/**
 * Check (or choose) subnet, gateway and ip-range of a new network. Errors
 * name the field, with docker's wording where clients know it.
 */
export function planSubnet(req: { subnet?: string; gateway?: string; ipRange?: string }, taken: Taken[], pools: Cidr[] = defaultPools()): SubnetPlan {
  if (!req.subnet && (req.gateway || req.ipRange)) throw invalidArgument("ipam: gateway and ip-range need a subnet");
  let subnet: Cidr;
  if (req.subnet) {
    subnet = parseCidr(req.subnet, "subnet");
    if (subnet.prefix > 30) throw invalidArgument(`subnet: ${req.subnet} is too small (at most /30)`);
    if (subnet.prefix < 8) throw invalidArgument(`subnet: ${req.subnet} is too large (at least /8)`);
    const hit = taken.find((t) => overlaps(subnet, t.cidr));
    if (hit) throw overlapError(subnet, hit);
  } else subnet = firstFree(pools, taken);
  let gateway: number;
  if (req.gateway) {
    gateway = parseIPv4(req.gateway, "gateway");
    if (!contains(subnet, gateway)) throw invalidArgument(`gateway: no matching subnet for gateway ${req.gateway}`);
    if (gateway === subnet.base || gateway === last(subnet)) throw invalidArgument(`gateway: ${req.gateway} is the network or broadcast address of ${formatCidr(subnet)}`);
  } else gateway = subnet.base + 1;
  let ipRange: string | undefined;
  if (req.ipRange) {
    const r = parseCidr(req.ipRange, "ip-range");
    if (!covers(subnet, r)) throw invalidArgument(`ip-range: ${req.ipRange} is not within subnet ${formatCidr(subnet)}`);
    ipRange = formatCidr(r);
  }
  return { subnet: formatCidr(subnet), gateway: formatIPv4(gateway), ipRange, userSubnet: !!req.subnet };
}

/** Check a static address for a network: inside the subnet, not its network/broadcast/gateway address. */
export function checkStaticIp(ip: string, subnet: string, gateway: string | undefined, field = "ip"): number {
  const n = parseIPv4(ip, field);
  const s = parseCidr(subnet);
  if (!contains(s, n)) throw invalidArgument(`${field}: ${ip} is not in subnet ${subnet}`);
  if (n === s.base || n === last(s)) throw invalidArgument(`${field}: ${ip} is the network or broadcast address of ${subnet}`);
  if (gateway && n === parseIPv4(gateway)) throw new BerthError("FailedPrecondition", `${field}: Address already in use (${ip} is the gateway)`);
  return n;
}
