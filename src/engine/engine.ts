/**
 * The engine: berthd's state under one data root, and the services over it.
 *
 *   <data root>/berth.db          metadata (SQLite, WAL)
 *   <data root>/blobs/sha256/     content-addressed blobs
 *   <data root>/overlay/          unpacked layers and containers' writable layers
 *   <data root>/engine-id         this engine's id (docker info's ID), made once
 *
 * Containers are not here yet: `ContainerSource` is the seam through which the
 * container service (with its per-container monitors) will tell the image
 * store which images are in use and `docker info` how many containers exist.
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BerthError, failedPrecondition, notFound } from "../errors.ts";
import { ContainerService } from "./containers/service.ts";
import { dockerSpecBuilder } from "./containers/spec-builder.ts";
import { containerMounts } from "./containers/mount-resolver.ts";
import type { ContainerLookup } from "./containers/model.ts";
import { ContainerNetworking } from "./containers/networking.ts";
import { openDb } from "./db.ts";
import { EventBus } from "./events.ts";
import { ExecService } from "./containers/exec.ts";
import { ImageService } from "./image-service.ts";
import { BlobStore } from "./images/blobs.ts";
import { ImageStore } from "./images/store.ts";
import type { Logger } from "./logger.ts";
import { NetworkManager, type NetworkManagerOptions } from "./network/manager.ts";
import { RegistryHosts, type RegistryHostsOptions } from "./registries.ts";
import { BlobSources } from "./registry/index.ts";
import { OverlaySnapshotter } from "./storage/overlay.ts";
import { VolumeStore } from "./volumes/store.ts";

export interface ContainerCounts {
  total: number;
  running: number;
  paused: number;
  stopped: number;
}

/** What the engine needs to know about containers (the container service provides it). */
export interface ContainerSource extends ContainerLookup {
  counts(tenant: string): ContainerCounts;
  /** is the image used by a container (of `tenant`, or of anyone when undefined)? */
  isImageInUse(imageId: string, tenant?: string): boolean;
  /** does the container hold its network now (running or paused)? network reconcile keeps only those */
  hasNetwork?(containerId: string): boolean;
}

/** No containers (until the container service plugs in). */
export const NO_CONTAINERS: ContainerSource = {
  counts: () => ({ total: 0, running: 0, paused: 0, stopped: 0 }),
  isImageInUse: () => false,
  get: (_tenant, ref) => {
    throw notFound(`No such container: ${ref}`);
  },
};

export interface EngineOptions {
  dataRoot: string;
  /** runtime state, monitors and bundles of containers (tmpfs in production: /run/berth) */
  execRoot?: string;
  registries?: RegistryHostsOptions;
  /** replaces the container service (tests of the image half) */
  containers?: ContainerSource;
  log?: Logger;
}

export class Engine {
  readonly dataRoot: string;
  readonly id: string;
  readonly db: Database;
  readonly blobs: BlobStore;
  readonly snapshots: OverlaySnapshotter;
  readonly imageStore: ImageStore;
  readonly events = new EventBus();
  readonly registries: RegistryHosts;
  readonly images: ImageService;
  readonly containers: ContainerSource;
  readonly execRoot: string;
  private readonly service?: ContainerService;
  /** docker exec sessions (in memory, as dockerd keeps them) */
  readonly execs: ExecService;
  private net?: { manager: NetworkManager; containers: ContainerNetworking };
  /** named volumes; the container service says which containers use one (volumes.setUsedBy) */
  readonly volumes: VolumeStore;
  private closed = false;

  private readonly log?: Logger;

