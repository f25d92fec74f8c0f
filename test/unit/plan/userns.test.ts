import { test, expect } from "bun:test";
import { compilePlan, type PlanContext } from "../../../src/runtime/plan/compile.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import type { Instruction } from "../../../src/runtime/plan/record.ts";
import { MS, CLONE } from "../../../src/runtime/plan/linux.ts";
import { Where } from "../../../src/runtime/plan/opcodes.ts";
import { idMapText, hostIdOf, isMapped } from "../../../src/runtime/plan/userns.ts";
import { IDMAP_RECURSIVE, TREE_RECURSIVE } from "../../../src/runtime/plan/host-trees.ts";
import { parseMountOptions } from "../../../src/runtime/plan/mount-options.ts";

const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];

function spec(edit: (s: Spec) => void = () => {}): Spec {
  const s = {
    ociVersion: "1.2.0",
    root: { path: "rootfs" },
    process: { user: { uid: 0, gid: 0 }, args: ["sh"], cwd: "/" },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    ],
    linux: {
      namespaces: [{ type: "pid" }, { type: "mount" }, { type: "network" }, { type: "user" }],
      uidMappings: MAP,
      gidMappings: MAP,
    },
  } as Spec;
  edit(s);
  return s;
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
const UNPRIV = { privileged: false, euid: 1000, egid: 1000 };

test("id map text: one line per range, all in one string", () => {
  expect(idMapText([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }])).toBe(
    "0 1000 1\n1 100000 65536\n",
  );
  expect(isMapped(MAP, 65535)).toBe(true);
  expect(isMapped(MAP, 65536)).toBe(false);
  expect(hostIdOf(MAP, 7)).toBe(100007);
});

test("after the maps are written: drop host groups, become the namespace's root, before any mount", () => {
  const p = compilePlan(ctx(spec()));
  const o = ops(p);
  const at = o.indexOf("SETSID") - 1; // after SYNC (and LINK_UP lo in a new netns)
  // the exec fifo is opened first, with the runtime's own uid that owns it
  expect(o.slice(at + 1, at + 7)).toEqual(["SETSID", "FIFO_OPEN", "SETGROUPS", "SETGID", "SETUID", "CPU_AFFINITY"]);
  expect(p.slice(at + 3, at + 6).map((i) => i.args[0])).toEqual([new Uint8Array(0), 0, 0]);
  expect(o.indexOf("SETUID")).toBeLessThan(o.indexOf("MOUNT"));
  // no user namespace: none of it
  const q = compilePlan(ctx(spec((s) => ((s.linux!.namespaces = [{ type: "mount" }]), delete s.linux!.uidMappings, delete s.linux!.gidMappings))));
  expect(ops(q).slice(ops(q).indexOf("SYNC"), ops(q).indexOf("SYNC") + 4)).toEqual(["SYNC", "SETSID", "FIFO_OPEN", "CPU_AFFINITY"]);
});

test("a joined user namespace: the same identity change, root assumed mapped unless the config says", () => {
  const joined = (s: Spec) => {
    s.linux!.namespaces = [{ type: "mount" }, { type: "user", path: "/proc/42/ns/user" }];
    delete s.linux!.uidMappings;
    delete s.linux!.gidMappings;
  };
  const p = compilePlan(ctx(spec(joined)));
  const at = ops(p).indexOf("FIFO_OPEN");
  expect(p.slice(at + 1, at + 4).map((i) => [i.op, i.args[0]])).toEqual([["SETGROUPS", new Uint8Array(0)], ["SETGID", 0], ["SETUID", 0]]);
  // mappings repeated in the config are checked
  expect(() => compilePlan(ctx(spec((s) => (joined(s), (s.linux!.uidMappings = MAP), (s.linux!.gidMappings = MAP), (s.process!.user.uid = 70000)))))).toThrow(
    /process.user.uid: 70000 is not mapped/,
  );
});

