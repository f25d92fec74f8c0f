/**
 * bench/run-true.ts — time `RUNTIME run` of /bin/true in a busybox bundle, berth
 * against runc, in one run on one machine. See bench/README.md.
 *
 *   bun bench/run-true.ts            (or: npm run bench)
 *
 * Environment:
 *   BENCH_N=30         timed runs per runtime
 *   BENCH_WARMUP=2     untimed runs per runtime first
 *   RUNTIME=path       the runtime measured as "berth" (default bin/berth-runtime)
 *   RUNC=path          the reference runtime (default runc from PATH)
 *   BENCH_TRACE_N=5    extra berth runs with BERTH_TRACE=1 to see where time goes
 *   BENCH_SKIP_SETUP=1 do not run scripts/setup.sh first
 *
 * Both runtimes run the same bundle (config.json from `runc spec`, minus the
 * terminal, args ["/bin/true"]) with their own --root state dir in a temp dir.
 * Iterations alternate the order of the runtimes so both share the machine's noise.
 * Results are printed as a table and written to .bench/run-true.json.
 */
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dir, "..");
const N = positiveInt("BENCH_N", 30);
const WARMUP = positiveInt("BENCH_WARMUP", 2, true);
const TRACE_N = positiveInt("BENCH_TRACE_N", 5, true);
const ROOTFS = join(REPO, ".cache/rootfs/busybox");

interface Peer {
  name: string;
  bin: string;
  state: string;
  times: number[];
  failures: number;
  lastError: string;
  broken: boolean;
}

interface RunResult {
  ms: number;
  ok: boolean;
  stderr: string;
}

function positiveInt(name: string, dflt: number, zeroOk = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < (zeroOk ? 0 : 1)) {
    console.error(`bench: ${name} must be a ${zeroOk ? "non-negative" : "positive"} integer, got ${raw}`);
    process.exit(2);
  }
  return v;
}

class BenchError extends Error {}

/** Aborts the benchmark; the temp dir is still cleaned up. */
function die(msg: string): never {
  throw new BenchError(msg);
}

