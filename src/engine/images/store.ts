/**
 * ImageStore: the engine's images, over the BlobStore (content) and the
 * database (metadata).
 *
 * - An image is identified by its config digest ("sha256:<hex>", docker's image
 *   ID). It is registered once from a config + its layer blobs (+ the manifest it
 *   came from, if any); every layer's diffID is verified against the config
 *   before the image exists.
 * - Tenancy: a tenant sees only the images it owns (it registered, loaded,
 *   imported, committed or was given a reference to them). References
 *   ("docker.io/library/busybox:latest", "name@sha256:...") are per tenant.
 *   Content (blobs, unpacked snapshots) is shared by digest between tenants.
 * - Deleting: a tenant's `remove` drops its references and its ownership; the
 *   image row goes when no tenant owns it and no container uses it
 *   (`isInUse`). `gc()` then removes the blobs and snapshots nothing refers to.
 * - Blobs being written for an image not registered yet (a pull in progress)
 *   are protected from `gc()` by a lease (`lease()`).
 *
 * Every write is one SQLite transaction; bad input throws a BerthError and
 * changes nothing.
 */
import type { Database } from "bun:sqlite";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { BerthError, failedPrecondition, invalidArgument, notFound } from "../../errors.ts";
import { BlobStore, type Descriptor } from "./blobs.ts";
import { chainIDs, inspectLayer } from "./layers.ts";
import { labelsMatch } from "../labels.ts";
import { idPrefix, isFullId, isTagReference, matchesReferencePattern, parseReference, formatReference } from "./reference.ts";
import { isManifestType, layerCompression, MediaType, type ImageConfig, type Manifest } from "./spec.ts";

/** One layer of an image, bottom first. */
export interface LayerRecord {
  /** digest of the blob as stored (compressed or not) */
  digest: string;
  /** sha256 of the uncompressed tar (config.rootfs.diff_ids[i]) */
  diffID: string;
  /** size of the blob in bytes */
  size: number;
  /** media type of the blob (tells its compression) */
  mediaType: string;
  /** sum of the file sizes in the layer */
  unpackedSize: number;
}

/** An image as one tenant sees it. */
export interface ImageRecord {
  /** config digest, docker's image ID */
  id: string;
  /** digest of the manifest the image was registered with, if any */
  manifestDigest?: string;
  /** the image this one was built on (commit), if recorded */
  parent?: string;
  config: ImageConfig;
  layers: LayerRecord[];
  /** chainIDs of the layer stack, bottom first (the snapshot keys) */
  chainIDs: string[];
  /** sum of the unpacked layer sizes */
  size: number;
  /** config.created, or the time it was registered */
  created: string;
  /** this tenant's name:tag references, full form, sorted */
  repoTags: string[];
  /** this tenant's name@digest references, full form, sorted */
  repoDigests: string[];
}

/** What `register` needs. All blobs must already be in the BlobStore. */
export interface RegisterInput {
  /** the config: digest of a blob in the store, or its bytes (stored as a blob) */
  config: string | Uint8Array;
  /** layer blobs, bottom first; mediaType must be a layer type (tar, tar+gzip, tar+zstd) */
  layers: Descriptor[];
  /** digest of the manifest blob the image came from (kept for push and repo digests) */
  manifestDigest?: string;
  /** more blobs kept alive with the image (e.g. the index the manifest was picked from) */
  extraBlobs?: string[];
  /** image this one was built on */
  parent?: string;
}

export interface ListFilters {
  /** true: only images without references; false: only images with some */
  dangling?: boolean;
  /** docker's reference filter: shell patterns on familiar name / name:tag; any may match */
  reference?: string[];
  /** images created before this image (reference or id) */
  before?: string;
  /** images created after this image (reference or id) */
  since?: string;
  /** "key" or "key=value"; all must match */
  label?: string[];
  /** "key" or "key=value"; none may match (docker's label!=) */
  labelNot?: string[];
  /** images created before this time (RFC 3339, or unix seconds) */
  until?: string;
  /** include intermediate images (dangling images that are another image's parent) */
  all?: boolean;
}

/** One item of rmi/prune's answer (docker's ImageDeleteResponseItem, in plain form). */
export type DeleteItem = { untagged: string } | { deleted: string };

export interface HistoryItem {
  /** the image id for the top entry of each local image in the chain; undefined otherwise (docker's "<missing>") */
  id?: string;
  created?: string;
  createdBy: string;
  author?: string;
  comment: string;
  emptyLayer: boolean;
  /** unpacked size of the layer this entry made (0 for empty layers) */
  size: number;
  /** the references of `id` (this tenant's) */
  tags: string[];
}

