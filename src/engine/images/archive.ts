/**
 * Image archives: `docker load` / `docker save`, `docker import` / `docker export`.
 *
 * load reads, from one tar stream (plain, or the caller decompresses):
 *  - docker-archive, legacy (docker < 25): manifest.json + <config>.json + <dir>/layer.tar
 *    (layer.tar may be a symlink to another layer's: docker dedups that way);
 *  - docker-archive, OCI-in-docker (docker >= 25): manifest.json pointing into blobs/sha256/,
 *    next to index.json and oci-layout;
 *  - an OCI image layout (index.json + oci-layout + blobs/), also from a directory.
 * Every file goes straight into the BlobStore as it streams (OCI blobs verified
 * against their names); only the small JSON files are held in memory.
 *
 * save writes the OCI-in-docker layout docker >= 25 writes (`format: "docker"`):
 * a valid OCI layout that also has manifest.json, so every `docker load` (20.10 and
 * later) and every OCI tool reads it. Its layers are uncompressed tars (as in any
 * docker-archive). `format: "oci"` writes a plain OCI layout keeping the images'
 * own manifests and layer blobs (digests preserved), as a tar or a directory.
 */
import { mkdirSync, createReadStream, existsSync, readFileSync, statSync, writeFileSync, renameSync, lstatSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { BerthError, invalidArgument, notFound } from "../../errors.ts";
import { sha256, type Descriptor } from "./blobs.ts";
import { decompressedStream, maybeDecompress, sniffFile } from "./layers.ts";
import { familiarString, formatReference, parseReference } from "./reference.ts";
import { selectManifest } from "./platform.ts";
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, isIndexType, isManifestType, MediaType, type Index, type Manifest, type Platform } from "./spec.ts";
import type { ImageRecord, ImageStore, Lease } from "./store.ts";
import { cleanName, OverlayToLayer, rewrite } from "../storage/whiteouts.ts";
import { encodeHeader, END_OF_ARCHIVE, padding, TarReader, type TarEvent } from "../storage/tar.ts";
import { createTar } from "../storage/gnutar.ts";
import type { OverlaySnapshotter } from "../storage/overlay.ts";

export { importImage, commitContainer, type NewLayerImageOptions } from "./commit.ts";

/** Small metadata files kept in memory while loading (larger ones go to the BlobStore). */
const MEMORY_MAX = 8 << 20;
const BLOB_PATH = /^blobs\/sha256\/([0-9a-f]{64})$/;

export interface LoadOptions {
  /** platform to pick from a multi-platform index (default: the host's) */
  platform?: Platform;
  /** repository for OCI layouts whose ref.name annotation is only a tag */
  name?: string;
}

export interface LoadResult {
  /** loaded images, in archive order */
  images: ImageRecord[];
  /** references set, canonical form */
  refs: string[];
}

/** A file of the archive: its bytes (small metadata), its blob, or (directory layouts) its path. */
interface Entry {
  bytes?: Uint8Array;
  digest?: string;
  path?: string;
}

/** The files of an archive: in memory, in the BlobStore, or symlinks between them. */
class ArchiveFiles {
  readonly files = new Map<string, Entry>();
  readonly links = new Map<string, string>();
  constructor(
    private readonly store: ImageStore,
    private readonly lease: Lease,
    private readonly dir?: string,
  ) {}

  private lookup(path: string): Entry | undefined {
    let p = path;
    for (let hops = 0; hops < 16; hops++) {
      const e = this.files.get(p);
      if (e) return e;
      const l = this.links.get(p);
      if (l === undefined) break;
      p = l;
    }
    if (this.dir) return this.fromDir(p);
    return undefined;
  }

  /** From a directory layout: read a file, confined to the directory. */
  private fromDir(p: string): Entry | undefined {
    const full = join(this.dir!, p);
    if (!existsSync(full)) return undefined;
    const real = realpathSync(full);
    const root = realpathSync(this.dir!);
    if (real !== root && !real.startsWith(root + "/")) throw invalidArgument(`archive: ${p} points outside the layout`);
    if (!lstatSync(real).isFile()) throw invalidArgument(`archive: ${p} is not a regular file`);
    const m = BLOB_PATH.exec(p);
    const size = statSync(real).size;
    if (!m && size <= MEMORY_MAX) {
      const e = { bytes: readFileSync(real) };
      this.files.set(p, e);
      return e;
    }
    return { path: real };
  }

  has(path: string): boolean {
    return this.lookup(path) !== undefined;
  }

