/**
 * berthd's network library against the real kernel (root): real busybox
 * containers under bin/berth-runtime attached through the CNI plugins
 * (bridge, host-local, portmap, firewall), traffic between them with httpd
 * and nc, names through the embedded DNS (busybox nslookup), published ports
 * from the host on 127.0.0.1, isolation between networks and of internal
 * networks (also with CAP_NET_ADMIN inside), live connect/disconnect, bad
 * input, and leak checks after create/remove cycles and after a SIGKILLed
 * manager followed by reconcile(). All traffic stays on this machine: the
 * containers' own addresses, the test networks' gateways, 127.0.0.1; the
 * embedded DNS forwards only to a fake upstream on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../../src/engine/db.ts";
import { aRecord, decode, encode, replyTo, RCODE } from "../../src/engine/network/dns/wire.ts";
import { rulesMentioning } from "../../src/engine/network/firewall.ts";
import { hostRoutes } from "../../src/engine/network/host.ts";
import { overlaps, parseCidr } from "../../src/engine/network/ipnet.ts";
import { NetworkManager, type NetworkManagerOptions } from "../../src/engine/network/manager.ts";
import type { Network } from "../../src/engine/network/model.ts";
import { BerthError } from "../../src/errors.ts";
import { isRoot, RuntimeCli, type Bundle } from "./harness.ts";
import { createContainer, haveCni, idNeedles, httpd, leases, leftovers, linkExists, ncGet, netBundle, NO_LEAKS, runAsync, vethsOn, writeEtc } from "./helpers/net.ts";

// Needs root, and Debian's containernetworking-plugins (scripts/setup.sh installs them).
const d = isRoot && haveCni ? describe : describe.skip;

let root: string;
let netnsDir: string;
let rt: RuntimeCli;
let m: NetworkManager;
let opts: NetworkManagerOptions;
let upstream: { port: number; close(): void } | undefined;
const tag = String(process.pid % 100000);
/** containers this test considers alive (reconcile keeps their attachments) */
const live = new Set<string>();
const bundles: Bundle[] = [];
const nets: Network[] = [];

function expectBerthError(e: unknown, code: string, re: RegExp) {
  expect(e).toBeInstanceOf(BerthError);
  expect((e as BerthError).code).toBe(code as BerthError["code"]);
  expect((e as Error).message).toMatch(re);
}

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

function bundle(...a: Parameters<typeof netBundle>): Bundle {
  const b = netBundle(...a);
  bundles.push(b);
  return b;
}

/** A server container in its own netns, attached to `net` through /proc/<pid>/ns/net, then started. */
async function server(id: string, net: Network, opts: { text: string; name?: string; aliases?: string[]; ports?: Parameters<NetworkManager["attach"]>[2]["ports"] }) {
  const pid = createContainer(rt, bundle(["sh", "-c", httpd(opts.text)]), id);
  live.add(id);
  const a = await m.attach("default", net.name, { containerId: id, netns: `/proc/${pid}/ns/net`, name: opts.name, aliases: opts.aliases, ports: opts.ports });
  rt.ok(["start", id]);
  return { pid, ...a };
}

/** A client: a persistent netns made by the manager, attached, then a foreground container joining it. */
async function client(id: string, net: Network, script: string, opts: { name?: string; caps?: string[] } = {}) {
  const netns = await m.createNetns(id);
  live.add(id);
  try {
    await m.attach("default", net.name, { containerId: id, netns, name: opts.name ?? id });
    const etc = m.etcFiles(id, { hostname: opts.name ?? id });
    const b = bundle(["sh", "-c", script], { netns, etc: {}, caps: opts.caps });
    writeEtc(b, { hosts: etc.hosts, hostname: etc.hostname, "resolv.conf": etc.resolvConf });
    return await runAsync(rt, b, `${id}-run`);
  } finally {
    await m.detachAll(id);
    await m.removeNetns(id);
    live.delete(id);
  }
}

