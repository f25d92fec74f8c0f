/**
 * berthd's process: the data root locked for this daemon alone, a pid file,
 * the engine, and an HTTP server on a unix socket (mode 0660) serving the
 * handler it is given. stop() shuts down cleanly: no new connections, streams
 * that never end on their own (events) closed, in-flight work given
 * `shutdownTimeoutMs` to finish and then aborted, the database closed, the
 * socket and pid file removed.
 *
 * Several daemons run side by side with their own socket, data root and exec
 * root. The API layer is passed in (`makeHandler`), so the engine does not
 * depend on it.
 */
import { chmodSync, chownSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { failedPrecondition, invalidArgument } from "../errors.ts";
import { flock, LOCK_EX, LOCK_NB } from "../runtime/sys/libc.ts";
import { setChildSubreaper } from "../runtime/sys/reaper.ts";
import { Engine, type ContainerSource } from "./engine.ts";
import { errorFields, type Logger } from "./logger.ts";
import { VERSION } from "../version.ts";
import { HttpServer, type HttpHandlers } from "../api/http-server.ts";

export const DEFAULT_SOCKET = "unix:///run/berth/berth.sock";
export const DEFAULT_DATA_ROOT = "/var/lib/berth";
export const DEFAULT_EXEC_ROOT = "/run/berth";
export const DEFAULT_CERTS_DIR = "/etc/docker/certs.d";

export interface DaemonOptions {
  /** unix:///path of the API socket */
  host: string;
  dataRoot: string;
  execRoot: string;
  /** default <exec root>/berthd.pid */
  pidFile?: string;
  insecureRegistries?: string[];
  /** <dir>/<host[:port]>/*.crt: CA certificates per registry */
  certsDir?: string;
  /** group owning the socket (name or gid); default: the daemon's own */
  group?: string;
  /** how long in-flight requests get at shutdown before they are aborted (default 15 s, dockerd's) */
  shutdownTimeoutMs?: number;
  containers?: ContainerSource;
  /** device of the default "bridge" network (default berth0 with the default data root, else one named after the data root) */
  bridge?: string;
  log: Logger;
}

/** The default bridge's device: berth0 for the system daemon; side-by-side daemons get their own. */
export function defaultBridgeName(dataRoot: string): string {
  if (dataRoot === DEFAULT_DATA_ROOT) return "berth0";
  return "bd" + new Bun.CryptoHasher("sha256").update(dataRoot).digest("hex").slice(0, 11);
}

export interface RequestContext {
  engine: Engine;
  log: Logger;
  stopping: AbortSignal;
  giveUp: AbortSignal;
  busy: () => () => void;
}

/** The API: a fetch-style handler, or that plus a handler for hijacked (upgraded) connections. */
export type HandlerFactory = (rc: RequestContext) => ((req: Request) => Promise<Response>) | HttpHandlers;

/** "unix:///run/berth/berth.sock" -> "/run/berth/berth.sock" */
export function socketPath(host: string): string {
  const m = /^unix:\/\/(\/.*)$/.exec(host);
  if (!m) {
    if (/^(tcp|fd|ssh|npipe):\/\//.test(host)) throw invalidArgument(`-H ${host}: only unix:// sockets are supported`);
    throw invalidArgument(`-H ${host}: want unix:///absolute/path`);
  }
  if (m[1]!.length > 107) throw invalidArgument(`-H ${host}: socket path longer than 107 bytes`);
  return m[1]!;
}

/** Counts work in flight; idle() resolves when none is left. */
class InFlight {
  private n = 0;
  private waiters: (() => void)[] = [];
  hold(): () => void {
    this.n++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.n === 0) for (const w of this.waiters.splice(0)) w();
    };
  }
  get count() {
    return this.n;
  }
  idle(): Promise<void> {
    return this.n === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  let text = "";
  try {
    text = readFileSync("/etc/group", "utf8");
  } catch {}
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid && /^\d+$/.test(gid)) return Number(gid);
  }
  throw invalidArgument(`--group ${group}: no such group`);
}

