/**
 * Checks on a create body before anything is stored: JSON types of the fields
 * berth reads, then dockerd's rules on resources, restart policy, security
 * options, capabilities, ulimits, sysctls, hostname, tmpfs and bind targets.
 * Messages are docker's where docker users would see them. Networking fields
 * (NetworkMode, ports, DNS) are the network engine's to check; Mounts the
 * volume engine's.
 */
import { cpus } from "node:os";
import { invalidArgument } from "../../errors.ts";
import { MIN_MEMORY, IPC_SYSCTLS, ULIMIT_NAMES } from "./docker-defaults.ts";
import type { CreateBody, HostConfig } from "./model.ts";
import { normalizeCapability } from "./spec-capabilities.ts";
import { parseDeviceCgroupRule } from "./spec-devices.ts";
import { dockerProfileToOci } from "./spec-seccomp.ts";
import { parseSecurityOpts } from "./spec-security-opt.ts";

// ---------------------------------------------------------------- JSON shapes

type Shape = "string" | "int" | "bool" | "strings" | "stringMap" | "objectMap" | "object" | "array";

const GO_TYPE: Record<Shape, string> = {
  string: "string",
  int: "int64",
  bool: "bool",
  strings: "[]string",
  stringMap: "map[string]string",
  objectMap: "map[string]struct {}",
  object: "struct",
  array: "[]struct",
};

const CONFIG_SHAPES: Record<string, Shape> = {
  Hostname: "string",
  Domainname: "string",
  User: "string",
  AttachStdin: "bool",
  AttachStdout: "bool",
  AttachStderr: "bool",
  ExposedPorts: "objectMap",
  Tty: "bool",
  OpenStdin: "bool",
  StdinOnce: "bool",
  Env: "strings",
  Cmd: "strings",
  Healthcheck: "object",
  Entrypoint: "strings",
  Image: "string",
  Volumes: "objectMap",
  WorkingDir: "string",
  Labels: "stringMap",
  StopSignal: "string",
  StopTimeout: "int",
  Shell: "strings",
  NetworkDisabled: "bool",
  HostConfig: "object",
  NetworkingConfig: "object",
};

const HOST_SHAPES: Record<string, Shape> = {
  Binds: "strings",
  Mounts: "array",
  Tmpfs: "stringMap",
  VolumesFrom: "strings",
  ReadonlyRootfs: "bool",
  Memory: "int",
  MemorySwap: "int",
  MemoryReservation: "int",
  MemorySwappiness: "int",
  OomKillDisable: "bool",
  NanoCpus: "int",
  CpuShares: "int",
  CpuPeriod: "int",
  CpuQuota: "int",
  CpusetCpus: "string",
  CpusetMems: "string",
  BlkioWeight: "int",
  PidsLimit: "int",
  Ulimits: "array",
  CapAdd: "strings",
  CapDrop: "strings",
  Privileged: "bool",
  SecurityOpt: "strings",
  Devices: "array",
  DeviceCgroupRules: "strings",
  Sysctls: "stringMap",
  GroupAdd: "strings",
  RestartPolicy: "object",
  AutoRemove: "bool",
  Init: "bool",
  ShmSize: "int",
  OomScoreAdj: "int",
  NetworkMode: "string",
  PortBindings: "object",
  PublishAllPorts: "bool",
  Dns: "strings",
  DnsSearch: "strings",
  DnsOptions: "strings",
  ExtraHosts: "strings",
  Links: "strings",
  IpcMode: "string",
  PidMode: "string",
  UTSMode: "string",
  UsernsMode: "string",
  CgroupnsMode: "string",
  LogConfig: "object",
  ConsoleSize: "array",
};

const HEALTH_SHAPES: Record<string, Shape> = {
  Test: "strings",
  Interval: "int",
  Timeout: "int",
  StartPeriod: "int",
  StartInterval: "int",
  Retries: "int",
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (typeof v === "boolean") return "bool";
  return typeof v;
}

