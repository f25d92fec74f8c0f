/**
 * OCI runtime-spec 1.2 `linux.resources`, kept standalone so the cgroup layer
 * does not depend on src/oci (which may later re-export this type or vice versa).
 * Field names and optionality mirror the spec's JSON exactly.
 */

/** an int64/uint64 field: `number` when exact, `bigint` beyond 2^53-1 (as src/oci parses them) */
export type Int64 = number | bigint;

export interface LinuxMemory {
  limit?: Int64;
  reservation?: Int64;
  /** memory+swap total (v1 semantics); v2 writes swap - limit */
  swap?: Int64;
  /** deprecated in the spec; kernel memory limits are gone from modern kernels */
  kernel?: Int64;
  kernelTCP?: Int64;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxPids {
  /** required in 1.2, optional in 1.3; 0 = unset, < 0 = unlimited */
  limit?: number;
}

export interface LinuxBlockIODevice {
  major: number;
  minor: number;
}

export interface LinuxWeightDevice extends LinuxBlockIODevice {
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice extends LinuxBlockIODevice {
  rate: number;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit {
  /** e.g. "2MB", "1GB", "64KB" */
  pageSize: string;
  limit: Int64;
}

export interface LinuxDeviceCgroup {
  allow: boolean;
  /** "a" (all), "c" (char), "b" (block); absent means "a" */
  type?: string;
  /** absent or -1 means any */
  major?: number;
  minor?: number;
  /** subset of "rwm"; absent means "rwm" */
  access?: string;
}

export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

export interface LinuxResources {
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  devices?: LinuxDeviceCgroup[];
  network?: LinuxNetwork;
  /** device name (e.g. "mlx5_1") -> limits */
  rdma?: Record<string, LinuxRdma>;
  /** cgroup v2 file name -> value, written verbatim */
  unified?: Record<string, string>;
}

/** LinuxResources with every Int64 as a number (internal form; see toNumeric). */
export interface NumericResources extends Omit<LinuxResources, "memory" | "hugepageLimits"> {
  memory?: { [K in keyof LinuxMemory]: Exclude<LinuxMemory[K], bigint> };
  hugepageLimits?: { pageSize: string; limit: number }[];
}

/**
 * bigint -> number. Only values beyond 2^53 bytes (8 PiB) lose precision, and
 * those only ever mean "unlimited"; writes clamp them to 2^63-1.
 */
export function toNumeric(r: LinuxResources): NumericResources {
  const n = (v: Int64 | undefined) => (typeof v === "bigint" ? Number(v) : v);
  const out: NumericResources = { ...r, memory: undefined, hugepageLimits: undefined };
  if (r.memory) {
    const m = r.memory;
    out.memory = { ...m, limit: n(m.limit), reservation: n(m.reservation), swap: n(m.swap), kernel: n(m.kernel), kernelTCP: n(m.kernelTCP) };
    for (const k of Object.keys(out.memory) as (keyof typeof out.memory)[]) if (out.memory[k] === undefined) delete out.memory[k];
  }
  if (r.hugepageLimits) out.hugepageLimits = r.hugepageLimits.map((l) => ({ pageSize: l.pageSize, limit: n(l.limit)! }));
  if (!out.memory) delete out.memory;
  if (!out.hugepageLimits) delete out.hugepageLimits;
  return out;
}
