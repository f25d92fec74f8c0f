/**
 * docker top: the host's ps(1) with the caller's ps_args, rows kept only for
 * pids in the container's cgroup (as dockerd does with containerd's pid
 * list). The pid set is read before and after ps runs and only pids in both
 * count, so a pid that left the cgroup and was reused by a host process
 * while ps ran is not shown: top never lists a process outside the container,
 * whatever ps_args asks for.
 */
import { BerthError, failedPrecondition, invalidArgument } from "../../errors.ts";
import type { ContainerRecord } from "./model.ts";
import { runtimeHandle } from "./runtime-handle.ts";

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/**
 * dockerd's validatePSArgs, stricter: a column renamed to PID ("-o ppid=PID",
 * also glued to the option as "-oppid=PID") would make the filter match on
 * another column, so only the pid column may carry that header.
 */
export function validatePsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(/([^\s,=]*)=\s*(PID\S*)/g)) {
    const key = m[1]!;
    if (key.replace(/^(?:--format|-[oO]|[oO])/, "") !== "pid") {
      throw invalidArgument(`specifying "${key}=${m[2]}" is not allowed`);
    }
  }
}

/** Fields of a ps line: the first n-1 split on blanks, the last one the rest of the line (the command keeps its spaces). */
function fields(line: string, n: number): string[] {
  const parts = line.trim().split(/[ \t]+/);
  if (parts.length <= n) return parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(" ")];
}

/** ps output -> {Titles, Processes} keeping the rows whose PID is in pids (dockerd's parsePSOutput). */
export function parsePsOutput(output: string, pids: ReadonlySet<number>): TopResult {
  const lines = output.split("\n");
  const Titles = (lines[0] ?? "").trim().split(/[ \t]+/).filter(Boolean);
  const pidIndex = Titles.indexOf("PID");
  if (pidIndex < 0) throw new BerthError("Internal", "Couldn't find PID field in ps output");
  const Processes: string[][] = [];
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    const row = fields(line, Titles.length);
    const pid = Number(row[pidIndex]);
    if (!/^\d+$/.test(row[pidIndex] ?? "")) throw new BerthError("Internal", `Unexpected pid '${row[pidIndex] ?? ""}': in ps output line ${JSON.stringify(line)}`);
    if (pids.has(pid)) Processes.push(row);
  }
  return { Titles, Processes };
}

export interface TopOptions {
  /** pids in the container's cgroup now (default: the runtime's cgroup manager) */
  pids?: () => number[];
  /** runs ps (tests may substitute) */
  ps?: (args: string[]) => { exitCode: number; stdout: string; stderr: string };
}

function runPs(args: string[]) {
  const r = Bun.spawnSync(["ps", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" } });
  return { exitCode: r.exitCode ?? 128, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/**
 * GET /containers/{id}/top. Not running: FailedPrecondition (409)
 * "Container <id> is not running"; ps failing: Internal (500) "ps: <ps's
 * first line of stderr>".
 */
export function top(record: ContainerRecord, psArgs = "", opts: TopOptions = {}): TopResult {
  const argsText = psArgs === "" ? "-ef" : psArgs;
  validatePsArgs(argsText);
  if (!record.State.Running) throw failedPrecondition(`Container ${record.Id} is not running`);
  if (record.State.Restarting) throw failedPrecondition(`Container ${record.Id} is restarting, wait until the container is running`);
  const pids = opts.pids ?? (() => runtimeHandle(record).cgroup.processes());
  const before = new Set(pids());
  const args = argsText.split(/\s+/).filter(Boolean);
  const r = (opts.ps ?? runPs)(args);
  if (r.exitCode !== 0) {
    const first = r.stderr.split("\n").find((l) => l.trim()) ?? `exit status ${r.exitCode}`;
    throw new BerthError("Internal", `ps: ${first.trim()}`);
  }
  const after = new Set(pids());
  const both = new Set([...before].filter((p) => after.has(p)));
  return parsePsOutput(r.stdout, both);
}
