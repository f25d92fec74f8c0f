/**
 * The operational verbs against real containers (root): ps, pause/resume,
 * update, events (stats and a real OOM), features. Cgroup files are read from
 * the host through /proc/<pid>/cgroup and the host's cgroup mounts, not
 * through berth's own bookkeeping.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { RuntimeCli, RUNTIME, makeBundle, uniqueId, isRoot, waitFor, type Bundle } from "./harness.ts";
import { loadCgroupManager } from "../../src/runtime/cgroups/manager.ts";
import { watchOom } from "../../src/runtime/ops/oom.ts";
import type { ContainerRecord } from "../../src/runtime/state.ts";

const d = isRoot ? describe : describe.skip;
const M = 1024 * 1024;
let rt: RuntimeCli;
const cleanups: (() => void)[] = [];
beforeAll(() => {
  if (isRoot) rt = new RuntimeCli();
});
afterAll(() => {
  rt?.cleanup();
  for (const c of cleanups.reverse()) c();
});

/** A host directory bind-mounted read-write at /out in the container. */
function outDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-ops-out-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function bundle(args: string[], edit: (s: Bundle["spec"]) => void = () => {}, out?: string): Bundle {
  const b = makeBundle(args, (s) => {
    if (out) s.mounts!.push({ destination: "/out", type: "bind", source: out, options: ["rbind", "rw"] });
    edit(s);
  });
  cleanups.push(() => b.cleanup());
  return b;
}

/** run -d and return the id; the container is deleted at the end of the file */
function runDetached(b: Bundle, prefix: string): string {
  const id = uniqueId(prefix);
  rt.ok(["run", "-d", "--bundle", b.dir, id]);
  return id;
}

/** A file of the container's cgroup for a v1 controller, found from the host's view. */
function hostCgroupFile(pid: number, controller: string, file: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, "utf8")
    .split("\n")
    .find((l) => l.split(":")[1]?.split(",").includes(controller));
  if (!line) throw new Error(`no ${controller} line in /proc/${pid}/cgroup`);
  const path = line.split(":").slice(2).join(":");
  const mount = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" "))
    .find((f) => f[f.indexOf("-") + 1] === "cgroup" && f[f.length - 1]!.split(",").includes(controller));
  if (!mount) throw new Error(`no cgroup mount for ${controller}`);
  return join(mount[4]!, path, file);
}

const readHost = (pid: number, controller: string, file: string) => readFileSync(hostCgroupFile(pid, controller, file), "utf8").trim();
const hasV1 = (c: string) => isRoot && readFileSync("/proc/self/cgroup", "utf8").split("\n").some((l) => l.split(":")[1]?.split(",").includes(c));
const record = (id: string): ContainerRecord => JSON.parse(readFileSync(join(rt.root, id, "state.json"), "utf8"));

/** berth-runtime with stdin and a live stdout (for `update -r -` and streaming `events`) */
function spawnCli(args: string[], stdin?: string) {
  const p = Bun.spawn([RUNTIME, "--root", rt.root, ...args], { stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  const lines: string[] = [];
  let err = "";
  const done = (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of p.stdout) {
      buf += dec.decode(chunk, { stream: true });
      for (let i; (i = buf.indexOf("\n")) >= 0; buf = buf.slice(i + 1)) lines.push(buf.slice(0, i));
    }
    err = await new Response(p.stderr).text();
    return p.exited;
  })();
  cleanups.push(() => p.kill(9));
  return { p, lines, done, stderr: () => err };
}

const ppid = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);

