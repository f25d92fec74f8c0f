/**
 * stats, top, run-capture, healthchecks and OOM detection against real
 * containers (the runtime library on the busybox rootfs), on this machine's
 * hybrid cgroups (memory, cpuacct and pids on v1).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RuntimeCli, isRoot, waitFor } from "./harness.ts";
import { startContainer, type Running } from "./exec-helpers.ts";
import type { ContainerRecord } from "../../src/engine/containers/model.ts";
import { runtimeHandle } from "../../src/engine/containers/runtime-handle.ts";
import { statsOnce, statsStream, type DockerStats } from "../../src/engine/containers/stats.ts";
import { top } from "../../src/engine/containers/top.ts";
import { runCapture, MAX_CAPTURE } from "../../src/engine/containers/run-capture.ts";
import { HealthChecker, containerProbe } from "../../src/engine/containers/health.ts";
import { wasOomKilled, watchContainerOom } from "../../src/engine/containers/oom.ts";
import type { HealthState } from "../../src/engine/containers/model.ts";
import { BerthError } from "../../src/errors.ts";
import type { Spec } from "../../src/oci/runtime-spec.ts";

const M = 1024 * 1024;
const hasV1 = (c: string) => existsSync(`/sys/fs/cgroup/${c}/cgroup.procs`);
const d = describe.skipIf(!isRoot);

let rt: RuntimeCli;
const started: Running[] = [];

beforeAll(() => {
  if (isRoot) rt = new RuntimeCli();
});
afterAll(() => {
  for (const c of started) c.cleanup();
  rt?.cleanup();
});

/** A running container and the engine record that points at it. */
function boot(name: string, edit: (s: Spec) => void = () => {}, args?: string[]): { c: Running; record: ContainerRecord } {
  const c = startContainer(
    rt,
    (s) => {
      s.linux!.cgroupsPath = `/berth-test-cops-${process.pid}-${name}`;
      s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1777"] });
      if (args) s.process!.args = args;
      edit(s);
    },
    "cops",
  );
  started.push(c);
  const record = {
    Id: c.id,
    Name: name,
    runtimeRoot: rt.root,
    Config: { Labels: {} },
    State: { Status: "running", Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: c.pid, ExitCode: 0, Error: "", StartedAt: "", FinishedAt: "" },
  } as unknown as ContainerRecord;
  return { c, record };
}

const cgFile = (record: ContainerRecord, kind: "memory" | "pids" | "cpuacct", file: string) => {
  const dir = runtimeHandle(record).cgroup.toJSON().v1!.dirs[kind]!;
  return readFileSync(join(dir, file), "utf8").trim();
};
const statKey = (text: string, key: string) => Number(new RegExp(`^${key} (\\d+)$`, "m").exec(text)?.[1]);

