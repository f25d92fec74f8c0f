/**
 * OCI `linux.seccomp` -> classic BPF, compiled by libseccomp. Semantics follow
 * runc's libcontainer/seccomp (+ specconv):
 *   - a syscall name libseccomp does not know is skipped (reported in `skipped`);
 *     an unknown action, operator, architecture or flag is an error;
 *   - a rule whose action equals the default action is skipped (libseccomp
 *     rejects it);
 *   - conditions of one entry are ANDed in one rule, except when two conditions
 *     test the same argument: then each becomes its own rule (ORed), as runc does;
 *   - the native architecture is always in the filter;
 *   - `flags` absent (not merely empty) means SECCOMP_FILTER_FLAG_SPEC_ALLOW when
 *     the kernel and libseccomp support it;
 *   - SCMP_FLTATR_CTL_NNP is 0: berth-init sets no_new_privs itself;
 *   - unless the default action lets syscalls through (ALLOW, LOG, TRACE), a stub
 *     returning ENOSYS for syscalls newer than any the profile names is prepended
 *     (see enosys.ts).
 * SCMP_ACT_NOTIFY needs a listener (seccomp agent), which berth does not have yet.
 */
import { BerthError } from "../../errors.ts";
import {
  SCMP_ACT,
  SCMP_CMP,
  SCMP_FLTATR,
  NR_SCMP_ERROR,
  SeccompFilter,
  archNative,
  archResolveName,
  seccompApiLevel,
  seccompVersion,
  syscallResolveName,
  type ArgCmp,
} from "../sys/libseccomp.ts";
import { enosysStub, type ArchMax } from "./enosys.ts";
import { SECCOMP_ACTIONS, SECCOMP_FLAGS, type LinuxSeccomp, type LinuxSeccompArg, type LinuxSyscall } from "./types.ts";

export interface CompiledSeccomp {
  /** struct sock_filter[] for seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog); length is a multiple of 8. */
  filter: Uint8Array;
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(2). */
  flags: number;
  /** Syscall names skipped because libseccomp does not know them (for debug logging). */
  skipped: string[];
}

const EPERM = 1;
const ENOSYS = 38;
const MAX_ARGS = 6;

/** seccomp(2) filter flag bits (linux/seccomp.h). */
export const SECCOMP_FILTER_FLAG = {
  TSYNC: 1,
  LOG: 2,
  SPEC_ALLOW: 4,
  NEW_LISTENER: 8,
  TSYNC_ESRCH: 16,
  WAIT_KILLABLE_RECV: 32,
} as const;

/** Spec architecture name -> libseccomp arch name (seccomp_arch_resolve_name). */
const ARCH_NAMES: Record<string, string> = {
  SCMP_ARCH_X86: "x86",
  SCMP_ARCH_X86_64: "x86_64",
  SCMP_ARCH_X32: "x32",
  SCMP_ARCH_ARM: "arm",
  SCMP_ARCH_AARCH64: "aarch64",
  SCMP_ARCH_MIPS: "mips",
  SCMP_ARCH_MIPS64: "mips64",
  SCMP_ARCH_MIPS64N32: "mips64n32",
  SCMP_ARCH_MIPSEL: "mipsel",
  SCMP_ARCH_MIPSEL64: "mipsel64",
  SCMP_ARCH_MIPSEL64N32: "mipsel64n32",
  SCMP_ARCH_PPC: "ppc",
  SCMP_ARCH_PPC64: "ppc64",
  SCMP_ARCH_PPC64LE: "ppc64le",
  SCMP_ARCH_S390: "s390",
  SCMP_ARCH_S390X: "s390x",
  SCMP_ARCH_PARISC: "parisc",
  SCMP_ARCH_PARISC64: "parisc64",
  SCMP_ARCH_RISCV64: "riscv64",
  SCMP_ARCH_LOONGARCH64: "loongarch64",
  SCMP_ARCH_M68K: "m68k",
  SCMP_ARCH_SH: "sh",
  SCMP_ARCH_SHEB: "sheb",
};

const OPERATORS: Record<string, number> = {
  SCMP_CMP_NE: SCMP_CMP.NE,
  SCMP_CMP_LT: SCMP_CMP.LT,
  SCMP_CMP_LE: SCMP_CMP.LE,
  SCMP_CMP_EQ: SCMP_CMP.EQ,
  SCMP_CMP_GE: SCMP_CMP.GE,
  SCMP_CMP_GT: SCMP_CMP.GT,
  SCMP_CMP_MASKED_EQ: SCMP_CMP.MASKED_EQ,
};

const bad = (field: string, msg: string, cause?: unknown) =>
  new BerthError("InvalidArgument", `${field}: ${msg}`, cause === undefined ? {} : { cause });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Whether a `linux.seccomp` object asks for a filter at all (runc: no default action and no syscalls = disabled). */
