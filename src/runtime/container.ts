/**
 * Container lifecycle over the native core: create, start, kill, delete,
 * state, list. The CLIs are thin adapters over these functions.
 */
import { existsSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, writeFileSync, closeSync, writeSync, constants as fsc } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { Spec, State } from "../oci/runtime-spec.ts";
import { parseSpec, requireProcess } from "../oci/validate.ts";
import { hostBoundingSet } from "../oci/capabilities.ts";
import { BerthError, failedPrecondition, invalidArgument, notFound, wrapError } from "../errors.ts";
import { compilePlan } from "./plan/compile.ts";
import { deviceCgroupRules } from "./plan/devices.ts";
import { SYNC_TAG } from "./plan/opcodes.ts";
import { consoleFd, launch, type Launched } from "./launch.ts";
import type { ConsoleSocket } from "./plan/terminal.ts";
import { hostLsm } from "./lsm.ts";
import { writePidFile } from "./pidfile.ts";
import { StateStore, currentStatus, isAlive, processStartTime, type ContainerRecord, type Status } from "./state.ts";
import { createCgroupManager, loadCgroupManager, type CgroupManager } from "./cgroups/manager.ts";
import type { CgroupMountSource } from "./plan/compile.ts";
import { compileSeccomp } from "./seccomp/compile.ts";
import { mkfifo } from "./sys/libc.ts";
import { mountPointOf } from "./mountinfo.ts";
import { trace } from "../trace.ts";
import { currentMapWriter, writeIdMaps } from "./idmaps.ts";

import { OCI_VERSION } from "../version.ts";
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
}

export class Runtime {
  readonly store: StateStore;
  constructor(root?: string) {
    this.store = new StateStore(root);
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
    const spec = parseSpec(text, file);
    requireProcess(spec);
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
    const proc = spec.process!;
    const terminal = terminalOptions(proc.terminal, opts);

    // Everything that can be checked is checked before anything is created.
    const cgroup = createCgroupManager({ id: opts.id, cgroupsPath: spec.linux?.cgroupsPath });
    const resources = { ...(spec.linux?.resources ?? {}), devices: deviceCgroupRules(spec) };
    cgroup.check(resources);
    trace("cgroup-check");
    const seccompFilter = spec.linux?.seccomp ? compileSeccomp(spec.linux.seccomp as never) : undefined;
    trace("seccomp");
    const execFifo = this.store.fifo(opts.id);
    const plan = compilePlan({
      spec,
      bundle,
      rootfs,
      execFifo,
      noPivot: opts.noPivot,
      stay: opts.stay,
      preserveFds: opts.preserveFds,
      cgroupMounts: cgroupMountSources(cgroup),
      rootfsParentMount: mountPointOf(dirname(rootfs)),
      hostCapBounding: hostBoundingSet(),
      hostHasKcore: existsSync("/proc/kcore"),
      seccompFilter,
      console: terminal.console,
      lsm: hostLsm(),
      mapWriter: currentMapWriter(),
    });

    trace("plan");
    this.store.claim(opts.id);
    let launched: Launched | undefined;
    let cgroupCreated = false;
    try {
      mkfifo(execFifo, 0o622);
      cgroup.create();
      cgroupCreated = true;
      cgroup.set(resources);
      trace("cgroup-setup");
      launched = await launch({
        plan,
        extraFds: Array.from({ length: opts.preserveFds ?? 0 }, (_, i) => 3 + i),
        consoleSocket: terminal.proxy,
        onSync: (tag, pid) => {
          if (tag === SYNC_TAG.SETUP) {
            writeIdMaps(spec, pid);
            cgroup.apply(pid);
          }
        },
      });
      trace("init");
      if (terminal.proxy) launched.master = (await import("./console.ts")).receiveMaster(launched.console!);
      const rec: ContainerRecord = {
        ociVersion: OCI_VERSION,
        id: opts.id,
        pid: launched.pid,
        pidStartTime: processStartTime(launched.pid) ?? "",
        bundle,
        rootfs,
        created: new Date().toISOString(),
        owner: "",
        annotations: spec.annotations,
        cgroup: cgroup.toJSON(),
        config: spec,
      };
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
      this.store.release(opts.id);
      throw e instanceof BerthError ? e.wrap(`create ${opts.id}`) : wrapError(`create ${opts.id}`, e);
    }
  }

  start(id: string): void {
    this.store.withLock(id, () => {
      const rec = this.store.load(id);
      const status = this.status(rec);
      if (status !== "created") throw failedPrecondition(`cannot start a container in state ${status}`);
      const fifo = this.store.fifo(id);
      let fd: number;
      try {
        fd = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK | O_CLOEXEC);
      } catch (e) {
        throw wrapError(`start ${id}: container init is not waiting`, e);
      }
      try {
        writeSync(fd, "0");
      } finally {
        closeSync(fd);
      }
      unlinkSync(fifo);
    });
    trace("start");
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
      if (status !== "stopped") {
        if (!force) throw failedPrecondition(`cannot delete container "${id}" in state ${status}: stop it first or use --force`);
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
      this.store.release(id);
      trace("delete");
    });
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
  if (opts.consoleSocket) {
    if (opts.proxyTerminal) throw invalidArgument("--console-socket: only with --detach (a foreground run takes the terminal itself)");
    return { console: { path: resolve(opts.consoleSocket) }, proxy: false };
  }
  if (!opts.proxyTerminal) throw invalidArgument("process.terminal: a terminal needs --console-socket (or set terminal to false)");
  return { console: { fd: consoleFd(opts.preserveFds ?? 0) }, proxy: true };
}
