/** berth pull and push: the daemon's progress stream shown as the docker CLI shows it. */
import { invalidArgument } from "../../errors.ts";
import { familiarString, formatReference, parseReference } from "../../engine/images/reference.ts";
import { registryAuthHeader } from "./client.ts";
import { parse, type Verb } from "./context.ts";
import { display } from "./progress.ts";

const quietOut = { write: () => {}, isTTY: false };

export const pull: Verb = async (ctx, argv) => {
  const { values: v, positionals } = parse("pull", argv, {
    "all-tags": { type: "boolean", short: "a" },
    platform: { type: "string" },
    quiet: { type: "boolean", short: "q" },
  }, { min: 1, max: 1, usage: "[OPTIONS] NAME[:TAG|@DIGEST]" });
  if (v["all-tags"]) throw invalidArgument("pull: --all-tags is not supported");
  const ref = parseReference(positionals[0]!);
  const res = await ctx.client.request("POST", "/images/create", {
    query: { fromImage: ref.name, tag: ref.digest ?? ref.tag, platform: v.platform },
    headers: { "X-Registry-Auth": registryAuthHeader(ref.domain, ctx.env) },
  });
  await display(res.body!, v.quiet ? quietOut : ctx.out);
  ctx.out.write(formatReference(ref) + "\n");
  return 0;
};

export const push: Verb = async (ctx, argv) => {
  const { values: v, positionals } = parse("push", argv, { "all-tags": { type: "boolean", short: "a" }, quiet: { type: "boolean", short: "q" } }, { min: 1, max: 1, usage: "[OPTIONS] NAME[:TAG]" });
  const ref = parseReference(positionals[0]!, { defaultTag: false });
  if (ref.digest) throw invalidArgument(`push: ${positionals[0]}: cannot push a digest reference`);
  if (v["all-tags"] && ref.tag !== undefined) throw invalidArgument("push: --all-tags: give a name without a tag");
  const tag = v["all-tags"] ? "" : (ref.tag ?? "latest");
  if (!v["all-tags"] && ref.tag === undefined) ctx.out.write("Using default tag: latest\n");
  const res = await ctx.client.request("POST", `/images/${encodeURIComponent(familiarString(ref.name))}/push`, {
    query: { tag },
    headers: { "X-Registry-Auth": registryAuthHeader(ref.domain, ctx.env) },
  });
  await display(res.body!, v.quiet ? quietOut : ctx.out);
  if (v.quiet) ctx.out.write(familiarString(formatReference({ ...ref, tag: tag || undefined })) + "\n");
  return 0;
};
