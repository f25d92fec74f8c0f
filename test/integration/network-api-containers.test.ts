/**
 * ContainerNetworking (src/engine/containers/networking.ts) with real busybox
 * containers under bin/berth-runtime: each container's spec joins the netns
 * setup() returns and binds the /etc files it wrote, as the container service
 * does. Traffic only between the test's containers, to the test networks'
 * gateways and to 127.0.0.1: httpd + nc on one network, blocked across two,
 * a published port from the host on 127.0.0.1, names and aliases through the
 * embedded DNS, live connect/disconnect, a static IP, an internal network
 * without a route out, none/host/container: modes, bad input, and leak checks
 * after teardown (also of a SIGKILLed container) and create/remove cycles.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContainerNetworking, type NetworkSetup } from "../../src/engine/containers/networking.ts";
import type { ContainerRecord, CreateBody } from "../../src/engine/containers/model.ts";
import { openDb } from "../../src/engine/db.ts";
import { NetworkManager } from "../../src/engine/network/manager.ts";
import type { Network } from "../../src/engine/network/model.ts";
import { BerthError, notFound } from "../../src/errors.ts";
import type { Spec } from "../../src/oci/runtime-spec.ts";
import { isRoot, makeBundle, RuntimeCli, type Bundle } from "./harness.ts";
import { haveCni, httpd, leftovers, linkExists, ncGet, NO_LEAKS, runAsync } from "./helpers/net.ts";

const d = isRoot && haveCni ? describe : describe.skip;

let root: string;
let netnsDir: string;
let rt: RuntimeCli;
let m: NetworkManager;
let cn: ContainerNetworking;
const tag = String(process.pid % 100000);
const records = new Map<string, ContainerRecord>();
const bundles: Bundle[] = [];
const nets: Network[] = [];

function record(name: string, body: CreateBody = {}): ContainerRecord {
  const id = new Bun.CryptoHasher("sha256").update(`${name}-${tag}-${Math.random()}`).digest("hex");
  const { HostConfig, NetworkingConfig, ...Config } = body;
  const r = {
    Id: id,
    Name: name,
    tenant: "default",
    Config,
    HostConfig: HostConfig ?? {},
    NetworkingConfig,
    State: { Status: "created", Running: false, Pid: 0 },
    NetworkSettings: { Ports: {}, Networks: {}, SandboxKey: "", IPAddress: "", IPPrefixLen: 0, Gateway: "", MacAddress: "" },
    HostsPath: "",
    HostnamePath: "",
    ResolvConfPath: "",
    bundle: join(root, "exec", "containers", id, "bundle"),
  } as unknown as ContainerRecord;
  records.set(id, r);
  return r;
}

/** The spec as the container service builds it: the netns (or none/host) and the three files bound. */
function bundleFor(r: ContainerRecord, s: NetworkSetup, args: string[], caps: string[] = []): Bundle {
  const b = makeBundle(args, (spec: Spec) => {
    spec.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"] });
    const mode = r.HostConfig.NetworkMode;
    spec.linux!.namespaces = spec.linux!.namespaces!.flatMap((n) => (n.type !== "network" ? [n] : mode === "host" ? [] : s.netnsPath ? [{ type: "network", path: s.netnsPath }] : [n]));
    for (const [dst, src] of [["/etc/hosts", s.hostsPath], ["/etc/hostname", s.hostnamePath], ["/etc/resolv.conf", s.resolvConfPath]] as const) {
      spec.mounts!.push({ destination: dst, type: "bind", source: src, options: ["rbind", "ro"] });
    }
    for (const set of ["bounding", "effective", "permitted"] as const) spec.process!.capabilities![set]!.push(...caps);
  });
  bundles.push(b);
  return b;
}

/** setup + create + start a detached server; the record is "running" afterwards. */
async function startServer(r: ContainerRecord, script: string) {
  const s = await cn.setup(r);
  Object.assign(r, { NetworkSettings: s.settings, HostsPath: s.hostsPath, HostnamePath: s.hostnamePath, ResolvConfPath: s.resolvConfPath });
  const b = bundleFor(r, s, ["sh", "-c", script]);
  rt.ok(["create", "--bundle", b.dir, r.Id]);
  rt.ok(["start", r.Id]);
  r.State = { ...r.State, Status: "running", Running: true, Pid: rt.state(r.Id).pid };
  return s;
}

