/**
 * `events`: a stream of runc-shaped JSON lines for one container — a "stats"
 * event every interval (the first after one interval, as runc) and an "oom"
 * event whenever its memory cgroup hits OOM — ending when the container
 * stops. With `stats`, one stats event and done.
 */
import { failedPrecondition, invalidArgument } from "../../errors.ts";
import type { Runtime } from "../container.ts";
import { loadCgroupManager } from "../cgroups/manager.ts";
import { watchOom } from "./oom.ts";
import { eventLine, runcStats } from "./stats.ts";

export interface EventsOptions {
  /** milliseconds between stats events */
  intervalMs: number;
  /** print one stats event and return */
  statsOnly?: boolean;
  /** how often OOM and the container's liveness are checked (default 100 ms) */
  pollMs?: number;
  /** stops the stream early */
  signal?: AbortSignal;
  /** errors reading stats mid-stream are reported here and the stream goes on (runc logs them) */
  onError?: (e: unknown) => void;
}

export async function streamEvents(rt: Runtime, id: string, opts: EventsOptions, emit: (line: string) => void): Promise<void> {
  if (!(opts.intervalMs > 0)) throw invalidArgument("events: --interval: duration interval must be greater than 0");
  const rec = rt.store.load(id);
  if (rt.status(rec) === "stopped") throw failedPrecondition(`events ${id}: container is not running`);
  if (!rec.cgroup) throw failedPrecondition(`events ${id}: the container has no cgroup`);
  const cg = loadCgroupManager(rec.cgroup);
  const stats = () => eventLine("stats", id, runcStats(cg.stats()));
  if (opts.statsOnly) {
    emit(stats());
    return;
  }
  const poll = Math.max(1, Math.min(opts.pollMs ?? 100, opts.intervalMs));
  const oom = watchOom(cg);
  try {
    let next = Date.now() + opts.intervalMs;
    while (!opts.signal?.aborted) {
      await Bun.sleep(Math.max(0, Math.min(poll, next - Date.now())));
      // liveness first: an OOM that killed init was signalled before it died,
      // so it is in the watcher by the time the death is seen
      const stopped = rt.status(rec) === "stopped";
      for (let n = oom?.poll() ?? 0; n > 0; n--) emit(eventLine("oom", id));
      if (stopped) return;
      if (Date.now() >= next) {
        try {
          emit(stats());
        } catch (e) {
          opts.onError?.(e);
        }
        next += opts.intervalMs * Math.max(1, Math.ceil((Date.now() - next) / opts.intervalMs));
      }
    }
  } finally {
    oom?.close();
  }
}
