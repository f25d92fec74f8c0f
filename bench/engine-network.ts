/**
 * bench/engine-network.ts (issue 5) — what networking costs a container start,
 * berthd vs dockerd vs podman in the same run. Each iteration, per engine:
 *
 *   none      `run --rm --network none IMG true`          (the engine without networking)
 *   bridge    `run --rm IMG true`                          (the default bridge)
 *   user-net  `run --rm --network bench-net IMG true`      (a user bridge network, own subnet)
 *   -p        `run --rm --network bench-net -p 127.0.0.1::80 IMG true` (a published port on loopback)
 *
 * and the time networking adds: the median of each minus the median of `none`.
 * Before timing, each engine's user network is checked once: a container on it
 * must get an address in the network's subnet. BENCH_N (20), BENCH_WARMUP (2),
 * BENCH_ENGINES; results in .bench/engine-network.json. All traffic stays on the
 * host: private subnets on bridges the engines create, ports bound to 127.0.0.1.
 */
import { type Peer, type Sample, interleave, peer, positiveInt, report, saveResults, stats } from "./lib.ts";
import { type Engine, SUBNETS, engineBench, loadavg, reapOrphans, runArgv } from "./engine-lib.ts";

const N = positiveInt("BENCH_N", 20);
const WARMUP = positiveInt("BENCH_WARMUP", 2, true);
const NET = "bench-net";

const VARIANTS: [string, string[]][] = [
  ["none", ["--network", "none"]],
  ["bridge", []],
  ["user-net", ["--network", NET]],
  ["user-net -p", ["--network", NET, "-p", "127.0.0.1::80"]],
];

function run(argv: string[], env: Record<string, string>) {
  const t0 = performance.now();
  const r = Bun.spawnSync({ cmd: argv, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { ms: performance.now() - t0, ok: r.exitCode === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

/** Create the user network; check that a container on it gets an address in its subnet. Returns why not, or null. */
function prepare(e: Engine): string | null {
  const subnet = SUBNETS[e.name].userNet;
  const c = run([...e.cli, "network", "create", "--subnet", subnet, NET], e.env);
  if (!c.ok) return `network create: ${c.err}`;
  const r = run(runArgv(e, ["--rm", "--network", NET], ["ip", "-4", "-o", "addr", "show", "eth0"]), e.env);
  reapOrphans();
  const prefix = subnet.split(".").slice(0, 3).join(".") + ".";
  if (!r.ok) return `run on ${NET}: ${r.err}`;
  if (!r.out.includes(`inet ${prefix}`)) return `a container on ${NET} has no address in ${subnet}: ${r.out}`;
  return null;
}

function iteration(e: Engine): Sample {
  const s: Record<string, number> = {};
  const errors: string[] = [];
  for (const [name, flags] of VARIANTS) {
    const r = run(runArgv(e, ["--rm", ...flags], ["true"]), e.env);
    if (r.ok) s[name] = r.ms;
    else errors.push(`${name}: ${r.err}`);
  }
  reapOrphans();
  // a variant that fails fails the iteration: medians of different subsets would not compare
  return errors.length ? { error: errors.join("\n") } : s;
}

function added(peers: Peer[]): { text: string; json: Record<string, Record<string, number>> } {
  const json: Record<string, Record<string, number>> = {};
  const lines = ["", "time networking adds to a start (median of the variant minus median of none), ms"];
  lines.push("engine".padEnd(12) + VARIANTS.slice(1).map(([v]) => v.padStart(14)).join(""));
  for (const p of peers) {
    const none = stats(p.samples.get("none") ?? [])?.median;
    const row: Record<string, number> = {};
    const cells = VARIANTS.slice(1).map(([v]) => {
      const m = stats(p.samples.get(v) ?? [])?.median;
      if (none === undefined || m === undefined) return "-".padStart(14);
      row[v] = m - none;
      return (m - none).toFixed(1).padStart(14);
    });
    json[p.name] = row;
    lines.push(p.name.padEnd(12) + cells.join(""));
  }
  return { text: lines.join("\n"), json };
}

await engineBench(async (engines, skipped) => {
  const loadBefore = loadavg();
  const ready: Engine[] = [];
  const notReady: Record<string, string> = { ...skipped };
  for (const e of engines) {
    const why = prepare(e);
    if (why) {
      notReady[e.name] = why;
      console.error(`bench: ${e.name} left out: ${why}`);
    } else ready.push(e);
  }
  if (!ready.length) {
    console.error("bench: no engine can run on a user network");
    process.exitCode = 1;
    return;
  }
  console.error(`bench: ${VARIANTS.length} variants, ${WARMUP} warm-up + ${N} timed iterations per engine, interleaved`);
  const peers = ready.map((e) => peer(e.name, () => iteration(e)));
  interleave(peers, N, WARMUP);
  console.log(`engines: ${ready.map((e) => e.name).join(", ")}${Object.keys(notReady).length ? `; left out: ${Object.keys(notReady).join(", ")}` : ""}; load average ${loadBefore} -> ${loadavg()}`);
  const { text, json } = report(`run --rm IMG true by network, ${N} runs each, ms`, peers, peers[0]!);
  console.log(text);
  const add = added(peers);
  console.log(add.text);
  saveResults("engine-network", { n: N, warmup: WARMUP, skipped: notReady, loadBefore, loadAfter: loadavg(), peers: json, added: add.json });
});
