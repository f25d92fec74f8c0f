/** LinuxResources -> cgroup v2 file writes (runc's libcontainer/cgroups/fs2 semantics). */
import { BerthError } from "../../../errors.ts";
import type { Owns } from "../backend.ts";
import { normalizeDeviceRules } from "../devices.ts";
import { fileExists, readValueOr } from "../fsio.ts";
import type { NumericResources } from "../resources.ts";
import { int, type Step, type WriteStep } from "../steps.ts";
import { rdmaStep } from "../v1/resources.ts";
import { generateDeviceFilter } from "./devicefilter.ts";
import type { DeviceProgramLoader } from "./deviceprog.ts";

const set = (v: number | undefined): v is number => v !== undefined && v !== 0;

/**
 * cpu.shares (2..262144, default 1024) -> cpu.weight (1..10000, default 100),
 * runc's current quadratic-in-log2 fit (maps 2->1, 1024->100, 262144->10000).
 */
export function sharesToWeight(shares: number): number {
  if (shares <= 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  return Math.ceil(Math.pow(10, (l * l + 125 * l) / 612 - 7 / 34));
}

/** blkio weight (10..1000) -> io.weight (1..10000), runc's linear mapping */
export function blkioToIoWeight(w: number): number {
  if (w <= 0) return 0;
  return 1 + Math.floor(((w - 10) * 9999) / 990);
}

/**
 * OCI memory.swap is memory+swap; v2 memory.swap.max is swap alone.
 * @returns the value for memory.swap.max, or null for "leave it"
 */
export function swapForV2(swap: number, limit: number): string | null {
  if (limit === -1 && swap === 0) return "max";
  if (swap === -1) return "max";
  if (swap === 0) return null;
  if (limit === 0 || limit === -1) {
    throw new BerthError("InvalidArgument", "linux.resources.memory.swap: cannot set a swap limit without a memory limit on cgroup v2");
  }
  if (swap < limit) throw new BerthError("InvalidArgument", `linux.resources.memory.swap: ${swap} is below memory.limit ${limit}`);
  return int(swap - limit);
}

const maxOr = (v: number) => (v === -1 ? "max" : int(v));

export function v2Steps(r: NumericResources, owns: Owns, dir: string, devices: DeviceProgramLoader): Step[] {
  const steps: Step[] = [];
  const w = (field: string, file: string, value: string, extra: Partial<WriteStep> = {}) => steps.push({ field, dir, file, value, ...extra });

  if (r.pids && owns("pids") && set(r.pids.limit)) w("linux.resources.pids.limit", "pids.max", r.pids.limit > 0 ? int(r.pids.limit) : "max");

  const m = r.memory;
  if (m && owns("memory")) {
    const F = "linux.resources.memory";
    const limit = m.limit ?? 0;
    if (m.checkBeforeUpdate && limit > 0) {
      const usage = Number(readValueOr(dir, "memory.current", "0"));
      if (usage > limit) throw new BerthError("FailedPrecondition", `${F}.limit: ${limit} is below the current usage ${usage} (checkBeforeUpdate)`);
    }
    const swap = swapForV2(m.swap ?? 0, limit);
    // runc: a missing memory.swap.max (no swap accounting) is fine for "max" and "0"
    if (swap !== null) w(`${F}.swap`, "memory.swap.max", swap, { optional: swap === "max" || swap === "0" });
    if (set(limit)) w(`${F}.limit`, "memory.max", maxOr(limit));
    if (set(m.reservation)) w(`${F}.reservation`, "memory.low", maxOr(m.reservation));
  }

  const b = r.blockIO;
  if (b && owns("blkio")) {
    const F = "linux.resources.blockIO";
    const bfq = fileExists(dir, "io.bfq.weight");
    if (set(b.weight)) {
      if (bfq) w(`${F}.weight`, "io.bfq.weight", int(b.weight));
      else w(`${F}.weight`, "io.weight", int(blkioToIoWeight(b.weight)));
    }
    (b.weightDevice ?? []).forEach((wd, i) => {
      if (!set(wd.weight)) return;
      const f = `${F}.weightDevice[${i}].weight`;
      if (bfq) w(f, "io.bfq.weight", `${wd.major}:${wd.minor} ${wd.weight}`);
      else w(f, "io.weight", `${wd.major}:${wd.minor} ${blkioToIoWeight(wd.weight)}`);
    });
    const throttle = [
      ["throttleReadBpsDevice", "rbps"],
      ["throttleWriteBpsDevice", "wbps"],
      ["throttleReadIOPSDevice", "riops"],
      ["throttleWriteIOPSDevice", "wiops"],
    ] as const;
    for (const [key, name] of throttle) {
      (b[key] ?? []).forEach((td, i) => w(`${F}.${key}[${i}]`, "io.max", `${td.major}:${td.minor} ${name}=${int(td.rate)}`));
    }
  }

  const c = r.cpu;
  if (c && owns("cpu")) {
    const F = "linux.resources.cpu";
    if (c.idle !== undefined) w(`${F}.idle`, "cpu.idle", int(c.idle));
    if (set(c.shares)) w(`${F}.shares`, "cpu.weight", int(sharesToWeight(c.shares)));
    if (c.burst !== undefined) w(`${F}.burst`, "cpu.max.burst", int(c.burst), { retryOnEinval: set(c.quota), optional: c.burst === 0 });
    if (set(c.quota) || set(c.period)) {
      // "QUOTA [PERIOD]": the period only when given (the kernel keeps the old
      // one); a period-only update keeps the current quota
      const current = readValueOr(dir, "cpu.max", "max").split(/\s+/)[0] || "max";
      let v = set(c.quota) ? (c.quota > 0 ? int(c.quota) : "max") : current;
      if (set(c.period)) v += ` ${int(c.period)}`;
      w(c.quota ? `${F}.quota` : `${F}.period`, "cpu.max", v);
    }
  }
  if (c && owns("cpuset")) {
    if (c.cpus) w("linux.resources.cpu.cpus", "cpuset.cpus", c.cpus);
    if (c.mems) w("linux.resources.cpu.mems", "cpuset.mems", c.mems);
  }

  if (r.hugepageLimits?.length && owns("hugetlb")) {
    r.hugepageLimits.forEach((l, i) => {
      const f = `linux.resources.hugepageLimits[${i}]`;
      w(f, `hugetlb.${l.pageSize}.max`, int(l.limit));
      w(f, `hugetlb.${l.pageSize}.rsvd.max`, int(l.limit), { optional: true });
    });
  }

  if (r.rdma && owns("rdma")) for (const [dev, v] of Object.entries(r.rdma)) steps.push(rdmaStep(dev, v, dir));

  if (r.devices !== undefined && owns("devices")) {
    const program = generateDeviceFilter(normalizeDeviceRules(r.devices));
    steps.push({ field: "linux.resources.devices", run: () => devices.attach(dir, program) });
  }

  // unified last: it overrides anything above, as in runc
  if (r.unified && owns("unified")) {
    for (const [k, v] of Object.entries(r.unified)) w(`linux.resources.unified[${JSON.stringify(k)}]`, k, v);
  }
  return steps;
}