/** Is something answering on the socket? (a live daemon, not a stale file) */
async function socketAnswers(path: string): Promise<boolean> {
  try {
    const res = await fetch("http://berthd/_ping", { unix: path, signal: AbortSignal.timeout(2000) } as RequestInit);
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

export class Daemon {
  readonly engine: Engine;
  readonly socket: string;
  readonly pidFile: string;
  private server?: HttpServer;
  private readonly stopping = new AbortController();
  private readonly giveUp = new AbortController();
  private readonly inflight = new InFlight();
  private stopped?: Promise<void>;

  private constructor(
    private readonly opts: DaemonOptions,
    private readonly lockFd: number,
  ) {
    this.socket = socketPath(opts.host);
    this.pidFile = opts.pidFile ?? join(opts.execRoot, "berthd.pid");
    this.engine = new Engine({ dataRoot: opts.dataRoot, execRoot: opts.execRoot, registries: { insecure: opts.insecureRegistries, certsDir: opts.certsDir }, containers: opts.containers, log: opts.log });
  }

  static async start(opts: DaemonOptions, makeHandler: HandlerFactory): Promise<Daemon> {
    const log = opts.log;
    const socket = socketPath(opts.host);
    for (const [flag, dir] of [["--data-root", opts.dataRoot], ["--exec-root", opts.execRoot]] as const) {
      if (!isAbsolute(dir)) throw invalidArgument(`${flag} ${dir}: want an absolute path`);
    }
    mkdirSync(opts.dataRoot, { recursive: true, mode: 0o711 });
    mkdirSync(opts.execRoot, { recursive: true, mode: 0o711 });

    // one daemon per data root: an exclusive lock held for the daemon's life
    const lockPath = join(opts.dataRoot, "berthd.lock");
    const lockFd = openSync(lockPath, "a+", 0o600);
    if (!flock(lockFd, LOCK_EX | LOCK_NB, lockPath)) {
      closeSync(lockFd);
      throw failedPrecondition(`data root ${opts.dataRoot} is in use by another berthd`);
    }
    let d: Daemon | undefined;
    try {
      d = new Daemon(opts, lockFd);
      d.writePidFile();
      // monitors are reparented to berthd when their launcher exits, so it can reap them
      setChildSubreaper(true);
      await d.openNetworks();
      // containers first (reattach, exits that happened while no daemon ran), then what networks they left
      await d.engine.recover();
      await d.reconcileNetworks();
      await d.listen(socket, makeHandler);
    } catch (e) {
      d?.engine.close();
      if (d && existsSync(d.pidFile) && readFileSync(d.pidFile, "utf8").trim() === String(process.pid)) rmSync(d.pidFile, { force: true });
      closeSync(lockFd);
      throw e;
    }
    d.engine.applyRestartPolicies();
    log.info("berthd started", { version: VERSION, pid: process.pid, socket, dataRoot: opts.dataRoot, execRoot: opts.execRoot, pidFile: d.pidFile });
    return d;
  }

  /** Networks (reconcileNetworks later removes what containers that are not running left behind). */
  private async openNetworks() {
    const { execRoot, dataRoot, log } = this.opts;
    try {
      await this.engine.openNetworks({ execRoot, netnsDir: join(execRoot, "netns"), defaultBridge: this.opts.bridge ?? defaultBridgeName(dataRoot) });
    } catch (e) {
      log.error("networking is not available", errorFields(e));
    }
  }

  private async reconcileNetworks() {
    const log = this.opts.log;
    if (!this.engine.hasNetworking) return;
    try {
      const r = await this.engine.networks.reconcile((id) => this.engine.containers.hasNetwork?.(id) ?? false);
      if (Object.values(r).some((n) => n > 0)) log.info("network reconcile removed leftovers", { ...r });
    } catch (e) {
      log.warn("network reconcile", errorFields(e));
    }
  }

  private writePidFile() {
    const p = this.pidFile;
    if (existsSync(p)) {
      const old = Number.parseInt(readFileSync(p, "utf8").trim(), 10);
      if (old > 0 && old !== process.pid && pidAlive(old)) throw failedPrecondition(`pid file ${p}: berthd ${old} is running (or remove the file)`);
    }
    mkdirSync(dirname(p), { recursive: true });
    const tmp = `${p}.tmp-${process.pid}`;
    writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
    renameSync(tmp, p);
  }

  private async listen(socket: string, makeHandler: HandlerFactory) {
    mkdirSync(dirname(socket), { recursive: true, mode: 0o711 });
    if (existsSync(socket)) {
      if (!lstatSync(socket).isSocket()) throw failedPrecondition(`-H ${socket}: exists and is not a socket`);
      if (await socketAnswers(socket)) throw failedPrecondition(`-H ${socket}: another daemon is listening on it`);
      rmSync(socket, { force: true }); // stale, from a daemon that died
    }
    const handler = makeHandler({
      engine: this.engine,
      log: this.opts.log,
      stopping: this.stopping.signal,
      giveUp: this.giveUp.signal,
      busy: () => this.inflight.hold(),
    });
    const log = this.opts.log;
    // no window in which the socket is open to others: created under umask 0117, then set to exactly 0660
    const old = process.umask(0o117);
    try {
      this.server = await HttpServer.listen({
        path: socket,
        handlers: typeof handler === "function" ? { fetch: handler } : handler,
        onError: (e) => log.error("unhandled error in request", errorFields(e)),
      });
    } finally {
      process.umask(old);
    }
    chmodSync(socket, 0o660);
    if (this.opts.group) chownSync(socket, process.getuid?.() ?? 0, groupId(this.opts.group));
  }

  /** In-flight requests and streams. */
  get busy(): number {
    return this.inflight.count;
  }

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown() {
    const log = this.opts.log;
    const timeout = this.opts.shutdownTimeoutMs ?? 15_000;
    log.info("shutting down", { inFlight: this.inflight.count });
    this.stopping.abort();
    const closing = this.server?.close();
    const timedOut = await Promise.race([this.inflight.idle().then(() => false), Bun.sleep(timeout).then(() => true)]);
    if (timedOut) {
      log.warn("in-flight requests did not finish in time: aborting them", { inFlight: this.inflight.count, timeoutMs: timeout });
      this.giveUp.abort();
      await Promise.race([this.inflight.idle(), Bun.sleep(2000)]);
    } else {
      // keep-alive connections that went idle since close()
      this.server?.server.closeIdleConnections();
      await Promise.race([closing, Bun.sleep(2000)]);
    }
    this.server?.destroyAll();
    try {
      this.engine.close();
    } catch (e) {
      log.error("closing the database", errorFields(e));
    }
    try {
      if (existsSync(this.socket) && lstatSync(this.socket).isSocket()) rmSync(this.socket, { force: true });
    } catch {}
    try {
      if (readFileSync(this.pidFile, "utf8").trim() === String(process.pid)) rmSync(this.pidFile, { force: true });
    } catch {}
    closeSync(this.lockFd);
    log.info("berthd stopped");
  }
}
