/**
 * The local driver's options (DriverOpts), as docker's local driver takes
 * them: `type`, `device` and `o` describe a mount made on the volume's _data
 * dir (tmpfs, or a bind of a host directory); `size` alone is refused (it
 * needs a quota-capable filesystem berth does not manage). Anything else is an
 * error naming the option, so a typo is not silently a plain directory.
 */
import { isAbsolute } from "node:path";
import { invalidArgument } from "../../errors.ts";

export interface LocalMountOptions {
  type: string;
  device: string;
  /** mount(8) -o options (without bind/rbind for a bind mount) */
  o: string[];
  bind: boolean;
}

const KEYS = ["type", "device", "o"];
/** tmpfs options docker users pass (mount(8)'s tmpfs options). */
const TMPFS_OPTS = new Set(["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "huge", "mpol", "noexec", "nosuid", "nodev", "exec", "suid", "dev", "ro", "rw", "noatime", "relatime"]);
const BIND_OPTS = new Set(["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec"]);

/** Validate DriverOpts for the local driver; undefined when it is a plain directory. */
export function parseLocalOptions(opts: Record<string, string>): LocalMountOptions | undefined {
  const keys = Object.keys(opts);
  if (keys.length === 0) return undefined;
  for (const k of keys) if (!KEYS.includes(k)) throw invalidArgument(`invalid option key: "${k}"`);
  const type = opts.type ?? "";
  const device = opts.device ?? "";
  const o = (opts.o ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (type === "") throw invalidArgument('invalid option: missing required option "type"');
  if (type === "tmpfs") {
    for (const opt of o) {
      const key = opt.split("=")[0]!;
      if (!TMPFS_OPTS.has(key)) throw invalidArgument(`invalid option: unsupported tmpfs mount option "${opt}"`);
      if (key === "size" && !/^size=\d+[kKmMgG%]?$/.test(opt)) throw invalidArgument(`invalid option: bad tmpfs size "${opt}"`);
      if (key === "mode" && !/^mode=[0-7]{1,4}$/.test(opt)) throw invalidArgument(`invalid option: bad tmpfs mode "${opt}"`);
      if ((key === "uid" || key === "gid" || key === "nr_inodes" || key === "nr_blocks") && !/^[a-z_]+=\d+[kKmMgG]?$/.test(opt))
        throw invalidArgument(`invalid option: bad tmpfs option "${opt}"`);
    }
    return { type, device: "tmpfs", o, bind: false };
  }
  if (type === "none" && o.some((x) => x === "bind" || x === "rbind")) {
    for (const opt of o) if (!BIND_OPTS.has(opt)) throw invalidArgument(`invalid option: unsupported bind mount option "${opt}"`);
    if (!isAbsolute(device)) throw invalidArgument(`invalid option: bind device must be an absolute host path, got "${device}"`);
    return { type, device, o: o.filter((x) => x !== "bind" && x !== "rbind"), bind: true };
  }
  throw invalidArgument(`invalid option: unsupported volume mount type "${type}" (the local driver of berth supports type=tmpfs and type=none with o=bind)`);
}
