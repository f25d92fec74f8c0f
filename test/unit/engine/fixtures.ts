/**
 * Test images made by hand (no registry, no docker engine here): layer tars
 * written entry by entry, image configs, and docker-archive / OCI layout
 * tarballs assembled per their specs.
 */
import { gzipSync, zstdCompressSync } from "node:zlib";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { concat, encodeEntry, END_OF_ARCHIVE, type WriteHeader } from "../../../src/engine/storage/tar.ts";
import { sha256, BlobStore, type Descriptor } from "../../../src/engine/images/blobs.ts";
import { MediaType, type ImageConfig } from "../../../src/engine/images/spec.ts";
import { openDb } from "../../../src/engine/db.ts";
import { ImageStore, type ImageStoreOptions } from "../../../src/engine/images/store.ts";

const te = new TextEncoder();

export type E = WriteHeader & { data?: string | Uint8Array };

export function tarOf(entries: E[]): Uint8Array {
  return concat([...entries.map(({ data, ...h }) => encodeEntry(h, typeof data === "string" ? te.encode(data) : data)), END_OF_ARCHIVE]);
}

export const file = (name: string, data: string, h: Partial<WriteHeader> = {}): E => ({ name, type: "file", mode: 0o644, mtime: 1700000000, ...h, data });
export const dir = (name: string, h: Partial<WriteHeader> = {}): E => ({ name: name.endsWith("/") ? name : name + "/", type: "dir", mode: 0o755, mtime: 1700000000, ...h });
export const whiteout = (path: string): E => {
  const i = path.lastIndexOf("/");
  return file(i < 0 ? `.wh.${path}` : `${path.slice(0, i)}/.wh.${path.slice(i + 1)}`, "");
};
export const opaque = (d: string): E => file(`${d.replace(/\/$/, "")}/.wh..wh..opq`, "");

export type Compress = "none" | "gzip" | "zstd";

export function compress(tar: Uint8Array, c: Compress): Uint8Array {
  return c === "gzip" ? gzipSync(tar) : c === "zstd" ? zstdCompressSync(tar) : tar;
}

const LAYER_TYPE = { none: MediaType.OciLayer, gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd };

export interface BuiltImage {
  config: ImageConfig;
  configBytes: Uint8Array;
  id: string;
  /** uncompressed layer tars */
  tars: Uint8Array[];
  /** layer blobs as stored */
  blobs: Uint8Array[];
  layers: Descriptor[];
  manifest: Uint8Array;
  manifestDigest: string;
}

/** An image from layer tars; blobs compressed as asked (cycled). */
export function buildImage(tars: Uint8Array[], opts: { compress?: Compress[]; created?: string; labels?: Record<string, string>; cmd?: string[]; history?: boolean } = {}): BuiltImage {
  const cs = opts.compress ?? ["none"];
  const blobs = tars.map((t, i) => compress(t, cs[i % cs.length]!));
  const layers = blobs.map((b, i) => ({ mediaType: LAYER_TYPE[cs[i % cs.length]!], digest: sha256(b), size: b.length }));
  const config: ImageConfig = {
    architecture: "amd64",
    os: "linux",
    created: opts.created ?? "2024-01-01T00:00:00Z",
    config: { Env: ["PATH=/usr/bin:/bin"], Cmd: opts.cmd ?? ["/bin/sh"], ...(opts.labels ? { Labels: opts.labels } : {}) },
    rootfs: { type: "layers", diff_ids: tars.map((t) => sha256(t)) },
    ...(opts.history === false ? {} : { history: tars.map((_, i) => ({ created: opts.created ?? "2024-01-01T00:00:00Z", created_by: `layer ${i}` })) }),
  };
  const configBytes = te.encode(JSON.stringify(config));
  const manifestObj = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: sha256(configBytes), size: configBytes.length },
    layers,
  };
  const manifest = te.encode(JSON.stringify(manifestObj));
  return { config, configBytes, id: sha256(configBytes), tars, blobs, layers, manifest, manifestDigest: sha256(manifest) };
}

