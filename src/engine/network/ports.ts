/**
 * Published ports: docker's requests (ranges, random host ports, host IPs,
 * tcp/udp) resolved into single bindings, and host-port reservations. A
 * reservation is a socket berth holds bound on the host address and port for
 * as long as the binding exists (as docker-proxy and conmon do): a port some
 * other process already holds is refused before anything is set up, and no
 * other process can take a published port later. The portmap plugin's DNAT
 * catches the traffic before it reaches the socket.
 */
import { BerthError, invalidArgument } from "../../errors.ts";
import { parseIPv4 } from "./ipnet.ts";
import type { PortBinding, PortProto, PortRequest } from "./model.ts";

export interface Reservation {
  binding: PortBinding;
  release(): void;
}

function checkPort(n: unknown, field: string, allowZero: boolean): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) throw invalidArgument(`${field}: invalid port ${JSON.stringify(n)}`);
  return n;
}

/** Check a request list; returns normalized requests (protocol, host ip set). */
export function normalizePorts(reqs: PortRequest[], defaultHostIp = "0.0.0.0"): Required<Omit<PortRequest, "hostPortEnd">>[] & { hostPortEnd?: number }[] {
  return reqs.map((r, i) => {
    const f = `ports[${i}]`;
    const containerPort = checkPort(r.containerPort, `${f}.containerPort`, false);
    const containerPortEnd = checkPort(r.containerPortEnd ?? containerPort, `${f}.containerPortEnd`, false);
    if (containerPortEnd < containerPort) throw invalidArgument(`${f}: invalid port range ${containerPort}-${containerPortEnd}`);
    const protocol = (r.protocol ?? "tcp").toLowerCase() as PortProto;
    if (protocol !== "tcp" && protocol !== "udp") throw invalidArgument(`${f}.protocol: want tcp or udp, got ${JSON.stringify(r.protocol)}`);
    const hostIp = r.hostIp || defaultHostIp;
    parseIPv4(hostIp, `${f}.hostIp`);
    const hostPort = checkPort(r.hostPort ?? 0, `${f}.hostPort`, true);
    const hostPortEnd = r.hostPortEnd === undefined ? undefined : checkPort(r.hostPortEnd, `${f}.hostPortEnd`, false);
    if (hostPortEnd !== undefined && (hostPort === 0 || hostPortEnd < hostPort)) throw invalidArgument(`${f}: invalid host port range ${hostPort}-${hostPortEnd}`);
    const n = containerPortEnd - containerPort + 1;
    if (n > 1 && hostPort !== 0) {
      const hn = (hostPortEnd ?? hostPort) - hostPort + 1;
      if (hn !== n) throw invalidArgument(`${f}: host port range ${hostPort}-${hostPortEnd ?? hostPort} does not match container port range ${containerPort}-${containerPortEnd}`);
    }
    return { containerPort, containerPortEnd, protocol, hostIp, hostPort, hostPortEnd };
  });
}

const noop = () => {};
const tcpHandlers = { data: noop, error: noop, open: (s: { end(): void }) => s.end() };

/** Bind hostIp:port (0 = any free port); throws EADDRINUSE-style errors from the kernel. */
async function bindOne(hostIp: string, port: number, proto: PortProto): Promise<{ port: number; close(): void }> {
  if (proto === "tcp") {
    const l = Bun.listen({ hostname: hostIp, port, socket: tcpHandlers });
    return { port: l.port, close: () => l.stop(true) };
  }
  const u = await Bun.udpSocket({ hostname: hostIp, port });
  return { port: u.port, close: () => u.close() };
}

function inUse(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "EADDRINUSE" || /EADDRINUSE|in use/i.test(String((e as Error).message));
}

/**
 * Resolve and reserve every binding of the requests, all or nothing.
 * `endpoint` names the container in docker's error text.
 */
export async function reservePorts(reqs: PortRequest[], endpoint: string, defaultHostIp?: string): Promise<Reservation[]> {
  const norm = normalizePorts(reqs, defaultHostIp);
  const held: Reservation[] = [];
  const fail = (hostIp: string, port: number, proto: PortProto, e: unknown): never => {
    for (const h of held) h.release();
    if (!inUse(e)) throw new BerthError("Internal", `driver failed programming external connectivity on endpoint ${endpoint}: listen ${proto}4 ${hostIp}:${port}: ${(e as Error).message}`);
    throw new BerthError("FailedPrecondition", `driver failed programming external connectivity on endpoint ${endpoint}: Bind for ${hostIp}:${port} failed: port is already allocated`);
  };
  for (const r of norm) {
    const n = r.containerPortEnd - r.containerPort + 1;
    for (let k = 0; k < n; k++) {
      const containerPort = r.containerPort + k;
      let got: { port: number; close(): void } | undefined;
      if (r.hostPort === 0) {
        try {
          got = await bindOne(r.hostIp, 0, r.protocol);
        } catch (e) {
          fail(r.hostIp, 0, r.protocol, e);
        }
      } else if (n === 1 && r.hostPortEnd !== undefined) {
        // one container port, a host range: the first free port of the range
        let last: unknown;
        for (let p = r.hostPort; p <= r.hostPortEnd && !got; p++) {
          try {
            got = await bindOne(r.hostIp, p, r.protocol);
          } catch (e) {
            if (!inUse(e)) fail(r.hostIp, p, r.protocol, e);
            last = e;
          }
        }
        if (!got) fail(r.hostIp, r.hostPort, r.protocol, last);
      } else {
        const p = r.hostPort + k;
        try {
          got = await bindOne(r.hostIp, p, r.protocol);
        } catch (e) {
          fail(r.hostIp, p, r.protocol, e);
        }
      }
      const sock = got!;
      let open = true;
      held.push({
        binding: { hostIp: r.hostIp, hostPort: sock.port, containerPort, protocol: r.protocol },
        release: () => {
          if (open) sock.close();
          open = false;
        },
      });
    }
  }
  return held;
}

/** The portmap plugin's capability argument. */
export function portMappings(bindings: PortBinding[]) {
  return bindings.map((b) => ({ hostPort: b.hostPort, containerPort: b.containerPort, protocol: b.protocol, hostIP: b.hostIp === "0.0.0.0" ? "" : b.hostIp }));
}
