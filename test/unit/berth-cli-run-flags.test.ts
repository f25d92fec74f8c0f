/**
 * berth run/create flags -> the Docker create body: each flag's meaning as
 * docker's CLI gives it, and each bad value refused with a message naming
 * its flag (a UsageError, exit 125) before anything is sent.
 */
import { describe, expect, test } from "bun:test";
import { UsageError, parseFlags, usageText } from "../../src/cli/berth/flags.ts";
import { CREATE_SPEC, RUN_SPEC, parseBytes, parseDuration, parseRunArgs, type FlagEnv } from "../../src/cli/berth/run-flags.ts";

const files: Record<string, string> = {
  "/envs": "# comment\n\nA=1\n  B=two words\nFROM_ENV\nMISSING\n",
  "/labels": "team=core\nbare\n",
  "/seccomp.json": '{\n  "defaultAction": "SCMP_ACT_ERRNO"\n}\n',
};
const fx: FlagEnv = {
  env: { FROM_ENV: "here", HOME_VAR: "/root" },
  readFile: (p) => {
    if (!(p in files)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: "ENOENT" });
    return files[p]!;
  },
};
const run = (...argv: string[]) => parseRunArgs(argv, true, fx);
const body = (...argv: string[]) => run(...argv, "img").body;
const hc = (...argv: string[]) => body(...argv).HostConfig!;
/** the UsageError's message for these flags */
function refused(...argv: string[]): string {
  try {
    run(...argv, "img");
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${argv.join(" ")}`);
}

describe("parsing as pflag does", () => {
  test("flags stop at the image; the command keeps its own flags", () => {
    const o = run("-e", "A=1", "img", "ls", "-l", "--help", "-e");
    expect(o.body.Image).toBe("img");
    expect(o.body.Cmd).toEqual(["ls", "-l", "--help", "-e"]);
    expect(o.body.Env).toEqual(["A=1"]);
  });
  test("bundled shorts, attached values, --flag=value, --", () => {
    const o = run("-dit", "-eX=1", "-e=Y=2", "--env=Z=3", "-p8080:80", "--", "img");
    expect(o.detach).toBe(true);
    expect(o.body.Tty).toBe(true);
    expect(o.body.OpenStdin).toBe(true);
    expect(o.body.Env).toEqual(["X=1", "Y=2", "Z=3"]);
    expect(o.body.HostConfig!.PortBindings).toEqual({ "80/tcp": [{ HostIp: "", HostPort: "8080" }] });
  });
  test("unknown flags and missing values name the flag", () => {
    expect(() => run("--bogus", "img")).toThrow("unknown flag: --bogus");
    expect(() => run("-Z", "img")).toThrow("unknown shorthand flag: 'Z' in -Z");
    expect(() => run("--name")).toThrow("flag needs an argument: --name");
    expect(() => run("--rm=maybe", "img")).toThrow('invalid argument "maybe" for "--rm" flag');
    expect(() => run()).toThrow('"berth run" requires at least 1 argument');
  });
  test("-h is --hostname for run (not help), --help prints the usage", () => {
    expect(body("-h", "box").Hostname).toBe("box");
    expect(() => parseFlags(RUN_SPEC, ["--help"])).toThrow();
    expect(usageText(RUN_SPEC)).toContain("--memory-swap");
    expect(usageText(CREATE_SPEC)).not.toContain("--detach");
  });
  test("create has no -d", () => {
    expect(() => parseRunArgs(["-d", "img"], false, fx)).toThrow("unknown shorthand flag: 'd'");
  });
});

describe("streams and lifecycle", () => {
  test("defaults: attach stdout and stderr, no stdin", () => {
    const b = body();
    expect([b.AttachStdin, b.AttachStdout, b.AttachStderr, b.OpenStdin, b.StdinOnce, b.Tty]).toEqual([false, true, true, false, false, false]);
  });
  test("-i opens and attaches stdin once (run), -t a tty", () => {
    const b = body("-i", "-t");
    expect([b.AttachStdin, b.OpenStdin, b.StdinOnce, b.Tty]).toEqual([true, true, true, true]);
    const c = parseRunArgs(["-i", "img"], false, fx).body;
    expect([c.AttachStdin, c.OpenStdin, c.StdinOnce]).toEqual([true, true, false]);
  });
  test("-t with a terminal sends its size", () => {
    expect(parseRunArgs(["-t", "img"], true, { ...fx, consoleSize: [40, 120] }).body.HostConfig!.ConsoleSize).toEqual([40, 120]);
  });
  test("-d attaches nothing; -a picks streams; -a with -d conflicts", () => {
    const d = body("-d", "-i");
    expect([d.AttachStdin, d.AttachStdout, d.AttachStderr, d.StdinOnce, d.OpenStdin]).toEqual([false, false, false, false, true]);
    const a = body("-a", "stderr", "-a", "STDIN");
    expect([a.AttachStdin, a.AttachStdout, a.AttachStderr]).toEqual([true, false, true]);
    expect(refused("-a", "stdall")).toContain('"-a, --attach"');
    expect(refused("-d", "-a", "stdout")).toBe("Conflicting options: -a and -d");
  });
  test("--rm, --name, --restart, --init, --stop-signal, --stop-timeout, --platform, --pull, --cidfile", () => {
    const o = run("--rm", "--name", "web", "--init", "--stop-signal", "SIGUSR1", "--stop-timeout", "7", "--platform", "linux/amd64", "--pull", "never", "--cidfile", "/tmp/cid", "img");
    expect(o.body.HostConfig!.AutoRemove).toBe(true);
    expect(o.body.HostConfig!.Init).toBe(true);
    expect(o.body.StopSignal).toBe("SIGUSR1");
    expect(o.body.StopTimeout).toBe(7);
    expect([o.name, o.platform, o.pull, o.cidfile]).toEqual(["web", "linux/amd64", "never", "/tmp/cid"]);
    expect(run("img").pull).toBe("missing");
    expect(refused("--pull", "sometimes")).toContain('"--pull"');
    expect(refused("--name", "bad/name")).toContain('"--name"');
    expect(refused("--stop-timeout", "soon")).toContain('"--stop-timeout"');
  });
  test("--restart policies", () => {
    expect(hc("--restart", "always").RestartPolicy).toEqual({ Name: "always" });
    expect(hc("--restart", "on-failure:3").RestartPolicy).toEqual({ Name: "on-failure", MaximumRetryCount: 3 });
    expect(hc("--restart", "unless-stopped").RestartPolicy).toEqual({ Name: "unless-stopped" });
    expect(refused("--restart", "sometimes")).toContain('"--restart"');
    expect(refused("--restart", "always:3")).toContain("only be used with 'on-failure'");
    expect(refused("--restart", "on-failure:x")).toContain('"--restart"');
    expect(refused("--rm", "--restart", "always")).toBe("Conflicting options: --restart and --rm");
  });
  test("--sig-proxy defaults to true and can be turned off", () => {
    expect(run("img").sigProxy).toBe(true);
    expect(run("--sig-proxy=false", "img").sigProxy).toBe(false);
  });
});

describe("process", () => {
  test("-e: KEY=VALUE, KEY from the environment, KEY bare when unset; --env-file first", () => {
    expect(body("--env-file", "/envs", "-e", "FROM_ENV", "-e", "NOPE", "-e", "C=").Env).toEqual(["A=1", "B=two words", "FROM_ENV=here", "MISSING", "FROM_ENV=here", "NOPE", "C="]);
    expect(refused("-e", "=x")).toContain('"-e, --env"');
    expect(refused("--env-file", "/nope")).toContain("--env-file /nope");
  });
  test("-w, -u, --entrypoint, --hostname", () => {
    const b = body("-w", "/srv", "-u", "1000:1000", "--entrypoint", "/bin/sh", "--hostname", "box");
    expect([b.WorkingDir, b.User, b.Entrypoint, b.Hostname]).toEqual(["/srv", "1000:1000", ["/bin/sh"], "box"]);
    expect(body("--entrypoint", "").Entrypoint).toEqual([""]);
    expect(refused("-w", "relative")).toContain('"-w, --workdir"');
    expect(refused("--hostname", "bad_host!")).toContain('"-h, --hostname"');
  });
  test("-l/--label and --label-file", () => {
    expect(body("--label-file", "/labels", "-l", "a=b", "--label", "flag").Labels).toEqual({ team: "core", bare: "", a: "b", flag: "" });
    expect(refused("-l", "=v")).toContain('"-l, --label"');
  });
  test("health check flags and --no-healthcheck", () => {
    const h = body("--health-cmd", "curl -f localhost", "--health-interval", "1m30s", "--health-timeout", "500ms", "--health-retries", "4", "--health-start-period", "2s").Healthcheck;
    expect(h).toEqual({ Test: ["CMD-SHELL", "curl -f localhost"], Interval: 90e9, Timeout: 5e8, Retries: 4, StartPeriod: 2e9 });
    expect(body("--no-healthcheck").Healthcheck).toEqual({ Test: ["NONE"] });
    expect(refused("--no-healthcheck", "--health-retries", "1")).toBe("--no-healthcheck conflicts with --health-* options");
    expect(refused("--health-interval", "10")).toContain('"--health-interval"');
    expect(refused("--health-interval", "-1s")).toBe("--health-interval cannot be negative");
    expect(refused("--health-retries", "x")).toContain('"--health-retries"');
  });
});

describe("storage", () => {
  test("-v binds, named volumes, anonymous volumes", () => {
    const b = body("-v", "/host:/ctr:ro", "-v", "data:/data", "-v", "/anon");
    expect(b.HostConfig!.Binds).toEqual(["/host:/ctr:ro", "data:/data"]);
    expect(b.Volumes).toEqual({ "/anon": {} });
    expect(refused("-v", "/a:rel")).toContain('"-v, --volume"');
    expect(refused("-v", "relative")).toContain('"-v, --volume"');
    expect(refused("-v", "/a:/b:bogus")).toContain("invalid mode: bogus");
    expect(refused("-v", "/a:/b:ro:x")).toContain("invalid volume specification");
    expect(refused("-v", "../up:/b")).toContain("neither an absolute path nor a volume name");
  });
  test("--mount bind, volume, tmpfs", () => {
    const m = hc(
      "--mount", "type=bind,source=/src,target=/dst,readonly,bind-propagation=rslave",
      "--mount", "src=vol,dst=/v,volume-nocopy,volume-label=a=b,volume-opt=type=nfs",
      "--mount", "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770",
    ).Mounts;
    expect(m).toEqual([
      { Type: "bind", Source: "/src", Target: "/dst", ReadOnly: true, BindOptions: { Propagation: "rslave" } },
      { Type: "volume", Source: "vol", Target: "/v", VolumeOptions: { NoCopy: true, Labels: { a: "b" }, DriverConfig: { Options: { type: "nfs" } } } },
      { Type: "tmpfs", Target: "/t", TmpfsOptions: { SizeBytes: 64 * 1024 ** 2, Mode: 0o1770 } },
    ]);
    expect(refused("--mount", "type=nfs,target=/x")).toContain('"--mount"');
    expect(refused("--mount", "type=bind,target=/x")).toContain("source is required");
    expect(refused("--mount", "source=/x")).toContain("target is required");
    expect(refused("--mount", "type=tmpfs,target=/t,volume-nocopy")).toContain("cannot mix");
    expect(refused("--mount", "type=bind,src=/a,dst=/b,whatever=1")).toContain("unexpected key");
    expect(refused("--mount", "type=bind,src=/a,dst=/b,ro=maybe")).toContain('"--mount"');
  });
  test("--tmpfs and --read-only", () => {
    const h = hc("--tmpfs", "/run", "--tmpfs", "/tmp:rw,size=64m", "--read-only");
    expect(h.Tmpfs).toEqual({ "/run": "", "/tmp": "rw,size=64m" });
    expect(h.ReadonlyRootfs).toBe(true);
    expect(refused("--tmpfs", "run")).toContain('"--tmpfs"');
  });
});

describe("resources", () => {
  test("sizes in binary units", () => {
    expect(parseBytes("-m", "512m")).toBe(512 * 1024 ** 2);
    expect(parseBytes("-m", "1.5g")).toBe(1.5 * 1024 ** 3);
    expect(parseBytes("-m", "1GiB")).toBe(1024 ** 3);
    expect(parseBytes("-m", "4096")).toBe(4096);
    const h = hc("-m", "256m", "--memory-swap", "-1", "--memory-reservation", "128m", "--shm-size", "1g");
    expect([h.Memory, h.MemorySwap, h.MemoryReservation, h.ShmSize]).toEqual([256 * 1024 ** 2, -1, 128 * 1024 ** 2, 1024 ** 3]);
    expect(hc("--memory-swap", "1g").MemorySwap).toBe(1024 ** 3);
    expect(refused("-m", "lots")).toBe(`invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'`);
    expect(refused("--memory-swap", "1x")).toContain('"--memory-swap"');
    expect(refused("--shm-size", "-1")).toContain('"--shm-size"');
  });
  test("cpus, shares, cpuset, pids, ulimits", () => {
    const h = hc("--cpus", "1.5", "-c", "512", "--cpuset-cpus", "0-1,3", "--pids-limit", "100", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=64");
    expect([h.NanoCpus, h.CpuShares, h.CpusetCpus, h.PidsLimit]).toEqual([1.5e9, 512, "0-1,3", 100]);
    expect(h.Ulimits).toEqual([{ Name: "nofile", Soft: 1024, Hard: 2048 }, { Name: "nproc", Soft: 64, Hard: 64 }]);
    expect(hc("--pids-limit", "-1").PidsLimit).toBe(-1);
    expect(refused("--cpus", "two")).toContain('"--cpus"');
    expect(refused("--cpu-shares", "1.5")).toContain('"-c, --cpu-shares"');
    expect(refused("--cpuset-cpus", "0-")).toContain('"--cpuset-cpus"');
    expect(refused("--pids-limit", "many")).toContain('"--pids-limit"');
    expect(refused("--ulimit", "nofile")).toContain('"--ulimit"');
    expect(refused("--ulimit", "bogus=1")).toContain("invalid ulimit type");
    expect(refused("--ulimit", "nofile=10:5")).toContain("soft limit must be less than or equal to hard limit");
  });
});

