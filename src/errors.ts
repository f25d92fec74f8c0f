/**
 * One error type for all of berth. `code` is a closed set; only the CLI maps it
 * to an exit status and only the API maps it to an HTTP status.
 * Messages are lowercase and chain with ": " (`create web: mount /proc: EPERM`).
 */
export type ErrorCode =
  | "NotFound"
  | "AlreadyExists"
  | "InvalidArgument"
  | "FailedPrecondition"
  | "PermissionDenied"
  | "Unavailable"
  | "Internal";

export interface SyscallInfo {
  op: string;
  path?: string;
  errno: number;
}

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly syscall?: SyscallInfo;
  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; syscall?: SyscallInfo } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "BerthError";
    this.code = code;
    this.syscall = opts.syscall;
  }

  /** Prefix the message with context, keeping code and syscall info. */
  wrap(context: string): BerthError {
    return new BerthError(this.code, `${context}: ${this.message}`, { cause: this, syscall: this.syscall });
  }
}

export const notFound = (msg: string) => new BerthError("NotFound", msg);
export const alreadyExists = (msg: string) => new BerthError("AlreadyExists", msg);
export const invalidArgument = (msg: string) => new BerthError("InvalidArgument", msg);
export const failedPrecondition = (msg: string) => new BerthError("FailedPrecondition", msg);
export const internal = (msg: string, cause?: unknown) => new BerthError("Internal", msg, { cause });

/** Wrap anything thrown into a BerthError with context. */
export function wrapError(context: string, err: unknown): BerthError {
  if (err instanceof BerthError) return err.wrap(context);
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === "string" && typeof e.errno === "number") {
    const code: ErrorCode =
      e.code === "ENOENT" ? "NotFound" : e.code === "EEXIST" ? "AlreadyExists" : e.code === "EACCES" || e.code === "EPERM" ? "PermissionDenied" : "Internal";
    return new BerthError(code, `${context}: ${e.syscall ?? "io"} ${e.path ?? ""}: ${e.code}`.replace("  ", " "), {
      cause: err,
      syscall: { op: e.syscall ?? "io", path: e.path, errno: Math.abs(e.errno) },
    });
  }
  return new BerthError("Internal", `${context}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** Exit status of the CLIs for an error code. */
export function exitStatus(code: ErrorCode): number {
  return code === "InvalidArgument" ? 2 : 1;
}
