/**
 * Progress of pulls and pushes, shaped like the messages of docker's JSON
 * progress stream ({id, status, progressDetail}), so the API writes them as
 * they come. Per-layer events carry the short id (12 hex of the digest);
 * events without id are the overall lines ("Pulling from ...", "Digest: ...",
 * "Status: ...").
 */
export type LayerStatus =
  // pull
  | "Pulling fs layer"
  | "Waiting"
  | "Downloading"
  | "Retrying"
  | "Verifying Checksum"
  | "Download complete"
  | "Pull complete"
  | "Already exists"
  // push
  | "Preparing"
  | "Pushing"
  | "Pushed"
  | "Layer already exists"
  | `Mounted from ${string}`;

export interface ProgressEvent {
  /** short layer id, or for the "Pulling from" line the tag */
  id?: string;
  status: LayerStatus | string;
  progressDetail?: { current: number; total: number };
}

/** Called synchronously for each event; must not throw (errors are ignored). */
export type ProgressFn = (e: ProgressEvent) => void;

export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}

export function emitter(fn: ProgressFn | undefined): ProgressFn {
  if (!fn) return () => {};
  return (e) => {
    try {
      fn(e);
    } catch {
      // a broken progress consumer must not break the transfer
    }
  };
}

/** A Downloading/Pushing reporter that speaks at most every 1% or 512 KiB. */
export function byteReporter(emit: ProgressFn, id: string, status: "Downloading" | "Pushing", total: number) {
  const step = Math.max(Math.min(Math.ceil(total / 100), 512 << 10), 1);
  let last = -1;
  return (current: number, force = false) => {
    if (!force && last >= 0 && current - last < step && current !== total) return;
    last = current;
    emit({ id, status, progressDetail: { current, total } });
  };
}
