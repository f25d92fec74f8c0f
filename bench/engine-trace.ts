/**
 * bench/engine-trace.ts — where berthd's time goes in `docker run --rm IMG true`.
 *
 * Starts a private berthd with `--log-level debug` (its phase lines: "container
 * create", "container start", "container exit", "container remove", each with
 * {ms: {total, phase: ms, ...}}, CNI plugin execs as cni.<plugin>.<CMD> and host
 * tools as exec.<tool>) and the API request lines, runs BENCH_N (20) `run --rm`
 * per network (BENCH_NETS=none,bridge), and prints the median of every phase
 * and of every request's time, per network. Debug logging slows berthd a little:
 * the times of bench:engine are the ones to quote; this shows the split.
 */
import { readFileSync } from "node:fs";
import { positiveInt, saveResults, stats } from "./lib.ts";
import { engineBench, loadavg, reapOrphans, runArgv } from "./engine-lib.ts";

const N = positiveInt("BENCH_N", 20);
const NETS = (process.env.BENCH_NETS ?? "none,bridge").split(",");
process.env.BENCH_ENGINES = "berthd";
process.env.BERTHD_FLAGS = `${process.env.BERTHD_FLAGS ?? ""} --log-level debug`;

type Line = { msg: string; ms?: number | Record<string, number>; method?: string; path?: string };

function lines(file: string): Line[] {
  const out: Line[] = [];
  for (const l of readFileSync(file, "utf8").split("\n")) {
    if (!l.startsWith("{")) continue;
    try {
      out.push(JSON.parse(l));
    } catch {}
  }
  return out;
}

await engineBench(async (engines) => {
  const e = engines[0]!;
  const results: Record<string, unknown> = { n: N, loadBefore: loadavg() };
  for (const net of NETS) {
    const flags = net === "bridge" ? [] : ["--network", net];
    for (let i = 0; i < 2; i++) Bun.spawnSync({ cmd: runArgv(e, ["--rm", ...flags], ["true"]), env: { ...process.env, ...e.env } });
    const before = lines(e.logFile!).length;
    const wall: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const r = Bun.spawnSync({ cmd: runArgv(e, ["--rm", ...flags], ["true"]), env: { ...process.env, ...e.env }, stdout: "pipe", stderr: "pipe" });
      wall.push(performance.now() - t0);
      if (r.exitCode !== 0) console.error(`run failed: ${r.stderr.toString()}`);
      reapOrphans();
    }
    await Bun.sleep(300);
    const got = lines(e.logFile!).slice(before);
    const phases = new Map<string, Map<string, number[]>>();
    const put = (op: string, k: string, v: number) => {
      let m = phases.get(op);
      if (!m) phases.set(op, (m = new Map()));
      let a = m.get(k);
      if (!a) m.set(k, (a = []));
      a.push(v);
    };
    for (const l of got) {
      if (l.msg.startsWith("container ") && typeof l.ms === "object") for (const [k, v] of Object.entries(l.ms)) put(l.msg, k, v);
      else if ((l.msg === "request" || l.msg === "hijacked request") && typeof l.ms === "number")
        put("requests", `${l.method} ${l.path!.replace(/[0-9a-f]{64}/, "ID").replace(/^\/v[\d.]+/, "")}`, l.ms);
    }
    const med = (xs: number[]) => stats(xs)!.median;
    console.log(`\n== run --rm IMG true, ${net === "bridge" ? "default bridge" : `--network ${net}`}: ${N} runs, wall median ${med(wall).toFixed(0)} ms (load ${loadavg()})`);
    const json: Record<string, Record<string, number>> = {};
    for (const [op, m] of phases) {
      json[op] = {};
      console.log(`${op}:`);
      for (const [k, xs] of m) {
        json[op]![k] = med(xs);
        console.log(`  ${k.padEnd(40)} ${med(xs).toFixed(1).padStart(8)}  (n=${xs.length})`);
      }
    }
    results[net] = { wall: med(wall), phases: json };
  }
  saveResults("engine-trace", results);
});
