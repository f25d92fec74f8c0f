/**
 * HostConfig.SecurityOpt, parsed as dockerd does: "no-new-privileges",
 * "key=value" (or the legacy "key:value"), keys label, apparmor, seccomp,
 * no-new-privileges, writable-cgroups. This host has no AppArmor and no
 * SELinux: only the settings that ask for none are accepted.
 */
import { invalidArgument } from "../../errors.ts";

export interface SecurityOpts {
  noNewPrivileges: boolean;
  /** undefined: docker's default profile; "unconfined"; else the profile's JSON text */
  seccomp?: string;
  writableCgroups?: boolean;
}

function parseBool(v: string): boolean | undefined {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(v)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(v)) return false;
  return undefined;
}

export function parseSecurityOpts(opts: readonly string[] | null | undefined): SecurityOpts {
  const out: SecurityOpts = { noNewPrivileges: false };
  for (const opt of opts ?? []) {
    if (opt === "no-new-privileges") {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === "disable") continue; // label disable
    const sep = opt.includes("=") ? "=" : opt.includes(":") ? ":" : "";
    if (!sep) throw invalidArgument(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const i = opt.indexOf(sep);
    const key = opt.slice(0, i);
    const value = opt.slice(i + 1);
    switch (key) {
      case "label":
        if (value !== "disable") {
          throw invalidArgument(`invalid --security-opt ${JSON.stringify(opt)}: SELinux is not enabled on this host (only label=disable is accepted)`);
        }
        break;
      case "apparmor":
        if (value !== "unconfined") {
          throw invalidArgument(`invalid --security-opt ${JSON.stringify(opt)}: AppArmor is not enabled on this host (only apparmor=unconfined is accepted)`);
        }
        break;
      case "seccomp":
        if (value === "") throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.seccomp = value === "builtin" ? undefined : value;
        break;
      case "no-new-privileges": {
        const b = parseBool(value);
        if (b === undefined) throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.noNewPrivileges = b;
        break;
      }
      case "writable-cgroups": {
        const b = parseBool(value);
        if (b === undefined) throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.writableCgroups = b;
        break;
      }
      default:
        throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}
