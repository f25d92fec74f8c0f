/**
 * Shows a JSON message stream (pull, push, load, import) as the docker CLI
 * does: on a terminal, one line per layer redrawn in place with its progress
 * bar; otherwise plain lines, without the byte-by-byte updates.
 */
import { BerthError } from "../../errors.ts";
import { progressText, type JSONMessage } from "../../api/docker/jsonmessage.ts";

export interface Out {
  write(s: string): void;
  isTTY: boolean;
  /** terminal width, for the bar */
  columns?: number;
}

const ESC = "\x1b[";

/** Parse a body of JSON lines as they arrive. */
export async function* jsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<JSONMessage> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as JSONMessage;
    }
  }
  if (buf.trim()) yield JSON.parse(buf) as JSONMessage;
}

/** The text of one message (without line control). */
export function messageText(m: JSONMessage, tty: boolean, columns = 200): string {
  const id = m.id ? `${m.id}: ` : "";
  const d = m.progressDetail;
  const bar = tty && d && ((d.current ?? 0) > 0 || (d.total ?? 0) > 0) ? " " + progressText(d.current ?? 0, d.total ?? 0, columns) : "";
  return `${id}${m.status ?? ""}${bar}`;
}

/**
 * Show the stream; throws the stream's error message as a BerthError.
 * `aux` receives the result messages ({aux: ...}).
 */
export async function display(body: ReadableStream<Uint8Array>, out: Out, aux?: (a: unknown) => void): Promise<void> {
  const ids = new Map<string, number>();
  for await (const m of jsonLines(body)) {
    if (m.error || m.errorDetail) throw new BerthError("Internal", m.errorDetail?.message ?? m.error ?? "error");
    if (m.aux !== undefined) {
      aux?.(m.aux);
      continue;
    }
    if (m.stream !== undefined) {
      ids.clear();
      out.write(m.stream);
      continue;
    }
    const isProgress = m.id !== undefined && m.progressDetail !== undefined;
    if (!out.isTTY) {
      // plain output: no byte counts, one line per status
      const d = m.progressDetail;
      if (d && ((d.current ?? 0) > 0 || (d.total ?? 0) > 0)) continue;
      out.write(messageText(m, false) + "\n");
      continue;
    }
    if (!isProgress) {
      ids.clear();
      out.write(messageText(m, true, out.columns) + "\n");
      continue;
    }
    let line = ids.get(m.id!);
    if (line === undefined) {
      line = ids.size;
      ids.set(m.id!, line);
      out.write("\n");
    }
    const up = ids.size - line;
    out.write(`${ESC}${up}A\r${ESC}2K${messageText(m, true, out.columns)}\r${ESC}${up}B`);
  }
}
