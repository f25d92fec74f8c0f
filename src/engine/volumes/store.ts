/**
 * Named volumes (docker's "local" driver), per tenant: each tenant sees only
 * its own volumes and names are unique per tenant. Data lives in
 * <data root>/volumes/<id>/_data (the id is berth's, so two tenants' "data"
 * volumes never share a directory). DriverOpts may ask for a tmpfs or a bind
 * of a host directory mounted on _data (options.ts); that mount is made when
 * the volume is first mounted into a container (`mountpoint`) and undone on
 * remove.
 *
 * Which containers use a volume is the container service's knowledge: it
 * plugs in `setUsedBy` (tenant, name) => container ids.
 */
import { diskUsage } from "../storage/disk-usage.ts";
import type { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { alreadyExists, failedPrecondition, internal, invalidArgument, notFound } from "../../errors.ts";
import { isMountPoint } from "../storage/mount.ts";
import { parseLocalOptions } from "./options.ts";

/** docker inspect's Volume. */
export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: "local";
  Options: Record<string, string> | null;
  UsageData?: { Size: number; RefCount: number } | null;
}

export interface CreateVolume {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export interface VolumeFilters {
  name?: string[];
  driver?: string[];
  label?: string[];
  labelNot?: string[];
  dangling?: boolean;
}

/** The label docker puts on anonymous volumes. */
export const ANONYMOUS_LABEL = "com.docker.volume.anonymous";

export type UsedBy = (tenant: string, name: string) => string[];

interface Row {
  id: string;
  owner: string;
  name: string;
  driver: string;
  labels_json: string;
  options_json: string;
  created: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function checkVolumeName(name: string) {
  if (!NAME_RE.test(name))
    throw invalidArgument(
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw invalidArgument(`${field}: want an object of strings`);
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x !== "string") throw invalidArgument(`${field}: ${k}: want a string`);
  return v as Record<string, string>;
}

function labelsMatch(labels: Record<string, string>, f: string): boolean {
  const eq = f.indexOf("=");
  return eq < 0 ? f in labels : labels[f.slice(0, eq)] === f.slice(eq + 1);
}

function run(argv: string[], what: string) {
  const p = Bun.spawnSync(argv, { stdout: "ignore", stderr: "pipe" });
  if (p.exitCode !== 0) throw internal(`${what}: ${p.stderr.toString().trim() || `${argv[0]} failed`}`);
}

export class VolumeStore {
  /** <data root>/volumes */
  readonly dir: string;
  private usedBy: UsedBy = () => [];

  constructor(private readonly opts: { db: Database; dataRoot: string }) {
    this.dir = join(opts.dataRoot, "volumes");
    mkdirSync(this.dir, { recursive: true, mode: 0o701 });
  }

  /** The container service tells which containers use a volume (ids). */
  setUsedBy(fn: UsedBy) {
    this.usedBy = fn;
  }

  private row(tenant: string, name: string): Row | undefined {
    return this.opts.db.query<Row, [string, string]>("SELECT * FROM volumes WHERE owner = ? AND name = ?").get(tenant, name) ?? undefined;
  }

  private mustRow(tenant: string, name: string): Row {
    const r = this.row(tenant, name);
    if (!r) throw notFound(`get ${name}: no such volume`);
    return r;
  }

  private dataDir(r: Row): string {
    return join(this.dir, r.id, "_data");
  }

  private shape(r: Row): Volume {
    const options = JSON.parse(r.options_json) as Record<string, string>;
    return {
      Name: r.name,
      Driver: r.driver,
      Mountpoint: this.dataDir(r),
      CreatedAt: r.created,
      Labels: JSON.parse(r.labels_json),
      Scope: "local",
      Options: Object.keys(options).length ? options : null,
    };
  }

  exists(tenant: string, name: string): boolean {
    return !!this.row(tenant, name);
  }

