/**
 * OCI runtime-spec v1.2 config.json and state types (Linux platform).
 * Mirrors specs-go/config.go and specs-go/state.go of opencontainers/runtime-spec
 * v1.2.1; fields added in v1.3 that berth understands (linux.memoryPolicy,
 * linux.netDevices, intelRdt.schemata/enableMonitoring, an optional pids.limit)
 * are included and marked. Windows/Solaris/VM/z/OS/FreeBSD sections are kept
 * as opaque objects: berth never reads them.
 *
 * 64-bit integers: JSON numbers are doubles, so a uint64 such as
 * 18446744073709551615 (RLIM_INFINITY) cannot be represented as `number`.
 * `parseSpec` turns every integer literal outside Number.MAX_SAFE_INTEGER into
 * a `bigint`. Fields where real configs use such values (rlimits, memory
 * limits, hugepage limits, seccomp argument values) are typed
 * `Int64 = number | bigint`. Every other integer field is `number`: the
 * validator rejects values beyond 2^53-1 there (none is meaningful: device
 * numbers are 32-bit, times and counts are far smaller).
 */

/** An int64 or uint64 field: `number` when exact, `bigint` beyond 2^53-1. */
export type Int64 = number | bigint;

export interface Spec {
  /** SemVer 2.0.0; berth accepts any 1.x. */
  ociVersion: string;
  /** Optional in the spec; required by `create` (see requireProcess). */
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
  /** Other platforms: accepted, never read. */
  solaris?: Record<string, unknown>;
  windows?: Record<string, unknown>;
  vm?: Record<string, unknown>;
  zos?: Record<string, unknown>;
  freebsd?: Record<string, unknown>;
}

// ---------------------------------------------------------------- process

export interface Process {
  terminal?: boolean;
  consoleSize?: Box;
  user: User;
  /** At least one entry (non-Windows). */
  args?: string[];
  /** Windows only. */
  commandLine?: string;
  env?: string[];
  /** Absolute. */
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  scheduler?: Scheduler;
  selinuxLabel?: string;
  ioPriority?: LinuxIOPriority;
  execCPUAffinity?: CPUAffinity;
}

export interface Box {
  height: number;
  width: number;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  /** Windows only. */
  username?: string;
}

export type CapabilitySet = "bounding" | "effective" | "inheritable" | "permitted" | "ambient";
export const CAPABILITY_SETS: readonly CapabilitySet[] = ["bounding", "effective", "inheritable", "permitted", "ambient"];

export interface LinuxCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface POSIXRlimit {
  /** "RLIMIT_NOFILE", ... */
  type: string;
  hard: Int64;
  soft: Int64;
}

export type LinuxSchedulerPolicy =
  | "SCHED_OTHER"
  | "SCHED_FIFO"
  | "SCHED_RR"
  | "SCHED_BATCH"
  | "SCHED_ISO"
  | "SCHED_IDLE"
  | "SCHED_DEADLINE";
export const SCHEDULER_POLICIES: readonly LinuxSchedulerPolicy[] = [
  "SCHED_OTHER",
  "SCHED_FIFO",
  "SCHED_RR",
  "SCHED_BATCH",
  "SCHED_ISO",
  "SCHED_IDLE",
  "SCHED_DEADLINE",
];

export type LinuxSchedulerFlag =
  | "SCHED_FLAG_RESET_ON_FORK"
  | "SCHED_FLAG_RECLAIM"
  | "SCHED_FLAG_DL_OVERRUN"
  | "SCHED_FLAG_KEEP_POLICY"
  | "SCHED_FLAG_KEEP_PARAMS"
  | "SCHED_FLAG_UTIL_CLAMP_MIN"
  | "SCHED_FLAG_UTIL_CLAMP_MAX";
export const SCHEDULER_FLAGS: readonly LinuxSchedulerFlag[] = [
  "SCHED_FLAG_RESET_ON_FORK",
  "SCHED_FLAG_RECLAIM",
  "SCHED_FLAG_DL_OVERRUN",
  "SCHED_FLAG_KEEP_POLICY",
  "SCHED_FLAG_KEEP_PARAMS",
  "SCHED_FLAG_UTIL_CLAMP_MIN",
  "SCHED_FLAG_UTIL_CLAMP_MAX",
];

