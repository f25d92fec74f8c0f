/**
 * Process and kernel features against the real kernel (root), each checked
 * from inside the container: time namespace offsets, personality, I/O
 * priority, scheduler, NUMA memory policy, CPU affinity.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir, availableParallelism } from "node:os";
import type { Spec } from "../../src/oci/runtime-spec.ts";
import { launch } from "../../src/runtime/launch.ts";
import { instr } from "../../src/runtime/plan/record.ts";
import { SYNC_TAG } from "../../src/runtime/plan/opcodes.ts";
import { execAffinity } from "../../src/runtime/plan/process-features.ts";
import { RuntimeCli, makeBundle, uniqueId, isRoot, mountsUnder, processesMatching, ROOTFS, RUNTIME } from "./harness.ts";

const d = isRoot ? describe : describe.skip;
let rt: RuntimeCli;
beforeAll(() => {
  if (isRoot) rt = new RuntimeCli();
});
afterAll(() => rt?.cleanup());

function sh(script: string, edit: (s: Spec) => void) {
  const b = makeBundle(["sh", "-c", script], edit);
  try {
    return rt.runBundle(b);
  } finally {
    b.cleanup();
  }
}

/** `create` that must fail: the message, and nothing left behind. */
function createFails(edit: (s: Spec) => void): string {
  const id = uniqueId("badfeat");
  const b = makeBundle(["true"], edit);
  try {
    const r = rt.run(["create", "--bundle", b.dir, id]);
    expect(r.code).not.toBe(0);
    expect(existsSync(join(rt.root, id))).toBe(false);
    expect(processesMatching(id)).toEqual([]);
    expect(mountsUnder(ROOTFS + "/")).toEqual([]);
    return r.stderr;
  } finally {
    b.cleanup();
  }
}

/** Fields of a /proc/<pid>/stat line, numbered as proc(5) numbers them (1 = pid). */
function statField(line: string, n: number): string {
  const rest = line.slice(line.lastIndexOf(")") + 2).trim().split(/\s+/);
  return rest[n - 3]!;
}
// the shell's own stat, read by a builtin (no fork: a SCHED_DEADLINE task may not fork)
const SELF_STAT = 'read l < /proc/$$/stat; echo "$l"';

const hostUptime = () => Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);

d("time namespace", () => {
  test("boottime and monotonic offsets: /proc/uptime is ahead by the offset", () => {
    const before = hostUptime();
    const r = sh("cat /proc/uptime; cat /proc/self/timens_offsets", (s) => {
      s.linux!.namespaces!.push({ type: "time" });
      s.linux!.timeOffsets = { boottime: { secs: 86400 }, monotonic: { secs: 3600, nanosecs: 5 } };
    });
    const after = hostUptime();
    expect(r.stderr).toBe("");
    const [uptime, ...offsets] = r.stdout.trim().split("\n");
    const inside = Number(uptime!.split(" ")[0]);
    expect(inside).toBeGreaterThanOrEqual(before + 86400);
    expect(inside).toBeLessThanOrEqual(after + 86400);
    // the namespace the container runs in carries exactly the configured offsets
    expect(offsets.map((l) => l.trim().split(/\s+/).join(" ")).sort()).toEqual(["boottime 86400 0", "monotonic 3600 5"]);
  });
});

