import { test, expect } from "bun:test";
import { compilePlan, type PlanContext } from "../../../src/runtime/plan/compile.ts";
import { defaultSpec } from "../../../src/oci/default-spec.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import type { MonitorPlan } from "../../../src/runtime/plan/monitor.ts";

function spec(edit: (s: Spec) => void = () => {}): Spec {
  const s = defaultSpec({ args: ["sh"] });
  s.process!.terminal = false;
  s.linux!.namespaces!.push({ type: "ipc", path: "/proc/1/ns/ipc" });
  edit(s);
  return s;
}
const ctx = (s: Spec, monitor?: MonitorPlan, extra: Partial<PlanContext> = {}): PlanContext => ({
  spec: s,
  bundle: "/b",
  rootfs: "/b/rootfs",
  execFifo: "/run/x/exec.fifo",
  isDir: () => true,
  monitor,
  ...extra,
});
const mon: MonitorPlan = { program: "/opt/berth-monitor", dir: "/run/berth/containers/c1", log: "/var/lib/berth/c1.log", maxSize: 1 << 20, maxFiles: 3, openStdin: true };

test("MONITOR is the first step, before any namespace is joined; CLONE does not wait", () => {
  const p = compilePlan(ctx(spec(), mon));
  expect(p[0]).toEqual({ op: "MONITOR", args: ["/opt/berth-monitor", mon.dir, mon.log!, 1 << 20, 3, 1] });
  const ops = p.map((i) => i.op);
  expect(ops.indexOf("SETNS")).toBeGreaterThan(0);
  expect(p.find((i) => i.op === "CLONE")!.args[1]).toBe(0);
  expect(ops.filter((o) => o === "MONITOR")).toHaveLength(1);
});

test("defaults: no log, no rotation, one file, stdin closed", () => {
  const p = compilePlan(ctx(spec(), { program: "/m", dir: "/d" }));
  expect(p[0]).toEqual({ op: "MONITOR", args: ["/m", "/d", "", 0, 1, 0] });
});

test("without a monitor the plan has no MONITOR step", () => {
  expect(compilePlan(ctx(spec())).some((i) => i.op === "MONITOR")).toBe(false);
});

test("bad monitor settings name the field", () => {
  const bad: Array<[Partial<MonitorPlan>, RegExp]> = [
    [{ dir: "run/c1" }, /^monitor.dir: /],
    [{ program: "berth-monitor" }, /^monitor.program: /],
    [{ log: "c1.log" }, /^monitor.log: /],
    [{ log: "/var/log/" }, /^monitor.log: /],
    [{ maxSize: -1 }, /^monitor.maxSize: /],
    [{ maxSize: 1.5 }, /^monitor.maxSize: /],
    [{ maxFiles: 0 }, /^monitor.maxFiles: /],
    [{ maxFiles: 101 }, /^monitor.maxFiles: /],
  ];
  for (const [over, re] of bad) expect(() => compilePlan(ctx(spec(), { ...mon, ...over }))).toThrow(re);
  expect(() => compilePlan(ctx(spec(), mon, { stay: true }))).toThrow(/stay/);
});

test("a terminal under a monitor: MONITOR's flag, no CONSOLE step (the monitor holds the console socket), the PTY step in the container", () => {
  const s = spec((s) => {
    s.process!.terminal = true;
    s.process!.consoleSize = { height: 30, width: 100 };
  });
  const p = compilePlan(ctx(s, { ...mon, stdinOnce: true }));
  expect(p[0]).toEqual({ op: "MONITOR", args: ["/opt/berth-monitor", mon.dir, mon.log!, 1 << 20, 3, 1 | 2 | 4] });
  expect(p.some((i) => i.op === "CONSOLE")).toBe(false);
  const pty = p.find((i) => i.op === "PTY")!;
  expect(pty.args.slice(0, 4)).toEqual(["/dev/ptmx", 30, 100, "/dev/console"]);
  // without a monitor, the console socket is still required
  expect(() => compilePlan(ctx(s))).toThrow(/console socket/);
});

test("stdinOnce without a terminal", () => {
  expect(compilePlan(ctx(spec(), { ...mon, stdinOnce: true }))[0]!.args[5]).toBe(1 | 4);
});
