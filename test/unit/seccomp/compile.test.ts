import { describe as group, expect, test } from "bun:test";
import { compileSeccomp, seccompRequested, SECCOMP_FILTER_FLAG } from "../../../src/runtime/seccomp/compile.ts";
import type { LinuxSeccomp, LinuxSeccompArg } from "../../../src/runtime/seccomp/types.ts";
import { archNative, archResolveName, seccompApiLevel, syscallResolveName } from "../../../src/runtime/sys/libseccomp.ts";
import { BerthError } from "../../../src/errors.ts";
import { runFilter, describe } from "./bpf.ts";

const NATIVE = archNative();
const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const onX86_64 = NATIVE === AUDIT_ARCH_X86_64;

const nr = (name: string, arch?: number): number => {
  const n = syscallResolveName(name, arch);
  if (n < 0) throw new Error(`test setup: ${name} unknown`);
  return n;
};

/** Compile cfg and evaluate syscall `name` (native arch) with args. */
function verdict(cfg: LinuxSeccomp | Uint8Array, name: string, args: (number | bigint)[] = [], arch = NATIVE): string {
  const filter = cfg instanceof Uint8Array ? cfg : compileSeccomp(cfg).filter;
  return describe(runFilter(filter, { nr: nr(name, arch === NATIVE ? undefined : arch), arch, args }));
}

function compileError(cfg: unknown): BerthError {
  try {
    compileSeccomp(cfg as LinuxSeccomp);
  } catch (err) {
    expect(err).toBeInstanceOf(BerthError);
    return err as BerthError;
  }
  throw new Error("expected compileSeccomp to throw");
}

const allowWrite: LinuxSeccomp = {
  defaultAction: "SCMP_ACT_ERRNO",
  syscalls: [{ names: ["write", "read", "exit_group", "openat"], action: "SCMP_ACT_ALLOW" }],
};

