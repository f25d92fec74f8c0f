import type { Verb } from "./context.ts";
import { parse } from "./args.ts";
import { CREATE_FLAGS, createOptions } from "./create.ts";
import type { Launched } from "../../runtime/launch.ts";
import { Foreground } from "./foreground.ts";
import { trace } from "../../trace.ts";

/** create + start; in the foreground, wait, delete, and exit with the container's status. */
export const run: Verb = async (ctx, argv) => {
  const { values, positionals } = parse("run", argv, { ...CREATE_FLAGS, detach: { type: "boolean", short: "d" }, keep: { type: "boolean" } }, {
    min: 1,
    max: 1,
    usage: "[flags] <container-id>",
  });
  const id = positionals[0]!;
  const detach = Boolean(values.detach);
  const rec = await ctx.rt.create({ ...createOptions("run", values, id), stay: !detach, proxyTerminal: !detach });
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
  const fg = await Foreground.attach(launched);
  try {
    await ctx.rt.start(id);
  } catch (e) {
    await fg.stop();
    await ctx.rt.delete(id, true).catch(() => {});
    throw e;
  }
  const code = await fg.wait();
  trace("container");
  if (!values.keep) await ctx.rt.delete(id, true);
  return code;
};
