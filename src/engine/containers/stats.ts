/**
 * docker stats: the Engine API's stats object (API 1.41+ shape) from a
 * container's cgroup, as dockerd builds it from containerd's metrics.
 *
 * - memory_stats.stats is the cgroup's memory.stat as is; the docker CLI
 *   subtracts inactive file pages itself (v1 "total_inactive_file", v2
 *   "inactive_file") to show what the OOM killer counts. The limit is the
 *   host's MemTotal when the cgroup has none (or one above it), as dockerd.
 * - cpu_stats.system_cpu_usage is the host's total cpu time from /proc/stat
 *   in nanoseconds; percpu_usage only exists on v1 (cpuacct).
 * - networks are the interfaces in the container init's network namespace
 *   (/proc/<pid>/net/dev), loopback left out.
 *
 * statsOnce answers one object (two samples one interval apart unless
 * one-shot, so precpu is filled); statsStream emits one per interval until
 * the container stops or the caller aborts.
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import type { BlkioEntry, CgroupManager, CgroupStats } from "../../runtime/cgroups/manager.ts";
import type { ContainerRecord } from "./model.ts";
import { runtimeHandle, type RuntimeHandle } from "./runtime-handle.ts";

export interface BlkioStatEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

export interface DockerStats {
  name: string;
  id: string;
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<string, BlkioStatEntry[] | null>;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  networks?: Record<string, NetworkStats>;
}

/** What is read from the host besides the cgroup (injectable for tests). */
export interface HostSampler {
  /** host MemTotal in bytes */
  memTotal(): number;
  /** total cpu time of the host in ns (/proc/stat "cpu" line) */
  systemCpuNs(): number;
  onlineCpus(): number;
  /** /proc/<pid>/net/dev text of the container's init, undefined when gone */
  netDev(pid: number): string | undefined;
  now(): Date;
}

const USER_HZ = 100; // sysconf(_SC_CLK_TCK) on Linux

export const hostSampler: HostSampler = {
  memTotal() {
    const m = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  },
  systemCpuNs() {
    const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith("cpu "));
    if (!line) return 0;
    // user nice system idle iowait irq softirq (steal is in none of docker's sums)
    const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((a, v) => a + Number(v), 0);
    return (ticks * 1e9) / USER_HZ;
  },
  onlineCpus: () => cpus().length,
  netDev(pid) {
    try {
      return readFileSync(`/proc/${pid}/net/dev`, "utf8");
    } catch {
      return undefined;
    }
  },
  now: () => new Date(),
};

const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Go's time.RFC3339Nano of a Date (millisecond precision). */
const rfc3339 = (d: Date) => d.toISOString().replace(/\.?0+Z$/, "Z");

export function emptyCpuStats(): CpuStats {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

const BLKIO_KEYS: [keyof NonNullable<CgroupStats["blkio"]>["tables"], string][] = [
  ["ioServiceBytesRecursive", "io_service_bytes_recursive"],
  ["ioServicedRecursive", "io_serviced_recursive"],
  ["ioQueuedRecursive", "io_queue_recursive"],
  ["ioServiceTimeRecursive", "io_service_time_recursive"],
  ["ioWaitTimeRecursive", "io_wait_time_recursive"],
  ["ioMergedRecursive", "io_merged_recursive"],
  ["ioTimeRecursive", "io_time_recursive"],
  ["sectorsRecursive", "sectors_recursive"],
];

/** The stats object of a container that is not running: name, id and zeros, as dockerd answers. */
export function emptyStats(record: Pick<ContainerRecord, "Id" | "Name">): DockerStats {
  return {
    name: `/${record.Name}`,
    id: record.Id,
    read: ZERO_TIME,
    preread: ZERO_TIME,
    pids_stats: {},
    blkio_stats: Object.fromEntries(BLKIO_KEYS.map(([, k]) => [k, null])),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: emptyCpuStats(),
    precpu_stats: emptyCpuStats(),
    memory_stats: {},
  };
}

/** /proc/net/dev -> docker's per-interface counters (loopback left out). */
export function parseNetDev(text: string): Record<string, NetworkStats> | undefined {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (!name || name === "lo") continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out[name] = { rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!, tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]! };
  }
  return Object.keys(out).length ? out : undefined;
}

