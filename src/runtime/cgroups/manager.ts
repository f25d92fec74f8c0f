/**
 * The cgroup layer's entry point: one CgroupManager per container, composed of
 * a v1 backend (v1 hierarchies), a v2 backend (the cgroup2 mount), or both
 * (hybrid hosts: each resource goes to whichever side has its controller —
 * e.g. memory on v1, hugetlb on cgroup2).
 *
 *   const m = createCgroupManager({ id, cgroupsPath: spec.linux?.cgroupsPath });
 *   m.create(); m.set(spec.linux.resources); m.apply(pid);   // on failure: m.destroy()
 *   saveState(m.toJSON()); ... loadCgroupManager(state).destroy();
 */
import { BerthError } from "../../errors.ts";
import type { Backend, CgroupStats, V1State, V2State } from "./backend.ts";
import { type CgroupHierarchy, detectHierarchy } from "./hierarchy.ts";
import { type ParsedCgroupsPath, parseCgroupsPath } from "./path.ts";
import { type LinuxResources, toNumeric } from "./resources.ts";
import { runSteps, type Step } from "./steps.ts";
import { V1Backend, v1StateFor } from "./v1/backend.ts";
import { V2Backend, v2StateFor } from "./v2/backend.ts";
import { bpfDeviceProgramLoader, type DeviceProgramLoader } from "./v2/deviceprog.ts";
import { type BackendKind, checkValidity, ownerOf, type ResourceKind } from "./validate.ts";

export type { BlkioEntry, BlkioTable, CgroupStats, CpusetStats, MemoryCounter } from "./backend.ts";
export type { CgroupHierarchy, CgroupMode } from "./hierarchy.ts";
export { detectHierarchy } from "./hierarchy.ts";
export type { LinuxResources } from "./resources.ts";
export { checkValidity, type ResourceKind } from "./validate.ts";
export { containerCgroupMounts, type CgroupMountView } from "./mounts.ts";
import { containerCgroupMounts, type CgroupMountView } from "./mounts.ts";
export { DEFAULT_ALLOWED_DEVICES } from "./devices.ts";

export interface CgroupManager {
  /** mkdir the cgroup(s); records which directories it created itself */
  create(): void;
  /** move pid into the cgroup(s) */
  apply(pid: number): void;
  /** write limits; a value the kernel rejects throws BerthError naming the OCI field */
  set(resources: LinuxResources): void;
  /**
   * set() on a live container (`update`): writes only what `resources` names,
   * and if a write fails, restores the files already written before throwing
   */
  update(resources: LinuxResources): void;
  /** checkValidity against this manager's hierarchy: throws what set() would reject up front, touches nothing */
  check(resources: LinuxResources): void;
  /** the hierarchies as the container should see them (see mounts.ts) */
  mounts(): CgroupMountView[];
  /** serializable description to persist in the container's state */
  toJSON(): CgroupState;
  /** pids in the container's cgroup, sub-cgroups included (for kill --all) */
  processes(): number[];
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  stats(): CgroupStats;
  /** the container's directory for a controller and which cgroup version's files it has (e.g. memory events) */
  dirFor(kind: ResourceKind): { version: 1 | 2; dir: string } | undefined;
  /** remove the directories this container created (leaf first); never one it did not create */
  destroy(): void;
}

/** What a container's state.json keeps about its cgroups. */
export interface CgroupState {
  version: 1;
  id: string;
  cgroupsPath: ParsedCgroupsPath;
  /** the host layout at create time */
  hierarchy: CgroupHierarchy;
  v1?: V1State;
  v2?: V2State;
}

export interface CgroupManagerOptions {
  id: string;
  /** linux.cgroupsPath of the spec */
  cgroupsPath?: string;
  /** detected from /proc if omitted; tests pass one built on a temporary directory */
  hierarchy?: CgroupHierarchy;
  /** how v2 device programs are attached (default: bpf(2)); tests substitute a recorder */
  deviceProgramLoader?: DeviceProgramLoader;
}

class Manager implements CgroupManager {
  private readonly v1?: V1Backend;
  private readonly v2?: V2Backend;

  constructor(
    private readonly st: CgroupState,
    loader: DeviceProgramLoader,
  ) {
    if (st.v1) this.v1 = new V1Backend(st.hierarchy, st.v1);
    if (st.v2) this.v2 = new V2Backend(st.hierarchy, st.v2, loader);
  }

