/**
 * /containers: thin adapters from the Docker Engine API to the container
 * service (src/engine/containers/service.ts). Errors are the service's
 * BerthErrors; "not modified" (start of a running container, stop of a
 * stopped one) is docker's 304.
 */
import { jsonResponse } from "../http.ts";
import { invalidArgument } from "../../errors.ts";
import type { ContainerService, WaitCondition } from "../../engine/containers/service.ts";
import type { CreateBody } from "../../engine/containers/model.ts";
import { selectContainers } from "../../engine/containers/list.ts";
import { inspectJson, listJson, type SizeInfo } from "./container-shapes.ts";
import { parseFilters } from "./filters.ts";
import { boolParam, intParam, jsonBody } from "./params.ts";
import { route, type Ctx, type Route } from "./router.ts";
import { diskUsage } from "../../engine/storage/disk-usage.ts";
import { encodeFrames, STDERR, STDOUT } from "./stdcopy.ts";
import { attachContentType } from "./hijack.ts";
import { byteStream } from "./stream.ts";

function service(ctx: Ctx): ContainerService {
  return ctx.engine.containerService;
}

function noContent(ctx: Ctx, status = 204): Response {
  return new Response(null, { status, headers: ctx.headers });
}

function sizeOf(ctx: Ctx, id: string, imageId: string): SizeInfo {
  const paths = ctx.engine.snapshots.paths(id);
  const rw = diskUsage(paths.upperdir);
  let image = 0;
  try {
    image = ctx.engine.imageStore.get(ctx.tenant, imageId).size;
  } catch {}
  return { SizeRw: rw, SizeRootFs: rw + image };
}

function list(ctx: Ctx): Response {
  const svc = service(ctx);
  const filters = parseFilters(ctx.query.get("filters"));
  const records = selectContainers(
    svc.list(ctx.tenant),
    { all: boolParam(ctx.query, "all"), limit: intParam(ctx.query, "limit", -1), filters },
    (ref) => svc.store.find(ctx.tenant, ref),
    (ref) => {
      try {
        return ctx.engine.images.inspect(ctx.tenant, ref).id;
      } catch {
        return undefined;
      }
    },
  );
  const size = boolParam(ctx.query, "size");
  return jsonResponse(
    records.map((r) => listJson(r, size ? sizeOf(ctx, r.Id, r.Image) : undefined)),
    200,
    ctx.headers,
  );
}

async function create(ctx: Ctx): Promise<Response> {
  const body = (await jsonBody(ctx.req)) as CreateBody;
  const name = ctx.query.get("name") ?? undefined;
  const res = await service(ctx).create(ctx.tenant, body, { name: name || undefined });
  return jsonResponse(res, 201, ctx.headers);
}

function inspect(ctx: Ctx): Response {
  const r = service(ctx).get(ctx.tenant, ctx.params[0]!);
  let paths;
  try {
    paths = ctx.engine.snapshots.paths(r.Id);
  } catch {}
  return jsonResponse(
    inspectJson(r, { paths, execIds: ctx.engine.execIdsOf(r.Id), size: boolParam(ctx.query, "size") ? sizeOf(ctx, r.Id, r.Image) : undefined }),
    200,
    ctx.headers,
  );
}

async function start(ctx: Ctx): Promise<Response> {
  const changed = await service(ctx).start(ctx.tenant, ctx.params[0]!);
  return noContent(ctx, changed ? 204 : 304);
}

function stopOptions(ctx: Ctx) {
  const t = ctx.query.get("t") ?? ctx.query.get("timeout");
  if (t !== null && t !== "" && !/^-?\d+$/.test(t)) throw invalidArgument(`t: not an integer: "${t}"`);
  return { timeout: t === null || t === "" ? undefined : Number(t), signal: ctx.query.get("signal") || undefined };
}

