/**
 * The container verbs that are one API call each (or one per name): ps,
 * stop, restart, kill, rm, wait, pause, unpause, rename, update, port, top,
 * export, container prune, and inspect (containers first, then images,
 * volumes and networks, as docker does).
 */
import { closeSync, openSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { humanSize } from "../../api/docker/jsonmessage.ts";
import { DaemonError } from "./client.ts";
import { filtersParam, shortId, type Context } from "./context.ts";
import { CliError, each, verb, type FlagSpec, type FlagValues } from "./flags.ts";
import { ago, formatRows, render, table } from "./format.ts";
import { parseBytes, parseRestart } from "./run-flags.ts";
import { writeAll } from "./session.ts";

const enc = encodeURIComponent;
const b = (help: string, short?: string): FlagSpec => ({ type: "bool", help, short });
const s = (help: string, short?: string): FlagSpec => ({ type: "string", help, short });
const l = (help: string, short?: string): FlagSpec => ({ type: "list", help, short });
const str = (v: FlagValues, k: string) => v[k] as string | undefined;

// ---------------------------------------------------------------- ps

interface Port {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: Port[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Record<string, string> | null;
  State: string;
  Status: string;
  Mounts?: { Name?: string; Source?: string; Driver?: string }[];
  NetworkSettings?: { Networks?: Record<string, unknown> };
}

/** docker's ports column: "0.0.0.0:8080->80/tcp, 443/tcp" (host ports of a run of container ports folded into ranges is left out) */
export function portsText(ports: Port[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  const sorted = [...ports].sort((a, b) => a.PrivatePort - b.PrivatePort || a.Type.localeCompare(b.Type) || (a.IP ?? "").localeCompare(b.IP ?? ""));
  for (const p of sorted) {
    const t = p.PublicPort ? `${p.IP ? (p.IP.includes(":") ? `[${p.IP}]` : p.IP) + ":" : ""}${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`;
    if (!seen.has(t)) out.push(t);
    seen.add(t);
  }
  return out.join(", ");
}

/** go-units' Ellipsis-like truncation docker's ps uses for the command */
const ellipsis = (x: string, n: number) => (x.length <= n ? x : x.slice(0, n - 1) + "…");

function psRows(list: ContainerSummary[], noTrunc: boolean) {
  return list.map((c) => {
    const names = c.Names.map((n) => n.replace(/^\//, ""));
    return {
      ID: noTrunc ? c.Id : shortId(c.Id),
      Image: !noTrunc && c.Image.startsWith("sha256:") ? shortId(c.Image) : c.Image,
      Command: JSON.stringify(noTrunc ? c.Command : ellipsis(c.Command, 20)),
      CreatedAt: new Date(c.Created * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " +0000 UTC"),
      RunningFor: ago(c.Created),
      Ports: portsText(c.Ports ?? []),
      State: c.State,
      Status: c.Status,
      Size: (c.SizeRootFs ?? 0) > 0 ? `${humanSize(c.SizeRw ?? 0, 3)} (virtual ${humanSize(c.SizeRootFs!, 3)})` : humanSize(c.SizeRw ?? 0, 3),
      Names: (noTrunc ? names : names.filter((n) => !n.includes("/"))).join(","),
      Labels: Object.entries(c.Labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
      Mounts: (c.Mounts ?? []).map((m) => m.Name || m.Source || "").join(","),
      LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === "local").length),
      Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(","),
      Platform: null,
      /** {{.Label "key"}} as docker's container context has it */
      Label: (key: unknown) => c.Labels?.[String(key)] ?? "",
    };
  });
}

export const ps = verb(
  {
    name: "ps",
    usage: "[OPTIONS]",
    summary: "List containers",
    flags: {
      all: b("Show all containers (default shows just running)", "a"),
      filter: l("Filter output based on conditions provided", "f"),
      format: s("Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')"),
      last: s("Show n last created containers (includes all states)", "n"),
      latest: b("Show the latest created container (includes all states)", "l"),
      "no-trunc": b("Don't truncate output"),
      quiet: b("Only display container IDs", "q"),
      size: b("Display total file sizes", "s"),
    },
    min: 0,
    max: 0,
  },
  async (ctx, { values: v }) => {
    let limit: number | undefined;
    if (str(v, "last") !== undefined) {
      if (!/^-?\d+$/.test(str(v, "last")!)) throw new CliError(`invalid argument "${str(v, "last")}" for "-n, --last" flag: strconv.ParseInt: parsing "${str(v, "last")}": invalid syntax\nSee 'berth ps --help'.`, 125);
      limit = Number(str(v, "last"));
    }
    if (v.latest) limit = 1;
    const format = str(v, "format");
    const wantSize = v.size === true || (format !== undefined && /\.Size\b|json \.\s*\}\}/.test(format));
    const list = await ctx.client.json<ContainerSummary[]>("GET", "/containers/json", {
      query: {
        all: v.all || (limit !== undefined && limit > 0) ? "1" : undefined,
        limit: limit !== undefined && limit > 0 ? String(limit) : undefined,
        size: wantSize ? "1" : undefined,
        filters: filtersParam(v.filter as string[] | undefined),
      },
    });
    const rows = psRows(list, v["no-trunc"] === true);
    if (v.quiet) {
      ctx.out.write(rows.map((r) => r.ID + "\n").join(""));
      return 0;
    }
    const headers = { ID: "CONTAINER ID", Image: "IMAGE", Command: "COMMAND", CreatedAt: "CREATED AT", RunningFor: "CREATED", Ports: "PORTS", State: "STATE", Status: "STATUS", Size: "SIZE", Names: "NAMES", Labels: "LABELS", Mounts: "MOUNTS", Networks: "NETWORKS" };
    if (format && format !== "table") {
      ctx.out.write(formatRows(format, rows, headers));
      return 0;
    }
    const cols: (keyof typeof headers)[] = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names", ...(v.size ? (["Size"] as const) : [])];
    ctx.out.write(table([cols.map((c) => headers[c]), ...rows.map((r) => cols.map((c) => r[c]))]) || table([cols.map((c) => headers[c])]));
    return 0;
  },
);

// ---------------------------------------------------------------- lifecycle verbs

function stopVerb(name: "stop" | "restart", summary: string) {
  return verb(
    {
      name,
      usage: "[OPTIONS] CONTAINER [CONTAINER...]",
      summary,
      flags: { signal: s("Signal to send to the container", "s"), time: { ...s("Seconds to wait before killing the container", "t"), alias: ["timeout"] } },
      min: 1,
      max: Infinity,
    },
    async (ctx, { values: v, positionals }) => {
      const t = str(v, "time");
      if (t !== undefined && !/^-?\d+$/.test(t)) throw new CliError(`invalid argument "${t}" for "-t, --time" flag: strconv.ParseInt: parsing "${t}": invalid syntax\nSee 'berth ${name} --help'.`, 125);
      return each(ctx, positionals, async (n) => {
        await ctx.client.request("POST", `/containers/${enc(n)}/${name}`, { query: { t, signal: str(v, "signal") } });
        ctx.out.write(n + "\n");
      });
    },
  );
}

export const stop = stopVerb("stop", "Stop one or more running containers");
export const restart = stopVerb("restart", "Restart one or more containers");

export const kill = verb(
  { name: "kill", usage: "[OPTIONS] CONTAINER [CONTAINER...]", summary: "Kill one or more running containers", flags: { signal: s("Signal to send to the container", "s") }, min: 1, max: Infinity },
  async (ctx, { values: v, positionals }) =>
    each(ctx, positionals, async (n) => {
      await ctx.client.request("POST", `/containers/${enc(n)}/kill`, { query: { signal: str(v, "signal") } });
      ctx.out.write(n + "\n");
    }),
);

export const rm = verb(
  {
    name: "rm",
    usage: "[OPTIONS] CONTAINER [CONTAINER...]",
    summary: "Remove one or more containers",
    flags: {
      force: b("Force the removal of a running container (uses SIGKILL)", "f"),
      link: b("Remove the specified link", "l"),
      volumes: b("Remove anonymous volumes associated with the container", "v"),
    },
    min: 1,
    max: Infinity,
  },
  async (ctx, { values: v, positionals }) => {
    if (v.link) throw new CliError("--link: links are not supported", 125);
    return each(ctx, positionals, async (n) => {
      try {
        await ctx.client.request("DELETE", `/containers/${enc(n)}`, { query: { force: v.force ? "1" : undefined, v: v.volumes ? "1" : undefined } });
      } catch (e) {
        // docker rm -f of a missing container is quiet
        if (v.force && e instanceof DaemonError && e.status === 404) return;
        throw e;
      }
      ctx.out.write(n + "\n");
    });
  },
);

function simple(name: "pause" | "unpause", summary: string) {
  return verb({ name, usage: "CONTAINER [CONTAINER...]", summary, flags: {}, min: 1, max: Infinity }, async (ctx, { positionals }) =>
    each(ctx, positionals, async (n) => {
      await ctx.client.request("POST", `/containers/${enc(n)}/${name}`);
      ctx.out.write(n + "\n");
    }),
  );
}

export const pause = simple("pause", "Pause all processes within one or more containers");
export const unpause = simple("unpause", "Unpause all processes within one or more containers");

export const wait = verb(
  { name: "wait", usage: "CONTAINER [CONTAINER...]", summary: "Block until one or more containers stop, then print their exit codes", flags: {}, min: 1, max: Infinity },
  async (ctx, { positionals }) =>
    each(ctx, positionals, async (n) => {
      const r = await ctx.client.json<{ StatusCode: number; Error?: { Message?: string } | null }>("POST", `/containers/${enc(n)}/wait`);
      if (r.Error?.Message) throw new DaemonError("Internal", r.Error.Message, 500);
      ctx.out.write(`${r.StatusCode}\n`);
    }),
);

export const rename = verb({ name: "rename", usage: "CONTAINER NEW_NAME", summary: "Rename a container", flags: {}, min: 2, max: 2 }, async (ctx, { positionals }) => {
  const [from, to] = positionals as [string, string];
  if (!to.trim()) throw new CliError("Error: Neither old nor new names may be empty", 1);
  await ctx.client.request("POST", `/containers/${enc(from)}/rename`, { query: { name: to } });
  return 0;
});

export const update = verb(
  {
    name: "update",
    usage: "[OPTIONS] CONTAINER [CONTAINER...]",
    summary: "Update configuration of one or more containers",
    flags: {
      "blkio-weight": s("Block IO (relative weight), between 10 and 1000, or 0 to disable"),
      "cpu-period": s("Limit CPU CFS period"),
      "cpu-quota": s("Limit CPU CFS quota"),
      "cpu-shares": s("CPU shares (relative weight)", "c"),
      cpus: s("Number of CPUs"),
      "cpuset-cpus": s("CPUs in which to allow execution (0-3, 0,1)"),
      "cpuset-mems": s("MEMs in which to allow execution (0-3, 0,1)"),
      memory: s("Memory limit", "m"),
      "memory-reservation": s("Memory soft limit"),
      "memory-swap": s("Swap limit equal to memory plus swap: -1 to enable unlimited swap"),
      "pids-limit": s("Tune container pids limit (set -1 for unlimited)"),
      restart: s("Restart policy to apply when a container exits"),
    },
    min: 1,
    max: Infinity,
  },
  async (ctx, { values: v, positionals }) => {
    const body: Record<string, unknown> = {};
    const int = (flag: string) => {
      const x = str(v, flag)!;
      if (!/^-?\d+$/.test(x)) throw new CliError(`invalid argument "${x}" for "--${flag}" flag: strconv.ParseInt: parsing "${x}": invalid syntax\nSee 'berth update --help'.`, 125);
      return Number(x);
    };
    try {
      for (const [flag, field] of [["blkio-weight", "BlkioWeight"], ["cpu-period", "CpuPeriod"], ["cpu-quota", "CpuQuota"], ["cpu-shares", "CpuShares"], ["pids-limit", "PidsLimit"]] as const)
        if (str(v, flag) !== undefined) body[field] = int(flag);
      if (str(v, "cpus") !== undefined) {
        const c = str(v, "cpus")!;
        if (!/^\d+(\.\d+)?$/.test(c)) throw new CliError(`invalid argument "${c}" for "--cpus" flag: failed to parse ${c} as a rational number\nSee 'berth update --help'.`, 125);
        body.NanoCpus = Math.round(Number(c) * 1e9);
      }
      if (str(v, "cpuset-cpus") !== undefined) body.CpusetCpus = str(v, "cpuset-cpus");
      if (str(v, "cpuset-mems") !== undefined) body.CpusetMems = str(v, "cpuset-mems");
      if (str(v, "memory") !== undefined) body.Memory = parseBytes("-m, --memory", str(v, "memory")!);
      if (str(v, "memory-reservation") !== undefined) body.MemoryReservation = parseBytes("--memory-reservation", str(v, "memory-reservation")!);
      if (str(v, "memory-swap") !== undefined) body.MemorySwap = str(v, "memory-swap") === "-1" ? -1 : parseBytes("--memory-swap", str(v, "memory-swap")!);
      if (str(v, "restart") !== undefined) body.RestartPolicy = parseRestart("--restart", str(v, "restart")!);
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`${(e as Error).message}\nSee 'berth update --help'.`, 125);
    }
    if (!Object.keys(body).length) throw new CliError("you must provide one or more flags when using this command", 1);
    return each(ctx, positionals, async (n) => {
      const r = await ctx.client.json<{ Warnings?: string[] | null }>("POST", `/containers/${enc(n)}/update`, { body: JSON.stringify(body), headers: { "content-type": "application/json" } });
      for (const w of r.Warnings ?? []) ctx.err(`WARNING: ${w}\n`);
      ctx.out.write(n + "\n");
    });
  },
);

// ---------------------------------------------------------------- port, top, export

export const port = verb({ name: "port", usage: "CONTAINER [PRIVATE_PORT[/PROTO]]", summary: "List port mappings or a specific mapping for the container", flags: {}, min: 1, max: 2 }, async (ctx, { positionals }) => {
  const c = await ctx.client.json<{ NetworkSettings: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> } }>("GET", `/containers/${enc(positionals[0]!)}/json`);
  const ports = c.NetworkSettings.Ports ?? {};
  const hostText = (h: { HostIp: string; HostPort: string }) => `${h.HostIp.includes(":") ? `[${h.HostIp}]` : h.HostIp || "0.0.0.0"}:${h.HostPort}`;
  if (positionals[1]) {
    const [p, proto = "tcp"] = positionals[1].split("/");
    const key = `${p}/${proto}`;
    const found = ports[key];
    if (!found?.length) throw new CliError(`Error: No public port '${positionals[1]}' published for ${positionals[0]}`, 1);
    ctx.out.write(found.map((h) => hostText(h) + "\n").join(""));
    return 0;
  }
  const keys = Object.keys(ports).sort((a, b) => parseInt(a) - parseInt(b) || a.localeCompare(b));
  for (const k of keys) for (const h of ports[k] ?? []) ctx.out.write(`${k} -> ${hostText(h)}\n`);
  return 0;
});

