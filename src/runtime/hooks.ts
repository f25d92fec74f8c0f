/**
 * OCI hooks (runtime-spec 1.2 config.md "POSIX-platform Hooks", runtime.md
 * "Lifecycle"). Who runs which hook, and when:
 *
 *   prestart, createRuntime  the runtime, during `create`, at the
 *                            SYNC(CREATE_CONTAINER) point: namespaces exist,
 *                            mounts are done, pivot_root is not
 *   createContainer          the container init (HOOK instructions), right
 *                            after that point, in the container's namespaces
 *                            but with the host's root still in place
 *   startContainer           the container init, after `start` released it,
 *                            before the exec, inside the container's root
 *   poststart                the runtime, in `start` once the exec happened
 *   poststop                 the runtime, in `delete` once the container is gone
 *
 * Each hook gets the container state JSON on stdin: "created" for the create
 * hooks and startContainer, "running" for poststart, "stopped" for poststop.
 * A failing prestart/createRuntime/createContainer/startContainer hook fails
 * the operation and the container is destroyed (then poststop runs); a failing
 * poststart or poststop hook is a warning and the rest carry on (1.2 lifecycle
 * steps 9 and 13).
 */
import { closeSync, fstatSync, openSync, readSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hook, HookName, Spec, State } from "../oci/runtime-spec.ts";
import { BerthError } from "../errors.ts";
import { instr, type Instruction } from "./plan/record.ts";

/** Hooks whose failure fails the operation; the others only warn. */
export const FATAL_HOOKS: Readonly<Record<HookName, boolean>> = {
  prestart: true,
  createRuntime: true,
  createContainer: true,
  startContainer: true,
  poststart: false,
  poststop: false,
};

/** How much of a failing hook's output (the end) its error quotes. */
const OUTPUT_KEEP = 400;

export type Warn = (message: string) => void;

export function hooksOf(spec: Spec | undefined, name: HookName): Hook[] {
  return spec?.hooks?.[name] ?? [];
}

export function hasHooks(spec: Spec | undefined, ...names: HookName[]): boolean {
  return names.some((n) => hooksOf(spec, n).length > 0);
}

/**
 * A hook's environment: its own `env` exactly, or, when it has none, the
 * runtime's (as runc: an unset env inherits, an empty list means empty).
 */
export function hookEnv(hook: Hook, runtimeEnv: Record<string, string | undefined> = process.env): string[] {
  if (hook.env) return hook.env;
  return Object.entries(runtimeEnv)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
}

/** The HOOK instructions for hooks the container init runs (createContainer, startContainer). */
export function hookInstructions(spec: Spec, name: "createContainer" | "startContainer", runtimeEnv?: Record<string, string | undefined>): Instruction[] {
  return hooksOf(spec, name).map((h, i) =>
    instr("HOOK", `hooks.${name}[${i}]`, h.path, h.args ?? [], hookEnv(h, runtimeEnv), h.timeout ?? 0),
  );
}

/**
 * Run one hook to completion in the runtime's namespaces: the state on stdin,
 * stdout and stderr captured (into an unlinked temp file, so a daemon the hook
 * leaves behind holding them cannot keep us waiting), SIGKILL after `timeout`.
 */
export async function runHook(field: string, hook: Hook, state: State): Promise<void> {
  const tmp = join(tmpdir(), `berth-hook-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const out = openSync(tmp, "wx+", 0o600);
  unlinkSync(tmp);
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    let proc;
    try {
      proc = Bun.spawn({
        cmd: [hook.path, ...(hook.args ?? []).slice(1)],
        argv0: hook.args?.[0] ?? hook.path,
        env: envObject(hookEnv(hook)),
        stdin: new TextEncoder().encode(JSON.stringify(state)),
        stdout: out,
        stderr: out,
      });
    } catch (e) {
      throw new BerthError("FailedPrecondition", `hook ${field} "${hook.path}": ${e instanceof Error ? e.message : String(e)}`);
    }
    if (hook.timeout) {
      timer = setTimeout(() => {
        timedOut = true;
        proc.kill(9);
      }, hook.timeout * 1000);
    }
    const code = await proc.exited;
    if (timer) clearTimeout(timer);
    if (timedOut) throw hookError(field, hook, `timed out after ${hook.timeout} s (killed)`, out);
    if (proc.signalCode) throw hookError(field, hook, `killed by ${proc.signalCode}`, out);
    if (code !== 0) throw hookError(field, hook, `exited with status ${code}`, out);
  } finally {
    if (timer) clearTimeout(timer);
    closeSync(out);
  }
}

/**
 * Run the hooks of one kind in order. A failure of a fatal kind stops there
 * and throws; for poststart/poststop it is passed to warn and the next runs.
 */
export async function runHooks(spec: Spec | undefined, name: HookName, state: State, warn: Warn): Promise<void> {
  const hooks = hooksOf(spec, name);
  for (const [i, hook] of hooks.entries()) {
    try {
      await runHook(`hooks.${name}[${i}]`, hook, state);
    } catch (e) {
      if (FATAL_HOOKS[name]) throw e;
      warn(e instanceof Error ? e.message : String(e));
    }
  }
}

function hookError(field: string, hook: Hook, what: string, outFd: number): BerthError {
  const output = tail(outFd);
  return new BerthError("FailedPrecondition", `hook ${field} "${hook.path}": ${what}${output ? `: ${output}` : ""}`);
}

function tail(fd: number): string {
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, OUTPUT_KEEP);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    return buf.toString("utf8").trimEnd();
  } catch {
    return "";
  }
}

function envObject(env: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const i = e.indexOf("=");
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}
