/**
 * BerthError -> HTTP, in one place for every API (docker compat and berth's
 * own): the status for each code, and the body `{"message": "..."}` that
 * docker clients print after "Error response from daemon: ".
 */
import { jsonResponse } from "./http.ts";
import { BerthError, type ErrorCode } from "../errors.ts";

export const HTTP_STATUS: Record<ErrorCode, number> = {
  InvalidArgument: 400,
  PermissionDenied: 403,
  NotFound: 404,
  AlreadyExists: 409,
  FailedPrecondition: 409,
  Internal: 500,
  Unavailable: 503,
};

export function httpStatus(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/** The code for an HTTP error status (what a client of the API makes of it). */
export function codeForHttpStatus(status: number): ErrorCode {
  if (status === 400) return "InvalidArgument";
  if (status === 401 || status === 403) return "PermissionDenied";
  if (status === 404) return "NotFound";
  if (status === 409) return "FailedPrecondition";
  if (status === 503) return "Unavailable";
  return "Internal";
}

/** Anything thrown as a BerthError (non-BerthErrors are Internal). */
export function asBerthError(e: unknown): BerthError {
  if (e instanceof BerthError) return e;
  return new BerthError("Internal", e instanceof Error ? e.message : String(e), { cause: e });
}

/**
 * Docker's wording where clients match on it: "No such image: x",
 * "No such container: x" (compose and SDKs look for these). Other messages
 * are berth's own (lowercase, chained with ": ").
 */
export function clientMessage(e: BerthError): string {
  return e.message.replace(/^no such (image|container|volume|network)\b/, (m) => "N" + m.slice(1));
}

export function errorResponse(e: unknown, headers?: Headers): Response {
  const err = asBerthError(e);
  return jsonResponse({ message: clientMessage(err) }, httpStatus(err.code), headers);
}
