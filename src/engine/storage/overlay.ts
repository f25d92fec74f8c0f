/**
 * The overlay snapshotter: image layers unpacked once each, keyed by chainID,
 * and containers' writable layers on top, mounted with overlayfs.
 *
 *   <root>/overlay/<chain hex>/diff     one unpacked layer (overlay format: whiteouts
 *                                       are char 0:0 devices, opaque dirs carry
 *                                       trusted.overlay.opaque=y)
 *   <root>/overlay/<chain hex>/link     its short name
 *   <root>/overlay/l/<short>            -> ../<chain hex>/diff  (docker's short lower-dir
 *                                       links: 26 chars instead of a 80+ char path, so a
 *                                       deep image's lowerdir list fits in one page)
 *   <root>/overlay/<rw id>/{diff,work,merged}   a container's upper, work dir and rootfs
 *   <root>/overlay/empty                the lower dir of an image without layers
 *
 * Each layer is checked and rewritten on its way to GNU tar (whiteouts.ts), its
 * diffID verified while it streams, extracted into a temporary dir and renamed
 * into place, then recorded in the `snapshots` table: a snapshot that is
 * recorded is complete. `recover()` removes what a crash left half-done.
 */
import type { Database } from "bun:sqlite";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, lstatSync } from "node:fs";
import { join } from "node:path";
import { alreadyExists, BerthError, invalidArgument, notFound, wrapError } from "../../errors.ts";
import type { BlobStore } from "../images/blobs.ts";
import { chainIDs, decompressedStream } from "../images/layers.ts";
import type { SnapshotGc } from "../images/store.ts";
import { createTar, extractTar } from "./gnutar.ts";
import { isMountPoint, mountOverlay, overlayOptions, unmount, type OverlayMount } from "./mount.ts";
import { LayerToOverlay, OverlayToLayer, rewrite } from "./whiteouts.ts";

/** A layer to unpack: its blob and the diffID it must hash to (ImageRecord.layers fits). */
export interface SnapshotLayer {
  digest: string;
  diffID: string;
}

/** A container's prepared rootfs. Paths are absolute. */
export interface PreparedRootfs {
  /** unpacked layers, top first (overlay's order) */
  lowerdirs: string[];
  upperdir: string;
  workdir: string;
  /** where `mount` puts the merged rootfs by default */
  rootfs: string;
}

interface SnapshotRow {
  chain_id: string;
  parent: string | null;
  diff_id: string;
  dir: string;
  link: string;
  size: number;
}

interface RwRow {
  container_id: string;
  chain_id: string | null;
  dir: string;
}

/** Overlay options berth always sets: no inode index, no redirects, no metacopy (so diff() sees plain files). */
const OVERLAY_EXTRA = ["index=off", "redirect_dir=off", "metacopy=off"];
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function shortName(seed: string): string {
  const h = createHash("sha256").update(seed).digest();
  let s = "";
  for (let i = 0; i < 26; i++) s += B32[h[i]! & 31];
  return s;
}

function checkContainerId(id: string) {
  if (typeof id !== "string" || !CONTAINER_ID.test(id)) throw invalidArgument(`container id "${id}": want [A-Za-z0-9][A-Za-z0-9_.-]*, at most 128 characters`);
}

