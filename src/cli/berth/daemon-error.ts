import { BerthError } from "../../errors.ts";

/** An error the daemon answered with (docker prints these as "Error response from daemon: ..."). */
export class DaemonError extends BerthError {
  constructor(
    code: ConstructorParameters<typeof BerthError>[0],
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}
