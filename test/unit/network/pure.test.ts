import { describe, expect, test } from "bun:test";
import { hostnameFile, hostsFile, parseResolvConf, resolvConf, upstreamServers } from "../../../src/engine/network/etc-files.ts";
import { normalizePorts, portMappings } from "../../../src/engine/network/ports.ts";
import { checkStaticIp, defaultPools, firstFree, planSubnet, type Taken } from "../../../src/engine/network/subnets.ts";
import { formatCidr, parseCidr } from "../../../src/engine/network/ipnet.ts";
import { splitRule } from "../../../src/engine/network/firewall.ts";

const net = (s: string, network = true): Taken => ({ cidr: parseCidr(s, "x", false), what: s, network });

describe("subnets", () => {
  test("the first free default pool skips networks and host routes", () => {
    expect(formatCidr(firstFree(defaultPools(), []))).toBe("172.17.0.0/16");
    expect(formatCidr(firstFree(defaultPools(), [net("172.17.0.0/16"), net("172.18.5.0/24", false)]))).toBe("172.19.0.0/16");
    const all = defaultPools().map((p) => ({ cidr: p, what: "x", network: true }));
    expect(() => firstFree(defaultPools(), all)).toThrow(/could not find an available, non-overlapping IPv4 address pool/);
  });

  test("overlaps: docker's text for networks, the route for host routes", () => {
    expect(() => planSubnet({ subnet: "172.20.1.0/24" }, [net("172.20.0.0/16")])).toThrow(/^Pool overlaps with other one on this address space$/);
    expect(() => planSubnet({ subnet: "10.88.0.0/24" }, [net("10.88.0.0/16", false)])).toThrow(/overlaps with host route 10\.88\.0\.0\/16/);
  });

  test("gateway and ip-range checks", () => {
    expect(planSubnet({ subnet: "10.1.0.0/24" }, [])).toEqual({ subnet: "10.1.0.0/24", gateway: "10.1.0.1", ipRange: undefined, userSubnet: true });
    expect(planSubnet({ subnet: "10.1.0.0/24", gateway: "10.1.0.254", ipRange: "10.1.0.128/25" }, []).gateway).toBe("10.1.0.254");
    expect(() => planSubnet({ subnet: "10.1.0.1/24" }, [])).toThrow(/^subnet: .*host bits set/);
    expect(() => planSubnet({ subnet: "10.1.0.0/24", gateway: "10.2.0.1" }, [])).toThrow(/^gateway: no matching subnet/);
    expect(() => planSubnet({ subnet: "10.1.0.0/24", gateway: "10.1.0.255" }, [])).toThrow(/^gateway: .*broadcast/);
    expect(() => planSubnet({ subnet: "10.1.0.0/24", ipRange: "10.1.1.0/25" }, [])).toThrow(/^ip-range: .*not within subnet/);
    expect(() => planSubnet({ gateway: "10.1.0.1" }, [])).toThrow(/need a subnet/);
    expect(() => planSubnet({ subnet: "10.1.0.0/31" }, [])).toThrow(/too small/);
    expect(() => planSubnet({ subnet: "300.1.0.0/24" }, [])).toThrow(/^subnet: invalid IPv4/);
    expect(planSubnet({}, [net("172.17.0.0/16")]).userSubnet).toBe(false);
  });

  test("static addresses", () => {
    expect(checkStaticIp("10.1.0.7", "10.1.0.0/24", "10.1.0.1")).toBeGreaterThan(0);
    expect(() => checkStaticIp("10.1.1.7", "10.1.0.0/24", "10.1.0.1")).toThrow(/not in subnet/);
    expect(() => checkStaticIp("10.1.0.1", "10.1.0.0/24", "10.1.0.1")).toThrow(/Address already in use/);
    expect(() => checkStaticIp("10.1.0.255", "10.1.0.0/24", "10.1.0.1")).toThrow(/broadcast/);
  });
});

