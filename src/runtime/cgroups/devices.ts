/**
 * Device cgroup rules: normalisation and validation shared by the v1 backend
 * (devices.allow/devices.deny) and the v2 backend (eBPF program).
 *
 * The manager applies exactly the rules it is given, in order, after denying
 * everything. Callers that want runc's defaults (null, zero, full, random,
 * urandom, tty, console, ptmx, pts) append DEFAULT_ALLOWED_DEVICES themselves.
 */
import { BerthError } from "../../errors.ts";
import type { LinuxDeviceCgroup } from "./resources.ts";

export interface DeviceRule {
  allow: boolean;
  type: "a" | "b" | "c";
  /** null = any */
  major: number | null;
  minor: number | null;
  /** non-empty subset of "rwm", canonical order */
  access: string;
}

export function normalizeDeviceRules(rules: LinuxDeviceCgroup[]): DeviceRule[] {
  return rules.map((r, i) => {
    const field = `linux.resources.devices[${i}]`;
    if (typeof r.allow !== "boolean") throw new BerthError("InvalidArgument", `${field}.allow: must be a boolean`);
    const type = r.type ?? "a";
    if (type !== "a" && type !== "b" && type !== "c") {
      throw new BerthError("InvalidArgument", `${field}.type: ${JSON.stringify(type)} is not one of "a", "b", "c"`);
    }
    const num = (v: number | undefined, name: string): number | null => {
      if (v === undefined || v === null || v === -1) return null;
      if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
        throw new BerthError("InvalidArgument", `${field}.${name}: ${v} is not a device number (0..2147483647, or -1 for any)`);
      }
      return v;
    };
    const access = r.access ?? "rwm";
    if (access === "" || !/^[rwm]+$/.test(access)) {
      throw new BerthError("InvalidArgument", `${field}.access: ${JSON.stringify(access)} is not a non-empty combination of "r", "w", "m"`);
    }
    const canon = ["r", "w", "m"].filter((c) => access.includes(c)).join("");
    return { allow: r.allow, type, major: num(r.major, "major"), minor: num(r.minor, "minor"), access: canon };
  });
}

/** "c 1:3 rwm" as devices.allow/devices.deny take it */
export function v1RuleString(r: DeviceRule): string {
  const n = (v: number | null) => (v === null ? "*" : String(v));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${r.access}`;
}

export function isCatchAll(r: DeviceRule): boolean {
  return r.type === "a" && r.major === null && r.minor === null && r.access === "rwm";
}

/** runc's default allow list for containers (libcontainer/specconv AllowedDevices). */
export const DEFAULT_ALLOWED_DEVICES: readonly LinuxDeviceCgroup[] = [
  { allow: true, type: "c", major: -1, minor: -1, access: "m" },
  { allow: true, type: "b", major: -1, minor: -1, access: "m" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }, // /dev/null
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" }, // /dev/random
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" }, // /dev/full
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" }, // /dev/tty
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" }, // /dev/zero
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" }, // /dev/urandom
  { allow: true, type: "c", major: 136, minor: -1, access: "rwm" }, // /dev/pts/*
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" }, // /dev/ptmx
];
