/**
 * User namespaces against the real kernel (root): a container whose root is the
 * unprivileged host range 100000-165535, seen from inside and from the host,
 * and the attempts to get out of it.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { Spec } from "../../src/oci/runtime-spec.ts";
import { RuntimeCli, makeBundle, uniqueId, isRoot, mountsUnder, processesMatching, ROOTFS, ensureRootfs } from "./harness.ts";
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

/** A host directory (mode 0700, root's: the container's root cannot reach it by path). */
function hostDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-userns-"));
  dirs.push(dir);
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

const bind = (source: string, destination: string, options: string[] = ["rbind"]) => ({ destination, type: "bind", source, options });
const words = (s: string) => s.trim().split(/\s+/).join(" ");

d("a container in a user namespace", () => {
  test("is root inside; its uid_map and gid_map are as configured, several ranges", () => {
    const multi = [
      { containerID: 0, hostID: BASE, size: 1000 },
      { containerID: 1000, hostID: 200000, size: 1000 },
    ];
    const script = "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups";
    const r = sh(script, (s) => {
      mapped(s);
      s.linux!.uidMappings = multi;
      s.linux!.gidMappings = multi;
    });
    expect(r.stderr).toBe("");
    const lines = r.stdout.trim().split("\n").map(words);
    expect(lines).toEqual(["0", "0", "0 100000 1000", "1000 200000 1000", "0 100000 1000", "1000 200000 1000", "allow"]);
    // a user of the second range, with a supplementary group
    const u = sh("id -u; id -G", (s) => {
      mapped(s);
      s.linux!.uidMappings = multi;
      s.linux!.gidMappings = multi;
      s.process!.user = { uid: 1500, gid: 1500, additionalGids: [10] };
    });
    expect(u.stderr).toBe("");
    expect(u.stdout.trim().split("\n")).toEqual(["1500", "1500 10"]);
  });

  test("files it creates on a bind-mounted host dir belong to the mapped host ids", () => {
    // the source sits in a 0700 directory of host root: the container's root could not
    // reach it by path, the runtime's side opens it
    const dir = hostDir();
    mkdirSync(join(dir, "rw"));
    chownSync(join(dir, "rw"), BASE, BASE);
    const r = sh("cd /home && echo data > a && mkdir d && touch b && chown 1234:1234 b && ls -ln", (s) => {
      mapped(s);
      grant(s, "CAP_CHOWN");
      s.mounts!.push(bind(join(dir, "rw"), "/home"));
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const owner = (f: string) => {
      const st = statSync(join(dir, "rw", f));
      return [st.uid, st.gid];
    };
    expect(owner("a")).toEqual([BASE, BASE]);
    expect(owner("d")).toEqual([BASE, BASE]);
    expect(owner("b")).toEqual([BASE + 1234, BASE + 1234]);
    expect(readFileSync(join(dir, "rw", "a"), "utf8")).toBe("data\n");
    // inside, the same files show the container's ids
    expect(r.stdout).toMatch(/-rw-r--r--\s+1 0\s+0\s+5 .* a\n/);
    expect(r.stdout).toMatch(/1234\s+1234\s+0 .* b\n/);
  });

  test("host root's private files stay out of reach, whatever capabilities it holds", () => {
    const dir = hostDir();
    mkdirSync(join(dir, "pub"));
    chmodSync(join(dir, "pub"), 0o755);
    writeFileSync(join(dir, "pub", "secret"), "top secret\n", { mode: 0o600 });
    const script = [
      "grep CapEff /proc/self/status",
      "cat /home/secret; echo cat=$?",
      "chmod 644 /home/secret; echo chmod=$?",
      "chown 0:0 /home/secret; echo chown=$?",
      "touch /home/new; echo touch=$?",
      "ls -ln /home/secret",
    ].join("; ");
    const r = sh(script, (s) => {
      mapped(s);
      grant(s, "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_CHOWN", "CAP_SYS_ADMIN");
      s.mounts!.push(bind(join(dir, "pub"), "/home"));
    });
    // the capabilities are really there (CAP_DAC_OVERRIDE is bit 1)
    const eff = BigInt("0x" + /CapEff:\s+([0-9a-f]+)/.exec(r.stdout)![1]);
    expect(eff & 2n).toBe(2n);
    expect(r.stdout).not.toContain("top secret");
    expect(r.stdout).toContain("cat=1");
    expect(r.stdout).toContain("chmod=1");
    expect(r.stdout).toContain("chown=1");
    expect(r.stdout).toContain("touch=1");
    // host root is not mapped: it shows as the overflow id
    expect(r.stdout).toMatch(/-rw-------\s+1 65534\s+65534 .*secret/);
    expect(r.stderr).toContain("Permission denied");
    const st = statSync(join(dir, "pub", "secret"));
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o600]);
    expect(existsSync(join(dir, "pub", "new"))).toBe(false);
  });

  test("its privileges end at the namespace: no devices, no clock, no host sysctls", () => {
    const script = [
      "mkdir /tmp/m",
      "mount -t tmpfs t /tmp/m; echo tmpfs=$?",
      "mknod /tmp/m/null c 1 3; echo mknod=$?",
      "mknod /tmp/m/sda b 8 0; echo mknodb=$?",
      "date -s 2001-01-01 >/dev/null; echo year=$(date +%Y)",
      "echo 3 > /proc/sys/vm/drop_caches; echo dropcaches=$?",
      "echo 1 > /proc/sys/kernel/sysrq; echo sysrq=$?",
    ].join("; ");
    const r = sh(script, (s) => {
      mapped(s);
      grant(s, "CAP_SYS_ADMIN", "CAP_MKNOD", "CAP_SYS_TIME", "CAP_SYS_RAWIO");
      s.linux!.readonlyPaths = [];
      s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1777"] });
    });
    const v = Object.fromEntries([...r.stdout.matchAll(/^(\w+)=(\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    // a tmpfs of its own is within its privileges...
    expect(v.tmpfs).toBe(0);
    // ...device nodes, the clock and the host's kernel parameters are not
    expect(v.mknod).not.toBe(0);
    expect(v.mknodb).not.toBe(0);
    expect(r.stderr).toContain("can't set date: Operation not permitted");
    expect(v.year).toBeGreaterThan(2001);
    expect(v.dropcaches).not.toBe(0);
    expect(v.sysrq).not.toBe(0);
    expect(r.stderr).toContain("Operation not permitted");
    expect(new Date().getFullYear()).toBeGreaterThan(2001);
  });

  test("device nodes are the host's, bound in, and work", () => {
    const r = sh("ls -ln /dev/null; echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | od -An -tx1; grep ' /dev/null ' /proc/self/mountinfo", mapped);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/crw-rw-rw-\s+1 65534\s+65534\s+1,\s+3 .*\/dev\/null/);
    expect(r.stdout).toContain("null-ok");
    expect(r.stdout).toContain("00 00 00 00");
    // a bind of the host's node (devtmpfs), not a node made in the container's /dev tmpfs
    expect(r.stdout).toMatch(/ \/dev\/null .* - devtmpfs /);
  });

  test("sysfs without a new network namespace: the host's /sys, bound read-only", () => {
    const r = sh("grep ' /sys ' /proc/self/mountinfo; ls /sys/class/net; echo 1 > /sys/kernel/mm/ksm/run; echo write=$?", (s) => {
      mapped(s);
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "network");
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ \/sys ro,nosuid,nodev,noexec.* - sysfs /);
    for (const dev of readdirSync("/sys/class/net")) expect(r.stdout).toContain(dev);
    expect(r.stdout).toContain("write=1");
    expect(r.stderr).toContain("Read-only file system");
  });

  test("a bind of a shared host mount: mounts made inside never reach the host", () => {
    const dir = hostDir();
    const shared = join(dir, "shared");
    mkdirSync(shared);
    const mount = (...args: string[]) => {
      const p = Bun.spawnSync(["mount", ...args]);
      if (p.exitCode !== 0) throw new Error(`mount ${args.join(" ")}: ${p.stderr}`);
    };
    mount("-t", "tmpfs", "-o", "mode=755", "berth-shared", shared);
    try {
      mount("--make-shared", shared);
      mkdirSync(join(shared, "a"));
      mkdirSync(join(shared, "b"));
      const r = sh("mount -t tmpfs x /home/a && mount -t tmpfs y /root/b && echo mounted", (s) => {
        mapped(s);
        grant(s, "CAP_SYS_ADMIN");
        s.mounts!.push(bind(shared, "/home"), bind(shared, "/root", ["rbind", "idmap"]));
      });
      expect(r.stdout.trim()).toBe("mounted");
      expect(mountsUnder(shared + "/")).toEqual([]);
    } finally {
      Bun.spawnSync(["umount", "-R", shared]);
    }
  });

  test("joining another container's user namespace: root of that namespace, its maps", () => {
    const other = [{ containerID: 0, hostID: 200000, size: 65536 }];
    const a = makeBundle(["sleep", "1000"], (s) => {
      mapped(s);
      s.linux!.uidMappings = other;
      s.linux!.gidMappings = other;
    });
    const idA = uniqueId("owner");
    try {
      rt.ok(["run", "--detach", "--bundle", a.dir, idA]);
      const pidA = rt.state(idA).pid;
      const dir = hostDir();
      mkdirSync(join(dir, "rw"));
      chownSync(join(dir, "rw"), 200000, 200000);
      const r = sh("id -u; cat /proc/self/uid_map; touch /home/f", (s) => {
        s.linux!.namespaces!.push({ type: "user", path: `/proc/${pidA}/ns/user` });
        s.mounts!.push(bind(join(dir, "rw"), "/home"));
      });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim().split("\n").map(words)).toEqual(["0", "0 200000 65536"]);
      expect(statSync(join(dir, "rw", "f")).uid).toBe(200000);
    } finally {
      rt.run(["delete", "--force", idA]);
      a.cleanup();
    }
  });

  test("spec --rootless runs here: a user namespace mapping the caller's ids", () => {
    ensureRootfs();
    const dir = hostDir();
    rt.ok(["spec", "--rootless", "--bundle", dir]);
    const spec = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    expect(spec.linux.namespaces.map((n: { type: string }) => n.type)).toContain("user");
    spec.root = { path: ROOTFS, readonly: true };
    spec.process.terminal = false;
    spec.process.args = ["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; touch /x 2>/dev/null || echo ro"];
    writeFileSync(join(dir, "config.json"), JSON.stringify(spec));
    const r = rt.run(["run", "--bundle", dir, uniqueId("rootless")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [uid, umap, gmap, ro] = r.stdout.trim().split("\n").map(words);
    expect(uid).toBe("0");
    expect(umap).toBe(`0 ${process.geteuid!()} 1`);
    expect(gmap).toBe(`0 ${process.getegid!()} 1`);
    expect(ro).toBe("ro");
  });
});

d("an unprivileged runtime", () => {
  // berth-runtime itself needs cgroups an unprivileged user cannot make here; the
  // helper drives the same plan compiler, berth-init and map writer without them.
  test("maps only its own ids and denies setgroups; the container is root with no groups", () => {
    const uid = 4242;
    const work = hostDir();
    chownSync(work, uid, uid);
    const helper = join(import.meta.dir, "helpers", "unprivileged-run.ts");
    const script = "id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; grep Groups /proc/self/status";
    const r = Bun.spawnSync(
      ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", process.execPath, helper, ROOTFS, work, script],
      { env: { ...process.env, HOME: work }, stdin: "ignore" },
    );
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString().trim().split("\n").map(words)).toEqual(["0", `0 ${uid} 1`, `0 ${uid} 1`, "deny", "Groups:"]);
  });
});

d("bad user namespace input changes nothing", () => {
  test("an unmapped process.user, a bind without a source for the namespace", () => {
    const cases: Array<[(s: Spec) => void, RegExp]> = [
      [(s) => (mapped(s), (s.process!.user = { uid: 70000, gid: 0 })), /process\.user\.uid: 70000 is not mapped by linux\.uidMappings/],
      [(s) => (mapped(s), (s.process!.user = { uid: 0, gid: 0, additionalGids: [99999] })), /process\.user\.additionalGids\[0\]/],
      [(s) => (mapped(s), s.mounts!.push(bind("/nonexistent/berth-src", "/home"))), /bind "\/nonexistent\/berth-src": open_tree: No such file/],
    ];
    for (const [edit, want] of cases) {
      const id = uniqueId("badns");
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
