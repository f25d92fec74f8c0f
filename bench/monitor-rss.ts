/**
 * bench/monitor-rss.ts — memory of the per-container monitor with BENCH_N
 * (50) idle containers running: berth's monitor (native/monitor/berth-monitor)
 * against podman's conmon (Debian's conmon, podman + runc), in the same run.
 * For each monitor process: VmRSS (what `ps` shows, shared pages counted in
 * full), Pss (shared pages divided among their users) and private memory
 * (what one more container costs). BENCH_SKIP_SETUP as in lib.ts;
 * BENCH_PODMAN=0 skips the conmon row.
 *
 *   sudo bun bench/monitor-rss.ts
 */
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BenchError, ROOTFS, die, makeBundle, pad, positiveInt, removeTree, saveResults, setup, sh, resolveBin } from "./lib.ts";
import { Runtime } from "../src/runtime/container.ts";
import { setChildSubreaper, reapChild } from "../src/runtime/sys/reaper.ts";
import { startMonitored, type MonitoredContainer } from "../src/engine/monitor/index.ts";

const N = positiveInt("BENCH_N", 50);
const WITH_PODMAN = process.env.BENCH_PODMAN !== "0";

interface Mem {
  rssKb: number;
  pssKb: number;
  privateKb: number;
}

function memOf(pid: number): Mem {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? NaN);
  const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
  return { rssKb: rss, pssKb: kb("Pss"), privateKb: kb("Private_Clean") + kb("Private_Dirty") };
}

interface Row {
  name: string;
  monitors: number;
  avg: Mem;
  max: Mem;
  startMs: number;
}

function summarize(name: string, mems: Mem[], startMs: number): Row {
  const avg = (f: (m: Mem) => number) => mems.reduce((s, m) => s + f(m), 0) / mems.length;
  const max = (f: (m: Mem) => number) => Math.max(...mems.map(f));
  return {
    name,
    monitors: mems.length,
    avg: { rssKb: avg((m) => m.rssKb), pssKb: avg((m) => m.pssKb), privateKb: avg((m) => m.privateKb) },
    max: { rssKb: max((m) => m.rssKb), pssKb: max((m) => m.pssKb), privateKb: max((m) => m.privateKb) },
    startMs,
  };
}

let tmp = "";
let podman: string[] = [];
const conmonPids: number[] = [];
const berthContainers: MonitoredContainer[] = [];
let rt: Runtime | undefined;

async function berth(runc: string): Promise<Row> {
  const { tmp: btmp, bundle } = makeBundle(runc, (c) => (c.process.args = ["sleep", "100000"]));
  tmp = btmp;
  rt = new Runtime(join(tmp, "state"));
  const execRoot = join(tmp, "exec");
  const t0 = performance.now();
  for (let i = 0; i < N; i++) berthContainers.push(await startMonitored({ runtime: rt, execRoot, id: `rss-${i}`, bundle }));
  const startMs = performance.now() - t0;
  await Bun.sleep(500); // settled and idle
  const mems = berthContainers.map((c) => memOf(c.monitorPid ?? die(`no monitor pid for ${c.id}`)));
  return summarize("berth-monitor", mems, startMs);
}

async function conmon(): Promise<Row | null> {
  if (!WITH_PODMAN) return null;
  if (!resolveBin("podman") || !resolveBin("conmon")) {
    console.error("bench: podman or conmon not found: the conmon row is skipped");
    return null;
  }
  const ptmp = mkdtempSync(join(tmpdir(), "berth-bench-conmon-"));
  podman = ["podman", "--root", join(ptmp, "storage"), "--runroot", join(ptmp, "run"), "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
  tmp = tmp ? `${tmp}\n${ptmp}` : ptmp;
  sh(["tar", "-C", ROOTFS, "-cf", join(ptmp, "rootfs.tar"), "."], "tar rootfs");
  sh([...podman, "import", join(ptmp, "rootfs.tar"), "localhost/bench:busybox"], "podman import");
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < N; i++) {
    // podman's default ulimits exceed this machine's hard limits (MACHINE.md)
    const id = sh([...podman, "--runtime", "runc", "run", "-d", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "localhost/bench:busybox", "sleep", "100000"], "podman run").trim();
    ids.push(id);
  }
  const startMs = performance.now() - t0;
  for (const id of ids) conmonPids.push(Number(sh([...podman, "inspect", "--format", "{{.State.ConmonPid}}", id], "podman inspect").trim()));
  await Bun.sleep(500);
  return summarize("conmon (podman + runc)", conmonPids.map(memOf), startMs);
}

