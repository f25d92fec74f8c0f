/**
 * checkpoint: dump a running container with CRIU (runc's `checkpoint`).
 *
 * CRIU sees the container from the host: it is given the rootfs as --root, the
 * host-provided mounts and the init's stdio as external resources (criu/mounts.ts,
 * criu/descriptors.ts), a joined network or pid namespace as external, and the
 * container's freezer cgroup to stop it. Unless --leave-running or --pre-dump,
 * CRIU kills the container and berth deletes it, as runc does, so the id is free
 * for `restore`.
 */
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { failedPrecondition, invalidArgument, wrapError, BerthError } from "../errors.ts";
import { type Runtime, cgroupMountSources } from "./container.ts";
import { hasNewNamespace } from "./plan/compile.ts";
import { loadCgroupManager, type CgroupState } from "./cgroups/manager.ts";
import { processStartTime, type ContainerRecord } from "./state.ts";
import { resolveCriu, versionString } from "./criu/binary.ts";
import { runCriu } from "./criu/run.ts";
import { externalStdio, foreignSockets, mountIds, dumpArgs } from "./criu/descriptors.ts";
import { externalMounts, dumpMountArgs } from "./criu/mounts.ts";
import { writeMeta } from "./criu/image.ts";
import { trace } from "../trace.ts";
import {
  type CommonCriuOptions,
  checkCgroupsMode,
  checkEmptyNs,
  commonArgs,
  ensurePipeMaxSize,
  requireLazyPages,
  requireMemTracking,
} from "./criu/options.ts";
import { externalNamespaceDumpArgs } from "./criu/namespaces.ts";

export interface CheckpointOptions extends CommonCriuOptions {
  leaveRunning?: boolean;
  /** dump memory only (pre-copy), leave the container running */
  preDump?: boolean;
  /** a previous (pre-)dump, relative to imagePath */
  parentPath?: string;
  /** send pages to a criu page server (or, with lazyPages, serve them there) */
  pageServer?: { address: string; port: number };
  /** with lazyPages: criu writes \0 to this fd when its page server is ready */
  statusFd?: number;
}

export interface CheckpointResult {
  imagePath: string;
  /** how long criu ran */
  dumpMs: number;
  /** things berth changed on the host that the caller should be told about */
  notes: string[];
}

const LOG = "dump.log";

