import type { Verb } from "./context.ts";
import { parse, intFlag } from "./args.ts";

export const CREATE_FLAGS = {
  bundle: { type: "string", short: "b" },
  "pid-file": { type: "string" },
  "console-socket": { type: "string" },
  "no-pivot": { type: "boolean" },
  "no-new-keyring": { type: "boolean" },
  "preserve-fds": { type: "string" },
} as const;

export function createOptions(verb: string, values: Record<string, string | boolean | undefined>, id: string) {
  return {
    id,
    bundle: (values.bundle as string | undefined) ?? process.cwd(),
    pidFile: values["pid-file"] as string | undefined,
    consoleSocket: values["console-socket"] as string | undefined,
    noPivot: Boolean(values["no-pivot"]),
    preserveFds: intFlag(verb, "preserve-fds", values["preserve-fds"] as string | undefined),
  };
}

export const create: Verb = async (ctx, argv) => {
  const { values, positionals } = parse("create", argv, CREATE_FLAGS, { min: 1, max: 1, usage: "[flags] <container-id>" });
  await ctx.rt.create(createOptions("create", values, positionals[0]!));
};
