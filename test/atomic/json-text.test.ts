import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonErrorPosition, stableStringify } from "../../src/atomic/json-text.js";

describe("stableStringify", () => {
  it("sorts keys at every level, indents by two, ends with a newline", () => {
    expect(stableStringify({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{\n  "a": {\n    "c": null,\n    "d": [\n      3,\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}\n',
    );
  });

  it("keeps a __proto__ key as data", () => {
    const v = JSON.parse('{"__proto__": {"x": 1}, "a": 2}');
    expect(JSON.parse(stableStringify(v))).toEqual(v);
    expect(stableStringify(v)).toContain('"__proto__"');
  });

  it("round-trips any JSON value, and equal values give equal bytes whatever their key order", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = stableStringify(v);
        expect(text.endsWith("\n")).toBe(true);
        const back = JSON.parse(text);
        expect(stableStringify(back)).toBe(text);
        // Same data, keys inserted in reverse order: same bytes.
        const reversed = JSON.parse(text, (_k, x) =>
          x && typeof x === "object" && !Array.isArray(x)
            ? Object.fromEntries(Object.entries(x).reverse())
            : x,
        );
        expect(stableStringify(reversed)).toBe(text);
      }),
    );
  });

  it("refuses values JSON cannot hold", () => {
    expect(() => stableStringify(undefined)).toThrow(TypeError);
    expect(() => stableStringify({ n: 1n })).toThrow(TypeError);
  });
});

describe("jsonErrorPosition", () => {
  it("is undefined exactly for text JSON.parse accepts", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.json(),
          fc.string(),
          fc.json().map((j) => j.slice(0, -1)),
        ),
        (text) => {
          let valid = true;
          try {
            JSON.parse(text);
          } catch {
            valid = false;
          }
          expect(jsonErrorPosition(text) === undefined).toBe(valid);
        },
      ),
    );
  });

  it("agrees with V8 wherever V8 reports a position", () => {
    fc.assert(
      fc.property(fc.json(), fc.nat(), fc.string({ maxLength: 2 }), (json, at, junk) => {
        const i = at % (json.length + 1);
        const text = json.slice(0, i) + junk + json.slice(i);
        try {
          JSON.parse(text);
        } catch (err) {
          const m = /at position (\d+)/.exec((err as Error).message);
          if (m) expect(jsonErrorPosition(text)).toBe(Number(m[1]));
          else expect(jsonErrorPosition(text)).toBeTypeOf("number");
        }
      }),
    );
  });
});
