/**
 * Registry error bodies ({"errors":[{code, message, detail}]}, distribution spec)
 * turned into BerthErrors: the registry's own words in the message, the code
 * mapped (MANIFEST_UNKNOWN -> NotFound, UNAUTHORIZED/DENIED -> PermissionDenied,
 * ...), the HTTP status deciding when the body says nothing.
 */
import { BerthError, type ErrorCode } from "../../errors.ts";

const CODE_MAP: Record<string, ErrorCode> = {
  BLOB_UNKNOWN: "NotFound",
  BLOB_UPLOAD_UNKNOWN: "NotFound",
  MANIFEST_UNKNOWN: "NotFound",
  NAME_UNKNOWN: "NotFound",
  UNAUTHORIZED: "PermissionDenied",
  DENIED: "PermissionDenied",
  TOOMANYREQUESTS: "Unavailable",
  UNAVAILABLE: "Unavailable",
  UNSUPPORTED: "FailedPrecondition",
  BLOB_UPLOAD_INVALID: "InvalidArgument",
  DIGEST_INVALID: "InvalidArgument",
  MANIFEST_BLOB_UNKNOWN: "InvalidArgument",
  MANIFEST_INVALID: "InvalidArgument",
  MANIFEST_UNVERIFIED: "InvalidArgument",
  NAME_INVALID: "InvalidArgument",
  SIZE_INVALID: "InvalidArgument",
  TAG_INVALID: "InvalidArgument",
  PAGINATION_NUMBER_INVALID: "InvalidArgument",
  RANGE_INVALID: "InvalidArgument",
};

function codeForStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return "PermissionDenied";
  if (status === 404) return "NotFound";
  if (status === 429 || status >= 500) return "Unavailable";
  if (status === 400 || status === 405 || status === 413 || status === 416) return "InvalidArgument";
  return "Internal";
}

interface RegistryErrorItem {
  code?: unknown;
  message?: unknown;
}

/** Read at most `max` bytes of a body (the rest is discarded). */
export async function readLimited(res: Response, max: number): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.length;
      if (n > max) break;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(Math.min(n, max + 1));
  let off = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, out.length - off);
    out.set(c.subarray(0, take), off);
    off += take;
    if (off >= out.length) break;
  }
  return out;
}

/** Words for an error body: "manifest unknown: manifest unknown; denied: ..." or "" */
export function describeErrorBody(text: string): { words: string; code?: ErrorCode } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { words: "" };
  }
  const errors = (doc as { errors?: unknown })?.errors;
  const list: RegistryErrorItem[] = Array.isArray(errors) ? errors : [];
  // token servers answer {"details": "..."} or {"error": "...", "error_description": "..."}
  if (list.length === 0) {
    const d = doc as Record<string, unknown>;
    const msg = [d.details, d.error, d.error_description, d.message].filter((x) => typeof x === "string").join(": ");
    return { words: msg };
  }
  let code: ErrorCode | undefined;
  const words = list
    .map((e) => {
      const c = typeof e.code === "string" ? e.code : "";
      code ??= CODE_MAP[c];
      const name = c.toLowerCase().replace(/_/g, " ");
      const msg = typeof e.message === "string" ? e.message : "";
      return name && msg ? `${name}: ${msg}` : name || msg;
    })
    .filter(Boolean)
    .join("; ");
  return { words, code };
}

/** A BerthError for a non-success response; consumes (a bounded part of) the body. */
export async function responseError(context: string, res: Response): Promise<BerthError> {
  let text = "";
  if (res.body) {
    try {
      text = new TextDecoder().decode(await readLimited(res, 64 << 10));
    } catch {
      // the body is only there to explain; the status still does
    }
  }
  const { words, code } = describeErrorBody(text);
  const finalCode = code ?? codeForStatus(res.status);
  const detail = words || `${res.status} ${res.statusText || "error"}`.toLowerCase().trim();
  return new BerthError(finalCode, `${context}: ${detail}`);
}

export function unavailable(msg: string, cause?: unknown): BerthError {
  return new BerthError("Unavailable", msg, cause === undefined ? {} : { cause });
}

export function permissionDenied(msg: string): BerthError {
  return new BerthError("PermissionDenied", msg);
}
