/**
 * Namespaces a container joined (linux.namespaces[].path) are not the
 * container's to dump. As runc does: a joined network or pid namespace is
 * external at dump (`--external net[INODE]:extRootNetNS`) and handed back at
 * restore as an open fd (`--inherit-fd fd[N]:extRootNetNS`); other joined
 * namespaces are joined again at restore (`--join-ns ipc:PATH`). New
 * namespaces are created and restored by CRIU.
 */
import { closeSync, openSync, statSync } from "node:fs";
import type { Spec } from "../../oci/runtime-spec.ts";
import { failedPrecondition, wrapError } from "../../errors.ts";

const EXTERNAL: Record<string, { criu: string; key: string }> = {
  network: { criu: "net", key: "extRootNetNS" },
  pid: { criu: "pid", key: "extRootPidNS" },
};
const JOIN: Record<string, string> = { ipc: "ipc", uts: "uts", mount: "mnt", user: "user", time: "time" };

function joined(spec: Spec) {
  return (spec.linux?.namespaces ?? []).filter((n) => n.path);
}

export function externalNamespaceDumpArgs(spec: Spec): string[] {
  const out: string[] = [];
  for (const ns of joined(spec)) {
    const ext = EXTERNAL[ns.type];
    if (!ext) continue;
    let ino: bigint;
    try {
      ino = statSync(ns.path!, { bigint: true }).ino;
    } catch (e) {
      throw wrapError(`linux.namespaces: ${ns.type} namespace ${ns.path}`, e);
    }
    out.push("--external", `${ext.criu}[${ino}]:${ext.key}`);
  }
  return out;
}

export interface NamespaceFds {
  args: string[];
  /** our fds to give criu, in order, as its fds firstFd, firstFd+1, ... */
  fds: number[];
  close(): void;
}

/** Restore-side arguments; opens the joined network/pid namespaces (close() them after criu ran). */
export function namespaceRestoreArgs(spec: Spec, firstFd: number): NamespaceFds {
  const args: string[] = [];
  const fds: number[] = [];
  const close = () => {
    for (const fd of fds.splice(0))
      try {
        closeSync(fd);
      } catch {}
  };
  try {
    for (const ns of joined(spec)) {
      const ext = EXTERNAL[ns.type];
      if (ext) {
        fds.push(openSync(ns.path!, "r"));
        args.push("--inherit-fd", `fd[${firstFd + fds.length - 1}]:${ext.key}`);
      } else if (JOIN[ns.type]) {
        args.push("--join-ns", `${JOIN[ns.type]}:${ns.path}`);
      } else {
        throw failedPrecondition(`linux.namespaces: criu cannot restore into a joined ${ns.type} namespace`);
      }
    }
  } catch (e) {
    close();
    throw e instanceof Error && e.name === "BerthError" ? e : wrapError("linux.namespaces: open a joined namespace", e);
  }
  return { args, fds, close };
}
