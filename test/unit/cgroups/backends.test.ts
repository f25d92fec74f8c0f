/**
 * ONE suite, run against the v1 and the v2 backend (and, for what differs, the
 * hybrid composition) on temporary directories that mimic each hierarchy
 * (see fake.ts). Nothing here touches the real /sys/fs/cgroup; no root needed.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BerthError } from "../../../src/errors.ts";
import {
  type CgroupManager, type CgroupState, checkValidity, createCgroupManager, type LinuxResources, loadCgroupManager,
} from "../../../src/runtime/cgroups/manager.ts";
import type { BpfInsn } from "../../../src/runtime/cgroups/v2/devicefilter.ts";
import type { DeviceProgramLoader } from "../../../src/runtime/cgroups/v2/deviceprog.ts";
import { blkioToIoWeight, sharesToWeight } from "../../../src/runtime/cgroups/v2/resources.ts";
import { FakeCgroupFs } from "./fake.ts";

type Mode = "v1" | "v2";
/** [controller ("" on v2), file, expected writes] or an expected error */
type Expect = [string, string, string[]][] | { throws: RegExp; code?: string };

interface Case {
  name: string;
  r: LinuxResources;
  v1: Expect;
  v2: Expect;
}

const M = 1024 * 1024;

const CASES: Case[] = [
  {
    name: "memory limit, reservation and swap (swap is memory+swap)",
    r: { memory: { limit: 100 * M, reservation: 50 * M, swap: 200 * M } },
    v1: [["memory", "memory.limit_in_bytes", [`${100 * M}`]], ["memory", "memory.memsw.limit_in_bytes", [`${200 * M}`]], ["memory", "memory.soft_limit_in_bytes", [`${50 * M}`]]],
    v2: [["", "memory.max", [`${100 * M}`]], ["", "memory.swap.max", [`${100 * M}`]], ["", "memory.low", [`${50 * M}`]]],
  },
  {
    name: "memory limit -1 without swap means both unlimited",
    r: { memory: { limit: -1 } },
    v1: [["memory", "memory.limit_in_bytes", ["-1"]], ["memory", "memory.memsw.limit_in_bytes", ["-1"]]],
    v2: [["", "memory.max", ["max"]], ["", "memory.swap.max", ["max"]]],
  },
  {
    name: "memory limits given as bigint (as src/oci parses int64 beyond 2^53)",
    r: { memory: { limit: 9223372036854775807n } },
    v1: [["memory", "memory.limit_in_bytes", ["9223372036854775807"]]],
    v2: [["", "memory.max", ["9223372036854775807"]]],
  },
  {
    name: "swappiness and disableOOMKiller (v1 only)",
    r: { memory: { swappiness: 10, disableOOMKiller: true } },
    v1: [["memory", "memory.swappiness", ["10"]], ["memory", "memory.oom_control", ["1"]]],
    v2: { throws: /^linux\.resources\.memory\.swappiness: not supported on cgroup v2/, code: "FailedPrecondition" },
  },
  {
    name: "kernel memory where the kernel still has the files",
    r: { memory: { kernel: M, kernelTCP: M } },
    v1: [["memory", "memory.kmem.limit_in_bytes", [`${M}`]], ["memory", "memory.kmem.tcp.limit_in_bytes", [`${M}`]]],
    v2: { throws: /^linux\.resources\.memory\.kernel: not supported on cgroup v2/ },
  },
  {
    name: "swap below limit is rejected",
    r: { memory: { limit: 200 * M, swap: 100 * M } },
    v1: { throws: /^linux\.resources\.memory\.swap: 104857600 is below memory\.limit/, code: "InvalidArgument" },
    v2: { throws: /^linux\.resources\.memory\.swap: 104857600 is below memory\.limit/, code: "InvalidArgument" },
  },
  {
    name: "swappiness out of range",
    r: { memory: { swappiness: 101 } },
    v1: { throws: /^linux\.resources\.memory\.swappiness: 101 is out of range \(0\.\.100\)/, code: "InvalidArgument" },
    v2: { throws: /^linux\.resources\.memory\.swappiness: 101 is out of range/, code: "InvalidArgument" },
  },
  {
    name: "cpu shares, quota, period, burst",
    r: { cpu: { shares: 512, quota: 50000, period: 100000, burst: 10000 } },
    v1: [["cpu", "cpu.shares", ["512"]], ["cpu", "cpu.cfs_period_us", ["100000"]], ["cpu", "cpu.cfs_quota_us", ["50000"]], ["cpu", "cpu.cfs_burst_us", ["10000"]]],
    v2: [["", "cpu.weight", [String(sharesToWeight(512))]], ["", "cpu.max", ["50000 100000"]], ["", "cpu.max.burst", ["10000"]]],
  },
  {
    name: "cpu quota -1 and idle",
    r: { cpu: { quota: -1, idle: 1 } },
    v1: [["cpu", "cpu.cfs_quota_us", ["-1"]], ["cpu", "cpu.idle", ["1"]]],
    v2: [["", "cpu.max", ["max"]], ["", "cpu.idle", ["1"]]],
  },
  {
    name: "cpu period alone keeps the quota",
    r: { cpu: { period: 50000 } },
    v1: [["cpu", "cpu.cfs_period_us", ["50000"]], ["cpu", "cpu.cfs_quota_us", []]],
    v2: [["", "cpu.max", ["max 50000"]]],
  },
  {
    name: "cpu realtime (v1 only)",
    r: { cpu: { realtimePeriod: 1000000, realtimeRuntime: 950000 } },
    v1: [["cpu", "cpu.rt_period_us", ["1000000"]], ["cpu", "cpu.rt_runtime_us", ["950000"]]],
    v2: { throws: /^linux\.resources\.cpu\.realtimePeriod: not supported on cgroup v2/ },
  },
  {
    name: "cpu shares out of range",
    r: { cpu: { shares: 1 } },
    v1: { throws: /^linux\.resources\.cpu\.shares: 1 is out of range \(2\.\.262144\)/ },
    v2: { throws: /^linux\.resources\.cpu\.shares: 1 is out of range/ },
  },
  {
    name: "cpu quota below 1ms",
    r: { cpu: { quota: 500 } },
    v1: { throws: /^linux\.resources\.cpu\.quota: 500 is out of range/ },
    v2: { throws: /^linux\.resources\.cpu\.quota: 500 is out of range/ },
  },
  {
    name: "cpuset cpus and mems",
    r: { cpu: { cpus: "0-1,3", mems: "0" } },
    v1: [["cpuset", "cpuset.cpus", ["0-1,3"]], ["cpuset", "cpuset.mems", ["0"]]],
    v2: [["", "cpuset.cpus", ["0-1,3"]], ["", "cpuset.mems", ["0"]]],
  },
  {
    name: "cpus outside the online cpus",
    r: { cpu: { cpus: "0-999" } },
    v1: { throws: /^linux\.resources\.cpu\.cpus: "0-999" names cpus 4,5,6,7,\.\.\. that are not online \(online: 0,1,2,3\)/, code: "InvalidArgument" },
    v2: { throws: /^linux\.resources\.cpu\.cpus: "0-999" names cpus/, code: "InvalidArgument" },
  },
  {
    name: "malformed cpus string",
    r: { cpu: { cpus: "3-1" } },
    v1: { throws: /^linux\.resources\.cpu\.cpus: "3-1" is not a list/ },
    v2: { throws: /^linux\.resources\.cpu\.cpus: "3-1" is not a list/ },
  },
  {
    name: "pids limit",
    r: { pids: { limit: 100 } },
    v1: [["pids", "pids.max", ["100"]]],
    v2: [["", "pids.max", ["100"]]],
  },
  {
    name: "pids limit -1 is unlimited",
    r: { pids: { limit: -1 } },
    v1: [["pids", "pids.max", ["max"]]],
    v2: [["", "pids.max", ["max"]]],
  },
  {
    name: "blkio throttles",
    r: { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: M }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 100 }] } },
    v1: [["blkio", "blkio.throttle.read_bps_device", [`8:0 ${M}`]], ["blkio", "blkio.throttle.write_iops_device", ["8:16 100"]]],
    v2: [["", "io.max", [`8:0 rbps=${M}`, "8:16 wiops=100"]]],
  },
  {
    name: "blkio weight and weight device",
    r: { blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 200 }] } },
    v1: [["blkio", "blkio.weight", ["500"]], ["blkio", "blkio.weight_device", ["8:0 200"]]],
    v2: [["", "io.weight", [String(blkioToIoWeight(500)), `8:0 ${blkioToIoWeight(200)}`]]],
  },
  {
    name: "blkio leaf weight (v1 only)",
    r: { blockIO: { leafWeight: 300 } },
    v1: [["blkio", "blkio.leaf_weight", ["300"]]],
    v2: { throws: /^linux\.resources\.blockIO\.leafWeight: not supported on cgroup v2/ },
  },
  {
    name: "throttle of a block device the host does not have",
    r: { blockIO: { throttleReadBpsDevice: [{ major: 9, minor: 9, rate: 1 }] } },
    v1: { throws: /^linux\.resources\.blockIO\.throttleReadBpsDevice\[0\]: no block device 9:9 on this host/ },
    v2: { throws: /^linux\.resources\.blockIO\.throttleReadBpsDevice\[0\]: no block device 9:9/ },
  },
  {
    name: "hugetlb limit",
    r: { hugepageLimits: [{ pageSize: "2MB", limit: 4 * M }] },
    v1: [["hugetlb", "hugetlb.2MB.limit_in_bytes", [`${4 * M}`]]],
    v2: [["", "hugetlb.2MB.max", [`${4 * M}`]], ["", "hugetlb.2MB.rsvd.max", [`${4 * M}`]]],
  },
  {
    name: "hugetlb page size the host does not have",
    r: { hugepageLimits: [{ pageSize: "4MB", limit: 4 * M }] },
    v1: { throws: /^linux\.resources\.hugepageLimits\[0\]\.pageSize: "4MB" is not a huge page size of this host \(2MB, 1GB\)/, code: "FailedPrecondition" },
    v2: { throws: /^linux\.resources\.hugepageLimits\[0\]\.pageSize: "4MB" is not a huge page size/ },
  },
  {
    name: "devices: deny all, then the rules in order",
    r: { devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rw" }, { allow: false, type: "c", major: 1, minor: 3, access: "w" }] },
    v1: [["devices", "devices.deny", ["a", "a *:* rwm", "c 1:3 w"]], ["devices", "devices.allow", ["c 1:3 rw"]]],
    v2: [], // the program is checked in its own test below
  },
  {
    name: "device rule with a bad type",
    r: { devices: [{ allow: true, type: "x" as "a" }] },
    v1: { throws: /^linux\.resources\.devices\[0\]\.type: "x" is not one of/ },
    v2: { throws: /^linux\.resources\.devices\[0\]\.type: "x" is not one of/ },
  },
  {
    name: "network classID and priorities (v1 net_cls/net_prio)",
    r: { network: { classID: 0x100001, priorities: [{ name: "eth0", priority: 5 }] } },
    v1: [["net_cls", "net_cls.classid", ["1048577"]], ["net_prio", "net_prio.ifpriomap", ["eth0 5"]]],
    v2: { throws: /^linux\.resources\.network\.classID: the net_cls controller is not available in cgroup v2/, code: "FailedPrecondition" },
  },
  {
    name: "unified map (v2 only)",
    r: { unified: { "memory.high": "50000000" } },
    v1: { throws: /^linux\.resources\.unified: needs cgroup v2/, code: "FailedPrecondition" },
    v2: [["", "memory.high", ["50000000"]]],
  },
  {
    name: "unified key with a path",
    r: { unified: { "../memory.max": "1" } },
    v1: { throws: /^linux\.resources\.unified\["\.\.\/memory\.max"\]: a key must be a file name/ },
    v2: { throws: /^linux\.resources\.unified\["\.\.\/memory\.max"\]: a key must be a file name/ },
  },
];

