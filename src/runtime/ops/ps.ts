/**
 * `ps`: the processes of a container are the pids in its cgroup (sub-cgroups
 * included). The table form runs the host's ps(1) with the caller's options
 * and keeps the header and the rows whose PID column is one of them, as runc.
 */
import { BerthError, failedPrecondition } from "../../errors.ts";
import type { Runtime } from "../container.ts";
import { loadCgroupManager } from "../cgroups/manager.ts";

/** Pids in the container's cgroup, ascending. */
export function containerPids(rt: Runtime, id: string): number[] {
  const rec = rt.store.load(id);
  if (!rec.cgroup) throw failedPrecondition(`container "${id}" has no cgroup to list processes from`);
  return loadCgroupManager(rec.cgroup).processes().sort((a, b) => a - b);
}

/** The header and the rows of ps(1) output whose PID column is in pids. */
export function filterPsOutput(output: string, pids: readonly number[]): string {
  const lines = output.split("\n");
  const header = lines[0] ?? "";
  const pidIndex = header.trim().split(/\s+/).indexOf("PID");
  if (pidIndex < 0) throw new BerthError("InvalidArgument", "ps: couldn't find PID field in ps output (give ps options that print PID)");
  const want = new Set(pids);
  const out = [header];
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const field = line.trim().split(/\s+/)[pidIndex];
    const pid = Number(field);
    if (!field || !/^\d+$/.test(field)) throw new BerthError("Internal", `ps: unable to parse pid ${JSON.stringify(field ?? "")} in ${JSON.stringify(line)}`);
    if (want.has(pid)) out.push(line);
  }
  return out.join("\n") + "\n";
}

/** Run the host's ps with args (default -ef) and keep the container's rows. */
export function psTable(pids: readonly number[], args: readonly string[]): string {
  const argv = ["ps", ...(args.length ? args : ["-ef"])];
  let r;
  try {
    r = Bun.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  } catch (e) {
    throw new BerthError("FailedPrecondition", `ps: cannot run the host's ps: ${(e as Error).message}`, { cause: e });
  }
  const out = r.stdout.toString();
  if (r.exitCode !== 0) {
    const combined = (out + r.stderr.toString()).trim();
    throw new BerthError("InvalidArgument", `ps: ${argv.join(" ")} exited ${r.exitCode ?? `on signal ${r.signalCode}`}: ${combined}`);
  }
  return filterPsOutput(out, pids);
}
