/**
 * A registry that lies or attacks (a Bun.serve fake on 127.0.0.1): content that
 * does not match its digest, bodies that never end, redirects that would carry
 * credentials elsewhere or downgrade TLS, a token realm over plain http. The
 * client must refuse each, store nothing, leave no partial behind and not hang.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BlobStore, sha256 } from "../../src/engine/images/blobs.ts";
import { pull, type RegistryOptions } from "../../src/engine/registry/index.ts";
import { BerthError } from "../../src/errors.ts";
import { buildImage, buildLayer, haveOpenssl, makeCert, randomBytes, tempDir, type BuiltImage, type Cert } from "../helpers/registry-env.ts";

const dirs: string[] = [];
const servers: { stop: (force?: boolean) => void }[] = [];
afterAll(() => {
  for (const s of servers) s.stop(true);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function store(): BlobStore {
  const d = tempDir("hostile");
  dirs.push(d);
  return new BlobStore(d);
}
function nothingStored(s: BlobStore) {
  expect(readdirSync(join(s.root, "sha256"))).toEqual([]);
  expect(readdirSync(join(s.root, "ingest"))).toEqual([]);
}
async function rejection(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BerthError);
    return e as BerthError;
  }
  throw new Error("expected a rejection");
}

type Hook = (req: Request, url: URL) => Response | Promise<Response> | undefined;

/** Serves `img` from `src` as repository "evil/app" tag "1", unless `hook` answers first. */
function fake(src: BlobStore, img: BuiltImage, hook: Hook, tls?: Cert) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(tls ? { tls: { cert: tls.pem, key: Bun.file(tls.keyFile) } } : {}),
    async fetch(req) {
      const url = new URL(req.url);
      const hooked = await hook(req, url);
      if (hooked) return hooked;
      const m = /^\/v2\/evil\/app\/manifests\/(.+)$/.exec(url.pathname);
      if (m && (m[1] === "1" || m[1] === img.manifestDigest)) {
        return new Response(img.manifestBytes, { headers: { "content-type": img.mediaType, "docker-content-digest": img.manifestDigest } });
      }
      const b = /^\/v2\/evil\/app\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
      if (b && src.has(b[1]!)) return new Response(src.read(b[1]!));
      return Response.json({ errors: [{ code: "NOT_FOUND", message: "no" }] }, { status: 404 });
    },
  });
  servers.push(server);
  return { host: `127.0.0.1:${server.port}`, server };
}

/** An endless body. */
function endless(): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(0x41);
  return new ReadableStream({ pull: (c) => c.enqueue(chunk) });
}

const src = store();
const layer = buildLayer(src, { "x/file": randomBytes(50_000) }, "none");
const img = buildImage(src, [layer]);
const layerPath = `/v2/evil/app/blobs/${layer.desc.digest}`;