/** The snapshotter seen from GC: what exists and what containers use. */
export interface SnapshotGc {
  /** chainIDs of all unpacked snapshots */
  snapshotChains(): string[];
  /** chainIDs containers' writable layers sit on (their whole chains are kept) */
  chainsInUse(): string[];
  /** remove one snapshot; returns bytes freed (best effort) */
  removeSnapshot(chainID: string): number;
}

export interface GcResult {
  blobs: string[];
  snapshots: string[];
  bytes: number;
}

export interface Lease {
  /** protect a blob from gc until release() */
  add(digest: string): void;
  release(): void;
}

export interface ImageStoreOptions {
  db: Database;
  blobs: BlobStore;
  /**
   * "Is this image used by a container?" With `tenant`: by one of that
   * tenant's containers (rmi/prune conflicts are per tenant, so one tenant
   * learns nothing of another's containers); without: by any container (an
   * image row is only deleted when none uses it). Default: never in use.
   */
  isInUse?: (imageId: string, tenant?: string) => boolean;
  /** lets gc() remove unreferenced snapshots */
  snapshots?: SnapshotGc;
  /** clock, for tests */
  now?: () => Date;
}

interface ImageRow {
  id: string;
  manifest_digest: string | null;
  config_json: string;
  layers_json: string;
  size: number;
  created: string;
  parent: string | null;
}

/** Canonical form of a reference for a tenant's ref table. */
function canonicalRef(ref: string): string {
  return formatReference(parseReference(ref));
}

function parseConfig(bytes: Uint8Array): ImageConfig {
  let c: ImageConfig;
  try {
    c = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw invalidArgument(`image config: not JSON: ${(e as Error).message}`);
  }
  if (!c || typeof c !== "object") throw invalidArgument("image config: not an object");
  if (typeof c.architecture !== "string" || c.architecture === "") throw invalidArgument("image config: architecture: missing");
  if (typeof c.os !== "string" || c.os === "") throw invalidArgument("image config: os: missing");
  if (!c.rootfs || c.rootfs.type !== "layers" || !Array.isArray(c.rootfs.diff_ids)) throw invalidArgument('image config: rootfs: want {type: "layers", diff_ids: [...]}');
  for (const d of c.rootfs.diff_ids) if (!isFullId(d)) throw invalidArgument(`image config: rootfs.diff_ids: bad digest "${d}"`);
  if (c.history !== undefined && !Array.isArray(c.history)) throw invalidArgument("image config: history: not an array");
  return c;
}

function timeArg(s: string, what: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw invalidArgument(`${what}: bad time "${s}"`);
  return t;
}

export class ImageStore {
  readonly db: Database;
  readonly blobs: BlobStore;
  private readonly isInUse: (imageId: string, tenant?: string) => boolean;
  private readonly snapshots?: SnapshotGc;
  private readonly now: () => Date;
  private readonly leases = new Map<number, Set<string>>();
  private nextLease = 1;

  constructor(opts: ImageStoreOptions) {
    this.db = opts.db;
    this.blobs = opts.blobs;
    this.isInUse = opts.isInUse ?? (() => false);
    this.snapshots = opts.snapshots;
    this.now = opts.now ?? (() => new Date());
  }

  // ---------------------------------------------------------------- register

