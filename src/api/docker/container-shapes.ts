/**
 * Containers in the Docker Engine API's shapes: `docker inspect` and the
 * `docker ps` list entries, from the records the engine keeps.
 */
import type { ContainerRecord } from "../../engine/containers/model.ts";
import { statusText } from "../../engine/containers/status.ts";
import type { PreparedRootfs } from "../../engine/storage/overlay.ts";

export interface SizeInfo {
  SizeRw: number;
  SizeRootFs: number;
}

export interface InspectExtras {
  execIds?: string[];
  paths?: PreparedRootfs;
  size?: SizeInfo;
}

export function inspectJson(r: ContainerRecord, x: InspectExtras = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Id: r.Id,
    Created: r.Created,
    Path: r.Path,
    Args: r.Args,
    State: r.State,
    Image: r.Image,
    ResolvConfPath: r.ResolvConfPath,
    HostnamePath: r.HostnamePath,
    HostsPath: r.HostsPath,
    LogPath: r.LogPath,
    Name: `/${r.Name}`,
    RestartCount: r.RestartCount,
    Driver: "overlay2",
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: x.execIds?.length ? x.execIds : null,
    HostConfig: hostConfigJson(r),
    GraphDriver: {
      Name: "overlay2",
      Data: x.paths
        ? { LowerDir: x.paths.lowerdirs.join(":"), UpperDir: x.paths.upperdir, WorkDir: x.paths.workdir, MergedDir: x.paths.rootfs }
        : null,
    },
    Mounts: mountsJson(r),
    Config: configJson(r),
    NetworkSettings: networkSettingsJson(r),
  };
  if (x.size) Object.assign(out, x.size);
  return out;
}

function hostConfigJson(r: ContainerRecord): Record<string, unknown> {
  const h = r.HostConfig;
  return {
    Binds: h.Binds ?? null,
    ContainerIDFile: "",
    LogConfig: { Type: h.LogConfig?.Type || "json-file", Config: h.LogConfig?.Config ?? {} },
    NetworkMode: h.NetworkMode || "bridge",
    PortBindings: h.PortBindings ?? {},
    RestartPolicy: { Name: h.RestartPolicy?.Name || "no", MaximumRetryCount: h.RestartPolicy?.MaximumRetryCount ?? 0 },
    AutoRemove: Boolean(h.AutoRemove),
    VolumeDriver: "",
    VolumesFrom: h.VolumesFrom ?? null,
    ConsoleSize: h.ConsoleSize ?? [0, 0],
    CapAdd: h.CapAdd ?? null,
    CapDrop: h.CapDrop ?? null,
    CgroupnsMode: h.CgroupnsMode || "private",
    Dns: h.Dns ?? [],
    DnsOptions: h.DnsOptions ?? [],
    DnsSearch: h.DnsSearch ?? [],
    ExtraHosts: h.ExtraHosts ?? null,
    GroupAdd: h.GroupAdd ?? null,
    IpcMode: h.IpcMode || "private",
    Cgroup: "",
    Links: h.Links ?? null,
    OomScoreAdj: h.OomScoreAdj ?? 0,
    PidMode: h.PidMode ?? "",
    Privileged: Boolean(h.Privileged),
    PublishAllPorts: Boolean(h.PublishAllPorts),
    ReadonlyRootfs: Boolean(h.ReadonlyRootfs),
    SecurityOpt: h.SecurityOpt ?? null,
    Tmpfs: h.Tmpfs ?? undefined,
    UTSMode: h.UTSMode ?? "",
    UsernsMode: h.UsernsMode ?? "",
    ShmSize: h.ShmSize || 64 * 1024 * 1024,
    Runtime: "berth",
    Isolation: "",
    CpuShares: h.CpuShares ?? 0,
    Memory: h.Memory ?? 0,
    NanoCpus: h.NanoCpus ?? 0,
    CgroupParent: "",
    BlkioWeight: h.BlkioWeight ?? 0,
    CpuPeriod: h.CpuPeriod ?? 0,
    CpuQuota: h.CpuQuota ?? 0,
    CpusetCpus: h.CpusetCpus ?? "",
    CpusetMems: h.CpusetMems ?? "",
    Devices: h.Devices ?? [],
    DeviceCgroupRules: h.DeviceCgroupRules ?? null,
    MemoryReservation: h.MemoryReservation ?? 0,
    MemorySwap: h.MemorySwap ?? 0,
    MemorySwappiness: h.MemorySwappiness ?? null,
    OomKillDisable: h.OomKillDisable ?? null,
    PidsLimit: h.PidsLimit ?? null,
    Ulimits: h.Ulimits ?? [],
    Init: h.Init ?? null,
    Mounts: h.Mounts ?? undefined,
    Sysctls: h.Sysctls ?? undefined,
    MaskedPaths: null,
    ReadonlyPaths: null,
  };
}

