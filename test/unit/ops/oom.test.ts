/**
 * The OOM watcher's counter path on temporary cgroup trees (fake.ts): v2
 * memory.events, and v1 memory.oom_control when cgroup.event_control is
 * missing. The eventfd path needs a real v1 memory cgroup: see
 * test/integration/ops.test.ts.
 */
import { afterEach, expect, test } from "bun:test";
import { createCgroupManager } from "../../../src/runtime/cgroups/manager.ts";
import { watchOom } from "../../../src/runtime/ops/oom.ts";
import { FakeCgroupFs } from "../cgroups/fake.ts";

let fake: FakeCgroupFs | undefined;
afterEach(() => fake?.cleanup());

for (const [mode, file, text] of [
  ["v2", "memory.events", (n: number) => `low 0\nhigh 0\nmax 3\noom ${n}\noom_kill ${n}`],
  ["v1", "memory.oom_control", (n: number) => `oom_kill_disable 0\nunder_oom 0\noom_kill ${n}`],
] as const) {
  test(`${mode}: counts oom_kill increases since the last poll`, () => {
    fake = new FakeCgroupFs(mode);
    const mgr = createCgroupManager({ id: "c1", cgroupsPath: "/berth/c1", hierarchy: fake.h, deviceProgramLoader: { attach() {} } });
    mgr.create();
    fake.populate();
    const dir = mgr.dirFor("memory")!.dir;
    fake.setValue(dir, file, text(2)); // kills before watching are not reported
    const w = watchOom(mgr)!;
    expect(w.kind).toBe("counter");
    expect(w.poll()).toBe(0);
    fake.setValue(dir, file, text(3));
    expect(w.poll()).toBe(1);
    expect(w.poll()).toBe(0);
    fake.setValue(dir, file, text(5));
    expect(w.poll()).toBe(2);
    w.close();
  });
}

test("no memory controller: no watcher", () => {
  fake = new FakeCgroupFs("v2", { v2Controllers: ["cpu", "pids"] });
  const mgr = createCgroupManager({ id: "c1", cgroupsPath: "/berth/c1", hierarchy: fake.h, deviceProgramLoader: { attach() {} } });
  expect(watchOom(mgr)).toBeUndefined();
});
