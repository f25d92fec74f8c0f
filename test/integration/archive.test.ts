/**
 * docker cp / export on a container's filesystem (engine/containers/archive.ts
 * and its routes): stat, tar out, tar in, export; mounts mapped to their
 * sources; and the ways out: "../" and absolute names, a symlink entry then a
 * file through it, symlinks in the container pointing at host paths, hardlinks
 * out, replaced symlinks, and a symlink swapped in while copies run. Every
 * escape test checks the host side is untouched. The real docker CLI drives
 * `docker cp` against the routes served on a private socket with an injected
 * container.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { archivePath, exportRootfs, extractArchive, goFileMode, statPath, viewOf, type PathStat } from "../../src/engine/containers/archive.ts";
import type { FsView } from "../../src/engine/containers/inroot.ts";
import type { ContainerRecord } from "../../src/engine/containers/model.ts";
import { TarReader, encodeEntry, END_OF_ARCHIVE, concat, type TarHeader, type WriteHeader } from "../../src/engine/storage/tar.ts";
import { BerthError } from "../../src/errors.ts";
import { makeArchiveRoutes } from "../../src/api/docker/archive.ts";
import { dockerApi } from "../../src/api/docker/server.ts";
import { systemRoutes } from "../../src/api/docker/system.ts";
import { Engine } from "../../src/engine/engine.ts";
import { DOCKER, haveDocker, run } from "../helpers/berthd.ts";

const isRoot = process.getuid?.() === 0;

let work: string;
let rootfs: string;
let volSrc: string;
let roSrc: string;
/** stands for the host: nothing may ever be written here */
let host: string;
let view: FsView;

function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string, rel: string) => {
    for (const n of readdirSync(p).sort()) {
      const st = lstatSync(join(p, n));
      out.push(`${rel}${n}:${st.isSymbolicLink() ? "l" : st.isDirectory() ? "d" : "f"}:${st.nlink}:${st.isFile() ? readFileSync(join(p, n), "utf8") : ""}`);
      if (st.isDirectory()) walk(join(p, n), `${rel}${n}/`);
    }
  };
  walk(dir, "");
  return out;
}

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "berth-archive-"));
  rootfs = join(work, "rootfs");
  volSrc = join(work, "vol");
  roSrc = join(work, "ro");
  host = join(work, "host");
  for (const d of [rootfs, volSrc, roSrc, host, join(rootfs, "etc"), join(rootfs, "tmp"), join(rootfs, "data/sub"), join(rootfs, "vol"), join(rootfs, "ro")]) mkdirSync(d, { recursive: true });
  writeFileSync(join(host, "secret"), "host secret");
  writeFileSync(join(rootfs, "etc/hostname"), "ctr\n");
  writeFileSync(join(rootfs, "data/a.txt"), "alpha");
  writeFileSync(join(rootfs, "data/sub/b.txt"), "beta");
  symlinkSync("a.txt", join(rootfs, "data/rel-link"));
  linkSync(join(rootfs, "data/a.txt"), join(rootfs, "data/hard"));
  writeFileSync(join(volSrc, "v.txt"), "in volume");
  writeFileSync(join(roSrc, "r.txt"), "read only");
  // symlinks an image could hold: absolute to a host path, climbing, to "/"
  symlinkSync(host, join(rootfs, "hostlink"));
  symlinkSync("../../../../../../../../..", join(rootfs, "up"));
  symlinkSync("/", join(rootfs, "rootlink"));
  view = {
    rootfs,
    mounts: [
      { Destination: "/vol", Source: volSrc, RW: true },
      { Destination: "/ro", Source: roSrc, RW: false },
    ],
  };
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

async function collect(gen: AsyncGenerator<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of gen) parts.push(c);
  return concat(parts);
}

function entries(tar: Uint8Array): { h: TarHeader; data: string }[] {
  const r = new TarReader();
  const out: { h: TarHeader; data: string }[] = [];
  const dec = new TextDecoder();
  for (const ev of r.push(tar)) {
    if (ev.kind === "entry") out.push({ h: ev.header, data: "" });
    else if (ev.kind === "data") out[out.length - 1]!.data += dec.decode(ev.data);
  }
  r.end();
  return out;
}

function tar(...es: [WriteHeader, string?][]): Uint8Array {
  return concat([...es.map(([h, d]) => encodeEntry({ mode: 0o644, mtime: 1700000000, ...h }, d === undefined ? undefined : new TextEncoder().encode(d))), END_OF_ARCHIVE]);
}

