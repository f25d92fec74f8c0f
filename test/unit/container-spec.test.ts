import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSpec, DEFAULT_INIT_PATH, INIT_DESTINATION, type SpecHost } from "../../src/engine/containers/spec.ts";
import { DEFAULT_PATH_ENV, MASKED_PATHS, READONLY_PATHS } from "../../src/engine/containers/docker-defaults.ts";
import type { ContainerRecord, HostConfig, DockerConfig, SpecInput } from "../../src/engine/containers/model.ts";
import { resolveUser, rootfsUserFiles } from "../../src/engine/containers/spec-user.ts";
import { containerCapabilities } from "../../src/engine/containers/spec-capabilities.ts";
import { dockerProfileToOci } from "../../src/engine/containers/spec-seccomp.ts";
import { DOCKER_DEFAULT_CAPABILITIES } from "../../src/runtime/seccomp/docker-default.ts";
import { CAPABILITIES } from "../../src/oci/capabilities.ts";
import { BerthError } from "../../src/errors.ts";

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1001:web:/home/web:/bin/sh\n";
const GROUP = "root:x:0:\nwebgrp:x:1001:\nextra:x:2000:web,other\naudio:x:29:\n";
const ALL = CAPABILITIES.filter((c) => c !== "CAP_SYS_RESOURCE");

const HOST: SpecHost = {
  arch: "x64",
  kernel: "6.18",
  cgroupNamespace: true,
  swapLimit: true,
  blkioWeight: false,
  swappiness: true,
  allCapabilities: () => ALL,
  hostDevices: () => [{ path: "/dev/sda", type: "b", major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 }],
  userFiles: () => ({ passwd: () => PASSWD, group: () => GROUP }),
};

function record(config: DockerConfig = {}, hostConfig: HostConfig = {}, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    Id: "0123456789abcdef".repeat(4),
    Name: "t",
    tenant: "default",
    Created: new Date(0).toISOString(),
    Image: "sha256:" + "0".repeat(64),
    ImageName: "busybox",
    Path: "/bin/sh",
    Args: ["-c", "true"],
    Config: { Env: ["FOO=bar"], ...config },
    HostConfig: hostConfig,
    State: { Status: "created", Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: "", StartedAt: "", FinishedAt: "" },
    RestartCount: 0,
    manuallyStopped: false,
    Mounts: [],
    NetworkSettings: { Ports: {}, Networks: {}, SandboxKey: "", IPAddress: "", IPPrefixLen: 0, Gateway: "", MacAddress: "" },
    HostnamePath: "",
    HostsPath: "",
    ResolvConfPath: "",
    LogPath: "",
    runtimeRoot: "/run/x",
    bundle: "/b",
    rootfs: "/r",
    ...extra,
  };
}
const build = (r: ContainerRecord, more: Partial<SpecInput> = {}, host = HOST) =>
  buildSpec({ record: r, rootfs: "/rootfs", cgroupsPath: "/berth/t", ...more }, host);

function err(f: () => unknown): BerthError {
  try {
    f();
  } catch (e) {
    return e as BerthError;
  }
  throw new Error("did not throw");
}

