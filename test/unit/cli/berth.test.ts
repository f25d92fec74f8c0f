import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registryAuthHeader, resolveHost } from "../../../src/cli/berth/client.ts";
import { filtersParam } from "../../../src/cli/berth/context.ts";
import { formatRows, goString, humanDuration, render, table } from "../../../src/cli/berth/format.ts";
import { display } from "../../../src/cli/berth/progress.ts";

const dir = mkdtempSync(join(tmpdir(), "berth-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function body(lines: object[]): ReadableStream<Uint8Array> {
  const text = lines.map((l) => JSON.stringify(l) + "\r\n").join("");
  return new Response(text).body!;
}

describe("berth output", () => {
  test("tables align as docker's tabwriter: three spaces, columns at least 10 wide", () => {
    expect(table([["A", "BB"], ["ccc", "d"]])).toBe("A         BB\nccc       d\n");
    expect(table([["CONTAINER ID", "X"], ["abc", ""]])).toBe("CONTAINER ID   X\nabc            \n");
    expect(table([["PID", "CMD"], ["1", "sh"]], 20)).toBe("PID" + " ".repeat(17) + "CMD\n1" + " ".repeat(19) + "sh\n");
  });

  test("durations as go-units says them", () => {
    expect(humanDuration(500)).toBe("Less than a second");
    expect(humanDuration(1000)).toBe("1 second");
    expect(humanDuration(59_000)).toBe("59 seconds");
    expect(humanDuration(90_000)).toBe("About a minute");
    expect(humanDuration(3_600_000)).toBe("About an hour");
    expect(humanDuration(5 * 86_400_000)).toBe("5 days");
    expect(humanDuration(3 * 365 * 86_400_000)).toBe("3 years");
  });

  test("--format templates", () => {
    const v = { Id: "sha256:x", Config: { Cmd: ["/bin/sh", "-c"], Labels: { "a.b": "1" } }, N: 3 };
    expect(render("{{.Id}} {{.Config.Cmd}} {{.N}}", v)).toBe("sha256:x [/bin/sh -c] 3");
    expect(render('{{index .Config.Labels "a.b"}}', v)).toBe("1");
    expect(render("{{json .Config.Cmd}}", v)).toBe('["/bin/sh","-c"]');
    expect(render("{{json .}}", { a: 1 })).toBe('{"a":1}');
    expect(render("{{.Missing}}", v)).toBe("<no value>");
    expect(goString({ b: 1, a: [1, 2] })).toBe("map[a:[1 2] b:1]");
    expect(() => render("{{range .X", v)).toThrow("template: unclosed action");
    expect(() => render("{{nosuch .X}}", v)).toThrow('function "nosuch" not defined');
    expect(() => render("{{if .N}}x", v)).toThrow("no {{end}}");
    expect(formatRows("table {{.Repository}}\\t{{.Tag}}", [{ Repository: "r", Tag: "t" }], { Repository: "REPOSITORY", Tag: "TAG" })).toBe("REPOSITORY   TAG\nr            t\n");
    expect(formatRows("json", [{ b: 2, a: 1 }], {})).toBe('{"a":1,"b":2}\n');
  });

  test("Go template control structures and functions", () => {
    const c = {
      Name: "/web",
      State: { Running: true, ExitCode: 0, Health: null },
      Config: { Env: ["A=1", "B=2"], Labels: { z: "last", a: "first" }, Cmd: null },
      NetworkSettings: { Networks: { bridge: { IPAddress: "10.0.0.2" }, back: { IPAddress: "10.1.0.2" } } },
      Mounts: [],
    };
    expect(render("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", c)).toBe("10.1.0.2 10.0.0.2 ");
    expect(render("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", c)).toBe("a=first;z=last;");
    expect(render("{{range $i, $e := .Config.Env}}{{if $i}},{{end}}{{$e}}{{end}}", c)).toBe("A=1,B=2");
    expect(render("{{range .Mounts}}x{{else}}none{{end}}", c)).toBe("none");
    expect(render("{{if .State.Running}}up{{else if .State.ExitCode}}failed{{else}}done{{end}}", c)).toBe("up");
    expect(render("{{if not .State.Running}}up{{else if eq .State.ExitCode 0}}ok{{end}}", c)).toBe("ok");
    expect(render("{{with .NetworkSettings.Networks.bridge}}{{.IPAddress}}{{end}}", c)).toBe("10.0.0.2");
    expect(render("{{with .State.Health}}{{.Status}}{{else}}no health{{end}}", c)).toBe("no health");
    expect(render("{{$n := .Name}}{{range .Config.Env}}{{$n}}:{{.}} {{end}}", c)).toBe("/web:A=1 /web:B=2 ");
    expect(render("{{.Name | upper}} {{lower \"AB\"}} {{title \"hello world\"}} {{join .Config.Env \",\"}} {{len .Config.Env}}", c)).toBe("/WEB ab Hello World A=1,B=2 2");
    expect(render('{{index (split "a:b:c" ":") 1}} {{printf "%-5s|%3d|%q" "ab" 7 "x"}} {{truncate .Name 2}} {{pad "x" 1 2}}|', c)).toBe('b ab   |  7|"x" /w  x  |');
    expect(render("{{json .Config.Labels}} {{.Config.Cmd}} {{/* a comment */}}{{and .State.Running .Name}} {{or .Config.Cmd \"dflt\"}}", c)).toBe('{"z":"last","a":"first"} <nil> /web dflt');
    expect(render("a  {{- .Name -}}  b\n{{- \"\" }}", c)).toBe("a/webb");
    expect(render("{{(index .Config.Env 0)}} {{$.Name}} {{range .Config.Env}}{{$.Name}}{{end}}", c)).toBe("A=1 /web /web/web");
    expect(render('{{.Label "role"}}|{{.Label "nope"}}', { Labels: { role: "db" }, Label(this: { Labels: Record<string, string> }, k: unknown) { return this.Labels[String(k)] ?? ""; } })).toBe("db|");
    expect(render("{{range 3}}{{.}}{{end}} {{slice .Name 1 3}} {{gt (len .Config.Env) 1}}", c)).toBe("012 we true");
  });

  test("filters flags become the API's JSON", () => {
    expect(filtersParam(["dangling=true", "label=a=b"], { reference: ["x"] })).toBe('{"dangling":{"true":true},"label":{"a=b":true},"reference":{"x":true}}');
    expect(filtersParam([])).toBeUndefined();
    expect(() => filtersParam(["nokey"])).toThrow("want key=value");
  });
});

describe("progress display", () => {
  const stream = [
    { status: "Pulling from test/x", id: "1" },
    { status: "Pulling fs layer", id: "aaa", progressDetail: {} },
    { status: "Pulling fs layer", id: "bbb", progressDetail: {} },
    { status: "Downloading", id: "aaa", progressDetail: { current: 5, total: 10 } },
    { status: "Pull complete", id: "aaa", progressDetail: {} },
    { status: "Pull complete", id: "bbb", progressDetail: {} },
    { status: "Digest: sha256:x" },
  ];

  test("not a terminal: one plain line per status, no byte counts", async () => {
    let out = "";
    await display(body(stream), { write: (s) => void (out += s), isTTY: false });
    expect(out).toBe("1: Pulling from test/x\naaa: Pulling fs layer\nbbb: Pulling fs layer\naaa: Pull complete\nbbb: Pull complete\nDigest: sha256:x\n");
  });

  test("a terminal: each layer's line redrawn in place with its bar", async () => {
    let out = "";
    await display(body(stream), { write: (s) => void (out += s), isTTY: true, columns: 200 });
    // the second layer's first line: a new line, then one up; the first layer's update: two up
    expect(out).toContain("\n\x1b[1A\r\x1b[2Kbbb: Pulling fs layer\r\x1b[1B");
    expect(out).toContain("\x1b[2A\r\x1b[2Kaaa: Downloading [" + "=".repeat(25) + ">" + " ".repeat(25) + "]       5B/10B\r\x1b[2B");
    expect(out.endsWith("Digest: sha256:x\n")).toBe(true);
  });

  test("an error message in the stream is thrown; aux is handed over", async () => {
    const aux: unknown[] = [];
    await display(body([{ aux: { Tag: "1" } }]), { write: () => {}, isTTY: false }, (a) => aux.push(a));
    expect(aux).toEqual([{ Tag: "1" }]);
    await expect(display(body([{ errorDetail: { message: "boom" }, error: "boom" }]), { write: () => {}, isTTY: false })).rejects.toThrow("boom");
  });
});

describe("berth client", () => {
  test("the socket: -H, BERTH_HOST, DOCKER_HOST, default", () => {
    expect(resolveHost("unix:///a.sock", { BERTH_HOST: "unix:///b.sock" })).toBe("unix:///a.sock");
    expect(resolveHost(undefined, { BERTH_HOST: "unix:///b.sock", DOCKER_HOST: "unix:///c.sock" })).toBe("unix:///b.sock");
    expect(resolveHost(undefined, { DOCKER_HOST: "unix:///c.sock" })).toBe("unix:///c.sock");
    expect(resolveHost(undefined, {})).toBe("unix:///run/berth/berth.sock");
    expect(() => resolveHost("tcp://1.2.3.4:2375", {})).toThrow("only unix://");
  });

  test("registry logins from docker's config file become X-Registry-Auth", () => {
    writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: { "reg:5000": { auth: Buffer.from("u:p:w").toString("base64") }, "https://index.docker.io/v1/": { identitytoken: "tok" } } }));
    const env = { DOCKER_CONFIG: dir };
    expect(JSON.parse(Buffer.from(registryAuthHeader("reg:5000", env), "base64url").toString())).toEqual({ serveraddress: "reg:5000", username: "u", password: "p:w" });
    expect(JSON.parse(Buffer.from(registryAuthHeader("docker.io", env), "base64url").toString())).toEqual({ serveraddress: "https://index.docker.io/v1/", identitytoken: "tok" });
    expect(registryAuthHeader("other:1", env)).toBe("");
    expect(registryAuthHeader("reg:5000", { DOCKER_CONFIG: join(dir, "none") })).toBe("");
  });
});

