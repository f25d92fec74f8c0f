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
import { BerthError, exitStatus } from "../errors.ts";
import { dockerHandlers } from "../api/docker/server.ts";
import { Daemon } from "../engine/daemon.ts";
import { createLogger } from "../engine/logger.ts";
import { VERSION } from "../version.ts";
import { parseDaemonFlags, USAGE } from "./berthd-flags.ts";

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
    daemon = await Daemon.start({ ...parsed.opts, log }, (rc) => dockerHandlers(rc));
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
