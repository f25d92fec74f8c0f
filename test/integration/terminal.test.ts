/**
 * Terminals (root): the test is the console-socket receiver, as containerd's
 * shim or conmon would be (runc's protocol: one message, SCM_RIGHTS with the
 * pty master); the foreground `run`/`exec -t` take the master themselves.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { closeSync, existsSync, mkdtempSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ReadStream } from "node:tty";
import { RuntimeCli, isRoot, makeBundle, uniqueId, ROOTFS, mountsUnder, processesMatching } from "./harness.ts";
import { startContainer, spawnRuntime } from "./exec-helpers.ts";
import { listenUnix, acceptUnix, recvFd, type ReceivedFd } from "../../src/runtime/sys/socket.ts";
import { getWinSize } from "../../src/runtime/sys/tty.ts";

const d = isRoot ? describe : describe.skip;
let rt: RuntimeCli;
let dir: string;
beforeAll(() => {
  if (!isRoot) return;
  rt = new RuntimeCli();
  dir = mkdtempSync(join(tmpdir(), "berth-tty-"));
});
afterAll(() => {
  rt?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A console socket: listen at a fresh path, then receive the one fd a runtime sends. */
class ConsoleReceiver {
  readonly path = join(dir, `${uniqueId("cs")}.sock`);
  private readonly fd = listenUnix(this.path);
  async receive(ms = 30_000): Promise<ReceivedFd> {
    const until = Date.now() + ms;
    let conn: number | null = null;
    try {
      while ((conn = acceptUnix(this.fd)) === null) {
        if (Date.now() > until) throw new Error("nobody connected to the console socket");
        await Bun.sleep(10);
      }
      for (;;) {
        const got = recvFd(conn);
        if (got) return got;
        if (Date.now() > until) throw new Error("no fd on the console socket");
        await Bun.sleep(10);
      }
    } finally {
      if (conn !== null) closeSync(conn);
    }
  }
  close() {
    closeSync(this.fd);
    rmSync(this.path, { force: true });
  }
}

/** Everything the pty master yields until the terminal hangs up (its session leader exits). */
function readAll(master: number): Promise<string> {
  const s = new ReadStream(master);
  let out = "";
  return new Promise((resolve) => {
    s.on("data", (b: Buffer) => (out += b.toString()));
    s.on("error", () => resolve(out));
    s.on("close", () => resolve(out));
  });
}

