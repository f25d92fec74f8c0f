/**
 * Monitor mode in a plan (native/monitor.c): MONITOR goes first, so the
 * monitor forks before any namespace is joined and stays in the host's; the
 * rest of the plan runs in its worker child, and CLONE's parent hands the
 * container to the monitor instead of waiting for it. With process.terminal,
 * MONITOR also sets the worker's console socket (no CONSOLE step): the
 * container's PTY step sends the pty master to the monitor.
 */
import { isAbsolute } from "node:path";
import type { Spec } from "../../oci/runtime-spec.ts";
import { invalidArgument } from "../../errors.ts";
import { instr, type Instruction } from "./record.ts";

export interface MonitorPlan {
  /** the berth-monitor program (host path); the runtime fills it in */
  program?: string;
  /** host directory for monitor.pid, attach.sock and exit.json; must exist */
  dir: string;
  /** host path of the log file; none when absent */
  log?: string;
  /** rotate past this many bytes (0 or absent: never) */
  maxSize?: number;
  /** files kept, the current one included (docker's max-file; default 1) */
  maxFiles?: number;
  /** keep the container's stdin open for attach clients (docker's OpenStdin); else /dev/null */
  openStdin?: boolean;
  /**
   * docker's StdinOnce: the container's stdin is closed when the first client
   * that used it is done (half-closes, or disconnects after writing). Not with
   * a terminal (as docker).
   */
  stdinOnce?: boolean;
}

/** Enough for any sane rotation; each rotation renames every file once. */
export const MAX_LOG_FILES = 100;
/** MONITOR's flags (native/monitor.c) */
const OPEN_STDIN = 1;
const TERMINAL = 2;
const STDIN_ONCE = 4;

export function monitorInstr(m: MonitorPlan, spec: Spec): Instruction {
  if (!m.program || !isAbsolute(m.program)) throw invalidArgument(`monitor.program: "${m.program ?? ""}" is not an absolute path`);
  if (!isAbsolute(m.dir)) throw invalidArgument(`monitor.dir: "${m.dir}" is not an absolute path`);
  if (m.log !== undefined && (!isAbsolute(m.log) || m.log.endsWith("/")))
    throw invalidArgument(`monitor.log: "${m.log}" is not an absolute file path`);
  const maxSize = m.maxSize ?? 0;
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) throw invalidArgument(`monitor.maxSize: ${maxSize} is not a size in bytes`);
  const maxFiles = m.maxFiles ?? 1;
  if (!Number.isInteger(maxFiles) || maxFiles < 1 || maxFiles > MAX_LOG_FILES)
    throw invalidArgument(`monitor.maxFiles: ${maxFiles} is not between 1 and ${MAX_LOG_FILES}`);
  const flags = (m.openStdin ? OPEN_STDIN : 0) | (spec.process?.terminal ? TERMINAL : 0) | (m.stdinOnce ? STDIN_ONCE : 0);
  return instr("MONITOR", m.program, m.dir, m.log ?? "", maxSize, maxFiles, flags);
}
