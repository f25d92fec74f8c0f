import { describe, expect, test } from "bun:test";
import { parseDaemonFlags } from "../../../src/cli/berthd-flags.ts";
import { socketPath } from "../../../src/engine/daemon.ts";

describe("berthd flags", () => {
  test("defaults as documented", () => {
    const r = parseDaemonFlags([]);
    if (typeof r === "string") throw new Error(r);
    expect(r.level).toBe("info");
    expect(r.opts).toMatchObject({ host: "unix:///run/berth/berth.sock", dataRoot: "/var/lib/berth", execRoot: "/run/berth", certsDir: "/etc/docker/certs.d", insecureRegistries: [] });
  });

  test("dockerd's spellings", () => {
    const r = parseDaemonFlags(["-H", "unix:///tmp/x.sock", "--data-root=/d", "--exec-root", "/e", "-p", "/p.pid", "-D", "--insecure-registry", "a:5000", "--insecure-registry=10.0.0.0/8", "-G", "berth", "--shutdown-timeout", "3"]);
    if (typeof r === "string") throw new Error(r);
    expect(r.level).toBe("debug");
    expect(r.opts).toMatchObject({ host: "unix:///tmp/x.sock", dataRoot: "/d", execRoot: "/e", pidFile: "/p.pid", insecureRegistries: ["a:5000", "10.0.0.0/8"], group: "berth", shutdownTimeoutMs: 3000 });
    expect(parseDaemonFlags(["--help"])).toBe("help");
    expect(parseDaemonFlags(["-v"])).toBe("version");
  });

  test("bad flags name themselves", () => {
    expect(() => parseDaemonFlags(["--log-level", "loud"])).toThrow('--log-level: unknown level "loud"');
    expect(() => parseDaemonFlags(["--shutdown-timeout", "soon"])).toThrow("--shutdown-timeout");
    expect(() => parseDaemonFlags(["--bogus"])).toThrow("bogus");
    expect(() => parseDaemonFlags(["-H", "unix:///a", "-H", "unix:///b"])).toThrow("-H: one socket only");
    expect(() => socketPath("tcp://0.0.0.0:2375")).toThrow("only unix:// sockets are supported");
    expect(() => socketPath("unix://relative")).toThrow("want unix:///absolute/path");
  });
});
