import { test, expect } from "bun:test";
import { compileExecPlan, namespacesToJoin, type ExecPlanContext } from "../../../src/runtime/plan/compile-exec.ts";
import { compilePlan } from "../../../src/runtime/plan/compile.ts";
import { compileProcess } from "../../../src/runtime/plan/process.ts";
import { encodePlan, decodePlan, type Instruction } from "../../../src/runtime/plan/record.ts";
import { execProcess } from "../../../src/runtime/exec-spec.ts";
import { splitAtPositional } from "../../../src/cli/runtime/args.ts";
import type { Process, Spec } from "../../../src/oci/runtime-spec.ts";
import { defaultSpec } from "../../../src/oci/default-spec.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

const ops = (p: Instruction[]) => p.map((i) => i.op);
const find = (p: Instruction[], op: string) => p.filter((i) => i.op === op);

function spec(): Spec {
  const s = defaultSpec({ args: ["sleep", "1000"], cgroupNamespace: false });
  s.process!.terminal = false;
  s.linux!.namespaces = [{ type: "mount" }, { type: "network", path: "/var/run/netns/x" }, { type: "pid" }, { type: "user" }, { type: "uts" }, { type: "cgroup" }];
  return s;
}

const ctx = (over: Partial<ExecPlanContext> = {}): ExecPlanContext => {
  const s = spec();
  return { spec: s, process: { ...s.process!, args: ["sh"] }, init: { pid: 4242, startTime: "12345" }, stay: true, ...over };
};

test("exec joins every namespace of the init, user first, mount last, then forks and syncs for the cgroup", () => {
  const p = compileExecPlan(ctx());
  expect(p[0]).toEqual({ op: "JOIN_NS", args: [4242, "12345", ["user", "uts", "net", "pid", "cgroup", "mnt"]] });
  expect(p[1]).toEqual({ op: "CLONE", args: [0, 1] });
  expect(p[2]).toEqual({ op: "SYNC", args: [1] });
  expect(ops(p)).not.toContain("MOUNT");
  expect(ops(p)).not.toContain("FIFO_WAIT"); // no start gate
  expect(ops(p).at(-1)).toBe("EXEC");
  expect(compileExecPlan(ctx({ stay: false }))[1]).toEqual({ op: "CLONE", args: [0, 0] });
});

test("namespaces: unknown types are refused; without a mount namespace the process is chrooted to the rootfs", () => {
  const s = spec();
  s.linux!.namespaces = [{ type: "pid" }];
  expect(namespacesToJoin(s)).toEqual(["pid"]);
  const p = compileExecPlan({ ...ctx(), spec: s, rootfs: "/b/rootfs" });
  expect(ops(p).slice(0, 5)).toEqual(["JOIN_NS", "CLONE", "SYNC", "CPU_AFFINITY", "CHROOT"]);
  expect(find(p, "CHROOT")[0]!.args).toEqual(["/b/rootfs"]);
  expect(() => compileExecPlan({ ...ctx(), spec: s })).toThrow("no mount namespace");
  expect(find(compileExecPlan(ctx()), "CHROOT")).toEqual([]);
  s.linux!.namespaces = [{ type: "mount" }, { type: "bogus" as never }];
  expect(() => namespacesToJoin(s)).toThrow('unknown namespace "bogus"');
  s.linux!.namespaces = [{ type: "mount" }, { type: "time" }, { type: "ipc" }];
  expect(namespacesToJoin(s)).toEqual(["ipc", "time", "mnt"]);
});

test("create and exec share one process section (with the start gate only in create)", () => {
  const s = spec();
  s.linux!.namespaces = [{ type: "mount" }, { type: "pid" }];
  const seccompFilter = { flags: 0, filter: new Uint8Array(8) };
  const create = compilePlan({ spec: s, bundle: "/b", rootfs: "/b/rootfs", execFifo: "/run/x/exec.fifo", isDir: () => true, seccompFilter });
  const section = compileProcess({ process: s.process!, seccompFilter, gate: [{ op: "FIFO_WAIT", args: [] }] });
  expect(create.slice(-section.length)).toEqual(section);
  const exec = compileExecPlan({ spec: s, process: s.process!, init: { pid: 1, startTime: "1" }, seccompFilter });
  const execSection = compileProcess({ process: s.process!, seccompFilter });
  expect(exec.slice(-execSection.length)).toEqual(execSection);
  // the container's seccomp filter comes after no_new_privs, right before exec
  expect(ops(execSection).slice(-2)).toEqual(["SECCOMP", "EXEC"]);
});

