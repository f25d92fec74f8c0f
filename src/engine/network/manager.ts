/**
 * berthd's networks: create/inspect/list/remove/prune for a tenant, attach and
 * detach containers (by their network namespace) through CNI, the embedded
 * DNS of user-defined networks, the generated /etc files, and reconcile()
 * after a crash.
 *
 *   <data root>/cni/net.d/       conflists: berth-<id12>.conflist (berth's), and any an administrator adds
 *   <data root>/cni/cache/       CNI result cache (cache.ts)
 *   <data root>/cni/networks/    host-local leases, one dir per CNI network
 *   <netns dir>/<container id>   persistent network namespaces (netns.ts)
 *
 * Order of effects, so that a crash at any point leaves what reconcile()
 * needs: an endpoint row ("attaching") is written before the CNI ADD and the
 * cache is written after each plugin; a network's conflist is written before
 * its bridge and row, and removed last.
 */
import type { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { BerthError, invalidArgument, notFound } from "../../errors.ts";
import { DEFAULT_TENANT } from "../db.ts";
import type { Logger } from "../logger.ts";
import { bridgeMac, ensureBridge, deleteBridge, enableRouteLocalnet } from "./bridge.ts";
import { ConfDir } from "./cni/confdir.ts";
import { PluginExec, type ExecTiming } from "./cni/exec.ts";
import { CniRuntime } from "./cni/runtime.ts";
import { primaryIPv4, type NetConfList } from "./cni/types.ts";
import { attachmentConfList, bridgeConfList, checkMtu, cniNameFor } from "./conflist.ts";
import { DnsRegistry, DnsServer, parseUpstream, type Upstream } from "./dns.ts";
import { hostnameFile, hostsFile, resolvConf, upstreamServers } from "./etc-files.ts";
import { addNetworkRules, addPortRules, removeNetworkRules, removePortRules, scrubAttachmentRules } from "./firewall.ts";
import { hostRoutes, linkExists } from "./host.ts";
import { parseCidr, parseIfAddr, type Cidr } from "./ipnet.ts";
import { fastBridgeDel } from "./fast-del.ts";
import { currentPhases } from "../phases.ts";
import { NetworkLocks } from "./lock.ts";
import { OPT_BRIDGE_NAME, OPT_HOST_BINDING, OPT_MTU, type AttachRequest, type AttachResult, type CreateNetworkRequest, type Endpoint, type Network } from "./model.ts";
import { NetnsStore } from "./netns.ts";
import { portMappings, reservePorts, type Reservation } from "./ports.ts";
import { NetworkStore, type StoredEndpoint } from "./store.ts";
import { checkStaticIp, defaultPools, planSubnet, type Taken } from "./subnets.ts";

export const DEFAULT_NETWORK = "bridge";
export const DEFAULT_BRIDGE = "berth0";

export interface NetworkManagerOptions {
  db: Database;
  dataRoot: string;
  /** persistent network namespaces (default /run/berth/netns) */
  netnsDir?: string;
  /** CNI_PATH (default /usr/lib/cni, /opt/cni/bin) */
  cniPath?: string[];
  /** the host's resolv.conf (default /etc/resolv.conf) */
  resolvConfPath?: string;
  /** upstream resolvers of the embedded DNS instead of the host's (ip or ip:port) */
  upstreams?: string[];
  /** device name of the default tenant's "bridge" network (default berth0) */
  defaultBridge?: string;
  /** subnet of the default network instead of the first free pool */
  defaultSubnet?: string;
  /** address pools for networks created without a subnet */
  pools?: string[];
  /** DNS port (tests); 53 for real */
  dnsPort?: number;
  /**
   * how berth's bridge networks publish ports: "native" (default), berth's
   * DNAT rules in one iptables-restore per container; "portmap", the CNI
   * portmap plugin in the chain (the standard path, ~3x slower per attach)
   */
  portDriver?: "native" | "portmap";
  onTiming?: (t: ExecTiming) => void;
  log?: Logger;
}

export interface NetworkFilter {
  name?: string[];
  id?: string[];
  label?: string[];
  driver?: string[];
  type?: ("custom" | "builtin")[];
}

export interface ReconcileReport {
  endpoints: number;
  cacheEntries: number;
  leases: number;
  networks: number;
  netns: number;
}

export interface EtcFilesRequest {
  hostname: string;
  domainname?: string;
  extraHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  links?: { ip: string; names: string[] }[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ALIAS_RE = /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,252})$/;

export class NetworkManager {
  readonly store: NetworkStore;
  readonly cni: CniRuntime;
  readonly confDir: ConfDir;
  readonly netns: NetnsStore;
  readonly ipamDir: string;
  readonly dns = new DnsRegistry();
  private readonly servers = new Map<string, DnsServer>();
  private readonly reservations = new Map<string, Reservation[]>();
  private readonly lock = new NetworkLocks();
  private readonly opts: NetworkManagerOptions;
  private closed = false;

  private constructor(opts: NetworkManagerOptions) {
    this.opts = opts;
    this.store = new NetworkStore(opts.db);
    const cniRoot = join(opts.dataRoot, "cni");
    this.confDir = new ConfDir(join(cniRoot, "net.d"));
    this.ipamDir = join(cniRoot, "networks");
    this.cni = new CniRuntime({ cacheDir: join(cniRoot, "cache"), exec: new PluginExec({ path: opts.cniPath, onTiming: opts.onTiming }) });
    this.netns = new NetnsStore(opts.netnsDir ?? "/run/berth/netns");
  }

  /**
   * Open the manager: bridges, berth's rules and DNS servers of the stored
   * networks are put (back) in place. Call reconcile() next with the set of
   * live containers.
   */
  static async open(opts: NetworkManagerOptions): Promise<NetworkManager> {
    const m = new NetworkManager(opts);
    for (const n of m.store.networks()) {
      try {
        await m.setUp(n);
      } catch (e) {
        opts.log?.warn?.("network set-up failed", { network: n.name, error: (e as Error).message });
      }
    }
    return m;
  }

  // ------------------------------------------------------------- networks

  /** All networks a tenant sees: its own and the administrator's conflists. */
  private visible(tenant: string): Network[] {
    return [...this.store.networks().filter((n) => n.owner === tenant), ...this.externalNetworks()];
  }

  private externalNetworks(): Network[] {
    const out: Network[] = [];
    for (const { list, file } of this.confDir.scan().lists.values()) {
      if (this.isBerthConf(list.name)) continue;
      const sub = conflistSubnets(list)[0];
      out.push({
        id: externalId(list.name),
        owner: "",
        name: list.name,
        driver: list.plugins[0]!.type,
        cniName: list.name,
        subnet: sub?.subnet,
        gateway: sub?.gateway,
        userSubnet: !!sub,
        internal: false,
        isDefault: false,
        external: true,
        labels: {},
        options: { "berth.cni.conflist": file },
        created: safeMtime(file),
      });
    }
    return out;
  }

  private isBerthConf(cniName: string): boolean {
    return /^berth-[0-9a-f]{12}$/.test(cniName);
  }

  /** Docker's lookup: full id, exact name, then a unique id prefix. */
  get(tenant: string, ref: string): Network {
    const nets = this.visible(tenant);
    const hit = nets.find((n) => n.id === ref) ?? nets.find((n) => n.name === ref);
    if (hit) return hit;
    const byPrefix = ref.length >= 1 && /^[0-9a-f]+$/.test(ref) ? nets.filter((n) => n.id.startsWith(ref)) : [];
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw invalidArgument(`network ${ref} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
    throw notFound(`network ${ref} not found`);
  }

  list(tenant: string, f: NetworkFilter = {}): Network[] {
    return this.visible(tenant).filter((n) => {
      if (f.name?.length && !f.name.some((s) => n.name.includes(s))) return false;
      if (f.id?.length && !f.id.some((s) => n.id.startsWith(s))) return false;
      if (f.driver?.length && !f.driver.includes(n.driver)) return false;
      if (f.type?.length && !f.type.includes(n.isDefault ? "builtin" : "custom")) return false;
      for (const l of f.label ?? []) {
        const [k, v] = l.includes("=") ? [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] : [l, undefined];
        if (!(k! in n.labels) || (v !== undefined && n.labels[k!] !== v)) return false;
      }
      return true;
    });
  }

  /** Every subnet in use: berth's networks (all tenants), administrator conflists, host routes not on our bridges. */
  private async taken(): Promise<Taken[]> {
    const nets = [...this.store.networks(), ...this.externalNetworks()];
    const ours = new Set(nets.map((n) => n.bridge).filter(Boolean));
    const t: Taken[] = [];
    for (const n of nets) if (n.subnet) t.push({ cidr: parseCidr(n.subnet, "subnet", false), what: n.name, network: true });
    for (const r of await hostRoutes()) if (!ours.has(r.dev)) t.push({ cidr: r.dst, what: r.text, network: false });
    return t;
  }

  private pools(): Cidr[] {
    return this.opts.pools?.map((p) => parseCidr(p, "pools")) ?? defaultPools();
  }

  create(tenant: string, req: CreateNetworkRequest): Promise<Network> {
    return this.lock.exclusive(() => this.createLocked(tenant, req, false));
  }

  /** The tenant's default "bridge" network, made on first use. */
  ensureDefault(tenant: string = DEFAULT_TENANT): Promise<Network> {
    const have = this.store.networks().find((n) => n.owner === tenant && n.isDefault);
    if (have) return Promise.resolve(have);
    return this.lock.exclusive(async () => {
      const have = this.store.networks().find((n) => n.owner === tenant && n.isDefault);
      if (have) return have;
      return this.createLocked(tenant, { name: DEFAULT_NETWORK, subnet: this.opts.defaultSubnet }, true);
    });
  }

  private async createLocked(tenant: string, req: CreateNetworkRequest, isDefault: boolean): Promise<Network> {
    // --- check everything first: nothing changes on bad input
    if (typeof req.name !== "string" || !NAME_RE.test(req.name)) throw invalidArgument(`name: invalid network name ${JSON.stringify(req.name)} (want [a-zA-Z0-9][a-zA-Z0-9_.-]*)`);
    const driver = req.driver || "bridge";
    if (driver !== "bridge") throw invalidArgument(`driver: plugin "${driver}" not found (berth makes bridge networks; drop a CNI conflist into ${this.confDir.dir} for others)`);
    if (!isDefault && (req.name === DEFAULT_NETWORK || req.name === "host" || req.name === "none")) {
      throw new BerthError("PermissionDenied", `operation is not permitted on predefined ${req.name} network`);
    }
    if (this.visible(tenant).some((n) => n.name === req.name)) throw new BerthError("AlreadyExists", `network with name ${req.name} already exists`);
    const labels = checkStringMap(req.labels, "labels");
    const options = checkStringMap(req.options, "options");
    checkMtu(options[OPT_MTU]);
    const plan = planSubnet({ subnet: req.subnet, gateway: req.gateway, ipRange: req.ipRange }, await this.taken(), this.pools());
    const id = randomBytes(32).toString("hex");
    const bridge = options[OPT_BRIDGE_NAME] || (isDefault ? (tenant === DEFAULT_TENANT ? this.opts.defaultBridge ?? DEFAULT_BRIDGE : `berth-${id.slice(0, 9)}`) : `br-${id.slice(0, 12)}`);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/.test(bridge)) throw invalidArgument(`options: ${OPT_BRIDGE_NAME}: invalid interface name ${JSON.stringify(bridge)}`);
    if (this.store.networks().some((n) => n.bridge === bridge)) throw new BerthError("AlreadyExists", `bridge ${bridge} is used by another network`);
    if (options[OPT_BRIDGE_NAME] && (await linkExists(bridge))) {
      throw new BerthError("AlreadyExists", `options: ${OPT_BRIDGE_NAME}: a link named ${bridge} already exists on the host`);
    }
    const net: Network = {
      id,
      owner: tenant,
      name: req.name,
      driver: "bridge",
      cniName: cniNameFor(id),
      bridge,
      subnet: plan.subnet,
      gateway: plan.gateway,
      ipRange: plan.ipRange,
      userSubnet: plan.userSubnet,
      internal: !!req.internal,
      isDefault,
      external: false,
      labels,
      options,
      created: new Date().toISOString(),
    };
    // --- effects: conflist, bridge + rules + DNS, then the row
    this.confDir.write(bridgeConfList(net, this.confDirs()));
    try {
      await this.setUp(net);
      this.store.insertNetwork(net);
    } catch (e) {
      await this.tearDownNetwork(net).catch(() => {});
      throw e;
    }
    return net;
  }

  /** Bridge, berth's rules and the DNS server of a stored network (idempotent). */
  private async setUp(n: Network) {
    if (n.external || !n.bridge || !n.gateway || !n.subnet) return;
    const mtu = Number(n.options[OPT_MTU] || 0) || undefined;
    this.confDir.write(bridgeConfList(n, this.confDirs()));
    await ensureBridge(n.bridge, n.gateway, n.subnet, mtu, bridgeMac(n.id));
    if (!n.internal) enableRouteLocalnet(n.bridge);
    await addNetworkRules(n);
    if (hasDns(n) && !this.servers.has(n.id)) {
      const server = await DnsServer.start({
        networkId: n.id,
        address: n.gateway,
        port: this.opts.dnsPort,
        registry: this.dns,
        upstreams: () => this.hostUpstreams(),
        // as docker: an internal network's containers get no answers from outside
        // (DNS would otherwise be a way out of a network that has none)
        forward: !n.internal,
      });
      this.servers.set(n.id, server);
    }
  }

  /** Everything a network has on the host, gone (idempotent). */
  private async tearDownNetwork(n: Pick<Network, "id" | "cniName" | "bridge">) {
    this.servers.get(n.id)?.stop();
    this.servers.delete(n.id);
    this.dns.dropNetwork(n.id);
    if (n.bridge) await deleteBridge(n.bridge);
    await removeNetworkRules(n);
    rmSync(join(this.ipamDir, n.cniName), { recursive: true, force: true });
    this.confDir.remove(n.cniName);
  }

  /** Remove a network without endpoints. The default network only with `removeDefault` (tenant removal). */
  remove(tenant: string, ref: string, opts: { removeDefault?: boolean } = {}): Promise<void> {
    return this.lock.exclusive(async () => {
      const n = this.get(tenant, ref);
      if (n.isDefault && !opts.removeDefault) throw new BerthError("PermissionDenied", `${n.name} is a pre-defined network and cannot be removed`);
      if (n.external) throw new BerthError("PermissionDenied", `network ${n.name} is defined by ${n.options["berth.cni.conflist"]}: remove that file to remove it`);
      const eps = this.store.endpoints({ networkId: n.id });
      // docker's text and status (403)
      if (eps.length) throw new BerthError("PermissionDenied", `error while removing network: network ${n.name} has active endpoints`);
      this.store.deleteNetwork(n.id);
      await this.tearDownNetwork(n);
    });
  }

  /** Remove the tenant's unused networks (not the default); returns their names. */
  prune(tenant: string, f: { label?: string[] } = {}): Promise<string[]> {
    return this.lock.exclusive(async () => {
      const removed: string[] = [];
      for (const n of this.list(tenant, { label: f.label })) {
        if (n.isDefault || n.external || this.store.endpoints({ networkId: n.id }).length) continue;
        this.store.deleteNetwork(n.id);
        await this.tearDownNetwork(n);
        removed.push(n.name);
      }
      return removed;
    });
  }

  // ------------------------------------------------------------- endpoints

  private confDirs() {
    return { ipamDir: this.ipamDir, portmap: this.opts.portDriver === "portmap" };
  }

  private nativePorts(n: Network): boolean {
    return !n.external && this.opts.portDriver !== "portmap";
  }

  /** The network's conflist as the CNI runtime uses it. */
  conflistOf(n: Network): NetConfList {
    if (n.external) {
      const l = this.confDir.scan().lists.get(n.cniName);
      if (!l) throw notFound(`network ${n.name} not found`);
      return l.list;
    }
    return bridgeConfList(n, this.confDirs());
  }

  endpoints(tenant: string, ref: string): Endpoint[] {
    const n = this.get(tenant, ref);
    return this.store.endpoints({ networkId: n.id }).filter((e) => e.state === "attached");
  }

  /** A container's attachments, first network first. */
  endpointsOf(containerId: string): Endpoint[] {
    return this.store.endpoints({ containerId }).filter((e) => e.state === "attached");
  }

  attach(tenant: string, ref: string, req: AttachRequest): Promise<AttachResult> {
    return this.lock.keyed(String(req?.containerId), () => this.attachLocked(tenant, ref, req));
  }

  private async attachLocked(tenant: string, ref: string, req: AttachRequest): Promise<AttachResult> {
    const n = this.get(tenant, ref);
    // --- checks
    if (typeof req.containerId !== "string" || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(req.containerId)) throw invalidArgument(`container id: invalid ${JSON.stringify(req.containerId)}`);
    if (!req.netns || !existsSync(req.netns)) throw invalidArgument(`netns: ${JSON.stringify(req.netns)} does not exist`);
    if (sameFile(req.netns, "/proc/self/ns/net")) throw invalidArgument(`netns: ${req.netns} is the host's network namespace`);
    const endpointName = req.name ?? req.containerId.slice(0, 12);
    if (this.store.endpoint(n.id, req.containerId)) throw new BerthError("AlreadyExists", `endpoint with name ${endpointName} already exists in network ${n.name}`);
    const aliases = (req.aliases ?? []).map((a, i) => {
      if (typeof a !== "string" || !ALIAS_RE.test(a)) throw invalidArgument(`aliases[${i}]: invalid alias ${JSON.stringify(a)}`);
      return a;
    });
    if (req.name !== undefined && !ALIAS_RE.test(req.name)) throw invalidArgument(`name: invalid container name ${JSON.stringify(req.name)}`);
    const dns = (req.dns ?? []).map((s, i) => {
      try {
        parseUpstream(s);
      } catch {
        throw invalidArgument(`dns[${i}]: invalid DNS server ${JSON.stringify(s)}`);
      }
      return s;
    });
    let staticIp: string | undefined;
    if (req.ip) {
      if (n.isDefault || !n.userSubnet || !n.subnet) throw invalidArgument("user specified IP address is supported only when connecting to networks with user configured subnets");
      checkStaticIp(req.ip, n.subnet, n.gateway);
      if (this.store.endpoints({ networkId: n.id }).some((e) => e.ip === req.ip)) throw new BerthError("FailedPrecondition", `Address already in use: ${req.ip}`);
      staticIp = req.ip;
    }
    const list = this.conflistOf(n);
    const mine = this.store.endpoints({ containerId: req.containerId });
    const ifName = nextIfName(mine.map((e) => e.ifName));
    // --- ports (held from here on), then the row, then CNI
    const publish = !n.internal && req.ports?.length ? req.ports : [];
    const held = publish.length ? await reservePorts(publish, `${endpointName} (${req.containerId.slice(0, 12)})`, n.options[OPT_HOST_BINDING] || undefined) : [];
    const ports = held.map((h) => h.binding);
    const key = epKey(n.id, req.containerId);
    const ep: StoredEndpoint = {
      networkId: n.id,
      containerId: req.containerId,
      owner: tenant,
      name: req.name,
      aliases,
      ifName,
      netns: req.netns,
      address: "",
      ip: "",
      ports,
      dns,
      state: "attaching",
      created: new Date().toISOString(),
    };
    try {
      this.store.insertEndpoint(ep);
    } catch (e) {
      for (const h of held) h.release();
      throw e;
    }
    const native = this.nativePorts(n);
    const caps: Record<string, unknown> = {};
    if (ports.length && !native) caps.portMappings = portMappings(ports);
    let addList = n.external ? list : attachmentConfList(list, ports.length > 0 && !native);
    if (staticIp && n.subnet) {
      caps.ips = [`${staticIp}/${parseCidr(n.subnet).prefix}`];
      // docker allows a static address anywhere in the subnet, outside --ip-range too;
      // host-local only hands out addresses of its ranges (and runtimeConfig.ipRanges
      // are added to them, not put in their place), so this attachment's conflist has
      // the whole subnet as its range. DEL uses the cached conflist.
      if (n.ipRange) addList = attachmentConfList(bridgeConfList({ ...n, ipRange: undefined }, this.confDirs()), ports.length > 0 && !native);
    }
    let result;
    try {
      result = await this.cni.add(addList, { containerId: req.containerId, netns: req.netns, ifName, capabilityArgs: caps, args: [["IgnoreUnknown", "1"]] });
    } catch (e) {
      for (const h of held) h.release();
      this.store.deleteEndpoint(n.id, req.containerId);
      throw e instanceof BerthError ? e.wrap(`attach ${endpointName} to network ${n.name}`) : e;
    }
    const primary = primaryIPv4(result);
    const address = primary?.address ?? "";
    if (native && ports.length) {
      try {
        if (!address) throw new BerthError("Internal", "the network gave no IPv4 address to publish ports to");
        await addPortRules(n.cniName, req.containerId, address.split("/")[0]!, ports);
      } catch (e) {
        await removePortRules(n.cniName, req.containerId).catch(() => {});
        await this.cni.del(addList, { containerId: req.containerId, ifName, netns: req.netns }).catch(() => {});
        for (const h of held) h.release();
        this.store.deleteEndpoint(n.id, req.containerId);
        throw e instanceof BerthError ? e.wrap(`attach ${endpointName} to network ${n.name}`) : e;
      }
    }
    this.store.markAttached(n.id, req.containerId, address, primary?.gateway, primary?.mac);
    if (held.length) this.reservations.set(key, held);
    const ip = address.split("/")[0] ?? "";
    if (hasDns(n) && ip) this.registerDns(n, { ...ep, ip, address });
    return {
      ifName,
      ip,
      prefixLen: address ? parseIfAddr(address).prefix : 0,
      gateway: primary?.gateway,
      mac: primary?.mac,
      ports,
    };
  }

  private registerDns(n: Network, ep: Endpoint) {
    const names = [ep.name, ...ep.aliases, ep.containerId.slice(0, 12)].filter((s): s is string => !!s);
    this.dns.set(n.id, ep.containerId, ep.ip, names, ep.dns.map(parseUpstream));
  }

  /** CNI CHECK of an attachment: the plugins verify the container's interface, address and routes are as they made them. */
  check(tenant: string, ref: string, containerId: string): Promise<void> {
    return this.lock.keyed(containerId, async () => {
      const n = this.get(tenant, ref);
      const ep = this.store.endpoint(n.id, containerId);
      if (!ep || ep.state !== "attached") throw notFound(`container ${containerId} is not connected to network ${n.name}`);
      await this.cni.check(this.conflistOf(n), { containerId, netns: ep.netns, ifName: ep.ifName });
    });
  }

  detach(tenant: string, ref: string, containerId: string): Promise<void> {
    return this.lock.keyed(containerId, async () => {
      const n = this.get(tenant, ref);
      const ep = this.store.endpoint(n.id, containerId);
      if (!ep) throw notFound(`container ${containerId} is not connected to network ${n.name}`);
      await this.tearDownEndpoint(ep, n);
    });
  }

  /** Detach a container from every network (container removal). */
  detachAll(containerId: string): Promise<void> {
    return this.lock.keyed(containerId, async () => {
      const errors: string[] = [];
      for (const ep of this.store.endpoints({ containerId }).reverse()) {
        await this.tearDownEndpoint(ep, this.store.network(ep.networkId)).catch((e) => errors.push((e as Error).message));
      }
      if (errors.length) throw new BerthError("Internal", `detach ${containerId}: ${errors.join("; ")}`);
    });
  }

  /**
   * DEL through CNI (with the cached conflist when the network is gone), then
   * the port reservations, DNS names and the row. The row stays
   * ("detaching") if DEL fails, so reconcile() tries again.
   */
  private async tearDownEndpoint(ep: StoredEndpoint, n: Network | undefined) {
    this.store.setState(ep.networkId, ep.containerId, "detaching");
    this.dns.remove(ep.networkId, ep.containerId);
    const ext = n ? undefined : this.externalNetworks().find((x) => x.id === ep.networkId);
    const net = n ?? ext;
    if (ep.ports.length && (!net || !net.external)) await removePortRules(net?.cniName ?? "", ep.containerId);
    const list = net ? this.conflistOf(net) : undefined;
    const cached = list ? undefined : this.cni.cache.list().find((c) => c.containerId === ep.containerId && c.ifName === ep.ifName);
    if (list || cached) await this.delAttachment(list, { containerId: ep.containerId, ifName: ep.ifName, netns: ep.netns, networkName: list?.name ?? cached!.networkName });
    const key = epKey(ep.networkId, ep.containerId);
    for (const r of this.reservations.get(key) ?? []) r.release();
    this.reservations.delete(key);
    this.store.deleteEndpoint(ep.networkId, ep.containerId);
  }

  /**
   * CNI DEL, then the rules a plugin could not remove because the namespace
   * was gone (see scrubAttachmentRules).
   */
  private async delAttachment(list: NetConfList | undefined, a: { containerId: string; ifName: string; netns?: string; networkName: string }, alwaysScrub = false) {
    const gone = !a.netns || !existsSync(a.netns);
    // berth's own bridge networks: the DEL without the plugins' processes (fast-del.ts)
    const cached = this.cni.cache.get(a.networkName, a.containerId, a.ifName);
    const fast = cached ? fastBridgeDel(cached, this.ipamDir) : undefined;
    const t0 = performance.now();
    if (fast && (await fast.run().catch(() => false))) {
      currentPhases()?.add("fast-del", performance.now() - t0);
      this.cni.cache.remove(cached!.networkName, a.containerId, a.ifName);
    } else await this.cni.del(list, a);
    if (gone || alwaysScrub) await scrubAttachmentRules(list?.name ?? a.networkName, a.containerId);
  }

  // ------------------------------------------------------------- netns

  /** A persistent network namespace for a container (named by its id). */
  createNetns(containerId: string): Promise<string> {
    return this.netns.create(containerId);
  }

  removeNetns(containerId: string): Promise<void> {
    return this.netns.remove(containerId);
  }

  // ------------------------------------------------------------- /etc files

  private hostResolv(): string {
    try {
      return readFileSync(this.opts.resolvConfPath ?? "/etc/resolv.conf", "utf8");
    } catch {
      return "";
    }
  }

  private hostUpstreams(): Upstream[] {
    const list = this.opts.upstreams ?? upstreamServers(this.hostResolv());
    return list.flatMap((s) => {
      try {
        return [parseUpstream(s)];
      } catch {
        return [];
      }
    });
  }

  /**
   * /etc/hosts, /etc/hostname and /etc/resolv.conf for a container, from its
   * attachments (the first network gives the address and host-gateway).
   */
  etcFiles(containerId: string, r: EtcFilesRequest): { hosts: string; hostname: string; resolvConf: string } {
    const eps = this.endpointsOf(containerId);
    const first = eps[0];
    const nets = eps.map((e) => this.store.network(e.networkId)).filter((n): n is Network => !!n);
    const dnsNet = nets.find(hasDns);
    return {
      hostname: hostnameFile(r.hostname),
      hosts: hostsFile({ hostname: r.hostname, domainname: r.domainname, ip: first?.ip, extraHosts: r.extraHosts, hostGateway: first?.gateway ?? nets[0]?.gateway, links: r.links }),
      resolvConf: resolvConf({ host: this.hostResolv(), dns: r.dns, dnsSearch: r.dnsSearch, dnsOptions: r.dnsOptions, embeddedDns: dnsNet?.gateway }),
    };
  }

  // ------------------------------------------------------------- reconcile

  /**
   * After a crash or restart: tear down every attachment whose container is
   * not alive (or whose attach/detach was interrupted), every cached CNI
   * attachment and IPAM lease nobody owns, every network left half-made or
   * half-removed, and every persistent netns of a dead container; re-hold the
   * published ports and DNS names of the live ones. Uses CNI GC where all of
   * a network's plugins support it (spec 1.1), DEL with the cached results
   * otherwise.
   */
  reconcile(isLive: (containerId: string) => boolean): Promise<ReconcileReport> {
    return this.lock.exclusive(async () => {
      const report: ReconcileReport = { endpoints: 0, cacheEntries: 0, leases: 0, networks: 0, netns: 0 };
      const errors: string[] = [];
      const nets = new Map(this.store.networks().map((n) => [n.id, n] as const));
      for (const x of this.externalNetworks()) nets.set(x.id, x);
      // 1. endpoints
      for (const ep of this.store.endpoints()) {
        const n = nets.get(ep.networkId);
        if (ep.state === "attached" && isLive(ep.containerId) && n) {
          await this.restoreEndpoint(ep, n).catch((e) => errors.push((e as Error).message));
          continue;
        }
        try {
          await this.tearDownEndpoint(ep, n);
          report.endpoints++;
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      const valid = new Set(this.store.endpoints().map((e) => `${e.containerId}/${e.ifName}`));
      // 2. networks half-made or half-removed: a berth conflist with no row
      for (const { list } of this.confDir.scan().lists.values()) {
        if (!this.isBerthConf(list.name) || [...nets.values()].some((n) => n.cniName === list.name)) continue;
        const br = list.plugins[0]?.bridge;
        for (const c of this.cni.cache.list().filter((c) => c.networkName === list.name)) {
          await this.delAttachment(undefined, { containerId: c.containerId, ifName: c.ifName, networkName: c.networkName }, true).catch(() => this.cni.cache.remove(c.networkName, c.containerId, c.ifName));
          report.cacheEntries++;
        }
        await this.tearDownNetwork({ id: "", cniName: list.name, bridge: typeof br === "string" ? br : undefined });
        report.networks++;
      }
      // 3. GC where supported
      for (const n of nets.values()) {
        try {
          const list = this.conflistOf(n);
          if (!(await this.cni.supportsGC(list))) continue;
          const mine = this.store.endpoints({ networkId: n.id }).map((e) => ({ containerId: e.containerId, ifName: e.ifName }));
          await this.cni.gc(list, mine);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      // 4. cached attachments nobody owns (DEL with the cached conflist)
      for (const c of this.cni.cache.list()) {
        if (valid.has(`${c.containerId}/${c.ifName}`)) continue;
        try {
          await this.delAttachment(undefined, { containerId: c.containerId, ifName: c.ifName, networkName: c.networkName, netns: c.netns }, true);
          report.cacheEntries++;
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      // 5. IPAM leases nobody owns
      report.leases += await this.reapLeases(nets, valid, errors);
      // 6. persistent network namespaces of dead containers
      for (const name of this.netns.list()) {
        if (isLive(name)) continue;
        try {
          await this.netns.remove(name);
          report.netns++;
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      if (errors.length) this.opts.log?.warn?.("network reconcile: some leftovers could not be removed", { errors });
      if (errors.length) throw new BerthError("Internal", `reconcile: ${errors.join("; ")}`);
      return report;
    });
  }

  private async restoreEndpoint(ep: StoredEndpoint, n: Network) {
    const key = epKey(ep.networkId, ep.containerId);
    if (ep.ports.length && !this.reservations.has(key)) {
      const held = await reservePorts(
        ep.ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort })),
        `${ep.name ?? ep.containerId.slice(0, 12)} (${ep.containerId.slice(0, 12)})`,
      );
      this.reservations.set(key, held);
    }
    if (hasDns(n) && ep.ip) this.registerDns(n, ep);
  }

  /** host-local leases (<ipamDir>/<network>/<ip>: "containerId\r\nifname") of attachments that are not valid. */
  private async reapLeases(nets: Map<string, Network>, valid: Set<string>, errors: string[]): Promise<number> {
    let n = 0;
    let dirs: string[] = [];
    try {
      dirs = readdirSync(this.ipamDir);
    } catch {
      return 0;
    }
    for (const d of dirs) {
      const net = [...nets.values()].find((x) => x.cniName === d);
      const dir = join(this.ipamDir, d);
      if (!net) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      for (const f of readdirSync(dir)) {
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(f)) continue;
        const [cid, ifn] = readFileSync(join(dir, f), "utf8").split(/\r?\n/);
        if (!cid || valid.has(`${cid}/${ifn ?? ""}`)) continue;
        try {
          await this.delAttachment(this.conflistOf(net), { containerId: cid, ifName: ifn || "eth0", netns: "", networkName: net.cniName }, true);
        } catch (e) {
          errors.push((e as Error).message);
        }
        rmSync(join(dir, f), { force: true });
        n++;
      }
    }
    return n;
  }

  /** Stop DNS servers and release port reservations; attachments stay (containers keep running). */
  close() {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.servers.values()) s.stop();
    this.servers.clear();
    for (const rs of this.reservations.values()) for (const r of rs) r.release();
    this.reservations.clear();
  }

  /** The address the embedded DNS of a network listens on, if it runs. */
  dnsAddress(networkId: string): string | undefined {
    return this.servers.get(networkId)?.address;
  }
}

/** Do two paths name the same inode (two namespace handles of one namespace)? */
function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

function hasDns(n: Network): boolean {
  return !n.external && !n.isDefault && !!n.gateway;
}

function epKey(networkId: string, containerId: string) {
  return `${networkId}/${containerId}`;
}

function nextIfName(used: string[]): string {
  for (let i = 0; ; i++) if (!used.includes(`eth${i}`)) return `eth${i}`;
}

function checkStringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw invalidArgument(`${field}: want an object of strings`);
  for (const [k, x] of Object.entries(v)) if (typeof x !== "string") throw invalidArgument(`${field}.${k}: want a string`);
  return { ...(v as Record<string, string>) };
}

function externalId(name: string): string {
  return new Bun.CryptoHasher("sha256").update(`berth-cni-conflist:${name}`).digest("hex");
}

function safeMtime(file: string): string {
  try {
    return statSync(file).mtime.toISOString();
  } catch {
    return new Date(0).toISOString();
  }
}

/** Subnets declared by a conflist's IPAM (host-local "subnet" or "ranges"). */
export function conflistSubnets(list: NetConfList): { subnet: string; gateway?: string }[] {
  const out: { subnet: string; gateway?: string }[] = [];
  for (const p of list.plugins) {
    const ipam = p.ipam as Record<string, unknown> | undefined;
    if (!ipam || typeof ipam !== "object") continue;
    if (typeof ipam.subnet === "string") out.push({ subnet: ipam.subnet, gateway: typeof ipam.gateway === "string" ? ipam.gateway : undefined });
    if (Array.isArray(ipam.ranges)) {
      for (const set of ipam.ranges) {
        if (!Array.isArray(set)) continue;
        for (const r of set) if (r && typeof r.subnet === "string") out.push({ subnet: r.subnet, gateway: typeof r.gateway === "string" ? r.gateway : undefined });
      }
    }
  }
  return out.filter((s) => {
    try {
      parseCidr(s.subnet, "subnet", false);
      return !s.subnet.includes(":");
    } catch {
      return false;
    }
  });
}

