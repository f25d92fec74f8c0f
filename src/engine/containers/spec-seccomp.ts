/**
 * The container's seccomp filter: docker's default profile, none
 * (seccomp=unconfined, privileged), or a profile in docker's JSON format
 * (what `--security-opt seccomp=file.json` sends: the file's content),
 * converted to OCI linux.seccomp the way dockerd resolves it: archMap picks
 * the host's architectures, and includes/excludes (arches, caps, minKernel)
 * keep or drop each rule.
 */
import { invalidArgument } from "../../errors.ts";
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall } from "../../oci/runtime-spec.ts";
import { dockerDefaultSeccomp } from "../../runtime/seccomp/docker-default.ts";

/** node's process.arch -> docker's arch name and libseccomp's native arch. */
const ARCHES: Record<string, { docker: string; scmp: string }> = {
  x64: { docker: "amd64", scmp: "SCMP_ARCH_X86_64" },
  arm64: { docker: "arm64", scmp: "SCMP_ARCH_AARCH64" },
  arm: { docker: "arm", scmp: "SCMP_ARCH_ARM" },
  ia32: { docker: "386", scmp: "SCMP_ARCH_X86" },
  ppc64: { docker: "ppc64le", scmp: "SCMP_ARCH_PPC64LE" },
  s390x: { docker: "s390x", scmp: "SCMP_ARCH_S390X" },
  riscv64: { docker: "riscv64", scmp: "SCMP_ARCH_RISCV64" },
};

export interface SeccompHost {
  /** node arch name (process.arch) */
  arch: string;
  /** running kernel "major.minor" */
  kernel: string;
}

interface Filter {
  arches?: string[];
  caps?: string[];
  minKernel?: string;
}

const fail = (msg: string) => invalidArgument(`decoding seccomp profile failed: ${msg}`);

function strings(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw fail(`${field} must be an array of strings`);
  return v as string[];
}

function kernelAtLeast(have: string, want: string): boolean {
  const [a = 0, b = 0] = have.split(".").map(Number);
  const m = /^(\d+)\.(\d+)$/.exec(want);
  if (!m) throw fail(`invalid minKernel ${JSON.stringify(want)}`);
  const [x, y] = [Number(m[1]), Number(m[2])];
  return a > x || (a === x && b >= y);
}

function filter(v: unknown, field: string): Filter {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw fail(`${field} must be an object`);
  const o = v as Record<string, unknown>;
  if (o.minKernel !== undefined && o.minKernel !== "" && typeof o.minKernel !== "string") throw fail(`${field}.minKernel must be a string`);
  return {
    arches: strings(o.arches, `${field}.arches`),
    caps: strings(o.caps, `${field}.caps`),
    minKernel: (o.minKernel as string) || undefined,
  };
}

function arg(v: unknown, field: string): LinuxSeccompArg {
  if (typeof v !== "object" || v === null) throw fail(`${field} must be an object`);
  const o = v as Record<string, unknown>;
  const num = (x: unknown, f: string) => {
    if (x === undefined) return 0;
    if ((typeof x !== "number" || !Number.isInteger(x) || x < 0) && typeof x !== "bigint") throw fail(`${field}.${f} must be an unsigned integer`);
    return x as number | bigint;
  };
  if (typeof o.op !== "string") throw fail(`${field}.op must be a string`);
  const out: LinuxSeccompArg = { index: Number(num(o.index, "index")), value: num(o.value, "value"), op: o.op };
  if (o.valueTwo !== undefined) out.valueTwo = num(o.valueTwo, "valueTwo");
  return out;
}