/** Put an image's blobs into a BlobStore. */
export function putBlobs(bs: BlobStore, img: BuiltImage) {
  bs.put(img.configBytes);
  bs.put(img.manifest);
  for (const b of img.blobs) bs.put(b);
}

/**
 * A legacy docker-archive (docker save before 25): <id>.json config,
 * <layer dir>/{VERSION,json,layer.tar}, manifest.json, repositories. A layer
 * that repeats an earlier one is a symlink to its layer.tar, as docker writes.
 */
export function legacyDockerArchive(images: { img: BuiltImage; tags: string[] }[]): Uint8Array {
  const entries: E[] = [];
  const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const seen = new Map<string, string>();
  for (const { img, tags } of images) {
    const layerPaths: string[] = [];
    let parent = "";
    img.tars.forEach((t, i) => {
      const v1 = sha256(`${parent} ${img.config.rootfs.diff_ids[i]}`).slice(7);
      parent = v1;
      entries.push(dir(v1));
      entries.push(file(`${v1}/VERSION`, "1.0"));
      entries.push(file(`${v1}/json`, JSON.stringify({ id: v1 })));
      const d = sha256(t);
      const prev = seen.get(d);
      if (prev) entries.push({ name: `${v1}/layer.tar`, type: "symlink", linkname: `../${prev}`, mode: 0o777 });
      else {
        entries.push({ name: `${v1}/layer.tar`, type: "file", mode: 0o644, data: t });
        seen.set(d, `${v1}/layer.tar`);
      }
      layerPaths.push(`${v1}/layer.tar`);
    });
    entries.push(file(`${img.id.slice(7)}.json`, new TextDecoder().decode(img.configBytes)));
    manifest.push({ Config: `${img.id.slice(7)}.json`, RepoTags: tags, Layers: layerPaths });
  }
  entries.push(file("manifest.json", JSON.stringify(manifest)));
  return tarOf(entries);
}

/** An OCI image layout tarball (index.json + oci-layout + blobs/sha256). */
export function ociLayoutArchive(images: { img: BuiltImage; refName?: string; imageName?: string }[]): Uint8Array {
  const entries: E[] = [dir("blobs"), dir("blobs/sha256")];
  const done = new Set<string>();
  const blob = (b: Uint8Array) => {
    const d = sha256(b);
    if (!done.has(d)) entries.push({ name: `blobs/sha256/${d.slice(7)}`, type: "file", mode: 0o644, data: b });
    done.add(d);
  };
  const manifests: Descriptor[] = [];
  for (const { img, refName, imageName } of images) {
    blob(img.configBytes);
    img.blobs.forEach(blob);
    blob(img.manifest);
    const annotations: Record<string, string> = {};
    if (refName) annotations["org.opencontainers.image.ref.name"] = refName;
    if (imageName) annotations["io.containerd.image.name"] = imageName;
    manifests.push({ mediaType: MediaType.OciManifest, digest: img.manifestDigest, size: img.manifest.length, ...(refName || imageName ? { annotations } : {}) });
  }
  entries.push(file("oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" })));
  entries.push(file("index.json", JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests })));
  return tarOf(entries);
}

export async function* streamOf(b: Uint8Array, chunk = 7777): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += chunk) yield b.subarray(i, i + chunk);
}

export async function collect(src: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of src) parts.push(c.slice());
  return concat(parts);
}

/** A store over an in-memory db and a temp blob dir; `cleanup()` removes the dir. */
export function tempStore(opts: Partial<ImageStoreOptions> = {}): { store: ImageStore; root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), "berth-images-"));
  const store = new ImageStore({ db: openDb(":memory:"), blobs: new BlobStore(join(root, "blobs")), ...opts });
  return { store, root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
