import { afterEach, describe, expect, test } from "bun:test";
import { BerthError } from "../../../src/errors.ts";
import type { ImageStore } from "../../../src/engine/images/store.ts";
import { MediaType } from "../../../src/engine/images/spec.ts";
import { buildImage, dir, file, putBlobs, tarOf, tempStore, whiteout, type BuiltImage } from "./fixtures.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function setup(inUse: Set<string> = new Set()) {
  const t = tempStore({ isInUse: (id) => inUse.has(id) });
  cleanups.push(t.cleanup);
  return t.store;
}

function errOf(f: () => unknown): BerthError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BerthError);
    return e as BerthError;
  }
  throw new Error("expected an error");
}

async function rejectOf(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BerthError);
    return e as BerthError;
  }
  throw new Error("expected a rejection");
}

const base = tarOf([dir("etc"), file("etc/hostname", "box\n"), file("bin/tool", "x".repeat(1000))]);
const top = tarOf([whiteout("etc/hostname"), file("etc/motd", "hello\n")]);

function mk(opts: Parameters<typeof buildImage>[1] = {}, tars = [base, top]): BuiltImage {
  return buildImage(tars, { compress: ["gzip", "zstd"], ...opts });
}

async function reg(store: ImageStore, img: BuiltImage, tenant = "default", withManifest = true) {
  putBlobs(store.blobs, img);
  return store.register(tenant, { config: img.id, layers: img.layers, manifestDigest: withManifest ? img.manifestDigest : undefined });
}

describe("register", () => {
  test("records layers with media type, diffID, sizes; unpacked size sums file sizes", async () => {
    const store = setup();
    const img = mk();
    const rec = await reg(store, img);
    expect(rec.id).toBe(img.id);
    expect(rec.manifestDigest).toBe(img.manifestDigest);
    expect(rec.layers.map((l) => l.mediaType)).toEqual([MediaType.OciLayerGzip, MediaType.OciLayerZstd]);
    expect(rec.layers.map((l) => l.diffID)).toEqual(img.config.rootfs.diff_ids);
    expect(rec.layers.map((l) => l.size)).toEqual(img.blobs.map((b) => b.length));
    expect(rec.layers.map((l) => l.unpackedSize)).toEqual([4 + 1000, 6]);
    expect(rec.size).toBe(1010);
    expect(rec.chainIDs).toHaveLength(2);
    expect(rec.chainIDs[0]).toBe(img.config.rootfs.diff_ids[0]!);
    expect(rec.created).toBe("2024-01-01T00:00:00Z");
    expect(rec.repoTags).toEqual([]);
  });

  test("a layer whose content does not match the config's diffID is refused and nothing is recorded", async () => {
    const store = setup();
    const img = mk();
    const other = tarOf([file("evil", "x")]);
    const forged = buildImage([base, top], { compress: ["none"] });
    putBlobs(store.blobs, forged);
    const evil = store.blobs.put(other);
    const e = await rejectOf(
      store.register("default", { config: forged.id, layers: [forged.layers[0]!, { mediaType: MediaType.OciLayer, digest: evil, size: other.length }] }),
    );
    expect(e.code).toBe("InvalidArgument");
    expect(e.message).toMatch(/layer 1: blob .* has diffID .*, config says/);
    expect(store.list("default", { all: true })).toEqual([]);
    expect(store.db.query("SELECT COUNT(*) AS n FROM images").get()).toEqual({ n: 0 });
    void img;
  });

  test("bad input: missing blobs, wrong media type, wrong size, layer count, bad config, manifest mismatch", async () => {
    const store = setup();
    const img = mk();
    putBlobs(store.blobs, img);
    const missing = "sha256:" + "0".repeat(64);
    expect((await rejectOf(store.register("t", { config: missing, layers: [] }))).code).toBe("NotFound");
    expect((await rejectOf(store.register("t", { config: img.id, layers: [img.layers[0]!] }))).message).toMatch(/1 layers but config.rootfs.diff_ids has 2/);
    expect((await rejectOf(store.register("t", { config: img.id, layers: [{ ...img.layers[0]!, mediaType: MediaType.OciConfig }, img.layers[1]!] }))).message).toMatch(
      /is not a layer type/,
    );
    expect((await rejectOf(store.register("t", { config: img.id, layers: [{ ...img.layers[0]!, size: 1 }, img.layers[1]!] }))).message).toMatch(/size 1 but blob/);
    expect((await rejectOf(store.register("t", { config: img.id, layers: [{ ...img.layers[0]!, digest: missing }, img.layers[1]!] }))).code).toBe("NotFound");
    expect((await rejectOf(store.register("t", { config: new TextEncoder().encode("{}"), layers: [] }))).message).toMatch(/architecture: missing/);
    expect((await rejectOf(store.register("t", { config: new TextEncoder().encode("nope"), layers: [] }))).message).toMatch(/not JSON/);
    const other = mk({ created: "2020-01-01T00:00:00Z" });
    putBlobs(store.blobs, other);
    expect((await rejectOf(store.register("t", { config: img.id, layers: img.layers, manifestDigest: other.manifestDigest }))).message).toMatch(/names config/);
    const notTar = store.blobs.put("this is not a tar archive, it is just text that goes on and on".repeat(20));
    const cfg = { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: ["sha256:" + "1".repeat(64)] } };
    expect((await rejectOf(store.register("t", { config: new TextEncoder().encode(JSON.stringify(cfg)), layers: [{ mediaType: MediaType.OciLayer, digest: notTar, size: 1240 }] }))).message).toMatch(
      /not a valid tar archive/,
    );
    expect(store.list("t", { all: true })).toEqual([]);
  });

  test("registering again is idempotent and adds the tenant as owner", async () => {
    const store = setup();
    const img = mk();
    await reg(store, img, "a");
    await reg(store, img, "b");
    expect(store.list("a").map((i) => i.id)).toEqual([img.id]);
    expect(store.list("b").map((i) => i.id)).toEqual([img.id]);
    expect(store.db.query("SELECT COUNT(*) AS n FROM images").get()).toEqual({ n: 1 });
  });
});

