/**
 * berthd's metadata: one SQLite database (bun:sqlite) in WAL mode. Every engine
 * object has an `owner` (the tenant) from day one; the single-user case is the
 * tenant "default". Schema changes are numbered migrations, applied in order,
 * each in its own transaction.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

export const DEFAULT_TENANT = "default";

export interface Migration {
  /** unique, never renamed: recorded in the schema_migrations table */
  name: string;
  sql: string;
}

/**
 * The schema. Append new migrations at the end; never edit one that has shipped.
 */
export const MIGRATIONS: Migration[] = [
  {
    name: "0001-images",
    sql: `
      CREATE TABLE images (
        id TEXT PRIMARY KEY,            -- config digest
        manifest_digest TEXT,           -- manifest the image came from (pull/load), if any
        config_json TEXT NOT NULL,      -- OCI image config
        layers_json TEXT NOT NULL,      -- [{digest (compressed), diffID, size, mediaType}]
        size INTEGER NOT NULL,          -- sum of uncompressed layer sizes
        created TEXT NOT NULL
      );
      CREATE TABLE image_refs (
        owner TEXT NOT NULL,
        ref TEXT NOT NULL,              -- normalized name:tag or name@digest
        image_id TEXT NOT NULL REFERENCES images(id),
        PRIMARY KEY (owner, ref)
      );
      CREATE INDEX image_refs_image ON image_refs(image_id);
    `,
  },
  {
    name: "0002-image-store",
    sql: `
      ALTER TABLE images ADD COLUMN parent TEXT;  -- image this one was committed on, if any
      CREATE INDEX images_parent ON images(parent);
      -- which tenants hold an image (with or without references: dangling images stay visible to their owners)
      CREATE TABLE image_owners (
        owner TEXT NOT NULL,
        image_id TEXT NOT NULL REFERENCES images(id),
        added TEXT NOT NULL,
        PRIMARY KEY (owner, image_id)
      );
      CREATE INDEX image_owners_image ON image_owners(image_id);
      -- blobs kept alive with an image besides config and layers (manifest, index)
      CREATE TABLE image_blobs (
        image_id TEXT NOT NULL REFERENCES images(id),
        digest TEXT NOT NULL,
        PRIMARY KEY (image_id, digest)
      );
      -- verified facts about layer blobs (computed once per blob)
      CREATE TABLE layers (
        digest TEXT PRIMARY KEY,        -- blob digest
        diff_id TEXT NOT NULL,          -- sha256 of the uncompressed tar
        compression TEXT NOT NULL,      -- none | gzip | zstd (from the bytes)
        unpacked_size INTEGER NOT NULL  -- sum of file sizes
      );
      -- unpacked layers (overlay snapshotter), one per chainID
      CREATE TABLE snapshots (
        chain_id TEXT PRIMARY KEY,
        parent TEXT,                    -- chainID below, NULL for a bottom layer
        diff_id TEXT NOT NULL,
        dir TEXT NOT NULL UNIQUE,       -- <root>/overlay/<dir>
        link TEXT NOT NULL UNIQUE,      -- short name in <root>/overlay/l/
        size INTEGER NOT NULL,
        created TEXT NOT NULL
      );
      -- containers' writable layers
      CREATE TABLE rw_layers (
        container_id TEXT PRIMARY KEY,
        chain_id TEXT,                  -- top snapshot of the image, NULL for an image without layers
        dir TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL
      );
    `,
  },
  {
    name: "0003-networks",
    sql: `
      -- berthd's networks (bridge networks it manages; conflists an administrator
      -- dropped in <data root>/cni/net.d are read from there, not stored here)
      CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        driver TEXT NOT NULL,
        cni_name TEXT NOT NULL UNIQUE,    -- the CNI network name (berth-<id12>)
        bridge TEXT UNIQUE,               -- host bridge device
        subnet TEXT,
        gateway TEXT,
        ip_range TEXT,
        user_subnet INTEGER NOT NULL,     -- subnet given by the user (static --ip allowed)
        internal INTEGER NOT NULL,
        is_default INTEGER NOT NULL,      -- the tenant's "bridge" network
        labels_json TEXT NOT NULL,
        options_json TEXT NOT NULL,
        created TEXT NOT NULL,
        UNIQUE (owner, name)
      );
      -- attachments of containers to networks; network_id may name an
      -- administrator's conflist network, so it is not a foreign key
      CREATE TABLE network_endpoints (
        network_id TEXT NOT NULL,
        container_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        name TEXT,
        aliases_json TEXT NOT NULL,
        if_name TEXT NOT NULL,
        netns TEXT NOT NULL,
        address TEXT,                     -- "ip/len" once attached
        gateway TEXT,
        mac TEXT,
        ports_json TEXT NOT NULL,         -- resolved PortBinding[]
        dns_json TEXT NOT NULL,           -- the container's own upstream resolvers
        state TEXT NOT NULL,              -- attaching | attached | detaching
        created TEXT NOT NULL,
        PRIMARY KEY (network_id, container_id)
      );
      CREATE INDEX network_endpoints_container ON network_endpoints(container_id);
    `,
  },
  {
    name: "0004-volumes",
    sql: `
      -- named volumes (local driver), per tenant; data in <data root>/volumes/<id>/_data
      CREATE TABLE volumes (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        driver TEXT NOT NULL,
        labels_json TEXT NOT NULL,
        options_json TEXT NOT NULL,       -- DriverOpts as given
        created TEXT NOT NULL,
        UNIQUE (owner, name)
      );
    `,
  },
  {
    name: "0005-containers",
    sql: `
      -- berthd's containers: the record (docker inspect's fields and berth's own) as JSON,
      -- with the columns lookups and uniqueness need beside it
      CREATE TABLE containers (
        id TEXT PRIMARY KEY,              -- 64 hex
        owner TEXT NOT NULL,
        name TEXT NOT NULL,               -- without the leading "/"
        image_id TEXT NOT NULL,
        record_json TEXT NOT NULL,
        created TEXT NOT NULL,
        UNIQUE (owner, name)
      );
      CREATE INDEX containers_image ON containers(image_id);
    `,
  },
];

export function openDb(path: string, migrations: Migration[] = MIGRATIONS): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;");
  migrate(db, migrations);
  return db;
}

export function migrate(db: Database, migrations: Migration[]) {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)");
  const done = new Set(db.query<{ name: string }, []>("SELECT name FROM schema_migrations").all().map((r) => r.name));
  for (const m of migrations) {
    if (done.has(m.name)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.query("INSERT INTO schema_migrations (name, applied) VALUES (?, ?)").run(m.name, new Date().toISOString());
    })();
  }
}