group("compileSeccomp: shape and default action", () => {
  test("filter is a whole number of 8-byte instructions within BPF_MAXINSNS", () => {
    const { filter } = compileSeccomp(allowWrite);
    expect(filter.length).toBeGreaterThan(0);
    expect(filter.length % 8).toBe(0);
    expect(filter.length / 8).toBeLessThanOrEqual(4096);
  });

  test("ERRNO default denies with EPERM, listed syscalls are allowed", () => {
    expect(verdict(allowWrite, "write")).toBe("ALLOW");
    expect(verdict(allowWrite, "read")).toBe("ALLOW");
    expect(verdict(allowWrite, "getcwd")).toBe("ERRNO(1)");
    expect(verdict(allowWrite, "mount")).toBe("ERRNO(1)");
  });

  test("defaultErrnoRet sets the default errno", () => {
    const cfg = { ...allowWrite, defaultErrnoRet: 13 };
    expect(verdict(cfg, "getcwd")).toBe("ERRNO(13)");
    expect(verdict(cfg, "write")).toBe("ALLOW");
  });

  test("per-rule errnoRet, and EPERM when a rule's errnoRet is absent", () => {
    const cfg: LinuxSeccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["getcwd"], action: "SCMP_ACT_ERRNO", errnoRet: 22 },
        { names: ["chdir"], action: "SCMP_ACT_ERRNO" },
      ],
    };
    expect(verdict(cfg, "getcwd")).toBe("ERRNO(22)");
    expect(verdict(cfg, "chdir")).toBe("ERRNO(1)");
    expect(verdict(cfg, "write")).toBe("ALLOW");
  });

  test("every action name maps to its seccomp return value", () => {
    const cases: [string, number | undefined, string][] = [
      ["SCMP_ACT_KILL", undefined, "KILL_THREAD"],
      ["SCMP_ACT_KILL_THREAD", undefined, "KILL_THREAD"],
      ["SCMP_ACT_KILL_PROCESS", undefined, "KILL_PROCESS"],
      ["SCMP_ACT_TRAP", undefined, "TRAP"],
      ["SCMP_ACT_ERRNO", undefined, "ERRNO(1)"],
      ["SCMP_ACT_ERRNO", 5, "ERRNO(5)"],
      ["SCMP_ACT_TRACE", undefined, "TRACE(1)"],
      ["SCMP_ACT_TRACE", 7, "TRACE(7)"],
      ["SCMP_ACT_LOG", undefined, "LOG"],
    ];
    for (const [action, errnoRet, want] of cases) {
      const cfg: LinuxSeccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["getcwd"], action, errnoRet }] };
      expect(`${action}: ${verdict(cfg, "getcwd")}`).toBe(`${action}: ${want}`);
      expect(verdict(cfg, "write")).toBe("ALLOW");
    }
    // and as default actions
    expect(verdict({ defaultAction: "SCMP_ACT_KILL_PROCESS", syscalls: [{ names: ["write", "openat"], action: "SCMP_ACT_ALLOW" }] }, "getcwd")).toBe(
      "KILL_PROCESS",
    );
    expect(verdict({ defaultAction: "SCMP_ACT_LOG" }, "getcwd")).toBe("LOG");
  });

  test("a rule with the default action is skipped, one with another errno is not", () => {
    const cfg: LinuxSeccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        { names: ["getcwd"], action: "SCMP_ACT_ERRNO" }, // == default ERRNO(EPERM): libseccomp would reject it
        { names: ["chdir"], action: "SCMP_ACT_ERRNO", errnoRet: 2 },
        { names: ["write"], action: "SCMP_ACT_ALLOW" },
      ],
    };
    expect(verdict(cfg, "getcwd")).toBe("ERRNO(1)");
    expect(verdict(cfg, "chdir")).toBe("ERRNO(2)");
  });

  test("syscall names unknown to libseccomp are skipped and reported", () => {
    const cfg: LinuxSeccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [{ names: ["no_such_syscall", "write", "openat", "another_fake"], action: "SCMP_ACT_ALLOW" }],
    };
    const out = compileSeccomp(cfg);
    expect(out.skipped.sort()).toEqual(["another_fake", "no_such_syscall"]);
    expect(verdict(out.filter, "write")).toBe("ALLOW");
    expect(verdict(out.filter, "getcwd")).toBe("ERRNO(1)");
  });

  test("a profile of only unknown names still compiles", () => {
    const out = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["fake1"], action: "SCMP_ACT_KILL" }] });
    expect(out.skipped).toEqual(["fake1"]);
    expect(verdict(out.filter, "getcwd")).toBe("ALLOW");
  });
});

