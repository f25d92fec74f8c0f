/**
 * Persistent network namespaces: an nsfs bind-mounted on a file under one
 * directory (as `ip netns add` does under /run/netns), so a namespace exists
 * before the container's process and outlives it until removed. They are made
 * by util-linux `unshare --net=FILE ip link set lo up` (a child process: the
 * Bun process never unshares): unshare bind-mounts the new namespace on FILE
 * and runs `ip` in it, which brings its loopback up; one process tree rather
 * than `unshare` then `nsenter ... ip` (each exec costs ~10 ms here). Removal
 * is an umount2(2) of that bind mount from berthd itself (the host's mount
 * namespace: no process needed).
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { invalidArgument } from "../../errors.ts";
import { must } from "./command.ts";
import { umount } from "../../runtime/sys/mount.ts";

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]{0,127}$/;

export class NetnsStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  }

  path(name: string): string {
    if (!NAME_RE.test(name)) throw invalidArgument(`netns name: invalid ${JSON.stringify(name)}`);
    return join(this.dir, name);
  }

  /** Create the namespace `name` (lo up) and return its path. */
  async create(name: string): Promise<string> {
    const p = this.path(name);
    if (isNsMount(p)) throw invalidArgument(`netns ${name}: already exists`);
    closeSync(openSync(p, "w", 0o444));
    try {
      await must(["unshare", `--net=${p}`, "ip", "link", "set", "lo", "up"], `create netns ${name} (loopback up)`);
    } catch (e) {
      await this.remove(name);
      throw e;
    }
    return p;
  }

  /** Unmount and remove; absent is fine. */
  async remove(name: string): Promise<void> {
    const p = this.path(name);
    if (isNsMount(p)) {
      try {
        umount(p, 0);
      } catch {
        if (isNsMount(p)) umount(p); // busy: detach it (MNT_DETACH), as `umount -l`
      }
    }
    rmSync(p, { force: true });
  }

  /** Names of the files in the directory. */
  list(): string[] {
    try {
      return readdirSync(this.dir);
    } catch {
      return [];
    }
  }
}

/** Is there an nsfs mount on `p` in our mount namespace? */
export function isNsMount(p: string): boolean {
  return nsMountsUnder(p).includes(p);
}

/** nsfs mount points at or below `prefix` (from /proc/self/mountinfo). */
export function nsMountsUnder(prefix: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-");
    if (sep < 0 || f[sep + 1] !== "nsfs") continue;
    const mp = (f[4] ?? "").replace(/\\040/g, " ");
    if (mp === prefix || mp.startsWith(prefix.endsWith("/") ? prefix : prefix + "/")) out.push(mp);
  }
  return out;
}
