/**
 * OOM kills in a running container's memory cgroup, for the `oom` event and
 * State.OOMKilled.
 *
 * watchContainerOom calls back once per kill: cgroup v1 through the kernel's
 * eventfd on memory.oom_control (src/runtime/ops/oom.ts), read at each poll;
 * cgroup2 through memory.events' oom_kill counter, re-read when inotify says
 * the file changed (fs.watch) and at each poll as a safety net.
 *
 * wasOomKilled answers, when the container has exited and before its cgroup
 * is removed, whether the OOM killer killed anything in it (oom_kill > 0).
 */
import { watch, type FSWatcher } from "node:fs";
import { readKeyValues } from "../../runtime/cgroups/fsio.ts";
import type { CgroupManager } from "../../runtime/cgroups/manager.ts";
import { watchOom } from "../../runtime/ops/oom.ts";

/** Kills counted by the kernel so far (v2 memory.events / v1 memory.oom_control "oom_kill"); undefined without a memory cgroup. */
export function oomKillCount(cg: CgroupManager): number | undefined {
  const mem = cg.dirFor("memory");
  if (!mem) return undefined;
  try {
    return readKeyValues(mem.dir, mem.version === 2 ? "memory.events" : "memory.oom_control").get("oom_kill") ?? 0;
  } catch {
    return undefined; // the cgroup is gone
  }
}

/** Did the OOM killer kill a process of this container? Call before the cgroup is destroyed. */
export function wasOomKilled(cg: CgroupManager): boolean {
  return (oomKillCount(cg) ?? 0) > 0;
}

export interface OomWatch {
  /** how kills are noticed ("eventfd" v1, "counter" v2 or v1 without event_control) */
  readonly kind: "eventfd" | "counter";
  /** look now (also done every pollMs); the container's exit path calls it once more before closing */
  check(): void;
  close(): void;
}

export interface OomWatchOptions {
  /** ms between polls (default 200) */
  pollMs?: number;
}

/** Watch for OOM kills; undefined when the host has no memory controller for the container. */
export function watchContainerOom(cg: CgroupManager, onOom: () => void, opts: OomWatchOptions = {}): OomWatch | undefined {
  const w = watchOom(cg);
  if (!w) return undefined;
  let closed = false;
  const check = () => {
    if (closed) return;
    let n = 0;
    try {
      n = w.poll();
    } catch {
      return; // the cgroup went away under us
    }
    for (; n > 0; n--) onOom();
  };
  let fsw: FSWatcher | undefined;
  const mem = cg.dirFor("memory");
  if (mem?.version === 2) {
    try {
      fsw = watch(`${mem.dir}/memory.events`, { persistent: false }, () => check());
      fsw.on("error", () => {});
    } catch {
      fsw = undefined; // polling alone still works
    }
  }
  const timer = setInterval(check, opts.pollMs ?? 200);
  timer.unref?.();
  return {
    kind: w.kind,
    check,
    close() {
      if (closed) return;
      check();
      closed = true;
      clearInterval(timer);
      fsw?.close();
      w.close();
    },
  };
}
