import { AbortError } from "../errors.js";

/**
 * How a waiter polls a busy lock. Waiting is a loop of non-blocking `flock` attempts
 * (a syscall of about a microsecond, on the main thread) with timers in between, so no
 * waiter ever parks a libuv thread-pool thread in a blocking `flock`.
 *
 * The price of polling is hand-off latency: a release is noticed at the next attempt.
 * So the delays stay short while a wait is young (hand-offs of short critical sections
 * matter) and stretch as it ages (nobody notices 50 ms at the end of a 2 s wait, but a
 * waiter polling every 2 ms for minutes wastes CPU): the cap is
 * `capFraction` × time already waited, within [`minCapMs`, `maxCapMs`]. The extra
 * latency therefore stays under about 5 % of the wait.
 *
 * Delays are jittered: the upper bound doubles *before* each sample, and a floor keeps
 * the jitter from ever being zero, so waiters in different processes drift apart
 * instead of polling in lockstep. Tuned with `bench/file-lock.bench.ts`.
 */
export const BACKOFF = {
  /** Upper bound of the first delay, in ms. */
  firstMs: 1,
  /** The cap while a wait is young, in ms. */
  minCapMs: 2,
  /** The cap for a long wait, in ms. */
  maxCapMs: 100,
  /** The cap grows with the time already waited, by this fraction of it. */
  capFraction: 0.05,
  /** No delay is shorter than this fraction of its upper bound. */
  floor: 0.5,
};

/** The upper bound after `upper`, for a wait that has lasted `waitedMs`. */
export function nextUpper(upper: number, waitedMs: number): number {
  const cap = Math.min(
    BACKOFF.maxCapMs,
    Math.max(BACKOFF.minCapMs, waitedMs * BACKOFF.capFraction),
  );
  return Math.min(cap, upper * 2);
}

/** A delay in [floor·upper, upper]. */
export function jitter(upper: number): number {
  return upper * (BACKOFF.floor + (1 - BACKOFF.floor) * Math.random());
}

/**
 * Sleeps `ms`, or rejects with an `AbortError` the moment `signal` fires. The abort
 * listener lives only as long as the sleep.
 */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError(signal!.reason));
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
