/**
 * A process in the foreground (run, exec): forward our signals to it, proxy
 * the terminal when we hold the pty master, and return its exit status
 * (berth-init, its waiting parent, exits with it: 128+n for a signal).
 */
import type { Launched } from "../../runtime/launch.ts";

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

export class Foreground {
  private readonly forward = (sig: NodeJS.Signals) => {
    // with a terminal, a window change is ours to pass on as a new size (as runc)
    if (sig === "SIGWINCH" && this.proxy) return this.proxy.resize();
    try {
      process.kill(this.launched.pid, sig);
    } catch {}
  };
  private proxy?: import("../../runtime/console.ts").ConsoleProxy;

  private constructor(private readonly launched: Launched) {
    for (const s of FORWARDED) process.on(s, this.forward);
  }

  /** Start forwarding (and proxying the terminal) now, before the process may run. */
  static async attach(launched: Launched): Promise<Foreground> {
    const fg = new Foreground(launched);
    if (launched.master !== undefined) {
      const { ConsoleProxy } = await import("../../runtime/console.ts");
      fg.proxy = new ConsoleProxy(launched.master);
    }
    return fg;
  }

  /** Wait for the process; its exit status. */
  async wait(): Promise<number> {
    try {
      const code = await this.launched.helper.exited;
      await this.proxy?.finish();
      return code;
    } finally {
      this.detach();
    }
  }

  /** Stop forwarding and proxying (the process did not start). */
  async stop() {
    this.detach();
    await this.proxy?.finish(0);
  }

  private detach() {
    for (const s of FORWARDED) process.off(s, this.forward);
  }
}
