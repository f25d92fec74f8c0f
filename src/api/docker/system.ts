/**
 * /_ping, /version, /info, /system/df and /auth of the Docker Engine API.
 */
import { jsonResponse } from "../http.ts";
import { backingFilesystem, hostInfo, openFds } from "../../engine/host-info.ts";
import type { ImageRecord } from "../../engine/images/store.ts";
import { VERSION } from "../../version.ts";
import { imageSummary, STORAGE_DRIVER } from "./image-shapes.ts";
import { jsonBody, strField } from "./params.ts";
import { route, type Ctx, type Route } from "./router.ts";
import { API_MAX, API_MIN } from "./version.ts";
import { invalidArgument } from "../../errors.ts";

const json = (ctx: Ctx, body: unknown, status = 200) => jsonResponse(body, status, ctx.headers);

function ping(ctx: Ctx): Response {
  const headers = new Headers(ctx.headers);
  headers.set("Builder-Version", "1");
  headers.set("Docker-Experimental", "false");
  headers.set("Swarm", "inactive");
  headers.set("Cache-Control", "no-cache, no-store, must-revalidate");
  headers.set("Pragma", "no-cache");
  headers.set("content-type", "text/plain; charset=utf-8");
  return new Response(ctx.req.method === "HEAD" ? null : "OK", { status: 200, headers });
}

const runtimeVersion = () => `bun ${Bun.version}`;

function version(ctx: Ctx): Response {
  const h = hostInfo();
  const details = {
    ApiVersion: API_MAX,
    Arch: h.goArch,
    BuildTime: "",
    Experimental: "false",
    GitCommit: "",
    GoVersion: runtimeVersion(),
    KernelVersion: h.kernelVersion,
    MinAPIVersion: API_MIN,
    Os: "linux",
  };
  return json(ctx, {
    Platform: { Name: "berth" },
    Components: [{ Name: "Engine", Version: VERSION, Details: details }],
    Version: VERSION,
    ApiVersion: API_MAX,
    MinAPIVersion: API_MIN,
    GitCommit: "",
    GoVersion: runtimeVersion(),
    Os: "linux",
    Arch: h.goArch,
    KernelVersion: h.kernelVersion,
    BuildTime: "",
  });
}

function info(ctx: Ctx): Response {
  const h = hostInfo();
  const e = ctx.engine;
  const c = e.containers.counts(ctx.tenant);
  const images = e.images.list(ctx.tenant, { all: true }).length;
  const reg = e.registries;
  return json(ctx, {
    ID: e.id,
    Containers: c.total,
    ContainersRunning: c.running,
    ContainersPaused: c.paused,
    ContainersStopped: c.stopped,
    Images: images,
    Driver: STORAGE_DRIVER,
    DriverStatus: [
      ["Backing Filesystem", backingFilesystem(e.dataRoot)],
      ["Supports d_type", "true"],
      ["Using metacopy", "false"],
      ["Native Overlay Diff", "true"],
    ],
    Plugins: { Volume: ["local"], Network: ["host", "null"], Authorization: null, Log: ["json-file"] },
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemoryTCP: false,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: false,
    BridgeNfIp6tables: false,
    Debug: ctx.log.enabled("debug"),
    NFd: openFds(),
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: "json-file",
    CgroupDriver: h.cgroupDriver,
    CgroupVersion: h.cgroupVersion,
    NEventsListener: e.events.listeners,
    KernelVersion: h.kernelVersion,
    OperatingSystem: h.operatingSystem,
    OSVersion: h.osVersion,
    OSType: h.osType,
    Architecture: h.architecture,
    IndexServerAddress: "https://index.docker.io/v1/",
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: null,
      AllowNondistributableArtifactsHostnames: null,
      InsecureRegistryCIDRs: reg.insecureCidrs,
      IndexConfigs: Object.fromEntries(
        [["docker.io", false] as const, ...reg.insecureNames.map((n) => [n, true] as const)].map(([name, insecure]) => [
          name,
          { Name: name, Mirrors: [], Secure: !insecure, Official: name === "docker.io" },
        ]),
      ),
      Mirrors: null,
    },
    GenericResources: null,
    NCPU: h.ncpu,
    MemTotal: h.memTotal,
    DockerRootDir: e.dataRoot,
    HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? "",
    HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? "",
    NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? "",
    Name: h.hostname,
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: VERSION,
    Runtimes: { berth: { path: "berth-runtime" } },
    DefaultRuntime: "berth",
    Swarm: { NodeID: "", NodeAddr: "", LocalNodeState: "inactive", ControlAvailable: false, Error: "", RemoteManagers: null },
    LiveRestoreEnabled: false,
    Isolation: "",
    InitBinary: "",
    ContainerdCommit: { ID: "", Expected: "" },
    RuncCommit: { ID: "", Expected: "" },
    InitCommit: { ID: "", Expected: "" },
    SecurityOptions: ["name=seccomp,profile=builtin", ...(h.cgroupVersion === "2" ? ["name=cgroupns"] : [])],
    Warnings: null,
  });
}

/** Shared size per image: the unpacked size of its layers that other images of the tenant also have. */
function sharedSizes(images: ImageRecord[]): Map<string, number> {
  const users = new Map<string, number>();
  for (const img of images) for (const d of new Set(img.layers.map((l) => l.diffID))) users.set(d, (users.get(d) ?? 0) + 1);
  const out = new Map<string, number>();
  for (const img of images) {
    const seen = new Set<string>();
    let n = 0;
    for (const l of img.layers) {
      if (seen.has(l.diffID)) continue;
      seen.add(l.diffID);
      if ((users.get(l.diffID) ?? 0) > 1) n += l.unpackedSize;
    }
    out.set(img.id, n);
  }
  return out;
}

function df(ctx: Ctx): Response {
  const images = ctx.engine.images.list(ctx.tenant, { all: true });
  const shared = sharedSizes(images);
  return json(ctx, {
    LayersSize: ctx.engine.images.layersSize(ctx.tenant),
    Images: images.map((i) => imageSummary(i, { containers: 0, sharedSize: shared.get(i.id) ?? 0 })),
    Containers: [],
    Volumes: [],
    BuildCache: [],
  });
}

async function auth(ctx: Ctx): Promise<Response> {
  const b = await jsonBody(ctx.req);
  const username = strField(b, "username");
  const password = strField(b, "password");
  const identityToken = strField(b, "identitytoken");
  const registryToken = strField(b, "registrytoken");
  const serverAddress = strField(b, "serveraddress");
  strField(b, "email");
  strField(b, "auth");
  if (!username && !identityToken && !registryToken) throw invalidArgument("username: missing (or identitytoken)");
  const res = await ctx.engine.images.login(serverAddress, {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(identityToken ? { identityToken } : {}),
    ...(registryToken ? { registryToken } : {}),
  });
  return json(ctx, { Status: res.status, IdentityToken: "" });
}

export const systemRoutes: Route[] = [
  route("HEAD", "/_ping", ping),
  route("GET", "/_ping", ping),
  route("GET", "/version", version),
  route("GET", "/info", info),
  route("GET", "/system/df", df),
  route("POST", "/auth", auth),
];