class Recorder implements DeviceProgramLoader {
  calls: { dir: string; program: BpfInsn[] }[] = [];
  attach(dir: string, program: BpfInsn[]): void {
    this.calls.push({ dir, program });
  }
}

function dirOf(st: CgroupState, controller: string): string {
  return controller === "" ? st.v2!.dir : st.v1!.dirs[controller]!;
}

function expectError(fn: () => unknown, re: RegExp, code?: string): BerthError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BerthError);
  expect((err as BerthError).message).toMatch(re);
  if (code) expect((err as BerthError).code).toBe(code as BerthError["code"]);
  return err as BerthError;
}

/** every file the backend might write, for "nothing was written" checks */
const WATCHED: Record<Mode, [string, string][]> = {
  v1: [["memory", "memory.limit_in_bytes"], ["pids", "pids.max"], ["cpu", "cpu.shares"], ["devices", "devices.deny"]],
  v2: [["", "memory.max"], ["", "pids.max"], ["", "cpu.weight"]],
};

for (const mode of ["v1", "v2"] as const) {
  describe(`cgroup backend ${mode} (temporary directory)`, () => {
    let fake: FakeCgroupFs;
    let rec: Recorder;
    let mgr: CgroupManager;
    const make = (cgroupsPath: string | undefined = "/berth/c1", id = "c1") =>
      createCgroupManager({ id, cgroupsPath, hierarchy: fake.h, deviceProgramLoader: rec });

    beforeEach(() => {
      fake = new FakeCgroupFs(mode);
      rec = new Recorder();
      mgr = make();
      mgr.create();
      fake.populate();
    });
    afterEach(() => fake.cleanup());

    for (const c of CASES) {
      const exp = c[mode];
      test(`set: ${c.name}`, () => {
        const st = mgr.toJSON();
        if (!Array.isArray(exp)) {
          expectError(() => mgr.set(c.r), exp.throws, exp.code);
          for (const [ctl, f] of WATCHED[mode]) expect(fake.written(dirOf(st, ctl), f)).toEqual([]);
          return;
        }
        mgr.set(c.r);
        for (const [ctl, file, values] of exp) expect({ file, values: fake.written(dirOf(st, ctl), file) }).toEqual({ file, values });
      });
    }

    test("set: validation happens before any write (bad value after good ones)", () => {
      const st = mgr.toJSON();
      expectError(
        () => mgr.set({ memory: { limit: 100 * M }, pids: { limit: 10 }, cpu: { shares: 512 }, hugepageLimits: [{ pageSize: "3MB", limit: 1 }] }),
        /^linux\.resources\.hugepageLimits\[0\]\.pageSize/,
      );
      for (const [ctl, f] of WATCHED[mode]) expect(fake.written(dirOf(st, ctl), f)).toEqual([]);
    });

    test("set: a missing interface file fails before any write, naming the field", () => {
      const st = mgr.toJSON();
      const r: LinuxResources =
        mode === "v1"
          ? { pids: { limit: 5 }, blockIO: { leafWeight: 500 } }
          : { pids: { limit: 5 }, unified: { "memory.nonexistent": "1" } };
      const d = dirOf(st, mode === "v1" ? "blkio" : "");
      const missing = mode === "v1" ? "blkio.leaf_weight" : "memory.nonexistent";
      if (existsSync(join(d, missing))) unlinkSync(join(d, missing)); // a kernel without this file
      const err = expectError(() => mgr.set(r), new RegExp(`^linux\\.resources\\.(blockIO\\.leafWeight|unified\\["memory\\.nonexistent"\\]): not supported here: .*${missing.replace(".", "\\.")} does not exist`));
      expect(err.code).toBe("FailedPrecondition");
      expect(fake.written(dirOf(st, mode === "v1" ? "pids" : ""), "pids.max")).toEqual([]);
    });

    test("set: checkBeforeUpdate refuses a limit below current usage", () => {
      const st = mgr.toJSON();
      const d = dirOf(st, mode === "v1" ? "memory" : "");
      fake.setValue(d, mode === "v1" ? "memory.usage_in_bytes" : "memory.current", String(10 * M));
      expectError(() => mgr.set({ memory: { limit: M, checkBeforeUpdate: true } }), /^linux\.resources\.memory\.limit: 1048576 is below the current usage 10485760/, "FailedPrecondition");
      mgr.set({ memory: { limit: 20 * M, checkBeforeUpdate: true } });
      expect(fake.written(d, mode === "v1" ? "memory.limit_in_bytes" : "memory.max")).toEqual([String(20 * M)]);
    });

    test("set: updates keep what they do not mention (quota survives a period-only update)", () => {
      const st = mgr.toJSON();
      mgr.set({ cpu: { quota: 20000, period: 100000 } });
      mgr.set({ cpu: { period: 200000 } });
      if (mode === "v1") expect(fake.written(dirOf(st, "cpu"), "cpu.cfs_quota_us")).toEqual(["20000"]);
      else expect(fake.written(st.v2!.dir, "cpu.max")).toEqual(["20000 100000", "20000 200000"]);
    });

    test("set: zero means unset (runc semantics), nothing written", () => {
      const st = mgr.toJSON();
      mgr.set({ memory: { limit: 0, reservation: 0 }, cpu: { shares: 0, quota: 0, period: 0 }, pids: { limit: 0 } });
      for (const [ctl, f] of WATCHED[mode]) expect(fake.written(dirOf(st, ctl), f)).toEqual([]);
    });

    test("devices program / rules replace on update", () => {
      mgr.set({ devices: [{ allow: false }, { allow: true, type: "c", major: 1, minor: 5, access: "rwm" }] });
      mgr.set({ devices: [{ allow: false }] });
      if (mode === "v2") {
        expect(rec.calls.length).toBe(2);
        expect(rec.calls[0]!.dir).toBe(mgr.toJSON().v2!.dir);
        expect(rec.calls[0]!.program.length).toBe(6 + 5 + 2);
        expect(rec.calls[1]!.program.length).toBe(8);
      } else {
        expect(fake.written(dirOf(mgr.toJSON(), "devices"), "devices.deny")).toEqual(["a", "a *:* rwm", "a", "a *:* rwm"]);
        expect(rec.calls.length).toBe(0);
      }
    });

    test("apply and processes (sub-cgroups included)", () => {
      mgr.apply(1234);
      mgr.apply(5678);
      const st = mgr.toJSON();
      const leaf = mode === "v1" ? st.v1!.dirs["pids"]! : st.v2!.dir;
      mkdirSync(join(leaf, "sub"));
      writeFileSync(join(leaf, "sub", "cgroup.procs"), "42\n");
      expect(mgr.processes().sort((a, b) => a - b)).toEqual([42, 1234, 5678]);
      if (mode === "v1") {
        for (const d of new Set(Object.values(st.v1!.dirs))) expect(fake.written(d, "cgroup.procs")).toEqual(["1234", "5678"]);
      }
      expect(() => mgr.apply(0)).toThrow(/apply: 0 is not a pid/);
    });

    test("freeze, isFrozen, thaw", () => {
      expect(mgr.isFrozen()).toBe(false);
      mgr.freeze();
      expect(mgr.isFrozen()).toBe(true);
      mgr.thaw();
      expect(mgr.isFrozen()).toBe(false);
      const st = mgr.toJSON();
      if (mode === "v1") expect(fake.written(st.v1!.dirs["freezer"]!, "freezer.state")).toEqual(["FROZEN", "THAWED"]);
      else expect(fake.written(st.v2!.dir, "cgroup.freeze")).toEqual(["1", "0"]);
    });

    test("stats", () => {
      const s = mgr.stats();
      expect(s.memory?.usage).toBe(4096);
      expect(s.memory?.limit).toBeNull();
      expect(s.memory?.maxUsage).toBe(8192);
      expect(s.pids).toEqual({ current: 1, limit: null });
      expect(s.cpu?.usageNs).toBe(mode === "v1" ? 123456789 : 1000000);
      expect(s.blkio?.readBytes).toBe(mode === "v1" ? 101 : 100);
      expect(s.blkio?.writeBytes).toBe(200);
      expect(s.hugetlb?.["2MB"]?.usage).toBe(0);
      if (mode === "v1") expect(s.memory?.oomKills).toBe(2);
      else expect(s.memory).toMatchObject({ failcnt: 3, oomKills: 1 });
      mgr.set({ memory: { limit: 64 * M }, pids: { limit: 7 } });
      const s2 = mgr.stats();
      expect(s2.memory?.limit).toBe(64 * M);
      expect(s2.pids?.limit).toBe(7);
    });

    test("destroy removes only what it created; toJSON/load round trip", () => {
      // a second container sharing the pre-existing parent "berth"? here "berth" was created by c1
      const st = mgr.toJSON();
      const leaves = mode === "v1" ? [...new Set(Object.values(st.v1!.dirs))] : [st.v2!.dir];
      const created = mode === "v1" ? st.v1!.created : st.v2!.created;
      // both /berth and /berth/c1 were created, per hierarchy
      expect(created.length).toBe(leaves.length * 2);
      const other = make("/berth/c2", "c2");
      other.create();
      const otherSt = other.toJSON();
      expect((mode === "v1" ? otherSt.v1!.created : otherSt.v2!.created).length).toBe(leaves.length); // only its leaf
      fake.stripFiles();
      const loaded = loadCgroupManager(JSON.parse(JSON.stringify(st)), { deviceProgramLoader: rec });
      loaded.destroy();
      for (const l of leaves) {
        expect(existsSync(l)).toBe(false);
        expect(existsSync(join(l, ".."))).toBe(true); // "berth" still holds c2
      }
      other.destroy(); // c2 did not create "berth": it stays
      for (const l of leaves) expect(existsSync(join(l, ".."))).toBe(true);
      loaded.destroy(); // idempotent
    });

    test("destroy never removes a pre-existing leaf; a pre-existing leaf with processes is refused", () => {
      const mp = fake.mountOf(mode === "v1" ? "pids" : "");
      mkdirSync(join(mp, "existing", "busy"), { recursive: true });
      writeFileSync(join(mp, "existing", "busy", "cgroup.procs"), "99\n");
      const busy = make("/existing/busy", "busy");
      expectError(() => busy.create(), /^create cgroup: cgroup .*existing\/busy already exists and has processes/, "FailedPrecondition");
      // nothing it made is left behind (in v1 other hierarchies got /existing/busy created, then removed)
      const others = fake.h.v1.filter((m) => m.mountpoint !== mp);
      for (const m of others) expect(existsSync(join(m.mountpoint, "existing"))).toBe(false);
      mkdirSync(join(mp, "existing", "idle"), { recursive: true });
      const idle = make("/existing/idle", "idle");
      idle.create();
      fake.stripFiles();
      idle.destroy();
      expect(existsSync(join(mp, "existing", "idle"))).toBe(true);
      expect(existsSync(join(mp, "existing", "busy"))).toBe(true);
    });

    test("destroy removes sub-cgroups the container made inside its own cgroup", () => {
      const st = mgr.toJSON();
      const leaf = mode === "v1" ? st.v1!.dirs["memory"]! : st.v2!.dir;
      mkdirSync(join(leaf, "inner", "deeper"), { recursive: true });
      fake.stripFiles();
      mgr.destroy();
      expect(existsSync(leaf)).toBe(false);
    });

    test("cgroupsPath: absolute, relative, empty, '..' and the systemd form", () => {
      const abs = make("/a/b", "x").toJSON();
      const rel = make("a/b", "x").toJSON();
      const empty = make("", "ctr1").toJSON();
      const dots = make("../../../etc/x", "x").toJSON();
      if (mode === "v1") {
        expect(abs.v1!.dirs["memory"]).toBe(join(fake.mountOf("memory"), "a/b"));
        expect(abs.v1!.paths["memory"]).toBe("/a/b");
        // relative: below the runtime's own cgroup of each hierarchy
        expect(rel.v1!.dirs["memory"]).toBe(join(fake.mountOf("memory"), "supervisor/job/a/b"));
        expect(rel.v1!.paths["memory"]).toBe("/supervisor/job/a/b");
        expect(rel.v1!.dirs["pids"]).toBe(join(fake.mountOf("pids"), "a/b"));
        expect(empty.v1!.dirs["memory"]).toBe(join(fake.mountOf("memory"), "supervisor/job/ctr1"));
        expect(dots.v1!.dirs["memory"]).toBe(join(fake.mountOf("memory"), "supervisor/job/etc/x"));
      } else {
        expect(abs.v2!.dir).toBe(join(fake.mountOf(""), "a/b"));
        expect(empty.v2!.dir).toBe(join(fake.mountOf(""), "ctr1"));
        expect(dots.v2!.dir).toBe(join(fake.mountOf(""), "etc/x"));
      }
      expectError(() => make("system.slice:berth:c1"), /^linux\.cgroupsPath: "system\.slice:berth:c1" is a systemd slice:prefix:name path/, "InvalidArgument");
      expectError(() => make("/", "x"), /^linux\.cgroupsPath: "\/" names the root cgroup/);
    });

    test("check() and checkValidity() touch nothing", () => {
      const st = mgr.toJSON();
      expect(() => mgr.check({ pids: { limit: 3 } })).not.toThrow();
      expect(() => checkValidity({ pids: { limit: 3 } }, fake.h)).not.toThrow();
      expectError(() => mgr.check({ cpu: { mems: "1" } }), /^linux\.resources\.cpu\.mems: "1" names memory nodes 1 that is not online/);
      for (const [ctl, f] of WATCHED[mode]) expect(fake.written(dirOf(st, ctl), f)).toEqual([]);
    });

    if (mode === "v2") {
      test("create enables the available controllers in the parents' subtree_control", () => {
        expect(fake.written(fake.mountOf(""), "cgroup.subtree_control")).toEqual(["+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc"]);
      });
    }
    if (mode === "v1") {
      test("kernel memory files absent: a clear not-supported error", () => {
        const f2 = new FakeCgroupFs("v1", { without: ["memory.kmem.limit_in_bytes", "memory.memsw.limit_in_bytes"] });
        try {
          const m2 = createCgroupManager({ id: "k", cgroupsPath: "/k", hierarchy: f2.h });
          expectError(() => m2.check({ memory: { kernel: M } }), /^linux\.resources\.memory\.kernel: not supported by this kernel: no memory\.kmem\.limit_in_bytes/, "FailedPrecondition");
          expectError(() => m2.check({ memory: { limit: M, swap: 2 * M } }), /^linux\.resources\.memory\.swap: not supported by this kernel: no memory\.memsw\.limit_in_bytes \(swap accounting is off\)/);
          expect(() => m2.check({ memory: { limit: -1 } })).not.toThrow(); // swap -1 implied only when memsw exists
        } finally {
          f2.cleanup();
        }
      });

      test("separate cpu and cpuacct mounts (as on the real machine)", () => {
        const f2 = new FakeCgroupFs("v1", { combined: false });
        try {
          const m2 = createCgroupManager({ id: "s", cgroupsPath: "/s", hierarchy: f2.h });
          m2.create();
          const st = m2.toJSON();
          expect(st.v1!.dirs["cpu"]).toBe(join(f2.mountOf("cpu"), "s"));
          expect(st.v1!.dirs["cpuacct"]).toBe(join(f2.mountOf("cpuacct"), "s"));
          expect(m2.mounts().find((v) => v.options.includes("cpu"))!.symlinks).toEqual([]);
        } finally {
          f2.cleanup();
        }
      });
    }
  });
}

