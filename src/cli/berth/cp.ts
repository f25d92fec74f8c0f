/**
 * berth cp: files between a container and here as tar over
 * /containers/{id}/archive (GET out, PUT in, HEAD to stat), with docker's
 * naming rules: into an existing directory keeps the source's name, to a
 * new path renames it, `SRC/.` copies a directory's contents, `-` is a tar
 * stream on stdin/stdout. GNU tar does the local side: it refuses absolute
 * and ".." member names and defers symlinks that point out of the
 * destination, and extraction goes to a fresh directory beside the target
 * first, so a hostile archive cannot write outside of what was asked.
 */
import { existsSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { humanSize } from "../../api/docker/jsonmessage.ts";
import { DaemonError } from "./client.ts";
import type { Context } from "./context.ts";
import { CliError, verb } from "./flags.ts";
import { writeAll } from "./session.ts";

const enc = encodeURIComponent;

export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Go's os.ModeDir bit as docker's path stat carries it */
const MODE_DIR = 0x80000000;
export const isDirStat = (s: PathStat) => (s.mode & MODE_DIR) !== 0 || (s.mode >>> 0) >= MODE_DIR;

/** CONTAINER:PATH or a local path (a path starting with / or . is always local, as docker reads it). */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith("/") || arg.startsWith(".")) return { path: arg };
  const i = arg.indexOf(":");
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

function decodeStat(h: string | null): PathStat | undefined {
  if (!h) return undefined;
  try {
    return JSON.parse(Buffer.from(h, "base64").toString("utf8")) as PathStat;
  } catch {
    return undefined;
  }
}

/** sed-quote for the pattern of a GNU tar --transform expression with | as the delimiter */
const sedQuote = (s: string) => s.replace(/[\\|.*[\]^$&]/g, (c) => `\\${c}`);
/** sed-quote for its replacement: only \\, & and the delimiter are special there */
const sedQuoteReplacement = (s: string) => s.replace(/[\\|&]/g, (c) => `\\${c}`);

async function tarRun(args: string[], stdin?: AsyncIterable<Uint8Array>): Promise<{ stdout?: ReadableStream<Uint8Array>; done: Promise<void> }> {
  const proc = Bun.spawn(["tar", ...args], { stdin: stdin ? "pipe" : "ignore", stdout: stdin ? "ignore" : "pipe", stderr: "pipe" });
  const feed = stdin
    ? (async () => {
        try {
          for await (const c of stdin) {
            proc.stdin!.write(c);
            await proc.stdin!.flush();
          }
        } finally {
          await proc.stdin!.end();
        }
      })()
    : Promise.resolve();
  const done = (async () => {
    const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited, feed.catch(() => {})]);
    if (code !== 0) throw new CliError(`tar: ${err.trim().split("\n").slice(-2).join("; ")}`, 1);
  })();
  return { stdout: stdin ? undefined : (proc.stdout as ReadableStream<Uint8Array>), done };
}

const EXTRACT = ["--no-same-owner", "--no-same-permissions", "--warning=no-timestamp", "--warning=no-unknown-keyword"];

