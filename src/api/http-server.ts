/**
 * The API's HTTP server: node:http on a unix socket, adapted to fetch-style
 * handlers (Request -> Response), plus connection hijacking, which the
 * fetch-style API cannot express and docker's attach/exec need.
 *
 * - A plain request becomes a Request whose body streams from the socket
 *   (image load and push bodies are large) and whose signal is aborted when
 *   the client goes away before the response has been sent in full.
 * - A Response body is written as it is produced (events, pull progress,
 *   logs --follow), with backpressure; when the client goes away the body
 *   stream is cancelled, which is how streaming handlers learn to stop.
 * - A request with `Upgrade:` (docker sends `Connection: Upgrade, Upgrade:
 *   tcp`) goes to `upgrade` with its body read in full and the raw socket:
 *   the handler writes the `101` (or an error response) itself.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";

/** A connection taken over from HTTP. */
export interface Hijacked {
  /** the client's connection; bytes after the request are the client's stream (stdin) */
  socket: Duplex;
  /** bytes the client sent after the request that were already read */
  head: Buffer;
}

export interface HttpHandlers {
  fetch(req: Request): Promise<Response>;
  /** requests with an Upgrade header; without it they are answered 400 */
  upgrade?(req: Request, conn: Hijacked): Promise<void>;
}

export interface HttpServerOptions {
  /** unix socket path (must not exist) */
  path: string;
  handlers: HttpHandlers;
  /** a handler threw (fetch-style handlers normally answer errors themselves) */
  onError?: (e: unknown) => void;
}

/** Upgrade request bodies are JSON options (exec start, attach): small. */
const MAX_UPGRADE_BODY = 1 << 20;
/** how much of a request body is buffered before the socket is paused */
const BODY_HIGH_WATER = 1 << 20;

function headersOf(req: IncomingMessage): Headers {
  const h = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
  return h;
}

function urlOf(req: IncomingMessage): string {
  const path = req.url ?? "/";
  return `http://berthd${path.startsWith("/") ? path : "/" + path}`;
}

function hasBody(req: IncomingMessage): boolean {
  if (req.method === "GET" || req.method === "HEAD") return false;
  const len = req.headers["content-length"];
  if (len !== undefined) return Number(len) > 0;
  return req.headers["transfer-encoding"] !== undefined;
}

/** The request body as a web stream, pausing the socket while the consumer lags. */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        req.on("data", (d: Buffer) => {
          if (done) return;
          c.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
          if ((c.desiredSize ?? 1) <= 0) req.pause();
        });
        req.on("end", () => {
          if (done) return;
          done = true;
          c.close();
        });
        req.on("error", (e) => {
          if (done) return;
          done = true;
          c.error(e);
        });
        req.on("close", () => {
          if (done) return;
          done = true;
          c.error(new Error("client closed the connection mid-body"));
        });
      },
      pull() {
        req.resume();
      },
      cancel() {
        // the handler does not want the rest: drain it so the response can still be sent
        done = true;
        req.resume();
      },
    },
    { highWaterMark: BODY_HIGH_WATER, size: (c) => c?.byteLength ?? 0 },
  );
}

async function readAll(req: IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const d of req as AsyncIterable<Buffer>) {
    n += d.length;
    if (n > limit) throw new Error(`request body over ${limit} bytes`);
    parts.push(d);
  }
  return Buffer.concat(parts);
}

/** Write a Response to a ServerResponse, streaming its body; resolves when done or the client is gone. */
async function writeResponse(req: IncomingMessage, res: ServerResponse, r: Response, gone: AbortSignal): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of r.headers) {
    const prev = headers[k];
    headers[k] = prev === undefined ? v : ([] as string[]).concat(prev, v);
  }
  const noBody = req.method === "HEAD" || r.status === 204 || r.status === 304 || r.body === null;
  if (r.body === null && r.status !== 204 && r.status !== 304) headers["content-length"] = "0";
  res.writeHead(r.status, headers);
  if (noBody) {
    await r.body?.cancel().catch(() => {});
    res.end();
    return;
  }
  // headers out now: a stream (events) may produce nothing for a long time
  res.flushHeaders();
  const reader = r.body!.getReader();
  const onGone = () => void reader.cancel().catch(() => {});
  gone.addEventListener("abort", onGone, { once: true });
  try {
    for (;;) {
      if (gone.aborted) return;
      let chunk: { done: boolean; value?: Uint8Array };
      try {
        chunk = await reader.read();
      } catch {
        // the body broke mid-way (an error after the status was sent): the client sees a short read
        res.destroy();
        return;
      }
      if (chunk.done) break;
      if (!chunk.value?.length) continue;
      if (!res.write(chunk.value)) {
        await new Promise<void>((resolve) => {
          const ok = () => {
            res.off("drain", ok);
            res.off("close", ok);
            resolve();
          };
          res.on("drain", ok);
          res.on("close", ok);
        });
      }
    }
    res.end();
  } finally {
    gone.removeEventListener("abort", onGone);
    reader.releaseLock();
  }
}

function plainError(socket: Duplex, status: number, message: string) {
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${status === 400 ? "Bad Request" : "Internal Server Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export class HttpServer {
  private readonly sockets = new Set<Socket | Duplex>();
  private closing?: Promise<void>;

  private constructor(
    readonly server: Server,
    readonly path: string,
  ) {}

  static listen(opts: HttpServerOptions): Promise<HttpServer> {
    const { handlers, onError } = opts;
    const server = createServer();
    const self = new HttpServer(server, opts.path);
    // long-lived streams and large bodies: no request or idle timeouts
    server.requestTimeout = 0;
    server.timeout = 0;
    server.on("connection", (s: Socket) => {
      self.sockets.add(s);
      s.on("close", () => self.sockets.delete(s));
    });
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const ac = new AbortController();
      const gone = () => {
        if (!res.writableFinished) ac.abort();
      };
      res.on("close", gone);
      req.on("aborted", () => ac.abort());
      const request = new Request(urlOf(req), {
        method: req.method,
        headers: headersOf(req),
        body: hasBody(req) ? bodyStream(req) : undefined,
        signal: ac.signal,
        duplex: "half",
      } as RequestInit);
      handlers
        .fetch(request)
        .then((r) => writeResponse(req, res, r, ac.signal))
        .catch((e) => {
          onError?.(e);
          if (!res.headersSent) {
            res.writeHead(500, { "content-type": "application/json" });
            res.end(JSON.stringify({ message: "internal error" }));
          } else res.destroy();
        });
    });
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      self.sockets.add(socket);
      socket.on("close", () => self.sockets.delete(socket));
      socket.on("error", () => {});
      if (!handlers.upgrade) return plainError(socket, 400, "upgrade not supported");
      const ac = new AbortController();
      socket.on("close", () => ac.abort());
      (async () => {
        const body = hasBody(req) ? await readAll(req, MAX_UPGRADE_BODY) : undefined;
        const request = new Request(urlOf(req), { method: req.method, headers: headersOf(req), body, signal: ac.signal });
        await handlers.upgrade!(request, { socket, head });
      })().catch((e) => {
        onError?.(e);
        if (!socket.destroyed) plainError(socket, 500, "internal error");
      });
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.path, () => {
        server.off("error", reject);
        server.on("error", (e) => onError?.(e));
        resolve(self);
      });
    });
  }

  /** Stop accepting connections and close idle keep-alive ones; connections in use go on. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
    return this.closing;
  }

  /** Destroy every connection, hijacked ones included. */
  destroyAll() {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** open connections (plain and hijacked) */
  get connections(): number {
    return this.sockets.size;
  }
}
