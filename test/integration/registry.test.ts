/**
 * The registry client against Debian's docker-registry on 127.0.0.1: plain
 * http, TLS + htpasswd (Basic), and token auth (Bearer) with a token server of
 * the test's own; a proxy that counts requests and cuts a transfer once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { BerthError } from "../../src/errors.ts";
import { BlobStore, sha256 } from "../../src/engine/images/blobs.ts";
import { ImageStore } from "../../src/engine/images/store.ts";
import { openDb, DEFAULT_TENANT } from "../../src/engine/db.ts";
import { BlobSources, pull, push, RegistryClient, type ProgressEvent } from "../../src/engine/registry/index.ts";
import { MediaType } from "../../src/engine/images/spec.ts";
import {
  buildImage,
  buildIndex,
  buildLayer,
  fileDigest,
  haveOpenssl,
  haveRegistry,
  makeCert,
  randomBytes,
  startProxy,
  startRegistry,
  startTokenServer,
  tempDir,
  type BuiltImage,
  type Registry,
} from "../helpers/registry-env.ts";

// docker-registry comes from Debian (scripts/setup.sh installs it); without it nothing here can run
const skip = !haveRegistry;

const dirs: string[] = [];
function freshStore(): BlobStore {
  const d = tempDir("blobs");
  dirs.push(d);
  return new BlobStore(d);
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function imageStore(blobs: BlobStore): ImageStore {
  return new ImageStore({ db: openDb(":memory:"), blobs });
}

function storedBlobs(store: BlobStore): string[] {
  return readdirSync(join(store.root, "sha256")).map((h) => `sha256:${h}`).sort();
}

function expectSameBlobs(a: BlobStore, b: BlobStore, digests: string[]) {
  for (const d of digests) {
    expect(b.has(d)).toBe(true);
    expect(fileDigest(b.path(d))).toBe(d);
    expect(b.size(d)).toBe(a.size(d));
  }
}

async function rejection(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BerthError);
    return e as BerthError;
  }
  throw new Error("expected a rejection");
}

function blobsOf(img: BuiltImage): string[] {
  return [img.config.digest, ...img.layers.map((l) => l.desc.digest)];
}

describe.skipIf(skip)("plain http registry", () => {
  let reg: Registry;
  const src = freshStore();
  let img: BuiltImage;

  beforeAll(async () => {
    reg = await startRegistry();
    img = buildImage(
      src,
      [buildLayer(src, { "etc/hello": "hello\n", "bin/tool": randomBytes(3000) }, "gzip", true), buildLayer(src, { "etc/second": "2\n" }, "gzip", true)],
      { docker: true },
    );
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test("push then pull into a fresh store: same manifest, config and layers", async () => {
    // the image as the engine has it: registered (diffIDs verified) and tagged in an ImageStore
    const srcImages = imageStore(src);
    const registered = await srcImages.register(DEFAULT_TENANT, { config: img.config.digest, layers: img.layers.map((l) => l.desc), manifestDigest: img.manifestDigest });
    srcImages.setReference(DEFAULT_TENANT, `${reg.host}/test/app:v1`, registered.id);
    const pushEvents: ProgressEvent[] = [];
    const pushed = await push(`${reg.host}/test/app:v1`, { store: src, images: srcImages, onProgress: (e) => pushEvents.push(e) });
    expect(pushed.digest).toBe(img.manifestDigest);
    expect(pushed.uploaded.sort()).toEqual(blobsOf(img).sort());
    for (const l of img.layers) {
      const id = l.desc.digest.slice(7, 19);
      const statuses = pushEvents.filter((e) => e.id === id).map((e) => e.status);
      expect(statuses[0]).toBe("Preparing");
      expect(statuses).toContain("Pushing");
      expect(statuses.at(-1)).toBe("Pushed");
    }
    expect(pushEvents.at(-1)!.status).toBe(`v1: digest: ${img.manifestDigest} size: ${img.manifestBytes.length}`);

    const dst = freshStore();
    const dstImages = imageStore(dst);
    const events: ProgressEvent[] = [];
    const res = await pull(`${reg.host}/test/app:v1`, { store: dst, images: dstImages, onProgress: (e) => events.push(e) });
    expect(res.manifestDigest).toBe(img.manifestDigest);
    expect(res.digest).toBe(img.manifestDigest);
    expect(res.mediaType).toBe(MediaType.DockerManifest);
    expect(res.configDigest).toBe(img.config.digest);
    expect(res.downloaded.sort()).toEqual(img.layers.map((l) => l.desc.digest).sort());
    expectSameBlobs(src, dst, [img.manifestDigest, ...blobsOf(img)]);
    expect(new TextDecoder().decode(dst.read(img.manifestDigest))).toBe(new TextDecoder().decode(img.manifestBytes));
    // registered with the ImageStore: same image id, the tag and the repo digest
    const got = dstImages.resolve(DEFAULT_TENANT, `${reg.host}/test/app:v1`);
    expect(res.imageId).toBe(img.config.digest);
    expect(got.id).toBe(img.config.digest);
    expect(got.manifestDigest).toBe(img.manifestDigest);
    expect(got.layers.map((l) => l.diffID)).toEqual(img.layers.map((l) => l.diffID));
    expect(got.repoTags).toEqual([`${reg.host}/test/app:v1`]);
    expect(got.repoDigests).toEqual([`${reg.host}/test/app@${img.manifestDigest}`]);
    // progress as docker's JSON stream has it
    expect(events[0]).toEqual({ id: "v1", status: "Pulling from test/app" });
    for (const l of img.layers) {
      const id = l.desc.digest.slice(7, 19);
      const mine = events.filter((e) => e.id === id);
      expect(mine.map((e) => e.status)).toEqual(expect.arrayContaining(["Pulling fs layer", "Downloading", "Verifying Checksum", "Download complete", "Pull complete"]));
      const last = mine.filter((e) => e.status === "Downloading").at(-1)!;
      expect(last.progressDetail).toEqual({ current: l.desc.size, total: l.desc.size });
    }
    expect(events.at(-2)!.status).toBe(`Digest: ${img.manifestDigest}`);
    expect(events.at(-1)!.status).toBe(`Status: Downloaded newer image for ${reg.host}/test/app:v1`);

    // again into the same store: nothing downloaded
    const again: ProgressEvent[] = [];
    const res2 = await pull(`${reg.host}/test/app:v1`, { store: dst, images: dstImages, onProgress: (e) => again.push(e) });
    expect(res2.downloaded).toEqual([]);
    expect(res2.existed.sort()).toEqual(img.layers.map((l) => l.desc.digest).sort());
    expect(again.filter((e) => e.status === "Already exists").length).toBe(2);
    expect(again.at(-1)!.status).toStartWith("Status: Image is up to date");
  });

  test("pull by digest; a second push finds every blob there", async () => {
    const dst = freshStore();
    const res = await pull(`${reg.host}/test/app@${img.manifestDigest}`, { store: dst });
    expect(res.manifestDigest).toBe(img.manifestDigest);
    expectSameBlobs(src, dst, blobsOf(img));

    const events: ProgressEvent[] = [];
    const again = await push(`${reg.host}/test/app:v1`, { store: src, manifestDigest: img.manifestDigest, onProgress: (e) => events.push(e) });
    expect(again.uploaded).toEqual([]);
    expect(again.existed.sort()).toEqual(blobsOf(img).sort());
    expect(events.filter((e) => e.status === "Layer already exists").length).toBe(img.layers.length);
  });

  test("push to another repository mounts the blobs instead of uploading them", async () => {
    const sources = new BlobSources();
    for (const d of blobsOf(img)) sources.add(d, reg.host, "test/app");
    const events: ProgressEvent[] = [];
    const res = await push(`${reg.host}/other/copy:1`, { store: src, manifestDigest: img.manifestDigest, sources, onProgress: (e) => events.push(e) });
    expect(res.mounted.sort()).toEqual(blobsOf(img).sort());
    expect(res.uploaded).toEqual([]);
    expect(events.filter((e) => e.status === "Mounted from test/app").length).toBe(img.layers.length);
    const dst = freshStore();
    await pull(`${reg.host}/other/copy:1`, { store: dst });
    expectSameBlobs(src, dst, blobsOf(img));
  });

  test("chunked upload (PATCH chunks) of a layer larger than the chunk size", async () => {
    const big = buildLayer(src, { "data/blob": randomBytes(300_000) }, "none");
    const image = buildImage(src, [big]);
    const res = await push(`${reg.host}/test/chunked:1`, { store: src, manifestDigest: image.manifestDigest, chunkSize: 64 * 1024 });
    expect(res.uploaded).toContain(big.desc.digest);
    const dst = freshStore();
    await pull(`${reg.host}/test/chunked:1`, { store: dst });
    expectSameBlobs(src, dst, blobsOf(image));
  });

  test("gzip, zstd and uncompressed layers keep media types and content", async () => {
    const layers = [
      buildLayer(src, { "a/gz": "gzip layer\n".repeat(100) }, "gzip"),
      buildLayer(src, { "a/zst": "zstd layer\n".repeat(100) }, "zstd"),
      buildLayer(src, { "a/raw": "plain layer\n" }, "none"),
    ];
    const image = buildImage(src, layers);
    await push(`${reg.host}/test/mixed:1`, { store: src, manifestDigest: image.manifestDigest });
    const dst = freshStore();
    const images = imageStore(dst);
    const res = await pull(`${reg.host}/test/mixed:1`, { store: dst, images });
    // the ImageStore decompressed each layer and checked it against the config's diff_ids
    expect(images.resolve(DEFAULT_TENANT, `${reg.host}/test/mixed:1`).layers.map((l) => l.diffID)).toEqual(layers.map((l) => l.diffID));
    expect(res.manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.OciLayerGzip, MediaType.OciLayerZstd, MediaType.OciLayer]);
    expectSameBlobs(src, dst, blobsOf(image));
    // what came back decompresses to the tars the config's diff_ids name
    const tars = [zlib.gunzipSync(dst.read(layers[0]!.desc.digest)), zlib.zstdDecompressSync(dst.read(layers[1]!.desc.digest)), dst.read(layers[2]!.desc.digest)];
    expect(tars.map((t) => sha256(t))).toEqual(layers.map((l) => l.diffID));
  });

  test("multi-platform index: the platform asked for, variant rules, no match", async () => {
    const amd = buildImage(src, [buildLayer(src, { arch: "amd64\n" }, "gzip")], { architecture: "amd64", label: "amd64" });
    const arm64 = buildImage(src, [buildLayer(src, { arch: "arm64\n" }, "gzip")], { architecture: "arm64", variant: "v8", label: "arm64" });
    const armv6 = buildImage(src, [buildLayer(src, { arch: "armv6\n" }, "gzip")], { architecture: "arm", variant: "v6", label: "armv6" });
    const index = buildIndex(src, [amd, arm64, armv6]);
    const res = await push(`${reg.host}/test/multi:1`, { store: src, manifestDigest: index.digest });
    expect(res.digest).toBe(index.digest);
    expect(res.mediaType).toBe(MediaType.OciIndex);

    const dst = freshStore();
    const images = imageStore(dst);
    const a = await pull(`${reg.host}/test/multi:1`, { store: dst, images, platform: "linux/arm64" });
    // the repo digest is the index's, as docker records it
    const rec = images.resolve(DEFAULT_TENANT, `${reg.host}/test/multi:1`);
    expect(rec.id).toBe(arm64.config.digest);
    expect(rec.repoDigests).toEqual([`${reg.host}/test/multi@${index.digest}`]);
    expect(a.indexDigest).toBe(index.digest);
    expect(a.digest).toBe(index.digest);
    expect(a.manifestDigest).toBe(arm64.manifestDigest);
    expect(a.platform).toEqual({ os: "linux", architecture: "arm64" });
    expectSameBlobs(src, dst, blobsOf(arm64));
    expect(dst.has(amd.layers[0]!.desc.digest)).toBe(false);

    const d = await pull(`${reg.host}/test/multi:1`, { store: freshStore() }); // this machine: linux/amd64
    expect(d.manifestDigest).toBe(amd.manifestDigest);
    const v7 = await pull(`${reg.host}/test/multi@${index.digest}`, { store: freshStore(), platform: "linux/arm/v7" }); // v7 runs v6
    expect(v7.manifestDigest).toBe(armv6.manifestDigest);
    const e = await rejection(pull(`${reg.host}/test/multi:1`, { store: freshStore(), platform: "linux/s390x" }));
    expect(e.code).toBe("NotFound");
    expect(e.message).toContain("no matching manifest for linux/s390x in the manifest list entries");
    // a single-platform image pulled for another platform is refused as docker does
    const w = await rejection(pull(`${reg.host}/test/app:v1`, { store: freshStore(), platform: "linux/arm64" }));
    expect(w.message).toContain("does not match the specified platform: wanted linux/arm64, actual: linux/amd64");
  });

  test("unknown tag and unknown repository: NotFound with the registry's words, nothing stored", async () => {
    const dst = freshStore();
    const e = await rejection(pull(`${reg.host}/test/app:nope`, { store: dst }));
    expect(e.code).toBe("NotFound");
    expect(e.message).toBe(`pull ${reg.host}/test/app:nope: manifest ${reg.host}/test/app:nope: manifest unknown: manifest unknown`);
    const e2 = await rejection(pull(`${reg.host}/no/such:1`, { store: dst }));
    expect(e2.code).toBe("NotFound");
    expect(e2.message).toContain("manifest unknown");
    expect(storedBlobs(dst)).toEqual([]);
  });

  describe("through a proxy", () => {
    test("a download cut mid-layer resumes with a Range request", async () => {
      const proxy = startProxy(reg.host);
      try {
        const layer = buildLayer(src, { "big/file": randomBytes(600_000) }, "none");
        const image = buildImage(src, [layer]);
        await push(`${reg.host}/test/resume:1`, { store: src, manifestDigest: image.manifestDigest });
        proxy.cutOnce(layer.desc.digest, 200_000);
        const dst = freshStore();
        const events: ProgressEvent[] = [];
        const res = await pull(`${proxy.host}/test/resume:1`, { store: dst, retryDelayMs: 10, onProgress: (e) => events.push(e) });
        expect(res.downloaded).toEqual([layer.desc.digest]);
        expectSameBlobs(src, dst, blobsOf(image));
        const gets = proxy.blobGets(layer.desc.digest);
        expect(gets.length).toBe(2);
        expect(gets[0]!.range).toBeUndefined();
        const m = /^bytes=(\d+)-$/.exec(gets[1]!.range ?? "");
        expect(m).not.toBeNull();
        expect(Number(m![1])).toBeGreaterThan(0);
        expect(Number(m![1])).toBeLessThanOrEqual(200_000);
        expect(events.some((e) => e.status.startsWith("Retrying"))).toBe(true);
        expect(readdirSync(join(dst.root, "ingest"))).toEqual([]);
      } finally {
        proxy.stop();
      }
    });

    test("layers are fetched in parallel, at most `concurrency` at once", async () => {
      const proxy = startProxy(reg.host);
      try {
        const layers = [1, 2, 3, 4, 5].map((n) => buildLayer(src, { [`l${n}`]: randomBytes(20_000) }, "gzip"));
        const image = buildImage(src, layers);
        await push(`${reg.host}/test/parallel:1`, { store: src, manifestDigest: image.manifestDigest });
        const layerSet = new Set(layers.map((l) => l.desc.digest));
        const gate = proxy.hold((d) => layerSet.has(d));
        const events: ProgressEvent[] = [];
        const p = pull(`${proxy.host}/test/parallel:1`, { store: freshStore(), concurrency: 2, onProgress: (e) => events.push(e) });
        while (proxy.held < 2) await Bun.sleep(5); // two layer requests out at once
        expect(events.filter((e) => e.status === "Waiting").length).toBe(3); // the other three queued
        gate.release();
        const res = await p;
        expect(res.downloaded.length).toBe(5);
        expect(proxy.maxHeld).toBe(2);
      } finally {
        proxy.stop();
      }
    });

    test("two concurrent pulls of one image fetch each layer once", async () => {
      const proxy = startProxy(reg.host);
      try {
        const image = buildImage(src, [buildLayer(src, { one: randomBytes(100_000) }, "gzip"), buildLayer(src, { two: randomBytes(100_000) }, "gzip")]);
        await push(`${reg.host}/test/dedup:1`, { store: src, manifestDigest: image.manifestDigest });
        const dst = freshStore();
        const images = imageStore(dst);
        const gate = proxy.hold(); // both pulls reach the blobs before any blob is served
        const events: ProgressEvent[][] = [[], []];
        const p1 = pull(`${proxy.host}/test/dedup:1`, { store: dst, images, onProgress: (e) => events[0]!.push(e) });
        const p2 = pull(`${proxy.host}/test/dedup:1`, { store: dst, images, onProgress: (e) => events[1]!.push(e) });
        while (proxy.requests.filter((r) => r.path.includes("/manifests/")).length < 2 || proxy.blobGets(image.config.digest).length < 1) await Bun.sleep(5);
        gate.release();
        const [r1, r2] = await Promise.all([p1, p2]);
        for (const d of blobsOf(image)) expect(proxy.blobGets(d).length).toBe(1);
        const layerDigests = image.layers.map((l) => l.desc.digest).sort();
        expect([...r1.downloaded, ...r2.downloaded].sort()).toEqual(layerDigests);
        expect([...r1.joined, ...r2.joined, ...r1.existed, ...r2.existed].sort()).toEqual(layerDigests);
        expectSameBlobs(src, dst, blobsOf(image));
        expect(r1.imageId).toBe(image.config.digest);
        expect(r2.imageId).toBe(image.config.digest);
        expect(images.list(DEFAULT_TENANT).map((i) => i.id)).toEqual([image.config.digest]);
        // each puller saw its layers complete
        for (const ev of events) for (const l of image.layers) expect(ev.some((e) => e.id === l.desc.digest.slice(7, 19) && (e.status === "Pull complete" || e.status === "Already exists"))).toBe(true);
      } finally {
        proxy.stop();
      }
    });
  });
});

describe.skipIf(skip || !haveOpenssl)("TLS + htpasswd registry", () => {
  let reg: Registry;
  let certDir: string;
  let caFile: string;
  const src = freshStore();
  let img: BuiltImage;
  const credentials = { username: "berth", password: "s3cret pass" };

  beforeAll(async () => {
    certDir = tempDir("certs");
    const cert = makeCert(certDir, "registry");
    caFile = cert.certFile;
    reg = await startRegistry({ tls: cert, htpasswd: { user: credentials.username, password: credentials.password } });
    img = buildImage(src, [buildLayer(src, { "etc/tls": "over tls\n" }, "gzip")]);
  });
  afterAll(async () => {
    await reg?.stop();
    rmSync(certDir, { recursive: true, force: true });
  });

  test("push and pull with Basic credentials, the certificate verified against the CA file", async () => {
    const registry = { credentials, caFile, insecure: false };
    const pushed = await push(`${reg.host}/secure/app:1`, { store: src, manifestDigest: img.manifestDigest, registry });
    expect(pushed.uploaded.length).toBe(2);
    const dst = freshStore();
    const res = await pull(`${reg.host}/secure/app:1`, { store: dst, registry });
    expect(res.manifestDigest).toBe(img.manifestDigest);
    expectSameBlobs(src, dst, [img.manifestDigest, ...blobsOf(img)]);
  });

  test("without the CA the certificate is refused", async () => {
    const e = await rejection(pull(`${reg.host}/secure/app:1`, { store: freshStore(), registry: { credentials, insecure: false } }));
    expect(e.code).toBe("Unavailable");
    expect(e.message.toLowerCase()).toMatch(/certificate|self.signed|verify/);
  });

  test("bad credentials: PermissionDenied with the registry's message, nothing stored", async () => {
    const dst = freshStore();
    const images = imageStore(dst);
    const e = await rejection(pull(`${reg.host}/secure/app:1`, { store: dst, images, registry: { caFile, insecure: false, credentials: { username: "berth", password: "wrong" } } }));
    expect(e.code).toBe("PermissionDenied");
    expect(e.message).toContain("unauthorized: authentication required");
    expect(storedBlobs(dst)).toEqual([]);
    expect(readdirSync(join(dst.root, "ingest"))).toEqual([]);
    const anon = await rejection(pull(`${reg.host}/secure/app:1`, { store: dst, registry: { caFile, insecure: false } }));
    expect(anon.code).toBe("PermissionDenied");
    const p = await rejection(push(`${reg.host}/secure/other:1`, { store: src, manifestDigest: img.manifestDigest, registry: { caFile, insecure: false, credentials: { username: "x", password: "y" } } }));
    expect(p.code).toBe("PermissionDenied");
    expect(storedBlobs(dst)).toEqual([]);
    expect(images.list(DEFAULT_TENANT)).toEqual([]);
  });

  test("a loopback registry is insecure-allowed by default (unverified TLS), as in docker", async () => {
    const res = await pull(`${reg.host}/secure/app:1`, { store: freshStore(), registry: { credentials } });
    expect(res.manifestDigest).toBe(img.manifestDigest);
  });
});

describe.skipIf(skip || !haveOpenssl)("token auth registry (Bearer)", () => {
  let reg: Registry;
  let tokens: ReturnType<typeof startTokenServer>;
  let certDir: string;
  const src = freshStore();
  let img: BuiltImage;
  const credentials = { username: "alice", password: "wonderland" };

  beforeAll(async () => {
    certDir = tempDir("certs");
    const cert = makeCert(certDir, "token");
    const service = "berth-test-registry";
    const issuer = "berth-test-issuer";
    tokens = startTokenServer({ cert, issuer, service, users: { alice: "wonderland" } });
    reg = await startRegistry({ token: { realm: tokens.url, service, issuer, cert } });
    img = buildImage(src, [buildLayer(src, { "etc/bearer": "token\n" }, "gzip"), buildLayer(src, { "etc/two": "2\n" }, "zstd")]);
  });
  afterAll(async () => {
    await reg?.stop();
    tokens?.stop();
    rmSync(certDir, { recursive: true, force: true });
  });

  test("push and pull with tokens for the scopes needed, one token request per scope set", async () => {
    tokens.requests.length = 0;
    const client = new RegistryClient(reg.host, { credentials });
    await push(`${reg.host}/team/app:1`, { store: src, manifestDigest: img.manifestDigest, client });
    expect(tokens.requests.every((r) => r.user === "alice")).toBe(true);
    expect(tokens.requests.map((r) => r.scopes)).toEqual([["repository:team/app:pull,push"]]);

    tokens.requests.length = 0;
    const dst = freshStore();
    const res = await pull(`${reg.host}/team/app:1`, { store: dst, registry: { credentials } });
    expect(res.manifestDigest).toBe(img.manifestDigest);
    expectSameBlobs(src, dst, blobsOf(img));
    expect(tokens.requests.map((r) => r.scopes)).toEqual([["repository:team/app:pull"]]);
  });

  test("wrong password: PermissionDenied with the token server's message", async () => {
    const dst = freshStore();
    const e = await rejection(pull(`${reg.host}/team/app:1`, { store: dst, registry: { credentials: { username: "alice", password: "nope" } } }));
    expect(e.code).toBe("PermissionDenied");
    expect(e.message).toContain("incorrect username or password");
    expect(storedBlobs(dst)).toEqual([]);
  });

  test("anonymous: the token grants nothing, the registry's refusal is PermissionDenied", async () => {
    const e = await rejection(pull(`${reg.host}/team/app:1`, { store: freshStore() }));
    expect(e.code).toBe("PermissionDenied");
    expect(e.message).toContain("unauthorized: authentication required");
  });
});
