/** berth stats: docker's CPU %, memory, network and block I/O and PIDs columns from /containers/{id}/stats. */
import { humanSize } from "../../api/docker/jsonmessage.ts";
import { shortId } from "./context.ts";
import { verb } from "./flags.ts";
import { formatRows, table } from "./format.ts";

interface Stats {
  id?: string;
  name?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
  pids_stats?: { current?: number };
}

/** go-units BytesSize (binary units, as docker shows memory) */
export function bytesSize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}

export function statsRow(ref: string, s: Stats, noTrunc: boolean) {
  const cpu = s.cpu_stats ?? {};
  const pre = s.precpu_stats ?? {};
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const sysDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const ncpu = cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1;
  const cpuPct = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * ncpu * 100 : 0;
  const m = s.memory_stats ?? {};
  const cache = m.stats?.total_inactive_file ?? m.stats?.inactive_file ?? 0;
  const used = Math.max(0, (m.usage ?? 0) - (cache < (m.usage ?? 0) ? cache : 0));
  const limit = m.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  let rd = 0;
  let wr = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    if (/^read$/i.test(e.op)) rd += e.value;
    else if (/^write$/i.test(e.op)) wr += e.value;
  }
  const id = s.id ?? ref;
  return {
    Container: ref,
    ID: noTrunc ? id : shortId(id),
    Name: (s.name ?? "").replace(/^\//, "") || "--",
    CPUPerc: `${cpuPct.toFixed(2)}%`,
    MemUsage: `${bytesSize(used)} / ${bytesSize(limit)}`,
    MemPerc: `${(limit ? (used / limit) * 100 : 0).toFixed(2)}%`,
    NetIO: `${humanSize(rx, 3)} / ${humanSize(tx, 3)}`,
    BlockIO: `${humanSize(rd, 3)} / ${humanSize(wr, 3)}`,
    PIDs: String(s.pids_stats?.current ?? 0),
  };
}

const HEADERS = { Container: "CONTAINER", ID: "CONTAINER ID", Name: "NAME", CPUPerc: "CPU %", MemUsage: "MEM USAGE / LIMIT", MemPerc: "MEM %", NetIO: "NET I/O", BlockIO: "BLOCK I/O", PIDs: "PIDS" };

export const stats = verb(
  {
    name: "stats",
    usage: "[OPTIONS] [CONTAINER...]",
    summary: "Display a live stream of container(s) resource usage statistics",
    flags: {
      all: { type: "bool", short: "a", help: "Show all containers (default shows just running)" },
      format: { type: "string", help: "Format output using a custom template" },
      "no-stream": { type: "bool", help: "Disable streaming stats and only pull the first result" },
      "no-trunc": { type: "bool", help: "Do not truncate output" },
    },
    min: 0,
    max: Infinity,
  },
  async (ctx, { values: v, positionals }) => {
    const noTrunc = v["no-trunc"] === true;
    for (;;) {
      const refs = positionals.length ? positionals : (await ctx.client.json<{ Id: string }[]>("GET", "/containers/json", { query: { all: v.all ? "1" : undefined } })).map((c) => c.Id);
      const rows = [];
      for (const r of refs) {
        const s = await ctx.client.json<Stats>("GET", `/containers/${encodeURIComponent(r)}/stats`, { query: { stream: "0" } });
        rows.push(statsRow(r, s, noTrunc));
      }
      const format = v.format as string | undefined;
      const text = format && format !== "table" ? formatRows(format, rows, HEADERS) : table([["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"], ...rows.map((r) => [r.ID, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs])]);
      if (v["no-stream"]) {
        ctx.out.write(text);
        return 0;
      }
      ctx.out.write((ctx.out.isTTY ? "\x1b[2J\x1b[H" : "") + text);
      await Bun.sleep(1000);
    }
  },
);
