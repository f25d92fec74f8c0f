/**
 * docker pull: resolve the reference to a manifest (through an index by
 * platform), fetch config and layers into the BlobStore (verified, resumable,
 * `concurrency` layers at a time, shared with concurrent pulls of the same
 * layer), then register the image and its references with the ImageStore.
 */
import { BerthError, invalidArgument } from "../../errors.ts";
import { DEFAULT_TENANT } from "../db.ts";
import { sha256, type BlobStore } from "../images/blobs.ts";
import { formatReference, parseReference, type Reference } from "../images/reference.ts";
import type { Manifest } from "../images/spec.ts";
import type { ImageStore } from "../images/store.ts";
import { repositoryScope } from "./auth.ts";
import { RegistryClient, type RegistryOptions } from "./client.ts";
import { readLimited, responseError } from "./errors.ts";
import { fetchBlob } from "./ingest.ts";
import { Limiter } from "./limit.ts";
import { checkImage, MANIFEST_ACCEPT, MANIFEST_MAX_BYTES, parseManifest, type ImageConfigLite, type ParsedManifest } from "./manifest.ts";
import { formatPlatform, hostPlatform, normalizePlatform, parsePlatform, platformRank, selectManifest, type Platform } from "./platform.ts";
import { emitter, shortId, type ProgressFn } from "./progress.ts";
import { familiarReference, manifestSelector } from "./reference.ts";
import type { BlobSources } from "./sources.ts";

/** What pull needs of the ImageStore. */
export type ImageRegistrar = Pick<ImageStore, "register" | "setReference" | "lease">;

export interface PullOptions {
  store: BlobStore;
  /** registers the image and its references; without it the blobs are only fetched */
  images?: ImageRegistrar;
  tenant?: string;
  /** "os[/arch[/variant]]" or a Platform; default this machine's (linux/amd64 here) */
  platform?: Platform | string;
  registry?: RegistryOptions;
  /** an existing client for the reference's registry (keeps its tokens and endpoint) */
  client?: RegistryClient;
  onProgress?: ProgressFn;
  /** layers downloaded at once (docker's max-concurrent-downloads, default 3) */
  concurrency?: number;
  /** attempts per blob when connections break (default 5) */
  maxAttempts?: number;
  retryDelayMs?: number;
  sources?: BlobSources;
  signal?: AbortSignal;
}

export interface PullResult {
  /** normalized reference pulled */
  reference: string;
  /** the digest the reference resolved to (the index's for a multi-platform image) */
  digest: string;
  /** the image manifest used */
  manifestDigest: string;
  manifest: Manifest;
  mediaType: string;
  /** set when the reference resolved to an index */
  indexDigest?: string;
  configDigest: string;
  platform: Platform;
  /** the ImageStore's image id, when registered */
  imageId?: string;
  /** layer digests fetched by this pull / found in the store / fetched by a concurrent pull */
  downloaded: string[];
  existed: string[];
  joined: string[];
}

export interface FetchedManifest {
  digest: string;
  bytes: Uint8Array;
  parsed: ParsedManifest;
}

/** GET a manifest by tag or digest, bounded in size and verified against the digest. */
export async function fetchManifest(client: RegistryClient, path: string, selector: string, signal?: AbortSignal): Promise<FetchedManifest> {
  const context = `manifest ${client.domain}/${path}:${selector}`.replace(/:sha256:/, "@sha256:");
  const res = await client.requestOk(context, `/v2/${path}/manifests/${selector}`, {
    headers: { accept: MANIFEST_ACCEPT },
    scopes: [repositoryScope(path, ["pull"])],
    signal,
  });
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > MANIFEST_MAX_BYTES) {
    res.body?.cancel().catch(() => {});
    throw invalidArgument(`${context}: manifest of ${declared} bytes is larger than ${MANIFEST_MAX_BYTES}`);
  }
  const bytes = await readLimited(res, MANIFEST_MAX_BYTES);
  if (bytes.length > MANIFEST_MAX_BYTES) throw invalidArgument(`${context}: manifest is larger than ${MANIFEST_MAX_BYTES} bytes`);
  const digest = sha256(bytes);
  if (selector.startsWith("sha256:") && digest !== selector) {
    throw invalidArgument(`${context}: registry returned content with digest ${digest}`);
  }
  const header = res.headers.get("docker-content-digest");
  if (header && header.startsWith("sha256:") && header !== digest) {
    throw invalidArgument(`${context}: Docker-Content-Digest ${header} does not match the content (${digest})`);
  }
  let parsed: ParsedManifest;
  try {
    parsed = parseManifest(bytes, res.headers.get("content-type"));
  } catch (e) {
    throw e instanceof BerthError ? e.wrap(context) : e;
  }
  return { digest, bytes, parsed };
}

function platformOf(p: Platform | string | undefined): { want: Platform; explicit: boolean } {
  if (p === undefined) return { want: hostPlatform(), explicit: false };
  return { want: typeof p === "string" ? parsePlatform(p) : normalizePlatform(p), explicit: true };
}

export async function pull(reference: string | Reference, opts: PullOptions): Promise<PullResult> {
  const ref = typeof reference === "string" ? parseReference(reference) : reference;
  const name = formatReference(ref);
  try {
    return await pullRef(ref, opts);
  } catch (e) {
    throw e instanceof BerthError ? e.wrap(`pull ${name}`) : e;
  }
}