async function stop(ctx: Ctx): Promise<Response> {
  const changed = await service(ctx).stop(ctx.tenant, ctx.params[0]!, stopOptions(ctx));
  return noContent(ctx, changed ? 204 : 304);
}

async function restart(ctx: Ctx): Promise<Response> {
  await service(ctx).restart(ctx.tenant, ctx.params[0]!, stopOptions(ctx));
  return noContent(ctx);
}

async function kill(ctx: Ctx): Promise<Response> {
  await service(ctx).kill(ctx.tenant, ctx.params[0]!, ctx.query.get("signal") || "SIGKILL");
  return noContent(ctx);
}

async function pause(ctx: Ctx): Promise<Response> {
  await service(ctx).pause(ctx.tenant, ctx.params[0]!);
  return noContent(ctx);
}

async function unpause(ctx: Ctx): Promise<Response> {
  await service(ctx).unpause(ctx.tenant, ctx.params[0]!);
  return noContent(ctx);
}

/** docker wait: the headers go out at once (the CLI starts the container after), the status when it holds. */
function wait(ctx: Ctx): Response {
  const condition = (ctx.query.get("condition") || "not-running") as WaitCondition;
  const svc = service(ctx);
  svc.get(ctx.tenant, ctx.params[0]!); // 404 before the 200
  const done = ctx.busy();
  const result = svc.wait(ctx.tenant, ctx.params[0]!, condition, ctx.signal);
  const body = new ReadableStream<Uint8Array>({
    async start(c) {
      try {
        const r = await result;
        c.enqueue(new TextEncoder().encode(JSON.stringify(r) + "\n"));
        c.close();
      } catch (e) {
        c.enqueue(new TextEncoder().encode(JSON.stringify({ StatusCode: -1, Error: { Message: (e as Error).message } }) + "\n"));
        c.close();
      } finally {
        done();
      }
    },
  });
  const h = new Headers(ctx.headers);
  h.set("content-type", "application/json");
  return new Response(body, { status: 200, headers: h });
}

async function remove(ctx: Ctx): Promise<Response> {
  await service(ctx).remove(ctx.tenant, ctx.params[0]!, { force: boolParam(ctx.query, "force"), volumes: boolParam(ctx.query, "v") });
  return noContent(ctx);
}

async function rename(ctx: Ctx): Promise<Response> {
  await service(ctx).rename(ctx.tenant, ctx.params[0]!, ctx.query.get("name") ?? "");
  return noContent(ctx);
}

async function update(ctx: Ctx): Promise<Response> {
  const body = await jsonBody(ctx.req);
  const warnings = await service(ctx).update(ctx.tenant, ctx.params[0]!, body);
  return jsonResponse({ Warnings: warnings }, 200, ctx.headers);
}

/** docker logs: entries as written, framed per stream unless the container has a tty. */
function logs(ctx: Ctx): Response {
  const svc = service(ctx);
  const rec = svc.get(ctx.tenant, ctx.params[0]!);
  const q = ctx.query;
  const wantOut = boolParam(q, "stdout");
  const wantErr = boolParam(q, "stderr");
  if (!wantOut && !wantErr) throw invalidArgument("Bad parameters: you must choose at least one stream");
  const tailRaw = q.get("tail");
  const tail = tailRaw === null || tailRaw === "" || tailRaw === "all" ? undefined : Number(tailRaw);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw invalidArgument(`tail: not a number of lines: "${tailRaw}"`);
  const since = q.get("since");
  const until = q.get("until");
  const abort = new AbortController();
  const signal = AbortSignal.any([abort.signal, ctx.signal, ctx.stopping]);
  const entries = svc.logs(ctx.tenant, rec.Id, {
    follow: boolParam(q, "follow"),
    tail,
    since: since && since !== "0" ? unixOrDate(since) : undefined,
    until: until && until !== "0" ? unixOrDate(until) : undefined,
    signal,
  });
  const tty = Boolean(rec.Config.Tty);
  const timestamps = boolParam(q, "timestamps");
  const enc = new TextEncoder();
  async function* frames(): AsyncGenerator<Uint8Array> {
    for await (const e of entries) {
      if (e.stream === "stdout" ? !wantOut : !wantErr) continue;
      let data = e.data;
      if (timestamps) {
        const prefix = enc.encode(e.time + " ");
        const joined = new Uint8Array(prefix.length + data.length);
        joined.set(prefix);
        joined.set(data, prefix.length);
        data = joined;
      }
      yield tty ? data : encodeFrames(e.stream === "stdout" ? STDOUT : STDERR, data);
    }
  }
  const h = new Headers(ctx.headers);
  h.set("content-type", attachContentType(tty, ctx.version));
  return new Response(byteStream(frames(), abort, ctx.busy()), { status: 200, headers: h });
}

