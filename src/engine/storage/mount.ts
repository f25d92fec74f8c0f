/**
 * Mounting a container's overlay rootfs in the host mount namespace.
 *
 * Done with util-linux `mount`/`umount` rather than a bun:ffi mount(2): it
 * needs no new binding under src/runtime/sys/ (the runtime's files are not the
 * engine's to change), it is a plain mount(2) in berthd's own namespace (no
 * setns/unshare/fork of the Bun process), and it costs one short process per
 * container start. `mount` runs with its cwd in the overlay root so the
 * lowerdir list can use the short relative links (l/XXXX), which keeps the
 * option string of a 100+ layer image under the one-page limit of mount(2).
 */
import { readMountinfo } from "../../runtime/mountinfo.ts";
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
  const p = Bun.spawn(["mount", "-n", "-t", "overlay", "overlay", "-o", opts, target], { cwd: m.cwd, stdout: "ignore", stderr: "pipe" });
  const err = await new Response(p.stderr).text();
  if ((await p.exited) !== 0) throw internal(`mount overlay on ${target}: ${err.trim() || "mount failed"}`);
}

/** Unmount `target` if it is a mount point (no-op otherwise). */
export async function unmount(target: string): Promise<void> {
  if (!isMountPoint(target)) return;
  const p = Bun.spawn(["umount", "-n", target], { stdout: "ignore", stderr: "pipe" });
  const err = await new Response(p.stderr).text();
  if ((await p.exited) !== 0) throw internal(`unmount ${target}: ${err.trim() || "umount failed"}`);
}
