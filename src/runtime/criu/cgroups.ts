/**
 * Restoring into the cgroup berth created for the container. As runc does,
 * criu itself starts inside that cgroup (so in every --manage-cgroups mode,
 * "ignore" included, the restored tasks land there), and --cgroup-root maps
 * the cgroup recorded in the image onto it per controller (the paths can
 * differ: a relative cgroupsPath is nested under the caller's own cgroup).
 */
import type { CgroupState } from "../cgroups/manager.ts";

/** The cgroup.procs files to write the criu process into, one per hierarchy. */
export function procsFiles(st: CgroupState): string[] {
  const dirs = new Set<string>();
  for (const d of Object.values(st.v1?.dirs ?? {})) dirs.add(d);
  if (st.v2?.dir) dirs.add(st.v2.dir);
  return [...dirs].map((d) => `${d}/cgroup.procs`);
}

/** --cgroup-root arguments: a default, then each v1 hierarchy whose path differs. */
export function cgroupRootArgs(st: CgroupState): string[] {
  const byHierarchy: Array<[name: string, path: string]> = [];
  for (const m of st.hierarchy.v1) {
    const p = st.v1?.paths[m.controllers[0]!];
    if (p) byHierarchy.push([m.controllers.join(","), p]);
  }
  const dflt = st.v2?.path ?? byHierarchy[0]?.[1];
  if (!dflt) return [];
  const out = ["--cgroup-root", dflt];
  for (const [name, p] of byHierarchy) if (p !== dflt) out.push("--cgroup-root", `${name}:${p}`);
  return out;
}

/**
 * A command line that enters the cgroups, then execs argv (so the pid the
 * caller spawned is argv's). Paths arrive as positional arguments, not in the
 * script text.
 */
export function inCgroups(files: string[], argv: string[]): string[] {
  const script = `n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"`;
  return ["/bin/sh", "-c", script, "berth-criu", String(files.length), ...files, ...argv];
}