describe("ports", () => {
  test("normalized: default protocol and host ip, ranges, errors naming the field", () => {
    expect(normalizePorts([{ containerPort: 80 }])).toEqual([{ containerPort: 80, containerPortEnd: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 0, hostPortEnd: undefined }]);
    expect(normalizePorts([{ containerPort: 80, containerPortEnd: 81, hostPort: 8080, hostPortEnd: 8081, protocol: "udp", hostIp: "127.0.0.1" }])[0]).toMatchObject({ protocol: "udp", hostIp: "127.0.0.1" });
    expect(() => normalizePorts([{ containerPort: 0 }])).toThrow(/^ports\[0\]\.containerPort: invalid port/);
    expect(() => normalizePorts([{ containerPort: 80, protocol: "sctp" as "tcp" }])).toThrow(/^ports\[0\]\.protocol/);
    expect(() => normalizePorts([{ containerPort: 80, hostIp: "localhost" }])).toThrow(/^ports\[0\]\.hostIp/);
    expect(() => normalizePorts([{ containerPort: 80, containerPortEnd: 82, hostPort: 8080, hostPortEnd: 8081 }])).toThrow(/does not match container port range/);
    expect(() => normalizePorts([{ containerPort: 80, hostPort: 9000, hostPortEnd: 8000 }])).toThrow(/invalid host port range/);
  });

  test("portmap's capability argument", () => {
    expect(portMappings([{ hostIp: "0.0.0.0", hostPort: 8080, containerPort: 80, protocol: "tcp" }, { hostIp: "127.0.0.1", hostPort: 53, containerPort: 53, protocol: "udp" }])).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: "" },
      { hostPort: 53, containerPort: 53, protocol: "udp", hostIP: "127.0.0.1" },
    ]);
  });
});

describe("/etc files", () => {
  const host = "# generated\nsearch corp.example\nnameserver 127.0.0.53\nnameserver 10.255.255.53\noptions edns0 trust-ad\n";

  test("default bridge: host servers without loopback ones; --dns/--dns-search/--dns-option replace", () => {
    expect(resolvConf({ host })).toBe("search corp.example\nnameserver 10.255.255.53\noptions edns0 trust-ad\n");
    expect(resolvConf({ host: "nameserver 127.0.0.53\n" })).toBe("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    expect(resolvConf({ host, dns: ["1.1.1.1"], dnsSearch: ["."], dnsOptions: ["ndots:2"] })).toBe("nameserver 1.1.1.1\noptions ndots:2\n");
    expect(() => resolvConf({ host, dns: ["nope"] })).toThrow(/^dns\[0\]: invalid IPv4/);
  });

  test("user-defined network: the embedded DNS on the gateway, ndots:0; it forwards to the host's servers (loopback too) or --dns", () => {
    expect(resolvConf({ host, embeddedDns: "172.20.0.1" })).toBe("search corp.example\nnameserver 172.20.0.1\noptions edns0 trust-ad ndots:0\n");
    expect(upstreamServers(host)).toEqual(["127.0.0.53", "10.255.255.53"]);
    expect(upstreamServers(host, ["9.9.9.9"])).toEqual(["9.9.9.9"]);
    expect(parseResolvConf("domain a.b\nnameserver ::1 # v6\n")).toEqual({ nameservers: ["::1"], search: ["a.b"], options: [] });
  });

  test("hosts: localhost, extra hosts (host-gateway), links, own address", () => {
    const h = hostsFile({ hostname: "web", domainname: "corp", ip: "172.20.0.2", extraHosts: ["db:10.0.0.5", "gw:host-gateway", "v6:fe80::1"], hostGateway: "172.20.0.1", links: [{ ip: "172.17.0.3", names: ["cache", "redis"] }] });
    expect(h.split("\n").slice(6)).toEqual(["10.0.0.5\tdb", "172.20.0.1\tgw", "fe80::1\tv6", "172.17.0.3\tcache redis", "172.20.0.2\tweb.corp web", ""]);
    expect(h.startsWith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")).toBe(true);
    expect(() => hostsFile({ hostname: "x", extraHosts: ["noip"] })).toThrow(/^extraHosts\[0\]: want "name:ip"/);
    expect(() => hostsFile({ hostname: "x", extraHosts: ["a:host-gateway"] })).toThrow(/no network gateway/);
    expect(() => hostsFile({ hostname: "x", extraHosts: ["a b:1.2.3.4"] })).toThrow(/^extraHosts\[0\]/);
    expect(hostnameFile("web")).toBe("web\n");
    expect(() => hostnameFile("a/b")).toThrow(/^hostname: /);
  });
});

test("iptables -S lines split like a shell would", () => {
  expect(splitRule('-A POSTROUTING -s 10.0.0.2/32 -m comment --comment "name: \\"berth-x\\" id: \\"c1\\"" -j CNI-abc')).toEqual([
    "-A", "POSTROUTING", "-s", "10.0.0.2/32", "-m", "comment", "--comment", 'name: "berth-x" id: "c1"', "-j", "CNI-abc",
  ]);
});