/** retry a GET a few times: httpd may still be starting */
const get = (ip: string, port = 80) => `for i in 1 2 3 4 5 6 7 8 9 10; do out=$(${ncGet(ip, port)}); case "$out" in *hello*) break;; esac; sleep 0.2; done; echo "$out"`;

beforeAll(async () => {
  if (!isRoot || !haveCni) return;
  root = mkdtempSync(join(tmpdir(), "berth-net-"));
  netnsDir = join(root, "netns");
  rt = new RuntimeCli();
  // the fake upstream resolver: answers every A question with 127.0.0.42
  const up = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: {
      data(sock, data, port, addr) {
        const q = decode(data);
        const name = q.questions[0]?.name ?? "";
        sock.send(encode(replyTo(q, name === "upstream.test" ? RCODE.NOERROR : RCODE.NXDOMAIN, name === "upstream.test" ? [aRecord(name, "127.0.0.42", 60)] : [], false)), port, addr);
      },
    },
  });
  upstream = up;
  opts = { db: openDb(join(root, "berth.db")), dataRoot: root, netnsDir, upstreams: [`127.0.0.1:${up.port}`], defaultBridge: `bt${tag}` };
  m = await NetworkManager.open(opts);
});

afterAll(async () => {
  if (!m) return;
  for (const id of rt.ids()) rt.run(["delete", "--force", id]);
  live.clear();
  await m.reconcile(() => false).catch((e) => console.error("reconcile:", e));
  for (const n of nets) await m.remove(n.owner, n.id, { removeDefault: true }).catch(() => {});
  const left = await leftovers({ root, netnsDir, networks: nets, containers: [] });
  m.close();
  upstream?.close();
  rt.cleanup();
  for (const b of bundles) b.cleanup();
  rmSync(root, { recursive: true, force: true });
  expect(left).toEqual(NO_LEAKS);
  for (const n of nets) expect(linkExists(n.bridge!)).toBe(false);
});

