/**
 * Containers under the engine's monitor (native/monitor.c): start one through
 * the runtime library, and reach it again from any process, a restarted
 * engine included: exit status, logs, attach, wait, recover.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BerthError, failedPrecondition, invalidArgument } from "../../errors.ts";
import { Runtime, type CreateOptions } from "../../runtime/container.ts";
import { MAX_LOG_FILES } from "../../runtime/plan/monitor.ts";
import { reapChild } from "../../runtime/sys/reaper.ts";
import { attach, type Attachment } from "./attach.ts";
import { monitorAlive, readExitStatus, readMonitorPid, waitExitStatus, type ExitStatus } from "./exit.ts";
import { FILES, containersDir, ensureMonitorDir, monitorDir, readConfig, writeConfig, type LogConfig, type MonitorConfig } from "./layout.ts";
import { readLog, type LogQuery } from "./log-reader.ts";
import type { LogEntry } from "./log-format.ts";

export interface LogOptions {
  /** default <monitor dir>/container.log */
  path?: string;
  /** bytes; 0 or absent: never rotate */
  maxSize?: number;
  /** files kept, the current one included (default 1) */
  maxFiles?: number;
}

export interface StartOptions extends Omit<CreateOptions, "monitor" | "stay"> {
  runtime: Runtime;
  execRoot: string;
  /** false: no log */
  log?: LogOptions | false;
  /** docker's OpenStdin: attach clients can write to the container's stdin */
  openStdin?: boolean;
  /**
   * docker's StdinOnce: the container's stdin is closed once the first client
   * that used it is done: it ends its input (Attachment.endStdin) or
   * disconnects after writing. Ignored with a terminal (as docker: the
   * terminal stays open for the next client).
   */
  stdinOnce?: boolean;
  /** also `start` it (default true); else it waits, created, for Runtime.start */
  start?: boolean;
}

/** Create (and start) a container under a monitor. */
export async function startMonitored(opts: StartOptions): Promise<MonitoredContainer> {
  const { runtime, execRoot, log: logOpts, openStdin, stdinOnce, start, ...create } = opts;
  // a terminal is the spec's (process.terminal; its size process.consoleSize, applied before the process starts)
  const terminal = Boolean(runtime.loadBundle(create.bundle).spec.process?.terminal);
  const dir = monitorDir(execRoot, create.id);
  const log: LogConfig | null =
    logOpts === false
      ? null
      : { path: logOpts?.path ?? join(dir, FILES.log), maxSize: logOpts?.maxSize ?? 0, maxFiles: logOpts?.maxFiles ?? 1 };
  if (log && (log.maxFiles < 1 || log.maxFiles > MAX_LOG_FILES || !Number.isInteger(log.maxFiles)))
    throw invalidArgument(`log.maxFiles: ${log.maxFiles} is not between 1 and ${MAX_LOG_FILES}`);
  if (readMonitorPid(dir) !== null && monitorAlive(dir)) throw failedPrecondition(`container "${create.id}" already has a running monitor`);
  ensureMonitorDir(dir);
  rmSync(join(dir, FILES.exit), { force: true }); // a previous run's
  // Written first: whatever happens next, a restarted engine can find this directory's parts.
  const cfg: MonitorConfig = {
    id: create.id,
    runtimeRoot: runtime.store.root,
    log,
    openStdin: Boolean(openStdin),
    stdinOnce: Boolean(stdinOnce),
    terminal,
    started: new Date().toISOString(),
  };
  writeConfig(dir, cfg);
  try {
    await runtime.create({
      ...create,
      monitor: { dir, log: log?.path, maxSize: log?.maxSize, maxFiles: log?.maxFiles, openStdin: cfg.openStdin, stdinOnce: cfg.stdinOnce },
    });
  } catch (e) {
    // the monitor may have been forked before the failure: collect it (we are its subreaper), or it stays a zombie
    await new MonitoredContainer(dir, cfg).reap().catch(() => {});
    // nothing runs: nothing for recover() to find (a log of an earlier run stays)
    rmSync(join(dir, FILES.config), { force: true });
    throw e;
  }
  const c = new MonitoredContainer(dir, cfg);
  if (start ?? true) await runtime.start(create.id);
  return c;
}