/** Parse and resolve a docker seccomp profile for this host and capability set. */
export function dockerProfileToOci(text: string, caps: readonly string[], host: SeccompHost): LinuxSeccomp {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(text);
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (typeof p !== "object" || p === null || Array.isArray(p)) throw fail("the profile must be a JSON object");
  if (typeof p.defaultAction !== "string") throw fail("defaultAction must be a string");
  const arch = ARCHES[host.arch];
  const capSet = new Set(caps);

  const out: LinuxSeccomp = { defaultAction: p.defaultAction };
  if (p.defaultErrnoRet !== undefined && p.defaultErrnoRet !== null) {
    if (typeof p.defaultErrnoRet !== "number") throw fail("defaultErrnoRet must be a number");
    out.defaultErrnoRet = p.defaultErrnoRet;
  }
  const architectures = strings(p.architectures, "architectures");
  if (architectures?.length && Array.isArray(p.archMap) && p.archMap.length) {
    throw fail("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  if (architectures?.length) out.architectures = architectures;
  if (p.archMap !== undefined && p.archMap !== null) {
    if (!Array.isArray(p.archMap)) throw fail("archMap must be an array");
    for (const [i, m] of p.archMap.entries()) {
      const e = m as Record<string, unknown>;
      if (typeof e?.architecture !== "string") throw fail(`archMap[${i}].architecture must be a string`);
      if (arch && e.architecture === arch.scmp) {
        out.architectures = [e.architecture, ...(strings(e.subArchitectures, `archMap[${i}].subArchitectures`) ?? [])];
      }
    }
  }
  const flags = strings(p.flags, "flags");
  if (flags?.length) out.flags = flags;
  if (typeof p.listenerPath === "string" && p.listenerPath) out.listenerPath = p.listenerPath;
  if (typeof p.listenerMetadata === "string" && p.listenerMetadata) out.listenerMetadata = p.listenerMetadata;

  const syscalls: LinuxSyscall[] = [];
  if (p.syscalls !== undefined && p.syscalls !== null && !Array.isArray(p.syscalls)) throw fail("syscalls must be an array");
  for (const [i, raw] of ((p.syscalls as unknown[]) ?? []).entries()) {
    const f = `syscalls[${i}]`;
    if (typeof raw !== "object" || raw === null) throw fail(`${f} must be an object`);
    const s = raw as Record<string, unknown>;
    const names = strings(s.names, `${f}.names`) ?? [];
    if (s.name !== undefined && s.name !== "") {
      if (names.length) throw fail("use either 'name' or 'names'");
      if (typeof s.name !== "string") throw fail(`${f}.name must be a string`);
      names.push(s.name);
    }
    if (typeof s.action !== "string") throw fail(`${f}.action must be a string`);
    const inc = filter(s.includes, `${f}.includes`);
    const exc = filter(s.excludes, `${f}.excludes`);
    const dArch = arch?.docker ?? host.arch;
    if (exc.arches?.includes(dArch)) continue;
    if (exc.caps?.some((c) => capSet.has(c))) continue;
    if (exc.minKernel && kernelAtLeast(host.kernel, exc.minKernel)) continue;
    if (inc.arches?.length && !inc.arches.includes(dArch)) continue;
    if (inc.caps?.length && !inc.caps.every((c) => capSet.has(c))) continue;
    if (inc.minKernel && !kernelAtLeast(host.kernel, inc.minKernel)) continue;
    const rule: LinuxSyscall = { names, action: s.action };
    if (s.errnoRet !== undefined && s.errnoRet !== null) {
      if (typeof s.errnoRet !== "number") throw fail(`${f}.errnoRet must be a number`);
      rule.errnoRet = s.errnoRet;
    }
    if (s.args !== undefined && s.args !== null) {
      if (!Array.isArray(s.args)) throw fail(`${f}.args must be an array`);
      if (s.args.length) rule.args = s.args.map((a, j) => arg(a, `${f}.args[${j}]`));
    }
    syscalls.push(rule);
  }
  if (syscalls.length) out.syscalls = syscalls;
  return out;
}

/**
 * linux.seccomp for a container: undefined (no filter) when privileged or
 * seccomp=unconfined; docker's default profile for its capabilities; or the
 * given profile.
 */
export function containerSeccomp(
  profile: string | undefined,
  privileged: boolean,
  caps: readonly string[],
  host: SeccompHost,
): LinuxSeccomp | undefined {
  if (privileged || profile === "unconfined") return undefined;
  if (profile === undefined) return dockerDefaultSeccomp({ capabilities: caps, arch: ARCHES[host.arch]?.docker });
  return dockerProfileToOci(profile, caps, host);
}