d("ps", () => {
  let id: string;
  let init: number;
  beforeAll(async () => {
    // init execs sleep 2000 after starting sleep 1000: two stable processes
    id = runDetached(bundle(["sh", "-c", "sleep 1000 & exec sleep 2000"]), "ps");
    init = rt.state(id).pid;
    expect(await waitFor(() => JSON.parse(rt.ok(["ps", "--format", "json", id])).length === 2)).toBe(true);
    expect(await waitFor(() => readFileSync(`/proc/${init}/cmdline`, "utf8").startsWith("sleep\u00002000"))).toBe(true);
  });

  test("--format json: the pids of the container's cgroup (init and its child)", () => {
    const pids: number[] = JSON.parse(rt.ok(["ps", "-f", "json", id]));
    expect(pids).toContain(init);
    const child = pids.find((p) => p !== init)!;
    expect(ppid(child)).toBe(init);
    expect(readFileSync(`/proc/${child}/cmdline`, "utf8")).toBe("sleep\u00001000\u0000");
    expect(pids).not.toContain(process.pid);
  });

  test("table: host ps -ef, header plus exactly the container's rows", () => {
    const lines = rt.ok(["ps", id]).trimEnd().split("\n");
    expect(lines[0]).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    expect(lines).toHaveLength(3);
    const pids = lines.slice(1).map((l) => Number(l.trim().split(/\s+/)[1]));
    expect(pids.sort()).toEqual((JSON.parse(rt.ok(["ps", "--format=json", id])) as number[]).sort());
    expect(lines.join("\n")).toContain("sleep 2000");
    expect(lines.join("\n")).toContain("sleep 1000");
  });

  test("ps options after the id go to ps(1), flags included", () => {
    const out = rt.ok(["ps", id, "-o", "pid,comm"]).trimEnd().split("\n");
    expect(out[0]!.trim().split(/\s+/)).toEqual(["PID", "COMMAND"]);
    expect(out.slice(1).map((l) => l.trim().split(/\s+/)[1])).toEqual(["sleep", "sleep"]);
    // "-f json" after the id is ps's -f (full format), not berth's --format
    expect(rt.ok(["ps", id, "-f"]).split("\n")[0]).toMatch(/^UID\s+PID/);
  });

  test("errors: no PID column, bad format, unknown container", () => {
    const r = rt.run(["ps", id, "-o", "comm"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("couldn't find PID field in ps output");
    const f = rt.run(["ps", "--format", "xml", id]);
    expect(f.code).toBe(2);
    expect(f.stderr).toContain('--format: invalid format "xml"');
    const n = rt.run(["ps", "nosuch"]);
    expect(n.code).toBe(1);
    expect(n.stderr).toContain('container "nosuch" does not exist');
  });

  test("a crafted command line cannot add rows (break-out attempt)", async () => {
    // an argument with newlines and a fake ps row naming host pid 1
    const fake = "x\nroot 1 0 0 00:00 ? 00:00:00 /sbin/init\n   1 fake";
    const cid = runDetached(bundle(["sh", "-c", "sleep 1000; true", fake]), "psinj");
    expect(await waitFor(() => JSON.parse(rt.ok(["ps", "-f", "json", cid])).length === 2)).toBe(true);
    const mine: number[] = JSON.parse(rt.ok(["ps", "-f", "json", cid]));
    for (const args of [[], ["-o", "pid,args"]]) {
      const [header, ...rows] = rt.ok(["ps", cid, ...args]).trimEnd().split("\n");
      const at = header!.trim().split(/\s+/).indexOf("PID");
      expect(rows).toHaveLength(2);
      for (const r of rows) expect(mine).toContain(Number(r.trim().split(/\s+/)[at]));
    }
  });
});

d("pause and resume", () => {
  const counter = (dir: string) => Number(readFileSync(join(dir, "c"), "utf8").trim() || "0");

  test("paused: state says so, the freezer is frozen and the process makes no progress; resume continues", async () => {
    const out = outDir();
    const b = bundle(["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /out/c; usleep 10000; done"], () => {}, out);
    const id = runDetached(b, "pause");
    const pid = rt.state(id).pid;
    expect(await waitFor(() => existsSync(join(out, "c")) && counter(out) > 3)).toBe(true);
    rt.ok(["pause", id]);
    expect(rt.state(id).status).toBe("paused");
    expect(JSON.parse(rt.ok(["list", "--format", "json"])).find((c: { id: string }) => c.id === id).status).toBe("paused");
    if (hasV1("freezer")) expect(readHost(pid, "freezer", "freezer.state")).toBe("FROZEN");
    const frozenAt = counter(out);
    // a running loop bumps the counter every ~10ms; give it many chances
    await Bun.sleep(300);
    expect(counter(out)).toBe(frozenAt);
    rt.ok(["resume", id]);
    expect(rt.state(id).status).toBe("running");
    expect(await waitFor(() => counter(out) > frozenAt + 3)).toBe(true);
  });

  test("errors as runc: pause a paused or stopped container, resume a running one", async () => {
    const id = runDetached(bundle(["sleep", "1000"]), "pauseerr");
    const r = rt.run(["resume", id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not paused (state running)");
    rt.ok(["pause", id]);
    const p = rt.run(["pause", id]);
    expect(p.code).toBe(1);
    expect(p.stderr).toContain("is not running (state paused)");
    rt.ok(["resume", id]);
    rt.ok(["kill", id, "KILL"]);
    expect(await waitFor(() => rt.state(id).status === "stopped")).toBe(true);
    const s = rt.run(["pause", id]);
    expect(s.code).toBe(1);
    expect(s.stderr).toContain("is not running (state stopped)");
    expect(rt.run(["pause"]).code).toBe(2);
  });

  test("a created container can be paused (runc), and still starts after resume", async () => {
    const id = uniqueId("pausecreated");
    rt.ok(["create", "--bundle", bundle(["sleep", "1000"]).dir, id]);
    rt.ok(["pause", id]);
    expect(rt.state(id).status).toBe("paused");
    expect(rt.run(["start", id]).code).not.toBe(0);
    rt.ok(["resume", id]);
    expect(rt.state(id).status).toBe("created");
    rt.ok(["start", id]);
    expect(await waitFor(() => rt.state(id).status === "running")).toBe(true);
  });

  test("kill KILL and delete --force work on a paused container", async () => {
    const a = runDetached(bundle(["sh", "-c", "sleep 1000 & sleep 1000"]), "pausekill");
    rt.ok(["pause", a]);
    rt.ok(["kill", a, "KILL"]);
    expect(await waitFor(() => rt.state(a).status === "stopped")).toBe(true);
    rt.ok(["delete", a]);

    const b = runDetached(bundle(["sleep", "1000"], (s) => (s.linux!.cgroupsPath = `/berth-test-ops-${process.pid}-pausedel`)), "pausedel");
    const pid = rt.state(b).pid;
    const freezerDir = hasV1("freezer") ? hostCgroupFile(pid, "freezer", "") : undefined;
    rt.ok(["pause", b]);
    rt.ok(["delete", "--force", b]);
    expect(rt.run(["state", b]).code).not.toBe(0);
    expect(await waitFor(() => !existsSync(`/proc/${pid}`))).toBe(true);
    if (freezerDir) expect(existsSync(freezerDir)).toBe(false);
  });
});

d("update", () => {
  let id: string;
  let pid: number;
  const memFile = () => readHost(pid, "memory", "memory.limit_in_bytes");
  const pidsFile = () => readHost(pid, "pids", "pids.max");
  beforeAll(() => {
    id = runDetached(
      bundle(["sleep", "1000"], (s) => {
        s.linux!.cgroupsPath = `/berth-test-ops-${process.pid}-update`;
        s.linux!.resources = { memory: { limit: 64 * M }, pids: { limit: 50 } };
      }),
      "update",
    );
    pid = rt.state(id).pid;
  });

  test.skipIf(!hasV1("memory") || !hasV1("pids"))("flags: limits change live, seen from the host; the state keeps them for the next update", () => {
    expect(memFile()).toBe(String(64 * M));
    rt.ok(["update", "--memory", "100m", "--pids-limit", "20", id]);
    expect(memFile()).toBe(String(100 * M));
    expect(pidsFile()).toBe("20");
    expect(record(id).config.linux!.resources).toMatchObject({ memory: { limit: 100 * M }, pids: { limit: 20 } });

    rt.ok(["update", "--cpu-share", "512", "--cpu-quota", "20000", id]);
    expect(memFile()).toBe(String(100 * M)); // untouched by the second update
    expect(pidsFile()).toBe("20");
    expect(readHost(pid, "cpu", "cpu.shares")).toBe("512");
    expect(readHost(pid, "cpu", "cpu.cfs_quota_us")).toBe("20000");
    // period alone keeps the quota (runc)
    rt.ok(["update", "--cpu-period", "50000", id]);
    expect(readHost(pid, "cpu", "cpu.cfs_quota_us")).toBe("20000");
    expect(readHost(pid, "cpu", "cpu.cfs_period_us")).toBe("50000");
    expect(record(id).config.linux!.resources).toEqual({
      memory: { limit: 100 * M },
      pids: { limit: 20 },
      cpu: { shares: 512, quota: 20000, period: 50000 },
    });
  });

  test.skipIf(!hasV1("memory") || !hasV1("pids"))("--resources FILE and - (stdin)", async () => {
    const f = join(outDir(), "r.json");
    writeFileSync(f, JSON.stringify({ memory: { limit: 128 * M, reservation: 0 }, cpu: { shares: 0 } }));
    rt.ok(["update", "--resources", f, id]);
    expect(memFile()).toBe(String(128 * M));
    const s = spawnCli(["update", "-r", "-", id], JSON.stringify({ pids: { limit: 33 } }));
    expect(await s.done).toBe(0);
    expect(pidsFile()).toBe("33");
    expect(record(id).config.linux!.resources).toMatchObject({ memory: { limit: 128 * M }, pids: { limit: 33 } });
  });

  test.skipIf(!hasV1("memory") || !hasV1("pids"))("bad values: a clear error naming the flag or field, and nothing changes", () => {
    const before = { mem: memFile(), pids: pidsFile(), rec: record(id).config.linux!.resources };
    const bad = join(outDir(), "bad.json");
    const cases: [string[], number, RegExp][] = [
      [["--memory", "abc"], 2, /--memory: invalid size: "abc"/],
      [["--memory", "50m", "--pids-limit", "many"], 2, /--pids-limit: invalid value "many"/],
      [["--memory", "50m", "--cpu-quota", "500"], 2, /linux\.resources\.cpu\.quota: 500 is out of range/],
      [["--memory", "50m", "--blkio-weight", "5"], 2, /linux\.resources\.blockIO\.weight: 5 is out of range/],
      [["--memory", "50m", "--memory-swap", "10m"], 2, /memory\.swap: 10485760 is below memory\.limit/],
      [["--memory", "50m", "--cpuset-cpus", "0-999"], 2, /cpu\.cpus: "0-999" names cpus .* not online/],
      [["--l3-cache-schema", "L3:0=f", id], 1, /intel rdt is not supported/],
      [["--resources", bad, "--memory", "50m"], 2, /--resources cannot be combined with --memory/],
    ];
    for (const [args, code, re] of cases) {
      const r = rt.run(["update", ...args, ...(args.includes(id) ? [] : [id])]);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).toMatch(re);
    }
    for (const [body, re] of [
      ['{"memory":{"limit":"big"}}', /memory\.limit: /],
      ['{"unified":{"../../cgroup.procs":"1"}}', /unified\["\.\.\/\.\.\/cgroup\.procs"\]: must be a cgroup file name/],
      ["{", /invalid json/],
    ] as const) {
      writeFileSync(bad, body);
      const r = rt.run(["update", "-r", bad, id]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
    }
    expect({ mem: memFile(), pids: pidsFile(), rec: record(id).config.linux!.resources }).toEqual(before);
  });

  // a realtime budget above the parent's passes every check but the kernel's, after memory was written
  const rtFile = "/sys/fs/cgroup/cpu/cpu.rt_runtime_us";
  test.skipIf(!isRoot || !existsSync(rtFile))("a write the kernel refuses rolls back the writes before it", () => {
    const before = { mem: memFile(), rec: record(id).config.linux!.resources };
    const tooMuch = Number(readFileSync(rtFile, "utf8")) + 10_000;
    const r = rt.run(["update", "--memory", "300m", "--cpu-rt-runtime", String(tooMuch), id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/linux\.resources\.cpu\.realtimeRuntime: write cpu\.rt_runtime_us: E[A-Z]+/);
    expect({ mem: memFile(), rec: record(id).config.linux!.resources }).toEqual(before);
  });

  test.skipIf(!hasV1("pids"))("the container cannot raise its own limits from inside (break-out attempt)", () => {
    const b = bundle(["sh", "-c", "echo max > /sys/fs/cgroup/pids/pids.max; echo rc=$?; cat /sys/fs/cgroup/pids/pids.max"], (s) => {
      s.linux!.resources = { pids: { limit: 30 } };
    });
    const out = rt.runBundle(b);
    expect(out.stdout).toMatch(/rc=[1-9]/);
    expect(out.stdout.trim().split("\n").pop()).toBe("30");
  });

  test("a stopped container cannot be updated", async () => {
    const sid = runDetached(bundle(["true"]), "updstopped");
    expect(await waitFor(() => rt.state(sid).status === "stopped")).toBe(true);
    const r = rt.run(["update", "--memory", "10m", sid]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`update ${sid}: container is not running`);
  });
});

const STATS_KEYS = ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"];

d("events", () => {
  test("--stats: one runc-shaped stats event with this container's numbers", () => {
    const id = runDetached(
      bundle(["sh", "-c", "sleep 1000 & sleep 1000"], (s) => (s.linux!.resources = { memory: { limit: 64 * M }, pids: { limit: 50 } })),
      "stats",
    );
    const out = rt.ok(["events", "--stats", id]);
    expect(out.endsWith("}\n")).toBe(true);
    expect(out.trim().split("\n")).toHaveLength(1);
    const e = JSON.parse(out);
    expect(Object.keys(e)).toEqual(["type", "id", "data"]);
    expect(e.type).toBe("stats");
    expect(e.id).toBe(id);
    expect(Object.keys(e.data)).toEqual(STATS_KEYS);
    expect(e.data.pids).toEqual({ current: 2, limit: 50 });
    expect(e.data.memory.usage.limit).toBe(64 * M);
    expect(e.data.memory.usage.usage).toBeGreaterThan(0);
    expect(e.data.cpu.usage.total).toBeGreaterThan(0);
    expect(Object.keys(e.data.cpu)).toEqual(["usage", "throttling"]);
  });

  test.skipIf(!existsSync("/usr/sbin/runc"))("--stats: the same fields as runc 1.1 on the same bundle", () => {
    const b = bundle(["sleep", "1000"], (s) => {
      s.linux!.resources = { memory: { limit: 64 * M }, pids: { limit: 50 } };
    });
    const id = runDetached(b, "statscmp");
    const runcRoot = mkdtempSync(join(tmpdir(), "berth-ops-runc-"));
    const rid = `runc-${process.pid}`;
    const spec = JSON.parse(readFileSync(join(b.dir, "config.json"), "utf8"));
    spec.linux.cgroupsPath = `/berth-test-ops-${rid}`; // not below berth's: runc removes only its leaf
    spec.root.path = realpathSync(spec.root.path); // runc refuses a symlinked rootfs path
    writeFileSync(join(b.dir, "config.json"), JSON.stringify(spec));
    // a detached container keeps runc's stdio: files, not pipes (see RuntimeCli.run)
    const runc = (args: string[]) => {
      const out = join(runcRoot, ".out");
      const err = join(runcRoot, ".err");
      const r = Bun.spawnSync(["/usr/sbin/runc", "--root", runcRoot, ...args], { cwd: b.dir, stdin: "ignore", stdout: Bun.file(out), stderr: Bun.file(err) });
      return { exitCode: r.exitCode, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") };
    };
    cleanups.push(() => {
      runc(["delete", "--force", rid]);
      rmSync(runcRoot, { recursive: true, force: true });
    });
    const started = runc(["run", "-d", rid]);
    expect({ code: started.exitCode, err: started.stderr }).toEqual({ code: 0, err: "" });
    const theirs = JSON.parse(runc(["events", "--stats", rid]).stdout);
    const ours = JSON.parse(rt.ok(["events", "--stats", id]));
    const paths = (o: unknown, p = ""): string[] =>
      o && typeof o === "object" && !Array.isArray(o)
        ? Object.entries(o).flatMap(([k, v]) => (p.endsWith("/raw") ? [] : [`${p}/${k}`, ...paths(v, `${p}/${k}`)]))
        : Array.isArray(o) && o.length && typeof o[0] === "object" ? paths(o[0], `${p}[]`) : [];
    const mine = paths(ours);
    // everything runc reports, berth reports, in the same order (berth may add hugetlb page sizes from cgroup2)
    expect(mine.filter((x) => paths(theirs).includes(x))).toEqual(paths(theirs));
    expect(mine.filter((x) => !paths(theirs).includes(x)).every((x) => x.startsWith("/data/hugetlb/"))).toBe(true);
    expect(ours.data.memory.raw && Object.keys(ours.data.memory.raw)).toEqual(Object.keys(theirs.data.memory.raw));
  });

  test("stream: stats every interval, ends by itself when the container stops", async () => {
    const id = runDetached(bundle(["sleep", "1000"]), "stream");
    const s = spawnCli(["events", "--interval", "100ms", id]);
    expect(await waitFor(() => s.lines.length >= 3, 10_000)).toBe(true);
    for (const l of s.lines.slice(0, 3)) {
      const e = JSON.parse(l);
      expect([e.type, e.id, Object.keys(e.data)]).toEqual(["stats", id, STATS_KEYS]);
    }
    rt.ok(["kill", id, "KILL"]);
    expect(await s.done).toBe(0);
    expect(s.stderr()).toBe("");
  });

  test.skipIf(!hasV1("memory") && !existsSync("/sys/fs/cgroup/cgroup.controllers"))("oom: a memory hog over its limit gives an oom event", async () => {
    const out = outDir();
    // dd's 100M buffer is filled by read(2) from /dev/zero: real pages, over a 32M limit (and no swap)
    const hog = "while [ ! -e /out/go ]; do usleep 20000; done; dd if=/dev/zero of=/dev/null bs=100M count=1; echo dd=$? > /out/rc; sleep 1000";
    const id = runDetached(
      bundle(["sh", "-c", hog], (s) => {
        s.linux!.cgroupsPath = `/berth-test-ops-${process.pid}-oom`;
        const memsw = existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
        s.linux!.resources = { memory: { limit: 32 * M, ...(memsw ? { swap: 32 * M } : {}) } };
      }, out),
      "oom",
    );
    // the library watcher on the same cgroup: the kernel's eventfd notification where v1 has it
    const cg = loadCgroupManager(record(id).cgroup!);
    const watcher = watchOom(cg)!;
    cleanups.push(() => watcher.close());
    if (cg.dirFor("memory")!.version === 1 && existsSync(join(cg.dirFor("memory")!.dir, "cgroup.event_control"))) expect(watcher.kind).toBe("eventfd");
    const s = spawnCli(["events", "--interval", "100ms", id]);
    // the first stats line comes after events has registered its watcher
    expect(await waitFor(() => s.lines.length >= 1, 10_000)).toBe(true);
    writeFileSync(join(out, "go"), "");
    expect(await waitFor(() => s.lines.some((l) => l === `{"type":"oom","id":"${id}"}`), 15_000)).toBe(true);
    expect(await waitFor(() => existsSync(join(out, "rc")))).toBe(true);
    expect(readFileSync(join(out, "rc"), "utf8").trim()).toBe("dd=137"); // SIGKILLed by the OOM killer
    expect(watcher.poll()).toBeGreaterThan(0);
    // later stats show usage reached the limit
    const peak = () => s.lines.filter((l) => l.includes('"type":"stats"')).map((l) => (JSON.parse(l).data.memory.usage.max as number | undefined) ?? 0);
    expect(await waitFor(() => peak().some((n) => n >= 31 * M))).toBe(true);
    rt.ok(["kill", id, "KILL"]);
    expect(await s.done).toBe(0);
  });

  test("errors: stopped container, bad interval", async () => {
    const id = runDetached(bundle(["true"]), "evstopped");
    expect(await waitFor(() => rt.state(id).status === "stopped")).toBe(true);
    const r = rt.run(["events", id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`events ${id}: container is not running`);
    expect(rt.run(["events", "--interval", "0", id]).stderr).toContain("duration interval must be greater than 0");
    expect(rt.run(["events", "--interval", "soon", id]).code).toBe(2);
  });
});

d("features", () => {
  test("parses; what it lists works in a real container", () => {
    const f = JSON.parse(rt.ok(["features"]));
    expect(Object.keys(f)).toEqual(["ociVersionMin", "ociVersionMax", "mountOptions", "linux", "annotations"]);
    expect(f.linux.seccomp.enabled).toBe(true);
    // every namespace it names, at once (user needs a rootfs owned by the mapped ids: not this shared busybox tree)
    const ns: string[] = f.linux.namespaces.filter((n: string) => n !== "user");
    const r = rt.runBundle(bundle(["sh", "-c", "ls /proc/self/ns"], (s) => (s.linux!.namespaces = ns.map((type) => ({ type }) as NonNullable<NonNullable<Bundle["spec"]["linux"]>["namespaces"]>[number]))));
    expect(r.code).toBe(0);
    // a tmpfs mounted with every listed option that applies to a fresh mount
    const opts = (f.mountOptions as string[]).filter((o) => !/bind|remount|shared|slave|private|unbindable/.test(o) && o !== "ro");
    const m = rt.runBundle(bundle(["sh", "-c", "grep ' /mnt/t ' /proc/self/mountinfo"], (s) => s.mounts!.push({ destination: "/mnt/t", type: "tmpfs", source: "tmpfs", options: opts })));
    expect(m.code).toBe(0);
    expect(m.stdout).toContain(" - tmpfs ");
  });

  test.skipIf(!existsSync("/usr/sbin/runc"))("the same document keys as runc's features, within the runtime-spec's", () => {
    const theirs = JSON.parse(Bun.spawnSync(["/usr/sbin/runc", "features"]).stdout.toString());
    const ours = JSON.parse(rt.ok(["features"]));
    for (const k of Object.keys(ours.linux)) expect(["namespaces", "capabilities", "cgroup", "seccomp", "apparmor", "selinux", "intelRdt", "memoryPolicy", "mountExtensions", "netDevices"]).toContain(k);
    for (const k of Object.keys(theirs.linux)) expect(Object.keys(ours.linux)).toContain(k);
    // runc recognizes every namespace berth does except time (runc 1.1 has no time namespace)
    expect(theirs.linux.namespaces.every((n: string) => ours.linux.namespaces.includes(n))).toBe(true);
  });
});

d("cleanup", () => {
  test("deleting every container leaves no state, process or cgroup of this file behind", async () => {
    const pids = rt.ids().map((id) => rt.state(id).pid).filter((p) => p > 0);
    for (const id of rt.ids()) rt.ok(["delete", "--force", id]);
    expect(rt.ids()).toEqual([]);
    expect(await waitFor(() => pids.every((p) => !existsSync(`/proc/${p}`) || readFileSync(`/proc/${p}/stat`, "utf8").includes(") Z")))).toBe(true);
    const left = readdirSync("/sys/fs/cgroup").flatMap((c) => {
      try {
        return readdirSync(`/sys/fs/cgroup/${c}`).filter((n) => n.startsWith(`berth-test-ops-${process.pid}-`)).map((n) => `${c}/${n}`);
      } catch {
        return [];
      }
    });
    expect(left).toEqual([]);
  });
});
