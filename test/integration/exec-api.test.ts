/**
 * docker exec through berthd's API, as the docker CLI drives it: POST
 * /containers/{id}/exec, then POST /exec/{id}/start upgraded to a raw stream
 * (stdcopy frames without a TTY), stdin half-closed at its end, then GET
 * /exec/{id}/json for the exit code. The containers are real (the runtime
 * library under the engine's monitor, busybox rootfs) and reach berthd
 * through an injected ContainerSource, until the container service exists.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isRoot, makeBundle, ROOTFS, uniqueId, type Bundle } from "./harness.ts";
import { Runtime } from "../../src/runtime/container.ts";
import { setChildSubreaper } from "../../src/runtime/sys/reaper.ts";
import { startMonitored, type MonitoredContainer } from "../../src/engine/monitor/index.ts";
import { Daemon } from "../../src/engine/daemon.ts";
import type { ContainerSource } from "../../src/engine/engine.ts";
import type { ContainerRecord } from "../../src/engine/containers/model.ts";
import { ExecService } from "../../src/engine/containers/exec.ts";
import { EventBus, type EngineEvent } from "../../src/engine/events.ts";
import { dockerHandlers } from "../../src/api/docker/server.ts";
import { createLogger } from "../../src/engine/logger.ts";
import { notFound } from "../../src/errors.ts";
import { StdcopyDecoder } from "../../src/api/docker/stdcopy.ts";

const d = isRoot ? describe : describe.skip;
const dec = new TextDecoder();

let dir = "";
let rt: Runtime;
let daemon: Daemon;
let socket = "";
const bundles: Bundle[] = [];
const monitored: MonitoredContainer[] = [];
const records = new Map<string, ContainerRecord>();
let main: ContainerRecord;

const source: ContainerSource = {
  counts: () => ({ total: records.size, running: records.size, paused: 0, stopped: 0 }),
  isImageInUse: () => false,
  get(tenant, ref) {
    for (const r of records.values()) if (r.tenant === tenant && (r.Id === ref || r.Name === ref.replace(/^\//, ""))) return r;
    throw notFound(`No such container: ${ref}`);
  },
};

async function container(name: string, args: string[], tenant = "default"): Promise<ContainerRecord> {
  const b = makeBundle(args);
  bundles.push(b);
  const id = (uniqueId("x") + "0".repeat(64)).replace(/[^0-9a-f]/g, "a").slice(0, 64);
  const m = await startMonitored({ runtime: rt, execRoot: join(dir, "exec"), id, bundle: b.dir, log: false });
  monitored.push(m);
  const pid = rt.state(id).pid!;
  const rec = {
    Id: id,
    Name: name,
    tenant,
    Config: { Env: b.spec.process!.env, Cmd: args },
    State: { Status: "running", Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: pid, ExitCode: 0, Error: "", StartedAt: "", FinishedAt: "" },
    runtimeRoot: rt.store.root,
    rootfs: ROOTFS,
    ImageName: "busybox",
  } as unknown as ContainerRecord;
  records.set(id, rec);
  return rec;
}

beforeAll(async () => {
  if (!isRoot) return;
  setChildSubreaper(true);
  dir = mkdtempSync(join(tmpdir(), "berth-exec-api-"));
  rt = new Runtime(join(dir, "runtime"));
  socket = join(dir, "berth.sock");
  daemon = await Daemon.start(
    { host: `unix://${socket}`, dataRoot: join(dir, "data"), execRoot: join(dir, "exec"), containers: source, log: createLogger("error", () => {}) },
    (rc) => dockerHandlers(rc),
  );
  main = await container("main", ["sleep", "31337"]);
});

afterAll(async () => {
  if (!isRoot) return;
  await daemon?.stop();
  for (const m of monitored) {
    try {
      rt.kill(m.id, 9);
    } catch {}
    await m.wait().catch(() => {});
    await m.remove().catch(() => {});
  }
  setChildSubreaper(false);
  for (const b of bundles) b.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const api = (path: string, init: RequestInit = {}) => fetch(`http://berthd/v1.43${path}`, { ...init, unix: socket } as RequestInit);
const post = (path: string, body: unknown) => api(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });

interface Hijack {
  status: string;
  headers: string;
  /** raw bytes after the headers */
  bytes: () => Uint8Array;
  sock: Socket;
  /** resolves at the server's end of the stream */
  ended: Promise<void>;
  /** wait until the output (raw bytes) satisfies cond */
  until: (cond: (text: string) => boolean) => Promise<string>;
}