  bytes(path: string, what: string): Uint8Array {
    const e = this.lookup(path);
    if (!e) throw invalidArgument(`archive: ${what}: ${path} not found in the archive`);
    if (e.bytes) return e.bytes;
    if (e.digest) return this.store.blobs.read(e.digest);
    return readFileSync(e.path!);
  }

  json<T>(path: string, what: string): T {
    try {
      return JSON.parse(new TextDecoder().decode(this.bytes(path, what))) as T;
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw invalidArgument(`archive: ${what}: ${path}: not JSON`);
    }
  }

  /** The file as a blob in the BlobStore (stored now if it is in memory or in a directory). */
  async blob(path: string, what: string, expected?: string): Promise<string> {
    const e = this.lookup(path);
    if (!e) throw invalidArgument(`archive: ${what}: ${path} not found in the archive`);
    let digest = e.digest;
    if (!digest && e.bytes) digest = this.store.blobs.put(e.bytes, expected);
    if (!digest) {
      const d = await this.store.blobs.putStream(createReadStream(e.path!) as AsyncIterable<Uint8Array>, expected ? { digest: expected } : undefined);
      digest = d.digest;
    }
    if (expected && digest !== expected) throw invalidArgument(`archive: ${what}: ${path} hashes to ${digest}, expected ${expected}`);
    this.lease.add(digest);
    return digest;
  }

  /** An OCI blob by digest. */
  async ociBlob(digest: string, what: string): Promise<string> {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw invalidArgument(`archive: ${what}: bad digest "${digest}"`);
    return this.blob(`blobs/sha256/${digest.slice(7)}`, what, digest);
  }
}

function isMetaName(name: string): boolean {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return name.endsWith(".json") || base === "json" || base === "VERSION" || base === "oci-layout" || base === "repositories";
}

async function readTar(files: ArchiveFiles, store: ImageStore, lease: Lease, src: AsyncIterable<Uint8Array>): Promise<void> {
  const reader = new TarReader();
  async function* events(): AsyncGenerator<TarEvent> {
    for await (const c of src) yield* reader.push(c);
    try {
      reader.end();
    } catch (e) {
      throw invalidArgument(`archive: ${(e as Error).message}`);
    }
  }
  const it = events()[Symbol.asyncIterator]();
  const next = async () => {
    try {
      return await it.next();
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw invalidArgument(`archive: not a tar archive: ${(e as Error).message}`);
    }
  };
  async function* data(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const n = await next();
      if (n.done || n.value.kind === "entryEnd") return;
      if (n.value.kind === "data") yield n.value.data;
    }
  }
  for (;;) {
    const n = await next();
    if (n.done) break;
    const ev = n.value;
    if (ev.kind !== "entry") continue;
    const h = ev.header;
    const name = cleanName(h.name);
    if (name === undefined) throw invalidArgument(`archive: entry "${h.name}": path climbs out of the archive`);
    if (h.type === "symlink" || h.type === "hardlink") {
      const target = cleanName(h.type === "symlink" ? join(dirname(name), h.linkname) : h.linkname);
      if (target !== undefined && !h.linkname.startsWith("/")) files.links.set(name, target);
      continue;
    }
    if (h.type !== "file") continue;
    const m = BLOB_PATH.exec(name);
    if (!m && isMetaName(name) && h.size <= MEMORY_MAX) {
      const parts: Uint8Array[] = [];
      for await (const c of data()) parts.push(c.slice());
      files.files.set(name, { bytes: Buffer.concat(parts) });
      continue;
    }
    const expected = m ? { digest: `sha256:${m[1]}`, size: h.size } : { size: h.size };
    const d = await store.blobs.putStream(data(), expected).catch((e) => {
      throw e instanceof BerthError ? e.wrap(`archive: ${name}`) : e;
    });
    lease.add(d.digest);
    files.files.set(name, { digest: d.digest });
  }
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
  LayerSources?: Record<string, Descriptor>;
}

const DOCKER_LAYER_TYPE = { none: MediaType.DockerLayer, gzip: MediaType.DockerLayerGzip, zstd: MediaType.DockerLayerZstd } as const;

