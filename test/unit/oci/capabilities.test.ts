import { describe, expect, test } from "bun:test";
import {
  CAPABILITIES,
  CAP_LAST_KNOWN,
  capMask,
  capName,
  capNames,
  capNumber,
  fullMask,
  hostBoundingSet,
  isCapability,
  lastCap,
  parseCapHex,
} from "../../../src/oci/capabilities.ts";
import { RLIMITS, RLIM_INFINITY, rlimitNumber } from "../../../src/oci/rlimits.ts";

describe("capability table", () => {
  test("numbers match linux/capability.h", () => {
    expect(CAPABILITIES.length).toBe(41);
    expect(CAP_LAST_KNOWN).toBe(40);
    const spot: [string, number][] = [
      ["CAP_CHOWN", 0],
      ["CAP_KILL", 5],
      ["CAP_SETPCAP", 8],
      ["CAP_NET_BIND_SERVICE", 10],
      ["CAP_NET_RAW", 13],
      ["CAP_SYS_CHROOT", 18],
      ["CAP_SYS_ADMIN", 21],
      ["CAP_MKNOD", 27],
      ["CAP_AUDIT_WRITE", 29],
      ["CAP_SETFCAP", 31],
      ["CAP_SYSLOG", 34],
      ["CAP_AUDIT_READ", 37],
      ["CAP_PERFMON", 38],
      ["CAP_BPF", 39],
      ["CAP_CHECKPOINT_RESTORE", 40],
    ];
    for (const [name, n] of spot) {
      expect(capNumber(name)).toBe(n);
      expect(capName(n)).toBe(name);
    }
    expect(new Set(CAPABILITIES).size).toBe(41);
  });

  test("names are exact: upper case with the CAP_ prefix", () => {
    expect(isCapability("CAP_KILL")).toBe(true);
    expect(isCapability("KILL")).toBe(false);
    expect(isCapability("cap_kill")).toBe(false);
    expect(capNumber("CAP_FOO")).toBeUndefined();
    expect(capName(41)).toBeUndefined();
  });
});

describe("masks", () => {
  test("capMask sets one bit per capability", () => {
    expect(capMask([])).toBe(0n);
    expect(capMask(["CAP_CHOWN"])).toBe(1n);
    expect(capMask(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])).toBe((1n << 29n) | (1n << 5n) | (1n << 10n));
    expect(capMask(["CAP_KILL", "CAP_KILL"])).toBe(32n);
    expect(capMask(["CAP_CHECKPOINT_RESTORE"])).toBe(1n << 40n);
    expect(capMask(CAPABILITIES)).toBe(fullMask(40));
    expect(fullMask(40)).toBe(0x1ffffffffffn);
  });

  test("capMask rejects an unknown name, naming it", () => {
    expect(() => capMask(["CAP_KILL", "CAP_FOO"])).toThrow('unknown capability "CAP_FOO"');
  });

  test("capNames inverts capMask", () => {
    const names = ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN", "CAP_BPF"];
    expect(capNames(capMask(names))).toEqual(names);
    expect(capNames(1n << 45n)).toEqual(["CAP_45"]);
    expect(capNames(0n)).toEqual([]);
  });
});

describe("host view", () => {
  test("lastCap reads the running kernel's value and caches it", () => {
    const n = lastCap();
    expect(n).toBeGreaterThanOrEqual(30);
    expect(n).toBeLessThanOrEqual(63);
    expect(lastCap()).toBe(n);
  });

  test("hostBoundingSet parses CapBnd", () => {
    const status = "Name:\tcat\nCapInh:\t0000000000000000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n";
    expect(hostBoundingSet(status)).toBe(0x1ffffffffffn);
    expect(() => hostBoundingSet("Name:\tx\n")).toThrow("no CapBnd line");
    const live = hostBoundingSet();
    expect(live >> BigInt(lastCap() + 1)).toBe(0n);
    expect(parseCapHex(" 00000000a80425fb\n")).toBe(0xa80425fbn);
    expect(() => parseCapHex("xyz")).toThrow();
  });
});

describe("rlimits", () => {
  test("names map to resource numbers", () => {
    expect(rlimitNumber("RLIMIT_CPU")).toBe(0);
    expect(rlimitNumber("RLIMIT_CORE")).toBe(4);
    expect(rlimitNumber("RLIMIT_NOFILE")).toBe(7);
    expect(rlimitNumber("RLIMIT_MEMLOCK")).toBe(8);
    expect(rlimitNumber("RLIMIT_RTTIME")).toBe(15);
    expect(Object.keys(RLIMITS).length).toBe(16);
    expect(rlimitNumber("RLIMIT_FOO")).toBeUndefined();
    expect(rlimitNumber("rlimit_nofile")).toBeUndefined();
    expect(rlimitNumber("toString")).toBeUndefined();
    expect(RLIM_INFINITY).toBe(2n ** 64n - 1n);
  });
});
