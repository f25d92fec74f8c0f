import { test, expect } from "bun:test";
import { compilePlan, type PlanContext } from "../../../src/runtime/plan/compile.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import type { Instruction } from "../../../src/runtime/plan/record.ts";
import { execAffinity, idListMask, memoryPolicy, personaOf, schedAttr } from "../../../src/runtime/plan/process-features.ts";

function spec(edit: (s: Spec) => void = () => {}): Spec {
  const s = {
    ociVersion: "1.2.0",
    root: { path: "rootfs" },
    process: { user: { uid: 0, gid: 0 }, args: ["sh"], cwd: "/", noNewPrivileges: true },
    linux: { namespaces: [{ type: "mount" }, { type: "time" }] },
  } as Spec;
  edit(s);
  return s;
}
const ctx = (s: Spec): PlanContext => ({ spec: s, bundle: "/b", rootfs: "/b/rootfs", execFifo: "/f", isDir: () => true });
const ops = (p: Instruction[]) => p.map((i) => i.op);
const plan = (edit: (s: Spec) => void) => compilePlan(ctx(spec(edit)));

test("runc's order: after no_new_privs, scheduler, io priority, personality, memory policy, then seccomp and creds", () => {
  const p = plan((s) => {
    s.process!.scheduler = { policy: "SCHED_BATCH", nice: 5 };
    s.process!.ioPriority = { class: "IOPRIO_CLASS_IDLE", priority: 4 };
    s.linux!.personality = { domain: "LINUX32" };
    s.linux!.memoryPolicy = { mode: "MPOL_INTERLEAVE", nodes: "0" };
    s.process!.noNewPrivileges = false;
  });
  const o = ops(p);
  const i = o.indexOf("SCHED_ATTR");
  expect(o.slice(i, i + 4)).toEqual(["SCHED_ATTR", "IOPRIO", "PERSONALITY", "MEMPOLICY"]);
  expect(o.indexOf("UMASK")).toBeLessThan(i);
  expect(o.indexOf("PIVOT_ROOT")).toBeLessThan(i);
  const q = ops(plan((s) => (s.process!.scheduler = { policy: "SCHED_IDLE" })));
  expect(q.indexOf("NO_NEW_PRIVS")).toBe(q.indexOf("SCHED_ATTR") - 1);
  expect(q.indexOf("SCHED_ATTR")).toBeLessThan(q.indexOf("CAPSET"));
  // nothing asked, nothing emitted
  expect(ops(plan(() => {})).filter((x) => ["SCHED_ATTR", "IOPRIO", "PERSONALITY", "MEMPOLICY"].includes(x))).toEqual([]);
});

test("scheduler: numbers as sched_setattr wants them; bad values name the field", () => {
  expect(schedAttr({ policy: "SCHED_BATCH", nice: -3, flags: ["SCHED_FLAG_RESET_ON_FORK"] }).args).toEqual([3, 1n, (-3 >>> 0), 0, 0n, 0n, 0n]);
  expect(schedAttr({ policy: "SCHED_RR", priority: 50 }).args.slice(0, 4)).toEqual([2, 0n, 0, 50]);
  expect(schedAttr({ policy: "SCHED_DEADLINE", runtime: 10_000, deadline: 30_000, period: 100_000 }).args).toEqual([6, 0n, 0, 0, 10000n, 30000n, 100000n]);
  expect(() => schedAttr({ policy: "SCHED_FIFO" })).toThrow(/process.scheduler.priority: must be from 1 to 99/);
  expect(() => schedAttr({ policy: "SCHED_OTHER", priority: 3 })).toThrow(/process.scheduler.priority: can only be set/);
  expect(() => schedAttr({ policy: "SCHED_OTHER", nice: 20 })).toThrow(/process.scheduler.nice/);
  expect(() => schedAttr({ policy: "SCHED_ISO" })).toThrow(/process.scheduler.policy: SCHED_ISO is not implemented/);
  expect(() => schedAttr({ policy: "SCHED_OTHER", flags: ["SCHED_FLAG_BOGUS" as never] })).toThrow(/process.scheduler.flags\[0\]/);
  expect(() => schedAttr({ policy: "SCHED_DEADLINE", runtime: 500, deadline: 1000 })).toThrow(/process.scheduler.runtime/);
  expect(() => schedAttr({ policy: "SCHED_DEADLINE", runtime: 5000, deadline: 1000 })).toThrow(/process.scheduler.deadline/);
  expect(() => schedAttr({ policy: "SCHED_DEADLINE", runtime: 5000, deadline: 9000, period: 8000 })).toThrow(/process.scheduler.period/);
  expect(() => schedAttr({ policy: "SCHED_OTHER", runtime: 5 })).toThrow(/only be set with policy SCHED_DEADLINE/);
});

