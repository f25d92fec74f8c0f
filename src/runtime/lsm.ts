/** Which Linux security modules can take a profile or label on this host (runc's checks). */
import { existsSync, readFileSync } from "node:fs";
import type { HostLsm } from "./plan/process.ts";

export function hostLsm(): HostLsm {
  let apparmor = false;
  try {
    apparmor = existsSync("/sys/kernel/security/apparmor") && readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").startsWith("Y");
  } catch {}
  return { apparmor, selinux: existsSync("/sys/fs/selinux/enforce") };
}
