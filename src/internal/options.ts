import { describe } from "./describe.js";

/**
 * How long to wait, and how to give up early. Accepted by every acquire in interlock.
 *
 * - `signal`: aborting it rejects the wait with an `AbortError` whose `cause` is
 *   `signal.reason`; a signal that is already aborted rejects at once.
 * - `timeoutMs`: rejects the wait with a `LockTimeoutError` after this many
 *   milliseconds. `0` means "only if free right now"; omitted, `Infinity` or anything
 *   above 2^31-1 (about 24.8 days, the most `setTimeout` can hold) means no limit.
 *
 * Either way the waiter is removed from the queue before the promise rejects and is
 * never granted afterwards.
 *
 * @example
 * ```ts
 * const release = await mutex.acquire({ timeoutMs: 5_000, signal: AbortSignal.timeout(10_000) });
 * ```
 */
export interface AcquireOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/**
 * Checks an options object as every acquire takes it. A number or string where the
 * object belongs (`acquire(1000)`) is a mistake that would otherwise be ignored.
 */
export function validateOptions(options: unknown): asserts options is AcquireOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Expected \`options\` to be an object such as { timeoutMs: 1000, signal }, got ${describe(options)}`,
    );
  }
  const { signal, timeoutMs } = options as AcquireOptions;
  if (timeoutMs !== undefined) {
    if (typeof timeoutMs !== "number") {
      throw new TypeError(
        `Expected \`timeoutMs\` to be a number of milliseconds, got ${describe(timeoutMs)}`,
      );
    }
    if (!(timeoutMs >= 0)) {
      throw new RangeError(
        `Expected \`timeoutMs\` to be a non-negative number of milliseconds, got ${describe(timeoutMs)}`,
      );
    }
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `Expected \`signal\` to be an AbortSignal, e.g. \`AbortSignal.timeout(1000)\`, got ${describe(signal)}`,
    );
  }
}

export function validateWeight(weight: unknown, capacity: number, what = "weight"): number {
  if (typeof weight !== "number") {
    throw new TypeError(`Expected \`${what}\` to be a positive integer, got ${describe(weight)}`);
  }
  if (!Number.isInteger(weight) || weight < 1) {
    throw new RangeError(`Expected \`${what}\` to be a positive integer, got ${describe(weight)}`);
  }
  if (weight > capacity) {
    throw new RangeError(
      `\`${what}\` ${weight} exceeds the ${capacity} permits in total and could never be granted; lower it or raise the capacity`,
    );
  }
  return weight;
}
