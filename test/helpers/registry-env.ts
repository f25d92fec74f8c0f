/**
 * Test environment for the registry client: Debian's docker-registry started on
 * 127.0.0.1 (plain, TLS + htpasswd, or token auth with a token server of the
 * test's own), a counting/cutting proxy, and small images written straight
 * into a BlobStore. Everything listens on loopback and is stopped by the tests.
 */
import { createHash, createPrivateKey, sign, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { BlobStore, sha256, type Descriptor } from "../../src/engine/images/blobs.ts";
import { MediaType } from "../../src/engine/images/spec.ts";

export const REGISTRY_BIN = "/usr/bin/docker-registry";
export const haveRegistry = existsSync(REGISTRY_BIN);
export const haveOpenssl = Bun.which("openssl") !== null;

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Cert {
  certFile: string;
  keyFile: string;
  pem: string;
}

/** A self-signed EC P-256 certificate for 127.0.0.1/localhost. */
export function makeCert(dir: string, name: string): Cert {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const r = Bun.spawnSync(
    [
      "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", `/CN=berth-test-${name}`,
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`openssl: ${r.stderr.toString()}`);
  return { certFile, keyFile, pem: readFileSync(certFile, "utf8") };
}

export interface RegistryConfig {
  tls?: Cert;
  htpasswd?: { user: string; password: string };
  token?: { realm: string; service: string; issuer: string; cert: Cert };
}

export interface Registry {
  host: string; // "127.0.0.1:port"
  port: number;
  dir: string;
  log: () => string;
  stop: () => Promise<void>;
}

/** Start docker-registry with a config written here; resolves when /v2/ answers. */
export async function startRegistry(cfg: RegistryConfig = {}): Promise<Registry> {
  const dir = tempDir("registry");
  const port = await freePort();
  const storage = join(dir, "storage");
  mkdirSync(storage);
  const lines = [
    "version: 0.1",
    "log:",
    "  level: info",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${storage}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
  ];
  if (cfg.tls) lines.push("  tls:", `    certificate: ${cfg.tls.certFile}`, `    key: ${cfg.tls.keyFile}`);
  if (cfg.htpasswd) {
    const hash = await Bun.password.hash(cfg.htpasswd.password, { algorithm: "bcrypt", cost: 5 });
    writeFileSync(join(dir, "htpasswd"), `${cfg.htpasswd.user}:${hash}\n`);
    lines.push("auth:", "  htpasswd:", "    realm: berth-test", `    path: ${join(dir, "htpasswd")}`);
  } else if (cfg.token) {
    lines.push(
      "auth:",
      "  token:",
      `    realm: ${cfg.token.realm}`,
      `    service: ${cfg.token.service}`,
      `    issuer: ${cfg.token.issuer}`,
      `    rootcertbundle: ${cfg.token.cert.certFile}`,
    );
  }
  writeFileSync(join(dir, "config.yml"), lines.join("\n") + "\n");
  const logFile = join(dir, "registry.log");
  const proc = Bun.spawn([REGISTRY_BIN, "serve", join(dir, "config.yml")], {
    stdout: Bun.file(logFile),
    stderr: Bun.file(logFile),
    stdin: "ignore",
  });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const url = `${cfg.tls ? "https" : "http"}://127.0.0.1:${port}/v2/`;
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(url, { tls: { rejectUnauthorized: false } } as RequestInit);
      await res.arrayBuffer();
      break;
    } catch {
      if (proc.exitCode !== null || i > 200) {
        proc.kill();
        throw new Error(`docker-registry did not start:\n${log()}`);
      }
      await Bun.sleep(50);
    }
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir,
    log,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------ token server

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export interface TokenServer {
  url: string;
  requests: { scopes: string[]; user?: string }[];
  stop: () => void;
}

/**
 * A token server as the docker token spec describes it: Basic credentials
 * checked against `users`, every requested repository scope granted to a known
 * user (pull only to anonymous callers when `anonymousPull`), ES256 JWT with the
 * certificate in x5c.
 */
export function startTokenServer(opts: { cert: Cert; issuer: string; service: string; users: Record<string, string>; anonymousPull?: boolean }): TokenServer {
  const key = createPrivateKey(readFileSync(opts.cert.keyFile));
  const der = new X509Certificate(opts.cert.pem).raw;
  const requests: TokenServer["requests"] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      const scopes = url.searchParams.getAll("scope");
      let user: string | undefined;
      const auth = req.headers.get("authorization");
      if (auth?.startsWith("Basic ")) {
        const [u, ...rest] = Buffer.from(auth.slice(6), "base64").toString().split(":");
        if (!u || opts.users[u] !== rest.join(":")) {
          requests.push({ scopes, user: u });
          return Response.json({ details: "incorrect username or password" }, { status: 401 });
        }
        user = u;
      }
      requests.push({ scopes, user });
      if (url.searchParams.get("service") !== opts.service) return Response.json({ details: "unknown service" }, { status: 400 });
      const access = scopes.flatMap((s) => {
        const [type, ...rest] = s.split(":");
        const actions = rest.pop()!.split(",");
        const name = rest.join(":");
        const granted = user ? actions : opts.anonymousPull ? actions.filter((a) => a === "pull") : [];
        return granted.length ? [{ type, name, actions: granted }] : [];
      });
      const now = Math.floor(Date.now() / 1000);
      const header = { typ: "JWT", alg: "ES256", x5c: [der.toString("base64")] };
      const claims = { iss: opts.issuer, sub: user ?? "", aud: opts.service, exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
      return Response.json({ token: `${input}.${b64url(sig)}`, expires_in: 300, issued_at: new Date().toISOString() });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/token`, requests, stop: () => server.stop(true) };
}

// ------------------------------------------------------------ proxy

export interface ProxyRequest {
  method: string;
  path: string;
  range?: string;
}

export interface Proxy {
  host: string;
  requests: ProxyRequest[];
  /** cut the next GET of this blob after `bytes` bytes of body */
  cutOnce(digest: string, bytes: number): void;
  /** hold GETs of blobs (those `which` accepts) until release() */
  hold(which?: (digest: string) => boolean): { release: () => void };
  /** blob GETs waiting at the hold / being answered now / most answered at once */
  readonly held: number;
  readonly active: number;
  readonly maxActive: number;
  readonly maxHeld: number;
  blobGets(digest: string): ProxyRequest[];
  stop: () => void;
}

/** A plain-http proxy to a plain-http registry that counts requests and can break one transfer. */
export function startProxy(upstream: string): Proxy {
  const requests: ProxyRequest[] = [];
  const cuts = new Map<string, number>();
  let gate: Promise<void> | undefined;
  let gateFilter: (d: string) => boolean = () => true;
  let held = 0;
  let active = 0;
  let maxActive = 0;
  let maxHeld = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 60,
    async fetch(req) {
      const url = new URL(req.url);
      const entry: ProxyRequest = { method: req.method, path: url.pathname };
      const range = req.headers.get("range");
      if (range) entry.range = range;
      requests.push(entry);
      const blob = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname)?.[1];
      if (blob && req.method === "GET" && gate && gateFilter(blob)) {
        held++;
        maxHeld = Math.max(maxHeld, held);
        await gate;
        held--;
      }
      if (blob && req.method === "GET") {
        active++;
        maxActive = Math.max(maxActive, active);
      }
      try {
        return await forward(req, url, blob);
      } finally {
        if (blob && req.method === "GET") active--;
      }
    },
  });
  async function forward(req: Request, url: URL, blob: string | undefined): Promise<Response> {
      const headers = new Headers(req.headers);
      headers.set("x-forwarded-host", url.host);
      headers.set("x-forwarded-proto", "http");
      headers.delete("host");
      const up = await fetch(`http://${upstream}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body: req.body ? await req.arrayBuffer() : undefined,
        redirect: "manual",
        decompress: false,
      } as RequestInit);
      const cut = blob && req.method === "GET" ? cuts.get(blob) : undefined;
      const outHeaders = new Headers(up.headers);
      if (cut === undefined || !up.body) return new Response(up.body, { status: up.status, headers: outHeaders });
      cuts.delete(blob!);
      const reader = up.body.getReader();
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          const { done, value } = await reader.read();
          if (done) return c.close();
          if (sent + value.length >= cut) {
            c.enqueue(value.subarray(0, cut - sent));
            sent = cut;
            reader.cancel().catch(() => {});
            // drop the connection with the body unfinished
            setTimeout(() => c.error(new Error("cut by test proxy")), 20);
            return;
          }
          sent += value.length;
          c.enqueue(value);
        },
      });
      return new Response(body, { status: up.status, headers: outHeaders });
  }
  return {
    host: `127.0.0.1:${server.port}`,
    requests,
    cutOnce: (d, n) => void cuts.set(d, n),
    get held() {
      return held;
    },
    get active() {
      return active;
    },
    get maxActive() {
      return maxActive;
    },
    get maxHeld() {
      return maxHeld;
    },
    hold: (which = () => true) => {
      gateFilter = which;
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return {
        release: () => {
          gate = undefined;
          release();
        },
      };
    },
    blobGets: (d) => requests.filter((r) => r.method === "GET" && r.path.endsWith(`/blobs/${d}`)),
    stop: () => server.stop(true),
  };
}

