/**
 * docker exec: processes started in a tenant's running container, kept in
 * memory (as dockerd does) until their container goes away.
 *
 * An exec runs through the runtime library (execInContainer) in the
 * foreground: berth-init stays as the process's parent and exits with its
 * status, which is how the exit code is known, detached or not. Without a
 * TTY its stdio are pipes to the daemon; with one, berth-init hands the pty
 * master back and the daemon relays it. The process starts from the
 * container's own process (its env, cwd, user, capabilities, rlimits, no new
 * privileges), with the exec's command, env, workdir and user over it;
 * Privileged gives it every capability the host has.
 */
import { startFailureExitCode } from "./start-errors.ts";
import { writeSync } from "node:fs";
import { constants as osc } from "node:os";
import { ReadStream } from "node:tty";
import { randomBytes } from "node:crypto";
import type { Process } from "../../oci/runtime-spec.ts";
import { capNames, hostBoundingSet } from "../../oci/capabilities.ts";
import { failedPrecondition, invalidArgument, notFound } from "../../errors.ts";
import { Runtime } from "../../runtime/container.ts";
import { execInContainer } from "../../runtime/exec.ts";
import { execProcess } from "../../runtime/exec-spec.ts";
import { clearOnlcr, setWinSize } from "../../runtime/sys/tty.ts";
import type { EventBus } from "../events.ts";
import type { Logger } from "../logger.ts";
import type { ContainerLookup, ContainerRecord } from "./model.ts";
import { resolveUser } from "./user.ts";

/** docker's ExecConfig (POST /containers/{id}/exec body). */
export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  /** [height, width] */
  ConsoleSize?: [number, number] | null;
  DetachKeys?: string;
}

/** docker's ExecInspect (GET /exec/{id}/json). */
export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user: string };
  OpenStdin: boolean;
  OpenStderr: boolean;
  OpenStdout: boolean;
  CanRemove: boolean;
  ContainerID: string;
  DetachKeys: string;
  Pid: number;
}

export type OutputStream = "stdout" | "stderr";

export interface ExecOutput {
  stream: OutputStream;
  data: Uint8Array;
}

/**
 * A running exec's streams, shaped like the monitor's Attachment so the
 * attach stream plumbing serves both. `output` ends once the process has
 * exited, its output is drained and its exit code is recorded.
 */
export interface ExecSession {
  tty: boolean;
  output: AsyncIterable<ExecOutput>;
  write(data: Uint8Array | string): void;
  /** the process reads EOF on stdin (no effect with a TTY: the pty stays open) */
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  /** stop relaying; the process goes on, its further output is discarded */
  close(): void;
  /** the exit code (128 + signal when killed) */
  exit: Promise<number>;
}

interface ExecEntry {
  id: string;
  tenant: string;
  containerId: string;
  config: ExecConfig;
  state: "created" | "running" | "exited";
  exitCode: number | null;
  pid: number;
  master?: number;
}

export interface ExecServiceOptions {
  containers: ContainerLookup;
  events: EventBus;
  log?: Logger;
}

const HIGH = 1 << 20;

