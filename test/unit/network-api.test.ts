/**
 * The pure parts of the network API and container wiring: NetworkMode parsing,
 * PortBindings / PublishAllPorts into port requests (bad input refused with
 * the field), stopped-container settings, the network resource shape.
 */
import { describe, expect, test } from "bun:test";
import { networkResource } from "../../src/api/docker/networks.ts";
import { builtinNetworkId, endpointId, networkMode, portRequests, stoppedSettings } from "../../src/engine/containers/networking.ts";
import type { ContainerRecord } from "../../src/engine/containers/model.ts";
import type { Network } from "../../src/engine/network/model.ts";
import { BerthError } from "../../src/errors.ts";

const rec = (HostConfig: ContainerRecord["HostConfig"], Config: ContainerRecord["Config"] = {}) => ({ HostConfig, Config });

function invalid(f: () => unknown, re: RegExp) {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BerthError);
  expect((err as BerthError).code).toBe("InvalidArgument");
  expect((err as Error).message).toMatch(re);
}

describe("networkMode", () => {
  test("default, bridge, none, host, container:, names", () => {
    for (const m of [undefined, "", "default", "bridge"]) expect(networkMode(rec({ NetworkMode: m }))).toEqual({ kind: "network", network: "bridge", isDefault: true });
    expect(networkMode(rec({ NetworkMode: "none" }))).toEqual({ kind: "none" });
    expect(networkMode(rec({ NetworkMode: "host" }))).toEqual({ kind: "host" });
    expect(networkMode(rec({ NetworkMode: "container:web" }))).toEqual({ kind: "container", ref: "web" });
    expect(networkMode(rec({ NetworkMode: "mynet" }))).toEqual({ kind: "network", network: "mynet", isDefault: false });
    invalid(() => networkMode(rec({ NetworkMode: "container:" })), /NetworkMode/);
  });
});

describe("portRequests", () => {
  test("bindings: host ip, fixed, random, host range; udp; ranges of container ports", () => {
    const r = portRequests(
      rec({
        PortBindings: {
          "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }, { HostPort: "" }],
          "53/udp": [{ HostPort: "5353" }],
          "9000": [{ HostPort: "9000-9010" }],
          "7000-7001/tcp": [{ HostPort: "17000-17001" }],
        },
      }),
    );
    // "9000" is an integer-like key: JS objects list it first
    expect(r).toEqual([
      { containerPort: 9000, containerPortEnd: 9000, protocol: "tcp", hostIp: undefined, hostPort: 9000, hostPortEnd: 9010 },
      { containerPort: 80, containerPortEnd: 80, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 8080, hostPortEnd: undefined },
      { containerPort: 80, containerPortEnd: 80, protocol: "tcp", hostIp: undefined, hostPort: 0, hostPortEnd: undefined },
      { containerPort: 53, containerPortEnd: 53, protocol: "udp", hostIp: undefined, hostPort: 5353, hostPortEnd: undefined },
      { containerPort: 7000, containerPortEnd: 7001, protocol: "tcp", hostIp: undefined, hostPort: 17000, hostPortEnd: 17001 },
    ]);
  });

  test("PublishAllPorts publishes every exposed port not bound, on a random port", () => {
    const r = portRequests(rec({ PublishAllPorts: true, PortBindings: { "80/tcp": [{ HostPort: "8080" }], "81/tcp": [] } }, { ExposedPorts: { "80/tcp": {}, "443/tcp": {}, "53/udp": {} } }));
    expect(r.map((p) => `${p.containerPort}/${p.protocol}:${p.hostPort ?? 0}`)).toEqual(["80/tcp:8080", "81/tcp:0", "443/tcp:0", "53/udp:0"]);
    expect(portRequests(rec({}, { ExposedPorts: { "80/tcp": {} } }))).toEqual([]);
  });

  test("bad bindings are refused naming the field", () => {
    invalid(() => portRequests(rec({ PortBindings: { "80/tcp": [{ HostPort: "http" }] } })), /PortBindings\[80\/tcp\]\[0\]\.HostPort/);
    invalid(() => portRequests(rec({ PortBindings: { "80/sctp": [{ HostPort: "1" }] } })), /sctp/);
    invalid(() => portRequests(rec({ PortBindings: { "x/tcp": [] } })), /PortBindings: invalid port/);
    invalid(() => portRequests(rec({ PortBindings: { "70000/tcp": [] } })), /invalid port/);
    invalid(() => portRequests(rec({ PortBindings: { "80/tcp": [{ HostPort: "-5" }] } })), /HostPort/);
    invalid(() => portRequests(rec({ PortBindings: { "80/tcp": [{ HostIp: "::1", HostPort: "1" }] } })), /IPv6/);
  });
});

describe("shapes", () => {
  test("ids are stable and distinct", () => {
    expect(builtinNetworkId("default", "host")).toMatch(/^[0-9a-f]{64}$/);
    expect(builtinNetworkId("default", "host")).toBe(builtinNetworkId("default", "host"));
    expect(builtinNetworkId("default", "host")).not.toBe(builtinNetworkId("other", "host"));
    expect(endpointId("a", "b")).not.toBe(endpointId("a", "c"));
  });

  test("a stopped container keeps its networks without addresses or ports", () => {
    const s = stoppedSettings({
      Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "1" }] },
      Networks: { bridge: { NetworkID: "n", EndpointID: "e", IPAddress: "172.17.0.2", IPPrefixLen: 16, Gateway: "172.17.0.1", MacAddress: "m", Aliases: null } },
      SandboxKey: "/run/x",
      IPAddress: "172.17.0.2",
      IPPrefixLen: 16,
      Gateway: "172.17.0.1",
      MacAddress: "m",
    });
    expect(s.Ports).toEqual({});
    expect(s.SandboxKey).toBe("");
    expect(s.IPAddress).toBe("");
    expect(s.Networks.bridge).toMatchObject({ NetworkID: "n", EndpointID: "", IPAddress: "", Gateway: "" });
  });

  test("network resource: docker's fields, the internal attachable option hidden", () => {
    const n: Network = { id: "ab".repeat(32), owner: "default", name: "n1", driver: "bridge", cniName: "berth-abababababab", bridge: "br-x", subnet: "10.9.0.0/24", gateway: "10.9.0.1", userSubnet: true, internal: false, isDefault: false, external: false, labels: { a: "b" }, options: { "berth.attachable": "true", "com.docker.network.driver.mtu": "1400" }, created: "2024-01-01T00:00:00.000Z" };
    const r = networkResource(n, [{ networkId: n.id, containerId: "c1", owner: "default", name: "web", aliases: [], ifName: "eth0", netns: "/x", address: "10.9.0.2/24", ip: "10.9.0.2", mac: "aa:bb", ports: [], dns: [], created: "" }]);
    expect(r).toMatchObject({ Name: "n1", Id: n.id, Scope: "local", Driver: "bridge", EnableIPv6: false, Internal: false, Attachable: true, Labels: { a: "b" }, Options: { "com.docker.network.driver.mtu": "1400" } });
    expect(r.IPAM).toEqual({ Driver: "default", Options: {}, Config: [{ Subnet: "10.9.0.0/24", Gateway: "10.9.0.1" }] });
    expect(r.Containers.c1).toMatchObject({ Name: "web", IPv4Address: "10.9.0.2/24", MacAddress: "aa:bb", IPv6Address: "" });
  });
});
