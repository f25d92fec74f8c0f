/** `exec [flags] <container-id> <command> [args...]` or `exec [flags] --process process.json <container-id>`. */
import type { Verb } from "./context.ts";
import { parse, intFlag, splitAtPositional } from "./args.ts";
import { BerthError, invalidArgument } from "../../errors.ts";
import { Foreground } from "./foreground.ts";

const EXEC_FLAGS = {
  "console-socket": { type: "string" },
  cwd: { type: "string" },
  env: { type: "string", short: "e", multiple: true },
  tty: { type: "boolean", short: "t" },
  user: { type: "string", short: "u" },
  "additional-gids": { type: "string", short: "g", multiple: true },
  process: { type: "string", short: "p" },
  detach: { type: "boolean", short: "d" },
  "pid-file": { type: "string" },
  "process-label": { type: "string" },
  apparmor: { type: "string" },
  "no-new-privs": { type: "boolean" },
  cap: { type: "string", short: "c", multiple: true },
  "preserve-fds": { type: "string" },
} as const;

/** runc exits 255 when exec itself fails (the process's own status is anything else). */
const EXEC_FAILED = 255;

export const exec: Verb = async (ctx, argv) => {
  const [flagArgs, rest] = splitAtPositional(argv, EXEC_FLAGS);
  const { values } = parse("exec", flagArgs, EXEC_FLAGS, { min: 0, max: 0, usage: "[flags] <container-id> <command> [args...]" });
  const [id, ...command] = rest;
  if (!id) throw invalidArgument("exec: usage: berth-runtime exec [flags] <container-id> <command> [args...]");
  const { execProcess } = await import("../../runtime/exec-spec.ts");
  const { execInContainer } = await import("../../runtime/exec.ts");
  let launched;
  try {
    const rec = ctx.rt.store.load(id);
    const proc = execProcess(rec.config.process, {
      processFile: values.process,
      args: command,
      env: values.env,
      cwd: values.cwd,
      user: values.user,
      additionalGids: values["additional-gids"],
      caps: values.cap,
      tty: values.tty,
      noNewPrivs: values["no-new-privs"],
      apparmor: values.apparmor,
      processLabel: values["process-label"],
    });
    launched = await execInContainer(ctx.rt, {
      id,
      process: proc,
      detach: values.detach,
      pidFile: values["pid-file"],
      consoleSocket: values["console-socket"],
      preserveFds: intFlag("exec", "preserve-fds", values["preserve-fds"]),
    });
  } catch (e) {
    const err = e instanceof BerthError ? e : new BerthError("Internal", String(e), { cause: e });
    ctx.log("error", `exec failed: ${err.message}`);
    return EXEC_FAILED;
  }
  if (values.detach) return 0;
  const fg = await Foreground.attach(launched);
  return fg.wait();
};
