/**
 * Process attributes beyond credentials, spec -> plan instructions:
 * process.scheduler, process.ioPriority, linux.personality and
 * linux.memoryPolicy (runc sets them in this order, after no_new_privs and
 * before the credentials change) and CPU affinity. Every value is checked
 * here, with the field named, before anything is created.
 */
import type { CPUAffinity, LinuxMemoryPolicy, LinuxPersonality, Scheduler, Spec } from "../../oci/runtime-spec.ts";
import { invalidArgument } from "../../errors.ts";
import { instr, type Instruction } from "./record.ts";

// <linux/personality.h>
const PER_DOMAIN: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };
const PER_FLAGS: Record<string, number> = {
  UNAME26: 0x0020000,
  ADDR_NO_RANDOMIZE: 0x0040000,
  FDPIC_FUNCPTRS: 0x0080000,
  MMAP_PAGE_ZERO: 0x0100000,
  ADDR_COMPAT_LAYOUT: 0x0200000,
  READ_IMPLIES_EXEC: 0x0400000,
  ADDR_LIMIT_32BIT: 0x0800000,
  SHORT_INODE: 0x1000000,
  WHOLE_SECONDS: 0x2000000,
  STICKY_TIMEOUTS: 0x4000000,
  ADDR_LIMIT_3GB: 0x8000000,
};

/**
 * The persona for personality(2). The spec defines no flags; berth accepts the
 * kernel's own flag names (any process may set them on itself, so they grant
 * nothing) and rejects anything else rather than ignoring it as runc does.
 */
export function personaOf(p: LinuxPersonality): number {
  const domain = PER_DOMAIN[p.domain];
  if (domain === undefined) throw invalidArgument(`linux.personality.domain: unknown domain "${p.domain}" (LINUX or LINUX32)`);
  let persona = domain;
  for (const [i, f] of (p.flags ?? []).entries()) {
    const bit = PER_FLAGS[f];
    if (bit === undefined) throw invalidArgument(`linux.personality.flags[${i}]: unknown flag "${f}" (one of ${Object.keys(PER_FLAGS).join(", ")})`);
    persona |= bit;
  }
  return persona;
}

// <linux/sched.h>
const SCHED_POLICY: Record<string, number> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};
const SCHED_FLAG: Record<string, bigint> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01n,
  SCHED_FLAG_RECLAIM: 0x02n,
  SCHED_FLAG_DL_OVERRUN: 0x04n,
  SCHED_FLAG_KEEP_POLICY: 0x08n,
  SCHED_FLAG_KEEP_PARAMS: 0x10n,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20n,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40n,
};

export function schedAttr(s: Scheduler): Instruction {
  const f = "process.scheduler";
  if (s.policy === "SCHED_ISO") throw invalidArgument(`${f}.policy: SCHED_ISO is not implemented by Linux`);
  const policy = SCHED_POLICY[s.policy];
  if (policy === undefined) throw invalidArgument(`${f}.policy: unknown policy "${s.policy}"`);
  let flags = 0n;
  for (const [i, name] of (s.flags ?? []).entries()) {
    const bit = SCHED_FLAG[name];
    if (bit === undefined) throw invalidArgument(`${f}.flags[${i}]: unknown flag "${name}"`);
    flags |= bit;
  }
  const nice = s.nice ?? 0;
  const priority = s.priority ?? 0;
  const rt = policy === 1 || policy === 2;
  const fair = policy === 0 || policy === 3 || policy === 5;
  if (!Number.isInteger(nice) || (fair && (nice < -20 || nice > 19)))
    throw invalidArgument(`${f}.nice: must be from -20 to 19 with policy ${s.policy}, got ${nice}`);
  if (rt && (!Number.isInteger(priority) || priority < 1 || priority > 99))
    throw invalidArgument(`${f}.priority: must be from 1 to 99 with policy ${s.policy}, got ${priority}`);
  if (!rt && priority !== 0) throw invalidArgument(`${f}.priority: can only be set with policy SCHED_FIFO or SCHED_RR`);
  const runtime = BigInt(s.runtime ?? 0);
  const deadline = BigInt(s.deadline ?? 0);
  const period = BigInt(s.period ?? 0);
  if (policy === 6) {
    // sched_setattr(2): runtime <= deadline <= period (0 = same as deadline), runtime >= 1024 ns
    if (runtime < 1024n) throw invalidArgument(`${f}.runtime: SCHED_DEADLINE needs a runtime of at least 1024 ns`);
    if (deadline < runtime) throw invalidArgument(`${f}.deadline: must be at least the runtime (${runtime})`);
    if (period !== 0n && period < deadline) throw invalidArgument(`${f}.period: must be 0 or at least the deadline (${deadline})`);
  } else if (runtime || deadline || period) {
    throw invalidArgument(`${f}: runtime, deadline and period can only be set with policy SCHED_DEADLINE`);
  }
  return instr("SCHED_ATTR", policy, flags, nice >>> 0, priority, runtime, deadline, period);
}

// <linux/ioprio.h>
const IOPRIO_CLASS: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
const IOPRIO_WHO_PROCESS = 1;

/** ioprio_set for the init process (0 = itself); its children inherit it. */
export function ioPriority(io: { class: string; priority: number }): Instruction {
  const cls = IOPRIO_CLASS[io.class];
  if (cls === undefined) throw invalidArgument(`process.ioPriority.class: unknown class "${io.class}"`);
  if (!Number.isInteger(io.priority) || io.priority < 0 || io.priority > 7)
    throw invalidArgument(`process.ioPriority.priority: must be from 0 to 7, got ${io.priority}`);
  return instr("IOPRIO", IOPRIO_WHO_PROCESS, 0, (cls << 13) | io.priority);
}