describe("buildSpec: process", () => {
  test("defaults", () => {
    const s = build(record());
    const p = s.process!;
    expect(p.args).toEqual(["/bin/sh", "-c", "true"]);
    expect(p.env).toEqual([DEFAULT_PATH_ENV, "HOSTNAME=0123456789ab", "FOO=bar", "HOME=/root"]);
    expect(p.cwd).toBe("/");
    expect(p.terminal).toBe(false);
    expect(p.user).toEqual({ uid: 0, gid: 0 });
    expect(p.capabilities!.bounding).toEqual([...DOCKER_DEFAULT_CAPABILITIES]);
    expect(p.capabilities!.effective).toEqual([...DOCKER_DEFAULT_CAPABILITIES]);
    expect(p.capabilities!.inheritable).toBeUndefined();
    expect(p.capabilities!.ambient).toBeUndefined();
    expect(p.noNewPrivileges).toBe(false);
    expect(p.rlimits).toBeUndefined();
    expect(p.oomScoreAdj).toBe(0);
    expect(s.hostname).toBe("0123456789ab");
    expect(s.root).toEqual({ path: "/rootfs", readonly: false });
  });

  test("env: TERM with a tty, the container's values win by name", () => {
    const s = build(record({ Tty: true, Env: ["PATH=/x", "HOSTNAME=mine", "HOME=/h"], Hostname: "box" }));
    expect(s.process!.env).toEqual(["TERM=xterm", "PATH=/x", "HOSTNAME=mine", "HOME=/h"]);
    expect(s.process!.terminal).toBe(true);
    expect(s.hostname).toBe("box");
  });

  test("cwd, console size, oom score, rlimits", () => {
    const s = build(
      record({ WorkingDir: "/srv", Tty: true }, { ConsoleSize: [30, 100], OomScoreAdj: 500, Ulimits: [{ Name: "nofile", Soft: 100, Hard: 200 }, { Name: "core", Soft: -1, Hard: -1 }] }),
    );
    expect(s.process!.cwd).toBe("/srv");
    expect(s.process!.consoleSize).toEqual({ height: 30, width: 100 });
    expect(s.process!.oomScoreAdj).toBe(500);
    expect(s.process!.rlimits).toEqual([
      { type: "RLIMIT_NOFILE", soft: 100, hard: 200 },
      { type: "RLIMIT_CORE", soft: 0xffff_ffff_ffff_ffffn, hard: 0xffff_ffff_ffff_ffffn },
    ]);
  });

  test("init: docker-init bound read-only and put in front", () => {
    const s = build(record({}, { Init: true }), { initPath: DEFAULT_INIT_PATH });
    expect(s.process!.args).toEqual([INIT_DESTINATION, "--", "/bin/sh", "-c", "true"]);
    expect(s.mounts!.find((m) => m.destination === "/sbin/docker-init")).toEqual({
      destination: "/sbin/docker-init",
      type: "bind",
      source: "/usr/bin/tini-static",
      options: ["bind", "ro", "nosuid", "nodev"],
    });
    expect(err(() => build(record({}, { Init: true }))).code).toBe("FailedPrecondition");
  });

  test("no-new-privileges", () => {
    expect(build(record({}, { SecurityOpt: ["no-new-privileges"] })).process!.noNewPrivileges).toBe(true);
    expect(build(record({}, { SecurityOpt: ["no-new-privileges=true"] })).process!.noNewPrivileges).toBe(true);
    expect(build(record({}, { SecurityOpt: ["no-new-privileges:false"] })).process!.noNewPrivileges).toBe(false);
  });

  test("LSM options other than unconfined are a clear error", () => {
    expect(err(() => build(record({}, { SecurityOpt: ["apparmor=docker-default"] }))).message).toMatch(/AppArmor is not enabled/);
    expect(build(record({}, { SecurityOpt: ["apparmor=unconfined", "label=disable"] })).process!.apparmorProfile).toBeUndefined();
  });
});

