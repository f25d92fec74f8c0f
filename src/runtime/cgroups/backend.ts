/** What the v1 and v2 backends share; the manager composes one or both. */
import type { NumericResources } from "./resources.ts";
import type { Step } from "./steps.ts";
import type { ResourceKind } from "./validate.ts";

/**
 * Resource usage of a container's cgroup. Every section is present only when
 * the host has the controller. Bytes and counts are plain numbers; a limit of
 * null means unlimited.
 */
export interface CgroupStats {
  memory?: {
    /** bytes in use now (v1 memory.usage_in_bytes, v2 memory.current) */
    usage: number;
    /** peak bytes (v1 memory.max_usage_in_bytes, v2 memory.peak when the kernel has it) */
    maxUsage?: number;
    limit: number | null;
    /** times the limit was hit (v1 memory.failcnt, v2 memory.events "max") */
    failcnt: number;
    /** processes killed by the OOM killer (oom_control / memory.events "oom_kill") */
    oomKills: number;
    /** v1: memory+swap in use (memsw.usage_in_bytes); v2: swap in use (memory.swap.current) */
    swapUsage?: number;
    /** memory.stat as key -> value */
    stat: Record<string, number>;
  };
  cpu?: {
    /** total cpu time in nanoseconds */
    usageNs: number;
    userNs: number;
    systemNs: number;
    periods: number;
    throttledPeriods: number;
    throttledNs: number;
  };
  pids?: { current: number; limit: number | null };
  blkio?: {
    readBytes: number;
    writeBytes: number;
    devices: { major: number; minor: number; readBytes: number; writeBytes: number }[];
  };
  /** by page size ("2MB") */
  hugetlb?: Record<string, { usage: number; maxUsage?: number; limit: number | null; failcnt: number }>;
}

export interface V1State {
  /** controller ("memory", "cpuacct", "name=systemd", ...) -> the container's cgroup directory on the host */
  dirs: Record<string, string>;
  /** controller -> the container's cgroup path within that hierarchy */
  paths: Record<string, string>;
  /** directories berth created, in creation order (parents first) */
  created: string[];
}

export interface V2State {
  dir: string;
  path: string;
  created: string[];
}

export type Owns = (kind: ResourceKind) => boolean;

export interface Backend {
  create(): void;
  apply(pid: number): void;
  /** compile (and check: target files exist) the steps for the resources this backend owns */
  plan(r: NumericResources, owns: Owns): Step[];
  processes(): number[];
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  stats(into: CgroupStats, owns: Owns): void;
  destroy(): void;
}
