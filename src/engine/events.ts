/**
 * The engine's one event bus. Every feature publishes here (images today;
 * containers, health, OOM, exec later) and every consumer subscribes here (the
 * events API, later restart policies, the audit log, metrics), rather than
 * polling each other. Every event carries its tenant; a subscriber sees only
 * its tenant's events unless it asks for all (internal consumers).
 *
 * The bus keeps the last `history` events so `docker events --since` can replay
 * them (dockerd keeps 256 as well). Delivery is synchronous and in order; a
 * subscriber that throws is dropped, never the publisher.
 */

export type EventType = "image" | "container" | "volume" | "network" | "daemon";

export interface EngineEvent {
  tenant: string;
  type: EventType;
  /** "pull", "tag", "untag", "delete", "load", "save", "import", "push", ... */
  action: string;
  actor: { id: string; attributes: Record<string, string> };
  /** nanoseconds since the epoch */
  timeNano: bigint;
}

export interface Subscription {
  close(): void;
}

export interface SubscribeOptions {
  /** only this tenant's events; undefined: every tenant's (internal consumers only) */
  tenant?: string;
  /** replay kept events at or after this time (ns) before live ones */
  sinceNano?: bigint;
}

const DEFAULT_HISTORY = 256;

export class EventBus {
  private readonly kept: EngineEvent[] = [];
  private readonly subscribers = new Set<{ tenant?: string; fn: (e: EngineEvent) => void }>();
  private lastNano = 0n;

  constructor(private readonly history = DEFAULT_HISTORY) {}

  /** A strictly increasing timestamp (ns), so two events never share a time and replay order is stable. */
  private now(): bigint {
    const wall = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    this.lastNano = wall > this.lastNano ? wall : this.lastNano + 1n;
    return this.lastNano;
  }

  publish(e: Omit<EngineEvent, "timeNano">): EngineEvent {
    const ev: EngineEvent = { ...e, actor: { id: e.actor.id, attributes: { ...e.actor.attributes } }, timeNano: this.now() };
    this.kept.push(ev);
    if (this.kept.length > this.history) this.kept.splice(0, this.kept.length - this.history);
    for (const s of [...this.subscribers]) {
      if (s.tenant !== undefined && s.tenant !== ev.tenant) continue;
      try {
        s.fn(ev);
      } catch {
        this.subscribers.delete(s);
      }
    }
    return ev;
  }

  /** Kept events of a tenant (or all) at or after `sinceNano`, oldest first. */
  replay(opts: SubscribeOptions = {}): EngineEvent[] {
    return this.kept.filter((e) => (opts.tenant === undefined || e.tenant === opts.tenant) && (opts.sinceNano === undefined || e.timeNano >= opts.sinceNano));
  }

  /**
   * Receive events: the kept ones since `sinceNano` first (when given), then
   * live ones, in order. Returns a handle whose close() stops delivery.
   */
  subscribe(fn: (e: EngineEvent) => void, opts: SubscribeOptions = {}): Subscription {
    if (opts.sinceNano !== undefined) for (const e of this.replay(opts)) fn(e);
    const s = { tenant: opts.tenant, fn };
    this.subscribers.add(s);
    return { close: () => void this.subscribers.delete(s) };
  }

  /** How many subscribers are listening (docker info's NEventsListener). */
  get listeners(): number {
    return this.subscribers.size;
  }
}
