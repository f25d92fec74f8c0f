import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { openDb } from "../../src/engine/db.ts";
import { ANONYMOUS_LABEL, VolumeStore } from "../../src/engine/volumes/store.ts";
import { BerthError } from "../../src/errors.ts";
import { isMountPoint } from "../../src/engine/storage/mount.ts";

let dir: string;
let db: Database;
let vs: VolumeStore;
const inUse = new Map<string, string[]>();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "berth-vol-"));
  db = openDb(join(dir, "berth.db"));
  vs = new VolumeStore({ db, dataRoot: dir });
  inUse.clear();
  vs.setUsedBy((tenant, name) => inUse.get(`${tenant}/${name}`) ?? []);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as BerthError).code + ": " + (e as Error).message;
  }
  return "ok";
}

describe("VolumeStore", () => {
  test("create, inspect, list, remove", () => {
    const v = vs.create("default", { Name: "data", Labels: { a: "1" } });
    expect(v).toMatchObject({ Name: "data", Driver: "local", Scope: "local", Labels: { a: "1" }, Options: null });
    expect(v.Mountpoint).toMatch(new RegExp(`^${dir}/volumes/[0-9a-f]{32}/_data$`));
    expect(existsSync(v.Mountpoint)).toBe(true);
    expect(v.CreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(vs.inspect("default", "data")).toEqual(v);
    // idempotent create returns the same volume
    expect(vs.create("default", { Name: "data" }).Mountpoint).toBe(v.Mountpoint);
    expect(vs.list("default").map((x) => x.Name)).toEqual(["data"]);
    writeFileSync(join(v.Mountpoint, "f"), "x");
    vs.remove("default", "data");
    expect(existsSync(v.Mountpoint)).toBe(false);
    expect(code(() => vs.inspect("default", "data"))).toBe("NotFound: get data: no such volume");
    expect(code(() => vs.remove("default", "data"))).toBe("NotFound: get data: no such volume");
    expect(code(() => vs.remove("default", "data", { force: true }))).toBe("ok");
  });

  test("anonymous name is 64 hex", () => {
    expect(vs.create("default", {}).Name).toMatch(/^[0-9a-f]{64}$/);
  });

  test("bad input is refused and changes nothing", () => {
    expect(code(() => vs.create("default", { Name: "/etc" }))).toContain('InvalidArgument: create /etc: "/etc" includes invalid characters for a local volume name');
    expect(code(() => vs.create("default", { Name: "../x" }))).toContain("InvalidArgument");
    expect(code(() => vs.create("default", { Name: "x" }))).toContain("InvalidArgument");
    expect(code(() => vs.create("default", { Name: "v1", Driver: "nfs-plugin" }))).toContain('plugin "nfs-plugin" not found');
    expect(code(() => vs.create("default", { Name: "v1", DriverOpts: { bogus: "1" } }))).toBe('InvalidArgument: invalid option key: "bogus"');
    expect(code(() => vs.create("default", { Name: "v1", DriverOpts: { type: "tmpfs", o: "size=lots" } }))).toContain("bad tmpfs size");
    expect(code(() => vs.create("default", { Name: "v1", DriverOpts: { type: "ext4", device: "/dev/sda" } }))).toContain('unsupported volume mount type "ext4"');
    expect(code(() => vs.create("default", { Name: "v1", DriverOpts: { type: "none", o: "bind", device: "rel" } }))).toContain("absolute host path");
    expect(code(() => vs.create("default", { Name: "v1", Labels: { a: 1 } as never }))).toContain("Labels: a: want a string");
    expect(vs.list("default")).toEqual([]);
  });

  test("tenants are isolated: same name, different data; invisible to each other", () => {
    const a = vs.create("alice", { Name: "data" });
    const b = vs.create("bob", { Name: "data" });
    expect(a.Mountpoint).not.toBe(b.Mountpoint);
    expect(vs.list("alice").length).toBe(1);
    vs.create("alice", { Name: "secret" });
    expect(vs.list("bob").map((v) => v.Name)).toEqual(["data"]);
    expect(code(() => vs.inspect("bob", "secret"))).toContain("NotFound");
    expect(code(() => vs.remove("bob", "secret"))).toContain("NotFound");
    expect(vs.prune("bob", { all: true }).VolumesDeleted).toEqual(["data"]);
    expect(vs.list("alice").map((v) => v.Name)).toEqual(["data", "secret"]);
  });

  test("in use: remove refused with docker's message; dangling filter; prune skips it", () => {
    vs.create("default", { Name: "used" });
    vs.create("default", { Name: "free" });
    inUse.set("default/used", ["c1", "c2"]);
    expect(code(() => vs.remove("default", "used"))).toBe("FailedPrecondition: remove used: volume is in use - [c1, c2]");
    expect(code(() => vs.remove("default", "used", { force: true }))).toContain("in use");
    expect(vs.list("default", { dangling: true }).map((v) => v.Name)).toEqual(["free"]);
    expect(vs.list("default", { dangling: false }).map((v) => v.Name)).toEqual(["used"]);
    expect(vs.prune("default", { all: true }).VolumesDeleted).toEqual(["free"]);
    expect(vs.list("default").map((v) => v.Name)).toEqual(["used"]);
  });

  test("filters: name (substring), label, label!, driver", () => {
    vs.create("default", { Name: "web-data", Labels: { app: "web", tier: "1" } });
    vs.create("default", { Name: "db-data", Labels: { app: "db" } });
    expect(vs.list("default", { name: ["web"] }).map((v) => v.Name)).toEqual(["web-data"]);
    expect(vs.list("default", { label: ["app"] }).length).toBe(2);
    expect(vs.list("default", { label: ["app=db"] }).map((v) => v.Name)).toEqual(["db-data"]);
    expect(vs.list("default", { labelNot: ["tier"] }).map((v) => v.Name)).toEqual(["db-data"]);
    expect(vs.list("default", { driver: ["local"] }).length).toBe(2);
    expect(vs.list("default", { driver: ["other"] }).length).toBe(0);
  });

  test("prune: anonymous only unless all; reports space", () => {
    const anon = vs.create("default", { Labels: { [ANONYMOUS_LABEL]: "" } });
    vs.create("default", { Name: "named" });
    writeFileSync(join(anon.Mountpoint, "f"), "12345");
    expect(vs.prune("default")).toEqual({ VolumesDeleted: [anon.Name], SpaceReclaimed: 5 });
    expect(vs.prune("default", { all: true }).VolumesDeleted).toEqual(["named"]);
  });

  test.skipIf(process.getuid?.() !== 0)("tmpfs volume: mounted on first use, unmounted on remove", () => {
    const v = vs.create("default", { Name: "tmp", DriverOpts: { type: "tmpfs", device: "tmpfs", o: "size=1m,mode=700" } });
    expect(v.Options).toEqual({ type: "tmpfs", device: "tmpfs", o: "size=1m,mode=700" });
    const p = vs.mountpoint("default", "tmp");
    try {
      expect(isMountPoint(p)).toBe(true);
      const mi = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.split(" ")[4] === p)!;
      expect(mi).toContain(" - tmpfs ");
      expect(mi).toContain("size=1024k");
      // idempotent
      expect(vs.mountpoint("default", "tmp")).toBe(p);
    } finally {
      vs.remove("default", "tmp");
    }
    expect(isMountPoint(p)).toBe(false);
    expect(existsSync(p)).toBe(false);
  });

  test.skipIf(process.getuid?.() !== 0)("bind volume: removing it never deletes the host directory's files", () => {
    const host = join(dir, "hostdir");
    require("node:fs").mkdirSync(host);
    writeFileSync(join(host, "keep"), "precious");
    vs.create("default", { Name: "b1", DriverOpts: { type: "none", o: "bind", device: host } });
    const p = vs.mountpoint("default", "b1");
    expect(readFileSync(join(p, "keep"), "utf8")).toBe("precious");
    vs.remove("default", "b1");
    expect(readFileSync(join(host, "keep"), "utf8")).toBe("precious");
  });
});
