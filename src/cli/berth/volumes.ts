/** berth volume create/ls/inspect/rm/prune over /volumes. */
import { humanSize } from "../../api/docker/jsonmessage.ts";
import { filtersParam } from "./context.ts";
import { confirm } from "./containers.ts";
import type { Verb } from "./context.ts";
import { CliError, each, verb } from "./flags.ts";
import { formatRows, render, table } from "./format.ts";

const enc = encodeURIComponent;

function keyValues(flag: string, xs: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const x of xs ?? []) {
    const eq = x.indexOf("=");
    if (eq <= 0) throw new CliError(`invalid argument "${x}" for "${flag}" flag: want key=value\nSee 'berth volume create --help'.`, 125);
    out[x.slice(0, eq)] = x.slice(eq + 1);
  }
  return out;
}

const create = verb(
  {
    name: "volume create",
    usage: "[OPTIONS] [VOLUME]",
    summary: "Create a volume",
    flags: {
      driver: { type: "string", short: "d", help: 'Specify volume driver name (default "local")' },
      label: { type: "list", help: "Set metadata for a volume" },
      name: { type: "string", help: "Specify volume name" },
      opt: { type: "list", short: "o", help: "Set driver specific options" },
    },
    min: 0,
    max: 1,
  },
  async (ctx, { values: v, positionals }) => {
    if (positionals[0] && v.name && positionals[0] !== v.name) throw new CliError(`conflicting options: cannot specify a volume-name through both --name and as a positional arg`, 1);
    const r = await ctx.client.json<{ Name: string }>("POST", "/volumes/create", {
      body: JSON.stringify({ Name: positionals[0] ?? v.name ?? "", Driver: (v.driver as string | undefined) ?? "local", DriverOpts: keyValues("-o, --opt", v.opt as string[]), Labels: keyValues("--label", v.label as string[]) }),
      headers: { "content-type": "application/json" },
    });
    ctx.out.write(r.Name + "\n");
    return 0;
  },
);

interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Labels: Record<string, string> | null;
  Scope: string;
}

const ls = verb(
  {
    name: "volume ls",
    usage: "[OPTIONS]",
    summary: "List volumes",
    flags: { filter: { type: "list", short: "f", help: "Provide filter values (e.g. 'dangling=true')" }, format: { type: "string", help: "Format output using a custom template" }, quiet: { type: "bool", short: "q", help: "Only display volume names" } },
    min: 0,
    max: 0,
  },
  async (ctx, { values: v }) => {
    const r = await ctx.client.json<{ Volumes: Volume[] | null }>("GET", "/volumes", { query: { filters: filtersParam(v.filter as string[] | undefined) } });
    const vols = (r.Volumes ?? []).sort((a, b) => a.Name.localeCompare(b.Name));
    if (v.quiet) ctx.out.write(vols.map((x) => x.Name + "\n").join(""));
    else if (v.format) {
      const rows = vols.map((x) => ({ ...x, Labels: Object.entries(x.Labels ?? {}).map(([k, val]) => `${k}=${val}`).join(",") }));
      ctx.out.write(formatRows(v.format as string, rows, { Name: "VOLUME NAME", Driver: "DRIVER", Mountpoint: "MOUNTPOINT", Scope: "SCOPE", Labels: "LABELS" }));
    } else ctx.out.write(table([["DRIVER", "VOLUME NAME"], ...vols.map((x) => [x.Driver, x.Name])]));
    return 0;
  },
);

const inspect = verb(
  { name: "volume inspect", usage: "[OPTIONS] VOLUME [VOLUME...]", summary: "Display detailed information on one or more volumes", flags: { format: { type: "string", short: "f", help: "Format output using a custom template" } }, min: 1, max: Infinity },
  async (ctx, { values: v, positionals }) => {
    const found: unknown[] = [];
    const status = await each(ctx, positionals, async (n) => void found.push(await ctx.client.json("GET", `/volumes/${enc(n)}`)));
    ctx.out.write(v.format ? found.map((x) => render(v.format as string, x) + "\n").join("") : JSON.stringify(found, null, 4) + "\n");
    return status;
  },
);

const rm = verb(
  { name: "volume rm", usage: "[OPTIONS] VOLUME [VOLUME...]", summary: "Remove one or more volumes", flags: { force: { type: "bool", short: "f", help: "Force the removal of one or more volumes" } }, min: 1, max: Infinity },
  async (ctx, { values: v, positionals }) =>
    each(ctx, positionals, async (n) => {
      await ctx.client.request("DELETE", `/volumes/${enc(n)}`, { query: { force: v.force ? "1" : undefined } });
      ctx.out.write(n + "\n");
    }),
);

const prune = verb(
  { name: "volume prune", usage: "[OPTIONS]", summary: "Remove unused local volumes", flags: { all: { type: "bool", short: "a", help: "Remove all unused volumes, not just anonymous ones" }, filter: { type: "list", help: "Provide filter values (e.g. 'label=<label>')" }, force: { type: "bool", short: "f", help: "Do not prompt for confirmation" } }, min: 0, max: 0 },
  async (ctx, { values: v }) => {
    const warning = v.all ? "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?" : "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?";
    if (!v.force && !(await confirm(ctx, warning))) return 0;
    const r = await ctx.client.json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/volumes/prune", { query: { filters: filtersParam(v.filter as string[] | undefined, v.all ? { all: ["true"] } : {}) } });
    if (r.VolumesDeleted?.length) ctx.out.write(`Deleted Volumes:\n${r.VolumesDeleted.join("\n")}\n\n`);
    ctx.out.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed, 4)}\n`);
    return 0;
  },
);

export const VOLUME_VERBS: Record<string, Verb> = { create, ls, list: ls, inspect, rm, remove: rm, prune };