/** POST /exec/{id}/start with Connection: Upgrade, as the docker CLI does. */
function hijack(id: string, body: unknown): Promise<Hijack> {
  return new Promise((resolve, reject) => {
    const sock = connect(socket);
    const payload = JSON.stringify(body);
    let buf = Buffer.alloc(0);
    let headerDone = false;
    let waiters: (() => void)[] = [];
    let endResolve!: () => void;
    const ended = new Promise<void>((r) => (endResolve = r));
    const h: Partial<Hijack> = { sock, ended };
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!headerDone) {
        const i = buf.indexOf("\r\n\r\n");
        if (i < 0) return;
        headerDone = true;
        const head = buf.subarray(0, i).toString();
        buf = buf.subarray(i + 4);
        h.status = head.split("\r\n")[0]!;
        h.headers = head;
        h.bytes = () => new Uint8Array(buf);
        h.until = async (cond) => {
          while (!cond(buf.toString())) await new Promise<void>((r) => waiters.push(r));
          return buf.toString();
        };
        resolve(h as Hijack);
      }
      for (const w of waiters.splice(0)) w();
    });
    sock.on("end", () => {
      endResolve();
      for (const w of waiters.splice(0)) w();
    });
    sock.on("close", () => endResolve());
    sock.on("error", reject);
    sock.on("connect", () =>
      sock.write(
        `POST /v1.43/exec/${id}/start HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
      ),
    );
  });
}

async function create(container: string, cfg: Record<string, unknown>): Promise<string> {
  const r = await post(`/containers/${container}/exec`, { AttachStdout: true, AttachStderr: true, ...cfg });
  const j = (await r.json()) as { Id: string; message?: string };
  if (r.status !== 201) throw new Error(`exec create: ${r.status} ${j.message}`);
  return j.Id;
}

/** docker exec [-i]: create, start hijacked, send stdin then half-close, read to the end, inspect. */
async function dockerExec(cmd: string[], cfg: Record<string, unknown> = {}, stdin?: string, container = main.Id) {
  const id = await create(container, { Cmd: cmd, AttachStdin: stdin !== undefined, ...cfg });
  const h = await hijack(id, { Detach: false, Tty: Boolean(cfg.Tty) });
  if (h.status !== "HTTP/1.1 101 UPGRADED") {
    await h.ended;
    throw new Error(`${h.status}: ${dec.decode(h.bytes())}`);
  }
  if (stdin !== undefined) h.sock.write(stdin);
  h.sock.end();
  await h.ended;
  const raw = h.bytes();
  const frames = cfg.Tty ? [] : new StdcopyDecoder().push(raw);
  const text = (s: number) => frames.filter((f) => f.stream === s).map((f) => dec.decode(f.data)).join("");
  const inspect = (await (await api(`/exec/${id}/json`)).json()) as { ExitCode: number; Running: boolean; Pid: number };
  return { id, headers: h.headers, raw: dec.decode(raw), stdout: text(1), stderr: text(2), exitCode: inspect.ExitCode, inspect };
}

function status(pid: number, field: string): string {
  return readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(.*)$`, "m"))?.[1] ?? "";
}

