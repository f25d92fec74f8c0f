/**
 * The embedded DNS of user-defined networks: one server per network, on UDP
 * and TCP port 53 of the network's gateway address in the host namespace.
 * It answers A (and PTR) for the containers on the networks the asking
 * container is attached to (names, aliases, short ids), and forwards every
 * other question to upstream resolvers: the asking container's --dns servers,
 * else the host's (from /etc/resolv.conf, read by the manager). It answers
 * only containers attached to its network: it is neither an open resolver
 * nor a way to list another network's containers.
 */
import type { Socket, TCPSocketListener, udp } from "bun";
import { canonicalName, decode, encode, aRecord, ptrRecord, replyTo, reverseIPv4, RCODE, TYPE, CLASS_IN, OPCODE_QUERY, type Message } from "./dns/wire.ts";

export const DNS_TTL = 600;

export interface Upstream {
  host: string;
  port: number;
}

/** "1.2.3.4" or "1.2.3.4:5353" */
export function parseUpstream(s: string): Upstream {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`invalid DNS server ${JSON.stringify(s)}`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : 53 };
}

interface Entry {
  containerId: string;
  ip: string;
  names: string[];
  upstreams: Upstream[];
}

/**
 * Who is on which network, under which names. The manager updates it on
 * attach/detach; every network's server reads it.
 */
export class DnsRegistry {
  private readonly nets = new Map<string, Map<string, Entry>>();

  set(networkId: string, containerId: string, ip: string, names: string[], upstreams: Upstream[] = []) {
    let m = this.nets.get(networkId);
    if (!m) this.nets.set(networkId, (m = new Map()));
    const uniq = [...new Set(names.filter(Boolean).map(canonicalName))];
    m.set(containerId, { containerId, ip, names: uniq, upstreams });
  }

  remove(networkId: string, containerId: string) {
    this.nets.get(networkId)?.delete(containerId);
  }

  dropNetwork(networkId: string) {
    this.nets.delete(networkId);
  }

  /** the entry of the container with this address on this network */
  member(networkId: string, ip: string): Entry | undefined {
    for (const e of this.nets.get(networkId)?.values() ?? []) if (e.ip === ip) return e;
    return undefined;
  }

  /** networks (this one first) a client sees names on: every DNS network it is attached to */
  private visible(networkId: string, client: Entry): string[] {
    const out = [networkId];
    for (const [id, m] of this.nets) if (id !== networkId && m.has(client.containerId)) out.push(id);
    return out;
  }

  lookup(networkId: string, client: Entry, name: string): string[] {
    const n = canonicalName(name);
    for (const id of this.visible(networkId, client)) {
      const ips = [...(this.nets.get(id)?.values() ?? [])].filter((e) => e.names.includes(n)).map((e) => e.ip);
      if (ips.length) return ips;
    }
    return [];
  }

  reverse(networkId: string, client: Entry, ip: string): string | undefined {
    for (const id of this.visible(networkId, client)) {
      for (const e of this.nets.get(id)?.values() ?? []) if (e.ip === ip && e.names[0]) return e.names[0];
    }
    return undefined;
  }
}

export interface DnsServerOptions {
  networkId: string;
  /** the gateway address to listen on */
  address: string;
  port?: number;
  registry: DnsRegistry;
  /** resolvers for containers that did not ask for their own */
  upstreams: () => Upstream[];
  /** per upstream try */
  timeoutMs?: number;
  /** forward unknown names upstream (default true); false answers them SERVFAIL */
  forward?: boolean;
}

export class DnsServer {
  private udpSock?: udp.Socket<"uint8array">;
  private tcp?: TCPSocketListener<{ buf: Uint8Array }>;
  private stopped = false;

  private constructor(readonly opts: DnsServerOptions) {}

  static async start(opts: DnsServerOptions): Promise<DnsServer> {
    const s = new DnsServer(opts);
    const port = opts.port ?? 53;
    s.udpSock = await Bun.udpSocket({
      hostname: opts.address,
      port,
      binaryType: "uint8array",
      socket: {
        data: (sock, data, rport, raddr) => {
          void s.answer(data, raddr, "udp").then((reply) => {
            if (reply && !s.stopped) sock.send(reply, rport, raddr);
          });
        },
        // a client that went away (ICMP unreachable) must not take the server down
        error: () => {},
      },
    });
    try {
      s.tcp = Bun.listen<{ buf: Uint8Array }>({
        hostname: opts.address,
        port,
        socket: {
          open: (sock) => {
            sock.data = { buf: new Uint8Array(0) };
          },
          data: (sock, chunk) => s.onTcpData(sock, chunk),
          error: () => {},
        },
      });
    } catch (e) {
      s.udpSock.close();
      throw e;
    }
    return s;
  }

  get address() {
    return this.opts.address;
  }

  stop() {
    this.stopped = true;
    this.udpSock?.close();
    this.tcp?.stop(true);
  }