export function seccompRequested(cfg: LinuxSeccomp | undefined | null): cfg is LinuxSeccomp {
  return !!cfg && !(!cfg.defaultAction && (cfg.syscalls ?? []).length === 0);
}

/** Parse an action name (+ errnoRet) into a libseccomp action value. */
function actionValue(name: unknown, errnoRet: unknown, field: string, errnoField: string): number {
  if (typeof name !== "string" || name === "") throw bad(field, "required");
  if (errnoRet !== undefined && errnoRet !== null) {
    if (typeof errnoRet !== "number" || !Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > 0xffff) {
      throw bad(errnoField, `must be an integer in [0, 65535], got ${JSON.stringify(errnoRet)}`);
    }
    if (name !== "SCMP_ACT_ERRNO" && name !== "SCMP_ACT_TRACE") {
      throw bad(errnoField, `only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${name}`);
    }
  }
  const ret = typeof errnoRet === "number" ? errnoRet : EPERM;
  switch (name) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return SCMP_ACT.KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SCMP_ACT.KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return SCMP_ACT.TRAP;
    case "SCMP_ACT_ERRNO":
      return SCMP_ACT.errno(ret);
    case "SCMP_ACT_TRACE":
      return SCMP_ACT.trace(ret);
    case "SCMP_ACT_ALLOW":
      return SCMP_ACT.ALLOW;
    case "SCMP_ACT_LOG":
      return SCMP_ACT.LOG;
    case "SCMP_ACT_NOTIFY":
      throw bad(field, "SCMP_ACT_NOTIFY is not supported yet (berth has no seccomp listener)");
    default:
      throw bad(field, `unknown action ${JSON.stringify(name)}`);
  }
}

const U64_MAX = (1n << 64n) - 1n;

function u64(v: unknown, field: string): bigint {
  if (typeof v === "bigint" && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) {
    const b = BigInt(v);
    if (b <= U64_MAX) return b;
    // JSON.parse rounds 18446744073709551615 (and its neighbours) up to 2^64: read it as the largest u64.
    if (b === 1n << 64n) return U64_MAX;
  }
  throw bad(field, `must be an unsigned 64-bit integer, got ${typeof v === "bigint" ? v.toString() : JSON.stringify(v)}`);
}

function condition(a: unknown, field: string): ArgCmp {
  if (!isObject(a)) throw bad(field, "must be an object");
  const arg = a as Partial<LinuxSeccompArg>;
  if (typeof arg.index !== "number" || !Number.isInteger(arg.index) || arg.index < 0 || arg.index >= MAX_ARGS) {
    throw bad(`${field}.index`, `must be an integer in [0, ${MAX_ARGS - 1}], got ${JSON.stringify(arg.index)}`);
  }
  if (typeof arg.op !== "string" || arg.op === "") throw bad(`${field}.op`, "required");
  const op = OPERATORS[arg.op];
  if (op === undefined) throw bad(`${field}.op`, `unknown operator ${JSON.stringify(arg.op)}`);
  const datumA = u64(arg.value, `${field}.value`);
  const datumB = arg.valueTwo === undefined || arg.valueTwo === null ? 0n : u64(arg.valueTwo, `${field}.valueTwo`);
  return { arg: arg.index, op, datumA, datumB };
}

interface Rule {
  field: string;
  names: string[];
  action: number;
  /** Each inner array is one libseccomp rule (its conditions ANDed). */
  ruleConds: ArgCmp[][];
}

function parseSyscall(s: unknown, field: string): Rule {
  if (!isObject(s)) throw bad(field, "must be an object");
  const sc = s as Partial<LinuxSyscall>;
  if (!Array.isArray(sc.names) || sc.names.length === 0) throw bad(`${field}.names`, "must be a non-empty array of syscall names");
  sc.names.forEach((n, j) => {
    if (typeof n !== "string" || n === "") throw bad(`${field}.names[${j}]`, `must be a non-empty string, got ${JSON.stringify(n)}`);
  });
  const action = actionValue(sc.action, sc.errnoRet, `${field}.action`, `${field}.errnoRet`);
  if (sc.args !== undefined && sc.args !== null && !Array.isArray(sc.args)) throw bad(`${field}.args`, "must be an array");
  const conds = (sc.args ?? []).map((a, j) => condition(a, `${field}.args[${j}]`));
  // runc: two conditions on one argument can't share a libseccomp rule; add one rule per condition.
  const perArg = new Array<number>(MAX_ARGS).fill(0);
  for (const c of conds) perArg[c.arg]! += 1;
  const ruleConds = perArg.some((n) => n > 1) ? conds.map((c) => [c]) : [conds];
  return { field, names: sc.names as string[], action, ruleConds };
}