d("stats", () => {
  test.skipIf(!hasV1("memory") || !hasV1("pids") || !hasV1("cpuacct"))("one sample matches the cgroup files (v1 memory, cpuacct, pids)", async () => {
    const { record } = boot("stats", (s) => (s.linux!.resources = { memory: { limit: 64 * M }, pids: { limit: 50 } }), ["sh", "-c", "head -c 3000000 /dev/zero > /tmp/f; exec sleep 1000"]);
    // the file is written once the init is sleep
    const pid = runtimeHandle(record).pid;
    expect(await waitFor(() => readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "sleep", 20_000)).toBe(true);
    const s = await statsOnce(record, { oneShot: true });
    expect(s.name).toBe("/stats");
    expect(s.id).toBe(record.Id);
    expect(s.preread).toBe("0001-01-01T00:00:00Z");
    expect(s.precpu_stats.cpu_usage.total_usage).toBe(0);
    expect(Date.parse(s.read)).toBeGreaterThan(0);
    // memory: limit as set, the raw fields the CLI subtracts, usage as the kernel counts it
    expect(s.memory_stats.limit).toBe(64 * M);
    const stat = cgFile(record, "memory", "memory.stat");
    expect(s.memory_stats.stats!.total_inactive_file).toBe(statKey(stat, "total_inactive_file"));
    expect(s.memory_stats.stats!.total_rss).toBe(statKey(stat, "total_rss"));
    const usage = Number(cgFile(record, "memory", "memory.usage_in_bytes"));
    expect(Math.abs(s.memory_stats.usage! - usage)).toBeLessThan(M);
    expect(s.memory_stats.usage!).toBeGreaterThan(2_900_000); // the tmpfs file is charged to the container
    expect(s.memory_stats.max_usage!).toBeGreaterThanOrEqual(s.memory_stats.usage!);
    // pids
    expect(s.pids_stats).toEqual({ current: 1, limit: 50 });
    // cpu: v1 has per-cpu usage; totals not beyond what the kernel says afterwards
    const total = Number(cgFile(record, "cpuacct", "cpuacct.usage"));
    expect(s.cpu_stats.cpu_usage.total_usage).toBeGreaterThan(0);
    expect(s.cpu_stats.cpu_usage.total_usage).toBeLessThanOrEqual(total);
    expect(s.cpu_stats.cpu_usage.percpu_usage!.length).toBe(s.cpu_stats.online_cpus!);
    expect(s.cpu_stats.system_cpu_usage!).toBeGreaterThan(s.cpu_stats.cpu_usage.total_usage);
    // its own network namespace has only lo, which docker leaves out
    expect(s.networks).toBeUndefined();
  });

  test("unlimited memory reports the host's MemTotal; a second sample carries the first as precpu", async () => {
    const { record } = boot("stats2");
    const memTotal = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
    const s = await statsOnce(record, { intervalMs: 100 });
    expect(s.memory_stats.limit).toBe(memTotal);
    expect(s.preread).not.toBe("0001-01-01T00:00:00Z");
    expect(Date.parse(s.read)).toBeGreaterThan(Date.parse(s.preread));
    expect(s.cpu_stats.system_cpu_usage!).toBeGreaterThanOrEqual(s.precpu_stats.system_cpu_usage!);
    expect(s.cpu_stats.cpu_usage.total_usage).toBeGreaterThanOrEqual(s.precpu_stats.cpu_usage.total_usage);
  });

  test("the stream gives one object per interval and ends when the container stops", async () => {
    const { c, record } = boot("stream");
    const got: DockerStats[] = [];
    const done = statsStream(record, (s) => void got.push(s), { intervalMs: 50 });
    expect(await waitFor(() => got.length >= 3, 20_000)).toBe(true);
    expect(got[0]!.precpu_stats.cpu_usage.total_usage).toBe(0);
    expect(got[1]!.preread).toBe(got[0]!.read);
    expect(got[1]!.precpu_stats).toEqual(got[0]!.cpu_stats);
    rt.ok(["kill", c.id, "KILL"]);
    await done; // returns on its own once the container is gone
    const n = got.length;
    await Bun.sleep(150);
    expect(got.length).toBe(n);
  });

  test("a container that is not running: the empty object, at once", async () => {
    const { record } = boot("stopped");
    const stopped = { ...record, State: { ...record.State, Running: false, Status: "exited" } } as ContainerRecord;
    const s = await statsOnce(stopped);
    expect(s.read).toBe("0001-01-01T00:00:00Z");
    expect(s.memory_stats).toEqual({});
    const got: DockerStats[] = [];
    await statsStream(stopped, (x) => void got.push(x));
    expect(got.length).toBe(1);
  });
});

d("top", () => {
  test("lists the container's processes, never the host's, whatever ps_args asks for", async () => {
    const { record } = boot("top", () => {}, ["sh", "-c", "sleep 1001 & sleep 1002 & wait"]);
    expect(await waitFor(() => runtimeHandle(record).cgroup.processes().length === 3, 20_000)).toBe(true);
    const inCgroup = new Set(runtimeHandle(record).cgroup.processes());
    for (const args of ["", "-ef", "aux", "-e -o pid,comm,args", "-p 1", `-p ${process.pid}`, "-A"]) {
      const r = top(record, args);
      const pidCol = r.Titles.indexOf("PID");
      expect(pidCol).toBeGreaterThanOrEqual(0);
      for (const row of r.Processes) expect(inCgroup.has(Number(row[pidCol]))).toBe(true);
      if (args.startsWith("-p")) expect(r.Processes).toEqual([]); // host init / the test runner: not the container's
      else expect(r.Processes.length).toBe(3);
    }
    const ef = top(record, "-ef");
    expect(ef.Titles).toEqual(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
    expect(ef.Processes.map((p) => p[7]).sort()).toEqual(["sh -c sleep 1001 & sleep 1002 & wait", "sleep 1001", "sleep 1002"].sort());
  });

  test("errors: not running (409), bad ps_args (500 with ps's message), renamed pid column (400)", () => {
    const { record } = boot("toperr");
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as BerthError).code, (e as Error).message];
      }
      return ["none", ""];
    };
    const stopped = { ...record, State: { ...record.State, Running: false } } as ContainerRecord;
    expect(code(() => top(stopped))).toEqual(["FailedPrecondition", `Container ${record.Id} is not running`]);
    const [c, msg] = code(() => top(record, "--no-such-option"));
    expect(c).toBe("Internal");
    expect(msg).toMatch(/^ps: .*(unknown|error|option)/i);
    expect(code(() => top(record, "-o user=PID"))[0]).toBe("InvalidArgument");
    // the container has no PID column without pid in -o: docker's error, nothing from the host
    expect(code(() => top(record, "-o comm"))).toEqual(["Internal", "Couldn't find PID field in ps output"]);
  });
});

