/**
 * bench/podman-run.ts — `podman run --rm <busybox image> true` with
 * `--runtime bin/berth-runtime` against podman's default runc, in the same run,
 * with a private podman store. BENCH_N (20), BENCH_WARMUP (2), BENCH_SKIP_SETUP.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Sample, ROOTFS, die, interleave, peer, positiveInt, removeTree, report, runtimes, saveResults, setup, sh, timed, runBench } from "./lib.ts";

const N = positiveInt("BENCH_N", 20);
const WARMUP = positiveInt("BENCH_WARMUP", 2, true);
let tmp = "";
let podman: string[] = [];

runBench(
  () => {
    setup();
    if (!Bun.which("podman")) die("podman not found (scripts/setup.sh installs it)");
    const { berth, berthName, runc } = runtimes();
    tmp = mkdtempSync(join(tmpdir(), "berth-bench-podman-"));
    podman = ["podman", "--root", join(tmp, "storage"), "--runroot", join(tmp, "run"), "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
    sh(["tar", "-C", ROOTFS, "-cf", join(tmp, "rootfs.tar"), "."], "tar rootfs");
    sh([...podman, "import", join(tmp, "rootfs.tar"), "localhost/bench:busybox"], "podman import");
    // podman's default ulimits exceed this machine's hard limits (no CAP_SYS_RESOURCE)
    const run = (rt: string) => (): Sample => {
      const r = timed([...podman, "--runtime", rt, "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "localhost/bench:busybox", "true"]);
      return r.ok ? { "run --rm": r.ms } : { error: r.stderr };
    };
    const peers = [peer(`podman+${berthName}`, run(berth)), peer("podman+runc", run(runc))];
    console.error(`bench: podman run --rm, ${WARMUP} warm-up + ${N} timed runs each, interleaved`);
    interleave(peers, N, WARMUP);
    const { text, json } = report(`podman run --rm busybox true (no network), ${N} runs each, ms`, peers, peers[1]!);
    console.log(text);
    saveResults("podman-run", { n: N, warmup: WARMUP, peers: json });
  },
  () => {
    if (podman.length) {
      Bun.spawnSync({ cmd: [...podman, "rm", "--all", "--force"], stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      Bun.spawnSync({ cmd: ["umount", "-R", join(tmp, "storage")], stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    }
    removeTree(tmp);
  },
);
