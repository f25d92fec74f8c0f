/**
 * Terminals and StdinOnce under the engine's monitor (native/monitor.c,
 * native/monitor/berth-monitor.c, src/engine/monitor) against the real kernel
 * (root, busybox): the pty is the container's own (its devpts instance), its
 * master is held by berth-monitor, which copies it to attach clients and the
 * log, feeds it their input and resizes it; a restarted engine can do the same.
 *
 * This process is a subreaper for the file's duration (monitors are orphans by
 * design; pid 1 here does not reap them).
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { monitorEnv, removeMonitorEnv, stopMonitored, type MonitorEnv } from "./helpers/monitor-env.ts";
import { isRoot, makeBundle, uniqueId, waitFor, type Bundle } from "./harness.ts";
import { Runtime } from "../../src/runtime/container.ts";
import { setChildSubreaper } from "../../src/runtime/sys/reaper.ts";
import { openMonitored, recover, startMonitored, type Attachment, type LogEntry, type MonitoredContainer, type StartOptions } from "../../src/engine/monitor/index.ts";
import type { Spec } from "../../src/oci/runtime-spec.ts";

const d = isRoot ? describe : describe.skip;
const dec = new TextDecoder();

let runtimeRoot = "";
let execRoot = "";
let rt: Runtime;
const bundles: Bundle[] = [];
const started: MonitoredContainer[] = [];

let env: MonitorEnv;
beforeAll(() => {
  if (!isRoot) return;
  env = monitorEnv("berth-tty");
  ({ runtimeRoot, execRoot, rt } = env);
});

afterAll(async () => {
  if (!isRoot) return;
  await stopMonitored(env, started);
  removeMonitorEnv(env, bundles);
});

type Opts = Partial<Pick<StartOptions, "openStdin" | "stdinOnce">> & { tty?: boolean; size?: { height: number; width: number } };

async function start(args: string[], o: Opts = {}): Promise<MonitoredContainer> {
  const b = makeBundle(args, (s: Spec) => {
    s.process!.terminal = o.tty ?? true;
    if (o.size) s.process!.consoleSize = o.size;
  });
  bundles.push(b);
  const c = await startMonitored({ runtime: rt, execRoot, id: uniqueId("tty"), bundle: b.dir, openStdin: o.openStdin, stdinOnce: o.stdinOnce });
  started.push(c);
  return c;
}

/** A script file for a separate Bun process (an engine of its own). */
async function script(name: string, text: string): Promise<string> {
  const file = join(execRoot, `${name}-${process.pid}.ts`);
  await Bun.write(file, text);
  return file;
}

/** An attachment whose output is collected as text (a terminal has one stream: stdout). */
function collect(a: Attachment) {
  const r = { text: "", streams: new Set<string>(), done: Promise.resolve() };
  r.done = (async () => {
    for await (const o of a.output) {
      r.text += dec.decode(o.data);
      r.streams.add(o.stream);
    }
  })();
  return r;
}

/** Send a command to the shell and wait for a marker it prints (the terminal echoes the command too). */
async function ask(a: Attachment, out: { text: string }, cmd: string, expect: RegExp): Promise<RegExpMatchArray | null> {
  const from = out.text.length;
  a.write(cmd + "\n");
  await waitFor(() => expect.test(out.text.slice(from)), 15_000);
  return out.text.slice(from).match(expect);
}

async function logText(c: MonitoredContainer): Promise<{ text: string; streams: Set<string> }> {
  const es: LogEntry[] = [];
  for await (const e of c.logs()) es.push(e);
  return { text: es.map((e) => dec.decode(e.data)).join(""), streams: new Set(es.map((e) => e.stream)) };
}

function vmRssKb(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m)![1]);
}