function sh(cmd: string[], what: string): string {
  const r = Bun.spawnSync({ cmd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) die(`${what}: ${cmd.join(" ")} exited ${r.exitCode}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

function resolveBin(bin: string): string | null {
  if (bin.includes("/")) return existsSync(bin) ? resolve(bin) : null;
  return Bun.which(bin);
}

// ------------------------------------------------------------------ setup
let tmp = "";
const peers: Peer[] = [];
const created = new Set<string>(); // "peerIndex:id" of containers that may need deleting

function cleanup(): void {
  for (const key of created) {
    const [i, id] = key.split(":") as [string, string];
    const p = peers[Number(i)]!;
    Bun.spawnSync({ cmd: [p.bin, "--root", p.state, "delete", "--force", id], stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  }
  created.clear();
  // --one-file-system: never follow a mount that leaked into the bundle.
  if (tmp) Bun.spawnSync({ cmd: ["rm", "-rf", "--one-file-system", tmp], stdin: "ignore", stdout: "ignore", stderr: "inherit" });
  tmp = "";
}
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});
process.on("SIGTERM", () => {
  cleanup();
  process.exit(143);
});

try {
  main();
} catch (e) {
  if (!(e instanceof BenchError)) throw e;
  console.error(`bench: error: ${e.message}`);
  process.exitCode = 1;
} finally {
  cleanup();
}

// ------------------------------------------------------------------ main
function main(): void {
  if (process.env.BENCH_SKIP_SETUP !== "1") {
    const r = Bun.spawnSync({ cmd: ["bash", join(REPO, "scripts/setup.sh")], stdin: "ignore", stdout: "inherit", stderr: "inherit" });
    if (r.exitCode !== 0) die("scripts/setup.sh failed");
  } else {
    sh(["bash", join(REPO, "scripts/make-rootfs.sh"), ROOTFS], "make-rootfs");
  }
  if (process.getuid?.() !== 0) die("run as root: containers need it");

  const runcBin = resolveBin(process.env.RUNC ?? "runc") ?? die("runc not found (apt-get install runc, or set RUNC=)");
  const berthArg = process.env.RUNTIME ?? join(REPO, "bin/berth-runtime");
  const berthBin = resolveBin(berthArg) ?? die(`${berthArg} not found (set RUNTIME= to measure another runtime)`);
  const berthName = process.env.RUNTIME ? `berth[RUNTIME=${process.env.RUNTIME}]` : "berth";

  tmp = mkdtempSync(join(tmpdir(), "berth-bench-"));
  const bundle = join(tmp, "bundle");
  mkdirSync(bundle);
  peers.push(
    { name: berthName, bin: berthBin, state: join(tmp, "state-berth"), times: [], failures: 0, lastError: "", broken: false },
    { name: "runc", bin: runcBin, state: join(tmp, "state-runc"), times: [], failures: 0, lastError: "", broken: false },
  );
  const [berth, runc] = peers as [Peer, Peer];

  sh(["cp", "-a", ROOTFS, join(bundle, "rootfs")], "copy rootfs");
  sh([runcBin, "spec", "--bundle", bundle], "runc spec");
  const configPath = join(bundle, "config.json");
  const config = JSON.parse(readFileSync(configPath, "utf8")) as {
    process: { terminal?: boolean; args: string[] };
  };
  config.process.terminal = false;
  config.process.args = ["/bin/true"];
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  console.error(`bench: ${peers.map((p) => `${p.name}=${p.bin}`).join(", ")}`);
  console.error(`bench: ${WARMUP} warm-up + ${N} timed runs each, interleaved; bundle ${bundle}`);

  let seq = 0;
  const runOnce = (pi: number, env?: Record<string, string>, log?: string): RunResult => {
    const p = peers[pi]!;
    const id = `bench-${process.pid}-${seq++}`;
    created.add(`${pi}:${id}`);
    const cmd = [p.bin, "--root", p.state, ...(log ? ["--log", log] : []), "run", "--bundle", bundle, id];
    const t0 = performance.now();
    const r = Bun.spawnSync({ cmd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
    const ms = performance.now() - t0;
    const ok = r.exitCode === 0;
    if (ok) created.delete(`${pi}:${id}`); // run deletes the container when it exits
    return { ms, ok, stderr: r.stderr.toString() };
  };

  const measure = (pi: number, timed: boolean): void => {
    const p = peers[pi]!;
    if (p.broken) return;
    const r = runOnce(pi);
    if (r.ok) {
      if (timed) p.times.push(r.ms);
      return;
    }
    p.failures++;
    p.lastError = r.stderr.trim().split("\n").slice(-5).join("\n");
    // A runtime that fails its first runs is not going to work: stop asking it.
    if (p.times.length === 0 && p.failures >= 3) {
      p.broken = true;
      console.error(`bench: ${p.name} failed 3 times, dropped. last error:\n${indent(p.lastError)}`);
    }
  };

  for (let i = 0; i < WARMUP; i++) for (let pi = 0; pi < peers.length; pi++) measure(pi, false);
  for (let i = 0; i < N; i++) {
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const pi of order) measure(pi, true);
  }

  // ---------------------------------------------------------------- report
  const rows = peers.map((p) => ({ p, s: stats(p.times) }));
  const out: string[] = [];
  out.push("");
  out.push(`run of /bin/true (busybox bundle), ${N} runs each, times in ms`);
  out.push(pad("runtime", 34) + ["median", "p90", "min", "max", "runs", "failed"].map((h) => pad(h, 8, true)).join(""));
  for (const { p, s } of rows) {
    const cells = s ? [s.median, s.p90, s.min, s.max].map((v) => v.toFixed(1)) : ["-", "-", "-", "-"];
    out.push(pad(p.name, 34) + [...cells, String(p.times.length), String(p.failures)].map((c) => pad(c, 8, true)).join(""));
  }
  const sb = stats(berth.times);
  const sr = stats(runc.times);
  if (sb && sr) {
    out.push(`ratio berth/runc: median ${(sb.median / sr.median).toFixed(2)}x, p90 ${(sb.p90 / sr.p90).toFixed(2)}x, min ${(sb.min / sr.min).toFixed(2)}x`);
  } else {
    out.push("ratio berth/runc: n/a (a runtime produced no successful run)");
  }
  for (const p of peers) {
    if (p.failures > 0 && !p.broken) out.push(`${p.name}: ${p.failures} failed run(s); last error:\n${indent(p.lastError)}`);
  }
  console.log(out.join("\n"));

  // ---------------------------------------------------------------- trace
  const trace = berth.broken ? null : traceBerth(runOnce);

  mkdirSync(join(REPO, ".bench"), { recursive: true });
  writeFileSync(
    join(REPO, ".bench/run-true.json"),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        n: N,
        warmup: WARMUP,
        peers: rows.map(({ p, s }) => ({ name: p.name, bin: p.bin, failures: p.failures, stats: s, times: p.times })),
        ratio_median: sb && sr ? sb.median / sr.median : null,
        trace,
      },
      null,
      2,
    ) + "\n",
  );
  console.error("bench: results in .bench/run-true.json");
  if (peers.some((p) => p.times.length === 0)) process.exitCode = 1;
}

// ------------------------------------------------------------------ BERTH_TRACE
/**
 * Runs berth a few more times (untimed) with BERTH_TRACE=1 and collects timing
 * lines from its stderr and its --log file. Understood: any "label 1.2ms",
 * "label=1.2ms" or "label: 1.2 ms" pair, several per line allowed. Reports the
 * median per label over the runs, in the order first seen.
 */
function traceBerth(runOnce: (pi: number, env?: Record<string, string>, log?: string) => RunResult): Record<string, number> | null {
  if (TRACE_N === 0) return null;
  const byLabel = new Map<string, number[]>();
  let raw = "";
  for (let i = 0; i < TRACE_N; i++) {
    const log = join(tmp, `trace-${i}.log`);
    const r = runOnce(0, { BERTH_TRACE: "1" }, log);
    const text = r.stderr + (existsSync(log) ? readFileSync(log, "utf8") : "");
    raw = text;
    for (const line of text.split("\n")) {
      for (const m of line.matchAll(/([A-Za-z][\w./-]*)\s*[=:]?\s*(\d+(?:\.\d+)?)\s?ms\b/g)) {
        const label = m[1]!;
        const list = byLabel.get(label) ?? [];
        list.push(Number(m[2]));
        byLabel.set(label, list);
      }
    }
  }
  if (byLabel.size === 0) {
    if (raw.trim() === "") console.log("\nBERTH_TRACE: no timing output from berth; skipped");
    else console.log(`\nBERTH_TRACE: output not understood; last run's output:\n${indent(raw.trim().split("\n").slice(0, 40).join("\n"))}`);
    return null;
  }
  const result: Record<string, number> = {};
  const lines = [`\nwhere berth's time goes (BERTH_TRACE=1, median of ${TRACE_N} runs, ms as reported):`];
  for (const [label, values] of byLabel) {
    const s = stats(values)!;
    result[label] = s.median;
    lines.push(`  ${pad(label, 32)}${pad(s.median.toFixed(2), 10, true)}`);
  }
  console.log(lines.join("\n"));
  return result;
}

// ------------------------------------------------------------------ helpers
function stats(xs: number[]): { median: number; p90: number; min: number; max: number; mean: number } | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  const p90 = s[Math.min(n - 1, Math.ceil(0.9 * n) - 1)]!; // nearest rank
  return { median, p90, min: s[0]!, max: s[n - 1]!, mean: s.reduce((a, b) => a + b, 0) / n };
}

function pad(s: string, w: number, right = false): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}
