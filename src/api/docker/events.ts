/**
 * GET /events: the tenant's events from the engine's bus as docker's JSON
 * lines. `since` replays kept events; `until` ends the stream (at once when
 * it is in the past). Filters: type, event (action), image, container,
 * volume, network, daemon, label, scope.
 */
import { invalidArgument } from "../../errors.ts";
import type { EngineEvent } from "../../engine/events.ts";
import { parseReference, formatReference } from "../../engine/images/reference.ts";
import { checkFilterKeys, filterValues, parseFilters, type Filters } from "./filters.ts";
import { route, type Ctx, type Route } from "./router.ts";

const EVENT_FILTERS = ["type", "event", "image", "container", "volume", "network", "daemon", "label", "scope", "plugin", "node", "service", "secret", "config"] as const;

const DURATION_UNIT_NS: Record<string, bigint> = { ns: 1n, us: 1000n, "µs": 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/**
 * A time argument as docker takes it: unix seconds with an optional fraction
 * ("1700000000.5"), an RFC 3339 date or date-time, or a Go duration ("10m",
 * "1h30m") before now. Returns nanoseconds since the epoch.
 */
export function parseEventTime(s: string, nowNano: bigint, what: string): bigint {
  const v = s.trim();
  let m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? "").padEnd(9, "0") || "0");
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) {
    let total = 0n;
    for (const part of v.matchAll(/(\d+)(?:\.(\d+))?(ns|us|µs|ms|s|m|h)/g)) {
      const unit = DURATION_UNIT_NS[part[3]!]!;
      total += BigInt(part[1]!) * unit;
      if (part[2]) total += (BigInt(part[2]) * unit) / 10n ** BigInt(part[2].length);
    }
    return nowNano - total;
  }
  m = /^\d{4}-\d{2}-\d{2}/.exec(v);
  if (m) {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return BigInt(t) * 1_000_000n;
  }
  throw invalidArgument(`${what}: bad time "${s}": want unix seconds, an RFC 3339 date or a duration`);
}

function normalizedImage(s: string): string | undefined {
  try {
    return formatReference(parseReference(s));
  } catch {
    return undefined;
  }
}

/** Does an event pass the filters (each key: any value may match; all keys must match)? */
export function eventMatches(f: Filters, e: EngineEvent): boolean {
  const any = (key: string, test: (v: string) => boolean) => {
    const vs = filterValues(f, key);
    return vs.length === 0 || vs.some(test);
  };
  const attrs = e.actor.attributes;
  const actorIs = (type: string) => (v: string) => e.type === type && (e.actor.id === v || e.actor.id.startsWith(v) || attrs.name === v);
  if (!any("type", (v) => v === e.type)) return false;
  // dockerd (#25798): "health_status", "exec_create" and "exec_start" match their "name: detail" actions by prefix
  const FUZZY = ["health_status", "exec_create", "exec_start"];
  const fuzzy = filterValues(f, "event").some((v) => FUZZY.includes(v));
  if (!any("event", (v) => v === e.action || (fuzzy && e.action.startsWith(v)))) return false;
  if (!any("scope", (v) => v === "local")) return false;
  if (
    !any("image", (v) => {
      const cands = [e.type === "image" ? e.actor.id : "", attrs.image ?? "", e.type === "image" ? (attrs.name ?? "") : ""].filter(Boolean);
      const nv = normalizedImage(v);
      return cands.some((c) => c === v || (nv !== undefined && normalizedImage(c) === nv) || (c.startsWith("sha256:") && (c === v || c.slice(7).startsWith(v.replace(/^sha256:/, "")))));
    })
  )
    return false;
  for (const t of ["container", "volume", "network", "daemon", "plugin", "node", "service", "secret", "config"]) if (!any(t, actorIs(t))) return false;
  if (
    !any("label", (v) => {
      const eq = v.indexOf("=");
      return eq < 0 ? v in attrs : attrs[v.slice(0, eq)] === v.slice(eq + 1);
    })
  )
    return false;
  return true;
}

/** An event as docker's JSON line (timeNano exact: it does not fit a double). */
export function encodeEvent(e: EngineEvent): string {
  const base: Record<string, unknown> = {};
  if (e.type === "image" || e.type === "container") Object.assign(base, { status: e.action, id: e.actor.id, ...(e.type === "container" && e.actor.attributes.image ? { from: e.actor.attributes.image } : {}) });
  Object.assign(base, {
    Type: e.type,
    Action: e.action,
    Actor: { ID: e.actor.id, Attributes: e.actor.attributes },
    scope: "local",
    time: Number(e.timeNano / 1_000_000_000n),
  });
  return JSON.stringify(base).slice(0, -1) + `,"timeNano":${e.timeNano.toString()}}\n`;
}

function events(ctx: Ctx): Response {
  const now = BigInt(Date.now()) * 1_000_000n;
  const sinceRaw = ctx.query.get("since");
  const untilRaw = ctx.query.get("until");
  const since = sinceRaw ? parseEventTime(sinceRaw, now, "since") : undefined;
  const until = untilRaw ? parseEventTime(untilRaw, now, "until") : undefined;
  if (since !== undefined && until !== undefined && until < since) throw invalidArgument(`until (${untilRaw}) is before since (${sinceRaw})`);
  const f = parseFilters(ctx.query.get("filters"));
  checkFilterKeys(f, EVENT_FILTERS);

  const enc = new TextEncoder();
  const done = ctx.busy();
  let finish = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      let ended = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const end = () => {
        if (ended) return;
        ended = true;
        sub?.close();
        if (timer) clearTimeout(timer);
        ctx.stopping.removeEventListener("abort", end);
        ctx.signal.removeEventListener("abort", end);
        try {
          c.close();
        } catch {}
        done();
      };
      finish = end;
      const deliver = (e: EngineEvent) => {
        if (ended) return;
        if (until !== undefined && e.timeNano > until) return end();
        if (!eventMatches(f, e)) return;
        try {
          c.enqueue(enc.encode(encodeEvent(e)));
        } catch {
          end();
        }
      };
      let sub: { close(): void } | undefined;
      // Bun sends the headers with the first bytes: a newline (JSON decoders skip it) lets the client see
      // the 200 at once instead of at the first event, as dockerd's flush of the headers does
      c.enqueue(enc.encode("\n"));
      if (until !== undefined && until <= now) {
        for (const e of ctx.engine.events.replay({ tenant: ctx.tenant, sinceNano: since ?? 0n })) deliver(e);
        return end();
      }
      sub = ctx.engine.events.subscribe(deliver, { tenant: ctx.tenant, sinceNano: since });
      if (ended) return sub.close(); // `until` was reached while replaying
      if (until !== undefined) timer = setTimeout(end, Math.min(Number((until - now) / 1_000_000n), 2 ** 31 - 1));
      ctx.stopping.addEventListener("abort", end, { once: true });
      ctx.signal.addEventListener("abort", end, { once: true });
    },
    cancel() {
      finish();
    },
  });
  const headers = new Headers(ctx.headers);
  headers.set("content-type", "application/json");
  return new Response(stream, { status: 200, headers });
}

export const eventRoutes: Route[] = [route("GET", "/events", events)];
