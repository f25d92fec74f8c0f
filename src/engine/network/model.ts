/**
 * The network model: what a network is, what creating one asks for, what an
 * attachment (endpoint) records. Docker's option names are understood where
 * berth implements them.
 */

export type PortProto = "tcp" | "udp";

/** One published port after resolution (a range in a request becomes several). */
export interface PortBinding {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: PortProto;
}

/** A publish request (docker's PortBindings entry): hostPort 0 or absent means "pick one". */
export interface PortRequest {
  containerPort: number;
  /** last container port of a range (inclusive), default containerPort */
  containerPortEnd?: number;
  protocol?: PortProto;
  hostIp?: string;
  /** 0/undefined: random; with hostPortEnd: any free port of the range (single) or the range itself */
  hostPort?: number;
  hostPortEnd?: number;
}

export interface Network {
  id: string;
  owner: string;
  name: string;
  /** "bridge" for berth's own; for an administrator's conflist, the first plugin's type */
  driver: string;
  /** the CNI network name (berth-<id12> for berth's, else the conflist's) */
  cniName: string;
  /** host bridge device (berth's bridge networks) */
  bridge?: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  /** the user gave the subnet (docker allows --ip only then) */
  userSubnet: boolean;
  internal: boolean;
  /** the tenant's default network ("bridge"): no embedded DNS, as docker0 */
  isDefault: boolean;
  /** from a file in net.d that berth did not write */
  external: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  created: string;
}

export interface CreateNetworkRequest {
  name: string;
  driver?: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  /** docker's CheckDuplicate is always on in berth */
}

export interface AttachRequest {
  containerId: string;
  /** the container's name, resolvable on user-defined networks */
  name?: string;
  /** path of the container's network namespace */
  netns: string;
  aliases?: string[];
  /** static IPv4 (networks with a user-given subnet only) */
  ip?: string;
  ports?: PortRequest[];
  /** upstream resolvers for this container's lookups (docker --dns), else the host's */
  dns?: string[];
}

export interface Endpoint {
  networkId: string;
  containerId: string;
  owner: string;
  name?: string;
  aliases: string[];
  ifName: string;
  netns: string;
  /** "172.18.0.2/16" */
  address: string;
  ip: string;
  gateway?: string;
  mac?: string;
  ports: PortBinding[];
  dns: string[];
  created: string;
}

export interface AttachResult {
  ifName: string;
  ip: string;
  prefixLen: number;
  gateway?: string;
  mac?: string;
  ports: PortBinding[];
}

/** Docker option keys berth applies. */
export const OPT_BRIDGE_NAME = "com.docker.network.bridge.name";
export const OPT_MTU = "com.docker.network.driver.mtu";
export const OPT_MASQ = "com.docker.network.bridge.enable_ip_masquerade";
export const OPT_HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4";
export const OPT_ICC = "com.docker.network.bridge.enable_icc";
