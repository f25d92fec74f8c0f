/**
 * buildSpec's specs run for real: records built like the container service
 * builds them, on a private copy of the busybox rootfs, run with
 * bin/berth-runtime; checks look from inside the container. Includes the
 * break-out attempts a default container must fail.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSpec, DEFAULT_INIT_PATH } from "../../src/engine/containers/spec.ts";
import type { ContainerRecord, DockerConfig, HostConfig, ResolvedMount } from "../../src/engine/containers/model.ts";
import { stringifyJson } from "../../src/oci/json.ts";
import { capMask } from "../../src/oci/capabilities.ts";
import { DOCKER_DEFAULT_CAPABILITIES } from "../../src/runtime/seccomp/docker-default.ts";
import { ensureRootfs, isRoot, ROOTFS, RuntimeCli, uniqueId } from "./harness.ts";

const MB = 1024 * 1024;
const CG_PARENT = `berth-spec-test-${process.pid}`;
let work = "";
let rootfs = "";
let cli: RuntimeCli;

function record(cmd: string, config: DockerConfig = {}, hostConfig: HostConfig = {}, mounts: ResolvedMount[] = []): ContainerRecord {
  return {
    Id: "feedfacecafe".padEnd(64, "0"),
    Name: "spec-test",
    tenant: "default",
    Created: new Date().toISOString(),
    Image: "sha256:" + "0".repeat(64),
    ImageName: "busybox",
    Path: "/bin/sh",
    Args: ["-c", cmd],
    Config: { Env: [], ...config },
    HostConfig: hostConfig,
    State: { Status: "created", Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: "", StartedAt: "", FinishedAt: "" },
    RestartCount: 0,
    manuallyStopped: false,
    Mounts: mounts,
    NetworkSettings: { Ports: {}, Networks: {}, SandboxKey: "", IPAddress: "", IPPrefixLen: 0, Gateway: "", MacAddress: "" },
    HostnamePath: "",
    HostsPath: "",
    ResolvConfPath: "",
    LogPath: "",
    runtimeRoot: "",
    bundle: "",
    rootfs: "",
  };
}

/** Build the spec, write a bundle, run it in the foreground; stdout+stderr and the exit code. */
function run(r: ContainerRecord, opts: { rootfs?: string; initPath?: string } = {}) {
  const id = uniqueId("spec");
  const bundle = mkdtempSync(join(work, "bundle-"));
  const spec = buildSpec({ record: r, rootfs: opts.rootfs ?? rootfs, cgroupsPath: `/${CG_PARENT}/${id}`, initPath: opts.initPath });
  writeFileSync(join(bundle, "config.json"), stringifyJson(spec));
  const res = cli.run(["run", "--bundle", bundle, id]);
  cli.run(["delete", "--force", id]);
  rmSync(bundle, { recursive: true, force: true });
  return { code: res.code, out: res.stdout.trim(), err: res.stderr.trim() };
}

