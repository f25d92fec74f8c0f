/**
 * The plan side of hooks, the start handshake, process-less containers, user
 * namespace root and security labels (runtime side: test/integration/hooks.test.ts).
 */
import { test, expect, describe } from "bun:test";
import { compilePlan, type PlanContext } from "../../../src/runtime/plan/compile.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import type { Instruction } from "../../../src/runtime/plan/record.ts";
import { SYNC_TAG } from "../../../src/runtime/plan/opcodes.ts";
import { hookEnv, hookInstructions } from "../../../src/runtime/hooks.ts";

function spec(over: Partial<Spec> = {}): Spec {
  return {
    ociVersion: "1.2.0",
    root: { path: "rootfs" },
    process: { user: { uid: 0, gid: 0 }, args: ["sh"], env: ["PATH=/bin"], cwd: "/" },
    mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
    linux: { namespaces: [{ type: "pid" }, { type: "mount" }] },
    ...over,
  } as Spec;
}
const ctx = (s: Spec, extra: Partial<PlanContext> = {}): PlanContext => ({
  spec: s,
  bundle: "/b",
  rootfs: "/b/rootfs",
  execFifo: "/run/x/exec.fifo",
  startStatus: "/run/x/start.status",
  isDir: () => true,
  runtimeEnv: { PATH: "/usr/bin", HOME: "/root" },
  ...extra,
});
const ops = (p: Instruction[]) => p.map((i) => i.op);
const at = (p: Instruction[], op: string, from = 0) => ops(p).indexOf(op as never, from);
const syncTags = (p: Instruction[]) => p.filter((i) => i.op === "SYNC").map((i) => i.args[0]);

describe("hooks in the plan", () => {
  test("no hooks: no extra SYNC and no HOOK", () => {
    const p = compilePlan(ctx(spec()));
    expect(syncTags(p)).toEqual([SYNC_TAG.SETUP]);
    expect(ops(p)).not.toContain("HOOK");
  });

  test("createContainer hooks run after the mounts and the runtime's SYNC, before pivot_root", () => {
    const s = spec({
      hooks: {
        createRuntime: [{ path: "/bin/rt" }],
        createContainer: [
          { path: "/bin/cc", args: ["cc", "-x"], env: ["A=1"], timeout: 7 },
          { path: "/bin/cc2" },
        ],
      },
    });
    const p = compilePlan(ctx(s));
    expect(syncTags(p)).toEqual([SYNC_TAG.SETUP, SYNC_TAG.CREATE_CONTAINER]);
    const sync = p.findIndex((i) => i.op === "SYNC" && i.args[0] === SYNC_TAG.CREATE_CONTAINER);
    const lastMount = ops(p).lastIndexOf("MOUNT", at(p, "PIVOT_ROOT"));
    expect(lastMount).toBeLessThan(sync);
    expect(p[sync + 1]).toEqual({ op: "HOOK", args: ["hooks.createContainer[0]", "/bin/cc", ["cc", "-x"], ["A=1"], 7] });
    // no env: the runtime's; no args: argv is [path] (berth-init), no timeout: 0
    expect(p[sync + 2]).toEqual({ op: "HOOK", args: ["hooks.createContainer[1]", "/bin/cc2", [], ["PATH=/usr/bin", "HOME=/root"], 0] });
    expect(sync + 3).toBe(at(p, "PIVOT_ROOT"));
  });

  test("a startContainer hook alone still gets the SYNC (for the state) and runs after FIFO_WAIT, before exec", () => {
    const p = compilePlan(ctx(spec({ hooks: { startContainer: [{ path: "/sbin/ldconfig" }] } })));
    expect(syncTags(p)).toEqual([SYNC_TAG.SETUP, SYNC_TAG.CREATE_CONTAINER]);
    const hook = at(p, "HOOK");
    expect(at(p, "FIFO_WAIT")).toBe(hook - 1);
    expect(at(p, "EXEC")).toBeGreaterThan(hook);
    expect(at(p, "PIVOT_ROOT")).toBeLessThan(hook);
  });

  test("the start-status fifo is opened with the exec fifo, before anything can fail after start", () => {
    const p = compilePlan(ctx(spec()));
    expect(p[at(p, "FIFO_OPEN") + 1]).toEqual({ op: "START_STATUS", args: ["/run/x/start.status"] });
  });

  test("hook env: its own list exactly (even empty), else the runtime's", () => {
    expect(hookEnv({ path: "/h", env: [] }, { A: "1" })).toEqual([]);
    expect(hookEnv({ path: "/h", env: ["B=2"] }, { A: "1" })).toEqual(["B=2"]);
    expect(hookEnv({ path: "/h" }, { A: "1", U: undefined })).toEqual(["A=1"]);
    expect(hookInstructions(spec(), "startContainer")).toEqual([]);
  });
});

