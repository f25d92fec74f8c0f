/**
 * Running the host tools networking needs (ip, iptables, unshare, umount,
 * nsenter) as child processes: the Bun process itself never enters a
 * namespace. Failures are BerthErrors quoting the tool's stderr.
 */
import { BerthError } from "../../errors.ts";
import { currentPhases } from "../phases.ts";

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(argv: string[], opts: { stdin?: string } = {}): Promise<CmdResult> {
  const t0 = performance.now();
  const p = Bun.spawn(argv, {
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  currentPhases()?.add(`exec.${argv[0]!.split("/").pop()}${argv[0] === "nsenter" ? `.${argv[2]}` : ""}`, performance.now() - t0);
  return { code, stdout, stderr };
}

/** run, and throw when the tool fails */
export async function must(argv: string[], context: string, opts: { stdin?: string } = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new BerthError("Internal", `${context}: ${argv[0]} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}
