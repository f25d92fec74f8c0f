/**
 * The stream of a hijacked attach or exec connection, after the `101`:
 * the container's (or exec's) output to the client — stdcopy frames without
 * a TTY, raw bytes with one — and the client's bytes to its stdin.
 *
 * Ends:
 * - the output ends (the process exited): the rest is flushed, then the
 *   connection is closed; the docker CLI then asks for the exit code.
 * - the client half-closes (its stdin ended): with `closeStdin` the
 *   process's stdin is closed and output goes on until it ends (docker's
 *   StdinOnce for attach, always for exec); without it the session ends
 *   there, as dockerd ends an attach whose stdin ends without StdinOnce.
 * - the client closes the connection: the session is dropped (close()); the
 *   process goes on.
 */
import type { Duplex } from "node:stream";
import { encodeFrames, STDERR, STDOUT } from "./stdcopy.ts";

export interface AttachOutput {
  stream: "stdout" | "stderr";
  data: Uint8Array;
}

/** What is attached to: the monitor's Attachment (engine/monitor/attach.ts) or an ExecSession fit this. */
export interface AttachSource {
  output: AsyncIterable<AttachOutput>;
  write(data: Uint8Array | string): void;
  closeStdin(): void;
  close(): void;
}

export interface AttachStreamOptions {
  /** raw output (a TTY) rather than stdcopy frames */
  tty: boolean;
  /** relay the client's bytes to stdin */
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** on the client's half-close: close the process's stdin and keep streaming output (true), or end the session (false) */
  closeStdin: boolean;
  /** bytes the client sent with the request (Hijacked.head): the start of stdin */
  head?: Uint8Array;
  /** past output (attach's `logs=1`), sent before the live output */
  logs?: AsyncIterable<AttachOutput>;
  /** ends the session (daemon gives up, request aborted) */
  signal?: AbortSignal;
}

/**
 * Serve an attach/exec stream on an upgraded socket until it ends. Write the
 * `101` first (hijack.ts `upgraded`). Resolves when the session is over; the
 * socket is then closed (or destroyed).
 */
export async function serveAttach(socket: Duplex, source: AttachSource, opts: AttachStreamOptions): Promise<void> {
  let gone = false;
  const onClose = () => {
    gone = true;
    source.close();
    wakeDrain?.();
  };
  socket.on("close", onClose);
  socket.on("error", () => {});
  let wakeDrain: (() => void) | undefined;
  const onAbort = () => socket.destroy();
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  if (opts.stdin) {
    if (opts.head?.length) source.write(opts.head);
    socket.on("data", (d: Buffer) => source.write(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
  } else socket.on("data", () => {}); // keep reading, so the half-close is seen
  socket.on("end", () => {
    if (opts.closeStdin) {
      if (opts.stdin) source.closeStdin();
    } else {
      source.close();
      socket.end();
    }
  });

  const send = async (o: AttachOutput) => {
    if (gone) return;
    if (o.stream === "stdout" ? !opts.stdout : !opts.stderr) return;
    const bytes = opts.tty ? o.data : encodeFrames(o.stream === "stdout" ? STDOUT : STDERR, o.data);
    if (bytes.length === 0) return;
    if (!socket.write(bytes)) {
      await new Promise<void>((r) => {
        wakeDrain = r;
        socket.once("drain", r);
      });
      wakeDrain = undefined;
    }
  };

  try {
    if (opts.logs) for await (const o of opts.logs) {
      if (gone) break;
      await send(o);
    }
    for await (const o of source.output) {
      if (gone) break;
      await send(o);
    }
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    socket.off("close", onClose);
    if (!gone) socket.end();
  }
}