export const top = verb({ name: "top", usage: "CONTAINER [ps OPTIONS]", summary: "Display the running processes of a container", flags: {}, min: 1, max: Infinity, stopAtPositional: true }, async (ctx, { positionals }) => {
  const [id, ...psArgs] = positionals as [string, ...string[]];
  const r = await ctx.client.json<{ Titles: string[]; Processes: string[][] }>("GET", `/containers/${enc(id)}/top`, { query: { ps_args: psArgs.length ? psArgs.join(" ") : undefined } });
  ctx.out.write(table([r.Titles, ...r.Processes], 20)); // docker's top: tabwriter min width 20
  return 0;
});

/** A response body to a file (written beside it and renamed) or to stdout (refused on a terminal). */
export async function saveBody(ctx: Context, body: ReadableStream<Uint8Array>, output: string | undefined, verbName: string): Promise<void> {
  if (!output) {
    if (ctx.out.isTTY) throw new CliError(`cowardly refusing to save to a terminal. Use the -o flag or redirect`, 1);
    for await (const c of body as unknown as AsyncIterable<Uint8Array>) writeAll(1, c); // a pipe may be non-blocking
    return;
  }
  const tmp = join(dirname(output), `.${basename(output)}.tmp-${process.pid}`);
  const fd = openSync(tmp, "w", 0o644);
  try {
    for await (const c of body as unknown as AsyncIterable<Uint8Array>) writeAll(fd, c);
    closeSync(fd);
    renameSync(tmp, output);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {}
    rmSync(tmp, { force: true });
    throw new CliError(`${verbName}: ${(e as Error).message}`, 1);
  }
}

