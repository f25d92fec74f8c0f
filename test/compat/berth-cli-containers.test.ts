/**
 * bin/berth's container verbs against a berthd of the test's own: run
 * (--rm, exit codes, -d, -i with piped stdin, -t through `script`), logs,
 * exec, stop, rm, cp both ways (and a hostile archive kept out of the
 * host), ps formats, inspect -f; the image is the busybox rootfs imported
 * as local/busybox.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BERTH, haveDocker, type Berthd } from "../helpers/berthd.ts";
import { IMG, ROOTFS, busyboxDaemon } from "../helpers/docker-busybox.ts";

const haveScript = Bun.which("script") !== null;
const lines = (s: string) => s.split("\n").filter((l) => l.trim() !== "");

describe.skipIf(!haveDocker || !existsSync(ROOTFS))("berth CLI: containers", () => {
  let d: Berthd;
  let work: string;

  beforeAll(async () => {
    d = await busyboxDaemon();
    work = mkdtempSync(join(tmpdir(), "berth-cli-ct-"));
  });

  afterAll(async () => {
    if (!d) return;
    const ids = lines((await d.berth(["ps", "-aq"])).stdout);
    if (ids.length) await d.berth(["rm", "-f", ...ids]);
    await d.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("run --rm prints the output, exits 0 and leaves no container", async () => {
    const r = await d.berth(["run", "--rm", IMG, "echo", "hello from berth"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello from berth\n");
    expect(r.code).toBe(0);
    expect((await d.berth(["ps", "-aq"])).stdout).toBe("");
  });

  test("exit codes: the container's, 127 for a missing command, 125 for a refusal or a bad flag", async () => {
    const r = await d.berth(["run", "--rm", IMG, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect([r.code, r.stdout, r.stderr]).toEqual([3, "out\n", "err\n"]);
    const missing = await d.berth(["run", "--rm", IMG, "/no/such/binary"]);
    expect(missing.code).toBe(127);
    // without --rm the container stays, and the CLI must not wait for an exit that will never come
    const kept = await d.berth(["run", "--name", "neverstarted", IMG, "/etc"]);
    expect(kept.code).toBe(126);
    const startA = await d.berth(["start", "-a", "neverstarted"]);
    const dockerStartA = await d.docker(["start", "-a", "neverstarted"]);
    expect([startA.code, dockerStartA.code]).toEqual([1, 1]);
    expect((await d.berth(["rm", "neverstarted"])).code).toBe(0);
    const noImage = await d.berth(["run", "--rm", "--pull", "never", "local/nosuch:1", "true"]);
    expect(noImage.code).toBe(125);
    expect(noImage.stderr).toContain("berth: Error response from daemon:");
    const badFlag = await d.berth(["run", "--bogus", IMG]);
    expect(badFlag.code).toBe(125);
    expect(badFlag.stderr).toContain("unknown flag: --bogus");
    const badValue = await d.berth(["run", "-m", "lots", IMG]);
    expect(badValue.code).toBe(125);
    expect(badValue.stderr).toContain('"-m, --memory"');
    const help = await d.berth(["run", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]");
  });

  test("run -i with stdin piped", async () => {
    const r = await d.berth(["run", "-i", "--rm", IMG, "cat"], { stdin: "hi\nthere\n" });
    expect(r.stdout).toBe("hi\nthere\n");
    expect(r.code).toBe(0);
  });

  test("run -d, logs -f, exec, stop, rm", async () => {
    const r = await d.berth(["run", "-d", "--name", "ticker", "-e", "WHO=berth", IMG, "sh", "-c", 'echo "hi $WHO"; trap "echo bye; exit 0" TERM; while true; do sleep 0.2; done']);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    // logs -f ends when the container does
    const follow = d.berth(["logs", "-f", "ticker"]);
    const e = await d.berth(["exec", "-e", "X=1", "-w", "/tmp", "ticker", "sh", "-c", 'echo "$X $(pwd) $WHO"; exit 4']);
    expect(e.stdout).toBe("1 /tmp berth\n");
    expect(e.code).toBe(4);
    const ei = await d.berth(["exec", "-i", "ticker", "sh", "-c", "tr a-z A-Z"], { stdin: "shout\n" });
    expect(ei.stdout).toBe("SHOUT\n");
    const ps = await d.berth(["ps", "--format", "{{.Names}} {{.State}}"]);
    expect(lines(ps.stdout)).toContain("ticker running");
    const stop = await d.berth(["stop", "-t", "5", "ticker"]);
    expect([stop.code, stop.stdout]).toEqual([0, "ticker\n"]);
    const f = await follow;
    expect(f.stdout).toBe("hi berth\nbye\n");
    const tail = await d.berth(["logs", "-n", "1", "-t", "ticker"]);
    expect(tail.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z bye\n$/);
    expect((await d.berth(["wait", "ticker"])).stdout).toBe("0\n");
    const rm = await d.berth(["rm", "ticker"]);
    expect([rm.code, rm.stdout]).toEqual([0, "ticker\n"]);
    const gone = await d.berth(["rm", "ticker"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("berth: Error response from daemon: No such container: ticker");
  });

  test("ps: table, -q, -a, -n, --no-trunc, --filter, --format; inspect -f", async () => {
    const c = await d.berth(["create", "--name", "idle", "-l", "role=test", IMG, "sleep", "1000"]);
    expect(c.code).toBe(0);
    const id = c.stdout.trim();
    const t = await d.berth(["ps", "-a"]);
    expect(lines(t.stdout)[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    const row = lines(t.stdout).find((l) => l.endsWith("idle"))!;
    expect(row).toStartWith(id.slice(0, 12));
    expect(row).toContain(IMG.replace(/:latest$/, ""));
    expect(row).toContain('"sleep 1000"');
    expect(row).toContain("Created");
    expect((await d.berth(["ps", "-q"])).stdout).not.toContain(id.slice(0, 12));
    expect(lines((await d.berth(["ps", "-aq", "--no-trunc"])).stdout)).toContain(id);
    expect(lines((await d.berth(["ps", "-a", "-n", "1", "--format", "{{.ID}}"])).stdout)).toEqual([id.slice(0, 12)]);
    expect(lines((await d.berth(["ps", "-a", "--filter", "label=role=test", "--format", "{{.Names}}|{{.Labels}}"])).stdout)).toEqual(["idle|role=test"]);
    expect(lines((await d.berth(["ps", "-a", "--format", "json"])).stdout).map((l) => JSON.parse(l).Names)).toContain("idle");
    const i = await d.berth(["inspect", "-f", "{{.Name}} {{.State.Status}} {{index .Config.Labels \"role\"}} {{json .Config.Cmd}}", "idle"]);
    expect(i.stdout).toBe('/idle created test ["sleep","1000"]\n');
    // an image name falls through to the image
    const img = await d.berth(["inspect", "-f", "{{.RepoTags}}", IMG]);
    expect(img.stdout).toBe(`[${IMG}]\n`);
    const none = await d.berth(["inspect", "no-such-thing"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("No such object: no-such-thing");
    expect((await d.berth(["rm", "idle"])).code).toBe(0);
  });

  test("cp both ways, into a directory and to a new name", async () => {
    const r = await d.berth(["run", "-d", "--name", "files", IMG, "sh", "-c", "mkdir -p /data/sub && echo inside > /data/sub/f && sleep 1000"]);
    expect(r.code).toBe(0);
    // out: a directory into an existing local directory keeps its name
    const out = join(work, "out");
    mkdirSync(out);
    for (let i = 0; i < 100 && (await d.berth(["exec", "files", "test", "-f", "/data/sub/f"])).code !== 0; i++) await Bun.sleep(50);
    const o = await d.berth(["cp", "files:/data", out]);
    expect(o.code).toBe(0);
    expect(readFileSync(join(out, "data", "sub", "f"), "utf8")).toBe("inside\n");
    // out: a file to a new local name
    const o2 = await d.berth(["cp", "files:/data/sub/f", join(work, "renamed")]);
    expect(o2.code).toBe(0);
    expect(readFileSync(join(work, "renamed"), "utf8")).toBe("inside\n");
    // in: a file to a new name, a directory into a directory
    writeFileSync(join(work, "local.txt"), "from the host\n");
    mkdirSync(join(work, "tree", "deep"), { recursive: true });
    writeFileSync(join(work, "tree", "deep", "g"), "tree file\n");
    expect((await d.berth(["cp", join(work, "local.txt"), "files:/data/copied.txt"])).code).toBe(0);
    expect((await d.berth(["cp", join(work, "tree"), "files:/data"])).code).toBe(0);
    const cat = await d.berth(["exec", "files", "cat", "/data/copied.txt", "/data/tree/deep/g"]);
    expect(cat.stdout).toBe("from the host\ntree file\n");
    // a tar on stdout
    const tarOut = await d.berth(["cp", "files:/data/sub/f", "-"]);
    expect(tarOut.stdout).toContain("inside\n");
    // errors
    expect((await d.berth(["cp", "files:/nope", out])).code).toBe(1);
    expect((await d.berth(["cp", join(work, "tree"), "files:/data/copied.txt"])).code).toBe(1);
    await d.berth(["rm", "-f", "files"]);
  });

  test("cp from a container cannot write outside the destination through a symlink", async () => {
    // the container's /data/escape is a symlink to a host-looking path; copying it out makes a link, never writes through it
    const victim = join(work, "victim");
    mkdirSync(victim);
    writeFileSync(join(victim, ".keep"), "");
    const r = await d.berth(["run", "-d", "--name", "evil", IMG, "sh", "-c", `mkdir -p /data/escape.d && ln -s ${victim} /data/escape && echo pwned > /data/escape.d/x && sleep 1000`]);
    expect(r.code).toBe(0);
    for (let i = 0; i < 100 && (await d.berth(["exec", "evil", "test", "-L", "/data/escape"])).code !== 0; i++) await Bun.sleep(50);
    const dest = join(work, "evil-out");
    mkdirSync(dest);
    await d.berth(["cp", "evil:/data", dest]);
    expect(existsSync(join(dest, "data"))).toBe(true);
    // nothing arrived in the link's target
    expect(Bun.spawnSync(["ls", "-A", victim]).stdout.toString().trim()).toBe(".keep");
    await d.berth(["rm", "-f", "evil"]);
  });

  test("stop, start -a, restart, kill, pause, rename, update, top, port", async () => {
    const r = await d.berth(["run", "-d", "--name", "life", "-p", "127.0.0.1::80", IMG, "sleep", "1000"]);
    expect(r.code).toBe(0);
    expect((await d.berth(["pause", "life"])).stdout).toBe("life\n");
    expect((await d.berth(["inspect", "-f", "{{.State.Status}}", "life"])).stdout).toBe("paused\n");
    expect((await d.berth(["unpause", "life"])).stdout).toBe("life\n");
    expect((await d.berth(["rename", "life", "life2"])).code).toBe(0);
    expect((await d.berth(["update", "--pids-limit", "50", "life2"])).stdout).toBe("life2\n");
    expect((await d.berth(["inspect", "-f", "{{.HostConfig.PidsLimit}}", "life2"])).stdout).toBe("50\n");
    const top = await d.berth(["top", "life2"]);
    if (top.code === 0) expect(top.stdout).toContain("sleep 1000");
    expect((await d.berth(["kill", "-s", "KILL", "life2"])).stdout).toBe("life2\n");
    expect((await d.berth(["wait", "life2"])).stdout).toBe("137\n");
    await d.berth(["rm", "-f", "life2"]);
    // start -a returns the container's code
    await d.berth(["create", "--name", "once", IMG, "sh", "-c", "echo again; exit 5"]);
    const s = await d.berth(["start", "-a", "once"]);
    expect([s.code, s.stdout]).toEqual([5, "again\n"]);
    await d.berth(["rm", "once"]);
  });

  test("exec that cannot start: the error in the stream, 126/127 as the docker CLI gets", async () => {
    expect((await d.berth(["run", "-d", "--name", "execfail", IMG, "sleep", "1000"])).code).toBe(0);
    for (const cli of [d.berth, d.docker]) {
      const notRunnable = await cli(["exec", "execfail", "/etc"]);
      expect(notRunnable.code).toBe(126);
      expect(notRunnable.stdout).toContain('exec "/etc"');
      const missing = await cli(["exec", "execfail", "nosuchcmd"]);
      expect(missing.code).toBe(127);
      expect(missing.stdout).toContain("executable file not found in $PATH: nosuchcmd");
      const noContainer = await cli(["exec", "nosuchctr", "true"]);
      expect(noContainer.code).toBe(1);
      expect(noContainer.stderr).toContain("No such container: nosuchctr");
    }
    // the container is untouched
    expect((await d.berth(["exec", "execfail", "true"])).code).toBe(0);
    await d.berth(["rm", "-f", "execfail"]);
  });

  test("ps and inspect templates print what the docker CLI prints", async () => {
    expect((await d.berth(["run", "-d", "--name", "tmpl", "-l", "tier=web", "-p", "127.0.0.1::80", IMG, "sleep", "1000"])).code).toBe(0);
    const both = async (args: string[]) => {
      const [a, b] = [await d.berth(args), await d.docker(args)];
      expect(a.stderr).toBe("");
      expect(a.code).toBe(b.code);
      return [a.stdout, b.stdout];
    };
    const drop = (l: string) => {
      const o = JSON.parse(l);
      delete o.RunningFor; // "N seconds ago" moves between the two runs
      delete o.Status;
      return o;
    };
    for (const f of ["json", "{{json .}}"]) {
      const [a, b] = await both(["ps", "--filter", "name=tmpl", "--format", f]);
      expect(Object.keys(JSON.parse(a!))).toEqual(Object.keys(JSON.parse(b!)));
      expect(drop(a!)).toEqual(drop(b!));
    }
    for (const f of ['{{.Names}}|{{.Label "tier"}}|{{.Ports}}|{{.Networks}}|{{.LocalVolumes}}', "table {{.Names}}\t{{.Image}}\t{{.Ports}}"]) {
      const [a, b] = await both(["ps", "--filter", "name=tmpl", "--format", f]);
      expect(a).toBe(b!);
    }
    const templates = [
      "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
      "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}} {{if .State.Running}}up{{else}}down{{end}}",
      "{{range $p, $b := .NetworkSettings.Ports}}{{$p}} -> {{(index $b 0).HostIp}}{{end}}",
      '{{with .State}}{{.Status}} {{.ExitCode}}{{end}} {{join .Config.Cmd " "}} {{upper .Name}} {{len .Config.Cmd}}',
      "{{json .Config.Labels}} {{.HostConfig.NetworkMode}} {{printf \"%-6s|\" .State.Status}}",
    ];
    for (const t of templates) {
      const [a, b] = await both(["inspect", "-f", t, "tmpl"]);
      expect(a).toBe(b!);
    }
    const [top, dtop] = await both(["top", "tmpl"]);
    expect(top!.split("\n")[0]).toBe(dtop!.split("\n")[0]!);
    await d.berth(["rm", "-f", "tmpl"]);
  });

  test("export to a pipe", async () => {
    await d.berth(["create", "--name", "exp", IMG, "true"]);
    const r = Bun.spawnSync(["sh", "-c", `${BERTH} export exp | tar -t | grep -c .`], { env: { PATH: process.env.PATH, BERTH_HOST: d.host }, stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(Number(r.stdout.toString().trim())).toBeGreaterThan(10);
    await d.berth(["rm", "exp"]);
  });

  test("container prune removes the stopped ones", async () => {
    await d.berth(["run", "--name", "done1", IMG, "true"]);
    const p = await d.berth(["container", "prune", "-f"]);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain("Deleted Containers:");
    expect(p.stdout).toContain("Total reclaimed space:");
    expect((await d.berth(["ps", "-a", "--filter", "name=done1", "-q"])).stdout).toBe("");
  });

  test.skipIf(!haveScript)("run -t: a terminal inside, the exit code out", () => {
    const cmd = `${BERTH} run --rm -t ${IMG} sh -c 'test -t 0 && test -t 1 && echo tty:yes; stty size; exit 7'`;
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { env: { PATH: process.env.PATH, BERTH_HOST: d.host, TERM: "xterm", COLUMNS: "100", LINES: "30" }, stdout: "pipe", stderr: "pipe" });
    const out = r.stdout.toString();
    expect(out).toContain("tty:yes");
    expect(r.exitCode).toBe(7);
  });

  test.skipIf(!haveScript)("run -it: typed input reaches the shell, output comes back once translated, the terminal is restored", async () => {
    const probe = "stty -a | grep -o -- '-\\?opost' | head -1";
    const cmd = `${probe}; ${BERTH} run --rm -it ${IMG} sh; echo "code $?"; ${probe}`;
    const p = Bun.spawn(["script", "-qec", cmd, "/dev/null"], { env: { PATH: process.env.PATH, BERTH_HOST: d.host, TERM: "xterm" }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    // type once the shell's prompt is there
    const reader = p.stdout.getReader();
    let text = "";
    while (!text.includes("/ # ")) {
      const r = await reader.read();
      if (r.done) break;
      text += new TextDecoder().decode(r.value);
    }
    p.stdin.write("echo $((6*7)); exit 3\n");
    await p.stdin.flush();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      text += new TextDecoder().decode(r.value);
    }
    await p.exited;
    expect(text).toContain("42\r\n");
    expect(text).not.toContain("\r\r\n");
    expect(text).toContain("code 3");
    expect(text.match(/^-?opost/gm)).toEqual(["opost", "opost"]);
  });
  test.skipIf(!haveScript)("run -it then ctrl-p ctrl-q detaches: exit 0, the container runs on; attach --detach-keys with another sequence", async () => {
    /** run cmd under a pty; each step sends its input once the output so far contains `after` */
    const typeAt = async (cmd: string, steps: Array<{ after: string; send: string }>) => {
      const p = Bun.spawn(["script", "-qec", cmd, "/dev/null"], { env: { PATH: process.env.PATH, BERTH_HOST: d.host, TERM: "xterm" }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      const reader = p.stdout.getReader();
      let text = "";
      const readUntil = async (want: string) => {
        while (!text.includes(want)) {
          const r = await reader.read();
          if (r.done) return;
          text += new TextDecoder().decode(r.value);
        }
      };
      for (const st of steps) {
        await readUntil(st.after);
        p.stdin.write(st.send);
        await p.stdin.flush();
      }
      await readUntil("\u0000never");
      await p.exited;
      return text;
    };
    // ctrl-p ctrl-q (in two writes: a started sequence is held across reads) detaches
    // the typed command is written so that its echo does not contain the word its output prints
    const out = await typeAt(`${BERTH} run -it --name detacher ${IMG} sh; echo "code $?"`, [
      { after: "/ # ", send: "echo o''ne\n" },
      { after: "one\r\n", send: "\x10" },
      { after: "", send: "\x11" },
    ]);
    expect(out).toContain("one");
    expect(out).toContain("code 0");
    expect((await d.berth(["inspect", "-f", "{{.State.Running}}", "detacher"])).stdout.trim()).toBe("true");
    // attach with its own sequence (ctrl-x, then "d"); typing works, the container still runs after
    const again = await typeAt(`${BERTH} attach --detach-keys ctrl-x,d detacher; echo "code $?"`, [
      { after: "", send: "echo t''wo\n" },
      { after: "two\r\n", send: "\x18d" },
    ]);
    expect(again).toContain("two");
    expect(again).toContain("code 0");
    expect((await d.berth(["inspect", "-f", "{{.State.Running}}", "detacher"])).stdout.trim()).toBe("true");
    const bad = await d.berth(["attach", "--detach-keys", "ctrl-ö", "detacher"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain("--detach-keys");
    await d.berth(["rm", "-f", "detacher"]);
  });
});