export async function checkpoint(rt: Runtime, id: string, o: CheckpointOptions): Promise<CheckpointResult> {
  const what = `checkpoint ${id}`;
  const result = await rt.store.withLock(id, async (): Promise<CheckpointResult> => {
    const rec = rt.store.load(id);
    const status = rt.status(rec);
    if (status !== "running" && status !== "paused") throw failedPrecondition(`${what}: cannot checkpoint a container in state ${status}`);

    // ---- everything is checked before anything is written
    if (!o.imagePath) throw invalidArgument(`${what}: --image-path: required`);
    const imagePath = resolve(o.imagePath);
    const workPath = o.workPath ? resolve(o.workPath) : undefined;
    const mode = checkCgroupsMode(what, o.manageCgroupsMode);
    const emptyNs = checkEmptyNs(what, o.emptyNs);
    if (o.parentPath !== undefined) {
      if (isAbsolute(o.parentPath)) throw invalidArgument(`${what}: --parent-path: must be relative to --image-path`);
      const parent = join(imagePath, o.parentPath);
      if (!isDir(parent)) throw invalidArgument(`${what}: --parent-path: ${parent} is not a directory`);
    }
    if (o.statusFd !== undefined) {
      if (!o.lazyPages) throw invalidArgument(`${what}: --status-fd: only with --lazy-pages`);
      checkWritableFd(what, o.statusFd);
    }
    if (o.lazyPages && !o.pageServer) throw invalidArgument(`${what}: --lazy-pages: needs --page-server ADDRESS:PORT to serve the pages from`);
    const criu = resolveCriu(o.criu);
    if (o.preDump || o.parentPath !== undefined) requireMemTracking(`${what}: ${o.preDump ? "--pre-dump" : "--parent-path"}`, criu);
    if (o.lazyPages) requireLazyPages(what, criu);

    trace("checks");
    // ---- criu's command line
    const pid = rec.pid;
    const args = ["-t", String(pid), "-D", imagePath, "-o", LOG, "--root", rec.rootfs, ...commonArgs(o, mode, emptyNs)];
    const freezer = freezerDir(rec.cgroup);
    if (freezer) args.push("--freeze-cgroup", freezer);
    if (o.leaveRunning && !o.preDump) args.push("--leave-running");
    if (o.parentPath !== undefined) args.push("--prev-images-dir", o.parentPath, "--track-mem");
    if (o.pageServer) {
      if (!o.lazyPages) args.push("--page-server");
      args.push("--address", o.pageServer.address, "--port", String(o.pageServer.port));
    }
    if (o.statusFd !== undefined) args.push("--status-fd", String(o.statusFd));
    args.push(...externalNamespaceDumpArgs(rec.config));
    const stdio = externalStdio(pid, mountIds(pid));
    const foreign = foreignSockets(pid, stdio);
    if (foreign.length)
      throw failedPrecondition(
        `${what}: fd ${foreign.map((f) => `${f.fd} (${f.link})`).join(", ")} of the container init is a socket from outside its network namespace, which criu cannot dump: give the container pipes, files or /dev/null as stdio`,
      );
    if (!o.preDump) {
      const cgroupSources = rec.cgroup ? cgroupMountSources(loadCgroupManager(rec.cgroup)) : [];
      args.push(...dumpMountArgs(externalMounts(rec.config, rec.bundle, cgroupSources)));
      args.push(...dumpArgs(stdio));
    }

    // ---- all checked: change things
    const notes: string[] = [];
    if (o.lazyPages) {
      const n = ensurePipeMaxSize();
      if (n) notes.push(n);
    }
    try {
      mkdirSync(imagePath, { recursive: true, mode: 0o700 });
      if (workPath) mkdirSync(workPath, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw wrapError(`${what}: create image directory`, e);
    }
    if (!o.preDump) {
      writeMeta(imagePath, {
        version: 1,
        id,
        pid,
        newPidNs: hasNewNamespace(rec.config, "pid"),
        stdio,
        criuVersion: versionString(criu),
        created: new Date().toISOString(),
      });
    }
    const childStdio: (number | "ignore" | "pipe")[] = ["ignore", "pipe", "pipe"];
    if (o.statusFd !== undefined) {
      while (childStdio.length < o.statusFd) childStdio.push("ignore");
      childStdio[o.statusFd] = o.statusFd;
    }
    let dumpMs: number;
    try {
      dumpMs = await runCriu(criu, { action: o.preDump ? "pre-dump" : "dump", args, logDir: workPath ?? imagePath, logFile: LOG, stdio: childStdio });
    } catch (e) {
      throw e instanceof BerthError ? e.wrap(what) : wrapError(what, e);
    }
    trace("criu-dump");
    if (!o.leaveRunning && !o.preDump) await waitExited(rec);
    trace("exited");
    return { imagePath, dumpMs, notes };
  });
  if (!o.leaveRunning && !o.preDump) await rt.delete(id, true);
  trace("delete");
  return result;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The freezer CRIU can use to stop the container (v1 freezer, or the cgroup2 dir on a pure v2 host). */
function freezerDir(cg: CgroupState | undefined): string | undefined {
  if (!cg) return undefined;
  if (cg.v1?.dirs.freezer) return cg.v1.dirs.freezer;
  if (cg.hierarchy.mode === "v2" && cg.v2?.dir) return cg.v2.dir;
  return undefined;
}

function checkWritableFd(what: string, fd: number) {
  let flags: number;
  try {
    const m = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    flags = m ? parseInt(m[1]!, 8) : NaN;
  } catch {
    throw invalidArgument(`${what}: --status-fd ${fd}: not an open file descriptor`);
  }
  if (!((flags & 3) === 1 || (flags & 3) === 2)) throw invalidArgument(`${what}: --status-fd ${fd}: not writable`);
}

/** After a dump CRIU has killed the tasks; wait until the init is gone (or a zombie nobody reaped yet). */
async function waitExited(rec: ContainerRecord, ms = 10_000) {
  const until = Date.now() + ms;
  while (processStartTime(rec.pid) === rec.pidStartTime) {
    if (Date.now() > until) throw new BerthError("Unavailable", `checkpoint ${rec.id}: the container init ${rec.pid} is still running after the dump`);
    await Bun.sleep(5);
  }
}