/** container -> local */
async function copyFrom(ctx: Context, container: string, src: string, dst: string, follow: boolean, quiet: boolean): Promise<void> {
  const res = await ctx.client.request("GET", `/containers/${enc(container)}/archive`, { query: { path: src } });
  const stat = decodeStat(res.headers.get("x-docker-container-path-stat"));
  const body = res.body! as unknown as AsyncIterable<Uint8Array>;
  if (dst === "-") {
    for await (const c of body) writeAll(1, c);
    return;
  }
  void follow; // the daemon resolved the link (docker cp -L follows it in the container too)
  const srcIsDir = stat ? isDirStat(stat) : false;
  const contentsOnly = /\/\.$/.test(src);
  const target = resolve(dst);
  const exists = existsSync(target);
  const targetIsDir = exists && statSync(target).isDirectory();
  if (!exists && dst.endsWith("/")) throw new CliError(`destination directory "${dst}" does not exist`, 1);
  if (exists && !targetIsDir && srcIsDir) throw new CliError(`cannot copy a directory to a file: ${dst}`, 1);
  if (!exists && !existsSync(dirname(target))) throw new CliError(`no such directory: ${dirname(target)}`, 1);
  // the archive's top entry is the source's base name
  const top = stat?.name ?? basename(src.replace(/\/\.?$/, "")) ?? "";
  const into = targetIsDir ? target : dirname(target);
  const staging = mkdtempSync(join(into, ".berth-cp-"));
  let copied = 0;
  try {
    const counted = (async function* () {
      for await (const c of body) {
        copied += c.length;
        yield c;
      }
    })();
    const t = await tarRun(["-x", "-f", "-", "-C", staging, ...EXTRACT], counted);
    await t.done;
    const from = join(staging, top);
    if (!existsSync(from) && !(existsSync(staging) && contentsOnly)) throw new CliError(`the archive from ${container}:${src} has no entry "${top}"`, 1);
    if (targetIsDir && contentsOnly) {
      for (const e of new Bun.Glob("*").scanSync({ cwd: from, dot: true, onlyFiles: false })) moveInto(join(from, e), join(target, e));
    } else if (targetIsDir) moveInto(from, join(target, top));
    else moveInto(from, target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (!quiet) ctx.err(`Successfully copied ${humanSize(copied, 3)} to ${dst}\n`);
}

/** rename, replacing a file or merging into an existing directory */
function moveInto(from: string, to: string): void {
  if (existsSync(to) && statSync(to).isDirectory() && statSync(from).isDirectory()) {
    for (const e of new Bun.Glob("*").scanSync({ cwd: from, dot: true, onlyFiles: false })) moveInto(join(from, e), join(to, e));
    return;
  }
  if (existsSync(to) && statSync(to).isDirectory()) rmSync(to, { recursive: true });
  renameSync(from, to);
}

/** local -> container */
async function copyTo(ctx: Context, src: string, container: string, dst: string, follow: boolean, archive: boolean, quiet: boolean): Promise<void> {
  const query = (path: string) => ({ path, noOverwriteDirNonDir: "true", copyUIDGID: archive ? "true" : undefined });
  if (src === "-") {
    await ctx.client.request("PUT", `/containers/${enc(container)}/archive`, { query: query(dst), body: Bun.stdin.stream(), headers: { "content-type": "application/x-tar" } });
    return;
  }
  const local = resolve(src);
  if (!existsSync(local)) throw new CliError(`could not find the file ${src} in the local filesystem`, 1);
  const srcIsDir = statSync(local).isDirectory();
  const contentsOnly = /\/\.$/.test(src);
  let dstStat: PathStat | undefined;
  try {
    const h = await ctx.client.request("HEAD", `/containers/${enc(container)}/archive`, { query: { path: dst } });
    dstStat = decodeStat(h.headers.get("x-docker-container-path-stat"));
  } catch (e) {
    if (!(e instanceof DaemonError) || e.status !== 404) throw e;
  }
  if (!dstStat && dst.endsWith("/")) throw new CliError(`destination directory "${container}:${dst}" does not exist`, 1);
  const dstIsDir = dstStat ? isDirStat(dstStat) : false;
  if (dstStat && !dstIsDir && srcIsDir) throw new CliError(`cannot copy a directory to a file: ${container}:${dst}`, 1);
  const name = basename(local);
  let args: string[];
  let putPath: string;
  if (dstIsDir) {
    putPath = dst;
    args = contentsOnly ? ["-C", local, "."] : ["-C", dirname(local), name];
  } else {
    // a new name (or a file replaced): the entries take the destination's base name
    const newName = basename(dst);
    putPath = dirname(dst) || "/";
    args = contentsOnly
      ? ["-C", local, `--transform=s|^\\.|${sedQuoteReplacement(newName)}|S`, "."]
      : ["-C", dirname(local), `--transform=s|^${sedQuote(name)}|${sedQuoteReplacement(newName)}|S`, name];
  }
  const t = await tarRun(["-c", "-f", "-", "--numeric-owner", "--format=posix", ...(follow ? ["-h"] : []), ...args]);
  let sent = 0;
  const counted = new TransformStream<Uint8Array, Uint8Array>({
    transform(c, ctl) {
      sent += c.length;
      ctl.enqueue(c);
    },
  });
  const put = ctx.client.request("PUT", `/containers/${enc(container)}/archive`, { query: query(putPath), body: t.stdout!.pipeThrough(counted), headers: { "content-type": "application/x-tar" } });
  await Promise.all([put, t.done]);
  if (!quiet) ctx.err(`Successfully copied ${humanSize(sent, 3)} to ${container}:${dst}\n`);
}

export const cp = verb(
  {
    name: "cp",
    usage: "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    summary: "Copy files/folders between a container and the local filesystem",
    flags: {
      archive: { type: "bool", short: "a", help: "Archive mode (copy all uid/gid information)" },
      "follow-link": { type: "bool", short: "L", help: "Always follow symbol link in SRC_PATH" },
      quiet: { type: "bool", short: "q", help: "Suppress progress output during copy" },
    },
    min: 2,
    max: 2,
  },
  async (ctx, { values: v, positionals }) => {
    const src = splitCpArg(positionals[0]!);
    const dst = splitCpArg(positionals[1]!);
    if (src.container && dst.container) throw new CliError("copying between containers is not supported", 1);
    if (!src.container && !dst.container) throw new CliError("must specify at least one container source", 1);
    if ((src.container && src.path === "") || (dst.container && dst.path === "")) throw new CliError("filepath cannot be empty", 1);
    const quiet = v.quiet === true || !process.stderr.isTTY;
    if (src.container) await copyFrom(ctx, src.container, src.path, dst.path, v["follow-link"] === true, quiet);
    else await copyTo(ctx, src.path, dst.container!, dst.path, v["follow-link"] === true, v.archive === true, quiet);
    return 0;
  },
);