group("compileSeccomp: argument conditions", () => {
  test("personality(0xffffffff) allowed, other personas denied", () => {
    const cfg: LinuxSeccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        { names: ["write"], action: "SCMP_ACT_ALLOW" },
        { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0xffffffff, op: "SCMP_CMP_EQ" }] },
      ],
    };
    const { filter } = compileSeccomp(cfg);
    expect(verdict(filter, "personality", [0xffffffff])).toBe("ALLOW");
    expect(verdict(filter, "personality", [0])).toBe("ERRNO(1)");
    expect(verdict(filter, "personality", [0x0040000])).toBe("ERRNO(1)");
    // 64-bit comparison: high bits must match too
    expect(verdict(filter, "personality", [0x1ffffffffn])).toBe("ERRNO(1)");
  });

  const opCase = (op: string, value: number | bigint, valueTwo?: number | bigint) => {
    const arg: LinuxSeccompArg = { index: 1, value, op, ...(valueTwo === undefined ? {} : { valueTwo }) };
    return compileSeccomp({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["ioctl"], action: "SCMP_ACT_ERRNO", errnoRet: 9, args: [arg] }],
    }).filter;
  };
  const hit = (filter: Uint8Array, v: number | bigint) => verdict(filter, "ioctl", [3, v]) === "ERRNO(9)";

  test("SCMP_CMP_EQ / NE", () => {
    const eq = opCase("SCMP_CMP_EQ", 0x5401);
    expect([hit(eq, 0x5400), hit(eq, 0x5401), hit(eq, 0x5402), hit(eq, 0x100005401n)]).toEqual([false, true, false, false]);
    const ne = opCase("SCMP_CMP_NE", 0x5401);
    expect([hit(ne, 0x5400), hit(ne, 0x5401), hit(ne, 0x5402)]).toEqual([true, false, true]);
  });

  test("SCMP_CMP_LT / LE / GE / GT, including 64-bit values", () => {
    const big = 0x100000005n;
    const lt = opCase("SCMP_CMP_LT", big);
    expect([hit(lt, big - 1n), hit(lt, big), hit(lt, big + 1n), hit(lt, 5)]).toEqual([true, false, false, true]);
    const le = opCase("SCMP_CMP_LE", big);
    expect([hit(le, big - 1n), hit(le, big), hit(le, big + 1n), hit(le, 0x200000000n)]).toEqual([true, true, false, false]);
    const ge = opCase("SCMP_CMP_GE", big);
    expect([hit(ge, big - 1n), hit(ge, big), hit(ge, big + 1n), hit(ge, 6)]).toEqual([false, true, true, false]);
    const gt = opCase("SCMP_CMP_GT", big);
    expect([hit(gt, big - 1n), hit(gt, big), hit(gt, big + 1n), hit(gt, 0xffffffffffffffffn)]).toEqual([false, false, true, true]);
  });

  test("SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo", () => {
    const m = opCase("SCMP_CMP_MASKED_EQ", 0xf0, 0x30);
    expect([hit(m, 0x30), hit(m, 0x3f), hit(m, 0x130), hit(m, 0x20), hit(m, 0xf0)]).toEqual([true, true, true, false, false]);
    const zero = opCase("SCMP_CMP_MASKED_EQ", 0x7e020000); // valueTwo omitted = 0
    expect([hit(zero, 0x11), hit(zero, 0x10000000)]).toEqual([true, false]);
  });

  test("uint64 values: bigint, and JSON's rounded 18446744073709551615", () => {
    const fromJson = JSON.parse('{"index": 1, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}') as LinuxSeccompArg;
    const viaJson = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["ioctl"], action: "SCMP_ACT_ERRNO", errnoRet: 9, args: [fromJson] }] });
    expect(hit(viaJson.filter, 0xffffffffffffffffn)).toBe(true);
    expect(hit(viaJson.filter, 0)).toBe(false);
    const viaBig = opCase("SCMP_CMP_EQ", 0xdeadbeef12345678n);
    expect([hit(viaBig, 0xdeadbeef12345678n), hit(viaBig, 0x12345678)]).toEqual([true, false]);
  });

  test("conditions on different arguments are ANDed", () => {
    const cfg: LinuxSeccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        {
          names: ["socket"],
          action: "SCMP_ACT_ALLOW",
          args: [
            { index: 0, value: 1, op: "SCMP_CMP_EQ" }, // AF_UNIX
            { index: 1, value: 1, op: "SCMP_CMP_EQ" }, // SOCK_STREAM
          ],
        },
      ],
    };
    const { filter } = compileSeccomp(cfg);
    expect(verdict(filter, "socket", [1, 1, 0])).toBe("ALLOW");
    expect(verdict(filter, "socket", [1, 2, 0])).toBe("ERRNO(1)");
    expect(verdict(filter, "socket", [2, 1, 0])).toBe("ERRNO(1)");
  });

  test("several conditions on one argument become separate rules (ORed), as in runc", () => {
    const cfg: LinuxSeccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        {
          names: ["personality"],
          action: "SCMP_ACT_ALLOW",
          args: [
            { index: 0, value: 0, op: "SCMP_CMP_EQ" },
            { index: 0, value: 8, op: "SCMP_CMP_EQ" },
          ],
        },
      ],
    };
    const { filter } = compileSeccomp(cfg);
    expect(verdict(filter, "personality", [0])).toBe("ALLOW");
    expect(verdict(filter, "personality", [8])).toBe("ALLOW");
    expect(verdict(filter, "personality", [9])).toBe("ERRNO(1)");
  });
});