async function* once(b: Uint8Array) {
  yield b;
}

async function put(path: string, t: Uint8Array, opts = {}, v = view) {
  return extractArchive(v, path, once(t), opts);
}

async function rejects(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return `${(e as BerthError).code}: ${(e as Error).message}`;
  }
  return "ok";
}

describe("stat (HEAD)", () => {
  test("file, dir, symlink, through a mount; missing is NotFound", () => {
    const f = statPath(view, "/data/a.txt");
    expect(f).toMatchObject({ name: "a.txt", size: 5, linkTarget: "" });
    expect(f.mode).toBe(statSync(join(rootfs, "data/a.txt")).mode & 0o777);
    expect(statPath(view, "/data").mode).toBe(2 ** 31 + (statSync(join(rootfs, "data")).mode & 0o777));
    const l = statPath(view, "/data/rel-link");
    expect(l.mode & 2 ** 27).toBeTruthy();
    expect(l.linkTarget).toBe("/data/a.txt");
    // an absolute link to a host path: its target as the container sees it (not there)
    expect(statPath(view, "/hostlink").linkTarget).toBe(host);
    expect(statPath(view, "/up").linkTarget).toBe("/");
    expect(statPath(view, "/vol/v.txt").size).toBe(9);
    expect(() => statPath(view, "/nope")).toThrow(BerthError);
    expect(() => statPath(view, "/hostlink/secret")).toThrow("Could not find the file");
    expect(goFileMode(0o020666)).toBe(2 ** 26 + 2 ** 21 + 0o666);
  });
});

describe("archive out (GET)", () => {
  test("a directory with file, symlink, hardlink; named after the last component", async () => {
    const { stat, stream } = archivePath(view, "/data");
    expect(stat.name).toBe("data");
    const es = entries(await collect(stream));
    const by = Object.fromEntries(es.map((e) => [e.h.name, e]));
    expect(Object.keys(by).sort()).toEqual(["data/", "data/a.txt", "data/hard", "data/rel-link", "data/sub/", "data/sub/b.txt"]);
    expect(by["data/a.txt"]!.data).toBe("alpha");
    expect(by["data/hard"]!.h.type).toBe("hardlink");
    expect(by["data/hard"]!.h.linkname).toBe("data/a.txt");
    expect(by["data/rel-link"]!.h).toMatchObject({ type: "symlink", linkname: "a.txt" });
    const dot = entries(await collect(archivePath(view, "/data/sub/.").stream)).map((e) => e.h.name);
    expect(dot).toEqual(["./", "./b.txt"]);
  });

  test("mounts are mapped to their sources, also below a directory being archived", async () => {
    const es = entries(await collect(archivePath(view, "/vol").stream));
    expect(es.find((e) => e.h.name === "vol/v.txt")!.data).toBe("in volume");
    writeFileSync(join(rootfs, "vol-under"), "x"); // not part of the tree
    const all = entries(await collect(archivePath(view, "/").stream)).map((e) => e.h.name);
    expect(all).toContain("./vol/v.txt");
    expect(all).toContain("./ro/r.txt");
  });

  test("symlinks that point at host paths never reach the host", async () => {
    // the final link itself is archived as a link (docker's rule), and following it stays in the container
    const link = entries(await collect(archivePath(view, "/hostlink").stream));
    expect(link.map((e) => [e.h.name, e.h.type])).toEqual([["hostlink", "symlink"]]);
    expect(() => archivePath(view, "/hostlink/")).toThrow("Could not find the file");
    expect(() => archivePath(view, "/hostlink/secret")).toThrow("Could not find the file");
    // "../../.." and "/" links land at the container's root
    const up = entries(await collect(archivePath(view, "/up/etc/hostname").stream));
    expect(up[0]!.data).toBe("ctr\n");
    const rl = entries(await collect(archivePath(view, "/rootlink/etc/").stream)).map((e) => e.h.name);
    expect(rl).toEqual(["etc/", "etc/hostname"]);
  });
});

