import { describe, expect, test } from "bun:test";
import { boolFilter, checkFilterKeys, filterValue, filterValues, labelFilters, parseFilters } from "../../../src/api/docker/filters.ts";
import { BerthError } from "../../../src/errors.ts";

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BerthError);
    expect((e as BerthError).code).toBe("InvalidArgument");
    return (e as BerthError).message;
  }
  throw new Error("no error");
}

describe("docker filters", () => {
  test("both JSON forms: map of values and list", () => {
    const a = parseFilters(JSON.stringify({ reference: { "busybox*": true, "off": false }, dangling: { true: true } }));
    expect(filterValues(a, "reference")).toEqual(["busybox*"]);
    expect(boolFilter(a, "dangling")).toBe(true);
    const b = parseFilters(JSON.stringify({ label: ["a=1", "b"], before: ["x:1", "y:2"] }));
    expect(filterValues(b, "label")).toEqual(["a=1", "b"]);
    expect(filterValue(b, "before")).toBe("y:2");
    expect(parseFilters(null).size).toBe(0);
    expect(parseFilters("").size).toBe(0);
    expect(parseFilters("null").size).toBe(0);
  });

  test("bad JSON and bad shapes name the parameter", () => {
    expect(message(() => parseFilters("{"))).toMatch(/^filters: invalid JSON/);
    expect(message(() => parseFilters("[1]"))).toBe("filters: want a JSON object of filter names");
    expect(message(() => parseFilters('{"label": 3}'))).toContain("filters: label:");
    expect(message(() => parseFilters('{"label": [3]}'))).toBe("filters: label: want a list of strings");
  });

  test("unknown keys are refused as dockerd does", () => {
    const f = parseFilters('{"colour": {"blue": true}}');
    expect(message(() => checkFilterKeys(f, ["label", "dangling"]))).toBe("invalid filter 'colour'");
    checkFilterKeys(parseFilters('{"label": ["x"]}'), ["label"]);
  });

  test("booleans: true/1, false/0; anything else or both is refused", () => {
    expect(boolFilter(parseFilters('{"dangling": ["1"]}'), "dangling")).toBe(true);
    expect(boolFilter(parseFilters('{"dangling": ["FALSE"]}'), "dangling")).toBe(false);
    expect(boolFilter(parseFilters("{}"), "dangling")).toBeUndefined();
    expect(message(() => boolFilter(parseFilters('{"dangling": ["maybe"]}'), "dangling"))).toBe("invalid filter 'dangling=maybe'");
    expect(message(() => boolFilter(parseFilters('{"dangling": ["true", "false"]}'), "dangling"))).toContain("both true and false");
  });

  test("label and label! split", () => {
    expect(labelFilters(parseFilters('{"label": ["a"], "label!": ["b=2"]}'))).toEqual({ label: ["a"], labelNot: ["b=2"] });
  });
});
