/**
 * A small route table: method + path pattern -> handler. Patterns use
 * `{name}` for a greedy segment (image names contain "/" and ":", as in
 * dockerd's `{name:.*}`) and `{id}` for one segment.
 */
import type { Engine } from "../../engine/engine.ts";
import type { Logger } from "../../engine/logger.ts";

export interface Ctx {
  req: Request;
  url: URL;
  query: URLSearchParams;
  /** path parameters, in pattern order, URL-decoded */
  params: string[];
  /** the API version the request is served at */
  version: string;
  tenant: string;
  engine: Engine;
  log: Logger;
  /** headers every response carries (API-Version, OSType, Server) */
  headers: Headers;
  /** aborted when the client goes away or the daemon gives up waiting at shutdown */
  signal: AbortSignal;
  /** aborted when the daemon starts shutting down (streams that never end on their own stop then) */
  stopping: AbortSignal;
  /** mark work that outlives the handler (a streamed response) as in flight; call the result when it ends */
  busy(): () => void;
}

export type Handler = (ctx: Ctx) => Response | Promise<Response>;

export interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

/** A path pattern as a regular expression (`{name}` greedy, `{id}` one segment). */
export function compilePath(path: string): RegExp {
  const re = path
    .split(/(\{name\}|\{id\})/)
    .map((part) => (part === "{name}" ? "(.+)" : part === "{id}" ? "([^/]+)" : part.replace(/[.*+?^$()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${re}/?$`);
}

export function route(method: string, path: string, handler: Handler): Route {
  return { method, pattern: compilePath(path), handler };
}

export type Match = { route: Route; params: string[] } | { methodNotAllowed: true } | undefined;

export function match(routes: Route[], method: string, path: string): Match {
  let pathMatched = false;
  const m = method === "HEAD" ? ["HEAD", "GET"] : [method];
  for (const r of routes) {
    const found = r.pattern.exec(path);
    if (!found) continue;
    pathMatched = true;
    if (!m.includes(r.method)) continue;
    return { route: r, params: found.slice(1).map((p) => decodeURIComponent(p)) };
  }
  return pathMatched ? { methodNotAllowed: true } : undefined;
}
