/**
 * The process an `exec` runs, as runc builds it: either a process.json as is
 * (--process; the other process flags are then ignored, as runc does), or the
 * container's own config.process with the command and flags applied over it.
 */
import { readFileSync } from "node:fs";
import type { Process } from "../oci/runtime-spec.ts";
import { parseProcess } from "../oci/validate.ts";
import { isCapability } from "../oci/capabilities.ts";
import { invalidArgument, wrapError } from "../errors.ts";

export interface ExecFlags {
  /** path of a process.json (--process) */
  processFile?: string;
  /** the command and its arguments */
  args: string[];
  /** -e NAME=value, appended to the config's env */
  env?: string[];
  cwd?: string;
  /** "uid[:gid]" */
  user?: string;
  additionalGids?: string[];
  /** --cap: added to the bounding, effective and permitted sets (and ambient if the config has inheritable ones) */
  caps?: string[];
  tty?: boolean;
  /** undefined: as the config says */
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
}

const U32_MAX = 0xffffffff;

function id(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > U32_MAX) throw invalidArgument(`exec: ${flag}: not a uid/gid: "${v}"`);
  return Number(v);
}

export function execProcess(config: Process | undefined, flags: ExecFlags): Process {
  if (flags.processFile !== undefined) {
    if (flags.args.length) throw invalidArgument("exec: give either --process or a command, not both");
    let text: string;
    try {
      text = readFileSync(flags.processFile, "utf8");
    } catch (e) {
      throw wrapError(`exec: --process`, e);
    }
    return parseProcess(text, flags.processFile);
  }
  if (!flags.args.length) throw invalidArgument("exec: a command is required (or --process)");
  if (!config) throw invalidArgument("exec: the container's config has no process to start from: use --process");
  const p: Process = structuredClone(config);
  p.args = [...flags.args];
  if (flags.cwd !== undefined && flags.cwd !== "") {
    if (!flags.cwd.startsWith("/")) throw invalidArgument(`exec: --cwd: not an absolute path: "${flags.cwd}"`);
    p.cwd = flags.cwd;
  }
  if (flags.apparmor) p.apparmorProfile = flags.apparmor;
  if (flags.processLabel) p.selinuxLabel = flags.processLabel;
  for (const c of flags.caps ?? []) {
    if (!isCapability(c)) throw invalidArgument(`exec: --cap: unknown capability "${c}"`);
    const caps = (p.capabilities ??= {});
    (caps.bounding ??= []).push(c);
    (caps.effective ??= []).push(c);
    (caps.permitted ??= []).push(c);
    // ambient needs inheritable, which --cap does not add: only when the config has some
    if (caps.inheritable) (caps.ambient ??= []).push(c);
  }
  for (const e of flags.env ?? []) {
    if (!e.includes("=")) throw invalidArgument(`exec: --env: "${e}" is not NAME=value`);
    (p.env ??= []).push(e);
  }
  p.terminal = Boolean(flags.tty);
  if (flags.noNewPrivs !== undefined) p.noNewPrivileges = flags.noNewPrivs;
  if (flags.user) {
    const [u, g, extra] = flags.user.split(":");
    if (extra !== undefined) throw invalidArgument(`exec: --user: "${flags.user}" is not uid[:gid]`);
    p.user = { ...p.user, uid: id("--user", u!) };
    if (g !== undefined) p.user.gid = id("--user", g);
  }
  for (const g of flags.additionalGids ?? []) (p.user.additionalGids ??= []).push(id("--additional-gids", g));
  return p;
}
