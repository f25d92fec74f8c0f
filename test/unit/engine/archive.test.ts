import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, readdirSync, readFileSync, existsSync, writeFileSync, symlinkSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { BerthError } from "../../../src/errors.ts";
import { importImage, loadArchive, loadDirectory, saveArchive, writeOciLayout } from "../../../src/engine/images/archive.ts";
import { MediaType } from "../../../src/engine/images/spec.ts";
import { TarReader } from "../../../src/engine/storage/tar.ts";
import { buildImage, collect, dir, file, legacyDockerArchive, ociLayoutArchive, streamOf, tarOf, tempStore } from "./fixtures.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});
function store() {
  const t = tempStore();
  cleanups.push(t.cleanup);
  return t.store;
}
async function rejectOf(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BerthError);
    return e as BerthError;
  }
  throw new Error("expected a rejection");
}
function names(tar: Uint8Array): string[] {
  const r = new TarReader();
  return r.push(tar).flatMap((e) => (e.kind === "entry" ? [e.header.name] : []));
}

const l1 = tarOf([dir("bin"), file("bin/sh", "#!sh"), dir("etc"), file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")]);
const l2 = tarOf([file("etc/motd", "hi\n")]);
const l3 = tarOf([file("app", "app")]);

describe("load", () => {
  test("legacy docker-archive: tags, shared layers through symlinked layer.tar, ids from the config", async () => {
    const s = store();
    const a = buildImage([l1, l2], { created: "2024-01-01T00:00:00Z" });
    const b = buildImage([l1, l3], { created: "2024-02-01T00:00:00Z" });
    const tar = legacyDockerArchive([
      { img: a, tags: ["busybox:latest", "busybox:1.36"] },
      { img: b, tags: ["localhost:5000/app:v1"] },
    ]);
    expect(names(tar).some((n) => n.endsWith("/layer.tar"))).toBe(true);
    const res = await loadArchive(s, "default", streamOf(tar));
    expect(res.images.map((i) => i.id)).toEqual([a.id, b.id]);
    expect(res.refs).toEqual(["docker.io/library/busybox:latest", "docker.io/library/busybox:1.36", "localhost:5000/app:v1"]);
    expect(s.resolve("default", "busybox:1.36").id).toBe(a.id);
    const rb = s.resolve("default", "localhost:5000/app:v1");
    expect(rb.layers[0]!.digest).toBe(a.layers[0]!.digest);
    expect(rb.layers[0]!.mediaType).toBe(MediaType.DockerLayer);
    expect(s.gc().blobs).toEqual([]); // nothing stray: json/VERSION files never became blobs
  });

  test("OCI layout: compressed layers, manifest digest kept, refs from annotations", async () => {
    const s = store();
    const a = buildImage([l1, l2], { compress: ["gzip", "zstd"] });
    const b = buildImage([l3], { created: "2023-01-01T00:00:00Z" });
    const c = buildImage([l2], { created: "2022-01-01T00:00:00Z" });
    const tar = ociLayoutArchive([
      { img: a, imageName: "docker.io/library/a:1", refName: "1" },
      { img: b, refName: "b:2" },
      { img: c, refName: "3" }, // a bare tag: needs a name
    ]);
    const res = await loadArchive(s, "default", streamOf(tar), { name: "cee" });
    expect(res.refs).toEqual(["docker.io/library/a:1", "docker.io/library/b:2", "docker.io/library/cee:3"]);
    const ra = s.resolve("default", "a:1");
    expect(ra.manifestDigest).toBe(a.manifestDigest);
    expect(ra.layers.map((l) => l.mediaType)).toEqual([MediaType.OciLayerGzip, MediaType.OciLayerZstd]);
    expect(s.manifest("default", "a:1").digest).toBe(a.manifestDigest);
  });

  test("a gzip- or zstd-compressed archive loads too (docker save | gzip)", async () => {
    const a = buildImage([l1, l2]);
    const tar = legacyDockerArchive([{ img: a, tags: ["z:1"] }]);
    for (const packed of [gzipSync(tar), zstdCompressSync(tar)]) {
      const s = store();
      const res = await loadArchive(s, "default", streamOf(packed, 3));
      expect(res.images.map((i) => i.id)).toEqual([a.id]);
    }
  });

  test("OCI layout from a directory", async () => {
    const s = store();
    const a = buildImage([l1, l2], { compress: ["gzip"] });
    const d = mkdtempSync(join(tmpdir(), "berth-oci-"));
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    const tmp = store();
    await tmp.register("default", { config: (tmp.blobs.put(a.configBytes), a.id), layers: a.layers.map((l, i) => (tmp.blobs.put(a.blobs[i]!), l)), manifestDigest: (tmp.blobs.put(a.manifest), a.manifestDigest) });
    tmp.tag("default", a.id, "dirimg:v1");
    await writeOciLayout(tmp, "default", ["dirimg:v1"], d);
    expect(JSON.parse(readFileSync(join(d, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
    expect(existsSync(join(d, "manifest.json"))).toBe(false);
    expect(readdirSync(join(d, "blobs/sha256")).sort()).toEqual([a.id, a.manifestDigest, ...a.layers.map((l) => l.digest)].map((x) => x.slice(7)).sort());
    const res = await loadDirectory(s, "default", d);
    expect(res.refs).toEqual(["docker.io/library/dirimg:v1"]);
    expect(s.resolve("default", "dirimg:v1").manifestDigest).toBe(a.manifestDigest);
  });

  test("a directory layout cannot read files outside itself through symlinks", async () => {
    const s = store();
    const d = mkdtempSync(join(tmpdir(), "berth-oci-"));
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    writeFileSync(join(d, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    symlinkSync("/etc/passwd", join(d, "index.json"));
    expect((await rejectOf(loadDirectory(s, "default", d))).message).toMatch(/points outside the layout/);
    rmSync(join(d, "index.json"));
    mkdirSync(join(d, "blobs/sha256"), { recursive: true });
    const digest = "sha256:" + "a".repeat(64);
    symlinkSync("/etc/passwd", join(d, "blobs/sha256", "a".repeat(64)));
    writeFileSync(join(d, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaType.OciManifest, digest, size: 10 }] }));
    expect((await rejectOf(loadDirectory(s, "default", d))).message).toMatch(/points outside the layout/);
    expect(readdirSync(join(s.blobs.root, "sha256"))).toEqual([]);
  });

  test("a blob whose content does not match its name is refused; nothing registered", async () => {
    const s = store();
    const a = buildImage([l1]);
    const tar = ociLayoutArchive([{ img: a, imageName: "x:1" }]);
    // change one byte of the layer blob: it no longer hashes to its name
    const bytes = new Uint8Array(tar);
    const at = Buffer.from(bytes).indexOf(Buffer.from("root:x:0:0"));
    bytes[at] = "R".charCodeAt(0);
    const e = await rejectOf(loadArchive(s, "default", streamOf(bytes)));
    expect(e.message).toMatch(/blob verification failed/);
    expect(s.list("default", { all: true })).toEqual([]);
    expect(readdirSync(join(s.blobs.root, "ingest"))).toEqual([]); // no partial file left
    s.gc(); // what did land (config, other blobs) is unreferenced once the load's lease is gone
    expect(readdirSync(join(s.blobs.root, "sha256"))).toEqual([]);
  });

  test("bad archives: not a tar, no manifest, bad manifest.json, path escapes", async () => {
    const s = store();
    expect((await rejectOf(loadArchive(s, "default", streamOf(new TextEncoder().encode("x".repeat(2000)))))).message).toMatch(/archive/);
    expect((await rejectOf(loadArchive(s, "default", streamOf(tarOf([file("hello", "x")]))))).message).toMatch(/neither manifest.json/);
    expect((await rejectOf(loadArchive(s, "default", streamOf(tarOf([file("manifest.json", "{}")]))))).message).toMatch(/not an array/);
    expect((await rejectOf(loadArchive(s, "default", streamOf(tarOf([file("manifest.json", '[{"Config":"c.json","Layers":["nope/layer.tar"]}]'), file("c.json", "{}")]))))).message).toMatch(
      /architecture: missing|not found in the archive/,
    );
    expect((await rejectOf(loadArchive(s, "default", streamOf(tarOf([file("../manifest.json", "[]")]))))).message).toMatch(/climbs out/);
    expect(s.list("default", { all: true })).toEqual([]);
  });
});

describe("save", () => {
  test("docker format: manifest.json + OCI layout, uncompressed layers; load gives the same ids and tags", async () => {
    const s = store();
    const a = buildImage([l1, l2], { compress: ["gzip", "zstd"] });
    const b = buildImage([l1, l3], { created: "2024-03-01T00:00:00Z" });
    await loadArchive(s, "default", streamOf(ociLayoutArchive([{ img: a, imageName: "a:1" }, { img: b, imageName: "b:1" }])));
    s.tag("default", "a:1", "a:2");
    const out = await collect(saveArchive(s, "default", ["a", "b:1"]));
    const ns = names(out);
    expect(ns).toContain("manifest.json");
    expect(ns).toContain("index.json");
    expect(ns).toContain("oci-layout");
    // the manifest.json docker load reads
    const r = new TarReader();
    let cur = "";
    const files = new Map<string, Uint8Array[]>();
    for (const e of r.push(out)) {
      if (e.kind === "entry") cur = e.header.name;
      else if (e.kind === "data") files.set(cur, [...(files.get(cur) ?? []), e.data.slice()]);
    }
    const mj = JSON.parse(Buffer.concat(files.get("manifest.json")!).toString());
    expect(mj.map((m: { RepoTags: string[] }) => m.RepoTags)).toEqual([["a:1", "a:2"], ["b:1"]]);
    // layers are the uncompressed tars: their digests are the diffIDs
    expect(mj[0].Layers).toEqual(a.config.rootfs.diff_ids.map((d) => `blobs/sha256/${d.slice(7)}`));
    expect(Buffer.concat(files.get(mj[0].Layers[1])!)).toEqual(Buffer.from(l2));

    const s2 = store();
    const res = await loadArchive(s2, "default", streamOf(out));
    expect(res.images.map((i) => i.id).sort()).toEqual([a.id, b.id].sort());
    expect(s2.resolve("default", "a:2").id).toBe(a.id);
    expect(s2.resolve("default", "b:1").id).toBe(b.id);
  });

  test("oci format keeps the images' own manifests and compressed blobs", async () => {
    const s = store();
    const a = buildImage([l1, l2], { compress: ["gzip", "zstd"] });
    await loadArchive(s, "default", streamOf(ociLayoutArchive([{ img: a, imageName: "a:1" }])));
    const out = await collect(saveArchive(s, "default", ["a:1"], { format: "oci" }));
    expect(names(out)).not.toContain("manifest.json");
    const s2 = store();
    const res = await loadArchive(s2, "default", streamOf(out));
    expect(res.images[0]!.manifestDigest).toBe(a.manifestDigest);
    expect(res.images[0]!.layers.map((l) => l.digest)).toEqual(a.layers.map((l) => l.digest));
  });

  test("by id saves without tags; unknown names are NotFound", async () => {
    const s = store();
    const a = buildImage([l1]);
    await loadArchive(s, "default", streamOf(legacyDockerArchive([{ img: a, tags: ["a:1"] }])));
    const out = await collect(saveArchive(s, "default", [a.id.slice(7, 19)]));
    const s2 = store();
    const res = await loadArchive(s2, "default", streamOf(out));
    expect(res.refs).toEqual([]);
    expect(s2.list("default", { dangling: true }).map((i) => i.id)).toEqual([a.id]);
    expect((await rejectOf(collect(saveArchive(s, "default", ["nothere"])))).code).toBe("NotFound");
    expect((await rejectOf(collect(saveArchive(s, "other-tenant", ["a:1"])))).code).toBe("NotFound");
  });
});

describe("import", () => {
  test("a gzip rootfs tar becomes a one-layer image with changes, message and tag", async () => {
    const s = store();
    const rootfs = tarOf([dir("bin"), file("bin/app", "app"), dir("etc")]);
    const img = await importImage(s, "default", streamOf(gzipSync(rootfs)), {
      ref: "imported:v1",
      comment: "from a tarball",
      changes: ['CMD ["/bin/app", "-x"]', "ENV A=1 B=two", "WORKDIR /srv", "EXPOSE 80", 'LABEL org.x="a b"', "USER 1000:1000"],
      now: new Date("2024-06-01T00:00:00Z"),
    });
    expect(img.repoTags).toEqual(["docker.io/library/imported:v1"]);
    expect(img.layers).toHaveLength(1);
    expect(img.layers[0]!.mediaType).toBe(MediaType.OciLayerGzip);
    expect(img.config.rootfs.diff_ids).toEqual([new Bun.CryptoHasher("sha256").update(rootfs).digest("hex")].map((h) => "sha256:" + h));
    expect(img.config.config).toMatchObject({ Cmd: ["/bin/app", "-x"], Env: ["A=1", "B=two"], WorkingDir: "/srv", ExposedPorts: { "80/tcp": {} }, Labels: { "org.x": "a b" }, User: "1000:1000" });
    expect(img.config.history).toEqual([{ created: "2024-06-01T00:00:00.000Z", created_by: "", comment: "from a tarball" }]);
    expect(img.config.architecture).toBeTruthy();
    expect(s.history("default", "imported:v1")[0]!.comment).toBe("from a tarball");
  });

  test("plain import without options; bad input changes nothing", async () => {
    const s = store();
    const img = await importImage(s, "default", streamOf(tarOf([file("x", "y")])));
    expect(img.repoTags).toEqual([]);
    expect(img.config.history![0]!.comment).toBe("Imported from -");
    expect((await rejectOf(importImage(s, "default", streamOf(new TextEncoder().encode("not a tar".repeat(100)))))).message).toMatch(/not a valid tar archive/);
    expect((await rejectOf(importImage(s, "default", streamOf(tarOf([file("x", "z")])), { changes: ["RUN rm -rf /"] }))).message).toMatch(/RUN is not supported/);
    expect((await rejectOf(importImage(s, "default", streamOf(tarOf([file("x", "z")])), { ref: "Bad:Ref" }))).code).toBe("InvalidArgument");
    expect(s.list("default", { all: true }).map((i) => i.id)).toEqual([img.id]);
    s.gc();
    expect(s.gc().blobs).toEqual([]);
  });
});
