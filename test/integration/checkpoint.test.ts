/**
 * checkpoint / restore with the real CRIU (root). The containers count in a
 * shell variable and append each value to a log on a host bind mount: the log
 * shows exactly where a restored container went on from (memory state), and
 * whether it restarted instead.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { closeSync, constants as fsc, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { RuntimeCli, RUNTIME, makeBundle, uniqueId, isRoot, mountsUnder, waitFor, type Bundle } from "./harness.ts";
import { resolveCriu, hasFeature, type Criu } from "../../src/runtime/criu/binary.ts";

/** Why these tests cannot run here, or undefined when they can. */
function criuUnavailable(): string | undefined {
  if (!isRoot) return "needs root";
  let c: Criu;
  try {
    c = resolveCriu();
  } catch (e) {
    return (e as Error).message;
  }
  const r = Bun.spawnSync([c.path, "check"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return `${c.path} check fails: ${r.stderr.toString().trim().split("\n").pop()}`;
  if (c.version[0] < 4 || (c.version[0] === 4 && c.version[1] < 2)) return `${c.path} is criu ${c.version.join(".")}: < 4.2 hangs or fails on kernels >= 6.13 (see shared/CRIU.md)`;
  return undefined;
}
const unavailable = criuUnavailable();
if (unavailable) console.warn(`checkpoint tests skipped: ${unavailable}`);
// Soft-dirty page tracking decides whether pre-copy can work on this kernel.
const softDirty = !unavailable && hasFeature(resolveCriu(), "mem_dirty_track");

let rt: RuntimeCli;
beforeAll(() => {
  if (!unavailable) rt = new RuntimeCli();
});
afterAll(() => rt?.cleanup());

const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A temp dir removed after the tests. */
function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

interface Counter {
  b: Bundle;
  out: string;
  log: () => number[];
}

/**
 * A container counting in a shell variable, appending each value to /out/log
 * (a host directory bound in). `limit` makes it exit with status 3 after that value.
 */
function counter(edit?: Parameters<typeof makeBundle>[1], limit?: number): Counter {
  const out = tmp("berth-ckpt-out-");
  const loop = limit ? `while [ $i -lt ${limit} ]` : "while :";
  const b = makeBundle(["sh", "-c", `i=0; ${loop}; do i=$((i+1)); echo $i >> /out/log; sleep 0.05; done; exit 3`], (s) => {
    s.mounts!.push({ destination: "/out", type: "bind", source: out, options: ["rbind", "rw"] });
    edit?.(s);
  });
  cleanups.push(() => b.cleanup());
  const log = () => {
    try {
      return readFileSync(join(out, "log"), "utf8").trim().split("\n").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  return { b, out, log };
}

const last = (xs: number[]) => xs[xs.length - 1] ?? 0;
const isConsecutive = (xs: number[]) => xs.every((x, i) => x === i + 1);

function cgroupOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cgroup`, "utf8");
}

function statusFields(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const m = /^(\w+):\s*(.*)$/.exec(l);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Nothing of a container id is left: state dir, cgroup, criu root binds. */
function expectNoTrace(id: string) {
  expect(existsSync(join(rt.root, id))).toBe(false);
  expect(existsSync(`/sys/fs/cgroup/pids/${id}`) || existsSync(`/sys/fs/cgroup/${id}`)).toBe(false);
  expect(readdirSync(rt.root).filter((n) => n.startsWith(".criu-root"))).toEqual([]);
  expect(mountsUnder(rt.root)).toEqual([]);
}

function timed(label: string, args: string[]) {
  const t0 = performance.now();
  const r = rt.run(args);
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`berth-runtime ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  console.log(`  ${label}: ${ms.toFixed(0)} ms (whole berth-runtime command)`);
  return r;
}

const d = unavailable ? describe.skip : describe;

d("checkpoint and restore", () => {
  test("checkpoint stops the container; restore goes on from the same count (memory state)", async () => {
    const c = counter();
    const id = uniqueId("ck");
    const img = tmp("berth-img-");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    const before = rt.state(id);
    const statusBefore = statusFields(before.pid);
    expect(await waitFor(() => c.log().length >= 5)).toBe(true);

    timed("checkpoint", ["checkpoint", "--image-path", img, id]);
    // runc semantics: the container is gone, its id free
    expect(rt.run(["state", id]).code).not.toBe(0);
    expect(existsSync(`/proc/${before.pid}`) && !readFileSync(`/proc/${before.pid}/stat`, "utf8").includes(") Z")).toBe(false);
    expectNoTrace(id);
    const atDump = c.log();
    expect(isConsecutive(atDump)).toBe(true);
    await Bun.sleep(200);
    expect(c.log()).toEqual(atDump); // nothing runs while checkpointed
    expect(existsSync(join(img, "inventory.img"))).toBe(true);
    expect(JSON.parse(readFileSync(join(img, "descriptors.json"), "utf8"))).toHaveLength(3);

    timed("restore", ["restore", "-d", "--image-path", img, "--bundle", c.b.dir, id]);
    const after = rt.state(id);
    expect(after.status).toBe("running");
    expect(after.pid).not.toBe(before.pid);
    expect(await waitFor(() => c.log().length >= atDump.length + 5)).toBe(true);
    // the shell's variable went on: no restart from 1, no gap, no repeat
    expect(isConsecutive(c.log())).toBe(true);
    // restored into the container's cgroup, with the same privileges as before
    expect(cgroupOf(after.pid)).toMatch(new RegExp(`pids:.*/${id}\\n`));
    const statusAfter = statusFields(after.pid);
    for (const f of ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs", "Seccomp"]) expect(statusAfter[f]).toBe(statusBefore[f]!);
    rt.ok(["delete", "--force", id]);
    expectNoTrace(id);
  });

  test("the restored init's stdio is the restoring caller's (the checkpointing one's is gone)", async () => {
    const b = makeBundle(["sh", "-c", "i=0; while :; do i=$((i+1)); echo out $i; echo err $i >&2; sleep 0.05; done"]);
    cleanups.push(() => b.cleanup());
    const dir = tmp("berth-stdio-");
    const file = (n: string) => join(dir, n);
    const read = (n: string) => (existsSync(file(n)) ? readFileSync(file(n), "utf8") : "");
    const runTo = (args: string[], out: string, err: string) => {
      const r = Bun.spawnSync([RUNTIME, "--root", rt.root, ...args], { stdin: "ignore", stdout: Bun.file(file(out)), stderr: Bun.file(file(err)) });
      if (r.exitCode !== 0) throw new Error(`${args.join(" ")}: ${read(err)}`);
    };
    const id = uniqueId("stdio");
    const img = tmp("berth-img-");
    runTo(["run", "-d", "--bundle", b.dir, id], "run.out", "run.err");
    expect(await waitFor(() => read("run.out").split("\n").length > 5)).toBe(true);
    rt.ok(["checkpoint", "--image-path", img, id]);
    const lastOut = Number(/out (\d+)\n$/.exec(read("run.out"))![1]);
    runTo(["restore", "-d", "--image-path", img, "--bundle", b.dir, id], "restore.out", "restore.err");
    expect(await waitFor(() => read("restore.out").split("\n").length > 5 && read("restore.err").split("\n").length > 5)).toBe(true);
    // stdout and stderr went on in the restore caller's files, from where the dump left off
    expect(read("restore.out").startsWith(`out ${lastOut + 1}\n`)).toBe(true);
    expect(read("restore.err")).toMatch(/^err \d+\n/);
    expect(read("run.out").endsWith(`out ${lastOut}\n`)).toBe(true);
    rt.ok(["delete", "--force", id]);
  });

  test("pipes as stdio (what shims give): the restored init writes to the restoring caller's pipe", async () => {
    const b = makeBundle(["sh", "-c", "i=0; while :; do i=$((i+1)); echo out $i; sleep 0.05; done"]);
    cleanups.push(() => b.cleanup());
    const dir = tmp("berth-pipes-");
    const id = uniqueId("pipes");
    const img = tmp("berth-img-");
    // `runtime ... | cat > OUT`: the runtime's (and so the container's) stdout is an
    // anonymous pipe, as a shim gives; cat runs until the container closes it.
    const piped = async (name: string, args: string[]) => {
      const out = join(dir, name);
      const script = `out=$1; shift; { "$@" 2>"$out.err"; echo $? > "$out.rc"; } | cat > "$out"`;
      const sh = Bun.spawn(["sh", "-c", script, "sh", out, RUNTIME, "--root", rt.root, ...args], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      cleanups.push(() => sh.kill(9));
      expect(await waitFor(() => existsSync(`${out}.rc`), 30_000)).toBe(true);
      expect(readFileSync(`${out}.err`, "utf8")).toBe("");
      expect(readFileSync(`${out}.rc`, "utf8").trim()).toBe("0");
      return { read: () => (existsSync(out) ? readFileSync(out, "utf8") : ""), done: sh.exited };
    };
    const a = await piped("a", ["run", "-d", "--bundle", b.dir, id]);
    expect(await waitFor(() => a.read().split("\n").length > 5)).toBe(true);
    rt.ok(["checkpoint", "--image-path", img, id]);
    await a.done; // the container is gone, so is the pipe's writer: cat has all of it
    const fromA = a.read();
    expect(JSON.parse(readFileSync(join(img, "descriptors.json"), "utf8"))[1]).toMatch(/^pipe:\[\d+\]$/);
    const lastA = Number(/out (\d+)\n$/.exec(fromA)![1]);
    const bOut = await piped("b", ["restore", "-d", "--image-path", img, "--bundle", b.dir, id]);
    expect(await waitFor(() => bOut.read().split("\n").length > 3)).toBe(true);
    expect(bOut.read().startsWith(`out ${lastA + 1}\n`)).toBe(true);
    rt.ok(["delete", "--force", id]);
    await bOut.done;
  });

  test("a socket from outside the container as stdio is refused up front, the container left running", async () => {
    const b = makeBundle(["sleep", "1000"]);
    cleanups.push(() => b.cleanup());
    const id = uniqueId("sock");
    const img = join(tmp("berth-img-"), "x");
    // Bun's "pipe" stdio is a socketpair in our network namespace
    const run = Bun.spawn([RUNTIME, "--root", rt.root, "run", "-d", "--bundle", b.dir, id], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    expect(await run.exited).toBe(0);
    const pid = rt.state(id).pid;
    const r = rt.run(["checkpoint", "--image-path", img, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("socket from outside its network namespace");
    expect(existsSync(img)).toBe(false);
    expect(rt.state(id)).toMatchObject({ status: "running", pid });
    rt.ok(["delete", "--force", id]);
  });

  test("the restored container is confined like the original: own namespaces, its rootfs", async () => {
    const c = counter();
    const id = uniqueId("ns");
    const img = tmp("berth-img-");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    expect(await waitFor(() => c.log().length >= 2)).toBe(true);
    rt.ok(["checkpoint", "--image-path", img, id]);
    rt.ok(["restore", "-d", "--image-path", img, "--bundle", c.b.dir, id]);
    const pid = rt.state(id).pid;
    for (const ns of ["pid", "mnt", "net", "ipc", "uts"]) {
      const host = statSync(`/proc/self/ns/${ns}`).ino;
      expect(statSync(`/proc/${pid}/ns/${ns}`).ino).not.toBe(host);
    }
    // pid 1 of its own pid namespace, rooted in the bundle's rootfs
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^NSpid:\s+\d+\s+1$/m);
    expect(statSync(`/proc/${pid}/root/bin/busybox`).ino).toBe(statSync(join(c.b.spec.root!.path, "bin/busybox")).ino);
    // none of the host's mounts (the restore's temporary root bind included)
    const mi = readFileSync(`/proc/${pid}/mountinfo`, "utf8");
    expect(mi).not.toContain(".criu-root");
    expect(mi.split("\n").some((l) => l.split(" ")[4]?.startsWith("/work"))).toBe(false);
    rt.ok(["delete", "--force", id]);
  });

  test("--leave-running keeps the container; the image restores as another id from the dump point", async () => {
    const c = counter();
    const id = uniqueId("lr");
    const copy = uniqueId("lr-copy");
    const img = tmp("berth-img-");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    const pid = rt.state(id).pid;
    expect(await waitFor(() => c.log().length >= 3)).toBe(true);
    timed("checkpoint --leave-running", ["checkpoint", "--leave-running", "--image-path", img, id]);
    const st = rt.state(id);
    expect(st.status).toBe("running");
    expect(st.pid).toBe(pid);
    const atDump = c.log().length; // an upper bound of the count at the dump
    expect(await waitFor(() => c.log().length >= atDump + 5)).toBe(true); // still counting
    rt.ok(["delete", "--force", id]);
    const original = c.log();
    expect(isConsecutive(original)).toBe(true);

    rt.ok(["restore", "-d", "--image-path", img, "--bundle", c.b.dir, copy]);
    const restored = rt.state(copy);
    expect(restored.status).toBe("running");
    expect(cgroupOf(restored.pid)).toMatch(new RegExp(`pids:.*/${copy}\\n`));
    expect(rt.run(["state", id]).code).not.toBe(0);
    expect(await waitFor(() => c.log().length >= original.length + 3)).toBe(true);
    // the copy goes on from the count at the dump, which the original had passed
    const after = c.log().slice(original.length);
    expect(after[0]!).toBeLessThanOrEqual(atDump + 1);
    expect(after[0]!).toBeGreaterThan(1);
    expect(after.every((x, i) => x === after[0]! + i)).toBe(true);
    rt.ok(["delete", "--force", copy]);
    expectNoTrace(copy);
  });

  test("checkpoint and restore twice", async () => {
    const c = counter();
    const id = uniqueId("twice");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    for (const round of [1, 2]) {
      const img = tmp(`berth-img-${round}-`);
      const n = c.log().length;
      expect(await waitFor(() => c.log().length >= n + 3)).toBe(true);
      timed(`checkpoint #${round}`, ["checkpoint", "--image-path", img, id]);
      expectNoTrace(id);
      timed(`restore #${round}`, ["restore", "-d", "--image-path", img, "--bundle", c.b.dir, id]);
    }
    const n = c.log().length;
    expect(await waitFor(() => c.log().length >= n + 3)).toBe(true);
    expect(isConsecutive(c.log())).toBe(true);
    rt.ok(["delete", "--force", id]);
  });

  test("foreground restore waits for the container and exits with its status", async () => {
    const c = counter(undefined, 40);
    const id = uniqueId("fg");
    const img = tmp("berth-img-");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    expect(await waitFor(() => c.log().length >= 3)).toBe(true);
    rt.ok(["checkpoint", "--image-path", img, id]);
    expect(last(c.log())).toBeLessThan(40);
    const r = rt.run(["restore", "--image-path", img, "--bundle", c.b.dir, id], { timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(3);
    const log = c.log();
    expect(last(log)).toBe(40);
    expect(isConsecutive(log)).toBe(true);
    expectNoTrace(id); // deleted after it exited, as `run` does
  });

  test("--tcp-established: a loopback TCP connection inside the container survives", async () => {
    // nc server and client in the container's own network namespace; the
    // client sends a count over the connection, the server appends it to /out/recv.
    const out = tmp("berth-tcp-");
    const script = [
      "ip link set lo up",
      // the server's stdin must not end: busybox nc closes the connection at EOF
      "sleep 1000000 | nc -l -p 5000 >> /out/recv &",
      "sleep 0.3",
      "i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done | nc 127.0.0.1 5000",
      // the connection broke: say so and stop
      "echo broken >> /out/recv",
    ].join("\n");
    const b = makeBundle(["sh", "-c", script], (s) => {
      s.mounts!.push({ destination: "/out", type: "bind", source: out, options: ["rbind", "rw"] });
      for (const set of ["bounding", "effective", "permitted"] as const) s.process!.capabilities![set]!.push("CAP_NET_ADMIN");
    });
    cleanups.push(() => b.cleanup());
    const recv = () => {
      try {
        return readFileSync(join(out, "recv"), "utf8").trim().split("\n").filter(Boolean);
      } catch {
        return [];
      }
    };
    const id = uniqueId("tcp");
    const img = tmp("berth-img-");
    rt.ok(["run", "-d", "--bundle", b.dir, id]);
    expect(await waitFor(() => recv().length >= 5)).toBe(true);

    // without --tcp-established CRIU refuses, and the container is left running
    const refused = rt.run(["checkpoint", "--image-path", tmp("berth-img-"), id]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/criu dump failed/);
    expect(rt.state(id).status).toBe("running");

    timed("checkpoint --tcp-established", ["checkpoint", "--tcp-established", "--image-path", img, id]);
    const atDump = recv();
    timed("restore --tcp-established", ["restore", "-d", "--tcp-established", "--image-path", img, "--bundle", b.dir, id]);
    expect(await waitFor(() => recv().length >= atDump.length + 5, 10_000)).toBe(true);
    const all = recv();
    expect(all).not.toContain("broken");
    expect(all.map(Number).every((x, i) => x === i + 1)).toBe(true);
    rt.ok(["delete", "--force", id]);
  });
});

d("namespaces, cgroups and flags", () => {
  test("a joined network namespace is external: the restored container is back in it", async () => {
    const ns = `berth-ckpt-${process.pid}`;
    expect(Bun.spawnSync(["ip", "netns", "add", ns]).exitCode).toBe(0);
    cleanups.push(() => void Bun.spawnSync(["ip", "netns", "del", ns]));
    const path = `/run/netns/${ns}`;
    const c = counter((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === "network" ? { type: "network", path } : n));
    });
    const id = uniqueId("netns");
    const img = tmp("berth-img-");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    const ino = statSync(path).ino;
    expect(statSync(`/proc/${rt.state(id).pid}/ns/net`).ino).toBe(ino);
    expect(await waitFor(() => c.log().length >= 3)).toBe(true);
    rt.ok(["checkpoint", "--image-path", img, id]);
    rt.ok(["restore", "-d", "--image-path", img, "--bundle", c.b.dir, id]);
    expect(statSync(`/proc/${rt.state(id).pid}/ns/net`).ino).toBe(ino);
    const n = c.log().length;
    expect(await waitFor(() => c.log().length >= n + 3)).toBe(true);
    expect(isConsecutive(c.log())).toBe(true);
    rt.ok(["delete", "--force", id]);
  });

  test("--manage-cgroups-mode ignore still restores into the container's cgroup; runc's other flags pass", async () => {
    const c = counter((s) => (s.linux!.resources = { ...s.linux!.resources, pids: { limit: 50 } }));
    const id = uniqueId("ign");
    const img = tmp("berth-img-");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    expect(await waitFor(() => c.log().length >= 3)).toBe(true);
    rt.ok(["checkpoint", "--file-locks", "--ext-unix-sk", "--auto-dedup", "--shell-job", "--manage-cgroups-mode", "full", "--work-path", join(img, "work"), "--image-path", img, id]);
    expect(existsSync(join(img, "work", "dump.log"))).toBe(true);
    rt.ok(["restore", "-d", "--file-locks", "--ext-unix-sk", "--shell-job", "--manage-cgroups-mode", "ignore", "--image-path", img, "--bundle", c.b.dir, id]);
    const pid = rt.state(id).pid;
    expect(cgroupOf(pid)).toMatch(new RegExp(`pids:.*/${id}\\n`));
    const pidsDir = readFileSync(`/proc/${pid}/cgroup`, "utf8").match(/pids:(.*)\n/)![1];
    expect(readFileSync(`/sys/fs/cgroup/pids${pidsDir}/pids.max`, "utf8").trim()).toBe("50");
    const n = c.log().length;
    expect(await waitFor(() => c.log().length >= n + 3)).toBe(true);
    expect(isConsecutive(c.log())).toBe(true);
    rt.ok(["delete", "--force", id]);
    expectNoTrace(id);
  });

  test("--empty-ns network: the network namespace comes back empty (loopback down)", async () => {
    const c = counter((s) => {
      s.process!.args = ["sh", "-c", "ip link set lo up && " + s.process!.args![2]];
      for (const set of ["bounding", "effective", "permitted"] as const) s.process!.capabilities![set]!.push("CAP_NET_ADMIN");
    });
    const id = uniqueId("empty");
    const img = tmp("berth-img-");
    const loUp = (pid: number) => /<[^>]*\bUP\b/.test(Bun.spawnSync(["nsenter", "-t", String(pid), "-n", "ip", "-o", "link", "show", "lo"]).stdout.toString());
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    expect(await waitFor(() => c.log().length >= 3)).toBe(true);
    expect(loUp(rt.state(id).pid)).toBe(true);
    rt.ok(["checkpoint", "--empty-ns", "network", "--image-path", img, id]);
    rt.ok(["restore", "-d", "--empty-ns", "network", "--image-path", img, "--bundle", c.b.dir, id]);
    const pid = rt.state(id).pid;
    expect(statSync(`/proc/${pid}/ns/net`).ino).not.toBe(statSync("/proc/self/ns/net").ino);
    expect(loUp(pid)).toBe(false);
    rt.ok(["delete", "--force", id]);
  });
});

d("pre-copy and lazy pages", () => {
  test.skipIf(softDirty)("--pre-dump names the missing kernel feature and changes nothing (no soft-dirty here)", async () => {
    const c = counter();
    const id = uniqueId("pre");
    const img = join(tmp("berth-img-"), "pre");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    const pid = rt.state(id).pid;
    const r = rt.run(["checkpoint", "--pre-dump", "--image-path", img, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("CONFIG_MEM_SOFT_DIRTY");
    expect(r.stderr).toContain("mem_dirty_track");
    expect(r.stderr).toContain("--pre-dump");
    expect(existsSync(img)).toBe(false);
    expect(rt.state(id)).toMatchObject({ status: "running", pid });
    rt.ok(["delete", "--force", id]);
  });

  // On a kernel with soft-dirty tracking pre-copy must work: pre-dump, then a dump on top of it.
  test.skipIf(!softDirty)("--pre-dump then a dump with --parent-path (kernel with soft-dirty)", async () => {
    const c = counter();
    const id = uniqueId("pre");
    const img = tmp("berth-img-");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    rt.ok(["checkpoint", "--pre-dump", "--image-path", join(img, "1"), id]);
    expect(rt.state(id).status).toBe("running");
    rt.ok(["checkpoint", "--parent-path", "../1", "--image-path", join(img, "2"), id]);
    rt.ok(["restore", "-d", "--image-path", join(img, "2"), "--bundle", c.b.dir, id]);
    const n = c.log().length;
    expect(await waitFor(() => c.log().length >= n + 3)).toBe(true);
    expect(isConsecutive(c.log())).toBe(true);
    rt.ok(["delete", "--force", id]);
  });

  test("--lazy-pages: post-copy through a page server on loopback", async () => {
    const pipeMax = Number(readFileSync("/proc/sys/fs/pipe-max-size", "utf8"));
    cleanups.push(() => writeFileSync("/proc/sys/fs/pipe-max-size", String(pipeMax))); // leave the host as found
    const c = counter();
    const id = uniqueId("lazy");
    const copy = uniqueId("lazy-copy");
    const img = tmp("berth-img-");
    const port = 20000 + (process.pid % 20000);
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    expect(await waitFor(() => c.log().length >= 3)).toBe(true);
    // the source: dump, then serve the memory pages until the destination has them all
    const status = join(img, "..", `status-${id}`);
    cleanups.push(() => rmSync(status, { force: true }));
    const statusFd = openSync(status, "a");
    const ckErr = join(img, "..", `ck-${id}.err`);
    cleanups.push(() => rmSync(ckErr, { force: true }));
    const source = Bun.spawn([RUNTIME, "--root", rt.root, "checkpoint", "--lazy-pages", "--page-server", `127.0.0.1:${port}`, "--status-fd", "3", "--image-path", img, id], {
      stdio: ["ignore", "ignore", Bun.file(ckErr), statusFd],
    });
    closeSync(statusFd);
    expect(await waitFor(() => statSync(status).size > 0 || source.exitCode !== null, 30_000)).toBe(true);
    expect(source.exitCode).toBeNull(); // serving
    const atDump = c.log();
    // the destination: criu's lazy-pages daemon fetches pages on demand for the restored tasks
    const lazy = Bun.spawn([resolveCriu().path, "lazy-pages", "--page-server", "--address", "127.0.0.1", "--port", String(port), "-D", img, "-o", "lazy-pages.log"], { stdio: ["ignore", "ignore", "ignore"] });
    const r = rt.run(["restore", "-d", "--lazy-pages", "--work-path", img, "--image-path", img, "--bundle", c.b.dir, copy]);
    expect(r.code).toBe(0);
    expect(await source.exited).toBe(0);
    expect(await lazy.exited).toBe(0);
    if (pipeMax < 4 * 1024 * 1024) expect(readFileSync(ckErr, "utf8") + r.stderr).toContain("fs.pipe-max-size");
    expect(rt.run(["state", id]).code).not.toBe(0); // the source is gone
    expect(await waitFor(() => c.log().length >= atDump.length + 3)).toBe(true);
    expect(isConsecutive(c.log())).toBe(true);
    rt.ok(["delete", "--force", copy]);
  });
});

d("bad input changes nothing", () => {
  test("restore: missing image, existing id, missing bundle, bad flags", async () => {
    const c = counter();
    const id = uniqueId("bad");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    const pid = rt.state(id).pid;
    const img = tmp("berth-img-");
    const entries = () => readdirSync(rt.root).sort();
    const before = entries();

    const fresh = uniqueId("bad-new");
    const noImage = rt.run(["restore", "-d", "--image-path", join(img, "missing"), "--bundle", c.b.dir, fresh]);
    expect(noImage.code).toBe(1);
    expect(noImage.stderr).toContain("--image-path");
    expect(noImage.stderr).toContain("no checkpoint");
    expectNoTrace(fresh);

    rt.ok(["checkpoint", "--leave-running", "--image-path", img, id]);
    const taken = rt.run(["restore", "-d", "--image-path", img, "--bundle", c.b.dir, id]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain("already exists");
    expect(rt.state(id)).toMatchObject({ status: "running", pid });

    const noBundle = rt.run(["restore", "-d", "--image-path", img, "--bundle", join(img, "nope"), fresh]);
    expect(noBundle.code).not.toBe(0);
    expect(noBundle.stderr).toContain("config.json");
    expectNoTrace(fresh);

    const badMode = rt.run(["restore", "-d", "--manage-cgroups-mode", "bogus", "--image-path", img, "--bundle", c.b.dir, fresh]);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toContain("--manage-cgroups-mode");
    const badNs = rt.run(["restore", "-d", "--empty-ns", "pid", "--image-path", img, "--bundle", c.b.dir, fresh]);
    expect(badNs.code).toBe(2);
    expect(badNs.stderr).toContain("--empty-ns");
    expectNoTrace(fresh);
    expect(entries()).toEqual(before);
    rt.ok(["delete", "--force", id]);
  });

  test("a crafted image cannot hand the container other fds of the runtime than its stdio", async () => {
    const c = counter();
    const id = uniqueId("craft");
    const img = tmp("berth-img-");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    rt.ok(["checkpoint", "--image-path", img, id]);
    const metaFile = join(img, "berth-checkpoint.json");
    const meta = JSON.parse(readFileSync(metaFile, "utf8"));
    const entries = readdirSync(rt.root).sort();
    for (const bad of [{ fd: 5, link: "x", inherit: "pipe:[1]" }, { fd: 1, link: "x", inherit: "/etc/shadow" }]) {
      writeFileSync(metaFile, JSON.stringify({ ...meta, stdio: [bad] }));
      const r = rt.run(["restore", "-d", "--image-path", img, "--bundle", c.b.dir, id]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("berth-checkpoint.json: stdio[0]");
      expectNoTrace(id);
      expect(readdirSync(rt.root).sort()).toEqual(entries);
    }
    writeFileSync(metaFile, JSON.stringify(meta));
    rt.ok(["restore", "-d", "--image-path", img, "--bundle", c.b.dir, id]);
    rt.ok(["delete", "--force", id]);
  });

  test("checkpoint: unknown id, bad flags, a stopped container", async () => {
    expect(rt.run(["checkpoint", "--image-path", tmp("berth-img-"), "no-such-container"]).stderr).toContain("does not exist");
    const c = counter();
    const id = uniqueId("badck");
    rt.ok(["run", "-d", "--bundle", c.b.dir, id]);
    const pid = rt.state(id).pid;
    const img = join(tmp("berth-img-"), "x");
    const cases: Array<[string[], string]> = [
      [["--manage-cgroups-mode", "bogus"], "--manage-cgroups-mode"],
      [["--page-server", "nowhere"], "--page-server"],
      [["--parent-path", "/abs"], "--parent-path"],
      [["--lazy-pages"], "--page-server"],
      [["--status-fd", "3"], "--status-fd"],
    ];
    for (const [flags, names] of cases) {
      const r = rt.run(["checkpoint", ...flags, "--image-path", img, id]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(names);
    }
    expect(existsSync(img)).toBe(false);
    expect(rt.state(id)).toMatchObject({ status: "running", pid });
    rt.ok(["kill", id, "KILL"]);
    expect(await waitFor(() => rt.state(id).status === "stopped")).toBe(true);
    const stopped = rt.run(["checkpoint", "--image-path", img, id]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain("state stopped");
    expect(existsSync(img)).toBe(false);
    rt.ok(["delete", id]);
  });
});