export const exportContainer = verb(
  { name: "export", usage: "[OPTIONS] CONTAINER", summary: "Export a container's filesystem as a tar archive", flags: { output: s("Write to a file, instead of STDOUT", "o") }, min: 1, max: 1 },
  async (ctx, { values: v, positionals }) => {
    if (!str(v, "output") && ctx.out.isTTY) throw new CliError("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1);
    const res = await ctx.client.request("GET", `/containers/${enc(positionals[0]!)}/export`);
    await saveBody(ctx, res.body!, str(v, "output"), "export");
    return 0;
  },
);

// ---------------------------------------------------------------- prune

export async function confirm(ctx: Context, question: string): Promise<boolean> {
  ctx.out.write(`${question} [y/N] `);
  for await (const line of console) return /^y(es)?$/i.test(line.trim());
  return false;
}

export const prune = verb(
  { name: "container prune", usage: "[OPTIONS]", summary: "Remove all stopped containers", flags: { filter: l("Provide filter values (e.g. 'until=<timestamp>')"), force: b("Do not prompt for confirmation", "f") }, min: 0, max: 0 },
  async (ctx, { values: v }) => {
    if (!v.force && !(await confirm(ctx, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"))) return 0;
    const r = await ctx.client.json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/containers/prune", { query: { filters: filtersParam(v.filter as string[] | undefined) } });
    if (r.ContainersDeleted?.length) ctx.out.write(`Deleted Containers:\n${r.ContainersDeleted.join("\n")}\n\n`);
    ctx.out.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed, 4)}\n`);
    return 0;
  },
);

// ---------------------------------------------------------------- inspect

const KINDS = ["container", "image", "volume", "network"] as const;
type Kind = (typeof KINDS)[number];

function inspectPath(kind: Kind, ref: string, size: boolean): [string, Record<string, string | undefined>] {
  switch (kind) {
    case "container":
      return [`/containers/${enc(ref)}/json`, { size: size ? "1" : undefined }];
    case "image":
      return [`/images/${enc(ref)}/json`, {}];
    case "volume":
      return [`/volumes/${enc(ref)}`, {}];
    case "network":
      return [`/networks/${enc(ref)}`, {}];
  }
}

export const inspect = verb(
  {
    name: "inspect",
    usage: "[OPTIONS] NAME|ID [NAME|ID...]",
    summary: "Return low-level information on Docker objects",
    flags: { format: s("Format output using a custom template", "f"), size: b("Display total file sizes if the type is container", "s"), type: s("Only inspect objects of the given type (container, image, volume, network)") },
    min: 1,
    max: Infinity,
  },
  async (ctx, { values: v, positionals }) => {
    const type = str(v, "type");
    if (type !== undefined && !(KINDS as readonly string[]).includes(type)) throw new CliError(`"${type}" is not a valid value for --type`, 1);
    const kinds: readonly Kind[] = type ? [type as Kind] : KINDS;
    const found: unknown[] = [];
    let status = 0;
    for (const ref of positionals) {
      let got: unknown;
      for (const k of kinds) {
        const [path, query] = inspectPath(k, ref, v.size === true);
        try {
          got = await ctx.client.json("GET", path, { query });
          break;
        } catch (e) {
          // not this kind: try the next (404; and 400 as a bad name for that kind)
          if (!(e instanceof DaemonError) || (e.status !== 404 && e.status !== 400)) throw e;
        }
      }
      if (got === undefined) {
        ctx.err(`berth: Error: No such ${type ?? "object"}: ${ref}\n`);
        status = 1;
      } else found.push(got);
    }
    const format = str(v, "format");
    if (format) ctx.out.write(found.map((i) => (format === "json" ? JSON.stringify(i) : render(format, i)) + "\n").join(""));
    else ctx.out.write(JSON.stringify(found, null, 4) + "\n");
    return status;
  },
);
