/**
 * POST /containers/{id}/attach (hijacked): the container's live output and
 * its stdin over the client's connection. `docker run` attaches before it
 * starts the container; the service then waits for the attach to reach the
 * monitor before the process starts, so no output is missed.
 */
import { BerthError } from "../../errors.ts";
import type { ContainerService } from "../../engine/containers/service.ts";
import type { LogEntry } from "../../engine/monitor/log-format.ts";
import { serveAttach, type AttachOutput } from "./attach-stream.ts";
import { hijackRoute, isUpgraded, attachContentType, upgraded, writeBerthError, type HijackRoute, type Hijacked } from "./hijack.ts";
import { boolParam } from "./params.ts";
import type { Ctx } from "./router.ts";

async function* logOutput(entries: AsyncIterable<LogEntry>): AsyncGenerator<AttachOutput> {
  for await (const e of entries) yield { stream: e.stream, data: e.data };
}

async function attach(ctx: Ctx, conn: Hijacked): Promise<void> {
  const svc: ContainerService = ctx.engine.containerService;
  try {
    const rec = svc.get(ctx.tenant, ctx.params[0]!);
    const q = ctx.query;
    const tty = Boolean(rec.Config.Tty);
    const stdin = boolParam(q, "stdin");
    if (stdin && !rec.Config.OpenStdin) throw new BerthError("FailedPrecondition", `container ${rec.Id} was not created with stdin open (-i)`);
    const wantLogs = boolParam(q, "logs");
    const stream = boolParam(q, "stream");
    upgraded(conn.socket, ctx.headers, attachContentType(tty, ctx.version));
    const opts = {
      tty,
      stdin,
      stdout: boolParam(q, "stdout"),
      stderr: boolParam(q, "stderr"),
      closeStdin: Boolean(rec.Config.StdinOnce),
      head: conn.head,
      logs: wantLogs ? logOutput(svc.logs(ctx.tenant, rec.Id, { signal: ctx.signal })) : undefined,
      signal: AbortSignal.any([ctx.signal, ctx.stopping]),
    };
    if (!stream) {
      // logs only (docker attach --no-stream): the past output, then the end
      await serveAttach(conn.socket, { output: (async function* () {})(), write() {}, closeStdin() {}, close() {} }, opts);
      return;
    }
    let session: Promise<void> | undefined;
    await svc.monitorFor(
      ctx.tenant,
      rec.Id,
      async (m) => {
        const a = await m.attach();
        // the client's EOF half-closes our end: the monitor applies StdinOnce itself
        session = serveAttach(conn.socket, { output: a.output, write: (d) => a.write(d), closeStdin: () => a.endStdin(), close: () => a.close() }, opts);
      },
      ctx.signal,
    );
    svc.emit(svc.mustGet(rec.Id), "attach");
    await session;
  } catch (e) {
    if (!isUpgraded(conn.socket)) writeBerthError(conn.socket, e, ctx.headers);
    else conn.socket.destroy();
  }
}

export const containerHijackRoutes: HijackRoute[] = [hijackRoute("POST", "/containers/{id}/attach", attach)];