  /**
   * Create a volume (a random 64-hex name when none is given). An existing
   * volume of that name is returned as it is (docker's idempotent create),
   * unless another driver was asked for.
   */
  create(tenant: string, req: CreateVolume): Volume {
    const name = req.Name ?? "";
    const driver = req.Driver || "local";
    if (typeof name !== "string") throw invalidArgument("Name: want a string");
    if (typeof driver !== "string") throw invalidArgument("Driver: want a string");
    const labels = stringMap(req.Labels, "Labels");
    const options = stringMap(req.DriverOpts, "DriverOpts");
    if (name !== "") checkVolumeName(name);
    if (driver !== "local") throw invalidArgument(`create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    if (name !== "") {
      const existing = this.row(tenant, name);
      if (existing) {
        if (existing.driver !== driver) throw alreadyExists(`create ${name}: volume name must be unique`);
        return this.shape(existing);
      }
    }
    parseLocalOptions(options);
    const volName = name || randomBytes(32).toString("hex");
    const id = randomBytes(16).toString("hex");
    const data = join(this.dir, id, "_data");
    mkdirSync(data, { recursive: true, mode: 0o755 });
    // a 0755 _data under a 0701 volumes dir: containers' users can reach it, host users can't list it
    try {
      this.opts.db
        .query("INSERT INTO volumes (id, owner, name, driver, labels_json, options_json, created) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .run(id, tenant, volName, driver, JSON.stringify(labels), JSON.stringify(options), new Date().toISOString().replace(/\.\d+Z$/, "Z"));
    } catch (e) {
      rmSync(join(this.dir, id), { recursive: true, force: true });
      // a concurrent create of the same name won the race: return that one
      const won = name ? this.row(tenant, name) : undefined;
      if (won) return this.shape(won);
      throw internal(`create ${volName}: ${(e as Error).message}`, e);
    }
    return this.shape(this.mustRow(tenant, volName));
  }

  inspect(tenant: string, name: string): Volume {
    return this.shape(this.mustRow(tenant, name));
  }

  list(tenant: string, f: VolumeFilters = {}): Volume[] {
    const rows = this.opts.db.query<Row, [string]>("SELECT * FROM volumes WHERE owner = ? ORDER BY name").all(tenant);
    const out: Volume[] = [];
    for (const r of rows) {
      const labels = JSON.parse(r.labels_json) as Record<string, string>;
      // docker: name filters match substrings
      if (f.name?.length && !f.name.some((n) => r.name.includes(n))) continue;
      if (f.driver?.length && !f.driver.includes(r.driver)) continue;
      if (f.label?.length && !f.label.every((l) => labelsMatch(labels, l))) continue;
      if (f.labelNot?.length && f.labelNot.some((l) => labelsMatch(labels, l))) continue;
      if (f.dangling !== undefined && (this.usedBy(tenant, r.name).length === 0) !== f.dangling) continue;
      out.push(this.shape(r));
    }
    return out;
  }

  /** Containers (ids) using the volume. */
  users(tenant: string, name: string): string[] {
    return this.usedBy(tenant, name);
  }

  /**
   * The host directory to mount for the volume, its driver mount (tmpfs,
   * bind) made first if it has one and it is not mounted yet.
   */
  mountpoint(tenant: string, name: string): string {
    const r = this.mustRow(tenant, name);
    const data = this.dataDir(r);
    mkdirSync(data, { recursive: true, mode: 0o755 });
    const m = parseLocalOptions(JSON.parse(r.options_json));
    if (m && !isMountPoint(data)) {
      if (m.bind) {
        if (!existsSync(m.device) || !statSync(m.device).isDirectory()) throw failedPrecondition(`mount volume ${name}: bind device ${m.device} is not a directory`);
        run(["mount", "-n", "--rbind", m.device, data], `mount volume ${name}`);
        if (m.o.length) run(["mount", "-n", "-o", ["remount", "bind", ...m.o].join(","), data], `mount volume ${name}`);
      } else run(["mount", "-n", "-t", m.type, ...(m.o.length ? ["-o", m.o.join(",")] : []), m.device, data], `mount volume ${name}`);
    }
    return data;
  }

  /** Remove a volume; 409 while a container uses it. force: a missing volume is not an error. */
  remove(tenant: string, name: string, opts: { force?: boolean } = {}) {
    const r = this.row(tenant, name);
    if (!r) {
      if (opts.force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    const users = this.usedBy(tenant, name);
    if (users.length) throw failedPrecondition(`remove ${name}: volume is in use - [${users.join(", ")}]`);
    this.destroy(r);
  }

  private destroy(r: Row) {
    const data = this.dataDir(r);
    // a driver mount (and anything under it) goes first: never delete through a bind into the host
    for (let i = 0; i < 8 && isMountPoint(data); i++) run(["umount", "-n", "-l", data], `remove ${r.name}`);
    if (isMountPoint(data)) throw internal(`remove ${r.name}: ${data} is still mounted`);
    this.opts.db.query("DELETE FROM volumes WHERE id = ?").run(r.id);
    rmSync(join(this.dir, r.id), { recursive: true, force: true });
  }

  /**
   * Remove unused volumes: anonymous ones only unless `all` (docker since API
   * 1.42); label filters narrow it. Returns the names removed and bytes freed.
   */
  prune(tenant: string, opts: { all?: boolean; label?: string[]; labelNot?: string[] } = {}): { VolumesDeleted: string[]; SpaceReclaimed: number } {
    const deleted: string[] = [];
    let space = 0;
    for (const r of this.opts.db.query<Row, [string]>("SELECT * FROM volumes WHERE owner = ? ORDER BY name").all(tenant)) {
      const labels = JSON.parse(r.labels_json) as Record<string, string>;
      if (!opts.all && !(ANONYMOUS_LABEL in labels)) continue;
      if (opts.label?.length && !opts.label.every((l) => labelsMatch(labels, l))) continue;
      if (opts.labelNot?.length && opts.labelNot.some((l) => labelsMatch(labels, l))) continue;
      if (this.usedBy(tenant, r.name).length) continue;
      const size = isMountPoint(this.dataDir(r)) ? 0 : diskUsage(this.dataDir(r));
      this.destroy(r);
      deleted.push(r.name);
      space += size;
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: space };
  }
}
