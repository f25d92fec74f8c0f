/**
 * Output as the docker CLI prints it: aligned tables (3 spaces between
 * columns), "2 hours ago", sizes in decimal units, and `--format` with the
 * part of Go's templates people use: `{{.Field}}`, `{{.A.B}}`, `{{json .}}`,
 * `{{json .Field}}`, `{{index .Map "key"}}`, a leading `table`, and `json`.
 */
import { invalidArgument } from "../../errors.ts";

export function table(rows: string[][]): string {
  if (!rows.length) return "";
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("").trimEnd()).join("\n") + "\n";
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.floor(ms / 3_600_000 + 0.5);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

export const ago = (unixSeconds: number, now = Date.now()) => `${humanDuration(now - unixSeconds * 1000)} ago`;

/** A value as Go's fmt %v prints it. */
export function goString(v: unknown): string {
  if (v === null || v === undefined) return "<no value>";
  if (Array.isArray(v)) return `[${v.map(goString).join(" ")}]`;
  if (typeof v === "object")
    return `map[${Object.keys(v as object)
      .sort()
      .map((k) => `${k}:${goString((v as Record<string, unknown>)[k])}`)
      .join(" ")}]`;
  return String(v);
}

function lookup(data: unknown, path: string): unknown {
  if (path === ".") return data;
  let cur: unknown = data;
  for (const key of path.split(".").slice(1)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function evalAction(expr: string, data: unknown): string {
  const e = expr.trim();
  let m = /^json\s+(\.[\w.]*)$/.exec(e);
  if (m) return JSON.stringify(lookup(data, m[1]!) ?? null);
  m = /^index\s+(\.[\w.]*)\s+"([^"]*)"$/.exec(e);
  if (m) {
    const obj = lookup(data, m[1]!) as Record<string, unknown> | undefined;
    const v = obj?.[m[2]!];
    return v === undefined ? "<no value>" : goString(v);
  }
  m = /^(\.[\w.]*)$/.exec(e);
  if (m) return goString(lookup(data, m[1]!));
  throw invalidArgument(`--format: unsupported template action "{{${expr}}}" (supported: {{.Field}}, {{json .X}}, {{index .X "k"}})`);
}

/** Render a template against one value ("\\t" and "\\n" escapes as docker allows). */
export function render(template: string, data: unknown): string {
  const t = template.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  return t.replace(/\{\{(.*?)\}\}/g, (_, expr: string) => evalAction(expr, data));
}

/**
 * Print rows with --format: "json" (one JSON object a line), "table ..." (a
 * table whose header is `headers` for the named fields), or a template.
 */
export function formatRows(format: string, rows: Record<string, unknown>[], headers: Record<string, string>): string {
  if (format === "json") return rows.map((r) => JSON.stringify(r) + "\n").join("");
  if (format.startsWith("table")) {
    const t = format.slice(5).trim();
    const cells = (s: string) => s.replace(/\\t/g, "\t").split("\t");
    const head = cells(t.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, f: string) => headers[f] ?? f.toUpperCase()));
    return table([head, ...rows.map((r) => cells(render(t, r)))]);
  }
  return rows.map((r) => render(format, r) + "\n").join("");
}
