/** berth version and info. */
import { VERSION } from "../../version.ts";
import { API_MAX } from "../../api/docker/version.ts";
import { parse, type Verb } from "./context.ts";
import { render } from "./format.ts";

export const version: Verb = async (ctx, argv) => {
  const { values: v } = parse("version", argv, { format: { type: "string", short: "f" } }, { min: 0, max: 0, usage: "[--format FORMAT]" });
  const client = { Version: VERSION, ApiVersion: await ctx.client.apiVersion(), DefaultAPIVersion: API_MAX, Os: "linux", Arch: process.arch === "x64" ? "amd64" : process.arch };
  const server = await ctx.client.json<Record<string, string>>("GET", "/version");
  if (v.format) {
    ctx.out.write((v.format === "json" ? JSON.stringify({ Client: client, Server: server }) : render(v.format, { Client: client, Server: server })) + "\n");
    return 0;
  }
  ctx.out.write(
    [
      "Client:",
      ` Version:      ${client.Version}`,
      ` API version:  ${client.ApiVersion}`,
      ` OS/Arch:      ${client.Os}/${client.Arch}`,
      "",
      "Server:",
      ` Version:      ${server.Version}`,
      ` API version:  ${server.ApiVersion} (minimum version ${server.MinAPIVersion})`,
      ` Runtime:      ${server.GoVersion}`,
      ` OS/Arch:      ${server.Os}/${server.Arch}`,
      ` Kernel:       ${server.KernelVersion}`,
      "",
    ].join("\n"),
  );
  return 0;
};

export const info: Verb = async (ctx, argv) => {
  const { values: v } = parse("info", argv, { format: { type: "string", short: "f" } }, { min: 0, max: 0, usage: "[--format FORMAT]" });
  const i = await ctx.client.json<Record<string, unknown>>("GET", "/info");
  if (v.format) {
    ctx.out.write((v.format === "json" ? JSON.stringify(i) : render(v.format, i)) + "\n");
    return 0;
  }
  const lines = [
    `Containers: ${i.Containers}`,
    ` Running: ${i.ContainersRunning}`,
    ` Paused: ${i.ContainersPaused}`,
    ` Stopped: ${i.ContainersStopped}`,
    `Images: ${i.Images}`,
    `Server Version: ${i.ServerVersion}`,
    `Storage Driver: ${i.Driver}`,
    `Cgroup Driver: ${i.CgroupDriver}`,
    `Cgroup Version: ${i.CgroupVersion}`,
    `Kernel Version: ${i.KernelVersion}`,
    `Operating System: ${i.OperatingSystem}`,
    `Architecture: ${i.Architecture}`,
    `CPUs: ${i.NCPU}`,
    `Total Memory: ${(Number(i.MemTotal) / 1024 ** 3).toFixed(2)}GiB`,
    `Name: ${i.Name}`,
    `ID: ${i.ID}`,
    `Root Dir: ${i.DockerRootDir}`,
    "",
  ];
  ctx.out.write(lines.join("\n"));
  return 0;
};