// ------------------------------------------------------------ images

export type Compression = "gzip" | "zstd" | "none";

export interface BuiltLayer {
  desc: Descriptor;
  diffID: string;
  tar: Uint8Array;
}

/** A layer tar of `files` (name -> content), compressed as asked, stored in `store`. */
export function buildLayer(store: BlobStore, files: Record<string, string | Uint8Array>, compression: Compression, docker = false): BuiltLayer {
  const dir = tempDir("layer");
  try {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(dir, name, ".."), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    const r = Bun.spawnSync(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", dir, "-cf", "-", ...Object.keys(files).sort()]);
    if (r.exitCode !== 0) throw new Error(`tar: ${r.stderr.toString()}`);
    const tar = new Uint8Array(r.stdout);
    const blob = compression === "gzip" ? zlib.gzipSync(tar) : compression === "zstd" ? zlib.zstdCompressSync(tar) : tar;
    const digest = store.put(blob);
    const mediaType = docker
      ? MediaType.DockerLayerGzip
      : compression === "gzip"
        ? MediaType.OciLayerGzip
        : compression === "zstd"
          ? MediaType.OciLayerZstd
          : MediaType.OciLayer;
    return { desc: { mediaType, digest, size: blob.length }, diffID: sha256(tar), tar };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface BuiltImage {
  manifestDigest: string;
  manifestBytes: Uint8Array;
  mediaType: string;
  config: Descriptor;
  layers: BuiltLayer[];
  platform: { os: string; architecture: string; variant?: string };
}

/** An image manifest (OCI, or docker schema2 with `docker`) over `layers`, stored in `store`. */
export function buildImage(store: BlobStore, layers: BuiltLayer[], opts: { docker?: boolean; architecture?: string; variant?: string; label?: string } = {}): BuiltImage {
  const platform = { os: "linux", architecture: opts.architecture ?? "amd64", ...(opts.variant ? { variant: opts.variant } : {}) };
  const config = {
    created: "2024-01-01T00:00:00Z",
    ...platform,
    config: { Cmd: ["/bin/sh"], Env: ["PATH=/bin"], Labels: { "berth.test": opts.label ?? "x" } },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffID) },
    history: layers.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "test" })),
  };
  const configBytes = new TextEncoder().encode(JSON.stringify(config));
  const configDesc: Descriptor = { mediaType: opts.docker ? MediaType.DockerConfig : MediaType.OciConfig, digest: store.put(configBytes), size: configBytes.length };
  const mediaType = opts.docker ? MediaType.DockerManifest : MediaType.OciManifest;
  const manifest = { schemaVersion: 2, mediaType, config: configDesc, layers: layers.map((l) => l.desc) };
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
  return { manifestDigest: store.put(manifestBytes), manifestBytes, mediaType, config: configDesc, layers, platform };
}

/** An index over images already in `store`. */
export function buildIndex(store: BlobStore, images: BuiltImage[], docker = false): { digest: string; bytes: Uint8Array } {
  const mediaType = docker ? MediaType.DockerManifestList : MediaType.OciIndex;
  const index = {
    schemaVersion: 2,
    mediaType,
    manifests: images.map((i) => ({ mediaType: i.mediaType, digest: i.manifestDigest, size: i.manifestBytes.length, platform: i.platform })),
  };
  const bytes = new TextEncoder().encode(JSON.stringify(index));
  return { digest: store.put(bytes), bytes };
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(i + 65536, n)));
  return out;
}

export function fileDigest(path: string): string {
  return "sha256:" + createHash("sha256").update(readFileSync(path)).digest("hex");
}
