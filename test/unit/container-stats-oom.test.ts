/**
 * OOM watching and wasOomKilled on temporary cgroup trees: cgroup2's
 * memory.events (noticed through inotify or the poll) and v1's
 * memory.oom_control counter. The v1 eventfd path and a real kill are in
 * test/integration/container-ops.test.ts.
 */
import { afterEach, expect, test } from "bun:test";
import { createCgroupManager } from "../../src/runtime/cgroups/manager.ts";
import { oomKillCount, wasOomKilled, watchContainerOom } from "../../src/engine/containers/oom.ts";
import { waitFor } from "../integration/harness.ts";
import { FakeCgroupFs } from "./cgroups/fake.ts";

let fake: FakeCgroupFs | undefined;
afterEach(() => fake?.cleanup());

function manager(mode: "v1" | "v2", opts = {}) {
  fake = new FakeCgroupFs(mode, opts);
  const m = createCgroupManager({ id: "c1", cgroupsPath: "/berth/c1", hierarchy: fake.h, deviceProgramLoader: { attach() {} } });
  m.create();
  fake.populate();
  return m;
}

const V2 = (n: number) => `low 0\nhigh 0\nmax 3\noom ${n}\noom_kill ${n}`;
const V1 = (n: number) => `oom_kill_disable 0\nunder_oom 0\noom_kill ${n}`;

for (const [mode, file, text] of [["v2", "memory.events", V2], ["v1", "memory.oom_control", V1]] as const) {
  test(`${mode}: one callback per kill after the watch began; wasOomKilled from the counter`, async () => {
    const m = manager(mode);
    const dir = m.dirFor("memory")!.dir;
    fake!.setValue(dir, file, text(0));
    expect(wasOomKilled(m)).toBe(false);
    let kills = 0;
    const w = watchContainerOom(m, () => kills++, { pollMs: 20 })!;
    expect(w.kind).toBe("counter"); // no cgroup.event_control in a plain directory
    fake!.setValue(dir, file, text(2));
    expect(await waitFor(() => kills === 2, 10_000)).toBe(true);
    expect(oomKillCount(m)).toBe(2);
    expect(wasOomKilled(m)).toBe(true);
    fake!.setValue(dir, file, text(3));
    w.close(); // close looks once more: a kill just before exit is not lost
    expect(kills).toBe(3);
    fake!.setValue(dir, file, text(9));
    w.check();
    expect(kills).toBe(3);
  });
}

test("no memory controller: no watcher, not OOM-killed; a removed cgroup reads as not killed", () => {
  const m = manager("v2", { v2Controllers: ["cpu", "pids"] });
  expect(watchContainerOom(m, () => {})).toBeUndefined();
  expect(oomKillCount(m)).toBeUndefined();
  expect(wasOomKilled(m)).toBe(false);
  fake!.cleanup();
  const m2 = manager("v2");
  fake!.cleanup();
  expect(wasOomKilled(m2)).toBe(false);
});
