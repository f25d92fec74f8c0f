/**
 * Which tenant a request acts for. Every engine call an API handler makes
 * passes this. Today every caller on the socket is the default tenant; when
 * authentication comes (peer credentials on the socket, client certificates,
 * tokens), it is decided here and nowhere else.
 */
import { DEFAULT_TENANT } from "../engine/db.ts";

export function tenantOf(_req: Request): string {
  return DEFAULT_TENANT;
}
