/**
 * berth run / create flags -> the Docker create body, with docker's
 * meanings (docker/cli's container options): sizes in binary units, Go
 * durations for the health check, `-p [ip:][host:]container[/proto]` with
 * ranges, `-v src:dst[:mode]`, `--mount` CSV, `--restart name[:max]` ...
 * Every bad value is a UsageError naming its flag; nothing reaches the daemon.
 */
import { DEFAULT_DETACH_KEYS } from "./detach-keys.ts";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { CreateBody, DeviceMapping, HealthConfig, HostConfig, MountRequest, PortBindingRequest, RestartPolicy, Ulimit } from "../../engine/containers/model.ts";
import { UsageError, parseFlags, type FlagSpec, type FlagValues, type Parsed, type VerbSpec } from "./flags.ts";

const b = (help: string, short?: string): FlagSpec => ({ type: "bool", help, short });
const s = (help: string, short?: string, arg?: string): FlagSpec => ({ type: "string", help, short, arg });
const l = (help: string, short?: string, arg?: string): FlagSpec => ({ type: "list", help, short, arg });

/** The flags run and create share (run adds -d, --rm is shared, --sig-proxy is run's). */
export const CREATE_FLAGS: Record<string, FlagSpec> = {
  "add-host": l("Add a custom host-to-IP mapping (host:ip)"),
  attach: l("Attach to STDIN, STDOUT or STDERR", "a"),
  "blkio-weight": s("Block IO weight (10-1000)", undefined, "uint16"),
  "cap-add": l("Add Linux capabilities"),
  "cap-drop": l("Drop Linux capabilities"),
  cgroupns: s("Cgroup namespace to use (host|private)"),
  cidfile: s("Write the container ID to the file"),
  "cpu-period": s("Limit CPU CFS period", undefined, "int"),
  "cpu-quota": s("Limit CPU CFS quota", undefined, "int"),
  "cpu-shares": s("CPU shares (relative weight)", "c", "int"),
  cpus: s("Number of CPUs", undefined, "decimal"),
  "cpuset-cpus": s("CPUs in which to allow execution (0-3, 0,1)"),
  "cpuset-mems": s("MEMs in which to allow execution (0-3, 0,1)"),
  device: l("Add a host device to the container"),
  "device-cgroup-rule": l("Add a rule to the cgroup allowed devices list"),
  dns: l("Set custom DNS servers"),
  "dns-option": l("Set DNS options", undefined, "list"),
  "dns-search": l("Set custom DNS search domains"),
  domainname: s("Container NIS domain name"),
  entrypoint: s("Overwrite the default ENTRYPOINT of the image"),
  env: l("Set environment variables", "e"),
  "env-file": l("Read in a file of environment variables"),
  expose: l("Expose a port or a range of ports"),
  "group-add": l("Add additional groups to join"),
  "health-cmd": s("Command to run to check health"),
  "health-interval": s("Time between running the check (ms|s|m|h)", undefined, "duration"),
  "health-retries": s("Consecutive failures needed to report unhealthy", undefined, "int"),
  "health-start-interval": s("Time between running the check during the start period (ms|s|m|h)", undefined, "duration"),
  "health-start-period": s("Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)", undefined, "duration"),
  "health-timeout": s("Maximum time to allow one check to run (ms|s|m|h)", undefined, "duration"),
  hostname: s("Container host name", "h"),
  init: b("Run an init inside the container that forwards signals and reaps processes"),
  interactive: b("Keep STDIN open even if not attached", "i"),
  ip: s("IPv4 address (e.g., 172.30.100.104)", undefined, "ip"),
  ipc: s("IPC mode to use"),
  label: l("Set meta data on a container", "l"),
  "label-file": l("Read in a line delimited file of labels"),
  "log-driver": s("Logging driver for the container"),
  "log-opt": l("Log driver options"),
  memory: s("Memory limit", "m", "bytes"),
  "memory-reservation": s("Memory soft limit", undefined, "bytes"),
  "memory-swap": s("Swap limit equal to memory plus swap: '-1' to enable unlimited swap", undefined, "bytes"),
  "memory-swappiness": s("Tune container memory swappiness (0 to 100)", undefined, "int"),
  mount: l("Attach a filesystem mount to the container", undefined, "mount"),
  name: s("Assign a name to the container"),
  network: s("Connect a container to a network", undefined, "network"),
  "network-alias": l("Add network-scoped alias for the container"),
  "no-healthcheck": b("Disable any container-specified HEALTHCHECK"),
  "oom-kill-disable": b("Disable OOM Killer"),
  "oom-score-adj": s("Tune host's OOM preferences (-1000 to 1000)", undefined, "int"),
  pid: s("PID namespace to use"),
  "pids-limit": s("Tune container pids limit (set -1 for unlimited)", undefined, "int"),
  platform: s("Set platform if server is multi-platform capable"),
  privileged: b("Give extended privileges to this container"),
  publish: l("Publish a container's port(s) to the host", "p"),
  "publish-all": b("Publish all exposed ports to random ports", "P"),
  pull: s('Pull image before running ("always", "missing", "never")'),
  quiet: b("Suppress the pull output", "q"),
  "read-only": b("Mount the container's root filesystem as read only"),
  restart: s("Restart policy to apply when a container exits"),
  rm: b("Automatically remove the container and its associated anonymous volumes when it exits"),
  "security-opt": l("Security Options"),
  "shm-size": s("Size of /dev/shm", undefined, "bytes"),
  "stop-signal": s("Signal to stop the container"),
  "stop-timeout": s("Timeout (in seconds) to stop a container", undefined, "int"),
  sysctl: l("Sysctl options", undefined, "map"),
  tmpfs: l("Mount a tmpfs directory"),
  tty: b("Allocate a pseudo-TTY", "t"),
  ulimit: l("Ulimit options", undefined, "ulimit"),
  user: s("Username or UID (format: <name|uid>[:<group|gid>])", "u"),
  userns: s("User namespace to use"),
  uts: s("UTS namespace to use"),
  volume: l("Bind mount a volume", "v"),
  "volumes-from": l("Mount volumes from the specified container(s)"),
  workdir: s("Working directory inside the container", "w"),
};
CREATE_FLAGS.network!.alias = ["net"];