group("compileSeccomp: architectures", () => {
  test("the native architecture is always in the filter, a foreign one is killed", () => {
    const { filter } = compileSeccomp({ ...allowWrite, architectures: [] });
    expect(verdict(filter, "write")).toBe("ALLOW");
    const foreign = onX86_64 ? AUDIT_ARCH_AARCH64 : AUDIT_ARCH_X86_64;
    expect(describe(runFilter(filter, { nr: 1, arch: foreign }))).toBe("KILL_THREAD");
  });

  test.skipIf(!onX86_64)("SCMP_ARCH_X86 adds i386 (its own syscall numbers); without it i386 is killed", () => {
    const x86 = archResolveName("x86");
    const withX86 = compileSeccomp({ ...allowWrite, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"] }).filter;
    expect(nr("write", x86)).toBe(4);
    expect(describe(runFilter(withX86, { nr: 4, arch: AUDIT_ARCH_I386 }))).toBe("ALLOW");
    expect(describe(runFilter(withX86, { nr: nr("getcwd", x86), arch: AUDIT_ARCH_I386 }))).toBe("ERRNO(1)");
    const without = compileSeccomp(allowWrite).filter;
    expect(describe(runFilter(without, { nr: 4, arch: AUDIT_ARCH_I386 }))).toBe("KILL_THREAD");
  });

  test.skipIf(!onX86_64)("SCMP_ARCH_X32 allows x32 numbers (bit 30) under AUDIT_ARCH_X86_64", () => {
    const x32 = archResolveName("x32");
    const cfg = { ...allowWrite, architectures: ["SCMP_ARCH_X32"] };
    const { filter } = compileSeccomp(cfg);
    const x32write = nr("write", x32);
    expect(x32write).toBe(0x40000001);
    expect(describe(runFilter(filter, { nr: x32write, arch: AUDIT_ARCH_X86_64 }))).toBe("ALLOW");
    expect(describe(runFilter(filter, { nr: nr("getcwd", x32), arch: AUDIT_ARCH_X86_64 }))).toBe("ERRNO(1)");
    // without x32 in the list, libseccomp's filter refuses x32 numbers
    expect(describe(runFilter(compileSeccomp(allowWrite).filter, { nr: x32write, arch: AUDIT_ARCH_X86_64 }))).not.toBe("ALLOW");
  });
});

group("compileSeccomp: flags", () => {
  const flagsOf = (flags?: string[]) => compileSeccomp({ ...allowWrite, ...(flags ? { flags } : {}) }).flags;

  test("explicit flags become seccomp(2) flag bits", () => {
    expect(flagsOf([])).toBe(0);
    expect(flagsOf(["SECCOMP_FILTER_FLAG_TSYNC"])).toBe(SECCOMP_FILTER_FLAG.TSYNC);
    if (seccompApiLevel() >= 3) expect(flagsOf(["SECCOMP_FILTER_FLAG_LOG"])).toBe(SECCOMP_FILTER_FLAG.LOG);
    if (seccompApiLevel() >= 4) {
      expect(flagsOf(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"])).toBe(SECCOMP_FILTER_FLAG.SPEC_ALLOW);
      expect(flagsOf(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])).toBe(1 | 2 | 4);
    }
    // only meaningful with a notify listener, which berth does not create
    expect(flagsOf(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"])).toBe(0);
  });

  test("absent flags default to SPEC_ALLOW when supported (runc)", () => {
    expect(flagsOf(undefined)).toBe(seccompApiLevel() >= 4 ? SECCOMP_FILTER_FLAG.SPEC_ALLOW : 0);
  });
});

group("compileSeccomp: -ENOSYS stub for syscalls newer than the profile", () => {
  const maxNr = Math.max(nr("write"), nr("read"), nr("exit_group"), nr("openat"));

  test("numbers above the profile's largest get ENOSYS, known-but-unlisted ones the default", () => {
    const { filter } = compileSeccomp(allowWrite);
    expect(describe(runFilter(filter, { nr: maxNr + 1, arch: NATIVE }))).toBe("ERRNO(38)");
    expect(describe(runFilter(filter, { nr: 1000, arch: NATIVE }))).toBe("ERRNO(38)");
    expect(describe(runFilter(filter, { nr: nr("openat"), arch: NATIVE }))).toBe("ALLOW");
    expect(verdict(filter, "getcwd")).toBe("ERRNO(1)"); // below the max
  });

  test("with a KILL default too (as runc): newer syscalls fail with ENOSYS instead of killing", () => {
    const { filter } = compileSeccomp({ defaultAction: "SCMP_ACT_KILL_PROCESS", syscalls: [{ names: ["write", "openat"], action: "SCMP_ACT_ALLOW" }] });
    expect(verdict(filter, "getcwd")).toBe("KILL_PROCESS");
    expect(describe(runFilter(filter, { nr: nr("openat") + 1, arch: NATIVE }))).toBe("ERRNO(38)");
  });

  test("no stub when the default is already ERRNO(ENOSYS)", () => {
    const { filter } = compileSeccomp({ ...allowWrite, defaultErrnoRet: 38 });
    expect(describe(runFilter(filter, { nr: 1000, arch: NATIVE }))).toBe("ERRNO(38)");
    expect(compileSeccomp({ ...allowWrite, defaultErrnoRet: 38 }).filter.length).toBeLessThan(compileSeccomp(allowWrite).filter.length);
  });

  test("no stub when the default action lets syscalls through", () => {
    const { filter } = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["getcwd"], action: "SCMP_ACT_ERRNO" }] });
    expect(describe(runFilter(filter, { nr: 1000, arch: NATIVE }))).toBe("ALLOW");
  });

  test.skipIf(!onX86_64)("x32 numbers are compared with the x32 maximum", () => {
    const x32 = archResolveName("x32");
    const { filter } = compileSeccomp({ ...allowWrite, architectures: ["SCMP_ARCH_X32"] });
    const x32max = Math.max(...["write", "read", "exit_group", "openat"].map((n) => nr(n, x32)));
    expect(describe(runFilter(filter, { nr: x32max + 1, arch: AUDIT_ARCH_X86_64 }))).toBe("ERRNO(38)");
    expect(describe(runFilter(filter, { nr: maxNr + 1, arch: AUDIT_ARCH_X86_64 }))).toBe("ERRNO(38)");
  });

  test("every syscall number terminates with a valid action", () => {
    const { filter } = compileSeccomp({ ...allowWrite, architectures: onX86_64 ? ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] : [] });
    const arches = onX86_64 ? [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386] : [NATIVE];
    for (const arch of arches) {
      for (let n = 0; n < 600; n++) {
        for (const v of [n, n | 0x40000000]) expect(describe(runFilter(filter, { nr: v, arch }))).not.toStartWith("UNKNOWN");
      }
    }
  });
});

