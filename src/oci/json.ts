/**
 * JSON for config.json and state: integers beyond 2^53 survive as bigint both
 * ways, and syntax errors say where (line, column) and what.
 */
import { BerthError } from "../errors.ts";


/**
 * Parse JSON text. Integer literals beyond Number.MAX_SAFE_INTEGER become
 * bigint. A syntax error throws InvalidArgument
 * `<source>: invalid json at line L, column C: <what>`.
 */
export function parseJson(text: string, source = "config.json"): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    // The reviver costs a call per value: only pay for it when an integer too
    // large for a double can be there (16+ digits).
    if (!/[0-9]{16}/.test(body)) return JSON.parse(body);
    return JSON.parse(body, bigintReviver as (this: unknown, key: string, value: unknown) => unknown);
  } catch (err) {
    const where = findSyntaxError(body);
    const detail = where
      ? `line ${where.line}, column ${where.column}: ${where.message}`
      : String(err instanceof Error ? err.message : err).toLowerCase();
    throw new BerthError("InvalidArgument", `${source}: invalid json at ${detail}`, { cause: err });
  }
}

function bigintReviver(this: unknown, _key: string, value: unknown, ctx?: { source?: string }): unknown {
  if (typeof value === "number" && !Number.isSafeInteger(value) && ctx?.source !== undefined && /^-?[0-9]+$/.test(ctx.source)) {
    return BigInt(ctx.source);
  }
  return value;
}

/**
 * Serialize a spec (or state) as JSON, writing bigints as exact integers.
 * `indent` "\t" gives the layout `runc spec` writes.
 */
export function stringifyJson(value: unknown, indent: string | number = "\t"): string {
  const raw = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? raw(v.toString()) : v), indent);
}

interface SyntaxErrorAt {
  line: number;
  column: number;
  message: string;
}

/** Locate the first JSON syntax error (RFC 8259) in text; undefined if none is found. */
export function findSyntaxError(text: string): SyntaxErrorAt | undefined {
  let i = 0;
  class Fail {
    constructor(
      readonly pos: number,
      readonly message: string,
    ) {}
  }
  const describe = (pos: number): string => {
    if (pos >= text.length) return "unexpected end of input";
    const ch = text[pos] as string;
    const code = ch.charCodeAt(0);
    return code < 0x20 ? `unexpected control character 0x${code.toString(16).padStart(2, "0")}` : `unexpected ${JSON.stringify(ch)}`;
  };
  const ws = () => {
    while (i < text.length) {
      const c = text[i];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") i++;
      else break;
    }
  };
  const expect = (s: string, what: string) => {
    ws();
    if (text[i] !== s) throw new Fail(i, `${describe(i)}, expected ${what}`);
    i++;
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) throw new Fail(i, "unterminated string");
      const c = text[i] as string;
      if (c === '"') {
        i++;
        return;
      }
      if (c.charCodeAt(0) < 0x20) throw new Fail(i, `${describe(i)} in string`);
      if (c === "\\") {
        const e = text[i + 1];
        if (e === undefined) throw new Fail(i + 1, "unterminated string");
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Fail(i, "bad \\u escape in string");
          i += 6;
        } else if ('"\\/bfnrt'.includes(e)) i += 2;
        else throw new Fail(i, `bad escape "\\${e}" in string`);
      } else i++;
    }
  };
  const num = () => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) throw new Fail(i, `${describe(i)}, expected a value`);
    i += m[0].length;
  };
  const value = (depth: number): void => {
    if (depth > 10000) throw new Fail(i, "nesting too deep");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Fail(i, `${describe(i)}, expected a string key`);
        str();
        expect(":", '":"');
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        throw new Fail(i, `${describe(i)}, expected "," or "}"`);
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        throw new Fail(i, `${describe(i)}, expected "," or "]"`);
      }
    }
    if (c === '"') return str();
    for (const lit of ["true", "false", "null"]) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return num();
    throw new Fail(i, `${describe(i)}, expected a value`);
  };
  try {
    value(0);
    ws();
    if (i < text.length) throw new Fail(i, `${describe(i)} after the end of the document`);
    return undefined;
  } catch (e) {
    if (!(e instanceof Fail)) return undefined;
    let line = 1;
    let lineStart = 0;
    for (let k = 0; k < e.pos && k < text.length; k++) {
      if (text[k] === "\n") {
        line++;
        lineStart = k + 1;
      }
    }
    return { line, column: e.pos - lineStart + 1, message: e.message };
  }
}

