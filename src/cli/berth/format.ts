/**
 * Output as the docker CLI prints it: aligned tables (Go's tabwriter as
 * docker sets it up: columns at least 10 wide, 3 spaces of padding),
 * "2 hours ago", sizes in decimal units, and `--format` with Go's templates
 * (template.ts), a leading `table`, and `json`.
 */
import { execute } from "./template.ts";
import { humanDuration } from "../../engine/containers/status.ts";

/** Go's tabwriter.NewWriter(out, minwidth, 1, 3, ' ', 0): every cell but a line's last padded to its column's width + 3, at least minwidth */
export function table(rows: string[][], minWidth = 10): string {
  if (!rows.length) return "";
  const widths: number[] = [];
  const width = (c: string) => [...c].length;
  for (const r of rows) r.forEach((c, i) => i < r.length - 1 && (widths[i] = Math.max(widths[i] ?? 0, width(c) + 3, minWidth)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i]! - width(c)))).join("")).join("\n") + "\n";
}


export { humanDuration };

export const ago = (unixSeconds: number, now = Date.now()) => `${humanDuration(now - unixSeconds * 1000)} ago`;

export { goString } from "./template.ts";

/** Render a template against one value ("\\t" and "\\n" escapes as docker allows). */
export function render(template: string, data: unknown): string {
  return execute(template.replace(/\\t/g, "\t").replace(/\\n/g, "\n"), data);
}

/**
 * Print rows with --format: "json" (one JSON object a line), "table ..." (a
 * table whose header is `headers` for the named fields), or a template.
 */
export function formatRows(format: string, unsorted: Record<string, unknown>[], headers: Record<string, string>): string {
  // docker's formatter contexts marshal as Go maps: keys in order
  const rows = unsorted.map((r) => Object.fromEntries(Object.keys(r).sort().map((k) => [k, r[k]])));
  if (format === "json") return rows.map((r) => JSON.stringify(r) + "\n").join("");
  if (format.startsWith("table")) {
    const t = format.slice(5).trim();
    const cells = (s: string) => s.replace(/\\t/g, "\t").split("\t");
    const head = cells(t.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, f: string) => headers[f] ?? f.toUpperCase()));
    return table([head, ...rows.map((r) => cells(render(t, r)))]);
  }
  return rows.map((r) => render(format, r) + "\n").join("");
}
