/**
 * config.json parsing and validation (runtime-spec v1.2, Linux).
 *
 * `parseSpec` parses JSON keeping 64-bit integers exact (see Int64 in
 * runtime-spec.ts) and reports syntax errors with line and column;
 * `validateSpec` checks the type and value of every field berth reads and
 * reports every problem found, each naming its field path:
 *   config.json: process.args: must be a non-empty array of strings
 * Unknown properties are ignored, as the spec requires; `null` is treated as
 * absent (as Go's encoding/json does for runc) and removed from the result.
 * Checks that need the host (does the rootfs exist, is a joined netns the
 * host's, which capabilities the kernel has) belong to later stages.
 */
import { BerthError, invalidArgument } from "../errors.ts";
import { isCapability } from "./capabilities.ts";
import { rlimitNumber } from "./rlimits.ts";
import {
  CAPABILITY_SETS,
  HOOK_NAMES,
  IOPRIO_CLASSES,
  MEMORY_POLICY_FLAGS,
  MEMORY_POLICY_MODES,
  NAMESPACE_TYPES,
  ROOTFS_PROPAGATIONS,
  SCHEDULER_FLAGS,
  SCHEDULER_POLICIES,
  SECCOMP_ACTIONS,
  SECCOMP_OPERATORS,
  type LinuxNamespace,
  type LinuxNamespaceType,
  type LinuxResources,
  type Process,
  type Spec,
} from "./runtime-spec.ts";

export interface SpecProblem {
  /** Field path, e.g. "linux.namespaces[2].type"; "" for the document itself. */
  path: string;
  message: string;
}

export interface SpecCheck {
  /** The normalized copy of the input (nulls removed); a Spec only if problems is empty. */
  value: unknown;
  problems: SpecProblem[];
  /** Accepted but deprecated or suspicious, e.g. a relative mount destination. */
  warnings: SpecProblem[];
}

/** At most this many problems are spelled out in one error message. */
const MAX_REPORTED = 10;

// JSON parsing lives in json.ts; re-exported for existing callers.
export { parseJson, stringifyJson, findSyntaxError } from "./json.ts";
import { parseJson } from "./json.ts";

// =================================================================== entry points

/** Parse and validate config.json text. Errors are prefixed with `source`. */
export function parseSpec(text: string, source = "config.json"): Spec {
  return validateSpec(parseJson(text, source), { source });
}

/**
 * Validate a parsed config.json and return a normalized copy typed as Spec.
 * Throws InvalidArgument listing every problem ("; "-joined, first 10), each
 * as `<path>: <message>`, prefixed with `<source>: ` when a source is given.
 */
export function validateSpec(x: unknown, opts: { source?: string } = {}): Spec {
  const r = checkSpec(x);
  if (r.problems.length > 0) throw invalidArgument(formatProblems(r.problems, opts.source));
  return r.value as Spec;
}

/** Validate without throwing: every problem and warning found. */
export function checkSpec(x: unknown): SpecCheck {
  const c = new Ctx();
  const value = stripNulls(x);
  checkRoot(c, value);
  return { value, problems: c.problems, warnings: c.warnings };
}

/** "<source>: a: x; b: y; and 3 more problems". */
export function formatProblems(problems: readonly SpecProblem[], source?: string): string {
  const shown = problems.slice(0, MAX_REPORTED).map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  const more = problems.length - shown.length;
  if (more > 0) shown.push(`and ${more} more problem${more === 1 ? "" : "s"}`);
  const body = shown.join("; ");
  return source ? `${source}: ${body}` : body;
}

/**
 * Parse and validate a process.json (`exec --process`): the `process` object of
 * a config.json on its own, checked by the same rules; field paths are relative
 * to it (`process.json: cwd: must be an absolute path`).
 */
export function parseProcess(text: string, source = "process.json"): Process {
  const c = new Ctx();
  const value = stripNulls(parseJson(text, source));
  if (!isObj(value)) c.err("", `must be a json object, got ${show(value)}`);
  else checkProcess(c, value, "");
  if (c.problems.length > 0) throw invalidArgument(formatProblems(c.problems, source));
  return value as Process;
}

/**
 * Validate a `linux.resources` object on its own (what `update --resources`
 * reads); problems are named from `prefix` (e.g. "memory.limit").
 */
export function validateResources(x: unknown, opts: { source?: string; prefix?: string } = {}): LinuxResources {
  const c = new Ctx();
  const value = stripNulls(x);
  if (!isObj(value)) c.err(opts.prefix ?? "", "must be a JSON object");
  else checkResources(c, value, opts.prefix ?? "");
  if (c.problems.length > 0) throw invalidArgument(formatProblems(c.problems, opts.source));
  return value as LinuxResources;
}

/**
 * The spec allows a config without `process` but `create` needs one.
 * Returns spec.process or throws `config.json: process: required to create a container`.
 */
export function requireProcess(spec: Spec, source = "config.json"): Process {
  if (spec.process === undefined) throw invalidArgument(`${source}: process: required to create a container`);
  return spec.process;
}

