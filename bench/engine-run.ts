/**
 * bench/engine-run.ts — container starts through each engine's CLI, in the same
 * run: berthd and dockerd through the same docker CLI (DOCKER_HOST), podman
 * through its own.
 *
 *   run --rm (no network)   `run --rm --network none IMG true`
 *   run --rm (bridge)       `run --rm IMG true` on the default bridge
 *   run -d / rm -f          `run -d --network none IMG sleep 1000`, then `rm -f ID` (podman: `rm -f --time 0`)
 *   exec                    `exec C true` in one sleeping container per engine
 *   20 parallel             20 concurrent `run --rm --network none IMG true`: wall time for all
 *   CLI floor               `version`: the CLI's start-up and one request, the least any command costs
 *
 * Sequential parts: BENCH_WARMUP (2) untimed, then BENCH_N (20) iterations, the
 * engines' order alternating. BENCH_PAR_ROUNDS (3) rounds of the parallel part,
 * BENCH_PAR (20) runs each. BENCH_ENGINES=berthd,dockerd,podman picks engines;
 * BENCH_ONLY=none,bridge,detach,exec,parallel,floor picks parts. Results in .bench/engine-run.json.
 */
import { type Peer, type Sample, interleave, peer, positiveInt, report, saveResults, stats } from "./lib.ts";
import { type Engine, engineBench, loadavg, reapOrphans, runArgv } from "./engine-lib.ts";

const N = positiveInt("BENCH_N", 20);
const WARMUP = positiveInt("BENCH_WARMUP", 2, true);
const PAR = positiveInt("BENCH_PAR", 20);
const PAR_ROUNDS = positiveInt("BENCH_PAR_ROUNDS", 3, true);
const PARTS = (process.env.BENCH_ONLY ?? "none,bridge,detach,exec,parallel,floor").split(",");

