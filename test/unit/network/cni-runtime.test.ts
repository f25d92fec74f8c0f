/**
 * The CNI runtime against small executable plugins (sh + jq) that record what
 * they were given: chaining, prevResult, capability args, DEL order and
 * cache, undo on failure, errors naming the plugin, VERSION/GC.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniRuntime } from "../../../src/engine/network/cni/runtime.ts";
import type { ExecTiming } from "../../../src/engine/network/cni/exec.ts";
import { parseConfList } from "../../../src/engine/network/cni/types.ts";
import { BerthError } from "../../../src/errors.ts";

let dir: string;
let bin: string;
let log: string;
const haveJq = !!Bun.which("jq");

function plugin(name: string, body: string) {
  const p = join(bin, name);
  writeFileSync(
    p,
    `#!/bin/sh
in=$(cat)
n=$(ls "${log}" | wc -l)
f="${log}/$(printf %03d "$n")-${name}-$CNI_COMMAND"
printf '%s' "$in" > "$f.json"
env | grep '^CNI_' | sort > "$f.env"
${body}
`,
  );
  chmodSync(p, 0o755);
}

function calls(): { name: string; stdin: any; env: Record<string, string> }[] {
  return readdirSync(log)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({
      name: f.slice(4, -5),
      stdin: JSON.parse(readFileSync(join(log, f), "utf8")),
      env: Object.fromEntries(readFileSync(join(log, f.replace(/\.json$/, ".env")), "utf8").trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])),
    }));
}

function reset() {
  rmSync(log, { recursive: true, force: true });
  Bun.spawnSync(["mkdir", "-p", log]);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "berth-cni-"));
  bin = join(dir, "bin");
  log = join(dir, "log");
  Bun.spawnSync(["mkdir", "-p", bin, log]);
  const version = `[ "$CNI_COMMAND" = VERSION ] && { echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'; exit 0; }`;
  plugin("one", `${version}\n[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"02:00:00:00:00:02","sandbox":"'"$CNI_NETNS"'"}],"ips":[{"address":"10.9.0.2/24","gateway":"10.9.0.1","interface":0}]}'\nexit 0`);
  plugin("two", `${version}\n[ "$CNI_COMMAND" = ADD ] && printf '%s' "$in" | jq -c .prevResult\nexit 0`);
  plugin("fail", `${version}\n[ "$CNI_COMMAND" = ADD ] && { echo '{"cniVersion":"1.0.0","code":7,"msg":"bad thing","details":"it broke"}'; exit 1; }\nexit 0`);
  plugin("crash", `${version}\necho 'panic: nil map' >&2; exit 2`);
  plugin("gc11", `[ "$CNI_COMMAND" = VERSION ] && { echo '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}'; exit 0; }\nexit 0`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const list = (...types: string[]) => parseConfList(JSON.stringify({ cniVersion: "1.0.0", name: "testnet", plugins: types.map((t) => ({ type: t, capabilities: t === "two" ? { portMappings: true } : {} })) }), "test");
const att = { containerId: "c1", netns: "/proc/self/ns/net", ifName: "eth0", capabilityArgs: { portMappings: [{ hostPort: 1, containerPort: 2, protocol: "tcp" }], ips: ["x"] }, args: [["IgnoreUnknown", "1"]] as [string, string][] };

describe.skipIf(!haveJq)("CNI runtime (plugins are sh scripts using jq)", () => {
  test("ADD chains prevResult; DEL runs in reverse with the cached result; the cache follows", async () => {
    reset();
    const timings: ExecTiming[] = [];
    const rt = new CniRuntime({ cacheDir: join(dir, "cache1"), exec: { path: [bin], onTiming: (t) => timings.push(t) } });
    const r = await rt.add(list("one", "two"), att);
    expect(r.ips).toEqual([{ address: "10.9.0.2/24", gateway: "10.9.0.1", interface: 0 }]);
    let c = calls();
    expect(c.map((x) => x.name)).toEqual(["one-ADD", "two-ADD"]);
    expect(c[0]!.stdin).toEqual({ type: "one", capabilities: {}, name: "testnet", cniVersion: "1.0.0" });
    expect(c[1]!.stdin.prevResult.ips[0].address).toBe("10.9.0.2/24");
    expect(c[1]!.stdin.runtimeConfig).toEqual({ portMappings: att.capabilityArgs.portMappings });
    expect(c[0]!.env).toEqual({ CNI_ARGS: "IgnoreUnknown=1", CNI_COMMAND: "ADD", CNI_CONTAINERID: "c1", CNI_IFNAME: "eth0", CNI_NETNS: "/proc/self/ns/net", CNI_PATH: bin });
    const cached = rt.cache.get("testnet", "c1", "eth0")!;
    expect(cached.complete).toBe(true);
    expect(cached.result?.ips?.[0]?.address).toBe("10.9.0.2/24");
    expect(timings.map((t) => `${t.plugin} ${t.command} ${t.ok}`)).toEqual(["one ADD true", "two ADD true"]);

    await rt.check(list("one", "two"), att);
    reset();
    await rt.del(undefined, { containerId: "c1", ifName: "eth0", networkName: "testnet" });
    c = calls();
    expect(c.map((x) => x.name)).toEqual(["two-DEL", "one-DEL"]);
    for (const x of c) expect(x.stdin.prevResult.ips[0].address).toBe("10.9.0.2/24");
    expect(c[0]!.env.CNI_NETNS).toBe("/proc/self/ns/net");
    expect(rt.cache.get("testnet", "c1", "eth0")).toBeUndefined();
    expect(rt.cache.list()).toEqual([]);
  });

  test("a failing plugin: the error names it with its msg and details; what ran is undone", async () => {
    reset();
    const rt = new CniRuntime({ cacheDir: join(dir, "cache2"), exec: { path: [bin] } });
    let err: unknown;
    await rt.add(list("one", "fail"), att).catch((e) => (err = e));
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).code).toBe("InvalidArgument");
    expect((err as Error).message).toBe('cni plugin "fail" ADD on network "testnet": bad thing: it broke (code 7, invalid network config)');
    expect(calls().map((x) => x.name)).toEqual(["one-ADD", "fail-ADD", "fail-DEL", "one-DEL"]);
    expect(rt.cache.list()).toEqual([]);

    reset();
    await rt.add(list("crash"), att).catch((e) => (err = e));
    expect((err as Error).message).toMatch(/^cni plugin "crash" ADD on network "testnet": exited 2: panic: nil map/);
  });

  test("a missing plugin fails before any plugin runs", async () => {
    reset();
    const rt = new CniRuntime({ cacheDir: join(dir, "cache3"), exec: { path: [bin] } });
    let err: unknown;
    await rt.add(list("one", "nosuch"), att).catch((e) => (err = e));
    expect((err as BerthError).code).toBe("NotFound");
    expect((err as Error).message).toContain('cni plugin "nosuch": not found in');
    expect(calls()).toEqual([]);
  });

  test("bad container ids and interface names are refused", async () => {
    const rt = new CniRuntime({ cacheDir: join(dir, "cache4"), exec: { path: [bin] } });
    await expect(rt.add(list("one"), { ...att, containerId: "../x" })).rejects.toThrow(/^container id: /);
    await expect(rt.add(list("one"), { ...att, ifName: "a/b" })).rejects.toThrow(/^ifname: /);
    await expect(rt.add(list("one"), { ...att, ifName: "0123456789abcdef" })).rejects.toThrow(/^ifname: /);
  });

  test("VERSION probe; GC only when every plugin speaks 1.1.0, with the valid attachments", async () => {
    reset();
    const rt = new CniRuntime({ cacheDir: join(dir, "cache5"), exec: { path: [bin] } });
    expect((await rt.version("one")).supportedVersions).toEqual(["0.4.0", "1.0.0"]);
    expect(await rt.supportsGC(list("one", "gc11"))).toBe(false);
    expect(await rt.supportsGC(list("gc11"))).toBe(true);
    reset();
    await rt.gc(list("gc11"), [{ containerId: "c1", ifName: "eth0" }]);
    const c = calls();
    expect(c.map((x) => x.name)).toEqual(["gc11-GC"]);
    expect(c[0]!.stdin["cni.dev/valid-attachments"]).toEqual([{ containerID: "c1", ifname: "eth0" }]);
    expect(c[0]!.stdin.cniVersion).toBe("1.1.0");
  });
});
