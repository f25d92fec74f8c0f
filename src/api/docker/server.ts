/**
 * The Docker Engine API as one fetch handler: version prefix and negotiation,
 * the route table, errors as `{"message"}` with the status for their code
 * (src/api/errors.ts), and a debug log line per request.
 */
import { jsonResponse } from "../http.ts";
import type { HttpHandlers } from "../http-server.ts";
import type { Engine } from "../../engine/engine.ts";
import type { Logger } from "../../engine/logger.ts";
import { VERSION } from "../../version.ts";
import { asBerthError, errorResponse, httpStatus } from "../errors.ts";
import { tenantOf } from "../tenant.ts";
import { containerOpsRoutes } from "./container-ops.ts";
import { archiveRoutes } from "./archive.ts";
import { containerRoutes } from "./containers.ts";
import { containerHijackRoutes } from "./container-attach.ts";
import { eventRoutes } from "./events.ts";
import { imageRoutes } from "./images.ts";
import { execHijackRoutes, execRoutes } from "./exec.ts";
import { isUpgraded, matchHijack, writeBerthError, writeErrorResponse, type HijackRoute, type Hijacked } from "./hijack.ts";
import { networkRoutes } from "./networks.ts";
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

export const ROUTES: Route[] = [...systemRoutes, ...imageRoutes, ...eventRoutes, ...execRoutes, ...networkRoutes, ...volumeRoutes, ...archiveRoutes, ...containerOpsRoutes(), ...containerRoutes];

/** Routes that take the connection over (attach, exec start); see hijack.ts. */
export const HIJACK_ROUTES: HijackRoute[] = [...execHijackRoutes, ...containerHijackRoutes];

export function commonHeaders(): Headers {
  return new Headers({ "API-Version": API_MAX, OSType: "linux", Server: `berthd/${VERSION} (linux)` });
}

function makeCtx(deps: ApiDeps, req: Request, url: URL, params: string[], version: string, headers: Headers): Ctx {
  return {
    req,
    url,
    query: url.searchParams,
    params,
    version,
    tenant: tenantOf(req),
    engine: deps.engine,
    log: deps.log,
    headers,
    signal: AbortSignal.any([req.signal, deps.giveUp]),
    stopping: deps.stopping,
    busy: deps.busy,
  };
}

/**
 * Upgraded requests (`Connection: Upgrade`): the hijack table, version
 * prefix as for plain requests. Errors before the switch are HTTP answers;
 * after it the connection is closed. The connection counts as work in flight
 * until it ends.
 */
export function dockerHijack(deps: ApiDeps, routes: HijackRoute[] = HIJACK_ROUTES): (req: Request, conn: Hijacked) => Promise<void> {
  return async (req, conn) => {
    const started = performance.now();
    const url = new URL(req.url);
    const headers = commonHeaders();
    const release = deps.busy();
    let outcome = "upgraded";
    try {
      const { version: requested, path } = splitVersion(url.pathname);
      const version = negotiate(requested);
      const m = matchHijack(routes, req.method, path);
      if (!m) {
        outcome = "404";
        return writeErrorResponse(conn.socket, 404, "page not found", headers);
      }
      await m.route.handler(makeCtx(deps, req, url, m.params, version, headers), conn);
    } catch (e) {
      const err = asBerthError(e);
      outcome = err.code;
      if (httpStatus(err.code) >= 500) deps.log.error("hijacked request failed", { method: req.method, path: url.pathname, error: err.message, code: err.code });
      if (isUpgraded(conn.socket)) conn.socket.destroy();
      else writeBerthError(conn.socket, err, headers);
    } finally {
      release();
      if (deps.log.enabled("debug")) deps.log.debug("hijacked request", { method: req.method, path: url.pathname, outcome, ms: Math.round(performance.now() - started) });
    }
  };
}

/** Both halves, for the daemon's HTTP server. */
export function dockerHandlers(deps: ApiDeps): HttpHandlers {
  return { fetch: dockerApi(deps), upgrade: dockerHijack(deps) };
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
        const ctx = makeCtx(deps, req, url, m.params, version, headers);
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
