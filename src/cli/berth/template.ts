/**
 * The part of Go's text/template that `--format` users write, over JSON
 * values: actions with pipelines (`{{.A.B | json}}`), variables (`$`,
 * `$x := ...`), `if`/`else if`/`else`, `range` (with `$i, $v :=`, over
 * arrays and maps in key order), `with`, comments, `{{-`/`-}}` trimming,
 * the builtins (and or not eq ne lt le gt ge len index slice print printf
 * println) and docker's own (json join split lower upper title pad
 * truncate). A function-valued field is a method: `{{.Label "k"}}`.
 * A missing map key prints "<no value>", as Go does for maps.
 */
import { invalidArgument } from "../../errors.ts";

type Node =
  | { k: "text"; s: string }
  | { k: "action"; pipe: Pipe }
  | { k: "if" | "with"; pipe: Pipe; body: Node[]; else: Node[] }
  | { k: "range"; pipe: Pipe; body: Node[]; else: Node[] };

interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Arg[][];
}

type Arg =
  | { k: "field"; base: "dot" | string; path: string[] } // .A.B, $x.A, $
  | { k: "ident"; name: string }
  | { k: "lit"; v: unknown }
  | { k: "sub"; pipe: Pipe; path: string[] };

const MISSING = Symbol("no value");

export class TemplateError extends Error {}
const fail = (m: string): never => {
  throw new TemplateError(m);
};

// ---------------------------------------------------------------- parse

function lexActions(src: string): ({ text: string } | { action: string })[] {
  const out: ({ text: string } | { action: string })[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, "");
    if (open < 0) {
      if (text) out.push({ text });
      break;
    }
    let a = open + 2;
    if (src.startsWith("- ", a) || src.startsWith("-\t", a) || src.startsWith("-\n", a)) {
      text = text.replace(/\s+$/, "");
      a += 1;
    }
    if (text) out.push({ text });
    // find the closing braces outside of string literals
    let j = a;
    let q: string | null = null;
    for (; j < src.length; j++) {
      const c = src[j]!;
      if (q) {
        if (c === "\\" && q === '"') j++;
        else if (c === q) q = null;
      } else if (c === '"' || c === "`") q = c;
      else if (src.startsWith("}}", j)) break;
    }
    if (j >= src.length) fail("unclosed action");
    let body = src.slice(a, j);
    trimNext = false;
    if (/[ \t\n]-$/.test(body)) {
      body = body.slice(0, -1);
      trimNext = true;
    }
    out.push({ action: body.trim() });
    i = j + 2;
  }
  return out;
}

function tokenize(s: string): string[] {
  const toks: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) if (s[j] === "\\") j++;
      if (j >= s.length) fail("unterminated quoted string");
      toks.push(s.slice(i, j + 1));
      i = j + 1;
    } else if (c === "`") {
      const j = s.indexOf("`", i + 1);
      if (j < 0) fail("unterminated raw quoted string");
      toks.push(s.slice(i, j + 1));
      i = j + 1;
    } else if (c === "(" || c === ")" || c === "|" || c === ",") {
      toks.push(c);
      i++;
    } else if (s.startsWith(":=", i) || s.startsWith("=", i)) {
      const t = s.startsWith(":=", i) ? ":=" : "=";
      toks.push(t);
      i += t.length;
    } else {
      let j = i;
      while (j < s.length && !/[\s()|,]/.test(s[j]!) && !s.startsWith(":=", j) && !(s[j] === "=" && j > i)) j++;
      if (j === i) j++;
      toks.push(s.slice(i, j));
      i = j;
    }
  }
  return toks;
}

function parseString(t: string): string {
  if (t.startsWith("`")) return t.slice(1, -1);
  try {
    return JSON.parse(t) as string;
  } catch {
    return fail(`malformed string ${t}`);
  }
}

