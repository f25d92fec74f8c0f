/**
 * berth run, create, start and attach, in docker's order: create (pulling
 * the image when missing), attach, wait (next-exit, or removed with --rm)
 * before start so no output and no exit is missed, start, resize the tty,
 * pump the streams, and exit with the container's status. A daemon refusal
 * is 125; a command that cannot run is 126 (not executable) or 127 (not found).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { familiarName, parseReference } from "../../engine/images/reference.ts";
import { DaemonError, registryAuthHeader } from "./client.ts";
import type { Context } from "./context.ts";
import { CliError, report, verb, type VerbSpec } from "./flags.ts";
import { hijack } from "./hijack.ts";
import { display } from "./progress.ts";
import { CREATE_SPEC, RUN_SPEC, runOptions, type RunOptions } from "./run-flags.ts";
import { proxySignals, runSession, terminalSize } from "./session.ts";
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from "./detach-keys.ts";

const enc = encodeURIComponent;

/** pull with the progress on stderr, as docker run shows it */
async function pullImage(ctx: Context, image: string, platform: string | undefined, quiet: boolean): Promise<void> {
  const ref = parseReference(image);
  const res = await ctx.client.request("POST", "/images/create", {
    query: { fromImage: familiarName(ref.name), tag: ref.digest ?? ref.tag, platform },
    headers: { "X-Registry-Auth": registryAuthHeader(ref.domain, ctx.env) },
  });
  const err = { write: (s: string) => (quiet ? undefined : ctx.err(s)), isTTY: false };
  await display(res.body!, err);
}

/** Create the container (pulling per --pull); prints the daemon's warnings; returns its id. */
export async function createContainer(ctx: Context, o: RunOptions): Promise<string> {
  const image = o.body.Image!;
  if (o.pull === "always") await pullImage(ctx, image, o.platform, o.quiet);
  const create = () =>
    ctx.client.json<{ Id: string; Warnings?: string[] | null }>("POST", "/containers/create", {
      query: { name: o.name, platform: o.platform },
      body: JSON.stringify(o.body),
      headers: { "content-type": "application/json" },
    });
  let res;
  try {
    res = await create();
  } catch (e) {
    if (!(e instanceof DaemonError) || e.status !== 404 || !/no such image/i.test(e.message) || o.pull !== "missing") throw e;
    ctx.err(`Unable to find image '${image}' locally\n`);
    await pullImage(ctx, image, o.platform, o.quiet);
    res = await create();
  }
  for (const w of res.Warnings ?? []) ctx.err(`WARNING: ${w}\n`);
  if (o.cidfile) writeFileSync(o.cidfile, res.Id, { flag: "wx" });
  return res.Id;
}

/** docker's reading of a start error: 127 not found, 126 cannot execute, else 125. */
export function startErrorStatus(message: string): number {
  if (/executable file not found|no such file or directory|system error: not found/i.test(message)) return 127;
  if (/permission denied|exec format error|is a directory/i.test(message)) return 126;
  return 125;
}

export interface AttachPlan {
  id: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  sigProxy: boolean;
  /** ends the session with a tty, leaving the container running */
  detachKeys: Uint8Array;
  /** wait condition to arm before starting */
  condition: "next-exit" | "removed";
}

/**
 * Attach, arm the wait, start, pump; the container's exit status.
 * `start` false: attach to a running container (docker attach).
 */
export async function attachAndRun(ctx: Context, plan: AttachPlan, start: boolean, startErrorStatusOf: (message: string) => number = startErrorStatus): Promise<number> {
  const id = enc(plan.id);
  const conn = await hijack(ctx.client, `/containers/${id}/attach`, {
    stream: "1",
    stdin: plan.stdin ? "1" : "0",
    stdout: plan.stdout ? "1" : "0",
    stderr: plan.stderr ? "1" : "0",
  });
  let waited: Promise<{ StatusCode: number; Error?: { Message?: string } | null }>;
  // a container that did not start will not exit either: its wait is then abandoned
  const abandon = new AbortController();
  try {
    const w = await ctx.client.request("POST", `/containers/${id}/wait`, { query: { condition: plan.condition }, signal: abandon.signal });
    waited = w.json() as never;
    waited.catch(() => {});
    if (start) await ctx.client.request("POST", `/containers/${id}/start`);
  } catch (e) {
    abandon.abort();
    conn.socket.destroy();
    if (start && e instanceof DaemonError) {
      ctx.err(`berth: Error response from daemon: ${e.message}\n`);
      throw new CliError("", startErrorStatusOf(e.message));
    }
    throw e;
  }
  const unproxy = plan.sigProxy && !plan.tty ? proxySignals(ctx.client, plan.id) : undefined;
  try {
    const { detached } = await runSession(conn, {
      tty: plan.tty,
      stdin: plan.stdin,
      detachKeys: plan.detachKeys,
      resize: plan.tty ? (h, w) => ctx.client.request("POST", `/containers/${id}/resize`, { query: { h: String(h), w: String(w) } }).then(() => {}) : undefined,
    });
    if (detached) {
      // the container goes on; so does its wait, which nobody reads any more
      abandon.abort();
      return 0;
    }
  } finally {
    unproxy?.();
  }
  const r = await waited;
  if (r.Error?.Message) ctx.err(`berth: ${r.Error.Message}\n`);
  return r.StatusCode;
}

