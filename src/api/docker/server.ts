/**
 * The Docker Engine API as one fetch handler: version prefix and negotiation,
 * the route table, errors as `{"message"}` with the status for their code
 * (src/api/errors.ts), and a debug log line per request.
 */
import { jsonResponse } from "../http.ts";
import type { Engine } from "../../engine/engine.ts";
import type { Logger } from "../../engine/logger.ts";
import { VERSION } from "../../version.ts";
import { asBerthError, errorResponse, httpStatus } from "../errors.ts";
import { tenantOf } from "../tenant.ts";
import { archiveRoutes } from "./archive.ts";
import { containerRoutes } from "./containers.ts";
import { eventRoutes } from "./events.ts";
import { imageRoutes } from "./images.ts";
import { match, type Ctx, type Route } from "./router.ts";
import { systemRoutes } from "./system.ts";
import { volumeRoutes } from "./volumes.ts";
import { API_MAX, negotiate, splitVersion } from "./version.ts";

export interface ApiDeps {
  engine: Engine;
  log: Logger;
  /** aborted when the daemon starts shutting down */
  stopping: AbortSignal;
  /** aborted when the daemon stops waiting for in-flight work */
  giveUp: AbortSignal;
  /** count work in flight; call the result when it ends */
  busy: () => () => void;
}

export const ROUTES: Route[] = [...systemRoutes, ...imageRoutes, ...eventRoutes, ...volumeRoutes, ...archiveRoutes, ...containerRoutes];

export function commonHeaders(): Headers {
  return new Headers({ "API-Version": API_MAX, OSType: "linux", Server: `berthd/${VERSION} (linux)` });
}

export function dockerApi(deps: ApiDeps, routes: Route[] = ROUTES): (req: Request) => Promise<Response> {
  return async (req) => {
    const started = performance.now();
    const url = new URL(req.url);
    const headers = commonHeaders();
    const release = deps.busy();
    let res: Response;
    try {
      const { version: requested, path } = splitVersion(url.pathname);
      const version = negotiate(requested);
      const m = match(routes, req.method, path);
      if (!m) res = jsonResponse({ message: "page not found" }, 404, headers);
      else if ("methodNotAllowed" in m) res = jsonResponse({ message: `method ${req.method} not allowed for ${path}` }, 405, headers);
      else {
        const ctx: Ctx = {
          req,
          url,
          query: url.searchParams,
          params: m.params,
          version,
          tenant: tenantOf(req),
          engine: deps.engine,
          log: deps.log,
          headers,
          signal: AbortSignal.any([req.signal, deps.giveUp]),
          stopping: deps.stopping,
          busy: deps.busy,
        };
        res = await m.route.handler(ctx);
      }
    } catch (e) {
      const err = asBerthError(e);
      if (httpStatus(err.code) >= 500) deps.log.error("request failed", { method: req.method, path: url.pathname, error: err.message, code: err.code });
      res = errorResponse(err, headers);
    } finally {
      release();
    }
    if (deps.log.enabled("debug"))
      deps.log.debug("request", { method: req.method, path: url.pathname, query: url.search || undefined, status: res.status, ms: Math.round(performance.now() - started) });
    return res;
  };
}
