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
import { notFound } from "../errors.ts";
import type { ContainerLookup } from "./containers/model.ts";
import { openDb } from "./db.ts";
import { EventBus } from "./events.ts";
import { ImageService } from "./image-service.ts";
import { BlobStore } from "./images/blobs.ts";
import { ImageStore } from "./images/store.ts";
import type { Logger } from "./logger.ts";
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
  registries?: RegistryHostsOptions;
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
  /** named volumes; the container service plugs in which containers use one (volumes.setUsedBy) */
  readonly volumes: VolumeStore;
  private closed = false;

  constructor(opts: EngineOptions) {
    this.dataRoot = opts.dataRoot;
    mkdirSync(this.dataRoot, { recursive: true, mode: 0o711 });
    this.registries = new RegistryHosts(opts.registries);
    this.id = engineId(this.dataRoot);
    this.db = openDb(join(this.dataRoot, "berth.db"));
    try {
      this.blobs = new BlobStore(join(this.dataRoot, "blobs"));
      this.snapshots = new OverlaySnapshotter({ root: this.dataRoot, db: this.db, blobs: this.blobs });
      const removed = this.snapshots.recover();
      if (removed.length) opts.log?.info("removed leftovers of an interrupted run", { paths: removed.length });
      const containers = opts.containers ?? NO_CONTAINERS;
      this.containers = containers;
      this.volumes = new VolumeStore({ db: this.db, dataRoot: this.dataRoot });
      this.imageStore = new ImageStore({
        db: this.db,
        blobs: this.blobs,
        snapshots: this.snapshots,
        isInUse: (id, tenant) => containers.isImageInUse(id, tenant),
      });
      this.images = new ImageService({ store: this.imageStore, events: this.events, registries: this.registries, sources: new BlobSources(), log: opts.log });
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
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
