/**
 * The engine's monitor (native/monitor.c, native/monitor/berth-monitor.c,
 * src/engine/monitor) against the real kernel (root): containers under a
 * monitor write their log, survive their launcher's SIGKILL, are recovered by
 * another process, rotate their log, take stdin from attach clients, and
 * report their exit status without anyone being their parent.
 *
 * This process becomes a subreaper for the file's duration: monitors (orphans
 * by design) are reparented to it, and it reaps them; pid 1 here does not.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { chmodSync, existsSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { monitorEnv, removeMonitorEnv, stopMonitored, type MonitorEnv } from "./helpers/monitor-env.ts";
import { isRoot, makeBundle, uniqueId, waitFor, type Bundle } from "./harness.ts";
import { Runtime } from "../../src/runtime/container.ts";
import { BerthError } from "../../src/errors.ts";
import { openMonitored, recover, startMonitored, type LogEntry, type LogOptions, type MonitoredContainer } from "../../src/engine/monitor/index.ts";
import { FRAME, FrameDecoder, encodeFrame } from "../../src/engine/monitor/protocol.ts";

const d = isRoot ? describe : describe.skip;
const BUN = process.execPath;
const HELPERS = join(import.meta.dir, "helpers");
const dec = new TextDecoder();

let runtimeRoot = "";
let execRoot = "";
let rt: Runtime;
const bundles: Bundle[] = [];
const started: MonitoredContainer[] = [];

let env: MonitorEnv;
beforeAll(() => {
  if (!isRoot) return;
  env = monitorEnv("berth-mon");
  ({ runtimeRoot, execRoot, rt } = env);
});

afterAll(async () => {
  if (!isRoot) return;
  await stopMonitored(env, started);
  // every monitor this file started is gone and reaped: none is left as a zombie
  const ours = monitorsUnder(execRoot);
  removeMonitorEnv(env, bundles);
  expect(ours).toEqual([]);
});

/** berth-monitor processes (zombies included) whose cwd or fds point under dir. */
function monitorsUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/comm`, "utf8").trim() !== "berth-monitor") continue;
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) out.push(Number(p)); // ours: a live one or an unreaped zombie
    } catch {}
  }
  return out;
}

function bundle(script: string, edit?: Parameters<typeof makeBundle>[1]): Bundle {
  const b = makeBundle(["sh", "-c", script], edit);
  bundles.push(b);
  return b;
}

async function start(script: string, opts: { log?: LogOptions | false; openStdin?: boolean } = {}): Promise<MonitoredContainer> {
  const c = await startMonitored({ runtime: rt, execRoot, id: uniqueId("mon"), bundle: bundle(script).dir, ...opts });
  started.push(c);
  return c;
}

async function entries(c: MonitoredContainer, q: Parameters<MonitoredContainer["logs"]>[0] = {}): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of c.logs(q)) out.push(e);
  return out;
}

const texts = (es: LogEntry[], stream: string) => es.filter((e) => e.stream === stream).map((e) => dec.decode(e.data));
const range = (from: number, to: number, f: (i: number) => string) => Array.from({ length: to - from + 1 }, (_, i) => f(from + i));
const ordered = (times: string[]) => times.every((t, i) => i === 0 || times[i - 1]! <= t);

function statusField(pid: number, field: string): string {
  return readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(.*)$`, "m"))?.[1] ?? "";
}