function checkTty(ctx: Context, o: RunOptions): void {
  if (o.body.Tty && o.body.AttachStdin && !ctx.stdinIsTTY) throw new CliError("the input device is not a TTY", 1);
}

async function runBody(ctx: Context, o: RunOptions): Promise<number> {
  checkTty(ctx, o);
  const id = await createContainer(ctx, o);
  if (o.detach) {
    try {
      await ctx.client.request("POST", `/containers/${enc(id)}/start`);
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      ctx.err(`berth: Error response from daemon: ${e.message}\n`);
      return startErrorStatus(e.message);
    }
    ctx.out.write(id + "\n");
    return 0;
  }
  const b = o.body;
  return attachAndRun(
    ctx,
    {
      id,
      tty: !!b.Tty,
      stdin: !!b.AttachStdin,
      stdout: !!b.AttachStdout,
      stderr: !!b.AttachStderr,
      sigProxy: o.sigProxy,
      detachKeys: parseDetachKeys(o.detachKeys),
      condition: b.HostConfig?.AutoRemove ? "removed" : "next-exit",
    },
    true,
  );
}

function fx(ctx: Context) {
  return { env: ctx.env, readFile: (p: string) => readFileSync(p, "utf8"), consoleSize: terminalSize() };
}

/** run/create flag errors are usage errors (125) like the rest, found after the generic parse */
function withRunFlags(spec: VerbSpec, run: boolean, body: (ctx: Context, o: RunOptions) => Promise<number>) {
  return verb(
    spec,
    async (ctx, p) => {
      let o: RunOptions;
      try {
        o = runOptions(p, run, fx(ctx));
      } catch (e) {
        return report(ctx, spec, e, 125);
      }
      return body(ctx, o);
    },
    125,
  );
}

export const run = withRunFlags(RUN_SPEC, true, runBody);

export const create = withRunFlags(CREATE_SPEC, false, async (ctx, o) => {
  ctx.out.write((await createContainer(ctx, o)) + "\n");
  return 0;
});

interface InspectLite {
  Id: string;
  Name: string;
  Config: { Tty?: boolean; OpenStdin?: boolean };
  State: { Running: boolean; ExitCode: number };
}

const inspectLite = (ctx: Context, ref: string) => ctx.client.json<InspectLite>("GET", `/containers/${enc(ref)}/json`);

export const start = verb(
  {
    name: "start",
    usage: "[OPTIONS] CONTAINER [CONTAINER...]",
    summary: "Start one or more stopped containers",
    flags: {
      attach: { type: "bool", short: "a", help: "Attach STDOUT/STDERR and forward signals" },
      interactive: { type: "bool", short: "i", help: "Attach container's STDIN" },
      "detach-keys": { type: "string", help: "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)" },
    },
    min: 1,
    max: Infinity,
  },
  async (ctx, p) => {
    const attach = p.values.attach === true;
    const interactive = p.values.interactive === true;
    if (attach || interactive) {
      if (p.positionals.length > 1) throw new CliError("you cannot start and attach multiple containers at once", 1);
      const c = await inspectLite(ctx, p.positionals[0]!);
      const stdin = interactive && !!c.Config.OpenStdin;
      if (c.Config.Tty && stdin && !ctx.stdinIsTTY) throw new CliError("the input device is not a TTY", 1);
      // docker start -a: a start error is a plain error (status 1), not run's 125/126/127
      const detachKeys = parseDetachKeys((p.values["detach-keys"] as string | undefined) ?? DEFAULT_DETACH_KEYS);
      return attachAndRun(ctx, { id: c.Id, tty: !!c.Config.Tty, stdin, stdout: true, stderr: true, sigProxy: true, detachKeys, condition: "next-exit" }, true, () => 1);
    }
    let status = 0;
    for (const n of p.positionals) {
      try {
        await ctx.client.request("POST", `/containers/${enc(n)}/start`);
        ctx.out.write(n + "\n");
      } catch (e) {
        if (!(e instanceof DaemonError)) throw e;
        ctx.err(`berth: Error response from daemon: ${e.message}\n`);
        status = 1;
      }
    }
    if (status) ctx.err("berth: Error: failed to start containers: " + p.positionals.join(", ") + "\n");
    return status;
  },
);

export const attach = verb(
  {
    name: "attach",
    usage: "[OPTIONS] CONTAINER",
    summary: "Attach local standard input, output, and error streams to a running container",
    flags: {
      "no-stdin": { type: "bool", help: "Do not attach STDIN" },
      "sig-proxy": { type: "bool", help: "Proxy all received signals to the process (default true)" },
      "detach-keys": { type: "string", help: "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)" },
    },
    min: 1,
    max: 1,
  },
  async (ctx, p) => {
    const detachKeys = parseDetachKeys((p.values["detach-keys"] as string | undefined) ?? DEFAULT_DETACH_KEYS);
    const c = await inspectLite(ctx, p.positionals[0]!);
    if (!c.State.Running) throw new CliError("You cannot attach to a stopped container, start it first", 1);
    const stdin = p.values["no-stdin"] !== true && !!c.Config.OpenStdin;
    if (c.Config.Tty && stdin && !ctx.stdinIsTTY) throw new CliError("the input device is not a TTY", 1);
    const sigProxy = p.values["sig-proxy"] !== false;
    return attachAndRun(ctx, { id: c.Id, tty: !!c.Config.Tty, stdin, stdout: true, stderr: true, sigProxy, detachKeys, condition: "next-exit" }, false);
  },
);