function configJson(r: ContainerRecord): Record<string, unknown> {
  const c = r.Config;
  return {
    Hostname: c.Hostname || r.Id.slice(0, 12),
    Domainname: c.Domainname ?? "",
    User: c.User ?? "",
    AttachStdin: Boolean(c.AttachStdin),
    AttachStdout: Boolean(c.AttachStdout),
    AttachStderr: Boolean(c.AttachStderr),
    ExposedPorts: c.ExposedPorts ?? undefined,
    Tty: Boolean(c.Tty),
    OpenStdin: Boolean(c.OpenStdin),
    StdinOnce: Boolean(c.StdinOnce),
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    Healthcheck: c.Healthcheck ?? undefined,
    Image: r.ImageName,
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? "",
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: null,
    Labels: c.Labels ?? {},
    StopSignal: c.StopSignal ?? undefined,
    StopTimeout: c.StopTimeout ?? undefined,
  };
}

function mountsJson(r: ContainerRecord): Record<string, unknown>[] {
  return r.Mounts.map((m) => ({
    Type: m.Type,
    ...(m.Name ? { Name: m.Name, Driver: "local" } : {}),
    Source: m.Source,
    Destination: m.Destination,
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  }));
}

function networkSettingsJson(r: ContainerRecord): Record<string, unknown> {
  const n = r.NetworkSettings;
  return {
    Bridge: "",
    SandboxID: n.SandboxKey ? n.SandboxKey.split("/").pop() : "",
    SandboxKey: n.SandboxKey,
    Ports: r.State.Running ? n.Ports : {},
    HairpinMode: false,
    LinkLocalIPv6Address: "",
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: "",
    Gateway: n.Gateway,
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    IPAddress: n.IPAddress,
    IPPrefixLen: n.IPPrefixLen,
    IPv6Gateway: "",
    MacAddress: n.MacAddress,
    Networks: n.Networks,
  };
}

/** docker ps's COMMAND: the path and args, as docker quotes them only when needed. */
function command(r: ContainerRecord): string {
  return [r.Path, ...r.Args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(" ");
}

export function listJson(r: ContainerRecord, size?: SizeInfo): Record<string, unknown> {
  const ports: Record<string, unknown>[] = [];
  if (r.State.Running) {
    for (const [key, binds] of Object.entries(r.NetworkSettings.Ports)) {
      const [port, type] = key.split("/");
      if (!binds?.length) ports.push({ PrivatePort: Number(port), Type: type ?? "tcp" });
      for (const b of binds ?? []) ports.push({ IP: b.HostIp || "0.0.0.0", PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type ?? "tcp" });
    }
  }
  return {
    Id: r.Id,
    Names: [`/${r.Name}`],
    Image: r.ImageName,
    ImageID: r.Image,
    Command: command(r),
    Created: Math.floor(Date.parse(r.Created) / 1000),
    Ports: ports,
    Labels: r.Config.Labels ?? {},
    State: r.State.Status,
    Status: statusText(r.State),
    HostConfig: { NetworkMode: r.HostConfig.NetworkMode || "bridge" },
    NetworkSettings: { Networks: r.NetworkSettings.Networks },
    Mounts: mountsJson(r),
    ...(size ?? {}),
  };
}