d("monitor: log, exit status", () => {
  test("every stdout and stderr line is logged with its stream, in order, with ordered timestamps", async () => {
    const c = await start('i=1; while [ $i -le 200 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done');
    const exit = await c.wait();
    expect(exit).toMatchObject({ exitCode: 0, signal: 0 });
    const es = await entries(c);
    expect(texts(es, "stdout")).toEqual(range(1, 200, (i) => `out ${i}\n`));
    expect(texts(es, "stderr")).toEqual(range(1, 200, (i) => `err ${i}\n`));
    expect(es.every((e) => !e.partial)).toBe(true);
    expect(ordered(es.map((e) => e.time))).toBe(true);
    expect(es[es.length - 1]!.time <= exit.exitedAt).toBe(true);
    // the on-disk format, as the kubelet and conmon write it
    expect(readFileSync(c.config.log!.path, "utf8").split("\n")[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) F (out|err) 1$/);
  });

  test("tail, since and until select from the log", async () => {
    const c = await start("for i in 1 2 3 4 5; do echo line $i; done; sleep 0.2; for i in 6 7 8; do echo line $i; done");
    await c.wait();
    const all = await entries(c);
    expect(texts(all, "stdout")).toEqual(range(1, 8, (i) => `line ${i}\n`));
    expect(texts(await entries(c, { tail: 3 }), "stdout")).toEqual(["line 6\n", "line 7\n", "line 8\n"]);
    expect(await entries(c, { tail: 0 })).toEqual([]);
    // lines read in one chunk share a time: what since/until select is decided by the times in the log
    const t = all[5]!.time;
    const since = await entries(c, { since: t });
    expect(since).toEqual(all.filter((e) => e.time >= t));
    expect(texts(since, "stdout")).toContain("line 6\n");
    expect(texts(since, "stdout")).not.toContain("line 1\n");
    expect(await entries(c, { until: all[4]!.time })).toEqual(all.filter((e) => e.time <= all[4]!.time));
    expect(await entries(c, { since: t, tail: 1 })).toEqual([all[7]!]);
    // docker's unix-seconds form
    const secs = Date.parse(all[7]!.time) / 1000 + 1;
    expect(await entries(c, { since: secs })).toEqual([]);
    expect(() => c.logs({ since: "yesterday-ish" })).toThrow(BerthError);
  });

  test("exit code 7; killed by SIGKILL: 137 and signal 9", async () => {
    const a = await start("exit 7");
    const b = await start("sleep 100");
    expect(await a.wait()).toMatchObject({ exitCode: 7, signal: 0 });
    expect(b.state()).toBe("running");
    rt.kill(b.id, 9);
    const st = await b.wait();
    expect(st).toMatchObject({ exitCode: 137, signal: 9, pid: b.containerPid });
    // exit.json is what a restarted engine reads
    expect(JSON.parse(readFileSync(join(b.dir, "exit.json"), "utf8"))).toEqual(st);
    expect(existsSync(join(b.dir, "attach.sock"))).toBe(false);
  });

  test("a line over 16 KiB is split as docker does, a last line without newline is partial, and the bytes come back exactly", async () => {
    // 40000 bytes without newline, then the end of that line, a line that looks like a log entry, and "end" without newline
    const c = await start("head -c 40000 /dev/zero | tr '\\0' a; printf 'x\\n2020-01-01T00:00:00.000000000Z stderr F forged\\nend'");
    await c.wait();
    const es = await entries(c);
    const out = es.filter((e) => e.stream === "stdout");
    expect(out.map((e) => [e.partial, e.data.length])).toEqual([
      [true, 16384],
      [true, 16384],
      [false, 40000 - 2 * 16384 + 2],
      [false, "2020-01-01T00:00:00.000000000Z stderr F forged\n".length],
      [true, 3],
    ]);
    expect(texts(es, "stdout").join("")).toBe("a".repeat(40000) + "x\n2020-01-01T00:00:00.000000000Z stderr F forged\nend");
    // the forged entry is stdout content with the monitor's own time
    expect(out[3]!.time.startsWith("2020")).toBe(false);
    expect(texts(es, "stderr")).toEqual([]);
  });
});

