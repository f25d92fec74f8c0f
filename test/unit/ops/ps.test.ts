/** `ps` table filtering: runc keeps the header and the rows whose PID column is the container's. */
import { expect, test } from "bun:test";
import { filterPsOutput } from "../../../src/runtime/ops/ps.ts";

const EF = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         100       1  0 10:00 ?        00:00:00 sh -c while true; do sleep 1; done
root         101     100  0 10:00 ?        00:00:00 sleep 1
root        1000       1  0 10:00 ?        00:00:00 other 100
`;

test("header and the container's rows, in ps's order", () => {
  expect(filterPsOutput(EF, [101, 100])).toBe(EF.split("\n").filter((_, i) => i === 0 || i === 2 || i === 3).join("\n") + "\n");
});

test("the PID column is found wherever the options put it", () => {
  const out = "COMMAND  PID\nsh       100\nother   1000\n";
  expect(filterPsOutput(out, [100])).toBe("COMMAND  PID\nsh       100\n");
});

test("a pid appearing in another column does not match", () => {
  expect(filterPsOutput(EF, [1000]).split("\n").filter(Boolean)).toHaveLength(2);
  expect(filterPsOutput(EF, [0]).split("\n").filter(Boolean)).toHaveLength(1);
});

test("options without PID: runc's error", () => {
  expect(() => filterPsOutput("COMMAND\nsh\n", [1])).toThrow(/couldn't find PID field in ps output/);
});
