/** berth load, save and import: archives streamed to and from the daemon. */
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { invalidArgument } from "../../errors.ts";
import { parseReference, familiarName } from "../../engine/images/reference.ts";
import { parse, type Verb } from "./context.ts";
import { display } from "./progress.ts";

function input(file: string | undefined, stdinIsTTY: boolean, verb: string): RequestInit["body"] {
  if (file && file !== "-") return Bun.file(file);
  if (stdinIsTTY) throw invalidArgument(`${verb}: requested ${verb} from stdin, but stdin is a terminal (use -i FILE or a pipe)`);
  return Bun.stdin.stream();
}

export const load: Verb = async (ctx, argv) => {
  const { values: v } = parse("load", argv, { input: { type: "string", short: "i" }, quiet: { type: "boolean", short: "q" } }, { min: 0, max: 0, usage: "[-i FILE] [-q]" });
  const res = await ctx.client.request("POST", "/images/load", {
    query: { quiet: v.quiet || !ctx.out.isTTY ? "1" : "0" },
    body: input(v.input, ctx.stdinIsTTY, "load"),
    headers: { "content-type": "application/x-tar" },
  });
  await display(res.body!, ctx.out);
  return 0;
};

export const save: Verb = async (ctx, argv) => {
  const { values: v, positionals } = parse("save", argv, { output: { type: "string", short: "o" } }, { min: 1, max: Infinity, usage: "[-o FILE] IMAGE [IMAGE...]" });
  if (!v.output && ctx.out.isTTY) throw invalidArgument("save: cowardly refusing to save to a terminal. Use the -o flag or redirect");
  const res = await ctx.client.request("GET", "/images/get", { query: { names: positionals } });
  if (!v.output) {
    for await (const c of res.body! as unknown as AsyncIterable<Uint8Array>) ctx.out.write(c as never);
    return 0;
  }
  // written next to the target and renamed: a failed save leaves no truncated archive
  const tmp = join(dirname(v.output), `.${basename(v.output)}.tmp-${process.pid}`);
  const fd = openSync(tmp, "w", 0o644);
  try {
    for await (const c of res.body! as unknown as AsyncIterable<Uint8Array>) {
      for (let off = 0; off < c.length; ) off += writeSync(fd, c, off);
    }
    closeSync(fd);
    renameSync(tmp, v.output);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {}
    rmSync(tmp, { force: true });
    throw e;
  }
  return 0;
};

export const importImage: Verb = async (ctx, argv) => {
  const { values: v, positionals } = parse("import", argv, {
    change: { type: "string", short: "c", multiple: true },
    message: { type: "string", short: "m" },
    platform: { type: "string" },
  }, { min: 1, max: 2, usage: "[OPTIONS] file|- [REPOSITORY[:TAG]]" });
  const [src, target] = positionals as [string, string | undefined];
  if (/^[a-z]+:\/\//i.test(src)) throw invalidArgument(`import: ${src}: importing from a URL is not supported; download it and give the file`);
  let repo: string | undefined;
  let tag: string | undefined;
  if (target) {
    const r = parseReference(target, { defaultTag: false });
    if (r.digest) throw invalidArgument(`import: ${target}: cannot import to a digest reference`);
    repo = familiarName(r.name);
    tag = r.tag;
  }
  const res = await ctx.client.request("POST", "/images/create", {
    query: { fromSrc: "-", repo, tag, message: v.message, changes: v.change, platform: v.platform },
    body: input(src, ctx.stdinIsTTY, "import"),
    headers: { "content-type": "application/x-tar" },
  });
  await display(res.body!, ctx.out);
  return 0;
};
