/**
 * The engines the engine benchmarks compare, each private to the run:
 *
 * - berthd: bin/berthd on its own socket, data root and exec root (temp dirs).
 * - dockerd: Debian's docker.io 20.10 (installed with apt-get when missing, its
 *   service never started), on its own socket, --data-root, --exec-root,
 *   --pidfile, with its own managed containerd under the exec root;
 *   --iptables=false, --ip-forward=false, --ip-masq=false so it never changes
 *   the host's firewall or sysctls; its default bridge is a private one.
 * - podman: podman 4.3 with a private --root/--runroot/--network-config-dir,
 *   cgroupfs manager, file events, runc.
 *
 * berthd and dockerd are driven by the same docker CLI binary (DOCKER_HOST);
 * podman by its own CLI. The busybox image is imported into each from the same
 * tar of .cache/rootfs/busybox. The process running the benchmark is a child
 * subreaper: daemonized shims and conmons are reparented to it (pid 1 here does
 * not reap), and reapOrphans() collects them.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BenchError, REPO, ROOTFS, die, removeTree, setup, sh } from "./lib.ts";
import { reapChild, setChildSubreaper } from "../src/runtime/sys/reaper.ts";

export const DOCKER = process.env.DOCKER ?? "/usr/local/bin/docker";
export const BERTHD = process.env.BERTHD ?? join(REPO, "bin", "berthd");
export const ENGINE_NAMES = ["berthd", "dockerd", "podman"] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** Private subnets for the bench's own bridges (10.231.x for dockerd, .232 podman, .233 berthd). */
export const SUBNETS: Record<EngineName, { defaultBridge: string; userNet: string }> = {
  dockerd: { defaultBridge: "10.231.255.1/24", userNet: "10.231.1.0/24" },
  podman: { defaultBridge: "", userNet: "10.232.1.0/24" },
  berthd: { defaultBridge: "", userNet: "10.233.1.0/24" },
};

export interface Engine {
  name: EngineName;
  /** argv prefix of the CLI for this engine */
  cli: string[];
  /** environment of the CLI */
  env: Record<string, string>;
  /** flags every `run` gets (podman: ulimits this machine allows) */
  runFlags: string[];
  /** `rm` that kills at once, as `docker rm -f` does (podman's waits the stop timeout first) */
  rmForce: string[];
  image: string;
  /** the daemon's processes (berthd; dockerd + its containerd; none for podman) */
  daemonPids(): number[];
  /** the per-container monitor processes (berth-monitor / containerd-shim-runc-v2 / conmon) */
  monitorPids(): number[];
  /** the monitor's process name, for the report */
  monitorName: string;
  /** the daemon's log (berthd: its JSON lines on stderr) */
  logFile?: string;
  /** remove every container (and user network), stop the daemon, unmount and remove the dirs */
  stop(): Promise<void>;
}

export interface Proc {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
  cmdline: string;
}

/** Every process now, from /proc. */
export function processes(): Proc[] {
  const out: Proc[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmdline = readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ");
      out.push({ pid: Number(p), ppid: Number(ppid), state: state!, comm, cmdline });
    } catch {} // gone meanwhile
  }
  return out;
}

/** VmRSS of a process in kB (0 when it is gone). */
export function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const ownChildren = new Set<number>();

/** Become a subreaper: daemonized shims and conmons come to us instead of pid 1, which does not reap here. */
export function adoptOrphans() {
  setChildSubreaper(true);
}

/** Reap the zombies reparented to us (never the children Bun spawned and waits for itself). */
export function reapOrphans() {
  for (const p of processes()) if (p.state === "Z" && p.ppid === process.pid && !ownChildren.has(p.pid)) reapChild(p.pid);
}

