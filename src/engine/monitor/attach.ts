/**
 * An attach client: live output of a monitored container from the moment of
 * connecting, its stdin, its terminal size. What came before is in the log.
 */
import { closeSync, openSync, constants as fsc } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { BerthError } from "../../errors.ts";
import { readExitStatus, type ExitStatus } from "./exit.ts";
import { FILES } from "./layout.ts";
import { FRAME, FrameDecoder, encodeFrame, resizePayload } from "./protocol.ts";
import type { Stream } from "./log-format.ts";

export interface Output {
  stream: Stream;
  data: Uint8Array;
}

export interface Attachment {
  /**
   * The container's output; ends when the container has exited or the
   * connection is gone. Consume it (or close): as with docker attach, output
   * that is not taken holds the container back.
   */
  output: AsyncIterable<Output>;
  /** the exit status (the monitor sends it last), or null if the connection ended while the container runs */
  exit: Promise<ExitStatus | null>;
  /** bytes for the container's stdin (dropped by the monitor unless it keeps stdin open) */
  write(data: Uint8Array | string): void;
  /** close the container's stdin now (it reads EOF once what was written is read), whatever StdinOnce says */
  closeStdin(): void;
  /**
   * this client's input has ended (docker: the client closed its stdin):
   * half-closes the connection, output still arrives. With StdinOnce (and no
   * terminal) the monitor then closes the container's stdin; otherwise it stays
   * open for other clients. Nothing can be written afterwards.
   */
  endStdin(): void;
  /** terminal size, rows and cols 1-65535 (ignored without a terminal; the kernel sends SIGWINCH) */
  resize(rows: number, cols: number): void;
  /** disconnect; the container goes on */
  close(): void;
}

const HIGH = 1 << 20;
const LOW = 256 << 10;

/** sun_path holds 107 bytes: a longer path is reached through a directory fd. */
function connectPath(dir: string): { path: string; fd?: number } {
  const path = join(dir, FILES.socket);
  if (Buffer.byteLength(path) <= 107) return { path };
  const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  return { path: `/proc/self/fd/${fd}/${FILES.socket}`, fd };
}

export function attach(dir: string): Promise<Attachment> {
  const target = connectPath(dir);
  return new Promise((resolve, reject) => {
    const sock: Socket = createConnection({ path: target.path });
    const queue: Output[] = [];
    let ended = false;
    let notify: (() => void) | undefined;
    let exitStatus: ExitStatus | null = null;
    let settleExit!: (s: ExitStatus | null) => void;
    const exit = new Promise<ExitStatus | null>((r) => (settleExit = r));
    const decoder = new FrameDecoder();
    let connected = false;
    const end = () => {
      if (ended) return;
      ended = true;
      // dropped as a slow reader just as it ended: the status is in exit.json
      if (!exitStatus) {
        try {
          exitStatus = readExitStatus(dir);
        } catch {}
      }
      settleExit(exitStatus);
      notify?.();
    };
    // Backpressure: past HIGH queued bytes we stop reading the socket, so the
    // monitor holds the container's output until the consumer catches up.
    let queued = 0;
    sock.on("data", (d: Buffer) => {
      for (const f of decoder.push(d)) {
        if (f.type === FRAME.STDOUT || f.type === FRAME.STDERR) {
          queue.push({ stream: f.type === FRAME.STDOUT ? "stdout" : "stderr", data: f.payload });
          queued += f.payload.length;
        } else if (f.type === FRAME.EXIT) exitStatus = JSON.parse(new TextDecoder().decode(f.payload)) as ExitStatus;
      }
      if (queued > HIGH) sock.pause();
      notify?.();
    });
    sock.on("close", end);
    sock.on("error", (e) => {
      if (!connected) {
        if (target.fd !== undefined) closeSync(target.fd);
        reject(new BerthError("Unavailable", `attach ${dir}: ${e.message}`, { cause: e }));
      }
      end();
    });
    sock.on("connect", () => {
      connected = true;
      if (target.fd !== undefined) closeSync(target.fd);
      const send = (b: Uint8Array) => {
        if (!sock.destroyed) sock.write(b);
      };
      resolve({
        output: {
          async *[Symbol.asyncIterator]() {
            for (;;) {
              while (queue.length) {
                const o = queue.shift()!;
                queued -= o.data.length;
                if (queued < LOW && sock.isPaused()) sock.resume();
                yield o;
              }
              if (ended) return;
              await new Promise<void>((r) => (notify = r));
              notify = undefined;
            }
          },
        },
        exit,
        write: (data) => {
          const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
          // an empty STDIN frame means EOF: never send one for empty data
          for (let off = 0; off < bytes.length; off += 32 * 1024) send(encodeFrame(FRAME.STDIN, bytes.subarray(off, off + 32 * 1024)));
        },
        closeStdin: () => send(encodeFrame(FRAME.STDIN)),
        endStdin: () => {
          if (!sock.destroyed) sock.end();
        },
        resize: (rows, cols) => send(encodeFrame(FRAME.RESIZE, resizePayload(rows, cols))),
        close: () => sock.destroy(),
      });
    });
  });
}
