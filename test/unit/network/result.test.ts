import { describe, expect, test } from "bun:test";
import { parseErrorBody, parseResult, primaryIPv4 } from "../../../src/engine/network/cni/types.ts";

describe("CNI results", () => {
  // the shape the bridge plugin (1.1.1) prints for cniVersion 1.0.0
  const bridge100 = {
    cniVersion: "1.0.0",
    interfaces: [
      { name: "br-x", mac: "66:45:62:f7:63:ee" },
      { name: "veth1234", mac: "9a:db:57:60:87:f6" },
      { name: "eth0", mac: "aa:bb:cc:dd:ee:ff", sandbox: "/proc/42/ns/net" },
    ],
    ips: [{ interface: 2, address: "172.20.0.2/16", gateway: "172.20.0.1" }],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: {},
  };

  test("1.0.0: interfaces, ips, routes; the sandbox address is the primary one", () => {
    const r = parseResult(bridge100, "bridge");
    expect(r.ips).toEqual([{ address: "172.20.0.2/16", gateway: "172.20.0.1", interface: 2 }]);
    expect(r.routes).toEqual([{ dst: "0.0.0.0/0" }]);
    expect(primaryIPv4(r)).toEqual({ address: "172.20.0.2/16", gateway: "172.20.0.1", mac: "aa:bb:cc:dd:ee:ff", ifname: "eth0" });
  });

  test("0.4.0 (ips carry a version) parses the same", () => {
    const r = parseResult({ ...bridge100, cniVersion: "0.4.0", ips: [{ version: "4", interface: 2, address: "172.20.0.2/16", gateway: "172.20.0.1" }] }, "bridge");
    expect(primaryIPv4(r)?.address).toBe("172.20.0.2/16");
  });

  test("0.2.0 (ip4/ip6) is converted", () => {
    const r = parseResult({ cniVersion: "0.2.0", ip4: { ip: "10.1.0.3/24", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }] }, dns: { nameservers: ["10.1.0.1"] } }, "old");
    expect(r).toEqual({ cniVersion: "1.0.0", ips: [{ address: "10.1.0.3/24", gateway: "10.1.0.1" }], routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }], dns: { nameservers: ["10.1.0.1"] } });
    expect(primaryIPv4(r)?.address).toBe("10.1.0.3/24");
  });

  test("malformed results name the plugin and the field", () => {
    expect(() => parseResult([], "p")).toThrow(/^p: result: not a JSON object/);
    expect(() => parseResult({ cniVersion: "1.0.0", ips: [{ address: "10.0.0.1" }] }, "p")).toThrow(/^p: result\.ips\[0\]\.address/);
    expect(() => parseResult({ cniVersion: "1.0.0", interfaces: [{ name: "a" }], ips: [{ address: "10.0.0.1/8", interface: 3 }] }, "p")).toThrow(/interface: index 3 out of range/);
  });

  test("error bodies", () => {
    expect(parseErrorBody('{"cniVersion":"1.0.0","code":7,"msg":"invalid config","details":"bridge: missing"}')).toEqual({ cniVersion: "1.0.0", code: 7, msg: "invalid config", details: "bridge: missing" });
    expect(parseErrorBody("panic: oops")).toBeUndefined();
    expect(parseErrorBody('{"msg":"no code"}')).toBeUndefined();
  });
});
