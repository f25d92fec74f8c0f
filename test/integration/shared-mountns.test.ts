/**
 * A container without a mount namespace of its own (linux.namespaces has no
 * "mount"): it shares the runtime's, so its mounts appear there. Each test runs
 * berth-runtime inside a private mount namespace made for it (unshare -m), so
 * a failure cannot leave mounts on this machine.
 */
import { describe, test, expect } from "bun:test";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { RuntimeCli, makeBundle, uniqueId, isRoot, ROOTFS, RUNTIME } from "./harness.ts";
import type { Spec } from "../../src/oci/runtime-spec.ts";

const d = isRoot ? describe : describe.skip;

/** Run a bash script in a new private mount namespace; "key=value" lines of its stdout as a record. */
function inPrivateMountNs(script: string): { code: number; out: Record<string, string>; stderr: string } {
  const r = Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "bash", "-c", script], { stderr: "pipe", stdout: "pipe" });
  const out: Record<string, string> = {};
  for (const l of r.stdout.toString().split("\n")) {
    const i = l.indexOf("=");
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1);
  }
  return { code: r.exitCode ?? -1, out, stderr: r.stderr.toString() };
}

function sharedBundle(args: string[], edit?: (s: Spec) => void) {
  // a private copy: the container's devices and mounts land under its rootfs
  const rootfs = join(mkdtempSync(join(tmpdir(), "berth-shared-rootfs-")), "rootfs");
  cpSync(ROOTFS, rootfs, { recursive: true, verbatimSymlinks: true });
  const b = makeBundle(args, (s) => {
    s.root = { path: rootfs, readonly: false };
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "mount");
    delete s.linux!.maskedPaths;
    delete s.linux!.readonlyPaths;
    edit?.(s);
  });
  return {
    b,
    rootfs,
    cleanup: () => {
      b.cleanup();
      rmSync(join(rootfs, ".."), { recursive: true, force: true });
    },
  };
}

d("a container without its own mount namespace", () => {
  test("mounts in the runtime's namespace below its rootfs only; delete removes them", () => {
    const { b, rootfs, cleanup } = sharedBundle(["sleep", "600"]);
    const rt = new RuntimeCli();
    const id = uniqueId("shm");
    const R = `${RUNTIME} --root ${rt.root}`;
    // mount points outside the rootfs with their options and propagation fields
    const outside = `awk -v r="${rootfs}" '$5 != r && index($5, r "/") != 1 {print $5, $6, $7, $8}' /proc/self/mountinfo | sort | md5sum | cut -c1-32`;
    const below = `awk -v r="${rootfs}/" 'index($5, r) == 1' /proc/self/mountinfo | wc -l`;
    try {
      const r = inPrivateMountNs(`
        set -e
        echo "outside_before=$(${outside})"
        echo "below_before=$(${below})"
        ${R} create --bundle ${b.dir} ${id}
        pid=$(${R} state ${id} | sed -n 's/.*"pid": \\([0-9]*\\).*/\\1/p')
        echo "same_ns=$([ "$(readlink /proc/$pid/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ] && echo yes || echo no)"
        echo "below_created=$(${below})"
        echo "outside_created=$(${outside})"
        echo "proc_of_container=$(awk -v m="${rootfs}/proc" '$5 == m {print $9}' /proc/self/mountinfo)"
        ${R} delete --force ${id}
        echo "below_deleted=$(${below})"
        echo "outside_deleted=$(${outside})"
      `);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.out.same_ns).toBe("yes");
      expect(r.out.below_before).toBe("0");
      // proc, dev, devpts, shm, mqueue, sys, cgroup... of the default spec
      expect(Number(r.out.below_created)).toBeGreaterThan(4);
      expect(r.out.proc_of_container).toBe("proc");
      expect(r.out.below_deleted).toBe("0");
      // nothing else in the namespace changed: no propagation change of /, no bind of the rootfs, no pivot
      expect(r.out.outside_created).toBe(r.out.outside_before!);
      expect(r.out.outside_deleted).toBe(r.out.outside_before!);
    } finally {
      rt.cleanup();
      cleanup();
    }
  });

  for (const [field, edit] of [
    ["root.readonly", (s: Spec) => (s.root!.readonly = true)],
    ["linux.maskedPaths", (s: Spec) => (s.linux!.maskedPaths = ["/proc/kcore"])],
    ["linux.readonlyPaths", (s: Spec) => (s.linux!.readonlyPaths = ["/proc/sys"])],
    ["linux.rootfsPropagation", (s: Spec) => (s.linux!.rootfsPropagation = "shared")],
  ] as const) {
    test(`${field} is refused (it would change the host's mounts), naming the field, creating nothing`, () => {
      const { b, cleanup } = sharedBundle(["true"], edit);
      const rt = new RuntimeCli();
      try {
        const r = inPrivateMountNs(`${RUNTIME} --root ${rt.root} create --bundle ${b.dir} ${uniqueId("shm")}; echo code=$?`);
        expect(r.out.code).not.toBe("0");
        expect(r.stderr).toMatch(new RegExp(`${field.replace(".", "\\.")}: (needs|requires) a mount namespace`));
        expect(rt.ids()).toEqual([]);
      } finally {
        rt.cleanup();
        cleanup();
      }
    });
  }
});