async function stop(r: ContainerRecord, signal = "KILL") {
  rt.run(["kill", r.Id, signal]);
  rt.run(["delete", "--force", r.Id]);
  r.State = { ...r.State, Status: "exited", Running: false, Pid: 0 };
  r.NetworkSettings = await cn.teardown(r);
}

/** A foreground client: setup, run the script, teardown. */
async function runClient(r: ContainerRecord, script: string, opts: { caps?: string[]; before?: (s: NetworkSetup) => Promise<void> } = {}) {
  const s = await cn.setup(r);
  try {
    Object.assign(r, { NetworkSettings: s.settings, HostsPath: s.hostsPath, HostnamePath: s.hostnamePath, ResolvConfPath: s.resolvConfPath });
    await opts.before?.(s);
    const b = bundleFor(r, s, ["sh", "-c", script], opts.caps);
    return { setup: s, ...(await runAsync(rt, b, `${r.Id.slice(0, 20)}-run`)) };
  } finally {
    await cn.teardown(r);
  }
}

const get = (host: string, port = 80) => `for i in 1 2 3 4 5 6 7 8 9 10; do out=$(${ncGet(host, port)}); case "$out" in *hello*) break;; esac; sleep 0.2; done; echo "$out"`;

/** Nothing of these containers is left; the networks' veths are those of the attachments still there. */
async function expectOnlyLive(networks: Network[], gone: string[]) {
  const l = await leftovers({ root, netnsDir, networks, containers: gone, networkStays: true });
  const attached = networks.flatMap((n) => m.endpoints("default", n.id));
  expect(l.veths).toHaveLength(attached.length);
  expect(l.leases.sort()).toEqual(attached.map((e) => e.ip).sort());
  const none: string[] = [];
  expect({ ...l, veths: none, leases: none, nsMounts: l.nsMounts.filter((p) => gone.some((id) => p.includes(id))) }).toEqual(NO_LEAKS);
}

const ipOf = (r: ContainerRecord, net: string): string => r.NetworkSettings.Networks[net]?.IPAddress ?? "";

async function rejects(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (e) {
    return e as BerthError;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  if (!isRoot || !haveCni) return;
  root = mkdtempSync(join(tmpdir(), "berth-cn-"));
  netnsDir = join(root, "netns");
  rt = new RuntimeCli();
  // no upstream resolvers: the embedded DNS answers the test's names and forwards nothing
  m = await NetworkManager.open({ db: openDb(join(root, "berth.db")), dataRoot: root, netnsDir, upstreams: [], defaultBridge: `bc${tag}`, resolvConfPath: "/dev/null" });
  const lookup = {
    get(tenant: string, ref: string) {
      const r = [...records.values()].find((x) => x.tenant === tenant && (x.Id === ref || x.Name === ref || x.Id.startsWith(ref)));
      if (!r) throw notFound(`No such container: ${ref}`);
      return r;
    },
  };
  cn = new ContainerNetworking({ networks: m, containers: lookup, execRoot: join(root, "exec") });
  nets.push(await m.ensureDefault("default"));
});

afterAll(async () => {
  if (!m) return;
  for (const id of rt.ids()) rt.run(["delete", "--force", id]);
  for (const r of records.values()) await cn.teardown(r).catch((e) => console.error("teardown:", e));
  await m.reconcile(() => false).catch((e) => console.error("reconcile:", e));
  for (const n of nets) await m.remove(n.owner, n.id, { removeDefault: true }).catch(() => {});
  const left = await leftovers({ root, netnsDir, networks: nets, containers: [...records.keys()] });
  m.close();
  rt.cleanup();
  for (const b of bundles) b.cleanup();
  rmSync(root, { recursive: true, force: true });
  expect(left).toEqual(NO_LEAKS);
  for (const n of nets) expect(linkExists(n.bridge!)).toBe(false);
});

