/**
 * berth's own iptables rules: the per-network part of a bridge network's
 * firewall, installed once when the network is set up (as docker does per
 * bridge), so that attaching a container runs no iptables at all unless it
 * publishes ports. The CNI firewall plugin and the bridge plugin's ipMasq
 * would do the same per container, at ~130 ms and ~60 ms of iptables execs
 * each per attach and again per detach (bench/network-attach.ts).
 *
 *   filter FORWARD -> BERTH-FORWARD (first)
 *     -j BERTH-ISOLATION-1                      always first: isolation before any accept
 *     -o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT   \
 *     -o BR -m conntrack --ctstate DNAT -j ACCEPT                    > per non-internal network (needed
 *     -i BR -j ACCEPT                                               /  where FORWARD's policy is DROP)
 *   BERTH-ISOLATION-1
 *     -i BR ! -o BR -j BERTH-ISOLATION-2        per network: leaving a bridge for another...
 *     -i BR ! -o BR -j DROP, -o BR ! -i BR -j DROP                 internal networks: nothing in or out
 *   BERTH-ISOLATION-2
 *     -o BR -j DROP                             ...berth bridge is dropped (docker's two stages)
 *   filter INPUT -> BERTH-INPUT (first)
 *     internal networks: only DNS to their gateway reaches the host
 *     others: nothing new to 127.0.0.0/8 from the bridge (route_localnet is on
 *     for published ports on 127.0.0.1; without this a container could reach
 *     the host's loopback services, CVE-2020-8558)
 *   nat POSTROUTING -> BERTH-POSTROUTING
 *     -s SUBNET ! -o BR -j MASQUERADE           non-internal networks (docker's rule)
 *     -o BR -m addrtype --src-type LOCAL -j MASQUERADE   the host (127.0.0.1 too) to a published port
 *     -s SUBNET -o BR --ctstate DNAT -j MASQUERADE       hairpin: a container to its own network's published port
 *   nat PREROUTING, OUTPUT (dst-type LOCAL) -> BERTH-DNAT
 *     [-d HOSTIP] -p PROTO --dport HOSTPORT -j DNAT --to IP:PORT   per published port (portRules)
 *
 * Network rules carry the comment "berth:<cni name>", so removing a network
 * removes exactly its rules; port rules "berth:<cni name>:<container id>".
 */
import { must, run } from "./command.ts";
import { OPT_MASQ, type Network, type PortBinding } from "./model.ts";

const IPT = ["iptables", "-w", "5"];
export const FORWARD_CHAIN = "BERTH-FORWARD";
export const ISOLATION_1 = "BERTH-ISOLATION-1";
export const ISOLATION_2 = "BERTH-ISOLATION-2";
export const INPUT_CHAIN = "BERTH-INPUT";
export const NAT_CHAIN = "BERTH-POSTROUTING";
export const DNAT_CHAIN = "BERTH-DNAT";
/** the CNI firewall plugin's same-bridge isolation chains (removed with a network if present) */
const CNI_ISOLATION = ["CNI-ISOLATION-STAGE-1", "CNI-ISOLATION-STAGE-2"];

export function commentFor(net: Pick<Network, "cniName">): string {
  return `berth:${net.cniName}`;
}

async function ensureChain(table: string, chain: string) {
  if ((await run([...IPT, "-t", table, "-n", "-L", chain])).code === 0) return;
  const r = await run([...IPT, "-t", table, "-N", chain]);
  if (r.code !== 0 && !/exists/i.test(r.stderr)) throw new Error(`iptables -t ${table} -N ${chain}: ${r.stderr.trim()}`);
}

async function ensureJump(table: string, from: string, rule: string[], first = true) {
  if ((await run([...IPT, "-t", table, "-C", from, ...rule])).code !== 0) {
    await must([...IPT, "-t", table, first ? "-I" : "-A", from, ...(first ? ["1"] : []), ...rule], `iptables ${from} -> ${rule.at(-1)}`);
  }
}

let chainsReady = false;