d("personality", () => {
  test.skipIf(process.arch !== "x64")("LINUX32 makes uname say i686; flags are set as asked", () => {
    const r = sh("uname -m; cat /proc/self/personality", (s) => {
      s.linux!.personality = { domain: "LINUX32", flags: ["ADDR_NO_RANDOMIZE"] };
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("i686\n00040008\n");
    expect(sh("uname -m", (s) => (s.linux!.personality = { domain: "LINUX" })).stdout).toBe("x86_64\n");
  });
  test("an unknown flag is named, nothing created", () => {
    expect(createFails((s) => (s.linux!.personality = { domain: "LINUX", flags: ["GO_FAST"] }))).toContain('linux.personality.flags[0]: unknown flag "GO_FAST"');
  });
});

d("I/O priority", () => {
  test("idle, best-effort and realtime classes, as ionice reads them back", () => {
    const io = (cls: string, priority: number) => sh("ionice -p $$", (s) => (s.process!.ioPriority = { class: cls as never, priority }));
    expect(io("IOPRIO_CLASS_IDLE", 4).stdout).toBe("idle\n");
    expect(io("IOPRIO_CLASS_BE", 6).stdout).toBe("best-effort: prio 6\n");
    // realtime needs CAP_SYS_ADMIN/CAP_SYS_NICE over the host: the init has it before it drops its capabilities
    expect(io("IOPRIO_CLASS_RT", 3).stdout).toBe("realtime: prio 3\n");
  });
  test("realtime in a user namespace is refused, naming the field", () => {
    const err = createFails((s) => {
      s.linux!.namespaces!.push({ type: "user" });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.process!.ioPriority = { class: "IOPRIO_CLASS_RT", priority: 0 };
    });
    expect(err).toContain("process.ioPriority: ioprio_set class 1 priority 0: Operation not permitted");
  });
});

d("scheduler", () => {
  test("SCHED_BATCH with nice, SCHED_IDLE, SCHED_OTHER with a negative nice", () => {
    const stat = (sched: NonNullable<Spec["process"]>["scheduler"]) => {
      const r = sh(SELF_STAT, (s) => (s.process!.scheduler = sched));
      expect(r.stderr).toBe("");
      return { nice: Number(statField(r.stdout, 19)), policy: Number(statField(r.stdout, 41)) };
    };
    expect(stat({ policy: "SCHED_BATCH", nice: 7 })).toEqual({ nice: 7, policy: 3 });
    expect(stat({ policy: "SCHED_IDLE" }).policy).toBe(5);
    expect(stat({ policy: "SCHED_OTHER", nice: -5 })).toEqual({ nice: -5, policy: 0 });
  });

  test("SCHED_DEADLINE with reset-on-fork", () => {
    const r = sh(SELF_STAT, (s) => {
      s.process!.scheduler = { policy: "SCHED_DEADLINE", runtime: 1_000_000, deadline: 10_000_000, period: 100_000_000, flags: ["SCHED_FLAG_RESET_ON_FORK"] };
    });
    expect(r.stderr).toBe("");
    expect(statField(r.stdout, 41)).toBe("6");
  });

  // With CONFIG_RT_GROUP_SCHED (cpu.rt_runtime_us exists), a new cgroup has no
  // realtime budget: SCHED_FIFO needs linux.resources.cpu.realtimeRuntime.
  const rtGroups = existsSync("/sys/fs/cgroup/cpu/cpu.rt_runtime_us");
  test.skipIf(!rtGroups)("SCHED_FIFO: refused without a realtime budget (clear error), runs with one", () => {
    const fifo = { policy: "SCHED_FIFO" as const, priority: 10 };
    const err = createFails((s) => (s.process!.scheduler = fifo));
    expect(err).toContain("process.scheduler: sched_setattr policy 1 priority 10: Operation not permitted");
    expect(err).toContain("cpu.rt_runtime_us");
    const r = sh(SELF_STAT, (s) => {
      s.process!.scheduler = fifo;
      s.linux!.resources = { cpu: { realtimeRuntime: 10_000, realtimePeriod: 1_000_000 } };
    });
    expect(r.stderr).toBe("");
    expect([statField(r.stdout, 40), statField(r.stdout, 41)]).toEqual(["10", "1"]);
  });

  test("SCHED_ISO and out-of-range values are refused before anything is created", () => {
    expect(createFails((s) => (s.process!.scheduler = { policy: "SCHED_ISO" }))).toContain("process.scheduler.policy: SCHED_ISO");
    expect(createFails((s) => (s.process!.scheduler = { policy: "SCHED_RR", priority: 100 }))).toMatch(/process\.scheduler\.priority/);
  });
});

d("memory policy", () => {
  const numa = existsSync("/proc/self/numa_maps");
  test.skipIf(!numa)("interleave and bind (static) show in numa_maps; a missing node is a clear error", () => {
    const policy = (r: { stdout: string }) => r.stdout.trim().split("\n")[0]!.split(" ")[1];
    const inter = sh("head -1 /proc/self/numa_maps", (s) => (s.linux!.memoryPolicy = { mode: "MPOL_INTERLEAVE", nodes: "0" }));
    expect(policy(inter)).toBe("interleave:0");
    const bind = sh("head -1 /proc/self/numa_maps", (s) => (s.linux!.memoryPolicy = { mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES"] }));
    expect(policy(bind)).toBe("bind=static:0");
    expect(policy(sh("head -1 /proc/self/numa_maps", () => {}))).toBe("default");
    const err = createFails((s) => (s.linux!.memoryPolicy = { mode: "MPOL_BIND", nodes: "63" }));
    expect(err).toContain("linux.memoryPolicy: set_mempolicy mode 0x2: Invalid argument");
  });
});

d("CPU affinity", () => {
  const cpus = availableParallelism();
  test.skipIf(cpus < 2)("the init does not inherit the runtime's affinity", () => {
    const b = makeBundle(["grep", "Cpus_allowed_list", "/proc/self/status"], (s) => {
      // for processes started by exec only (runtime-spec): not applied to the init
      s.process!.execCPUAffinity = { initial: "0", final: "0" };
    });
    const out = join(b.dir, "out");
    try {
      const fd = openSync(out, "w");
      const r = Bun.spawnSync(["taskset", "-c", "0", RUNTIME, "--root", rt.root, "run", "--bundle", b.dir, uniqueId("aff")], {
        stdout: fd,
        stderr: "pipe",
      });
      closeSync(fd);
      expect(r.stderr.toString()).toBe("");
      // every cpu the container's cpuset allows (v1 here: the root cpuset's), not just cpu 0
      const cpuset = "/sys/fs/cgroup/cpuset/cpuset.cpus";
      const all = existsSync(cpuset) ? readFileSync(cpuset, "utf8").trim() : `0-${cpus - 1}`;
      expect(readFileSync(out, "utf8").trim()).toBe(`Cpus_allowed_list:\t${all}`);
    } finally {
      b.cleanup();
    }
  });

  // What `exec` will emit for process.execCPUAffinity, run by berth-init on the host:
  // initial before the fork (seen by the runtime at the sync point), final after it.
  test.skipIf(cpus < 2)("execCPUAffinity ops: initial before entering, final after the sync point", async () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-aff-"));
    try {
      const aff = execAffinity({ initial: "0", final: "1" });
      const fd = openSync(join(dir, "out"), "w");
      let atSync = "";
      const launched = await launch({
        plan: [
          ...aff.initial,
          instr("CLONE", 0, 1),
          instr("SYNC", SYNC_TAG.SETUP),
          ...aff.final,
          instr("EXEC_PREPARE", "grep", "/usr/bin:/bin"),
          instr("READY"),
          instr("EXEC", ["grep", "Cpus_allowed_list", "/proc/self/status"], []),
        ],
        stdio: ["ignore", fd, "inherit"],
        onSync: (_tag, pid) => {
          atSync = /Cpus_allowed_list:\s+(\S+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]!;
        },
      });
      closeSync(fd);
      expect(await launched.helper.exited).toBe(0);
      expect(atSync).toBe("0");
      expect(readFileSync(join(dir, "out"), "utf8")).toBe("Cpus_allowed_list:\t1\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a cpu that does not exist is refused by the kernel, clearly", async () => {
    const aff = execAffinity({ initial: "4000" });
    await expect(launch({ plan: [...aff.initial, instr("READY")], onSync: () => {} })).rejects.toThrow(/sched_setaffinity .*: Invalid argument/);
  });
});
