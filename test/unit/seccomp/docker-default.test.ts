import { describe as group, expect, test } from "bun:test";
import { compileSeccomp } from "../../../src/runtime/seccomp/compile.ts";
import { dockerDefaultSeccomp, DOCKER_DEFAULT_CAPABILITIES } from "../../../src/runtime/seccomp/docker-default.ts";
import { archNative, archResolveName, syscallResolveName } from "../../../src/runtime/sys/libseccomp.ts";
import { runFilter, describe } from "./bpf.ts";

const NATIVE = archNative();
const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const onX86_64 = NATIVE === AUDIT_ARCH_X86_64;

const CLONE_NEWNS = 0x00020000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNET = 0x40000000;
const SIGCHLD = 17;
const CLONE_THREAD_FLAGS = 0x003d0f00; // what glibc passes for pthread_create
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_ALG = 38;
const AF_NFC = 39;
const AF_VSOCK = 40;
const AF_XDP = 44;

function judge(filter: Uint8Array, arch = NATIVE, token?: number) {
  return (name: string, args: (number | bigint)[] = []): string => {
    const nr = syscallResolveName(name, token);
    if (nr < 0) throw new Error(`test setup: ${name} unknown`);
    return describe(runFilter(filter, { nr, arch, args }));
  };
}

group("docker default profile", () => {
  const profile = dockerDefaultSeccomp();
  const compiled = compileSeccomp(profile);
  const v = judge(compiled.filter);

  test("is an OCI seccomp object with Docker's defaults and compiles", () => {
    expect(profile.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(profile.defaultErrnoRet).toBe(1);
    if (onX86_64) expect(profile.architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    expect(compiled.filter.length % 8).toBe(0);
    expect(compiled.filter.length / 8).toBeLessThanOrEqual(4096);
    // only names too new for this libseccomp are skipped, never the basics
    for (const name of ["read", "write", "openat", "clone", "execve"]) expect(compiled.skipped).not.toContain(name);
  });

  test("allows ordinary syscalls", () => {
    for (const name of ["read", "write", "openat", "close", "mmap", "execve", "exit_group", "futex", "epoll_wait", "getcwd"]) {
      expect(`${name}: ${v(name)}`).toBe(`${name}: ALLOW`);
    }
  });

  test("denies privileged syscalls with EPERM", () => {
    for (const name of ["kexec_load", "mount", "umount2", "reboot", "init_module", "swapon", "pivot_root", "setns", "bpf", "acct", "settimeofday"]) {
      expect(`${name}: ${v(name)}`).toBe(`${name}: ERRNO(1)`);
    }
  });

  test("unshare is denied, whatever the flags (no CAP_SYS_ADMIN)", () => {
    expect(v("unshare", [CLONE_NEWUSER])).toBe("ERRNO(1)");
    expect(v("unshare", [CLONE_NEWNS])).toBe("ERRNO(1)");
    expect(v("unshare", [0])).toBe("ERRNO(1)");
  });

  test("clone only without namespace flags; clone3 gets ENOSYS so libc falls back to clone", () => {
    expect(v("clone", [SIGCHLD])).toBe("ALLOW");
    expect(v("clone", [CLONE_THREAD_FLAGS])).toBe("ALLOW");
    expect(v("clone", [SIGCHLD | CLONE_NEWUSER])).toBe("ERRNO(1)");
    expect(v("clone", [SIGCHLD | CLONE_NEWNET])).toBe("ERRNO(1)");
    expect(v("clone3")).toBe("ERRNO(38)");
  });

  test("socket: AF_ALG and AF_VSOCK refused, other families allowed", () => {
    for (const af of [AF_UNIX, AF_INET, AF_INET6, AF_NFC, AF_XDP]) expect(`af ${af}: ${v("socket", [af, 1, 0])}`).toBe(`af ${af}: ALLOW`);
    expect(v("socket", [AF_VSOCK, 1, 0])).toBe("ERRNO(1)");
    expect(v("socket", [AF_ALG, 5, 0])).toBe("ERRNO(1)");
  });

  test("personality: only the listed personas", () => {
    for (const p of [0, 8, 0x20000, 0x20008, 0xffffffff]) expect(`${p}: ${v("personality", [p])}`).toBe(`${p}: ALLOW`);
    expect(v("personality", [0x0400000])).toBe("ERRNO(1)"); // READ_IMPLIES_EXEC
    expect(v("personality", [0x0040000])).toBe("ERRNO(1)"); // ADDR_NO_RANDOMIZE|... not listed
  });

  test("capability-gated rules follow Docker's default capability set", () => {
    expect(DOCKER_DEFAULT_CAPABILITIES).toContain("CAP_SYS_CHROOT");
    expect(v("chroot")).toBe("ALLOW"); // CAP_SYS_CHROOT is a default cap
    expect(v("ptrace")).toBe("ALLOW"); // kernel >= 4.8 rule
    expect(v("kcmp")).toBe("ERRNO(1)"); // needs CAP_SYS_PTRACE
    expect(v("open_by_handle_at")).toBe("ERRNO(1)"); // needs CAP_DAC_READ_SEARCH
  });

  test.skipIf(!onX86_64)("x86_64 host: arch_prctl allowed; i386 and x32 callers get the same policy", () => {
    expect(v("arch_prctl")).toBe("ALLOW");
    const i386 = judge(compiled.filter, AUDIT_ARCH_I386, archResolveName("x86"));
    expect(i386("write")).toBe("ALLOW");
    expect(i386("socketcall", [1])).toBe("ALLOW"); // i386's multiplexed socket calls
    expect(i386("mount")).toBe("ERRNO(1)");
    expect(i386("kexec_load")).toBe("ERRNO(1)");
    const x32 = judge(compiled.filter, AUDIT_ARCH_X86_64, archResolveName("x32"));
    expect(x32("read")).toBe("ALLOW");
    expect(x32("mount")).toBe("ERRNO(1)");
  });

  test.skipIf(!onX86_64)("a syscall newer than the profile returns ENOSYS, not EPERM", () => {
    expect(describe(runFilter(compiled.filter, { nr: 999, arch: AUDIT_ARCH_X86_64 }))).toBe("ERRNO(38)");
  });

  test("CAP_SYS_ADMIN opens mount, unshare, clone with namespaces and clone3", () => {
    const admin = judge(compileSeccomp(dockerDefaultSeccomp({ capabilities: [...DOCKER_DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"] })).filter);
    expect(admin("mount")).toBe("ALLOW");
    expect(admin("unshare", [CLONE_NEWUSER])).toBe("ALLOW");
    expect(admin("clone", [SIGCHLD | CLONE_NEWUSER])).toBe("ALLOW");
    expect(admin("clone3")).toBe("ALLOW");
    expect(admin("kexec_load")).toBe("ERRNO(1)");
  });

  test("without CAP_SYS_CHROOT, chroot is denied", () => {
    const caps = DOCKER_DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_SYS_CHROOT");
    expect(judge(compileSeccomp(dockerDefaultSeccomp({ capabilities: caps })).filter)("chroot")).toBe("ERRNO(1)");
  });

  test("arch conditions are resolved for the requested arch", () => {
    const names = (arch: string) => dockerDefaultSeccomp({ arch }).syscalls!.flatMap((s) => s.names);
    expect(names("amd64")).toContain("arch_prctl");
    expect(names("arm64")).not.toContain("arch_prctl");
    expect(names("arm64")).toContain("set_tls");
    const s390clone = dockerDefaultSeccomp({ arch: "s390x" }).syscalls!.filter((s) => s.names.includes("clone") && s.args);
    expect(s390clone.map((s) => s.args![0]!.index)).toEqual([1]);
    expect(dockerDefaultSeccomp({ arch: "s390x" }).architectures).toEqual(["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]);
  });

  test("each call returns a fresh object", () => {
    const a = dockerDefaultSeccomp();
    a.syscalls![0]!.names.push("kexec_load");
    expect(dockerDefaultSeccomp().syscalls![0]!.names).not.toContain("kexec_load");
  });
});
