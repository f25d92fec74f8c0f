/** berth images, inspect, history, tag, rmi, image prune. */
import { BerthError, invalidArgument } from "../../errors.ts";
import { humanSize } from "../../api/docker/jsonmessage.ts";
import { parseReference, familiarName } from "../../engine/images/reference.ts";
import { filtersParam, parse, shortId, type Context, type Verb } from "./context.ts";
import { ago, formatRows, render, table } from "./format.ts";

interface Summary {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
}

const size = (n: number) => humanSize(n, 3);
const enc = encodeURIComponent;

/** One row per tag, as docker images shows them (dangling: <none>). */
function imageRows(images: Summary[], noTrunc: boolean) {
  const rows: Record<string, string>[] = [];
  for (const i of images) {
    const id = noTrunc ? i.Id : shortId(i.Id);
    const base = { ID: id, CreatedSince: ago(i.Created), CreatedAt: new Date(i.Created * 1000).toISOString(), Size: size(i.Size) };
    const digests = i.RepoDigests ?? [];
    const digestOf = (repo: string) => digests.find((d) => d.startsWith(repo + "@"))?.split("@")[1] ?? "<none>";
    const tags = i.RepoTags ?? [];
    if (!tags.length) {
      if (digests.length) for (const d of digests) rows.push({ Repository: d.split("@")[0]!, Tag: "<none>", Digest: d.split("@")[1]!, ...base });
      else rows.push({ Repository: "<none>", Tag: "<none>", Digest: "<none>", ...base });
      continue;
    }
    for (const t of tags) {
      const c = t.lastIndexOf(":");
      const repo = t.slice(0, c);
      rows.push({ Repository: repo, Tag: t.slice(c + 1), Digest: digestOf(repo), ...base });
    }
  }
  return rows;
}

