/**
 * Helpers for integration tests: bundles on the busybox rootfs, berth-runtime
 * invocations with a private --root, and leak checks.
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { defaultSpec } from "../../src/oci/default-spec.ts";
import type { Spec } from "../../src/oci/runtime-spec.ts";

export const REPO = join(import.meta.dir, "..", "..");
export const RUNTIME = join(REPO, "bin", "berth-runtime");
export const ROOTFS = join(REPO, ".cache", "rootfs", "busybox");
export const isRoot = process.getuid?.() === 0;

export function ensureRootfs() {
  if (!existsSync(join(ROOTFS, "bin", "busybox"))) {
    const r = Bun.spawnSync(["bash", join(REPO, "scripts", "make-rootfs.sh"), ROOTFS], { stderr: "inherit" });
    if (r.exitCode !== 0) throw new Error("make-rootfs.sh failed");
  }
}

export interface Bundle {
  dir: string;
  spec: Spec;
  write(): void;
  cleanup(): void;
}

/** A bundle in a temp dir; the rootfs is the shared busybox tree, read-only. */
export function makeBundle(args: string[], edit: (s: Spec) => void = () => {}): Bundle {
  ensureRootfs();
  const dir = mkdtempSync(join(tmpdir(), "berth-bundle-"));
  const spec = defaultSpec({ args });
  spec.process!.terminal = false;
  spec.root = { path: ROOTFS, readonly: true };
  edit(spec);
  const b: Bundle = {
    dir,
    spec,
    write: () => writeFileSync(join(dir, "config.json"), JSON.stringify(spec, null, 2)),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  b.write();
  return b;
}

let counter = 0;
export const uniqueId = (prefix = "t") => `${prefix}-${process.pid}-${++counter}`;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class RuntimeCli {
  readonly root: string;
  constructor() {
    this.root = mkdtempSync(join(tmpdir(), "berth-root-"));
  }
  /**
   * Output goes to files, not pipes: a detached container keeps the runtime's
   * stdio open (as with runc), and a pipe would then never reach EOF.
   */
  run(args: string[], opts: { timeout?: number; cwd?: string; env?: Record<string, string | undefined> } = {}): RunResult {
    const out = join(this.root, `.out-${process.pid}`);
    const err = join(this.root, `.err-${process.pid}`);
    const r = Bun.spawnSync([RUNTIME, "--root", this.root, ...args], {
      stdout: Bun.file(out),
      stderr: Bun.file(err),
      stdin: "ignore",
      cwd: opts.cwd,
      env: opts.env,
      timeout: opts.timeout ?? 30_000,
    });
    const res = { code: r.exitCode ?? -1, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") };
    rmSync(out, { force: true });
    rmSync(err, { force: true });
    return res;
  }
  /** `run` a bundle in the foreground and return its output. */
  runBundle(b: Bundle, id = uniqueId()): RunResult {
    return this.run(["run", "--bundle", b.dir, id]);
  }
  ok(args: string[]): string {
    const r = this.run(args);
    if (r.code !== 0) throw new Error(`berth-runtime ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }
  state(id: string): { status: string; pid: number; [k: string]: unknown } {
    return JSON.parse(this.ok(["state", id]));
  }
  ids(): string[] {
    try {
      return readdirSync(this.root).filter((n) => !n.startsWith("."));
    } catch {
      return [];
    }
  }
  cleanup() {
    for (const id of this.ids()) this.run(["delete", "--force", id]);
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Mounts in our namespace whose mount point is under prefix. */
export function mountsUnder(prefix: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((mp) => mp.startsWith(prefix));
}

/** Host processes whose command line mentions s (excluding ourselves). */
export function processesMatching(s: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(s)) out.push(Number(p));
    } catch {}
  }
  return out;
}

export async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (cond()) return true;
    await Bun.sleep(10);
  }
  return cond();
}
