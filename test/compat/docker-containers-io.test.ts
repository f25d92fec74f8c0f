/**
 * The real docker CLI against berthd: terminals (run -it, attach, logs of a
 * tty container), stdin (run -i, StdinOnce, 100 KB round trip), docker exec
 * (exit code, -e/-u/-w, -i, -t, -d, a stopped container, ExecIDs) and the
 * container events with their exit codes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Berthd } from "../helpers/berthd.ts";
import { busyboxDaemon, canRun, eventsSince, IMG, SCRIPT, teardown, underPty, until } from "../helpers/docker-busybox.ts";

describe.skipIf(!canRun)("docker CLI: container I/O", () => {
  let d: Berthd;
  beforeAll(async () => {
    d = await busyboxDaemon();
  });
  afterAll(async () => {
    await teardown(d);
  });

  test.skipIf(!SCRIPT)("run -it: a pty, its size, the exit code", async () => {
    // the CLI sends its terminal's size (script's pty, sized here) at create and by resize
    const r = await underPty(d, `run -it --rm ${IMG} sh -c 'tty; stty size; exit 5'`, undefined, "stty rows 33 cols 101; ");
    expect(r.stdout).toContain("/dev/pts/0");
    expect(r.stdout).toContain("33 101\r\n");
    expect(r.code).toBe(5);
    expect((await d.docker(["ps", "-aq"])).stdout).toBe("");
  });

  test.skipIf(!SCRIPT)("run -t -d, attach through a pty, logs of a tty container", async () => {
    const id = (await d.docker(["run", "-t", "-d", "-i", "--name", "ttyd", IMG, "sh", "-c", "echo started; read line; echo got:$line; exit 7"])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect((await d.docker(["inspect", "-f", "{{.Config.Tty}}", "ttyd"])).stdout.trim()).toBe("true");
    await until("started", async () => (await d.docker(["logs", "ttyd"])).stdout.includes("started"));
    const r = await underPty(d, "attach ttyd", "hello\r");
    expect(r.stdout).toContain("got:hello");
    expect(r.code).toBe(7);
    const logs = await d.docker(["logs", "ttyd"]);
    // a tty container's log is the terminal's output: CRLF line ends, all on stdout
    expect(logs.stdout).toContain("started\r\n");
    expect(logs.stdout).toContain("got:hello");
    expect(logs.stderr).toBe("");
    expect((await d.docker(["inspect", "-f", "{{.State.ExitCode}}", "ttyd"])).stdout.trim()).toBe("7");
    await d.docker(["rm", "ttyd"]);
  });

  test("run -i: stdin to the container, closed at EOF (StdinOnce)", async () => {
    const r = await d.docker(["run", "-i", "--rm", IMG, "cat"], { stdin: "hello\n" });
    expect(r.stdout).toBe("hello\n");
    expect(r.code).toBe(0);
  });

  test("run -i: 100 KB round-trips", async () => {
    const lines: string[] = [];
    for (let i = 0; lines.join("\n").length < 100 * 1024; i++) lines.push(`line ${i} ${"x".repeat(60)}`);
    const input = lines.join("\n") + "\n";
    const r = await d.docker(["run", "-i", "--rm", IMG, "sh", "-c", "cat; echo done >&2"], { stdin: input });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(input.length);
    expect(r.stdout).toBe(input);
    expect(r.stderr).toBe("done\n");
    const wc = await d.docker(["run", "-i", "--rm", IMG, "wc", "-c"], { stdin: input });
    expect(wc.stdout.trim()).toBe(String(input.length));
  });

  test("exec: exit code, -e, -u, -w, -i, -d; ExecIDs while one runs", async () => {
    await d.docker(["run", "-d", "--name", "ex", IMG, "sleep", "1000"]);
    expect((await d.docker(["exec", "ex", "sh", "-c", "exit 42"])).code).toBe(42);
    expect((await d.docker(["exec", "-e", "FOO=bar baz", "ex", "sh", "-c", "echo $FOO"])).stdout).toBe("bar baz\n");
    expect((await d.docker(["exec", "-u", "1000:1000", "ex", "id"])).stdout.trim()).toMatch(/^uid=1000(\(\w+\))? gid=1000/);
    expect((await d.docker(["exec", "-u", "nobody", "ex", "id", "-un"])).stdout.trim()).toBe("nobody");
    expect((await d.docker(["exec", "-w", "/etc", "ex", "pwd"])).stdout).toBe("/etc\n");
    const i = await d.docker(["exec", "-i", "ex", "sh", "-c", "tr a-z A-Z"], { stdin: "shout\n" });
    expect(i.stdout).toBe("SHOUT\n");
    expect(i.code).toBe(0);
    // as dockerd (translateContainerdStartErr): a command that is not there is 127, the error
    // on the stream; the failed exec leaves nothing behind (the container still stops below)
    const missing = await d.docker(["exec", "ex", "/no/such"]);
    expect(missing.code).toBe(127);
    expect(missing.stdout).toContain("/no/such");
    // -d: runs on after the CLI returns
    const det = await d.docker(["exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/det; sleep 1000"]);
    expect(det.code).toBe(0);
    expect(det.stdout).toBe("");
    await until("the detached exec wrote", async () => (await d.docker(["exec", "ex", "cat", "/tmp/det"])).stdout === "detached\n");
    const ids = JSON.parse((await d.docker(["inspect", "-f", "{{json .ExecIDs}}", "ex"])).stdout) as string[];
    expect(ids.length).toBeGreaterThanOrEqual(1);
    const running = [];
    for (const id of ids) {
      const r = await d.fetch(`/exec/${id}/json`);
      const info = (await r.json()) as { Running: boolean; ProcessConfig: { entrypoint: string; arguments: string[] } };
      if (info.Running) running.push(info);
    }
    expect(running.length).toBe(1);
    expect(running[0]!.ProcessConfig.arguments).toContain("echo detached > /tmp/det; sleep 1000");
    const ps = (await d.docker(["top", "ex"])).stdout;
    expect(ps).toContain("sleep 1000");
    // the failed exec left no zombie in the container's pid namespace: it can stop
    expect((await d.docker(["rm", "-f", "ex"])).code).toBe(0);
  });

  test.skipIf(!SCRIPT)("exec -t through a pty", async () => {
    await d.docker(["run", "-d", "--name", "ext", IMG, "sleep", "1000"]);
    const r = await underPty(d, "exec -it ext sh -c 'tty; exit 3'");
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(r.code).toBe(3);
    const nt = await d.docker(["exec", "ext", "tty"]);
    expect(nt.stdout.trim()).toBe("not a tty");
    await d.docker(["rm", "-f", "ext"]);
  });

  test("exec in a stopped container: docker's error", async () => {
    await d.docker(["create", "--name", "stopped", IMG, "true"]);
    const r = await d.docker(["exec", "stopped", "true"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Container [0-9a-f]{64} is not running/);
    await d.docker(["start", "-a", "stopped"]);
    const r2 = await d.docker(["exec", "stopped", "true"]);
    expect(r2.stderr).toMatch(/is not running/);
    await d.docker(["rm", "stopped"]);
  });

  test("events --filter type=container: create, start, die (exitCode), destroy", async () => {
    const since = Date.now() / 1000 - 0.5;
    const id = (await d.docker(["run", "-d", "--name", "ev", IMG, "sh", "-c", "exit 3"])).stdout.trim();
    await d.docker(["wait", "ev"]);
    await d.docker(["rm", "ev"]);
    const evs = (await eventsSince(d, since, ["--filter", "type=container"])).filter((e) => e.Actor.ID === id);
    const actions = evs.map((e) => e.Action);
    expect(actions).toEqual(["create", "start", "die", "destroy"]);
    const die = evs.find((e) => e.Action === "die")!;
    expect(die.Actor.Attributes.exitCode).toBe("3");
    expect(die.Actor.Attributes.name).toBe("ev");
    expect(die.Actor.Attributes.image).toBe(IMG);
    const all = await eventsSince(d, since, ["--filter", "type=network"]);
    expect(all.every((e) => e.Type === "network")).toBe(true);
  });
});
