/**
 * The image layer against the real kernel (root): hand-made layers loaded,
 * unpacked by the overlay snapshotter and mounted; every property a layer can
 * carry is checked from the mounted tree; diff/commit, save/load, export, GC
 * and tenants end to end; malicious layers must not write outside the store;
 * and a mounted image rootfs runs a real container under berth-runtime.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../../src/engine/db.ts";
import { BlobStore, sha256 } from "../../src/engine/images/blobs.ts";
import { ImageStore } from "../../src/engine/images/store.ts";
import { OverlaySnapshotter } from "../../src/engine/storage/overlay.ts";
import { MOUNT_DATA_MAX } from "../../src/engine/storage/mount.ts";
import { commitContainer, exportContainer, importImage, loadArchive, saveArchive } from "../../src/engine/images/archive.ts";
import { createTar } from "../../src/engine/storage/gnutar.ts";
import { TarReader, type TarHeader } from "../../src/engine/storage/tar.ts";
import { BerthError } from "../../src/errors.ts";
import { buildImage, collect, dir, file, ociLayoutArchive, opaque, streamOf, tarOf, whiteout, legacyDockerArchive } from "../unit/engine/fixtures.ts";
import { ensureRootfs, isRoot, makeBundle, mountsUnder, ROOTFS, RuntimeCli, uniqueId } from "./harness.ts";

const d = isRoot ? describe : describe.skip;
const te = new TextEncoder();

interface Engine {
  root: string;
  store: ImageStore;
  snaps: OverlaySnapshotter;
  /** container id -> its tenant and image id */
  containers: Map<string, { tenant: string; image: string }>;
}

const engines: Engine[] = [];
function engine(): Engine {
  const root = mkdtempSync(join(tmpdir(), "berth-engine-"));
  const db = openDb(join(root, "berth.db"));
  const blobs = new BlobStore(join(root, "blobs"));
  const snaps = new OverlaySnapshotter({ root, db, blobs });
  const containers = new Map<string, { tenant: string; image: string }>();
  const isInUse = (id: string, tenant?: string) => [...containers.values()].some((c) => c.image === id && (tenant === undefined || c.tenant === tenant));
  const store = new ImageStore({ db, blobs, snapshots: snaps, isInUse });
  const e = { root, store, snaps, containers };
  engines.push(e);
  return e;
}

async function newContainer(e: Engine, image: string, tenant = "default"): Promise<{ id: string; rootfs: string }> {
  const img = e.store.resolve(tenant, image);
  const id = uniqueId("c");
  await e.snaps.prepare(id, img.layers);
  e.containers.set(id, { tenant, image: img.id });
  return { id, rootfs: await e.snaps.mount(id) };
}

async function removeContainer(e: Engine, id: string) {
  await e.snaps.remove(id);
  e.containers.delete(id);
}

afterAll(async () => {
  for (const e of engines) {
    for (const c of e.snaps.containers()) await e.snaps.remove(c);
    e.store.db.close();
    rmSync(e.root, { recursive: true, force: true });
  }
  // nothing left mounted
  expect(engines.flatMap((e) => mountsUnder(e.root))).toEqual([]);
});

/** GNU tar's view of a path's xattrs (independent of the unpacking code path). */
async function xattrsOf(root: string, rel: string): Promise<Record<string, string>> {
  const r = new TarReader();
  for await (const c of createTar(root, [rel])) {
    for (const ev of r.push(c)) {
      if (ev.kind === "entry") return Object.fromEntries(Object.entries(ev.header.xattrs).map(([k, v]) => [k, new TextDecoder().decode(v)]));
    }
  }
  throw new Error(`no entry for ${rel}`);
}

function tarEntries(tar: Uint8Array): { h: TarHeader; data: string }[] {
  const r = new TarReader();
  const out: { h: TarHeader; data: string }[] = [];
  for (const ev of r.push(tar)) {
    if (ev.kind === "entry") out.push({ h: ev.header, data: "" });
    else if (ev.kind === "data") out[out.length - 1]!.data += new TextDecoder().decode(ev.data);
  }
  return out;
}

const makedev = (maj: number, min: number) => (maj << 8) | min;

// ---------------------------------------------------------------- the 3-layer image

