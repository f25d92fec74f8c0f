/**
 * bench/checkpoint.ts — time `checkpoint` (stop-and-copy, the container killed)
 * and `restore -d` of an idle busybox container, berth against runc, with the
 * same CRIU, in one run on one machine. See bench/README.md.
 *
 *   sudo bun bench/checkpoint.ts
 *
 * Environment:
 *   BENCH_N=10         checkpoint+restore cycles per runtime
 *   RUNTIME=path       the runtime measured as "berth" (default bin/berth-runtime)
 *   RUNC=path          the reference runtime (default runc from PATH; skipped if absent)
 *
 * Both run the same bundle (berth's default spec = runc's, terminal off, a shell
 * counting into a tmpfs at /tmp) with their own --root and container id (the id
 * names the cgroup: one id for both would share a cgroup). The container's stdio is
 * an anonymous pipe, as a shim gives it (runc can only checkpoint pipes). Times are
 * wall-clock for the whole runtime command. Cycles alternate which runtime goes
 * first. Results: a table, and every sample in .bench/checkpoint.json.
 */
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { defaultSpec } from "../src/oci/default-spec.ts";
import { resolveCriu } from "../src/runtime/criu/binary.ts";

const REPO = resolve(import.meta.dir, "..");
const N = Number(process.env.BENCH_N ?? 10);
if (!Number.isInteger(N) || N < 1) throw new Error(`BENCH_N must be a positive integer`);
const criu = resolveCriu();
// runc runs `criu` from PATH: make it the same binary berth uses
const PATH = `${resolve(criu.path, "..")}:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}`;

interface Peer {
  name: string;
  bin: string;
  root: string;
  checkpoint: number[];
  restore: number[];
  error?: string;
}

const tmp = mkdtempSync(join(tmpdir(), "berth-bench-ckpt-"));
const bundle = join(tmp, "bundle");
mkdirSync(bundle);
const spec = defaultSpec({ args: ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done"] });
spec.process!.terminal = false;
spec.root = { path: realpathSync(join(REPO, ".cache/rootfs/busybox")), readonly: true };
spec.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"] });
writeFileSync(join(bundle, "config.json"), JSON.stringify(spec, null, 2));

const peers: Peer[] = [{ name: "berth", bin: resolve(process.env.RUNTIME ?? join(REPO, "bin/berth-runtime")), root: join(tmp, "berth"), checkpoint: [], restore: [] }];
const runc = process.env.RUNC ?? Bun.which("runc");
if (runc) peers.push({ name: "runc", bin: runc, root: join(tmp, "runc"), checkpoint: [], restore: [] });
const holders: Array<{ kill(sig: number): void }> = [];

/** `bin args 2>&1 | cat > FILE`: the runtime's stdout and stderr are a pipe; resolves with the command's time in ms. */
async function piped(p: Peer, args: string[]): Promise<number> {
  const rc = join(tmp, `rc-${p.name}-${Date.now()}`);
  // stdout and stderr both into the pipe (runc can only checkpoint pipes); cat keeps what is said
  const script = `rc=$1; shift; { s=$(date +%s%N); "$@" 2>&1; c=$?; e=$(date +%s%N); echo $c $(( (e - s) / 1000 )) > "$rc"; } | cat > "$rc.out"`;
  const sh = Bun.spawn(["sh", "-c", script, "sh", rc, p.bin, "--root", p.root, ...args], { stdin: "ignore", stdout: "ignore", stderr: "ignore", env: { PATH } });
  holders.push(sh);
  while (!existsSync(rc) || !readFileSync(rc, "utf8").includes("\n")) await Bun.sleep(5);
  const [code, us] = readFileSync(rc, "utf8").trim().split(" ").map(Number);
  if (code !== 0) throw new Error(`${p.name} ${args[0]} exited ${code}: ${readFileSync(`${rc}.out`, "utf8").trim()}`);
  return us! / 1000;
}

function timed(p: Peer, args: string[]): number {
  const t0 = performance.now();
  const r = Bun.spawnSync([p.bin, "--root", p.root, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH } });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${p.name} ${args[0]} exited ${r.exitCode}: ${r.stderr.toString().trim()}`);
  return ms;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))] ?? NaN;
  return { median: q(0.5), p90: q(0.9), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN };
};

try {
  for (const p of peers) {
    mkdirSync(p.root);
    try {
      await piped(p, ["run", "-d", "--bundle", bundle, `bench-${p.name}`]);
    } catch (e) {
      p.error = (e as Error).message;
    }
  }
  for (let i = 0; i < N; i++) {
    const order = i % 2 ? [...peers].reverse() : peers;
    for (const p of order) {
      if (p.error) continue;
      const img = join(tmp, `img-${p.name}-${i}`);
      try {
        await Bun.sleep(300); // let it count a little
        p.checkpoint.push(timed(p, ["checkpoint", "--image-path", img, `bench-${p.name}`]));
        p.restore.push(await piped(p, ["restore", "-d", "--image-path", img, "--bundle", bundle, `bench-${p.name}`]));
        rmSync(img, { recursive: true, force: true });
      } catch (e) {
        const log = join(img, "dump.log");
        const errs = existsSync(log) ? readFileSync(log, "utf8").split("\n").filter((l) => l.includes("Error")).slice(-3).join("\n") : "";
        p.error = `${(e as Error).message}${errs ? `\n${errs}` : ""}`;
      }
    }
  }
  console.log(`checkpoint / restore -d of an idle busybox container, criu ${criu.version.join(".")} (${criu.path}), ${N} cycles, ms`);
  console.log(`${"runtime".padEnd(10)}${"op".padEnd(12)}${"median".padStart(8)}${"p90".padStart(8)}${"min".padStart(8)}${"max".padStart(8)}${"runs".padStart(6)}`);
  for (const p of peers) {
    for (const op of ["checkpoint", "restore"] as const) {
      const s = stats(p[op]);
      console.log(`${p.name.padEnd(10)}${op.padEnd(12)}${[s.median, s.p90, s.min, s.max].map((x) => x.toFixed(0).padStart(8)).join("")}${String(p[op].length).padStart(6)}`);
    }
    if (p.error) console.log(`  ${p.name} failed: ${p.error}`);
  }
  const [b, r] = peers;
  if (b && r && b.checkpoint.length && r.checkpoint.length) {
    for (const op of ["checkpoint", "restore"] as const) console.log(`ratio berth/runc ${op}: median ${(stats(b[op]).median / stats(r[op]).median).toFixed(2)}x`);
  }
  mkdirSync(join(REPO, ".bench"), { recursive: true });
  writeFileSync(join(REPO, ".bench/checkpoint.json"), JSON.stringify({ criu: criu.version.join("."), n: N, peers }, null, 2));
} finally {
  for (const p of peers) Bun.spawnSync([p.bin, "--root", p.root, "delete", "--force", `bench-${p.name}`], { stdin: "ignore", stdout: "ignore", stderr: "ignore", env: { PATH } });
  await Bun.sleep(200);
  for (const h of holders) h.kill(9);
  rmSync(tmp, { recursive: true, force: true });
}
