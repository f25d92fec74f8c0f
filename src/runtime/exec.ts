/**
 * exec: start a new process in a running container. berth-init joins the
 * container init's namespaces and forks into its pid namespace; at the SETUP
 * sync point the runtime moves the child into the container's cgroup; then the
 * process is set up like the init (process.ts) with the container's seccomp
 * filter. In the foreground berth-init stays as the process's parent and
 * exits with its status; detached, it exits once the process runs.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Process } from "../oci/runtime-spec.ts";
import { hostBoundingSet } from "../oci/capabilities.ts";
import { BerthError, failedPrecondition, invalidArgument, wrapError } from "../errors.ts";
import type { Runtime } from "./container.ts";
import { compileExecPlan } from "./plan/compile-exec.ts";
import { SYNC_TAG } from "./plan/opcodes.ts";
import type { ConsoleSocket } from "./plan/terminal.ts";
import { consoleFd, launch, type Launched, type StdioSpec } from "./launch.ts";
import { loadCgroupManager } from "./cgroups/manager.ts";
import { compileSeccompCached } from "./seccomp/compile.ts";
import { hostLsm } from "./lsm.ts";
import { writePidFile } from "./pidfile.ts";
import { trace } from "../trace.ts";

export interface ExecOptions {
  id: string;
  /** the process to run (see exec-spec.ts) */
  process: Process;
  /** return once the process runs; berth-init does not wait for it */
  detach?: boolean;
  pidFile?: string;
  /** unix socket that receives the pty master (needs detach and process.terminal) */
  consoleSocket?: string;
  /** the process's stdin/stdout/stderr (default: inherit ours); "pipe" gives them on `helper` */
  stdio?: [StdioSpec, StdioSpec, StdioSpec];
  /** pass fds 3 .. 3+n-1 of the caller to the process */
  preserveFds?: number;
  /**
   * The runtime's side of the SETUP sync point, after the cgroup join and
   * before the process is set up: the child's pid (our pid namespace).
   */
  onSetup?: (pid: number) => Promise<void> | void;
}

/** The process as launched; `master` is set for a foreground exec -t (the caller proxies the terminal). */
export async function execInContainer(rt: Runtime, opts: ExecOptions): Promise<Launched> {
  const rec = rt.store.load(opts.id);
  const status = rt.status(rec);
  if (status === "stopped") throw failedPrecondition(`exec ${opts.id}: cannot exec in a stopped container`);
  if (status === "paused") throw failedPrecondition(`exec ${opts.id}: cannot exec in a paused container`);
  const proc = opts.process;
  const detach = Boolean(opts.detach);
  // runc's checkTerminal
  if (proc.terminal && detach && !opts.consoleSocket)
    throw invalidArgument("exec: cannot allocate a tty when detaching without --console-socket");
  if (opts.consoleSocket && (!detach || !proc.terminal))
    throw invalidArgument("exec: --console-socket needs --detach and a tty (--tty or process.terminal)");

  const preserveFds = opts.preserveFds ?? 0;
  const internalConsole = Boolean(proc.terminal && !opts.consoleSocket);
  const console: ConsoleSocket | undefined = !proc.terminal
    ? undefined
    : opts.consoleSocket
      ? { path: resolve(opts.consoleSocket) }
      : { fd: consoleFd(preserveFds) };
  const spec = rec.config;
  const plan = compileExecPlan({
    spec,
    process: proc,
    init: { pid: rec.pid, startTime: rec.pidStartTime },
    rootfs: rec.rootfs,
    stay: !detach,
    setgroups: setgroupsAllowed(rec.pid),
    preserveFds,
    console,
    hostCapBounding: hostBoundingSet(),
    seccompFilter: spec.linux?.seccomp ? compileSeccompCached(spec.linux.seccomp as never) : undefined,
    lsm: hostLsm(),
  });
  trace("exec-plan");
  const cgroup = rec.cgroup ? loadCgroupManager(rec.cgroup) : undefined;
  let launched: Launched;
  try {
    launched = await launch({
      plan,
      stdio: opts.stdio,
      extraFds: Array.from({ length: preserveFds }, (_, i) => 3 + i),
      consoleSocket: internalConsole,
      onSync: async (tag, pid) => {
        if (tag !== SYNC_TAG.SETUP) return;
        cgroup?.apply(pid);
        await opts.onSetup?.(pid);
      },
    });
  } catch (e) {
    throw e instanceof BerthError ? e.wrap(`exec ${opts.id}`) : wrapError(`exec ${opts.id}`, e);
  }
  trace("exec-launch");
  const out: Launched = { ...launched };
  try {
    if (internalConsole) {
      const { receiveMaster } = await import("./console.ts");
      out.master = receiveMaster(launched.console!);
    }
    if (opts.pidFile) writePidFile(opts.pidFile, launched.pid);
  } catch (e) {
    try {
      process.kill(launched.pid, 9);
    } catch {}
    throw e instanceof BerthError ? e.wrap(`exec ${opts.id}`) : wrapError(`exec ${opts.id}`, e);
  }
  return out;
}

/** Whether setgroups(2) is allowed in the user namespace of pid ("deny" when its maps were written unprivileged). */
function setgroupsAllowed(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/setgroups`, "utf8").trim() !== "deny";
  } catch {
    return true;
  }
}
