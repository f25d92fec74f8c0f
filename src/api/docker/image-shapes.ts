/**
 * The engine's image records in the Docker Engine API's shapes (v1.43):
 * ImageSummary, ImageInspect, HistoryResponseItem, ImageDeleteResponseItem.
 * References are shown in docker's familiar form ("busybox:latest").
 */
import { familiarString } from "../../engine/images/reference.ts";
import type { ContainerConfig } from "../../engine/images/spec.ts";
import type { DeleteItem, HistoryItem, ImageRecord } from "../../engine/images/store.ts";
import { versionLess } from "./version.ts";

export const STORAGE_DRIVER = "overlay";

const unix = (iso: string | undefined) => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
};

export function imageSummary(img: ImageRecord, extra: { containers?: number; sharedSize?: number } = {}) {
  return {
    Containers: extra.containers ?? -1,
    Created: unix(img.created),
    Id: img.id,
    Labels: img.config.config?.Labels ?? {},
    ParentId: img.parent ?? "",
    RepoDigests: img.repoDigests.map(familiarString),
    RepoTags: img.repoTags.map(familiarString),
    SharedSize: extra.sharedSize ?? -1,
    Size: img.size,
    VirtualSize: img.size,
  };
}

/** docker's container.Config with every field, the image's values filled in. */
export function containerConfig(c: ContainerConfig | undefined) {
  const cfg = c ?? {};
  return {
    Hostname: "",
    Domainname: "",
    User: cfg.User ?? "",
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(cfg.ExposedPorts ? { ExposedPorts: cfg.ExposedPorts } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: cfg.Env ?? null,
    Cmd: cfg.Cmd ?? null,
    ...(cfg.Healthcheck ? { Healthcheck: cfg.Healthcheck } : {}),
    ...(cfg.ArgsEscaped ? { ArgsEscaped: true } : {}),
    Image: "",
    Volumes: cfg.Volumes ?? null,
    WorkingDir: cfg.WorkingDir ?? "",
    Entrypoint: cfg.Entrypoint ?? null,
    OnBuild: cfg.OnBuild ?? null,
    Labels: cfg.Labels ?? null,
    ...(cfg.StopSignal ? { StopSignal: cfg.StopSignal } : {}),
    ...(cfg.Shell ? { Shell: cfg.Shell } : {}),
  };
}

export function imageInspect(img: ImageRecord, version: string, graphDriverData: Record<string, string> | null = null) {
  const c = img.config;
  const created = c.created && !Number.isNaN(Date.parse(c.created)) ? c.created : img.created;
  const out: Record<string, unknown> = {
    Id: img.id,
    RepoTags: img.repoTags.map(familiarString),
    RepoDigests: img.repoDigests.map(familiarString),
    Parent: img.parent ?? "",
    Comment: typeof c.comment === "string" ? c.comment : "",
    Created: created,
  };
  if (versionLess(version, "1.45")) {
    out.Container = typeof c.container === "string" ? c.container : "";
    out.ContainerConfig = containerConfig(undefined);
  }
  Object.assign(out, {
    DockerVersion: typeof c.docker_version === "string" ? c.docker_version : "",
    Author: c.author ?? "",
    Config: containerConfig(c.config),
    Architecture: c.architecture,
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os,
    ...(c["os.version"] ? { OsVersion: c["os.version"] } : {}),
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Data: graphDriverData, Name: STORAGE_DRIVER },
    RootFS: { Type: "layers", Layers: c.rootfs.diff_ids },
    Metadata: { LastTagTime: "0001-01-01T00:00:00Z" },
  });
  return out;
}

export function historyItem(h: HistoryItem) {
  return {
    Comment: h.comment,
    Created: unix(h.created),
    CreatedBy: h.createdBy,
    Id: h.id ?? "<missing>",
    Size: h.size,
    Tags: h.tags.length ? h.tags.map(familiarString) : null,
  };
}

export function deleteItem(d: DeleteItem) {
  return "untagged" in d ? { Untagged: familiarString(d.untagged) } : { Deleted: d.deleted };
}
