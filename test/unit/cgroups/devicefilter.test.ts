/** The eBPF device program generator: shape, encoding, and decisions (run on a tiny interpreter). */
import { describe, expect, test } from "bun:test";
import { normalizeDeviceRules } from "../../../src/runtime/cgroups/devices.ts";
import type { LinuxDeviceCgroup } from "../../../src/runtime/cgroups/resources.ts";
import {
  BPF, type BpfInsn, DEVCG_ACC_MKNOD, DEVCG_ACC_READ, DEVCG_ACC_WRITE, DEVCG_DEV_BLOCK, DEVCG_DEV_CHAR,
  encodeInsns, generateDeviceFilter,
} from "../../../src/runtime/cgroups/v2/devicefilter.ts";

const gen = (rules: LinuxDeviceCgroup[]) => generateDeviceFilter(normalizeDeviceRules(rules));

/** Executes exactly the opcodes the generator emits, as the kernel would. */
function run(prog: BpfInsn[], type: "b" | "c", major: number, minor: number, access: string): number {
  const acc = (access.includes("r") ? DEVCG_ACC_READ : 0) | (access.includes("w") ? DEVCG_ACC_WRITE : 0) | (access.includes("m") ? DEVCG_ACC_MKNOD : 0);
  const ctx = [((acc << 16) | (type === "b" ? DEVCG_DEV_BLOCK : DEVCG_DEV_CHAR)) >>> 0, major, minor];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0, steps = 0; pc < prog.length && steps < 10000; pc++, steps++) {
    const i = prog[pc]!;
    switch (i.code) {
      case BPF.LDX_MEM_W:
        expect(i.src).toBe(1);
        r[i.dst] = ctx[i.off / 4]!;
        break;
      case BPF.ALU32_AND_K:
        r[i.dst] = (r[i.dst]! & i.imm) >>> 0;
        break;
      case BPF.ALU32_RSH_K:
        r[i.dst] = r[i.dst]! >>> i.imm;
        break;
      case BPF.ALU32_MOV_K:
        r[i.dst] = i.imm >>> 0;
        break;
      case BPF.ALU32_MOV_X:
        r[i.dst] = r[i.src]!;
        break;
      case BPF.JMP_JNE_K:
        if (r[i.dst] !== i.imm) pc += i.off;
        break;
      case BPF.JMP_JEQ_K:
        if (r[i.dst] === i.imm) pc += i.off;
        break;
      case BPF.JMP_JNE_X:
        if (r[i.dst] !== r[i.src]) pc += i.off;
        break;
      case BPF.JMP_EXIT:
        return r[0]!;
      default:
        throw new Error(`unexpected opcode ${i.code}`);
    }
  }
  throw new Error("fell off the end of the program");
}

