/**
 * Docker Engine API versions, negotiated as dockerd does: the path may start
 * with /v<major.minor>; without it the request is served at the newest
 * version. A version older than API_MIN or newer than API_MAX is refused (400)
 * with dockerd's words. Clients learn API_MAX from the `API-Version` header
 * (on every response, /_ping included) and then use min(theirs, ours).
 */
import { invalidArgument } from "../../errors.ts";

export const API_MIN = "1.24";
export const API_MAX = "1.43";

/** Compare dotted versions numerically ("1.9" < "1.10"); -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export const versionLess = (a: string, b: string) => compareVersions(a, b) < 0;

/** "/v1.43/images/json" -> {version: "1.43", path: "/images/json"}; no prefix -> {path}. */
export function splitVersion(pathname: string): { version?: string; path: string } {
  const m = /^\/v([0-9.]+)(\/.*)?$/.exec(pathname);
  if (!m) return { path: pathname };
  return { version: m[1], path: m[2] ?? "/" };
}

/** The version a request is served at, or InvalidArgument when out of range. */
export function negotiate(requested: string | undefined): string {
  if (requested === undefined || requested === "") return API_MAX;
  if (!/^\d+(\.\d+)*$/.test(requested)) throw invalidArgument(`client version "${requested}" is not a version`);
  if (versionLess(requested, API_MIN))
    throw invalidArgument(`client version ${requested} is too old. Minimum supported API version is ${API_MIN}, please upgrade your client to a newer version`);
  if (compareVersions(requested, API_MAX) > 0) throw invalidArgument(`client version ${requested} is too new. Maximum supported API version is ${API_MAX}`);
  return requested;
}
