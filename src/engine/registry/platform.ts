/**
 * Platforms ("os/arch/variant") and choosing one manifest from an index, with
 * containerd's normalization and variant rules: arm/v7 runs v6 and v5 images,
 * amd64/v3 runs v2 and v1, arm64 "v8" is plain arm64; the exact variant wins,
 * then the highest compatible one, then index order.
 */
import { invalidArgument, notFound } from "../../errors.ts";
import type { Descriptor } from "../images/blobs.ts";
import type { Platform } from "../images/spec.ts";

export type { Platform };

const ARCH_ALIASES: Record<string, [string, string?]> = {
  x86_64: ["amd64"],
  "x86-64": ["amd64"],
  i386: ["386"],
  i686: ["386"],
  aarch64: ["arm64"],
  armhf: ["arm", "v7"],
  armel: ["arm", "v6"],
};

/** Normalize as containerd does: aliases resolved, arm defaults to v7, arm64/v8 and amd64/v1 to no variant. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let arch = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() || undefined;
  const alias = ARCH_ALIASES[arch];
  if (alias) {
    arch = alias[0];
    variant = variant ?? alias[1];
  }
  if (arch === "arm" && !variant) variant = "v7";
  if (arch === "arm" && variant && /^\d+$/.test(variant)) variant = `v${variant}`;
  if (arch === "arm64" && (variant === "v8" || variant === "8")) variant = undefined;
  if (arch === "amd64" && variant === "v1") variant = undefined;
  return variant ? { os, architecture: arch, variant } : { os, architecture: arch };
}

/** "linux", "linux/arm64", "linux/arm/v7" */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw invalidArgument(`invalid platform "${s}": expected os[/arch[/variant]]`);
  }
  const [os, arch, variant] = parts as [string, string?, string?];
  return normalizePlatform({ os, architecture: arch ?? hostPlatform().architecture, variant });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

const NODE_ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

/** The platform of this machine (linux/amd64 here). */
export function hostPlatform(): Platform {
  return normalizePlatform({ os: "linux", architecture: NODE_ARCH[process.arch] ?? process.arch });
}

/** Variants `want` can run, best first; [] when the variant is not ordered. */
function compatibleVariants(arch: string, want: string | undefined): (string | undefined)[] {
  const ladder = (prefix: string, top: number, bottom: number, plainIs?: number) => {
    const out: (string | undefined)[] = [];
    for (let v = top; v >= bottom; v--) out.push(v === plainIs ? undefined : `${prefix}${v}`);
    return out;
  };
  if (arch === "arm") {
    const n = Number(want?.slice(1) ?? 7);
    return Number.isInteger(n) && n >= 5 && n <= 8 ? ladder("v", n, 5) : [want];
  }
  if (arch === "amd64") {
    const n = want ? Number(want.slice(1)) : 1;
    return Number.isInteger(n) && n >= 1 && n <= 4 ? ladder("v", n, 1, 1) : [want];
  }
  return [want];
}

/** Rank of `have` for `want` (0 best), or -1 when it cannot run. */
export function platformRank(want: Platform, have: Platform): number {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return -1;
  return compatibleVariants(w.architecture, w.variant).findIndex((v) => v === h.variant);
}

/** The best manifest of an index for `want`, or NotFound as docker words it. */
export function selectManifest(manifests: Descriptor[], want: Platform): Descriptor {
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const d of manifests) {
    if (!d.platform || typeof d.platform.os !== "string" || typeof d.platform.architecture !== "string") continue;
    const r = platformRank(want, d.platform);
    if (r >= 0 && r < bestRank) {
      best = d;
      bestRank = r;
    }
  }
  if (!best) throw notFound(`no matching manifest for ${formatPlatform(normalizePlatform(want))} in the manifest list entries`);
  return best;
}