async function pullRef(ref: Reference, opts: PullOptions): Promise<PullResult> {
  const { store } = opts;
  const emit = emitter(opts.onProgress);
  const { want, explicit } = platformOf(opts.platform);
  const client = opts.client ?? new RegistryClient(ref.domain, opts.registry);
  if (client.domain !== ref.domain) throw invalidArgument(`client is for ${client.domain}, not ${ref.domain}`);
  const tenant = opts.tenant ?? DEFAULT_TENANT;
  const path = ref.path;
  const lease = opts.images?.lease();
  try {
    // docker names the repository as the registry knows it: "library/busybox", "test/app"
    emit({ id: ref.tag ?? ref.digest, status: `Pulling from ${path}` });
    const top = await fetchManifest(client, path, manifestSelector(ref), opts.signal);
    store.put(top.bytes, top.digest);
    lease?.add(top.digest);

    let image = top;
    let indexDigest: string | undefined;
    if (top.parsed.kind === "index") {
      indexDigest = top.digest;
      const chosen = selectManifest(top.parsed.index.manifests, want);
      const child = await fetchManifest(client, path, chosen.digest, opts.signal);
      if (child.parsed.kind !== "manifest") throw invalidArgument(`index ${top.digest}: entry ${chosen.digest} is not an image manifest (nested indexes are not supported)`);
      if (child.bytes.length !== chosen.size) throw invalidArgument(`index ${top.digest}: entry ${chosen.digest} has ${child.bytes.length} bytes, the index says ${chosen.size}`);
      store.put(child.bytes, child.digest);
      lease?.add(child.digest);
      image = child;
    }
    if (image.parsed.kind !== "manifest") throw invalidArgument(`${image.digest} is not an image manifest`);
    const manifest = image.parsed.manifest;
    lease?.add(manifest.config.digest);
    for (const l of manifest.layers) lease?.add(l.digest);

    // config first: it says whether this is the platform asked for and how many layers to expect
    await fetchBlob(client, path, manifest.config, store, { maxAttempts: opts.maxAttempts, retryDelayMs: opts.retryDelayMs, signal: opts.signal });
    let config: ImageConfigLite;
    try {
      config = store.readJSON<ImageConfigLite>(manifest.config.digest);
    } catch (e) {
      throw invalidArgument(`config ${manifest.config.digest}: not JSON: ${(e as Error).message}`);
    }
    checkImage(manifest, config);
    const have: Platform = normalizePlatform({ os: config.os ?? "", architecture: config.architecture ?? "", variant: config.variant });
    if (explicit && !indexDigest && platformRank(want, have) < 0) {
      throw new BerthError(
        "NotFound",
        `image with reference ${familiarReference(ref)} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(have)}`,
      );
    }

    const result: PullResult = {
      reference: formatReference(ref),
      digest: top.digest,
      manifestDigest: image.digest,
      manifest,
      mediaType: image.parsed.mediaType,
      indexDigest,
      configDigest: manifest.config.digest,
      platform: have,
      downloaded: [],
      existed: [],
      joined: [],
    };

    const limiter = new Limiter(opts.concurrency ?? 3);
    const seen = new Set<string>();
    const jobs: Promise<void>[] = [];
    for (const layer of manifest.layers) {
      const id = shortId(layer.digest);
      if (seen.has(layer.digest)) continue; // the same layer twice in one image: fetch once
      seen.add(layer.digest);
      if (store.has(layer.digest)) {
        emit({ id, status: "Already exists" });
        result.existed.push(layer.digest);
        continue;
      }
      emit({ id, status: "Pulling fs layer" });
      if (limiter.busy) emit({ id, status: "Waiting" });
      jobs.push(
        limiter.run(async () => {
          const outcome = await fetchBlob(client, path, layer, store, {
            id,
            emit,
            maxAttempts: opts.maxAttempts,
            retryDelayMs: opts.retryDelayMs,
            signal: opts.signal,
          });
          if (outcome === "exists") {
            emit({ id, status: "Already exists" });
            result.existed.push(layer.digest);
          } else (outcome === "downloaded" ? result.downloaded : result.joined).push(layer.digest);
        }),
      );
    }
    const settled = await Promise.allSettled(jobs);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;

    for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) opts.sources?.add(d, ref.domain, path);

    const fresh = result.downloaded.length + result.joined.length > 0;
    if (opts.images) {
      const img = await opts.images.register(tenant, {
        config: manifest.config.digest,
        layers: manifest.layers,
        manifestDigest: image.digest,
        extraBlobs: indexDigest ? [indexDigest] : [],
      });
      result.imageId = img.id;
      if (ref.tag) opts.images.setReference(tenant, `${ref.name}:${ref.tag}`, img.id);
      opts.images.setReference(tenant, `${ref.name}@${top.digest}`, img.id);
    }
    for (const d of [...result.downloaded, ...result.joined]) emit({ id: shortId(d), status: "Pull complete" });
    emit({ status: `Digest: ${top.digest}` });
    emit({ status: `Status: ${fresh ? "Downloaded newer image" : "Image is up to date"} for ${familiarReference(ref)}` });
    return result;
  } finally {
    lease?.release();
  }
}
