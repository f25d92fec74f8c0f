import { test, expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OPS } from "../../../src/runtime/plan/opcodes.ts";

// berth-init parses each record into struct ins (native/berth.h) without
// bounds checks of its own: the field table must fit the arrays.
test("every opcode's fields fit struct ins", () => {
  const h = readFileSync(join(import.meta.dir, "../../../native/berth.h"), "utf8");
  const size = (re: RegExp) => Number(re.exec(h)?.[1] ?? NaN);
  const cap = {
    num: size(/uint64_t n\[(\d+)\];/),
    str: size(/char \*s\[(\d+)\];/),
    bytes: 1,
    strv: size(/char \*\*v\[(\d+)\];/),
  };
  expect(cap.num).toBeGreaterThan(0);
  for (const [name, def] of Object.entries(OPS)) {
    const kinds = def.fields.map(([, k]) => k);
    const count = (...ks: string[]) => kinds.filter((k) => ks.includes(k)).length;
    const got = { num: count("u32", "u64"), str: count("str"), bytes: count("bytes"), strv: count("strv") };
    for (const k of Object.keys(cap) as (keyof typeof cap)[])
      expect({ op: name, kind: k, fits: got[k] <= cap[k] }).toEqual({ op: name, kind: k, fits: true });
  }
});