async function loadFiles(store: ImageStore, tenant: string, files: ArchiveFiles, opts: LoadOptions): Promise<LoadResult> {
  const res: LoadResult = { images: [], refs: [] };
  const setRefs = (img: ImageRecord, refs: string[]) => {
    for (const r of refs) res.refs.push(store.setReference(tenant, r, img.id));
  };
  if (files.has("manifest.json")) {
    const entries = files.json<DockerManifestEntry[]>("manifest.json", "manifest.json");
    if (!Array.isArray(entries)) throw invalidArgument("archive: manifest.json: not an array");
    // OCI-in-docker: the index's manifests, to keep each image's manifest digest
    const ociManifests = new Map<string, string>();
    if (files.has("index.json")) {
      const idx = files.json<Index>("index.json", "index.json");
      for (const d of idx.manifests ?? []) {
        if (!isManifestType(d.mediaType) || !files.has(`blobs/sha256/${d.digest.slice(7)}`)) continue;
        const m = files.json<Manifest>(`blobs/sha256/${d.digest.slice(7)}`, "index.json manifest");
        if (m.config?.digest) ociManifests.set(m.config.digest + " " + (m.layers ?? []).map((l) => l.digest).join(","), d.digest);
      }
    }
    for (const [i, e] of entries.entries()) {
      const what = `manifest.json[${i}]`;
      if (!e || typeof e.Config !== "string" || !Array.isArray(e.Layers)) throw invalidArgument(`archive: ${what}: want {Config, Layers, RepoTags}`);
      const config = await files.blob(e.Config, `${what}.Config`);
      const layers: Descriptor[] = [];
      for (const [j, p] of e.Layers.entries()) {
        if (typeof p !== "string") throw invalidArgument(`archive: ${what}.Layers[${j}]: not a path`);
        const d = await files.blob(p, `${what}.Layers[${j}]`);
        layers.push({ mediaType: DOCKER_LAYER_TYPE[sniffFile(store.blobs.path(d))], digest: d, size: store.blobs.size(d) });
      }
      let manifestDigest = ociManifests.get(config + " " + layers.map((l) => l.digest).join(","));
      if (manifestDigest) manifestDigest = await files.ociBlob(manifestDigest, `${what} manifest`);
      const tags = (e.RepoTags ?? []).map((t) => {
        const r = parseReference(t);
        if (r.digest) throw invalidArgument(`archive: ${what}.RepoTags: "${t}" is not a tag`);
        return formatReference(r);
      });
      const img = await store.register(tenant, { config, layers, manifestDigest });
      setRefs(img, tags);
      res.images.push(store.get(tenant, img.id));
    }
    return res;
  }
  if (!files.has("index.json")) throw invalidArgument("archive: neither manifest.json (docker-archive) nor index.json (OCI layout) found");
  if (files.has("oci-layout")) {
    const l = files.json<{ imageLayoutVersion?: string }>("oci-layout", "oci-layout");
    if (typeof l.imageLayoutVersion !== "string" || !l.imageLayoutVersion.startsWith("1.")) throw invalidArgument(`archive: oci-layout: unsupported imageLayoutVersion "${l.imageLayoutVersion}"`);
  }
  const index = files.json<Index>("index.json", "index.json");
  if (!Array.isArray(index.manifests)) throw invalidArgument("archive: index.json: manifests: not an array");
  for (const [i, d] of index.manifests.entries()) {
    const what = `index.json manifests[${i}]`;
    const ref = refFromAnnotations(d.annotations, opts.name);
    let desc = d;
    const extra: string[] = [];
    if (isIndexType(d.mediaType)) {
      const digest = await files.ociBlob(d.digest, what);
      extra.push(digest);
      const nested = files.json<Index>(`blobs/sha256/${digest.slice(7)}`, what);
      const pick = selectManifest(nested.manifests ?? [], opts.platform);
      if (!pick) throw notFound(`archive: ${what}: no manifest for the platform in index ${d.digest}`);
      desc = pick;
    } else if (!isManifestType(d.mediaType)) continue; // artifacts, attestations: not images
    const mDigest = await files.ociBlob(desc.digest, what);
    const m = files.json<Manifest>(`blobs/sha256/${mDigest.slice(7)}`, what);
    if (!m.config || !Array.isArray(m.layers)) throw invalidArgument(`archive: ${what}: manifest ${mDigest}: want config and layers`);
    const config = await files.ociBlob(m.config.digest, `${what} config`);
    for (const [j, l] of m.layers.entries()) await files.ociBlob(l.digest, `${what} layer ${j}`);
    const img = await store.register(tenant, { config, layers: m.layers, manifestDigest: mDigest, extraBlobs: extra });
    if (ref) setRefs(img, [ref]);
    res.images.push(store.get(tenant, img.id));
  }
  return res;
}

