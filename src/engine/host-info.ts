/**
 * Facts about the host for `docker info` / `docker version`: kernel, OS,
 * CPUs, memory, cgroup layout. Read once per call; nothing is cached that
 * can change (memory, cgroup mounts are read each time).
 */
import { readdirSync, readFileSync, statfsSync } from "node:fs";
import { availableParallelism, hostname, machine, release, totalmem } from "node:os";
import { detectHierarchy } from "../runtime/cgroups/hierarchy.ts";

export interface HostInfo {
  hostname: string;
  kernelVersion: string;
  /** PRETTY_NAME of /etc/os-release */
  operatingSystem: string;
  osVersion: string;
  osType: "linux";
  /** uname -m: x86_64, aarch64 */
  architecture: string;
  /** GOARCH spelling: amd64, arm64 */
  goArch: string;
  ncpu: number;
  memTotal: number;
  /** "1" (v1 or hybrid) or "2" */
  cgroupVersion: "1" | "2";
  cgroupDriver: "cgroupfs";
}

const GOARCH: Record<string, string> = { x86_64: "amd64", aarch64: "arm64", armv7l: "arm", i686: "386", ppc64le: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if (/^".*"$/.test(v) || /^'.*'$/.test(v)) v = v.slice(1, -1).replace(/\\(["\\$`])/g, "$1");
    out[m[1]!] = v;
  }
  return out;
}

function osRelease(): Record<string, string> {
  for (const p of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      return parseOsRelease(readFileSync(p, "utf8"));
    } catch {}
  }
  return {};
}

function cgroupVersion(): "1" | "2" {
  try {
    return detectHierarchy().mode === "v2" ? "2" : "1";
  } catch {
    return "1";
  }
}

export function hostInfo(): HostInfo {
  const os = osRelease();
  const arch = machine();
  return {
    hostname: hostname(),
    kernelVersion: release(),
    operatingSystem: os.PRETTY_NAME ?? "Linux",
    osVersion: os.VERSION_ID ?? "",
    osType: "linux",
    architecture: arch,
    goArch: GOARCH[arch] ?? arch,
    ncpu: availableParallelism(),
    memTotal: totalmem(),
    cgroupVersion: cgroupVersion(),
    cgroupDriver: "cgroupfs",
  };
}

/** statfs magic -> the name docker shows as "Backing Filesystem". */
const FS_MAGIC: Record<number, string> = {
  0xef53: "extfs",
  0x58465342: "xfs",
  0x9123683e: "btrfs",
  0x01021994: "tmpfs",
  0x794c7630: "overlayfs",
  0x2fc12fc1: "zfs",
  0xf2f52010: "f2fs",
  0x6969: "nfs",
};

/** The filesystem a directory is on ("extfs", "xfs", "tmpfs", ...; "unknown" otherwise). */
export function backingFilesystem(dir: string): string {
  try {
    return FS_MAGIC[Number(statfsSync(dir).type)] ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Open file descriptors of this process. */
export function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}
