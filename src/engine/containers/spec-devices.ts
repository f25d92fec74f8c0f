/**
 * Devices of a container: HostConfig.Devices mappings (a host node or a
 * directory of nodes, added to linux.devices with a cgroup allow rule),
 * DeviceCgroupRules ("c 1:3 rwm"), and for a privileged container every
 * device node of the host's /dev.
 */
import { lstatSync, readdirSync, statSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { invalidArgument, notFound } from "../../errors.ts";
import type { LinuxDevice, LinuxDeviceCgroup } from "../../oci/runtime-spec.ts";
import type { DeviceMapping } from "./model.ts";

const S_IFMT = 0o170000n;
const S_IFCHR = 0o020000n;
const S_IFBLK = 0o060000n;

function devNumbers(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

/** A LinuxDevice for a char/block node's stat, or undefined for anything else. */
function fromStat(st: BigIntStats, path: string): LinuxDevice | undefined {
  const fmt = st.mode & S_IFMT;
  if (fmt !== S_IFCHR && fmt !== S_IFBLK) return undefined;
  return {
    path,
    type: fmt === S_IFCHR ? "c" : "b",
    ...devNumbers(st.rdev),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

export interface DeviceSetup {
  devices: LinuxDevice[];
  rules: LinuxDeviceCgroup[];
}

/** HostConfig.Devices -> nodes and allow rules; NotFound when the host path is missing or has no device. */
export function mappedDevices(mappings: readonly DeviceMapping[] | null | undefined): DeviceSetup {
  const out: DeviceSetup = { devices: [], rules: [] };
  for (const m of mappings ?? []) {
    const inContainer = m.PathInContainer || m.PathOnHost;
    const access = m.CgroupPermissions || "rwm";
    let st: BigIntStats;
    try {
      st = statSync(m.PathOnHost, { bigint: true });
    } catch {
      throw notFound(`error gathering device information while adding custom device ${JSON.stringify(m.PathOnHost)}: no such file or directory`);
    }
    const found: LinuxDevice[] = [];
    if (st.isDirectory()) {
      walk(m.PathOnHost, (hostPath, dev) => found.push({ ...dev, path: join(inContainer, hostPath.slice(m.PathOnHost.length)) }));
    } else {
      const d = fromStat(st, inContainer);
      if (d) found.push(d);
    }
    if (!found.length) throw invalidArgument(`error gathering device information while adding custom device ${JSON.stringify(m.PathOnHost)}: not a device node`);
    for (const d of found) {
      out.devices.push(d);
      out.rules.push({ allow: true, type: d.type === "b" ? "b" : "c", major: d.major, minor: d.minor, access });
    }
  }
  return out;
}

/** Visit the char/block nodes under dir (symlinks are not followed). */
function walk(dir: string, visit: (path: string, dev: LinuxDevice) => void, skip: ReadonlySet<string> = new Set()) {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (skip.has(p)) continue;
    let st: BigIntStats;
    try {
      st = lstatSync(p, { bigint: true });
    } catch {
      continue;
    }
    if (st.isDirectory()) walk(p, visit, skip);
    else {
      const d = fromStat(st, p);
      if (d) visit(p, d);
    }
  }
}

/** Every device node of the host's /dev, for a privileged container (as runc's HostDevices: not pts, shm, mqueue, console). */
export function hostDevices(): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  const skip = new Set(["/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/fd", "/dev/console", "/dev/.lxc", "/dev/.udev"]);
  walk("/dev", (_p, d) => out.push(d), skip);
  return out;
}

/** "c 1:3 rwm" -> an allow rule (the syntax was checked by validateCreate). */
export function parseDeviceCgroupRule(rule: string): LinuxDeviceCgroup {
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule);
  if (!m) throw invalidArgument(`invalid device cgroup format '${rule}'`);
  const out: LinuxDeviceCgroup = { allow: true, type: m[1] as "a" | "b" | "c", access: m[4]! };
  if (m[2] !== "*") out.major = Number(m[2]);
  if (m[3] !== "*") out.minor = Number(m[3]);
  return out;
}
