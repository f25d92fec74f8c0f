import type { Verb } from "./context.ts";
import { parse } from "./args.ts";
import { invalidArgument } from "../../errors.ts";

/** Go's text/tabwriter with runc's settings (minwidth 12, padding 3); the last column is not padded. */
export function tabulate(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.slice(0, -1).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 12, c.length + 3)));
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join("") + "\n").join("");
}

export const list: Verb = (ctx, argv) => {
  const { values } = parse("list", argv, { format: { type: "string", short: "f" }, quiet: { type: "boolean", short: "q" } }, { min: 0, max: 0, usage: "[--format table|json] [-q]" });
  const format = (values.format as string | undefined) ?? "table";
  if (format !== "table" && format !== "json") throw invalidArgument(`list: --format: invalid format "${format}" (table or json)`);
  const all = ctx.rt.list().map((s) => ({ ...s, owner: s.owner || "root" }));
  if (values.quiet) {
    for (const s of all) process.stdout.write(s.id + "\n");
    return;
  }
  if (format === "json") {
    // runc encodes an empty list as null
    process.stdout.write(JSON.stringify(all.length ? all : null) + "\n");
    return;
  }
  const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]];
  for (const s of all) rows.push([s.id, String(s.pid), s.status, s.bundle, s.created, s.owner]);
  process.stdout.write(tabulate(rows));
};
