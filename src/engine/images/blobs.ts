/**
 * Content-addressed blob store: <root>/sha256/<hex>. Every blob is verified
 * against its digest while it is written and lands by rename, so a blob that
 * exists is complete and correct. Shared by all tenants (content is public by
 * digest; what a tenant can see is decided by its image references).
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BerthError, invalidArgument, notFound } from "../../errors.ts";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string; "os.version"?: string };
  urls?: string[];
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function parseDigest(d: string): string {
  if (!DIGEST_RE.test(d)) throw invalidArgument(`invalid digest "${d}": only sha256:<64 hex> is supported`);
  return d.slice(7);
}

export function sha256(data: Uint8Array | string): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

export class BlobStore {
  constructor(readonly root: string) {
    mkdirSync(join(root, "sha256"), { recursive: true });
    mkdirSync(join(root, "ingest"), { recursive: true });
  }

  path(digest: string): string {
    return join(this.root, "sha256", parseDigest(digest));
  }

  has(digest: string): boolean {
    return existsSync(this.path(digest));
  }

  size(digest: string): number {
    try {
      return statSync(this.path(digest)).size;
    } catch {
      throw notFound(`blob ${digest} not found`);
    }
  }

  read(digest: string): Uint8Array {
    try {
      return readFileSync(this.path(digest));
    } catch {
      throw notFound(`blob ${digest} not found`);
    }
  }

  readJSON<T>(digest: string): T {
    return JSON.parse(new TextDecoder().decode(this.read(digest))) as T;
  }

  /** Store bytes; returns the digest. */
  put(data: Uint8Array | string, expected?: string): string {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const digest = sha256(bytes);
    if (expected && expected !== digest) throw new BerthError("InvalidArgument", `digest mismatch: expected ${expected}, got ${digest}`);
    if (this.has(digest)) return digest;
    const tmp = join(this.root, "ingest", `${parseDigest(digest)}.${process.pid}.${Date.now()}`);
    const fd = openSync(tmp, "w", 0o644);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path(digest));
    return digest;
  }

  /**
   * Store a stream, hashing as it goes. With `expected`, a mismatch or a short
   * stream fails and leaves nothing behind.
   */
  async putStream(stream: AsyncIterable<Uint8Array>, expected?: { digest?: string; size?: number }): Promise<Descriptor> {
    const tmp = join(this.root, "ingest", `stream.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}`);
    const hash = createHash("sha256");
    let size = 0;
    const fd = openSync(tmp, "w", 0o644);
    try {
      for await (const chunk of stream) {
        hash.update(chunk);
        size += chunk.length;
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      }
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
    closeSync(fd);
    const digest = "sha256:" + hash.digest("hex");
    if ((expected?.digest && expected.digest !== digest) || (expected?.size !== undefined && expected.size !== size)) {
      rmSync(tmp, { force: true });
      throw new BerthError(
        "InvalidArgument",
        `blob verification failed: expected ${expected.digest ?? "?"} (${expected.size ?? "?"} bytes), got ${digest} (${size} bytes)`,
      );
    }
    if (this.has(digest)) rmSync(tmp, { force: true });
    else renameSync(tmp, this.path(digest));
    return { mediaType: "application/octet-stream", digest, size };
  }

  delete(digest: string) {
    rmSync(this.path(digest), { force: true });
  }
}
