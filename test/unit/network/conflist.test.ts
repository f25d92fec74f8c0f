import { describe, expect, test } from "bun:test";
import { attachmentConfList, bridgeConfList, cniNameFor, defaultGateway } from "../../../src/engine/network/conflist.ts";
import { networkRules, portRules } from "../../../src/engine/network/firewall.ts";
import { pluginConfig } from "../../../src/engine/network/cni/runtime.ts";
import { parseConfList } from "../../../src/engine/network/cni/types.ts";
import type { Network } from "../../../src/engine/network/model.ts";
import { BerthError } from "../../../src/errors.ts";

const base: Network = {
  id: "0123456789abcdef".repeat(4),
  owner: "default",
  name: "web",
  driver: "bridge",
  cniName: cniNameFor("0123456789abcdef".repeat(4)),
  bridge: "br-0123456789ab",
  subnet: "172.20.0.0/16",
  gateway: "172.20.0.1",
  userSubnet: true,
  internal: false,
  isDefault: false,
  external: false,
  labels: {},
  options: {},
  created: "2026-01-01T00:00:00Z",
};

describe("generated conflists", () => {
  test("bridge network: bridge + host-local (+ portmap with that port driver); masquerade is berth's per-network rule", () => {
    expect(bridgeConfList(base, { ipamDir: "/d/cni/networks" }).plugins.map((p) => p.type)).toEqual(["bridge"]);
    const l = bridgeConfList(base, { ipamDir: "/d/cni/networks", portmap: true });
    expect(l.name).toBe("berth-0123456789ab");
    expect(l.cniVersion).toBe("1.0.0");
    expect(l.plugins.map((p) => p.type)).toEqual(["bridge", "portmap"]);
    const [br, pm] = l.plugins as Record<string, any>[];
    expect(br).toMatchObject({ bridge: "br-0123456789ab", isGateway: true, ipMasq: false, hairpinMode: true, capabilities: { ips: true, ipRanges: true, mac: true } });
    expect(br!.ipam).toEqual({ type: "host-local", ranges: [[{ subnet: "172.20.0.0/16", gateway: "172.20.0.1" }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: "/d/cni/networks" });
    expect(pm).toEqual({ type: "portmap", capabilities: { portMappings: true }, snat: true });
    expect(attachmentConfList(l, false).plugins.map((p) => p.type)).toEqual(["bridge"]);
    expect(attachmentConfList(l, true)).toEqual(l);
    // what berth writes, it can read back
    expect(parseConfList(JSON.stringify(l), "x")).toEqual(l);
  });

  test("internal: bridge alone, no masquerade, no default route", () => {
    const l = bridgeConfList({ ...base, internal: true }, { ipamDir: "/d", portmap: true });
    expect(l.plugins.map((p) => p.type)).toEqual(["bridge"]);
    expect(l.plugins[0]!.ipMasq).toBe(false);
    expect((l.plugins[0]!.ipam as any).routes).toEqual([]);
  });

  test("ip-range becomes rangeStart/rangeEnd inside the subnet; mtu and masquerade options", () => {
    const l = bridgeConfList({ ...base, subnet: "10.5.0.0/24", gateway: "10.5.0.1", ipRange: "10.5.0.0/25", options: { "com.docker.network.driver.mtu": "1400", "com.docker.network.bridge.enable_ip_masquerade": "false" } }, { ipamDir: "/d" });
    const br = l.plugins[0] as any;
    expect(br.ipam.ranges).toEqual([[{ subnet: "10.5.0.0/24", gateway: "10.5.0.1", rangeStart: "10.5.0.1", rangeEnd: "10.5.0.127" }]]);
    expect(br.mtu).toBe(1400);
    const top = bridgeConfList({ ...base, subnet: "10.5.0.0/24", gateway: "10.5.0.1", ipRange: "10.5.0.128/25" }, { ipamDir: "/d" });
    expect((top.plugins[0] as any).ipam.ranges[0][0]).toMatchObject({ rangeStart: "10.5.0.128", rangeEnd: "10.5.0.254" });
    expect(defaultGateway("10.5.0.0/24")).toBe("10.5.0.1");
  });
});

describe("conflist parsing", () => {
  const err = (text: string) => {
    try {
      parseConfList(text, "f.conflist");
    } catch (e) {
      expect(e).toBeInstanceOf(BerthError);
      return (e as Error).message;
    }
    throw new Error("no error");
  };

  test("a plugin type must be a plain name: no path out of CNI_PATH", () => {
    for (const t of ["../../bin/sh", "/bin/sh", "a/b", "..", ""]) {
      expect(err(JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [{ type: t }] }))).toMatch(/^f\.conflist: plugins\[0\]\.type: must be a plain executable name/);
    }
  });

  test("bad names, versions, plugin lists and capabilities are refused naming the field", () => {
    expect(err("{")).toMatch(/^f\.conflist: not JSON/);
    expect(err(JSON.stringify({ cniVersion: "1.0.0", name: "a b", plugins: [{ type: "x" }] }))).toMatch(/name: must match/);
    expect(err(JSON.stringify({ cniVersion: "one", name: "n", plugins: [{ type: "x" }] }))).toMatch(/cniVersion: /);
    expect(err(JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [] }))).toMatch(/plugins: want a non-empty list/);
    expect(err(JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [{ type: "x", capabilities: { portMappings: "yes" } }] }))).toMatch(/capabilities/);
  });

  test("a single-plugin .conf becomes a list of one; cniVersions picks the highest known", () => {
    const l = parseConfList(JSON.stringify({ cniVersion: "0.4.0", name: "mac", type: "macvlan", master: "eth0", ipam: { type: "dhcp" } }), "x.conf");
    expect(l).toEqual({ cniVersion: "0.4.0", name: "mac", disableCheck: undefined, disableGC: undefined, plugins: [{ type: "macvlan", master: "eth0", ipam: { type: "dhcp" } }] });
    expect(parseConfList(JSON.stringify({ cniVersions: ["0.4.0", "1.0.0", "9.0.0"], name: "n", plugins: [{ type: "x" }] }), "x").cniVersion).toBe("1.0.0");
  });

  test("per-plugin config: name, version, prevResult, and only the capabilities the plugin declares", () => {
    const l = parseConfList(JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [{ type: "bridge", capabilities: { ips: true, mac: false } }, { type: "portmap", capabilities: { portMappings: true } }] }), "x");
    const caps = { ips: ["10.0.0.5/24"], mac: "02:00:00:00:00:01", portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] };
    const c0 = pluginConfig(l, l.plugins[0]!, undefined, caps);
    expect(c0).toEqual({ type: "bridge", capabilities: { ips: true, mac: false }, name: "n", cniVersion: "1.0.0", runtimeConfig: { ips: ["10.0.0.5/24"] } });
    const prev = { cniVersion: "1.0.0", ips: [{ address: "10.0.0.5/24" }] };
    const c1 = pluginConfig(l, l.plugins[1]!, prev, caps);
    expect(c1.prevResult).toEqual(prev);
    expect(c1.runtimeConfig).toEqual({ portMappings: caps.portMappings });
    expect(pluginConfig(l, l.plugins[1]!, prev, {}).runtimeConfig).toBeUndefined();
  });
});

