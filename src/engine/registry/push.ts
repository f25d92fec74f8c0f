/**
 * docker push: for each blob of the image (config and layers; for an index,
 * those of every manifest in it) HEAD to skip what the repository has, try a
 * cross-repository mount from a repository known to hold it, else upload
 * (POST, then one PUT, or PATCH chunks and a closing PUT); then PUT the
 * manifest(s), the exact stored bytes so the digest is kept.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { BerthError, invalidArgument, notFound } from "../../errors.ts";
import { DEFAULT_TENANT } from "../db.ts";
import type { BlobStore, Descriptor } from "../images/blobs.ts";
import { formatReference, parseReference, type Reference } from "../images/reference.ts";
import type { Manifest } from "../images/spec.ts";
import type { ImageStore } from "../images/store.ts";
import { repositoryScope } from "./auth.ts";
import { RegistryClient, type RegistryOptions } from "./client.ts";
import { responseError, unavailable } from "./errors.ts";
import { Limiter } from "./limit.ts";
import { parseManifest, type ParsedManifest } from "./manifest.ts";
import { byteReporter, emitter, shortId, type ProgressFn } from "./progress.ts";
import type { BlobSources } from "./sources.ts";

/** What push needs of the ImageStore. */
export type ManifestSource = Pick<ImageStore, "manifest">;

export interface PushOptions {
  store: BlobStore;
  /** the manifest or index (a blob in the store) to push; default: what `images` has for the reference */
  manifestDigest?: string;
  images?: ManifestSource;
  tenant?: string;
  registry?: RegistryOptions;
  client?: RegistryClient;
  onProgress?: ProgressFn;
  /** blobs uploaded at once (docker's max-concurrent-uploads, default 5) */
  concurrency?: number;
  /** blobs larger than this go up in PATCH chunks of this size (default 64 MiB) */
  chunkSize?: number;
  /** attempts per blob when the connection breaks (default 3) */
  maxAttempts?: number;
  sources?: BlobSources;
  signal?: AbortSignal;
}

export interface PushResult {
  reference: string;
  /** digest and size of the manifest (or index) pushed */
  digest: string;
  size: number;
  mediaType: string;
  /** blob digests uploaded / already in the repository / mounted from another repository */
  uploaded: string[];
  existed: string[];
  mounted: string[];
}

const DEFAULT_CHUNK = 64 << 20;
const READ_PIECE = 1 << 20;

export async function push(reference: string | Reference, opts: PushOptions): Promise<PushResult> {
  const ref = typeof reference === "string" ? parseReference(reference) : reference;
  try {
    return await pushRef(ref, opts);
  } catch (e) {
    throw e instanceof BerthError ? e.wrap(`push ${formatReference(ref)}`) : e;
  }
}

function readManifest(store: BlobStore, digest: string): { bytes: Uint8Array; parsed: ParsedManifest } {
  if (!store.has(digest)) throw notFound(`manifest ${digest} not found in the blob store`);
  const bytes = store.read(digest);
  try {
    return { bytes, parsed: parseManifest(bytes) };
  } catch (e) {
    throw e instanceof BerthError ? e.wrap(`manifest ${digest}`) : e;
  }
}

