/**
 * Loading and attaching berth's device program to a cgroup v2 directory.
 * berth's programs are recognised by name (BERTH_PROG_NAME); on update the new
 * program is attached first (BPF_F_REPLACE when exactly one old one exists,
 * else attach + detach), so there is never a moment without a filter.
 * Programs attached by anyone else are left alone.
 */
import { openSync } from "node:fs";
import { BerthError } from "../../../errors.ts";
import {
  BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_F_REPLACE, BPF_PROG_TYPE_CGROUP_DEVICE, BpfError,
  closeFd, progAttach, progDetach, progFdById, progInfo, progLoad, progQuery,
} from "../../sys/bpf.ts";
import { errnoCode, sysError } from "../fsio.ts";
import { type BpfInsn, encodeInsns } from "./devicefilter.ts";

export const BERTH_PROG_NAME = "berth_dev";

/** Puts a device program on a cgroup v2 directory. Tests substitute a recorder. */
export interface DeviceProgramLoader {
  attach(dir: string, program: BpfInsn[]): void;
}

function openDir(dir: string): number {
  try {
    return openSync(dir, "r");
  } catch (e) {
    throw sysError("devices", "open", dir, dir, e);
  }
}

export const bpfDeviceProgramLoader: DeviceProgramLoader = {
  attach(dir: string, program: BpfInsn[]): void {
    const dirFd = openDir(dir);
    const old: number[] = [];
    let progFd = -1;
    try {
      for (const id of progQuery(dirFd, BPF_CGROUP_DEVICE)) {
        let fd: number;
        try {
          fd = progFdById(id);
        } catch (e) {
          if (e instanceof BpfError && (e.errno === 2 || e.errno === 1 || e.errno === 13)) continue; // gone, or not ours to see
          throw e;
        }
        if (progInfo(fd).name === BERTH_PROG_NAME) old.push(fd);
        else closeFd(fd);
      }
      progFd = progLoad({
        type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insns: encodeInsns(program),
        license: "Apache",
        name: BERTH_PROG_NAME,
        expectedAttachType: BPF_CGROUP_DEVICE,
      });
      let replaced = false;
      if (old.length === 1) {
        try {
          progAttach(dirFd, progFd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, old[0]!);
          replaced = true;
        } catch (e) {
          if (!(e instanceof BpfError && e.errno === 22)) throw e; // EINVAL: kernel without BPF_F_REPLACE
        }
      }
      if (!replaced) {
        progAttach(dirFd, progFd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
        for (const fd of old) progDetach(dirFd, fd, BPF_CGROUP_DEVICE);
      }
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw new BerthError("Internal", `attach device program to ${dir}: ${errnoCode(e) ?? String(e)}`, { cause: e });
    } finally {
      if (progFd >= 0) closeFd(progFd);
      for (const fd of old) closeFd(fd);
      closeFd(dirFd);
    }
  },
};
