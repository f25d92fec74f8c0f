import { describe, expect, test } from "bun:test";
import { MediaType } from "../../../src/engine/images/spec.ts";
import { checkImage, parseManifest } from "../../../src/engine/registry/manifest.ts";
import { BerthError } from "../../../src/errors.ts";

const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const D = (c: string) => "sha256:" + c.repeat(64);
const manifest = (over: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: D("a"), size: 10 },
  layers: [{ mediaType: MediaType.OciLayerZstd, digest: D("b"), size: 20 }],
  ...over,
});

function err(f: () => unknown): BerthError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BerthError);
    return e as BerthError;
  }
  throw new Error("expected an error");
}

describe("parseManifest", () => {
  test("OCI and docker manifests and indexes", () => {
    expect(parseManifest(enc(manifest())).kind).toBe("manifest");
    const docker = parseManifest(enc(manifest({ mediaType: MediaType.DockerManifest })));
    expect(docker.mediaType).toBe(MediaType.DockerManifest);
    const idx = parseManifest(enc({ schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [{ mediaType: MediaType.DockerManifest, digest: D("c"), size: 5 }] }));
    expect(idx.kind).toBe("index");
    // no mediaType in the body: the Content-Type decides
    const { mediaType: _, ...bare } = manifest();
    expect(parseManifest(enc(bare), MediaType.DockerManifest).mediaType).toBe(MediaType.DockerManifest);
  });

  test("schema 1 is refused with a clear error", () => {
    const e = err(() => parseManifest(enc({ schemaVersion: 1, name: "x", tag: "y", fsLayers: [] }), "application/vnd.docker.distribution.manifest.v1+prettyjws"));
    expect(e.code).toBe("FailedPrecondition");
    expect(e.message).toContain("schema 1");
    expect(e.message).toContain("not supported");
  });

  test("hostile descriptors are refused before anything is fetched", () => {
    for (const digest of ["sha256:../../../etc/passwd", "sha512:" + "a".repeat(128), D("A"), "sha256:abc"]) {
      expect(err(() => parseManifest(enc(manifest({ config: { mediaType: MediaType.OciConfig, digest, size: 1 } })))).message).toContain("is not sha256:<64 hex>");
    }
    for (const size of [-1, 1.5, 2 ** 60, "12", null]) {
      expect(err(() => parseManifest(enc(manifest({ layers: [{ mediaType: MediaType.OciLayer, digest: D("b"), size }] })))).message).toContain("non-negative integer");
    }
    expect(err(() => parseManifest(enc(manifest()), MediaType.DockerManifest)).message).toContain("does not match the Content-Type");
    expect(err(() => parseManifest(new TextEncoder().encode("{nope"))).message).toContain("not valid JSON");
    expect(err(() => parseManifest(enc(manifest({ mediaType: "application/vnd.example+json" })))).message).toContain("not supported");
  });

  test("checkImage: layer types and one diff_id per layer", () => {
    const m = parseManifest(enc(manifest()));
    if (m.kind !== "manifest") throw new Error("kind");
    expect(() => checkImage(m.manifest, { rootfs: { diff_ids: [D("d")] } })).not.toThrow();
    expect(err(() => checkImage(m.manifest, { rootfs: { diff_ids: [] } })).message).toBe("image config has 0 diff_ids for 1 layers");
    expect(err(() => checkImage({ ...m.manifest, layers: [{ mediaType: "application/x-evil", digest: D("b"), size: 1 }] }, { rootfs: { diff_ids: [D("d")] } })).message).toContain(
      "is not a layer type",
    );
  });
});
