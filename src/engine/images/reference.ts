/**
 * Image references as docker spells them (distribution/reference grammar):
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [domain [":" port] "/"] path-component ("/" path-component)*
 *
 * Normalization is docker's: "busybox" -> "docker.io/library/busybox:latest",
 * "user/app" -> "docker.io/user/app:latest", "index.docker.io/x" -> "docker.io/x",
 * a first component with "." or ":" (or "localhost", or an uppercase letter) is
 * a registry. A reference with a digest keeps it; a tag next to a digest is
 * dropped (the digest decides, as in docker pull).
 */
import { invalidArgument } from "../../errors.ts";

export const DEFAULT_DOMAIN = "docker.io";
export const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
export const OFFICIAL_REPO_PREFIX = "library/";
export const DEFAULT_TAG = "latest";

const NAME_MAX = 255;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** A parsed, normalized reference. */
export interface Reference {
  /** registry host[:port], e.g. "docker.io", "localhost:5000" */
  domain: string;
  /** repository path on the registry, e.g. "library/busybox" */
  path: string;
  /** `${domain}/${path}` */
  name: string;
  /** set for name:tag references (defaulted to "latest" when neither tag nor digest was given) */
  tag?: string;
  /** set for name@digest references */
  digest?: string;
}

/**
 * Parse and normalize a reference. Throws InvalidArgument naming what is wrong.
 * `defaultTag: false` leaves a bare name without a tag (for repository-only
 * arguments such as `docker push name` or the `reference` filter).
 */
export function parseReference(s: string, opts: { defaultTag?: boolean } = {}): Reference {
  if (typeof s !== "string" || s === "") throw invalidArgument("invalid reference format: empty reference");
  if (HEX64.test(s)) throw invalidArgument(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      if (/^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/.test(digest))
        throw invalidArgument(`invalid reference "${s}": unsupported digest "${digest}" (only sha256:<64 lowercase hex>)`);
      throw invalidArgument(`invalid reference format: "${s}": bad digest`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalidArgument(`invalid reference format: "${s}": bad tag "${tag}"`);
  }
  const { domain, path } = splitDomain(rest, s);
  const name = `${domain}/${path}`;
  if (name.length > NAME_MAX) throw invalidArgument(`invalid reference format: "${s}": repository name must not be more than ${NAME_MAX} characters`);
  if (digest) return { domain, path, name, digest };
  if (tag === undefined && opts.defaultTag !== false) tag = DEFAULT_TAG;
  return tag === undefined ? { domain, path, name } : { domain, path, name, tag };
}

function splitDomain(name: string, orig: string): { domain: string; path: string } {
  if (name === "") throw invalidArgument(`invalid reference format: "${orig}": empty repository name`);
  const i = name.indexOf("/");
  let domain: string;
  let path: string;
  const first = i < 0 ? "" : name.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    path = name;
  } else {
    domain = first;
    path = name.slice(i + 1);
    if (!DOMAIN.test(domain)) throw invalidArgument(`invalid reference format: "${orig}": bad registry "${domain}"`);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = OFFICIAL_REPO_PREFIX + path;
  if (path.toLowerCase() !== path) throw invalidArgument(`invalid reference format: repository name (${path}) must be lowercase`);
  for (const c of path.split("/")) {
    if (!PATH_COMPONENT.test(c)) throw invalidArgument(`invalid reference format: "${orig}": bad repository name component "${c}"`);
  }
  return { domain, path };
}

/** The full string form: "docker.io/library/busybox:latest", "localhost:5000/x@sha256:...". */
export function formatReference(r: Reference): string {
  if (r.digest) return `${r.name}@${r.digest}`;
  return r.tag === undefined ? r.name : `${r.name}:${r.tag}`;
}

/** Normalize a reference string to its full form ("busybox" -> "docker.io/library/busybox:latest"). */
export function normalizeReference(s: string): string {
  return formatReference(parseReference(s));
}

/** The short name docker shows: "docker.io/library/busybox" -> "busybox", "docker.io/u/a" -> "u/a". */
export function familiarName(name: string): string {
  if (!name.startsWith(DEFAULT_DOMAIN + "/")) return name;
  const p = name.slice(DEFAULT_DOMAIN.length + 1);
  if (p.startsWith(OFFICIAL_REPO_PREFIX) && !p.slice(OFFICIAL_REPO_PREFIX.length).includes("/")) return p.slice(OFFICIAL_REPO_PREFIX.length);
  return p;
}

/** The short string docker shows for a full reference string: "busybox:latest", "u/a@sha256:...". */
export function familiarString(ref: string): string {
  const r = parseReference(ref, { defaultTag: false });
  const n = familiarName(r.name);
  if (r.digest) return `${n}@${r.digest}`;
  return r.tag === undefined ? n : `${n}:${r.tag}`;
}

/** True when the reference string is a name:tag (not a digest reference). */
export function isTagReference(ref: string): boolean {
  return !ref.includes("@");
}

/**
 * Docker's `reference` filter: a shell pattern (path.Match: *, ?, [...]) matched
 * against the familiar name and the familiar name:tag (or name@digest) of a reference.
 */
export function matchesReferencePattern(pattern: string, ref: string): boolean {
  const r = parseReference(ref, { defaultTag: false });
  const fam = familiarName(r.name);
  const full = r.digest ? `${fam}@${r.digest}` : r.tag === undefined ? fam : `${fam}:${r.tag}`;
  const re = globToRegExp(pattern);
  return re.test(fam) || re.test(full);
}

/** Go's path.Match syntax: '*' and '?' never match '/'; [...] classes with '^' or '!' negation. */
export function globToRegExp(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\" && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) throw invalidArgument(`invalid filter pattern "${pattern}": unterminated [`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith("!") || cls.startsWith("^")) cls = "^" + cls.slice(1);
      re += `[${cls.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(re + "$");
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** A full image id "sha256:<64 hex>"? */
export function isFullId(s: string): boolean {
  return DIGEST.test(s);
}

/** An id prefix as docker accepts it: hex (1-64), optionally after "sha256:". Returns the hex part or undefined. */
export function idPrefix(s: string): string | undefined {
  const hex = s.startsWith("sha256:") ? s.slice(7) : s;
  return /^[0-9a-f]{1,64}$/.test(hex) ? hex : undefined;
}
