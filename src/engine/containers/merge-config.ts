/**
 * A create body's Config merged with the image's defaults, by docker's rules
 * (moby daemon merge + getEntrypointAndArgs): the user's value wins field by
 * field; Env by variable name; ExposedPorts, Volumes and Labels are unions; a
 * user Entrypoint (even an empty one) drops the image's Cmd.
 */
import { invalidArgument } from "../../errors.ts";
import type { ImageConfig } from "../images/spec.ts";
import type { CreateBody, DockerConfig, HealthConfig } from "./model.ts";

export interface MergedConfig {
  config: DockerConfig;
  /** the process to run: entrypoint + cmd */
  path: string;
  args: string[];
}

const envKey = (e: string) => {
  const i = e.indexOf("=");
  return i < 0 ? e : e.slice(0, i);
};

function mergeEnv(user: readonly string[] | null | undefined, image: readonly string[] | null | undefined): string[] {
  if (!user?.length) return [...(image ?? [])];
  const keys = new Set(user.map(envKey));
  return [...user, ...(image ?? []).filter((e) => !keys.has(envKey(e)))];
}

function union<T>(user: Record<string, T> | null | undefined, image: Record<string, T> | null | undefined): Record<string, T> | undefined {
  if (!user && !image) return undefined;
  return { ...(image ?? {}), ...(user ?? {}) };
}

function mergeHealthcheck(user: HealthConfig | null | undefined, image: HealthConfig | null | undefined): HealthConfig | undefined {
  if (!image) return user ?? undefined;
  if (!user) return { ...image };
  const merged: HealthConfig = {
    ...user,
    Test: user.Test?.length ? user.Test : image.Test,
    Interval: user.Interval || image.Interval,
    Timeout: user.Timeout || image.Timeout,
    StartPeriod: user.StartPeriod || image.StartPeriod,
    StartInterval: user.StartInterval || image.StartInterval,
    Retries: user.Retries || image.Retries,
  };
  for (const k of Object.keys(merged) as (keyof HealthConfig)[]) if (merged[k] === undefined) delete merged[k];
  return merged;
}

/** [""] is how the docker CLI says `--entrypoint ""`: no entrypoint. */
const isEmptyEntrypoint = (e: readonly string[]) => e.length === 0 || (e.length === 1 && e[0] === "");

/**
 * The container's Config: the body's fields over the image's defaults, and the
 * command to run. InvalidArgument "no command specified" when neither names one.
 */
export function mergeImageConfig(body: CreateBody, image: ImageConfig["config"]): MergedConfig {
  const img = image ?? {};
  const { HostConfig: _h, NetworkingConfig: _n, ...user } = body;
  const config: DockerConfig = { ...user };

  config.User = user.User || img.User || "";
  config.WorkingDir = user.WorkingDir || img.WorkingDir || "";
  config.StopSignal = user.StopSignal || img.StopSignal || undefined;
  if (config.StopSignal === undefined) delete config.StopSignal;
  config.Env = mergeEnv(user.Env, img.Env);
  const ports = user.ExposedPorts && Object.keys(user.ExposedPorts).length ? union(user.ExposedPorts, img.ExposedPorts) : img.ExposedPorts;
  config.ExposedPorts = ports ? { ...ports } : null;
  const volumes = user.Volumes && Object.keys(user.Volumes).length ? union(user.Volumes, img.Volumes) : img.Volumes;
  config.Volumes = volumes ? { ...volumes } : null;
  config.Labels = { ...(img.Labels ?? {}), ...(user.Labels ?? {}) };
  const hc = mergeHealthcheck(user.Healthcheck, img.Healthcheck);
  config.Healthcheck = hc ?? null;
  if (!hc) delete config.Healthcheck;
  if (!user.Shell?.length && img.Shell?.length) config.Shell = [...img.Shell];

  let entrypoint = user.Entrypoint ?? null;
  let cmd = user.Cmd ?? null;
  if (entrypoint === null || entrypoint.length === 0) {
    if (!cmd?.length) cmd = img.Cmd ? [...img.Cmd] : null;
    if (entrypoint === null) entrypoint = img.Entrypoint ? [...img.Entrypoint] : null;
  }
  config.Entrypoint = entrypoint;
  config.Cmd = cmd;

  const argv = [...(entrypoint && !isEmptyEntrypoint(entrypoint) ? entrypoint : []), ...(cmd ?? [])];
  if (argv.length === 0 || argv[0] === "") throw invalidArgument("no command specified");
  return { config, path: argv[0]!, args: argv.slice(1) };
}
