import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../../src/engine/db.ts";
import { resolveMounts, tmpfsOptions, volumesToRemove, type MountInput } from "../../src/engine/containers/mounts.ts";
import { VolumeStore } from "../../src/engine/volumes/store.ts";
import type { BerthError } from "../../src/errors.ts";

let dir: string;
let db: Database;
let vs: VolumeStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "berth-mounts-"));
  db = openDb(join(dir, "berth.db"));
  vs = new VolumeStore({ db, dataRoot: join(dir, "data") });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const input = (hc: MountInput["HostConfig"], volumes?: Record<string, object>, rootfs?: string): MountInput => ({
  tenant: "default",
  Config: { Volumes: volumes },
  HostConfig: hc,
  volumes: vs,
  rootfs,
});

function err(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return `${(e as BerthError).code}: ${(e as Error).message}`;
  }
  return "ok";
}

describe("resolveMounts", () => {
  test("Binds: host paths, named volumes (created), modes", () => {
    const host = join(dir, "h");
    const ms = resolveMounts(input({ Binds: [`${host}/:/srv:ro,rslave`, "cache:/cache", "cache2:/c2:nocopy,rw"] }));
    expect(ms[0]).toEqual({ Type: "bind", Source: host, Destination: "/srv", Mode: "ro,rslave", RW: false, Propagation: "rslave", Options: ["rbind", "ro", "rslave"] });
    expect(statSync(host).isDirectory()).toBe(true); // Binds create a missing source, like docker
    expect(ms[1]).toMatchObject({ Type: "volume", Name: "cache", Destination: "/cache", RW: true, Propagation: "" });
    expect(ms[1]!.Source).toBe(vs.inspect("default", "cache").Mountpoint);
    expect(ms[2]!.Mode).toBe("nocopy,rw");
    expect(vs.list("default").map((v) => v.Name)).toEqual(["cache", "cache2"]);
  });

  test("Mounts: bind/volume/tmpfs with options", () => {
    mkdirSync(join(dir, "src"));
    const ms = resolveMounts(
      input({
        Mounts: [
          { Type: "bind", Source: join(dir, "src"), Target: "/b", ReadOnly: true, BindOptions: { Propagation: "shared", NonRecursive: true } },
          { Type: "volume", Source: "named", Target: "/v", VolumeOptions: { NoCopy: true, Labels: { a: "b" } } },
          { Type: "volume", Target: "/anon" },
          { Type: "tmpfs", Target: "/t", TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1777 } },
        ],
      }),
    );
    expect(ms[0]).toMatchObject({ Type: "bind", RW: false, Propagation: "shared", Options: ["bind", "ro", "shared"] });
    expect(ms[1]).toMatchObject({ Type: "volume", Name: "named", Mode: "z,nocopy" });
    expect(vs.inspect("default", "named").Labels).toEqual({ a: "b" });
    expect(ms[2]!.Name).toMatch(/^[0-9a-f]{64}$/);
    expect(vs.inspect("default", ms[2]!.Name!).Labels).toEqual({ "com.docker.volume.anonymous": "" });
    expect(ms[3]).toEqual({ Type: "tmpfs", Source: "", Destination: "/t", Mode: "", RW: true, Propagation: "", Options: ["nosuid", "nodev", "noexec", "size=1048576", "mode=1777", "rw"] });
  });

  test("HostConfig.Tmpfs and Config.Volumes (skipped where a user mount is)", () => {
    const ms = resolveMounts(input({ Tmpfs: { "/run": "size=64m,exec,mode=755" }, Binds: ["v1:/data"] }, { "/data": {}, "/logs/": {} }));
    expect(ms.map((m) => m.Destination)).toEqual(["/data", "/run", "/logs"]);
    expect(ms[1]!.Options).toEqual(["nosuid", "nodev", "exec", "size=64m", "mode=755", "rw"]);
    expect(ms[2]!.Type).toBe("volume");
    expect(tmpfsOptions("/x", "ro,noexec").rw).toBe(false);
  });

  test("docker's validation errors; nothing is created on error", () => {
    const missing = join(dir, "nope");
    expect(err(() => resolveMounts(input({ Binds: ["a1:/x", "a2:/x/"] })))).toBe("InvalidArgument: Duplicate mount point: /x");
    expect(err(() => resolveMounts(input({ Binds: ["a1:/x"], Tmpfs: { "/x": "" } })))).toBe("InvalidArgument: Duplicate mount point: /x");
    expect(err(() => resolveMounts(input({ Binds: ["a1:/y"], Mounts: [{ Type: "bind", Source: missing, Target: "/b" }] })))).toBe(
      `InvalidArgument: invalid mount config for type "bind": bind source path does not exist: ${missing}`,
    );
    expect(err(() => resolveMounts(input({ Binds: ["a1:relative"] })))).toContain("mount path must be absolute");
    expect(err(() => resolveMounts(input({ Binds: ["a1:/"] })))).toContain("destination can't be '/'");
    expect(err(() => resolveMounts(input({ Binds: ["justone"] })))).toBe("InvalidArgument: invalid volume specification: 'justone'");
    expect(err(() => resolveMounts(input({ Binds: ["a1:/x:ro,rw"] })))).toBe("InvalidArgument: invalid mode: ro,rw");
    expect(err(() => resolveMounts(input({ Binds: ["a1:/x:bogus"] })))).toBe("InvalidArgument: invalid mode: bogus");
    expect(err(() => resolveMounts(input({ Binds: ["a1:/x:shared"] })))).toBe("InvalidArgument: invalid mode: shared");
    expect(err(() => resolveMounts(input({ Binds: ["bad/name:/x"] })))).toContain("includes invalid characters for a local volume name");
    expect(err(() => resolveMounts(input({ Mounts: [{ Type: "tmpfs", Source: "x", Target: "/t" }] })))).toBe(
      'InvalidArgument: invalid mount config for type "tmpfs": field Source must not be specified',
    );
    expect(err(() => resolveMounts(input({ Mounts: [{ Type: "bind", Target: "/t" }] })))).toContain("field Source must not be empty");
    expect(err(() => resolveMounts(input({ Mounts: [{ Type: "volume", Target: "/t", BindOptions: {} }] })))).toContain("field BindOptions must not be specified");
    expect(err(() => resolveMounts(input({ Mounts: [{ Type: "npipe" as never, Target: "/t" }] })))).toContain("mount type unknown");
    expect(err(() => resolveMounts(input({ Tmpfs: { "/t": "size=huge" } })))).toContain('bad size "huge"');
    expect(err(() => resolveMounts(input({ Tmpfs: { "/t": "foo" } })))).toContain('invalid tmpfs option for /t: "foo"');
    expect(vs.list("default")).toEqual([]);
    expect(existsSync(missing)).toBe(false);
  });

  test("a failure after volumes were made removes them again", () => {
    // the second volume's options are refused at create: the first (new) one is rolled back, an existing one stays
    vs.create("default", { Name: "old" });
    const e = err(() => resolveMounts(input({ Binds: ["old:/o", "fresh:/f"], Mounts: [{ Type: "volume", Source: "bad", Target: "/b", VolumeOptions: { DriverConfig: { Options: { nope: "1" } } } }] })));
    expect(e).toContain('invalid option key: "nope"');
    expect(vs.list("default").map((v) => v.Name)).toEqual(["old"]);
  });

  test("volumesToRemove: anonymous ones only", () => {
    const ms = resolveMounts(input({ Binds: ["named:/n"] }, { "/anon": {} }));
    const rec = { tenant: "default", Mounts: ms };
    expect(volumesToRemove(rec, vs)).toEqual([ms[1]!.Name!]);
  });
});

