/** The engine's per-container monitor: see monitored.ts (and native/monitor.c). */
export { startMonitored, openMonitored, recover, MonitoredContainer, type StartOptions, type LogOptions, type MonitorState } from "./monitored.ts";
export type { ExitStatus } from "./exit.ts";
export type { Attachment, Output } from "./attach.ts";
export type { LogEntry, Stream } from "./log-format.ts";
export type { LogQuery } from "./log-reader.ts";
export type { LogConfig, MonitorConfig } from "./layout.ts";
