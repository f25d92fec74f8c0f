/** cgroup v1 backend: one directory per mounted hierarchy. */
import { BerthError } from "../../../errors.ts";
import type { Backend, CgroupStats, Owns, V1State } from "../backend.ts";
import { fileExists, readProcsRecursive, readValue, readValueOr, sysError, writeRaw } from "../fsio.ts";
import type { CgroupHierarchy } from "../hierarchy.ts";
import { hugePageSizes } from "../host.ts";
import { createCgroupDir, destroyCreated } from "../lifecycle.ts";
import { type ParsedCgroupsPath, resolveCgroupDir } from "../path.ts";
import type { NumericResources } from "../resources.ts";
import { checkSteps, type Step } from "../steps.ts";
import { v1Stats } from "./stats.ts";
import { v1Steps } from "./resources.ts";

export function v1StateFor(h: CgroupHierarchy, parsed: ParsedCgroupsPath): V1State {
  const st: V1State = { dirs: {}, paths: {}, created: [] };
  for (const m of h.v1) {
    const { dir, cgroupPath } = resolveCgroupDir(parsed, m.mountpoint, m.root, h.self[m.controllers[0]!]);
    for (const c of m.controllers) {
      st.dirs[c] = dir;
      st.paths[c] = cgroupPath;
    }
  }
  return st;
}

export class V1Backend implements Backend {
  constructor(
    private readonly h: CgroupHierarchy,
    private readonly st: V1State,
  ) {}

  /** one entry per mounted hierarchy: [mountpoint, dir] */
  private mounts(): [string, string][] {
    const out: [string, string][] = [];
    for (const m of this.h.v1) {
      const dir = this.st.dirs[m.controllers[0]!];
      if (dir) out.push([m.mountpoint, dir]);
    }
    return out;
  }

  private dir(controller: string): string {
    const d = this.st.dirs[controller];
    if (!d) throw new BerthError("FailedPrecondition", `the ${controller} controller is not mounted on this host`);
    return d;
  }

  create(): void {
    try {
      for (const [mp, dir] of this.mounts()) {
        const made = createCgroupDir(mp, dir, this.st.created, "create cgroup");
        if (this.st.dirs["cpuset"] === dir) this.initCpuset(mp, made);
      }
    } catch (e) {
      try {
        this.destroy();
      } catch {
        /* report the first error */
      }
      throw e;
    }
  }

  /** A new v1 cpuset cgroup starts with no cpus/mems: copy the parent's, top down. */
  private initCpuset(mountpoint: string, made: string[]): void {
    for (const d of made) {
      const parent = d.slice(0, d.lastIndexOf("/")) || mountpoint;
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        if (!fileExists(d, f)) continue;
        if (readValueOr(d, f, "") !== "") continue;
        const v = readValueOr(parent, f, "");
        if (v === "") continue;
        try {
          writeRaw(d, f, v);
        } catch (e) {
          throw sysError(`create cgroup: copy ${f} from ${parent}`, "write", `${d}/${f}`, f, e);
        }
      }
    }
  }

  apply(pid: number): void {
    for (const [, dir] of this.mounts()) {
      try {
        writeRaw(dir, "cgroup.procs", String(pid));
      } catch (e) {
        throw sysError(`apply pid ${pid}`, "write", `${dir}/cgroup.procs`, `${dir}/cgroup.procs`, e);
      }
    }
  }

  plan(r: NumericResources, owns: Owns): Step[] {
    return checkSteps(v1Steps(r, owns, (c) => this.dir(c)), "not supported by this kernel");
  }

  processes(): number[] {
    for (const c of ["pids", "freezer", "memory", "devices", "cpu", "cpuacct"]) {
      const d = this.st.dirs[c];
      if (d) return readProcsRecursive(d);
    }
    const first = this.mounts()[0];
    return first ? readProcsRecursive(first[1]) : [];
  }

  freeze(): void {
    const d = this.dir("freezer");
    const deadline = Date.now() + 10_000;
    for (let i = 0; ; i++) {
      try {
        if (i % 50 === 0) writeRaw(d, "freezer.state", "FROZEN");
        if (readValue(d, "freezer.state") === "FROZEN") return;
      } catch (e) {
        throw sysError("freeze", "write", `${d}/freezer.state`, "freezer.state", e);
      }
      if (Date.now() > deadline) {
        try {
          writeRaw(d, "freezer.state", "THAWED");
        } catch {
          /* reported below */
        }
        throw new BerthError("Unavailable", `freeze: ${d} did not reach FROZEN within 10s`);
      }
      Bun.sleepSync(1);
    }
  }

  thaw(): void {
    const d = this.dir("freezer");
    const deadline = Date.now() + 10_000;
    for (let i = 0; ; i++) {
      try {
        if (i % 50 === 0) writeRaw(d, "freezer.state", "THAWED");
        if (readValue(d, "freezer.state") === "THAWED") return;
      } catch (e) {
        throw sysError("thaw", "write", `${d}/freezer.state`, "freezer.state", e);
      }
      if (Date.now() > deadline) throw new BerthError("Unavailable", `thaw: ${d} did not reach THAWED within 10s`);
      Bun.sleepSync(1);
    }
  }

  isFrozen(): boolean {
    const d = this.dir("freezer");
    return readValueOr(d, "freezer.state", "THAWED") === "FROZEN";
  }

  stats(into: CgroupStats, owns: Owns): void {
    v1Stats(into, owns, (c) => this.st.dirs[c], hugePageSizes(this.h));
  }

  destroy(): void {
    const leaves = new Set(this.mounts().map(([, d]) => d));
    destroyCreated(this.st.created, leaves, this.h.v1.map((m) => m.mountpoint), "destroy cgroup");
  }
}
