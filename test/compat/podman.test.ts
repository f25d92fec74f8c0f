/**
 * Podman (Debian's 4.3, with conmon) uses bin/berth-runtime as its OCI runtime:
 * `podman --runtime <abs path>`. A private store; images from the busybox rootfs
 * with `podman import`. This machine lacks CAP_SYS_RESOURCE, so podman's default
 * ulimits (above the host's hard limits) are lowered as MACHINE.md says.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { Podman } from "./engines.ts";
import { waitFor } from "../integration/harness.ts";

const ok = Podman.available();
const d = ok ? describe : describe.skip;
const ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];
let pm: Podman;

beforeAll(() => {
  if (!ok) return;
  pm = new Podman();
  pm.importImage();
});
afterAll(() => pm?.cleanup());

d("podman --runtime berth-runtime", () => {
  test("run attached: output, exit code, hostname, pid 1", () => {
    const r = pm.run(["run", "--rm", ...ULIMITS, "--hostname", "pod-box", pm.image, "sh", "-c", "echo hello; hostname; echo $$; exit 3"]);
    expect(r.stdout.trim().split("\n")).toEqual(["hello", "pod-box", "1"]);
    expect(r.code).toBe(3);
  });

  test("run -d, logs, ps, stop, rm", async () => {
    const id = pm.ok(["run", "-d", "--name", "tick", ...ULIMITS, pm.image, "sh", "-c", "trap 'echo bye; exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await waitFor(() => pm.run(["logs", "tick"]).stdout.includes("tick 2"), 10_000)).toBe(true);
    expect(pm.ok(["ps", "--format", "{{.Names}} {{.Status}}"])).toMatch(/^tick Up/m);
    expect(pm.ok(["inspect", "tick", "--format", "{{.State.Status}}"]).trim()).toBe("running");
    pm.ok(["stop", "-t", "10", "tick"]);
    expect(pm.ok(["inspect", "tick", "--format", "{{.State.Status}} {{.State.ExitCode}}"]).trim()).toBe("exited 0");
    expect(pm.ok(["logs", "tick"])).toContain("bye");
    pm.ok(["rm", "tick"]);
    expect(pm.run(["inspect", "tick"]).code).not.toBe(0);
  });

  test("kill with a signal, and rm -f of a running container", async () => {
    pm.ok(["run", "-d", "--name", "victim", ...ULIMITS, pm.image, "sleep", "1000"]);
    pm.ok(["kill", "--signal", "KILL", "victim"]);
    expect(await waitFor(() => pm.ok(["inspect", "victim", "--format", "{{.State.Status}}"]).trim() === "exited", 10_000)).toBe(true);
    expect(pm.ok(["inspect", "victim", "--format", "{{.State.ExitCode}}"]).trim()).toBe("137");
    pm.ok(["rm", "victim"]);
    pm.ok(["run", "-d", "--name", "victim2", ...ULIMITS, pm.image, "sleep", "1000"]);
    pm.ok(["rm", "-f", "-t", "0", "victim2"]);
    expect(pm.run(["inspect", "victim2"]).code).not.toBe(0);
  });

  test("resource limits reach the container's cgroup", () => {
    const r = pm.run(["run", "--rm", ...ULIMITS, "--memory", "64m", "--pids-limit", "33", pm.image, "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"]);
    expect(r.stdout.trim().split("\n")).toEqual([String(64 * 1024 * 1024), "33"]);
  });

  test("pause and unpause; stats", () => {
    pm.ok(["run", "-d", "--name", "frozen", ...ULIMITS, pm.image, "sleep", "1000"]);
    pm.ok(["pause", "frozen"]);
    expect(pm.ok(["inspect", "frozen", "--format", "{{.State.Status}}"]).trim()).toBe("paused");
    pm.ok(["unpause", "frozen"]);
    expect(pm.ok(["inspect", "frozen", "--format", "{{.State.Status}}"]).trim()).toBe("running");
    expect(pm.ok(["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "frozen"])).toMatch(/^frozen \d/);
    pm.ok(["rm", "-f", "-t", "0", "frozen"]);
  });

  test.skipIf(!criuWorks())("container checkpoint --export and restore --import: the process continues with its memory", async () => {
    pm.ok(["run", "-d", "--name", "count", ...ULIMITS, pm.image, "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done"]);
    expect(await waitFor(() => pm.run(["logs", "count"]).stdout.split("\n").length > 5, 10_000)).toBe(true);
    const archive = `${pm.dir}/count.tar.gz`;
    pm.ok(["container", "checkpoint", "--export", archive, "count"], 120_000);
    const last = Number(pm.ok(["logs", "count"]).trim().split("\n").pop());
    pm.ok(["container", "restore", "--import", archive, "--name", "count2"], 120_000);
    // podman carries the log over: the restored shell continues it with last+1, last+2... (not from 1)
    expect(await waitFor(() => pm.run(["logs", "count2"]).stdout.trim().split("\n").map(Number).includes(last + 2), 10_000)).toBe(true);
    const after = pm.ok(["logs", "count2"]).trim().split("\n").map(Number);
    expect(after.slice(after.indexOf(last), after.indexOf(last) + 3)).toEqual([last, last + 1, last + 2]);
    expect(after.lastIndexOf(1)).toBe(0);
    pm.ok(["rm", "-f", "-t", "0", "count", "count2"]);
  });
});

/** A CRIU that works on this kernel (scripts/setup-criu.sh builds one when needed). */
function criuWorks(): boolean {
  for (const bin of ["/usr/local/sbin/criu", "criu"]) {
    const r = Bun.spawnSync([bin, "check"], { stdout: "ignore", stderr: "ignore" });
    if (r.exitCode === 0) return true;
  }
  return false;
}
