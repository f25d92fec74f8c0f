/**
 * The real docker CLI against berthd: what `docker run` options do inside the
 * container (security, limits, identity, mounts) and the break-out checks of
 * a default container.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Berthd } from "../helpers/berthd.ts";
import { busyboxDaemon, canRun, IMG, teardown } from "../helpers/docker-busybox.ts";

describe.skipIf(!canRun)("docker CLI: run options inside the container", () => {
  let d: Berthd;
  beforeAll(async () => {
    d = await busyboxDaemon();
  });
  afterAll(async () => {
    await teardown(d);
  });
  const run = (args: string[], cmd: string) => d.docker(["run", "--rm", ...args, IMG, "sh", "-c", cmd]);

  test("--read-only: the root is read-only, --tmpfs stays writable", async () => {
    const r = await run(["--read-only", "--tmpfs", "/scratch:size=2m"], "touch /x; echo rc=$?; touch /scratch/y && echo tmpfs-ok; grep ' /scratch ' /proc/mounts");
    expect(r.stderr).toContain("Read-only file system");
    expect(r.stdout).toContain("rc=1");
    expect(r.stdout).toContain("tmpfs-ok");
    expect(r.stdout).toMatch(/tmpfs \/scratch tmpfs rw,.*size=2048k/);
  });

  test("capabilities: --cap-drop ALL, --cap-add, --privileged", async () => {
    const drop = await run(["--cap-drop", "ALL"], "chown 1:1 /tmp; echo rc=$?; grep CapEff /proc/self/status");
    expect(drop.stdout).toContain("rc=1");
    expect(drop.stderr).toContain("Operation not permitted");
    expect(drop.stdout).toMatch(/CapEff:\s+0000000000000000/);
    const add = await run(["--cap-drop", "ALL", "--cap-add", "CHOWN"], "chown 1:1 /tmp && echo chowned; grep CapEff /proc/self/status");
    expect(add.stdout).toContain("chowned");
    expect(add.stdout).toMatch(/CapEff:\s+0000000000000001/);
    const def = await run([], "grep CapEff /proc/self/status");
    expect(def.stdout).toMatch(/CapEff:\s+00000000a80425fb/);
    const priv = await run(["--privileged"], "grep CapEff /proc/self/status; mount -t tmpfs none /mnt && echo mounted; ls /dev | grep -c . ");
    expect(priv.stdout).toContain("mounted");
    expect(priv.stdout).not.toMatch(/CapEff:\s+00000000a80425fb/);
  });

  test("--security-opt no-new-privileges, --ulimit, --pids-limit", async () => {
    const nnp = await run(["--security-opt", "no-new-privileges"], "grep NoNewPrivs /proc/self/status");
    expect(nnp.stdout).toMatch(/NoNewPrivs:\s+1/);
    const dflt = await run([], "grep NoNewPrivs /proc/self/status");
    expect(dflt.stdout).toMatch(/NoNewPrivs:\s+0/);
    const ul = await run(["--ulimit", "nofile=100:200"], "ulimit -n; ulimit -Hn");
    expect(ul.stdout).toBe("100\n200\n");
    const pl = await run(["--pids-limit", "20"], "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max");
    expect(pl.stdout.trim()).toBe("20");
  });

  test("--init: docker-init is pid 1 and reaps; --user, -w, -e, --env-file, --hostname, --shm-size", async () => {
    const init = await run(["--init"], "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$");
    expect(init.stdout.split("\n")[0]).toMatch(/^\/sbin\/docker-init -- sh -c /);
    expect(init.stdout.split("\n")[1]).not.toBe("1");
    const who = await run(["--user", "1000:1000", "-w", "/tmp/work", "-e", "A=1", "-e", "B=two words"], "id -u; id -g; pwd; echo $A; echo $B");
    expect(who.stdout).toBe("1000\n1000\n/tmp/work\n1\ntwo words\n");
    const envFile = join(d.dir, "env.list");
    writeFileSync(envFile, "# comment\nFROM_FILE=yes\nSPACED=a b\n");
    const ef = await run(["--env-file", envFile], "echo $FROM_FILE; echo $SPACED");
    expect(ef.stdout).toBe("yes\na b\n");
    rmSync(envFile);
    const hn = await run(["--hostname", "myhost"], "hostname; cat /etc/hostname");
    expect(hn.stdout).toBe("myhost\nmyhost\n");
    const shm = await run(["--shm-size", "8m"], "grep ' /dev/shm ' /proc/mounts");
    expect(shm.stdout).toMatch(/size=8192k/);
  });

  test("-w through an image's symlink is made inside the rootfs, never on the host", async () => {
    const hostDir = join(d.dir, "wd-target");
    await d.docker(["run", "--name", "lnk", IMG, "ln", "-s", `../../../../../../..${hostDir}`, "/evil"]);
    expect((await d.docker(["commit", "lnk", "local/evil-wd"])).code).toBe(0);
    await d.docker(["rm", "lnk"]);
    const r = await d.docker(["run", "--rm", "-w", "/evil/made", "local/evil-wd", "pwd"]);
    expect(r.code).toBe(0);
    // the link resolved in the container's root: its own copy of that path
    expect(r.stdout).toBe(`${hostDir}/made\n`);
    expect(existsSync(join(hostDir, "made"))).toBe(false);
    expect(existsSync(hostDir)).toBe(false);
    await d.docker(["rmi", "local/evil-wd"]);
  });

  test("--device /dev/null:/dev/mynull works; a default container has no host devices", async () => {
    const dev = await run(["--device", "/dev/null:/dev/mynull"], "echo hi > /dev/mynull && echo wrote; ls -l /dev/mynull");
    expect(dev.stdout).toContain("wrote");
    expect(dev.stdout).toMatch(/^crw.* 1,\s+3 .*\/dev\/mynull/m);
    const none = await run([], "ls /dev");
    expect(none.stdout).not.toMatch(/\bsda\b|\bvda\b|\bmem\b|\bkmsg\b/);
  });

  test("break-out checks: a default container cannot mount, see host processes, write /proc/sys, or load modules", async () => {
    const r = await run([], [
      "mount -t tmpfs none /mnt 2>/dev/null && echo MOUNTED || echo mount-refused",
      "ps -o pid,comm | tail -n +2 | wc -l",
      "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo PROCSYS || echo procsys-refused",
      "echo x > /proc/sysrq-trigger 2>/dev/null && echo SYSRQ || echo sysrq-refused",
      "cat /proc/kcore >/dev/null 2>&1 && echo KCORE || echo kcore-refused",
      "mknod /tmp/sda b 8 0 2>/dev/null && (head -c1 /tmp/sda >/dev/null 2>&1 && echo BLOCKDEV || echo blockdev-refused) || echo mknod-refused",
      "ls /sys/fs/cgroup >/dev/null; touch /sys/fs/cgroup/x 2>/dev/null && echo CGROUPW || echo cgroup-ro",
    ].join("; "));
    expect(r.stdout).toContain("mount-refused");
    // ps: sh, ps and wc/tail (its own processes only)
    const nproc = Number(r.stdout.split("\n")[1]);
    expect(nproc).toBeGreaterThan(0);
    expect(nproc).toBeLessThan(6);
    expect(r.stdout).toContain("procsys-refused");
    expect(r.stdout).toContain("sysrq-refused");
    expect(r.stdout).toContain("kcore-refused");
    expect(r.stdout).toMatch(/mknod-refused|blockdev-refused/);
    expect(r.stdout).toContain("cgroup-ro");
    expect(readFileSync("/proc/sys/kernel/domainname", "utf8")).not.toBe("1\n");
  });
});
