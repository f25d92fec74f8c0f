/**
 * GET /containers/{id}/stats and GET /containers/{id}/top: thin adapters over
 * the engine's stats and top libraries (src/engine/containers/stats.ts,
 * top.ts). Listed before containerRoutes in the route table (first match wins).
 */
import { jsonResponse } from "../http.ts";
import { invalidArgument } from "../../errors.ts";
import type { ContainerRecord } from "../../engine/containers/model.ts";
import { statsOnce, statsStream, type StatsOptions } from "../../engine/containers/stats.ts";
import { top, type TopOptions } from "../../engine/containers/top.ts";
import { boolParam } from "./params.ts";
import { route, type Ctx, type Route } from "./router.ts";

/** What the handlers can be given instead of the real libraries' defaults (tests). */
export interface ContainerOpsDeps {
  stats?: Omit<StatsOptions, "signal">;
  top?: TopOptions;
}

const lookup = (ctx: Ctx): ContainerRecord => ctx.engine.containers.get(ctx.tenant, ctx.params[0]!);

function statsHandler(deps: ContainerOpsDeps) {
  return async (ctx: Ctx): Promise<Response> => {
    const record = lookup(ctx);
    const stream = ctx.query.has("stream") ? boolParam(ctx.query, "stream") : true;
    const oneShot = boolParam(ctx.query, "one-shot");
    if (stream && oneShot) throw invalidArgument("cannot have stream=true and one-shot=true");
    const headers = new Headers(ctx.headers);
    headers.set("content-type", "application/json");
    if (!stream) {
      const s = await statsOnce(record, { ...deps.stats, oneShot, signal: ctx.signal });
      return new Response(JSON.stringify(s) + "\n", { status: 200, headers });
    }
    const enc = new TextEncoder();
    const abort = new AbortController();
    const done = ctx.busy();
    const signal = AbortSignal.any([abort.signal, ctx.signal, ctx.stopping]);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        let open = true;
        const emit = (s: unknown) => {
          if (!open) return false;
          try {
            c.enqueue(enc.encode(JSON.stringify(s) + "\n"));
            return true;
          } catch {
            open = false;
            return false;
          }
        };
        statsStream(record, emit, { ...deps.stats, signal })
          .catch((e) => ctx.log.warn("stats stream ended", { id: record.Id, error: (e as Error).message }))
          .finally(() => {
            if (open) {
              open = false;
              try {
                c.close();
              } catch {}
            }
            done();
          });
      },
      cancel() {
        abort.abort();
      },
    });
    return new Response(body, { status: 200, headers });
  };
}

function topHandler(deps: ContainerOpsDeps) {
  return (ctx: Ctx): Response => {
    const record = lookup(ctx);
    return jsonResponse(top(record, ctx.query.get("ps_args") ?? "", deps.top), 200, ctx.headers);
  };
}

export function containerOpsRoutes(deps: ContainerOpsDeps = {}): Route[] {
  return [route("GET", "/containers/{id}/stats", statsHandler(deps)), route("GET", "/containers/{id}/top", topHandler(deps))];
}