d("docker exec API (hijacked streams)", () => {
  test("stdout and stderr arrive multiplexed; the exit code is in inspect", async () => {
    const r = await dockerExec(["sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r.headers).toContain("application/vnd.docker.multiplexed-stream");
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toBe("err\n");
    expect(r.exitCode).toBe(3);
    expect(r.inspect.Running).toBe(false);
    expect(r.inspect.Pid).toBeGreaterThan(0);
  });

  test("stdin is relayed and closed at the client's half-close (cat echoes and exits 0)", async () => {
    const big = "x".repeat(200_000) + "\n";
    const r = await dockerExec(["cat"], {}, "hello\n" + big);
    expect(r.stdout).toBe("hello\n" + big);
    expect(r.exitCode).toBe(0);
  });

  test("env (the container's plus the exec's), user, working dir", async () => {
    const r = await dockerExec(["sh", "-c", 'echo "$FOO|$PATH"; id -u; id -g; pwd'], { Env: ["FOO=bar baz"], User: "1000:1000", WorkingDir: "/tmp" });
    const [env, uid, gid, pwd] = r.stdout.split("\n");
    expect(env).toStartWith("bar baz|/");
    expect([uid, gid, pwd]).toEqual(["1000", "1000", "/tmp"]);
    const named = await dockerExec(["id"], { User: "nobody" });
    expect(named.stdout).toContain("uid=65534(nobody) gid=65534(nogroup)");
    const bad = await post(`/containers/${main.Id}/exec`, { Cmd: ["id"], User: "nosuchuser" });
    expect(bad.status).toBe(201); // docker resolves the user at start
    const id = ((await bad.json()) as { Id: string }).Id;
    const s = await post(`/exec/${id}/start`, { Detach: true });
    expect(s.status).toBe(404);
    expect(((await s.json()) as { message: string }).message).toContain("unable to find user nosuchuser");
  });

  test("a TTY: raw output, /dev/pts/N, the initial console size, resize", async () => {
    const r = await dockerExec(["sh", "-c", "tty; stty size"], { Tty: true, ConsoleSize: [20, 70] });
    expect(r.headers).toContain("application/vnd.docker.raw-stream");
    expect(r.raw).toMatch(/^\/dev\/pts\/\d+\r?\n20 70\r?\n$/);
    expect(r.exitCode).toBe(0);

    const id = await create(main.Id, { Cmd: ["sh", "-c", "read x; stty size"], Tty: true, AttachStdin: true });
    const h = await hijack(id, { Detach: false, Tty: true });
    const rs = await post(`/exec/${id}/resize?h=33&w=101`, {});
    expect(rs.status).toBe(200);
    h.sock.write("go\r");
    await h.until((t) => /33 101/.test(t));
    await h.ended;
    expect(((await (await api(`/exec/${id}/json`)).json()) as { ExitCode: number }).ExitCode).toBe(0);
  });

  test("detached: 200 at once, the exit code recorded later; ExecIDs lists it while it runs; events", async () => {
    const events: EngineEvent[] = [];
    const sub = daemon.engine.events.subscribe((e) => events.push(e));
    const id = await create(main.Id, { Cmd: ["sleep", "1000"], AttachStdout: false, AttachStderr: false });
    const s = await post(`/exec/${id}/start`, { Detach: true });
    expect(s.status).toBe(200);
    expect(daemon.engine.execs.idsOf(main.Id)).toContain(id);
    let j = (await (await api(`/exec/${id}/json`)).json()) as { Running: boolean; ExitCode: number | null; Pid: number };
    expect(j).toMatchObject({ Running: true, ExitCode: null });
    expect(readFileSync(`/proc/${j.Pid}/cmdline`, "utf8")).toBe("sleep\x001000\x00");
    process.kill(j.Pid, "SIGTERM");
    do j = (await (await api(`/exec/${id}/json`)).json()) as typeof j;
    while (j.Running);
    expect(j.ExitCode).toBe(143);
    expect(daemon.engine.execs.idsOf(main.Id)).not.toContain(id);
    sub.close();
    const mine = events.filter((e) => e.actor.attributes.execID === id);
    expect(mine.map((e) => e.action)).toEqual(["exec_create: sleep 1000", "exec_start: sleep 1000", "exec_die"]);
    expect(mine[2]!.actor.attributes.exitCode).toBe("143");
    expect(mine[0]!.actor.id).toBe(main.Id);
    // started twice: refused
    const again = await post(`/exec/${id}/start`, { Detach: true });
    expect(again.status).toBe(409);
  });

  test("a plain POST start (old clients) gets the output as a 200 stream", async () => {
    const id = await create(main.Id, { Cmd: ["sh", "-c", "echo plain; echo e >&2"] });
    const r = await post(`/exec/${id}/start`, { Detach: false });
    expect(r.status).toBe(200);
    const frames = new StdcopyDecoder().push(new Uint8Array(await r.arrayBuffer()));
    expect(frames.map((f) => [f.stream, dec.decode(f.data)])).toEqual([
      [1, "plain\n"],
      [2, "e\n"],
    ]);
  });

  test("errors docker's way: unknown exec 404, no command 400, stopped or paused container 409", async () => {
    const u = await api(`/exec/${"f".repeat(64)}/json`);
    expect(u.status).toBe(404);
    expect(((await u.json()) as { message: string }).message).toBe(`No such exec instance: ${"f".repeat(64)}`);
    const h = await hijack("nope", { Detach: false });
    expect(h.status).toMatch(/^HTTP\/1.1 404/);
    expect(h.headers).toContain("application/json");
    expect((await post(`/containers/${main.Id}/exec`, { Cmd: [] })).status).toBe(400);
    expect((await post(`/containers/nosuch/exec`, { Cmd: ["true"] })).status).toBe(404);
    const c = await container("stopped-one", ["sleep", "1000"]);
    const id = await create(c.Id, { Cmd: ["true"] });
    c.State.Running = false;
    const r = await post(`/containers/${c.Id}/exec`, { Cmd: ["true"] });
    expect(r.status).toBe(409);
    expect(((await r.json()) as { message: string }).message).toBe(`Container ${c.Id} is not running`);
    expect((await post(`/exec/${id}/start`, { Detach: true })).status).toBe(409);
    c.State.Running = true;
    c.State.Paused = true;
    const p = await post(`/containers/${c.Id}/exec`, { Cmd: ["true"] });
    expect(p.status).toBe(409);
    expect(((await p.json()) as { message: string }).message).toContain("is paused");
    c.State.Paused = false;
  });
});

d("docker exec: what an exec cannot escape", () => {
  test("it is in the container's namespaces: /proc/1 is the container's init, / is the container's root", async () => {
    const init = main.State.Pid;
    const r = await dockerExec(["sh", "-c", "cat /proc/1/cmdline; echo; ls -a /; for n in pid mnt net uts ipc; do readlink /proc/self/ns/$n; done"]);
    const [cmdline, ...rest] = r.stdout.split("\n");
    expect(cmdline).toBe("sleep\x0031337\x00");
    const nsLines = rest.filter((l) => /^\w+:\[\d+\]$/.test(l));
    const hostNs = ["pid", "mnt", "net", "uts", "ipc"].map((n) => readlinkSync(`/proc/${init}/ns/${n}`));
    expect(nsLines).toEqual(hostNs);
    expect(hostNs).not.toEqual(["pid", "mnt", "net", "uts", "ipc"].map((n) => readlinkSync(`/proc/self/ns/${n}`)));
    const listed = rest.filter((l) => l && !/^\w+:\[\d+\]$/.test(l) && l !== "." && l !== "..").sort();
    expect(listed).toEqual(readdirSync(ROOTFS).sort());
  });

  test("without Privileged it has only the container's capabilities; Privileged gives the host's", async () => {
    const init = main.State.Pid;
    const r = await dockerExec(["sh", "-c", "grep -E '^Cap(Eff|Bnd):' /proc/self/status"]);
    expect(r.stdout).toContain(`CapEff:\t${status(init, "CapEff")}`);
    expect(r.stdout).toContain(`CapBnd:\t${status(init, "CapBnd")}`);
    expect(status(init, "CapEff")).not.toBe(status(process.pid, "CapBnd"));
    const p = await dockerExec(["sh", "-c", "grep -E '^CapEff:' /proc/self/status"], { Privileged: true });
    expect(p.stdout.trim()).toBe(`CapEff:\t${status(process.pid, "CapBnd")}`);
  });

  test("an exec of one tenant is not visible or usable by another", async () => {
    const events = new EventBus();
    const execs = new ExecService({ containers: source, events });
    const a = await container("tenant-a-box", ["sleep", "1000"], "tenant-a");
    expect(() => execs.create("tenant-b", a.Id, { Cmd: ["true"] })).toThrow(`No such container: ${a.Id}`);
    const id = execs.create("tenant-a", a.Id, { Cmd: ["sh", "-c", "exit 4"] });
    expect(() => execs.inspect("tenant-b", id)).toThrow(`No such exec instance: ${id}`);
    expect(() => execs.resize("tenant-b", id, 10, 10)).toThrow(`No such exec instance: ${id}`);
    await expect(execs.start("tenant-b", id, { Detach: true })).rejects.toThrow(`No such exec instance: ${id}`);
    expect(execs.inspect("tenant-a", id).Running).toBe(false);
    const s = await execs.start("tenant-a", id, {});
    for await (const _ of s!.output);
    expect(await s!.exit).toBe(4);
    expect(execs.inspect("tenant-a", id).ExitCode).toBe(4);
    // the default tenant (the API's) does not see it either
    expect((await api(`/exec/${id}/json`)).status).toBe(404);
    expect(events.replay({ tenant: "tenant-b" })).toEqual([]);
    expect(events.replay({ tenant: "tenant-a" }).length).toBe(3);
  });
});
