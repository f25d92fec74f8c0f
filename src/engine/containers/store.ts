/**
 * Container records in SQLite: one row per container, the record as JSON with
 * the columns lookups need (owner, name, image). Names are unique per tenant;
 * a reference is a full id, a unique id prefix, or a name (docker's order).
 */
import type { Database } from "bun:sqlite";
import { BerthError, notFound } from "../../errors.ts";
import type { ContainerRecord } from "./model.ts";

interface Row {
  record_json: string;
}

/** docker's name rule */
export const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export class ContainerStore {
  constructor(private readonly db: Database) {}

  insert(r: ContainerRecord): void {
    try {
      this.db
        .query("INSERT INTO containers (id, owner, name, image_id, record_json, created) VALUES (?, ?, ?, ?, ?, ?)")
        .run(r.Id, r.tenant, r.Name, r.Image, JSON.stringify(r), r.Created);
    } catch (e) {
      if (/UNIQUE/.test(String(e))) throw nameConflict(r.Name, this.byName(r.tenant, r.Name)?.Id ?? "");
      throw e;
    }
  }

  /** Write the record back (its name may have changed: rename). */
  save(r: ContainerRecord): void {
    try {
      this.db.query("UPDATE containers SET name = ?, record_json = ? WHERE id = ?").run(r.Name, JSON.stringify(r), r.Id);
    } catch (e) {
      if (/UNIQUE/.test(String(e))) throw nameConflict(r.Name, this.byName(r.tenant, r.Name)?.Id ?? "");
      throw e;
    }
  }

  delete(id: string): void {
    this.db.query("DELETE FROM containers WHERE id = ?").run(id);
  }

  byId(id: string): ContainerRecord | undefined {
    const row = this.db.query<Row, [string]>("SELECT record_json FROM containers WHERE id = ?").get(id);
    return row ? (JSON.parse(row.record_json) as ContainerRecord) : undefined;
  }

  byName(tenant: string, name: string): ContainerRecord | undefined {
    const row = this.db.query<Row, [string, string]>("SELECT record_json FROM containers WHERE owner = ? AND name = ?").get(tenant, name.replace(/^\//, ""));
    return row ? (JSON.parse(row.record_json) as ContainerRecord) : undefined;
  }

  /** A tenant's container by full id, name, or unique id prefix (docker's order). */
  find(tenant: string, ref: string): ContainerRecord | undefined {
    if (!ref) return undefined;
    if (/^[0-9a-f]{64}$/.test(ref)) {
      const r = this.byId(ref);
      if (r && r.tenant === tenant) return r;
    }
    const named = this.byName(tenant, ref);
    if (named) return named;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const rows = this.db
      .query<Row, [string, string]>("SELECT record_json FROM containers WHERE owner = ?1 AND substr(id, 1, length(?2)) = ?2 LIMIT 2")
      .all(tenant, ref);
    if (rows.length > 1) throw new BerthError("InvalidArgument", `multiple IDs found with provided prefix: ${ref}`);
    return rows[0] ? (JSON.parse(rows[0].record_json) as ContainerRecord) : undefined;
  }

  get(tenant: string, ref: string): ContainerRecord {
    const r = this.find(tenant, ref);
    if (!r) throw notFound(`No such container: ${ref}`);
    return r;
  }

  /** A tenant's containers (every tenant's when undefined), newest first. */
  list(tenant?: string): ContainerRecord[] {
    const rows =
      tenant === undefined
        ? this.db.query<Row, []>("SELECT record_json FROM containers ORDER BY created DESC, id").all()
        : this.db.query<Row, [string]>("SELECT record_json FROM containers WHERE owner = ? ORDER BY created DESC, id").all(tenant);
    return rows.map((r) => JSON.parse(r.record_json) as ContainerRecord);
  }

  imageInUse(imageId: string, tenant?: string): boolean {
    const row =
      tenant === undefined
        ? this.db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM containers WHERE image_id = ?").get(imageId)
        : this.db.query<{ n: number }, [string, string]>("SELECT count(*) AS n FROM containers WHERE image_id = ? AND owner = ?").get(imageId, tenant);
    return (row?.n ?? 0) > 0;
  }
}

export function nameConflict(name: string, id: string): BerthError {
  return new BerthError(
    "AlreadyExists",
    `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}
