/** A counting semaphore: at most `n` tasks of `run` at once, in arrival order. */
export class Limiter {
  private active = 0;
  private queue: (() => void)[] = [];

  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`concurrency must be a positive integer, got ${n}`);
  }

  /** True when a task given now would have to wait. */
  get busy(): boolean {
    return this.active >= this.n;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.queue.push(r));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}
