/**
 * Container lifecycle over the native core: create, start, kill, delete,
 * state, list. The CLIs are thin adapters over these functions.
 */
import { existsSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, closeSync, writeSync, constants as fsc } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { Spec, State } from "../oci/runtime-spec.ts";
import { parseSpec } from "../oci/validate.ts";
import { hostBoundingSet } from "../oci/capabilities.ts";
import { BerthError, failedPrecondition, invalidArgument, notFound, wrapError } from "../errors.ts";
import { compilePlan } from "./plan/compile.ts";
import { deviceCgroupRules } from "./plan/devices.ts";
import { MSG, OPS, SYNC_TAG } from "./plan/opcodes.ts";
import { consoleFd, initError, launch, type Launched } from "./launch.ts";
import type { ConsoleSocket } from "./plan/terminal.ts";
import { runHooks, type Warn } from "./hooks.ts";
import { hostLsm } from "./lsm.ts";
import { writePidFile } from "./pidfile.ts";
import type { MonitorPlan } from "./plan/monitor.ts";
import { berthMonitorPath } from "./native.ts";
import { StateStore, currentStatus, isAlive, newRecord, type ContainerRecord, type Status } from "./state.ts";
import { createCgroupManager, loadCgroupManager, type CgroupManager } from "./cgroups/manager.ts";
import type { CgroupMountSource } from "./plan/compile.ts";
import { compileSeccompCached } from "./seccomp/compile.ts";
import { mkfifo, MNT_DETACH, umount2 } from "./sys/libc.ts";
import { mountPointOf, mountsBelow } from "./mountinfo.ts";
import { trace } from "../trace.ts";
import { currentMapWriter, writeIdMaps } from "./idmaps.ts";

const O_CLOEXEC = 0o2000000;

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
  /** foreground `run`: berth-init stays as the container's parent and exits with its status */
  stay?: boolean;
  /** with process.terminal and no consoleSocket: the runtime takes the pty master (foreground `run`) */
  proxyTerminal?: boolean;
  /** the engine's monitor parents the container, holds its stdio, writes its log and exit status */
  monitor?: MonitorPlan;
}

export interface RuntimeOptions {
  /** where failing poststart/poststop hooks are reported (default: stderr) */
  warn?: Warn;
}

export class Runtime {
  readonly store: StateStore;
  private readonly warn: Warn;
  constructor(root?: string, opts: RuntimeOptions = {}) {
    this.store = new StateStore(root);
    this.warn = opts.warn ?? ((m) => process.stderr.write(`berth-runtime: warning: ${m}\n`));
  }

