/**
 * Helpers for the network tests: busybox containers under bin/berth-runtime
 * (servers in their own network namespace, clients joining a persistent one),
 * and the leak checks (veths, iptables rules, leases, cache, netns).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import { rulesMentioning } from "../../../src/engine/network/firewall.ts";
import { nsMountsUnder } from "../../../src/engine/network/netns.ts";
import { makeBundle, ROOTFS, RUNTIME, type Bundle, type RuntimeCli } from "../harness.ts";

export const haveCni = ["bridge", "host-local", "portmap", "firewall"].every((p) => existsSync(join("/usr/lib/cni", p)));

/** A writable /tmp, and (optionally) a private /etc with the given files over the busybox one. */
export function netBundle(args: string[], opts: { netns?: string; etc?: Record<string, string>; caps?: string[] } = {}): Bundle {
  return makeBundle(args, (s: Spec) => {
    s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"] });
    if (opts.netns) s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === "network" ? { type: "network", path: opts.netns } : n));
    if (opts.caps) for (const set of ["bounding", "effective", "permitted"] as const) s.process!.capabilities![set]!.push(...opts.caps);
    if (opts.etc) {
      s.mounts!.push({ destination: "/etc", type: "bind", source: "/ETC-PLACEHOLDER", options: ["rbind", "ro"] });
    }
  });
}

/** Fill in the private /etc of a bundle made with `etc` (busybox's files + the given ones). */
export function writeEtc(b: Bundle, files: Record<string, string>) {
  const dir = join(b.dir, "etc");
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(join(ROOTFS, "etc"))) writeFileSync(join(dir, f), readFileSync(join(ROOTFS, "etc", f)));
  for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
  const m = b.spec.mounts!.find((x) => x.source === "/ETC-PLACEHOLDER")!;
  m.source = dir;
  b.write();
}

/** `run` in the foreground without blocking the event loop (the test's DNS servers live in this process). */
export async function runAsync(rt: RuntimeCli, b: Bundle, id: string, timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([RUNTIME, "--root", rt.root, "run", "--bundle", b.dir, id], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** `create` a container (own network namespace); returns its init pid. start() later. */
export function createContainer(rt: RuntimeCli, b: Bundle, id: string): number {
  rt.ok(["create", "--bundle", b.dir, id]);
  return rt.state(id).pid;
}

/** An HTTP GET over busybox nc from inside a container: the response body, or "" */
export const ncGet = (ip: string, port = 80) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 nc -w 2 ${ip} ${port}; echo "rc=$?"`;

/** The script for an httpd container serving `text` at / on port 80. */
export const httpd = (text: string) => `mkdir -p /tmp/www && echo ${text} > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www`;

export function vethsOn(bridge: string): string[] {
  const r = Bun.spawnSync(["ip", "-j", "link", "show", "master", bridge]);
  if (r.exitCode !== 0) return [];
  return (JSON.parse(r.stdout.toString() || "[]") as { ifname: string }[]).map((l) => l.ifname);
}

export function linkExists(name: string): boolean {
  return Bun.spawnSync(["ip", "link", "show", "dev", name]).exitCode === 0;
}

/** host-local lease files (IPs) of a CNI network */
export function leases(ipamDir: string, cniName: string): string[] {
  try {
    return readdirSync(join(ipamDir, cniName)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  } catch {
    return [];
  }
}

/** How a CNI plugin's rule comment names a container, as iptables-save prints it (quotes escaped) and unescaped. */
export function idNeedles(containerId: string): string[] {
  return [`id: \\"${containerId}\\"`, `id: "${containerId}"`];
}

export interface LeakReport {
  veths: string[];
  rules: string[];
  leases: string[];
  cache: string[];
  netns: string[];
  nsMounts: string[];
}

/** Everything left on the host that mentions one of these networks or containers. */
export async function leftovers(o: { root: string; netnsDir: string; networks: { cniName: string; bridge?: string }[]; containers: string[]; networkStays?: boolean }): Promise<LeakReport> {
  const ipam = join(o.root, "cni", "networks");
  // a network that stays keeps its bridge's rules; then only the containers' rules count
  const needles = [...(o.networkStays ? [] : o.networks.flatMap((n) => [n.cniName, n.bridge ?? ""])), ...o.containers.flatMap((c) => [...idNeedles(c), `:${c}"`])];
  let cache: string[] = [];
  try {
    cache = readdirSync(join(o.root, "cni", "cache", "results"));
  } catch {}
  return {
    veths: o.networks.flatMap((n) => (n.bridge ? vethsOn(n.bridge) : [])),
    rules: await rulesMentioning(needles.filter(Boolean)),
    leases: o.networks.flatMap((n) => leases(ipam, n.cniName)),
    cache: cache.filter((f) => o.containers.some((c) => f.includes(c))),
    netns: readdirSync(o.netnsDir).filter((f) => o.containers.includes(f)),
    nsMounts: nsMountsUnder(o.netnsDir),
  };
}

export const NO_LEAKS: LeakReport = { veths: [], rules: [], leases: [], cache: [], netns: [], nsMounts: [] };

/**
 * After a test's berthd stopped: remove every network it left (the default
 * bridge stays up after a daemon stops, as docker0 does), with reconcile
 * first so that no attachment holds one. Leaves nothing of berth's on the host.
 */
export async function purgeNetworks(dataRoot: string, netnsDir: string): Promise<void> {
  const { openDb } = await import("../../../src/engine/db.ts");
  const { NetworkManager } = await import("../../../src/engine/network/manager.ts");
  const db = openDb(join(dataRoot, "berth.db"));
  const m = await NetworkManager.open({ db, dataRoot, netnsDir });
  try {
    await m.reconcile(() => false);
    for (const n of m.store.networks()) await m.remove(n.owner, n.id, { removeDefault: true });
  } finally {
    m.close();
    db.close();
  }
}