/** docker's since/until: unix seconds (with fraction) or an RFC 3339 time. */
function unixOrDate(v: string): Date {
  if (/^\d+(\.\d+)?$/.test(v)) return new Date(Number(v) * 1000);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`bad time: "${v}"`);
  return new Date(t);
}

/** docker's terminal resize (the CLI sends it on attach and on SIGWINCH) */
async function resize(ctx: Ctx): Promise<Response> {
  const h = intParam(ctx.query, "h", 0);
  const w = intParam(ctx.query, "w", 0);
  if (h < 0 || w < 0 || h > 0xffff || w > 0xffff) throw invalidArgument(`resize: bad size ${h}x${w}`);
  await service(ctx).resize(ctx.tenant, ctx.params[0]!, h, w);
  return new Response(null, { status: 200, headers: ctx.headers });
}

async function prune(ctx: Ctx): Promise<Response> {
  const res = await service(ctx).prune(ctx.tenant, parseFilters(ctx.query.get("filters")));
  return jsonResponse({ ContainersDeleted: res.deleted.length ? res.deleted : null, SpaceReclaimed: res.spaceReclaimed }, 200, ctx.headers);
}

/** POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes= (body: config over the container's) */
async function commit(ctx: Ctx): Promise<Response> {
  const q = ctx.query;
  const container = q.get("container") ?? "";
  if (!container) throw invalidArgument("container: required");
  const body = await jsonBody(ctx.req);
  const id = await service(ctx).commit(ctx.tenant, container, {
    repo: q.get("repo") || undefined,
    tag: q.get("tag") || undefined,
    comment: q.get("comment") ?? undefined,
    author: q.get("author") ?? undefined,
    changes: q.getAll("changes").filter((c) => c !== ""),
    pause: q.get("pause") === null || q.get("pause") === "" ? true : boolParam(q, "pause"),
    config: Object.keys(body).length ? body : undefined,
  });
  return jsonResponse({ Id: id }, 201, ctx.headers);
}

export const containerRoutes: Route[] = [
  route("POST", "/commit", commit),
  route("GET", "/containers/json", list),
  route("POST", "/containers/create", create),
  route("POST", "/containers/prune", prune),
  route("GET", "/containers/{id}/json", inspect),
  route("POST", "/containers/{id}/start", start),
  route("POST", "/containers/{id}/stop", stop),
  route("POST", "/containers/{id}/restart", restart),
  route("POST", "/containers/{id}/kill", kill),
  route("POST", "/containers/{id}/pause", pause),
  route("POST", "/containers/{id}/unpause", unpause),
  route("POST", "/containers/{id}/wait", wait),
  route("POST", "/containers/{id}/rename", rename),
  route("POST", "/containers/{id}/update", update),
  route("DELETE", "/containers/{id}", remove),
  route("GET", "/containers/{id}/logs", logs),
  route("POST", "/containers/{id}/resize", resize),
  route("POST", "/build", (ctx) => jsonResponse({ message: `berthd: builds are not implemented (${ctx.req.method} ${ctx.url.pathname})` }, 501, ctx.headers)),
];