  constructor(opts: EngineOptions) {
    this.dataRoot = opts.dataRoot;
    this.log = opts.log;
    mkdirSync(this.dataRoot, { recursive: true, mode: 0o711 });
    this.registries = new RegistryHosts(opts.registries);
    this.id = engineId(this.dataRoot);
    this.db = openDb(join(this.dataRoot, "berth.db"));
    try {
      this.blobs = new BlobStore(join(this.dataRoot, "blobs"));
      this.snapshots = new OverlaySnapshotter({ root: this.dataRoot, db: this.db, blobs: this.blobs });
      const removed = this.snapshots.recover();
      if (removed.length) opts.log?.info("removed leftovers of an interrupted run", { paths: removed.length });
      this.execRoot = opts.execRoot ?? join(this.dataRoot, "exec");
      this.volumes = new VolumeStore({ db: this.db, dataRoot: this.dataRoot });
      this.imageStore = new ImageStore({
        db: this.db,
        blobs: this.blobs,
        snapshots: this.snapshots,
        isInUse: (id, tenant) => this.containers.isImageInUse(id, tenant),
      });
      this.images = new ImageService({ store: this.imageStore, events: this.events, registries: this.registries, sources: new BlobSources(), log: opts.log });
      if (!opts.containers)
        this.service = new ContainerService({
          db: this.db,
          images: this.images,
          snapshots: this.snapshots,
          events: this.events,
          log: opts.log,
          dataRoot: this.dataRoot,
          execRoot: this.execRoot,
          spec: dockerSpecBuilder,
          mounts: containerMounts(this.volumes, this.snapshots),
          // networking opens later (berthd, as root): read at each call
          networks: {
            setup: (r) => this.networking.setup(r),
            teardown: async (r) => {
              if (this.net) await this.net.containers.teardown(r);
            },
            removeFiles: (r) => this.net?.containers.removeFiles(r),
          },
        });
      this.containers = opts.containers ?? this.service!;
      if (this.service) {
        const svc = this.service;
        this.volumes.setUsedBy((tenant, name) => svc.list(tenant).filter((r) => r.Mounts.some((m) => m.Type === "volume" && m.Name === name)).map((r) => r.Id));
      }
      // the lookup read at each call: whatever container source the engine has then
      this.execs = new ExecService({ containers: { get: (tenant, ref) => this.containers.get(tenant, ref) }, events: this.events, log: opts.log });
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  /** The container service (NotFound-free: berthd always has one; tests of the image half may not). */
  get containerService(): ContainerService {
    if (!this.service) throw new BerthError("Unavailable", "this engine has no container service");
    return this.service;
  }

  /** Exec instances of a container that have not exited (docker inspect's ExecIDs). */
  execIdsOf(containerId: string): string[] {
    return this.execs.idsOf(containerId);
  }

  /** When the daemon starts: reattach to running containers, handle the exits that happened meanwhile. */
  async recover(): Promise<void> {
    await this.service?.recover();
  }

  /** Once the daemon serves: start what restart policies bring back. */
  applyRestartPolicies(): void {
    this.service?.applyRestartPolicies();
  }

  get hasNetworking(): boolean {
    return this.net !== undefined;
  }

  /**
   * Networking (needs root): the network manager and the container wiring
   * over it, for the engine's life. berthd opens it at start, then reconciles.
   */
  async openNetworks(opts: { execRoot: string } & Omit<NetworkManagerOptions, "db" | "dataRoot" | "log">): Promise<void> {
    if (this.net) return;
    const manager = await NetworkManager.open({ ...opts, db: this.db, dataRoot: this.dataRoot, log: this.log });
    this.net = { manager, containers: new ContainerNetworking({ networks: manager, containers: this.containers, execRoot: opts.execRoot }) };
    // connect/disconnect change a container's record: saved under its queue
    if (this.service) this.net.containers.onChange = (rec) => this.service!.saveNetworkChange(rec);
  }

  /** The network manager (after openNetworks). */
  get networks(): NetworkManager {
    if (!this.net) throw failedPrecondition("networking is not set up in this engine");
    return this.net.manager;
  }

  /** Container wiring to networks: setup/teardown/connect/disconnect (after openNetworks). */
  get networking(): ContainerNetworking {
    if (!this.net) throw failedPrecondition("networking is not set up in this engine");
    return this.net.containers;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.service?.close();
    this.net?.manager.close();
    this.db.close();
  }
}

/** The engine's id: a UUID, written once (temp file + rename) and kept across restarts. */
function engineId(root: string): string {
  const p = join(root, "engine-id");
  if (existsSync(p)) {
    const s = readFileSync(p, "utf8").trim();
    if (/^[0-9a-f-]{16,64}$/.test(s)) return s;
  }
  const id = crypto.randomUUID();
  const tmp = `${p}.tmp-${process.pid}`;
  writeFileSync(tmp, id + "\n", { mode: 0o644 });
  renameSync(tmp, p);
  return id;
}
