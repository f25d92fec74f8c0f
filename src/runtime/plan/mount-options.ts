/** OCI mount options -> mount(2) flags, propagation flags and data string. */
import { MS } from "./linux.ts";

export interface ParsedMountOptions {
  /** flags for the mount(2) call itself (never propagation) */
  flags: number;
  /** one mount(2) call per propagation option, in order */
  propagation: number[];
  /** fs-specific data: the options that are not flags */
  data: string;
  bind: boolean;
  recursive: boolean;
  /** "idmap" / "ridmap" (runtime-spec 1.2): an idmapped mount, never passed to mount(2) */
  idmap?: "idmap" | "ridmap";
}

const SET: Record<string, number> = {
  ro: MS.RDONLY,
  nosuid: MS.NOSUID,
  nodev: MS.NODEV,
  noexec: MS.NOEXEC,
  sync: MS.SYNCHRONOUS,
  dirsync: MS.DIRSYNC,
  mand: MS.MANDLOCK,
  noatime: MS.NOATIME,
  nodiratime: MS.NODIRATIME,
  relatime: MS.RELATIME,
  strictatime: MS.STRICTATIME,
  lazytime: MS.LAZYTIME,
  nosymfollow: MS.NOSYMFOLLOW,
  remount: MS.REMOUNT,
  silent: MS.SILENT,
};
const CLEAR: Record<string, number> = {
  rw: MS.RDONLY,
  suid: MS.NOSUID,
  dev: MS.NODEV,
  exec: MS.NOEXEC,
  async: MS.SYNCHRONOUS,
  nomand: MS.MANDLOCK,
  atime: MS.NOATIME,
  diratime: MS.NODIRATIME,
  norelatime: MS.RELATIME,
  nostrictatime: MS.STRICTATIME,
  nolazytime: MS.LAZYTIME,
  symfollow: MS.NOSYMFOLLOW,
  loud: MS.SILENT,
};
const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** Options berth accepts but that change nothing in mount(2). */
const IGNORED = new Set(["defaults", "tmpcopyup"]);

/** Accepted so configs written for runc load, but the copy-up itself is not done: not claimed by `features`. */
const NOT_DONE = new Set(["tmpcopyup"]);

/** Every option parseMountOptions gives a meaning to (not fs-specific data), sorted: `features` reports these. */
export function knownMountOptions(): string[] {
  const all = ["bind", "rbind", ...Object.keys(SET), ...Object.keys(CLEAR), ...Object.keys(PROPAGATION), ...IGNORED];
  return all.filter((o) => !NOT_DONE.has(o)).sort();
}

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let bind = false;
  let recursive = false;
  let idmap: ParsedMountOptions["idmap"];
  for (const opt of options) {
    if (opt === "bind") bind = true;
    else if (opt === "idmap" || opt === "ridmap") idmap = opt;
    else if (opt === "rbind") (bind = true), (recursive = true);
    else if (opt in SET) flags |= SET[opt]!;
    else if (opt in CLEAR) flags &= ~CLEAR[opt]!;
    else if (opt in PROPAGATION) propagation.push(PROPAGATION[opt]!);
    else if (IGNORED.has(opt)) continue;
    else data.push(opt);
  }
  return { flags, propagation, data: data.join(","), bind, recursive, ...(idmap ? { idmap } : {}) };
}

/** The propagation flags for linux.rootfsPropagation. */
export function rootPropagationFlags(value: string): number | undefined {
  return PROPAGATION[value];
}
