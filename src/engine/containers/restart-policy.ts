/**
 * Restart policies as docker applies them: whether a container that exited
 * is started again, and after how long (docker's backoff: 100 ms doubling,
 * reset once a run lasted 10 s, capped at one minute).
 */
import { invalidArgument } from "../../errors.ts";
import type { ContainerRecord, RestartPolicy } from "./model.ts";

export const BACKOFF_START_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
/** a run at least this long resets the backoff */
export const BACKOFF_RESET_MS = 10_000;

export type PolicyName = "no" | "always" | "unless-stopped" | "on-failure";

export function policyName(p: RestartPolicy | undefined): PolicyName {
  const n = p?.Name ?? "";
  if (n === "" || n === "no") return "no";
  if (n === "always" || n === "unless-stopped" || n === "on-failure") return n;
  throw invalidArgument(`invalid restart policy: ${n}`);
}

/** After an exit: restart? (`manuallyStopped`: docker stop/kill by a user, or the daemon's own stop) */
export function shouldRestart(r: Pick<ContainerRecord, "HostConfig" | "manuallyStopped" | "RestartCount" | "State">): boolean {
  if (r.manuallyStopped) return false;
  const p = r.HostConfig.RestartPolicy;
  switch (policyName(p)) {
    case "no":
      return false;
    case "always":
    case "unless-stopped":
      return true;
    case "on-failure": {
      if (r.State.ExitCode === 0) return false;
      const max = p?.MaximumRetryCount ?? 0;
      return max <= 0 || r.RestartCount < max;
    }
  }
}

/** When berthd starts: which exited containers its policies bring back. */
export function restartOnDaemonStart(r: Pick<ContainerRecord, "HostConfig" | "manuallyStopped" | "RestartCount" | "State">): boolean {
  const name = policyName(r.HostConfig.RestartPolicy);
  if (name === "always") return true; // docker: even after a manual stop
  return shouldRestart(r);
}

/** The delay before the next restart, given the last one and how long the container ran. */
export function nextBackoff(previousMs: number, ranMs: number): number {
  if (ranMs >= BACKOFF_RESET_MS || previousMs <= 0) return BACKOFF_START_MS;
  return Math.min(previousMs * 2, BACKOFF_MAX_MS);
}