test("container root unmapped: the process's own ids are taken instead", () => {
  const p = compilePlan(
    ctx(spec((s) => ((s.linux!.uidMappings = [{ containerID: 1000, hostID: 5000, size: 1 }]), (s.linux!.gidMappings = [{ containerID: 1000, hostID: 5000, size: 1 }]), (s.process!.user = { uid: 1000, gid: 1000 })))),
  );
  const at = ops(p).indexOf("SETSID") - 1;
  expect(p.slice(at + 4, at + 6).map((i) => [i.op, i.args[0]])).toEqual([["SETGID", 1000], ["SETUID", 1000]]);
});

test("process.user must be mapped; each id names its field", () => {
  expect(() => compilePlan(ctx(spec((s) => (s.process!.user.uid = 70000))))).toThrow(/process.user.uid: 70000 is not mapped by linux.uidMappings/);
  expect(() => compilePlan(ctx(spec((s) => (s.process!.user.gid = 65536))))).toThrow(/process.user.gid: 65536 is not mapped/);
  expect(() => compilePlan(ctx(spec((s) => (s.process!.user.additionalGids = [5, 99999]))))).toThrow(
    /process.user.additionalGids\[1\]: 99999 is not mapped by linux.gidMappings/,
  );
  expect(() => compilePlan(ctx(spec((s) => (s.linux!.gidMappings = []))))).toThrow(/linux.gidMappings: required/);
});

test("an unprivileged runtime: only its own id, setgroups denied, so never called", () => {
  expect(() => compilePlan(ctx(spec(), { mapWriter: UNPRIV }))).toThrow(/linux.uidMappings: an unprivileged runtime can map only its own id/);
  const own = (s: Spec) => {
    s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
  };
  const p = compilePlan(ctx(spec(own), { mapWriter: UNPRIV }));
  expect(find(p, "SETGROUPS")).toEqual([]);
  expect(find(p, "SETUID").length).toBe(2);
  expect(() =>
    compilePlan(ctx(spec((s) => (own(s), (s.process!.user.additionalGids = [0]))), { mapWriter: UNPRIV })),
  ).toThrow(/process.user.additionalGids: setgroups is denied/);
});

test("sysfs in a new user namespace without a new network namespace: the host's /sys is bound", () => {
  const withNet = find(compilePlan(ctx(spec())), "MOUNT").find((i) => i.args[1] === "/sys")!;
  expect(withNet.args[3]).toBe("sysfs");
  const p = compilePlan(ctx(spec((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "network")))));
  expect(find(p, "MOUNT").find((i) => i.args[1] === "/sys")).toBeUndefined();
  expect(find(p, "OPEN_TREE")[0]!.args).toEqual([0, "/sys", TREE_RECURSIVE, "", ""]);
  expect(find(p, "MOVE_MOUNT")[0]!.args).toEqual([0, "/sys", Where.ROOT_DIR]);
  expect(find(p, "REMOUNT").find((i) => i.args[0] === "/sys")!.args[2]).toBe(MS.BIND | MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY);
  // an unprivileged runtime cannot clone trees: a bind made by the init itself
  const own = (s: Spec) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "network");
    s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
  };
  const r = compilePlan(ctx(spec(own), { mapWriter: UNPRIV }));
  expect(find(r, "OPEN_TREE")).toEqual([]);
  expect(find(r, "MOUNT").find((i) => i.args[1] === "/sys")!.args).toEqual(["/sys", "/sys", Where.ROOT_DIR, "", MS.BIND | MS.REC, ""]);
  // no user namespace: sysfs as asked (the runtime's own privileges suffice)
  const q = compilePlan(ctx(spec((s) => ((s.linux!.namespaces = [{ type: "mount" }]), delete s.linux!.uidMappings, delete s.linux!.gidMappings))));
  expect(find(q, "MOUNT").find((i) => i.args[1] === "/sys")!.args[3]).toBe("sysfs");
});

