/**
 * berth's image archives against a real, independent implementation: Podman's
 * (containers/image) `save` and `load`. What podman saves (docker-archive and
 * oci-archive) berth loads with the same image id and mounts; what berth saves
 * podman loads with the same id and tag and runs (with berth-runtime), its
 * whiteouts and opaque dirs applied by podman's own unpacker.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Podman } from "./engines.ts";
import { ensureRootfs, mountsUnder, ROOTFS, uniqueId } from "../integration/harness.ts";
import { openDb } from "../../src/engine/db.ts";
import { BlobStore } from "../../src/engine/images/blobs.ts";
import { ImageStore } from "../../src/engine/images/store.ts";
import { OverlaySnapshotter } from "../../src/engine/storage/overlay.ts";
import { importImage, loadArchive, saveArchive, commitContainer } from "../../src/engine/images/archive.ts";
import { createTar } from "../../src/engine/storage/gnutar.ts";

const ok = Podman.available();
const d = ok ? describe : describe.skip;
const ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

let pm: Podman;
let root: string;
let store: ImageStore;
let snaps: OverlaySnapshotter;

beforeAll(() => {
  if (!ok) return;
  pm = new Podman();
  pm.importImage();
  root = mkdtempSync(join(tmpdir(), "berth-compat-images-"));
  const db = openDb(join(root, "berth.db"));
  const blobs = new BlobStore(join(root, "blobs"));
  snaps = new OverlaySnapshotter({ root, db, blobs });
  store = new ImageStore({ db, blobs, snapshots: snaps });
});

afterAll(async () => {
  if (!ok) return;
  for (const c of snaps.containers()) await snaps.remove(c);
  expect(mountsUnder(root)).toEqual([]);
  rmSync(root, { recursive: true, force: true });
  pm.cleanup();
});

async function* fileStream(path: string): AsyncGenerator<Uint8Array> {
  for await (const c of Bun.file(path).stream()) yield c;
}

d("podman save -> berth load", () => {
  for (const format of ["docker-archive", "oci-archive"] as const) {
    test(format, async () => {
      const out = join(pm.dir, `save-${format}.tar`);
      pm.ok(["save", "--format", format, "-o", out, pm.image]);
      const podmanId = pm.ok(["image", "inspect", "--format", "{{.Id}}", pm.image]).trim();
      const res = await loadArchive(store, format, fileStream(out));
      expect(res.images.map((i) => i.id)).toEqual([`sha256:${podmanId}`]);
      if (format === "docker-archive") expect(res.refs).toEqual(["localhost/berth-busybox:test"]);
      const img = res.images[0]!;
      const id = uniqueId("c");
      await snaps.prepare(id, img.layers);
      const rootfs = await snaps.mount(id);
      expect(existsSync(join(rootfs, "bin/busybox"))).toBe(true);
      await snaps.remove(id);
    });
  }
});

d("berth save -> podman load", () => {
  test("same id and tag; podman's unpacker sees the whiteouts and opaque dir; it runs", async () => {
    ensureRootfs();
    const base = await importImage(store, "default", createTar(ROOTFS), { ref: "localhost/berth-made:base" });
    // a second layer made the berth way: change files in a container and commit
    const c = uniqueId("c");
    await snaps.prepare(c, base.layers);
    const r = await snaps.mount(c);
    rmSync(join(r, "bin/acpid"), { force: true }); // (not /etc/hostname: podman bind-mounts its own)
    writeFileSync(join(r, "etc/motd"), "made by berth\n");
    rmSync(join(r, "home"), { recursive: true, force: true });
    mkdirSync(join(r, "home"));
    writeFileSync(join(r, "home/only"), "x");
    const img = await commitContainer(store, snaps, "default", c, base.id, { ref: "localhost/berth-made:v1", changes: ['CMD ["sh"]'] });
    await snaps.remove(c);

    const out = join(root, "berth-save.tar");
    const parts: Uint8Array[] = [];
    for await (const chunk of saveArchive(store, "default", ["localhost/berth-made:v1"])) parts.push(chunk.slice());
    writeFileSync(out, Buffer.concat(parts));
    const loaded = pm.ok(["load", "-i", out]);
    expect(loaded).toContain("localhost/berth-made:v1");
    expect(pm.ok(["image", "inspect", "--format", "{{.Id}}", "localhost/berth-made:v1"]).trim()).toBe(img.id.slice(7));
    const run = pm.run(["run", "--rm", ...ULIMITS, "localhost/berth-made:v1", "sh", "-c", "cat /etc/motd; ls /home; test -e /bin/acpid && echo acpid-present || echo acpid-gone"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("made by berth\nonly\nacpid-gone\n");
    expect(run.code).toBe(0);
  });
});