d("bridge networks with real containers", () => {
  let A: Network;
  let B: Network;
  let web: Awaited<ReturnType<typeof server>>;

  test("one network: traffic between containers, names and aliases through the gateway DNS, upstream forwarding", async () => {
    A = await m.create("default", { name: `a-${tag}`, labels: { test: "net" } });
    nets.push(A);
    const taken = (await hostRoutes()).filter((r) => r.dev !== A.bridge);
    expect(taken.some((r) => overlaps(r.dst, parseCidr(A.subnet!)))).toBe(false);
    web = await server(`srv-${tag}`, A, { text: "hello-web", name: "web", aliases: ["www"] });
    expect(parseCidr(A.subnet!).base).toBe(parseCidr(`${web.ip}/${web.prefixLen}`, "ip", false).base);
    expect(web.gateway).toBe(A.gateway);
    expect(web.ifName).toBe("eth0");
    const r = await client(`cli-${tag}`, A, `${get(web.ip)}; cat /etc/resolv.conf; timeout 5 nslookup web; timeout 5 nslookup www; timeout 5 nslookup upstream.test; timeout 5 nslookup srv-${tag}.x 2>&1; echo done`);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("hello-web");
    expect(r.stdout).toContain(`nameserver ${A.gateway}`);
    // web, www -> the server's address
    const addrs = [...r.stdout.matchAll(/Address:\s+(\d+\.\d+\.\d+\.\d+)$/gm)].map((x) => x[1]);
    expect(addrs.filter((a) => a === web.ip).length).toBeGreaterThanOrEqual(2);
    // not ours: forwarded to the fake upstream on 127.0.0.1
    expect(addrs).toContain("127.0.0.42");
    expect(r.stdout).toContain("done");
  });

  test("two networks: blocked; the DNS of one does not answer the other; live connect and disconnect", async () => {
    B = await m.create("default", { name: `b-${tag}` });
    nets.push(B);
    const before = await client(`x1-${tag}`, B, `${ncGet(web.ip)}; timeout 5 nslookup web ${A.gateway} 2>&1; echo end`);
    expect(before.stdout).not.toContain("hello-web");
    expect(before.stdout).not.toContain(`Address: ${web.ip}`);
    expect(before.stdout).toContain("end");
    // connect the running server to B: a second interface
    const onB = await m.attach("default", B.name, { containerId: `srv-${tag}`, netns: `/proc/${web.pid}/ns/net`, name: "web" });
    expect(onB.ifName).toBe("eth1");
    const after = await client(`x2-${tag}`, B, `${get(onB.ip)}; timeout 5 nslookup web`);
    expect(after.stdout).toContain("hello-web");
    expect(after.stdout).toContain(`Address: ${onB.ip}`);
    await m.detach("default", B.name, `srv-${tag}`);
    expect(vethsOn(B.bridge!)).toEqual([]);
    const gone = await client(`x3-${tag}`, B, `${ncGet(onB.ip)}; echo end`);
    expect(gone.stdout).not.toContain("hello-web");
    // still there on A
    const still = await client(`x4-${tag}`, A, get(web.ip));
    expect(still.stdout).toContain("hello-web");
  });

  test("published ports on 127.0.0.1: fixed and random host ports; a bound port is refused and changes nothing", async () => {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const fixed = probe.port;
    probe.stop(true);
    const pub = await server(`pub-${tag}`, A, { text: "hello-pub", ports: [{ containerPort: 80, hostIp: "127.0.0.1", hostPort: fixed }, { containerPort: 80, hostIp: "127.0.0.1" }] });
    expect(pub.ports.map((p) => p.hostPort)[0]).toBe(fixed);
    const random = pub.ports[1]!.hostPort;
    // berth's DNAT rules carry the container's id (what the leak checks look for)
    expect((await rulesMentioning([`:pub-${tag}"`])).filter((l) => l.includes("BERTH-DNAT")).length).toBe(2);
    expect(random).toBeGreaterThan(0);
    for (const port of [fixed, random]) {
      let body = "";
      for (let i = 0; i < 20 && !body.includes("hello-pub"); i++) {
        body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => "");
        if (!body.includes("hello-pub")) await Bun.sleep(100);
      }
      expect(body).toContain("hello-pub");
    }
    // the port is held: another process cannot take it
    expect(() => Bun.listen({ hostname: "127.0.0.1", port: fixed, socket: { data() {} } })).toThrow();
    // a port another process holds, and a port another container holds: refused, nothing changed
    const other = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      for (const port of [other.port, fixed]) {
        const id = `busy-${tag}-${port}`;
        const netns = await m.createNetns(id);
        const veths = vethsOn(A.bridge!).length;
        const lease = leases(join(root, "cni", "networks"), A.cniName).length;
        const e = await rejects(m.attach("default", A.name, { containerId: id, netns, ports: [{ containerPort: 80, hostIp: "127.0.0.1", hostPort: port }] }));
        expectBerthError(e, "FailedPrecondition", new RegExp(`Bind for 127.0.0.1:${port} failed: port is already allocated`));
        expect(m.endpointsOf(id)).toEqual([]);
        expect(vethsOn(A.bridge!).length).toBe(veths);
        expect(leases(join(root, "cni", "networks"), A.cniName).length).toBe(lease);
        expect(await rulesMentioning([...idNeedles(id), `:${id}"`])).toEqual([]);
        await m.removeNetns(id);
      }
    } finally {
      other.stop(true);
    }
    // route_localnet is on for the bridge: a container rerouting 127.0.0.1 to the gateway must still not reach the host's loopback
    const secret = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void s.end("secret-on-host-loopback\n"), data() {} } });
    try {
      const attack = await client(`lo-${tag}`, A, `ip route del 127.0.0.0/8 dev lo table local; ip addr del 127.0.0.1/8 dev lo; ip route add 127.0.0.1/32 via ${A.gateway} dev eth0 && echo rerouted; timeout 4 nc -w 2 127.0.0.1 ${secret.port} </dev/null; echo end`, { caps: ["CAP_NET_ADMIN"] });
      expect(attack.stdout).toContain("rerouted");
      expect(attack.stdout).toContain("end");
      expect(attack.stdout).not.toContain("secret-on-host-loopback");
    } finally {
      secret.stop(true);
    }
    rt.run(["delete", "--force", `pub-${tag}`]);
    live.delete(`pub-${tag}`);
    await m.detachAll(`pub-${tag}`);
    expect(await rulesMentioning([...idNeedles(`pub-${tag}`), `:pub-${tag}"`])).toEqual([]);
    // released: the port can be bound again
    const again = Bun.listen({ hostname: "127.0.0.1", port: fixed, socket: { data() {} } });
    again.stop(true);
  });

  test("published ports through the CNI portmap plugin (portDriver \"portmap\"): same behaviour, nothing left", async () => {
    const root2 = mkdtempSync(join(tmpdir(), "berth-net-pm-"));
    const m2 = await NetworkManager.open({ db: openDb(join(root2, "berth.db")), dataRoot: root2, netnsDir, upstreams: [], portDriver: "portmap" });
    const id = `pm-${tag}`;
    try {
      const P = await m2.create("default", { name: `p-${tag}` });
      expect(m2.conflistOf(P).plugins.map((p) => p.type)).toEqual(["bridge", "portmap"]);
      const pid = createContainer(rt, bundle(["sh", "-c", httpd("hello-portmap")]), id);
      const a = await m2.attach("default", P.name, { containerId: id, netns: `/proc/${pid}/ns/net`, ports: [{ containerPort: 80, hostIp: "127.0.0.1" }] });
      rt.ok(["start", id]);
      expect((await rulesMentioning(idNeedles(id))).some((l) => l.includes("CNI-HOSTPORT-DNAT"))).toBe(true);
      let body = "";
      for (let i = 0; i < 20 && !body.includes("hello-portmap"); i++) {
        body = await fetch(`http://127.0.0.1:${a.ports[0]!.hostPort}/`).then((r) => r.text()).catch(() => "");
        if (!body.includes("hello-portmap")) await Bun.sleep(100);
      }
      expect(body).toContain("hello-portmap");
      rt.run(["delete", "--force", id]); // the netns goes with the container: DEL without it
      await m2.detachAll(id);
      await m2.remove("default", P.name);
      expect(await leftovers({ root: root2, netnsDir, networks: [P], containers: [id] })).toEqual(NO_LEAKS);
    } finally {
      rt.run(["delete", "--force", id]);
      await m2.reconcile(() => false).catch(() => {});
      m2.close();
      rmSync(root2, { recursive: true, force: true });
    }
  });

  test("internal network: names resolve, nothing else is reachable, not even with CAP_NET_ADMIN and a forced route", async () => {
    const I = await m.create("default", { name: `i-${tag}`, internal: true });
    nets.push(I);
    const db = await server(`db-${tag}`, I, { text: "hello-db", name: "db" });
    const script = [
      "ip -4 route",
      get(db.ip), // same network: fine
      "timeout 5 nslookup db", // its own gateway's DNS: fine
      "timeout 5 nslookup upstream.test 2>&1 || echo no-upstream", // but nothing from outside
      `${ncGet(web.ip)}`, // a container on another network
      `timeout 4 nslookup web ${A.gateway} 2>&1 || echo nslookup-failed`, // another network's gateway (the host)
      "ip route add default dev eth0 && echo route-forced",
      `${ncGet(web.ip)}`,
      `timeout 4 nslookup web ${A.gateway} 2>&1 || echo nslookup-failed-again`,
      "echo end",
    ].join("; ");
    const r = await client(`ic-${tag}`, I, script, { caps: ["CAP_NET_ADMIN"] });
    expect(r.stdout).not.toContain("default via");
    expect(r.stdout).toContain("hello-db");
    expect(r.stdout).toContain(`Address: ${db.ip}`);
    expect(r.stdout).not.toContain("hello-web");
    expect(r.stdout).not.toContain(`Address: ${web.ip}`);
    expect(r.stdout).not.toContain("127.0.0.42");
    expect(r.stdout).toContain("no-upstream");
    expect(r.stdout).toContain("nslookup-failed");
    expect(r.stdout).toContain("route-forced");
    expect(r.stdout).toContain("nslookup-failed-again");
    expect(r.stdout).toContain("end");
    // the default network: no embedded DNS, docker0's resolv.conf
    rt.run(["delete", "--force", `db-${tag}`]);
    live.delete(`db-${tag}`);
    await m.detachAll(`db-${tag}`);
  });

  test("the default network: a subnet clear of the host's routes, no embedded DNS, cannot be removed", async () => {
    const def = await m.ensureDefault("default");
    nets.push(def);
    expect(def.name).toBe("bridge");
    expect(def.isDefault).toBe(true);
    expect(await m.ensureDefault("default")).toEqual(def);
    for (const n of nets.filter((x) => x !== def)) expect(overlaps(parseCidr(n.subnet!), parseCidr(def.subnet!))).toBe(false);
    expect(m.dnsAddress(def.id)).toBeUndefined();
    const r = await client(`dc-${tag}`, def, `cat /etc/resolv.conf; ${ncGet(web.ip)}; echo end`);
    expect(r.stdout).not.toContain(`nameserver ${def.gateway}`);
    expect(r.stdout).toContain("nameserver");
    expect(r.stdout).not.toContain("hello-web"); // another network
    const e = await rejects(m.remove("default", "bridge"));
    expectBerthError(e, "PermissionDenied", /pre-defined network and cannot be removed/);
  });

  test("bad input is refused with a clear error and changes nothing", async () => {
    const okNs = await m.createNetns(`bad-${tag}`);
    const count = m.list("default").length;
    const links = (Bun.spawnSync(["ip", "-o", "link"]).stdout.toString().match(/\n/g) ?? []).length;
    expectBerthError(await rejects(m.create("default", { name: `ov-${tag}`, subnet: A.subnet })), "FailedPrecondition", /^Pool overlaps with other one on this address space$/);
    expectBerthError(await rejects(m.create("default", { name: A.name })), "AlreadyExists", new RegExp(`network with name ${A.name} already exists`));
    expectBerthError(await rejects(m.create("default", { name: `gw-${tag}`, subnet: "172.31.250.0/24", gateway: "10.0.0.1" })), "InvalidArgument", /^gateway: /);
    expectBerthError(await rejects(m.create("default", { name: `r-${tag}`, subnet: "172.31.250.0/24", ipRange: "172.31.0.0/24" })), "InvalidArgument", /^ip-range: /);
    expectBerthError(await rejects(m.create("default", { name: "bad name!" })), "InvalidArgument", /^name: /);
    expectBerthError(await rejects(m.create("default", { name: `drv-${tag}`, driver: "overlay" })), "InvalidArgument", /^driver: /);
    expectBerthError(await rejects(m.attach("default", "nope", { containerId: "x", netns: "/proc/self/ns/net" })), "NotFound", /^network nope not found$/);
    expectBerthError(await rejects(m.attach("default", A.name, { containerId: "x", netns: "/nonexistent" })), "InvalidArgument", /^netns: /);
    expectBerthError(await rejects(m.attach("default", A.name, { containerId: "../x", netns: "/proc/self/ns/net" })), "InvalidArgument", /^container id: /);
    // the host's own namespace, under any name, is not a container's
    expectBerthError(await rejects(m.attach("default", A.name, { containerId: "x", netns: "/proc/self/ns/net" })), "InvalidArgument", /is the host's network namespace/);
    const alias = join(root, "host-netns-alias");
    writeFileSync(alias, "");
    expect(Bun.spawnSync(["mount", "--bind", `/proc/${process.pid}/ns/net`, alias]).exitCode).toBe(0);
    try {
      expectBerthError(await rejects(m.attach("default", A.name, { containerId: "x", netns: alias })), "InvalidArgument", /is the host's network namespace/);
    } finally {
      Bun.spawnSync(["umount", alias]);
      rmSync(alias);
    }
    expectBerthError(await rejects(m.attach("default", A.name, { containerId: "x", netns: okNs, ip: "172.16.0.9" })), "InvalidArgument", /user configured subnets/);
    expectBerthError(await rejects(m.attach("default", A.name, { containerId: "x", netns: okNs, aliases: ["bad alias"] })), "InvalidArgument", /^aliases\[0\]: /);
    expectBerthError(await rejects(m.attach("default", A.name, { containerId: "x", netns: okNs, ports: [{ containerPort: 70000 }] })), "InvalidArgument", /^ports\[0\]\.containerPort/);
    expectBerthError(await rejects(m.attach("default", A.name, { containerId: "x", netns: okNs, dns: ["resolver.example"] })), "InvalidArgument", /^dns\[0\]: /);
    expect(m.endpointsOf("x")).toEqual([]);
    expectBerthError(await rejects(m.remove("default", A.name)), "PermissionDenied", /^error while removing network: network .* has active endpoints$/);
    expectBerthError(await rejects(m.detach("default", A.name, "nobody")), "NotFound", /is not connected to network/);
    // a conflist whose plugin type tries to leave CNI_PATH is not a network
    writeFileSync(join(root, "cni", "net.d", "evil.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "evil", plugins: [{ type: "../../../bin/sh" }] }));
    expectBerthError(await rejects(m.attach("default", "evil", { containerId: "x", netns: okNs })), "NotFound", /network evil not found/);
    expect(m.confDir.scan().problems.some((p) => /plugins\[0\]\.type/.test(p.error))).toBe(true);
    rmSync(join(root, "cni", "net.d", "evil.conflist"));
    expect(m.list("default").length).toBe(count);
    expect((Bun.spawnSync(["ip", "-o", "link"]).stdout.toString().match(/\n/g) ?? []).length).toBe(links);
    expect(Bun.spawnSync(["nsenter", `--net=${okNs}`, "ip", "-o", "link"]).stdout.toString()).not.toContain("eth0");
    await m.removeNetns(`bad-${tag}`);
  });

  test("tenants: networks are scoped; names may repeat per tenant; subnets never overlap across tenants; default bridges are separate", async () => {
    expectBerthError(await rejects(m.attach("other", A.name, { containerId: "x", netns: "/proc/self/ns/net" })), "NotFound", new RegExp(`^network ${A.name} not found$`));
    expect(m.list("other").map((n) => n.name)).not.toContain(A.name);
    expectBerthError(await rejects(m.remove("other", A.id)), "NotFound", /not found/);
    expectBerthError(await rejects(m.create("other", { name: `t-${tag}`, subnet: A.subnet })), "FailedPrecondition", /^Pool overlaps/);
    const same = await m.create("other", { name: A.name });
    nets.push(same);
    expect(same.id).not.toBe(A.id);
    expect(overlaps(parseCidr(same.subnet!), parseCidr(A.subnet!))).toBe(false);
    expect(m.get("default", A.name).id).toBe(A.id);
    expect(m.get("other", A.name).id).toBe(same.id);
    const def = await m.ensureDefault("other");
    nets.push(def);
    expect(def.bridge).not.toBe(`bt${tag}`);
    expect(def.bridge).toMatch(/^berth-[0-9a-f]{9}$/);
    await m.remove("other", same.name);
  });

  test("a restarted manager re-holds the names and ports of live containers (reconcile)", async () => {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const ns = await m.createNetns(`rs-${tag}`);
    live.add(`rs-${tag}`);
    await m.attach("default", A.name, { containerId: `rs-${tag}`, netns: ns, name: "keeper", ports: [{ containerPort: 80, hostIp: "127.0.0.1", hostPort: port }] });
    // berthd stops (containers keep running) and starts again
    m.close();
    expect(() => Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true)).not.toThrow();
    m = await NetworkManager.open(opts);
    const report = await m.reconcile((id) => live.has(id));
    expect(report.endpoints).toBe(0);
    expect(() => Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } })).toThrow(); // held again
    const r = await client(`rc-${tag}`, A, "timeout 5 nslookup keeper; timeout 5 nslookup web");
    expect(r.stdout).toContain(`Address: ${m.endpointsOf(`rs-${tag}`)[0]!.ip}`);
    expect(r.stdout).toContain(`Address: ${m.endpointsOf(`srv-${tag}`)[0]!.ip}`);
    await m.detachAll(`rs-${tag}`);
    await m.removeNetns(`rs-${tag}`);
    live.delete(`rs-${tag}`);
  });

  test("static address and ip-range", async () => {
    const S = await m.create("default", { name: `s-${tag}`, subnet: "172.31.251.0/24", ipRange: "172.31.251.128/25" });
    nets.push(S);
    const n1 = await m.createNetns(`st1-${tag}`);
    const n2 = await m.createNetns(`st2-${tag}`);
    try {
      const dyn = await m.attach("default", S.name, { containerId: `st1-${tag}`, netns: n1 });
      expect(Number(dyn.ip.split(".")[3])).toBeGreaterThanOrEqual(128);
      const fixed = await m.attach("default", S.name, { containerId: `st2-${tag}`, netns: n2, ip: "172.31.251.7" });
      expect(fixed.ip).toBe("172.31.251.7");
      const inside = Bun.spawnSync(["nsenter", `--net=${n2}`, "ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout.toString();
      expect(inside).toContain("172.31.251.7/24");
      expectBerthError(await rejects(m.attach("default", S.name, { containerId: `st3-${tag}`, netns: n1, ip: "172.31.251.7" })), "FailedPrecondition", /Address already in use/);
    } finally {
      await m.detachAll(`st1-${tag}`);
      await m.detachAll(`st2-${tag}`);
      await m.removeNetns(`st1-${tag}`);
      await m.removeNetns(`st2-${tag}`);
    }
    await m.remove("default", S.name);
    expect(await leftovers({ root, netnsDir, networks: [S], containers: [`st1-${tag}`, `st2-${tag}`] })).toEqual(NO_LEAKS);
    expect(linkExists(S.bridge!)).toBe(false);
  });
});

