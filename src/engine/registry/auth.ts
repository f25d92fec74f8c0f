/**
 * Registry authentication: anonymous, Basic, and the Bearer token flow (docker
 * token spec): a 401 carries `WWW-Authenticate: Bearer realm=...,service=...,
 * scope=...`; the client asks the realm for a token for the scopes it needs
 * (with Basic credentials, an identity token as OAuth refresh token, or
 * anonymously) and retries. Tokens are cached per scope set until they expire;
 * concurrent requests for the same scopes share one token request.
 */
import { BerthError, invalidArgument } from "../../errors.ts";
import { permissionDenied, readLimited, describeErrorBody, unavailable } from "./errors.ts";

/** What the caller supplies (later: decoded from the X-Registry-Auth header). */
export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth refresh token from a previous login ("identitytoken") */
  identityToken?: string;
  /** a bearer token to use as is ("registrytoken") */
  registryToken?: string;
}

export interface Challenge {
  scheme: string; // lowercased: "basic", "bearer"
  params: Record<string, string>; // keys lowercased
}

/** Parse a WWW-Authenticate header into its challenges (RFC 7235 syntax). */
export function parseChallenges(header: string | null): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  };
  const token = () => {
    const m = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(s.slice(i));
    if (!m) return "";
    i += m[0].length;
    return m[0];
  };
  while (i < s.length) {
    skipWs();
    while (s[i] === ",") {
      i++;
      skipWs();
    }
    const scheme = token();
    if (!scheme) break;
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    for (;;) {
      skipWs();
      const save = i;
      const key = token();
      skipWs();
      if (!key || s[i] !== "=") {
        // not a parameter: the start of the next challenge (or junk)
        i = save;
        break;
      }
      i++;
      skipWs();
      let value = "";
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        // unquoted: a token, leniently anything up to "," or white space (some servers send bare URLs)
        const m = /^[^,\s]*/.exec(s.slice(i))!;
        value = m[0];
        i += value.length;
      }
      ch.params[key.toLowerCase()] = value;
      skipWs();
      if (s[i] === ",") {
        i++;
        continue;
      }
      break;
    }
  }
  return out;
}

/**
 * Credentials from docker's X-Registry-Auth header: base64url(JSON) with
 * username/password (or "auth": base64 "user:pass"), identitytoken, registrytoken.
 * An empty header is anonymous.
 */
export function credentialsFromRegistryAuth(header: string | null | undefined): Credentials | undefined {
  if (!header) return undefined;
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
  } catch {
    throw invalidArgument("X-Registry-Auth: not base64url-encoded JSON");
  }
  if (!doc || typeof doc !== "object") throw invalidArgument("X-Registry-Auth: not a JSON object");
  const str = (k: string) => (typeof doc[k] === "string" && doc[k] !== "" ? (doc[k] as string) : undefined);
  const c: Credentials = {};
  let username = str("username");
  let password = str("password");
  const auth = str("auth");
  if (auth && !username) {
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw invalidArgument("X-Registry-Auth: auth is not base64 user:password");
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (username) c.username = username;
  if (password) c.password = password;
  const it = str("identitytoken");
  if (it) c.identityToken = it;
  const rt = str("registrytoken");
  if (rt) c.registryToken = rt;
  return Object.keys(c).length ? c : undefined;
}

/** Scope strings for a repository: "repository:team/app:pull,push" */
export function repositoryScope(path: string, actions: ("pull" | "push")[]): string {
  return `repository:${path}:${actions.join(",")}`;
}

/** Merge scopes: the same resource's actions are united. */
export function mergeScopes(scopes: string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const s of scopes) {
    const c = s.lastIndexOf(":");
    if (c < 0) {
      byResource.set(s, byResource.get(s) ?? new Set());
      continue;
    }
    const res = s.slice(0, c);
    const set = byResource.get(res) ?? new Set<string>();
    for (const a of s.slice(c + 1).split(",")) if (a) set.add(a);
    byResource.set(res, set);
  }
  return [...byResource.entries()].map(([r, a]) => (a.size ? `${r}:${[...a].sort().join(",")}` : r)).sort();
}

export type Send = (url: URL, init: RequestInit) => Promise<Response>;

interface CachedToken {
  header: string;
  expiresAt: number;
}

const MIN_TOKEN_LIFETIME_S = 60;

/**
 * Per-registry authentication state. `header(scopes)` gives the Authorization
 * value to send (undefined before the registry asked for anything);
 * `challenged(res, scopes)` learns from a 401 and says whether a retry can help.
 */
