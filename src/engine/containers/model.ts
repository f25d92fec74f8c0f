/**
 * The container model of berthd: what a Docker create body holds (the parts
 * berth reads), what the engine records per container, and the seams between
 * the container service and the pieces it drives (spec building, volumes,
 * networks). Field names are Docker's, so records serialize straight into the
 * API's shapes.
 */
import type { Spec } from "../../oci/runtime-spec.ts";

// ---------------------------------------------------------------- Docker's create body

export interface HealthConfig {
  /** [] inherit, ["NONE"], ["CMD", args...], ["CMD-SHELL", command] */
  Test?: string[];
  /** nanoseconds; 0 = inherit / default */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** docker's container Config (create body minus HostConfig/NetworkingConfig). */
export interface DockerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig | null;
  Entrypoint?: string[] | null;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  /** seconds */
  StopTimeout?: number | null;
  Shell?: string[] | null;
  NetworkDisabled?: boolean;
}

export interface MountRequest {
  Type: "bind" | "volume" | "tmpfs";
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> }; Subpath?: string } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

export interface RestartPolicy {
  Name?: "" | "no" | "always" | "unless-stopped" | "on-failure";
  MaximumRetryCount?: number;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface PortBindingRequest {
  HostIp?: string;
  HostPort?: string;
}

export interface HostConfig {
  Binds?: string[] | null;
  Mounts?: MountRequest[] | null;
  Tmpfs?: Record<string, string> | null;
  VolumesFrom?: string[] | null;
  ReadonlyRootfs?: boolean;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  BlkioWeight?: number;
  PidsLimit?: number | null;
  Ulimits?: Ulimit[] | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Privileged?: boolean;
  SecurityOpt?: string[] | null;
  Devices?: DeviceMapping[] | null;
  DeviceCgroupRules?: string[] | null;
  Sysctls?: Record<string, string> | null;
  GroupAdd?: string[] | null;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  Init?: boolean | null;
  ShmSize?: number;
  OomScoreAdj?: number;
  NetworkMode?: string;
  PortBindings?: Record<string, PortBindingRequest[] | null> | null;
  PublishAllPorts?: boolean;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  ExtraHosts?: string[] | null;
  Links?: string[] | null;
  IpcMode?: string;
  PidMode?: string;
  UTSMode?: string;
  UsernsMode?: string;
  CgroupnsMode?: string;
  LogConfig?: { Type?: string; Config?: Record<string, string> };
  ConsoleSize?: [number, number] | null;
}

export interface EndpointIPAMConfig {
  IPv4Address?: string;
  IPv6Address?: string;
}

export interface EndpointSettings {
  IPAMConfig?: EndpointIPAMConfig | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  DNSNames?: string[] | null;
}

export interface NetworkingConfig {
  EndpointsConfig?: Record<string, EndpointSettings> | null;
}

export interface CreateBody extends DockerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: NetworkingConfig;
}

// ---------------------------------------------------------------- what the engine records

export type ContainerStatus = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: "starting" | "healthy" | "unhealthy" | "none";
  FailingStreak: number;
  Log: HealthLogEntry[];
}

/** docker inspect's State */
export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: HealthState;
}

export interface NetworkSettings {
  Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
  Networks: Record<string, EndpointSettings>;
  SandboxKey: string;
  /** the default bridge's endpoint, flattened (docker's legacy fields) */
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
}

/** A resolved mount, host side (binds, volumes and tmpfs after resolution). */
export interface ResolvedMount {
  Type: "bind" | "volume" | "tmpfs";
  /** volume name (Type volume) */
  Name?: string;
  /** host path (bind, volume), "" for tmpfs */
  Source: string;
  Destination: string;
  /** docker's Mode string as shown by inspect ("ro", "z", "" ...) */
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** mount(8) style options for the OCI mount (tmpfs size/mode, nosuid...) */
  Options?: string[];
}

/** One container as berthd keeps it (SQLite row `containers.record_json`). */
export interface ContainerRecord {
  /** 64 hex */
  Id: string;
  /** without the leading "/" */
  Name: string;
  tenant: string;
  Created: string;
  /** the image id (sha256:...) */
  Image: string;
  /** the image as the user named it (Config.Image) */
  ImageName: string;
  /** entrypoint + cmd, resolved */
  Path: string;
  Args: string[];
  /** the user's config merged with the image's defaults */
  Config: DockerConfig;
  HostConfig: HostConfig;
  NetworkingConfig?: NetworkingConfig;
  State: ContainerState;
  RestartCount: number;
  /** stop was asked for by a user (restart policies don't restart it; unless-stopped stays down after a daemon restart) */
  manuallyStopped: boolean;
  Mounts: ResolvedMount[];
  NetworkSettings: NetworkSettings;
  /** generated files bound into the container (empty when not used) */
  HostnamePath: string;
  HostsPath: string;
  ResolvConfPath: string;
  LogPath: string;
  /** the runtime library's root for this container's OCI state */
  runtimeRoot: string;
  /** <exec root>/containers/<id>/bundle */
  bundle: string;
  /** the merged rootfs (overlay mount point) */
  rootfs: string;
}

// ---------------------------------------------------------------- seams

/** What buildSpec needs to turn a record into an OCI runtime spec. */
export interface SpecInput {
  record: ContainerRecord;
  /** the mounted rootfs (host path) */
  rootfs: string;
  /** the container's cgroupsPath (runc style) */
  cgroupsPath: string;
  /** join this network namespace (bridge networks); else none = a new empty netns, host = the host's */
  netnsPath?: string;
  /** host path of docker-init (tini) for HostConfig.Init */
  initPath?: string;
}

export type BuildSpec = (input: SpecInput) => Spec;

/** How other engine parts find a tenant's container. */
export interface ContainerLookup {
  /** by full id, unique id prefix or name (with or without "/"); NotFound `No such container: <ref>` otherwise */
  get(tenant: string, ref: string): ContainerRecord;
}
