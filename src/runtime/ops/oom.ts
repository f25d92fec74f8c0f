/**
 * OOM notifications for a container's memory cgroup.
 *
 * cgroup v1: the kernel's own notification, as runc — an eventfd registered
 * for memory.oom_control through cgroup.event_control. The kernel signals it
 * when the cgroup hits OOM (whether or not a task is then killed) and when the
 * cgroup is removed; the latter is told apart by cgroup.event_control being
 * gone. The eventfd is non-blocking and read at each poll, so the Bun event
 * loop never blocks on it.
 *
 * cgroup v2 (and v1 when event_control cannot be used): the oom_kill counter
 * (memory.events on v2, memory.oom_control on v1) compared at each poll.
 */
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import type { CgroupManager } from "../cgroups/manager.ts";
import { readKeyValues, writeRaw } from "../cgroups/fsio.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK, eventfd } from "../sys/libc.ts";

export interface OomWatcher {
  /** how the watcher learns of OOM (for logs and tests) */
  readonly kind: "eventfd" | "counter";
  /** OOM events since the last poll (0 or more); never blocks */
  poll(): number;
  close(): void;
}

/** v1 eventfd registration; undefined if the kernel refuses it (no cgroup.event_control). */
function eventfdWatcher(dir: string): OomWatcher | undefined {
  const control = `${dir}/cgroup.event_control`;
  if (!existsSync(control)) return undefined;
  let efd = -1;
  let ofd = -1;
  try {
    ofd = openSync(`${dir}/memory.oom_control`, "r");
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    writeRaw(dir, "cgroup.event_control", `${efd} ${ofd}`);
  } catch {
    for (const fd of [efd, ofd]) if (fd >= 0) closeSync(fd);
    return undefined;
  }
  const buf = Buffer.alloc(8);
  let open = true;
  return {
    kind: "eventfd",
    poll() {
      if (!open) return 0;
      try {
        readSync(efd, buf, 0, 8, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") return 0;
        throw e;
      }
      // the cgroup being removed also signals the eventfd: that is not an OOM
      return existsSync(control) ? 1 : 0;
    },
    close() {
      if (!open) return;
      open = false;
      closeSync(efd);
      closeSync(ofd);
    },
  };
}

function counterWatcher(dir: string, file: string): OomWatcher {
  const read = () => readKeyValues(dir, file).get("oom_kill") ?? 0;
  let last = read();
  return {
    kind: "counter",
    poll() {
      const now = read();
      const n = Math.max(0, now - last);
      last = Math.max(last, now);
      return n;
    },
    close() {},
  };
}

/** A watcher for the container's memory cgroup, or undefined when the host has no memory controller for it. */
export function watchOom(cg: CgroupManager): OomWatcher | undefined {
  const mem = cg.dirFor("memory");
  if (!mem) return undefined;
  if (mem.version === 2) return counterWatcher(mem.dir, "memory.events");
  return eventfdWatcher(mem.dir) ?? counterWatcher(mem.dir, "memory.oom_control");
}
