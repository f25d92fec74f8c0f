/**
 * Docker's `filters` query parameter: JSON, either {"key": {"value": true}}
 * (current clients) or {"key": ["value"]} (old ones). Each endpoint names the
 * keys it accepts; any other is refused as dockerd does ("invalid filter 'x'").
 */
import { invalidArgument } from "../../errors.ts";

export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | null | undefined): Filters {
  const out: Filters = new Map();
  if (raw === null || raw === undefined || raw.trim() === "") return out;
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw invalidArgument(`filters: invalid JSON: ${(e as Error).message}`);
  }
  if (doc === null) return out;
  if (typeof doc !== "object" || Array.isArray(doc)) throw invalidArgument("filters: want a JSON object of filter names");
  for (const [key, v] of Object.entries(doc as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(v)) {
      if (!v.every((x) => typeof x === "string")) throw invalidArgument(`filters: ${key}: want a list of strings`);
      values = v as string[];
    } else if (v && typeof v === "object") {
      values = Object.entries(v as Record<string, unknown>)
        .filter(([, on]) => on === true)
        .map(([k]) => k);
    } else throw invalidArgument(`filters: ${key}: want {"value": true, ...} or ["value", ...]`);
    out.set(key, [...(out.get(key) ?? []), ...values]);
  }
  return out;
}

/** Refuse keys the endpoint does not know (dockerd: "invalid filter 'x'"). */
export function checkFilterKeys(f: Filters, accepted: readonly string[]) {
  for (const k of f.keys()) if (!accepted.includes(k)) throw invalidArgument(`invalid filter '${k}'`);
}

export function filterValues(f: Filters, key: string): string[] {
  return f.get(key) ?? [];
}

/** The last value of a single-valued filter (before, since, until), if given. */
export function filterValue(f: Filters, key: string): string | undefined {
  return f.get(key)?.at(-1);
}

/** A boolean filter (dangling): true/1 or false/0; both at once is refused. */
export function boolFilter(f: Filters, key: string): boolean | undefined {
  const vs = f.get(key);
  if (!vs || vs.length === 0) return undefined;
  const set = new Set(
    vs.map((v) => {
      const l = v.toLowerCase();
      if (l === "true" || l === "1") return true;
      if (l === "false" || l === "0") return false;
      throw invalidArgument(`invalid filter '${key}=${v}'`);
    }),
  );
  if (set.size > 1) throw invalidArgument(`invalid filter '${key}': both true and false given`);
  return [...set][0];
}

/** Split label filters into the must-match ("label") and must-not-match ("label!") lists. */
export function labelFilters(f: Filters): { label: string[]; labelNot: string[] } {
  return { label: filterValues(f, "label"), labelNot: filterValues(f, "label!") };
}
