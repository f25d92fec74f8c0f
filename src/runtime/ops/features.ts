/**
 * `features` (runtime-spec features.md): what this build of berth-runtime
 * recognizes, generated from the tables the runtime itself uses — the mount
 * option parser, the namespace table of the plan compiler, the capability
 * list, the seccomp compiler probed against the loaded libseccomp — so the
 * report cannot drift from the code.
 *
 * Left out on purpose (absent means "unknown" in the spec): hooks (validated,
 * not run yet), memoryPolicy and netDevices (validated, not applied yet).
 */
import { CAPABILITIES } from "../../oci/capabilities.ts";
import { OCI_VERSION, VERSION } from "../../version.ts";
import { knownNamespaces } from "../plan/compile.ts";
import { knownMountOptions } from "../plan/mount-options.ts";
import { seccompFeatures } from "../seccomp/compile.ts";
import { seccompVersion } from "../sys/libseccomp.ts";

export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks?: string[];
  mountOptions: string[];
  linux: {
    namespaces: string[];
    capabilities: string[];
    cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
    seccomp?: { enabled: boolean; actions: string[]; operators: string[]; archs: string[]; knownFlags: string[]; supportedFlags: string[] };
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
    intelRdt: { enabled: boolean };
    mountExtensions: { idmap: { enabled: boolean } };
  };
  annotations: Record<string, string>;
}

export const ANNOTATION_VERSION = "org.berth.runtime.version";
export const ANNOTATION_LIBSECCOMP = "io.github.seccomp.libseccomp.version";

export function features(): Features {
  const mountOptions = knownMountOptions();
  const annotations: Record<string, string> = { [ANNOTATION_VERSION]: VERSION };
  let seccomp: Features["linux"]["seccomp"];
  try {
    const v = seccompVersion();
    seccomp = { enabled: true, ...seccompFeatures() };
    annotations[ANNOTATION_LIBSECCOMP] = `${v.major}.${v.minor}.${v.micro}`;
  } catch {
    // libseccomp cannot be loaded: a spec with linux.seccomp would fail, so say nothing
    seccomp = undefined;
  }
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: OCI_VERSION,
    mountOptions,
    linux: {
      namespaces: knownNamespaces(),
      capabilities: [...CAPABILITIES],
      // cgroupfs driver for v1, v2 and hybrid hosts; rdma limits are written on both; no systemd driver
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
      ...(seccomp ? { seccomp } : {}),
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: mountOptions.includes("idmap") } },
    },
    annotations: Object.fromEntries(Object.entries(annotations).sort()),
  };
}