test("without process: created, and `start` fails with a message naming process", () => {
  const s = spec();
  delete s.process;
  const p = compilePlan(ctx(s));
  expect(ops(p).slice(-3)).toEqual(["READY", "FIFO_WAIT", "FAIL"]);
  expect(String(p.at(-1)!.args[0])).toMatch(/^process: not set/);
  for (const op of ["EXEC", "SETUID", "CAPSET", "EXEC_PREPARE"]) expect(ops(p)).not.toContain(op);
  expect(ops(p)).toContain("PIVOT_ROOT");
});

describe("user namespace", () => {
  const userns = (uid: number) =>
    spec({
      linux: {
        namespaces: [{ type: "user" }, { type: "mount" }],
        uidMappings: [{ containerID: uid, hostID: 1000, size: 100 }],
        gidMappings: [{ containerID: 0, hostID: 1000, size: 100 }],
      },
    });
  test("the init becomes the namespace's root after the id maps and the fifos, before any mount", () => {
    const p = compilePlan(ctx(userns(0)));
    const i = at(p, "SETGROUPS");
    expect(ops(p).slice(i, i + 3)).toEqual(["SETGROUPS", "SETGID", "SETUID"]);
    expect(p[i + 1]!.args).toEqual([0]);
    expect(p[i + 2]!.args).toEqual([0]);
    expect(at(p, "START_STATUS")).toBeLessThan(i);
    expect(at(p, "MOUNT")).toBeGreaterThan(i);
  });
  // Without a mapping for container id 0 the init takes process.user's ids instead (test/unit/plan/userns.test.ts).
});

describe("security labels", () => {
  const none = { apparmor: false, selinux: false };
  test("refused when the host lacks the module, naming the field", () => {
    const aa = spec();
    aa.process!.apparmorProfile = "acme";
    expect(() => compilePlan(ctx(aa, { lsm: none }))).toThrow("process.apparmorProfile: AppArmor is not enabled on this host");
    const se = spec();
    se.process!.selinuxLabel = "system_u:system_r:container_t:s0";
    expect(() => compilePlan(ctx(se, { lsm: none }))).toThrow("process.selinuxLabel: SELinux is not enabled on this host");
    const ml = spec({ mounts: [] });
    ml.linux!.mountLabel = "system_u:object_r:container_file_t:s0";
    expect(() => compilePlan(ctx(ml, { lsm: none }))).toThrow("linux.mountLabel: SELinux is not enabled on this host");
  });
  test("applied at exec (after startContainer hooks) and on mount data when the host has them", () => {
    const s = spec({ hooks: { startContainer: [{ path: "/h" }] } });
    s.process!.apparmorProfile = "acme";
    s.process!.selinuxLabel = "u:r:t:s0";
    s.linux!.mountLabel = "u:object_r:f:s0";
    const p = compilePlan(ctx(s, { lsm: { apparmor: true, selinux: true } }));
    const writes = p.filter((i) => i.op === "WRITE_FILE" && String(i.args[0]).includes("attr"));
    expect(writes.map((w) => w.args)).toEqual([
      ["/proc/thread-self/attr/apparmor/exec", "exec acme"],
      ["/proc/thread-self/attr/exec", "u:r:t:s0"],
    ]);
    expect(p.indexOf(writes[0]!)).toBeGreaterThan(at(p, "HOOK"));
    expect(p.indexOf(writes[1]!)).toBeLessThan(at(p, "EXEC"));
    const proc = p.find((i) => i.op === "MOUNT" && i.args[1] === "/proc")!;
    expect(proc.args[5]).toBe('context="u:object_r:f:s0"');
  });
});
