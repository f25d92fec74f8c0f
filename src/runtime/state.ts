/**
 * Container state under --root: <root>/<id>/state.json (written atomically),
 * <root>/<id>/exec.fifo and start.status while created, and a lock file
 * serialising commands on one container.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Spec } from "../oci/runtime-spec.ts";
import { OCI_VERSION } from "../version.ts";
import type { CgroupState } from "./cgroups/manager.ts";
import type { MonitorPlan } from "./plan/monitor.ts";
import { BerthError, alreadyExists, invalidArgument, notFound, wrapError } from "../errors.ts";
import { flock, LOCK_EX } from "./sys/libc.ts";
import { stringifyJson } from "../oci/validate.ts";

export type Status = "creating" | "created" | "running" | "paused" | "stopped";

export interface ContainerRecord {
  ociVersion: string;
  id: string;
  pid: number;
  /** field 22 of /proc/<pid>/stat when the container was created: tells a reused pid apart */
  pidStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  cgroup?: CgroupState;
  config: Spec;
  /**
   * Without a mount namespace of its own the container mounts in ours: the ids
   * of the mounts below the rootfs before it was created (delete unmounts the rest).
   */
  mountsBefore?: number[];
  /** set when the engine's monitor parents the container */
  monitor?: MonitorPlan;
}

export const DEFAULT_ROOT = "/run/berth-runtime";

/** The record of a container whose init is `pid`, created now. */
export function newRecord(f: {
  id: string;
  pid: number;
  bundle: string;
  rootfs: string;
  config: Spec;
  cgroup?: CgroupState;
  extra?: Partial<ContainerRecord>;
}): ContainerRecord {
  return {
    ociVersion: OCI_VERSION,
    id: f.id,
    pid: f.pid,
    pidStartTime: processStartTime(f.pid) ?? "",
    bundle: f.bundle,
    rootfs: f.rootfs,
    created: new Date().toISOString(),
    owner: "",
    annotations: f.config.annotations,
    cgroup: f.cgroup,
    config: f.config,
    ...f.extra,
  };
}
const ID_RE = /^[\w+.-]+$/;

export function validateId(id: string | undefined): string {
  if (!id) throw invalidArgument("container id cannot be empty");
  if (!ID_RE.test(id) || id === "." || id === "..") throw invalidArgument(`invalid container id "${id}"`);
  return id;
}

export class StateStore {
  constructor(readonly root: string = DEFAULT_ROOT) {}

  dir(id: string) {
    return join(this.root, validateId(id));
  }
  fifo(id: string) {
    return join(this.dir(id), "exec.fifo");
  }
  /** read by `start`: an error frame if the start failed, EOF once the process was exec'd */
  startStatus(id: string) {
    return join(this.dir(id), "start.status");
  }

  /** Claim a new container directory; fails if the id is taken. */
  claim(id: string): string {
    const dir = this.dir(id);
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw alreadyExists(`container with id "${id}" already exists`);
      throw wrapError(`create state directory ${dir}`, e);
    }
    return dir;
  }

  release(id: string) {
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  /** Run fn holding an exclusive lock on the container (until its promise settles, if it returns one). */
  withLock<T>(id: string, fn: () => T): T {
    const dir = this.dir(id);
    let fd: number;
    try {
      fd = openSync(join(dir, "lock"), "a", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw notFound(`container "${id}" does not exist`);
      throw wrapError(`lock ${id}`, e);
    }
    let async = false;
    try {
      flock(fd, LOCK_EX, join(dir, "lock"));
      const r = fn();
      if (r instanceof Promise) {
        async = true;
        return r.finally(() => closeSync(fd)) as T;
      }
      return r;
    } finally {
      if (!async) closeSync(fd);
    }
  }

  save(rec: ContainerRecord) {
    const dir = this.dir(rec.id);
    const tmp = join(dir, `.state.json.${process.pid}`);
    writeFileSync(tmp, stringifyJson(rec, 0), { mode: 0o600 });
    renameSync(tmp, join(dir, "state.json"));
  }

  load(id: string): ContainerRecord {
    const file = join(this.dir(id), "state.json");
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw notFound(`container "${id}" does not exist`);
      throw wrapError(`read ${file}`, e);
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch (e) {
      throw new BerthError("Internal", `state of "${id}" is corrupt: ${file}`, { cause: e });
    }
  }

  exists(id: string): boolean {
    return existsSync(join(this.dir(id), "state.json"));
  }

  ids(): string[] {
    try {
      return readdirSync(this.root)
        .filter((n) => ID_RE.test(n) && existsSync(join(this.root, n, "state.json")))
        .sort();
    } catch {
      return [];
    }
  }
}

/** Start time of a process (field 22 of /proc/pid/stat), or null if it is gone or a zombie. */
export function processStartTime(pid: number): string | null {
  if (!pid) return null;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (rest[0] === "Z" || rest[0] === "X") return null;
  return rest[19] ?? null;
}

export function isAlive(rec: ContainerRecord): boolean {
  const st = processStartTime(rec.pid);
  return st !== null && st === rec.pidStartTime;
}

/** The container's status as seen now (never stored: derived from the kernel). */
export function currentStatus(store: StateStore, rec: ContainerRecord, frozen: () => boolean): Status {
  if (!isAlive(rec)) return "stopped";
  // as runc: a frozen cgroup reads as paused even before start
  if (frozen()) return "paused";
  if (existsSync(store.fifo(rec.id))) return "created";
  return "running";
}

export function isFifo(path: string): boolean {
  try {
    return statSync(path).isFIFO();
  } catch {
    return false;
  }
}
