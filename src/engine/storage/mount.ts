/**
 * Mounting a container's overlay rootfs in the host mount namespace.
 *
 * A plain mount(2)/umount2(2) in berthd's own namespace (no setns/unshare/
 * fork of the Bun process), through the runtime's bun:ffi binding: a `mount`
 * or `umount` process cost ~10 ms each per container start and exit. When the
 * option string with absolute lowerdirs does not fit the one-page limit of
 * mount(2) (images of many layers), util-linux `mount` runs with its cwd in the
 * overlay root so the lowerdir list can use the short relative links (l/XXXX),
 * which keeps even a 100+ layer image under the limit.
 */
import { isAbsolute, join } from "node:path";
import { readMountinfo } from "../../runtime/mountinfo.ts";
import { mount as mount2, umount as umount2 } from "../../runtime/sys/mount.ts";
import { internal, invalidArgument } from "../../errors.ts";

/** mount(2) copies at most one page of option data. */
export const MOUNT_DATA_MAX = 4095;

export interface OverlayMount {
  /** lower dirs, top first, relative to cwd (or absolute) */
  lower: string[];
  upper: string;
  work: string;
  /** directory the relative paths are resolved from */
  cwd: string;
  /** extra options (e.g. "index=off") */
  extra?: string[];
}

export function overlayOptions(m: OverlayMount): string {
  for (const p of [...m.lower, m.upper, m.work]) {
    if (/[,:\\]/.test(p)) throw invalidArgument(`overlay mount: path "${p}" contains a character mount options cannot carry`);
  }
  const opts = [`lowerdir=${m.lower.join(":")}`, `upperdir=${m.upper}`, `workdir=${m.work}`, ...(m.extra ?? [])].join(",");
  if (opts.length > MOUNT_DATA_MAX)
    throw invalidArgument(`overlay mount: ${m.lower.length} layers need ${opts.length} bytes of mount options, more than the ${MOUNT_DATA_MAX} the kernel takes`);
  return opts;
}

export function isMountPoint(path: string): boolean {
  return readMountinfo().some((e) => e.mountPoint === path);
}

export async function mountOverlay(m: OverlayMount, target: string): Promise<void> {
  const opts = overlayOptions(m);
  const abs = (p: string) => (isAbsolute(p) ? p : join(m.cwd, p));
  let direct: string | undefined;
  try {
    direct = overlayOptions({ ...m, lower: m.lower.map(abs), upper: abs(m.upper), work: abs(m.work) });
  } catch {
    direct = undefined; // too long with absolute paths: relative ones from the overlay root, below
  }
  if (direct !== undefined) {
    try {
      mount2("overlay", target, "overlay", 0, direct);
    } catch (e) {
      throw internal(`mount overlay on ${target}: ${(e as Error).message}`);
    }
    return;
  }
  const p = Bun.spawn(["mount", "-n", "-t", "overlay", "overlay", "-o", opts, target], { cwd: m.cwd, stdout: "ignore", stderr: "pipe" });
  const err = await new Response(p.stderr).text();
  if ((await p.exited) !== 0) throw internal(`mount overlay on ${target}: ${err.trim() || "mount failed"}`);
}

/** Unmount `target` if it is a mount point (no-op otherwise). */
export async function unmount(target: string): Promise<void> {
  if (!isMountPoint(target)) return;
  try {
    umount2(target, 0);
  } catch (e) {
    throw internal(`unmount ${target}: ${(e as Error).message}`);
  }
}