describe("hybrid composition (temporary directory: v1 controllers + cgroup2 owning hugetlb)", () => {
  let fake: FakeCgroupFs;
  let rec: Recorder;
  let mgr: CgroupManager;
  beforeEach(() => {
    fake = new FakeCgroupFs("hybrid");
    rec = new Recorder();
    mgr = createCgroupManager({ id: "h1", cgroupsPath: "/berth/h1", hierarchy: fake.h, deviceProgramLoader: rec });
    mgr.create();
    fake.populate();
  });
  afterEach(() => fake.cleanup());

  test("each resource goes to the side that has its controller", () => {
    const st = mgr.toJSON();
    mgr.set({
      memory: { limit: 64 * M },
      pids: { limit: 20 },
      hugepageLimits: [{ pageSize: "2MB", limit: 2 * M }],
      devices: [{ allow: false }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }],
    });
    expect(fake.written(st.v1!.dirs["memory"]!, "memory.limit_in_bytes")).toEqual([String(64 * M)]);
    expect(fake.written(st.v1!.dirs["pids"]!, "pids.max")).toEqual(["20"]);
    expect(fake.written(st.v2!.dir, "hugetlb.2MB.max")).toEqual([String(2 * M)]);
    expect(fake.written(st.v1!.dirs["devices"]!, "devices.allow")).toEqual(["c 1:3 rwm"]);
    expect(rec.calls.length).toBe(0); // v1 devices controller is mounted: no BPF
    expect(fake.written(fake.mountOf(""), "cgroup.subtree_control")).toEqual(["+hugetlb"]);
  });

  test("apply joins both sides; freeze uses the v1 freezer", () => {
    mgr.apply(4321);
    const st = mgr.toJSON();
    expect(fake.written(st.v2!.dir, "cgroup.procs")).toEqual(["4321"]);
    expect(fake.written(st.v1!.dirs["memory"]!, "cgroup.procs")).toEqual(["4321"]);
    mgr.freeze();
    expect(fake.written(st.v1!.dirs["freezer"]!, "freezer.state")).toEqual(["FROZEN"]);
    expect(fake.written(st.v2!.dir, "cgroup.freeze")).toEqual([]);
    mgr.thaw();
  });

  test("unified keys only for controllers on the cgroup2 mount", () => {
    const st = mgr.toJSON();
    mgr.set({ unified: { "hugetlb.1GB.max": "0" } });
    expect(fake.written(st.v2!.dir, "hugetlb.1GB.max")).toEqual(["0"]);
    expectError(() => mgr.set({ unified: { "memory.max": "1" } }), /^linux\.resources\.unified\["memory\.max"\]: controller memory is not available in cgroup v2 on this host/);
  });

  test("hugetlb stats come from the v2 side", () => {
    expect(mgr.stats().hugetlb?.["2MB"]).toEqual({ usage: 0, limit: null, failcnt: 0 });
  });

  test("mounts() describes both sides for the container's /sys/fs/cgroup", () => {
    const views = mgr.mounts();
    const mem = views.find((v) => v.controllers.includes("memory"))!;
    expect(mem).toMatchObject({ mountpoint: "/sys/fs/cgroup/memory", fstype: "cgroup", options: ["memory"], cgroupPath: "/berth/h1" });
    const cpu = views.find((v) => v.controllers.includes("cpu"))!;
    expect(cpu.mountpoint).toBe("/sys/fs/cgroup/cpu,cpuacct");
    expect(cpu.symlinks).toEqual(["cpu", "cpuacct"]);
    const sd = views.find((v) => v.options.includes("name=systemd"))!;
    expect(sd.mountpoint).toBe("/sys/fs/cgroup/systemd");
    const v2 = views.find((v) => v.fstype === "cgroup2")!;
    expect(v2).toMatchObject({ mountpoint: "/sys/fs/cgroup/unified", controllers: ["hugetlb"], cgroupPath: "/berth/h1" });
  });

  test("destroy removes both sides", () => {
    const st = mgr.toJSON();
    fake.stripFiles();
    mgr.destroy();
    expect(existsSync(st.v2!.dir)).toBe(false);
    expect(existsSync(join(st.v2!.dir, ".."))).toBe(false);
    for (const d of Object.values(st.v1!.dirs)) expect(existsSync(d)).toBe(false);
  });
});