describe("a hostile registry", () => {
  test("manifest content that does not match the digest asked for", async () => {
    const other = new TextEncoder().encode(new TextDecoder().decode(img.manifestBytes) + " ");
    const { host } = fake(src, img, (_r, u) => (u.pathname.includes("/manifests/") ? new Response(other, { headers: { "content-type": img.mediaType } }) : undefined));
    const dst = store();
    const e = await rejection(pull(`${host}/evil/app@${img.manifestDigest}`, { store: dst }));
    expect(e.code).toBe("InvalidArgument");
    expect(e.message).toContain(`registry returned content with digest ${sha256(other)}`);
    nothingStored(dst);
  });

  test("a Docker-Content-Digest that does not match the content", async () => {
    const { host } = fake(src, img, (_r, u) =>
      u.pathname.includes("/manifests/") ? new Response(img.manifestBytes, { headers: { "content-type": img.mediaType, "docker-content-digest": "sha256:" + "0".repeat(64) } }) : undefined,
    );
    const dst = store();
    const e = await rejection(pull(`${host}/evil/app:1`, { store: dst }));
    expect(e.message).toContain("does not match the content");
    nothingStored(dst);
  });

  test("an endless manifest is cut at 4 MiB", async () => {
    const { host } = fake(src, img, (_r, u) => (u.pathname.includes("/manifests/") ? new Response(endless(), { headers: { "content-type": img.mediaType } }) : undefined));
    const dst = store();
    const e = await rejection(pull(`${host}/evil/app:1`, { store: dst }));
    expect(e.code).toBe("InvalidArgument");
    expect(e.message).toContain("larger than 4194304 bytes");
    nothingStored(dst);
  });

  test("a layer of the right size with the wrong content: digest mismatch, no blob, no partial", async () => {
    const wrong = randomBytes(layer.desc.size);
    const { host } = fake(src, img, (_r, u) => (u.pathname === layerPath ? new Response(wrong) : undefined));
    const dst = store();
    const e = await rejection(pull(`${host}/evil/app:1`, { store: dst }));
    expect(e.code).toBe("InvalidArgument");
    expect(e.message).toContain(`fetch blob ${layer.desc.digest}: digest mismatch: registry sent ${sha256(wrong)}`);
    expect(dst.has(layer.desc.digest)).toBe(false);
    expect(readdirSync(join(dst.root, "ingest"))).toEqual([]);
  });

  test("a layer that never ends is refused past its announced size", async () => {
    const { host } = fake(src, img, (_r, u) => (u.pathname === layerPath ? new Response(endless()) : undefined));
    const dst = store();
    const e = await rejection(pull(`${host}/evil/app:1`, { store: dst }));
    expect(e.code).toBe("InvalidArgument");
    expect(e.message).toContain(`registry sent more than the ${layer.desc.size} bytes the manifest announced`);
    expect(dst.has(layer.desc.digest)).toBe(false);
    expect(readdirSync(join(dst.root, "ingest"))).toEqual([]);
  });

  test("a redirect to another origin does not carry the credentials", async () => {
    const seen: (string | null)[] = [];
    const elsewhere = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        seen.push(req.headers.get("authorization"));
        return new Response(src.read(layer.desc.digest));
      },
    });
    servers.push(elsewhere);
    const creds = { username: "u", password: "p" };
    const basic = "Basic " + Buffer.from("u:p").toString("base64");
    const authSeen: (string | null)[] = [];
    const { host } = fake(src, img, (req, u) => {
      if (!u.pathname.startsWith("/v2/evil/")) return undefined;
      authSeen.push(req.headers.get("authorization"));
      if (req.headers.get("authorization") !== basic) return new Response("", { status: 401, headers: { "www-authenticate": 'Basic realm="fake"' } });
      if (u.pathname === layerPath) return new Response(null, { status: 307, headers: { location: `http://127.0.0.1:${elsewhere.port}/storage/blob` } });
      return undefined;
    });
    const dst = store();
    const res = await pull(`${host}/evil/app:1`, { store: dst, registry: { credentials: creds } });
    expect(res.downloaded).toEqual([layer.desc.digest]);
    expect(authSeen).toContain(basic); // the registry got them
    expect(seen).toEqual([null]); // the other origin did not
  });

  describe.skipIf(!haveOpenssl)("over TLS", () => {
    const certDir = tempDir("hostile-certs");
    dirs.push(certDir);
    const cert = haveOpenssl ? makeCert(certDir, "fake") : undefined;
    const tls = (): RegistryOptions => ({ caFile: cert!.certFile, insecure: false });

    test("credentials are not sent to a token realm over plain http", async () => {
      const { host } = fake(
        src,
        img,
        () => new Response("", { status: 401, headers: { "www-authenticate": 'Bearer realm="http://berth-test.invalid/token",service="fake"' } }),
        cert,
      );
      const dst = store();
      const e = await rejection(pull(`${host}/evil/app:1`, { store: dst, registry: { ...tls(), credentials: { username: "u", password: "p" } } }));
      expect(e.code).toBe("PermissionDenied");
      expect(e.message).toContain("refusing to send credentials to token realm http://berth-test.invalid over plain http");
      nothingStored(dst);
    });

    test("a redirect from https to plain http is refused", async () => {
      const plain = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(src.read(layer.desc.digest)) });
      servers.push(plain);
      const { host } = fake(src, img, (_r, u) => (u.pathname === layerPath ? new Response(null, { status: 307, headers: { location: `http://127.0.0.1:${plain.port}/b` } }) : undefined), cert);
      const dst = store();
      const e = await rejection(pull(`${host}/evil/app:1`, { store: dst, registry: tls() }));
      expect(e.message).toContain("refusing redirect from https to plain http");
      expect(dst.has(layer.desc.digest)).toBe(false);
    });
  });

  test("a partial download left by an earlier run is resumed; a corrupt one is replaced", async () => {
    const ranges: (string | null)[] = [];
    const bytes = src.read(layer.desc.digest);
    const { host } = fake(src, img, (req, u) => {
      if (u.pathname !== layerPath) return undefined;
      const r = req.headers.get("range");
      ranges.push(r);
      const m = /^bytes=(\d+)-$/.exec(r ?? "");
      if (!m) return new Response(bytes);
      const from = Number(m[1]);
      return new Response(bytes.subarray(from), { status: 206, headers: { "content-range": `bytes ${from}-${bytes.length - 1}/${bytes.length}` } });
    });
    const partial = (s: BlobStore) => join(s.root, "ingest", `${layer.desc.digest.slice(7)}.partial`);

    const dst = store();
    writeFileSync(partial(dst), bytes.subarray(0, 12_345));
    await pull(`${host}/evil/app:1`, { store: dst });
    expect(ranges).toEqual(["bytes=12345-"]);
    expect(dst.has(layer.desc.digest)).toBe(true);
    expect(existsSync(partial(dst))).toBe(false);

    ranges.length = 0;
    const dst2 = store();
    writeFileSync(partial(dst2), randomBytes(12_345)); // not a prefix of the blob
    await pull(`${host}/evil/app:1`, { store: dst2 });
    expect(ranges).toEqual(["bytes=12345-", null]);
    expect(dst2.has(layer.desc.digest)).toBe(true);
  });
});
