/**
 * Break-out attempts through exec (root), reproducing two runc CVEs:
 *
 * - CVE-2019-5736: a container process reaches the runtime binary while it
 *   enters the container (/proc/<pid>/exe, or by re-executing it from inside)
 *   and writes to it. berth-init runs from a sealed memfd copy and is
 *   non-dumpable until exec: the host's native/build/berth-init stays unchanged.
 *   (Non-dumpable is what stops a container root with all capabilities in its
 *   own user namespace: exec-userns.test.ts.)
 * - CVE-2024-21626: a host directory fd open in the runtime's child, used as
 *   the cwd (/proc/self/fd/N), puts the process outside the container.
 *
 * The attacker is held deterministically: the exec's own SETUP sync point (the
 * library's onSetup) runs the attack while berth-init waits in the container.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readlinkSync, rmSync, writeFileSync, writeSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { RuntimeCli, isRoot, makeBundle, uniqueId, REPO, ROOTFS, ensureRootfs, processesMatching } from "./harness.ts";
import { copyTree, startContainer, nsPid, waitFor, type Running } from "./exec-helpers.ts";
import { Runtime } from "../../src/runtime/container.ts";
import { execInContainer } from "../../src/runtime/exec.ts";
import { execProcess } from "../../src/runtime/exec-spec.ts";
import { compileExecPlan } from "../../src/runtime/plan/compile-exec.ts";
import { encodePlan, instr } from "../../src/runtime/plan/record.ts";
import { MSG } from "../../src/runtime/plan/opcodes.ts";
import { launch } from "../../src/runtime/launch.ts";

const d = isRoot ? describe : describe.skip;
const BINARY = join(REPO, "native", "build", "berth-init");
const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");

let rt: RuntimeCli;
let lib: Runtime;
let box: Running;
let shared: string;
beforeAll(() => {
  if (!isRoot) return;
  rt = new RuntimeCli();
  lib = new Runtime(rt.root);
  shared = mkdtempSync(join(tmpdir(), "berth-breakout-"));
  const rootfs = glibcRootfs(join(shared, "rootfs"));
  box = startContainer(rt, (s) => {
    s.root = { path: rootfs, readonly: true };
    s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1777"] });
    s.mounts!.push({ destination: "/shared", type: "bind", source: shared, options: ["rbind", "rw"] });
  }, "breakout");
});
afterAll(() => {
  box?.cleanup();
  rt?.cleanup();
  if (shared) rmSync(shared, { recursive: true, force: true });
});

/**
 * The busybox rootfs plus the C library berth-init is linked with: an image in
 * which the runtime binary, once reached, could actually run (as in most real
 * images), so re-executing it from inside is a real attack.
 */
function glibcRootfs(dir: string): string {
  ensureRootfs();
  copyTree(ROOTFS, dir);
  const ldd = Bun.spawnSync(["ldd", BINARY]).stdout.toString();
  for (const lib of ldd.matchAll(/(\/\S+\.so[.\d]*)/g)) {
    const target = join(dir, lib[1]!);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(lib[1]!, target);
  }
  return dir;
}

