import { describe, expect, test } from "bun:test";
import { BerthError } from "../../../src/errors.ts";
import { findSyntaxError, parseJson, parseSpec, stringifyJson } from "../../../src/oci/validate.ts";

function parseError(text: string, source?: string): BerthError {
  try {
    parseJson(text, source);
  } catch (e) {
    expect(e).toBeInstanceOf(BerthError);
    expect((e as BerthError).code).toBe("InvalidArgument");
    return e as BerthError;
  }
  throw new Error("expected a syntax error");
}

describe("JSON syntax errors name the source and the position", () => {
  test("a missing value", () => {
    expect(parseError('{\n  "ociVersion": "1.2.0",\n  "root": }\n').message).toBe(
      'config.json: invalid json at line 3, column 11: unexpected "}", expected a value',
    );
  });

  test("the runtime-spec's own bad example", () => {
    expect(parseError("{]", "bundle/config.json").message).toBe(
      'bundle/config.json: invalid json at line 1, column 2: unexpected "]", expected a string key',
    );
  });

  test("a trailing comma, a missing comma, truncation, garbage after the end", () => {
    expect(parseError('{"a": [1, 2,]}').message).toContain('line 1, column 13: unexpected "]", expected a value');
    expect(parseError('{"a": 1\n "b": 2}').message).toContain('line 2, column 2: unexpected "\\"", expected "," or "}"');
    expect(parseError('{"a": [1, 2').message).toContain("line 1, column 12: unexpected end of input");
    expect(parseError('{"a": 1} x').message).toContain('line 1, column 10: unexpected "x" after the end of the document');
    expect(parseError("").message).toBe("config.json: invalid json at line 1, column 1: unexpected end of input, expected a value");
  });

  test("strings: control characters, escapes, unterminated", () => {
    expect(parseError('{"a": "x\ty"}').message).toContain("column 9: unexpected control character 0x09 in string");
    expect(parseError('{"a": "\\q"}').message).toContain('column 8: bad escape "\\q" in string');
    expect(parseError('{"a": "\\u12"}').message).toContain("bad \\u escape");
    expect(parseError('{"a": "abc').message).toContain("unterminated string");
  });

  test("non-JSON literals and numbers", () => {
    expect(parseError('{"a": True}').message).toContain('column 7: unexpected "T", expected a value');
    expect(parseError('{"a": 01}').message).toContain('column 8: unexpected "1", expected "," or "}"');
    expect(parseError("{'a': 1}").message).toContain(`column 2: unexpected "'", expected a string key`);
  });

  test("parseSpec reports syntax before validation", () => {
    expect(() => parseSpec("{", "x.json")).toThrow("x.json: invalid json at line 1, column 2: unexpected end of input, expected a string key");
  });

  test("the locator finds no error in valid JSON", () => {
    for (const t of ['{"a": [1, -2.5e3, true, false, null, "\\u00e9\\n"]}', "[]", " 0 ", '""']) {
      expect(() => JSON.parse(t)).not.toThrow();
      expect(findSyntaxError(t)).toBeUndefined();
    }
  });
});

describe("64-bit integers", () => {
  test("unsafe integers become exact bigints, others stay numbers", () => {
    const v = parseJson('{"max": 18446744073709551615, "neg": -9223372036854775808, "small": 42, "f": 1.5, "e": 1e300}') as Record<
      string,
      unknown
    >;
    expect(v.max).toBe(18446744073709551615n);
    expect(v.neg).toBe(-9223372036854775808n);
    expect(v.small).toBe(42);
    expect(v.f).toBe(1.5);
    expect(v.e).toBe(1e300);
  });

  test("stringifyJson writes bigints exactly and round-trips", () => {
    const text = stringifyJson({ a: 18446744073709551615n, b: [1, 2] });
    expect(text).toBe('{\n\t"a": 18446744073709551615,\n\t"b": [\n\t\t1,\n\t\t2\n\t]\n}');
    expect(parseJson(text)).toEqual({ a: 18446744073709551615n, b: [1, 2] });
  });

  test("a UTF-8 byte order mark is skipped", () => {
    expect(parseJson('\ufeff{"a": 1}')).toEqual({ a: 1 });
  });
});
