/**
 * Idmapped bind mounts against the real kernel (root): a host directory owned
 * by host root, mounted into a container whose root is host uid 100000,
 * without chowning anything.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { Mount, Spec } from "../../src/oci/runtime-spec.ts";
import { RuntimeCli, makeBundle, uniqueId, isRoot, mountsUnder, processesMatching, ROOTFS } from "./harness.ts";
import { BASE, grant, mapped } from "./helpers/userns.ts";

const d = isRoot ? describe : describe.skip;
let rt: RuntimeCli;
const dirs: string[] = [];
beforeAll(() => {
  if (isRoot) rt = new RuntimeCli();
});
afterAll(() => {
  rt?.cleanup();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A host directory owned by host root (0700) holding data/f (0600, "secret"). */
function rootOwnedData(): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-idmap-"));
  dirs.push(dir);
  mkdirSync(join(dir, "data"), { mode: 0o755 });
  writeFileSync(join(dir, "data", "f"), "secret\n", { mode: 0o600 });
  return dir;
}

function sh(script: string, edit: (s: Spec) => void) {
  const b = makeBundle(["sh", "-c", script], edit);
  try {
    return rt.runBundle(b);
  } finally {
    b.cleanup();
  }
}
const bind = (source: string, destination: string, options: string[], more: Partial<Mount> = {}): Mount => ({
  destination,
  type: "bind",
  source,
  options,
  ...more,
});
const owner = (p: string) => {
  const st = statSync(p);
  return [st.uid, st.gid];
};

d("idmapped mounts", () => {
  test("a host-root-owned dir shows as the container root's; what it creates is stored as host root", () => {
    const dir = rootOwnedData();
    const script = [
      "stat -c '%u:%g %n' /root/data/f /home/f",
      "cat /root/data/f",
      "echo new > /root/data/g && echo created",
      "cat /home/f; echo plain=$?",
      "grep ' /root ' /proc/self/mountinfo",
    ].join("; ");
    const r = sh(script, (s) => {
      mapped(s);
      // the same directory, idmapped and plain
      s.mounts!.push(bind(dir, "/root", ["rbind", "idmap"]), bind(join(dir, "data"), "/home", ["rbind"]));
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("0:0 /root/data/f");
    expect(r.stdout).toContain("65534:65534 /home/f");
    expect(r.stdout).toContain("secret\ncreated\n");
    expect(r.stdout).toContain("plain=1");
    expect(r.stdout).toMatch(/ \/root rw,.*idmapped/);
    // stored with the on-disk ids of the mapping: host root
    expect(owner(join(dir, "data", "g"))).toEqual([0, 0]);
    expect(readFileSync(join(dir, "data", "g"), "utf8")).toBe("new\n");
  });

  test("mappings of the mount's own: disk root shows as container uid 1000, only ids it maps can write", () => {
    const dir = rootOwnedData();
    // on disk 0 <-> host 101000, which the container's namespace shows as 1000
    const maps = { uidMappings: [{ containerID: 0, hostID: BASE + 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: BASE + 1000, size: 1 }] };
    const as1000 = sh("stat -c '%u:%g' /root/data/f; cat /root/data/f; touch /root/data/h && echo created", (s) => {
      mapped(s);
      s.process!.user = { uid: 1000, gid: 1000 };
      s.mounts!.push(bind(dir, "/root", ["rbind", "idmap"], maps));
    });
    expect(as1000.stderr).toBe("");
    expect(as1000.stdout).toBe("1000:1000\nsecret\ncreated\n");
    expect(owner(join(dir, "data", "h"))).toEqual([0, 0]);
    // the container's root (host 100000) has no id on this mount: even allowed past the
    // permission check, it cannot create files there
    const asRoot = sh("touch /root/data/i; echo rc=$?", (s) => {
      mapped(s);
      grant(s, "CAP_DAC_OVERRIDE");
      s.mounts!.push(bind(dir, "/root", ["rbind", "idmap"], maps));
    });
    expect(asRoot.stdout).toContain("rc=1");
    expect(asRoot.stderr).toContain("Value too large");
    expect(existsSync(join(dir, "data", "i"))).toBe(false);
  });

  test("a file owned by an id outside the mapping stays out of reach", () => {
    const dir = rootOwnedData();
    writeFileSync(join(dir, "data", "other"), "not yours\n", { mode: 0o600 });
    chownSync(join(dir, "data", "other"), 70000, 70000);
    const r = sh("stat -c '%u' /root/data/other; cat /root/data/other; echo rc=$?", (s) => {
      mapped(s);
      grant(s, "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER");
      s.mounts!.push(bind(dir, "/root", ["rbind", "idmap"]));
    });
    expect(r.stdout).toBe("65534\nrc=1\n");
    expect(r.stderr).toContain("Permission denied");
  });

  test("idmap applies to the top mount only, ridmap to the submounts too", () => {
    const dir = rootOwnedData();
    const sub = join(dir, "data", "sub");
    mkdirSync(sub);
    const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "mode=755", "berth-idmap-sub", sub]);
    expect(m.exitCode).toBe(0);
    try {
      const r = sh("stat -c '%u %n' /root/data/sub /home/data/sub", (s) => {
        mapped(s);
        s.mounts!.push(bind(dir, "/root", ["rbind", "idmap"]), bind(dir, "/home", ["rbind", "ridmap"]));
      });
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("65534 /root/data/sub\n0 /home/data/sub\n");
    } finally {
      Bun.spawnSync(["umount", sub]);
    }
  });

  test("without a user namespace, explicit mappings still apply", () => {
    const dir = rootOwnedData();
    const maps = { uidMappings: [{ containerID: 0, hostID: 4242, size: 1 }], gidMappings: [{ containerID: 0, hostID: 4343, size: 1 }] };
    const r = sh("stat -c '%u:%g' /root/f", (s) => s.mounts!.push(bind(join(dir, "data"), "/root", ["bind", "idmap"], maps)));
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("4242:4343\n");
  });
});

d("bad idmapped mounts change nothing", () => {
  test("no mappings to take, not a bind, a filesystem without idmap support", () => {
    const cases: Array<[(s: Spec) => void, RegExp]> = [
      [(s) => s.mounts!.push(bind("/tmp", "/root", ["rbind", "idmap"])), /mounts\[\d+\]: an "idmap" mount without uidMappings\/gidMappings needs a new user namespace/],
      [(s) => (mapped(s), s.mounts!.push({ destination: "/root", type: "tmpfs", source: "tmpfs", options: ["idmap"] })), /mounts\[\d+\]: idmapped mounts must be bind mounts/],
      // sysfs does not support idmapped mounts
      [(s) => (mapped(s), s.mounts!.push(bind("/sys/kernel", "/root", ["bind", "idmap"]))), /idmapped mount of "\/sys\/kernel": mount_setattr: .*may not support idmapped mounts/],
    ];
    for (const [edit, want] of cases) {
      const id = uniqueId("badidmap");
      const b = makeBundle(["true"], edit);
      try {
        const r = rt.run(["create", "--bundle", b.dir, id]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(want);
        expect(existsSync(join(rt.root, id))).toBe(false);
        expect(processesMatching(id)).toEqual([]);
        expect(mountsUnder(ROOTFS + "/")).toEqual([]);
      } finally {
        b.cleanup();
      }
    }
  });
});