/** berth's chains and the jumps into them (once per process; idempotent). */
export async function ensureChains() {
  if (chainsReady) return;
  for (const c of [FORWARD_CHAIN, ISOLATION_1, ISOLATION_2, INPUT_CHAIN]) await ensureChain("filter", c);
  await ensureChain("nat", NAT_CHAIN);
  await ensureChain("nat", DNAT_CHAIN);
  await ensureJump("filter", FORWARD_CHAIN, ["-j", ISOLATION_1]);
  await ensureJump("nat", "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", DNAT_CHAIN]);
  await ensureJump("nat", "OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", DNAT_CHAIN]);
  await ensureJump("filter", "FORWARD", ["-j", FORWARD_CHAIN]);
  await ensureJump("filter", "INPUT", ["-j", INPUT_CHAIN]);
  await ensureJump("nat", "POSTROUTING", ["-j", NAT_CHAIN]);
  chainsReady = true;
}

/** The iptables-restore lines of one network, by table. Pure: unit tested. */
export function networkRules(net: Network): { filter: string[]; nat: string[] } {
  const filter: string[] = [];
  const nat: string[] = [];
  if (!net.bridge || !net.subnet || !net.gateway) return { filter, nat };
  const br = net.bridge;
  const c = `-m comment --comment "${commentFor(net)}"`;
  if (net.internal) {
    filter.push(`-A ${ISOLATION_1} -i ${br} ! -o ${br} ${c} -j DROP`, `-A ${ISOLATION_1} -o ${br} ! -i ${br} ${c} -j DROP`);
    for (const p of ["udp", "tcp"]) filter.push(`-A ${INPUT_CHAIN} -i ${br} -d ${net.gateway}/32 -p ${p} -m ${p} --dport 53 ${c} -j ACCEPT`);
    filter.push(`-A ${INPUT_CHAIN} -i ${br} ${c} -j DROP`);
  } else {
    filter.push(`-A ${ISOLATION_1} -i ${br} ! -o ${br} ${c} -j ${ISOLATION_2}`);
    filter.push(`-A ${FORWARD_CHAIN} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED ${c} -j ACCEPT`);
    filter.push(`-A ${FORWARD_CHAIN} -o ${br} -m conntrack --ctstate DNAT ${c} -j ACCEPT`);
    filter.push(`-A ${FORWARD_CHAIN} -i ${br} ${c} -j ACCEPT`);
    filter.push(`-A ${INPUT_CHAIN} -i ${br} -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED ${c} -j DROP`);
    if (net.options[OPT_MASQ] !== "false") nat.push(`-A ${NAT_CHAIN} -s ${net.subnet} ! -o ${br} ${c} -j MASQUERADE`);
    nat.push(`-A ${NAT_CHAIN} -o ${br} -m addrtype --src-type LOCAL ${c} -j MASQUERADE`);
    nat.push(`-A ${NAT_CHAIN} -s ${net.subnet} -o ${br} -m conntrack --ctstate DNAT ${c} -j MASQUERADE`);
  }
  filter.push(`-A ${ISOLATION_2} -o ${br} ${c} -j DROP`);
  return { filter, nat };
}

/** Install a network's rules in one iptables-restore (after removing any it had: idempotent). */
export async function addNetworkRules(net: Network) {
  await ensureChains();
  await removeNetworkRules(net);
  const { filter, nat } = networkRules(net);
  const text = ["*filter", ...filter, "COMMIT", "*nat", ...nat, "COMMIT", ""].join("\n");
  await must(["iptables-restore", "-w", "5", "--noflush"], `firewall rules of network ${net.name}`, { stdin: text });
}

export function portComment(cniName: string, containerId: string): string {
  return `berth:${cniName}:${containerId}`;
}

/** The nat rules publishing a container's ports (one DNAT per binding). Pure: unit tested. */
export function portRules(cniName: string, containerId: string, ip: string, bindings: PortBinding[]): string[] {
  const c = `-m comment --comment "${portComment(cniName, containerId)}"`;
  return bindings.map((b) => {
    const dst = b.hostIp && b.hostIp !== "0.0.0.0" ? `-d ${b.hostIp}/32 ` : "";
    return `-A ${DNAT_CHAIN} ${dst}-p ${b.protocol} -m ${b.protocol} --dport ${b.hostPort} ${c} -j DNAT --to-destination ${ip}:${b.containerPort}`;
  });
}

/** Publish a container's ports: one iptables-restore. */
export async function addPortRules(cniName: string, containerId: string, ip: string, bindings: PortBinding[]) {
  if (!bindings.length) return;
  await ensureChains();
  const text = ["*nat", ...portRules(cniName, containerId, ip, bindings), "COMMIT", ""].join("\n");
  await must(["iptables-restore", "-w", "5", "--noflush"], `publish ports of ${containerId}`, { stdin: text });
}

