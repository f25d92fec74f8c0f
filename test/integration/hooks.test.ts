/**
 * OCI hooks with real processes (root): shell scripts in the bundle record
 * their argv, stdin (the state), environment, mount namespace and open fds;
 * the tests check order and timing across create/start/delete, where each
 * kind runs, failure semantics and timeouts.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Hook, HookName, Spec } from "../../src/oci/runtime-spec.ts";
import { RuntimeCli, makeBundle, uniqueId, isRoot, processesMatching, ROOTFS, RUNTIME, type Bundle } from "./harness.ts";

const d = isRoot ? describe : describe.skip;
let rt: RuntimeCli;
beforeAll(() => {
  if (isRoot) rt = new RuntimeCli();
});
afterAll(() => rt?.cleanup());

/**
 * The recording hook. Usage: hook.sh NAME [STATUS [SLEEP]]. Appends NAME to
 * $REC/order, lists its open fds in $REC/NAME.fds and writes $REC/NAME
 * (key=value lines, stdin last); exits STATUS (after printing a message on
 * stderr when non-zero), or execs sleep SLEEP.
 */
function recorder(rec: string): string {
  return `#!/bin/sh
REC=${rec}
name=$1
[ -n "$3" ] && exec sleep "$3"
# first, before the shell opens anything of its own (it keeps copies of stdout
# and stderr while redirecting: remember what they were)
# (our /proc entry by path: $$ is wrong where /proc is not our pid namespace's)
cd /proc/self && me=$(pwd -P) && cd /
out1=$(readlink $me/fd/1)
out2=$(readlink $me/fd/2)
ls -l $me/fd > "$REC/$name.fds" 2>&1
state=$(cat)
pid=$(echo "$state" | sed -n 's/.*"pid":\\([0-9][0-9]*\\).*/\\1/p')
{
  echo "argv=$0 $*"
  echo "mnt=$(readlink /proc/self/ns/mnt)"
  echo "hookvar=\${HOOKVAR-}"
  echo "inherited=\${BERTH_HOOK_TEST_INHERITED-}"
  [ -e "$BERTH_HOST_MARK" ] && echo "hostfs=yes" || echo "hostfs=no"
  echo "exe=$([ -n "$pid" ] && readlink /proc/$pid/exe)"
  echo "stdout=$out1"
  echo "stderr=$out2"
  echo "stdin=$state"
} > "$REC/$name"
echo "$name" >> "$REC/order"
if [ "\${2:-0}" != 0 ]; then echo "boom from $name" >&2; exit "$2"; fi
exit 0
`;
}

interface Setup {
  b: Bundle;
  /** host directory the hooks write to; /rec in the container */
  rec: string;
  id: string;
  order(): string[];
  record(name: string): Record<string, string>;
  state(name: string): { status: string; id: string; pid?: number; bundle: string; annotations?: Record<string, string> };
  done(): void;
}

const HOST_MARK = "host-only-marker";

/**
 * A bundle whose hooks are the recorder: runtime-side and createContainer ones
 * run the host copy (path in the runtime namespace), startContainer ones the
 * copy in /rec (path in the container). `hooks` maps kind -> list of [args after
 * the name] (e.g. [["3"]] for one hook that exits 3).
 */
function setup(hooks: Partial<Record<HookName, Array<Partial<Hook> & { extra?: string[] }>>>, args: string[], edit?: (s: Spec) => void): Setup {
  const id = uniqueId("hk");
  const b = makeBundle(args, (s) => {
    s.annotations = { "org.berth.test": "hooks" };
    edit?.(s);
  });
  const rec = join(b.dir, "rec");
  mkdirSync(rec);
  writeFileSync(join(b.dir, HOST_MARK), "");
  const hostScript = join(b.dir, "hook.sh");
  writeFileSync(hostScript, recorder(rec));
  writeFileSync(join(rec, "hook.sh"), recorder("/rec"));
  chmodSync(hostScript, 0o755);
  chmodSync(join(rec, "hook.sh"), 0o755);
  b.spec.mounts!.push({ destination: "/rec", type: "bind", source: rec, options: ["rbind", "rw"] });
  b.spec.hooks = {};
  for (const [kind, list] of Object.entries(hooks) as Array<[HookName, Array<Partial<Hook> & { extra?: string[] }>]>) {
    b.spec.hooks[kind] = list.map((h, i) => {
      const name = list.length > 1 ? `${kind}${i}` : kind;
      const path = kind === "startContainer" ? "/rec/hook.sh" : hostScript;
      const { extra, ...rest } = h;
      const env = [`HOOKVAR=${kind}`, `BERTH_HOST_MARK=${join(b.dir, HOST_MARK)}`, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"];
      return { path, args: [path, name, ...(extra ?? [])], env, ...rest };
    });
  }
  b.write();
  return {
    b,
    rec,
    id,
    order: () => (existsSync(join(rec, "order")) ? readFileSync(join(rec, "order"), "utf8").trim().split("\n") : []),
    record: (name) => Object.fromEntries(readFileSync(join(rec, name), "utf8").trimEnd().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])),
    state(name) {
      return JSON.parse(this.record(name).stdin!);
    },
    done: () => {
      rt.run(["delete", "--force", id]);
      b.cleanup();
    },
  };
}

