/** The healthcheck state machine with an injected clock, timers and probe (no real waiting). */
import { expect, test } from "bun:test";
import { HealthChecker, goDuration, healthcheckCommand, validateHealthcheck, wantsRestartWhenUnhealthy, type ProbeOutcome, type Timers } from "../../src/engine/containers/health.ts";
import type { HealthConfig, HealthState } from "../../src/engine/containers/model.ts";

const S = 1_000_000_000; // ns

class FakeTimers implements Timers {
  t = 1_000_000;
  private q: { due: number; fn: () => void; id: number }[] = [];
  private n = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.n;
    this.q.push({ due: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.q = this.q.filter((x) => x.id !== h);
  };
  get pending() {
    return this.q.map((x) => x.due - this.t);
  }
  /** run the next timer (moving the clock to it) and let the probe settle */
  async next(): Promise<number> {
    this.q.sort((a, b) => a.due - b.due);
    const x = this.q.shift();
    if (!x) throw new Error("no timer pending");
    const waited = x.due - this.t;
    this.t = x.due;
    x.fn();
    for (let i = 0; i < 20; i++) await Promise.resolve();
    return waited;
  }
}

function setup(config: HealthConfig, outcomes: (ProbeOutcome | Error)[], opts: { startedAt?: number; shell?: string[] } = {}) {
  const timers = new FakeTimers();
  const states: HealthState[] = [];
  const events: string[] = [];
  const argvs: string[][] = [];
  const timeouts: number[] = [];
  let unhealthy = 0;
  const hc = new HealthChecker({
    config,
    shell: opts.shell,
    startedAt: opts.startedAt ?? timers.t,
    timers,
    probe: async (argv, timeoutMs) => {
      argvs.push(argv);
      timeouts.push(timeoutMs);
      const o = outcomes.shift() ?? { exitCode: 0, output: "" };
      if (o instanceof Error) throw o;
      return o;
    },
    onChange: (s) => states.push(s),
    onEvent: (e) => events.push(e),
    onUnhealthy: () => unhealthy++,
  });
  return { hc, timers, states, events, argvs, timeouts, unhealthy: () => unhealthy };
}

const fail = (output = "no\n"): ProbeOutcome => ({ exitCode: 1, output });
const ok = (output = "yes\n"): ProbeOutcome => ({ exitCode: 0, output });

test("defaults: 30s interval and timeout, 3 retries; starting -> unhealthy after 3 failures -> healthy on a success", async () => {
  const h = setup({ Test: ["CMD", "check", "--now"] }, [fail(), fail(), fail(), fail(), ok()]);
  h.hc.start();
  expect(h.states[0]).toEqual({ Status: "starting", FailingStreak: 0, Log: [] });
  expect(h.timers.pending).toEqual([30_000]);
  expect(await h.timers.next()).toBe(30_000);
  expect(h.argvs[0]).toEqual(["check", "--now"]);
  expect(h.timeouts[0]).toBe(30_000);
  expect(h.hc.state).toMatchObject({ Status: "starting", FailingStreak: 1 });
  await h.timers.next();
  expect(h.hc.state.Status).toBe("starting");
  await h.timers.next();
  expect(h.hc.state).toMatchObject({ Status: "unhealthy", FailingStreak: 3 });
  expect(h.unhealthy()).toBe(1);
  await h.timers.next();
  expect(h.hc.state).toMatchObject({ Status: "unhealthy", FailingStreak: 4 });
  expect(h.unhealthy()).toBe(1); // once per transition
  await h.timers.next();
  expect(h.hc.state).toMatchObject({ Status: "healthy", FailingStreak: 0 });
  expect(h.events).toEqual(["health_status: unhealthy", "health_status: healthy"]);
  // the log keeps the last 5, with times from the injected clock
  const log = h.hc.state.Log;
  expect(log.map((e) => e.ExitCode)).toEqual([1, 1, 1, 1, 0]);
  expect(log.at(-1)!.Output).toBe("yes\n");
  expect(log.at(-1)!.Start).toBe(new Date(h.timers.t).toISOString());
  await h.timers.next();
  expect(h.hc.state.Log.length).toBe(5);
  await h.hc.stop();
  expect(h.timers.pending).toEqual([]);
});

test("CMD-SHELL runs under /bin/sh -c or Config.Shell; NONE and [] have nothing to run", () => {
  expect(healthcheckCommand(["CMD-SHELL", "curl -f localhost || exit 1"])).toEqual(["/bin/sh", "-c", "curl -f localhost || exit 1"]);
  expect(healthcheckCommand(["CMD-SHELL", "x"], ["/bin/bash", "-ec"])).toEqual(["/bin/bash", "-ec", "x"]);
  expect(healthcheckCommand(["NONE"])).toBeUndefined();
  expect(healthcheckCommand([])).toBeUndefined();
  expect(() => healthcheckCommand(["SHELL", "x"])).toThrow("unknown healthcheck type");
  expect(() => new HealthChecker({ config: { Test: ["NONE"] }, startedAt: 0, probe: async () => ok(), onChange() {} })).toThrow("no test");
});

test("create-time validation in dockerd's words", () => {
  expect(() => validateHealthcheck({ Interval: 999_999 })).toThrow("Interval in Healthcheck cannot be less than 1ms");
  expect(() => validateHealthcheck({ Timeout: 5 })).toThrow("Timeout in Healthcheck cannot be less than 1ms");
  expect(() => validateHealthcheck({ StartInterval: 1 })).toThrow("StartInterval in Healthcheck cannot be less than 1ms");
  expect(() => validateHealthcheck({ Retries: -1 })).toThrow("Retries in Healthcheck cannot be negative");
  expect(() => validateHealthcheck({ Test: ["CMD"] })).toThrow("needs a command");
  validateHealthcheck({ Interval: 0, Timeout: 1_000_000, Test: ["CMD", "true"] });
  validateHealthcheck(null);
});

test("start period: failures inside it do not count; the start interval applies while starting", async () => {
  const h = setup({ Test: ["CMD", "c"], Interval: 10 * S, StartPeriod: 5 * S, StartInterval: 1 * S, Retries: 1 }, [fail(), fail(), ok(), fail()]);
  h.hc.start();
  expect(h.timers.pending).toEqual([1000]);
  await h.timers.next();
  await h.timers.next();
  expect(h.hc.state).toMatchObject({ Status: "starting", FailingStreak: 0 });
  expect(h.hc.state.Log.length).toBe(2); // logged, not counted
  await h.timers.next(); // a success inside the start period: healthy, back to the normal interval
  expect(h.hc.state.Status).toBe("healthy");
  expect(h.timers.pending).toEqual([10_000]);
  await h.timers.next();
  expect(h.hc.state).toMatchObject({ Status: "unhealthy", FailingStreak: 1 });
});

test("a failure after the start period counts even while still starting", async () => {
  // started 6s ago with a 5s start period: the normal interval, and the first failure counts
  const h = setup({ Test: ["CMD", "c"], Interval: 10 * S, StartPeriod: 5 * S, Retries: 1 }, [fail()], { startedAt: 1_000_000 - 6000 });
  h.hc.start();
  expect(h.timers.pending).toEqual([10_000]);
  await h.timers.next();
  expect(h.hc.state).toMatchObject({ Status: "unhealthy", FailingStreak: 1 });
  await h.hc.stop();
});

test("pause and resume (stop, resume): the state is kept, probes go on from there", async () => {
  const h = setup({ Test: ["CMD", "c"], Retries: 1 }, [fail(), ok()]);
  h.hc.start();
  await h.timers.next();
  expect(h.hc.state.Status).toBe("unhealthy");
  await h.hc.stop();
  expect(h.timers.pending).toEqual([]);
  h.hc.resume();
  expect(h.hc.state).toMatchObject({ Status: "unhealthy", FailingStreak: 1 });
  expect(h.timers.pending).toEqual([30_000]);
  await h.timers.next();
  expect(h.hc.state.Status).toBe("healthy");
  await h.hc.stop();
});

test("timeouts and probe errors are failures with docker's output", async () => {
  const h = setup({ Test: ["CMD", "c"], Timeout: 1_500_000_000, Retries: 2 }, [{ exitCode: 137, output: "", timedOut: true }, new Error("exec failed: no such file")]);
  h.hc.start();
  await h.timers.next();
  expect(h.hc.state.Log[0]).toMatchObject({ ExitCode: -1, Output: "Health check exceeded timeout (1.5s)" });
  await h.timers.next();
  expect(h.hc.state.Log[1]).toMatchObject({ ExitCode: -1, Output: "exec failed: no such file" });
  expect(h.hc.state.Status).toBe("unhealthy");
  await h.hc.stop();
});

test("stop drops the result of a probe in flight and schedules nothing more", async () => {
  const timers = new FakeTimers();
  let release!: (o: ProbeOutcome) => void;
  let sawAbort = false;
  const changes: HealthState[] = [];
  const hc = new HealthChecker({
    config: { Test: ["CMD", "c"] },
    startedAt: timers.t,
    timers,
    probe: (_a, _t, signal) =>
      new Promise((r) => {
        release = r;
        signal.addEventListener("abort", () => ((sawAbort = true), r({ exitCode: 137, output: "" })));
      }),
    onChange: (s) => changes.push(s),
  });
  hc.start();
  await timers.next();
  const stopping = hc.stop();
  await stopping;
  expect(sawAbort).toBe(true);
  expect(changes.length).toBe(1); // only "starting"
  expect(timers.pending).toEqual([]);
  release({ exitCode: 0, output: "" });
});

test("previous log carries over a restart; the restart-when-unhealthy label; Go durations", () => {
  const prev: HealthState = { Status: "unhealthy", FailingStreak: 9, Log: [{ Start: "a", End: "b", ExitCode: 1, Output: "" }] };
  const hc = new HealthChecker({ config: { Test: ["CMD", "c"] }, startedAt: 0, probe: async () => ok(), onChange() {}, previous: prev });
  expect(hc.state).toEqual({ Status: "starting", FailingStreak: 0, Log: prev.Log });
  expect(wantsRestartWhenUnhealthy({ Config: { Labels: { "berth.health.restart": "true" } } })).toBe(true);
  expect(wantsRestartWhenUnhealthy({ Config: { Labels: { "berth.health.restart": "yes" } } })).toBe(false);
  expect(wantsRestartWhenUnhealthy({ Config: {} })).toBe(false);
  expect([30_000, 1_500, 500, 90_000, 3_600_000].map(goDuration)).toEqual(["30s", "1.5s", "500ms", "1m30s", "1h0m0s"]);
});
