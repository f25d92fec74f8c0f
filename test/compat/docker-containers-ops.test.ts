/**
 * The real docker CLI against berthd: watching and managing running
 * containers — stats, top, update (live memory limit in the cgroup, restart
 * policy), healthchecks, OOM kills, prune, ps filters and formats, wait
 * conditions, restart, rm -f of a paused container.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import type { Berthd } from "../helpers/berthd.ts";
import { busyboxDaemon, canRun, eventsSince, IMG, teardown, until } from "../helpers/docker-busybox.ts";

/** the container's cgroup v1 memory dir as the kernel names it for its init */
function memoryCgroup(pid: number): string | undefined {
  const line = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => /^\d+:memory:/.test(l));
  if (!line) return undefined;
  const dir = `/sys/fs/cgroup/memory${line.split(":")[2]}`;
  return existsSync(dir) ? dir : undefined;
}

describe.skipIf(!canRun)("docker CLI: managing running containers", () => {
  let d: Berthd;
  beforeAll(async () => {
    d = await busyboxDaemon();
  });
  afterAll(async () => {
    await teardown(d);
  });

  test("stats --no-stream and top of a running container", async () => {
    await d.docker(["run", "-d", "--name", "st", "-m", "64m", IMG, "sh", "-c", "while true; do sleep 1; done"]);
    const s = await d.docker(["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "st"]);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^st [\d.]+[KMG]?i?B \/ 64MiB \d+\n$/);
    const j = await d.docker(["stats", "--no-stream", "--format", "{{json .}}", "st"]);
    const row = JSON.parse(j.stdout);
    expect(Number(row.PIDs)).toBeGreaterThanOrEqual(1);
    const top = await d.docker(["top", "st"]);
    expect(top.code).toBe(0);
    expect(top.stdout.split("\n")[0]).toMatch(/UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD/);
    expect(top.stdout).toContain("while true");
    const topArgs = await d.docker(["top", "st", "-o", "pid,comm"]);
    expect(topArgs.stdout).toMatch(/PID\s+COMMAND/);
    await d.docker(["rm", "-f", "st"]);
  });

  test("update --memory changes the cgroup live; update --restart", async () => {
    await d.docker(["run", "-d", "--name", "up", "-m", "32m", IMG, "sleep", "1000"]);
    const pid = Number((await d.docker(["inspect", "-f", "{{.State.Pid}}", "up"])).stdout);
    const cg = memoryCgroup(pid);
    expect(cg).toBeDefined();
    expect(readFileSync(`${cg}/memory.limit_in_bytes`, "utf8").trim()).toBe(String(32 * 1024 * 1024));
    const u = await d.docker(["update", "--memory", "64m", "--memory-swap", "128m", "up"]);
    expect(u.code).toBe(0);
    expect(readFileSync(`${cg}/memory.limit_in_bytes`, "utf8").trim()).toBe(String(64 * 1024 * 1024));
    expect((await d.docker(["inspect", "-f", "{{.HostConfig.Memory}}", "up"])).stdout.trim()).toBe(String(64 * 1024 * 1024));
    expect((await d.docker(["update", "--restart", "always", "up"])).code).toBe(0);
    expect((await d.docker(["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "up"])).stdout.trim()).toBe("always");
    // the new policy is live: the container comes back after its process dies
    process.kill(pid, "SIGKILL");
    await until("restarted", async () => {
      const st = JSON.parse((await d.docker(["inspect", "-f", "{{json .}}", "up"])).stdout);
      return st.RestartCount >= 1 && st.State.Running && st.State.Pid !== pid;
    });
    const bad = await d.docker(["update", "--memory", "junk", "up"]);
    expect(bad.code).not.toBe(0);
    await d.docker(["rm", "-f", "up"]);
  });

  test("healthcheck: unhealthy, then healthy after the file appears; ps and events show it", async () => {
    const since = Date.now() / 1000 - 0.5;
    await d.docker(["run", "-d", "--name", "hc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "200ms", "--health-retries", "1", IMG, "sleep", "1000"]);
    await until("unhealthy", async () => (await d.docker(["inspect", "-f", "{{.State.Health.Status}}", "hc"])).stdout.trim() === "unhealthy");
    expect((await d.docker(["ps", "--format", "{{.Status}}", "--filter", "name=hc"])).stdout).toContain("(unhealthy)");
    expect((await d.docker(["exec", "hc", "touch", "/tmp/ok"])).code).toBe(0);
    await until("healthy", async () => (await d.docker(["inspect", "-f", "{{.State.Health.Status}}", "hc"])).stdout.trim() === "healthy");
    expect((await d.docker(["ps", "--format", "{{.Status}}", "--filter", "name=hc"])).stdout).toContain("(healthy)");
    expect((await d.docker(["ps", "-q", "--filter", "health=healthy"])).stdout.trim()).not.toBe("");
    const log = JSON.parse((await d.docker(["inspect", "-f", "{{json .State.Health}}", "hc"])).stdout);
    expect(log.Log.length).toBeGreaterThan(0);
    expect(log.Log.at(-1).ExitCode).toBe(0);
    const evs = await eventsSince(d, since, ["--filter", "container=hc", "--filter", "event=health_status"]);
    const statuses = evs.map((e) => e.Action);
    expect(statuses).toContain("health_status: unhealthy");
    expect(statuses).toContain("health_status: healthy");
    await d.docker(["rm", "-f", "hc"]);
  });

  test("OOM: a memory hog under -m 16m is killed: 137, OOMKilled, an oom event", async () => {
    const since = Date.now() / 1000 - 0.5;
    const r = await d.docker(["run", "--name", "oom", "-m", "16m", "--memory-swap", "16m", IMG, "sh", "-c", "tail /dev/zero"]);
    expect(r.code).toBe(137);
    const st = JSON.parse((await d.docker(["inspect", "-f", "{{json .State}}", "oom"])).stdout);
    expect(st.OOMKilled).toBe(true);
    expect(st.ExitCode).toBe(137);
    const evs = await eventsSince(d, since, ["--filter", "container=oom"]);
    const actions = evs.map((e) => e.Action);
    expect(actions).toContain("oom");
    expect(actions.indexOf("oom")).toBeLessThan(actions.indexOf("die"));
    await d.docker(["rm", "oom"]);
  });

  test("ps --filter and --format; wait conditions; container prune", async () => {
    await d.docker(["run", "-d", "--name", "p-run", "--label", "team=a", IMG, "sleep", "1000"]);
    await d.docker(["run", "--name", "p-exit3", "--label", "team=b", IMG, "sh", "-c", "exit 3"]);
    await d.docker(["create", "--name", "p-created", IMG, "true"]);
    const fmt = ["--format", "{{.Names}}"];
    const names = async (args: string[]) => (await d.docker(["ps", ...args, ...fmt])).stdout.split("\n").filter(Boolean).sort();
    expect(await names([])).toEqual(["p-run"]);
    expect(await names(["-a", "--filter", "status=exited"])).toEqual(["p-exit3"]);
    expect(await names(["-a", "--filter", "status=created"])).toEqual(["p-created"]);
    expect(await names(["-a", "--filter", "exited=3"])).toEqual(["p-exit3"]);
    expect(await names(["-a", "--filter", "label=team=a"])).toEqual(["p-run"]);
    expect(await names(["-a", "--filter", "name=p-"])).toEqual(["p-created", "p-exit3", "p-run"]);
    expect(await names(["-a", "--filter", `ancestor=${IMG}`, "--filter", "status=running"])).toEqual(["p-run"]);
    const table = await d.docker(["ps", "-a", "--filter", "name=p-exit3", "--format", "table {{.Names}}\t{{.Status}}\t{{.Label \"team\"}}"]);
    expect(table.stdout).toMatch(/^NAMES\s+STATUS\s+team\np-exit3\s+Exited \(3\) .* ago\s+b\n$/);
    const badf = await d.docker(["ps", "--filter", "nosuch=1"]);
    expect(badf.code).not.toBe(0);
    expect(badf.stderr).toContain("invalid filter 'nosuch'");
    // wait: not-running returns at once for an exited one; removed waits for the removal
    expect((await d.docker(["wait", "p-exit3"])).stdout.trim()).toBe("3");
    const removedWait = d.fetch("/containers/p-exit3/wait?condition=removed", { method: "POST" });
    const nextExit = d.fetch("/containers/p-run/wait?condition=next-exit", { method: "POST" });
    await Bun.sleep(200);
    // prune removes stopped containers only (p-exit3 and p-created), not p-run
    const pr = await d.docker(["container", "prune", "-f", "--filter", "label=team=b"]);
    expect(pr.code).toBe(0);
    expect(pr.stdout).toMatch(/Deleted Containers:\n[0-9a-f]{64}\n/);
    const rw = await removedWait;
    expect(((await rw.json()) as { StatusCode: number }).StatusCode).toBe(3);
    expect(await names(["-a"])).toEqual(["p-created", "p-run"]);
    await d.docker(["kill", "p-run"]);
    expect(((await (await nextExit).json()) as { StatusCode: number }).StatusCode).toBe(137);
    const pr2 = await d.docker(["container", "prune", "-f"]);
    expect(pr2.stdout).toContain("Total reclaimed space:");
    expect(await names(["-a"])).toEqual([]);
  });

  test("restart of a running container; rm -f of a paused one", async () => {
    await d.docker(["run", "-d", "--name", "rs", IMG, "sh", "-c", "echo start; sleep 1000"]);
    const pid1 = (await d.docker(["inspect", "-f", "{{.State.Pid}}", "rs"])).stdout.trim();
    expect((await d.docker(["restart", "-t", "0", "rs"])).code).toBe(0);
    const st = JSON.parse((await d.docker(["inspect", "-f", "{{json .State}}", "rs"])).stdout);
    expect(st.Running).toBe(true);
    expect(String(st.Pid)).not.toBe(pid1);
    await until("second start logged", async () => (await d.docker(["logs", "rs"])).stdout === "start\nstart\n");
    expect((await d.docker(["pause", "rs"])).code).toBe(0);
    const pid = Number((await d.docker(["inspect", "-f", "{{.State.Pid}}", "rs"])).stdout);
    const rm = await d.docker(["rm", "-f", "rs"]);
    expect(rm.code).toBe(0);
    expect((await d.docker(["ps", "-aq", "--filter", "name=rs"])).stdout).toBe("");
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });
});
