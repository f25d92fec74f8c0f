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
    /** page cache bytes (v1 memory.stat "cache", v2 "file") */
    cache: number;
    /** the kernel's counter groups, limits exact (what `events` reports in runc's shape) */
    counters: {
      memory: MemoryCounter;
      /** memory+swap (v1 memsw.*; v2 memory.swap.* plus memory, as runc reports it) */
      swap?: MemoryCounter;
      /** v1 kmem.* and kmem.tcp.*, where the kernel still has them */
      kernel?: MemoryCounter;
      kernelTCP?: MemoryCounter;
    };
  };
  cpu?: {
    /** total cpu time in nanoseconds */
    usageNs: number;
    userNs: number;
    systemNs: number;
    periods: number;
    throttledPeriods: number;
    throttledNs: number;
    /** per-cpu usage in nanoseconds (v1 cpuacct.usage_percpu, cpuacct.usage_all) */
    percpu?: number[];
    percpuUser?: number[];
    percpuKernel?: number[];
  };
  /** v1 cpuset flags; on v2 only cpus/mems (the effective sets) */
  cpuset?: CpusetStats;
  pids?: { current: number; limit: number | null };
  blkio?: {
    readBytes: number;
    writeBytes: number;
    devices: { major: number; minor: number; readBytes: number; writeBytes: number }[];
    /** the kernel's per-device, per-operation tables (runc's blkio stats), by table */
    tables: Partial<Record<BlkioTable, BlkioEntry[]>>;
  };
  /** by page size ("2MB") */
  hugetlb?: Record<string, { usage: number; maxUsage?: number; limit: number | null; failcnt: number }>;
}

/** A usage/max/failcnt/limit group; limit as the kernel reports it, "max" as 2^64-1. */
export interface MemoryCounter {
  usage: number;
  maxUsage?: number;
  failcnt: number;
  limit: bigint;
}

export const MAX_U64 = (1n << 64n) - 1n;

export type BlkioTable =
  | "ioServiceBytesRecursive" | "ioServicedRecursive" | "ioQueuedRecursive" | "ioServiceTimeRecursive"
  | "ioWaitTimeRecursive" | "ioMergedRecursive" | "ioTimeRecursive" | "sectorsRecursive";

/** one line of a blkio table: "8:0 Read 4096" (op "" when the file has none) */
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface CpusetStats {
  cpus: number[];
  mems: number[];
  cpuExclusive?: number;
  memHardwall?: number;
  memExclusive?: number;
  memoryMigrate?: number;
  memorySpreadPage?: number;
  memorySpreadSlab?: number;
  memoryPressure?: number;
  schedLoadBalance?: number;
  schedRelaxDomainLevel?: number;
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