/** One sample of a container's cgroup in docker's shape (precpu empty: see withPrevious). */
export function sampleStats(
  record: Pick<ContainerRecord, "Id" | "Name">,
  cg: CgroupManager,
  pid: number,
  host: HostSampler = hostSampler,
): DockerStats {
  const s = cg.stats();
  const out = emptyStats(record);
  out.read = rfc3339(host.now());
  if (s.pids) {
    out.pids_stats.current = s.pids.current;
    if (s.pids.limit !== null && s.pids.limit > 0) out.pids_stats.limit = s.pids.limit;
  }
  if (s.blkio) {
    // dockerd names cgroup2's io.stat operations in lower case ("read", "write")
    const lower = cg.dirFor("blkio")?.version === 2;
    for (const [t, k] of BLKIO_KEYS) {
      const rows = s.blkio.tables[t];
      out.blkio_stats[k] = rows?.length ? rows.map((e: BlkioEntry) => ({ major: e.major, minor: e.minor, op: lower ? e.op.toLowerCase() : e.op, value: e.value })) : null;
    }
  }
  if (s.cpu) {
    out.cpu_stats = {
      cpu_usage: {
        total_usage: s.cpu.usageNs,
        ...(s.cpu.percpu?.length ? { percpu_usage: s.cpu.percpu } : {}),
        usage_in_kernelmode: s.cpu.systemNs,
        usage_in_usermode: s.cpu.userNs,
      },
      system_cpu_usage: host.systemCpuNs(),
      online_cpus: s.cpu.percpu?.length || host.onlineCpus(),
      throttling_data: { periods: s.cpu.periods, throttled_periods: s.cpu.throttledPeriods, throttled_time: s.cpu.throttledNs },
    };
  }
  if (s.memory) {
    const m = s.memory;
    const machine = host.memTotal();
    let limit = m.limit ?? 0;
    if (limit === 0 || (machine > 0 && limit > machine)) limit = machine;
    const v1 = cg.dirFor("memory")?.version === 1;
    out.memory_stats = {
      usage: m.usage,
      ...(v1 && m.maxUsage ? { max_usage: m.maxUsage } : {}),
      stats: { ...m.stat },
      ...(v1 && m.failcnt ? { failcnt: m.failcnt } : {}),
      limit,
    };
  }
  const net = pid > 0 ? host.netDev(pid) : undefined;
  const networks = net === undefined ? undefined : parseNetDev(net);
  if (networks) out.networks = networks;
  return out;
}

/** A sample with the previous one's cpu stats and read time as precpu/preread. */
export function withPrevious(cur: DockerStats, prev: DockerStats | undefined): DockerStats {
  if (!prev) return cur;
  return { ...cur, preread: prev.read, precpu_stats: prev.cpu_stats };
}

export interface StatsOptions {
  /** ms between samples (docker: 1 s) */
  intervalMs?: number;
  signal?: AbortSignal;
  /** how to wait (tests substitute one that does not sleep) */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  host?: HostSampler;
  /** the runtime's view of the container (default: from record.runtimeRoot) */
  handle?: RuntimeHandle;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function handleOf(record: ContainerRecord, opts: StatsOptions): RuntimeHandle | undefined {
  if (opts.handle) return opts.handle;
  if (!record.State.Running) return undefined;
  try {
    return runtimeHandle(record);
  } catch {
    return undefined; // stopped under us: an empty answer, as for a stopped container
  }
}

/**
 * stream=false: one object. Not running: the empty object. oneShot: a single
 * sample (precpu empty); otherwise a second sample one interval later with
 * the first as precpu, as dockerd.
 */
export async function statsOnce(record: ContainerRecord, opts: StatsOptions & { oneShot?: boolean } = {}): Promise<DockerStats> {
  const h = handleOf(record, opts);
  if (!h) return emptyStats(record);
  const host = opts.host ?? hostSampler;
  const first = sampleStats(record, h.cgroup, h.pid, host);
  if (opts.oneShot) return first;
  await (opts.sleep ?? abortableSleep)(opts.intervalMs ?? 1000, opts.signal);
  if (opts.signal?.aborted || !h.alive()) return first;
  return withPrevious(sampleStats(record, h.cgroup, h.pid, host), first);
}

/**
 * stream=true: emit one object now and one per interval until the container
 * stops, the signal aborts, or emit returns false (the client went away).
 * A container that is not running gets the empty object once.
 */
export async function statsStream(record: ContainerRecord, emit: (s: DockerStats) => boolean | void, opts: StatsOptions = {}): Promise<void> {
  const h = handleOf(record, opts);
  if (!h) {
    emit(emptyStats(record));
    return;
  }
  const host = opts.host ?? hostSampler;
  const sleep = opts.sleep ?? abortableSleep;
  let prev: DockerStats | undefined;
  while (!opts.signal?.aborted && h.alive()) {
    let cur: DockerStats;
    try {
      cur = sampleStats(record, h.cgroup, h.pid, host);
    } catch (e) {
      if (!h.alive()) return; // the cgroup went with the container
      throw e;
    }
    if (emit(withPrevious(cur, prev)) === false) return;
    prev = cur;
    await sleep(opts.intervalMs ?? 1000, opts.signal);
  }
}
