/**
 * Phase timing for benchmarks: with BERTH_TRACE=1, `trace("label")` records the
 * time since the previous mark and the process prints `berth-trace: a=1.2ms b=3.4ms`
 * on stderr when it exits. Costs nothing otherwise.
 */
import { AsyncLocalStorage } from "node:async_hooks";

const on = process.env.BERTH_TRACE === "1";
/** A daemon's per-operation sink (src/engine/phases.ts): gets every trace() label made under it. */
const sinks = new AsyncLocalStorage<(label: string) => void>();

/** Run fn with `sink` receiving the trace() labels of everything it awaits. */
export function withTraceSink<T>(sink: (label: string) => void, fn: () => T): T {
  return sinks.run(sink, fn);
}
const marks: string[] = [];
let last = on ? performance.now() : 0;

if (on) {
  // time from process start to the first line of our code: Bun startup + module loading
  marks.push(`startup=${performance.now().toFixed(1)}ms`);
  process.on("exit", () => process.stderr.write(`berth-trace: ${marks.join(" ")}\n`));
}

export function trace(label: string) {
  sinks.getStore()?.(label);
  if (!on) return;
  const now = performance.now();
  marks.push(`${label}=${(now - last).toFixed(1)}ms`);
  last = now;
}
