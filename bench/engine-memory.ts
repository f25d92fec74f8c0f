/**
 * bench/engine-memory.ts — memory per idle container through each engine:
 * BENCH_N (50) `run -d --network none IMG sleep 1000` per engine, one engine at
 * a time, then
 *
 *   - the per-container monitor (berth-monitor / containerd-shim-runc-v2 under
 *     dockerd's containerd / conmon under podman): VmRSS from /proc/PID/status
 *     (shared pages counted in full, what `ps` shows), Pss and private memory
 *     from /proc/PID/smaps_rollup (what one more container really costs);
 *   - the daemon's growth: the sum of VmRSS of berthd / dockerd + containerd
 *     with the containers running, minus the same before the first one started
 *     (after one warm-up run). podman has no daemon.
 *
 * Then every container is removed. BENCH_ENGINES picks engines; results in
 * .bench/engine-memory.json.
 */
import { readFileSync } from "node:fs";
import { pad, positiveInt, saveResults } from "./lib.ts";
import { type Engine, engineBench, loadavg, reapOrphans, rssKb, runArgv } from "./engine-lib.ts";

const N = positiveInt("BENCH_N", 50);
const SETTLE_MS = positiveInt("BENCH_SETTLE_MS", 1000, true);

interface Mem {
  rssKb: number;
  pssKb: number;
  privateKb: number;
}

function memOf(pid: number): Mem | null {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
    return { rssKb: rssKb(pid), pssKb: kb("Pss"), privateKb: kb("Private_Clean") + kb("Private_Dirty") };
  } catch {
    return null; // gone
  }
}

interface Row {
  engine: string;
  monitor: string;
  started: number;
  monitors: number;
  avg: Mem;
  maxRssKb: number;
  daemonBeforeKb: number | null;
  daemonAfterKb: number | null;
  startAllMs: number;
  error?: string;
}

const sumRss = (pids: number[]) => pids.reduce((s, p) => s + rssKb(p), 0);

function spawnOut(argv: string[], env: Record<string, string>) {
  const r = Bun.spawnSync({ cmd: argv, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { ok: r.exitCode === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

async function measure(e: Engine): Promise<Row> {
  console.error(`bench: ${e.name}: ${N} idle containers`);
  // warm-up: the daemon's first container loads code paths a baseline should already include
  spawnOut(runArgv(e, ["--rm", "--network", "none"], ["true"]), e.env);
  reapOrphans();
  await Bun.sleep(SETTLE_MS);
  const daemon = e.daemonPids();
  const daemonBeforeKb = daemon.length ? sumRss(daemon) : null;
  const ids: string[] = [];
  let error: string | undefined;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const r = spawnOut(runArgv(e, ["-d", "--network", "none"], ["sleep", "1000"]), e.env);
    if (!r.ok) {
      error = r.err.split("\n").slice(-3).join(" / ");
      break;
    }
    ids.push(r.out);
  }
  const startAllMs = performance.now() - t0;
  await Bun.sleep(SETTLE_MS); // settled and idle
  const monitors = e.monitorPids();
  const mems = monitors.map(memOf).filter((m): m is Mem => m !== null);
  const avg = (f: (m: Mem) => number) => (mems.length ? mems.reduce((s, m) => s + f(m), 0) / mems.length : 0);
  const daemonAfterKb = daemon.length ? sumRss(e.daemonPids()) : null;
  const row: Row = {
    engine: e.name,
    monitor: e.monitorName,
    started: ids.length,
    monitors: mems.length,
    avg: { rssKb: avg((m) => m.rssKb), pssKb: avg((m) => m.pssKb), privateKb: avg((m) => m.privateKb) },
    maxRssKb: Math.max(0, ...mems.map((m) => m.rssKb)),
    daemonBeforeKb,
    daemonAfterKb,
    startAllMs,
    ...(error ? { error } : {}),
  };
  console.error(`bench: ${e.name}: removing ${ids.length} containers`);
  for (let i = 0; i < ids.length; i += 25) spawnOut([...e.cli, ...e.rmForce, ...ids.slice(i, i + 25)], e.env);
  reapOrphans();
  return row;
}

function table(rows: Row[]): string {
  const mb = (kb: number) => (kb / 1024).toFixed(2);
  const head =
    pad("engine / monitor", 36) +
    ["running", "monitors", "RSS MB", "Pss MB", "priv MB", "max RSS", "daemon +MB", "+MB/ctr", "start all s"].map((h) => pad(h, 12, true)).join("");
  const lines = rows.map((r) => {
    const growth = r.daemonBeforeKb === null || r.daemonAfterKb === null ? null : r.daemonAfterKb - r.daemonBeforeKb;
    const cells = [
      String(r.started),
      String(r.monitors),
      mb(r.avg.rssKb),
      mb(r.avg.pssKb),
      mb(r.avg.privateKb),
      mb(r.maxRssKb),
      growth === null ? "(none)" : mb(growth),
      growth === null || !r.started ? "-" : mb(growth / r.started),
      (r.startAllMs / 1000).toFixed(1),
    ];
    return pad(`${r.engine} / ${r.monitor}`, 36) + cells.map((c) => pad(c, 12, true)).join("") + (r.error ? `\n    stopped early: ${r.error}` : "");
  });
  const ref = rows[0];
  if (ref && ref.monitors)
    for (const r of rows.slice(1))
      if (r.monitors)
        lines.push(
          `ratio ${r.monitor}/${ref.monitor} per container: RSS ${(r.avg.rssKb / ref.avg.rssKb).toFixed(1)}x, Pss ${(r.avg.pssKb / ref.avg.pssKb).toFixed(1)}x, private ${(r.avg.privateKb / ref.avg.privateKb).toFixed(1)}x`,
        );
  return [`memory per idle container, ${N} \`sleep 1000\` containers per engine (monitor: average per process; daemon: VmRSS sum after minus before)`, head, ...lines].join("\n");
}

await engineBench(async (engines, skipped) => {
  const loadBefore = loadavg();
  const rows: Row[] = [];
  for (const e of engines) rows.push(await measure(e));
  console.log(`engines: ${engines.map((e) => e.name).join(", ")}${Object.keys(skipped).length ? `; skipped: ${Object.keys(skipped).join(", ")}` : ""}; load average ${loadBefore} -> ${loadavg()}`);
  console.log(table(rows));
  saveResults("engine-memory", { n: N, skipped, loadBefore, loadAfter: loadavg(), rows });
});
