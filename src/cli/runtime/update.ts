/**
 * update [flags] <container-id>: change a running container's limits, from
 * --resources FILE (JSON linux.resources, "-" for stdin) or from runc's flags.
 */
import { readFileSync } from "node:fs";
import type { Verb } from "./context.ts";
import { parse, type Options } from "./args.ts";
import { invalidArgument, wrapError } from "../../errors.ts";
import { UPDATE_FLAGS, resourcesFromFlags, resourcesFromJson, update as updateContainer, type UpdateFlags } from "../../runtime/ops/update.ts";

const OPTIONS: Options = {
  resources: { type: "string", short: "r" },
  // docs and scripts often say --cpu-shares; runc's flag is --cpu-share
  "cpu-shares": { type: "string" },
  ...Object.fromEntries(UPDATE_FLAGS.map((f) => [f, { type: "string" as const }])),
};

export const update: Verb = (ctx, argv) => {
  const { values, positionals } = parse("update", argv, OPTIONS, { min: 1, max: 1, usage: "[--resources FILE | flags] <container-id>" });
  const id = positionals[0]!;
  const flags: UpdateFlags = {};
  for (const f of UPDATE_FLAGS) if (values[f] !== undefined) flags[f] = values[f] as string;
  if (values["cpu-shares"] !== undefined) {
    if (flags["cpu-share"] !== undefined) throw invalidArgument("update: give --cpu-share or --cpu-shares, not both");
    flags["cpu-share"] = values["cpu-shares"] as string;
  }
  const file = values.resources as string | undefined;
  let resources;
  if (file !== undefined) {
    if (Object.keys(flags).length) throw invalidArgument(`update: --resources cannot be combined with --${Object.keys(flags)[0]}`);
    let text: string;
    try {
      text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
    } catch (e) {
      throw wrapError(`update: --resources ${file}`, e);
    }
    resources = resourcesFromJson(text, file === "-" ? "update: --resources (stdin)" : `update: --resources ${file}`);
  } else resources = resourcesFromFlags(flags);
  if ((resources.memory?.kernel ?? 0) !== 0 || (resources.memory?.kernelTCP ?? 0) !== 0) {
    ctx.log("warning", "kernel memory settings are deprecated; kernels since 5.16 ignore them");
  }
  updateContainer(ctx.rt, id, resources);
};
