/**
 * The real docker CLI against berthd: container networking end to end.
 * Published ports fetched from the host on loopback (raw TCP), `docker port`
 * and inspect's NetworkSettings.Ports, user-defined networks with DNS by name
 * and alias (berthd's DNS on the gateway), isolation between networks, the
 * internal network, live connect/disconnect, static addresses, the /etc files
 * (--dns, --dns-search, --add-host), the none / host / container:<name>
 * modes, the default bridge, teardown leak checks (also after a berthd
 * kill -9 with running containers), and bad input.
 *
 * All traffic stays on this machine: loopback, and the addresses of the
 * containers and networks the test makes. Nothing is timed.
 *
 * busybox-static's `wget` (and `nc HOSTNAME`) crash on name lookups here
 * (static glibc), so names are checked with `nslookup NAME GATEWAY` and the
 * traffic goes to addresses with `nc IP PORT`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { haveDocker, startBerthd, type Berthd } from "../helpers/berthd.ts";
import { IMG, ROOTFS, busyboxDaemon, until } from "../helpers/docker-busybox.ts";
import { leftovers, NO_LEAKS, purgeNetworks, haveCni } from "../integration/helpers/net.ts";

/** an httpd serving TEXT at / on port 80, from a file the command makes */
const HTTPD = (text: string) => ["sh", "-c", `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];
/** an HTTP GET with busybox nc from inside a container: prints the response, then rc=N */
const NC_GET = (ip: string, port = 80) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 nc -w 2 ${ip} ${port}; echo "rc=$?"`;


/** A raw HTTP/1.0 GET over TCP from the host: the whole response, or "" on any error. */
function tcpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    let buf = "";
    const s = connect({ host, port }, () => s.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    s.setTimeout(5000, () => s.destroy());
    s.on("data", (d) => (buf += d.toString()));
    s.on("error", () => resolve(""));
    s.on("close", () => resolve(buf));
  });
}

/** A TCP port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A /24 in 10.x that no host route covers now. */
function freeSubnet(): string {
  const routes = execFileSync("ip", ["-4", "route", "show"]).toString();
  for (;;) {
    const b = 100 + Math.floor(Math.random() * 150);
    const c = Math.floor(Math.random() * 250);
    if (!routes.includes(`10.${b}.`)) return `10.${b}.${c}.0/24`;
  }
}

function linkNames(): string[] {
  return readdirSync("/sys/class/net");
}

