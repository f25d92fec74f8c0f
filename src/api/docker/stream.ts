/**
 * Streamed responses. A JSON message stream is answered with 200 only once
 * its first message that is not held back is ready: a failure before that
 * (bad reference, unknown manifest, refused credentials) is still a proper
 * HTTP error, as with dockerd; a failure after it ends the stream with an
 * {error, errorDetail} message. A client that goes away aborts the work.
 */
import { asBerthError, clientMessage } from "../errors.ts";
import { encodeMessage, errorMessage, type JSONMessage } from "./jsonmessage.ts";

export interface JsonStreamOptions {
  headers: Headers;
  /** keep messages back (not answering yet) while this says so; e.g. pull's "Pulling from" line */
  hold?: (m: JSONMessage) => boolean;
  /** aborted when the client cancels the stream */
  abort: AbortController;
  errorResponse: (e: unknown) => Response;
  /** called once when the work has finished, whatever the outcome */
  done?: () => void;
}

const enc = new TextEncoder();

export function jsonStream(work: (send: (m: JSONMessage) => void) => Promise<void>, opts: JsonStreamOptions): Promise<Response> {
  return new Promise<Response>((resolve) => {
    const held: Uint8Array[] = [];
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    let gone = false;
    const headers = new Headers(opts.headers);
    headers.set("content-type", "application/json");
    const commit = () => {
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          controller = c;
          for (const h of held) c.enqueue(h);
          held.length = 0;
        },
        cancel() {
          gone = true;
          opts.abort.abort();
        },
      });
      resolve(new Response(stream, { status: 200, headers }));
    };
    const push = (bytes: Uint8Array) => {
      if (gone) return;
      try {
        controller!.enqueue(bytes);
      } catch {
        gone = true;
      }
    };
    const send = (m: JSONMessage) => {
      const bytes = enc.encode(encodeMessage(m));
      if (controller) return push(bytes);
      held.push(bytes);
      if (!opts.hold?.(m)) commit();
    };
    const close = () => {
      if (gone) return;
      try {
        controller!.close();
      } catch {}
    };
    work(send)
      .then(
        () => {
          if (!controller) commit();
          close();
        },
        (e) => {
          if (!controller) return resolve(opts.errorResponse(e));
          push(enc.encode(encodeMessage(errorMessage(clientMessage(asBerthError(e))))));
          close();
        },
      )
      .finally(() => opts.done?.());
  });
}

/** A byte stream (save) from an async generator; an error mid-way breaks the stream (the client sees a short read). */
export function byteStream(gen: AsyncGenerator<Uint8Array>, abort: AbortController, done?: () => void): ReadableStream<Uint8Array> {
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done?.();
  };
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const r = await gen.next();
        if (r.done) {
          c.close();
          finish();
        } else c.enqueue(r.value);
      } catch (e) {
        c.error(e);
        finish();
      }
    },
    async cancel() {
      abort.abort();
      try {
        await gen.return(undefined);
      } finally {
        finish();
      }
    },
  });
}
