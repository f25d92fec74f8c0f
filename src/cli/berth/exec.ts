/**
 * berth exec: POST /containers/{id}/exec, then /exec/{id}/start (hijacked
 * unless -d), the tty sized through /exec/{id}/resize, and the exit status
 * from /exec/{id}/json.
 */
import { readFileSync } from "node:fs";
import { CliError, verb } from "./flags.ts";
import { hijack } from "./hijack.ts";
import { runOptions, type FlagEnv } from "./run-flags.ts";
import { runSession, terminalSize } from "./session.ts";
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from "./detach-keys.ts";

const enc = encodeURIComponent;

export const exec = verb(
  {
    name: "exec",
    usage: "[OPTIONS] CONTAINER COMMAND [ARG...]",
    summary: "Execute a command in a running container",
    flags: {
      detach: { type: "bool", short: "d", help: "Detached mode: run command in the background" },
      "detach-keys": { type: "string", help: "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)" },
      env: { type: "list", short: "e", help: "Set environment variables" },
      "env-file": { type: "list", help: "Read in a file of environment variables" },
      interactive: { type: "bool", short: "i", help: "Keep STDIN open even if not attached" },
      privileged: { type: "bool", help: "Give extended privileges to the command" },
      tty: { type: "bool", short: "t", help: "Allocate a pseudo-TTY" },
      user: { type: "string", short: "u", help: "Username or UID (format: \"<name|uid>[:<group|gid>]\")" },
      workdir: { type: "string", short: "w", help: "Working directory inside the container" },
    },
    min: 2,
    max: Infinity,
    stopAtPositional: true,
  },
  async (ctx, p) => {
    const v = p.values;
    const detachKeys = parseDetachKeys((v["detach-keys"] as string | undefined) ?? DEFAULT_DETACH_KEYS);
    const [container, ...cmd] = p.positionals as [string, ...string[]];
    // -e/--env-file mean what they mean for run: reuse its parsing
    const fx: FlagEnv = { env: ctx.env, readFile: (f) => readFileSync(f, "utf8") };
    const envOnly = runOptions({ values: { env: v.env, "env-file": v["env-file"] }, positionals: ["-"], given: new Set() }, false, fx);
    const detach = v.detach === true;
    const tty = v.tty === true;
    const interactive = v.interactive === true;
    if (tty && interactive && !detach && !ctx.stdinIsTTY) throw new CliError("the input device is not a TTY", 1);
    const size = tty ? terminalSize() : undefined;
    const created = await ctx.client.json<{ Id: string }>("POST", `/containers/${enc(container)}/exec`, {
      body: JSON.stringify({
        User: v.user,
        Privileged: v.privileged === true,
        Tty: tty,
        AttachStdin: interactive && !detach,
        AttachStdout: !detach,
        AttachStderr: !detach,
        Env: envOnly.body.Env ?? [],
        WorkingDir: v.workdir,
        Cmd: cmd,
        ConsoleSize: size ?? null,
      }),
      headers: { "content-type": "application/json" },
    });
    const id = enc(created.Id);
    if (detach) {
      await ctx.client.request("POST", `/exec/${id}/start`, { body: JSON.stringify({ Detach: true, Tty: tty }), headers: { "content-type": "application/json" } });
      return 0;
    }
    const conn = await hijack(ctx.client, `/exec/${id}/start`, {}, { Detach: false, Tty: tty, ConsoleSize: size ?? null });
    const { detached } = await runSession(conn, {
      tty,
      stdin: interactive,
      detachKeys,
      resize: tty ? (h, w) => ctx.client.request("POST", `/exec/${id}/resize`, { query: { h: String(h), w: String(w) } }).then(() => {}) : undefined,
    });
    if (detached) return 0;
    const r = await ctx.client.json<{ ExitCode: number | null; Running: boolean }>("GET", `/exec/${id}/json`);
    return r.ExitCode ?? 0;
  },
);