describe.skipIf(!haveDocker || !existsSync(ROOTFS) || !haveCni || process.getuid?.() !== 0)("docker CLI: networking", () => {
  let d: Berthd;
  const extra: Berthd[] = [];

  const dk = (args: string[]) => d.docker(args);
  const ok = async (args: string[]) => {
    const r = await dk(args);
    if (r.code !== 0) throw new Error(`docker ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const sh = (name: string, script: string) => dk(["exec", name, "sh", "-c", script]);
  const inspect = async (name: string) => JSON.parse(await ok(["inspect", name]))[0];
  const netInspect = async (name: string) => JSON.parse(await ok(["network", "inspect", name]))[0];
  /** the host-side names of a network (CNI network, bridge) for the leak checks */
  const hostNames = (n: { Id: string; Options?: Record<string, string> }) => ({
    cniName: `berth-${n.Id.slice(0, 12)}`,
    bridge: n.Options?.["com.docker.network.bridge.name"] || `br-${n.Id.slice(0, 12)}`,
  });
  const netnsDir = () => join(d.execRoot, "netns");
  /** wait until the container's httpd answers from inside another container */
  const serving = (from: string, ip: string, text: string) => until(`${text} at ${ip}`, async () => (await sh(from, NC_GET(ip))).stdout.includes(text));

  beforeAll(async () => {
    d = await busyboxDaemon();
  });

  afterAll(async () => {
    if (!d) return;
    for (const b of new Set([d, ...extra])) {
      if (b.proc.exitCode !== null) continue;
      const ids = (await b.docker(["ps", "-aq"])).stdout.split("\n").filter(Boolean);
      if (ids.length) await b.docker(["rm", "-f", ...ids]);
      await b.docker(["network", "prune", "-f"]);
      await b.stop();
    }
    await purgeNetworks(d.dataRoot, netnsDir()).catch((e) => console.error("purge networks:", e));
    rmSync(d.dir, { recursive: true, force: true });
  });

  // ------------------------------------------------------------ published ports

  test("-p 127.0.0.1:PORT:80 serves the container's httpd to the host; docker port, ps and inspect show it", async () => {
    const port = await freePort();
    await ok(["run", "-d", "--name", "web", "-p", `127.0.0.1:${port}:80`, IMG, ...HTTPD("hello-published")]);
    const res = await until("the published port", async () => {
      const r = await tcpGet("127.0.0.1", port);
      return r.includes("hello-published") && r;
    });
    expect(res).toStartWith("HTTP/1.");
    expect((await ok(["port", "web"])).trim()).toBe(`80/tcp -> 127.0.0.1:${port}`);
    expect((await ok(["port", "web", "80"])).trim()).toBe(`127.0.0.1:${port}`);
    expect((await ok(["ps", "--filter", "name=web", "--format", "{{.Ports}}"])).trim()).toBe(`127.0.0.1:${port}->80/tcp`);
    const info = await inspect("web");
    expect(info.NetworkSettings.Ports).toEqual({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] });
    expect(info.HostConfig.PortBindings).toEqual({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] });
    await ok(["rm", "-f", "web"]);
    expect(await tcpGet("127.0.0.1", port)).toBe("");
  });

  test("-p 127.0.0.1::80 picks a host port, reported by docker port and inspect", async () => {
    await ok(["run", "-d", "--name", "webr", "-p", "127.0.0.1::80", IMG, ...HTTPD("hello-random")]);
    const info = await inspect("webr");
    const b = info.NetworkSettings.Ports["80/tcp"];
    expect(b).toHaveLength(1);
    expect(b[0].HostIp).toBe("127.0.0.1");
    const port = Number(b[0].HostPort);
    expect(port).toBeGreaterThan(0);
    expect((await ok(["port", "webr", "80/tcp"])).trim()).toBe(`127.0.0.1:${port}`);
    await until("the random port", async () => (await tcpGet("127.0.0.1", port)).includes("hello-random"));
    await ok(["rm", "-f", "webr"]);
  });

  test("-P publishes the --expose'd ports on random host ports", async () => {
    await ok(["run", "-d", "--name", "webp", "-P", "--expose", "80", IMG, ...HTTPD("hello-all")]);
    const info = await inspect("webp");
    expect(Object.keys(info.Config.ExposedPorts)).toEqual(["80/tcp"]);
    const b = info.NetworkSettings.Ports["80/tcp"];
    expect(b?.length).toBeGreaterThanOrEqual(1);
    const port = Number(b[0].HostPort);
    expect(port).toBeGreaterThan(0);
    expect(await ok(["port", "webp"])).toContain(`80/tcp -> 0.0.0.0:${port}`);
    await until("the -P port on loopback", async () => (await tcpGet("127.0.0.1", port)).includes("hello-all"));
    await ok(["rm", "-f", "webp"]);
  });

  // ------------------------------------------------------------ the default bridge

  test("default bridge: an address, /etc/hosts with the hostname, no DNS names", async () => {
    await ok(["run", "-d", "--name", "b1", IMG, "sleep", "600"]);
    await ok(["run", "-d", "--name", "b2", "--hostname", "bee-two", IMG, "sleep", "600"]);
    const i1 = await inspect("b1");
    const i2 = await inspect("b2");
    expect(i1.HostConfig.NetworkMode).toMatch(/^(bridge|default)$/);
    expect(Object.keys(i1.NetworkSettings.Networks)).toEqual(["bridge"]);
    const ip1 = i1.NetworkSettings.Networks.bridge.IPAddress;
    const ip2 = i2.NetworkSettings.Networks.bridge.IPAddress;
    expect(ip1).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(i1.NetworkSettings.IPAddress).toBe(ip1);
    expect(i1.NetworkSettings.Gateway).toBe(i1.NetworkSettings.Networks.bridge.Gateway);
    const hosts = (await sh("b2", "cat /etc/hosts")).stdout;
    expect(hosts).toMatch(new RegExp(`^${ip2.replace(/\./g, "\\.")}\\s+bee-two$`, "m"));
    expect((await sh("b2", "hostname")).stdout.trim()).toBe("bee-two");
    expect((await sh("b2", "ip -4 addr show eth0")).stdout).toContain(`inet ${ip2}/`);
    // traffic between containers on the default bridge works by address
    expect((await sh("b1", `ping -c 1 -W 2 ${ip2}`)).code).toBe(0);
    // no names on the default bridge: no berthd DNS on its gateway, and resolv.conf does not point there
    const gw = i1.NetworkSettings.Networks.bridge.Gateway;
    expect((await sh("b1", "cat /etc/resolv.conf")).stdout).not.toContain(`nameserver ${gw}`);
    const ns = await sh("b1", `timeout 5 nslookup b2 ${gw}`);
    expect(ns.code).not.toBe(0);
    expect(ns.stdout).not.toContain(ip2);
    const [net] = JSON.parse(await ok(["network", "inspect", "bridge"]));
    expect(Object.keys(net.Containers)).toEqual(expect.arrayContaining([i1.Id, i2.Id]));
    await ok(["rm", "-f", "b1", "b2"]);
  });

  test("security: a container routing 127.0.0.1 to its gateway does not reach the host's loopback (CVE-2020-8558)", async () => {
    // route_localnet is on for berth's bridges (published ports on 127.0.0.1); berth's rule drops new packets for 127/8 from a bridge
    const seen: string[] = [];
    const server: Server = createServer((c) => {
      seen.push(String(c.remoteAddress));
      c.end("host-loopback-secret\n");
    });
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    const port = (server.address() as { port: number }).port;
    const net = await netInspect("bridge");
    const br = net.Options["com.docker.network.bridge.name"];
    const gw = net.IPAM.Config[0].Gateway;
    const dropped = () => {
      const line = execFileSync("iptables", ["-w", "5", "-L", "BERTH-INPUT", "-v", "-n", "-x"]).toString().split("\n").find((l) => l.includes(br) && l.includes("127.0.0.0/8") && l.includes("DROP"));
      return line ? Number(line.trim().split(/\s+/)[0]) : -1;
    };
    const before = dropped();
    expect(before).toBeGreaterThanOrEqual(0);
    try {
      const attack = [
        "ip route del local 127.0.0.1 table local",
        "ip route del local 127.0.0.0/8 table local",
        `ip route add 127.0.0.1/32 via ${gw} dev eth0`,
        "ip route get 127.0.0.1",
        `timeout 5 nc -w 2 127.0.0.1 ${port} </dev/null; echo rc=$?`,
      ].join("; ");
      const r = await dk(["run", "--rm", "--cap-add", "NET_ADMIN", "--sysctl", "net.ipv4.conf.eth0.route_localnet=1", IMG, "sh", "-c", attack]);
      expect(r.stdout).toContain(`via ${gw} dev eth0`); // the packets did go to the host
      expect(r.stdout).not.toContain("host-loopback-secret");
      expect(seen).toEqual([]);
      expect(dropped()).toBeGreaterThan(before); // and berth's rule is what stopped them
    } finally {
      server.close();
    }
  });

  // ------------------------------------------------------------ user-defined networks

  test("user network: by name and alias through berthd's DNS, traffic by address, and isolation from another network", async () => {
    await ok(["network", "create", "appnet"]);
    await ok(["network", "create", "othernet"]);
    await ok(["run", "-d", "--name", "srv", "--network", "appnet", "--network-alias", "webalias", IMG, ...HTTPD("hello-appnet")]);
    await ok(["run", "-d", "--name", "cli", "--network", "appnet", IMG, "sleep", "600"]);
    await ok(["run", "-d", "--name", "stranger", "--network", "othernet", IMG, "sleep", "600"]);
    const srv = await inspect("srv");
    const ep = srv.NetworkSettings.Networks.appnet;
    expect(ep).toBeDefined();
    expect(ep.Aliases).toContain("webalias");
    expect(ep.DNSNames).toEqual(expect.arrayContaining(["srv", "webalias", srv.Id.slice(0, 12)]));
    const ip = ep.IPAddress;
    const gw = ep.Gateway;
    // the container's resolver is berthd's DNS on the gateway
    expect((await sh("cli", "cat /etc/resolv.conf")).stdout).toContain(`nameserver ${gw}`);
    for (const name of ["srv", "webalias", srv.Id.slice(0, 12)]) {
      const r = await sh("cli", `nslookup ${name} ${gw}`);
      expect(r.stdout).toContain(`Address: ${ip}`);
    }
    await serving("cli", ip, "hello-appnet");
    // another network: no name, no traffic
    const other = (await inspect("stranger")).NetworkSettings.Networks.othernet;
    const ns = await sh("stranger", `timeout 5 nslookup srv ${other.Gateway}`);
    expect(ns.stdout).not.toContain(ip);
    // nor from appnet's DNS (the gateway is a host address every container can send to): it answers members only
    const asked = await sh("stranger", `timeout 5 nslookup srv ${gw}`);
    expect(asked.stdout).not.toContain(ip);
    const blocked = await sh("stranger", NC_GET(ip));
    expect(blocked.stdout).not.toContain("hello-appnet");
    expect(blocked.stdout).toMatch(/rc=[1-9]/);
    // a network lists its containers
    const net = await netInspect("appnet");
    expect(Object.keys(net.Containers).sort()).toEqual([srv.Id, (await inspect("cli")).Id].sort());
  });

  test("docker network connect/disconnect on a running container: the interface comes and goes live", async () => {
    const before = (await sh("stranger", "ls /sys/class/net")).stdout.split(/\s+/).filter(Boolean).sort();
    expect(before).toEqual(["eth0", "lo"]);
    await ok(["network", "connect", "--alias", "late", "appnet", "stranger"]);
    expect((await sh("stranger", "ls /sys/class/net")).stdout.split(/\s+/).filter(Boolean).sort()).toEqual(["eth0", "eth1", "lo"]);
    const info = await inspect("stranger");
    expect(Object.keys(info.NetworkSettings.Networks).sort()).toEqual(["appnet", "othernet"]);
    const ip = info.NetworkSettings.Networks.appnet.IPAddress;
    expect((await sh("stranger", "ip -4 addr show eth1")).stdout).toContain(`inet ${ip}/`);
    // now it reaches srv, and is found by its new alias
    const srvIp = (await inspect("srv")).NetworkSettings.Networks.appnet.IPAddress;
    await serving("stranger", srvIp, "hello-appnet");
    const gw = info.NetworkSettings.Networks.appnet.Gateway;
    expect((await sh("cli", `nslookup late ${gw}`)).stdout).toContain(`Address: ${ip}`);
    await ok(["network", "disconnect", "appnet", "stranger"]);
    expect((await sh("stranger", "ls /sys/class/net")).stdout.split(/\s+/).filter(Boolean).sort()).toEqual(["eth0", "lo"]);
    expect(Object.keys((await inspect("stranger")).NetworkSettings.Networks)).toEqual(["othernet"]);
    expect((await sh("cli", `timeout 5 nslookup late ${gw}`)).stdout).not.toContain(ip);
    expect((await sh("stranger", NC_GET(srvIp))).stdout).not.toContain("hello-appnet");
    // disconnecting again is docker's error
    const again = await dk(["network", "disconnect", "appnet", "stranger"]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("is not connected to network appnet");
  });

  test("--internal network: no route out, no way to other networks", async () => {
    await ok(["network", "create", "--internal", "innet"]);
    await ok(["run", "-d", "--name", "inside", "--network", "innet", IMG, "sleep", "600"]);
    const srvIp = (await inspect("srv")).NetworkSettings.Networks.appnet.IPAddress;
    expect((await sh("inside", "ip route")).stdout).not.toContain("default");
    const r = await sh("inside", NC_GET(srvIp));
    expect(r.stdout).not.toContain("hello-appnet");
    expect(r.stdout).toMatch(/rc=[1-9]/);
    // the host itself: a listener of the test's on the host's address of another network (the appnet gateway)
    const gw = (await inspect("srv")).NetworkSettings.Networks.appnet.Gateway;
    const server: Server = createServer((c) => c.end("host-says-hi\n"));
    await new Promise<void>((res) => server.listen(0, gw, res));
    const port = (server.address() as { port: number }).port;
    try {
      // positive control: a container of appnet reaches it
      expect((await sh("cli", `timeout 5 nc -w 2 ${gw} ${port} </dev/null`)).stdout).toContain("host-says-hi");
      const out = await sh("inside", `timeout 5 nc -w 2 ${gw} ${port} </dev/null; echo rc=$?`);
      expect(out.stdout).not.toContain("host-says-hi");
    } finally {
      server.close();
    }
    await ok(["rm", "-f", "inside"]);
    await ok(["network", "rm", "innet"]);
  });

  test("--ip on a network with --subnet; --dns, --dns-search, --add-host in the /etc files", async () => {
    const subnet = freeSubnet();
    const base = subnet.split(".").slice(0, 3).join(".");
    await ok(["network", "create", "--subnet", subnet, "staticnet"]);
    await ok(["run", "-d", "--name", "fixed", "--network", "staticnet", "--ip", `${base}.50`, "--dns", "10.9.9.9", "--dns-search", "example.test", "--add-host", "foo.test:10.1.2.3", IMG, "sleep", "600"]);
    const info = await inspect("fixed");
    expect(info.NetworkSettings.Networks.staticnet.IPAddress).toBe(`${base}.50`);
    expect(info.NetworkSettings.Networks.staticnet.IPAMConfig?.IPv4Address).toBe(`${base}.50`);
    expect((await sh("fixed", "ip -4 addr show eth0")).stdout).toContain(`inet ${base}.50/24`);
    const resolv = (await sh("fixed", "cat /etc/resolv.conf")).stdout;
    expect(resolv).toContain("search example.test");
    // docker: on a user network the container asks the embedded DNS, which forwards to --dns
    expect(resolv).toMatch(/nameserver (10\.9\.9\.9|\S+)/);
    const hosts = (await sh("fixed", "cat /etc/hosts")).stdout;
    expect(hosts).toMatch(/^10\.1\.2\.3\s+foo\.test$/m);
    expect(hosts).toMatch(new RegExp(`^${base}\\.50\\s`, "m"));
    // the same address twice is docker's error, nothing left running
    const dup = await dk(["run", "-d", "--name", "fixed2", "--network", "staticnet", "--ip", `${base}.50`, IMG, "sleep", "600"]);
    expect(dup.code).toBe(125);
    expect((await ok(["ps", "-q", "--filter", "name=fixed2"])).trim()).toBe("");
    await dk(["rm", "-f", "fixed2"]);
    // an address outside the subnet: refused at create (docker checks endpoint settings against a known network), no container
    const out = await dk(["run", "-d", "--name", "fixed3", "--network", "staticnet", "--ip", "192.0.2.7", IMG, "sleep", "600"]);
    expect(out.code).toBe(125);
    expect(out.stderr).toContain("invalid config for network staticnet");
    expect((await ok(["ps", "-aq", "--filter", "name=fixed3"])).trim()).toBe("");
    // the default bridge: the files also carry --dns itself
    const r = await dk(["run", "--rm", "--dns", "10.9.9.9", "--dns-search", "example.test", "--add-host", "bar.test:10.4.5.6", IMG, "sh", "-c", "cat /etc/resolv.conf /etc/hosts"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("nameserver 10.9.9.9");
    expect(r.stdout).toContain("search example.test");
    expect(r.stdout).toMatch(/^10\.4\.5\.6\s+bar\.test$/m);
    await ok(["rm", "-f", "fixed"]);
    await ok(["network", "rm", "staticnet"]);
  });

  // ------------------------------------------------------------ none, host, container:

  test("--network none: only lo", async () => {
    const r = await dk(["run", "--rm", "--network", "none", IMG, "ls", "/sys/class/net"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split(/\s+/).filter(Boolean)).toEqual(["lo"]);
  });

  test("--network host: the host's interfaces; published ports are discarded with docker's warning", async () => {
    const r = await dk(["run", "--rm", "--network", "host", "-p", "127.0.0.1::80", IMG, "ls", "/sys/class/net"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Published ports are discarded when using host network mode");
    const inside = r.stdout.split(/\s+/).filter(Boolean);
    expect(inside).toContain("lo");
    expect(inside).toContain(linkNames().find((n) => n !== "lo")!);
  });

  test("--network container:<name> shares that container's netns", async () => {
    await ok(["run", "-d", "--name", "buddy", "--network", "container:srv", IMG, "sleep", "600"]);
    const a = (await sh("srv", "readlink /proc/self/ns/net")).stdout.trim();
    const b = (await sh("buddy", "readlink /proc/self/ns/net")).stdout.trim();
    expect(a).toMatch(/^net:\[\d+\]$/);
    expect(b).toBe(a);
    // httpd of srv on buddy's own loopback
    expect((await sh("buddy", NC_GET("127.0.0.1"))).stdout).toContain("hello-appnet");
    expect((await inspect("buddy")).HostConfig.NetworkMode).toBe("container:srv");
    await ok(["rm", "-f", "buddy"]);
  });

  // ------------------------------------------------------------ bad input

  test("bad input: unknown network, port already bound, overlapping subnet", async () => {
    // as docker: the network may not exist at create (it is looked up at start), so run leaves a Created container
    const unknown = await dk(["run", "-d", "--name", "lost", "--network", "nosuchnet", IMG, "sleep", "600"]);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toContain("network nosuchnet not found");
    expect(unknown.stderr).not.toContain("Unable to find image"); // not a 404 at create (the CLI would pull)
    expect((await ok(["ps", "-q", "--filter", "name=lost"])).trim()).toBe("");
    expect((await inspect("lost")).State.Status).toBe("created");
    await ok(["rm", "-f", "lost"]);
    // ports with another container's network: docker's conflict, at create
    const conflict = await dk(["run", "-d", "--name", "lost2", "--network", "container:holder-none", "-p", "80", IMG, "true"]);
    expect(conflict.code).toBe(125);
    expect(conflict.stderr).toContain("conflicting options: port publishing and the container type network mode");
    expect((await ok(["ps", "-aq", "--filter", "name=lost2"])).trim()).toBe("");

    const port = await freePort();
    await ok(["run", "-d", "--name", "holder", "-p", `127.0.0.1:${port}:80`, IMG, ...HTTPD("holder")]);
    const clash = await dk(["run", "-d", "--name", "clash", "-p", `127.0.0.1:${port}:80`, IMG, ...HTTPD("clash")]);
    expect(clash.code).toBe(125);
    expect(clash.stderr).toMatch(/port is already allocated|address already in use/);
    expect((await ok(["ps", "-q", "--filter", "name=clash"])).trim()).toBe("");
    const [c] = JSON.parse(await ok(["inspect", "clash"]));
    expect(c.State.Running).toBe(false);
    expect(c.NetworkSettings.Ports ?? {}).not.toHaveProperty("80/tcp", expect.arrayContaining([expect.anything()]));
    await until("the holder on its port", async () => (await tcpGet("127.0.0.1", port)).includes("holder"));
    await ok(["rm", "-f", "clash", "holder"]);

    const subnet = (await netInspect("appnet")).IPAM.Config[0].Subnet;
    const overlap = await dk(["network", "create", "--subnet", subnet, "overlapnet"]);
    expect(overlap.code).not.toBe(0);
    expect(overlap.stderr).toMatch(/overlaps/i);
    expect((await dk(["network", "inspect", "overlapnet"])).code).not.toBe(0);
  });

  // ------------------------------------------------------------ teardown

  test("teardown: after rm -f and network rm nothing of the networks is left on the host", async () => {
    const nets = [await netInspect("appnet"), await netInspect("othernet")];
    const ids = await Promise.all(["srv", "cli", "stranger"].map(async (n) => (await inspect(n)).Id as string));
    await ok(["rm", "-f", "srv", "cli", "stranger"]);
    // while the network stays, its containers left nothing
    expect(await leftovers({ root: d.dataRoot, netnsDir: netnsDir(), networks: nets.map(hostNames), containers: ids, networkStays: true })).toEqual(NO_LEAKS);
    await ok(["network", "rm", "appnet", "othernet"]);
    expect(await leftovers({ root: d.dataRoot, netnsDir: netnsDir(), networks: nets.map(hostNames), containers: ids })).toEqual(NO_LEAKS);
    for (const n of nets.map(hostNames)) expect(linkNames()).not.toContain(n.bridge);
  });

  test("a container that exits, and one restarted by its policy, leave no attachment between runs", async () => {
    await ok(["network", "create", "cyclenet"]);
    const net = hostNames(await netInspect("cyclenet"));
    const r = await dk(["run", "--name", "once", "--network", "cyclenet", IMG, "true"]);
    expect(r.code).toBe(0);
    const once = await inspect("once");
    expect(once.NetworkSettings.Networks.cyclenet.IPAddress).toBe("");
    expect(await leftovers({ root: d.dataRoot, netnsDir: netnsDir(), networks: [net], containers: [once.Id], networkStays: true })).toEqual(NO_LEAKS);
    // restart policy: each run gets its network again, the old one is gone
    await ok(["run", "-d", "--name", "flappy", "--network", "cyclenet", "--restart", "on-failure:2", IMG, "sh", "-c", "ip -4 -o addr show eth0; exit 1"]);
    await until("two restarts", async () => {
      const i = await inspect("flappy");
      return i.RestartCount >= 2 && !i.State.Running && !i.State.Restarting && i;
    });
    const flappy = await inspect("flappy");
    expect(await leftovers({ root: d.dataRoot, netnsDir: netnsDir(), networks: [net], containers: [flappy.Id], networkStays: true })).toEqual(NO_LEAKS);
    expect((await ok(["logs", "flappy"])).split("\n").filter((l) => l.includes("eth0")).length).toBe(3);
    await ok(["rm", "-f", "once", "flappy"]);
    await ok(["network", "rm", "cyclenet"]);
    expect(await leftovers({ root: d.dataRoot, netnsDir: netnsDir(), networks: [net], containers: [once.Id, flappy.Id] })).toEqual(NO_LEAKS);
  });

  test("berthd kill -9 with containers that keep running: names, ports and isolation still hold; rm then leaves nothing", async () => {
    await ok(["network", "create", "livenet"]);
    const net = hostNames(await netInspect("livenet"));
    const port = await freePort();
    await ok(["run", "-d", "--name", "l1", "--network", "livenet", "--network-alias", "lalias", "-p", `127.0.0.1:${port}:80`, IMG, ...HTTPD("still-here")]);
    await ok(["run", "-d", "--name", "l2", "--network", "livenet", IMG, "sleep", "600"]);
    await until("l1 serving", async () => (await tcpGet("127.0.0.1", port)).includes("still-here"));
    const ids = await Promise.all(["l1", "l2"].map(async (n) => (await inspect(n)).Id as string));
    d.proc.kill("SIGKILL");
    await d.proc.exited;
    const d2 = await startBerthd([], { dir: d.dir });
    extra.push(d2);
    d = d2;
    const l1 = await inspect("l1");
    expect(l1.State.Running).toBe(true);
    const ep = l1.NetworkSettings.Networks.livenet;
    expect(ep.IPAddress).toMatch(/^\d/);
    expect(await tcpGet("127.0.0.1", port)).toContain("still-here");
    for (const name of ["l1", "lalias"]) expect((await sh("l2", `nslookup ${name} ${ep.Gateway}`)).stdout).toContain(`Address: ${ep.IPAddress}`);
    // the port is still held: another container cannot take it
    const clash = await dk(["run", "-d", "--name", "l3", "-p", `127.0.0.1:${port}:80`, IMG, "sleep", "600"]);
    expect(clash.code).toBe(125);
    await ok(["rm", "-f", "l1", "l2", "l3"]);
    await ok(["network", "rm", "livenet"]);
    expect(await leftovers({ root: d.dataRoot, netnsDir: netnsDir(), networks: [net], containers: ids })).toEqual(NO_LEAKS);
  });

  test("berthd kill -9 with running containers that die meanwhile: the restarted daemon leaves nothing", async () => {
    await ok(["network", "create", "crashnet"]);
    const net = hostNames(await netInspect("crashnet"));
    const port = await freePort();
    await ok(["run", "-d", "--name", "c1", "--network", "crashnet", "-p", `127.0.0.1:${port}:80`, IMG, ...HTTPD("crash")]);
    await ok(["run", "-d", "--name", "c2", "--network", "crashnet", IMG, "sleep", "600"]);
    await ok(["run", "-d", "--name", "c3", IMG, "sleep", "600"]);
    await until("c1 serving", async () => (await tcpGet("127.0.0.1", port)).includes("crash"));
    const infos = await Promise.all(["c1", "c2", "c3"].map(inspect));
    const bridgeNet = hostNames(await netInspect("bridge"));
    d.proc.kill("SIGKILL");
    await d.proc.exited;
    // the containers die while no daemon runs
    for (const i of infos) process.kill(i.State.Pid, "SIGKILL");
    await until("the containers gone", () => infos.every((i) => !existsSync(`/proc/${i.State.Pid}`)));
    const d2 = await startBerthd([], { dir: d.dir });
    extra.push(d2);
    d = d2;
    for (const i of infos) {
      const now = await inspect(i.Id);
      expect(now.State.Running).toBe(false);
      for (const ep of Object.values(now.NetworkSettings.Networks) as { IPAddress: string }[]) expect(ep.IPAddress).toBe("");
    }
    const ids = infos.map((i) => i.Id);
    expect(await leftovers({ root: d.dataRoot, netnsDir: netnsDir(), networks: [net, bridgeNet], containers: ids, networkStays: true })).toEqual(NO_LEAKS);
    expect(await tcpGet("127.0.0.1", port)).toBe("");
    // the port is free again for a new container
    await ok(["run", "-d", "--name", "c4", "-p", `127.0.0.1:${port}:80`, IMG, ...HTTPD("after-crash")]);
    await until("c4 serving", async () => (await tcpGet("127.0.0.1", port)).includes("after-crash"));
    await ok(["rm", "-f", "c1", "c2", "c3", "c4"]);
    await ok(["network", "rm", "crashnet"]);
    expect(await leftovers({ root: d.dataRoot, netnsDir: netnsDir(), networks: [net], containers: ids })).toEqual(NO_LEAKS);
  });
});
