/**
 * A container's networking, from its record: the network namespace and the
 * attachments of its NetworkMode / EndpointsConfig networks, published ports,
 * and the generated /etc/hosts, /etc/hostname and /etc/resolv.conf, in
 * Docker's shapes (NetworkSettings). The container service calls:
 *
 *   setup(record)      before the runtime creates the container (start)
 *   teardown(record)   after the container stopped (also after SIGKILL; idempotent)
 *   connect/disconnect live (running: the netns exists) or on a stopped one
 *                      (only the record changes; the next setup attaches)
 *
 * NetworkMode: "" / "default" / "bridge" = the tenant's default network; a
 * network name or id; "none" (the runtime makes an empty netns: loopback
 * only); "host" (no netns: the host's); "container:<ref>" (that container's).
 *
 * Files live in <exec root>/containers/<id>/ (the directory of the record's
 * bundle), unless setup is given another directory.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { BerthError, invalidArgument } from "../../errors.ts";
import { extraHostLines, resolvConf } from "../network/etc-files.ts";
import { DEFAULT_NETWORK, type NetworkManager } from "../network/manager.ts";
import { checkStaticIp } from "../network/subnets.ts";
import type { AttachResult, Network, PortBinding, PortRequest } from "../network/model.ts";
import { isNsMount } from "../network/netns.ts";
import type { ContainerLookup, ContainerRecord, EndpointSettings, NetworkSettings } from "./model.ts";

export interface NetworkSetup {
  /** the netns the spec joins (linux.namespaces network path); undefined for none (a new one) and host (none at all) */
  netnsPath?: string;
  settings: NetworkSettings;
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
}

export interface ContainerNetworkingOptions {
  networks: NetworkManager;
  containers: ContainerLookup;
  execRoot: string;
  /** the host's files for NetworkMode host (defaults /etc/hosts, /etc/resolv.conf) */
  hostHostsPath?: string;
  hostResolvConfPath?: string;
}

export type NetworkMode =
  | { kind: "network"; network: string; isDefault: boolean }
  | { kind: "none" }
  | { kind: "host" }
  | { kind: "container"; ref: string };

/** The record's NetworkMode, parsed. */
export function networkMode(record: Pick<ContainerRecord, "HostConfig">): NetworkMode {
  const m = record.HostConfig.NetworkMode ?? "";
  if (m === "" || m === "default" || m === DEFAULT_NETWORK) return { kind: "network", network: DEFAULT_NETWORK, isDefault: true };
  if (m === "none") return { kind: "none" };
  if (m === "host") return { kind: "host" };
  if (m.startsWith("container:")) {
    const ref = m.slice("container:".length);
    if (!ref) throw invalidArgument(`NetworkMode: want container:<name|id>, got ${JSON.stringify(m)}`);
    return { kind: "container", ref };
  }
  return { kind: "network", network: m, isDefault: false };
}

/** Ids of the built-in networks that are not bridges (stable per tenant). */
export function builtinNetworkId(tenant: string, name: "host" | "none"): string {
  return createHash("sha256").update(`berth-builtin:${tenant}:${name}`).digest("hex");
}

/** Docker's EndpointID: one per (network, container). */
export function endpointId(networkId: string, containerId: string): string {
  return createHash("sha256").update(`${networkId}/${containerId}`).digest("hex");
}

export function emptySettings(): NetworkSettings {
  return { Ports: {}, Networks: {}, SandboxKey: "", IPAddress: "", IPPrefixLen: 0, Gateway: "", MacAddress: "" };
}

/** What inspect shows for a stopped container: its networks without addresses, no ports. */
export function stoppedSettings(s: NetworkSettings): NetworkSettings {
  const nets: Record<string, EndpointSettings> = {};
  for (const [k, e] of Object.entries(s.Networks ?? {})) nets[k] = { ...e, EndpointID: "", Gateway: "", IPAddress: "", IPPrefixLen: 0, MacAddress: "", DNSNames: null };
  return { ...emptySettings(), Networks: nets };
}

