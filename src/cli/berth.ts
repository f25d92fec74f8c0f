/**
 * berth: the engine's command line, a thin client of berthd's API (the
 * Docker Engine API on its socket) with docker's verbs and flags.
 *
 *   berth [-H unix:///PATH] COMMAND [OPTIONS] [ARGS]
 *
 * The socket: -H, else $BERTH_HOST, else $DOCKER_HOST, else unix:///run/berth/berth.sock.
 */
import { BerthError, exitStatus, invalidArgument } from "../errors.ts";
import { VERSION } from "../version.ts";
import { ApiClient, resolveHost } from "./berth/client.ts";
import { HelpRequest, type Context, type Verb } from "./berth/context.ts";

const IMAGE_VERBS: Record<string, () => Promise<Verb>> = {
  ls: async () => (await import("./berth/images.ts")).images,
  list: async () => (await import("./berth/images.ts")).images,
  inspect: async () => (await import("./berth/images.ts")).inspect,
  history: async () => (await import("./berth/images.ts")).history,
  tag: async () => (await import("./berth/images.ts")).tag,
  rm: async () => (await import("./berth/images.ts")).rmi,
  prune: async () => (await import("./berth/images.ts")).prune,
  pull: async () => (await import("./berth/transfer.ts")).pull,
  push: async () => (await import("./berth/transfer.ts")).push,
  load: async () => (await import("./berth/archive.ts")).load,
  save: async () => (await import("./berth/archive.ts")).save,
  import: async () => (await import("./berth/archive.ts")).importImage,
};

const c = async () => await import("./berth/containers.ts");
const r = async () => await import("./berth/run.ts");

const CONTAINER_VERBS: Record<string, () => Promise<Verb>> = {
  run: async () => (await r()).run,
  create: async () => (await r()).create,
  start: async () => (await r()).start,
  attach: async () => (await r()).attach,
  exec: async () => (await import("./berth/exec.ts")).exec,
  logs: async () => (await import("./berth/logs.ts")).logs,
  cp: async () => (await import("./berth/cp.ts")).cp,
  stats: async () => (await import("./berth/stats.ts")).stats,
  ls: async () => (await c()).ps,
  list: async () => (await c()).ps,
  ps: async () => (await c()).ps,
  stop: async () => (await c()).stop,
  restart: async () => (await c()).restart,
  kill: async () => (await c()).kill,
  rm: async () => (await c()).rm,
  remove: async () => (await c()).rm,
  wait: async () => (await c()).wait,
  pause: async () => (await c()).pause,
  unpause: async () => (await c()).unpause,
  rename: async () => (await c()).rename,
  update: async () => (await c()).update,
  port: async () => (await c()).port,
  top: async () => (await c()).top,
  export: async () => (await c()).exportContainer,
  inspect: async () => (await c()).inspect,
  prune: async () => (await c()).prune,
};

const VOLUME_VERBS = async () => (await import("./berth/volumes.ts")).VOLUME_VERBS;
const NETWORK_VERBS = async () => (await import("./berth/networks.ts")).NETWORK_VERBS;

const VERBS: Record<string, () => Promise<Verb>> = {
  ...Object.fromEntries(["run", "create", "start", "attach", "exec", "logs", "cp", "stats", "ps", "stop", "restart", "kill", "rm", "wait", "pause", "unpause", "rename", "update", "port", "top", "export"].map((n) => [n, CONTAINER_VERBS[n]!])),
  images: IMAGE_VERBS.ls!,
  inspect: CONTAINER_VERBS.inspect!,
  history: IMAGE_VERBS.history!,
  tag: IMAGE_VERBS.tag!,
  rmi: IMAGE_VERBS.rm!,
  pull: IMAGE_VERBS.pull!,
  push: IMAGE_VERBS.push!,
  load: IMAGE_VERBS.load!,
  save: IMAGE_VERBS.save!,
  import: IMAGE_VERBS.import!,
  version: async () => (await import("./berth/system.ts")).version,
  info: async () => (await import("./berth/system.ts")).info,
};

const lazy = (t: Record<string, Verb>): Record<string, () => Promise<Verb>> => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, async () => v]));

const GROUPS: Record<string, () => Promise<Record<string, () => Promise<Verb>>>> = {
  image: async () => IMAGE_VERBS,
  container: async () => CONTAINER_VERBS,
  volume: async () => lazy(await VOLUME_VERBS()),
  network: async () => lazy(await NETWORK_VERBS()),
};

