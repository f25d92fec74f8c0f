/**
 * `docker volume create/ls/inspect/rm/prune` with the real docker CLI against
 * a private berthd.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { haveDocker, startBerthd, type Berthd } from "../helpers/berthd.ts";

let d: Berthd;
const lines = (s: string) => s.split("\n").filter((l) => l.trim() !== "");

beforeAll(async () => {
  if (haveDocker) d = await startBerthd();
});
afterAll(async () => {
  await d?.cleanup();
});

describe.skipIf(!haveDocker)("docker volume verbs against berthd", () => {
  test("create, ls, inspect, rm", async () => {
    const c = await d.docker(["volume", "create", "--label", "app=web", "web-data"]);
    expect(c.stderr).toBe("");
    expect(c.stdout.trim()).toBe("web-data");
    expect((await d.docker(["volume", "create", "other"])).code).toBe(0);

    const ls = await d.docker(["volume", "ls", "--format", "{{.Driver}} {{.Name}}"]);
    expect(ls.code).toBe(0);
    expect(lines(ls.stdout).sort()).toEqual(["local other", "local web-data"]);
    const lsf = await d.docker(["volume", "ls", "-q", "--filter", "label=app=web"]);
    expect(lines(lsf.stdout)).toEqual(["web-data"]);
    const dangling = await d.docker(["volume", "ls", "-q", "--filter", "dangling=true"]);
    expect(lines(dangling.stdout).sort()).toEqual(["other", "web-data"]);

    const ins = await d.docker(["volume", "inspect", "web-data"]);
    expect(ins.code).toBe(0);
    const [v] = JSON.parse(ins.stdout);
    expect(v).toMatchObject({ Name: "web-data", Driver: "local", Scope: "local", Labels: { app: "web" } });
    expect(v.Mountpoint.startsWith(d.dataRoot + "/volumes/")).toBe(true);
    expect(existsSync(v.Mountpoint)).toBe(true);

    const rm = await d.docker(["volume", "rm", "web-data"]);
    expect(rm.code).toBe(0);
    expect(rm.stdout.trim()).toBe("web-data");
    expect(existsSync(v.Mountpoint)).toBe(false);
    const gone = await d.docker(["volume", "inspect", "web-data"]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain("no such volume");
    expect((await d.docker(["volume", "rm", "other"])).code).toBe(0);
  });

  test("tmpfs driver options show in inspect; bad options are refused", async () => {
    const c = await d.docker(["volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=4m", "scratch"]);
    expect(c.code).toBe(0);
    const ins = JSON.parse((await d.docker(["volume", "inspect", "scratch"])).stdout)[0];
    expect(ins.Options).toEqual({ type: "tmpfs", device: "tmpfs", o: "size=4m" });
    const bad = await d.docker(["volume", "create", "--opt", "colour=red", "bad"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('invalid option key: "colour"');
    const drv = await d.docker(["volume", "create", "-d", "nfs", "bad2"]);
    expect(drv.code).not.toBe(0);
    expect(drv.stderr).toContain('plugin "nfs" not found');
    const name = await d.docker(["volume", "create", "a/b"]);
    expect(name.code).not.toBe(0);
    expect(name.stderr).toContain("includes invalid characters for a local volume name");
    expect(lines((await d.docker(["volume", "ls", "-q"])).stdout)).toEqual(["scratch"]);
    expect((await d.docker(["volume", "rm", "scratch"])).code).toBe(0);
  });

  test("prune: anonymous only by default, --all removes named ones too", async () => {
    // an anonymous volume as the container service labels them
    const anon = await d.fetch("/v1.43/volumes/create", {
      method: "POST",
      body: JSON.stringify({ Labels: { "com.docker.volume.anonymous": "" } }),
      headers: { "content-type": "application/json" },
    });
    expect(anon.status).toBe(201);
    const anonName = ((await anon.json()) as { Name: string }).Name;
    expect(anonName).toMatch(/^[0-9a-f]{64}$/);
    expect((await d.docker(["volume", "create", "keep"])).code).toBe(0);

    const p1 = await d.docker(["volume", "prune", "-f"]);
    expect(p1.code).toBe(0);
    expect(p1.stdout).toContain(anonName);
    expect(p1.stdout).not.toContain("keep");
    expect(lines((await d.docker(["volume", "ls", "-q"])).stdout)).toEqual(["keep"]);

    const p2 = await d.docker(["volume", "prune", "-f", "--all"]);
    expect(p2.code).toBe(0);
    expect(p2.stdout).toContain("keep");
    expect(lines((await d.docker(["volume", "ls", "-q"])).stdout)).toEqual([]);
  });
});
