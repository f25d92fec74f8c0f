/**
 * The container service's pure rules: restart policies and backoff, the
 * STATUS column, list selection, names, and the SQLite store's lookups.
 */
import { testRecord } from "../../helpers/container-record.ts";
import { describe, expect, test } from "bun:test";
import { openDb } from "../../../src/engine/db.ts";
import { selectContainers } from "../../../src/engine/containers/list.ts";
import type { ContainerRecord } from "../../../src/engine/containers/model.ts";
import { checkName, generateName } from "../../../src/engine/containers/names.ts";
import { BACKOFF_MAX_MS, BACKOFF_START_MS, nextBackoff, restartOnDaemonStart, shouldRestart } from "../../../src/engine/containers/restart-policy.ts";
import { createdState, exitedState, humanDuration, runningState, statusText } from "../../../src/engine/containers/status.ts";
import { ContainerStore } from "../../../src/engine/containers/store.ts";

function rec(over: Partial<ContainerRecord> & { id?: string } = {}): ContainerRecord {
  const { id, ...rest } = over;
  return testRecord({ Id: id ?? "a".repeat(64), Name: "c", Created: "2026-01-01T00:00:00.000Z", Image: "sha256:" + "1".repeat(64), Path: "sh", Args: [], ...rest });
}

const exited = (code: number) => exitedState(runningState(createdState(), 10, "2026-01-01T00:00:00Z"), code, "2026-01-01T00:00:05Z", false);

describe("restart policies", () => {
  test("no / always / unless-stopped / on-failure with retries", () => {
    expect(shouldRestart(rec({ State: exited(1) }))).toBe(false);
    expect(shouldRestart(rec({ State: exited(0), HostConfig: { RestartPolicy: { Name: "always" } } }))).toBe(true);
    expect(shouldRestart(rec({ State: exited(0), HostConfig: { RestartPolicy: { Name: "unless-stopped" } } }))).toBe(true);
    expect(shouldRestart(rec({ State: exited(0), HostConfig: { RestartPolicy: { Name: "on-failure" } } }))).toBe(false);
    const onFailure = { RestartPolicy: { Name: "on-failure" as const, MaximumRetryCount: 2 } };
    expect(shouldRestart(rec({ State: exited(1), HostConfig: onFailure, RestartCount: 1 }))).toBe(true);
    expect(shouldRestart(rec({ State: exited(1), HostConfig: onFailure, RestartCount: 2 }))).toBe(false);
  });

  test("a manual stop wins, except that always comes back when the daemon starts", () => {
    const always = rec({ State: exited(137), HostConfig: { RestartPolicy: { Name: "always" } }, manuallyStopped: true });
    expect(shouldRestart(always)).toBe(false);
    expect(restartOnDaemonStart(always)).toBe(true);
    const unless = rec({ State: exited(137), HostConfig: { RestartPolicy: { Name: "unless-stopped" } }, manuallyStopped: true });
    expect(restartOnDaemonStart(unless)).toBe(false);
  });

  test("backoff doubles to a cap and resets after a long run", () => {
    expect(nextBackoff(0, 0)).toBe(BACKOFF_START_MS);
    expect(nextBackoff(100, 50)).toBe(200);
    expect(nextBackoff(BACKOFF_MAX_MS, 50)).toBe(BACKOFF_MAX_MS);
    expect(nextBackoff(6400, 20_000)).toBe(BACKOFF_START_MS);
  });

  test("an unknown policy is refused", () => {
    expect(() => shouldRestart(rec({ State: exited(1), HostConfig: { RestartPolicy: { Name: "sometimes" as never } } }))).toThrow("invalid restart policy: sometimes");
  });
});

describe("status text", () => {
  test("docker ps's STATUS column", () => {
    const now = Date.parse("2026-01-01T00:01:00Z");
    expect(statusText(createdState(), now)).toBe("Created");
    expect(statusText(runningState(createdState(), 5, "2026-01-01T00:00:55Z"), now)).toBe("Up 5 seconds");
    expect(statusText(exited(3), now)).toBe("Exited (3) 55 seconds ago");
    expect(humanDuration(90 * 60_000)).toBe("2 hours");
  });
});

