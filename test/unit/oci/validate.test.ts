import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BerthError } from "../../../src/errors.ts";
import { defaultSpec } from "../../../src/oci/default-spec.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import {
  checkSpec,
  findNamespace,
  isNewNamespace,
  parseSpec,
  requireProcess,
  sysctlPath,
  validateSpec,
} from "../../../src/oci/validate.ts";

const fixture = (name: string) => readFileSync(join(import.meta.dir, "fixtures", name), "utf8");

/** A fresh, valid spec to break one field of. */
function base(): Record<string, any> {
  return JSON.parse(JSON.stringify(defaultSpec({ cgroupNamespace: false })));
}

/** The InvalidArgument message validateSpec throws for x. */
function errorOf(x: unknown): string {
  try {
    validateSpec(x, { source: "config.json" });
  } catch (e) {
    expect(e).toBeInstanceOf(BerthError);
    expect((e as BerthError).code).toBe("InvalidArgument");
    return (e as BerthError).message;
  }
  throw new Error("expected validateSpec to throw");
}

/** Apply a change to a valid spec and return the problems as "path: message". */
function problems(change: (s: Record<string, any>) => void): string[] {
  const s = base();
  change(s);
  return checkSpec(s).problems.map((p) => `${p.path}: ${p.message}`);
}

function expectProblem(change: (s: Record<string, any>) => void, path: string, message?: string | RegExp) {
  const ps = problems(change);
  const hit = ps.find((p) => p.startsWith(`${path}: `));
  if (!hit) throw new Error(`no problem at ${path}; got ${JSON.stringify(ps)}`);
  if (typeof message === "string") expect(hit).toBe(`${path}: ${message}`);
  else if (message) expect(hit).toMatch(message);
}

describe("valid specs", () => {
  test("the default spec passes", () => {
    expect(checkSpec(defaultSpec()).problems).toEqual([]);
    expect(checkSpec(defaultSpec({ rootless: true })).problems).toEqual([]);
    expect(checkSpec(defaultSpec({ cgroupNamespace: true, args: ["/bin/true"] })).problems).toEqual([]);
  });

  test("runc 1.1.5's own `runc spec` and `runc spec --rootless` pass", () => {
    for (const f of ["runc-1.1.5-spec.json", "runc-1.1.5-spec-rootless.json"]) {
      const spec = parseSpec(fixture(f), f);
      expect(spec.ociVersion).toBe("1.0.2-dev");
      expect(checkSpec(spec).warnings).toEqual([]);
    }
  });

  test("the runtime-spec v1.2.1 full example passes (with a 1.x version)", () => {
    const text = fixture("runtime-spec-1.2.1-example.json");
    // The example carries "0.5.0-dev", which berth rejects.
    expect(() => parseSpec(text)).toThrow('config.json: ociVersion: unsupported version "0.5.0-dev": berth supports 1.x');
    const spec = parseSpec(text.replace('"0.5.0-dev"', '"1.2.1"'));
    // 9223372036854772000 is beyond 2^53: kept exact as a bigint.
    expect(spec.linux?.resources?.hugepageLimits?.[0]?.limit).toBe(9223372036854772000n);
    expect(spec.hooks?.poststart?.[0]?.timeout).toBe(5);
  });

  test("minimal specs from the runtime-spec schema tests pass", () => {
    expect(validateSpec({ ociVersion: "1.0.0", root: { path: "rootfs" } }).root?.path).toBe("rootfs");
    validateSpec({
      ociVersion: "1.0.0",
      root: { path: "rootfs" },
      process: { cwd: "/", args: ["sh"], user: { uid: 0, gid: 0 } },
    });
    validateSpec({
      ociVersion: "1.0.0",
      root: { path: "rootfs" },
      linux: { resources: { rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaObjects: 1000 } } } },
    });
  });

  test("unknown properties are ignored and nulls dropped", () => {
    const s = base();
    s.somethingNew = { x: 1 };
    s.process.futureField = true;
    s.domainname = null;
    s.linux.seccomp = null;
    const spec = validateSpec(s);
    expect("domainname" in spec).toBe(false);
    expect("seccomp" in spec.linux!).toBe(false);
  });

  test("validateSpec returns a copy", () => {
    const s = base();
    const spec = validateSpec(s);
    spec.process!.args![0] = "changed";
    expect(s.process.args[0]).toBe("sh");
  });

  test("semver prerelease and build versions of 1.x are accepted", () => {
    for (const v of ["1.0.0", "1.0.2-dev", "1.0.0-rc5-dev", "1.2.0+build.7", "1.1.0-rc.1"]) {
      expect(problems((s) => (s.ociVersion = v))).toEqual([]);
    }
  });
});

