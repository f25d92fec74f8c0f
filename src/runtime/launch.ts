/**
 * Runs berth-init with a plan and drives the sync protocol (opcodes.ts has
 * the diagram). The runtime side of every SYNC point is a callback.
 */
import { writeSync, closeSync } from "node:fs";
import type { Subprocess } from "bun";
import { BerthError } from "../errors.ts";
import { MSG, opName, opSpecField } from "./plan/opcodes.ts";
import { encodePlan, type Instruction } from "./plan/record.ts";
import { berthInitExe } from "./native.ts";
import { reapChild } from "./sys/reaper.ts";

export type StdioSpec = number | "inherit" | "ignore" | "pipe";

export interface LaunchOptions {
  plan: Instruction[];
  /** fds for the container's stdin/stdout/stderr (default: inherit ours); "pipe": helper.stdin/stdout/stderr */
  stdio?: [StdioSpec, StdioSpec, StdioSpec];
  /** extra fds passed as 3, 4, ... (--preserve-fds) */
  extraFds?: number[];
  /** also give berth-init a socket for the pty master (at consoleFd(extraFds.length)); see Launched.console */
  consoleSocket?: boolean;
  /**
   * called at each SYNC point with the container's pid; resolve to continue,
   * optionally with the hook state (JSON) the ACK carries to the init
   */
  onSync: (tag: number, pid: number) => Promise<Uint8Array | void> | Uint8Array | void;
  env?: Record<string, string>;
}

export interface Launched {
  /** the container init's pid (in our pid namespace) */
  pid: number;
  /** berth-init's top process: exits 0 right after the fork, or with the container's status when `stay` */
  helper: Subprocess;
  /** our end of the console socket (consoleSocket): the pty master arrives on it before READY */
  console?: number;
  /** the pty master, once the caller has received it from `console` */
  master?: number;
}

/** berth-init's fds: stdio, the extra (preserved) fds from 3, the sync socket, then the console socket. */
export const syncFd = (extraFds: number) => 3 + extraFds;
export const consoleFd = (extraFds: number) => 4 + extraFds;

export async function launch(opts: LaunchOptions): Promise<Launched> {
  const extra = opts.extraFds ?? [];
  const syncIndex = syncFd(extra.length);
  const stdio = opts.stdio ?? ["inherit", "inherit", "inherit"];
  const helper = Bun.spawn([berthInitExe(), String(syncIndex)], {
    argv0: "berth-init",
    stdio: [...stdio, ...extra, "pipe", ...(opts.consoleSocket ? ["pipe"] : [])] as never,
    env: opts.env ?? {},
  });
  const fd = helper.stdio[syncIndex] as unknown as number;
  const console = opts.consoleSocket ? (helper.stdio[consoleFd(extra.length)] as unknown as number) : undefined;
  const conn = new FrameConn(fd);
  let pid = 0;
  try {
    await conn.send(MSG.PLAN, encodePlan(opts.plan));
    for (;;) {
      const f = await conn.recv();
      if (!f) {
        const code = await helper.exited;
        throw new BerthError("Internal", `container init exited (status ${code}) before it was ready`);
      }
      const v = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength);
      if (f.type === MSG.PID) pid = v.getUint32(0, true);
      else if (f.type === MSG.SYNC) {
        const tag = v.getUint32(0, true);
        let state: Uint8Array | void;
        try {
          state = await opts.onSync(tag, pid);
        } catch (e) {
          await conn.send(MSG.ABORT, new Uint8Array(0)).catch(() => {});
          throw e;
        }
        const ack = new Uint8Array(4 + (state?.length ?? 0));
        new DataView(ack.buffer).setUint32(0, tag, true);
        if (state) ack.set(state, 4);
        await conn.send(MSG.ACK, ack);
      } else if (f.type === MSG.READY) break;
      else if (f.type === MSG.ERROR) throw initError(f.payload);
      else throw new BerthError("Internal", `unexpected message ${f.type} from container init`);
    }
  } catch (e) {
    if (pid > 0) {
      killQuietly(pid);
      // a helper that waits for the process (foreground) reaps it and exits: let it,
      // or the process is orphaned to a reaper that may never collect it (this
      // machine's PID 1 does not), a zombie in the container's pid namespace
      await Promise.race([helper.exited, Bun.sleep(2000)]);
    }
    helper.kill(9);
    if (console !== undefined) closeQuietly(console);
    if (pid > 0) await reapOrphan(helper, pid);
    throw e;
  } finally {
    conn.close();
  }
  return { pid, helper, console };
}

/**
 * The helper died before collecting the process it forked, so a subreaper
 * (berthd) inherits it: collect it, or its zombie stays forever, and one that
 * had joined a container's pid namespace (exec) keeps that container's init
 * from ever finishing its exit (the kernel waits for every pid of the
 * namespace). A caller that is not a subreaper has nothing to collect.
 */
async function reapOrphan(helper: Subprocess, pid: number): Promise<void> {
  await helper.exited; // the kernel reparents pid as the helper exits
  for (let i = 0; i < 500; i++) {
    const r = reapChild(pid);
    if (r.state !== "running") return;
    await Bun.sleep(10);
  }
}

function closeQuietly(fd: number) {
  try {
    closeSync(fd);
  } catch {}
}

function killQuietly(pid: number) {
  try {
    process.kill(pid, 9);
  } catch {}
}

export function initError(p: Uint8Array): BerthError {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const index = v.getUint32(0, true);
  const code = v.getUint32(4, true);
  const errno = v.getInt32(8, true);
  const len = v.getUint32(12, true);
  const text = new TextDecoder().decode(p.subarray(16, 16 + Math.max(0, len - 1)));
  const field = opSpecField(code);
  const msg = field ? `${field}: ${text}` : text;
  const err = new BerthError(errno === 1 || errno === 13 ? "PermissionDenied" : "Internal", msg, {
    syscall: { op: opName(code).toLowerCase(), errno },
  });
  (err as BerthError & { step?: number }).step = index;
  return err;
}

/** Length-prefixed frames over the non-blocking socket Bun gives us. */
class FrameConn {
  private reader: { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> };
  private buf = new Uint8Array(0);
  private closed = false;
  constructor(private fd: number) {
    this.reader = Bun.file(fd).stream().getReader();
  }
  async send(type: number, payload: Uint8Array) {
    const frame = new Uint8Array(8 + payload.length);
    const v = new DataView(frame.buffer);
    v.setUint32(0, type, true);
    v.setUint32(4, payload.length, true);
    frame.set(payload, 8);
    let off = 0;
    while (off < frame.length) {
      try {
        off += writeSync(this.fd, frame, off, frame.length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
        await Bun.sleep(1);
      }
    }
  }
  async recv(): Promise<{ type: number; payload: Uint8Array } | null> {
    for (;;) {
      if (this.buf.length >= 8) {
        const v = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
        const len = v.getUint32(4, true);
        if (this.buf.length >= 8 + len) {
          const f = { type: v.getUint32(0, true), payload: this.buf.slice(8, 8 + len) };
          this.buf = this.buf.subarray(8 + len);
          return f;
        }
      }
      const { value, done } = await this.reader.read();
      if (done || !value) return null;
      const nb = new Uint8Array(this.buf.length + value.length);
      nb.set(this.buf);
      nb.set(value, this.buf.length);
      this.buf = nb;
    }
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.reader.cancel().catch(() => {});
    try {
      closeSync(this.fd);
    } catch {}
  }
}
