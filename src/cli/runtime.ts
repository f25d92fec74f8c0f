/**
 * berth-runtime: runc's command line over the runtime library.
 *   berth-runtime [global flags] <command> [flags] [args]
 */
import { BerthError, exitStatus, invalidArgument } from "../errors.ts";
import type { Context as ContextT, GlobalOptions, Verb } from "./runtime/context.ts";
import { OCI_VERSION, VERSION } from "../version.ts";

const VERBS: Record<string, () => Promise<Verb>> = {
  create: async () => (await import("./runtime/create.ts")).create,
  run: async () => (await import("./runtime/run.ts")).run,
  start: async () => (await import("./runtime/simple.ts")).start,
  state: async () => (await import("./runtime/simple.ts")).state,
  kill: async () => (await import("./runtime/simple.ts")).kill,
  delete: async () => (await import("./runtime/simple.ts")).del,
  list: async () => (await import("./runtime/list.ts")).list,
  spec: async () => (await import("./runtime/spec.ts")).spec,
  exec: async () => (await import("./runtime/exec.ts")).exec,
  ps: async () => (await import("./runtime/ps.ts")).ps,
  pause: async () => (await import("./runtime/pause.ts")).pause,
  resume: async () => (await import("./runtime/pause.ts")).resume,
  update: async () => (await import("./runtime/update.ts")).update,
  events: async () => (await import("./runtime/events.ts")).events,
  features: async () => (await import("./runtime/features.ts")).features,
  checkpoint: async () => (await import("./runtime/checkpoint.ts")).checkpoint,
  restore: async () => (await import("./runtime/checkpoint.ts")).restore,
};

const USAGE = `usage: berth-runtime [--root DIR] [--log FILE] [--criu PATH] [--log-format text|json] [--debug] <command> [flags] [args]

commands:
  spec      write a default config.json into the bundle
  create    create a container from a bundle
  start     run the user process of a created container
  run       create and start a container (foreground unless --detach)
  state     print the state of a container as JSON
  kill      send a signal to a container's init (or all its processes with --all)
  delete    delete a stopped container (--force: any container)
  list      list containers (--format table|json, -q)
  exec      run a new process in a running container
  ps        list the processes of a container (--format table|json; ps(1) options after the id)
  pause     freeze every process of a container
  resume    thaw a paused container
  update    change a running container's resource limits (--resources FILE, or --memory, --cpu-quota, ...)
  events    stream stats and OOM events as JSON lines (--stats: once; --interval 5s)
  features  print the runtime-spec features document
  checkpoint  checkpoint a running container with CRIU (--image-path DIR, --leave-running, ...)
  restore   restore a container from a checkpoint (--image-path DIR --bundle DIR, --detach, ...)
`;

function parseGlobal(argv: string[]): { global: GlobalOptions; rest: string[] } {
  const global: GlobalOptions = { logFormat: "text", debug: false };
  let i = 0;
  const value = (name: string, inline?: string) => {
    if (inline !== undefined) return inline;
    const v = argv[++i];
    if (v === undefined) throw invalidArgument(`flag needs an argument: --${name}`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a === "-") break;
    const [flag, inline] = a.replace(/^--?/, "").split(/=(.*)/s, 2) as [string, string | undefined];
    switch (flag) {
      case "root":
        global.root = value(flag, inline);
        break;
      case "log":
        global.log = value(flag, inline);
        break;
      case "log-format": {
        const f = value(flag, inline);
        if (f !== "text" && f !== "json") throw invalidArgument(`--log-format: unknown format "${f}" (text or json)`);
        global.logFormat = f;
        break;
      }
      case "debug":
        global.debug = true;
        break;
      case "systemd-cgroup":
        throw invalidArgument("--systemd-cgroup: the systemd cgroup driver is not supported");
      case "rootless":
        value(flag, inline);
        break;
      case "criu":
        global.criu = value(flag, inline);
        break;
      case "version":
      case "v":
        process.stdout.write(`berth-runtime version ${VERSION}\nspec: ${OCI_VERSION}\n`);
        process.exit(0);
      case "help":
      case "h":
        process.stdout.write(USAGE);
        process.exit(0);
      default:
        throw invalidArgument(`flag provided but not defined: -${flag}`);
    }
  }
  return { global, rest: argv.slice(i) };
}

async function main(argv: string[]): Promise<number> {
  let ctx: ContextT | undefined;
  try {
    const { global, rest } = parseGlobal(argv);
    const { Context } = await import("./runtime/context.ts");
    ctx = new Context(global);
    const [cmd, ...args] = rest;
    if (!cmd || cmd === "help") {
      process.stdout.write(USAGE);
      return cmd ? 0 : 2;
    }
    const load = VERBS[cmd];
    if (!load) throw invalidArgument(`unknown command "${cmd}" (see berth-runtime --help)`);
    // `<verb> --help` succeeds, as with runc: engines probe support that way
    // (podman runs `checkpoint --help` before it offers checkpoint/restore).
    const help = args.findIndex((a) => a === "--help" || a === "-h");
    if (help >= 0 && !args.slice(0, help).includes("--")) {
      const line = USAGE.split("\n").find((l) => l.trimStart().startsWith(cmd + " "));
      process.stdout.write(`usage: berth-runtime ${cmd} [flags] [args]\n${line ?? ""}\n`);
      return 0;
    }
    const verb = await load();
    return (await verb(ctx, args)) ?? 0;
  } catch (e) {
    const err = e instanceof BerthError ? e : new BerthError("Internal", e instanceof Error ? e.message : String(e), { cause: e });
    if (ctx) ctx.log("error", err.message);
    else process.stderr.write(`berth-runtime: ${err.message}\n`);
    if (process.env.BERTH_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return exitStatus(err.code);
  }
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