  /**
   * Register an image for a tenant (idempotent; an existing image gains the
   * tenant as owner). Verifies: the config parses; the layer blobs exist with
   * the declared sizes and layer media types; each layer's diffID (hash of its
   * uncompressed tar, computed once per blob and cached) matches
   * config.rootfs.diff_ids; the manifest, if given, names this config and these
   * layers. Adds no reference: call `tag`/`setReference` after.
   */
  async register(tenant: string, input: RegisterInput): Promise<ImageRecord> {
    const configDigest = typeof input.config === "string" ? input.config : this.blobs.put(input.config);
    if (!this.blobs.has(configDigest)) throw notFound(`register image: config blob ${configDigest} not found`);
    const config = parseConfig(this.blobs.read(configDigest));
    const diffIDs = config.rootfs.diff_ids;
    if (input.layers.length !== diffIDs.length)
      throw invalidArgument(`register image: ${input.layers.length} layers but config.rootfs.diff_ids has ${diffIDs.length}`);
    const layers: LayerRecord[] = [];
    for (let i = 0; i < input.layers.length; i++) {
      layers.push(await this.verifyLayer(input.layers[i]!, diffIDs[i]!, i));
    }
    if (input.manifestDigest) this.checkManifest(input.manifestDigest, configDigest, layers);
    for (const d of input.extraBlobs ?? []) if (!this.blobs.has(d)) throw notFound(`register image: blob ${d} not found`);
    if (input.parent && !this.ownedRow(tenant, input.parent)) throw notFound(`register image: parent ${input.parent} not found`);
    const created = typeof config.created === "string" && !Number.isNaN(Date.parse(config.created)) ? config.created : this.now().toISOString();
    const size = layers.reduce((a, l) => a + l.unpackedSize, 0);
    this.db.transaction(() => {
      const existing = this.row(configDigest);
      if (!existing) {
        this.db
          .query("INSERT INTO images (id, manifest_digest, config_json, layers_json, size, created, parent) VALUES (?, ?, ?, ?, ?, ?, ?)")
          .run(configDigest, input.manifestDigest ?? null, JSON.stringify(config), JSON.stringify(layers), size, created, input.parent ?? null);
      } else if (!existing.manifest_digest && input.manifestDigest) {
        this.db.query("UPDATE images SET manifest_digest = ? WHERE id = ?").run(input.manifestDigest, configDigest);
      }
      for (const d of input.extraBlobs ?? []) this.db.query("INSERT OR IGNORE INTO image_blobs (image_id, digest) VALUES (?, ?)").run(configDigest, d);
      if (input.manifestDigest) this.db.query("INSERT OR IGNORE INTO image_blobs (image_id, digest) VALUES (?, ?)").run(configDigest, input.manifestDigest);
      this.own(tenant, configDigest);
    })();
    return this.get(tenant, configDigest);
  }

  private async verifyLayer(d: Descriptor, diffID: string, i: number): Promise<LayerRecord> {
    const what = `register image: layer ${i}`;
    if (!d || typeof d.digest !== "string") throw invalidArgument(`${what}: missing digest`);
    if (!isFullId(d.digest)) throw invalidArgument(`${what}: bad digest "${d.digest}"`);
    if (layerCompression(d.mediaType) === undefined) throw invalidArgument(`${what}: mediaType "${d.mediaType}" is not a layer type`);
    if (!this.blobs.has(d.digest)) throw notFound(`${what}: blob ${d.digest} not found`);
    const size = this.blobs.size(d.digest);
    if (d.size !== undefined && d.size !== size) throw invalidArgument(`${what}: size ${d.size} but blob ${d.digest} has ${size} bytes`);
    let known = this.db
      .query<{ diff_id: string; unpacked_size: number }, [string]>("SELECT diff_id, unpacked_size FROM layers WHERE digest = ?")
      .get(d.digest);
    if (!known) {
      const facts = await inspectLayer(this.blobs.path(d.digest)).catch((e) => {
        throw e instanceof BerthError ? e.wrap(what) : e;
      });
      this.db
        .query("INSERT OR REPLACE INTO layers (digest, diff_id, compression, unpacked_size) VALUES (?, ?, ?, ?)")
        .run(d.digest, facts.diffID, facts.compression, facts.unpackedSize);
      known = { diff_id: facts.diffID, unpacked_size: facts.unpackedSize };
    }
    if (known.diff_id !== diffID) throw invalidArgument(`${what}: blob ${d.digest} has diffID ${known.diff_id}, config says ${diffID}`);
    return { digest: d.digest, diffID, size, mediaType: d.mediaType, unpackedSize: known.unpacked_size };
  }

  private checkManifest(digest: string, configDigest: string, layers: LayerRecord[]) {
    if (!this.blobs.has(digest)) throw notFound(`register image: manifest blob ${digest} not found`);
    let m: Manifest;
    try {
      m = this.blobs.readJSON<Manifest>(digest);
    } catch {
      throw invalidArgument(`register image: manifest ${digest}: not JSON`);
    }
    if (m.mediaType !== undefined && !isManifestType(m.mediaType)) throw invalidArgument(`register image: manifest ${digest}: mediaType "${m.mediaType}" is not an image manifest`);
    if (m.config?.digest !== configDigest) throw invalidArgument(`register image: manifest ${digest} names config ${m.config?.digest}, not ${configDigest}`);
    const ml = (m.layers ?? []).map((l) => l.digest);
    if (ml.length !== layers.length || ml.some((x, i) => x !== layers[i]!.digest))
      throw invalidArgument(`register image: manifest ${digest}: layers differ from the ones given`);
  }

