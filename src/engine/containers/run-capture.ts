/**
 * Run a process in a running container and capture what it prints: the
 * runtime library's exec in the foreground, no tty, stdin /dev/null, stdout
 * and stderr read from pipes into one buffer in the order they arrive. Only
 * the first 4 KiB are kept (docker's healthcheck output limit); the rest is
 * read and dropped so the process never blocks on a full pipe. On timeout or
 * abort the process is killed (SIGKILL).
 */
import type { Process } from "../../oci/runtime-spec.ts";
import { failedPrecondition } from "../../errors.ts";
import { execInContainer } from "../../runtime/exec.ts";
import type { ContainerRecord } from "./model.ts";
import { runtimeHandle } from "./runtime-handle.ts";

export const MAX_CAPTURE = 4096;

export interface CaptureRequest {
  args: string[];
  /** KEY=value; default: the container's process env */
  env?: string[];
  /** default: the container's process user */
  user?: Process["user"];
  /** default: the container's process cwd */
  cwd?: string;
  /** kill the process after this long (ms); 0 or absent: no limit */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** bytes of output kept (default 4096) */
  maxOutput?: number;
}

export interface CaptureResult {
  /** the process's status (128+n when killed by signal n) */
  exitCode: number;
  /** stdout and stderr as they arrived, at most maxOutput bytes, decoded as UTF-8 */
  output: string;
  /** killed because the timeout expired */
  timedOut: boolean;
  /** killed because the signal aborted */
  aborted: boolean;
}

/** A buffer that keeps the first `max` bytes written to it. */
class LimitedBuffer {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  write(b: Uint8Array) {
    const keep = Math.min(this.max - this.size, b.length);
    if (keep <= 0) return;
    this.chunks.push(b.subarray(0, keep));
    this.size += keep;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

async function drain(stream: ReadableStream<Uint8Array> | undefined, into: LimitedBuffer, stop: Promise<void>): Promise<void> {
  if (!stream) return;
  const reader = stream.getReader();
  const stopped = stop.then(() => reader.cancel().catch(() => {}));
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), stopped.then(() => ({ done: true, value: undefined }) as const)]);
      if (r.done) return;
      into.write(r.value);
    }
  } catch {
    // the pipe was cancelled under the read: what was read is the output
  } finally {
    reader.releaseLock?.();
  }
}

/** Run req.args in the container (which must be running) and capture its output. */
export async function runCapture(record: ContainerRecord, req: CaptureRequest): Promise<CaptureResult> {
  if (!req.args.length) throw failedPrecondition("run in container: no command");
  const h = runtimeHandle(record);
  const spec = h.rt.store.load(h.id).config;
  const base = spec.process;
  if (!base) throw failedPrecondition(`container ${record.Name}: its spec has no process`);
  const proc: Process = {
    ...base,
    terminal: false,
    consoleSize: undefined,
    args: req.args,
    env: req.env ?? base.env,
    user: req.user ?? base.user,
    cwd: req.cwd ?? base.cwd,
  };
  if (req.signal?.aborted) return { exitCode: -1, output: "", timedOut: false, aborted: true };
  const launched = await execInContainer(h.rt, { id: h.id, process: proc, stdio: ["ignore", "pipe", "pipe"] });
  const helper = launched.helper;
  let timedOut = false;
  let aborted = false;
  const kill = () => {
    try {
      process.kill(launched.pid, "SIGKILL");
    } catch {}
  };
  const timer = req.timeoutMs && req.timeoutMs > 0 ? setTimeout(() => ((timedOut = true), kill()), req.timeoutMs) : undefined;
  const onAbort = () => ((aborted = true), kill());
  req.signal?.addEventListener("abort", onAbort, { once: true });
  const out = new LimitedBuffer(req.maxOutput ?? MAX_CAPTURE);
  // children the process left behind may hold the pipes open: stop reading shortly after it exits
  let release!: () => void;
  const stop = new Promise<void>((r) => (release = r));
  const reading = Promise.all([
    drain(helper.stdout as ReadableStream<Uint8Array> | undefined, out, stop),
    drain(helper.stderr as ReadableStream<Uint8Array> | undefined, out, stop),
  ]);
  let exitCode: number;
  try {
    exitCode = await helper.exited;
  } finally {
    if (timer) clearTimeout(timer);
    req.signal?.removeEventListener("abort", onAbort);
  }
  const grace = setTimeout(release, 200);
  await reading;
  clearTimeout(grace);
  release();
  return { exitCode, output: out.text(), timedOut, aborted };
}