describe.skipIf(!isRoot)("container specs, run for real", () => {
  beforeAll(() => {
    ensureRootfs();
    work = mkdtempSync(join(tmpdir(), "berth-spec-it-"));
    rootfs = join(work, "rootfs");
    cpSync(ROOTFS, rootfs, { recursive: true, verbatimSymlinks: true });
    cli = new RuntimeCli();
  });
  afterAll(() => {
    cli?.cleanup();
    rmSync(work, { recursive: true, force: true });
    for (const c of ["memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "systemd", "unified"]) {
      const p = `/sys/fs/cgroup/${c}/${CG_PARENT}`;
      if (existsSync(p)) rmdirSync(p);
    }
  });

  test("default capabilities: docker's set, bounding and effective", () => {
    const r = run(record("grep -E '^Cap(Bnd|Eff|Prm|Inh|Amb)' /proc/self/status"));
    expect(r.code).toBe(0);
    const want = capMask(DOCKER_DEFAULT_CAPABILITIES).toString(16).padStart(16, "0");
    expect(r.out).toContain(`CapBnd:\t${want}`);
    expect(r.out).toContain(`CapEff:\t${want}`);
    expect(r.out).toContain("CapInh:\t0000000000000000");
    expect(r.out).toContain("CapAmb:\t0000000000000000");
  });

  test("CapAdd/CapDrop reach the process", () => {
    const r = run(record("grep CapBnd /proc/self/status", {}, { CapAdd: ["NET_ADMIN"], CapDrop: ["chown"] }));
    const want = capMask([...DOCKER_DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_CHOWN"), "CAP_NET_ADMIN"]).toString(16).padStart(16, "0");
    expect(r.out).toBe(`CapBnd:\t${want}`);
  });

  test("masked paths read empty; /proc/sys and /sys are read-only", () => {
    const script = [
      "echo keys=$(wc -c < /proc/keys) timer=$(wc -c < /proc/timer_list)",
      "echo 1 > /proc/sys/kernel/panic 2>/dev/null && echo procsys=writable || echo procsys=ro",
      "echo x > /sys/kernel/uevent_helper 2>/dev/null && echo sys=writable || echo sys=ro",
      "grep -E ' /proc/sys | /sys ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1",
    ].join("; ");
    const r = run(record(script));
    expect(r.code).toBe(0);
    expect(r.out).toContain("keys=0 timer=0");
    expect(r.out).toContain("procsys=ro");
    expect(r.out).toContain("sys=ro");
    expect(r.out).toContain("/sys ro");
    expect(r.out).toContain("/proc/sys ro");
  });

  test("ReadonlyRootfs", () => {
    expect(run(record("touch /newfile 2>&1 && echo wrote", {}, { ReadonlyRootfs: true })).out).toMatch(/Read-only file system/);
    const rw = run(record("touch /newfile && echo wrote && rm /newfile"));
    expect(rw.out).toBe("wrote");
  });

  test("Ulimits", () => {
    const r = run(record("echo $(ulimit -n) $(ulimit -Hn)", {}, { Ulimits: [{ Name: "nofile", Soft: 100, Hard: 200 }] }));
    expect(r.out).toBe("100 200");
  });

  test("memory and pids limits land in the container's cgroup", () => {
    const script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max";
    const r = run(record(script, {}, { Memory: 64 * MB, PidsLimit: 42 }));
    expect(r.code).toBe(0);
    expect(r.out.split("\n")).toEqual([String(64 * MB), "42"]);
  });

  test("User by name from the rootfs's passwd; GroupAdd; HOME", () => {
    const r = run(record("echo $(id -u) $(id -g) $(id -G) $HOME", { User: "berth" }, { GroupAdd: ["nogroup"] }));
    expect(r.out).toBe("1000 1000 1000 65534 /home/berth");
  });

  test("buildSpec refuses a user the rootfs does not have", () => {
    expect(() => buildSpec({ record: record("true", { User: "nosuchuser" }), rootfs, cgroupsPath: "/x" })).toThrow(
      "unable to find user nosuchuser: no matching entries in passwd file",
    );
  });

  test.skipIf(!existsSync(DEFAULT_INIT_PATH))("Init: tini is pid 1 and runs the command", () => {
    const r = run(record("echo $$; tr '\\0' ' ' < /proc/1/cmdline", {}, { Init: true }), { initPath: DEFAULT_INIT_PATH });
    expect(r.code).toBe(0);
    const [pid, cmdline] = r.out.split("\n");
    expect(Number(pid)).toBeGreaterThan(1);
    expect(cmdline!.trim()).toBe("/sbin/docker-init -- /bin/sh -c echo $$; tr '\\0' ' ' < /proc/1/cmdline");
  });

  test("a bind mount and a tmpfs from the record", () => {
    const hostDir = join(work, "shared");
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(join(hostDir, "f"), "from-host");
    const r = run(
      record("echo $(cat /data/f); touch /data/g 2>/dev/null && echo rw || echo ro; grep ' /scratch ' /proc/mounts | cut -d' ' -f3", {}, {}, [
        { Type: "bind", Source: hostDir, Destination: "/data", Mode: "ro", RW: false, Propagation: "" },
        { Type: "tmpfs", Source: "", Destination: "/scratch", Mode: "", RW: true, Propagation: "", Options: ["size=1m"] },
      ]),
    );
    expect(r.out.split("\n")).toEqual(["from-host", "ro", "tmpfs"]);
  });

  describe("break-out attempts from a default container", () => {
    test("cannot mount", () => {
      const r = run(record("mkdir -p /tmp/m; mount -t tmpfs none /tmp/m && echo mounted || echo refused"));
      expect(r.out).toContain("refused");
      expect(r.out).not.toContain("mounted");
    });

    test("cannot load a kernel module (no CAP_SYS_MODULE, init_module filtered)", () => {
      const r = run(record("grep CapBnd /proc/self/status; printf 'notelf' > /tmp/x.ko; insmod /tmp/x.ko 2>&1; echo rc=$?; rm /tmp/x.ko"));
      const bnd = BigInt("0x" + /CapBnd:\s*([0-9a-f]+)/.exec(r.out)![1]);
      expect((bnd >> 16n) & 1n).toBe(0n);
      expect(r.out).toContain("rc=1");
      expect(r.out).toMatch(/Operation not permitted/);
    });

    test("cannot see or open host devices", () => {
      const script = [
        "ls /dev | tr '\\n' ' '; echo",
        "mknod /tmp/mem c 1 1 && (head -c1 /tmp/mem >/dev/null 2>&1 && echo mem=open || echo mem=denied)",
        "mknod /tmp/disk b 8 0 2>/dev/null; (head -c1 /tmp/disk >/dev/null 2>&1 && echo disk=open || echo disk=denied)",
        "rm -f /tmp/mem /tmp/disk",
        "head -c1 /dev/zero | wc -c",
      ].join("; ");
      const r = run(record(script));
      const [devs = "", ...rest] = r.out.split("\n");
      for (const d of devs.trim().split(" ")) expect(["console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"]).toContain(d);
      expect(rest).toContain("mem=denied");
      expect(rest).toContain("disk=denied");
      expect(rest.at(-1)).toBe("1");
    });

    test("cannot write /proc/sysrq-trigger or see /proc/kcore's content", () => {
      const r = run(record("echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq=written || echo sysrq=refused; wc -c < /proc/kcore 2>/dev/null || echo kcore=absent"));
      expect(r.out).toContain("sysrq=refused");
      expect(r.out).toMatch(/kcore=absent|^0$/m);
    });

    test("a passwd symlinked to a host file is resolved inside the rootfs", () => {
      // The host file says evil is root; the file at the same path inside the rootfs says 1234.
      const evilHost = join(work, "evil-host");
      mkdirSync(evilHost, { recursive: true });
      writeFileSync(join(evilHost, "passwd"), "evil:x:0:0::/root:/bin/sh\n");
      const root2 = join(work, "rootfs-evil");
      cpSync(ROOTFS, root2, { recursive: true, verbatimSymlinks: true });
      mkdirSync(join(root2, evilHost), { recursive: true });
      writeFileSync(join(root2, evilHost, "passwd"), "evil:x:1234:1234::/:/bin/sh\n");
      for (const target of [join(evilHost, "passwd"), "../".repeat(12) + join(evilHost, "passwd").slice(1)]) {
        rmSync(join(root2, "etc", "passwd"), { force: true });
        symlinkSync(target, join(root2, "etc", "passwd"));
        const r = run(record("echo $(id -u) $(id -g)", { User: "evil" }), { rootfs: root2 });
        expect(r.out).toBe("1234 1234");
      }
      // Only the host has the file: the user is not found at all.
      rmSync(join(root2, evilHost), { recursive: true });
      expect(() => buildSpec({ record: record("true", { User: "evil" }), rootfs: root2, cgroupsPath: "/x" })).toThrow("unable to find user evil");
    });
  });

  test("privileged: every capability the host has, rw /sys, no seccomp", () => {
    const r = run(record("grep -E '^(CapBnd|Seccomp):' /proc/self/status; grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1", {}, { Privileged: true }));
    expect(r.out).toContain("Seccomp:\t0");
    expect(r.out).toMatch(/\nrw$/);
    const bnd = BigInt("0x" + /CapBnd:\s*([0-9a-f]+)/.exec(r.out)![1]);
    expect((bnd >> 21n) & 1n).toBe(1n); // CAP_SYS_ADMIN
  });
});