/** The monitored container `id` under execRoot (NotFound if there is none). */
export function openMonitored(execRoot: string, id: string): MonitoredContainer {
  const dir = monitorDir(execRoot, id);
  return new MonitoredContainer(dir, readConfig(dir));
}

export type MonitorState =
  /** the monitor runs, no exit status yet */
  | "running"
  /** the container has exited: exitStatus() has the status */
  | "exited"
  /** no monitor and no exit status: the monitor was killed (the container may still run, unwatched) */
  | "lost";

/**
 * Every monitored container under execRoot, as a restarted engine finds them:
 * each with its monitor's state; logs, wait and attach work as before.
 */
export function recover(execRoot: string): MonitoredContainer[] {
  let names: string[];
  try {
    names = readdirSync(containersDir(execRoot));
  } catch {
    return [];
  }
  const out: MonitoredContainer[] = [];
  for (const id of names.sort()) {
    const dir = join(containersDir(execRoot), id);
    if (!existsSync(join(dir, FILES.config))) continue;
    try {
      out.push(new MonitoredContainer(dir, readConfig(dir)));
    } catch {
      // removed while we looked
    }
  }
  return out;
}

export class MonitoredContainer {
  readonly id: string;
  constructor(
    readonly dir: string,
    readonly config: MonitorConfig,
  ) {
    this.id = config.id;
  }

  /** Whether the container has a terminal: attach output is one raw stream (stdout), to be passed on unframed. */
  get terminal(): boolean {
    return Boolean(this.config.terminal);
  }

  /** The runtime library instance that holds the container's state. */
  runtime(): Runtime {
    return new Runtime(this.config.runtimeRoot);
  }

  get monitorPid(): number | null {
    return readMonitorPid(this.dir);
  }

  /** The container init's pid (from the runtime's state). */
  get containerPid(): number {
    return this.runtime().store.load(this.id).pid;
  }

  monitorAlive(): boolean {
    return monitorAlive(this.dir);
  }

  exitStatus(): ExitStatus | null {
    return readExitStatus(this.dir);
  }

  state(): MonitorState {
    // the status first: the monitor writes it and then exits
    if (this.exitStatus()) return "exited";
    if (this.monitorAlive()) return "running";
    return this.exitStatus() ? "exited" : "lost";
  }

  /** Wait for the container to exit; the monitor is reaped if it is our child. */
  async wait(signal?: AbortSignal): Promise<ExitStatus> {
    const st = await waitExitStatus(this.dir, signal);
    await this.reap();
    return st;
  }

  /**
   * Collect the monitor's exit status if it is our child (we are a subreaper,
   * or we started it that way): it exits right after writing exit.json.
   */
  async reap(): Promise<void> {
    const pid = this.monitorPid;
    // a pid read from a file may name someone else by now: only our own berth-monitor
    if (pid === null || !isOurMonitor(pid)) return;
    for (let i = 0; i < 1000; i++) {
      const r = reapChild(pid);
      if (r.state !== "running") return;
      await Bun.sleep(2);
    }
  }

  /** The log's entries (see LogQuery); with follow, until the container has exited. */
  logs(q: LogQuery = {}): AsyncGenerator<LogEntry> {
    if (!this.config.log) throw failedPrecondition(`container "${this.id}" has no log`);
    return readLog({ log: this.config.log, finished: () => this.state() !== "running" }, q);
  }

  /** Live output and stdin. */
  async attach(): Promise<Attachment> {
    if (this.state() !== "running") throw new BerthError("FailedPrecondition", `container "${this.id}" is not running`);
    return attach(this.dir);
  }

  /**
   * After the exit: delete the container from the runtime and remove the
   * monitor's directory (with a log kept there).
   */
  async remove(): Promise<void> {
    if (this.state() === "running") throw failedPrecondition(`container "${this.id}" is running`);
    await this.reap();
    await this.runtime().delete(this.id, true);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether pid is a monitor (running or a zombie) whose parent is this process. */
function isOurMonitor(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const close = stat.lastIndexOf(")");
  const comm = stat.slice(stat.indexOf("(") + 1, close);
  const ppid = Number(stat.slice(close + 2).split(" ")[1]);
  return comm === "berth-monitor" && ppid === process.pid;
}
