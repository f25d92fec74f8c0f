/**
 * The host bridge of a berth network, made when the network is created (as
 * docker does) rather than on the first attach: the gateway address and its
 * route exist from then on, so the embedded DNS can listen on it and the next
 * network's subnet choice sees the route. The bridge plugin finds it in place.
 */
import { writeFileSync } from "node:fs";
import { must } from "./command.ts";
import { deleteLink, linkExists } from "./host.ts";
import { parseCidr } from "./ipnet.ts";

/**
 * A fixed, locally administered MAC for a network's bridge. Without one the
 * kernel gives a bridge the lowest MAC of its ports, which changes as
 * containers come and go (and CNI CHECK then fails: the bridge plugin compares
 * it with the cached result).
 */
export function bridgeMac(networkId: string): string {
  const hex = networkId.replace(/[^0-9a-f]/g, "").padEnd(10, "0").slice(0, 10);
  return ["02", ...hex.match(/../g)!].join(":");
}

export async function ensureBridge(name: string, gateway: string, subnet: string, mtu?: number, mac?: string): Promise<void> {
  const prefix = parseCidr(subnet).prefix;
  const cmds: string[] = [];
  if (!(await linkExists(name))) cmds.push(`link add name ${name}${mtu ? ` mtu ${mtu}` : ""}${mac ? ` address ${mac}` : ""} type bridge`);
  else if (mac) cmds.push(`link set dev ${name} address ${mac}`);
  cmds.push(`addr replace ${gateway}/${prefix} dev ${name}`, `link set dev ${name} up`);
  try {
    await must(["ip", "-batch", "-"], `bridge ${name}`, { stdin: cmds.join("\n") + "\n" });
  } catch (e) {
    if (cmds[0]!.startsWith("link add")) await deleteLink(name).catch(() => {});
    throw e;
  }
}

export { deleteLink as deleteBridge };

/**
 * Let 127.0.0.1 be routed out of the bridge: published ports on the host's
 * loopback DNAT to a container (as the portmap plugin and docker without its
 * userland proxy do). The network's rules drop anything new arriving from the
 * bridge for 127.0.0.0/8 (firewall.ts), which this would otherwise let in.
 */
export function enableRouteLocalnet(name: string) {
  writeFileSync(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, "1");
}