  /** Load and check a bundle's config without changing anything. */
  loadBundle(bundle: string): { spec: Spec; bundle: string; rootfs: string } {
    const dir = resolve(bundle);
    const file = join(dir, "config.json");
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw notFound(`bundle ${dir}: config.json not found`);
      throw wrapError(`read ${file}`, e);
    }
    // `process` may be missing until `start` (runtime.md), which then fails.
    const spec = parseSpec(text, file);
    if (!spec.root?.path) throw invalidArgument(`${file}: root.path: required`);
    const rootPath = isAbsolute(spec.root.path) ? spec.root.path : join(dir, spec.root.path);
    let rootfs: string;
    try {
      rootfs = realpathSync(rootPath);
      if (!statSync(rootfs).isDirectory()) throw invalidArgument(`root.path: ${rootPath} is not a directory`);
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw notFound(`root.path: rootfs ${rootPath} does not exist`);
    }
    return { spec, bundle: dir, rootfs };
  }

  async create(opts: CreateOptions): Promise<ContainerRecord> {
    trace("load");
    const { spec, bundle, rootfs } = this.loadBundle(opts.bundle);
    trace("config");
    const proc = spec.process;
    const terminal = terminalOptions(proc?.terminal, opts);

    // Everything that can be checked is checked before anything is created.
    const cgroup = createCgroupManager({ id: opts.id, cgroupsPath: spec.linux?.cgroupsPath });
    const resources = { ...(spec.linux?.resources ?? {}), devices: deviceCgroupRules(spec) };
    cgroup.check(resources);
    trace("cgroup-check");
    const seccompFilter = spec.linux?.seccomp ? compileSeccompCached(spec.linux.seccomp as never) : undefined;
    trace("seccomp");
    const execFifo = this.store.fifo(opts.id);
    const startStatus = this.store.startStatus(opts.id);
    const plan = compilePlan({
      spec,
      bundle,
      rootfs,
      execFifo,
      startStatus,
      noPivot: opts.noPivot,
      stay: opts.stay,
      monitor: opts.monitor && { program: berthMonitorPath(), ...opts.monitor },
      preserveFds: opts.preserveFds,
      cgroupMounts: cgroupMountSources(cgroup),
      rootfsParentMount: mountPointOf(dirname(rootfs)),
      hostCapBounding: hostBoundingSet(),
      hostHasKcore: existsSync("/proc/kcore"),
      lsm: hostLsm(),
      seccompFilter,
      console: terminal.console,
      mapWriter: currentMapWriter(),
    });

    trace("plan");
    const mountsBefore = spec.linux?.namespaces?.some((n) => n.type === "mount") ? undefined : mountsBelow(rootfs).map((m) => m.id);
    this.store.claim(opts.id);
    let launched: Launched | undefined;
    let cgroupCreated = false;
    let hooksBegan = false;
    const record = (pid: number): ContainerRecord =>
      newRecord({
        id: opts.id,
        pid,
        bundle,
        rootfs,
        config: spec,
        cgroup: cgroup.toJSON(),
        extra: { ...(mountsBefore ? { mountsBefore } : {}), ...(opts.monitor ? { monitor: opts.monitor } : {}) },
      });
    try {
      mkfifo(execFifo, 0o622);
      mkfifo(startStatus, 0o600);
      cgroup.create();
      cgroupCreated = true;
      cgroup.set(resources);
      trace("cgroup-setup");
      launched = await launch({
        plan,
        extraFds: Array.from({ length: opts.preserveFds ?? 0 }, (_, i) => 3 + i),
        consoleSocket: terminal.proxy,
        // the monitor gives the container its own stdio
        stdio: opts.monitor ? ["ignore", "ignore", "ignore"] : undefined,
        onSync: async (tag, pid) => {
          if (tag === SYNC_TAG.SETUP) {
            writeIdMaps(spec, pid);
            cgroup.apply(pid);
          } else if (tag === SYNC_TAG.CREATE_CONTAINER) {
            // Mounts are done, pivot_root is not. The container is "created" as
            // far as hooks (and `state`, which a hook may call) can tell.
            hooksBegan = true;
            const rec = record(pid);
            this.store.save(rec);
            const state = hookState(rec, "created");
            await runHooks(spec, "prestart", state, this.warn);
            await runHooks(spec, "createRuntime", state, this.warn);
            return new TextEncoder().encode(JSON.stringify(state));
          }
        },
      });
      trace("init");
      if (terminal.proxy) launched.master = (await import("./console.ts")).receiveMaster(launched.console!);
      const rec = record(launched.pid);
      this.store.save(rec);
      if (opts.pidFile) writePidFile(opts.pidFile, launched.pid);
      (rec as ContainerRecord & { launched?: Launched }).launched = launched;
      trace("state");
      return rec;
    } catch (e) {
      if (launched) killQuietly(launched.pid);
      if (launched?.master !== undefined) closeSync(launched.master);
      if (cgroupCreated) {
        killCgroup(cgroup);
        try {
          cgroup.destroy();
        } catch {}
      }
      if (mountsBefore) unmountNew(rootfs, mountsBefore);
      this.store.release(opts.id);
      // Once hooks ran, a failed create continues like a delete (lifecycle step 12, 13).
      if (hooksBegan) await runHooks(spec, "poststop", hookState(record(0), "stopped"), this.warn);
      throw e instanceof BerthError ? e.wrap(`create ${opts.id}`) : wrapError(`create ${opts.id}`, e);
    }
  }

  /**
   * Release a created container's init: it runs the startContainer hooks and
   * execs the process; then the poststart hooks run. Fails if a startContainer
   * hook fails (the container is then destroyed and the poststop hooks run),
   * or if the process could not be started (the container is then stopped).
   */
  async start(id: string): Promise<void> {
    const rec = await this.store.withLock(id, async () => {
      const rec = this.store.load(id);
      const status = this.status(rec);
      if (status !== "created") throw failedPrecondition(`cannot start a container in state ${status}`);
      const fifo = this.store.fifo(id);
      // Opened before the init is released, so nothing it reports is lost.
      const outcome = openStartStatus(this.store.startStatus(id));
      let fd: number;
      try {
        fd = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK | O_CLOEXEC);
      } catch (e) {
        outcome?.cancel();
        throw wrapError(`start ${id}: container init is not waiting`, e);
      }
      try {
        writeSync(fd, "0");
      } finally {
        closeSync(fd);
      }
      unlinkSync(fifo);
      const err = outcome ? await outcome.result : undefined;
      rmQuietly(this.store.startStatus(id));
      if (err) {
        if (err.opcode === OPS.HOOK.code) await this.destroy(rec, true);
        throw err.error.wrap(`start ${id}`);
      }
      return rec;
    });
    trace("start");
    await runHooks(rec.config, "poststart", hookState(rec, "running"), this.warn);
  }

  state(id: string): State & { rootfs: string; created: string; owner: string } {
    const rec = this.store.load(id);
    const status = this.status(rec);
    return {
      ociVersion: rec.ociVersion,
      id: rec.id,
      pid: status === "stopped" ? 0 : rec.pid,
      status,
      bundle: rec.bundle,
      rootfs: rec.rootfs,
      created: rec.created,
      ...(rec.annotations && Object.keys(rec.annotations).length ? { annotations: rec.annotations } : {}),
      owner: rec.owner,
    } as State & { rootfs: string; created: string; owner: string };
  }

  list(): Array<ReturnType<Runtime["state"]>> {
    const out = [];
    for (const id of this.store.ids()) {
      try {
        out.push(this.state(id));
      } catch {
        // removed while we listed
      }
    }
    return out;
  }

  kill(id: string, signal: number, all = false): void {
    this.store.withLock(id, () => {
      const rec = this.store.load(id);
      const status = this.status(rec);
      if (status === "stopped") throw failedPrecondition(`container "${id}" is not running`);
      const cg = rec.cgroup ? loadCgroupManager(rec.cgroup) : undefined;
      if (all && cg) for (const pid of cg.processes()) sendSignal(pid, signal);
      else sendSignal(rec.pid, signal);
      // a v1-frozen task acts on SIGKILL only once thawed (runc thaws too)
      if (signal === 9 && status === "paused") cg?.thaw();
    });
  }

  async delete(id: string, force = false): Promise<void> {
    if (!this.store.exists(id)) {
      // An aborted create may leave a directory without state.
      if (existsSync(this.store.dir(id))) this.store.release(id);
      if (force) return;
      throw notFound(`container "${id}" does not exist`);
    }
    await this.store.withLock(id, async () => {
      const rec = this.store.load(id);
      const status = this.status(rec);
      if (status !== "stopped" && !force)
        throw failedPrecondition(`cannot delete container "${id}" in state ${status}: stop it first or use --force`);
      await this.destroy(rec, false);
    });
  }

  /** Kill what is left of a container, remove its cgroup and state, then run the poststop hooks. */
  private async destroy(rec: ContainerRecord, killFirst: boolean): Promise<void> {
    const status = this.status(rec);
    if (status !== "stopped" || killFirst) {
      const cg = rec.cgroup ? loadCgroupManager(rec.cgroup) : undefined;
      if (cg && status === "paused") cg.thaw();
      sendSignal(rec.pid, 9, true);
      if (cg) killCgroup(cg);
      await waitGone(rec);
    }
    if (rec.cgroup) {
      const cg = loadCgroupManager(rec.cgroup);
      killCgroup(cg);
      cg.destroy();
    }
    if (rec.mountsBefore) unmountNew(rec.rootfs, rec.mountsBefore);
    this.store.release(rec.id);
    trace("delete");
    await runHooks(rec.config, "poststop", hookState(rec, "stopped"), this.warn);
  }

  status(rec: ContainerRecord): Status {
    return currentStatus(this.store, rec, () => (rec.cgroup ? safeFrozen(loadCgroupManager(rec.cgroup)) : false));
  }
}

