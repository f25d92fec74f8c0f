/**
 * The time networking adds to a container start, and where it goes.
 *
 *   sudo bun bench/network-attach.ts            (BENCH_N=20 iterations, BENCH_WARMUP=2)
 *
 * Peers, interleaved (alternating order) so they share the machine's noise:
 *   no network        berth-runtime run /bin/true in its own (empty) netns: the reference
 *   bridge            + netns create, attach to a berth bridge network, run joining it, detach, netns remove
 *   bridge -p         the same with a published port (127.0.0.1, random host port): portmap runs
 *   cni full chain    attach+detach through the chain a plain CNI setup uses per container
 *                     (bridge with ipMasq, portmap, firewall with same-bridge isolation), no
 *                     container: what berth's per-network rules save
 * and a breakdown: each CNI plugin's exec time per command (median), and
 * berth's own share of attach/detach (total minus plugin execs).
 * Results go to .bench/network-attach.json.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { removeNetworkRules } from "../src/engine/network/firewall.ts";
import { deleteLink } from "../src/engine/network/host.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../src/engine/db.ts";
import { CniRuntime } from "../src/engine/network/cni/runtime.ts";
import type { ExecTiming } from "../src/engine/network/cni/exec.ts";
import { parseConfList } from "../src/engine/network/cni/types.ts";
import { NetworkManager } from "../src/engine/network/manager.ts";
import type { Network } from "../src/engine/network/model.ts";
import { peer, positiveInt, removeTree, report, runtimes, saveResults, setup, stats, makeBundle, type Peer } from "./lib.ts";

const N = positiveInt("BENCH_N", 20);
const WARMUP = positiveInt("BENCH_WARMUP", 2, true);

async function timedSpawn(cmd: string[]): Promise<{ ms: number; ok: boolean; err: string }> {
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  return { ms: performance.now() - t0, ok: code === 0, err };
}

async function main() {
  setup();
  const { berth, runc } = runtimes();
  const tmp = mkdtempSync(join(tmpdir(), "berth-bench-net-"));
  const stateRoot = join(tmp, "state");
  const b = makeBundle(runc, (c) => (c.process.args = ["/bin/true"]));
  const cfgPath = join(b.bundle, "config.json");
  const ownNs = readFileSync(cfgPath, "utf8");
  const withNs = (netns: string) => {
    const c = JSON.parse(ownNs);
    c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === "network" ? { type: "network", path: netns } : n));
    return JSON.stringify(c);
  };

  let phase: ExecTiming[] | undefined;
  const plugins = new Map<string, number[]>();
  const onTiming = (t: ExecTiming) => {
    phase?.push(t);
    const k = `${t.plugin} ${t.command}`;
    plugins.set(k, [...(plugins.get(k) ?? []), t.ms]);
  };
  const m = await NetworkManager.open({ db: openDb(join(tmp, "berth.db")), dataRoot: tmp, netnsDir: join(tmp, "netns"), upstreams: [], defaultBridge: `bb${process.pid % 10000}`, onTiming });
  const nets: Network[] = [];
  let seq = 0;
  const cleanup = async () => {
    for (const n of nets) {
      for (const e of m.endpoints("default", n.id)) await m.detach("default", n.id, e.containerId).catch(() => {});
      await m.remove("default", n.id).catch(() => {});
    }
    await m.reconcile(() => false).catch(() => {});
    m.close();
    // the plain chain's bridge and the firewall plugin's per-bridge isolation rules (it never removes them)
    const fullBridge = `bf${process.pid % 10000}`;
    await deleteLink(fullBridge).catch(() => {});
    await removeNetworkRules({ cniName: `bench-full-${process.pid}`, bridge: fullBridge }).catch(() => {});
    removeTree(tmp);
    removeTree(b.tmp);
  };
  try {
    const t0 = performance.now();
    const net = await m.create("default", { name: "bench" });
    const createMs = performance.now() - t0;
    nets.push(net);

    const runTrue = async (id: string) => {
      const r = await timedSpawn([berth, "--root", stateRoot, "run", "--bundle", b.bundle, id]);
      if (!r.ok) throw new Error(`run: ${r.err}`);
      return r.ms;
    };

    const networked = async (ports: boolean): Promise<Record<string, number>> => {
      const id = `bn${++seq}`;
      const s: Record<string, number> = {};
      let t = performance.now();
      const ns = await m.createNetns(id);
      s["netns create"] = performance.now() - t;
      phase = [];
      t = performance.now();
      await m.attach("default", net.name, { containerId: id, netns: ns, name: id, ports: ports ? [{ containerPort: 80, hostIp: "127.0.0.1" }] : [] });
      s.attach = performance.now() - t;
      s["attach: berth's own"] = s.attach - phase.reduce((a, x) => a + x.ms, 0);
      writeFileSync(cfgPath, withNs(ns));
      s.run = await runTrue(id);
      writeFileSync(cfgPath, ownNs);
      phase = [];
      t = performance.now();
      await m.detach("default", net.name, id);
      s.detach = performance.now() - t;
      s["detach: berth's own"] = s.detach - phase.reduce((a, x) => a + x.ms, 0);
      phase = undefined;
      t = performance.now();
      await m.removeNetns(id);
      s["netns remove"] = performance.now() - t;
      s.total = s["netns create"]! + s.attach + s.run + s.detach + s["netns remove"]!;
      return s;
    };

    // the chain a plain CNI setup runs per container, on its own bridge
    const full = parseConfList(
      JSON.stringify({
        cniVersion: "1.0.0",
        name: `bench-full-${process.pid}`,
        plugins: [
          { type: "bridge", bridge: `bf${process.pid % 10000}`, isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: "host-local", ranges: [[{ subnet: "172.31.254.0/24" }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(tmp, "full-ipam") } },
          { type: "portmap", capabilities: { portMappings: true }, snat: true },
          { type: "firewall", backend: "iptables", ingressPolicy: "same-bridge" },
        ],
      }),
      "bench",
    );
    const cni = new CniRuntime({ cacheDir: join(tmp, "full-cache"), exec: { onTiming } });
    const fullChain = async (): Promise<Record<string, number>> => {
      const id = `bf${++seq}`;
      const ns = await m.createNetns(id);
      try {
        let t = performance.now();
        await cni.add(full, { containerId: id, netns: ns, ifName: "eth0" });
        const attach = performance.now() - t;
        t = performance.now();
        await cni.del(full, { containerId: id, netns: ns, ifName: "eth0" });
        return { attach, detach: performance.now() - t };
      } finally {
        await m.removeNetns(id);
      }
    };

    const peers: [Peer, () => Promise<Record<string, number>>][] = [
      [peer("no network", () => ({})), async () => ({ run: await runTrue(`bt${++seq}`), total: 0 })],
      [peer("bridge", () => ({})), () => networked(false)],
      [peer("bridge -p", () => ({})), () => networked(true)],
      [peer("cni full chain", () => ({})), fullChain],
    ];
    const once = async (p: Peer, fn: () => Promise<Record<string, number>>, record: boolean) => {
      try {
        const r = await fn();
        if (r.total === 0) r.total = r.run!;
        if (!record) return;
        for (const [k, v] of Object.entries(r)) p.samples.set(k, [...(p.samples.get(k) ?? []), v]);
      } catch (e) {
        p.failures++;
        p.lastError = (e as Error).message;
      }
    };
    for (let i = 0; i < WARMUP; i++) for (const [p, fn] of peers) await once(p, fn, false);
    plugins.clear();
    for (let i = 0; i < N; i++) {
      const order = i % 2 ? [...peers].reverse() : peers;
      for (const [p, fn] of order) await once(p, fn, true);
    }
    const ps = peers.map(([p]) => p);
    const { text, json } = report(`network: ${N} runs each (create of the network: ${createMs.toFixed(0)} ms, once)`, ps, ps[0]!);
    console.log(text);
    const base = stats(ps[0]!.samples.get("run") ?? []);
    for (const p of ps.slice(1, 3)) {
      const tot = stats(p.samples.get("total") ?? []);
      if (base && tot) console.log(`networking adds (median total - median run without network) ${p.name}: ${(tot.median - base.median).toFixed(1)} ms`);
    }
    console.log("\nCNI plugin execs (median ms, count):");
    const breakdown: Record<string, unknown> = {};
    for (const [k, xs] of [...plugins].sort()) {
      const s = stats(xs)!;
      breakdown[k] = s;
      console.log(`  ${k.padEnd(20)} ${s.median.toFixed(1).padStart(8)} ${String(xs.length).padStart(6)}`);
    }
    saveResults("network-attach", { n: N, createMs, peers: json, plugins: breakdown });
  } finally {
    await cleanup();
  }
}

main().catch((e) => {
  console.error(`bench: error: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
});
