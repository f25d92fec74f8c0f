import { describe, expect, test } from "bun:test";
import { validateCreate } from "../../src/engine/containers/validate-create.ts";
import type { CreateBody, HostConfig } from "../../src/engine/containers/model.ts";
import { BerthError } from "../../src/errors.ts";

const HOST = { cpus: 2 };
const MB = 1024 * 1024;

function rejects(body: unknown, message: string | RegExp) {
  let thrown: unknown;
  try {
    validateCreate(body as CreateBody, HOST);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(BerthError);
  expect((thrown as BerthError).code).toBe("InvalidArgument");
  if (typeof message === "string") expect((thrown as BerthError).message).toBe(message);
  else expect((thrown as BerthError).message).toMatch(message);
}
const hc = (h: HostConfig | Record<string, unknown>): CreateBody => ({ Image: "busybox", Cmd: ["true"], HostConfig: h as HostConfig });
const ok = (body: CreateBody) => expect(() => validateCreate(body, HOST)).not.toThrow();

describe("validateCreate: JSON shapes", () => {
  test("wrong types name the field", () => {
    rejects({ Cmd: "ls" }, "json: cannot unmarshal string into Go struct field Config.Cmd of type []string");
    rejects({ Tty: "yes" }, /Config\.Tty of type bool/);
    rejects(hc({ Memory: "1g" }), "json: cannot unmarshal string into Go struct field HostConfig.Memory of type int64");
    rejects(hc({ Memory: 1.5 }), /HostConfig\.Memory of type int64/);
    rejects(hc({ Privileged: 1 }), /HostConfig\.Privileged of type bool/);
    rejects(hc({ Sysctls: { "net.x": 1 } }), /HostConfig\.Sysctls of type map\[string\]string/);
    rejects(hc({ RestartPolicy: { Name: 3 } }), /HostConfig\.RestartPolicy\.Name of type string/);
    rejects(hc({ Ulimits: [{ Name: "nofile", Soft: "1", Hard: 2 }] }), /HostConfig\.Ulimits\[0\]\.Soft of type int64/);
    rejects({ Healthcheck: { Interval: "5s" } }, /Config\.Healthcheck\.Interval/);
    rejects("nope", /must be a JSON object/);
    rejects(hc({ ConsoleSize: [1] }), /ConsoleSize/);
  });
  test("null is accepted for every field (Go's zero value)", () => {
    ok({ Image: "x", Cmd: null, Env: null, HostConfig: { Memory: null, Binds: null } as unknown as HostConfig });
  });
  test("a plain body passes", () => ok(hc({ Memory: 64 * MB, NanoCpus: 5e8, RestartPolicy: { Name: "on-failure", MaximumRetryCount: 3 } })));
});

describe("validateCreate: resources", () => {
  test("memory", () => {
    rejects(hc({ Memory: 4 * MB }), "Minimum memory limit allowed is 6MB");
    rejects(hc({ Memory: 64 * MB, MemorySwap: 32 * MB }), "Minimum memoryswap limit should be larger than memory limit, see usage");
    rejects(hc({ MemorySwap: 64 * MB }), "You should always set the Memory limit when using Memoryswap limit, see usage");
    rejects(hc({ MemorySwappiness: 101 }), "Invalid value: 101, valid memory swappiness range is 0-100");
    rejects(hc({ MemoryReservation: MB }), "Minimum memory reservation allowed is 6MB");
    rejects(hc({ Memory: 16 * MB, MemoryReservation: 32 * MB }), "Minimum memory limit can not be less than memory reservation limit, see usage");
    ok(hc({ Memory: 64 * MB, MemorySwap: -1, MemorySwappiness: -1 }));
  });
  test("cpu", () => {
    rejects(hc({ NanoCpus: 1e9, CpuPeriod: 100000 }), "Conflicting options: Nano CPUs and CPU Period cannot both be set");
    rejects(hc({ NanoCpus: 1e9, CpuQuota: 50000 }), "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    rejects(hc({ NanoCpus: 3e9 }), "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
    rejects(hc({ CpuPeriod: 500 }), /CPU cfs period can not be less than 1ms/);
    rejects(hc({ CpuQuota: 10 }), "CPU cfs quota can not be less than 1ms (i.e. 1000)");
    rejects(hc({ CpusetCpus: "0-" }), "Invalid value 0- for cpuset cpus");
    rejects(hc({ CpusetCpus: "a" }), "Invalid value a for cpuset cpus");
    rejects(hc({ CpusetCpus: "3-1" }), /Invalid value 3-1/);
    rejects(hc({ CpusetCpus: "0,5" }), "Requested CPUs are not available - requested 0,5, available: 0-1");
    rejects(hc({ CpusetMems: "x" }), "Invalid value x for cpuset mems");
    ok(hc({ CpusetCpus: "0-1", CpusetMems: "0", CpuPeriod: 100000, CpuQuota: 50000, CpuShares: 512 }));
  });
  test("others", () => {
    rejects(hc({ BlkioWeight: 5 }), "Range of blkio weight is from 10 to 1000");
    rejects(hc({ OomScoreAdj: 1001 }), "Invalid value 1001, range for oom score adj is [-1000, 1000]");
    rejects(hc({ ShmSize: -1 }), "SHM size can not be less than 0");
  });
});

describe("validateCreate: restart policy", () => {
  test("rules", () => {
    rejects(hc({ RestartPolicy: { Name: "sometimes" } }), /^invalid restart policy: unknown policy 'sometimes'/);
    rejects(hc({ RestartPolicy: { Name: "on-failure", MaximumRetryCount: -1 } }), "invalid restart policy: maximum retry count cannot be negative");
    rejects(hc({ RestartPolicy: { Name: "always", MaximumRetryCount: 2 } }), "invalid restart policy: maximum retry count can only be used with 'on-failure'");
    rejects(hc({ AutoRemove: true, RestartPolicy: { Name: "always" } }), "can't create 'AutoRemove' container with restart policy");
    ok(hc({ AutoRemove: true, RestartPolicy: { Name: "no" } }));
    ok(hc({ RestartPolicy: { Name: "unless-stopped" } }));
  });
});

describe("validateCreate: security", () => {
  test("capabilities", () => {
    rejects(hc({ CapAdd: ["NET_FOO"] }), 'unknown capability: "NET_FOO"');
    rejects(hc({ CapDrop: ["CAP_BOGUS"] }), 'unknown capability: "CAP_BOGUS"');
    ok(hc({ CapAdd: ["net_admin", "CAP_SYS_PTRACE", "ALL"], CapDrop: ["all"] }));
  });
  test("security options", () => {
    rejects(hc({ SecurityOpt: ["bogus"] }), 'invalid --security-opt 1: "bogus"');
    rejects(hc({ SecurityOpt: ["foo=bar"] }), 'invalid --security-opt 2: "foo=bar"');
    rejects(hc({ SecurityOpt: ["no-new-privileges=maybe"] }), 'invalid --security-opt 2: "no-new-privileges=maybe"');
    rejects(hc({ SecurityOpt: ["apparmor=docker-default"] }), /AppArmor is not enabled on this host/);
    rejects(hc({ SecurityOpt: ["label=type:svirt_t"] }), /SELinux is not enabled on this host/);
    rejects(hc({ SecurityOpt: ["seccomp={not json"] }), /^decoding seccomp profile failed/);
    rejects(hc({ SecurityOpt: ['seccomp={"syscalls":[]}'] }), /defaultAction must be a string/);
    ok(hc({ SecurityOpt: ["no-new-privileges", "apparmor=unconfined", "label=disable", "seccomp=unconfined", "no-new-privileges:false"] }));
    ok(hc({ SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] }));
  });
  test("ulimits", () => {
    rejects(hc({ Ulimits: [{ Name: "files", Soft: 1, Hard: 1 }] }), "invalid ulimit type: files");
    rejects(hc({ Ulimits: [{ Name: "nofile", Soft: 20, Hard: 10 }] }), "ulimit soft limit must be less than or equal to hard limit: 20 > 10");
    ok(hc({ Ulimits: [{ Name: "nofile", Soft: 10, Hard: 20 }, { Name: "core", Soft: -1, Hard: -1 }] }));
  });
  test("sysctls follow the namespaces in use", () => {
    ok(hc({ Sysctls: { "net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "fs.mqueue.msg_max": "20" } }));
    rejects(hc({ Sysctls: { "vm.swappiness": "1" } }), 'sysctl "vm.swappiness" is not in a separate kernel namespace');
    rejects(hc({ Sysctls: { "kernel.panic": "1" } }), /is not in a separate kernel namespace/);
    rejects(hc({ NetworkMode: "host", Sysctls: { "net.ipv4.ip_forward": "1" } }), /not allowed in host network namespace/);
    rejects(hc({ IpcMode: "host", Sysctls: { "kernel.shmmax": "1" } }), /not allowed in the hosts ipc namespace/);
    rejects(hc({ Sysctls: { "kernel.hostname": "x" } }), /conflicts with the container's hostname/);
    ok(hc({ Sysctls: { "kernel.domainname": "example.com" } }));
  });
  test("devices", () => {
    rejects(hc({ DeviceCgroupRules: ["c 1:3"] }), "invalid device cgroup format 'c 1:3'");
    rejects(hc({ DeviceCgroupRules: ["x *:* rwm"] }), /invalid device cgroup format/);
    rejects(hc({ Devices: [{ PathOnHost: "dev/null" }] }), /not an absolute path/);
    rejects(hc({ Devices: [{ PathOnHost: "/dev/null", CgroupPermissions: "rwx" }] }), "invalid device mode: rwx");
    ok(hc({ DeviceCgroupRules: ["c 1:3 mr", "a *:* rwm", "b 8:* r"], Devices: [{ PathOnHost: "/dev/null", PathInContainer: "/dev/n", CgroupPermissions: "rw" }] }));
  });
  test("namespace modes", () => {
    rejects(hc({ PidMode: "container:abc" }), /not supported/);
    rejects(hc({ IpcMode: "weird" }), /invalid HostConfig.IpcMode/);
    ok(hc({ PidMode: "host", IpcMode: "shareable", UTSMode: "host", CgroupnsMode: "private" }));
  });
});

describe("validateCreate: names and paths", () => {
  test("hostname", () => {
    rejects({ ...hc({}), Hostname: "a".repeat(65) }, /invalid hostname format: a+: longer than 64 characters/);
    rejects({ ...hc({}), Hostname: "bad host" }, "invalid hostname format: bad host");
    rejects({ ...hc({}), Hostname: "-lead" }, /invalid hostname format/);
    rejects({ ...hc({ UTSMode: "host" }), Hostname: "x" }, "Conflicting options: hostname and the UTS mode");
    ok({ ...hc({}), Hostname: "web-1.example", Domainname: "example.com" });
  });
  test("tmpfs and bind destinations must be absolute", () => {
    rejects(hc({ Tmpfs: { run: "" } }), /invalid mount path: 'run' mount path must be absolute/);
    rejects(hc({ Tmpfs: { "/": "" } }), /destination can't be '\/'/);
    rejects(hc({ Binds: ["/host:relative"] }), /invalid mount path: 'relative' mount path must be absolute/);
    rejects(hc({ Binds: ["justone"] }), "invalid volume specification: 'justone'");
    rejects(hc({ Binds: ["/a:/b:ro:x"] }), /invalid volume specification/);
    ok(hc({ Tmpfs: { "/run": "size=1m" }, Binds: ["/host:/ctr:ro", "vol:/data"] }));
  });
});
