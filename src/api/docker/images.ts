/**
 * /images/* of the Docker Engine API: parse the request, call the engine's
 * ImageService for the caller's tenant, shape the answer. No policy here.
 */
import { jsonResponse } from "../http.ts";
import { invalidArgument } from "../../errors.ts";
import { familiarString, formatReference, parseReference } from "../../engine/images/reference.ts";
import { credentialsFromRegistryAuth } from "../../engine/registry/index.ts";
import { errorResponse } from "../errors.ts";
import { boolFilter, checkFilterKeys, filterValue, filterValues, labelFilters, parseFilters } from "./filters.ts";
import { deleteItem, historyItem, imageInspect, imageSummary } from "./image-shapes.ts";
import { progressMessage, type JSONMessage } from "./jsonmessage.ts";
import { boolParam } from "./params.ts";
import { route, type Ctx, type Route } from "./router.ts";
import { byteStream, jsonStream } from "./stream.ts";
import { versionLess } from "./version.ts";

const LIST_FILTERS = ["dangling", "label", "label!", "before", "since", "reference", "until"] as const;
const PRUNE_FILTERS = ["dangling", "label", "label!", "until"] as const;

const json = (ctx: Ctx, body: unknown, status = 200) => jsonResponse(body, status, ctx.headers);

/** Abort work when the client goes away or the daemon stops waiting. */
function workAbort(ctx: Ctx): AbortController {
  const a = new AbortController();
  if (ctx.signal.aborted) a.abort();
  else ctx.signal.addEventListener("abort", () => a.abort(), { once: true });
  return a;
}

function streamOpts(ctx: Ctx, abort: AbortController, hold?: (m: JSONMessage) => boolean) {
  return { headers: ctx.headers, abort, hold, errorResponse: (e: unknown) => errorResponse(e, ctx.headers), done: ctx.busy() };
}

function body(ctx: Ctx): AsyncIterable<Uint8Array> {
  if (!ctx.req.body) throw invalidArgument("body: empty, want a tar archive");
  return ctx.req.body as unknown as AsyncIterable<Uint8Array>;
}

function list(ctx: Ctx): Response {
  const f = parseFilters(ctx.query.get("filters"));
  // API < 1.41: `filter=<reference pattern>`
  const legacy = ctx.query.get("filter");
  if (legacy && versionLess(ctx.version, "1.41")) f.set("reference", [...(f.get("reference") ?? []), legacy]);
  checkFilterKeys(f, LIST_FILTERS);
  const images = ctx.engine.images.list(ctx.tenant, {
    all: boolParam(ctx.query, "all"),
    dangling: boolFilter(f, "dangling"),
    reference: filterValues(f, "reference"),
    before: filterValue(f, "before"),
    since: filterValue(f, "since"),
    until: filterValue(f, "until"),
    ...labelFilters(f),
  });
  return json(ctx, images.map((i) => imageSummary(i)));
}

function inspect(ctx: Ctx): Response {
  const img = ctx.engine.images.inspect(ctx.tenant, ctx.params[0]!);
  return json(ctx, imageInspect(img, ctx.version));
}

function history(ctx: Ctx): Response {
  return json(ctx, ctx.engine.images.history(ctx.tenant, ctx.params[0]!).map(historyItem));
}

function tag(ctx: Ctx): Response {
  const repo = ctx.query.get("repo") ?? "";
  if (!repo) throw invalidArgument("repo: missing (the new reference's repository)");
  ctx.engine.images.tag(ctx.tenant, ctx.params[0]!, repo, ctx.query.get("tag") || undefined);
  return new Response(null, { status: 201, headers: ctx.headers });
}

function remove(ctx: Ctx): Response {
  const items = ctx.engine.images.remove(ctx.tenant, ctx.params[0]!, { force: boolParam(ctx.query, "force"), noprune: boolParam(ctx.query, "noprune") });
  return json(ctx, items.map(deleteItem));
}

function prune(ctx: Ctx): Response {
  const f = parseFilters(ctx.query.get("filters"));
  checkFilterKeys(f, PRUNE_FILTERS);
  const res = ctx.engine.images.prune(ctx.tenant, { danglingOnly: boolFilter(f, "dangling") ?? true, until: filterValue(f, "until"), ...labelFilters(f) });
  return json(ctx, { ImagesDeleted: res.deleted.length ? res.deleted.map(deleteItem) : null, SpaceReclaimed: res.spaceReclaimed });
}

function load(ctx: Ctx): Promise<Response> {
  const src = body(ctx);
  const abort = workAbort(ctx);
  return jsonStream(async (send) => {
    const res = await ctx.engine.images.load(ctx.tenant, src);
    const tagged = new Set<string>();
    for (const ref of res.refs) {
      send({ stream: `Loaded image: ${familiarString(ref)}\n` });
      const img = res.images.find((i) => i.repoTags.includes(ref) || i.repoDigests.includes(ref));
      if (img) tagged.add(img.id);
    }
    for (const img of res.images) if (!tagged.has(img.id)) send({ stream: `Loaded image ID: ${img.id}\n` });
  }, streamOpts(ctx, abort));
}

