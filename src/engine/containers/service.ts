/**
 * The container service: berthd's containers from create to removal.
 *
 * A container is a row in SQLite (store.ts) and, while it runs, a native
 * monitor (src/engine/monitor) that parents it, holds its stdio, writes its
 * log and its exit status. berthd keeps no process per container: it watches
 * the monitor's exit file, and a restarted berthd finds every monitor again
 * (recover), so exit codes and log lines survive a daemon kill -9.
 *
 * Operations on one container are serialized (a per-container queue); waiting
 * for an exit happens outside it, so `stop` never blocks the exit handling.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { BerthError, failedPrecondition, invalidArgument, notFound } from "../../errors.ts";
import type { LinuxResources, Spec } from "../../oci/runtime-spec.ts";
import { update as updateRuntime } from "../../runtime/ops/update.ts";
import { labelsMatch } from "../labels.ts";
import { diskUsage } from "../storage/disk-usage.ts";
import { parseSignal } from "../../oci/signals.ts";
import { stringifyJson } from "../../oci/json.ts";
import { Runtime } from "../../runtime/container.ts";
import { pause as pauseRuntime, resume as resumeRuntime } from "../../runtime/ops/pause.ts";
import type { EventBus } from "../events.ts";
import type { ImageService } from "../image-service.ts";
import type { ContainerConfig as ImageContainerConfig, ImageConfig } from "../images/spec.ts";
import { commitContainer } from "../images/commit.ts";
import { parseReference } from "../images/reference.ts";
import { errorFields, type Logger } from "../logger.ts";
import { Phases } from "../phases.ts";
import { monitorDir, FILES } from "../monitor/layout.ts";
import { openMonitored, startMonitored, type MonitoredContainer } from "../monitor/monitored.ts";
import { readLog, type LogQuery } from "../monitor/log-reader.ts";
import type { LogEntry } from "../monitor/log-format.ts";
import type { ExitStatus } from "../monitor/exit.ts";
import type { OverlaySnapshotter } from "../storage/overlay.ts";
import type { ContainerCounts, ContainerSource } from "../engine.ts";
import type { ContainerRecord, CreateBody, DockerConfig, HostConfig, NetworkSettings, ResolvedMount, SpecInput } from "./model.ts";
import { validateHealthcheck } from "./health.ts";
import { ensureWorkingDir } from "./inroot.ts";
import { checkName, generateName } from "./names.ts";
import { dockerStartError, startFailureExitCode } from "./start-errors.ts";
import type { NetworkSetup } from "./networking.ts";
import { nextBackoff, policyName, restartOnDaemonStart, shouldRestart } from "./restart-policy.ts";
import { exitedState, newRecord, runningState, ZERO_TIME } from "./status.ts";
import { ContainerStore } from "./store.ts";

/** Docker's json-file defaults are unbounded; berth rotates by default (issue 4): 20 MB x 5, as docker's `local` driver. */
export const DEFAULT_LOG_MAX_SIZE = 20 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILES = 5;
/** docker stop's default grace period (s) */
export const DEFAULT_STOP_TIMEOUT = 10;

/** Turning a record into a runnable spec, and checking a create body (spec.ts and friends). */
export interface SpecBuilder {
  validate(body: CreateBody): void;
  merge(body: CreateBody, image: ImageConfig["config"]): { config: DockerConfig; path: string; args: string[] };
  build(input: SpecInput): Spec;
  /** HostConfig's resource fields as OCI linux.resources (docker update applies them live) */
  resources(hostConfig: HostConfig): LinuxResources;
  /** docker-init's host path, when there is one */
  initPath?: string;
}

/** Binds, volumes and tmpfs of a record (mounts.ts). */
export interface MountResolver {
  /** at create: the record's mounts with host sources (volumes created as needed) */
  resolve(record: ContainerRecord): Promise<ResolvedMount[]>;
  /** at each start: volumes that need mounting (tmpfs/bind volumes after a daemon restart) */
  prepare(record: ContainerRecord): void;
  /** at removal: release the record's volumes (remove anonymous ones when `removeVolumes`) */
  release(record: ContainerRecord, removeVolumes: boolean): Promise<void>;
}

/** A container's network (networking.ts): before it starts, after it stopped. */
export interface ContainerNetworks {
  /** at create, no effects: throws on network settings a start would refuse; returns docker's warnings */
  check?(record: ContainerRecord): string[];
  setup(record: ContainerRecord): Promise<NetworkSetup>;
  /** after the container stopped (idempotent) */
  teardown(record: ContainerRecord): Promise<NetworkSettings | void>;
  /** at removal: the generated /etc files */
  removeFiles(record: ContainerRecord): void;
}

/** Things that watch a running container (health checks, OOM): started after start, stopped at exit. */
export interface RunWatchers {
  started(record: ContainerRecord, service: ContainerService): void;
  /** before the runtime state is deleted: the cgroup still exists (OOMKilled is decided here) */
  exiting(record: ContainerRecord): { oomKilled: boolean };
  paused(id: string): void;
  resumed(id: string): void;
}

export interface ContainerServiceDeps {
  db: Database;
  images: ImageService;
  snapshots: OverlaySnapshotter;
  events: EventBus;
  log?: Logger;
  dataRoot: string;
  execRoot: string;
  spec: SpecBuilder;
  mounts?: MountResolver;
  networks?: ContainerNetworks;
  watchers?: RunWatchers;
}