function parseArchitectures(archs: unknown): { token: number; field: string }[] {
  if (archs === undefined || archs === null) return [];
  if (!Array.isArray(archs)) throw bad("linux.seccomp.architectures", "must be an array");
  return archs.map((a, i) => {
    const field = `linux.seccomp.architectures[${i}]`;
    const name = typeof a === "string" ? ARCH_NAMES[a] : undefined;
    if (name === undefined) throw bad(field, `unknown architecture ${JSON.stringify(a)}`);
    const token = archResolveName(name);
    if (token === 0) {
      const v = seccompVersion();
      throw bad(field, `architecture ${a} is not supported by libseccomp ${v.major}.${v.minor}.${v.micro}`);
    }
    return { token, field };
  });
}

interface FlagPlan {
  bits: number;
  attrs: { attr: number; field: string; name: string }[];
}

function parseFlags(flags: unknown, apiLevel: number): FlagPlan {
  const plan: FlagPlan = { bits: 0, attrs: [] };
  if (flags === undefined || flags === null) {
    // runc's default when the field is absent: disable the SSB mitigation if possible.
    if (apiLevel >= 4) plan.bits |= SECCOMP_FILTER_FLAG.SPEC_ALLOW;
    return plan;
  }
  if (!Array.isArray(flags)) throw bad("linux.seccomp.flags", "must be an array");
  flags.forEach((f, i) => {
    const field = `linux.seccomp.flags[${i}]`;
    switch (f) {
      case "SECCOMP_FILTER_FLAG_TSYNC":
        // Harmless for the single-threaded berth-init; passed through as asked.
        plan.bits |= SECCOMP_FILTER_FLAG.TSYNC;
        break;
      case "SECCOMP_FILTER_FLAG_LOG":
        plan.bits |= SECCOMP_FILTER_FLAG.LOG;
        plan.attrs.push({ attr: SCMP_FLTATR.CTL_LOG, field, name: f });
        break;
      case "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
        plan.bits |= SECCOMP_FILTER_FLAG.SPEC_ALLOW;
        plan.attrs.push({ attr: SCMP_FLTATR.CTL_SSB, field, name: f });
        break;
      case "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV":
        // Only changes how a notify listener waits; without SCMP_ACT_NOTIFY (unsupported
        // here) there is no listener, and the kernel rejects it without NEW_LISTENER.
        break;
      default:
        throw bad(field, `unknown flag ${JSON.stringify(f)}`);
    }
  });
  return plan;
}

/** Compile an OCI `linux.seccomp` object into a BPF program and seccomp(2) flags. */
export function compileSeccomp(cfg: LinuxSeccomp): CompiledSeccomp {
  if (!isObject(cfg)) throw bad("linux.seccomp", "must be an object");
  if (cfg.defaultAction === "SCMP_ACT_NOTIFY") throw bad("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action");
  const defaultAction = actionValue(cfg.defaultAction, cfg.defaultErrnoRet, "linux.seccomp.defaultAction", "linux.seccomp.defaultErrnoRet");
  if (cfg.listenerMetadata && !cfg.listenerPath) throw bad("linux.seccomp.listenerMetadata", "must not be set without listenerPath");
  if (cfg.syscalls !== undefined && cfg.syscalls !== null && !Array.isArray(cfg.syscalls)) throw bad("linux.seccomp.syscalls", "must be an array");
  const rules = (cfg.syscalls ?? []).map((s, i) => parseSyscall(s, `linux.seccomp.syscalls[${i}]`));
  const archs = parseArchitectures(cfg.architectures);
  const apiLevel = seccompApiLevel();
  const flagPlan = parseFlags(cfg.flags, apiLevel);

  const filter = SeccompFilter.create(defaultAction);
  const skipped = new Set<string>();
  let program: Uint8Array;
  try {
    filter.setAttr(SCMP_FLTATR.CTL_NNP, 0);
    const tokens = [archNative()];
    for (const { token, field } of archs) {
      try {
        filter.addArch(token);
      } catch (err) {
        throw bad(field, `add architecture: ${(err as Error).message}`, err);
      }
      if (!tokens.includes(token)) tokens.push(token);
    }
    for (const { attr, field, name } of flagPlan.attrs) {
      try {
        filter.setAttr(attr, 1);
      } catch (err) {
        throw bad(field, `${name} is not supported by this kernel or libseccomp: ${(err as Error).message}`, err);
      }
    }
    // As runc: binary-tree dispatch for long rule sets (libseccomp <= 2.5.4 misbehaves with it and 0 rules).
    const entries = rules.reduce((n, r) => n + r.names.length, 0);
    if (entries > 32) {
      try {
        filter.setAttr(SCMP_FLTATR.CTL_OPTIMIZE, 2);
      } catch {
        // older libseccomp: linear filter, still correct
      }
    }
    for (const rule of rules) {
      if (rule.action === defaultAction) continue;
      for (const name of rule.names) {
        const nr = syscallResolveName(name);
        if (nr === NR_SCMP_ERROR) {
          skipped.add(name);
          continue;
        }
        for (const conds of rule.ruleConds) {
          try {
            filter.addRule(rule.action, nr, conds);
          } catch (err) {
            throw bad(rule.field, `syscall ${name}: ${(err as Error).message}`, err);
          }
        }
      }
    }
    program = filter.exportBpf();
    // The -ENOSYS stub (runc's patchbpf), for restrictive default actions only.
    const permissive = defaultAction === SCMP_ACT.ALLOW || defaultAction === SCMP_ACT.LOG || (defaultAction & 0xffff0000) === SCMP_ACT.trace(0);
    if (!permissive && defaultAction !== SCMP_ACT.errno(ENOSYS)) {
      const stub = enosysStub(maxSyscalls(rules, tokens));
      if (stub.length > 0) {
        const full = new Uint8Array(stub.length + program.length);
        full.set(stub, 0);
        full.set(program, stub.length);
        program = full;
      }
    }
  } finally {
    filter.release();
  }
  if (program.length === 0 || program.length % 8 !== 0 || program.length / 8 > 4096) {
    throw new BerthError("Internal", `linux.seccomp: compiled filter has ${program.length} bytes (want 1..4096 instructions of 8 bytes)`);
  }
  return { filter: program, flags: flagPlan.bits, skipped: [...skipped] };
}