  // ---------------------------------------------------------------- references

  /**
   * Point a tenant's reference (name:tag or name@digest, any docker spelling)
   * at an image the tenant owns (`target`: id or id prefix or reference). Moves
   * the reference if it pointed elsewhere. Returns the canonical reference.
   */
  setReference(tenant: string, ref: string, target: string): string {
    const img = this.resolveRow(tenant, target);
    const canon = canonicalRef(ref);
    const r = parseReference(ref);
    if (r.digest && r.digest !== img.manifest_digest) {
      // a digest reference names the image's manifest, or the index it was picked from (kept with the image)
      const kept = this.db.query("SELECT 1 FROM image_blobs WHERE image_id = ? AND digest = ?").get(img.id, r.digest);
      if (!kept) throw invalidArgument(`reference ${canon}: image ${img.id} was not registered with that digest`);
    }
    this.db.transaction(() => {
      this.db.query("INSERT OR REPLACE INTO image_refs (owner, ref, image_id) VALUES (?, ?, ?)").run(tenant, canon, img.id);
      this.own(tenant, img.id);
    })();
    return canon;
  }

  /** docker tag: `target` must be a name[:tag] (no digest). Returns the canonical reference. */
  tag(tenant: string, source: string, target: string): string {
    const r = parseReference(target);
    if (r.digest) throw invalidArgument(`tag ${target}: refusing to create a tag with a digest reference`);
    return this.setReference(tenant, target, source);
  }

  /** Remove one reference of a tenant (the image stays, dangling if it was the last). Returns the canonical reference. */
  untag(tenant: string, ref: string): string {
    const canon = canonicalRef(ref);
    const res = this.db.query("DELETE FROM image_refs WHERE owner = ? AND ref = ?").run(tenant, canon);
    if (res.changes === 0) throw notFound(`no such image: ${ref}`);
    return canon;
  }

  // ---------------------------------------------------------------- lookups

  /**
   * Find an image for a tenant as docker does: a full id ("sha256:<hex>"), a
   * reference (name, name:tag, name@digest; normalized), or an id prefix (hex,
   * with or without "sha256:"; must be unambiguous). NotFound otherwise.
   */
  resolve(tenant: string, refOrId: string): ImageRecord {
    return this.toRecord(tenant, this.resolveRow(tenant, refOrId));
  }

  /** `resolve`, or undefined when there is no such image (bad syntax still throws). */
  tryResolve(tenant: string, refOrId: string): ImageRecord | undefined {
    try {
      return this.resolve(tenant, refOrId);
    } catch (e) {
      if (e instanceof BerthError && e.code === "NotFound") return undefined;
      throw e;
    }
  }

  /** An image by full id, if the tenant owns it. */
  get(tenant: string, id: string): ImageRecord {
    const row = this.ownedRow(tenant, id);
    if (!row) throw notFound(`no such image: ${id}`);
    return this.toRecord(tenant, row);
  }

  /** Same as resolve: the plain record the API's inspect will shape. */
  inspect(tenant: string, refOrId: string): ImageRecord {
    return this.resolve(tenant, refOrId);
  }

  /** The tenant's images, newest first, filtered as `docker images` does. */
  list(tenant: string, f: ListFilters = {}): ImageRecord[] {
    const rows = this.db
      .query<ImageRow, [string]>("SELECT images.* FROM images JOIN image_owners o ON o.image_id = images.id WHERE o.owner = ? ORDER BY images.created DESC, images.id")
      .all(tenant);
    const before = f.before ? Date.parse(this.resolveRow(tenant, f.before).created) : undefined;
    const since = f.since ? Date.parse(this.resolveRow(tenant, f.since).created) : undefined;
    const until = f.until ? timeArg(f.until, "until filter") : undefined;
    const parents = new Set(
      this.db
        .query<{ parent: string }, [string]>("SELECT DISTINCT parent FROM images JOIN image_owners o ON o.image_id = images.id WHERE parent IS NOT NULL AND o.owner = ?")
        .all(tenant)
        .map((r) => r.parent),
    );
    const out: ImageRecord[] = [];
    for (const row of rows) {
      const rec = this.toRecord(tenant, row);
      const dangling = rec.repoTags.length === 0 && rec.repoDigests.length === 0;
      if (f.dangling === true && !dangling) continue;
      if (f.dangling === false && dangling) continue;
      if (!f.all && dangling && f.dangling !== true && parents.has(rec.id)) continue;
      const t = Date.parse(rec.created);
      if (before !== undefined && !(t < before)) continue;
      if (since !== undefined && !(t > since)) continue;
      if (until !== undefined && !(t < until)) continue;
      const labels = rec.config.config?.Labels ?? {};
      if (f.label?.length && !labelsMatch(labels, f.label)) continue;
      if (f.labelNot?.length && f.labelNot.some((l) => labelsMatch(labels, [l]))) continue;
      if (f.reference?.length) {
        const refs = [...rec.repoTags, ...rec.repoDigests];
        if (!f.reference.some((p) => refs.some((r) => matchesReferencePattern(p, r)))) continue;
      }
      out.push(rec);
    }
    return out;
  }

