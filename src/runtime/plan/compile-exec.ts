/**
 * An exec plan: a new process in a running container. berth-init joins every
 * namespace of the container's init (user first, all opened before the first
 * setns), forks into its pid namespace, lets the runtime move the child into
 * the container's cgroup, then runs the same process section as create
 * (process.ts) with the container's seccomp filter.
 */
import type { Process, Spec } from "../../oci/runtime-spec.ts";
import { invalidArgument } from "../../errors.ts";
import { instr, type Instruction } from "./record.ts";
import { SYNC_TAG } from "./opcodes.ts";
import { compileProcess, type ProcessPlanContext } from "./process.ts";
import { consoleInstr, ptyInstr, type ConsoleSocket } from "./terminal.ts";
import { execAffinity, processFeatures } from "./process-features.ts";

export interface ExecPlanContext extends Omit<ProcessPlanContext, "gate" | "features"> {
  /** the container's config: which namespaces its init has */
  spec: Spec;
  /** the process to run (already merged with the exec flags) */
  process: Process;
  /** the container's init: pid and start time (field 22 of /proc/<pid>/stat) */
  init: { pid: number; startTime: string };
  /** berth-init's parent waits for the process and exits with its status (foreground exec) */
  stay?: boolean;
  /** where the pty master goes when process.terminal is true */
  console?: ConsoleSocket;
  /** the container's rootfs (host path): its root when it has no mount namespace of its own */
  rootfs?: string;
}

/** OCI namespace type -> entry of /proc/<pid>/ns, in the order they are joined (runc's: user first). */
const NS_ORDER: ReadonlyArray<readonly [type: string, proc: string]> = [
  ["user", "user"],
  ["ipc", "ipc"],
  ["uts", "uts"],
  ["network", "net"],
  ["pid", "pid"],
  ["time", "time"],
  ["cgroup", "cgroup"],
  ["mount", "mnt"],
];

/** The /proc/<pid>/ns entries to join for a container with this config. */
export function namespacesToJoin(spec: Spec): string[] {
  const types = new Set((spec.linux?.namespaces ?? []).map((n) => n.type as string));
  for (const t of types) if (!NS_ORDER.some(([k]) => k === t)) throw invalidArgument(`linux.namespaces: unknown namespace "${t}"`);
  return NS_ORDER.filter(([t]) => types.has(t)).map(([, p]) => p);
}

export function compileExecPlan(ctx: ExecPlanContext): Instruction[] {
  const proc = ctx.process;
  if (!proc.args?.length) throw invalidArgument("process.args: required");
  const plan: Instruction[] = [];
  const affinity = execAffinity(proc.execCPUAffinity);
  // The console socket is a host path: connect before entering the container.
  if (proc.terminal) plan.push(consoleInstr(ctx.console));
  plan.push(...affinity.initial);
  const namespaces = namespacesToJoin(ctx.spec);
  plan.push(instr("JOIN_NS", ctx.init.pid, ctx.init.startTime, namespaces));
  plan.push(instr("CLONE", 0, ctx.stay ? 1 : 0));
  // the runtime moves the child into the container's cgroup (which resets its CPU affinity)
  plan.push(instr("SYNC", SYNC_TAG.SETUP));
  plan.push(...affinity.final);
  // A container without a mount namespace of its own is a chroot in ours.
  if (!namespaces.includes("mnt")) {
    if (!ctx.rootfs) throw invalidArgument("exec: the container has no mount namespace and no rootfs was given");
    plan.push(instr("CHROOT", ctx.rootfs));
  }
  plan.push(instr("SETSID"));
  if (proc.terminal) plan.push(ptyInstr(proc, ""));
  plan.push(
    ...compileProcess({
      process: proc,
      // the process's scheduler and I/O priority; the container's personality and memory policy
      features: processFeatures({ ...ctx.spec, process: proc }),
      setgroups: ctx.setgroups,
      hostCapBounding: ctx.hostCapBounding,
      seccompFilter: ctx.seccompFilter,
      preserveFds: ctx.preserveFds,
      lsm: ctx.lsm,
    }),
  );
  return plan;
}