describe("error messages", () => {
  test("name the source and the field", () => {
    expect(errorOf({ ...base(), process: { ...base().process, args: [] } })).toBe(
      "config.json: process.args: must be a non-empty array of strings",
    );
  });

  test("report every problem, joined with '; '", () => {
    const s = base();
    s.process.args = [];
    s.process.cwd = "relative";
    expect(errorOf(s)).toBe(
      'config.json: process.args: must be a non-empty array of strings; process.cwd: must be an absolute path, got "relative"',
    );
  });

  test("cap the list at ten problems", () => {
    const s = base();
    s.process.env = Array.from({ length: 13 }, (_, i) => `BAD${i}`);
    const msg = errorOf(s);
    expect(msg.split("; ").length).toBe(11);
    expect(msg).toEndWith("; and 3 more problems");
  });

  test("a non-object document", () => {
    expect(errorOf([])).toBe("config.json: must be a json object, got an array");
    expect(() => validateSpec("x")).toThrow("must be a json object");
  });
});

describe("each class of bad input names its field", () => {
  test("ociVersion", () => {
    expectProblem((s) => delete s.ociVersion, "ociVersion", "is required");
    expectProblem((s) => (s.ociVersion = "1.0"), "ociVersion", 'must be a semver version like "1.2.0", got "1.0"');
    expectProblem((s) => (s.ociVersion = "2.0.0"), "ociVersion", /unsupported version "2.0.0"/);
    expectProblem((s) => (s.ociVersion = 1), "ociVersion", "must be a string");
  });

  test("root", () => {
    expectProblem((s) => delete s.root, "root", "is required");
    expectProblem((s) => delete s.root.path, "root.path", "is required");
    expectProblem((s) => (s.root.path = ""), "root.path", "must not be empty");
    expectProblem((s) => (s.root.readonly = "yes"), "root.readonly", "must be a boolean");
  });

  test("process is optional for the spec, required for create", () => {
    const s = base();
    delete s.process;
    const spec = validateSpec(s);
    expect(() => requireProcess(spec)).toThrow("config.json: process: required to create a container");
    expect(requireProcess(validateSpec(base())).cwd).toBe("/");
  });

  test("process fields", () => {
    expectProblem((s) => (s.process = []), "process", "must be an object");
    expectProblem((s) => delete s.process.args, "process.args", "must be a non-empty array of strings");
    expectProblem((s) => (s.process.args = ["sh", 1]), "process.args[1]", "must be a string");
    expectProblem((s) => delete s.process.cwd, "process.cwd", "is required");
    expectProblem((s) => (s.process.cwd = "tmp"), "process.cwd", 'must be an absolute path, got "tmp"');
    expectProblem((s) => (s.process.env = ["A=1", "NOEQUALS"]), "process.env[1]", 'must be "KEY=value", got "NOEQUALS"');
    expectProblem((s) => (s.process.env = ["=x"]), "process.env[0]", /KEY=value/);
    expectProblem((s) => (s.process.env = ["A=\u0000"]), "process.env[0]", "must not contain a nul byte");
    expectProblem((s) => (s.process.terminal = 1), "process.terminal", "must be a boolean");
    expectProblem((s) => (s.process.consoleSize = { height: 10 }), "process.consoleSize.width", "is required");
    expectProblem((s) => (s.process.oomScoreAdj = 1001), "process.oomScoreAdj", /from -1000 to 1000/);
  });

  test("user", () => {
    expectProblem((s) => delete s.process.user, "process.user", "is required");
    expectProblem((s) => (s.process.user.uid = -1), "process.user.uid", "must be an integer from 0 to 4294967295, got -1");
    expectProblem((s) => (s.process.user.gid = 1.5), "process.user.gid", /got 1.5/);
    expectProblem((s) => (s.process.user.uid = "0"), "process.user.uid", /got "0"/);
    expectProblem((s) => (s.process.user.additionalGids = [1, -2]), "process.user.additionalGids[1]", /from 0 to/);
    expectProblem((s) => (s.process.user.umask = 0o10000), "process.user.umask", /from 0 to 4095/);
  });

  test("capabilities, in all five sets", () => {
    for (const set of ["bounding", "effective", "inheritable", "permitted", "ambient"]) {
      expectProblem(
        (s) => (s.process.capabilities[set] = ["CAP_KILL", "CAP_FOO"]),
        `process.capabilities.${set}[1]`,
        'unknown capability "CAP_FOO"',
      );
    }
    expectProblem((s) => (s.process.capabilities.bounding = ["kill"]), "process.capabilities.bounding[0]", 'unknown capability "kill"');
    expectProblem((s) => (s.process.capabilities.bounding = "CAP_KILL"), "process.capabilities.bounding", "must be an array of strings");
    expect(problems((s) => (s.process.capabilities.inheritable = ["CAP_CHECKPOINT_RESTORE", "CAP_BPF"]))).toEqual([]);
  });

  test("rlimits", () => {
    expectProblem((s) => (s.process.rlimits[0].type = "RLIMIT_FOO"), "process.rlimits[0].type", 'unknown rlimit "RLIMIT_FOO"');
    expectProblem((s) => (s.process.rlimits[0].type = "nofile"), "process.rlimits[0].type", 'unknown rlimit "nofile"');
    expectProblem((s) => (s.process.rlimits[0].soft = 2048), "process.rlimits[0]", "soft limit 2048 exceeds hard limit 1024");
    expectProblem((s) => delete s.process.rlimits[0].hard, "process.rlimits[0].hard", "is required");
    expectProblem((s) => (s.process.rlimits[0].soft = -1), "process.rlimits[0].soft", /non-negative integer/);
    expectProblem(
      (s) => s.process.rlimits.push({ type: "RLIMIT_NOFILE", soft: 1, hard: 1 }),
      "process.rlimits[1].type",
      'duplicate rlimit "RLIMIT_NOFILE" (also at index 0)',
    );
  });

  test("rlimit values up to RLIM_INFINITY stay exact", () => {
    const text = JSON.stringify(base()).replace('"hard":1024', '"hard":18446744073709551615');
    const spec = parseSpec(text);
    expect(spec.process?.rlimits?.[0]?.hard).toBe(18446744073709551615n);
    expect(() => parseSpec(text.replace("18446744073709551615", "18446744073709551616"))).toThrow(
      "process.rlimits[0].hard: must be a non-negative integer (uint64), got 18446744073709551616",
    );
  });

  test("scheduler, ioPriority, execCPUAffinity", () => {
    expectProblem((s) => (s.process.scheduler = { policy: "SCHED_FOO" }), "process.scheduler.policy", /unknown policy "SCHED_FOO"/);
    expectProblem((s) => (s.process.scheduler = {}), "process.scheduler.policy", "is required");
    expectProblem((s) => (s.process.scheduler = { policy: "SCHED_OTHER", nice: 20 }), "process.scheduler.nice", /-20 to 19/);
    expectProblem((s) => (s.process.scheduler = { policy: "SCHED_OTHER", priority: 5 }), "process.scheduler.priority", /SCHED_FIFO/);
    expectProblem((s) => (s.process.scheduler = { policy: "SCHED_RR", runtime: 5 }), "process.scheduler", /SCHED_DEADLINE/);
    expectProblem((s) => (s.process.scheduler = { policy: "SCHED_RR", flags: ["X"] }), "process.scheduler.flags[0]", 'unknown flag "X"');
    expect(problems((s) => (s.process.scheduler = { policy: "SCHED_DEADLINE", runtime: 10, deadline: 20, period: 30 }))).toEqual([]);
    expectProblem((s) => (s.process.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 8 }), "process.ioPriority.priority", /0 to 7/);
    expectProblem((s) => (s.process.ioPriority = { class: "BE", priority: 1 }), "process.ioPriority.class", /unknown class "BE"/);
    expectProblem((s) => (s.process.execCPUAffinity = { initial: "0-x" }), "process.execCPUAffinity.initial", /like "0-3,7"/);
    expectProblem((s) => (s.process.execCPUAffinity = { final: "3-1" }), "process.execCPUAffinity.final", /like "0-3,7"/);
    expect(problems((s) => (s.process.execCPUAffinity = { initial: "0-3,7", final: "5" }))).toEqual([]);
  });

  test("namespaces", () => {
    expectProblem((s) => (s.linux.namespaces[2].type = "foo"), "linux.namespaces[2].type", 'unknown namespace "foo"');
    expectProblem((s) => s.linux.namespaces.push({ type: "pid" }), "linux.namespaces[5].type", 'duplicate namespace "pid" (also at index 0)');
    expectProblem((s) => (s.linux.namespaces[1].path = "proc/1/ns/net"), "linux.namespaces[1].path", /absolute path/);
    expectProblem((s) => delete s.linux.namespaces[0].type, "linux.namespaces[0].type", "is required");
    expectProblem((s) => (s.linux.namespaces = {}), "linux.namespaces", "must be an array");
    expect(problems((s) => (s.linux.namespaces[1].path = "/var/run/netns/x"))).toEqual([]);
    expect(problems((s) => (s.linux.namespaces[1].path = ""))).toEqual([]);
  });

  test("user namespace mappings: required iff the user namespace is new", () => {
    expectProblem((s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]), "linux.uidMappings", /requires a user namespace/);
    const userns = (s: Record<string, any>) => s.linux.namespaces.push({ type: "user" });
    expectProblem(userns, "linux.uidMappings", "required with a new user namespace");
    expectProblem(userns, "linux.gidMappings", "required with a new user namespace");
    // joined: mappings optional
    expect(problems((s) => s.linux.namespaces.push({ type: "user", path: "/proc/1/ns/user" }))).toEqual([]);
    const mapped = (m: unknown) => (s: Record<string, any>) => {
      userns(s);
      s.linux.uidMappings = m;
      s.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 65536 }];
    };
    expect(problems(mapped([{ containerID: 0, hostID: 1000, size: 65536 }]))).toEqual([]);
    expectProblem(mapped([{ containerID: 0, hostID: 1000, size: 0 }]), "linux.uidMappings[0].size", /positive integer/);
    expectProblem(mapped([{ containerID: 0, size: 1 }]), "linux.uidMappings[0].hostID", "is required");
    expectProblem(mapped([{ containerID: 4294967295, hostID: 0, size: 2 }]), "linux.uidMappings[0]", /32-bit id space/);
    expectProblem(
      mapped([
        { containerID: 0, hostID: 1000, size: 10 },
        { containerID: 5, hostID: 5000, size: 10 },
      ]),
      "linux.uidMappings[1]",
      "container ids overlap entry 0",
    );
    expectProblem(mapped([]), "linux.uidMappings", "required with a new user namespace");
  });

  test("mounts", () => {
    expectProblem((s) => delete s.mounts[0].destination, "mounts[0].destination", "is required");
    expectProblem((s) => (s.mounts[1].type = 5), "mounts[1].type", "must be a string");
    expectProblem((s) => (s.mounts[1].options = ["ro", 1]), "mounts[1].options[1]", "must be a string");
    expectProblem((s) => (s.mounts = [1]), "mounts[0]", "must be an object");
    expectProblem(
      (s) => (s.mounts[0].uidMappings = [{ containerID: 0, hostID: 1, size: 1 }]),
      "mounts[0]",
      "uidMappings and gidMappings must be given together",
    );
  });

  test("a relative mount destination is accepted with a warning", () => {
    const s = base();
    s.mounts.push({ destination: "data", type: "bind", source: "/tmp", options: ["rbind"] });
    const r = checkSpec(s);
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([{ path: "mounts[7].destination", message: 'relative destination "data" is deprecated, taken as relative to "/"' }]);
  });

  test("devices", () => {
    const dev = (d: unknown) => (s: Record<string, any>) => (s.linux.devices = [d]);
    expect(problems(dev({ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 438 }))).toEqual([]);
    expect(problems(dev({ path: "/dev/fifo", type: "p" }))).toEqual([]);
    expectProblem(dev({ path: "/dev/x", type: "x", major: 1, minor: 1 }), "linux.devices[0].type", /unknown device type "x"/);
    expectProblem(dev({ path: "/dev/x", type: "c", minor: 1 }), "linux.devices[0].major", "is required");
    expectProblem(dev({ path: "/dev/x", type: "b", major: 1 }), "linux.devices[0].minor", "is required");
    expectProblem(dev({ path: "dev/x", type: "c", major: 1, minor: 1 }), "linux.devices[0].path", /absolute path/);
    expectProblem(dev({ path: "/dev/x", type: "c", major: -1, minor: 1 }), "linux.devices[0].major", /from 0 to/);
  });

  test("sysctl", () => {
    const sysctl = (kv: Record<string, unknown>) => (s: Record<string, any>) => (s.linux.sysctl = kv);
    expect(problems(sysctl({ "net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "fs.mqueue.msg_max": "10" }))).toEqual([]);
    expect(problems(sysctl({ "net/ipv4/conf/eth0.100/rp_filter": "1", "kernel.domainname": "x" }))).toEqual([]);
    expectProblem(sysctl({ "net.ipv4.ip_forward": 1 }), 'linux.sysctl["net.ipv4.ip_forward"]', "must be a string");
    expectProblem(sysctl({ "kernel.panic": "1" }), 'linux.sysctl["kernel.panic"]', "is not namespaced: it would change the host");
    expectProblem(sysctl({ "vm.swappiness": "1" }), 'linux.sysctl["vm.swappiness"]', /not namespaced/);
    expectProblem(sysctl({ "kernel.hostname": "x" }), 'linux.sysctl["kernel.hostname"]', /hostname field/);
    expectProblem(sysctl({ "user.max_user_namespaces": "0" }), 'linux.sysctl["user.max_user_namespaces"]', /requires a user namespace/);
    expectProblem(sysctl({ "net..x": "1" }), 'linux.sysctl["net..x"]', "invalid sysctl name");
    expectProblem(sysctl({ "net/../../etc": "1" }), 'linux.sysctl["net/../../etc"]', "invalid sysctl name");
    expectProblem(
      (s) => {
        s.linux.sysctl = { "net.core.somaxconn": "1" };
        s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "network");
      },
      'linux.sysctl["net.core.somaxconn"]',
      'requires a network namespace (linux.namespaces has no "network" entry)',
    );
    expectProblem(
      (s) => {
        s.linux.sysctl = { "kernel.msgmax": "1" };
        s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "ipc");
      },
      'linux.sysctl["kernel.msgmax"]',
      /requires a ipc namespace/,
    );
  });

  test("sysctlPath converts sysctl(8) names", () => {
    expect(sysctlPath("net.ipv4.ip_forward")).toBe("net/ipv4/ip_forward");
    expect(sysctlPath("net/ipv4/conf/eth0.100/rp_filter")).toBe("net/ipv4/conf/eth0.100/rp_filter");
    expect(sysctlPath("net.ipv4.conf.eth0/100.rp_filter")).toBe("net/ipv4/conf/eth0.100/rp_filter");
    expect(sysctlPath("../x")).toBeUndefined();
    expect(sysctlPath("a b")).toBeUndefined();
  });

  test("hostname and domainname need a uts namespace", () => {
    const noUts = (s: Record<string, any>) => (s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "uts"));
    expectProblem(noUts, "hostname", 'requires a uts namespace (linux.namespaces has no "uts" entry)');
    expectProblem(
      (s) => {
        noUts(s);
        delete s.hostname;
        s.domainname = "example.org";
      },
      "domainname",
      /requires a uts namespace/,
    );
    expect(
      problems((s) => {
        noUts(s);
        delete s.hostname;
      }),
    ).toEqual([]);
    expectProblem((s) => (s.hostname = "x".repeat(65)), "hostname", "must be at most 64 bytes");
    // Joining a uts namespace and setting its hostname is allowed (containerd does this in pods).
    expect(problems((s) => (s.linux.namespaces[3] = { type: "uts", path: "/proc/1/ns/uts" }))).toEqual([]);
  });

  test("rootfsPropagation, maskedPaths, readonlyPaths", () => {
    for (const p of ["shared", "slave", "private", "rshared", "rslave", "rprivate", "unbindable", "runbindable"]) {
      expect(problems((s) => (s.linux.rootfsPropagation = p))).toEqual([]);
    }
    expectProblem((s) => (s.linux.rootfsPropagation = "rshare"), "linux.rootfsPropagation", /unknown propagation "rshare"/);
    expectProblem((s) => (s.linux.maskedPaths[2] = "proc/kcore"), "linux.maskedPaths[2]", 'must be an absolute path, got "proc/kcore"');
    expectProblem((s) => (s.linux.readonlyPaths[0] = 5), "linux.readonlyPaths[0]", "must be a string");
    expectProblem(
      (s) => (s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "mount")),
      "linux.maskedPaths",
      /requires a mount namespace/,
    );
  });

  test("resources", () => {
    const res = (r: unknown) => (s: Record<string, any>) => (s.linux.resources = r);
    expect(
      problems(
        res({
          memory: { limit: -1, reservation: 0, swap: -1, swappiness: 60 },
          cpu: { shares: 1024, quota: -1, period: 100000, cpus: "0-3", mems: "0" },
          pids: { limit: -1 },
          devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: -1, minor: -1, access: "m" }],
        }),
      ),
    ).toEqual([]);
    expectProblem(res({ memory: { limit: -2 } }), "linux.resources.memory.limit", "must be -1 (unlimited) or a non-negative integer, got -2");
    expectProblem(res({ memory: { swappiness: 101 } }), "linux.resources.memory.swappiness", /0 to 100/);
    expectProblem(res({ memory: { limit: 2048, swap: 1024 } }), "linux.resources.memory.swap", /below the memory limit/);
    expectProblem(res({ cpu: { shares: -5 } }), "linux.resources.cpu.shares", /non-negative integer/);
    expectProblem(res({ cpu: { quota: 1000, burst: 2000 } }), "linux.resources.cpu.burst", "must not exceed quota 1000, got 2000");
    expectProblem(res({ cpu: { cpus: "a" } }), "linux.resources.cpu.cpus", /like "0-3,7"/);
    expectProblem(res({ pids: { limit: -2 } }), "linux.resources.pids.limit", /must be -1, 0/);
    expectProblem(res({ pids: { limit: 1.5 } }), "linux.resources.pids.limit", /got 1.5/);
    expectProblem(res({ devices: [{ access: "r" }] }), "linux.resources.devices[0].allow", "is required");
    expectProblem(res({ devices: [{ allow: true, type: "u" }] }), "linux.resources.devices[0].type", /unknown device type "u"/);
    expectProblem(res({ devices: [{ allow: true, access: "rx" }] }), "linux.resources.devices[0].access", /"r", "w" and "m"/);
    expectProblem(res({ devices: [{ allow: true, access: "rr" }] }), "linux.resources.devices[0].access", /"r", "w" and "m"/);
    expectProblem(res({ hugepageLimits: [{ pageSize: "64kB", limit: 1 }] }), "linux.resources.hugepageLimits[0].pageSize", /like "2MB"/);
    expectProblem(res({ rdma: { mlx5_1: { hcaHandles: "not a uint32" } } }), "linux.resources.rdma.mlx5_1.hcaHandles", /from 0 to 4294967295/);
    expectProblem(res({ rdma: { mlx5_1: {} } }), "linux.resources.rdma.mlx5_1", "needs hcaHandles or hcaObjects");
    expectProblem(res({ blockIO: { weight: 70000 } }), "linux.resources.blockIO.weight", /from 0 to 65535/);
    expectProblem(res({ blockIO: { weightDevice: [{ major: 8, minor: 0 }] } }), "linux.resources.blockIO.weightDevice[0]", /weight or leafWeight/);
    expectProblem(res({ blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0 }] } }), "linux.resources.blockIO.throttleReadBpsDevice[0].rate", "is required");
    expectProblem(res({ unified: { "../x": "1" } }), 'linux.resources.unified["../x"]', "must be a cgroup file name");
    expectProblem(res({ unified: { "memory.max": 5 } }), 'linux.resources.unified["memory.max"]', "must be a string");
    expectProblem(res({ network: { priorities: [{ name: "eth0" }] } }), "linux.resources.network.priorities[0].priority", "is required");
  });

  test("numbers typed `number` reject values that would lose precision", () => {
    const s = parseSpec(JSON.stringify(base()).replace('"resources":{', '"resources":{"cpu":{"period":1},'));
    expect(s.linux?.resources?.cpu?.period).toBe(1);
    expect(() =>
      parseSpec(JSON.stringify(base()).replace('"resources":{', '"resources":{"cpu":{"period":18446744073709551615},')),
    ).toThrow(/linux.resources.cpu.period: must be a non-negative integer \(at most 9007199254740991\)/);
  });

  test("seccomp shape", () => {
    const sec = (x: unknown) => (s: Record<string, any>) => (s.linux.seccomp = x);
    expect(
      problems(
        sec({
          defaultAction: "SCMP_ACT_ERRNO",
          defaultErrnoRet: 1,
          architectures: ["SCMP_ARCH_X86_64"],
          syscalls: [{ names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0, op: "SCMP_CMP_EQ" }] }],
        }),
      ),
    ).toEqual([]);
    expectProblem(sec({}), "linux.seccomp.defaultAction", "is required");
    expectProblem(sec({ defaultAction: "ALLOW" }), "linux.seccomp.defaultAction", /unknown action "ALLOW"/);
    expectProblem(sec({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [], action: "SCMP_ACT_ERRNO" }] }), "linux.seccomp.syscalls[0].names", /non-empty/);
    expectProblem(
      sec({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_ERRNO", args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }] }] }),
      "linux.seccomp.syscalls[0].args[0].index",
      /0 to 5/,
    );
    expectProblem(
      sec({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "EQ" }] }] }),
      "linux.seccomp.syscalls[0].args[0].op",
      /unknown operator "EQ"/,
    );
    expectProblem(sec({ defaultAction: "SCMP_ACT_ALLOW", listenerMetadata: "x" }), "linux.seccomp.listenerMetadata", "requires listenerPath");
  });

  test("hooks", () => {
    const hooks = (h: unknown) => (s: Record<string, any>) => (s.hooks = h);
    expect(problems(hooks({ createRuntime: [{ path: "/bin/hook", args: ["hook", "x"], env: ["A=1"], timeout: 3 }] }))).toEqual([]);
    expectProblem(hooks({ prestart: [{ path: "hook" }] }), "hooks.prestart[0].path", 'must be an absolute path, got "hook"');
    expectProblem(hooks({ poststop: [{ args: [] }] }), "hooks.poststop[0].path", "is required");
    expectProblem(hooks({ poststart: [{ path: "/h", timeout: 0 }] }), "hooks.poststart[0].timeout", "must be a positive integer (seconds), got 0");
    expectProblem(hooks({ startContainer: [{ path: "/h", timeout: -3 }] }), "hooks.startContainer[0].timeout", /positive integer/);
    expectProblem(hooks({ createContainer: {} }), "hooks.createContainer", "must be an array");
    expectProblem(hooks({ createRuntime: [{ path: "/h", env: ["nope"] }] }), "hooks.createRuntime[0].env[0]", /KEY=value/);
  });

  test("timeOffsets need a new time namespace", () => {
    const offs = { monotonic: { secs: 10, nanosecs: 0 }, boottime: { secs: -5 } };
    expectProblem((s) => (s.linux.timeOffsets = offs), "linux.timeOffsets", /requires a time namespace/);
    const withTime = (o: unknown, path?: string) => (s: Record<string, any>) => {
      s.linux.namespaces.push(path ? { type: "time", path } : { type: "time" });
      s.linux.timeOffsets = o;
    };
    expect(problems(withTime(offs))).toEqual([]);
    expectProblem(withTime(offs, "/proc/1/ns/time"), "linux.timeOffsets", /joining an existing time namespace/);
    expectProblem(withTime({ realtime: { secs: 1 } }), "linux.timeOffsets.realtime", /unknown clock "realtime"/);
    expectProblem(withTime({ monotonic: { nanosecs: 1e9 } }), "linux.timeOffsets.monotonic.nanosecs", /0 to 999999999/);
  });

  test("personality, intelRdt, memoryPolicy, netDevices", () => {
    expect(problems((s) => (s.linux.personality = { domain: "LINUX32" }))).toEqual([]);
    expectProblem((s) => (s.linux.personality = { domain: "LINUX64" }), "linux.personality.domain", /unknown domain "LINUX64"/);
    expectProblem((s) => (s.linux.personality = {}), "linux.personality.domain", "is required");
    expectProblem((s) => (s.linux.intelRdt = { closID: "../x" }), "linux.intelRdt.closID", /invalid class of service/);
    expectProblem((s) => (s.linux.intelRdt = { memBwSchema: "L3:0=1" }), "linux.intelRdt.memBwSchema", /must start with "MB:"/);
    expect(problems((s) => (s.linux.memoryPolicy = { mode: "MPOL_BIND", nodes: "0-1", flags: ["MPOL_F_STATIC_NODES"] }))).toEqual([]);
    expectProblem((s) => (s.linux.memoryPolicy = { mode: "MPOL_BIND" }), "linux.memoryPolicy.nodes", /at least one node/);
    expectProblem((s) => (s.linux.memoryPolicy = { mode: "MPOL_LOCAL", nodes: "1" }), "linux.memoryPolicy.nodes", /must be empty/);
    expectProblem((s) => (s.linux.memoryPolicy = { mode: "MPOL_X" }), "linux.memoryPolicy.mode", /unknown mode/);
    expect(problems((s) => (s.linux.netDevices = { eth1: { name: "net0" } }))).toEqual([]);
    expectProblem((s) => (s.linux.netDevices = { "a/b": {} }), "linux.netDevices", /invalid network device name "a\/b"/);
  });

  test("annotations", () => {
    expect(problems((s) => (s.annotations = { "org.example.key": "", x: "y" }))).toEqual([]);
    expectProblem((s) => (s.annotations = { "org.example.key": 1 }), 'annotations["org.example.key"]', "must be a string");
    expectProblem((s) => (s.annotations = { "": "x" }), "annotations", "keys must not be empty");
    expectProblem((s) => (s.annotations = ["x"]), "annotations", "must be an object");
  });
});

describe("namespace helpers", () => {
  test("findNamespace and isNewNamespace", () => {
    const s = base() as Spec;
    s.linux!.namespaces!.push({ type: "user", path: "/proc/1/ns/user" });
    expect(findNamespace(s, "pid")).toEqual({ type: "pid" });
    expect(findNamespace(s, "time")).toBeUndefined();
    expect(isNewNamespace(s, "pid")).toBe(true);
    expect(isNewNamespace(s, "user")).toBe(false);
    expect(isNewNamespace(s, "cgroup")).toBe(false);
  });
});
