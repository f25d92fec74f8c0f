/**
 * A container's State as docker reports it, and the transitions the service
 * makes: created, running, paused, restarting, exited.
 */
import type { ContainerRecord, ContainerState, NetworkSettings } from "./model.ts";

export const ZERO_TIME = "0001-01-01T00:00:00Z";

/** NetworkSettings of a container without attachments. */
export function emptySettings(): NetworkSettings {
  return { Ports: {}, Networks: {}, SandboxKey: "", IPAddress: "", IPPrefixLen: 0, Gateway: "", MacAddress: "" };
}

type Identity = Pick<ContainerRecord, "Id" | "Name" | "tenant" | "Image" | "ImageName" | "Path" | "Args" | "Config" | "HostConfig">;

/** A record as create makes it: created, never run, no mounts, networks or files yet. */
export function newRecord(r: Identity & Partial<ContainerRecord>): ContainerRecord {
  return {
    Created: new Date().toISOString(),
    State: createdState(),
    RestartCount: 0,
    manuallyStopped: false,
    Mounts: [],
    NetworkSettings: emptySettings(),
    HostnamePath: "",
    HostsPath: "",
    ResolvConfPath: "",
    LogPath: "",
    runtimeRoot: "",
    bundle: "",
    rootfs: "",
    ...r,
  };
}

export function createdState(): ContainerState {
  return {
    Status: "created",
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: "",
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}

export function runningState(prev: ContainerState, pid: number, startedAt: string): ContainerState {
  return { ...prev, Status: "running", Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: pid, ExitCode: 0, Error: "", StartedAt: startedAt, FinishedAt: ZERO_TIME };
}

export function exitedState(prev: ContainerState, exitCode: number, finishedAt: string, oomKilled: boolean, error = ""): ContainerState {
  return { ...prev, Status: "exited", Running: false, Paused: false, Restarting: false, OOMKilled: oomKilled, Pid: 0, ExitCode: exitCode, Error: error, FinishedAt: finishedAt };
}

/** docker ps's STATUS column: "Up 5 seconds", "Exited (0) 2 minutes ago", "Created", ... */
export function statusText(s: ContainerState, now = Date.now()): string {
  switch (s.Status) {
    case "created":
      return "Created";
    case "running":
    case "paused": {
      const health = s.Health && s.Health.Status !== "none" ? ` (${s.Health.Status === "starting" ? "health: starting" : s.Health.Status})` : "";
      return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${s.Status === "paused" ? " (Paused)" : ""}${health}`;
    }
    case "restarting":
      return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    case "removing":
      return "Removal In Progress";
    case "dead":
      return "Dead";
    case "exited":
      return s.FinishedAt === ZERO_TIME ? "Created" : `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
  }
}

/** docker's units.HumanDuration (go-units) */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.floor(ms / 3_600_000 + 0.5);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}
