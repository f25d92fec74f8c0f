/**
 * docker cp and docker export: HEAD/GET/PUT /containers/{id}/archive and GET
 * /containers/{id}/export, thin adapters over engine/containers/archive.ts.
 * The container comes from a lookup (the engine's container service by
 * default; tests inject their own) and its rootfs is mounted if it is not.
 */
import { isMountPoint } from "../../engine/storage/mount.ts";
import { archivePath, exportRootfs, extractArchive, statPath, viewOf, type PathStat } from "../../engine/containers/archive.ts";
import type { ContainerRecord } from "../../engine/containers/model.ts";
import { BerthError, invalidArgument, notFound } from "../../errors.ts";
import { boolParam } from "./params.ts";
import { route, type Ctx, type Route } from "./router.ts";
import { byteStream } from "./stream.ts";

export interface ArchiveDeps {
  /** the tenant's container by id, prefix or name (NotFound otherwise) */
  lookup(ctx: Ctx, ref: string): ContainerRecord;
  /** make sure the container's rootfs is mounted; returns the record to use */
  mountRootfs(ctx: Ctx, rec: ContainerRecord): Promise<ContainerRecord>;
}

export const engineArchiveDeps: ArchiveDeps = {
  lookup: (ctx, ref) => ctx.engine.containers.get(ctx.tenant, ref),
  mountRootfs: async (ctx, rec) => {
    if (!isMountPoint(rec.rootfs)) await ctx.engine.snapshots.mount(rec.Id, rec.rootfs);
    return rec;
  },
};

const STAT_HEADER = "X-Docker-Container-Path-Stat";

function statHeader(s: PathStat): string {
  return Buffer.from(JSON.stringify(s)).toString("base64");
}

function pathParam(ctx: Ctx): string {
  const p = ctx.query.get("path");
  if (p === null || p === "") throw invalidArgument("path: required");
  return p;
}

/** NotFound for a path gets docker's wording with the container's name. */
function inContainer<T>(ref: string, path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BerthError && e.code === "NotFound") throw notFound(`Could not find the file ${path} in container ${ref}`);
    throw e;
  }
}

async function body(ctx: Ctx): Promise<AsyncIterable<Uint8Array>> {
  if (!ctx.req.body) return (async function* () {})();
  return ctx.req.body as unknown as AsyncIterable<Uint8Array>;
}

export function makeArchiveRoutes(deps: ArchiveDeps): Route[] {
  const container = async (ctx: Ctx) => deps.mountRootfs(ctx, deps.lookup(ctx, ctx.params[0]!));
  return [
    route("HEAD", "/containers/{id}/archive", async (ctx) => {
      const rec = await container(ctx);
      const path = pathParam(ctx);
      const st = inContainer(ctx.params[0]!, path, () => statPath(viewOf(rec), path));
      const headers = new Headers(ctx.headers);
      headers.set(STAT_HEADER, statHeader(st));
      return new Response(null, { status: 200, headers });
    }),
    route("GET", "/containers/{id}/archive", async (ctx) => {
      const rec = await container(ctx);
      const path = pathParam(ctx);
      const { stat, stream } = inContainer(ctx.params[0]!, path, () => archivePath(viewOf(rec), path));
      const headers = new Headers(ctx.headers);
      headers.set(STAT_HEADER, statHeader(stat));
      headers.set("content-type", "application/x-tar");
      return new Response(byteStream(stream, new AbortController(), ctx.busy()), { status: 200, headers });
    }),
    route("PUT", "/containers/{id}/archive", async (ctx) => {
      const rec = await container(ctx);
      const path = pathParam(ctx);
      const src = await body(ctx);
      const opts = { noOverwriteDirNonDir: boolParam(ctx.query, "noOverwriteDirNonDir"), copyUIDGID: boolParam(ctx.query, "copyUIDGID") };
      await extractArchive(viewOf(rec), path, src, opts).catch((e) => {
        if (e instanceof BerthError && e.code === "NotFound") throw notFound(`Could not find the file ${path} in container ${ctx.params[0]}`);
        throw e;
      });
      return new Response(null, { status: 200, headers: ctx.headers });
    }),
    route("GET", "/containers/{id}/export", async (ctx) => {
      const rec = await container(ctx);
      const headers = new Headers(ctx.headers);
      headers.set("content-type", "application/x-tar");
      return new Response(byteStream(exportRootfs(rec.rootfs), new AbortController(), ctx.busy()), { status: 200, headers });
    }),
  ];
}

/** The routes berthd serves (listed before containerRoutes: its /containers/{name} placeholder would match first). */
export const archiveRoutes: Route[] = makeArchiveRoutes(engineArchiveDeps);
