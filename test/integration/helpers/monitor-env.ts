/**
 * The setting the monitor tests share: this process a child subreaper (as
 * berthd), a runtime root and an exec root of their own; at the end every
 * monitored container they started (or that recover() finds) killed, waited
 * for and removed, then the roots and bundles.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recover, type MonitoredContainer } from "../../../src/engine/monitor/index.ts";
import { Runtime } from "../../../src/runtime/container.ts";
import { setChildSubreaper } from "../../../src/runtime/sys/reaper.ts";
import type { Bundle } from "../harness.ts";

export interface MonitorEnv {
  runtimeRoot: string;
  execRoot: string;
  rt: Runtime;
}

export function monitorEnv(prefix: string): MonitorEnv {
  setChildSubreaper(true);
  const runtimeRoot = mkdtempSync(join(tmpdir(), `${prefix}-rt-`));
  const execRoot = mkdtempSync(join(tmpdir(), `${prefix}-exec-`));
  return { runtimeRoot, execRoot, rt: new Runtime(runtimeRoot) };
}

/** Kill, wait for and remove every monitored container of the env. */
export async function stopMonitored(env: MonitorEnv, started: MonitoredContainer[]): Promise<void> {
  for (const c of [...started, ...recover(env.execRoot)]) {
    try {
      if (c.state() === "running") env.rt.kill(c.id, 9);
      if (c.state() !== "lost") await c.wait();
    } catch {}
    await c.remove().catch(() => {});
  }
}

export function removeMonitorEnv(env: MonitorEnv, bundles: Bundle[]): void {
  setChildSubreaper(false);
  for (const b of bundles) b.cleanup();
  rmSync(env.runtimeRoot, { recursive: true, force: true });
  rmSync(env.execRoot, { recursive: true, force: true });
}
