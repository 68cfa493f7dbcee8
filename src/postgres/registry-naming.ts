// How the PostgreSQL registry names things and checks its arguments: the id format,
// the slot range, and the words of an IdTakenError.
import { describe } from "../internal/describe.js";
import type { RegistryEntry } from "./registry-types.js";

/**
 * Makes the `n`-th candidate id for `base` (`n` = 1, 2, 3, …); it must give a different
 * id for every `n`. The default gives `base`, `base-2`, `base-3`, ….
 *
 * @example
 * ```ts
 * const sessions = backend.registry("sessions", { format: (base, n) => `${base}-${n}` });
 * ```
 */
export type RegistryIdFormat = (base: string, n: number) => string;

/** @internal */
export const defaultFormat: RegistryIdFormat = (base, n) => (n === 1 ? base : `${base}-${n}`);

/** @internal */
export const MAX_ATTEMPTS = 50;

/** @internal */
export function validateId(id: unknown, what: string): string {
  if (typeof id !== "string" || id === "") {
    throw new TypeError(`Expected \`${what}\` to be a non-empty string, got ${describe(id)}`);
  }
  return id;
}

/** @internal */
export function validateRange(range: unknown): { min: number; max: number } {
  if (typeof range !== "object" || range === null) {
    throw new TypeError(`Expected \`slot\` to be {min, max}, got ${describe(range)}`);
  }
  const { min, max } = range as { min?: unknown; max?: unknown };
  for (const [name, v] of [
    ["min", min],
    ["max", max],
  ] as const) {
    // Slots are a PostgreSQL int column.
    if (typeof v !== "number" || !Number.isInteger(v) || v < -(2 ** 31) || v > 2 ** 31 - 1) {
      throw new RangeError(`Expected \`slot.${name}\` to be a 32-bit integer, got ${describe(v)}`);
    }
  }
  if ((max as number) < (min as number)) {
    throw new RangeError(
      `Expected \`slot.min\` (${min}) to be at most \`slot.max\` (${max}); the range would be empty`,
    );
  }
  return { min: min as number, max: max as number };
}

/** The detail of an IdTakenError: who holds the id, since when. @internal */
export function describeHolder(e: RegistryEntry<unknown>): string {
  const who = `pid ${e.owner.pid} on host ${JSON.stringify(e.owner.hostname)}, which is alive`;
  const since = new Date(e.createdAt).toISOString();
  if (e.status === "pending")
    return `pending: another operation is in progress, ${who}, since ${since}`;
  return `active: committed by ${who.replace(", which is alive", "")}, reserved at ${since}; release(${JSON.stringify(e.id)}) removes it`;
}
