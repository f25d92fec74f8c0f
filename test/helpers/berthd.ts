/**
 * A berthd of the test's own: bin/berthd on a private socket, data root and
 * exec root (temp dirs), and runners for the real docker CLI and bin/berth
 * pointed at it. stop() sends SIGTERM, waits, and removes the dirs.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REPO = join(import.meta.dir, "..", "..");
export const BERTHD = join(REPO, "bin", "berthd");
export const BERTH = join(REPO, "bin", "berth");
export const DOCKER = Bun.which("docker") ?? "/usr/local/bin/docker";
export const haveDocker = existsSync(DOCKER);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Berthd {
  dir: string;
  socket: string;
  host: string;
  dataRoot: string;
  execRoot: string;
  /** the DOCKER_CONFIG dir the docker runner uses (docker login writes there) */
  dockerConfig: string;
  proc: ReturnType<typeof Bun.spawn>;
  log: () => string;
  /** the real docker CLI against this daemon */
  docker: (args: string[], opts?: { stdin?: string | Uint8Array; env?: Record<string, string> }) => Promise<RunResult>;
  /** bin/berth against this daemon */
  berth: (args: string[], opts?: { stdin?: string | Uint8Array; env?: Record<string, string> }) => Promise<RunResult>;
  /** raw HTTP on the socket */
  fetch: (path: string, init?: RequestInit) => Promise<Response>;
  /** SIGTERM and wait; returns the exit code */
  stop: () => Promise<number>;
  /** stop, then remove the dirs */
  cleanup: () => Promise<void>;
}

export async function run(cmd: string[], env: Record<string, string | undefined>, stdin?: string | Uint8Array): Promise<RunResult> {
  const p = Bun.spawn(cmd, { env, stdin: stdin === undefined ? "ignore" : "pipe", stdout: "pipe", stderr: "pipe" });
  if (stdin !== undefined && p.stdin) {
    p.stdin.write(stdin);
    await p.stdin.end();
  }
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** The environment the CLIs run in: nothing of the caller's docker setup. */
function cliEnv(b: { host: string; dockerConfig: string }, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: b.dockerConfig,
    DOCKER_HOST: b.host,
    DOCKER_CONFIG: b.dockerConfig,
    DOCKER_CLI_HINTS: "false",
    ...extra,
  };
}

export async function startBerthd(flags: string[] = [], opts: { dir?: string } = {}): Promise<Berthd> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "berthd-test-"));
  const socket = join(dir, "berth.sock");
  const dataRoot = join(dir, "data");
  const execRoot = join(dir, "exec");
  const dockerConfig = join(dir, "docker-config");
  mkdirSync(dockerConfig, { recursive: true });
  const logFile = join(dir, "berthd.log");
  const host = `unix://${socket}`;
  const proc = Bun.spawn([BERTHD, "-H", host, "--data-root", dataRoot, "--exec-root", execRoot, "--log-level", "debug", ...flags], {
    stdin: "ignore",
    stdout: Bun.file(join(dir, "berthd.out")),
    stderr: Bun.file(logFile),
  });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const f = (path: string, init: RequestInit = {}) => fetch(`http://berthd${path}`, { ...init, unix: socket } as RequestInit);
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`berthd exited ${proc.exitCode}:\n${log()}`);
    try {
      const res = await f("/_ping");
      await res.text();
      if (res.ok) break;
    } catch {}
    if (i > 400) {
      proc.kill("SIGKILL");
      throw new Error(`berthd did not answer on ${socket}:\n${log()}`);
    }
    await Bun.sleep(25);
  }
  const b = { host, dockerConfig };
  return {
    dir,
    socket,
    host,
    dataRoot,
    execRoot,
    dockerConfig,
    proc,
    log,
    docker: (args, o = {}) => run([DOCKER, ...args], cliEnv(b, o.env), o.stdin),
    berth: (args, o = {}) => run([BERTH, ...args], cliEnv(b, o.env), o.stdin),
    fetch: f,
    stop: async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      return await proc.exited;
    },
    cleanup: async () => {
      // what a test left: its containers (they outlive the daemon), then its networks (host bridges, rules)
      if (proc.exitCode === null) {
        try {
          const list = (await (await f("/containers/json?all=1")).json()) as { Id: string }[];
          for (const c of list) await (await f(`/containers/${c.Id}?force=1&v=1`, { method: "DELETE" })).text();
        } catch {}
        proc.kill("SIGTERM");
      }
      await proc.exited;
      if (opts.dir) return;
      // a stopped berthd keeps its networks up (the default bridge, as docker0): remove them, or
      // every test daemon holds an address pool (and a bridge) until the machine reboots
      if (process.getuid?.() === 0 && existsSync(join(dataRoot, "berth.db"))) {
        const { purgeNetworks } = await import("../integration/helpers/net.ts");
        await purgeNetworks(dataRoot, join(execRoot, "netns")).catch((e) => console.error(`berthd test cleanup: networks of ${dataRoot}:`, e));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