/** sched_setattr(2) attributes. */
export interface Scheduler {
  policy: LinuxSchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: LinuxSchedulerFlag[];
  /** Nanoseconds; SCHED_DEADLINE only. */
  runtime?: number;
  deadline?: number;
  period?: number;
}

export type IOPriorityClass = "IOPRIO_CLASS_RT" | "IOPRIO_CLASS_BE" | "IOPRIO_CLASS_IDLE";
export const IOPRIO_CLASSES: readonly IOPriorityClass[] = ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"];

export interface LinuxIOPriority {
  class: IOPriorityClass;
  /** 0 (highest) .. 7 (lowest). */
  priority: number;
}

/** CPU lists in cpuset format ("0-3,7"). */
export interface CPUAffinity {
  initial?: string;
  final?: string;
}

// ---------------------------------------------------------------- root, mounts

export interface Root {
  /** Absolute, or relative to the bundle. */
  path: string;
  readonly?: boolean;
}

export interface Mount {
  /** Should be absolute; a relative path is deprecated and taken relative to "/". */
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  /** Id-mapped mount; both or neither. */
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
}

// ---------------------------------------------------------------- hooks

export interface Hook {
  /** Absolute, in the runtime namespace. */
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds, > 0. */
  timeout?: number;
}

export type HookName = "prestart" | "createRuntime" | "createContainer" | "startContainer" | "poststart" | "poststop";
export const HOOK_NAMES: readonly HookName[] = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
];

export interface Hooks {
  /** Deprecated in favour of createRuntime/createContainer/startContainer. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

// ---------------------------------------------------------------- linux

export interface Linux {
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  sysctl?: Record<string, string>;
  resources?: LinuxResources;
  cgroupsPath?: string;
  namespaces?: LinuxNamespace[];
  devices?: LinuxDevice[];
  /** runtime-spec v1.3: host device name -> settings in the container. */
  netDevices?: Record<string, LinuxNetDevice>;
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: RootfsPropagation;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  intelRdt?: LinuxIntelRdt;
  /** runtime-spec v1.3. */
  memoryPolicy?: LinuxMemoryPolicy;
  personality?: LinuxPersonality;
  /** Keys "monotonic" and "boottime"; needs a new time namespace. */
  timeOffsets?: Record<string, LinuxTimeOffset>;
}

export type LinuxNamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup" | "time";
export const NAMESPACE_TYPES: readonly LinuxNamespaceType[] = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"];

export interface LinuxNamespace {
  type: LinuxNamespaceType;
  /** Join the namespace at this absolute path instead of creating one. */
  path?: string;
}

export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface LinuxTimeOffset {
  secs?: number;
  nanosecs?: number;
}

export type RootfsPropagation = "shared" | "slave" | "private" | "rshared" | "rslave" | "rprivate" | "unbindable" | "runbindable";
export const ROOTFS_PROPAGATIONS: readonly RootfsPropagation[] = [
  "shared",
  "slave",
  "private",
  "rshared",
  "rslave",
  "rprivate",
  "unbindable",
  "runbindable",
];

