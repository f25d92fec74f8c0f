/** OCI runtime-spec `linux.resources`: the types of src/oci, and their numeric form for writing. */
export type {
  Int64,
  LinuxMemory,
  LinuxCPU,
  LinuxPids,
  LinuxBlockIODevice,
  LinuxWeightDevice,
  LinuxThrottleDevice,
  LinuxBlockIO,
  LinuxHugepageLimit,
  LinuxDeviceCgroup,
  LinuxInterfacePriority,
  LinuxNetwork,
  LinuxRdma,
  LinuxResources,
} from "../../oci/runtime-spec.ts";
import type { Int64, LinuxMemory, LinuxResources } from "../../oci/runtime-spec.ts";

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
