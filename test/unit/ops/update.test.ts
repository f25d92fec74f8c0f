/** `update` requests: runc's flags, the JSON form, and how a request merges into the saved resources. */
import { describe, expect, test } from "bun:test";
import { mergeResources, planUpdate, resourcesFromFlags, resourcesFromJson } from "../../../src/runtime/ops/update.ts";

const M = 1024 * 1024;

describe("resourcesFromFlags", () => {
  test("every runc flag maps to its linux.resources field", () => {
    expect(
      resourcesFromFlags({
        memory: "64m", "memory-reservation": "32m", "memory-swap": "-1", "kernel-memory": "1m", "kernel-memory-tcp": "2m",
        "cpu-share": "512", "cpu-period": "100000", "cpu-quota": "-1", "cpu-rt-period": "1000000", "cpu-rt-runtime": "950000",
        "cpuset-cpus": "0-1", "cpuset-mems": "0", "blkio-weight": "500", "pids-limit": "20",
      }),
    ).toEqual({
      memory: { limit: 64 * M, reservation: 32 * M, swap: -1, kernel: M, kernelTCP: 2 * M },
      cpu: { shares: 512, period: 100000, realtimePeriod: 1000000, quota: -1, realtimeRuntime: 950000, cpus: "0-1", mems: "0" },
      blockIO: { weight: 500 },
      pids: { limit: 20 },
    });
  });

  test("no flags: an empty request", () => {
    expect(resourcesFromFlags({})).toEqual({});
  });

  test("bad values name the flag; nothing is half-parsed", () => {
    expect(() => resourcesFromFlags({ memory: "lots" })).toThrow(/^update: --memory: invalid size: "lots"/);
    expect(() => resourcesFromFlags({ "cpu-share": "-5" })).toThrow(/^update: --cpu-share: invalid value "-5"/);
    expect(() => resourcesFromFlags({ "cpu-quota": "1.5" })).toThrow(/^update: --cpu-quota: invalid value/);
    expect(() => resourcesFromFlags({ "pids-limit": "many" })).toThrow(/^update: --pids-limit: invalid value/);
    expect(() => resourcesFromFlags({ "blkio-weight": "x" })).toThrow(/^update: --blkio-weight: invalid value/);
  });

  test("intel rdt flags: a clear not-supported error", () => {
    expect(() => resourcesFromFlags({ "l3-cache-schema": "L3:0=f" })).toThrow(/^update: --l3-cache-schema: intel rdt is not supported/);
    expect(() => resourcesFromFlags({ "mem-bw-schema": "MB:0=20" })).toThrow(/^update: --mem-bw-schema: intel rdt is not supported/);
  });
});

describe("resourcesFromJson", () => {
  test("runc's documented format", () => {
    const r = resourcesFromJson(
      JSON.stringify({ memory: { limit: 0, reservation: 0, swap: 0 }, cpu: { shares: 512, quota: 0, period: 0, cpus: "", mems: "" }, blockIO: { weight: 0 } }),
      "r.json",
    );
    expect(r.cpu?.shares).toBe(512);
  });

  test("wrong types and bad JSON name the file and the field", () => {
    expect(() => resourcesFromJson('{"memory":{"limit":"big"}}', "r.json")).toThrow(/^r\.json: memory\.limit: /);
    expect(() => resourcesFromJson('{"pids":{"limit":-7}}', "r.json")).toThrow(/^r\.json: pids\.limit: must be -1, 0/);
    expect(() => resourcesFromJson("[1]", "r.json")).toThrow(/^r\.json: must be a JSON object/);
    expect(() => resourcesFromJson('{"memory":', "r.json")).toThrow(/^r\.json: invalid json at line 1/);
  });

  test("int64 limits beyond 2^53 stay exact", () => {
    expect(resourcesFromJson('{"memory":{"limit":9223372036854775807}}', "r.json").memory?.limit).toBe(9223372036854775807n);
  });
});

describe("merge and plan", () => {
  const base = { memory: { limit: 64 * M, swap: 128 * M }, cpu: { quota: 20000, period: 100000, cpus: "0" }, pids: { limit: 50 }, devices: [{ allow: false }] };

  test("set values replace, zero and empty leave as is (runc), the rest is kept", () => {
    const m = mergeResources(base, { memory: { limit: 0, reservation: 32 * M }, cpu: { period: 50000, quota: 0, cpus: "" }, pids: { limit: 0 } });
    expect(m).toEqual({ ...base, memory: { limit: 64 * M, swap: 128 * M, reservation: 32 * M }, cpu: { quota: 20000, period: 50000, cpus: "0" } });
    expect(base.cpu.period).toBe(100000); // the input is not modified
  });

  test("lists merge by key: block devices, page sizes, unified files", () => {
    const m = mergeResources(
      { blockIO: { weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }] }, hugepageLimits: [{ pageSize: "2MB", limit: 1 }], unified: { "a.b": "1" } },
      { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 2 }, { major: 8, minor: 16, rate: 3 }] }, hugepageLimits: [{ pageSize: "1GB", limit: 0 }], unified: { "c.d": "2" } },
    );
    expect(m.blockIO).toEqual({ weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 2 }, { major: 8, minor: 16, rate: 3 }] });
    expect(m.hugepageLimits).toEqual([{ pageSize: "2MB", limit: 1 }, { pageSize: "1GB", limit: 0 }]);
    expect(m.unified).toEqual({ "a.b": "1", "c.d": "2" });
  });

  test("device rules are not updatable: dropped from the request, kept in the state", () => {
    const { merged, writes } = planUpdate(base, { devices: [{ allow: true }], pids: { limit: 10 } });
    expect(writes).toEqual({ pids: { limit: 10 } });
    expect(merged.devices).toEqual([{ allow: false }]);
  });

  test("a new memory limit rewrites the saved memory+swap total with it", () => {
    expect(planUpdate(base, { memory: { limit: 100 * M } }).writes).toEqual({ memory: { limit: 100 * M, swap: 128 * M } });
    expect(planUpdate(base, { memory: { limit: 100 * M, swap: 200 * M } }).writes).toEqual({ memory: { limit: 100 * M, swap: 200 * M } });
    expect(planUpdate({}, { memory: { limit: 100 * M } }).writes).toEqual({ memory: { limit: 100 * M } });
  });

  test("a new memory+swap total is written with the saved limit (v2 needs both)", () => {
    expect(planUpdate(base, { memory: { swap: 256 * M } }).writes).toEqual({ memory: { swap: 256 * M, limit: 64 * M } });
    expect(planUpdate({}, { memory: { swap: 256 * M } }).writes).toEqual({ memory: { swap: 256 * M } });
  });

  test("lifting the memory limit lifts swap too, in writes and in the saved state", () => {
    const { merged, writes } = planUpdate(base, { memory: { limit: -1 } });
    expect(writes.memory).toEqual({ limit: -1, swap: -1 });
    expect(merged.memory).toEqual({ limit: -1, swap: -1 });
  });
});