function refFromAnnotations(a: Record<string, string> | undefined, name: string | undefined): string | undefined {
  if (!a) return undefined;
  const full = a[ANNOTATION_IMAGE_NAME];
  if (full) return formatReference(parseReference(full));
  const r = a[ANNOTATION_REF_NAME];
  if (!r) return undefined;
  if (r.includes("/") || r.includes(":")) return formatReference(parseReference(r));
  if (name) return formatReference(parseReference(`${name}:${r}`));
  return undefined;
}

/** docker load: a docker-archive or OCI layout tar stream (plain, gzip or zstd). */
export async function loadArchive(store: ImageStore, tenant: string, src: AsyncIterable<Uint8Array>, opts: LoadOptions = {}): Promise<LoadResult> {
  const lease = store.lease();
  try {
    const files = new ArchiveFiles(store, lease);
    await readTar(files, store, lease, maybeDecompress(src));
    return await loadFiles(store, tenant, files, opts);
  } finally {
    lease.release();
  }
}

/** Load an OCI image layout (or an unpacked docker-archive) from a directory. */
export async function loadDirectory(store: ImageStore, tenant: string, dir: string, opts: LoadOptions = {}): Promise<LoadResult> {
  if (!existsSync(dir)) throw notFound(`layout ${dir} not found`);
  const lease = store.lease();
  try {
    return await loadFiles(store, tenant, new ArchiveFiles(store, lease, dir), opts);
  } finally {
    lease.release();
  }
}

// ---------------------------------------------------------------- save

export interface SaveOptions {
  /** "docker" (default): OCI-in-docker with manifest.json and uncompressed layers; "oci": plain OCI layout, images' own manifests */
  format?: "docker" | "oci";
}

type OutFile = { name: string; bytes: Uint8Array } | { name: string; blob: string };

/** Which images and tags `docker save a b c` means for a tenant. */
function selectForSave(store: ImageStore, tenant: string, names: string[]): { image: ImageRecord; tags: string[] }[] {
  if (!names.length) throw invalidArgument("save: no images named");
  const out = new Map<string, { image: ImageRecord; tags: Set<string> }>();
  const add = (image: ImageRecord, tags: string[]) => {
    const e = out.get(image.id) ?? { image, tags: new Set<string>() };
    for (const t of tags) e.tags.add(t);
    out.set(image.id, e);
  };
  for (const n of names) {
    let r: ReturnType<typeof parseReference> | undefined;
    try {
      r = parseReference(n, { defaultTag: false });
    } catch {}
    if (r && r.tag === undefined && !r.digest) {
      // a bare repository name: every tag of it (docker save busybox)
      const all = store.list(tenant, { all: true }).flatMap((img) => img.repoTags.filter((t) => parseReference(t).name === r!.name).map((t) => [img, t] as const));
      if (all.length) {
        for (const [img, t] of all) add(img, [t]);
        continue;
      }
    }
    const img = store.resolve(tenant, n);
    add(img, r?.tag !== undefined ? [formatReference(parseReference(n))] : []);
  }
  return [...out.values()].map((e) => ({ image: e.image, tags: [...e.tags].sort() }));
}

async function planSave(store: ImageStore, tenant: string, names: string[], format: "docker" | "oci", lease: Lease): Promise<OutFile[]> {
  const sel = selectForSave(store, tenant, names);
  const blobs = new Map<string, OutFile>();
  const addBlob = (digest: string) => {
    lease.add(digest);
    blobs.set(digest, { name: `blobs/sha256/${digest.slice(7)}`, blob: digest });
  };
  const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  const dockerManifest: DockerManifestEntry[] = [];
  const enc = new TextEncoder();
  for (const { image, tags } of sel) {
    addBlob(image.id);
    let manifest: { digest: string; bytes: Uint8Array; mediaType: string };
    let layerDigests: string[];
    if (format === "oci") {
      manifest = store.manifest(tenant, image.id);
      layerDigests = image.layers.map((l) => l.digest);
    } else {
      layerDigests = [];
      for (const l of image.layers) layerDigests.push(await uncompressedBlob(store, l.digest, l.diffID, lease));
      const m: Manifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: image.id, size: store.blobs.size(image.id) },
        layers: layerDigests.map((d) => ({ mediaType: MediaType.OciLayer, digest: d, size: store.blobs.size(d) })),
      };
      const bytes = enc.encode(JSON.stringify(m));
      manifest = { digest: sha256(bytes), bytes, mediaType: MediaType.OciManifest };
    }
    blobs.set(manifest.digest, { name: `blobs/sha256/${manifest.digest.slice(7)}`, bytes: manifest.bytes });
    for (const d of layerDigests) addBlob(d);
    const desc = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
    if (!tags.length) index.manifests.push(desc);
    for (const t of tags) {
      index.manifests.push({ ...desc, annotations: { [ANNOTATION_IMAGE_NAME]: t, [ANNOTATION_REF_NAME]: parseReference(t).tag! } });
    }
    dockerManifest.push({
      Config: `blobs/sha256/${image.id.slice(7)}`,
      RepoTags: tags.map(familiarString),
      Layers: layerDigests.map((d) => `blobs/sha256/${d.slice(7)}`),
    });
  }
  const files: OutFile[] = [...blobs.values()];
  files.push({ name: "index.json", bytes: enc.encode(JSON.stringify(index)) });
  if (format === "docker") files.push({ name: "manifest.json", bytes: enc.encode(JSON.stringify(dockerManifest)) });
  files.push({ name: "oci-layout", bytes: enc.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })) });
  return files;
}