function parseOperand(t: string): Arg {
  if (t.startsWith('"') || t.startsWith("`")) return { k: "lit", v: parseString(t) };
  if (t === "true" || t === "false") return { k: "lit", v: t === "true" };
  if (t === "nil") return { k: "lit", v: null };
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) || /^0x[0-9a-fA-F]+$/.test(t)) return { k: "lit", v: Number(t) };
  if (t.startsWith("'") && t.endsWith("'") && t.length >= 3) return { k: "lit", v: t.codePointAt(1) };
  if (t === ".") return { k: "field", base: "dot", path: [] };
  if (t.startsWith(".")) return { k: "field", base: "dot", path: t.slice(1).split(".") };
  if (t.startsWith("$")) {
    const [v, ...path] = t.split(".");
    return { k: "field", base: v!, path };
  }
  if (/^[A-Za-z_]\w*$/.test(t)) return { k: "ident", name: t };
  return fail(`unexpected "${t}" in operand`);
}

function parsePipe(toks: string[], pos: { i: number }, inParen: boolean): Pipe {
  const pipe: Pipe = { decl: [], assign: false, cmds: [] };
  // declarations: $x := / $i, $v :=
  const save = pos.i;
  const vars: string[] = [];
  while (pos.i < toks.length && toks[pos.i]!.startsWith("$") && !toks[pos.i]!.includes(".")) {
    vars.push(toks[pos.i]!);
    pos.i++;
    if (toks[pos.i] === ",") pos.i++;
    else break;
  }
  if (vars.length && (toks[pos.i] === ":=" || toks[pos.i] === "=")) {
    pipe.assign = toks[pos.i] === "=";
    pipe.decl = vars;
    pos.i++;
  } else pos.i = save;
  let cmd: Arg[] = [];
  for (; pos.i < toks.length; pos.i++) {
    const t = toks[pos.i]!;
    if (t === ")") {
      if (!inParen) fail("unexpected right paren");
      break;
    }
    if (t === "|") {
      if (!cmd.length) fail("missing command before |");
      pipe.cmds.push(cmd);
      cmd = [];
      continue;
    }
    if (t === "(") {
      pos.i++;
      const sub = parsePipe(toks, pos, true);
      if (toks[pos.i] !== ")") fail("unclosed left paren");
      const next = toks[pos.i + 1];
      let path: string[] = [];
      if (next && next.startsWith(".") && next !== ".") {
        path = next.slice(1).split(".");
        pos.i++;
      }
      cmd.push({ k: "sub", pipe: sub, path });
      continue;
    }
    cmd.push(parseOperand(t));
  }
  if (cmd.length) pipe.cmds.push(cmd);
  else if (pipe.cmds.length) fail("missing command after |");
  if (!pipe.cmds.length) fail("missing value for command");
  return pipe;
}

function parsePipeText(s: string): Pipe {
  const toks = tokenize(s);
  const pos = { i: 0 };
  const p = parsePipe(toks, pos, false);
  if (pos.i < toks.length) fail(`unexpected "${toks[pos.i]}" in command`);
  return p;
}

function parse(src: string): Node[] {
  const items = lexActions(src);
  let i = 0;
  // returns the list and the keyword that ended it (end / else ...)
  const list = (): { nodes: Node[]; end?: string } => {
    const nodes: Node[] = [];
    while (i < items.length) {
      const it = items[i++]!;
      if ("text" in it) {
        nodes.push({ k: "text", s: it.text });
        continue;
      }
      const a = it.action;
      if (a.startsWith("/*")) {
        if (!a.endsWith("*/")) fail("unclosed comment");
        continue;
      }
      const kw = /^(\w+)\b\s*(.*)$/s.exec(a);
      const word = kw?.[1];
      if (word === "end" || word === "else") return { nodes, end: a };
      if (word === "if" || word === "with" || word === "range") nodes.push(control(word, kw![2]!));
      else if (word === "template" || word === "define" || word === "block" || word === "break" || word === "continue") fail(`{{${word}}} is not supported in --format`);
      else nodes.push({ k: "action", pipe: parsePipeText(a) });
    }
    return { nodes };
  };
  const control = (word: "if" | "with" | "range", rest: string): Node => {
    const pipe = parsePipeText(rest);
    const body = list();
    if (!body.end) fail(`unexpected EOF: {{${word}}} has no {{end}}`);
    let els: Node[] = [];
    if (body.end !== "end") {
      const m = /^else\s*(.*)$/s.exec(body.end!)!;
      const chained = /^(if|with)\b\s*(.*)$/s.exec(m[1]!);
      if (chained) {
        // {{else if X}} ... {{end}} closes both
        els = [control(chained[1] as "if" | "with", chained[2]!)];
      } else {
        if (m[1]) fail(`unexpected "${m[1]}" after else`);
        const e = list();
        if (e.end !== "end") fail(`expected {{end}} for {{${word}}}`);
        els = e.nodes;
      }
    }
    return { k: word, pipe, body: body.nodes, else: els };
  };
  const top = list();
  if (top.end) fail(`unexpected {{${top.end}}}`);
  return top.nodes;
}

