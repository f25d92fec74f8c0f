import { describe, expect, test } from "bun:test";
import { API_MAX, API_MIN, compareVersions, negotiate, splitVersion } from "../../../src/api/docker/version.ts";
import { BerthError } from "../../../src/errors.ts";

describe("API version negotiation", () => {
  test("versions compare numerically, part by part", () => {
    expect(compareVersions("1.9", "1.10")).toBe(-1);
    expect(compareVersions("1.43", "1.43")).toBe(0);
    expect(compareVersions("1.43", "1.4")).toBe(1);
    expect(compareVersions("2", "1.99")).toBe(1);
    expect(compareVersions("1.24.0", "1.24")).toBe(0);
  });

  test("the /v<version> prefix is optional", () => {
    expect(splitVersion("/v1.43/images/json")).toEqual({ version: "1.43", path: "/images/json" });
    expect(splitVersion("/images/json")).toEqual({ path: "/images/json" });
    expect(splitVersion("/v1.24/_ping")).toEqual({ version: "1.24", path: "/_ping" });
    expect(splitVersion("/v1.43")).toEqual({ version: "1.43", path: "/" });
    // not a version: left as a path (and then no route matches it)
    expect(splitVersion("/vX/images/json")).toEqual({ path: "/vX/images/json" });
  });

  test("no version is served at the newest; in range is served as asked", () => {
    expect(negotiate(undefined)).toBe(API_MAX);
    expect(negotiate("")).toBe(API_MAX);
    expect(negotiate(API_MIN)).toBe(API_MIN);
    expect(negotiate("1.41")).toBe("1.41");
    expect(negotiate(API_MAX)).toBe(API_MAX);
  });

  test("out of range is InvalidArgument with dockerd's words", () => {
    const err = (v: string) => {
      try {
        negotiate(v);
      } catch (e) {
        expect(e).toBeInstanceOf(BerthError);
        expect((e as BerthError).code).toBe("InvalidArgument");
        return (e as BerthError).message;
      }
      throw new Error("no error");
    };
    expect(err("1.12")).toBe(`client version 1.12 is too old. Minimum supported API version is ${API_MIN}, please upgrade your client to a newer version`);
    expect(err("1.50")).toBe(`client version 1.50 is too new. Maximum supported API version is ${API_MAX}`);
    expect(err("1.x")).toContain("not a version");
  });
});