test("idmapped mounts: trees prepared before anything else, attached in mount order", () => {
  const s = spec((s) => {
    s.linux!.namespaces!.push({ type: "ipc", path: "/proc/1/ns/ipc" });
    s.mounts!.push({ destination: "/a", type: "bind", source: "a", options: ["rbind", "idmap", "ro"] });
    s.mounts!.push({ destination: "/plain", type: "bind", source: "/p", options: ["bind"] });
    s.mounts!.push({
      destination: "/b",
      type: "bind",
      source: "/srv/b",
      options: ["rbind", "ridmap"],
      uidMappings: [{ containerID: 0, hostID: 0, size: 10 }],
      gidMappings: [{ containerID: 0, hostID: 5, size: 10 }],
    });
  });
  const p = compilePlan(ctx(s));
  expect(p.slice(0, 4).map((i) => i.op)).toEqual(["OPEN_TREE", "OPEN_TREE", "OPEN_TREE", "SETNS"]);
  // no mappings on the mount: the container's
  expect(p[0]!.args).toEqual([0, "/b/a", TREE_RECURSIVE, "0 100000 65536\n", "0 100000 65536\n"]);
  // a plain bind in a user namespace: opened by the runtime's side too, no idmap
  expect(p[1]!.args).toEqual([1, "/p", 0, "", ""]);
  expect(p[2]!.args).toEqual([2, "/srv/b", TREE_RECURSIVE | IDMAP_RECURSIVE, "0 0 10\n", "0 5 10\n"]);
  expect(find(p, "MOVE_MOUNT").map((i) => i.args)).toEqual([
    [0, "/a", Where.ROOT_DIR],
    [1, "/plain", Where.ROOT_DIR],
    [2, "/b", Where.ROOT_DIR],
  ]);
  const o = ops(p);
  expect(o.indexOf("MOVE_MOUNT")).toBeGreaterThan(o.indexOf("CLONE"));
  expect(find(p, "MOUNT").some((i) => ["/a", "/b", "/plain"].includes(i.args[1] as string))).toBe(false);
  // flags still apply, by remount after the attach
  expect(find(p, "REMOUNT").find((i) => i.args[0] === "/a")!.args[2]).toBe(MS.BIND | MS.RDONLY);
  // a one-file idmapped mount is attached on a file
  const f = compilePlan(ctx(spec((s) => s.mounts!.push({ destination: "/f", type: "bind", source: "/x", options: ["idmap"] })), { isDir: () => false }));
  expect(find(f, "MOVE_MOUNT")[0]!.args).toEqual([0, "/f", Where.ROOT_FILE]);
  expect(f[0]!.args[2]).toBe(0);
});

test("idmapped mounts: bad input names the mount", () => {
  const noUserns = (s: Spec) => {
    s.linux!.namespaces = [{ type: "mount" }];
    delete s.linux!.uidMappings;
    delete s.linux!.gidMappings;
  };
  expect(() =>
    compilePlan(ctx(spec((s) => (noUserns(s), s.mounts!.push({ destination: "/a", type: "bind", source: "/a", options: ["idmap"] }))))),
  ).toThrow(/mounts\[2\]: an "idmap" mount without uidMappings\/gidMappings needs a new user namespace/);
  expect(() =>
    compilePlan(ctx(spec((s) => s.mounts!.push({ destination: "/t", type: "tmpfs", source: "tmpfs", options: ["idmap"] })))),
  ).toThrow(/mounts\[2\]: idmapped mounts must be bind mounts/);
  expect(() =>
    compilePlan(ctx(spec((s) => s.mounts!.push({ destination: "/a", type: "bind", source: "/a", options: ["bind"], uidMappings: MAP, gidMappings: [] })))),
  ).toThrow(/mounts\[2\]: uidMappings and gidMappings must be given together/);
  // explicit mappings work without a user namespace (the kernel allows it)
  const p = compilePlan(
    ctx(spec((s) => (noUserns(s), s.mounts!.push({ destination: "/a", type: "bind", source: "/a", options: ["bind", "idmap"], uidMappings: MAP, gidMappings: MAP })))),
  );
  expect(find(p, "OPEN_TREE").length).toBe(1);
  expect(find(p, "CLONE")[0]!.args[0]).toBe(CLONE.NEWNS);
});

test("mount options: idmap and ridmap are recognised, never mount(2) data", () => {
  expect(parseMountOptions(["rbind", "ridmap"]).idmap).toBe("ridmap");
  expect(parseMountOptions(["idmap", "size=1"])).toMatchObject({ idmap: "idmap", data: "size=1" });
  expect(parseMountOptions(["bind"]).idmap).toBeUndefined();
});