d("ContainerNetworking with real containers", () => {
  let A: Network;
  let B: Network;
  let web: ContainerRecord;

  beforeAll(async () => {
    if (!isRoot || !haveCni) return;
    A = await m.create("default", { name: `cna-${tag}` });
    B = await m.create("default", { name: `cnb-${tag}` });
    nets.push(A, B);
    web = record(`web-${tag}`, {
      Hostname: "webhost",
      ExposedPorts: { "80/tcp": {} },
      HostConfig: { NetworkMode: A.name, PortBindings: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
      NetworkingConfig: { EndpointsConfig: { [A.name]: { Aliases: ["www"] } } },
    });
    await startServer(web, httpd("hello-web"));
  });

  test("setup: settings in docker's shape, files written, the spec joins the netns", () => {
    const s = web.NetworkSettings;
    const ep = s.Networks[A.name]!;
    expect(ep.NetworkID).toBe(A.id);
    expect(ep.IPAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(ep.Gateway).toBe(A.gateway!);
    expect(ep.IPPrefixLen).toBeGreaterThan(0);
    expect(ep.MacAddress).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(ep.EndpointID).toMatch(/^[0-9a-f]{64}$/);
    expect(ep.Aliases).toEqual(["www"]);
    expect(ep.DNSNames).toEqual([web.Name, web.Id.slice(0, 12), "www"]);
    expect(s.SandboxKey).toBe(join(netnsDir, web.Id));
    expect(s.IPAddress).toBe(""); // not on the default bridge
    const ports = s.Ports["80/tcp"]!;
    expect(ports).toHaveLength(1);
    expect(ports[0]!.HostIp).toBe("127.0.0.1");
    expect(Number(ports[0]!.HostPort)).toBeGreaterThan(0);
    expect(web.HostsPath).toBe(join(root, "exec", "containers", web.Id, "hosts"));
    expect(readFileSync(web.HostsPath, "utf8")).toContain(`${ep.IPAddress}\twebhost`);
    expect(readFileSync(web.HostnamePath, "utf8")).toBe("webhost\n");
    expect(readFileSync(web.ResolvConfPath, "utf8")).toContain(`nameserver ${A.gateway}`);
  });

  test("same network: by address, by name and alias (embedded DNS); another network: blocked", async () => {
    const ip = ipOf(web, A.name);
    const c = record(`cli-${tag}`, { HostConfig: { NetworkMode: A.name } });
    const r = await runClient(c, [get(ip), `nslookup ${web.Name} ${A.gateway}`, `nslookup www ${A.gateway}`, get("www"), "cat /etc/hostname /etc/resolv.conf"].join("; "));
    expect(r.stdout.match(/hello-web/g)?.length).toBe(2);
    expect(r.stdout.match(new RegExp(`Address: ${ip.replace(/\./g, "\\.")}`, "g"))?.length).toBe(2);
    expect(r.stdout).toContain(c.Id.slice(0, 12));
    const other = record(`far-${tag}`, { HostConfig: { NetworkMode: B.name } });
    const r2 = await runClient(other, [ncGet(ip), `timeout 4 nslookup ${web.Name} 2>&1 || echo no-name`, "echo end"].join("; "));
    expect(r2.stdout).not.toContain("hello-web");
    expect(r2.stdout).toContain("no-name");
    expect(r2.stdout).toContain("end");
  });

  test("the published port answers on 127.0.0.1 from the host", async () => {
    const port = Number(web.NetworkSettings.Ports["80/tcp"]![0]!.HostPort);
    let body = "";
    for (let i = 0; i < 20 && !body.includes("hello-web"); i++) {
      body = await fetch(`http://127.0.0.1:${port}/`).then((x) => x.text(), () => "");
      if (!body.includes("hello-web")) await Bun.sleep(100);
    }
    expect(body).toContain("hello-web");
  });

  test("connect and disconnect live; the record follows", async () => {
    const ip = ipOf(web, A.name);
    const c = record(`mover-${tag}`, { HostConfig: { NetworkMode: B.name } });
    const r = await runClient(c, `${get(ip)}; cat /etc/hosts`, {
      before: async () => {
        // connect before the process starts looking: same netns, so the interface is there when it runs
        await cn.connect(c, A.name, { Aliases: ["mover"] });
      },
    });
    expect(r.stdout).toContain("hello-web");
    expect(Object.keys(c.NetworkingConfig!.EndpointsConfig!).sort()).toEqual([A.name, B.name].sort());
    // live disconnect while running
    const s = await cn.setup(c);
    Object.assign(c, { NetworkSettings: s.settings, HostsPath: s.hostsPath, HostnamePath: s.hostnamePath, ResolvConfPath: s.resolvConfPath });
    expect(Object.keys(s.settings.Networks).sort()).toEqual([A.name, B.name].sort());
    await cn.disconnect(c, A.name);
    expect(Object.keys(c.NetworkSettings.Networks)).toEqual([B.name]);
    expect(m.endpointsOf(c.Id).map((e) => e.networkId)).toEqual([B.id]);
    const b = bundleFor(c, s, ["sh", "-c", `${ncGet(ip)}; echo end`]);
    const out = await runAsync(rt, b, `${c.Id.slice(0, 20)}-run2`);
    expect(out.stdout).not.toContain("hello-web");
    expect(out.stdout).toContain("end");
    // not connected any more
    expect((await rejects(cn.disconnect(c, A.name))).message).toMatch(/is not connected to network/);
    await cn.teardown(c);
    // a stopped container: only the record changes
    await cn.connect(c, A.name);
    expect(m.endpointsOf(c.Id)).toEqual([]);
    expect(ipOf(c, A.name)).toBe("");
    await cn.disconnect(c, A.name);
  });

  test("static IP on a network with a user subnet; refused on the default bridge", async () => {
    const S = await m.create("default", { name: `cns-${tag}`, subnet: `172.31.${200 + (Number(tag) % 50)}.0/24` });
    nets.push(S);
    const want = S.subnet!.replace(".0/24", ".77");
    const c = record(`st-${tag}`, { HostConfig: { NetworkMode: S.name }, NetworkingConfig: { EndpointsConfig: { [S.name]: { IPAMConfig: { IPv4Address: want } } } } });
    const r = await runClient(c, "ip -4 addr show eth0");
    expect((r.setup.settings.Networks[S.name]!.IPAddress ?? "")).toBe(want);
    expect(r.stdout).toContain(`inet ${want}/24`);
    const bad = record(`stb-${tag}`, { HostConfig: { NetworkMode: "bridge" }, NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: "172.17.0.99" } } } } });
    expect((await rejects(cn.setup(bad))).message).toMatch(/user specified IP address is supported only when connecting to networks with user configured subnets/);
    expect(existsSync(join(netnsDir, bad.Id))).toBe(false);
  });

  test("internal network: no route out, names still resolve", async () => {
    const I = await m.create("default", { name: `cni-${tag}`, internal: true });
    nets.push(I);
    const c = record(`in-${tag}`, { HostConfig: { NetworkMode: I.name } });
    const r = await runClient(c, ["ip -4 route", ncGet(ipOf(web, A.name)), `nslookup in-${tag}`, "echo end"].join("; "));
    expect(r.stdout).not.toContain("default via");
    expect(r.stdout).not.toContain("hello-web");
    expect(r.stdout).toContain(`Address: ${(r.setup.settings.Networks[I.name]!.IPAddress ?? "")}`);
    expect(r.stdout).toContain("end");
  });

  test("default bridge: legacy links and ExtraHosts in /etc/hosts, host's resolvers, no DNS names", async () => {
    const srv = record(`lsrv-${tag}`, {});
    await startServer(srv, httpd("hello-link"));
    const sip = ipOf(srv, "bridge");
    expect(srv.NetworkSettings.IPAddress).toBe(sip);
    const c = record(`lcli-${tag}`, { Domainname: "example.test", HostConfig: { Links: [`${srv.Name}:db`], ExtraHosts: ["gw:host-gateway", "other:192.0.2.9"], Dns: ["192.0.2.53"], DnsSearch: ["s.test"], DnsOptions: ["ndots:2"] } });
    const r = await runClient(c, [get("db"), "cat /etc/hosts /etc/resolv.conf"].join("; "));
    expect(r.stdout).toContain("hello-link");
    expect(r.stdout).toContain(`${sip}\tdb ${srv.Id.slice(0, 12)} ${srv.Name}`);
    expect(r.stdout).toContain(`${nets[0]!.gateway}\tgw`);
    expect(r.stdout).toContain("192.0.2.9\tother");
    expect(r.stdout).toContain(`\t${c.Id.slice(0, 12)}.example.test ${c.Id.slice(0, 12)}`);
    expect(r.stdout).toContain("nameserver 192.0.2.53");
    expect(r.stdout).toContain("search s.test");
    expect(r.stdout).toContain("options ndots:2");
    expect(r.setup.settings.Networks.bridge!.DNSNames).toBeNull();
    // aliases are refused on the default bridge, before anything is made
    const bad = record(`la-${tag}`, { NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ["x"] } } } });
    expect((await rejects(cn.setup(bad))).message).toMatch(/network-scoped alias is supported only for containers in user defined networks/);
    await stop(srv);
  });

  test("none, host and container: modes", async () => {
    const none = record(`none-${tag}`, { HostConfig: { NetworkMode: "none" } });
    const r = await runClient(none, "ip -o link; cat /etc/hostname");
    expect(r.setup.netnsPath).toBeUndefined();
    expect(r.stdout).toContain("lo");
    expect(r.stdout).not.toContain("eth0");
    expect(Object.keys(r.setup.settings.Networks)).toEqual(["none"]);
    const host = record(`host-${tag}`, { HostConfig: { NetworkMode: "host", ExtraHosts: ["h1:192.0.2.1"] } });
    const h = await cn.setup(host);
    expect(h.netnsPath).toBeUndefined();
    expect(readFileSync(h.hostsPath, "utf8")).toContain("192.0.2.1\th1");
    expect(readFileSync(h.hostnamePath, "utf8")).toBe(`${(await import("node:os")).hostname()}\n`);
    await cn.teardown(host);
    expect((await rejects(cn.setup(record(`hp-${tag}`, { HostConfig: { NetworkMode: "host", PortBindings: { "80/tcp": [{ HostPort: "8080" }] } } })))).message).toMatch(/published ports/);
    // container:<web>: the same netns, so the same address and web's files
    const side = record(`side-${tag}`, { HostConfig: { NetworkMode: `container:${web.Name}` } });
    const s = await runClient(side, `${get("127.0.0.1")}; cat /etc/hostname`);
    expect(s.setup.netnsPath).toBe(join(netnsDir, web.Id));
    expect(s.setup.hostsPath).toBe(web.HostsPath);
    expect(s.stdout).toContain("hello-web");
    expect(s.stdout).toContain("webhost");
    expect(m.endpointsOf(web.Id)).toHaveLength(1); // side's teardown left web alone
    expect((await rejects(cn.connect(side, A.name))).message).toMatch(/sharing network namespace/);
  });

  test("bad input changes nothing: unknown network, port already bound", async () => {
    const e = await rejects(cn.setup(record(`unk-${tag}`, { HostConfig: { NetworkMode: "no-such-net" } })));
    expect(e.code).toBe("NotFound");
    expect(e.message).toBe("network no-such-net not found");
    const holder = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const c = record(`busy-${tag}`, { HostConfig: { NetworkMode: A.name, PortBindings: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(holder.port) }] } } });
      const err = await rejects(cn.setup(c));
      expect(err.message).toMatch(new RegExp(`Bind for 127\\.0\\.0\\.1:${holder.port} failed: port is already allocated`));
      await expectOnlyLive([A], [c.Id]);
      expect(m.endpointsOf(c.Id)).toEqual([]);
      expect(existsSync(join(netnsDir, c.Id))).toBe(false);
    } finally {
      holder.stop(true);
    }
    const badPorts: Record<string, { HostPort?: string }[]>[] = [{ "80/tcp": [{ HostPort: "x" }] }, { "80/xtp": [{ HostPort: "1" }] }, { "0/tcp": [{}] }];
    for (const bad of badPorts) {
      const c = record(`bp-${tag}`, { HostConfig: { NetworkMode: A.name, PortBindings: bad } });
      expect((await rejects(cn.setup(c))).code).toBe("InvalidArgument");
      expect(existsSync(join(netnsDir, c.Id))).toBe(false);
    }
  });

  test("teardown after SIGKILL, and setup/teardown cycles, leave nothing", async () => {
    const k = record(`kill-${tag}`, { HostConfig: { NetworkMode: B.name, PortBindings: { "80/tcp": [{ HostIp: "127.0.0.1" }] } } });
    await startServer(k, httpd("hello-k"));
    expect(m.endpointsOf(k.Id)).toHaveLength(1);
    await stop(k, "KILL");
    await cn.teardown(k); // idempotent
    expect(ipOf(k, B.name)).toBe("");
    expect(k.NetworkSettings.Ports).toEqual({});
    for (let i = 0; i < 3; i++) {
      const c = record(`cy${i}-${tag}`, { HostConfig: { NetworkMode: i % 2 ? A.name : "bridge", PortBindings: { "81/udp": [{ HostIp: "127.0.0.1" }] } } });
      await cn.setup(c);
      await cn.teardown(c);
    }
    const ids = [...records.values()].filter((r) => r.Name.startsWith("cy") || r.Name.startsWith("kill")).map((r) => r.Id);
    await expectOnlyLive([A, B, nets[0]!], ids);
  });

  afterAll(async () => {
    if (!web) return;
    await stop(web);
  });
});
