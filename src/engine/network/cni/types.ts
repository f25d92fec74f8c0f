/**
 * CNI (spec 1.0.0) data: network configuration lists, results and errors,
 * parsed and checked. A conflist's plugin `type` names an executable looked up
 * in CNI_PATH, so it must be a bare file name (no "/" or "..").
 */
import { invalidArgument } from "../../../errors.ts";

/** The version berth's own conflists use and results are converted to. */
export const CNI_VERSION = "1.0.0";

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface NetConfList {
  cniVersion: string;
  /** newer configs may list several (spec 1.1); the highest one this runtime knows wins */
  cniVersions?: string[];
  name: string;
  disableCheck?: boolean;
  disableGC?: boolean;
  plugins: PluginConf[];
}

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}

export interface CniIPConfig {
  /** "10.1.0.2/24" */
  address: string;
  gateway?: string;
  /** index into interfaces */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIPConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

/** The error a plugin prints on stdout when it fails (spec: "Error"). */
export interface CniErrorBody {
  cniVersion?: string;
  code: number;
  msg: string;
  details?: string;
}

/** Well-known error codes (spec 1.0 "Error codes"). */
export const CNI_ERROR_CODES: Record<number, string> = {
  1: "incompatible cni version",
  2: "unsupported field in network configuration",
  3: "container unknown or does not exist",
  4: "invalid necessary environment variables",
  5: "i/o failure",
  6: "failed to decode content",
  7: "invalid network config",
  11: "try again later",
};

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;
const TYPE_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;
const VERSION_RE = /^\d+\.\d+\.\d+$/;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Compare "a.b.c" versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/**
 * Parse and check a conflist (or a single-plugin .conf, which becomes a list
 * of one). `source` names the file in errors.
 */
export function parseConfList(text: string, source: string): NetConfList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalidArgument(`${source}: not JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) throw invalidArgument(`${source}: not a JSON object`);
  if (!("plugins" in raw) && typeof raw.type === "string") {
    // a single-plugin .conf
    const { cniVersion, name, ...plugin } = raw;
    raw = { cniVersion, name, plugins: [plugin] };
  }
  const obj = raw as Record<string, unknown>;
  const name = obj.name;
  if (typeof name !== "string" || !NAME_RE.test(name)) throw invalidArgument(`${source}: name: must match ${NAME_RE.source}, got ${JSON.stringify(name)}`);
  let cniVersion = obj.cniVersion;
  if (Array.isArray(obj.cniVersions)) {
    const known = obj.cniVersions.filter((v): v is string => typeof v === "string" && VERSION_RE.test(v) && compareVersions(v, "1.1.0") <= 0);
    if (known.length) cniVersion = known.sort(compareVersions).at(-1);
  }
  if (typeof cniVersion !== "string" || !VERSION_RE.test(cniVersion)) throw invalidArgument(`${source}: cniVersion: want "x.y.z", got ${JSON.stringify(cniVersion)}`);
  if (!Array.isArray(obj.plugins) || obj.plugins.length === 0) throw invalidArgument(`${source}: plugins: want a non-empty list`);
  const plugins = obj.plugins.map((p, i) => {
    if (!isObject(p)) throw invalidArgument(`${source}: plugins[${i}]: not an object`);
    if (typeof p.type !== "string" || !TYPE_RE.test(p.type) || p.type.includes("..")) {
      throw invalidArgument(`${source}: plugins[${i}].type: must be a plain executable name, got ${JSON.stringify(p.type)}`);
    }
    if (p.capabilities !== undefined && (!isObject(p.capabilities) || Object.values(p.capabilities).some((v) => typeof v !== "boolean"))) {
      throw invalidArgument(`${source}: plugins[${i}].capabilities: want an object of booleans`);
    }
    return p as PluginConf;
  });
  for (const k of ["disableCheck", "disableGC"] as const) {
    if (obj[k] !== undefined && typeof obj[k] !== "boolean") throw invalidArgument(`${source}: ${k}: want a boolean`);
  }
  return {
    cniVersion,
    name,
    disableCheck: obj.disableCheck as boolean | undefined,
    disableGC: obj.disableGC as boolean | undefined,
    plugins,
  };
}

/**
 * Parse a plugin's ADD result. Results of 0.3.0 and later share the 1.0
 * shape (0.3/0.4 add `version` to each ip); 0.1/0.2 results ({ip4, ip6, dns})
 * are converted. `who` names the plugin in errors.
 */
export function parseResult(value: unknown, who: string): CniResult {
  if (!isObject(value)) throw invalidArgument(`${who}: result: not a JSON object`);
  const version = typeof value.cniVersion === "string" ? value.cniVersion : CNI_VERSION;
  if (compareVersions(version, "0.3.0") < 0) return convertLegacy(value, who);
  const out: CniResult = { cniVersion: version };
  if (value.interfaces !== undefined) {
    if (!Array.isArray(value.interfaces)) throw invalidArgument(`${who}: result.interfaces: want a list`);
    out.interfaces = value.interfaces.map((i, n) => {
      if (!isObject(i) || typeof i.name !== "string") throw invalidArgument(`${who}: result.interfaces[${n}]: want {name}`);
      const itf: CniInterface = { name: i.name };
      if (typeof i.mac === "string") itf.mac = i.mac;
      if (typeof i.mtu === "number") itf.mtu = i.mtu;
      if (typeof i.sandbox === "string") itf.sandbox = i.sandbox;
      return itf;
    });
  }
  if (value.ips !== undefined) {
    if (!Array.isArray(value.ips)) throw invalidArgument(`${who}: result.ips: want a list`);
    out.ips = value.ips.map((ip, n) => {
      if (!isObject(ip) || typeof ip.address !== "string" || !ip.address.includes("/")) throw invalidArgument(`${who}: result.ips[${n}].address: want "ip/len"`);
      const c: CniIPConfig = { address: ip.address };
      if (typeof ip.gateway === "string") c.gateway = ip.gateway;
      if (typeof ip.interface === "number") {
        if (!out.interfaces || ip.interface < 0 || ip.interface >= out.interfaces.length) throw invalidArgument(`${who}: result.ips[${n}].interface: index ${ip.interface} out of range`);
        c.interface = ip.interface;
      }
      return c;
    });
  }
  if (value.routes !== undefined) out.routes = parseRoutes(value.routes, `${who}: result.routes`);
  if (value.dns !== undefined) out.dns = parseDns(value.dns);
  return out;
}

function parseRoutes(v: unknown, where: string): CniRoute[] {
  if (!Array.isArray(v)) throw invalidArgument(`${where}: want a list`);
  return v.map((r, n) => {
    if (!isObject(r) || typeof r.dst !== "string") throw invalidArgument(`${where}[${n}].dst: want a CIDR`);
    return typeof r.gw === "string" ? { dst: r.dst, gw: r.gw } : { dst: r.dst };
  });
}

function parseDns(v: unknown): CniDns {
  if (!isObject(v)) return {};
  const strs = (x: unknown) => (Array.isArray(x) ? x.filter((s): s is string => typeof s === "string") : undefined);
  const d: CniDns = {};
  const ns = strs(v.nameservers);
  if (ns) d.nameservers = ns;
  if (typeof v.domain === "string") d.domain = v.domain;
  const s = strs(v.search);
  if (s) d.search = s;
  const o = strs(v.options);
  if (o) d.options = o;
  return d;
}

function convertLegacy(v: Record<string, unknown>, who: string): CniResult {
  const out: CniResult = { cniVersion: CNI_VERSION, ips: [], routes: [] };
  for (const key of ["ip4", "ip6"]) {
    const ipc = v[key];
    if (ipc === undefined) continue;
    if (!isObject(ipc) || typeof ipc.ip !== "string") throw invalidArgument(`${who}: result.${key}.ip: want "ip/len"`);
    out.ips!.push(typeof ipc.gateway === "string" ? { address: ipc.ip, gateway: ipc.gateway } : { address: ipc.ip });
    if (ipc.routes !== undefined) out.routes!.push(...parseRoutes(ipc.routes, `${who}: result.${key}.routes`));
  }
  if (v.dns !== undefined) out.dns = parseDns(v.dns);
  return out;
}

/** A plugin's error body, if stdout holds one. */
export function parseErrorBody(stdout: string): CniErrorBody | undefined {
  try {
    const v = JSON.parse(stdout);
    if (isObject(v) && typeof v.code === "number" && typeof v.msg === "string") {
      return { code: v.code, msg: v.msg, details: typeof v.details === "string" ? v.details : undefined, cniVersion: typeof v.cniVersion === "string" ? v.cniVersion : undefined };
    }
  } catch {}
  return undefined;
}

/** The sandbox address of a result: first IPv4 on an interface inside the container (or any IPv4). */
export function primaryIPv4(r: CniResult): { address: string; gateway?: string; mac?: string; ifname?: string } | undefined {
  const ips = (r.ips ?? []).filter((ip) => !ip.address.includes(":"));
  const inSandbox = ips.find((ip) => ip.interface !== undefined && r.interfaces?.[ip.interface]?.sandbox);
  const ip = inSandbox ?? ips[0];
  if (!ip) return undefined;
  const itf = ip.interface !== undefined ? r.interfaces?.[ip.interface] : r.interfaces?.find((i) => i.sandbox);
  return { address: ip.address, gateway: ip.gateway, mac: itf?.mac, ifname: itf?.name };
}
