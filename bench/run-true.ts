/**
 * bench/run-true.ts — time `RUNTIME run` of /bin/true in a busybox bundle, berth
 * against runc, in one run on one machine. See bench/README.md.
 *
 *   bun bench/run-true.ts            (or: npm run bench)
 *
 * Environment: BENCH_N (30), BENCH_WARMUP (2), RUNTIME, RUNC, BENCH_TRACE_N (5),
 * BENCH_SKIP_SETUP. Both runtimes run the same bundle (config.json from `runc
 * spec`, minus the terminal, args ["/bin/true"]) with their own --root.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Sample, interleave, makeBundle, pad, peer, positiveInt, removeTree, report, runtimes, saveResults, setup, stats, timed, runBench } from "./lib.ts";

const N = positiveInt("BENCH_N", 30);
const WARMUP = positiveInt("BENCH_WARMUP", 2, true);
const TRACE_N = positiveInt("BENCH_TRACE_N", 5, true);

let tmp = "";
const leftovers: string[][] = [];

runBench(
  () => {
    setup();
    const { berth, berthName, runc } = runtimes();
    const b = makeBundle(runc, (c) => (c.process.args = ["/bin/true"]));
    tmp = b.tmp;
    let seq = 0;
    const runner = (bin: string, state: string) => (env?: Record<string, string>, log?: string) => {
      const id = `bench-${process.pid}-${seq++}`;
      leftovers.push([bin, "--root", state, "delete", "--force", id]);
      const r = timed([bin, "--root", state, ...(log ? ["--log", log] : []), "run", "--bundle", b.bundle, id], env);
      return r;
    };
    const runBerth = runner(berth, join(tmp, "state-berth"));
    const runRunc = runner(runc, join(tmp, "state-runc"));
    const peers = [
      peer(berthName, (): Sample => {
        const r = runBerth();
        return r.ok ? { run: r.ms } : { error: r.stderr };
      }),
      peer("runc", (): Sample => {
        const r = runRunc();
        return r.ok ? { run: r.ms } : { error: r.stderr };
      }),
    ];
    console.error(`bench: ${berthName}=${berth}, runc=${runc}; ${WARMUP} warm-up + ${N} timed runs each, interleaved`);
    interleave(peers, N, WARMUP);
    const { text, json } = report(`run of /bin/true (busybox bundle), ${N} runs each, times in ms`, peers, peers[1]!);
    console.log(text);
    const trace = peers[0]!.broken ? null : traceBerth((log) => runBerth({ BERTH_TRACE: "1" }, log), tmp);
    saveResults("run-true", { n: N, warmup: WARMUP, peers: json, trace });
  },
  () => {
    for (const cmd of leftovers) Bun.spawnSync({ cmd, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    removeTree(tmp);
  },
);

/**
 * Runs berth a few more times (untimed) with BERTH_TRACE=1 and collects its
 * `label=1.2ms` lines (stderr or --log), reporting the median per label.
 */
function traceBerth(run: (log: string) => { stderr: string }, dir: string): Record<string, number> | null {
  if (TRACE_N === 0) return null;
  const byLabel = new Map<string, number[]>();
  for (let i = 0; i < TRACE_N; i++) {
    const log = join(dir, `trace-${i}.log`);
    const r = run(log);
    const text = r.stderr + (existsSync(log) ? readFileSync(log, "utf8") : "");
    for (const m of text.matchAll(/([A-Za-z][\w./-]*)\s*[=:]?\s*(\d+(?:\.\d+)?)\s?ms\b/g)) {
      byLabel.set(m[1]!, [...(byLabel.get(m[1]!) ?? []), Number(m[2])]);
    }
  }
  if (byLabel.size === 0) {
    console.log("\nBERTH_TRACE: no timing output from berth; skipped");
    return null;
  }
  const result: Record<string, number> = {};
  const lines = [`\nwhere berth's time goes (BERTH_TRACE=1, median of ${TRACE_N} runs, ms):`];
  for (const [label, values] of byLabel) {
    result[label] = stats(values)!.median;
    lines.push(`  ${pad(label, 32)}${pad(result[label]!.toFixed(2), 10, true)}`);
  }
  console.log(lines.join("\n"));
  return result;
}