function quiet(cmd: string[], env?: Record<string, string>) {
  return Bun.spawnSync({ cmd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
}

/** Mount points under dir, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((mp) => mp.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
}

function unmountAndRemove(dir: string) {
  for (const mp of mountsUnder(dir)) quiet(["umount", "-l", mp]);
  removeTree(dir);
}

/** A tar of the busybox rootfs, the one image every engine imports. */
export function rootfsTar(dir: string): string {
  if (!existsSync(join(ROOTFS, "bin", "busybox"))) die(`${ROOTFS} missing: run scripts/setup.sh (or a bench without BENCH_SKIP_SETUP)`);
  const tar = join(dir, "busybox.tar");
  if (!existsSync(tar)) sh(["tar", "-C", ROOTFS, "-cf", tar, "."], "tar rootfs");
  return tar;
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, alive: () => boolean, log: () => string, timeoutMs = 60_000) {
  const t0 = performance.now();
  while (!(await ok())) {
    if (!alive()) die(`${what} exited:\n${log().split("\n").slice(-15).join("\n")}`);
    if (performance.now() - t0 > timeoutMs) die(`${what} did not answer in ${timeoutMs / 1000}s:\n${log().split("\n").slice(-15).join("\n")}`);
    await Bun.sleep(50);
  }
}

const tail = (f: string) => () => (existsSync(f) ? readFileSync(f, "utf8") : "");

/** docker CLI env for a daemon: nothing of the caller's docker setup. */
function dockerEnv(host: string, config: string): Record<string, string> {
  mkdirSync(config, { recursive: true });
  return { DOCKER_HOST: host, DOCKER_CONFIG: config, DOCKER_CLI_HINTS: "false", HOME: config };
}

/** Remove all containers through a docker-API engine (the CLI, as a user would). */
function dockerRemoveAll(cli: string[], env: Record<string, string>) {
  const ids = quiet([...cli, "ps", "-aq"], env).stdout.toString().split("\n").filter(Boolean);
  for (let i = 0; i < ids.length; i += 50) quiet([...cli, "rm", "-f", ...ids.slice(i, i + 50)], env);
}

async function stopProcess(proc: ReturnType<typeof Bun.spawn>, graceMs: number) {
  if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
  const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
  if (!done) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
  ownChildren.delete(proc.pid);
}

// ---------------------------------------------------------------- berthd

export async function startBerthd(tmp: string): Promise<Engine> {
  if (!existsSync(BERTHD)) die(`${BERTHD} not found`);
  const dir = mkdtempSync(join(tmp, "berthd-"));
  const socket = join(dir, "berth.sock");
  const logFile = join(dir, "berthd.log");
  const host = `unix://${socket}`;
  // default log level: a debug log would slow berthd down in a timing run
  const proc = Bun.spawn([BERTHD, "-H", host, "--data-root", join(dir, "data"), "--exec-root", join(dir, "exec"), ...(process.env.BERTHD_FLAGS?.split(" ").filter(Boolean) ?? [])], {
    stdin: "ignore",
    stdout: Bun.file(join(dir, "berthd.out")),
    stderr: Bun.file(logFile),
  });
  ownChildren.add(proc.pid);
  const env = dockerEnv(host, join(dir, "docker-config"));
  const cli = [DOCKER];
  const e: Engine = {
    name: "berthd",
    cli,
    env,
    runFlags: [],
    rmForce: ["rm", "-f"],
    image: "bench/busybox:latest",
    daemonPids: () => (proc.exitCode === null ? [proc.pid] : []),
    monitorPids: () => processes().filter((p) => p.comm === "berth-monitor" && p.ppid === proc.pid).map((p) => p.pid),
    monitorName: "berth-monitor",
    logFile,
    stop: async () => {
      if (proc.exitCode === null) {
        dockerRemoveAll(cli, env);
        quiet([...cli, "network", "rm", "bench-net"], env);
      }
      await stopProcess(proc, 20_000);
      // a stopped berthd keeps its networks up (its default bridge, as docker0 stays): remove
      // them, or every run leaves a bridge and its rules, and the address pools run out
      const { purgeNetworks } = await import("../test/integration/helpers/net.ts");
      await purgeNetworks(join(dir, "data"), join(dir, "exec", "netns")).catch((err) => console.error(`bench: berthd's networks: ${err instanceof Error ? err.message : err}`));
      unmountAndRemove(dir);
    },
  };
  try {
    await waitFor(
      "berthd",
      async () => {
        try {
          const r = await fetch("http://berthd/_ping", { unix: socket } as RequestInit);
          await r.text();
          return r.ok;
        } catch {
          return false;
        }
      },
      () => proc.exitCode === null,
      tail(logFile),
    );
    sh([DOCKER, "import", rootfsTar(tmp), e.image], "docker import into berthd", env);
  } catch (err) {
    await e.stop();
    throw err;
  }
  return e;
}

// ---------------------------------------------------------------- dockerd

/**
 * dockerd from Debian's docker.io, installed when missing. Installing must not start
 * a system dockerd (a policy-rc.d that forbids starting services is put in place
 * for the install when there is none) and must not shadow the docker CLI 28 that
 * the benchmarks call by absolute path anyway.
 */
export function ensureDockerd(): string {
  const found = Bun.which("dockerd") ?? (existsSync("/usr/sbin/dockerd") ? "/usr/sbin/dockerd" : null);
  if (found) return found;
  console.error("bench: dockerd not found: installing Debian's docker.io (apt-get)");
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\n# berth bench: no service starts during the docker.io install\nexit 101\n", { mode: 0o755 });
  try {
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    const opts = ["-o", "DPkg::Lock::Timeout=300", "-q"];
    if (quiet(["apt-get", ...opts, "install", "-y", "--no-install-recommends", "docker.io"], env).exitCode !== 0) {
      sh(["apt-get", ...opts, "update"], "apt-get update", env);
      sh(["apt-get", ...opts, "install", "-y", "--no-install-recommends", "docker.io"], "apt-get install docker.io", env);
    }
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  return Bun.which("dockerd") ?? (existsSync("/usr/sbin/dockerd") ? "/usr/sbin/dockerd" : die("docker.io installed but dockerd not found"));
}

export async function startDockerd(tmp: string): Promise<Engine> {
  const dockerd = ensureDockerd();
  const dir = mkdtempSync(join(tmp, "dockerd-"));
  const socket = join(dir, "docker.sock");
  const execRoot = join(dir, "exec");
  const logFile = join(dir, "dockerd.log");
  const host = `unix://${socket}`;
  // a private default bridge: never docker0 (a system dockerd may own it)
  const bridge = `bbd${process.pid % 100000}`;
  sh(["ip", "link", "add", bridge, "type", "bridge"], "create dockerd's bridge");
  sh(["ip", "addr", "add", SUBNETS.dockerd.defaultBridge, "dev", bridge], "address dockerd's bridge");
  sh(["ip", "link", "set", bridge, "up"], "bring up dockerd's bridge");
  const proc = Bun.spawn(
    [
      dockerd,
      "-H", host,
      "--data-root", join(dir, "data"),
      "--exec-root", execRoot,
      "--pidfile", join(dir, "dockerd.pid"),
      "--storage-driver", "overlay2",
      "--iptables=false", "--ip-forward=false", "--ip-masq=false",
      "--bridge", bridge,
      // its own managed containerd (under the exec root); never the system's
    ],
    { stdin: "ignore", stdout: Bun.file(join(dir, "dockerd.out")), stderr: Bun.file(logFile), env: { ...process.env, DOCKER_CONFIG: join(dir, "docker-config") } },
  );
  ownChildren.add(proc.pid);
  const env = dockerEnv(host, join(dir, "docker-config"));
  const cli = [DOCKER];
  const containerdSock = join(execRoot, "containerd", "containerd.sock");
  const e: Engine = {
    name: "dockerd",
    cli,
    env,
    runFlags: [],
    rmForce: ["rm", "-f"],
    image: "bench/busybox:latest",
    daemonPids: () => {
      if (proc.exitCode !== null) return [];
      const containerd = processes().filter((p) => p.ppid === proc.pid && p.comm === "containerd").map((p) => p.pid);
      return [proc.pid, ...containerd];
    },
    monitorPids: () => processes().filter((p) => p.comm.startsWith("containerd-shim") && p.cmdline.includes(containerdSock)).map((p) => p.pid),
    monitorName: "containerd-shim-runc-v2",
    stop: async () => {
      if (proc.exitCode === null) {
        dockerRemoveAll(cli, env);
        quiet([...cli, "network", "rm", "bench-net"], env);
      }
      await stopProcess(proc, 30_000);
      // shims outlive a killed dockerd; they are ours to end (only those of this daemon's containerd)
      for (const pid of e.monitorPids()) quiet(["kill", "-9", String(pid)]);
      reapOrphans();
      quiet(["ip", "link", "del", bridge]);
      unmountAndRemove(dir);
    },
  };
  try {
    await waitFor("dockerd", () => quiet([DOCKER, "version", "--format", "{{.Server.Version}}"], env).exitCode === 0, () => proc.exitCode === null, tail(logFile));
    sh([DOCKER, "import", rootfsTar(tmp), e.image], "docker import into dockerd", env);
  } catch (err) {
    await e.stop();
    throw err;
  }
  return e;
}

// ---------------------------------------------------------------- podman

export async function startPodman(tmp: string): Promise<Engine> {
  if (!Bun.which("podman")) die("podman not found (scripts/setup.sh installs it)");
  const dir = mkdtempSync(join(tmp, "podman-"));
  mkdirSync(join(dir, "net"), { recursive: true });
  // podman's default network makes the bridge cni-podman0 and leaves it: remove it after if we made it
  const hadBridge = existsSync("/sys/class/net/cni-podman0");
  const cli = [
    "podman",
    "--root", join(dir, "storage"),
    "--runroot", join(dir, "run"),
    "--network-config-dir", join(dir, "net"),
    "--cgroup-manager", "cgroupfs",
    "--events-backend", "file",
    "--runtime", "runc",
  ];
  const e: Engine = {
    name: "podman",
    cli,
    env: {},
    // podman's default ulimits exceed this machine's hard limits (no CAP_SYS_RESOURCE)
    runFlags: ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"],
    rmForce: ["rm", "-f", "--time", "0"],
    image: "localhost/bench/busybox:latest",
    daemonPids: () => [],
    monitorPids: () => processes().filter((p) => p.comm === "conmon" && p.cmdline.includes(dir)).map((p) => p.pid),
    monitorName: "conmon",
    stop: async () => {
      quiet([...cli, "rm", "--all", "--force", "--time", "0"]);
      quiet([...cli, "network", "rm", "-f", "bench-net"]);
      // conmon runs `podman container cleanup` as each container exits; those mount the store again
      for (let i = 0; i < 300; i++) {
        reapOrphans();
        if (!processes().some((p) => p.pid !== process.pid && p.state !== "Z" && p.cmdline.includes(dir))) break;
        await Bun.sleep(100);
      }
      reapOrphans();
      if (!hadBridge && existsSync("/sys/class/net/cni-podman0")) quiet(["ip", "link", "del", "cni-podman0"]);
      unmountAndRemove(dir);
    },
  };
  try {
    sh([...cli, "import", rootfsTar(tmp), e.image], "podman import");
  } catch (err) {
    await e.stop();
    throw err;
  }
  return e;
}

const starters: Record<EngineName, (tmp: string) => Promise<Engine>> = { berthd: startBerthd, dockerd: startDockerd, podman: startPodman };

/**
 * The engines BENCH_ENGINES names (default all three), started. One that cannot
 * start is reported and left out; the caller decides whether what remains is enough.
 */
export async function startEngines(tmp: string): Promise<{ engines: Engine[]; skipped: Record<string, string> }> {
  const names = (process.env.BENCH_ENGINES ?? ENGINE_NAMES.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!(ENGINE_NAMES as readonly string[]).includes(n)) die(`BENCH_ENGINES: unknown engine ${n} (one of ${ENGINE_NAMES.join(", ")})`);
  const engines: Engine[] = [];
  const skipped: Record<string, string> = {};
  for (const n of ENGINE_NAMES) {
    if (!names.includes(n)) continue;
    try {
      console.error(`bench: starting ${n}`);
      const t0 = performance.now();
      engines.push(await starters[n](tmp));
      console.error(`bench: ${n} ready in ${((performance.now() - t0) / 1000).toFixed(1)}s (image imported)`);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      skipped[n] = msg;
      console.error(`bench: ${n} skipped: ${msg}`);
    }
  }
  return { engines, skipped };
}

/** argv of `run` on an engine: run flags, then the image and the command. */
export function runArgv(e: Engine, flags: string[], cmd: string[]): string[] {
  return [...e.cli, "run", ...e.runFlags, ...flags, e.image, ...cmd];
}

/** The machine's load now, for the report. */
export function loadavg(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

export function engineTmp(): string {
  return mkdtempSync(join(tmpdir(), "berth-bench-engine-"));
}

export async function stopEngines(engines: Engine[], tmp: string) {
  for (const e of engines) {
    try {
      await e.stop();
    } catch (err) {
      console.error(`bench: stopping ${e.name}: ${err instanceof Error ? err.message : err}`);
    }
  }
  if (tmp) unmountAndRemove(tmp);
}

/**
 * The frame of an engine benchmark: setup, subreaper, the engines started in a
 * temp dir, body(engines, skipped), then everything stopped and removed — also
 * on an error, SIGINT or SIGTERM.
 */
export async function engineBench(body: (engines: Engine[], skipped: Record<string, string>) => Promise<void>) {
  let tmp = "";
  let engines: Engine[] = [];
  let stopping: Promise<void> | null = null;
  const stop = () => (stopping ??= stopEngines(engines, tmp));
  process.on("SIGINT", () => void stop().then(() => process.exit(130)));
  process.on("SIGTERM", () => void stop().then(() => process.exit(143)));
  try {
    setup();
    adoptOrphans();
    tmp = engineTmp();
    const started = await startEngines(tmp);
    engines = started.engines;
    if (engines.length === 0) die(`no engine started: ${JSON.stringify(started.skipped)}`);
    await body(engines, started.skipped);
  } catch (e) {
    if (!(e instanceof BenchError)) throw e;
    console.error(`bench: error: ${e.message}`);
    process.exitCode = 1;
  } finally {
    await stop();
  }
}
