/**
 * /networks of the Docker Engine API over the engine's NetworkManager (and
 * ContainerNetworking for connect/disconnect): parse the request, call the
 * engine for the caller's tenant, answer in docker's shapes. The tenant's
 * "bridge" is its default network; "host" and "none" are listed as docker
 * lists them (drivers host and null), and cannot be made or removed.
 */
import { jsonResponse } from "../http.ts";
import { BerthError, invalidArgument, notFound } from "../../errors.ts";
import { builtinNetworkId, endpointId } from "../../engine/containers/networking.ts";
import type { EndpointSettings } from "../../engine/containers/model.ts";
import type { Endpoint, Network } from "../../engine/network/model.ts";
import { OPT_BRIDGE_NAME } from "../../engine/network/model.ts";
import { boolFilter, checkFilterKeys, filterValue, filterValues, parseFilters } from "./filters.ts";
import { boolField, jsonBody, strField } from "./params.ts";
import { route, type Ctx, type Route } from "./router.ts";

const LIST_FILTERS = ["dangling", "driver", "id", "label", "name", "scope", "type"] as const;
const PRUNE_FILTERS = ["until", "label", "label!"] as const;
const BUILTIN_OTHERS = ["host", "none"] as const;
/** kept in a network's options, not shown */
const OPT_ATTACHABLE = "berth.attachable";

const json = (ctx: Ctx, body: unknown, status = 200) => jsonResponse(body, status, ctx.headers);

function event(ctx: Ctx, action: string, n: Network, container?: string) {
  ctx.engine.events.publish({ tenant: ctx.tenant, type: "network", action, actor: { id: n.id, attributes: { name: n.name, type: n.driver, ...(container ? { container } : {}) } } });
}

/** The tenant's default network, made on first use (null when networking cannot make it here). */
async function defaultNetwork(ctx: Ctx): Promise<Network | null> {
  try {
    return await ctx.engine.networks.ensureDefault(ctx.tenant);
  } catch (e) {
    ctx.log.warn("default network unavailable", { error: (e as Error).message });
    return null;
  }
}

interface Builtin {
  name: "host" | "none";
  id: string;
  driver: string;
}

function builtins(tenant: string): Builtin[] {
  return BUILTIN_OTHERS.map((name) => ({ name, id: builtinNetworkId(tenant, name), driver: name === "none" ? "null" : "host" }));
}

function findBuiltin(tenant: string, ref: string): Builtin | undefined {
  return builtins(tenant).find((b) => b.name === ref || b.id === ref || (ref.length >= 12 && /^[0-9a-f]+$/.test(ref) && b.id.startsWith(ref)));
}

function shownOptions(n: Network): Record<string, string> {
  const o = { ...n.options };
  delete o[OPT_ATTACHABLE];
  if (n.isDefault) {
    o["com.docker.network.bridge.default_bridge"] = "true";
    if (n.bridge) o[OPT_BRIDGE_NAME] = n.bridge;
  }
  return o;
}

function containersMap(n: Network, eps: Endpoint[]) {
  const out: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }> = {};
  for (const e of eps) out[e.containerId] = { Name: e.name ?? "", EndpointID: endpointId(n.id, e.containerId), MacAddress: e.mac ?? "", IPv4Address: e.address, IPv6Address: "" };
  return out;
}

/** docker's network resource (inspect and list). */
export function networkResource(n: Network, eps: Endpoint[] | null) {
  const cfg: Record<string, string>[] = [];
  if (n.subnet) {
    const c: Record<string, string> = { Subnet: n.subnet };
    if (n.ipRange) c.IPRange = n.ipRange;
    if (n.gateway) c.Gateway = n.gateway;
    cfg.push(c);
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: "local",
    Driver: n.driver,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: n.isDefault ? null : {}, Config: cfg },
    Internal: n.internal,
    Attachable: n.options[OPT_ATTACHABLE] === "true",
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: eps ? containersMap(n, eps) : {},
    Options: shownOptions(n),
    Labels: n.labels,
  };
}

