/**
 * containerd 1.6 with the runc shim v2 using bin/berth-runtime as its runc
 * binary (`ctr run --runc-binary <abs path>`): berth's path into Kubernetes.
 * The test starts its own containerd on a private socket and state dir; the
 * container runs on the busybox rootfs (`--rootfs`), no image store needed.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { Containerd } from "./engines.ts";
import { RUNTIME, ROOTFS, ensureRootfs, waitFor } from "../integration/harness.ts";

const ok = Containerd.available();
const d = ok ? describe : describe.skip;
let ctd: Containerd;

beforeAll(async () => {
  if (!ok) return;
  ensureRootfs();
  ctd = new Containerd();
  await ctd.start();
});
afterAll(async () => {
  if (!ctd) return;
  for (const id of ["c-run", "c-detached"]) {
    ctd.ctr(["task", "kill", "-s", "9", id]);
    ctd.ctr(["task", "rm", "-f", id]);
    ctd.ctr(["containers", "rm", id]);
  }
  await ctd.stop();
});

/** `ctr run` flags then id and command: berth-runtime as the shim's runc, the busybox tree as rootfs. */
const run = (flags: string[], id: string, ...cmd: string[]) => ["run", ...flags, "--runc-binary", RUNTIME, "--rootfs", ROOTFS, id, ...cmd];

d("containerd (ctr, runc shim v2) with berth-runtime", () => {
  test("run attached and removed", () => {
    const r = ctd.ctr(run(["--rm"], "c-run", "sh", "-c", "echo hi from containerd; echo $$; exit 5"));
    expect(r.stdout.trim().split("\n")).toEqual(["hi from containerd", "1"]);
    expect(r.code).toBe(5);
    expect(ctd.ok(["containers", "ls", "-q"])).not.toContain("c-run");
  });

  test("run detached, task list, kill, delete", async () => {
    ctd.ok(run(["-d"], "c-detached", "sleep", "1000"));
    expect(ctd.ok(["task", "ls"])).toMatch(/^c-detached\s+\d+\s+RUNNING/m);
    ctd.ok(["task", "kill", "-s", "9", "c-detached"]);
    expect(await waitFor(() => /c-detached\s+\d+\s+STOPPED/.test(ctd.ok(["task", "ls"])), 10_000)).toBe(true);
    ctd.ok(["task", "rm", "c-detached"]);
    ctd.ok(["containers", "rm", "c-detached"]);
    expect(ctd.ok(["containers", "ls", "-q"])).not.toContain("c-detached");
  });
});
