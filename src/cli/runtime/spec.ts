import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Verb } from "./context.ts";
import { parse } from "./args.ts";
import { defaultSpec } from "../../oci/default-spec.ts";
import { stringifyJson } from "../../oci/validate.ts";
import { alreadyExists } from "../../errors.ts";

export const spec: Verb = (_ctx, argv) => {
  const { values } = parse("spec", argv, { bundle: { type: "string", short: "b" }, rootless: { type: "boolean" } }, { min: 0, max: 0, usage: "[--bundle dir] [--rootless]" });
  const file = join(resolve((values.bundle as string | undefined) ?? "."), "config.json");
  if (existsSync(file)) throw alreadyExists(`spec: ${file} exists, remove it first`);
  writeFileSync(file, stringifyJson(defaultSpec({ rootless: Boolean(values.rootless) })));
};
