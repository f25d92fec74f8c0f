/**
 * berth-runtime against the real kernel (root): every feature is checked from
 * inside a busybox container, and bad input must leave nothing behind.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync, mkdirSync, symlinkSync, cpSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { RuntimeCli, makeBundle, uniqueId, isRoot, mountsUnder, processesMatching, waitFor, ROOTFS, ensureRootfs } from "./harness.ts";

const d = isRoot ? describe : describe.skip;
let rt: RuntimeCli;
beforeAll(() => {
  if (isRoot) rt = new RuntimeCli();
});
afterAll(() => rt?.cleanup());

function runIn(args: string[], edit?: Parameters<typeof makeBundle>[1]) {
  const b = makeBundle(args, edit);
  try {
    return rt.runBundle(b);
  } finally {
    b.cleanup();
  }
}
const sh = (script: string, edit?: Parameters<typeof makeBundle>[1]) => runIn(["sh", "-c", script], edit);

d("inside the container", () => {
  test("hostname, pid 1 and a private pid namespace", () => {
    const r = sh("hostname; echo $$; ls /proc | grep -c '^[0-9]'", (s) => (s.hostname = "box-1"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [host, pid, nprocs] = r.stdout.trim().split("\n");
    expect(host).toBe("box-1");
    expect(pid).toBe("1");
    // sh, ls and grep at most: host processes are invisible
    expect(Number(nprocs)).toBeLessThanOrEqual(3);
  });

  test("exit status of the container process is the runtime's", () => {
    expect(sh("exit 7").code).toBe(7);
  });

  test("capabilities: exactly the configured sets; no_new_privs", () => {
    const r = sh("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status");
    expect(r.code).toBe(0);
    const f = Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split(/:\s+/)));
    // runc spec defaults: CAP_AUDIT_WRITE(29) CAP_KILL(5) CAP_NET_BIND_SERVICE(10)
    const want = ((1n << 29n) | (1n << 5n) | (1n << 10n)).toString(16).padStart(16, "0");
    expect(f.CapBnd).toBe(want);
    expect(f.CapEff).toBe(want);
    expect(f.CapPrm).toBe(want);
    expect(f.CapInh).toBe("0000000000000000");
    expect(f.NoNewPrivs).toBe("1");
  });

  test("user, group and supplementary groups", () => {
    const r = sh("id -u; id -g; id -G", (s) => (s.process!.user = { uid: 1000, gid: 1000, additionalGids: [10, 20] }));
    expect(r.stdout.trim().split("\n")).toEqual(["1000", "1000", "1000 10 20"]);
  });

  test("mounts: proc, tmpfs /dev with device nodes, read-only root", () => {
    const r = sh("cat /proc/self/mountinfo; ls -l /dev/null /dev/zero /dev/urandom; touch /x 2>&1; echo rc=$?");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    const mi = lines.filter((l) => l.includes(" - "));
    const at = (mp: string) => mi.find((l) => l.split(" ")[4] === mp);
    expect(at("/")).toContain(" ro,");
    expect(at("/proc")).toMatch(/ - proc /);
    expect(at("/dev")).toMatch(/ - tmpfs /);
    expect(at("/dev/pts")).toMatch(/ - devpts /);
    expect(at("/sys")).toMatch(/ - sysfs /);
    // the host's mounts are not there
    expect(mi.some((l) => l.split(" ")[4]?.startsWith("/work"))).toBe(false);
    expect(r.stdout).toMatch(/crw-rw-rw-\s+1 root\s+root\s+1,\s+3 .* \/dev\/null/);
    expect(r.stdout).toContain("Read-only file system");
  });

  test("masked and read-only paths", () => {
    const r = sh("stat -c %t,%T /proc/timer_list; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname 2>&1; echo rc=$?", (s) => {
      s.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
      s.process!.capabilities!.effective!.push("CAP_SYS_ADMIN");
      s.process!.capabilities!.permitted!.push("CAP_SYS_ADMIN");
    });
    const out = r.stdout.trim().split("\n");
    expect(out[0]).toBe("1,3"); // /dev/null bound over /proc/timer_list
    expect(out[1]).toBe("0"); // empty read-only tmpfs over /proc/acpi
    // even with CAP_SYS_ADMIN, /proc/sys is read-only
    expect(out[2]).toBe("rc=1");
    expect(r.stderr).toContain("Read-only file system");
  });

  test("rlimits", () => {
    const r = sh("ulimit -n; ulimit -Hn", (s) => (s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 123, hard: 456 }]));
    expect(r.stdout.trim().split("\n")).toEqual(["123", "456"]);
  });

  test("sysctl, umask, cwd, env, domainname", () => {
    const r = sh("cat /proc/sys/net/ipv4/ip_forward; umask; pwd; echo $FOO; cat /proc/sys/kernel/domainname", (s) => {
      s.linux!.sysctl = { "net.ipv4.ip_forward": "1" };
      s.process!.user.umask = 0o077;
      s.process!.cwd = "/tmp";
      s.process!.env!.push("FOO=bar baz");
      s.domainname = "example.org";
    });
    expect(r.stdout.trim().split("\n")).toEqual(["1", "0077", "/tmp", "bar baz", "example.org"]);
  });

  test("seccomp: a denied syscall fails with the configured errno", () => {
    const r = sh("mkdir /tmp/x; echo rc=$?; echo still-running", (s) => {
      s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"] });
      s.linux!.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }],
      };
    });
    expect(r.stdout).toContain("rc=1");
    expect(r.stderr + r.stdout).toContain("Permission denied");
    expect(r.stdout).toContain("still-running");
  });

  test("the host's files are invisible", () => {
    const marker = join(tmpdir(), `berth-host-marker-${process.pid}`);
    writeFileSync(marker, "secret");
    try {
      const r = sh(`cat ${marker} 2>&1; ls /; cat /etc/hostname`);
      expect(r.stdout).not.toContain("secret");
      expect(r.stdout).toContain("No such file");
      expect(r.stdout).not.toContain("node_modules");
    } finally {
      rmSync(marker);
    }
  });
});

d("lifecycle", () => {
  test("create, state, start, kill, delete; pid file; list", async () => {
    const b = makeBundle(["sleep", "1000"]);
    const id = uniqueId("life");
    const pidFile = join(b.dir, "pid");
    try {
      rt.ok(["create", "--bundle", b.dir, "--pid-file", pidFile, id]);
      const created = rt.state(id);
      expect(created.status).toBe("created");
      expect(created.ociVersion).toBe("1.2.0");
      expect(created.bundle).toBe(b.dir);
      expect(Number(readFileSync(pidFile, "utf8"))).toBe(created.pid);
      // the process waits in the container, not yet running sleep
      expect(readFileSync(`/proc/${created.pid}/cmdline`, "utf8")).not.toContain("sleep");
      expect(rt.run(["start", id]).code).toBe(0);
      expect(await waitFor(() => readFileSync(`/proc/${created.pid}/cmdline`, "utf8").startsWith("sleep"))).toBe(true);
      expect(rt.state(id).status).toBe("running");
      expect(rt.run(["start", id]).code).not.toBe(0); // not twice

      const table = rt.ok(["list"]);
      expect(table.split("\n")[0]).toMatch(/^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
      expect(table).toMatch(new RegExp(`^${id}\\s+${created.pid}\\s+running\\s+${b.dir}\\s+\\S+\\s+root$`, "m"));
      const json = JSON.parse(rt.ok(["list", "--format", "json"]));
      expect(json.find((c: { id: string }) => c.id === id)).toMatchObject({ id, pid: created.pid, status: "running", owner: "root" });
      expect(rt.ok(["list", "-q"]).split("\n")).toContain(id);

      const del = rt.run(["delete", id]);
      expect(del.code).not.toBe(0); // running: refuse without --force
      expect(del.stderr).toContain("running");
      rt.ok(["kill", id, "KILL"]);
      expect(await waitFor(() => rt.state(id).status === "stopped")).toBe(true);
      expect(rt.state(id).pid).toBe(0);
      rt.ok(["delete", id]);
      expect(rt.run(["state", id]).code).not.toBe(0);
      expect(existsSync(join(rt.root, id))).toBe(false);
    } finally {
      b.cleanup();
    }
  });

  test("kill --all and signal names/numbers", async () => {
    // a sleep length no other test or engineer uses, so processesMatching sees only ours
    const secs = String(100_000 + (process.pid % 50_000));
    const b = makeBundle(["sh", "-c", `sleep ${secs} & sleep ${secs} & wait`]);
    const id = uniqueId("killall");
    try {
      rt.ok(["run", "--detach", "--bundle", b.dir, id]);
      const pid = rt.state(id).pid;
      expect(await waitFor(() => processesMatching(`sleep\u0000${secs}`).length >= 2)).toBe(true);
      expect(rt.run(["kill", id, "SIGBOGUS"]).code).not.toBe(0);
      rt.ok(["kill", "--all", id, "9"]);
      expect(await waitFor(() => rt.state(id).status === "stopped")).toBe(true);
      expect(processesMatching(`sleep\u0000${secs}`)).toEqual([]);
      void pid;
      rt.ok(["delete", id]);
    } finally {
      b.cleanup();
    }
  });

  test("delete --force of a running container kills it and cleans up", async () => {
    const b = makeBundle(["sleep", "1000"], (s) => (s.linux!.resources = { pids: { limit: 10 } }));
    const id = uniqueId("force");
    try {
      rt.ok(["run", "-d", "--bundle", b.dir, id]);
      const pid = rt.state(id).pid;
      rt.ok(["delete", "--force", id]);
      expect(await waitFor(() => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"))).toBe(true);
      expect(rt.run(["state", id]).code).not.toBe(0);
      expect(processesMatching(id)).toEqual([]);
    } finally {
      b.cleanup();
    }
  });

  test("cgroup limits are visible from the host and removed on delete", () => {
    const b = makeBundle(["sleep", "1000"], (s) => {
      s.linux!.cgroupsPath = `/berth-test/${process.pid}-cg`;
      s.linux!.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 42 }, cpu: { shares: 512 } };
    });
    const id = uniqueId("cg");
    try {
      rt.ok(["run", "-d", "--bundle", b.dir, id]);
      const pid = rt.state(id).pid;
      const base = `/berth-test/${process.pid}-cg`;
      const v1 = existsSync("/sys/fs/cgroup/memory/cgroup.procs");
      if (v1) {
        expect(readFileSync(`/sys/fs/cgroup/memory${base}/memory.limit_in_bytes`, "utf8").trim()).toBe(String(64 * 1024 * 1024));
        expect(readFileSync(`/sys/fs/cgroup/pids${base}/pids.max`, "utf8").trim()).toBe("42");
        const cpu = existsSync("/sys/fs/cgroup/cpu,cpuacct") ? "cpu,cpuacct" : "cpu";
        expect(readFileSync(`/sys/fs/cgroup/${cpu}${base}/cpu.shares`, "utf8").trim()).toBe("512");
        expect(readFileSync(`/sys/fs/cgroup/memory${base}/cgroup.procs`, "utf8").trim().split("\n")).toContain(String(pid));
      } else {
        expect(readFileSync(`/sys/fs/cgroup${base}/memory.max`, "utf8").trim()).toBe(String(64 * 1024 * 1024));
      }
      rt.ok(["delete", "--force", id]);
      expect(existsSync(`/sys/fs/cgroup/memory${base}`) || existsSync(`/sys/fs/cgroup${base}`)).toBe(false);
    } finally {
      b.cleanup();
    }
  });
});

d("bad input changes nothing", () => {
  function expectNothingLeft(id: string, marker: string) {
    expect(existsSync(join(rt.root, id))).toBe(false);
    expect(processesMatching(marker)).toEqual([]);
    expect(mountsUnder(ROOTFS + "/")).toEqual([]);
  }

  test("malformed config.json", () => {
    const b = makeBundle(["true"]);
    try {
      writeFileSync(join(b.dir, "config.json"), '{"ociVersion": "1.2.0", "process": ');
      const id = uniqueId("bad");
      const r = rt.run(["create", "--bundle", b.dir, id]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("config.json");
      expectNothingLeft(id, id);
    } finally {
      b.cleanup();
    }
  });

  test("invalid field is named", () => {
    const b = makeBundle(["true"], (s) => ((s.process as { cwd: unknown }).cwd = "relative/dir"));
    try {
      const id = uniqueId("bad");
      const r = rt.run(["create", "--bundle", b.dir, id]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("process.cwd");
      expectNothingLeft(id, id);
    } finally {
      b.cleanup();
    }
  });

  test("missing rootfs", () => {
    const b = makeBundle(["true"], (s) => (s.root = { path: "/nonexistent/rootfs" }));
    try {
      const id = uniqueId("bad");
      const r = rt.run(["create", "--bundle", b.dir, id]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("/nonexistent/rootfs");
      expectNothingLeft(id, id);
    } finally {
      b.cleanup();
    }
  });

  test("duplicate id leaves the first container alone", () => {
    const b = makeBundle(["sleep", "1000"]);
    const id = uniqueId("dup");
    try {
      rt.ok(["create", "--bundle", b.dir, id]);
      const before = rt.state(id);
      const r = rt.run(["create", "--bundle", b.dir, id]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("already exists");
      expect(rt.state(id)).toEqual(before);
      rt.ok(["delete", "--force", id]);
    } finally {
      b.cleanup();
    }
  });

  test("unknown id", () => {
    for (const verb of [["state"], ["start"], ["kill"], ["delete"]]) {
      const r = rt.run([...verb, "no-such-container"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("does not exist");
    }
  });

  test("bad flag and unknown command", () => {
    expect(rt.run(["create", "--bogus", "x"]).stderr).toContain("bogus");
    expect(rt.run(["frobnicate"]).code).not.toBe(0);
  });

  test("impossible limits: hard rlimit above the host's, unusable cpuset, missing executable", () => {
    const cases: Array<[Parameters<typeof makeBundle>[1], string]> = [
      [(s) => (s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 1 << 30 }]), "rlimit"],
      [(s) => (s.linux!.resources = { cpu: { cpus: "0-999" } }), "cpus"],
      [(s) => (s.process!.args = ["/no/such/binary"]), "/no/such/binary"],
    ];
    for (const [edit, word] of cases) {
      const id = uniqueId("impossible");
      const b = makeBundle(["sleep", "1000"], (s) => {
        s.linux!.cgroupsPath = `/berth-test/${id}`;
        edit!(s);
      });
      try {
        const r = rt.run(["create", "--bundle", b.dir, id]);
        expect(r.code).not.toBe(0);
        expect(r.stderr.toLowerCase()).toContain(word);
        expectNothingLeft(id, id);
        expect(existsSync(`/sys/fs/cgroup/memory/berth-test/${id}`)).toBe(false);
        expect(existsSync(`/sys/fs/cgroup/pids/berth-test/${id}`)).toBe(false);
      } finally {
        b.cleanup();
      }
    }
  });
});

d("escapes", () => {
  test("a mount destination through a symlink stays inside the rootfs", () => {
    ensureRootfs();
    const work = mkdtempSync(join(tmpdir(), "berth-escape-"));
    const rootfs = join(work, "rootfs");
    cpSync(ROOTFS, rootfs, { recursive: true, verbatimSymlinks: true });
    symlinkSync("/etc", join(rootfs, "abs-link"));
    symlinkSync("../../../../../../etc", join(rootfs, "rel-link"));
    mkdirSync(join(work, "src"));
    writeFileSync(join(work, "src", "passwd"), "pwned\n");
    const hostPasswd = readFileSync("/etc/passwd", "utf8");
    try {
      const r = sh("cat /etc/passwd | head -1; cat /abs-link/passwd | head -1", (s) => {
        s.root = { path: rootfs, readonly: false };
        s.mounts!.push({ destination: "/abs-link/passwd", type: "bind", source: join(work, "src", "passwd"), options: ["bind"] });
        s.mounts!.push({ destination: "/rel-link/group", type: "bind", source: join(work, "src", "passwd"), options: ["bind"] });
      });
      expect(r.code).toBe(0);
      // the bind landed on the rootfs's /etc/passwd, not the host's
      expect(r.stdout.trim().split("\n")).toEqual(["pwned", "pwned"]);
      expect(readFileSync("/etc/passwd", "utf8")).toBe(hostPasswd);
      expect(mountsUnder("/etc")).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

d("network namespace", () => {
  test("a new network namespace has its loopback up and nothing else", () => {
    const r = sh("cat /sys/class/net/lo/operstate /sys/class/net/lo/flags; ls /sys/class/net");
    const [, flags, ...ifaces] = r.stdout.trim().split("\n");
    expect(Number(flags) & 1).toBe(1); // IFF_UP
    expect(ifaces).toEqual(["lo"]);
  });
});
