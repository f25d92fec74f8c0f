import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultSpec, isCgroup2Unified } from "../../../src/oci/default-spec.ts";
import { OCI_VERSION } from "../../../src/oci/runtime-spec.ts";
import { stringifyJson, validateSpec } from "../../../src/oci/validate.ts";

const fixture = (name: string) => readFileSync(join(import.meta.dir, "fixtures", name), "utf8");

/** runc's file with berth's two differences applied. */
function asBerth(runcText: string): string {
  return runcText.replace('"ociVersion": "1.0.2-dev"', `"ociVersion": "${OCI_VERSION}"`).replace('"hostname": "runc"', '"hostname": "berth"');
}

describe("defaultSpec matches `runc spec` (runc 1.1.5)", () => {
  test("byte for byte, apart from ociVersion and hostname (cgroup v1 host)", () => {
    expect(stringifyJson(defaultSpec({ cgroupNamespace: false }))).toBe(asBerth(fixture("runc-1.1.5-spec.json")));
  });

  test("--rootless, for the caller's ids", () => {
    // The fixture was written by root: hostID 0.
    expect(stringifyJson(defaultSpec({ rootless: true, cgroupNamespace: false, hostUid: 0, hostGid: 0 }))).toBe(
      asBerth(fixture("runc-1.1.5-spec-rootless.json")),
    );
    const s = defaultSpec({ rootless: true, hostUid: 1000, hostGid: 1001 });
    expect(s.linux?.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(s.linux?.gidMappings).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
    expect(s.linux?.resources).toBeUndefined();
    expect(s.linux?.namespaces?.map((n) => n.type)).not.toContain("network");
    expect(s.mounts?.find((m) => m.destination === "/dev/pts")?.options).not.toContain("gid=5");
    expect(s.mounts?.find((m) => m.destination === "/sys")).toEqual({
      destination: "/sys",
      type: "none",
      source: "/sys",
      options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
    });
    const me = defaultSpec({ rootless: true });
    expect(me.linux?.uidMappings?.[0]?.hostID).toBe(process.geteuid!());
  });

  test("a cgroup namespace on cgroup v2 hosts, as runc does", () => {
    expect(defaultSpec({ cgroupNamespace: true }).linux?.namespaces?.at(-1)).toEqual({ type: "cgroup" });
    expect(defaultSpec({ rootless: true, cgroupNamespace: true }).linux?.namespaces?.map((n) => n.type)).toEqual([
      "pid",
      "ipc",
      "uts",
      "mount",
      "cgroup",
      "user",
    ]);
    expect(defaultSpec().linux?.namespaces?.some((n) => n.type === "cgroup")).toBe(isCgroup2Unified());
  });

  test("args replace sh; each call returns a fresh object", () => {
    const a = defaultSpec({ args: ["/bin/echo", "hi"] });
    expect(a.process?.args).toEqual(["/bin/echo", "hi"]);
    a.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
    expect(defaultSpec().process?.capabilities?.bounding).toEqual(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    expect(validateSpec(a).process?.args?.[0]).toBe("/bin/echo");
  });

  const runc = ["/usr/sbin/runc", "/usr/bin/runc"].find((p) => existsSync(p));
  test.skipIf(!runc)("matches the installed runc's output on this host", () => {
    for (const rootless of [false, true]) {
      const dir = mkdtempSync(join(tmpdir(), "berth-spec-"));
      try {
        const r = Bun.spawnSync([runc!, "spec", ...(rootless ? ["--rootless"] : [])], { cwd: dir });
        expect(r.exitCode).toBe(0);
        const text = readFileSync(join(dir, "config.json"), "utf8");
        const version = /"ociVersion": "([^"]+)"/.exec(text)![1];
        const ours = stringifyJson(defaultSpec({ rootless })).replace(`"ociVersion": "${OCI_VERSION}"`, `"ociVersion": "${version}"`);
        // Only runc 1.1 is pinned to this layout; newer runc versions may add fields.
        if (version === "1.0.2-dev") expect(ours).toBe(text.replace('"hostname": "runc"', '"hostname": "berth"'));
        validateSpec(JSON.parse(text));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