// <linux/mempolicy.h>
const MPOL_MODE: Record<string, number> = {
  MPOL_DEFAULT: 0,
  MPOL_PREFERRED: 1,
  MPOL_BIND: 2,
  MPOL_INTERLEAVE: 3,
  MPOL_LOCAL: 4,
  MPOL_PREFERRED_MANY: 5,
  MPOL_WEIGHTED_INTERLEAVE: 6,
};
const MPOL_FLAG: Record<string, number> = {
  MPOL_F_NUMA_BALANCING: 1 << 13,
  MPOL_F_RELATIVE_NODES: 1 << 14,
  MPOL_F_STATIC_NODES: 1 << 15,
};

export function memoryPolicy(m: LinuxMemoryPolicy): Instruction {
  const f = "linux.memoryPolicy";
  const mode = MPOL_MODE[m.mode];
  if (mode === undefined) throw invalidArgument(`${f}.mode: unknown mode "${m.mode}"`);
  let flags = 0;
  for (const [i, name] of (m.flags ?? []).entries()) {
    const bit = MPOL_FLAG[name];
    if (bit === undefined) throw invalidArgument(`${f}.flags[${i}]: unknown flag "${name}"`);
    flags |= bit;
  }
  if (flags & MPOL_FLAG.MPOL_F_STATIC_NODES! && flags & MPOL_FLAG.MPOL_F_RELATIVE_NODES!)
    throw invalidArgument(`${f}.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other`);
  if (flags & MPOL_FLAG.MPOL_F_NUMA_BALANCING! && m.mode !== "MPOL_BIND" && m.mode !== "MPOL_PREFERRED_MANY")
    throw invalidArgument(`${f}.flags: MPOL_F_NUMA_BALANCING needs mode MPOL_BIND or MPOL_PREFERRED_MANY`);
  const nodes = idListMask(m.nodes ?? "", `${f}.nodes`);
  const none = mode === MPOL_MODE.MPOL_DEFAULT || mode === MPOL_MODE.MPOL_LOCAL;
  if (none && nodes.length) throw invalidArgument(`${f}.nodes: must be empty with mode ${m.mode}`);
  if (!none && mode !== MPOL_MODE.MPOL_PREFERRED && !nodes.length)
    throw invalidArgument(`${f}.nodes: at least one node is required with mode ${m.mode}`);
  return instr("MEMPOLICY", mode | flags, nodes);
}

/** The highest CPU or node number a list may name (runc's limit). */
export const MAX_ID = 64 * 1024;

/**
 * A "0-3,7" list as a little-endian bitmask, padded to whole u64 words; empty
 * for an empty list. Extra spaces and empty elements are allowed (as runc).
 */
export function idListMask(list: string, field: string): Uint8Array {
  const ids: Array<[number, number]> = [];
  let max = -1;
  for (const raw of list.split(",")) {
    const part = raw.trim();
    if (part === "") continue;
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(part);
    if (!m) throw invalidArgument(`${field}: "${part}" is not a number or a range like "0-3"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi > MAX_ID) throw invalidArgument(`${field}: ${hi} is over the limit of ${MAX_ID}`);
    if (lo > hi) throw invalidArgument(`${field}: invalid range "${part}"`);
    ids.push([lo, hi]);
    max = Math.max(max, hi);
  }
  const mask = new Uint8Array(max < 0 ? 0 : Math.ceil((max + 1) / 64) * 8);
  for (const [lo, hi] of ids) for (let i = lo; i <= hi; i++) mask[i >> 3]! |= 1 << (i & 7);
  return mask;
}

/** All CPUs the kernel may have (CONFIG_NR_CPUS is at most 8192): the kernel clamps it to what exists. */
const ALL_CPUS = new Uint8Array(8192 / 8).fill(0xff);

/**
 * process.execCPUAffinity, for a process started by `exec` (runtime-spec: it
 * does not apply to the container's init). `initial` goes before the process
 * enters the container (berth-init, before CLONE), `final` right after the
 * runtime moved it into the container's cgroup (which resets the affinity to
 * the cgroup's cpuset). With neither, the affinity is reset to every CPU there,
 * so the process does not inherit the runtime's own (runc does the same).
 */
export function execAffinity(aff: CPUAffinity | undefined): { initial: Instruction[]; final: Instruction[] } {
  const f = "process.execCPUAffinity";
  const initial = aff?.initial ? idListMask(aff.initial, `${f}.initial`) : undefined;
  const final = aff?.final ? idListMask(aff.final, `${f}.final`) : undefined;
  if (initial && !initial.some((b) => b)) throw invalidArgument(`${f}.initial: no cpu in "${aff!.initial}"`);
  if (final && !final.some((b) => b)) throw invalidArgument(`${f}.final: no cpu in "${aff!.final}"`);
  return {
    initial: initial ? [instr("CPU_AFFINITY", initial)] : [],
    final: final ? [instr("CPU_AFFINITY", final)] : initial ? [] : [resetAffinity()],
  };
}

/** The init process, once in its cgroup: every CPU (the cgroup's cpuset still applies). */
export function resetAffinity(): Instruction {
  return instr("CPU_AFFINITY", ALL_CPUS);
}

/** personality, scheduler, I/O priority, memory policy: in runc's order. */
export function processFeatures(spec: Spec): Instruction[] {
  const plan: Instruction[] = [];
  const proc = spec.process;
  if (proc?.scheduler) plan.push(schedAttr(proc.scheduler));
  if (proc?.ioPriority) plan.push(ioPriority(proc.ioPriority));
  if (spec.linux?.personality) plan.push(instr("PERSONALITY", personaOf(spec.linux.personality)));
  if (spec.linux?.memoryPolicy) plan.push(memoryPolicy(spec.linux.memoryPolicy));
  return plan;
}
