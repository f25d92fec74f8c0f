/**
 * A CNI runtime (spec 1.0.0, with GC from 1.1.0 where plugins support it):
 * runs a conflist's plugin chain for ADD (in order, each given the previous
 * result), DEL (in reverse, each given the cached ADD result), CHECK (in order,
 * with the cached result) and GC; injects capability arguments as
 * `runtimeConfig` into the plugins that declare them; caches results on disk.
 */
import { statSync } from "node:fs";
import { BerthError, invalidArgument } from "../../../errors.ts";
import { ResultCache, type CachedAttachment } from "./cache.ts";
import { PluginExec, type PluginExecOptions } from "./exec.ts";
import { compareVersions, isObject, parseResult, type CniResult, type NetConfList, type PluginConf } from "./types.ts";

export interface AttachmentParams {
  containerId: string;
  /** path of the container's network namespace (/proc/<pid>/ns/net or a bind-mounted nsfs file) */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs */
  args?: [string, string][];
  /** capability arguments (portMappings, ips, ipRanges, mac, dns, aliases, bandwidth, ...) */
  capabilityArgs?: Record<string, unknown>;
}

export interface VersionInfo {
  cniVersion: string;
  supportedVersions: string[];
}

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

export function checkIfName(ifName: string) {
  if (!ifName || ifName.length > 15 || ifName === "." || ifName === ".." || /[\s/:]/.test(ifName)) {
    throw invalidArgument(`ifname: invalid interface name ${JSON.stringify(ifName)}`);
  }
}

export function checkContainerId(id: string) {
  if (!ID_RE.test(id)) throw invalidArgument(`container id: must match ${ID_RE.source}, got ${JSON.stringify(id)}`);
}

/** The configuration one plugin of a list gets on stdin (libcni's buildOneConfig). */
export function pluginConfig(list: NetConfList, plugin: PluginConf, prevResult: unknown, capabilityArgs: Record<string, unknown> = {}): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  const rc: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on && capabilityArgs[cap] !== undefined) rc[cap] = capabilityArgs[cap];
  }
  if (Object.keys(rc).length) conf.runtimeConfig = { ...(isObject(plugin.runtimeConfig) ? plugin.runtimeConfig : {}), ...rc };
  return conf;
}

export class CniRuntime {
  readonly exec: PluginExec;
  readonly cache: ResultCache;
  private readonly versions = new Map<string, Promise<VersionInfo>>();

  constructor(opts: { cacheDir: string; exec?: PluginExec | PluginExecOptions }) {
    this.cache = new ResultCache(opts.cacheDir);
    this.exec = opts.exec instanceof PluginExec ? opts.exec : new PluginExec(opts.exec);
  }

  /**
   * ADD: the chain in order. On failure the plugins that ran are undone (DEL
   * in reverse with what they returned) and the error names the plugin.
   */
  async add(list: NetConfList, a: AttachmentParams): Promise<CniResult> {
    checkContainerId(a.containerId);
    checkIfName(a.ifName);
    for (const p of list.plugins) this.exec.find(p.type); // a missing plugin fails before anything runs
    const entry: CachedAttachment = {
      kind: "berthCniCacheV1",
      containerId: a.containerId,
      networkName: list.name,
      ifName: a.ifName,
      netns: a.netns,
      config: list,
      cniArgs: a.args ?? [],
      capabilityArgs: a.capabilityArgs ?? {},
      complete: false,
    };
    this.cache.put(entry);
    let prev: unknown = undefined;
    try {
      for (const plugin of list.plugins) {
        const out = await this.exec.run(plugin.type, list.name, pluginConfig(list, plugin, prev, a.capabilityArgs), {
          command: "ADD",
          containerId: a.containerId,
          netns: a.netns,
          ifname: a.ifName,
          args: a.args,
        });
        if (out === undefined) throw new BerthError("Internal", `cni plugin "${plugin.type}" ADD on network "${list.name}": no result`);
        parseResult(out, `cni plugin "${plugin.type}"`);
        prev = out;
        entry.result = out as CniResult;
        this.cache.put(entry);
      }
    } catch (e) {
      try {
        await this.del(list, a);
      } catch (undo) {
        throw new BerthError((e as BerthError).code ?? "Internal", `${(e as Error).message} (and undoing it failed: ${(undo as Error).message})`, { cause: e });
      }
      throw e;
    }
    entry.complete = true;
    this.cache.put(entry);
    return parseResult(prev, `network "${list.name}"`);
  }

