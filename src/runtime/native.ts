/** Where the native core lives. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { failedPrecondition } from "../errors.ts";

/** The checkout: set by the bin/ launchers; from source (src/runtime/) or the bundle (build/runtime/) it is two levels up. */
const ROOT = process.env.BERTH_HOME ?? join(import.meta.dir, "..", "..");

export function berthInitPath(): string {
  const p = process.env.BERTH_INIT ?? join(ROOT, "native", "build", "berth-init");
  if (!existsSync(p)) throw failedPrecondition(`native core not built: ${p} is missing (run scripts/setup.sh)`);
  return p;
}

/** The engine's per-container monitor program (native/monitor/), exec'd by berth-init's MONITOR step. */
export function berthMonitorPath(): string {
  const p = process.env.BERTH_MONITOR ?? join(ROOT, "native", "build", "berth-monitor");
  if (!existsSync(p)) throw failedPrecondition(`native core not built: ${p} is missing (run scripts/setup.sh)`);
  return p;
}
