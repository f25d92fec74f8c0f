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

export async function ensureBridge(name: string, gateway: string, subnet: string, mtu?: number): Promise<void> {
  const prefix = parseCidr(subnet).prefix;
  const cmds: string[] = [];
  if (!(await linkExists(name))) cmds.push(`link add name ${name}${mtu ? ` mtu ${mtu}` : ""} type bridge`);
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
