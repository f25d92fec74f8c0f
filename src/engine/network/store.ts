/**
 * Networks and endpoints in berthd's SQLite database (migration
 * "0003-networks" in db.ts). Rows <-> model objects, nothing more.
 */
import type { Database } from "bun:sqlite";
import type { Endpoint, Network, PortBinding } from "./model.ts";

interface NetworkRow {
  id: string;
  owner: string;
  name: string;
  driver: string;
  cni_name: string;
  bridge: string | null;
  subnet: string | null;
  gateway: string | null;
  ip_range: string | null;
  user_subnet: number;
  internal: number;
  is_default: number;
  labels_json: string;
  options_json: string;
  created: string;
}

interface EndpointRow {
  network_id: string;
  container_id: string;
  owner: string;
  name: string | null;
  aliases_json: string;
  if_name: string;
  netns: string;
  address: string | null;
  gateway: string | null;
  mac: string | null;
  ports_json: string;
  dns_json: string;
  state: EndpointState;
  created: string;
}

export type EndpointState = "attaching" | "attached" | "detaching";

export interface StoredEndpoint extends Endpoint {
  state: EndpointState;
}

function toNetwork(r: NetworkRow): Network {
  return {
    id: r.id,
    owner: r.owner,
    name: r.name,
    driver: r.driver,
    cniName: r.cni_name,
    bridge: r.bridge ?? undefined,
    subnet: r.subnet ?? undefined,
    gateway: r.gateway ?? undefined,
    ipRange: r.ip_range ?? undefined,
    userSubnet: !!r.user_subnet,
    internal: !!r.internal,
    isDefault: !!r.is_default,
    external: false,
    labels: JSON.parse(r.labels_json),
    options: JSON.parse(r.options_json),
    created: r.created,
  };
}

function toEndpoint(r: EndpointRow): StoredEndpoint {
  const address = r.address ?? "";
  return {
    networkId: r.network_id,
    containerId: r.container_id,
    owner: r.owner,
    name: r.name ?? undefined,
    aliases: JSON.parse(r.aliases_json),
    ifName: r.if_name,
    netns: r.netns,
    address,
    ip: address.split("/")[0] ?? "",
    gateway: r.gateway ?? undefined,
    mac: r.mac ?? undefined,
    ports: JSON.parse(r.ports_json) as PortBinding[],
    dns: JSON.parse(r.dns_json),
    state: r.state,
    created: r.created,
  };
}

export class NetworkStore {
  constructor(readonly db: Database) {}

  networks(): Network[] {
    return this.db.query<NetworkRow, []>("SELECT * FROM networks ORDER BY created, id").all().map(toNetwork);
  }

  network(id: string): Network | undefined {
    const r = this.db.query<NetworkRow, [string]>("SELECT * FROM networks WHERE id = ?").get(id);
    return r ? toNetwork(r) : undefined;
  }

  insertNetwork(n: Network) {
    this.db
      .query(
        `INSERT INTO networks (id, owner, name, driver, cni_name, bridge, subnet, gateway, ip_range, user_subnet, internal, is_default, labels_json, options_json, created)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        n.id,
        n.owner,
        n.name,
        n.driver,
        n.cniName,
        n.bridge ?? null,
        n.subnet ?? null,
        n.gateway ?? null,
        n.ipRange ?? null,
        n.userSubnet ? 1 : 0,
        n.internal ? 1 : 0,
        n.isDefault ? 1 : 0,
        JSON.stringify(n.labels),
        JSON.stringify(n.options),
        n.created,
      );
  }

  deleteNetwork(id: string) {
    this.db.query("DELETE FROM networks WHERE id = ?").run(id);
  }

  endpoints(where: { networkId?: string; containerId?: string } = {}): StoredEndpoint[] {
    const conds: string[] = [];
    const args: string[] = [];
    if (where.networkId) {
      conds.push("network_id = ?");
      args.push(where.networkId);
    }
    if (where.containerId) {
      conds.push("container_id = ?");
      args.push(where.containerId);
    }
    const sql = `SELECT * FROM network_endpoints${conds.length ? ` WHERE ${conds.join(" AND ")}` : ""} ORDER BY created, if_name`;
    return this.db.query<EndpointRow, string[]>(sql).all(...args).map(toEndpoint);
  }

  endpoint(networkId: string, containerId: string): StoredEndpoint | undefined {
    const r = this.db.query<EndpointRow, [string, string]>("SELECT * FROM network_endpoints WHERE network_id = ? AND container_id = ?").get(networkId, containerId);
    return r ? toEndpoint(r) : undefined;
  }

  insertEndpoint(e: StoredEndpoint) {
    this.db
      .query(
        `INSERT INTO network_endpoints (network_id, container_id, owner, name, aliases_json, if_name, netns, address, gateway, mac, ports_json, dns_json, state, created)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        e.networkId,
        e.containerId,
        e.owner,
        e.name ?? null,
        JSON.stringify(e.aliases),
        e.ifName,
        e.netns,
        e.address || null,
        e.gateway ?? null,
        e.mac ?? null,
        JSON.stringify(e.ports),
        JSON.stringify(e.dns),
        e.state,
        e.created,
      );
  }

  markAttached(networkId: string, containerId: string, address: string, gateway: string | undefined, mac: string | undefined) {
    this.db
      .query("UPDATE network_endpoints SET state = 'attached', address = ?, gateway = ?, mac = ? WHERE network_id = ? AND container_id = ?")
      .run(address, gateway ?? null, mac ?? null, networkId, containerId);
  }

  setState(networkId: string, containerId: string, state: EndpointState) {
    this.db.query("UPDATE network_endpoints SET state = ? WHERE network_id = ? AND container_id = ?").run(state, networkId, containerId);
  }

  deleteEndpoint(networkId: string, containerId: string) {
    this.db.query("DELETE FROM network_endpoints WHERE network_id = ? AND container_id = ?").run(networkId, containerId);
  }
}
