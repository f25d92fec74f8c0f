/**
 * Shared pieces of the benchmarks: environment knobs, a bundle on the busybox
 * rootfs, interleaved timing of peers, and the report (medians and ratios).
 */
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "..");
export const ROOTFS = join(REPO, ".cache/rootfs/busybox");

export class BenchError extends Error {}
export function die(msg: string): never {
  throw new BenchError(msg);
}

export function positiveInt(name: string, dflt: number, zeroOk = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < (zeroOk ? 0 : 1)) die(`${name} must be a ${zeroOk ? "non-negative" : "positive"} integer, got ${raw}`);
  return v;
}

export function sh(cmd: string[], what: string, env?: Record<string, string>): string {
  const r = Bun.spawnSync({ cmd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  if (r.exitCode !== 0) die(`${what}: ${cmd.join(" ")} exited ${r.exitCode}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

/**
 * Run cmd, return wall ms and success. Output goes to /dev/null and a file, not
 * pipes: a detached container inherits the runtime's stdio and would keep a pipe
 * open (and the wait going) for as long as it runs.
 */
export function timed(cmd: string[], env?: Record<string, string>): { ms: number; ok: boolean; stderr: string } {
  const errFile = join(tmpdir(), `berth-bench-stderr-${process.pid}`);
  const t0 = performance.now();
  const r = Bun.spawnSync({ cmd, stdin: "ignore", stdout: "ignore", stderr: Bun.file(errFile), env: { ...process.env, ...env } });
  const ms = performance.now() - t0;
  const stderr = existsSync(errFile) ? readFileSync(errFile, "utf8") : "";
  rmSync(errFile, { force: true });
  return { ms, ok: r.exitCode === 0, stderr };
}

export function resolveBin(bin: string): string | null {
  if (bin.includes("/")) return existsSync(bin) ? resolve(bin) : null;
  return Bun.which(bin);
}

export function setup() {
  if (process.getuid?.() !== 0) die("run as root: containers need it");
  if (process.env.BENCH_SKIP_SETUP !== "1") {
    const r = Bun.spawnSync({ cmd: ["bash", join(REPO, "scripts/setup.sh")], stdin: "ignore", stdout: "inherit", stderr: "inherit" });
    if (r.exitCode !== 0) die("scripts/setup.sh failed");
  } else sh(["bash", join(REPO, "scripts/make-rootfs.sh"), ROOTFS], "make-rootfs");
}

export function runtimes(): { berth: string; berthName: string; runc: string } {
  const runc = resolveBin(process.env.RUNC ?? "runc") ?? die("runc not found (apt-get install runc, or set RUNC=)");
  const arg = process.env.RUNTIME ?? join(REPO, "bin/berth-runtime");
  const berth = resolveBin(arg) ?? die(`${arg} not found (set RUNTIME= to measure another runtime)`);
  return { berth, runc, berthName: process.env.RUNTIME ? `berth[RUNTIME=${process.env.RUNTIME}]` : "berth" };
}

/** A temp dir with a bundle: a copy of the busybox rootfs and `runc spec` edited by `edit`. */
export function makeBundle(runc: string, edit: (config: { process: { terminal?: boolean; args: string[] } }) => void) {
  const tmp = mkdtempSync(join(tmpdir(), "berth-bench-"));
  const bundle = join(tmp, "bundle");
  mkdirSync(bundle);
  sh(["cp", "-a", ROOTFS, join(bundle, "rootfs")], "copy rootfs");
  sh([runc, "spec", "--bundle", bundle], "runc spec");
  const path = join(bundle, "config.json");
  const config = JSON.parse(readFileSync(path, "utf8"));
  config.process.terminal = false;
  edit(config);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return { tmp, bundle };
}

export function removeTree(dir: string) {
  // --one-file-system: never follow a mount that leaked into the tree
  if (dir) Bun.spawnSync({ cmd: ["rm", "-rf", "--one-file-system", dir], stdin: "ignore", stdout: "ignore", stderr: "inherit" });
}

export interface Stats {
  median: number;
  p90: number;
  min: number;
  max: number;
  mean: number;
}

export function stats(xs: number[]): Stats | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  const p90 = s[Math.min(n - 1, Math.ceil(0.9 * n) - 1)]!; // nearest rank
  return { median, p90, min: s[0]!, max: s[n - 1]!, mean: s.reduce((a, b) => a + b, 0) / n };
}

export const pad = (s: string, w: number, right = false) => (right ? s.padStart(w) : s.padEnd(w));
export const indent = (s: string) =>
  s
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");

/** One iteration's named timings in ms ({run} or {create, start, delete}), or why it failed. */
export type Sample = Record<string, number> | { error: string };

export interface Peer {
  name: string;
  run: (i: number) => Sample;
  samples: Map<string, number[]>;
  failures: number;
  lastError: string;
  broken: boolean;
}

export function peer(name: string, run: Peer["run"]): Peer {
  return { name, run, samples: new Map(), failures: 0, lastError: "", broken: false };
}

/** Warm up, then N iterations alternating the order of peers so they share the noise. */
export function interleave(peers: Peer[], n: number, warmup: number) {
  const once = (p: Peer, record: boolean, i: number) => {
    if (p.broken) return;
    const r = p.run(i);
    if ("error" in r) {
      p.failures++;
      p.lastError = String(r.error).trim().split("\n").slice(-5).join("\n");
      if (p.samples.size === 0 && p.failures >= 3) {
        p.broken = true;
        console.error(`bench: ${p.name} failed 3 times, dropped. last error:\n${indent(p.lastError)}`);
      }
      return;
    }
    if (!record) return;
    for (const [k, v] of Object.entries(r)) {
      const list = p.samples.get(k) ?? [];
      list.push(v);
      p.samples.set(k, list);
    }
  };
  let seq = 0;
  for (let i = 0; i < warmup; i++) for (const p of peers) once(p, false, seq++);
  for (let i = 0; i < n; i++) {
    const order = i % 2 === 0 ? peers : [...peers].reverse();
    for (const p of order) once(p, true, seq++);
  }
}

/** Table of medians etc. per peer and metric, and the ratio of each peer to the reference (last argument). */
export function report(title: string, peers: Peer[], reference: Peer): { text: string; json: unknown } {
  const out = ["", title];
  out.push(pad("peer / metric", 40) + ["median", "p90", "min", "max", "runs", "failed"].map((h) => pad(h, 9, true)).join(""));
  const json: Record<string, unknown> = {};
  for (const p of peers) {
    const metrics: Record<string, Stats | null> = {};
    for (const [metric, xs] of p.samples) {
      const s = stats(xs);
      metrics[metric] = s;
      const cells = s ? [s.median, s.p90, s.min, s.max].map((v) => v.toFixed(1)) : ["-", "-", "-", "-"];
      out.push(pad(`${p.name} ${metric}`, 40) + [...cells, String(xs.length), String(p.failures)].map((c) => pad(c, 9, true)).join(""));
    }
    if (p.samples.size === 0) out.push(pad(`${p.name}`, 40) + pad("no successful run", 30, true));
    json[p.name] = { failures: p.failures, metrics, samples: Object.fromEntries(p.samples) };
  }
  for (const p of peers) {
    if (p === reference) continue;
    const ratios: string[] = [];
    for (const [metric, xs] of p.samples) {
      const a = stats(xs);
      const b = stats(reference.samples.get(metric) ?? []);
      if (a && b) ratios.push(`${metric} ${(a.median / b.median).toFixed(2)}x`);
    }
    out.push(`ratio ${p.name}/${reference.name} (medians): ${ratios.join(", ") || "n/a"}`);
  }
  for (const p of peers) if (p.failures && !p.broken) out.push(`${p.name}: ${p.failures} failed run(s); last error:\n${indent(p.lastError)}`);
  return { text: out.join("\n"), json };
}

export function saveResults(name: string, data: unknown) {
  mkdirSync(join(REPO, ".bench"), { recursive: true });
  writeFileSync(join(REPO, ".bench", `${name}.json`), JSON.stringify({ date: new Date().toISOString(), ...(data as object) }, null, 2) + "\n");
  console.error(`bench: results in .bench/${name}.json`);
}

/** Run main with cleanup on every exit path. */
export function runBench(main: () => void, cleanup: () => void) {
  process.on("SIGINT", () => (cleanup(), process.exit(130)));
  process.on("SIGTERM", () => (cleanup(), process.exit(143)));
  try {
    main();
  } catch (e) {
    if (!(e instanceof BenchError)) throw e;
    console.error(`bench: error: ${e.message}`);
    process.exitCode = 1;
  } finally {
    cleanup();
  }
}
