/** cgroup v2 backend: one directory in the unified hierarchy. */
import { BerthError } from "../../../errors.ts";
import type { Backend, CgroupStats, Owns, V2State } from "../backend.ts";
import { fileExists, readKeyValues, readProcsRecursive, readRaw, readValueOr, sysError, writeRaw } from "../fsio.ts";
import type { CgroupHierarchy } from "../hierarchy.ts";
import { hugePageSizes } from "../host.ts";
import { createCgroupDir, destroyCreated } from "../lifecycle.ts";
import { type ParsedCgroupsPath, resolveCgroupDir } from "../path.ts";
import type { NumericResources } from "../resources.ts";
import { checkSteps, type Step } from "../steps.ts";
import { type DeviceProgramLoader } from "./deviceprog.ts";
import { v2Steps } from "./resources.ts";
import { v2Stats } from "./stats.ts";

export function v2StateFor(h: CgroupHierarchy, parsed: ParsedCgroupsPath): V2State {
  const m = h.v2!;
  const { dir, cgroupPath } = resolveCgroupDir(parsed, m.mountpoint, m.root, h.self[""]);
  return { dir, path: cgroupPath, created: [] };
}

const words = (dir: string, file: string): string[] => {
  try {
    return readRaw(dir, file).split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
};

export class V2Backend implements Backend {
  constructor(
    private readonly h: CgroupHierarchy,
    private readonly st: V2State,
    private readonly devices: DeviceProgramLoader,
  ) {}

  private get mountpoint(): string {
    return this.h.v2!.mountpoint;
  }

  create(): void {
    createCgroupDir(this.mountpoint, this.st.dir, this.st.created, "create cgroup");
    // enable every available controller on the way down (best effort, as runc:
    // a controller that cannot be enabled shows up as a missing file in set())
    const chain = [this.mountpoint];
    for (let d = this.st.dir; d !== this.mountpoint && d.startsWith(this.mountpoint + "/"); d = d.slice(0, d.lastIndexOf("/"))) {
      if (d !== this.st.dir) chain.splice(1, 0, d);
    }
    for (const d of chain) {
      const enabled = new Set(words(d, "cgroup.subtree_control"));
      const missing = words(d, "cgroup.controllers").filter((c) => !enabled.has(c));
      if (!missing.length) continue;
      try {
        writeRaw(d, "cgroup.subtree_control", missing.map((c) => `+${c}`).join(" "));
      } catch {
        for (const c of missing) {
          try {
            writeRaw(d, "cgroup.subtree_control", `+${c}`);
          } catch {
            /* reported by set() if a resource needs it */
          }
        }
      }
    }
  }

  apply(pid: number): void {
    try {
      writeRaw(this.st.dir, "cgroup.procs", String(pid));
    } catch (e) {
      throw sysError(`apply pid ${pid}`, "write", `${this.st.dir}/cgroup.procs`, `${this.st.dir}/cgroup.procs`, e);
    }
  }

  plan(r: NumericResources, owns: Owns): Step[] {
    return checkSteps(v2Steps(r, owns, this.st.dir, this.devices), "controller not enabled in the parent's cgroup.subtree_control, or not supported by this kernel");
  }

  processes(): number[] {
    return readProcsRecursive(this.st.dir);
  }

  private setFrozen(frozen: boolean): void {
    const d = this.st.dir;
    const want = frozen ? "1" : "0";
    try {
      writeRaw(d, "cgroup.freeze", want);
    } catch (e) {
      throw sysError(frozen ? "freeze" : "thaw", "write", `${d}/cgroup.freeze`, "cgroup.freeze", e);
    }
    if (!fileExists(d, "cgroup.events")) return;
    const deadline = Date.now() + 10_000;
    while ((readKeyValues(d, "cgroup.events").get("frozen") ?? 0) !== (frozen ? 1 : 0)) {
      if (Date.now() > deadline) {
        if (frozen) {
          try {
            writeRaw(d, "cgroup.freeze", "0");
          } catch {
            /* reported below */
          }
        }
        throw new BerthError("Unavailable", `${frozen ? "freeze" : "thaw"}: ${d} did not become ${frozen ? "frozen" : "thawed"} within 10s`);
      }
      Bun.sleepSync(1);
    }
  }

  freeze(): void {
    this.setFrozen(true);
  }

  thaw(): void {
    this.setFrozen(false);
  }

  isFrozen(): boolean {
    const d = this.st.dir;
    if (fileExists(d, "cgroup.events")) return readKeyValues(d, "cgroup.events").get("frozen") === 1;
    return readValueOr(d, "cgroup.freeze", "0") === "1";
  }

  stats(into: CgroupStats, owns: Owns): void {
    v2Stats(into, owns, this.st.dir, hugePageSizes(this.h));
  }

  destroy(): void {
    destroyCreated(this.st.created, new Set([this.st.dir]), [this.mountpoint], "destroy cgroup");
  }
}
