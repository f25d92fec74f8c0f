/**
 * /volumes: docker's volume API (list, create, inspect, remove, prune) over
 * the engine's VolumeStore, for the caller's tenant.
 */
import { jsonResponse } from "../http.ts";
import { boolFilter, checkFilterKeys, filterValues, labelFilters, parseFilters } from "./filters.ts";
import { boolParam, jsonBody } from "./params.ts";
import { route, type Route } from "./router.ts";
import { versionLess } from "./version.ts";

export const volumeRoutes: Route[] = [
  route("GET", "/volumes", (ctx) => {
    const f = parseFilters(ctx.query.get("filters"));
    checkFilterKeys(f, ["name", "driver", "label", "label!", "dangling"]);
    const { label, labelNot } = labelFilters(f);
    const Volumes = ctx.engine.volumes.list(ctx.tenant, {
      name: filterValues(f, "name"),
      driver: filterValues(f, "driver"),
      label,
      labelNot,
      dangling: boolFilter(f, "dangling"),
    });
    return jsonResponse({ Volumes, Warnings: [] }, 200, ctx.headers);
  }),
  route("POST", "/volumes/create", async (ctx) => {
    const body = await jsonBody(ctx.req);
    const v = ctx.engine.volumes.create(ctx.tenant, body as never);
    return jsonResponse(v, 201, ctx.headers);
  }),
  route("POST", "/volumes/prune", (ctx) => {
    const f = parseFilters(ctx.query.get("filters"));
    checkFilterKeys(f, ["label", "label!", "all"]);
    const { label, labelNot } = labelFilters(f);
    // API < 1.42: every unused volume; since 1.42 anonymous ones unless all=true
    const all = versionLess(ctx.version, "1.42") || boolFilter(f, "all") === true;
    return jsonResponse(ctx.engine.volumes.prune(ctx.tenant, { all, label, labelNot }), 200, ctx.headers);
  }),
  route("GET", "/volumes/{name}", (ctx) => jsonResponse(ctx.engine.volumes.inspect(ctx.tenant, ctx.params[0]!), 200, ctx.headers)),
  route("DELETE", "/volumes/{name}", (ctx) => {
    ctx.engine.volumes.remove(ctx.tenant, ctx.params[0]!, { force: boolParam(ctx.query, "force") });
    return new Response(null, { status: 204, headers: ctx.headers });
  }),
];
