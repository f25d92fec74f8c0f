/**
 * docker login, daemon side: check credentials against a registry by asking
 * for its API root (`GET /v2/`) with them. A 401 after the authorizer's
 * answer to the challenge (Basic, or a token request carrying the
 * credentials) means they were refused.
 */
import { BerthError } from "../../errors.ts";
import { RegistryClient, type RegistryOptions } from "./client.ts";
import { permissionDenied, responseError } from "./errors.ts";

export interface LoginResult {
  /** "Login Succeeded" */
  status: string;
}

export async function login(domain: string, opts: RegistryOptions): Promise<LoginResult> {
  const client = new RegistryClient(domain, opts);
  let res: Response;
  try {
    res = await client.request("/v2/", { scopes: [] });
  } catch (e) {
    throw e instanceof BerthError ? e.wrap(`login to ${domain}`) : e;
  }
  if (res.ok) {
    res.body?.cancel().catch(() => {});
    return { status: "Login Succeeded" };
  }
  if (res.status === 401 || res.status === 403) {
    res.body?.cancel().catch(() => {});
    throw permissionDenied(`login attempt to ${client.origin}/v2/ failed with status: ${res.status} ${res.statusText || "Unauthorized"}`);
  }
  throw await responseError(`login to ${domain}`, res);
}
