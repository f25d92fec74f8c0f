/**
 * berthd: the container engine daemon, serving the Docker Engine API on a
 * unix socket. Flags as dockerd's:
 *
 *   berthd [-H unix:///run/berth/berth.sock] [--data-root /var/lib/berth]
 *          [--exec-root /run/berth] [-p PIDFILE] [--log-level info]
 *          [--insecure-registry HOST[:PORT]|CIDR]... [--certs-dir /etc/docker/certs.d]
 *          [-G GROUP] [--shutdown-timeout 15]
 *
 * SIGTERM or SIGINT: clean shutdown (a second one exits at once).
 */
import { parseArgs } from "node:util";
import { BerthError, exitStatus, invalidArgument } from "../errors.ts";
import { dockerApi } from "../api/docker/server.ts";
import { Daemon, DEFAULT_CERTS_DIR, DEFAULT_DATA_ROOT, DEFAULT_EXEC_ROOT, DEFAULT_SOCKET, type DaemonOptions } from "../engine/daemon.ts";
import { createLogger, isLevel, LEVELS, type Level } from "../engine/logger.ts";
import { VERSION } from "../version.ts";

const USAGE = `usage: berthd [flags]

  -H, --host unix:///PATH          API socket (default ${DEFAULT_SOCKET})
      --data-root DIR              engine state (default ${DEFAULT_DATA_ROOT})
      --exec-root DIR              runtime state, pid file (default ${DEFAULT_EXEC_ROOT})
  -p, --pidfile FILE               (default <exec root>/berthd.pid)
  -l, --log-level LEVEL            ${LEVELS.join("|")} (default info)
  -D, --debug                      same as --log-level debug
      --insecure-registry H[:P]    allow plain http / unverified TLS for a registry (host[:port] or CIDR); repeatable
      --certs-dir DIR              per-registry CA files: DIR/<host[:port]>/*.crt (default ${DEFAULT_CERTS_DIR})
  -G, --group GROUP                group owning the socket (mode 0660)
      --shutdown-timeout SECONDS   wait for in-flight requests at shutdown (default 15)
  -v, --version
  -h, --help
`;

export function parseDaemonFlags(argv: string[]): { opts: Omit<DaemonOptions, "log">; level: Level } | "help" | "version" {
  let r;
  try {
    r = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        host: { type: "string", short: "H", multiple: true },
        "data-root": { type: "string" },
        "exec-root": { type: "string" },
        pidfile: { type: "string", short: "p" },
        "log-level": { type: "string", short: "l" },
        debug: { type: "boolean", short: "D" },
        "insecure-registry": { type: "string", multiple: true },
        "certs-dir": { type: "string" },
        group: { type: "string", short: "G" },
        "shutdown-timeout": { type: "string" },
        version: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw invalidArgument((e as Error).message.replace(/\. To specify.*$/s, "").toLowerCase());
  }
  const v = r.values;
  if (v.help) return "help";
  if (v.version) return "version";
  const hosts = v.host ?? [];
  if (hosts.length > 1) throw invalidArgument("-H: one socket only");
  const level = v.debug ? "debug" : (v["log-level"] ?? "info");
  if (!isLevel(level)) throw invalidArgument(`--log-level: unknown level "${level}" (${LEVELS.join(", ")})`);
  let shutdownTimeoutMs: number | undefined;
  if (v["shutdown-timeout"] !== undefined) {
    if (!/^\d+$/.test(v["shutdown-timeout"])) throw invalidArgument(`--shutdown-timeout: want whole seconds, got "${v["shutdown-timeout"]}"`);
    shutdownTimeoutMs = Number(v["shutdown-timeout"]) * 1000;
  }
  return {
    level,
    opts: {
      host: hosts[0] ?? DEFAULT_SOCKET,
      dataRoot: v["data-root"] ?? DEFAULT_DATA_ROOT,
      execRoot: v["exec-root"] ?? DEFAULT_EXEC_ROOT,
      pidFile: v.pidfile,
      insecureRegistries: v["insecure-registry"] ?? [],
      certsDir: v["certs-dir"] ?? DEFAULT_CERTS_DIR,
      group: v.group,
      shutdownTimeoutMs,
    },
  };
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseDaemonFlags(argv);
  } catch (e) {
    process.stderr.write(`berthd: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed === "version") {
    process.stdout.write(`berthd version ${VERSION}\n`);
    return 0;
  }
  const log = createLogger(parsed.level);
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({ ...parsed.opts, log }, (rc) => dockerApi(rc));
  } catch (e) {
    log.fatal("cannot start", { error: (e as Error).message, ...(e instanceof BerthError ? { code: e.code } : {}) });
    return e instanceof BerthError ? exitStatus(e.code) : 1;
  }
  let signals = 0;
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        log.warn("second signal: exiting without waiting", { signal: sig });
        process.exit(1);
      }
      log.info("signal received", { signal: sig });
      daemon.stop().then(resolve, (e) => {
        log.error("shutdown failed", { error: (e as Error).message });
        resolve();
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
process.exit();
