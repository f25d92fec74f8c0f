/**
 * The real docker CLI against berthd: the container's files. docker cp both
 * ways (a directory, into a volume mount, and escapes through symlinks),
 * volumes (named, bind :ro, tmpfs, anonymous from -v /data and rm -v, an
 * in-use volume), docker export, docker commit of a container.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Berthd } from "../helpers/berthd.ts";
import { busyboxDaemon, canRun, IMG, teardown } from "../helpers/docker-busybox.ts";

describe.skipIf(!canRun)("docker CLI: container files", () => {
  let d: Berthd;
  let host: string;
  beforeAll(async () => {
    d = await busyboxDaemon();
    host = mkdtempSync(join(tmpdir(), "berth-cp-"));
  });
  afterAll(async () => {
    await teardown(d);
    if (host) rmSync(host, { recursive: true, force: true });
  });

  test("cp out and in: a file, a directory, stdout tar", async () => {
    await d.docker(["run", "-d", "--name", "cpc", IMG, "sh", "-c", "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && sleep 1000"]);
    const sh = (cmd: string) => d.docker(["exec", "cpc", "sh", "-c", cmd]);
    // the container wrote its files before cp starts
    for (let i = 0; i < 100 && (await sh("cat /data/sub/b")).stdout !== "two\n"; i++) await Bun.sleep(100);
    expect((await d.docker(["cp", "cpc:/data/a", join(host, "a")])).code).toBe(0);
    expect(readFileSync(join(host, "a"), "utf8")).toBe("one\n");
    expect((await d.docker(["cp", "cpc:/data", join(host, "datadir")])).code).toBe(0);
    expect(readFileSync(join(host, "datadir", "sub", "b"), "utf8")).toBe("two\n");
    const tar = await d.docker(["cp", "cpc:/data/sub", "-"]);
    expect(tar.code).toBe(0);
    writeFileSync(join(host, "t.tar"), tar.stdout);
    expect(execFileSync("tar", ["-tf", join(host, "t.tar")], { encoding: "utf8" }).split("\n")).toContain("sub/b");
    // in: a file, then a directory
    writeFileSync(join(host, "in.txt"), "from host\n");
    expect((await d.docker(["cp", join(host, "in.txt"), "cpc:/tmp/in.txt"])).code).toBe(0);
    expect((await sh("cat /tmp/in.txt")).stdout).toBe("from host\n");
    mkdirSync(join(host, "indir", "deep"), { recursive: true });
    writeFileSync(join(host, "indir", "deep", "f"), "deep\n");
    expect((await d.docker(["cp", join(host, "indir"), "cpc:/tmp/"])).code).toBe(0);
    expect((await sh("cat /tmp/indir/deep/f")).stdout).toBe("deep\n");
    const missing = await d.docker(["cp", "cpc:/no/such", join(host, "x")]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("Could not find the file /no/such in container cpc");
    await d.docker(["rm", "-f", "cpc"]);
  });

  test("cp through symlinks stays in the container: out gives its view, in lands in its rootfs", async () => {
    const shadowBefore = readFileSync("/etc/shadow");
    const hostsBefore = readFileSync("/etc/hosts");
    await d.docker(["run", "-d", "--name", "esc", IMG, "sh", "-c",
      "echo container-shadow > /etc/shadow; ln -s /etc/shadow /shadowlink; ln -s ../../../../../etc /up; ln -s /etc /etclink; sleep 1000"]);
    const sh = (cmd: string) => d.docker(["exec", "esc", "sh", "-c", cmd]);
    for (let i = 0; i < 100 && (await sh("test -L /etclink && echo ok")).stdout !== "ok\n"; i++) await Bun.sleep(100);
    // out: a symlink to an absolute path is the container's file (docker cp -L follows in the container)
    expect((await d.docker(["cp", "-L", "esc:/shadowlink", join(host, "shadow")])).code).toBe(0);
    expect(readFileSync(join(host, "shadow"), "utf8")).toBe("container-shadow\n");
    expect((await d.docker(["cp", "esc:/up/shadow", join(host, "shadow2")])).code).toBe(0);
    expect(readFileSync(join(host, "shadow2"), "utf8")).toBe("container-shadow\n");
    // without -L the link itself is copied
    expect((await d.docker(["cp", "esc:/shadowlink", join(host, "link")])).code).toBe(0);
    expect(execFileSync("readlink", [join(host, "link")], { encoding: "utf8" }).trim()).toBe("/etc/shadow");
    // in: through /etclink and /up the file lands in the container's /etc
    writeFileSync(join(host, "hosts"), "evil\n");
    expect((await d.docker(["cp", join(host, "hosts"), "esc:/etclink/hosts-evil"])).code).toBe(0);
    expect((await d.docker(["cp", join(host, "hosts"), "esc:/up/hosts-up"])).code).toBe(0);
    expect((await sh("cat /etc/hosts-evil /etc/hosts-up")).stdout).toBe("evil\nevil\n");
    expect(existsSync("/etc/hosts-evil")).toBe(false);
    expect(existsSync("/etc/hosts-up")).toBe(false);
    // a tar with ../ entries and an absolute symlink followed by a file through it
    const evil = join(host, "evil");
    mkdirSync(evil);
    execFileSync("sh", ["-c", `cd ${evil} && ln -s /etc escape && tar -cf ../evil.tar escape && mkdir -p escape2 && echo pwn > escape2/pwned && tar --transform 's,^escape2,escape,' -rf ../evil.tar escape2/pwned`]);
    const tarBytes = readFileSync(join(host, "evil.tar"));
    const evilCp = await d.docker(["cp", "-", "esc:/tmp"], { stdin: tarBytes });
    expect(existsSync("/etc/pwned")).toBe(false);
    // refused, or written inside the container (its /tmp/escape -> /etc is its own /etc)
    if (evilCp.code === 0) expect((await sh("cat /etc/pwned /tmp/escape/pwned 2>/dev/null | head -1")).stdout).toBe("pwn\n");
    else expect(evilCp.stderr).not.toBe("");
    expect(readFileSync("/etc/shadow").equals(shadowBefore)).toBe(true);
    expect(readFileSync("/etc/hosts").equals(hostsBefore)).toBe(true);
    await d.docker(["rm", "-f", "esc"]);
  });

  test("cp into a volume mount writes the volume", async () => {
    await d.docker(["volume", "create", "cpvol"]);
    await d.docker(["run", "-d", "--name", "cpv", "-v", "cpvol:/vol", IMG, "sleep", "1000"]);
    writeFileSync(join(host, "v.txt"), "in the volume\n");
    expect((await d.docker(["cp", join(host, "v.txt"), "cpv:/vol/v.txt"])).code).toBe(0);
    await d.docker(["rm", "-f", "cpv"]);
    const r = await d.docker(["run", "--rm", "-v", "cpvol:/vol", IMG, "cat", "/vol/v.txt"]);
    expect(r.stdout).toBe("in the volume\n");
    const mp = JSON.parse((await d.docker(["volume", "inspect", "cpvol"])).stdout)[0].Mountpoint;
    expect(readFileSync(join(mp, "v.txt"), "utf8")).toBe("in the volume\n");
    await d.docker(["volume", "rm", "cpvol"]);
  });

  test("volumes: named persists, bind :ro is read-only, tmpfs mount, in-use volume cannot be removed", async () => {
    expect((await d.docker(["run", "--rm", "-v", "keep:/data", IMG, "sh", "-c", "echo kept > /data/f"])).code).toBe(0);
    expect((await d.docker(["run", "--rm", "-v", "keep:/data", IMG, "cat", "/data/f"])).stdout).toBe("kept\n");
    const bind = join(host, "bind");
    mkdirSync(bind);
    writeFileSync(join(bind, "r"), "host file\n");
    const ro = await d.docker(["run", "--rm", "-v", `${bind}:/x:ro`, IMG, "sh", "-c", "cat /x/r; echo no > /x/w"]);
    expect(ro.stdout).toBe("host file\n");
    expect(ro.stderr).toContain("Read-only file system");
    expect(ro.code).not.toBe(0);
    expect(existsSync(join(bind, "w"))).toBe(false);
    const rw = await d.docker(["run", "--rm", "-v", `${bind}:/x`, IMG, "sh", "-c", "echo yes > /x/w"]);
    expect(rw.code).toBe(0);
    expect(readFileSync(join(bind, "w"), "utf8")).toBe("yes\n");
    const tm = await d.docker(["run", "--rm", "--mount", "type=tmpfs,destination=/scratch,tmpfs-size=1m", IMG, "sh", "-c", "grep ' /scratch ' /proc/mounts; echo hi > /scratch/f && cat /scratch/f"]);
    expect(tm.stdout).toMatch(/^tmpfs \/scratch tmpfs rw.*size=1024k/);
    expect(tm.stdout).toContain("hi\n");
    await d.docker(["run", "-d", "--name", "user", "-v", "keep:/data", IMG, "sleep", "1000"]);
    const rmInUse = await d.docker(["volume", "rm", "keep"]);
    expect(rmInUse.code).not.toBe(0);
    expect(rmInUse.stderr).toContain("volume is in use");
    expect((await d.docker(["volume", "ls", "-q"])).stdout).toContain("keep");
    await d.docker(["rm", "-f", "user"]);
    expect((await d.docker(["volume", "rm", "keep"])).code).toBe(0);
  });

  test("an anonymous volume (create -v /data) is the container's; rm -v removes it", async () => {
    const before = new Set((await d.docker(["volume", "ls", "-q"])).stdout.split("\n").filter(Boolean));
    await d.docker(["create", "--name", "anon", "-v", "/data", IMG, "sh", "-c", "echo x > /data/x"]);
    expect((await d.docker(["start", "-a", "anon"])).code).toBe(0);
    const [info] = JSON.parse((await d.docker(["inspect", "anon"])).stdout);
    const m = info.Mounts.find((x: { Destination: string }) => x.Destination === "/data");
    expect(m.Type).toBe("volume");
    expect(m.Name).toMatch(/^[0-9a-f]{64}$/);
    expect(info.Config.Volumes).toEqual({ "/data": {} });
    expect(before.has(m.Name)).toBe(false);
    expect((await d.docker(["volume", "ls", "-q"])).stdout).toContain(m.Name);
    expect(readFileSync(join(m.Source, "x"), "utf8")).toBe("x\n");
    expect((await d.docker(["rm", "-v", "anon"])).code).toBe(0);
    expect((await d.docker(["volume", "ls", "-q"])).stdout).not.toContain(m.Name);
    expect(existsSync(m.Source)).toBe(false);
  });

  test("export lists the container's filesystem; commit makes a runnable image of its changes", async () => {
    await d.docker(["run", "--name", "src", IMG, "sh", "-c", "echo committed > /hello.txt; rm /etc/hostname.bak 2>/dev/null; mkdir /newdir"]);
    const ex = Bun.spawnSync(["sh", "-c", `docker export src | tar -t`], { env: { PATH: process.env.PATH, DOCKER_HOST: d.host, DOCKER_CONFIG: d.dockerConfig, HOME: d.dockerConfig } });
    expect(ex.exitCode).toBe(0);
    const names = ex.stdout.toString().split("\n");
    // docker's member names: "bin/busybox", not "./bin/busybox"
    expect(names.filter((n) => n.startsWith("./") && n !== "./")).toEqual([]);
    expect(names).toContain("hello.txt");
    expect(names).toContain("bin/busybox");
    expect(names.some((n) => n === "newdir/" || n === "newdir")).toBe(true);
    const c = await d.docker(["commit", "-c", "CMD [\"cat\", \"/hello.txt\"]", "-m", "my change", "src", "local/committed:v1"]);
    expect(c.code).toBe(0);
    expect(c.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const r = await d.docker(["run", "--rm", "local/committed:v1"]);
    expect(r.stdout).toBe("committed\n");
    expect(r.code).toBe(0);
    const hist = await d.docker(["history", "--no-trunc", "--format", "{{.Comment}}", "local/committed:v1"]);
    expect(hist.stdout).toContain("my change");
    // a container running now can be committed too (paused for the copy, by default)
    await d.docker(["run", "-d", "--name", "live", IMG, "sh", "-c", "echo live > /live.txt; sleep 1000"]);
    for (let i = 0; i < 100 && (await d.docker(["exec", "live", "cat", "/live.txt"])).stdout !== "live\n"; i++) await Bun.sleep(100);
    expect((await d.docker(["commit", "live", "local/live:1"])).code).toBe(0);
    expect((await d.docker(["inspect", "-f", "{{.State.Status}}", "live"])).stdout.trim()).toBe("running");
    expect((await d.docker(["run", "--rm", "local/live:1", "cat", "/live.txt"])).stdout).toBe("live\n");
    const bad = await d.fetch("/commit?container=src&repo=" + encodeURIComponent("Bad Name"), { method: "POST" });
    expect(bad.status).toBe(400);
    const none = await d.fetch("/commit?container=nosuch&repo=x", { method: "POST" });
    expect(none.status).toBe(404);
    await d.docker(["rm", "-f", "live", "src"]);
    await d.docker(["rmi", "local/live:1", "local/committed:v1"]);
  });
});
