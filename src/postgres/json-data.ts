// Mirror of src/ids/json-data.ts (branch feat/ids); the lead unifies on merge.
// Registry data is stored as JSON and read back by other processes, so it must be data
// that JSON keeps as it is: a Map, a Date or an `undefined` would come back different.
import { describe } from "../internal/describe.js";

/**
 * Throws a TypeError naming the first part of `value` that JSON would not keep as is.
 * @internal
 */
export function checkJsonData(value: unknown, what: string): void {
  const problem = jsonProblem(value, what, 0);
  if (problem !== undefined) {
    throw new TypeError(
      `Expected \`${what}\` to be plain JSON data (objects, arrays, strings, finite numbers, booleans, null): ${problem}`,
    );
  }
}

function jsonProblem(value: unknown, path: string, depth: number): string | undefined {
  if (depth > 100) return `${path} is nested more than 100 levels deep`;
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${describe(value)}`;
    case "object": {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return `${path}[${i}] is a hole`;
          const p = jsonProblem(value[i], `${path}[${i}]`, depth + 1);
          if (p !== undefined) return p;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return `${path} is ${describe(value)}`;
      for (const key of Object.keys(value)) {
        const p = jsonProblem((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
        if (p !== undefined) return p;
      }
      return undefined;
    }
    default:
      return `${path} is ${describe(value)}`;
  }
}
