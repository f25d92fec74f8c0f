/** `features` is generated from the runtime's own tables: check it against them and against what the code accepts. */
import { expect, test } from "bun:test";
import { features } from "../../../src/runtime/ops/features.ts";
import { CAPABILITIES } from "../../../src/oci/capabilities.ts";
import { knownMountOptions, parseMountOptions } from "../../../src/runtime/plan/mount-options.ts";
import { namespaceFlag } from "../../../src/runtime/plan/compile.ts";
import { compileSeccomp } from "../../../src/runtime/seccomp/compile.ts";
import { OCI_VERSION } from "../../../src/version.ts";

const f = features();

test("versions and the plain facts of this build", () => {
  expect(f.ociVersionMin).toBe("1.0.0");
  expect(f.ociVersionMax).toBe(OCI_VERSION);
  expect(f.linux.cgroup).toEqual({ v1: true, v2: true, systemd: false, systemdUser: false, rdma: true });
  expect(f.linux.apparmor.enabled).toBe(false);
  expect(f.linux.selinux.enabled).toBe(false);
  expect(f.linux.intelRdt.enabled).toBe(false);
  expect(f.hooks).toBeUndefined(); // not run yet: "unknown", not a false claim
});

test("every listed mount option means something to the parser (none is fs data)", () => {
  expect(f.mountOptions).toEqual(knownMountOptions());
  for (const o of f.mountOptions) expect(parseMountOptions([o]).data).toBe("");
  expect(parseMountOptions(["size=64k"]).data).toBe("size=64k");
  expect(f.mountOptions).toEqual(expect.arrayContaining(["ro", "rbind", "rprivate", "nosymfollow", "defaults"]));
  expect(f.mountOptions).not.toContain("tmpcopyup"); // accepted, not done
  expect(f.linux.mountExtensions.idmap.enabled).toBe(f.mountOptions.includes("idmap"));
});

test("every listed namespace compiles; capabilities are the known list", () => {
  expect(f.linux.namespaces).toEqual(["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]);
  for (const n of f.linux.namespaces) expect(namespaceFlag(n)).toBeGreaterThan(0);
  expect(f.linux.capabilities).toEqual([...CAPABILITIES]);
});

test("seccomp: every listed action, operator, arch and supported flag compiles; NOTIFY is not claimed", () => {
  const s = f.linux.seccomp!;
  expect(s.enabled).toBe(true);
  expect(s.actions).not.toContain("SCMP_ACT_NOTIFY");
  for (const a of s.actions) {
    const defaultAction = a === "SCMP_ACT_ALLOW" ? "SCMP_ACT_ERRNO" : "SCMP_ACT_ALLOW";
    expect(() => compileSeccomp({ defaultAction, syscalls: [{ names: ["getpid"], action: a }] })).not.toThrow();
  }
  for (const op of s.operators) {
    expect(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["kill"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, valueTwo: 1, op }] }] })).not.toThrow();
  }
  for (const arch of s.archs) expect(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: [arch], syscalls: [] })).not.toThrow();
  for (const flag of s.supportedFlags) expect(s.knownFlags).toContain(flag);
  for (const flag of s.knownFlags) expect(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", flags: [flag] })).not.toThrow();
  expect(f.annotations["io.github.seccomp.libseccomp.version"]).toMatch(/^\d+\.\d+\.\d+$/);
});
