/**
 * berthd's structured log: one JSON object a line on stderr
 * ({"time", "level", "msg", ...fields}), filtered by level.
 */
import { BerthError } from "../errors.ts";

export const LEVELS = ["debug", "info", "warn", "error", "fatal"] as const;
export type Level = (typeof LEVELS)[number];

export function isLevel(s: string): s is Level {
  return (LEVELS as readonly string[]).includes(s);
}

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  fatal(msg: string, fields?: Fields): void;
  enabled(level: Level): boolean;
  /** a logger adding `fields` to every line */
  with(fields: Fields): Logger;
}

/** Fields for an error: message, and code for a BerthError. */
export function errorFields(e: unknown): Fields {
  if (e instanceof BerthError) return { error: e.message, code: e.code };
  return { error: e instanceof Error ? e.message : String(e) };
}

export function createLogger(level: Level = "info", write: (line: string) => void = (l) => process.stderr.write(l), base: Fields = {}): Logger {
  const min = LEVELS.indexOf(level);
  const log = (lvl: Level, msg: string, fields?: Fields) => {
    if (LEVELS.indexOf(lvl) < min) return;
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...base, ...fields });
    } catch {
      line = JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...base, fields: "unserializable" });
    }
    write(line + "\n");
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    fatal: (m, f) => log("fatal", m, f),
    enabled: (l) => LEVELS.indexOf(l) >= min,
    with: (f) => createLogger(level, write, { ...base, ...f }),
  };
}
