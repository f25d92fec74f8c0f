import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, symlinkSync, linkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TarReader, concat, encodeEntry, type TarHeader } from "../../../src/engine/storage/tar.ts";
import { LayerToOverlay, OverlayToLayer, cleanName } from "../../../src/engine/storage/whiteouts.ts";
import { createTar } from "../../../src/engine/storage/gnutar.ts";
import { applyChanges } from "../../../src/engine/images/changes.ts";
import { BerthError } from "../../../src/errors.ts";
import { collect, dir, file, opaque, tarOf, whiteout } from "./fixtures.ts";

const te = new TextEncoder();

function entries(tar: Uint8Array, chunk = tar.length): { h: TarHeader; data: string }[] {
  const r = new TarReader();
  const out: { h: TarHeader; data: string }[] = [];
  for (let i = 0; i < tar.length; i += chunk) {
    for (const e of r.push(tar.subarray(i, i + chunk))) {
      if (e.kind === "entry") out.push({ h: e.header, data: "" });
      else if (e.kind === "data") out[out.length - 1]!.data += new TextDecoder().decode(e.data);
    }
  }
  r.end();
  return out;
}

/** Set the type flag of the first header (and fix its checksum). */
function withTypeflag(tar: Uint8Array, flag: string): Uint8Array {
  const b = new Uint8Array(tar);
  b[156] = flag.charCodeAt(0);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  b.set(te.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return b;
}

function run(rw: LayerToOverlay | OverlayToLayer, tar: Uint8Array): Uint8Array {
  return concat([...rw.push(tar), ...rw.end()]);
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

describe("tar reader and writer", () => {
  const long = "d/" + "x".repeat(150) + "/file-with-a-long-name";
  const tar = tarOf([
    dir("d"),
    file(long, "long", { uid: 3000000, gid: 7 }),
    file("d/x", "content", { xattrs: { "user.a": te.encode("1"), "security.capability": new Uint8Array([1, 0, 0, 2, 0, 0x20, 0, 0]) } }),
    { name: "d/h", type: "hardlink", linkname: "d/x" },
    { name: "d/s", type: "symlink", linkname: "../" + "y".repeat(120) },
    { name: "d/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
    { name: "d/fifo", type: "fifo", mode: 0o600 },
  ]);

  test("what we write reads back, at any chunk size", () => {
    for (const chunk of [1, 511, 512, 513, 100000]) {
      const es = entries(tar, chunk);
      expect(es.map((e) => e.h.name)).toEqual(["d/", long, "d/x", "d/h", "d/s", "d/null", "d/fifo"]);
      expect(es[1]!.h.uid).toBe(3000000);
      expect(es[1]!.data).toBe("long");
      expect(Object.keys(es[2]!.h.xattrs)).toEqual(["user.a", "security.capability"]);
      expect([...es[2]!.h.xattrs["security.capability"]!]).toEqual([1, 0, 0, 2, 0, 0x20, 0, 0]);
      expect(es[3]!.h.linkname).toBe("d/x");
      expect(es[4]!.h.linkname).toBe("../" + "y".repeat(120));
      expect([es[5]!.h.type, es[5]!.h.devmajor, es[5]!.h.devminor]).toEqual(["char", 1, 3]);
      expect(es[6]!.h.type).toBe("fifo");
    }
  });

  test("GNU tar reads what we write", () => {
    const d = mkdtempSync(join(tmpdir(), "berth-tar-"));
    try {
      writeFileSync(join(d, "a.tar"), tar);
      const p = Bun.spawnSync(["tar", "-tvf", join(d, "a.tar")]);
      expect(p.exitCode).toBe(0);
      const out = p.stdout.toString();
      expect(out).toContain(long);
      expect(out).toContain("d/h link to d/x");
      expect(out).toMatch(/crw-rw-rw- .* 1,\s*3 .* d\/null/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test("we read what GNU tar writes (long names, hardlinks, xattr-less posix format)", async () => {
    const d = mkdtempSync(join(tmpdir(), "berth-tar-"));
    try {
      mkdirSync(join(d, "a".repeat(120)), { recursive: true });
      writeFileSync(join(d, "a".repeat(120), "f"), "data");
      linkSync(join(d, "a".repeat(120), "f"), join(d, "hl"));
      symlinkSync("a".repeat(120) + "/f", join(d, "sl"));
      const es = entries(await collect(createTar(d)));
      expect(es.map((e) => e.h.name)).toEqual(["./", `./${"a".repeat(120)}/`, `./${"a".repeat(120)}/f`, "./hl", "./sl"]);
      expect(es[2]!.data).toBe("data");
      expect(es[3]!.h.type).toBe("hardlink");
      expect(es[4]!.h.linkname).toBe("a".repeat(120) + "/f");
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test("malformed archives are errors", () => {
    const bad = new Uint8Array(tarOf([file("a", "b")]));
    bad[0] = 0x41; // breaks the header checksum
    expect(() => new TarReader().push(bad)).toThrow(/checksum/);
    const r = new TarReader();
    r.push(tarOf([file("a", "b".repeat(2000))]).subarray(0, 1024));
    expect(() => r.end()).toThrow(/truncated/);
  });
});

describe("layer -> overlay", () => {
  test("whiteouts become 0:0 devices, opaque markers an xattr on the dir, AUFS metadata goes", () => {
    const layer = tarOf([
      dir("etc", { mode: 0o750, uid: 5 }),
      opaque("etc"),
      file("etc/a", "a"),
      whiteout("etc/gone"),
      whiteout("top"),
      file(".wh..wh.plnk/123.456", "aufs"),
      opaque("never/seen"),
    ]);
    const es = entries(run(new LayerToOverlay(), layer));
    expect(es.map((e) => [e.h.name, e.h.type])).toEqual([
      ["etc/", "dir"],
      ["etc/", "dir"],
      ["etc/a", "file"],
      ["etc/gone", "char"],
      ["top", "char"],
      ["never/seen/", "dir"],
    ]);
    expect(new TextDecoder().decode(es[1]!.h.xattrs["trusted.overlay.opaque"])).toBe("y");
    expect([es[1]!.h.mode, es[1]!.h.uid]).toEqual([0o750, 5]); // the dir's own attributes are kept
    expect([es[3]!.h.devmajor, es[3]!.h.devminor, es[3]!.h.mode]).toEqual([0, 0, 0]);
    expect(es[2]!.data).toBe("a");
  });

  test("unchanged entries pass through byte for byte; names are cleaned", () => {
    const a = encodeEntry({ name: "bin/sh", type: "file", mode: 0o755 }, te.encode("#!"));
    const out = run(new LayerToOverlay(), concat([a, new Uint8Array(1024)]));
    expect(out.subarray(0, a.length)).toEqual(a);
    const es = entries(run(new LayerToOverlay(), tarOf([file("./a//b/./c", "x"), dir("./"), { name: "/abs", type: "file" }])));
    expect(es.map((e) => e.h.name)).toEqual(["a/b/c", "./", "abs"]);
  });

  test("forged overlay xattrs are dropped, others kept", () => {
    const es = entries(
      run(new LayerToOverlay(), tarOf([dir("d", { xattrs: { "trusted.overlay.redirect": te.encode("/etc"), "trusted.overlay.opaque": te.encode("y"), "user.x": te.encode("1") } })])),
    );
    expect(Object.keys(es[0]!.h.xattrs)).toEqual(["user.x"]);
  });

  test("escapes are refused: .., hardlinks out, writes through a symlink of the same layer", () => {
    const cases: [Uint8Array, RegExp][] = [
      [tarOf([file("../evil", "x")]), /climbs out/],
      [tarOf([file("a/../../evil", "x")]), /climbs out/],
      [tarOf([{ name: "h", type: "hardlink", linkname: "../../etc/shadow" }]), /outside the layer/],
      [tarOf([{ name: "l", type: "symlink", linkname: "/etc" }, file("l/passwd", "x")]), /goes through symlink "l"/],
      [tarOf([{ name: "l", type: "symlink", linkname: "." }, dir("l/x")]), /goes through symlink/],
      [tarOf([{ name: "l", type: "symlink", linkname: "/etc/shadow" }, { name: "h", type: "hardlink", linkname: "l" }]), /hardlink to symlink/],
      [tarOf([file(".wh...", "")]), /bad whiteout/],
      [withTypeflag(tarOf([file("x", "")]), "V"), /unsupported tar entry type "V"/],
    ];
    for (const [i, [t, re]] of cases.entries()) expect(`${i}: ${errOf(() => run(new LayerToOverlay(), t)).message}`).toMatch(re);
    // a symlink replaced by a directory later is fine
    expect(() => run(new LayerToOverlay(), tarOf([{ name: "l", type: "symlink", linkname: "/" }, dir("l"), file("l/f", "ok")]))).not.toThrow();
  });
});

describe("overlay -> layer", () => {
  test("0:0 devices become .wh. files, opaque dirs get .wh..wh..opq, overlay xattrs and the root go", () => {
    const upper = tarOf([
      dir("./"),
      dir("./etc", { xattrs: { "trusted.overlay.opaque": te.encode("y"), "trusted.overlay.impure": te.encode("y"), "user.k": te.encode("v") }, uid: 7, mode: 0o700 }),
      file("./etc/new", "n"),
      { name: "./gone", type: "char", devmajor: 0, devminor: 0, mode: 0 },
      { name: "./dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "./link", type: "hardlink", linkname: "./etc/new" },
    ]);
    const es = entries(run(new OverlayToLayer(), upper));
    expect(es.map((e) => [e.h.name, e.h.type])).toEqual([
      ["etc/", "dir"],
      ["etc/.wh..wh..opq", "file"],
      ["etc/new", "file"],
      [".wh.gone", "file"],
      ["dev/null", "char"],
      ["link", "hardlink"],
    ]);
    expect(Object.keys(es[0]!.h.xattrs)).toEqual(["user.k"]);
    expect([es[1]!.h.uid, es[1]!.h.mode]).toEqual([7, 0o700]);
    expect(es[5]!.h.linkname).toBe("etc/new");
    expect(es[2]!.data).toBe("n");
  });
});

test("cleanName", () => {
  expect(cleanName("./a//b/./c/")).toBe("a/b/c");
  expect(cleanName("/")).toBe("");
  expect(cleanName("a/../b")).toBeUndefined();
});

describe("--change instructions", () => {
  test("each supported instruction", () => {
    const c = applyChanges({ Env: ["A=0", "PATH=/bin"], WorkingDir: "/app" }, [
      "CMD echo hi",
      'ENTRYPOINT ["/init"]',
      "ENV A=1",
      "ENV LEGACY some value",
      "EXPOSE 53/udp 8080",
      'LABEL a=1 "b c"=d',
      "USER nobody",
      "VOLUME /data /logs",
      'VOLUME ["/x"]',
      "WORKDIR sub",
      "STOPSIGNAL SIGINT",
      "ONBUILD RUN make",
    ]);
    expect(c).toEqual({
      Env: ["A=1", "PATH=/bin", "LEGACY=some value"],
      WorkingDir: "/app/sub",
      Cmd: ["/bin/sh", "-c", "echo hi"],
      Entrypoint: ["/init"],
      ExposedPorts: { "53/udp": {}, "8080/tcp": {} },
      Labels: { a: "1", "b c": "d" },
      User: "nobody",
      Volumes: { "/data": {}, "/logs": {}, "/x": {} },
      StopSignal: "SIGINT",
      OnBuild: ["RUN make"],
    });
  });
  test("bad changes name the problem", () => {
    expect(errOf(() => applyChanges({}, ["RUN x"])).message).toMatch(/RUN is not supported/);
    expect(errOf(() => applyChanges({}, ["EXPOSE http"])).message).toMatch(/bad port/);
    expect(errOf(() => applyChanges({}, ["ENV"])).message).toMatch(/missing argument/);
    expect(errOf(() => applyChanges({}, ['LABEL a="b'])).message).toMatch(/unterminated quote/);
  });
});
