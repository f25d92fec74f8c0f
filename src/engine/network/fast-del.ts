/**
 * CNI DEL of an attachment to one of berth's own bridge networks without the
 * plugins' processes. Such an attachment's chain is the bridge plugin alone
 * (conflist.ts: no ipMasq, host-local IPAM with its leases under berth's data
 * root), and its DEL is, in containernetworking/plugins' bridge and host-local:
 *
 *   1. delete the container's end of the veth (its pair goes with it), and
 *   2. release the IPAM lease: under an exclusive flock of the network's lease
 *      directory's lock, remove the files (one per address) that hold
 *      "<container id>\r\n<ifname>" (or, written by older versions, the id alone).
 *
 * Each plugin is a Go process, and the bridge one runs host-local in turn: two
 * process starts, ~50 ms of every exit on this machine (bench/engine-trace.ts).
 * Here the veth is deleted by its host-side name (from the cached ADD result,
 * checked to be enslaved to the network's bridge) with one `ip` process (most
 * of its ~25 ms is the kernel's: RCU grace periods), and the lease is
 * released in-process, taking the same lock host-local takes (the "lock"
 * file, and the directory itself, which plugins before 1.0 locked).
 *
 * Anything unexpected (another chain, a foreign IPAM, no cached result, the
 * lock busy for long) returns false: the caller runs the plugins' real DEL.
 */
import { closeSync, constants as fsc, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from "../../runtime/sys/libc.ts";
import { run } from "./command.ts";
import type { CachedAttachment } from "./cni/cache.ts";
import { isObject } from "./cni/types.ts";

const LOCK_WAIT_MS = 2000;

/** The bridge plugin's config of an attachment this module can undo, or undefined. */
function ownBridge(c: CachedAttachment, ipamDir: string): { bridge: string; dataDir: string } | undefined {
  const plugins = c.config.plugins;
  if (plugins.length !== 1) return undefined;
  const p = plugins[0]! as Record<string, unknown>;
  if (p.type !== "bridge" || p.ipMasq === true || typeof p.bridge !== "string") return undefined;
  const ipam = p.ipam;
  if (!isObject(ipam) || ipam.type !== "host-local" || ipam.dataDir !== ipamDir) return undefined;
  return { bridge: p.bridge, dataDir: ipamDir };
}

/** The host end of the attachment's veth: in the result, outside the sandbox, enslaved to `bridge`. */
function hostVeth(c: CachedAttachment, bridge: string): string | null | undefined {
  const ifs = c.result?.interfaces ?? [];
  const cand = ifs.filter((i) => !i.sandbox && i.name !== bridge && /^[a-zA-Z0-9_.\-]{1,15}$/.test(i.name));
  if (cand.length !== 1) return undefined;
  const name = cand[0]!.name;
  try {
    statSync(`/sys/class/net/${name}`);
  } catch {
    return null; // gone already (as the plugin's "link not found": nothing to delete)
  }
  try {
    if (basename(readlinkSync(`/sys/class/net/${name}/master`)) !== bridge) return undefined;
  } catch {
    return undefined;
  }
  return name;
}

async function lockFd(fd: number, path: string): Promise<boolean> {
  const t0 = performance.now();
  while (!flock(fd, LOCK_EX | LOCK_NB, path)) {
    if (performance.now() - t0 > LOCK_WAIT_MS) return false;
    await Bun.sleep(2);
  }
  return true;
}

/** host-local's ReleaseByID for one network's lease directory. */
async function releaseLease(dir: string, containerId: string, ifName: string): Promise<boolean> {
  let dirFd = -1;
  let lockFdNum = -1;
  try {
    dirFd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch {
    return true; // no lease directory: nothing leased
  }
  try {
    lockFdNum = openSync(join(dir, "lock"), fsc.O_RDONLY | fsc.O_CREAT, 0o600);
    if (!(await lockFd(dirFd, dir))) return false;
    if (!(await lockFd(lockFdNum, join(dir, "lock")))) return false;
    const id = containerId.trim();
    const match = (want: string) => {
      let found = false;
      for (const n of readdirSync(dir)) {
        if (n === "lock" || n.startsWith("last_reserved_ip.")) continue;
        const p = join(dir, n);
        let text: string;
        try {
          text = readFileSync(p, "utf8");
        } catch {
          continue;
        }
        if (text.trim() === want) {
          rmSync(p, { force: true });
          found = true;
        }
      }
      return found;
    };
    if (!match(`${id}\r\n${ifName}`)) match(id);
    return true;
  } finally {
    if (lockFdNum >= 0) {
      try {
        flock(lockFdNum, LOCK_UN);
      } catch {}
      closeSync(lockFdNum);
    }
    try {
      flock(dirFd, LOCK_UN);
    } catch {}
    closeSync(dirFd);
  }
}

/**
 * A DEL of a cached attachment to a berth bridge network (its leases in
 * `ipamDir`, berth's own), or undefined when the plugins must do it. run()
 * deletes the veth, then releases the lease (the plugins' order: an address is
 * never handed out while the interface that had it exists); false if it could
 * not (the caller then runs the plugins' DEL, which is idempotent).
 */
export function fastBridgeDel(c: CachedAttachment, ipamDir: string): { run: () => Promise<boolean> } | undefined {
  if (!c.complete) return undefined;
  const own = ownBridge(c, ipamDir);
  if (!own) return undefined;
  const veth = hostVeth(c, own.bridge);
  if (veth === undefined) return undefined;
  return {
    run: async () => {
      if (veth !== null) {
        const r = await run(["ip", "link", "del", veth]);
        if (r.code !== 0 && existsLink(veth)) return false;
      }
      return releaseLease(join(own.dataDir, c.networkName), c.containerId, c.ifName);
    },
  };
}

function existsLink(name: string): boolean {
  try {
    statSync(`/sys/class/net/${name}`);
    return true;
  } catch {
    return false;
  }
}