describe("per-network firewall rules", () => {
  test("bridge network: isolation first, accepts, masquerade of its subnet", () => {
    const r = networkRules(base);
    const c = '-m comment --comment "berth:berth-0123456789ab"';
    expect(r.filter).toEqual([
      `-A BERTH-ISOLATION-1 -i br-0123456789ab ! -o br-0123456789ab ${c} -j BERTH-ISOLATION-2`,
      `-A BERTH-FORWARD -o br-0123456789ab -m conntrack --ctstate RELATED,ESTABLISHED ${c} -j ACCEPT`,
      `-A BERTH-FORWARD -o br-0123456789ab -m conntrack --ctstate DNAT ${c} -j ACCEPT`,
      `-A BERTH-FORWARD -i br-0123456789ab ${c} -j ACCEPT`,
      `-A BERTH-INPUT -i br-0123456789ab -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED ${c} -j DROP`,
      `-A BERTH-ISOLATION-2 -o br-0123456789ab ${c} -j DROP`,
    ]);
    expect(r.nat).toEqual([
      `-A BERTH-POSTROUTING -s 172.20.0.0/16 ! -o br-0123456789ab ${c} -j MASQUERADE`,
      `-A BERTH-POSTROUTING -o br-0123456789ab -m addrtype --src-type LOCAL ${c} -j MASQUERADE`,
      `-A BERTH-POSTROUTING -s 172.20.0.0/16 -o br-0123456789ab -m conntrack --ctstate DNAT ${c} -j MASQUERADE`,
    ]);
    expect(networkRules({ ...base, options: { "com.docker.network.bridge.enable_ip_masquerade": "false" } }).nat.some((l) => l.includes("! -o"))).toBe(false);
  });

  test("published ports: one DNAT per binding, host address when given, tagged with the container", () => {
    expect(portRules("berth-x", "c1", "172.20.0.2", [
      { hostIp: "0.0.0.0", hostPort: 8080, containerPort: 80, protocol: "tcp" },
      { hostIp: "127.0.0.1", hostPort: 5353, containerPort: 53, protocol: "udp" },
    ])).toEqual([
      '-A BERTH-DNAT -p tcp -m tcp --dport 8080 -m comment --comment "berth:berth-x:c1" -j DNAT --to-destination 172.20.0.2:80',
      '-A BERTH-DNAT -d 127.0.0.1/32 -p udp -m udp --dport 5353 -m comment --comment "berth:berth-x:c1" -j DNAT --to-destination 172.20.0.2:53',
    ]);
  });

  test("internal network: nothing forwarded in or out, only DNS to the gateway reaches the host, no masquerade", () => {
    const r = networkRules({ ...base, internal: true });
    expect(r.filter.filter((l) => l.includes("ISOLATION-1"))).toHaveLength(2);
    expect(r.filter.every((l) => !l.includes("ACCEPT") || l.includes("--dport 53"))).toBe(true);
    expect(r.filter.at(-2)).toMatch(/^-A BERTH-INPUT -i br-0123456789ab .* -j DROP$/);
    expect(r.nat).toEqual([]);
  });
});