/** Output of several producers, consumed once; producers wait while HIGH bytes are queued. */
class OutputQueue {
  private q: ExecOutput[] = [];
  private bytes = 0;
  private producers: number;
  private discarding = false;
  private wake?: () => void;
  private space: (() => void)[] = [];
  constructor(producers: number) {
    this.producers = producers;
  }
  async push(o: ExecOutput) {
    if (this.discarding) return;
    this.q.push(o);
    this.bytes += o.data.length;
    this.wake?.();
    if (this.bytes > HIGH) await new Promise<void>((r) => this.space.push(r));
  }
  /** one producer is done */
  end() {
    this.producers--;
    this.wake?.();
  }
  /** nobody reads any more: drop everything, never block producers */
  discard() {
    this.discarding = true;
    this.q = [];
    this.bytes = 0;
    for (const r of this.space.splice(0)) r();
  }
  async *drain(finished: Promise<unknown>): AsyncGenerator<ExecOutput> {
    for (;;) {
      while (this.q.length) {
        const o = this.q.shift()!;
        this.bytes -= o.data.length;
        if (this.bytes <= HIGH) for (const r of this.space.splice(0)) r();
        yield o;
      }
      if (this.producers <= 0 || this.discarding) break;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    await finished;
  }
}

async function pump(stream: ReadableStream<Uint8Array> | undefined, name: OutputStream, q: OutputQueue) {
  if (!stream) return q.end();
  try {
    for await (const chunk of stream) await q.push({ stream: name, data: chunk });
  } catch {
    // the pipe broke: the process is gone
  } finally {
    q.end();
  }
}


function exitCodeOf(proc: { exitCode: number | null; signalCode: string | number | null }): number {
  if (proc.exitCode !== null) return proc.exitCode;
  const sig = typeof proc.signalCode === "number" ? proc.signalCode : proc.signalCode ? (osc.signals as Record<string, number>)[proc.signalCode] : undefined;
  return 128 + (sig ?? 0);
}

/** Writes to a pty master that may be non-blocking (EAGAIN: retry shortly). */
function fdWriter(fd: number) {
  let chain = Promise.resolve();
  let closed = false;
  return {
    write(data: Uint8Array) {
      chain = chain.then(async () => {
        let off = 0;
        while (off < data.length && !closed) {
          try {
            off += writeSync(fd, data, off);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EAGAIN") return;
            await Bun.sleep(2);
          }
        }
      });
    },
    close() {
      closed = true;
    },
  };
}

export class ExecService {
  private readonly execs = new Map<string, ExecEntry>();
  private readonly byContainer = new Map<string, Set<string>>();

  constructor(private readonly opts: ExecServiceOptions) {}

  private container(tenant: string, ref: string): ContainerRecord {
    const c = this.opts.containers.get(tenant, ref);
    if (c.State.Paused) throw failedPrecondition(`Container ${c.Id} is paused, unpause the container before exec`);
    if (!c.State.Running || c.State.Restarting) throw failedPrecondition(`Container ${c.Id} is not running`);
    return c;
  }

  private entry(tenant: string, id: string): ExecEntry {
    const e = this.execs.get(id);
    if (!e || e.tenant !== tenant) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  private publish(e: ExecEntry, c: ContainerRecord | undefined, action: string, extra: Record<string, string> = {}) {
    this.opts.events.publish({
      tenant: e.tenant,
      type: "container",
      action,
      actor: {
        id: e.containerId,
        attributes: { ...(c?.Config.Labels ?? {}), ...(c ? { name: c.Name, image: c.ImageName } : {}), execID: e.id, ...extra },
      },
    });
  }

  /** POST /containers/{id}/exec: validate and record; returns the exec id (64 hex). */
  create(tenant: string, containerRef: string, body: ExecConfig): string {
    if (body === null || typeof body !== "object") throw invalidArgument("exec config: want a JSON object");
    const cmd = body.Cmd;
    if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((a) => typeof a === "string")) throw invalidArgument("No exec command specified");
    for (const e of body.Env ?? []) if (typeof e !== "string" || !e.includes("=") || e.startsWith("=")) throw invalidArgument(`Env: "${e}" is not NAME=value`);
    if (body.WorkingDir && !body.WorkingDir.startsWith("/")) throw invalidArgument(`WorkingDir: the working directory '${body.WorkingDir}' is invalid, it needs to be an absolute path`);
    if (body.User !== undefined && typeof body.User !== "string") throw invalidArgument("User: want a string");
    if (body.ConsoleSize != null && (!Array.isArray(body.ConsoleSize) || body.ConsoleSize.length !== 2 || !body.ConsoleSize.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffff)))
      throw invalidArgument("ConsoleSize: want [height, width]");
    const c = this.container(tenant, containerRef);
    const id = randomBytes(32).toString("hex");
    const e: ExecEntry = { id, tenant, containerId: c.Id, config: structuredClone(body), state: "created", exitCode: null, pid: 0 };
    this.execs.set(id, e);
    let set = this.byContainer.get(c.Id);
    if (!set) this.byContainer.set(c.Id, (set = new Set()));
    set.add(id);
    this.publish(e, c, `exec_create: ${cmd.join(" ")}`);
    return id;
  }

