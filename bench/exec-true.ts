/**
 * bench/exec-true.ts — `exec ID true` into a running busybox container, berth
 * against runc in one run, plus what the sealed binary costs berth-init.
 *
 *   sudo bun bench/exec-true.ts
 *
 * Environment: BENCH_N (30) timed iterations, BENCH_WARMUP (2), RUNTIME
 * (bin/berth-runtime), RUNC (runc), BENCH_ONLY (seal or exec).
 *
 * 1. exec: each runtime runs its own container (runc spec, terminal false,
 *    args sleep); each iteration times `exec ID true` of both, alternating
 *    which goes first.
 * 2. seal: berth-init started with an empty plan (it reads the plan and exits),
 *    from the binary on disk (it copies itself into a sealed memfd and
 *    re-executes: what a caller that does not pre-seal pays) against a memfd
 *    sealed once per process (what launch.ts does). The difference is the cost
 *    of sealing per container start; with the pre-sealed copy it is paid once
 *    per runtime process (an engine: once in its lifetime).
 */
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { defaultSpec } from "../src/oci/default-spec.ts";
import { sealedCopy } from "../src/runtime/sys/memfd.ts";

const REPO = resolve(import.meta.dir, "..");
const N = Number(process.env.BENCH_N ?? 30);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const BERTH = process.env.RUNTIME ?? join(REPO, "bin", "berth-runtime");
const RUNC = process.env.RUNC ?? "runc";
const INIT = join(REPO, "native", "build", "berth-init");

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};
const fmt = (x: number) => x.toFixed(2).padStart(8);

const ERR = join(tmpdir(), `berth-bench-exec-${process.pid}.err`);

/** Wall time of cmd; stderr goes to a file (a detached container would hold a pipe open). */
function time(cmd: string[]): number {
  const t = performance.now();
  const r = Bun.spawnSync(cmd, { stdout: "ignore", stderr: Bun.file(ERR) });
  const ms = performance.now() - t;
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.exitCode}: ${readFileSync(ERR, "utf8")}`);
  return ms;
}

async function benchExec() {
  const work = mkdtempSync(join(tmpdir(), "berth-bench-exec-"));
  const spec = defaultSpec({ args: ["sleep", "100000"] });
  spec.process!.terminal = false;
  spec.root = { path: realpathSync(join(REPO, ".cache", "rootfs", "busybox")), readonly: true }; // runc refuses a symlinked rootfs
  writeFileSync(join(work, "config.json"), JSON.stringify(spec));
  const peers = [
    { name: "berth", bin: BERTH, root: join(work, "berth-state"), times: [] as number[] },
    { name: "runc", bin: RUNC, root: join(work, "runc-state"), times: [] as number[] },
  ];
  const id = `bench-exec-${process.pid}`;
  try {
    for (const p of peers) time([p.bin, "--root", p.root, "run", "-d", "--bundle", work, id]);
    for (let i = 0; i < WARMUP + N; i++) {
      const order = i % 2 ? [...peers].reverse() : peers;
      for (const p of order) {
        const ms = time([p.bin, "--root", p.root, "exec", id, "true"]);
        if (i >= WARMUP) p.times.push(ms);
      }
    }
    console.log(`exec true (${N} runs, median ms)`);
    for (const p of peers) console.log(`  ${p.name.padEnd(6)} ${fmt(median(p.times))}   ratio ${(median(p.times) / median(peers[1]!.times)).toFixed(2)}`);
  } finally {
    for (const p of peers) Bun.spawnSync([p.bin, "--root", p.root, "delete", "--force", id], { stderr: "ignore" });
    rmSync(work, { recursive: true, force: true });
    rmSync(ERR, { force: true });
  }
}

async function startInit(exe: string): Promise<number> {
  const t = performance.now();
  const p = Bun.spawn([exe, "3"], { argv0: "berth-init", stdio: ["ignore", "ignore", "inherit", "pipe"] as never });
  writeSync(p.stdio[3] as unknown as number, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0])); // MSG_PLAN, empty
  const code = await p.exited;
  if (code !== 0) throw new Error(`berth-init exited ${code}`);
  return performance.now() - t;
}

async function benchSeal() {
  const sealed = `/proc/self/fd/${sealedCopy(INIT, "berth-init")}`;
  const plain: number[] = [];
  const pre: number[] = [];
  for (let i = 0; i < WARMUP + N * 3; i++) {
    const a = await startInit(INIT);
    const b = await startInit(sealed);
    if (i >= WARMUP) (plain.push(a), pre.push(b));
  }
  const t = performance.now();
  for (let i = 0; i < 100; i++) sealedCopy(INIT, "berth-init");
  const copy = (performance.now() - t) / 100;
  console.log(`berth-init start with an empty plan (${N * 3} runs, median ms)`);
  console.log(`  from disk, seals itself (copy + re-exec) ${fmt(median(plain))}`);
  console.log(`  from a pre-sealed memfd                  ${fmt(median(pre))}`);
  console.log(`  sealing per start                        ${fmt(median(plain) - median(pre))}`);
  console.log(`  making the sealed copy in the runtime    ${fmt(copy)}  (once per process)`);
}

if (process.env.BENCH_ONLY !== "exec") await benchSeal();
if (process.env.BENCH_ONLY !== "seal") await benchExec();