group("compileSeccomp: errors name the field", () => {
  const expectError = (cfg: unknown, message: string | RegExp) => {
    const err = compileError(cfg);
    expect(err.code).toBe("InvalidArgument");
    if (typeof message === "string") expect(err.message).toBe(message);
    else expect(err.message).toMatch(message);
  };

  test("unknown action", () => {
    expectError(
      { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["write"], action: "SCMP_ACT_ALLOW" }, { names: ["read"], action: "SCMP_ACT_FOO" }] },
      'linux.seccomp.syscalls[1].action: unknown action "SCMP_ACT_FOO"',
    );
    expectError({ defaultAction: "SCMP_ACT_NOPE" }, 'linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"');
    expectError({ syscalls: [] }, "linux.seccomp.defaultAction: required");
  });

  test("unknown operator and bad argument index or value", () => {
    const rule = (arg: object) => ({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_KILL", args: [arg] }] });
    expectError(rule({ index: 0, value: 1, op: "SCMP_CMP_XX" }), 'linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_XX"');
    expectError(rule({ index: 6, value: 1, op: "SCMP_CMP_EQ" }), /^linux\.seccomp\.syscalls\[0\]\.args\[0\]\.index: must be an integer in \[0, 5\]/);
    expectError(rule({ index: 0, value: -1, op: "SCMP_CMP_EQ" }), /^linux\.seccomp\.syscalls\[0\]\.args\[0\]\.value: must be an unsigned 64-bit integer/);
    expectError(rule({ index: 0, value: 1, valueTwo: "x", op: "SCMP_CMP_MASKED_EQ" }), /^linux\.seccomp\.syscalls\[0\]\.args\[0\]\.valueTwo: /);
  });

  test("unknown architecture", () => {
    expectError({ ...allowWrite, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"] }, 'linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX"');
    expectError({ ...allowWrite, architectures: ["x86_64"] }, 'linux.seccomp.architectures[0]: unknown architecture "x86_64"');
  });

  test("unknown flag", () => {
    expectError({ ...allowWrite, flags: ["SECCOMP_FILTER_FLAG_NOPE"] }, 'linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_NOPE"');
  });

  test("SCMP_ACT_NOTIFY is not supported yet", () => {
    expectError(
      { defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/agent.sock", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] },
      /^linux\.seccomp\.syscalls\[0\]\.action: SCMP_ACT_NOTIFY is not supported yet/,
    );
    expectError({ defaultAction: "SCMP_ACT_NOTIFY" }, /^linux\.seccomp\.defaultAction: SCMP_ACT_NOTIFY cannot be the default action/);
  });

  test("errnoRet is only valid with ERRNO and TRACE", () => {
    expectError(
      { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["write"], action: "SCMP_ACT_ALLOW", errnoRet: 1 }] },
      /^linux\.seccomp\.syscalls\[0\]\.errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE/,
    );
    expectError({ defaultAction: "SCMP_ACT_KILL", defaultErrnoRet: 1 }, /^linux\.seccomp\.defaultErrnoRet: /);
    expectError({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 70000 }, /^linux\.seccomp\.defaultErrnoRet: must be an integer/);
  });

  test("malformed syscall entries", () => {
    expectError({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: [], action: "SCMP_ACT_ALLOW" }] }, /^linux\.seccomp\.syscalls\[0\]\.names: /);
    expectError({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read", ""], action: "SCMP_ACT_ALLOW" }] }, /^linux\.seccomp\.syscalls\[0\]\.names\[1\]: /);
    expectError({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"] }] }, "linux.seccomp.syscalls[0].action: required");
    expectError({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [null] }, "linux.seccomp.syscalls[0]: must be an object");
  });

  test("malformed top level", () => {
    expectError(null, "linux.seccomp: must be an object");
    expectError({ defaultAction: "SCMP_ACT_ERRNO", syscalls: {} }, "linux.seccomp.syscalls: must be an array");
    expectError({ defaultAction: "SCMP_ACT_ERRNO", architectures: "SCMP_ARCH_X86" }, "linux.seccomp.architectures: must be an array");
  });

  test("seccompRequested: no default action and no syscalls means no filter (runc)", () => {
    expect(seccompRequested(undefined)).toBe(false);
    expect(seccompRequested({ defaultAction: "" })).toBe(false);
    expect(seccompRequested({ defaultAction: "", syscalls: [] })).toBe(false);
    expect(seccompRequested({ defaultAction: "SCMP_ACT_ALLOW" })).toBe(true);
    expect(seccompRequested({ defaultAction: "", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }] })).toBe(true);
  });

  test("listenerMetadata without listenerPath", () => {
    expectError({ ...allowWrite, listenerMetadata: "x" }, "linux.seccomp.listenerMetadata: must not be set without listenerPath");
  });
});

group("libseccomp binding", () => {
  test("importing the compiler does not load libseccomp; compiling does", () => {
    const script = `
      await import(${JSON.stringify(new URL("../../../src/runtime/seccomp/compile.ts", import.meta.url).pathname)});
      await import(${JSON.stringify(new URL("../../../src/runtime/seccomp/docker-default.ts", import.meta.url).pathname)});
      const mapped = () => require("node:fs").readFileSync("/proc/self/maps", "utf8").includes("libseccomp");
      const before = mapped();
      const { compileSeccomp } = await import(${JSON.stringify(new URL("../../../src/runtime/seccomp/compile.ts", import.meta.url).pathname)});
      compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW" });
      console.log(JSON.stringify({ before, after: mapped() }));`;
    const r = Bun.spawnSync([process.execPath, "-e", script], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(JSON.parse(r.stdout.toString())).toEqual({ before: false, after: true });
  });
});