  /**
   * DEL: the chain in reverse, each with the cached result as prevResult,
   * with the conflist the ADD used (cached) when there is one, else `list`
   * (spec: DEL gets the same configuration as ADD; the network may be gone or
   * its generated conflist may have changed since). Every plugin is tried; the
   * cache entry is removed only when all succeeded.
   */
  async del(list: NetConfList | undefined, a: Omit<AttachmentParams, "netns"> & { netns?: string; networkName?: string }): Promise<void> {
    checkContainerId(a.containerId);
    checkIfName(a.ifName);
    const name = list?.name ?? a.networkName;
    if (!name) throw invalidArgument("del: network name or conflist required");
    const cached = this.cache.get(name, a.containerId, a.ifName);
    const conf = cached?.config ?? list;
    if (!conf) return; // nothing known about this attachment
    const netns = a.netns ?? cached?.netns ?? "";
    const caps = a.capabilityArgs ?? cached?.capabilityArgs;
    const args = a.args ?? cached?.cniArgs;
    const errors: string[] = [];
    for (const plugin of [...conf.plugins].reverse()) {
      try {
        await this.exec.run(plugin.type, conf.name, pluginConfig(conf, plugin, cached?.result, caps), {
          command: "DEL",
          containerId: a.containerId,
          netns: netns && exists(netns) ? netns : "",
          ifname: a.ifName,
          args,
        });
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length) throw new BerthError("Internal", errors.join("; "));
    this.cache.remove(conf.name, a.containerId, a.ifName);
  }

  /** CHECK (cniVersion >= 0.4.0 and not disableCheck): the chain the ADD ran, in order, with the cached result. */
  async check(network: NetConfList, a: AttachmentParams): Promise<void> {
    const cached = this.cache.get(network.name, a.containerId, a.ifName);
    if (!cached?.complete || cached.result === undefined) throw new BerthError("NotFound", `check: no cached result for ${a.containerId}/${a.ifName} on network "${network.name}"`);
    const list = cached.config; // the chain the ADD ran
    if (list.disableCheck || compareVersions(list.cniVersion, "0.4.0") < 0) return;
    for (const plugin of list.plugins) {
      await this.exec.run(plugin.type, list.name, pluginConfig(list, plugin, cached.result, a.capabilityArgs ?? cached.capabilityArgs), {
        command: "CHECK",
        containerId: a.containerId,
        netns: a.netns,
        ifname: a.ifName,
        args: a.args ?? cached.cniArgs,
      });
    }
  }

  /** VERSION of a plugin type (probed once). */
  version(type: string): Promise<VersionInfo> {
    let v = this.versions.get(type);
    if (!v) {
      v = this.exec.run(type, "", { cniVersion: "1.0.0" }, { command: "VERSION" }).then((out) => {
        if (!isObject(out) || !Array.isArray(out.supportedVersions)) throw new BerthError("Internal", `cni plugin "${type}" VERSION: unexpected answer`);
        return { cniVersion: String(out.cniVersion ?? ""), supportedVersions: out.supportedVersions.map(String) };
      });
      v.catch(() => this.versions.delete(type));
      this.versions.set(type, v);
    }
    return v;
  }

  /** Can GC (spec 1.1.0) be used for this list: every plugin says it speaks 1.1.0. */
  async supportsGC(list: NetConfList): Promise<boolean> {
    if (list.disableGC) return false;
    for (const p of list.plugins) {
      const v = await this.version(p.type).catch(() => undefined);
      if (!v?.supportedVersions.some((s) => compareVersions(s, "1.1.0") >= 0)) return false;
    }
    return true;
  }

  /**
   * GC (spec 1.1.0): every plugin is told the attachments that are still valid
   * and removes the rest. The conflist is run at version 1.1.0.
   */
  async gc(list: NetConfList, valid: { containerId: string; ifName: string }[]): Promise<void> {
    const conf = { ...list, cniVersion: "1.1.0" };
    const attachments = valid.map((v) => ({ containerID: v.containerId, ifname: v.ifName }));
    for (const plugin of conf.plugins) {
      await this.exec.run(plugin.type, conf.name, { ...pluginConfig(conf, plugin, undefined), "cni.dev/valid-attachments": attachments }, { command: "GC" });
    }
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
