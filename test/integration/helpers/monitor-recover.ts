/**
 * A restarted engine in monitor.test.ts: recover() what runs under execRoot,
 * follow the container's log from its start to the end, wait for its exit.
 * Prints { ids, state, entries, exit } as JSON.
 *   bun monitor-recover.ts <execRoot> <id>
 */
import { recover } from "../../../src/engine/monitor/index.ts";

const [execRoot, id] = process.argv.slice(2) as [string, string];
const all = recover(execRoot);
const c = all.find((x) => x.id === id);
if (!c) throw new Error(`recover: ${id} not found among ${all.map((x) => x.id).join(", ")}`);
const state = c.state();
const dec = new TextDecoder();
const entries: { time: string; stream: string; partial: boolean; text: string }[] = [];
for await (const e of c.logs({ follow: true })) entries.push({ time: e.time, stream: e.stream, partial: e.partial, text: dec.decode(e.data) });
const exit = await c.wait();
process.stdout.write(JSON.stringify({ ids: all.map((x) => x.id), state, containerPid: c.containerPid, entries, exit }) + "\n");
