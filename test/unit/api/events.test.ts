import { describe, expect, test } from "bun:test";
import { encodeEvent, eventMatches, parseEventTime } from "../../../src/api/docker/events.ts";
import { parseFilters } from "../../../src/api/docker/filters.ts";
import { EventBus, type EngineEvent } from "../../../src/engine/events.ts";

const NOW = 1_700_000_000_000_000_000n;

describe("event times", () => {
  test("unix seconds with a fraction, RFC 3339, durations before now", () => {
    expect(parseEventTime("1700000000", NOW, "since")).toBe(1_700_000_000_000_000_000n);
    expect(parseEventTime("1700000000.5", NOW, "since")).toBe(1_700_000_000_500_000_000n);
    expect(parseEventTime("1700000000.000000001", NOW, "since")).toBe(1_700_000_000_000_000_001n);
    expect(parseEventTime("2023-11-14T22:13:20Z", NOW, "since")).toBe(1_700_000_000_000_000_000n);
    expect(parseEventTime("10m", NOW, "since")).toBe(NOW - 600_000_000_000n);
    expect(parseEventTime("1h30m", NOW, "since")).toBe(NOW - 5_400_000_000_000n);
    expect(parseEventTime("1.5s", NOW, "since")).toBe(NOW - 1_500_000_000n);
    expect(() => parseEventTime("yesterday", NOW, "until")).toThrow('until: bad time "yesterday"');
  });
});

const ev = (over: Partial<EngineEvent> = {}): EngineEvent => ({
  tenant: "default",
  type: "image",
  action: "tag",
  actor: { id: "sha256:" + "ab".repeat(32), attributes: { name: "busybox:v1", "com.example": "x" } },
  timeNano: NOW,
  ...over,
});

describe("event filters", () => {
  test("type, event, scope", () => {
    expect(eventMatches(parseFilters('{"type":{"image":true}}'), ev())).toBe(true);
    expect(eventMatches(parseFilters('{"type":{"container":true}}'), ev())).toBe(false);
    expect(eventMatches(parseFilters('{"event":{"tag":true,"untag":true}}'), ev())).toBe(true);
    expect(eventMatches(parseFilters('{"event":{"delete":true}}'), ev())).toBe(false);
    expect(eventMatches(parseFilters('{"scope":{"swarm":true}}'), ev())).toBe(false);
  });

  test("health_status, exec_create, exec_start match their detailed actions by prefix (dockerd #25798)", () => {
    const hs = ev({ type: "container", action: "health_status: healthy" });
    expect(eventMatches(parseFilters('{"event":{"health_status":true}}'), hs)).toBe(true);
    expect(eventMatches(parseFilters('{"event":{"health_status: healthy":true}}'), hs)).toBe(true);
    expect(eventMatches(parseFilters('{"event":{"health_status: unhealthy":true}}'), hs)).toBe(false);
    expect(eventMatches(parseFilters('{"event":{"exec_start":true}}'), ev({ type: "container", action: "exec_start: sh -c true" }))).toBe(true);
    expect(eventMatches(parseFilters('{"event":{"exec":true}}'), ev({ type: "container", action: "exec_start: sh" }))).toBe(false);
    expect(eventMatches(parseFilters('{"event":{"die":true}}'), ev({ type: "container", action: "die" }))).toBe(true);
  });

  test("image by id, id prefix, or reference in any spelling", () => {
    expect(eventMatches(parseFilters('{"image":{"abab":true}}'), ev())).toBe(true);
    expect(eventMatches(parseFilters('{"image":{"docker.io/library/busybox:v1":true}}'), ev())).toBe(true);
    expect(eventMatches(parseFilters('{"image":{"busybox:v2":true}}'), ev())).toBe(false);
    const pull = ev({ action: "pull", actor: { id: "busybox:latest", attributes: { name: "busybox" } } });
    expect(eventMatches(parseFilters('{"image":{"busybox":true}}'), pull)).toBe(true);
  });

  test("label key or key=value", () => {
    expect(eventMatches(parseFilters('{"label":{"com.example":true}}'), ev())).toBe(true);
    expect(eventMatches(parseFilters('{"label":{"com.example=x":true}}'), ev())).toBe(true);
    expect(eventMatches(parseFilters('{"label":{"com.example=y":true}}'), ev())).toBe(false);
  });

  test("docker's JSON line, with timeNano exact", () => {
    const line = encodeEvent(ev({ timeNano: 1_700_000_000_123_456_789n }));
    expect(line.endsWith("}\n")).toBe(true);
    expect(line).toContain('"timeNano":1700000000123456789}');
    const o = JSON.parse(line);
    expect(o).toMatchObject({ status: "tag", id: ev().actor.id, Type: "image", Action: "tag", scope: "local", time: 1700000000 });
    expect(o.Actor).toEqual({ ID: ev().actor.id, Attributes: ev().actor.attributes });
  });
});

describe("the event bus", () => {
  test("a subscriber sees only its tenant's events; replay from a time; increasing times", () => {
    const bus = new EventBus(3);
    const seen: string[] = [];
    const sub = bus.subscribe((e) => seen.push(`${e.tenant}:${e.action}`), { tenant: "a" });
    const all: string[] = [];
    bus.subscribe((e) => all.push(e.action));
    const e1 = bus.publish({ tenant: "a", type: "image", action: "pull", actor: { id: "x", attributes: {} } });
    bus.publish({ tenant: "b", type: "image", action: "tag", actor: { id: "y", attributes: {} } });
    const e3 = bus.publish({ tenant: "a", type: "image", action: "delete", actor: { id: "x", attributes: {} } });
    expect(seen).toEqual(["a:pull", "a:delete"]);
    expect(all).toEqual(["pull", "tag", "delete"]);
    expect(e3.timeNano > e1.timeNano).toBe(true);
    sub.close();
    bus.publish({ tenant: "a", type: "image", action: "untag", actor: { id: "x", attributes: {} } });
    expect(seen).toEqual(["a:pull", "a:delete"]);
    // kept: the last 3; replay by tenant and time
    expect(bus.replay().map((e) => e.action)).toEqual(["tag", "delete", "untag"]);
    expect(bus.replay({ tenant: "a", sinceNano: e3.timeNano }).map((e) => e.action)).toEqual(["delete", "untag"]);
    const replayed: string[] = [];
    bus.subscribe((e) => replayed.push(e.action), { tenant: "b", sinceNano: 0n });
    expect(replayed).toEqual(["tag"]);
  });

  test("a subscriber that throws is dropped, the publisher is not hurt", () => {
    const bus = new EventBus();
    let n = 0;
    bus.subscribe(() => {
      n++;
      throw new Error("bad consumer");
    });
    bus.publish({ tenant: "a", type: "image", action: "pull", actor: { id: "x", attributes: {} } });
    bus.publish({ tenant: "a", type: "image", action: "pull", actor: { id: "x", attributes: {} } });
    expect(n).toBe(1);
    expect(bus.listeners).toBe(0);
  });
});