describe("references and resolve", () => {
  test("tag normalizes; resolve by name, full id, short id, sha256: prefix, digest", async () => {
    const store = setup();
    const img = mk();
    await reg(store, img);
    expect(store.tag("default", img.id, "busybox")).toBe("docker.io/library/busybox:latest");
    store.tag("default", "busybox", "localhost:5000/x/y:v1");
    const dref = store.setReference("default", `busybox@${img.manifestDigest}`, img.id);
    expect(dref).toBe(`docker.io/library/busybox@${img.manifestDigest}`);
    for (const s of ["busybox", "busybox:latest", "docker.io/library/busybox", "library/busybox:latest", "localhost:5000/x/y:v1", img.id, img.id.slice(7, 19), "sha256:" + img.id.slice(7, 12), `busybox@${img.manifestDigest}`]) {
      expect(store.resolve("default", s).id).toBe(img.id);
    }
    const r = store.resolve("default", img.id);
    expect(r.repoTags).toEqual(["docker.io/library/busybox:latest", "localhost:5000/x/y:v1"]);
    expect(r.repoDigests).toEqual([`docker.io/library/busybox@${img.manifestDigest}`]);
    expect(errOf(() => store.resolve("default", "nothere")).code).toBe("NotFound");
    expect(errOf(() => store.resolve("default", "busybox:other")).message).toBe("no such image: busybox:other");
    expect(errOf(() => store.tag("default", img.id, `x@${img.manifestDigest}`)).message).toMatch(/digest reference/);
    expect(errOf(() => store.tag("default", img.id, "Bad")).code).toBe("InvalidArgument");
    expect(errOf(() => store.setReference("default", `x@sha256:${"9".repeat(64)}`, img.id)).message).toMatch(/not registered with that digest/);
    // rmi of a name@digest that resolves (through the manifest) but is not a stored reference changes nothing
    store.untag("default", `busybox@${img.manifestDigest}`);
    expect(store.resolve("default", `busybox@${img.manifestDigest}`).id).toBe(img.id);
    expect(errOf(() => store.remove("default", `busybox@${img.manifestDigest}`)).code).toBe("NotFound");
    expect(store.resolve("default", "busybox").id).toBe(img.id);
  });

  test("a name that is also a hex prefix resolves to the reference first", async () => {
    const store = setup();
    const a = mk({ created: "2024-01-01T00:00:00Z" });
    const b = mk({ created: "2024-02-01T00:00:00Z" });
    await reg(store, a);
    await reg(store, b);
    const prefix = b.id.slice(7, 11);
    store.tag("default", a.id, prefix); // docker.io/library/<prefix>:latest -> a
    expect(store.resolve("default", prefix).id).toBe(a.id);
    expect(store.resolve("default", b.id.slice(7, 20)).id).toBe(b.id);
  });

  test("an ambiguous id prefix is an error", async () => {
    const store = setup();
    const imgs: BuiltImage[] = [];
    for (let i = 0; i < 40; i++) imgs.push(mk({ created: `2024-01-${String(i % 28 + 1).padStart(2, "0")}T00:00:${String(i).padStart(2, "0")}Z` }));
    for (const i of imgs) await reg(store, i);
    const first = new Map<string, number>();
    for (const i of imgs) first.set(i.id[7]!, (first.get(i.id[7]!) ?? 0) + 1);
    const dup = [...first.entries()].find(([, n]) => n > 1)![0]; // 40 ids over 16 hex digits: some first digit repeats
    expect(errOf(() => store.resolve("default", "sha256:" + dup)).message).toMatch(/ambiguous/);
  });

  test("moving a tag leaves the old image dangling (still the owner's)", async () => {
    const store = setup();
    const a = mk({ created: "2024-01-01T00:00:00Z" });
    const b = mk({ created: "2024-02-01T00:00:00Z" });
    await reg(store, a);
    await reg(store, b);
    store.tag("default", a.id, "app");
    store.tag("default", b.id, "app");
    expect(store.resolve("default", "app").id).toBe(b.id);
    expect(store.list("default", { dangling: true }).map((i) => i.id)).toEqual([a.id]);
    expect(store.untag("default", "app")).toBe("docker.io/library/app:latest");
    expect(errOf(() => store.untag("default", "app")).code).toBe("NotFound");
  });
});

