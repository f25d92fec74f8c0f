/** The one-argument verbs: start, state, delete, kill. */
import type { Verb } from "./context.ts";
import { parse } from "./args.ts";
import { parseSignal } from "../../oci/signals.ts";

export const start: Verb = async (ctx, argv) => {
  const { positionals } = parse("start", argv, {}, { min: 1, max: 1, usage: "<container-id>" });
  await ctx.rt.start(positionals[0]!);
};

export const state: Verb = (ctx, argv) => {
  const { positionals } = parse("state", argv, {}, { min: 1, max: 1, usage: "<container-id>" });
  process.stdout.write(JSON.stringify(ctx.rt.state(positionals[0]!), null, "  ") + "\n");
};

export const del: Verb = async (ctx, argv) => {
  const { values, positionals } = parse("delete", argv, { force: { type: "boolean", short: "f" } }, { min: 1, max: 1, usage: "[--force] <container-id>" });
  await ctx.rt.delete(positionals[0]!, Boolean(values.force));
};

export const kill: Verb = (ctx, argv) => {
  const { values, positionals } = parse("kill", argv, { all: { type: "boolean", short: "a" } }, { min: 1, max: 2, usage: "[--all] <container-id> [signal]" });
  ctx.rt.kill(positionals[0]!, parseSignal(positionals[1] ?? "SIGTERM"), Boolean(values.all));
};
