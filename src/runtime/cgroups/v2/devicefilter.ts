/**
 * Device rules -> eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE.
 *
 * Semantics: the LAST rule that matches an access decides it; no match denies.
 * An allow rule matches when it grants every requested bit (request ⊆ access);
 * a deny rule matches when it names any requested bit (request ∩ access ≠ ∅),
 * so "deny c 1:5 w" also refuses an O_RDWR open. Where rules would only
 * together grant a request (allow r + allow w, asked rw) the program denies:
 * it errs only on the side of refusing. (runc reaches the same result for
 * ordinary rule lists through its v1 emulator; this implements it directly.)
 *
 * The program reads struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
 * (access_type: low 16 bits device type, high 16 bits requested access) and:
 *
 *   r2 = ctx->access_type & 0xffff     ; type  (1 block, 2 char)
 *   r3 = ctx->access_type >> 16        ; access (1 mknod, 2 read, 4 write)
 *   r4 = ctx->major ; r5 = ctx->minor
 *   ; one block per rule, last rule first:
 *   if r2 != TYPE goto next            ; omitted for type "a"
 *   r1 = r3 ; r1 &= ACC ; if r1 != r3 goto next   ; allow rule, omitted for "rwm"
 *   r1 = r3 ; r1 &= ACC ; if r1 == 0 goto next    ; deny rule, omitted for "rwm"
 *   if r4 != MAJOR goto next           ; omitted for any major
 *   if r5 != MINOR goto next           ; omitted for any minor
 *   r0 = ALLOW ; exit
 *   next: ...
 *   r0 = DEFAULT ; exit                ; 0, or the action of a trailing catch-all rule
 */
import type { DeviceRule } from "../devices.ts";
import { isCatchAll } from "../devices.ts";

export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// opcode pieces (linux/bpf_common.h, linux/bpf.h)
export const BPF = {
  LDX_MEM_W: 0x61, // BPF_LDX | BPF_MEM | BPF_W
  ALU32_AND_K: 0x54,
  ALU32_RSH_K: 0x74,
  ALU32_MOV_K: 0xb4,
  ALU32_MOV_X: 0xbc,
  JMP_JEQ_K: 0x15,
  JMP_JNE_K: 0x55,
  JMP_JNE_X: 0x5d,
  JMP_EXIT: 0x95,
} as const;

export const DEVCG_DEV_BLOCK = 1;
export const DEVCG_DEV_CHAR = 2;
export const DEVCG_ACC_MKNOD = 1;
export const DEVCG_ACC_READ = 2;
export const DEVCG_ACC_WRITE = 4;

const ins = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ code, dst, src, off, imm });

function accessMask(access: string): number {
  let m = 0;
  if (access.includes("r")) m |= DEVCG_ACC_READ;
  if (access.includes("w")) m |= DEVCG_ACC_WRITE;
  if (access.includes("m")) m |= DEVCG_ACC_MKNOD;
  return m;
}

/** Rules that can decide an access, highest priority first, and the fallback action. */
export function effectiveRules(rules: DeviceRule[]): { ordered: DeviceRule[]; defaultAllow: boolean } {
  const ordered: DeviceRule[] = [];
  let defaultAllow = false;
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i]!;
    if (isCatchAll(r)) {
      defaultAllow = r.allow; // everything before it is shadowed
      break;
    }
    ordered.push(r);
  }
  // lowest-priority rules that agree with the fallback change nothing
  while (ordered.length && ordered[ordered.length - 1]!.allow === defaultAllow) ordered.pop();
  return { ordered, defaultAllow };
}

export function generateDeviceFilter(rules: DeviceRule[]): BpfInsn[] {
  const { ordered, defaultAllow } = effectiveRules(rules);
  const prog: BpfInsn[] = [
    ins(BPF.LDX_MEM_W, 2, 1, 0, 0),
    ins(BPF.ALU32_AND_K, 2, 0, 0, 0xffff),
    ins(BPF.LDX_MEM_W, 3, 1, 0, 0),
    ins(BPF.ALU32_RSH_K, 3, 0, 0, 16),
    ins(BPF.LDX_MEM_W, 4, 1, 4, 0),
    ins(BPF.LDX_MEM_W, 5, 1, 8, 0),
  ];
  for (const r of ordered) {
    // jumps are emitted with off = -1 and patched to the end of the block
    const block: BpfInsn[] = [];
    if (r.type !== "a") block.push(ins(BPF.JMP_JNE_K, 2, 0, -1, r.type === "b" ? DEVCG_DEV_BLOCK : DEVCG_DEV_CHAR));
    const acc = accessMask(r.access);
    if (acc !== (DEVCG_ACC_MKNOD | DEVCG_ACC_READ | DEVCG_ACC_WRITE)) {
      block.push(
        ins(BPF.ALU32_MOV_X, 1, 3, 0, 0),
        ins(BPF.ALU32_AND_K, 1, 0, 0, acc),
        r.allow ? ins(BPF.JMP_JNE_X, 1, 3, -1, 0) : ins(BPF.JMP_JEQ_K, 1, 0, -1, 0),
      );
    }
    if (r.major !== null) block.push(ins(BPF.JMP_JNE_K, 4, 0, -1, r.major));
    if (r.minor !== null) block.push(ins(BPF.JMP_JNE_K, 5, 0, -1, r.minor));
    block.push(ins(BPF.ALU32_MOV_K, 0, 0, 0, r.allow ? 1 : 0), ins(BPF.JMP_EXIT, 0, 0, 0, 0));
    block.forEach((b, i) => {
      if (b.off === -1) b.off = block.length - i - 1;
    });
    prog.push(...block);
  }
  prog.push(ins(BPF.ALU32_MOV_K, 0, 0, 0, defaultAllow ? 1 : 0), ins(BPF.JMP_EXIT, 0, 0, 0, 0));
  return prog;
}

/** struct bpf_insn[] as the kernel takes it (little-endian hosts). */
export function encodeInsns(prog: BpfInsn[]): Uint8Array {
  const buf = new Uint8Array(prog.length * 8);
  const dv = new DataView(buf.buffer);
  prog.forEach((p, i) => {
    dv.setUint8(i * 8, p.code);
    dv.setUint8(i * 8 + 1, (p.src << 4) | (p.dst & 0xf));
    dv.setInt16(i * 8 + 2, p.off, true);
    dv.setInt32(i * 8 + 4, p.imm | 0, true);
  });
  return buf;
}