describe("tenants", () => {
  test("a tenant sees only images it owns; references are per tenant; content is shared", async () => {
    const store = setup();
    const img = mk();
    await reg(store, img, "alice");
    store.tag("alice", img.id, "secret:v1");
    expect(errOf(() => store.resolve("bob", "secret:v1")).code).toBe("NotFound");
    expect(errOf(() => store.resolve("bob", img.id)).code).toBe("NotFound");
    expect(errOf(() => store.resolve("bob", img.id.slice(7, 19))).code).toBe("NotFound");
    expect(errOf(() => store.tag("bob", img.id, "mine")).code).toBe("NotFound");
    expect(store.list("bob", { all: true })).toEqual([]);
    expect(errOf(() => store.remove("bob", img.id)).code).toBe("NotFound");
    // bob gets the same content on his own (e.g. loads or pulls it): same id, his own refs
    await reg(store, img, "bob");
    store.tag("bob", img.id, "secret:v1");
    store.tag("bob", img.id, "bobs");
    expect(store.resolve("alice", img.id).repoTags).toEqual(["docker.io/library/secret:v1"]);
    expect(store.resolve("bob", img.id).repoTags).toEqual(["docker.io/library/bobs:latest", "docker.io/library/secret:v1"]);
    // alice deletes: gone for alice, still bob's, blobs kept
    expect(store.remove("alice", "secret:v1")).toEqual([{ untagged: "docker.io/library/secret:v1" }, { deleted: img.id }]);
    expect(store.tryResolve("alice", img.id)).toBeUndefined();
    expect(store.resolve("bob", "secret:v1").id).toBe(img.id);
    expect(store.gc().blobs).toEqual([]);
    expect(store.blobs.has(img.layers[0]!.digest)).toBe(true);
  });
});