  /** docker history: the config's history, newest first, with layer sizes. */
  history(tenant: string, refOrId: string): HistoryItem[] {
    const img = this.resolve(tenant, refOrId);
    const hist = img.config.history ?? [];
    const items: HistoryItem[] = [];
    let layer = 0;
    for (const h of hist) {
      const empty = h.empty_layer === true;
      const size = empty ? 0 : (img.layers[layer++]?.unpackedSize ?? 0);
      items.push({ created: h.created, createdBy: h.created_by ?? "", author: h.author, comment: h.comment ?? "", emptyLayer: empty, size, tags: [] });
    }
    // layers without history entries (hand-made images): one item each
    for (; layer < img.layers.length; layer++) items.push({ createdBy: "", comment: "", emptyLayer: false, size: img.layers[layer]!.unpackedSize, tags: [] });
    items.reverse();
    // the top item is this image; walk recorded parents for the items below
    let cur: ImageRecord | undefined = img;
    let idx = 0;
    while (cur && items[idx]) {
      items[idx]!.id = cur.id;
      items[idx]!.tags = cur.repoTags;
      const parentId: string | undefined = cur.parent;
      const parent: ImageRecord | undefined = parentId ? this.tryGet(tenant, parentId) : undefined;
      if (!parent) break;
      idx = items.length - (parent.config.history?.length ?? parent.layers.length);
      cur = parent;
    }
    return items;
  }

  // ---------------------------------------------------------------- delete

  /**
   * docker rmi for one argument. By reference: untag it (and, when it was the
   * repository's last tag, the same repository's digest references); the image
   * is deleted for the tenant when no reference of the tenant is left. By id:
   * all the tenant's references go (more than one repository needs `force`),
   * then the image. An image in use by a container is never deleted: without
   * `force` that is a FailedPrecondition conflict (nothing changes); with
   * `force` its references go and it stays, dangling. An image that is the
   * parent of another is kept (untagged only). Returns what happened, in order.
   */
  remove(tenant: string, refOrId: string, opts: { force?: boolean } = {}): DeleteItem[] {
    const row = this.resolveRow(tenant, refOrId);
    const items: DeleteItem[] = [];
    const refs = this.refsOf(tenant, row.id);
    const byRef = !this.looksLikeId(tenant, refOrId, row.id);
    const inUse = this.isInUse(row.id, tenant);
    this.db.transaction(() => {
      if (byRef) {
        const canon = canonicalRef(refOrId);
        // (a name@digest found through the image's manifest digest is not a reference that can be removed)
        if (!refs.includes(canon)) throw notFound(`no such image reference: ${refOrId}: remove the image by id`);
        const remaining = refs.filter((r) => r !== canon);
        if (remaining.length === 0 && inUse && !opts.force)
          throw failedPrecondition(`conflict: unable to remove repository reference "${refOrId}" (must force) - container is using its referenced image ${short(row.id)}`);
        this.dropRef(tenant, canon, items);
        if (isTagReference(canon)) {
          const name = parseReference(canon).name;
          const tagsLeft = remaining.filter((r) => isTagReference(r) && parseReference(r).name === name);
          if (tagsLeft.length === 0) for (const r of remaining) if (!isTagReference(r) && parseReference(r).name === name) this.dropRef(tenant, r, items);
        }
        if (this.refsOf(tenant, row.id).length > 0) return;
        if (inUse) return; // forced: untagged, kept dangling for the container
      } else {
        const repos = new Set(refs.map((r) => parseReference(r).name));
        if (repos.size > 1 && !opts.force)
          throw failedPrecondition(`conflict: unable to delete ${short(row.id)} (must be forced) - image is referenced in multiple repositories`);
        if (inUse && !opts.force) throw failedPrecondition(`conflict: unable to delete ${short(row.id)} (must be forced) - image is being used by a container`);
        if (this.hasChildren(row.id, tenant))
          throw failedPrecondition(`conflict: unable to delete ${short(row.id)} (cannot be forced) - image has dependent child images`);
        for (const r of refs) this.dropRef(tenant, r, items);
        if (inUse) return;
      }
      if (this.hasChildren(row.id, tenant)) return;
      this.disown(tenant, row.id, items);
    })();
    return items;
  }

