/**
 * Containers are not served yet (the container service with its monitors is
 * being built). Until then: the list is empty, so `docker ps` works; a
 * container, network or volume looked up by name does not exist (404, so
 * `docker inspect` falls through to images); everything else
 * under /containers, /exec, /volumes, /networks and /build answers 501 with a
 * message the docker CLI prints.
 */
import { jsonResponse } from "../http.ts";
import { notFound } from "../../errors.ts";
import { route, type Ctx, type Route } from "./router.ts";

function notImplemented(what: string) {
  return (ctx: Ctx) =>
    jsonResponse({ message: `berthd: ${what} not implemented yet (${ctx.req.method} ${ctx.url.pathname})` }, 501, ctx.headers);
}

const ANY = ["GET", "POST", "PUT", "DELETE", "HEAD"];

export const containerRoutes: Route[] = [
  route("GET", "/containers/json", (ctx) => jsonResponse([], 200, ctx.headers)),
  // single lookups: none of these can exist yet, so NotFound is the truth (docker inspect relies on it to try the next kind)
  route("GET", "/containers/{name}/json", (ctx) => {
    throw notFound(`no such container: ${ctx.params[0]}`);
  }),
  route("GET", "/networks/{name}", (ctx) => {
    throw notFound(`network ${ctx.params[0]} not found`);
  }),
  route("GET", "/volumes/{name}", (ctx) => {
    throw notFound(`no such volume: ${ctx.params[0]}`);
  }),
  ...ANY.flatMap((m) => [
    route(m, "/containers/{name}", notImplemented("containers are")),
    route(m, "/exec/{name}", notImplemented("exec is")),
    route(m, "/volumes", notImplemented("volumes are")),
    route(m, "/volumes/{name}", notImplemented("volumes are")),
    route(m, "/networks", notImplemented("networks are")),
    route(m, "/networks/{name}", notImplemented("networks are")),
    route(m, "/build", notImplemented("builds are")),
  ]),
];