describe("list filters", () => {
  async function three() {
    const store = setup();
    const a = mk({ created: "2024-01-01T00:00:00Z", labels: { tier: "db", env: "prod" } });
    const b = mk({ created: "2024-02-01T00:00:00Z", labels: { tier: "web" } });
    const c = mk({ created: "2024-03-01T00:00:00Z" });
    for (const i of [a, b, c]) await reg(store, i);
    store.tag("default", a.id, "db:1");
    store.tag("default", b.id, "user/web:2");
    store.tag("default", b.id, "user/web:latest");
    return { store, a, b, c };
  }
  test("newest first; dangling; reference; before/since; label; until", async () => {
    const { store, a, b, c } = await three();
    expect(store.list("default").map((i) => i.id)).toEqual([c.id, b.id, a.id]);
    expect(store.list("default", { dangling: true }).map((i) => i.id)).toEqual([c.id]);
    expect(store.list("default", { dangling: false }).map((i) => i.id)).toEqual([b.id, a.id]);
    expect(store.list("default", { reference: ["db"] }).map((i) => i.id)).toEqual([a.id]);
    expect(store.list("default", { reference: ["user/*:2"] }).map((i) => i.id)).toEqual([b.id]);
    expect(store.list("default", { reference: ["nomatch*", "db:*"] }).map((i) => i.id)).toEqual([a.id]);
    expect(store.list("default", { before: "user/web:2" }).map((i) => i.id)).toEqual([a.id]);
    expect(store.list("default", { since: "db:1" }).map((i) => i.id)).toEqual([c.id, b.id]);
    expect(store.list("default", { label: ["tier"] }).map((i) => i.id)).toEqual([b.id, a.id]);
    expect(store.list("default", { label: ["tier=db", "env=prod"] }).map((i) => i.id)).toEqual([a.id]);
    expect(store.list("default", { labelNot: ["tier=db"] }).map((i) => i.id)).toEqual([c.id, b.id]);
    expect(store.list("default", { until: "2024-02-15T00:00:00Z" }).map((i) => i.id)).toEqual([b.id, a.id]);
    expect(store.list("default", { until: String(Date.parse("2024-01-15T00:00:00Z") / 1000) }).map((i) => i.id)).toEqual([a.id]);
    expect(errOf(() => store.list("default", { until: "soon" })).message).toMatch(/bad time/);
    expect(errOf(() => store.list("default", { before: "nothere" })).code).toBe("NotFound");
  });
});

describe("history", () => {
  test("newest first, with layer sizes, empty layers and the image id on top", async () => {
    const store = setup();
    const img = mk();
    img.config.history!.splice(1, 0, { created: "2024-01-01T00:00:00Z", created_by: "ENV X=1", empty_layer: true });
    const fixed = buildImage([base, top], { compress: ["gzip", "zstd"] });
    const cfg = { ...fixed.config, history: img.config.history };
    putBlobs(store.blobs, fixed);
    const rec = await store.register("default", { config: new TextEncoder().encode(JSON.stringify(cfg)), layers: fixed.layers });
    store.tag("default", rec.id, "h");
    const h = store.history("default", "h");
    expect(h.map((x) => [x.createdBy, x.size, x.emptyLayer])).toEqual([
      ["layer 1", 6, false],
      ["ENV X=1", 0, true],
      ["layer 0", 1004, false],
    ]);
    expect(h[0]!.id).toBe(rec.id);
    expect(h[0]!.tags).toEqual(["docker.io/library/h:latest"]);
    expect(h[1]!.id).toBeUndefined();
  });

  test("an image without history gets one item per layer", async () => {
    const store = setup();
    const img = mk({ history: false });
    await reg(store, img);
    expect(store.history("default", img.id).map((x) => x.size)).toEqual([6, 1004]);
  });
});

