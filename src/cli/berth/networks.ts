/** berth network create/ls/inspect/rm/connect/disconnect/prune over /networks. */
import { isIP } from "node:net";
import { filtersParam, shortId } from "./context.ts";
import { confirm } from "./containers.ts";
import type { Verb } from "./context.ts";
import { CliError, each, verb } from "./flags.ts";
import { formatRows, render, table } from "./format.ts";

const enc = encodeURIComponent;
const json = { "content-type": "application/json" };

function keyValues(flag: string, xs: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const x of xs ?? []) {
    const eq = x.indexOf("=");
    if (eq <= 0) throw new CliError(`invalid argument "${x}" for "${flag}" flag: want key=value\nSee 'berth network --help'.`, 125);
    out[x.slice(0, eq)] = x.slice(eq + 1);
  }
  return out;
}

const create = verb(
  {
    name: "network create",
    usage: "[OPTIONS] NETWORK",
    summary: "Create a network",
    flags: {
      driver: { type: "string", short: "d", help: 'Driver to manage the Network (default "bridge")' },
      gateway: { type: "list", help: "IPv4 or IPv6 Gateway for the master subnet" },
      internal: { type: "bool", help: "Restrict external access to the network" },
      "ip-range": { type: "list", help: "Allocate container ip from a sub-range" },
      ipv6: { type: "bool", help: "Enable or disable IPv6 networking" },
      label: { type: "list", help: "Set metadata on a network" },
      opt: { type: "list", short: "o", help: "Set driver specific options" },
      subnet: { type: "list", help: "Subnet in CIDR format that represents a network segment" },
      attachable: { type: "bool", help: "Enable manual container attachment" },
    },
    min: 1,
    max: 1,
  },
  async (ctx, { values: v, positionals }) => {
    const subnets = (v.subnet as string[] | undefined) ?? [];
    const gateways = (v.gateway as string[] | undefined) ?? [];
    const ranges = (v["ip-range"] as string[] | undefined) ?? [];
    if (gateways.length > subnets.length || ranges.length > subnets.length) throw new CliError("every ip-range or gateway must have a corresponding subnet", 1);
    for (const s of subnets) if (!/^[0-9a-fA-F.:]+\/\d+$/.test(s) || !isIP(s.split("/")[0]!)) throw new CliError(`invalid argument "${s}" for "--subnet" flag: invalid CIDR address: ${s}\nSee 'berth network create --help'.`, 125);
    for (const g of gateways) if (!isIP(g)) throw new CliError(`invalid argument "${g}" for "--gateway" flag: invalid IP address\nSee 'berth network create --help'.`, 125);
    const config = subnets.map((s, i) => ({ Subnet: s, ...(gateways[i] ? { Gateway: gateways[i] } : {}), ...(ranges[i] ? { IPRange: ranges[i] } : {}) }));
    const r = await ctx.client.json<{ Id: string; Warning?: string }>("POST", "/networks/create", {
      body: JSON.stringify({
        Name: positionals[0],
        Driver: (v.driver as string | undefined) ?? "bridge",
        Internal: v.internal === true,
        Attachable: v.attachable === true,
        EnableIPv6: v.ipv6 === true,
        IPAM: { Driver: "default", Config: config },
        Options: keyValues("-o, --opt", v.opt as string[]),
        Labels: keyValues("--label", v.label as string[]),
      }),
      headers: json,
    });
    if (r.Warning) ctx.err(`WARNING: ${r.Warning}\n`);
    ctx.out.write(r.Id + "\n");
    return 0;
  },
);

interface Network {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  Created: string;
  Internal: boolean;
  EnableIPv6: boolean;
  Labels: Record<string, string> | null;
}

const ls = verb(
  {
    name: "network ls",
    usage: "[OPTIONS]",
    summary: "List networks",
    flags: {
      filter: { type: "list", short: "f", help: "Provide filter values (e.g. 'driver=bridge')" },
      format: { type: "string", help: "Format output using a custom template" },
      "no-trunc": { type: "bool", help: "Do not truncate the output" },
      quiet: { type: "bool", short: "q", help: "Only display network IDs" },
    },
    min: 0,
    max: 0,
  },
  async (ctx, { values: v }) => {
    const nets = (await ctx.client.json<Network[]>("GET", "/networks", { query: { filters: filtersParam(v.filter as string[] | undefined) } })).sort((a, b) => a.Name.localeCompare(b.Name));
    const rows = nets.map((n) => ({
      ID: v["no-trunc"] ? n.Id : shortId(n.Id),
      Name: n.Name,
      Driver: n.Driver,
      Scope: n.Scope,
      IPv6: String(n.EnableIPv6),
      Internal: String(n.Internal),
      CreatedAt: n.Created,
      Labels: Object.entries(n.Labels ?? {}).map(([k, x]) => `${k}=${x}`).join(","),
    }));
    if (v.quiet) ctx.out.write(rows.map((r) => r.ID + "\n").join(""));
    else if (v.format) ctx.out.write(formatRows(v.format as string, rows, { ID: "NETWORK ID", Name: "NAME", Driver: "DRIVER", Scope: "SCOPE", IPv6: "IPV6", Internal: "INTERNAL", CreatedAt: "CREATED AT", Labels: "LABELS" }));
    else ctx.out.write(table([["NETWORK ID", "NAME", "DRIVER", "SCOPE"], ...rows.map((r) => [r.ID, r.Name, r.Driver, r.Scope])]));
    return 0;
  },
);