  /**
   * docker image prune: the tenant's dangling images (with `all`, every image
   * no container uses), filtered by until/label. Runs gc() afterwards.
   */
  prune(tenant: string, opts: { all?: boolean; until?: string; label?: string[]; labelNot?: string[] } = {}): { deleted: DeleteItem[]; spaceReclaimed: number; gc: GcResult } {
    const deleted: DeleteItem[] = [];
    const until = opts.until ? timeArg(opts.until, "until filter") : undefined;
    const before = this.totalSize();
    // leaves first: repeat while something was removed (a parent becomes a leaf)
    for (let progress = true; progress; ) {
      progress = false;
      for (const rec of this.list(tenant, { all: true })) {
        const dangling = rec.repoTags.length === 0 && rec.repoDigests.length === 0;
        if (!opts.all && !dangling) continue;
        if (this.isInUse(rec.id, tenant) || this.hasChildren(rec.id, tenant)) continue;
        if (until !== undefined && !(Date.parse(rec.created) < until)) continue;
        const labels = rec.config.config?.Labels ?? {};
        if (opts.label?.length && !labelsMatch(labels, opts.label)) continue;
        if (opts.labelNot?.length && opts.labelNot.some((l) => labelsMatch(labels, [l]))) continue;
        this.db.transaction(() => {
          for (const r of this.refsOf(tenant, rec.id)) this.dropRef(tenant, r, deleted);
          this.disown(tenant, rec.id, deleted);
        })();
        progress = true;
      }
    }
    const gc = this.gc();
    return { deleted, spaceReclaimed: Math.max(0, before - this.totalSize()) + gc.bytes, gc };
  }

  // ---------------------------------------------------------------- gc

  /** Protect blobs from gc while an image is being assembled (pull, load). */
  lease(): Lease {
    const id = this.nextLease++;
    const set = new Set<string>();
    this.leases.set(id, set);
    return {
      add: (d) => void set.add(d),
      release: () => void this.leases.delete(id),
    };
  }

  /** The blobs images refer to (configs, layers, manifests, kept extras). */
  referencedBlobs(): Set<string> {
    const keep = new Set<string>();
    for (const r of this.db.query<{ id: string; manifest_digest: string | null; layers_json: string }, []>("SELECT id, manifest_digest, layers_json FROM images").all()) {
      keep.add(r.id);
      if (r.manifest_digest) keep.add(r.manifest_digest);
      for (const l of JSON.parse(r.layers_json) as LayerRecord[]) keep.add(l.digest);
    }
    for (const r of this.db.query<{ digest: string }, []>("SELECT digest FROM image_blobs").all()) keep.add(r.digest);
    for (const s of this.leases.values()) for (const d of s) keep.add(d);
    return keep;
  }

  /** The chainIDs images refer to. */
  referencedChains(): Set<string> {
    const keep = new Set<string>();
    for (const r of this.db.query<{ config_json: string }, []>("SELECT config_json FROM images").all()) {
      for (const c of chainIDs((JSON.parse(r.config_json) as ImageConfig).rootfs.diff_ids)) keep.add(c);
    }
    return keep;
  }

  /**
   * Remove every blob no image (or lease) refers to, and every snapshot no
   * image or container chain refers to. Safe to run any time.
   */
  gc(): GcResult {
    const res: GcResult = { blobs: [], snapshots: [], bytes: 0 };
    this.sweepImages();
    const keep = this.referencedBlobs();
    let names: string[] = [];
    try {
      names = readdirSync(join(this.blobs.root, "sha256"));
    } catch {}
    for (const hex of names) {
      const d = "sha256:" + hex;
      if (!/^[0-9a-f]{64}$/.test(hex) || keep.has(d)) continue;
      try {
        res.bytes += this.blobs.size(d);
      } catch {}
      this.blobs.delete(d);
      this.db.query("DELETE FROM layers WHERE digest = ?").run(d);
      res.blobs.push(d);
    }
    if (this.snapshots) {
      const chains = this.referencedChains();
      for (const c of this.snapshots.chainsInUse()) chains.add(c);
      for (const c of this.snapshots.snapshotChains()) {
        if (chains.has(c)) continue;
        res.bytes += this.snapshots.removeSnapshot(c);
        res.snapshots.push(c);
      }
    }
    return res;
  }

