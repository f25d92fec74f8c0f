/**
 * The runtime's side of a terminal when nobody else takes the pty master (a
 * foreground `run` or `exec -t` without --console-socket, as runc): receive
 * the master from berth-init, put our own terminal in raw mode, copy our stdin
 * to the master and the master to our stdout, follow our window size.
 */
import { closeSync, writeSync } from "node:fs";
import { isatty, ReadStream } from "node:tty";
import { BerthError } from "../errors.ts";
import { recvFd } from "./sys/socket.ts";
import { clearOnlcr, getWinSize, setWinSize } from "./sys/tty.ts";

/** The pty master berth-init sent on our end of the console socket (it arrives before READY). */
export function receiveMaster(sock: number): number {
  try {
    const got = recvFd(sock);
    if (!got) throw new BerthError("Internal", "no pty master on the console socket");
    return got.fd;
  } finally {
    closeSync(sock);
  }
}

export class ConsoleProxy {
  private raw = false;
  private readonly onData = (d: Buffer) => this.write(d);
  private readonly out: ReadStream;
  /** resolves at the end of the output: the pty is hung up when its session leader (the process) exits */
  readonly done: Promise<void>;

  constructor(readonly master: number) {
    clearOnlcr(master);
    this.resize();
    const stdin = process.stdin;
    if (isatty(0) && typeof stdin.setRawMode === "function") {
      stdin.setRawMode(true);
      this.raw = true;
    }
    stdin.on("data", this.onData);
    // a tty stream polls the master (a plain fs stream would pread, which a tty refuses)
    this.out = new ReadStream(master);
    this.done = new Promise<void>((resolve) => {
      this.out.on("data", (d: Buffer) => process.stdout.write(d));
      // EIO after the hangup: the normal end of a pty
      this.out.on("error", () => resolve());
      this.out.on("close", () => resolve());
    });
  }

  /** Copy our terminal's size to the pty (SIGWINCH). */
  resize() {
    if (!isatty(1)) return;
    try {
      setWinSize(this.master, getWinSize(1));
    } catch {
      // stdout may have gone away (runc ignores these errors too)
    }
  }

  private write(d: Buffer) {
    let off = 0;
    try {
      while (off < d.length) off += writeSync(this.master, d, off);
    } catch {
      // the process is gone
    }
  }

  /** Wait for the rest of the output (at most graceMs once the process is gone), restore our terminal, close the master. */
  async finish(graceMs = 1000) {
    await Promise.race([this.done, Bun.sleep(graceMs)]);
    process.stdin.off("data", this.onData);
    if (this.raw) process.stdin.setRawMode(false);
    process.stdin.pause();
    this.out.destroy(); // closes the master
  }
}
