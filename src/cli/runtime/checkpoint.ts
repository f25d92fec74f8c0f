/** checkpoint / restore: runc's flags over src/runtime/checkpoint.ts and restore.ts. */
import type { Context, Verb } from "./context.ts";
import { parse, intFlag } from "./args.ts";
import { parsePageServer } from "../../runtime/criu/options.ts";

/** Flags checkpoint and restore share. */
const COMMON = {
  "image-path": { type: "string" },
  "work-path": { type: "string" },
  "tcp-established": { type: "boolean" },
  "ext-unix-sk": { type: "boolean" },
  "shell-job": { type: "boolean" },
  "file-locks": { type: "boolean" },
  "manage-cgroups-mode": { type: "string" },
  "lazy-pages": { type: "boolean" },
  "empty-ns": { type: "string", multiple: true },
  "auto-dedup": { type: "boolean" },
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

function common(ctx: Context, v: Values, dfltImage?: string) {
  return {
    imagePath: (v["image-path"] as string | undefined) ?? dfltImage ?? "",
    workPath: v["work-path"] as string | undefined,
    tcpEstablished: Boolean(v["tcp-established"]),
    extUnixSk: Boolean(v["ext-unix-sk"]),
    shellJob: Boolean(v["shell-job"]),
    fileLocks: Boolean(v["file-locks"]),
    manageCgroupsMode: v["manage-cgroups-mode"] as string | undefined,
    lazyPages: Boolean(v["lazy-pages"]),
    emptyNs: v["empty-ns"] as string[] | undefined,
    autoDedup: Boolean(v["auto-dedup"]),
    criu: ctx.global.criu,
  };
}

export const checkpoint: Verb = async (ctx, argv) => {
  const { values, positionals } = parse(
    "checkpoint",
    argv,
    {
      ...COMMON,
      "leave-running": { type: "boolean" },
      "pre-dump": { type: "boolean" },
      "parent-path": { type: "string" },
      "page-server": { type: "string" },
      "status-fd": { type: "string" },
    },
    { min: 1, max: 1, usage: "[flags] <container-id>" },
  );
  const v = values as Values;
  const { checkpoint } = await import("../../runtime/checkpoint.ts");
  const r = await checkpoint(ctx.rt, positionals[0]!, {
    // runc's default: ./checkpoint
    ...common(ctx, v, `${process.cwd()}/checkpoint`),
    leaveRunning: Boolean(v["leave-running"]),
    preDump: Boolean(v["pre-dump"]),
    parentPath: v["parent-path"] as string | undefined,
    pageServer: v["page-server"] !== undefined ? parsePageServer(v["page-server"] as string) : undefined,
    statusFd: v["status-fd"] !== undefined ? intFlag("checkpoint", "status-fd", v["status-fd"] as string) : undefined,
  });
  tell(ctx, r.notes);
  ctx.log("debug", `checkpoint: criu ran ${r.dumpMs.toFixed(0)} ms`);
};

/** Changes berth made on the host (e.g. a sysctl): always on stderr, and in the log. */
function tell(ctx: Context, notes: string[]) {
  for (const n of notes) {
    ctx.log("warning", n);
    if (!ctx.global.debug) process.stderr.write(`berth-runtime: ${n}\n`);
  }
}

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

export const restore: Verb = async (ctx, argv) => {
  const { values, positionals } = parse(
    "restore",
    argv,
    {
      ...COMMON,
      bundle: { type: "string", short: "b" },
      detach: { type: "boolean", short: "d" },
      "pid-file": { type: "string" },
      "console-socket": { type: "string" },
      "no-pivot": { type: "boolean" },
      "no-subreaper": { type: "boolean" },
    },
    { min: 1, max: 1, usage: "[flags] <container-id>" },
  );
  const v = values as Values;
  const id = positionals[0]!;
  const { restore } = await import("../../runtime/restore.ts");
  const r = await restore(ctx.rt, id, {
    ...common(ctx, v, `${process.cwd()}/checkpoint`),
    bundle: (v.bundle as string | undefined) ?? process.cwd(),
    detach: Boolean(v.detach),
    pidFile: v["pid-file"] as string | undefined,
    consoleSocket: v["console-socket"] as string | undefined,
    noPivot: Boolean(v["no-pivot"]),
  });
  tell(ctx, r.notes);
  ctx.log("debug", `restore: criu ran ${r.restoreMs.toFixed(0)} ms`);
  if (!r.wait) return 0;
  // foreground: forward signals, wait, delete, exit with the container's status (as runc)
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(r.record.pid, sig);
    } catch {}
  };
  for (const s of FORWARDED) process.on(s, forward);
  const code = await r.wait();
  for (const s of FORWARDED) process.off(s, forward);
  await ctx.rt.delete(id, true);
  return code;
};
