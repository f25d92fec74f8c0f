/**
 * Phase timings of one engine operation (container create, start, exit
 * cleanup), logged at debug level as one line: `{"msg":"container start",
 * "ms":{"total":..,"mount":..,"network":..,"cni.bridge.ADD":..}}`.
 *
 * A Phases is bound to the operation with run(): code below it that cannot be
 * handed the object (CNI plugin execs, host tool execs in the network manager)
 * adds its own times through currentPhases(). Sequential phases are taken with
 * mark() (time since the previous mark), concurrent or nested ones with time()
 * or add() (summed per label). Costs a few performance.now() calls.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Logger } from "./logger.ts";
import { withTraceSink } from "../trace.ts";

const store = new AsyncLocalStorage<Phases>();

export class Phases {
  private readonly t0 = performance.now();
  private last = this.t0;
  private subLast = this.t0;
  readonly ms: Record<string, number> = {};

  /** The time since the previous mark (or the start) as `label`. */
  mark(label: string) {
    const now = performance.now();
    this.add(label, now - this.last);
    this.last = this.subLast = now;
  }

  /** The time since the previous mark or sub (the runtime's trace() labels, as rt.<label>). */
  sub(label: string) {
    const now = performance.now();
    this.add(label, now - Math.max(this.last, this.subLast));
    this.subLast = now;
  }

  /** Add ms to label (summed when repeated). */
  add(label: string, ms: number) {
    this.ms[label] = Math.round(((this.ms[label] ?? 0) + ms) * 10) / 10;
  }

  /** Time fn as `label` (alongside the marks: does not move them). */
  async time<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.add(label, performance.now() - t);
    }
  }

  /** Run fn with this as currentPhases() in everything it awaits. */
  run<T>(fn: () => T): T {
    return store.run(this, () => withTraceSink((l) => this.sub(`rt.${l}`), fn));
  }

  total(): number {
    return Math.round((performance.now() - this.t0) * 10) / 10;
  }

  /** The debug line: msg with {ms: {total, ...phases}}. */
  log(log: Logger | undefined, msg: string, fields: Record<string, unknown> = {}) {
    if (!log?.enabled("debug")) return;
    log.debug(msg, { ...fields, ms: { total: this.total(), ...this.ms } });
  }
}

/** The Phases of the operation this code runs under, if any. */
export function currentPhases(): Phases | undefined {
  return store.getStore();
}