describe("device filter generator", () => {
  test("no rules: deny everything (prologue + default)", () => {
    const p = gen([]);
    expect(p.length).toBe(8);
    expect(p.slice(6)).toEqual([
      { code: BPF.ALU32_MOV_K, dst: 0, src: 0, off: 0, imm: 0 },
      { code: BPF.JMP_EXIT, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
    expect(run(p, "c", 1, 3, "r")).toBe(0);
  });

  test("a lone catch-all allow becomes the default", () => {
    const p = gen([{ allow: true }]);
    expect(p.length).toBe(8);
    expect(p[6]!.imm).toBe(1);
    expect(run(p, "b", 8, 0, "rwm")).toBe(1);
  });

  test("deny all + allow c 1:3 rwm: one block of type/major/minor checks", () => {
    const p = gen([{ allow: false }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }]);
    expect(p.length).toBe(6 + 5 + 2);
    const block = p.slice(6, 11);
    expect(block.map((i) => [i.code, i.dst, i.off, i.imm])).toEqual([
      [BPF.JMP_JNE_K, 2, 4, DEVCG_DEV_CHAR],
      [BPF.JMP_JNE_K, 4, 3, 1],
      [BPF.JMP_JNE_K, 5, 2, 3],
      [BPF.ALU32_MOV_K, 0, 0, 1],
      [BPF.JMP_EXIT, 0, 0, 0],
    ]);
    expect(run(p, "c", 1, 3, "rw")).toBe(1);
    expect(run(p, "c", 1, 5, "r")).toBe(0);
    expect(run(p, "b", 1, 3, "r")).toBe(0);
  });

  test("partial access adds the mask check; wildcard major/minor drop their checks", () => {
    const p = gen([{ allow: true, type: "c", access: "rw" }]);
    // type + (mov, and, jne) + mov + exit = 6
    expect(p.length).toBe(6 + 6 + 2);
    expect(p[8]).toEqual({ code: BPF.ALU32_AND_K, dst: 1, src: 0, off: 0, imm: DEVCG_ACC_READ | DEVCG_ACC_WRITE });
    expect(p[9]).toEqual({ code: BPF.JMP_JNE_X, dst: 1, src: 3, off: 2, imm: 0 });
    expect(run(p, "c", 136, 4, "rw")).toBe(1);
    expect(run(p, "c", 136, 4, "m")).toBe(0);
    expect(run(p, "c", 136, 4, "rm")).toBe(0);
    expect(run(p, "b", 8, 0, "r")).toBe(0);
  });

  test("last matching rule wins", () => {
    const p = gen([
      { allow: false },
      { allow: true, type: "c", major: 1, minor: -1, access: "rwm" },
      { allow: false, type: "c", major: 1, minor: 5, access: "w" },
    ]);
    expect(run(p, "c", 1, 5, "r")).toBe(1);
    expect(run(p, "c", 1, 5, "w")).toBe(0);
    expect(run(p, "c", 1, 5, "rw")).toBe(0); // a deny rule matches any request naming one of its bits (O_RDWR)
    expect(run(p, "c", 1, 5, "m")).toBe(1);
    expect(run(p, "c", 1, 3, "w")).toBe(1);
    expect(run(p, "c", 2, 0, "r")).toBe(0);
  });

  test("a catch-all in the middle shadows everything before it", () => {
    const p = gen([
      { allow: true, type: "c", major: 1, minor: 3 },
      { allow: false }, // deny all: rule above no longer matters
      { allow: true, type: "b", major: 8, minor: 0, access: "r" },
    ]);
    expect(p.length).toBe(6 + (1 + 3 + 2 + 2) + 2);
    expect(run(p, "c", 1, 3, "r")).toBe(0);
    expect(run(p, "b", 8, 0, "r")).toBe(1);
  });

  test("allow all then deny one device: default allow", () => {
    const p = gen([{ allow: true }, { allow: false, type: "c", major: 1, minor: 5 }]);
    expect(p[p.length - 2]!.imm).toBe(1);
    expect(run(p, "c", 1, 5, "r")).toBe(0);
    expect(run(p, "c", 1, 3, "r")).toBe(1);
  });

  test("a deny rule with partial access tests for overlap (jeq 0), not inclusion", () => {
    const p = gen([{ allow: true }, { allow: false, type: "b", access: "w" }]);
    expect(p[9]).toEqual({ code: BPF.JMP_JEQ_K, dst: 1, src: 0, off: 2, imm: 0 });
    expect(run(p, "b", 8, 0, "rw")).toBe(0);
    expect(run(p, "b", 8, 0, "r")).toBe(1);
  });

  test("rules that only together grant a request: refused (errs toward deny)", () => {
    const p = gen([{ allow: true, type: "c", major: 1, minor: 5, access: "r" }, { allow: true, type: "c", major: 1, minor: 5, access: "w" }]);
    expect(run(p, "c", 1, 5, "r")).toBe(1);
    expect(run(p, "c", 1, 5, "w")).toBe(1);
    expect(run(p, "c", 1, 5, "rw")).toBe(0);
  });

  test("trailing rules that agree with the default are dropped", () => {
    expect(gen([{ allow: false, type: "c", major: 1, minor: 3 }]).length).toBe(8);
  });

  test("encoding: 8 bytes per instruction, little-endian, dst in the low nibble", () => {
    const p = gen([{ allow: true, type: "c", major: 1, minor: 3 }]);
    const bytes = encodeInsns(p);
    expect(bytes.byteLength).toBe(p.length * 8);
    expect([...bytes.subarray(0, 8)]).toEqual([0x61, 0x12, 0, 0, 0, 0, 0, 0]); // r2 = *(u32 *)(r1 + 0)
    expect([...bytes.subarray(32, 40)]).toEqual([0x61, 0x14, 4, 0, 0, 0, 0, 0]); // r4 = *(u32 *)(r1 + 4)
    expect([...bytes.subarray(8, 16)]).toEqual([0x54, 0x02, 0, 0, 0xff, 0xff, 0, 0]); // w2 &= 0xffff
  });

  test("rule validation names the field", () => {
    expect(() => gen([{ allow: true, access: "rx" }])).toThrow(/^linux\.resources\.devices\[0\]\.access: "rx"/);
    expect(() => gen([{ allow: true }, { allow: true, major: -2 }])).toThrow(/^linux\.resources\.devices\[1\]\.major: -2 is not a device number/);
  });
});