  private onTcpData(sock: Socket<{ buf: Uint8Array }>, chunk: Uint8Array) {
    const prev = sock.data.buf;
    let buf = new Uint8Array(prev.length + chunk.length);
    buf.set(prev);
    buf.set(chunk, prev.length);
    while (buf.length >= 2) {
      const len = (buf[0]! << 8) | buf[1]!;
      if (buf.length < 2 + len) break;
      const msg = buf.slice(2, 2 + len);
      buf = buf.slice(2 + len);
      void this.answer(msg, sock.remoteAddress, "tcp").then((reply) => {
        if (!reply || this.stopped) return;
        const framed = new Uint8Array(reply.length + 2);
        framed[0] = reply.length >> 8;
        framed[1] = reply.length & 255;
        framed.set(reply, 2);
        sock.write(framed);
      });
    }
    if (buf.length > 65537) sock.end();
    sock.data.buf = buf;
  }

  /** The reply bytes to a query from `client`, or undefined to stay silent. */
  async answer(data: Uint8Array, client: string, via: "udp" | "tcp"): Promise<Uint8Array | undefined> {
    let q: Message;
    try {
      q = decode(data);
    } catch {
      if (data.length < 12) return undefined;
      // echo the id with FORMERR
      return encode({ id: (data[0]! << 8) | data[1]!, flags: { qr: true, opcode: 0, aa: false, tc: false, rd: false, ra: true, rcode: RCODE.FORMERR }, questions: [], answers: [], authorities: [], additionals: [] });
    }
    if (q.flags.qr) return undefined;
    const { registry, networkId } = this.opts;
    const me = registry.member(networkId, client.replace(/^::ffff:/, ""));
    if (!me) return encode(replyTo(q, RCODE.REFUSED, [], false));
    if (q.flags.opcode !== OPCODE_QUERY) return encode(replyTo(q, RCODE.NOTIMP, [], false));
    if (q.questions.length !== 1) return encode(replyTo(q, RCODE.FORMERR, [], false));
    const question = q.questions[0]!;
    if (question.class === CLASS_IN) {
      const rev = question.type === TYPE.PTR ? reverseIPv4(question.name) : undefined;
      if (rev) {
        const name = registry.reverse(networkId, me, rev);
        if (name) return encode(replyTo(q, RCODE.NOERROR, [ptrRecord(question.name, name, DNS_TTL)]));
      } else {
        const ips = registry.lookup(networkId, me, question.name);
        if (ips.length) {
          const answers = question.type === TYPE.A || question.type === TYPE.ANY ? ips.map((ip) => aRecord(question.name, ip, DNS_TTL)) : [];
          return encode(replyTo(q, RCODE.NOERROR, answers));
        }
      }
    }
    if (this.opts.forward === false) return encode(replyTo(q, RCODE.SERVFAIL, [], false));
    const ups = me.upstreams.length ? me.upstreams : this.opts.upstreams();
    for (const u of ups) {
      const reply = await (via === "udp" ? forwardUdp(data, u, this.opts.timeoutMs ?? 2000) : forwardTcp(data, u, this.opts.timeoutMs ?? 2000)).catch(() => undefined);
      if (reply) return reply;
    }
    return encode(replyTo(q, RCODE.SERVFAIL, [], false));
  }
}

/** Send a query to an upstream over UDP; resolve with the reply that carries the same id. */
export async function forwardUdp(query: Uint8Array, u: Upstream, timeoutMs: number): Promise<Uint8Array | undefined> {
  const id = (query[0]! << 8) | query[1]!;
  let done!: (v: Uint8Array | undefined) => void;
  const result = new Promise<Uint8Array | undefined>((r) => (done = r));
  const sock = await Bun.udpSocket({
    binaryType: "uint8array",
    socket: {
      data: (_s, data, _port, addr) => {
        if (addr.replace(/^::ffff:/, "") === u.host && data.length >= 2 && ((data[0]! << 8) | data[1]!) === id) done(data);
      },
      // ICMP port unreachable and the like: this upstream is out
      error: () => done(undefined),
    },
  });
  const timer = setTimeout(() => done(undefined), timeoutMs);
  try {
    sock.send(query, u.port, u.host);
    return await result;
  } finally {
    clearTimeout(timer);
    sock.close();
  }
}

/** Send a query to an upstream over TCP (2-byte length framing). */
export async function forwardTcp(query: Uint8Array, u: Upstream, timeoutMs: number): Promise<Uint8Array | undefined> {
  let done!: (v: Uint8Array | undefined) => void;
  const result = new Promise<Uint8Array | undefined>((r) => (done = r));
  let buf = new Uint8Array(0);
  const sock = await Bun.connect({
    hostname: u.host,
    port: u.port,
    socket: {
      data: (_s, chunk) => {
        const b = new Uint8Array(buf.length + chunk.length);
        b.set(buf);
        b.set(chunk, buf.length);
        buf = b;
        if (buf.length >= 2) {
          const len = (buf[0]! << 8) | buf[1]!;
          if (buf.length >= 2 + len) done(buf.slice(2, 2 + len));
        }
      },
      close: () => done(undefined),
      error: () => done(undefined),
    },
  });
  const timer = setTimeout(() => done(undefined), timeoutMs);
  try {
    const framed = new Uint8Array(query.length + 2);
    framed[0] = query.length >> 8;
    framed[1] = query.length & 255;
    framed.set(query, 2);
    sock.write(framed);
    return await result;
  } finally {
    clearTimeout(timer);
    sock.end();
  }
}
