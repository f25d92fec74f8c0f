import { describe, expect, test } from "bun:test";
import { EscapeFilter, parseDetachKeys } from "../../../src/cli/berth/detach-keys.ts";

describe("detach keys", () => {
  test("docker's notation", () => {
    expect([...parseDetachKeys("ctrl-p,ctrl-q")]).toEqual([16, 17]);
    expect([...parseDetachKeys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_")]).toEqual([0, 27, 28, 29, 30, 31]);
    expect([...parseDetachKeys("ctrl-x,d")]).toEqual([24, 100]);
    expect(() => parseDetachKeys("ctrl-1")).toThrow("--detach-keys");
    expect(() => parseDetachKeys("abc")).toThrow("--detach-keys");
  });

  test("the filter holds a started sequence and sends it when it breaks off", () => {
    const f = new EscapeFilter(Uint8Array.of(16, 17));
    expect(f.push(Uint8Array.of(97, 16))).toEqual({ send: Uint8Array.of(97), detached: false });
    expect(f.push(Uint8Array.of(98))).toEqual({ send: Uint8Array.of(16, 98), detached: false });
    expect(f.push(Uint8Array.of(16, 16))).toEqual({ send: Uint8Array.of(16), detached: false });
    expect(f.push(Uint8Array.of(17, 99))).toEqual({ send: Uint8Array.of(), detached: true });
  });
});
