/**
 * CapAdd/CapDrop/Privileged -> the container's capability set, as docker
 * computes it (moby caps.TweakCapabilities): names in any case, with or
 * without "CAP_", and "ALL".
 */
import { failedPrecondition, invalidArgument } from "../../errors.ts";
import { CAPABILITIES, capNames, hostBoundingSet, isCapability, lastCap } from "../../oci/capabilities.ts";
import { DOCKER_DEFAULT_CAPABILITIES } from "../../runtime/seccomp/docker-default.ts";

/** "net_admin" -> "CAP_NET_ADMIN", "all" -> "ALL"; InvalidArgument `unknown capability: "X"`. */
export function normalizeCapability(name: string): string {
  const up = name.toUpperCase();
  if (up === "ALL") return "ALL";
  const full = up.startsWith("CAP_") ? up : `CAP_${up}`;
  if (!isCapability(full)) throw invalidArgument(`unknown capability: ${JSON.stringify(name)}`);
  return full;
}

/**
 * Every capability a container can be given here: those the running kernel
 * knows, that this process still holds in its bounding set (a capability the
 * host dropped, such as CAP_SYS_RESOURCE on some machines, cannot be granted).
 */
export function allCapabilities(): string[] {
  const last = Math.min(lastCap(), CAPABILITIES.length - 1);
  const held = new Set(capNames(hostBoundingSet()));
  return CAPABILITIES.slice(0, last + 1).filter((c) => held.has(c));
}

export function containerCapabilities(
  add: readonly string[] | null | undefined,
  drop: readonly string[] | null | undefined,
  privileged: boolean,
  all: () => readonly string[] = allCapabilities,
): string[] {
  if (privileged) return [...all()];
  const adds = (add ?? []).map(normalizeCapability);
  const drops = (drop ?? []).map(normalizeCapability);
  const hostAll = () => new Set(all());
  let caps: string[];
  if (adds.includes("ALL")) caps = all().filter((c) => !drops.includes(c));
  else if (drops.includes("ALL")) caps = adds;
  else caps = [...DOCKER_DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds];
  const can = hostAll();
  for (const c of adds) {
    if (c !== "ALL" && !can.has(c)) throw failedPrecondition(`capability ${c} is not available on this host`);
  }
  return [...new Set(caps)].filter((c) => can.has(c));
}
