import { test, expect } from "bun:test";
import { compilePlan, type PlanContext } from "../../../src/runtime/plan/compile.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import type { Instruction } from "../../../src/runtime/plan/record.ts";
import { CLONE, MS } from "../../../src/runtime/plan/linux.ts";
import { Where } from "../../../src/runtime/plan/opcodes.ts";
import { parseMountOptions } from "../../../src/runtime/plan/mount-options.ts";

function spec(over: Partial<Spec> = {}): Spec {
  return {
    ociVersion: "1.2.0",
    root: { path: "rootfs" },
    process: {
      user: { uid: 1000, gid: 1000, additionalGids: [10] },
      args: ["sh", "-c", "true"],
      env: ["PATH=/bin:/usr/bin"],
      cwd: "/work",
      capabilities: { bounding: ["CAP_KILL", "CAP_CHOWN"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"] },
      rlimits: [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 4096 }],
      noNewPrivileges: true,
    },
    hostname: "box",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/data", type: "bind", source: "data", options: ["rbind", "ro", "rprivate"] },
    ],
    linux: {
      namespaces: [{ type: "pid" }, { type: "mount" }, { type: "uts" }, { type: "network", path: "/proc/1/ns/net" }],
      maskedPaths: ["/proc/kcore"],
      readonlyPaths: ["/proc/sys"],
      sysctl: { "net.ipv4.ip_forward": "1" },
    },
    ...over,
  } as Spec;
}

const ctx = (s: Spec, extra: Partial<PlanContext> = {}): PlanContext => ({
  spec: s,
  bundle: "/b",
  rootfs: "/b/rootfs",
  execFifo: "/run/x/exec.fifo",
  isDir: () => true,
  ...extra,
});
const ops = (p: Instruction[]) => p.map((i) => i.op);
const find = (p: Instruction[], op: string) => p.filter((i) => i.op === op);

test("namespaces: joined ones by path before the fork, new ones as clone flags", () => {
  const p = compilePlan(ctx(spec()));
  expect(p[0]).toEqual({ op: "SETNS", args: [CLONE.NEWNET, "/proc/1/ns/net"] });
  const clone = find(p, "CLONE")[0]!;
  expect(clone.args).toEqual([CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWUTS, 0]);
  expect(ops(p).indexOf("CLONE")).toBeLessThan(ops(p).indexOf("SYNC"));
});

test("a user namespace is joined first; cgroup and time namespaces are unshared at the right moment", () => {
  const s = spec();
  s.linux!.namespaces = [
    { type: "mount" },
    { type: "ipc", path: "/x/ipc" },
    { type: "user", path: "/x/user" },
    { type: "cgroup" },
    { type: "time" },
  ];
  s.linux!.timeOffsets = { monotonic: { secs: 10, nanosecs: 5 } };
  const all = compilePlan(ctx(s));
  // the bind mount's tree is opened first, with the runtime's privileges (a user namespace is joined)
  expect(all[0]!.op).toBe("OPEN_TREE");
  const p = all.slice(1);
  expect(p.slice(0, 5).map((i) => [i.op, i.args[0]])).toEqual([
    ["SETNS", CLONE.NEWUSER],
    ["SETNS", CLONE.NEWIPC],
    ["UNSHARE", CLONE.NEWTIME],
    ["WRITE_FILE", "/proc/self/timens_offsets"],
    ["CLONE", CLONE.NEWNS],
  ]);
  expect(p[3]!.args[1]).toBe("monotonic 10 5");
  // cgroup ns only after the runtime put the child in its cgroup (SYNC)
  expect(ops(p).slice(5, 7)).toEqual(["SYNC", "UNSHARE"]);
});

test("rootfs: slave root, private parent, bind, then mounts resolved in the root, then pivot", () => {
  const p = compilePlan(ctx(spec(), { rootfsParentMount: "/b" }));
  const mounts = find(p, "MOUNT").map((i) => i.args);
  expect(mounts[0]).toEqual(["", "/", Where.HOST, "", MS.SLAVE | MS.REC, ""]);
  expect(mounts[1]).toEqual(["", "/b", Where.HOST, "", MS.PRIVATE, ""]);
  expect(mounts[2]).toEqual(["/b/rootfs", "/b/rootfs", Where.HOST, "", MS.BIND | MS.REC, ""]);
  expect(mounts[3]).toEqual(["proc", "/proc", Where.ROOT_DIR, "proc", 0, ""]);
  expect(mounts[4]).toEqual(["tmpfs", "/dev", Where.ROOT_DIR, "tmpfs", MS.NOSUID | MS.STRICTATIME, "mode=755,size=65536k"]);
  // relative bind source is relative to the bundle; ro needs a remount; propagation is a separate call
  expect(mounts[5]).toEqual(["/b/data", "/data", Where.ROOT_DIR, "", MS.BIND | MS.REC, ""]);
  expect(find(p, "REMOUNT")[0]!.args).toEqual(["/data", Where.ROOT, MS.BIND | MS.RDONLY, ""]);
  expect(mounts[6]).toEqual(["", "/data", Where.ROOT, "", MS.PRIVATE | MS.REC, ""]);
  const o = ops(p);
  expect(o.indexOf("ROOTFS")).toBeLessThan(o.indexOf("PIVOT_ROOT"));
  expect(o.indexOf("FIFO_OPEN")).toBeLessThan(o.indexOf("PIVOT_ROOT"));
  expect(o.indexOf("MKNOD")).toBeLessThan(o.indexOf("PIVOT_ROOT"));
  expect(o.indexOf("PIVOT_ROOT")).toBeLessThan(o.indexOf("MASK"));
});

