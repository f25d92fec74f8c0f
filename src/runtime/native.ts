/** Where the native core lives. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { failedPrecondition } from "../errors.ts";
import { sealedCopy } from "./sys/memfd.ts";

/** The checkout: set by the bin/ launchers; from source (src/runtime/) or the bundle (build/runtime/) it is two levels up. */
const ROOT = process.env.BERTH_HOME ?? join(import.meta.dir, "..", "..");

export function berthInitPath(): string {
  const p = process.env.BERTH_INIT ?? join(ROOT, "native", "build", "berth-init");
  if (!existsSync(p)) throw failedPrecondition(`native core not built: ${p} is missing (run scripts/setup.sh)`);
  return p;
}

let sealed: string | undefined;

/**
 * The file to execute berth-init from: a sealed memfd copy, made once per
 * process (an engine makes it once for all its containers). berth-init seals
 * itself when started from anything else, but that costs it a second exec.
 * Falls back to the plain path if this process cannot make the copy.
 */
export function berthInitExe(): string {
  if (sealed) return sealed;
  const path = berthInitPath();
  try {
    sealed = `/proc/self/fd/${sealedCopy(path, "berth-init")}`;
  } catch {
    return path;
  }
  return sealed;
}

/** The engine's per-container monitor program (native/monitor/), exec'd by berth-init's MONITOR step. */
export function berthMonitorPath(): string {
  const p = process.env.BERTH_MONITOR ?? join(ROOT, "native", "build", "berth-monitor");
  if (!existsSync(p)) throw failedPrecondition(`native core not built: ${p} is missing (run scripts/setup.sh)`);
  return p;
}