/** The uncompressed form of a layer blob (its digest is the diffID), stored in the BlobStore if needed. */
async function uncompressedBlob(store: ImageStore, digest: string, diffID: string, lease: Lease): Promise<string> {
  if (digest === diffID) return digest;
  lease.add(diffID);
  if (!store.blobs.has(diffID)) await store.blobs.putStream(decompressedStream(store.blobs.path(digest)), { digest: diffID });
  return diffID;
}

/** docker save: a tar stream of the named images (references, names, ids). */
export async function* saveArchive(store: ImageStore, tenant: string, names: string[], opts: SaveOptions = {}): AsyncGenerator<Uint8Array> {
  const lease = store.lease();
  try {
    const files = await planSave(store, tenant, names, opts.format ?? "docker", lease);
    const mtime = 0;
    const dirs = ["blobs/", "blobs/sha256/"];
    for (const d of dirs) yield encodeHeader({ name: d, type: "dir", mode: 0o755, mtime });
    for (const f of files) {
      if ("bytes" in f) {
        yield encodeHeader({ name: f.name, type: "file", size: f.bytes.length, mode: 0o644, mtime });
        yield f.bytes;
        yield new Uint8Array(padding(f.bytes.length));
      } else {
        const size = store.blobs.size(f.blob);
        yield encodeHeader({ name: f.name, type: "file", size, mode: 0o644, mtime });
        let n = 0;
        for await (const c of createReadStream(store.blobs.path(f.blob), { highWaterMark: 1 << 20 })) {
          n += (c as Uint8Array).length;
          yield c as Uint8Array;
        }
        if (n !== size) throw new BerthError("Internal", `save: blob ${f.blob} changed size while being written`);
        yield new Uint8Array(padding(size));
      }
    }
    yield END_OF_ARCHIVE;
  } finally {
    lease.release();
  }
}

/** Write an OCI image layout directory (skopeo's oci: transport reads it). */
export async function writeOciLayout(store: ImageStore, tenant: string, names: string[], dir: string, opts: SaveOptions = { format: "oci" }): Promise<void> {
  const lease = store.lease();
  try {
    const files = await planSave(store, tenant, names, opts.format ?? "oci", lease);
    mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
    for (const f of files) {
      const dest = join(dir, f.name);
      const tmp = `${dest}.tmp-${process.pid}`;
      if ("bytes" in f) writeFileSync(tmp, f.bytes);
      else {
        if (existsSync(dest)) continue;
        await Bun.write(tmp, Bun.file(store.blobs.path(f.blob)));
      }
      renameSync(tmp, dest);
    }
  } finally {
    lease.release();
  }
}

// ---------------------------------------------------------------- export

/**
 * docker export: the container's merged filesystem as one tar (xattrs,
 * devices, hardlinks, numeric owners). Mounts the rootfs for the duration if it
 * is not mounted. The caller keeps the container from being removed meanwhile.
 */
export async function* exportContainer(snapshots: OverlaySnapshotter, containerId: string): AsyncGenerator<Uint8Array> {
  const wasMounted = snapshots.isMounted(containerId);
  const root = await snapshots.mount(containerId);
  try {
    // the merged view shows no whiteouts and no overlay xattrs: the rewriter only normalizes names here
    yield* rewrite(createTar(root), new OverlayToLayer());
  } finally {
    if (!wasMounted) await snapshots.unmount(containerId);
  }
}
