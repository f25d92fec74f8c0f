/**
 * Layer blobs: detect their compression (by magic bytes; the media type is only
 * a claim), stream them decompressed, and compute their diffID (the sha256 of
 * the uncompressed tar) and unpacked size (the sum of the file sizes in the tar).
 * gzip and zstd come from Bun's node:zlib (createGunzip / createZstdDecompress):
 * no external tool in the data path.
 */
import { createHash } from "node:crypto";
import { createReadStream, openSync, readSync, closeSync } from "node:fs";
import { Readable } from "node:stream";
import { createGunzip, createZstdDecompress } from "node:zlib";
import { invalidArgument } from "../../errors.ts";
import type { Compression } from "./spec.ts";
import { TarReader } from "../storage/tar.ts";

/** The compression of a file from its first bytes (gzip 1f8b, zstd 28b52ffd, else none). */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "none";
}

export function sniffFile(path: string): Compression {
  const fd = openSync(path, "r");
  try {
    const head = new Uint8Array(4);
    const n = readSync(fd, head, 0, 4, 0);
    return sniffCompression(head.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** A file's bytes, decompressed according to its magic bytes. */
export async function* decompressedStream(path: string): AsyncGenerator<Uint8Array> {
  const c = sniffFile(path);
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (c === "none") {
    for await (const chunk of raw) yield chunk as Uint8Array;
    return;
  }
  const z = c === "gzip" ? createGunzip() : createZstdDecompress();
  raw.on("error", (e) => z.destroy(e));
  raw.pipe(z);
  for await (const chunk of z) yield chunk as Uint8Array;
}

/** A byte stream, decompressed if it starts with gzip or zstd magic (docker load accepts `docker save | gzip`). */
export async function* maybeDecompress(src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let n = 0;
  let done = false;
  while (n < 4) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    head.push(r.value);
    n += r.value.length;
  }
  async function* all(): AsyncGenerator<Uint8Array> {
    yield* head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const first = Buffer.concat(head).subarray(0, 4);
  const c = sniffCompression(first);
  if (c === "none") {
    yield* all();
    return;
  }
  const z = c === "gzip" ? createGunzip() : createZstdDecompress();
  const input = Readable.from(all());
  input.on("error", (e) => z.destroy(e));
  input.pipe(z);
  for await (const chunk of z) yield chunk as Uint8Array;
}

export interface LayerFacts {
  compression: Compression;
  /** sha256 of the uncompressed tar */
  diffID: string;
  /** sum of the sizes of the regular files in the tar */
  unpackedSize: number;
}

/**
 * Read a layer blob once: decompress, hash, and parse the tar (so a layer that is
 * not a tar archive is rejected here, not at unpack time).
 */
export async function inspectLayer(path: string): Promise<LayerFacts> {
  const compression = sniffFile(path);
  const hash = createHash("sha256");
  const tar = new TarReader();
  let unpackedSize = 0;
  try {
    for await (const chunk of decompressedStream(path)) {
      hash.update(chunk);
      for (const ev of tar.push(chunk)) if (ev.kind === "entry" && ev.header.type === "file") unpackedSize += ev.header.size;
    }
    tar.end();
  } catch (e) {
    throw invalidArgument(`layer ${path}: not a valid ${compression === "none" ? "" : compression + " "}tar archive: ${(e as Error).message}`);
  }
  return { compression, diffID: "sha256:" + hash.digest("hex"), unpackedSize };
}

/** ChainIDs of a layer stack (image-spec): chain[0] = diff[0], chain[i] = sha256(chain[i-1] + " " + diff[i]). */
export function chainIDs(diffIDs: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : "sha256:" + createHash("sha256").update(`${prev} ${d}`).digest("hex"));
  }
  return out;
}
