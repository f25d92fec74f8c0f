/**
 * Docker's JSON message stream (pull, push, load, import): one JSON object a
 * line, {status, id, progressDetail, progress} for progress, {stream} for
 * text, {aux} for results, {error, errorDetail} for a failure once the stream
 * has begun. The docker CLI draws its progress bars from progressDetail;
 * `progress` is the bar as text, as dockerd renders it for old clients.
 * The berth CLI reads the same stream.
 */
import type { ProgressEvent } from "../../engine/registry/index.ts";

export interface JSONMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  stream?: string;
  aux?: unknown;
  error?: string;
  errorDetail?: { message: string; code?: number };
}

const UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/** go-units HumanSize: decimal units, `precision` significant digits ("3.4MB", "512B", "1.234kB"). */
export function humanSize(n: number, precision = 4): string {
  let size = n;
  let i = 0;
  while (size >= 1000 && i < UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(precision))}${UNITS[i]}`;
}

/** The progress text dockerd puts in `progress`: "[=====>      ]  1.2MB/3.4MB" (bar when the width allows). */
export function progressText(current: number, total: number, width = 200): string {
  if (current <= 0 && total <= 0) return "";
  if (total <= 0) return humanSize(current).padStart(8);
  let pct = Math.floor((current / total) * 100) / 2;
  pct = Math.min(50, Math.floor(pct));
  const bar = width > 110 ? `[${"=".repeat(pct)}>${" ".repeat(Math.max(0, 50 - pct))}] ` : "";
  const numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

/** A registry progress event as a JSON message. */
export function progressMessage(e: ProgressEvent): JSONMessage {
  const m: JSONMessage = { status: e.status };
  if (e.id !== undefined) m.id = e.id;
  if (e.progressDetail) {
    m.progressDetail = { current: e.progressDetail.current, total: e.progressDetail.total };
    m.progress = progressText(e.progressDetail.current, e.progressDetail.total);
  } else if (e.id !== undefined && !e.status.startsWith("Pulling from ")) m.progressDetail = {}; // layer updates carry one, plain messages do not
  return m;
}

export function errorMessage(message: string): JSONMessage {
  return { errorDetail: { message }, error: message };
}

export const encodeMessage = (m: JSONMessage) => JSON.stringify(m) + "\r\n";