/** A device node to create: c (char), b (block), u (unbuffered char), p (fifo). */
export interface LinuxDevice {
  path: string;
  type: "c" | "b" | "u" | "p";
  /** Required unless type is "p". */
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface LinuxNetDevice {
  name?: string;
}

export type LinuxPersonalityDomain = "LINUX" | "LINUX32";

export interface LinuxPersonality {
  domain: LinuxPersonalityDomain;
  /** No flags are defined by the spec. */
  flags?: string[];
}

export interface LinuxIntelRdt {
  closID?: string;
  /** v1.3: whole schemata lines, written as is. */
  schemata?: string[];
  l3CacheSchema?: string;
  memBwSchema?: string;
  enableCMT?: boolean;
  enableMBM?: boolean;
  /** v1.3. */
  enableMonitoring?: boolean;
}

export type MemoryPolicyMode =
  | "MPOL_DEFAULT"
  | "MPOL_BIND"
  | "MPOL_INTERLEAVE"
  | "MPOL_WEIGHTED_INTERLEAVE"
  | "MPOL_PREFERRED"
  | "MPOL_PREFERRED_MANY"
  | "MPOL_LOCAL";
export const MEMORY_POLICY_MODES: readonly MemoryPolicyMode[] = [
  "MPOL_DEFAULT",
  "MPOL_BIND",
  "MPOL_INTERLEAVE",
  "MPOL_WEIGHTED_INTERLEAVE",
  "MPOL_PREFERRED",
  "MPOL_PREFERRED_MANY",
  "MPOL_LOCAL",
];
export type MemoryPolicyFlag = "MPOL_F_NUMA_BALANCING" | "MPOL_F_RELATIVE_NODES" | "MPOL_F_STATIC_NODES";
export const MEMORY_POLICY_FLAGS: readonly MemoryPolicyFlag[] = ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"];

/** set_mempolicy(2) input (runtime-spec v1.3). */
export interface LinuxMemoryPolicy {
  mode: MemoryPolicyMode;
  /** Node list, "0-3,7". */
  nodes?: string;
  flags?: MemoryPolicyFlag[];
}

// ---------------------------------------------------------------- resources

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, LinuxRdma>;
  /** cgroup v2 file name -> value. */
  unified?: Record<string, string>;
}

/** A device-controller rule. Unset type/major/minor mean "all". */
export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: "a" | "b" | "c";
  major?: number;
  minor?: number;
  /** Any combination of r, w, m. */
  access?: string;
}

/** Bytes; -1 means unlimited where allowed. */
export interface LinuxMemory {
  limit?: Int64;
  reservation?: Int64;
  /** memory+swap. */
  swap?: Int64;
  /** Deprecated. */
  kernel?: Int64;
  kernelTCP?: Int64;
  /** 0..100. */
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  /** Microseconds per period; -1 unlimited. */
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  /** cpuset lists, "0-3,7". */
  cpus?: string;
  mems?: string;
  /** 0 or 1 (SCHED_IDLE-like weight). */
  idle?: number;
}

export interface LinuxPids {
  /** Required in v1.2, optional in v1.3; <= 0 means no limit. */
  limit?: number;
}

export interface LinuxBlockIODevice {
  major: number;
  minor: number;
}

export interface LinuxWeightDevice extends LinuxBlockIODevice {
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice extends LinuxBlockIODevice {
  rate: number;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit {
  /** "2MB", "1GB", "64KB". */
  pageSize: string;
  limit: Int64;
}

export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

// ---------------------------------------------------------------- seccomp

// One definition, shared with the seccomp compiler (which must treat every
// value as untrusted input, so the enums are plain strings there).
export type { LinuxSeccomp, LinuxSyscall, LinuxSeccompArg, LinuxSeccompAction, LinuxSeccompOperator } from "./seccomp.ts";
export { SECCOMP_ACTIONS, SECCOMP_OPERATORS } from "./seccomp.ts";
import type { LinuxSeccomp } from "./seccomp.ts";

// ---------------------------------------------------------------- state

/** runc adds "paused" to the spec's four. */
export type ContainerStatus = "creating" | "created" | "running" | "stopped" | "paused";
export const CONTAINER_STATUSES: readonly ContainerStatus[] = ["creating", "created", "running", "stopped", "paused"];

/** `berth-runtime state` output and the state passed to hooks on stdin. */
export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** Required when status is created or running. */
  pid?: number;
  /** Absolute path of the bundle directory. */
  bundle: string;
  annotations?: Record<string, string>;
}

/** Sent to a seccomp agent on linux.seccomp.listenerPath. */
export interface ContainerProcessState {
  ociVersion: string;
  /** Names of the fds passed with SCM_RIGHTS, e.g. ["seccompFd"]. */
  fds: string[];
  pid: number;
  metadata?: string;
  state: State;
}

/** The runtime-spec version berth implements and writes. */
export const OCI_VERSION = "1.2.0";