/** Unpublish: the rules with the container's port comment, deleted in one iptables-restore. */
export async function removePortRules(cniName: string, containerId: string) {
  const comment = portComment(cniName, containerId);
  const lines = (await savedRules()).filter((r) => r.args.includes(comment)).map((r) => ({ table: r.table, line: r.line.replace(/^-A /, "-D ") }));
  if (!lines.length) return;
  const byTable = new Map<string, string[]>();
  for (const l of lines) byTable.set(l.table, [...(byTable.get(l.table) ?? []), l.line]);
  const text = [...byTable].flatMap(([t, ls]) => [`*${t}`, ...ls, "COMMIT"]).join("\n") + "\n";
  await must(["iptables-restore", "-w", "5", "--noflush"], `unpublish ports of ${containerId}`, { stdin: text });
}

/** Split one line of `iptables -S`/iptables-save into arguments (double quotes, backslash escapes). */
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

/** The "-A ..." rules of iptables-save, split, with their table. */
async function savedRules(): Promise<{ table: string; args: string[]; line: string }[]> {
  const save = await run(["iptables-save"]);
  if (save.code !== 0) return [];
  let table = "";
  const out: { table: string; args: string[]; line: string }[] = [];
  for (const line of save.stdout.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1).trim();
    else if (line.startsWith("-A ")) out.push({ table, args: splitRule(line), line });
  }
  return out;
}

async function deleteRule(r: { table: string; args: string[] }): Promise<boolean> {
  return (await run([...IPT, "-t", r.table, "-D", ...r.args.slice(1)])).code === 0;
}

/**
 * Remove every rule berth made for this network (by comment), and the CNI
 * firewall plugin's same-bridge isolation rules for its bridge if a conflist
 * used them (the plugin never removes those). Idempotent.
 */
export async function removeNetworkRules(net: Pick<Network, "cniName" | "bridge">) {
  const comment = commentFor(net);
  const br = net.bridge;
  for (const r of await savedRules()) {
    const [, chain] = r.args;
    const mine = r.args.includes(comment);
    const cniIso = !!br && CNI_ISOLATION.includes(chain!) && ((r.args.includes("-i") && r.args[r.args.indexOf("-i") + 1] === br) || (r.args.includes("-o") && r.args[r.args.indexOf("-o") + 1] === br));
    if (mine || cniIso) await deleteRule(r);
  }
}

/** Lines of iptables-save (all tables) that contain any of `needles`: for leak checks. */
export async function rulesMentioning(needles: string[]): Promise<string[]> {
  const r = await run(["iptables-save"]);
  return r.stdout.split("\n").filter((l) => !l.startsWith("#") && needles.some((n) => n && l.includes(n)));
}

const SHARED_CNI_CHAINS = ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ", "CNI-FORWARD", "CNI-ADMIN", ...CNI_ISOLATION];

/**
 * Remove the iptables rules CNI plugins tagged with this attachment's comment
 * (`name: "<network>" id: "<container>"`, as the bridge plugin's masquerade
 * and portmap's DNAT rules are), and the per-attachment chains they jumped
 * to; and berth's own port rules of the attachment. Needed because the bridge plugin's DEL returns before removing its
 * masquerade rules when the network namespace is already gone (a container's
 * /proc/<pid>/ns/net after it died, or after a crash), which also hits
 * administrators' conflists with ipMasq. Returns how many rules were removed.
 */
export async function scrubAttachmentRules(cniName: string, containerId: string): Promise<number> {
  const mark = `name: "${cniName}" id: "${containerId}"`;
  const own = portComment(cniName, containerId);
  let n = 0;
  const chains = new Set<string>();
  for (const r of await savedRules()) {
    if (!r.args.some((a) => a.endsWith(mark) || a === own)) continue;
    const j = r.args.indexOf("-j");
    const target = j >= 0 ? r.args[j + 1] : undefined;
    if (target?.startsWith("CNI-") && !SHARED_CNI_CHAINS.includes(target)) chains.add(`${r.table}\t${target}`);
    if (await deleteRule(r)) n++;
  }
  for (const c of chains) {
    const [t, chain] = c.split("\t") as [string, string];
    await run([...IPT, "-t", t, "-F", chain]);
    await run([...IPT, "-t", t, "-X", chain]);
  }
  return n;
}