test("default devices are created, or bound from the host in a user namespace", () => {
  const nodes = find(compilePlan(ctx(spec())), "MKNOD").map((i) => i.args[0]);
  expect(nodes).toEqual(["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]);
  const s = spec();
  s.linux!.namespaces!.push({ type: "user" });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  const p = compilePlan(ctx(s));
  expect(find(p, "MKNOD")).toEqual([]);
  expect(find(p, "MOUNT").some((i) => i.args[0] === "/dev/null" && i.args[2] === Where.ROOT_FILE && i.args[4] === MS.BIND)).toBe(true);
});

test("process: creds in runc's order, seccomp after the start fifo when no_new_privs", () => {
  const filter = { flags: 0, filter: new Uint8Array(8) };
  const p = compilePlan(ctx(spec(), { seccompFilter: filter }));
  const o = ops(p);
  const tail = o.slice(o.indexOf("CLOSE_FDS"));
  expect(tail).toEqual([
    "CLOSE_FDS", "CAP_BOUNDING", "KEEPCAPS", "SETGROUPS", "SETGID", "SETUID", "CAPSET", "KEEPCAPS", "AMBIENT",
    "CHDIR", "EXEC_PREPARE", "READY", "FIFO_WAIT", "SECCOMP", "EXEC",
  ]);
  expect(find(p, "CAP_BOUNDING")[0]!.args[0]).toBe((1n << 5n) | (1n << 0n));
  expect(find(p, "CAPSET")[0]!.args).toEqual([1n << 5n, 1n << 5n, 0n]);
  expect(find(p, "EXEC_PREPARE")[0]!.args).toEqual(["sh", "/bin:/usr/bin"]);
  expect(find(p, "RLIMIT")[0]!.args).toEqual([7, 1024n, 4096n]);
  expect(find(p, "WRITE_FILE").map((i) => i.args)).toContainEqual(["/proc/sys/net/ipv4/ip_forward", "1"]);
  // without no_new_privs the filter must go in while we still have CAP_SYS_ADMIN
  const s = spec();
  s.process!.noNewPrivileges = false;
  const o2 = ops(compilePlan(ctx(s, { seccompFilter: filter })));
  expect(o2.indexOf("SECCOMP")).toBeLessThan(o2.indexOf("CAPSET"));
  // and the cwd is resolved before the filter (old profiles refuse openat2/getcwd)
  expect(o2.indexOf("CHDIR")).toBeLessThan(o2.indexOf("SECCOMP"));
  expect(o2.filter((op) => op === "CHDIR").length).toBe(1);
});

test("capabilities outside the host bounding set are refused, naming the set", () => {
  expect(() => compilePlan(ctx(spec(), { hostCapBounding: 1n << 5n }))).toThrow(/process.capabilities.bounding: CAP_CHOWN not in the host/);
});

test("bad input names the field", () => {
  const s = spec();
  s.process!.rlimits = [{ type: "RLIMIT_BOGUS", soft: 1, hard: 1 }];
  expect(() => compilePlan(ctx(s))).toThrow(/process.rlimits\[0\].type/);
  const t = spec();
  t.linux!.namespaces = [{ type: "pid" }];
  // no mount namespace: shared with the runtime, so settings that would change its mounts are refused
  expect(() => compilePlan(ctx(t))).toThrow(/linux.maskedPaths: needs a mount namespace/);
  const u = spec();
  u.linux!.rootfsPropagation = "sideways" as never;
  expect(() => compilePlan(ctx(u))).toThrow(/linux.rootfsPropagation/);
});

test("cgroup mount: per-hierarchy fresh mounts in a cgroup ns, binds of the container's cgroup without", () => {
  const s = spec();
  s.mounts!.push({ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "ro"] });
  const cgroupMounts = [
    { name: "cpu,cpuacct", fstype: "cgroup" as const, options: "cpu,cpuacct", hostPath: "/sys/fs/cgroup/cpu,cpuacct/c1", aliases: ["cpu", "cpuacct"] },
    { name: "unified", fstype: "cgroup2" as const, options: "", hostPath: "/sys/fs/cgroup/unified/c1", aliases: [] },
  ];
  const bindPlan = compilePlan(ctx(s, { cgroupMounts }));
  const binds = find(bindPlan, "MOUNT").filter((i) => String(i.args[1]).startsWith("/sys/fs/cgroup"));
  expect(binds.map((i) => [i.args[0], i.args[1]])).toEqual([
    ["tmpfs", "/sys/fs/cgroup"],
    ["/sys/fs/cgroup/cpu,cpuacct/c1", "/sys/fs/cgroup/cpu,cpuacct"],
    ["/sys/fs/cgroup/unified/c1", "/sys/fs/cgroup/unified"],
  ]);
  expect(find(bindPlan, "SYMLINK").map((i) => i.args)).toContainEqual(["cpu,cpuacct", "/sys/fs/cgroup/cpu"]);
  s.linux!.namespaces!.push({ type: "cgroup" });
  const nsPlan = compilePlan(ctx(s, { cgroupMounts }));
  const fresh = find(nsPlan, "MOUNT").filter((i) => String(i.args[1]).startsWith("/sys/fs/cgroup/"));
  expect(fresh.map((i) => [i.args[3], i.args[5]])).toEqual([["cgroup", "cpu,cpuacct"], ["cgroup2", ""]]);
});

test("mount options: flags set and cleared, propagation apart, the rest is data", () => {
  expect(parseMountOptions(["ro", "rw", "nosuid", "nodev", "rbind", "rshared", "size=1m", "defaults"])).toEqual({
    flags: MS.NOSUID | MS.NODEV,
    propagation: [MS.SHARED | MS.REC],
    data: "size=1m",
    bind: true,
    recursive: true,
  });
});
