/**
 * The berth CLI's HTTP client for berthd's socket: version negotiation as the
 * docker client does it (ping, then /v<min(ours, server's)>/ on every call),
 * errors from `{"message"}` bodies as BerthErrors, credentials from docker's
 * config file for X-Registry-Auth.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { BerthError, invalidArgument } from "../../errors.ts";
import { DaemonError } from "./daemon-error.ts";
import { codeForHttpStatus } from "../../api/errors.ts";
import { API_MAX, compareVersions } from "../../api/docker/version.ts";
import { DEFAULT_SOCKET, socketPath } from "../../engine/daemon.ts";

/** -H, else BERTH_HOST, else DOCKER_HOST, else berthd's default socket. */
export function resolveHost(flag: string | undefined, env: Record<string, string | undefined> = process.env): string {
  const h = flag || env.BERTH_HOST || env.DOCKER_HOST || DEFAULT_SOCKET;
  socketPath(h); // checks the form
  return h;
}

export { DaemonError };

export interface RequestOptions {
  query?: Record<string, string | string[] | undefined>;
  body?: RequestInit["body"];
  headers?: Record<string, string>;
  /** abandons the request (a wait that will not end) */
  signal?: AbortSignal;
}

export class ApiClient {
  private readonly socket: string;
  private version?: string;

  constructor(readonly host: string) {
    this.socket = socketPath(host);
  }

  /** the socket's path (for the hijacked streams, which fetch cannot do) */
  get socketPath(): string {
    return this.socket;
  }

  /** The versioned path of an API call (/v1.47/...). */
  async versioned(path: string): Promise<string> {
    return `/v${await this.apiVersion()}${path}`;
  }

  private async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = new URL(`http://berthd${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) url.searchParams.append(k, x);
    }
    try {
      return await fetch(url, { method, body: opts.body, headers: opts.headers, unix: this.socket, duplex: "half", signal: opts.signal } as RequestInit);
    } catch (e) {
      throw new BerthError("Unavailable", `cannot connect to berthd at ${this.host}: ${(e as Error).message.toLowerCase()}`, { cause: e });
    }
  }

  /** The API version to speak: ours, or the daemon's when older. */
  async apiVersion(): Promise<string> {
    if (this.version) return this.version;
    const res = await this.raw("GET", "/_ping");
    await res.arrayBuffer();
    const server = res.headers.get("api-version") ?? API_MAX;
    this.version = compareVersions(server, API_MAX) < 0 ? server : API_MAX;
    return this.version;
  }

  /** A request; a non-2xx answer is thrown as a BerthError carrying the daemon's message. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const v = await this.apiVersion();
    const res = await this.raw(method, `/v${v}${path}`, opts);
    // 304: already so (start of a running container, stop of a stopped one), not an error for docker
    if ((res.status >= 200 && res.status < 300) || res.status === 304) return res;
    const text = await res.text();
    let message = text.trim() || `${res.status} ${res.statusText}`;
    try {
      const doc = JSON.parse(text) as { message?: unknown };
      if (typeof doc.message === "string") message = doc.message;
    } catch {}
    throw new DaemonError(codeForHttpStatus(res.status), message, res.status);
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    return (await res.json()) as T;
  }
}

/** The docker config file the docker CLI keeps logins in ($DOCKER_CONFIG/config.json or ~/.docker/config.json). */
function dockerConfigFile(env: Record<string, string | undefined>): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), ".docker"), "config.json");
}

/**
 * X-Registry-Auth for a registry domain from docker's config file (logins made
 * with `docker login`; credential helpers are not consulted). Empty when none.
 */
export function registryAuthHeader(domain: string, env: Record<string, string | undefined> = process.env): string {
  const file = dockerConfigFile(env);
  if (!existsSync(file)) return "";
  let cfg: { auths?: Record<string, { auth?: string; identitytoken?: string }> };
  try {
    cfg = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw invalidArgument(`${file}: not JSON`);
  }
  const keys = domain === "docker.io" ? ["https://index.docker.io/v1/", "index.docker.io", "docker.io"] : [domain, `https://${domain}`, `http://${domain}`];
  for (const k of keys) {
    const a = cfg.auths?.[k];
    if (!a) continue;
    const doc: Record<string, string> = { serveraddress: k };
    if (a.auth) {
      const s = Buffer.from(a.auth, "base64").toString("utf8");
      const i = s.indexOf(":");
      if (i > 0) Object.assign(doc, { username: s.slice(0, i), password: s.slice(i + 1) });
    }
    if (a.identitytoken) doc.identitytoken = a.identitytoken;
    return Buffer.from(JSON.stringify(doc)).toString("base64url");
  }
  return "";
}