export interface StopOptions {
  /** seconds before SIGKILL; -1: wait forever */
  timeout?: number;
  signal?: string;
}

export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Dockerfile instructions (CMD, ENV, ...) */
  changes?: string[];
  /** image config fields over the container's */
  config?: Partial<ImageContainerConfig>;
  /** freeze a running container for the copy (default true) */
  pause?: boolean;
}

export type WaitCondition = "not-running" | "next-exit" | "removed";

/** What a pending attach gets once the container's monitor exists. */
type AttachGate = { resolve: (m: MonitoredContainer) => Promise<void> | void; reject: (e: Error) => void };

export class ContainerService implements ContainerSource {
  readonly store: ContainerStore;
  readonly runtimeRoot: string;
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly exitWaiters = new Map<string, Set<(r: ContainerRecord) => void>>();
  private readonly removeWaiters = new Map<string, Set<() => void>>();
  private readonly attachGates = new Map<string, Set<AttachGate>>();
  private readonly watching = new Set<string>();
  private readonly restartTimers = new Map<string, { timer: ReturnType<typeof setTimeout>; backoff: number }>();
  private closed = false;

  constructor(private readonly d: ContainerServiceDeps) {
    this.store = new ContainerStore(d.db);
    this.runtimeRoot = join(d.execRoot, "runtime");
    mkdirSync(this.runtimeRoot, { recursive: true, mode: 0o700 });
    mkdirSync(join(d.dataRoot, "containers"), { recursive: true, mode: 0o710 });
  }

  private get log(): Logger | undefined {
    return this.d.log;
  }

  // ------------------------------------------------------------ ContainerSource

  get(tenant: string, ref: string): ContainerRecord {
    return this.store.get(tenant, ref);
  }

  counts(tenant: string): ContainerCounts {
    const c: ContainerCounts = { total: 0, running: 0, paused: 0, stopped: 0 };
    for (const r of this.store.list(tenant)) {
      c.total++;
      if (r.State.Paused) c.paused++;
      else if (r.State.Running) c.running++;
      else c.stopped++;
    }
    return c;
  }

  /** Does the container hold network attachments (network reconcile keeps those)? */
  hasNetwork(id: string): boolean {
    const r = this.store.byId(id);
    return Boolean(r && (r.State.Running || r.State.Paused));
  }

  isImageInUse(imageId: string, tenant?: string): boolean {
    return this.store.imageInUse(imageId, tenant);
  }

  list(tenant: string): ContainerRecord[] {
    return this.store.list(tenant);
  }

  runtime(): Runtime {
    return new Runtime(this.runtimeRoot, { warn: (m) => this.log?.warn(m) });
  }

  // ------------------------------------------------------------ create

  async create(tenant: string, body: CreateBody, opts: { name?: string } = {}): Promise<{ Id: string; Warnings: string[] }> {
    const ph = new Phases();
    const r = await ph.run(() => this.createTimed(tenant, body, opts, ph));
    ph.log(this.log, "container create", { id: r.Id });
    return r;
  }

  private async createTimed(tenant: string, body: CreateBody, opts: { name?: string }, ph: Phases): Promise<{ Id: string; Warnings: string[] }> {
    if (!body || typeof body !== "object" || Array.isArray(body)) throw invalidArgument("container config: want a JSON object");
    if (typeof body.Image !== "string" || !body.Image) throw invalidArgument("Config.Image: required");
    this.d.spec.validate(body);
    ph.mark("validate");
    const image = this.d.images.inspect(tenant, body.Image);
    ph.mark("image");
    const merged = this.d.spec.merge(body, image.config.config);
    validateHealthcheck(merged.config.Healthcheck);
    policyName(body.HostConfig?.RestartPolicy);

    const name = opts.name ? checkName(opts.name) : generateName((n) => this.store.byName(tenant, n) !== undefined);
    const existing = this.store.byName(tenant, name);
    if (existing) throw this.nameConflict(name, existing.Id);

    const id = randomBytes(32).toString("hex");
    const dataDir = join(this.d.dataRoot, "containers", id);
    const rec = newRecord({
      Id: id,
      Name: name,
      tenant,
      Image: image.id,
      ImageName: body.Image,
      Path: merged.path,
      Args: merged.args,
      Config: { ...merged.config, Image: body.Image },
      HostConfig: { NetworkMode: "bridge", ...(body.HostConfig ?? {}) },
      NetworkingConfig: body.NetworkingConfig,
      LogPath: join(dataDir, `${id}-json.log`),
      runtimeRoot: this.runtimeRoot,
      bundle: join(monitorDir(this.d.execRoot, id), "bundle"),
    });
    // docker checks networks at create: an unknown network makes no container
    const warnings = this.d.networks?.check?.(rec) ?? [];
    ph.mark("checks");
    mkdirSync(dataDir, { recursive: true, mode: 0o710 });
    let prepared = false;
    try {
      const paths = await this.d.snapshots.prepare(id, image.layers.map((l) => ({ digest: l.digest, diffID: l.diffID })));
      prepared = true;
      rec.rootfs = paths.rootfs;
      ph.mark("snapshot");
      if (this.d.mounts) rec.Mounts = await this.d.mounts.resolve(rec);
      ph.mark("mounts");
      this.store.insert(rec);
      ph.mark("insert");
    } catch (e) {
      if (prepared) await this.d.snapshots.remove(id).catch(() => {});
      if (this.d.mounts && rec.Mounts.length) await this.d.mounts.release(rec, true).catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
      throw e;
    }
    this.emit(rec, "create");
    return { Id: id, Warnings: warnings };
  }

