/**
 * How a waiter polls a busy lock. Waiting is event-driven where the file system reports
 * changes (see wake.ts): every release writes to the lock file, and the watch wakes the
 * waiter at once. Polling with non-blocking `flock` attempts (a syscall of about a
 * microsecond, on the main thread) is the safety net: a holder killed by SIGKILL
 * releases without writing, and some file systems report no changes. No waiter ever
 * parks a libuv thread-pool thread in a blocking `flock`.
 *
 * Without a working watch, the price of polling is hand-off latency, so the delays stay
 * short while a wait is young and stretch as it ages (nobody notices 50 ms at the end of
 * a 2 s wait, but a waiter polling every 2 ms for minutes wastes CPU): the cap is
 * `capFraction` × time already waited, within [`minCapMs`, `maxCapMs`]. With a watch the
 * poll only has to catch a dead holder, so it starts at `watchedMinCapMs`.
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
  /** The cap while a wait is young and a watch reports changes, in ms. */
  watchedMinCapMs: 25,
  /** The cap for a long wait, in ms. */
  maxCapMs: 100,
  /** The cap grows with the time already waited, by this fraction of it. */
  capFraction: 0.05,
  /** No delay is shorter than this fraction of its upper bound. */
  floor: 0.5,
};

/** The upper bound after `upper`, for a wait that has lasted `waitedMs`. */
export function nextUpper(upper: number, waitedMs: number, watched = false): number {
  const cap = Math.min(
    BACKOFF.maxCapMs,
    Math.max(watched ? BACKOFF.watchedMinCapMs : BACKOFF.minCapMs, waitedMs * BACKOFF.capFraction),
  );
  return Math.min(cap, upper * 2);
}

/** A delay in [floor·upper, upper]. */
export function jitter(upper: number): number {
  return upper * (BACKOFF.floor + (1 - BACKOFF.floor) * Math.random());
}
