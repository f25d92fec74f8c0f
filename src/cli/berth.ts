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
import type { Context, Verb } from "./berth/context.ts";

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

const VERBS: Record<string, () => Promise<Verb>> = {
  images: IMAGE_VERBS.ls!,
  inspect: IMAGE_VERBS.inspect!,
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
  version   client and daemon versions
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
  let load = VERBS[name];
  if (name === "image") {
    const sub = rest[0];
    load = sub ? IMAGE_VERBS[sub] : undefined;
    name = `image ${sub ?? ""}`.trim();
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
    if (!(e instanceof BerthError)) throw e;
    process.stderr.write(`berth: ${e.message}\n`);
    return exitStatus(e.code);
  }
}

process.exitCode = await main(process.argv.slice(2));
