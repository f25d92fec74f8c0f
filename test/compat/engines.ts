/**
 * Real engines driving bin/berth-runtime: a private Podman store and a private
 * containerd, both cleaned up after the tests.
 */
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { RUNTIME, ROOTFS, ensureRootfs, isRoot } from "../integration/harness.ts";

export const have = (bin: string) => Bun.spawnSync(["sh", "-c", `command -v ${bin}`]).exitCode === 0;

export interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(argv: string[], timeout = 60_000, stdin?: string): Out {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), timeout });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** podman with its own storage and run dirs, berth-runtime as its OCI runtime. */
export class Podman {
  readonly dir = mkdtempSync(join(tmpdir(), "berth-podman-"));
  readonly image = "localhost/berth-busybox:test";
  static available = () => isRoot && have("podman") && have("conmon");

  argv(args: string[]): string[] {
    return [
      "podman",
      "--root", join(this.dir, "storage"),
      "--runroot", join(this.dir, "run"),
      "--tmpdir", join(this.dir, "tmp"),
      "--cgroup-manager", "cgroupfs",
      "--events-backend", "file",
      "--runtime", RUNTIME,
      ...args,
    ];
  }
  run(args: string[], timeout?: number): Out {
    return sh(this.argv(args), timeout);
  }
  ok(args: string[], timeout?: number): string {
    const r = this.run(args, timeout);
    if (r.code !== 0) throw new Error(`podman ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }
  /** Import the busybox rootfs as an image (podman import of a rootfs tar). */
  importImage() {
    ensureRootfs();
    const tar = join(this.dir, "rootfs.tar");
    const t = sh(["tar", "-C", ROOTFS, "-cf", tar, "."]);
    if (t.code !== 0) throw new Error(`tar: ${t.stderr}`);
    this.ok(["import", tar, this.image]);
  }
  cleanup() {
    this.run(["rm", "--all", "--force", "--time", "0"]);
    this.run(["rmi", "--all", "--force"]);
    sh(["umount", "-R", join(this.dir, "storage")]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A containerd of our own on a private socket and state dir. */
export class Containerd {
  readonly dir = mkdtempSync(join(tmpdir(), "berth-containerd-"));
  readonly sock = join(this.dir, "containerd.sock");
  private proc?: ReturnType<typeof Bun.spawn>;
  static available = () => isRoot && have("containerd") && have("ctr") && have("containerd-shim-runc-v2");

  async start() {
    const cfg = join(this.dir, "config.toml");
    await Bun.write(
      cfg,
      [
        "version = 2",
        `root = "${join(this.dir, "root")}"`,
        `state = "${join(this.dir, "state")}"`,
        "[grpc]",
        `  address = "${this.sock}"`,
        "[ttrpc]",
        `  address = "${this.sock}.ttrpc"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        "  disable = true",
        "",
      ].join("\n"),
    );
    this.proc = Bun.spawn(["containerd", "--config", cfg], { stdout: Bun.file(join(this.dir, "log")), stderr: Bun.file(join(this.dir, "log")) });
    for (let i = 0; i < 200 && !existsSync(this.sock); i++) await Bun.sleep(25);
    if (!existsSync(this.sock)) throw new Error("containerd did not start");
  }
  ctr(args: string[], timeout?: number, stdin?: string): Out {
    return sh(["ctr", "--address", this.sock, ...args], timeout, stdin);
  }
  ok(args: string[], timeout?: number): string {
    const r = this.ctr(args, timeout);
    if (r.code !== 0) throw new Error(`ctr ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }
  async stop() {
    this.proc?.kill("SIGTERM");
    await this.proc?.exited;
    sh(["umount", "-R", join(this.dir, "root")]);
    sh(["umount", "-R", join(this.dir, "state")]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
