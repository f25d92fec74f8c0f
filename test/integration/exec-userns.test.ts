/**
 * exec into a container with its own user namespace (root): berth-init joins
 * the user namespace first, and non-dumpable is what keeps the container's
 * root -- all capabilities inside its namespace -- from opening the exe of
 * berth-init while it is in the container (with the caps check alone it could).
 */
import { describe, test, expect, afterAll } from "bun:test";
import { readlinkSync } from "node:fs";
import { RuntimeCli, isRoot, makeBundle, uniqueId } from "./harness.ts";
import { nsPid } from "./exec-helpers.ts";
import { Runtime } from "../../src/runtime/container.ts";
import { execInContainer } from "../../src/runtime/exec.ts";
import { execProcess } from "../../src/runtime/exec-spec.ts";
import type { Spec } from "../../src/oci/runtime-spec.ts";

const ALL_CAPS = ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN"];
const userns = (s: Spec) => {
  s.linux!.namespaces!.push({ type: "user" });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  for (const set of ["bounding", "effective", "permitted"] as const) s.process!.capabilities![set] = [...ALL_CAPS];
};

const rt = isRoot ? new RuntimeCli() : undefined;
const bundle = isRoot ? makeBundle(["sleep", "1000"], userns) : undefined;
const id = uniqueId("userns");
// If this host cannot create a container in a new user namespace (no user
// namespaces, or no subordinate ids to map), there is nothing to exec into.
const created = rt !== undefined && bundle !== undefined && rt.run(["run", "-d", "--bundle", bundle.dir, id]).code === 0;
afterAll(() => {
  rt?.run(["delete", "--force", id]);
  bundle?.cleanup();
  rt?.cleanup();
});

describe.skipIf(!created)("exec into a user namespace", () => {
  test("the process is in the container's user namespace, with its ids mapped", () => {
    const r = rt!.run(["exec", id, "sh", "-c", "readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u"]);
    expect(r.code).toBe(0);
    const [ns, map, uid] = r.stdout.trim().split("\n");
    const pid = rt!.state(id).pid;
    expect(ns).toBe(readlinkSync(`/proc/${pid}/ns/user`));
    expect(map!.trim().split(/\s+/)).toEqual(["0", "200000", "65536"]);
    expect(uid).toBe("0");
  });

  test("the container's root cannot open the exe of berth-init in the container", async () => {
    const lib = new Runtime(rt!.root);
    let attempt = { stdout: "", stderr: "" };
    const l = await execInContainer(lib, {
      id,
      process: execProcess(lib.store.load(id).config.process, { args: ["sleep", "1001"] }),
      detach: true,
      onSetup: (pid) => {
        attempt = rt!.run(["exec", id, "sh", "-c", `exec 3</proc/${nsPid(pid)}/exe && echo OPENED`]);
      },
    });
    process.kill(l.pid, 9);
    expect(attempt.stdout).not.toContain("OPENED");
    expect(attempt.stderr).toContain("Permission denied");
  });
});

