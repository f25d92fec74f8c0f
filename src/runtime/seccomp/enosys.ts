/**
 * The -ENOSYS stub, as runc's libcontainer/seccomp/patchbpf does: a few classic BPF
 * instructions prepended to libseccomp's filter so that a syscall *newer* than any
 * the profile names returns ENOSYS instead of the default action. A default of
 * ERRNO(EPERM) would otherwise make glibc & co. treat a syscall the profile has
 * never heard of (clone3, fchmodat2, ... on an old profile or an old libseccomp)
 * as "forbidden" rather than "missing", and skip their fallback.
 *
 * For each architecture of the filter, "newer" means a number above the largest
 * one the profile's names resolve to on that architecture. Classic BPF jumps only
 * forward, so prepending never disturbs the jumps inside libseccomp's program; the
 * stub falls through (or jumps) to its first instruction.
 *
 * Layout, one section per audit arch (x86_64 and x32 share AUDIT_ARCH_X86_64 and
 * are told apart by bit 30 of the syscall number):
 *     ld  [4]                      ; seccomp_data.arch
 *     jeq #AUDIT_ARCH, 0, <skip section body>
 *     ld  [0]                      ; seccomp_data.nr
 *     (s390/s390x: jeq #0, ret)    ; unknown large syscalls arrive as nr 0 there
 *     (x86_64: jset #0x40000000, x32-check, x86_64-check)
 *     jgt #MAX, ret, filter
 *   ret: ret #ERRNO(ENOSYS)
 *        ja  filter
 */

export const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const SCMP_ARCH_X32 = 0x4000003e;
const AUDIT_ARCH_S390 = 0x00000016;
const AUDIT_ARCH_S390X = 0x80000016;
const RET_ERRNO_ENOSYS = 0x00050000 | 38;
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// classic BPF opcodes
const LD_W_ABS = 0x20;
const JMP_JA = 0x05;
const JMP_JEQ_K = 0x15;
const JMP_JGT_K = 0x25;
const JMP_JSET_K = 0x45;
const RET_K = 0x06;

/** Map a libseccomp arch token to the AUDIT_ARCH_* value the kernel puts in seccomp_data.arch. */
export function auditArchOf(token: number): number {
  return token === SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : token >>> 0;
}

/** Largest syscall number the profile uses on one libseccomp arch token. */
export interface ArchMax {
  token: number;
  max: number;
}

type Target = number | "ret" | "filter";
interface Insn {
  code: number;
  jt: Target;
  jf: Target;
  k: number | "filter";
}

const ins = (code: number, k: number | "filter", jt: Target = 0, jf: Target = 0): Insn => ({ code, jt, jf, k });

/** One section's body after `ld [4]; jeq`: labels "ret" = its ret ENOSYS, "filter" = end of stub. */
function sectionBody(audit: number, maxes: ArchMax[]): Insn[] | null {
  const native = maxes.find((m) => m.token !== SCMP_ARCH_X32);
  const x32 = maxes.find((m) => m.token === SCMP_ARCH_X32);
  const body: Insn[] = [ins(LD_W_ABS, 0)];
  if (audit === AUDIT_ARCH_S390 || audit === AUDIT_ARCH_S390X) body.push(ins(JMP_JEQ_K, 0, "ret", 0));
  if (audit === AUDIT_ARCH_X86_64) {
    // jset bit30 → x32 check (2 ahead), else the x86_64 check right after.
    body.push(ins(JMP_JSET_K, X32_SYSCALL_BIT, 1, 0));
    body.push(native ? ins(JMP_JGT_K, native.max, "ret", "filter") : ins(JMP_JA, "filter"));
    body.push(x32 ? ins(JMP_JGT_K, x32.max, "ret", "filter") : ins(JMP_JA, "filter"));
  } else {
    if (!native) return null;
    body.push(ins(JMP_JGT_K, native.max, "ret", "filter"));
  }
  return body;
}

/**
 * Build the stub for the given per-arch maxima (archs whose profile resolves to no
 * syscall at all are left out by the caller). Returns struct sock_filter bytes in
 * host byte order (as seccomp_export_bpf writes them), possibly empty.
 */
export function enosysStub(maxes: readonly ArchMax[]): Uint8Array {
  const groups = new Map<number, ArchMax[]>();
  for (const m of maxes) {
    const a = auditArchOf(m.token);
    groups.set(a, [...(groups.get(a) ?? []), m]);
  }
  // Lay out sections; labels are resolved once the stub length is known.
  const prog: { insn: Insn; ret: number }[] = [];
  for (const [audit, ms] of groups) {
    const body = sectionBody(audit, ms);
    if (!body) continue;
    const bodyLen = body.length + 2; // + ret + ja
    prog.push({ insn: ins(LD_W_ABS, 4), ret: -1 });
    prog.push({ insn: ins(JMP_JEQ_K, audit, 0, bodyLen), ret: -1 });
    const retAt = prog.length + body.length;
    for (const b of body) prog.push({ insn: b, ret: retAt });
    prog.push({ insn: ins(RET_K, RET_ERRNO_ENOSYS), ret: -1 });
    prog.push({ insn: ins(JMP_JA, "filter"), ret: -1 });
  }
  const end = prog.length;
  const out = new Uint8Array(end * 8);
  const v = new DataView(out.buffer);
  const rel = (pc: number, t: Target, ret: number): number => {
    const abs = t === "ret" ? ret : t === "filter" ? end : pc + 1 + t;
    const off = abs - (pc + 1);
    if (off < 0 || off > 255) throw new Error(`enosys stub: jump out of range at ${pc}`);
    return off;
  };
  prog.forEach(({ insn, ret }, pc) => {
    const isJa = insn.code === JMP_JA;
    v.setUint16(pc * 8, insn.code, LE);
    v.setUint8(pc * 8 + 2, isJa ? 0 : rel(pc, insn.jt, ret));
    v.setUint8(pc * 8 + 3, isJa ? 0 : rel(pc, insn.jf, ret));
    v.setUint32(pc * 8 + 4, insn.k === "filter" ? end - (pc + 1) : insn.k >>> 0, LE);
  });
  return out;
}
