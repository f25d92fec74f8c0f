/**
 * A private berthd with the busybox rootfs imported as local/busybox, for the
 * docker CLI compat tests, plus their small helpers (polling, the util-linux
 * `script` pty wrapper).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { haveDocker, REPO, run, startBerthd, DOCKER, type Berthd, type RunResult } from "./berthd.ts";

export const ROOTFS = join(REPO, ".cache", "rootfs", "busybox");
export const IMG = "local/busybox:latest";
export const SCRIPT = Bun.which("script");
export const canRun = haveDocker && existsSync(ROOTFS);

export async function busyboxDaemon(): Promise<Berthd> {
  const d = await startBerthd();
  const tar = join(d.dir, "busybox.tar");
  execFileSync("tar", ["-C", ROOTFS, "-cf", tar, "."]);
  const r = await d.docker(["import", tar, IMG]);
  if (r.code !== 0) throw new Error(r.stderr);
  return d;
}

/** remove every container (and its anonymous volumes), then stop the daemon */
export async function teardown(d: Berthd | undefined): Promise<void> {
  if (!d) return;
  const ids = (await d.docker(["ps", "-aq"])).stdout.split("\n").filter(Boolean);
  if (ids.length) await d.docker(["rm", "-fv", ...ids]);
  const vols = (await d.docker(["volume", "ls", "-q"])).stdout.split("\n").filter(Boolean);
  if (vols.length) await d.docker(["volume", "rm", "-f", ...vols]);
  await d.cleanup();
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** a docker command line run under a pty (util-linux script); its exit code is the command's */
export async function underPty(d: Berthd, cmd: string, stdin?: string, before = ""): Promise<RunResult> {
  if (!SCRIPT) throw new Error("no script(1)");
  return run([SCRIPT, "-qec", `${before}${DOCKER} ${cmd}`, "/dev/null"], { PATH: process.env.PATH, HOME: d.dockerConfig, DOCKER_HOST: d.host, DOCKER_CONFIG: d.dockerConfig, DOCKER_CLI_HINTS: "false", TERM: "xterm" }, stdin);
}

/** the events (docker's JSON lines, parsed) between `since` (unix seconds) and now, replayed */
export async function eventsSince(d: Berthd, since: number, args: string[] = []): Promise<Array<{ Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } }>> {
  const until = (Date.now() / 1000 + 1).toFixed(3);
  const r = await d.docker(["events", "--since", since.toFixed(3), "--until", until, "--format", "{{json .}}", ...args]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