async function pushRef(ref: Reference, opts: PushOptions): Promise<PushResult> {
  const { store } = opts;
  const emit = emitter(opts.onProgress);
  const client = opts.client ?? new RegistryClient(ref.domain, opts.registry);
  if (client.domain !== ref.domain) throw invalidArgument(`client is for ${client.domain}, not ${ref.domain}`);
  const path = ref.path;
  const tenant = opts.tenant ?? DEFAULT_TENANT;
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw invalidArgument(`chunkSize must be a positive integer, got ${chunkSize}`);

  let topDigest = opts.manifestDigest;
  if (!topDigest) {
    if (!opts.images) throw invalidArgument("push needs manifestDigest or an image store");
    topDigest = opts.images.manifest(tenant, formatReference(ref)).digest;
  }
  if (ref.digest && ref.digest !== topDigest) throw invalidArgument(`reference digest ${ref.digest} is not the manifest's (${topDigest})`);
  const top = readManifest(store, topDigest);

  const result: PushResult = { reference: formatReference(ref), digest: topDigest, size: top.bytes.length, mediaType: top.parsed.mediaType, uploaded: [], existed: [], mounted: [] };
  const limiter = new Limiter(opts.concurrency ?? 5);
  const done = new Map<string, Promise<void>>();
  const scopes = [repositoryScope(path, ["pull", "push"])];

  const uploadOnce = async (desc: Descriptor, id: string | undefined) => {
    const ev = (status: string, progressDetail?: { current: number; total: number }) => id !== undefined && emit({ id, status, progressDetail });
    const blobPath = `/v2/${path}/blobs/${desc.digest}`;
    const head = await client.request(blobPath, { method: "HEAD", scopes, signal: opts.signal });
    head.body?.cancel().catch(() => {});
    if (head.ok) {
      ev("Layer already exists");
      result.existed.push(desc.digest);
      return;
    }
    if (head.status !== 404) throw await responseError(`check blob ${desc.digest}`, head);

    let location: URL | undefined;
    for (const from of opts.sources?.candidates(desc.digest, ref.domain, path).slice(0, 3) ?? []) {
      const q = new URLSearchParams({ mount: desc.digest, from });
      const res = await client.request(`/v2/${path}/blobs/uploads/?${q}`, {
        method: "POST",
        scopes: [...scopes, repositoryScope(from, ["pull"])],
        signal: opts.signal,
      });
      res.body?.cancel().catch(() => {});
      if (res.status === 201) {
        ev(`Mounted from ${from}`);
        result.mounted.push(desc.digest);
        return;
      }
      if (res.status === 202 && res.headers.get("location")) {
        location = client.url(res.headers.get("location")!);
        break; // the registry opened an upload instead
      }
    }
    if (!location) {
      const res = await client.requestOk(`start upload of ${desc.digest}`, `/v2/${path}/blobs/uploads/`, { method: "POST", scopes, signal: opts.signal });
      res.body?.cancel().catch(() => {});
      const loc = res.headers.get("location");
      if (!loc) throw unavailable(`start upload of ${desc.digest}: registry gave no upload location`);
      location = client.url(loc);
    }

    const file = store.path(desc.digest);
    const size = store.size(desc.digest);
    if (size !== desc.size) throw invalidArgument(`blob ${desc.digest} has ${size} bytes, the manifest says ${desc.size}`);
    const report = id !== undefined ? byteReporter(emit, id, "Pushing", size) : () => {};
    const octet = { "content-type": "application/octet-stream" };
    let final: URL;
    if (size <= chunkSize) {
      final = new URL(location);
      final.searchParams.set("digest", desc.digest);
      const res = await client.requestOk(`upload ${desc.digest}`, final, {
        method: "PUT",
        headers: { ...octet },
        body: () => fileStream(file, 0, size, report),
        scopes,
        signal: opts.signal,
      });
      checkDigestHeader(res, desc.digest);
    } else {
      let offset = 0;
      while (offset < size) {
        const end = Math.min(offset + chunkSize, size);
        const start = offset;
        const res = await client.requestOk(`upload ${desc.digest} bytes ${start}-${end - 1}`, location, {
          method: "PATCH",
          headers: { ...octet, "content-range": `${start}-${end - 1}`, "content-length": String(end - start) },
          body: () => Bun.file(file).slice(start, end),
          scopes,
          signal: opts.signal,
        });
        res.body?.cancel().catch(() => {});
        const range = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get("range") ?? "");
        if (range && Number(range[1]) !== end - 1) throw unavailable(`upload ${desc.digest}: registry has ${Number(range[1]) + 1} bytes, sent ${end}`);
        const loc = res.headers.get("location");
        if (loc) location = client.url(loc);
        offset = end;
        report(offset);
      }
      final = new URL(location);
      final.searchParams.set("digest", desc.digest);
      const res = await client.requestOk(`finish upload of ${desc.digest}`, final, { method: "PUT", headers: { "content-length": "0" }, scopes, signal: opts.signal });
      checkDigestHeader(res, desc.digest);
    }
    ev("Pushed");
    result.uploaded.push(desc.digest);
  };

  const upload = (desc: Descriptor, id: string | undefined) => {
    // the same blob in two manifests of an index goes up once
    let p = done.get(desc.digest);
    if (p) return p;
    if (!store.has(desc.digest)) return Promise.reject(notFound(`blob ${desc.digest} not found in the blob store`));
    if (id !== undefined) {
      emit({ id, status: "Preparing" });
      if (limiter.busy) emit({ id, status: "Waiting" });
    }
    p = limiter.run(async () => {
      const attempts = opts.maxAttempts ?? 3;
      for (let i = 1; ; i++) {
        try {
          return await uploadOnce(desc, id);
        } catch (e) {
          const transient = !(e instanceof BerthError) || e.code === "Unavailable";
          if (!transient || i >= attempts || opts.signal?.aborted) throw e;
          if (id !== undefined) emit({ id, status: `Retrying (${i + 1}/${attempts})` });
        }
      }
    });
    done.set(desc.digest, p);
    return p;
  };

  const pushBlobsOf = async (m: Manifest) => {
    const jobs = [upload(m.config, undefined), ...m.layers.map((l) => upload(l, shortId(l.digest)))];
    const settled = await Promise.allSettled(jobs);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    for (const d of [m.config, ...m.layers]) opts.sources?.add(d.digest, ref.domain, path);
  };

  const putManifest = async (selector: string, bytes: Uint8Array, mediaType: string, digest: string) => {
    const res = await client.requestOk(`put manifest ${selector}`, `/v2/${path}/manifests/${selector}`, {
      method: "PUT",
      headers: { "content-type": mediaType },
      body: () => bytes,
      scopes,
      signal: opts.signal,
    });
    res.body?.cancel().catch(() => {});
    checkDigestHeader(res, digest);
  };

  if (top.parsed.kind === "index") {
    const children = top.parsed.index.manifests.map((d) => ({ d, m: readManifest(store, d.digest) }));
    for (const { d, m } of children) {
      if (m.parsed.kind !== "manifest") throw invalidArgument(`index ${topDigest}: entry ${d.digest} is an index (nested indexes are not supported)`);
    }
    const settled = await Promise.allSettled(children.map(({ m }) => pushBlobsOf((m.parsed as { manifest: Manifest }).manifest)));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    for (const { d, m } of children) await putManifest(d.digest, m.bytes, m.parsed.mediaType, d.digest);
  } else {
    await pushBlobsOf(top.parsed.manifest);
  }
  await putManifest(ref.digest ?? ref.tag ?? "latest", top.bytes, top.parsed.mediaType, topDigest);
  emit({ status: `${ref.tag ?? ref.digest}: digest: ${topDigest} size: ${top.bytes.length}` });
  return result;
}

function checkDigestHeader(res: Response, digest: string) {
  const got = res.headers.get("docker-content-digest");
  if (got && got.startsWith("sha256:") && got !== digest) throw invalidArgument(`registry stored ${got}, expected ${digest}`);
}

/** The bytes [start, end) of a file as a stream, reporting how far the reader got. */
function fileStream(path: string, start: number, end: number, report: (n: number) => void): ReadableStream<Uint8Array> {
  let pos = start;
  let fd = -1;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (fd < 0) fd = openSync(path, "r");
      if (pos >= end) {
        closeSync(fd);
        fd = -1;
        controller.close();
        return;
      }
      const buf = Buffer.allocUnsafe(Math.min(READ_PIECE, end - pos));
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) {
        closeSync(fd);
        fd = -1;
        controller.error(new Error(`${path}: file shorter than expected`));
        return;
      }
      pos += n;
      controller.enqueue(buf.subarray(0, n));
      report(pos - start);
    },
    cancel() {
      if (fd >= 0) closeSync(fd);
      fd = -1;
    },
  });
}