const L1 = tarOf([
  dir("bin"),
  file("bin/su", "setuid", { mode: 0o4755 }),
  dir("etc"),
  dir("etc/opq"),
  file("etc/opq/a", "a"),
  file("etc/opq/b", "b"),
  file("etc/gone", "bye"),
  file("etc/keep", "keep"),
  file("etc/hello", "v1", { uid: 1000, gid: 1000, mode: 0o640, xattrs: { "user.berth": te.encode("hello-v1") } }),
  dir("data"),
  file("data/file", "shared inode"),
  { name: "data/link", type: "hardlink", linkname: "data/file" },
  dir("old"),
  file("old/stuff", "old"),
]);
const L2 = tarOf([
  dir("etc"),
  whiteout("etc/gone"),
  dir("etc/opq"),
  opaque("etc/opq"),
  file("etc/opq/c", "c"),
  dir("dev"),
  { name: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
  { name: "dev/sda", type: "block", devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
  dir("run"),
  { name: "run/fifo", type: "fifo", mode: 0o620 },
  dir("home"),
  dir("home/user", { uid: 1000, gid: 1000, mode: 0o700 }),
  file("home/user/owned", "mine", { uid: 1000, gid: 1000, mode: 0o600, xattrs: { "user.owner": te.encode("u1000"), "trusted.berth": te.encode("t") } }),
]);
const L3 = tarOf([
  file("etc/hello", "v3", { uid: 1000, gid: 1000, mode: 0o640, xattrs: { "user.berth": te.encode("hello-v3") } }),
  { name: "etc-link", type: "symlink", linkname: "etc" },
  whiteout("old"),
]);
const IMG = buildImage([L1, L2, L3], { compress: ["gzip", "zstd", "none"], created: "2024-05-01T00:00:00Z" });

d("overlay snapshotter and image archives", () => {
  let e: Engine;
  let c1: { id: string; rootfs: string };
  beforeAll(async () => {
    e = engine();
    const res = await loadArchive(e.store, "default", streamOf(ociLayoutArchive([{ img: IMG, imageName: "docker.io/library/app:v1" }])));
    expect(res.images.map((i) => i.id)).toEqual([IMG.id]);
    c1 = await newContainer(e, "app:v1");
  });

  test("the mounted rootfs shows every layer property", async () => {
    const r = c1.rootfs;
    expect(mountsUnder(r)).toEqual([r]);
    // whiteout (L2) removed the L1 file; a whiteout of a dir (L3) removed the dir
    expect(existsSync(join(r, "etc/gone"))).toBe(false);
    expect(existsSync(join(r, "old"))).toBe(false);
    expect(readFileSync(join(r, "etc/keep"), "utf8")).toBe("keep");
    // opaque dir: only L2's content
    expect(readdirSync(join(r, "etc/opq"))).toEqual(["c"]);
    // hardlink
    const f = statSync(join(r, "data/file"));
    const l = statSync(join(r, "data/link"));
    expect(l.ino).toBe(f.ino);
    expect(f.nlink).toBe(2);
    // devices and fifo
    const n = statSync(join(r, "dev/null"));
    expect(n.isCharacterDevice()).toBe(true);
    expect(n.rdev).toBe(makedev(1, 3));
    expect(n.mode & 0o7777).toBe(0o666);
    const b = statSync(join(r, "dev/sda"));
    expect(b.isBlockDevice()).toBe(true);
    expect(b.rdev).toBe(makedev(8, 0));
    expect(b.gid).toBe(6);
    expect(lstatSync(join(r, "run/fifo")).isFIFO()).toBe(true);
    // ownership and modes
    const o = statSync(join(r, "home/user/owned"));
    expect([o.uid, o.gid, o.mode & 0o7777]).toEqual([1000, 1000, 0o600]);
    const u = statSync(join(r, "home/user"));
    expect([u.uid, u.gid, u.mode & 0o7777]).toEqual([1000, 1000, 0o700]);
    expect(statSync(join(r, "bin/su")).mode & 0o7777).toBe(0o4755);
    // the top layer's version of a file, with its xattr
    expect(readFileSync(join(r, "etc/hello"), "utf8")).toBe("v3");
    expect(statSync(join(r, "etc/hello")).uid).toBe(1000);
    expect(await xattrsOf(r, "etc/hello")).toEqual({ "user.berth": "hello-v3" });
    expect(await xattrsOf(r, "home/user/owned")).toEqual({ "user.owner": "u1000", "trusted.berth": "t" });
    // symlink
    expect(readlinkSync(join(r, "etc-link"))).toBe("etc");
  });

  test("each layer is unpacked once, in overlay format, behind a short link", async () => {
    const img = e.store.resolve("default", "app:v1");
    for (const c of img.chainIDs) expect(e.snaps.has(c)).toBe(true);
    // L2's diff dir holds the whiteout as a 0:0 char device and the opaque xattr
    const l2 = e.snaps.diffDir(img.chainIDs[1]!);
    const wh = statSync(join(l2, "etc/gone"));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(await xattrsOf(l2, "etc/opq")).toEqual({ "trusted.overlay.opaque": "y" });
    expect(existsSync(join(l2, "etc/opq/.wh..wh..opq"))).toBe(false);
    // short links
    const opts = e.snaps.mountOptions(c1.id);
    expect(opts).toMatch(/^lowerdir=l\/[A-Z2-7]{26}:l\/[A-Z2-7]{26}:l\/[A-Z2-7]{26},upperdir=rw-[0-9a-f]+\/diff,workdir=rw-[0-9a-f]+\/work/);
    for (const link of readdirSync(join(e.snaps.dir, "l"))) expect(readlinkSync(join(e.snaps.dir, "l", link))).toMatch(/^\.\.\/[0-9a-f]{64}\/diff$/);
    // a second container shares the snapshots (no new unpack)
    const before = readdirSync(e.snaps.dir).length;
    const c2 = await newContainer(e, "app:v1");
    expect(readdirSync(e.snaps.dir).length).toBe(before + 1); // just its rw dir
    await removeContainer(e, c2.id);
    expect(readdirSync(e.snaps.dir).length).toBe(before);
  });

  test("diff of the upper dir gives whiteouts and opaque markers; commit applies them", async () => {
    const r = c1.rootfs;
    unlinkSync(join(r, "etc/hello"));
    rmSync(join(r, "etc/opq"), { recursive: true });
    mkdirSync(join(r, "etc/opq"));
    writeFileSync(join(r, "etc/opq/new"), "new");
    writeFileSync(join(r, "new.txt"), "hello");
    writeFileSync(join(r, "data/file"), "changed");
    const diff = tarEntries(await collect(e.snaps.diff(c1.id)));
    const byName = new Map(diff.map((x) => [x.h.name, x]));
    expect([...byName.keys()].sort()).toEqual(["data/", "data/file", "etc/", "etc/.wh.hello", "etc/opq/", "etc/opq/.wh..wh..opq", "etc/opq/new", "new.txt"]);
    expect(byName.get("etc/.wh.hello")!.h.type).toBe("file");
    expect(byName.get("etc/opq/new")!.data).toBe("new");
    expect(byName.get("data/file")!.data).toBe("changed");
    for (const x of diff) expect(Object.keys(x.h.xattrs).filter((k) => k.startsWith("trusted.overlay."))).toEqual([]);

    const committed = await commitContainer(e.store, e.snaps, "default", c1.id, "app:v1", { ref: "app:v2", comment: "changed things", changes: ["ENV STAGE=2"] });
    expect(committed.parent).toBe(IMG.id);
    expect(committed.layers).toHaveLength(4);
    expect(committed.config.config?.Env).toContain("STAGE=2");
    expect(e.store.history("default", "app:v2")[0]).toMatchObject({ id: committed.id, comment: "changed things" });
    const c3 = await newContainer(e, "app:v2");
    expect(existsSync(join(c3.rootfs, "etc/hello"))).toBe(false);
    expect(readdirSync(join(c3.rootfs, "etc/opq"))).toEqual(["new"]);
    expect(readFileSync(join(c3.rootfs, "new.txt"), "utf8")).toBe("hello");
    expect(readFileSync(join(c3.rootfs, "data/file"), "utf8")).toBe("changed");
    // the copy-up broke the hardlink (as in docker): the link keeps the old content
    expect(readFileSync(join(c3.rootfs, "data/link"), "utf8")).toBe("shared inode");
    expect(statSync(join(c3.rootfs, "data/link")).ino).not.toBe(statSync(join(c3.rootfs, "data/file")).ino);
    await removeContainer(e, c3.id);
  });

  test("export flattens the mounted rootfs (no whiteouts, devices and xattrs kept)", async () => {
    const wasMounted = e.snaps.isMounted(c1.id);
    const out = tarEntries(await collect(exportContainer(e.snaps, c1.id)));
    const names = out.map((x) => x.h.name);
    expect(names).toContain("etc/opq/new");
    expect(names).not.toContain("etc/hello");
    expect(names.filter((n) => n.includes(".wh."))).toEqual([]);
    const devnull = out.find((x) => x.h.name === "dev/null")!.h;
    expect([devnull.type, devnull.devmajor, devnull.devminor]).toEqual(["char", 1, 3]);
    const owned = out.find((x) => x.h.name === "home/user/owned")!.h;
    expect([owned.uid, owned.gid]).toEqual([1000, 1000]);
    expect(new TextDecoder().decode(owned.xattrs["user.owner"])).toBe("u1000");
    expect(e.snaps.isMounted(c1.id)).toBe(wasMounted);
    // an unmounted container is mounted for the export and unmounted after
    await e.snaps.unmount(c1.id);
    expect((await collect(exportContainer(e.snaps, c1.id))).length).toBeGreaterThan(1024);
    expect(e.snaps.isMounted(c1.id)).toBe(false);
    await e.snaps.mount(c1.id);
  });

  test("save -> load into another engine: identical ids, tags, content", async () => {
    const tar = await collect(saveArchive(e.store, "default", ["app"]));
    const e2 = engine();
    const res = await loadArchive(e2.store, "default", streamOf(tar, 1 << 16));
    const ids = e.store.list("default").map((i) => i.id).sort();
    expect(res.images.map((i) => i.id).sort()).toEqual(ids);
    expect(e2.store.resolve("default", "app:v1").id).toBe(IMG.id);
    expect(e2.store.resolve("default", "app:v2").id).toBe(e.store.resolve("default", "app:v2").id);
    const c = await newContainer(e2, "app:v2");
    expect(readFileSync(join(c.rootfs, "etc/opq/new"), "utf8")).toBe("new");
    expect(statSync(join(c.rootfs, "dev/null")).rdev).toBe(makedev(1, 3));
    expect(await xattrsOf(c.rootfs, "home/user/owned")).toEqual({ "user.owner": "u1000", "trusted.berth": "t" });
    await removeContainer(e2, c.id);
  });

  test("tenants see only their references; shared content is unpacked once", async () => {
    expect(e.store.tryResolve("bob", "app:v1")).toBeUndefined();
    expect(e.store.tryResolve("bob", IMG.id)).toBeUndefined();
    const snapsBefore = e.snaps.snapshotChains().sort();
    const res = await loadArchive(e.store, "bob", streamOf(legacyDockerArchive([{ img: buildImage([L1, L2, L3], { created: "2024-05-01T00:00:00Z" }), tags: ["bobs/app:1"] }])));
    const bobImg = res.images[0]!;
    expect(bobImg.config.rootfs.diff_ids).toEqual(IMG.config.rootfs.diff_ids);
    const bc = await newContainer(e, "bobs/app:1", "bob");
    expect(e.snaps.snapshotChains().sort()).toEqual(snapsBefore); // same chainIDs: no new snapshot
    expect(e.store.list("bob").map((i) => i.repoTags)).toEqual([["docker.io/bobs/app:1"]]);
    expect(e.store.list("default").flatMap((i) => i.repoTags)).not.toContain("docker.io/bobs/app:1");
    // bob's rmi is not blocked by (and says nothing about) another tenant's container on the same image
    await removeContainer(e, bc.id);
    expect(e.store.remove("bob", "bobs/app:1")).toEqual([{ untagged: "docker.io/bobs/app:1" }, { deleted: IMG.id }]);
    expect(e.store.resolve("default", IMG.id).id).toBe(IMG.id);
    // bob's copies of the layers (uncompressed in his archive) were never the image's: gc drops them, keeps the image's
    const g = e.store.gc();
    expect(g.blobs.sort()).toEqual([IMG.tars[0]!, IMG.tars[1]!].map((t) => sha256(t)).sort());
    expect(g.snapshots).toEqual([]);
    for (const l of IMG.layers) expect(e.store.blobs.has(l.digest)).toBe(true);
  });

  test("GC removes unreferenced blobs and snapshots, keeps what images and containers use", async () => {
    // another image sharing nothing
    const other = buildImage([tarOf([file("other", "x")])], { created: "2024-06-01T00:00:00Z" });
    await loadArchive(e.store, "default", streamOf(ociLayoutArchive([{ img: other, imageName: "other:1" }])));
    const oc = await newContainer(e, "other:1");
    const otherChain = e.store.resolve("default", "other:1").chainIDs[0]!;
    const otherDir = e.snaps.diffDir(otherChain);
    await removeContainer(e, oc.id);
    expect(e.store.remove("default", "other:1")).toEqual([{ untagged: "docker.io/library/other:1" }, { deleted: other.id }]);
    const g = e.store.gc();
    expect(g.snapshots).toEqual([otherChain]);
    expect(g.blobs.sort()).toEqual([other.id, other.manifestDigest, other.layers[0]!.digest].sort());
    expect(existsSync(otherDir)).toBe(false);
    // app:v1 is used by c1: forced rmi only untags it, gc keeps all of it
    const app = e.store.resolve("default", "app:v1");
    expect(e.store.remove("default", "app:v1", { force: true })).toEqual([{ untagged: "docker.io/library/app:v1" }]);
    const g2 = e.store.gc();
    expect(g2.snapshots).toEqual([]);
    for (const l of app.layers) expect(e.store.blobs.has(l.digest)).toBe(true);
    for (const c of app.chainIDs) expect(e.snaps.has(c)).toBe(true);
    expect(readFileSync(join(c1.rootfs, "etc/keep"), "utf8")).toBe("keep");
    // containers gone, everything pruned: only the skeleton stays
    await removeContainer(e, c1.id);
    const p = e.store.prune("default", { all: true });
    expect(p.deleted.filter((x) => "deleted" in x)).toHaveLength(2); // app:v2, then its parent app:v1
    expect(readdirSync(e.snaps.dir).sort()).toEqual(["empty", "l"]);
    expect(readdirSync(join(e.snaps.dir, "l"))).toEqual([]);
    expect(readdirSync(join(e.store.blobs.root, "sha256"))).toEqual([]);
  });
});

d("deep images", () => {
  test("a 50-layer image mounts through short links (absolute paths would not fit in a page)", async () => {
    const e = engine();
    const tars: Uint8Array[] = [];
    for (let i = 0; i < 50; i++) {
      tars.push(tarOf([dir("layers"), file(`layers/f${i}`, String(i)), ...(i >= 2 ? [whiteout(`layers/f${i - 2}`)] : [])]));
    }
    const img = buildImage(tars, { compress: ["gzip", "none", "zstd"] });
    await loadArchive(e.store, "default", streamOf(ociLayoutArchive([{ img, imageName: "deep:1" }])));
    const c = await newContainer(e, "deep:1");
    const paths = e.snaps.paths(c.id);
    expect(paths.lowerdirs).toHaveLength(50);
    expect(`lowerdir=${paths.lowerdirs.join(":")},upperdir=${paths.upperdir},workdir=${paths.workdir}`.length).toBeGreaterThan(MOUNT_DATA_MAX);
    expect(e.snaps.mountOptions(c.id).length).toBeLessThan(MOUNT_DATA_MAX);
    expect(readdirSync(join(c.rootfs, "layers")).sort()).toEqual(["f48", "f49"]);
    expect(readFileSync(join(c.rootfs, "layers/f49"), "utf8")).toBe("49");
    await removeContainer(e, c.id);
  });

  test("an image too deep even for short links is refused with a clear error, nothing mounted", async () => {
    const e = engine();
    const tars = Array.from({ length: 150 }, (_, i) => tarOf([file(`f${i}`, String(i))]));
    const img = buildImage(tars);
    await loadArchive(e.store, "default", streamOf(ociLayoutArchive([{ img, imageName: "deeper:1" }])));
    const id = uniqueId("c");
    await e.snaps.prepare(id, e.store.resolve("default", "deeper:1").layers);
    let err: unknown;
    try {
      await e.snaps.mount(id);
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).message).toMatch(/150 layers need \d+ bytes of mount options/);
    expect(mountsUnder(e.root)).toEqual([]);
    await e.snaps.remove(id);
  });
});

d("malicious layers", () => {
  test("nothing is written outside the store; the failed unpack leaves nothing behind", async () => {
    const e = engine();
    const target = mkdtempSync(join(tmpdir(), "berth-target-"));
    try {
      const passwdLinks = statSync("/etc/passwd").nlink;
      const cases: Uint8Array[][] = [
        [tarOf([file("../../../../../../" + target.slice(1) + "/dotdot", "x")])],
        [tarOf([{ name: "esc", type: "symlink", linkname: target }, file("esc/through", "x")])],
        [tarOf([{ name: "hl", type: "hardlink", linkname: "/etc/passwd" }])],
        [tarOf([{ name: "hl", type: "hardlink", linkname: "../../../../../../etc/passwd" }])],
      ];
      for (const [i, tars] of cases.entries()) {
        const img = buildImage(tars, { created: `2024-01-0${i + 1}T00:00:00Z` });
        for (const b of [img.configBytes, img.manifest, ...img.blobs]) e.store.blobs.put(b);
        const rec = await e.store.register("default", { config: img.id, layers: img.layers });
        let err: unknown;
        try {
          await e.snaps.unpack(rec.layers);
        } catch (x) {
          err = x;
        }
        expect(err).toBeInstanceOf(BerthError);
        expect(e.snaps.has(rec.chainIDs[0]!)).toBe(false);
      }
      // a symlink in one layer and a write "through" it in the next: the next layer
      // unpacks into its own empty dir, so the write lands in the layer
      const img = buildImage([tarOf([{ name: "esc", type: "symlink", linkname: target }]), tarOf([dir("esc"), file("esc/next-layer", "x")])]);
      await loadArchive(e.store, "default", streamOf(ociLayoutArchive([{ img, imageName: "esc:1" }])));
      const c = await newContainer(e, "esc:1");
      expect(readFileSync(join(c.rootfs, "esc/next-layer"), "utf8")).toBe("x");
      await removeContainer(e, c.id);
      expect(readdirSync(target)).toEqual([]);
      expect(statSync("/etc/passwd").nlink).toBe(passwdLinks);
      expect(readdirSync(e.snaps.dir).filter((n) => n.startsWith(".tmp-"))).toEqual([]);
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });

  test("a layer that does not hash to its diffID is not unpacked", async () => {
    const e = engine();
    const img = buildImage([tarOf([file("a", "a")])]);
    for (const b of [img.configBytes, ...img.blobs]) e.store.blobs.put(b);
    const rec = await e.store.register("default", { config: img.id, layers: img.layers });
    let err: unknown;
    try {
      await e.snaps.unpack([{ digest: rec.layers[0]!.digest, diffID: "sha256:" + "f".repeat(64) }]);
    } catch (x) {
      err = x;
    }
    expect((err as BerthError).message).toMatch(/expected diffID/);
    expect(e.snaps.snapshotChains()).toEqual([]);
    expect(readdirSync(e.snaps.dir).sort()).toEqual(["empty", "l"]);
  });

  test("recover() clears what a crash left half-done", async () => {
    const e = engine();
    mkdirSync(join(e.snaps.dir, ".tmp-dead/diff"), { recursive: true });
    mkdirSync(join(e.snaps.dir, "f".repeat(64), "diff"), { recursive: true });
    writeFileSync(join(e.snaps.dir, "l", "STALE"), "");
    expect(e.snaps.recover().sort()).toEqual([".tmp-dead", "f".repeat(64), "l/STALE"]);
    expect(readdirSync(e.snaps.dir).sort()).toEqual(["empty", "l"]);
  });
});

d("a container runs on an image rootfs", () => {
  test("import the busybox rootfs, mount it, run it under berth-runtime", async () => {
    ensureRootfs();
    const e = engine();
    const img = await importImage(e.store, "default", createTar(ROOTFS), { ref: "busybox:local", changes: ['CMD ["sh"]'] });
    expect(img.repoTags).toEqual(["docker.io/library/busybox:local"]);
    const c = await newContainer(e, "busybox:local");
    writeFileSync(join(c.rootfs, "from-upper"), "upper\n");
    const rt = new RuntimeCli();
    const b = makeBundle(["sh", "-c", "cat /from-upper; echo written > /new; ls /bin/busybox"], (s) => {
      s.root = { path: c.rootfs, readonly: false };
    });
    try {
      const r = rt.runBundle(b);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("upper\n/bin/busybox\n");
      expect(readFileSync(join(e.snaps.paths(c.id).upperdir, "new"), "utf8")).toBe("written\n");
    } finally {
      b.cleanup();
      rt.cleanup();
    }
    await removeContainer(e, c.id);
  });
});