test("a terminal: console socket before entering the container, pty after setsid; /dev/console only for create", () => {
  const e = ctx();
  e.process = { ...e.process, terminal: true, consoleSize: { height: 24, width: 80 }, user: { uid: 7, gid: 8 } };
  expect(() => compileExecPlan(e)).toThrow("console socket");
  const p = compileExecPlan({ ...e, console: { path: "/run/cs.sock" } });
  expect(p[0]).toEqual({ op: "CONSOLE", args: ["/run/cs.sock", 0] });
  expect(ops(p).indexOf("PTY")).toBe(ops(p).indexOf("SETSID") + 1);
  expect(find(p, "PTY")[0]!.args).toEqual(["/dev/ptmx", 24, 80, "", 7]);
  expect(compileExecPlan({ ...e, console: { fd: 5 } })[0]).toEqual({ op: "CONSOLE", args: ["", 5] });
  expect(() => compileExecPlan({ ...e, console: { path: "rel.sock" } })).toThrow("absolute");
  expect(() => compileExecPlan({ ...e, console: { path: "/" + "x".repeat(107) } })).toThrow("107 bytes");

  const s = spec();
  s.linux!.namespaces = [{ type: "mount" }];
  s.process!.terminal = true;
  expect(() => compilePlan({ spec: s, bundle: "/b", rootfs: "/b/r", execFifo: "/f", isDir: () => true })).toThrow("console socket");
  const c = compilePlan({ spec: s, bundle: "/b", rootfs: "/b/r", execFifo: "/f", isDir: () => true, console: { fd: 4 } });
  expect(c[0]).toEqual({ op: "CONSOLE", args: ["", 4] });
  const pty = ops(c).indexOf("PTY");
  expect(pty).toBeGreaterThan(ops(c).indexOf("PIVOT_ROOT"));
  expect(find(c, "PTY")[0]!.args[3]).toBe("/dev/console");
  expect(() => encodePlan(c)).not.toThrow();
});

test("AppArmor and SELinux: an error when the host lacks them, a write to the exec attribute when it has them", () => {
  const e = ctx();
  e.process = { ...e.process, apparmorProfile: "p1" };
  expect(() => compileExecPlan(e)).toThrow("process.apparmorProfile: AppArmor is not enabled on this host");
  const p = compileExecPlan({ ...e, lsm: { apparmor: true, selinux: false } });
  expect(find(p, "WRITE_FILE")[0]!.args).toEqual(["/proc/thread-self/attr/apparmor/exec", "exec p1"]);
  e.process = { ...e.process, apparmorProfile: undefined, selinuxLabel: "l" };
  expect(() => compileExecPlan(e)).toThrow("process.selinuxLabel: SELinux is not enabled on this host");
});

test("the new instructions survive encoding", () => {
  const p = compileExecPlan({ ...ctx(), console: { path: "/cs" }, process: { ...ctx().process, terminal: true, consoleSize: { height: 1, width: 2 } } });
  const back = decodePlan(encodePlan(p));
  expect(back.map((i) => i.op)).toEqual(ops(p));
  for (const op of ["CONSOLE", "JOIN_NS", "PTY"]) expect(find(back, op)).toEqual(find(p, op));
});

