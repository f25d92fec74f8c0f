/**
 * The real docker CLI (28, client only) against a berthd started here on a
 * private socket, data root and exec root: version negotiation, info, the
 * image verbs (load, images + filters + --format, tag, inspect, history,
 * save -> load, rmi, image prune, import), events, errors as docker prints
 * them, and pull/push against Debian's docker-registry on 127.0.0.1 — plain
 * http (listed with --insecure-registry) and TLS + htpasswd with `docker
 * login` (CA from the daemon's certs dir).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { sha256 } from "../../src/engine/images/blobs.ts";
import { buildImage, dir, file, legacyDockerArchive, tarOf } from "../unit/engine/fixtures.ts";
import { haveDocker, REPO, startBerthd, type Berthd } from "../helpers/berthd.ts";
import { haveOpenssl, haveRegistry, makeCert, randomBytes, startRegistry, tempDir, type Registry } from "../helpers/registry-env.ts";

const ROOTFS = join(REPO, ".cache", "rootfs", "busybox");

// the docker CLI ships with the machine image; without it there is nothing to drive
const skip = !haveDocker;
// pull/push need Debian's docker-registry (scripts/setup.sh installs it) and openssl for the TLS registry
const skipRegistry = skip || !haveRegistry || !haveOpenssl;

const img1 = buildImage([tarOf([dir("etc"), file("etc/hello", "hello\n")]), tarOf([file("etc/two", "2\n")])], {
  labels: { "com.example.kind": "hello", "com.example.n": "1" },
  created: "2024-01-01T00:00:00Z",
});
const img2 = buildImage([tarOf([dir("srv"), file("srv/data", "data\n")])], { labels: { "com.example.kind": "data" }, created: "2024-06-01T00:00:00Z" });

const lines = (s: string) => s.split("\n").filter((l) => l.trim() !== "");

let d: Berthd;
let work: string;
let plain: Registry | undefined;
let secure: Registry | undefined;
let certsDir: string;
const creds = { user: "berth", password: "s3cret-pw" };

beforeAll(async () => {
  if (skip) return;
  work = tempDir("docker-compat");
  certsDir = join(work, "certs.d");
  mkdirSync(certsDir);
  const flags: string[] = ["--certs-dir", certsDir];
  if (!skipRegistry) {
    plain = await startRegistry();
    const cert = makeCert(work, "registry");
    secure = await startRegistry({ tls: cert, htpasswd: { user: creds.user, password: creds.password } });
    mkdirSync(join(certsDir, secure.host));
    writeFileSync(join(certsDir, secure.host, "ca.crt"), cert.pem);
    flags.push("--insecure-registry", plain.host);
  }
  d = await startBerthd(flags);
  writeFileSync(join(work, "images.tar"), legacyDockerArchive([{ img: img1, tags: ["example/hello:1", "example/hello:latest"] }, { img: img2, tags: ["example/data:v1"] }]));
});

afterAll(async () => {
  await d?.cleanup();
  await plain?.stop();
  await secure?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skip)("docker CLI against berthd: daemon", () => {
  test("docker version negotiates down to berthd's API version", async () => {
    const r = await d.docker(["version", "--format", "{{json .}}"]);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v.Server.ApiVersion).toBe("1.43");
    expect(v.Server.MinAPIVersion).toBe("1.24");
    expect(v.Client.ApiVersion).toBe("1.43"); // the client's 1.50 downgraded
    expect(v.Server.Os).toBe("linux");
    expect(v.Server.KernelVersion).toBe(release());
  });

  test("docker info shows the engine's real facts", async () => {
    const r = await d.docker(["info", "--format", "{{json .}}"]);
    expect(r.code).toBe(0);
    const i = JSON.parse(r.stdout);
    expect(i.Containers).toBe(0);
    expect(i.Driver).toBe("overlay");
    expect(i.DockerRootDir).toBe(d.dataRoot);
    expect(i.NCPU).toBe(availableParallelism());
    expect(i.MemTotal).toBe(totalmem());
    expect(i.KernelVersion).toBe(release());
    expect(["1", "2"]).toContain(i.CgroupVersion);
    expect(i.CgroupDriver).toBe("cgroupfs");
    expect(i.ID).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof i.Images).toBe("number");
    if (plain) expect(i.RegistryConfig.IndexConfigs[plain.host].Secure).toBe(false);
  });

  test("the socket is 0660 and the pid file names the daemon", () => {
    expect(statSync(d.socket).mode & 0o777).toBe(0o660);
    expect(readFileSync(join(d.execRoot, "berthd.pid"), "utf8").trim()).toBe(String(d.proc.pid));
  });

  test("a second daemon on the same data root is refused; one with its own roots runs side by side", async () => {
    const other = tempDir("berthd-2");
    const clash = Bun.spawnSync([join(REPO, "bin", "berthd"), "-H", `unix://${join(other, "s.sock")}`, "--data-root", d.dataRoot, "--exec-root", join(other, "exec")], { stderr: "pipe" });
    expect(clash.exitCode).not.toBe(0);
    expect(clash.stderr.toString()).toContain("in use by another berthd");
    expect(existsSync(join(other, "s.sock"))).toBe(false);
    const second = await startBerthd([], { dir: other });
    try {
      const v = await second.docker(["version", "--format", "{{.Server.Version}}"]);
      expect(v.code).toBe(0);
      const i = await second.docker(["info", "--format", "{{.DockerRootDir}}"]);
      expect(i.stdout.trim()).toBe(second.dataRoot);
    } finally {
      expect(await second.stop()).toBe(0);
      // clean shutdown removes the socket and the pid file
      expect(existsSync(second.socket)).toBe(false);
      expect(existsSync(join(second.execRoot, "berthd.pid"))).toBe(false);
      await second.cleanup();
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skip)("berthd shutdown", () => {
  test("SIGTERM lets an in-flight request finish, then exits 0 and removes its socket and pid file", async () => {
    const b = await startBerthd();
    try {
      const archive = legacyDockerArchive([{ img: img2, tags: ["late/arrival:1"] }]);
      let feed!: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
      const pending = b.fetch("/v1.43/images/load?quiet=1", { method: "POST", body, headers: { "content-type": "application/x-tar" }, duplex: "half" } as RequestInit);
      feed.enqueue(archive.subarray(0, 1024));
      // the daemon has the request in hand once its log shows it busy at shutdown
      await Bun.sleep(200);
      b.proc.kill("SIGTERM");
      for (let i = 0; !b.log().includes('"shutting down"') && i < 200; i++) await Bun.sleep(25);
      expect(b.log()).toMatch(/"shutting down","inFlight":[1-9]/);
      feed.enqueue(archive.subarray(1024));
      feed.close();
      const res = await pending;
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("Loaded image: late/arrival:1");
      expect(await b.proc.exited).toBe(0);
      expect(existsSync(b.socket)).toBe(false);
      expect(existsSync(join(b.execRoot, "berthd.pid"))).toBe(false);
      // the database was closed cleanly: a new daemon on the same data root sees the image
      const again = await startBerthd([], { dir: b.dir });
      try {
        expect((await again.docker(["image", "inspect", "--format", "{{.Id}}", "late/arrival:1"])).stdout.trim()).toBe(img2.id);
      } finally {
        await again.stop();
      }
    } finally {
      await b.cleanup();
    }
  });
});

describe.skipIf(skip)("docker CLI against berthd: images", () => {
  test("docker load of a docker-archive", async () => {
    const r = await d.docker(["load", "-i", join(work, "images.tar")]);
    expect(r.code).toBe(0);
    expect(lines(r.stdout).sort()).toEqual(["Loaded image: example/data:v1", "Loaded image: example/hello:1", "Loaded image: example/hello:latest"]);
  });

  test("docker images: table, --format, -q, filters", async () => {
    const all = await d.docker(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    expect(all.code).toBe(0);
    const short1 = img1.id.slice(7, 19);
    expect(lines(all.stdout)).toEqual(expect.arrayContaining([`example/hello:1 ${short1}`, `example/hello:latest ${short1}`, `example/data:v1 ${img2.id.slice(7, 19)}`]));
    const table = await d.docker(["images"]);
    expect(lines(table.stdout)[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);

    const ref = await d.docker(["images", "--filter", "reference=example/hello", "--format", "{{.Repository}}:{{.Tag}}"]);
    expect(lines(ref.stdout).sort()).toEqual(["example/hello:1", "example/hello:latest"]);
    const glob = await d.docker(["images", "--filter", "reference=*/data:*", "--format", "{{.Repository}}:{{.Tag}}"]);
    expect(lines(glob.stdout)).toEqual(["example/data:v1"]);
    const label = await d.docker(["images", "-q", "--no-trunc", "--filter", "label=com.example.kind=data"]);
    expect(lines(label.stdout)).toEqual([img2.id]);
    const labelKey = await d.docker(["images", "-q", "--no-trunc", "--filter", "label=com.example.n"]);
    expect([...new Set(lines(labelKey.stdout))]).toEqual([img1.id]);
    const before = await d.docker(["images", "-q", "--no-trunc", "--filter", "before=example/data:v1"]);
    expect([...new Set(lines(before.stdout))]).toEqual([img1.id]);
    const since = await d.docker(["images", "-q", "--no-trunc", "--filter", "since=example/hello:1"]);
    expect(lines(since.stdout)).toEqual([img2.id]);
    const dangling = await d.docker(["images", "-q", "--filter", "dangling=true"]);
    expect(dangling.stdout).toBe("");
    const repoArg = await d.docker(["images", "example/data", "--format", "{{.Tag}}"]);
    expect(lines(repoArg.stdout)).toEqual(["v1"]);
  });

  test("a filter dockerd does not know is refused with its name", async () => {
    const r = await d.docker(["images", "--filter", "colour=blue"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("invalid filter 'colour'");
  });

  test("docker tag, inspect, history", async () => {
    expect((await d.docker(["tag", "example/hello:1", "localhost/renamed:v9"])).code).toBe(0);
    const r = await d.docker(["image", "inspect", "localhost/renamed:v9"]);
    expect(r.code).toBe(0);
    const [i] = JSON.parse(r.stdout);
    expect(i.Id).toBe(img1.id);
    expect(i.RepoTags).toEqual(expect.arrayContaining(["example/hello:1", "example/hello:latest", "localhost/renamed:v9"]));
    expect(i.RootFS).toEqual({ Type: "layers", Layers: img1.config.rootfs.diff_ids });
    expect(i.Config.Labels).toEqual({ "com.example.kind": "hello", "com.example.n": "1" });
    expect(i.Config.Cmd).toEqual(["/bin/sh"]);
    expect(i.Os).toBe("linux");
    expect(i.Architecture).toBe("amd64");
    expect(i.Created).toBe("2024-01-01T00:00:00Z");
    expect(i.Size).toBe("hello\n".length + "2\n".length);
    const f = await d.docker(["inspect", "--format", "{{.Id}} {{index .Config.Labels \"com.example.kind\"}}", "example/hello:1"]);
    expect(f.stdout.trim()).toBe(`${img1.id} hello`);

    const h = await d.docker(["history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", "example/hello:1"]);
    expect(h.code).toBe(0);
    expect(lines(h.stdout)).toEqual([`${img1.id}|layer 1|2B`, "<missing>|layer 0|6B"]);
  });

  test("docker save -> rmi -> docker load keeps the image ids and tags", async () => {
    const out = join(work, "saved.tar");
    const s = await d.docker(["save", "-o", out, "example/hello:1", "example/data:v1"]);
    expect(s.code).toBe(0);
    const listing = Bun.spawnSync(["tar", "-tf", out]).stdout.toString();
    expect(listing).toContain("manifest.json");
    expect(listing).toContain(`blobs/sha256/${img1.id.slice(7)}`);
    const rm = await d.docker(["rmi", "-f", img1.id, img2.id]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain(`Deleted: ${img1.id}`);
    expect(rm.stdout).toContain("Untagged: example/hello:1");
    expect((await d.docker(["images", "-q"])).stdout).toBe("");
    const l = await d.docker(["load", "-i", out]);
    expect(l.code).toBe(0);
    expect(lines(l.stdout).sort()).toEqual(["Loaded image: example/data:v1", "Loaded image: example/hello:1"]);
    const ids = await d.docker(["images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    expect(lines(ids.stdout).sort()).toEqual([`example/data:v1 ${img2.id}`, `example/hello:1 ${img1.id}`]);
    // save to stdout
    const p = Bun.spawnSync(["docker", "save", "example/data:v1"], { env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: d.dockerConfig } });
    expect(p.exitCode).toBe(0);
    expect(p.stdout.length).toBeGreaterThan(1024);
  });

  test("docker rmi of an unknown image: docker's message, exit 1, nothing changes", async () => {
    const before = (await d.docker(["images", "-q", "--no-trunc"])).stdout;
    const r = await d.docker(["rmi", "nosuch"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Error response from daemon: No such image: nosuch:latest");
    expect((await d.docker(["images", "-q", "--no-trunc"])).stdout).toBe(before);
  });

  test("docker rmi by id of an image in two repositories needs -f", async () => {
    expect((await d.docker(["tag", "example/data:v1", "other/data:v2"])).code).toBe(0);
    const r = await d.docker(["rmi", img2.id.slice(7, 19)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("must be forced");
    expect(r.stderr).toContain("referenced in multiple repositories");
    const ok = await d.docker(["rmi", "other/data:v2"]);
    expect(ok.code).toBe(0);
    expect(lines(ok.stdout)).toEqual(["Untagged: other/data:v2"]);
  });

  test("docker import of the busybox rootfs tar, with --change and --message", async () => {
    const tar = join(work, "busybox.tar");
    const t = Bun.spawnSync(["tar", "-C", ROOTFS, "--numeric-owner", "-cf", tar, "."], { stderr: "pipe" });
    expect(t.exitCode).toBe(0);
    const r = await d.docker(["import", "--change", 'CMD ["/bin/sh", "-c", "echo hi"]', "--change", "ENV GREETING=hello", "-m", "busybox from a tar", tar, "local/busybox:imported"]);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const [i] = JSON.parse((await d.docker(["image", "inspect", "local/busybox:imported"])).stdout);
    expect(i.Id).toBe(id);
    expect(i.Config.Cmd).toEqual(["/bin/sh", "-c", "echo hi"]);
    expect(i.Config.Env).toContain("GREETING=hello");
    expect(i.Comment).toBe("busybox from a tar");
    // the layer is the tar itself: its diffID is the tar's sha256
    expect(i.RootFS.Layers).toEqual([sha256(readFileSync(tar))]);
    // from stdin
    const s = await d.docker(["import", "-", "local/busybox:stdin"], { stdin: readFileSync(tar) });
    expect(s.code).toBe(0);
    const h = await d.docker(["history", "--format", "{{.Comment}}", "local/busybox:stdin"]);
    expect(h.stdout.trim()).toBe("Imported from -");
  });

  test("docker image prune removes the dangling image only; -a removes unused ones", async () => {
    const tar = join(work, "busybox.tar");
    // importing to the same tag twice leaves the first image dangling
    const first = (await d.docker(["import", tar, "local/twice:1"])).stdout.trim();
    await Bun.sleep(1100); // a distinct created time (seconds), so the second import is a different image
    const second = (await d.docker(["import", tar, "local/twice:1"])).stdout.trim();
    expect(second).not.toBe(first);
    const dangling = await d.docker(["images", "-q", "--no-trunc", "--filter", "dangling=true"]);
    expect(lines(dangling.stdout)).toEqual([first]);
    const p = await d.docker(["image", "prune", "-f"]);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain(`deleted: ${first}`);
    expect(p.stdout).toMatch(/Total reclaimed space: [\d.]+[kMG]?B/);
    expect((await d.docker(["images", "-q", "--filter", "dangling=true"])).stdout).toBe("");
    expect((await d.docker(["image", "inspect", "local/twice:1"])).code).toBe(0);
    const pa = await d.docker(["image", "prune", "-a", "-f", "--filter", "label=nothing.has.this"]);
    expect(pa.code).toBe(0);
    expect((await d.docker(["image", "inspect", "local/twice:1"])).code).toBe(0);
    expect((await d.docker(["rmi", "local/twice:1"])).code).toBe(0);
  });

  test("docker system df counts the images", async () => {
    const r = await d.docker(["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    expect(r.code).toBe(0);
    const n = lines((await d.docker(["images", "-q", "--no-trunc"])).stdout);
    expect(lines(r.stdout)).toContain(`Images ${new Set(n).size}`);
  });

  test("docker events replays the image events of a time window", async () => {
    const t0 = Math.floor(Date.now() / 1000) - 1;
    expect((await d.docker(["tag", "example/data:v1", "example/data:evt"])).code).toBe(0);
    expect((await d.docker(["rmi", "example/data:evt"])).code).toBe(0);
    const until = Math.ceil(Date.now() / 1000) + 1;
    await Bun.sleep(Math.max(0, until * 1000 - Date.now()));
    const r = await d.docker(["events", "--since", String(t0), "--until", String(until), "--filter", "type=image", "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}"]);
    expect(r.code).toBe(0);
    const ev = lines(r.stdout);
    expect(ev).toContain(`tag ${img2.id} example/data:evt`);
    expect(ev).toContain(`untag ${img2.id} ${img2.id}`);
    const onlyTags = await d.docker(["events", "--since", String(t0), "--until", String(until), "--filter", "event=tag", "--format", "{{.Action}}"]);
    expect([...new Set(lines(onlyTags.stdout))]).toEqual(["tag"]);
  });

  test("a live event stream delivers an event as it happens", async () => {
    const ac = new AbortController();
    const res = await d.fetch("/v1.43/events?filters=" + encodeURIComponent(JSON.stringify({ type: { image: true }, event: { tag: true } })), { signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    expect((await d.docker(["tag", "example/data:v1", "example/data:live"])).code).toBe(0);
    let text = "";
    while (!/\{.*\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ac.abort();
    const e = JSON.parse(lines(text)[0]!);
    expect(e.Type).toBe("image");
    expect(e.Action).toBe("tag");
    expect(e.Actor.Attributes.name).toBe("example/data:live");
    expect(typeof e.timeNano).toBe("number");
    await d.docker(["rmi", "example/data:live"]);
  });
});

describe.skipIf(skip)("berthd API: errors and versions", () => {
  test("a malformed body is refused with 400 naming the field", async () => {
    const bad = await d.fetch("/v1.43/auth", { method: "POST", body: JSON.stringify({ username: 5, password: "x" }), headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toBe("application/json");
    expect(((await bad.json()) as { message: string }).message).toBe("username: want a string, got number");
    const notJson = await d.fetch("/v1.43/auth", { method: "POST", body: "{nope", headers: { "content-type": "application/json" } });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { message: string }).message).toMatch(/^body: invalid JSON/);
    const filters = await d.fetch("/v1.43/images/json?filters=%7Bbroken");
    expect(filters.status).toBe(400);
    expect(((await filters.json()) as { message: string }).message).toMatch(/^filters: invalid JSON/);
  });

  test("unknown endpoints are 404 with a message; versions out of range are 400", async () => {
    const r = await d.fetch("/v1.43/no/such/endpoint");
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ message: "page not found" });
    const old = await d.fetch("/v1.12/version");
    expect(old.status).toBe(400);
    expect(((await old.json()) as { message: string }).message).toBe("client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version");
    const young = await d.fetch("/v1.99/version");
    expect(young.status).toBe(400);
    expect(((await young.json()) as { message: string }).message).toBe("client version 1.99 is too new. Maximum supported API version is 1.43");
    const unversioned = await d.fetch("/version");
    expect(unversioned.status).toBe(200);
    const ping = await d.fetch("/_ping", { method: "HEAD" });
    expect(ping.headers.get("api-version")).toBe("1.43");
    expect(ping.headers.get("ostype")).toBe("linux");
  });

  test("hostile image names reach no file (path traversal in the URL)", async () => {
    for (const name of ["..%2F..%2F..%2Fetc%2Fpasswd", "%2E%2E/%2E%2E/etc/passwd", "sha256:..%2F..%2Fberth.db"]) {
      const r = await d.fetch(`/v1.43/images/${name}/json`);
      expect([400, 404]).toContain(r.status);
      const body = (await r.json()) as { message: string };
      expect(body.message).not.toContain("root:");
    }
  });

  test("a load of an archive with a path escaping it is refused and writes nothing outside", async () => {
    const evil = tarOf([file("../../escaped-by-load", "x"), file("manifest.json", "[]")]);
    const r = await d.fetch("/v1.43/images/load?quiet=1", { method: "POST", body: evil, headers: { "content-type": "application/x-tar" } });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(existsSync(join(dirname(d.dataRoot), "escaped-by-load"))).toBe(false);
    expect(existsSync(join(dirname(dirname(d.dataRoot)), "escaped-by-load"))).toBe(false);
  });
});

describe.skipIf(skipRegistry)("docker CLI against berthd: registries", () => {
  test("push to and pull from a plain http registry listed with --insecure-registry", async () => {
    const ref = `${plain!.host}/test/hello:1`;
    expect((await d.docker(["tag", "example/hello:1", ref])).code).toBe(0);
    const p = await d.docker(["push", ref]);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain(`The push refers to repository [${plain!.host}/test/hello]`);
    expect(p.stdout).toMatch(/1: digest: sha256:[0-9a-f]{64} size: \d+/);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(p.stdout)![1]!;
    expect(lines(p.stdout).filter((l) => l.endsWith(": Pushed")).length).toBe(2);

    expect((await d.docker(["rmi", ref])).code).toBe(0);
    const pl = await d.docker(["pull", ref]);
    expect(pl.code).toBe(0);
    expect(pl.stdout).toContain(`Digest: ${digest}`);
    expect(pl.stdout).toContain(`Status: Image is up to date for ${ref}`); // the layers are still here (example/hello:1)
    const [i] = JSON.parse((await d.docker(["image", "inspect", ref])).stdout);
    expect(i.Id).toBe(img1.id);
    expect(i.RepoDigests).toContain(`${plain!.host}/test/hello@${digest}`);
  });

  test("a pull into an empty store downloads every layer, with docker's progress messages", async () => {
    const ref = `${plain!.host}/test/fresh:1`;
    // a layer no other image here has (2 MiB of random bytes), so it is downloaded again
    const tar = join(work, "fresh.tar");
    writeFileSync(tar, tarOf([{ name: "data/random", type: "file", mode: 0o644, mtime: 0, data: randomBytes(2 << 20) }]));
    const id = (await d.docker(["import", tar, ref])).stdout.trim();
    expect((await d.docker(["push", ref])).code).toBe(0);
    expect((await d.docker(["rmi", ref])).code).toBe(0);
    // the raw stream: JSON lines with progressDetail and a rendered bar, as dockerd sends them
    const res = await d.fetch(`/v1.43/images/create?fromImage=${encodeURIComponent(`${plain!.host}/test/fresh`)}&tag=1`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const msgs = lines(await res.text()).map((l) => JSON.parse(l));
    expect(msgs[0]).toEqual({ status: "Pulling from test/fresh", id: "1" });
    const dl = msgs.filter((m) => m.status === "Downloading");
    expect(dl.length).toBeGreaterThan(0);
    expect(dl.at(-1).progressDetail.current).toBe(dl.at(-1).progressDetail.total);
    expect(dl[0].progress).toMatch(/^\[=*>\s*\]\s+[\d.]+[kMG]?B\/[\d.]+[kMG]?B$/);
    expect(msgs.some((m) => m.status === "Pull complete")).toBe(true);
    expect(msgs.at(-1).status).toBe(`Status: Downloaded newer image for ${plain!.host}/test/fresh:1`);
    const [i] = JSON.parse((await d.docker(["image", "inspect", ref])).stdout);
    expect(i.Id).toBe(id);
  });

  test("a pull of an unknown tag fails with the registry's words, before any progress", async () => {
    const r = await d.docker(["pull", `${plain!.host}/test/nosuch:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Error response from daemon:");
    expect(r.stderr).toContain("manifest unknown");
    expect(r.stdout).toBe("");
  });

  test("a plain http registry not listed as insecure is refused", async () => {
    const other = await startRegistry();
    try {
      const r = await d.docker(["pull", `${other.host}/test/hello:1`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("Error response from daemon:");
      expect(other.log()).not.toContain("GET /v2/test/hello/manifests");
    } finally {
      await other.stop();
    }
  });

  test("TLS + htpasswd registry: docker login, push, pull; wrong password and anonymous pull refused", async () => {
    const host = secure!.host;
    const ref = `${host}/secure/hello:1`;
    expect((await d.docker(["tag", "example/hello:1", ref])).code).toBe(0);

    const anon = await d.docker(["push", ref]);
    expect(anon.code).toBe(1);
    expect(anon.stdout + anon.stderr).toMatch(/unauthorized|authentication required|401/i);

    const wrong = await d.docker(["login", host, "-u", creds.user, "--password-stdin"], { stdin: "not-the-password\n" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("401 Unauthorized");
    expect(existsSync(join(d.dockerConfig, "config.json")) && readFileSync(join(d.dockerConfig, "config.json"), "utf8").includes(host)).toBe(false);

    const ok = await d.docker(["login", host, "-u", creds.user, "--password-stdin"], { stdin: creds.password + "\n" });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("Login Succeeded");
    expect(JSON.parse(readFileSync(join(d.dockerConfig, "config.json"), "utf8")).auths[host]).toBeDefined();

    const p = await d.docker(["push", ref]);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/1: digest: sha256:[0-9a-f]{64}/);
    expect((await d.docker(["rmi", ref])).code).toBe(0);
    const pl = await d.docker(["pull", ref]);
    expect(pl.code).toBe(0);
    expect((await d.docker(["image", "inspect", "--format", "{{.Id}}", ref])).stdout.trim()).toBe(img1.id);

    // the daemon never writes the password to its log (debug level)
    expect(d.log()).not.toContain(creds.password);
    await d.docker(["logout", host]);
  });

  test("a TLS registry whose CA is not configured is refused (certificate verified, loopback or not)", async () => {
    const ca = join(certsDir, secure!.host, "ca.crt");
    renameSync(ca, ca + ".off");
    try {
      const r = await d.docker(["pull", `${secure!.host}/secure/hello:1`]);
      expect(r.code).toBe(1);
      expect(r.stderr.toLowerCase()).toMatch(/certificate|self.signed|unable to verify/);
    } finally {
      renameSync(ca + ".off", ca);
    }
  });
});