// ---------------------------------------------------------------- values

function truthy(v: unknown): boolean {
  if (v === MISSING || v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

/** Go's %v for a float64 that holds an integer prints it without an exponent up to 1e21 (strconv 'g' with the shortest form) */
function goNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return String(n);
}

/** A value as Go's fmt %v prints it. */
export function goString(v: unknown): string {
  if (v === MISSING || v === undefined) return "<no value>";
  if (v === null) return "<nil>";
  if (Array.isArray(v)) return `[${v.map(goString).join(" ")}]`;
  if (typeof v === "number") return goNumber(v);
  if (typeof v === "function") return "";
  if (typeof v === "object")
    return `map[${Object.keys(v as object)
      .filter((k) => typeof (v as Record<string, unknown>)[k] !== "function")
      .sort()
      .map((k) => `${k}:${goString((v as Record<string, unknown>)[k])}`)
      .join(" ")}]`;
  return String(v);
}

function toJson(v: unknown): string {
  return JSON.stringify(v === MISSING || v === undefined ? null : v) ?? "null";
}

function lengthOf(v: unknown): number {
  if (typeof v === "string" || Array.isArray(v)) return v.length;
  if (v && typeof v === "object") return Object.keys(v).length;
  return fail(`len of ${goString(v)}`);
}

function compare(a: unknown, b: unknown, op: string): boolean {
  if (a === MISSING || b === MISSING) fail(`incompatible types for comparison`);
  if (op === "eq") return a === b || (a === null && b === undefined);
  if (op === "ne") return a !== b;
  if (typeof a !== typeof b || (typeof a !== "number" && typeof a !== "string")) fail(`incompatible types for comparison`);
  const x = a as number | string;
  const y = b as number | string;
  return op === "lt" ? x < y : op === "le" ? x <= y : op === "gt" ? x > y : x >= y;
}

/** Go's fmt verbs people put in --format: %s %v %d %q %t %x %%, with flags and widths */
function sprintf(format: string, args: unknown[]): string {
  let n = 0;
  return format.replace(/%([-+ 0#]*)(\d*)(?:\.(\d+))?([svdqtxXf%])/g, (all, flags: string, width: string, prec: string | undefined, verb: string) => {
    if (verb === "%") return "%";
    if (n >= args.length) return `%!${verb}(MISSING)`;
    const a = args[n++];
    let s: string;
    switch (verb) {
      case "d":
        s = typeof a === "number" ? String(Math.trunc(a)) : `%!d(${goString(a)})`;
        break;
      case "f":
        s = typeof a === "number" ? a.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${goString(a)})`;
        break;
      case "q":
        s = JSON.stringify(typeof a === "string" ? a : goString(a));
        break;
      case "x":
      case "X":
        s = typeof a === "number" ? a.toString(16) : Buffer.from(String(a)).toString("hex");
        if (verb === "X") s = s.toUpperCase();
        break;
      default:
        s = goString(a);
        if (prec !== undefined && (verb === "s" || verb === "v")) s = s.slice(0, Number(prec));
    }
    const w = width ? Number(width) : 0;
    if (s.length < w) s = flags.includes("-") ? s.padEnd(w) : flags.includes("0") && verb !== "s" ? s.padStart(w, "0") : s.padStart(w);
    return s;
  });
}

function indexOf(v: unknown, keys: unknown[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (cur === null || cur === undefined || cur === MISSING) return fail(`index of untyped nil`);
    if (Array.isArray(cur) || typeof cur === "string") {
      if (typeof k !== "number") fail(`cannot index slice/array with type ${typeof k}`);
      if ((k as number) < 0 || (k as number) >= cur.length) fail(`error calling index: index out of range: ${k}`);
      cur = (cur as unknown[])[k as number];
    } else if (typeof cur === "object") {
      const r = (cur as Record<string, unknown>)[String(k)];
      cur = r === undefined ? MISSING : r;
    } else fail(`can't index item of type ${typeof cur}`);
  }
  return cur;
}

const titleCase = (s: string) => s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_, a: string, c: string) => a + c.toUpperCase());

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
  not: (a) => !truthy(a),
  eq: (a, ...b) => b.some((x) => compare(a, x, "eq")),
  ne: (a, b) => compare(a, b, "ne"),
  lt: (a, b) => compare(a, b, "lt"),
  le: (a, b) => compare(a, b, "le"),
  gt: (a, b) => compare(a, b, "gt"),
  ge: (a, b) => compare(a, b, "ge"),
  len: (a) => lengthOf(a),
  index: (v, ...k) => indexOf(v, k),
  slice: (v, i, j) => {
    if (typeof v !== "string" && !Array.isArray(v)) return fail("can't slice item");
    return v.slice((i as number) ?? 0, j === undefined ? undefined : (j as number));
  },
  print: (...a) => a.map((x, i) => (i > 0 && typeof x !== "string" && typeof a[i - 1] !== "string" ? " " : "") + goString(x)).join(""),
  println: (...a) => a.map(goString).join(" ") + "\n",
  printf: (f, ...a) => sprintf(String(f), a),
  json: (a) => toJson(a),
  join: (a, sep) => (Array.isArray(a) ? a.map(goString).join(String(sep)) : fail("join: not a list")),
  split: (s, sep) => String(s).split(String(sep)),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  title: (s) => titleCase(String(s)),
  pad: (s, l, r) => " ".repeat(Number(l)) + goString(s) + " ".repeat(Number(r)),
  truncate: (s, n) => {
    const str = goString(s);
    return str.length > Number(n) ? str.slice(0, Number(n)) : str;
  },
  html: (s) => goString(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" })[c]!),
  urlquery: (s) => encodeURIComponent(goString(s)),
};

// ---------------------------------------------------------------- execute

class Scope {
  constructor(
    private vars: Map<string, unknown>,
    private parent?: Scope,
  ) {}
  get(name: string): unknown {
    if (this.vars.has(name)) return this.vars.get(name);
    if (this.parent) return this.parent.get(name);
    return fail(`undefined variable: ${name}`);
  }
  set(name: string, v: unknown, assign: boolean): void {
    if (assign) {
      for (let s: Scope | undefined = this; s; s = s.parent)
        if (s.vars.has(name)) {
          s.vars.set(name, v);
          return;
        }
      fail(`undefined variable: ${name}`);
    }
    this.vars.set(name, v);
  }
  child(): Scope {
    return new Scope(new Map(), this);
  }
}

function field(v: unknown, path: string[], args: unknown[] | undefined): unknown {
  let cur = v;
  for (let i = 0; i < path.length; i++) {
    const name = path[i]!;
    if (cur === MISSING || cur === null || cur === undefined) return fail(`nil pointer evaluating .${path.slice(0, i + 1).join(".")}`);
    if (typeof cur !== "object") return fail(`can't evaluate field ${name} in type ${typeof cur}`);
    const f = (cur as Record<string, unknown>)[name];
    if (typeof f === "function") {
      cur = (f as (...a: unknown[]) => unknown).apply(cur, i === path.length - 1 ? (args ?? []) : []);
      if (i === path.length - 1) return cur;
      continue;
    }
    cur = f === undefined ? MISSING : f;
  }
  if (args && args.length) fail(`${path.join(".")} is not a method but has arguments`);
  return cur;
}

function evalArg(a: Arg, dot: unknown, scope: Scope, args?: unknown[]): unknown {
  switch (a.k) {
    case "lit":
      return a.v;
    case "field":
      return field(a.base === "dot" ? dot : scope.get(a.base), a.path, args);
    case "sub":
      return field(evalPipe(a.pipe, dot, scope), a.path, args);
    case "ident": {
      const f = FUNCS[a.name];
      if (!f) return fail(`function "${a.name}" not defined`);
      return f(...(args ?? []));
    }
  }
}

function evalPipe(p: Pipe, dot: unknown, scope: Scope): unknown {
  let prev: unknown = undefined;
  let first = true;
  for (const cmd of p.cmds) {
    const [head, ...rest] = cmd;
    const args = rest.map((r) => evalArg(r, dot, scope));
    if (!first) args.push(prev);
    if (head!.k === "lit" || (head!.k === "field" && head!.path.length === 0) || (head!.k === "sub" && head!.path.length === 0)) {
      if (args.length) fail(`can't give argument to non-function ${head!.k === "lit" ? goString(head!.v) : "."}`);
    }
    prev = evalArg(head!, dot, scope, head!.k === "ident" || head!.k === "field" || head!.k === "sub" ? args : undefined);
    first = false;
  }
  p.decl.forEach((name, i) => {
    if (p.decl.length === 1 || i === 1) scope.set(name, prev, p.assign);
  });
  return prev;
}

function exec(nodes: Node[], dot: unknown, scope: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.k) {
      case "text":
        out.push(n.s);
        break;
      case "action": {
        const v = evalPipe(n.pipe, dot, scope);
        if (!n.pipe.decl.length) out.push(goString(v));
        break;
      }
      case "if":
      case "with": {
        const s = scope.child();
        const v = evalPipe(n.pipe, dot, s);
        if (truthy(v)) exec(n.body, n.k === "with" ? v : dot, s, out);
        else exec(n.else, dot, s, out);
        break;
      }
      case "range": {
        const s = scope.child();
        const decl = n.pipe.decl;
        const v = evalPipe({ ...n.pipe, decl: [] }, dot, s);
        const entries: [unknown, unknown][] = Array.isArray(v)
          ? v.map((x, i) => [i, x])
          : v && typeof v === "object"
            ? Object.keys(v)
                .sort()
                .map((k) => [k, (v as Record<string, unknown>)[k]])
            : typeof v === "number"
              ? Array.from({ length: Math.max(0, v) }, (_, i) => [i, i])
              : v === MISSING || v === null || v === undefined
                ? []
                : fail(`range can't iterate over ${goString(v)}`);
        if (!entries.length) {
          exec(n.else, dot, s, out);
          break;
        }
        for (const [k, x] of entries) {
          const it = s.child();
          if (decl.length === 1) it.set(decl[0]!, x, false);
          else if (decl.length === 2) {
            it.set(decl[0]!, k, false);
            it.set(decl[1]!, x, false);
          }
          exec(n.body, x, it, out);
        }
        break;
      }
    }
  }
}

const cache = new Map<string, Node[]>();

/** Execute a template against one value; errors are the user's (exit 125 as an invalid argument). */
export function execute(template: string, data: unknown): string {
  try {
    let nodes = cache.get(template);
    if (!nodes) {
      nodes = parse(template);
      cache.set(template, nodes);
    }
    const out: string[] = [];
    exec(nodes, data, new Scope(new Map([["$", data]])), out);
    return out.join("");
  } catch (e) {
    if (e instanceof TemplateError) throw invalidArgument(`template: ${e.message}`);
    throw e;
  }
}
