import { describe, expect, test } from "bun:test";
import { BerthError } from "../../../src/errors.ts";
import { parseSignal, signalName } from "../../../src/oci/signals.ts";

describe("parseSignal", () => {
  test("names, with or without SIG, any case", () => {
    expect(parseSignal("KILL")).toBe(9);
    expect(parseSignal("SIGKILL")).toBe(9);
    expect(parseSignal("sigkill")).toBe(9);
    expect(parseSignal("term")).toBe(15);
    expect(parseSignal("SIGTERM")).toBe(15);
    expect(parseSignal("HUP")).toBe(1);
    expect(parseSignal("USR1")).toBe(10);
    expect(parseSignal("USR2")).toBe(12);
    expect(parseSignal("CHLD")).toBe(17);
    expect(parseSignal("STOP")).toBe(19);
    expect(parseSignal("WINCH")).toBe(28);
    expect(parseSignal("SYS")).toBe(31);
  });

  test("aliases", () => {
    expect(parseSignal("IOT")).toBe(6);
    expect(parseSignal("CLD")).toBe(17);
    expect(parseSignal("POLL")).toBe(29);
  });

  test("numbers 1..64, as strings or numbers", () => {
    expect(parseSignal("9")).toBe(9);
    expect(parseSignal("1")).toBe(1);
    expect(parseSignal("64")).toBe(64);
    expect(parseSignal(15)).toBe(15);
    expect(parseSignal("32")).toBe(32);
  });

  test("real-time forms", () => {
    expect(parseSignal("RTMIN")).toBe(34);
    expect(parseSignal("SIGRTMIN")).toBe(34);
    expect(parseSignal("SIGRTMIN+1")).toBe(35);
    expect(parseSignal("rtmin+30")).toBe(64);
    expect(parseSignal("RTMAX")).toBe(64);
    expect(parseSignal("SIGRTMAX-2")).toBe(62);
    expect(parseSignal("RTMAX-30")).toBe(34);
  });

  test("errors name the bad input", () => {
    const bad = ["FOO", "SIGFOO", "", "0", "65", "-9", "9x", "1.5", "RTMIN+31", "RTMAX-31", "RTMIN-1", "RTMAX+1", "SIG"];
    for (const b of bad) {
      let err: unknown;
      try {
        parseSignal(b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BerthError);
      expect((err as BerthError).code).toBe("InvalidArgument");
      expect((err as BerthError).message).toContain(JSON.stringify(b));
    }
    expect(() => parseSignal("FOO")).toThrow('unknown signal "FOO"');
    expect(() => parseSignal("65")).toThrow('invalid signal "65": must be 1..64');
    expect(() => parseSignal(0)).toThrow("invalid signal 0: must be 1..64");
    expect(() => parseSignal(2.5)).toThrow("invalid signal 2.5");
  });
});

describe("signalName", () => {
  test("round-trips through parseSignal", () => {
    expect(signalName(9)).toBe("SIGKILL");
    expect(signalName(34)).toBe("SIGRTMIN");
    expect(signalName(36)).toBe("SIGRTMIN+2");
    expect(signalName(63)).toBe("SIGRTMAX-1");
    expect(signalName(64)).toBe("SIGRTMAX");
    expect(signalName(33)).toBe("SIG33");
    for (let n = 1; n <= 64; n++) {
      if (n === 32 || n === 33) continue;
      expect(parseSignal(signalName(n))).toBe(n);
    }
  });
});