/** Open path for writing and write to it: "WROTE" or the error code. */
function tryWrite(path: string): string {
  try {
    const fd = openSync(path, "r+");
    try {
      writeSync(fd, "pwned");
      return "WROTE";
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? "error";
  }
}

/** The config's process running args, as `exec` builds it. */
const proc = (args: string[]) => execProcess(lib.store.load(box.id).config.process, { args });

d("CVE-2019-5736: the runtime binary cannot be overwritten from the container", () => {
  test("berth-init in the container is a sealed memfd: writes through /proc/<pid>/exe fail, also after re-executing it inside", async () => {
    const before = sha(BINARY);
    const log = join(shared, "attack.log");
    const go = join(shared, "go");
    rmSync(log, { force: true });
    rmSync(go, { force: true });
    let hostWrite = "";
    let exeLink = "";
    let unprivileged = { stdout: "", stderr: "", code: -1 };
    let attacker = 0;
    const launched = await execInContainer(lib, {
      id: box.id,
      process: proc(["sleep", "1001"]),
      detach: true,
      onSetup: async (pid) => {
        // berth-init waits here, inside every namespace of the container
        exeLink = readlinkSync(`/proc/${pid}/exe`);
        hostWrite = tryWrite(`/proc/${pid}/exe`); // not even root on the host
        const P = nsPid(pid);
        // As in the original exploit: keep an fd on the runtime binary while it is in
        // the container, and write through it once nothing runs it any more.
        const script = `
          exec >>/shared/attack.log 2>&1
          P=${P}
          echo exe=$(readlink /proc/$P/exe)
          exec 3</proc/$P/exe && echo opened
          { echo pwned >/proc/$P/exe; } 2>/dev/null && echo WROTE-EXE || echo write-exe-failed
          # the /proc/self/exe trick: run the runtime binary inside the container, keep an fd on that copy
          mkfifo /tmp/plan
          /proc/$P/exe 0 </tmp/plan & Q=$!
          exec 4>/tmp/plan
          i=0; until readlink /proc/$Q/exe | grep -q berth; do i=$((i+1)); [ $i -gt 200 ] && break; sleep 0.05; done
          echo q-exe=$(readlink /proc/$Q/exe)
          exec 5</proc/$Q/exe
          kill -9 $Q; { wait $Q; } 2>/dev/null
          echo ready
          while [ ! -e /shared/go ]; do sleep 0.05; done
          { echo pwned >/proc/self/fd/3; } 2>/dev/null && echo WROTE-FD || echo write-fd-failed
          { echo pwned >>/proc/self/fd/3; } 2>/dev/null && echo WROTE-APPEND || echo append-failed
          { echo pwned >/proc/self/fd/5; } 2>/dev/null && echo WROTE-Q-FD || echo write-q-fd-failed
          echo done
        `;
        const pidFile = join(shared, "attacker.pid");
        rt.ok(["exec", "-d", "--pid-file", pidFile, "--cap", "CAP_SYS_PTRACE", box.id, "sh", "-c", script]);
        attacker = Number(readFileSync(pidFile, "utf8"));
        expect(await waitFor(() => existsSync(log) && readFileSync(log, "utf8").includes("ready"), 20_000)).toBe(true);
        // without CAP_SYS_PTRACE the non-dumpable process cannot even be opened
        unprivileged = rt.run(["exec", box.id, "sh", "-c", `exec 3</proc/${P}/exe && echo OPENED`]);
      },
    });
    try {
      // the exec goes on: berth-init becomes sleep, nothing runs the binary the attacker holds
      expect(await waitFor(() => readlinkSync(`/proc/${launched.pid}/exe`) !== exeLink)).toBe(true);
      writeFileSync(go, "");
      expect(await waitFor(() => readFileSync(log, "utf8").includes("done"), 20_000)).toBe(true);
      expect(exeLink).toBe("/memfd:berth-init (deleted)");
      expect(hostWrite).not.toBe("WROTE");
      expect(readFileSync(log, "utf8").trim().split("\n")).toEqual([
        "exe=/memfd:berth-init (deleted)",
        "opened",
        "write-exe-failed",
        "q-exe=/memfd:berth-init (deleted)",
        "ready",
        "write-fd-failed",
        "append-failed",
        "write-q-fd-failed",
        "done",
      ]);
      expect(unprivileged.stdout).not.toContain("OPENED");
      expect(unprivileged.stderr).toContain("Permission denied");
      expect(sha(BINARY)).toBe(before);
    } finally {
      process.kill(launched.pid, 9);
      if (attacker) process.kill(attacker, 9);
    }
  });

  test("berth-init seals itself when started from the plain binary", async () => {
    // launch() normally starts it from a sealed copy; here the binary on disk is started directly
    const helper = Bun.spawn([BINARY, "3"], { stdio: ["ignore", "ignore", "ignore", "pipe"] as never });
    const sock = helper.stdio[3] as unknown as number;
    try {
      // a plan that only waits at a sync point, in one MSG_PLAN frame
      const body = encodePlan([instr("SYNC", 7)]);
      const frame = new Uint8Array(8 + body.length);
      new DataView(frame.buffer).setUint32(0, MSG.PLAN, true);
      new DataView(frame.buffer).setUint32(4, body.length, true);
      frame.set(body, 8);
      writeSync(sock, frame);
      // it has re-executed and named itself once it is waiting
      let link = "";
      let comm = "";
      for (let i = 0; i < 500 && comm !== "berth-init"; i++) {
        await Bun.sleep(10);
        try {
          link = readlinkSync(`/proc/${helper.pid}/exe`);
          comm = readFileSync(`/proc/${helper.pid}/comm`, "utf8").trim();
        } catch {}
      }
      expect(comm).toBe("berth-init");
      expect(link).toBe("/memfd:berth-init (deleted)");
    } finally {
      helper.kill(9);
      await helper.exited;
    }
  });

  test("a '#!/proc/self/exe' entry point runs the sealed copy, not the host binary", () => {
    const before = sha(BINARY);
    rt.ok(["exec", box.id, "sh", "-c", "printf '#!/proc/self/exe\\n' >/tmp/evil && chmod +x /tmp/evil"]);
    const r = rt.run(["exec", box.id, "/tmp/evil"]);
    // the kernel started berth-init's copy inside the container (it prints its usage)
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("usage: berth-init");
    expect(sha(BINARY)).toBe(before);
  });
});

d("CVE-2024-21626: a cwd through /proc/self/fd cannot leave the container", () => {
  const secretDir = () => join(shared, "secret");
  beforeAll(() => {
    if (!isRoot) return;
    rmSync(secretDir(), { recursive: true, force: true });
    mkdirSync(secretDir());
    writeFileSync(join(secretDir(), "secret.txt"), "host-secret\n");
  });
  // from a cwd on the host, this reaches the secret
  const reach = () => "../".repeat(12) + secretDir().slice(1) + "/secret.txt";

  test("exec --cwd /proc/self/fd/N and process.json cwd: refused for every fd the runtime might hold", () => {
    const file = join(shared, "process.json");
    for (let n = 0; n <= 12; n++) {
      const cwd = `/proc/self/fd/${n}`;
      const r = rt.run(["exec", "--cwd", cwd, box.id, "sh", "-c", `cat ${reach()}; pwd`]);
      expect(r.stdout).not.toContain("host-secret");
      expect(r.code).toBe(255);
      expect(r.stderr).toContain(`chdir "${cwd}"`);
      writeFileSync(file, JSON.stringify({ args: ["cat", reach()], cwd, user: { uid: 0, gid: 0 } }));
      const j = rt.run(["exec", "--process", file, box.id]);
      expect(j.stdout).not.toContain("host-secret");
      expect(j.code).toBe(255);
    }
  });

  test("create with process.cwd /proc/self/fd/N fails and leaves nothing", () => {
    for (const n of [3, 4, 5, 6, 7, 8]) {
      const b = makeBundle(["cat", reach()], (s) => (s.process!.cwd = `/proc/self/fd/${n}`));
      const id = uniqueId("cwdfd");
      try {
        const r = rt.run(["run", "--bundle", b.dir, id]);
        expect(r.stdout).not.toContain("host-secret");
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("chdir");
        expect(existsSync(join(rt.root, id))).toBe(false);
        expect(processesMatching(id)).toEqual([]);
      } finally {
        b.cleanup();
      }
    }
  });

  test("a host directory fd leaked into berth-init is closed before the cwd and executable are looked up", async () => {
    const rec = lib.store.load(box.id);
    writeFileSync(join(secretDir(), "evil.sh"), "#!/bin/sh\necho host-binary-ran\n", { mode: 0o755 });
    const dirFd = openSync(secretDir(), "r");
    const outFile = join(shared, "leak.out");
    const out = openSync(outFile, "w");
    try {
      const cases: Array<[cwd: string, args: string[]]> = [
        ["/proc/self/fd/3", ["cat", "secret.txt"]],
        ["/", ["/proc/self/fd/3/evil.sh"]],
        ["/", ["cat", "/proc/self/fd/3/secret.txt"]],
      ];
      for (const [cwd, args] of cases) {
        const p = proc(args);
        p.cwd = cwd;
        // fd 3 reaches berth-init but is not declared preserved: exactly a leak
        const plan = compileExecPlan({ spec: rec.config, process: p, init: { pid: rec.pid, startTime: rec.pidStartTime }, stay: true });
        let err = "";
        try {
          const l = await launch({ plan, extraFds: [dirFd], stdio: ["ignore", out, out], onSync: () => {} });
          await l.helper.exited;
        } catch (e) {
          err = (e as Error).message;
        }
        const output = readFileSync(outFile, "utf8");
        expect(output).not.toContain("host-secret");
        expect(output).not.toContain("host-binary-ran");
        if (cwd !== "/") expect(err).toContain(`chdir "${cwd}"`);
      }
    } finally {
      closeSync(dirFd);
      closeSync(out);
    }
  });
});
