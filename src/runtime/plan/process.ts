/**
 * The process part of a plan, shared by create and exec: what turns
 * berth-init, already inside the container, into the container's process --
 * process attributes, credentials (runc's finalizeNamespace order), cwd,
 * executable, then exec. Pure, like the rest of the compiler.
 */
import type { Process } from "../../oci/runtime-spec.ts";
import { capMask, capName } from "../../oci/capabilities.ts";
import { rlimitNumber, RLIM_INFINITY } from "../../oci/rlimits.ts";
import { BerthError, failedPrecondition, invalidArgument } from "../../errors.ts";
import { instr, type Instruction } from "./record.ts";
import type { HostLsm } from "../lsm.ts";

export interface ProcessPlanContext {
  process: Process;
  /** the capability bounding set of the host; requesting anything outside it is an error */
  hostCapBounding?: bigint;
  /** compiled seccomp filter (see runtime/seccomp) */
  seccompFilter?: { flags: number; filter: Uint8Array };
  /** number of caller fds (from 3) passed through to the process */
  preserveFds?: number;
  /** which LSMs can take a profile or label (default: none) */
  lsm?: HostLsm;
  /** scheduler, I/O priority, personality, memory policy (plan/process-features.ts), after no_new_privs */
  features?: Instruction[];
  /** false when setgroups(2) is denied in the process's user namespace (the groups are left alone) */
  setgroups?: boolean;
  /** steps between READY and the exec: create waits for `start` (and runs startContainer hooks) here */
  gate?: Instruction[];
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function compileProcess(ctx: ProcessPlanContext): Instruction[] {
  const proc = ctx.process;
  const args = proc.args;
  if (!args?.length) throw invalidArgument("process.args: required");
  const plan: Instruction[] = [];

  // ---- process attributes
  if (proc.oomScoreAdj !== undefined) plan.push(instr("OOM_SCORE_ADJ", String(proc.oomScoreAdj)));
  for (const [i, rl] of (proc.rlimits ?? []).entries()) {
    const res = rlimitNumber(rl.type);
    if (res === undefined) throw invalidArgument(`process.rlimits[${i}].type: unknown rlimit "${rl.type}"`);
    plan.push(instr("RLIMIT", res, toRlim(rl.soft), toRlim(rl.hard)));
  }
  plan.push(instr("UMASK", proc.user.umask ?? 0o022));
  const lsm = lsmExecLabels(proc, ctx.lsm); // checked up front, applied right before exec
  if (proc.noNewPrivileges) plan.push(instr("NO_NEW_PRIVS"));
  plan.push(...(ctx.features ?? []));

  const seccomp = ctx.seccompFilter;
  // Without no_new_privs the filter must go in while we still have CAP_SYS_ADMIN,
  // i.e. before the credentials change. The cwd is resolved before it then: the
  // in-root lookup (openat2, getcwd) is exactly what old profiles refuse.
  const earlySeccomp = Boolean(seccomp && !proc.noNewPrivileges);
  if (earlySeccomp) plan.push(instr("CHDIR", proc.cwd), instr("SECCOMP", seccomp!.flags, seccomp!.filter));

  // ---- credentials (runc's finalizeNamespace order)
  plan.push(instr("CLOSE_FDS", 3 + (ctx.preserveFds ?? 0)));
  const caps = proc.capabilities ?? {};
  const mask = (set: string, names: string[] | undefined) => {
    const m = capMaskAt(`process.capabilities.${set}`, names ?? []);
    if (ctx.hostCapBounding !== undefined && (m & ~ctx.hostCapBounding) !== 0n) {
      const missing = namesOf(m & ~ctx.hostCapBounding);
      throw new BerthError(
        "FailedPrecondition",
        `process.capabilities.${set}: ${missing.join(", ")} not in the host's capability bounding set`,
      );
    }
    return m;
  };
  const bounding = mask("bounding", caps.bounding);
  const effective = mask("effective", caps.effective);
  const permitted = mask("permitted", caps.permitted);
  const inheritable = mask("inheritable", caps.inheritable);
  const ambient = mask("ambient", caps.ambient);
  plan.push(instr("CAP_BOUNDING", bounding));
  plan.push(instr("KEEPCAPS", 1));
  const gids = new Uint8Array(4 * (proc.user.additionalGids?.length ?? 0));
  const gv = new DataView(gids.buffer);
  (proc.user.additionalGids ?? []).forEach((g, i) => gv.setUint32(i * 4, g, true));
  if (ctx.setgroups ?? true) plan.push(instr("SETGROUPS", gids));
  plan.push(instr("SETGID", proc.user.gid));
  plan.push(instr("SETUID", proc.user.uid));
  plan.push(instr("CAPSET", effective, permitted, inheritable));
  plan.push(instr("KEEPCAPS", 0));
  // The kernel only lets a capability be ambient if it is also permitted and
  // inheritable; runc's own default spec asks for more and runc ignores the
  // failures, so the plan raises just the ones the kernel can grant.
  plan.push(instr("AMBIENT", ambient & permitted & inheritable));

  // ---- cwd, executable, then (after the gate) exec
  if (!earlySeccomp) plan.push(instr("CHDIR", proc.cwd));
  const env = proc.env ?? [];
  const pathVar = env.findLast((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  plan.push(instr("EXEC_PREPARE", args[0]!, pathVar));
  plan.push(instr("READY"));
  plan.push(...(ctx.gate ?? []));
  plan.push(...lsm);
  if (seccomp && proc.noNewPrivileges) plan.push(instr("SECCOMP", seccomp.flags, seccomp.filter));
  plan.push(instr("EXEC", args, env));
  return plan;
}

/**
 * The AppArmor profile and SELinux label the exec takes. Asking for one on a
 * host without that LSM is an error (as runc), never a silent no-op.
 */
function lsmExecLabels(proc: Process, lsm: HostLsm | undefined): Instruction[] {
  const plan: Instruction[] = [];
  if (proc.apparmorProfile) {
    if (!lsm?.apparmor) throw failedPrecondition("process.apparmorProfile: AppArmor is not enabled on this host");
    plan.push(instr("WRITE_FILE", "/proc/thread-self/attr/apparmor/exec", `exec ${proc.apparmorProfile}`));
  }
  if (proc.selinuxLabel) {
    if (!lsm?.selinux) throw failedPrecondition("process.selinuxLabel: SELinux is not enabled on this host");
    plan.push(instr("WRITE_FILE", "/proc/thread-self/attr/exec", proc.selinuxLabel));
  }
  return plan;
}

function toRlim(v: number | bigint): bigint {
  const b = BigInt(v);
  return b < 0n ? RLIM_INFINITY : b;
}

function capMaskAt(field: string, names: string[]): bigint {
  try {
    return capMask(names);
  } catch (e) {
    throw e instanceof BerthError ? e.wrap(field) : invalidArgument(`${field}: ${String(e)}`);
  }
}

function namesOf(mask: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if (mask & (1n << BigInt(i))) out.push(capName(i) ?? `cap ${i}`);
  return out;
}
