/**
 * bin/berth against a berthd started here: the image verbs end to end, the
 * same answers as the docker CLI gives for the same daemon, and pull/push
 * with progress (plain lines off a terminal, redrawn bars on one) against
 * Debian's docker-registry on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildImage, dir, file, legacyDockerArchive, tarOf } from "../unit/engine/fixtures.ts";
import { BERTH, haveDocker, startBerthd, type Berthd } from "../helpers/berthd.ts";
import { haveRegistry, randomBytes, startRegistry, tempDir, type Registry } from "../helpers/registry-env.ts";

const lines = (s: string) => s.split("\n").filter((l) => l.trim() !== "");
const img = buildImage([tarOf([dir("etc"), file("etc/motd", "hi\n")])], { labels: { team: "core" } });
// `script` (util-linux) gives the CLI a terminal
const haveScript = Bun.which("script") !== null;

let d: Berthd;
let reg: Registry | undefined;
let work: string;

beforeAll(async () => {
  work = tempDir("berth-cli");
  writeFileSync(join(work, "img.tar"), legacyDockerArchive([{ img, tags: ["team/motd:1"] }]));
  if (haveRegistry) reg = await startRegistry();
  d = await startBerthd(reg ? ["--insecure-registry", reg.host] : []);
});
afterAll(async () => {
  await d?.cleanup();
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("berth CLI against berthd", () => {
  test("version and info come from the daemon", async () => {
    const v = await d.berth(["version", "--format", "{{.Server.ApiVersion}} {{.Client.ApiVersion}}"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe("1.43 1.43");
    const i = await d.berth(["info", "--format", "{{.DockerRootDir}} {{.Driver}}"]);
    expect(i.stdout.trim()).toBe(`${d.dataRoot} overlay`);
  });

  test("load, images (table, -q, --filter, --format), tag, inspect, history", async () => {
    const l = await d.berth(["load", "-i", join(work, "img.tar")]);
    expect(l.code).toBe(0);
    expect(l.stdout.trim()).toBe("Loaded image: team/motd:1");
    expect((await d.berth(["tag", "team/motd:1", "team/motd:2"])).code).toBe(0);
    const t = await d.berth(["images"]);
    expect(lines(t.stdout)[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(lines(t.stdout).slice(1).map((r) => r.split(/\s{3,}/).slice(0, 3))).toEqual([
      ["team/motd", "1", img.id.slice(7, 19)],
      ["team/motd", "2", img.id.slice(7, 19)],
    ]);
    const f = await d.berth(["images", "--filter", "label=team=core", "--format", "{{.Repository}}:{{.Tag}}"]);
    expect(lines(f.stdout)).toEqual(["team/motd:1", "team/motd:2"]);
    const q = await d.berth(["image", "ls", "-q", "--no-trunc", "team/motd:2"]);
    expect(lines(q.stdout)).toEqual([img.id]);
    const i = await d.berth(["inspect", "-f", "{{.Id}} {{index .Config.Labels \"team\"}}", "team/motd:2"]);
    expect(i.stdout.trim()).toBe(`${img.id} core`);
    const full = JSON.parse((await d.berth(["image", "inspect", "team/motd:1"])).stdout);
    const viaDocker = JSON.parse((await d.docker(["image", "inspect", "team/motd:1"])).stdout);
    expect(full).toEqual(viaDocker);
    const h = await d.berth(["history", "--format", "{{.CreatedBy}}|{{.Size}}", "team/motd:1"]);
    expect(lines(h.stdout)).toEqual(["layer 0|3B"]);
  });

  test("save -> rmi -> load round trip", async () => {
    const out = join(work, "saved.tar");
    expect((await d.berth(["save", "-o", out, "team/motd"])).code).toBe(0);
    expect(existsSync(out)).toBe(true);
    const rm = await d.berth(["rmi", "team/motd:1", "team/motd:2"]);
    expect(lines(rm.stdout)).toEqual(["Untagged: team/motd:1", "Untagged: team/motd:2", `Deleted: ${img.id}`]);
    const l = await d.berth(["load", "-q"], { stdin: readFileSync(out) });
    expect(lines(l.stdout).sort()).toEqual(["Loaded image: team/motd:1", "Loaded image: team/motd:2"]);
    expect(lines((await d.berth(["images", "-q", "--no-trunc"])).stdout)).toEqual([img.id, img.id]);
  });

  test.skipIf(!haveScript)("save refuses to write an archive to a terminal", () => {
    const r = Bun.spawnSync(["script", "-qec", `${BERTH} save team/motd:1`, "/dev/null"], { env: { PATH: process.env.PATH, BERTH_HOST: d.host }, stdout: "pipe" });
    expect(r.exitCode).toBe(2);
    expect(r.stdout.toString()).toContain("cowardly refusing to save to a terminal");
  });

  test("errors: the daemon's message and exit status 1; bad usage exits 2", async () => {
    const r = await d.berth(["rmi", "nosuch"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("berth: No such image: nosuch:latest");
    const u = await d.berth(["images", "--bogus"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("bogus");
    const c = await d.berth(["frobnicate"]);
    expect(c.code).toBe(2);
    const down = await d.berth(["-H", `unix://${join(work, "nobody.sock")}`, "images"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("cannot connect to berthd");
  });

  test("import from a file and from stdin; image prune", async () => {
    const tar = join(work, "root.tar");
    writeFileSync(tar, tarOf([dir("bin"), file("bin/tool", "#!/bin/sh\n")]));
    const a = await d.berth(["import", "-c", "CMD [\"/bin/tool\"]", "-m", "from berth", tar, "imp/one:1"]);
    expect(a.code).toBe(0);
    const id = a.stdout.trim();
    expect((await d.berth(["inspect", "-f", "{{.Id}} {{.Config.Cmd}} {{.Comment}}", "imp/one:1"])).stdout.trim()).toBe(`${id} [/bin/tool] from berth`);
    const b = await d.berth(["import", "-", "imp/two"], { stdin: readFileSync(tar) });
    expect(b.code).toBe(0);
    expect((await d.berth(["rmi", "imp/two"])).code).toBe(0);
    const p = await d.berth(["image", "prune", "-a", "-f", "--filter", "label=none"]);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain("Total reclaimed space:");
  });
});

describe.skipIf(!haveRegistry)("berth CLI: registries", () => {
  test("push and pull with plain progress lines off a terminal", async () => {
    const ref = `${reg!.host}/team/motd:1`;
    expect((await d.berth(["tag", "team/motd:1", ref])).code).toBe(0);
    const p = await d.berth(["push", ref]);
    expect(p.code).toBe(0);
    expect(lines(p.stdout)[0]).toBe(`The push refers to repository [${reg!.host}/team/motd]`);
    expect(lines(p.stdout)).toContain(`${img.layers[0]!.digest.slice(7, 19)}: Pushed`);
    expect(p.stdout).not.toContain("Pushing"); // byte updates are for terminals
    expect((await d.berth(["rmi", ref])).code).toBe(0);
    const pl = await d.berth(["pull", ref]);
    expect(pl.code).toBe(0);
    expect(lines(pl.stdout)[0]).toBe("1: Pulling from team/motd");
    expect(lines(pl.stdout).at(-1)).toBe(ref);
  });

  test.skipIf(!haveScript)("on a terminal, pull redraws each layer's line with a progress bar", async () => {
    const ref = `${reg!.host}/team/big:1`;
    const tar = join(work, "big.tar");
    writeFileSync(tar, tarOf([{ name: "big", type: "file", mode: 0o644, mtime: 0, data: randomBytes(3 << 20) }]));
    expect((await d.berth(["import", tar, ref])).code).toBe(0);
    expect((await d.berth(["push", ref])).code).toBe(0);
    expect((await d.berth(["rmi", ref])).code).toBe(0);
    const cmd = `COLUMNS=200 ${BERTH} pull ${ref}`;
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { env: { PATH: process.env.PATH, BERTH_HOST: d.host, DOCKER_CONFIG: d.dockerConfig, TERM: "xterm" }, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString();
    expect(out).toContain("\x1b[2K"); // lines cleared and redrawn
    expect(out).toMatch(/Downloading +[\d.]+[kM]?B\/[\d.]+MB/);
    expect(out).toContain("Pull complete");
  });
});

test.skipIf(!haveDocker)("docker and berth agree on the image list", async () => {
  const a = await d.docker(["images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
  const b = await d.berth(["images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
  expect(lines(b.stdout).sort()).toEqual(lines(a.stdout).sort());
});
