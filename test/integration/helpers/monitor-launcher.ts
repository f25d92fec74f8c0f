/**
 * Stands in for berthd in monitor.test.ts: becomes a subreaper (as berthd
 * does), starts a container under a monitor, prints its pids, then follows its
 * log (as for `logs -f`) until it is killed.
 *   bun monitor-launcher.ts <execRoot> <runtimeRoot> <id> <bundle> [<log options JSON>]
 */
import { Runtime } from "../../../src/runtime/container.ts";
import { setChildSubreaper } from "../../../src/runtime/sys/reaper.ts";
import { startMonitored } from "../../../src/engine/monitor/index.ts";

const [execRoot, runtimeRoot, id, bundle, log] = process.argv.slice(2) as [string, string, string, string, string?];
setChildSubreaper(true);
const c = await startMonitored({ runtime: new Runtime(runtimeRoot), execRoot, id, bundle, log: log ? JSON.parse(log) : undefined });
process.stdout.write(JSON.stringify({ monitorPid: c.monitorPid, containerPid: c.containerPid, ppid: process.pid }) + "\n");
for await (const _ of c.logs({ follow: true }));
