import { describe, expect, test } from "bun:test";
import { credentialsFromRegistryAuth, mergeScopes, parseChallenges } from "../../../src/engine/registry/auth.ts";
import { describeErrorBody } from "../../../src/engine/registry/errors.ts";
import { apiHost, isLoopbackDomain } from "../../../src/engine/registry/reference.ts";
import { BerthError } from "../../../src/errors.ts";

describe("WWW-Authenticate", () => {
  test("bearer with quoted commas and spaces", () => {
    const c = parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push repository:c:pull"');
    expect(c).toEqual([
      { scheme: "bearer", params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull,push repository:c:pull" } },
    ]);
  });

  test("several challenges, basic, escapes, token values", () => {
    const c = parseChallenges('Basic realm="reg \\"x\\"", Bearer realm=https://t/token, error="insufficient_scope"');
    expect(c).toEqual([
      { scheme: "basic", params: { realm: 'reg "x"' } },
      { scheme: "bearer", params: { realm: "https://t/token", error: "insufficient_scope" } },
    ]);
    expect(parseChallenges(null)).toEqual([]);
    expect(parseChallenges("")).toEqual([]);
  });

  test("scopes of one repository are merged", () => {
    expect(mergeScopes(["repository:a:pull", "repository:a:push", "repository:b:pull", "repository:a:pull"])).toEqual([
      "repository:a:pull,push",
      "repository:b:pull",
    ]);
  });
});

describe("X-Registry-Auth", () => {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  test("username/password, auth, tokens, empty", () => {
    expect(credentialsFromRegistryAuth(enc({ username: "u", password: "p", serveraddress: "x" }))).toEqual({ username: "u", password: "p" });
    expect(credentialsFromRegistryAuth(enc({ auth: Buffer.from("u:p:q").toString("base64") }))).toEqual({ username: "u", password: "p:q" });
    expect(credentialsFromRegistryAuth(enc({ identitytoken: "it" }))).toEqual({ identityToken: "it" });
    expect(credentialsFromRegistryAuth(enc({ registrytoken: "rt" }))).toEqual({ registryToken: "rt" });
    expect(credentialsFromRegistryAuth(enc({}))).toBeUndefined();
    expect(credentialsFromRegistryAuth("")).toBeUndefined();
  });
  test("garbage is InvalidArgument", () => {
    expect(() => credentialsFromRegistryAuth("!!!")).toThrow(BerthError);
    expect(() => credentialsFromRegistryAuth(enc({ auth: Buffer.from("nocolon").toString("base64") }))).toThrow("auth is not base64 user:password");
  });
});

describe("registry error bodies", () => {
  test("codes and messages as docker words them", () => {
    expect(describeErrorBody('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}')).toEqual({
      words: "manifest unknown: manifest unknown",
      code: "NotFound",
    });
    expect(describeErrorBody('{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}').code).toBe("PermissionDenied");
    expect(describeErrorBody('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}').code).toBe("PermissionDenied");
    expect(describeErrorBody('{"details":"incorrect username or password"}')).toEqual({ words: "incorrect username or password" });
    expect(describeErrorBody("<html>")).toEqual({ words: "" });
  });
});

describe("registry hosts", () => {
  test("loopback registries are insecure-allowed; docker.io's API host", () => {
    for (const h of ["localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000", "localhost"]) expect(isLoopbackDomain(h)).toBe(true);
    for (const h of ["docker.io", "10.0.0.1:5000", "localhost.example:5000", "128.0.0.1"]) expect(isLoopbackDomain(h)).toBe(false);
    expect(apiHost("docker.io")).toBe("registry-1.docker.io");
    expect(apiHost("localhost:5000")).toBe("localhost:5000");
  });
});
