/**
 * The options checkpoint and restore share (runc's flags), checked before
 * anything is touched, and their criu command-line form.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { failedPrecondition, invalidArgument } from "../../errors.ts";
import { hasFeature, type Criu } from "./binary.ts";

export type CgroupsMode = "soft" | "full" | "strict" | "ignore";
const CGROUP_MODES: readonly string[] = ["soft", "full", "strict", "ignore"];

export interface CommonCriuOptions {
  /** the directory of criu image files */
  imagePath: string;
  /** where criu writes its log and work files (default: the image directory) */
  workPath?: string;
  tcpEstablished?: boolean;
  extUnixSk?: boolean;
  shellJob?: boolean;
  fileLocks?: boolean;
  /** default soft (criu's default for --manage-cgroups) */
  manageCgroupsMode?: string;
  lazyPages?: boolean;
  autoDedup?: boolean;
  /** namespace types to create empty instead of restoring their properties (runc: network) */
  emptyNs?: string[];
  /** the criu binary (runtime --criu); default: see binary.ts */
  criu?: string;
}

export function checkCgroupsMode(flag: string, v: string | undefined): CgroupsMode {
  const m = v || "soft";
  if (!CGROUP_MODES.includes(m)) throw invalidArgument(`${flag}: --manage-cgroups-mode: invalid value "${m}" (soft, full, strict or ignore)`);
  return m as CgroupsMode;
}

const EMPTY_NS: Record<string, string> = { network: "net" };

export function checkEmptyNs(flag: string, v: string[] | undefined): string[] {
  return (v ?? []).map((t) => {
    const n = EMPTY_NS[t];
    if (!n) throw invalidArgument(`${flag}: --empty-ns: namespace "${t}" is not supported (network)`);
    return n;
  });
}

/** The flags both criu dump and criu restore take, in criu's spelling. */
export function commonArgs(o: CommonCriuOptions, mode: CgroupsMode, emptyNs: string[]): string[] {
  const a = ["-v4", `--manage-cgroups=${mode}`];
  if (o.tcpEstablished) a.push("--tcp-established");
  if (o.extUnixSk) a.push("--ext-unix-sk");
  if (o.shellJob) a.push("--shell-job");
  if (o.fileLocks) a.push("--file-locks");
  if (o.autoDedup) a.push("--auto-dedup");
  if (o.lazyPages) a.push("--lazy-pages");
  for (const n of emptyNs) a.push("--empty-ns", n);
  if (o.workPath) a.push("-W", o.workPath);
  return a;
}

/** ADDRESS:PORT (IPv6 in brackets) as runc takes it. */
export function parsePageServer(v: string): { address: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw invalidArgument(`--page-server: "${v}" is not ADDRESS:PORT`);
  return { address: (m[1] ?? m[2])!, port };
}

/** userfaultfd lazy restore needs CRIU's uffd support in this kernel. */
export function requireLazyPages(flag: string, c: Criu) {
  if (!hasFeature(c, "uffd-noncoop"))
    throw failedPrecondition(`${flag}: --lazy-pages: this kernel or criu lacks non-cooperative userfaultfd (criu check --feature uffd-noncoop fails)`);
}

/** Pre-copy (pre-dump, or a dump on top of a parent) needs the kernel's soft-dirty page tracking. */
export function requireMemTracking(flag: string, c: Criu) {
  if (!hasFeature(c, "mem_dirty_track"))
    throw failedPrecondition(
      `${flag}: this kernel cannot track memory changes (CONFIG_MEM_SOFT_DIRTY is not set: criu check --feature mem_dirty_track fails), so pre-copy is not possible; checkpoint without it (stop-and-copy) or use --lazy-pages (post-copy)`,
    );
}

const PIPE_MAX = "/proc/sys/fs/pipe-max-size";
export const LAZY_PIPE_MAX = 4 * 1024 * 1024;

/**
 * Lazy pages move memory through pipes as big as fs.pipe-max-size; with the
 * default 1 MiB a lazy restore hangs. Raise it to 4 MiB when lower; returns a
 * note saying so, or undefined when nothing was changed.
 */
export function ensurePipeMaxSize(): string | undefined {
  let cur: number;
  try {
    cur = Number(readFileSync(PIPE_MAX, "utf8").trim());
  } catch {
    return undefined;
  }
  if (cur >= LAZY_PIPE_MAX) return undefined;
  try {
    writeFileSync(PIPE_MAX, String(LAZY_PIPE_MAX));
  } catch (e) {
    throw failedPrecondition(`--lazy-pages: fs.pipe-max-size is ${cur} and cannot be raised to ${LAZY_PIPE_MAX}: ${(e as Error).message}`);
  }
  return `set fs.pipe-max-size to ${LAZY_PIPE_MAX} (was ${cur}): lazy pages need pipes of 4 MiB`;
}
