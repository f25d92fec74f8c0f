/** HTTP helpers shared by the APIs. */

/**
 * A JSON response with Content-Type exactly "application/json": the docker
 * client reads `{"message"}` out of an error body only when the type is that
 * string (Bun's Response.json adds "; charset=utf-8").
 */
export function jsonResponse(body: unknown, status = 200, headers?: Headers): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json");
  return new Response(JSON.stringify(body), { status, headers: h });
}
