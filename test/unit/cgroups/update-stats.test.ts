/**
 * What `update` and `events` need from the cgroup layer, on temporary
 * directories (fake.ts), for v1 and v2: update() restores what it wrote when
 * a later write fails, dirFor() names the controller's directory, and stats()
 * carries the kernel's detail (exact limits, per-cpu usage, cpuset, blkio
 * tables) in the shape runc reports.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type CgroupManager, createCgroupManager } from "../../../src/runtime/cgroups/manager.ts";
import { FakeCgroupFs } from "./fake.ts";

const M = 1024 * 1024;
const noDevices = { attach() {} };

for (const mode of ["v1", "v2"] as const) {
  describe(`cgroup ${mode}: update and stats detail (temporary directory)`, () => {
    let fake: FakeCgroupFs;
    let mgr: CgroupManager;
    beforeEach(() => {
      fake = new FakeCgroupFs(mode);
      mgr = createCgroupManager({ id: "c1", cgroupsPath: "/berth/c1", hierarchy: fake.h, deviceProgramLoader: noDevices });
      mgr.create();
      fake.populate();
    });
    afterEach(() => fake.cleanup());

    const memDir = () => mgr.dirFor("memory")!.dir;
    const pidsDir = () => mgr.dirFor("pids")!.dir;
    const memFile = mode === "v1" ? "memory.limit_in_bytes" : "memory.max";

    test("dirFor names the controller's directory and version", () => {
      const st = mgr.toJSON();
      expect(mgr.dirFor("memory")).toEqual(mode === "v1" ? { version: 1, dir: st.v1!.dirs["memory"]! } : { version: 2, dir: st.v2!.dir });
      expect(mgr.dirFor("freezer")?.version).toBe(mode === "v1" ? 1 : 2);
      if (mode === "v2") expect(mgr.dirFor("net_cls")).toBeUndefined();
    });

    test("update writes what is asked and keeps the rest", () => {
      mgr.update({ memory: { limit: 64 * M }, pids: { limit: 9 } });
      expect(fake.written(memDir(), memFile)).toEqual([String(64 * M)]);
      expect(fake.written(pidsDir(), "pids.max")).toEqual(["9"]);
    });

    // a cpu file that cannot be opened for writing (a directory); memory is written before cpu on both sides
    const breakCpu = () => {
      const f = join(mgr.dirFor("cpu")!.dir, mode === "v1" ? "cpu.shares" : "cpu.weight");
      rmSync(f);
      mkdirSync(f);
    };

    test("update: a failing write restores the files already written, then throws", () => {
      breakCpu();
      const before = mode === "v1" ? "9223372036854771712" : "max";
      expect(() => mgr.update({ memory: { limit: 64 * M }, cpu: { shares: 512 } })).toThrow(/^linux\.resources\.cpu\.shares: write cpu\.(shares|weight): EISDIR/);
      expect(fake.written(memDir(), memFile)).toEqual([String(64 * M), before]);
    });

    test("set (create path) does not roll back", () => {
      breakCpu();
      expect(() => mgr.set({ memory: { limit: 64 * M }, cpu: { shares: 512 } })).toThrow(/EISDIR/);
      expect(fake.written(memDir(), memFile)).toEqual([String(64 * M)]);
    });

    test("stats: exact limits and the memory+swap counter", () => {
      const s = mgr.stats();
      const c = s.memory!.counters;
      if (mode === "v1") {
        expect(c.memory).toEqual({ usage: 4096, maxUsage: 8192, failcnt: 1, limit: 9223372036854771712n });
        expect(c.swap).toEqual({ usage: 4096, maxUsage: 0, failcnt: 0, limit: 9223372036854771712n });
        expect(s.memory!.cache).toBe(0);
      } else {
        expect(c.memory).toEqual({ usage: 4096, maxUsage: 8192, failcnt: 3, limit: (1n << 64n) - 1n });
        // v2 reports swap alone; the counter is memory+swap as in v1
        expect(c.swap).toMatchObject({ usage: 4096, limit: (1n << 64n) - 1n });
        fake.setValue(memDir(), "memory.max", String(64 * M));
        fake.setValue(memDir(), "memory.swap.max", String(16 * M));
        fake.setValue(memDir(), "memory.swap.current", "100");
        expect(mgr.stats().memory!.counters.swap).toMatchObject({ usage: 4196, limit: BigInt(80 * M) });
      }
    });

    test("stats: blkio tables with operations", () => {
      if (mode === "v1") fake.setValue(mgr.dirFor("blkio")!.dir, "blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 2\nTotal 3");
      const s = mgr.stats();
      if (mode === "v1") {
        expect(s.blkio!.tables.ioServicedRecursive).toEqual([{ major: 8, minor: 0, op: "Read", value: 1 }, { major: 8, minor: 0, op: "Write", value: 2 }]);
        expect(s.blkio!.tables.ioServiceBytesRecursive).toEqual([
          { major: 8, minor: 0, op: "Read", value: 100 },
          { major: 8, minor: 0, op: "Write", value: 200 },
          { major: 8, minor: 16, op: "Read", value: 1 },
        ]);
        // BFQ files, when present and non-empty, win (runc's order)
        const d = mgr.dirFor("blkio")!.dir;
        fake.setValue(d, "blkio.bfq.io_serviced_recursive", "254:0 Read 30\n254:0 Write 0\nTotal 30");
        fake.setValue(d, "blkio.bfq.io_service_bytes_recursive", "254:0 Read 4096\nTotal 4096");
        expect(mgr.stats().blkio!.tables).toEqual({
          ioServicedRecursive: [{ major: 254, minor: 0, op: "Read", value: 30 }, { major: 254, minor: 0, op: "Write", value: 0 }],
          ioServiceBytesRecursive: [{ major: 254, minor: 0, op: "Read", value: 4096 }],
        });
      } else {
        expect(s.blkio!.tables).toEqual({
          ioServiceBytesRecursive: [{ major: 8, minor: 0, op: "Read", value: 100 }, { major: 8, minor: 0, op: "Write", value: 200 }],
          ioServicedRecursive: [{ major: 8, minor: 0, op: "Read", value: 1 }, { major: 8, minor: 0, op: "Write", value: 2 }],
        });
      }
    });

    if (mode === "v1") {
      test("stats: per-cpu usage and cpuset flags (v1)", () => {
        const acct = mgr.dirFor("cpu")!.dir;
        fake.setValue(acct, "cpuacct.usage_percpu", "100 200");
        fake.setValue(acct, "cpuacct.usage_all", "cpu user system\n0 60 40\n1 150 50");
        const cs = mgr.toJSON().v1!.dirs["cpuset"]!;
        fake.setValue(cs, "cpuset.cpus", "0-1,3");
        fake.setValue(cs, "cpuset.mems", "0");
        fake.setValue(cs, "cpuset.sched_load_balance", "1");
        fake.setValue(cs, "cpuset.sched_relax_domain_level", "-1");
        const s = mgr.stats();
        expect(s.cpu).toMatchObject({ percpu: [100, 200], percpuUser: [60, 150], percpuKernel: [40, 50], userNs: 50_000_000, systemNs: 30_000_000 });
        expect(s.cpuset).toEqual({ cpus: [0, 1, 3], mems: [0], schedLoadBalance: 1, schedRelaxDomainLevel: -1 });
      });

      test("stats: kernel memory counters where the kernel has them", () => {
        const d = memDir();
        for (const [f, v] of [["memory.kmem.usage_in_bytes", "300"], ["memory.kmem.max_usage_in_bytes", "500"], ["memory.kmem.failcnt", "0"]]) fake.setValue(d, f!, v!);
        expect(mgr.stats().memory!.counters.kernel).toEqual({ usage: 300, maxUsage: 500, failcnt: 0, limit: 9223372036854771712n });
        expect(mgr.stats().memory!.counters.kernelTCP).toBeUndefined();
      });
    }
  });
}
