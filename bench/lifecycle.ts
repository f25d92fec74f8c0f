/**
 * bench/lifecycle.ts — `create`, `start` and `delete --force` of a container
 * (busybox `sleep 1000`), each timed separately, berth against runc in the same
 * run. BENCH_N (30), BENCH_WARMUP (2), RUNTIME, RUNC, BENCH_SKIP_SETUP.
 */
import { join } from "node:path";
import { type Sample, interleave, makeBundle, peer, positiveInt, removeTree, report, runtimes, saveResults, setup, timed, runBench } from "./lib.ts";

const N = positiveInt("BENCH_N", 30);
const WARMUP = positiveInt("BENCH_WARMUP", 2, true);
let tmp = "";
const leftovers: string[][] = [];

runBench(
  () => {
    setup();
    const { berth, berthName, runc } = runtimes();
    const b = makeBundle(runc, (c) => (c.process.args = ["sleep", "1000"]));
    tmp = b.tmp;
    let seq = 0;
    const cycle = (bin: string, state: string) => (): Sample => {
      const id = `bench-${process.pid}-${seq++}`;
      const base = [bin, "--root", state];
      leftovers.push([...base, "delete", "--force", id]);
      const c = timed([...base, "create", "--bundle", b.bundle, id]);
      if (!c.ok) return { error: `create: ${c.stderr}` };
      const s = timed([...base, "start", id]);
      if (!s.ok) return { error: `start: ${s.stderr}` };
      const d = timed([...base, "delete", "--force", id]);
      if (!d.ok) return { error: `delete: ${d.stderr}` };
      return { create: c.ms, start: s.ms, delete: d.ms, total: c.ms + s.ms + d.ms };
    };
    const peers = [peer(berthName, cycle(berth, join(tmp, "state-berth"))), peer("runc", cycle(runc, join(tmp, "state-runc")))];
    console.error(`bench: create+start+delete, ${WARMUP} warm-up + ${N} timed cycles each, interleaved`);
    interleave(peers, N, WARMUP);
    const { text, json } = report(`create / start / delete --force of a sleeping busybox container, ${N} cycles each, ms`, peers, peers[1]!);
    console.log(text);
    saveResults("lifecycle", { n: N, warmup: WARMUP, peers: json });
  },
  () => {
    for (const cmd of leftovers) Bun.spawnSync({ cmd, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    removeTree(tmp);
  },
);