async function cleanup() {
  for (const c of berthContainers) {
    try {
      rt?.kill(c.id, 9);
      await c.wait();
      await c.remove();
    } catch {}
  }
  if (podman.length) {
    Bun.spawnSync({ cmd: [...podman, "rm", "--all", "--force", "--time", "0"], stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    // conmon runs `podman container cleanup` as each container exits; those mount the
    // storage again. Wait for every such process (orphans come to us: reap them), then unmount.
    const ptmp = tmp.split("\n").pop()!;
    for (let i = 0; i < 600; i++) {
      reapZombieChildren();
      if (!processesMentioning(ptmp).length && conmonPids.every((p) => reapChild(p).state !== "running")) break;
      await Bun.sleep(100);
    }
    // podman leaves its storage's overlay directory bind-mounted on itself
    for (const mp of mountsUnder(ptmp)) Bun.spawnSync({ cmd: ["umount", "-l", mp], stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  }
  for (const dir of tmp.split("\n")) if (dir) removeTree(dir);
}

/** Live processes whose command line mentions s. */
function processesMentioning(s: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(s)) out.push(Number(p));
    } catch {}
  }
  return out;
}

/** Collect our children that are zombies (orphans reparented to us, a subreaper). */
function reapZombieChildren() {
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z" && Number(ppid) === process.pid) reapChild(Number(p));
    } catch {}
  }
}

/** Mount points under dir, deepest first. */
function mountsUnder(dir: string): string[] {
  if (!dir) return [];
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((mp) => mp.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
}

function table(rows: Row[]): string {
  const head = `${pad("monitor", 24)}${pad("count", 7, true)}${pad("VmRSS kB", 11, true)}${pad("Pss kB", 9, true)}${pad("private kB", 12, true)}${pad("max RSS", 9, true)}${pad("start all ms", 14, true)}`;
  const lines = rows.map(
    (r) =>
      `${pad(r.name, 24)}${pad(String(r.monitors), 7, true)}${pad(r.avg.rssKb.toFixed(0), 11, true)}${pad(r.avg.pssKb.toFixed(0), 9, true)}${pad(r.avg.privateKb.toFixed(0), 12, true)}${pad(String(r.max.rssKb), 9, true)}${pad(r.startMs.toFixed(0), 14, true)}`,
  );
  const [b, c] = rows;
  if (b && c)
    lines.push(
      `ratio berth/conmon: VmRSS ${(b.avg.rssKb / c.avg.rssKb).toFixed(3)}x, Pss ${(b.avg.pssKb / c.avg.pssKb).toFixed(3)}x, private ${(b.avg.privateKb / c.avg.privateKb).toFixed(3)}x`,
    );
  return [`monitor memory per container, ${N} idle containers each (averages per monitor process)`, head, ...lines].join("\n");
}

async function main() {
  setup();
  const runc = resolveBin(process.env.RUNC ?? "runc") ?? die("runc not found");
  setChildSubreaper(true); // monitors are orphans by design; we reap them (pid 1 here does not)
  const rows: Row[] = [await berth(runc)];
  const c = await conmon();
  if (c) rows.push(c);
  console.log(table(rows));
  saveResults("monitor-rss", { n: N, rows });
}

process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));
try {
  await main();
} catch (e) {
  if (!(e instanceof BenchError)) throw e;
  console.error(`bench: error: ${e.message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
