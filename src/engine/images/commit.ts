/**
 * Images made here from one new layer: `docker import` (a rootfs tar, no base)
 * and `docker commit` (a container's diff on top of its image). Both store the
 * layer blob as given (import keeps its compression), build the config, and
 * register it under a lease so gc() cannot race them.
 */
import type { ImageRecord, ImageStore } from "./store.ts";
import { applyChanges } from "./changes.ts";
import { inspectLayer } from "./layers.ts";
import { parseReference } from "./reference.ts";
import { hostPlatform } from "./platform.ts";
import { MediaType, type ContainerConfig, type ImageConfig, type Platform } from "./spec.ts";
import type { OverlaySnapshotter } from "../storage/overlay.ts";
import { invalidArgument } from "../../errors.ts";

export interface NewLayerImageOptions {
  /** reference to tag the new image with (name[:tag]) */
  ref?: string;
  /** Dockerfile instructions (CMD, ENV, ...) applied to the config */
  changes?: string[];
  /** container config fields to set before `changes` (commit: the container's config) */
  config?: Partial<ContainerConfig>;
  /** commit message / import message (history comment) */
  comment?: string;
  author?: string;
  /** history created_by */
  createdBy?: string;
  /** import: the platform to record (default: the host's) */
  platform?: Platform;
  /** commit: the container id recorded in the config */
  container?: string;
  /** clock, for tests */
  now?: Date;
}

const COMPRESSION_TYPE = { none: MediaType.OciLayer, gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd } as const;

async function createImageFromLayer(
  store: ImageStore,
  tenant: string,
  base: ImageRecord | undefined,
  layer: AsyncIterable<Uint8Array>,
  o: NewLayerImageOptions,
): Promise<ImageRecord> {
  if (o.ref !== undefined && parseReference(o.ref).digest) throw invalidArgument(`reference ${o.ref}: cannot tag with a digest reference`);
  const lease = store.lease();
  try {
    const desc = await store.blobs.putStream(layer);
    lease.add(desc.digest);
    const facts = await inspectLayer(store.blobs.path(desc.digest));
    const created = (o.now ?? new Date()).toISOString();
    const platform = o.platform ?? hostPlatform();
    const cfg: ImageConfig = base
      ? structuredClone(base.config)
      : { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}), rootfs: { type: "layers", diff_ids: [] } };
    const history = cfg.history ?? [];
    // a base without history still gets one entry per layer, so history and layers stay in step
    const nonEmpty = history.filter((h) => !h.empty_layer).length;
    for (let i = nonEmpty; i < cfg.rootfs.diff_ids.length; i++) history.push({ created: cfg.created });
    history.push({
      created,
      ...(o.author ? { author: o.author } : {}),
      created_by: o.createdBy ?? "",
      ...(o.comment !== undefined ? { comment: o.comment } : base ? {} : { comment: "Imported from -" }),
    });
    cfg.history = history;
    cfg.created = created;
    cfg.rootfs = { type: "layers", diff_ids: [...cfg.rootfs.diff_ids, facts.diffID] };
    if (o.author !== undefined) cfg.author = o.author;
    else delete cfg.author;
    if (o.comment !== undefined) cfg.comment = o.comment;
    else delete cfg.comment;
    if (o.container !== undefined) cfg.container = o.container;
    else delete cfg.container;
    delete cfg.container_config;
    cfg.config = applyChanges({ ...(cfg.config ?? {}), ...(o.config ?? {}) }, o.changes ?? []);
    const layers = [
      ...(base?.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })) ?? []),
      { mediaType: COMPRESSION_TYPE[facts.compression], digest: desc.digest, size: desc.size },
    ];
    const img = await store.register(tenant, { config: new TextEncoder().encode(JSON.stringify(cfg)), layers, parent: base?.id });
    if (o.ref) store.tag(tenant, img.id, o.ref);
    return store.get(tenant, img.id);
  } finally {
    lease.release();
  }
}

/** docker import: a rootfs tar (plain, gzip or zstd) as a one-layer image. */
export function importImage(store: ImageStore, tenant: string, tar: AsyncIterable<Uint8Array>, opts: NewLayerImageOptions = {}): Promise<ImageRecord> {
  return createImageFromLayer(store, tenant, undefined, tar, opts);
}

/**
 * docker commit: the container's writable layer on top of its image. The
 * caller pauses the container (docker's default) around this.
 */
export async function commitContainer(
  store: ImageStore,
  snapshots: OverlaySnapshotter,
  tenant: string,
  containerId: string,
  image: string,
  opts: NewLayerImageOptions = {},
): Promise<ImageRecord> {
  const base = store.resolve(tenant, image);
  return createImageFromLayer(store, tenant, base, snapshots.diff(containerId), { container: containerId, ...opts });
}
