/** The pure parts of checkpoint/restore: criu arguments from a spec, cgroup state, stdio records. */
import { describe, test, expect } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { defaultSpec } from "../../../src/oci/default-spec.ts";
import { externalMounts, dumpMountArgs, restoreMountArgs } from "../../../src/runtime/criu/mounts.ts";
import { cgroupRootArgs, inCgroups, procsFiles } from "../../../src/runtime/criu/cgroups.ts";
import { restoreArgs, dumpArgs, type ExternalFd } from "../../../src/runtime/criu/descriptors.ts";
import { checkCgroupsMode, checkEmptyNs, commonArgs, parsePageServer } from "../../../src/runtime/criu/options.ts";
import { externalNamespaceDumpArgs, namespaceRestoreArgs } from "../../../src/runtime/criu/namespaces.ts";
import type { CgroupState } from "../../../src/runtime/cgroups/manager.ts";
import { BerthError } from "../../../src/errors.ts";

const cgroupSources = [
  { name: "memory", fstype: "cgroup" as const, options: "memory", hostPath: "/sys/fs/cgroup/memory/sup/c2", aliases: [] },
  { name: "unified", fstype: "cgroup2" as const, options: "", hostPath: "/sys/fs/cgroup/unified/c2", aliases: [] },
];

describe("external mounts", () => {
  test("bind mounts (relative sources against the bundle) and cgroup binds without a cgroup namespace", () => {
    const spec = defaultSpec({ args: ["sh"], cgroupNamespace: false });
    spec.mounts!.push({ destination: "/data/", type: "bind", source: "vol", options: ["rbind"] });
    spec.mounts!.push({ destination: "/etc/hosts", source: "/etc/hosts", options: ["bind", "ro"] });
    spec.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" });
    const ext = externalMounts(spec, "/b", cgroupSources);
    expect(ext).toEqual([
      { dest: "/sys/fs/cgroup/memory", source: "/sys/fs/cgroup/memory/sup/c2" },
      { dest: "/sys/fs/cgroup/unified", source: "/sys/fs/cgroup/unified/c2" },
      { dest: "/data", source: "/b/vol" },
      { dest: "/etc/hosts", source: "/etc/hosts" },
    ]);
    // dump names each by its destination; restore maps the name to this container's source
    expect(dumpMountArgs(ext.slice(2))).toEqual(["--external", "mnt[/data]:/data", "--external", "mnt[/etc/hosts]:/etc/hosts"]);
    expect(restoreMountArgs(ext.slice(0, 1))).toEqual(["--external", "mnt[/sys/fs/cgroup/memory]:/sys/fs/cgroup/memory/sup/c2"]);
  });

  test("a cgroup namespace mounts cgroupfs afresh: nothing external; a user namespace binds device nodes", () => {
    const spec = defaultSpec({ args: ["sh"], cgroupNamespace: true });
    expect(externalMounts(spec, "/b", cgroupSources)).toEqual([]);
    spec.linux!.namespaces!.push({ type: "user" });
    expect(externalMounts(spec, "/b", cgroupSources).map((m) => m.dest)).toEqual(["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]);
  });
});

const hybrid: CgroupState = {
  version: 1,
  id: "c2",
  cgroupsPath: { absolute: false, path: "c2" },
  hierarchy: {
    mode: "hybrid",
    v1: [
      { mountpoint: "/sys/fs/cgroup/cpu,cpuacct", root: "/", controllers: ["cpu", "cpuacct"] },
      { mountpoint: "/sys/fs/cgroup/memory", root: "/", controllers: ["memory"] },
      { mountpoint: "/sys/fs/cgroup/systemd", root: "/", controllers: ["name=systemd"] },
    ],
    v2: { mountpoint: "/sys/fs/cgroup/unified", root: "/", controllers: [] },
  } as never,
  v1: {
    dirs: { cpu: "/sys/fs/cgroup/cpu,cpuacct/c2", cpuacct: "/sys/fs/cgroup/cpu,cpuacct/c2", memory: "/sys/fs/cgroup/memory/sup/c2", "name=systemd": "/sys/fs/cgroup/systemd/c2" },
    paths: { cpu: "/c2", cpuacct: "/c2", memory: "/sup/c2", "name=systemd": "/c2" },
    created: [],
  },
  v2: { dir: "/sys/fs/cgroup/unified/c2", path: "/c2", created: [] },
};

describe("cgroups", () => {
  test("--cgroup-root: a default, then each hierarchy whose path differs (named as criu names it)", () => {
    expect(cgroupRootArgs(hybrid)).toEqual(["--cgroup-root", "/c2", "--cgroup-root", "memory:/sup/c2"]);
  });

  test("one cgroup.procs per hierarchy", () => {
    expect(procsFiles(hybrid)).toEqual([
      "/sys/fs/cgroup/cpu,cpuacct/c2/cgroup.procs",
      "/sys/fs/cgroup/memory/sup/c2/cgroup.procs",
      "/sys/fs/cgroup/systemd/c2/cgroup.procs",
      "/sys/fs/cgroup/unified/c2/cgroup.procs",
    ]);
  });

  test("inCgroups writes the pid that then execs the command into every file (paths with spaces too)", () => {
    const d = mkdtempSync(join(tmpdir(), "berth-incg-"));
    try {
      const files = [join(d, "a b"), join(d, "c")];
      const r = Bun.spawnSync(inCgroups(files, ["sh", "-c", "echo $$"]), { stdout: "pipe" });
      expect(r.exitCode).toBe(0);
      const pid = r.stdout.toString().trim();
      for (const f of files) expect(readFileSync(f, "utf8").trim()).toBe(pid);
      // a file that cannot be written stops it before the command runs
      const bad = Bun.spawnSync(inCgroups([join(d, "missing", "x")], ["sh", "-c", "echo ran"]), { stdout: "pipe", stderr: "pipe" });
      expect(bad.exitCode).toBe(125);
      expect(bad.stdout.toString()).toBe("");
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("stdio", () => {
  const fds: ExternalFd[] = [
    { fd: 0, link: "/dev/null", dump: "file[17:3]", inherit: "ile[17:3]" },
    { fd: 1, link: "pipe:[5]", inherit: "pipe:[5]" },
    { fd: 2, link: "pipe:[5]", inherit: "pipe:[5]" },
  ];
  test("dump declares external files once; restore passes each resource once, from an fd after criu's own", () => {
    expect(dumpArgs([...fds, { fd: 3, link: "/dev/null", dump: "file[17:3]" }])).toEqual(["--external", "file[17:3]"]);
    expect(restoreArgs(fds, 3)).toEqual({ args: ["--inherit-fd", "fd[3]:ile[17:3]", "--inherit-fd", "fd[4]:pipe:[5]"], pass: [0, 1] });
  });
});

describe("options", () => {
  test("manage-cgroups-mode, empty-ns, page server", () => {
    expect(checkCgroupsMode("x", undefined)).toBe("soft");
    expect(checkCgroupsMode("x", "ignore")).toBe("ignore");
    expect(() => checkCgroupsMode("x", "hard")).toThrow(/--manage-cgroups-mode: invalid value "hard"/);
    expect(checkEmptyNs("x", ["network"])).toEqual(["net"]);
    expect(() => checkEmptyNs("x", ["pid"])).toThrow(BerthError);
    expect(parsePageServer("127.0.0.1:27277")).toEqual({ address: "127.0.0.1", port: 27277 });
    expect(parsePageServer("[::1]:1")).toEqual({ address: "::1", port: 1 });
    for (const bad of ["127.0.0.1", ":80", "h:0", "h:70000", "h:x"]) expect(() => parsePageServer(bad)).toThrow(/--page-server/);
  });

  test("common criu flags", () => {
    expect(commonArgs({ imagePath: "/i", tcpEstablished: true, fileLocks: true, workPath: "/w" }, "full", ["net"])).toEqual([
      "-v4",
      "--manage-cgroups=full",
      "--tcp-established",
      "--file-locks",
      "--empty-ns",
      "net",
      "-W",
      "/w",
    ]);
  });
});

describe("joined namespaces", () => {
  test("a joined network namespace is external by inode; ipc is joined again; cgroup cannot be", () => {
    const spec = defaultSpec({ args: ["sh"] });
    spec.linux!.namespaces = [
      { type: "network", path: "/proc/self/ns/net" },
      { type: "ipc", path: "/proc/self/ns/ipc" },
      { type: "mount" },
    ];
    const ino = Bun.spawnSync(["stat", "-L", "-c", "%i", "/proc/self/ns/net"]).stdout.toString().trim();
    // stat runs in our net namespace too
    expect(externalNamespaceDumpArgs(spec)).toEqual(["--external", `net[${ino}]:extRootNetNS`]);
    const r = namespaceRestoreArgs(spec, 5);
    try {
      expect(r.args).toEqual(["--inherit-fd", "fd[5]:extRootNetNS", "--join-ns", "ipc:/proc/self/ns/ipc"]);
      expect(r.fds).toHaveLength(1);
    } finally {
      r.close();
    }
    spec.linux!.namespaces = [{ type: "cgroup", path: "/proc/self/ns/cgroup" }];
    expect(() => namespaceRestoreArgs(spec, 3)).toThrow(/joined cgroup namespace/);
  });
});