function matches(v: unknown, shape: Shape): boolean {
  switch (shape) {
    case "string":
      return typeof v === "string";
    case "int":
      return typeof v === "number" && Number.isSafeInteger(v);
    case "bool":
      return typeof v === "boolean";
    case "strings":
      return Array.isArray(v) && v.every((s) => typeof s === "string");
    case "stringMap":
      return isObject(v) && Object.values(v).every((s) => typeof s === "string");
    case "objectMap":
      return isObject(v) && Object.values(v).every((s) => s === null || isObject(s));
    case "object":
      return isObject(v);
    case "array":
      return Array.isArray(v);
  }
}

function shapeError(field: string, v: unknown, shape: Shape) {
  return invalidArgument(`json: cannot unmarshal ${jsonType(v)} into Go struct field ${field} of type ${GO_TYPE[shape]}`);
}

function checkShapes(obj: Record<string, unknown>, shapes: Record<string, Shape>, prefix: string) {
  for (const [k, shape] of Object.entries(shapes)) {
    const v = obj[k];
    if (v === undefined || v === null) continue;
    if (!matches(v, shape)) throw shapeError(`${prefix}${k}`, v, shape);
  }
}

function checkItems(list: unknown, field: string, shapes: Record<string, Shape>) {
  if (!Array.isArray(list)) return;
  for (const [i, item] of list.entries()) {
    if (!isObject(item)) throw shapeError(`${field}[${i}]`, item, "object");
    checkShapes(item, shapes, `${field}[${i}].`);
  }
}

function checkBodyShapes(body: unknown): asserts body is CreateBody {
  if (!isObject(body)) throw invalidArgument("container config must be a JSON object");
  checkShapes(body, CONFIG_SHAPES, "Config.");
  if (isObject(body.Healthcheck)) checkShapes(body.Healthcheck, HEALTH_SHAPES, "Config.Healthcheck.");
  const hc = body.HostConfig;
  if (!isObject(hc)) return;
  checkShapes(hc, HOST_SHAPES, "HostConfig.");
  if (isObject(hc.RestartPolicy)) checkShapes(hc.RestartPolicy, { Name: "string", MaximumRetryCount: "int" }, "HostConfig.RestartPolicy.");
  checkItems(hc.Ulimits, "HostConfig.Ulimits", { Name: "string", Soft: "int", Hard: "int" });
  checkItems(hc.Devices, "HostConfig.Devices", { PathOnHost: "string", PathInContainer: "string", CgroupPermissions: "string" });
  if (Array.isArray(hc.ConsoleSize) && (hc.ConsoleSize.length !== 2 || !hc.ConsoleSize.every((n) => Number.isSafeInteger(n) && n >= 0))) {
    throw invalidArgument("HostConfig.ConsoleSize must be [height, width], two non-negative integers");
  }
}

// ---------------------------------------------------------------- docker's rules

/** "0-3,7" style list of non-negative integers. */
export function parseCpuList(s: string): number[] | undefined {
  const out: number[] = [];
  for (const part of s.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 65536) return undefined;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

export interface ValidateHost {
  /** online CPUs */
  cpus: number;
}

function checkResources(hc: HostConfig, host: ValidateHost) {
  const mem = hc.Memory ?? 0;
  const swap = hc.MemorySwap ?? 0;
  const resv = hc.MemoryReservation ?? 0;
  if (mem !== 0 && mem < MIN_MEMORY) throw invalidArgument("Minimum memory limit allowed is 6MB");
  if (swap > 0 && mem === 0) throw invalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage");
  if (mem > 0 && swap > 0 && swap < mem) throw invalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage");
  if (swap < -1) throw invalidArgument(`invalid HostConfig.MemorySwap ${swap}: use -1 for unlimited swap`);
  const sw = hc.MemorySwappiness;
  if (sw !== undefined && sw !== null && sw !== -1 && (sw < 0 || sw > 100)) {
    throw invalidArgument(`Invalid value: ${sw}, valid memory swappiness range is 0-100`);
  }
  if (resv !== 0 && resv < MIN_MEMORY) throw invalidArgument("Minimum memory reservation allowed is 6MB");
  if (mem > 0 && resv > 0 && mem < resv) throw invalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage");

  const nano = hc.NanoCpus ?? 0;
  if (nano !== 0 && (hc.CpuPeriod ?? 0) !== 0) throw invalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (nano !== 0 && (hc.CpuQuota ?? 0) !== 0) throw invalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  if (nano < 0 || nano > host.cpus * 1e9) {
    throw invalidArgument(`Range of CPUs is from 0.01 to ${host.cpus}.00, as there are only ${host.cpus} CPUs available`);
  }
  const period = hc.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1_000_000)) {
    throw invalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  }
  const quota = hc.CpuQuota ?? 0;
  if (quota > 0 && quota < 1000) throw invalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if ((hc.CpuShares ?? 0) < 0) throw invalidArgument(`invalid HostConfig.CpuShares ${hc.CpuShares}: must not be negative`);
  for (const [field, value] of [
    ["cpus", hc.CpusetCpus],
    ["mems", hc.CpusetMems],
  ] as const) {
    if (!value) continue;
    const list = parseCpuList(value);
    if (!list) throw invalidArgument(`Invalid value ${value} for cpuset ${field}`);
    if (field === "cpus" && list.some((c) => c >= host.cpus)) {
      throw invalidArgument(`Requested CPUs are not available - requested ${value}, available: 0-${host.cpus - 1}`);
    }
  }
  const w = hc.BlkioWeight ?? 0;
  if (w > 0 && (w < 10 || w > 1000)) throw invalidArgument("Range of blkio weight is from 10 to 1000");
  const oom = hc.OomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000) throw invalidArgument(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  if ((hc.ShmSize ?? 0) < 0) throw invalidArgument("SHM size can not be less than 0");
}

