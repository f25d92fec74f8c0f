/**
 * Flag parsing for the container verbs as docker's (pflag) does it: long
 * flags `--name v` / `--name=v`, short flags bundled (`-it`, `-dit`) or with
 * their value attached (`-eFOO=1`, `-e=FOO=1`), repeatable list flags, `--`
 * ending the flags, and for run/create/exec flags only before the first
 * positional (the command's own flags follow the image). Usage errors exit
 * 125 as docker's do; `--help` prints the usage and exits 0.
 */
import { BerthError } from "../../errors.ts";
import { DaemonError } from "./daemon-error.ts";
import type { Context } from "./context.ts";

export type FlagType = "bool" | "string" | "list";

export interface FlagSpec {
  type: FlagType;
  short?: string;
  /** other long names (--net for --network) */
  alias?: string[];
  /** for string flags: the value's name in the usage */
  arg?: string;
  help: string;
}

export interface VerbSpec {
  /** "run", "container prune", ... */
  name: string;
  /** after the verb name: "[OPTIONS] IMAGE [COMMAND] [ARG...]" */
  usage: string;
  summary: string;
  flags: Record<string, FlagSpec>;
  min: number;
  max: number;
  /** stop at the first positional (run, create, exec) */
  stopAtPositional?: boolean;
}

export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  values: FlagValues;
  positionals: string[];
  /** which flags were given (for "changed" semantics, as pflag's Changed) */
  given: Set<string>;
}

/** A usage problem: printed with a pointer to --help, exit status 125. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

class HelpRequested extends Error {}

export function usageText(spec: VerbSpec): string {
  const lines = [`Usage:  berth ${spec.name} ${spec.usage}`, "", spec.summary, ""];
  const names = Object.keys(spec.flags).sort();
  if (names.length) {
    lines.push("Options:");
    const left = names.map((n) => {
      const f = spec.flags[n]!;
      const short = f.short ? `-${f.short}, ` : "    ";
      const alias = f.alias?.length ? ` (also --${f.alias.join(", --")})` : "";
      const arg = f.type === "bool" ? "" : ` ${f.arg ?? (f.type === "list" ? "list" : "string")}`;
      return [`  ${short}--${n}${arg}`, f.help + alias] as const;
    });
    const w = Math.max(...left.map(([l]) => l.length)) + 3;
    for (const [l, h] of left) lines.push(l.padEnd(w) + h);
  }
  return lines.join("\n") + "\n";
}

export function parseFlags(spec: VerbSpec, argv: string[]): Parsed {
  const byLong = new Map<string, string>();
  const byShort = new Map<string, string>();
  for (const [n, f] of Object.entries(spec.flags)) {
    byLong.set(n, n);
    for (const a of f.alias ?? []) byLong.set(a, n);
    if (f.short) byShort.set(f.short, n);
  }
  const values: FlagValues = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  const set = (name: string, value: string | true, shown: string) => {
    const f = spec.flags[name]!;
    given.add(name);
    if (f.type === "bool") {
      if (value === true) values[name] = true;
      else if (/^(1|t|true|T|TRUE|True)$/.test(value)) values[name] = true;
      else if (/^(0|f|false|F|FALSE|False)$/.test(value)) values[name] = false;
      else throw new UsageError(`invalid argument "${value}" for "${shown}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
    } else if (f.type === "list") ((values[name] as string[] | undefined) ?? (values[name] = [])).push(value as string);
    else values[name] = value as string;
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const long = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (long === "help") throw new HelpRequested();
      const name = byLong.get(long);
      if (!name) throw new UsageError(`unknown flag: --${long}`);
      const f = spec.flags[name]!;
      if (eq >= 0) set(name, a.slice(eq + 1), `--${long}`);
      else if (f.type === "bool") set(name, true, `--${long}`);
      else {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: --${long}`);
        set(name, argv[++i]!, `--${long}`);
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        if (c === "h" && !byShort.has("h")) throw new HelpRequested();
        const name = byShort.get(c);
        if (!name) throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`);
        const f = spec.flags[name]!;
        if (f.type === "bool") {
          if (a[j + 1] === "=") {
            set(name, a.slice(j + 2), `-${c}`);
            break;
          }
          set(name, true, `-${c}`);
          continue;
        }
        let v = a.slice(j + 1);
        if (v.startsWith("=")) v = v.slice(1);
        else if (v === "") {
          if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: '${c}' in -${c}`);
          v = argv[++i]!;
        }
        set(name, v, `-${c}`);
        break;
      }
      continue;
    }
    positionals.push(a);
    if (spec.stopAtPositional) {
      i++;
      break;
    }
  }
  positionals.push(...argv.slice(i));
  if (positionals.length < spec.min || positionals.length > spec.max) {
    const want =
      spec.min === spec.max
        ? `exactly ${spec.min} argument${spec.min === 1 ? "" : "s"}`
        : spec.max === Infinity
          ? `at least ${spec.min} argument${spec.min === 1 ? "" : "s"}`
          : `at most ${spec.max} argument${spec.max === 1 ? "" : "s"}`;
    throw new UsageError(`"berth ${spec.name}" requires ${want}.\nUsage:  berth ${spec.name} ${spec.usage}\n\n${spec.summary}`);
  }
  return { values, positionals, given };
}

/** An error of the command line's own, with docker's exit status for it. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Print an error as docker prints it and give the exit status. */
export function report(ctx: Context, spec: VerbSpec, e: unknown, daemonStatus: number): number {
  if (e instanceof UsageError) {
    ctx.err(`berth: ${e.message}\nSee 'berth ${spec.name} --help'.\n`);
    return 125;
  }
  if (e instanceof CliError) {
    if (e.message) ctx.err(`berth: ${e.message}\n`);
    return e.status;
  }
  if (e instanceof DaemonError) {
    ctx.err(`berth: Error response from daemon: ${e.message}\n`);
    return daemonStatus;
  }
  if (e instanceof BerthError) {
    ctx.err(`berth: ${e.message}\n`);
    return daemonStatus;
  }
  throw e;
}

/**
 * A verb from its spec and body: --help, usage errors (125), and the
 * daemon's errors (`daemonStatus`: 1 for most verbs, 125 for run/create).
 */
export function verb(
  spec: VerbSpec,
  body: (ctx: Context, p: Parsed) => Promise<number>,
  daemonStatus = 1,
): (ctx: Context, argv: string[]) => Promise<number> {
  return async (ctx, argv) => {
    let p: Parsed;
    try {
      p = parseFlags(spec, argv);
    } catch (e) {
      if (e instanceof HelpRequested) {
        ctx.out.write(usageText(spec));
        return 0;
      }
      return report(ctx, spec, e, 125);
    }
    try {
      return await body(ctx, p);
    } catch (e) {
      return report(ctx, spec, e, daemonStatus);
    }
  };
}

/** Run `f` for each name; print errors as they come; 1 if any failed (docker's multi-argument verbs). */
export async function each(ctx: Context, names: string[], f: (n: string) => Promise<void>): Promise<number> {
  let status = 0;
  for (const n of names) {
    try {
      await f(n);
    } catch (e) {
      if (e instanceof DaemonError) ctx.err(`berth: Error response from daemon: ${e.message}\n`);
      else if (e instanceof BerthError) ctx.err(`berth: ${e.message}\n`);
      else throw e;
      status = 1;
    }
  }
  return status;
}

export const str = (v: FlagValues, k: string) => v[k] as string | undefined;
export const list = (v: FlagValues, k: string) => (v[k] as string[] | undefined) ?? [];
export const bool = (v: FlagValues, k: string) => v[k] === true;