function builtinResource(b: Builtin, created: string) {
  return {
    Name: b.name,
    Id: b.id,
    Created: created,
    Scope: "local",
    Driver: b.driver,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
  };
}

function list(ctx: Ctx): Promise<Response> {
  return (async () => {
    const f = parseFilters(ctx.query.get("filters"));
    checkFilterKeys(f, LIST_FILTERS);
    for (const t of filterValues(f, "type")) if (t !== "custom" && t !== "builtin") throw invalidArgument(`invalid filter: 'type'='${t}'`);
    const scopes = filterValues(f, "scope");
    const dangling = boolFilter(f, "dangling");
    const net = ctx.engine.networks;
    const def = await defaultNetwork(ctx);
    const nets = net.list(ctx.tenant, {
      name: filterValues(f, "name"),
      id: filterValues(f, "id"),
      label: filterValues(f, "label"),
      driver: filterValues(f, "driver"),
      type: filterValues(f, "type") as ("custom" | "builtin")[],
    });
    const out: unknown[] = [];
    if (!scopes.length || scopes.includes("local")) {
      for (const n of nets) {
        if (dangling !== undefined) {
          const isDangling = !n.isDefault && net.endpoints(ctx.tenant, n.id).length === 0;
          if (isDangling !== dangling) continue;
        }
        out.push(networkResource(n, null));
      }
      // host and none: builtin, never dangling, no labels
      const types = filterValues(f, "type");
      if (dangling !== true && !filterValues(f, "label").length && (!types.length || types.includes("builtin"))) {
        for (const b of builtins(ctx.tenant)) {
          if (filterValues(f, "name").length && !filterValues(f, "name").some((s) => b.name.includes(s))) continue;
          if (filterValues(f, "id").length && !filterValues(f, "id").some((s) => b.id.startsWith(s))) continue;
          if (filterValues(f, "driver").length && !filterValues(f, "driver").includes(b.driver)) continue;
          out.push(builtinResource(b, def?.created ?? new Date(0).toISOString()));
        }
      }
    }
    return json(ctx, out);
  })();
}

async function inspect(ctx: Ctx): Promise<Response> {
  const ref = ctx.params[0]!;
  const def = ref === "bridge" ? await defaultNetwork(ctx) : null;
  const b = findBuiltin(ctx.tenant, ref);
  if (b) return json(ctx, builtinResource(b, def?.created ?? new Date(0).toISOString()));
  const n = ctx.engine.networks.get(ctx.tenant, ref);
  return json(ctx, networkResource(n, ctx.engine.networks.endpoints(ctx.tenant, n.id)));
}