/** The namespaces entry of a type, if any. */
export function findNamespace(spec: Spec, type: LinuxNamespaceType): LinuxNamespace | undefined {
  return spec.linux?.namespaces?.find((n) => n.type === type);
}

/** True if the container gets a new namespace of this type (listed without a path). */
export function isNewNamespace(spec: Spec, type: LinuxNamespaceType): boolean {
  const ns = findNamespace(spec, type);
  return ns !== undefined && !ns.path;
}

// =================================================================== helpers

type Obj = Record<string, unknown>;

class Ctx {
  readonly problems: SpecProblem[] = [];
  readonly warnings: SpecProblem[] = [];
  err(path: string, message: string): void {
    this.problems.push({ path, message });
  }
  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }
}

function stripNulls(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(stripNulls);
  if (isObj(x)) {
    const out: Obj = {};
    for (const [k, v] of Object.entries(x)) if (v !== null && v !== undefined) out[k] = stripNulls(v);
    return out;
  }
  return x;
}

function isObj(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Path of a member: a.b for identifiers, a["x.y"] otherwise. */
function at(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

const q = (s: string) => JSON.stringify(s);

function has(o: Obj, key: string): boolean {
  return Object.hasOwn(o, key) && o[key] !== undefined;
}

function obj(c: Ctx, o: Obj, key: string, path: string, required = false): Obj | undefined {
  const p = at(path, key);
  if (!has(o, key)) {
    if (required) c.err(p, "is required");
    return undefined;
  }
  const v = o[key];
  if (!isObj(v)) {
    c.err(p, "must be an object");
    return undefined;
  }
  return v;
}

function arr(c: Ctx, o: Obj, key: string, path: string, required = false): unknown[] | undefined {
  const p = at(path, key);
  if (!has(o, key)) {
    if (required) c.err(p, "is required");
    return undefined;
  }
  const v = o[key];
  if (!Array.isArray(v)) {
    c.err(p, "must be an array");
    return undefined;
  }
  return v;
}

/** Array of objects: yields [index, object, path] for each object element, reporting the others. */
function* objects(c: Ctx, o: Obj, key: string, path: string, required = false): Generator<[number, Obj, string]> {
  const a = arr(c, o, key, path, required);
  if (!a) return;
  const p = at(path, key);
  for (let i = 0; i < a.length; i++) {
    const e = a[i];
    if (!isObj(e)) c.err(at(p, i), "must be an object");
    else yield [i, e, at(p, i)];
  }
}

interface StrOpts {
  required?: boolean;
  nonEmpty?: boolean;
  absolute?: boolean;
  oneOf?: readonly string[];
  what?: string;
}

function str(c: Ctx, o: Obj, key: string, path: string, opts: StrOpts = {}): string | undefined {
  const p = at(path, key);
  if (!has(o, key)) {
    if (opts.required) c.err(p, "is required");
    return undefined;
  }
  return checkStr(c, o[key], p, opts);
}

function checkStr(c: Ctx, v: unknown, p: string, opts: StrOpts = {}): string | undefined {
  if (typeof v !== "string") {
    c.err(p, "must be a string");
    return undefined;
  }
  if (v.includes("\0")) {
    c.err(p, "must not contain a nul byte");
    return undefined;
  }
  if (opts.nonEmpty && v === "") {
    c.err(p, "must not be empty");
    return undefined;
  }
  if (opts.absolute && !v.startsWith("/")) {
    c.err(p, `must be an absolute path, got ${q(v)}`);
    return undefined;
  }
  if (opts.oneOf && !opts.oneOf.includes(v)) {
    c.err(p, `unknown ${opts.what ?? "value"} ${q(v)} (one of ${opts.oneOf.join(", ")})`);
    return undefined;
  }
  return v;
}

/** Array of strings, each checked by checkStr; returns the valid ones with their indexes. */
function strs(c: Ctx, o: Obj, key: string, path: string, opts: StrOpts & { nonEmptyArray?: boolean } = {}): [number, string][] | undefined {
  const p = at(path, key);
  if (!has(o, key)) {
    if (opts.required || opts.nonEmptyArray) c.err(p, opts.nonEmptyArray ? "must be a non-empty array of strings" : "is required");
    return undefined;
  }
  const v = o[key];
  if (!Array.isArray(v) || (opts.nonEmptyArray && v.length === 0)) {
    c.err(p, opts.nonEmptyArray ? "must be a non-empty array of strings" : "must be an array of strings");
    return undefined;
  }
  const out: [number, string][] = [];
  for (let i = 0; i < v.length; i++) {
    const s = checkStr(c, v[i], at(p, i), opts);
    if (s !== undefined) out.push([i, s]);
  }
  return out;
}

function bool(c: Ctx, o: Obj, key: string, path: string, required = false): boolean | undefined {
  const p = at(path, key);
  if (!has(o, key)) {
    if (required) c.err(p, "is required");
    return undefined;
  }
  const v = o[key];
  if (typeof v !== "boolean") {
    c.err(p, "must be a boolean");
    return undefined;
  }
  return v;
}

interface Range {
  min: bigint;
  max: bigint;
  /** Overrides the "must be an integer from min to max" wording. */
  text?: string;
}
const U16: Range = { min: 0n, max: 0xffffn };
const U32: Range = { min: 0n, max: 0xffff_ffffn };
const I32: Range = { min: -0x8000_0000n, max: 0x7fff_ffffn };
const U64: Range = { min: 0n, max: 0xffff_ffff_ffff_ffffn, text: "must be a non-negative integer (uint64)" };
const I64: Range = { min: -0x8000_0000_0000_0000n, max: 0x7fff_ffff_ffff_ffffn, text: "must be an integer (int64)" };
/** int64 where -1 means "unlimited". */
const I64_LIMIT: Range = { min: -1n, max: I64.max, text: "must be -1 (unlimited) or a non-negative integer" };
/** 64-bit fields typed `number`: values must stay exact. */
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const U53: Range = { min: 0n, max: SAFE, text: `must be a non-negative integer (at most ${SAFE})` };
const I53: Range = { min: -SAFE, max: SAFE, text: `must be an integer from -${SAFE} to ${SAFE}` };
const I53_LIMIT: Range = { min: -1n, max: SAFE, text: `must be -1 (unlimited) or a non-negative integer (at most ${SAFE})` };

function toBig(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  return undefined;
}

function checkInt(c: Ctx, v: unknown, p: string, r: Range): bigint | undefined {
  const b = toBig(v);
  if (b === undefined || b < r.min || b > r.max) {
    c.err(p, `${r.text ?? `must be an integer from ${r.min} to ${r.max}`}, got ${show(v)}`);
    return undefined;
  }
  return b;
}

function int(c: Ctx, o: Obj, key: string, path: string, r: Range, required = false): bigint | undefined {
  const p = at(path, key);
  if (!has(o, key)) {
    if (required) c.err(p, "is required");
    return undefined;
  }
  return checkInt(c, o[key], p, r);
}

function show(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string") return q(v);
  if (Array.isArray(v)) return "an array";
  if (isObj(v)) return "an object";
  return String(v);
}

/** "0-3,7" (cpuset / node list); also the kernel's "0-15:2/4" stride form. */
function isCpuList(s: string): boolean {
  if (s === "") return true;
  for (const part of s.split(",")) {
    const m = /^([0-9]+)(?:-([0-9]+)(?::([0-9]+)\/([0-9]+))?)?$/.exec(part.trim());
    if (!m) return false;
    if (m[2] !== undefined && Number(m[2]) < Number(m[1])) return false;
  }
  return true;
}

function cpuList(c: Ctx, o: Obj, key: string, path: string): string | undefined {
  const s = str(c, o, key, path);
  if (s !== undefined && !isCpuList(s)) {
    c.err(at(path, key), `must be a list like "0-3,7", got ${q(s)}`);
    return undefined;
  }
  return s;
}

/** "KEY=value" with a non-empty key, as runc requires of process.env. */
function envList(c: Ctx, o: Obj, key: string, path: string): void {
  for (const [i, e] of strs(c, o, key, path) ?? []) {
    const eq = e.indexOf("=");
    if (eq <= 0) c.err(at(at(path, key), i), `must be "KEY=value", got ${q(e)}`);
  }
}

// =================================================================== the document

interface NsInfo {
  /** Types listed, with their path ("" when new). */
  map: Map<string, string>;
}

function nsPresent(ns: NsInfo, type: LinuxNamespaceType): boolean {
  return ns.map.has(type);
}
function nsNew(ns: NsInfo, type: LinuxNamespaceType): boolean {
  return ns.map.get(type) === "";
}
const noNs = (type: LinuxNamespaceType) => `requires a ${type} namespace (linux.namespaces has no ${q(type)} entry)`;

function checkRoot(c: Ctx, x: unknown): void {
  if (!isObj(x)) {
    c.err("", `must be a json object, got ${show(x)}`);
    return;
  }
  checkVersion(c, x);

  const linux = obj(c, x, "linux", "");
  const ns = checkNamespaces(c, linux ?? {});

  const process = obj(c, x, "process", "");
  if (process) checkProcess(c, process, "process");

  const root = obj(c, x, "root", "", true);
  if (root) {
    str(c, root, "path", "root", { required: true, nonEmpty: true });
    bool(c, root, "readonly", "root");
  }

  for (const field of ["hostname", "domainname"] as const) {
    const h = str(c, x, field, "");
    if (h === undefined || h === "") continue;
    if (new TextEncoder().encode(h).length > 64) c.err(field, "must be at most 64 bytes");
    else if (!nsPresent(ns, "uts")) c.err(field, noNs("uts"));
  }

  for (const [, m, p] of objects(c, x, "mounts", "")) checkMount(c, m, p);

  const hooks = obj(c, x, "hooks", "");
  if (hooks) {
    for (const name of HOOK_NAMES) {
      for (const [, h, p] of objects(c, hooks, name, "hooks")) {
        str(c, h, "path", p, { required: true, absolute: true });
        strs(c, h, "args", p);
        envList(c, h, "env", p);
        int(c, h, "timeout", p, { min: 1n, max: 0x7fff_ffffn, text: "must be a positive integer (seconds)" });
      }
    }
  }

  const ann = obj(c, x, "annotations", "");
  if (ann) {
    for (const [k, v] of Object.entries(ann)) {
      if (k === "") c.err("annotations", "keys must not be empty");
      else if (typeof v !== "string") c.err(at("annotations", k), "must be a string");
    }
  }

  if (linux) checkLinux(c, linux, ns);
}

const SEMVER =
  /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

function checkVersion(c: Ctx, x: Obj): void {
  const v = str(c, x, "ociVersion", "", { required: true });
  if (v === undefined) return;
  const m = SEMVER.exec(v);
  if (!m) c.err("ociVersion", `must be a semver version like "1.2.0", got ${q(v)}`);
  else if (m[1] !== "1") c.err("ociVersion", `unsupported version ${q(v)}: berth supports 1.x`);
}

// ------------------------------------------------------------------- process

function checkProcess(c: Ctx, p: Obj, path: string): void {
  bool(c, p, "terminal", path);
  const box = obj(c, p, "consoleSize", path);
  if (box) {
    int(c, box, "height", at(path, "consoleSize"), U16, true);
    int(c, box, "width", at(path, "consoleSize"), U16, true);
  }

  const user = obj(c, p, "user", path, true);
  if (user) {
    const up = at(path, "user");
    int(c, user, "uid", up, U32, true);
    int(c, user, "gid", up, U32, true);
    int(c, user, "umask", up, { min: 0n, max: 0o7777n });
    const gids = arr(c, user, "additionalGids", up);
    gids?.forEach((g, i) => checkInt(c, g, at(at(up, "additionalGids"), i), U32));
    str(c, user, "username", up);
  }

  strs(c, p, "args", path, { nonEmptyArray: true });
  str(c, p, "commandLine", path);
  envList(c, p, "env", path);
  str(c, p, "cwd", path, { required: true, absolute: true });

  const caps = obj(c, p, "capabilities", path);
  if (caps) {
    const cp = at(path, "capabilities");
    for (const set of CAPABILITY_SETS) {
      for (const [i, name] of strs(c, caps, set, cp) ?? []) {
        if (!isCapability(name)) c.err(at(at(cp, set), i), `unknown capability ${q(name)}`);
      }
    }
  }

  const seen = new Map<string, number>();
  for (const [i, rl, rp] of objects(c, p, "rlimits", path)) {
    const type = str(c, rl, "type", rp, { required: true });
    if (type !== undefined) {
      if (rlimitNumber(type) === undefined) c.err(at(rp, "type"), `unknown rlimit ${q(type)}`);
      else if (seen.has(type)) c.err(at(rp, "type"), `duplicate rlimit ${q(type)} (also at index ${seen.get(type)})`);
      else seen.set(type, i);
    }
    const soft = int(c, rl, "soft", rp, U64, true);
    const hard = int(c, rl, "hard", rp, U64, true);
    if (soft !== undefined && hard !== undefined && soft > hard) c.err(rp, `soft limit ${soft} exceeds hard limit ${hard}`);
  }

  bool(c, p, "noNewPrivileges", path);
  str(c, p, "apparmorProfile", path);
  str(c, p, "selinuxLabel", path);
  int(c, p, "oomScoreAdj", path, { min: -1000n, max: 1000n });

  const sched = obj(c, p, "scheduler", path);
  if (sched) checkScheduler(c, sched, at(path, "scheduler"));

  const io = obj(c, p, "ioPriority", path);
  if (io) {
    const ip = at(path, "ioPriority");
    str(c, io, "class", ip, { required: true, oneOf: IOPRIO_CLASSES, what: "class" });
    int(c, io, "priority", ip, { min: 0n, max: 7n }, true);
  }

  const aff = obj(c, p, "execCPUAffinity", path);
  if (aff) {
    cpuList(c, aff, "initial", at(path, "execCPUAffinity"));
    cpuList(c, aff, "final", at(path, "execCPUAffinity"));
  }
}

function checkScheduler(c: Ctx, s: Obj, p: string): void {
  const policy = str(c, s, "policy", p, { required: true, oneOf: SCHEDULER_POLICIES, what: "policy" });
  const nice = int(c, s, "nice", p, I32);
  const prio = int(c, s, "priority", p, I32);
  for (const [i, f] of strs(c, s, "flags", p) ?? []) {
    if (!SCHEDULER_FLAGS.includes(f as never)) c.err(at(at(p, "flags"), i), `unknown flag ${q(f)}`);
  }
  const runtime = int(c, s, "runtime", p, U53);
  const deadline = int(c, s, "deadline", p, U53);
  const period = int(c, s, "period", p, U53);
  if (policy === undefined) return;
  // The same rules as runc's validator.
  if ((policy === "SCHED_OTHER" || policy === "SCHED_BATCH") && nice !== undefined && (nice < -20n || nice > 19n)) {
    c.err(at(p, "nice"), `must be from -20 to 19 with policy ${policy}, got ${nice}`);
  }
  if (prio !== undefined && prio !== 0n && policy !== "SCHED_FIFO" && policy !== "SCHED_RR") {
    c.err(at(p, "priority"), "can only be set with policy SCHED_FIFO or SCHED_RR");
  }
  if (policy !== "SCHED_DEADLINE" && [runtime, deadline, period].some((v) => v !== undefined && v !== 0n)) {
    c.err(p, "runtime, deadline and period can only be set with policy SCHED_DEADLINE");
  }
}

// ------------------------------------------------------------------- mounts

function checkMount(c: Ctx, m: Obj, p: string): void {
  const dest = str(c, m, "destination", p, { required: true, nonEmpty: true });
  if (dest !== undefined && !dest.startsWith("/")) {
    // Allowed for compatibility (runtime-spec: deprecated, relative to "/"); runc warns.
    c.warn(at(p, "destination"), `relative destination ${q(dest)} is deprecated, taken as relative to "/"`);
  }
  str(c, m, "type", p);
  str(c, m, "source", p);
  strs(c, m, "options", p);
  const u = idMappings(c, m, "uidMappings", p);
  const g = idMappings(c, m, "gidMappings", p);
  if ((u === undefined) !== (g === undefined)) {
    c.err(p, "uidMappings and gidMappings must be given together");
  }
}

/** Returns the number of mappings, or undefined if the field is absent. */
function idMappings(c: Ctx, o: Obj, key: string, path: string): number | undefined {
  const a = arr(c, o, key, path);
  if (!a) return undefined;
  const p = at(path, key);
  const ranges: { c: bigint; h: bigint; n: bigint; i: number }[] = [];
  a.forEach((e, i) => {
    const ep = at(p, i);
    if (!isObj(e)) return c.err(ep, "must be an object");
    const cid = int(c, e, "containerID", ep, U32, true);
    const hid = int(c, e, "hostID", ep, U32, true);
    const size = int(c, e, "size", ep, { min: 1n, max: U32.max, text: "must be a positive integer (uint32)" }, true);
    if (cid === undefined || hid === undefined || size === undefined) return;
    if (cid + size > 0x1_0000_0000n || hid + size > 0x1_0000_0000n) return c.err(ep, "range exceeds the 32-bit id space");
    for (const r of ranges) {
      if (cid < r.c + r.n && r.c < cid + size) return c.err(ep, `container ids overlap entry ${r.i}`);
      if (hid < r.h + r.n && r.h < hid + size) return c.err(ep, `host ids overlap entry ${r.i}`);
    }
    ranges.push({ c: cid, h: hid, n: size, i });
  });
  return a.length;
}

// ------------------------------------------------------------------- linux

function checkNamespaces(c: Ctx, linux: Obj): NsInfo {
  const map = new Map<string, string>();
  for (const [, n, p] of objects(c, linux, "namespaces", "linux")) {
    const type = str(c, n, "type", p, { required: true });
    const path = str(c, n, "path", p);
    if (path !== undefined && path !== "" && !path.startsWith("/")) c.err(at(p, "path"), `must be an absolute path, got ${q(path)}`);
    if (type === undefined) continue;
    if (!NAMESPACE_TYPES.includes(type as never)) {
      c.err(at(p, "type"), `unknown namespace ${q(type)}`);
      continue;
    }
    if (map.has(type)) {
      const first = (linux.namespaces as unknown[]).findIndex((e) => isObj(e) && e.type === type);
      c.err(at(p, "type"), `duplicate namespace ${q(type)} (also at index ${first})`);
      continue;
    }
    map.set(type, path ?? "");
  }
  return { map };
}

function checkLinux(c: Ctx, l: Obj, ns: NsInfo): void {
  const L = "linux";

  // user namespace mappings: required iff the user namespace is new
  const u = idMappings(c, l, "uidMappings", L);
  const g = idMappings(c, l, "gidMappings", L);
  if (nsNew(ns, "user")) {
    if (!u) c.err(at(L, "uidMappings"), "required with a new user namespace");
    if (!g) c.err(at(L, "gidMappings"), "required with a new user namespace");
  } else if (!nsPresent(ns, "user")) {
    if (u !== undefined) c.err(at(L, "uidMappings"), noNs("user"));
    if (g !== undefined) c.err(at(L, "gidMappings"), noNs("user"));
  }
  // A joined user namespace (with a path) may carry mappings or not.

  const sysctl = obj(c, l, "sysctl", L);
  if (sysctl) checkSysctl(c, sysctl, ns);

  const res = obj(c, l, "resources", L);
  if (res) checkResources(c, res, at(L, "resources"));

  str(c, l, "cgroupsPath", L);

  for (const [, d, p] of objects(c, l, "devices", L)) {
    str(c, d, "path", p, { required: true, absolute: true });
    const type = str(c, d, "type", p, { required: true, oneOf: ["c", "b", "u", "p"], what: "device type" });
    const needNumbers = type !== undefined && type !== "p";
    int(c, d, "major", p, U32, needNumbers);
    int(c, d, "minor", p, U32, needNumbers);
    int(c, d, "fileMode", p, U32);
    int(c, d, "uid", p, U32);
    int(c, d, "gid", p, U32);
  }

  const netdevs = obj(c, l, "netDevices", L);
  if (netdevs) {
    const np = at(L, "netDevices");
    if (Object.keys(netdevs).length > 0 && !nsPresent(ns, "network")) c.err(np, noNs("network"));
    for (const [name, v] of Object.entries(netdevs)) {
      if (!validNetDevName(name)) c.err(np, `invalid network device name ${q(name)}`);
      if (!isObj(v)) {
        c.err(at(np, name), "must be an object");
        continue;
      }
      const to = str(c, v, "name", at(np, name));
      if (to !== undefined && to !== "" && !validNetDevName(to)) c.err(at(at(np, name), "name"), `invalid network device name ${q(to)}`);
    }
  }

  const sec = obj(c, l, "seccomp", L);
  if (sec) checkSeccomp(c, sec, at(L, "seccomp"));

  str(c, l, "rootfsPropagation", L, { oneOf: ROOTFS_PROPAGATIONS, what: "propagation" });

  for (const key of ["maskedPaths", "readonlyPaths"]) {
    const list = strs(c, l, key, L, { absolute: true });
    if (list && list.length > 0 && !nsPresent(ns, "mount")) c.err(at(L, key), noNs("mount"));
  }

  str(c, l, "mountLabel", L);

  const rdt = obj(c, l, "intelRdt", L);
  if (rdt) {
    const rp = at(L, "intelRdt");
    const clos = str(c, rdt, "closID", rp);
    if (clos !== undefined && (clos === "." || clos === ".." || clos.includes("/") || clos.includes("\n"))) {
      c.err(at(rp, "closID"), `invalid class of service ${q(clos)}`);
    }
    strs(c, rdt, "schemata", rp);
    str(c, rdt, "l3CacheSchema", rp);
    const mb = str(c, rdt, "memBwSchema", rp);
    if (mb !== undefined && mb !== "" && (!mb.startsWith("MB:") || mb.includes("\n"))) {
      c.err(at(rp, "memBwSchema"), `must start with "MB:" and be one line, got ${q(mb)}`);
    }
    for (const b of ["enableCMT", "enableMBM", "enableMonitoring"]) bool(c, rdt, b, rp);
  }

  const mpol = obj(c, l, "memoryPolicy", L);
  if (mpol) checkMemoryPolicy(c, mpol, at(L, "memoryPolicy"));

  const pers = obj(c, l, "personality", L);
  if (pers) {
    str(c, pers, "domain", at(L, "personality"), { required: true, oneOf: ["LINUX", "LINUX32"], what: "domain" });
    strs(c, pers, "flags", at(L, "personality"));
  }

  const offs = obj(c, l, "timeOffsets", L);
  if (offs) {
    const tp = at(L, "timeOffsets");
    if (!nsPresent(ns, "time")) c.err(tp, noNs("time"));
    else if (!nsNew(ns, "time")) c.err(tp, "cannot be set when joining an existing time namespace");
    for (const [clock, v] of Object.entries(offs)) {
      const cp = at(tp, clock);
      if (clock !== "monotonic" && clock !== "boottime") c.err(cp, `unknown clock ${q(clock)} (one of monotonic, boottime)`);
      if (!isObj(v)) {
        c.err(cp, "must be an object");
        continue;
      }
      int(c, v, "secs", cp, I53);
      int(c, v, "nanosecs", cp, { min: 0n, max: 999_999_999n });
    }
  }
}

function validNetDevName(name: string): boolean {
  // dev_valid_name(): 1..15 bytes, not "." or "..", no "/", ":" or whitespace.
  return name.length > 0 && name.length < 16 && name !== "." && name !== ".." && !/[/:\s]/.test(name);
}

/** Sysctls that live in the IPC namespace (besides the fs.mqueue.* prefix). */
export const IPC_SYSCTLS: ReadonlySet<string> = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

/**
 * Keys as sysctl(8) writes them: "net.ipv4.ip_forward", or with "/" as the
 * separator ("net/ipv4/conf/eth0.100/rp_filter"). Only namespaced keys are
 * allowed, with the namespace they need (runc's rules).
 */
function checkSysctl(c: Ctx, s: Obj, ns: NsInfo): void {
  for (const [key, v] of Object.entries(s)) {
    const p = at("linux.sysctl", key);
    if (typeof v !== "string") c.err(p, "must be a string");
    const slash = sysctlPath(key);
    if (slash === undefined) {
      c.err(p, "invalid sysctl name");
      continue;
    }
    const dotted = slash.replaceAll(".", "\u0000").replaceAll("/", ".").replaceAll("\u0000", "/");
    if (IPC_SYSCTLS.has(dotted) || dotted.startsWith("fs.mqueue.")) {
      if (!nsPresent(ns, "ipc")) c.err(p, noNs("ipc"));
    } else if (dotted.startsWith("net.")) {
      // A joined network namespace is accepted here; whether it is the host's is checked at create.
      if (!nsPresent(ns, "network")) c.err(p, noNs("network"));
    } else if (nsPresent(ns, "uts") && dotted === "kernel.domainname") {
      // namespaced, no dedicated field for it
    } else if (nsPresent(ns, "uts") && dotted === "kernel.hostname") {
      c.err(p, "conflicts with the hostname field; set hostname instead");
    } else if (dotted.startsWith("user.")) {
      if (!nsPresent(ns, "user")) c.err(p, noNs("user"));
    } else {
      c.err(p, "is not namespaced: it would change the host");
    }
  }
}

/** The key as a path under /proc/sys ("net/ipv4/ip_forward"), or undefined if malformed. */
export function sysctlPath(key: string): string | undefined {
  if (key === "" || /[\s\0]/.test(key)) return undefined;
  const first = key.search(/[./]/);
  // sysctl(8): if the first separator is "/", "/" separates and "." is part of names.
  const slash = first === -1 || key[first] === "/" ? key : key.replaceAll("/", "\u0000").replaceAll(".", "/").replaceAll("\u0000", ".");
  if (slash.split("/").some((seg) => seg === "" || seg === "." || seg === "..")) return undefined;
  return slash;
}

function checkMemoryPolicy(c: Ctx, m: Obj, p: string): void {
  const mode = str(c, m, "mode", p, { required: true, oneOf: MEMORY_POLICY_MODES, what: "mode" });
  const nodes = cpuList(c, m, "nodes", p);
  for (const [i, f] of strs(c, m, "flags", p) ?? []) {
    if (!MEMORY_POLICY_FLAGS.includes(f as never)) c.err(at(at(p, "flags"), i), `unknown flag ${q(f)}`);
  }
  if (mode === undefined) return;
  const empty = nodes === undefined || nodes.trim() === "";
  if ((mode === "MPOL_DEFAULT" || mode === "MPOL_LOCAL") && !empty) c.err(at(p, "nodes"), `must be empty with mode ${mode}`);
  if ((mode === "MPOL_BIND" || mode === "MPOL_INTERLEAVE" || mode === "MPOL_PREFERRED_MANY" || mode === "MPOL_WEIGHTED_INTERLEAVE") && empty) {
    c.err(at(p, "nodes"), `at least one node is required with mode ${mode}`);
  }
}

// ------------------------------------------------------------------- resources

function checkResources(c: Ctx, r: Obj, p: string): void {
  for (const [, d, dp] of objects(c, r, "devices", p)) {
    bool(c, d, "allow", dp, true);
    str(c, d, "type", dp, { oneOf: ["a", "b", "c"], what: "device type" });
    int(c, d, "major", dp, { min: -1n, max: U32.max, text: "must be -1 (any) or an integer from 0 to 4294967295" });
    int(c, d, "minor", dp, { min: -1n, max: U32.max, text: "must be -1 (any) or an integer from 0 to 4294967295" });
    const access = str(c, d, "access", dp);
    if (access !== undefined && (!/^[rwm]*$/.test(access) || new Set(access).size !== access.length)) {
      c.err(at(dp, "access"), `must be a combination of "r", "w" and "m", got ${q(access)}`);
    }
  }

  const mem = obj(c, r, "memory", p);
  if (mem) {
    const mp = at(p, "memory");
    const limit = int(c, mem, "limit", mp, I64_LIMIT);
    int(c, mem, "reservation", mp, I64_LIMIT);
    const swap = int(c, mem, "swap", mp, I64_LIMIT);
    int(c, mem, "kernel", mp, I64_LIMIT);
    int(c, mem, "kernelTCP", mp, I64_LIMIT);
    int(c, mem, "swappiness", mp, { min: 0n, max: 100n });
    for (const b of ["disableOOMKiller", "useHierarchy", "checkBeforeUpdate"]) bool(c, mem, b, mp);
    if (limit !== undefined && swap !== undefined && limit > 0n && swap > 0n && swap < limit) {
      c.err(at(mp, "swap"), `memory+swap limit ${swap} is below the memory limit ${limit}`);
    }
  }

  const cpu = obj(c, r, "cpu", p);
  if (cpu) {
    const cp = at(p, "cpu");
    int(c, cpu, "shares", cp, U53);
    const quota = int(c, cpu, "quota", cp, I53_LIMIT);
    const burst = int(c, cpu, "burst", cp, U53);
    int(c, cpu, "period", cp, U53);
    int(c, cpu, "realtimeRuntime", cp, I53_LIMIT);
    int(c, cpu, "realtimePeriod", cp, U53);
    cpuList(c, cpu, "cpus", cp);
    cpuList(c, cpu, "mems", cp);
    int(c, cpu, "idle", cp, { min: 0n, max: 1n });
    if (quota !== undefined && burst !== undefined && quota > 0n && burst > quota) {
      c.err(at(cp, "burst"), `must not exceed quota ${quota}, got ${burst}`);
    }
  }

  const pids = obj(c, r, "pids", p);
  if (pids) int(c, pids, "limit", at(p, "pids"), { min: -1n, max: SAFE, text: "must be -1, 0 (unlimited) or a positive integer" });

  const bio = obj(c, r, "blockIO", p);
  if (bio) {
    const bp = at(p, "blockIO");
    int(c, bio, "weight", bp, U16);
    int(c, bio, "leafWeight", bp, U16);
    const dev = U32;
    for (const [, w, wp] of objects(c, bio, "weightDevice", bp)) {
      int(c, w, "major", wp, dev, true);
      int(c, w, "minor", wp, dev, true);
      const a = int(c, w, "weight", wp, U16);
      const b = int(c, w, "leafWeight", wp, U16);
      if (a === undefined && b === undefined && !has(w, "weight") && !has(w, "leafWeight")) c.err(wp, "needs weight or leafWeight");
    }
    for (const key of ["throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"]) {
      for (const [, t, tp] of objects(c, bio, key, bp)) {
        int(c, t, "major", tp, dev, true);
        int(c, t, "minor", tp, dev, true);
        int(c, t, "rate", tp, U53, true);
      }
    }
  }

  for (const [, h, hp] of objects(c, r, "hugepageLimits", p)) {
    const size = str(c, h, "pageSize", hp, { required: true });
    if (size !== undefined && !/^[1-9][0-9]*[KMG]B$/.test(size)) c.err(at(hp, "pageSize"), `must be a size like "2MB", got ${q(size)}`);
    int(c, h, "limit", hp, U64, true);
  }

  const net = obj(c, r, "network", p);
  if (net) {
    const np = at(p, "network");
    int(c, net, "classID", np, U32);
    for (const [, pr, pp] of objects(c, net, "priorities", np)) {
      str(c, pr, "name", pp, { required: true, nonEmpty: true });
      int(c, pr, "priority", pp, U32, true);
    }
  }

  const rdma = obj(c, r, "rdma", p);
  if (rdma) {
    for (const [dev, v] of Object.entries(rdma)) {
      const rp = at(at(p, "rdma"), dev);
      if (!isObj(v)) {
        c.err(rp, "must be an object");
        continue;
      }
      int(c, v, "hcaHandles", rp, U32);
      int(c, v, "hcaObjects", rp, U32);
      if (!has(v, "hcaHandles") && !has(v, "hcaObjects")) c.err(rp, "needs hcaHandles or hcaObjects");
    }
  }

  const unified = obj(c, r, "unified", p);
  if (unified) {
    for (const [k, v] of Object.entries(unified)) {
      const up = at(at(p, "unified"), k);
      if (k === "" || k === "." || k === ".." || k.includes("/") || k.includes("\0")) c.err(up, "must be a cgroup file name");
      if (typeof v !== "string") c.err(up, "must be a string");
    }
  }
}

// ------------------------------------------------------------------- seccomp

/** Shape only; names, architectures and flags are checked by the seccomp compiler. */
function checkSeccomp(c: Ctx, s: Obj, p: string): void {
  str(c, s, "defaultAction", p, { required: true, oneOf: SECCOMP_ACTIONS, what: "action" });
  int(c, s, "defaultErrnoRet", p, U32);
  strs(c, s, "architectures", p, { nonEmpty: true });
  strs(c, s, "flags", p, { nonEmpty: true });
  const listener = str(c, s, "listenerPath", p);
  const meta = str(c, s, "listenerMetadata", p);
  if (meta !== undefined && meta !== "" && !listener) c.err(at(p, "listenerMetadata"), "requires listenerPath");
  for (const [, sc, sp] of objects(c, s, "syscalls", p)) {
    strs(c, sc, "names", sp, { nonEmptyArray: true, nonEmpty: true });
    str(c, sc, "action", sp, { required: true, oneOf: SECCOMP_ACTIONS, what: "action" });
    int(c, sc, "errnoRet", sp, U32);
    for (const [, a, ap] of objects(c, sc, "args", sp)) {
      int(c, a, "index", ap, { min: 0n, max: 5n }, true);
      int(c, a, "value", ap, U64, true);
      int(c, a, "valueTwo", ap, U64);
      str(c, a, "op", ap, { required: true, oneOf: SECCOMP_OPERATORS, what: "operator" });
    }
  }
}