d("run-capture", () => {
  let record: ContainerRecord;
  beforeAll(() => {
    record = boot("capture", (s) => (s.process!.env = ["PATH=/bin", "FROM_CONFIG=yes"])).record;
  });

  test("stdout and stderr together, the exit status, the container's env", async () => {
    const r = await runCapture(record, { args: ["sh", "-c", "echo out; echo err >&2; echo $FROM_CONFIG; exit 3"] });
    expect(r.exitCode).toBe(3);
    expect(r.output.split("\n").sort()).toEqual(["", "err", "out", "yes"]);
    expect(r.timedOut).toBe(false);
    const env = await runCapture(record, { args: ["sh", "-c", "echo $X"], env: ["X=given"] });
    expect(env.output).toBe("given\n");
  });

  test("output is capped at 4 KiB; the process still runs to its end", async () => {
    const r = await runCapture(record, { args: ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a; echo done >&2; exit 0"] });
    expect(r.exitCode).toBe(0);
    expect(r.output.length).toBe(MAX_CAPTURE);
    expect(r.output).toBe("a".repeat(MAX_CAPTURE));
  });

  test("a timeout kills the process; a background child holding the pipe does not hang the capture", async () => {
    const r = await runCapture(record, { args: ["sh", "-c", "echo started; exec sleep 1000"], timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(137);
    expect(r.output).toBe("started\n");
    const bg = await runCapture(record, { args: ["sh", "-c", "sleep 1003 & echo hi"] });
    expect(bg.exitCode).toBe(0);
    expect(bg.output).toBe("hi\n");
    expect(runtimeHandle(record).cgroup.processes().length).toBeGreaterThanOrEqual(2); // the sleep lives on in the container
  });

  test("a command that does not exist is an error, not a hang", async () => {
    let err: unknown;
    try {
      await runCapture(record, { args: ["/no/such/binary"] });
    } catch (e) {
      err = e;
    }
    expect(String((err as Error)?.message)).toContain("/no/such/binary");
  });
});

d("healthchecks", () => {
  test("a real container: unhealthy while the test fails, healthy once it passes; stop ends it", async () => {
    const { record } = boot("health");
    const states: HealthState[] = [];
    const events: string[] = [];
    let unhealthy = 0;
    const hc = new HealthChecker({
      config: { Test: ["CMD-SHELL", "test -e /tmp/ok && echo fine"], Interval: 100 * 1_000_000, Timeout: 5_000 * 1_000_000, Retries: 2 },
      startedAt: Date.now(),
      probe: containerProbe(record),
      onChange: (s) => states.push(s),
      onEvent: (a) => events.push(a),
      onUnhealthy: () => unhealthy++,
    });
    hc.start();
    try {
      expect(states[0]!.Status).toBe("starting");
      expect(await waitFor(() => hc.state.Status === "unhealthy", 30_000)).toBe(true);
      expect(hc.state.FailingStreak).toBeGreaterThanOrEqual(2);
      expect(hc.state.Log.at(-1)!.ExitCode).toBe(1);
      expect(unhealthy).toBe(1);
      await runCapture(record, { args: ["touch", "/tmp/ok"] });
      expect(await waitFor(() => hc.state.Status === "healthy", 30_000)).toBe(true);
      expect(hc.state.Log.at(-1)).toMatchObject({ ExitCode: 0, Output: "fine\n" });
      expect(hc.state.Log.length).toBeLessThanOrEqual(5);
      expect(events).toEqual(["health_status: unhealthy", "health_status: healthy"]);
    } finally {
      await hc.stop();
    }
    const n = states.length;
    await Bun.sleep(300);
    expect(states.length).toBe(n);
  });
});

d("oom", () => {
  test.skipIf(!hasV1("memory") && !existsSync("/sys/fs/cgroup/cgroup.controllers"))(
    "a process over a 16 MiB limit is OOM-killed: the callback fires and wasOomKilled says so",
    async () => {
      const memsw = existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
      const { record } = boot("oom", (s) => (s.linux!.resources = { memory: { limit: 16 * M, ...(memsw ? { swap: 16 * M } : {}) } }));
      const cg = runtimeHandle(record).cgroup;
      expect(wasOomKilled(cg)).toBe(false);
      let kills = 0;
      const w = watchContainerOom(cg, () => kills++, { pollMs: 50 })!;
      try {
        // dd's 64M buffer is filled from /dev/zero: real pages, four times the limit
        const r = await runCapture(record, { args: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"] });
        expect(r.exitCode).toBe(137);
        expect(await waitFor(() => kills > 0, 10_000)).toBe(true);
        expect(wasOomKilled(cg)).toBe(true);
      } finally {
        w.close();
      }
    },
  );
});
