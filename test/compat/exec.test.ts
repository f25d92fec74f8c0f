/**
 * exec and terminals through real engines: Podman (conmon calls
 * `exec --process --detach [--tty --console-socket]` and `create
 * --console-socket`) and containerd's runc shim (`exec --process --detach
 * --pid-file`), with bin/berth-runtime as their runtime.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { Podman, Containerd } from "./engines.ts";
import { RUNTIME, ROOTFS, ensureRootfs } from "../integration/harness.ts";

const ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

describe.skipIf(!Podman.available())("podman exec and -t on berth-runtime", () => {
  let pm: Podman;
  beforeAll(() => {
    pm = new Podman();
    pm.importImage();
    pm.ok(["run", "-d", "--name", "ex", ...ULIMITS, pm.image, "sleep", "1000"]);
  });
  afterAll(() => pm?.cleanup());

  test("exec: env, user, workdir, exit status", () => {
    const r = pm.run(["exec", "-e", "A=1", "-u", "7:8", "-w", "/tmp", "ex", "sh", "-c", "echo $A; id -u; id -g; pwd; exit 4"]);
    expect(r.stdout.trim().split("\n")).toEqual(["1", "7", "8", "/tmp"]);
    expect(r.code).toBe(4);
  });

  test("exec -t: conmon receives the pty on its console socket", () => {
    const r = pm.run(["exec", "-t", "ex", "sh", "-c", "tty; echo hi"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\/dev\/pts\/\d+\r\nhi\r\n$/);
  });

  test("exec -d, then the process is in the container", () => {
    pm.ok(["exec", "-d", "ex", "sleep", "77"]);
    expect(pm.ok(["top", "ex", "args"])).toContain("sleep 77");
  });

  test("run -t: /dev/console is the container's pty", () => {
    const r = pm.run(["run", "--rm", "-t", ...ULIMITS, pm.image, "sh", "-c", "tty; stat -c %t:%T /dev/console"]);
    expect(r.code).toBe(0);
    const [tty, dev] = r.stdout.trim().split("\r\n");
    expect(tty).toMatch(/^\/dev\/pts\/\d+$/);
    expect(dev).toMatch(/^88:/); // major 136: a pty slave
  });
});

describe.skipIf(!Containerd.available())("containerd task exec on berth-runtime", () => {
  let ctd: Containerd;
  beforeAll(async () => {
    ensureRootfs();
    ctd = new Containerd();
    await ctd.start();
    ctd.ok(["run", "-d", "--runc-binary", RUNTIME, "--rootfs", ROOTFS, "c-exec", "sleep", "1000"]);
  });
  afterAll(async () => {
    if (!ctd) return;
    ctd.ctr(["task", "kill", "-s", "9", "c-exec"]);
    ctd.ctr(["task", "rm", "-f", "c-exec"]);
    ctd.ctr(["containers", "rm", "c-exec"]);
    await ctd.stop();
  });

  test("exec: output, exit status, user and cwd", () => {
    const r = ctd.ctr(["task", "exec", "--exec-id", "e1", "c-exec", "sh", "-c", "echo in exec; exit 6"]);
    expect(r.stdout).toBe("in exec\n");
    expect(r.code).toBe(6);
    const u = ctd.ctr(["task", "exec", "--exec-id", "e2", "--user", "5", "--cwd", "/tmp", "c-exec", "sh", "-c", "id -u; pwd"]);
    expect(u.stdout.trim().split("\n")).toEqual(["5", "/tmp"]);
  });
});
