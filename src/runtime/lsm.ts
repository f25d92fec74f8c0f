/**
 * Which Linux security modules the host has enabled, for process.apparmorProfile,
 * process.selinuxLabel and linux.mountLabel. A config that asks for a label the
 * host cannot apply is refused (plan/compile.ts) rather than run unconfined.
 */
import { existsSync, readFileSync } from "node:fs";

export interface HostLsm {
  apparmor: boolean;
  selinux: boolean;
}

export function hostLsm(): HostLsm {
  let apparmor = false;
  try {
    apparmor = readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").trim() === "Y";
  } catch {}
  // selinuxfs is mounted exactly when SELinux is enabled (enforcing or permissive)
  const selinux = existsSync("/sys/fs/selinux/enforce");
  return { apparmor, selinux };
}
