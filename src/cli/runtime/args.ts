/** Flag parsing for the verbs (runc's urfave/cli conventions: --flag value, --flag=value, -f). */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { invalidArgument } from "../../errors.ts";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse<O extends Options>(verb: string, argv: string[], options: O, positionals: { min: number; max: number; usage: string }) {
  let r;
  try {
    r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw invalidArgument(`${verb}: ${(e as Error).message.replace(/\. To specify.*$/s, "").toLowerCase()}`);
  }
  const n = r.positionals.length;
  if (n < positionals.min || n > positionals.max) throw invalidArgument(`${verb}: usage: berth-runtime ${verb} ${positionals.usage}`);
  return r;
}

export function intFlag(verb: string, name: string, v: string | undefined, dflt = 0): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw invalidArgument(`${verb}: --${name}: not a non-negative integer: "${v}"`);
  return Number(v);
}

/**
 * Split argv where the first positional argument starts (runc's exec stops
 * parsing flags there: `exec [flags] <id> <command> [args...]`, so the
 * command's own flags are left alone). A string flag takes the next word as
 * its value unless written --flag=value; "--" ends the flags.
 */
export function splitAtPositional(argv: string[], options: Options): [flags: string[], rest: string[]] {
  const takesValue = (a: string) => {
    if (a.includes("=")) return false;
    const name = a.replace(/^--?/, "");
    const def = a.startsWith("--") ? options[name] : Object.values(options).find((o) => o.short === name);
    return def?.type === "string";
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return [argv.slice(0, i), argv.slice(i + 1)];
    if (!a.startsWith("-") || a === "-") return [argv.slice(0, i), argv.slice(i)];
    if (takesValue(a)) i++;
  }
  return [argv, []];
}
