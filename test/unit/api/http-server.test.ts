/**
 * The node:http adapter on a unix socket: fetch-style handlers with streamed
 * bodies both ways, the client going away, and hijacked (upgraded) requests.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpServer } from "../../../src/api/http-server.ts";

const dir = mkdtempSync(join(tmpdir(), "berth-http-"));
const path = join(dir, "s.sock");
let server: HttpServer;
let streamCancelled: () => void;
const cancelled = new Promise<void>((r) => (streamCancelled = r));
let aborted: () => void;
const requestAborted = new Promise<void>((r) => (aborted = r));

beforeAll(async () => {
  server = await HttpServer.listen({
    path,
    handlers: {
      async fetch(req) {
        const url = new URL(req.url);
        if (url.pathname === "/count") {
          // a streamed request body: count it as it comes
          let n = 0;
          for await (const c of req.body!) n += c.length;
          return Response.json({ n, method: req.method, q: url.searchParams.get("q") });
        }
        if (url.pathname === "/forever") {
          req.signal.addEventListener("abort", () => aborted());
          let i = 0;
          return new Response(
            new ReadableStream({
              async pull(c) {
                await Bun.sleep(5);
                c.enqueue(new TextEncoder().encode(`line ${i++}\n`));
              },
              cancel() {
                streamCancelled();
              },
            }),
          );
        }
        if (url.pathname === "/empty") return new Response(null, { status: 204, headers: { "x-a": "1" } });
        if (url.pathname === "/throw") throw new Error("boom");
        return new Response("hello", { status: 200, headers: { "content-type": "text/plain" } });
      },
      async upgrade(req, conn) {
        const body = await req.text();
        conn.socket.write(`HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
        conn.socket.write(`body=${body};head=${conn.head.toString()};`);
        conn.socket.on("data", (d) => conn.socket.write(`echo=${d};`));
        conn.socket.on("end", () => conn.socket.end("bye"));
      },
    },
  });
});
afterAll(async () => {
  server.destroyAll();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const f = (p: string, init: RequestInit = {}) => fetch(`http://x${p}`, { ...init, unix: path } as RequestInit);

/** raw exchange: send, half-close optionally, collect everything until the server closes */
function raw(send: (write: (s: string) => void, end: () => void) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let got = "";
    s.on("data", (d) => (got += d));
    s.on("end", () => resolve(got));
    s.on("error", reject);
    s.on("connect", () => send((x) => s.write(x), () => s.end()));
  });
}

describe("HttpServer", () => {
  test("plain requests: status, headers, body; HEAD and 204 have no body", async () => {
    const r = await f("/x");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain");
    expect(await r.text()).toBe("hello");
    const h = await f("/x", { method: "HEAD" });
    expect(await h.text()).toBe("");
    const e = await f("/empty", { method: "DELETE" });
    expect(e.status).toBe(204);
    expect(e.headers.get("x-a")).toBe("1");
  });

  test("a large request body streams through (8 MiB, chunked and with a length)", async () => {
    const big = new Uint8Array(8 << 20).fill(7);
    const r = await f("/count?q=a%20b", { method: "POST", body: big });
    expect(await r.json()).toEqual({ n: big.length, method: "POST", q: "a b" });
    let sent = 0;
    const chunked = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 4) return c.close();
        sent++;
        c.enqueue(new Uint8Array(1 << 20));
      },
    });
    const r2 = await f("/count", { method: "POST", body: chunked, duplex: "half" } as RequestInit);
    expect(((await r2.json()) as { n: number }).n).toBe(4 << 20);
  });

  test("a streamed response arrives as it is produced; when the client goes away the stream is cancelled and the request aborted", async () => {
    const ac = new AbortController();
    const r = await f("/forever", { signal: ac.signal });
    const reader = r.body!.getReader();
    let text = "";
    while (!text.includes("line 2\n")) text += new TextDecoder().decode((await reader.read()).value);
    expect(text.startsWith("line 0\nline 1\n")).toBe(true);
    ac.abort();
    await reader.cancel().catch(() => {});
    await Promise.all([cancelled, requestAborted]);
  });

  test("a handler that throws gets a 500 with a JSON message", async () => {
    const r = await f("/throw");
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({ message: "internal error" });
  });

  test("an upgrade request: the body read, 101, then a raw two-way stream with half-close", async () => {
    const body = '{"Detach":false}';
    const got = await raw((write, end) => {
      write(`POST /exec/x/start HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      setTimeout(() => {
        write("in1");
        setTimeout(end, 20);
      }, 20);
    });
    expect(got.startsWith("HTTP/1.1 101 UPGRADED\r\n")).toBe(true);
    const stream = got.slice(got.indexOf("\r\n\r\n") + 4);
    expect(stream).toBe(`body=${body};head=;echo=in1;bye`);
  });
});
