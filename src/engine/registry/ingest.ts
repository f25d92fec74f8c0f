/**
 * Downloading one blob into the BlobStore: streamed to <root>/ingest/<hex>.partial
 * while hashed, checked against the descriptor's size (never more bytes than
 * announced) and digest, then renamed into place. A dropped connection is
 * resumed with a Range request from where the partial ends, also across
 * restarts (the partial is rehashed first). Concurrent downloads of the same
 * digest into the same store share one transfer and its progress events.
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BerthError } from "../../errors.ts";
import { parseDigest, type BlobStore, type Descriptor } from "../images/blobs.ts";
import { repositoryScope } from "./auth.ts";
import type { RegistryClient } from "./client.ts";
import { responseError, unavailable } from "./errors.ts";
import { byteReporter, type ProgressFn } from "./progress.ts";

export interface FetchBlobOptions {
  /** progress id ("Downloading" events etc.); no events without it */
  id?: string;
  emit?: ProgressFn;
  /** attempts per blob when the connection breaks (default 5) */
  maxAttempts?: number;
  /** pause before attempt n is n * retryDelayMs (default 250) */
  retryDelayMs?: number;
  signal?: AbortSignal;
}

export type FetchOutcome = "exists" | "downloaded" | "joined";

interface Inflight {
  done: Promise<void>;
  listeners: Set<ProgressFn>;
}

/** In-flight downloads by store root + digest (this process). */
const inflight = new Map<string, Inflight>();

/** Number of downloads in flight (for tests and diagnostics). */
export function inflightCount(): number {
  return inflight.size;
}

/** Fetch `desc` from repository `path` into `store` unless it is there already. */
export async function fetchBlob(client: RegistryClient, path: string, desc: Descriptor, store: BlobStore, opts: FetchBlobOptions = {}): Promise<FetchOutcome> {
  parseDigest(desc.digest);
  if (store.has(desc.digest)) return "exists";
  const key = `${store.root}\0${desc.digest}`;
  const mine: ProgressFn = (e) => {
    if (opts.id !== undefined) opts.emit?.({ ...e, id: opts.id });
  };
  const running = inflight.get(key);
  if (running) {
    running.listeners.add(mine);
    try {
      await running.done;
    } finally {
      running.listeners.delete(mine);
    }
    return "joined";
  }
  const listeners = new Set<ProgressFn>([mine]);
  const broadcast: ProgressFn = (e) => {
    for (const l of listeners) l(e);
  };
  const done = download(client, path, desc, store, broadcast, opts);
  inflight.set(key, { done, listeners });
  try {
    await done;
  } finally {
    inflight.delete(key);
  }
  return "downloaded";
}

class Fatal extends Error {
  constructor(readonly error: BerthError) {
    super(error.message);
  }
}

function hashFile(fd: number, size: number, hash: Hash) {
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = 0;
  while (pos < size) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    if (n <= 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
}

async function download(client: RegistryClient, path: string, desc: Descriptor, store: BlobStore, emit: ProgressFn, opts: FetchBlobOptions) {
  const context = `fetch blob ${desc.digest}`;
  const partial = join(store.root, "ingest", `${parseDigest(desc.digest)}.partial`);
  const maxAttempts = opts.maxAttempts ?? 5;
  const delay = opts.retryDelayMs ?? 250;
  let resumedFromDisk = false;

  let fd = openSync(partial, "a+", 0o644);
  let hash = createHash("sha256");
  let offset = statSync(partial).size;
  const restart = () => {
    ftruncateSync(fd, 0);
    hash = createHash("sha256");
    offset = 0;
  };
  if (offset > desc.size) restart();
  else if (offset > 0) {
    hashFile(fd, offset, hash);
    resumedFromDisk = true;
  }
  const report = byteReporter(emit, "", "Downloading", desc.size);

  try {
    let failures = 0;
    for (;;) {
      try {
        if (offset < desc.size) await transfer();
        break;
      } catch (e) {
        if (e instanceof Fatal) throw e.error;
        if (e instanceof BerthError && e.code !== "Unavailable") throw e; // refused, not broken: retrying cannot help
        failures++;
        if (failures >= maxAttempts || opts.signal?.aborted) {
          throw unavailable(`${context}: giving up after ${failures} attempts: ${e instanceof Error ? e.message : String(e)}`, e);
        }
        emit({ status: `Retrying (${failures + 1}/${maxAttempts})`, progressDetail: { current: offset, total: desc.size } });
        await Bun.sleep(delay * failures);
      }
    }

    emit({ status: "Verifying Checksum" });
    const got = "sha256:" + hash.digest("hex");
    if (got !== desc.digest) {
      if (resumedFromDisk) {
        // the partial from an earlier run was not a prefix of this blob: start over once
        closeSync(fd);
        rmSync(partial, { force: true });
        return download(client, path, desc, store, emit, opts);
      }
      throw new BerthError("InvalidArgument", `${context}: digest mismatch: registry sent ${got} (${offset} bytes)`);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(partial, store.path(desc.digest));
    emit({ status: "Download complete" });
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    // bad content is dropped; a transfer cut short is kept for a later resume
    if (!(e instanceof BerthError) || e.code !== "Unavailable") rmSync(partial, { force: true });
    throw e;
  }

  async function transfer() {
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await client.request(`/v2/${path}/blobs/${desc.digest}`, { headers, scopes: [repositoryScope(path, ["pull"])], signal: opts.signal });
    if (res.status === 429 || res.status >= 500) throw await responseError(context, res); // retried
    if (res.status === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
      if (!m || Number(m[1]) !== offset) {
        res.body?.cancel().catch(() => {});
        restart();
        throw new Error(`registry answered range ${offset}- with "${res.headers.get("content-range")}"`);
      }
    } else if (res.status === 200) {
      if (offset > 0) restart(); // the registry ignored the Range: take it from the start
    } else {
      throw new Fatal(await responseError(context, res));
    }
    if (!res.body) throw new Error("response has no body");
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (offset + chunk.length > desc.size) {
        throw new Fatal(new BerthError("InvalidArgument", `${context}: registry sent more than the ${desc.size} bytes the manifest announced`));
      }
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      hash.update(chunk);
      offset += chunk.length;
      report(offset);
    }
    if (offset < desc.size) throw new Error(`connection closed after ${offset} of ${desc.size} bytes`);
  }
}

/** Remove a leftover partial download (e.g. when an image pull is abandoned). */
export function discardPartial(store: BlobStore, digest: string) {
  const p = join(store.root, "ingest", `${parseDigest(digest)}.partial`);
  if (existsSync(p)) rmSync(p, { force: true });
}
