/** pause / resume <container-id>: freeze and thaw the container's cgroup. */
import type { Verb } from "./context.ts";
import { parse } from "./args.ts";
import { pause as pauseContainer, resume as resumeContainer } from "../../runtime/ops/pause.ts";

export const pause: Verb = (ctx, argv) => {
  const { positionals } = parse("pause", argv, {}, { min: 1, max: 1, usage: "<container-id>" });
  pauseContainer(ctx.rt, positionals[0]!);
};

export const resume: Verb = (ctx, argv) => {
  const { positionals } = parse("resume", argv, {}, { min: 1, max: 1, usage: "<container-id>" });
  resumeContainer(ctx.rt, positionals[0]!);
};
