import { describe, expect, test } from "bun:test";
import { mergeImageConfig } from "../../src/engine/containers/merge-config.ts";
import { BerthError } from "../../src/errors.ts";

const image = {
  User: "app",
  Env: ["PATH=/img/bin", "LANG=C", "A=image"],
  Entrypoint: ["/entry.sh"],
  Cmd: ["serve", "--port", "80"],
  WorkingDir: "/srv",
  ExposedPorts: { "80/tcp": {} },
  Volumes: { "/data": {} },
  Labels: { a: "image", b: "image" },
  StopSignal: "SIGQUIT",
  Healthcheck: { Test: ["CMD", "true"], Interval: 5, Retries: 3 },
};

function err(f: () => unknown): BerthError {
  try {
    f();
  } catch (e) {
    return e as BerthError;
  }
  throw new Error("did not throw");
}

describe("mergeImageConfig", () => {
  test("nothing from the user: the image's defaults", () => {
    const m = mergeImageConfig({ Image: "x" }, image);
    expect(m.path).toBe("/entry.sh");
    expect(m.args).toEqual(["serve", "--port", "80"]);
    expect(m.config.User).toBe("app");
    expect(m.config.WorkingDir).toBe("/srv");
    expect(m.config.Env).toEqual(image.Env);
    expect(m.config.StopSignal).toBe("SIGQUIT");
    expect(m.config.Healthcheck).toEqual(image.Healthcheck);
    expect(m.config.Image).toBe("x");
  });

  test("Env: the user's value wins by name, the image's others are kept", () => {
    const m = mergeImageConfig({ Env: ["A=user", "B=user"] }, image);
    expect(m.config.Env).toEqual(["A=user", "B=user", "PATH=/img/bin", "LANG=C"]);
  });

  test("Cmd replaces the image's Cmd, keeps its Entrypoint", () => {
    const m = mergeImageConfig({ Cmd: ["sh"] }, image);
    expect([m.path, ...m.args]).toEqual(["/entry.sh", "sh"]);
  });

  test("a user Entrypoint drops the image's Cmd", () => {
    const m = mergeImageConfig({ Entrypoint: ["/bin/echo"] }, image);
    expect([m.path, ...m.args]).toEqual(["/bin/echo"]);
    expect(m.config.Cmd).toBeNull();
  });

  test('Entrypoint [""] clears the image entrypoint; the user Cmd runs alone', () => {
    const m = mergeImageConfig({ Entrypoint: [""], Cmd: ["ls", "-l"] }, image);
    expect([m.path, ...m.args]).toEqual(["ls", "-l"]);
  });

  test('Entrypoint [""] without Cmd: no command', () => {
    const e = err(() => mergeImageConfig({ Entrypoint: [""] }, image));
    expect(e.code).toBe("InvalidArgument");
    expect(e.message).toBe("no command specified");
  });

  test("Entrypoint [] (empty, not null) clears the entrypoint but inherits Cmd", () => {
    const m = mergeImageConfig({ Entrypoint: [] }, image);
    expect([m.path, ...m.args]).toEqual(["serve", "--port", "80"]);
  });

  test("no command anywhere: docker's error", () => {
    const e = err(() => mergeImageConfig({}, {}));
    expect(e).toBeInstanceOf(BerthError);
    expect(e.code).toBe("InvalidArgument");
    expect(e.message).toBe("no command specified");
    expect(() => mergeImageConfig({}, undefined)).toThrow("no command specified");
  });

  test("User, WorkingDir, StopSignal: the user's wins", () => {
    const m = mergeImageConfig({ User: "1000:1000", WorkingDir: "/w", StopSignal: "SIGTERM" }, image);
    expect(m.config.User).toBe("1000:1000");
    expect(m.config.WorkingDir).toBe("/w");
    expect(m.config.StopSignal).toBe("SIGTERM");
  });

  test("ExposedPorts, Volumes, Labels are unions (the user's label wins)", () => {
    const m = mergeImageConfig({ ExposedPorts: { "443/tcp": {} }, Volumes: { "/logs": {} }, Labels: { b: "user", c: "user" } }, image);
    expect(Object.keys(m.config.ExposedPorts!).sort()).toEqual(["443/tcp", "80/tcp"]);
    expect(Object.keys(m.config.Volumes!).sort()).toEqual(["/data", "/logs"]);
    expect(m.config.Labels).toEqual({ a: "image", b: "user", c: "user" });
  });

  test("Healthcheck: user fields override, zero fields inherit", () => {
    const m = mergeImageConfig({ Healthcheck: { Interval: 9 } }, image);
    expect(m.config.Healthcheck).toStrictEqual({ Test: ["CMD", "true"], Interval: 9, Retries: 3 });
    const none = mergeImageConfig({ Healthcheck: { Test: ["NONE"] } }, image);
    expect(none.config.Healthcheck!.Test).toEqual(["NONE"]);
  });

  test("HostConfig is not part of Config; the body is not modified", () => {
    const body = { Cmd: ["x"], Env: ["A=1"], HostConfig: { Memory: 1 } };
    const copy = structuredClone(body);
    const m = mergeImageConfig(body, image);
    expect("HostConfig" in m.config).toBe(false);
    expect(body).toEqual(copy);
  });
});