describe("rmi", () => {
  test("by reference: untags; the last reference deletes; digest refs of the repo go with the last tag", async () => {
    const store = setup();
    const img = mk();
    await reg(store, img);
    store.tag("default", img.id, "a:1");
    store.tag("default", img.id, "a:2");
    store.setReference("default", `a@${img.manifestDigest}`, img.id);
    expect(store.remove("default", "a:1")).toEqual([{ untagged: "docker.io/library/a:1" }]);
    expect(store.remove("default", "a:2")).toEqual([
      { untagged: "docker.io/library/a:2" },
      { untagged: `docker.io/library/a@${img.manifestDigest}` },
      { deleted: img.id },
    ]);
    expect(store.list("default", { all: true })).toEqual([]);
    const gc = store.gc();
    expect(gc.blobs.sort()).toEqual([img.id, img.manifestDigest, ...img.layers.map((l) => l.digest)].sort());
  });

  test("by id: several repositories need force; one repository does not", async () => {
    const store = setup();
    const img = mk();
    await reg(store, img);
    store.tag("default", img.id, "a:1");
    store.tag("default", img.id, "b:1");
    const e = errOf(() => store.remove("default", img.id.slice(7, 19)));
    expect(e.code).toBe("FailedPrecondition");
    expect(e.message).toMatch(/referenced in multiple repositories/);
    expect(store.resolve("default", img.id).repoTags).toHaveLength(2); // unchanged
    expect(store.remove("default", img.id, { force: true })).toEqual([
      { untagged: "docker.io/library/a:1" },
      { untagged: "docker.io/library/b:1" },
      { deleted: img.id },
    ]);
    const img2 = mk({ created: "2023-01-01T00:00:00Z" });
    await reg(store, img2);
    store.tag("default", img2.id, "c:1");
    store.tag("default", img2.id, "c:2");
    expect(store.remove("default", img2.id).map((x) => Object.keys(x)[0])).toEqual(["untagged", "untagged", "deleted"]);
  });

  test("an image a container uses is never deleted: conflict without force, untag-only with force", async () => {
    const inUse = new Set<string>();
    const store = setup(inUse);
    const img = mk();
    await reg(store, img);
    store.tag("default", img.id, "app");
    inUse.add(img.id);
    expect(errOf(() => store.remove("default", "app")).message).toMatch(/container is using its referenced image/);
    expect(errOf(() => store.remove("default", img.id)).message).toMatch(/being used by a container/);
    expect(store.resolve("default", "app").id).toBe(img.id);
    expect(store.remove("default", "app", { force: true })).toEqual([{ untagged: "docker.io/library/app:latest" }]);
    expect(store.resolve("default", img.id).repoTags).toEqual([]);
    expect(store.prune("default").deleted).toEqual([]); // still in use
    inUse.delete(img.id);
    expect(store.prune("default").deleted).toEqual([{ deleted: img.id }]);
  });

  test("in use is per tenant for conflicts, global for deleting the image", async () => {
    const users = new Map<string, string>(); // tenant -> image its container uses
    const t = tempStore({ isInUse: (id, tenant) => [...users.entries()].some(([u, img]) => img === id && (tenant === undefined || u === tenant)) });
    cleanups.push(t.cleanup);
    const store = t.store;
    const img = mk();
    await reg(store, img, "alice");
    await reg(store, img, "bob");
    store.tag("alice", img.id, "a");
    store.tag("bob", img.id, "b");
    users.set("alice", img.id);
    // bob is neither blocked nor told about alice's container
    expect(store.remove("bob", "b")).toEqual([{ untagged: "docker.io/library/b:latest" }, { deleted: img.id }]);
    expect(errOf(() => store.remove("alice", "a")).code).toBe("FailedPrecondition");
    // alice gives it up by force: her container keeps it (dangling, hers)
    expect(store.remove("alice", img.id, { force: true })).toEqual([{ untagged: "docker.io/library/a:latest" }]);
    expect(store.list("alice", { dangling: true }).map((i) => i.id)).toEqual([img.id]);
    expect(store.gc().blobs).toEqual([]);
    users.delete("alice");
    expect(store.prune("alice").deleted).toEqual([{ deleted: img.id }]);
    expect(store.db.query("SELECT COUNT(*) AS n FROM images").get()).toEqual({ n: 0 });
  });

  test("another tenant's child does not block a tenant; the orphaned parent row goes with the child", async () => {
    const store = setup();
    const p = mk({ created: "2024-01-01T00:00:00Z" });
    await reg(store, p, "alice");
    await reg(store, p, "bob");
    const ci = buildImage([base, top, tarOf([file("new", "n")])], { compress: ["gzip", "zstd", "none"], created: "2024-05-01T00:00:00Z" });
    store.blobs.put(ci.blobs[2]!);
    const child = await store.register("bob", { config: ci.configBytes, layers: [...p.layers, ci.layers[2]!], parent: p.id });
    expect(errOf(() => store.remove("bob", p.id)).message).toMatch(/dependent child images/);
    expect(store.remove("alice", p.id)).toEqual([{ deleted: p.id }]);
    expect(store.remove("bob", child.id)).toEqual([{ deleted: child.id }]);
    expect(store.remove("bob", p.id)).toEqual([{ deleted: p.id }]);
    const g = store.gc();
    expect(g.blobs).toContain(p.id);
    expect(store.db.query("SELECT COUNT(*) AS n FROM images").get()).toEqual({ n: 0 });
  });

  test("a parent must be the tenant's; rows nobody owns or uses are swept by gc", async () => {
    const store = setup();
    const p = mk({ created: "2024-01-01T00:00:00Z" });
    await reg(store, p, "alice");
    const ci = buildImage([base, top, tarOf([file("new", "n")])], { compress: ["gzip", "zstd", "none"], created: "2024-05-01T00:00:00Z" });
    store.blobs.put(ci.blobs[2]!);
    const e = await rejectOf(store.register("bob", { config: ci.configBytes, layers: [...p.layers, ci.layers[2]!], parent: p.id }));
    expect(e.code).toBe("NotFound");
    // a row without owner or reference (not reachable through the API; defensive) goes at the next gc
    store.db.query("DELETE FROM image_owners").run();
    expect(store.gc().blobs).toContain(p.id);
    expect(store.db.query("SELECT COUNT(*) AS n FROM images").get()).toEqual({ n: 0 });
  });

  test("a parent image with children is kept (untagged only); removing it by id is refused", async () => {
    const store = setup();
    const p = mk({ created: "2024-01-01T00:00:00Z" });
    await reg(store, p);
    store.tag("default", p.id, "parent");
    const childImg = buildImage([base, top, tarOf([file("new", "n")])], { compress: ["gzip", "zstd", "none"], created: "2024-05-01T00:00:00Z" });
    store.blobs.put(childImg.blobs[2]!);
    const child = await store.register("default", { config: childImg.configBytes, layers: [...p.layers, childImg.layers[2]!], parent: p.id });
    expect(child.parent).toBe(p.id);
    expect(errOf(() => store.remove("default", p.id)).message).toMatch(/dependent child images/);
    expect(store.remove("default", "parent")).toEqual([{ untagged: "docker.io/library/parent:latest" }]);
    // intermediate: hidden from the default listing, shown with all
    expect(store.list("default").map((i) => i.id)).toEqual([child.id]);
    expect(store.list("default", { all: true }).map((i) => i.id)).toEqual([child.id, p.id]);
    // history walks to the parent
    const h = store.history("default", child.id);
    expect(h[0]!.id).toBe(child.id);
    expect(h[1]!.id).toBe(p.id);
    // removing the child frees the parent for prune
    expect(store.remove("default", child.id)).toEqual([{ deleted: child.id }]);
    expect(store.prune("default").deleted).toEqual([{ deleted: p.id }]);
  });
});