const RESTART_POLICIES = new Set(["", "no", "always", "unless-stopped", "on-failure"]);

function checkRestart(hc: HostConfig) {
  const name = hc.RestartPolicy?.Name ?? "";
  const retries = hc.RestartPolicy?.MaximumRetryCount ?? 0;
  if (!RESTART_POLICIES.has(name)) {
    throw invalidArgument(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  if (retries !== 0 && name !== "on-failure") {
    throw invalidArgument("invalid restart policy: maximum retry count can only be used with 'on-failure'");
  }
  if (retries < 0) throw invalidArgument("invalid restart policy: maximum retry count cannot be negative");
  if (hc.AutoRemove && name !== "" && name !== "no") throw invalidArgument("can't create 'AutoRemove' container with restart policy");
}

function checkUlimits(hc: HostConfig) {
  for (const u of hc.Ulimits ?? []) {
    if (!Object.hasOwn(ULIMIT_NAMES, u.Name)) throw invalidArgument(`invalid ulimit type: ${u.Name}`);
    if (u.Soft > u.Hard) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    if (u.Soft < -1 || u.Hard < -1) throw invalidArgument(`invalid ulimit ${u.Name}: limits must be -1 (unlimited) or more`);
  }
}

/** docker's namespaced sysctls: IPC ones need a private IPC namespace, net.* a private network namespace. */
function checkSysctls(hc: HostConfig, domainname: string | undefined) {
  for (const key of Object.keys(hc.Sysctls ?? {})) {
    const q = JSON.stringify(key);
    if (IPC_SYSCTLS.has(key) || key.startsWith("fs.mqueue.")) {
      if (hc.IpcMode === "host") throw invalidArgument(`sysctl ${q} is not allowed in the hosts ipc namespace`);
      continue;
    }
    if (key.startsWith("net.")) {
      if (hc.NetworkMode === "host") throw invalidArgument(`sysctl ${q} not allowed in host network namespace`);
      continue;
    }
    if (key === "kernel.domainname" || key === "kernel.hostname") {
      if (hc.UTSMode === "host") throw invalidArgument(`sysctl ${q} is not allowed in the hosts uts namespace`);
      if (key === "kernel.hostname" || domainname) {
        throw invalidArgument(`sysctl ${q} is not allowed as it conflicts with the container's hostname (use Config.Hostname / Config.Domainname)`);
      }
      continue;
    }
    throw invalidArgument(`sysctl ${q} is not in a separate kernel namespace`);
  }
}

const LABEL = "[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?";
const HOSTNAME_RE = new RegExp(`^${LABEL}(\\.${LABEL})*$`);

function checkHostname(body: CreateBody) {
  const h = body.Hostname ?? "";
  if (h !== "") {
    if (h.length > 64) throw invalidArgument(`invalid hostname format: ${h}: longer than 64 characters`);
    if (!HOSTNAME_RE.test(h)) throw invalidArgument(`invalid hostname format: ${h}`);
  }
  const d = body.Domainname ?? "";
  if (d !== "") {
    if (d.length > 64) throw invalidArgument(`invalid domainname format: ${d}: longer than 64 characters`);
    if (!HOSTNAME_RE.test(d)) throw invalidArgument(`invalid domainname format: ${d}`);
  }
  if ((h || d) && body.HostConfig?.UTSMode === "host") throw invalidArgument("Conflicting options: hostname and the UTS mode");
}

function checkPaths(hc: HostConfig) {
  for (const [dst] of Object.entries(hc.Tmpfs ?? {})) {
    if (!dst.startsWith("/")) throw invalidArgument(`invalid HostConfig.Tmpfs: invalid mount path: '${dst}' mount path must be absolute`);
    if (dst.split("/").every((c) => c === "")) throw invalidArgument("invalid HostConfig.Tmpfs: destination can't be '/'");
  }
  for (const b of hc.Binds ?? []) {
    const parts = b.split(":");
    if (parts.length < 2 || parts.length > 3 || parts.some((p, i) => p === "" && i < 2)) {
      throw invalidArgument(`invalid volume specification: '${b}'`);
    }
    const dst = parts[1]!;
    if (!dst.startsWith("/")) {
      throw invalidArgument(`invalid volume specification: '${b}': invalid mount config: invalid mount path: '${dst}' mount path must be absolute`);
    }
    if (dst.split("/").every((c) => c === "")) throw invalidArgument(`invalid volume specification: '${b}': invalid mount config: destination can't be '/'`);
  }
}

function checkDevices(hc: HostConfig) {
  for (const r of hc.DeviceCgroupRules ?? []) parseDeviceCgroupRule(r);
  for (const d of hc.Devices ?? []) {
    if (!d.PathOnHost) throw invalidArgument("invalid HostConfig.Devices: PathOnHost is required");
    if (!d.PathOnHost.startsWith("/")) throw invalidArgument(`invalid HostConfig.Devices: ${d.PathOnHost} is not an absolute path`);
    if (d.PathInContainer && !d.PathInContainer.startsWith("/")) {
      throw invalidArgument(`invalid HostConfig.Devices: ${d.PathInContainer} is not an absolute path`);
    }
    const perms = d.CgroupPermissions ?? "";
    if (perms !== "" && !/^[rwm]{1,3}$/.test(perms)) throw invalidArgument(`invalid device mode: ${perms}`);
  }
}

function checkModes(hc: HostConfig) {
  const check = (field: string, v: string | undefined, ok: readonly string[]) => {
    if (v === undefined || ok.includes(v)) return;
    if (v.startsWith("container:")) throw invalidArgument(`HostConfig.${field} ${JSON.stringify(v)}: joining another container's namespace is not supported`);
    throw invalidArgument(`invalid HostConfig.${field}: ${JSON.stringify(v)}`);
  };
  check("PidMode", hc.PidMode, ["", "host", "private"]);
  check("IpcMode", hc.IpcMode, ["", "host", "private", "shareable", "none"]);
  check("UTSMode", hc.UTSMode, ["", "host"]);
  check("CgroupnsMode", hc.CgroupnsMode, ["", "host", "private"]);
  check("UsernsMode", hc.UsernsMode, ["", "host"]);
}

/**
 * Throws InvalidArgument (a BerthError) for a body dockerd would refuse; returns
 * normally otherwise. Pure: reads nothing but the host's CPU count.
 */
export function validateCreate(body: CreateBody, host: ValidateHost = { cpus: cpus().length || 1 }): void {
  checkBodyShapes(body);
  checkHostname(body);
  const hc = body.HostConfig ?? {};
  checkResources(hc, host);
  checkRestart(hc);
  checkUlimits(hc);
  checkSysctls(hc, body.Domainname);
  checkPaths(hc);
  checkDevices(hc);
  checkModes(hc);
  for (const c of hc.CapAdd ?? []) normalizeCapability(c);
  for (const c of hc.CapDrop ?? []) normalizeCapability(c);
  const sec = parseSecurityOpts(hc.SecurityOpt);
  if (sec.seccomp !== undefined && sec.seccomp !== "unconfined") {
    dockerProfileToOci(sec.seccomp, [], { arch: process.arch, kernel: "99.0" });
  }
}