/** HostConfig.PortBindings (+ PublishAllPorts with the exposed ports) as port requests. */
export function portRequests(record: Pick<ContainerRecord, "HostConfig" | "Config">): PortRequest[] {
  const out: PortRequest[] = [];
  const seen = new Set<string>();
  for (const [key, list] of Object.entries(record.HostConfig.PortBindings ?? {})) {
    const p = parsePortKey(key, "PortBindings");
    seen.add(`${p.port}-${p.end}/${p.proto}`);
    for (const [i, b] of (list ?? []).entries()) {
      const f = `PortBindings[${key}][${i}]`;
      const hp = b?.HostPort ?? "";
      const m = /^(\d+)?(?:-(\d+))?$/.exec(hp);
      if (!m || (m[2] && !m[1])) throw invalidArgument(`${f}.HostPort: invalid port ${JSON.stringify(hp)}`);
      if (b?.HostIp && b.HostIp.includes(":")) throw invalidArgument(`${f}.HostIp: IPv6 is not supported yet (${b.HostIp})`);
      out.push({
        containerPort: p.port,
        containerPortEnd: p.end,
        protocol: p.proto,
        hostIp: b?.HostIp || undefined,
        hostPort: m[1] ? Number(m[1]) : 0,
        hostPortEnd: m[2] ? Number(m[2]) : undefined,
      });
    }
    if (record.HostConfig.PublishAllPorts && !(list ?? []).length) out.push({ containerPort: p.port, containerPortEnd: p.end, protocol: p.proto });
  }
  if (record.HostConfig.PublishAllPorts) {
    for (const key of Object.keys(record.Config.ExposedPorts ?? {})) {
      const p = parsePortKey(key, "ExposedPorts");
      if (seen.has(`${p.port}-${p.end}/${p.proto}`)) continue;
      out.push({ containerPort: p.port, containerPortEnd: p.end, protocol: p.proto });
    }
  }
  return out;
}

function parsePortKey(key: string, field: string): { port: number; end: number; proto: "tcp" | "udp" } {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(key);
  if (!m) throw invalidArgument(`${field}: invalid port ${JSON.stringify(key)} (want PORT[/tcp|udp])`);
  const proto = (m[3] ?? "tcp").toLowerCase();
  if (proto === "sctp") throw invalidArgument(`${field}: ${key}: sctp is not supported`);
  const port = Number(m[1]);
  const end = m[2] ? Number(m[2]) : port;
  if (port < 1 || port > 65535 || end < port || end > 65535) throw invalidArgument(`${field}: invalid port ${JSON.stringify(key)}`);
  return { port, end, proto: proto as "tcp" | "udp" };
}

/** NetworkSettings.Ports: every exposed or bound port, with its host bindings (null when not published). */
function portsMap(record: Pick<ContainerRecord, "HostConfig" | "Config">, bound: PortBinding[]): NetworkSettings["Ports"] {
  const out: NetworkSettings["Ports"] = {};
  const keys = [...Object.keys(record.Config.ExposedPorts ?? {}), ...Object.keys(record.HostConfig.PortBindings ?? {})];
  for (const k of keys) {
    const p = parsePortKey(k, "ports");
    for (let port = p.port; port <= p.end; port++) out[`${port}/${p.proto}`] ??= null;
  }
  for (const b of bound) (out[`${b.containerPort}/${b.protocol}`] ??= []).push({ HostIp: b.hostIp, HostPort: String(b.hostPort) });
  for (const k of Object.keys(out)) if (out[k] && !out[k]!.length) out[k] = null;
  return out;
}

function hostnameOf(record: ContainerRecord): string {
  return record.Config.Hostname || record.Id.slice(0, 12);
}

/** Write a file in place (a bind mount of it stays valid: same inode). */
function writeInPlace(path: string, text: string) {
  writeFileSync(path, text, { mode: 0o644 });
}

