/**
 * Which CRIU berth runs. An explicit choice (runtime --criu, else $BERTH_CRIU)
 * must work; otherwise the first that runs of /usr/local/sbin/criu (where
 * scripts/setup-criu.sh installs a build that works on new kernels) and `criu`
 * on PATH (a distro package, possibly too old for this kernel: see
 * ../shared/CRIU.md).
 */
import { accessSync, constants as fsc } from "node:fs";
import { join } from "node:path";
import { failedPrecondition } from "../../errors.ts";

export interface Criu {
  path: string;
  /** [major, minor, sublevel] from `criu --version` */
  version: [number, number, number];
}

export const LOCAL_CRIU = "/usr/local/sbin/criu";

const cache = new Map<string, Criu | null>();

/** `criu --version` -> version, or null when it does not run. */
export function probe(path: string): Criu | null {
  if (cache.has(path)) return cache.get(path)!;
  let c: Criu | null = null;
  try {
    accessSync(path, fsc.X_OK);
    const r = Bun.spawnSync([path, "--version"], { stdout: "pipe", stderr: "ignore", stdin: "ignore", timeout: 10_000 });
    const m = /Version:\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(r.stdout.toString());
    if (r.exitCode === 0 && m) c = { path, version: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] };
  } catch {
    c = null;
  }
  cache.set(path, c);
  return c;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, fsc.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}

/** The CRIU to use; throws FailedPrecondition naming what was tried. */
export function resolveCriu(explicit?: string): Criu {
  const chosen = explicit || process.env.BERTH_CRIU;
  if (chosen) {
    const path = chosen.includes("/") ? chosen : onPath(chosen);
    const c = path ? probe(path) : null;
    if (!c) throw failedPrecondition(`criu: ${chosen} does not run (${explicit ? "--criu" : "BERTH_CRIU"})`);
    return c;
  }
  const tried = [LOCAL_CRIU, onPath("criu")].filter((p): p is string => !!p);
  for (const p of tried) {
    const c = probe(p);
    if (c) return c;
  }
  throw failedPrecondition(
    `criu: no working criu found (tried ${[LOCAL_CRIU, "criu on PATH"].join(", ")}): run scripts/setup-criu.sh or set BERTH_CRIU`,
  );
}

export function versionString(c: Criu): string {
  return c.version.join(".");
}

/** `criu check --feature NAME` passes (e.g. mem_dirty_track, uffd-noncoop). */
export function hasFeature(c: Criu, feature: string): boolean {
  const r = Bun.spawnSync([c.path, "check", "--feature", feature], { stdout: "ignore", stderr: "ignore", stdin: "ignore", timeout: 30_000 });
  return r.exitCode === 0;
}
