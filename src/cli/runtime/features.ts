/** features: the runtime-spec features document, as runc prints it (4-space indented JSON). */
import type { Verb } from "./context.ts";
import { parse } from "./args.ts";
import { features as runtimeFeatures } from "../../runtime/ops/features.ts";

export const features: Verb = (_ctx, argv) => {
  parse("features", argv, {}, { min: 0, max: 0, usage: "(takes no arguments)" });
  process.stdout.write(JSON.stringify(runtimeFeatures(), null, 4) + "\n");
};