  /** The process the exec runs, from the container's own. */
  private process(c: ContainerRecord, base: Process | undefined, cfg: ExecConfig, tty: boolean): Process {
    const p = execProcess(base, { args: cfg.Cmd!, env: cfg.Env ?? [], cwd: cfg.WorkingDir || undefined, tty });
    const user = cfg.User || c.Config.User;
    if (user) p.user = { ...p.user, ...resolveUser(c.rootfs, user) };
    if (cfg.Privileged) {
      const all = capNames(hostBoundingSet()).filter((n) => !/^CAP_\d+$/.test(n));
      p.capabilities = { bounding: [...all], effective: [...all], permitted: [...all] };
    }
    if (tty && cfg.ConsoleSize && cfg.ConsoleSize[0] > 0 && cfg.ConsoleSize[1] > 0) p.consoleSize = { height: cfg.ConsoleSize[0], width: cfg.ConsoleSize[1] };
    return p;
  }

  /**
   * POST /exec/{id}/start. Detached: starts it and returns undefined (the
   * exit code is still recorded). Otherwise returns its streams.
   * `tty` overrides the exec's Tty when given (as docker's start body does).
   */
  async start(tenant: string, id: string, opts: { Detach?: boolean; Tty?: boolean } = {}): Promise<ExecSession | undefined> {
    const e = this.entry(tenant, id);
    if (e.state === "running") throw failedPrecondition(`Exec command ${id} is already running`);
    if (e.state === "exited") throw failedPrecondition(`Exec command ${id} has already run`);
    const c = this.container(tenant, e.containerId);
    const cfg = e.config;
    const tty = opts.Tty ?? Boolean(cfg.Tty);
    const detach = Boolean(opts.Detach);
    const rt = new Runtime(c.runtimeRoot, { warn: (m) => this.opts.log?.warn("exec", { id, message: m }) });
    const base = rt.store.load(c.Id).config.process;
    const proc = this.process(c, base, cfg, tty);
    const pipe = (attached: boolean | undefined) => (!detach && !tty && attached ? "pipe" : "ignore") as "pipe" | "ignore";
    e.state = "running";
    let launched;
    try {
      launched = await execInContainer(rt, { id: c.Id, process: proc, stdio: [pipe(cfg.AttachStdin), pipe(cfg.AttachStdout), pipe(cfg.AttachStderr)] });
    } catch (err) {
      // as dockerd's translateContainerdStartErr: a command that is not there is 127, one that cannot be run 126; the exec is then over
      const code = startFailureExitCode(err);
      if (code === undefined) e.state = "created";
      else {
        e.state = "exited";
        e.exitCode = code;
      }
      throw err;
    }
    e.pid = launched.pid;
    e.master = launched.master;
    this.publish(e, c, `exec_start: ${cfg.Cmd!.join(" ")}`);
    const helper = launched.helper;
    const queue = new OutputQueue(tty ? 1 : 2);
    let ptyOut: ReadStream | undefined;
    let ptyIn: ReturnType<typeof fdWriter> | undefined;
    if (launched.master !== undefined) {
      const master = launched.master;
      clearOnlcr(master);
      ptyIn = fdWriter(master);
      // a tty stream polls the master; EIO once the process (the session leader) is gone
      ptyOut = new ReadStream(master);
      let ended = false;
      const end = () => {
        if (!ended) (ended = true), queue.end();
      };
      ptyOut.on("data", (d: Buffer) => {
        if (detach || !cfg.AttachStdout) return;
        ptyOut!.pause();
        void queue.push({ stream: "stdout", data: new Uint8Array(d) }).then(() => ptyOut?.resume());
      });
      ptyOut.on("error", end);
      ptyOut.on("close", end);
    } else {
      void pump(helper.stdout as ReadableStream<Uint8Array> | undefined, "stdout", queue);
      void pump(helper.stderr as ReadableStream<Uint8Array> | undefined, "stderr", queue);
    }
    if (detach) queue.discard();
    const exit = helper.exited.then(() => {
      const code = exitCodeOf(helper);
      e.exitCode = code;
      e.state = "exited";
      ptyIn?.close();
      // the master is closed once its output is read (or now: the hangup has come)
      setTimeout(() => ptyOut?.destroy(), 1000).unref?.();
      e.master = undefined;
      let current: ContainerRecord | undefined;
      try {
        current = this.opts.containers.get(e.tenant, e.containerId);
      } catch {}
      this.publish(e, current, "exec_die", { exitCode: String(code) });
      return code;
    });
    if (detach) {
      const stdin = helper.stdin as { end?: () => void } | undefined;
      stdin?.end?.();
      return undefined;
    }
    const stdin = helper.stdin as { write(d: Uint8Array): number; flush(): unknown; end(): unknown } | undefined;
    let stdinClosed = false;
    const enc = new TextEncoder();
    return {
      tty,
      output: { [Symbol.asyncIterator]: () => queue.drain(exit) },
      write: (data) => {
        const bytes = typeof data === "string" ? enc.encode(data) : data;
        if (ptyIn) return ptyIn.write(bytes);
        if (!stdin || stdinClosed) return;
        try {
          stdin.write(bytes);
          void stdin.flush();
        } catch {}
      },
      closeStdin: () => {
        if (!stdin || stdinClosed) return;
        stdinClosed = true;
        try {
          void stdin.end();
        } catch {}
      },
      resize: (rows, cols) => this.resize(tenant, id, rows, cols),
      close: () => {
        queue.discard();
        if (stdin && !stdinClosed) {
          stdinClosed = true;
          try {
            void stdin.end();
          } catch {}
        }
      },
      exit,
    };
  }