export class ContainerNetworking {
  private readonly net: NetworkManager;
  private readonly containers: ContainerLookup;
  private readonly opts: ContainerNetworkingOptions;
  /**
   * Called with the record after connect/disconnect changed its
   * NetworkingConfig/NetworkSettings (the container service stores it).
   */
  onChange?: (record: ContainerRecord) => void;

  constructor(opts: ContainerNetworkingOptions) {
    this.opts = opts;
    this.net = opts.networks;
    this.containers = opts.containers;
  }

  /** <exec root>/containers/<id> */
  dirOf(record: Pick<ContainerRecord, "Id">): string {
    if (!/^[0-9a-f]{12,64}$/.test(record.Id)) throw invalidArgument(`container id: invalid ${JSON.stringify(record.Id)}`);
    return join(this.opts.execRoot, "containers", record.Id);
  }

  /** Is the container's own network namespace (made by setup) there? */
  hasNetns(containerId: string): boolean {
    return isNsMount(this.net.netns.path(containerId));
  }

  /**
   * The networks a container is attached to at start, primary first:
   * EndpointsConfig's (when any), else the NetworkMode network.
   */
  private async networksFor(record: ContainerRecord, mode: Extract<NetworkMode, { kind: "network" }>): Promise<{ net: Network; key: string; cfg: EndpointSettings }[]> {
    const tenant = record.tenant;
    // the docker CLI names the default network "default" (NetworkMode and EndpointsConfig key)
    const resolve = async (ref: string) => (ref === DEFAULT_NETWORK || ref === "default" || ref === "" ? await this.net.ensureDefault(tenant) : this.net.get(tenant, ref));
    const primary = await resolve(mode.network);
    const eps = Object.entries(record.NetworkingConfig?.EndpointsConfig ?? {});
    const out: { net: Network; key: string; cfg: EndpointSettings }[] = [];
    const add = (net: Network, key: string, cfg: EndpointSettings | null | undefined) => {
      if (out.some((o) => o.net.id === net.id)) return;
      out.push({ net, key, cfg: cfg ?? {} });
    };
    if (!eps.length) add(primary, primary.name, {});
    else {
      const resolved: { net: Network; key: string; cfg: EndpointSettings }[] = [];
      for (const [k, cfg] of eps) resolved.push({ net: await resolve(k), key: k, cfg: cfg ?? {} });
      const first = resolved.find((r) => r.net.id === primary.id);
      if (first) add(first.net, first.net.name, first.cfg);
      for (const r of resolved) add(r.net, r.net.name, r.cfg);
    }
    return out;
  }

  private checkEndpointConfig(net: Network, cfg: EndpointSettings, key: string) {
    const f = `EndpointsConfig[${key}]`;
    for (const [i, a] of (cfg.Aliases ?? []).entries()) if (typeof a !== "string") throw invalidArgument(`${f}.Aliases[${i}]: want a string`);
    if ((cfg.Aliases ?? []).length && net.isDefault) throw invalidArgument("network-scoped alias is supported only for containers in user defined networks");
    if (cfg.IPAMConfig?.IPv6Address) throw invalidArgument(`${f}.IPAMConfig.IPv6Address: IPv6 is not supported yet`);
    if (cfg.MacAddress) throw invalidArgument(`${f}.MacAddress: a fixed MAC address is not supported yet`);
  }