describe("archive in (PUT)", () => {
  test("extracts files, dirs, symlinks, hardlinks; ownership root unless copyUIDGID", async () => {
    await put("/tmp", tar([{ name: "d/", type: "dir", mode: 0o750 }], [{ name: "d/f", type: "file", uid: 1234, gid: 99, mode: 0o640 }, "hello"], [{ name: "d/l", type: "symlink", linkname: "/etc/hostname" }], [{ name: "d/h", type: "hardlink", linkname: "d/f" }]));
    const st = statSync(join(rootfs, "tmp/d/f"));
    expect(readFileSync(join(rootfs, "tmp/d/f"), "utf8")).toBe("hello");
    expect(st.mode & 0o7777).toBe(0o640);
    expect(statSync(join(rootfs, "tmp/d")).mode & 0o7777).toBe(0o750);
    expect(st.nlink).toBe(2);
    expect(readlinkSync(join(rootfs, "tmp/d/l"))).toBe("/etc/hostname");
    expect(st.mtimeMs).toBe(1700000000 * 1000);
    if (isRoot) {
      expect([st.uid, st.gid]).toEqual([0, 0]);
      await put("/tmp", tar([{ name: "g", type: "file", uid: 1234, gid: 99 }, "x"]), { copyUIDGID: true });
      const g = statSync(join(rootfs, "tmp/g"));
      expect([g.uid, g.gid]).toEqual([1234, 99]);
    }
  });

  test("into a volume mount; read-only mounts and rootfs refused", async () => {
    await put("/vol", tar([{ name: "new.txt", type: "file" }, "v"]));
    expect(readFileSync(join(volSrc, "new.txt"), "utf8")).toBe("v");
    expect(existsSync(join(rootfs, "vol/new.txt"))).toBe(false);
    expect(await rejects(put("/ro", tar([{ name: "x", type: "file" }, "x"])))).toBe("FailedPrecondition: mounted volume is marked read-only");
    // an entry that walks into a read-only mount from a writable dir
    expect(await rejects(put("/", tar([{ name: "ro/x", type: "file" }, "x"])))).toContain("mounted volume is marked read-only");
    expect(await rejects(put("/tmp", tar([{ name: "x", type: "file" }, "x"]), {}, { ...view, readonlyRootfs: true }))).toContain("container rootfs is marked read-only");
    expect(readdirSync(roSrc)).toEqual(["r.txt"]);
    expect(await rejects(put("/data/a.txt", tar([{ name: "x", type: "file" }, "x"])))).toBe("InvalidArgument: extraction point is not a directory");
    expect(await rejects(put("/missing", tar([{ name: "x", type: "file" }, "x"])))).toContain("NotFound");
  });

  test("noOverwriteDirNonDir", async () => {
    expect(await rejects(put("/", tar([{ name: "data", type: "file" }, "x"]), { noOverwriteDirNonDir: true }))).toContain('cannot overwrite directory "/data" with non-directory');
    expect(await rejects(put("/data", tar([{ name: "a.txt/", type: "dir" }]), { noOverwriteDirNonDir: true }))).toContain("cannot overwrite non-directory");
    expect(readFileSync(join(rootfs, "data/a.txt"), "utf8")).toBe("alpha");
    // without it: replaced (a directory by a file, removing what was under it)
    await put("/", tar([{ name: "data", type: "file" }, "now a file"]));
    expect(readFileSync(join(rootfs, "data"), "utf8")).toBe("now a file");
  });

  describe("escapes", () => {
    let before: string[];
    beforeEach(() => {
      before = snapshot(host);
    });
    afterEach(() => {
      // the host side is exactly as it was, and nothing appeared next to the rootfs
      expect(snapshot(host)).toEqual(before);
      expect(readdirSync(work).sort()).toEqual(["host", "ro", "rootfs", "vol"]);
    });

    test("../ names are refused", async () => {
      expect(await rejects(put("/tmp", tar([{ name: "../../../../escape", type: "file" }, "x"])))).toContain("escapes the extraction directory");
      expect(await rejects(put("/tmp", tar([{ name: "a/../../..", type: "dir" }])))).toContain("escapes the extraction directory");
      expect(existsSync(join(work, "escape"))).toBe(false);
    });

    test("absolute names land inside the extraction dir", async () => {
      await put("/tmp", tar([{ name: `/${host.slice(1)}/secret`, type: "file" }, "pwned"]));
      expect(readFileSync(join(rootfs, "tmp", host, "secret"), "utf8")).toBe("pwned");
    });

    test("a symlink entry, then files through it, stay in the container", async () => {
      await put("/tmp", tar([{ name: "l", type: "symlink", linkname: host }], [{ name: "l/secret", type: "file" }, "pwned"], [{ name: "l/new", type: "file" }, "pwned"]));
      expect(readFileSync(join(rootfs, host, "secret"), "utf8")).toBe("pwned");
      await put("/tmp", tar([{ name: "up", type: "symlink", linkname: "../../../../../../../../../.." }], [{ name: "up/outside", type: "file" }, "pwned"]));
      expect(readFileSync(join(rootfs, "outside"), "utf8")).toBe("pwned");
      // a dir entry through the link, too
      await put("/tmp", tar([{ name: "l2", type: "symlink", linkname: host }], [{ name: "l2/sub/", type: "dir" }]));
      expect(statSync(join(rootfs, host, "sub")).isDirectory()).toBe(true);
    });

    test("container symlinks to host paths as destination or on the way", async () => {
      expect(await rejects(put("/hostlink", tar([{ name: "x", type: "file" }, "pwned"])))).toContain("NotFound");
      await put("/up", tar([{ name: "x", type: "file" }, "in root"]));
      expect(readFileSync(join(rootfs, "x"), "utf8")).toBe("in root");
      await put("/tmp", tar([{ name: "deep/../../hostlink/secret", type: "file" }, "pwned"]).slice()).catch(() => {});
    });

    test("an existing symlink at a file's name is replaced, not written through", async () => {
      symlinkSync(join(host, "secret"), join(rootfs, "tmp/target"));
      await put("/tmp", tar([{ name: "target", type: "file" }, "replaced"]));
      expect(lstatSync(join(rootfs, "tmp/target")).isFile()).toBe(true);
      expect(readFileSync(join(rootfs, "tmp/target"), "utf8")).toBe("replaced");
      // a dir entry at a symlink's name replaces the link too; metadata is never applied through it
      symlinkSync(host, join(rootfs, "tmp/dirlink"));
      await put("/tmp", tar([{ name: "dirlink/", type: "dir", mode: 0o777 }]));
      expect(lstatSync(join(rootfs, "tmp/dirlink")).isDirectory()).toBe(true);
      expect(statSync(host).mode & 0o777).not.toBe(0o777);
    });

    test("hardlinks cannot reach out", async () => {
      expect(await rejects(put("/tmp", tar([{ name: "h", type: "hardlink", linkname: "../../../host/secret" }])))).toContain("escapes the extraction directory");
      // an absolute target is inside the extraction dir (missing here)
      expect(await rejects(put("/tmp", tar([{ name: "h", type: "hardlink", linkname: join(host, "secret") }])))).toContain("NotFound");
      // through a container symlink to a host path: resolved in the container (missing)
      symlinkSync(host, join(rootfs, "tmp/hl"));
      expect(await rejects(put("/tmp", tar([{ name: "h", type: "hardlink", linkname: "hl/secret" }])))).toContain("NotFound");
    });

    test("a symlink swapped in while copies run never sends a write to the host (CVE-2018-15664)", async () => {
      // a "container" process flips /tmp/work between a real dir and a symlink to the host dir as fast as it can
      mkdirSync(join(rootfs, "tmp/real"));
      symlinkSync(host, join(rootfs, "tmp/evil"));
      const flipper = Bun.spawn(
        [
          process.execPath,
          "-e",
          `const fs=require("fs");const d=${JSON.stringify(join(rootfs, "tmp"))};let first=true;for(;;){try{fs.renameSync(d+"/real",d+"/w");}catch{}try{fs.renameSync(d+"/w",d+"/real");fs.renameSync(d+"/evil",d+"/w");fs.renameSync(d+"/w",d+"/evil");}catch{}if(first){first=false;console.log("ready");}}`,
        ],
        { stdout: "pipe", stderr: "ignore" },
      );
      try {
        // wait until it flips (its first line), so the copies below really race it
        const reader = flipper.stdout.getReader();
        expect(new TextDecoder().decode((await reader.read()).value)).toContain("ready");
        let ok = 0;
        for (let i = 0; i < 300; i++) {
          if ((await rejects(put("/tmp/w", tar([{ name: `f${i}`, type: "file" }, "pwned"])))) === "ok") ok++;
          const o = await rejects((async () => collect(archivePath(view, "/tmp/w/secret").stream))());
          expect(o).not.toBe("ok"); // the host's secret is never readable through the swap
        }
        flipper.kill("SIGKILL");
        await flipper.exited;
        // every copy that succeeded landed in the container's real directory (w was it then), none elsewhere
        const dirs = ["real", "w"].filter((n) => existsSync(join(rootfs, "tmp", n)) && lstatSync(join(rootfs, "tmp", n)).isDirectory());
        const landed = dirs.flatMap((n) => readdirSync(join(rootfs, "tmp", n)).filter((f) => /^f\d+$/.test(f)));
        expect(landed.length).toBe(ok);
      } finally {
        flipper.kill("SIGKILL");
        await flipper.exited;
      }
    });
  });
});