function save(ctx: Ctx, names: string[]): Response {
  const abort = workAbort(ctx);
  const gen = ctx.engine.images.save(ctx.tenant, names);
  const headers = new Headers(ctx.headers);
  headers.set("content-type", "application/x-tar");
  return new Response(byteStream(gen, abort, ctx.busy()), { status: 200, headers });
}

/** POST /images/create: pull (fromImage) or import (fromSrc). */
function create(ctx: Ctx): Promise<Response> {
  const q = ctx.query;
  const fromImage = q.get("fromImage") ?? "";
  const fromSrc = q.get("fromSrc") ?? "";
  if (fromImage && fromSrc) throw invalidArgument("fromImage and fromSrc: give one, not both");
  if (fromImage) return pullImage(ctx, fromImage, q.get("tag") ?? "");
  if (fromSrc) return importImage(ctx, fromSrc);
  throw invalidArgument("fromImage or fromSrc: one is required");
}

function pullRef(fromImage: string, tag: string): string {
  const r = parseReference(fromImage, { defaultTag: false });
  if (tag) {
    if (r.digest || r.tag !== undefined) throw invalidArgument(`tag: fromImage ${fromImage} already names a tag or digest`);
    return tag.startsWith("sha256:") ? `${r.name}@${tag}` : `${r.name}:${tag}`;
  }
  return formatReference(parseReference(fromImage));
}

function pullImage(ctx: Ctx, fromImage: string, tag: string): Promise<Response> {
  const ref = pullRef(fromImage, tag);
  const credentials = credentialsFromRegistryAuth(ctx.req.headers.get("x-registry-auth"));
  const platform = ctx.query.get("platform") ?? "";
  const abort = workAbort(ctx);
  // "Pulling from" is held back until the manifest has been found, so a missing image or refused credentials are an HTTP error
  const hold = (m: JSONMessage) => typeof m.status === "string" && m.status.startsWith("Pulling from ");
  return jsonStream(async (send) => {
    await ctx.engine.images.pull(ctx.tenant, ref, { credentials, platform, onProgress: (e) => send(progressMessage(e)), signal: abort.signal });
  }, streamOpts(ctx, abort, hold));
}

function importImage(ctx: Ctx, fromSrc: string): Promise<Response> {
  if (fromSrc !== "-") throw invalidArgument(`fromSrc: only "-" (the request body) is supported, not ${JSON.stringify(fromSrc)}`);
  const q = ctx.query;
  const src = body(ctx);
  const abort = workAbort(ctx);
  const opts = {
    repo: q.get("repo") || undefined,
    tag: q.get("tag") || undefined,
    message: q.get("message") ?? undefined,
    changes: q.getAll("changes").filter((c) => c !== ""),
    platform: q.get("platform") || undefined,
  };
  return jsonStream(async (send) => {
    const img = await ctx.engine.images.import(ctx.tenant, src, opts);
    send({ status: img.id });
  }, streamOpts(ctx, abort));
}

function pushImage(ctx: Ctx): Promise<Response> {
  const name = ctx.params[0]!;
  const tag = ctx.query.get("tag") ?? "";
  const credentials = credentialsFromRegistryAuth(ctx.req.headers.get("x-registry-auth"));
  const r = parseReference(name, { defaultTag: false });
  const abort = workAbort(ctx);
  // held back until the first layer event, so a missing image or refused credentials are an HTTP error
  const first = `The push refers to repository [${r.name}]`;
  const hold = (m: JSONMessage) => m.status === first;
  return jsonStream(async (send) => {
    send({ status: first });
    const results = await ctx.engine.images.push(ctx.tenant, name, {
      tag: tag || undefined,
      allTags: !tag && r.tag === undefined,
      credentials,
      signal: abort.signal,
      onProgress: (e) => send(progressMessage(e)),
    });
    for (const res of results) {
      const ref = parseReference(res.reference);
      send({ progressDetail: {}, aux: { Tag: ref.tag ?? "", Digest: res.digest, Size: res.size } });
    }
  }, streamOpts(ctx, abort, hold));
}

export const imageRoutes: Route[] = [
  route("GET", "/images/json", list),
  route("POST", "/images/load", load),
  route("GET", "/images/get", (ctx) => save(ctx, ctx.query.getAll("names"))),
  route("POST", "/images/create", create),
  route("POST", "/images/prune", prune),
  route("GET", "/images/{name}/json", inspect),
  route("GET", "/images/{name}/history", history),
  route("GET", "/images/{name}/get", (ctx) => save(ctx, [ctx.params[0]!])),
  route("POST", "/images/{name}/tag", tag),
  route("POST", "/images/{name}/push", pushImage),
  route("DELETE", "/images/{name}", remove),
];