describe("v1 write order (compiled steps)", () => {
  const { v1Steps } = require("../../../src/runtime/cgroups/v1/resources.ts") as typeof import("../../../src/runtime/cgroups/v1/resources.ts");
  const { toNumeric } = require("../../../src/runtime/cgroups/resources.ts") as typeof import("../../../src/runtime/cgroups/resources.ts");
  let fake: FakeCgroupFs;
  beforeEach(() => {
    fake = new FakeCgroupFs("v1");
  });
  afterEach(() => fake.cleanup());
  const order = (r: LinuxResources, dir: string) =>
    v1Steps(toNumeric(r), () => true, () => dir).map((s) => ("file" in s ? s.file : s.field));

  test("memory: limit before memsw when shrinking/first set, memsw first when growing past the current limit", () => {
    const d = fake.mountOf("memory");
    expect(order({ memory: { limit: 100 * M, swap: 200 * M } }, d)).toEqual(["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]);
    fake.setValue(d, "memory.limit_in_bytes", String(100 * M));
    expect(order({ memory: { limit: 300 * M, swap: 400 * M } }, d)).toEqual(["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]);
    expect(order({ memory: { limit: 50 * M, swap: 60 * M } }, d)).toEqual(["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]);
  });

  test("kernel memory is written first (so an ignoring kernel fails before anything else)", () => {
    expect(order({ memory: { limit: M, kernel: M } }, fake.mountOf("memory"))[0]).toBe("memory.kmem.limit_in_bytes");
  });

  test("cpu: period marked for retry after quota on EINVAL", () => {
    const steps = v1Steps(toNumeric({ cpu: { quota: 50000, period: 10000 } }), () => true, () => fake.mountOf("cpu"));
    expect(steps.map((s) => ["file" in s && s.file, "retryOnEinval" in s && s.retryOnEinval === true])).toEqual([
      ["cpu.cfs_period_us", true],
      ["cpu.cfs_quota_us", false],
    ]);
  });
});
