/**
 * `berth-runtime exec` against the real kernel (root): the new process is in
 * every namespace and the cgroup of the container, gets the configured process
 * attributes (or runc's flags over them), reports its status like runc, and bad
 * requests fail clearly without leaving anything behind.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { existsSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { RuntimeCli, isRoot, makeBundle, processesMatching, uniqueId, waitFor, ROOTFS } from "./harness.ts";
import { copyTree, startContainer, spawnRuntime, type Running } from "./exec-helpers.ts";
import { Runtime } from "../../src/runtime/container.ts";
import { compileExecPlan } from "../../src/runtime/plan/compile-exec.ts";
import { launch } from "../../src/runtime/launch.ts";

const d = isRoot ? describe : describe.skip;
let rt: RuntimeCli;
let box: Running;
beforeAll(() => {
  if (!isRoot) return;
  rt = new RuntimeCli();
  box = startContainer(rt, (s) => {
    s.hostname = "exec-box";
    s.process!.user = { uid: 1000, gid: 1000, additionalGids: [10] };
    s.process!.env = ["PATH=/bin", "FROM_CONFIG=1"];
    s.process!.cwd = "/tmp";
    s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 123, hard: 456 }];
    s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1777"] });
    s.linux!.cgroupsPath = `/berth-test/${process.pid}-exec`;
    s.linux!.seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }],
    };
  });
});
afterAll(() => {
  box?.cleanup();
  rt?.cleanup();
});

const exec = (args: string[]) => rt.run(["exec", ...args]);
const sh = (script: string, flags: string[] = []) => exec([...flags, box.id, "sh", "-c", script]);
const lines = (s: string) => s.trim().split("\n");

d("exec joins the container", () => {
  test("every namespace of the init, its pid namespace and its cgroup", () => {
    const kinds = ["pid", "mnt", "net", "ipc", "uts", "cgroup", "user"];
    const r = sh(`hostname; echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; for n in ${kinds.join(" ")}; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe("exec-box");
    expect(Number(out[1])).toBeGreaterThan(1); // not the init, but in its pid namespace
    expect(out[2]!.trim()).toBe("sleep 1000");
    const want = kinds.map((n) => readlinkSync(`/proc/${box.pid}/ns/${n}`));
    expect(out.slice(3, 3 + kinds.length)).toEqual(want);
    // same cgroup as the init in every hierarchy
    const initCg = readFileSync(`/proc/${box.pid}/cgroup`, "utf8").trim().split("\n").sort();
    expect(out.slice(3 + kinds.length).sort()).toEqual(initCg);
    expect(initCg.join("\n")).toContain(`/berth-test/${process.pid}-exec`);
  });

  test("the container's process attributes: user, groups, env, cwd, rlimits, capabilities, no_new_privs, seccomp", () => {
    const r = sh("id -u; id -g; id -G; echo $FROM_CONFIG; pwd; ulimit -n; ulimit -Hn; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; mkdir /tmp/x 2>&1; echo mkdir=$?");
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out.slice(0, 7)).toEqual(["1000", "1000", "1000 10", "1", "/tmp", "123", "456"]);
    const caps = ((1n << 29n) | (1n << 5n) | (1n << 10n)).toString(16).padStart(16, "0");
    expect(out).toContain(`CapBnd:\t${caps}`);
    expect(out).toContain("CapEff:\t0000000000000000"); // uid 1000 without ambient: effective is empty
    expect(out).toContain("NoNewPrivs:\t1");
    // the container's seccomp filter: mkdir gets EACCES
    expect(r.stdout).toContain("Permission denied");
    expect(out.at(-1)).toBe("mkdir=1");
  });

  test("no host fd reaches the process", async () => {
    // seen from the host: a detached process has exactly its stdio
    const dir = mkdtempSync(join(tmpdir(), "berth-fd-"));
    try {
      rt.ok(["exec", "-d", "--pid-file", join(dir, "pid"), box.id, "sleep", "4241"]);
      const pid = Number(readFileSync(join(dir, "pid"), "utf8"));
      expect(await waitFor(() => readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep"))).toBe(true);
      expect(readdirSync(`/proc/${pid}/fd`).sort()).toEqual(["0", "1", "2"]);
      process.kill(pid, 9);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

d("runc's flags", () => {
  test("--env, --cwd, --user, --additional-gids, --cap, --no-new-privs", () => {
    const r = sh("echo $A $FROM_CONFIG; pwd; id -u; id -g; id -G; grep -E '^(CapEff|CapBnd)' /proc/self/status", [
      "-e", "A=from flag", "--cwd", "/proc", "-u", "0:7", "-g", "20", "--additional-gids", "30", "--cap", "CAP_SYS_PTRACE", "-c", "CAP_CHOWN",
    ]);
    expect(r.stderr).toBe("");
    const out = lines(r.stdout);
    expect(out.slice(0, 5)).toEqual(["from flag 1", "/proc", "0", "7", "7 10 20 30"]);
    const caps = ((1n << 29n) | (1n << 5n) | (1n << 10n) | (1n << 19n) | (1n << 0n)).toString(16).padStart(16, "0");
    expect(out).toContain(`CapBnd:\t${caps}`);
    expect(out).toContain(`CapEff:\t${caps}`); // uid 0 keeps its permitted set
  });

  test("the command's own flags are not ours", () => {
    const r = exec([box.id, "sh", "-c", "printf '%s %s' \"$0\" \"$1\"", "-e", "--cwd"]);
    expect(r.stdout.trim()).toBe("-e --cwd");
  });

  test("--process process.json replaces the config's process", () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-proc-"));
    try {
      const file = join(dir, "process.json");
      writeFileSync(file, JSON.stringify({ args: ["sh", "-c", "id -u; pwd; echo $P"], env: ["P=json"], cwd: "/", user: { uid: 42, gid: 43 } }));
      const r = exec(["--process", file, box.id]);
      expect(r.code).toBe(0);
      expect(lines(r.stdout)).toEqual(["42", "/", "json"]);
      writeFileSync(file, JSON.stringify({ args: ["true"], cwd: "relative", user: { uid: 0, gid: 0 } }));
      const bad = exec(["-p", file, box.id]);
      expect(bad.code).toBe(255);
      expect(bad.stderr).toContain("cwd");
      expect(exec(["-p", file, box.id, "true"]).stderr).toContain("not both");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--preserve-fds passes the caller's fds 3.. to the process, and nothing else", async () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-fds-"));
    const file = join(dir, "in");
    writeFileSync(file, "through fd 3\n");
    const fd = openSync(file, "r");
    try {
      const r = await spawnRuntime(rt, ["exec", "--preserve-fds", "1", box.id, "sh", "-c", "cat <&3"], { extraFds: [fd] }).done();
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("through fd 3\n");
      const pidFile = join(dir, "pid");
      await spawnRuntime(rt, ["exec", "-d", "--pid-file", pidFile, "--preserve-fds", "1", box.id, "sleep", "4240"], { extraFds: [fd] }).done();
      const pid = Number(readFileSync(pidFile, "utf8"));
      expect(await waitFor(() => readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep"))).toBe(true);
      expect(readdirSync(`/proc/${pid}/fd`).sort()).toEqual(["0", "1", "2", "3"]);
      expect(readlinkSync(`/proc/${pid}/fd/3`)).toBe(file);
      process.kill(pid, 9);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--detach prints nothing and returns; --pid-file names the running process", async () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-pid-"));
    const pidFile = join(dir, "pid");
    try {
      const r = exec(["-d", "--pid-file", pidFile, box.id, "sleep", "999"]);
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).toBe("");
      const pid = Number(readFileSync(pidFile, "utf8"));
      expect(await waitFor(() => readFileSync(`/proc/${pid}/cmdline`, "utf8") === "sleep\u0000999\u0000")).toBe(true);
      // in the container's cgroup, with no berth-init waiting for it
      expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toContain(`/berth-test/${process.pid}-exec`);
      expect(processesMatching("sleep\u0000999").filter((p) => readFileSync(`/proc/${p}/comm`, "utf8").trim() === "berth-init")).toEqual([]);
      process.kill(pid, 9);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

d("exit status and signals", () => {
  test("the process's status; 128+n when killed by signal n", () => {
    expect(sh("exit 7").code).toBe(7);
    expect(sh("kill -TERM $$").code).toBe(128 + 15);
    expect(sh("kill -KILL $$").code).toBe(128 + 9);
  });

  test("signals to the runtime are forwarded to the process", async () => {
    const p = spawnRuntime(rt, ["exec", box.id, "sh", "-c", "trap 'echo got-TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done"]);
    try {
      expect(await waitFor(() => p.stdout().includes("ready"), 20_000)).toBe(true);
      p.proc.kill("SIGTERM");
      const r = await p.done();
      expect(r.stdout).toContain("got-TERM");
      expect(r.code).toBe(3);
    } finally {
      p.proc.kill(9);
    }
  });
});

d("exec refuses and leaves nothing behind", () => {
  test("a stopped container, an unknown one, no command", async () => {
    const dead = startContainer(rt, (s) => (s.process!.args = ["true"]), "dead");
    try {
      expect(await waitFor(() => rt.state(dead.id).status === "stopped")).toBe(true);
      const r = exec([dead.id, "true"]);
      expect(r.code).toBe(255);
      expect(r.stderr).toContain("stopped");
    } finally {
      dead.cleanup();
    }
    const unknown = exec(["no-such-container", "true"]);
    expect(unknown.code).toBe(255);
    expect(unknown.stderr).toContain("does not exist");
    expect(exec([box.id]).stderr).toContain("command is required");
  });

  test("bad flags and requests are named", () => {
    const cases: Array<[string[], string]> = [
      [["-u", "root", box.id, "true"], "--user"],
      [["-g", "-1", box.id, "true"], "--additional-gids"],
      [["--cap", "CAP_BOGUS", box.id, "true"], "CAP_BOGUS"],
      [["-e", "NOEQUALS", box.id, "true"], "--env"],
      [["--cwd", "rel", box.id, "true"], "--cwd"],
      [[box.id, "/no/such/binary"], "/no/such/binary"],
      [["--cwd", "/no/such/dir", box.id, "true"], "/no/such/dir"],
      // no AppArmor or SELinux on this machine: asking for a profile is an error, not a no-op
      [["--apparmor", "berth-test", box.id, "true"], "AppArmor is not enabled"],
      [["--process-label", "system_u:system_r:container_t:s0", box.id, "true"], "SELinux is not enabled"],
      [["-t", "-d", box.id, "true"], "console-socket"],
      [["--console-socket", "/tmp/x.sock", box.id, "true"], "--detach"],
    ];
    for (const [args, word] of cases) {
      const r = exec(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(word);
    }
    expect(rt.run(["exec", "--bogus", box.id, "true"]).code).toBe(2);
    // nothing stayed: no process but the init in the container
    const r = sh("ls /proc | grep -c '^[0-9]'");
    expect(Number(r.stdout.trim())).toBeLessThanOrEqual(4); // sleep (init), sh, ls, grep
  });

  test("a created (not yet started) container can be exec'd into, as with runc", () => {
    const b = makeBundle(["sleep", "1000"]);
    const id = uniqueId("created");
    try {
      rt.ok(["create", "--bundle", b.dir, id]);
      expect(rt.state(id).status).toBe("created");
      const r = exec([id, "sh", "-c", "cat /proc/1/cmdline"]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain("sleep"); // the init still waits for `start`
      expect(rt.state(id).status).toBe("created");
    } finally {
      rt.run(["delete", "--force", id]);
      b.cleanup();
    }
  });
});

test.skipIf(!isRoot)("a container without a mount namespace of its own: the process is chrooted to its rootfs", () => {
  // its mounts are made in our namespace: on a private copy of the rootfs, not the shared one
  const work = mkdtempSync(join(tmpdir(), "berth-nomnt-"));
  copyTree(ROOTFS, join(work, "rootfs"));
  const b = startContainer(rt, (s) => {
    s.root = { path: join(work, "rootfs"), readonly: false };
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "mount");
    s.linux!.maskedPaths = [];
    s.linux!.readonlyPaths = [];
    s.mounts = s.mounts!.filter((m) => m.destination === "/proc");
  }, "nomnt");
  try {
    const r = rt.run(["exec", b.id, "sh", "-c", "ls -a / | grep -c berth-rootfs; ls /work 2>&1; readlink /proc/self/ns/pid"]);
    expect(r.code).toBe(0);
    const [marker, work, pidns] = r.stdout.trim().split("\n");
    expect(marker).toBe("1"); // the busybox tree's marker file is at /
    expect(work).toContain("No such file"); // the host's tree is not
    expect(pidns).toBe(readlinkSync(`/proc/${b.pid}/ns/pid`));
  } finally {
    b.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
});

test.skipIf(!isRoot)("a pid that is no longer the container's init (start time differs) is never joined", async () => {
  const rec = new Runtime(rt.root).store.load(box.id);
  const plan = compileExecPlan({ spec: rec.config, process: { ...rec.config.process!, args: ["true"] }, init: { pid: rec.pid, startTime: "1" }, stay: true });
  let err = "";
  try {
    await launch({ plan, onSync: () => {} });
  } catch (e) {
    err = (e as Error).message;
  }
  expect(err).toContain(`join container init ${rec.pid}: it is gone (pid reused)`);
});

test.skipIf(!isRoot)("exec'd processes are gone with the container", () => {
  const b = startContainer(rt, () => {}, "gone");
  rt.ok(["exec", "-d", b.id, "sleep", "4242"]);
  expect(processesMatching("sleep\u00004242").length).toBe(1);
  b.cleanup();
  expect(existsSync(join(rt.root, b.id))).toBe(false);
  expect(processesMatching("sleep\u00004242")).toEqual([]);
});
