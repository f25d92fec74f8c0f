/**
 * The CLI's hijack on a unix socket against a server of the test's own: the
 * request head it writes, a 101 handing over the raw stream (bytes that came
 * with the head kept), an error status read as the daemon's message, and
 * stdcopy frames split across reads.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApiClient } from "../../../src/cli/berth/client.ts";
import { DaemonError } from "../../../src/cli/berth/daemon-error.ts";
import { Demuxer, hijack } from "../../../src/cli/berth/hijack.ts";

let server: Server | undefined;
let dir: string | undefined;
afterEach(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function serve(answer: (head: string, write: (b: Buffer | string) => void, end: () => void) => void): Promise<ApiClient> {
  dir = mkdtempSync(join(tmpdir(), "berth-hijack-"));
  const path = join(dir, "s.sock");
  server = createServer((c) => {
    let buf = "";
    c.on("data", (d) => {
      buf += d.toString("latin1");
      if (buf.includes("\r\n\r\n")) answer(buf, (b) => c.write(b), () => c.end());
    });
  });
  await new Promise<void>((r) => server!.listen(path, r));
  return { host: `unix://${path}`, socketPath: path, versioned: async (p: string) => `/v1.47${p}` } as unknown as ApiClient;
}

test("101: the socket and the bytes after the head; the request asks for the upgrade", async () => {
  let head = "";
  const client = await serve((h, write, end) => {
    head = h;
    write("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello ");
    write("world");
    end();
  });
  const conn = await hijack(client, "/containers/abc/attach", { stream: "1", stdin: "0" }, { x: 1 });
  expect(head).toStartWith("POST /v1.47/containers/abc/attach?stream=1&stdin=0 HTTP/1.1\r\n");
  expect(head).toContain("Connection: Upgrade\r\n");
  expect(head).toContain("Upgrade: tcp\r\n");
  expect(head).toContain('{"x":1}');
  expect(conn.contentType).toBe("application/vnd.docker.raw-stream");
  let got = conn.rest.toString();
  conn.socket.on("data", (d) => (got += d.toString()));
  conn.socket.resume();
  await new Promise((r) => conn.socket.once("end", r));
  expect(got).toBe("hello world");
  conn.socket.destroy();
});

test("an error status is the daemon's message", async () => {
  const client = await serve((_h, write, end) => {
    const body = JSON.stringify({ message: "No such container: nope" });
    write(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    end();
  });
  const e = await hijack(client, "/containers/nope/attach").catch((x) => x);
  expect(e).toBeInstanceOf(DaemonError);
  expect(e.message).toBe("No such container: nope");
  expect(e.status).toBe(404);
});

test("stdcopy frames split anywhere", () => {
  const frames = Buffer.concat([
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 3]), Buffer.from("out"),
    Buffer.from([2, 0, 0, 0, 0, 0, 0, 4]), Buffer.from("err\n"),
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]),
  ]);
  for (let cut = 0; cut <= frames.length; cut++) {
    const got: string[] = [];
    const d = new Demuxer((s, data) => got.push(`${s}:${data}`));
    d.push(frames.subarray(0, cut));
    d.push(frames.subarray(cut));
    expect(got).toEqual(["1:out", "2:err\n", "1:"]);
    expect(d.pending).toBe(0);
  }
  expect(() => new Demuxer(() => {}).push(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]))).toThrow("unrecognized stream 9");
});