async function* tapHash(src: AsyncIterable<Uint8Array>, hash: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array> {
  for await (const c of src) {
    hash.update(c);
    yield c;
  }
}

export class OverlaySnapshotter implements SnapshotGc {
  /** <root>/overlay */
  readonly dir: string;
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(
    readonly opts: { root: string; db: Database; blobs: BlobStore },
  ) {
    this.dir = join(opts.root, "overlay");
    mkdirSync(join(this.dir, "l"), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.dir, "empty"), { recursive: true, mode: 0o755 });
  }

  private get db(): Database {
    return this.opts.db;
  }

  // ---------------------------------------------------------------- layers

  /** Unpack every layer not unpacked yet (bottom first); returns the chainIDs. Concurrent calls share work. */
  async unpack(layers: SnapshotLayer[]): Promise<string[]> {
    const chains = chainIDs(layers.map((l) => l.diffID));
    for (let i = 0; i < layers.length; i++) {
      const c = chains[i]!;
      if (this.has(c)) continue;
      let p = this.inflight.get(c);
      if (!p) {
        p = this.unpackOne(c, i ? chains[i - 1]! : null, layers[i]!).finally(() => this.inflight.delete(c));
        this.inflight.set(c, p);
      }
      await p;
    }
    return chains;
  }

  has(chainID: string): boolean {
    const row = this.snapshot(chainID);
    return !!row && existsSync(join(this.dir, row.dir, "diff"));
  }

  /** The diff dir of an unpacked layer. */
  diffDir(chainID: string): string {
    const row = this.snapshot(chainID);
    if (!row) throw notFound(`snapshot ${chainID} not found`);
    return join(this.dir, row.dir, "diff");
  }

  private snapshot(chainID: string): SnapshotRow | undefined {
    return this.db.query<SnapshotRow, [string]>("SELECT * FROM snapshots WHERE chain_id = ?").get(chainID) ?? undefined;
  }

  private async unpackOne(chainID: string, parent: string | null, layer: SnapshotLayer): Promise<void> {
    const hex = chainID.slice(7);
    const tmp = join(this.dir, `.tmp-${randomBytes(8).toString("hex")}`);
    const what = `unpack layer ${layer.digest}`;
    mkdirSync(join(tmp, "diff"), { recursive: true, mode: 0o700 });
    try {
      const hash = createHash("sha256");
      const rw = new LayerToOverlay();
      let src: AsyncIterable<Uint8Array>;
      try {
        src = decompressedStream(this.opts.blobs.path(layer.digest));
      } catch (e) {
        throw wrapError(what, e);
      }
      await extractTar(join(tmp, "diff"), rewrite(tapHash(src, hash), rw)).catch((e) => {
        throw e instanceof BerthError ? e.wrap(what) : wrapError(what, e);
      });
      const got = "sha256:" + hash.digest("hex");
      if (got !== layer.diffID) throw invalidArgument(`${what}: content hashes to ${got}, expected diffID ${layer.diffID}`);
      const link = shortName(chainID);
      writeFileSync(join(tmp, "link"), link);
      const final = join(this.dir, hex);
      rmSync(final, { recursive: true, force: true });
      renameSync(tmp, final);
      const l = join(this.dir, "l", link);
      rmSync(l, { force: true });
      symlinkSync(`../${hex}/diff`, l);
      this.db
        .query("INSERT OR REPLACE INTO snapshots (chain_id, parent, diff_id, dir, link, size, created) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .run(chainID, parent, layer.diffID, hex, link, rw.unpackedSize, new Date().toISOString());
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** The snapshot chain under (and including) `top`, top first. */
  private chainRows(top: string | null): SnapshotRow[] {
    const out: SnapshotRow[] = [];
    for (let c = top; c; ) {
      const row = this.snapshot(c);
      if (!row) throw notFound(`snapshot ${c} not found`);
      out.push(row);
      c = row.parent;
    }
    return out;
  }

  // ---------------------------------------------------------------- containers

  /**
   * Unpack the image's layers and make the container's writable layer.
   * AlreadyExists if the container has one.
   */
  async prepare(containerId: string, layers: SnapshotLayer[]): Promise<PreparedRootfs> {
    checkContainerId(containerId);
    if (this.rw(containerId)) throw alreadyExists(`container ${containerId} already has a writable layer`);
    const chains = await this.unpack(layers);
    const top = chains[chains.length - 1] ?? null;
    const id = "rw-" + randomBytes(12).toString("hex");
    const d = join(this.dir, id);
    mkdirSync(join(d, "diff"), { recursive: true, mode: 0o755 });
    mkdirSync(join(d, "work"), { mode: 0o700 });
    mkdirSync(join(d, "merged"), { mode: 0o755 });
    try {
      this.db.query("INSERT INTO rw_layers (container_id, chain_id, dir, created) VALUES (?, ?, ?, ?)").run(containerId, top, id, new Date().toISOString());
    } catch (e) {
      rmSync(d, { recursive: true, force: true });
      throw wrapError(`prepare ${containerId}`, e);
    }
    return this.paths(containerId);
  }

  private rw(containerId: string): RwRow | undefined {
    return this.db.query<RwRow, [string]>("SELECT container_id, chain_id, dir FROM rw_layers WHERE container_id = ?").get(containerId) ?? undefined;
  }

  private mustRw(containerId: string): RwRow {
    checkContainerId(containerId);
    const r = this.rw(containerId);
    if (!r) throw notFound(`container ${containerId} has no writable layer`);
    return r;
  }

  /** The container's overlay paths (absolute). */
  paths(containerId: string): PreparedRootfs {
    const r = this.mustRw(containerId);
    const rows = this.chainRows(r.chain_id);
    return {
      lowerdirs: rows.length ? rows.map((s) => join(this.dir, s.dir, "diff")) : [join(this.dir, "empty")],
      upperdir: join(this.dir, r.dir, "diff"),
      workdir: join(this.dir, r.dir, "work"),
      rootfs: join(this.dir, r.dir, "merged"),
    };
  }

  /** The overlay mount for a container, with short relative lower links (cwd = the overlay dir). */
  mountSpec(containerId: string): OverlayMount {
    const r = this.mustRw(containerId);
    const rows = this.chainRows(r.chain_id);
    return {
      lower: rows.length ? rows.map((s) => `l/${s.link}`) : ["empty"],
      upper: `${r.dir}/diff`,
      work: `${r.dir}/work`,
      cwd: this.dir,
      extra: OVERLAY_EXTRA,
    };
  }

  /** The mount(2) option string for a container (checked against the one-page limit). */
  mountOptions(containerId: string): string {
    return overlayOptions(this.mountSpec(containerId));
  }

  /** Mount the container's rootfs (at `target`, default its `rootfs` dir); returns the mount point. Idempotent. */
  async mount(containerId: string, target?: string): Promise<string> {
    const spec = this.mountSpec(containerId);
    const t = target ?? this.paths(containerId).rootfs;
    if (isMountPoint(t)) return t;
    await mountOverlay(spec, t);
    return t;
  }

  async unmount(containerId: string, target?: string): Promise<void> {
    await unmount(target ?? this.paths(containerId).rootfs);
  }

  isMounted(containerId: string): boolean {
    return isMountPoint(this.paths(containerId).rootfs);
  }

  /**
   * The container's changes as an image layer (uncompressed tar): the upper
   * dir with whiteout devices turned into .wh. files and opaque dirs into
   * .wh..wh..opq entries. For commit; quiesce (pause) the container first.
   */
  diff(containerId: string): AsyncGenerator<Uint8Array> {
    const upper = this.paths(containerId).upperdir;
    return rewrite(createTar(upper), new OverlayToLayer());
  }

  /** Unmount and delete the container's writable layer. NotFound if it has none. */
  async remove(containerId: string): Promise<void> {
    const r = this.mustRw(containerId);
    await unmount(join(this.dir, r.dir, "merged"));
    rmSync(join(this.dir, r.dir), { recursive: true, force: true });
    this.db.query("DELETE FROM rw_layers WHERE container_id = ?").run(containerId);
  }

  /** Container ids with a writable layer. */
  containers(): string[] {
    return this.db.query<{ container_id: string }, []>("SELECT container_id FROM rw_layers ORDER BY container_id").all().map((r) => r.container_id);
  }

  // ---------------------------------------------------------------- gc (SnapshotGc)

  snapshotChains(): string[] {
    return this.db.query<{ chain_id: string }, []>("SELECT chain_id FROM snapshots").all().map((r) => r.chain_id);
  }

  chainsInUse(): string[] {
    const out = new Set<string>();
    for (const r of this.db.query<{ chain_id: string | null }, []>("SELECT chain_id FROM rw_layers").all()) {
      for (let c = r.chain_id; c && !out.has(c); ) {
        out.add(c);
        c = this.snapshot(c)?.parent ?? null;
      }
    }
    return [...out];
  }

  removeSnapshot(chainID: string): number {
    const row = this.snapshot(chainID);
    if (!row) return 0;
    rmSync(join(this.dir, "l", row.link), { force: true });
    rmSync(join(this.dir, row.dir), { recursive: true, force: true });
    this.db.query("DELETE FROM snapshots WHERE chain_id = ?").run(chainID);
    return row.size;
  }

  /**
   * After a crash: drop half-unpacked temp dirs, dirs and links nothing
   * records, and records whose dir is gone. Returns the names removed.
   * Call at startup, before any unpack.
   */
  recover(): string[] {
    const removed: string[] = [];
    const snaps = this.db.query<SnapshotRow, []>("SELECT * FROM snapshots").all();
    for (const s of snaps) {
      if (!existsSync(join(this.dir, s.dir, "diff"))) {
        this.db.query("DELETE FROM snapshots WHERE chain_id = ?").run(s.chain_id);
        removed.push(s.dir);
      }
    }
    const keep = new Set(["l", "empty"]);
    for (const s of this.db.query<{ dir: string }, []>("SELECT dir FROM snapshots UNION SELECT dir FROM rw_layers").all()) keep.add(s.dir);
    for (const name of readdirSync(this.dir)) {
      if (keep.has(name)) continue;
      const p = join(this.dir, name);
      if (isMountPoint(join(p, "merged"))) continue; // never remove under a live mount
      rmSync(p, { recursive: true, force: true });
      removed.push(name);
    }
    const links = new Set(this.db.query<{ link: string }, []>("SELECT link FROM snapshots").all().map((r) => r.link));
    for (const name of readdirSync(join(this.dir, "l"))) {
      const p = join(this.dir, "l", name);
      let ok = links.has(name);
      try {
        ok = ok && lstatSync(p).isSymbolicLink() && existsSync(join(this.dir, "l", readlinkSync(p)));
      } catch {
        ok = false;
      }
      if (!ok) {
        rmSync(p, { force: true });
        removed.push(`l/${name}`);
      }
    }
    return removed;
  }
}
