/**
 * Runs a container the way berth-runtime would, as the (unprivileged) user
 * this script runs as, without cgroups (an unprivileged runtime cannot make
 * them here): the plan compiler, berth-init and the id-map writing are the
 * real ones. Used by userns.test.ts through setpriv.
 *   bun unprivileged-run.ts <rootfs> <workdir> <sh script>
 * Prints the container's output; exits with its status.
 */
import { openSync, writeSync, closeSync, constants as fsc } from "node:fs";
import { join } from "node:path";
import { defaultSpec } from "../../../src/oci/default-spec.ts";
import { compilePlan } from "../../../src/runtime/plan/compile.ts";
import { SYNC_TAG } from "../../../src/runtime/plan/opcodes.ts";
import { launch } from "../../../src/runtime/launch.ts";
import { currentMapWriter, writeIdMaps } from "../../../src/runtime/idmaps.ts";
import { mkfifo } from "../../../src/runtime/sys/libc.ts";

const [rootfs, work, script] = process.argv.slice(2) as [string, string, string];
const spec = defaultSpec({ rootless: true, args: ["sh", "-c", script] });
spec.process!.terminal = false;
spec.root = { path: rootfs, readonly: true };
spec.mounts = spec.mounts!.filter((m) => m.type !== "cgroup");
const fifo = join(work, "exec.fifo");
mkfifo(fifo, 0o600);
const writer = currentMapWriter();
const plan = compilePlan({ spec, bundle: work, rootfs, execFifo: fifo, stay: true, mapWriter: writer });
const launched = await launch({
  plan,
  onSync: (tag, pid) => {
    if (tag === SYNC_TAG.SETUP) writeIdMaps(spec, pid, writer);
  },
});
const fd = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
writeSync(fd, "0");
closeSync(fd);
process.exit(await launched.helper.exited);
