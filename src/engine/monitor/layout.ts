/**
 * Where a monitored container's files live: <execRoot>/containers/<id>/ holds
 * the monitor's own files (native/monitor.c writes monitor.pid, attach.sock and
 * exit.json) and monitor.json, written by the engine before the monitor starts,
 * which is all a restarted engine needs to find its way back (recover.ts).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BerthError, notFound, wrapError } from "../../errors.ts";
import { validateId } from "../../runtime/state.ts";

export const FILES = {
  config: "monitor.json",
  pid: "monitor.pid",
  socket: "attach.sock",
  exit: "exit.json",
  /** the log's default place (LogConfig.path) */
  log: "container.log",
} as const;

export interface LogConfig {
  /** absolute path of the current file; rotated ones are <path>.1 ... <path>.<maxFiles-1> */
  path: string;
  /** rotate past this many bytes; 0: never */
  maxSize: number;
  /** files kept, the current one included */
  maxFiles: number;
}

export interface MonitorConfig {
  id: string;
  /** the runtime library's --root, where the container's state.json is */
  runtimeRoot: string;
  log: LogConfig | null;
  openStdin: boolean;
  /** docker's StdinOnce (absent in configurations written before it existed: false) */
  stdinOnce?: boolean;
  /** the container has a terminal (spec.process.terminal): its output is one raw stream, logged as stdout */
  terminal?: boolean;
  /** when this configuration was written (each start writes it anew) */
  started: string;
}

export function containersDir(execRoot: string): string {
  return join(execRoot, "containers");
}

export function monitorDir(execRoot: string, id: string): string {
  return join(containersDir(execRoot), validateId(id));
}

export function ensureMonitorDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw wrapError(`create monitor directory ${dir}`, e);
  }
}

export function writeConfig(dir: string, cfg: MonitorConfig): void {
  const tmp = join(dir, `.${FILES.config}.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(cfg) + "\n", { mode: 0o600 });
  renameSync(tmp, join(dir, FILES.config));
}

export function readConfig(dir: string): MonitorConfig {
  const file = join(dir, FILES.config);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw notFound(`no monitored container in ${dir}`);
    throw wrapError(`read ${file}`, e);
  }
  try {
    return JSON.parse(text) as MonitorConfig;
  } catch (e) {
    throw new BerthError("Internal", `monitor configuration is corrupt: ${file}`, { cause: e });
  }
}
