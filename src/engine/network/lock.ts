/**
 * The manager's locking: operations on networks themselves (create, remove,
 * prune, reconcile) run alone; attaches and detaches run concurrently with
 * each other, one at a time per container (its interface names), since the
 * plugins lock what they share (host-local its lease directory, iptables its
 * xtables lock) and every database statement is atomic.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

export class NetworkLocks {
  private shared = 0;
  private exclusiveHeld = false;
  /** exclusive operations waiting: new keyed ones queue behind them (no starvation) */
  private exclusiveWaiting = 0;
  private waiters: (() => void)[] = [];
  private readonly keys = new Map<string, Mutex>();

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private wait() {
    return new Promise<void>((r) => this.waiters.push(r));
  }

  /** alone: no other operation runs meanwhile */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // check and take in the same turn: no await between them
    this.exclusiveWaiting++;
    while (this.exclusiveHeld || this.shared > 0) await this.wait();
    this.exclusiveWaiting--;
    this.exclusiveHeld = true;
    try {
      return await fn();
    } finally {
      this.exclusiveHeld = false;
      this.wake();
    }
  }

  /** alongside other keyed operations, one at a time per key */
  async keyed<T>(key: string, fn: () => Promise<T>): Promise<T> {
    while (this.exclusiveHeld || this.exclusiveWaiting > 0) await this.wait();
    this.shared++;
    let m = this.keys.get(key);
    if (!m) this.keys.set(key, (m = new Mutex()));
    try {
      return await m.run(fn);
    } finally {
      this.shared--;
      if (this.keys.get(key) === m && this.shared === 0) this.keys.delete(key);
      this.wake();
    }
  }
}