  private backends(): Backend[] {
    return [this.v1, this.v2].filter((b): b is V1Backend | V2Backend => b !== undefined);
  }

  private backend(kind: BackendKind | undefined): Backend | undefined {
    return kind === "v1" ? this.v1 : kind === "v2" ? this.v2 : undefined;
  }

  private owns(kind: BackendKind) {
    return (k: ResourceKind) => ownerOf(this.st.hierarchy, k) === kind;
  }

  create(): void {
    const done: Backend[] = [];
    try {
      for (const b of this.backends()) {
        b.create();
        done.push(b);
      }
    } catch (e) {
      for (const b of done) {
        try {
          b.destroy();
        } catch {
          /* the create error is the one to report */
        }
      }
      throw e;
    }
  }

  apply(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 0) throw new BerthError("InvalidArgument", `apply: ${pid} is not a pid`);
    for (const b of this.backends()) b.apply(pid);
  }

  set(resources: LinuxResources): void {
    runSteps(this.plan(resources));
  }

  update(resources: LinuxResources): void {
    runSteps(this.plan(resources), { rollback: true });
  }

  /** compile and check every step on every side before the first write */
  private plan(resources: LinuxResources): Step[] {
    checkValidity(resources, this.st.hierarchy);
    const r = toNumeric(resources);
    const steps: Step[] = [];
    if (this.v1) steps.push(...this.v1.plan(r, this.owns("v1")));
    if (this.v2) steps.push(...this.v2.plan(r, this.owns("v2")));
    return steps;
  }

  check(resources: LinuxResources): void {
    checkValidity(resources, this.st.hierarchy);
  }

  mounts(): CgroupMountView[] {
    return containerCgroupMounts(this.st);
  }

  toJSON(): CgroupState {
    return structuredClone(this.st);
  }

  processes(): number[] {
    const b = this.v1 ?? this.v2;
    return b ? b.processes() : [];
  }

  private freezer(op: string): Backend {
    const b = this.backend(ownerOf(this.st.hierarchy, "freezer"));
    if (!b) throw new BerthError("FailedPrecondition", `${op}: no freezer on this host (v1 freezer not mounted, no cgroup2)`);
    return b;
  }

  freeze(): void {
    this.freezer("freeze").freeze();
  }

  thaw(): void {
    this.freezer("thaw").thaw();
  }

  isFrozen(): boolean {
    return this.freezer("freezer state").isFrozen();
  }

  stats(): CgroupStats {
    const out: CgroupStats = {};
    if (this.v1) this.v1.stats(out, this.owns("v1"));
    if (this.v2) this.v2.stats(out, this.owns("v2"));
    return out;
  }

  dirFor(kind: ResourceKind): { version: 1 | 2; dir: string } | undefined {
    const owner = ownerOf(this.st.hierarchy, kind);
    if (owner === "v2" && this.st.v2) return { version: 2, dir: this.st.v2.dir };
    if (owner !== "v1" || !this.st.v1) return undefined;
    const dir = this.st.v1.dirs[kind];
    return dir ? { version: 1, dir } : undefined;
  }

  destroy(): void {
    let first: unknown;
    for (const b of this.backends()) {
      try {
        b.destroy();
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }
}

export function createCgroupManager(opts: CgroupManagerOptions): CgroupManager {
  const h = opts.hierarchy ?? detectHierarchy();
  const parsed = parseCgroupsPath(opts.cgroupsPath, opts.id);
  const st: CgroupState = { version: 1, id: opts.id, cgroupsPath: parsed, hierarchy: h };
  if (h.mode !== "v2" && h.v1.length) st.v1 = v1StateFor(h, parsed);
  if (h.mode !== "v1" && h.v2) st.v2 = v2StateFor(h, parsed);
  return new Manager(st, opts.deviceProgramLoader ?? bpfDeviceProgramLoader);
}

export function loadCgroupManager(state: CgroupState, opts: { deviceProgramLoader?: DeviceProgramLoader } = {}): CgroupManager {
  if (!state || state.version !== 1 || !state.hierarchy) {
    throw new BerthError("InvalidArgument", "load cgroup state: not a berth cgroup state (version 1)");
  }
  return new Manager(structuredClone(state), opts.deviceProgramLoader ?? bpfDeviceProgramLoader);
}
