/**
 * What berthd watches while a container runs: its healthcheck (a
 * HealthChecker probing through exec) and OOM kills of its cgroup. Started
 * after each start, stopped at the exit; OOMKilled is decided while the
 * cgroup still exists. Paused containers are not probed (docker's rule).
 */
import type { Logger } from "../logger.ts";
import { errorFields } from "../logger.ts";
import { containerProbe, HealthChecker, healthcheckCommand, wantsRestartWhenUnhealthy } from "./health.ts";
import type { ContainerRecord } from "./model.ts";
import { wasOomKilled, watchContainerOom, type OomWatch } from "./oom.ts";
import { runtimeHandle } from "./runtime-handle.ts";
import type { ContainerService, RunWatchers } from "./service.ts";

interface Watch {
  health?: HealthChecker;
  oom?: OomWatch;
}

export class ContainerWatchers implements RunWatchers {
  private readonly watches = new Map<string, Watch>();
  constructor(private readonly log?: Logger) {}

  started(rec: ContainerRecord, svc: ContainerService): void {
    this.stop(rec.Id);
    const w: Watch = {};
    try {
      w.oom = watchContainerOom(runtimeHandle(rec).cgroup, () => svc.emit(svc.mustGet(rec.Id), "oom"));
    } catch (e) {
      this.log?.warn("oom watch", { id: rec.Id, ...errorFields(e) });
    }
    const test = rec.Config.Healthcheck;
    if (test && healthcheckCommand(test.Test ?? undefined, rec.Config.Shell)) {
      w.health = new HealthChecker({
        config: test,
        shell: rec.Config.Shell,
        startedAt: Date.parse(rec.State.StartedAt),
        probe: containerProbe(rec),
        previous: rec.State.Health,
        onChange: (state) => {
          void svc
            .modify(rec.Id, (r) => {
              if (r.State.Running) r.State.Health = state;
            })
            .catch(() => {});
        },
        onEvent: (action) => svc.emit(svc.mustGet(rec.Id), action),
        onUnhealthy: () => {
          if (!wantsRestartWhenUnhealthy(rec)) return;
          this.log?.info("restarting an unhealthy container", { id: rec.Id, name: rec.Name });
          svc.restart(rec.tenant, rec.Id).catch((e) => this.log?.warn("restart of an unhealthy container", { id: rec.Id, ...errorFields(e) }));
        },
      });
      w.health.start();
    }
    this.watches.set(rec.Id, w);
  }

  paused(id: string): void {
    void this.watches.get(id)?.health?.stop();
  }

  resumed(id: string): void {
    this.watches.get(id)?.health?.resume();
  }

  exiting(rec: ContainerRecord): { oomKilled: boolean } {
    const w = this.watches.get(rec.Id);
    w?.oom?.check();
    let oomKilled = false;
    try {
      oomKilled = wasOomKilled(runtimeHandle(rec).cgroup);
    } catch {
      // no runtime state any more: nothing to tell
    }
    this.stop(rec.Id);
    return { oomKilled };
  }

  private stop(id: string) {
    const w = this.watches.get(id);
    if (!w) return;
    this.watches.delete(id);
    void w.health?.stop();
    w.oom?.close();
  }
}
