/** events [--stats] [--interval 5s] <container-id>: runc-shaped JSON lines until the container stops. */
import type { Verb } from "./context.ts";
import { parse } from "./args.ts";
import { streamEvents } from "../../runtime/ops/events.ts";
import { parseDuration } from "../../runtime/ops/units.ts";

export const events: Verb = async (ctx, argv) => {
  const { values, positionals } = parse(
    "events",
    argv,
    { stats: { type: "boolean" }, interval: { type: "string" } },
    { min: 1, max: 1, usage: "[--stats] [--interval 5s] <container-id>" },
  );
  const intervalMs = parseDuration((values.interval as string | undefined) ?? "5s", "events: --interval");
  await streamEvents(
    ctx.rt,
    positionals[0]!,
    { intervalMs, statsOnly: Boolean(values.stats), onError: (e) => ctx.log("error", `events: ${(e as Error).message}`) },
    (line) => process.stdout.write(line),
  );
};
