/** docker top's parsing and filtering with an injected ps and pid list. */
import { expect, test } from "bun:test";
import { parsePsOutput, top, validatePsArgs } from "../../src/engine/containers/top.ts";
import type { ContainerRecord } from "../../src/engine/containers/model.ts";

const PS = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init splash
root         500       1  0 10:00 ?        00:00:00 sleep 1000
root         501     500  0 10:00 ?        00:00:00 sh -c echo  two  spaces
`;

const rec = (running = true) => ({ Id: "f".repeat(64), Name: "c", State: { Running: running, Restarting: false } }) as unknown as ContainerRecord;

test("rows for the container's pids only; the command keeps its spaces", () => {
  const r = parsePsOutput(PS, new Set([500, 501]));
  expect(r.Titles).toEqual(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
  expect(r.Processes).toEqual([
    ["root", "500", "1", "0", "10:00", "?", "00:00:00", "sleep 1000"],
    ["root", "501", "500", "0", "10:00", "?", "00:00:00", "sh -c echo two spaces"],
  ]);
  expect(parsePsOutput(PS, new Set()).Processes).toEqual([]);
});

test("no PID column, or a row whose PID is not a number: errors", () => {
  expect(() => parsePsOutput("USER COMMAND\nroot init\n", new Set([1]))).toThrow("Couldn't find PID field in ps output");
  expect(() => parsePsOutput("PID CMD\nx y\n", new Set([1]))).toThrow("Unexpected pid");
});

test("ps_args renaming another column to PID are refused (it would defeat the filter)", () => {
  expect(() => validatePsArgs("-o ppid=PID")).toThrow('specifying "ppid=PID" is not allowed');
  expect(() => validatePsArgs("-o user= PID")).toThrow("not allowed");
  expect(() => validatePsArgs("-oppid=PID")).toThrow('specifying "-oppid=PID" is not allowed');
  expect(() => validatePsArgs("-o comm,tgid=PID")).toThrow('specifying "tgid=PID" is not allowed');
  expect(() => validatePsArgs("--format=sid=PIDX")).toThrow('specifying "sid=PIDX" is not allowed');
  validatePsArgs("-o pid=PID,comm");
  validatePsArgs("-opid=PID");
  validatePsArgs("-ef");
});

test("only pids in the cgroup both before and after ps ran are shown", () => {
  const snapshots = [[500, 501], [500]]; // 501 left the cgroup (and its pid may be a host process now)
  let calls = 0;
  const r = top(rec(), "", {
    pids: () => snapshots[calls++]!,
    ps: (args) => {
      expect(args).toEqual(["-ef"]);
      return { exitCode: 0, stdout: PS, stderr: "" };
    },
  });
  expect(r.Processes.map((p) => p[1])).toEqual(["500"]);
});

test("errors: not running (409 wording), ps failing (ps's first stderr line)", () => {
  expect(() => top(rec(false))).toThrow(`Container ${"f".repeat(64)} is not running`);
  const ps = () => ({ exitCode: 1, stdout: "", stderr: "error: unsupported SysV option\n\nUsage: ...\n" });
  expect(() => top(rec(), "-Z", { pids: () => [1], ps })).toThrow(/^ps: error: unsupported SysV option$/);
});