export const RUN_SPEC: VerbSpec = {
  name: "run",
  usage: "[OPTIONS] IMAGE [COMMAND] [ARG...]",
  summary: "Create and run a new container from an image",
  flags: {
    ...CREATE_FLAGS,
    detach: b("Run container in background and print container ID", "d"),
    "detach-keys": s("Override the key sequence for detaching a container (default ctrl-p,ctrl-q)"),
    "sig-proxy": b("Proxy received signals to the process (default true)"),
  },
  min: 1,
  max: Infinity,
  stopAtPositional: true,
};

export const CREATE_SPEC: VerbSpec = {
  name: "create",
  usage: "[OPTIONS] IMAGE [COMMAND] [ARG...]",
  summary: "Create a new container",
  flags: CREATE_FLAGS,
  min: 1,
  max: Infinity,
  stopAtPositional: true,
};

export type PullPolicy = "missing" | "always" | "never";

export interface RunOptions {
  body: CreateBody;
  name?: string;
  platform?: string;
  pull: PullPolicy;
  quiet: boolean;
  detach: boolean;
  /** the detach sequence (run with a tty) */
  detachKeys: string;
  sigProxy: boolean;
  cidfile?: string;
}

export interface FlagEnv {
  env: Record<string, string | undefined>;
  readFile: (path: string) => string;
  /** the local terminal's size, for -t ([rows, cols]) */
  consoleSize?: [number, number];
}

const defaultEnv: FlagEnv = { env: process.env, readFile: (p) => readFileSync(p, "utf8") };

function bad(flag: string, value: string, why: string): UsageError {
  return new UsageError(`invalid argument "${value}" for "${flag}" flag: ${why}`);
}

// ---------------------------------------------------------------- value parsers

