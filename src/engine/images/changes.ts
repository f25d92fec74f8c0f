/**
 * `docker import --change` / `docker commit --change`: Dockerfile instructions
 * applied to an image's container config. Docker accepts CMD, ENTRYPOINT, ENV,
 * EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR (and HEALTHCHECK in
 * its JSON form is not accepted here: it needs the builder's flag parser).
 */
import { invalidArgument } from "../../errors.ts";
import type { ContainerConfig } from "./spec.ts";

const ALLOWED = ["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"];

/** Split words, honouring "..." and '...' quoting and backslash escapes. */
function words(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q: string | null = null;
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = null;
      else if (c === "\\" && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      has = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = "";
      has = false;
    } else cur += c;
  }
  if (q) throw invalidArgument(`unterminated quote in "${s}"`);
  if (has || cur) out.push(cur);
  return out;
}

function jsonOrShell(arg: string, what: string): string[] {
  const t = arg.trim();
  if (t.startsWith("[")) {
    try {
      const v = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
    } catch {}
    // docker falls back to shell form when the JSON does not parse
  }
  if (t === "") throw invalidArgument(`${what}: missing argument`);
  return ["/bin/sh", "-c", t];
}

function keyValues(arg: string, what: string): [string, string][] {
  const ws = words(arg);
  if (ws.length === 0) throw invalidArgument(`${what}: missing argument`);
  if (!ws[0]!.includes("=")) {
    // legacy "KEY value with spaces"
    const sp = arg.trim().search(/\s/);
    if (sp < 0) throw invalidArgument(`${what}: "${arg}": want KEY=VALUE`);
    return [[arg.trim().slice(0, sp), words(arg.trim().slice(sp + 1)).join(" ")]];
  }
  return ws.map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) throw invalidArgument(`${what}: "${w}": want KEY=VALUE`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** Apply `changes` (one instruction each) to a copy of `cfg`. */
export function applyChanges(cfg: ContainerConfig, changes: string[]): ContainerConfig {
  const c: ContainerConfig = structuredClone(cfg);
  for (const line of changes) {
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(line);
    if (!m) throw invalidArgument(`change "${line}": not an instruction`);
    const ins = m[1]!.toUpperCase();
    const arg = m[2]!;
    const what = `change "${line}"`;
    if (!ALLOWED.includes(ins)) throw invalidArgument(`${what}: ${ins} is not supported (want one of ${ALLOWED.join(", ")})`);
    switch (ins) {
      case "CMD":
        c.Cmd = jsonOrShell(arg, what);
        break;
      case "ENTRYPOINT":
        c.Entrypoint = jsonOrShell(arg, what);
        break;
      case "ENV": {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues(arg, what)) {
          const i = env.findIndex((e) => e.split("=")[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case "LABEL":
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(keyValues(arg, what)) };
        break;
      case "EXPOSE": {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of words(arg)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(p)) throw invalidArgument(`${what}: bad port "${p}"`);
          ports[p.includes("/") ? p : `${p}/tcp`] = {};
        }
        c.ExposedPorts = ports;
        break;
      }
      case "VOLUME": {
        const t = arg.trim();
        let vols: string[];
        try {
          vols = t.startsWith("[") ? JSON.parse(t) : words(t);
        } catch {
          vols = words(t);
        }
        if (!vols.length) throw invalidArgument(`${what}: missing argument`);
        c.Volumes = { ...(c.Volumes ?? {}), ...Object.fromEntries(vols.map((v) => [v, {}])) };
        break;
      }
      case "USER":
        c.User = arg.trim();
        break;
      case "WORKDIR": {
        const w = arg.trim();
        c.WorkingDir = w.startsWith("/") ? w : `${(c.WorkingDir || "/").replace(/\/$/, "")}/${w}`;
        break;
      }
      case "STOPSIGNAL":
        c.StopSignal = arg.trim();
        break;
      case "ONBUILD":
        c.OnBuild = [...(c.OnBuild ?? []), arg.trim()];
        break;
    }
  }
  return c;
}
