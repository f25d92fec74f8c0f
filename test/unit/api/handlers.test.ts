/**
 * The Docker API handler in-process (no socket, no root): an Engine on a temp
 * data root, requests made as Request objects.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerApi } from "../../../src/api/docker/server.ts";
import { jsonStream } from "../../../src/api/docker/stream.ts";
import { errorResponse } from "../../../src/api/errors.ts";
import { DEFAULT_TENANT } from "../../../src/engine/db.ts";
import { Engine } from "../../../src/engine/engine.ts";
import { createLogger } from "../../../src/engine/logger.ts";
import { BerthError } from "../../../src/errors.ts";
import { buildImage, dir, file, legacyDockerArchive, putBlobs, tarOf } from "../engine/fixtures.ts";

const root = mkdtempSync(join(tmpdir(), "berth-api-"));
const engine = new Engine({ dataRoot: root });
const stopping = new AbortController();
let busy = 0;
const logLines: string[] = [];
const api = dockerApi({
  engine,
  log: createLogger("debug", (l) => void logLines.push(l)),
  stopping: stopping.signal,
  giveUp: new AbortController().signal,
  busy: () => {
    busy++;
    let done = false;
    return () => {
      if (!done) busy--;
      done = true;
    };
  },
});
afterAll(() => {
  engine.close();
  rmSync(root, { recursive: true, force: true });
});

const call = (method: string, path: string, init: RequestInit = {}) => api(new Request(`http://berthd${path}`, { method, ...init }));
const img = buildImage([tarOf([dir("etc"), file("etc/a", "a\n")])], { labels: { kind: "a" } });

describe("docker API handler", () => {
  test("ping: GET and HEAD, with dockerd's headers", async () => {
    const g = await call("GET", "/_ping");
    expect(g.status).toBe(200);
    expect(await g.text()).toBe("OK");
    const h = await call("HEAD", "/v1.30/_ping");
    expect(h.status).toBe(200);
    for (const [k, v] of Object.entries({ "api-version": "1.43", ostype: "linux", "docker-experimental": "false", "builder-version": "1" })) expect(h.headers.get(k)).toBe(v);
  });

  test("unknown path 404, known path with another method 405, both with a message", async () => {
    const a = await call("GET", "/v1.43/nope");
    expect(a.status).toBe(404);
    expect(await a.json()).toEqual({ message: "page not found" });
    const b = await call("PUT", "/v1.43/images/json");
    expect(b.status).toBe(405);
    expect(((await b.json()) as { message: string }).message).toContain("not allowed");
  });

  test("load streams docker's lines; list and inspect show the image in docker's shapes", async () => {
    const res = await call("POST", "/v1.43/images/load?quiet=1", { body: legacyDockerArchive([{ img, tags: ["example/a:1"] }]) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect((await res.text()).trim()).toBe('{"stream":"Loaded image: example/a:1\\n"}');
    const list = (await (await call("GET", "/v1.43/images/json")).json()) as Record<string, unknown>[];
    expect(list).toEqual([
      {
        Containers: -1,
        Created: Date.parse("2024-01-01T00:00:00Z") / 1000,
        Id: img.id,
        Labels: { kind: "a" },
        ParentId: "",
        RepoDigests: [],
        RepoTags: ["example/a:1"],
        SharedSize: -1,
        Size: 2,
        VirtualSize: 2,
      },
    ]);
    const i = (await (await call("GET", "/v1.43/images/example/a:1/json")).json()) as Record<string, unknown>;
    expect(i.Id).toBe(img.id);
    expect(i.RootFS).toEqual({ Type: "layers", Layers: img.config.rootfs.diff_ids });
    expect((i.Config as Record<string, unknown>).Labels).toEqual({ kind: "a" });
    expect(i.ContainerConfig).toBeDefined(); // still there at 1.43
  });

  test("every call acts for the request's tenant: another tenant's image is invisible", async () => {
    const other = buildImage([tarOf([file("secret", "s\n")])]);
    putBlobs(engine.blobs, other);
    await engine.imageStore.register("someone-else", { config: other.id, layers: other.layers });
    engine.imageStore.setReference("someone-else", "their/secret:1", other.id);
    const list = (await (await call("GET", "/v1.43/images/json?all=1")).json()) as { Id: string }[];
    expect(list.map((i) => i.Id)).not.toContain(other.id);
    expect((await call("GET", `/v1.43/images/${other.id}/json`)).status).toBe(404);
    expect((await call("GET", "/v1.43/images/their/secret:1/json")).status).toBe(404);
    expect((await call("DELETE", `/v1.43/images/${other.id}`)).status).toBe(404);
    expect(engine.imageStore.get("someone-else", other.id).id).toBe(other.id);
    expect(engine.imageStore.tryResolve(DEFAULT_TENANT, other.id)).toBeUndefined();
  });

  test("tag 201; a missing repo is 400 naming it; rmi answers docker's list", async () => {
    const t = await call("POST", "/v1.43/images/example/a:1/tag?repo=example/b&tag=2");
    expect(t.status).toBe(201);
    const bad = await call("POST", "/v1.43/images/example/a:1/tag?tag=2");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain("repo: missing");
    const rm = await call("DELETE", "/v1.43/images/example/b:2");
    expect(await rm.json()).toEqual([{ Untagged: "example/b:2" }]);
    const nosuch = await call("DELETE", "/v1.43/images/nosuch");
    expect(nosuch.status).toBe(404);
    expect(await nosuch.json()).toEqual({ message: "No such image: nosuch:latest" });
  });

  test("create needs fromImage or fromSrc; import refuses URLs", async () => {
    const r = await call("POST", "/v1.43/images/create");
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toBe("fromImage or fromSrc: one is required");
    const u = await call("POST", "/v1.43/images/create?fromSrc=http://example.com/x.tar");
    expect(u.status).toBe(400);
    expect(((await u.json()) as { message: string }).message).toContain('fromSrc: only "-"');
    const bad = await call("POST", "/v1.43/images/create?fromImage=example/UPPER");
    expect(bad.status).toBe(400);
  });

  test("events: a past window replays the tenant's events and ends", async () => {
    const since = Math.floor(Date.now() / 1000) - 5;
    await call("POST", "/v1.43/images/example/a:1/tag?repo=example/c");
    const until = (Date.now() + 1) / 1000;
    await Bun.sleep(5);
    const res = await call("GET", `/v1.43/events?since=${since}&until=${until.toFixed(3)}&filters=${encodeURIComponent('{"event":["tag"]}')}`);
    const lines = (await res.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((e) => e.Action === "tag")).toBe(true);
    expect(lines.at(-1).Actor.Attributes.name).toBe("example/c:latest");
    expect(busy).toBe(0);
  });

  test("a live event stream ends when the daemon starts stopping", async () => {
    const res = await call("GET", "/v1.43/events");
    expect(res.status).toBe(200);
    expect(busy).toBe(1);
    const text = res.text();
    stopping.abort();
    expect((await text).trim()).toBe("");
    expect(busy).toBe(0);
  });

  test("the debug log has one line per request, never a credential", async () => {
    await call("POST", "/v1.43/auth", { body: JSON.stringify({ username: "u", password: "hunter2-secret", serveraddress: "127.0.0.1:1" }) });
    const lines = logLines.map((l) => JSON.parse(l));
    expect(lines.some((l) => l.msg === "request" && l.path === "/v1.43/auth")).toBe(true);
    expect(logLines.join("")).not.toContain("hunter2-secret");
  });
});

describe("streamed responses", () => {
  const opts = () => ({ headers: new Headers(), abort: new AbortController(), errorResponse: (e: unknown) => errorResponse(e) });

  test("a failure before the first message is an HTTP error", async () => {
    const res = await jsonStream(async (send) => {
      send({ status: "Pulling from x", id: "1" }); // held back
      throw new BerthError("NotFound", "manifest unknown");
    }, { ...opts(), hold: (m) => m.status?.startsWith("Pulling from") ?? false });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ message: "manifest unknown" });
  });

  test("a failure after it ends the stream with an error message", async () => {
    const res = await jsonStream(async (send) => {
      send({ status: "Pulling fs layer", id: "a" });
      await Bun.sleep(1);
      throw new BerthError("Unavailable", "connection reset");
    }, opts());
    expect(res.status).toBe(200);
    const lines = (await res.text()).trim().split("\r\n").map((l) => JSON.parse(l));
    expect(lines).toEqual([{ status: "Pulling fs layer", id: "a" }, { errorDetail: { message: "connection reset" }, error: "connection reset" }]);
  });

  test("a client that goes away aborts the work", async () => {
    const o = opts();
    let aborted = false;
    const res = await jsonStream(async (send) => {
      send({ status: "start" });
      await new Promise<void>((r) => o.abort.signal.addEventListener("abort", () => ((aborted = true), r())));
    }, o);
    await res.body!.cancel();
    await Bun.sleep(1);
    expect(aborted).toBe(true);
  });
});
