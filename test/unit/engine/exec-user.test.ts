/** docker's --user against a container's /etc/passwd and /etc/group, read without leaving its rootfs. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileInRoot, resolveInRoot, resolveUser } from "../../../src/engine/containers/user.ts";
import { BerthError } from "../../../src/errors.ts";

const base = mkdtempSync(join(tmpdir(), "berth-user-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function rootfs(name: string, files: Record<string, string>, links: Record<string, string> = {}): string {
  const r = join(base, name);
  mkdirSync(join(r, "etc"), { recursive: true });
  for (const [p, t] of Object.entries(files)) writeFileSync(join(r, p), t);
  for (const [p, t] of Object.entries(links)) symlinkSync(t, join(r, p));
  return r;
}

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1001:a:/home/alice:/bin/sh\n";
const GROUP = "root:x:0:\nstaff:x:1001:\nwheel:x:10:alice,bob\naudio:x:29:bob\ndev:x:500:alice\n";

describe("resolveUser", () => {
  const r = rootfs("plain", { "etc/passwd": PASSWD, "etc/group": GROUP });

  test("names and numbers, with and without a group; supplementary groups from /etc/group", () => {
    expect(resolveUser(r, "alice")).toEqual({ uid: 1000, gid: 1001, additionalGids: [10, 500] });
    expect(resolveUser(r, "1000")).toEqual({ uid: 1000, gid: 1001, additionalGids: [10, 500] });
    expect(resolveUser(r, "alice:wheel")).toEqual({ uid: 1000, gid: 10, additionalGids: [] });
    expect(resolveUser(r, "4242:77")).toEqual({ uid: 4242, gid: 77, additionalGids: [] });
    expect(resolveUser(r, "4242")).toEqual({ uid: 4242, gid: 0, additionalGids: [] });
  });

  test("unknown names are docker's errors; malformed strings are refused", () => {
    expect(() => resolveUser(r, "mallory")).toThrow("unable to find user mallory: no matching entries in passwd file");
    expect(() => resolveUser(r, "alice:nogroup")).toThrow("unable to find group nogroup: no matching entries in group file");
    expect(() => resolveUser(r, "a:b:c")).toThrow(BerthError);
    expect(() => resolveUser(r, ":0")).toThrow(BerthError);
  });

  test("an absolute symlink to /etc/passwd is read inside the rootfs, never the host's", () => {
    // the container's /etc/passwd -> /etc/shadow: the host's /etc/shadow must not be read
    const evil = rootfs("abs", { "etc/shadow": "root:x:0:0::/:/bin/sh\nzed:x:7:7::/:/bin/sh\n" }, { "etc/passwd": "/etc/shadow" });
    expect(resolveUser(evil, "zed")).toEqual({ uid: 7, gid: 7, additionalGids: [] });
    const out = rootfs("abs2", {}, { "etc/passwd": "/etc/passwd" });
    // a self-loop: too many links, refused
    expect(() => resolveUser(out, "root")).toThrow(/symbolic links/);
  });

  test("relative ../.. symlinks stop at the rootfs top", () => {
    const evil = rootfs("rel", {}, { "etc/passwd": "../../../../../../../../etc/passwd" });
    // resolves to <rootfs>/etc/passwd, the link itself: a loop -> refused, never the host's file
    expect(() => readFileInRoot(evil, "/etc/passwd")).toThrow(/symbolic links/);
    const viaDir = rootfs("reldir", { "x": "" }, { "etc/up": "../../../../.." });
    expect(resolveInRoot(viaDir, "/etc/up/etc/passwd")).toBe(join(viaDir, "etc/passwd"));
    expect(readFileInRoot(viaDir, "/etc/up/etc/passwd")).toBeUndefined();
    expect(resolveUser(viaDir, "0")).toEqual({ uid: 0, gid: 0, additionalGids: [] });
    expect(() => resolveUser(viaDir, "root")).toThrow(/unable to find user root/);
  });

  test("a device or directory in place of the file is refused", () => {
    const dev = rootfs("dev", {}, { "etc/passwd": "/dev/zero" });
    // /dev/zero inside the rootfs does not exist: nothing read
    expect(readFileInRoot(dev, "/etc/passwd")).toBeUndefined();
    const dir = rootfs("dir", {});
    mkdirSync(join(dir, "etc/group"));
    expect(() => readFileInRoot(dir, "/etc/group")).toThrow(/not a regular file/);
  });
});
