import { describe, expect, test } from "bun:test";
import type { Descriptor } from "../../../src/engine/images/blobs.ts";
import { formatPlatform, normalizePlatform, parsePlatform, platformRank, selectManifest } from "../../../src/engine/registry/platform.ts";
import { BerthError } from "../../../src/errors.ts";

const d = (n: number, os: string, architecture: string, variant?: string): Descriptor => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: "sha256:" + String(n).repeat(64).slice(0, 64),
  size: 1,
  platform: variant ? { os, architecture, variant } : { os, architecture },
});

describe("platforms", () => {
  test("normalization follows containerd", () => {
    expect(normalizePlatform({ os: "Linux", architecture: "x86_64" })).toEqual({ os: "linux", architecture: "amd64" });
    expect(normalizePlatform({ os: "linux", architecture: "aarch64", variant: "v8" })).toEqual({ os: "linux", architecture: "arm64" });
    expect(normalizePlatform({ os: "linux", architecture: "arm" })).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(normalizePlatform({ os: "linux", architecture: "armhf" })).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(normalizePlatform({ os: "linux", architecture: "amd64", variant: "v1" })).toEqual({ os: "linux", architecture: "amd64" });
    expect(parsePlatform("linux/arm/v6")).toEqual({ os: "linux", architecture: "arm", variant: "v6" });
    expect(formatPlatform(parsePlatform("linux/arm64/v8"))).toBe("linux/arm64");
  });

  test("bad platform strings are InvalidArgument", () => {
    for (const s of ["", "linux/amd64/v2/x", "linux//v7", "linux/am d64"]) {
      expect(() => parsePlatform(s)).toThrow(BerthError);
    }
  });

  test("variant ranking: exact first, then lower compatible variants", () => {
    const want = parsePlatform("linux/arm/v7");
    expect(platformRank(want, { os: "linux", architecture: "arm", variant: "v7" })).toBe(0);
    expect(platformRank(want, { os: "linux", architecture: "arm", variant: "v6" })).toBe(1);
    expect(platformRank(want, { os: "linux", architecture: "arm", variant: "v8" })).toBe(-1);
    expect(platformRank(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64", variant: "v2" })).toBe(-1);
    expect(platformRank(parsePlatform("linux/amd64/v3"), { os: "linux", architecture: "amd64", variant: "v2" })).toBe(1);
    expect(platformRank(parsePlatform("linux/amd64/v3"), { os: "linux", architecture: "amd64" })).toBe(2);
    expect(platformRank(parsePlatform("linux/arm64"), { os: "windows", architecture: "arm64" })).toBe(-1);
  });

  test("selectManifest picks the best entry and skips entries without a platform (attestations)", () => {
    const list = [
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:" + "f".repeat(64), size: 1, platform: { os: "unknown", architecture: "unknown" } },
      d(1, "linux", "arm", "v6"),
      d(2, "linux", "arm", "v7"),
      d(3, "linux", "amd64"),
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:" + "e".repeat(64), size: 1 },
    ];
    expect(selectManifest(list, parsePlatform("linux/arm/v7")).digest).toBe(list[2]!.digest);
    expect(selectManifest(list, parsePlatform("linux/arm/v6")).digest).toBe(list[1]!.digest);
    expect(selectManifest(list, parsePlatform("linux/amd64")).digest).toBe(list[3]!.digest);
    expect(() => selectManifest(list, parsePlatform("linux/arm64"))).toThrow("no matching manifest for linux/arm64 in the manifest list entries");
  });
});
