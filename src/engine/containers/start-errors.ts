/**
 * A process that could not start, as dockerd reports it: the exit code the
 * docker CLI expects (127 not found, 126 not runnable) and errno texts in
 * Go's lowercase wording, which clients match on. Shared by container start
 * and exec.
 */
import { BerthError } from "../../errors.ts";

/** dockerd's exit code for a process that could not be started: 127 not found, 126 not runnable, none otherwise */
export function startFailureExitCode(err: unknown): number | undefined {
  const m = (err instanceof Error ? err.message : String(err)).toLowerCase();
  if (m.includes("executable file not found") || m.includes("no such file or directory")) return 127;
  if (m.includes("permission denied")) return 126;
  if (m.includes("not a directory")) return 127;
  return undefined;
}

/**
 * A failed start as docker reports it: errno texts in Go's lowercase form,
 * which clients match on ("no such file or directory" -> exit 127,
 * "permission denied" -> 126).
 */
export function dockerStartError(e: unknown): BerthError {
  const err = e instanceof BerthError ? e : new BerthError("Internal", String((e as Error)?.message ?? e));
  const msg = err.message.replace(/: (No such file or directory|Permission denied|Is a directory|Not a directory|Exec format error)\b/g, (_m, t: string) => `: ${t.toLowerCase()}`);
  return msg === err.message ? err : new BerthError(err.code, msg, { cause: err });
}