  // ---------------------------------------------------------------- push support

  /**
   * The manifest to push for an image: the one it was registered with, else an
   * OCI manifest built from its config and layers (stored as a blob and kept
   * with the image, so its digest is stable).
   */
  manifest(tenant: string, refOrId: string): { digest: string; mediaType: string; bytes: Uint8Array } {
    const img = this.resolve(tenant, refOrId);
    if (img.manifestDigest && this.blobs.has(img.manifestDigest)) {
      const bytes = this.blobs.read(img.manifestDigest);
      const m = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
      return { digest: img.manifestDigest, mediaType: m.mediaType ?? MediaType.OciManifest, bytes };
    }
    const m: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: img.id, size: this.blobs.size(img.id) },
      layers: img.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const bytes = new TextEncoder().encode(JSON.stringify(m));
    const digest = this.blobs.put(bytes);
    this.db.transaction(() => {
      this.db.query("UPDATE images SET manifest_digest = ? WHERE id = ? AND manifest_digest IS NULL").run(digest, img.id);
      this.db.query("INSERT OR IGNORE INTO image_blobs (image_id, digest) VALUES (?, ?)").run(img.id, digest);
    })();
    return { digest, mediaType: MediaType.OciManifest, bytes };
  }

  // ---------------------------------------------------------------- internals

  private row(id: string): ImageRow | undefined {
    return this.db.query<ImageRow, [string]>("SELECT * FROM images WHERE id = ?").get(id) ?? undefined;
  }

  private ownedRow(tenant: string, id: string): ImageRow | undefined {
    return (
      this.db
        .query<ImageRow, [string, string]>("SELECT images.* FROM images JOIN image_owners o ON o.image_id = images.id WHERE o.owner = ? AND images.id = ?")
        .get(tenant, id) ?? undefined
    );
  }

  private tryGet(tenant: string, id: string): ImageRecord | undefined {
    const row = this.ownedRow(tenant, id);
    return row ? this.toRecord(tenant, row) : undefined;
  }

  private resolveRow(tenant: string, s: string): ImageRow {
    if (typeof s !== "string" || s === "") throw invalidArgument("image reference: empty");
    if (isFullId(s)) {
      const row = this.ownedRow(tenant, s);
      if (row) return row;
      throw notFound(`no such image: ${s}`);
    }
    let refErr: BerthError | undefined;
    try {
      const r = parseReference(s);
      const canon = formatReference(r);
      const hit = this.db
        .query<{ image_id: string }, [string, string]>("SELECT image_id FROM image_refs WHERE owner = ? AND ref = ?")
        .get(tenant, canon);
      if (hit) return this.row(hit.image_id)!;
      if (r.digest) {
        // name@digest where digest is the image's manifest (or a kept index) and the tenant has the name
        const rows = this.db
          .query<ImageRow, [string, string, string]>(
            `SELECT DISTINCT images.* FROM images JOIN image_owners o ON o.image_id = images.id
             LEFT JOIN image_blobs b ON b.image_id = images.id
             WHERE o.owner = ?1 AND (images.manifest_digest = ?2 OR b.digest = ?2) AND EXISTS
               (SELECT 1 FROM image_refs r WHERE r.owner = o.owner AND r.image_id = images.id AND substr(r.ref, 1, length(?3)) = ?3)`,
          )
          .all(tenant, r.digest, `${r.name}:`);
        if (rows.length === 1) return rows[0]!;
      }
    } catch (e) {
      if (!(e instanceof BerthError) || e.code !== "InvalidArgument") throw e;
      refErr = e;
    }
    const hex = idPrefix(s);
    if (hex !== undefined) {
      const rows = this.db
        .query<ImageRow, [string, string]>("SELECT images.* FROM images JOIN image_owners o ON o.image_id = images.id WHERE o.owner = ?1 AND substr(images.id, 8, length(?2)) = ?2 LIMIT 2")
        .all(tenant, hex);
      if (rows.length === 1) return rows[0]!;
      if (rows.length > 1) throw invalidArgument(`image id prefix "${s}" is ambiguous`);
    }
    if (refErr && hex === undefined) throw refErr;
    throw notFound(`no such image: ${s}`);
  }

  /** Did the caller name the image by id (full or prefix) rather than by reference? */
  private looksLikeId(tenant: string, s: string, id: string): boolean {
    if (isFullId(s)) return true;
    try {
      const canon = canonicalRef(s);
      if (this.db.query("SELECT 1 FROM image_refs WHERE owner = ? AND ref = ?").get(tenant, canon)) return false;
      if (parseReference(s).digest) return false;
    } catch {}
    const hex = idPrefix(s);
    return hex !== undefined && id.slice(7).startsWith(hex);
  }

  private refsOf(tenant: string, id: string): string[] {
    return this.db
      .query<{ ref: string }, [string, string]>("SELECT ref FROM image_refs WHERE owner = ? AND image_id = ? ORDER BY ref")
      .all(tenant, id)
      .map((r) => r.ref);
  }

  /** Has the image children (images committed on it)? With `tenant`: children that tenant owns. */
  private hasChildren(id: string, tenant?: string): boolean {
    if (tenant === undefined) return !!this.db.query("SELECT 1 FROM images WHERE parent = ? LIMIT 1").get(id);
    return !!this.db
      .query("SELECT 1 FROM images JOIN image_owners o ON o.image_id = images.id WHERE images.parent = ? AND o.owner = ? LIMIT 1")
      .get(id, tenant);
  }

  private own(tenant: string, id: string) {
    this.db.query("INSERT OR IGNORE INTO image_owners (owner, image_id, added) VALUES (?, ?, ?)").run(tenant, id, this.now().toISOString());
  }

  private dropRef(tenant: string, ref: string, items: DeleteItem[]) {
    this.db.query("DELETE FROM image_refs WHERE owner = ? AND ref = ?").run(tenant, ref);
    items.push({ untagged: ref });
  }

  /**
   * Delete image rows nobody owns, references, uses or builds on (left when a
   * parent outlived its last owner because another tenant's child needed it).
   */
  private sweepImages() {
    for (let progress = true; progress; ) {
      progress = false;
      const orphans = this.db
        .query<{ id: string }, []>(
          `SELECT id FROM images WHERE NOT EXISTS (SELECT 1 FROM image_owners o WHERE o.image_id = images.id)
             AND NOT EXISTS (SELECT 1 FROM image_refs r WHERE r.image_id = images.id)
             AND NOT EXISTS (SELECT 1 FROM images c WHERE c.parent = images.id)`,
        )
        .all();
      for (const { id } of orphans) {
        if (this.isInUse(id)) continue;
        this.db.transaction(() => {
          this.db.query("DELETE FROM image_blobs WHERE image_id = ?").run(id);
          this.db.query("DELETE FROM images WHERE id = ?").run(id);
        })();
        progress = true;
      }
    }
  }

  /** The tenant gives the image up; the row goes when nobody owns it and nothing uses it. */
  private disown(tenant: string, id: string, items: DeleteItem[]) {
    this.db.query("DELETE FROM image_owners WHERE owner = ? AND image_id = ?").run(tenant, id);
    items.push({ deleted: id });
    const owners = this.db.query("SELECT 1 FROM image_owners WHERE image_id = ? LIMIT 1").get(id);
    const refs = this.db.query("SELECT 1 FROM image_refs WHERE image_id = ? LIMIT 1").get(id);
    if (!owners && !refs && !this.isInUse(id) && !this.hasChildren(id)) {
      this.db.query("DELETE FROM image_blobs WHERE image_id = ?").run(id);
      this.db.query("UPDATE images SET parent = NULL WHERE parent = ?").run(id);
      this.db.query("DELETE FROM images WHERE id = ?").run(id);
    }
  }

  private totalSize(): number {
    return this.db.query<{ s: number | null }, []>("SELECT SUM(size) AS s FROM images").get()?.s ?? 0;
  }

  private toRecord(tenant: string, row: ImageRow): ImageRecord {
    const config = JSON.parse(row.config_json) as ImageConfig;
    const refs = this.refsOf(tenant, row.id);
    return {
      id: row.id,
      manifestDigest: row.manifest_digest ?? undefined,
      parent: row.parent ?? undefined,
      config,
      layers: JSON.parse(row.layers_json) as LayerRecord[],
      chainIDs: chainIDs(config.rootfs.diff_ids),
      size: row.size,
      created: row.created,
      repoTags: refs.filter(isTagReference),
      repoDigests: refs.filter((r) => !isTagReference(r)),
    };
  }
}

/** docker's 12-hex short id */
export function short(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

