/**
 * Runs one criu command with a deadline: SIGTERM when it passes, SIGKILL a few
 * seconds later (a stuck restore ignores SIGTERM). A failure becomes a
 * BerthError quoting the error lines of criu's log.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BerthError } from "../../errors.ts";
import type { Criu } from "./binary.ts";

export type ChildFd = number | "inherit" | "ignore" | "pipe";

export interface CriuRun {
  /** dump, pre-dump, restore, lazy-pages, ... */
  action: string;
  args: string[];
  /** directory criu writes its log in (-o is relative to the work dir, else the images dir) */
  logDir: string;
  logFile: string;
  /** the child's fds by number (0, 1, 2, then inherited ones); default: no stdin, output captured */
  stdio?: ChildFd[];
  /** default: $BERTH_CRIU_TIMEOUT seconds, else 600 s */
  timeoutMs?: number;
  /** turns criu's argv into the command to spawn (e.g. enter a cgroup first, then exec criu) */
  wrap?: (argv: string[]) => string[];
}

const KILL_GRACE_MS = 5_000;

export function defaultTimeoutMs(): number {
  const s = Number(process.env.BERTH_CRIU_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 600_000;
}

/** Runs criu; resolves with the elapsed milliseconds when it exits 0. */
export async function runCriu(criu: Criu, r: CriuRun): Promise<number> {
  const argv = [criu.path, r.action, ...r.args];
  const cmd = r.wrap ? r.wrap(argv) : argv;
  const t0 = performance.now();
  const stdio = r.stdio ?? ["ignore", "pipe", "pipe"];
  const child = Bun.spawn(cmd, { stdio: stdio as never, env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" } });
  const limit = r.timeoutMs ?? defaultTimeoutMs();
  let timedOut = false;
  let killer: ReturnType<typeof setTimeout> | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGTERM");
    killer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
  }, limit);
  const out = stdio[1] === "pipe" ? new Response(child.stdout as unknown as ReadableStream).text() : Promise.resolve("");
  const err = stdio[2] === "pipe" ? new Response(child.stderr as unknown as ReadableStream).text() : Promise.resolve("");
  const code = await child.exited;
  clearTimeout(timer);
  if (killer) clearTimeout(killer);
  const output = ((await out) + (await err)).trim();
  const ms = performance.now() - t0;
  if (timedOut) {
    throw new BerthError("Unavailable", `criu ${r.action} did not finish within ${Math.round(limit / 1000)}s and was killed (log: ${join(r.logDir, r.logFile)})`);
  }
  if (code === 125 && r.wrap) throw new BerthError("Internal", `criu ${r.action}: could not start criu in the container's cgroup`);
  if (code !== 0) {
    const why = logErrors(join(r.logDir, r.logFile)) || output.split("\n").slice(-3).join("; ") || "no error in the log";
    throw new BerthError("Internal", `criu ${r.action} failed (exit ${code}): ${why} (log: ${join(r.logDir, r.logFile)})`);
  }
  return ms;
}

/** Errors criu logs on every run on some hosts without failing (see shared/CRIU.md). */
const HARMLESS = ["Can't setup RLIMIT_NOFILE", "Unable to create tun"];

/** The last few "Error" lines of a criu log, joined; "" if none or no log. */
export function logErrors(file: string, max = 3): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return "";
  }
  const lines = text.split("\n").filter((l) => /Error|BUG/.test(l) && !HARMLESS.some((h) => l.includes(h)));
  return lines
    .slice(-max)
    .map((l) => l.replace(/^\(\s*[\d.]+\)\s*/, "").trim())
    .join("; ");
}
