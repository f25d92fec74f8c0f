import { test, expect } from "bun:test";
import { encodePlan, decodePlan, instr } from "../../../src/runtime/plan/record.ts";
import { OPS } from "../../../src/runtime/plan/opcodes.ts";
import { renderHeader } from "../../../scripts/gen-native-header.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";

test("records round-trip through the binary encoding", () => {
  const plan = [
    instr("CLONE", 0x20020000, 1),
    instr("MOUNT", "proc", "/proc", 1, "proc", 14, ""),
    instr("SETGROUPS", new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0])),
    instr("RLIMIT", 7, 1024n, 0xffffffffffffffffn),
    instr("EXEC", ["sh", "-c", "echo ü"], ["PATH=/bin"]),
    instr("READY"),
  ];
  const bytes = encodePlan(plan);
  const back = decodePlan(bytes);
  expect(back.map((i) => i.op)).toEqual(plan.map((i) => i.op));
  expect(back[0]!.args).toEqual([0x20020000n, 1]);
  expect(back[1]!.args).toEqual(["proc", "/proc", 1, "proc", 14n, ""]);
  expect(back[2]!.args[0]).toEqual(new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]));
  expect(back[3]!.args).toEqual([7, 1024n, 0xffffffffffffffffn]);
  expect(back[4]!.args).toEqual([["sh", "-c", "echo ü"], ["PATH=/bin"]]);
});

test("record layout: u32 opcode, u32 length, fields; strings carry their NUL", () => {
  const bytes = encodePlan([instr("SETHOSTNAME", "ab")]);
  const v = new DataView(bytes.buffer);
  expect(v.getUint32(0, true)).toBe(OPS.SETHOSTNAME.code);
  expect(v.getUint32(4, true)).toBe(4 + 3);
  expect(v.getUint32(8, true)).toBe(3);
  expect([...bytes.subarray(12)]).toEqual([0x61, 0x62, 0]);
});

test("encoding rejects wrong arity, bad integers and NUL in strings", () => {
  expect(() => encodePlan([{ op: "SETUID", args: [] }])).toThrow(/expected 1 fields/);
  expect(() => encodePlan([instr("SETUID", -1)])).toThrow(/not a u32/);
  expect(() => encodePlan([instr("SETHOSTNAME", "a\0b")])).toThrow(/NUL/);
});

test("opcodes are unique", () => {
  const codes = Object.values(OPS).map((o) => o.code);
  expect(new Set(codes).size).toBe(codes.length);
});

test("native/opcodes.h matches src/runtime/plan/opcodes.ts", () => {
  const header = readFileSync(join(import.meta.dir, "../../../native/opcodes.h"), "utf8");
  expect(header).toBe(renderHeader());
});
