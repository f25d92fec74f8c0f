/**
 * Helpers for the exec, terminal and breakout tests: a running container to
 * exec into, and berth-runtime run asynchronously (signals, stdin, extra fds).
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RUNTIME, RuntimeCli, makeBundle, uniqueId, waitFor, type Bundle, type RunResult } from "./harness.ts";
import type { Spec } from "../../src/oci/runtime-spec.ts";

export interface Running {
  id: string;
  /** host pid of the container's init */
  pid: number;
  bundle: Bundle;
  cleanup(): void;
}

/** `run -d` a container whose init sleeps; edit its config first. */
export function startContainer(rt: RuntimeCli, edit: (s: Spec) => void = () => {}, prefix = "exec"): Running {
  const bundle = makeBundle(["sleep", "1000"], edit);
  const id = uniqueId(prefix);
  try {
    rt.ok(["run", "-d", "--bundle", bundle.dir, id]);
  } catch (e) {
    bundle.cleanup();
    throw e;
  }
  return {
    id,
    pid: rt.state(id).pid,
    bundle,
    cleanup() {
      rt.run(["delete", "--force", id]);
      bundle.cleanup();
    },
  };
}

export interface Spawned {
  proc: ReturnType<typeof Bun.spawn>;
  /** stdout so far */
  stdout(): string;
  stderr(): string;
  done(): Promise<RunResult>;
}

/** berth-runtime in the background; output to files (a detached process may keep pipes open). */
export function spawnRuntime(
  rt: RuntimeCli,
  args: string[],
  opts: { stdin?: "ignore" | "pipe"; extraFds?: number[]; env?: Record<string, string> } = {},
): Spawned {
  const tag = uniqueId("io");
  const out = join(rt.root, `.${tag}.out`);
  const err = join(rt.root, `.${tag}.err`);
  const proc = Bun.spawn([RUNTIME, "--root", rt.root, ...args], {
    stdio: [opts.stdin ?? "ignore", Bun.file(out), Bun.file(err), ...(opts.extraFds ?? [])] as never,
    env: { ...process.env, ...opts.env },
  });
  const read = (f: string) => {
    try {
      return readFileSync(f, "utf8");
    } catch {
      return "";
    }
  };
  return {
    proc,
    stdout: () => read(out),
    stderr: () => read(err),
    async done() {
      const code = await proc.exited;
      const r = { code, stdout: read(out), stderr: read(err) };
      rmSync(out, { force: true });
      rmSync(err, { force: true });
      return r;
    },
  };
}

/** The pid of a host process as its own (innermost) pid namespace sees it. */
export function nsPid(hostPid: number): number {
  const line = readFileSync(`/proc/${hostPid}/status`, "utf8").match(/^NSpid:\s+(.*)$/m)![1]!;
  return Number(line.trim().split(/\s+/).pop());
}

export { waitFor };

/** A copy of a tree with cp -a (device nodes and all: node's cpSync cannot copy those). */
export function copyTree(from: string, to: string) {
  const r = Bun.spawnSync(["cp", "-a", from, to], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`cp -a ${from} ${to}: ${r.stderr.toString()}`);
}
