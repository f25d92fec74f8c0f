/** What every berth-runtime verb gets: global flags and a logger. */
import { appendFileSync } from "node:fs";
import type { Runtime } from "../../runtime/container.ts";

export interface GlobalOptions {
  root?: string;
  log?: string;
  logFormat: "text" | "json";
  debug: boolean;
  /** --criu: the criu binary (default: see runtime/criu/binary.ts) */
  criu?: string;
}

export class Context {
  private runtime?: Runtime;
  constructor(readonly global: GlobalOptions) {}
  /** The runtime library, loaded on first use (so `--version` and usage errors stay cheap). */
  get rt(): Runtime {
    if (!this.runtime) {
      const { Runtime } = require("../../runtime/container.ts") as typeof import("../../runtime/container.ts");
      this.runtime = new Runtime(this.global.root, { warn: (m) => this.log("warning", m) });
    }
    return this.runtime;
  }
  log(level: "debug" | "info" | "warning" | "error", msg: string) {
    if (level === "debug" && !this.global.debug) return;
    const time = new Date().toISOString();
    if (this.global.log) {
      const line =
        this.global.logFormat === "json"
          ? JSON.stringify({ level, msg, time })
          : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
      try {
        appendFileSync(this.global.log, line + "\n");
      } catch {}
    }
    if (level === "error" || this.global.debug) process.stderr.write(`berth-runtime: ${msg}\n`);
    else if (level === "warning") process.stderr.write(`berth-runtime: warning: ${msg}\n`);
  }
}

export type Verb = (ctx: Context, argv: string[]) => Promise<number | void> | number | void;
