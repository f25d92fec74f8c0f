/**
 * The hijacked streams of attach and exec start: fetch cannot take over a
 * connection, so this writes the HTTP/1.1 request itself on a unix socket
 * (`Connection: Upgrade`, `Upgrade: tcp`), reads the response head, and on
 * 101 (or a plain 200, as older daemons answer) hands over the socket with
 * the bytes that came after the head. Any other status is the daemon's
 * error. Also here: docker's stdcopy framing ([stream, 0, 0, 0, size BE32]).
 */
import { createConnection, type Socket } from "node:net";
import { BerthError } from "../../errors.ts";
import { codeForHttpStatus } from "../../api/errors.ts";
import type { ApiClient } from "./client.ts";
import { DaemonError } from "./daemon-error.ts";

export interface Hijacked {
  socket: Socket;
  /** bytes of the stream that arrived with the response head */
  rest: Buffer;
  /** the response's content type (raw-stream for a tty, multiplexed-stream otherwise) */
  contentType: string;
}

const MAX_HEAD = 64 * 1024;

export function requestHead(method: string, path: string, headers: Record<string, string>): string {
  const lines = [`${method} ${path} HTTP/1.1`, "Host: berthd", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return lines.join("\r\n") + "\r\n\r\n";
}

export interface ResponseHead {
  status: number;
  headers: Map<string, string>;
}

export function parseHead(text: string): ResponseHead {
  const [statusLine, ...lines] = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "");
  if (!m) throw new BerthError("Internal", `bad response from berthd: ${JSON.stringify((statusLine ?? "").slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const l of lines) {
    const c = l.indexOf(":");
    if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
  }
  return { status: Number(m[1]), headers };
}

/** POST path (versioned here) with a JSON body, upgraded to a raw stream. */
export async function hijack(client: ApiClient, path: string, query: Record<string, string | undefined> = {}, body?: unknown): Promise<Hijacked> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.append(k, v);
  const full = (await client.versioned(path)) + (qs.size ? `?${qs}` : "");
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
  const socket = createConnection({ path: client.socketPath, allowHalfOpen: true });
  return await new Promise<Hijacked>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let head: ResponseHead | undefined;
    let bodyStart = 0;
    const fail = (e: Error) => {
      cleanup();
      socket.destroy();
      reject(e);
    };
    const onError = (e: Error) => fail(new BerthError("Unavailable", `cannot connect to berthd at ${client.host}: ${e.message.toLowerCase()}`, { cause: e }));
    const errorFromBody = () => {
      const text = buf.subarray(bodyStart).toString("utf8");
      let message = text.trim() || `status ${head!.status}`;
      try {
        const doc = JSON.parse(text) as { message?: unknown };
        if (typeof doc.message === "string") message = doc.message;
      } catch {}
      fail(new DaemonError(codeForHttpStatus(head!.status), message, head!.status));
    };
    const onEnd = () => {
      if (head) errorFromBody();
      else fail(new BerthError("Internal", "berthd closed the connection before answering"));
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!head) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) {
          if (buf.length > MAX_HEAD) fail(new BerthError("Internal", "berthd's response head is too long"));
          return;
        }
        try {
          head = parseHead(buf.subarray(0, end).toString("latin1"));
        } catch (e) {
          fail(e as Error);
          return;
        }
        bodyStart = end + 4;
        if (head.status === 101 || head.status === 200) {
          cleanup();
          socket.pause();
          resolve({ socket, rest: buf.subarray(bodyStart), contentType: head.headers.get("content-type") ?? "" });
          return;
        }
      }
      // an error answer: its body up to Content-Length (or the close)
      const len = Number(head.headers.get("content-length") ?? NaN);
      if (Number.isFinite(len) && buf.length - bodyStart >= len) errorFromBody();
    };
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("end", onEnd);
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("end", onEnd);
    socket.once("connect", () => {
      socket.write(
        requestHead("POST", full, {
          "User-Agent": "berth-cli",
          Connection: "Upgrade",
          Upgrade: "tcp",
          "Content-Type": "application/json",
          "Content-Length": String(payload.length),
        }),
      );
      if (payload.length) socket.write(payload);
    });
  });
}

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
/** a system error from the daemon, mid-stream (moby's stdcopy Systemerr) */
export const SYSERR = 3;

/** Splits docker's multiplexed stream into (stream, payload) as bytes arrive. */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly out: (stream: number, data: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const stream = this.buf[0]!;
      if (stream > 3) throw new BerthError("Internal", `unrecognized stream ${stream} in berthd's multiplexed output`);
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      this.out(stream, this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
  }

  /** bytes left over (a frame cut short) */
  get pending(): number {
    return this.buf.length;
  }
}