/** go-units RAMInBytes: "512m", "1g", "1.5GiB", "1024" (binary multiples). */
export function parseBytes(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(v);
  if (!m) throw bad(flag, v, `invalid size: '${v}'`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[(m[2] ?? "").toLowerCase() as "k"]!;
  return Math.trunc(Number(m[1]) * mult);
}

function parseInt10(flag: string, v: string): number {
  if (!/^[+-]?\d+$/.test(v)) throw bad(flag, v, `strconv.ParseInt: parsing "${v}": invalid syntax`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw bad(flag, v, `strconv.ParseInt: parsing "${v}": value out of range`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, "μs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds ("1m30s", "500ms", "1.5h", "0"). */
export function parseDuration(flag: string, v: string): number {
  let rest = v;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (!rest) throw bad(flag, v, `time: invalid duration "${v}"`);
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest) {
    const m = re.exec(rest);
    if (!m) throw bad(flag, v, /^[\d.]+$/.test(rest) ? `time: missing unit in duration "${v}"` : `time: invalid duration "${v}"`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * Math.round(total);
}

/** KEY=VALUE, or KEY taken from the local environment (kept bare when unset, as docker does). */
function envEntry(flag: string, v: string, env: Record<string, string | undefined>): string {
  const eq = v.indexOf("=");
  const key = eq < 0 ? v : v.slice(0, eq);
  if (key === "") throw bad(flag, v, "invalid environment variable: " + v);
  if (eq >= 0) return v;
  const local = env[key];
  return local === undefined ? key : `${key}=${local}`;
}

/** docker's env/label files: KEY=VALUE lines, # comments, blank lines; a bare KEY from the environment. */
function keyValueFile(flag: string, path: string, fx: FlagEnv, fromEnv: boolean): string[] {
  let text: string;
  try {
    text = fx.readFile(path);
  } catch (e) {
    throw new UsageError(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s+/, "");
    if (!line || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === "") throw new UsageError(`${flag} ${path}: line ${i + 1}: no variable name`);
    if (/\s/.test(key)) throw new UsageError(`${flag} ${path}: variable '${key}' contains whitespaces`);
    if (eq >= 0) out.push(line);
    else if (fromEnv && fx.env[key] !== undefined) out.push(`${key}=${fx.env[key]}`);
    else out.push(key);
  });
  return out;
}

function keyValue(flag: string, v: string, requireValue: boolean): [string, string] {
  const eq = v.indexOf("=");
  if (eq === 0 || (eq < 0 && requireValue)) throw bad(flag, v, `invalid key=value: "${v}"`);
  return eq < 0 ? [v, ""] : [v.slice(0, eq), v.slice(eq + 1)];
}

export function parseRestart(flag: string, v: string): RestartPolicy {
  if (v === "") return { Name: "" };
  const [name, max, extra] = v.split(":");
  if (extra !== undefined) throw bad(flag, v, `invalid restart policy format: maximum retry count must be an integer`);
  if (name !== "no" && name !== "always" && name !== "unless-stopped" && name !== "on-failure") throw bad(flag, v, `invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  if (max === undefined) return { Name: name };
  if (name !== "on-failure") throw bad(flag, v, `invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  if (!/^\d+$/.test(max)) throw bad(flag, v, `invalid restart policy format: maximum retry count must be an integer`);
  return { Name: name, MaximumRetryCount: Number(max) };
}

export function parseUlimit(flag: string, v: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  if (!m) throw bad(flag, v, `invalid ulimit argument: ${v}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  const names = ["core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"];
  if (!names.includes(m[1]!)) throw bad(flag, v, `invalid ulimit type: ${m[1]}`);
  if (soft > hard && hard !== -1) throw bad(flag, v, `ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

export function parseDevice(flag: string, v: string): DeviceMapping {
  const parts = v.split(":");
  const perm = (p: string) => /^[rwm]{1,3}$/.test(p);
  let host = parts[0]!;
  let inCt = host;
  let perms = "rwm";
  if (parts.length === 2) {
    if (perm(parts[1]!)) perms = parts[1]!;
    else inCt = parts[1]!;
  } else if (parts.length === 3) {
    inCt = parts[1]!;
    if (!perm(parts[2]!)) throw bad(flag, v, `bad mode specified: ${parts[2]}`);
    perms = parts[2]!;
  } else if (parts.length > 3) throw bad(flag, v, `bad format for path: ${v}`);
  if (!host.startsWith("/")) throw bad(flag, v, `${host} is not an absolute path`);
  if (!inCt.startsWith("/")) throw bad(flag, v, `bad format for path: ${v}`);
  return { PathOnHost: host, PathInContainer: inCt, CgroupPermissions: perms };
}

/** "host:ip" (or docker's newer "host=ip"); ip may be host-gateway. */
function parseExtraHost(flag: string, v: string): string {
  const m = /^([^:=\s]+)[:=](.+)$/.exec(v);
  if (!m) throw bad(flag, v, `bad format for add-host: "${v}"`);
  let ip = m[2]!;
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  if (ip !== "host-gateway" && !isIP(ip)) throw bad(flag, v, `invalid IP address in add-host: "${m[2]}"`);
  return `${m[1]}:${ip}`;
}

function portRange(flag: string, whole: string, r: string, allowEmpty: boolean): [number, number] | undefined {
  if (r === "") {
    if (allowEmpty) return undefined;
    throw bad(flag, whole, `no port specified: ${whole}<empty>`);
  }
  const m = /^(\d+)(?:-(\d+))?$/.exec(r);
  if (!m) throw bad(flag, whole, `invalid containerPort: ${r}`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if ((lo < 1 && !allowEmpty) || lo > 65535 || hi > 65535 || hi < lo) throw bad(flag, whole, `invalid port range: ${r}`);
  return [lo, hi];
}

/** -p [ip:][hostPort:]containerPort[/proto], ranges allowed on both sides of the same length. */
export function parsePublish(flag: string, v: string, exposed: Record<string, object>, bindings: Record<string, PortBindingRequest[]>) {
  let spec = v;
  let proto = "tcp";
  const slash = spec.lastIndexOf("/");
  if (slash >= 0) {
    proto = spec.slice(slash + 1).toLowerCase();
    spec = spec.slice(0, slash);
    if (!["tcp", "udp", "sctp"].includes(proto)) throw bad(flag, v, `invalid proto: ${proto}`);
  }
  let ip = "";
  let host = "";
  let ctr: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(spec);
  if (v6) {
    ip = v6[1]!;
    const rest = v6[2]!.split(":");
    if (rest.length !== 2) throw bad(flag, v, `invalid port format: ${v}`);
    [host, ctr] = rest as [string, string];
  } else {
    const parts = spec.split(":");
    if (parts.length === 1) ctr = parts[0]!;
    else if (parts.length === 2) [host, ctr] = parts as [string, string];
    else if (parts.length === 3) [ip, host, ctr] = parts as [string, string, string];
    else throw bad(flag, v, `invalid port format: ${v}`);
  }
  if (ip && !isIP(ip)) throw bad(flag, v, `invalid IP address: ${ip}`);
  const c = portRange(flag, v, ctr, false)!;
  const h = portRange(flag, v, host, true);
  const n = c[1] - c[0] + 1;
  // a host range for one container port is passed on (the daemon picks a free one); ranges on both sides pair up
  if (h && n > 1 && h[1] - h[0] + 1 !== n) throw bad(flag, v, `invalid ranges specified for container and host Ports: ${ctr} and ${host}`);
  for (let i = 0; i < n; i++) {
    const key = `${c[0] + i}/${proto}`;
    exposed[key] = {};
    const hostPort = !h ? "" : n === 1 ? host : String(h[0] + i);
    (bindings[key] ??= []).push({ HostIp: ip, HostPort: hostPort });
  }
}

function parseExpose(flag: string, v: string, exposed: Record<string, object>) {
  const [range, proto = "tcp"] = v.split("/");
  const r = portRange(flag, v, range!, false)!;
  for (let p = r[0]; p <= r[1]; p++) exposed[`${p}/${proto.toLowerCase()}`] = {};
}

/** -v src:dst[:mode] (a bind or named volume), or dst alone (an anonymous volume). */
function parseVolume(flag: string, v: string, binds: string[], volumes: Record<string, object>) {
  const parts = v.split(":");
  if (parts.some((p) => p === "") || parts.length > 3) throw bad(flag, v, `invalid volume specification: '${v}'`);
  if (parts.length === 1) {
    if (!parts[0]!.startsWith("/")) throw bad(flag, v, `invalid volume specification: '${v}': the destination must be an absolute path`);
    volumes[parts[0]!] = {};
    return;
  }
  const [src, dst, mode] = parts as [string, string, string | undefined];
  if (!dst.startsWith("/")) throw bad(flag, v, `invalid volume specification: '${v}': the destination must be an absolute path`);
  if (!src.startsWith("/") && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(src)) throw bad(flag, v, `invalid volume specification: '${v}': "${src}" is neither an absolute path nor a volume name`);
  if (mode !== undefined) {
    const ok = ["ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "shared", "rshared", "slave", "rslave", "consistent", "cached", "delegated"];
    for (const m of mode.split(",")) if (!ok.includes(m)) throw bad(flag, v, `invalid mode: ${m}`);
  }
  binds.push(v);
}

function boolOpt(flag: string, whole: string, key: string, val: string | undefined): boolean {
  if (val === undefined) return true;
  if (/^(1|true)$/i.test(val)) return true;
  if (/^(0|false)$/i.test(val)) return false;
  throw bad(flag, whole, `invalid value for ${key}: ${val}`);
}

/** --mount type=bind|volume|tmpfs,source=...,target=...,readonly,... (docker's CSV). */
export function parseMount(flag: string, v: string): MountRequest {
  const m: MountRequest = { Type: "volume", Target: "" };
  const fields = v.split(",");
  const kv: [string, string | undefined][] = fields.map((f) => {
    const eq = f.indexOf("=");
    return eq < 0 ? [f.toLowerCase(), undefined] : [f.slice(0, eq).toLowerCase(), f.slice(eq + 1)];
  });
  const type = kv.find(([k]) => k === "type")?.[1];
  if (type !== undefined) {
    if (type !== "bind" && type !== "volume" && type !== "tmpfs") throw bad(flag, v, `invalid mount type: ${type}`);
    m.Type = type;
  }
  const bindOpts = () => (m.BindOptions ??= {});
  const volOpts = () => (m.VolumeOptions ??= {});
  const tmpOpts = () => (m.TmpfsOptions ??= {});
  for (const [k, val] of kv) {
    const need = () => {
      if (val === undefined) throw bad(flag, v, `invalid field '${k}' must be a key=value pair`);
      return val;
    };
    switch (k) {
      case "type":
        break;
      case "source":
      case "src":
        m.Source = need();
        break;
      case "target":
      case "dst":
      case "destination":
        m.Target = need();
        break;
      case "readonly":
      case "ro":
        m.ReadOnly = boolOpt(flag, v, k, val);
        break;
      case "consistency":
        m.Consistency = need();
        break;
      case "bind-propagation":
        bindOpts().Propagation = need();
        break;
      case "bind-nonrecursive":
        bindOpts().NonRecursive = boolOpt(flag, v, k, val);
        break;
      case "bind-create-mountpoint":
        bindOpts().CreateMountpoint = boolOpt(flag, v, k, val);
        break;
      case "volume-nocopy":
        volOpts().NoCopy = boolOpt(flag, v, k, val);
        break;
      case "volume-subpath":
        volOpts().Subpath = need();
        break;
      case "volume-driver":
        (volOpts().DriverConfig ??= {}).Name = need();
        break;
      case "volume-label": {
        const [lk, lv] = keyValue(flag, need(), false);
        (volOpts().Labels ??= {})[lk] = lv;
        break;
      }
      case "volume-opt": {
        const [ok, ov] = keyValue(flag, need(), true);
        ((volOpts().DriverConfig ??= {}).Options ??= {})[ok] = ov;
        break;
      }
      case "tmpfs-size":
        tmpOpts().SizeBytes = parseBytes(flag, need());
        break;
      case "tmpfs-mode": {
        const mode = need();
        if (!/^[0-7]{1,4}$/.test(mode)) throw bad(flag, v, `invalid value for tmpfs-mode: ${mode}`);
        tmpOpts().Mode = parseInt(mode, 8);
        break;
      }
      default:
        throw bad(flag, v, `unexpected key '${k}' in '${v}'`);
    }
  }
  if (!m.Target) throw bad(flag, v, "target is required");
  if (m.Type === "bind" && !m.Source) throw bad(flag, v, "source is required when specifying bind mounts");
  if (m.Type === "tmpfs" && m.Source) throw bad(flag, v, "source is not allowed for tmpfs mounts");
  if (m.BindOptions && m.Type !== "bind") throw bad(flag, v, `cannot mix 'bind-*' options with mount type '${m.Type}'`);
  if (m.VolumeOptions && m.Type !== "volume") throw bad(flag, v, `cannot mix 'volume-*' options with mount type '${m.Type}'`);
  if (m.TmpfsOptions && m.Type !== "tmpfs") throw bad(flag, v, `cannot mix 'tmpfs-*' options with mount type '${m.Type}'`);
  return m;
}

/** --security-opt: docker's CLI sends a seccomp profile file's content, not its path. */
function securityOpt(flag: string, v: string, fx: FlagEnv): string {
  const eq = v.indexOf("=");
  const key = eq < 0 ? v : v.slice(0, eq);
  if (eq < 0 && key !== "no-new-privileges") {
    const colon = v.indexOf(":");
    if (colon < 0) throw bad(flag, v, `Invalid --security-opt: "${v}"`);
    return v;
  }
  if (key === "seccomp") {
    const path = v.slice(eq + 1);
    if (path === "unconfined" || path === "builtin") return v;
    let text: string;
    try {
      text = fx.readFile(path);
    } catch {
      throw bad(flag, v, `opening seccomp profile (${path}) failed`);
    }
    try {
      return `seccomp=${JSON.stringify(JSON.parse(text))}`;
    } catch {
      throw bad(flag, v, `compacting json for seccomp profile (${path}) failed`);
    }
  }
  return v;
}

// ---------------------------------------------------------------- the body

const STREAMS = ["stdin", "stdout", "stderr"];

/** Flag values -> create body and what the client does around it. */
export function runOptions(p: Parsed, run: boolean, fx: FlagEnv = defaultEnv): RunOptions {
  const v: FlagValues = p.values;
  const str = (k: string) => v[k] as string | undefined;
  const list = (k: string) => (v[k] as string[] | undefined) ?? [];
  const on = (k: string) => v[k] === true;
  const F = (k: string) => (CREATE_FLAGS[k]?.short ? `-${CREATE_FLAGS[k]!.short}, --${k}` : `--${k}`);
  const [image, ...cmd] = p.positionals as [string, ...string[]];

  const detach = run && on("detach");
  const attach = list("attach").map((a) => {
    if (!STREAMS.includes(a.toLowerCase())) throw bad(F("attach"), a, "valid streams are STDIN, STDOUT and STDERR");
    return a.toLowerCase();
  });
  if (detach && attach.length) throw new UsageError("Conflicting options: -a and -d");
  if (run && on("rm") && str("restart") && !/^no?$/.test(str("restart")!)) throw new UsageError("Conflicting options: --restart and --rm");
  const healthGiven = ["health-cmd", "health-interval", "health-timeout", "health-retries", "health-start-period", "health-start-interval"].filter((k) => p.given.has(k));
  if (on("no-healthcheck") && healthGiven.length) throw new UsageError("--no-healthcheck conflicts with --health-* options");

  const pull = (str("pull") ?? "missing") as PullPolicy;
  if (!["missing", "always", "never"].includes(pull)) throw bad("--pull", pull, 'must be one of "always", "missing", "never"');

  const body: CreateBody = { Image: image };
  const hc: HostConfig = {};
  body.HostConfig = hc;

  // streams
  const interactive = on("interactive");
  let attachStdin = attach.includes("stdin") || interactive;
  let attachStdout = attach.length ? attach.includes("stdout") : true;
  let attachStderr = attach.length ? attach.includes("stderr") : true;
  if (detach) attachStdin = attachStdout = attachStderr = false;
  body.AttachStdin = attachStdin;
  body.AttachStdout = attachStdout;
  body.AttachStderr = attachStderr;
  body.OpenStdin = interactive;
  body.StdinOnce = run && attachStdin && !detach;
  body.Tty = on("tty");
  if (body.Tty && fx.consoleSize) hc.ConsoleSize = fx.consoleSize;
  if (cmd.length) body.Cmd = cmd;
  if (p.given.has("entrypoint")) body.Entrypoint = str("entrypoint") ? [str("entrypoint")!] : [""];

  // identity and environment
  if (str("hostname") !== undefined) {
    const h = str("hostname")!;
    if (h.length > 63 || !/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(h)) throw bad(F("hostname"), h, "invalid hostname");
    body.Hostname = h;
  }
  if (str("domainname") !== undefined) body.Domainname = str("domainname");
  if (str("user") !== undefined) body.User = str("user");
  if (str("workdir") !== undefined) {
    const w = str("workdir")!;
    if (w !== "" && !w.startsWith("/")) throw bad(F("workdir"), w, "the working directory must be an absolute path");
    body.WorkingDir = w;
  }
  const env = [...list("env-file").flatMap((f) => keyValueFile("--env-file", f, fx, true)), ...list("env").map((e) => envEntry(F("env"), e, fx.env))];
  if (env.length) body.Env = env;
  const labels: Record<string, string> = {};
  for (const f of list("label-file")) for (const line of keyValueFile("--label-file", f, fx, false)) Object.assign(labels, Object.fromEntries([keyValue("--label-file", line, false)]));
  for (const x of list("label")) {
    const [k, val] = keyValue(F("label"), x, false);
    labels[k] = val;
  }
  if (Object.keys(labels).length) body.Labels = labels;
  if (str("stop-signal") !== undefined) {
    const sig = str("stop-signal")!;
    if (!/^(SIG)?[A-Z0-9+-]+$/i.test(sig)) throw bad("--stop-signal", sig, `invalid signal: ${sig}`);
    body.StopSignal = sig;
  }
  if (str("stop-timeout") !== undefined) body.StopTimeout = parseInt10("--stop-timeout", str("stop-timeout")!);

  // health
  if (on("no-healthcheck")) body.Healthcheck = { Test: ["NONE"] };
  else if (healthGiven.length) {
    const h: HealthConfig = {};
    if (str("health-cmd")) h.Test = ["CMD-SHELL", str("health-cmd")!];
    for (const [flag, field] of [
      ["health-interval", "Interval"],
      ["health-timeout", "Timeout"],
      ["health-start-period", "StartPeriod"],
      ["health-start-interval", "StartInterval"],
    ] as const) {
      if (str(flag) === undefined) continue;
      const ns = parseDuration(`--${flag}`, str(flag)!);
      if (ns < 0) throw new UsageError(`--${flag} cannot be negative`);
      h[field] = ns;
    }
    if (str("health-retries") !== undefined) {
      const n = parseInt10("--health-retries", str("health-retries")!);
      if (n < 0) throw new UsageError("--health-retries cannot be negative");
      h.Retries = n;
    }
    body.Healthcheck = h;
  }

  // storage
  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const x of list("volume")) parseVolume(F("volume"), x, binds, volumes);
  if (binds.length) hc.Binds = binds;
  if (Object.keys(volumes).length) body.Volumes = volumes;
  const mounts = list("mount").map((x) => parseMount("--mount", x));
  if (mounts.length) hc.Mounts = mounts;
  const tmpfs: Record<string, string> = {};
  for (const x of list("tmpfs")) {
    const colon = x.indexOf(":");
    const path = colon < 0 ? x : x.slice(0, colon);
    if (!path.startsWith("/")) throw bad("--tmpfs", x, `invalid mount path: '${path}' mount path must be absolute`);
    tmpfs[path] = colon < 0 ? "" : x.slice(colon + 1);
  }
  if (Object.keys(tmpfs).length) hc.Tmpfs = tmpfs;
  if (on("read-only")) hc.ReadonlyRootfs = true;
  if (list("volumes-from").length) hc.VolumesFrom = list("volumes-from");

  // resources
  if (str("memory") !== undefined) hc.Memory = parseBytes(F("memory"), str("memory")!);
  if (str("memory-reservation") !== undefined) hc.MemoryReservation = parseBytes("--memory-reservation", str("memory-reservation")!);
  if (str("memory-swap") !== undefined) hc.MemorySwap = str("memory-swap") === "-1" ? -1 : parseBytes("--memory-swap", str("memory-swap")!);
  if (str("memory-swappiness") !== undefined) {
    const n = parseInt10("--memory-swappiness", str("memory-swappiness")!);
    if (n < -1 || n > 100) throw bad("--memory-swappiness", String(n), "valid memory swappiness range is 0-100");
    hc.MemorySwappiness = n;
  }
  if (on("oom-kill-disable")) hc.OomKillDisable = true;
  if (str("cpus") !== undefined) {
    const c = str("cpus")!;
    if (!/^\d+(\.\d+)?$|^\.\d+$/.test(c)) throw bad("--cpus", c, `failed to parse ${c} as a rational number`);
    hc.NanoCpus = Math.round(Number(c) * 1e9);
  }
  if (str("cpu-shares") !== undefined) hc.CpuShares = parseInt10(F("cpu-shares"), str("cpu-shares")!);
  if (str("cpu-period") !== undefined) hc.CpuPeriod = parseInt10("--cpu-period", str("cpu-period")!);
  if (str("cpu-quota") !== undefined) hc.CpuQuota = parseInt10("--cpu-quota", str("cpu-quota")!);
  for (const [flag, field] of [["cpuset-cpus", "CpusetCpus"], ["cpuset-mems", "CpusetMems"]] as const) {
    const x = str(flag);
    if (x === undefined) continue;
    if (!/^(\d+(-\d+)?)(,\d+(-\d+)?)*$/.test(x)) throw bad(`--${flag}`, x, `invalid cpuset: ${x}`);
    hc[field] = x;
  }
  if (str("blkio-weight") !== undefined) {
    const n = parseInt10("--blkio-weight", str("blkio-weight")!);
    if (n !== 0 && (n < 10 || n > 1000)) throw bad("--blkio-weight", String(n), "range of blkio weight is from 10 to 1000");
    hc.BlkioWeight = n;
  }
  if (str("pids-limit") !== undefined) hc.PidsLimit = parseInt10("--pids-limit", str("pids-limit")!);
  if (list("ulimit").length) hc.Ulimits = list("ulimit").map((x) => parseUlimit("--ulimit", x));
  if (str("shm-size") !== undefined) hc.ShmSize = parseBytes("--shm-size", str("shm-size")!);
  if (str("oom-score-adj") !== undefined) {
    const n = parseInt10("--oom-score-adj", str("oom-score-adj")!);
    if (n < -1000 || n > 1000) throw bad("--oom-score-adj", String(n), "oom-score-adj must be in the range -1000 to 1000");
    hc.OomScoreAdj = n;
  }

  // security
  if (list("cap-add").length) hc.CapAdd = list("cap-add");
  if (list("cap-drop").length) hc.CapDrop = list("cap-drop");
  if (on("privileged")) hc.Privileged = true;
  if (list("security-opt").length) hc.SecurityOpt = list("security-opt").map((x) => securityOpt("--security-opt", x, fx));
  if (list("device").length) hc.Devices = list("device").map((x) => parseDevice("--device", x));
  if (list("device-cgroup-rule").length) {
    for (const r of list("device-cgroup-rule")) if (!/^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.test(r)) throw bad("--device-cgroup-rule", r, `invalid device cgroup format '${r}'`);
    hc.DeviceCgroupRules = list("device-cgroup-rule");
  }
  if (list("sysctl").length) {
    const sc: Record<string, string> = {};
    for (const x of list("sysctl")) {
      const [k, val] = keyValue("--sysctl", x, true);
      sc[k] = val;
    }
    hc.Sysctls = sc;
  }
  if (list("group-add").length) hc.GroupAdd = list("group-add");
  for (const [flag, field, ok] of [
    ["ipc", "IpcMode", /^(|none|private|shareable|host|container:.+)$/],
    ["pid", "PidMode", /^(|host|container:.+)$/],
    ["uts", "UTSMode", /^(|host)$/],
    ["userns", "UsernsMode", /^(|host)$/],
    ["cgroupns", "CgroupnsMode", /^(|host|private)$/],
  ] as const) {
    const x = str(flag);
    if (x === undefined) continue;
    if (!ok.test(x)) throw bad(`--${flag}`, x, `invalid ${flag} mode: ${x}`);
    hc[field] = x;
  }

  // lifecycle
  if (str("restart") !== undefined) hc.RestartPolicy = parseRestart("--restart", str("restart")!);
  if (on("rm")) hc.AutoRemove = true;
  if (p.given.has("init")) hc.Init = on("init");
  if (str("log-driver") !== undefined || list("log-opt").length) {
    const cfg: Record<string, string> = {};
    for (const x of list("log-opt")) {
      const [k, val] = keyValue("--log-opt", x, true);
      cfg[k] = val;
    }
    hc.LogConfig = { Type: str("log-driver") ?? "", Config: cfg };
  }

  // network
  const network = str("network");
  if (network !== undefined) {
    if (network === "") throw bad("--network", network, "network name must not be empty");
    hc.NetworkMode = network;
  }
  const exposed: Record<string, object> = {};
  const bindings: Record<string, PortBindingRequest[]> = {};
  for (const x of list("expose")) parseExpose("--expose", x, exposed);
  for (const x of list("publish")) parsePublish(F("publish"), x, exposed, bindings);
  if (Object.keys(exposed).length) body.ExposedPorts = exposed;
  if (Object.keys(bindings).length) hc.PortBindings = bindings;
  if (on("publish-all")) hc.PublishAllPorts = true;
  if (list("dns").length) {
    for (const x of list("dns")) if (!isIP(x)) throw bad("--dns", x, `ip address is not correctly formatted: ${x}`);
    hc.Dns = list("dns");
  }
  if (list("dns-search").length) hc.DnsSearch = list("dns-search");
  if (list("dns-option").length) hc.DnsOptions = list("dns-option");
  if (list("add-host").length) hc.ExtraHosts = list("add-host").map((x) => parseExtraHost("--add-host", x));
  const ip = str("ip");
  const aliases = list("network-alias");
  if (ip !== undefined && isIP(ip) !== 4) throw bad("--ip", ip, "invalid IPv4 address");
  if (ip !== undefined || aliases.length) {
    const net = network ?? "default";
    if (["host", "none", "default", "bridge"].includes(net) || net.startsWith("container:"))
      throw new UsageError(`${ip !== undefined ? "--ip" : "--network-alias"}: only for user-defined networks (give --network NAME)`);
    body.NetworkingConfig = { EndpointsConfig: { [net]: { ...(ip !== undefined ? { IPAMConfig: { IPv4Address: ip } } : {}), ...(aliases.length ? { Aliases: aliases } : {}) } } };
  }

  const name = str("name");
  if (name !== undefined && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw bad("--name", name, "invalid container name, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  return {
    body,
    name,
    platform: str("platform"),
    pull,
    quiet: on("quiet"),
    detach,
    detachKeys: str("detach-keys") ?? DEFAULT_DETACH_KEYS,
    sigProxy: v["sig-proxy"] === undefined ? true : on("sig-proxy"),
    cidfile: str("cidfile"),
  };
}

/** argv of run (or create) -> options; throws UsageError. */
export function parseRunArgs(argv: string[], run: boolean, fx: FlagEnv = defaultEnv): RunOptions {
  return runOptions(parseFlags(run ? RUN_SPEC : CREATE_SPEC, argv), run, fx);
}
