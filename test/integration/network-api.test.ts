/**
 * /networks through a private berthd with the real docker CLI: create (subnet,
 * gateway, ip-range, internal, labels, options), ls with filters, inspect,
 * rm, prune, the builtin bridge/host/none, and bad input with docker's errors
 * (nothing changes). Leak checks: no bridge, rule or conflist left after
 * create/remove cycles and after the daemon stops. Root + CNI plugins.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { rulesMentioning } from "../../src/engine/network/firewall.ts";
import { haveDocker, startBerthd, type Berthd } from "../helpers/berthd.ts";
import { isRoot } from "./harness.ts";
import { haveCni, linkExists, purgeNetworks } from "./helpers/net.ts";

const d = isRoot && haveCni && haveDocker ? describe : describe.skip;

let b: Berthd;
// subnets of the test's own (TEST-NET-ish private ranges no host route uses here are checked by berthd itself)
const tag = process.pid % 200;
const SUB_A = `10.${201 + (tag % 50)}.1.0/24`;
const SUB_B = `10.${201 + (tag % 50)}.2.0/24`;

async function ok(args: string[]) {
  const r = await b.docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")}: ${r.code}\n${r.stderr}`);
  return r.stdout.trim();
}

async function inspect(name: string) {
  return JSON.parse(await ok(["network", "inspect", name]))[0];
}

function confs(): string[] {
  const dir = join(b.dataRoot, "cni", "net.d");
  return existsSync(dir) ? readdirSync(dir) : [];
}

beforeAll(async () => {
  if (!(isRoot && haveCni && haveDocker)) return;
  b = await startBerthd();
});

afterAll(async () => {
  if (!b) return;
  let bridge: string | undefined;
  try {
    await b.docker(["network", "prune", "-f"]);
    bridge = (await inspect("bridge")).Options["com.docker.network.bridge.name"];
  } finally {
    // the daemon goes whatever failed above (a test daemon left running holds its networks)
    await b.stop();
    await purgeNetworks(b.dataRoot, join(b.execRoot, "netns")).catch(() => {});
    await b.cleanup();
  }
  if (bridge) expect(linkExists(bridge)).toBe(false);
});

d("docker network", () => {
  test("ls shows the builtin bridge, host and none", async () => {
    const out = await ok(["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"]);
    expect(out.split("\n").sort()).toEqual(["bridge bridge local", "host host local", "none null local"]);
    const br = await inspect("bridge");
    expect(br.Driver).toBe("bridge");
    expect(br.IPAM.Config[0].Subnet).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    expect(br.Options["com.docker.network.bridge.default_bridge"]).toBe("true");
    expect(linkExists(br.Options["com.docker.network.bridge.name"])).toBe(true);
    expect((await inspect("host")).Driver).toBe("host");
    expect((await inspect("none")).Driver).toBe("null");
  });

  test("create with subnet, gateway, ip-range, labels, options; inspect; rm", async () => {
    const id = await ok(["network", "create", "--subnet", SUB_A, "--gateway", SUB_A.replace(".0/24", ".254"), "--ip-range", SUB_A.replace(".0/24", ".128/25"), "--label", "team=blue", "-o", "com.docker.network.driver.mtu=1400", "--internal", "--attachable", "napi-a"]);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const n = await inspect("napi-a");
    expect(n.Id).toBe(id);
    expect(n.Name).toBe("napi-a");
    expect(n.Driver).toBe("bridge");
    expect(n.Scope).toBe("local");
    expect(n.Internal).toBe(true);
    expect(n.Attachable).toBe(true);
    expect(n.EnableIPv6).toBe(false);
    expect(n.IPAM.Config).toEqual([{ Subnet: SUB_A, Gateway: SUB_A.replace(".0/24", ".254"), IPRange: SUB_A.replace(".0/24", ".128/25") }]);
    expect(n.Labels).toEqual({ team: "blue" });
    expect(n.Options).toEqual({ "com.docker.network.driver.mtu": "1400" });
    expect(n.Containers).toEqual({});
    // by id prefix too
    expect((await inspect(id.slice(0, 12))).Name).toBe("napi-a");
    const bridge = `br-${id.slice(0, 12)}`;
    expect(linkExists(bridge)).toBe(true);
    expect(await ok(["network", "rm", "napi-a"])).toBe("napi-a");
    expect(linkExists(bridge)).toBe(false);
    expect(await rulesMentioning([bridge, `berth-${id.slice(0, 12)}`])).toEqual([]);
    expect(confs().filter((f) => f.includes(id.slice(0, 12)))).toEqual([]);
  });

  test("ls filters: name, id, label, driver, type, dangling", async () => {
    const idA = await ok(["network", "create", "--label", "f=1", "napi-fa"]);
    await ok(["network", "create", "--label", "f=2", "napi-fb"]);
    const names = async (...f: string[]) => (await ok(["network", "ls", "--format", "{{.Name}}", ...f.flatMap((x) => ["--filter", x])])).split("\n").filter(Boolean).sort();
    expect(await names("name=napi-f")).toEqual(["napi-fa", "napi-fb"]);
    expect(await names(`id=${idA.slice(0, 10)}`)).toEqual(["napi-fa"]);
    expect(await names("label=f=2")).toEqual(["napi-fb"]);
    expect(await names("label=f")).toEqual(["napi-fa", "napi-fb"]);
    expect(await names("type=builtin")).toEqual(["bridge", "host", "none"]);
    expect(await names("type=custom", "name=napi-f")).toEqual(["napi-fa", "napi-fb"]);
    expect(await names("driver=null")).toEqual(["none"]);
    expect(await names("dangling=true", "name=napi-f")).toEqual(["napi-fa", "napi-fb"]);
    const bad = await b.docker(["network", "ls", "--filter", "colour=red"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("invalid filter 'colour'");
    await ok(["network", "rm", "napi-fa", "napi-fb"]);
  });

  test("prune removes unused custom networks only (label filters)", async () => {
    await ok(["network", "create", "--label", "keep=yes", "napi-p1"]);
    await ok(["network", "create", "napi-p2"]);
    const out = await ok(["network", "prune", "-f", "--filter", "label!=keep=yes"]);
    expect(out).toContain("napi-p2");
    expect(out).not.toContain("napi-p1");
    const left = await ok(["network", "ls", "--format", "{{.Name}}"]);
    expect(left).toContain("napi-p1");
    expect(left).toContain("bridge");
    await ok(["network", "prune", "-f"]);
    expect(await ok(["network", "ls", "--format", "{{.Name}}", "--filter", "type=custom"])).toBe("");
  });

  test("bad input gets docker's errors and changes nothing", async () => {
    await ok(["network", "create", "--subnet", SUB_B, "napi-x"]);
    const before = { confs: confs().sort(), nets: await ok(["network", "ls", "-q"]) };
    const cases: [string[], RegExp][] = [
      [["network", "create", "--subnet", SUB_B.replace(".0/24", ".0/25"), "napi-overlap"], /Pool overlaps with other one on this address space/],
      [["network", "create", "napi-x"], /network with name napi-x already exists/],
      [["network", "create", "-d", "overlay", "napi-o"], /plugin "overlay" not found/],
      [["network", "create", "--ipv6", "napi-6"], /IPv6/],
      [["network", "create", "--subnet", "10.300.0.0/24", "napi-bad"], /subnet/i],
      [["network", "create", "--subnet", SUB_B.replace(".2.0/24", ".3.0/24"), "--gateway", "192.0.2.1", "napi-gw"], /gateway/i],
      [["network", "create", "bad/name"], /invalid network name/],
      [["network", "create", "host"], /host/],
      [["network", "rm", "bridge"], /bridge is a pre-defined network and cannot be removed/],
      [["network", "rm", "none"], /none is a pre-defined network and cannot be removed/],
      [["network", "rm", "napi-nope"], /network napi-nope not found/],
      [["network", "inspect", "napi-nope"], /network napi-nope not found/],
    ];
    for (const [args, re] of cases) {
      const r = await b.docker(args);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toMatch(re);
    }
    expect(confs().sort()).toEqual(before.confs);
    expect(await ok(["network", "ls", "-q"])).toBe(before.nets);
    // raw API: status codes as docker's
    const st = async (path: string, init: RequestInit) => (await b.fetch(path, init)).status;
    expect(await st("/networks/create", { method: "POST", body: JSON.stringify({ Name: "napi-x" }) })).toBe(409);
    expect(await st("/networks/create", { method: "POST", body: JSON.stringify({ Name: "z", EnableIPv6: true }) })).toBe(400);
    expect(await st("/networks/create", { method: "POST", body: "{not json" })).toBe(400);
    expect(await st("/networks/create", { method: "POST", body: JSON.stringify({ Name: "z", Labels: { a: 1 } }) })).toBe(400);
    expect(await st("/networks/napi-nope", { method: "DELETE" })).toBe(404);
    expect(await st("/networks/bridge", { method: "DELETE" })).toBe(403);
    expect(await st("/networks/napi-x/connect", { method: "POST", body: JSON.stringify({ Container: "nosuch" }) })).toBe(404);
    await ok(["network", "rm", "napi-x"]);
  });

  test("create/remove cycles leave no bridge, rule, conflist or lease dir", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push(await ok(["network", "create", `napi-c${i}`]));
      await ok(["network", "rm", `napi-c${i}`]);
    }
    for (const id of ids) {
      expect(linkExists(`br-${id.slice(0, 12)}`)).toBe(false);
      expect(confs().filter((f) => f.includes(id.slice(0, 12)))).toEqual([]);
      expect(existsSync(join(b.dataRoot, "cni", "networks", `berth-${id.slice(0, 12)}`))).toBe(false);
    }
    expect(await rulesMentioning(ids.flatMap((id) => [`br-${id.slice(0, 12)}`, `berth-${id.slice(0, 12)}`]))).toEqual([]);
  });
});