export const images: Verb = async (ctx, argv) => {
  const { values: v, positionals } = parse("images", argv, {
    all: { type: "boolean", short: "a" },
    digests: { type: "boolean" },
    filter: { type: "string", short: "f", multiple: true },
    format: { type: "string" },
    "no-trunc": { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
  }, { min: 0, max: 1, usage: "[OPTIONS] [REPOSITORY[:TAG]]" });
  const filters = filtersParam(v.filter, positionals[0] ? { reference: [positionals[0]] } : {});
  const list = await ctx.client.json<Summary[]>("GET", "/images/json", { query: { all: v.all ? "1" : undefined, filters } });
  const rows = imageRows(list, !!v["no-trunc"]);
  if (v.quiet) {
    ctx.out.write(rows.map((r) => r.ID + "\n").join(""));
    return 0;
  }
  if (v.format) {
    ctx.out.write(formatRows(v.format, rows, { Repository: "REPOSITORY", Tag: "TAG", Digest: "DIGEST", ID: "IMAGE ID", CreatedSince: "CREATED", CreatedAt: "CREATED AT", Size: "SIZE" }));
    return 0;
  }
  const head = ["REPOSITORY", "TAG", ...(v.digests ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"];
  ctx.out.write(table([head, ...rows.map((r) => [r.Repository!, r.Tag!, ...(v.digests ? [r.Digest!] : []), r.ID!, r.CreatedSince!, r.Size!])]));
  return 0;
};

/** Run `f` for each name; print errors as they come; 1 if any failed (docker's behaviour for multi-argument verbs). */
async function each(ctx: Context, names: string[], f: (n: string) => Promise<void>): Promise<number> {
  let status = 0;
  for (const n of names) {
    try {
      await f(n);
    } catch (e) {
      if (!(e instanceof BerthError)) throw e;
      ctx.err(`berth: ${e.message}\n`);
      status = 1;
    }
  }
  return status;
}

export const inspect: Verb = async (ctx, argv) => {
  const { values: v, positionals } = parse("inspect", argv, { format: { type: "string", short: "f" }, type: { type: "string" } }, { min: 1, max: Infinity, usage: "[OPTIONS] IMAGE [IMAGE...]" });
  if (v.type !== undefined && v.type !== "image") throw invalidArgument(`inspect: --type ${v.type}: only images can be inspected yet`);
  const found: unknown[] = [];
  const status = await each(ctx, positionals, async (n) => {
    found.push(await ctx.client.json("GET", `/images/${enc(n)}/json`));
  });
  if (v.format) ctx.out.write(found.map((i) => render(v.format!, i) + "\n").join(""));
  else ctx.out.write(JSON.stringify(found, null, 4) + "\n");
  return status;
};

interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Size: number;
  Comment: string;
  Tags: string[] | null;
}

export const history: Verb = async (ctx, argv) => {
  const { values: v, positionals } = parse("history", argv, {
    format: { type: "string" },
    human: { type: "boolean", short: "H", default: true },
    "no-trunc": { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
  }, { min: 1, max: 1, usage: "[OPTIONS] IMAGE" });
  const items = await ctx.client.json<HistoryItem[]>("GET", `/images/${enc(positionals[0]!)}/history`);
  const noTrunc = !!v["no-trunc"];
  const rows = items.map((h) => {
    const by = h.CreatedBy.replace(/\s+/g, " ");
    return {
      ID: h.Id === "<missing>" || noTrunc ? h.Id : shortId(h.Id),
      CreatedSince: v.human ? ago(h.Created) : new Date(h.Created * 1000).toISOString(),
      CreatedAt: new Date(h.Created * 1000).toISOString(),
      CreatedBy: noTrunc || by.length <= 45 ? by : by.slice(0, 44) + "…",
      Size: v.human ? size(h.Size) : String(h.Size),
      Comment: h.Comment,
    };
  });
  if (v.quiet) ctx.out.write(rows.map((r) => r.ID + "\n").join(""));
  else if (v.format) ctx.out.write(formatRows(v.format, rows, { ID: "IMAGE", CreatedSince: "CREATED", CreatedAt: "CREATED AT", CreatedBy: "CREATED BY", Size: "SIZE", Comment: "COMMENT" }));
  else ctx.out.write(table([["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], ...rows.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment])]));
  return 0;
};

export const tag: Verb = async (ctx, argv) => {
  const { positionals } = parse("tag", argv, {}, { min: 2, max: 2, usage: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]" });
  const target = parseReference(positionals[1]!, { defaultTag: false });
  if (target.digest) throw invalidArgument(`tag: ${positionals[1]}: refusing to create a tag with a digest reference`);
  await ctx.client.request("POST", `/images/${enc(positionals[0]!)}/tag`, { query: { repo: familiarName(target.name), tag: target.tag ?? "latest" } });
  return 0;
};

type DeleteItem = { Untagged?: string; Deleted?: string };

export const rmi: Verb = async (ctx, argv) => {
  const { values: v, positionals } = parse("rmi", argv, { force: { type: "boolean", short: "f" }, "no-prune": { type: "boolean" } }, { min: 1, max: Infinity, usage: "[OPTIONS] IMAGE [IMAGE...]" });
  return each(ctx, positionals, async (n) => {
    const items = await ctx.client.json<DeleteItem[]>("DELETE", `/images/${enc(n)}`, { query: { force: v.force ? "1" : undefined, noprune: v["no-prune"] ? "1" : undefined } });
    for (const i of items) ctx.out.write(i.Untagged !== undefined ? `Untagged: ${i.Untagged}\n` : `Deleted: ${i.Deleted}\n`);
  });
};

async function confirm(ctx: Context, question: string): Promise<boolean> {
  ctx.out.write(`${question} [y/N] `);
  for await (const line of console) return /^y(es)?$/i.test(line.trim());
  return false;
}

export const prune: Verb = async (ctx, argv) => {
  const { values: v } = parse("image prune", argv, { all: { type: "boolean", short: "a" }, force: { type: "boolean", short: "f" }, filter: { type: "string", multiple: true } }, { min: 0, max: 0, usage: "[OPTIONS]" });
  const warning = v.all
    ? "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?"
    : "WARNING! This will remove all dangling images.\nAre you sure you want to continue?";
  if (!v.force && !(await confirm(ctx, warning))) return 0;
  const res = await ctx.client.json<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }>("POST", "/images/prune", {
    query: { filters: filtersParam(v.filter, v.all ? { dangling: ["false"] } : {}) },
  });
  if (res.ImagesDeleted?.length) {
    ctx.out.write("Deleted Images:\n");
    for (const i of res.ImagesDeleted) ctx.out.write(i.Untagged !== undefined ? `untagged: ${i.Untagged}\n` : `deleted: ${i.Deleted}\n`);
    ctx.out.write("\n");
  }
  ctx.out.write(`Total reclaimed space: ${humanSize(res.SpaceReclaimed, 4)}\n`);
  return 0;
};
