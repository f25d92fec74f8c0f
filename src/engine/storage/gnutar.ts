/**
 * GNU tar (Debian's `tar`) does the filesystem side of layers: it is the tool
 * that gets xattrs (any namespace, incl. trusted.* and security.capability),
 * device nodes, hardlinks, numeric ownership, modes and mtimes right, and it
 * refuses absolute and ".." member names and defers symlinks that point out
 * (placeholders). The npm tar libraries skip device nodes and xattrs, which an
 * image layer needs. We feed it streams already checked and rewritten by
 * whiteouts.ts, so what it extracts is exactly what berth accepted.
 */
import { BerthError, internal } from "../../errors.ts";

const EXTRACT_FLAGS = [
  "--numeric-owner",
  "--same-owner",
  "--same-permissions",
  "--xattrs",
  "--xattrs-include=*",
  "--no-acls", // ACLs travel as system.posix_acl_* xattrs
  "--no-selinux",
  "--warning=no-timestamp",
  "--warning=no-unknown-keyword",
];

const CREATE_FLAGS = [
  "--numeric-owner",
  "--xattrs",
  "--xattrs-include=*",
  "--format=posix",
  "--pax-option=delete=atime,delete=ctime",
  "--sort=name",
  "--one-file-system",
  "--warning=no-file-ignored",
];

/** Extract a tar stream into `dir` (which must exist). Rejects with GNU tar's message on failure. */
export async function extractTar(dir: string, src: AsyncIterable<Uint8Array>): Promise<void> {
  const proc = Bun.spawn(["tar", "-x", "-f", "-", "-C", dir, ...EXTRACT_FLAGS], {
    stdin: "pipe",
    stdout: "ignore",
    stderr: "pipe",
  });
  const stderr = new Response(proc.stderr).text();
  let srcErr: unknown;
  let killed = false;
  try {
    for await (const chunk of src) {
      proc.stdin.write(chunk);
      await proc.stdin.flush();
    }
  } catch (e) {
    srcErr = e;
    // tar gone first (it failed: its message says why) or our source failed (kill tar)
    if (proc.exitCode === null) {
      killed = true;
      proc.kill("SIGKILL");
    }
  }
  try {
    await proc.stdin.end();
  } catch {}
  const code = await proc.exited;
  const msg = (await stderr).trim();
  if (killed) throw srcErr;
  if (code !== 0) throw internal(`extract layer: tar exited ${code}: ${msg.split("\n").slice(0, 5).join("; ")}`);
  if (srcErr) throw srcErr;
}

/**
 * Stream a tar of `dir`'s contents (members "./..."; xattrs, numeric owners,
 * sorted, one file system). `paths` limits it to those members.
 */
export async function* createTar(dir: string, paths: string[] = ["."], o: { stripDotSlash?: boolean } = {}): AsyncGenerator<Uint8Array> {
  // stripDotSlash: members named "bin/sh" rather than "./bin/sh" (the root stays "./")
  const names = o.stripDotSlash ? ["--transform=s,^\\./,,S", "--show-transformed-names"] : [];
  const proc = Bun.spawn(["tar", "-c", "-f", "-", "-C", dir, ...CREATE_FLAGS, ...names, "--", ...paths], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(proc.stderr).text();
  let done = false;
  try {
    for await (const chunk of proc.stdout) yield chunk;
    done = true;
  } finally {
    if (!done) proc.kill("SIGKILL");
    const code = await proc.exited;
    const msg = (await stderr).trim();
    // 1: "file changed as we read it" (a running container); 2: a real failure
    if (done && code !== 0 && code !== 1) throw new BerthError("Internal", `archive ${dir}: tar exited ${code}: ${msg.split("\n").slice(0, 5).join("; ")}`);
  }
}
