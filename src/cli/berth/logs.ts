/** berth logs: the container's output, demultiplexed unless it has a tty; -f follows. */
import { BerthError } from "../../errors.ts";
import { verb } from "./flags.ts";
import { Demuxer, STDERR } from "./hijack.ts";
import { parseDuration } from "./run-flags.ts";
import { writeAll } from "./session.ts";

/**
 * docker's --since/--until: a Go duration before now ("10m", "1h30m"), unix
 * seconds ("1700000000.5"), or an RFC 3339 date; sent as unix seconds.
 */
export function timestampParam(flag: string, v: string, now = Date.now()): string {
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  if (/^[0-9.]+(ns|us|µs|ms|s|m|h)/.test(v)) {
    const ns = parseDuration(flag, v);
    return ((now * 1e6 - ns) / 1e9).toFixed(9).replace(/\.?0+$/, "");
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new BerthError("InvalidArgument", `invalid value for "${flag.replace(/^--/, "")}": failed to parse value as time or duration: "${v}"`);
  return String(t / 1000);
}

export const logs = verb(
  {
    name: "logs",
    usage: "[OPTIONS] CONTAINER",
    summary: "Fetch the logs of a container",
    flags: {
      details: { type: "bool", help: "Show extra details provided to logs" },
      follow: { type: "bool", short: "f", help: "Follow log output" },
      since: { type: "string", help: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
      tail: { type: "string", short: "n", help: 'Number of lines to show from the end of the logs (default "all")' },
      timestamps: { type: "bool", short: "t", help: "Show timestamps" },
      until: { type: "string", help: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    },
    min: 1,
    max: 1,
  },
  async (ctx, { values: v, positionals }) => {
    const since = v.since as string | undefined;
    const until = v.until as string | undefined;
    const res = await ctx.client.request("GET", `/containers/${encodeURIComponent(positionals[0]!)}/logs`, {
      query: {
        stdout: "1",
        stderr: "1",
        follow: v.follow ? "1" : undefined,
        timestamps: v.timestamps ? "1" : undefined,
        details: v.details ? "1" : undefined,
        tail: (v.tail as string | undefined) ?? "all",
        since: since ? timestampParam("--since", since) : undefined,
        until: until ? timestampParam("--until", until) : undefined,
      },
    });
    const tty = (res.headers.get("content-type") ?? "").includes("raw-stream");
    const demux = tty ? undefined : new Demuxer((stream, data) => writeAll(stream === STDERR ? 2 : 1, data));
    for await (const chunk of res.body! as unknown as AsyncIterable<Uint8Array>) {
      if (demux) demux.push(Buffer.from(chunk));
      else writeAll(1, chunk);
    }
    return 0;
  },
);
