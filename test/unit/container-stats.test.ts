/**
 * docker stats' shape from temporary cgroup trees (pure v2, v1): the raw
 * memory fields the docker CLI subtracts, limits, cpu, pids, blkio, networks.
 */
import { afterEach, expect, test } from "bun:test";
import { createCgroupManager } from "../../src/runtime/cgroups/manager.ts";
import { emptyStats, parseNetDev, sampleStats, statsOnce, statsStream, withPrevious, type DockerStats, type HostSampler } from "../../src/engine/containers/stats.ts";
import type { ContainerRecord } from "../../src/engine/containers/model.ts";
import type { RuntimeHandle } from "../../src/engine/containers/runtime-handle.ts";
import { FakeCgroupFs } from "./cgroups/fake.ts";

let fake: FakeCgroupFs | undefined;
afterEach(() => fake?.cleanup());

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
  eth0:    1500      12    1    2    0     0          0         0      900       7    3    4    0     0       0          0
`;

const host = (over: Partial<HostSampler> = {}): HostSampler => ({
  memTotal: () => 8 * 1024 ** 3,
  systemCpuNs: () => 5e12,
  onlineCpus: () => 4,
  netDev: () => NET_DEV,
  now: () => new Date("2026-01-02T03:04:05.678Z"),
  ...over,
});

const rec = { Id: "a".repeat(64), Name: "web" } as ContainerRecord;

function manager(mode: "v1" | "v2") {
  fake = new FakeCgroupFs(mode);
  const m = createCgroupManager({ id: "c1", cgroupsPath: "/berth/c1", hierarchy: fake.h, deviceProgramLoader: { attach() {} } });
  m.create();
  fake.populate();
  return m;
}

test("v2: memory.stat as is (inactive_file for the CLI), unlimited -> MemTotal, no percpu, lower-case io ops", () => {
  const m = manager("v2");
  const dir = m.dirFor("memory")!.dir;
  fake!.setValue(dir, "memory.stat", "anon 4096\nfile 8192\ninactive_file 6000\nactive_file 2192");
  fake!.setValue(dir, "memory.current", "20000");
  fake!.setValue(dir, "pids.max", "64");
  const s = sampleStats(rec, m, 1234, host());
  expect(s.name).toBe("/web");
  expect(s.read).toBe("2026-01-02T03:04:05.678Z");
  expect(s.preread).toBe("0001-01-01T00:00:00Z");
  expect(s.memory_stats).toEqual({ usage: 20000, stats: { anon: 4096, file: 8192, inactive_file: 6000, active_file: 2192 }, limit: 8 * 1024 ** 3 });
  // what the docker CLI shows: usage - inactive_file
  expect(s.memory_stats.usage! - s.memory_stats.stats!.inactive_file!).toBe(14000);
  expect(s.cpu_stats).toEqual({
    cpu_usage: { total_usage: 1_000_000, usage_in_kernelmode: 400_000, usage_in_usermode: 600_000 },
    system_cpu_usage: 5e12,
    online_cpus: 4,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  expect(s.pids_stats).toEqual({ current: 1, limit: 64 });
  expect(s.blkio_stats.io_service_bytes_recursive).toEqual([
    { major: 8, minor: 0, op: "read", value: 100 },
    { major: 8, minor: 0, op: "write", value: 200 },
  ]);
  expect(s.blkio_stats.io_queue_recursive).toBeNull();
  expect(s.networks).toEqual({ eth0: { rx_bytes: 1500, rx_packets: 12, rx_errors: 1, rx_dropped: 2, tx_bytes: 900, tx_packets: 7, tx_errors: 3, tx_dropped: 4 } });
  // JSON keys the docker CLI reads
  const j = JSON.parse(JSON.stringify(s));
  for (const k of ["read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats", "cpu_stats", "precpu_stats", "memory_stats", "name", "id", "networks"]) expect(j).toHaveProperty(k);
});

test("v2: a memory limit below MemTotal is kept; one above is clamped to it", () => {
  const m = manager("v2");
  const dir = m.dirFor("memory")!.dir;
  fake!.setValue(dir, "memory.max", String(16 * 1024 ** 2));
  expect(sampleStats(rec, m, 0, host()).memory_stats.limit).toBe(16 * 1024 ** 2);
  fake!.setValue(dir, "memory.max", String(64 * 1024 ** 3));
  expect(sampleStats(rec, m, 0, host()).memory_stats.limit).toBe(8 * 1024 ** 3);
});

test("v1: total_inactive_file among the raw fields, max_usage and failcnt, percpu usage", () => {
  const m = manager("v1");
  const mem = m.dirFor("memory")!.dir;
  fake!.setValue(mem, "memory.stat", "cache 8192\nrss 4096\ninactive_file 100\ntotal_inactive_file 3000\ntotal_rss 4096");
  fake!.setValue(mem, "memory.limit_in_bytes", String(32 * 1024 ** 2));
  const cpu = m.toJSON().v1!.dirs.cpuacct!;
  fake!.setValue(cpu, "cpuacct.usage_percpu", "100 200");
  fake!.setValue(cpu, "cpuacct.usage", "300");
  fake!.setValue(m.dirFor("blkio")!.dir, "blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 2\nTotal 3");
  const s = sampleStats(rec, m, 0, host());
  expect(s.memory_stats).toEqual({
    usage: 4096,
    max_usage: 8192,
    stats: { cache: 8192, rss: 4096, inactive_file: 100, total_inactive_file: 3000, total_rss: 4096 },
    failcnt: 1,
    limit: 32 * 1024 ** 2,
  });
  expect(s.cpu_stats.cpu_usage.percpu_usage).toEqual([100, 200]);
  expect(s.cpu_stats.online_cpus).toBe(2);
  expect(s.cpu_stats.cpu_usage.total_usage).toBe(300);
  expect(s.cpu_stats.throttling_data).toEqual({ periods: 10, throttled_periods: 2, throttled_time: 5000 });
  expect(s.blkio_stats.io_service_bytes_recursive!.map((e) => e.op)).toEqual(["Read", "Write", "Read"]);
  expect(s.blkio_stats.io_serviced_recursive).toEqual([
    { major: 8, minor: 0, op: "Read", value: 1 },
    { major: 8, minor: 0, op: "Write", value: 2 },
  ]);
  // v1 unlimited (9223372036854771712) is above MemTotal: MemTotal
  fake!.setValue(mem, "memory.limit_in_bytes", "9223372036854771712");
  expect(sampleStats(rec, m, 0, host()).memory_stats.limit).toBe(8 * 1024 ** 3);
});

test("net/dev: lo left out; nothing but lo (or no process) gives no networks", () => {
  expect(Object.keys(parseNetDev(NET_DEV)!)).toEqual(["eth0"]);
  expect(parseNetDev(NET_DEV.split("\n").slice(0, 3).join("\n"))).toBeUndefined();
  const m = manager("v2");
  expect(sampleStats(rec, m, 99, host({ netDev: () => undefined })).networks).toBeUndefined();
  expect(sampleStats(rec, m, 0, host()).networks).toBeUndefined(); // no pid: not read at all
});

test("precpu/preread come from the previous sample", () => {
  const a = emptyStats(rec);
  a.read = "2026-01-01T00:00:00Z";
  a.cpu_stats.cpu_usage.total_usage = 5;
  const b = withPrevious(emptyStats(rec), a);
  expect(b.preread).toBe(a.read);
  expect(b.precpu_stats.cpu_usage.total_usage).toBe(5);
});

test("statsOnce / statsStream with an injected handle and clock: two samples, a stream until the container stops", async () => {
  const m = manager("v2");
  const dir = m.dirFor("cpu")!.dir;
  let alive = 3;
  const handle = { pid: 0, cgroup: m, alive: () => alive-- > 0 } as unknown as RuntimeHandle;
  let t = 0;
  const clockHost = host({ now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, t)) });
  const sleep = async () => {
    t++;
    fake!.setValue(dir, "cpu.stat", `usage_usec ${1000 * (t + 1)}\nuser_usec 0\nsystem_usec 0`);
  };
  const running = { ...rec, State: { Running: true } } as ContainerRecord;
  const once = await statsOnce(running, { handle, host: clockHost, sleep });
  expect(once.preread).toBe("2026-01-01T00:00:00Z");
  expect(once.read).toBe("2026-01-01T00:00:01Z");
  expect(once.precpu_stats.cpu_usage.total_usage).toBe(1_000_000);
  expect(once.cpu_stats.cpu_usage.total_usage).toBe(2_000_000);
  const oneShot = await statsOnce(running, { handle, host: clockHost, sleep, oneShot: true });
  expect(oneShot.preread).toBe("0001-01-01T00:00:00Z");

  alive = 3;
  const got: DockerStats[] = [];
  await statsStream(running, (s) => void got.push(s), { handle, host: clockHost, sleep });
  expect(got.length).toBe(3);
  expect(got.map((s) => s.cpu_stats.cpu_usage.total_usage)).toEqual([2_000_000, 3_000_000, 4_000_000]);
  expect(got[2]!.precpu_stats.cpu_usage.total_usage).toBe(3_000_000);
  // a client that went away (emit returns false) ends it
  alive = 100;
  const few: DockerStats[] = [];
  await statsStream(running, (s) => few.push(s) < 2, { handle, host: clockHost, sleep });
  expect(few.length).toBe(2);
});