const compiled = new Map<string, CompiledSeccomp>();
const COMPILED_MAX = 16;

/**
 * compileSeccomp, remembered per profile (its JSON) for the life of the
 * process: a daemon gives most containers the same profile, and compiling
 * docker's default one costs ~15 ms. The result depends only on the profile,
 * the host's libseccomp and the kernel's seccomp API level, which do not
 * change while the process runs. Each caller gets its own copy of the program.
 */
export function compileSeccompCached(cfg: LinuxSeccomp): CompiledSeccomp {
  const key = JSON.stringify(cfg);
  let c = compiled.get(key);
  if (c) {
    compiled.delete(key); // most recently used last
    compiled.set(key, c);
  } else {
    c = compileSeccomp(cfg);
    compiled.set(key, c);
    if (compiled.size > COMPILED_MAX) compiled.delete(compiled.keys().next().value!);
  }
  return { filter: c.filter.slice(), flags: c.flags, skipped: [...c.skipped] };
}

/** Per filter arch, the largest syscall number any profile name resolves to (pseudo numbers < 0 ignored). */
function maxSyscalls(rules: Rule[], tokens: number[]): ArchMax[] {
  const out: ArchMax[] = [];
  for (const token of tokens) {
    let max = -1;
    for (const r of rules) for (const n of r.names) max = Math.max(max, syscallResolveName(n, token));
    if (max > 0) out.push({ token, max });
  }
  return out;
}

/** seccomp_api_get() level from which the kernel accepts each flag (1: always, 2: TSYNC, 3: LOG, 4: SPEC_ALLOW). */
const FLAG_API_LEVEL: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 2,
  SECCOMP_FILTER_FLAG_LOG: 3,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  // dropped by parseFlags (no notify listener), so any level works
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 1,
};

export interface SeccompFeatures {
  actions: string[];
  operators: string[];
  archs: string[];
  knownFlags: string[];
  supportedFlags: string[];
}

/**
 * What this compiler accepts, probed against itself and the loaded libseccomp
 * (for `features`): actions it compiles, operators, architectures a filter on
 * this host can include, flags it recognizes and those the kernel takes at
 * this API level.
 */
export function seccompFeatures(): SeccompFeatures {
  const accepts = (fn: () => unknown) => {
    try {
      fn();
      return true;
    } catch {
      return false;
    }
  };
  const api = seccompApiLevel();
  const knownFlags = SECCOMP_FLAGS.filter((f) => accepts(() => parseFlags([f], api)));
  return {
    actions: SECCOMP_ACTIONS.filter((a) => accepts(() => actionValue(a, undefined, "", ""))).sort(),
    operators: Object.keys(OPERATORS).sort(),
    // libseccomp knows more than one filter can hold (no mixing byte orders): probe with a real compile
    archs: Object.keys(ARCH_NAMES).filter((a) => accepts(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: [a] }))).sort(),
    knownFlags,
    supportedFlags: knownFlags.filter((f) => api >= (FLAG_API_LEVEL[f] ?? Infinity)),
  };
}
