/**
 * What the registry client adds to image references (src/engine/images/reference.ts
 * parses and normalizes them): the API host of a domain, the manifest selector,
 * and which registries docker lets through without TLS verification.
 */
import { DEFAULT_DOMAIN, DEFAULT_TAG, familiarName, type Reference } from "../images/reference.ts";

/** docker.io's API host. */
const DOCKER_IO_API_HOST = "registry-1.docker.io";

/** What the manifest endpoint is asked for: the digest when there is one, else the tag. */
export function manifestSelector(ref: Reference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}

/** docker's short form of a reference: "busybox:latest", "localhost:5000/x@sha256:..." */
export function familiarReference(ref: Reference): string {
  return familiarName(ref.name) + (ref.digest ? `@${ref.digest}` : ref.tag ? `:${ref.tag}` : "");
}

/** The host:port the registry API is served on. */
export function apiHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_IO_API_HOST : domain;
}

/** Hostname without port or IPv6 brackets. */
export function hostname(domain: string): string {
  if (domain.startsWith("[")) return domain.slice(1, domain.indexOf("]"));
  const c = domain.lastIndexOf(":");
  return c >= 0 ? domain.slice(0, c) : domain;
}

/**
 * docker allows plain http (and unverified TLS) for loopback registries without
 * configuration: localhost, 127.0.0.0/8 and ::1.
 */
export function isLoopbackDomain(domain: string): boolean {
  const h = hostname(domain).toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
