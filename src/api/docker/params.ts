/**
 * Query and body parsing with dockerd's conventions: booleans are false for
 * "", "0", "no", "false", "none" (any case) and true otherwise; JSON bodies
 * are objects whose fields are checked by name, so a bad body is refused with
 * the field it got wrong.
 */
import { invalidArgument } from "../../errors.ts";

export function boolParam(q: URLSearchParams, key: string): boolean {
  const v = q.get(key);
  if (v === null) return false;
  const s = v.trim().toLowerCase();
  return !(s === "" || s === "0" || s === "no" || s === "false" || s === "none");
}

export function intParam(q: URLSearchParams, key: string, dflt: number): number {
  const v = q.get(key);
  if (v === null || v === "") return dflt;
  if (!/^-?\d+$/.test(v)) throw invalidArgument(`${key}: not an integer: "${v}"`);
  return Number(v);
}

const MAX_JSON_BODY = 1 << 20;

/** The request's JSON body as an object ({} when empty). */
export async function jsonBody(req: Request): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (text.length > MAX_JSON_BODY) throw invalidArgument(`body: larger than ${MAX_JSON_BODY} bytes`);
  if (text.trim() === "") return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw invalidArgument(`body: invalid JSON: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw invalidArgument("body: want a JSON object");
  return doc as Record<string, unknown>;
}

function kind(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** An optional string field ("" when absent or null). */
export function strField(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw invalidArgument(`${key}: want a string, got ${kind(v)}`);
  return v;
}

/** An optional list of strings. */
export function strListField(o: Record<string, unknown>, key: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw invalidArgument(`${key}: want a list of strings, got ${kind(v)}`);
  return v as string[];
}

/** An optional boolean. */
export function boolField(o: Record<string, unknown>, key: string): boolean {
  const v = o[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw invalidArgument(`${key}: want a boolean, got ${kind(v)}`);
  return v;
}
