/**
 * The real docker CLI against berthd: the everyday container verbs (run,
 * ps, logs, stop, kill, rm, inspect, wait, rename, pause, update, restart
 * policies) and a daemon kill -9 / restart that loses no exit code or log
 * line. The image is the busybox rootfs imported as local/busybox.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { haveDocker, startBerthd, type Berthd } from "../helpers/berthd.ts";
import { IMG, ROOTFS, busyboxDaemon, until } from "../helpers/docker-busybox.ts";



describe.skipIf(!haveDocker || !existsSync(ROOTFS))("docker CLI: containers", () => {
  let d: Berthd;
  const restarted: Berthd[] = [];

  beforeAll(async () => {
    d = await busyboxDaemon();
  });

  afterAll(async () => {
    if (!d) return;
    const ids = (await d.docker(["ps", "-aq"])).stdout.split("\n").filter(Boolean);
    if (ids.length) await d.docker(["rm", "-f", ...ids]);
    for (const r of restarted) await r.stop();
    await d.cleanup();
  });

  test("run --rm prints the output and removes the container", async () => {
    const r = await d.docker(["run", "--rm", IMG, "echo", "hello from berth"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello from berth\n");
    expect(r.code).toBe(0);
    expect((await d.docker(["ps", "-aq"])).stdout).toBe("");
  });

  test("run returns the container's exit code; a missing command is 127", async () => {
    const r = await d.docker(["run", "--rm", IMG, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toBe("err\n");
    const missing = await d.docker(["run", "--rm", IMG, "/no/such/binary"]);
    expect(missing.code).toBe(127);
  });

  test("run -d, ps, logs, inspect, stop, rm", async () => {
    const run = await d.docker(["run", "-d", "--name", "ticker", IMG, "sh", "-c", "trap 'echo bye; exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]);
    expect(run.code).toBe(0);
    const id = run.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = await d.docker(["ps", "--format", "{{.ID}} {{.Names}} {{.Status}}"]);
    expect(ps.stdout).toContain(`${id.slice(0, 12)} ticker Up`);
    await until("log lines", async () => (await d.docker(["logs", "ticker"])).stdout.includes("tick 3"));
    const [info] = JSON.parse((await d.docker(["inspect", "ticker"])).stdout);
    expect(info.State.Running).toBe(true);
    expect(info.State.Pid).toBeGreaterThan(0);
    expect(info.Name).toBe("/ticker");
    expect(info.Config.Image).toBe(IMG);
    // the init is the container's pid 1, in the container's own pid namespace
    expect(readFileSync(`/proc/${info.State.Pid}/status`, "utf8")).toMatch(/NSpid:\s+\d+\s+1\n/);
    const stop = await d.docker(["stop", "ticker"]);
    expect(stop.code).toBe(0);
    const [after] = JSON.parse((await d.docker(["inspect", "ticker"])).stdout);
    expect(after.State.Running).toBe(false);
    expect(after.State.ExitCode).toBe(0);
    expect((await d.docker(["logs", "--tail", "1", "ticker"])).stdout).toBe("bye\n");
    expect((await d.docker(["ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}"])).stdout).toContain("ticker");
    expect((await d.docker(["rm", "ticker"])).code).toBe(0);
    expect((await d.docker(["inspect", "ticker"])).code).not.toBe(0);
  });

  test("names are unique; rm of a running container needs -f; kill; wait", async () => {
    const id = (await d.docker(["run", "-d", "--name", "sleeper", IMG, "sleep", "1000"])).stdout.trim();
    const dup = await d.docker(["run", "-d", "--name", "sleeper", IMG, "true"]);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain('The container name "/sleeper" is already in use');
    const rm = await d.docker(["rm", "sleeper"]);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toContain("container is running");
    const waiter = d.docker(["wait", "sleeper"]);
    expect((await d.docker(["kill", "sleeper"])).code).toBe(0);
    const w = await waiter;
    expect(w.stdout.trim()).toBe("137");
    expect((await d.docker(["rm", id])).code).toBe(0);
  });

  test("rename, pause/unpause, restart", async () => {
    await d.docker(["run", "-d", "--name", "before", IMG, "sleep", "1000"]);
    expect((await d.docker(["rename", "before", "after"])).code).toBe(0);
    expect((await d.docker(["inspect", "-f", "{{.Name}}", "after"])).stdout.trim()).toBe("/after");
    expect((await d.docker(["pause", "after"])).code).toBe(0);
    expect((await d.docker(["inspect", "-f", "{{.State.Status}}", "after"])).stdout.trim()).toBe("paused");
    expect((await d.docker(["unpause", "after"])).code).toBe(0);
    const pid1 = (await d.docker(["inspect", "-f", "{{.State.Pid}}", "after"])).stdout.trim();
    expect((await d.docker(["restart", "-t", "1", "after"])).code).toBe(0);
    const st = JSON.parse((await d.docker(["inspect", "-f", "{{json .State}}", "after"])).stdout);
    expect(st.Running).toBe(true);
    expect(String(st.Pid)).not.toBe(pid1);
    expect((await d.docker(["rm", "-f", "after"])).code).toBe(0);
  });

  test("restart policy on-failure:2 restarts twice, then stays exited", async () => {
    await d.docker(["run", "-d", "--name", "flaky", "--restart", "on-failure:2", IMG, "sh", "-c", "echo run; exit 1"]);
    const st = await until("two restarts", async () => {
      const s = JSON.parse((await d.docker(["inspect", "-f", "{{json .}}", "flaky"])).stdout);
      return s.RestartCount === 2 && s.State.Status === "exited" ? s : undefined;
    });
    expect(st.State.ExitCode).toBe(1);
    expect((await d.docker(["logs", "flaky"])).stdout).toBe("run\nrun\nrun\n");
    await d.docker(["rm", "flaky"]);
  });

  test("bad input is refused with docker's messages and creates nothing", async () => {
    const before = (await d.docker(["ps", "-aq"])).stdout;
    const bad = await d.docker(["run", "--rm", "--name", "bad name!", IMG, "true"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("Invalid container name");
    const noimg = await d.fetch("/containers/create", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ Image: "no/such:image", Cmd: ["true"] }) });
    expect(noimg.status).toBe(404);
    expect(((await noimg.json()) as { message: string }).message).toContain("No such image");
    const notjson = await d.fetch("/containers/create", { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    expect(notjson.status).toBe(400);
    const unknown = await d.docker(["stop", "no-such-container"]);
    expect(unknown.stderr).toContain("No such container: no-such-container");
    expect((await d.docker(["ps", "-aq"])).stdout).toBe(before);
  });

  test("restart policies after a daemon restart: always comes back, no stays down", async () => {
    const always = (await d.docker(["run", "-d", "--name", "phoenix", "--restart", "always", IMG, "sleep", "1000"])).stdout.trim();
    const plain = (await d.docker(["run", "-d", "--name", "mortal", IMG, "sleep", "1000"])).stdout.trim();
    const pids = [always, plain].map((id) => Number(JSON.parse(readFileSync(join(d.execRoot, "runtime", id, "state.json"), "utf8")).pid));
    const live = restarted.at(-1) ?? d;
    live.proc.kill("SIGKILL");
    await live.proc.exited;
    for (const pid of pids) process.kill(pid, "SIGKILL"); // both die while no daemon runs
    const again = await startBerthd([], { dir: d.dir });
    restarted.push(again);
    const st = await until("phoenix running again", async () => {
      const s = JSON.parse((await d.docker(["inspect", "-f", "{{json .State}}", "phoenix"])).stdout);
      return s.Running ? s : undefined;
    });
    expect(st.Pid).not.toBe(pids[0]);
    const m = JSON.parse((await d.docker(["inspect", "-f", "{{json .State}}", "mortal"])).stdout);
    expect(m.Running).toBe(false);
    expect(m.ExitCode).toBe(137);
    await d.docker(["rm", "-f", always, plain]);
  });

  test("berthd kill -9 and restart: containers keep running, logs and exit codes are kept", async () => {
    const id = (await d.docker(["run", "-d", "--name", "survivor", IMG, "sh", "-c", "i=0; while [ $i -lt 1000 ]; do echo line $i; i=$((i+1)); sleep 0.05; done"])).stdout.trim();
    const quick = (await d.docker(["run", "-d", "--name", "quick", IMG, "sleep", "1000"])).stdout.trim();
    await until("first lines", async () => (await d.docker(["logs", "survivor"])).stdout.includes("line 5"));
    const pid = Number((await d.docker(["inspect", "-f", "{{.State.Pid}}", "survivor"])).stdout.trim());
    const live = restarted.at(-1) ?? d;
    live.proc.kill("SIGKILL");
    await live.proc.exited;
    // while berthd is down: the container runs on; "quick" exits
    const quickPid = Number(JSON.parse(readFileSync(join(d.execRoot, "runtime", quick, "state.json"), "utf8")).pid);
    process.kill(quickPid, "SIGKILL");
    expect(readdirSync(`/proc/${pid}`).length).toBeGreaterThan(0);
    const again = await startBerthd([], { dir: d.dir });
    restarted.push(again);
    const st = JSON.parse((await d.docker(["inspect", "-f", "{{json .State}}", "survivor"])).stdout);
    expect(st.Running).toBe(true);
    expect(st.Pid).toBe(pid);
    const q = JSON.parse((await d.docker(["inspect", "-f", "{{json .State}}", "quick"])).stdout);
    expect(q.Running).toBe(false);
    expect(q.ExitCode).toBe(137);
    expect((await d.docker(["stop", "-t", "0", "survivor"])).code).toBe(0);
    const logs = (await d.docker(["logs", "survivor"])).stdout.trim().split("\n");
    // no line lost: consecutive from 0
    logs.forEach((l, i) => expect(l).toBe(`line ${i}`));
    await d.docker(["rm", "-f", id, quick]);
  });
});