d("monitor: outliving its launcher", () => {
  test("the launcher is SIGKILLed mid-run: another process recovers, follows the log and waits; no line or exit code is lost", async () => {
    const id = uniqueId("mon");
    const b = bundle('i=1; while [ $i -le 300 ]; do echo "out $i"; echo "err $i" >&2; usleep 10000; i=$((i+1)); done; exit 3');
    const launcher = Bun.spawn([BUN, join(HELPERS, "monitor-launcher.ts"), execRoot, runtimeRoot, id, b.dir], { stdout: "pipe", stderr: "pipe" });
    const reader = launcher.stdout.getReader();
    const first = await reader.read();
    const info = JSON.parse(dec.decode(first.value)) as { monitorPid: number; containerPid: number; ppid: number };
    reader.releaseLock();
    // berthd as a subreaper is the monitor's parent
    const ppidOf = (pid: number) => Number(statusField(pid, "PPid"));
    expect(ppidOf(info.monitorPid)).toBe(launcher.pid);
    const c = openMonitored(execRoot, id);
    started.push(c);
    const log = c.config.log!.path;
    expect(await waitFor(() => existsSync(log) && readFileSync(log, "utf8").split("\n").length > 40, 20_000)).toBe(true);

    launcher.kill(9);
    await launcher.exited;
    // the monitor and the container go on, the monitor now under the next subreaper up (us)
    expect(c.state()).toBe("running");
    expect(ppidOf(info.monitorPid)).toBe(process.pid);
    expect(statusField(info.containerPid, "State")).not.toMatch(/^Z/);
    expect(ppidOf(info.containerPid)).toBe(info.monitorPid);

    const r = Bun.spawn([BUN, join(HELPERS, "monitor-recover.ts"), execRoot, id], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(r.stdout).text(), new Response(r.stderr).text(), r.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    const got = JSON.parse(out) as { ids: string[]; state: string; containerPid: number; entries: { stream: string; text: string; time: string; partial: boolean }[]; exit: { exitCode: number; signal: number; pid: number } };
    expect(got.ids).toContain(id);
    expect(got.state).toBe("running");
    expect(got.containerPid).toBe(info.containerPid);
    const lines = (s: string) => got.entries.filter((e) => e.stream === s).map((e) => e.text);
    expect(lines("stdout")).toEqual(range(1, 300, (i) => `out ${i}\n`));
    expect(lines("stderr")).toEqual(range(1, 300, (i) => `err ${i}\n`));
    expect(ordered(got.entries.map((e) => e.time))).toBe(true);
    expect(got.exit).toMatchObject({ exitCode: 3, signal: 0, pid: info.containerPid });
    // and here, where the monitor was reparented: the same status, and it is reaped
    expect(await c.wait()).toEqual(got.exit as never);
    expect(monitorsUnder(execRoot)).not.toContain(info.monitorPid);
  });

  test("a killed monitor is reported lost (its container keeps running), and remove takes the container down", async () => {
    const c = await start("sleep 100");
    const pid = c.containerPid;
    process.kill(c.monitorPid!, 9);
    expect(await waitFor(() => !c.monitorAlive(), 10_000)).toBe(true);
    await c.reap();
    expect(c.state()).toBe("lost");
    expect(rt.state(c.id).status).toBe("running");
    await expect(c.wait()).rejects.toThrow(/gone without an exit status/);
    await c.remove();
    expect(existsSync(c.dir)).toBe(false);
    expect(existsSync(`/proc/${pid}`) && !statusField(pid, "State").startsWith("Z")).toBe(false);
    started.splice(started.indexOf(c), 1);
  });
});

d("monitor: rotation", () => {
  const line = (i: number) => `line ${i} ${"x".repeat(40)}\n`;
  test("max-size and max-file keep that many files, each within its size; a follower reads every line across rotations; a later read is a complete tail", async () => {
    const maxSize = 2048;
    const maxFiles = 4;
    const c = await start(`i=1; while [ $i -le 300 ]; do echo "line $i ${"x".repeat(40)}"; usleep 5000; i=$((i+1)); done`, {
      log: { maxSize, maxFiles },
    });
    const followed = texts(await entries(c, { follow: true }), "stdout");
    expect(followed).toEqual(range(1, 300, line));
    await c.wait();
    const path = c.config.log!.path;
    const files = readdirSync(c.dir).filter((n) => n.startsWith("container.log")).sort();
    expect(files).toEqual(["container.log", "container.log.1", "container.log.2", "container.log.3"]);
    for (const f of files) expect(statSync(join(c.dir, f)).size).toBeLessThanOrEqual(maxSize);
    // what is left: the newest lines, contiguous up to the last one, as many as the files hold
    const after = texts(await entries(c), "stdout");
    const onDisk = files.reduce((n, f) => n + readFileSync(join(c.dir, f), "utf8").split("\n").length - 1, 0);
    expect(after.length).toBe(onDisk);
    // three full files at least (an entry is ~90 bytes)
    expect(after.length).toBeGreaterThan(3 * 15);
    expect(after).toEqual(range(301 - after.length, 300, line));
    expect(existsSync(`${path}.4`)).toBe(false);
  });

  test("max-file 1 truncates the one file in place", async () => {
    const c = await start("i=1; while [ $i -le 100 ]; do echo line $i; i=$((i+1)); done", { log: { maxSize: 1024, maxFiles: 1 } });
    await c.wait();
    expect(readdirSync(c.dir).filter((n) => n.startsWith("container.log"))).toEqual(["container.log"]);
    expect(statSync(c.config.log!.path).size).toBeLessThanOrEqual(1024);
    const after = texts(await entries(c), "stdout");
    expect(after.length).toBeGreaterThan(0);
    expect(after).toEqual(range(101 - after.length, 100, (i) => `line ${i}\n`));
  });
});

d("monitor: attach", () => {
  test("live output of both streams reaches every client, stdin reaches the container, the exit status comes last", async () => {
    const c = await start('while read l; do echo "got $l"; echo "err $l" >&2; done; echo bye', { openStdin: true });
    // the monitor: a small process of its own, in its own session, in the host's namespaces, our child (subreaper)
    const mpid = c.monitorPid!;
    expect(readFileSync(`/proc/${mpid}/comm`, "utf8").trim()).toBe("berth-monitor");
    expect(statusField(mpid, "PPid")).toBe(String(process.pid));
    const stat = readFileSync(`/proc/${mpid}/stat`, "utf8").slice(readFileSync(`/proc/${mpid}/stat`, "utf8").lastIndexOf(")") + 2).split(" ");
    expect(stat[3]).toBe(String(mpid)); // session id
    for (const ns of ["mnt", "pid", "net", "user"]) expect(readlinkSync(`/proc/${mpid}/ns/${ns}`)).toBe(readlinkSync(`/proc/self/ns/${ns}`));
    const rss = statusField(mpid, "VmRSS");
    const pss = readFileSync(`/proc/${mpid}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+ kB)/m)?.[1];
    console.log(`monitor ${mpid}: VmRSS ${rss}, Pss ${pss}`);

    const a1 = await c.attach();
    const a2 = await c.attach();
    // per stream (the two pipes are read separately, so only each stream's own order is defined)
    const received = [a1, a2].map(() => ({ stdout: "", stderr: "" }));
    const done = [a1, a2].map(async (a, i) => {
      for await (const o of a.output) received[i]![o.stream] += dec.decode(o.data);
    });
    const both = (stdout: string, stderr: string) => () => received.every((r) => r.stdout.endsWith(stdout) && r.stderr.endsWith(stderr));
    a1.write("one\n");
    expect(await waitFor(both("got one\n", "err one\n"), 10_000)).toBe(true);
    a2.write("two\n");
    expect(await waitFor(both("got two\n", "err two\n"), 10_000)).toBe(true);
    a1.closeStdin();
    const [e1, e2] = await Promise.all([a1.exit, a2.exit, ...done]);
    for (const r of received) expect(r).toEqual({ stdout: "got one\ngot two\nbye\n", stderr: "err one\nerr two\n" });
    expect(e1).toMatchObject({ exitCode: 0, signal: 0 });
    expect(e2).toEqual(e1);
    expect(await c.wait()).toEqual(e1!);
    expect(texts(await entries(c), "stdout")).toEqual(["got one\n", "got two\n", "bye\n"]);
  });

  test("without OpenStdin the container's stdin is /dev/null and what clients send goes nowhere", async () => {
    const c = await start("readlink /proc/self/fd/0; cat; echo after-cat; sleep 0.5");
    const a = await c.attach().catch(() => null); // it may be done already
    a?.write("ignored\n");
    await c.wait();
    expect(texts(await entries(c), "stdout")).toEqual(["/dev/null\n", "after-cat\n"]);
  });

  test("a client that breaks the protocol is disconnected; the container and other clients go on", async () => {
    const c = await start('while read l; do echo "got $l"; done', { openStdin: true });
    const good = await c.attach();
    const bad = createConnection({ path: join(c.dir, "attach.sock") });
    const closed = new Promise<void>((r) => bad.on("close", () => r()));
    bad.on("error", () => {});
    bad.on("connect", () => bad.write(encodeFrame(9, new Uint8Array([1, 2, 3]))));
    await closed;
    // a RESIZE of the wrong size too
    const bad2 = createConnection({ path: join(c.dir, "attach.sock") });
    const closed2 = new Promise<void>((r) => bad2.on("close", () => r()));
    bad2.on("error", () => {});
    bad2.on("connect", () => bad2.write(encodeFrame(FRAME.RESIZE, new Uint8Array(7))));
    await closed2;
    good.resize(24, 80); // no terminal: accepted and ignored
    good.write("still\n");
    const it = good.output[Symbol.asyncIterator]();
    expect(dec.decode((await it.next()).value!.data)).toBe("got still\n");
    good.closeStdin();
    expect(await good.exit).toMatchObject({ exitCode: 0 });
    await c.wait();
  });

  // 40000 lines of 100 bytes: far more than a socket buffer and a pipe hold
  const flood = `sleep 0.3; yes ${"x".repeat(99)} | head -n 40000; echo done`;
  const floodBytes = 40000 * 100 + 5;

  test("a slow client gets every byte: the container waits for it, as with docker attach", async () => {
    const c = await start(flood);
    const sock = createConnection({ path: join(c.dir, "attach.sock") });
    const decoder = new FrameDecoder();
    let stdout = 0;
    let exit = "";
    sock.on("data", (d: Buffer) => {
      for (const f of decoder.push(d)) {
        if (f.type === FRAME.STDOUT) stdout += f.payload.length;
        if (f.type === FRAME.EXIT) exit = dec.decode(f.payload);
      }
    });
    const closed = new Promise<void>((r) => sock.on("close", () => r()));
    sock.on("connect", () => {
      sock.pause(); // falls behind at once, catches up later
      setTimeout(() => sock.resume(), 500);
    });
    // and through the library, whose consumer starts late
    const a = await c.attach();
    await Bun.sleep(300);
    let viaLib = 0;
    for await (const o of a.output) viaLib += o.data.length;
    expect(await c.wait()).toMatchObject({ exitCode: 0 });
    await closed;
    expect(stdout).toBe(floodBytes);
    expect(viaLib).toBe(floodBytes);
    expect(JSON.parse(exit)).toMatchObject({ exitCode: 0 });
    expect(await a.exit).toMatchObject({ exitCode: 0 });
  });

  test("a client that stops reading holds the output until it disconnects; the log loses nothing", async () => {
    const c = await start(flood);
    const stuck = createConnection({ path: join(c.dir, "attach.sock") });
    stuck.on("error", () => {});
    stuck.on("connect", () => stuck.pause()); // never reads
    const log = c.config.log!.path;
    expect(await waitFor(() => existsSync(log) && statSync(log).size > 100_000, 20_000)).toBe(true);
    // 4 MB cannot have gone through the buffers of a client that reads nothing
    expect(c.state()).toBe("running");
    stuck.destroy();
    expect(await c.wait()).toMatchObject({ exitCode: 0 });
    const out = texts(await entries(c), "stdout");
    expect(out.length).toBe(40001);
    expect(out.slice(0, 40000).every((l) => l === "x".repeat(99) + "\n")).toBe(true);
    expect(out[40000]).toBe("done\n");
  });

  test("a client that stops reading cannot keep the monitor from recording the exit", async () => {
    const c = await start(flood);
    const stuck = createConnection({ path: join(c.dir, "attach.sock") });
    stuck.on("error", () => {});
    stuck.on("connect", () => stuck.pause());
    const log = c.config.log!.path;
    expect(await waitFor(() => existsSync(log) && statSync(log).size > 100_000, 20_000)).toBe(true);
    rt.kill(c.id, 9);
    // the monitor gives the client a deadline, then drops it, writes the status and exits
    expect(await c.wait()).toMatchObject({ exitCode: 137, signal: 9 });
    expect(c.monitorAlive()).toBe(false);
    stuck.destroy();
  });
});

d("monitor: what the container can reach", () => {
  test("the container holds only its stdio: no fd of the monitor, its directory, the log or the socket", async () => {
    // exec: the shell would hold pipes of its own; ls lists its own fds (busybox closes the directory first)
    const c = await start("exec ls -l /proc/self/fd");
    await c.wait();
    const fds = texts(await entries(c), "stdout")
      .map((l) => /(\d+) -> (.*)$/.exec(l.trim()))
      .filter((m) => m !== null)
      .map((m) => [Number(m[1]), m[2]!] as const);
    expect(fds.map(([fd]) => fd)).toEqual([0, 1, 2]);
    expect(fds[0]![1]).toBe("/dev/null");
    expect(fds[1]![1]).toMatch(/^pipe:\[\d+\]$/);
    expect(fds[2]![1]).toMatch(/^pipe:\[\d+\]$/);
    expect(fds[1]![1]).not.toBe(fds[2]![1]);
  });

  test("the attach socket is root's alone: another user cannot connect to it", async () => {
    const c = await start("sleep 100", { openStdin: true });
    const sock = join(c.dir, "attach.sock");
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    // open the way to the socket itself, so its own mode is what is tested
    for (const dir of [execRoot, join(execRoot, "containers"), c.dir]) chmodSync(dir, 0o755);
    try {
      const probe = `require("node:net").createConnection({path:${JSON.stringify(sock)}}).on("connect",()=>{console.log("connected");process.exit(0)}).on("error",(e)=>{console.log(e.code);process.exit(0)})`;
      const asNobody = () =>
        Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BUN, "-e", probe], { env: { HOME: "/tmp", PATH: process.env.PATH ?? "" }, cwd: "/tmp" })
          .stdout.toString()
          .trim();
      expect(asNobody()).toBe("EACCES");
      // the probe itself works: with the socket open to all, it connects
      chmodSync(sock, 0o666);
      expect(asNobody()).toBe("connected");
    } finally {
      for (const dir of [execRoot, join(execRoot, "containers"), c.dir]) chmodSync(dir, 0o700);
    }
    rt.kill(c.id, 9);
    await c.wait();
  });
});

d("monitor: bad input", () => {
  test("bad monitor options are refused and change nothing", async () => {
    const b = bundle("true");
    const id = uniqueId("mon");
    const before = monitorsUnder(execRoot);
    await expect(startMonitored({ runtime: rt, execRoot, id, bundle: b.dir, log: { maxFiles: 0 } })).rejects.toMatchObject({ code: "InvalidArgument" });
    await expect(startMonitored({ runtime: rt, execRoot, id, bundle: b.dir, log: { path: "relative.log" } })).rejects.toThrow(/monitor.log/);
    await expect(startMonitored({ runtime: rt, execRoot, id, bundle: b.dir, log: { maxSize: -1 } })).rejects.toThrow(/monitor.maxSize/);
    expect(rt.store.exists(id)).toBe(false);
    expect(existsSync(join(runtimeRoot, id))).toBe(false);
    // a log in a directory that does not exist: berth-init's error, nothing left running
    await expect(startMonitored({ runtime: rt, execRoot, id, bundle: b.dir, log: { path: "/nonexistent-dir/x.log" } })).rejects.toThrow(/monitor log directory/);
    expect(rt.store.exists(id)).toBe(false);
    expect(recover(execRoot).map((c) => c.id)).not.toContain(id);
    expect(monitorsUnder(execRoot)).toEqual(before);
  });

  test("a second monitor for a directory whose monitor runs is refused", async () => {
    const c = await start("sleep 100");
    await expect(startMonitored({ runtime: rt, execRoot, id: c.id, bundle: bundle("true").dir })).rejects.toMatchObject({ code: "FailedPrecondition" });
    rt.kill(c.id, 9);
    await c.wait();
  });
});