function stringMap(body: Record<string, unknown>, key: string): Record<string, string> {
  const v = body[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw invalidArgument(`${key}: want an object of strings`);
  for (const [k, x] of Object.entries(v)) if (typeof x !== "string") throw invalidArgument(`${key}.${k}: want a string`);
  return v as Record<string, string>;
}

interface IpamConfig {
  Subnet?: string;
  Gateway?: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

function ipamConfig(body: Record<string, unknown>): IpamConfig | undefined {
  const ipam = body.IPAM;
  if (ipam === undefined || ipam === null) return undefined;
  if (typeof ipam !== "object" || Array.isArray(ipam)) throw invalidArgument("IPAM: want an object");
  const o = ipam as Record<string, unknown>;
  const driver = strField(o, "Driver");
  if (driver && driver !== "default") throw invalidArgument(`IPAM.Driver: only the default IPAM driver is supported, got ${JSON.stringify(driver)}`);
  const cfgs = o.Config;
  if (cfgs === undefined || cfgs === null) return undefined;
  if (!Array.isArray(cfgs)) throw invalidArgument("IPAM.Config: want a list");
  const v4: IpamConfig[] = [];
  for (const [i, c] of cfgs.entries()) {
    if (!c || typeof c !== "object" || Array.isArray(c)) throw invalidArgument(`IPAM.Config[${i}]: want an object`);
    const r = c as Record<string, unknown>;
    const cfg: IpamConfig = { Subnet: strField(r, "Subnet") || undefined, Gateway: strField(r, "Gateway") || undefined, IPRange: strField(r, "IPRange") || undefined };
    if ([cfg.Subnet, cfg.Gateway, cfg.IPRange].some((s) => s?.includes(":"))) throw invalidArgument(`IPAM.Config[${i}]: IPv6 is not supported yet`);
    if (r.AuxiliaryAddresses && Object.keys(r.AuxiliaryAddresses as object).length) throw invalidArgument(`IPAM.Config[${i}].AuxiliaryAddresses: not supported yet`);
    if (!cfg.Subnet && (cfg.Gateway || cfg.IPRange)) throw invalidArgument(`IPAM.Config[${i}]: a gateway or ip-range needs a subnet`);
    v4.push(cfg);
  }
  if (v4.length > 1) throw invalidArgument("IPAM.Config: one IPv4 subnet per network (berth)");
  return v4[0];
}

async function create(ctx: Ctx): Promise<Response> {
  const body = await jsonBody(ctx.req);
  const name = strField(body, "Name");
  if (!name) throw invalidArgument("Name: a network name is required");
  const driver = strField(body, "Driver") || "bridge";
  if (body.EnableIPv6 === true) throw invalidArgument("EnableIPv6: IPv6 networks are not supported by berth yet");
  if (body.EnableIPv4 === false) throw invalidArgument("EnableIPv4: IPv4 cannot be disabled");
  if (boolField(body, "Ingress")) throw invalidArgument("Ingress: swarm ingress networks are not supported");
  if (boolField(body, "ConfigOnly")) throw invalidArgument("ConfigOnly: config-only networks are not supported");
  const scope = strField(body, "Scope");
  if (scope && scope !== "local") throw invalidArgument(`Scope: only local networks are supported, got ${JSON.stringify(scope)}`);
  if (driver === "host" || driver === "null") throw new BerthError("PermissionDenied", `only one instance of "${driver}" network is allowed`);
  if (driver !== "bridge") {
    // an administrator's conflist already is the network; docker says the driver is missing otherwise
    const hit = ctx.engine.networks.list(ctx.tenant).find((n) => n.external && n.name === name);
    if (hit) throw new BerthError("AlreadyExists", `network with name ${name} already exists`);
    throw notFound(`plugin "${driver}" not found`);
  }
  const ipam = ipamConfig(body);
  const options = { ...stringMap(body, "Options") };
  if (boolField(body, "Attachable")) options[OPT_ATTACHABLE] = "true";
  const n = await ctx.engine.networks.create(ctx.tenant, {
    name,
    driver,
    subnet: ipam?.Subnet,
    gateway: ipam?.Gateway,
    ipRange: ipam?.IPRange,
    internal: boolField(body, "Internal"),
    labels: stringMap(body, "Labels"),
    options,
  });
  event(ctx, "create", n);
  return json(ctx, { Id: n.id, Warning: "" }, 201);
}

async function remove(ctx: Ctx): Promise<Response> {
  const ref = ctx.params[0]!;
  const b = findBuiltin(ctx.tenant, ref);
  if (b) throw new BerthError("PermissionDenied", `${b.name} is a pre-defined network and cannot be removed`);
  const n = ctx.engine.networks.get(ctx.tenant, ref);
  await ctx.engine.networks.remove(ctx.tenant, n.id);
  event(ctx, "destroy", n);
  return new Response(null, { status: 204, headers: ctx.headers });
}

async function prune(ctx: Ctx): Promise<Response> {
  const f = parseFilters(ctx.query.get("filters"));
  checkFilterKeys(f, PRUNE_FILTERS);
  const until = filterValue(f, "until");
  const net = ctx.engine.networks;
  let cutoff: number | undefined;
  if (until !== undefined) {
    cutoff = /^\d+(\.\d+)?$/.test(until) ? Number(until) * 1000 : Date.parse(until);
    if (Number.isNaN(cutoff)) {
      const m = /^(\d+)(s|m|h)$/.exec(until);
      if (!m) throw invalidArgument(`invalid filter 'until=${until}'`);
      cutoff = Date.now() - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "s" | "m" | "h"];
    }
  }
  const labelNot = filterValues(f, "label!");
  const keep = (n: Network) =>
    (cutoff !== undefined && Date.parse(n.created) >= cutoff) ||
    labelNot.some((l) => {
      const [k, v] = l.includes("=") ? [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] : [l, undefined];
      return k! in n.labels && (v === undefined || n.labels[k!] === v);
    });
  // prune takes a label filter; the others narrow the candidates by removing them one by one
  const candidates = net.list(ctx.tenant, { label: filterValues(f, "label"), type: ["custom"] }).filter((n) => !n.external && !keep(n) && net.endpoints(ctx.tenant, n.id).length === 0);
  const deleted: string[] = [];
  for (const n of candidates) {
    try {
      await net.remove(ctx.tenant, n.id);
      event(ctx, "destroy", n);
      deleted.push(n.name);
    } catch (e) {
      // attached meanwhile, or gone: not pruned
      if (!(e instanceof BerthError) || (e.code !== "PermissionDenied" && e.code !== "NotFound")) throw e;
    }
  }
  return json(ctx, { NetworksDeleted: deleted });
}

function endpointConfig(v: unknown): EndpointSettings {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw invalidArgument("EndpointConfig: want an object");
  const o = v as Record<string, unknown>;
  for (const k of ["Aliases", "Links"] as const) {
    if (o[k] !== undefined && o[k] !== null && (!Array.isArray(o[k]) || !(o[k] as unknown[]).every((s) => typeof s === "string"))) throw invalidArgument(`EndpointConfig.${k}: want a list of strings`);
  }
  if (o.IPAMConfig !== undefined && o.IPAMConfig !== null && (typeof o.IPAMConfig !== "object" || Array.isArray(o.IPAMConfig))) throw invalidArgument("EndpointConfig.IPAMConfig: want an object");
  const ipam = (o.IPAMConfig ?? undefined) as Record<string, unknown> | undefined;
  return {
    Aliases: (o.Aliases as string[] | null) ?? null,
    Links: (o.Links as string[] | null) ?? null,
    IPAMConfig: ipam ? { IPv4Address: strField(ipam, "IPv4Address") || undefined, IPv6Address: strField(ipam, "IPv6Address") || undefined } : null,
    MacAddress: strField(o, "MacAddress") || undefined,
  };
}

async function connect(ctx: Ctx): Promise<Response> {
  const body = await jsonBody(ctx.req);
  const ref = strField(body, "Container");
  if (!ref) throw invalidArgument("Container: a container name or id is required");
  const cfg = endpointConfig(body.EndpointConfig);
  const netRef = ctx.params[0]!;
  const record = ctx.engine.containers.get(ctx.tenant, ref);
  await ctx.engine.networking.connect(record, netRef, cfg);
  if (!findBuiltin(ctx.tenant, netRef)) event(ctx, "connect", ctx.engine.networks.get(ctx.tenant, netRef), record.Id);
  return new Response(null, { status: 200, headers: ctx.headers });
}

async function disconnect(ctx: Ctx): Promise<Response> {
  const body = await jsonBody(ctx.req);
  const ref = strField(body, "Container");
  if (!ref) throw invalidArgument("Container: a container name or id is required");
  const record = ctx.engine.containers.get(ctx.tenant, ref);
  await ctx.engine.networking.disconnect(record, ctx.params[0]!, boolField(body, "Force"));
  try {
    event(ctx, "disconnect", ctx.engine.networks.get(ctx.tenant, ctx.params[0]!), record.Id);
  } catch {
    // forced disconnect from a network that is gone: no event
  }
  return new Response(null, { status: 200, headers: ctx.headers });
}

export const networkRoutes: Route[] = [
  route("GET", "/networks", list),
  route("POST", "/networks/create", create),
  route("POST", "/networks/prune", prune),
  route("POST", "/networks/{id}/connect", connect),
  route("POST", "/networks/{id}/disconnect", disconnect),
  route("GET", "/networks/{id}", inspect),
  route("DELETE", "/networks/{id}", remove),
];
