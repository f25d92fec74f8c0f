/** What every berth verb gets, and its flag parsing (docker's flag names). */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { invalidArgument } from "../../errors.ts";
import type { ApiClient } from "./client.ts";
import type { Out } from "./progress.ts";

export interface Context {
  client: ApiClient;
  out: Out;
  err: (s: string) => void;
  env: Record<string, string | undefined>;
  stdinIsTTY: boolean;
}

export type Verb = (ctx: Context, argv: string[]) => Promise<number>;

type Options = NonNullable<ParseArgsConfig["options"]>;

/** `--help` was asked for: main prints `usage` on stdout and exits 0. */
export class HelpRequest extends Error {
  constructor(readonly usage: string) {
    super("help");
  }
}

function optionsUsage(verb: string, options: Options, usage: string): string {
  const rows = Object.entries(options)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, o]) => `  ${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? (o.multiple ? " list" : " string") : ""}`);
  return `Usage:  berth ${verb} ${usage}\n${rows.length ? `\nOptions:\n${rows.join("\n")}\n` : ""}`;
}

export function parse<O extends Options>(verb: string, argv: string[], options: O, positionals: { min: number; max: number; usage: string }) {
  const end = argv.indexOf("--");
  if ((end < 0 ? argv : argv.slice(0, end)).includes("--help")) throw new HelpRequest(optionsUsage(verb, options, positionals.usage));
  let r;
  try {
    r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw invalidArgument(`${verb}: ${(e as Error).message.replace(/\. To specify.*$/s, "").toLowerCase()}`);
  }
  const n = r.positionals.length;
  if (n < positionals.min || n > positionals.max) throw invalidArgument(`${verb}: usage: berth ${verb} ${positionals.usage}`);
  return r;
}

/** `--filter k=v` flags as the API's filters JSON ({"k": {"v": true}}). */
export function filtersParam(flags: string[] | undefined, extra: Record<string, string[]> = {}): string | undefined {
  const f: Record<string, Record<string, boolean>> = {};
  const add = (k: string, v: string) => ((f[k] ??= {})[v] = true);
  for (const s of flags ?? []) {
    const eq = s.indexOf("=");
    if (eq <= 0) throw invalidArgument(`--filter ${s}: want key=value`);
    add(s.slice(0, eq), s.slice(eq + 1));
  }
  for (const [k, vs] of Object.entries(extra)) for (const v of vs) add(k, v);
  return Object.keys(f).length ? JSON.stringify(f) : undefined;
}

/** docker's 12-character id */
export const shortId = (id: string) => id.replace(/^sha256:/, "").slice(0, 12);