/** The manager's view of the hierarchies, in the plan compiler's terms. */
export function cgroupMountSources(cg: CgroupManager): CgroupMountSource[] {
  return cg.mounts().map((m) => ({
    name: m.mountpoint.replace(/^\/sys\/fs\/cgroup\/?/, ""),
    fstype: m.fstype,
    options: m.options.join(","),
    hostPath: m.hostDir,
    aliases: m.symlinks,
  }));
}

function safeFrozen(cg: CgroupManager): boolean {
  try {
    return cg.isFrozen();
  } catch {
    return false;
  }
}

/** The state a hook gets on stdin: the lifecycle's status at that hook, not a fresh look at the process. */
function hookState(rec: ContainerRecord, status: "created" | "running" | "stopped"): State {
  return {
    ociVersion: rec.ociVersion,
    id: rec.id,
    status,
    ...(status === "stopped" ? {} : { pid: rec.pid }),
    bundle: rec.bundle,
    ...(rec.annotations && Object.keys(rec.annotations).length ? { annotations: rec.annotations } : {}),
  };
}

/**
 * Read the start-status fifo to EOF: the init holds its only other writer and
 * exec closes it, so EOF means the process runs (or the init is gone). A
 * MSG_ERROR frame before that is why the start failed.
 */
function openStartStatus(path: string): { result: Promise<{ error: BerthError; opcode: number } | undefined>; cancel(): void } | undefined {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK | O_CLOEXEC);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw wrapError("open start-status fifo", e);
  }
  const reader = Bun.file(fd).stream().getReader();
  const result = (async () => {
    let buf = new Uint8Array(0);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || !value) break;
        const nb = new Uint8Array(buf.length + value.length);
        nb.set(buf);
        nb.set(value, buf.length);
        buf = nb;
      }
    } finally {
      try {
        closeSync(fd);
      } catch {}
    }
    if (buf.length < 8) return undefined;
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const len = v.getUint32(4, true);
    if (v.getUint32(0, true) !== MSG.ERROR || buf.length < 8 + len) return undefined;
    const payload = buf.subarray(8, 8 + len);
    return { error: initError(payload), opcode: new DataView(payload.buffer, payload.byteOffset).getUint32(4, true) };
  })();
  return {
    result,
    cancel: () => {
      reader.cancel().catch(() => {});
    },
  };
}