d("monitor: terminal", () => {
  test("a shell on a pty: input, output, its own /dev/pts, size and resize, the log, the exit status", async () => {
    const c = await start(["sh"], { openStdin: true, size: { height: 33, width: 101 } });
    expect(c.terminal).toBe(true);
    const a = await c.attach();
    const out = collect(a);
    // markers are computed by the shell, so the echoed command never matches them
    expect((await ask(a, out, "echo $((6*7))", /\r\n42\r\n/))?.[0]).toBe("\r\n42\r\n");
    const tty = await ask(a, out, 'echo "T$((1+1))=$(tty)="', /T2=(\S+)=/);
    expect(["/dev/pts/0", "/dev/console"]).toContain(tty![1]!);
    // the initial size came from process.consoleSize, before the process started
    expect((await ask(a, out, 'echo "S$((1+1))=$(stty size)="', /S2=(\d+ \d+)=/))?.[1]).toBe("33 101");
    a.resize(50, 132);
    const resized = await ask(a, out, 'echo "S$((1+1))=$(stty size)="', /S2=(\d+ \d+)=/);
    expect(resized?.[1]).toBe("50 132");
    // break-out: its /dev/pts is a devpts instance of its own, holding only its pty
    const pts = await ask(a, out, 'echo "P$((1+1))=$(ls /dev/pts | tr "\\n" " ")="', /P2=([^=]*)=/);
    expect(pts![1]!.trim().split(/\s+/).sort()).toEqual(["0", "ptmx"]);
    // the monitor stays small with a terminal (measured while attached, after output)
    const rss = vmRssKb(c.monitorPid!);
    console.log(`berth-monitor with a terminal: VmRSS ${rss} kB`);
    expect(rss).toBeLessThan(1024);
    a.write("exit 3\n");
    const exit = await a.exit;
    await out.done;
    expect(exit).toMatchObject({ exitCode: 3, signal: 0 });
    expect(await c.wait()).toMatchObject({ exitCode: 3 });
    expect([...out.streams]).toEqual(["stdout"]);
    // the log has the terminal's output (as stdout, with the terminal's \r\n, as docker's)
    const log = await logText(c);
    expect([...log.streams]).toEqual(["stdout"]);
    expect(log.text).toContain("42\r\n");
    expect(log.text).toContain("S2=50 132=");
  });

  test("a container's pty is not another container's: each sees only its own devpts", async () => {
    const one = await start(["sh", "-c", "sleep 100"], { openStdin: true });
    const two = await start(["sh"], { openStdin: true });
    const a = await two.attach();
    const out = collect(a);
    const pts = await ask(a, out, 'echo "P$((1+1))=$(ls /dev/pts | tr "\\n" " ")="', /P2=([^=]*)=/);
    expect(pts![1]!.trim().split(/\s+/).sort()).toEqual(["0", "ptmx"]);
    // nor the host's: the host's ptys are not reachable by number
    const host = await ask(a, out, 'echo "H$((1+1))=$(cat /dev/pts/1 2>&1 </dev/null | head -c 40)="', /H2=([^=]*)=/);
    expect(host![1]).toMatch(/No such file|can't open/);
    a.write("exit\n");
    await a.exit;
    rt.kill(one.id, 9);
    expect(await one.wait()).toMatchObject({ exitCode: 137 });
  });

  test("without OpenStdin a terminal takes no input from clients", async () => {
    const c = await start(["sh", "-c", 'read -t 2 l; echo "got=[$l]"']);
    const a = await c.attach();
    const out = collect(a);
    a.write("hello\n");
    await a.exit;
    await out.done;
    expect((await c.wait()).exitCode).toBe(0);
    expect((await logText(c)).text).toContain("got=[]");
  });

  test("the engine is SIGKILLed: a restarted one (another process, through recover; then openMonitored) attaches, resizes and reads the log", async () => {
    const b = makeBundle(["sh"], (s: Spec) => {
      s.process!.terminal = true;
      s.process!.consoleSize = { height: 24, width: 80 };
    });
    bundles.push(b);
    const id = uniqueId("tty");
    const lib = JSON.stringify(join(import.meta.dir, "../../src"));
    // the engine that started it: a subreaper, as berthd; it types into the shell, then waits to be killed
    const launcher = await script(
      "launcher",
      `
      const src = ${lib};
      const { Runtime } = await import(src + "/runtime/container.ts");
      const { setChildSubreaper } = await import(src + "/runtime/sys/reaper.ts");
      const { startMonitored } = await import(src + "/engine/monitor/index.ts");
      setChildSubreaper(true);
      const c = await startMonitored({ runtime: new Runtime(${JSON.stringify(runtimeRoot)}), execRoot: ${JSON.stringify(execRoot)}, id: ${JSON.stringify(id)}, bundle: ${JSON.stringify(b.dir)}, openStdin: true });
      const a = await c.attach();
      (async () => { for await (const _ of a.output); })();
      a.write("echo $((1000+1))\\n");
      console.log(JSON.stringify({ monitorPid: c.monitorPid }));
      await new Promise(() => {});
    `,
    );
    const engine = Bun.spawn([process.execPath, launcher], { stdout: "pipe", stderr: "inherit" });
    const reader = engine.stdout.getReader();
    const info = JSON.parse(dec.decode((await reader.read()).value)) as { monitorPid: number };
    reader.releaseLock();
    const c = openMonitored(execRoot, id);
    started.push(c);
    expect(await waitFor(() => readFileSync(c.config.log!.path, "utf8").includes("1001\r"), 15_000)).toBe(true);
    engine.kill(9);
    await engine.exited;
    expect(c.state()).toBe("running");
    expect(readFileSync(`/proc/${info.monitorPid}/status`, "utf8")).toMatch(new RegExp(`^PPid:\\s+${process.pid}$`, "m"));

    const restarted = await script(
      "restarted",
      `
      const { recover } = await import(${lib} + "/engine/monitor/index.ts");
      const c = recover(${JSON.stringify(execRoot)}).find((x) => x.id === ${JSON.stringify(id)});
      if (!c || !c.terminal || c.state() !== "running") throw new Error("not recovered");
      const a = await c.attach();
      let text = "";
      const done = (async () => { for await (const o of a.output) text += new TextDecoder().decode(o.data); })();
      a.resize(40, 120);
      a.write('echo "S$((1+1))=$(stty size)="\\n');
      for (let i = 0; i < 3000 && !/S2=\\d+ \\d+=/.test(text); i++) await Bun.sleep(5);
      a.close();
      await done;
      const log = [];
      for await (const e of c.logs()) log.push(new TextDecoder().decode(e.data));
      console.log(JSON.stringify({ size: text.match(/S2=(\\d+ \\d+)=/)?.[1], log: log.join("") }));
    `,
    );
    const p = Bun.spawnSync([process.execPath, restarted], { stdout: "pipe", stderr: "pipe" });
    expect(dec.decode(p.stderr)).toBe("");
    const r = JSON.parse(dec.decode(p.stdout).trim().split("\n").pop()!) as { size: string; log: string };
    expect(r.size).toBe("40 120");
    expect(r.log).toContain("1001\r\n");
    expect(r.log).toContain("S2=40 120=");
    // and this process too, through openMonitored (no state kept in memory)
    const again = openMonitored(execRoot, id);
    const a = await again.attach();
    const out = collect(a);
    expect((await ask(a, out, 'echo "S$((1+1))=$(stty size)="', /S2=(\d+ \d+)=/))?.[1]).toBe("40 120");
    a.write("exit 5\n");
    expect(await a.exit).toMatchObject({ exitCode: 5 });
    expect(await again.wait()).toMatchObject({ exitCode: 5 });
  });

  test("the container holds only its terminal: no pty master, no console socket, nothing of the monitor", async () => {
    const c = await start(["sh", "-c", "exec ls -l /proc/self/fd"]);
    await c.wait();
    const fds = (await logText(c)).text
      .split("\n")
      .map((l) => /(\d+) -> (.*)$/.exec(l.trim()))
      .filter((m) => m !== null)
      .map((m) => [Number(m[1]), m[2]!.trim()] as const);
    expect(fds.map(([fd]) => fd)).toEqual([0, 1, 2]);
    for (const [, target] of fds) expect(target).toBe("/dev/pts/0");
  });
});

d("monitor: StdinOnce", () => {
  test("cat: write, end the input, the container exits 0 and the log has the text", async () => {
    const c = await start(["cat"], { tty: false, openStdin: true, stdinOnce: true });
    const a = await c.attach();
    const out = collect(a);
    a.write("hi there\n");
    a.write("second line\n");
    a.endStdin();
    expect(await a.exit).toMatchObject({ exitCode: 0 });
    await out.done;
    // the output still reached the client after its half-close
    expect(out.text).toBe("hi there\nsecond line\n");
    expect(await c.wait()).toMatchObject({ exitCode: 0 });
    expect((await logText(c)).text).toBe("hi there\nsecond line\n");
  });

  test("a client that wrote and disconnects ends the input; one that only watched does not", async () => {
    const c = await start(["sh", "-c", 'while read l; do echo "got $l"; done; echo "eof"'], { tty: false, openStdin: true, stdinOnce: true });
    const watcher = await c.attach();
    const seen = collect(watcher);
    const quiet = await c.attach();
    quiet.close(); // never wrote: the container's stdin stays open
    const writer = await c.attach();
    writer.write("one\n");
    expect(await waitFor(() => seen.text.includes("got one\n"), 10_000)).toBe(true);
    expect(c.state()).toBe("running");
    writer.close();
    expect(await watcher.exit).toMatchObject({ exitCode: 0 });
    await seen.done;
    expect(seen.text).toBe("got one\neof\n");
  });

  test("without StdinOnce a client's end leaves stdin open for the next client", async () => {
    const c = await start(["sh", "-c", 'while read l; do echo "got $l"; done; echo "eof"'], { tty: false, openStdin: true });
    const first = await c.attach();
    const out1 = collect(first);
    first.write("one\n");
    expect(await waitFor(() => out1.text.includes("got one\n"), 10_000)).toBe(true);
    first.endStdin();
    first.close();
    const second = await c.attach();
    const out2 = collect(second);
    second.write("two\n");
    expect(await waitFor(() => out2.text.includes("got two\n"), 10_000)).toBe(true);
    second.closeStdin(); // the explicit close
    expect(await second.exit).toMatchObject({ exitCode: 0 });
    await out2.done;
    expect(out2.text).toBe("got two\neof\n");
  });

  test("with a terminal, StdinOnce does not close it: a later client can still type (as docker)", async () => {
    const c = await start(["sh"], { openStdin: true, stdinOnce: true });
    const first = await c.attach();
    const out1 = collect(first);
    expect(await ask(first, out1, "echo $((2+3))x", /5x\r\n/)).not.toBeNull();
    first.endStdin();
    first.close();
    const second = await c.attach();
    const out2 = collect(second);
    expect(await ask(second, out2, "echo $((4+4))y", /8y\r\n/)).not.toBeNull();
    second.write("exit 0\n");
    expect(await second.exit).toMatchObject({ exitCode: 0 });
  });
});