describe("prune and gc", () => {
  test("prune removes dangling images (all: every unused one), honours label/until, then gc frees blobs", async () => {
    const inUse = new Set<string>();
    const store = setup(inUse);
    const a = mk({ created: "2024-01-01T00:00:00Z", labels: { keep: "yes" } });
    const b = mk({ created: "2024-02-01T00:00:00Z" });
    const c = mk({ created: "2024-03-01T00:00:00Z" }, [tarOf([file("c", "c")])]);
    for (const i of [a, b, c]) await reg(store, i);
    store.tag("default", c.id, "c");
    inUse.add(c.id);
    const r1 = store.prune("default", { labelNot: ["keep=yes"] });
    expect(r1.deleted).toEqual([{ deleted: b.id }]);
    expect(r1.gc.blobs).toContain(b.id);
    expect(r1.gc.blobs).not.toContain(a.layers[0]!.digest); // shared with a
    const r2 = store.prune("default", { until: "2023-01-01T00:00:00Z" });
    expect(r2.deleted).toEqual([]);
    const r3 = store.prune("default", { all: true });
    expect(r3.deleted).toEqual([{ deleted: a.id }]); // c is in use
    expect(r3.spaceReclaimed).toBeGreaterThan(0);
    expect(store.blobs.has(a.layers[0]!.digest)).toBe(false);
    expect(store.blobs.has(c.layers[0]!.digest)).toBe(true);
  });

  test("gc keeps leased blobs until the lease is released", async () => {
    const store = setup();
    const d = store.blobs.put("pulling...");
    const lease = store.lease();
    lease.add(d);
    expect(store.gc().blobs).toEqual([]);
    expect(store.blobs.has(d)).toBe(true);
    lease.release();
    expect(store.gc().blobs).toEqual([d]);
    expect(store.blobs.has(d)).toBe(false);
  });

  test("manifest(): the registered one, or a generated OCI manifest kept with the image", async () => {
    const store = setup();
    const img = mk();
    await reg(store, img);
    expect(store.manifest("default", img.id).digest).toBe(img.manifestDigest);
    const img2 = mk({ created: "2022-01-01T00:00:00Z" });
    await reg(store, img2, "default", false);
    const m = store.manifest("default", img2.id);
    const parsed = JSON.parse(new TextDecoder().decode(m.bytes));
    expect(parsed.config.digest).toBe(img2.id);
    expect(parsed.layers.map((l: { digest: string }) => l.digest)).toEqual(img2.layers.map((l) => l.digest));
    expect(store.manifest("default", img2.id).digest).toBe(m.digest); // stable
    expect(store.gc().blobs).not.toContain(m.digest);
  });
});