  private nameConflict(name: string, id: string): BerthError {
    return new BerthError(
      "AlreadyExists",
      `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
  }

  // ------------------------------------------------------------ start

  /** Start a container; false when it was running already (docker's 304). */
  start(tenant: string, ref: string): Promise<boolean> {
    const id = this.store.get(tenant, ref).Id;
    return this.serialize(id, () => this.startLocked(id));
  }

  private async startLocked(id: string): Promise<boolean> {
    const ph = new Phases();
    const r = await ph.run(() => this.startTimed(id, ph));
    ph.log(this.log, "container start", { id });
    return r;
  }

  private async startTimed(id: string, ph: Phases): Promise<boolean> {
    const rec = this.mustGet(id);
    if (rec.State.Paused) throw failedPrecondition("cannot start a paused container, try unpause instead");
    if (rec.State.Running) return false;
    if (rec.State.Status === "removing") throw failedPrecondition(`container ${id} is marked for removal and cannot be started`);
    this.cancelRestart(id);
    const rt = this.runtime();
    // a previous run's leftovers (a daemon killed between exit and cleanup)
    if (rt.store.exists(id)) await rt.delete(id, true).catch(() => {});
    rmSync(rec.bundle, { recursive: true, force: true });
    ph.mark("leftovers");

    let net: NetworkSetup | undefined;
    let monitored: MonitoredContainer | undefined;
    try {
      const rootfs = await this.d.snapshots.mount(id);
      rec.rootfs = rootfs;
      this.d.mounts?.prepare(rec);
      ensureWorkingDir(rootfs, rec.Config.WorkingDir);
      ph.mark("mount");
      if (this.d.networks) {
        net = await this.d.networks.setup(rec);
        rec.NetworkSettings = net.settings;
        rec.HostsPath = net.hostsPath;
        rec.ResolvConfPath = net.resolvConfPath;
        rec.HostnamePath = net.hostnamePath;
      }
      ph.mark("network");
      const spec = this.d.spec.build({ record: rec, rootfs, cgroupsPath: `/berth/${id}`, netnsPath: net?.netnsPath, initPath: this.d.spec.initPath });
      ph.mark("spec");
      writeBundle(rec.bundle, spec);
      ph.mark("bundle");
      const lc = rec.HostConfig.LogConfig?.Config ?? {};
      monitored = await startMonitored({
        runtime: rt,
        execRoot: this.d.execRoot,
        id,
        bundle: rec.bundle,
        log: { path: rec.LogPath, maxSize: parseSize(lc["max-size"], DEFAULT_LOG_MAX_SIZE), maxFiles: parseCount(lc["max-file"], DEFAULT_LOG_MAX_FILES) },
        openStdin: Boolean(rec.Config.OpenStdin),
        stdinOnce: Boolean(rec.Config.StdinOnce),
        start: false,
      });
      ph.mark("create");
      await this.openAttachGates(id, monitored);
      ph.mark("attach");
      await rt.start(id);
      ph.mark("runtime-start");
    } catch (e) {
      await this.undoStart(rec, monitored, net !== undefined).catch((u) => this.log?.warn("undo a failed start", { id, ...errorFields(u) }));
      const err = dockerStartError(e);
      rec.State = exitedState(rec.State, startFailureExitCode(err) ?? 128, new Date().toISOString(), false, err.message);
      rec.State.Status = rec.State.StartedAt === ZERO_TIME ? "created" : "exited";
      this.store.save(rec);
      this.rejectAttachGates(id, err);
      // docker: an auto-remove container that cannot start is removed (`run --rm` waits for that)
      if (rec.HostConfig.AutoRemove) await this.removeLocked(id, { volumes: true }).catch((u) => this.log?.warn("auto-remove", { id, ...errorFields(u) }));
      throw err;
    }
    rec.State = runningState(rec.State, monitored.containerPid, new Date().toISOString());
    if (rec.Config.Healthcheck?.Test?.length && rec.Config.Healthcheck.Test[0] !== "NONE")
      rec.State.Health = { Status: "starting", FailingStreak: 0, Log: rec.State.Health?.Log ?? [] };
    rec.manuallyStopped = false;
    this.store.save(rec);
    this.emit(rec, "start");
    this.watch(rec, monitored);
    ph.mark("save");
    return true;
  }

  private async undoStart(rec: ContainerRecord, monitored: MonitoredContainer | undefined, netUp: boolean) {
    const rt = this.runtime();
    if (rt.store.exists(rec.Id)) await rt.delete(rec.Id, true);
    if (monitored) {
      await monitored.wait(AbortSignal.timeout(5000)).catch(() => {});
      rmSync(monitored.dir, { recursive: true, force: true });
    }
    if (netUp) await this.d.networks?.teardown(rec);
    await this.d.snapshots.unmount(rec.Id).catch(() => {});
  }

  // ------------------------------------------------------------ exits

  /** Follow a running container's monitor until the exit, then handle it (once). */
  private watch(rec: ContainerRecord, monitored: MonitoredContainer) {
    if (this.watching.has(rec.Id)) return;
    this.watching.add(rec.Id);
    this.d.watchers?.started(rec, this);
    void (async () => {
      let st: ExitStatus | null = null;
      try {
        st = await monitored.wait();
      } catch (e) {
        if (this.closed) return; // the daemon is going away: the next one picks the monitor up
        this.log?.warn("monitor gone without an exit status", { id: rec.Id, ...errorFields(e) });
      } finally {
        this.watching.delete(rec.Id);
      }
      if (this.closed) return;
      await this.serialize(rec.Id, async () => {
        const ph = new Phases();
        await ph.run(() => this.handleExit(rec.Id, st, ph));
        ph.log(this.log, "container exit", { id: rec.Id });
      }).catch((e) => this.log?.error("handling a container exit", { id: rec.Id, ...errorFields(e) }));
    })();
  }

  /** The container has exited (st null: its monitor died without telling). */
  private async handleExit(id: string, st: ExitStatus | null, ph = new Phases()) {
    const rec = this.store.byId(id);
    if (!rec) return;
    const oom = this.d.watchers?.exiting(rec).oomKilled ?? false;
    ph.mark("watchers");
    const ranMs = Date.now() - Date.parse(rec.State.StartedAt);
    rec.State = exitedState(rec.State, st ? st.exitCode : 255, st?.exitedAt ?? new Date().toISOString(), oom, st ? "" : "the container's monitor exited without an exit status");
    await this.cleanupRun(rec, ph);
    this.store.save(rec);
    ph.mark("save");
    if (oom) this.emit(rec, "oom");
    this.emit(rec, "die", { exitCode: String(rec.State.ExitCode) });
    for (const w of this.exitWaiters.get(id) ?? []) w(rec);
    this.exitWaiters.delete(id);

    if (!this.closed && shouldRestart(rec)) {
      this.scheduleRestart(rec, ranMs);
      return;
    }
    if (rec.HostConfig.AutoRemove) await this.removeLocked(id, { volumes: true }, ph).catch((e) => this.log?.warn("auto-remove", { id, ...errorFields(e) }));
  }

  /** After a run: runtime state, monitor files, network and rootfs mount go; the log stays. */
  private async cleanupRun(rec: ContainerRecord, ph = new Phases()) {
    const rt = this.runtime();
    try {
      if (rt.store.exists(rec.Id)) await rt.delete(rec.Id, true);
    } catch (e) {
      this.log?.warn("delete runtime state", { id: rec.Id, ...errorFields(e) });
    }
    ph.mark("runtime-delete");
    // Nothing of the container runs any more (the runtime killed what was left):
    // the network (CNI DEL: plugin processes) and the files go concurrently.
    const network = ph.time("network-teardown", async () => {
      try {
        const settings = await this.d.networks?.teardown(rec);
        if (settings) rec.NetworkSettings = settings;
      } catch (e) {
        this.log?.warn("network teardown", { id: rec.Id, ...errorFields(e) });
      }
    });
    const files = (async () => {
      const dir = monitorDir(this.d.execRoot, rec.Id);
      try {
        await openMonitored(this.d.execRoot, rec.Id).reap();
      } catch {}
      rmSync(dir, { recursive: true, force: true });
      await ph.time("unmount", () => this.d.snapshots.unmount(rec.Id).catch((e) => this.log?.warn("unmount rootfs", { id: rec.Id, ...errorFields(e) })));
    })();
    await Promise.all([network, files]);
    ph.mark("network+files");
  }

  private scheduleRestart(rec: ContainerRecord, ranMs: number) {
    const prev = this.restartTimers.get(rec.Id)?.backoff ?? 0;
    const backoff = nextBackoff(prev, ranMs);
    rec.State.Status = "restarting";
    rec.State.Restarting = true;
    this.store.save(rec);
    const timer = setTimeout(() => {
      void this.serialize(rec.Id, async () => {
        const cur = this.store.byId(rec.Id);
        if (!cur || !cur.State.Restarting || cur.manuallyStopped) return;
        cur.RestartCount++;
        this.store.save(cur);
        try {
          await this.startLocked(rec.Id);
          this.emit(cur, "restart");
        } catch (e) {
          this.log?.warn("restart policy: start failed", { id: rec.Id, ...errorFields(e) });
          const again = this.store.byId(rec.Id);
          if (again && shouldRestart(again)) this.scheduleRestart(again, 0);
        }
      });
    }, backoff);
    this.restartTimers.set(rec.Id, { timer, backoff });
  }

  private cancelRestart(id: string) {
    const t = this.restartTimers.get(id);
    if (t) clearTimeout(t.timer);
  }

  // ------------------------------------------------------------ stop, kill, restart

  /** docker stop; false when it was not running (304). */
  async stop(tenant: string, ref: string, o: StopOptions = {}): Promise<boolean> {
    const rec = this.store.get(tenant, ref);
    this.cancelRestart(rec.Id);
    if (rec.State.Restarting) {
      await this.serialize(rec.Id, async () => {
        const cur = this.mustGet(rec.Id);
        cur.manuallyStopped = true;
        cur.State = { ...cur.State, Status: "exited", Restarting: false };
        this.store.save(cur);
      });
      this.restartTimers.delete(rec.Id);
      return true;
    }
    if (!rec.State.Running) return false;
    const timeout = o.timeout ?? rec.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    const sig = parseSignal(o.signal ?? rec.Config.StopSignal ?? "SIGTERM");
    const exited = this.nextExit(rec.Id);
    await this.serialize(rec.Id, async () => {
      const cur = this.mustGet(rec.Id);
      if (!cur.State.Running) return;
      cur.manuallyStopped = true;
      this.store.save(cur);
      if (cur.State.Paused) this.resumeQuietly(cur.Id);
      this.signal(cur, sig);
    });
    if (!this.mustGet(rec.Id).State.Running) return true;
    const done = timeout < 0 ? await exited.then(() => true) : await Promise.race([exited.then(() => true), Bun.sleep(timeout * 1000).then(() => false)]);
    if (!done) {
      this.signalQuietly(rec.Id, 9);
      await exited;
    }
    this.emit(rec, "stop");
    return true;
  }

  /** docker kill */
  async kill(tenant: string, ref: string, signal = "SIGKILL"): Promise<void> {
    const rec = this.store.get(tenant, ref);
    let sig: number;
    try {
      sig = parseSignal(signal);
    } catch {
      throw invalidArgument(`Invalid signal: ${signal}`);
    }
    await this.serialize(rec.Id, async () => {
      const cur = this.mustGet(rec.Id);
      if (!cur.State.Running) throw failedPrecondition(`Cannot kill container: ${ref}: Container ${cur.Id} is not running`);
      if (sig === 9 || sig === 15) {
        cur.manuallyStopped = true;
        this.store.save(cur);
      }
      this.signal(cur, sig);
      this.emit(cur, "kill", { signal: String(sig) });
    });
  }

  async restart(tenant: string, ref: string, o: StopOptions = {}): Promise<void> {
    const rec = this.store.get(tenant, ref);
    await this.stop(tenant, rec.Id, o);
    await this.start(tenant, rec.Id);
    this.emit(this.mustGet(rec.Id), "restart");
  }

  private signal(rec: ContainerRecord, sig: number) {
    try {
      this.runtime().kill(rec.Id, sig);
    } catch (e) {
      throw new BerthError("Internal", `Cannot kill container: ${rec.Id}: ${(e as Error).message}`);
    }
  }

  private signalQuietly(id: string, sig: number) {
    try {
      this.runtime().kill(id, sig);
    } catch {}
  }

  private resumeQuietly(id: string) {
    try {
      resumeRuntime(this.runtime(), id);
    } catch {}
  }

  // ------------------------------------------------------------ pause

  async pause(tenant: string, ref: string): Promise<void> {
    const rec = this.store.get(tenant, ref);
    await this.serialize(rec.Id, async () => {
      const cur = this.mustGet(rec.Id);
      if (!cur.State.Running) throw failedPrecondition(`Container ${cur.Id} is not running`);
      if (cur.State.Paused) throw failedPrecondition(`Container ${cur.Id} is already paused`);
      pauseRuntime(this.runtime(), cur.Id);
      this.d.watchers?.paused(cur.Id);
      cur.State = { ...cur.State, Paused: true, Status: "paused" };
      this.store.save(cur);
      this.emit(cur, "pause");
    });
  }

  async unpause(tenant: string, ref: string): Promise<void> {
    const rec = this.store.get(tenant, ref);
    await this.serialize(rec.Id, async () => {
      const cur = this.mustGet(rec.Id);
      if (!cur.State.Paused) throw failedPrecondition(`Container ${cur.Id} is not paused`);
      resumeRuntime(this.runtime(), cur.Id);
      this.d.watchers?.resumed(cur.Id);
      cur.State = { ...cur.State, Paused: false, Status: "running" };
      this.store.save(cur);
      this.emit(cur, "unpause");
    });
  }

  // ------------------------------------------------------------ wait

  /** Resolves with the record after the container's next exit. */
  private nextExit(id: string): Promise<ContainerRecord> {
    return new Promise((resolve) => {
      let set = this.exitWaiters.get(id);
      if (!set) this.exitWaiters.set(id, (set = new Set()));
      set.add(resolve);
    });
  }

  /** docker wait: {StatusCode, Error} once the condition holds. */
  async wait(tenant: string, ref: string, condition: WaitCondition = "not-running", signal?: AbortSignal): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    if (!["not-running", "next-exit", "removed"].includes(condition)) throw invalidArgument(`invalid condition: "${condition}"`);
    const rec = this.store.get(tenant, ref);
    const id = rec.Id;
    const result = (r: ContainerRecord) => ({ StatusCode: r.State.ExitCode, Error: r.State.Error ? { Message: r.State.Error } : null });
    const aborted = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(new BerthError("Unavailable", "wait: cancelled"));
      signal?.addEventListener("abort", () => reject(new BerthError("Unavailable", "wait: cancelled")), { once: true });
    });
    if (condition === "removed") {
      let last = rec;
      const exitSeen = (r: ContainerRecord) => (last = r);
      const gone = new Promise<void>((resolve) => {
        let set = this.removeWaiters.get(id);
        if (!set) this.removeWaiters.set(id, (set = new Set()));
        set.add(resolve);
      });
      const watchExits = async () => {
        for (;;) exitSeen(await this.nextExit(id));
      };
      void watchExits();
      if (!this.store.byId(id)) return result(last);
      await Promise.race([gone, aborted]);
      return result(last);
    }
    if (condition === "not-running" && !rec.State.Running && !rec.State.Restarting) return result(rec);
    const r = await Promise.race([this.nextExit(id), aborted]);
    return result(r);
  }

  // ------------------------------------------------------------ commit

  /**
   * docker commit: the container's writable layer as a new image on top of
   * its own. The image config is the container's (with `config` fields over
   * it), then the Dockerfile `changes`. A running container is frozen for the
   * copy unless `pause` is false (docker's default is to pause).
   */
  async commit(tenant: string, ref: string, o: CommitOptions = {}): Promise<string> {
    const rec = this.store.get(tenant, ref);
    let reference: string | undefined;
    if (o.repo) reference = o.tag ? `${o.repo}:${o.tag}` : o.repo;
    else if (o.tag) throw invalidArgument("tag: given without repo");
    if (reference !== undefined && parseReference(reference).digest) throw invalidArgument(`repo: ${reference}: cannot commit to a digest reference`);
    return await this.serialize(rec.Id, async () => {
      const cur = this.mustGet(rec.Id);
      if (!this.d.snapshots.containers().includes(cur.Id)) throw failedPrecondition(`Container ${cur.Id} has no filesystem to commit`);
      const c = cur.Config;
      const fromContainer: Partial<ImageContainerConfig> = {
        User: c.User,
        ExposedPorts: c.ExposedPorts,
        Env: c.Env,
        Entrypoint: c.Entrypoint,
        Cmd: c.Cmd,
        Volumes: c.Volumes,
        WorkingDir: c.WorkingDir,
        Labels: c.Labels,
        StopSignal: c.StopSignal,
        Healthcheck: c.Healthcheck,
      } as Partial<ImageContainerConfig>;
      for (const k of Object.keys(fromContainer) as (keyof ImageContainerConfig)[]) if (fromContainer[k] === undefined) delete fromContainer[k];
      const freeze = o.pause !== false && cur.State.Running && !cur.State.Paused;
      if (freeze) pauseRuntime(this.runtime(), cur.Id);
      let img;
      try {
        img = await commitContainer(this.d.images.store, this.d.snapshots, tenant, cur.Id, cur.Image, {
          ref: reference,
          changes: o.changes,
          config: { ...fromContainer, ...(o.config ?? {}) },
          comment: o.comment || undefined,
          author: o.author || undefined,
          createdBy: [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])].join(" "),
        });
      } finally {
        if (freeze) this.resumeQuietly(cur.Id);
      }
      this.emit(cur, "commit", { comment: o.comment ?? "", imageID: img.id, imageRef: reference ?? "" });
      return img.id;
    });
  }

  // ------------------------------------------------------------ remove, rename

  async remove(tenant: string, ref: string, o: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const rec = this.store.get(tenant, ref);
    if (rec.State.Running && !o.force)
      throw failedPrecondition(`cannot remove container "/${rec.Name}": container is running: stop the container before removing or force remove`);
    this.cancelRestart(rec.Id);
    if (rec.State.Running) {
      const exited = this.nextExit(rec.Id);
      await this.serialize(rec.Id, async () => {
        const cur = this.mustGet(rec.Id);
        cur.manuallyStopped = true;
        this.store.save(cur);
        if (cur.State.Running) {
          if (cur.State.Paused) this.resumeQuietly(cur.Id);
          this.signalQuietly(cur.Id, 9);
        }
      });
      if (this.store.byId(rec.Id)?.State.Running) await Promise.race([exited, Bun.sleep(15_000)]);
    }
    await this.serialize(rec.Id, async () => {
      const ph = new Phases();
      await ph.run(() => this.removeLocked(rec.Id, o, ph));
      ph.log(this.log, "container remove", { id: rec.Id });
    });
  }

  private async removeLocked(id: string, o: { volumes?: boolean }, ph = new Phases()) {
    const rec = this.store.byId(id);
    if (!rec) return;
    if (rec.State.Running) throw failedPrecondition(`cannot remove container "/${rec.Name}": container is running`);
    this.cancelRestart(id);
    this.restartTimers.delete(id);
    await this.cleanupRun(rec, ph);
    if (this.d.snapshots.containers().includes(id)) await this.d.snapshots.remove(id);
    ph.mark("snapshot-remove");
    this.d.networks?.removeFiles(rec);
    rmSync(join(this.d.dataRoot, "containers", id), { recursive: true, force: true });
    this.store.delete(id);
    ph.mark("remove-files");
    // after the record is gone: its volumes are no longer in use by it
    if (this.d.mounts) await this.d.mounts.release(rec, Boolean(o.volumes));
    this.emit(rec, "destroy");
    ph.mark("release");
    for (const w of this.removeWaiters.get(id) ?? []) w();
    this.removeWaiters.delete(id);
  }

  async rename(tenant: string, ref: string, newName: string): Promise<void> {
    if (!newName) throw invalidArgument("Neither old nor new names may be empty");
    const name = checkName(newName);
    const rec = this.store.get(tenant, ref);
    await this.serialize(rec.Id, async () => {
      const cur = this.mustGet(rec.Id);
      if (cur.Name === name) throw failedPrecondition(`Renaming a container with the same name as its current name`);
      const other = this.store.byName(tenant, name);
      if (other) throw this.nameConflict(name, other.Id);
      const old = cur.Name;
      cur.Name = name;
      this.store.save(cur);
      this.emit(cur, "rename", { oldName: `/${old}` });
    });
  }

  /** docker update: resources (live when running) and the restart policy. */
  async update(tenant: string, ref: string, body: Record<string, unknown>): Promise<string[]> {
    const rec = this.store.get(tenant, ref);
    const RESOURCE_KEYS = [
      "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight",
    ] as const;
    const known = new Set<string>([...RESOURCE_KEYS, "RestartPolicy", "KernelMemory", "KernelMemoryTCP", "CpuRealtimePeriod", "CpuRealtimeRuntime", "MemorySwappiness", "OomKillDisable", "Devices", "DeviceCgroupRules", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumBandwidth", "IOMaximumIOps", "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "CgroupParent", "DeviceRequests"]);
    for (const k of Object.keys(body)) if (!known.has(k)) throw invalidArgument(`update: unknown field ${k}`);
    const next: HostConfig = { ...rec.HostConfig };
    for (const k of RESOURCE_KEYS) {
      const v = body[k];
      if (v === undefined || v === null || v === 0 || v === "") continue;
      (next as Record<string, unknown>)[k] = v;
    }
    if (body.RestartPolicy !== undefined && body.RestartPolicy !== null) {
      next.RestartPolicy = body.RestartPolicy as HostConfig["RestartPolicy"];
      policyName(next.RestartPolicy);
      if (next.AutoRemove && policyName(next.RestartPolicy) !== "no") throw invalidArgument("Restart policy cannot be updated because AutoRemove is enabled for the container");
    }
    this.d.spec.validate({ Image: rec.ImageName, HostConfig: next });
    await this.serialize(rec.Id, async () => {
      const cur = this.mustGet(rec.Id);
      if (cur.State.Running) updateRuntime(this.runtime(), cur.Id, this.d.spec.resources(next));
      cur.HostConfig = next;
      this.store.save(cur);
      this.emit(cur, "update");
    });
    return [];
  }

  /** docker container prune: every stopped container (filters until, label, label!). */
  async prune(tenant: string, filters: Map<string, string[]>): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    for (const k of filters.keys()) if (!["until", "label", "label!"].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    const until = filters.get("until")?.at(-1);
    const untilMs = until === undefined ? undefined : /^\d+(\.\d+)?$/.test(until) ? Number(until) * 1000 : Date.parse(until);
    if (untilMs !== undefined && Number.isNaN(untilMs)) throw invalidArgument(`invalid filter 'until=${until}'`);
    const deleted: string[] = [];
    let space = 0;
    for (const r of this.store.list(tenant)) {
      if (r.State.Running || r.State.Restarting || r.State.Paused) continue;
      if (untilMs !== undefined && Date.parse(r.Created) >= untilMs) continue;
      if (!labelsMatch(r.Config.Labels ?? {}, filters.get("label") ?? [])) continue;
      if ((filters.get("label!") ?? []).some((l) => labelsMatch(r.Config.Labels ?? {}, [l]))) continue;
      let size = 0;
      try {
        size = diskUsage(this.d.snapshots.paths(r.Id).upperdir);
      } catch {}
      try {
        await this.serialize(r.Id, () => this.removeLocked(r.Id, {}));
        deleted.push(r.Id);
        space += size;
      } catch (e) {
        this.log?.warn("prune", { id: r.Id, ...errorFields(e) });
      }
    }
    return { deleted, spaceReclaimed: space };
  }

  /** network connect/disconnect changed the record's networks: keep the rest of it as stored */
  saveNetworkChange(rec: ContainerRecord): void {
    const cur = this.store.byId(rec.Id);
    if (!cur) return;
    cur.NetworkingConfig = rec.NetworkingConfig;
    cur.NetworkSettings = rec.NetworkSettings;
    this.store.save(cur);
  }

  /** Persist a changed record under the container's queue (update, health). */
  async modify(id: string, fn: (r: ContainerRecord) => void | Promise<void>): Promise<ContainerRecord> {
    return this.serialize(id, async () => {
      const cur = this.mustGet(id);
      await fn(cur);
      this.store.save(cur);
      return cur;
    });
  }

  // ------------------------------------------------------------ logs, attach

  /** The container's log (see LogQuery); with follow, until it exits. */
  logs(tenant: string, ref: string, q: LogQuery = {}): AsyncGenerator<LogEntry> {
    const rec = this.store.get(tenant, ref);
    const lc = rec.HostConfig.LogConfig?.Config ?? {};
    const log = { path: rec.LogPath, maxSize: parseSize(lc["max-size"], DEFAULT_LOG_MAX_SIZE), maxFiles: parseCount(lc["max-file"], DEFAULT_LOG_MAX_FILES) };
    const dir = monitorDir(this.d.execRoot, rec.Id);
    const finished = () => {
      const cur = this.store.byId(rec.Id);
      if (!cur || !cur.State.Running) return true;
      return existsSync(join(dir, FILES.exit)) || !existsSync(join(dir, FILES.config));
    };
    return readLog({ log, finished }, q);
  }

  /**
   * The monitor to attach to: now when the container runs, else once it is
   * started (docker run attaches before it starts, so no output is missed:
   * the start waits for attach clients to connect; see openAttachGates).
   */
  monitorFor(tenant: string, ref: string, connect: (m: MonitoredContainer) => Promise<void> | void, signal?: AbortSignal): Promise<void> {
    const rec = this.store.get(tenant, ref);
    if (rec.State.Running && !rec.State.Restarting) return Promise.resolve(connect(openMonitored(this.d.execRoot, rec.Id)));
    return new Promise<void>((resolve, reject) => {
      let set = this.attachGates.get(rec.Id);
      if (!set) this.attachGates.set(rec.Id, (set = new Set()));
      const gate: AttachGate = {
        resolve: async (m) => {
          try {
            await connect(m);
            resolve();
          } catch (e) {
            reject(e);
          }
        },
        reject,
      };
      set.add(gate);
      signal?.addEventListener("abort", () => {
        set.delete(gate);
        reject(new BerthError("Unavailable", "attach: cancelled"));
      });
    });
  }

  /** Resize the container's terminal (a no-op without one, as docker). */
  async resize(tenant: string, ref: string, rows: number, cols: number): Promise<void> {
    const rec = this.store.get(tenant, ref);
    if (!rec.State.Running) throw failedPrecondition(`Container ${rec.Id} is not running`);
    if (!rec.Config.Tty || rows < 1 || cols < 1) return;
    const a = await openMonitored(this.d.execRoot, rec.Id).attach();
    try {
      a.resize(rows, cols);
    } finally {
      a.close();
    }
  }

  private async openAttachGates(id: string, m: MonitoredContainer) {
    const gates = this.attachGates.get(id);
    if (!gates?.size) return;
    this.attachGates.delete(id);
    await Promise.race([Promise.allSettled([...gates].map((g) => g.resolve(m))), Bun.sleep(5000)]);
  }

  private rejectAttachGates(id: string, e: Error) {
    const gates = this.attachGates.get(id);
    this.attachGates.delete(id);
    for (const g of gates ?? []) g.reject(e);
  }

  // ------------------------------------------------------------ daemon start/stop

  /**
   * After berthd (re)starts: pick up every monitor (a running container is
   * watched again; one that exited meanwhile gets its exit handled with the
   * status its monitor wrote), then apply restart policies.
   */
  async recover(): Promise<void> {
    for (const rec of this.store.list()) {
      if (!rec.State.Running && !rec.State.Restarting) continue;
      const dir = monitorDir(this.d.execRoot, rec.Id);
      let m: MonitoredContainer | undefined;
      try {
        m = openMonitored(this.d.execRoot, rec.Id);
      } catch {
        m = undefined;
      }
      const state = m?.state();
      if (m && state === "running") {
        this.log?.info("reattached to a running container", { id: rec.Id, name: rec.Name });
        this.watch(rec, m);
        continue;
      }
      if (rec.State.Restarting && !existsSync(dir)) {
        if (shouldRestart(rec)) this.scheduleRestart(rec, 0);
        continue;
      }
      const st = m && state === "exited" ? m.exitStatus() : null;
      if (!st && m) {
        // the monitor is gone without a status: the container may still run, unwatched
        this.signalQuietly(rec.Id, 9);
      }
      await this.serialize(rec.Id, () => this.handleExit(rec.Id, st));
    }
  }

  /** After recover(), once the daemon serves: start the exited containers whose policy says so. */
  applyRestartPolicies(): void {
    for (const rec of this.store.list()) {
      if (rec.State.Running || rec.State.Restarting || rec.State.StartedAt === ZERO_TIME) continue;
      if (!restartOnDaemonStart(rec)) continue;
      this.start(rec.tenant, rec.Id).catch((e) => this.log?.warn("restart policy at daemon start", { id: rec.Id, ...errorFields(e) }));
    }
  }

  /** The daemon stops: containers keep running (their monitors stay); timers and watchers stop. */
  close() {
    this.closed = true;
    for (const t of this.restartTimers.values()) clearTimeout(t.timer);
    this.restartTimers.clear();
  }

  // ------------------------------------------------------------ helpers

  mustGet(id: string): ContainerRecord {
    const r = this.store.byId(id);
    if (!r) throw notFound(`No such container: ${id}`);
    return r;
  }

  emit(rec: ContainerRecord, action: string, extra: Record<string, string> = {}) {
    this.d.events.publish({
      tenant: rec.tenant,
      type: "container",
      action,
      actor: { id: rec.Id, attributes: { ...(rec.Config.Labels ?? {}), image: rec.ImageName, name: rec.Name, ...extra } },
    });
  }

  /** Run fn after every earlier operation on the container has finished. */
  private serialize<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.queues.set(id, tail);
    void tail.then(() => {
      if (this.queues.get(id) === tail) this.queues.delete(id);
    });
    return next;
  }
}

function writeBundle(dir: string, spec: Spec) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, "config.json");
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, stringifyJson(spec, 0), { mode: 0o600 });
  renameSync(tmp, file);
}



/** "10m", "1g", "512k", "1000" (bytes) */
export function parseSize(v: string | undefined, dflt: number): number {
  if (v === undefined || v === "") return dflt;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(v.trim());
  if (!m) throw invalidArgument(`log-opt max-size: "${v}" is not a size`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Math.floor(Number(m[1]) * mult);
}

function parseCount(v: string | undefined, dflt: number): number {
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw invalidArgument(`log-opt max-file: "${v}" is not a positive integer`);
  return n;
}

