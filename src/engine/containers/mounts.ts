/**
 * A container's mounts, resolved at create: HostConfig.Binds
 * ("src:dst[:opts]"), HostConfig.Mounts (bind, volume, tmpfs), HostConfig.Tmpfs
 * and Config.Volumes (anonymous volumes, where no user mount covers the path)
 * become ResolvedMount[] with host sources. Named volumes that do not exist
 * are created; all validation happens before anything is created, and
 * volumes created by a call that then fails are removed again.
 *
 * Copy-up (docker's): a volume that is empty when mounted over a directory
 * that has content in the image gets that content (unless nocopy). The image
 * side is found with the in-root walk (inroot.ts), so image symlinks cannot
 * point the copy at host paths.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { isAbsolute, posix } from "node:path";
import { BerthError, internal, invalidArgument } from "../../errors.ts";
import { ANONYMOUS_LABEL, checkVolumeName, type VolumeStore } from "../volumes/store.ts";
import { closeQuietly, fdPathForChild, resolveInContainer } from "./inroot.ts";
import type { ContainerRecord, DockerConfig, HostConfig, MountRequest, ResolvedMount } from "./model.ts";

export interface MountInput {
  tenant: string;
  Config: Pick<DockerConfig, "Volumes">;
  HostConfig: Pick<HostConfig, "Binds" | "Mounts" | "Tmpfs">;
  volumes: VolumeStore;
  /** the container's mounted rootfs (host path): volumes are populated from it (copy-up); omit to skip */
  rootfs?: string;
}

