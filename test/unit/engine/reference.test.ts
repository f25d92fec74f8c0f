import { describe, expect, test } from "bun:test";
import {
  familiarString,
  idPrefix,
  matchesReferencePattern,
  normalizeReference,
  parseReference,
} from "../../../src/engine/images/reference.ts";
import { BerthError } from "../../../src/errors.ts";

const D = "sha256:" + "ab".repeat(32);

describe("normalization as docker does it", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:1.36", "docker.io/library/busybox:1.36"],
    ["library/busybox", "docker.io/library/busybox:latest"],
    ["docker.io/busybox", "docker.io/library/busybox:latest"],
    ["index.docker.io/library/busybox:x", "docker.io/library/busybox:x"],
    ["user/app", "docker.io/user/app:latest"],
    ["user/app/sub:v1", "docker.io/user/app/sub:v1"],
    ["localhost/app", "localhost/app:latest"],
    ["localhost:5000/app:v2", "localhost:5000/app:v2"],
    ["registry.example.com/a/b", "registry.example.com/a/b:latest"],
    ["127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"],
    ["[::1]:5000/x:t", "[::1]:5000/x:t"],
    ["Registry.Example.com/x", "Registry.Example.com/x:latest"],
    ["MyHost/x", "MyHost/x:latest"], // an uppercase first component is a registry
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1.36@${D}`, `docker.io/library/busybox@${D}`],
    ["a-b__c_d/f--g.h", "docker.io/a-b__c_d/f--g.h:latest"],
  ];
  for (const [inp, want] of cases) test(`${inp} -> ${want}`, () => expect(normalizeReference(inp)).toBe(want));

  test("parts", () => {
    expect(parseReference("localhost:5000/a/b:t")).toEqual({ domain: "localhost:5000", path: "a/b", name: "localhost:5000/a/b", tag: "t" });
    expect(parseReference("busybox", { defaultTag: false })).toEqual({ domain: "docker.io", path: "library/busybox", name: "docker.io/library/busybox" });
  });

  test("familiar forms", () => {
    expect(familiarString("docker.io/library/busybox:latest")).toBe("busybox:latest");
    expect(familiarString("docker.io/user/app:v1")).toBe("user/app:v1");
    expect(familiarString("docker.io/library/a/b:v1")).toBe("library/a/b:v1");
    expect(familiarString("localhost:5000/x:y")).toBe("localhost:5000/x:y");
    expect(familiarString(`docker.io/library/busybox@${D}`)).toBe(`busybox@${D}`);
  });
});

describe("bad references are rejected with the reason", () => {
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["Busybox", /must be lowercase/],
    ["user/App", /must be lowercase/],
    ["busybox:", /bad tag/],
    ["busybox:-x", /bad tag/],
    ["busybox:" + "a".repeat(129), /bad tag/],
    ["busybox@sha256:abc", /bad digest/],
    ["busybox@sha512:" + "a".repeat(128), /unsupported digest/],
    ["a".repeat(64), /64-byte hexadecimal/],
    ["bad_/x", /bad repository name component/],
    ["x//y", /bad repository name component/],
    ["-x", /bad repository name component/],
    ["host:port:x/y", /bad registry|bad tag/],
    ["x/" + "a".repeat(260), /more than 255/],
  ];
  for (const [inp, re] of bad) {
    test(JSON.stringify(inp.slice(0, 40)), () => {
      let err: unknown;
      try {
        parseReference(inp);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BerthError);
      expect((err as BerthError).code).toBe("InvalidArgument");
      expect((err as BerthError).message).toMatch(re);
    });
  }
});

test("id prefixes", () => {
  expect(idPrefix("abc123")).toBe("abc123");
  expect(idPrefix("sha256:abc")).toBe("abc");
  expect(idPrefix("xyz")).toBeUndefined();
  expect(idPrefix("ABC")).toBeUndefined();
});

test("reference filter patterns match familiar names and name:tag", () => {
  const r = "docker.io/library/busybox:1.36";
  expect(matchesReferencePattern("busybox", r)).toBe(true);
  expect(matchesReferencePattern("busybox:1.36", r)).toBe(true);
  expect(matchesReferencePattern("busy*", r)).toBe(true);
  expect(matchesReferencePattern("busybox:1.*", r)).toBe(true);
  expect(matchesReferencePattern("busybox:2*", r)).toBe(false);
  expect(matchesReferencePattern("*", "docker.io/user/app:v1")).toBe(false); // * does not cross "/"
  expect(matchesReferencePattern("*/*", "docker.io/user/app:v1")).toBe(true);
  expect(matchesReferencePattern("localhost:5000/*", "localhost:5000/x:y")).toBe(true);
  expect(matchesReferencePattern("busybo[xy]", r)).toBe(true);
});
