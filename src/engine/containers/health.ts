/**
 * Healthchecks, as dockerd runs them: one HealthChecker per running
 * container whose Config.Healthcheck has a test. Every interval (the start
 * interval while the container is still "starting" inside its start period)
 * the test runs in the container; exit 0 is healthy, anything else a failure.
 * Failures inside the start period do not count; `Retries` consecutive ones
 * make the container unhealthy, one success healthy again. State.Health keeps
 * the status, the failing streak and the last 5 results.
 *
 * The checker only decides; the container service owns the record: it gets
 * each new state (onChange), an event action when the status changes
 * (`health_status: healthy|unhealthy`), and onUnhealthy when the container
 * turns unhealthy. Docker never acts on that; berth restarts the container
 * when it carries the label `berth.health.restart=true` (see wantsRestartWhenUnhealthy).
 */
import { invalidArgument } from "../../errors.ts";
import type { ContainerRecord, HealthConfig, HealthLogEntry, HealthState } from "./model.ts";
import { runCapture } from "./run-capture.ts";

const MS = 1_000_000; // ns per ms
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 };
export const MAX_LOG_ENTRIES = 5;
/** opt-in: restart a container that turns unhealthy (docker has no such option) */
export const RESTART_WHEN_UNHEALTHY_LABEL = "berth.health.restart";

/** Create-time checks, dockerd's wording: durations are 0 (default) or at least 1ms; retries not negative. */
export function validateHealthcheck(hc: HealthConfig | null | undefined): void {
  if (!hc) return;
  for (const f of ["Interval", "Timeout", "StartPeriod", "StartInterval"] as const) {
    const v = hc[f] ?? 0;
    if (!Number.isFinite(v) || (v !== 0 && v < MS)) throw invalidArgument(`${f} in Healthcheck cannot be less than 1ms`);
  }
  if ((hc.Retries ?? 0) < 0) throw invalidArgument("Retries in Healthcheck cannot be negative");
  const t = hc.Test ?? [];
  if (t.length && !["NONE", "CMD", "CMD-SHELL"].includes(t[0]!)) throw invalidArgument(`unknown healthcheck type ${JSON.stringify(t[0])} (want NONE, CMD or CMD-SHELL)`);
  if ((t[0] === "CMD" || t[0] === "CMD-SHELL") && t.length < 2) throw invalidArgument(`Healthcheck: ${t[0]} needs a command`);
}

/** The argv to run for a test, or undefined when there is nothing to check ([] or ["NONE"]). */
export function healthcheckCommand(test: string[] | undefined, shell?: string[] | null): string[] | undefined {
  if (!test?.length || test[0] === "NONE") return undefined;
  if (test[0] === "CMD") return test.length > 1 ? test.slice(1) : undefined;
  if (test[0] === "CMD-SHELL") return test.length > 1 ? [...(shell?.length ? shell : ["/bin/sh", "-c"]), test.slice(1).join(" ")] : undefined;
  throw invalidArgument(`unknown healthcheck type ${JSON.stringify(test[0])}`);
}

/** Does the container ask to be restarted when it turns unhealthy? */
export function wantsRestartWhenUnhealthy(record: Pick<ContainerRecord, "Config">): boolean {
  return record.Config.Labels?.[RESTART_WHEN_UNHEALTHY_LABEL] === "true";
}

/** Go's time.Duration String() for whole milliseconds ("30s", "1.5s", "500ms", "1m30s"). */
export function goDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const sec = `${Number(s.toFixed(3))}s`;
  return h ? `${h}h${m}m${sec}` : m ? `${m}m${sec}` : sec;
}

export interface ProbeOutcome {
  exitCode: number;
  output: string;
  timedOut?: boolean;
}

/** Runs a test command in the container with a timeout; aborted when the checker stops. */
export type Probe = (argv: string[], timeoutMs: number, signal: AbortSignal) => Promise<ProbeOutcome>;

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface HealthCheckerOptions {
  /** the container's merged Config.Healthcheck */
  config: HealthConfig;
  /** Config.Shell (CMD-SHELL runs under it; default /bin/sh -c) */
  shell?: string[] | null;
  /** when the container started (ms since the epoch): the start period counts from here */
  startedAt: number;
  probe: Probe;
  /** every new state (the service stores it in State.Health) */
  onChange(state: HealthState): void;
  /** an event action when the status changes: "health_status: healthy" / "health_status: unhealthy" */
  onEvent?(action: string): void;
  /** the status just became unhealthy */
  onUnhealthy?(state: HealthState): void;
  /** the state kept from before (its Log carries over; status restarts at "starting") */
  previous?: HealthState;
  timers?: Timers;
}