describe("berth --help", () => {
  const BERTH = join(import.meta.dir, "..", "..", "..", "bin", "berth");
  const verbs = ["run", "create", "start", "attach", "exec", "logs", "cp", "stats", "ps", "stop", "restart", "kill", "rm", "wait", "pause", "unpause", "rename", "update", "port", "top", "export", "images", "inspect", "history", "tag", "rmi", "pull", "push", "load", "save", "import", "version", "info"];
  const groups: Record<string, string[]> = {
    image: ["ls", "inspect", "history", "tag", "rm", "prune", "pull", "push", "load", "save", "import"],
    container: ["ls", "ps", "prune", "inspect", "run", "exec", "cp"],
    volume: ["create", "ls", "inspect", "rm", "prune"],
    network: ["create", "ls", "inspect", "rm", "connect", "disconnect", "prune"],
  };
  // a socket nobody listens on: --help must not need the daemon
  const env = { PATH: process.env.PATH, BERTH_HOST: `unix://${join(dir, "nobody.sock")}` };
  const run = (args: string[]) => {
    const r = Bun.spawnSync([BERTH, ...args], { env, stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  test("the top-level help lists every verb", () => {
    const r = run(["--help"]);
    expect(r.code).toBe(0);
    for (const v of [...verbs, ...Object.keys(groups)]) expect(r.out).toMatch(new RegExp(`^  ${v}\\s`, "m"));
    expect(run(["help"]).out).toBe(r.out);
  });

  test("each verb's --help prints its usage and exits 0", () => {
    const all = [...verbs.map((v) => [v]), ...Object.entries(groups).flatMap(([g, subs]) => subs.map((s) => [g, s]))];
    const bad = all.filter((args) => {
      const r = run([...args, "--help"]);
      return r.code !== 0 || !r.out.startsWith("Usage:  berth ") || r.err !== "";
    });
    expect(bad).toEqual([]);
    expect(run(["help", "cp"]).out).toBe(run(["cp", "--help"]).out);
  }, 120_000);

  test("a group alone or with --help lists its commands", () => {
    for (const g of Object.keys(groups)) {
      for (const args of [[g], [g, "--help"]]) {
        const r = run(args);
        expect(r.code).toBe(0);
        for (const s of groups[g]!) expect(r.out).toMatch(new RegExp(`^  ${s}$`, "m"));
      }
    }
    expect(run(["volume", "frob"]).code).toBe(2);
  }, 60_000);
});
