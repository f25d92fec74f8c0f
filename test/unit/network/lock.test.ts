import { expect, test } from "bun:test";
import { NetworkLocks } from "../../../src/engine/network/lock.ts";

test("keyed operations overlap across keys, not within one; exclusive ones run alone", async () => {
  const l = new NetworkLocks();
  const log: string[] = [];
  const step = (name: string, ms: number) => async () => {
    log.push(`+${name}`);
    await Bun.sleep(ms);
    log.push(`-${name}`);
  };
  await Promise.all([l.keyed("a", step("a1", 30)), l.keyed("b", step("b1", 10)), l.keyed("a", step("a2", 10))]);
  // b1 ran while a1 did; a2 only after a1
  expect(log.indexOf("+b1")).toBeLessThan(log.indexOf("-a1"));
  expect(log.indexOf("+a2")).toBeGreaterThan(log.indexOf("-a1"));
  log.length = 0;
  await Promise.all([l.keyed("a", step("k1", 20)), l.exclusive(step("x", 10)), l.keyed("b", step("k2", 10))]);
  const x0 = log.indexOf("+x");
  const x1 = log.indexOf("-x");
  expect(x1).toBe(x0 + 1); // nothing inside the exclusive one
  expect(log.indexOf("-k1")).toBeLessThan(x0);
});