export class Authorizer {
  private challenge?: Challenge;
  private tokens = new Map<string, CachedToken>();
  private pending = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly creds: Credentials | undefined,
    private readonly send: Send,
    /** whether credentials may go to this URL over plain http */
    private readonly plainHttpAllowed: (url: URL) => boolean,
  ) {}

  /** The Authorization header for a request needing `scopes`, when a scheme is known. */
  async header(scopes: string[]): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === "basic") return this.basic();
    if (ch.scheme === "bearer") return (await this.bearer(ch, scopes)).header;
    return undefined;
  }

  /**
   * Learn from a 401: the Authorization value to retry with, or undefined when a
   * retry cannot help. `previous` is the value the refused request carried.
   */
  async challenged(res: Response, scopes: string[], previous: string | undefined): Promise<string | undefined> {
    const all = parseChallenges(res.headers.get("www-authenticate"));
    const ch = all.find((c) => c.scheme === "bearer") ?? all.find((c) => c.scheme === "basic");
    if (!ch) return undefined;
    this.challenge = ch;
    if (ch.scheme === "basic") {
      const h = this.basic();
      return h !== previous ? h : undefined;
    }
    // a scope in the challenge names what this request needed: ask for it too
    const need = mergeScopes([...scopes, ...(ch.params.scope ? ch.params.scope.split(" ") : [])]);
    const key = this.key(ch, need);
    if (this.tokens.get(key)?.header === previous) this.tokens.delete(key); // refused: do not reuse
    const t = await this.bearer(ch, need);
    return t.header !== previous ? t.header : undefined;
  }

  private basic(): string | undefined {
    const c = this.creds;
    if (!c?.username) return undefined;
    return "Basic " + Buffer.from(`${c.username}:${c.password ?? ""}`).toString("base64");
  }

  private key(ch: Challenge, scopes: string[]) {
    return `${ch.params.realm ?? ""}\n${ch.params.service ?? ""}\n${mergeScopes(scopes).join(" ")}`;
  }

  private async bearer(ch: Challenge, scopes: string[]): Promise<CachedToken> {
    if (this.creds?.registryToken) return { header: `Bearer ${this.creds.registryToken}`, expiresAt: Infinity };
    const merged = mergeScopes(scopes);
    const key = this.key(ch, merged);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached;
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetchToken(ch, merged).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    const t = await p;
    this.tokens.set(key, t);
    return t;
  }

  private async fetchToken(ch: Challenge, scopes: string[]): Promise<CachedToken> {
    const realmRaw = ch.params.realm;
    if (!realmRaw) throw permissionDenied("registry asked for a bearer token without a realm");
    let realm: URL;
    try {
      realm = new URL(realmRaw);
    } catch {
      throw permissionDenied(`token realm "${realmRaw}" is not a URL`);
    }
    if (realm.protocol !== "https:" && realm.protocol !== "http:") throw permissionDenied(`token realm "${realmRaw}" is not http(s)`);
    const c = this.creds;
    const sendsSecret = !!(c?.username || c?.identityToken);
    if (sendsSecret && realm.protocol === "http:" && !this.plainHttpAllowed(realm)) {
      throw permissionDenied(`refusing to send credentials to token realm ${realm.origin} over plain http`);
    }
    const service = ch.params.service;
    let res: Response;
    const context = `token request to ${realm.origin}${realm.pathname}`;
    try {
      if (c?.identityToken) {
        const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: c.identityToken, client_id: "berth" });
        if (service) form.set("service", service);
        if (scopes.length) form.set("scope", scopes.join(" "));
        res = await this.send(realm, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: form.toString(),
        });
      } else {
        const url = new URL(realm);
        if (service) url.searchParams.set("service", service);
        for (const s of scopes) url.searchParams.append("scope", s);
        const headers: Record<string, string> = {};
        if (c?.username) {
          url.searchParams.set("account", c.username);
          headers.authorization = "Basic " + Buffer.from(`${c.username}:${c.password ?? ""}`).toString("base64");
        }
        res = await this.send(url, { method: "GET", headers });
      }
    } catch (e) {
      if (e instanceof BerthError) throw e.wrap(context);
      throw unavailable(`${context}: ${(e as Error).message}`, e);
    }
    const text = new TextDecoder().decode(await readLimited(res, 1 << 20));
    if (!res.ok) {
      const words = describeErrorBody(text).words || `${res.status} ${res.statusText}`.toLowerCase();
      const code = res.status === 401 || res.status === 403 ? "PermissionDenied" : res.status >= 500 ? "Unavailable" : "PermissionDenied";
      throw new BerthError(code, `${context}: ${words}`);
    }
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      doc = JSON.parse(text);
    } catch {
      throw permissionDenied(`${context}: response is not JSON`);
    }
    const token = typeof doc.token === "string" && doc.token ? doc.token : typeof doc.access_token === "string" ? doc.access_token : "";
    if (!token) throw permissionDenied(`${context}: response has no token`);
    const lifetime = typeof doc.expires_in === "number" && doc.expires_in > MIN_TOKEN_LIFETIME_S ? doc.expires_in : MIN_TOKEN_LIFETIME_S;
    const issued = typeof doc.issued_at === "string" && !Number.isNaN(Date.parse(doc.issued_at)) ? Math.min(Date.parse(doc.issued_at), Date.now()) : Date.now();
    // renew a little early so a token does not expire on the wire
    return { header: `Bearer ${token}`, expiresAt: issued + lifetime * 1000 - 5000 };
  }
}
