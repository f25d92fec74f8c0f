/** berthd's command line (dockerd's flag names). */
import { parseArgs } from "node:util";
import { invalidArgument } from "../errors.ts";
import { DEFAULT_CERTS_DIR, DEFAULT_DATA_ROOT, DEFAULT_EXEC_ROOT, DEFAULT_SOCKET, type DaemonOptions } from "../engine/daemon.ts";
import { isLevel, LEVELS, type Level } from "../engine/logger.ts";

export const USAGE = `usage: berthd [flags]

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