describe("copy-up", () => {
  function rootfs() {
    const r = join(dir, "rootfs");
    mkdirSync(join(r, "data/sub"), { recursive: true });
    writeFileSync(join(r, "data/file"), "from image");
    writeFileSync(join(r, "data/sub/deep"), "deep");
    symlinkSync("/etc/hostname", join(r, "data/link"));
    return r;
  }

  test("a new volume over an image directory gets its content (symlinks kept as links)", () => {
    const r = rootfs();
    const [m] = resolveMounts(input({ Binds: ["v1:/data"] }, undefined, r));
    expect(readFileSync(join(m!.Source, "file"), "utf8")).toBe("from image");
    expect(readFileSync(join(m!.Source, "sub/deep"), "utf8")).toBe("deep");
    expect(lstatSync(join(m!.Source, "link")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(m!.Source, "link"))).toBe("/etc/hostname");
  });

  test("nocopy and non-empty volumes are left alone", () => {
    const r = rootfs();
    const [a] = resolveMounts(input({ Binds: ["v2:/data:nocopy"] }, undefined, r));
    expect(readdirSync(a!.Source)).toEqual([]);
    vs.create("default", { Name: "full" });
    writeFileSync(join(vs.inspect("default", "full").Mountpoint, "mine"), "x");
    const [b] = resolveMounts(input({ Binds: ["full:/data"] }, undefined, r));
    expect(readdirSync(b!.Source)).toEqual(["mine"]);
  });

  test("an image symlink pointing at a host directory is resolved inside the rootfs", () => {
    const r = join(dir, "rootfs");
    mkdirSync(r);
    // the "host" dir: absolute path that exists on the host; inside the rootfs it does not
    const hostSecret = join(dir, "host-secret");
    mkdirSync(hostSecret);
    writeFileSync(join(hostSecret, "key"), "host only");
    symlinkSync(hostSecret, join(r, "data"));
    symlinkSync("../../../../../../../..", join(r, "up"));
    const [a] = resolveMounts(input({ Binds: ["e1:/data"] }, undefined, r));
    expect(readdirSync(a!.Source)).toEqual([]); // /data -> <host path> does not exist in the rootfs
    // "../.." climbs to the rootfs' "/", not the host's
    mkdirSync(join(r, "etc"));
    writeFileSync(join(r, "etc/inroot"), "r");
    const [b] = resolveMounts(input({ Binds: ["e2:/up/etc"] }, undefined, r));
    expect(readdirSync(b!.Source)).toEqual(["inroot"]);
  });
});
