/** runc's flag value syntaxes: go-units sizes, Go durations, strconv integers. */
import { describe, expect, test } from "bun:test";
import { parseDuration, parseInt64, parseMemoryFlag, parseRamSize, parseUint } from "../../../src/runtime/ops/units.ts";

const K = 1024;
const M = K * K;

describe("sizes (docker/go-units RAMInBytes)", () => {
  test.each([
    ["100", 100],
    ["0", 0],
    ["64k", 64 * K],
    ["64K", 64 * K],
    ["64kb", 64 * K],
    ["64KiB", 64 * K],
    ["64m", 64 * M],
    ["64 MB", 64 * M],
    ["1.5g", 1.5 * 1024 * M],
    ["2t", 2 * 1024 * 1024 * M],
    ["1p", 2 ** 50],
    ["1.5", 1], // fractions of a byte are dropped
    ["10b", 10],
    ["10i", 10],
  ])("%p -> %p", (s, want) => expect(parseRamSize(s, "--memory")).toBe(want));

  test.each(["", "abc", "-1", "-5m", "64x", "1.2.3m", "m", " 64m", "64mbb", "1e3"])("%p is rejected naming the flag", (s) => {
    expect(() => parseRamSize(s, "update: --memory")).toThrow(/^update: --memory: invalid size/);
  });

  test("beyond int64 is out of range", () => {
    expect(() => parseRamSize("9000p", "--memory")).toThrow(/--memory: size out of range/);
  });

  test("memory flags: -1 is unlimited", () => {
    expect(parseMemoryFlag("-1", "--memory")).toBe(-1);
    expect(parseMemoryFlag("1m", "--memory")).toBe(M);
    expect(() => parseMemoryFlag("-2", "--memory")).toThrow(/invalid size/);
  });
});

describe("durations (Go time.ParseDuration)", () => {
  test.each([
    ["5s", 5000],
    ["0", 0],
    ["250ms", 250],
    ["1m30s", 90_000],
    ["1.5h", 5_400_000],
    ["1h2m3s4ms", 3_723_004],
    ["500us", 0.5],
    ["-5s", -5000],
    [".5s", 500],
  ])("%p -> %p ms", (s, want) => expect(parseDuration(s, "--interval")).toBe(want));

  test.each(["", "5", "s", "5x", "5 s", "1m 30s", "--5s"])("%p is rejected", (s) => {
    expect(() => parseDuration(s, "events: --interval")).toThrow(/^events: --interval: invalid duration/);
  });
});

describe("integers (strconv)", () => {
  test("ParseUint", () => {
    expect(parseUint("512", "--cpu-share")).toBe(512);
    expect(() => parseUint("-1", "--cpu-share")).toThrow(/--cpu-share: invalid value "-1": not an unsigned integer/);
    expect(() => parseUint("18446744073709551616", "--cpu-period")).toThrow(/out of range/);
    expect(() => parseUint("1k", "--cpu-period")).toThrow(/not an unsigned integer/);
  });
  test("ParseInt", () => {
    expect(parseInt64("-1", "--cpu-quota")).toBe(-1);
    expect(parseInt64("+20000", "--cpu-quota")).toBe(20000);
    expect(() => parseInt64("9223372036854775808", "--cpu-quota")).toThrow(/out of range/);
    expect(() => parseInt64("2.5", "--pids-limit")).toThrow(/--pids-limit: invalid value "2.5": not an integer/);
  });
});
