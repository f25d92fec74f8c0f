/**
 * An attached session (run, start -a, attach, exec): the hijacked stream's
 * output to our stdout/stderr (demultiplexed unless there is a tty), our
 * stdin to the stream (half-closed at EOF), the local terminal in raw mode
 * with -t, its size sent on start and on SIGWINCH, and signals proxied to
 * the container when asked.
 */
import { EscapeFilter } from "./detach-keys.ts";
import { writeSync } from "node:fs";
import { BerthError } from "../../errors.ts";
import { setOutputProcessing } from "../../runtime/sys/tty.ts";
import type { ApiClient } from "./client.ts";
import { Demuxer, STDERR, SYSERR, type Hijacked } from "./hijack.ts";

/** Write all of a buffer to a descriptor (retrying a non-blocking pipe's EAGAIN). */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") {
        if ((e as NodeJS.ErrnoException).code === "EPIPE") return;
        throw e;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

export interface SessionOptions {
  tty: boolean;
  /** send our stdin */
  stdin: boolean;
  /** the local side's output descriptors (tests: any fds) */
  outFd?: number;
  errFd?: number;
  /** send the terminal size (called at once and on SIGWINCH) when the local stdin/stdout is a terminal */
  resize?: (rows: number, cols: number) => Promise<void>;
  /** with a tty and stdin: this sequence in the input ends the session, the container goes on (docker's detach keys) */
  detachKeys?: Uint8Array;
}

/** The local terminal's size, when stdout is one. */
export function terminalSize(): [number, number] | undefined {
  const rows = process.stdout.rows;
  const cols = process.stdout.columns;
  return process.stdout.isTTY && rows && cols ? [rows, cols] : undefined;
}

/** Pump the session until the daemon ends the output, or the user detaches (`detached`). */
export async function runSession(conn: Hijacked, o: SessionOptions): Promise<{ detached: boolean }> {
  const outFd = o.outFd ?? 1;
  const errFd = o.errFd ?? 2;
  const sock = conn.socket;
  let sysError: string | undefined;
  const demux = o.tty
    ? undefined
    : new Demuxer((stream, data) => {
        if (stream === SYSERR) sysError = (sysError ?? "") + data.toString("utf8");
        else writeAll(stream === STDERR ? errFd : outFd, data);
      });
  const onOutput = (chunk: Buffer) => (demux ? demux.push(chunk) : writeAll(outFd, chunk));

  const stdin = process.stdin;
  const raw = o.tty && o.stdin && stdin.isTTY && typeof stdin.setRawMode === "function";
  const escape = o.tty && o.stdin && o.detachKeys ? new EscapeFilter(o.detachKeys) : undefined;
  let detached = false;
  let detach: (() => void) | undefined;
  const onStdin = (chunk: Buffer) => {
    if (!escape) return void sock.write(chunk);
    const r = escape.push(chunk);
    if (r.send.length) sock.write(r.send);
    if (r.detached) {
      detached = true;
      detach?.();
    }
  };
  const onStdinEnd = () => {
    if (!sock.destroyed) sock.end();
  };
  let winch: (() => void) | undefined;
  if (o.resize) {
    const size = terminalSize();
    if (size) {
      const send = () => {
        const s = terminalSize();
        if (s) o.resize!(s[0], s[1]).catch(() => {});
      };
      send();
      winch = send;
      process.on("SIGWINCH", winch);
    }
  }
  let opost: boolean | undefined;
  try {
    if (raw) {
      stdin.setRawMode(true);
      // the container's tty already made "\r\n": no second output processing here (moby/term's MakeRaw clears OPOST)
      try {
        opost = setOutputProcessing(0, false);
      } catch {}
    }
    if (o.stdin) {
      stdin.on("data", onStdin);
      stdin.once("end", onStdinEnd);
      stdin.resume();
    }
    await new Promise<void>((resolve, reject) => {
      detach = resolve;
      sock.on("data", onOutput);
      sock.once("end", resolve);
      sock.once("close", () => resolve());
      sock.once("error", (e) => ((e as NodeJS.ErrnoException).code === "ECONNRESET" ? resolve() : reject(e)));
      if (conn.rest.length) onOutput(conn.rest);
      sock.resume();
    });
  } finally {
    if (winch) process.off("SIGWINCH", winch);
    if (o.stdin) {
      stdin.off("data", onStdin);
      stdin.off("end", onStdinEnd);
      stdin.pause();
      // a piped stdin would keep the process alive
      if (!stdin.isTTY) stdin.destroy();
    }
    if (raw) {
      if (opost !== undefined)
        try {
          setOutputProcessing(0, opost);
        } catch {}
      stdin.setRawMode(false);
    }
    sock.destroy();
  }
  if (detached) return { detached };
  if (sysError) throw new BerthError("Internal", sysError.trim());
  if (demux?.pending) throw new BerthError("Internal", "berthd's output stream ended in the middle of a frame");
  return { detached };
}

const PROXIED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;

/** Forward our signals to the container (docker's --sig-proxy); returns the undo. */
export function proxySignals(client: ApiClient, id: string): () => void {
  const handlers = PROXIED.map((sig) => {
    const h = () => void client.request("POST", `/containers/${encodeURIComponent(id)}/kill`, { query: { signal: sig } }).catch(() => {});
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}