describe("export", () => {
  test("the rootfs without its mounts' content", async () => {
    const es = entries(await collect(exportRootfs(rootfs))).map((e) => e.h.name);
    expect(es).toContain("etc/hostname");
    expect(es).toContain("vol/");
    expect(es).not.toContain("vol/v.txt");
    expect(es.filter((n) => n.startsWith("./"))).toEqual(["./"]);
  });
});

describe.skipIf(!haveDocker)("docker cp with the real docker CLI", () => {
  let engine: Engine;
  let server: ReturnType<typeof Bun.serve>;
  let sock: string;
  let dir: string;
  const rec = () =>
    ({
      Id: "c".repeat(64),
      Name: "web",
      rootfs,
      Mounts: [{ Type: "volume", Name: "v", Source: volSrc, Destination: "/vol", Mode: "", RW: true, Propagation: "" }],
      HostConfig: {},
    }) as unknown as ContainerRecord;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "berth-cp-"));
    engine = new Engine({ dataRoot: join(dir, "data") });
    sock = join(dir, "s.sock");
    const routes = [
      ...systemRoutes,
      ...makeArchiveRoutes({
        lookup: (_ctx, ref) => {
          if (ref !== "web" && ref !== "c".repeat(64)) throw new BerthError("NotFound", `No such container: ${ref}`);
          return rec();
        },
        mountRootfs: async (_ctx, r) => r,
      }),
    ];
    const log = { enabled: () => false, debug() {}, info() {}, warn() {}, error() {} } as never;
    const ac = new AbortController();
    server = Bun.serve({ unix: sock, fetch: dockerApi({ engine, log, stopping: ac.signal, giveUp: ac.signal, busy: () => () => {} }, routes) });
  });
  afterAll(() => {
    server?.stop(true);
    engine?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const docker = (args: string[]) => run([DOCKER, ...args], { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: dir, DOCKER_CLI_HINTS: "false" });

  test("cp out of and into the container, through a volume; escapes refused", async () => {
    const out = join(work, "out");
    mkdirSync(out);
    const a = await docker(["cp", "web:/data", out]);
    expect(a.stderr).toBe("");
    expect(a.code).toBe(0);
    expect(readFileSync(join(out, "data/sub/b.txt"), "utf8")).toBe("beta");
    expect(readlinkSync(join(out, "data/rel-link"))).toBe("a.txt");
    const b = await docker(["cp", "web:/vol/v.txt", join(out, "v.txt")]);
    expect(b.code).toBe(0);
    expect(readFileSync(join(out, "v.txt"), "utf8")).toBe("in volume");

    const src = join(work, "src.txt");
    writeFileSync(src, "uploaded");
    const c = await docker(["cp", src, "web:/tmp/"]);
    expect(c.stderr).toBe("");
    expect(readFileSync(join(rootfs, "tmp/src.txt"), "utf8")).toBe("uploaded");
    const d = await docker(["cp", src, "web:/vol/up.txt"]);
    expect(d.code).toBe(0);
    expect(readFileSync(join(volSrc, "up.txt"), "utf8")).toBe("uploaded");

    // following the container's link to a host path finds nothing (not the host's file)
    const e = await docker(["cp", "web:/hostlink/secret", out]);
    expect(e.code).not.toBe(0);
    expect(e.stderr).toContain("Could not find the file /hostlink/secret in container web");
    const f = await docker(["cp", "-L", "web:/hostlink", join(out, "hl")]);
    expect(f.code).not.toBe(0);
    expect(existsSync(join(out, "hl"))).toBe(false);
    const g = await docker(["cp", src, "web:/hostlink/"]);
    expect(g.code).not.toBe(0);
    expect(readdirSync(host)).toEqual(["secret"]);
    const nope = await docker(["cp", "nope:/etc", out]);
    expect(nope.stderr).toContain("No such container: nope");
  });
});
