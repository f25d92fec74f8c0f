/**
 * docker exec over the API: create (POST /containers/{id}/exec), start
 * (POST /exec/{id}/start: hijacked unless detached; a plain POST from an old
 * client gets the output as a 200 stream, without stdin), resize, inspect.
 * Thin adapters over the engine's ExecService.
 */
import { BerthError, invalidArgument } from "../../errors.ts";
import type { ExecConfig, ExecSession } from "../../engine/containers/exec.ts";
import { jsonResponse } from "../http.ts";
import { serveAttach } from "./attach-stream.ts";
import { attachContentType, hijackRoute, upgraded, type HijackRoute } from "./hijack.ts";
import { boolField, intParam, jsonBody, strField, strListField } from "./params.ts";
import { route, type Ctx, type Route } from "./router.ts";
import { encodeFrames, STDERR, STDOUT } from "./stdcopy.ts";

function execConfig(b: Record<string, unknown>): ExecConfig {
  const size = b.ConsoleSize;
  if (size != null && (!Array.isArray(size) || size.length !== 2 || !size.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffff)))
    throw invalidArgument("ConsoleSize: want [height, width]");
  return {
    AttachStdin: boolField(b, "AttachStdin"),
    AttachStdout: boolField(b, "AttachStdout"),
    AttachStderr: boolField(b, "AttachStderr"),
    Tty: boolField(b, "Tty"),
    Cmd: strListField(b, "Cmd"),
    Env: strListField(b, "Env"),
    WorkingDir: strField(b, "WorkingDir"),
    User: strField(b, "User"),
    Privileged: boolField(b, "Privileged"),
    ConsoleSize: (size as [number, number] | null | undefined) ?? null,
    DetachKeys: strField(b, "DetachKeys"),
  };
}

async function startBody(ctx: Ctx): Promise<{ Detach: boolean; Tty?: boolean }> {
  const b = await jsonBody(ctx.req);
  return { Detach: boolField(b, "Detach"), Tty: b.Tty === undefined || b.Tty === null ? undefined : boolField(b, "Tty") };
}

async function create(ctx: Ctx): Promise<Response> {
  const id = ctx.engine.execs.create(ctx.tenant, ctx.params[0]!, execConfig(await jsonBody(ctx.req)));
  return jsonResponse({ Id: id }, 201, ctx.headers);
}

/** A plain POST start: detached, or the output as the response body (old clients; no stdin). */
async function startPlain(ctx: Ctx): Promise<Response> {
  const body = await startBody(ctx);
  const session = await ctx.engine.execs.start(ctx.tenant, ctx.params[0]!, body);
  if (!session) return new Response(null, { status: 200, headers: ctx.headers });
  return outputResponse(ctx, session);
}

function outputResponse(ctx: Ctx, session: ExecSession): Response {
  session.closeStdin();
  const release = ctx.busy();
  const it = session.output[Symbol.asyncIterator]();
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    release();
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(c) {
      const r = await it.next();
      if (r.done) {
        c.close();
        return finish();
      }
      c.enqueue(session.tty ? r.value.data : encodeFrames(r.value.stream === "stdout" ? STDOUT : STDERR, r.value.data));
    },
    cancel() {
      session.close();
      finish();
    },
  });
  const headers = new Headers(ctx.headers);
  headers.set("content-type", attachContentType(session.tty, ctx.version));
  return new Response(stream, { status: 200, headers });
}

async function resize(ctx: Ctx): Promise<Response> {
  ctx.engine.execs.resize(ctx.tenant, ctx.params[0]!, intParam(ctx.query, "h", 0), intParam(ctx.query, "w", 0));
  return new Response(null, { status: 200, headers: ctx.headers });
}

function inspect(ctx: Ctx): Response {
  return jsonResponse(ctx.engine.execs.inspect(ctx.tenant, ctx.params[0]!), 200, ctx.headers);
}

export const execRoutes: Route[] = [
  route("POST", "/containers/{name}/exec", create),
  route("POST", "/exec/{id}/start", startPlain),
  route("POST", "/exec/{id}/resize", resize),
  route("GET", "/exec/{id}/json", inspect),
];

export const execHijackRoutes: HijackRoute[] = [
  hijackRoute("POST", "/exec/{id}/start", async (ctx, conn) => {
    const body = await startBody(ctx);
    const id = ctx.params[0]!;
    const execs = ctx.engine.execs;
    let session: ExecSession | undefined;
    try {
      session = await execs.start(ctx.tenant, id, body);
    } catch (err) {
      // dockerd hijacks first and writes a start failure into the stream (the client reads the exit code from inspect)
      if (body.Detach || !(err instanceof BerthError) || err.code === "NotFound") throw err;
      const tty = body.Tty ?? Boolean(execs.inspect(ctx.tenant, id).ProcessConfig?.tty);
      upgraded(conn.socket, ctx.headers, attachContentType(tty, ctx.version));
      const msg = new TextEncoder().encode(`${err.message}\r\n`);
      conn.socket.end(tty ? msg : encodeFrames(STDOUT, msg));
      return;
    }
    if (!session) {
      // detached over an upgrade: nothing to stream
      upgraded(conn.socket, ctx.headers, attachContentType(Boolean(body.Tty), ctx.version));
      conn.socket.end();
      return;
    }
    const cfg = execs.inspect(ctx.tenant, id);
    upgraded(conn.socket, ctx.headers, attachContentType(session.tty, ctx.version));
    await serveAttach(conn.socket, session, {
      tty: session.tty,
      stdin: cfg.OpenStdin,
      stdout: cfg.OpenStdout,
      stderr: cfg.OpenStderr,
      closeStdin: true,
      head: conn.head,
      signal: ctx.signal,
    });
  }),
];