const PROPAGATIONS = ["shared", "rshared", "slave", "rslave", "private", "rprivate"];
const LABEL_MODES = ["z", "Z"];
const TMPFS_FLAGS = new Set(["exec", "noexec", "suid", "nosuid", "dev", "nodev", "ro", "rw", "atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime", "sync", "async", "dirsync", "mand", "nomand"]);
const TMPFS_KEYS = new Set(["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "huge", "mpol", "tmpcopyup"]);

/** A mount request after parsing, before volumes exist. */
interface Planned {
  type: "bind" | "volume" | "tmpfs";
  /** bind: host path; volume: name ("" = anonymous) */
  source: string;
  dest: string;
  rw: boolean;
  mode: string;
  propagation: string;
  nocopy: boolean;
  options: string[];
  /** bind source that must exist (Mounts) vs one created (Binds) */
  createSource: boolean;
  nonRecursive?: boolean;
  labels?: Record<string, string>;
  driverOpts?: Record<string, string>;
}

function cleanDest(d: string, kind: string): string {
  if (!d) throw invalidArgument(`invalid mount config for type "${kind}": field Target must not be empty`);
  if (!d.startsWith("/")) throw invalidArgument(`invalid mount config for type "${kind}": invalid mount path: '${d}' mount path must be absolute`);
  const c = posix.normalize(d).replace(/\/+$/, "") || "/";
  if (c === "/") throw invalidArgument("invalid specification: destination can't be '/'");
  return c;
}

function parseBind(spec: string): Planned {
  const bad = () => invalidArgument(`invalid volume specification: '${spec}'`);
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3) throw bad();
  const [src, dst, modeStr = ""] = parts as [string, string, string?];
  if (!src || !dst) throw bad();
  const modes = modeStr === "" ? [] : modeStr.split(",");
  let rw = true;
  let propagation = "";
  let nocopy = false;
  let seenRw = false;
  for (const m of modes) {
    if (m === "ro" || m === "rw") {
      if (seenRw) throw invalidArgument(`invalid mode: ${modeStr}`);
      seenRw = true;
      rw = m === "rw";
    } else if (PROPAGATIONS.includes(m)) {
      if (propagation) throw invalidArgument(`invalid mode: ${modeStr}`);
      propagation = m;
    } else if (m === "nocopy") nocopy = true;
    else if (!LABEL_MODES.includes(m)) throw invalidArgument(`invalid mode: ${modeStr}`);
  }
  const bind = isAbsolute(src);
  if (bind && nocopy) throw invalidArgument(`invalid mode: ${modeStr}`);
  if (!bind) {
    if (propagation) throw invalidArgument(`invalid mode: ${modeStr}`);
    checkVolumeName(src);
  }
  const dest = cleanDest(dst, bind ? "bind" : "volume");
  return {
    type: bind ? "bind" : "volume",
    source: bind ? posix.normalize(src).replace(/(.)\/+$/, "$1") : src,
    dest,
    rw,
    mode: modeStr,
    propagation: bind ? propagation || "rprivate" : "",
    nocopy,
    options: [],
    createSource: true,
  };
}

function parseMount(m: MountRequest): Planned {
  if (!m || typeof m !== "object") throw invalidArgument("Mounts: want a list of objects");
  const t = m.Type;
  const cfg = (msg: string) => invalidArgument(`invalid mount config for type "${t}": ${msg}`);
  if (t !== "bind" && t !== "volume" && t !== "tmpfs") throw invalidArgument(`invalid mount config: mount type unknown: "${t}"`);
  const dest = cleanDest(m.Target, t);
  if (t !== "bind" && m.BindOptions) throw cfg("field BindOptions must not be specified");
  if (t !== "volume" && m.VolumeOptions) throw cfg("field VolumeOptions must not be specified");
  if (t !== "tmpfs" && m.TmpfsOptions) throw cfg("field TmpfsOptions must not be specified");
  const rw = !m.ReadOnly;
  if (t === "bind") {
    if (!m.Source) throw cfg("field Source must not be empty");
    if (!isAbsolute(m.Source)) throw cfg(`invalid mount path: '${m.Source}' mount path must be absolute`);
    const prop = m.BindOptions?.Propagation ?? "";
    if (prop && !PROPAGATIONS.includes(prop)) throw cfg(`invalid propagation mode: ${prop}`);
    const source = posix.normalize(m.Source).replace(/(.)\/+$/, "$1");
    return {
      type: "bind",
      source,
      dest,
      rw,
      mode: "",
      propagation: prop || "rprivate",
      nocopy: false,
      options: [],
      createSource: !!m.BindOptions?.CreateMountpoint,
      nonRecursive: !!m.BindOptions?.NonRecursive,
    };
  }
  if (t === "volume") {
    if (m.Source) checkVolumeName(m.Source);
    const vo = m.VolumeOptions ?? {};
    if (vo.Subpath) throw cfg("field VolumeOptions.Subpath is not supported by berth");
    const driver = vo.DriverConfig?.Name ?? "";
    if (driver && driver !== "local") throw cfg(`volume driver "${driver}" is not supported (only "local")`);
    return {
      type: "volume",
      source: m.Source ?? "",
      dest,
      rw,
      mode: "z",
      propagation: "",
      nocopy: !!vo.NoCopy,
      options: [],
      createSource: true,
      labels: vo.Labels ?? undefined,
      driverOpts: vo.DriverConfig?.Options ?? undefined,
    };
  }
  if (m.Source) throw cfg("field Source must not be specified");
  const options: string[] = ["nosuid", "nodev", "noexec"];
  const to = m.TmpfsOptions ?? {};
  if (to.SizeBytes !== undefined && to.SizeBytes !== null) {
    if (!Number.isSafeInteger(to.SizeBytes) || to.SizeBytes < 0) throw cfg(`invalid tmpfs size: ${to.SizeBytes}`);
    if (to.SizeBytes > 0) options.push(`size=${to.SizeBytes}`);
  }
  if (to.Mode !== undefined && to.Mode !== null && to.Mode !== 0) {
    if (!Number.isInteger(to.Mode) || to.Mode < 0 || to.Mode > 0o7777) throw cfg(`invalid tmpfs mode: ${to.Mode}`);
    options.push(`mode=${to.Mode.toString(8)}`);
  }
  return { type: "tmpfs", source: "", dest, rw, mode: "", propagation: "", nocopy: false, options, createSource: false };
}

/** HostConfig.Tmpfs value ("size=64m,mode=1777,exec") -> mount options (docker defaults nosuid,nodev,noexec). */
export function tmpfsOptions(dest: string, spec: string): { options: string[]; rw: boolean } {
  const flags = new Map<string, string>([["suid", "nosuid"], ["dev", "nodev"], ["exec", "noexec"]]);
  const data: string[] = [];
  let rw = true;
  for (const raw of spec.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const eq = raw.indexOf("=");
    if (eq < 0) {
      if (!TMPFS_FLAGS.has(raw)) throw invalidArgument(`invalid tmpfs option for ${dest}: "${raw}"`);
      if (raw === "ro" || raw === "rw") rw = raw === "rw";
      else if (/^(no)?(suid|dev|exec)$/.test(raw)) flags.set(raw.replace(/^no/, ""), raw);
      else data.push(raw);
      continue;
    }
    const key = raw.slice(0, eq);
    const val = raw.slice(eq + 1);
    if (!TMPFS_KEYS.has(key)) throw invalidArgument(`invalid tmpfs option for ${dest}: "${raw}"`);
    if (key === "size" && !/^\d+[kKmMgG%]?$/.test(val)) throw invalidArgument(`invalid tmpfs option for ${dest}: bad size "${val}"`);
    if (key === "mode" && !/^[0-7]{1,4}$/.test(val)) throw invalidArgument(`invalid tmpfs option for ${dest}: bad mode "${val}"`);
    if ((key === "uid" || key === "gid" || key === "nr_inodes" || key === "nr_blocks") && !/^\d+[kKmMgG]?$/.test(val))
      throw invalidArgument(`invalid tmpfs option for ${dest}: bad ${key} "${val}"`);
    if (key === "tmpcopyup") throw invalidArgument(`invalid tmpfs option for ${dest}: "tmpcopyup" is not supported`);
    data.push(raw);
  }
  return { options: [...flags.values(), ...data], rw };
}

function plan(input: MountInput): Planned[] {
  const out: Planned[] = [];
  const seen = new Set<string>();
  const add = (p: Planned) => {
    if (seen.has(p.dest)) throw invalidArgument(`Duplicate mount point: ${p.dest}`);
    seen.add(p.dest);
    out.push(p);
  };
  const hc = input.HostConfig;
  for (const b of hc.Binds ?? []) {
    if (typeof b !== "string") throw invalidArgument("Binds: want a list of strings");
    add(parseBind(b));
  }
  for (const m of hc.Mounts ?? []) add(parseMount(m));
  for (const [d, spec] of Object.entries(hc.Tmpfs ?? {})) {
    if (typeof spec !== "string") throw invalidArgument(`Tmpfs: ${d}: want a string`);
    const dest = cleanDest(d, "tmpfs");
    const { options, rw } = tmpfsOptions(dest, spec);
    add({ type: "tmpfs", source: "", dest, rw, mode: "", propagation: "", nocopy: false, options, createSource: false });
  }
  // image/config volumes: anonymous, unless a user mount is already there
  for (const d of Object.keys(input.Config.Volumes ?? {})) {
    const dest = cleanDest(d, "volume");
    if (seen.has(dest)) continue;
    add({ type: "volume", source: "", dest, rw: true, mode: "", propagation: "", nocopy: false, options: [], createSource: true, labels: {} });
  }
  return out;
}

function mountOptions(p: Planned): string[] {
  if (p.type === "tmpfs") return [...p.options, p.rw ? "rw" : "ro"];
  return [p.nonRecursive ? "bind" : "rbind", p.rw ? "rw" : "ro", ...(p.propagation ? [p.propagation] : [])];
}

/**
 * Validate and resolve a container's mounts (call at create, after the rootfs
 * is prepared and mounted if copy-up is wanted). Creates missing named and
 * anonymous volumes and bind sources given in Binds; on error removes the
 * volumes it created and throws docker's message.
 */
export function resolveMounts(input: MountInput): ResolvedMount[] {
  const planned = plan(input);
  // bind sources first (Mounts: must exist; Binds: created like docker does)
  for (const p of planned) {
    if (p.type !== "bind") continue;
    if (existsSync(p.source)) continue;
    if (!p.createSource) throw invalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${p.source}`);
  }
  const created: string[] = [];
  try {
    const out: ResolvedMount[] = [];
    for (const p of planned) {
      let source = p.source;
      let name: string | undefined;
      if (p.type === "bind" && !existsSync(p.source)) {
        try {
          mkdirSync(p.source, { recursive: true, mode: 0o755 });
        } catch (e) {
          throw internal(`error while creating mount source path '${p.source}': ${(e as Error).message}`, e);
        }
      }
      if (p.type === "volume") {
        const isNew = p.source === "" || !input.volumes.exists(input.tenant, p.source);
        const labels = p.source === "" ? { ...p.labels, [ANONYMOUS_LABEL]: "" } : (p.labels ?? {});
        const v = isNew
          ? input.volumes.create(input.tenant, { Name: p.source || undefined, Labels: labels, DriverOpts: p.driverOpts })
          : input.volumes.inspect(input.tenant, p.source);
        if (isNew) created.push(v.Name);
        name = v.Name;
        source = input.volumes.mountpoint(input.tenant, v.Name);
        if (input.rootfs && !p.nocopy) copyUp(input.rootfs, p.dest, source);
      }
      out.push({
        Type: p.type,
        ...(name !== undefined ? { Name: name } : {}),
        Source: source,
        Destination: p.dest,
        Mode: p.nocopy && !p.mode.includes("nocopy") ? [p.mode, "nocopy"].filter(Boolean).join(",") : p.mode,
        RW: p.rw,
        Propagation: p.propagation,
        Options: mountOptions(p),
      });
    }
    return out;
  } catch (e) {
    for (const n of created) {
      try {
        input.volumes.remove(input.tenant, n, { force: true });
      } catch {}
    }
    throw e;
  }
}

function isEmptyDir(p: string): boolean {
  try {
    return readdirSync(p).length === 0;
  } catch {
    return false;
  }
}

/**
 * Copy the image's content at `dest` (inside `rootfs`, resolved in-root) into
 * the empty volume directory `volumeDir`. Nothing happens when the volume has
 * content, or the image has no directory there.
 */
export function copyUp(rootfs: string, dest: string, volumeDir: string) {
  if (!isEmptyDir(volumeDir)) return;
  let r;
  try {
    r = resolveInContainer({ rootfs, mounts: [] }, dest);
  } catch (e) {
    if (e instanceof BerthError) return; // missing, or not reachable: nothing to copy
    throw e;
  }
  try {
    if (!r.stat.isDirectory()) return;
    // cp -a never follows symlinks below its source; the source itself is the fd we resolved in-root
    const src = fdPathForChild(r.fd);
    const p = Bun.spawnSync(["cp", "-a", "--no-dereference", "--one-file-system", "--", `${src}/.`, `${volumeDir}/`], { stdout: "ignore", stderr: "pipe" });
    if (p.exitCode !== 0) throw internal(`copy image content at ${dest} into volume: ${p.stderr.toString().trim()}`);
    // the volume's root takes the image directory's owner and mode, as docker's copy-up does
    const st = r.stat;
    chownSync(volumeDir, st.uid, st.gid);
    chmodSync(volumeDir, st.mode & 0o7777);
  } finally {
    closeQuietly(r.fd);
  }
}

/** Anonymous volumes of a container (for `rm -v`): names of its volume mounts that carry the anonymous label. */
export function volumesToRemove(record: Pick<ContainerRecord, "tenant" | "Mounts">, volumes: VolumeStore): string[] {
  const out: string[] = [];
  for (const m of record.Mounts) {
    if (m.Type !== "volume" || !m.Name) continue;
    if (!volumes.exists(record.tenant, m.Name)) continue;
    if (ANONYMOUS_LABEL in volumes.inspect(record.tenant, m.Name).Labels) out.push(m.Name);
  }
  return out;
}
