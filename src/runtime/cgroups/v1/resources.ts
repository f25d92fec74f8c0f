/** LinuxResources -> cgroup v1 file writes (runc's libcontainer/cgroups/fs semantics). */
import { BerthError } from "../../../errors.ts";
import type { Owns } from "../backend.ts";
import { normalizeDeviceRules, v1RuleString } from "../devices.ts";
import { fileExists, parseLimit, readValueOr } from "../fsio.ts";
import type { NumericResources } from "../resources.ts";
import { int, type Step, type WriteStep } from "../steps.ts";

const set = (v: number | undefined): v is number => v !== undefined && v !== 0;

/** true when the kernel did something with a limit write (see WriteStep.verify) */
export function limitTookEffect(requested: number) {
  return (before: string, after: string): boolean => {
    if (after !== before) return true;
    const a = parseLimit(after);
    if (requested < 0) return a === null;
    return a !== null && a <= requested && requested - a < 65536; // page rounding
  };
}

export function v1Steps(r: NumericResources, owns: Owns, dir: (controller: string) => string): Step[] {
  const steps: Step[] = [];
  const w = (field: string, controller: string, file: string, value: string, extra: Partial<WriteStep> = {}) =>
    steps.push({ field, dir: dir(controller), file, value, ...extra });

  const m = r.memory;
  if (m && owns("memory")) {
    const F = "linux.resources.memory";
    const d = dir("memory");
    // kernel memory first: on kernels that ignore it we fail before writing anything else
    if (set(m.kernel)) w(`${F}.kernel`, "memory", "memory.kmem.limit_in_bytes", int(m.kernel), { verify: limitTookEffect(m.kernel) });
    if (set(m.kernelTCP)) w(`${F}.kernelTCP`, "memory", "memory.kmem.tcp.limit_in_bytes", int(m.kernelTCP), { verify: limitTookEffect(m.kernelTCP) });
    const limit = m.limit ?? 0;
    let swap = m.swap ?? 0;
    if (limit === -1 && swap === 0 && fileExists(d, "memory.memsw.limit_in_bytes")) swap = -1;
    if (m.checkBeforeUpdate && limit > 0) {
      const usage = Number(readValueOr(d, "memory.usage_in_bytes", "0"));
      if (usage > limit) {
        throw new BerthError("FailedPrecondition", `${F}.limit: ${limit} is below the current usage ${usage} (checkBeforeUpdate)`);
      }
    }
    const limitStep = () => set(limit) && w(`${F}.limit`, "memory", "memory.limit_in_bytes", int(limit));
    const swapStep = () => set(swap) && w(`${F}.swap`, "memory", "memory.memsw.limit_in_bytes", int(swap));
    // memsw must stay >= limit at every moment: raise swap first when growing
    const cur = parseLimit(readValueOr(d, "memory.limit_in_bytes", "max")) ?? Infinity;
    if (set(limit) && set(swap) && (swap === -1 || cur < swap)) {
      swapStep();
      limitStep();
    } else {
      limitStep();
      swapStep();
    }
    if (set(m.reservation)) w(`${F}.reservation`, "memory", "memory.soft_limit_in_bytes", int(m.reservation));
    if (m.disableOOMKiller === true) w(`${F}.disableOOMKiller`, "memory", "memory.oom_control", "1");
    if (m.swappiness !== undefined && m.swappiness !== -1) w(`${F}.swappiness`, "memory", "memory.swappiness", int(m.swappiness));
    if (m.useHierarchy !== undefined) w(`${F}.useHierarchy`, "memory", "memory.use_hierarchy", m.useHierarchy ? "1" : "0");
  }

  const c = r.cpu;
  if (c && owns("cpu")) {
    const F = "linux.resources.cpu";
    if (set(c.shares)) w(`${F}.shares`, "cpu", "cpu.shares", int(c.shares));
    if (set(c.period)) w(`${F}.period`, "cpu", "cpu.cfs_period_us", int(c.period), { retryOnEinval: set(c.quota) });
    if (c.burst !== undefined) w(`${F}.burst`, "cpu", "cpu.cfs_burst_us", int(c.burst), { retryOnEinval: set(c.quota), optional: c.burst === 0 });
    if (set(c.quota)) w(`${F}.quota`, "cpu", "cpu.cfs_quota_us", int(c.quota < 0 ? -1 : c.quota));
    if (c.idle !== undefined) w(`${F}.idle`, "cpu", "cpu.idle", int(c.idle));
    if (set(c.realtimePeriod)) w(`${F}.realtimePeriod`, "cpu", "cpu.rt_period_us", int(c.realtimePeriod), { retryOnEinval: set(c.realtimeRuntime) });
    if (set(c.realtimeRuntime)) w(`${F}.realtimeRuntime`, "cpu", "cpu.rt_runtime_us", int(c.realtimeRuntime));
  }
  if (c && owns("cpuset")) {
    if (c.cpus) w("linux.resources.cpu.cpus", "cpuset", "cpuset.cpus", c.cpus);
    if (c.mems) w("linux.resources.cpu.mems", "cpuset", "cpuset.mems", c.mems);
  }

  if (r.pids && owns("pids") && set(r.pids.limit)) {
    w("linux.resources.pids.limit", "pids", "pids.max", r.pids.limit > 0 ? int(r.pids.limit) : "max");
  }

  const b = r.blockIO;
  if (b && owns("blkio")) {
    const F = "linux.resources.blockIO";
    const d = dir("blkio");
    // runc: BFQ's files when the kernel has no CFQ blkio.weight
    const bfq = !fileExists(d, "blkio.weight") && fileExists(d, "blkio.bfq.weight");
    const weightFile = bfq ? "blkio.bfq.weight" : "blkio.weight";
    const weightDeviceFile = bfq ? "blkio.bfq.weight_device" : "blkio.weight_device";
    if (set(b.weight)) w(`${F}.weight`, "blkio", weightFile, int(b.weight));
    if (set(b.leafWeight)) w(`${F}.leafWeight`, "blkio", "blkio.leaf_weight", int(b.leafWeight));
    (b.weightDevice ?? []).forEach((wd, i) => {
      if (set(wd.weight)) w(`${F}.weightDevice[${i}].weight`, "blkio", weightDeviceFile, `${wd.major}:${wd.minor} ${wd.weight}`);
      if (set(wd.leafWeight)) w(`${F}.weightDevice[${i}].leafWeight`, "blkio", "blkio.leaf_weight_device", `${wd.major}:${wd.minor} ${wd.leafWeight}`);
    });
    const throttle = [
      ["throttleReadBpsDevice", "blkio.throttle.read_bps_device"],
      ["throttleWriteBpsDevice", "blkio.throttle.write_bps_device"],
      ["throttleReadIOPSDevice", "blkio.throttle.read_iops_device"],
      ["throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"],
    ] as const;
    for (const [key, file] of throttle) {
      (b[key] ?? []).forEach((td, i) => w(`${F}.${key}[${i}]`, "blkio", file, `${td.major}:${td.minor} ${int(td.rate)}`));
    }
  }

  if (r.hugepageLimits?.length && owns("hugetlb")) {
    r.hugepageLimits.forEach((l, i) => {
      const f = `linux.resources.hugepageLimits[${i}]`;
      w(f, "hugetlb", `hugetlb.${l.pageSize}.limit_in_bytes`, int(l.limit));
      w(f, "hugetlb", `hugetlb.${l.pageSize}.rsvd.limit_in_bytes`, int(l.limit), { optional: true });
    });
  }

  if (r.devices !== undefined && owns("devices")) {
    const rules = normalizeDeviceRules(r.devices);
    w("linux.resources.devices", "devices", "devices.deny", "a");
    rules.forEach((rule, i) =>
      w(`linux.resources.devices[${i}]`, "devices", rule.allow ? "devices.allow" : "devices.deny", v1RuleString(rule)),
    );
  }

  if (r.network && set(r.network.classID) && owns("net_cls")) {
    w("linux.resources.network.classID", "net_cls", "net_cls.classid", int(r.network.classID));
  }
  if (r.network?.priorities?.length && owns("net_prio")) {
    r.network.priorities.forEach((p, i) =>
      w(`linux.resources.network.priorities[${i}]`, "net_prio", "net_prio.ifpriomap", `${p.name} ${int(p.priority)}`),
    );
  }

  if (r.rdma && owns("rdma")) {
    for (const [dev, v] of Object.entries(r.rdma)) steps.push(rdmaStep(dev, v, dir("rdma")));
  }
  return steps;
}

export function rdmaStep(dev: string, v: { hcaHandles?: number; hcaObjects?: number }, d: string): WriteStep {
  const parts = [dev];
  if (v.hcaHandles !== undefined) parts.push(`hca_handle=${v.hcaHandles}`);
  if (v.hcaObjects !== undefined) parts.push(`hca_object=${v.hcaObjects}`);
  return { field: `linux.resources.rdma[${JSON.stringify(dev)}]`, dir: d, file: "rdma.max", value: parts.join(" ") };
}
