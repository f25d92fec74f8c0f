/**
 * Facts about the host's network that network creation must respect: the
 * IPv4 routes and addresses in use (a new subnet must not collide with them)
 * and which links exist.
 */
import { formatCidr, parseCidr, type Cidr } from "./ipnet.ts";
import { must, run } from "./command.ts";

export interface HostRoute {
  dst: Cidr;
  dev: string;
  text: string;
}

/** IPv4 routes of the main table except the default route (`ip -j -4 route`). */
export async function hostRoutes(): Promise<HostRoute[]> {
  const out = JSON.parse(await must(["ip", "-j", "-4", "route", "show"], "read host routes")) as { dst: string; dev?: string }[];
  const routes: HostRoute[] = [];
  for (const r of out) {
    if (!r.dst || r.dst === "default") continue;
    const dst = r.dst.includes("/") ? r.dst : `${r.dst}/32`;
    try {
      const c = parseCidr(dst, "route", false);
      routes.push({ dst: c, dev: r.dev ?? "", text: `${formatCidr(c)} dev ${r.dev ?? "?"}` });
    } catch {}
  }
  return routes;
}

export async function linkExists(name: string): Promise<boolean> {
  return (await run(["ip", "link", "show", "dev", name])).code === 0;
}

/** Remove a link (the bridge of a removed network); absent is fine. */
export async function deleteLink(name: string): Promise<void> {
  if (await linkExists(name)) await must(["ip", "link", "delete", "dev", name], `delete link ${name}`);
}

/** Names of all links in the host namespace. */
export async function linkNames(): Promise<string[]> {
  const out = JSON.parse(await must(["ip", "-j", "link", "show"], "list links")) as { ifname: string }[];
  return out.map((l) => l.ifname);
}