describe("names", () => {
  test("docker's rule; generated names are free ones", () => {
    expect(checkName("/web.1_a-b")).toBe("web.1_a-b");
    expect(() => checkName("bad name")).toThrow("Invalid container name (bad name)");
    expect(() => checkName("-x")).toThrow("Invalid container name");
    const taken = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const n = generateName((x) => taken.has(x));
      expect(taken.has(n)).toBe(false);
      expect(n).toMatch(/^[a-z]+_[a-z]+\d*$/);
      taken.add(n);
    }
  });
});

describe("store", () => {
  test("lookups by id, name and unique prefix, per tenant", () => {
    const s = new ContainerStore(openDb(":memory:"));
    s.insert(rec({ id: "ab" + "0".repeat(62), Name: "one" }));
    s.insert(rec({ id: "ac" + "0".repeat(62), Name: "two" }));
    s.insert(rec({ id: "ff" + "0".repeat(62), Name: "one", tenant: "other" }));
    expect(s.get("default", "one").Id.startsWith("ab")).toBe(true);
    expect(s.get("default", "/two").Id.startsWith("ac")).toBe(true);
    expect(s.get("default", "ab").Name).toBe("one");
    expect(() => s.get("default", "a")).toThrow("multiple IDs found with provided prefix: a");
    // another tenant's container is invisible, by name, id and prefix
    expect(() => s.get("default", "ff")).toThrow("No such container: ff");
    expect(() => s.get("default", "ff" + "0".repeat(62))).toThrow("No such container");
    expect(s.get("other", "one").Id.startsWith("ff")).toBe(true);
    expect(() => s.insert(rec({ id: "cd" + "0".repeat(62), Name: "two" }))).toThrow('The container name "/two" is already in use');
    expect(s.list("default").length).toBe(2);
    expect(s.imageInUse("sha256:" + "1".repeat(64), "other")).toBe(true);
  });
});

describe("list selection", () => {
  const running = rec({ id: "1".repeat(64), Name: "web", State: runningState(createdState(), 9, "2026-01-01T00:00:00Z"), Config: { Labels: { app: "x" } }, Created: "2026-01-01T00:00:03Z" });
  const stopped = rec({ id: "2".repeat(64), Name: "job", State: exited(2), Created: "2026-01-01T00:00:02Z" });
  const created = rec({ id: "3".repeat(64), Name: "new", Created: "2026-01-01T00:00:01Z" });
  const all = [running, stopped, created];
  const sel = (o: Parameters<typeof selectContainers>[1]) =>
    selectContainers(all, o, (ref) => all.find((r) => r.Name === ref), () => undefined).map((r) => r.Name);
  const f = (o: Record<string, string[]>) => new Map(Object.entries(o));

  test("running only by default; all; limit", () => {
    expect(sel({})).toEqual(["web"]);
    expect(sel({ all: true })).toEqual(["web", "job", "new"]);
    expect(sel({ all: true, limit: 1 })).toEqual(["web"]);
  });

  test("filters", () => {
    expect(sel({ filters: f({ status: ["exited"] }) })).toEqual(["job"]);
    expect(sel({ filters: f({ exited: ["2"] }) })).toEqual(["job"]);
    expect(sel({ all: true, filters: f({ label: ["app=x"] }) })).toEqual(["web"]);
    expect(sel({ all: true, filters: f({ "label!": ["app"] }) })).toEqual(["job", "new"]);
    expect(sel({ all: true, filters: f({ name: ["^we"] }) })).toEqual(["web"]);
    expect(sel({ filters: f({ since: ["new"] }) })).toEqual(["web", "job"]);
    expect(sel({ filters: f({ before: ["job"] }) })).toEqual(["new"]);
    expect(() => sel({ filters: f({ bogus: ["1"] }) })).toThrow("invalid filter 'bogus'");
    expect(() => sel({ filters: f({ status: ["sleepy"] }) })).toThrow("invalid filter 'status=sleepy'");
  });
});