const ALL_KINDS: HookName[] = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];
const hostMnt = () => readlinkSync("/proc/self/ns/mnt");

d("hooks: order, timing, state and namespaces", () => {
  test("each kind runs once, in lifecycle order, at its step of create/start/delete", () => {
    const s = setup(Object.fromEntries(ALL_KINDS.map((k) => [k, [{}]])), ["sh", "-c", "echo process >> /rec/order; sleep 600"]);
    try {
      expect(rt.run(["create", "--bundle", s.b.dir, s.id]).code).toBe(0);
      expect(s.order()).toEqual(["prestart", "createRuntime", "createContainer"]);
      const pid = rt.state(s.id).pid;

      const start = rt.run(["start", s.id]);
      expect(start.code).toBe(0);
      // startContainer before the process; poststart once start has seen the exec
      const order = s.order();
      expect(order.slice(0, 4)).toEqual(["prestart", "createRuntime", "createContainer", "startContainer"]);
      expect(order).toContain("poststart");
      expect(order.indexOf("poststart")).toBeGreaterThan(order.indexOf("startContainer"));
      expect(rt.state(s.id).status).toBe("running");

      expect(rt.run(["kill", s.id, "KILL"]).code).toBe(0);
      expect(s.order()).not.toContain("poststop");
      expect(rt.run(["delete", "--force", s.id]).code).toBe(0);
      expect(s.order().at(-1)).toBe("poststop");
      expect(s.order().filter((n) => n !== "process").length).toBe(6);

      // the state on stdin: the lifecycle's status at that step, this container's pid
      const want = { created: ["prestart", "createRuntime", "createContainer", "startContainer"], running: ["poststart"], stopped: ["poststop"] };
      for (const [status, names] of Object.entries(want)) {
        for (const n of names) {
          const st = s.state(n);
          expect({ n, status: st.status }).toEqual({ n, status });
          expect(st.id).toBe(s.id);
          expect(st.bundle).toBe(s.b.dir);
          expect(st.annotations).toEqual({ "org.berth.test": "hooks" });
          if (status !== "stopped") expect({ n, pid: st.pid }).toEqual({ n, pid });
        }
      }
    } finally {
      s.done();
    }
  });

  test("runtime-namespace hooks run in ours; createContainer and startContainer in the container's, createContainer before pivot_root", () => {
    const s = setup(Object.fromEntries(ALL_KINDS.map((k) => [k, [{}]])), ["sleep", "600"]);
    try {
      expect(rt.run(["create", "--bundle", s.b.dir, s.id]).code).toBe(0);
      const pid = rt.state(s.id).pid;
      const containerMnt = readlinkSync(`/proc/${pid}/ns/mnt`);
      expect(containerMnt).not.toBe(hostMnt());
      expect(rt.run(["start", s.id]).code).toBe(0);
      expect(rt.run(["delete", "--force", s.id]).code).toBe(0);
      for (const n of ["prestart", "createRuntime", "poststart", "poststop"]) expect({ n, mnt: s.record(n).mnt }).toEqual({ n, mnt: hostMnt() });
      for (const n of ["createContainer", "startContainer"]) expect({ n, mnt: s.record(n).mnt }).toEqual({ n, mnt: containerMnt });
      // createContainer still sees the host's filesystem (its path resolved there); startContainer only the container's
      expect(s.record("createContainer").hostfs).toBe("yes");
      expect(s.record("startContainer").hostfs).toBe("no");
    } finally {
      s.done();
    }
  });

  test("argv[0] as given (not the path), env exactly the hook's own; without env a hook inherits the runtime's", () => {
    // busybox picks its applet by argv[0]: with argv[0] "sh" it runs sh -c; were
    // argv[0] the path, it would look for an applet named "-c" and fail.
    const busybox = (name: string, rec: string): Hook => ({
      path: join(ROOTFS, "bin", "busybox"),
      args: ["sh", "-c", `echo "$0" > ${rec}/${name}.argv0`, name],
    });
    const s = setup({ createRuntime: [{}], poststart: [{ env: undefined }] }, ["true"]);
    try {
      s.b.spec.hooks!.prestart = [busybox("prestart", s.rec)];
      s.b.spec.hooks!.createContainer = [busybox("createContainer", s.rec)];
      s.b.write();
      // a variable of the runtime's environment: inherited only by hooks without `env`
      const env = { ...process.env, BERTH_HOOK_TEST_INHERITED: "from-runtime" };
      expect(rt.run(["run", "--bundle", s.b.dir, s.id], { env }).code).toBe(0);
      expect(readFileSync(join(s.rec, "prestart.argv0"), "utf8")).toBe("prestart\n");
      expect(readFileSync(join(s.rec, "createContainer.argv0"), "utf8")).toBe("createContainer\n");
      const cr = s.record("createRuntime");
      expect(cr.hookvar).toBe("createRuntime");
      expect(cr.inherited).toBe("");
      expect(s.record("poststart").inherited).toBe("from-runtime");
    } finally {
      s.done();
    }
  });

  test("run in the foreground: all hooks in order, poststop after the process exits", () => {
    const s = setup(Object.fromEntries(ALL_KINDS.map((k) => [k, [{}]])), ["sh", "-c", "echo process >> /rec/order"]);
    try {
      const r = rt.run(["run", "--bundle", s.b.dir, s.id]);
      expect(r.code).toBe(0);
      const order = s.order();
      expect(order.filter((n) => n !== "process")).toEqual(ALL_KINDS);
      expect(order.indexOf("process")).toBeGreaterThan(order.indexOf("startContainer"));
      expect(order.indexOf("process")).toBeLessThan(order.indexOf("poststop"));
      expect(rt.ids()).not.toContain(s.id);
    } finally {
      s.done();
    }
  });

  test("poststart runs after the exec: the state's pid already runs the user's program (create hooks saw berth-init)", () => {
    const s = setup({ createRuntime: [{}], poststart: [{}] }, ["sleep", "600"]);
    try {
      expect(rt.run(["create", "--bundle", s.b.dir, s.id]).code).toBe(0);
      expect(rt.run(["start", s.id]).code).toBe(0);
      expect(s.record("createRuntime").exe).toContain("berth-init");
      expect(s.record("poststart").exe).toEndWith("busybox");
    } finally {
      s.done();
    }
  });
});

