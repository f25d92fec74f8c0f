/**
 * A berthd stand-in that dies with SIGKILL in the middle of networking, for
 * the reconcile tests:
 *   bun net-crash.ts <data root> <netns dir> <network> <container id> <netns path> <mid-add|after-attach> <host port>
 * mid-add: killed right after the bridge plugin's ADD (veth and lease made,
 * portmap not run, cache and row marked incomplete); after-attach: killed
 * once the attach returned (ports held, DNS registered).
 */
import { openDb } from "../../../src/engine/db.ts";
import { NetworkManager } from "../../../src/engine/network/manager.ts";

const [root, netnsDir, network, id, netns, mode, hostPort] = process.argv.slice(2) as string[];
const m = await NetworkManager.open({
  db: openDb(`${root}/berth.db`),
  dataRoot: root!,
  netnsDir,
  upstreams: [],
  onTiming: (t) => {
    if (mode === "mid-add" && t.plugin === "bridge" && t.command === "ADD") process.kill(process.pid, "SIGKILL");
  },
});
await m.attach("default", network!, { containerId: id!, netns: netns!, name: id, ports: [{ containerPort: 80, hostIp: "127.0.0.1", hostPort: Number(hostPort) }] });
console.log("attached");
process.kill(process.pid, "SIGKILL");