test("io priority: class << 13 | level, for the init process", () => {
  const p = plan((s) => (s.process!.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 6 }));
  expect(p.find((i) => i.op === "IOPRIO")!.args).toEqual([1, 0, (2 << 13) | 6]);
  expect(() => plan((s) => (s.process!.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 8 }))).toThrow(/process.ioPriority.priority/);
  expect(() => plan((s) => (s.process!.ioPriority = { class: "NOPE" as never, priority: 1 }))).toThrow(/process.ioPriority.class/);
});

test("personality: domain and the kernel's flag names", () => {
  expect(personaOf({ domain: "LINUX" })).toBe(0);
  expect(personaOf({ domain: "LINUX32", flags: ["ADDR_NO_RANDOMIZE"] })).toBe(0x0040008);
  expect(() => personaOf({ domain: "LINUX64" as never })).toThrow(/linux.personality.domain/);
  expect(() => personaOf({ domain: "LINUX", flags: ["FAST"] })).toThrow(/linux.personality.flags\[0\]: unknown flag "FAST"/);
});

test("memory policy: mode|flags and a node mask; the kernel's rules checked first", () => {
  const m = memoryPolicy({ mode: "MPOL_BIND", nodes: "0,2-3", flags: ["MPOL_F_STATIC_NODES"] });
  expect(m.args[0]).toBe(2 | (1 << 15));
  expect(m.args[1]).toEqual(new Uint8Array([0b1101, 0, 0, 0, 0, 0, 0, 0]));
  expect(memoryPolicy({ mode: "MPOL_LOCAL" }).args).toEqual([4, new Uint8Array(0)]);
  expect(memoryPolicy({ mode: "MPOL_PREFERRED" }).args).toEqual([1, new Uint8Array(0)]);
  expect(() => memoryPolicy({ mode: "MPOL_DEFAULT", nodes: "0" })).toThrow(/linux.memoryPolicy.nodes: must be empty/);
  expect(() => memoryPolicy({ mode: "MPOL_BIND" })).toThrow(/linux.memoryPolicy.nodes: at least one node/);
  expect(() => memoryPolicy({ mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"] })).toThrow(/exclude each other/);
  expect(() => memoryPolicy({ mode: "MPOL_INTERLEAVE", nodes: "0", flags: ["MPOL_F_NUMA_BALANCING"] })).toThrow(/MPOL_F_NUMA_BALANCING/);
  expect(() => memoryPolicy({ mode: "MPOL_BIND", nodes: "1-0" })).toThrow(/linux.memoryPolicy.nodes: invalid range "1-0"/);
});

test("cpu lists become u64-padded little-endian masks", () => {
  expect(idListMask("", "f")).toEqual(new Uint8Array(0));
  expect(idListMask("0-3,7", "f")).toEqual(new Uint8Array([0x8f, 0, 0, 0, 0, 0, 0, 0]));
  expect(idListMask(" 64 ,,", "f").length).toBe(16);
  expect(idListMask("64", "f")[8]).toBe(1);
  expect(() => idListMask("a", "process.execCPUAffinity.final")).toThrow(/process.execCPUAffinity.final: "a" is not a number/);
  expect(() => idListMask("70000", "f")).toThrow(/over the limit/);
});

test("execCPUAffinity is for exec'd processes; the init resets the runtime's affinity once in its cgroup", () => {
  const a = execAffinity({ initial: "1", final: "0-1" });
  expect(a.initial[0]!.args[0]).toEqual(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]));
  expect(a.final[0]!.args[0]).toEqual(new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0]));
  expect(execAffinity({ initial: "1" }).final).toEqual([]);
  const reset = execAffinity(undefined);
  expect(reset.initial).toEqual([]);
  expect((reset.final[0]!.args[0] as Uint8Array).every((b) => b === 0xff)).toBe(true);
  expect(() => execAffinity({ final: "," })).toThrow(/process.execCPUAffinity.final: no cpu/);
  // init: the spec's execCPUAffinity is not applied, the reset is (right after SYNC SETUP)
  const p = plan((s) => (s.process!.execCPUAffinity = { initial: "0", final: "1" }));
  const aff = p.filter((i) => i.op === "CPU_AFFINITY");
  expect(aff.length).toBe(1);
  expect((aff[0]!.args[0] as Uint8Array).every((b) => b === 0xff)).toBe(true);
  expect(ops(p).indexOf("CPU_AFFINITY")).toBeGreaterThan(ops(p).indexOf("SYNC"));
});

test("time namespace offsets are written before the fork, to the new namespace", () => {
  const p = plan((s) => (s.linux!.timeOffsets = { boottime: { secs: 86400 }, monotonic: { secs: -5, nanosecs: 7 } }));
  const o = ops(p);
  expect(o.slice(0, 3)).toEqual(["UNSHARE", "WRITE_FILE", "CLONE"]);
  expect(p[1]!.args).toEqual(["/proc/self/timens_offsets", "boottime 86400 0\nmonotonic -5 7"]);
});