d("hooks: failures", () => {
  const gone = (s: Setup) => {
    expect(rt.ids()).not.toContain(s.id);
    expect(rt.run(["state", s.id]).code).not.toBe(0);
    expect(processesMatching(s.b.dir)).toEqual([]);
  };

  for (const kind of ["prestart", "createRuntime", "createContainer"] as const) {
    test(`a failing ${kind} hook fails create, names the hook with its output, destroys the container, then poststop runs`, () => {
      const later = ALL_KINDS.slice(ALL_KINDS.indexOf(kind) + 1, ALL_KINDS.indexOf("poststart"));
      const s = setup({ [kind]: [{ extra: ["3"] }], ...Object.fromEntries(later.map((k) => [k, [{}]])), poststop: [{}] }, ["true"]);
      try {
        const r = rt.run(["create", "--bundle", s.b.dir, s.id]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`hooks.${kind}[0]`);
        expect(r.stderr).toContain("exited with status 3");
        expect(r.stderr).toContain(`boom from ${kind}`);
        expect(s.order()).toEqual([kind, "poststop"]);
        gone(s);
      } finally {
        s.done();
      }
    });
  }

  test("a failing startContainer hook fails start; the process never runs; the container is destroyed and poststop runs", () => {
    const s = setup({ startContainer: [{ extra: ["4"] }], poststart: [{}], poststop: [{}] }, ["sh", "-c", "echo process >> /rec/order"]);
    try {
      expect(rt.run(["create", "--bundle", s.b.dir, s.id]).code).toBe(0);
      const r = rt.run(["start", s.id]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("hooks.startContainer[0]");
      expect(r.stderr).toContain("exited with status 4");
      expect(r.stderr).toContain("boom from startContainer");
      expect(s.order()).toEqual(["startContainer", "poststop"]);
      gone(s);
    } finally {
      s.done();
    }
  });

  test("a failing poststart hook is a warning: the next one runs, start succeeds, the container runs", () => {
    const s = setup({ poststart: [{ extra: ["5"] }, {}] }, ["sleep", "600"]);
    try {
      expect(rt.run(["create", "--bundle", s.b.dir, s.id]).code).toBe(0);
      const r = rt.run(["start", s.id]);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("warning");
      expect(r.stderr).toContain("hooks.poststart[0]");
      expect(s.order()).toEqual(["poststart0", "poststart1"]);
      expect(rt.state(s.id).status).toBe("running");
    } finally {
      s.done();
    }
  });

  test("a failing poststop hook is a warning: the next one runs and delete succeeds", () => {
    const s = setup({ poststop: [{ extra: ["6"] }, {}] }, ["true"]);
    try {
      expect(rt.run(["create", "--bundle", s.b.dir, s.id]).code).toBe(0);
      const r = rt.run(["delete", "--force", s.id]);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("hooks.poststop[0]");
      expect(s.order()).toEqual(["poststop0", "poststop1"]);
      gone(s);
    } finally {
      s.done();
    }
  });

  for (const kind of ["createRuntime", "createContainer"] as const) {
    test(`a ${kind} hook past its timeout is killed and create fails`, () => {
      // a sleep nobody else runs: the hook process execs it
      const secs = String(900 + Math.floor(Math.random() * 99));
      const s = setup({ [kind]: [{ extra: ["0", secs], timeout: 1 }] }, ["true"]);
      try {
        const r = rt.run(["create", "--bundle", s.b.dir, s.id]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`hooks.${kind}[0]`);
        expect(r.stderr).toContain("timed out after 1 s (killed)");
        expect(processesMatching(`sleep\0${secs}\0`)).toEqual([]);
        gone(s);
      } finally {
        s.done();
      }
    });
  }
});

d("hooks: what they can reach", () => {
  test("hooks get none of berth's fds (sync socket, fifos, state directory) nor the container's --preserve-fds", () => {
    const s = setup({ createRuntime: [{}], createContainer: [{}], startContainer: [{}], poststart: [{}] }, ["sleep", "600"]);
    const marker = join(s.b.dir, "preserved-fd-marker");
    writeFileSync(marker, "");
    const preserved = openSync(marker, "r");
    try {
      // create with fd 3 handed to the container (stderr to a file: the container keeps it open)
      const errFile = join(s.b.dir, "create.err");
      const create = Bun.spawnSync([RUNTIME, "--root", rt.root, "create", "--preserve-fds", "1", "--bundle", s.b.dir, s.id], {
        stdio: ["ignore", "ignore", Bun.file(errFile), preserved],
      });
      expect(readFileSync(errFile, "utf8")).toBe("");
      expect(create.exitCode).toBe(0);
      expect(rt.run(["start", s.id]).code).toBe(0);
      for (const n of ["createRuntime", "createContainer", "startContainer", "poststart"]) {
        // "lr-x------ 1 root root 64 ... 3 -> /path". Above stdio the shell keeps
        // the script and its own copies of stdout/stderr; anything else came from berth.
        const fds = readFileSync(join(s.rec, `${n}.fds`), "utf8")
          .split("\n")
          .map((l) => / (\d+) -> (.*)$/.exec(l))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => [Number(m[1]), m[2]!] as const);
        const stdio = [s.record(n).stdout, s.record(n).stderr, ...fds.filter(([fd]) => fd === 0).map(([, t]) => t)];
        const extra = fds.filter(([fd, t]) => fd > 2 && !t.endsWith("hook.sh") && !stdio.includes(t)).map(([, t]) => t);
        expect({ n, extra }).toEqual({ n, extra: [] });
      }
      // the container's process has the preserved fd, not the start-status fifo
      const pid = rt.state(s.id).pid;
      const targets = Bun.spawnSync(["sh", "-c", `for f in /proc/${pid}/fd/*; do readlink $f; done`]).stdout.toString();
      expect(targets).toContain(marker);
      expect(targets).not.toContain("start.status");
      expect(targets).not.toContain("exec.fifo");
    } finally {
      closeSync(preserved);
      s.done();
    }
  });
});

d("a container without process", () => {
  test("is created; start fails naming process and leaves it stopped; delete cleans up", () => {
    const s = setup({}, ["true"], (spec) => delete spec.process);
    try {
      expect(rt.run(["create", "--bundle", s.b.dir, s.id]).code).toBe(0);
      expect(rt.state(s.id).status).toBe("created");
      const r = rt.run(["start", s.id]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("process: not set");
      expect(rt.state(s.id).status).toBe("stopped");
      expect(rt.run(["delete", s.id]).code).toBe(0);
      expect(rt.ids()).not.toContain(s.id);
    } finally {
      s.done();
    }
  });
});
