/**
 * Image references as docker writes them: `[domain/]path[:tag][@digest]`, with
 * docker's normalization (no domain -> docker.io, a single docker.io component ->
 * library/<name>, index.docker.io -> docker.io). The first component is a domain
 * when it has a "." or ":", is "localhost", or has an upper-case letter.
 */
import { invalidArgument } from "../../errors.ts";

export const DEFAULT_DOMAIN = "docker.io";
export const DEFAULT_TAG = "latest";
/** docker.io's API host. */
const DOCKER_IO_API_HOST = "registry-1.docker.io";

export interface Reference {
  /** registry host, with port when given: "docker.io", "localhost:5000", "[::1]:5000" */
  domain: string;
  /** repository path inside the registry: "library/busybox", "team/app" */
  path: string;
  tag?: string;
  digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]{1,5})?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const NAME_MAX = 255;

/** Parse and normalize a reference. Without tag or digest the tag is "latest". */
export function parseReference(input: string): Reference {
  const ref = parseReferenceLoose(input);
  if (!ref.tag && !ref.digest) ref.tag = DEFAULT_TAG;
  return ref;
}

/** Parse and normalize, leaving tag and digest unset when the input has none. */
export function parseReferenceLoose(input: string): Reference {
  const bad = (why: string) => invalidArgument(`invalid reference "${input}": ${why}`);
  if (typeof input !== "string" || input === "") throw bad("empty");
  if (/^[a-f0-9]{64}$/.test(input)) throw bad("cannot specify 64-byte hexadecimal strings as a repository name");

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`invalid digest "${digest}"`);
    if (digest.startsWith("sha256:") && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw bad(`invalid sha256 digest "${digest}"`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`invalid tag "${tag}"`);
  }

  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === "localhost" || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === "index.docker.io") domain = DEFAULT_DOMAIN;
  if (!DOMAIN.test(domain)) throw bad(`invalid registry host "${domain}"`);
  if (path === "") throw bad("empty repository name");
  if (path.toLowerCase() !== path) throw bad("repository name must be lowercase");
  for (const c of path.split("/")) {
    if (!PATH_COMPONENT.test(c)) throw bad(`invalid repository name component "${c}"`);
  }
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = `library/${path}`;
  if (domain.length + 1 + path.length > NAME_MAX) throw bad(`repository name longer than ${NAME_MAX} characters`);
  const ref: Reference = { domain, path };
  if (tag) ref.tag = tag;
  if (digest) ref.digest = digest;
  return ref;
}

/** "domain/path" */
export function repositoryName(ref: Pick<Reference, "domain" | "path">): string {
  return `${ref.domain}/${ref.path}`;
}

/** The full normalized form: "docker.io/library/busybox:latest", "localhost:5000/x@sha256:..." */
export function formatReference(ref: Reference): string {
  return repositoryName(ref) + (ref.tag ? `:${ref.tag}` : "") + (ref.digest ? `@${ref.digest}` : "");
}

/** docker's short form: "busybox:latest", "user/app:1", "localhost:5000/x:y". */
export function familiarName(ref: Pick<Reference, "domain" | "path">): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  return ref.path.startsWith("library/") && ref.path.split("/").length === 2 ? ref.path.slice(8) : ref.path;
}

export function familiarReference(ref: Reference): string {
  return familiarName(ref) + (ref.tag ? `:${ref.tag}` : "") + (ref.digest ? `@${ref.digest}` : "");
}

/** What the manifest endpoint is asked for: the digest when there is one, else the tag. */
export function manifestSelector(ref: Reference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
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
