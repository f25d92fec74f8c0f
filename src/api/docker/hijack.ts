/**
 * Hijacked routes: docker's attach and exec start take the connection over
 * (`Connection: Upgrade`, `Upgrade: tcp`) and then carry raw stdin one way and
 * output the other. A route here is matched like router.ts; its handler gets
 * the request context and the connection, checks what it needs, and then
 * either throws (the dispatcher answers with an HTTP error, as a plain
 * request would get) or calls `upgraded()` and owns the socket from then on.
 */
import type { Duplex } from "node:stream";
import { compilePath, type Ctx } from "./router.ts";
import type { Hijacked } from "../http-server.ts";
import { asBerthError, clientMessage, httpStatus } from "../errors.ts";
import { versionLess } from "./version.ts";

export type { Hijacked };

export type HijackHandler = (ctx: Ctx, conn: Hijacked) => Promise<void>;

export interface HijackRoute {
  method: string;
  pattern: RegExp;
  handler: HijackHandler;
}

export function hijackRoute(method: string, path: string, handler: HijackHandler): HijackRoute {
  return { method, pattern: compilePath(path), handler };
}

export function matchHijack(routes: HijackRoute[], method: string, path: string): { route: HijackRoute; params: string[] } | undefined {
  for (const r of routes) {
    if (r.method !== method) continue;
    const found = r.pattern.exec(path);
    if (found) return { route: r, params: found.slice(1).map((p) => decodeURIComponent(p)) };
  }
  return undefined;
}

/** raw when a TTY; multiplexed otherwise, named so from API 1.42 (older clients were told raw-stream either way) */
export function attachContentType(tty: boolean, version: string): string {
  return tty || versionLess(version, "1.42") ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
}

function headerLines(headers: Headers): string {
  let s = "";
  for (const [k, v] of headers) s += `${k}: ${v}\r\n`;
  return s;
}

const switched = new WeakSet<Duplex>();

/** Has `upgraded()` been written on this socket (errors can no longer be HTTP responses)? */
export function isUpgraded(socket: Duplex): boolean {
  return switched.has(socket);
}

/** Switch protocols: `101 UPGRADED` with docker's headers. From here the socket is a raw stream. */
export function upgraded(socket: Duplex, headers: Headers, contentType: string) {
  if (switched.has(socket)) return;
  switched.add(socket);
  const h = new Headers(headers);
  h.set("Content-Type", contentType);
  h.set("Connection", "Upgrade");
  h.set("Upgrade", "tcp");
  socket.write(`HTTP/1.1 101 UPGRADED\r\n${headerLines(h)}\r\n`);
}

const REASON: Record<number, string> = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 500: "Internal Server Error", 503: "Service Unavailable" };

/** An HTTP error response on a connection that was not upgraded, then close it. */
export function writeErrorResponse(socket: Duplex, status: number, message: string, headers: Headers) {
  const body = JSON.stringify({ message });
  const h = new Headers(headers);
  h.set("Content-Type", "application/json");
  h.set("Content-Length", String(Buffer.byteLength(body)));
  h.set("Connection", "close");
  socket.end(`HTTP/1.1 ${status} ${REASON[status] ?? "Error"}\r\n${headerLines(h)}\r\n${body}`);
}

/** A BerthError (or anything) as an HTTP error on the socket. */
export function writeBerthError(socket: Duplex, e: unknown, headers: Headers) {
  const err = asBerthError(e);
  writeErrorResponse(socket, httpStatus(err.code), clientMessage(err), headers);
}