const iso = (ms: number) => new Date(ms).toISOString();
const orDefault = (ns: number | undefined, defMs: number) => (ns && ns > 0 ? ns / MS : defMs);

export class HealthChecker {
  private st: HealthState;
  private readonly argv: string[];
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly startPeriodMs: number;
  private readonly startIntervalMs: number;
  private readonly retries: number;
  private readonly timers: Timers;
  private timer: unknown;
  private running = false;
  private abort = new AbortController();
  /** settles when the probe in flight (if any) is done */
  private inflight: Promise<void> = Promise.resolve();

  constructor(private readonly opts: HealthCheckerOptions) {
    validateHealthcheck(opts.config);
    const argv = healthcheckCommand(opts.config.Test, opts.shell);
    if (!argv) throw invalidArgument("healthcheck: the container has no test to run");
    this.argv = argv;
    const c = opts.config;
    this.intervalMs = orDefault(c.Interval, HEALTH_DEFAULTS.intervalMs);
    this.timeoutMs = orDefault(c.Timeout, HEALTH_DEFAULTS.timeoutMs);
    this.startPeriodMs = orDefault(c.StartPeriod, HEALTH_DEFAULTS.startPeriodMs);
    this.startIntervalMs = orDefault(c.StartInterval, HEALTH_DEFAULTS.startIntervalMs);
    this.retries = c.Retries && c.Retries > 0 ? c.Retries : HEALTH_DEFAULTS.retries;
    this.timers = opts.timers ?? realTimers;
    this.st = { Status: "starting", FailingStreak: 0, Log: [...(opts.previous?.Log ?? [])] };
  }

  get state(): HealthState {
    return structuredClone(this.st);
  }

  /** Begin checking: the state becomes "starting" and the first probe runs after one interval. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.opts.onChange(this.state);
    this.schedule();
  }

  /**
   * Check again after a pause (docker stops the monitor while a container is
   * paused): the state is kept, the next probe runs after one interval.
   */
  resume(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.schedule();
  }

  /**
   * Stop checking (the container stopped or was paused): no more probes; one
   * in flight is killed and its result dropped; the state stays as it is.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.inflight;
  }

  /** the interval before the next probe: the start interval while starting inside the start period */
  private nextInterval(): number {
    const inStart = this.timers.now() - this.opts.startedAt < this.startPeriodMs;
    return inStart && this.st.Status === "starting" ? this.startIntervalMs : this.intervalMs;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.inflight = this.runOnce().finally(() => this.schedule());
    }, this.nextInterval());
  }

  private async runOnce(): Promise<void> {
    const signal = this.abort.signal;
    const start = this.timers.now();
    let r: ProbeOutcome;
    try {
      r = await this.opts.probe(this.argv, this.timeoutMs, signal);
      if (r.timedOut) r = { exitCode: -1, output: `Health check exceeded timeout (${goDuration(this.timeoutMs)})` };
    } catch (e) {
      r = { exitCode: -1, output: e instanceof Error ? e.message : String(e) };
    }
    if (!this.running || signal.aborted) return;
    this.record(start, this.timers.now(), r);
  }

  private record(start: number, end: number, r: ProbeOutcome): void {
    const before = this.st.Status;
    const entry: HealthLogEntry = { Start: iso(start), End: iso(end), ExitCode: r.exitCode, Output: r.output };
    this.st.Log = [...this.st.Log, entry].slice(-MAX_LOG_ENTRIES);
    if (r.exitCode === 0) {
      this.st.FailingStreak = 0;
      this.st.Status = "healthy";
    } else {
      // while starting, failures inside the start period do not count
      const inStart = before === "starting" && start - this.opts.startedAt < this.startPeriodMs;
      if (!inStart) {
        this.st.FailingStreak++;
        if (this.st.FailingStreak >= this.retries) this.st.Status = "unhealthy";
      }
    }
    this.opts.onChange(this.state);
    if (this.st.Status !== before) {
      this.opts.onEvent?.(`health_status: ${this.st.Status}`);
      if (this.st.Status === "unhealthy") this.opts.onUnhealthy?.(this.state);
    }
  }
}

/** The probe for a real container: the test runs with the container's env, user and cwd (runCapture). */
export function containerProbe(record: ContainerRecord): Probe {
  return async (argv, timeoutMs, signal) => {
    const r = await runCapture(record, { args: argv, timeoutMs, signal });
    return { exitCode: r.exitCode, output: r.output, timedOut: r.timedOut };
  };
}
