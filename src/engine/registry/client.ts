/**
 * HTTP to one registry (Bun's fetch): endpoint choice (https; for insecure or
 * loopback registries unverified https then plain http, as docker does), extra
 * CA certificates, authentication with one retry after a 401, and redirects
 * followed by hand so credentials never leave the registry's origin and https
 * is never downgraded.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { BerthError, failedPrecondition, invalidArgument } from "../../errors.ts";
import { VERSION } from "../../version.ts";
import { Authorizer, type Credentials } from "./auth.ts";
import { responseError, unavailable } from "./errors.ts";
import { apiHost, isLoopbackDomain } from "./reference.ts";

export interface RegistryOptions {
  credentials?: Credentials;
  /** PEM file with CA certificates trusted for this registry, besides the system ones */
  caFile?: string;
  /** PEM text of CA certificates trusted for this registry, besides the system ones and caFile's */
  caPem?: string;
  /**
   * allow plain http and unverified https (docker's insecure-registries);
   * default: only for loopback registries (localhost, 127.0.0.0/8, ::1), as docker
   */
  insecure?: boolean;
  userAgent?: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** a factory, so the body can be sent again after a 401 or a fallback */
  body?: () => RequestInit["body"];
  /** token scopes the request needs */
  scopes: string[];
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 5;

type Tls = { ca?: string[]; rejectUnauthorized?: boolean };

export class RegistryClient {
  readonly domain: string;
  readonly insecure: boolean;
  private readonly auth: Authorizer;
  private readonly ca?: string[];
  private readonly userAgent: string;
  /** the scheme that answered, once one did */
  private scheme?: "https:" | "http:";

  constructor(domain: string, readonly options: RegistryOptions = {}) {
    this.domain = domain;
    this.insecure = options.insecure ?? isLoopbackDomain(domain);
    this.userAgent = options.userAgent ?? `berth/${VERSION}`;
    if (options.caFile) {
      let pem: string;
      try {
        pem = readFileSync(options.caFile, "utf8");
      } catch (e) {
        throw invalidArgument(`caFile ${options.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw invalidArgument(`caFile ${options.caFile}: no PEM certificate in it`);
      this.ca = [...rootCertificates, pem];
    }
    if (options.caPem) {
      if (!options.caPem.includes("-----BEGIN CERTIFICATE-----")) throw invalidArgument("caPem: no PEM certificate in it");
      this.ca = [...(this.ca ?? rootCertificates), options.caPem];
    }
    this.auth = new Authorizer(options.credentials, (url, init) => this.fetchFollowing(url, init), (url) => this.insecure || isLoopbackDomain(url.host));
  }

  /** Base URL of the API ("https://host:port"), before the scheme is known: https. */
  get origin(): string {
    return `${this.scheme ?? "https:"}//${apiHost(this.domain)}`;
  }

  /** Resolve a path or a Location header against the registry. */
  url(pathOrLocation: string): URL {
    return new URL(pathOrLocation, this.origin + "/");
  }

  private tlsFor(url: URL): Tls | undefined {
    if (url.protocol !== "https:") return undefined;
    if (this.insecure) return { rejectUnauthorized: false };
    return this.ca ? { ca: this.ca } : undefined;
  }

  /** One fetch, following redirects by hand; an Authorization header never leaves the first URL's origin. */
  private async fetchFollowing(url: URL, init: RequestInit): Promise<Response> {
    let current = url;
    let req: RequestInit = { ...init };
    for (let hop = 0; ; hop++) {
      const headers = new Headers(req.headers);
      if (!headers.has("user-agent")) headers.set("user-agent", this.userAgent);
      if (current.origin !== url.origin) headers.delete("authorization");
      const res = await fetch(current, { ...req, headers, redirect: "manual", tls: this.tlsFor(current) } as RequestInit);
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      const loc = res.headers.get("location");
      if (!loc) return res;
      res.body?.cancel().catch(() => {});
      if (hop >= MAX_REDIRECTS) throw unavailable(`${current.origin}: too many redirects`);
      const next = new URL(loc, current);
      if (next.protocol !== "https:" && next.protocol !== "http:") throw failedPrecondition(`refusing redirect to a ${next.protocol} URL`);
      if (current.protocol === "https:" && next.protocol === "http:" && !this.insecure) {
        throw failedPrecondition(`refusing redirect from https to plain http (${next.origin})`);
      }
      if (res.status === 303 && req.method !== "HEAD") req = { ...req, method: "GET", body: undefined };
      current = next;
    }
  }

  /**
   * A request to the registry API with authentication. Returns any response
   * (the caller decides which statuses are success); throws Unavailable when the
   * registry cannot be reached.
   */
  async request(pathOrUrl: string | URL, opts: RequestOptions): Promise<Response> {
    const send = async (authorization: string | undefined): Promise<Response> => {
      const attempt = async () => {
        const url = typeof pathOrUrl === "string" ? this.url(pathOrUrl) : pathOrUrl;
        const headers: Record<string, string> = { ...opts.headers };
        if (authorization && url.origin === new URL(this.origin).origin) headers.authorization = authorization;
        return this.fetchFollowing(url, { method: opts.method ?? "GET", headers, body: opts.body?.(), signal: opts.signal });
      };
      if (this.scheme) {
        try {
          return await attempt();
        } catch (e) {
          throw this.unreachable(e);
        }
      }
      // first contact: https, then (insecure registries only) plain http
      try {
        const res = await attempt();
        this.scheme = "https:";
        return res;
      } catch (e) {
        // a refusal of ours (BerthError) is not a reason to try plain http
        if (!this.insecure || opts.signal?.aborted || e instanceof BerthError) throw this.unreachable(e);
        this.scheme = "http:";
        try {
          return await attempt();
        } catch (e2) {
          this.scheme = undefined;
          throw this.unreachable(e2);
        }
      }
    };
    const before = await this.auth.header(opts.scopes);
    let res = await send(before);
    if (res.status === 401) {
      const retry = await this.auth.challenged(res, opts.scopes, before);
      if (retry !== undefined) {
        res.body?.cancel().catch(() => {});
        res = await send(retry);
      }
    }
    return res;
  }

  /** Like request, but a non-2xx status is thrown as a BerthError with the registry's words. */
  async requestOk(context: string, pathOrUrl: string | URL, opts: RequestOptions, ok: (status: number) => boolean = (s) => s >= 200 && s < 300) {
    const res = await this.request(pathOrUrl, opts);
    if (!ok(res.status)) throw await responseError(context, res);
    return res;
  }

  private unreachable(e: unknown): BerthError {
    if (e instanceof BerthError) return e;
    const msg = e instanceof Error ? e.message : String(e);
    return unavailable(`registry ${this.domain} unreachable: ${msg.toLowerCase()}`, e);
  }
}