describe("security", () => {
  test("capabilities, --privileged, --security-opt (a seccomp file is sent as its JSON)", () => {
    const h = hc("--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged", "--security-opt", "no-new-privileges", "--security-opt", "seccomp=/seccomp.json", "--security-opt", "seccomp=unconfined");
    expect(h.CapAdd).toEqual(["NET_ADMIN"]);
    expect(h.CapDrop).toEqual(["ALL"]);
    expect(h.Privileged).toBe(true);
    expect(h.SecurityOpt).toEqual(["no-new-privileges", 'seccomp={"defaultAction":"SCMP_ACT_ERRNO"}', "seccomp=unconfined"]);
    expect(refused("--security-opt", "seccomp=/nope.json")).toContain('"--security-opt"');
    expect(refused("--security-opt", "garbage")).toContain('"--security-opt"');
  });
  test("--device and --sysctl", () => {
    expect(hc("--device", "/dev/fuse", "--device", "/dev/sda:/dev/xvda:r", "--device", "/dev/null:rw").Devices).toEqual([
      { PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm" },
      { PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "r" },
      { PathOnHost: "/dev/null", PathInContainer: "/dev/null", CgroupPermissions: "rw" },
    ]);
    expect(refused("--device", "dev/fuse")).toContain('"--device"');
    expect(refused("--device", "/dev/a:/dev/b:xyz")).toContain("bad mode");
    expect(hc("--sysctl", "net.ipv4.ip_forward=1").Sysctls).toEqual({ "net.ipv4.ip_forward": "1" });
    expect(refused("--sysctl", "net.ipv4.ip_forward")).toContain('"--sysctl"');
  });
});

describe("network", () => {
  test("--network/--net, -p, -P, --expose", () => {
    expect(hc("--net", "host").NetworkMode).toBe("host");
    const b = body("--network", "mynet", "-p", "127.0.0.1:8080:80", "-p", "53:53/udp", "-p", "9000-9001:7000-7001", "-p", "443", "-P", "--expose", "5000-5001");
    expect(b.HostConfig!.NetworkMode).toBe("mynet");
    expect(b.HostConfig!.PortBindings).toEqual({
      "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }],
      "53/udp": [{ HostIp: "", HostPort: "53" }],
      "7000/tcp": [{ HostIp: "", HostPort: "9000" }],
      "7001/tcp": [{ HostIp: "", HostPort: "9001" }],
      "443/tcp": [{ HostIp: "", HostPort: "" }],
    });
    expect(Object.keys(b.ExposedPorts!).sort()).toEqual(["443/tcp", "5000/tcp", "5001/tcp", "53/udp", "7000/tcp", "7001/tcp", "80/tcp"]);
    expect(b.HostConfig!.PublishAllPorts).toBe(true);
    expect(hc("-p", "[::1]:8080:80").PortBindings).toEqual({ "80/tcp": [{ HostIp: "::1", HostPort: "8080" }] });
    expect(hc("-p", "8000-8010:80").PortBindings).toEqual({ "80/tcp": [{ HostIp: "", HostPort: "8000-8010" }] });
    expect(refused("-p", "80/icmp")).toContain('"-p, --publish"');
    expect(refused("-p", "99999:80")).toContain('"-p, --publish"');
    expect(refused("-p", "1.2.3:80:80")).toContain("invalid IP address");
    expect(refused("-p", "9000-9002:7000-7001")).toContain("invalid ranges");
    expect(refused("-p", "8080:")).toContain('"-p, --publish"');
  });
  test("--dns, --dns-search, --dns-option, --add-host", () => {
    const h = hc("--dns", "1.1.1.1", "--dns-search", "example.com", "--dns-option", "ndots:2", "--add-host", "db:10.0.0.2", "--add-host", "gw=host-gateway", "--add-host", "v6:[::1]");
    expect([h.Dns, h.DnsSearch, h.DnsOptions, h.ExtraHosts]).toEqual([["1.1.1.1"], ["example.com"], ["ndots:2"], ["db:10.0.0.2", "gw:host-gateway", "v6:::1"]]);
    expect(refused("--dns", "one.one")).toContain('"--dns"');
    expect(refused("--add-host", "nohost")).toContain('"--add-host"');
    expect(refused("--add-host", "db:notanip")).toContain('"--add-host"');
  });
  test("--ip and --network-alias go to the network's endpoint", () => {
    expect(body("--network", "mynet", "--ip", "172.30.0.5", "--network-alias", "api").NetworkingConfig).toEqual({ EndpointsConfig: { mynet: { IPAMConfig: { IPv4Address: "172.30.0.5" }, Aliases: ["api"] } } });
    expect(refused("--network", "mynet", "--ip", "300.1.1.1")).toContain('"--ip"');
    expect(refused("--ip", "172.30.0.5")).toContain("user-defined networks");
  });
  test("--log-opt and --log-driver", () => {
    expect(hc("--log-opt", "max-size=10m", "--log-opt", "max-file=3").LogConfig).toEqual({ Type: "", Config: { "max-size": "10m", "max-file": "3" } });
    expect(hc("--log-driver", "json-file").LogConfig).toEqual({ Type: "json-file", Config: {} });
    expect(refused("--log-opt", "max-size")).toContain('"--log-opt"');
  });
  test("namespace modes", () => {
    const h = hc("--ipc", "host", "--pid", "host", "--uts", "host", "--userns", "host", "--cgroupns", "private");
    expect([h.IpcMode, h.PidMode, h.UTSMode, h.UsernsMode, h.CgroupnsMode]).toEqual(["host", "host", "host", "host", "private"]);
    expect(refused("--pid", "sideways")).toContain('"--pid"');
  });
});

describe("durations", () => {
  test("Go's syntax", () => {
    expect(parseDuration("--x", "1h2m3s")).toBe(3723e9);
    expect(parseDuration("--x", "1.5s")).toBe(1.5e9);
    expect(parseDuration("--x", "250us")).toBe(250e3);
    expect(parseDuration("--x", "0")).toBe(0);
    expect(() => parseDuration("--x", "5")).toThrow("missing unit");
    expect(() => parseDuration("--x", "5d")).toThrow('"--x"');
  });
});

test("nothing is sent for flags not given (the daemon's and the image's defaults hold)", () => {
  const b = body();
  expect(b).toEqual({ Image: "img", HostConfig: {}, AttachStdin: false, AttachStdout: true, AttachStderr: true, OpenStdin: false, StdinOnce: false, Tty: false });
});
