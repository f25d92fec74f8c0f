/**
 * GET /containers/{id}/stats and /top through the API's route table (before
 * containerRoutes) with an injected container lookup, over HTTP on a unix
 * socket, and the real docker CLI (`docker top`, `docker stats --no-stream`)
 * against it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { RuntimeCli, isRoot, waitFor } from "./harness.ts";
import { startContainer, type Running } from "./exec-helpers.ts";
import { dockerApi } from "../../src/api/docker/server.ts";
import { createLogger } from "../../src/engine/logger.ts";
import type { Engine } from "../../src/engine/engine.ts";
import type { ContainerRecord } from "../../src/engine/containers/model.ts";
import { notFound } from "../../src/errors.ts";
import { DEFAULT_TENANT } from "../../src/engine/db.ts";
import { API_MAX } from "../../src/api/docker/version.ts";
import { runtimeHandle } from "../../src/engine/containers/runtime-handle.ts";

const DOCKER = "/usr/local/bin/docker";
const d = describe.skipIf(!isRoot);

let rt: RuntimeCli;
let box: Running;
let record: ContainerRecord;
let server: ReturnType<typeof Bun.serve> | undefined;
let dir: string;
let sock: string;
let inFlight = 0;

beforeAll(() => {
  if (!isRoot) return;
  rt = new RuntimeCli();
  box = startContainer(rt, (s) => {
    s.linux!.cgroupsPath = `/berth-test-copsr-${process.pid}`;
    s.process!.args = ["sh", "-c", "sleep 1001 & sleep 1002 & wait"];
  }, "copsr");
  record = {
    Id: box.id,
    Name: "web",
    runtimeRoot: rt.root,
    Config: {},
    State: { Status: "running", Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: box.pid, ExitCode: 0, Error: "", StartedAt: "", FinishedAt: "" },
  } as unknown as ContainerRecord;
  const containers = {
    get: (tenant: string, ref: string) => {
      if (tenant === DEFAULT_TENANT && (ref === "web" || ref === "/web" || ref === box.id)) return record;
      if (ref === "gone") return { ...record, Name: "gone", State: { ...record.State, Running: false, Status: "exited" } } as ContainerRecord;
      throw notFound(`No such container: ${ref}`);
    },
  };
  const engine = { containers } as unknown as Engine;
  dir = mkdtempSync(join(tmpdir(), "berth-copsr-"));
  sock = join(dir, "d.sock");
  const never = new AbortController().signal;
  server = Bun.serve({
    unix: sock,
    fetch: dockerApi({
      engine,
      log: createLogger("error", () => {}),
      stopping: never,
      giveUp: never,
      busy: () => {
        inFlight++;
        return () => void inFlight--;
      },
    }),
  });
});

afterAll(() => {
  server?.stop(true);
  box?.cleanup();
  rt?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, init: RequestInit = {}) => fetch(`http://d/v${API_MAX}${path}`, { unix: sock, ...init } as RequestInit);

d("routes", () => {
  test("top: 200 with the container's processes; 404 unknown; 409 not running; 500 bad ps_args", async () => {
    expect(await waitFor(() => runtimeHandle(record).cgroup.processes().length === 3, 20_000)).toBe(true);
    const r = await get("/containers/web/top?ps_args=-ef");
    expect(r.status).toBe(200);
    const body = (await r.json()) as { Titles: string[]; Processes: string[][] };
    expect(body.Titles).toContain("PID");
    expect(body.Processes.map((p) => p.at(-1)).sort()).toEqual(["sh -c sleep 1001 & sleep 1002 & wait", "sleep 1001", "sleep 1002"].sort());
    const nf = await get("/containers/nope/top");
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { message: string }).message).toBe("No such container: nope");
    const gone = await get("/containers/gone/top");
    expect(gone.status).toBe(409);
    expect(((await gone.json()) as { message: string }).message).toBe(`Container ${box.id} is not running`);
    const bad = await get("/containers/web/top?ps_args=--bogus-flag");
    expect(bad.status).toBe(500);
    expect(((await bad.json()) as { message: string }).message).toMatch(/^ps: /);
  });

  test("stats: stream=false one object; one-shot leaves precpu empty; stream & one-shot is 400", async () => {
    const once = await get("/containers/web/stats?stream=false&one-shot=true");
    expect(once.status).toBe(200);
    const s = (await once.json()) as { name: string; id: string; preread: string; pids_stats: { current: number } };
    expect(s.name).toBe("/web");
    expect(s.id).toBe(box.id);
    expect(s.preread).toBe("0001-01-01T00:00:00Z");
    expect(s.pids_stats.current).toBe(3);
    const two = (await (await get("/containers/web/stats?stream=0")).json()) as { preread: string };
    expect(two.preread).not.toBe("0001-01-01T00:00:00Z");
    expect((await get("/containers/web/stats?stream=1&one-shot=1")).status).toBe(400);
    expect((await get("/containers/nope/stats")).status).toBe(404);
    const stopped = (await (await get("/containers/gone/stats?stream=false")).json()) as { read: string; name: string };
    expect(stopped).toMatchObject({ read: "0001-01-01T00:00:00Z", name: "/gone" });
  });

  test("stats stream: JSON lines until the client goes away; the work ends with it", async () => {
    const ac = new AbortController();
    const r = await get("/containers/web/stats", { signal: ac.signal });
    expect(r.status).toBe(200);
    const reader = r.body!.getReader();
    let text = "";
    while (text.split("\n").filter(Boolean).length < 2) {
      const c = await reader.read();
      if (c.done) break;
      text += new TextDecoder().decode(c.value);
    }
    const lines = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { read: string; preread: string });
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[1]!.preread).toBe(lines[0]!.read);
    ac.abort();
    await reader.cancel().catch(() => {});
    expect(await waitFor(() => inFlight === 0, 10_000)).toBe(true);
  });
});

d("the docker CLI", () => {
  test.skipIf(!existsSync(DOCKER))("docker top and docker stats --no-stream", async () => {
    const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: dir };
    // the API is served by this process: the CLI must run without blocking it
    const run = async (args: string[]) => {
      const p = Bun.spawn([DOCKER, ...args], { env, stdout: "pipe", stderr: "pipe", timeout: 30_000 });
      const [stdout, stderr, exitCode] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { stdout: { toString: () => stdout }, stderr: { toString: () => stderr }, exitCode };
    };
    const t = await run(["top", "web"]);
    expect(t.stderr.toString()).toBe("");
    expect(t.exitCode).toBe(0);
    const out = t.stdout.toString();
    expect(out).toMatch(/^UID\s+PID\s+PPID/);
    expect(out).toContain("sleep 1001");
    expect(out.trim().split("\n").length).toBe(4);
    const s = await run(["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}} {{.CPUPerc}}", "web"]);
    expect(s.stderr.toString()).toBe("");
    expect(s.exitCode).toBe(0);
    // name, "usage / limit", 3 pids, a percentage
    expect(s.stdout.toString().trim()).toMatch(/^web \d+(\.\d+)?[KMG]?i?B \/ \d+(\.\d+)?[KMGT]iB 3 \d+\.\d+%$/);
  });
});
