/**
 * docker ps: which of a tenant's containers a list request selects (all,
 * filters, before/since, limit). The API layer shapes what is selected.
 */
import { invalidArgument } from "../../errors.ts";
import { labelsMatch } from "../labels.ts";
import type { ContainerRecord, ContainerStatus } from "./model.ts";

export interface ListOptions {
  all?: boolean;
  limit?: number;
  /** docker's filters, already parsed (key -> values) */
  filters?: Map<string, string[]>;
}

export const LIST_FILTERS = ["id", "name", "label", "label!", "status", "exited", "ancestor", "before", "since", "volume", "network", "health", "is-task", "expose", "publish"] as const;
const STATUSES: ContainerStatus[] = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

export function selectContainers(records: ContainerRecord[], o: ListOptions, find: (ref: string) => ContainerRecord | undefined, imageIds: (ref: string) => string | undefined): ContainerRecord[] {
  const f = o.filters ?? new Map<string, string[]>();
  for (const k of f.keys()) if (!(LIST_FILTERS as readonly string[]).includes(k)) throw invalidArgument(`invalid filter '${k}'`);
  const vals = (k: string) => f.get(k) ?? [];
  for (const s of vals("status")) if (!STATUSES.includes(s as ContainerStatus)) throw invalidArgument(`invalid filter 'status=${s}'`);
  const pivot = (k: "before" | "since") => {
    const ref = vals(k).at(-1);
    if (ref === undefined) return undefined;
    const r = find(ref);
    if (!r) throw invalidArgument(`No such container: ${ref}`);
    return r;
  };
  const before = pivot("before");
  const since = pivot("since");
  const ancestors = vals("ancestor").map((a) => imageIds(a) ?? `unknown:${a}`);
  // docker: filters other than status imply --all only when "status" or "exited" asks for stopped ones
  const all = Boolean(o.all) || f.has("status") || f.has("exited") || before !== undefined || since !== undefined;

  let out = records.filter((r) => {
    const st = r.State.Status;
    if (!all && !r.State.Running) return false;
    if (f.has("id") && !vals("id").some((v) => r.Id.startsWith(v))) return false;
    if (f.has("name") && !vals("name").some((v) => new RegExp(v.replace(/^\//, "")).test(r.Name))) return false;
    if (!labelsMatch(r.Config.Labels ?? {}, vals("label"))) return false;
    if (vals("label!").some((l) => labelsMatch(r.Config.Labels ?? {}, [l]))) return false;
    if (f.has("status") && !vals("status").includes(st)) return false;
    if (f.has("exited") && (st !== "exited" || !vals("exited").includes(String(r.State.ExitCode)))) return false;
    if (f.has("ancestor") && !ancestors.includes(r.Image)) return false;
    if (f.has("volume") && !vals("volume").some((v) => r.Mounts.some((m) => m.Name === v || m.Destination === v || m.Source === v))) return false;
    if (f.has("network") && !vals("network").some((n) => n in r.NetworkSettings.Networks || Object.values(r.NetworkSettings.Networks).some((e) => e.NetworkID === n))) return false;
    if (f.has("health") && !vals("health").includes(r.State.Health?.Status ?? "none")) return false;
    if (f.has("is-task") && vals("is-task").some((v) => v === "true")) return false;
    if (before && r.Created >= before.Created) return false;
    if (since && r.Created <= since.Created) return false;
    return true;
  });
  if (o.limit !== undefined && o.limit > 0) out = out.slice(0, o.limit);
  return out;
}