/** Detach the mounts below rootfs that are not in `before` (a container that shared our mount namespace made them). */
function unmountNew(rootfs: string, before: number[]) {
  const keep = new Set(before);
  const added = mountsBelow(rootfs).filter((m) => !keep.has(m.id));
  // deepest first; detaching a parent takes its children along, so later EINVALs are fine
  for (const m of added.reverse()) umount2(m.mountPoint, MNT_DETACH);
}

function rmQuietly(path: string) {
  try {
    unlinkSync(path);
  } catch {}
}

function sendSignal(pid: number, sig: number, quiet = false) {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if (!quiet && (e as NodeJS.ErrnoException).code !== "ESRCH") throw wrapError(`kill ${pid}`, e);
  }
}

function killQuietly(pid: number) {
  sendSignal(pid, 9, true);
}

export function killCgroup(cg: CgroupManager) {
  try {
    for (const pid of cg.processes()) sendSignal(pid, 9, true);
  } catch {}
}

export async function waitGone(rec: ContainerRecord, ms = 10_000) {
  const until = Date.now() + ms;
  while (isAlive(rec)) {
    if (Date.now() > until) throw new BerthError("Unavailable", `container "${rec.id}" did not exit after SIGKILL`);
    await Bun.sleep(5);
  }
}

/** runc's checkTerminal: where the pty master of process.terminal goes. */
function terminalOptions(terminal: boolean | undefined, opts: CreateOptions): { console?: ConsoleSocket; proxy: boolean } {
  if (!terminal) {
    if (opts.consoleSocket) throw invalidArgument("--console-socket: needs process.terminal set to true");
    return { proxy: false };
  }
  // the monitor takes the master (plan/monitor.ts)
  if (opts.monitor) {
    if (opts.consoleSocket) throw invalidArgument("--console-socket: a monitored container's terminal goes to its monitor");
    return { proxy: false };
  }
  if (opts.consoleSocket) {
    if (opts.proxyTerminal) throw invalidArgument("--console-socket: only with --detach (a foreground run takes the terminal itself)");
    return { console: { path: resolve(opts.consoleSocket) }, proxy: false };
  }
  if (!opts.proxyTerminal) throw invalidArgument("process.terminal: a terminal needs --console-socket (or set terminal to false)");
  return { console: { fd: consoleFd(opts.preserveFds ?? 0) }, proxy: true };
}
