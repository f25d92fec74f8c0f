/**
 * berth's own iptables rules (filter table), besides what the CNI plugins add:
 *
 *   BERTH-INTERNAL (first in FORWARD)  internal networks: nothing is forwarded
 *                                      into or out of their bridge
 *   BERTH-INPUT    (first in INPUT)    internal networks: the host accepts only
 *                                      DNS to the gateway from their bridge
 *
 * Every berth rule carries the comment "berth:<cni name>", so removing a
 * network removes exactly its rules. The firewall plugin's same-bridge
 * isolation rules are per bridge and the plugin never removes them
 * (ingresspolicy.go: teardown is a no-op), so removing a network removes
 * those too.
 */
import { must, run } from "./command.ts";
import type { Network } from "./model.ts";

const IPT = ["iptables", "-w", "5"];
export const INTERNAL_CHAIN = "BERTH-INTERNAL";
export const INPUT_CHAIN = "BERTH-INPUT";
const ISOLATION_1 = "CNI-ISOLATION-STAGE-1";
const ISOLATION_2 = "CNI-ISOLATION-STAGE-2";

export function commentFor(net: Pick<Network, "cniName">): string {
  return `berth:${net.cniName}`;
}

async function ensureChain(table: string, chain: string, from: string) {
  if ((await run([...IPT, "-t", table, "-n", "-L", chain])).code !== 0) {
    const r = await run([...IPT, "-t", table, "-N", chain]);
    if (r.code !== 0 && !/exists/i.test(r.stderr)) throw new Error(`iptables -N ${chain}: ${r.stderr.trim()}`);
  }
  if ((await run([...IPT, "-t", table, "-C", from, "-j", chain])).code !== 0) {
    await must([...IPT, "-t", table, "-I", from, "1", "-j", chain], `iptables jump ${from} -> ${chain}`);
  }
}

async function ensureRule(chain: string, rule: string[]) {
  if ((await run([...IPT, "-C", chain, ...rule])).code !== 0) await must([...IPT, "-A", chain, ...rule], `iptables -A ${chain}`);
}

/** Install the rules of an internal network (idempotent). */
export async function addInternalRules(net: Network) {
  if (!net.internal || !net.bridge || !net.gateway) return;
  const br = net.bridge;
  const c = ["-m", "comment", "--comment", commentFor(net)];
  await ensureChain("filter", INTERNAL_CHAIN, "FORWARD");
  await ensureChain("filter", INPUT_CHAIN, "INPUT");
  await ensureRule(INTERNAL_CHAIN, ["-i", br, "!", "-o", br, ...c, "-j", "DROP"]);
  await ensureRule(INTERNAL_CHAIN, ["-o", br, "!", "-i", br, ...c, "-j", "DROP"]);
  for (const proto of ["udp", "tcp"]) await ensureRule(INPUT_CHAIN, ["-i", br, "-d", net.gateway, "-p", proto, "--dport", "53", ...c, "-j", "ACCEPT"]);
  await ensureRule(INPUT_CHAIN, ["-i", br, ...c, "-j", "DROP"]);
}

/** Split one line of `iptables -S` into arguments (double quotes, backslash escapes). */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inQ = false;
  let have = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (inQ) {
      if (ch === "\\" && i + 1 < line.length) cur += line[++i];
      else if (ch === '"') inQ = false;
      else cur += ch;
    } else if (ch === '"') {
      inQ = true;
      have = true;
    } else if (ch === " ") {
      if (have || cur) out.push(cur);
      cur = "";
      have = false;
    } else cur += ch;
  }
  if (have || cur) out.push(cur);
  return out;
}

/** Delete the rules of `chain` (filter table) for which `match` holds. */
async function deleteRulesWhere(table: string, chain: string, match: (args: string[]) => boolean): Promise<number> {
  const r = await run([...IPT, "-t", table, "-S", chain]);
  if (r.code !== 0) return 0; // no such chain
  let n = 0;
  for (const line of r.stdout.split("\n")) {
    const args = splitRule(line.trim());
    if (args[0] !== "-A" || !match(args)) continue;
    const d = await run([...IPT, "-t", table, "-D", ...args.slice(1)]);
    if (d.code === 0) n++;
  }
  return n;
}

/**
 * Remove every filter rule berth or the firewall plugin's isolation made for
 * this network's bridge. Idempotent.
 */
export async function removeNetworkRules(net: Pick<Network, "cniName" | "bridge">) {
  const comment = commentFor(net);
  for (const chain of [INTERNAL_CHAIN, INPUT_CHAIN]) await deleteRulesWhere("filter", chain, (a) => a.includes(comment));
  if (net.bridge) {
    const br = net.bridge;
    await deleteRulesWhere("filter", ISOLATION_1, (a) => a.includes("-i") && a[a.indexOf("-i") + 1] === br);
    await deleteRulesWhere("filter", ISOLATION_2, (a) => a.includes("-o") && a[a.indexOf("-o") + 1] === br);
  }
}

/** Lines of iptables-save (all tables) that contain any of `needles`: for leak checks and reconcile. */
export async function rulesMentioning(needles: string[]): Promise<string[]> {
  const r = await run(["iptables-save"]);
  return r.stdout.split("\n").filter((l) => !l.startsWith("#") && needles.some((n) => n && l.includes(n)));
}

/**
 * Remove the iptables rules CNI plugins tagged with this attachment's comment
 * (`name: "<network>" id: "<container>"`, as the bridge plugin's masquerade
 * and portmap's DNAT rules are), and the per-attachment chains they jumped
 * to once empty. Needed because the bridge plugin's DEL returns before
 * removing its masquerade rules when the network namespace is already gone
 * (a container's /proc/<pid>/ns/net after it died, or after a crash).
 * Returns how many rules were removed.
 */
export async function scrubAttachmentRules(cniName: string, containerId: string): Promise<number> {
  const mark = `name: "${cniName}" id: "${containerId}"`;
  const save = await run(["iptables-save"]);
  if (save.code !== 0) return 0;
  let table = "";
  const hits: { table: string; args: string[] }[] = [];
  for (const line of save.stdout.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1).trim();
    if (!line.startsWith("-A ")) continue;
    const args = splitRule(line);
    if (args.some((a) => a.endsWith(mark))) hits.push({ table, args });
  }
  let n = 0;
  const chains = new Set<string>();
  for (const h of hits) {
    const j = h.args.indexOf("-j");
    const target = j >= 0 ? h.args[j + 1] : undefined;
    if (target?.startsWith("CNI-") && !["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ", "CNI-FORWARD", "CNI-ADMIN"].includes(target)) chains.add(`${h.table}\t${target}`);
    if ((await run([...IPT, "-t", h.table, "-D", ...h.args.slice(1)])).code === 0) n++;
  }
  for (const c of chains) {
    const [t, chain] = c.split("\t") as [string, string];
    await run([...IPT, "-t", t, "-F", chain]);
    await run([...IPT, "-t", t, "-X", chain]);
  }
  return n;
}