const inspect = verb(
  { name: "network inspect", usage: "[OPTIONS] NETWORK [NETWORK...]", summary: "Display detailed information on one or more networks", flags: { format: { type: "string", short: "f", help: "Format output using a custom template" }, verbose: { type: "bool", short: "v", help: "Verbose output for diagnostics" } }, min: 1, max: Infinity },
  async (ctx, { values: v, positionals }) => {
    const found: unknown[] = [];
    const status = await each(ctx, positionals, async (n) => void found.push(await ctx.client.json("GET", `/networks/${enc(n)}`, { query: { verbose: v.verbose ? "true" : undefined } })));
    ctx.out.write(v.format ? found.map((x) => render(v.format as string, x) + "\n").join("") : JSON.stringify(found, null, 4) + "\n");
    return status;
  },
);

const rm = verb(
  { name: "network rm", usage: "NETWORK [NETWORK...]", summary: "Remove one or more networks", flags: { force: { type: "bool", short: "f", help: "Do not error if the network does not exist" } }, min: 1, max: Infinity },
  async (ctx, { values: v, positionals }) =>
    each(ctx, positionals, async (n) => {
      try {
        await ctx.client.request("DELETE", `/networks/${enc(n)}`);
      } catch (e) {
        if (v.force && (e as { status?: number }).status === 404) return;
        throw e;
      }
      ctx.out.write(n + "\n");
    }),
);

const connect = verb(
  {
    name: "network connect",
    usage: "[OPTIONS] NETWORK CONTAINER",
    summary: "Connect a container to a network",
    flags: { alias: { type: "list", help: "Add network-scoped alias for the container" }, ip: { type: "string", help: "IPv4 address (e.g., 172.30.100.104)" }, ip6: { type: "string", help: "IPv6 address" } },
    min: 2,
    max: 2,
  },
  async (ctx, { values: v, positionals }) => {
    const ip = v.ip as string | undefined;
    const ip6 = v.ip6 as string | undefined;
    if (ip !== undefined && isIP(ip) !== 4) throw new CliError(`invalid argument "${ip}" for "--ip" flag: invalid IPv4 address\nSee 'berth network connect --help'.`, 125);
    if (ip6 !== undefined && isIP(ip6) !== 6) throw new CliError(`invalid argument "${ip6}" for "--ip6" flag: invalid IPv6 address\nSee 'berth network connect --help'.`, 125);
    const ipam = ip || ip6 ? { IPAMConfig: { ...(ip ? { IPv4Address: ip } : {}), ...(ip6 ? { IPv6Address: ip6 } : {}) } } : {};
    await ctx.client.request("POST", `/networks/${enc(positionals[0]!)}/connect`, {
      body: JSON.stringify({ Container: positionals[1], EndpointConfig: { ...ipam, Aliases: (v.alias as string[] | undefined) ?? [] } }),
      headers: json,
    });
    return 0;
  },
);

const disconnect = verb(
  { name: "network disconnect", usage: "[OPTIONS] NETWORK CONTAINER", summary: "Disconnect a container from a network", flags: { force: { type: "bool", short: "f", help: "Force the container to disconnect from a network" } }, min: 2, max: 2 },
  async (ctx, { values: v, positionals }) => {
    await ctx.client.request("POST", `/networks/${enc(positionals[0]!)}/disconnect`, { body: JSON.stringify({ Container: positionals[1], Force: v.force === true }), headers: json });
    return 0;
  },
);

const prune = verb(
  { name: "network prune", usage: "[OPTIONS]", summary: "Remove all unused networks", flags: { filter: { type: "list", help: "Provide filter values (e.g. 'until=<timestamp>')" }, force: { type: "bool", short: "f", help: "Do not prompt for confirmation" } }, min: 0, max: 0 },
  async (ctx, { values: v }) => {
    if (!v.force && !(await confirm(ctx, "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?"))) return 0;
    const r = await ctx.client.json<{ NetworksDeleted: string[] | null }>("POST", "/networks/prune", { query: { filters: filtersParam(v.filter as string[] | undefined) } });
    if (r.NetworksDeleted?.length) ctx.out.write(`Deleted Networks:\n${r.NetworksDeleted.join("\n")}\n`);
    return 0;
  },
);

export const NETWORK_VERBS: Record<string, Verb> = { create, ls, list: ls, inspect, rm, remove: rm, connect, disconnect, prune };
