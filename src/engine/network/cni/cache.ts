/**
 * The attachment cache, like libcni's: one file per (network, container,
 * interface) under <dir>/results/, holding the conflist the attachment was
 * made with, its parameters and the result. DEL and CHECK read it (prevResult),
 * and after a crash it is how every attachment can still be torn down even if
 * the network's conflist is gone. Unlike libcni, berth writes it after each
 * plugin of an ADD chain (`complete: false` until the last), so an ADD killed
 * half-way still leaves what DEL needs.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CniResult, NetConfList } from "./types.ts";
import { isObject } from "./types.ts";

export interface CachedAttachment {
  kind: "berthCniCacheV1";
  containerId: string;
  networkName: string;
  ifName: string;
  netns: string;
  config: NetConfList;
  cniArgs: [string, string][];
  capabilityArgs: Record<string, unknown>;
  /** false while an ADD is running (the result is what the plugins so far returned) */
  complete: boolean;
  result?: CniResult;
}

export class ResultCache {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, "results");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(network: string, containerId: string, ifName: string) {
    return join(this.dir, `${network}-${containerId}-${ifName}`);
  }

  get(network: string, containerId: string, ifName: string): CachedAttachment | undefined {
    try {
      return parse(readFileSync(this.file(network, containerId, ifName), "utf8"));
    } catch {
      return undefined;
    }
  }

  put(a: CachedAttachment) {
    const p = this.file(a.networkName, a.containerId, a.ifName);
    const tmp = `${p}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(a), { mode: 0o600 });
    renameSync(tmp, p);
  }

  remove(network: string, containerId: string, ifName: string) {
    rmSync(this.file(network, containerId, ifName), { force: true });
  }

  /** Every cached attachment (temp files of an interrupted write are removed). */
  list(): CachedAttachment[] {
    const out: CachedAttachment[] = [];
    for (const n of readdirSync(this.dir)) {
      const p = join(this.dir, n);
      if (n.includes(".tmp-")) {
        rmSync(p, { force: true });
        continue;
      }
      try {
        const a = parse(readFileSync(p, "utf8"));
        if (a) out.push(a);
      } catch {}
    }
    return out;
  }
}

function parse(text: string): CachedAttachment | undefined {
  const v = JSON.parse(text);
  if (!isObject(v) || v.kind !== "berthCniCacheV1" || typeof v.containerId !== "string" || !isObject(v.config)) return undefined;
  return v as unknown as CachedAttachment;
}