const USAGE = `usage: berth [-H unix:///PATH] COMMAND [OPTIONS] [ARGS]

commands:
  images    list images (-a, --digests, -f/--filter, --format, --no-trunc, -q)
  pull      pull an image from a registry (--platform, -q)
  push      push an image to a registry (-a/--all-tags, -q)
  load      load images from a tar archive (-i FILE, -q)
  save      save images to a tar archive (-o FILE)
  import    make an image from a rootfs tarball (-c/--change, -m/--message, --platform)
  tag       give an image another name
  rmi       remove images (-f, --no-prune)
  inspect   show an image's details (-f/--format)
  history   show an image's history (--no-trunc, -q, --format, -H)
  image     image commands: ls, pull, push, load, save, import, tag, rm, inspect, history, prune

  run       create and run a new container (berth run --help for the flags)
  create    create a new container
  start     start containers (-a, -i)
  stop      stop containers (-t, -s)
  restart   restart containers (-t, -s)
  kill      kill containers (-s)
  rm        remove containers (-f, -v)
  ps        list containers (-a, -q, -n, -l, -s, --filter, --format, --no-trunc)
  logs      a container's output (-f, -t, --since, --until, -n/--tail)
  exec      run a command in a running container (-d, -i, -t, -e, -u, -w, --privileged)
  attach    attach to a running container (--no-stdin, --sig-proxy)
  wait      wait for containers to stop and print their exit codes
  inspect   details of containers, images, volumes or networks (-f/--format, -s, --type)
  top       a container's processes
  stats     resource usage (--no-stream, --format, -a)
  pause     pause containers
  unpause   unpause containers
  rename    rename a container
  update    change a container's resources or restart policy
  cp        copy files between a container and here
  export    a container's filesystem as a tar archive (-o)
  port      a container's published ports
  container container commands: the verbs above and prune
  volume    volume commands: create, ls, inspect, rm, prune
  network   network commands: create, ls, inspect, rm, connect, disconnect, prune
  version   client and daemon versions
  help      this list, or 'berth help COMMAND' for a command's flags
  info      daemon-wide information

The socket: -H, else $BERTH_HOST, else $DOCKER_HOST, else unix:///run/berth/berth.sock.
Registry logins are read from docker's config file ($DOCKER_CONFIG/config.json).
`;

async function main(argv: string[]): Promise<number> {
  let host: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-H" || a === "--host") host = argv[++i];
    else if (a.startsWith("--host=")) host = a.slice(7);
    else if (a === "-h" || a === "--help") {
      process.stdout.write(USAGE);
      return 0;
    } else if (a === "-v" || a === "--version") {
      process.stdout.write(`berth version ${VERSION}\n`);
      return 0;
    } else break;
  }
  let name = argv[i];
  let rest = argv.slice(i + 1);
  if (!name) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (name === "help") {
    // `berth help [COMMAND...]`: the command's --help
    if (!rest.length) {
      process.stdout.write(USAGE);
      return 0;
    }
    return await main([...argv.slice(0, i), ...rest, "--help"]);
  }
  let load = VERBS[name];
  const group = GROUPS[name];
  if (group) {
    const sub = rest[0];
    const table = await group();
    if (sub === undefined || sub === "--help" || sub === "-h") {
      // as docker: the group's commands, on stdout, status 0
      process.stdout.write(`Usage:  berth ${name} COMMAND\n\nCommands:\n${Object.keys(table).map((k) => `  ${k}\n`).join("")}\nRun 'berth ${name} COMMAND --help' for more information on a command.\n`);
      return 0;
    }
    load = table[sub];
    name = `${name} ${sub}`;
    rest = rest.slice(1);
  }
  try {
    if (!load) throw invalidArgument(`unknown command "${name}" (see berth --help)`);
    const verb = await load();
    const ctx: Context = {
      client: new ApiClient(resolveHost(host)),
      out: { write: (s) => void process.stdout.write(s), isTTY: !!process.stdout.isTTY, columns: process.stdout.columns },
      err: (s) => void process.stderr.write(s),
      env: process.env,
      stdinIsTTY: !!process.stdin.isTTY,
    };
    return await verb(ctx, rest);
  } catch (e) {
    if (e instanceof HelpRequest) {
      process.stdout.write(e.usage);
      return 0;
    }
    if (!(e instanceof BerthError)) throw e;
    process.stderr.write(`berth: ${e.message}\n`);
    return exitStatus(e.code);
  }
}

process.exitCode = await main(process.argv.slice(2));
