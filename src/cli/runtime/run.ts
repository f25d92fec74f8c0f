import type { Verb } from "./context.ts";
import { parse } from "./args.ts";
import { CREATE_FLAGS, createOptions } from "./create.ts";
import type { Launched } from "../../runtime/launch.ts";
import { trace } from "../../trace.ts";

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

/** create + start; in the foreground, wait, delete, and exit with the container's status. */
export const run: Verb = async (ctx, argv) => {
  const { values, positionals } = parse("run", argv, { ...CREATE_FLAGS, detach: { type: "boolean", short: "d" }, keep: { type: "boolean" } }, {
    min: 1,
    max: 1,
    usage: "[flags] <container-id>",
  });
  const id = positionals[0]!;
  const detach = Boolean(values.detach);
  const rec = await ctx.rt.create({ ...createOptions("run", values, id), stay: !detach });
  const launched = (rec as { launched?: Launched }).launched!;
  if (detach) {
    try {
      await ctx.rt.start(id);
    } catch (e) {
      await ctx.rt.delete(id, true).catch(() => {});
      throw e;
    }
    return 0;
  }
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(launched.pid, sig);
    } catch {}
  };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    await ctx.rt.start(id);
  } catch (e) {
    await ctx.rt.delete(id, true).catch(() => {});
    throw e;
  }
  const code = await launched.helper.exited;
  trace("container");
  for (const s of FORWARDED) process.off(s, forward);
  if (!values.keep) await ctx.rt.delete(id, true);
  return code;
};
