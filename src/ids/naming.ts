// How ids are derived from a base, and the lowest free slot: shared by the in-process
// allocators and the file registry, so both name things the same way.
import { describe } from "../internal/describe.js";

/**
 * Makes the `n`-th candidate id for `base` (`n` = 1, 2, 3, …); it must give a
 * different id for every `n`. The default gives `base`, `base-2`, `base-3`, ….
 *
 * @example
 * ```ts
 * const numbered: IdFormat = (base, n) => `${base}-${n}`; // session-1, session-2, …
 * ```
 */
export type IdFormat = (base: string, n: number) => string;

/** @internal */
export const defaultFormat: IdFormat = (base, n) => (n === 1 ? base : `${base}-${n}`);

/** @internal */
export function validateFormat(format: unknown): IdFormat {
  if (format === undefined) return defaultFormat;
  if (typeof format !== "function") {
    throw new TypeError(
      `Expected \`format\` to be a function (base, n) => id, got ${describe(format)}`,
    );
  }
  return format as IdFormat;
}

/** @internal */
export function validateId(id: unknown, what: string): string {
  if (typeof id !== "string" || id === "") {
    throw new TypeError(`Expected \`${what}\` to be a non-empty string, got ${describe(id)}`);
  }
  return id;
}

/**
 * The first candidate of `base` that is not taken. Among `taken + 1` distinct
 * candidates at least one is free, so a format that gives nothing free within that
 * many repeats itself: that is a bug in the format, reported as such.
 * @internal
 */
export function firstFreeId(
  base: string,
  format: IdFormat,
  isTaken: (id: string) => boolean,
  taken: number,
): string {
  for (let n = 1; n <= taken + 1; n++) {
    const id = format(base, n);
    if (typeof id !== "string" || id === "") {
      throw new TypeError(
        `Expected \`format(${JSON.stringify(base)}, ${n})\` to return a non-empty string, got ${describe(id)}`,
      );
    }
    if (!isTaken(id)) return id;
  }
  throw new TypeError(
    `\`format\` gave only taken ids for ${JSON.stringify(base)} with n = 1…${taken + 1}; it must give a different id for every n`,
  );
}

/** @internal */
export function validateRange(range: unknown, what = "slot"): { min: number; max: number } {
  if (typeof range !== "object" || range === null) {
    throw new TypeError(`Expected \`${what}\` to be {min, max}, got ${describe(range)}`);
  }
  const { min, max } = range as { min?: unknown; max?: unknown };
  for (const [name, v] of [
    ["min", min],
    ["max", max],
  ] as const) {
    if (typeof v !== "number" || !Number.isSafeInteger(v)) {
      throw new RangeError(`Expected \`${what}.${name}\` to be an integer, got ${describe(v)}`);
    }
  }
  if ((max as number) < (min as number)) {
    throw new RangeError(
      `Expected \`${what}.min\` (${min}) to be at most \`${what}.max\` (${max}); the range would be empty`,
    );
  }
  return { min: min as number, max: max as number };
}