  /** Legacy links: "name[:alias]" -> the linked container's address on the default network and its names. */
  private links(record: ContainerRecord): { ip: string; names: string[] }[] {
    return (record.HostConfig.Links ?? []).map((l, i) => {
      if (typeof l !== "string" || !l) throw invalidArgument(`Links[${i}]: want "name[:alias]"`);
      const [ref, alias] = l.replace(/^\//, "").split(":") as [string, string | undefined];
      const other = this.containers.get(record.tenant, ref);
      const a = (alias ?? other.Name).replace(/^.*\//, "");
      const ep = other.NetworkSettings?.Networks?.[DEFAULT_NETWORK];
      if (!other.State.Running || !ep?.IPAddress) throw invalidArgument(`Cannot link to a non running container: /${other.Name} AS /${record.Name}/${a}`);
      const names = [...new Set([a, other.Id.slice(0, 12), other.Name])];
      return { ip: ep.IPAddress, names };
    });
  }

  private endpointSettings(record: ContainerRecord, net: Network, cfg: EndpointSettings, r: AttachResult): EndpointSettings {
    return {
      IPAMConfig: cfg.IPAMConfig ?? null,
      Links: cfg.Links ?? null,
      Aliases: cfg.Aliases ?? null,
      MacAddress: r.mac ?? "",
      NetworkID: net.id,
      EndpointID: endpointId(net.id, record.Id),
      Gateway: r.gateway ?? "",
      IPAddress: r.ip,
      IPPrefixLen: r.prefixLen,
      DNSNames: net.isDefault ? null : [...new Set([record.Name, record.Id.slice(0, 12), ...(cfg.Aliases ?? [])].filter(Boolean))],
    };
  }

  /** The record's /etc files from its attachments, written (in place) under dir. */
  private writeEtc(record: ContainerRecord, dir: string, links: { ip: string; names: string[] }[]) {
    const hc = record.HostConfig;
    const etc = this.net.etcFiles(record.Id, {
      hostname: hostnameOf(record),
      domainname: record.Config.Domainname || undefined,
      extraHosts: hc.ExtraHosts ?? undefined,
      dns: hc.Dns ?? undefined,
      dnsSearch: hc.DnsSearch ?? undefined,
      dnsOptions: hc.DnsOptions ?? undefined,
      links,
    });
    return this.writeFiles(dir, etc.hosts, etc.hostname, etc.resolvConf);
  }

  private writeFiles(dir: string, hosts: string, hostname: string, resolv: string) {
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    const paths = { hostsPath: join(dir, "hosts"), hostnamePath: join(dir, "hostname"), resolvConfPath: join(dir, "resolv.conf") };
    writeInPlace(paths.hostsPath, hosts);
    writeInPlace(paths.hostnamePath, hostname);
    writeInPlace(paths.resolvConfPath, resolv);
    return paths;
  }

  /**
   * At create, as docker's daemon does: the network settings a start would
   * refuse (NetworkMode, unknown networks or containers, aliases and static
   * addresses where they cannot be, port specs), with no effect. Returns
   * docker's warnings (published ports in host mode are discarded).
   */
  check(record: ContainerRecord): string[] {
    const mode = networkMode(record);
    const hc = record.HostConfig;
    const warnings: string[] = [];
    if (mode.kind === "host" || mode.kind === "container") {
      if ((hc.PortBindings && Object.values(hc.PortBindings).some((l) => l?.length)) || hc.PublishAllPorts) {
        if (mode.kind === "container") throw invalidArgument("conflicting options: port publishing and the container type network mode");
        warnings.push("Published ports are discarded when using host network mode");
      }
    }
    // as docker: a network or container: target that does not exist (yet) is the start's error, not create's
    if (mode.kind !== "network") {
      if (Object.keys(record.NetworkingConfig?.EndpointsConfig ?? {}).some((k) => k !== hc.NetworkMode && !(k === "host" && mode.kind === "host") && !(k === "none" && mode.kind === "none"))) {
        throw invalidArgument("container sharing network namespace with another container or host cannot be connected to any other network");
      }
      return warnings;
    }
    portRequests(record);
    const resolve = (ref: string): Network | undefined => {
      if (ref === DEFAULT_NETWORK || ref === "default" || ref === "") return undefined;
      try {
        return this.net.get(record.tenant, ref);
      } catch (e) {
        if (e instanceof BerthError && e.code === "NotFound") return undefined;
        throw e;
      }
    };
    const known = (ref: string) => ref === DEFAULT_NETWORK || ref === "default" || ref === "" || resolve(ref) !== undefined;
    const primary = resolve(mode.network);
    const eps = Object.entries(record.NetworkingConfig?.EndpointsConfig ?? {});
    const checkOne = (net: Network | undefined, key: string, cfg: EndpointSettings | null | undefined) => {
      const c = cfg ?? {};
      if (!net && !known(key)) return; // checked against the network at start
      const isDefault = !net || net.isDefault;
      if ((c.Aliases ?? []).length && isDefault) throw invalidArgument("network-scoped alias is supported only for containers in user defined networks");
      const ip = c.IPAMConfig?.IPv4Address;
      if (ip) {
        if (isDefault || !net!.userSubnet || !net!.subnet) throw invalidArgument("user specified IP address is supported only when connecting to networks with user configured subnets");
        try {
          checkStaticIp(ip, net!.subnet, net!.gateway, "IPv4Address");
        } catch (e) {
          // docker's wording: "invalid config for network N: ..."
          if (e instanceof BerthError) throw new BerthError(e.code, `invalid config for network ${key}: ${e.message}`);
          throw e;
        }
      }
      if (net) this.checkEndpointConfig(net, c, key);
    };
    if (!eps.length) checkOne(primary, mode.network, {});
    for (const [k, cfg] of eps) checkOne(resolve(k), k, cfg);
    return warnings;
  }

  /**
   * Make the container's network before the runtime creates it. On error,
   * nothing is left behind (attachments, netns, reserved ports).
   */
  async setup(record: ContainerRecord, opts: { dir?: string } = {}): Promise<NetworkSetup> {
    const mode = networkMode(record);
    const dir = opts.dir ?? this.dirOf(record);
    const hc = record.HostConfig;
    if (mode.kind === "host") {
      // published ports are discarded in host mode, as docker does (create warned)
      const hostHosts = readText(this.opts.hostHostsPath ?? "/etc/hosts");
      const extra = extraHostLines(hc.ExtraHosts ?? undefined);
      const hostResolv = readText(this.opts.hostResolvConfPath ?? "/etc/resolv.conf");
      const resolv = hc.Dns?.length || hc.DnsSearch?.length || hc.DnsOptions?.length ? resolvConf({ host: hostResolv, dns: hc.Dns ?? undefined, dnsSearch: hc.DnsSearch ?? undefined, dnsOptions: hc.DnsOptions ?? undefined }) : hostResolv;
      const files = this.writeFiles(dir, [hostHosts.replace(/\n?$/, "\n"), ...extra.map((l) => l + "\n")].join(""), `${osHostname()}\n`, resolv);
      const settings = emptySettings();
      settings.Networks = { host: { NetworkID: builtinNetworkId(record.tenant, "host"), EndpointID: endpointId(builtinNetworkId(record.tenant, "host"), record.Id), Gateway: "", IPAddress: "", IPPrefixLen: 0, MacAddress: "", Aliases: null, Links: null, IPAMConfig: null, DNSNames: null } };
      return { settings, ...files };
    }
    if (mode.kind === "container") {
      const other = this.containers.get(record.tenant, mode.ref);
      if (other.Id === record.Id) throw invalidArgument("cannot join own network namespace");
      if (!other.State.Running) throw new BerthError("FailedPrecondition", `cannot join network namespace of a non running container: ${mode.ref}`);
      const netnsPath = this.hasNetns(other.Id) ? this.net.netns.path(other.Id) : `/proc/${other.State.Pid}/ns/net`;
      if (!existsSync(netnsPath)) throw new BerthError("FailedPrecondition", `cannot join network namespace of container ${mode.ref}: it has none`);
      const settings = emptySettings();
      settings.SandboxKey = netnsPath;
      return { netnsPath, settings, hostsPath: other.HostsPath, resolvConfPath: other.ResolvConfPath, hostnamePath: other.HostnamePath };
    }
    if (mode.kind === "none") {
      const files = this.writeEtc(record, dir, []);
      const settings = emptySettings();
      const id = builtinNetworkId(record.tenant, "none");
      settings.Networks = { none: { NetworkID: id, EndpointID: endpointId(id, record.Id), Gateway: "", IPAddress: "", IPPrefixLen: 0, MacAddress: "", Aliases: null, Links: null, IPAMConfig: null, DNSNames: null } };
      return { settings, ...files };
    }
    // bridge / user-defined networks: check everything that can be checked first
    const nets = await this.networksFor(record, mode);
    for (const n of nets) this.checkEndpointConfig(n.net, n.cfg, n.key);
    const ports = portRequests(record);
    const links = this.links(record);
    const netnsPath = await this.net.createNetns(record.Id);
    try {
      const settings = emptySettings();
      settings.SandboxKey = netnsPath;
      let bound: PortBinding[] = [];
      for (const [i, n] of nets.entries()) {
        const r = await this.net.attach(record.tenant, n.net.id, {
          containerId: record.Id,
          netns: netnsPath,
          name: record.Name,
          aliases: n.cfg.Aliases ?? undefined,
          ip: n.cfg.IPAMConfig?.IPv4Address || undefined,
          ports: i === 0 ? ports : undefined,
          dns: hc.Dns ?? undefined,
        });
        if (i === 0) bound = r.ports;
        settings.Networks[n.net.name] = this.endpointSettings(record, n.net, n.cfg, r);
      }
      settings.Ports = portsMap(record, bound);
      flatten(settings);
      const files = this.writeEtc(record, dir, links);
      return { netnsPath, settings, ...files };
    } catch (e) {
      await this.release(record.Id).catch(() => {});
      throw e;
    }
  }

  private async release(containerId: string) {
    let err: unknown;
    await this.net.detachAll(containerId).catch((e) => (err = e));
    await this.net.removeNetns(containerId);
    if (err) throw err;
  }

  /**
   * After the container stopped (any way, SIGKILL too): detach from every
   * network, remove the netns, release ports and leases. Idempotent. Returns
   * the settings to keep for the stopped container.
   */
  async teardown(record: ContainerRecord): Promise<NetworkSettings> {
    await this.release(record.Id);
    return stoppedSettings(record.NetworkSettings ?? emptySettings());
  }

  /** Remove the generated files (container removal). */
  removeFiles(record: ContainerRecord, opts: { dir?: string } = {}) {
    const dir = opts.dir ?? this.dirOf(record);
    for (const f of ["hosts", "hostname", "resolv.conf"]) rmSync(join(dir, f), { force: true });
  }

  private checkConnectable(record: ContainerRecord, net: string) {
    const mode = networkMode(record);
    if (net === "host" || net === "none" || mode.kind === "host") throw new BerthError("PermissionDenied", "container cannot be disconnected from host network or connected to host network");
    if (mode.kind !== "network") throw new BerthError("PermissionDenied", "container sharing network namespace with another container or host cannot be connected to any other network");
    return mode;
  }

  /** EndpointsConfig with the NetworkMode network written out (so connect/disconnect change an explicit list). */
  private endpointsConfig(record: ContainerRecord, mode: Extract<NetworkMode, { kind: "network" }>): Record<string, EndpointSettings> {
    record.NetworkingConfig ??= {};
    const eps = (record.NetworkingConfig.EndpointsConfig ??= {});
    if (!Object.keys(eps).length) eps[mode.network] = {};
    return eps;
  }

  /**
   * Connect a container to a network: live when its netns exists (attach,
   * /etc files rewritten in place), else only the record (the next setup
   * attaches). Mutates record.NetworkingConfig and record.NetworkSettings;
   * the caller stores the record.
   */
  async connect(record: ContainerRecord, ref: string, cfg: EndpointSettings = {}): Promise<NetworkSettings> {
    const mode = this.checkConnectable(record, ref);
    const net = ref === DEFAULT_NETWORK ? await this.net.ensureDefault(record.tenant) : this.net.get(record.tenant, ref);
    this.checkEndpointConfig(net, cfg, net.name);
    record.NetworkSettings ??= emptySettings();
    if (record.NetworkSettings.Networks[net.name]?.EndpointID || this.net.endpointsOf(record.Id).some((e) => e.networkId === net.id)) {
      throw new BerthError("PermissionDenied", `endpoint with name ${record.Name} already exists in network ${net.name}`);
    }
    const eps = this.endpointsConfig(record, mode);
    const existing = Object.keys(eps).find((k) => k === net.name || k === net.id);
    if (!this.hasNetns(record.Id)) {
      if (existing) throw new BerthError("PermissionDenied", `endpoint with name ${record.Name} already exists in network ${net.name}`);
      eps[net.name] = cfg;
      record.NetworkSettings.Networks[net.name] = { ...cfg, NetworkID: net.id, EndpointID: "", Gateway: "", IPAddress: "", IPPrefixLen: 0, MacAddress: "", DNSNames: null };
      this.onChange?.(record);
      return record.NetworkSettings;
    }
    const r = await this.net.attach(record.tenant, net.id, {
      containerId: record.Id,
      netns: this.net.netns.path(record.Id),
      name: record.Name,
      aliases: cfg.Aliases ?? undefined,
      ip: cfg.IPAMConfig?.IPv4Address || undefined,
      dns: record.HostConfig.Dns ?? undefined,
    });
    if (existing && existing !== net.name) delete eps[existing];
    eps[net.name] = cfg;
    record.NetworkSettings.Networks[net.name] = this.endpointSettings(record, net, cfg, r);
    flatten(record.NetworkSettings);
    this.rewriteEtc(record);
    this.onChange?.(record);
    return record.NetworkSettings;
  }

  /** Disconnect (live or in the record). `force`: also when the network is gone. */
  async disconnect(record: ContainerRecord, ref: string, force = false): Promise<NetworkSettings> {
    const mode = this.checkConnectable(record, ref);
    let net: Network | undefined;
    try {
      net = ref === DEFAULT_NETWORK ? await this.net.ensureDefault(record.tenant) : this.net.get(record.tenant, ref);
    } catch (e) {
      if (!force || !(e instanceof BerthError) || e.code !== "NotFound") throw e;
    }
    record.NetworkSettings ??= emptySettings();
    const eps = this.endpointsConfig(record, mode);
    const name = net?.name ?? ref;
    const key = Object.keys(eps).find((k) => k === name || (net && k === net.id));
    const live = net && this.net.endpointsOf(record.Id).some((e) => e.networkId === net!.id);
    if (!key && !live && !(name in record.NetworkSettings.Networks)) throw new BerthError("FailedPrecondition", `container ${record.Id} is not connected to network ${name}`);
    if (live) await this.net.detach(record.tenant, net!.id, record.Id);
    if (key) delete eps[key];
    delete record.NetworkSettings.Networks[name];
    if (!Object.keys(record.NetworkSettings.Networks).length) record.NetworkSettings.Ports = {};
    flatten(record.NetworkSettings);
    if (live) this.rewriteEtc(record);
    this.onChange?.(record);
    return record.NetworkSettings;
  }

  private rewriteEtc(record: ContainerRecord) {
    const dir = record.HostsPath ? join(record.HostsPath, "..") : this.dirOf(record);
    let links: { ip: string; names: string[] }[] = [];
    try {
      links = this.links(record);
    } catch {
      // a linked container that stopped since: its entry goes
    }
    this.writeEtc(record, dir, links);
  }
}

/** docker's legacy top-level fields: the default bridge's endpoint. */
function flatten(s: NetworkSettings) {
  const ep = s.Networks[DEFAULT_NETWORK];
  s.IPAddress = ep?.IPAddress ?? "";
  s.IPPrefixLen = ep?.IPPrefixLen ?? 0;
  s.Gateway = ep?.Gateway ?? "";
  s.MacAddress = ep?.MacAddress ?? "";
}

function readText(p: string): string {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return "";
  }
}