describe("buildSpec: users", () => {
  const files = { passwd: () => PASSWD, group: () => GROUP };
  test("forms of User", () => {
    expect(resolveUser("web", [], files)).toEqual({ uid: 1000, gid: 1001, additionalGids: [2000], home: "/home/web" });
    expect(resolveUser("1000", [], files)).toEqual({ uid: 1000, gid: 1001, additionalGids: [2000], home: "/home/web" });
    expect(resolveUser("4242", [], files)).toEqual({ uid: 4242, gid: 0 });
    expect(resolveUser("4242:77", [], files)).toEqual({ uid: 4242, gid: 77 });
    expect(resolveUser("web:audio", [], files)).toEqual({ uid: 1000, gid: 29, home: "/home/web" });
    expect(resolveUser("web:0", ["audio", "555"], files)).toEqual({ uid: 1000, gid: 0, additionalGids: [29, 555], home: "/home/web" });
    expect(resolveUser("", [], files)).toEqual({ uid: 0, gid: 0, home: "/root" });
  });
  test("missing names: docker's errors", () => {
    expect(err(() => resolveUser("nobody2", [], files)).message).toBe("unable to find user nobody2: no matching entries in passwd file");
    expect(err(() => resolveUser("web:nogrp", [], files)).message).toBe("unable to find group nogrp: no matching entries in group file");
    expect(err(() => resolveUser("web", ["nogrp"], files)).code).toBe("InvalidArgument");
    expect(err(() => resolveUser("99999999999", [], files)).message).toMatch(/range/);
    const empty = { passwd: () => undefined, group: () => undefined };
    expect(resolveUser("5:6", [], empty)).toEqual({ uid: 5, gid: 6 });
    expect(() => resolveUser("web", [], empty)).toThrow("unable to find user web");
  });
  test("in the spec: uid, gid, extra groups, HOME", () => {
    const s = build(record({ User: "web" }, { GroupAdd: ["audio"] }));
    expect(s.process!.user).toEqual({ uid: 1000, gid: 1001, additionalGids: [2000, 29] });
    expect(s.process!.env).toContain("HOME=/home/web");
  });

  describe("symlinked passwd in the rootfs is read inside it", () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-spec-user-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    // A "host" file outside the rootfs and a different one at the same path inside it.
    const hostSide = join(dir, "host", "etc");
    const root = join(dir, "rootfs");
    mkdirSync(hostSide, { recursive: true });
    mkdirSync(join(root, "etc"), { recursive: true });
    mkdirSync(join(root, dir, "host", "etc"), { recursive: true });
    writeFileSync(join(hostSide, "passwd"), "hostonly:x:4242:4242::/:/bin/sh\n");
    writeFileSync(join(root, dir, "host", "etc", "passwd"), "inroot:x:77:77::/r:/bin/sh\n");
    test("absolute symlink", () => {
      symlinkSync(join(hostSide, "passwd"), join(root, "etc", "passwd"));
      const files = rootfsUserFiles(root);
      expect(resolveUser("inroot", [], files).uid).toBe(77);
      expect(() => resolveUser("hostonly", [], files)).toThrow("unable to find user hostonly");
      rmSync(join(root, "etc", "passwd"));
    });
    test("relative symlink with ../", () => {
      symlinkSync("../".repeat(20) + join(hostSide, "passwd").slice(1), join(root, "etc", "passwd"));
      const files = rootfsUserFiles(root);
      expect(resolveUser("inroot", [], files).uid).toBe(77);
      expect(() => resolveUser("hostonly", [], files)).toThrow("unable to find user hostonly");
      rmSync(join(root, "etc", "passwd"));
    });
    test("links to the host's own /etc/passwd never read it", () => {
      // /etc/passwd -> /etc/passwd is itself inside the root: a loop, an error (the host's file has root)
      symlinkSync("/etc/passwd", join(root, "etc", "passwd"));
      expect(err(() => resolveUser("root", [], rootfsUserFiles(root))).message).toMatch(/too many levels of symbolic links/);
      rmSync(join(root, "etc", "passwd"));
      // through /proc/self/root (a magic link on the host): stays in the root, where there is no /proc
      symlinkSync("/proc/self/root/etc/passwd", join(root, "etc", "passwd"));
      expect(() => resolveUser("root", [], rootfsUserFiles(root))).toThrow("unable to find user root: no matching entries in passwd file");
      rmSync(join(root, "etc", "passwd"));
    });
    test("a directory or fifo in place of passwd is refused", () => {
      mkdirSync(join(root, "etc", "passwd"));
      expect(err(() => resolveUser("x", [], rootfsUserFiles(root))).message).toMatch(/not a regular file/);
      rmSync(join(root, "etc", "passwd"), { recursive: true });
    });
  });
});

