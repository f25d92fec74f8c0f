/** ps [--format table|json] <container-id> [ps options]: everything after the id goes to ps(1), as runc. */
import type { Verb } from "./context.ts";
import { parse } from "./args.ts";
import { invalidArgument } from "../../errors.ts";
import { containerPids, psTable } from "../../runtime/ops/ps.ts";

export const ps: Verb = (ctx, argv) => {
  // flags only before the id: `ps ID -f x` passes "-f x" to ps(1)
  const idAt = argv.findIndex((a, i) => !a.startsWith("-") && !["-f", "--format"].includes(argv[i - 1] ?? ""));
  const own = idAt < 0 ? argv : argv.slice(0, idAt + 1);
  const psArgs = idAt < 0 ? [] : argv.slice(idAt + 1);
  const { values, positionals } = parse("ps", own, { format: { type: "string", short: "f" } }, { min: 1, max: 1, usage: "[--format table|json] <container-id> [ps options]" });
  const format = (values.format as string | undefined) ?? "table";
  if (format !== "table" && format !== "json") throw invalidArgument(`ps: --format: invalid format "${format}" (table or json)`);
  const pids = containerPids(ctx.rt, positionals[0]!);
  if (format === "json") {
    // runc encodes an empty list as null
    process.stdout.write(JSON.stringify(pids.length ? pids : null) + "\n");
    return;
  }
  process.stdout.write(psTable(pids, psArgs));
};