d("no leftovers", () => {
  test("concurrent attaches and detaches on one network; CNI CHECK of a live attachment", async () => {
    const N = await m.create("default", { name: `par-${tag}` });
    nets.push(N);
    const ids = Array.from({ length: 6 }, (_, i) => `par${i}-${tag}`);
    const nss = await Promise.all(ids.map((id) => m.createNetns(id)));
    const got = await Promise.all(ids.map((id, i) => m.attach("default", N.name, { containerId: id, netns: nss[i]!, name: id, ports: i % 2 ? [{ containerPort: 80, hostIp: "127.0.0.1" }] : [] })));
    expect(new Set(got.map((g) => g.ip)).size).toBe(6);
    expect(vethsOn(N.bridge!).length).toBe(6);
    await m.check("default", N.name, ids[0]!);
    // CHECK notices when the container's interface is gone
    Bun.spawnSync(["nsenter", `--net=${nss[0]}`, "ip", "link", "del", "eth0"]);
    expect(await rejects(m.check("default", N.name, ids[0]!))).toBeInstanceOf(BerthError);
    await Promise.all(ids.map((id) => m.detachAll(id)));
    await Promise.all(ids.map((id) => m.removeNetns(id)));
    await m.remove("default", N.name);
    expect(await leftovers({ root, netnsDir, networks: [N], containers: ids })).toEqual(NO_LEAKS);
  });

  test("create/attach/detach/remove cycles", async () => {
    for (let i = 0; i < 3; i++) {
      const N = await m.create("default", { name: `cy-${tag}-${i}`, internal: i === 2 });
      nets.push(N);
      const ids = [`cy${i}a-${tag}`, `cy${i}b-${tag}`];
      for (const [k, id] of ids.entries()) {
        const ns = await m.createNetns(id);
        await m.attach("default", N.name, { containerId: id, netns: ns, name: id, ports: k === 0 ? [{ containerPort: 8080, hostIp: "127.0.0.1" }] : [] });
      }
      expect(vethsOn(N.bridge!).length).toBe(2);
      for (const id of ids) {
        await m.detach("default", N.name, id);
        await m.removeNetns(id);
      }
      await m.remove("default", N.name);
      expect(await leftovers({ root, netnsDir, networks: [N], containers: ids })).toEqual(NO_LEAKS);
      expect(linkExists(N.bridge!)).toBe(false);
    }
  });

  test("a manager SIGKILLed mid-attach and after attach; reconcile removes every trace", async () => {
    const C = await m.create("default", { name: `c-${tag}` });
    nets.push(C);
    const crash = join(import.meta.dir, "helpers", "net-crash.ts");
    const port = () => {
      const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      const p = l.port;
      l.stop(true);
      return p;
    };
    // 1: a persistent netns, killed between the bridge and portmap plugins
    const id1 = `crash1-${tag}`;
    const ns1 = await m.createNetns(id1);
    const c1 = Bun.spawnSync([process.execPath, crash, root, netnsDir, C.name, id1, ns1, "mid-add", String(port())], { stderr: "pipe" });
    expect(c1.signalCode).toBe("SIGKILL");
    // 2: a container's own netns, killed after the attach; then the container dies too
    const id2 = `crash2-${tag}`;
    const pid = createContainer(rt, bundle(["sh", "-c", httpd("hello-crash")]), id2);
    const c2 = Bun.spawnSync([process.execPath, crash, root, netnsDir, C.name, id2, `/proc/${pid}/ns/net`, "after-attach", String(port())], { stdout: "pipe", stderr: "pipe" });
    expect(c2.stdout.toString()).toContain("attached");
    expect(c2.signalCode).toBe("SIGKILL");
    // the dead managers left their work behind
    const left = await leftovers({ root, netnsDir, networks: [C], containers: [id1, id2], networkStays: true });
    expect(left.veths.length).toBe(2);
    expect(left.leases.length).toBe(2);
    expect(left.rules.length).toBeGreaterThan(0); // crash2's DNAT rules
    expect(left.netns).toEqual([id1]);
    rt.run(["delete", "--force", id2]);
    const report = await m.reconcile((id) => live.has(id));
    expect(report.endpoints).toBe(2);
    expect(report.netns).toBe(1);
    expect(await leftovers({ root, netnsDir, networks: [C], containers: [id1, id2], networkStays: true })).toEqual(NO_LEAKS);
    // the live containers kept their attachments
    expect(m.endpointsOf(`srv-${tag}`).length).toBe(1);
    const r = await client(`after-${tag}`, A_of(), `${get(m.endpointsOf(`srv-${tag}`)[0]!.ip)}; timeout 5 nslookup web`);
    expect(r.stdout).toContain("hello-web");
    await m.remove("default", C.name);
    expect(await leftovers({ root, netnsDir, networks: [C], containers: [id1, id2] })).toEqual(NO_LEAKS);
  });
});

function A_of(): Network {
  return m.list("default", { name: [`a-${tag}`] })[0]!;
}