  /** POST /exec/{id}/resize (only with a TTY; otherwise nothing to do, as docker) */
  resize(tenant: string, id: string, height: number, width: number) {
    const e = this.entry(tenant, id);
    for (const [k, v] of [["h", height], ["w", width]] as const) if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw invalidArgument(`${k}: want a size from 0 to 65535`);
    if (e.state !== "running") throw failedPrecondition(`Exec ${id} is not running`);
    if (e.master === undefined) return;
    try {
      setWinSize(e.master, { rows: height, cols: width });
    } catch {
      // the process just ended
    }
  }

  inspect(tenant: string, id: string): ExecInspect {
    const e = this.entry(tenant, id);
    const [entrypoint = "", ...args] = e.config.Cmd ?? [];
    return {
      ID: e.id,
      Running: e.state === "running",
      ExitCode: e.exitCode,
      ProcessConfig: { tty: Boolean(e.config.Tty), entrypoint, arguments: args, privileged: Boolean(e.config.Privileged), user: e.config.User ?? "" },
      OpenStdin: Boolean(e.config.AttachStdin),
      OpenStderr: Boolean(e.config.AttachStderr),
      OpenStdout: Boolean(e.config.AttachStdout),
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: e.config.DetachKeys ?? "",
      Pid: e.pid,
    };
  }

  /** The container's execs that have not exited (its inspect's ExecIDs, as dockerd lists them), oldest first. */
  idsOf(containerId: string): string[] {
    return [...(this.byContainer.get(containerId) ?? [])].filter((id) => this.execs.get(id)?.state !== "exited");
  }

  /** The container is gone (removed): drop its execs. */
  forget(containerId: string) {
    for (const id of this.byContainer.get(containerId) ?? []) this.execs.delete(id);
    this.byContainer.delete(containerId);
  }
}
