/**
 * Executing one CNI plugin (spec 1.0 "Execution protocol"): the network
 * configuration on stdin, parameters in CNI_* environment variables, the result
 * or an error object on stdout. Every exec is timed; the timings are what
 * bench/network-attach.ts reports.
 */
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { BerthError, type ErrorCode } from "../../../errors.ts";
import { CNI_ERROR_CODES, parseErrorBody } from "./types.ts";
import { currentPhases } from "../../phases.ts";

export type CniCommand = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";

export const DEFAULT_CNI_PATH = ["/usr/lib/cni", "/opt/cni/bin"];

export interface ExecParams {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_ARGS: "K=V;K2=V2" */
  args?: [string, string][];
}

export interface ExecTiming {
  plugin: string;
  command: CniCommand;
  network: string;
  ms: number;
  ok: boolean;
}

export interface PluginExecOptions {
  /** directories searched for plugin binaries, in order (CNI_PATH) */
  path?: string[];
  /** kill a plugin that runs longer (ms) */
  timeoutMs?: number;
  /** called after every exec */
  onTiming?: (t: ExecTiming) => void;
}

/** How to map a plugin's error code onto berth's codes. */
function codeFor(cniCode: number): ErrorCode {
  if (cniCode === 3) return "NotFound";
  if (cniCode === 1 || cniCode === 2 || cniCode === 4 || cniCode === 6 || cniCode === 7) return "InvalidArgument";
  if (cniCode === 11) return "Unavailable";
  return "Internal";
}

export class PluginExec {
  readonly path: string[];
  private readonly timeoutMs: number;
  private readonly onTiming?: (t: ExecTiming) => void;
  private readonly found = new Map<string, string>();

  constructor(opts: PluginExecOptions = {}) {
    this.path = opts.path ?? DEFAULT_CNI_PATH;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.onTiming = opts.onTiming;
  }

  /** Absolute path of the plugin binary, or a NotFound error naming the search path. */
  find(type: string): string {
    const hit = this.found.get(type);
    if (hit) return hit;
    for (const dir of this.path) {
      const p = join(dir, type);
      try {
        accessSync(p, constants.X_OK);
        this.found.set(type, p);
        return p;
      } catch {}
    }
    throw new BerthError("NotFound", `cni plugin "${type}": not found in ${this.path.join(":")}`);
  }

  /**
   * Run a plugin with `stdin` (the per-plugin network configuration).
   * Returns the parsed stdout JSON (undefined when empty, as DEL answers).
   * A failure is a BerthError naming the plugin, the command and the network,
   * with the plugin's own msg/details.
   */
  async run(type: string, network: string, stdin: unknown, p: ExecParams): Promise<unknown> {
    const bin = this.find(type);
    const env: Record<string, string> = {
      CNI_COMMAND: p.command,
      CNI_PATH: this.path.join(":"),
      PATH: process.env.PATH || "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    };
    if (p.containerId !== undefined) env.CNI_CONTAINERID = p.containerId;
    if (p.netns !== undefined) env.CNI_NETNS = p.netns;
    if (p.ifname !== undefined) env.CNI_IFNAME = p.ifname;
    if (p.args?.length) env.CNI_ARGS = p.args.map(([k, v]) => `${k}=${v}`).join(";");
    const t0 = performance.now();
    const proc = Bun.spawn([bin], {
      stdin: new TextEncoder().encode(JSON.stringify(stdin)),
      stdout: "pipe",
      stderr: "pipe",
      env,
      timeout: this.timeoutMs,
      killSignal: "SIGKILL",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    const ms = performance.now() - t0;
    this.onTiming?.({ plugin: type, command: p.command, network, ms, ok: code === 0 });
    currentPhases()?.add(`cni.${type}.${p.command}`, ms);
    const what = `cni plugin "${type}" ${p.command}${network ? ` on network "${network}"` : ""}`;
    if (code !== 0) {
      const body = parseErrorBody(out);
      if (body) {
        const detail = body.details ? `: ${body.details}` : "";
        const known = CNI_ERROR_CODES[body.code];
        throw new BerthError(codeFor(body.code), `${what}: ${body.msg}${detail} (code ${body.code}${known ? `, ${known}` : ""})`);
      }
      const why = proc.signalCode ? `killed by ${proc.signalCode}${proc.signalCode === "SIGKILL" ? ` (timeout ${this.timeoutMs} ms?)` : ""}` : `exited ${code}`;
      const text = (err || out).trim().split("\n").slice(-3).join(" | ");
      throw new BerthError("Internal", `${what}: ${why}${text ? `: ${text}` : ""}`);
    }
    if (!out.trim()) return undefined;
    try {
      return JSON.parse(out);
    } catch {
      throw new BerthError("Internal", `${what}: output is not JSON: ${out.slice(0, 200)}`);
    }
  }
}