describe("buildSpec: capabilities and seccomp", () => {
  test("CapAdd/CapDrop/ALL", () => {
    const all = () => ALL;
    expect(containerCapabilities(["net_admin"], ["CAP_CHOWN", "kill"], false, all)).toEqual([
      ...DOCKER_DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_CHOWN" && c !== "CAP_KILL"),
      "CAP_NET_ADMIN",
    ]);
    expect(containerCapabilities(["ALL"], ["SYS_ADMIN"], false, all)).toEqual(ALL.filter((c) => c !== "CAP_SYS_ADMIN"));
    expect(containerCapabilities(["NET_RAW"], ["ALL"], false, all)).toEqual(["CAP_NET_RAW"]);
    expect(containerCapabilities([], [], true, all)).toEqual(ALL);
    expect(err(() => containerCapabilities(["SYS_RESOURCE"], [], false, all)).message).toMatch(/not available on this host/);
    expect(err(() => containerCapabilities(["FOO"], [], false, all)).message).toBe('unknown capability: "FOO"');
  });

  test("default seccomp takes the added capabilities into account", () => {
    const names = (s: ReturnType<typeof build>) => new Set((s.linux!.seccomp?.syscalls ?? []).filter((r) => r.action === "SCMP_ACT_ALLOW").flatMap((r) => r.names));
    const plain = build(record());
    expect(plain.linux!.seccomp!.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(names(plain).has("mount")).toBe(false);
    expect(names(plain).has("reboot")).toBe(false);
    const admin = build(record({}, { CapAdd: ["SYS_ADMIN", "SYS_BOOT"] }));
    expect(names(admin).has("mount")).toBe(true);
    expect(names(admin).has("reboot")).toBe(true);
  });

  test("unconfined and privileged: no filter", () => {
    expect(build(record({}, { SecurityOpt: ["seccomp=unconfined"] })).linux!.seccomp).toBeUndefined();
    expect(build(record({}, { Privileged: true })).linux!.seccomp).toBeUndefined();
  });

  test("a docker JSON profile is converted for this arch and caps", () => {
    const profile = {
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 1,
      archMap: [
        { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
        { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
      ],
      syscalls: [
        { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
        { name: "personality", action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }] },
        { names: ["mount"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
        { names: ["arm_only"], action: "SCMP_ACT_ALLOW", includes: { arches: ["arm64"] } },
        { names: ["not_amd"], action: "SCMP_ACT_ALLOW", excludes: { arches: ["amd64"] } },
        { names: ["newk"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "7.1" } },
        { names: ["oldk"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "4.8" } },
        { names: ["chown"], action: "SCMP_ACT_ERRNO", errnoRet: 13, excludes: { caps: ["CAP_CHOWN"] } },
      ],
    };
    const s = build(record({}, { SecurityOpt: [`seccomp=${JSON.stringify(profile)}`] }));
    expect(s.linux!.seccomp).toEqual({
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 1,
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: [
        { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
        { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }] },
        { names: ["oldk"], action: "SCMP_ACT_ALLOW" },
      ],
    });
    const dropped = dockerProfileToOci(JSON.stringify(profile), ["CAP_SYS_ADMIN"], { arch: "arm64", kernel: "7.2" });
    expect(dropped.architectures).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    expect(dropped.syscalls!.flatMap((r) => r.names)).toEqual(["read", "write", "personality", "mount", "arm_only", "not_amd", "newk", "oldk", "chown"]);
    expect(() => dockerProfileToOci(JSON.stringify({ ...profile, architectures: ["SCMP_ARCH_X86_64"] }), [], { arch: "x64", kernel: "6.1" })).toThrow(
      /both 'architectures' and 'archMap'/,
    );
  });
});

describe("buildSpec: mounts", () => {
  test("docker's defaults, shm size, masked and read-only paths", () => {
    const s = build(record());
    expect(s.mounts!.map((m) => m.destination)).toEqual(["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]);
    expect(s.mounts!.find((m) => m.destination === "/sys")!.options).toContain("ro");
    expect(s.mounts!.find((m) => m.destination === "/dev/shm")!.options).toContain(`size=${64 * 1024 * 1024}`);
    expect(build(record({}, { ShmSize: 1 << 20 })).mounts!.find((m) => m.destination === "/dev/shm")!.options).toContain("size=1048576");
    expect(build(record({}, { IpcMode: "none" })).mounts!.some((m) => m.destination === "/dev/shm")).toBe(false);
    expect(s.linux!.maskedPaths).toEqual([...MASKED_PATHS]);
    expect(s.linux!.maskedPaths).toContain("/proc/keys");
    expect(s.linux!.readonlyPaths).toEqual([...READONLY_PATHS]);
  });

  test("record mounts (parents first), generated files, readonly rootfs", () => {
    const r = record({}, { ReadonlyRootfs: true }, {
      Mounts: [
        { Type: "bind", Source: "/h/a/b", Destination: "/data/sub", Mode: "", RW: true, Propagation: "rslave" },
        { Type: "volume", Name: "v", Source: "/var/lib/v", Destination: "/data", Mode: "ro", RW: false, Propagation: "" },
        { Type: "tmpfs", Source: "", Destination: "/run", Mode: "", RW: true, Propagation: "", Options: ["size=1m", "mode=1777"] },
        { Type: "tmpfs", Source: "", Destination: "/dev/shm", Mode: "", RW: true, Propagation: "", Options: ["size=2m"] },
      ],
      HostsPath: "/x/hosts",
      HostnamePath: "/x/hostname",
      ResolvConfPath: "/x/resolv.conf",
    });
    const s = build(r);
    expect(s.root!.readonly).toBe(true);
    const user = s.mounts!.slice(6);
    expect(user.map((m) => m.destination)).toEqual(["/data", "/run", "/data/sub", "/dev/shm", "/etc/resolv.conf", "/etc/hostname", "/etc/hosts"]);
    expect(user[0]).toEqual({ destination: "/data", type: "bind", source: "/var/lib/v", options: ["rbind", "ro", "rprivate"] });
    expect(user[1]).toEqual({ destination: "/run", type: "tmpfs", source: "tmpfs", options: ["size=1m", "mode=1777"] });
    expect(user[2]!.options).toEqual(["rbind", "rw", "rslave"]);
    expect(user[6]).toEqual({ destination: "/etc/hosts", type: "bind", source: "/x/hosts", options: ["rbind", "rprivate", "ro"] });
    // the user's /dev/shm replaces the default one
    expect(s.mounts!.filter((m) => m.destination === "/dev/shm")).toHaveLength(1);
  });

  test("privileged: rw /sys and cgroup, no masks, every device", () => {
    const s = build(record({}, { Privileged: true }));
    expect(s.mounts!.find((m) => m.destination === "/sys")!.options).not.toContain("ro");
    expect(s.mounts!.find((m) => m.destination === "/sys/fs/cgroup")!.options).not.toContain("ro");
    expect(s.linux!.maskedPaths).toBeUndefined();
    expect(s.linux!.readonlyPaths).toBeUndefined();
    expect(s.linux!.devices).toEqual(HOST.hostDevices());
    expect(s.linux!.resources!.devices).toEqual([{ allow: true, access: "rwm" }]);
    expect(s.process!.capabilities!.bounding).toEqual(ALL);
  });
});

describe("buildSpec: namespaces", () => {
  const types = (s: ReturnType<typeof build>) => s.linux!.namespaces!.map((n) => (n.path ? `${n.type}=${n.path}` : n.type));
  test("default: all private, cgroup namespace on this kind of host", () => {
    expect(types(build(record()))).toEqual(["mount", "pid", "ipc", "uts", "network", "cgroup"]);
    expect(types(build(record(), {}, { ...HOST, cgroupNamespace: false }))).toEqual(["mount", "pid", "ipc", "uts", "network"]);
    expect(types(build(record({}, { CgroupnsMode: "host" })))).not.toContain("cgroup");
  });
  test("host modes leave namespaces out; a netns path is joined", () => {
    const s = build(record({}, { PidMode: "host", IpcMode: "host", UTSMode: "host", NetworkMode: "host" }));
    expect(types(s)).toEqual(["mount", "cgroup"]);
    expect(s.hostname).toBeUndefined();
    expect(s.process!.env!.some((e) => e.startsWith("HOSTNAME="))).toBe(false);
    expect(types(build(record(), { netnsPath: "/run/netns/x" }))).toContain("network=/run/netns/x");
  });
  test("cgroupsPath and sysctls", () => {
    const s = build(record({}, { Sysctls: { "net.ipv4.ip_forward": "1" } }));
    expect(s.linux!.cgroupsPath).toBe("/berth/t");
    expect(s.linux!.sysctl).toEqual({ "net.ipv4.ip_forward": "1" });
  });
});

describe("buildSpec: resources and devices", () => {
  const MB = 1024 * 1024;
  test("memory, cpu, pids", () => {
    const r = build(
      record({}, {
        Memory: 64 * MB,
        MemoryReservation: 32 * MB,
        MemorySwappiness: 10,
        OomKillDisable: true,
        NanoCpus: 1.5e9,
        CpuShares: 512,
        CpusetCpus: "0",
        CpusetMems: "0",
        PidsLimit: 50,
        BlkioWeight: 300,
      }),
    ).linux!.resources!;
    expect(r.memory).toEqual({ limit: 64 * MB, reservation: 32 * MB, swap: 128 * MB, swappiness: 10, disableOOMKiller: true });
    expect(r.cpu).toEqual({ shares: 512, period: 100000, quota: 150000, cpus: "0", mems: "0" });
    expect(r.pids).toEqual({ limit: 50 });
    expect(r.blockIO).toBeUndefined(); // no blkio weight on this host
    expect(build(record({}, { BlkioWeight: 300 }), {}, { ...HOST, blkioWeight: true }).linux!.resources!.blockIO).toEqual({ weight: 300 });
  });
  test("swap: -1 unlimited, explicit, and none without swap accounting", () => {
    expect(build(record({}, { Memory: 64 * MB, MemorySwap: -1 })).linux!.resources!.memory!.swap).toBe(-1);
    expect(build(record({}, { Memory: 64 * MB, MemorySwap: 100 * MB })).linux!.resources!.memory!.swap).toBe(100 * MB);
    expect(build(record({}, { Memory: 64 * MB }), {}, { ...HOST, swapLimit: false }).linux!.resources!.memory).toEqual({ limit: 64 * MB });
    // cgroup v2 has no swappiness: dropped, as docker does
    expect(build(record({}, { MemorySwappiness: 10 }), {}, { ...HOST, swappiness: false }).linux!.resources!.memory).toBeUndefined();
  });
  test("quota/period, unlimited pids", () => {
    const r = build(record({}, { CpuQuota: 50000, CpuPeriod: 200000, PidsLimit: -1 })).linux!.resources!;
    expect(r.cpu).toEqual({ period: 200000, quota: 50000 });
    expect(r.pids).toBeUndefined();
    expect(build(record({}, { PidsLimit: 0 })).linux!.resources!.pids).toBeUndefined();
  });
  test("device rules: docker's allow list, mappings, extra rules", () => {
    const s = build(record({}, { Devices: [{ PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "rw" }], DeviceCgroupRules: ["c 42:* rmw"] }));
    const rules = s.linux!.resources!.devices!;
    expect(rules[0]).toEqual({ allow: false, access: "rwm" });
    expect(rules).toContainEqual({ allow: true, type: "c", major: 1, minor: 3, access: "rwm" });
    expect(rules).toContainEqual({ allow: true, type: "c", major: 136, access: "rwm" });
    expect(rules).toContainEqual({ allow: true, type: "c", major: 1, minor: 3, access: "rw" });
    expect(rules.at(-1)).toEqual({ allow: true, type: "c", major: 42, access: "rmw" });
    expect(s.linux!.devices).toEqual([{ path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }]);
    expect(err(() => build(record({}, { Devices: [{ PathOnHost: "/dev/nonexistent-berth" }] }))).code).toBe("NotFound");
    expect(err(() => build(record({}, { Devices: [{ PathOnHost: "/etc/hostname" }] }))).message).toMatch(/not a device node/);
  });
});
