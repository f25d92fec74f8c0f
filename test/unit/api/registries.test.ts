import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RegistryHosts } from "../../../src/engine/registries.ts";
import { registryDomain } from "../../../src/engine/image-service.ts";

const dir = mkdtempSync(join(tmpdir(), "berth-certs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("registry settings", () => {
  test("insecure registries: host:port, host, CIDR; loopback is not insecure unless listed", () => {
    const r = new RegistryHosts({ insecure: ["reg.local:5000", "plain.example", "10.1.0.0/16", "fd00::/8"] });
    expect(r.isInsecure("reg.local:5000")).toBe(true);
    expect(r.isInsecure("reg.local:5001")).toBe(false);
    expect(r.isInsecure("plain.example:443")).toBe(true);
    expect(r.isInsecure("10.1.200.3:5000")).toBe(true);
    expect(r.isInsecure("10.2.0.1")).toBe(false);
    expect(r.isInsecure("[fd12::1]:5000")).toBe(true);
    expect(r.isInsecure("127.0.0.1:5000")).toBe(false);
    expect(r.isInsecure("localhost:5000")).toBe(false);
    expect(r.options("127.0.0.1:5000").insecure).toBe(false);
    expect(r.insecureCidrs).toEqual(["10.1.0.0/16", "fd00::/8"]);
  });

  test("bad --insecure-registry values are refused by name", () => {
    expect(() => new RegistryHosts({ insecure: ["http://x:5000"] })).toThrow('--insecure-registry: "http://x:5000" should not contain "://"');
    expect(() => new RegistryHosts({ insecure: ["10.0.0.0/99"] })).toThrow("is not a CIDR");
    expect(() => new RegistryHosts({ insecure: [" "] })).toThrow("empty value");
  });

  test("CA certificates from <certs dir>/<host:port>/*.crt", () => {
    mkdirSync(join(dir, "reg:5000"));
    writeFileSync(join(dir, "reg:5000", "ca.crt"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    writeFileSync(join(dir, "reg:5000", "notes.txt"), "ignored");
    const r = new RegistryHosts({ certsDir: dir });
    expect(r.caPem("reg:5000")).toContain("BEGIN CERTIFICATE");
    expect(r.caPem("reg:5001")).toBeUndefined();
    expect(new RegistryHosts().caPem("reg:5000")).toBeUndefined();
  });

  test("docker login server addresses", () => {
    expect(registryDomain("https://index.docker.io/v1/")).toBe("docker.io");
    expect(registryDomain("")).toBe("docker.io");
    expect(registryDomain("127.0.0.1:5000")).toBe("127.0.0.1:5000");
    expect(registryDomain("https://reg.example:5000/v2/")).toBe("reg.example:5000");
    expect(() => registryDomain("https://bad host/")).toThrow("serveraddress");
  });
});