/** Run argv; wall ms, success, stdout, stderr. The CLI's own pipes: docker-API containers never inherit them. */
function run(argv: string[], env: Record<string, string>): { ms: number; ok: boolean; out: string; err: string } {
  const t0 = performance.now();
  const r = Bun.spawnSync({ cmd: argv, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const ms = performance.now() - t0;
  return { ms, ok: r.exitCode === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

/** A peer per engine whose iteration runs fn and then reaps orphans (untimed). */
function peers(engines: Engine[], fn: (e: Engine) => Sample): Peer[] {
  return engines.map((e) =>
    peer(e.name, () => {
      const s = fn(e);
      reapOrphans();
      return s;
    }),
  );
}

function runRm(network: string[]) {
  return (e: Engine): Sample => {
    const r = run(runArgv(e, ["--rm", ...network], ["true"]), e.env);
    return r.ok ? { "run --rm": r.ms } : { error: r.err };
  };
}

function detachRemove(e: Engine): Sample {
  const r = run(runArgv(e, ["-d", "--network", "none"], ["sleep", "1000"]), e.env);
  if (!r.ok) return { error: r.err };
  const rm = run([...e.cli, ...e.rmForce, r.out], e.env);
  if (!rm.ok) return { error: rm.err };
  return { "run -d": r.ms, "rm -f": rm.ms, "run -d + rm -f": r.ms + rm.ms };
}

async function parallel(engines: Engine[]) {
  const samples = new Map<string, number[]>(engines.map((e) => [e.name, []]));
  const failures = new Map<string, number>(engines.map((e) => [e.name, 0]));
  const lastError = new Map<string, string>();
  for (let round = 0; round < PAR_ROUNDS; round++) {
    const order = round % 2 === 0 ? engines : [...engines].reverse();
    for (const e of order) {
      const t0 = performance.now();
      const procs = Array.from({ length: PAR }, () =>
        Bun.spawn(runArgv(e, ["--rm", "--network", "none"], ["true"]), { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: { ...process.env, ...e.env } }),
      );
      const codes = await Promise.all(procs.map((p) => p.exited));
      const ms = performance.now() - t0;
      const bad = codes.filter((c) => c !== 0).length;
      if (bad) {
        failures.set(e.name, failures.get(e.name)! + bad);
        const i = codes.findIndex((c) => c !== 0);
        lastError.set(e.name, await new Response(procs[i]!.stderr).text());
      } else samples.get(e.name)!.push(ms);
      reapOrphans();
    }
  }
  const lines = [``, `${PAR} parallel \`run --rm --network none IMG true\`, wall time for all, ${PAR_ROUNDS} rounds, ms`];
  const med = (n: string) => stats(samples.get(n) ?? [])?.median;
  for (const e of engines) {
    const s = stats(samples.get(e.name)!);
    lines.push(`${e.name.padEnd(12)} ${s ? `median ${s.median.toFixed(0)}  min ${s.min.toFixed(0)}  max ${s.max.toFixed(0)}  per container ${(s.median / PAR).toFixed(1)}` : "no successful round"}  failed runs ${failures.get(e.name)}`);
    if (lastError.has(e.name)) lines.push(`    last error: ${lastError.get(e.name)!.trim().split("\n").slice(-3).join(" / ")}`);
  }
  const ref = engines[0]!.name;
  for (const e of engines.slice(1)) {
    const a = med(e.name);
    const b = med(ref);
    if (a && b) lines.push(`ratio ${e.name}/${ref} (medians): ${(a / b).toFixed(2)}x`);
  }
  console.log(lines.join("\n"));
  return { rounds: PAR_ROUNDS, parallel: PAR, samples: Object.fromEntries(samples), failures: Object.fromEntries(failures) };
}

await engineBench(async (engines, skipped) => {
  const results: Record<string, unknown> = { n: N, warmup: WARMUP, skipped, loadBefore: loadavg() };
  console.log(`engines: ${engines.map((e) => e.name).join(", ")}${Object.keys(skipped).length ? `; skipped: ${Object.keys(skipped).join(", ")}` : ""}; load average ${loadavg()}`);
  // the reference row is the first engine: berthd when it runs, so ratios read as "times slower than berth"
  const section = (key: string, title: string, fn: (e: Engine) => Sample) => {
    if (!PARTS.includes(key)) return;
    console.error(`bench: ${title}: ${WARMUP} warm-up + ${N} timed runs per engine, interleaved`);
    const ps = peers(engines, fn);
    interleave(ps, N, WARMUP);
    const { text, json } = report(`${title}, ${N} runs each, ms (load ${loadavg()})`, ps, ps[0]!);
    console.log(text);
    results[key] = json;
  };
  section("none", "run --rm IMG true, --network none", runRm(["--network", "none"]));
  section("bridge", "run --rm IMG true, default bridge", runRm([]));
  section("detach", "run -d --network none IMG sleep 1000, then rm -f", detachRemove);
  if (PARTS.includes("exec")) {
    const ids = new Map<string, string>();
    for (const e of engines) {
      const r = run(runArgv(e, ["-d", "--network", "none"], ["sleep", "100000"]), e.env);
      if (r.ok) ids.set(e.name, r.out);
      else console.error(`bench: ${e.name}: exec container did not start: ${r.err}`);
    }
    section("exec", "exec C true", (e): Sample => {
      const id = ids.get(e.name);
      if (!id) return { error: "no container to exec in" };
      const r = run([...e.cli, "exec", id, "true"], e.env);
      return r.ok ? { exec: r.ms } : { error: r.err };
    });
    for (const e of engines) if (ids.has(e.name)) run([...e.cli, ...e.rmForce, ids.get(e.name)!], e.env);
  }
  section("floor", "CLI floor: `version` (the CLI's start and one request; podman: no daemon)", (e): Sample => {
    const r = run([...e.cli, "version"], e.env);
    return r.ok ? { version: r.ms } : { error: r.err };
  });
  if (PARTS.includes("parallel") && PAR_ROUNDS > 0) results.parallel = await parallel(engines);
  results.loadAfter = loadavg();
  saveResults("engine-run", results);
});