d("console socket", () => {
  test("exec -t -d: the master arrives on the socket; the process has the slave as its controlling terminal", async () => {
    const box = startContainer(rt, () => {}, "tty");
    const cs = new ConsoleReceiver();
    try {
      const p = spawnRuntime(rt, ["exec", "-t", "-d", "--console-socket", cs.path, box.id, "sh"]);
      const got = await cs.receive();
      expect(got.name).toBe("/dev/ptmx");
      const r = await p.done();
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).toBe("");
      const output = readAll(got.fd);
      // field 7 of stat: the controlling terminal's device number (0: none)
      writeSync(got.fd, "tty; echo ctty=$(cut -d' ' -f7 /proc/$$/stat); stat -c %t:%T $(tty); echo hi; exit 9\n");
      const out = await output;
      const tty = out.match(/(\/dev\/pts\/\d+)\r\n/)?.[1];
      expect(tty).toBeDefined();
      const [maj, min] = out.match(/^([0-9a-f]+):([0-9a-f]+)\r$/m)!.slice(1).map((h) => parseInt(h, 16));
      expect(out).toContain(`ctty=${(maj! << 8) | min!}\r\n`);
      expect(out).toContain("hi\r\n");
    } finally {
      cs.close();
      box.cleanup();
    }
  });

  test("run -d with process.terminal: /dev/console is the pty, consoleSize is applied", async () => {
    const cs = new ConsoleReceiver();
    const b = makeBundle(["sh"], (s) => {
      s.process!.terminal = true;
      s.process!.consoleSize = { height: 33, width: 101 };
      s.process!.user = { uid: 1000, gid: 1000 };
    });
    const id = uniqueId("console");
    try {
      const p = spawnRuntime(rt, ["run", "-d", "--console-socket", cs.path, "--bundle", b.dir, id]);
      const got = await cs.receive();
      expect((await p.done()).code).toBe(0);
      expect(getWinSize(got.fd)).toEqual({ rows: 33, cols: 101 });
      const output = readAll(got.fd);
      writeSync(got.fd, "tty; stty size; stat -c '%t:%T %u' $(tty) /dev/console; exit\n");
      const out = (await output).replaceAll("\r", "");
      const tty = out.match(/^(\/dev\/pts\/\d+)$/m)?.[1];
      expect(tty).toBeDefined();
      expect(out).toMatch(/^33 101$/m);
      // the slave itself is bound on /dev/console, owned by the process's user
      const st = out.match(/^([0-9a-f]+:[0-9a-f]+ \d+)$/gm)!;
      expect(st).toHaveLength(2);
      expect(st[0]).toBe(st[1]!);
      expect(st[0]!.startsWith("88:")).toBe(true); // major 136: a pty slave
      expect(st[0]!.endsWith(" 1000")).toBe(true);
    } finally {
      rt.run(["delete", "--force", id]);
      cs.close();
      b.cleanup();
    }
  });

  test("a container that replaced its /dev/ptmx gets no terminal", async () => {
    const box = startContainer(rt, () => {}, "ptmx");
    const cs = new ConsoleReceiver();
    try {
      rt.ok(["exec", box.id, "sh", "-c", "rm /dev/ptmx && ln -s /dev/null /dev/ptmx"]);
      const r = rt.run(["exec", "-t", "-d", "--console-socket", cs.path, box.id, "sh"]);
      expect(r.code).toBe(255);
      expect(r.stderr).toContain("not a pty multiplexer");
    } finally {
      cs.close();
      box.cleanup();
    }
  });

  test("create with terminal: bad console sockets fail and leave nothing", () => {
    const b = makeBundle(["sh"], (s) => (s.process!.terminal = true));
    try {
      const cases: Array<[string[], string]> = [
        [[], "console-socket"],
        [["--console-socket", join(dir, "missing.sock")], "missing.sock"],
        [["--console-socket", "x".repeat(120)], "107 bytes"],
      ];
      for (const [flags, word] of cases) {
        const id = uniqueId("badcs");
        const r = rt.run(["create", ...flags, "--bundle", b.dir, id]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(word);
        expect(existsSync(join(rt.root, id))).toBe(false);
        expect(processesMatching(id)).toEqual([]);
      }
      expect(mountsUnder(ROOTFS + "/")).toEqual([]);
      b.spec.process!.terminal = false;
      b.write();
      const r = rt.run(["create", "--console-socket", join(dir, "x.sock"), "--bundle", b.dir, uniqueId("notty")]);
      expect(r.stderr).toContain("process.terminal");
    } finally {
      b.cleanup();
    }
  });
});

d("the runtime's own terminal (foreground, no console socket)", () => {
  test("run: stdin and stdout go through the pty; the container's status is ours", async () => {
    const b = makeBundle(["sh", "-c", "tty; read x; echo got $x; [ -c /dev/console ] && echo console; exit 5"], (s) => (s.process!.terminal = true));
    try {
      const p = spawnRuntime(rt, ["run", "--bundle", b.dir, uniqueId("fg")], { stdin: "pipe" });
      const stdin = p.proc.stdin as import("bun").FileSink;
      stdin.write("hello\n");
      stdin.flush();
      const r = await p.done();
      expect(r.code).toBe(5);
      // ONLCR is off on a pty the runtime reads (as runc): plain "\n"
      expect(r.stdout).toMatch(/^\/dev\/pts\/\d+$/m);
      expect(r.stdout).toContain("got hello\n");
      expect(r.stdout).toContain("console\n");
    } finally {
      b.cleanup();
    }
  });

  test("exec -t", async () => {
    const box = startContainer(rt, () => {}, "fgexec");
    try {
      const p = spawnRuntime(rt, ["exec", "-t", box.id, "sh", "-c", "tty; read x; echo got $x; exit 4"], { stdin: "pipe" });
      const stdin = p.proc.stdin as import("bun").FileSink;
      stdin.write("there\n");
      stdin.flush();
      const r = await p.done();
      expect(r.code).toBe(4);
      expect(r.stdout).toMatch(/^\/dev\/pts\/\d+$/m);
      expect(r.stdout).toContain("got there\n");
    } finally {
      box.cleanup();
    }
  });
});
