/** The host's OCI platform and picking a manifest from an index by platform. */
import type { Descriptor } from "./blobs.ts";
import { isManifestType } from "./spec.ts";
import type { Platform } from "./spec.ts";

const ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", loong64: "loong64" };

export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  return architecture === "arm" ? { os: "linux", architecture, variant: "v7" } : { os: "linux", architecture };
}

/** Does a descriptor's platform satisfy `want` (variant only compared when both name one)? */
export function platformMatches(have: Platform | undefined, want: Platform): boolean {
  if (!have) return false;
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  return !have.variant || !want.variant || have.variant === want.variant;
}

/**
 * The image manifest for `want` among an index's entries: the first that
 * matches; when none has a platform and there is exactly one manifest, that one.
 */
export function selectManifest(manifests: Descriptor[], want: Platform = hostPlatform()): Descriptor | undefined {
  const images = manifests.filter((m) => isManifestType(m.mediaType) || m.mediaType === undefined);
  const hit = images.find((m) => platformMatches(m.platform, want));
  if (hit) return hit;
  const unplatformed = images.filter((m) => !m.platform);
  return unplatformed.length === 1 && images.length === 1 ? unplatformed[0] : undefined;
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}
