/**
 * The conflist berth generates for one of its bridge networks:
 *
 *   bridge    the host bridge (gateway address on it), a veth into the
 *             container; host-local IPAM with its leases under berth's data
 *             root; capabilities ips/ipRanges/mac (static --ip, --mac-address)
 *   portmap   only with the "portmap" port driver: published ports
 *             (capability portMappings), snat so that 127.0.0.1:port works
 *
 * Masquerade, isolation between networks, forward accepts and (by default)
 * published ports are berth's own iptables rules (firewall.ts): per network,
 * installed once, and per published port in a single iptables-restore. The
 * bridge plugin's ipMasq, the firewall plugin and portmap would do the same
 * work per container with dozens of iptables execs, which was most of the
 * time networking added to a start (bench/network-attach.ts: bridge+portmap+
 * firewall ~360 ms per attach vs ~35 ms for bridge alone). With the portmap
 * driver an attachment without published ports runs the chain without it
 * (attachmentConfList); the chain an attachment was made with is cached, and
 * DEL uses it.
 *
 * An internal network gets bridge alone, without a default route.
 */
import { invalidArgument } from "../../errors.ts";
import { CNI_VERSION, type NetConfList, type PluginConf } from "./cni/types.ts";
import { formatIPv4, last, parseCidr } from "./ipnet.ts";
import { OPT_MTU, type Network } from "./model.ts";

export interface ConfListDirs {
  /** host-local's dataDir (leases: <dir>/<network name>/<ip>) */
  ipamDir: string;
  /** publish ports with the portmap plugin rather than berth's own rules */
  portmap?: boolean;
}

export function cniNameFor(id: string): string {
  return `berth-${id.slice(0, 12)}`;
}

export function bridgeConfList(net: Network, dirs: ConfListDirs): NetConfList {
  if (!net.bridge || !net.subnet || !net.gateway) throw invalidArgument(`network ${net.name}: bridge, subnet and gateway are required`);
  const range: Record<string, string> = { subnet: net.subnet, gateway: net.gateway };
  if (net.ipRange) {
    const sub = parseCidr(net.subnet);
    const r = parseCidr(net.ipRange, "ip-range");
    const start = Math.max(r.base, sub.base + 1);
    const end = Math.min(last(r), last(sub) - 1);
    range.rangeStart = formatIPv4(start);
    range.rangeEnd = formatIPv4(end);
  }
  const bridge: PluginConf = {
    type: "bridge",
    bridge: net.bridge,
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    capabilities: { ips: true, ipRanges: true, mac: true },
    ipam: {
      type: "host-local",
      ranges: [[range]],
      routes: net.internal ? [] : [{ dst: "0.0.0.0/0" }],
      dataDir: dirs.ipamDir,
    },
  };
  const mtu = net.options[OPT_MTU];
  if (mtu !== undefined && mtu !== "" && mtu !== "0") bridge.mtu = Number(mtu);
  const plugins: PluginConf[] = [bridge];
  if (!net.internal && dirs.portmap) plugins.push({ type: "portmap", capabilities: { portMappings: true }, snat: true });
  return { cniVersion: CNI_VERSION, name: net.cniName, plugins };
}

/** The chain one attachment runs: without portmap when it publishes nothing. */
export function attachmentConfList(list: NetConfList, publishes: boolean): NetConfList {
  if (publishes) return list;
  return { ...list, plugins: list.plugins.filter((p) => p.type !== "portmap") };
}

/** The IPv4 gateway docker would choose: the first address of the subnet. */
export function defaultGateway(subnet: string): string {
  return formatIPv4(parseCidr(subnet).base + 1);
}

export function checkMtu(v: string | undefined) {
  if (v === undefined || v === "") return;
  const n = Number(v);
  if (!Number.isInteger(n) || (n !== 0 && (n < 68 || n > 65535))) throw invalidArgument(`options: ${OPT_MTU}: invalid MTU ${JSON.stringify(v)}`);
}

