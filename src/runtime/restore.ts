/**
 * restore: a new container from a CRIU image (runc's `restore`).
 *
 * Checked first (nothing changes on bad input): the id is free, the image and
 * the bundle exist, the flags make sense, criu is there. Then, as `create`
 * does: claim the state directory, create the cgroup and set its limits. CRIU
 * runs inside that cgroup, restores into new namespaces on a bind of the rootfs
 * (it needs a mount point as --root), re-binds the host mounts at their
 * sources for this container (criu/mounts.ts), hands the caller's stdio to the
 * restored fds 0-2 (criu/descriptors.ts) and writes the new init's pid to a
 * file. The record is then saved with that pid: the container is running.
 *
 * --detach: criu detaches (the init is reparented, as after `run -d`).
 * Otherwise the init is restored as our child (--restore-sibling) and `wait`
 * resolves with its exit status, as runc's foreground restore.
 */
import { closeSync, existsSync, fstatSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { BerthError, alreadyExists, failedPrecondition, invalidArgument, wrapError } from "../errors.ts";
import type { Spec } from "../oci/runtime-spec.ts";
import { type Runtime, cgroupMountSources, killCgroup } from "./container.ts";
import { writePidFile } from "./pidfile.ts";
import { deviceCgroupRules } from "./plan/devices.ts";
import { createCgroupManager, type CgroupManager } from "./cgroups/manager.ts";
import { newRecord, validateId, type ContainerRecord } from "./state.ts";
import { resolveCriu } from "./criu/binary.ts";
import { runCriu, type ChildFd } from "./criu/run.ts";
import { restoreArgs } from "./criu/descriptors.ts";
import { externalMounts, restoreMountArgs } from "./criu/mounts.ts";
import { readMeta, requireImage, type CheckpointMeta } from "./criu/image.ts";
import { namespaceRestoreArgs } from "./criu/namespaces.ts";
import { cgroupRootArgs, inCgroups, procsFiles } from "./criu/cgroups.ts";
import { type CommonCriuOptions, checkCgroupsMode, checkEmptyNs, commonArgs, ensurePipeMaxSize, requireLazyPages } from "./criu/options.ts";
import { mount, umount, MS_BIND, MS_REC } from "./sys/mount.ts";
import { reapNoHang } from "./sys/wait.ts";
import { trace } from "../trace.ts";

export interface RestoreOptions extends CommonCriuOptions {
  bundle: string;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  /** accepted for runc compatibility: CRIU sets up the root of the restored mount namespace itself */
  noPivot?: boolean;
}

export interface Restored {
  record: ContainerRecord;
  /** how long criu ran */
  restoreMs: number;
  notes: string[];
  /** foreground only: resolves with the container's exit status */
  wait?: () => Promise<number>;
}

const LOG = "restore.log";

export async function restore(rt: Runtime, id: string, o: RestoreOptions): Promise<Restored> {
  const what = `restore ${id}`;
  // ---- checks: nothing is created before all of them pass
  validateId(id);
  if (rt.store.exists(id) || existsSync(rt.store.dir(id))) throw alreadyExists(`${what}: container with id "${id}" already exists`);
  if (!o.imagePath) throw invalidArgument(`${what}: --image-path: required`);
  const imagePath = resolve(o.imagePath);
  requireImage(what, imagePath);
  const meta = readMeta(imagePath);
  const workPath = o.workPath ? resolve(o.workPath) : undefined;
  const { spec, bundle, rootfs } = rt.loadBundle(o.bundle);
  if (o.consoleSocket || spec.process?.terminal) throw failedPrecondition(`${what}: terminals are not supported yet (--console-socket, process.terminal)`);
  const mode = checkCgroupsMode(what, o.manageCgroupsMode);
  const emptyNs = checkEmptyNs(what, o.emptyNs);
  const criu = resolveCriu(o.criu);
  if (o.lazyPages) requireLazyPages(what, criu);
  const cgroup = createCgroupManager({ id, cgroupsPath: spec.linux?.cgroupsPath });
  const resources = { ...(spec.linux?.resources ?? {}), devices: deviceCgroupRules(spec) };
  cgroup.check(resources);
  const notes: string[] = [];
  if (o.lazyPages) {
    const n = ensurePipeMaxSize();
    if (n) notes.push(n);
  }
  if (meta) await waitOldInit(meta);
  trace("checks");

  // ---- create
  const dir = rt.store.claim(id);
  const pidFile = join(dir, "criu.pid");
  let criuRoot: string | undefined;
  let cgroupCreated = false;
  let ns: ReturnType<typeof namespaceRestoreArgs> | undefined;
  let pid = 0;
  let devNull: number | undefined;
  try {
    cgroup.create();
    cgroupCreated = true;
    cgroup.set(resources);
    if (workPath) mkdirSync(workPath, { recursive: true, mode: 0o700 });
    criuRoot = bindRootfs(rt.store.root, id, rootfs);
    createMountTargets(criuRoot, spec, bundle);
    trace("cgroup-root");

    const args = ["-D", imagePath, "-o", LOG, "--root", criuRoot, ...commonArgs(o, mode, emptyNs), "--evasive-devices", "--pidfile", pidFile];
    // criu always detaches; in the foreground the init becomes our child (a sibling of criu) so we can wait for it
    args.push("--restore-detached");
    if (!o.detach) args.push("--restore-sibling");
    if (mode !== "ignore") args.push(...cgroupRootArgs(cgroup.toJSON()));
    args.push(...restoreMountArgs(externalMounts(spec, bundle, cgroupMountSources(cgroup))));
    const stdio: ChildFd[] = ["inherit", "inherit", "inherit"];
    if (meta) {
      const inherit = restoreArgs(meta.stdio, stdio.length);
      args.push(...inherit.args);
      // a closed stdio fd of ours becomes /dev/null in the container
      stdio.push(...inherit.pass.map((fd) => (isOpen(fd) ? fd : (devNull ??= openSync("/dev/null", "r+")))));
    }
    ns = namespaceRestoreArgs(spec, stdio.length);
    stdio.push(...ns.fds);
    args.push(...ns.args);

    let restoreMs: number;
    try {
      restoreMs = await runCriu(criu, {
        action: "restore",
        args,
        logDir: workPath ?? imagePath,
        logFile: LOG,
        stdio,
        wrap: (argv) => inCgroups(procsFiles(cgroup.toJSON()), argv),
      });
    } finally {
      ns.close();
      if (devNull !== undefined) closeSync(devNull);
    }
    trace("criu-restore");
    pid = readPid(pidFile);
    rmSync(pidFile, { force: true });
    const rec: ContainerRecord = newRecord({ id, pid, bundle, rootfs, config: spec, cgroup: cgroup.toJSON() });
    if (!rec.pidStartTime) throw new BerthError("Internal", `the restored init ${pid} exited right away`);
    rt.store.save(rec);
    if (o.pidFile) writePidFile(o.pidFile, pid);
    trace("state");
    return { record: rec, restoreMs, notes, ...(o.detach ? {} : { wait: () => waitChild(pid) }) };
  } catch (e) {
    if (pid > 0) killQuietly(pid);
    if (cgroupCreated) await destroyCgroup(cgroup);
    if (criuRoot) unbindRootfs(criuRoot);
    criuRoot = undefined;
    rt.store.release(id);
    throw e instanceof BerthError ? e.wrap(what) : wrapError(what, e);
  } finally {
    if (criuRoot) unbindRootfs(criuRoot);
  }
}

/**
 * CRIU needs --root to be a mount point whose parent is not overmounted: bind
 * the rootfs on a fresh directory next to the state directories (never inside
 * one, which is removed recursively).
 */
/**
 * CRIU restores mounts onto existing mount points: an engine's new rootfs (a
 * fresh overlay) may lack the files it bind-mounted at create (podman's
 * /run/.containerenv). Create the missing ones, as runc does before a restore.
 * Only through real directories: a symlink anywhere on the way means the target
 * is left alone (it could point out of the rootfs), and criu reports it.
 */
function createMountTargets(root: string, spec: Spec, bundle: string) {
  for (const m of spec.mounts ?? []) {
    const parts = m.destination.split("/").filter((p) => p && p !== "." && p !== "..");
    if (parts.length === 0) continue;
    const bind = m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
    let fileLeaf = false;
    if (bind && m.source) {
      try {
        fileLeaf = !statSync(isAbsolute(m.source) ? m.source : join(bundle, m.source)).isDirectory();
      } catch {}
    }
    let path = root;
    for (const [i, part] of parts.entries()) {
      path = join(path, part);
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (st) {
        if (st.isSymbolicLink()) break;
        continue;
      }
      if (i === parts.length - 1 && fileLeaf) writeFileSync(path, "", { flag: "wx", mode: 0o644 });
      else mkdirSync(path, { mode: 0o755 });
    }
  }
}

function bindRootfs(storeRoot: string, id: string, rootfs: string): string {
  const dir = mkdtempSync(join(storeRoot, `.criu-root-${id}-`));
  try {
    mount(rootfs, dir, "", MS_BIND | MS_REC);
  } catch (e) {
    rmdirSync(dir);
    throw e;
  }
  return dir;
}

function unbindRootfs(dir: string) {
  try {
    umount(dir);
    rmdirSync(dir); // not recursive: if the unmount failed this fails too, and the rootfs stays untouched
  } catch {}
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

function readPid(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw wrapError("criu did not write the restored init's pid", e);
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new BerthError("Internal", `criu wrote a bad pid file: ${JSON.stringify(text)}`);
  return pid;
}

/**
 * CRIU cannot give a restored task a pid that still exists (a zombie not yet
 * reaped counts): when the init shares our pid namespace it gets its old pid
 * back, so wait (bounded) until that pid is gone.
 */
async function waitOldInit(meta: CheckpointMeta, ms = 10_000) {
  if (meta.newPidNs || !meta.pid) return;
  const until = Date.now() + ms;
  while (existsSync(`/proc/${meta.pid}`) && Date.now() < until) await Bun.sleep(10);
}

async function waitChild(pid: number): Promise<number> {
  for (;;) {
    const st = reapNoHang(pid);
    if (st !== null) return st;
    await Bun.sleep(20);
  }
}

function killQuietly(pid: number) {
  try {
    process.kill(pid, 9);
  } catch {}
}

/** Kill what criu may have left in the cgroup, wait (bounded) for it to empty, remove it. */
async function destroyCgroup(cg: CgroupManager) {
  const until = Date.now() + 5_000;
  for (;;) {
    killCgroup(cg);
    let left: number[] = [];
    try {
      left = cg.processes();
    } catch {}
    if (!left.length || Date.now() > until) break;
    await Bun.sleep(10);
  }
  try {
    cg.destroy();
  } catch {}
}