const base = (): Process => ({
  user: { uid: 1, gid: 2, additionalGids: [3] },
  args: ["sleep", "1000"],
  env: ["PATH=/bin"],
  cwd: "/",
  terminal: true,
  capabilities: { bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"] },
  noNewPrivileges: true,
});

test("exec process: the config's process with runc's flags over it", () => {
  const config = base();
  const p = execProcess(config, {
    args: ["sh", "-c", "x"],
    env: ["A=1"],
    cwd: "/tmp",
    user: "10:20",
    additionalGids: ["30"],
    caps: ["CAP_CHOWN"],
    noNewPrivs: false,
    apparmor: "prof",
    processLabel: "lab",
  });
  expect(p.args).toEqual(["sh", "-c", "x"]);
  expect(p.env).toEqual(["PATH=/bin", "A=1"]);
  expect(p.cwd).toBe("/tmp");
  expect(p.user).toEqual({ uid: 10, gid: 20, additionalGids: [3, 30] });
  expect(p.capabilities).toEqual({ bounding: ["CAP_KILL", "CAP_CHOWN"], effective: ["CAP_KILL", "CAP_CHOWN"], permitted: ["CAP_KILL", "CAP_CHOWN"] });
  expect(p.terminal).toBe(false); // only -t makes a tty (runc)
  expect(p.noNewPrivileges).toBe(false);
  expect([p.apparmorProfile, p.selinuxLabel]).toEqual(["prof", "lab"]);
  expect(config).toEqual(base()); // the container's config is not changed
  // ambient only when the config has inheritable capabilities
  const withInh = base();
  withInh.capabilities!.inheritable = [];
  expect(execProcess(withInh, { args: ["x"], caps: ["CAP_CHOWN"] }).capabilities!.ambient).toEqual(["CAP_CHOWN"]);
  expect(execProcess(base(), { args: ["x"], user: "5" }).user).toEqual({ uid: 5, gid: 2, additionalGids: [3] });
  expect(execProcess(base(), { args: ["x"] }).noNewPrivileges).toBe(true);
});

test("exec process: bad flags and process.json are named", () => {
  const bad: Array<[Parameters<typeof execProcess>[1], string]> = [
    [{ args: [] }, "a command is required"],
    [{ args: ["x"], user: "root" }, "--user"],
    [{ args: ["x"], user: "1:2:3" }, "--user"],
    [{ args: ["x"], additionalGids: ["-1"] }, "--additional-gids"],
    [{ args: ["x"], caps: ["CAP_NOPE"] }, "CAP_NOPE"],
    [{ args: ["x"], env: ["NOVALUE"] }, "--env"],
    [{ args: ["x"], cwd: "tmp" }, "--cwd"],
  ];
  for (const [flags, word] of bad) expect(() => execProcess(base(), flags)).toThrow(word);
  const dir = mkdtempSync(join(tmpdir(), "berth-pj-"));
  try {
    const f = join(dir, "process.json");
    writeFileSync(f, JSON.stringify({ args: ["id"], cwd: "/", user: { uid: 0, gid: 0 } }));
    expect(execProcess(base(), { processFile: f, args: [], tty: true, cwd: "/ignored" })).toEqual({ args: ["id"], cwd: "/", user: { uid: 0, gid: 0 } });
    expect(() => execProcess(base(), { processFile: f, args: ["x"] })).toThrow("not both");
    writeFileSync(f, JSON.stringify({ args: ["id"], cwd: "rel", user: { uid: 0, gid: 0 } }));
    expect(() => execProcess(base(), { processFile: f, args: [] })).toThrow(`${f}: cwd`);
    writeFileSync(f, JSON.stringify({ cwd: "/", user: { uid: 0, gid: 0 } }));
    expect(() => execProcess(base(), { processFile: f, args: [] })).toThrow("args: must be a non-empty array");
    writeFileSync(f, "{");
    expect(() => execProcess(base(), { processFile: f, args: [] })).toThrow("invalid json");
    expect(() => execProcess(base(), { processFile: join(dir, "missing"), args: [] })).toThrow("--process");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("exec's flags stop at the container id: the command keeps its own", () => {
  const opts = { env: { type: "string", short: "e", multiple: true }, tty: { type: "boolean", short: "t" }, cwd: { type: "string" } } as const;
  expect(splitAtPositional(["-t", "-e", "A=1", "--cwd", "/x", "id", "sh", "-c", "-e"], opts)).toEqual([["-t", "-e", "A=1", "--cwd", "/x"], ["id", "sh", "-c", "-e"]]);
  expect(splitAtPositional(["--cwd=/x", "id", "--cwd"], opts)).toEqual([["--cwd=/x"], ["id", "--cwd"]]);
  expect(splitAtPositional(["-t", "--", "-id"], opts)).toEqual([["-t"], ["-id"]]);
  expect(splitAtPositional(["-t"], opts)).toEqual([["-t"], []]);
});

test("non-dumpable from the start; dumpable only while an unprivileged runtime writes the id maps", () => {
  const s = defaultSpec({ rootless: true, hostUid: 1000, hostGid: 1000, args: ["true"], cgroupNamespace: false });
  s.process!.terminal = false;
  const base = { spec: s, bundle: "/b", rootfs: "/b/r", execFifo: "/f", isDir: () => true };
  const p = compilePlan({ ...base, mapWriter: { privileged: false, euid: 1000, egid: 1000 } });
  const sync = ops(p).indexOf("SYNC");
  expect(p.slice(sync - 1, sync + 2)).toEqual([
    { op: "DUMPABLE", args: [1] },
    { op: "SYNC", args: [1] },
    { op: "DUMPABLE", args: [0] },
  ]);
  expect(find(compilePlan({ ...base, mapWriter: { privileged: true, euid: 0, egid: 0 } }), "DUMPABLE")).toEqual([]);
  expect(find(compileExecPlan(ctx()), "DUMPABLE")).toEqual([]);
});
